/* The SQLite backend of db.h: thin over sqlite3_*, so that a store module
 * ported to db.h runs the statements it ran before. */
#include <string.h>

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

int
sq_prepare(struct db *db, const char *sql, struct db_stmt *q)
{
	int rc = sqlite3_prepare_v2(db->sq, sql, -1, &q->sq, NULL);

	if (rc != SQLITE_OK) {
		log_error("sqlite3_prepare_v2: %s (%.60s)", sqlite3_errmsg(db->sq), sql);
		return store_rc_to_err(rc);
	}
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

void
sq_finalize(struct db_stmt *q)
{
	sqlite3_finalize(q->sq);
}
