/* The issuance job: one token, one production unit, driven step by step.
 * Every step is written to the database before it starts and after it ends,
 * so that whatever happens to the daemon or the token, the record says where
 * the job stood. Any interruption before the issuance is recorded ends the
 * job cleanly not issued: a certificate the CA already returned is revoked
 * (and kept in the record), the unit goes back to the queue, and the token,
 * whose SO PIN the station holds, can be wiped and re-used. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "common/err.h"
#include "common/log.h"
#include "orders/route.h"
#include "station/job_steps.h"
#include "station/ordermove.h"
#include "station/station.h"
#include "store/audit.h"
#include "store/store_jobs.h"
#include "store/store_lease.h"
#include "station/bay.h"
#include "station/carevoke.h"
#include "station/job.h"
#include "station/joblease.h"
#include "station/job_renew.h"
#include "station/orderdoc.h"
#include "common/seal.h"
#include "ca/ca.h"

int
job_load(struct station *s, int64_t job_id, struct store_job *out)
{
	return store_job_load(station_store(s), job_id, out);
}

int
job_unseal_blob(struct station *s, const uint8_t *blob, size_t blen, const char *aad,
    struct secret *pin)
{
	uint8_t *plain = NULL;
	size_t plen = 0;
	int rc;

	if ((rc = unseal(station_master_key(s), aad, blob, blen, &plain, &plen)) == 0)
		rc = secret_set(pin, plain, plen);
	secure_wipe(plain, plen);
	free(plain);
	return rc;
}

int
job_unseal_pin(struct station *s, struct json_object *row, const char *key, const char *aad,
    struct secret *pin)
{
	const char *hex = jstr(row, key);
	uint8_t *blob = NULL;
	size_t blen = 0;
	int rc;

	if (hex == NULL)
		return UKEY_ERR_NOTFOUND;
	if ((rc = hex_decode(hex, &blob, &blen)) != 0)
		return rc;
	rc = job_unseal_blob(s, blob, blen, aad, pin);
	free(blob);
	return rc;
}

/* Opens one of the job's own sealed PINs; UKEY_ERR_NOTFOUND when it has none. */
static int
unseal_job_pin(struct station *s, const uint8_t *blob, size_t blen, const char *aad,
    struct secret *pin)
{
	if (blob == NULL)
		return UKEY_ERR_NOTFOUND;
	return job_unseal_blob(s, blob, blen, aad, pin);
}

/* Opens the token's SO PIN sealed in the tokens row (by profile and serial,
 * or by row id when profile is NULL) into pin. */
static int
unseal_token_so(struct station *s, const char *profile, const char *serial, int64_t token_id,
    const char *aad, struct secret *pin)
{
	uint8_t *blob = NULL;
	size_t blen = 0;
	int rc;

	if (profile != NULL)
		rc = store_token_so_pin(station_store(s), profile, serial, &blob, &blen);
	else
		rc = store_token_so_pin_by_id(station_store(s), token_id, &blob, &blen);
	if (rc == 0)
		rc = job_unseal_blob(s, blob, blen, aad, pin);
	free(blob);
	return rc;
}

void
job_fail(struct station *s, struct bay *b, enum job_blame blame, int err, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	(void)job_journal_commit(s);
	if (job_wait_store(s, b))
		return;		/* nothing can be recorded: it goes on when the store is back */
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	job_renew_discard_new(s, b);
	job_end_not_issued(s, b->job_id, "failed", why, "revoked", blame, err);
	b->last_job_id = b->job_id;
	b->job_id = 0;
	secret_clear(&b->user_pin);
	secret_clear(&b->so_pin);
	if (blame == JOB_TOKEN) {
		/* the unit is not to blame: it went back to the queue untouched;
		 * this token gets no other unit until it is taken out */
		bay_set_state(s, b, BAY_REFUSED, "token put aside: job %lld: %s; its unit went back"
		    " to the queue; take the token out (or allow it again: ukeyctl bay wipe --bay %d)",
		    (long long)b->last_job_id, why, b->index);
		station_audit(s, b->operator_name[0] ? b->operator_name : "ukeyd",
		    "bay.token_aside", 0, 0, b->last_job_id, b->token_serial[0] ? b->token_serial :
		    NULL, b->name, json_object_new_string(why));
		return;
	}
	bay_set_state(s, b, BAY_FAILED, "job %lld: %s", (long long)b->last_job_id, why);
}

static void suspend_job(struct station *s, int64_t job_id, const char *why);

void
job_on_worker_lost(struct station *s, struct bay *b, const char *why)
{
	struct store_job job;
	int recorded = 0;

	(void)job_journal_commit(s);
	if (job_wait_store(s, b))
		return;
	if (job_load(s, b->job_id, &job) == 0) {
		recorded = job_is_renewal(&job) && job_renew_is_recorded(s, &job);
		store_job_clear(&job);
	}
	if (recorded)
		/* a renewal past its record: the new certificate stands and the
		 * old key pair is still on the token; the job waits for the token
		 * to come back (any bay) and removes it then */
		suspend_job(s, b->job_id, why);
	else
		job_end_not_issued(s, b->job_id, "aborted", why, "revoked", JOB_INTERRUPTED, 0);
	b->last_job_id = b->job_id;
	b->job_id = 0;
	secret_clear(&b->user_pin);
	secret_clear(&b->so_pin);
}

/*
 * The job's token went away mid-job (or the station stopped): the job waits,
 * suspended at its step, for the same token (same profile and serial) to come
 * back in any bay. A job whose token had no serial yet (a blank SoftHSM2
 * token gets one from C_InitToken) waits too: job_find_suspended() knows it
 * again by the label its C_InitToken gave the token, or, if that never
 * happened, gives it to the next blank token of the same model.
 */
static void
suspend_job(struct station *s, int64_t job_id, const char *why)
{
	struct store_job job;
	struct json_object *d;
	char now[32];
	int rc;

	(void)job_journal_commit(s);
	if (job_load(s, job_id, &job) != 0)
		return;
	store_now(now);
	if ((rc = store_begin(station_store(s))) != 0)
		goto out;
	rc = store_job_suspend(station_store(s), job_id, why, now);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "step", json_object_new_string(job.step));
		json_object_object_add(d, "reason", json_object_new_string(why));
		rc = station_audit(s, "ukeyd", "job.suspend", job.src.order_id, job.unit_id, job_id,
		    job.token_serial, job.bay, d);
	}
	if (rc == 0)
		rc = store_commit(station_store(s));
	if (rc != 0) {
		store_rollback(station_store(s));
		log_error("job %lld: recording the suspension failed: %s", (long long)job_id,
		    ukey_strerror(rc));
	} else {
		log_warn("job %lld suspended at step %s: %s; it resumes when token %s is back",
		    (long long)job_id, job.step, why, job.token_serial ? job.token_serial :
		    "(no serial yet: the same or another blank token)");
	}
 out:
	store_job_clear(&job);
}

void
job_on_token_left(struct station *s, struct bay *b, const char *why)
{
	(void)job_journal_commit(s);
	if (job_wait_store(s, b))
		return;
	suspend_job(s, b->job_id, why);
	b->last_job_id = b->job_id;
	b->job_id = 0;
	b->retry_at_ms = 0;
	b->ca_attempts = 0;
	secret_clear(&b->user_pin);
	secret_clear(&b->so_pin);
	secret_clear(&b->wipe_so);
}

void
job_store_back(struct station *s, struct bay *b)
{
	int64_t id = b->store_wait_job;

	if (id == 0)
		return;
	b->store_wait_job = 0;
	suspend_job(s, id, "the database connection was lost during the job");
}

/* Where a suspended job goes on (jobrule_resume_step). */
static enum step
resume_step(struct station *s, const struct store_job *job)
{
	struct store_job_step last = { 0 };
	int renew = job_is_renewal(job);
	enum step st;

	if (store_job_last_step(station_store(s), job->id, &last) != 0)
		return renew ? STEP_IDENTIFY : STEP_INIT_TOKEN;
	st = renew ? jobrule_renew_resume_step(last.step, last.phase) :
	    jobrule_resume_step(last.step, last.phase);
	store_job_step_clear(&last);
	/* a journal of an earlier version may lack init_token's done mark
	 * although its result was recorded: the SO PIN moved to the token row
	 * (store_job_set_token) only when C_InitToken had gone through */
	if (!renew && st == STEP_INIT_TOKEN && job->so_pin_enc == NULL && job->token_serial != NULL)
		st = STEP_GENERATE_KEY;
	return st;
}

/* The bay's job runs from now; the first job after an arrival gives the
 * arrival-to-job latency. */
static void
bay_job_started(struct bay *b, int64_t job_id)
{
	b->job_id = job_id;
	b->ca_attempts = 0;
	b->pin_unblocked = 0;	/* the PIN to show from now on is this job's */
	b->started_ms = now_ms();
	b->step_began_ms = 0;
	b->step_ran = 0;	/* the steps of this job from now */
	if (b->arrived_ms > 0) {
		b->arrival_to_job_ms = b->started_ms - b->arrived_ms;
		/* where it went: to the probe's request (the loop and the
		 * arrival's record), the worker's probe with the loop's wait for
		 * its reply, and from the reply to the job's start */
		log_info("bay %s: job %lld started %lld ms after the token arrived (probe asked"
		    " after %lld ms, answered in %lld ms, job %lld ms after)", b->name,
		    (long long)job_id, (long long)b->arrival_to_job_ms,
		    (long long)(b->probe_sent_ms - b->arrived_ms),
		    (long long)(b->probed_ms - b->probe_sent_ms),
		    (long long)(b->started_ms - b->probed_ms));
		b->arrived_ms = 0;
	}
}

/* Whether the token in b reports itself initialised (probe's "initialized"). */
static int
token_initialized(const struct bay *b)
{
	return json_object_get_boolean(json_object_object_get(b->token, "initialized"));
}

/*
 * Finds the suspended job that the token in bay b belongs to: the one with
 * its profile and serial; else, for a token the station does not know, a job
 * interrupted before its token had a serial. Such a job is known by the
 * device its init_token began on (the detection source's description: the
 * virtual token, the USB port, the reader) and, if the token is initialised,
 * by the label its C_InitToken wrote; a job that never began init_token
 * touched no token, and any blank token of the model takes it. Returns 0 with
 * *job_id, or UKEY_ERR_NOTFOUND.
 */
static int
job_find_suspended(struct station *s, struct bay *b, int64_t *job_id)
{
	int initialized = token_initialized(b);
	const char *label = jstr(b->token, "label");
	char device[sizeof(b->device) + 16];
	int64_t known = 0;

	const char *me = station_cfg(s)->station_id;

	if (b->token_serial[0] != '\0' && store_job_suspended_by_serial(station_store(s), me,
	    b->profile->name, b->token_serial, job_id) == 0)
		return 0;
	snprintf(device, sizeof(device), "%s%s", JOB_DEVICE_NOTE, b->device);
	if (!initialized)
		return store_job_suspended_blank(station_store(s), me, b->profile->name, device,
		    job_id);
	if (label == NULL || store_token_known_count(station_store(s), b->profile->name, b->token_serial,
	    &known) != 0 || known)
		return UKEY_ERR_NOTFOUND;
	return store_job_suspended_by_label(station_store(s), me, b->profile->name, label, device,
	    job_id);
}

/* Opens the PINs a job resumed at step st on the token in b needs: its
 * user PIN; before init_token also its SO PIN, and the SO PIN that wipes the
 * token when it is initialised already. */
static int
resume_pins(struct station *s, struct bay *b, const struct store_job *job, enum step st)
{
	int initialized = token_initialized(b);
	const char *label = jstr(b->token, "label");
	char aad[160];
	int rc;

	snprintf(aad, sizeof(aad), "job:%lld", (long long)job->id);
	if ((rc = unseal_job_pin(s, job->user_pin_enc, job->user_pin_enc_len, aad,
	    &b->user_pin)) != 0 || st != STEP_INIT_TOKEN)
		return rc;
	if ((rc = unseal_job_pin(s, job->so_pin_enc, job->so_pin_enc_len, aad, &b->so_pin)) != 0)
		return rc;
	if (initialized && label != NULL && strcmp(label, job->label) == 0) {
		/* the interrupted C_InitToken went through: its SO PIN is the job's */
		rc = secret_set(&b->wipe_so, b->so_pin.p, b->so_pin.len);
	} else if (initialized) {
		/* not initialised by this job yet: the SO PIN the station set before */
		snprintf(aad, sizeof(aad), "token:%s:%s", b->profile->name, b->token_serial);
		rc = unseal_token_so(s, b->profile->name, b->token_serial, 0, aad, &b->wipe_so);
	}
	return rc;
}

/* Resumes the suspended job job_id on the token now in bay b. */
static int
job_resume(struct station *s, struct bay *b, int64_t job_id)
{
	struct store_job job;
	struct json_object *d;
	char now[32];
	enum step st;
	int rc;

	if ((rc = job_load(s, job_id, &job)) != 0)
		return rc;
	secret_clear(&b->user_pin);
	secret_clear(&b->so_pin);
	secret_clear(&b->wipe_so);
	st = resume_step(s, &job);
	/* a renewal keeps no PIN: the holder enters it again */
	if (!job_is_renewal(&job) && (rc = resume_pins(s, b, &job, st)) != 0)
		goto out;
	store_now(now);
	if ((rc = store_begin(station_store(s))) != 0)
		goto out;
	rc = store_job_resume(station_store(s), job_id, b->name, now);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "step", json_object_new_string(job_step_names[st]));
		rc = station_audit(s, b->operator_name[0] ? b->operator_name : "ukeyd", "job.resume",
		    job.src.order_id, job.unit_id, job_id, b->token_serial, b->name, d);
	}
	if (rc == 0)
		rc = store_commit(station_store(s));
	if (rc != 0) {
		store_rollback(station_store(s));
		goto out;
	}
	bay_job_started(b, job_id);
	bay_set_state(s, b, BAY_WORKING, "job %lld resumed at step %s", (long long)job_id,
	    job_step_names[st]);
	log_info("bay %s: job %lld resumed at step %s on token %s", b->name, (long long)job_id,
	    job_step_names[st], b->token_serial);
	if (job_is_renewal(&job))
		job_renew_resume(s, b, &job, st);
	else
		job_step_run(s, b, st);
 out:
	if (rc != 0) {
		secret_clear(&b->user_pin);
		secret_clear(&b->so_pin);
		secret_clear(&b->wipe_so);
	}
	store_job_clear(&job);
	return rc;
}

int
job_recover_all(struct station *s)
{
	struct store_job_ref *jobs = NULL;
	struct store_received_cert *certs = NULL;
	size_t i, n = 0;
	int rc;

	/* no token is in any bay at start: a job left running was interrupted,
	 * and waits for its token to be detected again */
	if ((rc = store_jobs_running(station_store(s), station_cfg(s)->station_id, &jobs,
	    &n)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		char why[128];

		snprintf(why, sizeof(why), "station restarted during step %s", jobs[i].step);
		suspend_job(s, jobs[i].id, why);
	}
	store_job_refs_free(jobs, n);
	/* certificates marked revoked (or superseded) here but maybe not yet at
	 * the CA (crash in between) */
	if ((rc = store_received_certs_unwanted(station_store(s), &certs, &n)) != 0)
		return rc;
	for (i = 0; i < n; i++)
		carevoke_submit(s, certs[i].serial, certs[i].reason, NULL, NULL, NULL);
	store_received_certs_free(certs, n);
	/* certificates replaced (补办) but still live: a crash after the record */
	(void)job_replace_resume(s);
	return 0;
}

/* ---- starting a job ---- */

/* Whether the station could wipe the initialised token in b (C_InitToken
 * with the SO PIN it sealed when it initialised the token): 0 with the
 * token's row id in *token_id, or UKEY_ERR_NOTBLANK with why saying what
 * keeps it from doing so; another UKEY_ERR_* for a store failure. */
static int
wipe_check(struct station *s, struct bay *b, int64_t *token_id, char *why, size_t whylen)
{
	struct store_token_known known = { 0 };
	int rc;

	*token_id = 0;
	rc = store_token_lookup(station_store(s), b->profile->name, b->token_serial, &known);
	if (rc == UKEY_ERR_NOTFOUND) {
		snprintf(why, whylen, "token %s is not blank (initialised, %lld public objects) and its"
		    " SO PIN is unknown to this station; it cannot be wiped here", b->token_serial,
		    (long long)jint(b->token, "public_objects"));
		return UKEY_ERR_NOTBLANK;
	}
	if (rc != 0)
		return rc;
	if (known.issued != NULL) {
		snprintf(why, whylen, "token %s holds issued certificate %s; it is not wiped",
		    b->token_serial, known.issued);
		rc = UKEY_ERR_NOTBLANK;
	} else if (!known.have_so) {
		snprintf(why, whylen, "token %s is not blank and this station holds no SO PIN for it;"
		    " it cannot be wiped here", b->token_serial);
		rc = UKEY_ERR_NOTBLANK;
	} else if (b->profile->quirks & FW_QUIRK_INIT_NEEDS_BLANK) {
		snprintf(why, whylen, "token %s is not blank and model %s can only be initialised"
		    " when blank (quirk init-needs-blank); erase it with the vendor's tool first",
		    b->token_serial, b->profile->name);
		rc = UKEY_ERR_NOTBLANK;
	} else {
		*token_id = known.id;
		rc = 0;
	}
	store_token_known_clear(&known);
	return rc;
}

int
job_wipe_check(struct station *s, struct bay *b, char *why, size_t whylen)
{
	int64_t token_id;

	if (b->profile == NULL || b->token == NULL ||
	    !token_initialized(b)) {
		snprintf(why, whylen, "the token is blank: there is nothing to wipe");
		return UKEY_ERR_STATE;
	}
	if (!b->profile->init_token) {
		snprintf(why, whylen, "profile %s: the station cannot initialise this model's"
		    " tokens (pkcs11.init_token = no)", b->profile->name);
		return UKEY_ERR_STATE;
	}
	return wipe_check(s, b, &token_id, why, whylen);
}

static int
token_refusal(struct station *s, struct bay *b, char *why, size_t whylen)
{
	int initialized = token_initialized(b);
	int64_t token_id;
	char aad[160];
	int rc;

	if (!initialized)
		return 0;
	if ((rc = wipe_check(s, b, &token_id, why, whylen)) != 0)
		return rc;
	if (!b->allow_wipe) {
		snprintf(why, whylen, "token %s is not blank (initialised by this station, no"
		    " certificate issued); allow wiping it with: ukeyctl bay wipe --bay %d",
		    b->token_serial, b->index);
		return UKEY_ERR_NOTBLANK;
	}
	snprintf(aad, sizeof(aad), "token:%s:%s", b->profile->name, b->token_serial);
	rc = unseal_token_so(s, NULL, NULL, token_id, aad, &b->wipe_so);
	if (rc != 0)
		snprintf(why, whylen, "token %s: the stored SO PIN cannot be opened (%s)",
		    b->token_serial, ukey_strerror(rc));
	return rc;
}

int
job_new_user_pin(const struct fw_profile *p, struct secret *pin)
{
	if (p->user_pin_random)
		return secret_random_digits(pin, (size_t)p->user_pin_length);
	return secret_set(pin, p->initial_user_pin, strlen(p->initial_user_pin));
}

static int
seal_pin(struct station *s, const struct secret *pin, const char *aad, uint8_t **out, size_t *len)
{
	return seal(station_master_key(s), aad, pin->p, pin->len, out, len);
}

/* A job about to start on the token in a bay: the unit chosen, what its
 * subject and label are, and the PINs the token gets. */
struct job_start {
	int64_t unit_id, order_id, job_id;
	const char *renews;		/* a renewal: the certificate it replaces (borrowed) */
	const struct certprof *p;
	uint8_t *subject;
	size_t subject_len;
	char *label;
	struct secret so, user;
};

static void
job_start_clear(struct job_start *js)
{
	secret_clear(&js->so);
	secret_clear(&js->user);
	OPENSSL_free(js->subject);
	free(js->label);
	memset(js, 0, sizeof(*js));
}

/* Refuses the token in b when no job may start on it (a model the station
 * cannot initialise, a token not blank that it may not wipe): the bay shows
 * refused, audited. Returns 1 when refused, else 0. */
static int
start_refused(struct station *s, struct bay *b)
{
	char why[512];

	if (!b->profile->init_token) {
		/* every job starts with C_InitToken; this model cannot take it */
		snprintf(why, sizeof(why), "profile %s: the station cannot initialise this model's"
		    " tokens (pkcs11.init_token = no); it is not used for production", b->profile->name);
	} else if (token_refusal(s, b, why, sizeof(why)) == 0) {
		return 0;
	}
	bay_set_state(s, b, BAY_REFUSED, "%s", why);
	station_audit(s, b->operator_name, "bay.token_refused", 0, 0, 0, b->token_serial,
	    b->name, json_object_new_string(why));
	return 1;
}

/* The first of units from index `from` on that the token model in b can
 * take whose subject and label can be made; a unit whose cannot is held for
 * a person, audited. Fills js (unit_id 0 when none is left) and returns the
 * index after the unit chosen. */
static size_t
choose_unit(struct station *s, struct bay *b, const struct store_unit_claim *units, size_t n,
    size_t from, struct job_start *js)
{
	struct json_object *d;
	char why[512], now[32];
	int years = 0;
	size_t i;

	OPENSSL_free(js->subject);
	free(js->label);
	js->subject = NULL;
	js->label = NULL;
	js->unit_id = js->job_id = 0;
	for (i = from; i < n; i++) {
		const struct store_unit_claim *u = &units[i];
		const struct certprof *cp = certprof_set_find(station_cp(s), u->cert_profile);

		if (cp != NULL && !fw_profile_supports(b->profile, certprof_key_alg(cp)))
			continue;	/* another token model can take this one */
		if (job_unit_subject(s, u->unit_id, b->profile, &js->p, &js->subject,
		    &js->subject_len, &js->label, &years, why, sizeof(why)) != 0) {
			/* refused before any token is touched; hold the unit for a person */
			store_now(now);
			(void)store_unit_hold(station_store(s), u->unit_id, why, now);
			d = json_object_new_object();
			json_object_object_add(d, "reason", json_object_new_string(why));
			station_audit(s, "ukeyd", "unit.hold", u->order_id, u->unit_id, 0,
			    NULL, b->name, d);
			log_error("unit %lld held: %s", (long long)u->unit_id, why);
			continue;
		}
		js->unit_id = u->unit_id;
		js->order_id = u->order_id;
		return i + 1;
	}
	return n;
}

/* The token's new SO PIN by the model's charset and its user PIN. */
static int
choose_pins(const struct fw_profile *fw, struct job_start *js)
{
	int rc;

	switch (fw->so_pin_charset) {
	case FW_PIN_DIGITS:
		rc = secret_random_digits(&js->so, (size_t)fw->so_pin_length);
		break;
	case FW_PIN_HEX:
		rc = secret_random_hex(&js->so, (size_t)fw->so_pin_length);
		break;
	default:
		rc = secret_random_alnum(&js->so, (size_t)fw->so_pin_length);
	}
	if (rc != 0)
		return rc;
	return job_new_user_pin(fw, &js->user);
}

/* Seals the job's PINs and stores them; inside the job's transaction. */
static int
store_pins(struct station *s, const struct job_start *js)
{
	uint8_t *so_enc = NULL, *user_enc = NULL;
	size_t so_len = 0, user_len = 0;
	char aad[64];
	int rc;

	snprintf(aad, sizeof(aad), "job:%lld", (long long)js->job_id);
	if ((rc = seal_pin(s, &js->so, aad, &so_enc, &so_len)) == 0 &&
	    (rc = seal_pin(s, &js->user, aad, &user_enc, &user_len)) == 0)
		rc = store_job_set_pins(station_store(s), js->job_id, so_enc, so_len, user_enc, user_len);
	if (so_enc) {
		secure_wipe(so_enc, so_len);
		free(so_enc);
	}
	if (user_enc) {
		secure_wipe(user_enc, user_len);
		free(user_enc);
	}
	return rc;
}

/* One transaction: the job row with its sealed PINs, the unit taken with
 * this station's lease (store_unit_take), job.start audited and the order in
 * production. Sets js->job_id; UKEY_ERR_BUSY, with nothing written, when
 * another station took the unit first. */
static int
insert_job(struct station *s, struct bay *b, struct job_start *js)
{
	const char *actor = b->operator_name[0] ? b->operator_name : "ukeyd";
	const struct store_job_new jn = {
		.unit_id = js->unit_id, .bay = b->name, .profile = b->profile->name,
		.token_serial = b->token_serial[0] ? b->token_serial : NULL,
		.key_alg = certprof_key_alg(js->p), .subject = js->subject,
		.subject_len = js->subject_len, .label = js->label, .operator_name = actor,
		.kind = js->renews ? "renew" : "issue", .renews_serial = js->renews,
	};
	struct json_object *d;
	char now[32];
	int rc, taken = 0;

	store_now(now);
	/* not flushed on its own: nothing is done to the token before the
	 * next step's begin, whose flushed commit takes this one along
	 * (docs/jobs.md, commit 1) */
	if ((rc = store_begin_lazy(station_store(s))) != 0)
		return rc;
	/* a renewal's PIN is the holder's, never stored */
	if ((rc = store_job_insert(station_store(s), &jn, now, &js->job_id)) == 0 && !js->renews)
		rc = store_pins(s, js);
	if (rc == 0 && (rc = store_unit_take(station_store(s), js->unit_id, js->job_id,
	    station_cfg(s)->station_id, JOB_LEASE_SECS, now, &taken)) == 0 && !taken)
		rc = UKEY_ERR_BUSY;
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "profile", json_object_new_string(certprof_name(js->p)));
		json_object_object_add(d, "key_alg", json_object_new_string(certprof_key_alg(js->p)));
		json_object_object_add(d, "token_model", json_object_new_string(b->profile->name));
		json_object_object_add(d, "wipe", json_object_new_boolean(b->wipe_so.p != NULL));
		if (js->renews)
			json_object_object_add(d, "renews", json_object_new_string(js->renews));
		rc = station_audit(s, actor, "job.start", js->order_id, js->unit_id, js->job_id,
		    b->token_serial[0] ? b->token_serial : NULL, b->name, d);
	}
	/* the order's first claimed unit puts it in production */
	if (rc == 0)
		rc = station_order_event(s, actor, js->order_id, OE_START_PRODUCTION, now);
	if (rc == 0)
		rc = store_commit(station_store(s));
	if (rc != 0)
		store_rollback(station_store(s));
	return rc;
}

/* While the store is down nothing new starts and nothing resumes, since
 * neither could be recorded: the token in b waits, idle, and starts when the
 * store is back (bay_kick_idle). Returns 1 then. */
static int
token_waits_store(struct station *s, struct bay *b)
{
	char why[400];

	if (!station_store_down(s, why, sizeof(why)))
		return 0;
	bay_set_state(s, b, BAY_IDLE, "token %s waits: the database is %s",
	    b->token_serial[0] ? b->token_serial : "(blank)", why);
	return 1;
}

/* The token in b holds the certificate renewal unit u renews: its renewal
 * job starts by identifying the token; nothing is changed on it before the
 * holder's PIN opened it. */
static void
renewal_start(struct station *s, struct bay *b, const struct store_unit_claim *u,
    struct job_start *js)
{
	int rc;

	choose_unit(s, b, u, 1, 0, js);
	if (js->unit_id == 0) {
		bay_set_state(s, b, BAY_REFUSED, "token %s: its renewal unit %lld cannot be made on"
		    " this token model (or was held); the token was left as it is", b->token_serial,
		    (long long)u->unit_id);
		return;
	}
	js->renews = u->renews_cert;
	if ((rc = insert_job(s, b, js)) != 0) {
		if (!station_store_lost(s) || !token_waits_store(s, b))
			bay_set_state(s, b, BAY_FAILED, "cannot start the renewal: %s",
			    ukey_strerror(rc));
		return;
	}
	bay_job_started(b, js->job_id);
	secret_clear(&b->user_pin);
	bay_set_state(s, b, BAY_WORKING, "job %lld: renewal of certificate %s (unit %lld)",
	    (long long)js->job_id, js->renews, (long long)js->unit_id);
	job_test_crash_point("claimed", "done");
	job_step_run(s, b, STEP_IDENTIFY);
}

/* On a shared database: whether the token in b belongs to a job suspended
 * at another station (its lease pinned there). Nothing starts on it here;
 * the bay says where it goes back. */
static int
suspended_elsewhere(struct station *s, struct bay *b)
{
	char other[128];
	int64_t job_id;

	if (b->token_serial[0] == '\0' || store_job_suspended_elsewhere(station_store(s),
	    station_cfg(s)->station_id, b->profile->name, b->token_serial, &job_id, other,
	    sizeof(other)) != 0)
		return 0;
	bay_set_state(s, b, BAY_REFUSED, "token %s belongs to job %lld, suspended at station %s:"
	    " put it back into a bay of that station; the token was left as it is",
	    b->token_serial, (long long)job_id, other);
	return 1;
}

void
job_start_if_possible(struct station *s, struct bay *b)
{
	struct store_unit_claim *units = NULL;
	struct job_start js = { 0 };
	size_t n_units = 0, next;
	int64_t job_id;
	int rc;

	if (b->job_id != 0 || b->worker_fd < 0 || b->pending_op[0] || b->state == BAY_EMPTY ||
	    token_waits_store(s, b))
		return;
	if (job_find_suspended(s, b, &job_id) == 0) {
		/* this token's job was interrupted: it goes on, nothing new starts */
		if ((rc = job_resume(s, b, job_id)) != 0)
			bay_set_state(s, b, BAY_FAILED, "cannot resume job %lld: %s",
			    (long long)job_id, ukey_strerror(rc));
		return;
	}
	if (suspended_elsewhere(s, b))
		return;
	/* routing: a token holding a certificate of ours is only ever given the
	 * renewal that names it; a blank one only new orders' units */
	rc = route_units_for_token(station_store(s), b->profile->name, b->token_serial, 200, &units,
	    &n_units);
	if (rc != 0)
		goto out;
	if (n_units > 0 && strcmp(units[0].type, "renewal") == 0) {
		renewal_start(s, b, &units[0], &js);
		goto out;
	}
	if (start_refused(s, b))
		goto out;
	/* PINs are chosen before the job row exists so that the row never lacks
	 * them; a unit another station took meanwhile gives way to the next */
	next = choose_unit(s, b, units, n_units, 0, &js);
	if (js.unit_id != 0)
		rc = choose_pins(b->profile, &js);
	while (js.unit_id != 0 && rc == 0 && (rc = insert_job(s, b, &js)) == UKEY_ERR_BUSY) {
		rc = 0;
		next = choose_unit(s, b, units, n_units, next, &js);
	}
	if (js.unit_id == 0) {
		bay_set_state(s, b, BAY_IDLE, "token %s ready; no queued certificate for this model",
		    b->token_serial[0] ? b->token_serial : "(blank)");
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	bay_job_started(b, js.job_id);
	secret_clear(&b->user_pin);
	b->user_pin = js.user;
	memset(&js.user, 0, sizeof(js.user));
	secret_clear(&b->so_pin);
	b->so_pin = js.so;
	memset(&js.so, 0, sizeof(js.so));
	bay_set_state(s, b, BAY_WORKING, "job %lld, unit %lld, profile %s", (long long)js.job_id,
	    (long long)js.unit_id, certprof_name(js.p));
	job_test_crash_point("claimed", "done");
	job_step_run(s, b, STEP_INIT_TOKEN);
 out:
	if (rc != 0 && station_store_lost(s))
		(void)token_waits_store(s, b);
	else if (rc != 0 && js.unit_id != 0)
		bay_set_state(s, b, BAY_FAILED, "cannot start a job: %s", ukey_strerror(rc));
	job_start_clear(&js);
	store_unit_claims_free(units, n_units);
}
