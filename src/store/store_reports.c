/* The floor reports' queries (store_reports.h): jobs ended in a window of
 * days, paid orders with their units counted, the serials the station knows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/err.h"
#include "store/db.h"
#include "store/store.h"
#include "store/store_reports.h"

/* The offset of the window's zone as the date modifier both backends read
 * ("+480 minutes": SQLite's date() modifier, PostgreSQL's interval). */
static void
offset_modifier(const struct store_report_window *w, char out[32])
{
	snprintf(out, 32, "%+d minutes", w->utc_offset_min);
}

static void
job_clear(struct store_report_job *j)
{
	free(j->state);
	free(j->operator_name);
	free(j->station_id);
	free(j->day);
	free(j->cert_kind);
	free(j->step);
	free(j->error);
	free(j->blame);
	free(j->kind);
	memset(j, 0, sizeof(*j));
}

void
store_report_jobs_free(struct store_report_job *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		job_clear(&a[i]);
	free(a);
}

/* The last job.fail or job.abort record of a job says whose failure it was
 * (docs/jobs.md); its detail is JSON, read (audit_member) only when it
 * parses. The day is the local day the job ended, compared as text. */
static const char jobs_sql[] =
    "SELECT id, state, operator, station_id, day, cert_kind, step, error, detail, seconds"
    " FROM (SELECT j.id, j.state, j.operator, s.station_id, %s AS day, it.kind AS cert_kind,"
    " j.step, j.error, a.detail,"
    " CASE WHEN j.state = 'issued' THEN %s - %s ELSE 0 END AS seconds"
    " FROM jobs j JOIN units u ON u.id = j.unit_id JOIN order_items it ON it.id = u.item_id"
    " LEFT JOIN issuances s ON s.job_id = j.id"
    " LEFT JOIN (SELECT job_id, max(id) AS id FROM audit"
    "   WHERE action IN ('job.fail', 'job.abort') GROUP BY job_id) f ON f.job_id = j.id"
    " LEFT JOIN audit a ON a.id = f.id"
    " WHERE j.state IN ('issued', 'failed', 'aborted')) x"
    " WHERE (CAST(?1 AS text) IS NULL OR day >= ?1)"
    " AND (CAST(?2 AS text) IS NULL OR day <= ?2) ORDER BY id";

/* Member key of the JSON object detail as text (a string's value, any
 * other value's JSON), NULL when detail is NULL, does not parse or lacks
 * it: what SQLite's json_extract gave. */
static char *
audit_member(const char *detail, const char *key, int *rc)
{
	struct json_object *o, *v;
	const char *t;
	char *copy = NULL;

	if (detail == NULL || (o = json_tokener_parse(detail)) == NULL)
		return NULL;
	if (json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v) &&
	    v != NULL && (t = json_object_get_string(v)) != NULL && (copy = strdup(t)) == NULL)
		*rc = UKEY_ERR_NOMEM;
	json_object_put(o);
	return copy;
}

static void
job_row(struct db_stmt *q, struct store_report_job *j, int *rc)
{
	j->id = db_column_int64(q, 0);
	j->state = db_column_dup(q, 1, rc);
	j->operator_name = db_column_dup(q, 2, rc);
	j->station_id = db_column_dup(q, 3, rc);
	j->day = db_column_dup(q, 4, rc);
	j->cert_kind = db_column_dup(q, 5, rc);
	j->step = db_column_dup(q, 6, rc);
	j->error = db_column_dup(q, 7, rc);
	j->blame = audit_member(db_column_text(q, 8), "blame", rc);
	j->kind = audit_member(db_column_text(q, 8), "kind", rc);
	j->seconds = db_column_int64(q, 9);
}

int
store_report_jobs_each(struct db *db, const struct store_report_window *w,
    int (*fn)(struct store_report_job *j, void *arg), void *arg)
{
	struct store_report_job j = { 0 };
	char mod[32], day[160], fin[96], start[96], sql[sizeof(jobs_sql) + 400];
	struct db_stmt *q;
	int rc;

	offset_modifier(w, mod);
	snprintf(sql, sizeof(sql), jobs_sql,
	    db_sql_local_date(db, "coalesce(j.finished_at, j.updated_at)", "?3", day, sizeof(day)),
	    db_sql_epoch(db, "j.finished_at", fin, sizeof(fin)),
	    db_sql_epoch(db, "j.started_at", start, sizeof(start)));
	if ((rc = db_stmtf(db, &q, sql, "ttt", w->since, w->until, mod)) != 0)
		return rc;
	while ((rc = db_step(q)) == 1) {
		rc = 0;
		job_row(q, &j, &rc);
		if (rc == 0)
			rc = fn(&j, arg);
		job_clear(&j);
		if (rc != 0)
			break;
	}
	db_finalize(q);
	return rc;
}

/* The rows a collector keeps (store_report_jobs, store_report_orders). */
struct row_list {
	void *a;
	size_t n;
};

/* Takes the row's strings into the list (a copy of its size bytes); the
 * row is left empty. */
static int
row_keep(struct row_list *l, void *row, size_t size)
{
	void *to;

	if ((to = store_array_add(&l->a, &l->n, size)) == NULL)
		return UKEY_ERR_NOMEM;
	memcpy(to, row, size);
	memset(row, 0, size);
	return 0;
}

static int
job_keep(struct store_report_job *j, void *arg)
{
	return row_keep(arg, j, sizeof(*j));
}

int
store_report_jobs(struct db *db, const struct store_report_window *w,
    struct store_report_job **out, size_t *n)
{
	struct row_list l = { NULL, 0 };
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = store_report_jobs_each(db, w, job_keep, &l)) != 0) {
		store_report_jobs_free(l.a, l.n);
		return rc;
	}
	*out = l.a;
	*n = l.n;
	return 0;
}

static void
order_clear(struct store_report_order *o)
{
	free(o->portal_ref);
	free(o->org_name);
	free(o->state);
	free(o->reviewed_at);
	free(o->paid_at);
	free(o->cancelled_at);
	free(o->last_issued);
	memset(o, 0, sizeof(*o));
}

void
store_report_orders_free(struct store_report_order *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		order_clear(&a[i]);
	free(a);
}

static const char orders_sql[] =
    "SELECT o.id, o.total_fen, o.refund_due,"
    " coalesce(u.units, 0), coalesce(u.cancelled, 0), coalesce(u.pending, 0),"
    " coalesce(s.issued, 0), o.portal_ref, o.org_name, o.state, o.reviewed_at, o.paid_at,"
    " o.cancelled_at, s.last_issued"
    " FROM orders o"
    " LEFT JOIN (SELECT it.order_id, count(*) AS units,"
    "   sum(CASE WHEN un.state = 'cancelled' THEN 1 ELSE 0 END) AS cancelled,"
    "   sum(CASE WHEN un.state IN ('held', 'queued', 'in_production') THEN 1 ELSE 0 END)"
    "   AS pending"
    "   FROM units un JOIN order_items it ON it.id = un.item_id GROUP BY it.order_id) u"
    "   ON u.order_id = o.id"
    " LEFT JOIN (SELECT order_id, count(*) AS issued, max(issued_at) AS last_issued"
    "   FROM issuances GROUP BY order_id) s ON s.order_id = o.id"
    " WHERE o.paid_at IS NOT NULL"
    " AND (CAST(?1 AS text) IS NULL OR %s >= ?1)"
    " AND (CAST(?2 AS text) IS NULL OR %s <= ?2)"
    " ORDER BY o.id";

int
store_report_orders_each(struct db *db, const struct store_report_window *w,
    int (*fn)(struct store_report_order *o, void *arg), void *arg)
{
	struct store_report_order o = { 0 };
	char mod[32], day[160], sql[sizeof(orders_sql) + 400];
	struct db_stmt *q;
	int rc;

	offset_modifier(w, mod);
	db_sql_local_date(db, "o.paid_at", "?3", day, sizeof(day));
	snprintf(sql, sizeof(sql), orders_sql, day, day);
	if ((rc = db_stmtf(db, &q, sql, "ttt", w->since, w->until, mod)) != 0)
		return rc;
	while ((rc = db_step(q)) == 1) {
		rc = 0;
		o.id = db_column_int64(q, 0);
		o.total_fen = db_column_int64(q, 1);
		o.refund_due = db_column_int64(q, 2);
		o.units = db_column_int64(q, 3);
		o.cancelled = db_column_int64(q, 4);
		o.pending = db_column_int64(q, 5);
		o.issued = db_column_int64(q, 6);
		o.portal_ref = db_column_dup(q, 7, &rc);
		o.org_name = db_column_dup(q, 8, &rc);
		o.state = db_column_dup(q, 9, &rc);
		o.reviewed_at = db_column_dup(q, 10, &rc);
		o.paid_at = db_column_dup(q, 11, &rc);
		o.cancelled_at = db_column_dup(q, 12, &rc);
		o.last_issued = db_column_dup(q, 13, &rc);
		if (rc == 0)
			rc = fn(&o, arg);
		order_clear(&o);
		if (rc != 0)
			break;
	}
	db_finalize(q);
	return rc;
}

static int
order_keep(struct store_report_order *o, void *arg)
{
	return row_keep(arg, o, sizeof(*o));
}

int
store_report_orders(struct db *db, const struct store_report_window *w,
    struct store_report_order **out, size_t *n)
{
	struct row_list l = { NULL, 0 };
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = store_report_orders_each(db, w, order_keep, &l)) != 0) {
		store_report_orders_free(l.a, l.n);
		return rc;
	}
	*out = l.a;
	*n = l.n;
	return 0;
}

/* The serials in upper case (as the CA's list keeps them), in their byte
 * order on both backends (%s). */
static const char certs_sql[] =
    "SELECT * FROM ("
    "SELECT s.id, s.order_id, s.job_id, upper(s.cert_serial) AS serial, 'issued', NULL, j.state,"
    " o.portal_ref"
    " FROM issuances s LEFT JOIN jobs j ON j.id = s.job_id LEFT JOIN orders o ON o.id = s.order_id"
    " UNION ALL"
    " SELECT 0, it.order_id, r.job_id, upper(r.serial), r.status, r.note, j.state, o.portal_ref"
    " FROM received_certs r LEFT JOIN jobs j ON j.id = r.job_id"
    " LEFT JOIN units un ON un.id = r.unit_id LEFT JOIN order_items it ON it.id = un.item_id"
    " LEFT JOIN orders o ON o.id = it.order_id"
    " WHERE NOT EXISTS (SELECT 1 FROM issuances s2 WHERE s2.cert_serial = r.serial)"
    ") x ORDER BY serial%s";

int
store_report_certs_each(struct db *db,
    int (*fn)(const struct store_report_cert *c, void *arg), void *arg)
{
	struct store_report_cert c;
	char sql[sizeof(certs_sql) + 16];
	struct db_stmt *q;
	int rc;

	/* SQLite's default collation is BINARY; PostgreSQL's is the locale's */
	snprintf(sql, sizeof(sql), certs_sql, db_backend(db) == DB_PG ? " COLLATE \"C\"" : "");
	if ((rc = db_stmtf(db, &q, sql, "")) != 0)
		return rc;
	while ((rc = db_step(q)) == 1) {
		rc = 0;
		c.issuance_id = db_column_int64(q, 0);
		c.order_id = db_column_int64(q, 1);
		c.job_id = db_column_int64(q, 2);
		c.serial = db_column_dup(q, 3, &rc);
		c.status = db_column_dup(q, 4, &rc);
		c.note = db_column_dup(q, 5, &rc);
		c.job_state = db_column_dup(q, 6, &rc);
		c.portal_ref = db_column_dup(q, 7, &rc);
		if (rc == 0)
			rc = c.serial != NULL ? fn(&c, arg) : UKEY_ERR_DB;
		free(c.serial);
		free(c.status);
		free(c.note);
		free(c.job_state);
		free(c.portal_ref);
		if (rc != 0)
			break;
	}
	db_finalize(q);
	return rc;
}
