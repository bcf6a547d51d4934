/* Statements on token_states, and the certificates of one token
 * (store_tokens.h). */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "store/db.h"
#include "store/store_tokens.h"

int
store_token_mark_add(struct store *st, const char *token_serial, const char *state,
    const char *at, const char *actor, const char *remark)
{
	return store_run(st, "INSERT INTO token_states (token_serial, state, at, actor, remark)"
	    " VALUES (?, ?, ?, ?, ?)", "ttttt", token_serial, state, at, actor, remark);
}

static void
mark_clear(struct store_token_mark *m)
{
	free(m->token_serial);
	free(m->state);
	free(m->at);
	free(m->actor);
	free(m->remark);
}

void
store_token_marks_free(struct store_token_mark *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		mark_clear(&a[i]);
	free(a);
}

int
store_token_marks(struct store *st, const char *token_serial, struct store_token_mark **out,
    size_t *n)
{
	struct store_token_mark *a = NULL, *m;
	size_t k = 0;
	struct db_stmt *q;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT id, token_serial, state, at, actor, remark"
	    " FROM token_states WHERE token_serial = ? ORDER BY id", "t", token_serial)) != 0)
		return rc;
	while ((rc = db_step(q)) == 1) {
		if ((m = store_array_add((void **)&a, &k, sizeof(*a))) == NULL) {
			rc = UKEY_ERR_NOMEM;
			break;
		}
		rc = 0;
		m->id = db_column_int64(q, 0);
		m->token_serial = db_column_dup(q, 1, &rc);
		m->state = db_column_dup(q, 2, &rc);
		m->at = db_column_dup(q, 3, &rc);
		m->actor = db_column_dup(q, 4, &rc);
		m->remark = db_column_dup(q, 5, &rc);
		if (rc != 0)
			break;
	}
	db_finalize(q);
	if (rc != 0) {
		store_token_marks_free(a, k);
		return rc;
	}
	*out = a;
	*n = k;
	return 0;
}

static void
cert_clear(struct store_token_cert *c)
{
	free(c->cert_serial);
	free(c->kind);
	free(c->subject);
	free(c->not_after);
	free(c->issued_at);
	free(c->revoked_at);
	free(c->revoke_reason);
}

void
store_token_certs_free(struct store_token_cert *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cert_clear(&a[i]);
	free(a);
}

int
store_token_certs(struct store *st, const char *token_serial, struct store_token_cert **out,
    size_t *n)
{
	struct store_token_cert *a = NULL, *c;
	size_t k = 0;
	struct db_stmt *q;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT cert_serial, kind, subject, not_after, issued_at,"
	    " revoked_at, revoke_reason, order_id, id FROM issuances WHERE token_serial = ?"
	    " ORDER BY id", "t", token_serial)) != 0)
		return rc;
	while ((rc = db_step(q)) == 1) {
		if ((c = store_array_add((void **)&a, &k, sizeof(*a))) == NULL) {
			rc = UKEY_ERR_NOMEM;
			break;
		}
		rc = 0;
		c->cert_serial = db_column_dup(q, 0, &rc);
		c->kind = db_column_dup(q, 1, &rc);
		c->subject = db_column_dup(q, 2, &rc);
		c->not_after = db_column_dup(q, 3, &rc);
		c->issued_at = db_column_dup(q, 4, &rc);
		c->revoked_at = db_column_dup(q, 5, &rc);
		c->revoke_reason = db_column_dup(q, 6, &rc);
		c->order_id = db_column_int64(q, 7);
		c->id = db_column_int64(q, 8);
		if (rc != 0)
			break;
	}
	db_finalize(q);
	if (rc != 0) {
		store_token_certs_free(a, k);
		return rc;
	}
	*out = a;
	*n = k;
	return 0;
}

int
store_token_known_serial(struct store *st, const char *token_serial, int *known)
{
	int64_t n = 0;
	int rc = store_int(st, &n, "SELECT (SELECT count(*) FROM tokens WHERE serial = ?1) +"
	    " (SELECT count(*) FROM issuances WHERE token_serial = ?1)", "t", token_serial);

	*known = rc == 0 && n > 0;
	return rc;
}
