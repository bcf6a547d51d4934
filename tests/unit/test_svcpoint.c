/* Service points (docs/service-points.md): the table and the handler's
 * region → point rule, [station] service_point and take, and the claim
 * scope on both backends: with own a station takes only its point's units,
 * with own-first its own first and then the others in queue order, with
 * any the queue order; on PostgreSQL two stations of different points on
 * one database each claim their own first (store_unit_take_next, the
 * shared-database claim); PostgreSQL's own pass read item by item. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/err.h"
#include "common/svcpoint.h"
#include "store/db.h"
#include "store/store_lease.h"
#include "store/store_queue.h"
#include "pg_fixture.h"

#define AT "2026-03-01T10:00:00Z"

static struct pg_server server;

static void
test_table(void **state)
{
	const struct svcpoint *all, *p;
	size_t n = 0, i, j;

	all = svcpoint_all(&n);
	assert_int_equal(n, 19);	/* DOMAIN.md §4: nineteen offices */
	for (i = 0; i < n; i++) {
		assert_int_equal(strspn(all[i].id, "abcdefghijklmnopqrstuvwxyz0123456789-"),
		    strlen(all[i].id));
		assert_ptr_equal(svcpoint_find(all[i].id), &all[i]);
		for (j = 0; j < i; j++)
			assert_string_not_equal(all[i].id, all[j].id);
	}
	assert_null(svcpoint_find("atlantis"));
	assert_null(svcpoint_find(NULL));
	p = svcpoint_for_region("云南省", "昆明市", "五华区");
	assert_string_equal(p->id, "kunming-1");
	assert_string_equal(svcpoint_for_region("云南省", "大理白族自治州", "大理市")->id, "dali");
	assert_string_equal(svcpoint_for_region("云南省", "大理州", NULL)->id, "dali");
	assert_string_equal(svcpoint_for_region("云南", "保山市", "隆阳区")->id, "baoshan");
	/* Tengchong's office serves its county-level city inside Baoshan */
	assert_string_equal(svcpoint_for_region("云南省", "保山市", "腾冲市")->id, "tengchong");
	assert_string_equal(svcpoint_for_region("云南省", "西双版纳傣族自治州", "景洪市")->id,
	    "xishuangbanna");
	assert_string_equal(svcpoint_for_region("", "红河哈尼族彝族自治州", "蒙自市")->id, "honghe");
	assert_string_equal(svcpoint_for_region("云南省", "昭通市", NULL)->id, "zhaotong");
	assert_null(svcpoint_for_region("四川省", "成都市", "武侯区"));
	assert_null(svcpoint_for_region("云南省", "某某市", NULL));
	assert_null(svcpoint_for_region(NULL, NULL, NULL));
	assert_int_equal(svcpoint_take_parse("own"), SVCPOINT_TAKE_OWN);
	assert_int_equal(svcpoint_take_parse("own-first"), SVCPOINT_TAKE_OWN_FIRST);
	assert_int_equal(svcpoint_take_parse("any"), SVCPOINT_TAKE_ANY);
	assert_int_equal(svcpoint_take_parse("mine"), -1);
	assert_string_equal(svcpoint_take_name(SVCPOINT_TAKE_OWN_FIRST), "own-first");
}

/* Loads text as ukeyd.conf: 0, or the error in err. */
static int
load_conf(const char *text, struct station_config *c, char *err, size_t errlen)
{
	char path[] = "/tmp/ukey-test-svcpt-XXXXXX";
	FILE *fp;
	int fd, rc;

	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(fp = fdopen(fd, "w"));
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
	config_defaults(c);
	rc = config_load(path, c, err, errlen);
	unlink(path);
	return rc;
}

static void
test_config(void **state)
{
	struct station_config c;
	char err[512];

	assert_int_equal(load_conf("[station]\nid = dl01\n", &c, err, sizeof(err)), 0);
	assert_string_equal(c.service_point, "");
	assert_int_equal(c.take, SVCPOINT_TAKE_ANY);
	config_free(&c);
	assert_int_equal(load_conf("[station]\nservice_point = dali\ntake = own-first\n", &c, err,
	    sizeof(err)), 0);
	assert_string_equal(c.service_point, "dali");
	assert_int_equal(c.take, SVCPOINT_TAKE_OWN_FIRST);
	config_free(&c);
	assert_int_not_equal(load_conf("[station]\nservice_point = atlantis\n", &c, err,
	    sizeof(err)), 0);
	assert_non_null(strstr(err, "station.service_point"));
	assert_non_null(strstr(err, "atlantis"));
	config_free(&c);
	assert_int_not_equal(load_conf("[station]\nservice_point = dali\ntake = mine\n", &c, err,
	    sizeof(err)), 0);
	assert_non_null(strstr(err, "own, own-first or any"));
	config_free(&c);
	/* own without a point would take nothing: refused */
	assert_int_not_equal(load_conf("[station]\ntake = own\n", &c, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "needs [station] service_point"));
	config_free(&c);
}

/* Three paid orders of 2 units each, in queue order: kunming-1 (paid
 * first), dali, none. Their ids in ids[3]. */
static void
three_orders(struct store *st, int64_t ids[3])
{
	assert_int_equal(pg_fixture_order(st, "KM-1", 2, "2026-03-01T08:00:00Z", &ids[0]), 0);
	assert_int_equal(pg_fixture_order(st, "DL-1", 2, "2026-03-01T09:00:00Z", &ids[1]), 0);
	assert_int_equal(pg_fixture_order(st, "XX-1", 2, "2026-03-01T10:00:00Z", &ids[2]), 0);
	assert_int_equal(store_order_set_service_point(st, ids[0], "kunming-1", AT), 0);
	assert_int_equal(store_order_set_service_point(st, ids[1], "dali", AT), 0);
	assert_int_equal(store_order_set_service_point(st, 999999, "dali", AT), UKEY_ERR_NOTFOUND);
}

/* The orders of the units a new token may take, in the order given. */
static size_t
claim_orders(struct store *st, int64_t *out, size_t max)
{
	struct store_unit_claim *c = NULL;
	size_t n = 0, i;

	assert_int_equal(store_units_for_token(st, "softhsm", NULL, 50, &c, &n), 0);
	assert_true(n <= max);
	for (i = 0; i < n; i++)
		out[i] = c[i].order_id;
	store_unit_claims_free(c, n);
	return n;
}

/* The claim scope, the counts and the list filter on one store. */
static void
scope_on(struct store *st)
{
	struct store_order_filter f = { .service_point = "dali" };
	struct store_order_summary *list = NULL;
	int64_t ids[3], got[8], own = 0, all = 0;
	char point[32];
	size_t n, k = 0;

	three_orders(st, ids);
	assert_int_equal(store_order_service_point(st, ids[1], point, sizeof(point)), 0);
	assert_string_equal(point, "dali");
	assert_int_equal(store_order_service_point(st, ids[2], point, sizeof(point)), 0);
	assert_string_equal(point, "");
	/* any (the default): queue order */
	assert_int_equal(n = claim_orders(st, got, 8), 6);
	assert_true(got[0] == ids[0] && got[2] == ids[1] && got[4] == ids[2]);
	/* own-first: dali's first, then the rest in queue order */
	assert_int_equal(store_set_claim_scope(st, "dali", SVCPOINT_TAKE_OWN_FIRST), 0);
	assert_int_equal(n = claim_orders(st, got, 8), 6);
	assert_true(got[0] == ids[1] && got[1] == ids[1] && got[2] == ids[0] && got[4] == ids[2]);
	/* own: only dali's */
	assert_int_equal(store_set_claim_scope(st, "dali", SVCPOINT_TAKE_OWN), 0);
	assert_int_equal(n = claim_orders(st, got, 8), 2);
	assert_true(got[0] == ids[1] && got[1] == ids[1]);
	assert_int_equal(store_claim_pass_open(st, 0), 1);
	assert_int_equal(store_set_claim_scope(st, "yuxi", SVCPOINT_TAKE_OWN), 0);
	/* a point without an order in production: its pass is not asked */
	assert_int_equal(store_claim_pass_open(st, 0), 0);
	assert_int_equal(claim_orders(st, got, 8), 0);
	assert_int_equal(store_set_claim_scope(st, "yuxi", SVCPOINT_TAKE_OWN_FIRST), 0);
	assert_int_equal(store_claim_pass_open(st, 0), 0);
	assert_int_equal(store_claim_pass_open(st, 1), 1);
	assert_int_equal(claim_orders(st, got, 8), 6);
	assert_int_equal(store_set_claim_scope(st, "yuxi", SVCPOINT_TAKE_OWN), 0);
	/* refused: a point that could not be a literal, own without a point */
	assert_int_equal(store_set_claim_scope(st, "dali' OR 'a'='a", SVCPOINT_TAKE_OWN),
	    UKEY_ERR_INVAL);
	assert_int_equal(store_set_claim_scope(st, "", SVCPOINT_TAKE_OWN_FIRST), UKEY_ERR_INVAL);
	assert_int_equal(store_units_queue_count(st, "queued", "dali", 100, &own), 0);
	assert_int_equal(store_units_queue_count(st, "queued", NULL, 100, &all), 0);
	assert_true(own == 2 && all == 6);
	assert_int_equal(store_units_queue_count(st, "queued", "", 100, &all), 0);
	assert_int_equal(all, 6);
	assert_int_equal(store_units_queue_count(st, "queued", "yuxi", 100, &own), 0);
	assert_int_equal(own, 0);
	/* counted up to the cap */
	assert_int_equal(store_units_queue_count(st, "queued", NULL, 4, &all), 0);
	assert_int_equal(all, 4);
	assert_int_equal(store_units_queue_count(st, "queued", "dali", 1, &own), 0);
	assert_int_equal(own, 1);
	assert_int_equal(store_units_queue_count(st, "held", NULL, 100, &all), 0);
	assert_int_equal(all, 0);
	assert_int_equal(store_order_list(st, &f, &list, &k), 0);
	assert_int_equal(k, 1);
	assert_int_equal(list[0].id, ids[1]);
	assert_string_equal(list[0].service_point, "dali");
	store_order_summaries_free(list, k);
	/* cleared */
	assert_int_equal(store_order_set_service_point(st, ids[1], NULL, AT), 0);
	assert_int_equal(store_set_claim_scope(st, "dali", SVCPOINT_TAKE_OWN), 0);
	assert_int_equal(claim_orders(st, got, 8), 0);
}

static void
test_scope_sqlite(void **state)
{
	char path[] = "/tmp/ukey-test-svcpt-db-XXXXXX";
	struct store *st = NULL;
	int fd;

	assert_true((fd = mkstemp(path)) >= 0);
	close(fd);
	unlink(path);
	assert_int_equal(store_open(path, &st), 0);
	scope_on(st);
	store_close(st);
	unlink(path);
}

static void
test_scope_pg(void **state)
{
	struct store *st = NULL;
	char url[256];

	assert_int_equal(pg_fresh_db(&server, "scope", url, sizeof(url)), 0);
	assert_int_equal(store_open_url(url, &st), 0);
	scope_on(st);
	store_close(st);
}

/* In its own transaction: the next unit station `who` takes, its order. */
static int64_t
take_next(struct store *st, const char *who, int64_t job)
{
	struct store_unit u;
	int64_t unit = 0, order;

	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_unit_take_next(st, job, who, 60, AT, &unit), 0);
	assert_int_equal(store_commit(st), 0);
	if (unit == 0)
		return 0;
	assert_int_equal(store_unit_load(st, unit, &u), 0);
	order = u.order_id;
	store_unit_clear(&u);
	return order;
}

/* Two stations of different points on one PostgreSQL database: each takes
 * its own point's units first, then the oldest others'; with own, one stops
 * when its point's units are gone. */
static void
test_two_stations_pg(void **state)
{
	struct store *km = NULL, *dl = NULL;
	int64_t ids[3];
	char url[256];

	assert_int_equal(pg_fresh_db(&server, "twostations", url, sizeof(url)), 0);
	assert_int_equal(store_open_url(url, &km), 0);
	assert_int_equal(store_open_url(url, &dl), 0);
	three_orders(km, ids);
	assert_int_equal(store_set_claim_scope(km, "kunming-1", SVCPOINT_TAKE_OWN_FIRST), 0);
	assert_int_equal(store_set_claim_scope(dl, "dali", SVCPOINT_TAKE_OWN), 0);
	/* Dali's station first, though Kunming's order was paid earlier */
	assert_int_equal(take_next(dl, "dl01", 1), ids[1]);
	assert_int_equal(take_next(km, "km01", 2), ids[0]);
	assert_int_equal(take_next(dl, "dl01", 3), ids[1]);
	assert_int_equal(take_next(km, "km01", 4), ids[0]);
	/* Dali's own are done: own takes nothing more */
	assert_int_equal(take_next(dl, "dl01", 5), 0);
	/* Kunming's own are done: own-first goes on with the others' */
	assert_int_equal(take_next(km, "km01", 6), ids[2]);
	assert_int_equal(take_next(km, "km01", 7), ids[2]);
	assert_int_equal(take_next(km, "km01", 8), 0);
	store_close(km);
	store_close(dl);
}

/* An order of point `point` with two items of n1 and n2 units, paid and
 * queued at `at`; its units in state unit_state. */
static void
point_order(struct store *st, const char *ref, const char *point, int n1, int n2,
    const char *at, const char *unit_state)
{
	struct store_order_item_new it = {
		.seq = 2, .years = 1, .count = n2, .kind = "organisation", .name = "某某科技有限公司",
		.cert_profile = "organisation",
	};
	int64_t id;

	assert_int_equal(pg_fixture_order(st, ref, n1, at, &id), 0);
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_order_add_item(st, id, &it, at), 0);
	assert_int_equal(store_units_queue_order(st, id, at), 0);
	assert_int_equal(store_commit(st), 0);
	if (point != NULL)
		assert_int_equal(store_order_set_service_point(st, id, point, AT), 0);
	if (strcmp(unit_state, "queued") != 0)
		assert_int_equal(store_run(st, "UPDATE units SET state = ? WHERE item_id IN"
		    " (SELECT id FROM order_items WHERE order_id = ?)", "ti", unit_state, id), 0);
}

/* The unit ids sql (its parameters: fmt, then a and b) gives, at most max. */
static size_t
unit_ids(struct store *st, const char *sql, const char *fmt, int64_t a, int64_t b,
    int64_t *out, size_t max)
{
	struct db_stmt *q;
	size_t n = 0;
	int rc;

	assert_int_equal(db_stmtf(store_dbh(st), &q, sql, fmt, a, b), 0);
	while ((rc = db_step(q)) == 1) {
		assert_true(n < max);
		out[n++] = db_column_int64(q, 0);
	}
	db_finalize(q);
	assert_int_equal(rc, 0);
	return n;
}

/* A point's own pass on PostgreSQL reads each of its items' first queued
 * units (LATERAL, units_item_queue) while it has a few dozen items in
 * production, not the whole queue in its order: the
 * same units in the same order as the plain join of orders, items and
 * units, at every limit, with requeued units, units in production and
 * items of several sizes; and its plan never walks units_queue, which the
 * plain join does when one huge order of another point dominates the
 * units' statistics (37 ms at 100,000 queued units, docs/performance.md). */
static void
test_own_pass_pg(void **state)
{
	struct store *st = NULL;
	char url[256], sql[1024], plain[1024], ex[1100], plan[4096] = "";
	int64_t by_item[64], joined[64];
	struct db_stmt *q;
	size_t n1, n2, k;
	int64_t lim;
	int rc;

	assert_int_equal(pg_fresh_db(&server, "ownpass", url, sizeof(url)), 0);
	assert_int_equal(store_open_url(url, &st), 0);
	point_order(st, "BIG", "kunming-1", 2000, 1, "2026-03-01T08:00:00Z", "queued");
	point_order(st, "DL-1", "dali", 3, 2, "2026-03-01T09:00:00Z", "queued");
	point_order(st, "DL-2", "dali", 1, 4, "2026-03-01T09:00:00Z", "queued");
	point_order(st, "DL-3", "dali", 2, 2, "2026-03-01T07:00:00Z", "in_production");
	point_order(st, "DL-4", "dali", 2, 3, "2026-03-01T11:00:00Z", "queued");
	point_order(st, "XX-1", NULL, 2, 2, "2026-03-01T06:00:00Z", "queued");
	/* two of DL-1's put back after failures, in one second, in turn */
	assert_int_equal(store_run(st, "UPDATE units SET requeued_at = '2026-03-01T09:30:00Z',"
	    " requeue_seq = 1 WHERE id = (SELECT min(u.id) FROM units u JOIN order_items i"
	    " ON i.id = u.item_id JOIN orders o ON o.id = i.order_id WHERE o.portal_ref = 'DL-1')",
	    ""), 0);
	assert_int_equal(store_run(st, "UPDATE units SET requeued_at = '2026-03-01T09:30:00Z',"
	    " requeue_seq = 2 WHERE id = (SELECT max(u.id) FROM units u JOIN order_items i"
	    " ON i.id = u.item_id JOIN orders o ON o.id = i.order_id WHERE o.portal_ref = 'DL-2')",
	    ""), 0);
	assert_int_equal(store_run(st, "ANALYZE", ""), 0);
	assert_int_equal(store_set_claim_scope(st, "dali", SVCPOINT_TAKE_OWN), 0);
	assert_int_equal(store_claim_own_sql_pg(st, sql, sizeof(sql)), 0);
	assert_int_equal(store_claim_sql(st, 0, " LIMIT ?", plain, sizeof(plain)), 1);
	for (lim = 1; lim <= 20; lim++) {
		n1 = unit_ids(st, sql, "ii", lim, lim, by_item, 64);
		n2 = unit_ids(st, plain, "i", lim, 0, joined, 64);
		assert_int_equal(n1, n2);
		for (k = 0; k < n1; k++)
			assert_int_equal(by_item[k], joined[k]);
	}
	assert_int_equal(n1, 15);	/* DL-1, DL-2, DL-4; DL-3 is in production */
	/* the station's claim is this pass, while the point has a few items */
	assert_int_equal(store_claim_by_item(st, 0), 1);
	{
		struct store_unit_claim *c = NULL;
		size_t n = 0;

		assert_int_equal(store_units_for_token(st, "softhsm", NULL, 7, &c, &n), 0);
		assert_int_equal(n, 7);
		for (k = 0; k < n; k++)
			assert_int_equal(c[k].unit_id, joined[k]);
		store_unit_claims_free(c, n);
	}
	snprintf(ex, sizeof(ex), "EXPLAIN (COSTS OFF) %s", sql);
	assert_int_equal(db_stmtf(store_dbh(st), &q, ex, "ii", (int64_t)200, (int64_t)200), 0);
	while ((rc = db_step(q)) == 1) {
		assert_true(strlen(plan) + strlen(db_column_text(q, 0)) + 2 < sizeof(plan));
		strcat(plan, db_column_text(q, 0));
		strcat(plan, "\n");
	}
	db_finalize(q);
	assert_int_equal(rc, 0);
	/* each item's units found by the item (units_item_queue at scale; on
	 * a table this small the planner may take another index by item_id) */
	assert_true(strstr(plan, "Index Cond: ((item_id = i.id)") != NULL ||
	    strstr(plan, "Recheck Cond: (item_id = i.id)") != NULL);
	assert_null(strstr(plan, "using units_queue"));
	assert_null(strstr(plan, "on units_queue"));
	/* a backlog of many items: the plain join, the same units */
	for (k = 0; k < 60; k++) {
		char ref[16];

		snprintf(ref, sizeof(ref), "DL-M%zu", k);
		point_order(st, ref, "dali", 1, 1, "2026-03-01T12:00:00Z", "queued");
	}
	assert_int_equal(store_claim_by_item(st, 0), 0);
	n2 = unit_ids(st, plain, "i", 40, 0, joined, 64);
	{
		struct store_unit_claim *c = NULL;
		size_t n = 0;

		assert_int_equal(store_units_for_token(st, "softhsm", NULL, 40, &c, &n), 0);
		assert_int_equal(n, n2);
		for (k = 0; k < n; k++)
			assert_int_equal(c[k].unit_id, joined[k]);
		store_unit_claims_free(c, n);
	}
	store_close(st);
}

static int
pg_setup(void **state)
{
	return pg_server_start(&server);
}

static int
pg_teardown(void **state)
{
	pg_server_stop(&server);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest plain[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_scope_sqlite),
	};
	const struct CMUnitTest pg[] = {
		cmocka_unit_test(test_scope_pg),
		cmocka_unit_test(test_two_stations_pg),
		cmocka_unit_test(test_own_pass_pg),
	};
	int failed = cmocka_run_group_tests_name("service points", plain, NULL, NULL);

	return failed + cmocka_run_group_tests_name("service points on PostgreSQL", pg, pg_setup,
	    pg_teardown);
}
