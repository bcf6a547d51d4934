/* db.h: the calls every store module makes, dispatched to the SQLite or the
 * PostgreSQL backend; format-string binding and the dialect helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "store/db_impl.h"

#define PG(db) ((db)->backend == DB_PG)

int
db_url_is_pg(const char *url)
{
	if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
		return 1;
	/* a libpq conninfo is key=value pairs; a file path has no '=' before
	 * its first '/' */
	return strncmp(url, "sqlite:", 7) != 0 && strchr(url, '=') != NULL &&
	    (strchr(url, '/') == NULL || strchr(url, '=') < strchr(url, '/'));
}

int
db_open(const char *url, struct db **out)
{
	struct db *db;
	int rc;

	*out = NULL;
	if ((db = calloc(1, sizeof(*db))) == NULL)
		return UKEY_ERR_NOMEM;
	if (db_url_is_pg(url)) {
		db->backend = DB_PG;
		rc = pgb_open(url, db);
	} else {
		db->backend = DB_SQLITE;
		rc = sq_open(strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url, db);
	}
	if (rc != 0) {
		db_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

int
db_open_readonly(const char *url, struct db **out)
{
	struct db *db;
	int rc;

	if (db_url_is_pg(url)) {
		/* a connection of its own whose transactions may only read:
		 * a reader that tried to write would fail, not change the store */
		if ((rc = db_open(url, out)) == 0 &&
		    (rc = db_exec(*out, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")) != 0) {
			db_close(*out);
			*out = NULL;
		}
		return rc;
	}
	*out = NULL;
	if (strncmp(url, "sqlite:", 7) == 0)
		url += 7;
	if ((db = calloc(1, sizeof(*db))) == NULL)
		return UKEY_ERR_NOMEM;
	db->backend = DB_SQLITE;
	rc = sqlite3_open_v2(url, &db->sq, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("open %s: %s", url, db->sq ? sqlite3_errmsg(db->sq) : "out of memory");
		sqlite3_close(db->sq);
		free(db);
		return UKEY_ERR_IO;
	}
	db->own_sq = 1;
	sqlite3_busy_timeout(db->sq, 5000);
	*out = db;
	return 0;
}

int
db_sqlite_wrap(struct sqlite3 *h, struct db **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return UKEY_ERR_NOMEM;
	(*out)->backend = DB_SQLITE;
	(*out)->sq = h;
	return 0;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	/* before the handle closes: sqlite3_close refuses one with statements */
	sq_cache_clear(db);
	if (db->stats.prepares > 0)
		log_debug("%llu statements prepared, %llu taken from the cache, %llu evicted",
		    (unsigned long long)db->stats.prepares, (unsigned long long)db->stats.hits,
		    (unsigned long long)db->stats.evicted);
	if (db->own_sq)
		sqlite3_close(db->sq);
	if (db->pg != NULL)
		PQfinish(db->pg);
	free(db);
}

int
db_reconnect(struct db *db)
{
	return PG(db) ? pgb_reconnect(db) : 0;
}

int
db_connection_lost(struct db *db, char *why, size_t len)
{
	return PG(db) ? pgb_lost(db, why, len) : 0;
}

enum db_backend
db_backend(const struct db *db)
{
	return db->backend;
}

int
db_exec(struct db *db, const char *sql)
{
	return PG(db) ? pgb_exec(db, sql) : sq_exec(db, sql);
}

/* One statement without parameters or rows; on SQLite a cached one
 * (sqlite3_exec would parse BEGIN and COMMIT again every time). */
static int
exec_one(struct db *db, const char *sql)
{
	return PG(db) ? pgb_exec(db, sql) : db_run(db, sql, "");
}

int
db_begin(struct db *db)
{
	return exec_one(db, PG(db) ? "BEGIN" : "BEGIN IMMEDIATE");
}

int
db_commit(struct db *db)
{
	return exec_one(db, "COMMIT");
}

void
db_rollback(struct db *db)
{
	if (db_in_transaction(db))
		(void)exec_one(db, "ROLLBACK");
}

int
db_in_transaction(struct db *db)
{
	if (PG(db))
		return PQtransactionStatus(db->pg) != PQTRANS_IDLE;
	return !sqlite3_get_autocommit(db->sq);
}

int
db_prepare(struct db *db, const char *sql, struct db_stmt **out)
{
	struct db_stmt *q;
	int rc;

	*out = NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return UKEY_ERR_NOMEM;
	q->db = db;
	if ((rc = PG(db) ? pgb_prepare(db, sql, q) : sq_prepare(db, sql, q)) != 0) {
		free(q);
		return rc;
	}
	*out = q;
	return 0;
}

static int
bind(struct db_stmt *q, int idx, int type, int64_t v, const void *p, size_t n)
{
	return PG(q->db) ? pgb_bind(q, idx, type, v, p, n) : sq_bind(q, idx, type, v, p, n);
}

int
db_bind_int64(struct db_stmt *q, int idx, int64_t v)
{
	return bind(q, idx, DB_T_INT, v, NULL, 0);
}

int
db_bind_text(struct db_stmt *q, int idx, const char *s)
{
	return bind(q, idx, s ? DB_T_TEXT : DB_T_NULL, 0, s, s ? strlen(s) : 0);
}

int
db_bind_blob(struct db_stmt *q, int idx, const void *p, size_t n)
{
	return bind(q, idx, p ? DB_T_BLOB : DB_T_NULL, 0, p, n);
}

int
db_bind_null(struct db_stmt *q, int idx)
{
	return bind(q, idx, DB_T_NULL, 0, NULL, 0);
}

int
db_step(struct db_stmt *q)
{
	return PG(q->db) ? pgb_step(q) : sq_step(q);
}

int
db_column_is_null(struct db_stmt *q, int col)
{
	return PG(q->db) ? pgb_is_null(q, col) : sq_is_null(q, col);
}

int64_t
db_column_int64(struct db_stmt *q, int col)
{
	return PG(q->db) ? pgb_int64(q, col) : sq_int64(q, col);
}

const char *
db_column_text(struct db_stmt *q, int col)
{
	return PG(q->db) ? pgb_text(q, col) : sq_text(q, col);
}

const void *
db_column_blob(struct db_stmt *q, int col, size_t *len)
{
	return PG(q->db) ? pgb_blob(q, col, len) : sq_blob(q, col, len);
}

int
db_column_count(struct db_stmt *q)
{
	return PG(q->db) ? pgb_column_count(q) : sqlite3_column_count(q->sq);
}

const char *
db_column_name(struct db_stmt *q, int col)
{
	return PG(q->db) ? pgb_column_name(q, col) : sqlite3_column_name(q->sq, col);
}

enum db_type
db_column_type(struct db_stmt *q, int col)
{
	if (PG(q->db))
		return pgb_column_type(q, col);
	switch (sqlite3_column_type(q->sq, col)) {
	case SQLITE_INTEGER:
		return DB_TYPE_INT;
	case SQLITE_FLOAT:
		return DB_TYPE_FLOAT;
	case SQLITE_TEXT:
		return DB_TYPE_TEXT;
	case SQLITE_BLOB:
		return DB_TYPE_BLOB;
	default:
		return DB_TYPE_NULL;
	}
}

double
db_column_double(struct db_stmt *q, int col)
{
	const char *t;

	if (!PG(q->db))
		return sqlite3_column_double(q->sq, col);
	t = db_column_text(q, col);
	return t ? strtod(t, NULL) : 0;
}

char *
db_column_dup(struct db_stmt *q, int col, int *rc)
{
	const char *t = db_column_text(q, col);
	char *copy;

	if (t == NULL)
		return NULL;
	if ((copy = strdup(t)) == NULL)
		*rc = UKEY_ERR_NOMEM;
	return copy;
}

void
db_finalize(struct db_stmt *q)
{
	if (q == NULL)
		return;
	if (PG(q->db))
		pgb_finalize(q);
	else
		sq_finalize(q);
	free(q);
}

void
db_stmt_stats(const struct db *db, struct db_stmt_stats *out)
{
	*out = db->stats;
	out->cached = db->ncached;
}

int64_t
db_changes(struct db *db)
{
	return PG(db) ? db->changes : sqlite3_changes(db->sq);
}

int64_t
db_last_id(struct db *db)
{
	int64_t id = 0;

	if (!PG(db))
		return sqlite3_last_insert_rowid(db->sq);
	/* the identity columns draw from sequences: lastval() is the last one
	 * this session drew */
	(void)db_int(db, &id, "SELECT lastval()", "");
	return id;
}

int
db_vstmt(struct db *db, struct db_stmt **out, const char *sql, const char *fmt, va_list ap)
{
	struct db_stmt *q;
	int rc = 0, i;

	*out = NULL;
	if ((rc = db_prepare(db, sql, &q)) != 0)
		return rc;
	for (i = 0; fmt[i] != '\0' && rc == 0; i++) {
		switch (fmt[i]) {
		case 't':
			rc = db_bind_text(q, i + 1, va_arg(ap, const char *));
			break;
		case 'i':
			rc = db_bind_int64(q, i + 1, va_arg(ap, int64_t));
			break;
		case 'b': {
			const void *p = va_arg(ap, const void *);

			rc = db_bind_blob(q, i + 1, p, va_arg(ap, size_t));
			break;
		}
		default:
			log_error("bad parameter letter '%c' (%.60s)", fmt[i], sql);
			rc = UKEY_ERR_INVAL;
		}
	}
	if (rc != 0) {
		db_finalize(q);
		return rc;
	}
	*out = q;
	return 0;
}

int
db_stmtf(struct db *db, struct db_stmt **out, const char *sql, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = db_vstmt(db, out, sql, fmt, ap);
	va_end(ap);
	return rc;
}

int
db_vrun(struct db *db, const char *sql, const char *fmt, va_list ap)
{
	struct db_stmt *q;
	int rc;

	if ((rc = db_vstmt(db, &q, sql, fmt, ap)) != 0)
		return rc;
	while ((rc = db_step(q)) == 1)
		;
	db_finalize(q);
	return rc;
}

int
db_run(struct db *db, const char *sql, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = db_vrun(db, sql, fmt, ap);
	va_end(ap);
	return rc;
}

int
db_vint(struct db *db, int64_t *out, const char *sql, const char *fmt, va_list ap)
{
	struct db_stmt *q;
	int rc;

	*out = 0;
	if ((rc = db_vstmt(db, &q, sql, fmt, ap)) != 0)
		return rc;
	if ((rc = db_step(q)) == 1) {
		*out = db_column_int64(q, 0);
		rc = db_column_is_null(q, 0) ? UKEY_ERR_NOTFOUND : 0;
	} else if (rc == 0) {
		rc = UKEY_ERR_NOTFOUND;
	}
	db_finalize(q);
	return rc;
}

int
db_int(struct db *db, int64_t *out, const char *sql, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = db_vint(db, out, sql, fmt, ap);
	va_end(ap);
	return rc;
}

int
db_insert_id(struct db *db, int64_t *id, const char *sql, const char *fmt, ...)
{
	char *full;
	va_list ap;
	int rc;

	*id = 0;
	if (asprintf(&full, "%s RETURNING id", sql) < 0)
		return UKEY_ERR_NOMEM;
	va_start(ap, fmt);
	rc = db_vint(db, id, full, fmt, ap);
	va_end(ap);
	free(full);
	return rc;
}

const char *
db_sql_now(const struct db *db)
{
	return PG(db) ? "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')" :
	    "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')";
}

const char *
db_sql_skip_locked(const struct db *db, const char *alias, char *buf, size_t sz)
{
	if (!PG(db))
		return "";
	snprintf(buf, sz, " FOR UPDATE OF %s SKIP LOCKED", alias);
	return buf;
}

int
db_sql_upsert(char *buf, size_t sz, const char *insert, const char *conflict,
    const char *const *update_cols)
{
	size_t len;
	int n, i;

	n = snprintf(buf, sz, "%s ON CONFLICT (%s) DO UPDATE SET", insert, conflict);
	for (i = 0; n >= 0 && (size_t)n < sz && update_cols[i] != NULL; i++) {
		len = (size_t)n;
		n = snprintf(buf + len, sz - len, "%s %s = excluded.%s", i ? "," : "",
		    update_cols[i], update_cols[i]);
		n = n < 0 ? n : n + (int)len;
	}
	if (n < 0 || (size_t)n >= sz) {
		log_error("upsert on %s: statement longer than %zu bytes", conflict, sz);
		return UKEY_ERR_INVAL;
	}
	return 0;
}

/* buf, or "" (logged) when the expression did not fit */
static const char *
sql_fits(char *buf, size_t sz, int n, const char *what)
{
	if (n >= 0 && (size_t)n < sz)
		return buf;
	log_error("%s: expression longer than %zu bytes", what, sz);
	if (sz > 0)
		buf[0] = '\0';
	return buf;
}

const char *
db_sql_local_date(const struct db *db, const char *expr, const char *offset, char *buf,
    size_t sz)
{
	int n;

	if (PG(db))
		n = snprintf(buf, sz, "to_char((CAST(%s AS timestamptz) AT TIME ZONE 'UTC')"
		    " + CAST(%s AS interval), 'YYYY-MM-DD')", expr, offset);
	else
		n = snprintf(buf, sz, "date(%s, %s)", expr, offset);
	return sql_fits(buf, sz, n, "local date");
}

const char *
db_sql_epoch(const struct db *db, const char *expr, char *buf, size_t sz)
{
	int n;

	if (PG(db))
		n = snprintf(buf, sz, "CAST(extract(epoch FROM CAST(%s AS timestamptz)) AS bigint)",
		    expr);
	else
		n = snprintf(buf, sz, "CAST(strftime('%%s', %s) AS INTEGER)", expr);
	return sql_fits(buf, sz, n, "epoch");
}
