/* The station's audit signing key: an Ed25519 key pair whose private half
 * stays in <state>/keys/audit.key (0600) and whose public half, audit.pub,
 * is what an auditor takes away to check signed checkpoints. */
#ifndef UKEY_AUDITKEY_H
#define UKEY_AUDITKEY_H

#include <stddef.h>

#include <openssl/evp.h>

#define AUDIT_KEY_ALG "ed25519"
#define AUDIT_KEY_ID_LEN 64	/* hex SHA-256 of the public key's DER SubjectPublicKeyInfo */

/* Loads keydir/audit.key, creating the key pair (audit.key mode 0600 through a
 * temporary file and rename, audit.pub mode 0644) when it does not exist;
 * rewrites audit.pub when it is missing. Refuses a private key file readable
 * by group or others. Returns 0 or UKEY_ERR_IO / UKEY_ERR_PERM /
 * UKEY_ERR_CRYPTO; *out owned (EVP_PKEY_free). Loop context (start-up). */
int audit_key_load(const char *keydir, EVP_PKEY **out);

/* Reads a PEM public key (SubjectPublicKeyInfo) from path; it must be Ed25519.
 * Returns 0, UKEY_ERR_IO or UKEY_ERR_INVAL; *out owned. */
int audit_pubkey_read(const char *path, EVP_PKEY **out);

/* The public half of key as PEM text; *pem malloc'd. */
int audit_pubkey_pem(EVP_PKEY *key, char **pem);

/* The key id: lower-case hex SHA-256 of the DER SubjectPublicKeyInfo. */
int audit_key_id(EVP_PKEY *key, char out[AUDIT_KEY_ID_LEN + 1]);

/* Signs msg with the private key; *sig_hex malloc'd lower-case hex. */
int audit_sign(EVP_PKEY *key, const char *msg, size_t len, char **sig_hex);

/* Returns 0 when sig_hex is key's signature over msg, UKEY_ERR_VERIFY when
 * not (or when sig_hex is not hex). */
int audit_sig_check(EVP_PKEY *key, const char *msg, size_t len, const char *sig_hex);

#endif
