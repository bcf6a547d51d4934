/* The SQLite backend's cache of prepared statements (db_sqlite.c) against a
 * real database: the same text twice is parsed once (also from two stack
 * buffers), nested use of one text gets a second statement, a statement
 * given back is reset (a WAL checkpoint by another connection completes),
 * its bindings cleared, and it follows schema changes; the cache stays
 * bounded (least recently used out first), keeps no PRAGMA and no
 * statement whose step failed, and db_close finalizes what it holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/err.h"
#include "store/db.h"
#include "store/store.h"
#include "store_fixture.h"

static int
setup(void **state)
{
	return store_fixture_setup(state, "stmtcache");
}

static int
teardown(void **state)
{
	return store_fixture_teardown(state);
}

static struct db *
dbh(void **state)
{
	return store_dbh(((struct store_fixture *)*state)->st);
}

static struct db_stmt_stats
stats(struct db *db)
{
	struct db_stmt_stats s;

	db_stmt_stats(db, &s);
	return s;
}

/* A table t of rows 1..n. */
static void
make_table(struct db *db, int n)
{
	int i;

	assert_int_equal(db_exec(db, "CREATE TABLE t (x INTEGER PRIMARY KEY)"), 0);
	for (i = 1; i <= n; i++)
		assert_int_equal(db_run(db, "INSERT INTO t (x) VALUES (?)", "i", (int64_t)i), 0);
}

static void
test_reuse(void **state)
{
	struct store *st = ((struct store_fixture *)*state)->st;
	struct db *db = dbh(state);
	struct db_stmt_stats s0, s1;
	char a[64], b[64];
	int64_t v = 0;

	s0 = stats(db);
	assert_int_equal(db_int(db, &v, "SELECT ? + 1", "i", (int64_t)41), 0);
	assert_int_equal(v, 42);
	assert_int_equal(db_int(db, &v, "SELECT ? + 1", "i", (int64_t)1), 0);
	assert_int_equal(v, 2);
	s1 = stats(db);
	assert_int_equal(s1.prepares - s0.prepares, 1);
	assert_int_equal(s1.hits - s0.hits, 1);
	/* keyed by the text, not the pointer: two buffers, one statement */
	snprintf(a, sizeof(a), "SELECT %d * ?", 3);
	snprintf(b, sizeof(b), "SELECT %d * ?", 3);
	assert_int_equal(db_int(db, &v, a, "i", (int64_t)5), 0);
	assert_int_equal(db_int(db, &v, b, "i", (int64_t)7), 0);
	assert_int_equal(v, 21);
	s0 = stats(db);
	assert_int_equal(s0.prepares - s1.prepares, 1);
	assert_int_equal(s0.hits - s1.hits, 1);
	/* the store's own calls and transactions go through it too */
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_int(st, &v, "SELECT ? + 1", "i", (int64_t)9), 0);
	assert_int_equal(store_commit(st), 0);
	assert_int_equal(v, 10);
	/* BEGIN IMMEDIATE and COMMIT were kept from the migrations at open */
	s1 = stats(db);
	assert_int_equal(s1.prepares, s0.prepares);
	assert_int_equal(s1.hits - s0.hits, 3);
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_commit(st), 0);
	assert_int_equal(stats(db).prepares, s1.prepares);
	assert_int_equal(stats(db).hits - s1.hits, 2);
}

/* An iteration over rows that runs the same query inside: the inner one
 * is a statement of its own, and both read every row. */
static void
test_nested(void **state)
{
	static const char sql[] = "SELECT x FROM t ORDER BY x";
	struct db *db = dbh(state);
	struct db_stmt *outer, *inner;
	struct db_stmt_stats s0, s1;
	int64_t sum_outer = 0, rows_inner = 0;
	int rc;

	make_table(db, 3);
	s0 = stats(db);
	assert_int_equal(db_prepare(db, sql, &outer), 0);
	while ((rc = db_step(outer)) == 1) {
		sum_outer += db_column_int64(outer, 0);
		assert_int_equal(db_prepare(db, sql, &inner), 0);
		assert_ptr_not_equal(inner, outer);
		while ((rc = db_step(inner)) == 1)
			rows_inner++;
		assert_int_equal(rc, 0);
		db_finalize(inner);
	}
	assert_int_equal(rc, 0);
	db_finalize(outer);
	assert_int_equal(sum_outer, 6);
	assert_int_equal(rows_inner, 9);
	s1 = stats(db);
	/* outer, then the first inner while outer was in use; the other two
	 * inners took that copy back */
	assert_int_equal(s1.prepares - s0.prepares, 2);
	assert_int_equal(s1.hits - s0.hits, 2);
	/* both copies kept: two at once again without parsing */
	assert_int_equal(db_prepare(db, sql, &outer), 0);
	assert_int_equal(db_prepare(db, sql, &inner), 0);
	assert_int_equal(stats(db).prepares, s1.prepares);
	assert_int_equal(stats(db).hits - s1.hits, 2);
	db_finalize(inner);
	db_finalize(outer);
}

/* Another connection writes, then checkpoints with TRUNCATE; the first
 * column of the result is 1 when a reader kept it from completing. */
static int64_t
checkpoint_busy(sqlite3 *other)
{
	sqlite3_stmt *q;
	int64_t busy;

	assert_int_equal(sqlite3_exec(other, "INSERT INTO t (x) VALUES (NULL)", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(other, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &q,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	busy = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return busy;
}

static void
test_reset_releases_read(void **state)
{
	struct store_fixture *f = *state;
	struct db *db = dbh(state);
	char path[128], wal[136];
	sqlite3_stmt *raw;
	struct db_stmt *q;
	struct stat sb;
	sqlite3 *other;

	make_table(db, 5);
	snprintf(path, sizeof(path), "%s/station.db", f->dir);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	assert_int_equal(sqlite3_open_v2(path, &other, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	/* the control: a statement stepped once and not reset holds the
	 * reader that keeps the checkpoint from completing */
	assert_int_equal(sqlite3_prepare_v2(store_db(f->st), "SELECT x FROM t", -1, &raw, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(raw), SQLITE_ROW);
	assert_int_equal(checkpoint_busy(other), 1);
	sqlite3_finalize(raw);
	/* a cached one, stepped once and given back, holds nothing */
	assert_int_equal(db_prepare(db, "SELECT x FROM t", &q), 0);
	assert_int_equal(db_step(q), 1);
	db_finalize(q);
	assert_int_equal(stats(db).cached > 0, 1);
	assert_int_equal(checkpoint_busy(other), 0);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	/* and it still reads, the other connection's rows too */
	assert_int_equal(db_prepare(db, "SELECT x FROM t", &q), 0);
	assert_int_equal(db_step(q), 1);
	db_finalize(q);
	assert_int_equal(sqlite3_close(other), SQLITE_OK);
}

static void
test_bindings_cleared(void **state)
{
	struct db *db = dbh(state);
	struct db_stmt *q;
	uint64_t hits;

	assert_int_equal(db_stmtf(db, &q, "SELECT ?", "t", "last time's value"), 0);
	assert_int_equal(db_step(q), 1);
	assert_string_equal(db_column_text(q, 0), "last time's value");
	db_finalize(q);
	hits = stats(db).hits;
	assert_int_equal(db_prepare(db, "SELECT ?", &q), 0);
	assert_int_equal(stats(db).hits, hits + 1);
	assert_int_equal(db_step(q), 1);
	assert_true(db_column_is_null(q, 0));
	db_finalize(q);
}

/* A cached statement follows the table it reads: a column added, the
 * table dropped and made again with other columns. */
static void
test_schema_change(void **state)
{
	static const char sql[] = "SELECT * FROM s";
	struct db *db = dbh(state);
	struct db_stmt_stats s0;
	struct db_stmt *q;

	assert_int_equal(db_exec(db, "CREATE TABLE s (a INTEGER); INSERT INTO s VALUES (1)"), 0);
	assert_int_equal(db_prepare(db, sql, &q), 0);
	assert_int_equal(db_step(q), 1);
	assert_int_equal(db_column_count(q), 1);
	db_finalize(q);
	s0 = stats(db);
	assert_int_equal(db_exec(db, "ALTER TABLE s ADD COLUMN b INTEGER DEFAULT 7"), 0);
	assert_int_equal(db_prepare(db, sql, &q), 0);
	assert_int_equal(db_step(q), 1);
	assert_int_equal(db_column_count(q), 2);
	assert_int_equal(db_column_int64(q, 1), 7);
	db_finalize(q);
	/* DROP TABLE is not refused for the idle statement that reads it */
	assert_int_equal(db_exec(db, "DROP TABLE s; CREATE TABLE s (x TEXT, y TEXT, z TEXT);"
	    " INSERT INTO s VALUES ('p', 'q', 'r')"), 0);
	assert_int_equal(db_prepare(db, sql, &q), 0);
	assert_int_equal(db_step(q), 1);
	assert_int_equal(db_column_count(q), 3);
	assert_string_equal(db_column_text(q, 2), "r");
	assert_int_equal(db_step(q), 0);
	db_finalize(q);
	assert_int_equal(stats(db).prepares, s0.prepares);
	assert_int_equal(stats(db).hits - s0.hits, 2);
}

static void
test_bounded_lru(void **state)
{
	struct db *db = dbh(state);
	struct db_stmt_stats s0, s1;
	char sql[64];
	int64_t v;
	int i;

	for (i = 0; i < 3 * DB_STMT_CACHE_MAX; i++) {
		snprintf(sql, sizeof(sql), "SELECT %d", i);
		assert_int_equal(db_int(db, &v, sql, ""), 0);
		assert_int_equal(v, i);
		/* used between all the others: never the least recent */
		assert_int_equal(db_int(db, &v, "SELECT 'hot' = 'hot'", ""), 0);
		assert_true(stats(db).cached <= DB_STMT_CACHE_MAX);
	}
	s0 = stats(db);
	assert_int_equal(s0.cached, DB_STMT_CACHE_MAX);
	assert_true(s0.evicted >= 2 * DB_STMT_CACHE_MAX - 1);
	assert_int_equal(db_int(db, &v, "SELECT 'hot' = 'hot'", ""), 0);
	assert_int_equal(db_int(db, &v, "SELECT 0", ""), 0);	/* long gone */
	s1 = stats(db);
	assert_int_equal(s1.hits - s0.hits, 1);
	assert_int_equal(s1.prepares - s0.prepares, 1);
	assert_int_equal(s1.cached, DB_STMT_CACHE_MAX);
}

/* Not kept: a PRAGMA (synchronous= acts while it is prepared, so a kept
 * one would set nothing the second time) and a statement whose step failed. */
static void
test_not_kept(void **state)
{
	struct db *db = dbh(state);
	struct db_stmt_stats s0;
	int64_t v = -1;

	s0 = stats(db);
	assert_int_equal(db_run(db, "PRAGMA synchronous=OFF", ""), 0);
	assert_int_equal(db_int(db, &v, "PRAGMA synchronous", ""), 0);
	assert_int_equal(v, 0);
	assert_int_equal(db_run(db, "PRAGMA synchronous=FULL", ""), 0);
	assert_int_equal(db_run(db, "PRAGMA synchronous=OFF", ""), 0);
	assert_int_equal(db_int(db, &v, "PRAGMA synchronous", ""), 0);
	assert_int_equal(v, 0);
	assert_int_equal(db_run(db, "  pragma synchronous=FULL", ""), 0);
	assert_int_equal(db_int(db, &v, "PRAGMA synchronous", ""), 0);
	assert_int_equal(v, 2);
	assert_int_equal(stats(db).hits, s0.hits);
	assert_int_equal(stats(db).cached, s0.cached);

	make_table(db, 1);
	s0 = stats(db);
	assert_int_equal(db_run(db, "INSERT INTO t (x) VALUES (?)", "i", (int64_t)1),
	    UKEY_ERR_EXISTS);
	assert_int_equal(stats(db).cached, s0.cached - 1);	/* taken, then finalized */
	assert_int_equal(db_run(db, "INSERT INTO t (x) VALUES (?)", "i", (int64_t)2), 0);
	assert_int_equal(stats(db).prepares - s0.prepares, 1);
}

/* db_close finalizes every cached statement: the handle under a wrapped
 * db then closes (sqlite3_close refuses one with statements left), and
 * LeakSanitizer (the ASan build) finds nothing left either. */
static void
test_close_frees(void **state)
{
	struct store_fixture *f = *state;
	struct db *db, *own;
	char path[128], sql[64];
	sqlite3 *h;
	int64_t v;
	int i;

	snprintf(path, sizeof(path), "%s/station.db", f->dir);
	assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(db_sqlite_wrap(h, &db), 0);
	for (i = 0; i < 10; i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) + %d FROM schema_migrations", i);
		assert_int_equal(db_int(db, &v, sql, ""), 0);
	}
	assert_int_equal(stats(db).cached, 10);
	assert_non_null(sqlite3_next_stmt(h, NULL));
	db_close(db);
	assert_null(sqlite3_next_stmt(h, NULL));
	assert_int_equal(sqlite3_close(h), SQLITE_OK);
	/* and a db that owns its handle */
	assert_int_equal(db_open(path, &own), 0);
	assert_int_equal(db_int(own, &v, "SELECT count(*) FROM schema_migrations", ""), 0);
	assert_int_equal(db_begin(own), 0);
	assert_int_equal(db_commit(own), 0);
	assert_true(stats(own).cached >= 2);
	db_close(own);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_releases_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bindings_cleared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded_lru, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_frees, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
