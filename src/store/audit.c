/* Appending to a station's hash chain in the audit log, signing checkpoints
 * over it, registering the station's checkpoint key. Verification lives in
 * auditverify.c and auditread.c; the forms are in docs/audit.md. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "store/audit.h"
#include "store/auditkey.h"
#include "store/db.h"

#define AUDIT_LOCK_KEY 0x61756474	/* "audt" */
#define GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

static struct audit_value
tv(const char *s)
{
	if (s == NULL)
		return (struct audit_value){ .type = AV_NULL };
	return (struct audit_value){ .type = AV_TEXT, .s = s, .len = strlen(s) };
}

static struct audit_value
iv(int64_t i)
{
	/* 0 means "not applicable" and is stored as NULL */
	if (i == 0)
		return (struct audit_value){ .type = AV_NULL };
	return (struct audit_value){ .type = AV_INT, .i = i };
}

/* The last row a query names: its position and hash. 0 or
 * UKEY_ERR_NOTFOUND. */
static int
last_row(struct store *st, const char *sql, const char *station, int64_t *pos,
    char hash[AUDIT_HASH_LEN + 1])
{
	struct db_stmt *q;
	const char *h;
	int rc;

	if ((rc = db_stmtf(store_dbh(st), &q, sql, station ? "t" : "", station)) != 0)
		return rc;
	if ((rc = db_step(q)) == 1) {
		*pos = db_column_int64(q, 0);
		h = db_column_text(q, 1);
		snprintf(hash, AUDIT_HASH_LEN + 1, "%s", h ? h : "");
		rc = 0;
	} else if (rc == 0) {
		rc = UKEY_ERR_NOTFOUND;
	}
	db_finalize(q);
	return rc;
}

int
audit_head(struct store *st, const char *station, int64_t *records, char hash[AUDIT_HASH_LEN + 1])
{
	int rc;

	*records = 0;
	memcpy(hash, GENESIS, AUDIT_HASH_LEN + 1);
	rc = last_row(st, "SELECT seq, hash FROM audit WHERE station = ? ORDER BY seq DESC LIMIT 1",
	    station, records, hash);
	if (rc != UKEY_ERR_NOTFOUND)
		return rc;
	/* no record of its own yet: the chain goes on from the records before
	 * per-station chains, whose ids count 1, 2, 3, ... */
	rc = last_row(st, "SELECT id, hash FROM audit WHERE station IS NULL ORDER BY id DESC LIMIT 1",
	    NULL, records, hash);
	return rc == UKEY_ERR_NOTFOUND ? 0 : rc;
}

/* The next id of table: on PostgreSQL from its identity's sequence (stations
 * append under locks of their own, so ids may have gaps), on SQLite the
 * next integer. */
static int
next_id(struct store *st, const char *table, int64_t *id)
{
	char sql[128];

	if (db_backend(store_dbh(st)) == DB_PG)
		snprintf(sql, sizeof(sql), "SELECT nextval(pg_get_serial_sequence('%s', 'id'))", table);
	else
		snprintf(sql, sizeof(sql), "SELECT coalesce(max(id), 0) + 1 FROM %s", table);
	return store_int(st, id, sql, "");
}

static void
fill_record(struct audit_record *r, const struct audit_event *ev, int64_t id, int64_t seq,
    const char *now, const char *prev)
{
	r->v[AC_ID] = (struct audit_value){ .type = AV_INT, .i = id };
	r->v[AC_FORMAT] = (struct audit_value){ .type = AV_INT, .i = AUDIT_FORMAT };
	r->v[AC_STATION] = tv(ev->station);
	r->v[AC_SEQ] = (struct audit_value){ .type = AV_INT, .i = seq };
	r->v[AC_AT] = tv(now);
	r->v[AC_ACTOR] = tv(ev->actor);
	r->v[AC_ACTION] = tv(ev->action);
	r->v[AC_ORDER] = iv(ev->order_id);
	r->v[AC_UNIT] = iv(ev->unit_id);
	r->v[AC_JOB] = iv(ev->job_id);
	r->v[AC_TOKEN] = tv(ev->token);
	r->v[AC_BAY] = tv(ev->bay);
	r->v[AC_DETAIL] = tv(ev->detail);
	r->v[AC_PREV] = tv(prev);
	r->v[AC_HASH] = tv(NULL);
}

static int
append_row(struct store *st, const struct audit_event *ev, int64_t *id_out, int64_t *seq_out,
    char hash[AUDIT_HASH_LEN + 1])
{
	struct audit_record r;
	char prev[AUDIT_HASH_LEN + 1], now[32];
	int64_t id, seq;
	int rc;

	store_now(now);
	if ((rc = audit_head(st, ev->station, &seq, prev)) != 0 ||
	    (rc = next_id(st, "audit", &id)) != 0)
		return rc;
	seq++;
	fill_record(&r, ev, id, seq, now, prev);
	if ((rc = audit_record_hash(&r, hash)) != 0)
		return rc;
	rc = store_run(st, "INSERT INTO audit (id, format, station, seq, at, actor, action, order_id,"
	    " unit_id, job_id, token, bay, detail, prev_hash, hash)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, nullif(?8, 0), nullif(?9, 0), nullif(?10, 0), ?11,"
	    " ?12, ?13, ?14, ?15)", "iititttiiittttt", id, (int64_t)AUDIT_FORMAT, ev->station, seq,
	    now, ev->actor, ev->action, ev->order_id, ev->unit_id, ev->job_id, ev->token, ev->bay,
	    ev->detail, prev, hash);
	if (rc == 0 && id_out != NULL)
		*id_out = id;
	if (rc == 0 && seq_out != NULL)
		*seq_out = seq;
	return rc;
}

/* On PostgreSQL several stations append to the log, each to its own chain:
 * a station's next seq and previous hash are read under a
 * transaction-scoped advisory lock of its own (the pair audit key, hash of
 * the station id), so that its appends queue while other stations' go on.
 * Call it inside a transaction. SQLite's one writer needs none. */
static int
audit_lock(struct store *st, const char *station)
{
	int64_t ignored;

	if (db_backend(store_dbh(st)) != DB_PG)
		return 0;
	return db_int(store_dbh(st), &ignored, "SELECT 1 FROM (SELECT pg_advisory_xact_lock("
	    "CAST(? AS integer), hashtext(?))) AS l", "it", (int64_t)AUDIT_LOCK_KEY, station);
}

static int
station_ok(const char *station)
{
	if (station == NULL || station[0] == '\0' || strlen(station) > AUDIT_STATION_MAX) {
		log_error("audit record without a station id (or longer than %d bytes)",
		    AUDIT_STATION_MAX);
		return UKEY_ERR_INVAL;
	}
	return 0;
}

int
audit_append(struct store *st, const struct audit_event *ev, int64_t *id_out)
{
	char hash[AUDIT_HASH_LEN + 1];
	int own = 0, rc;

	if ((rc = station_ok(ev->station)) != 0)
		return rc;
	if (db_backend(store_dbh(st)) != DB_PG)
		return append_row(st, ev, id_out, NULL, hash);
	/* the lock lasts to the end of a transaction: one of our own when the
	 * caller has none */
	if (!db_in_transaction(store_dbh(st))) {
		if ((rc = store_begin(st)) != 0)
			return rc;
		own = 1;
	}
	if ((rc = audit_lock(st, ev->station)) == 0)
		rc = append_row(st, ev, id_out, NULL, hash);
	if (own && rc == 0)
		rc = store_commit(st);
	if (own && rc != 0)
		store_rollback(st);
	return rc;
}

int
audit_unsigned_count(struct store *st, const char *station, int64_t *out)
{
	char hash[AUDIT_HASH_LEN + 1];
	int64_t last = 0, signed_seq = 0;
	int rc;

	*out = 0;
	if ((rc = audit_head(st, station, &last, hash)) != 0)
		return rc;
	rc = store_int(st, &signed_seq, "SELECT records FROM audit_checkpoints WHERE station = ?"
	    " AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1", "t", station);
	/* none of its own yet: the last checkpoint over the records before */
	if (rc == UKEY_ERR_NOTFOUND)
		rc = store_int(st, &signed_seq, "SELECT audit_id FROM audit_checkpoints"
		    " WHERE seq IS NULL ORDER BY id DESC LIMIT 1", "");
	if (rc != 0 && rc != UKEY_ERR_NOTFOUND)
		return rc;
	*out = last - signed_seq;
	return 0;
}

int
audit_key_register(struct store *st, const char *station, EVP_PKEY *key)
{
	char key_id[AUDIT_KEY_ID_LEN + 1], now[32], *pem = NULL;
	int64_t others = 0;
	int rc;

	if ((rc = station_ok(station)) != 0 || (rc = audit_key_id(key, key_id)) != 0 ||
	    (rc = audit_pubkey_pem(key, &pem)) != 0)
		goto out;
	store_now(now);
	rc = store_run(st, "INSERT INTO audit_keys (station, key_id, alg, pubkey, at)"
	    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (station, key_id) DO NOTHING", "ttttt", station,
	    key_id, AUDIT_KEY_ALG, pem, now);
	if (rc != 0) {
		log_error("registering audit key %.16s... for station %s failed", key_id, station);
		goto out;
	}
	if (store_int(st, &others, "SELECT count(*) FROM audit_keys WHERE station = ?"
	    " AND key_id <> ?", "tt", station, key_id) == 0 && others > 0)
		log_warn("station %s has %lld other audit key(s) registered besides %.16s...: their"
		    " checkpoints verify with them", station, (long long)others, key_id);
 out:
	free(pem);
	return rc;
}

/* Signs checkpoint c (all but the signature filled) and inserts it. */
static int
checkpoint_insert(struct store *st, EVP_PKEY *key, struct audit_checkpoint_rec *c)
{
	char *text = NULL, *sig = NULL;
	int rc;

	if ((rc = next_id(st, "audit_checkpoints", &c->id)) != 0 ||
	    (rc = audit_checkpoint_text(c, &text)) != 0 ||
	    (rc = audit_sign(key, text, strlen(text), &sig)) != 0)
		goto out;
	rc = store_run(st, "INSERT INTO audit_checkpoints (id, seq, audit_id, audit_hash, records, at,"
	    " station, key_id, alg, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", "iiititttt"
	    "t", c->id, c->seq, c->audit_id, c->audit_hash, c->records, c->at, c->station, c->key_id,
	    c->alg, sig);
 out:
	free(text);
	free(sig);
	return rc;
}

static struct json_object *
checkpoint_json(const struct audit_checkpoint_rec *c)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "checkpoint", json_object_new_int64(c->seq));
	json_object_object_add(o, "station", json_object_new_string(c->station));
	json_object_object_add(o, "audit_id", json_object_new_int64(c->audit_id));
	json_object_object_add(o, "audit_hash", json_object_new_string(c->audit_hash));
	json_object_object_add(o, "records", json_object_new_int64(c->records));
	json_object_object_add(o, "at", json_object_new_string(c->at));
	json_object_object_add(o, "key_id", json_object_new_string(c->key_id));
	return o;
}

int
audit_checkpoint(struct store *st, EVP_PKEY *key, const char *station_id, const char *actor,
    const char *reason, struct json_object **out)
{
	struct json_object *detail = json_object_new_object();
	struct audit_checkpoint_rec c = { 0 };
	struct audit_event ev = { .station = station_id, .actor = actor,
	    .action = AUDIT_CHECKPOINT_ACTION };
	char hash[AUDIT_HASH_LEN + 1], key_id[AUDIT_KEY_ID_LEN + 1], now[32];
	int64_t n = 0, id = 0, seq = 0;
	int rc;

	if (out != NULL)
		*out = NULL;
	if ((rc = station_ok(station_id)) != 0 || (rc = audit_key_id(key, key_id)) != 0)
		goto out;
	if ((rc = store_begin(st)) != 0 || (rc = audit_lock(st, station_id)) != 0)
		goto out;
	rc = store_int(st, &n, "SELECT coalesce(max(seq), 0) + 1 FROM audit_checkpoints"
	    " WHERE station = ?", "t", station_id);
	if (rc != 0)
		goto out;
	json_object_object_add(detail, "checkpoint", json_object_new_int64(n));
	json_object_object_add(detail, "reason", json_object_new_string(reason));
	ev.detail = json_object_to_json_string_ext(detail, JSON_C_TO_STRING_PLAIN);
	if ((rc = append_row(st, &ev, &id, &seq, hash)) != 0)
		goto out;
	store_now(now);
	c = (struct audit_checkpoint_rec){ .seq = n, .audit_id = id, .records = seq,
	    .audit_hash = hash, .at = now, .station = station_id, .key_id = key_id,
	    .alg = AUDIT_KEY_ALG };
	if ((rc = checkpoint_insert(st, key, &c)) != 0 || (rc = store_commit(st)) != 0)
		goto out;
	/* the journal keeps a copy outside the database: a witness against a
	 * log cut back together with its last checkpoints */
	log_info("audit checkpoint %" PRId64 " of station %s (%s): record %" PRId64 " (seq %" PRId64
	    ") hash %s", n, station_id, reason, id, seq, hash);
	if (out != NULL)
		*out = checkpoint_json(&c);
	rc = 0;
 out:
	if (rc != 0)
		store_rollback(st);
	json_object_put(detail);
	return rc;
}

int
audit_export_page(struct store *st, enum audit_export_what what, int64_t after, int64_t upto,
    int64_t limit, struct json_object **out)
{
	if (what == AUDIT_EXPORT_KEYS)
		return store_query(st, out, "SELECT 'key' AS type, station, key_id, alg, pubkey, at"
		    " FROM audit_keys ORDER BY station, key_id", "");
	if (what == AUDIT_EXPORT_CHECKPOINTS)
		return store_query(st, out, "SELECT 'checkpoint' AS type, id AS checkpoint, seq,"
		    " audit_id, audit_hash, records, at, station, key_id, alg, signature"
		    " FROM audit_checkpoints WHERE id > ?1 AND audit_id <= ?2 ORDER BY id LIMIT ?3",
		    "iii", after, upto, limit);
	return store_query(st, out, "SELECT 'record' AS type, id, format, station, seq, at, actor,"
	    " action, order_id, unit_id, job_id, token, bay, detail, prev_hash, hash FROM audit"
	    " WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3", "iii", after, upto, limit);
}
