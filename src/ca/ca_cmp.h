/* The CMP connector (RFC 4210 / RFC 9480, OpenSSL's CMP client) and the calls
 * for a CA that answers later ("waiting", then polled). Included by ca.h. */
#ifndef UKEY_CA_CMP_H
#define UKEY_CA_CMP_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>

struct ca;
struct ca_request;
struct cmp_config;

#define CA_TXN_ID_MAX 64

/* A request the CA has accepted but not answered yet: what a caller
 * persists (with the request itself) to resume polling after a restart.
 * All bytes are opaque to the caller; store them as they are. */
struct ca_txn {
	uint8_t tid[CA_TXN_ID_MAX];	/* the transactionID */
	size_t tid_len;
	uint8_t nonce[CA_TXN_ID_MAX];	/* the CA's last senderNonce: our next recipNonce */
	size_t nonce_len;
	int check_after;		/* seconds the CA asked us to wait before polling */
};

/* Opens the CMP connector for cfg (borrowed; copied): loads ca_cert, trusted,
 * the RA certificate and key or the PBM secret (secret_file must be a regular
 * file no group or other may read), the TLS settings. Nothing is sent yet.
 * Returns 0 and *out (free with ca_free), UKEY_ERR_INVAL for an incomplete
 * configuration, UKEY_ERR_PERM for a readable secret file, UKEY_ERR_IO for a
 * file that cannot be read, UKEY_ERR_CRYPTO for one that does not parse;
 * the reason is in err (errlen bytes). Runs in the daemon. */
int ca_cmp_open(const struct cmp_config *cfg, struct ca **out, char *err, size_t errlen);

/* The text of the last failure of ca's calls ("" when none): for CMP it
 * names the CA's PKIStatus, failInfo bits and statusString, or which check
 * of the answer failed. Borrowed, valid until the next call on ca. */
const char *ca_last_error(const struct ca *ca);
/* ca_last_error() copied into buf (len bytes) under the CA's lock. */
void ca_last_error_copy(const struct ca *ca, char *buf, size_t len);

/* Sends req and returns at once: 0 and *out like ca_issue(), or
 * UKEY_ERR_BUSY when the CA answered "waiting", with *txn filled for
 * ca_issue_poll(); other codes like ca_issue(), and for CMP: UKEY_ERR_CA
 * (refused: ca_last_error() has the PKIStatus), UKEY_ERR_VERIFY (the answer's
 * protection, key, subject or chain is wrong; nothing may be written),
 * UKEY_ERR_UNAVAIL (unreachable), UKEY_ERR_PROTO (malformed answer). A CA
 * that answers at once (the embedded CA) never returns UKEY_ERR_BUSY.
 * On entry txn is zeroed, or its tid holds the transactionID the caller
 * chose for this request (persisted before sending, so that a caller that
 * stops before the answer can poll that transaction, ca_issue_poll() with
 * no nonce); the rest of txn is ignored. Blocks for at most the
 * connector's timeout; run it off the event loop. */
int ca_issue_start(struct ca *ca, const struct ca_request *req, struct ca_txn *txn,
    X509 **out);

/* Polls for the answer to the request req started as txn (as persisted; the
 * same req must be given again). Returns like ca_issue_start(): UKEY_ERR_BUSY
 * while still waiting, with txn updated (persist it again). */
int ca_issue_poll(struct ca *ca, const struct ca_request *req, struct ca_txn *txn,
    X509 **out);

#endif
