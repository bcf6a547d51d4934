/* The daemon on a shared store: leases of running jobs renewed, lapsed
 * leases recovered, and the store's connection watched (joblease.h). */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "store/db.h"
#include "store/store_jobs.h"
#include "store/store_lease.h"
#include "station/job.h"
#include "station/joblease.h"
#include "station/job_renew.h"
#include "station/job_steps.h"
#include "station/station_impl.h"

int
station_store_down(struct station *s, char *why, size_t len)
{
	if (!s->sw.down)
		return 0;
	storewatch_describe(&s->sw, now_ms(), why, len);
	return 1;
}

int
station_store_lost(struct station *s)
{
	char why[256];

	if (s->sw.down)
		return 1;
	if (!store_connection_lost(s->st, why, sizeof(why)))
		return 0;
	storewatch_mark_down(&s->sw, why, now_ms());
	return 1;
}

struct json_object *
station_store_json(struct station *s)
{
	return storewatch_json(&s->sw, now_ms());
}

int
job_wait_store(struct station *s, struct bay *b)
{
	char why[400];

	if (b->job_id == 0 || !station_store_lost(s))
		return 0;
	station_store_down(s, why, sizeof(why));
	log_warn("bay %s: job %lld waits: the database is %s", b->name, (long long)b->job_id, why);
	b->store_wait_job = b->last_job_id = b->job_id;
	b->job_id = 0;
	b->retry_at_ms = 0;
	b->ca_attempts = 0;
	secret_clear(&b->user_pin);
	secret_clear(&b->so_pin);
	secret_clear(&b->wipe_so);
	bay_set_state(s, b, BAY_IDLE, "job %lld waits: the database is %s; it resumes on this token"
	    " when the database is back", (long long)b->last_job_id, why);
	return 1;
}

/* Another station recovered the unit of the job in b (its lease lapsed):
 * this station stops touching it. */
static void
lease_lost(struct station *s, struct bay *b, int64_t unit_id)
{
	log_error("bay %s: job %lld lost its lease on unit %lld to a recovery; the job stops here",
	    b->name, (long long)b->job_id, (long long)unit_id);
	b->last_job_id = b->job_id;
	b->job_id = 0;
	secret_clear(&b->user_pin);
	secret_clear(&b->so_pin);
	secret_clear(&b->wipe_so);
	bay_set_state(s, b, BAY_FAILED, "job %lld: its lease on unit %lld lapsed and another"
	    " station recovered the unit; take the token out", (long long)b->last_job_id,
	    (long long)unit_id);
}

/* Renews the lease of the job running in b. */
static void
renew_bay(struct station *s, struct bay *b)
{
	struct store_job job;
	int rc;

	if (b->job_id == 0 || job_load(s, b->job_id, &job) != 0)
		return;
	/* a renewal past its record (discard_old) holds no lease any more:
	 * the record released it with the unit issued */
	if (job_is_renewal(&job) && job.cert_serial != NULL && job_renew_is_recorded(s, &job)) {
		store_job_clear(&job);
		return;
	}
	rc = store_lease_renew(s->st, job.unit_id, s->cfg.station_id, JOB_LEASE_SECS);
	if (rc == UKEY_ERR_STATE)
		lease_lost(s, b, job.unit_id);
	else if (rc != 0)
		log_error("job %lld: renewing the lease of unit %lld: %s", (long long)job.id,
		    (long long)job.unit_id, ukey_strerror(rc));
	store_job_clear(&job);
}

/* Recovers the lapsed leases of any station, a few per turn. */
static void
recover_lapsed(struct station *s)
{
	struct store_lease_recovery r;
	struct json_object *d;
	char now[32];
	int i, found = 0;

	for (i = 0; i < 16; i++) {
		store_now(now);
		if (store_lease_recover(s->st, s->cfg.station_id, now, &r, &found) != 0 || !found)
			return;
		log_warn("unit %lld: the lease of station %s lapsed; job %lld %s", (long long)r.unit_id,
		    r.station, (long long)r.job_id, r.requeued ? "aborted, unit back in the queue" :
		    "suspended, the unit stays with that station's token");
		d = json_object_new_object();
		json_object_object_add(d, "station", json_object_new_string(r.station));
		json_object_object_add(d, "requeued", json_object_new_boolean(r.requeued));
		station_audit(s, "ukeyd", "lease.recover", 0, r.unit_id, r.job_id, NULL, NULL, d);
	}
}

static void
leases_tick(struct station *s)
{
	int i;

	if (db_backend(store_dbh(s->st)) != DB_PG)
		return;		/* one station, one writer: no leases to keep */
	for (i = 0; i < s->n_bays && !s->sw.down; i++)
		renew_bay(s, &s->bays[i]);
	if (!s->sw.down)
		recover_lapsed(s);
}

/* The store answers again: the jobs that waited for it are suspended in
 * the record (job_store_back) and every idle token tries to start or
 * resume its job. */
static void
store_back(struct station *s)
{
	int i;

	for (i = 0; i < s->n_bays; i++)
		job_store_back(s, &s->bays[i]);
	s->next_lease_ms = 0;	/* renew at once: the leases ran on meanwhile */
	bay_kick_idle(s);
}

/* Idle tokens say why they wait. */
static void
store_lost(struct station *s)
{
	char why[400];
	int i;

	storewatch_describe(&s->sw, now_ms(), why, sizeof(why));
	for (i = 0; i < s->n_bays; i++)
		if (s->bays[i].state == BAY_IDLE && s->bays[i].job_id == 0)
			bay_set_state(s, &s->bays[i], BAY_IDLE, "token %s waits: the database is %s",
			    s->bays[i].token_serial[0] ? s->bays[i].token_serial : "(blank)", why);
}

void
station_store_if_due(struct station *s)
{
	int64_t t = now_ms();

	switch (storewatch_tick(&s->sw, s->st, t)) {
	case STOREWATCH_LOST:
		store_lost(s);
		return;
	case STOREWATCH_BACK:
		store_back(s);
		break;
	default:
		if (s->sw.down)
			return;
	}
	if (t < s->next_lease_ms)
		return;
	s->next_lease_ms = t + 1000L * JOB_LEASE_RENEW_S;
	leases_tick(s);
}
