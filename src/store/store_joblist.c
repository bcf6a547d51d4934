/* The job list, on either backend (db.h): the one statement behind
 * `ukeyctl jobs` (job.list), declared in store_jobs.h. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "store/db.h"
#include "store/store_jobs.h"

void
store_job_summaries_free(struct store_job_summary *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++) {
		free(a[i].bay);
		free(a[i].profile);
		free(a[i].token_serial);
		free(a[i].step);
		free(a[i].state);
		free(a[i].key_alg);
		free(a[i].cert_serial);
		free(a[i].error);
		free(a[i].operator_name);
		free(a[i].started_at);
		free(a[i].finished_at);
		free(a[i].ca_waiting_since);
	}
	free(a);
}

/* The columns read_summary reads, in its order. */
#define JOB_SUMMARY_SELECT \
    "SELECT id, unit_id, bay, profile, token_serial, step, state, key_alg, cert_serial, error," \
    " operator, resumed, started_at, finished_at, (SELECT waiting_since FROM job_ca_txns" \
    " WHERE job_id = jobs.id AND length(ca_nonce) > 0) FROM jobs"

static int
read_summary(struct db_stmt *q, struct store_job_summary *j)
{
	int rc = 0;

	j->id = db_column_int64(q, 0);
	j->unit_id = db_column_int64(q, 1);
	j->bay = db_column_dup(q, 2, &rc);
	j->profile = db_column_dup(q, 3, &rc);
	j->token_serial = db_column_dup(q, 4, &rc);
	j->step = db_column_dup(q, 5, &rc);
	j->state = db_column_dup(q, 6, &rc);
	j->key_alg = db_column_dup(q, 7, &rc);
	j->cert_serial = db_column_dup(q, 8, &rc);
	j->error = db_column_dup(q, 9, &rc);
	j->operator_name = db_column_dup(q, 10, &rc);
	j->resumed = db_column_int64(q, 11);
	j->started_at = db_column_dup(q, 12, &rc);
	j->finished_at = db_column_dup(q, 13, &rc);
	j->ca_waiting_since = db_column_dup(q, 14, &rc);
	return rc;
}

int
store_jobs_list(struct store *st, const char *state, int64_t after, int64_t limit,
    struct store_job_summary **out, size_t *n)
{
	struct store_job_summary *a = NULL, *j;
	struct db_stmt *q;
	size_t len = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (after < 0 || limit < 1)
		return UKEY_ERR_INVAL;
	/* with a state, jobs_state (state, then id) gives the page in order; a
	 * NULL test on the argument in one statement would hide it from SQLite */
	if (state != NULL)
		rc = db_stmtf(store_dbh(st), &q, JOB_SUMMARY_SELECT " WHERE state = ? AND id > ?"
		    " ORDER BY id LIMIT ?", "tii", state, after, limit);
	else
		rc = db_stmtf(store_dbh(st), &q, JOB_SUMMARY_SELECT " WHERE id > ? ORDER BY id"
		    " LIMIT ?", "ii", after, limit);
	if (rc != 0)
		return rc;
	while ((rc = db_step(q)) == 1) {
		if ((j = store_array_add((void **)&a, &len, sizeof(*a))) == NULL) {
			rc = UKEY_ERR_NOMEM;
			break;
		}
		if ((rc = read_summary(q, j)) != 0)
			break;
	}
	db_finalize(q);
	if (rc != 0) {
		store_job_summaries_free(a, len);
		return rc;
	}
	*out = a;
	*n = len;
	return 0;
}
