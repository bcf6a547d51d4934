/* Checking the audit log: the canonical record and its hash, the chain, the
 * signed checkpoints; one verifier fed from the database or from an export. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/err.h"
#include "common/log.h"
#include "common/secret.h"
#include "store/audit.h"
#include "store/auditkey.h"
#include "store/db.h"

#define GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

const char *const audit_col_names[AC_N] = {
	[AC_ID] = "id", [AC_FORMAT] = "format", [AC_AT] = "at", [AC_ACTOR] = "actor",
	[AC_ACTION] = "action", [AC_ORDER] = "order_id", [AC_UNIT] = "unit_id",
	[AC_JOB] = "job_id", [AC_TOKEN] = "token", [AC_BAY] = "bay", [AC_DETAIL] = "detail",
	[AC_PREV] = "prev_hash", [AC_HASH] = "hash",
};

/* Format 2: "ukey-audit/2\n", then per column "-\n" (NULL), "i<decimal>\n"
 * (integer) or "s<byte length>:<bytes>\n" (text). */
static void
put_v2(EVP_MD_CTX *md, const struct audit_value *v)
{
	char head[32];

	switch (v->type) {
	case AV_NULL:
		EVP_DigestUpdate(md, "-\n", 2);
		return;
	case AV_INT:
		snprintf(head, sizeof(head), "i%" PRId64 "\n", v->i);
		EVP_DigestUpdate(md, head, strlen(head));
		return;
	case AV_TEXT:
		snprintf(head, sizeof(head), "s%zu:", v->len);
		EVP_DigestUpdate(md, head, strlen(head));
		if (v->len)
			EVP_DigestUpdate(md, v->s, v->len);
		EVP_DigestUpdate(md, "\n", 1);
		return;
	}
}

/* Format 1 (rows written before schema version 4): "<length>:<text>" per
 * field with integers in decimal, NULL integers as 0 and NULL text as "". */
static void
put_v1(EVP_MD_CTX *md, const struct audit_value *v)
{
	char buf[40];

	if (v->type == AV_INT) {
		snprintf(buf, sizeof(buf), "%" PRId64, v->i);
		put_v1(md, &(struct audit_value){ .type = AV_TEXT, .s = buf, .len = strlen(buf) });
		return;
	}
	snprintf(buf, sizeof(buf), "%zu:", v->type == AV_TEXT ? v->len : 0);
	EVP_DigestUpdate(md, buf, strlen(buf));
	if (v->type == AV_TEXT && v->len)
		EVP_DigestUpdate(md, v->s, v->len);
}

int
audit_record_hash(const struct audit_record *r, char out[AUDIT_HASH_LEN + 1])
{
	static const enum audit_col v2_order[] = { AC_ID, AC_AT, AC_ACTOR, AC_ACTION, AC_ORDER,
		AC_UNIT, AC_JOB, AC_TOKEN, AC_BAY, AC_DETAIL, AC_PREV };
	static const enum audit_col v1_order[] = { AC_PREV, AC_ID, AC_AT, AC_ACTOR, AC_ACTION,
		AC_ORDER, AC_UNIT, AC_JOB, AC_TOKEN, AC_BAY, AC_DETAIL };
	static const enum audit_col ints[] = { AC_ORDER, AC_UNIT, AC_JOB };
	EVP_MD_CTX *md;
	unsigned char h[32];
	unsigned hl = 0;
	char *hex;
	size_t i;
	int64_t format;

	out[0] = '\0';
	if (r->v[AC_FORMAT].type != AV_INT || r->v[AC_ID].type != AV_INT)
		return UKEY_ERR_INVAL;
	format = r->v[AC_FORMAT].i;
	if (format != 1 && format != 2)
		return UKEY_ERR_INVAL;
	if (format == 1)
		for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
			if (r->v[ints[i]].type == AV_TEXT)
				return UKEY_ERR_INVAL;
	if ((md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return UKEY_ERR_CRYPTO;
	}
	if (format == 2) {
		EVP_DigestUpdate(md, "ukey-audit/2\n", 13);
		for (i = 0; i < sizeof(v2_order) / sizeof(v2_order[0]); i++)
			put_v2(md, &r->v[v2_order[i]]);
	} else {
		for (i = 0; i < sizeof(v1_order) / sizeof(v1_order[0]); i++)
			put_v1(md, &r->v[v1_order[i]]);
	}
	EVP_DigestFinal_ex(md, h, &hl);
	EVP_MD_CTX_free(md);
	if ((hex = hex_encode(h, sizeof(h))) == NULL)
		return UKEY_ERR_NOMEM;
	memcpy(out, hex, AUDIT_HASH_LEN + 1);
	free(hex);
	return 0;
}

int
audit_checkpoint_text(const struct audit_checkpoint_rec *c, char **text)
{
	*text = NULL;
	if (asprintf(text, "ukey-station audit checkpoint 1\n"
	    "station %s\ncheckpoint %" PRId64 "\naudit-id %" PRId64 "\naudit-hash %s\n"
	    "records %" PRId64 "\nat %s\nkey-id %s\n", c->station, c->id, c->audit_id,
	    c->audit_hash, c->records, c->at, c->key_id) < 0) {
		*text = NULL;
		return UKEY_ERR_NOMEM;
	}
	return 0;
}

struct audit_verifier {
	EVP_PKEY *pub;			/* borrowed */
	char key_id[AUDIT_KEY_ID_LEN + 1];
	char (*hashes)[AUDIT_HASH_LEN + 1];	/* hashes[id - 1] */
	size_t cap;
	int64_t records, checkpoints, last_signed_id, last_format;
	int64_t *cp_events;		/* ids of audit.checkpoint records */
	size_t n_cp_events, cap_cp_events;
	int broken;
	struct audit_report rep;
};

int
audit_verifier_new(EVP_PKEY *pub, struct audit_verifier **out)
{
	struct audit_verifier *v;
	int rc;

	*out = NULL;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return UKEY_ERR_NOMEM;
	v->pub = pub;
	if ((rc = audit_key_id(pub, v->key_id)) != 0) {
		free(v);
		return rc;
	}
	*out = v;
	return 0;
}

void
audit_verifier_free(struct audit_verifier *v)
{
	if (v == NULL)
		return;
	free(v->hashes);
	free(v->cp_events);
	free(v);
}

static int
vfail(struct audit_verifier *v, int64_t record, int64_t checkpoint, const char *where,
    const char *fmt, va_list ap)
{
	size_t n = 0;

	if (v->broken)
		return UKEY_ERR_VERIFY;
	v->broken = 1;
	v->rep.bad_record = record;
	v->rep.bad_checkpoint = checkpoint;
	if (where != NULL)
		n = (size_t)snprintf(v->rep.why, sizeof(v->rep.why), "%s: ", where);
	if (n < sizeof(v->rep.why))
		vsnprintf(v->rep.why + n, sizeof(v->rep.why) - n, fmt, ap);
	return UKEY_ERR_VERIFY;
}

static int __attribute__((format(printf, 5, 6)))
fail(struct audit_verifier *v, int64_t record, int64_t checkpoint, const char *where,
    const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail(v, record, checkpoint, where, fmt, ap);
	va_end(ap);
	return rc;
}

int
audit_verifier_fail(struct audit_verifier *v, int64_t record, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail(v, record, 0, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

static int
is_hash(const struct audit_value *x)
{
	size_t i;

	if (x->type != AV_TEXT || x->len != AUDIT_HASH_LEN)
		return 0;
	for (i = 0; i < x->len; i++)
		if (!((x->s[i] >= '0' && x->s[i] <= '9') || (x->s[i] >= 'a' && x->s[i] <= 'f')))
			return 0;
	return 1;
}

int
audit_verifier_record(struct audit_verifier *v, const struct audit_record *r, const char *where)
{
	const struct audit_value *act = &r->v[AC_ACTION];
	const char *prev = v->records ? v->hashes[v->records - 1] : GENESIS;
	int64_t expect = v->records + 1, id, format;
	char hash[AUDIT_HASH_LEN + 1];
	int rc;

	if (v->broken)
		return UKEY_ERR_VERIFY;
	if (r->v[AC_ID].type != AV_INT)
		return fail(v, expect, 0, where, "record after record %" PRId64 ": id is not an integer",
		    expect - 1);
	id = r->v[AC_ID].i;
	if (id > expect)
		return fail(v, expect, 0, where, "record %" PRId64 " is missing: record %" PRId64
		    " follows record %" PRId64 " (gap in ids: rows deleted or moved)", expect, id, expect - 1);
	if (id < expect)
		return fail(v, id, 0, where, "record %" PRId64 " appears after record %" PRId64
		    " (rows reordered or repeated)", id, expect - 1);
	if (r->v[AC_FORMAT].type != AV_INT || (r->v[AC_FORMAT].i != 1 && r->v[AC_FORMAT].i != 2))
		return fail(v, id, 0, where, "record %" PRId64 ": unknown record format", id);
	format = r->v[AC_FORMAT].i;
	if (format < v->last_format)
		return fail(v, id, 0, where, "record %" PRId64 ": format %" PRId64 " after format %"
		    PRId64 " (the format never goes back)", id, format, v->last_format);
	if (!is_hash(&r->v[AC_PREV]) || memcmp(r->v[AC_PREV].s, prev, AUDIT_HASH_LEN) != 0)
		return fail(v, id, 0, where, "record %" PRId64 ": broken link: prev_hash is not the hash"
		    " of record %" PRId64, id, id - 1);
	if ((rc = audit_record_hash(r, hash)) == UKEY_ERR_INVAL)
		return fail(v, id, 0, where, "record %" PRId64 ": a column has the wrong type for format %"
		    PRId64, id, format);
	if (rc != 0)
		return rc;
	if (!is_hash(&r->v[AC_HASH]) || memcmp(r->v[AC_HASH].s, hash, AUDIT_HASH_LEN) != 0)
		return fail(v, id, 0, where, "record %" PRId64 ": hash mismatch: the record's contents do"
		    " not match its hash (edited)", id);
	if ((size_t)v->records == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 1024;
		void *p = realloc(v->hashes, cap * sizeof(*v->hashes));

		if (p == NULL)
			return UKEY_ERR_NOMEM;
		v->hashes = p;
		v->cap = cap;
	}
	memcpy(v->hashes[v->records], hash, sizeof(hash));
	if (format >= 2 && act->type == AV_TEXT && act->len == strlen(AUDIT_CHECKPOINT_ACTION) &&
	    memcmp(act->s, AUDIT_CHECKPOINT_ACTION, act->len) == 0) {
		if (v->n_cp_events == v->cap_cp_events) {
			size_t cap = v->cap_cp_events ? v->cap_cp_events * 2 : 64;
			void *p = realloc(v->cp_events, cap * sizeof(*v->cp_events));

			if (p == NULL)
				return UKEY_ERR_NOMEM;
			v->cp_events = p;
			v->cap_cp_events = cap;
		}
		v->cp_events[v->n_cp_events++] = id;
	}
	v->records++;
	v->last_format = format;
	return 0;
}

int
audit_verifier_checkpoint(struct audit_verifier *v, const struct audit_checkpoint_rec *c,
    const char *where)
{
	int64_t expect = v->checkpoints + 1;
	char *text = NULL;
	int rc;

	if (v->broken)
		return UKEY_ERR_VERIFY;
	if (c->id != expect)
		return fail(v, 0, expect, where, "checkpoint %" PRId64 " is missing: checkpoint %" PRId64
		    " follows checkpoint %" PRId64, expect, c->id, expect - 1);
	if (c->alg == NULL || strcmp(c->alg, AUDIT_KEY_ALG) != 0)
		return fail(v, 0, c->id, where, "checkpoint %" PRId64 ": algorithm is not %s", c->id,
		    AUDIT_KEY_ALG);
	if (c->station == NULL || c->at == NULL || c->audit_hash == NULL || c->signature == NULL ||
	    c->key_id == NULL || strchr(c->station, '\n') || strchr(c->at, '\n') ||
	    strchr(c->audit_hash, '\n') || strchr(c->key_id, '\n'))
		return fail(v, 0, c->id, where, "checkpoint %" PRId64 ": a field is missing or holds a"
		    " line break", c->id);
	if (strcmp(c->key_id, v->key_id) != 0)
		return fail(v, 0, c->id, where, "checkpoint %" PRId64 ": signed by key %.16s..., not by"
		    " the public key given (%.16s...)", c->id, c->key_id, v->key_id);
	if ((rc = audit_checkpoint_text(c, &text)) != 0)
		return rc;
	rc = audit_sig_check(v->pub, text, strlen(text), c->signature);
	free(text);
	if (rc != 0)
		return fail(v, c->audit_id > 0 && c->audit_id <= v->records ? c->audit_id : 0, c->id,
		    where, "checkpoint %" PRId64 ": signature does not verify (checkpoint forged or"
		    " edited)", c->id);
	if (c->audit_id <= v->last_signed_id)
		return fail(v, 0, c->id, where, "checkpoint %" PRId64 " covers record %" PRId64 ", not"
		    " after the previous checkpoint's record %" PRId64, c->id, c->audit_id,
		    v->last_signed_id);
	if (c->audit_id > v->records)
		return fail(v, v->records + 1, c->id, where, "checkpoint %" PRId64 " signed record %"
		    PRId64 ", but the log ends at record %" PRId64 ": records were removed from the end",
		    c->id, c->audit_id, v->records);
	if (strcmp(v->hashes[c->audit_id - 1], c->audit_hash) != 0)
		return fail(v, c->audit_id, c->id, where, "record %" PRId64 " no longer matches"
		    " checkpoint %" PRId64 ": the signed hash differs (records up to %" PRId64
		    " were rewritten)", c->audit_id, c->id, c->audit_id);
	if (c->records != c->audit_id)
		return fail(v, c->audit_id, c->id, where, "checkpoint %" PRId64 ": signed count %" PRId64
		    " is not the number of records up to %" PRId64, c->id, c->records, c->audit_id);
	/* checkpoint N signs the N-th audit.checkpoint record: its own event */
	if ((size_t)c->id > v->n_cp_events || v->cp_events[c->id - 1] != c->audit_id)
		return fail(v, c->audit_id, c->id, where, "checkpoint %" PRId64 " signs record %" PRId64
		    ", which is not checkpoint event %" PRId64, c->id, c->audit_id, c->id);
	v->checkpoints++;
	v->last_signed_id = c->audit_id;
	return 0;
}

int
audit_verifier_witness(struct audit_verifier *v, const struct witness_point *pt)
{
	char where[48];

	if (v->broken)
		return UKEY_ERR_VERIFY;
	v->rep.witness = 1;
	snprintf(where, sizeof(where), "witness line %" PRId64, pt->line);
	if (pt->records > v->records)
		return fail(v, v->records + 1, 0, where, "at %s the log had %" PRId64 " records (head"
		    " %.16s...), but it ends at record %" PRId64 ": records %" PRId64 " to %" PRId64
		    " were removed from the end (truncated)", pt->at, pt->records, pt->head, v->records,
		    v->records + 1, pt->records);
	if (pt->records == 0 ? strspn(pt->head, "0") != AUDIT_HASH_LEN :
	    strcmp(v->hashes[pt->records - 1], pt->head) != 0)
		return fail(v, pt->records, 0, where, "record %" PRId64 " differs from the head"
		    " witnessed at %s (hash %.16s..., witnessed %.16s...): the log was rewritten or cut"
		    " back and grown again", pt->records, pt->at,
		    pt->records ? v->hashes[pt->records - 1] : GENESIS, pt->head);
	v->rep.witness_points++;
	if (pt->records > v->rep.witness_records)
		v->rep.witness_records = pt->records;
	return 0;
}

/* Checks every head of ws after the records and checkpoints were fed. */
static int
check_witness(struct audit_verifier *v, const struct witness_set *ws)
{
	size_t i;

	if (ws == NULL)
		return 0;
	v->rep.witness = 1;
	for (i = 0; i < ws->n; i++)
		if (audit_verifier_witness(v, &ws->p[i]) != 0)
			return UKEY_ERR_VERIFY;
	return 0;
}

int
audit_verifier_finish(struct audit_verifier *v, struct audit_report *rep)
{
	if (!v->broken && v->n_cp_events > (size_t)v->checkpoints)
		fail(v, v->cp_events[v->checkpoints], v->checkpoints + 1, NULL, "record %" PRId64
		    " is checkpoint event %" PRId64 " but that signed checkpoint is missing (removed)",
		    v->cp_events[v->checkpoints], v->checkpoints + 1);
	v->rep.ok = !v->broken;
	v->rep.records = v->records;
	v->rep.checkpoints = v->checkpoints;
	v->rep.last_signed_id = v->last_signed_id;
	v->rep.unsigned_tail = v->records - v->last_signed_id;
	*rep = v->rep;
	return v->broken ? UKEY_ERR_VERIFY : 0;
}

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

/* Whether the audit table has its format column (schema version 4, which
 * also brought the checkpoints): SQLite databases from before it are still
 * verified; a PostgreSQL database always has every version. */
static int
has_format(struct db *db, int *yes)
{
	int64_t n = 0;
	int rc;

	*yes = 1;
	if (db_backend(db) == DB_PG)
		return 0;
	if ((rc = db_int(db, &n, "SELECT count(*) FROM pragma_table_info('audit')"
	    " WHERE name = 'format'", "")) != 0)
		return rc;
	*yes = n > 0;
	return 0;
}

/* Feeds the audit table's records to v in id order. *has_cp is 0 for a
 * database from before schema version 4 (no format column, no
 * checkpoints). 0, UKEY_ERR_VERIFY (broken), or the database's error. */
static int
db_records(struct db *db, struct audit_verifier *v, int *has_cp)
{
	struct db_stmt *q = NULL;
	int rc;

	if ((rc = has_format(db, has_cp)) != 0 ||
	    (rc = db_prepare(db, *has_cp ? "SELECT id, coalesce(format, 1), at, actor, action,"
	    " order_id, unit_id, job_id, token, bay, detail, prev_hash, hash FROM audit"
	    " ORDER BY id" :
	    "SELECT id, 1, at, actor, action, order_id, unit_id, job_id, token, bay, detail,"
	    " prev_hash, hash FROM audit ORDER BY id", &q)) != 0) {
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

/* Feeds the audit_checkpoints table to v in id order; returns as
 * db_records(). */
static int
db_checkpoints(struct db *db, struct audit_verifier *v)
{
	struct db_stmt *q = NULL;
	int rc;

	if ((rc = db_prepare(db, "SELECT id, audit_id, audit_hash, records, at, station,"
	    " key_id, alg, signature FROM audit_checkpoints ORDER BY id", &q)) != 0) {
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
		};

		if ((rc = audit_verifier_checkpoint(v, &c, NULL)) != 0)
			break;
	}
	if (rc < 0 && rc != UKEY_ERR_VERIFY && rc != UKEY_ERR_NOMEM)
		log_error("reading audit_checkpoints failed");
	db_finalize(q);
	return rc;
}

int
audit_verify_db(struct db *db, EVP_PKEY *pub, const struct witness_set *ws,
    struct audit_report *rep)
{
	struct audit_verifier *v = NULL;
	int rc, has_cp;

	memset(rep, 0, sizeof(*rep));
	if ((rc = audit_verifier_new(pub, &v)) != 0)
		return rc;
	/* a broken chain still gets its report; checkpoints are checked only
	 * over an intact one */
	rc = db_records(db, v, &has_cp);
	if (rc == 0 && has_cp)
		rc = db_checkpoints(db, v);
	if (rc != 0 && rc != UKEY_ERR_VERIFY)
		goto out;
	check_witness(v, ws);
	rc = audit_verifier_finish(v, rep);
 out:
	audit_verifier_free(v);
	return rc;
}

int
audit_verify_db_file(const char *path, EVP_PKEY *pub, const struct witness_set *ws,
    struct audit_report *rep)
{
	struct db *db = NULL;
	int rc;

	memset(rep, 0, sizeof(*rep));
	if ((rc = db_open_readonly(path, &db)) != 0)
		return rc;
	rc = audit_verify_db(db, pub, ws, rep);
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

/* One record line: "type" plus exactly the columns, each present. */
static int
export_record(struct audit_verifier *v, struct json_object *line, const char *where,
    int64_t lineno)
{
	struct audit_record r;
	struct json_object *o;
	int i;

	if (json_object_object_length(line) != AC_N + 1)
		return fail(v, v->records + 1, 0, where, "a record line has %d members, not %d",
		    json_object_object_length(line), AC_N + 1);
	for (i = 0; i < AC_N; i++) {
		if (!json_object_object_get_ex(line, audit_col_names[i], &o))
			return fail(v, v->records + 1, 0, where, "record line without \"%s\"",
			    audit_col_names[i]);
		if (json_value(o, &r.v[i]) != 0)
			return fail(v, v->records + 1, 0, where, "record \"%s\" is neither null, an"
			    " integer nor a string", audit_col_names[i]);
	}
	(void)lineno;
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
		return fail(v, v->records + 1, 0, where, "not a JSON object");
	}
	json_tokener_free(tok);
	return 0;
}

/* One line of an export (n bytes, without its newline): a record fed to v,
 * or a checkpoint kept in cps for after the records. 0 to read on;
 * UKEY_ERR_VERIFY (the log is broken: stop reading) or UKEY_ERR_NOMEM. */
static int
export_line(struct audit_verifier *v, const char *line, ssize_t n, int64_t lineno,
    struct cp_lines *cps)
{
	struct json_object *o = NULL;
	const char *type;
	char where[64];
	int rc;

	snprintf(where, sizeof(where), "line %" PRId64, lineno);
	if ((rc = parse_line(v, line, n, where, &o)) != 0)
		return rc;
	type = line_str(o, "type");
	if (type != NULL && strcmp(type, "record") == 0) {
		if (cps->n > 0)
			rc = fail(v, v->records + 1, 0, where,
			    "a record line after the checkpoint lines");
		else
			rc = export_record(v, o, where, lineno);
		json_object_put(o);
		return rc;
	}
	if (type != NULL && strcmp(type, "checkpoint") == 0)
		return cp_lines_add(cps, o, lineno);
	json_object_put(o);
	return fail(v, v->records + 1, 0, where, "\"type\" must be \"record\" or \"checkpoint\"");
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
		struct json_object *o = cps->o[i];
		struct audit_checkpoint_rec c = {
			.audit_hash = line_str(o, "audit_hash"), .at = line_str(o, "at"),
			.station = line_str(o, "station"), .key_id = line_str(o, "key_id"),
			.alg = line_str(o, "alg"), .signature = line_str(o, "signature"),
		};

		snprintf(where, sizeof(where), "line %" PRId64, cps->lineno[i]);
		if (json_object_object_length(o) != 10 || line_int(o, "checkpoint", &c.id) != 0 ||
		    line_int(o, "audit_id", &c.audit_id) != 0 || line_int(o, "records", &c.records) != 0)
			return fail(v, 0, (int64_t)i + 1, where, "a checkpoint line needs exactly type,"
			    " checkpoint, audit_id, audit_hash, records, at, station, key_id, alg and"
			    " signature");
		if ((rc = audit_verifier_checkpoint(v, &c, where)) != 0)
			return rc;
	}
	return 0;
}

int
audit_verify_export(FILE *f, EVP_PKEY *pub, const struct witness_set *ws,
    struct audit_report *rep)
{
	struct audit_verifier *v = NULL;
	struct cp_lines cps = { 0 };
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int64_t lineno = 0;
	int rc = 0;

	memset(rep, 0, sizeof(*rep));
	if ((rc = audit_verifier_new(pub, &v)) != 0)
		return rc;
	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if ((rc = export_line(v, line, n, lineno, &cps)) != 0)
			break;
	}
	if (rc == UKEY_ERR_NOMEM)
		goto out;
	if (ferror(f))
		fail(v, 0, 0, NULL, "read error after line %" PRId64, lineno);
	/* after a break this changes nothing: the verifier keeps its first failure */
	if ((rc = export_checkpoints(v, &cps)) == UKEY_ERR_NOMEM)
		goto out;
	check_witness(v, ws);
	rc = audit_verifier_finish(v, rep);
 out:
	cp_lines_clear(&cps);
	free(line);
	audit_verifier_free(v);
	return rc;
}

struct json_object *
audit_report_json(const struct audit_report *rep)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(rep->ok));
	json_object_object_add(o, "records", json_object_new_int64(rep->records));
	json_object_object_add(o, "checkpoints", json_object_new_int64(rep->checkpoints));
	json_object_object_add(o, "last_signed_id", json_object_new_int64(rep->last_signed_id));
	json_object_object_add(o, "unsigned", json_object_new_int64(rep->unsigned_tail));
	if (rep->witness) {
		struct json_object *w = json_object_new_object();

		json_object_object_add(w, "heads", json_object_new_int64(rep->witness_points));
		json_object_object_add(w, "records", json_object_new_int64(rep->witness_records));
		json_object_object_add(o, "witness", w);
	}
	if (!rep->ok) {
		if (rep->bad_record)
			json_object_object_add(o, "first_bad", json_object_new_int64(rep->bad_record));
		if (rep->bad_checkpoint)
			json_object_object_add(o, "bad_checkpoint",
			    json_object_new_int64(rep->bad_checkpoint));
		json_object_object_add(o, "reason", json_object_new_string(rep->why));
	}
	return o;
}
