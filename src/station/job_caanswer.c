/* The CA thread's answers to the issuance job's requests (loop context):
 * a certificate goes on to cert_check, "waiting" is persisted and polled
 * later, a refusal ends the job; an answer for a job no longer in a bay is
 * stored all the same. The requests are made in job_ca.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/certcheck.h"
#include "common/err.h"
#include "common/log.h"
#include "station/bay.h"
#include "station/carevoke.h"
#include "station/cathread.h"
#include "station/job.h"
#include "station/job_steps.h"
#include "station/station.h"
#include "store/store_jobs.h"

static struct bay *
bay_of_job(struct station *s, int64_t job_id)
{
	int i;

	for (i = 0; i < station_n_bays(s); i++)
		if (station_bay(s, i)->job_id == job_id)
			return station_bay(s, i);
	return NULL;
}

/* A certificate for a job that is in no bay: stored first; a job that
 * waits (token away, station stopping) goes on at cert_check when resumed;
 * one that ended meanwhile (abandoned, its worker lost) has it revoked, as
 * its end would have, and the record says so. */
static void
late_cert(struct station *s, const struct store_job *job, const struct cacall *c)
{
	unsigned char *der = NULL;
	struct json_object *d;
	char serial[80], now[32], why[200];
	int n, rc, ended = strcmp(job->state, "running") != 0 && strcmp(job->state, "suspended") != 0;

	if ((n = i2d_X509(c->cert, &der)) <= 0 || cert_serial_hex(c->cert, serial, sizeof(serial)) != 0) {
		log_error("job %lld: the CA's certificate cannot be encoded", (long long)job->id);
		goto out;
	}
	rc = job->cert_serial != NULL && strcmp(job->cert_serial, serial) == 0 ? 0 :
	    job_ca_record_received(s, job->id, job->unit_id, serial, der, (size_t)n, c->request_key);
	if (rc != 0 && rc != UKEY_ERR_EXISTS) {
		log_error("job %lld: storing certificate %s from the CA: %s", (long long)job->id, serial,
		    ukey_strerror(rc));
		goto out;
	}
	if (!ended) {
		(void)job_step_mark(s, job->id, STEP_CA_SUBMIT, "done", serial);
		log_info("job %lld: certificate %s stored; the job goes on at cert_check when its"
		    " token is back", (long long)job->id, serial);
		goto out;
	}
	snprintf(why, sizeof(why), "the CA answered after job %lld had ended (%s)",
	    (long long)job->id, job->state);
	store_now(now);
	if ((rc = store_begin(station_store(s))) != 0)
		goto out;
	rc = store_received_cert_close(station_store(s), serial, "revoked", why, now);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "serial", json_object_new_string(serial));
		json_object_object_add(d, "reason", json_object_new_string(why));
		rc = station_audit(s, "ukeyd", "job.late_certificate", job->src.order_id,
		    job->unit_id, job->id, job->token_serial, job->bay, d);
	}
	if (rc == 0)
		rc = store_commit(station_store(s));
	if (rc != 0) {
		store_rollback(station_store(s));
		log_error("job %lld: recording certificate %s revoked: %s", (long long)job->id, serial,
		    ukey_strerror(rc));
		goto out;
	}
	log_warn("job %lld: %s; certificate %s revoked", (long long)job->id, why, serial);
	job_ca_revoke(s, serial);
 out:
	OPENSSL_free(der);
}

static void
answer_cert(struct station *s, struct bay *b, const struct store_job *job, struct cacall *c)
{
	int rc;

	job_test_crash_point("ca_submit", "returned");
	if (b == NULL) {
		late_cert(s, job, c);
		return;
	}
	if ((rc = job_ca_store_answer(s, b, job, c->cert, c->request_key)) == 1)
		return;
	if (rc != 0) {
		job_fail(s, b, JOB_OTHER, rc, "ca_submit: %s", ukey_strerror(rc));
		return;
	}
	b->ca_attempts = 0;
	job_step_run(s, b, STEP_CERT_CHECK);
}

/* The CA holds the request: its transaction is persisted (the first time
 * journalled and audited) and polled after the checkAfter it asked for. */
static void
answer_waiting(struct station *s, struct bay *b, const struct store_job *job,
    const struct cacall *c)
{
	struct store_ca_txn t;
	char now[32], detail[160];
	int after = c->txn.check_after < 1 ? 1 : c->txn.check_after > 3600 ? 3600 :
	    c->txn.check_after;
	int rc;

	job_ca_txn_to_store(&t, &c->txn);
	store_now(now);
	if ((rc = store_job_ca_txn_set(station_store(s), job->id, &t, now)) != 0) {
		log_error("job %lld: persisting the CA's transaction: %s", (long long)job->id,
		    ukey_strerror(rc));
		if (b != NULL)
			job_fail(s, b, JOB_OTHER, rc, "ca_submit: persisting the CA's transaction: %s",
			    ukey_strerror(rc));
		return;
	}
	snprintf(detail, sizeof(detail), "waiting: the CA holds the request (PKIStatus waiting);"
	    " poll in %d s", after);
	if (c->op == CACALL_ISSUE)
		(void)job_step_mark(s, job->id, STEP_CA_SUBMIT, "begin", detail);
	if (b == NULL)
		return;		/* polled again when the job goes on */
	b->retry_at_ms = now_ms() + (int64_t)after * 1000;
	bay_set_state(s, b, BAY_WORKING, "job %lld waiting for the CA (PKIStatus waiting);"
	    " next poll in %d s", (long long)job->id, after);
}

/* The poll of a request sent before the station stopped got no certificate
 * and no "waiting": the CA did not complete that transaction (whatever it
 * issued in it was never confirmed, so it must not publish it, RFC 4210
 * 5.3.18). Audited as job.ca_unanswered; the job asks anew. */
static void
answer_unanswered(struct station *s, struct bay *b, const struct store_job *job,
    const struct cacall *c)
{
	struct json_object *d;
	char *tid = hex_encode(c->txn.tid, c->txn.tid_len);
	int rc;

	d = json_object_new_object();
	json_object_object_add(d, "transaction_id", json_object_new_string(tid ? tid : ""));
	json_object_object_add(d, "ca_said", json_object_new_string(c->error[0] ? c->error :
	    ukey_strerror(c->rc)));
	json_object_object_add(d, "reason", json_object_new_string("the station stopped after"
	    " sending its request and before recording the CA's answer; the CA did not complete"
	    " that transaction and never got certConf for it; asked again"));
	free(tid);
	if ((rc = store_job_ca_txn_clear(station_store(s), job->id)) == 0)
		rc = station_audit(s, "ukeyd", "job.ca_unanswered", job->src.order_id, job->unit_id,
		    job->id, job->token_serial, job->bay, d);
	else
		json_object_put(d);
	if (rc != 0)
		log_error("job %lld: recording the unanswered request: %s", (long long)job->id,
		    ukey_strerror(rc));
	log_warn("job %lld: the request sent before the station stopped was not completed by the"
	    " CA (%s); asking again", (long long)job->id, c->error);
	if (b != NULL && rc == 0)
		job_ca_submit(s, b);
}

static void
answer_error(struct station *s, struct bay *b, const struct store_job *job,
    const struct cacall *c)
{
	const char *what = c->error[0] ? c->error : ukey_strerror(c->rc);

	if (c->op == CACALL_POLL && c->unanswered && c->rc != UKEY_ERR_UNAVAIL) {
		answer_unanswered(s, b, job, c);
		return;
	}
	if (b == NULL) {
		log_warn("job %lld (%s): the CA's answer came while the job was in no bay: %s; it"
		    " asks again when it goes on", (long long)job->id, job->state, what);
		return;
	}
	if (c->rc == UKEY_ERR_UNAVAIL) {
		job_ca_retry_later(s, b);
		return;
	}
	(void)store_job_ca_txn_clear(station_store(s), job->id);
	job_fail(s, b, c->rc == UKEY_ERR_DB ? JOB_OTHER : jobrule_ca_blame(c->rc), c->rc,
	    "ca_submit: the CA refused the request: %s", what);
}

/* One answer of the CA thread; with stopping, certificates are only
 * stored (the loop has ended: the jobs go on after the restart). */
static void
ca_answer(struct station *s, struct cacall *c, int stopping)
{
	struct store_job job = { 0 };
	struct bay *b;
	int rc;

	if (c->op == CACALL_REVOKE) {
		carevoke_answer(s, c);
		return;
	}
	if ((rc = job_load(s, c->job_id, &job)) != 0) {
		log_error("job %lld: the CA answered, but the job cannot be read: %s",
		    (long long)c->job_id, ukey_strerror(rc));
		return;
	}
	b = stopping ? NULL : bay_of_job(s, c->job_id);
	if (c->rc == 0)
		answer_cert(s, b, &job, c);
	else if (c->rc == UKEY_ERR_BUSY)
		answer_waiting(s, b, &job, c);
	else
		answer_error(s, b, &job, c);
	store_job_clear(&job);
}

/* A certificate the CA thread holds before confirming it (CMP certConf):
 * recorded as received first, so that the CA hears it is taken only once
 * it is in the record; if it cannot be recorded it is refused to the CA. */
void
job_ca_unconfirmed(void *arg)
{
	struct station *s = arg;
	struct cathread *t = station_cathread(s);
	struct store_job job = { 0 };
	unsigned char *der = NULL;
	struct cacall *c;
	char serial[80] = "";
	int64_t other = 0;
	int n, rc;

	if (t == NULL || (c = cathread_unconfirmed(t)) == NULL)
		return;
	job_test_crash_point("ca_submit", "returned");
	if ((rc = job_load(s, c->job_id, &job)) == 0) {
		if ((n = i2d_X509(c->unconfirmed, &der)) <= 0 ||
		    cert_serial_hex(c->unconfirmed, serial, sizeof(serial)) != 0)
			rc = UKEY_ERR_CRYPTO;
		else
			rc = job_ca_record_received(s, job.id, job.unit_id, serial, der, (size_t)n,
			    c->request_key);
	}
	if (rc == UKEY_ERR_EXISTS && store_received_cert_job(station_store(s), serial, &other) == 0 &&
	    other == c->job_id)
		rc = 0;		/* this job's, recorded before */
	if (rc != 0)
		log_error("job %lld: recording certificate %s before confirming it to the CA: %s;"
		    " the CA is told it is refused", (long long)c->job_id, serial, ukey_strerror(rc));
	else
		job_test_crash_point("ca_submit", "recorded");
	cathread_recorded(t, c, rc == 0);
	OPENSSL_free(der);
	store_job_clear(&job);
}

void
job_ca_answers(struct station *s, int stopping)
{
	struct cacall *list, *c, *next;

	if (station_cathread(s) == NULL)
		return;
	/* the pipe is emptied first: a certificate handed over after the check
	 * below writes to it again and wakes the loop */
	list = cathread_answers(station_cathread(s));
	job_ca_unconfirmed(s);
	for (c = list; c != NULL; c = next) {
		next = c->next;
		ca_answer(s, c, stopping);
		cacall_free(c);
	}
}
