/* How a job ends not issued (job_end_not_issued: its certificate revoked,
 * its unit's fate, its lease dropped, in one transaction), and an
 * operator's abandonment of a suspended job from any station, also of one
 * pinned to a station that will not come back (job_abandon). */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "station/job.h"
#include "station/joblease.h"
#include "station/job_renew.h"
#include "station/job_steps.h"
#include "station/station.h"
#include "store/store_jobs.h"
#include "store/store_lease.h"
#include "store/store_units.h"

/*
 * Inside an open transaction: the unit of job leaves production after a
 * failed job, as jobrule_unit_fate() says: queued again where it stood,
 * left alone, queued at the tail or held. Audited as unit.requeue or
 * unit.hold.
 */
static int
unit_after_failure(struct station *s, const struct store_job *job, enum job_blame blame,
    const char *kind, const char *why, const char *now)
{
	struct store_unit u = { 0 };
	struct json_object *d;
	enum unit_fate fate;
	int64_t failures = 0;
	char reason[700];
	int rc;

	if (blame == JOB_INTERRUPTED || blame == JOB_TOKEN)
		return store_unit_return(station_store(s), job->unit_id, now);
	if ((rc = store_unit_load(station_store(s), job->unit_id, &u)) != 0)
		return rc;
	fate = jobrule_unit_fate(blame, u.state, u.failures, u.failure_kind, kind, why, &failures,
	    reason, sizeof(reason));
	if (fate == UNIT_HOLD)
		rc = store_unit_hold_failed(station_store(s), job->unit_id, failures, kind, why, reason, now);
	else if (fate == UNIT_REQUEUE)
		rc = store_unit_requeue(station_store(s), job->unit_id, failures, kind, why, now);
	else
		rc = 0;		/* released, cancelled or ended meanwhile */
	if (rc != 0 || (fate != UNIT_HOLD && fate != UNIT_REQUEUE))
		goto out;
	d = json_object_new_object();
	json_object_object_add(d, "failures", json_object_new_int64(failures));
	json_object_object_add(d, "kind", json_object_new_string(kind));
	json_object_object_add(d, "blame", json_object_new_string(jobrule_blame_name(blame)));
	json_object_object_add(d, "reason", json_object_new_string(reason));
	rc = station_audit(s, "ukeyd", fate == UNIT_HOLD ? "unit.hold" : "unit.requeue",
	    job->src.order_id, job->unit_id, job->id, job->token_serial, job->bay, d);
	if (rc == 0 && fate == UNIT_HOLD)
		log_warn("unit %lld held: %s", (long long)job->unit_id, reason);
 out:
	store_unit_clear(&u);
	return rc;
}

/* Inside the transaction: the job.fail / job.abort record of job's end. */
static int
end_audit(struct station *s, const struct store_job *job, const struct job_end_how *how,
    const char *kind, const char *serial)
{
	struct json_object *d = json_object_new_object();

	json_object_object_add(d, "state", json_object_new_string(how->state));
	json_object_object_add(d, "step", json_object_new_string(job->step));
	json_object_object_add(d, "reason", json_object_new_string(how->why));
	json_object_object_add(d, "blame", json_object_new_string(jobrule_blame_name(how->blame)));
	if (how->blame == JOB_UNIT || how->blame == JOB_OTHER)
		json_object_object_add(d, "kind", json_object_new_string(kind));
	if (serial)
		json_object_object_add(d, "revoked_serial", json_object_new_string(serial));
	return station_audit(s, "ukeyd", strcmp(how->state, "failed") == 0 ? "job.fail" :
	    "job.abort", job->src.order_id, job->unit_id, job->id, job->token_serial, job->bay, d);
}

/* Inside the transaction: the job's end, its certificate closed, the unit's
 * fate and the job's lease dropped (this station's, or the one naming the
 * job wherever it was taken). */
static int
end_record(struct station *s, const struct store_job *job, const struct job_end_how *how,
    const char *kind, const char *serial, const char *now)
{
	int rc;

	if (how->in_tx != NULL && (rc = how->in_tx(s, job, how->arg)) != 0)
		return rc;
	rc = store_job_end(station_store(s), job->id, how->state, how->why, now);
	if (rc == 0)	/* no CA transaction waits for an ended job */
		rc = store_job_ca_txn_clear(station_store(s), job->id);
	if (rc == 0 && serial != NULL)
		rc = store_received_cert_close(station_store(s), serial, how->cert_status, how->why,
		    now);
	if (rc == 0)
		rc = end_audit(s, job, how, kind, serial);
	if (rc == 0)
		rc = unit_after_failure(s, job, how->blame, kind, how->why, now);
	if (rc == 0)	/* the unit is no longer this job's, whatever became of it */
		rc = store_lease_release_job(station_store(s), job->unit_id, job->id,
		    station_cfg(s)->station_id);
	return rc;
}

/*
 * Ends the job not issued. A certificate already received is revoked at the
 * CA first and then marked revoked here, so that a crash between the two is
 * repaired by the next recovery pass (revoking is idempotent); with a hook
 * (job_abandon) the other way round, which the recovery pass repairs too.
 */
int
job_end_not_issued_how(struct station *s, int64_t job_id, const struct job_end_how *how)
{
	struct store_job job;
	char now[32], late[80], kind[64];
	const char *serial;
	int rc;

	/* what the journal holds (a step done) is committed first: this end is
	 * a transaction of its own */
	(void)job_journal_commit(s);
	/* a certificate the CA made but the station never stored is fetched
	 * first, so that it is revoked and kept like any other */
	if ((rc = job_ca_recover(s, job_id, late, sizeof(late))) != 0)
		log_error("job %lld: asking the CA for a certificate of its request: %s",
		    (long long)job_id, ukey_strerror(rc));
	if ((rc = job_load(s, job_id, &job)) != 0)
		return rc;
	if (job_renew_end_recorded(s, &job, how->why) == 0) {
		/* a renewal past its record: the new certificate stands */
		store_job_clear(&job);
		return 0;
	}
	serial = job.cert_serial;
	jobrule_failure_kind(job.step, how->err, kind, sizeof(kind));
	/* RFC 5280 reason: the certificate's purpose ended before it was used;
	 * the station's own words stay in received_certs.note */
	if (serial != NULL && how->in_tx == NULL)
		job_ca_revoke(s, serial);
	store_now(now);
	if ((rc = store_begin(station_store(s))) != 0)
		goto out;
	rc = end_record(s, &job, how, kind, serial, now);
	if (rc == 0)
		rc = store_commit(station_store(s));
	if (rc != 0) {
		store_rollback(station_store(s));
		log_error("job %lld: recording the end failed: %s", (long long)job_id, ukey_strerror(rc));
		goto out;
	}
	/* with a check under the lock, revoked at the CA only once it passed; a
	 * crash before is repaired at the next start (job_recover_all) */
	if (serial != NULL && how->in_tx != NULL)
		job_ca_revoke(s, serial);
	log_warn("job %lld %s at step %s: %s%s%s", (long long)job_id, how->state, job.step, how->why,
	    serial ? "; revoked certificate " : "", serial ? serial : "");
 out:
	store_job_clear(&job);
	return rc;
}

void
job_end_not_issued(struct station *s, int64_t job_id, const char *state, const char *why,
    const char *cert_status, enum job_blame blame, int err)
{
	struct job_end_how how = { state, why, cert_status, blame, err, NULL, NULL };

	(void)job_end_not_issued_how(s, job_id, &how);
}

/* ---- an operator abandons a suspended job, at any station ---- */

struct abandon {
	const char *who, *remark, *me;
	char *msg;
	size_t msglen;
};

/* Why the job held as h may not be abandoned at station me (in msg,
 * UKEY_ERR_STATE); 0 when it may: suspended, and its lease (if any) this
 * station's, pinned (its station lost it mid-job) or lapsed. */
static int
abandon_refusal(int64_t id, const struct store_job_holder *h, const char *me, char *msg,
    size_t len)
{
	if (strcmp(h->state, "running") == 0 && h->has_lease && h->live)
		snprintf(msg, len, "job %lld is running at station %s (its lease runs until %s); only"
		    " a suspended job can be abandoned: stop it there, or if that station is gone,"
		    " wait for its lease to lapse", (long long)id, h->station, h->until);
	else if (strcmp(h->state, "running") == 0 && h->has_lease)
		snprintf(msg, len, "job %lld is still running at station %s, whose lease lapsed at %s;"
		    " a live station suspends it within %d s, then it can be abandoned", (long long)id,
		    h->station, h->until, JOB_LEASE_RENEW_S);
	else if (strcmp(h->state, "suspended") != 0)
		snprintf(msg, len, "job %lld is %s, not suspended; only a job waiting for its token"
		    " can be abandoned", (long long)id, h->state);
	else if (h->has_lease && h->live && strcmp(h->station, me) != 0)
		snprintf(msg, len, "job %lld is suspended at station %s, which is up (its lease runs"
		    " until %s): abandon it there", (long long)id, h->station, h->until);
	else
		return 0;
	return UKEY_ERR_STATE;
}

/* Inside the end's transaction: the job checked again under its row lock,
 * and the operator's word audited (job.abandon: who, why, whose job). */
static int
abandon_in_tx(struct station *s, const struct store_job *job, void *arg)
{
	struct abandon *a = arg;
	struct store_job_holder h;
	struct json_object *d;
	int rc;

	if ((rc = store_job_holder(station_store(s), job->id, 1, &h)) != 0 ||
	    (rc = abandon_refusal(job->id, &h, a->me, a->msg, a->msglen)) != 0)
		return rc;
	d = json_object_new_object();
	json_object_object_add(d, "remark", json_object_new_string(a->remark));
	json_object_object_add(d, "at_station", json_object_new_string(a->me));
	if (h.has_lease) {
		json_object_object_add(d, "lease_station", json_object_new_string(h.station));
		json_object_object_add(d, "lease", json_object_new_string(h.pinned ? "pinned" :
		    h.live ? "live" : "lapsed"));
	}
	return station_audit(s, a->who, "job.abandon", job->src.order_id, job->unit_id, job->id,
	    job->token_serial, job->bay, d);
}

int
job_abandon(struct station *s, int64_t job_id, const char *who, const char *remark, char *msg,
    size_t msglen)
{
	struct abandon a = { who, remark, station_cfg(s)->station_id, msg, msglen };
	struct job_end_how how = { "aborted", NULL, "revoked", JOB_INTERRUPTED, 0, abandon_in_tx, &a };
	struct store_job_holder h;
	char why[800], whose[128] = "";
	int rc;

	msg[0] = '\0';
	if ((rc = store_job_holder(station_store(s), job_id, 0, &h)) == UKEY_ERR_NOTFOUND)
		snprintf(msg, msglen, "job %lld: no such job", (long long)job_id);
	if (rc != 0 || (rc = abandon_refusal(job_id, &h, a.me, msg, msglen)) != 0)
		return rc;
	if (h.has_lease && strcmp(h.station, a.me) != 0)
		snprintf(whose, sizeof(whose), " (station %s's job, its lease %s)", h.station,
		    h.pinned ? "pinned there" : "lapsed");
	snprintf(why, sizeof(why), "abandoned by %s at station %s while suspended%s: %s", who,
	    a.me[0] ? a.me : "-", whose, remark);
	how.why = why;
	return job_end_not_issued_how(s, job_id, &how);
}
