/* The store on a real PostgreSQL 15 server (pg_fixture.h starts one):
 * the db.h layer on both backends, the migrations under the advisory lock,
 * a newer schema refused, and claiming with leases: processes racing for
 * the same units never both get one; a killed claimer's lease lapses and
 * its unit is claimed again; the station role's grants; a server restart. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "store/schema_pg.h"
#include "store/store_dual.h"
#include "store/store_jobs.h"
#include "store/store_lease.h"
#include "store/store_tokens.h"
#include "pg_fixture.h"

#define AT "2026-03-01T10:00:00Z"
#define RACE_UNITS 1000

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

static struct store *
fresh_store(const char *name)
{
	struct store *st = NULL;
	char url[256];

	assert_int_equal(pg_fresh_db(&server, name, url, sizeof(url)), 0);
	assert_int_equal(store_open_url(url, &st), 0);
	return st;
}

static void
test_translate(void **state)
{
	char *t;
	int n = 0;

	t = db_pg_translate("SELECT ? , 'a?''b?', \"c?\" FROM x WHERE a = ?2 AND b & ?2 OR c = ?", &n);
	assert_non_null(t);
	assert_string_equal(t, "SELECT $1 , 'a?''b?', \"c?\" FROM x WHERE a = $2 AND b & $2 OR c = $3");
	assert_int_equal(n, 3);
	free(t);
}

static void
test_urls(void **state)
{
	struct db *db = NULL;
	char *r;

	assert_true(db_url_is_pg("postgresql://station@db.example/ukey"));
	assert_true(db_url_is_pg("host=/run/postgresql dbname=ukey"));
	assert_true(db_url_is_pg("service=ukey"));
	assert_false(db_url_is_pg("/var/lib/ukey-station/station.db"));
	assert_false(db_url_is_pg("sqlite:/tmp/a=b/station.db"));
	assert_false(db_url_is_pg("/tmp/a=b/station.db"));
	/* a password in the url is refused before any connection */
	assert_int_equal(db_open("postgresql://station:s3cret@localhost/ukey", &db), UKEY_ERR_INVAL);
	assert_int_equal(db_open("host=/nonexistent dbname=ukey password=s3cret", &db),
	    UKEY_ERR_INVAL);
	assert_null(db);
	assert_int_equal(setenv("PGPASSWORD", "s3cret", 1), 0);
	assert_int_equal(db_open("host=/nonexistent dbname=ukey", &db), UKEY_ERR_INVAL);
	assert_int_equal(unsetenv("PGPASSWORD"), 0);
	r = db_url_redacted("host=/run/postgresql dbname=ukey user=km01 password=s3cret");
	assert_non_null(r);
	assert_null(strstr(r, "s3cret"));
	assert_non_null(strstr(r, "user=km01"));
	free(r);
	/* a server that is not there: unavailable, not a crash */
	assert_int_equal(db_open("host=/nonexistent dbname=ukey connect_timeout=2", &db),
	    UKEY_ERR_UNAVAIL);
}

/* int64, text, blob and NULL through prepare/bind/step/column. */
static void
roundtrip(struct db *db)
{
	static const uint8_t blob[] = { 0x00, 0x5c, 0x78, 0xff, 0x00 };
	struct db_stmt *q = NULL;
	const void *p;
	size_t len;

	assert_int_equal(db_exec(db, "CREATE TEMP TABLE rt (i bigint, t text, b bytea, n text)"),
	    0);
	assert_int_equal(db_prepare(db, "INSERT INTO rt (i, t, b, n) VALUES (?, ?, ?, ?)", &q), 0);
	assert_int_equal(db_bind_int64(q, 1, INT64_MIN), 0);
	assert_int_equal(db_bind_text(q, 2, "昆明 'quoted' ?"), 0);
	assert_int_equal(db_bind_blob(q, 3, blob, sizeof(blob)), 0);
	assert_int_equal(db_bind_null(q, 4), 0);
	assert_int_equal(db_step(q), 0);
	db_finalize(q);
	assert_int_equal(db_changes(db), 1);
	assert_int_equal(db_stmtf(db, &q, "SELECT i, t, b, n FROM rt WHERE t = ?", "t",
	    "昆明 'quoted' ?"), 0);
	assert_int_equal(db_step(q), 1);
	assert_true(db_column_int64(q, 0) == INT64_MIN);
	assert_string_equal(db_column_text(q, 1), "昆明 'quoted' ?");
	p = db_column_blob(q, 2, &len);
	assert_int_equal(len, sizeof(blob));
	assert_memory_equal(p, blob, sizeof(blob));
	p = db_column_blob(q, 1, &len);		/* a text column's bytes */
	assert_int_equal(len, strlen("昆明 'quoted' ?"));
	assert_memory_equal(p, "昆明 'quoted' ?", len);
	assert_true(db_column_is_null(q, 3));
	assert_null(db_column_text(q, 3));
	assert_int_equal(db_column_type(q, 0), DB_TYPE_INT);
	assert_int_equal(db_column_type(q, 1), DB_TYPE_TEXT);
	assert_int_equal(db_column_type(q, 2), DB_TYPE_BLOB);
	assert_int_equal(db_column_type(q, 3), DB_TYPE_NULL);
	assert_string_equal(db_column_name(q, 2), "b");
	assert_int_equal(db_step(q), 0);
	db_finalize(q);
}

static void
test_roundtrip_both(void **state)
{
	struct db *db = NULL;
	char url[256], path[64] = "/tmp/ukey-test-db-XXXXXX", file[128];

	pg_conninfo(&server, "ukey", url, sizeof(url));
	assert_int_equal(db_open(url, &db), 0);
	assert_int_equal(db_backend(db), DB_PG);
	roundtrip(db);
	db_close(db);
	assert_non_null(mkdtemp(path));
	snprintf(file, sizeof(file), "sqlite:%s/t.db", path);
	assert_int_equal(db_open(file, &db), 0);
	assert_int_equal(db_backend(db), DB_SQLITE);
	roundtrip(db);
	db_close(db);
	snprintf(file, sizeof(file), "rm -rf %s", path);
	assert_int_equal(system(file), 0);
}

/* Every PostgreSQL migration is schema.c's of the same number and purpose;
 * a version schema.c has and PostgreSQL lacks yet is named (on stderr,
 * not a failure: the SQLite side may land first; one entry in
 * schema_pg.c's pg_migrations[] adds it). */
static void
test_schema_tracks_match(void **state)
{
	const struct migration *sq, *pg;
	size_t nsq, npg, i, j;

	sq = schema_migrations(&nsq);
	pg = schema_pg_migrations(&npg);
	for (j = 0; j < npg; j++) {
		for (i = 0; i < nsq && sq[i].version != pg[j].version; i++)
			;
		assert_true(i < nsq);
		assert_string_equal(sq[i].what, pg[j].what);
		assert_true(j == 0 || pg[j].version > pg[j - 1].version);
	}
	for (i = 0; i < nsq; i++) {
		for (j = 0; j < npg && pg[j].version != sq[i].version; j++)
			;
		if (j == npg)
			fprintf(stderr, "note: schema version %d (%s) has no PostgreSQL entry yet\n",
			    sq[i].version, sq[i].what);
	}
}

/* Four stations start together on a new database: each migration once. */
static void
test_migrate_concurrent(void **state)
{
	const struct migration *pg;
	struct store *st = NULL;
	char url[256];
	int64_t n = 0, v = 0;
	size_t npg, nst;
	int i, status;
	pid_t pid[4];

	assert_int_equal(pg_fresh_db(&server, "mig", url, sizeof(url)), 0);
	for (i = 0; i < 4; i++) {
		assert_true((pid[i] = fork()) >= 0);
		if (pid[i] == 0) {
			int rc = store_open_url(url, &st);

			store_close(st);
			_exit(rc == 0 ? 0 : 1);
		}
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	pg = schema_pg_migrations(&npg);
	schema_pg_station_migrations(&nst);
	assert_int_equal(store_open_url(url, &st), 0);
	assert_int_equal(store_schema_version(st), pg[npg - 1].version);
	assert_int_equal(store_int(st, &n, "SELECT count(*) FROM schema_migrations", ""), 0);
	assert_int_equal(store_int(st, &v, "SELECT max(version) FROM schema_migrations", ""), 0);
	assert_int_equal(n, (int64_t)npg);
	assert_int_equal(v, pg[npg - 1].version);
	assert_int_equal(store_int(st, &n, "SELECT count(*) FROM station_schema_migrations", ""), 0);
	assert_int_equal(n, (int64_t)nst);
	/* the append-only trigger holds on PostgreSQL too */
	assert_int_equal(store_run(st, "INSERT INTO audit (at, actor, action, prev_hash, hash)"
	    " VALUES (?, 'a', 'b', 'c', 'd')", "t", AT), 0);
	assert_int_not_equal(store_run(st, "DELETE FROM audit", ""), 0);
	store_close(st);
}

/* A database a newer program migrated is refused, on both backends. */
static void
test_newer_schema_refused(void **state)
{
	struct store *st = fresh_store("newer");
	char url[256], dir[64] = "/tmp/ukey-test-newer-XXXXXX", path[128];

	assert_int_equal(store_run(st, "INSERT INTO schema_migrations (version, what, applied_at)"
	    " VALUES (99, 'from the future', ?)", "t", AT), 0);
	store_close(st);
	pg_conninfo(&server, "newer", url, sizeof(url));
	assert_int_equal(store_open_url(url, &st), UKEY_ERR_DB);
	assert_null(st);

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/station.db", dir);
	assert_int_equal(store_open_url(path, &st), 0);
	assert_int_equal(store_run(st, "INSERT INTO schema_migrations (version, what, applied_at)"
	    " VALUES (99, 'from the future', ?)", "t", AT), 0);
	store_close(st);
	assert_int_equal(store_open_url(path, &st), UKEY_ERR_DB);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

/* The ported claim path reads the same queue on PostgreSQL as on SQLite. */
/* store_begin_lazy on PostgreSQL: synchronous_commit off for that
 * transaction alone; what it wrote is committed, later ones flush again. */
static void
test_begin_lazy(void **state)
{
	struct store *st = fresh_store("lazy");
	int64_t v = 0;

	(void)state;
	assert_int_equal(store_begin_lazy(st), 0);
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM pg_settings WHERE"
	    " name = 'synchronous_commit' AND setting = 'off'", ""), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_run(st, "INSERT INTO schema_migrations (version, what, applied_at)"
	    " VALUES (900, 'lazy', 't')", ""), 0);
	assert_int_equal(store_commit(st), 0);
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM pg_settings WHERE"
	    " name = 'synchronous_commit' AND setting = 'off'", ""), 0);
	assert_int_equal(v, 0);
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM schema_migrations WHERE"
	    " version = 900", ""), 0);
	assert_int_equal(v, 1);
	store_close(st);
}

static void
test_units_for_token(void **state)
{
	struct store *st = fresh_store("fortoken");
	struct store_unit_claim *c = NULL;
	int64_t order = 0, live = 0;
	size_t n = 0;

	assert_int_equal(pg_fixture_order(st, "KM-1", 3, AT, &order), 0);
	assert_int_equal(pg_fixture_order(st, "KM-2", 2, "2026-03-01T09:00:00Z", &order), 0);
	assert_int_equal(store_units_for_token(st, "softhsm", "A1", 10, &c, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(c[0].order_id, order);	/* paid first, first in the queue */
	assert_string_equal(c[0].type, "new");
	assert_string_equal(c[0].cert_profile, "legal_rep");
	assert_null(c[0].renews_cert);
	assert_int_equal(store_unit_claim(st, c[0].unit_id, 7, AT), 0);
	assert_int_equal(store_changes(st), 1);
	assert_int_equal(store_unit_claim(st, c[0].unit_id, 8, AT), 0);
	assert_int_equal(store_changes(st), 0);	/* not queued any more */
	assert_int_equal(store_token_live_certs(st, "softhsm", "A1", &live), 0);
	assert_int_equal(live, 0);
	store_unit_claims_free(c, n);
	store_close(st);
}

/* store_dual.c and store_tokens.c, ported to db.h, on PostgreSQL. */
static void
test_dual_and_tokens(void **state)
{
	struct store *st = fresh_store("dualtok");
	struct store_dual_new dn = { .action = "wipe", .command = "bay.wipe",
	    .args = "{\"bay\":\"bay-1\"}", .subject = "{}", .requested_by = "alice",
	    .requested_uid = 1001, .requester_roles = "operator", .requested_at = AT,
	    .expires_at = "2026-03-01T10:15:00Z" };
	struct store_dual_request r, *a = NULL;
	struct store_token_mark *m = NULL;
	struct store_token_cert *c = NULL;
	int64_t id = 0, id2 = 0;
	size_t n = 0;
	int known = 1;

	assert_int_equal(store_dual_insert(st, &dn, &id), 0);
	assert_int_equal(store_dual_insert(st, &dn, &id2), 0);
	assert_int_equal(id2, id + 1);
	assert_int_equal(store_dual_load(st, id, &r), 0);
	assert_string_equal(r.state, "pending");
	assert_string_equal(r.requested_by, "alice");
	assert_int_equal(r.requested_uid, 1001);
	assert_null(r.confirmed_by);
	store_dual_request_clear(&r);
	assert_int_equal(store_dual_list(st, 0, 0, INT64_MAX, &a, &n), 0);
	assert_int_equal(n, 2);
	store_dual_requests_free(a, n);
	assert_int_equal(store_token_mark_add(st, "TK-1", "lost", AT, "alice", "left in a taxi"), 0);
	assert_int_equal(store_token_marks(st, "TK-1", &m, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(m[0].remark, "left in a taxi");
	store_token_marks_free(m, n);
	assert_int_equal(store_token_certs(st, "TK-1", &c, &n), 0);
	assert_int_equal(n, 0);
	store_token_certs_free(c, n);
	assert_int_equal(store_token_known_serial(st, "TK-1", &known), 0);
	assert_false(known);
	store_close(st);
}

/* store_query/store_row give the same JSON on both backends. */
static void
same_json(struct store *pg, struct store *sq, int one, const char *sql)
{
	struct json_object *a = NULL, *b = NULL;

	if (one) {
		assert_int_equal(store_row(pg, &a, sql, ""), 0);
		assert_int_equal(store_row(sq, &b, sql, ""), 0);
	} else {
		assert_int_equal(store_query(pg, &a, sql, ""), 0);
		assert_int_equal(store_query(sq, &b, sql, ""), 0);
	}
	assert_string_equal(json_object_to_json_string(a), json_object_to_json_string(b));
	json_object_put(a);
	json_object_put(b);
}

static void
test_query_json(void **state)
{
	struct store *pg = fresh_store("json"), *sq = NULL;
	struct json_object *o = NULL;
	char dir[64] = "/tmp/ukey-test-json-XXXXXX", path[128];
	int64_t order = 0;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/station.db", dir);
	assert_int_equal(store_open_url(path, &sq), 0);
	assert_int_equal(pg_fixture_order(pg, "KM-J", 2, AT, &order), 0);
	assert_int_equal(pg_fixture_order(sq, "KM-J", 2, AT, &order), 0);
	same_json(pg, sq, 0, "SELECT id, item_id, seq, state, job_id, updated_at FROM units"
	    " ORDER BY id");
	same_json(pg, sq, 1, "SELECT portal_ref, org_name, total_fen, doc_sealed, renews_cert"
	    " FROM orders");
	same_json(pg, sq, 1, "SELECT count(*) AS n, sum(total_fen) AS fen FROM orders");
	assert_int_equal(store_row(pg, &o, "SELECT id FROM orders WHERE id = ?", "i",
	    (int64_t)999), UKEY_ERR_NOTFOUND);
	assert_null(o);
	store_close(sq);
	store_close(pg);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

/* The rest of store_units.c on PostgreSQL: load, count by states, the
 * queue listing, requeue at the tail, hold and release, live certificates. */
static void
test_units_module(void **state)
{
	struct store *st = fresh_store("units");
	struct store_queue_entry *q = NULL;
	struct store_live_cert *lc = NULL;
	struct store_unit u;
	int64_t order = 0, id[3] = { 0 }, n = 0;
	size_t k = 0;
	int i;

	assert_int_equal(pg_fixture_order(st, "KM-U", 3, AT, &order), 0);
	assert_int_equal(store_units_queue(st, &q, &k), 0);
	assert_int_equal(k, 3);
	for (i = 0; i < 3; i++)
		id[i] = q[i].unit;
	assert_string_equal(q[0].state, "queued");
	assert_string_equal(q[0].kind, "legal_rep");
	store_queue_entries_free(q, k);
	assert_int_equal(store_unit_requeue(st, id[0], 1, "ca_submit:unavail", "CA down", AT), 0);
	assert_int_equal(store_unit_hold(st, id[1], "subject rule", AT), 0);
	assert_int_equal(store_units_count(st, order, 1 | 2, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(store_units_count(st, order, 1, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_unit_load(st, id[1], &u), 0);
	assert_string_equal(u.state, "held");
	assert_string_equal(u.hold_reason, "subject rule");
	assert_int_equal(u.order_id, order);
	store_unit_clear(&u);
	assert_int_equal(store_unit_release(st, id[1], AT), 0);
	assert_int_equal(store_units_queue(st, &q, &k), 0);
	assert_int_equal(k, 3);
	/* the requeued unit, then the released one, went to the tail */
	assert_int_equal(q[0].unit, id[2]);
	assert_int_equal(q[1].unit, id[0]);
	assert_int_equal(q[2].unit, id[1]);
	assert_string_equal(q[1].last_failure, "CA down");
	store_queue_entries_free(q, k);
	/* in pages of one by key, across the second they share: the unit never
	 * put back (requeue_seq NULL), then the two put back in turn */
	{
		const int64_t want[] = { id[2], id[0], id[1] };
		int64_t next = 0, after = 0;

		for (i = 0; i < 3; i++, after = next) {
			assert_int_equal(store_units_queue_page(st, after, 1, &q, &k, &next), 0);
			assert_int_equal(k, 1);
			assert_int_equal(q[0].unit, want[i]);
			assert_int_equal(next, i < 2 ? STORE_QUEUE_KEY(want[i], 1) : 0);
			store_queue_entries_free(q, k);
		}
		assert_int_equal(store_units_queue_page(st, STORE_QUEUE_KEY(id[2], 1), 5, &q, &k,
		    &next), 0);
		assert_int_equal(k, 2);
		assert_int_equal(q[0].unit, id[0]);
		assert_int_equal(q[1].unit, id[1]);
		store_queue_entries_free(q, k);
	}
	assert_int_equal(store_unit_load(st, 999, &u), UKEY_ERR_NOTFOUND);
	assert_int_equal(store_live_certs_by_serial(st, "00ab", &lc, &k), 0);
	assert_int_equal(k, 0);
	store_live_certs_free(lc, k);
	store_close(st);
}

/* One claimer: waits for the start, then takes units (same: each of ids in
 * turn; next: the queue's head until it is empty), writing every unit it
 * got to fd_out. Exit status 0, or 1 on any error. */
static void
claimer(const char *url, const int64_t *ids, size_t n, int next, int station, int go, int out)
{
	struct store *st = NULL;
	char name[16], c;
	int64_t unit = 0;
	size_t k;
	int rc, taken;

	snprintf(name, sizeof(name), "st-%d", station);
	if (store_open_url(url, &st) != 0)
		_exit(1);
	(void)read(go, &c, 1);		/* EOF: every claimer starts now */
	for (k = 0; next || k < n; k++) {
		if ((rc = store_begin(st)) != 0)
			_exit(1);
		taken = 0;
		if (next) {
			rc = store_unit_take_next(st, 0, name, 60, AT, &unit);
			taken = unit != 0;
		} else {
			unit = ids[k];
			rc = store_unit_take(st, unit, station * 1000000 + unit, name, 60, AT, &taken);
		}
		if (rc != 0)
			_exit(1);
		if (!taken) {
			store_rollback(st);
			if (next)
				break;
			continue;
		}
		if (store_commit(st) != 0 || write(out, &unit, sizeof(unit)) != sizeof(unit))
			_exit(1);
	}
	store_close(st);
	_exit(0);
}

/* Runs `procs` claimers over ids; every id must be claimed exactly once. */
static void
race(const char *url, const int64_t *ids, size_t n, int next, int procs)
{
	int go[2], out[8][2], i, status;
	size_t total = 0, k;
	pid_t pid[8];
	int64_t unit, max = ids[n - 1];
	int *got = calloc((size_t)max + 1, sizeof(int));

	assert_non_null(got);
	assert_int_equal(pipe(go), 0);
	for (i = 0; i < procs; i++) {
		assert_int_equal(pipe(out[i]), 0);
		assert_true((pid[i] = fork()) >= 0);
		if (pid[i] == 0) {
			close(go[1]);
			close(out[i][0]);
			claimer(url, ids, n, next, i + 1, go[0], out[i][1]);
		}
		close(out[i][1]);
	}
	close(go[0]);
	close(go[1]);	/* go */
	for (i = 0; i < procs; i++) {
		while (read(out[i][0], &unit, sizeof(unit)) == sizeof(unit)) {
			assert_true(unit >= 1 && unit <= max);
			got[unit]++;
			total++;
		}
		close(out[i][0]);
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	for (k = 0; k < n; k++)
		assert_int_equal(got[ids[k]], 1);	/* no double claim, none lost */
	assert_int_equal(total, n);
	free(got);
}

static void
queued_ids(struct store *st, int64_t **ids, size_t *n)
{
	struct store_unit_claim *c = NULL;
	size_t k;

	assert_int_equal(store_units_for_token(st, "softhsm", NULL, 100000, &c, n), 0);
	assert_non_null(*ids = calloc(*n, sizeof(**ids)));
	for (k = 0; k < *n; k++)
		(*ids)[k] = c[k].unit_id;
	store_unit_claims_free(c, *n);
}

static void
check_all_leased(struct store *st, size_t n)
{
	int64_t v = 0, all = 0, lapsed = 0;

	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM units WHERE state ="
	    " 'in_production'", ""), 0);
	assert_int_equal(v, (int64_t)n);
	assert_int_equal(store_leases_count(st, &all, &lapsed), 0);
	assert_int_equal(all, (int64_t)n);
	assert_int_equal(lapsed, 0);
	/* the job each unit names is its lease's, so from the claimer that won */
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM units u JOIN unit_leases l"
	    " ON l.unit_id = u.id WHERE u.job_id IS DISTINCT FROM l.job_id", ""), 0);
	assert_int_equal(v, 0);
}

/* Two stations race for the same 1,000 units, one by one. */
static void
test_race_same_units(void **state)
{
	struct store *st = fresh_store("race_same");
	char url[256];
	int64_t order = 0, *ids = NULL;
	size_t n = 0;

	assert_int_equal(pg_fixture_order(st, "KM-RACE", RACE_UNITS, AT, &order), 0);
	queued_ids(st, &ids, &n);
	assert_int_equal(n, RACE_UNITS);
	store_close(st);
	pg_conninfo(&server, "race_same", url, sizeof(url));
	race(url, ids, n, 0, 2);
	assert_int_equal(store_open_url(url, &st), 0);
	check_all_leased(st, n);
	assert_int_equal(store_int(st, (int64_t *)&order, "SELECT count(*) FROM units"
	    " WHERE job_id IS NULL", ""), 0);
	assert_int_equal(order, 0);
	store_close(st);
	free(ids);
}

/* Three stations take the head of the queue until it is empty. */
static void
test_race_queue_head(void **state)
{
	struct store *st = fresh_store("race_next");
	char url[256];
	int64_t order = 0, *ids = NULL;
	size_t n = 0;

	assert_int_equal(pg_fixture_order(st, "KM-NEXT", 600, AT, &order), 0);
	queued_ids(st, &ids, &n);
	store_close(st);
	pg_conninfo(&server, "race_next", url, sizeof(url));
	race(url, ids, n, 1, 3);
	assert_int_equal(store_open_url(url, &st), 0);
	check_all_leased(st, n);
	store_close(st);
	free(ids);
}

/* Waits (at most about 30 s, a guard, not a measure) for a lapsed lease and
 * recovers it as station by. */
static void
recover_one(struct store *st, const char *by, struct store_lease_recovery *r)
{
	int found = 0, tries;

	for (tries = 0; tries < 300 && !found; tries++) {
		assert_int_equal(store_lease_recover(st, by, AT, r, &found), 0);
		if (!found)
			usleep(100 * 1000);
	}
	assert_true(found);
}

/* A child that takes the queue's head as st-a with a 1 s lease, commits or
 * not, reports the unit and waits to be killed. */
static pid_t
doomed_claimer(const char *url, int commit, int64_t *unit)
{
	struct store *st = NULL;
	int fd[2];
	pid_t pid;

	assert_int_equal(pipe(fd), 0);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		close(fd[0]);
		if (store_open_url(url, &st) != 0 || store_begin(st) != 0 ||
		    store_unit_take_next(st, 0, "st-a", 1, AT, unit) != 0 || *unit == 0 ||
		    (commit && store_commit(st) != 0) ||
		    write(fd[1], unit, sizeof(*unit)) != sizeof(*unit))
			_exit(1);
		for (;;)
			pause();
	}
	close(fd[1]);
	assert_int_equal(read(fd[0], unit, sizeof(*unit)), sizeof(*unit));
	close(fd[0]);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

static void
test_killed_claimer(void **state)
{
	struct store *st = fresh_store("killed");
	struct store_lease_recovery r;
	char url[256];
	int64_t order = 0, a = 0, b = 0, got = 0;
	int taken = 0, tries;

	assert_int_equal(pg_fixture_order(st, "KM-KILL", 2, AT, &order), 0);
	store_close(st);
	pg_conninfo(&server, "killed", url, sizeof(url));
	doomed_claimer(url, 1, &a);	/* killed with its claim committed */
	doomed_claimer(url, 0, &b);	/* killed inside its transaction */
	assert_int_not_equal(a, b);
	assert_int_equal(store_open_url(url, &st), 0);
	/* the uncommitted claim died with its connection: b is queued again
	 * as soon as the server has noticed */
	for (tries = 0; tries < 300 && got == 0; tries++) {
		assert_int_equal(store_begin(st), 0);
		assert_int_equal(store_unit_take_next(st, 0, "st-b", 60, AT, &got), 0);
		assert_int_equal(store_commit(st), 0);
		if (got == 0)
			usleep(100 * 1000);
	}
	assert_int_equal(got, b);
	/* a's lease lapses; st-b recovers it and takes the unit */
	recover_one(st, "st-b", &r);
	assert_int_equal(r.unit_id, a);
	assert_string_equal(r.station, "st-a");
	assert_int_equal(r.requeued, 1);
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_unit_take(st, a, 0, "st-b", 60, AT, &taken), 0);
	assert_int_equal(store_commit(st), 0);
	assert_int_equal(taken, 1);
	/* st-a, were it only cut off, cannot renew what st-b holds now */
	assert_int_equal(store_lease_renew(st, a, "st-a", 60), UKEY_ERR_STATE);
	assert_int_equal(store_lease_renew(st, a, "st-b", 60), 0);
	assert_int_equal(store_lease_release(st, a, "st-b"), 0);
	store_close(st);
}

/* A job that began a step when its lease lapsed stays with its token: it
 * is suspended, the lease pinned to its station, the unit not requeued. */
static void
test_lapsed_mid_job_pinned(void **state)
{
	struct store *st = fresh_store("pinned");
	struct store_lease_recovery r;
	int64_t order = 0, unit = 0, job = 0, v = 0, all = 0, lapsed = 0;
	int taken = 0, found = 1;
	struct store_job_new jn = { .bay = "bay-1", .profile = "softhsm",
	    .operator_name = "operator1", .key_alg = "ec-p256" };

	assert_int_equal(pg_fixture_order(st, "KM-PIN", 1, AT, &order), 0);
	assert_int_equal(store_int(st, &unit, "SELECT id FROM units", ""), 0);
	jn.unit_id = unit;
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_job_insert(st, &jn, AT, &job), 0);
	assert_int_equal(store_unit_take(st, unit, job, "st-a", 1, AT, &taken), 0);
	assert_int_equal(store_commit(st), 0);
	assert_int_equal(taken, 1);
	assert_int_equal(store_job_step_mark(st, job, "init_token", "begin", NULL, AT), 0);
	recover_one(st, "st-b", &r);
	assert_int_equal(r.unit_id, unit);
	assert_int_equal(r.job_id, job);
	assert_int_equal(r.requeued, 0);
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM jobs WHERE id = ? AND state ="
	    " 'suspended'", "i", job), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_int(st, &v, "SELECT count(*) FROM units WHERE id = ? AND state ="
	    " 'in_production' AND job_id = ?", "ii", unit, job), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_leases_count(st, &all, &lapsed), 0);
	assert_int_equal(all, 1);
	assert_int_equal(lapsed, 0);	/* pinned: never recovered again */
	assert_int_equal(store_lease_recover(st, "st-b", AT, &r, &found), 0);
	assert_int_equal(found, 0);
	assert_int_equal(store_lease_renew(st, unit, "st-b", 60), UKEY_ERR_STATE);
	assert_int_equal(store_lease_renew(st, unit, "st-a", 60), 0);	/* back at st-a */
	store_close(st);
}

/* Runs docs/pg-roles.sql on database name as the superuser. */
static void
apply_roles(const char *name)
{
	char url[256], path[512], *sql;
	struct db *db = NULL;
	const char *src = getenv("UKEY_SOURCE_DIR");
	FILE *f;
	long len;

	snprintf(path, sizeof(path), "%s/docs/pg-roles.sql", src ? src : UKEY_SOURCE_DIR);
	assert_non_null(f = fopen(path, "r"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	assert_true((len = ftell(f)) > 0);
	rewind(f);
	assert_non_null(sql = calloc(1, (size_t)len + 1));
	assert_int_equal(fread(sql, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	pg_conninfo(&server, name, url, sizeof(url));
	assert_int_equal(db_open(url, &db), 0);
	assert_int_equal(db_exec(db, sql), 0);
	assert_int_equal(db_exec(db, sql), 0);	/* idempotent */
	assert_int_equal(db_exec(db, "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE"
	    " rolname = 'km01') THEN CREATE ROLE km01 LOGIN IN ROLE ukey_station; END IF; END$$"),
	    0);
	db_close(db);
	free(sql);
}

/* A station's role (docs/pg-roles.sql) works the queue and the audit log
 * but cannot change or delete an audit row, nor the schema. */
static void
test_station_role(void **state)
{
	struct store *st = fresh_store("roles");
	struct store_unit_claim *c = NULL;
	char url[256];
	int64_t order = 0, unit = 0;
	size_t n = 0;

	assert_int_equal(pg_fixture_order(st, "KM-ROLE", 2, AT, &order), 0);
	store_close(st);
	apply_roles("roles");
	snprintf(url, sizeof(url), "host=%s dbname=roles user=km01", server.dir);
	assert_int_equal(store_open_url(url, &st), 0);	/* schema current: no DDL needed */
	assert_int_equal(store_units_for_token(st, "softhsm", NULL, 10, &c, &n), 0);
	assert_int_equal(n, 2);
	store_unit_claims_free(c, n);
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_unit_take_next(st, 0, "km01", 60, AT, &unit), 0);
	assert_int_equal(store_commit(st), 0);
	assert_true(unit != 0);
	assert_int_equal(store_lease_release(st, unit, "km01"), 0);
	assert_int_equal(store_run(st, "INSERT INTO audit (at, actor, action, prev_hash, hash)"
	    " VALUES (?, 'km01', 'job.start', 'p', 'h')", "t", AT), 0);
	assert_int_equal(store_run(st, "UPDATE audit SET actor = 'x'", ""), UKEY_ERR_PERM);
	assert_int_equal(store_run(st, "DELETE FROM audit", ""), UKEY_ERR_PERM);
	assert_int_equal(store_run(st, "DELETE FROM token_states", ""), UKEY_ERR_PERM);
	assert_int_equal(store_run(st, "DELETE FROM schema_migrations", ""), UKEY_ERR_PERM);
	assert_int_equal(store_run(st, "CREATE TABLE evil (x int)", ""), UKEY_ERR_PERM);
	store_close(st);
}

/* The server restarts under a station: its statements fail as
 * UKEY_ERR_UNAVAIL, reconnecting fails while the server is away and works
 * once it is back, and the queue is as it was. */
static void
test_server_restart(void **state)
{
	struct store *st = fresh_store("restart");
	int64_t order = 0, unit = 0, n = 0;

	assert_int_equal(pg_fixture_order(st, "KM-RST", 2, AT, &order), 0);
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_unit_take_next(st, 0, "km01", 60, AT, &unit), 0);
	assert_int_equal(store_commit(st), 0);
	assert_int_equal(pg_server_halt(&server), 0);
	assert_int_equal(store_int(st, &n, "SELECT count(*) FROM units", ""), UKEY_ERR_UNAVAIL);
	assert_int_equal(store_reconnect(st), UKEY_ERR_UNAVAIL);
	assert_int_equal(pg_server_start_again(&server), 0);
	assert_int_equal(store_reconnect(st), 0);
	assert_int_equal(store_int(st, &n, "SELECT count(*) FROM units WHERE state = 'queued'",
	    ""), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_lease_renew(st, unit, "km01", 60), 0);	/* the lease survived */
	store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_translate),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_roundtrip_both),
		cmocka_unit_test(test_schema_tracks_match),
		cmocka_unit_test(test_migrate_concurrent),
		cmocka_unit_test(test_newer_schema_refused),
		cmocka_unit_test(test_units_for_token),
		cmocka_unit_test(test_begin_lazy),
		cmocka_unit_test(test_units_module),
		cmocka_unit_test(test_query_json),
		cmocka_unit_test(test_dual_and_tokens),
		cmocka_unit_test(test_race_same_units),
		cmocka_unit_test(test_race_queue_head),
		cmocka_unit_test(test_killed_claimer),
		cmocka_unit_test(test_lapsed_mid_job_pinned),
		cmocka_unit_test(test_station_role),
		cmocka_unit_test(test_server_restart),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
