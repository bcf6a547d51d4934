/* Opening the station database, migrations, and the small binding layer the
 * rest of the store is written on. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/svcpoint.h"
#include "store/db.h"
#include "store/schema.h"
#include "store/schema_pg.h"
#include "store/store.h"

/* db is the SQLite handle (NULL on PostgreSQL); dbh the db.h layer over
 * either backend, which the ported modules use (store_dbh). */
struct store {
	sqlite3 *db;
	struct db *dbh;
	int version;
	/* which queued units this station takes (store_set_claim_scope) */
	char scope_point[32];
	int scope_take;
	int lazy;		/* SQLite: the open transaction is store_begin_lazy's */
};

/* The calls below that still speak sqlite3_* directly refuse a PostgreSQL
 * store, naming the call, rather than crash (docs/multi-station.md lists
 * what is left to port). */
static int
not_ported(const char *sql)
{
	log_error("not ported to PostgreSQL yet: %.60s", sql);
	return UKEY_ERR_UNSUPPORTED;
}

int
store_rc_to_err(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_CONSTRAINT:
		return UKEY_ERR_EXISTS;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return UKEY_ERR_BUSY;
	case SQLITE_NOMEM:
		return UKEY_ERR_NOMEM;
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CANTOPEN:
		return UKEY_ERR_IO;
	default:
		return UKEY_ERR_DB;
	}
}

void
store_now(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

sqlite3 *
store_db(struct store *st)
{
	return st->db;
}

struct db *
store_dbh(struct store *st)
{
	return st->dbh;
}

int
store_set_claim_scope(struct store *st, const char *point, int take)
{
	size_t n = point != NULL ? strlen(point) : 0;

	/* the id is written into the claim query as a literal (store_units.c):
	 * only the table's alphabet is let through */
	if (n >= sizeof(st->scope_point) || strspn(point != NULL ? point : "",
	    "abcdefghijklmnopqrstuvwxyz0123456789-") != n ||
	    take < SVCPOINT_TAKE_ANY || take > SVCPOINT_TAKE_OWN ||
	    (n == 0 && take != SVCPOINT_TAKE_ANY)) {
		log_error("claim scope: service point \"%.40s\" with take %d is not valid",
		    point != NULL ? point : "", take);
		return UKEY_ERR_INVAL;
	}
	memcpy(st->scope_point, n > 0 ? point : "", n + 1);
	st->scope_take = take;
	return 0;
}

const char *
store_claim_scope(struct store *st, int *take)
{
	*take = st->scope_take;
	return st->scope_point;
}

int
store_reconnect(struct store *st)
{
	return db_reconnect(st->dbh);
}

int
store_connection_lost(struct store *st, char *why, size_t len)
{
	return db_connection_lost(st->dbh, why, len);
}

int
store_schema_version(struct store *st)
{
	return st->version;
}

static int
exec_plain(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		log_error("sqlite3_exec: %s (%.40s...)", msg ? msg : sqlite3_errstr(rc), sql);
		sqlite3_free(msg);
		return store_rc_to_err(rc);
	}
	return 0;
}

int
store_begin(struct store *st)
{
	return db_begin(st->dbh);
}

/* After a lazy transaction: every other commit is flushed again, as
 * store_open set it. */
static void
store_sync_full(struct store *st)
{
	if (!st->lazy)
		return;
	st->lazy = 0;
	if (exec_plain(st->db, "PRAGMA synchronous=FULL") != 0)
		log_error("store: synchronous=FULL could not be set again after a lazy commit");
}

int
store_begin_lazy(struct store *st)
{
	int rc;

	if (st->db == NULL) {
		if ((rc = db_begin(st->dbh)) == 0 &&
		    (rc = db_exec(st->dbh, "SET LOCAL synchronous_commit TO off")) != 0)
			db_rollback(st->dbh);
		return rc;
	}
	/* SQLite changes the level only outside a transaction */
	if ((rc = exec_plain(st->db, "PRAGMA synchronous=NORMAL")) != 0)
		return rc;
	st->lazy = 1;
	if ((rc = db_begin(st->dbh)) != 0)
		store_sync_full(st);
	return rc;
}

int
store_commit(struct store *st)
{
	int rc;

	rc = db_commit(st->dbh);
	if (st->db != NULL && sqlite3_get_autocommit(st->db))
		store_sync_full(st);
	return rc;
}

void
store_rollback(struct store *st)
{
	db_rollback(st->dbh);
	if (st->db != NULL)
		store_sync_full(st);
}

/* Every reference still points at a row: checked before a migration
 * commits, since migrations run with enforcement off (a table rebuild drops
 * and renames a table that others reference, as SQLite's documented way of
 * changing a constraint requires). */
static int
foreign_keys_hold(struct store *st)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(st->db, "PRAGMA foreign_key_check", -1, &q, NULL) != SQLITE_OK)
		return UKEY_ERR_DB;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		log_error("migration leaves a broken reference in table %s",
		    (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : UKEY_ERR_DB;
}

/* Runs with foreign_keys off (the caller turns it on afterwards). */
static int
migrate(struct store *st)
{
	const struct migration *m;
	size_t n, i;
	int64_t have = 0;
	int rc;

	if ((rc = exec_plain(st->db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    " version INTEGER PRIMARY KEY, what TEXT NOT NULL, applied_at TEXT NOT NULL)")) != 0)
		return rc;
	rc = store_int(st, &have, "SELECT coalesce(max(version), 0) FROM schema_migrations", "");
	if (rc != 0)
		return rc;
	m = schema_migrations(&n);
	if (have > m[n - 1].version) {
		log_error("database schema version %lld is newer than this program's %d",
		    (long long)have, m[n - 1].version);
		return UKEY_ERR_DB;
	}
	for (i = 0; i < n; i++) {
		char now[32];
		int64_t applied = 0;

		/* by version, not by the highest one: migrations written on
		 * branches apart (numbers kept, some skipped) apply whatever the
		 * order a database met them in */
		if ((rc = store_int(st, &applied, "SELECT count(*) FROM schema_migrations"
		    " WHERE version = ?", "i", (int64_t)m[i].version)) != 0)
			return rc;
		if (applied > 0)
			continue;
		store_now(now);
		if ((rc = store_begin(st)) != 0)
			return rc;
		if ((rc = exec_plain(st->db, m[i].sql)) != 0 ||
		    (rc = foreign_keys_hold(st)) != 0 ||
		    (rc = store_run(st, "INSERT INTO schema_migrations (version, what, applied_at)"
		    " VALUES (?, ?, ?)", "itt", (int64_t)m[i].version, m[i].what, now)) != 0 ||
		    (rc = store_commit(st)) != 0) {
			store_rollback(st);
			return rc;
		}
		log_info("database migrated to schema version %d (%s)", m[i].version, m[i].what);
	}
	st->version = m[n - 1].version;
	return 0;
}

int
store_open(const char *path, struct store **out)
{
	struct store *st;
	int rc;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return UKEY_ERR_NOMEM;
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("sqlite3_open_v2 %s: %s", path, sqlite3_errstr(rc));
		rc = store_rc_to_err(rc);
		goto out;
	}
	sqlite3_busy_timeout(st->db, 5000);
	if ((rc = exec_plain(st->db, "PRAGMA journal_mode=WAL")) != 0 ||
	    (rc = exec_plain(st->db, "PRAGMA synchronous=FULL")) != 0 ||
	    /* freed space is zeroed: what was replaced does not linger in the file */
	    (rc = exec_plain(st->db, "PRAGMA secure_delete=ON")) != 0 ||
	    (rc = db_sqlite_wrap(st->db, &st->dbh)) != 0 ||
	    (rc = migrate(st)) != 0 ||
	    (rc = exec_plain(st->db, "PRAGMA foreign_keys=ON")) != 0)
		goto out;
	*out = st;
	st = NULL;
	rc = 0;
 out:
	store_close(st);
	return rc;
}

int
store_open_url(const char *url, struct store **out)
{
	struct store *st;
	int rc;

	*out = NULL;
	if (!db_url_is_pg(url))
		return store_open(strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url, out);
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return UKEY_ERR_NOMEM;
	if ((rc = db_open(url, &st->dbh)) != 0 ||
	    (rc = schema_pg_migrate(st->dbh, &st->version)) != 0) {
		store_close(st);
		return rc;
	}
	*out = st;
	return 0;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	db_close(st->dbh);
	sqlite3_close(st->db);
	free(st);
}

static int
prepare_bind(struct store *st, sqlite3_stmt **out, const char *sql, const char *fmt, va_list ap)
{
	sqlite3_stmt *stmt = NULL;
	int rc, i;

	*out = NULL;
	if ((rc = sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL)) != SQLITE_OK) {
		log_error("sqlite3_prepare_v2: %s (%.60s)", sqlite3_errmsg(st->db), sql);
		return store_rc_to_err(rc);
	}
	for (i = 0; fmt[i] != '\0'; i++) {
		switch (fmt[i]) {
		case 't': {
			const char *s = va_arg(ap, const char *);

			rc = s ? sqlite3_bind_text(stmt, i + 1, s, -1, SQLITE_TRANSIENT) :
			    sqlite3_bind_null(stmt, i + 1);
			break;
		}
		case 'i':
			rc = sqlite3_bind_int64(stmt, i + 1, va_arg(ap, int64_t));
			break;
		case 'b': {
			const void *p = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);

			rc = p ? sqlite3_bind_blob64(stmt, i + 1, p, n, SQLITE_TRANSIENT) :
			    sqlite3_bind_null(stmt, i + 1);
			break;
		}
		default:
			rc = SQLITE_MISUSE;
		}
		if (rc != SQLITE_OK) {
			log_error("sqlite3_bind (%d): %s", i + 1, sqlite3_errstr(rc));
			sqlite3_finalize(stmt);
			return store_rc_to_err(rc);
		}
	}
	*out = stmt;
	return 0;
}

/* store_run, store_int, store_query and store_row go through db.h on
 * both backends: on SQLite, through its cache of prepared statements. */
int
store_run(struct store *st, const char *sql, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = db_vrun(st->dbh, sql, fmt, ap);
	va_end(ap);
	return rc;
}

/* One row as a JSON object keyed by column name (store_query). */
static struct json_object *
db_row_to_json(struct db_stmt *q)
{
	struct json_object *row = json_object_new_object(), *v;
	const void *p;
	size_t len;
	char *hex;
	int i, n = db_column_count(q);

	for (i = 0; i < n; i++) {
		v = NULL;
		switch (db_column_type(q, i)) {
		case DB_TYPE_INT:
			v = json_object_new_int64(db_column_int64(q, i));
			break;
		case DB_TYPE_FLOAT:
			v = json_object_new_double(db_column_double(q, i));
			break;
		case DB_TYPE_TEXT:
			v = json_object_new_string(db_column_text(q, i));
			break;
		case DB_TYPE_BLOB:
			p = db_column_blob(q, i, &len);
			if ((hex = hex_encode(p, len)) != NULL)
				v = json_object_new_string(hex);
			free(hex);
			break;
		default:
			break;
		}
		json_object_object_add(row, db_column_name(q, i), v);
	}
	return row;
}

/* Every row (one: the first only) as a JSON array. */
static int
query_va(struct store *st, struct json_object **out, int one, const char *sql,
    const char *fmt, va_list ap)
{
	struct json_object *arr;
	struct db_stmt *q;
	int rc;

	*out = NULL;
	if ((rc = db_vstmt(st->dbh, &q, sql, fmt, ap)) != 0)
		return rc;
	arr = json_object_new_array();
	while ((rc = db_step(q)) == 1) {
		json_object_array_add(arr, db_row_to_json(q));
		if (one)
			break;
	}
	db_finalize(q);
	if (rc < 0) {
		json_object_put(arr);
		return rc;
	}
	if (!one) {
		*out = arr;
		return 0;
	}
	rc = json_object_array_length(arr) ? 0 : UKEY_ERR_NOTFOUND;
	if (rc == 0)
		*out = json_object_get(json_object_array_get_idx(arr, 0));
	json_object_put(arr);
	return rc;
}

int
store_query(struct store *st, struct json_object **out, const char *sql, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = query_va(st, out, 0, sql, fmt, ap);
	va_end(ap);
	return rc;
}

int
store_row(struct store *st, struct json_object **out, const char *sql, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = query_va(st, out, 1, sql, fmt, ap);
	va_end(ap);
	return rc;
}

int
store_int(struct store *st, int64_t *out, const char *sql, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = db_vint(st->dbh, out, sql, fmt, ap);
	va_end(ap);
	return rc;
}

int64_t
store_last_id(struct store *st)
{
	return db_last_id(st->dbh);
}

int
store_stmt(struct store *st, sqlite3_stmt **out, const char *sql, const char *fmt, ...)
{
	va_list ap;
	int rc;

	*out = NULL;
	if (st->db == NULL)
		return not_ported(sql);
	va_start(ap, fmt);
	rc = prepare_bind(st, out, sql, fmt, ap);
	va_end(ap);
	return rc;
}

int
store_step(struct store *st, sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	log_error("sqlite3_step: %s (%.60s)", sqlite3_errmsg(st->db), sqlite3_sql(stmt));
	return store_rc_to_err(rc);
}

char *
store_text(sqlite3_stmt *stmt, int col, int *rc)
{
	const unsigned char *t = sqlite3_column_text(stmt, col);
	char *copy;

	if (t == NULL)
		return NULL;
	if ((copy = strdup((const char *)t)) == NULL)
		*rc = UKEY_ERR_NOMEM;
	return copy;
}

int
store_changes(struct store *st)
{
	return (int)db_changes(st->dbh);
}

void *
store_array_add(void **a, size_t *n, size_t sz)
{
	char *p = realloc(*a, (*n + 1) * sz);

	if (p == NULL)
		return NULL;
	*a = p;
	memset(p + *n * sz, 0, sz);
	return p + (*n)++ * sz;
}
