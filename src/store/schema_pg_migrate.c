/* Applying schema_pg.c's two tracks to a PostgreSQL database at start,
 * under an advisory lock so that stations starting together migrate one
 * after the other. */
#include <stdio.h>

#include "common/err.h"
#include "common/log.h"
#include "store/db.h"
#include "store/schema_pg.h"

/* Creates the track's table unless it is there (looked up first: a
 * station's role may read the table but not create one). */
static int
track_table(struct db *db, const char *table)
{
	char sql[200];
	int64_t there = 0;
	int rc;

	if ((rc = db_int(db, &there, "SELECT to_regclass(?) IS NOT NULL", "t", table)) != 0)
		return rc;
	if (there)
		return 0;
	snprintf(sql, sizeof(sql), "CREATE TABLE %s (version bigint PRIMARY KEY,"
	    " what text NOT NULL, applied_at text NOT NULL)", table);
	return db_exec(db, sql);
}

static int
apply_one(struct db *db, const char *table, const struct migration *m)
{
	char sql[200];
	int rc;

	snprintf(sql, sizeof(sql), "INSERT INTO %s (version, what, applied_at) VALUES (?, ?, %s)",
	    table, db_sql_now(db));
	if ((rc = db_begin(db)) != 0)
		return rc;
	if ((rc = db_exec(db, m->sql)) != 0 ||
	    (rc = db_run(db, sql, "it", (int64_t)m->version, m->what)) != 0 ||
	    (rc = db_commit(db)) != 0) {
		db_rollback(db);
		log_error("%s: migration %d (%s) failed; a station's role cannot change the"
		    " schema: start one station with the owner's role (docs/multi-station.md)",
		    table, m->version, m->what);
		return rc;
	}
	log_info("PostgreSQL %s: migrated to version %d (%s)", table, m->version, m->what);
	return 0;
}

static int
apply_track(struct db *db, const char *table, const struct migration *m, size_t n,
    int *version)
{
	char sql[120];
	int64_t have = 0;
	size_t i;
	int rc;

	if ((rc = track_table(db, table)) != 0)
		return rc;
	snprintf(sql, sizeof(sql), "SELECT coalesce(max(version), 0) FROM %s", table);
	if ((rc = db_int(db, &have, sql, "")) != 0)
		return rc;
	if (have > m[n - 1].version) {
		log_error("database schema version %lld (%s) is newer than this program's %d:"
		    " refused; run a release of ukey-station that knows version %lld",
		    (long long)have, table, m[n - 1].version, (long long)have);
		return UKEY_ERR_DB;
	}
	/* by version, not only above the highest one: a version skipped on
	 * one branch and applied later still gets applied */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE version = ?", table);
	for (i = 0; i < n; i++) {
		if ((rc = db_int(db, &have, sql, "i", (int64_t)m[i].version)) != 0)
			return rc;
		if (have == 0 && (rc = apply_one(db, table, &m[i])) != 0)
			return rc;
	}
	*version = m[n - 1].version;
	return 0;
}

int
schema_pg_migrate(struct db *db, int *version)
{
	const struct migration *m;
	int64_t ignored;
	int station = 0, rc, rc2;
	size_t n;

	*version = 0;
	/* session-level: held across the per-migration transactions */
	if ((rc = db_int(db, &ignored, "SELECT 1 FROM (SELECT pg_advisory_lock(?)) AS l", "i",
	    (int64_t)SCHEMA_PG_LOCK_KEY)) != 0)
		return rc;
	m = schema_pg_migrations(&n);
	rc = apply_track(db, "schema_migrations", m, n, version);
	if (rc == 0) {
		m = schema_pg_station_migrations(&n);
		rc = apply_track(db, "station_schema_migrations", m, n, &station);
	}
	rc2 = db_int(db, &ignored, "SELECT 1 FROM (SELECT pg_advisory_unlock(?)) AS l", "i",
	    (int64_t)SCHEMA_PG_LOCK_KEY);
	return rc != 0 ? rc : rc2;
}
