/* Dual-control requests in SQLite: every statement on dual_requests
 * (declared in store_dual.h). */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "store/db.h"
#include "store/store_dual.h"

/* The columns read_request() reads, in its order. */
#define REQUEST_COLS \
	"SELECT id, action, command, args, subject, requested_by, requested_uid," \
	" requester_roles, requested_at, expires_at, state, confirmed_by, confirmed_at, remark," \
	" closed_by, closed_at, close_reason FROM dual_requests"

void
store_dual_request_clear(struct store_dual_request *r)
{
	free(r->action);
	free(r->command);
	free(r->args);
	free(r->subject);
	free(r->requested_by);
	free(r->requester_roles);
	free(r->requested_at);
	free(r->expires_at);
	free(r->state);
	free(r->confirmed_by);
	free(r->confirmed_at);
	free(r->remark);
	free(r->closed_by);
	free(r->closed_at);
	free(r->close_reason);
	memset(r, 0, sizeof(*r));
}

void
store_dual_requests_free(struct store_dual_request *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		store_dual_request_clear(&a[i]);
	free(a);
}

/* Reads the current row of q (REQUEST_COLS) into r; 0 or UKEY_ERR_NOMEM. */
static int
read_request(struct db_stmt *q, struct store_dual_request *r)
{
	int rc = 0;

	r->id = db_column_int64(q, 0);
	r->action = db_column_dup(q, 1, &rc);
	r->command = db_column_dup(q, 2, &rc);
	r->args = db_column_dup(q, 3, &rc);
	r->subject = db_column_dup(q, 4, &rc);
	r->requested_by = db_column_dup(q, 5, &rc);
	r->requested_uid = db_column_int64(q, 6);
	r->requester_roles = db_column_dup(q, 7, &rc);
	r->requested_at = db_column_dup(q, 8, &rc);
	r->expires_at = db_column_dup(q, 9, &rc);
	r->state = db_column_dup(q, 10, &rc);
	r->confirmed_by = db_column_dup(q, 11, &rc);
	r->confirmed_at = db_column_dup(q, 12, &rc);
	r->remark = db_column_dup(q, 13, &rc);
	r->closed_by = db_column_dup(q, 14, &rc);
	r->closed_at = db_column_dup(q, 15, &rc);
	r->close_reason = db_column_dup(q, 16, &rc);
	return rc;
}

/* Reads every row of q (finalized here) into an owned array. */
static int
read_requests(struct store *st, struct db_stmt *q, struct store_dual_request **out, size_t *n)
{
	struct store_dual_request *a = NULL, *r;
	size_t len = 0;
	int rc;

	while ((rc = db_step(q)) == 1) {
		if ((r = store_array_add((void **)&a, &len, sizeof(*a))) == NULL) {
			rc = UKEY_ERR_NOMEM;
			break;
		}
		if ((rc = read_request(q, r)) != 0)
			break;
	}
	db_finalize(q);
	if (rc != 0) {
		store_dual_requests_free(a, len);
		return rc;
	}
	*out = a;
	*n = len;
	return 0;
}

int
store_dual_insert(struct store *st, const struct store_dual_new *r, int64_t *id)
{
	int rc;

	*id = 0;
	rc = db_insert_id(store_dbh(st), id, "INSERT INTO dual_requests (action, command, args,"
	    " subject, requested_by, requested_uid, requester_roles, requested_at, expires_at,"
	    " state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')", "tttttittt", r->action,
	    r->command, r->args, r->subject, r->requested_by, r->requested_uid,
	    r->requester_roles, r->requested_at, r->expires_at);
	return rc;
}

int
store_dual_load(struct store *st, int64_t id, struct store_dual_request *out)
{
	struct db_stmt *q;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_stmtf(store_dbh(st), &q, REQUEST_COLS " WHERE id = ?", "i", id)) != 0)
		return rc;
	if ((rc = db_step(q)) == 1)
		rc = read_request(q, out);
	else if (rc == 0)
		rc = UKEY_ERR_NOTFOUND;
	db_finalize(q);
	if (rc != 0)
		store_dual_request_clear(out);
	return rc;
}

int
store_dual_due(struct store *st, const char *now, struct store_dual_request **out, size_t *n)
{
	struct db_stmt *q;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = db_stmtf(store_dbh(st), &q, REQUEST_COLS " WHERE state = 'pending' AND expires_at <= ?"
	    " ORDER BY id", "t", now)) != 0)
		return rc;
	return read_requests(st, q, out, n);
}

int
store_dual_list(struct store *st, int all, int64_t after, int64_t limit,
    struct store_dual_request **out, size_t *n)
{
	struct db_stmt *q;
	int rc;

	*out = NULL;
	*n = 0;
	if (after < 0 || limit < 1)
		return UKEY_ERR_INVAL;
	if ((rc = db_stmtf(store_dbh(st), &q, REQUEST_COLS " WHERE (?1 <> 0 OR state = 'pending')"
	    " AND id > ?2 ORDER BY id LIMIT ?3", "iii", (int64_t)(all != 0), after, limit)) != 0)
		return rc;
	return read_requests(st, q, out, n);
}

int
store_dual_close(struct store *st, int64_t id, const char *from, const char *state,
    const char *by, const char *reason, const char *now)
{
	return store_run(st, "UPDATE dual_requests SET state = ?, closed_by = ?, closed_at = ?,"
	    " close_reason = ? WHERE id = ? AND state = ?", "ttttit", state, by, now, reason, id,
	    from);
}

int
store_dual_confirm(struct store *st, int64_t id, const char *by, const char *remark,
    const char *now)
{
	return store_run(st, "UPDATE dual_requests SET state = 'confirmed', confirmed_by = ?,"
	    " confirmed_at = ?, remark = ? WHERE id = ? AND state = 'pending'", "ttti", by, now,
	    remark, id);
}
