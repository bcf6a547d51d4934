/* The embedded CA's database, ca.db: its migrations and every statement on
 * the issued list and the CRL numbers (store_ca.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/err.h"
#include "common/log.h"
#include "store/store.h"
#include "store/store_ca.h"

struct store_ca {
	sqlite3 *db;
	int version;
};

/* Version 1 is the table ca_embedded.c created before there were
 * migrations ("IF NOT EXISTS": such a database has it at user_version 1). */
static const char ca_migration_1[] =
	"CREATE TABLE IF NOT EXISTS issued ("
	" serial TEXT PRIMARY KEY,"		/* hex, upper case, no leading 00 */
	" request_key TEXT UNIQUE,"
	" subject TEXT NOT NULL,"		/* RFC 2253, UTF-8 */
	" not_before TEXT NOT NULL,"		/* ISO-8601 UTC */
	" not_after TEXT NOT NULL,"
	" status TEXT NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'revoked')),"
	" revoked_at TEXT,"
	" revoke_reason TEXT,"
	" der BLOB NOT NULL,"
	" issued_at TEXT NOT NULL);";

/* Every CRL signed: its number (RFC 5280 5.2.3, monotonically increasing)
 * and what it said. */
static const char ca_migration_2[] =
	"CREATE TABLE crls ("
	" number INTEGER PRIMARY KEY CHECK (number > 0),"
	" this_update TEXT NOT NULL,"
	" next_update TEXT NOT NULL,"
	" entries INTEGER NOT NULL CHECK (entries >= 0));"
	"CREATE INDEX issued_revoked ON issued(status, revoked_at);";

static const char *const ca_migrations[STORE_CA_VERSION] = { ca_migration_1, ca_migration_2 };

#define CERT_COLS "serial, request_key, subject, not_before, not_after, status, revoked_at," \
	" revoke_reason, issued_at"

static int
exec_sql(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		log_error("ca.db: %s (%.40s...)", msg ? msg : sqlite3_errstr(rc), sql);
		sqlite3_free(msg);
		return store_rc_to_err(rc);
	}
	return 0;
}

static int
read_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *q = NULL;
	int rc = UKEY_ERR_DB;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW) {
		*version = sqlite3_column_int(q, 0);
		rc = 0;
	} else {
		log_error("ca.db: PRAGMA user_version: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(q);
	return rc;
}

/* Applies the migrations past *version, each with its user_version in one
 * transaction. */
static int
migrate(sqlite3 *db, int *version)
{
	char sql[64];
	int rc;

	if ((rc = read_version(db, version)) != 0)
		return rc;
	if (*version > STORE_CA_VERSION) {
		log_error("ca.db: schema version %d is newer than this program's %d", *version,
		    STORE_CA_VERSION);
		return UKEY_ERR_DB;
	}
	while (*version < STORE_CA_VERSION) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d;", *version + 1);
		if ((rc = exec_sql(db, "BEGIN IMMEDIATE")) != 0)
			return rc;
		if ((rc = exec_sql(db, ca_migrations[*version])) != 0 ||
		    (rc = exec_sql(db, sql)) != 0 || (rc = exec_sql(db, "COMMIT")) != 0) {
			(void)exec_sql(db, "ROLLBACK");
			return rc;
		}
		(*version)++;
		log_info("ca.db: schema version %d", *version);
	}
	return 0;
}

/* A handle on ca.db opened with flags (how says which, for the log). */
static int
handle_open(const char *path, int flags, const char *how, struct store_ca **out)
{
	struct store_ca *c;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return UKEY_ERR_NOMEM;
	if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
		log_error("sqlite3_open_v2(%s%s): %s", path, how,
		    c->db ? sqlite3_errmsg(c->db) : "out of memory");
		store_ca_close(c);
		return UKEY_ERR_DB;
	}
	sqlite3_busy_timeout(c->db, 10000);
	*out = c;
	return 0;
}

int
store_ca_open(const char *path, struct store_ca **out)
{
	struct store_ca *c = NULL;
	int rc;

	*out = NULL;
	if ((rc = handle_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_FULLMUTEX, "", &c)) != 0)
		return rc;
	if ((rc = exec_sql(c->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")) != 0 ||
	    (rc = migrate(c->db, &c->version)) != 0)
		goto out;
	*out = c;
	c = NULL;
	rc = 0;
 out:
	store_ca_close(c);
	return rc != 0 && rc != UKEY_ERR_NOMEM ? UKEY_ERR_DB : rc;
}

int
store_ca_open_readonly(const char *path, struct store_ca **out)
{
	struct store_ca *c = NULL;
	int rc;

	*out = NULL;
	if ((rc = handle_open(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, ", read-only",
	    &c)) != 0)
		return rc;
	if ((rc = read_version(c->db, &c->version)) != 0)
		goto out;
	if (c->version < 1 || c->version > STORE_CA_VERSION) {
		log_error("%s: schema version %d; this program reads 1 to %d", path, c->version,
		    STORE_CA_VERSION);
		rc = UKEY_ERR_DB;
		goto out;
	}
	*out = c;
	c = NULL;
	rc = 0;
 out:
	store_ca_close(c);
	return rc;
}

void
store_ca_close(struct store_ca *db)
{
	if (db == NULL)
		return;
	sqlite3_close(db->db);
	free(db);
}

int
store_ca_version(struct store_ca *db)
{
	return db->version;
}

int
store_ca_begin(struct store_ca *db)
{
	return exec_sql(db->db, "BEGIN IMMEDIATE");
}

int
store_ca_commit(struct store_ca *db)
{
	return exec_sql(db->db, "COMMIT");
}

void
store_ca_rollback(struct store_ca *db)
{
	(void)exec_sql(db->db, "ROLLBACK");
}

/* Prepares sql and binds the text arguments (NULL binds NULL), up to 3. */
static int
prepare(struct store_ca *db, sqlite3_stmt **q, const char *sql, int n, const char *a,
    const char *b, const char *c)
{
	const char *v[3] = { a, b, c };
	int i;

	*q = NULL;
	if (sqlite3_prepare_v2(db->db, sql, -1, q, NULL) != SQLITE_OK) {
		log_error("ca.db: prepare (%.40s...): %s", sql, sqlite3_errmsg(db->db));
		return UKEY_ERR_DB;
	}
	for (i = 0; i < n; i++)
		if (sqlite3_bind_text(*q, i + 1, v[i], -1, SQLITE_STATIC) != SQLITE_OK) {
			log_error("ca.db: bind: %s", sqlite3_errmsg(db->db));
			sqlite3_finalize(*q);
			*q = NULL;
			return UKEY_ERR_DB;
		}
	return 0;
}

/* Steps q: 1 for a row, 0 when done, or an error (logged). */
static int
step(struct store_ca *db, sqlite3_stmt *q)
{
	int r = sqlite3_step(q);

	if (r == SQLITE_ROW)
		return 1;
	if (r == SQLITE_DONE)
		return 0;
	log_error("ca.db: %s", sqlite3_errmsg(db->db));
	return store_rc_to_err(r);
}

int
store_ca_insert(struct store_ca *db, const struct store_ca_new *c)
{
	sqlite3_stmt *q;
	int rc;

	if ((rc = prepare(db, &q, "INSERT INTO issued (serial, request_key, subject, not_before,"
	    " not_after, status, issued_at, der) VALUES (?, ?, ?, ?4, ?5, 'valid', ?6, ?7)", 3,
	    c->serial, c->request_key, c->subject)) != 0)
		return rc;
	if (sqlite3_bind_text(q, 4, c->not_before, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 5, c->not_after, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(q, 6, c->issued_at, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_blob(q, 7, c->der, (int)c->der_len, SQLITE_STATIC) != SQLITE_OK) {
		log_error("ca.db: bind: %s", sqlite3_errmsg(db->db));
		rc = UKEY_ERR_DB;
	} else {
		rc = step(db, q);
	}
	sqlite3_finalize(q);
	return rc;
}

static char *
col_text(sqlite3_stmt *q, int col, int *rc)
{
	const unsigned char *t = sqlite3_column_text(q, col);
	char *s;

	if (t == NULL)
		return NULL;
	if ((s = strdup((const char *)t)) == NULL)
		*rc = UKEY_ERR_NOMEM;
	return s;
}

/* Fills c from a row of CERT_COLS, and der from column 9 when with_der. */
static int
row_cert(sqlite3_stmt *q, struct store_ca_cert *c, int with_der)
{
	char **f[] = { &c->serial, &c->request_key, &c->subject, &c->not_before, &c->not_after,
		&c->status, &c->revoked_at, &c->revoke_reason, &c->issued_at };
	size_t i;
	int rc = 0, len;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		*f[i] = col_text(q, (int)i, &rc);
	if (with_der && (len = sqlite3_column_bytes(q, 9)) > 0) {
		if ((c->der = malloc((size_t)len)) == NULL)
			return UKEY_ERR_NOMEM;
		memcpy(c->der, sqlite3_column_blob(q, 9), (size_t)len);
		c->der_len = (size_t)len;
	}
	return rc;
}

static int
find_one(struct store_ca *db, const char *sql, const char *key, struct store_ca_cert *out)
{
	sqlite3_stmt *q;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = prepare(db, &q, sql, 1, key, NULL, NULL)) != 0)
		return rc;
	rc = step(db, q);
	if (rc == 1)
		rc = row_cert(q, out, 1);
	else if (rc == 0)
		rc = UKEY_ERR_NOTFOUND;
	sqlite3_finalize(q);
	if (rc != 0)
		store_ca_cert_clear(out);
	return rc;
}

int
store_ca_find_request(struct store_ca *db, const char *request_key, struct store_ca_cert *out)
{
	return find_one(db, "SELECT " CERT_COLS ", der FROM issued WHERE request_key = ?",
	    request_key, out);
}

int
store_ca_find_serial(struct store_ca *db, const char *serial, struct store_ca_cert *out)
{
	return find_one(db, "SELECT " CERT_COLS ", der FROM issued WHERE serial = ?", serial, out);
}

int
store_ca_revoke(struct store_ca *db, const char *serial, const char *reason, const char *at)
{
	sqlite3_stmt *q;
	int rc;

	if ((rc = prepare(db, &q, "UPDATE issued SET status = 'revoked', revoked_at = ?,"
	    " revoke_reason = ? WHERE serial = ? AND status = 'valid'", 3, at, reason, serial)) != 0)
		return rc;
	rc = step(db, q);
	sqlite3_finalize(q);
	if (rc != 0)
		return rc;
	if (sqlite3_changes(db->db) == 1)
		return 0;
	/* nothing changed: no such serial, or it was revoked before */
	if ((rc = prepare(db, &q, "SELECT 1 FROM issued WHERE serial = ?", 1, serial, NULL,
	    NULL)) != 0)
		return rc;
	rc = step(db, q);
	sqlite3_finalize(q);
	return rc == 1 ? UKEY_ERR_STATE : rc == 0 ? UKEY_ERR_NOTFOUND : rc;
}

static int
list_certs(struct store_ca *db, const char *sql, struct store_ca_cert **out, size_t *n)
{
	struct store_ca_cert *a = NULL, *c;
	sqlite3_stmt *q;
	size_t len = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = prepare(db, &q, sql, 0, NULL, NULL, NULL)) != 0)
		return rc;
	while ((rc = step(db, q)) == 1) {
		if ((c = store_array_add((void **)&a, &len, sizeof(*a))) == NULL) {
			rc = UKEY_ERR_NOMEM;
			break;
		}
		if ((rc = row_cert(q, c, 0)) != 0)
			break;
	}
	sqlite3_finalize(q);
	if (rc != 0) {
		store_ca_certs_free(a, len);
		return rc;
	}
	*out = a;
	*n = len;
	return 0;
}

int
store_ca_list(struct store_ca *db, struct store_ca_cert **out, size_t *n)
{
	return list_certs(db, "SELECT " CERT_COLS " FROM issued ORDER BY issued_at, rowid", out, n);
}

struct store_ca_walk {
	struct store_ca *db;
	sqlite3_stmt *q;
};

int
store_ca_walk_open(struct store_ca *db, struct store_ca_walk **out)
{
	struct store_ca_walk *w;
	int rc;

	*out = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return UKEY_ERR_NOMEM;
	w->db = db;
	/* serial is the primary key: its index gives the order, BINARY */
	if ((rc = prepare(db, &w->q, "SELECT " CERT_COLS " FROM issued ORDER BY serial", 0, NULL,
	    NULL, NULL)) != 0) {
		free(w);
		return rc;
	}
	*out = w;
	return 0;
}

int
store_ca_walk_next(struct store_ca_walk *w, struct store_ca_cert *c)
{
	int rc;

	store_ca_cert_clear(c);
	if ((rc = step(w->db, w->q)) != 1)
		return rc;
	if ((rc = row_cert(w->q, c, 0)) != 0) {
		store_ca_cert_clear(c);
		return rc;
	}
	return 1;
}

void
store_ca_walk_close(struct store_ca_walk *w)
{
	if (w == NULL)
		return;
	sqlite3_finalize(w->q);
	free(w);
}

int
store_ca_list_revoked(struct store_ca *db, struct store_ca_cert **out, size_t *n)
{
	/* what a CRL entry says, no more: the CA's lock is held while it reads */
	return list_certs(db, "SELECT serial, NULL, NULL, NULL, NULL, status, revoked_at,"
	    " revoke_reason, NULL FROM issued WHERE status = 'revoked' ORDER BY revoked_at, rowid",
	    out, n);
}

int
store_ca_crl_next(struct store_ca *db, const char *this_update, const char *next_update,
    int64_t entries, int64_t *number)
{
	sqlite3_stmt *q = NULL;
	int rc;

	*number = 0;
	if ((rc = prepare(db, &q, "INSERT INTO crls (number, this_update, next_update, entries)"
	    " SELECT coalesce(max(number), 0) + 1, ?, ?, ?3 FROM crls RETURNING number", 2,
	    this_update, next_update, NULL)) != 0)
		return rc;
	if (sqlite3_bind_int64(q, 3, entries) != SQLITE_OK) {
		rc = UKEY_ERR_DB;
		goto out;
	}
	if ((rc = step(db, q)) == 1) {
		*number = sqlite3_column_int64(q, 0);
		rc = step(db, q) < 0 ? UKEY_ERR_DB : 0;
	} else if (rc == 0) {
		rc = UKEY_ERR_DB;
	}
 out:
	sqlite3_finalize(q);
	return rc;
}

void
store_ca_cert_clear(struct store_ca_cert *c)
{
	if (c == NULL)
		return;
	free(c->serial);
	free(c->request_key);
	free(c->subject);
	free(c->not_before);
	free(c->not_after);
	free(c->status);
	free(c->revoked_at);
	free(c->revoke_reason);
	free(c->issued_at);
	free(c->der);
	memset(c, 0, sizeof(*c));
}

void
store_ca_certs_free(struct store_ca_cert *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		store_ca_cert_clear(&a[i]);
	free(a);
}
