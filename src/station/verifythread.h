/* `audit verify` off the event loop: each verification runs in a thread of
 * its own (threadjob.h) with its own read-only connection to the store,
 * and its deferred reply is sent from the loop when it ends
 * (docs/protocol.md). */
#ifndef UKEY_VERIFYTHREAD_H
#define UKEY_VERIFYTHREAD_H

#include "store/witness.h"

/* Verifications that may run at once; one more is refused (busy). */
#define VERIFY_THREADS_MAX 2

/* audit.verify's start, from its handler: the log of the station's store
 * checked against the station's audit key; only one station's chain (only
 * not NULL); the whole log (full) or from what the last intact
 * verification reached, as kept in the state directory (docs/audit.md,
 * "Incremental verification"); and the witness heads ws when not NULL
 * (taken: *ws is cleared). The thread is for r's client, which gets its
 * reply when it ends (r->deferred set). 0, or an error with r->msg set. */
struct request;
int verifythreads_request(struct request *r, const char *only, int full, struct witness_set *ws);

#endif
