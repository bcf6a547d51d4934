/* ukey-bench-audit: what appending one audit record costs, on PostgreSQL
 * (1 and 3 stations appending at once, each to its own chain under its own
 * advisory lock) against SQLite (one station). Starts its own PostgreSQL server
 * (tests/tools/pg-test-server, fsync on). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/benchstat.h"
#include "common/err.h"
#include "common/log.h"
#include "store/audit.h"
#include "pg_fixture.h"

#define MAXPROCS 8

/* Appending station `station`: n records, each alone (its own
 * transaction), the milliseconds of each written to fd. Exit status 0 or
 * 1. */
static void
appender(const char *url, int station, int n, int go, int fd)
{
	struct audit_event ev = { .actor = "ukeyd", .action = "job.step", .job_id = 1,
		.bay = "bay-1", .detail = "{\"step\":\"generate_key\",\"phase\":\"done\"}" };
	struct store *st = NULL;
	char name[32], c;
	double t0, ms;
	int i;

	snprintf(name, sizeof(name), "bench-%d", station);
	ev.station = name;
	if (store_open_url(url, &st) != 0)
		_exit(1);
	(void)read(go, &c, 1);
	for (i = 0; i < n; i++) {
		t0 = bench_now_ms();
		if (audit_append(st, &ev, NULL) != 0)
			_exit(1);
		ms = bench_now_ms() - t0;
		if (write(fd, &ms, sizeof(ms)) != sizeof(ms))
			_exit(1);
	}
	store_close(st);
	_exit(0);
}

/* Waits for the appenders, collecting their samples into v; 0 when all
 * succeeded and n samples came. */
static int
collect(int procs, const pid_t *pid, int fd[][2], double *v, int n)
{
	int i, status, ok = 1;
	size_t k = 0;
	double ms;

	for (i = 0; i < procs; i++) {
		while (read(fd[i][0], &ms, sizeof(ms)) == sizeof(ms) && k < (size_t)n)
			v[k++] = ms;
		close(fd[i][0]);
		waitpid(pid[i], &status, 0);
		ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	return ok && k == (size_t)n ? 0 : -1;
}

/* procs stations append n records in all to url's log; prints a table row. */
static int
run(const char *what, const char *url, int procs, int n)
{
	double *v = calloc((size_t)n, sizeof(double)), t0, wall;
	int go[2], fd[MAXPROCS][2], i;
	struct bench_stat s;
	pid_t pid[MAXPROCS];

	if (v == NULL || pipe(go) != 0)
		return -1;
	for (i = 0; i < procs; i++) {
		if (pipe(fd[i]) != 0 || (pid[i] = fork()) < 0)
			return -1;
		if (pid[i] == 0) {
			close(go[1]);
			close(fd[i][0]);
			appender(url, i + 1, n / procs, go[0], fd[i][1]);
		}
		close(fd[i][1]);
	}
	close(go[0]);
	t0 = bench_now_ms();
	close(go[1]);
	if (collect(procs, pid, fd, v, n / procs * procs) != 0) {
		fprintf(stderr, "%s: an appender failed\n", what);
		free(v);
		return -1;
	}
	wall = bench_now_ms() - t0;
	n = n / procs * procs;
	bench_stat_of(v, (size_t)n, &s);
	printf("| %-22s | %8d | %7d | %10.0f | %9.2f | %9.2f | %9.2f |\n", what, procs, n,
	    (double)n * 1e3 / wall, s.median, s.p90, s.mean);
	free(v);
	return 0;
}

static int
bench_pg(struct pg_server *srv, int n)
{
	char url[256];

	if (pg_fresh_db(srv, "audit1", url, sizeof(url)) != 0 ||
	    run("PostgreSQL, 1 station", url, 1, n) != 0)
		return -1;
	if (pg_fresh_db(srv, "audit3", url, sizeof(url)) != 0 ||
	    run("PostgreSQL, 3 stations", url, 3, n) != 0)
		return -1;
	return 0;
}

static int
bench_sqlite(int n)
{
	char dir[64] = "/tmp/ukey-bench-audit-XXXXXX", url[128], cmd[128];
	struct store *st = NULL;
	int rc;

	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(url, sizeof(url), "%s/station.db", dir);
	rc = store_open_url(url, &st);	/* the schema, before the clock starts */
	store_close(st);
	if (rc == 0)
		rc = run("SQLite, 1 station", url, 1, n);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = -1;
	return rc;
}

int
main(int argc, char **argv)
{
	struct pg_server srv;
	int n = 1200, c, rc;

	while ((c = getopt(argc, argv, "n:")) != -1) {
		if (c != 'n' || (n = atoi(optarg)) < 3) {
			fprintf(stderr, "usage: ukey-bench-audit [-n RECORDS]\n");
			return 2;
		}
	}
	log_init("ukey-bench-audit", LOG_LVL_WARN);
	setenv("PG_TEST_FSYNC", "on", 1);
	if (pg_server_start(&srv) != 0) {
		fprintf(stderr, "ukey-bench-audit: the PostgreSQL server did not start\n");
		return 1;
	}
	printf("| store                  | stations | records | appends/s  | median ms |"
	    " p90 ms    | mean ms   |\n");
	printf("|------------------------|----------|---------|------------|-----------|"
	    "-----------|-----------|\n");
	rc = bench_pg(&srv, n) == 0 && bench_sqlite(n) == 0 ? 0 : 1;
	pg_server_stop(&srv);
	return rc;
}
