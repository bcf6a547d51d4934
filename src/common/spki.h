/* A public key's SubjectPublicKeyInfo, to and from OpenSSL's EVP_PKEY, for
 * EC keys on a named curve without OpenSSL 3.0's encoder and decoder
 * chains. OpenSSL 3.0 builds a decoder chain for every public key it parses
 * (d2i_PUBKEY, and X509_set_pubkey, which encodes and parses the key again)
 * at 0.15-0.25 ms each, more than the work of the step around it; an EC
 * key's SubjectPublicKeyInfo is an algorithm identifier with the curve's
 * name and the point, which is read and written here directly and imported
 * through the key manager (EVP_PKEY_fromdata, which checks that the point is
 * on the curve). Any other key (RSA, explicit curve parameters, an unknown
 * algorithm) goes through OpenSSL's own functions, so every key reads and
 * writes as OpenSSL would: the encodings are the same bytes
 * (tests/unit/test_spki.c). */
#ifndef UKEY_SPKI_H
#define UKEY_SPKI_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* The key's DER SubjectPublicKeyInfo in *der (the caller's, OPENSSL_free)
 * and its length: what i2d_PUBKEY gives. UKEY_ERR_CRYPTO when the key
 * cannot be encoded. */
int spki_encode(const EVP_PKEY *key, uint8_t **der, size_t *len);

/* The public key a DER SubjectPublicKeyInfo of exactly len bytes holds (the
 * caller's, EVP_PKEY_free): what d2i_PUBKEY gives; NULL when it does not
 * parse as a whole, or its point is not on its curve. */
EVP_PKEY *spki_decode(const uint8_t *der, size_t len);

/* Sets the public key of a certificate request, or of a certificate being
 * built, to key: X509_REQ_set_pubkey and X509_set_pubkey. An EC key's is
 * written directly; the object then holds the key's encoding but no decoded
 * copy of it, so X509_REQ_get0_pubkey / X509_get0_pubkey on that object
 * return NULL: for objects that are signed and encoded, not asked for their
 * key (parse the encoding for that). 1 on success, 0 on failure, as the
 * functions they stand for. */
int spki_req_set(X509_REQ *req, EVP_PKEY *key);
int spki_cert_set(X509 *cert, EVP_PKEY *key);

#endif
