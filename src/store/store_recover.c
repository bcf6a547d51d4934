/* Recovering a lapsed lease (store_lease.h): the job's journal in the
 * shared database decides whether the unit may go back to the queue. */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "store/db.h"
#include "store/store_lease.h"

/* Locks the oldest lapsed lease of a unit in production, skipping those
 * another station is recovering; UKEY_ERR_NOTFOUND when none. */
static int
lock_lapsed(struct db *db, struct store_lease_recovery *r)
{
	struct db_stmt *q;
	int rc;

	if ((rc = db_stmtf(db, &q, "SELECT l.unit_id, coalesce(l.job_id, 0), l.station_id"
	    " FROM unit_leases l JOIN units u ON u.id = l.unit_id"
	    " WHERE l.lease_until < now() AND u.state = 'in_production'"
	    " ORDER BY l.lease_until LIMIT 1 FOR UPDATE OF l, u SKIP LOCKED", "")) != 0)
		return rc;
	if ((rc = db_step(q)) == 1) {
		r->unit_id = db_column_int64(q, 0);
		r->job_id = db_column_int64(q, 1);
		snprintf(r->station, sizeof(r->station), "%s", db_column_text(q, 2));
		rc = 0;
	} else if (rc == 0) {
		rc = UKEY_ERR_NOTFOUND;
	}
	db_finalize(q);
	return rc;
}

/* No step begun: nothing reached a token; the unit goes back where it
 * stood in the queue and the job ends aborted. */
static int
requeue(struct db *db, struct store_lease_recovery *r, const char *by, const char *now)
{
	char why[200];
	int rc;

	snprintf(why, sizeof(why), "lease of station %s lapsed before any step; unit returned"
	    " to the queue by station %s", r->station, by);
	if ((rc = db_run(db, "UPDATE units SET state = 'queued', job_id = NULL, updated_at = ?"
	    " WHERE id = ?", "ti", now, r->unit_id)) != 0 ||
	    (rc = db_run(db, "DELETE FROM unit_leases WHERE unit_id = ?", "i", r->unit_id)) != 0)
		return rc;
	r->requeued = 1;
	if (r->job_id == 0)
		return 0;
	return db_run(db, "UPDATE jobs SET state = 'aborted', error = ?, updated_at = ?,"
	    " finished_at = ? WHERE id = ? AND state IN ('running', 'suspended')", "ttti", why, now,
	    now, r->job_id);
}

/* A step began: the token in the lapsed station's bay holds the job's
 * work (and maybe the CA's certificate is in received_certs). Only that
 * token resumes it, so the job is suspended there and the lease pinned. */
static int
pin(struct db *db, struct store_lease_recovery *r, const char *by, const char *now)
{
	char why[200];
	int rc;

	snprintf(why, sizeof(why), "lease of station %s lapsed mid-job (seen by station %s);"
	    " the token in its bay resumes the job there", r->station, by);
	if ((rc = db_run(db, "UPDATE unit_leases SET lease_until = NULL WHERE unit_id = ?", "i",
	    r->unit_id)) != 0)
		return rc;
	r->requeued = 0;
	return db_run(db, "UPDATE jobs SET state = 'suspended', error = ?, updated_at = ?"
	    " WHERE id = ? AND state = 'running'", "tti", why, now, r->job_id);
}

int
store_lease_recover(struct store *st, const char *by_station, const char *now,
    struct store_lease_recovery *out, int *found)
{
	struct db *db = store_dbh(st);
	int64_t steps = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	*found = 0;
	if (db_backend(db) != DB_PG)
		return 0;
	if ((rc = db_begin(db)) != 0)
		return rc;
	if ((rc = lock_lapsed(db, out)) == UKEY_ERR_NOTFOUND) {
		db_rollback(db);
		return 0;
	}
	if (rc == 0 && out->job_id != 0)
		rc = db_int(db, &steps, "SELECT count(*) FROM job_steps WHERE job_id = ?", "i",
		    out->job_id);
	if (rc == 0)
		rc = steps == 0 ? requeue(db, out, by_station, now) : pin(db, out, by_station, now);
	if (rc == 0)
		rc = db_commit(db);
	if (rc != 0) {
		db_rollback(db);
		return rc;
	}
	log_info("unit %lld: lease of station %s lapsed; %s", (long long)out->unit_id,
	    out->station, out->requeued ? "back in the queue" : "job suspended, pinned there");
	*found = 1;
	return 0;
}
