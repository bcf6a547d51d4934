/* Production units in the station's database: the units of an order and
 * the queue tokens take them from (claim for a token, requeue at the tail,
 * hold with a reason, release, cancel, counts by state), with the live
 * certificates renewal routing looks at. Writes run inside the caller's
 * transaction. */
#ifndef UKEY_STORE_UNITS_H
#define UKEY_STORE_UNITS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Unit states as a set, for counting. */
enum {
	STORE_UNIT_HELD = 1 << 0,
	STORE_UNIT_QUEUED = 1 << 1,
	STORE_UNIT_IN_PRODUCTION = 1 << 2,
	STORE_UNIT_ISSUED = 1 << 3,
	STORE_UNIT_CANCELLED = 1 << 4,
	/* what still waits: neither issued nor cancelled */
	STORE_UNIT_WAITING = STORE_UNIT_HELD | STORE_UNIT_QUEUED | STORE_UNIT_IN_PRODUCTION,
};

/* One unit with its order. Strings owned (NULL when NULL); free with
 * store_unit_clear. */
struct store_unit {
	int64_t id, order_id, failures;
	char *state, *failure_kind, *hold_reason, *order_state;
};

/* A queued unit a token may take (store_units_for_token). */
struct store_unit_claim {
	int64_t unit_id, order_id;
	char *cert_profile, *type, *renews_cert;
};

/* A line of the production queue (store_units_queue). */
struct store_queue_entry {
	int64_t unit, order_id, years, seq, count, failures;
	char *portal_ref, *kind, *name, *cert_profile, *state, *paid_at, *last_failure;
	char *hold_reason, *held_at;
};

/* A certificate this station issued and has not revoked. */
struct store_live_cert {
	char *cert_serial, *kind, *org_uscc, *token_profile, *token_serial;
};

/* Loads unit id; UKEY_ERR_NOTFOUND when there is none. */
int store_unit_load(struct store *st, int64_t id, struct store_unit *out);
void store_unit_clear(struct store_unit *u);

/* Number of the order's units whose state is in the set `states`. */
int store_units_count(struct store *st, int64_t order_id, unsigned states, int64_t *n);

/* Payment: the order's held units join the queue. Cancellation: its held
 * and queued units are cancelled. */
int store_units_queue_order(struct store *st, int64_t order_id, const char *now);
int store_units_cancel_order(struct store *st, int64_t order_id, const char *now);

/* The queued units the token (firmware profile, serial; NULL or "" for a
 * token that reports none) may take, in queue order, at most limit: a
 * token holding no live certificate of ours gets new and replacement
 * orders' units; one holding some only the renewal units naming a
 * certificate it holds. Held
 * units are never given. New and replacement units are given within the
 * station's claim scope (store_set_claim_scope: own, own-first or any);
 * renewal units go to wherever their token is. *out owned (store_unit_claims_free). */
int store_units_for_token(struct store *st, const char *profile, const char *serial, int limit,
    struct store_unit_claim **out, size_t *n);
void store_unit_claims_free(struct store_unit_claim *a, size_t n);


/* Live certificates on the token (0 for a token without serial). */
int store_token_live_certs(struct store *st, const char *profile, const char *serial,
    int64_t *n);

/* Live certificates (issued, not revoked since: cert revoke) of
 * organisation uscc and kind, by issue time; or those
 * whose serial is `serial` (compared without leading zeros and case, since
 * BN_bn2hex writes upper case and an order may not). Free with
 * store_live_certs_free. */
int store_live_certs_by_org(struct store *st, const char *uscc, const char *kind,
    struct store_live_cert **out, size_t *n);
int store_live_certs_by_serial(struct store *st, const char *serial,
    struct store_live_cert **out, size_t *n);
void store_live_certs_free(struct store_live_cert *a, size_t n);

/* A queued unit taken by job_id (in production). */
int store_unit_claim(struct store *st, int64_t unit_id, int64_t job_id, const char *now);

/* The unit of a job that recorded its issuance is issued. */
int store_unit_set_issued(struct store *st, int64_t unit_id, const char *now);

/* A unit of a job that ended not by its own fault goes back where it stood
 * in the queue (only from in_production). */
int store_unit_return(struct store *st, int64_t unit_id, const char *now);

/* A unit of a failed job at the tail of the queue: failures, the failure's
 * kind and text recorded. */
int store_unit_requeue(struct store *st, int64_t unit_id, int64_t failures, const char *kind,
    const char *why, const char *now);

/* A unit of a failed job held for a person, with reason. */
int store_unit_hold_failed(struct store *st, int64_t unit_id, int64_t failures,
    const char *kind, const char *why, const char *reason, const char *now);

/* A queued unit held before any token was touched, with reason. */
int store_unit_hold(struct store *st, int64_t unit_id, const char *reason, const char *now);

/* A held unit released by a person: queued again at the tail, its failure
 * count spent (last_failure kept). A no-op unless it is held with a reason. */
int store_unit_release(struct store *st, int64_t unit_id, const char *now);

/* A held or queued unit cancelled (a no-op otherwise). */
int store_unit_cancel(struct store *st, int64_t unit_id, const char *now);

/* The units in production, then the queue in the order tokens take it,
 * then the held units, of orders waiting for or in production: the whole
 * view (store_units_queue), or a page of it, at most `limit` rows, after
 * the key `after` (0: from the first row). When rows follow, *next (NULL:
 * not wanted; else 0 on the last page) is the key to go on from: the page's
 * last unit and the part of the view it was in (STORE_QUEUE_KEY), so that
 * the next page starts after that unit's place in that part even if the
 * unit has moved on since. A page is read from the queue's index from the
 * key on: it costs its own rows, not those before it. UKEY_ERR_INVAL for a
 * negative after or a limit below 1; UKEY_ERR_NOTFOUND for a key that
 * names no unit with a place in the queue. */
#define STORE_QUEUE_KEY_PARTS 4	/* room for the part in a key: unit * 4 + part */
#define STORE_QUEUE_KEY(unit, part) \
    ((int64_t)(unit) * STORE_QUEUE_KEY_PARTS + (int64_t)(part))
int store_units_queue(struct store *st, struct store_queue_entry **out, size_t *n);
int store_units_queue_page(struct store *st, int64_t after, int64_t limit,
    struct store_queue_entry **out, size_t *n, int64_t *next);

/* The units in `state` ("queued", "held", "in_production") of orders
 * waiting for or in production, and of service point `point`'s orders
 * unless point is NULL or "": counted up to cap (*n is at most cap), so
 * that a glance at a queue of a million units reads `cap` rows of it. */
int store_units_queue_count(struct store *st, const char *state, const char *point, int64_t cap,
    int64_t *n);
void store_queue_entries_free(struct store_queue_entry *a, size_t n);

#endif
