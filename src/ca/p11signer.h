/* Private keys named by PKCS#11 URIs (RFC 7512) for the daemon: an EVP_PKEY
 * whose signatures are made by a ukey-signer process that loads the module,
 * so that ukeyd itself never does (docs/ca.md, "Keys in an HSM"). */
#ifndef UKEY_P11SIGNER_H
#define UKEY_P11SIGNER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/secret.h"

/* The messages on the socketpair (fd 3 of ukey-signer), each one frame
 * (frame_write): a tag byte, then the body. ukey-signer first sends OK
 * (module loaded) or ERR; then it answers each request with one frame. */
#define P11SIGNER_OPEN 'O'	/* URI length (2 bytes, big-endian), URI, PIN */
#define P11SIGNER_SIGN 'S'	/* mechanism (1 byte), data */
#define P11SIGNER_OK 'K'	/* OPEN: 'r' (RSA) or 'e' (EC); SIGN: the signature */
#define P11SIGNER_ERR 'E'	/* ukey_errname(), '\n', the message */
#define P11SIGNER_MECH_RSA_PKCS 1	/* CKM_RSA_PKCS over a DigestInfo */
#define P11SIGNER_MECH_RSA_X509 2	/* CKM_RSA_X_509 over a padded block (PSS) */
#define P11SIGNER_MECH_ECDSA 3		/* CKM_ECDSA over a digest */
#define P11SIGNER_URI_MAX 1024
#define P11SIGNER_DATA_MAX 1024
#define P11SIGNER_SIG_MAX 1024
#define P11SIGNER_MAX 4096		/* any frame */

struct p11signer;

/* Starts the helper (program helper, module module unless the URI has
 * module-path=), logs in with pin and finds the key that uri names; then
 * checks it against the public key of cert by one test signature. what
 * names the setting in messages ("cmp.ra_key"). *pkey signs through the
 * helper; it must be freed before the signer. timeout_s bounds each answer.
 * Returns 0, or a UKEY_ERR_* with the reason in err: UKEY_ERR_PIN for a PIN
 * the token refused, UKEY_ERR_VERIFY for a key that is not cert's. */
int p11signer_open(const char *what, const char *helper, const char *module, const char *uri,
    const struct secret *pin, X509 *cert, int timeout_s, struct p11signer **out,
    EVP_PKEY **pkey, char *err, size_t errlen);

/* Stops the helper and frees s; NULL is a no-op. */
void p11signer_free(struct p11signer *s);

/* Forgets the last failure (before a call). */
void p11signer_reset(struct p11signer *s);

/* 1 with the text of the first signature that failed since the last reset
 * (a helper that died: it is started again on the next signature), else 0. */
int p11signer_failed(struct p11signer *s, char *why, size_t len);

#endif
