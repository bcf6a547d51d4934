/* The append-only audit log: every action, who did it, when, on which order,
 * unit, job and token; each row's hash covers the previous row's hash. */
#ifndef UKEY_AUDIT_H
#define UKEY_AUDIT_H

#include <stdint.h>

#include "store/store.h"

struct audit_event {
	const char *actor;	/* Unix user on the socket, or "ukeyd" */
	const char *action;	/* dotted verb: "order.approve", "job.step", ... */
	int64_t order_id, unit_id, job_id;	/* 0 when not applicable */
	const char *token;	/* token serial or NULL */
	const char *bay;	/* bay name or NULL */
	const char *detail;	/* compact JSON text or NULL; never a secret or full ID */
};

/* Appends one event inside the caller's transaction (or alone).
 * Returns 0 or UKEY_ERR_DB. */
int audit_append(struct store *st, const struct audit_event *ev);

/* Recomputes the chain. Returns 0 if intact; UKEY_ERR_VERIFY with *bad_id set to
 * the first broken row and why filled in otherwise. */
int audit_verify(struct store *st, int64_t *bad_id, int64_t *count, char *why, size_t whylen);

#endif
