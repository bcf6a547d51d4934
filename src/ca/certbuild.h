/* Building the embedded CA's certificates: serials, its self-signed CA
 * certificate, end-entity certificates by profile. Only src/ca/ files
 * include this. */
#ifndef UKEY_CA_CERTBUILD_H
#define UKEY_CA_CERTBUILD_H

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca/ca.h"

/* Draws a positive, non-zero serial of 16 random bytes. Returns 0 and *out
 * (BN_free), UKEY_ERR_CRYPTO or UKEY_ERR_NOMEM. */
int certbuild_serial(BIGNUM **out);

/* The self-signed CA certificate for key: CN = name + " Embedded CA",
 * C = CN, 20 years, basicConstraints critical CA:TRUE pathlen:0, keyUsage
 * critical keyCertSign cRLSign, subjectKeyIdentifier; signed with md.
 * Returns 0 and *out (X509_free), UKEY_ERR_INVAL, UKEY_ERR_CRYPTO,
 * UKEY_ERR_NOMEM. */
int certbuild_ca(EVP_PKEY *key, const EVP_MD *md, const char *name, X509 **out);

/* The end-entity certificate for pub with serial, issued by cacert and
 * signed with cakey and md: validity of req->years calendar years from now,
 * req->subject, and the extensions of req->profile (key usage, extended key
 * usage, e-mail subjectAltName, GM/T identity, cRLDistributionPoints). The
 * request is checked before (check_request in ca_embedded.c). Returns 0 and
 * *out (X509_free), UKEY_ERR_INVAL, UKEY_ERR_CRYPTO, UKEY_ERR_NOMEM. */
int certbuild_end_entity(const X509 *cacert, EVP_PKEY *cakey, const EVP_MD *md,
    const struct ca_request *req, EVP_PKEY *pub, const BIGNUM *serial, X509 **out);

#endif
