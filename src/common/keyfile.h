/* Key and certificate files of the station: written whole or not at all,
 * PEM forms in memory, and OpenSSL's error queue in the log. Shared by the
 * master key (seal.c), the audit signing key and the embedded CA. */
#ifndef UKEY_KEYFILE_H
#define UKEY_KEYFILE_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Logs "what: <first OpenSSL error>" and clears the error queue. */
void log_openssl(const char *what);

/* Writes data to path through "<path>.tmp" (created O_EXCL with mode), fsync,
 * rename, and an fsync of the directory, so that a crash leaves either the
 * old file, no file, or the whole new one. Returns 0 or UKEY_ERR_IO. */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* The PEM text of a private key (private = 1), a public key (0), or, with
 * key NULL, of cert. *out is malloc'd and NUL-terminated; a private key's
 * text must be wiped (secure_wipe) before it is freed. Returns 0,
 * UKEY_ERR_NOMEM or UKEY_ERR_CRYPTO. */
int pem_text(EVP_PKEY *key, int private, const X509 *cert, char **out, size_t *outlen);

/* pem_text, then file_write_atomic; the text is wiped afterwards. */
int pem_write_atomic(const char *path, mode_t mode, EVP_PKEY *key, int private, const X509 *cert);

#endif
