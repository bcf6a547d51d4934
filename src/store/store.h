/* The station's database: SQLite in WAL mode, schema migrations applied at
 * open, written only by ukeyd. Orders, units, jobs, tokens, issuances and
 * dual-control requests have typed modules (store_orders.h, store_units.h,
 * store_jobs.h, store_dual.h) built on the binding layer below; the generic queries return rows as json-c
 * objects for the readers that want JSON anyway (the control socket, the
 * CLI's --json). */
#ifndef UKEY_STORE_H
#define UKEY_STORE_H

#include <stdint.h>
#include <sqlite3.h>
#include <json-c/json.h>

struct store;

/* Opens (creating) the database at path, applies pending migrations in one
 * transaction each. Returns 0 or UKEY_ERR_DB; *out owned, free with store_close. */
int store_open(const char *path, struct store **out);
void store_close(struct store *st);
sqlite3 *store_db(struct store *st);		/* borrowed, for the modules below */

/* Opens the store url names (db.h, db_url_is_pg): an SQLite path (as
 * store_open) or a PostgreSQL database, whose versioned migrations
 * (schema_pg.c) are applied under an advisory lock. On PostgreSQL,
 * store_db() is NULL and the calls not yet ported (store_stmt, store_query,
 * store_row) fail with UKEY_ERR_UNSUPPORTED; store_run, store_int, the
 * transactions and the modules written on store_dbh() work on both. */
int store_open_url(const char *url, struct store **out);

/* The db.h connection under the store, either backend (borrowed). */
struct db *store_dbh(struct store *st);

/* Which queued units this station takes (docs/service-points.md): point
 * is its service point's id ("" or NULL: none), take an enum svcpoint_take
 * (common/svcpoint.h): any (queue order), own-first (its point's orders'
 * units first, then the others in queue order) or own (only its point's).
 * Read by the claim queries (store_units_for_token, store_unit_take_next).
 * UKEY_ERR_INVAL for an id outside [a-z0-9-]{1,31} or own/own-first without
 * a point. store_claim_scope returns the point ("" for none) and *take. */
int store_set_claim_scope(struct store *st, const char *point, int take);
const char *store_claim_scope(struct store *st, int *take);

/* After UKEY_ERR_UNAVAIL on PostgreSQL: db_reconnect (0 on SQLite). */
int store_reconnect(struct store *st);
/* 1 when the PostgreSQL connection is lost (db_connection_lost), why
 * saying how; 0 on SQLite. */
int store_connection_lost(struct store *st, char *why, size_t len);
int store_schema_version(struct store *st);

/* Transactions: begin is IMMEDIATE (the daemon is the only writer). */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);
/* Begins a transaction whose commit does not wait for the disk: it is
 * written (it survives the process being killed) but flushed only with the
 * next commit that is, in order (SQLite WAL: synchronous=NORMAL for this
 * transaction alone; PostgreSQL: synchronous_commit off for it). A power
 * cut may lose it, and only with what was committed after it and not yet
 * flushed. Only for records whose loss the caller recovers from
 * (docs/jobs.md, "Commits that need no flush of their own"). */
int store_begin_lazy(struct store *st);

/* Parameters are bound from a format string, one letter each:
 *   t  const char *  (NULL binds NULL)      i  int64_t
 *   b  const void *, size_t (blob; NULL binds NULL)
 * store_run executes one statement; store_query returns every row as a JSON
 * array of objects keyed by column name (integers as int, blobs as lower-case
 * hex); store_row returns exactly one row or UKEY_ERR_NOTFOUND. Errors are
 * logged once here and returned as UKEY_ERR_DB / UKEY_ERR_EXISTS. */
int store_run(struct store *st, const char *sql, const char *fmt, ...);
int store_query(struct store *st, struct json_object **out, const char *sql, const char *fmt, ...);
int store_row(struct store *st, struct json_object **out, const char *sql, const char *fmt, ...);

/* Returns one integer column of one row (UKEY_ERR_NOTFOUND when none). */
int store_int(struct store *st, int64_t *out, const char *sql, const char *fmt, ...);

/* Typed reading, for the store's own modules (store_orders.c, ...):
 * store_stmt prepares sql and binds fmt as above (*out owned, free with
 * sqlite3_finalize); store_step returns 1 for a row, 0 when done, or an
 * error (logged); store_text copies a text column (NULL stays NULL; sets
 * *rc to UKEY_ERR_NOMEM when the copy fails). */
int store_stmt(struct store *st, sqlite3_stmt **out, const char *sql, const char *fmt, ...);
int store_step(struct store *st, sqlite3_stmt *stmt);
char *store_text(sqlite3_stmt *stmt, int col, int *rc);

/* Appends one zeroed element of size sz to the array *a of *n elements
 * (realloc, so *a may move) and returns it, or NULL (the array unchanged)
 * when memory runs out. For the store's list loaders. */
void *store_array_add(void **a, size_t *n, size_t sz);

/* Rows the last statement changed. */
int store_changes(struct store *st);

/* Row id of the last insert on this connection. */
int64_t store_last_id(struct store *st);

/* Current time as ISO-8601 UTC with seconds ("2026-11-21T08:20:00Z"). */
void store_now(char out[32]);

/* Maps an SQLite result code to UKEY_ERR_* (constraint → EXISTS, busy → BUSY). */
int store_rc_to_err(int rc);

#endif
