/* The job list in SQLite: the one statement behind `ukeyctl jobs`
 * (job.list), declared in store_jobs.h. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
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

static int
read_summary(sqlite3_stmt *q, struct store_job_summary *j)
{
	int rc = 0;

	j->id = sqlite3_column_int64(q, 0);
	j->unit_id = sqlite3_column_int64(q, 1);
	j->bay = store_text(q, 2, &rc);
	j->profile = store_text(q, 3, &rc);
	j->token_serial = store_text(q, 4, &rc);
	j->step = store_text(q, 5, &rc);
	j->state = store_text(q, 6, &rc);
	j->key_alg = store_text(q, 7, &rc);
	j->cert_serial = store_text(q, 8, &rc);
	j->error = store_text(q, 9, &rc);
	j->operator_name = store_text(q, 10, &rc);
	j->resumed = sqlite3_column_int64(q, 11);
	j->started_at = store_text(q, 12, &rc);
	j->finished_at = store_text(q, 13, &rc);
	j->ca_waiting_since = store_text(q, 14, &rc);
	return rc;
}

int
store_jobs_list(struct store *st, const char *state, struct store_job_summary **out, size_t *n)
{
	struct store_job_summary *a = NULL, *j;
	sqlite3_stmt *q;
	size_t len = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = store_stmt(st, &q, "SELECT id, unit_id, bay, profile, token_serial, step, state,"
	    " key_alg, cert_serial, error, operator, resumed, started_at, finished_at,"
	    " (SELECT waiting_since FROM job_ca_txns WHERE job_id = jobs.id"
	    "  AND length(ca_nonce) > 0) FROM jobs"
	    " WHERE (?1 IS NULL OR state = ?1) ORDER BY id", "t", state)) != 0)
		return rc;
	while ((rc = store_step(st, q)) == 1) {
		if ((j = store_array_add((void **)&a, &len, sizeof(*a))) == NULL) {
			rc = UKEY_ERR_NOMEM;
			break;
		}
		if ((rc = read_summary(q, j)) != 0)
			break;
	}
	sqlite3_finalize(q);
	if (rc != 0) {
		store_job_summaries_free(a, len);
		return rc;
	}
	*out = a;
	*n = len;
	return 0;
}
