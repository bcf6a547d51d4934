/* ukey-bench-claims: what claiming a unit and recording its end costs on
 * the store, PostgreSQL (1 and 3 stations claiming together, leases kept)
 * against SQLite (one station), with no token in the way. Starts its own
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

int
main(int argc, char **argv)
{
	struct pg_server srv;
	int n = 600, c, rc;

	while ((c = getopt(argc, argv, "n:")) != -1) {
		if (c != 'n' || (n = atoi(optarg)) <= 0) {
			fprintf(stderr, "usage: ukey-bench-claims [-n UNITS]\n");
			return 2;
		}
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
	rc = bench_pg(&srv, n) == 0 && bench_sqlite(n) == 0 ? 0 : 1;
	pg_server_stop(&srv);
	return rc;
}
