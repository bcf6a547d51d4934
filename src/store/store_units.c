/* Units and the production queue: every statement on units, and the
 * routing queries that choose which queued units a token may take. Written
 * on db.h: it runs on SQLite and on PostgreSQL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/svcpoint.h"
#include "store/db.h"
#include "store/store_queue.h"
#include "store/store_units.h"

/* A certificate the station issued and still stands behind. */
#define LIVE_CERTS \
    "SELECT s.cert_serial, s.kind, s.org_uscc, s.token_profile, s.token_serial" \
    " FROM issuances s JOIN received_certs c ON c.serial = s.cert_serial" \
    " WHERE c.status = 'issued' AND s.revoked_at IS NULL"

void
store_unit_clear(struct store_unit *u)
{
	free(u->state);
	free(u->failure_kind);
	free(u->hold_reason);
	free(u->order_state);
	memset(u, 0, sizeof(*u));
}

int
store_unit_load(struct store *st, int64_t id, struct store_unit *out)
{
	struct db_stmt *q;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT u.id, u.state, u.failures, u.failure_kind,"
	    " u.hold_reason, o.id, o.state FROM units u JOIN order_items i ON i.id = u.item_id"
	    " JOIN orders o ON o.id = i.order_id WHERE u.id = ?", "i", id)) != 0)
		return rc;
	if ((rc = db_step(q)) == 1) {
		rc = 0;
		out->id = db_column_int64(q, 0);
		out->state = db_column_dup(q, 1, &rc);
		out->failures = db_column_int64(q, 2);
		out->failure_kind = db_column_dup(q, 3, &rc);
		out->hold_reason = db_column_dup(q, 4, &rc);
		out->order_id = db_column_int64(q, 5);
		out->order_state = db_column_dup(q, 6, &rc);
	} else if (rc == 0) {
		rc = UKEY_ERR_NOTFOUND;
	}
	db_finalize(q);
	if (rc != 0)
		store_unit_clear(out);
	return rc;
}

int
store_units_count(struct store *st, int64_t order_id, unsigned states, int64_t *n)
{
	/* "(bits & k) <> 0": PostgreSQL takes no integer as a truth value */
	return store_int(st, n, "SELECT count(*) FROM units u JOIN order_items i"
	    " ON i.id = u.item_id WHERE i.order_id = ? AND (((?2 & 1) <> 0 AND u.state = 'held')"
	    " OR ((?2 & 2) <> 0 AND u.state = 'queued')"
	    " OR ((?2 & 4) <> 0 AND u.state = 'in_production')"
	    " OR ((?2 & 8) <> 0 AND u.state = 'issued')"
	    " OR ((?2 & 16) <> 0 AND u.state = 'cancelled'))", "ii", order_id, (int64_t)states);
}

int
store_units_queue_order(struct store *st, int64_t order_id, const char *now)
{
	return store_run(st, "UPDATE units SET state = 'queued', updated_at = ? WHERE state ="
	    " 'held' AND item_id IN (SELECT id FROM order_items WHERE order_id = ?)", "ti", now,
	    order_id);
}

int
store_units_cancel_order(struct store *st, int64_t order_id, const char *now)
{
	return store_run(st, "UPDATE units SET state = 'cancelled', updated_at = ? WHERE state IN"
	    " ('held', 'queued') AND item_id IN (SELECT id FROM order_items WHERE order_id = ?)",
	    "ti", now, order_id);
}

void
store_unit_claims_free(struct store_unit_claim *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++) {
		free(a[i].cert_profile);
		free(a[i].type);
		free(a[i].renews_cert);
	}
	free(a);
}

/* Appends q's rows to the n claims of *out; on error every claim is freed
 * and *out is NULL. Finalizes q. */
static int
read_claims(struct db_stmt *q, struct store_unit_claim **out, size_t *n)
{
	struct store_unit_claim *c;
	int rc;

	while ((rc = db_step(q)) == 1) {
		if ((c = store_array_add((void **)out, n, sizeof(**out))) == NULL) {
			rc = UKEY_ERR_NOMEM;
			break;
		}
		rc = 0;
		c->unit_id = db_column_int64(q, 0);
		c->order_id = db_column_int64(q, 1);
		c->cert_profile = db_column_dup(q, 2, &rc);
		c->type = db_column_dup(q, 3, &rc);
		c->renews_cert = db_column_dup(q, 4, &rc);
		if (rc != 0)
			break;
	}
	db_finalize(q);
	if (rc != 0) {
		store_unit_claims_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int
store_token_live_certs(struct store *st, const char *profile, const char *serial, int64_t *n)
{
	*n = 0;
	if (serial == NULL || serial[0] == '\0')
		return 0;
	return db_int(store_dbh(st), n, "SELECT count(*) FROM issuances s JOIN received_certs c"
	    " ON c.serial = s.cert_serial WHERE c.status = 'issued' AND s.token_profile = ?"
	    " AND s.token_serial = ?", "tt", profile, serial);
}

/* 1 when pass `pass` of the claim is a service point's own. */
static int
claim_pass_own(struct store *st, int pass)
{
	int take;

	(void)store_claim_scope(st, &take);
	return take == SVCPOINT_TAKE_OWN || (take == SVCPOINT_TAKE_OWN_FIRST && pass == 0);
}

int
store_claim_sql(struct store *st, int pass, const char *tail, char *sql, size_t len)
{
	int take, own = claim_pass_own(st, pass);
	const char *point = store_claim_scope(st, &take);
	char where[128] = "";

	/* point is [a-z0-9-] only (store_set_claim_scope): safe as a literal */
	if (own)
		snprintf(where, sizeof(where), " AND o.service_point = '%s'", point);
	else if (take == SVCPOINT_TAKE_OWN_FIRST)
		snprintf(where, sizeof(where),
		    " AND (o.service_point IS NULL OR o.service_point <> '%s')", point);
	snprintf(sql, len, "%s AND o.type IN ('new', 'replacement')%s ORDER BY" QUEUE_KEYS "%s",
	    own ? CLAIM_COLS_BY_ORDER : CLAIM_COLS, where, tail);
	return take == SVCPOINT_TAKE_OWN_FIRST ? 2 : 1;
}

int
store_claim_own_sql_pg(struct store *st, char *sql, size_t len)
{
	int take;
	const char *point = store_claim_scope(st, &take);

	return snprintf(sql, len, CLAIM_COLS_BY_ITEM_PG " AND o.type IN ('new', 'replacement')"
	    " AND o.service_point = '%s' ORDER BY" QUEUE_KEYS " LIMIT ?", point) < (int)len ?
	    0 : UKEY_ERR_INVAL;
}

/* At most this many of a point's items in production are read item by item
 * on PostgreSQL: each costs an index probe and a sort of its first units,
 * 10 to 20 µs with the station's claim of 200 (35 ms for 2,000 items).
 * More items mean a backlog of the point's own, which the plain join finds
 * at the head of the queue's index unless the others' units come first. */
#define CLAIM_BY_ITEM_MAX 64

enum claim_plan { CLAIM_NONE, CLAIM_JOIN, CLAIM_BY_ITEM };

/* How pass `pass` of a blank token's claim is asked, from one count of the
 * point's items in production (by orders_service_point) stopped at its
 * cap: not at all when it is a service point's own pass and the point has
 * nothing in production, before a planner that expects a match walks the
 * whole queue for one (PostgreSQL); on PostgreSQL item by item while the
 * point has at most CLAIM_BY_ITEM_MAX items; else the plain join. The plan,
 * or an error. */
static int
claim_plan(struct store *st, int pass)
{
	int take, rc, pg = db_backend(store_dbh(st)) == DB_PG;
	const char *point = store_claim_scope(st, &take);
	int64_t n = 0;

	if (!claim_pass_own(st, pass))
		return CLAIM_JOIN;
	if ((rc = db_int(store_dbh(st), &n, "SELECT count(*) FROM (SELECT 1 FROM orders o"
	    " JOIN order_items i ON i.order_id = o.id WHERE o.service_point = ?"
	    " AND o.state IN ('waiting_production', 'in_production')"
	    " AND o.type IN ('new', 'replacement') LIMIT ?) x", "ti", point,
	    pg ? (int64_t)CLAIM_BY_ITEM_MAX + 1 : (int64_t)1)) != 0)
		return rc;
	if (n == 0)
		return CLAIM_NONE;
	return pg && n <= CLAIM_BY_ITEM_MAX ? CLAIM_BY_ITEM : CLAIM_JOIN;
}

int
store_claim_by_item(struct store *st, int pass)
{
	int rc = claim_plan(st, pass);

	return rc < 0 ? rc : rc == CLAIM_BY_ITEM;
}

int
store_claim_pass_open(struct store *st, int pass)
{
	int rc = claim_plan(st, pass);

	return rc < 0 ? rc : rc != CLAIM_NONE;
}

/* The serials of the certificates a token (profile, serial: the two
 * parameters) holds, issued here and live. */
#define TOKEN_LIVE_SERIALS \
    "SELECT s.cert_serial FROM issuances s JOIN received_certs c ON c.serial = s.cert_serial" \
    " WHERE c.status = 'issued' AND s.token_profile = ? AND s.token_serial = ?"

/* The renewal orders of the certificates a token holds, their units in
 * queue order: the tail of a claim (parameters: profile, serial, limit). */
#define RENEWALS_OF_TOKEN \
    " AND o.type = 'renewal' AND o.renews_cert IN (" TOKEN_LIVE_SERIALS ")" \
    " ORDER BY" QUEUE_KEYS " LIMIT ?"

int
store_units_for_token(struct store *st, const char *profile, const char *serial, int limit,
    struct store_unit_claim **out, size_t *n)
{
	struct db_stmt *q;
	int64_t held = 0, renewals = 0;
	char sql[1024];
	int rc, pass, passes;

	*out = NULL;
	*n = 0;
	if ((rc = store_token_live_certs(st, profile, serial, &held)) != 0)
		return rc;
	if (held == 0) {
		/* a token with no certificate of ours: production of new orders,
		 * and of replacements (补办: a new token for a lost or damaged one),
		 * within the station's claim scope, pass by pass */
		for (pass = 0, passes = 1; pass < passes && *n < (size_t)limit; pass++) {
			int64_t want = (int64_t)limit - (int64_t)*n;

			passes = store_claim_sql(st, pass, " LIMIT ?", sql, sizeof(sql));
			/* CLAIM_NONE (0): nothing of the point's in production */
			if ((rc = claim_plan(st, pass)) == CLAIM_BY_ITEM) {
				/* a few items, item by item on PostgreSQL (store_queue.h) */
				if ((rc = store_claim_own_sql_pg(st, sql, sizeof(sql))) == 0 &&
				    (rc = db_stmtf(store_dbh(st), &q, sql, "ii", want, want)) == 0)
					rc = read_claims(q, out, n);
			} else if (rc == CLAIM_JOIN &&
			    (rc = db_stmtf(store_dbh(st), &q, sql, "i", want)) == 0) {
				rc = read_claims(q, out, n);
			}
			if (rc != 0) {
				store_unit_claims_free(*out, *n);
				*out = NULL;
				*n = 0;
				return rc;
			}
		}
		return 0;
	}
	/* a token that came back: only the renewal of a certificate it holds,
	 * wherever its order was filed (the token is here); the few renewal
	 * orders are found by orders_renews, and when there are none in
	 * production the claim is not asked (as in claim_plan) */
	if ((rc = db_int(store_dbh(st), &renewals, "SELECT count(*) FROM (SELECT 1 FROM orders o"
	    " WHERE o.type = 'renewal' AND o.state IN ('waiting_production', 'in_production')"
	    " AND o.renews_cert IN (" TOKEN_LIVE_SERIALS ") LIMIT 1) x", "tt", profile,
	    serial)) != 0 || renewals == 0)
		return rc;
	if (db_backend(store_dbh(st)) == DB_PG)
		rc = db_stmtf(store_dbh(st), &q, CLAIM_COLS_BY_ITEM_PG RENEWALS_OF_TOKEN, "itti",
		    (int64_t)limit, profile, serial, (int64_t)limit);
	else
		rc = db_stmtf(store_dbh(st), &q, CLAIM_COLS_BY_ORDER RENEWALS_OF_TOKEN, "tti",
		    profile, serial, (int64_t)limit);
	if (rc != 0)
		return rc;
	return read_claims(q, out, n);
}

void
store_live_certs_free(struct store_live_cert *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++) {
		free(a[i].cert_serial);
		free(a[i].kind);
		free(a[i].org_uscc);
		free(a[i].token_profile);
		free(a[i].token_serial);
	}
	free(a);
}

static int
read_live_certs(struct db_stmt *q, struct store_live_cert **out, size_t *n)
{
	struct store_live_cert *a = NULL, *c;
	size_t k = 0;
	int rc;

	while ((rc = db_step(q)) == 1) {
		if ((c = store_array_add((void **)&a, &k, sizeof(*a))) == NULL) {
			rc = UKEY_ERR_NOMEM;
			break;
		}
		rc = 0;
		c->cert_serial = db_column_dup(q, 0, &rc);
		c->kind = db_column_dup(q, 1, &rc);
		c->org_uscc = db_column_dup(q, 2, &rc);
		c->token_profile = db_column_dup(q, 3, &rc);
		c->token_serial = db_column_dup(q, 4, &rc);
		if (rc != 0)
			break;
	}
	db_finalize(q);
	if (rc != 0) {
		store_live_certs_free(a, k);
		return rc;
	}
	*out = a;
	*n = k;
	return 0;
}

int
store_live_certs_by_org(struct store *st, const char *uscc, const char *kind,
    struct store_live_cert **out, size_t *n)
{
	struct db_stmt *q;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = db_stmtf(store_dbh(st), &q, LIVE_CERTS " AND s.org_uscc = ? AND s.kind = ?"
	    " ORDER BY s.issued_at", "tt", uscc, kind)) != 0)
		return rc;
	return read_live_certs(q, out, n);
}

int
store_live_certs_by_serial(struct store *st, const char *serial, struct store_live_cert **out,
    size_t *n)
{
	struct db_stmt *q;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = db_stmtf(store_dbh(st), &q, LIVE_CERTS " AND ltrim(upper(s.cert_serial), '0') ="
	    " ltrim(upper(?), '0')", "t", serial)) != 0)
		return rc;
	return read_live_certs(q, out, n);
}

int
store_unit_claim(struct store *st, int64_t unit_id, int64_t job_id, const char *now)
{
	return db_run(store_dbh(st), "UPDATE units SET state = 'in_production', job_id = ?,"
	    " updated_at = ? WHERE id = ? AND state = 'queued'", "iti", job_id, now, unit_id);
}

int
store_unit_set_issued(struct store *st, int64_t unit_id, const char *now)
{
	return db_run(store_dbh(st), "UPDATE units SET state = 'issued', updated_at = ?"
	    " WHERE id = ?",
	    "ti", now, unit_id);
}

int
store_unit_return(struct store *st, int64_t unit_id, const char *now)
{
	return db_run(store_dbh(st), "UPDATE units SET state = 'queued', job_id = NULL,"
	    " updated_at = ? WHERE id = ? AND state = 'in_production'", "ti", now, unit_id);
}

int
store_unit_requeue(struct store *st, int64_t unit_id, int64_t failures, const char *kind,
    const char *why, const char *now)
{
	return store_run(st, "UPDATE units SET state = 'queued', job_id = NULL, failures = ?,"
	    " failure_kind = ?, last_failure = ?, requeued_at = ?, requeue_seq =" NEXT_REQUEUE_SEQ
	    ", updated_at = ? WHERE id = ?",
	    "itttti", failures, kind, why, now, now, unit_id);
}

int
store_unit_hold_failed(struct store *st, int64_t unit_id, int64_t failures, const char *kind,
    const char *why, const char *reason, const char *now)
{
	return store_run(st, "UPDATE units SET state = 'held', job_id = NULL, failures = ?,"
	    " failure_kind = ?, last_failure = ?, hold_reason = ?, held_at = ?,"
	    " updated_at = ? WHERE id = ?", "ittttti", failures, kind, why, reason, now, now,
	    unit_id);
}

int
store_unit_hold(struct store *st, int64_t unit_id, const char *reason, const char *now)
{
	return store_run(st, "UPDATE units SET state = 'held', hold_reason = ?,"
	    " held_at = ?, updated_at = ? WHERE id = ? AND state = 'queued'", "ttti", reason,
	    now, now, unit_id);
}

int
store_unit_release(struct store *st, int64_t unit_id, const char *now)
{
	/* a fresh start at the tail of the queue: the count that held it is
	 * spent; last_failure keeps what happened */
	return store_run(st, "UPDATE units SET state = 'queued', failures = 0,"
	    " failure_kind = NULL, hold_reason = NULL, held_at = NULL, requeued_at = ?,"
	    " requeue_seq =" NEXT_REQUEUE_SEQ ", updated_at = ?"
	    " WHERE id = ? AND state = 'held' AND hold_reason IS NOT NULL", "tti", now, now,
	    unit_id);
}

int
store_unit_cancel(struct store *st, int64_t unit_id, const char *now)
{
	return store_run(st, "UPDATE units SET state = 'cancelled', updated_at = ? WHERE id = ?"
	    " AND state IN ('held', 'queued')", "ti", now, unit_id);
}

static void
queue_entry_clear(struct store_queue_entry *e)
{
	free(e->portal_ref);
	free(e->kind);
	free(e->name);
	free(e->cert_profile);
	free(e->state);
	free(e->paid_at);
	free(e->last_failure);
	free(e->hold_reason);
	free(e->held_at);
	memset(e, 0, sizeof(*e));
}

void
store_queue_entries_free(struct store_queue_entry *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		queue_entry_clear(&a[i]);
	free(a);
}

static void
queue_row(struct db_stmt *q, struct store_queue_entry *e, int *rc)
{
	e->unit = db_column_int64(q, 0);
	e->order_id = db_column_int64(q, 1);
	e->portal_ref = db_column_dup(q, 2, rc);
	e->kind = db_column_dup(q, 3, rc);
	e->name = db_column_dup(q, 4, rc);
	e->cert_profile = db_column_dup(q, 5, rc);
	e->years = db_column_int64(q, 6);
	e->seq = db_column_int64(q, 7);
	e->count = db_column_int64(q, 8);
	e->state = db_column_dup(q, 9, rc);
	e->paid_at = db_column_dup(q, 10, rc);
	e->failures = db_column_int64(q, 11);
	e->last_failure = db_column_dup(q, 12, rc);
	e->hold_reason = db_column_dup(q, 13, rc);
	e->held_at = db_column_dup(q, 14, rc);
}

/* The queue view's parts, in the order it shows them. */
static const char *const queue_parts[] = { "in_production", "queued", "held" };
#define QUEUE_N_PARTS (sizeof(queue_parts) / sizeof(queue_parts[0]))

#define QUEUE_VIEW_COLS \
    "SELECT u.id, o.id, o.portal_ref, i.kind, i.name, i.cert_profile, i.years, u.seq," \
    " i.count, u.state, o.paid_at, u.failures, u.last_failure, u.hold_reason, u.held_at"

/* Where a page goes on from: a unit's QUEUE_KEYS values, and the part of
 * the view it was listed in. */
struct queue_key {
	size_t part;
	char *at, *paid_at;		/* queue_at, queue_paid_at */
	int requeued;			/* requeue_seq is not NULL */
	int64_t requeue_seq, order, item_seq, seq;
};

/* QUEUE_KEYS' columns, in their order; the second is NULL for a unit
 * never put back, and NULL sorts first. */
static const char *const queue_key_cols[] = { "u.queue_at", "u.requeue_seq",
	"u.queue_paid_at", "u.queue_order", "u.queue_item_seq", "u.seq" };
#define QUEUE_N_KEYS (sizeof(queue_key_cols) / sizeof(queue_key_cols[0]))

static void
queue_key_clear(struct queue_key *k)
{
	free(k->at);
	free(k->paid_at);
	memset(k, 0, sizeof(*k));
}

/* The key `after` (STORE_QUEUE_KEY) read back: UKEY_ERR_NOTFOUND when it
 * names no unit, or no part. */
static int
queue_key_load(struct store *st, int64_t after, struct queue_key *k)
{
	struct db_stmt *q;
	int rc;

	memset(k, 0, sizeof(*k));
	k->part = (size_t)(after % STORE_QUEUE_KEY_PARTS);
	if (k->part >= QUEUE_N_PARTS)
		return UKEY_ERR_NOTFOUND;
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT queue_at, requeue_seq, queue_paid_at,"
	    " queue_order, queue_item_seq, seq FROM units WHERE id = ?", "i",
	    after / STORE_QUEUE_KEY_PARTS)) != 0)
		return rc;
	if ((rc = db_step(q)) == 1) {
		rc = 0;
		k->at = db_column_dup(q, 0, &rc);
		k->requeued = !db_column_is_null(q, 1);
		k->requeue_seq = db_column_int64(q, 1);
		k->paid_at = db_column_dup(q, 2, &rc);
		k->order = db_column_int64(q, 3);
		k->item_seq = db_column_int64(q, 4);
		k->seq = db_column_int64(q, 5);
		/* a unit never paid for has no place in the queue */
		if (rc == 0 && (k->at == NULL || k->paid_at == NULL || db_column_is_null(q, 3) ||
		    db_column_is_null(q, 4)))
			rc = UKEY_ERR_NOTFOUND;
	} else if (rc == 0)
		rc = UKEY_ERR_NOTFOUND;
	db_finalize(q);
	if (rc != 0)
		queue_key_clear(k);
	return rc;
}

/* Binds key column c of k at *idx (none for a NULL requeue_seq). */
static int
queue_key_bind(struct db_stmt *q, int *idx, const struct queue_key *k, size_t c)
{
	switch (c) {
	case 0: return db_bind_text(q, (*idx)++, k->at);
	case 1: return k->requeued ? db_bind_int64(q, (*idx)++, k->requeue_seq) : 0;
	case 2: return db_bind_text(q, (*idx)++, k->paid_at);
	case 3: return db_bind_int64(q, (*idx)++, k->order);
	case 4: return db_bind_int64(q, (*idx)++, k->item_seq);
	default: return db_bind_int64(q, (*idx)++, k->seq);
	}
}

/* Appends to sql the condition of the rows of a part after key k that
 * share its first `level` key columns and follow it in the next one: one
 * index range of units_queue. */
static void
queue_after_sql(char *sql, size_t len, const struct queue_key *k, size_t level)
{
	size_t c, at = strlen(sql);

	for (c = 0; c < level; c++)
		at += (size_t)snprintf(sql + at, len - at, " AND %s %s", queue_key_cols[c],
		    c == 1 && !k->requeued ? "IS NULL" : "= ?");
	at += (size_t)snprintf(sql + at, len - at, " AND %s %s", queue_key_cols[level],
	    level == 1 && !k->requeued ? "IS NOT NULL" : "> ?");
}

/* Up to `want` rows of one part of the queue view, appended (*got of them),
 * read from units_queue in its order: the whole part from its start (k
 * NULL), or the rows after key k that share its first `level` key columns.
 * No sort, and no more rows read than given. */
static int
queue_part(struct store *st, size_t part, const struct queue_key *k, size_t level,
    int64_t want, struct store_queue_entry **a, size_t *n, int64_t *got)
{
	char sql[1024] = QUEUE_VIEW_COLS QUEUE_VIEW_FROM;
	struct store_queue_entry *e;
	struct db_stmt *q;
	size_t c;
	int rc, idx = 1;

	*got = 0;
	if (k != NULL)
		queue_after_sql(sql, sizeof(sql), k, level);
	snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql), " ORDER BY" QUEUE_KEYS " LIMIT ?");
	if ((rc = db_prepare(store_dbh(st), sql, &q)) != 0)
		return rc;
	rc = db_bind_text(q, idx++, queue_parts[part]);
	for (c = 0; k != NULL && c <= level && rc == 0; c++)
		rc = queue_key_bind(q, &idx, k, c);
	if (rc == 0)
		rc = db_bind_int64(q, idx, want);
	while (rc == 0 && (rc = db_step(q)) == 1) {
		if ((e = store_array_add((void **)a, n, sizeof(**a))) == NULL) {
			rc = UKEY_ERR_NOMEM;
			break;
		}
		rc = 0;
		queue_row(q, e, &rc);
		++*got;
	}
	db_finalize(q);
	return rc;
}

/* The part of the view a row of it was read from, by its state. */
static size_t
queue_part_of(const struct store_queue_entry *e)
{
	size_t p;

	for (p = 0; p < QUEUE_N_PARTS; p++)
		if (e->state != NULL && strcmp(e->state, queue_parts[p]) == 0)
			break;
	return p < QUEUE_N_PARTS ? p : 0;
}

int
store_units_queue_page(struct store *st, int64_t after, int64_t limit,
    struct store_queue_entry **out, size_t *n, int64_t *next)
{
	struct store_queue_entry *a = NULL;
	struct queue_key key = { 0 };
	int64_t want = limit < INT64_MAX ? limit + 1 : limit, got;
	size_t k = 0, p, level;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (next != NULL)
		*next = 0;
	if (after < 0 || limit < 1)
		return UKEY_ERR_INVAL;
	if (after > 0 && (rc = queue_key_load(st, after, &key)) != 0)
		return rc;
	/* the key's part from the key on, a range per key column that the key
	 * shares with the rows after it (the deepest first: they come first),
	 * then the parts after it whole, until the page is full */
	for (p = after > 0 ? key.part : 0; p < QUEUE_N_PARTS && want > 0 && rc == 0; p++) {
		if (after > 0 && p == key.part) {
			for (level = QUEUE_N_KEYS; level-- > 0 && want > 0 && rc == 0; want -= got)
				rc = queue_part(st, p, &key, level, want, &a, &k, &got);
		} else if ((rc = queue_part(st, p, NULL, 0, want, &a, &k, &got)) == 0)
			want -= got;
	}
	queue_key_clear(&key);
	if (rc != 0) {
		store_queue_entries_free(a, k);
		return rc;
	}
	if ((int64_t)k > limit) {	/* the row read to know that more follow */
		queue_entry_clear(&a[--k]);
		if (next != NULL)
			*next = STORE_QUEUE_KEY(a[k - 1].unit, queue_part_of(&a[k - 1]));
	}
	if (k == 0) {
		free(a);
		a = NULL;
	}
	*out = a;
	*n = k;
	return 0;
}

int
store_units_queue(struct store *st, struct store_queue_entry **out, size_t *n)
{
	return store_units_queue_page(st, 0, INT64_MAX, out, n, NULL);
}

int
store_units_queue_count(struct store *st, const char *state, const char *point, int64_t cap,
    int64_t *n)
{
	*n = 0;
	if (point == NULL || point[0] == '\0')
		return db_int(store_dbh(st), n, "SELECT count(*) FROM (SELECT 1" QUEUE_VIEW_FROM
		    " LIMIT ?) x", "ti", state, cap);
	/* from the point's orders (orders_service_point), not the whole queue */
	return db_int(store_dbh(st), n, "SELECT count(*) FROM (SELECT 1 FROM orders o"
	    " CROSS JOIN order_items i CROSS JOIN units u WHERE i.order_id = o.id"
	    " AND u.item_id = i.id AND u.state = ? AND o.service_point = ?"
	    " AND o.state IN ('waiting_production', 'in_production') LIMIT ?) x", "tti", state,
	    point, cap);
}
