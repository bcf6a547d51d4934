/* Appending to the hash-chained audit log and signing checkpoints over it.
 * Verification lives in auditverify.c; the forms are in docs/audit.md. */
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

int
audit_head(struct store *st, int64_t *records, char hash[AUDIT_HASH_LEN + 1])
{
	struct db_stmt *q;
	const char *h;
	int rc;

	*records = 0;
	memcpy(hash, GENESIS, AUDIT_HASH_LEN + 1);
	/* ids count 1, 2, 3, ... so the last id is the number of records */
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1",
	    "")) != 0)
		return rc;
	if ((rc = db_step(q)) == 1) {
		*records = db_column_int64(q, 0);
		h = db_column_text(q, 1);
		snprintf(hash, AUDIT_HASH_LEN + 1, "%s", h ? h : "");
		rc = 0;
	}
	db_finalize(q);
	return rc;
}

static int
append_row(struct store *st, const struct audit_event *ev, int64_t *id_out,
    char hash[AUDIT_HASH_LEN + 1])
{
	struct audit_record r;
	char prev[AUDIT_HASH_LEN + 1], now[32];
	int64_t id;
	int rc;

	store_now(now);
	if ((rc = audit_head(st, &id, prev)) != 0)
		return rc;
	id++;
	r.v[AC_ID] = (struct audit_value){ .type = AV_INT, .i = id };
	r.v[AC_FORMAT] = (struct audit_value){ .type = AV_INT, .i = AUDIT_FORMAT };
	r.v[AC_AT] = tv(now);
	r.v[AC_ACTOR] = tv(ev->actor);
	r.v[AC_ACTION] = tv(ev->action);
	r.v[AC_ORDER] = iv(ev->order_id);
	r.v[AC_UNIT] = iv(ev->unit_id);
	r.v[AC_JOB] = iv(ev->job_id);
	r.v[AC_TOKEN] = tv(ev->token);
	r.v[AC_BAY] = tv(ev->bay);
	r.v[AC_DETAIL] = tv(ev->detail);
	r.v[AC_PREV] = tv(prev);
	r.v[AC_HASH] = tv(NULL);
	if ((rc = audit_record_hash(&r, hash)) != 0)
		return rc;
	rc = store_run(st, "INSERT INTO audit (id, format, at, actor, action, order_id, unit_id,"
	    " job_id, token, bay, detail, prev_hash, hash)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, nullif(?6, 0), nullif(?7, 0), nullif(?8, 0), ?9, ?10, ?11,"
	    " ?12, ?13)", "iitttiiittttt", id, (int64_t)AUDIT_FORMAT, now, ev->actor, ev->action,
	    ev->order_id, ev->unit_id, ev->job_id, ev->token, ev->bay, ev->detail, prev, hash);
	if (rc == 0 && id_out != NULL)
		*id_out = id;
	return rc;
}

/* On PostgreSQL several stations append to one log: the next id and the
 * previous hash are read under a transaction-scoped advisory lock, so that
 * appends queue instead of colliding. Call it inside a transaction. SQLite's
 * one writer needs none. */
static int
audit_lock(struct store *st)
{
	int64_t ignored;

	if (db_backend(store_dbh(st)) != DB_PG)
		return 0;
	return db_int(store_dbh(st), &ignored, "SELECT 1 FROM (SELECT pg_advisory_xact_lock(?))"
	    " AS l", "i", (int64_t)AUDIT_LOCK_KEY);
}

int
audit_append(struct store *st, const struct audit_event *ev, int64_t *id_out)
{
	char hash[AUDIT_HASH_LEN + 1];
	int own = 0, rc;

	if (db_backend(store_dbh(st)) != DB_PG)
		return append_row(st, ev, id_out, hash);
	/* the lock lasts to the end of a transaction: one of our own when the
	 * caller has none */
	if (!db_in_transaction(store_dbh(st))) {
		if ((rc = store_begin(st)) != 0)
			return rc;
		own = 1;
	}
	if ((rc = audit_lock(st)) == 0)
		rc = append_row(st, ev, id_out, hash);
	if (own && rc == 0)
		rc = store_commit(st);
	if (own && rc != 0)
		store_rollback(st);
	return rc;
}

int
audit_unsigned_count(struct store *st, int64_t *out)
{
	int64_t last = 0, signed_id = 0;
	int rc;

	*out = 0;
	rc = store_int(st, &last, "SELECT max(id) FROM audit", "");
	if (rc == UKEY_ERR_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	rc = store_int(st, &signed_id, "SELECT audit_id FROM audit_checkpoints ORDER BY id DESC"
	    " LIMIT 1", "");
	if (rc != 0 && rc != UKEY_ERR_NOTFOUND)
		return rc;
	*out = last - signed_id;
	return 0;
}

int
audit_checkpoint(struct store *st, EVP_PKEY *key, const char *station_id, const char *actor,
    const char *reason, struct json_object **out)
{
	struct json_object *detail = json_object_new_object();
	struct audit_checkpoint_rec c = { 0 };
	struct audit_event ev = { .actor = actor, .action = AUDIT_CHECKPOINT_ACTION };
	char hash[AUDIT_HASH_LEN + 1], key_id[AUDIT_KEY_ID_LEN + 1], now[32];
	char *text = NULL, *sig = NULL;
	int64_t n = 0, id = 0;
	int rc;

	if (out != NULL)
		*out = NULL;
	if ((rc = audit_key_id(key, key_id)) != 0)
		goto out;
	if ((rc = store_begin(st)) != 0 || (rc = audit_lock(st)) != 0)
		goto out;
	rc = store_int(st, &n, "SELECT coalesce(max(id), 0) + 1 FROM audit_checkpoints", "");
	if (rc != 0)
		goto out;
	json_object_object_add(detail, "checkpoint", json_object_new_int64(n));
	json_object_object_add(detail, "reason", json_object_new_string(reason));
	ev.detail = json_object_to_json_string_ext(detail, JSON_C_TO_STRING_PLAIN);
	if ((rc = append_row(st, &ev, &id, hash)) != 0)
		goto out;
	store_now(now);
	c = (struct audit_checkpoint_rec){ .id = n, .audit_id = id, .records = id,
	    .audit_hash = hash, .at = now, .station = station_id, .key_id = key_id,
	    .alg = AUDIT_KEY_ALG };
	if ((rc = audit_checkpoint_text(&c, &text)) != 0 ||
	    (rc = audit_sign(key, text, strlen(text), &sig)) != 0)
		goto out;
	rc = store_run(st, "INSERT INTO audit_checkpoints (id, audit_id, audit_hash, records, at,"
	    " station, key_id, alg, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", "iitittttt", n, id,
	    hash, id, now, station_id, key_id, AUDIT_KEY_ALG, sig);
	if (rc != 0 || (rc = store_commit(st)) != 0)
		goto out;
	/* the journal keeps a copy outside the database: a witness against a
	 * log cut back together with its last checkpoints */
	log_info("audit checkpoint %" PRId64 " (%s): record %" PRId64 " hash %s", n, reason, id, hash);
	if (out != NULL) {
		*out = json_object_new_object();
		json_object_object_add(*out, "checkpoint", json_object_new_int64(n));
		json_object_object_add(*out, "audit_id", json_object_new_int64(id));
		json_object_object_add(*out, "audit_hash", json_object_new_string(hash));
		json_object_object_add(*out, "records", json_object_new_int64(id));
		json_object_object_add(*out, "at", json_object_new_string(now));
		json_object_object_add(*out, "key_id", json_object_new_string(key_id));
	}
	rc = 0;
 out:
	if (rc != 0)
		store_rollback(st);
	json_object_put(detail);
	free(text);
	free(sig);
	return rc;
}

int
audit_export_page(struct store *st, int checkpoints, int64_t after, int64_t upto, int64_t limit,
    struct json_object **out)
{
	if (checkpoints)
		return store_query(st, out, "SELECT 'checkpoint' AS type, id AS checkpoint, audit_id,"
		    " audit_hash, records, at, station, key_id, alg, signature FROM audit_checkpoints"
		    " WHERE id > ?1 AND audit_id <= ?2 ORDER BY id LIMIT ?3", "iii", after, upto, limit);
	return store_query(st, out, "SELECT 'record' AS type, id, format, at, actor, action, order_id,"
	    " unit_id, job_id, token, bay, detail, prev_hash, hash FROM audit"
	    " WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3", "iii", after, upto, limit);
}
