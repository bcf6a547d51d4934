/* Jobs, their journal and the tokens they initialised, on either backend
 * (db.h): every statement on jobs, job_steps and tokens (received
 * certificates and issuances are in store_issuances.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "store/db.h"
#include "store/store_jobs.h"

/* A copy of a blob column into *out (NULL when NULL or empty). */
static void
blob_col(struct db_stmt *q, int col, uint8_t **out, size_t *len, int *rc)
{
	size_t n = 0;
	const void *p = db_column_blob(q, col, &n);

	*out = NULL;
	*len = 0;
	if (p == NULL || n == 0)
		return;
	if ((*out = malloc(n)) == NULL) {
		*rc = UKEY_ERR_NOMEM;
		return;
	}
	memcpy(*out, p, n);
	*len = n;
}

void
store_job_source_clear(struct store_job_source *s)
{
	free(s->kind);
	free(s->item_name);
	free(s->cert_profile);
	free(s->portal_ref);
	free(s->account_uscc);
	free(s->doc_sealed);
	free(s->order_type);
	free(s->replaces_cert);
	memset(s, 0, sizeof(*s));
}

/* The item and order columns SOURCE_COLS names, from column `at` of q on. */
#define SOURCE_COLS "u.item_id, o.id, i.years, i.kind, i.name, i.cert_profile, o.portal_ref," \
    " o.account_uscc, o.doc_sealed, o.type, o.replaces_cert FROM units u JOIN order_items i ON i.id = u.item_id" \
    " JOIN orders o ON o.id = i.order_id"

static void
source_row(struct db_stmt *q, int at, struct store_job_source *s, int *rc)
{
	s->item_id = db_column_int64(q, at);
	s->order_id = db_column_int64(q, at + 1);
	s->years = db_column_int64(q, at + 2);
	s->kind = db_column_dup(q, at + 3, rc);
	s->item_name = db_column_dup(q, at + 4, rc);
	s->cert_profile = db_column_dup(q, at + 5, rc);
	s->portal_ref = db_column_dup(q, at + 6, rc);
	s->account_uscc = db_column_dup(q, at + 7, rc);
	blob_col(q, at + 8, &s->doc_sealed, &s->doc_sealed_len, rc);
	s->order_type = db_column_dup(q, at + 9, rc);
	s->replaces_cert = db_column_dup(q, at + 10, rc);
}

int
store_job_unit_source(struct store *st, int64_t unit_id, struct store_job_source *out)
{
	struct db_stmt *q;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT " SOURCE_COLS " WHERE u.id = ?", "i",
	    unit_id)) != 0)
		return rc;
	if ((rc = db_step(q)) == 1) {
		rc = 0;
		source_row(q, 0, out, &rc);
	} else if (rc == 0) {
		rc = UKEY_ERR_NOTFOUND;
	}
	db_finalize(q);
	if (rc != 0)
		store_job_source_clear(out);
	return rc;
}

/* The text columns of a job, in the order JOB_COLS reads them. */
#define JOB_TEXTS 19
static void
job_texts(struct store_job *j, char **t[JOB_TEXTS])
{
	char **a[JOB_TEXTS] = { &j->bay, &j->profile, &j->token_serial, &j->step, &j->state,
		&j->key_id, &j->key_alg, &j->evidence, &j->label, &j->request_key, &j->cert_serial,
		&j->error, &j->operator_name, &j->started_at, &j->updated_at, &j->finished_at,
		&j->kind, &j->renews_serial, &j->old_key_id };

	memcpy(t, a, sizeof(a));
}

void
store_job_clear(struct store_job *j)
{
	char **text[JOB_TEXTS];
	uint8_t **blob[] = { &j->public_key, &j->user_pin_enc, &j->so_pin_enc, &j->subject,
		&j->csr, &j->cert };
	size_t i;

	job_texts(j, text);
	for (i = 0; i < JOB_TEXTS; i++)
		free(*text[i]);
	for (i = 0; i < sizeof(blob) / sizeof(blob[0]); i++)
		free(*blob[i]);
	store_job_source_clear(&j->src);
	memset(j, 0, sizeof(*j));
}

/* The jobs columns job_row reads, in its order; SOURCE_COLS follow. */
#define JOB_COLS "j.id, j.unit_id, j.token_id, j.resumed, j.bay, j.profile, j.token_serial," \
    " j.step, j.state, j.key_id, j.key_alg, j.evidence, j.label, j.request_key," \
    " j.cert_serial, j.error, j.operator, j.started_at, j.updated_at, j.finished_at," \
    " j.kind, j.renews_serial, j.old_key_id, j.public_key, j.user_pin_enc, j.so_pin_enc, j.subject, j.csr, j.cert"

static void
job_row(struct db_stmt *q, struct store_job *j, int *rc)
{
	char **text[JOB_TEXTS];
	struct { uint8_t **p; size_t *len; } blob[] = {
		{ &j->public_key, &j->public_key_len }, { &j->user_pin_enc, &j->user_pin_enc_len },
		{ &j->so_pin_enc, &j->so_pin_enc_len }, { &j->subject, &j->subject_len },
		{ &j->csr, &j->csr_len }, { &j->cert, &j->cert_len },
	};
	int col = 4;
	size_t i;

	job_texts(j, text);
	j->id = db_column_int64(q, 0);
	j->unit_id = db_column_int64(q, 1);
	j->token_id = db_column_int64(q, 2);
	j->resumed = db_column_int64(q, 3);
	for (i = 0; i < JOB_TEXTS; i++)
		*text[i] = db_column_dup(q, col++, rc);
	for (i = 0; i < sizeof(blob) / sizeof(blob[0]); i++)
		blob_col(q, col++, blob[i].p, blob[i].len, rc);
	source_row(q, col, &j->src, rc);
}

int
store_job_load(struct store *st, int64_t id, struct store_job *out)
{
	struct db_stmt *q;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT " JOB_COLS ", " SOURCE_COLS " JOIN jobs j"
	    " ON j.unit_id = u.id WHERE j.id = ?", "i", id)) != 0)
		return rc;
	if ((rc = db_step(q)) == 1) {
		rc = 0;
		job_row(q, out, &rc);
	} else if (rc == 0) {
		rc = UKEY_ERR_NOTFOUND;
	}
	db_finalize(q);
	if (rc != 0)
		store_job_clear(out);
	return rc;
}

int
store_job_insert(struct store *st, const struct store_job_new *j, const char *now, int64_t *id)
{
	*id = 0;
	return db_insert_id(store_dbh(st), id, "INSERT INTO jobs (unit_id, bay, profile,"
	    " token_serial, step, state, key_alg, subject, label, operator, started_at, updated_at,"
	    " kind, renews_serial)"
	    " VALUES (?, ?, ?, ?, 'claimed', 'running', ?, ?, ?, ?, ?, ?, ?, ?)", "ittttbtttttt",
	    j->unit_id, j->bay, j->profile, j->token_serial, j->key_alg, j->subject,
	    j->subject_len, j->label, j->operator_name, now, now, j->kind ? j->kind : "issue",
	    j->renews_serial);
}

int
store_job_set_old_key(struct store *st, int64_t id, const char *old_key_id)
{
	return store_run(st, "UPDATE jobs SET old_key_id = ? WHERE id = ?", "ti", old_key_id, id);
}

int
store_job_set_pins(struct store *st, int64_t id, const uint8_t *so, size_t so_len,
    const uint8_t *user, size_t user_len)
{
	return store_run(st, "UPDATE jobs SET so_pin_enc = ?, user_pin_enc = ? WHERE id = ?",
	    "bbi", so, so_len, user, user_len, id);
}

int
store_job_step_mark(struct store *st, int64_t id, const char *step, const char *phase,
    const char *detail, const char *now)
{
	int rc;

	if ((rc = store_run(st, "UPDATE jobs SET step = ?, updated_at = ? WHERE id = ?", "tti",
	    step, now, id)) != 0)
		return rc;
	return store_run(st, "INSERT INTO job_steps (job_id, step, phase, at, detail)"
	    " VALUES (?, ?, ?, ?, ?)", "itttt", id, step, phase, now, detail);
}

void
store_job_step_clear(struct store_job_step *s)
{
	free(s->step);
	free(s->phase);
	free(s->detail);
	memset(s, 0, sizeof(*s));
}

int
store_job_last_step(struct store *st, int64_t id, struct store_job_step *out)
{
	struct db_stmt *q;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT step, phase, detail FROM job_steps"
	    " WHERE job_id = ? ORDER BY id DESC LIMIT 1", "i", id)) != 0)
		return rc;
	if ((rc = db_step(q)) == 1) {
		rc = 0;
		out->step = db_column_dup(q, 0, &rc);
		out->phase = db_column_dup(q, 1, &rc);
		out->detail = db_column_dup(q, 2, &rc);
	} else if (rc == 0) {
		rc = UKEY_ERR_NOTFOUND;
	}
	db_finalize(q);
	if (rc != 0)
		store_job_step_clear(out);
	return rc;
}

int
store_job_end(struct store *st, int64_t id, const char *state, const char *why, const char *now)
{
	return store_run(st, "UPDATE jobs SET state = ?, error = ?, user_pin_enc = NULL,"
	    " so_pin_enc = NULL, updated_at = ?, finished_at = ? WHERE id = ?", "tttti",
	    state, why, now, now, id);
}

int
store_job_issued(struct store *st, int64_t id, const char *now)
{
	return store_run(st, "UPDATE jobs SET state = 'issued', step = 'issued',"
	    " user_pin_enc = NULL, so_pin_enc = NULL, updated_at = ?, finished_at = ?"
	    " WHERE id = ?", "tti", now, now, id);
}

int
store_job_suspend(struct store *st, int64_t id, const char *why, const char *now)
{
	return store_run(st, "UPDATE jobs SET state = 'suspended', error = ?, updated_at = ?"
	    " WHERE id = ? AND state = 'running'", "tti", why, now, id);
}

int
store_job_resume(struct store *st, int64_t id, const char *bay, const char *now)
{
	return store_run(st, "UPDATE jobs SET state = 'running', bay = ?, error = NULL,"
	    " resumed = resumed + 1, updated_at = ? WHERE id = ? AND state = 'suspended'", "tti",
	    bay, now, id);
}

int
store_job_is_suspended(struct store *st, int64_t id, int *yes)
{
	int64_t n = 0;
	int rc;

	*yes = 0;
	if ((rc = store_int(st, &n, "SELECT count(*) FROM jobs WHERE id = ? AND"
	    " state = 'suspended'", "i", id)) != 0)
		return rc;
	*yes = n > 0;
	return 0;
}

/* On a shared database a suspended job whose unit another station holds
 * (its lease, pinned when that station's lease lapsed mid-job) is that
 * station's: its token is in that station's bay, and device descriptions
 * ("virtual token 0003", a USB port) repeat from station to station. The
 * clause binds the station id as its last parameter; SQLite has one
 * station and no leases. */
#define NOT_ELSEWHERE " AND NOT EXISTS (SELECT 1 FROM unit_leases l" \
	" WHERE l.unit_id = j.unit_id AND l.station_id <> ?)"

static int
shared(struct store *st, const char *station_id)
{
	return station_id != NULL && db_backend(store_dbh(st)) == DB_PG;
}

#define SUSPENDED_BY_SERIAL "SELECT id FROM jobs j WHERE state = 'suspended'" \
	" AND profile = ? AND token_serial = ?"

int
store_job_suspended_by_serial(struct store *st, const char *station_id, const char *profile,
    const char *serial, int64_t *id)
{
	if (shared(st, station_id))
		return store_int(st, id, SUSPENDED_BY_SERIAL NOT_ELSEWHERE
		    " ORDER BY id DESC LIMIT 1", "ttt", profile, serial, station_id);
	return store_int(st, id, SUSPENDED_BY_SERIAL " ORDER BY id DESC LIMIT 1", "tt", profile,
	    serial);
}

#define SUSPENDED_BLANK "SELECT id FROM jobs j WHERE state = 'suspended'" \
	" AND profile = ? AND token_serial IS NULL AND (NOT EXISTS (SELECT 1 FROM" \
	" job_steps x WHERE x.job_id = j.id AND x.step = 'init_token') OR EXISTS" \
	" (SELECT 1 FROM job_steps x WHERE x.job_id = j.id AND x.step = 'init_token'" \
	" AND x.phase = 'begin' AND x.detail = ?))"

int
store_job_suspended_blank(struct store *st, const char *station_id, const char *profile,
    const char *device, int64_t *id)
{
	if (shared(st, station_id))
		return store_int(st, id, SUSPENDED_BLANK NOT_ELSEWHERE " ORDER BY id LIMIT 1",
		    "ttt", profile, device, station_id);
	return store_int(st, id, SUSPENDED_BLANK " ORDER BY id LIMIT 1", "tt", profile, device);
}

#define SUSPENDED_BY_LABEL "SELECT id FROM jobs j WHERE state = 'suspended'" \
	" AND profile = ? AND token_serial IS NULL AND label = ? AND EXISTS (SELECT 1 FROM" \
	" job_steps x WHERE x.job_id = j.id AND x.step = 'init_token' AND x.phase = 'begin'" \
	" AND x.detail = ?)"

int
store_job_suspended_by_label(struct store *st, const char *station_id, const char *profile,
    const char *label, const char *device, int64_t *id)
{
	if (shared(st, station_id))
		return store_int(st, id, SUSPENDED_BY_LABEL NOT_ELSEWHERE
		    " ORDER BY id DESC LIMIT 1", "tttt", profile, label, device, station_id);
	return store_int(st, id, SUSPENDED_BY_LABEL " ORDER BY id DESC LIMIT 1", "ttt", profile,
	    label, device);
}

int
store_job_suspended_elsewhere(struct store *st, const char *station_id, const char *profile,
    const char *serial, int64_t *id, char *station, size_t len)
{
	struct db_stmt *q;
	int rc;

	*id = 0;
	if (!shared(st, station_id))
		return UKEY_ERR_NOTFOUND;
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT j.id, l.station_id FROM jobs j"
	    " JOIN unit_leases l ON l.unit_id = j.unit_id WHERE j.state = 'suspended'"
	    " AND j.profile = ? AND j.token_serial = ? AND l.station_id <> ?"
	    " ORDER BY j.id DESC LIMIT 1", "ttt", profile, serial, station_id)) != 0)
		return rc;
	if ((rc = db_step(q)) == 1) {
		*id = db_column_int64(q, 0);
		snprintf(station, len, "%s", db_column_text(q, 1));
		rc = 0;
	} else if (rc == 0) {
		rc = UKEY_ERR_NOTFOUND;
	}
	db_finalize(q);
	return rc;
}

void
store_job_refs_free(struct store_job_ref *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		free(a[i].step);
	free(a);
}

int
store_jobs_running(struct store *st, const char *station_id, struct store_job_ref **out,
    size_t *n)
{
	struct store_job_ref *a = NULL, *r;
	struct db_stmt *q;
	size_t len = 0;
	int rc;

	*out = NULL;
	*n = 0;
	/* on a shared database, not the jobs whose units another station holds */
	if (shared(st, station_id))
		rc = db_stmtf(store_dbh(st), &q, "SELECT id, step FROM jobs WHERE state = 'running'"
		    " AND NOT EXISTS (SELECT 1 FROM unit_leases l WHERE l.unit_id = jobs.unit_id"
		    " AND l.station_id <> ?)", "t", station_id);
	else
		rc = db_stmtf(store_dbh(st), &q, "SELECT id, step FROM jobs WHERE state = 'running'",
		    "");
	if (rc != 0)
		return rc;
	while ((rc = db_step(q)) == 1) {
		if ((r = store_array_add((void **)&a, &len, sizeof(*a))) == NULL) {
			rc = UKEY_ERR_NOMEM;
			break;
		}
		rc = 0;
		r->id = db_column_int64(q, 0);
		r->step = db_column_dup(q, 1, &rc);
		if (rc != 0)
			break;
	}
	db_finalize(q);
	if (rc != 0) {
		store_job_refs_free(a, len);
		return rc;
	}
	*out = a;
	*n = len;
	return 0;
}

int
store_job_set_token(struct store *st, int64_t id, const char *profile, const char *serial)
{
	return store_run(st, "UPDATE jobs SET token_id = (SELECT id FROM tokens WHERE"
	    " profile = ? AND serial = ?), token_serial = ?, so_pin_enc = NULL WHERE id = ?",
	    "ttti", profile, serial, serial, id);
}

int
store_job_set_key_id(struct store *st, int64_t id, const char *key_id)
{
	return store_run(st, "UPDATE jobs SET key_id = ? WHERE id = ?", "ti", key_id, id);
}

int
store_job_set_public_key(struct store *st, int64_t id, const uint8_t *der, size_t len,
    const char *evidence)
{
	return store_run(st, "UPDATE jobs SET public_key = ?, evidence = ? WHERE id = ?", "bti",
	    der, len, evidence, id);
}

int
store_job_set_csr(struct store *st, int64_t id, const uint8_t *der, size_t len)
{
	return store_run(st, "UPDATE jobs SET csr = ? WHERE id = ?", "bi", der, len, id);
}

int
store_job_set_cert(struct store *st, int64_t id, const uint8_t *der, size_t len,
    const char *serial, const char *request_key)
{
	return store_run(st, "UPDATE jobs SET cert = ?, cert_serial = ?, request_key = ?"
	    " WHERE id = ?", "btti", der, len, serial, request_key, id);
}

int
store_token_upsert(struct store *st, const struct store_token_seen *t, const char *now)
{
	return store_run(st, "INSERT INTO tokens (profile, serial, model, manufacturer, label,"
	    " so_pin_enc, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
	    " ON CONFLICT (profile, serial) DO UPDATE SET so_pin_enc = excluded.so_pin_enc,"
	    " label = excluded.label, last_seen = excluded.last_seen", "tttttbtt", t->profile,
	    t->serial, t->model, t->manufacturer, t->label, t->so_pin_enc, t->so_pin_enc_len,
	    now, now);
}

int
store_token_known_count(struct store *st, const char *profile, const char *serial, int64_t *n)
{
	return store_int(st, n, "SELECT count(*) FROM tokens WHERE profile = ? AND serial = ?",
	    "tt", profile, serial);
}

void
store_token_known_clear(struct store_token_known *t)
{
	free(t->issued);
	memset(t, 0, sizeof(*t));
}

int
store_token_lookup(struct store *st, const char *profile, const char *serial,
    struct store_token_known *out)
{
	struct db_stmt *q;
	char sql[320];
	int rc;

	memset(out, 0, sizeof(*out));
	/* string_agg is SQLite's only from 3.44 (Debian 12 has 3.40) */
	snprintf(sql, sizeof(sql), "SELECT t.id, t.so_pin_enc IS NOT NULL, (SELECT %s FROM"
	    " issuances WHERE token_serial = t.serial AND token_profile = t.profile)"
	    " FROM tokens t WHERE t.profile = ? AND t.serial = ?",
	    db_backend(store_dbh(st)) == DB_PG ? "string_agg(cert_serial, ',' ORDER BY id)" :
	    "group_concat(cert_serial)");
	if ((rc = db_stmtf(store_dbh(st), &q, sql, "tt", profile, serial)) != 0)
		return rc;
	if ((rc = db_step(q)) == 1) {
		rc = 0;
		out->id = db_column_int64(q, 0);
		out->have_so = db_column_int64(q, 1) != 0;
		out->issued = db_column_dup(q, 2, &rc);
	} else if (rc == 0) {
		rc = UKEY_ERR_NOTFOUND;
	}
	db_finalize(q);
	if (rc != 0)
		store_token_known_clear(out);
	return rc;
}

/* Copies the one blob column of q's one row into *out (NOTFOUND when the
 * row is missing or the blob NULL). */
static int
blob_row(struct db_stmt *q, uint8_t **out, size_t *len)
{
	const void *p;
	size_t n = 0;
	int rc;

	if ((rc = db_step(q)) == 0)
		rc = UKEY_ERR_NOTFOUND;
	if (rc != 1)
		goto out;
	p = db_column_blob(q, 0, &n);
	if (p == NULL || n == 0) {
		rc = UKEY_ERR_NOTFOUND;
		goto out;
	}
	if ((*out = malloc(n)) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	memcpy(*out, p, n);
	*len = n;
	rc = 0;
 out:
	db_finalize(q);
	return rc;
}

int
store_token_so_pin(struct store *st, const char *profile, const char *serial, uint8_t **out,
    size_t *len)
{
	struct db_stmt *q;
	int rc;

	*out = NULL;
	*len = 0;
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT so_pin_enc FROM tokens WHERE profile = ?"
	    " AND serial = ? AND so_pin_enc IS NOT NULL", "tt", profile, serial)) != 0)
		return rc;
	return blob_row(q, out, len);
}

int
store_token_so_pin_by_id(struct store *st, int64_t id, uint8_t **out, size_t *len)
{
	struct db_stmt *q;
	int rc;

	*out = NULL;
	*len = 0;
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT so_pin_enc FROM tokens WHERE id = ?", "i",
	    id)) != 0)
		return rc;
	return blob_row(q, out, len);
}

/* ---- the CA transaction a job polls (job_ca_txns, migration 13) ---- */

int
store_job_ca_txn_set(struct store *st, int64_t id, const struct store_ca_txn *t, const char *now)
{
	if (t->tid_len == 0 || t->tid_len > sizeof(t->tid) || t->nonce_len > sizeof(t->nonce) ||
	    t->check_after < 0)
		return UKEY_ERR_INVAL;
	return store_run(st, "INSERT INTO job_ca_txns (job_id, transaction_id, ca_nonce,"
	    " check_after, waiting_since, polled_at, polls) VALUES (?, ?, ?, ?, ?, ?, 0)"
	    " ON CONFLICT (job_id) DO UPDATE SET transaction_id = excluded.transaction_id,"
	    " ca_nonce = excluded.ca_nonce, check_after = excluded.check_after,"
	    /* the wait begins with the CA's first answer (sent only: no nonce) */
	    " waiting_since = CASE WHEN length(job_ca_txns.ca_nonce) > 0"
	    "  THEN job_ca_txns.waiting_since ELSE excluded.waiting_since END,"
	    " polled_at = excluded.polled_at, polls = job_ca_txns.polls + 1", "ibbitt", id, t->tid,
	    t->tid_len, t->nonce, t->nonce_len, (int64_t)t->check_after, now, now);
}

static int
copy_blob(struct db_stmt *q, int col, uint8_t *out, size_t max, size_t *len)
{
	size_t n = 0;
	const void *p = db_column_blob(q, col, &n);

	*len = 0;
	if (n > max)
		return UKEY_ERR_DB;
	if (n > 0 && p != NULL)
		memcpy(out, p, n);
	*len = n;
	return 0;
}

int
store_job_ca_txn_get(struct store *st, int64_t id, struct store_ca_txn *out)
{
	struct db_stmt *q;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT transaction_id, ca_nonce, check_after,"
	    " waiting_since, polls FROM job_ca_txns WHERE job_id = ?", "i", id)) != 0)
		return rc;
	if ((rc = db_step(q)) == 1) {
		const char *since = db_column_text(q, 3);

		rc = copy_blob(q, 0, out->tid, sizeof(out->tid), &out->tid_len);
		if (rc == 0)
			rc = copy_blob(q, 1, out->nonce, sizeof(out->nonce), &out->nonce_len);
		out->check_after = (int)db_column_int64(q, 2);
		snprintf(out->waiting_since, sizeof(out->waiting_since), "%s",
		    since ? since : "");
		out->polls = db_column_int64(q, 4);
	} else if (rc == 0) {
		rc = UKEY_ERR_NOTFOUND;
	}
	db_finalize(q);
	return rc;
}

int
store_job_ca_txn_clear(struct store *st, int64_t id)
{
	return store_run(st, "DELETE FROM job_ca_txns WHERE job_id = ?", "i", id);
}
