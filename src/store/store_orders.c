/* Orders: every statement on orders, order_items, order_revisions and
 * deliveries, behind the typed API of store_orders.h, on either backend of
 * the database layer (db.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/secret.h"
#include "store/db.h"
#include "store/store_orders.h"

#define ORDER_COLS \
    "id, total_fen, revision, refund_due, portal_ref, type, state, org_name, account_uscc," \
    " payment_no, doc, doc_sealed, renews_cert, checksum_failures, override_reason," \
    " override_by, review_remark, reviewer, reviewed_at, paid_at, paid_by, cancel_remark," \
    " cancelled_at, cancelled_by, invoice_requested_at, invoice_requested_by, created_at," \
    " created_by, updated_at, replaces_cert"

/* A copy of a blob column (NULL when NULL or empty). */
static uint8_t *
blob_col(struct db_stmt *q, int col, size_t *len, int *rc)
{
	size_t n = 0;
	const void *p = db_column_blob(q, col, &n);
	uint8_t *copy;

	*len = 0;
	if (p == NULL || n == 0)
		return NULL;
	if ((copy = malloc(n)) == NULL) {
		*rc = UKEY_ERR_NOMEM;
		return NULL;
	}
	memcpy(copy, p, n);
	*len = n;
	return copy;
}

static struct store_order *
order_row(struct db_stmt *q, int *rc)
{
	struct store_order *o = calloc(1, sizeof(*o));
	char **text[] = { &o->portal_ref, &o->type, &o->state, &o->org_name, &o->account_uscc,
	    &o->payment_no, &o->doc };
	char **rest[] = { &o->renews_cert, &o->checksum_failures, &o->override_reason,
	    &o->override_by, &o->review_remark, &o->reviewer, &o->reviewed_at, &o->paid_at,
	    &o->paid_by, &o->cancel_remark, &o->cancelled_at, &o->cancelled_by,
	    &o->invoice_requested_at, &o->invoice_requested_by, &o->created_at, &o->created_by,
	    &o->updated_at };
	size_t i;

	if (o == NULL) {
		*rc = UKEY_ERR_NOMEM;
		return NULL;
	}
	o->id = db_column_int64(q, 0);
	o->total_fen = db_column_int64(q, 1);
	o->revision = db_column_int64(q, 2);
	o->refund_due = (int)db_column_int64(q, 3);
	for (i = 0; i < sizeof(text) / sizeof(text[0]); i++)
		*text[i] = db_column_dup(q, 4 + (int)i, rc);
	o->doc_sealed = blob_col(q, 11, &o->doc_sealed_len, rc);
	for (i = 0; i < sizeof(rest) / sizeof(rest[0]); i++)
		*rest[i] = db_column_dup(q, 12 + (int)i, rc);
	o->replaces_cert = db_column_dup(q, 29, rc);
	return o;
}

/* The one order the prepared statement q finds. */
static int
load_one(struct db_stmt *q, struct store_order **out)
{
	struct store_order *o = NULL;
	int rc;

	if ((rc = db_step(q)) == 1) {
		rc = 0;
		o = order_row(q, &rc);
	} else if (rc == 0) {
		rc = UKEY_ERR_NOTFOUND;
	}
	db_finalize(q);
	if (rc != 0) {
		store_order_free(o);
		return rc;
	}
	*out = o;
	return 0;
}

int
store_order_load(struct store *st, int64_t id, struct store_order **out)
{
	struct db_stmt *q;
	int rc;

	*out = NULL;
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT " ORDER_COLS " FROM orders WHERE id = ?", "i",
	    id)) != 0)
		return rc;
	return load_one(q, out);
}

int
store_order_load_ref(struct store *st, const char *portal_ref, struct store_order **out)
{
	struct db_stmt *q;
	int rc;

	*out = NULL;
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT " ORDER_COLS " FROM orders WHERE portal_ref = ?",
	    "t", portal_ref)) != 0)
		return rc;
	return load_one(q, out);
}

void
store_order_free(struct store_order *o)
{
	char *all[25];
	size_t i, n = 0;

	if (o == NULL)
		return;
	all[n++] = o->portal_ref; all[n++] = o->type; all[n++] = o->state;
	all[n++] = o->org_name; all[n++] = o->account_uscc; all[n++] = o->payment_no;
	all[n++] = o->doc; all[n++] = o->renews_cert; all[n++] = o->checksum_failures;
	all[n++] = o->override_reason; all[n++] = o->override_by; all[n++] = o->review_remark;
	all[n++] = o->reviewer; all[n++] = o->reviewed_at; all[n++] = o->paid_at;
	all[n++] = o->paid_by; all[n++] = o->cancel_remark; all[n++] = o->cancelled_at;
	all[n++] = o->cancelled_by; all[n++] = o->invoice_requested_at;
	all[n++] = o->invoice_requested_by; all[n++] = o->created_at; all[n++] = o->created_by;
	all[n++] = o->updated_at; all[n++] = o->replaces_cert;
	for (i = 0; i < n; i++)
		free(all[i]);
	free(o->doc_sealed);
	free(o);
}

int
store_order_state(struct store *st, int64_t id, char *state, size_t len)
{
	struct db_stmt *q;
	int rc;

	state[0] = '\0';
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT state FROM orders WHERE id = ?", "i", id)) != 0)
		return rc;
	if ((rc = db_step(q)) == 1) {
		snprintf(state, len, "%s", db_column_text(q, 0) != NULL ? db_column_text(q, 0) : "");
		rc = 0;
	} else if (rc == 0) {
		rc = UKEY_ERR_NOTFOUND;
	}
	db_finalize(q);
	return rc;
}

static void
summary_free(struct store_order_summary *s)
{
	free(s->portal_ref);
	free(s->type);
	free(s->state);
	free(s->org_name);
	free(s->account_uscc);
	free(s->payment_no);
	free(s->renews_cert);
	free(s->created_at);
	free(s->updated_at);
	free(s->service_point);
}

void
store_order_summaries_free(struct store_order_summary *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		summary_free(&a[i]);
	free(a);
}

static void
summary_row(struct db_stmt *q, struct store_order_summary *s, int *rc)
{
	s->id = db_column_int64(q, 0);
	s->portal_ref = db_column_dup(q, 1, rc);
	s->type = db_column_dup(q, 2, rc);
	s->state = db_column_dup(q, 3, rc);
	s->org_name = db_column_dup(q, 4, rc);
	s->account_uscc = db_column_dup(q, 5, rc);
	s->total_fen = db_column_int64(q, 6);
	s->payment_no = db_column_dup(q, 7, rc);
	s->renews_cert = db_column_dup(q, 8, rc);
	s->refund_due = (int)db_column_int64(q, 9);
	s->revision = db_column_int64(q, 10);
	s->created_at = db_column_dup(q, 11, rc);
	s->updated_at = db_column_dup(q, 12, rc);
	s->certificates = db_column_int64(q, 13);
	s->issued = db_column_int64(q, 14);
	s->service_point = db_column_dup(q, 15, rc);
}

int
store_order_list(struct store *st, const struct store_order_filter *f,
    struct store_order_summary **out, size_t *n)
{
	struct store_order_summary *a = NULL, *s;
	struct db_stmt *q;
	size_t k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	/* created_at is ISO-8601 UTC: its first ten characters are the date; a
	 * filter's parameter is typed where it is tested for NULL (PostgreSQL
	 * cannot tell the type of a NULL parameter from `? IS NULL`) */
	if ((rc = db_stmtf(store_dbh(st), &q,
	    "SELECT o.id, o.portal_ref, o.type, o.state, o.org_name, o.account_uscc, o.total_fen,"
	    " o.payment_no, o.renews_cert, o.refund_due, o.revision, o.created_at, o.updated_at,"
	    " (SELECT count(*) FROM units u JOIN order_items i ON i.id = u.item_id"
	    "  WHERE i.order_id = o.id) AS certificates,"
	    " (SELECT count(*) FROM units u JOIN order_items i ON i.id = u.item_id"
	    "  WHERE i.order_id = o.id AND u.state = 'issued') AS issued, o.service_point"
	    " FROM orders o WHERE (CAST(?1 AS text) IS NULL OR o.state = ?1)"
	    " AND (CAST(?2 AS text) IS NULL OR o.account_uscc = ?2)"
	    " AND (CAST(?3 AS text) IS NULL OR o.type = ?3)"
	    " AND (CAST(?4 AS text) IS NULL OR substr(o.created_at, 1, 10) >= ?4)"
	    " AND (CAST(?5 AS text) IS NULL OR substr(o.created_at, 1, 10) <= ?5) AND o.id > ?6"
	    " AND (CAST(?8 AS text) IS NULL OR o.service_point = ?8)"
	    " ORDER BY o.id LIMIT ?7", "tttttiit", f->state, f->org, f->type, f->since, f->until,
	    f->after, f->limit > 0 ? f->limit : INT64_MAX, f->service_point)) != 0)
		return rc;
	while ((rc = db_step(q)) == 1) {
		if ((s = store_array_add((void **)&a, &k, sizeof(*a))) == NULL) {
			rc = UKEY_ERR_NOMEM;
			break;
		}
		rc = 0;
		summary_row(q, s, &rc);
		if (rc != 0)
			break;
	}
	db_finalize(q);
	if (rc != 0) {
		store_order_summaries_free(a, k);
		return rc;
	}
	*out = a;
	*n = k;
	return 0;
}

int
store_order_insert(struct store *st, const struct store_order_content *c, const char *now,
    const char *by, int64_t *id)
{
	return db_insert_id(store_dbh(st), id, "INSERT INTO orders (portal_ref, type,"
	    " account_uscc, org_name, state, total_fen, doc, doc_sealed, checksum_failures,"
	    " created_at, created_by, updated_at)"
	    " VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)", "ttttitbtttt", c->portal_ref,
	    c->type, c->account_uscc, c->org_name, c->total_fen, c->doc, c->doc_sealed,
	    c->doc_sealed_len, c->checksum_failures, now, by, now);
}

int
store_order_add_item(struct store *st, int64_t order_id,
    const struct store_order_item_new *it, const char *now)
{
	int64_t item_id, u;
	int rc;

	rc = db_insert_id(store_dbh(st), &item_id, "INSERT INTO order_items (order_id, seq, kind,"
	    " name, cert_profile, years, count) VALUES (?, ?, ?, ?, ?, ?, ?)", "iitttii", order_id,
	    it->seq, it->kind, it->name, it->cert_profile, it->years, it->count);
	if (rc != 0)
		return rc;
	for (u = 0; u < it->count; u++)
		if ((rc = store_run(st, "INSERT INTO units (item_id, seq, state, updated_at)"
		    " VALUES (?, ?, 'held', ?)", "iit", item_id, u + 1, now)) != 0)
			return rc;
	return 0;
}

void
store_order_items_free(struct store_order_item *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++) {
		free(a[i].kind);
		free(a[i].name);
		free(a[i].cert_profile);
	}
	free(a);
}

int
store_order_items(struct store *st, int64_t order_id, struct store_order_item **out, size_t *n)
{
	struct store_order_item *a = NULL, *it;
	struct db_stmt *q;
	size_t k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT id, seq, kind, name, cert_profile, years, count"
	    " FROM order_items WHERE order_id = ? ORDER BY seq", "i", order_id)) != 0)
		return rc;
	while ((rc = db_step(q)) == 1) {
		if ((it = store_array_add((void **)&a, &k, sizeof(*a))) == NULL) {
			rc = UKEY_ERR_NOMEM;
			break;
		}
		rc = 0;
		it->id = db_column_int64(q, 0);
		it->seq = db_column_int64(q, 1);
		it->kind = db_column_dup(q, 2, &rc);
		it->name = db_column_dup(q, 3, &rc);
		it->cert_profile = db_column_dup(q, 4, &rc);
		it->years = db_column_int64(q, 5);
		it->count = db_column_int64(q, 6);
		if (rc != 0)
			break;
	}
	db_finalize(q);
	if (rc != 0) {
		store_order_items_free(a, k);
		return rc;
	}
	*out = a;
	*n = k;
	return 0;
}

void
store_order_units_free(struct store_order_unit *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++) {
		free(a[i].state);
		free(a[i].cert_serial);
		free(a[i].token_serial);
	}
	free(a);
}

int
store_order_units(struct store *st, int64_t order_id, struct store_order_unit **out, size_t *n)
{
	struct store_order_unit *a = NULL, *u;
	struct db_stmt *q;
	size_t k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT u.id, i.seq, u.seq, u.state, u.job_id,"
	    " s.cert_serial, s.token_serial FROM units u JOIN order_items i ON i.id = u.item_id"
	    " LEFT JOIN issuances s ON s.unit_id = u.id WHERE i.order_id = ? ORDER BY i.seq, u.seq",
	    "i", order_id)) != 0)
		return rc;
	while ((rc = db_step(q)) == 1) {
		if ((u = store_array_add((void **)&a, &k, sizeof(*a))) == NULL) {
			rc = UKEY_ERR_NOMEM;
			break;
		}
		rc = 0;
		u->id = db_column_int64(q, 0);
		u->item_seq = db_column_int64(q, 1);
		u->seq = db_column_int64(q, 2);
		u->state = db_column_dup(q, 3, &rc);
		u->job_id = db_column_int64(q, 4);
		u->cert_serial = db_column_dup(q, 5, &rc);
		u->token_serial = db_column_dup(q, 6, &rc);
		if (rc != 0)
			break;
	}
	db_finalize(q);
	if (rc != 0) {
		store_order_units_free(a, k);
		return rc;
	}
	*out = a;
	*n = k;
	return 0;
}

void
store_order_revisions_free(struct store_order_revision *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++) {
		free(a[i].type);
		free(a[i].org_name);
		free(a[i].doc);
		free(a[i].doc_sealed);
		free(a[i].checksum_failures);
		free(a[i].review_remark);
		free(a[i].replaced_at);
		free(a[i].replaced_by);
	}
	free(a);
}

int
store_order_revisions(struct store *st, int64_t order_id, struct store_order_revision **out,
    size_t *n)
{
	struct store_order_revision *a = NULL, *v;
	struct db_stmt *q;
	size_t k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT revision, type, org_name, total_fen, doc,"
	    " doc_sealed, checksum_failures, review_remark, replaced_at, replaced_by FROM order_revisions"
	    " WHERE order_id = ? ORDER BY revision", "i", order_id)) != 0)
		return rc;
	while ((rc = db_step(q)) == 1) {
		if ((v = store_array_add((void **)&a, &k, sizeof(*a))) == NULL) {
			rc = UKEY_ERR_NOMEM;
			break;
		}
		rc = 0;
		v->revision = db_column_int64(q, 0);
		v->type = db_column_dup(q, 1, &rc);
		v->org_name = db_column_dup(q, 2, &rc);
		v->total_fen = db_column_int64(q, 3);
		v->doc = db_column_dup(q, 4, &rc);
		v->doc_sealed = blob_col(q, 5, &v->doc_sealed_len, &rc);
		v->checksum_failures = db_column_dup(q, 6, &rc);
		v->review_remark = db_column_dup(q, 7, &rc);
		v->replaced_at = db_column_dup(q, 8, &rc);
		v->replaced_by = db_column_dup(q, 9, &rc);
		if (rc != 0)
			break;
	}
	db_finalize(q);
	if (rc != 0) {
		store_order_revisions_free(a, k);
		return rc;
	}
	*out = a;
	*n = k;
	return 0;
}

int
store_order_revise(struct store *st, int64_t id, const struct store_order_content *c,
    int64_t revision, const char *now, const char *by)
{
	int rc;

	/* the replaced content stays readable: auditors see what changed */
	rc = store_run(st, "INSERT INTO order_revisions (order_id, revision, type, org_name,"
	    " total_fen, doc, doc_sealed, checksum_failures, review_remark, replaced_at, replaced_by)"
	    " SELECT id, revision, type, org_name, total_fen, doc, doc_sealed, checksum_failures,"
	    " review_remark, ?, ? FROM orders WHERE id = ?", "tti", now, by, id);
	/* a rejected order was never paid: its units are all held, none has a job */
	if (rc == 0)
		rc = store_run(st, "DELETE FROM units WHERE item_id IN (SELECT id FROM order_items"
		    " WHERE order_id = ?)", "i", id);
	if (rc == 0)
		rc = store_run(st, "DELETE FROM order_items WHERE order_id = ?", "i", id);
	if (rc == 0)
		rc = store_run(st, "UPDATE orders SET type = ?, account_uscc = ?, org_name = ?,"
		    " total_fen = ?, doc = ?, doc_sealed = ?, checksum_failures = ?,"
		    " override_reason = NULL, override_by = NULL, renews_cert = NULL,"
		    " replaces_cert = NULL, revision = ?"
		    " WHERE id = ?", "tttitbtii", c->type, c->account_uscc, c->org_name, c->total_fen,
		    c->doc, c->doc_sealed, c->doc_sealed_len, c->checksum_failures, revision, id);
	return rc;
}

int
store_order_set_state(struct store *st, int64_t id, const char *from, const char *to,
    const char *now)
{
	/* naming the old state keeps a move from applying to an order that
	 * moved meanwhile */
	return store_run(st, "UPDATE orders SET state = ?, updated_at = ? WHERE id = ?"
	    " AND state = ?", "ttit", to, now, id, from);
}

int
store_order_set_override(struct store *st, int64_t id, const char *reason, const char *by,
    const char *now)
{
	return store_run(st, "UPDATE orders SET override_reason = ?, override_by = ?,"
	    " updated_at = ? WHERE id = ?", "ttti", reason, by, now, id);
}

int
store_order_set_approval(struct store *st, int64_t id, const char *reviewer, const char *now,
    const char *renews)
{
	return store_run(st, "UPDATE orders SET reviewer = ?, reviewed_at = ?, renews_cert = ?"
	    " WHERE id = ?", "ttti", reviewer, now, renews, id);
}

int
store_order_set_rejection(struct store *st, int64_t id, const char *remark,
    const char *reviewer, const char *now)
{
	return store_run(st, "UPDATE orders SET review_remark = ?, reviewer = ?, reviewed_at = ?"
	    " WHERE id = ?", "ttti", remark, reviewer, now, id);
}

int
store_order_set_payment(struct store *st, int64_t id, const char *payment_no, const char *now,
    const char *by)
{
	return store_run(st, "UPDATE orders SET payment_no = ?, paid_at = ?, paid_by = ?"
	    " WHERE id = ?", "ttti", payment_no, now, by, id);
}

int
store_order_by_payment_no(struct store *st, const char *payment_no, int64_t *other)
{
	return store_int(st, other, "SELECT id FROM orders WHERE payment_no = ?", "t", payment_no);
}

int
store_order_set_cancel(struct store *st, int64_t id, const char *remark, const char *by,
    const char *now, int refund_due)
{
	return store_run(st, "UPDATE orders SET cancel_remark = ?, cancelled_at = ?,"
	    " cancelled_by = ?, refund_due = ? WHERE id = ?", "tttii", remark, now, by,
	    (int64_t)refund_due, id);
}

int
store_order_set_invoice(struct store *st, int64_t id, const char *now, const char *by)
{
	return store_run(st, "UPDATE orders SET invoice_requested_at = ?,"
	    " invoice_requested_by = ? WHERE id = ?", "tti", now, by, id);
}

int
store_delivery_insert(struct store *st, const struct store_delivery *d)
{
	return store_run(st, "INSERT INTO deliveries (order_id, method, picked_up_by, carrier,"
	    " tracking_no, delivered_at, delivered_by) VALUES (?, ?, ?, ?, ?, ?, ?)", "itttttt",
	    d->order_id, d->method, d->picked_up_by, d->carrier, d->tracking_no, d->delivered_at,
	    d->delivered_by);
}

void
store_delivery_clear(struct store_delivery *d)
{
	free(d->method);
	free(d->picked_up_by);
	free(d->carrier);
	free(d->tracking_no);
	free(d->delivered_at);
	free(d->delivered_by);
	memset(d, 0, sizeof(*d));
}

int
store_delivery_load(struct store *st, int64_t order_id, struct store_delivery *out)
{
	struct db_stmt *q;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT method, picked_up_by, carrier, tracking_no,"
	    " delivered_at, delivered_by FROM deliveries WHERE order_id = ?", "i", order_id)) != 0)
		return rc;
	if ((rc = db_step(q)) == 1) {
		rc = 0;
		out->order_id = order_id;
		out->method = db_column_dup(q, 0, &rc);
		out->picked_up_by = db_column_dup(q, 1, &rc);
		out->carrier = db_column_dup(q, 2, &rc);
		out->tracking_no = db_column_dup(q, 3, &rc);
		out->delivered_at = db_column_dup(q, 4, &rc);
		out->delivered_by = db_column_dup(q, 5, &rc);
	} else if (rc == 0) {
		rc = UKEY_ERR_NOTFOUND;
	}
	db_finalize(q);
	if (rc != 0)
		store_delivery_clear(out);
	return rc;
}

int
store_order_set_replaces(struct store *st, int64_t id, const char *serial)
{
	return store_run(st, "UPDATE orders SET replaces_cert = ? WHERE id = ?", "ti", serial, id);
}

int
store_order_replacing(struct store *st, const char *serial, int64_t except_id, int64_t *other)
{
	return store_int(st, other, "SELECT id FROM orders WHERE replaces_cert = ? AND id <> ?"
	    " AND state NOT IN ('cancelled', 'rejected') ORDER BY id LIMIT 1", "ti", serial,
	    except_id);
}

int
store_order_renewing(struct store *st, const char *serial, int64_t except_id, int64_t *other)
{
	return store_int(st, other, "SELECT id FROM orders WHERE renews_cert = ? AND id <> ?"
	    " AND state NOT IN ('cancelled', 'rejected') ORDER BY id LIMIT 1", "ti", serial,
	    except_id);
}

void
store_order_clear_docs_free(struct store_clear_doc *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++) {
		free(a[i].portal_ref);
		if (a[i].doc != NULL)
			secure_wipe(a[i].doc, strlen(a[i].doc));
		free(a[i].doc);
	}
	free(a);
}

int
store_order_clear_docs(struct store *st, struct store_clear_doc **out, size_t *n)
{
	static const char *const sql[2] = {
		"SELECT t.id, o.portal_ref, t.doc FROM orders t JOIN orders o ON o.id = t.id"
		" WHERE t.doc_sealed IS NULL",
		"SELECT t.id, o.portal_ref, t.doc FROM order_revisions t JOIN orders o"
		" ON o.id = t.order_id WHERE t.doc_sealed IS NULL",
	};
	static const char *const table[2] = { "orders", "order_revisions" };
	struct store_clear_doc *a = NULL, *d;
	struct db_stmt *q;
	size_t k = 0, t;
	int rc = 0;

	*out = NULL;
	*n = 0;
	for (t = 0; rc == 0 && t < 2; t++) {
		if ((rc = db_stmtf(store_dbh(st), &q, sql[t], "")) != 0)
			break;
		while ((rc = db_step(q)) == 1) {
			if ((d = store_array_add((void **)&a, &k, sizeof(*a))) == NULL) {
				rc = UKEY_ERR_NOMEM;
				break;
			}
			rc = 0;
			d->table = table[t];
			d->rowid = db_column_int64(q, 0);
			d->portal_ref = db_column_dup(q, 1, &rc);
			d->doc = db_column_dup(q, 2, &rc);
			if (rc != 0)
				break;
		}
		db_finalize(q);
	}
	if (rc != 0) {
		store_order_clear_docs_free(a, k);
		return rc;
	}
	*out = a;
	*n = k;
	return 0;
}

int
store_order_doc_seal(struct store *st, const struct store_clear_doc *d, const char *masked,
    const uint8_t *sealed, size_t sealed_len)
{
	if (strcmp(d->table, "orders") == 0)
		return store_run(st, "UPDATE orders SET doc = ?, doc_sealed = ? WHERE id = ?",
		    "tbi", masked, sealed, sealed_len, d->rowid);
	return store_run(st, "UPDATE order_revisions SET doc = ?, doc_sealed = ? WHERE id = ?",
	    "tbi", masked, sealed, sealed_len, d->rowid);
}
