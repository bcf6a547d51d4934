/* CMP message surgery OpenSSL 3.0 has no public call for: reading a header's
 * transactionID and senderNonce, a pollRep's checkAfter, and turning a
 * request into the pollReq that resumes a persisted transaction. */
#ifndef UKEY_CMP_MSG_H
#define UKEY_CMP_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/cmp.h>

#define CMP_NONCE_MAX 64	/* bytes of a transactionID or nonce we keep */

/* Copies msg's transactionID and senderNonce (either may be absent: length
 * 0) into tid / nonce (CMP_NONCE_MAX bytes each). Returns 0, or
 * UKEY_ERR_PROTO for a header that cannot be read or a value too long. */
int cmp_msg_ids(const OSSL_CMP_MSG *msg, uint8_t *tid, size_t *tid_len, uint8_t *nonce,
    size_t *nonce_len);

/* The checkAfter seconds of a pollRep's first entry into *secs (1 when
 * unreadable or out of 1..3600). */
void cmp_msg_check_after(const OSSL_CMP_MSG *msg, int *secs);

/* Returns a new message: req's header with recipNonce set to recip (the
 * CA's last senderNonce) and a pollReq body for certReqId rid, req's
 * protection and extraCerts kept (the caller re-protects it with
 * OSSL_CMP_MSG_update_transactionID). NULL on a malformed req or no memory. */
OSSL_CMP_MSG *cmp_msg_pollreq(const OSSL_CMP_MSG *req, const uint8_t *recip,
    size_t recip_len, int rid);

#endif
