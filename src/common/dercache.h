/* Decoded copies of a job's public key, certificates and certificate
 * request, kept between the job's steps: by a bay in ukeyd, and by a worker
 * for the tokens it serves. OpenSSL 3.0 builds a decoder for every public
 * key it parses (d2i_X509 and d2i_X509_REQ for the object's own key), which
 * costs more than the rest of a step's bookkeeping; a job would parse the
 * same key three times, the same certificate two or three times, and the
 * worker the CA certificate for every token. A copy is found by the DER bytes
 * themselves, compared in full, so it is always what those bytes decode to,
 * whatever they were read from. One thread only. */
#ifndef UKEY_DERCACHE_H
#define UKEY_DERCACHE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct der_copy {
	uint8_t *der;
	size_t len;
	void *obj;		/* EVP_PKEY, X509 or X509_REQ decoded from der */
	uint64_t used;		/* when last asked for (the cache's clock) */
};

/* two certificates: the holder's and its CA's */
#define DERCACHE_CERTS 2

struct dercache {
	struct der_copy pubkey, cert[DERCACHE_CERTS], csr;
	uint64_t clock;
};

/* The public key (SubjectPublicKeyInfo) der decodes to, a reference of the
 * caller's (EVP_PKEY_free); NULL when der does not parse (spki_decode). */
EVP_PKEY *dercache_pubkey(struct dercache *c, const uint8_t *der, size_t len);
/* The certificate der decodes to, a reference of the caller's (X509_free);
 * NULL when der does not parse as a whole certificate. A new one takes the
 * place of the one asked for least recently. */
X509 *dercache_cert(struct dercache *c, const uint8_t *der, size_t len);
/* Keeps a reference to x as what der decodes to: x must have been decoded
 * from those very bytes (a CA's answer is, ca.h). */
void dercache_cert_keep(struct dercache *c, const uint8_t *der, size_t len, X509 *x);
/* Keeps req, which der decodes to, for dercache_csr_take (c takes it). */
void dercache_csr_keep(struct dercache *c, const uint8_t *der, size_t len, X509_REQ *req);
/* The certificate request der decodes to, the caller's own (X509_REQ_free):
 * the one kept, taken out of c, when its bytes are der; else decoded now.
 * OpenSSL counts no references to a request: it is handed over whole, to
 * be owned by whoever reads it next (a CA call, in the CA's thread). c may
 * be NULL (decoded now). NULL when der does not parse as a whole request. */
X509_REQ *dercache_csr_take(struct dercache *c, const uint8_t *der, size_t len);
/* Forgets every copy (the bay's token left, or the daemon stops). */
void dercache_clear(struct dercache *c);

#endif
