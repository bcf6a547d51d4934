/* The append-only audit log: every action, who did it, when, on which order,
 * unit, job and token. Each station keeps its own hash chain in it: each
 * row's hash covers a canonical serialisation of all its columns and the
 * previous row of the station's chain; signed checkpoints pin a chain down
 * with its station's audit key, registered in the database. The canonical
 * forms and the export format are specified in docs/audit.md. */
#ifndef UKEY_AUDIT_H
#define UKEY_AUDIT_H

#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>

#include "store/store.h"
#include "store/witness.h"

#define AUDIT_FORMAT 3		/* canonical record format of new rows: per station */
#define AUDIT_MAX_STATIONS 64	/* chains one verification reports on */
#define AUDIT_STATION_MAX 63	/* bytes of a station id (config.c's rule) */
#define AUDIT_HASH_LEN 64	/* lower-case hex SHA-256 */
#define AUDIT_CHECKPOINT_ACTION "audit.checkpoint"

struct audit_event {
	const char *station;	/* the chain appended to: station.id (required) */
	const char *actor;	/* Unix user on the socket, or "ukeyd" */
	const char *action;	/* dotted verb: "order.approve", "job.step", ... */
	int64_t order_id, unit_id, job_id;	/* 0 when not applicable (stored as NULL) */
	const char *token;	/* token serial or NULL */
	const char *bay;	/* bay name or NULL */
	const char *detail;	/* compact JSON text or NULL; never a secret or full ID */
};

/* Appends one event to ev->station's chain inside the caller's transaction
 * (or alone); on PostgreSQL under that station's advisory lock, so stations
 * do not wait for each other. *id_out (may be NULL) receives the new row's
 * id. Returns 0, UKEY_ERR_INVAL (no station) or UKEY_ERR_DB. */
int audit_append(struct store *st, const struct audit_event *ev, int64_t *id_out);

/* Appends an "audit.checkpoint" event (actor, detail {"checkpoint":N,
 * "reason":reason}) and, in the same transaction, checkpoint N signed with key
 * over that event's id and hash. The caller must not be inside a transaction.
 * *out (may be NULL) receives {checkpoint, audit_id, audit_hash, records, at,
 * key_id} (owned). Returns 0, UKEY_ERR_DB or UKEY_ERR_CRYPTO. */
int audit_checkpoint(struct store *st, EVP_PKEY *key, const char *station_id, const char *actor,
    const char *reason, struct json_object **out);

/* The head of station's chain: the number of records in it (its last seq)
 * and the last record's hash. A station's chain continues the records
 * written before per-station chains (format 1 and 2, one chain): before its
 * own first record its head is theirs, or 0 and the genesis hash (64 zeros)
 * when there are none. Returns 0 or UKEY_ERR_DB. */
int audit_head(struct store *st, const char *station, int64_t *records,
    char hash[AUDIT_HASH_LEN + 1]);

/* Records of station's chain appended since its last checkpoint. */
int audit_unsigned_count(struct store *st, const char *station, int64_t *out);

/* Registers key's public half as station's checkpoint key (audit_keys),
 * unless that key is registered for it already; a station never replaces a
 * key: another key for the same station is a new row. Returns 0 or the
 * database's error. Loop context (start-up). */
int audit_key_register(struct store *st, const char *station, EVP_PKEY *key);

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
	AC_BAY, AC_DETAIL, AC_PREV, AC_HASH, AC_STATION, AC_SEQ, AC_N
};
#define AC_N_V2 AC_STATION	/* columns of rows (and export lines) before format 3 */
extern const char *const audit_col_names[AC_N];

struct audit_record {
	struct audit_value v[AC_N];
};

/* seq 0: a checkpoint over the one chain of formats 1 and 2 (text version
 * 1, numbered by id); else the seq-th of station's chain (text version 2),
 * records being the signed record's seq. */
struct audit_checkpoint_rec {
	int64_t id, seq, audit_id, records;
	const char *audit_hash, *at, *station, *key_id, *alg, *signature;	/* borrowed */
};

/* Computes a record's hash from its columns (all but AC_HASH) by the rules of
 * its format (1: legacy, 2: typed, 3: typed with station and seq). Returns
 * 0, UKEY_ERR_INVAL (unknown format or a column of the wrong type) or
 * UKEY_ERR_CRYPTO. */
int audit_record_hash(const struct audit_record *r, char out[AUDIT_HASH_LEN + 1]);

/* The text a checkpoint's signature covers; *text malloc'd. */
int audit_checkpoint_text(const struct audit_checkpoint_rec *c, char **text);

/* Verification: keys, then records in id order, then checkpoints, then
 * finish. The verifier keeps one chain per station (and one for the records
 * before per-station chains), every record's hash (65 bytes a record) so
 * that checkpoints can be checked against it. A chain stops at its first
 * break; the other chains go on. */
struct audit_verifier;

/* One chain's result. station "" is the chain of the records written before
 * per-station chains (formats 1 and 2), which every station's chain
 * continues. */
struct audit_station_report {
	char station[AUDIT_STATION_MAX + 1];
	int ok;
	int64_t records;		/* its own records */
	int64_t first_seq, last_seq;	/* seq of its first and last record */
	int64_t checkpoints, last_signed_seq, last_signed_id, unsigned_tail;
	int64_t bad_id, bad_seq, bad_checkpoint;	/* the first break, 0 if none */
	char key_id[AUDIT_HASH_LEN + 1];	/* first key registered for it, "" if none */
	int n_keys;
	int64_t base;			/* records of the first chain it continues */
	int64_t seed_seq;		/* incremental: verified before up to this seq */
	char last_signed_hash[AUDIT_HASH_LEN + 1];
	char why[320];
};

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
	int incremental;		/* chains were seeded (audit_verifier_seed) */
	size_t n_stations;		/* chains, in order of their first record */
	struct audit_station_report stations[AUDIT_MAX_STATIONS + 1];
};

/* pub (may be NULL, borrowed): the public key given, which checkpoints of a
 * station with no key registered verify with. only (may be NULL): verify
 * that station's chain (and the one before per-station chains) only. */
int audit_verifier_new(EVP_PKEY *pub, const char *only, struct audit_verifier **out);
/* Incremental verification: station's chain ("" the first chain) was
 * verified before up to its checkpoint number checkpoint, over record pos
 * (id id, hash hash; base: records of the first chain it continues). Its
 * records before id and checkpoints up to that number are then skipped; the
 * record id must still be there with that hash; the rest is verified on
 * from there. Before any record; the first chain first.
 * Returns 0 or UKEY_ERR_INVAL. */
struct audit_seed {
	char station[AUDIT_STATION_MAX + 1];
	int64_t base, pos, id, checkpoint;
	char hash[AUDIT_HASH_LEN + 1];
};
int audit_verifier_seed(struct audit_verifier *v, const struct audit_seed *seed);
/* Registers station's checkpoint key (PEM public key). A checkpoint of a
 * station with a key registered verifies only with one of its keys.
 * Returns 0, UKEY_ERR_VERIFY (the key does not parse or key_id is not its
 * id: the log is broken) or UKEY_ERR_NOMEM. */
int audit_verifier_key(struct audit_verifier *v, const char *station, const char *key_id,
    const char *pem, const char *where);
void audit_verifier_free(struct audit_verifier *v);
/* where (may be NULL) prefixes a failure, e.g. "line 12". Each returns 0
 * while reading may go on (a break in one chain is kept for the report and
 * the other chains go on), UKEY_ERR_VERIFY once the input itself is broken
 * (stop reading), or UKEY_ERR_NOMEM. */
int audit_verifier_record(struct audit_verifier *v, const struct audit_record *r,
    const char *where);
int audit_verifier_checkpoint(struct audit_verifier *v, const struct audit_checkpoint_rec *c,
    const char *where);
/* Marks the log broken for a reason found outside the verifier (a line that
 * does not parse). */
int audit_verifier_fail(struct audit_verifier *v, int64_t record, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Compares one head a witness saw with the records fed so far (call it after
 * the last record): pt->station's chain (the first chain while the station
 * has no record of its own) must hold at least pt->records records and the
 * pt->records-th must hash to pt->head; otherwise records were removed from
 * the end or the log was rewritten. Returns 0 or UKEY_ERR_VERIFY. */
int audit_verifier_witness(struct audit_verifier *v, const struct witness_point *pt);
/* Compares every head of ws (may be NULL) as audit_verifier_witness. */
int audit_verifier_witness_set(struct audit_verifier *v, const struct witness_set *ws);
/* Ends verification and fills rep. Returns 0 (intact) or UKEY_ERR_VERIFY. */
int audit_verifier_finish(struct audit_verifier *v, struct audit_report *rep);

struct db;

/* Verifies the log in db (either backend, db.h): every station's chain
 * with its registered keys (pub, may be NULL: for stations with none), or
 * only station only's when not NULL; when ws is not NULL compares it with
 * every head in ws (the caller has checked the witness lines' signatures).
 * Returns 0 (intact), UKEY_ERR_VERIFY (rep says where and why),
 * UKEY_ERR_NOMEM or the database's error (UKEY_ERR_DB; on PostgreSQL also
 * UKEY_ERR_UNAVAIL, UKEY_ERR_PERM). */
int audit_verify_db(struct db *db, EVP_PKEY *pub, const char *only, const struct witness_set *ws,
    struct audit_report *rep);

/* As audit_verify_db, incrementally: the chains seeded with seeds (n of
 * them; audit_verifier_seed), reading only the records from the first
 * seed's id on (each seed's record must still be there, unchanged). A
 * witness needs the whole log: pass ws only with n 0. */
int audit_verify_db_from(struct db *db, EVP_PKEY *pub, const struct audit_seed *seeds, size_t n,
    const struct witness_set *ws, struct audit_report *rep);

/* Opens the database path names read-only (an SQLite file; a PostgreSQL
 * url as db_open) and verifies its log. */
int audit_verify_db_file(const char *path, EVP_PKEY *pub, const char *only,
    const struct witness_set *ws, struct audit_report *rep);

/* Verifies an export (JSON lines, docs/audit.md) read from f. */
int audit_verify_export(FILE *f, EVP_PKEY *pub, const char *only, const struct witness_set *ws,
    struct audit_report *rep);

enum audit_export_what { AUDIT_EXPORT_RECORDS, AUDIT_EXPORT_CHECKPOINTS, AUDIT_EXPORT_KEYS };

/* One page of the export: up to limit rows (records, checkpoints or keys)
 * with id > after (keys: all of them, ignoring after) and covering no
 * record past upto, as JSON objects in the export's line format. *out
 * owned. */
int audit_export_page(struct store *st, enum audit_export_what what, int64_t after, int64_t upto,
    int64_t limit, struct json_object **out);

/* Returns a report as a JSON object (owned). */
struct json_object *audit_report_json(const struct audit_report *rep);

#endif
