/* Dual-control requests in the station's database: a held command waiting
 * for a second user's confirmation, and how it ended (confirmed, expired,
 * refused, cancelled). Writes run inside the caller's transaction, so that
 * a request's change and its audit record are one. */
#ifndef UKEY_STORE_DUAL_H
#define UKEY_STORE_DUAL_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* One request row. args and subject are JSON text as stored. Strings owned
 * (NULL when the column is NULL); free with store_dual_request_clear, or
 * an array with store_dual_requests_free. */
struct store_dual_request {
	int64_t id, requested_uid;
	char *action, *command, *args, *subject, *requested_by, *requester_roles;
	char *requested_at, *expires_at, *state;
	char *confirmed_by, *confirmed_at, *remark;
	char *closed_by, *closed_at, *close_reason;
};

/* A new request (store_dual_insert); all borrowed. args and subject are
 * compact JSON text; never a secret (dualctl.c refuses those). */
struct store_dual_new {
	const char *action, *command, *args, *subject;
	const char *requested_by;
	int64_t requested_uid;
	const char *requester_roles, *requested_at, *expires_at;
};

/* Inserts a pending request; *id its row id. */
int store_dual_insert(struct store *st, const struct store_dual_new *r, int64_t *id);

/* Loads request id; UKEY_ERR_NOTFOUND when there is none. */
int store_dual_load(struct store *st, int64_t id, struct store_dual_request *out);
void store_dual_request_clear(struct store_dual_request *r);

/* The pending requests whose expires_at is at or before now, by id. *out
 * owned (NULL when none). */
int store_dual_due(struct store *st, const char *now, struct store_dual_request **out,
    size_t *n);

/* The pending requests, or every request when all is set, by id: those
 * whose id is above after, at most limit (1 or more; INT64_MAX for all). */
int store_dual_list(struct store *st, int all, int64_t after, int64_t limit,
    struct store_dual_request **out, size_t *n);
void store_dual_requests_free(struct store_dual_request *a, size_t n);

/* A request still in state from ends in state (expired, refused,
 * cancelled), closed by `by` at now with reason. A no-op when it is no
 * longer in state from. */
int store_dual_close(struct store *st, int64_t id, const char *from, const char *state,
    const char *by, const char *reason, const char *now);

/* A pending request confirmed by `by` at now, with remark (may be NULL). A
 * no-op when it is no longer pending. */
int store_dual_confirm(struct store *st, int64_t id, const char *by, const char *remark,
    const char *now);

#endif
