/* The database-access layer under the store: one interface, two backends
 * (db_sqlite.c: SQLite 3, the single-station default; db_pg.c: PostgreSQL 15
 * through libpq, the shared store of several stations). Store modules are
 * written on it call by call as they were on sqlite3_*: prepare, bind, step,
 * column, finalize; SQL is written once with `?` placeholders (`?NNN` for a
 * numbered one), which the PostgreSQL backend turns into `$n`. */
#ifndef UKEY_DB_H
#define UKEY_DB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct db_stmt;
struct sqlite3;

enum db_backend { DB_SQLITE, DB_PG };

/* Whether url names a PostgreSQL database: a postgresql:// or postgres://
 * URL, or a libpq conninfo ("host=... dbname=...", "service=name").
 * Anything else is an SQLite file path ("sqlite:" prefix optional). */
int db_url_is_pg(const char *url);

/* Opens the database url names (see db_url_is_pg). A PostgreSQL url that
 * carries a password is refused (UKEY_ERR_INVAL), and so is PGPASSWORD in
 * the environment: passwords come only from libpq's password files
 * (PGPASSFILE, ~/.pgpass, a service file's passfile).
 * The log names the server without any password. *out owned (db_close). */
int db_open(const char *url, struct db **out);

/* As db_open, but an SQLite file is opened read-only and must exist
 * (UKEY_ERR_IO otherwise), and a PostgreSQL connection's transactions are
 * READ ONLY: for readers such as `ukeyctl audit verify` and the daemon's
 * threads that verify the log or make a report. */
int db_open_readonly(const char *url, struct db **out);

/* A db over an SQLite handle the caller keeps owning (store.c's own). */
int db_sqlite_wrap(struct sqlite3 *h, struct db **out);
void db_close(struct db *db);
enum db_backend db_backend(const struct db *db);

/* After UKEY_ERR_UNAVAIL (the server restarted, the network went away):
 * connects again with the same url (PQreset) and returns 0, or
 * UKEY_ERR_UNAVAIL while the server is still away. A transaction that was
 * open is lost: the caller starts it again. 0 on SQLite. */
int db_reconnect(struct db *db);

/* 1 when the PostgreSQL connection is lost (libpq's status is no longer
 * CONNECTION_OK: the server restarted or went away), with why holding
 * libpq's last message; 0 on a live connection and always on SQLite. */
int db_connection_lost(struct db *db, char *why, size_t len);

/* The conninfo of a PostgreSQL url with the password removed, for logs and
 * messages; NULL when url does not parse. Owned (free). */
char *db_url_redacted(const char *url);

/* One or more statements without parameters (schema scripts). */
int db_exec(struct db *db, const char *sql);

/* Transactions. SQLite: BEGIN IMMEDIATE (one writer). PostgreSQL: READ
 * COMMITTED; rows a transaction must own are locked with FOR UPDATE. */
int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);
int db_in_transaction(struct db *db);

/* Statements: parameters are numbered from 1; db_step returns 1 for a row,
 * 0 when done, or a negative UKEY_ERR_* (logged once). Column values are
 * borrowed until the next db_step or db_finalize. */
int db_prepare(struct db *db, const char *sql, struct db_stmt **out);
int db_bind_int64(struct db_stmt *q, int idx, int64_t v);
int db_bind_text(struct db_stmt *q, int idx, const char *s);	/* NULL binds NULL */
int db_bind_blob(struct db_stmt *q, int idx, const void *p, size_t n);	/* NULL binds NULL */
int db_bind_null(struct db_stmt *q, int idx);
int db_step(struct db_stmt *q);
int db_column_is_null(struct db_stmt *q, int col);
int64_t db_column_int64(struct db_stmt *q, int col);
const char *db_column_text(struct db_stmt *q, int col);
const void *db_column_blob(struct db_stmt *q, int col, size_t *len);	/* also text's bytes */
/* The result's shape, for readers that take every column (store_query):
 * count, name (borrowed), and the type of the value in the current row.
 * PostgreSQL's types map as integers (int2/4/8, oid, bool), floats
 * (float4/8; numeric with a fraction), blobs (bytea) and text (the rest).
 * Column names are the backend's: alias an expression (count(*) AS n). */
enum db_type { DB_TYPE_NULL, DB_TYPE_INT, DB_TYPE_FLOAT, DB_TYPE_TEXT, DB_TYPE_BLOB };
int db_column_count(struct db_stmt *q);
const char *db_column_name(struct db_stmt *q, int col);
enum db_type db_column_type(struct db_stmt *q, int col);
double db_column_double(struct db_stmt *q, int col);

/* A copy of a text column (NULL stays NULL; *rc = UKEY_ERR_NOMEM when the
 * copy fails), as store_text does. */
char *db_column_dup(struct db_stmt *q, int col, int *rc);
void db_finalize(struct db_stmt *q);

/* SQLite: db_prepare takes an idle statement prepared earlier from the
 * same text when there is one, and db_finalize resets the statement and
 * keeps it (at most DB_STMT_CACHE_MAX per connection, the least recently
 * used finalized first); db_close finalizes them. docs/performance.md,
 * "The store's prepared statements". The counters say how it went:
 * prepares (statements parsed), hits (taken from the cache), cached (idle
 * in it now), evicted (finalized to make room). PostgreSQL: all zero. */
#define DB_STMT_CACHE_MAX 128
struct db_stmt_stats {
	uint64_t prepares, hits, evicted;
	size_t cached;
};
void db_stmt_stats(const struct db *db, struct db_stmt_stats *out);

/* Rows the last statement on the connection changed; the id the last
 * INSERT on the connection gave (prefer db_insert_id: RETURNING works on
 * both backends). */
int64_t db_changes(struct db *db);
int64_t db_last_id(struct db *db);

/* Format-string binding, one letter per parameter as store_run's:
 *   t const char * (NULL binds NULL)   i int64_t   b const void *, size_t
 * db_stmtf prepares and binds (*out owned, db_finalize); db_run runs one
 * statement to its end; db_int reads one integer (UKEY_ERR_NOTFOUND for no
 * row or NULL); db_insert_id runs an INSERT with " RETURNING id" appended
 * and gives the new row's id. */
int db_vstmt(struct db *db, struct db_stmt **out, const char *sql, const char *fmt, va_list ap);
int db_stmtf(struct db *db, struct db_stmt **out, const char *sql, const char *fmt, ...);
int db_vrun(struct db *db, const char *sql, const char *fmt, va_list ap);
int db_run(struct db *db, const char *sql, const char *fmt, ...);
int db_vint(struct db *db, int64_t *out, const char *sql, const char *fmt, va_list ap);
int db_int(struct db *db, int64_t *out, const char *sql, const char *fmt, ...);
int db_insert_id(struct db *db, int64_t *id, const char *sql, const char *fmt, ...);

/* Dialect: where the two differ, the store asks instead of spelling it.
 * db_sql_now: the database's current UTC time as ISO-8601 text
 * ("2026-11-21T08:20:00Z"), an SQL expression. db_sql_skip_locked: the
 * clause that locks the rows of `alias` a SELECT returns, skipping rows
 * another transaction holds (PostgreSQL); "" on SQLite, whose writer holds
 * the whole database. db_sql_upsert writes into buf an INSERT that updates
 * the conflicting row instead: `insert` (without ON CONFLICT), the conflict
 * target columns, and the columns to take from the new row (both
 * backends spell it ON CONFLICT ... DO UPDATE SET c = excluded.c; SQLite
 * since 3.24). Returns 0, or UKEY_ERR_INVAL when buf is too small. */
const char *db_sql_now(const struct db *db);
const char *db_sql_skip_locked(const struct db *db, const char *alias, char *buf, size_t sz);
int db_sql_upsert(char *buf, size_t sz, const char *insert, const char *conflict,
    const char *const *update_cols);

/* Dates and times kept as ISO-8601 UTC text ("2026-11-21T08:20:00Z"):
 * db_sql_local_date writes into buf the expression of the calendar day
 * "YYYY-MM-DD" of the time `expr` shifted by `offset`, an expression whose
 * value is text such as "+480 minutes" (SQLite's date() modifier, which
 * PostgreSQL reads as an interval); db_sql_epoch the expression of `expr`
 * in seconds since 1970 (an integer; NULL for NULL). Both return buf, or ""
 * when buf is too small. */
const char *db_sql_local_date(const struct db *db, const char *expr, const char *offset,
    char *buf, size_t sz);
const char *db_sql_epoch(const struct db *db, const char *expr, char *buf, size_t sz);

/* For the PostgreSQL backend's callers: rewrites `?` / `?NNN` outside
 * quotes as `$n` / `$NNN`; *nparams is the highest number used. Owned. */
char *db_pg_translate(const char *sql, int *nparams);

#endif
