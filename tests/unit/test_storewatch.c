/* The daemon's watch on its store (src/station/storewatch.c): the backoff
 * 1, 2, 4 ... 30 s, a real PostgreSQL server stopped under it (the store goes
 * down, reconnections fail on schedule, it is up again once the server is
 * back), SQLite never down, and the UKEY_TEST_STORE_DOWN hook. Time is the
 * caller's monotonic ms, so the schedule is checked without waiting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "station/storewatch.h"
#include "pg_fixture.h"

static struct pg_server server;

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
test_delays(void **state)
{
	static const int want[] = { 1, 2, 4, 8, 16, 30, 30, 30 };
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(storewatch_delay((int)i), want[i]);
	assert_int_equal(storewatch_delay(1000), STOREWATCH_MAX_DELAY_S);
}

static void
test_describe(void **state)
{
	struct storewatch w = { 0 };
	struct json_object *j;
	char buf[400];

	storewatch_describe(&w, 0, buf, sizeof(buf));
	assert_string_equal(buf, "up");
	j = storewatch_json(&w, 0);
	assert_string_equal(json_object_get_string(json_object_object_get(j, "state")), "up");
	assert_null(json_object_object_get(j, "since"));
	json_object_put(j);

	assert_int_equal(storewatch_mark_down(&w, "server closed the connection", 5000), 1);
	assert_int_equal(storewatch_mark_down(&w, "again", 5100), 0);	/* once */
	assert_string_equal(w.why, "server closed the connection");
	assert_int_equal(storewatch_retry_in(&w, 5000), 1);
	assert_int_equal(storewatch_retry_in(&w, 6000), 0);
	storewatch_describe(&w, 5000, buf, sizeof(buf));
	assert_non_null(strstr(buf, "down since 20"));
	assert_non_null(strstr(buf, ", retrying in 1 s: server closed the connection"));
	j = storewatch_json(&w, 5000);
	assert_string_equal(json_object_get_string(json_object_object_get(j, "state")), "down");
	assert_int_equal(json_object_get_int(json_object_object_get(j, "retry_in_s")), 1);
	assert_string_equal(json_object_get_string(json_object_object_get(j, "why")),
	    "server closed the connection");
	json_object_put(j);
}

static void
test_sqlite_never_down(void **state)
{
	char dir[] = "/tmp/ukey-test-sw-XXXXXX", path[64];
	struct storewatch w = { 0 };
	struct store *st = NULL;
	char why[64];

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/station.db", dir);
	assert_int_equal(store_open(path, &st), 0);
	assert_int_equal(store_connection_lost(st, why, sizeof(why)), 0);
	assert_int_equal(storewatch_tick(&w, st, 0), STOREWATCH_SAME);
	assert_int_equal(storewatch_tick(&w, st, 100000), STOREWATCH_SAME);
	assert_int_equal(w.down, 0);
	store_close(st);
	unlink(path);
	rmdir(dir);
}

/* Drives the watch at each reconnection's due time while the server is
 * away: the gaps are the backoff's. */
static void
expect_failed_tries(struct storewatch *w, struct store *st, int64_t *t, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		int64_t due = w->retry_ms;

		assert_int_equal(storewatch_tick(w, st, due - 1), STOREWATCH_SAME);
		assert_int_equal(w->attempts, i);	/* not tried before its time */
		assert_int_equal(storewatch_tick(w, st, due), STOREWATCH_SAME);
		assert_int_equal(w->attempts, i + 1);
		assert_int_equal(w->retry_ms - due, 1000L * storewatch_delay(i + 1));
		*t = due;
	}
}

static void
test_pg_server_restart(void **state)
{
	struct storewatch w = { 0 };
	struct store *st = NULL;
	char url[256], why[256];
	int64_t n = 0, t = 0;

	assert_int_equal(pg_fresh_db(&server, "watch", url, sizeof(url)), 0);
	assert_int_equal(store_open_url(url, &st), 0);
	assert_int_equal(storewatch_tick(&w, st, t), STOREWATCH_SAME);
	assert_int_equal(pg_server_halt(&server), 0);
	assert_int_equal(store_int(st, &n, "SELECT count(*) FROM units", ""), UKEY_ERR_UNAVAIL);
	assert_int_equal(store_connection_lost(st, why, sizeof(why)), 1);
	assert_true(why[0] != '\0');
	assert_int_equal(storewatch_tick(&w, st, t), STOREWATCH_LOST);
	assert_int_equal(w.down, 1);
	assert_int_equal(w.retry_ms, 1000);
	expect_failed_tries(&w, st, &t, 7);	/* 1, 2, 4, 8, 16, 30, 30 s */
	assert_int_equal(w.down, 1);
	assert_int_equal(pg_server_start_again(&server), 0);
	assert_int_equal(storewatch_tick(&w, st, w.retry_ms - 1), STOREWATCH_SAME);
	assert_int_equal(storewatch_tick(&w, st, w.retry_ms), STOREWATCH_BACK);
	assert_int_equal(w.down, 0);
	assert_int_equal(store_connection_lost(st, why, sizeof(why)), 0);
	assert_int_equal(store_int(st, &n, "SELECT count(*) FROM units", ""), 0);
	assert_int_equal(storewatch_tick(&w, st, w.retry_ms + 60000), STOREWATCH_SAME);
	store_close(st);
}

/* The integration tests' hook on SQLite: the store is away while a file
 * exists, and back once it is gone. */
static void
test_hook_file(void **state)
{
	char dir[] = "/tmp/ukey-test-sw-XXXXXX", path[64], flag[64];
	struct storewatch w = { 0 };
	struct store *st = NULL;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/station.db", dir);
	snprintf(flag, sizeof(flag), "%s/down", dir);
	assert_int_equal(store_open(path, &st), 0);
	setenv("UKEY_TEST_STORE_DOWN", flag, 1);
	assert_int_equal(storewatch_tick(&w, st, 0), STOREWATCH_SAME);
	assert_non_null(f = fopen(flag, "w"));
	fclose(f);
	assert_int_equal(storewatch_tick(&w, st, 0), STOREWATCH_LOST);
	assert_non_null(strstr(w.why, "UKEY_TEST_STORE_DOWN"));
	assert_int_equal(storewatch_tick(&w, st, 1000), STOREWATCH_SAME);
	assert_int_equal(w.attempts, 1);
	unlink(flag);
	assert_int_equal(storewatch_tick(&w, st, 2999), STOREWATCH_SAME);
	assert_int_equal(storewatch_tick(&w, st, 3000), STOREWATCH_BACK);
	unsetenv("UKEY_TEST_STORE_DOWN");
	store_close(st);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delays),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_sqlite_never_down),
		cmocka_unit_test(test_hook_file),
		cmocka_unit_test(test_pg_server_restart),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
