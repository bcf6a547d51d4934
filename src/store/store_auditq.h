/* The auditors' queries on the station database: issued serials with their
 * status, the audit log's pages, and certificates about to expire. */
#ifndef UKEY_STORE_AUDITQ_H
#define UKEY_STORE_AUDITQ_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "store/store.h"

/* The issuances (order_id 0: all; org NULL: all) in issue order as JSON rows
 * for `audit serials`, each with status "revoked" (revoked_at set),
 * "expired" (not_after at or before now, ISO-8601 UTC) or "live", and
 * revoked_at and revoke_reason; the links between certificates: replaces
 * and replaces_how ("renewal" or "replacement") on the newer one,
 * renewed_by or replaced_by (the newer serial) on the one it replaced, NULL
 * where there is none. Returns 0 and *out (json_object_put),
 * UKEY_ERR_DB or UKEY_ERR_NOMEM. */
int store_auditq_serials(struct store *st, int64_t order_id, const char *org, const char *now,
    struct json_object **out);

/* One page of the same: the rows whose issuance id (the row's "id") is
 * above after, at most limit of them (limit < 1: all). */
struct store_serials_page {
	int64_t order_id;	/* 0: all */
	const char *org;	/* NULL: all */
	const char *now;
	int64_t after, limit;
};
int store_auditq_serials_page(struct store *st, const struct store_serials_page *q,
    struct json_object **out);

/* The id of the last audit record (0 for an empty log). */
int store_auditq_last_id(struct store *st, int64_t *id);

/* The last `limit` audit records (of order order_id; 0: all), oldest first,
 * as JSON rows. */
int store_auditq_log(struct store *st, int64_t order_id, int64_t limit, struct json_object **out);
/* The records after id `after` (of order_id when not 0), oldest first, at
 * most limit: a page of `audit log --after`. */
int store_auditq_log_after(struct store *st, int64_t order_id, int64_t after, int64_t limit,
    struct json_object **out);

/* A live certificate whose not_after is near. Owned: store_expiring_free. */
struct store_expiring {
	int64_t id;			/* the issuance's: the key of the listing's pages */
	char *serial, *subject, *kind, *org_uscc, *not_after, *token_serial;
	int64_t order_id;
	int64_t renewal_order;		/* an open order that renews it, 0 when none */
	char *renewal_ref;		/* its portal_ref, NULL when none */
};

/* The issuances not revoked whose not_after is after now and at or before
 * until (both ISO-8601 UTC), of organisation org (NULL: all), soonest
 * first (then by id); a renewal order counts when it is neither rejected
 * nor cancelled. A page: those after the issuance `after` in that order (0:
 * from the first), at most limit (1 or more), read from the index on
 * not_after so that it costs its rows, not those before it. Returns 0 with
 * *out and *n (NULL and 0 for none), UKEY_ERR_NOTFOUND when after names no
 * issuance, UKEY_ERR_INVAL for a bad page, UKEY_ERR_DB or UKEY_ERR_NOMEM. */
int store_auditq_expiring(struct store *st, const char *now, const char *until, const char *org,
    int64_t after, int64_t limit, struct store_expiring **out, size_t *n);
/* Only how many there are (any organisation). */
int store_auditq_expiring_count(struct store *st, const char *now, const char *until,
    int64_t *n);
void store_expiring_free(struct store_expiring *a, size_t n);

#endif
