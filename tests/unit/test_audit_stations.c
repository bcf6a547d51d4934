/* One hash chain per station, on SQLite and on a real PostgreSQL 15 server
 * (pg_fixture.h starts one): two stations append (at once, on PostgreSQL,
 * from two processes) and each has a whole chain whose checkpoints verify
 * with its own registered key; their export verifies offline; an
 * incremental verification goes on from each station's last verified
 * checkpoint; a checkpoint signed by a key not registered for its station
 * is refused; a record changed behind a station's back is reported with its
 * station, id and seq; an SQLite station.db written before per-station
 * chains (schema version 13) verifies before and after migration 14 and the
 * records appended after it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/err.h"
#include "store/audit.h"
#include "store/auditkey.h"
#include "store/schema.h"
#include "pg_fixture.h"
#include "store_fixture.h"

#define APPENDS 30
#define EVERY 10		/* a checkpoint every EVERY records */
#define GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
#define AT "2026-03-01T10:00:00Z"

static struct pg_server server;
static char keydir[3][64];
static EVP_PKEY *keys[3];	/* km01's, dl01's, and a key nobody registered */
static const char *const names[2] = { "km01", "dl01" };

static int
group_setup(void **state)
{
	int i;

	for (i = 0; i < 3; i++) {
		snprintf(keydir[i], sizeof(keydir[i]), "/tmp/ukey-aust-key-XXXXXX");
		if (mkdtemp(keydir[i]) == NULL || audit_key_load(keydir[i], &keys[i]) != 0)
			return -1;
	}
	return pg_server_start(&server);
}

static int
group_teardown(void **state)
{
	char cmd[256];
	int i, rc = 0;

	pg_server_stop(&server);
	for (i = 0; i < 3; i++) {
		EVP_PKEY_free(keys[i]);
		snprintf(cmd, sizeof(cmd), "rm -rf %s", keydir[i]);
		rc |= system(cmd);
	}
	return rc == 0 ? 0 : -1;
}

/* Station i appends APPENDS records, a checkpoint after every EVERY. */
static int
station_run(struct store *st, int i, int k)
{
	struct audit_event ev = { .station = names[i], .actor = "ukeyd", .action = "job.step",
		.job_id = k + 1 };

	if (audit_append(st, &ev, NULL) != 0)
		return -1;
	if ((k + 1) % EVERY == 0 &&
	    audit_checkpoint(st, keys[i], names[i], "ukeyd", "interval", NULL) != 0)
		return -1;
	return 0;
}

static const struct audit_station_report *
report_of(const struct audit_report *rep, const char *station)
{
	size_t i;

	for (i = 0; i < rep->n_stations; i++)
		if (strcmp(rep->stations[i].station, station) == 0)
			return &rep->stations[i];
	fail_msg("no report for station %s", station);
	return NULL;
}

/* Both chains whole: APPENDS records and APPENDS / EVERY checkpoint events
 * each, every checkpoint verified with its station's key. */
static void
check_whole(struct store *st)
{
	const int per = APPENDS + APPENDS / EVERY;
	struct audit_report rep;
	char key_id[AUDIT_KEY_ID_LEN + 1];
	int i;

	assert_int_equal(audit_verify_db(store_dbh(st), NULL, NULL, NULL, &rep), 0);
	assert_true(rep.ok);
	assert_int_equal(rep.n_stations, 2);
	assert_int_equal(rep.records, 2 * per);
	assert_int_equal(rep.checkpoints, 2 * (APPENDS / EVERY));
	assert_int_equal(rep.unsigned_tail, 0);
	for (i = 0; i < 2; i++) {
		const struct audit_station_report *s = report_of(&rep, names[i]);

		assert_true(s->ok);
		assert_int_equal(s->records, per);
		assert_int_equal(s->first_seq, 1);
		assert_int_equal(s->last_seq, per);
		assert_int_equal(s->checkpoints, APPENDS / EVERY);
		assert_int_equal(s->last_signed_seq, per);
		assert_int_equal(s->n_keys, 1);
		assert_int_equal(audit_key_id(keys[i], key_id), 0);
		assert_string_equal(s->key_id, key_id);
	}
	/* --station: that chain alone */
	assert_int_equal(audit_verify_db(store_dbh(st), NULL, "dl01", NULL, &rep), 0);
	assert_int_equal(rep.n_stations, 1);
	assert_string_equal(rep.stations[0].station, "dl01");
}

/* Writes one kind of the export's lines to f, as ukeyctl does. */
static void
export_kind(struct store *st, enum audit_export_what what, FILE *f)
{
	struct json_object *rows = NULL;
	size_t i;

	assert_int_equal(audit_export_page(st, what, 0, INT64_MAX, 10000, &rows), 0);
	for (i = 0; i < json_object_array_length(rows); i++)
		fprintf(f, "%s\n", json_object_to_json_string_ext(json_object_array_get_idx(rows, i),
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(rows);
}

/* The export of both stations verifies offline, one chain per station, with
 * the keys on its key lines; with a key nobody registered given, refused. */
static void
check_export(struct store *st)
{
	struct audit_report rep;
	FILE *f = tmpfile();

	assert_non_null(f);
	export_kind(st, AUDIT_EXPORT_KEYS, f);
	export_kind(st, AUDIT_EXPORT_RECORDS, f);
	export_kind(st, AUDIT_EXPORT_CHECKPOINTS, f);
	rewind(f);
	assert_int_equal(audit_verify_export(f, NULL, NULL, NULL, &rep), 0);
	assert_int_equal(rep.n_stations, 2);
	assert_int_equal(report_of(&rep, "dl01")->checkpoints, APPENDS / EVERY);
	assert_int_equal(report_of(&rep, "km01")->n_keys, 1);
	rewind(f);
	assert_int_equal(audit_verify_export(f, keys[2], NULL, NULL, &rep), UKEY_ERR_VERIFY);
	assert_non_null(strstr(rep.why, "which no station registered"));
	fclose(f);
}

/* Incremental: seeded with what a whole verification found, a verification
 * reads on from each station's last checkpoint; a seed that is not the
 * log's, or whose record is gone, breaks the chain. EVERY - 1 records more each
 * (no checkpoint). */
static void
check_incremental(struct store *st)
{
	const int per = APPENDS + APPENDS / EVERY;
	struct audit_seed seeds[2];
	struct audit_report rep;
	size_t i;
	char h0;
	int k;

	assert_int_equal(audit_verify_db(store_dbh(st), NULL, NULL, NULL, &rep), 0);
	assert_int_equal(rep.n_stations, 2);
	for (i = 0; i < 2; i++) {
		const struct audit_station_report *s = &rep.stations[i];

		snprintf(seeds[i].station, sizeof(seeds[i].station), "%s", s->station);
		seeds[i].base = s->base;
		seeds[i].pos = s->last_signed_seq;
		seeds[i].id = s->last_signed_id;
		seeds[i].checkpoint = s->checkpoints;
		memcpy(seeds[i].hash, s->last_signed_hash, sizeof(seeds[i].hash));
	}
	for (k = APPENDS; k < APPENDS + EVERY - 1; k++)
		for (i = 0; i < 2; i++)
			assert_int_equal(station_run(st, (int)i, k), 0);
	assert_int_equal(audit_verify_db_from(store_dbh(st), NULL, seeds, 2, NULL, &rep), 0);
	assert_true(rep.incremental);
	for (i = 0; i < 2; i++) {
		const struct audit_station_report *s = report_of(&rep, names[i]);

		assert_int_equal(s->seed_seq, per);
		assert_int_equal(s->last_seq, per + EVERY - 1);
		assert_int_equal(s->checkpoints, APPENDS / EVERY);
		assert_int_equal(s->unsigned_tail, EVERY - 1);
	}
	h0 = seeds[1].hash[0];
	seeds[1].hash[0] = h0 == '0' ? '1' : '0';
	assert_int_equal(audit_verify_db_from(store_dbh(st), NULL, seeds, 2, NULL, &rep),
	    UKEY_ERR_VERIFY);
	assert_non_null(strstr(report_of(&rep, seeds[1].station)->why, "changed since"));
	assert_true(report_of(&rep, seeds[0].station)->ok);
	/* the record where it ended is gone (a log cut back): refused */
	seeds[1].hash[0] = h0;
	seeds[0].id += 1000;
	assert_int_equal(audit_verify_db_from(store_dbh(st), NULL, seeds, 2, NULL, &rep),
	    UKEY_ERR_VERIFY);
	assert_non_null(strstr(report_of(&rep, seeds[0].station)->why, "is not in the log any more"));
	assert_true(report_of(&rep, seeds[1].station)->ok);
}

/* Record seq 5 of dl01 edited (by sql, with the append-only guard off):
 * dl01 is broken there; km01 keeps its own break (check_rogue_key's). */
static void
check_tamper(struct store *st, const char *guard_off)
{
	const struct audit_station_report *s;
	struct audit_report rep;
	int64_t id = 0;

	assert_int_equal(store_int(st, &id, "SELECT id FROM audit WHERE station = 'dl01'"
	    " AND seq = 5", ""), 0);
	assert_int_equal(store_run(st, guard_off, ""), 0);
	assert_int_equal(store_run(st, "UPDATE audit SET actor = 'mallory' WHERE id = ?", "i", id),
	    0);
	assert_int_equal(audit_verify_db(store_dbh(st), NULL, NULL, NULL, &rep), UKEY_ERR_VERIFY);
	assert_false(rep.ok);
	s = report_of(&rep, "dl01");
	assert_false(s->ok);
	assert_int_equal(s->bad_id, id);
	assert_int_equal(s->bad_seq, 5);
	assert_non_null(strstr(s->why, "hash mismatch"));
	assert_non_null(strstr(report_of(&rep, "km01")->why, "not registered for station km01"));
	assert_int_equal(report_of(&rep, "km01")->records, APPENDS + APPENDS / EVERY + EVERY);
}

/* km01's next checkpoint signed with a key registered for nobody: refused,
 * naming the station; dl01 is not affected. */
static void
check_rogue_key(struct store *st)
{
	const struct audit_station_report *s;
	struct audit_report rep;

	assert_int_equal(audit_checkpoint(st, keys[2], "km01", "ukeyd", "request", NULL), 0);
	assert_int_equal(audit_verify_db(store_dbh(st), keys[0], NULL, NULL, &rep),
	    UKEY_ERR_VERIFY);
	s = report_of(&rep, "km01");
	assert_false(s->ok);
	assert_int_equal(s->bad_checkpoint, APPENDS / EVERY + 1);
	assert_non_null(strstr(s->why, "not registered for station km01"));
	assert_int_equal(s->checkpoints, APPENDS / EVERY);
	assert_true(report_of(&rep, "dl01")->ok);
	/* dl01's key does not sign for km01 either */
	assert_int_equal(audit_verify_db(store_dbh(st), NULL, "dl01", NULL, &rep), 0);
}

static void
register_keys(struct store *st)
{
	assert_int_equal(audit_key_register(st, "km01", keys[0]), 0);
	assert_int_equal(audit_key_register(st, "dl01", keys[1]), 0);
	assert_int_equal(audit_key_register(st, "km01", keys[0]), 0);	/* once */
}

static void
test_sqlite_stations(void **state)
{
	struct store *st = NULL;
	char dir[64], path[128];
	int k, i;

	snprintf(dir, sizeof(dir), "/tmp/ukey-aust-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/station.db", dir);
	assert_int_equal(store_open(path, &st), 0);
	register_keys(st);
	/* one writer on SQLite: the two stations' appends interleave */
	for (k = 0; k < APPENDS; k++)
		for (i = 0; i < 2; i++)
			assert_int_equal(station_run(st, i, k), 0);
	check_whole(st);
	check_export(st);
	check_incremental(st);
	check_rogue_key(st);
	check_tamper(st, "DROP TRIGGER audit_no_update");
	store_fixture_close(st, dir);
}

static void
test_pg_stations(void **state)
{
	struct store *st = NULL;
	char url[256];
	pid_t pid[2];
	int i, k, status;

	assert_int_equal(pg_fresh_db(&server, "austations", url, sizeof(url)), 0);
	assert_int_equal(store_open_url(url, &st), 0);
	register_keys(st);
	for (i = 0; i < 2; i++) {
		assert_true((pid[i] = fork()) >= 0);
		if (pid[i] == 0) {
			struct store *mine = NULL;

			if (store_open_url(url, &mine) != 0)
				_exit(2);
			for (k = 0; k < APPENDS; k++)
				if (station_run(mine, i, k) != 0)
					_exit(1);
			store_close(mine);
			_exit(0);
		}
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	check_whole(st);
	check_export(st);
	check_incremental(st);
	check_rogue_key(st);
	check_tamper(st, "ALTER TABLE audit DISABLE TRIGGER audit_append_only");
	store_close(st);
}

/* A database at schema version 13, as written before per-station chains. */
static void
make_v13(const char *path)
{
	const struct migration *m;
	sqlite3 *h = NULL;
	size_t n, i;
	char sql[256];

	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "CREATE TABLE schema_migrations (version INTEGER PRIMARY"
	    " KEY, what TEXT NOT NULL, applied_at TEXT NOT NULL)", NULL, NULL, NULL), SQLITE_OK);
	m = schema_migrations(&n);
	for (i = 0; i < n && m[i].version < 14; i++) {
		assert_int_equal(sqlite3_exec(h, m[i].sql, NULL, NULL, NULL), SQLITE_OK);
		snprintf(sql, sizeof(sql), "INSERT INTO schema_migrations VALUES (%d, 'v', '%s')",
		    m[i].version, AT);
		assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	sqlite3_close(h);
}

/* Record id of the old one chain (format 2), linked to prev; hash out. */
static void
legacy_record(struct db *db, int64_t id, const char *action, const char *detail,
    const char *prev, char out[AUDIT_HASH_LEN + 1])
{
	struct audit_record r;
	int c;

	for (c = 0; c < AC_N; c++)
		r.v[c] = (struct audit_value){ .type = AV_NULL };
	r.v[AC_ID] = (struct audit_value){ .type = AV_INT, .i = id };
	r.v[AC_FORMAT] = (struct audit_value){ .type = AV_INT, .i = 2 };
	r.v[AC_AT] = (struct audit_value){ .type = AV_TEXT, .s = AT, .len = strlen(AT) };
	r.v[AC_ACTOR] = (struct audit_value){ .type = AV_TEXT, .s = "ukeyd", .len = 5 };
	r.v[AC_ACTION] = (struct audit_value){ .type = AV_TEXT, .s = action, .len = strlen(action) };
	if (detail != NULL)
		r.v[AC_DETAIL] = (struct audit_value){ .type = AV_TEXT, .s = detail,
		    .len = strlen(detail) };
	r.v[AC_PREV] = (struct audit_value){ .type = AV_TEXT, .s = prev, .len = AUDIT_HASH_LEN };
	assert_int_equal(audit_record_hash(&r, out), 0);
	assert_int_equal(db_run(db, "INSERT INTO audit (id, format, at, actor, action, detail,"
	    " prev_hash, hash) VALUES (?, 2, ?, 'ukeyd', ?, ?, ?, ?)", "itttt" "t", id, AT, action,
	    detail, prev, out), 0);
}

/* Five records of the one chain, checkpoint 1 (text version 1) over the
 * third, signed by km01's key. */
static void
legacy_log(struct db *db, char h[5][AUDIT_HASH_LEN + 1])
{
	struct audit_checkpoint_rec c = { .id = 1, .audit_id = 3, .records = 3, .at = AT,
		.station = "km01", .alg = AUDIT_KEY_ALG };
	char key_id[AUDIT_KEY_ID_LEN + 1], *text = NULL, *sig = NULL;
	int i;

	for (i = 0; i < 5; i++)
		legacy_record(db, i + 1, i == 2 ? AUDIT_CHECKPOINT_ACTION : "job.step",
		    i == 2 ? "{\"checkpoint\":1,\"reason\":\"interval\"}" : NULL,
		    i ? h[i - 1] : GENESIS, h[i]);
	assert_int_equal(audit_key_id(keys[0], key_id), 0);
	c.audit_hash = h[2];
	c.key_id = key_id;
	assert_int_equal(audit_checkpoint_text(&c, &text), 0);
	assert_int_equal(audit_sign(keys[0], text, strlen(text), &sig), 0);
	assert_int_equal(db_run(db, "INSERT INTO audit_checkpoints (id, audit_id, audit_hash,"
	    " records, at, station, key_id, alg, signature) VALUES (1, 3, ?, 3, ?, 'km01', ?, ?, ?)",
	    "ttttt", h[2], AT, key_id, AUDIT_KEY_ALG, sig), 0);
	free(text);
	free(sig);
}

static void
test_sqlite_upgrade(void **state)
{
	struct witness_set ws = { 0 };
	struct witness_point pt = { .line = 1, .records = 4, .at = AT, .station = "km01" };
	char h[5][AUDIT_HASH_LEN + 1], head[AUDIT_HASH_LEN + 1], dir[64], path[128];
	const struct audit_station_report *s;
	struct audit_report rep;
	struct store *st = NULL;
	struct db *db = NULL;
	int64_t n = 0;
	int k;

	snprintf(dir, sizeof(dir), "/tmp/ukey-aust-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/station.db", dir);
	make_v13(path);
	assert_int_equal(db_open(path, &db), 0);
	legacy_log(db, h);
	db_close(db);
	/* before the migration (no station, no seq, no keys) and after it */
	assert_int_equal(audit_verify_db_file(path, keys[0], NULL, NULL, &rep), 0);
	assert_int_equal(rep.records, 5);
	assert_int_equal(store_open(path, &st), 0);
	assert_int_equal(store_int(st, &n, "SELECT count(*) FROM schema_migrations"
	    " WHERE version = 14", ""), 0);
	assert_int_equal(n, 1);
	assert_int_equal(audit_verify_db(store_dbh(st), keys[0], NULL, NULL, &rep), 0);
	assert_int_equal(rep.records, 5);
	assert_int_equal(rep.unsigned_tail, 2);
	assert_string_equal(rep.stations[0].station, "");
	/* the station's chain goes on from the old one's head */
	assert_int_equal(audit_head(st, "km01", &n, head), 0);
	assert_int_equal(n, 5);
	assert_string_equal(head, h[4]);
	assert_int_equal(audit_key_register(st, "km01", keys[0]), 0);
	for (k = 0; k < 3; k++)
		assert_int_equal(station_run(st, 0, k), 0);
	assert_int_equal(audit_checkpoint(st, keys[0], "km01", "ukeyd", "request", NULL), 0);
	assert_int_equal(audit_unsigned_count(st, "km01", &n), 0);
	assert_int_equal(n, 0);
	memcpy(pt.head, h[3], sizeof(pt.head));
	assert_int_equal(witness_set_add(&ws, &pt), 0);
	assert_int_equal(audit_verify_db(store_dbh(st), NULL, NULL, &ws, &rep), 0);
	assert_int_equal(rep.n_stations, 2);
	assert_int_equal(rep.records, 9);
	assert_int_equal(rep.checkpoints, 2);
	assert_int_equal(rep.unsigned_tail, 0);
	assert_int_equal(rep.witness_points, 1);
	s = report_of(&rep, "km01");
	assert_int_equal(s->first_seq, 6);
	assert_int_equal(s->last_seq, 9);
	assert_int_equal(s->checkpoints, 1);
	/* a format-2 record after the station's chain began is refused */
	legacy_record(store_dbh(st), 10, "job.step", NULL, h[4], head);
	assert_int_equal(audit_verify_db(store_dbh(st), NULL, NULL, NULL, &rep), UKEY_ERR_VERIFY);
	assert_non_null(strstr(rep.why, "the format never goes back"));
	witness_set_clear(&ws);
	store_fixture_close(st, dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sqlite_stations),
		cmocka_unit_test(test_pg_stations),
		cmocka_unit_test(test_sqlite_upgrade),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
