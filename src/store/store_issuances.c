/* Received certificates and issuances: every statement on received_certs
 * and issuances (declared in store_jobs.h), on either backend (db.h). */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "store/db.h"
#include "store/store_jobs.h"

int
store_received_cert_add(struct store *st, const char *serial, int64_t job_id, int64_t unit_id,
    const uint8_t *der, size_t len, const char *now)
{
	return store_run(st, "INSERT INTO received_certs (serial, job_id, unit_id, der, status,"
	    " received_at, updated_at) VALUES (?, ?, ?, ?, 'received', ?, ?)", "tiibtt", serial,
	    job_id, unit_id, der, len, now, now);
}

int
store_received_cert_job(struct store *st, const char *serial, int64_t *job_id)
{
	return store_int(st, job_id, "SELECT job_id FROM received_certs WHERE serial = ?", "t",
	    serial);
}

int
store_received_cert_close(struct store *st, const char *serial, const char *status,
    const char *note, const char *now)
{
	return store_run(st, "UPDATE received_certs SET status = ?, note = ?, updated_at = ?"
	    " WHERE serial = ? AND status = 'received'", "tttt", status, note, now, serial);
}

int
store_received_cert_issued(struct store *st, const char *serial, const char *now)
{
	return store_run(st, "UPDATE received_certs SET status = 'issued', updated_at = ?"
	    " WHERE serial = ?", "tt", now, serial);
}

void
store_received_certs_free(struct store_received_cert *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++) {
		free(a[i].serial);
		free(a[i].note);
		free(a[i].reason);
	}
	free(a);
}

int
store_received_certs_unwanted(struct store *st, struct store_received_cert **out, size_t *n)
{
	struct store_received_cert *a = NULL, *r;
	struct db_stmt *q;
	size_t len = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT serial, note, 'cessationOfOperation'"
	    " FROM received_certs WHERE status IN ('revoked', 'refused') UNION ALL"
	    " SELECT cert_serial, revoke_remark, 'superseded' FROM issuances"
	    " WHERE revoke_reason = 'superseded'", "")) != 0)
		return rc;
	while ((rc = db_step(q)) == 1) {
		if ((r = store_array_add((void **)&a, &len, sizeof(*a))) == NULL) {
			rc = UKEY_ERR_NOMEM;
			break;
		}
		rc = 0;
		r->serial = db_column_dup(q, 0, &rc);
		r->note = db_column_dup(q, 1, &rc);
		r->reason = db_column_dup(q, 2, &rc);
		if (rc != 0)
			break;
	}
	db_finalize(q);
	if (rc != 0) {
		store_received_certs_free(a, len);
		return rc;
	}
	*out = a;
	*n = len;
	return 0;
}

int
store_issuance_insert(struct store *st, const struct store_issuance_new *r)
{
	return store_run(st, "INSERT INTO issuances (order_id, item_id, unit_id, job_id, cert_serial,"
	    " subject, issuer, not_before, not_after, key_alg, key_local, key_always_sensitive,"
	    " key_never_extractable, key_usage, token_serial, token_model, token_profile, token_uri,"
	    " org_uscc, kind, cert, operator, station_id, started_at, issued_at, replaces_serial,"
	    " replaces_how) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	    "iiiittttttiiitttttttbtttttt",
	    r->order_id, r->item_id, r->unit_id, r->job_id, r->cert_serial, r->subject, r->issuer,
	    r->not_before, r->not_after, r->key_alg, r->key_local, r->key_always_sensitive,
	    r->key_never_extractable, r->key_usage, r->token_serial, r->token_model,
	    r->token_profile, r->token_uri, r->org_uscc, r->kind, r->cert, r->cert_len,
	    r->operator_name, r->station_id, r->started_at, r->issued_at, r->replaces_serial,
	    r->replaces_how);
}

void
store_issuances_free(struct store_issuance *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++) {
		free(a[i].cert_serial);
		free(a[i].subject);
		free(a[i].not_after);
		free(a[i].token_serial);
		free(a[i].token_profile);
		free(a[i].kind);
		free(a[i].issued_at);
	}
	free(a);
}

int
store_issuances_of_order(struct store *st, int64_t order_id, struct store_issuance **out,
    size_t *n)
{
	struct store_issuance *a = NULL, *r;
	struct db_stmt *q;
	size_t len = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT id, order_id, unit_id, job_id, cert_serial, subject,"
	    " not_after, token_serial, token_profile, kind, issued_at FROM issuances"
	    " WHERE order_id = ? ORDER BY id", "i", order_id)) != 0)
		return rc;
	while ((rc = db_step(q)) == 1) {
		if ((r = store_array_add((void **)&a, &len, sizeof(*a))) == NULL) {
			rc = UKEY_ERR_NOMEM;
			break;
		}
		rc = 0;
		r->id = db_column_int64(q, 0);
		r->order_id = db_column_int64(q, 1);
		r->unit_id = db_column_int64(q, 2);
		r->job_id = db_column_int64(q, 3);
		r->cert_serial = db_column_dup(q, 4, &rc);
		r->subject = db_column_dup(q, 5, &rc);
		r->not_after = db_column_dup(q, 6, &rc);
		r->token_serial = db_column_dup(q, 7, &rc);
		r->token_profile = db_column_dup(q, 8, &rc);
		r->kind = db_column_dup(q, 9, &rc);
		r->issued_at = db_column_dup(q, 10, &rc);
		if (rc != 0)
			break;
	}
	db_finalize(q);
	if (rc != 0) {
		store_issuances_free(a, len);
		return rc;
	}
	*out = a;
	*n = len;
	return 0;
}
