/* The SQLite backend of db.h: thin over sqlite3_*, so that a store module
 * ported to db.h runs the statements it ran before; and a cache of the
 * prepared statements per connection, so that the same few dozen
 * statements are not parsed again for every use (docs/performance.md). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/log.h"
#include "store/db_impl.h"
#include "store/store.h"

int
sq_open(const char *path, struct db *db)
{
	int rc;

	rc = sqlite3_open_v2(path, &db->sq, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("sqlite3_open_v2 %s: %s", path, sqlite3_errstr(rc));
		sqlite3_close(db->sq);
		db->sq = NULL;
		return store_rc_to_err(rc);
	}
	db->own_sq = 1;
	sqlite3_busy_timeout(db->sq, 5000);
	return 0;
}

int
sq_exec(struct db *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db->sq, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		log_error("sqlite3_exec: %s (%.40s...)", msg ? msg : sqlite3_errstr(rc), sql);
		sqlite3_free(msg);
		return store_rc_to_err(rc);
	}
	return 0;
}

/* FNV-1a of the statement's text: the cache compares hashes first. */
static uint32_t
sql_hash(const char *sql)
{
	uint32_t h = 2166136261u;

	for (; *sql != '\0'; sql++)
		h = (h ^ (unsigned char)*sql) * 16777619u;
	return h;
}

/* Takes the idle statement prepared from sql out of the cache: 1, or 0
 * when there is none (every copy in use, or never prepared). */
static int
cache_take(struct db *db, const char *sql, uint32_t hash, struct db_stmt *q)
{
	size_t i;

	for (i = 0; i < db->ncached; i++) {
		struct sq_cached *c = &db->cache[i];

		if (c->hash != hash || strcmp(c->sql, sql) != 0)
			continue;
		q->sq = c->st;
		q->key = c->sql;
		q->hash = hash;
		/* the slot is filled by the last one: in use, it is in none */
		*c = db->cache[--db->ncached];
		db->stats.hits++;
		return 1;
	}
	return 0;
}

/* Whether a statement prepared from sql may be kept: not a PRAGMA, since
 * some act while they are prepared (synchronous=, foreign_keys=), so that
 * stepping a kept one again would change nothing. */
static int
cacheable(const char *sql)
{
	sql += strspn(sql, " \t\r\n");
	return strncasecmp(sql, "PRAGMA", 6) != 0;
}

/* The statement prepared from sql, from the cache or parsed now. Some SQL
 * is written into a caller's stack buffer (snprintf): the key is a copy of
 * the text, never the pointer. */
int
sq_prepare(struct db *db, const char *sql, struct db_stmt *q)
{
	uint32_t hash = sql_hash(sql);
	int rc;

	if (cache_take(db, sql, hash, q))
		return 0;
	rc = sqlite3_prepare_v2(db->sq, sql, -1, &q->sq, NULL);
	if (rc != SQLITE_OK) {
		log_error("sqlite3_prepare_v2: %s (%.60s)", sqlite3_errmsg(db->sq), sql);
		return store_rc_to_err(rc);
	}
	db->stats.prepares++;
	/* no copy (out of memory; or no statement, only a comment): the
	 * statement is finalized at the end instead of kept */
	if (q->sq != NULL && cacheable(sql) && (q->key = strdup(sql)) != NULL)
		q->hash = hash;
	return 0;
}

int
sq_bind(struct db_stmt *q, int idx, int type, int64_t v, const void *p, size_t n)
{
	int rc;

	switch (type) {
	case DB_T_INT:
		rc = sqlite3_bind_int64(q->sq, idx, v);
		break;
	case DB_T_TEXT:
		rc = sqlite3_bind_text(q->sq, idx, p, -1, SQLITE_TRANSIENT);
		break;
	case DB_T_BLOB:
		rc = sqlite3_bind_blob64(q->sq, idx, p, n, SQLITE_TRANSIENT);
		break;
	default:
		rc = sqlite3_bind_null(q->sq, idx);
	}
	if (rc != SQLITE_OK) {
		log_error("sqlite3_bind (%d): %s", idx, sqlite3_errstr(rc));
		return store_rc_to_err(rc);
	}
	return 0;
}

int
sq_step(struct db_stmt *q)
{
	int rc = sqlite3_step(q->sq);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	log_error("sqlite3_step: %s (%.60s)", sqlite3_errmsg(q->db->sq), sqlite3_sql(q->sq));
	return store_rc_to_err(rc);
}

int
sq_is_null(struct db_stmt *q, int col)
{
	return sqlite3_column_type(q->sq, col) == SQLITE_NULL;
}

int64_t
sq_int64(struct db_stmt *q, int col)
{
	return sqlite3_column_int64(q->sq, col);
}

const char *
sq_text(struct db_stmt *q, int col)
{
	return (const char *)sqlite3_column_text(q->sq, col);
}

const void *
sq_blob(struct db_stmt *q, int col, size_t *len)
{
	const void *p = sqlite3_column_blob(q->sq, col);

	*len = (size_t)sqlite3_column_bytes(q->sq, col);
	return p;
}

/* Finalizes the idle statement used longest ago, to make room. */
static void
cache_evict_lru(struct db *db)
{
	size_t i, old = 0;

	for (i = 1; i < db->ncached; i++)
		if (db->cache[i].used < db->cache[old].used)
			old = i;
	sqlite3_finalize(db->cache[old].st);
	free(db->cache[old].sql);
	db->cache[old] = db->cache[--db->ncached];
	db->stats.evicted++;
}

/* Gives the statement back to the cache, reset: a statement stepped once
 * and not to its end holds a read transaction (which would keep a WAL
 * checkpoint from completing) until it is reset. One whose last step
 * failed (reset returns the error) is finalized rather than kept. */
void
sq_finalize(struct db_stmt *q)
{
	struct db *db = q->db;
	struct sq_cached *c;

	if (q->key == NULL || sqlite3_reset(q->sq) != SQLITE_OK ||
	    sqlite3_clear_bindings(q->sq) != SQLITE_OK) {
		sqlite3_finalize(q->sq);
		free(q->key);
		return;
	}
	if (db->ncached == DB_STMT_CACHE_MAX)
		cache_evict_lru(db);
	c = &db->cache[db->ncached++];
	c->st = q->sq;
	c->sql = q->key;
	c->hash = q->hash;
	c->used = ++db->tick;
}

/* Finalizes every idle statement (db_close; before the handle closes). */
void
sq_cache_clear(struct db *db)
{
	while (db->ncached > 0) {
		db->ncached--;
		sqlite3_finalize(db->cache[db->ncached].st);
		free(db->cache[db->ncached].sql);
	}
}
