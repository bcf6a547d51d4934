/* Decoded copies of a job's public key and certificate, kept on its bay
 * between the job's steps. OpenSSL 3.0 builds a decoder for every public
 * key it parses (d2i_PUBKEY, and d2i_X509 for the certificate's own key),
 * which costs more than the rest of a step's bookkeeping; a job would parse
 * the same key three times and the same certificate twice. A copy is found
 * by the DER bytes themselves, compared in full, so it is always what those
 * bytes decode to, whatever row they were read from. Loop context only. */
#ifndef UKEY_DERCACHE_H
#define UKEY_DERCACHE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct der_copy {
	uint8_t *der;
	size_t len;
	void *obj;		/* EVP_PKEY or X509 decoded from der */
};

struct dercache {
	struct der_copy pubkey, cert;
};

/* The public key (SubjectPublicKeyInfo) der decodes to, a reference of the
 * caller's (EVP_PKEY_free); NULL when der does not parse. */
EVP_PKEY *dercache_pubkey(struct dercache *c, const uint8_t *der, size_t len);
/* The certificate der decodes to, a reference of the caller's (X509_free);
 * NULL when der does not parse as a whole certificate. */
X509 *dercache_cert(struct dercache *c, const uint8_t *der, size_t len);
/* Forgets both copies (the bay's token left, or the daemon stops). */
void dercache_clear(struct dercache *c);

#endif
