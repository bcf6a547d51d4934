/* ukey-bench-claims: what claiming a unit and recording its end costs on
 * the store, PostgreSQL (1 and 3 stations claiming together, leases kept)
 * against SQLite (one station), with no token in the way; then a service
 * point's claim with another point's large order queued. Starts its own
 * PostgreSQL server (tests/tools/pg-test-server, fsync on). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/benchstat.h"
#include "common/err.h"
#include "common/log.h"
#include "common/svcpoint.h"
#include "store/db.h"
#include "store/store_jobs.h"
#include "store/store_lease.h"
#include "pg_fixture.h"

#define AT "2026-03-01T10:00:00Z"

/* One unit through the store as a station does it: the claim (the head of
 * the queue under a lease, its job row) in one transaction, the record
 * (journal, unit issued, lease released) in another. 1: done, 0: queue
 * empty, <0: error. */
static int
claim_and_record(struct store *st, const char *station)
{
	struct store_job_new jn = { .bay = "bay-1", .profile = "softhsm",
	    .operator_name = "bench", .key_alg = "ec-p256" };
	int64_t unit = 0, job = 0;
	int rc;

	if ((rc = store_begin(st)) != 0)
		return rc;
	if ((rc = store_unit_take_next(st, 0, station, 60, AT, &unit)) != 0 || unit == 0) {
		store_rollback(st);
		return rc;
	}
	jn.unit_id = unit;
	if ((rc = store_job_insert(st, &jn, AT, &job)) != 0 ||
	    (rc = store_lease_attach_job(st, unit, job)) != 0 || (rc = store_commit(st)) != 0)
		goto fail;
	if ((rc = store_begin(st)) != 0)
		return rc;
	if ((rc = store_job_step_mark(st, job, "record", "done", NULL, AT)) != 0 ||
	    (rc = store_unit_set_issued(st, unit, AT)) != 0 ||
	    (rc = store_lease_release(st, unit, station)) != 0 || (rc = store_commit(st)) != 0)
		goto fail;
	return 1;
 fail:
	store_rollback(st);
	return rc;
}

/* A claiming station: claims until the queue is empty, writing each
 * claim's milliseconds to fd. Exit status 0 or 1. */
static void
station(const char *url, int id, int go, int fd)
{
	struct store *st = NULL;
	char name[16], c;
	double t0, ms;
	int rc;

	snprintf(name, sizeof(name), "bench-%d", id);
	if (store_open_url(url, &st) != 0)
		_exit(1);
	(void)read(go, &c, 1);
	for (;;) {
		t0 = bench_now_ms();
		if ((rc = claim_and_record(st, name)) <= 0)
			break;
		ms = bench_now_ms() - t0;
		if (write(fd, &ms, sizeof(ms)) != sizeof(ms))
			_exit(1);
	}
	store_close(st);
	_exit(rc == 0 ? 0 : 1);
}

/* Runs procs stations on url's queue of n units; prints a table row. */
static int
run(const char *what, const char *url, int procs, int n)
{
	double *v = calloc((size_t)n, sizeof(double)), t0, wall, ms;
	int go[2], fd[8][2], i, status, ok = 1;
	struct bench_stat s;
	size_t k = 0;
	pid_t pid[8];

	if (v == NULL || pipe(go) != 0)
		return -1;
	for (i = 0; i < procs; i++) {
		if (pipe(fd[i]) != 0 || (pid[i] = fork()) < 0)
			return -1;
		if (pid[i] == 0) {
			close(go[1]);
			close(fd[i][0]);
			station(url, i + 1, go[0], fd[i][1]);
		}
		close(fd[i][1]);
	}
	close(go[0]);
	t0 = bench_now_ms();
	close(go[1]);
	for (i = 0; i < procs; i++) {
		while (read(fd[i][0], &ms, sizeof(ms)) == sizeof(ms) && k < (size_t)n)
			v[k++] = ms;
		close(fd[i][0]);
		waitpid(pid[i], &status, 0);
		ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	wall = bench_now_ms() - t0;
	if (!ok || k != (size_t)n) {
		fprintf(stderr, "%s: %zu of %d units claimed, or a station failed\n", what, k, n);
		free(v);
		return -1;
	}
	bench_stat_of(v, k, &s);
	printf("| %-22s | %8d | %5d | %10.0f | %9.2f | %9.2f | %9.2f |\n", what, procs, n,
	    (double)n * 1e3 / wall, s.median, s.p90, s.mean);
	free(v);
	return 0;
}

static int
queue(const char *url, int n)
{
	struct store *st = NULL;
	int64_t order = 0;
	int rc;

	if ((rc = store_open_url(url, &st)) != 0)
		return rc;
	rc = pg_fixture_order(st, "BENCH-1", n, AT, &order);
	store_close(st);
	return rc;
}

static int
bench_pg(struct pg_server *srv, int n)
{
	char url[256];

	if (pg_fresh_db(srv, "bench1", url, sizeof(url)) != 0 || queue(url, n) != 0 ||
	    run("PostgreSQL, 1 station", url, 1, n) != 0)
		return -1;
	if (pg_fresh_db(srv, "bench3", url, sizeof(url)) != 0 || queue(url, n) != 0 ||
	    run("PostgreSQL, 3 stations", url, 3, n) != 0)
		return -1;
	return 0;
}

static int
bench_sqlite(int n)
{
	char dir[64] = "/tmp/ukey-bench-claims-XXXXXX", url[128], cmd[128];
	int rc;

	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(url, sizeof(url), "%s/station.db", dir);
	rc = queue(url, n) == 0 && run("SQLite, 1 station", url, 1, n) == 0 ? 0 : -1;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = -1;
	return rc;
}

/* The point's orders of one arrangement of bench_own_pass: `orders` of
 * `units` units, paid at `at`, left queued or taken into production. */
struct own_orders {
	const char *what;
	int orders, units;
	const char *at;
	int in_production;
};

/* Adds arrangement no's orders for point dali (and ANALYZE on
 * PostgreSQL); 0 or an error. */
static int
own_orders_add(struct store *st, const struct own_orders *a, int no)
{
	char ref[48];
	int64_t id;
	int k, rc = 0;

	for (k = 0; k < a->orders && rc == 0; k++) {
		snprintf(ref, sizeof(ref), "DALI-%d-%d", no, k);
		if ((rc = pg_fixture_order(st, ref, a->units, a->at, &id)) != 0 ||
		    (rc = store_order_set_service_point(st, id, "dali", AT)) != 0 ||
		    (rc = store_run(st, "UPDATE orders SET state = 'in_production' WHERE id = ?", "i",
		    id)) != 0)
			break;
		if (a->in_production)
			rc = store_run(st, "UPDATE units SET state = 'in_production' WHERE item_id IN"
			    " (SELECT id FROM order_items WHERE order_id = ?)", "i", id);
	}
	if (rc == 0 && db_backend(store_dbh(st)) == DB_PG)
		rc = store_run(st, "ANALYZE", "");
	return rc;
}

/* Takes one arrangement's orders out of production (cancelled). */
static int
own_orders_drop(struct store *st)
{
	int rc;

	if ((rc = store_run(st, "UPDATE units SET state = 'cancelled' WHERE item_id IN (SELECT i.id"
	    " FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.service_point = 'dali')",
	    "")) != 0)
		return rc;
	return store_run(st, "UPDATE orders SET state = 'cancelled', service_point = NULL"
	    " WHERE service_point = 'dali'", "");
}

/* A service point's station (take = own-first) with another point's order
 * of `big` units queued: a blank token's whole claim (store_units_for_token,
 * 200 units: the point's own pass, then the others'), 21 times, for the
 * point's orders in five arrangements; prints a table row each. */
static int
own_pass(const char *what, const char *url, int big)
{
	const struct own_orders arr[] = {
		{ "1 order of 16, in production", 1, 16, "2026-03-01T09:00:00Z", 1 },
		{ "1 order of 16, queued after", 1, 16, "2026-03-01T11:00:00Z", 0 },
		{ "40 orders of 5, queued after", 40, 5, "2026-03-01T11:00:00Z", 0 },
		{ "2000 orders of 5, queued after", 2000, 5, "2026-03-01T11:00:00Z", 0 },
		{ "2000 orders of 5, queued before", 2000, 5, "2026-03-01T09:00:00Z", 0 },
	};
	struct store *st = NULL;
	struct bench_stat s;
	double v[21], t0;
	int64_t id;
	size_t i, k;
	int rc;

	if ((rc = store_open_url(url, &st)) != 0)
		return rc;
	if ((rc = pg_fixture_order(st, "OTHERS", big, AT, &id)) != 0 ||
	    (rc = store_order_set_service_point(st, id, "kunming-1", AT)) != 0 ||
	    (rc = store_set_claim_scope(st, "dali", SVCPOINT_TAKE_OWN_FIRST)) != 0)
		goto out;
	for (i = 0; i < sizeof(arr) / sizeof(arr[0]) && rc == 0; i++) {
		if ((rc = own_orders_add(st, &arr[i], (int)i)) != 0)
			break;
		for (k = 0; k < 21 && rc == 0; k++) {
			struct store_unit_claim *c = NULL;
			size_t n = 0;

			t0 = bench_now_ms();
			rc = store_units_for_token(st, "softhsm2", NULL, 200, &c, &n);
			v[k] = bench_now_ms() - t0;
			store_unit_claims_free(c, n);
		}
		if (rc != 0)
			break;
		bench_stat_of(v, 21, &s);
		printf("| %-10s | %8d | %-31s | %9.2f | %9.2f |\n", what, big, arr[i].what, s.median,
		    s.p90);
		rc = own_orders_drop(st);
	}
 out:
	if (rc != 0)
		fprintf(stderr, "%s: own pass: %s\n", what, ukey_strerror(rc));
	store_close(st);
	return rc;
}

static int
bench_own_pass(struct pg_server *srv, int big)
{
	char dir[64] = "/tmp/ukey-bench-claims-XXXXXX", url[256], cmd[128];
	int rc;

	printf("\nA station of service point dali (take = own-first), another point's order queued:"
	    " a blank token's claim, 21 times\n\n");
	printf("| store      | others'  | dali's orders                   | median ms | p90 ms    |\n");
	printf("|------------|----------|---------------------------------|-----------|-----------|\n");
	if (pg_fresh_db(srv, "ownpass", url, sizeof(url)) != 0 || own_pass("PostgreSQL", url, big) != 0)
		return -1;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(url, sizeof(url), "%s/station.db", dir);
	rc = own_pass("SQLite", url, big);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = -1;
	return rc;
}

int
main(int argc, char **argv)
{
	struct pg_server srv;
	int n = 600, big = 100000, c, rc;

	while ((c = getopt(argc, argv, "n:q:")) != -1) {
		if ((c != 'n' && c != 'q') || atoi(optarg) <= 0) {
			fprintf(stderr, "usage: ukey-bench-claims [-n UNITS] [-q QUEUED]\n");
			return 2;
		}
		*(c == 'n' ? &n : &big) = atoi(optarg);
	}
	log_init("ukey-bench-claims", LOG_LVL_WARN);
	setenv("PG_TEST_FSYNC", "on", 1);
	if (pg_server_start(&srv) != 0) {
		fprintf(stderr, "ukey-bench-claims: the PostgreSQL server did not start\n");
		return 1;
	}
	printf("| store                  | stations | units | claims/s   | median ms |"
	    " p90 ms    | mean ms   |\n");
	printf("|------------------------|----------|-------|------------|-----------|"
	    "-----------|-----------|\n");
	rc = bench_pg(&srv, n) == 0 && bench_sqlite(n) == 0 && bench_own_pass(&srv, big) == 0 ?
	    0 : 1;
	pg_server_stop(&srv);
	return rc;
}
