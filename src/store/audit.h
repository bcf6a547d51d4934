/* The append-only audit log: every action, who did it, when, on which order,
 * unit, job and token. Each row's hash covers a canonical serialisation of
 * all its columns and the previous row's hash; signed checkpoints pin the
 * chain down with the station's audit key. The canonical forms and the
 * export format are specified in docs/audit.md. */
#ifndef UKEY_AUDIT_H
#define UKEY_AUDIT_H

#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>

#include "store/store.h"
#include "store/witness.h"

#define AUDIT_FORMAT 2		/* canonical record format of new rows */
#define AUDIT_HASH_LEN 64	/* lower-case hex SHA-256 */
#define AUDIT_CHECKPOINT_ACTION "audit.checkpoint"

struct audit_event {
	const char *actor;	/* Unix user on the socket, or "ukeyd" */
	const char *action;	/* dotted verb: "order.approve", "job.step", ... */
	int64_t order_id, unit_id, job_id;	/* 0 when not applicable (stored as NULL) */
	const char *token;	/* token serial or NULL */
	const char *bay;	/* bay name or NULL */
	const char *detail;	/* compact JSON text or NULL; never a secret or full ID */
};

/* Appends one event inside the caller's transaction (or alone). *id_out (may
 * be NULL) receives the new row's id. Returns 0 or UKEY_ERR_DB. */
int audit_append(struct store *st, const struct audit_event *ev, int64_t *id_out);

/* Appends an "audit.checkpoint" event (actor, detail {"checkpoint":N,
 * "reason":reason}) and, in the same transaction, checkpoint N signed with key
 * over that event's id and hash. The caller must not be inside a transaction.
 * *out (may be NULL) receives {checkpoint, audit_id, audit_hash, records, at,
 * key_id} (owned). Returns 0, UKEY_ERR_DB or UKEY_ERR_CRYPTO. */
int audit_checkpoint(struct store *st, EVP_PKEY *key, const char *station_id, const char *actor,
    const char *reason, struct json_object **out);

/* The head of the log: the number of records (the last id) and the last
 * record's hash, or 0 and the genesis hash (64 zeros) when the log is
 * empty. Returns 0 or UKEY_ERR_DB. */
int audit_head(struct store *st, int64_t *records, char hash[AUDIT_HASH_LEN + 1]);

/* Records appended since the last checkpoint (all of them when none). */
int audit_unsigned_count(struct store *st, int64_t *out);

/* One column value, typed as SQLite stores it and as JSON carries it. */
enum audit_vtype { AV_NULL, AV_INT, AV_TEXT };
struct audit_value {
	enum audit_vtype type;
	int64_t i;
	const char *s;		/* borrowed; len bytes, need not be NUL-terminated */
	size_t len;
};

/* The columns of an audit row, in canonical order (docs/audit.md). */
enum audit_col {
	AC_ID, AC_FORMAT, AC_AT, AC_ACTOR, AC_ACTION, AC_ORDER, AC_UNIT, AC_JOB, AC_TOKEN,
	AC_BAY, AC_DETAIL, AC_PREV, AC_HASH, AC_N
};
extern const char *const audit_col_names[AC_N];

struct audit_record {
	struct audit_value v[AC_N];
};

struct audit_checkpoint_rec {
	int64_t id, audit_id, records;
	const char *audit_hash, *at, *station, *key_id, *alg, *signature;	/* borrowed */
};

/* Computes a record's hash from its columns (all but AC_HASH) by the rules of
 * its format (1: legacy, 2: current). Returns 0, UKEY_ERR_INVAL (unknown
 * format or a column of the wrong type) or UKEY_ERR_CRYPTO. */
int audit_record_hash(const struct audit_record *r, char out[AUDIT_HASH_LEN + 1]);

/* The text a checkpoint's signature covers; *text malloc'd. */
int audit_checkpoint_text(const struct audit_checkpoint_rec *c, char **text);

/* Verification: records in id order, then checkpoints, then finish. The
 * verifier keeps every record's hash (33 bytes a record) so that checkpoints
 * can be checked against the chain. It stops at the first break. */
struct audit_verifier;

struct audit_report {
	int ok;
	int64_t records, checkpoints;
	int64_t last_signed_id;		/* record the last checkpoint covers, 0 if none */
	int64_t unsigned_tail;		/* records after it (a note, not a failure) */
	int64_t bad_record;		/* first record found broken, 0 if none */
	int64_t bad_checkpoint;		/* checkpoint found broken, 0 if none */
	int witness;			/* a witness was compared with the log */
	int64_t witness_points;		/* distinct heads it saw, all checked */
	int64_t witness_records;	/* the greatest record count it saw */
	char why[512];
};

/* pub: the public key checkpoints must verify with (owned by the caller). */
int audit_verifier_new(EVP_PKEY *pub, struct audit_verifier **out);
void audit_verifier_free(struct audit_verifier *v);
/* where (may be NULL) prefixes a failure, e.g. "line 12". Each returns 0
 * while the log is intact, UKEY_ERR_VERIFY once broken, or UKEY_ERR_NOMEM. */
int audit_verifier_record(struct audit_verifier *v, const struct audit_record *r, const char *where);
int audit_verifier_checkpoint(struct audit_verifier *v, const struct audit_checkpoint_rec *c,
    const char *where);
/* Marks the log broken for a reason found outside the verifier (a line that
 * does not parse). */
int audit_verifier_fail(struct audit_verifier *v, int64_t record, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Compares one head a witness saw with the records fed so far (call it after
 * the last record): the log must hold at least pt->records records and the
 * pt->records-th must hash to pt->head; otherwise records were removed from
 * the end or the log was rewritten. Returns 0 or UKEY_ERR_VERIFY. */
int audit_verifier_witness(struct audit_verifier *v, const struct witness_point *pt);
/* Ends verification and fills rep. Returns 0 (intact) or UKEY_ERR_VERIFY. */
int audit_verifier_finish(struct audit_verifier *v, struct audit_report *rep);

struct db;

/* Verifies the log in db (either backend, db.h), and when ws is not NULL
 * compares it with every head in ws (the caller has checked the witness
 * lines' signatures). Returns 0 (intact), UKEY_ERR_VERIFY (rep says where
 * and why), UKEY_ERR_NOMEM or the database's error (UKEY_ERR_DB; on
 * PostgreSQL also UKEY_ERR_UNAVAIL, UKEY_ERR_PERM). */
int audit_verify_db(struct db *db, EVP_PKEY *pub, const struct witness_set *ws,
    struct audit_report *rep);

/* Opens the database path names read-only (an SQLite file; a PostgreSQL
 * url as db_open) and verifies its log. */
int audit_verify_db_file(const char *path, EVP_PKEY *pub, const struct witness_set *ws,
    struct audit_report *rep);

/* Verifies an export (JSON lines, docs/audit.md) read from f. */
int audit_verify_export(FILE *f, EVP_PKEY *pub, const struct witness_set *ws,
    struct audit_report *rep);

/* One page of the export: up to limit rows (records, or checkpoints when
 * checkpoints is set) with id > after and covering no record past upto, as
 * JSON objects in the export's line format. *out owned. */
int audit_export_page(struct store *st, int checkpoints, int64_t after, int64_t upto, int64_t limit,
    struct json_object **out);

/* Returns a report as a JSON object (owned). */
struct json_object *audit_report_json(const struct audit_report *rep);

#endif
