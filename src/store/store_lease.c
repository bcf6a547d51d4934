/* Multi-station claiming: units taken with FOR UPDATE SKIP LOCKED, leases
 * kept, renewed, released and recovered on PostgreSQL (store_lease.h). */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "store/db.h"
#include "store/store_lease.h"
#include "store/store_queue.h"

#define PG(st) (db_backend(store_dbh(st)) == DB_PG)

/* A job's state and the lease of its unit, if that lease is the job's. */
#define HOLDER_SQL "SELECT j.state, l.station_id," \
	" to_char(l.lease_until AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')," \
	" CASE WHEN l.unit_id IS NULL THEN 0 ELSE 1 END," \
	" CASE WHEN l.unit_id IS NOT NULL AND l.lease_until IS NULL THEN 1 ELSE 0 END," \
	" CASE WHEN l.lease_until > now() THEN 1 ELSE 0 END" \
	" FROM jobs j LEFT JOIN unit_leases l ON l.unit_id = j.unit_id" \
	" AND (l.job_id = j.id OR l.job_id IS NULL)" \
	" WHERE j.id = ?"

static int
lease_write(struct db *db, int64_t unit_id, int64_t job_id, const char *station, int secs)
{
	static const char *const cols[] = { "station_id", "job_id", "claimed_at", "renewed_at",
	    "lease_until", NULL };
	char sql[512];
	int rc;

	if ((rc = db_sql_upsert(sql, sizeof(sql), "INSERT INTO unit_leases (unit_id, station_id,"
	    " job_id, claimed_at, renewed_at, lease_until) VALUES (?, ?, ?, now(), now(),"
	    " now() + ? * interval '1 second')", "unit_id", cols)) != 0)
		return rc;
	if (job_id != 0)
		return db_run(db, sql, "itii", unit_id, station, job_id, (int64_t)secs);
	return db_run(db, sql, "itti", unit_id, station, NULL, (int64_t)secs);
}

/* The unit is locked (or the database is, on SQLite): in production. */
static int
take_locked(struct store *st, int64_t unit_id, int64_t job_id, const char *station, int secs,
    const char *now)
{
	struct db *db = store_dbh(st);
	int rc;

	if (job_id != 0)
		rc = db_run(db, "UPDATE units SET state = 'in_production', job_id = ?,"
		    " updated_at = ? WHERE id = ? AND state = 'queued'", "iti", job_id, now, unit_id);
	else
		rc = db_run(db, "UPDATE units SET state = 'in_production', job_id = NULL,"
		    " updated_at = ? WHERE id = ? AND state = 'queued'", "ti", now, unit_id);
	if (rc != 0 || !PG(st))
		return rc;
	if (db_changes(db) != 1) {
		log_error("unit %lld: locked as queued but not updated", (long long)unit_id);
		return UKEY_ERR_STATE;
	}
	return lease_write(db, unit_id, job_id, station, secs);
}

int
store_unit_take(struct store *st, int64_t unit_id, int64_t job_id, const char *station,
    int lease_secs, const char *now, int *taken)
{
	char lock[64], sql[200];
	int64_t id = 0;
	int rc;

	*taken = 0;
	snprintf(sql, sizeof(sql), "SELECT u.id FROM units u WHERE u.id = ? AND u.state = 'queued'%s",
	    db_sql_skip_locked(store_dbh(st), "u", lock, sizeof(lock)));
	rc = db_int(store_dbh(st), &id, sql, "i", unit_id);
	if (rc == UKEY_ERR_NOTFOUND)
		return 0;	/* another station holds it, or it left the queue */
	if (rc != 0 || (rc = take_locked(st, unit_id, job_id, station, lease_secs, now)) != 0)
		return rc;
	*taken = 1;
	return 0;
}

int
store_unit_take_next(struct store *st, int64_t job_id, const char *station, int lease_secs,
    const char *now, int64_t *unit_id)
{
	char lock[64], tail[80], sql[1024];
	int rc = UKEY_ERR_NOTFOUND, pass, passes;

	*unit_id = 0;
	snprintf(tail, sizeof(tail), " LIMIT 1%s",
	    db_sql_skip_locked(store_dbh(st), "u", lock, sizeof(lock)));
	for (pass = 0, passes = 1; pass < passes && rc == UKEY_ERR_NOTFOUND; pass++) {
		passes = store_claim_sql(st, pass, tail, sql, sizeof(sql));
		if ((rc = store_claim_pass_open(st, pass)) == 1)
			rc = db_int(store_dbh(st), unit_id, sql, "");
		else if (rc == 0)
			rc = UKEY_ERR_NOTFOUND;	/* nothing of the point's: the next pass */
	}
	if (rc == UKEY_ERR_NOTFOUND)
		return 0;
	if (rc == 0 && (rc = take_locked(st, *unit_id, job_id, station, lease_secs, now)) != 0)
		*unit_id = 0;
	return rc;
}

int
store_lease_attach_job(struct store *st, int64_t unit_id, int64_t job_id)
{
	int rc;

	if ((rc = db_run(store_dbh(st), "UPDATE units SET job_id = ? WHERE id = ?"
	    " AND state = 'in_production'", "ii", job_id, unit_id)) != 0 || !PG(st))
		return rc;
	return db_run(store_dbh(st), "UPDATE unit_leases SET job_id = ? WHERE unit_id = ?", "ii",
	    job_id, unit_id);
}

int
store_lease_renew(struct store *st, int64_t unit_id, const char *station, int lease_secs)
{
	int rc;

	if (!PG(st))
		return 0;
	if ((rc = db_run(store_dbh(st), "UPDATE unit_leases SET renewed_at = now(), lease_until ="
	    " now() + ? * interval '1 second' WHERE unit_id = ? AND station_id = ?", "iit",
	    (int64_t)lease_secs, unit_id, station)) != 0)
		return rc;
	if (db_changes(store_dbh(st)) == 0) {
		log_error("unit %lld: the lease is no longer station %s's (it lapsed and was"
		    " recovered)", (long long)unit_id, station);
		return UKEY_ERR_STATE;
	}
	return 0;
}

int
store_lease_release(struct store *st, int64_t unit_id, const char *station)
{
	if (!PG(st))
		return 0;
	return db_run(store_dbh(st), "DELETE FROM unit_leases WHERE unit_id = ? AND station_id = ?",
	    "it", unit_id, station);
}

int
store_lease_release_job(struct store *st, int64_t unit_id, int64_t job_id, const char *station)
{
	if (!PG(st))
		return 0;
	return db_run(store_dbh(st), "DELETE FROM unit_leases WHERE unit_id = ?"
	    " AND (station_id = ? OR job_id = ?)", "iti", unit_id, station, job_id);
}

int
store_job_holder(struct store *st, int64_t job_id, int lock, struct store_job_holder *h)
{
	struct db_stmt *q;
	int rc;

	memset(h, 0, sizeof(*h));
	if (!PG(st))
		rc = db_stmtf(store_dbh(st), &q, "SELECT state, NULL, NULL, 0, 0, 0 FROM jobs"
		    " WHERE id = ?", "i", job_id);
	else
		rc = db_stmtf(store_dbh(st), &q, lock ? HOLDER_SQL " FOR UPDATE OF j" : HOLDER_SQL,
		    "i", job_id);
	if (rc != 0)
		return rc;
	if ((rc = db_step(q)) == 1) {
		snprintf(h->state, sizeof(h->state), "%s", db_column_text(q, 0));
		if (!db_column_is_null(q, 1))
			snprintf(h->station, sizeof(h->station), "%s", db_column_text(q, 1));
		if (!db_column_is_null(q, 2))
			snprintf(h->until, sizeof(h->until), "%s", db_column_text(q, 2));
		h->has_lease = db_column_int64(q, 3) != 0;
		h->pinned = db_column_int64(q, 4) != 0;
		h->live = db_column_int64(q, 5) != 0;
		rc = 0;
	} else if (rc == 0) {
		rc = UKEY_ERR_NOTFOUND;
	}
	db_finalize(q);
	return rc;
}

int
store_leases_count(struct store *st, int64_t *all, int64_t *lapsed)
{
	int rc;

	*all = *lapsed = 0;
	if (!PG(st))
		return 0;
	if ((rc = db_int(store_dbh(st), all, "SELECT count(*) FROM unit_leases", "")) != 0)
		return rc;
	return db_int(store_dbh(st), lapsed, "SELECT count(*) FROM unit_leases"
	    " WHERE lease_until < now()", "");
}
