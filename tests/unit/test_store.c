/* Database migrations: a station database made by an older version (schema
 * 1, with orders, units, jobs and the rows that reference them) is brought to
 * the current schema with every row and reference intact, and the rebuilt
 * jobs table takes the new job state; one from schema 2 gains the order
 * lifecycle's columns and tables with its rows intact and the new rules
 * enforced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "common/err.h"
#include "store/schema.h"
#include "store/store.h"
#include "store_fixture.h"

static void
exec_ok(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

/* A database as version `version` of the station left it: the migrations up
 * to that version applied and recorded, nothing after. */
static sqlite3 *
old_database(const char *path, int version)
{
	const struct migration *m;
	char sql[160];
	sqlite3 *db;
	size_t n;
	int i;

	m = schema_migrations(&n);
	assert_true(n >= (size_t)version + 1);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_ok(db, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, what TEXT NOT NULL,"
	    " applied_at TEXT NOT NULL)");
	for (i = 0; i < version; i++) {
		assert_int_equal(m[i].version, i + 1);
		exec_ok(db, m[i].sql);
		snprintf(sql, sizeof(sql), "INSERT INTO schema_migrations VALUES (%d, 'v%d',"
		    " '2026-11-20T00:00:00Z')", i + 1, i + 1);
		exec_ok(db, sql);
	}
	return db;
}

static void
test_migrate_from_v1(void **state)
{
	char dir[] = "/tmp/ukey-test-store-XXXXXX", path[128];
	const struct migration *m;
	struct store *st = NULL;
	sqlite3 *db;
	size_t n;
	int64_t v = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/station.db", dir);
	m = schema_migrations(&n);
	/* what version 1 of the station left behind */
	db = old_database(path, 1);
	exec_ok(db, "PRAGMA foreign_keys = ON");
	exec_ok(db, "INSERT INTO orders (id, portal_ref, type, state, account_uscc, doc, total_fen,"
	    " created_at, created_by, updated_at) VALUES (1, 'P1', 'new', 'in_production',"
	    " '91530100MA6K7U8X0Q', '{}', 40000, 't', 'op', 't')");
	exec_ok(db, "INSERT INTO order_items (id, order_id, seq, kind, name, cert_profile, years,"
	    " count) VALUES (1, 1, 1, 'organisation', 'X', 'organisation', 2, 1)");
	exec_ok(db, "INSERT INTO units (id, item_id, seq, state, job_id, updated_at)"
	    " VALUES (1, 1, 1, 'in_production', 7, 't')");
	exec_ok(db, "INSERT INTO jobs (id, unit_id, bay, profile, token_serial, step, state,"
	    " operator, started_at, updated_at) VALUES (7, 1, 'sim-1', 'softhsm2', 'abc',"
	    " 'generate_key', 'running', 'op', 't', 't')");
	exec_ok(db, "INSERT INTO job_steps (job_id, step, phase, at) VALUES (7, 'init_token',"
	    " 'done', 't')");
	sqlite3_close(db);

	assert_int_equal(store_open(path, &st), 0);
	assert_int_equal(store_schema_version(st), m[n - 1].version);
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM jobs WHERE id = 7 AND"
	    " token_serial = 'abc' AND step = 'generate_key' AND resumed = 0", ""), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM job_steps WHERE job_id = 7", ""), 0);
	assert_int_equal(v, 1);
	/* the new state is allowed, an unknown one still is not */
	assert_int_equal(store_run(st, "UPDATE jobs SET state = 'suspended' WHERE id = 7", ""), 0);
	assert_int_not_equal(store_run(st, "UPDATE jobs SET state = 'lost' WHERE id = 7", ""), 0);
	/* references are enforced again after the migration */
	assert_int_not_equal(store_run(st, "INSERT INTO job_steps (job_id, step, phase, at)"
	    " VALUES (99, 'x', 'done', 't')", ""), 0);
	store_close(st);

	/* opening again changes nothing */
	assert_int_equal(store_open(path, &st), 0);
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM schema_migrations", ""), 0);
	assert_int_equal(v, (int64_t)n);
	store_fixture_close(st, dir);
}

static void
test_migrate_from_v2(void **state)
{
	char dir[] = "/tmp/ukey-test-store-XXXXXX", path[128];
	const struct migration *m;
	struct store *st = NULL;
	sqlite3 *db;
	size_t n;
	int64_t v = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/station.db", dir);
	m = schema_migrations(&n);
	/* what version 2 of the station left behind (migration 3 adds the order
	 * lifecycle: revisions, deliveries, cancellation and invoice columns) */
	db = old_database(path, 2);
	exec_ok(db, "INSERT INTO orders (id, portal_ref, type, state, account_uscc, doc, total_fen,"
	    " payment_no, review_remark, created_at, created_by, updated_at) VALUES"
	    " (1, 'P1', 'new', 'waiting_production', '91530100MA6K5U5X7R', '{\"a\":1}', 40000,"
	    "  '202108311743133254271557329797', NULL, '2026-11-01T00:00:00Z', 'op', 't'),"
	    " (2, 'P2', 'new', 'rejected', '91530100MA6K5U5X7R', '{\"a\":2}', 20000, NULL,"
	    "  '资料不全', '2026-11-02T00:00:00Z', 'op', 't')");
	exec_ok(db, "INSERT INTO order_items (id, order_id, seq, kind, name, cert_profile, years,"
	    " count) VALUES (1, 1, 1, 'organisation', 'X', 'organisation', 2, 1)");
	exec_ok(db, "INSERT INTO units (id, item_id, seq, state, updated_at)"
	    " VALUES (1, 1, 1, 'queued', 't')");
	sqlite3_close(db);

	assert_int_equal(store_open(path, &st), 0);
	assert_int_equal(store_schema_version(st), m[n - 1].version);
	/* old rows intact, new columns at their defaults */
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM orders WHERE revision = 1 AND"
	    " refund_due = 0 AND renews_cert IS NULL AND cancelled_at IS NULL AND"
	    " invoice_requested_at IS NULL", ""), 0);
	assert_int_equal(v, 2);
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM orders WHERE id = 1 AND payment_no ="
	    " '202108311743133254271557329797' AND state = 'waiting_production'", ""), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM units WHERE state = 'queued'", ""), 0);
	assert_int_equal(v, 1);
	/* migration 6: the unit has failed no job, is not held, keeps its place */
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM units WHERE failures = 0 AND"
	    " failure_kind IS NULL AND last_failure IS NULL AND hold_reason IS NULL AND"
	    " held_at IS NULL AND requeued_at IS NULL AND requeue_seq IS NULL", ""), 0);
	assert_int_equal(v, 1);
	assert_int_not_equal(store_run(st, "UPDATE units SET failures = -1 WHERE id = 1", ""), 0);
	/* a revision of order 2's old content */
	assert_int_equal(store_run(st, "INSERT INTO order_revisions (order_id, revision, type,"
	    " org_name, total_fen, doc, checksum_failures, review_remark, replaced_at, replaced_by)"
	    " SELECT id, revision, type, org_name, total_fen, doc, checksum_failures, review_remark,"
	    " 't', 'op' FROM orders WHERE id = 2", ""), 0);
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM order_revisions WHERE order_id = 2"
	    " AND review_remark = '资料不全' AND doc = '{\"a\":2}'", ""), 0);
	assert_int_equal(v, 1);
	/* the same revision twice, or one of no order, is refused */
	assert_int_not_equal(store_run(st, "INSERT INTO order_revisions (order_id, revision, type,"
	    " total_fen, doc, replaced_at, replaced_by) VALUES (2, 1, 'new', 0, '{}', 't', 'op')",
	    ""), 0);
	assert_int_not_equal(store_run(st, "INSERT INTO order_revisions (order_id, revision, type,"
	    " total_fen, doc, replaced_at, replaced_by) VALUES (9, 1, 'new', 0, '{}', 't', 'op')",
	    ""), 0);
	/* deliveries: a pick-up names who signed, a mailing its carrier and number */
	assert_int_equal(store_run(st, "INSERT INTO deliveries (order_id, method, picked_up_by,"
	    " delivered_at, delivered_by) VALUES (1, 'pickup', '王五', 't', 'op')", ""), 0);
	assert_int_not_equal(store_run(st, "INSERT INTO deliveries (order_id, method, carrier,"
	    " delivered_at, delivered_by) VALUES (2, 'mail', 'EMS', 't', 'op')", ""), 0);
	assert_int_not_equal(store_run(st, "INSERT INTO deliveries (order_id, method, picked_up_by,"
	    " carrier, tracking_no, delivered_at, delivered_by) VALUES (2, 'pickup', 'x', 'EMS',"
	    " 'E1', 't', 'op')", ""), 0);
	assert_int_not_equal(store_run(st, "INSERT INTO deliveries (order_id, method, picked_up_by,"
	    " delivered_at, delivered_by) VALUES (1, 'pickup', 'again', 't', 'op')", ""), 0);
	assert_int_not_equal(store_run(st, "UPDATE orders SET refund_due = 2 WHERE id = 1", ""), 0);
	store_close(st);

	/* opening again changes nothing */
	assert_int_equal(store_open(path, &st), 0);
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM schema_migrations", ""), 0);
	assert_int_equal(v, (int64_t)n);
	store_fixture_close(st, dir);
}

/* Migration 8: the issuance record gets the key pair's usage; rows issued
 * before stay without one (NULL), new rows keep it. */
static void
test_migrate_key_usage(void **state)
{
	char dir[] = "/tmp/ukey-test-store-XXXXXX", path[128];
	const struct migration *m;
	struct store *st = NULL;
	sqlite3 *db;
	size_t n;
	int64_t v = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/station.db", dir);
	m = schema_migrations(&n);
	db = old_database(path, 5);
	exec_ok(db, "INSERT INTO orders (id, portal_ref, type, state, account_uscc, doc, total_fen,"
	    " created_at, created_by, updated_at) VALUES (1, 'P1', 'new', 'issued',"
	    " '91530100MA6K5U5X7R', '{}', 20000, 't', 'op', 't')");
	exec_ok(db, "INSERT INTO order_items (id, order_id, seq, kind, name, cert_profile, years,"
	    " count) VALUES (1, 1, 1, 'legal_rep', 'X', 'legal-rep', 1, 1)");
	exec_ok(db, "INSERT INTO units (id, item_id, seq, state, updated_at)"
	    " VALUES (1, 1, 1, 'issued', 't')");
	exec_ok(db, "INSERT INTO jobs (id, unit_id, bay, profile, step, state, operator, started_at,"
	    " updated_at) VALUES (1, 1, 'sim-1', 'softhsm2', 'issued', 'issued', 'op', 't', 't')");
	exec_ok(db, "INSERT INTO received_certs (serial, job_id, unit_id, der, status, received_at,"
	    " updated_at) VALUES ('0A1B', 1, 1, x'30', 'issued', 't', 't')");
	exec_ok(db, "INSERT INTO issuances (order_id, item_id, unit_id, job_id, cert_serial, subject,"
	    " issuer, not_before, not_after, key_alg, key_local, key_always_sensitive,"
	    " key_never_extractable, token_serial, token_model, token_profile, org_uscc, kind, cert,"
	    " operator, station_id, started_at, issued_at) VALUES (1, 1, 1, 1, '0A1B', 'CN=X',"
	    " 'CN=CA', 't', 't', 'ec-p256', 1, 1, 1, 's', 'm', 'softhsm2', '91530100MA6K5U5X7R',"
	    " 'legal_rep', x'30', 'op', 'st', 't', 't')");
	sqlite3_close(db);

	assert_int_equal(store_open(path, &st), 0);
	assert_int_equal(store_schema_version(st), m[n - 1].version);
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM issuances WHERE key_usage IS NULL",
	    ""), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_run(st, "UPDATE issuances SET key_usage = ?", "t",
	    "{\"private\":[\"sign\"],\"public\":[\"verify\"]}"), 0);
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM issuances WHERE"
	    " json_extract(key_usage, '$.private[0]') = 'sign'", ""), 0);
	assert_int_equal(v, 1);
	store_fixture_close(st, dir);
}

/* Migration 12 rebuilds orders so that a replacement order fits: every
 * column of a version-10 row survives, references into orders still hold,
 * and issuances gain the link to the certificate replaced. */
static void
test_migrate_replacement(void **state)
{
	char dir[] = "/tmp/ukey-test-store-XXXXXX", path[128];
	struct store *st = NULL;
	sqlite3 *db;
	int64_t v = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/station.db", dir);
	db = old_database(path, 10);
	exec_ok(db, "INSERT INTO orders (id, portal_ref, type, state, account_uscc, org_name, doc,"
	    " doc_sealed, total_fen, payment_no, revision, renews_cert, refund_due, cancel_remark,"
	    " created_at, created_by, updated_at) VALUES (1, 'P1', 'renewal', 'cancelled',"
	    " '91530100MA6K5U5X7R', '某某', '{}', x'0102', 20000, '2026', 3, '0A1B', 1, '撤回', 't',"
	    " 'op', 'u')");
	exec_ok(db, "INSERT INTO order_items (id, order_id, seq, kind, name, cert_profile, years,"
	    " count) VALUES (1, 1, 1, 'organisation', 'X', 'organisation', 1, 1)");
	exec_ok(db, "INSERT INTO order_revisions (order_id, revision, type, total_fen, doc,"
	    " replaced_at, replaced_by) VALUES (1, 2, 'renewal', 20000, '{}', 't', 'op')");
	sqlite3_close(db);

	assert_int_equal(store_open(path, &st), 0);
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM orders WHERE id = 1 AND"
	    " portal_ref = 'P1' AND type = 'renewal' AND org_name = '某某' AND doc_sealed = x'0102'"
	    " AND revision = 3 AND renews_cert = '0A1B' AND refund_due = 1 AND cancel_remark = '撤回'"
	    " AND payment_no = '2026' AND updated_at = 'u' AND replaces_cert IS NULL", ""), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_run(st, "UPDATE orders SET type = 'replacement', replaces_cert = '0A1B'"
	    " WHERE id = 1", ""), 0);
	assert_int_not_equal(store_run(st, "UPDATE orders SET type = 'reissue' WHERE id = 1", ""), 0);
	/* references into the rebuilt table are enforced */
	assert_int_not_equal(store_run(st, "INSERT INTO order_items (order_id, seq, kind, name,"
	    " cert_profile, years, count) VALUES (9, 1, 'organisation', 'X', 'organisation', 1, 1)",
	    ""), 0);
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM pragma_table_info('issuances')"
	    " WHERE name IN ('replaces_serial', 'replaces_how')", ""), 0);
	assert_int_equal(v, 2);
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM schema_migrations WHERE version = 12",
	    ""), 0);
	assert_int_equal(v, 1);
	store_fixture_close(st, dir);
}

/* A lazy transaction (store_begin_lazy) commits like any other and leaves
 * the connection flushing every other commit again (synchronous=FULL, 2),
 * after a commit and after a rollback. */
static void
test_begin_lazy(void **state)
{
	char dir[64];
	struct store *st;
	int64_t v = 0;

	(void)state;
	st = store_fixture_open(dir, sizeof(dir), "store");
	assert_int_equal(store_begin_lazy(st), 0);
	assert_int_equal(store_int(st, &v, "PRAGMA synchronous", ""), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_run(st, "INSERT INTO schema_migrations (version, what, applied_at)"
	    " VALUES (900, 'lazy', 't')", ""), 0);
	assert_int_equal(store_commit(st), 0);
	assert_int_equal(store_int(st, &v, "PRAGMA synchronous", ""), 0);
	assert_int_equal(v, 2);
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM schema_migrations WHERE"
	    " version = 900", ""), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_begin_lazy(st), 0);
	assert_int_equal(store_run(st, "DELETE FROM schema_migrations WHERE version = 900", ""), 0);
	store_rollback(st);
	assert_int_equal(store_int(st, &v, "PRAGMA synchronous", ""), 0);
	assert_int_equal(v, 2);
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM schema_migrations WHERE"
	    " version = 900", ""), 0);
	assert_int_equal(v, 1);
	store_fixture_close(st, dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrate_from_v1),
		cmocka_unit_test(test_migrate_from_v2),
		cmocka_unit_test(test_migrate_key_usage),
		cmocka_unit_test(test_migrate_replacement),
		cmocka_unit_test(test_begin_lazy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
