/* `audit verify` off the event loop: each verification runs in a thread of
 * its own with its own read-only connection to the store, and its deferred
 * reply is sent from the loop when it ends (docs/protocol.md). */
#ifndef UKEY_VERIFYTHREAD_H
#define UKEY_VERIFYTHREAD_H

#include <stdint.h>

#include <openssl/evp.h>

#include "store/witness.h"

struct station;
struct verifythreads;

/* Verifications that may run at once; one more is refused (busy). */
#define VERIFY_THREADS_MAX 2

/* What a verification checks: the log of the store at url (an SQLite path
 * or a PostgreSQL url); only one station's chain (NULL: every one); the
 * whole log (full) or from what the last intact verification reached, as
 * kept in state_dir (docs/audit.md, "Incremental verification"). */
struct verify_ask {
	const char *url, *only, *state_dir;
	int full;
};

/* Starts the verification ask against key's public half (checkpoints of a
 * station without a registered key), and ws when not NULL (taken: cleared
 * by the thread's end), for the deferred reply to client_id. *vt is made
 * on first use. 0, UKEY_ERR_BUSY (all threads in use) or UKEY_ERR_NOMEM /
 * UKEY_ERR_IO / UKEY_ERR_CRYPTO. Loop context. */
int verifythreads_start(struct verifythreads **vt, const struct verify_ask *ask, EVP_PKEY *key,
    struct witness_set *ws, int64_t client_id);
/* audit.verify's start, from its handler: the thread for r's client, which
 * gets its reply when it ends (r->deferred set). Takes ws when not NULL.
 * 0, or an error with r->msg set. */
struct request;
int verifythreads_request(struct request *r, const char *only, int full, struct witness_set *ws);
/* The descriptor that is readable when a verification ended; -1 when none
 * was ever started. */
int verifythreads_fd(const struct verifythreads *vt);
/* Replies to the clients whose verification ended. Loop context. */
void verifythreads_collect(struct station *s, struct verifythreads *vt);
/* Waits for the verifications under way and frees vt (at exit). */
void verifythreads_free(struct verifythreads *vt);

#endif
