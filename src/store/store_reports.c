/* The floor reports' queries (store_reports.h): jobs ended in a window of
 * days, paid orders with their units counted, the serials the station knows. */
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "store/store_reports.h"

/* The SQLite date modifier that turns a UTC time into local time. */
static void
offset_modifier(const struct store_report_window *w, char out[32])
{
	snprintf(out, 32, "%+d minutes", w->utc_offset_min);
}

void
store_report_jobs_free(struct store_report_job *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++) {
		free(a[i].state);
		free(a[i].operator_name);
		free(a[i].station_id);
		free(a[i].day);
		free(a[i].cert_kind);
		free(a[i].step);
		free(a[i].error);
		free(a[i].blame);
		free(a[i].kind);
	}
	free(a);
}

/* The last job.fail or job.abort record of a job says whose failure it was
 * (docs/jobs.md); its detail is JSON, read only when it parses. */
static const char jobs_sql[] =
    "SELECT j.id, j.state, j.operator, s.station_id,"
    " date(coalesce(j.finished_at, j.updated_at), ?3) AS day, it.kind, j.step, j.error,"
    " CASE WHEN json_valid(a.detail) THEN json_extract(a.detail, '$.blame') END,"
    " CASE WHEN json_valid(a.detail) THEN json_extract(a.detail, '$.kind') END,"
    " CASE WHEN j.state = 'issued' THEN"
    "   strftime('%s', j.finished_at) - strftime('%s', j.started_at) ELSE 0 END"
    " FROM jobs j JOIN units u ON u.id = j.unit_id JOIN order_items it ON it.id = u.item_id"
    " LEFT JOIN issuances s ON s.job_id = j.id"
    " LEFT JOIN (SELECT job_id, max(id) AS id FROM audit"
    "   WHERE action IN ('job.fail', 'job.abort') GROUP BY job_id) f ON f.job_id = j.id"
    " LEFT JOIN audit a ON a.id = f.id"
    " WHERE j.state IN ('issued', 'failed', 'aborted')"
    " AND (?1 IS NULL OR day >= ?1) AND (?2 IS NULL OR day <= ?2) ORDER BY j.id";

int
store_report_jobs(struct store *st, const struct store_report_window *w,
    struct store_report_job **out, size_t *n)
{
	struct store_report_job *a = NULL, *j;
	sqlite3_stmt *q;
	char mod[32];
	size_t k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	offset_modifier(w, mod);
	if ((rc = store_stmt(st, &q, jobs_sql, "ttt", w->since, w->until, mod)) != 0)
		return rc;
	while ((rc = store_step(st, q)) == 1) {
		if ((j = store_array_add((void **)&a, &k, sizeof(*a))) == NULL) {
			rc = UKEY_ERR_NOMEM;
			break;
		}
		rc = 0;
		j->id = sqlite3_column_int64(q, 0);
		j->state = store_text(q, 1, &rc);
		j->operator_name = store_text(q, 2, &rc);
		j->station_id = store_text(q, 3, &rc);
		j->day = store_text(q, 4, &rc);
		j->cert_kind = store_text(q, 5, &rc);
		j->step = store_text(q, 6, &rc);
		j->error = store_text(q, 7, &rc);
		j->blame = store_text(q, 8, &rc);
		j->kind = store_text(q, 9, &rc);
		j->seconds = sqlite3_column_int64(q, 10);
		if (rc != 0)
			break;
	}
	sqlite3_finalize(q);
	if (rc != 0) {
		store_report_jobs_free(a, k);
		return rc;
	}
	*out = a;
	*n = k;
	return 0;
}

void
store_report_orders_free(struct store_report_order *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++) {
		free(a[i].portal_ref);
		free(a[i].org_name);
		free(a[i].state);
		free(a[i].reviewed_at);
		free(a[i].paid_at);
		free(a[i].cancelled_at);
		free(a[i].last_issued);
	}
	free(a);
}

static const char orders_sql[] =
    "SELECT o.id, o.total_fen, o.refund_due,"
    " coalesce(u.units, 0), coalesce(u.cancelled, 0), coalesce(u.pending, 0),"
    " coalesce(s.issued, 0), o.portal_ref, o.org_name, o.state, o.reviewed_at, o.paid_at,"
    " o.cancelled_at, s.last_issued"
    " FROM orders o"
    " LEFT JOIN (SELECT it.order_id, count(*) AS units,"
    "   sum(un.state = 'cancelled') AS cancelled,"
    "   sum(un.state IN ('held', 'queued', 'in_production')) AS pending"
    "   FROM units un JOIN order_items it ON it.id = un.item_id GROUP BY it.order_id) u"
    "   ON u.order_id = o.id"
    " LEFT JOIN (SELECT order_id, count(*) AS issued, max(issued_at) AS last_issued"
    "   FROM issuances GROUP BY order_id) s ON s.order_id = o.id"
    " WHERE o.paid_at IS NOT NULL"
    " AND (?1 IS NULL OR date(o.paid_at, ?3) >= ?1) AND (?2 IS NULL OR date(o.paid_at, ?3) <= ?2)"
    " ORDER BY o.id";

int
store_report_orders(struct store *st, const struct store_report_window *w,
    struct store_report_order **out, size_t *n)
{
	struct store_report_order *a = NULL, *o;
	sqlite3_stmt *q;
	char mod[32];
	size_t k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	offset_modifier(w, mod);
	if ((rc = store_stmt(st, &q, orders_sql, "ttt", w->since, w->until, mod)) != 0)
		return rc;
	while ((rc = store_step(st, q)) == 1) {
		if ((o = store_array_add((void **)&a, &k, sizeof(*a))) == NULL) {
			rc = UKEY_ERR_NOMEM;
			break;
		}
		rc = 0;
		o->id = sqlite3_column_int64(q, 0);
		o->total_fen = sqlite3_column_int64(q, 1);
		o->refund_due = sqlite3_column_int64(q, 2);
		o->units = sqlite3_column_int64(q, 3);
		o->cancelled = sqlite3_column_int64(q, 4);
		o->pending = sqlite3_column_int64(q, 5);
		o->issued = sqlite3_column_int64(q, 6);
		o->portal_ref = store_text(q, 7, &rc);
		o->org_name = store_text(q, 8, &rc);
		o->state = store_text(q, 9, &rc);
		o->reviewed_at = store_text(q, 10, &rc);
		o->paid_at = store_text(q, 11, &rc);
		o->cancelled_at = store_text(q, 12, &rc);
		o->last_issued = store_text(q, 13, &rc);
		if (rc != 0)
			break;
	}
	sqlite3_finalize(q);
	if (rc != 0) {
		store_report_orders_free(a, k);
		return rc;
	}
	*out = a;
	*n = k;
	return 0;
}

void
store_report_certs_free(struct store_report_cert *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++) {
		free(a[i].serial);
		free(a[i].status);
		free(a[i].note);
		free(a[i].job_state);
		free(a[i].portal_ref);
	}
	free(a);
}

static const char certs_sql[] =
    "SELECT s.id, s.order_id, s.job_id, s.cert_serial, 'issued', NULL, j.state, o.portal_ref"
    " FROM issuances s LEFT JOIN jobs j ON j.id = s.job_id LEFT JOIN orders o ON o.id = s.order_id"
    " UNION ALL"
    " SELECT 0, it.order_id, r.job_id, r.serial, r.status, r.note, j.state, o.portal_ref"
    " FROM received_certs r LEFT JOIN jobs j ON j.id = r.job_id"
    " LEFT JOIN units un ON un.id = r.unit_id LEFT JOIN order_items it ON it.id = un.item_id"
    " LEFT JOIN orders o ON o.id = it.order_id"
    " WHERE NOT EXISTS (SELECT 1 FROM issuances s2 WHERE s2.cert_serial = r.serial)"
    " ORDER BY 4";

int
store_report_certs(struct store *st, struct store_report_cert **out, size_t *n)
{
	struct store_report_cert *a = NULL, *c;
	sqlite3_stmt *q;
	size_t k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = store_stmt(st, &q, certs_sql, "")) != 0)
		return rc;
	while ((rc = store_step(st, q)) == 1) {
		if ((c = store_array_add((void **)&a, &k, sizeof(*a))) == NULL) {
			rc = UKEY_ERR_NOMEM;
			break;
		}
		rc = 0;
		c->issuance_id = sqlite3_column_int64(q, 0);
		c->order_id = sqlite3_column_int64(q, 1);
		c->job_id = sqlite3_column_int64(q, 2);
		c->serial = store_text(q, 3, &rc);
		c->status = store_text(q, 4, &rc);
		c->note = store_text(q, 5, &rc);
		c->job_state = store_text(q, 6, &rc);
		c->portal_ref = store_text(q, 7, &rc);
		if (rc != 0)
			break;
	}
	sqlite3_finalize(q);
	if (rc != 0) {
		store_report_certs_free(a, k);
		return rc;
	}
	*out = a;
	*n = k;
	return 0;
}
