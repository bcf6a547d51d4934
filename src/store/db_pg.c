/* The PostgreSQL backend of db.h, through libpq: `?` placeholders become
 * `$n`, parameters go as text (integers typed int8, blobs as binary bytea),
 * results come as text; each statement runs as one PQexecParams. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "store/db_impl.h"

#define INT8OID 20
#define BYTEAOID 17
#define MAXPARAMS 64

struct pg_stmt {
	char *sql;		/* translated */
	int nparams;
	Oid types[MAXPARAMS];
	char *vals[MAXPARAMS];
	int lens[MAXPARAMS], fmts[MAXPARAMS];
	PGresult *res;
	int row, nrows;
	unsigned char *blob;	/* the last column unescaped by pg_blob */
};

/* SQLSTATE classes to UKEY_ERR_*: integrity constraint violations are
 * UKEY_ERR_EXISTS as SQLite's SQLITE_CONSTRAINT is; serialization failures
 * and lock timeouts BUSY; a lost connection UNAVAIL. */
static int
state_to_err(const char *st)
{
	if (st == NULL)
		return UKEY_ERR_UNAVAIL;	/* no server answer at all */
	if (strncmp(st, "23", 2) == 0)
		return UKEY_ERR_EXISTS;
	if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 || strcmp(st, "55P03") == 0)
		return UKEY_ERR_BUSY;
	if (strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0)
		return UKEY_ERR_UNAVAIL;
	if (strcmp(st, "42501") == 0)
		return UKEY_ERR_PERM;
	return UKEY_ERR_DB;
}

/* Logs a failed result once and maps it; frees nothing. */
static int
result_err(PGconn *c, PGresult *res, const char *sql)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(c);
	size_t n = strlen(msg);

	while (n > 0 && msg[n - 1] == '\n')
		n--;
	log_error("postgresql: %.*s [%s] (%.60s)", (int)n, msg, st ? st : "no sqlstate", sql);
	return state_to_err(st);
}

char *
db_url_redacted(const char *url)
{
	PQconninfoOption *opts, *o;
	char *err = NULL, *out = NULL;
	size_t len = 0;
	int first = 1;
	FILE *f;

	if ((opts = PQconninfoParse(url, &err)) == NULL) {
		PQfreemem(err);
		return NULL;
	}
	if ((f = open_memstream(&out, &len)) != NULL) {
		for (o = opts; o->keyword != NULL; o++)
			if (o->val != NULL && o->val[0] != '\0' && strcmp(o->keyword, "password") != 0) {
				fprintf(f, "%s%s=%s", first ? "" : " ", o->keyword, o->val);
				first = 0;
			}
		fclose(f);
	}
	PQconninfoFree(opts);
	return out;
}

/* A password in the url would sit in a configuration file or an argv:
 * refused, libpq's own password file is the place for it. */
static int
check_no_password(const char *url)
{
	PQconninfoOption *opts, *o;
	char *err = NULL;
	int rc = 0;

	if ((opts = PQconninfoParse(url, &err)) == NULL) {
		log_error("store url: not a PostgreSQL URL or conninfo: %s",
		    err ? err : "out of memory");
		PQfreemem(err);
		return UKEY_ERR_INVAL;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0') {
			log_error("store url: a password in the url is refused; put it in a"
			    " password file (PGPASSFILE, ~/.pgpass or the service's passfile)");
			rc = UKEY_ERR_INVAL;
		}
	PQconninfoFree(opts);
	return rc;
}

/* The server's notices ("... already exists, skipping") go to the log at
 * debug level rather than libpq's default, stderr. */
static void
notice(void *arg, const char *msg)
{
	size_t n = strlen(msg);

	while (n > 0 && msg[n - 1] == '\n')
		n--;
	log_debug("postgresql: %.*s", (int)n, msg);
}

int
pgb_open(const char *url, struct db *db)
{
	char *shown;
	int rc;

	if ((rc = check_no_password(url)) != 0)
		return rc;
	/* the environment is readable in /proc by the same user: libpq would
	 * take it, the station does not */
	if (getenv("PGPASSWORD") != NULL) {
		log_error("PGPASSWORD is set: refused; put the password in a password file"
		    " (PGPASSFILE, ~/.pgpass or the service's passfile)");
		return UKEY_ERR_INVAL;
	}
	shown = db_url_redacted(url);
	db->pg = PQconnectdb(url);
	if (db->pg == NULL || PQstatus(db->pg) != CONNECTION_OK) {
		const char *m = db->pg ? PQerrorMessage(db->pg) : "out of memory";
		size_t n = strlen(m);

		while (n > 0 && m[n - 1] == '\n')
			n--;
		log_error("PQconnectdb %s: %.*s", shown ? shown : "(url)", (int)n, m);
		free(shown);
		return UKEY_ERR_UNAVAIL;
	}
	log_info("connected to PostgreSQL %s (server %d)", shown ? shown : "",
	    PQserverVersion(db->pg));
	free(shown);
	PQsetNoticeProcessor(db->pg, notice, NULL);
	/* times the store writes are UTC; notices go to our log, not stderr */
	return pgb_exec(db, "SET TIME ZONE 'UTC'");
}

int
pgb_reconnect(struct db *db)
{
	PQreset(db->pg);
	if (PQstatus(db->pg) != CONNECTION_OK) {
		log_warn("PQreset: the server is still away");
		return UKEY_ERR_UNAVAIL;
	}
	log_info("connected to PostgreSQL again");
	return pgb_exec(db, "SET TIME ZONE 'UTC'");
}

int
pgb_lost(struct db *db, char *why, size_t len)
{
	const char *m;
	size_t n;

	if (db->pg != NULL && PQstatus(db->pg) == CONNECTION_OK)
		return 0;
	/* libpq's message may run over lines: the first says what happened */
	m = db->pg ? PQerrorMessage(db->pg) : "no connection";
	for (n = 0; m[n] != '\0' && m[n] != '\n'; n++)
		;
	snprintf(why, len, "%.*s", (int)n, n > 0 ? m : "connection lost");
	return 1;
}

int
pgb_exec(struct db *db, const char *sql)
{
	PGresult *res = PQexec(db->pg, sql);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	int rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		rc = result_err(db->pg, res, sql);
	else
		db->changes = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return rc;
}

/* Copies a quoted run ('...' or "...", doubled quotes inside) from *s. */
static void
copy_quoted(const char **s, FILE *f)
{
	char q = **s;

	fputc(*(*s)++, f);
	while (**s != '\0') {
		if (**s == q && (*s)[1] == q) {
			fputc(*(*s)++, f);
		} else if (**s == q) {
			fputc(*(*s)++, f);
			return;
		}
		fputc(*(*s)++, f);
	}
}

char *
db_pg_translate(const char *sql, int *nparams)
{
	char *out = NULL;
	size_t len = 0;
	int next = 0, max = 0, k;
	FILE *f;

	if ((f = open_memstream(&out, &len)) == NULL)
		return NULL;
	while (*sql != '\0') {
		if (*sql == '\'' || *sql == '"') {
			copy_quoted(&sql, f);
		} else if (*sql == '?') {
			sql++;
			if (*sql >= '0' && *sql <= '9') {
				k = (int)strtol(sql, (char **)&sql, 10);
				next = k;
			} else {
				k = ++next;
			}
			max = k > max ? k : max;
			fprintf(f, "$%d", k);
		} else {
			fputc(*sql++, f);
		}
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	*nparams = max;
	return out;
}

int
pgb_prepare(struct db *db, const char *sql, struct db_stmt *q)
{
	struct pg_stmt *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return UKEY_ERR_NOMEM;
	if ((p->sql = db_pg_translate(sql, &p->nparams)) == NULL) {
		free(p);
		return UKEY_ERR_NOMEM;
	}
	if (p->nparams > MAXPARAMS) {
		log_error("statement has %d parameters, at most %d (%.60s)", p->nparams,
		    MAXPARAMS, sql);
		free(p->sql);
		free(p);
		return UKEY_ERR_INVAL;
	}
	p->row = -1;
	q->pg = p;
	return 0;
}

int
pgb_bind(struct db_stmt *q, int idx, int type, int64_t v, const void *data, size_t n)
{
	struct pg_stmt *p = q->pg;
	char num[24];

	if (idx < 1 || idx > p->nparams) {
		log_error("parameter %d out of range 1..%d (%.60s)", idx, p->nparams, p->sql);
		return UKEY_ERR_INVAL;
	}
	idx--;
	free(p->vals[idx]);
	p->vals[idx] = NULL;
	p->types[idx] = 0;	/* text: the server infers the type from the context */
	p->lens[idx] = 0;
	p->fmts[idx] = 0;
	if (type == DB_T_INT) {
		snprintf(num, sizeof(num), "%lld", (long long)v);
		data = num;
		n = strlen(num);
		p->types[idx] = INT8OID;
	} else if (type == DB_T_BLOB) {
		p->types[idx] = BYTEAOID;
		p->fmts[idx] = 1;
	} else if (type == DB_T_NULL) {
		return 0;
	}
	if ((p->vals[idx] = malloc(n + 1)) == NULL)
		return UKEY_ERR_NOMEM;
	memcpy(p->vals[idx], data, n);
	p->vals[idx][n] = '\0';
	p->lens[idx] = (int)n;
	return 0;
}

static int
run(struct db_stmt *q)
{
	struct pg_stmt *p = q->pg;
	ExecStatusType st;

	p->res = PQexecParams(q->db->pg, p->sql, p->nparams, p->types,
	    (const char *const *)p->vals, p->lens, p->fmts, 0);
	st = p->res ? PQresultStatus(p->res) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return result_err(q->db->pg, p->res, p->sql);
	q->db->changes = strtoll(PQcmdTuples(p->res), NULL, 10);
	p->nrows = PQntuples(p->res);
	return 0;
}

int
pgb_step(struct db_stmt *q)
{
	struct pg_stmt *p = q->pg;
	int rc;

	if (p->res == NULL && (rc = run(q)) != 0)
		return rc;
	PQfreemem(p->blob);
	p->blob = NULL;
	if (p->row + 1 >= p->nrows)
		return 0;
	p->row++;
	return 1;
}

int
pgb_is_null(struct db_stmt *q, int col)
{
	return PQgetisnull(q->pg->res, q->pg->row, col);
}

int64_t
pgb_int64(struct db_stmt *q, int col)
{
	const char *v = PQgetvalue(q->pg->res, q->pg->row, col);

	if (v[0] == 't' || v[0] == 'f')	/* boolean */
		return v[0] == 't';
	return strtoll(v, NULL, 10);
}

const char *
pgb_text(struct db_stmt *q, int col)
{
	if (PQgetisnull(q->pg->res, q->pg->row, col))
		return NULL;
	return PQgetvalue(q->pg->res, q->pg->row, col);
}

const void *
pgb_blob(struct db_stmt *q, int col, size_t *len)
{
	struct pg_stmt *p = q->pg;

	*len = 0;
	if (PQgetisnull(p->res, p->row, col))
		return NULL;
	if (PQftype(p->res, col) != BYTEAOID) {
		/* a text column read as bytes, as sqlite3_column_blob allows */
		*len = (size_t)PQgetlength(p->res, p->row, col);
		return PQgetvalue(p->res, p->row, col);
	}
	PQfreemem(p->blob);
	/* bytea as text is "\x" and hex digits */
	p->blob = PQunescapeBytea((const unsigned char *)PQgetvalue(p->res, p->row, col), len);
	return p->blob;
}

int
pgb_column_count(struct db_stmt *q)
{
	int rc;

	/* the shape is known once the statement ran */
	if (q->pg->res == NULL && (rc = run(q)) != 0)
		return 0;
	return PQnfields(q->pg->res);
}

const char *
pgb_column_name(struct db_stmt *q, int col)
{
	return q->pg->res ? PQfname(q->pg->res, col) : NULL;
}

enum db_type
pgb_column_type(struct db_stmt *q, int col)
{
	struct pg_stmt *p = q->pg;

	if (PQgetisnull(p->res, p->row, col))
		return DB_TYPE_NULL;
	switch (PQftype(p->res, col)) {
	case 16: case 20: case 21: case 23: case 26:	/* bool, int8, int2, int4, oid */
		return DB_TYPE_INT;
	case 700: case 701:				/* float4, float8 */
		return DB_TYPE_FLOAT;
	case 1700:	/* numeric: sum() of bigint is one; whole values stay integers */
		return strchr(PQgetvalue(p->res, p->row, col), '.') ? DB_TYPE_FLOAT : DB_TYPE_INT;
	case BYTEAOID:
		return DB_TYPE_BLOB;
	default:
		return DB_TYPE_TEXT;
	}
}

void
pgb_finalize(struct db_stmt *q)
{
	struct pg_stmt *p = q->pg;
	int i;

	if (p == NULL)
		return;
	for (i = 0; i < MAXPARAMS; i++)
		free(p->vals[i]);
	PQclear(p->res);
	PQfreemem(p->blob);
	free(p->sql);
	free(p);
}
