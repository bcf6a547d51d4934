/* The two backends of db.h as db.c dispatches to them; private to
 * db.c, db_sqlite.c and db_pg.c. */
#ifndef UKEY_DB_IMPL_H
#define UKEY_DB_IMPL_H

#include <sqlite3.h>
#include <libpq-fe.h>

#include "store/db.h"

struct pg_stmt;

/* An idle prepared statement in the SQLite backend's cache (db_sqlite.c):
 * reset, its bindings cleared, waiting for the next db_prepare of sql. */
struct sq_cached {
	sqlite3_stmt *st;
	char *sql;		/* the key: the text it was prepared from (owned) */
	uint32_t hash;
	uint64_t used;		/* db->tick when it was given back, for LRU */
};

/* One connection, used by one thread at a time: the statement cache
 * relies on it and takes no lock. In ukeyd the station's store belongs to
 * the event loop; the verify thread opens a connection of its own
 * (db_open_readonly in verifythread.c), and the CA thread (cathread.c)
 * makes only ca_* calls, whose ca.db is another SQLite handle outside
 * db.h (store_ca.c), its answers going back to the loop through a pipe. */
struct db {
	enum db_backend backend;
	sqlite3 *sq;		/* DB_SQLITE */
	int own_sq;		/* db_close closes sq */
	PGconn *pg;		/* DB_PG */
	int64_t changes;	/* DB_PG: rows the last statement changed */
	/* DB_SQLITE: idle statements only; one in use is in no slot */
	struct sq_cached cache[DB_STMT_CACHE_MAX];
	size_t ncached;
	uint64_t tick;
	struct db_stmt_stats stats;
};

struct db_stmt {
	struct db *db;
	sqlite3_stmt *sq;	/* DB_SQLITE */
	char *key;		/* DB_SQLITE: the cache key, NULL when not cacheable */
	uint32_t hash;
	struct pg_stmt *pg;	/* DB_PG */
};

int sq_open(const char *path, struct db *db);
int sq_exec(struct db *db, const char *sql);
int sq_prepare(struct db *db, const char *sql, struct db_stmt *q);
int sq_bind(struct db_stmt *q, int idx, int type, int64_t v, const void *p, size_t n);
int sq_step(struct db_stmt *q);
int sq_is_null(struct db_stmt *q, int col);
int64_t sq_int64(struct db_stmt *q, int col);
const char *sq_text(struct db_stmt *q, int col);
const void *sq_blob(struct db_stmt *q, int col, size_t *len);
void sq_finalize(struct db_stmt *q);
void sq_cache_clear(struct db *db);

int pgb_open(const char *url, struct db *db);
int pgb_exec(struct db *db, const char *sql);
int pgb_reconnect(struct db *db);
int pgb_lost(struct db *db, char *why, size_t len);
int pgb_prepare(struct db *db, const char *sql, struct db_stmt *q);
int pgb_bind(struct db_stmt *q, int idx, int type, int64_t v, const void *p, size_t n);
int pgb_step(struct db_stmt *q);
int pgb_is_null(struct db_stmt *q, int col);
int64_t pgb_int64(struct db_stmt *q, int col);
const char *pgb_text(struct db_stmt *q, int col);
const void *pgb_blob(struct db_stmt *q, int col, size_t *len);
void pgb_finalize(struct db_stmt *q);
int pgb_column_count(struct db_stmt *q);
const char *pgb_column_name(struct db_stmt *q, int col);
enum db_type pgb_column_type(struct db_stmt *q, int col);

/* bind types */
enum { DB_T_NULL, DB_T_INT, DB_T_TEXT, DB_T_BLOB };

#endif
