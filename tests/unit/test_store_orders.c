/* The typed store of orders and units against a real SQLite database:
 * insert, load and list orders, their transitions and parts, transactions
 * spanning several calls, and the unit queue's claim order (the tail after
 * a requeue, held units never given, renewal routing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "store/store.h"
#include "store_fixture.h"
#include "store/store_orders.h"
#include "store/store_units.h"

#define USCC "91530100MA6K5U5X7R"
#define OTHER_USCC "91110000600037341L"

static int
setup(void **state)
{
	return store_fixture_setup(state, "storeord");
}

static int
teardown(void **state)
{
	return store_fixture_teardown(state);
}

static const uint8_t sealed_doc[] = { 0x00, 0x01, 0xfe, 0xff, 0x42 };

/* A new order of type with count certificates of one organisation item,
 * created at `at`; returns its id. */
static int64_t
new_order(struct store *st, const char *ref, const char *type, const char *uscc, int64_t count,
    const char *fails, const char *at)
{
	struct store_order_content c = {
		.portal_ref = ref, .type = type, .account_uscc = uscc, .org_name = "某某科技有限公司",
		.total_fen = 20000 * count, .doc = "{\"masked\":true}", .doc_sealed = sealed_doc,
		.doc_sealed_len = sizeof(sealed_doc), .checksum_failures = fails,
	};
	struct store_order_item_new it = {
		.seq = 1, .years = 1, .count = count, .kind = "organisation", .name = "某某科技",
		.cert_profile = "organisation",
	};
	int64_t id = 0;

	assert_int_equal(store_order_insert(st, &c, at, "operator1", &id), 0);
	assert_true(id > 0);
	assert_int_equal(store_order_add_item(st, id, &it, at), 0);
	return id;
}

/* Order id approved and paid at `at`: its units join the queue. */
static void
pay(struct store *st, int64_t id, const char *payment_no, const char *at)
{
	assert_int_equal(store_order_set_state(st, id, "pending", "approved", at), 0);
	assert_int_equal(store_order_set_approval(st, id, "reviewer1", at, NULL), 0);
	assert_int_equal(store_order_set_payment(st, id, payment_no, at, "cashier"), 0);
	assert_int_equal(store_units_queue_order(st, id, at), 0);
	assert_int_equal(store_order_set_state(st, id, "approved", "waiting_production", at), 0);
}

/* The ids of the first unit of each order, in the order given. */
static int64_t
first_unit(struct store *st, int64_t order_id)
{
	struct store_order_unit *u = NULL;
	size_t n = 0;
	int64_t id;

	assert_int_equal(store_order_units(st, order_id, &u, &n), 0);
	assert_true(n > 0);
	id = u[0].id;
	store_order_units_free(u, n);
	return id;
}

static void
claims_are(struct store *st, const char *profile, const char *serial, const int64_t *want,
    size_t n)
{
	struct store_unit_claim *c = NULL;
	size_t have = 0, i;

	assert_int_equal(store_units_for_token(st, profile, serial, 50, &c, &have), 0);
	assert_int_equal(have, n);
	for (i = 0; i < n; i++)
		assert_int_equal(c[i].unit_id, want[i]);
	store_unit_claims_free(c, have);
}

static void
test_insert_load(void **state)
{
	struct store_fixture *f = *state;
	struct store_order *o = NULL;
	struct store_order_item *items = NULL;
	struct store_order_unit *units = NULL;
	size_t n = 0;
	int64_t id, other = 0, held = 0;

	id = new_order(f->st, "P-1", "new", USCC, 2, "[\"legal_rep.id_number: check digit\"]",
	    "2026-03-01T09:00:00Z");
	assert_int_equal(store_order_load(f->st, id, &o), 0);
	assert_int_equal(o->id, id);
	assert_string_equal(o->portal_ref, "P-1");
	assert_string_equal(o->type, "new");
	assert_string_equal(o->state, "pending");
	assert_string_equal(o->org_name, "某某科技有限公司");
	assert_int_equal(o->total_fen, 40000);
	assert_int_equal(o->revision, 1);
	assert_int_equal(o->refund_due, 0);
	assert_null(o->payment_no);
	assert_null(o->override_reason);
	assert_string_equal(o->checksum_failures, "[\"legal_rep.id_number: check digit\"]");
	assert_int_equal(o->doc_sealed_len, sizeof(sealed_doc));
	assert_memory_equal(o->doc_sealed, sealed_doc, sizeof(sealed_doc));
	assert_string_equal(o->created_by, "operator1");
	store_order_free(o);

	assert_int_equal(store_order_load_ref(f->st, "P-1", &o), 0);
	assert_int_equal(o->id, id);
	store_order_free(o);
	o = NULL;
	assert_int_equal(store_order_load(f->st, id + 100, &o), UKEY_ERR_NOTFOUND);
	assert_null(o);
	assert_int_equal(store_order_load_ref(f->st, "P-404", &o), UKEY_ERR_NOTFOUND);
	store_order_free(NULL);

	/* the portal reference is unique */
	assert_int_equal(store_order_insert(f->st, &(struct store_order_content){
	    .portal_ref = "P-1", .type = "new", .account_uscc = USCC, .doc = "{}" },
	    "t", "op", &other), UKEY_ERR_EXISTS);

	assert_int_equal(store_order_items(f->st, id, &items, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(items[0].seq, 1);
	assert_string_equal(items[0].kind, "organisation");
	assert_string_equal(items[0].cert_profile, "organisation");
	assert_int_equal(items[0].count, 2);
	store_order_items_free(items, n);

	/* one unit per certificate, held until payment, no job yet */
	assert_int_equal(store_order_units(f->st, id, &units, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(units[0].state, "held");
	assert_int_equal(units[1].seq, 2);
	assert_int_equal(units[1].job_id, 0);
	assert_null(units[1].cert_serial);
	store_order_units_free(units, n);
	assert_int_equal(store_units_count(f->st, id, STORE_UNIT_HELD, &held), 0);
	assert_int_equal(held, 2);
}

static void
test_list_filters(void **state)
{
	struct store_fixture *f = *state;
	struct store_order_summary *s = NULL;
	struct store_order_filter flt = { 0 };
	size_t n = 0;
	int64_t a, b, c;

	a = new_order(f->st, "L-A", "new", USCC, 1, NULL, "2026-03-01T09:00:00Z");
	b = new_order(f->st, "L-B", "renewal", USCC, 1, NULL, "2026-03-02T09:00:00Z");
	c = new_order(f->st, "L-C", "new", OTHER_USCC, 3, NULL, "2026-03-03T23:59:59Z");
	pay(f->st, c, "202603030000000000000000000001", "2026-03-04T00:00:00Z");

	assert_int_equal(store_order_list(f->st, &flt, &s, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(s[0].id, a);
	assert_int_equal(s[1].id, b);
	assert_int_equal(s[2].id, c);
	assert_int_equal(s[2].certificates, 3);
	assert_int_equal(s[2].issued, 0);
	assert_string_equal(s[2].state, "waiting_production");
	assert_string_equal(s[2].payment_no, "202603030000000000000000000001");
	store_order_summaries_free(s, n);

	flt.type = "new";
	assert_int_equal(store_order_list(f->st, &flt, &s, &n), 0);
	assert_int_equal(n, 2);
	store_order_summaries_free(s, n);
	flt.org = USCC;
	assert_int_equal(store_order_list(f->st, &flt, &s, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(s[0].id, a);
	store_order_summaries_free(s, n);

	/* dates are inclusive, by the day of creation */
	memset(&flt, 0, sizeof(flt));
	flt.since = "2026-03-02";
	flt.until = "2026-03-03";
	assert_int_equal(store_order_list(f->st, &flt, &s, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(s[0].id, b);
	assert_int_equal(s[1].id, c);
	store_order_summaries_free(s, n);

	memset(&flt, 0, sizeof(flt));
	flt.state = "delivered";
	assert_int_equal(store_order_list(f->st, &flt, &s, &n), 0);
	assert_int_equal(n, 0);
	assert_null(s);

	/* in pages: limit orders after an id, the filters still applied */
	memset(&flt, 0, sizeof(flt));
	flt.limit = 2;
	assert_int_equal(store_order_list(f->st, &flt, &s, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(s[1].id, b);
	store_order_summaries_free(s, n);
	flt.after = b;
	assert_int_equal(store_order_list(f->st, &flt, &s, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(s[0].id, c);
	store_order_summaries_free(s, n);
	flt.after = a;
	flt.limit = 0;
	flt.type = "new";
	assert_int_equal(store_order_list(f->st, &flt, &s, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(s[0].id, c);
	store_order_summaries_free(s, n);
}

static void
test_transitions(void **state)
{
	struct store_fixture *f = *state;
	struct store_order *o = NULL;
	struct store_delivery dl = { 0 };
	int64_t id, other = 0, n = 0;
	char st[32];

	id = new_order(f->st, "T-1", "new", USCC, 2, "[\"x\"]", "2026-03-01T09:00:00Z");
	assert_int_equal(store_order_state(f->st, id, st, sizeof(st)), 0);
	assert_string_equal(st, "pending");
	assert_int_equal(store_order_state(f->st, id + 9, st, sizeof(st)), UKEY_ERR_NOTFOUND);

	/* a move names the state it leaves: from a stale state it changes nothing */
	assert_int_equal(store_order_set_state(f->st, id, "approved", "waiting_production",
	    "2026-03-01T09:30:00Z"), 0);
	assert_int_equal(store_order_state(f->st, id, st, sizeof(st)), 0);
	assert_string_equal(st, "pending");

	assert_int_equal(store_order_set_override(f->st, id, "documents checked", "reviewer1",
	    "2026-03-01T10:00:00Z"), 0);
	pay(f->st, id, "202603010000000000000000000042", "2026-03-01T11:00:00Z");
	assert_int_equal(store_order_by_payment_no(f->st, "202603010000000000000000000042",
	    &other), 0);
	assert_int_equal(other, id);
	assert_int_equal(store_order_by_payment_no(f->st, "999999999999", &other),
	    UKEY_ERR_NOTFOUND);
	assert_int_equal(store_units_count(f->st, id, STORE_UNIT_QUEUED, &n), 0);
	assert_int_equal(n, 2);

	assert_int_equal(store_order_set_invoice(f->st, id, "2026-03-01T12:00:00Z", "clerk"), 0);
	assert_int_equal(store_units_cancel_order(f->st, id, "2026-03-01T13:00:00Z"), 0);
	assert_int_equal(store_order_set_cancel(f->st, id, "customer withdrew", "reviewer1",
	    "2026-03-01T13:00:00Z", 1), 0);
	assert_int_equal(store_order_set_state(f->st, id, "waiting_production", "cancelled",
	    "2026-03-01T13:00:00Z"), 0);
	assert_int_equal(store_units_count(f->st, id, STORE_UNIT_CANCELLED, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_units_count(f->st, id, STORE_UNIT_WAITING, &n), 0);
	assert_int_equal(n, 0);

	assert_int_equal(store_order_load(f->st, id, &o), 0);
	assert_string_equal(o->state, "cancelled");
	assert_string_equal(o->override_reason, "documents checked");
	assert_string_equal(o->override_by, "reviewer1");
	assert_string_equal(o->reviewer, "reviewer1");
	assert_string_equal(o->paid_at, "2026-03-01T11:00:00Z");
	assert_string_equal(o->paid_by, "cashier");
	assert_string_equal(o->invoice_requested_by, "clerk");
	assert_string_equal(o->cancel_remark, "customer withdrew");
	assert_int_equal(o->refund_due, 1);
	assert_string_equal(o->updated_at, "2026-03-01T13:00:00Z");
	store_order_free(o);

	/* delivery: none yet, then the one recorded */
	assert_int_equal(store_delivery_load(f->st, id, &dl), UKEY_ERR_NOTFOUND);
	assert_int_equal(store_delivery_insert(f->st, &(struct store_delivery){ .order_id = id,
	    .method = "mail", .carrier = "SF", .tracking_no = "SF-1234", .delivered_at = "t",
	    .delivered_by = "clerk" }), 0);
	assert_int_equal(store_delivery_load(f->st, id, &dl), 0);
	assert_string_equal(dl.method, "mail");
	assert_null(dl.picked_up_by);
	assert_string_equal(dl.tracking_no, "SF-1234");
	store_delivery_clear(&dl);
	/* the table's rule: a mailing has a carrier */
	assert_int_equal(store_delivery_insert(f->st, &(struct store_delivery){ .order_id = id,
	    .method = "mail", .delivered_at = "t", .delivered_by = "clerk" }), UKEY_ERR_EXISTS);
}

/* An edit keeps the old content as a revision and replaces items and units. */
static void
test_revise(void **state)
{
	struct store_fixture *f = *state;
	struct store_order *o = NULL;
	struct store_order_revision *v = NULL;
	struct store_order_unit *u = NULL;
	static const uint8_t sealed2[] = { 0x07, 0x08 };
	struct store_order_content c = {
		.portal_ref = "E-1", .type = "new", .account_uscc = USCC, .org_name = "新名称",
		.total_fen = 60000, .doc = "{\"v\":2}", .doc_sealed = sealed2,
		.doc_sealed_len = sizeof(sealed2),
	};
	struct store_order_item_new it = {
		.seq = 1, .years = 2, .count = 3, .kind = "organisation", .name = "新名称",
		.cert_profile = "organisation",
	};
	size_t n = 0;
	int64_t id;

	id = new_order(f->st, "E-1", "new", USCC, 1, "[\"x\"]", "2026-03-01T09:00:00Z");
	assert_int_equal(store_order_set_override(f->st, id, "ok", "r", "t"), 0);
	assert_int_equal(store_order_set_rejection(f->st, id, "资料不全", "reviewer1", "t"), 0);
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_order_revise(f->st, id, &c, 2, "2026-03-02T00:00:00Z", "editor"), 0);
	assert_int_equal(store_order_add_item(f->st, id, &it, "2026-03-02T00:00:00Z"), 0);
	assert_int_equal(store_commit(f->st), 0);

	assert_int_equal(store_order_load(f->st, id, &o), 0);
	assert_int_equal(o->revision, 2);
	assert_int_equal(o->total_fen, 60000);
	assert_string_equal(o->doc, "{\"v\":2}");
	assert_int_equal(o->doc_sealed_len, sizeof(sealed2));
	assert_null(o->checksum_failures);
	assert_null(o->override_reason);
	store_order_free(o);

	assert_int_equal(store_order_revisions(f->st, id, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].revision, 1);
	assert_int_equal(v[0].total_fen, 20000);
	assert_string_equal(v[0].review_remark, "资料不全");
	assert_string_equal(v[0].checksum_failures, "[\"x\"]");
	assert_int_equal(v[0].doc_sealed_len, sizeof(sealed_doc));
	assert_string_equal(v[0].replaced_by, "editor");
	store_order_revisions_free(v, n);

	assert_int_equal(store_order_units(f->st, id, &u, &n), 0);
	assert_int_equal(n, 3);
	store_order_units_free(u, n);
}

/* Several calls in one transaction: all of them or none. */
static void
test_transaction(void **state)
{
	struct store_fixture *f = *state;
	struct store_order *o = NULL;
	struct store_order_summary *s = NULL;
	struct store_order_filter flt = { 0 };
	size_t n = 0;
	int64_t id;

	assert_int_equal(store_begin(f->st), 0);
	id = new_order(f->st, "X-1", "new", USCC, 1, NULL, "t");
	assert_int_equal(store_order_set_state(f->st, id, "pending", "approved", "t"), 0);
	store_rollback(f->st);
	assert_int_equal(store_order_load(f->st, id, &o), UKEY_ERR_NOTFOUND);
	assert_int_equal(store_order_list(f->st, &flt, &s, &n), 0);
	assert_int_equal(n, 0);

	assert_int_equal(store_begin(f->st), 0);
	id = new_order(f->st, "X-2", "new", USCC, 1, NULL, "t");
	assert_int_equal(store_order_set_state(f->st, id, "pending", "approved", "t"), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_order_load(f->st, id, &o), 0);
	assert_string_equal(o->state, "approved");
	store_order_free(o);
}

/* unit taken into production at `at` by a job of its own on bay. */
static void
claim(struct store *st, int64_t unit, const char *bay, const char *at)
{
	assert_int_equal(store_run(st, "INSERT INTO jobs (unit_id, bay, profile, step, state,"
	    " operator, started_at, updated_at) VALUES (?, ?, 'softhsm2', 'claimed', 'running',"
	    " 'op', 't', 't')", "it", unit, bay), 0);
	assert_int_equal(store_unit_claim(st, unit, store_last_id(st), at), 0);
}

/* The queue view is want (n units), in pages of every size from 1 to
 * n + 1 followed by their keys, and after every row's key its rows after
 * it. */
static void
queue_pages_are(struct store *st, const int64_t *want, size_t n)
{
	struct store_queue_entry *q = NULL, *all = NULL;
	int64_t lim, after, next;
	size_t k, j, at, pages, i, got = 0;

	assert_int_equal(store_units_queue(st, &all, &got), 0);
	assert_int_equal(got, n);
	for (i = 0; i < n; i++)
		assert_int_equal(all[i].unit, want[i]);
	for (lim = 1; lim <= (int64_t)n + 1; lim++) {
		for (after = 0, at = 0, pages = 0;; after = next) {
			assert_int_equal(store_units_queue_page(st, after, lim, &q, &k, &next), 0);
			assert_true((int64_t)k <= lim);
			for (j = 0; j < k; j++)
				assert_int_equal(q[j].unit, want[at + j]);
			at += k;
			pages++;
			store_queue_entries_free(q, k);
			if (next == 0)
				break;
		}
		assert_int_equal(at, n);
		assert_int_equal(pages, n == 0 ? 1 : (n + (size_t)lim - 1) / (size_t)lim);
	}
	for (i = 0; i < n; i++) {
		size_t p = strcmp(all[i].state, "in_production") == 0 ? 0 :
		    strcmp(all[i].state, "queued") == 0 ? 1 : 2;

		assert_int_equal(store_units_queue_page(st, STORE_QUEUE_KEY(all[i].unit, p),
		    (int64_t)n + 1, &q, &k, &next), 0);
		assert_int_equal(k, n - i - 1);
		assert_int_equal(next, 0);
		for (j = 0; j < k; j++)
			assert_int_equal(q[j].unit, want[i + 1 + j]);
		store_queue_entries_free(q, k);
	}
	store_queue_entries_free(all, n);
}

/* Pages by key where the queue's order ties: two orders paid in the same
 * second (their units ordered by order, item and unit), an order of two
 * items, units put back in the same second as an order's payment (after
 * it: a requeue sorts after the units never put back) and after each
 * other, one in production and two held; and a page that goes on after a
 * unit that has moved on since its key was given. */
static void
test_queue_pages(void **state)
{
	struct store_fixture *f = *state;
	struct store_order_item_new it2 = {
		.seq = 2, .years = 1, .count = 2, .kind = "organisation", .name = "某某科技",
		.cert_profile = "organisation",
	};
	struct store_order_unit *u[5];
	struct store_queue_entry *q = NULL;
	size_t nu[5], k = 0, i;
	int64_t o[5], next = 0, key;

	o[0] = new_order(f->st, "T-1", "new", USCC, 3, NULL, "t");
	o[1] = new_order(f->st, "T-2", "new", USCC, 2, NULL, "t");
	o[2] = new_order(f->st, "T-3", "new", USCC, 2, NULL, "t");
	assert_int_equal(store_order_add_item(f->st, o[2], &it2, "t"), 0);
	o[3] = new_order(f->st, "T-4", "new", USCC, 1, NULL, "t");
	o[4] = new_order(f->st, "T-5", "new", USCC, 1, NULL, "t");
	pay(f->st, o[0], "200000000001", "2026-03-01T10:00:00Z");
	pay(f->st, o[1], "200000000002", "2026-03-01T10:00:00Z");
	pay(f->st, o[2], "200000000003", "2026-03-01T10:00:05Z");
	pay(f->st, o[3], "200000000004", "2026-03-01T10:00:07Z");
	pay(f->st, o[4], "200000000005", "2026-03-01T10:00:09Z");
	for (i = 0; i < 5; i++)
		assert_int_equal(store_order_units(f->st, o[i], &u[i], &nu[i]), 0);
	assert_int_equal(nu[2], 4);
	/* T-1's second unit and T-3's third put back in T-4's second */
	assert_int_equal(store_unit_requeue(f->st, u[0][1].id, 1, "token", "pulled",
	    "2026-03-01T10:00:07Z"), 0);
	assert_int_equal(store_unit_requeue(f->st, u[2][2].id, 1, "token", "pulled",
	    "2026-03-01T10:00:07Z"), 0);
	/* T-2's first in production, T-1's third and T-5's held */
	claim(f->st, u[1][0].id, "sim-1", "2026-03-01T10:01:00Z");
	assert_int_equal(store_unit_hold(f->st, u[0][2].id, "subject", "t"), 0);
	assert_int_equal(store_unit_hold(f->st, u[4][0].id, "label", "t"), 0);

	queue_pages_are(f->st, (const int64_t[]){
	    u[1][0].id,					/* in production */
	    u[0][0].id, u[1][1].id,			/* 10:00:00, T-1 then T-2 */
	    u[2][0].id, u[2][1].id, u[2][3].id,	/* 10:00:05, items 1 and 2 */
	    u[3][0].id,					/* 10:00:07, never put back */
	    u[0][1].id, u[2][2].id,			/* 10:00:07, put back in turn */
	    u[0][2].id, u[4][0].id,			/* held, in queue order */
	    }, 11);

	/* a key given before its unit was claimed goes on after its place */
	key = STORE_QUEUE_KEY(u[1][1].id, 1);
	claim(f->st, u[1][1].id, "sim-2", "2026-03-01T10:01:05Z");
	assert_int_equal(store_units_queue_page(f->st, key, 2, &q, &k, &next), 0);
	assert_int_equal(k, 2);
	assert_int_equal(q[0].unit, u[2][0].id);
	assert_int_equal(q[1].unit, u[2][1].id);
	assert_int_equal(next, STORE_QUEUE_KEY(u[2][1].id, 1));
	store_queue_entries_free(q, k);

	/* keys that name no place: no such unit, no such part */
	assert_int_equal(store_units_queue_page(f->st, STORE_QUEUE_KEY(999999, 1), 5, &q, &k,
	    NULL), UKEY_ERR_NOTFOUND);
	assert_int_equal(store_units_queue_page(f->st, STORE_QUEUE_KEY(u[0][0].id, 3), 5, &q, &k,
	    NULL), UKEY_ERR_NOTFOUND);
	for (i = 0; i < 5; i++)
		store_order_units_free(u[i], nu[i]);
}

/* Queue order: by payment, a requeued unit at the tail, held units never
 * given, a claimed unit no longer offered. */
static void
test_queue_claim(void **state)
{
	struct store_fixture *f = *state;
	struct store_queue_entry *q = NULL;
	struct store_unit u = { 0 };
	int64_t a, b, c, d;
	size_t n = 0;

	a = first_unit(f->st, new_order(f->st, "Q-A", "new", USCC, 1, NULL, "t"));
	b = first_unit(f->st, new_order(f->st, "Q-B", "new", USCC, 1, NULL, "t"));
	c = first_unit(f->st, new_order(f->st, "Q-C", "new", USCC, 1, NULL, "t"));
	pay(f->st, 1, "100000000001", "2026-03-01T10:00:00Z");
	pay(f->st, 2, "100000000002", "2026-03-01T10:00:05Z");
	pay(f->st, 3, "100000000003", "2026-03-01T10:00:09Z");
	claims_are(f->st, "softhsm2", "", (int64_t[]){ a, b, c }, 3);

	/* a's job failed at 10:00:07: after b, before c */
	assert_int_equal(store_unit_requeue(f->st, a, 1, "token", "C_Login: CKR_PIN_INCORRECT",
	    "2026-03-01T10:00:07Z"), 0);
	claims_are(f->st, "softhsm2", NULL, (int64_t[]){ b, a, c }, 3);
	assert_int_equal(store_unit_load(f->st, a, &u), 0);
	assert_string_equal(u.state, "queued");
	assert_int_equal(u.failures, 1);
	assert_string_equal(u.failure_kind, "token");
	assert_string_equal(u.order_state, "waiting_production");
	store_unit_clear(&u);

	/* held: never given, whatever its place */
	assert_int_equal(store_unit_hold_failed(f->st, b, 2, "subject", "too long",
	    "failed the same way twice", "2026-03-01T10:00:08Z"), 0);
	claims_are(f->st, "softhsm2", "", (int64_t[]){ a, c }, 2);
	assert_int_equal(store_unit_hold(f->st, c, "label too long", "2026-03-01T10:00:10Z"), 0);
	claims_are(f->st, "softhsm2", "", (int64_t[]){ a }, 1);
	assert_int_equal(store_unit_load(f->st, c, &u), 0);
	assert_string_equal(u.state, "held");
	assert_string_equal(u.hold_reason, "label too long");
	store_unit_clear(&u);

	/* released: at the tail, its count spent */
	assert_int_equal(store_unit_release(f->st, b, "2026-03-01T10:00:20Z"), 0);
	d = first_unit(f->st, new_order(f->st, "Q-D", "new", USCC, 1, NULL, "t"));
	pay(f->st, 4, "100000000004", "2026-03-01T10:00:15Z");
	claims_are(f->st, "softhsm2", "", (int64_t[]){ a, d, b }, 3);
	assert_int_equal(store_unit_load(f->st, b, &u), 0);
	assert_int_equal(u.failures, 0);
	assert_null(u.hold_reason);
	store_unit_clear(&u);

	/* claimed: in production, not offered; returned, offered again in place */
	claim(f->st, a, "sim-1", "2026-03-01T10:01:00Z");
	claims_are(f->st, "softhsm2", "", (int64_t[]){ d, b }, 2);

	/* the queue view: in production, queued in order, then held */
	assert_int_equal(store_units_queue(f->st, &q, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(q[0].unit, a);
	assert_string_equal(q[0].state, "in_production");
	assert_int_equal(q[1].unit, d);
	assert_int_equal(q[2].unit, b);
	assert_int_equal(q[3].unit, c);
	assert_string_equal(q[3].hold_reason, "label too long");
	assert_string_equal(q[3].portal_ref, "Q-C");
	store_queue_entries_free(q, n);
	/* in pages of every size, across the three parts, and after each row */
	queue_pages_are(f->st, (const int64_t[]){ a, d, b, c }, 4);
	assert_int_equal(store_units_queue_page(f->st, -1, 1, &q, &n, NULL), UKEY_ERR_INVAL);
	assert_int_equal(store_units_queue_page(f->st, 0, 0, &q, &n, NULL), UKEY_ERR_INVAL);

	assert_int_equal(store_unit_return(f->st, a, "2026-03-01T10:02:00Z"), 0);
	claims_are(f->st, "softhsm2", "", (int64_t[]){ a, d, b }, 3);

	/* cancelled: a queued or held unit only */
	assert_int_equal(store_unit_cancel(f->st, c, "t"), 0);
	assert_int_equal(store_unit_load(f->st, c, &u), 0);
	assert_string_equal(u.state, "cancelled");
	store_unit_clear(&u);
	assert_int_equal(store_unit_load(f->st, 999, &u), UKEY_ERR_NOTFOUND);
}

/* A certificate this station issued, on token (profile, tserial), for the
 * unit of order_id; the order becomes issued. */
static void
issue(struct store *st, int64_t order_id, const char *serial, const char *tserial)
{
	int64_t unit = first_unit(st, order_id), job;

	assert_int_equal(store_run(st, "INSERT INTO jobs (unit_id, bay, profile, token_serial, step,"
	    " state, operator, started_at, updated_at) VALUES (?, 'sim-1', 'softhsm2', ?, 'issued',"
	    " 'issued', 'op', 't', 't')", "it", unit, tserial), 0);
	job = store_last_id(st);
	assert_int_equal(store_run(st, "INSERT INTO received_certs (serial, job_id, unit_id, der,"
	    " status, received_at, updated_at) VALUES (?, ?, ?, x'00', 'issued', 't', 't')", "tii",
	    serial, job, unit), 0);
	assert_int_equal(store_run(st, "INSERT INTO issuances (order_id, item_id, unit_id, job_id,"
	    " cert_serial, subject, issuer, not_before, not_after, key_alg, key_local,"
	    " key_always_sensitive, key_never_extractable, token_serial, token_model, token_profile,"
	    " org_uscc, kind, cert, operator, station_id, started_at, issued_at) VALUES (?,"
	    " (SELECT item_id FROM units WHERE id = ?), ?, ?, ?, 's', 'i', 't', 't', 'rsa2048', 1, 1,"
	    " 1, ?, 'SoftHSM', 'softhsm2', ?, 'organisation', x'00', 'op', 'st', 't', 't')",
	    "iiiittt", order_id, unit, unit, job, serial, tserial, USCC), 0);
	assert_int_equal(store_run(st, "UPDATE units SET state = 'issued', job_id = ? WHERE id = ?",
	    "ii", job, unit), 0);
	assert_int_equal(store_order_set_state(st, order_id, "waiting_production", "issued", "t"),
	    0);
}

static void
test_renewal_routing(void **state)
{
	struct store_fixture *f = *state;
	struct store_live_cert *certs = NULL;
	size_t n = 0;
	int64_t old, ren, fresh, held = 0, other = 0;

	old = new_order(f->st, "R-OLD", "new", USCC, 1, NULL, "t");
	pay(f->st, old, "200000000001", "2026-01-01T00:00:00Z");
	issue(f->st, old, "0A1B2C3D", "TOKEN-A");
	fresh = first_unit(f->st, new_order(f->st, "R-NEW", "new", USCC, 1, NULL, "t"));
	pay(f->st, 2, "200000000002", "2026-02-01T00:00:00Z");
	ren = new_order(f->st, "R-REN", "renewal", USCC, 1, NULL, "t");
	assert_int_equal(store_order_set_state(f->st, ren, "pending", "approved", "t"), 0);
	assert_int_equal(store_order_set_approval(f->st, ren, "reviewer1", "t", "0A1B2C3D"), 0);
	assert_int_equal(store_order_set_payment(f->st, ren, "200000000003", "2026-02-02T00:00:00Z",
	    "cashier"), 0);
	assert_int_equal(store_units_queue_order(f->st, ren, "t"), 0);
	assert_int_equal(store_order_set_state(f->st, ren, "approved", "waiting_production", "t"), 0);

	/* serials compare without case and leading zeros */
	assert_int_equal(store_live_certs_by_serial(f->st, "00a1b2c3d", &certs, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(certs[0].token_serial, "TOKEN-A");
	assert_string_equal(certs[0].org_uscc, USCC);
	store_live_certs_free(certs, n);
	assert_int_equal(store_live_certs_by_org(f->st, USCC, "organisation", &certs, &n), 0);
	assert_int_equal(n, 1);
	store_live_certs_free(certs, n);
	assert_int_equal(store_live_certs_by_org(f->st, USCC, "legal_rep", &certs, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_order_renewing(f->st, "0A1B2C3D", 0, &other), 0);
	assert_int_equal(other, ren);
	assert_int_equal(store_order_renewing(f->st, "0A1B2C3D", ren, &other), UKEY_ERR_NOTFOUND);

	/* the token holding the certificate: only its renewal; a blank one: new orders */
	assert_int_equal(store_token_live_certs(f->st, "softhsm2", "TOKEN-A", &held), 0);
	assert_int_equal(held, 1);
	claims_are(f->st, "softhsm2", "TOKEN-A", (int64_t[]){ first_unit(f->st, ren) }, 1);
	claims_are(f->st, "softhsm2", "TOKEN-B", (int64_t[]){ fresh }, 1);
	claims_are(f->st, "other-model", "TOKEN-A", (int64_t[]){ fresh }, 1);
}

/* Documents from before sealing are listed, and sealed in place. */
static void
test_clear_docs(void **state)
{
	struct store_fixture *f = *state;
	struct store_clear_doc *d = NULL;
	struct store_order *o = NULL;
	size_t n = 0;
	int64_t id;

	(void)new_order(f->st, "S-1", "new", USCC, 1, NULL, "t");
	assert_int_equal(store_run(f->st, "INSERT INTO orders (portal_ref, type, account_uscc, state,"
	    " total_fen, doc, created_at, created_by, updated_at) VALUES ('S-2', 'new', ?,"
	    " 'pending', 1, '{\"clear\":1}', 't', 'op', 't')", "t", USCC), 0);
	id = store_last_id(f->st);
	assert_int_equal(store_order_clear_docs(f->st, &d, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(d[0].table, "orders");
	assert_int_equal(d[0].rowid, id);
	assert_string_equal(d[0].portal_ref, "S-2");
	assert_string_equal(d[0].doc, "{\"clear\":1}");
	assert_int_equal(store_order_doc_seal(f->st, &d[0], "{\"masked\":1}", sealed_doc,
	    sizeof(sealed_doc)), 0);
	store_order_clear_docs_free(d, n);
	assert_int_equal(store_order_clear_docs(f->st, &d, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_order_load(f->st, id, &o), 0);
	assert_string_equal(o->doc, "{\"masked\":1}");
	assert_int_equal(o->doc_sealed_len, sizeof(sealed_doc));
	store_order_free(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_insert_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transitions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revise, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_renewal_routing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clear_docs, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
