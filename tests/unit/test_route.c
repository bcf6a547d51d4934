/* Renewal routing against a real store: which queued units a token may take
 * (a blank token only new orders' units, a token that came back only the
 * renewal naming its certificate), and resolving the certificate a renewal
 * order names, by serial or by organisation and kind; the certificate a
 * replacement (补办) names. */
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
#include "common/svcpoint.h"
#include "orders/order.h"
#include "orders/route.h"
#include "store/db.h"
#include "store/store.h"
#include "store/store_queue.h"
#include "store_fixture.h"

#define USCC "91530100MA6K5U5X7R"

static int
setup(void **state)
{
	return store_fixture_setup(state, "route");
}

static int
teardown(void **state)
{
	return store_fixture_teardown(state);
}

static int64_t
add_order(struct store *st, const char *ref, const char *type, const char *state,
    const char *renews, const char *paid_at)
{
	assert_int_equal(store_run(st, "INSERT INTO orders (portal_ref, type, account_uscc, state,"
	    " total_fen, doc, renews_cert, paid_at, created_at, created_by, updated_at)"
	    " VALUES (?, ?, ?, ?, 20000, '{}', ?, ?, 't', 'op', 't')", "tttttt", ref, type, USCC,
	    state, renews, paid_at), 0);
	return store_last_id(st);
}

/* One item of one certificate and its unit; returns the unit id. */
static int64_t
add_unit(struct store *st, int64_t order_id, const char *kind, const char *unit_state)
{
	int64_t item;

	assert_int_equal(store_run(st, "INSERT INTO order_items (order_id, seq, kind, name,"
	    " cert_profile, years, count) VALUES (?, 1, ?, 'n', 'organisation', 1, 1)", "it",
	    order_id, kind), 0);
	item = store_last_id(st);
	assert_int_equal(store_run(st, "INSERT INTO units (item_id, seq, state, updated_at)"
	    " VALUES (?, 1, ?, 't')", "it", item, unit_state), 0);
	return store_last_id(st);
}

/* An issued order whose one certificate (serial) sits on token (profile, tserial). */
static void
add_issued(struct store *st, const char *ref, const char *serial, const char *profile,
    const char *tserial, const char *kind)
{
	int64_t o = add_order(st, ref, "new", "issued", NULL, "2026-01-01T00:00:00Z");
	int64_t u = add_unit(st, o, kind, "issued"), item = 0, job;

	assert_int_equal(store_int(st, &item, "SELECT item_id FROM units WHERE id = ?", "i", u), 0);
	assert_int_equal(store_run(st, "INSERT INTO jobs (unit_id, bay, profile, token_serial, step,"
	    " state, operator, started_at, updated_at) VALUES (?, 'sim-1', ?, ?, 'issued', 'issued',"
	    " 'op', 't', 't')", "itt", u, profile, tserial), 0);
	job = store_last_id(st);
	assert_int_equal(store_run(st, "INSERT INTO received_certs (serial, job_id, unit_id, der,"
	    " status, received_at, updated_at) VALUES (?, ?, ?, x'00', 'issued', 't', 't')", "tii",
	    serial, job, u), 0);
	assert_int_equal(store_run(st, "INSERT INTO issuances (order_id, item_id, unit_id, job_id,"
	    " cert_serial, subject, issuer, not_before, not_after, key_alg, key_local,"
	    " key_always_sensitive, key_never_extractable, token_serial, token_model, token_profile,"
	    " org_uscc, kind, cert, operator, station_id, started_at, issued_at) VALUES (?, ?, ?, ?,"
	    " ?, 's', 'i', 't', 't', 'rsa2048', 1, 1, 1, ?, 'SoftHSM', ?, ?, ?, x'00', 'op', 'st',"
	    " 't', 't')", "iiiittttt", o, item, u, job, serial, tserial, profile, USCC, kind), 0);
}

static void
units_are(const struct store_unit_claim *units, size_t have, const int64_t *want, size_t n)
{
	size_t i;

	assert_int_equal(have, n);
	for (i = 0; i < n; i++)
		assert_int_equal(units[i].unit_id, want[i]);
}

static void
test_claim_routes_by_token(void **state)
{
	struct store_fixture *f = *state;
	struct store_unit_claim *units = NULL;
	size_t nu = 0;
	int64_t new1, new2, ren, held = -1;

	add_issued(f->st, "OLD-1", "0A1B2C3D", "softhsm2", "TOKEN-A", "organisation");
	new1 = add_unit(f->st, add_order(f->st, "NEW-1", "new", "waiting_production", NULL,
	    "2026-02-01T00:00:00Z"), "organisation", "queued");
	ren = add_unit(f->st, add_order(f->st, "REN-1", "renewal", "waiting_production", "0A1B2C3D",
	    "2026-02-02T00:00:00Z"), "organisation", "queued");
	new2 = add_unit(f->st, add_order(f->st, "NEW-2", "new", "in_production", NULL,
	    "2026-02-03T00:00:00Z"), "legal_rep", "queued");
	/* an unpaid order's units are not queued and never offered */
	(void)add_unit(f->st, add_order(f->st, "NEW-3", "new", "approved", NULL, NULL),
	    "organisation", "held");

	/* a blank token: new orders' units, in queue order, never the renewal */
	assert_int_equal(route_units_for_token(f->st, "softhsm2", "TOKEN-B", 200, &units, &nu), 0);
	units_are(units, nu, (int64_t[]){ new1, new2 }, 2);
	store_unit_claims_free(units, nu);
	/* a token that reports no serial holds nothing of ours */
	assert_int_equal(route_units_for_token(f->st, "softhsm2", "", 200, &units, &nu), 0);
	units_are(units, nu, (int64_t[]){ new1, new2 }, 2);
	store_unit_claims_free(units, nu);
	assert_int_equal(route_units_for_token(f->st, "softhsm2", "TOKEN-B", 1, &units, &nu), 0);
	units_are(units, nu, (int64_t[]){ new1 }, 1);
	store_unit_claims_free(units, nu);

	/* the token holding the certificate: only the renewal naming it */
	assert_int_equal(route_token_certs(f->st, "softhsm2", "TOKEN-A", &held), 0);
	assert_int_equal(held, 1);
	assert_int_equal(route_units_for_token(f->st, "softhsm2", "TOKEN-A", 200, &units, &nu), 0);
	units_are(units, nu, (int64_t[]){ ren }, 1);
	assert_string_equal(units[0].type, "renewal");
	store_unit_claims_free(units, nu);

	/* the same serial under another model is another token */
	assert_int_equal(route_units_for_token(f->st, "other-model", "TOKEN-A", 200, &units, &nu), 0);
	units_are(units, nu, (int64_t[]){ new1, new2 }, 2);
	store_unit_claims_free(units, nu);

	/* a renewal not yet paid is not offered; the token then gets nothing */
	assert_int_equal(store_run(f->st, "UPDATE orders SET state = 'approved' WHERE portal_ref ="
	    " 'REN-1'", ""), 0);
	assert_int_equal(route_units_for_token(f->st, "softhsm2", "TOKEN-A", 200, &units, &nu), 0);
	units_are(units, nu, NULL, 0);
	store_unit_claims_free(units, nu);

	/* once its certificate is revoked the token holds nothing of ours */
	assert_int_equal(store_run(f->st, "UPDATE received_certs SET status = 'revoked'", ""), 0);
	assert_int_equal(route_token_certs(f->st, "softhsm2", "TOKEN-A", &held), 0);
	assert_int_equal(held, 0);
	assert_int_equal(route_units_for_token(f->st, "softhsm2", "TOKEN-A", 200, &units, &nu), 0);
	units_are(units, nu, (int64_t[]){ new1, new2 }, 2);
	store_unit_claims_free(units, nu);
}

/* A unit put back after a failed job stands at the tail: after every unit
 * paid before its failure, the same second included, and before those paid
 * later; two put back are taken in the order they failed. A held unit is
 * never given. */
static void
test_queue_tail(void **state)
{
	struct store_fixture *f = *state;
	struct store_unit_claim *units = NULL;
	size_t nu = 0;
	int64_t a, b1, b2, c, d, held;

	a = add_unit(f->st, add_order(f->st, "Q-A", "new", "in_production", NULL,
	    "2026-03-01T10:00:00Z"), "organisation", "queued");
	b1 = add_unit(f->st, add_order(f->st, "Q-B1", "new", "waiting_production", NULL,
	    "2026-03-01T10:00:05Z"), "organisation", "queued");
	b2 = add_unit(f->st, add_order(f->st, "Q-B2", "new", "waiting_production", NULL,
	    "2026-03-01T10:00:05Z"), "organisation", "queued");
	c = add_unit(f->st, add_order(f->st, "Q-C", "new", "waiting_production", NULL,
	    "2026-03-01T10:00:09Z"), "organisation", "queued");
	held = add_unit(f->st, add_order(f->st, "Q-H", "new", "in_production", NULL,
	    "2026-03-01T09:00:00Z"), "organisation", "held");
	assert_int_equal(store_run(f->st, "UPDATE units SET hold_reason = 'failed twice' WHERE id = ?",
	    "i", held), 0);
	assert_int_equal(route_units_for_token(f->st, "softhsm2", "", 10, &units, &nu), 0);
	units_are(units, nu, (int64_t[]){ a, b1, b2, c }, 4);
	store_unit_claims_free(units, nu);

	/* a fails at 10:00:05, then b1 in the same second: both after b2 */
	assert_int_equal(store_run(f->st, "UPDATE units SET requeued_at = '2026-03-01T10:00:05Z',"
	    " requeue_seq = 1 WHERE id = ?", "i", a), 0);
	assert_int_equal(store_run(f->st, "UPDATE units SET requeued_at = '2026-03-01T10:00:05Z',"
	    " requeue_seq = 2 WHERE id = ?", "i", b1), 0);
	d = add_unit(f->st, add_order(f->st, "Q-D", "new", "waiting_production", NULL,
	    "2026-03-01T10:00:06Z"), "organisation", "queued");
	assert_int_equal(route_units_for_token(f->st, "softhsm2", "", 10, &units, &nu), 0);
	units_are(units, nu, (int64_t[]){ b2, a, b1, d, c }, 5);
	store_unit_claims_free(units, nu);

	/* the payment time is the order's: moved (a corrected payment), the
	 * order's units move with it; a requeued unit keeps its requeue time */
	assert_int_equal(store_run(f->st, "UPDATE orders SET paid_at = '2026-03-01T09:59:00Z'"
	    " WHERE portal_ref IN ('Q-C', 'Q-A')", ""), 0);
	assert_int_equal(route_units_for_token(f->st, "softhsm2", "", 10, &units, &nu), 0);
	units_are(units, nu, (int64_t[]){ c, b2, a, b1, d }, 5);
	store_unit_claims_free(units, nu);
	/* a unit inserted into an order already paid stands at its place */
	b2 = add_unit(f->st, add_order(f->st, "Q-E", "new", "waiting_production", NULL,
	    "2026-03-01T10:00:00Z"), "organisation", "queued");
	assert_int_equal(route_units_for_token(f->st, "softhsm2", "", 2, &units, &nu), 0);
	units_are(units, nu, (int64_t[]){ c, b2 }, 2);
	store_unit_claims_free(units, nu);
}

/* SQLite's plan of sql, its steps joined with ";". */
static void
plan_of(struct store *st, const char *sql, char *plan, size_t len)
{
	struct db_stmt *q;
	char explain[1024];
	int rc;

	snprintf(explain, sizeof(explain), "EXPLAIN QUERY PLAN %s", sql);
	assert_int_equal(db_stmtf(store_dbh(st), &q, explain, ""), 0);
	plan[0] = '\0';
	while ((rc = db_step(q)) == 1) {
		assert_true(strlen(plan) + strlen(db_column_text(q, 3)) + 2 <= len);
		strcat(plan, db_column_text(q, 3));
		strcat(plan, ";");
	}
	db_finalize(q);
	assert_int_equal(rc, 0);
}

/* The claim of a blank token reads the head of the queue from the
 * units_queue index, whatever the queue's length, with nothing to sort
 * (SQLite's plan). */
static void
test_queue_plan(void **state)
{
	struct store_fixture *f = *state;
	char plan[1024], sql[1024];

	if (db_backend(store_dbh(f->st)) != DB_SQLITE)
		skip();
	assert_int_equal(store_claim_sql(f->st, 0, " LIMIT 8", sql, sizeof(sql)), 1);
	plan_of(f->st, sql, plan, sizeof(plan));
	assert_non_null(strstr(plan, "USING INDEX units_queue"));
	assert_null(strstr(plan, "TEMP B-TREE"));
	/* a service point's own pass starts from the point's orders: a point
	 * with few units queued, or none, does not walk the whole queue */
	assert_int_equal(store_set_claim_scope(f->st, "dali", SVCPOINT_TAKE_OWN_FIRST), 0);
	assert_int_equal(store_claim_sql(f->st, 0, " LIMIT 8", sql, sizeof(sql)), 2);
	plan_of(f->st, sql, plan, sizeof(plan));
	assert_non_null(strstr(plan, "SEARCH o USING INDEX orders_service_point"));
	assert_non_null(strstr(plan, "units_item_queue"));
	assert_null(strstr(plan, "units_queue"));
	/* the queue view's page of one state, and its count, from the index */
	plan_of(f->st, "SELECT u.id" QUEUE_VIEW_FROM " ORDER BY" QUEUE_KEYS " LIMIT 8 OFFSET 0",
	    plan, sizeof(plan));
	assert_non_null(strstr(plan, "units_queue (state=?)"));
	assert_null(strstr(plan, "TEMP B-TREE"));
	/* the next requeue number: one look-up, not a scan of the units */
	plan_of(f->st, "SELECT" NEXT_REQUEUE_SEQ, plan, sizeof(plan));
	assert_non_null(strstr(plan, "SEARCH units USING COVERING INDEX units_requeue_seq"));
	assert_null(strstr(plan, "SCAN units"));
}

static void
test_resolve(void **state)
{
	struct store_fixture *f = *state;
	char uscc[] = USCC, serial[] = "a1b2c3d4", why[512], *got = NULL;
	struct order_item it = { .kind = ITEM_ORG, .years = 1, .count = 1 };
	struct order o = { .type = ORDER_RENEWAL, .account_uscc = uscc, .items = &it, .n_items = 1 };
	int64_t id;

	add_issued(f->st, "OLD-1", "A1B2C3D4", "softhsm2", "TOKEN-A", "organisation");
	add_issued(f->st, "OLD-2", "00F00D", "softhsm2", "TOKEN-C", "legal_rep");
	id = add_order(f->st, "REN-1", "renewal", "pending", NULL, NULL);

	/* by serial, in any case */
	o.renews_serial = serial;
	assert_int_equal(route_renewal_resolve(f->st, id, &o, &got, why, sizeof(why)), 0);
	assert_string_equal(got, "A1B2C3D4");
	free(got);

	/* by organisation and kind */
	o.renews_serial = NULL;
	o.renews_uscc = uscc;
	o.renews_kind = ITEM_ORG;
	assert_int_equal(route_renewal_resolve(f->st, id, &o, &got, why, sizeof(why)), 0);
	assert_string_equal(got, "A1B2C3D4");
	free(got);

	/* a serial given without its leading zero byte */
	{
		char s2[] = "f00d";
		struct order_item it2 = { .kind = ITEM_LEGAL_REP, .years = 1, .count = 1 };
		struct order o2 = { .type = ORDER_RENEWAL, .account_uscc = uscc, .items = &it2,
			.n_items = 1, .renews_serial = s2 };

		assert_int_equal(route_renewal_resolve(f->st, id, &o2, &got, why, sizeof(why)), 0);
		assert_string_equal(got, "00F00D");
		free(got);
	}

	/* names nothing */
	{
		char s3[] = "deadbeef";

		o.renews_uscc = NULL;
		o.renews_serial = s3;
		assert_int_equal(route_renewal_resolve(f->st, id, &o, &got, why, sizeof(why)),
		    UKEY_ERR_NOTFOUND);
		assert_null(got);
		assert_non_null(strstr(why, "renews.serial: deadbeef names no live certificate"));
	}
	o.renews_serial = NULL;
	o.renews_uscc = uscc;
	o.renews_kind = ITEM_ENTRUSTED;
	assert_int_equal(route_renewal_resolve(f->st, id, &o, &got, why, sizeof(why)),
	    UKEY_ERR_NOTFOUND);
	assert_non_null(strstr(why, "no live entrusted certificate to organisation " USCC));

	/* the named certificate is of another kind than the order asks for */
	o.renews_kind = ITEM_LEGAL_REP;
	assert_int_equal(route_renewal_resolve(f->st, id, &o, &got, why, sizeof(why)),
	    UKEY_ERR_VERIFY);
	assert_non_null(strstr(why, "certificate 00F00D is of kind legal_rep, but the order asks"
	    " for one of kind organisation"));

	/* a renewal asks for exactly one certificate */
	it.count = 2;
	o.renews_kind = ITEM_ORG;
	assert_int_equal(route_renewal_resolve(f->st, id, &o, &got, why, sizeof(why)),
	    UKEY_ERR_VERIFY);
	assert_non_null(strstr(why, "renews one certificate on its token; this one asks for 2"));
	it.count = 1;

	/* ambiguous: two live organisation certificates */
	add_issued(f->st, "OLD-3", "BEEF01", "softhsm2", "TOKEN-D", "organisation");
	assert_int_equal(route_renewal_resolve(f->st, id, &o, &got, why, sizeof(why)),
	    UKEY_ERR_VERIFY);
	assert_non_null(strstr(why, "2 live organisation certificates"));
	assert_non_null(strstr(why, "A1B2C3D4"));
	assert_non_null(strstr(why, "BEEF01"));
	assert_non_null(strstr(why, "name the one to renew by serial"));
	assert_null(got);

	/* another live renewal already names it; a cancelled one does not count */
	(void)add_order(f->st, "REN-0", "renewal", "waiting_production", "A1B2C3D4", NULL);
	o.renews_uscc = NULL;
	o.renews_serial = serial;
	assert_int_equal(route_renewal_resolve(f->st, id, &o, &got, why, sizeof(why)),
	    UKEY_ERR_EXISTS);
	assert_non_null(strstr(why, "already being renewed by order"));
	assert_int_equal(store_run(f->st, "UPDATE orders SET state = 'cancelled' WHERE portal_ref ="
	    " 'REN-0'", ""), 0);
	assert_int_equal(route_renewal_resolve(f->st, id, &o, &got, why, sizeof(why)), 0);
	free(got);

	/* not a renewal */
	o.type = ORDER_NEW;
	assert_int_equal(route_renewal_resolve(f->st, id, &o, &got, why, sizeof(why)),
	    UKEY_ERR_INVAL);
}

/* A replacement (补办): resolved by serial against the station's issuances,
 * only when its token is marked lost or damaged; a blank token takes its
 * unit, a token holding a certificate never does. */
static void
test_resolve_replacement(void **state)
{
	struct store_fixture *f = *state;
	char uscc[] = USCC, other[] = "91532901MA6P7H4T1G", serial[] = "a1b2c3d4", why[512];
	struct order_item it = { .kind = ITEM_ORG, .years = 1, .count = 1 };
	struct order o = { .type = ORDER_REPLACEMENT, .account_uscc = uscc, .items = &it,
		.n_items = 1, .replaces_serial = serial };
	struct route_replaced got = { 0 };
	struct store_unit_claim *units = NULL;
	size_t nu = 0;
	int64_t id, unit;

	add_issued(f->st, "OLD-1", "A1B2C3D4", "softhsm2", "TOKEN-A", "organisation");
	id = add_order(f->st, "REP-1", "replacement", "pending", NULL, NULL);

	/* the token is not marked lost or damaged */
	assert_int_equal(route_replacement_resolve(f->st, id, &o, "st", &got, why, sizeof(why)),
	    UKEY_ERR_VERIFY);
	assert_non_null(strstr(why, "token TOKEN-A (certificate A1B2C3D4) is not marked lost or"
	    " damaged"));
	assert_null(got.serial);
	assert_int_equal(store_run(f->st, "INSERT INTO token_states (token_serial, state, at, actor,"
	    " remark) VALUES ('TOKEN-A', 'returned', 't', 'op', 'r')", ""), 0);
	assert_int_equal(route_replacement_resolve(f->st, id, &o, "st", &got, why, sizeof(why)),
	    UKEY_ERR_VERIFY);
	assert_non_null(strstr(why, "token TOKEN-A (certificate A1B2C3D4) is returned, not lost"));
	assert_int_equal(store_run(f->st, "INSERT INTO token_states (token_serial, state, at, actor,"
	    " remark) VALUES ('TOKEN-A', 'lost', 't', 'op', 'gone')", ""), 0);
	assert_int_equal(route_replacement_resolve(f->st, id, &o, "st", &got, why, sizeof(why)), 0);
	assert_string_equal(got.serial, "A1B2C3D4");
	assert_string_equal(got.token_serial, "TOKEN-A");
	assert_string_equal(got.token_state, "lost");
	assert_string_equal(got.subject, "s");
	route_replaced_clear(&got);
	/* revoked (marking it lost did that) is no obstacle */
	assert_int_equal(store_run(f->st, "UPDATE issuances SET revoked_at = 't', revoke_reason ="
	    " 'keyCompromise'", ""), 0);
	assert_int_equal(route_replacement_resolve(f->st, id, &o, NULL, &got, why, sizeof(why)), 0);
	route_replaced_clear(&got);

	/* another station's, another organisation's, another kind, unknown, two */
	assert_int_equal(route_replacement_resolve(f->st, id, &o, "km-02", &got, why, sizeof(why)),
	    UKEY_ERR_VERIFY);
	assert_non_null(strstr(why, "was issued by station st, not by this one (km-02)"));
	o.account_uscc = other;
	assert_int_equal(route_replacement_resolve(f->st, id, &o, "st", &got, why, sizeof(why)),
	    UKEY_ERR_VERIFY);
	assert_non_null(strstr(why, "was issued to organisation " USCC ", not to the account"));
	o.account_uscc = uscc;
	it.kind = ITEM_ENTRUSTED;
	assert_int_equal(route_replacement_resolve(f->st, id, &o, "st", &got, why, sizeof(why)),
	    UKEY_ERR_VERIFY);
	assert_non_null(strstr(why, "is of kind organisation, but the order asks for one of kind"
	    " entrusted"));
	it.kind = ITEM_ORG;
	o.replaces_serial = (char[]){ "deadbeef" };
	assert_int_equal(route_replacement_resolve(f->st, id, &o, "st", &got, why, sizeof(why)),
	    UKEY_ERR_NOTFOUND);
	assert_non_null(strstr(why, "replaces.serial: deadbeef names no certificate issued"));
	o.replaces_serial = serial;
	it.count = 2;
	assert_int_equal(route_replacement_resolve(f->st, id, &o, "st", &got, why, sizeof(why)),
	    UKEY_ERR_VERIFY);
	assert_non_null(strstr(why, "replaces one certificate on one token; this one asks for 2"));
	it.count = 1;

	/* another open replacement names it; a rejected one does not count */
	(void)add_order(f->st, "REP-0", "replacement", "approved", NULL, NULL);
	assert_int_equal(store_run(f->st, "UPDATE orders SET replaces_cert = 'A1B2C3D4' WHERE"
	    " portal_ref = 'REP-0'", ""), 0);
	assert_int_equal(route_replacement_resolve(f->st, id, &o, "st", &got, why, sizeof(why)),
	    UKEY_ERR_EXISTS);
	assert_non_null(strstr(why, "already being replaced by order"));
	assert_int_equal(store_run(f->st, "UPDATE orders SET state = 'rejected' WHERE portal_ref ="
	    " 'REP-0'", ""), 0);
	assert_int_equal(route_replacement_resolve(f->st, id, &o, "st", &got, why, sizeof(why)), 0);
	route_replaced_clear(&got);
	o.type = ORDER_RENEWAL;
	assert_int_equal(route_replacement_resolve(f->st, id, &o, "st", &got, why, sizeof(why)),
	    UKEY_ERR_INVAL);

	/* paid: a blank token takes its unit, the token of a live certificate does not */
	unit = add_unit(f->st, add_order(f->st, "REP-2", "replacement", "waiting_production", NULL,
	    "2026-02-01T00:00:00Z"), "organisation", "queued");
	add_issued(f->st, "OLD-2", "BEEF01", "softhsm2", "TOKEN-B", "organisation");
	assert_int_equal(route_units_for_token(f->st, "softhsm2", "TOKEN-NEW", 200, &units, &nu), 0);
	units_are(units, nu, (int64_t[]){ unit }, 1);
	assert_string_equal(units[0].type, "replacement");
	store_unit_claims_free(units, nu);
	assert_int_equal(route_units_for_token(f->st, "softhsm2", "TOKEN-B", 200, &units, &nu), 0);
	assert_int_equal(nu, 0);
	store_unit_claims_free(units, nu);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_claim_routes_by_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_replacement, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_plan, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
