/* Orders, issuances, revocation and the floor reports on both backends of
 * the database layer: the same scenario runs on a real PostgreSQL 15 server
 * (pg_fixture.h starts one) and on an SQLite file, and must give the same
 * answers: an order imported (blob round trip, a duplicate refused),
 * revised, reviewed, paid and queued; the order list's filters and paging;
 * an issuance recorded and listed; the reports over local days (date
 * arithmetic with a zone offset, seconds between two times, the audit
 * record's JSON, counts of units by state); a revocation, the replaced
 * certificates still live, and the documents left to seal. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>

#include "common/err.h"
#include "store/store_jobs.h"
#include "store/store_reports.h"
#include "store/store_revoke.h"
#include "pg_fixture.h"
#include "store_fixture.h"

#define UA "91530100MA6K0A0A0A"
#define UB "91530100MA6K0B0B0B"

static struct pg_server server;
static const uint8_t sealed[] = { 0x00, 0x01, 0xfe, 0xff, 0x42, 0x00 };
static const uint8_t der[] = { 0x30, 0x03, 0x02, 0x01, 0x00, 0x00, 0x7f };

/* What the scenario's steps pass on. */
struct scene {
	struct store *st;
	int64_t a, b, units[3], jobs[3], b_unit;
};

static int
group_setup(void **state)
{
	return pg_server_start(&server);
}

static int
group_teardown(void **state)
{
	pg_server_stop(&server);
	return 0;
}

static void
add_item(struct store *st, int64_t order, int64_t count, const char *at)
{
	struct store_order_item_new it = { .seq = 1, .years = 1, .count = count,
	    .kind = "legal_rep", .name = "张三", .cert_profile = "legal_rep" };

	assert_int_equal(store_order_add_item(st, order, &it, at), 0);
}

/* Order A (sealed document, 3 units) and order B (a replacement whose
 * document is still in clear, 1 unit); a second KM-0001 is refused. */
static void
import_orders(struct scene *s)
{
	struct store_order_content a = { .portal_ref = "KM-0001", .type = "new",
	    .account_uscc = UA, .org_name = "某某科技有限公司", .total_fen = 60000, .doc = "{}",
	    .doc_sealed = sealed, .doc_sealed_len = sizeof(sealed),
	    .checksum_failures = "legal_rep.id" };
	struct store_order_content b = { .portal_ref = "KM-0002", .type = "replacement",
	    .account_uscc = UB, .org_name = "Other Co", .total_fen = 20000,
	    .doc = "{\"id\":\"530102199001011234\"}" };
	int64_t dup = 0;

	assert_int_equal(store_order_insert(s->st, &a, "2026-03-01T10:00:00Z", "op1", &s->a), 0);
	add_item(s->st, s->a, 2, "2026-03-01T10:00:00Z");
	assert_int_equal(store_order_insert(s->st, &a, "2026-03-01T10:00:00Z", "op1", &dup),
	    UKEY_ERR_EXISTS);
	assert_int_equal(store_order_insert(s->st, &b, "2026-03-05T09:00:00Z", "op1", &s->b), 0);
	assert_true(s->a > 0 && s->b > s->a);
	add_item(s->st, s->b, 1, "2026-03-05T09:00:00Z");
	/* an edit: revision 1 is kept with its sealed document */
	a.total_fen = 60000;
	a.org_name = "某某科技有限公司（新）";
	assert_int_equal(store_order_revise(s->st, s->a, &a, 2, "2026-03-01T10:30:00Z", "op2"), 0);
	add_item(s->st, s->a, 3, "2026-03-01T10:30:00Z");
}

static void
check_loaded(struct scene *s)
{
	struct store_order *o = NULL;
	struct store_order_revision *v = NULL;
	struct store_order_item *it = NULL;
	size_t n = 0;

	assert_int_equal(store_order_load_ref(s->st, "KM-0001", &o), 0);
	assert_int_equal(o->id, s->a);
	assert_int_equal(o->revision, 2);
	assert_string_equal(o->org_name, "某某科技有限公司（新）");
	assert_int_equal(o->doc_sealed_len, sizeof(sealed));
	assert_memory_equal(o->doc_sealed, sealed, sizeof(sealed));
	assert_null(o->paid_at);
	assert_int_equal(o->refund_due, 0);
	store_order_free(o);
	assert_int_equal(store_order_load(s->st, 999999, &o), UKEY_ERR_NOTFOUND);
	assert_int_equal(store_order_revisions(s->st, s->a, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].revision, 1);
	assert_string_equal(v[0].org_name, "某某科技有限公司");
	assert_string_equal(v[0].replaced_by, "op2");
	assert_memory_equal(v[0].doc_sealed, sealed, sizeof(sealed));
	store_order_revisions_free(v, n);
	assert_int_equal(store_order_items(s->st, s->a, &it, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(it[0].count, 3);
	assert_string_equal(it[0].name, "张三");
	store_order_items_free(it, n);
}

/* Review, payment (paid 20:30 UTC: the next day at UTC+8) and the queue. */
static void
review_and_pay(struct scene *s)
{
	struct store_order_unit *u = NULL;
	char state[32];
	int64_t other = 0;
	size_t n = 0, i;

	assert_int_equal(store_order_set_override(s->st, s->a, "checked by phone", "rev1",
	    "2026-03-01T11:00:00Z"), 0);
	assert_int_equal(store_order_set_state(s->st, s->a, "pending", "approved",
	    "2026-03-01T11:00:00Z"), 0);
	assert_int_equal(store_order_set_approval(s->st, s->a, "rev1", "2026-03-01T11:00:00Z",
	    NULL), 0);
	/* naming a state the order left is a no-op */
	assert_int_equal(store_order_set_state(s->st, s->a, "pending", "rejected",
	    "2026-03-01T11:01:00Z"), 0);
	assert_int_equal(store_order_state(s->st, s->a, state, sizeof(state)), 0);
	assert_string_equal(state, "approved");
	assert_int_equal(store_order_set_payment(s->st, s->a, "PAY-1", "2026-03-01T20:30:00Z",
	    "cashier"), 0);
	assert_int_equal(store_order_by_payment_no(s->st, "PAY-1", &other), 0);
	assert_int_equal(other, s->a);
	assert_int_equal(store_order_by_payment_no(s->st, "PAY-X", &other), UKEY_ERR_NOTFOUND);
	assert_int_equal(store_units_queue_order(s->st, s->a, "2026-03-01T20:30:00Z"), 0);
	assert_int_equal(store_order_set_state(s->st, s->a, "approved", "waiting_production",
	    "2026-03-01T20:30:00Z"), 0);
	assert_int_equal(store_order_units(s->st, s->a, &u, &n), 0);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		assert_string_equal(u[i].state, "queued");
		assert_int_equal(u[i].seq, (int64_t)i + 1);
		assert_null(u[i].cert_serial);
		s->units[i] = u[i].id;
	}
	store_order_units_free(u, n);
	assert_int_equal(store_order_units(s->st, s->b, &u, &n), 0);
	assert_int_equal(n, 1);
	s->b_unit = u[0].id;
	store_order_units_free(u, n);
}

/* The number of orders f lists and the id of the first. */
static size_t
list(struct scene *s, struct store_order_filter f, int64_t *first)
{
	struct store_order_summary *a = NULL;
	size_t n = 0;

	assert_int_equal(store_order_list(s->st, &f, &a, &n), 0);
	*first = n > 0 ? a[0].id : 0;
	if (n > 0 && a[0].id == s->a) {
		assert_int_equal(a[0].certificates, 3);
		assert_string_equal(a[0].payment_no, "PAY-1");
	}
	store_order_summaries_free(a, n);
	return n;
}

static void
check_list(struct scene *s)
{
	int64_t first = 0;

	assert_int_equal(list(s, (struct store_order_filter){ 0 }, &first), 2);
	assert_int_equal(first, s->a);
	assert_int_equal(list(s, (struct store_order_filter){ .limit = 1 }, &first), 1);
	assert_int_equal(list(s, (struct store_order_filter){ .after = s->a }, &first), 1);
	assert_int_equal(first, s->b);
	assert_int_equal(list(s, (struct store_order_filter){ .state = "pending" }, &first), 1);
	assert_int_equal(first, s->b);
	assert_int_equal(list(s, (struct store_order_filter){ .org = UA }, &first), 1);
	assert_int_equal(first, s->a);
	assert_int_equal(list(s, (struct store_order_filter){ .type = "replacement" }, &first), 1);
	assert_int_equal(list(s, (struct store_order_filter){ .since = "2026-03-02" }, &first), 1);
	assert_int_equal(first, s->b);
	assert_int_equal(list(s, (struct store_order_filter){ .until = "2026-03-01" }, &first), 1);
	assert_int_equal(first, s->a);
	assert_int_equal(list(s, (struct store_order_filter){ .since = "2026-03-06" }, &first), 0);
}

/* Delivery, cancellation with a refund, the invoice, replacement links. */
static void
order_odds(struct scene *s)
{
	struct store_delivery d = { .order_id = s->a, .method = "pickup", .picked_up_by = "李四",
	    .delivered_at = "2026-03-03T09:00:00Z", .delivered_by = "op1" };
	struct store_order *o = NULL;
	int64_t other = 0;

	assert_int_equal(store_delivery_insert(s->st, &d), 0);
	memset(&d, 0, sizeof(d));
	assert_int_equal(store_delivery_load(s->st, s->a, &d), 0);
	assert_string_equal(d.picked_up_by, "李四");
	assert_null(d.carrier);
	store_delivery_clear(&d);
	assert_int_equal(store_delivery_load(s->st, s->b, &d), UKEY_ERR_NOTFOUND);
	assert_int_equal(store_order_set_invoice(s->st, s->a, "2026-03-03T09:00:00Z", "op1"), 0);
	assert_int_equal(store_order_set_replaces(s->st, s->b, "0A1B2C"), 0);
	assert_int_equal(store_order_replacing(s->st, "0A1B2C", 0, &other), 0);
	assert_int_equal(other, s->b);
	assert_int_equal(store_order_replacing(s->st, "0A1B2C", s->b, &other), UKEY_ERR_NOTFOUND);
	assert_int_equal(store_order_renewing(s->st, "0A1B2C", 0, &other), UKEY_ERR_NOTFOUND);
	assert_int_equal(store_order_set_cancel(s->st, s->b, "customer withdrew", "op1",
	    "2026-03-05T10:00:00Z", 1), 0);
	assert_int_equal(store_order_load(s->st, s->b, &o), 0);
	assert_int_equal(o->refund_due, 1);
	assert_string_equal(o->cancel_remark, "customer withdrew");
	assert_null(o->doc_sealed);
	store_order_free(o);
}

static int64_t
job(struct scene *s, int64_t unit, const char *at)
{
	struct store_job_new jn = { .unit_id = unit, .bay = "bay-1", .profile = "softhsm",
	    .operator_name = "op1", .key_alg = "ec-p256", .token_serial = "T1" };
	int64_t id = 0;

	assert_int_equal(store_job_insert(s->st, &jn, at, &id), 0);
	assert_true(id > 0);
	return id;
}

static void
audit_row(struct scene *s, const char *action, int64_t job_id, const char *detail)
{
	assert_int_equal(store_run(s->st, "INSERT INTO audit (at, actor, action, job_id, detail,"
	    " prev_hash, hash) VALUES ('2026-03-01T12:00:00Z', 'op1', ?, ?, ?, 'p', 'h')", "tit",
	    action, job_id, detail), 0);
}

static void
record_issuance(struct scene *s, int64_t order, int64_t unit, int64_t job_id,
    const char *serial, const char *replaces, const char *at)
{
	struct store_issuance_new r = { .order_id = order, .unit_id = unit, .job_id = job_id,
	    .cert_serial = serial, .subject = "CN=张三", .issuer = "CN=YNCA",
	    .not_before = "2026-03-01T00:00:00Z", .not_after = "2027-03-01T00:00:00Z",
	    .key_alg = "ec-p256", .key_local = 1, .key_always_sensitive = 1,
	    .key_never_extractable = 1, .token_serial = "T1", .token_model = "SoftHSM",
	    .token_profile = "softhsm", .org_uscc = UA, .kind = "legal_rep", .cert = der,
	    .cert_len = sizeof(der), .operator_name = "op1", .station_id = "km-01",
	    .started_at = at, .issued_at = at, .replaces_serial = replaces,
	    .replaces_how = replaces != NULL ? "replacement" : NULL };

	assert_int_equal(store_int(s->st, &r.item_id, "SELECT item_id FROM units WHERE id = ?",
	    "i", unit), 0);
	assert_int_equal(store_received_cert_add(s->st, serial, job_id, unit, der, sizeof(der), at),
	    0);
	assert_int_equal(store_issuance_insert(s->st, &r), 0);
	assert_int_equal(store_received_cert_issued(s->st, serial, at), 0);
}

/* Unit 1 issued (125 s, ended 21:02 UTC: the next day at UTC+8); unit 2's
 * job failed with the token to blame, its certificate refused; unit 3's
 * job aborted (a detail that is not JSON) and the unit cancelled. */
static void
produce(struct scene *s)
{
	struct store_issuance *is = NULL;
	struct store_order_unit *u = NULL;
	size_t n = 0;

	s->jobs[0] = job(s, s->units[0], "2026-03-01T21:00:00Z");
	assert_int_equal(store_unit_claim(s->st, s->units[0], s->jobs[0], "2026-03-01T21:00:00Z"),
	    0);
	record_issuance(s, s->a, s->units[0], s->jobs[0], "0A1B2C", NULL, "2026-03-01T21:02:05Z");
	assert_int_equal(store_unit_set_issued(s->st, s->units[0], "2026-03-01T21:02:05Z"), 0);
	assert_int_equal(store_job_issued(s->st, s->jobs[0], "2026-03-01T21:02:05Z"), 0);
	s->jobs[1] = job(s, s->units[1], "2026-03-01T12:00:00Z");
	assert_int_equal(store_unit_claim(s->st, s->units[1], s->jobs[1], "2026-03-01T12:00:00Z"),
	    0);
	assert_int_equal(store_received_cert_add(s->st, "0B0000", s->jobs[1], s->units[1], der,
	    sizeof(der), "2026-03-01T12:00:20Z"), 0);
	assert_int_equal(store_received_cert_close(s->st, "0B0000", "refused", "token locked",
	    "2026-03-01T12:00:30Z"), 0);
	audit_row(s, "job.fail", s->jobs[1], "{\"blame\":\"token\",\"kind\":\"init_token:pin\"}");
	assert_int_equal(store_job_end(s->st, s->jobs[1], "failed", "init_token: pin",
	    "2026-03-01T12:00:30Z"), 0);
	s->jobs[2] = job(s, s->units[2], "2026-03-01T13:00:00Z");
	assert_int_equal(store_unit_claim(s->st, s->units[2], s->jobs[2], "2026-03-01T13:00:00Z"),
	    0);
	audit_row(s, "job.abort", s->jobs[2], "not json {");
	assert_int_equal(store_job_end(s->st, s->jobs[2], "aborted", "operator",
	    "2026-03-01T13:00:00Z"), 0);
	assert_int_equal(store_unit_return(s->st, s->units[2], "2026-03-01T13:00:00Z"), 0);
	assert_int_equal(store_unit_cancel(s->st, s->units[2], "2026-03-01T13:00:00Z"), 0);
	assert_int_equal(store_issuances_of_order(s->st, s->a, &is, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(is[0].cert_serial, "0A1B2C");
	assert_int_equal(is[0].job_id, s->jobs[0]);
	assert_string_equal(is[0].issued_at, "2026-03-01T21:02:05Z");
	store_issuances_free(is, n);
	assert_int_equal(store_order_units(s->st, s->a, &u, &n), 0);
	assert_string_equal(u[0].state, "issued");
	assert_string_equal(u[0].cert_serial, "0A1B2C");
	assert_string_equal(u[0].token_serial, "T1");
	assert_string_equal(u[2].state, "cancelled");
	store_order_units_free(u, n);
}

/* The jobs report over the window since..until at offset minutes east. */
static size_t
report_jobs(struct scene *s, const char *since, const char *until, int offset,
    struct store_report_job **out)
{
	struct store_report_window w = { .since = since, .until = until,
	    .utc_offset_min = offset };
	size_t n = 0;

	assert_int_equal(store_report_jobs(store_dbh(s->st), &w, out, &n), 0);
	return n;
}

static void
check_report_jobs(struct scene *s)
{
	struct store_report_job *j = NULL;

	assert_int_equal(report_jobs(s, NULL, NULL, 480, &j), 3);
	assert_int_equal(j[0].id, s->jobs[0]);
	assert_string_equal(j[0].day, "2026-03-02");
	assert_int_equal(j[0].seconds, 125);
	assert_string_equal(j[0].station_id, "km-01");
	assert_string_equal(j[0].cert_kind, "legal_rep");
	assert_null(j[0].blame);
	assert_string_equal(j[1].state, "failed");
	assert_string_equal(j[1].day, "2026-03-01");
	assert_int_equal(j[1].seconds, 0);
	assert_string_equal(j[1].blame, "token");
	assert_string_equal(j[1].kind, "init_token:pin");
	assert_null(j[1].station_id);
	assert_string_equal(j[2].state, "aborted");
	assert_null(j[2].blame);
	assert_null(j[2].kind);
	store_report_jobs_free(j, 3);
	assert_int_equal(report_jobs(s, "2026-03-02", "2026-03-02", 480, &j), 1);
	assert_int_equal(j[0].id, s->jobs[0]);
	store_report_jobs_free(j, 1);
	assert_int_equal(report_jobs(s, "2026-03-02", NULL, 0, &j), 0);
	/* at UTC-10, 12:00:30 UTC is 02:00:30 the same day */
	assert_int_equal(report_jobs(s, NULL, "2026-03-01", -600, &j), 3);
	assert_string_equal(j[1].day, "2026-03-01");
	store_report_jobs_free(j, 3);
	assert_int_equal(report_jobs(s, "2026-03-01", "2026-03-01", 480, &j), 2);
	store_report_jobs_free(j, 2);
}

static void
check_report_orders(struct scene *s)
{
	struct store_report_window w = { .utc_offset_min = 480 };
	struct store_report_order *o = NULL;
	size_t n = 0;

	assert_int_equal(store_report_orders(store_dbh(s->st), &w, &o, &n), 0);
	assert_int_equal(n, 1);	/* B was never paid */
	assert_int_equal(o[0].id, s->a);
	assert_int_equal(o[0].units, 3);
	assert_int_equal(o[0].cancelled, 1);
	assert_int_equal(o[0].pending, 1);
	assert_int_equal(o[0].issued, 1);
	assert_string_equal(o[0].last_issued, "2026-03-01T21:02:05Z");
	assert_string_equal(o[0].paid_at, "2026-03-01T20:30:00Z");
	store_report_orders_free(o, n);
	w.since = "2026-03-02";
	assert_int_equal(store_report_orders(store_dbh(s->st), &w, &o, &n), 0);
	assert_int_equal(n, 1);
	store_report_orders_free(o, n);
	w.utc_offset_min = 0;
	assert_int_equal(store_report_orders(store_dbh(s->st), &w, &o, &n), 0);
	assert_int_equal(n, 0);
}

struct cert_seen {
	int n;
	int64_t issuance_id[2], order_id[2];
	char serial[2][16], status[2][16], note[2][16], job_state[2][16], portal_ref[2][16];
};

static int
cert_seen(const struct store_report_cert *c, void *arg)
{
	struct cert_seen *v = arg;
	int i = v->n++;

	assert_true(i < 2);
	v->issuance_id[i] = c->issuance_id;
	v->order_id[i] = c->order_id;
	snprintf(v->serial[i], sizeof(v->serial[i]), "%s", c->serial);
	snprintf(v->status[i], sizeof(v->status[i]), "%s", c->status);
	snprintf(v->note[i], sizeof(v->note[i]), "%s", c->note ? c->note : "");
	snprintf(v->job_state[i], sizeof(v->job_state[i]), "%s", c->job_state ? c->job_state : "");
	snprintf(v->portal_ref[i], sizeof(v->portal_ref[i]), "%s",
	    c->portal_ref ? c->portal_ref : "");
	return 0;
}

static int
cert_stop(const struct store_report_cert *c, void *arg)
{
	(void)c;
	++*(int *)arg;
	return UKEY_ERR_STATE;
}

static void
check_report_certs(struct scene *s)
{
	struct cert_seen v = { 0 };
	int calls = 0;

	assert_int_equal(store_report_certs_each(store_dbh(s->st), cert_seen, &v), 0);
	assert_int_equal(v.n, 2);
	assert_string_equal(v.serial[0], "0A1B2C");
	assert_true(v.issuance_id[0] > 0);
	assert_string_equal(v.status[0], "issued");
	assert_string_equal(v.job_state[0], "issued");
	assert_string_equal(v.portal_ref[0], "KM-0001");
	assert_string_equal(v.serial[1], "0B0000");
	assert_int_equal(v.issuance_id[1], 0);
	assert_int_equal(v.order_id[1], s->a);
	assert_string_equal(v.status[1], "refused");
	assert_string_equal(v.note[1], "token locked");
	assert_string_equal(v.job_state[1], "failed");
	/* the callback's error ends the walk and is returned */
	assert_int_equal(store_report_certs_each(store_dbh(s->st), cert_stop, &calls),
	    UKEY_ERR_STATE);
	assert_int_equal(calls, 1);
}

static size_t
replaced(struct scene *s, const char *serial)
{
	struct store_replaced *r = NULL;
	size_t n = 0;

	assert_int_equal(store_replaced_live(s->st, serial, &r, &n), 0);
	if (n > 0) {
		assert_string_equal(r[0].new_serial, "0C0001");
		assert_string_equal(r[0].old_serial, "0A1B2C");
		assert_int_equal(r[0].order_id, s->b);
	}
	store_replaced_free(r, n);
	return n;
}

/* A replacement issued on B; the old certificate looked up by a serial
 * spelled differently, revoked once (not twice), then no longer live. */
static void
revoke(struct scene *s)
{
	struct store_issuance_rev r;
	struct store_received_cert *u = NULL;
	uint8_t *d = NULL;
	size_t len = 0, n = 0;

	record_issuance(s, s->b, s->b_unit, job(s, s->b_unit, "2026-03-05T09:00:00Z"), "0C0001",
	    "0A1B2C", "2026-03-05T09:05:00Z");
	assert_int_equal(replaced(s, NULL), 1);
	assert_int_equal(replaced(s, "0C0001"), 1);
	assert_int_equal(replaced(s, "FFFF"), 0);
	assert_int_equal(store_issuance_by_serial(s->st, "000a1b2c", &r), 0);
	assert_string_equal(r.cert_serial, "0A1B2C");
	assert_string_equal(r.station_id, "km-01");
	assert_string_equal(r.subject, "CN=张三");
	assert_null(r.revoked_at);
	store_issuance_rev_clear(&r);
	assert_int_equal(store_issuance_by_serial(s->st, "0D", &r), UKEY_ERR_NOTFOUND);
	assert_int_equal(store_issuance_cert(s->st, "0A1B2C", &d, &len), 0);
	assert_int_equal(len, sizeof(der));
	assert_memory_equal(d, der, sizeof(der));
	free(d);
	assert_int_equal(store_issuance_revoke(s->st, "0A1B2C", "2026-03-05T09:10:00Z",
	    "superseded", "so1", "replaced by 0C0001"), 0);
	assert_int_equal(store_issuance_revoke(s->st, "0A1B2C", "2026-03-05T09:11:00Z",
	    "superseded", "so1", "again"), UKEY_ERR_STATE);
	assert_int_equal(replaced(s, NULL), 0);
	assert_int_equal(store_issuance_by_serial(s->st, "0A1B2C", &r), 0);
	assert_string_equal(r.revoke_reason, "superseded");
	assert_string_equal(r.revoked_at, "2026-03-05T09:10:00Z");
	store_issuance_rev_clear(&r);
	assert_int_equal(store_received_certs_unwanted(s->st, &u, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(u[0].serial, "0B0000");
	assert_string_equal(u[0].reason, "cessationOfOperation");
	assert_string_equal(u[1].serial, "0A1B2C");
	assert_string_equal(u[1].note, "replaced by 0C0001");
	assert_string_equal(u[1].reason, "superseded");
	store_received_certs_free(u, n);
}

/* B's document is the one left in clear; sealed, none is. */
static void
seal_docs(struct scene *s)
{
	struct store_clear_doc *c = NULL;
	struct store_order *o = NULL;
	size_t n = 0;

	assert_int_equal(store_order_clear_docs(s->st, &c, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(c[0].table, "orders");
	assert_int_equal(c[0].rowid, s->b);
	assert_string_equal(c[0].portal_ref, "KM-0002");
	assert_int_equal(store_order_doc_seal(s->st, &c[0], "{\"id\":\"5301**********1234\"}",
	    sealed, sizeof(sealed)), 0);
	store_order_clear_docs_free(c, n);
	assert_int_equal(store_order_clear_docs(s->st, &c, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_order_load(s->st, s->b, &o), 0);
	assert_memory_equal(o->doc_sealed, sealed, sizeof(sealed));
	assert_string_equal(o->doc, "{\"id\":\"5301**********1234\"}");
	store_order_free(o);
}

static void
scenario(struct store *st)
{
	struct scene s = { .st = st };

	import_orders(&s);
	check_loaded(&s);
	review_and_pay(&s);
	check_list(&s);
	order_odds(&s);
	produce(&s);
	check_report_jobs(&s);
	check_report_orders(&s);
	check_report_certs(&s);
	revoke(&s);
	seal_docs(&s);
}

static void
test_orders_pg(void **state)
{
	struct store *st = NULL;
	char url[256];

	assert_int_equal(pg_fresh_db(&server, "orders", url, sizeof(url)), 0);
	assert_int_equal(store_open_url(url, &st), 0);
	assert_null(store_db(st));	/* no SQLite handle: everything went through db.h */
	scenario(st);
	store_close(st);
}

static void
test_orders_sqlite(void **state)
{
	char dir[64];
	struct store *st = store_fixture_open(dir, sizeof(dir), "pgorders");

	scenario(st);
	store_fixture_close(st, dir);
}

/* A failed statement inside a transaction: the duplicate refused, the
 * rollback leaves nothing of it, and the next transaction works. */
static void
test_duplicate_in_transaction_pg(void **state)
{
	struct store_order_content c = { .portal_ref = "KM-DUP", .type = "new",
	    .account_uscc = UA, .org_name = "x", .total_fen = 1, .doc = "{}" };
	struct store *st = NULL;
	int64_t id = 0, n = 0;
	char url[256];

	assert_int_equal(pg_fresh_db(&server, "duptxn", url, sizeof(url)), 0);
	assert_int_equal(store_open_url(url, &st), 0);
	assert_int_equal(store_order_insert(st, &c, "2026-03-01T10:00:00Z", "op1", &id), 0);
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_order_insert(st, &c, "2026-03-01T10:00:00Z", "op1", &id),
	    UKEY_ERR_EXISTS);
	assert_int_equal(id, 0);
	store_rollback(st);
	c.portal_ref = "KM-DUP2";
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_order_insert(st, &c, "2026-03-01T10:00:00Z", "op1", &id), 0);
	assert_int_equal(store_commit(st), 0);
	assert_int_equal(store_int(st, &n, "SELECT count(*) AS n FROM orders", ""), 0);
	assert_int_equal(n, 2);
	store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_orders_pg),
		cmocka_unit_test(test_orders_sqlite),
		cmocka_unit_test(test_duplicate_in_transaction_pg),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
