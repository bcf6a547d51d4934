/* Revocation on the station's side: statements on the issuances'
 * revocation columns (store_revoke.h). */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "store/db.h"
#include "store/store_revoke.h"

int
store_issuance_by_serial(struct store *st, const char *serial, struct store_issuance_rev *out)
{
	struct db_stmt *q;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT id, order_id, unit_id, job_id, cert_serial,"
	    " token_serial, not_after, revoked_at, revoke_reason, revoked_by, org_uscc, kind,"
	    " station_id, subject FROM issuances"
	    " WHERE ltrim(upper(cert_serial), '0') = ltrim(upper(?), '0')", "t", serial)) != 0)
		return rc;
	if ((rc = db_step(q)) == 1) {
		rc = 0;
		out->id = db_column_int64(q, 0);
		out->order_id = db_column_int64(q, 1);
		out->unit_id = db_column_int64(q, 2);
		out->job_id = db_column_int64(q, 3);
		out->cert_serial = db_column_dup(q, 4, &rc);
		out->token_serial = db_column_dup(q, 5, &rc);
		out->not_after = db_column_dup(q, 6, &rc);
		out->revoked_at = db_column_dup(q, 7, &rc);
		out->revoke_reason = db_column_dup(q, 8, &rc);
		out->revoked_by = db_column_dup(q, 9, &rc);
		out->org_uscc = db_column_dup(q, 10, &rc);
		out->kind = db_column_dup(q, 11, &rc);
		out->station_id = db_column_dup(q, 12, &rc);
		out->subject = db_column_dup(q, 13, &rc);
	} else if (rc == 0) {
		rc = UKEY_ERR_NOTFOUND;
	}
	db_finalize(q);
	if (rc != 0)
		store_issuance_rev_clear(out);
	return rc;
}

int
store_issuance_revoke(struct store *st, const char *cert_serial, const char *at,
    const char *reason, const char *by, const char *remark)
{
	int rc = store_run(st, "UPDATE issuances SET revoked_at = ?, revoke_reason = ?,"
	    " revoked_by = ?, revoke_remark = ? WHERE cert_serial = ? AND revoked_at IS NULL",
	    "ttttt", at, reason, by, remark, cert_serial);

	if (rc != 0)
		return rc;
	return store_changes(st) == 1 ? 0 : UKEY_ERR_STATE;
}

void
store_issuance_rev_clear(struct store_issuance_rev *r)
{
	if (r == NULL)
		return;
	free(r->cert_serial);
	free(r->token_serial);
	free(r->not_after);
	free(r->revoked_at);
	free(r->revoke_reason);
	free(r->revoked_by);
	free(r->org_uscc);
	free(r->kind);
	free(r->station_id);
	free(r->subject);
	memset(r, 0, sizeof(*r));
}

int
store_issuance_cert(struct store *st, const char *serial, uint8_t **der, size_t *len)
{
	struct db_stmt *q;
	const void *p;
	size_t n = 0;
	int rc;

	*der = NULL;
	*len = 0;
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT cert FROM issuances WHERE cert_serial = ?", "t",
	    serial)) != 0)
		return rc;
	if ((rc = db_step(q)) == 1) {
		p = db_column_blob(q, 0, &n);
		rc = UKEY_ERR_NOTFOUND;
		if (p != NULL && n > 0 && (*der = malloc(n)) != NULL) {
			memcpy(*der, p, n);
			*len = n;
			rc = 0;
		} else if (p != NULL && n > 0) {
			rc = UKEY_ERR_NOMEM;
		}
	} else if (rc == 0) {
		rc = UKEY_ERR_NOTFOUND;
	}
	db_finalize(q);
	return rc;
}

void
store_replaced_free(struct store_replaced *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++) {
		free(a[i].new_serial);
		free(a[i].old_serial);
	}
	free(a);
}

int
store_replaced_live(struct store *st, const char *new_serial, struct store_replaced **out,
    size_t *n)
{
	struct store_replaced *a = NULL, *r;
	struct db_stmt *q;
	size_t len = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT n.cert_serial, o.cert_serial, n.order_id, n.unit_id,"
	    " n.job_id FROM issuances n JOIN issuances o ON o.cert_serial = n.replaces_serial"
	    " WHERE n.replaces_how = 'replacement' AND o.revoked_at IS NULL"
	    " AND (CAST(?1 AS text) IS NULL OR n.cert_serial = ?1) ORDER BY n.id", "t",
	    new_serial)) != 0)
		return rc;
	while ((rc = db_step(q)) == 1) {
		if ((r = store_array_add((void **)&a, &len, sizeof(*a))) == NULL) {
			rc = UKEY_ERR_NOMEM;
			break;
		}
		rc = 0;
		r->new_serial = db_column_dup(q, 0, &rc);
		r->old_serial = db_column_dup(q, 1, &rc);
		r->order_id = db_column_int64(q, 2);
		r->unit_id = db_column_int64(q, 3);
		r->job_id = db_column_int64(q, 4);
		if (rc != 0)
			break;
	}
	db_finalize(q);
	if (rc != 0) {
		store_replaced_free(a, len);
		return rc;
	}
	*out = a;
	*n = len;
	return 0;
}
