/* Database migrations: a station database made by an older version (schema
 * 1, with orders, units, jobs and the rows that reference them) is brought to
 * the current schema with every row and reference intact, and the rebuilt
 * jobs table takes the new job state. */
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

static void
exec_ok(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
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
	assert_true(n >= 2);
	/* what version 1 of the station left behind */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_ok(db, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, what TEXT NOT NULL,"
	    " applied_at TEXT NOT NULL)");
	exec_ok(db, m[0].sql);
	exec_ok(db, "INSERT INTO schema_migrations VALUES (1, 'initial', '2026-11-20T00:00:00Z')");
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
	store_close(st);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrate_from_v1),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
