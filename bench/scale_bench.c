/* ukey-bench-scale: the station at scale (issue 15, item 3). A store seeded
 * directly with N issuances (in 50 organisations: 20,000 each at 1M) and N
 * audit records (one hash chain, a signed checkpoint at its end), then ukeyd
 * on it, timed on its socket as ukeyctl asks:
 *   `audit serials --org X --limit 1000` (the first page),
 *   `audit verify` (the whole chain and its checkpoint),
 *   `status`, alone and while a verification runs (it runs off the loop),
 *   the reports (off the loop too) and `status` while each runs,
 * first without the index on issuances(org_uscc, id) (migration 15,
 * dropped for the measure) and again with it; then the reconciliation with
 * every issuance in the CA's list, ukeyd's start with them all revoked (a
 * CRL of N entries signed, in its thread), and a queue of N units
 * (bench/README.md).
 * Usage: ukey-bench-scale [-n N] [-M] (-M: 1,000,000; default 100,000).
 * The seeding writes rows as a test fixture does (SQL here, in the bench,
 * not in the product); the figures are of the product's own paths. */
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sqlite3.h>

#include "bench/benchstat.h"
#include "ca/ca.h"
#include "ca/certprof.h"
#include "common/frame.h"
#include "common/log.h"
#include "store/audit.h"
#include "store/auditkey.h"
#include "store/db.h"
#include "store/store.h"
#include "store/store_units.h"
#include "store/store_auditq.h"

#define ORGS 50
/* an organisation with only the last 10 certificates: its first page is
 * found only by reading past all the others, without an index */
#define RARE_ORG "91530100MA6KRARE01"
#define ROUNDS 5

static char state[64] = "/tmp/ukey-bench-scale-XXXXXX";
static pid_t daemon_pid = -1;
static double daemon_start_ms;
static int64_t seeded;		/* N: the issuances seeded */

static double round_trip(const char *cmd, const char *args);

/* Starts ukeyd on the state; 0 once it answers, its start's milliseconds
 * (fork to the first ping answered) in daemon_start_ms. */
static int
start_daemon(void)
{
	double t0 = bench_now_ms();
	char path[600];
	int i, fd;

	if ((daemon_pid = fork()) < 0)
		return -1;
	if (daemon_pid == 0) {
		snprintf(path, sizeof(path), "%s/ukeyd.log", state);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600)) >= 0)
			dup2(fd, 2);
		snprintf(path, sizeof(path), "%s/ukeyd", UKEY_BUILD_DIR);
		execl(path, "ukeyd", "--state", state, (char *)NULL);
		_exit(127);
	}
	/* its socket answers a ping once it is up: daemon_start_ms */
	for (i = 0; i < 12000; i++) {
		if (round_trip("ping", "{}") >= 0) {
			daemon_start_ms = bench_now_ms() - t0;
			return 0;
		}
		usleep(5000);
	}
	fprintf(stderr, "ukey-bench-scale: ukeyd did not start (%s/ukeyd.log)\n", state);
	return -1;
}

static void
stop_daemon(void)
{
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, NULL, 0);
	}
	daemon_pid = -1;
}

static int
write_config(void)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/ukeyd.conf", state);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "[station]\nid = bench-scale\nprofile_dirs = %s/firmware-profiles\n"
	    "cert_profile_dir = %s/cert-profiles\nworker = %s/ukey-worker\n[sim]\nbays = 1\n",
	    UKEY_SOURCE_DIR, UKEY_SOURCE_DIR, UKEY_BUILD_DIR);
	return fclose(f);
}

/* n issuances of ORGS organisations (and the last 10 of RARE_ORG), one
 * order, in one statement. */
static int
seed_issuances(struct store *st, int64_t n)
{
	struct db *db = store_dbh(st);

	if (db_exec(db, "PRAGMA foreign_keys = OFF") != 0 ||
	    db_run(db, "INSERT INTO orders (id, portal_ref, type, account_uscc, state, total_fen,"
	    " doc, created_at, created_by, updated_at) VALUES (1, 'BENCH-1', 'new',"
	    " '91530100MA6K5U5X70', 'issued', 0, '{}', '2026-01-01T00:00:00Z', 'bench',"
	    " '2026-01-01T00:00:00Z')", "") != 0)
		return -1;
	return db_run(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
	    " WHERE i < ?1) INSERT INTO issuances (order_id, item_id, unit_id, job_id, cert_serial,"
	    " subject, issuer, not_before, not_after, key_alg, key_local, key_always_sensitive,"
	    " key_never_extractable, token_serial, token_model, token_profile, org_uscc, kind,"
	    " cert, operator, station_id, started_at, issued_at)"
	    " SELECT 1, 1, i, i, printf('%016X', i), 'CN=bench ' || i, 'CN=Bench CA',"
	    " '2026-01-01T00:00:00Z', '2028-01-01T00:00:00Z', 'ec-p256', 1, 1, 1,"
	    " printf('T%08d', i), 'softhsm', 'softhsm2',"
	    " CASE WHEN i > ?1 - 10 THEN '" RARE_ORG "' ELSE printf('91530100MA6K%06d', i % ?2) END,"
	    " 'organisation', x'30', 'bench', 'bench-scale', '2026-01-01T00:00:00Z',"
	    " '2026-01-01T00:00:01Z' FROM n", "ii", n, (int64_t)ORGS);
}

/* The production behind the issuances: order 1's item and its n units,
 * issued, and n jobs (the issuances' job ids), one in 50 failed, ended over
 * the 365 days of 2026 by seven operators; and n / 10 more orders, paid
 * over the same year, a third of them waiting for production: what the
 * production and service-time reports read. */
static int
seed_jobs(struct store *st, int64_t n)
{
	struct db *db = store_dbh(st);

	return db_run(db, "UPDATE orders SET paid_at = '2026-01-01T00:00:00Z' WHERE id = 1", "") ||
	    db_run(db, "INSERT INTO order_items (id, order_id, seq, kind, name, cert_profile,"
	    " years, count) VALUES (1, 1, 1, 'organisation', 'bench', 'organisation', 1, ?)", "i",
	    n) ||
	    db_run(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
	    " WHERE i < ?1) INSERT INTO units (id, item_id, seq, state, updated_at)"
	    " SELECT i, 1, i, 'issued', '2026-01-01T00:00:00Z' FROM n", "i", n) ||
	    db_run(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
	    " WHERE i < ?1) INSERT INTO jobs (id, unit_id, bay, profile, step, state, operator,"
	    " started_at, updated_at, finished_at) SELECT i, i, 'sim-1', 'softhsm2',"
	    " CASE WHEN i % 50 = 0 THEN 'write_cert' ELSE 'issued' END,"
	    " CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'issued' END, 'op' || (i % 7),"
	    " strftime('%Y-%m-%dT%H:%M:%SZ', t, '-100 seconds'), t, t FROM (SELECT i,"
	    " strftime('%Y-%m-%dT%H:%M:%SZ', '2026-01-01', '+' || (i % 365) || ' days',"
	    " '+' || (i % 80000) || ' seconds') AS t FROM n)", "i", n) ||
	    db_run(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
	    " WHERE i < ?1) INSERT INTO orders (id, portal_ref, type, account_uscc, org_name, state,"
	    " total_fen, doc, reviewed_at, paid_at, created_at, created_by, updated_at)"
	    " SELECT 100 + i, 'BENCH-S' || i, 'new', '91530100MA6K5U5X70', 'bench',"
	    " CASE WHEN i % 3 = 0 THEN 'waiting_production' ELSE 'issued' END, 100, '{}', t, t, t,"
	    " 'bench', t FROM (SELECT i, strftime('%Y-%m-%dT%H:%M:%SZ', '2026-01-01',"
	    " '+' || (i % 365) || ' days') AS t FROM n)", "i", n / 10) ? -1 : 0;
}

/* n audit records in one transaction, then a signed checkpoint. */
static int
seed_audit(struct store *st, int64_t n)
{
	struct audit_event ev = { .station = "bench-scale", .actor = "ukeyd", .action = "job.step",
		.job_id = 1, .bay = "sim-1",
		.detail = "{\"step\":\"generate_key\",\"phase\":\"done\"}" };
	struct json_object *cp = NULL;
	char keydir[600];
	EVP_PKEY *key = NULL;
	int64_t i;
	int rc;

	if (store_begin(st) != 0)
		return -1;
	for (i = 0; i < n; i++)
		if (audit_append(st, &ev, NULL) != 0) {
			store_rollback(st);
			return -1;
		}
	if (store_commit(st) != 0)
		return -1;
	snprintf(keydir, sizeof(keydir), "%s/keys", state);
	if ((rc = audit_key_load(keydir, &key)) == 0)
		rc = audit_checkpoint(st, key, "bench-scale", "bench", "request", &cp);
	json_object_put(cp);
	EVP_PKEY_free(key);
	return rc == 0 ? 0 : -1;
}

/* A connection to the daemon's socket, as ukeyctl makes; -1 on failure. */
static int
connect_daemon(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/ukeyd.sock", state);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends cmd with args (a JSON text) on fd. */
static int
send_req(int fd, const char *cmd, const char *args)
{
	struct json_object *req = json_object_new_object();
	int rc;

	json_object_object_add(req, "v", json_object_new_int(1));
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	json_object_object_add(req, "args", json_tokener_parse(args));
	rc = frame_write_json(fd, req, FRAME_MAX_CONTROL);
	json_object_put(req);
	return rc;
}

/* Reads the reply on fd: 0 when it says ok. */
static int
read_ok(int fd)
{
	struct json_object *rep = NULL;
	int ok;

	if (frame_read_json(fd, &rep, FRAME_MAX_CONTROL, 600000) != 0)
		return -1;
	ok = json_object_get_boolean(json_object_object_get(rep, "ok"));
	json_object_put(rep);
	return ok ? 0 : -1;
}

/* One request's round trip in milliseconds: connect, send, reply read. */
static double
round_trip(const char *cmd, const char *args)
{
	double t0 = bench_now_ms();
	int fd = connect_daemon(), rc;

	if (fd < 0)
		return -1;
	rc = send_req(fd, cmd, args) == 0 ? read_ok(fd) : -1;
	close(fd);
	return rc == 0 ? bench_now_ms() - t0 : -1;
}

/* A report's first page asked once more, for the id of the report the
 * daemon keeps for its later pages (result.report_id) into id; 0 or -1. */
static int
report_kept_id(const char *cmd, const char *args, char id[64])
{
	struct json_object *rep = NULL, *res;
	int fd = connect_daemon(), rc = -1;

	if (fd < 0)
		return -1;
	if (send_req(fd, cmd, args) == 0 &&
	    frame_read_json(fd, &rep, FRAME_MAX_CONTROL, 600000) == 0 &&
	    json_object_object_get_ex(rep, "result", &res) &&
	    json_object_object_get(res, "report_id") != NULL) {
		snprintf(id, 64, "%s", json_object_get_string(json_object_object_get(res,
		    "report_id")));
		rc = 0;
	}
	json_object_put(rep);
	close(fd);
	return rc;
}

/* Median milliseconds of ROUNDS round trips of cmd. */
static double
time_req(const char *cmd, const char *args)
{
	double v[ROUNDS];
	struct bench_stat s;
	int i;

	for (i = 0; i < ROUNDS; i++)
		if ((v[i] = round_trip(cmd, args)) < 0)
			return -1;
	bench_stat_of(v, ROUNDS, &s);
	return s.median;
}

static void
row(const char *what, double ms)
{
	printf("| %-52s | %10.1f |\n", what, ms);
}

/* status while cmd (deferred, served off the loop) runs: the median of
 * the status round trips made before cmd answered; cmd's own round trip
 * in *cmd_ms, and how many status requests were answered meanwhile in *n. */
static double
status_during(const char *cmd, const char *args, double *cmd_ms, int *n, double *max)
{
	double v[4096], t0 = bench_now_ms(), t;
	struct pollfd p = { .events = POLLIN };
	struct bench_stat s;
	int rc;

	*n = 0;
	if ((p.fd = connect_daemon()) < 0 || send_req(p.fd, cmd, args) != 0)
		return -1;
	while (poll(&p, 1, 0) == 0 && *n < 4096) {
		if ((t = round_trip("ping", "{}")) < 0)
			break;
		v[(*n)++] = t;
	}
	rc = read_ok(p.fd);
	*cmd_ms = bench_now_ms() - t0;
	close(p.fd);
	if (rc != 0 || *n == 0)
		return -1;
	for (*max = 0, rc = 0; rc < *n; rc++)
		*max = v[rc] > *max ? v[rc] : *max;
	bench_stat_of(v, (size_t)*n, &s);
	return s.median;
}

/* The rows of cmd and of status while it runs. */
static void
rows_during(const char *cmd, const char *args, const char *label)
{
	double took = -1, during, max = 0;
	char what[100];
	int n;

	during = status_during(cmd, args, &took, &n, &max);
	row(label, took);
	snprintf(what, sizeof(what), "status while %s runs (median of %d)", cmd, n);
	row(what, during);
	snprintf(what, sizeof(what), "status while %s runs (slowest)", cmd);
	row(what, max);
}

/* Median milliseconds of ROUNDS calls of one query (query(st, arg), 0 on
 * success) on the seeded store, in this process: what a daemon's handler
 * waits on. */
static double
store_median_ms(int (*query)(struct store *, const void *), const void *arg)
{
	struct store *st = NULL;
	struct bench_stat s;
	double v[ROUNDS], t0;
	char path[600];
	int i;

	snprintf(path, sizeof(path), "%s/station.db", state);
	if (store_open(path, &st) != 0)
		return -1;
	for (i = 0; i < ROUNDS; i++) {
		t0 = bench_now_ms();
		if (query(st, arg) != 0) {
			store_close(st);
			return -1;
		}
		v[i] = bench_now_ms() - t0;
	}
	store_close(st);
	bench_stat_of(v, ROUNDS, &s);
	return s.median;
}

/* One page of audit serials of an organisation (arg: its page request). */
static int
serials_page(struct store *st, const void *arg)
{
	struct json_object *rows;
	int rc = store_auditq_serials_page(st, arg, &rows);

	if (rc == 0)
		json_object_put(rows);
	return rc;
}

static double
store_page_ms(const char *org, int64_t limit)
{
	struct store_serials_page q = { .org = org, .now = "2027-01-01T00:00:00Z",
		.limit = limit };

	return store_median_ms(serials_page, &q);
}

/* n queued units of one paid order, waiting for tokens, in one statement
 * (the store's triggers give each its place in the queue). */
static int
seed_queue(struct store *st, int64_t n)
{
	struct db *db = store_dbh(st);

	if (db_run(db, "INSERT INTO orders (id, portal_ref, type, account_uscc, state, total_fen,"
	    " doc, paid_at, created_at, created_by, updated_at) VALUES (2, 'BENCH-Q', 'new',"
	    " '91530100MA6K5U5X70', 'waiting_production', 0, '{}', '2026-01-02T00:00:00Z',"
	    " '2026-01-01T00:00:00Z', 'bench', '2026-01-01T00:00:00Z')", "") != 0 ||
	    db_run(db, "INSERT INTO order_items (id, order_id, seq, kind, name, cert_profile,"
	    " years, count) VALUES (2, 2, 1, 'organisation', 'bench', 'organisation', 1, ?)", "i",
	    n) != 0)
		return -1;
	return db_run(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
	    " WHERE i < ?1) INSERT INTO units (item_id, seq, state, updated_at)"
	    " SELECT 2, i, 'queued', '2026-01-02T00:00:00Z' FROM n", "i", n);
}

/* The claim query of a blank token that arrives: the head of the queue,
 * as many candidates as the daemon asks for. */
static int
claim(struct store *st, const void *arg)
{
	struct store_unit_claim *c;
	size_t n;
	int rc = store_units_for_token(st, "softhsm2", NULL, 16, &c, &n);

	(void)arg;
	if (rc == 0)
		store_unit_claims_free(c, n);
	return rc != 0 ? rc : n == 0 ? -1 : 0;
}

/* ukeyd's peak resident memory so far (VmHWM), in MiB; -1 when unknown. */
static double
daemon_peak_mib(void)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)daemon_pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib < 0 ? -1 : kib / 1024.0;
}

/* The CA's own list made to hold every seeded issuance's certificate
 * (valid, a placeholder DER), as a CA that issued them would: the
 * reconciliation then matches every serial and finds nothing. */
static int
seed_ca_list(int64_t n)
{
	char path[600];
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/ca/ca.db", state);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
	    " WHERE i < ?1) INSERT INTO issued (serial, request_key, subject, not_before, not_after,"
	    " status, der, issued_at) SELECT printf('%016X', i), 'bench/' || i, 'CN=bench ' || i,"
	    " '2026-01-01T00:00:00Z', '2028-01-01T00:00:00Z', 'valid', x'30',"
	    " '2026-01-01T00:00:01Z' FROM n", -1, &q, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 1, n) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
 out:
	if (rc != 0)
		fprintf(stderr, "ukey-bench-scale: seeding ca.db: %s\n", sqlite3_errmsg(db));
	sqlite3_finalize(q);
	sqlite3_close(db);
	return rc;
}

/* The CA's list all revoked: the CRL ukeyd signs at its start (in its
 * thread, as at every revocation) then holds N entries. */
static int
revoke_ca_list(void)
{
	char path[600];
	sqlite3 *db = NULL;
	int rc;

	snprintf(path, sizeof(path), "%s/ca/ca.db", state);
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_exec(db, "UPDATE issued SET status = 'revoked',"
	    " revoked_at = '2026-06-01T00:00:00Z', revoke_reason = 'superseded'", NULL, NULL,
	    NULL) == SQLITE_OK ? 0 : -1;
	sqlite3_close(db);
	return rc;
}

/* The embedded CA's CRL of N, signed in a thread of this process while
 * its main thread issues certificates one after another, as the CA thread
 * would for the bays meanwhile: how long the CRL took, and the slowest and
 * median issuance during it. ukeyd is stopped (the CA's directory is
 * locked by whoever has it open). */
struct crl_run {
	struct ca *ca;
	double ms;
	int rc, done;
};

static void *
crl_thread(void *arg)
{
	struct crl_run *r = arg;
	double t0 = bench_now_ms();
	X509_CRL *crl = NULL;

	r->rc = ca_crl(r->ca, 3600, &crl);
	r->ms = bench_now_ms() - t0;
	X509_CRL_free(crl);
	__atomic_store_n(&r->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static const char *
bench_var(void *ctx, const char *var)
{
	(void)ctx;
	return strcmp(var, "name") == 0 ? "bench" : strcmp(var, "org_name") == 0 ? "bench org" :
	    "53";
}

static int
measure_crl_issuing(void)
{
	char path[700], err[256], key[64];
	struct certprof *prof = NULL;
	struct crl_run run = { 0 };
	X509_NAME *subject = NULL;
	X509_REQ *csr = NULL;
	EVP_PKEY *k = NULL;
	pthread_t tid;
	double v[4096], t;
	struct bench_stat st;
	size_t n = 0, i;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/cert-profiles/entrusted.conf", UKEY_SOURCE_DIR);
	if (certprof_load(path, &prof, err, sizeof(err)) != 0 ||
	    certprof_subject(prof, bench_var, NULL, &subject, err, sizeof(err)) != 0 ||
	    (k = EVP_EC_gen("P-256")) == NULL || (csr = X509_REQ_new()) == NULL ||
	    X509_REQ_set_pubkey(csr, k) != 1 || X509_REQ_sign(csr, k, EVP_sha256()) <= 0) {
		fprintf(stderr, "ukey-bench-scale: a request for the CA: %s\n", err);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/ca", state);
	if (ca_embedded_open(path, "bench", &run.ca) != 0 ||
	    pthread_create(&tid, NULL, crl_thread, &run) != 0)
		goto out;
	while (!__atomic_load_n(&run.done, __ATOMIC_SEQ_CST) && n < 4096) {
		struct ca_request req = { .csr = csr, .subject = subject, .profile = prof,
		    .years = 1, .request_key = key };
		X509 *cert = NULL;

		snprintf(key, sizeof(key), "bench-crl/%zu", n);
		t = bench_now_ms();
		if (ca_issue(run.ca, &req, &cert) != 0)
			break;
		v[n++] = bench_now_ms() - t;
		X509_free(cert);
	}
	pthread_join(tid, NULL);
	if (run.rc != 0 || n == 0)
		goto out;
	row("CRL of N signed while the CA issues", run.ms);
	bench_stat_of(v, n, &st);
	snprintf(err, sizeof(err), "an issuance meanwhile (median of %zu)", n);
	row(err, st.median);
	for (t = 0, i = 0; i < n; i++)
		t = v[i] > t ? v[i] : t;
	row("an issuance meanwhile (slowest)", t);
	rc = 0;
 out:
	ca_free(run.ca);
	certprof_free(prof);
	X509_NAME_free(subject);
	X509_REQ_free(csr);
	EVP_PKEY_free(k);
	return rc;
}

/* The reconciliation with every issuance in the CA's list: no findings, and
 * what ukeyd's memory did while it read both lists; then ukeyd's start
 * with those N certificates revoked, which signs a CRL of N entries. */
static int
measure_matched(int64_t n)
{
	if (seed_ca_list(n) != 0 || start_daemon() != 0)
		return -1;
	row("ukeyd's start, N certificates at the CA, none revoked", daemon_start_ms);
	row("ukeyd's peak resident memory before it, MiB", daemon_peak_mib());
	rows_during("report.reconcile", "{\"limit\": 100}",
	    "report.reconcile (N in the CA's list, none found)");
	row("ukeyd's peak resident memory after it, MiB", daemon_peak_mib());
	stop_daemon();
	if (revoke_ca_list() != 0 || start_daemon() != 0)
		return -1;
	row("ukeyd's start, a CRL of N revocations begun", daemon_start_ms);
	/* ca.crl waits for the CRL under way: the one of the start */
	row("ca.crl's first page at once, after the start's CRL",
	    round_trip("ca.crl", "{\"limit\": 1024}"));
	/* one more revocation (its certificate revoked at the CA already: the
	 * record follows it) and the CRL of N it is answered after, signed
	 * off the loop */
	rows_during("cert.revoke", "{\"serial\": \"0000000000000001\", \"reason\":"
	    " \"keyCompromise\", \"remark\": \"bench\"}",
	    "cert.revoke, answered after its CRL of N");
	stop_daemon();
	return measure_crl_issuing();
}

/* The listings that page over the station's history: the jobs (N of them,
 * one in 50 failed) and the certificates expiring within ten years (all N),
 * a first page and a deep one, and ukeyd's peak memory around them. */
static int
measure_listings(void)
{
	char args[96];

	row("ukeyd's peak resident memory before the listings, MiB", daemon_peak_mib());
	row("job.list, first page of 100 (N jobs)", time_req("job.list", "{\"limit\": 100}"));
	snprintf(args, sizeof(args), "{\"after\": %lld, \"limit\": 100}", (long long)(seeded / 2));
	row("job.list, the page of 100 at N/2", time_req("job.list", args));
	row("job.list --state failed, first page of 100",
	    time_req("job.list", "{\"state\": \"failed\", \"limit\": 100}"));
	row("audit.expiring --within 3650, first page of 100",
	    time_req("audit.expiring", "{\"within\": 3650, \"limit\": 100}"));
	snprintf(args, sizeof(args), "{\"within\": 3650, \"after\": %lld, \"limit\": 100}",
	    (long long)(seeded / 2));
	row("audit.expiring --within 3650, the page of 100 at N/2",
	    time_req("audit.expiring", args));
	row("ukeyd's peak resident memory after the listings, MiB", daemon_peak_mib());
	return 0;
}

/* The figures of one daemon run on the seeded store. */
static int
measure(const char *org, int indexed)
{
	const char *ix = indexed ? "index" : "no index";
	char args[128], what[100];
	int lim;

	for (lim = 100; lim <= 1000; lim *= 10) {
		snprintf(what, sizeof(what), "store query alone, first page of %d (%s)", lim, ix);
		row(what, store_page_ms(org, lim));
	}
	snprintf(what, sizeof(what), "store query alone, rare org's page of 10 (%s)", ix);
	row(what, store_page_ms(RARE_ORG, 1000));
	if (start_daemon() != 0)
		return -1;
	for (lim = 100; lim <= 1000; lim *= 10) {
		snprintf(args, sizeof(args), "{\"org\": \"%s\", \"limit\": %d}", org, lim);
		snprintf(what, sizeof(what), "audit.serials --org, first page of %d (%s)", lim, ix);
		row(what, time_req("audit.serials", args));
	}
	snprintf(args, sizeof(args), "{\"org\": \"%s\", \"limit\": 1000}", RARE_ORG);
	snprintf(what, sizeof(what), "audit.serials --org, rare org's page of 10 (%s)", ix);
	row(what, time_req("audit.serials", args));
	if (indexed && measure_listings() != 0)
		return -1;
	if (!indexed) {
		row("status (ping)", time_req("ping", "{}"));
		rows_during("audit.verify", "{}", "audit.verify (full)");
		/* every issuance and its serial looked up again in the CA's
		 * list (the seeded ca.db has none: N findings), first page */
		row("ukeyd's peak resident memory before the reports, MiB", daemon_peak_mib());
		rows_during("report.production", "{\"since\": \"2026-01-01\","
		    " \"until\": \"2026-12-31\", \"by\": \"operator\"}",
		    "report.production (N jobs over a year)");
		rows_during("report.service_times", "{\"since\": \"2026-01-01\", \"limit\": 100}",
		    "report.service_times (N/10 orders, page of 100)");
		/* its later pages, from the rows the daemon kept */
		{
			char id[64], kargs[200];

			if (report_kept_id("report.service_times", "{\"since\": \"2026-01-01\","
			    " \"limit\": 100}", id) == 0) {
				snprintf(kargs, sizeof(kargs), "{\"since\": \"2026-01-01\", \"after\":"
				    " %lld, \"limit\": 2000, \"report_id\": \"%s\"}",
				    (long long)(seeded / 20), id);
				row("report.service_times, a page of 2000 at N/20 of the report kept",
				    time_req("report.service_times", kargs));
				snprintf(kargs, sizeof(kargs), "{\"since\": \"2026-01-01\", \"after\":"
				    " %lld, \"limit\": 2000}", (long long)(seeded / 20));
				row("report.service_times, the same page made again (no report_id)",
				    time_req("report.service_times", kargs));
			}
		}
		row("ukeyd's peak resident memory after them, MiB", daemon_peak_mib());
		rows_during("report.reconcile", "{\"limit\": 100}",
		    "report.reconcile (N findings, page of 100)");
		row("ukeyd's peak resident memory after it, MiB", daemon_peak_mib());
		/* its later pages, from the findings the daemon kept */
		{
			char id[64], kargs[160];

			if (report_kept_id("report.reconcile", "{\"limit\": 100}", id) == 0) {
				snprintf(kargs, sizeof(kargs), "{\"after\": %lld, \"limit\": 100,"
				    " \"report_id\": \"%s\"}", (long long)(seeded / 2), id);
				row("report.reconcile, the page at N/2 of the report kept",
				    time_req("report.reconcile", kargs));
				snprintf(kargs, sizeof(kargs), "{\"after\": %lld, \"limit\": 100,"
				    " \"report_id\": \"%s\"}", (long long)(seeded - 100), id);
				row("report.reconcile, its last page", time_req("report.reconcile", kargs));
				snprintf(kargs, sizeof(kargs), "{\"after\": %lld, \"limit\": 2000,"
				    " \"report_id\": \"%s\"}", (long long)(seeded / 2), id);
				row("report.reconcile, a page of 2000 (ukeyctl's) of it",
				    time_req("report.reconcile", kargs));
			}
		}
	}
	stop_daemon();
	return 0;
}

/* A queue of n units waiting for tokens: a blank token's claim,
 * `ukeyctl status` and a watch frame, which count the queue (up to
 * QUEUE_GLANCE_MAX), and pages of `ukeyctl queue`. */
static int
measure_queue(int64_t n)
{
	struct store *st = NULL;
	char path[600], args[96];
	int64_t mid = 0, last = 0;
	int rc;

	snprintf(path, sizeof(path), "%s/station.db", state);
	if (store_open(path, &st) != 0)
		return -1;
	/* the keys of the pages at N/2 and of the last one: the units of the
	 * one order are queued in the order of their seq */
	rc = seed_queue(st, n) != 0 || db_int(store_dbh(st), &mid, "SELECT id FROM units"
	    " WHERE item_id = 2 AND seq = ?", "i", n / 2) != 0 || db_int(store_dbh(st), &last,
	    "SELECT id FROM units WHERE item_id = 2 AND seq = ?", "i", n > 100 ? n - 100 : 1) != 0;
	store_close(st);
	if (rc != 0)
		return -1;
	row("store query alone, a blank token's claim (N queued)", store_median_ms(claim, NULL));
	if (start_daemon() != 0)
		return -1;
	row("status (ping), N units queued", time_req("ping", "{}"));
	row("watch.subscribe, its first frame, N units queued", time_req("watch.subscribe", "{}"));
	row("queue, first page of 100, N units queued", time_req("queue", "{\"limit\": 100}"));
	snprintf(args, sizeof(args), "{\"after\": %lld, \"limit\": 100}",
	    (long long)STORE_QUEUE_KEY(mid, 1));
	row("queue, the page of 100 at N/2", time_req("queue", args));
	snprintf(args, sizeof(args), "{\"after\": %lld, \"limit\": 100}",
	    (long long)STORE_QUEUE_KEY(last, 1));
	row("queue, the last page of 100", time_req("queue", args));
	stop_daemon();
	return 0;
}

static int
seed(int64_t n)
{
	char path[600];
	struct store *st = NULL;
	double t0 = bench_now_ms();
	int rc;

	snprintf(path, sizeof(path), "%s/station.db", state);
	if (store_open(path, &st) != 0)
		return -1;
	rc = seed_issuances(st, n) == 0 && seed_jobs(st, n) == 0 && seed_audit(st, n) == 0 ?
	    0 : -1;
	store_close(st);
	fprintf(stderr, "ukey-bench-scale: %lld issuances and audit records seeded in %.0f s\n",
	    (long long)n, (bench_now_ms() - t0) / 1e3);
	return rc;
}

/* Migration 15's index on issuances(org_uscc, id) dropped (on = 0), to
 * show what a query costs without it, or made again (on = 1). */
static int
set_index(int on)
{
	char path[600];
	struct store *st = NULL;
	int rc;

	snprintf(path, sizeof(path), "%s/station.db", state);
	if (store_open(path, &st) != 0)
		return -1;
	rc = db_exec(store_dbh(st), on ? "CREATE INDEX IF NOT EXISTS issuances_org"
	    " ON issuances(org_uscc, id)" : "DROP INDEX IF EXISTS issuances_org");
	store_close(st);
	return rc;
}

int
main(int argc, char **argv)
{
	int64_t n = 100000;
	char org[32], cmd[128];
	int c, rc = 1;

	while ((c = getopt(argc, argv, "n:M")) != -1) {
		if (c == 'M')
			n = 1000000;
		else if (c == 'n' && (n = atoll(optarg)) >= ORGS)
			continue;
		else {
			fprintf(stderr, "usage: ukey-bench-scale [-n N (>= %d)] [-M]\n", ORGS);
			return 2;
		}
	}
	seeded = n;
	log_init("ukey-bench-scale", LOG_LVL_WARN);
	if (mkdtemp(state) == NULL || write_config() != 0)
		return 1;
	/* the daemon's first start makes the schema, the CA and the audit key */
	if (start_daemon() != 0)
		goto out;
	stop_daemon();
	if (seed(n) != 0) {
		fprintf(stderr, "ukey-bench-scale: seeding failed\n");
		goto out;
	}
	snprintf(org, sizeof(org), "91530100MA6K%06d", 7);
	printf("%lld issuances (%d organisations, %lld each) and %lld audit records; then as many"
	    " queued units\n\n", (long long)n, ORGS, (long long)(n / ORGS), (long long)n);
	printf("| %-52s | %10s |\n|%s|%s|\n", "what", "ms", "------------------------------"
	    "------------------------", "------------");
	if (set_index(0) != 0 || measure(org, 0) != 0 || set_index(1) != 0 ||
	    measure(org, 1) != 0 || measure_matched(n) != 0 || measure_queue(n) != 0)
		goto out;
	rc = 0;
 out:
	stop_daemon();
	if (rc != 0)
		fprintf(stderr, "ukey-bench-scale: failed; state kept in %s\n", state);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", state);
	if (rc == 0 && system(cmd) != 0)
		rc = 1;
	return rc;
}
