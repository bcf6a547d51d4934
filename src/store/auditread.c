/* Reading the audit log into the verifier (auditverify.c): from the
 * database (either backend) or from an export's JSON lines, keys first,
 * then records in id order, then checkpoints. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/err.h"
#include "common/log.h"
#include "store/audit.h"
#include "store/auditkey.h"
#include "store/db.h"

static void
col_value(struct db_stmt *q, int i, struct audit_value *x)
{
	switch (db_column_type(q, i)) {
	case DB_TYPE_INT:
		*x = (struct audit_value){ .type = AV_INT, .i = db_column_int64(q, i) };
		break;
	case DB_TYPE_NULL:
		*x = (struct audit_value){ .type = AV_NULL };
		break;
	default:
		/* text, or a real/blob written behind the daemon's back: hashed as
		 * its text, which cannot match what was hashed at append */
		x->type = AV_TEXT;
		x->s = db_column_text(q, i);
		(void)db_column_blob(q, i, &x->len);
		if (x->s == NULL) {
			x->s = "";
			x->len = 0;
		}
		break;
	}
}

/* Whether table has column (SQLite databases from before a schema version
 * are still verified); a PostgreSQL database always has every version. */
static int
has_column(struct db *db, const char *table, const char *column, int *yes)
{
	int64_t n = 0;
	int rc;

	*yes = 1;
	if (db_backend(db) == DB_PG)
		return 0;
	if ((rc = db_int(db, &n, "SELECT count(*) FROM pragma_table_info(?) WHERE name = ?", "tt",
	    table, column)) != 0)
		return rc;
	*yes = n > 0;
	return 0;
}

/* The audit table's statement: the columns in enum audit_col's order, NULL
 * for those a database from before schema version 4 (format) or 14
 * (station, seq) lacks. */
static const char *
records_sql(int has_format, int has_seq)
{
	if (has_seq)
		return "SELECT id, coalesce(format, 1), at, actor, action, order_id, unit_id, job_id,"
		    " token, bay, detail, prev_hash, hash, station, seq FROM audit WHERE id > ?"
		    " ORDER BY id";
	if (has_format)
		return "SELECT id, coalesce(format, 1), at, actor, action, order_id, unit_id, job_id,"
		    " token, bay, detail, prev_hash, hash, NULL, NULL FROM audit WHERE id > ?"
		    " ORDER BY id";
	return "SELECT id, 1, at, actor, action, order_id, unit_id, job_id, token, bay, detail,"
	    " prev_hash, hash, NULL, NULL FROM audit WHERE id > ? ORDER BY id";
}

/* Feeds the audit table's records to v in id order. *has_cp is 0 for a
 * database from before schema version 4 (no format column, no
 * checkpoints). 0, UKEY_ERR_VERIFY (broken), or the database's error. */
static int
db_records(struct db *db, struct audit_verifier *v, int64_t after, int *has_cp, int *has_seq)
{
	struct db_stmt *q = NULL;
	int rc;

	if ((rc = has_column(db, "audit", "format", has_cp)) != 0 ||
	    (rc = has_column(db, "audit", "seq", has_seq)) != 0 ||
	    (rc = db_stmtf(db, &q, records_sql(*has_cp, *has_seq), "i", after)) != 0) {
		log_error("reading the audit table failed");
		return rc;
	}
	while ((rc = db_step(q)) == 1) {
		struct audit_record r;
		int i;

		for (i = 0; i < AC_N; i++)
			col_value(q, i, &r.v[i]);
		if ((rc = audit_verifier_record(v, &r, NULL)) != 0)
			break;
	}
	if (rc < 0 && rc != UKEY_ERR_VERIFY && rc != UKEY_ERR_NOMEM)
		log_error("reading the audit table failed");
	db_finalize(q);
	return rc;
}

/* Feeds the registered keys (schema version 14 on) to v; returns as
 * db_records(). */
static int
db_keys(struct db *db, struct audit_verifier *v)
{
	struct db_stmt *q = NULL;
	int rc;

	if ((rc = db_prepare(db, "SELECT station, key_id, pubkey FROM audit_keys"
	    " ORDER BY station, key_id", &q)) != 0) {
		log_error("reading audit_keys failed");
		return rc;
	}
	while ((rc = db_step(q)) == 1)
		if ((rc = audit_verifier_key(v, db_column_text(q, 0), db_column_text(q, 1),
		    db_column_text(q, 2), "audit_keys")) != 0)
			break;
	if (rc < 0 && rc != UKEY_ERR_VERIFY && rc != UKEY_ERR_NOMEM)
		log_error("reading audit_keys failed");
	db_finalize(q);
	return rc;
}

/* Feeds the audit_checkpoints table to v in id order; returns as
 * db_records(). */
static int
db_checkpoints(struct db *db, struct audit_verifier *v, int has_seq)
{
	struct db_stmt *q = NULL;
	int rc;

	if ((rc = db_prepare(db, has_seq ? "SELECT id, audit_id, audit_hash, records, at, station,"
	    " key_id, alg, signature, coalesce(seq, 0) FROM audit_checkpoints ORDER BY id" :
	    "SELECT id, audit_id, audit_hash, records, at, station, key_id, alg, signature, 0"
	    " FROM audit_checkpoints ORDER BY id", &q)) != 0) {
		log_error("reading audit_checkpoints failed");
		return rc;
	}
	while ((rc = db_step(q)) == 1) {
		struct audit_checkpoint_rec c = {
			.id = db_column_int64(q, 0),
			.audit_id = db_column_int64(q, 1),
			.audit_hash = db_column_text(q, 2),
			.records = db_column_int64(q, 3),
			.at = db_column_text(q, 4),
			.station = db_column_text(q, 5),
			.key_id = db_column_text(q, 6),
			.alg = db_column_text(q, 7),
			.signature = db_column_text(q, 8),
			.seq = db_column_int64(q, 9),
		};

		if ((rc = audit_verifier_checkpoint(v, &c, NULL)) != 0)
			break;
	}
	if (rc < 0 && rc != UKEY_ERR_VERIFY && rc != UKEY_ERR_NOMEM)
		log_error("reading audit_checkpoints failed");
	db_finalize(q);
	return rc;
}

/* Feeds keys, records with ids past after and checkpoints to v from one
 * snapshot of db. */
static int
db_feed(struct db *db, struct audit_verifier *v, int64_t after)
{
	int rc, has_cp = 0, has_seq = 0;

	/* keys first, so that each checkpoint finds its station's; a broken
	 * chain still gets its report, its checkpoints are not checked */
	if ((rc = has_column(db, "audit", "seq", &has_seq)) == 0 && has_seq)
		rc = db_keys(db, v);
	if (rc == 0)
		rc = db_records(db, v, after, &has_cp, &has_seq);
	if (rc == 0 && has_cp)
		rc = db_checkpoints(db, v, has_seq);
	return rc;
}

/* Verifies db's log with v (taken), reading the records past after. */
static int
verify_db(struct db *db, struct audit_verifier *v, int64_t after, const struct witness_set *ws,
    struct audit_report *rep)
{
	int rc, own = 0;

	/* one snapshot for all the reads: stations append meanwhile, and a
	 * checkpoint committed between two reads would sign a record the
	 * first read did not see */
	if (!db_in_transaction(db)) {
		if ((rc = db_exec(db, db_backend(db) == DB_PG ? "BEGIN ISOLATION LEVEL REPEATABLE"
		    " READ READ ONLY" : "BEGIN DEFERRED")) != 0)
			goto out;
		own = 1;
	}
	if ((rc = db_feed(db, v, after)) != 0 && rc != UKEY_ERR_VERIFY)
		goto out;
	audit_verifier_witness_set(v, ws);
	rc = audit_verifier_finish(v, rep);
 out:
	if (own)
		db_rollback(db);
	audit_verifier_free(v);
	return rc;
}

int
audit_verify_db(struct db *db, EVP_PKEY *pub, const char *only, const struct witness_set *ws,
    struct audit_report *rep)
{
	struct audit_verifier *v = NULL;
	int rc;

	memset(rep, 0, sizeof(*rep));
	if ((rc = audit_verifier_new(pub, only, &v)) != 0)
		return rc;
	return verify_db(db, v, 0, ws, rep);
}

int
audit_verify_db_from(struct db *db, EVP_PKEY *pub, const struct audit_seed *seeds, size_t n,
    const struct witness_set *ws, struct audit_report *rep)
{
	struct audit_verifier *v = NULL;
	int64_t after = n ? INT64_MAX : 0;
	size_t i;
	int rc;

	memset(rep, 0, sizeof(*rep));
	if ((rc = audit_verifier_new(pub, NULL, &v)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		if ((rc = audit_verifier_seed(v, &seeds[i])) != 0) {
			audit_verifier_free(v);
			return rc;
		}
		if (seeds[i].id < after)
			after = seeds[i].id;
	}
	/* from the seeds' own records, which must still be there */
	return verify_db(db, v, n ? after - 1 : 0, ws, rep);
}

int
audit_verify_db_file(const char *path, EVP_PKEY *pub, const char *only,
    const struct witness_set *ws, struct audit_report *rep)
{
	struct db *db = NULL;
	int rc;

	memset(rep, 0, sizeof(*rep));
	if ((rc = db_open_readonly(path, &db)) != 0)
		return rc;
	rc = audit_verify_db(db, pub, only, ws, rep);
	db_close(db);
	return rc;
}

/* Fills x from a JSON member of a record line: null, integer or string. */
static int
json_value(struct json_object *o, struct audit_value *x)
{
	if (o == NULL) {
		*x = (struct audit_value){ .type = AV_NULL };
		return 0;
	}
	if (json_object_is_type(o, json_type_int)) {
		*x = (struct audit_value){ .type = AV_INT, .i = json_object_get_int64(o) };
		return 0;
	}
	if (json_object_is_type(o, json_type_string)) {
		*x = (struct audit_value){ .type = AV_TEXT, .s = json_object_get_string(o),
		    .len = (size_t)json_object_get_string_len(o) };
		return 0;
	}
	return UKEY_ERR_INVAL;
}

/* One record line: "type" plus exactly the columns, each present; lines
 * of exports from before per-station chains have no station and seq. */
static int
export_record(struct audit_verifier *v, struct json_object *line, const char *where,
    int64_t lineno)
{
	int n = json_object_object_length(line), cols = n == AC_N_V2 + 1 ? AC_N_V2 : AC_N, i;
	struct audit_record r;
	struct json_object *o;

	if (n != AC_N + 1 && n != AC_N_V2 + 1)
		return audit_verifier_fail(v, lineno, "%s: a record line has %d members, not %d", where,
		    n, AC_N + 1);
	for (i = 0; i < AC_N; i++) {
		if (i >= cols) {
			r.v[i] = (struct audit_value){ .type = AV_NULL };
			continue;
		}
		if (!json_object_object_get_ex(line, audit_col_names[i], &o))
			return audit_verifier_fail(v, lineno, "%s: record line without \"%s\"", where,
			    audit_col_names[i]);
		if (json_value(o, &r.v[i]) != 0)
			return audit_verifier_fail(v, lineno, "%s: record \"%s\" is neither null, an"
			    " integer nor a string", where, audit_col_names[i]);
	}
	return audit_verifier_record(v, &r, where);
}

/* An export line's fields, typed: a string member (NULL when absent or not
 * a string), an integer member (-1 when absent or not an integer). */
static const char *
line_str(struct json_object *line, const char *key)
{
	struct json_object *o = json_object_object_get(line, key);

	return json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
}

static int
line_int(struct json_object *line, const char *key, int64_t *out)
{
	struct json_object *o = json_object_object_get(line, key);

	if (!json_object_is_type(o, json_type_int))
		return -1;
	*out = json_object_get_int64(o);
	return 0;
}

/* The checkpoint lines of an export, kept until every record is fed. */
struct cp_lines {
	struct json_object **o;
	int64_t *lineno;
	size_t n, cap;
};

static void
cp_lines_clear(struct cp_lines *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		json_object_put(c->o[i]);
	free(c->o);
	free(c->lineno);
	memset(c, 0, sizeof(*c));
}

/* Keeps checkpoint line o of line lineno (o taken, also on failure). */
static int
cp_lines_add(struct cp_lines *c, struct json_object *o, int64_t lineno)
{
	void *p;

	if (c->n == c->cap) {
		size_t c2 = c->cap ? c->cap * 2 : 64;

		if ((p = realloc(c->o, c2 * sizeof(*c->o))) == NULL) {
			json_object_put(o);
			return UKEY_ERR_NOMEM;
		}
		c->o = p;
		if ((p = realloc(c->lineno, c2 * sizeof(*c->lineno))) == NULL) {
			json_object_put(o);
			return UKEY_ERR_NOMEM;
		}
		c->lineno = p;
		c->cap = c2;
	}
	c->lineno[c->n] = lineno;
	c->o[c->n++] = o;
	return 0;
}

/* Parses a line of n bytes into *o, a JSON object (owned). A line that is
 * not one breaks the log: UKEY_ERR_VERIFY. */
static int
parse_line(struct audit_verifier *v, const char *line, ssize_t n, const char *where,
    struct json_object **o)
{
	struct json_tokener *tok;

	if ((tok = json_tokener_new()) == NULL)
		return UKEY_ERR_NOMEM;
	*o = json_tokener_parse_ex(tok, line, (int)n);
	if (*o == NULL || json_tokener_get_parse_end(tok) != (size_t)n ||
	    !json_object_is_type(*o, json_type_object)) {
		json_tokener_free(tok);
		json_object_put(*o);
		*o = NULL;
		return audit_verifier_fail(v, 0, "%s: not a JSON object", where);
	}
	json_tokener_free(tok);
	return 0;
}

/* A key line: a station's registered checkpoint key. */
static int
export_key(struct audit_verifier *v, struct json_object *o, const char *where)
{
	if (json_object_object_length(o) != 6 || line_str(o, "at") == NULL ||
	    line_str(o, "alg") == NULL || strcmp(line_str(o, "alg"), AUDIT_KEY_ALG) != 0)
		return audit_verifier_fail(v, 0, "%s: a key line needs exactly type, station, key_id,"
		    " alg (%s), pubkey and at", where, AUDIT_KEY_ALG);
	return audit_verifier_key(v, line_str(o, "station"), line_str(o, "key_id"),
	    line_str(o, "pubkey"), where);
}

/* Where an export's reading is: key lines come first, then records, then
 * checkpoints (kept for after the records). */
struct export_state {
	struct cp_lines cps;
	int64_t records;
};

/* One line of an export (n bytes, without its newline): a key or a record
 * fed to v, or a checkpoint kept for after the records. 0 to read on;
 * UKEY_ERR_VERIFY (the log is broken: stop reading) or UKEY_ERR_NOMEM. */
static int
export_line(struct audit_verifier *v, const char *line, ssize_t n, int64_t lineno,
    struct export_state *es)
{
	struct json_object *o = NULL;
	const char *type;
	char where[64];
	int rc;

	snprintf(where, sizeof(where), "line %" PRId64, lineno);
	if ((rc = parse_line(v, line, n, where, &o)) != 0)
		return rc;
	type = line_str(o, "type");
	if (type != NULL && strcmp(type, "checkpoint") == 0)
		return cp_lines_add(&es->cps, o, lineno);
	if (type != NULL && strcmp(type, "record") == 0 && es->cps.n > 0)
		rc = audit_verifier_fail(v, 0, "%s: a record line after the checkpoint lines", where);
	else if (type != NULL && strcmp(type, "record") == 0 && ++es->records)
		rc = export_record(v, o, where, lineno);
	else if (type != NULL && strcmp(type, "key") == 0 && (es->records || es->cps.n))
		rc = audit_verifier_fail(v, 0, "%s: a key line after the record lines", where);
	else if (type != NULL && strcmp(type, "key") == 0)
		rc = export_key(v, o, where);
	else
		rc = audit_verifier_fail(v, 0, "%s: \"type\" must be \"key\", \"record\" or"
		    " \"checkpoint\"", where);
	json_object_put(o);
	return rc;
}

/* A checkpoint line: exactly its members (seq from the per-station chains
 * on: null or absent before them). */
static int
export_checkpoint(struct audit_verifier *v, struct json_object *o, const char *where)
{
	struct json_object *seq = NULL;
	int n = json_object_object_length(o), has_seq = json_object_object_get_ex(o, "seq", &seq);
	struct audit_checkpoint_rec c = {
		.audit_hash = line_str(o, "audit_hash"), .at = line_str(o, "at"),
		.station = line_str(o, "station"), .key_id = line_str(o, "key_id"),
		.alg = line_str(o, "alg"), .signature = line_str(o, "signature"),
	};

	if (n != 10 + has_seq || line_int(o, "checkpoint", &c.id) != 0 ||
	    line_int(o, "audit_id", &c.audit_id) != 0 || line_int(o, "records", &c.records) != 0 ||
	    (seq != NULL && (line_int(o, "seq", &c.seq) != 0 || c.seq < 1)))
		return audit_verifier_fail(v, 0, "%s: a checkpoint line needs exactly type, checkpoint,"
		    " seq, audit_id, audit_hash, records, at, station, key_id, alg and signature", where);
	return audit_verifier_checkpoint(v, &c, where);
}

/* Feeds the kept checkpoint lines to v. 0, UKEY_ERR_VERIFY or
 * UKEY_ERR_NOMEM. */
static int
export_checkpoints(struct audit_verifier *v, const struct cp_lines *cps)
{
	char where[64];
	size_t i;
	int rc;

	for (i = 0; i < cps->n; i++) {
		snprintf(where, sizeof(where), "line %" PRId64, cps->lineno[i]);
		if ((rc = export_checkpoint(v, cps->o[i], where)) != 0)
			return rc;
	}
	return 0;
}

int
audit_verify_export(FILE *f, EVP_PKEY *pub, const char *only, const struct witness_set *ws,
    struct audit_report *rep)
{
	struct audit_verifier *v = NULL;
	struct export_state es = { 0 };
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int64_t lineno = 0;
	int rc = 0;

	memset(rep, 0, sizeof(*rep));
	if ((rc = audit_verifier_new(pub, only, &v)) != 0)
		return rc;
	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if ((rc = export_line(v, line, n, lineno, &es)) != 0)
			break;
	}
	if (rc == UKEY_ERR_NOMEM)
		goto out;
	if (ferror(f))
		audit_verifier_fail(v, 0, "read error after line %" PRId64, lineno);
	/* after a break this changes nothing: the verifier keeps its first failure */
	if ((rc = export_checkpoints(v, &es.cps)) == UKEY_ERR_NOMEM)
		goto out;
	audit_verifier_witness_set(v, ws);
	rc = audit_verifier_finish(v, rep);
 out:
	cp_lines_clear(&es.cps);
	free(line);
	audit_verifier_free(v);
	return rc;
}
