/* The auditors' queries (store_auditq.h): every statement behind `audit
 * serials`, `audit log`, `audit export`'s upper bound and `audit expiring`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "store/db.h"
#include "store/store_auditq.h"

/* The columns of `audit serials`; ?3 is now. */
#define SERIALS_SELECT \
    "SELECT s.id, s.cert_serial AS serial, s.order_id, o.portal_ref, s.unit_id, s.kind," \
    " s.subject, s.issuer, s.not_before, s.not_after, s.key_alg, s.key_local," \
    " s.key_always_sensitive, s.key_never_extractable, s.key_usage, s.token_serial," \
    " s.token_model, s.token_profile, s.token_uri, s.org_uscc, s.operator, s.station_id," \
    " s.started_at, s.issued_at," \
    " CASE WHEN s.revoked_at IS NOT NULL THEN 'revoked'" \
    "  WHEN s.not_after <= ?3 THEN 'expired' ELSE 'live' END AS status," \
    " s.revoked_at, s.revoke_reason, s.replaces_serial AS replaces, s.replaces_how," \
    " (SELECT min(n.cert_serial) FROM issuances n WHERE n.replaces_serial = s.cert_serial" \
    "  AND n.replaces_how = 'renewal') AS renewed_by," \
    " (SELECT min(n.cert_serial) FROM issuances n WHERE n.replaces_serial = s.cert_serial" \
    "  AND n.replaces_how = 'replacement') AS replaced_by" \
    " FROM issuances s JOIN orders o ON o.id = s.order_id"

int
store_auditq_serials_page(struct store *st, const struct store_serials_page *q,
    struct json_object **out)
{
	int64_t limit = q->limit > 0 ? q->limit : INT64_MAX;	/* LIMIT -1 is SQLite's only */

	/* with an organisation, its own statement: a plain equality, so that
	 * an index on issuances(org_uscc, id) finds its page without reading
	 * the others' rows (docs/performance.md, "Scale") */
	if (q->org != NULL)
		return store_query(st, out, SERIALS_SELECT
		    " WHERE s.org_uscc = ?2 AND (?1 = 0 OR s.order_id = ?1) AND s.id > ?4"
		    " ORDER BY s.id LIMIT ?5",
		    "ittii", q->order_id, q->org, q->now, q->after, limit);
	return store_query(st, out, SERIALS_SELECT
	    /* ?2 (NULL) named with its type: PostgreSQL types every parameter */
	    " WHERE CAST(?2 AS text) IS NULL AND (?1 = 0 OR s.order_id = ?1) AND s.id > ?4"
	    " ORDER BY s.id LIMIT ?5",
	    "ittii", q->order_id, NULL, q->now, q->after, limit);
}

int
store_auditq_serials(struct store *st, int64_t order_id, const char *org, const char *now,
    struct json_object **out)
{
	const struct store_serials_page q = { order_id, org, now, 0, 0 };

	return store_auditq_serials_page(st, &q, out);
}

int
store_auditq_last_id(struct store *st, int64_t *id)
{
	return store_int(st, id, "SELECT coalesce(max(id), 0) FROM audit", "");
}

int
store_auditq_log(struct store *st, int64_t order_id, int64_t limit, struct json_object **out)
{
	return store_query(st, out,
	    "SELECT * FROM (SELECT id, station, seq, at, actor, action, order_id, unit_id, job_id, token,"
	    " bay, detail FROM audit WHERE (?1 = 0 OR order_id = ?1) ORDER BY id DESC LIMIT ?2) AS l"
	    " ORDER BY id", "ii",
	    order_id, limit);
}

int
store_auditq_log_after(struct store *st, int64_t order_id, int64_t after, int64_t limit,
    struct json_object **out)
{
	return store_query(st, out,
	    "SELECT id, at, actor, action, order_id, unit_id, job_id, token, bay, detail"
	    " FROM audit WHERE (?1 = 0 OR order_id = ?1) AND id > ?2 ORDER BY id LIMIT ?3", "iii",
	    order_id, after, limit);
}

#define EXPIRING_WHERE \
    " WHERE s.revoked_at IS NULL AND s.not_after > ?1 AND s.not_after <= ?2" \
    " AND (CAST(?3 AS text) IS NULL OR s.org_uscc = ?3)"

/* The not_after of issuance id (*out owned), UKEY_ERR_NOTFOUND when there is
 * no such issuance. */
static int
issuance_not_after(struct store *st, int64_t id, char **out)
{
	struct db_stmt *q;
	int rc;

	*out = NULL;
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT not_after FROM issuances WHERE id = ?", "i",
	    id)) != 0)
		return rc;
	if ((rc = db_step(q)) == 1) {
		rc = 0;
		*out = db_column_dup(q, 0, &rc);
		if (rc == 0 && *out == NULL)
			rc = UKEY_ERR_NOTFOUND;
	} else if (rc == 0)
		rc = UKEY_ERR_NOTFOUND;
	db_finalize(q);
	return rc;
}

int
store_auditq_expiring(struct store *st, const char *now, const char *until, const char *org,
    int64_t after, int64_t limit, struct store_expiring **out, size_t *n)
{
	struct store_expiring *a = NULL, *e;
	struct db_stmt *q;
	char *from = NULL;	/* the not_after of the issuance `after` */
	const char *lo;
	size_t len = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (after < 0 || limit < 1)
		return UKEY_ERR_INVAL;
	if (after > 0 && (rc = issuance_not_after(st, after, &from)) != 0)
		return rc;
	/* (not_after, id) after the page's key, as two index ranges: the rest
	 * of the key's second by id, then the later ones, each at most a
	 * page; the second's one lower bound is the later of now and the key,
	 * since SQLite would seek by either of two */
	lo = from != NULL && strcmp(from, now) > 0 ? from : now;
	rc = db_stmtf(store_dbh(st), &q, "SELECT s.cert_serial, s.subject, s.kind, s.org_uscc,"
	    " s.not_after, s.token_serial, s.order_id, r.id, r.portal_ref, s.id FROM"
	    " (SELECT id FROM (SELECT s.id FROM issuances s" EXPIRING_WHERE
	    "   AND s.not_after = ?4 AND s.id > ?5 ORDER BY s.id LIMIT ?6) AS same_second"
	    "  UNION ALL SELECT id FROM (SELECT s.id FROM issuances s"
	    "   WHERE s.revoked_at IS NULL AND s.not_after > ?7 AND s.not_after <= ?2"
	    "   AND (CAST(?3 AS text) IS NULL OR s.org_uscc = ?3)"
	    "   ORDER BY s.not_after, s.id LIMIT ?6) AS later) AS k"
	    " JOIN issuances s ON s.id = k.id"
	    " LEFT JOIN orders r ON r.id = (SELECT min(o.id) FROM orders o"
	    "  WHERE o.renews_cert = s.cert_serial AND o.state NOT IN ('cancelled', 'rejected'))"
	    " ORDER BY s.not_after, s.id LIMIT ?6", "ttttiit", now, until, org,
	    from != NULL ? from : "", after, limit, lo);
	free(from);
	if (rc != 0)
		return rc;
	while ((rc = db_step(q)) == 1) {
		if ((e = store_array_add((void **)&a, &len, sizeof(*a))) == NULL) {
			rc = UKEY_ERR_NOMEM;
			break;
		}
		rc = 0;
		e->serial = db_column_dup(q, 0, &rc);
		e->subject = db_column_dup(q, 1, &rc);
		e->kind = db_column_dup(q, 2, &rc);
		e->org_uscc = db_column_dup(q, 3, &rc);
		e->not_after = db_column_dup(q, 4, &rc);
		e->token_serial = db_column_dup(q, 5, &rc);
		e->order_id = db_column_int64(q, 6);
		e->renewal_order = db_column_int64(q, 7);
		e->renewal_ref = db_column_dup(q, 8, &rc);
		e->id = db_column_int64(q, 9);
		if (rc != 0)
			break;
	}
	db_finalize(q);
	if (rc != 0) {
		store_expiring_free(a, len);
		return rc;
	}
	*out = a;
	*n = len;
	return 0;
}

int
store_auditq_expiring_count(struct store *st, const char *now, const char *until, int64_t *n)
{
	return store_int(st, n, "SELECT count(*) FROM issuances s" EXPIRING_WHERE, "ttt", now,
	    until, NULL);
}

void
store_expiring_free(struct store_expiring *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++) {
		free(a[i].serial);
		free(a[i].subject);
		free(a[i].kind);
		free(a[i].org_uscc);
		free(a[i].not_after);
		free(a[i].token_serial);
		free(a[i].renewal_ref);
	}
	free(a);
}
