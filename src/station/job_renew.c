/* Renewing the certificate on a token a customer brings back (docs/jobs.md,
 * "Renewal"): the steps an issuance does not have. The token is identified by
 * the certificate the order renews (identify), the holder's PIN opens it
 * (login; typed at the station with bay.enter_pin, or, on an operator's word,
 * a new one set with the station's sealed SO PIN), the issuance's steps make
 * and record the new key pair and certificate, and only then is the old key
 * pair and certificate removed from the token (discard_old). Loop context. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/seal.h"
#include "station/control.h"
#include "station/job_renew.h"
#include "station/job_steps.h"
#include "store/store_renewleft.h"
#include "store/store_revoke.h"
#include "station/carevoke.h"
#include "ca/ca.h"

#define REMARK_MAX 500

/* A worker request carrying the holder's PIN (bay_send wipes it), and the
 * CKA_ID of the objects a discard removes when id is not NULL. */
static struct json_object *
pin_request(const struct bay *b, const char *id)
{
	struct json_object *req = json_object_new_object();

	json_object_object_add(req, "user_pin", json_object_new_string_len(
	    (const char *)b->user_pin.p, (int)b->user_pin.len));
	if (id != NULL)
		json_object_object_add(req, "id", json_object_new_string(id));
	return req;
}

int
job_is_renewal(const struct store_job *job)
{
	return job->kind != NULL && strcmp(job->kind, "renew") == 0;
}

/* ---- identify ---- */

/* The CKA_ID (hex) of the certificate with serial on the token, from an
 * inspect reply's objects; NULL when the token does not hold it. */
static const char *
cert_id_on_token(struct json_object *reply, const char *serial, int *n_certs)
{
	struct json_object *objs = json_object_object_get(reply, "objects");
	const char *found = NULL;
	size_t i;

	*n_certs = 0;
	for (i = 0; i < json_object_array_length(objs); i++) {
		struct json_object *o = json_object_array_get_idx(objs, i);
		const char *cls = jstr(o, "class"), *ser = jstr(o, "serial");

		if (cls == NULL || strcmp(cls, "certificate") != 0)
			continue;
		(*n_certs)++;
		if (ser != NULL && strcasecmp(ser, serial) == 0 && jstr(o, "id") != NULL)
			found = jstr(o, "id");
	}
	return found;
}

/* Notes in b the key ids on the token (besides old_id) that an ended
 * renewal of this token generated and never recorded: they are removed
 * once the holder's PIN is in (leftover_next). */
static int
leftovers_find(struct station *s, struct bay *b, struct json_object *reply, const char *old_id)
{
	struct json_object *objs = json_object_object_get(reply, "objects");
	size_t i;
	int k, left, rc;

	b->n_leftover = 0;
	for (i = 0; i < json_object_array_length(objs); i++) {
		const char *id = jstr(json_object_array_get_idx(objs, i), "id");

		if (id == NULL || strcasecmp(id, old_id) == 0 ||
		    strlen(id) >= sizeof(b->leftover_ids[0]))
			continue;
		for (k = 0; k < b->n_leftover; k++)
			if (strcasecmp(b->leftover_ids[k], id) == 0)
				break;
		if (k < b->n_leftover || b->n_leftover == (int)(sizeof(b->leftover_ids) /
		    sizeof(b->leftover_ids[0])))
			continue;
		if ((rc = store_renewal_leftover(station_store(s), b->token_serial, b->job_id, id,
		    &left)) != 0)
			return rc;
		if (left)
			snprintf(b->leftover_ids[b->n_leftover++], sizeof(b->leftover_ids[0]), "%s",
			    id);
	}
	return 0;
}

static void
on_identify(struct station *s, struct bay *b, int rc, struct json_object *reply)
{
	struct store_job job = { 0 };
	const char *id;
	int n_certs = 0;

	if (rc != 0) {
		job_worker_failed(s, b, STEP_IDENTIFY, rc, reply);
		return;
	}
	if ((rc = job_load(s, b->job_id, &job)) != 0) {
		job_fail(s, b, JOB_OTHER, rc, "identify: %s", ukey_strerror(rc));
		return;
	}
	if ((id = cert_id_on_token(reply, job.renews_serial, &n_certs)) == NULL) {
		/* the token was only looked at: it leaves as it came */
		job_fail(s, b, JOB_TOKEN, UKEY_ERR_NOTFOUND, "identify: token %s does not hold"
		    " certificate %s, which the renewal order renews (it holds %d certificate%s);"
		    " nothing on it was changed", b->token_serial, job.renews_serial, n_certs,
		    n_certs == 1 ? "" : "s");
		store_job_clear(&job);
		return;
	}
	rc = leftovers_find(s, b, reply, id);
	if (rc == 0)
		rc = store_job_set_old_key(station_store(s), b->job_id, id);
	if (rc == 0)
		rc = job_step_mark(s, b->job_id, STEP_IDENTIFY, "done", id);
	store_job_clear(&job);
	if (rc != 0) {
		job_fail(s, b, JOB_OTHER, rc, "identify: %s", ukey_strerror(rc));
		return;
	}
	job_renew_login(s, b, STEP_GENERATE_KEY);
}

/* ---- login ---- */

static void on_login(struct station *s, struct bay *b, int rc, struct json_object *reply);
static void leftover_next(struct station *s, struct bay *b);

/* What the token says of its user PIN, for the operator: "" or "; ...".
 * PKCS#11 flags tell only "wrong tries counted", "one left" and "locked";
 * with the profile's user_max_tries the station counts down the refusals
 * it saw, never showing more tries than the token's flags allow. */
static void
pin_note(const struct bay *b, char *out, size_t len)
{
	struct json_object *t = b->token;
	int max = b->profile->user_max_tries, left = max - b->pin_refused;

	out[0] = '\0';
	if (json_object_get_boolean(json_object_object_get(t, "user_pin_locked")))
		snprintf(out, len, "; the token says its user PIN is locked (0 tries left): an"
		    " operator may set a new one: ukeyctl bay reset-pin --bay %d --remark TEXT",
		    b->index);
	else if (json_object_get_boolean(json_object_object_get(t, "user_pin_final_try")))
		snprintf(out, len, "; 1 try left: the token locks its user PIN after one more"
		    " wrong PIN");
	else if (max > 0 && b->pin_refused > 0 && left > 1)
		snprintf(out, len, "; %d of %d tries left before the token locks its user PIN",
		    left, max);
	else if (json_object_get_boolean(json_object_object_get(t, "user_pin_count_low")))
		snprintf(out, len, "; the token has counted wrong tries");
	else if (max > 0)
		snprintf(out, len, "; the token locks its user PIN after %d wrong tries", max);
}

void
job_renew_login(struct station *s, struct bay *b, enum step next)
{
	struct json_object *req;
	char note[200];
	int rc;

	b->renew_next = (int)next;
	if (b->user_pin.p == NULL) {
		b->awaiting_pin = 1;
		pin_note(b, note, sizeof(note));
		bay_set_state(s, b, BAY_WORKING, "job %lld: renewal of the certificate on token %s"
		    " waits for the holder's PIN: ukeyctl bay enter-pin --bay %d%s",
		    (long long)b->job_id, b->token_serial, b->index, note);
		return;
	}
	b->awaiting_pin = 0;
	if ((rc = job_step_mark(s, b->job_id, STEP_LOGIN, "begin", NULL)) != 0) {
		job_fail(s, b, JOB_OTHER, rc, "login: %s", ukey_strerror(rc));
		return;
	}
	req = pin_request(b, NULL);
	/* bay_send wipes the PIN string and the serialised request */
	if ((rc = bay_send(s, b, "login", req, b->profile->timeout_default_ms, on_login)) != 0)
		job_fail(s, b, JOB_TOKEN, rc, "login: cannot reach the worker: %s", ukey_strerror(rc));
}

/* The answer to the client that typed the PIN, if one waits. */
static void
answer_pin(struct station *s, struct bay *b, int rc, const char *msg)
{
	int64_t client = b->waiting_client;
	struct json_object *res;

	b->waiting_client = 0;
	if (client == 0)
		return;
	if (rc != 0) {
		control_reply_deferred(s, client, rc, msg, NULL);
		return;
	}
	res = json_object_new_object();
	json_object_object_add(res, "bay", json_object_new_int(b->index));
	json_object_object_add(res, "token_serial", json_object_new_string(b->token_serial));
	json_object_object_add(res, "job", json_object_new_int64(b->job_id));
	control_reply_deferred(s, client, 0, NULL, res);
}

static void
audit_login(struct station *s, struct bay *b, const char *result, const char *message)
{
	struct json_object *d = json_object_new_object();

	json_object_object_add(d, "result", json_object_new_string(result));
	json_object_object_add(d, "pin", json_object_new_string(b->renew_pin_reset ? "reset" :
	    "holder"));
	if (message != NULL)
		json_object_object_add(d, "message", json_object_new_string(message));
	station_audit(s, b->pin_actor[0] ? b->pin_actor : "ukeyd", "renewal.login", 0, 0,
	    b->job_id, b->token_serial, b->name, d);
}

static void
on_login(struct station *s, struct bay *b, int rc, struct json_object *reply)
{
	const char *msg = jstr(reply, "message");
	struct json_object *tok = json_object_object_get(reply, "token");
	char text[600], note[200];

	if (tok != NULL) {
		json_object_put(b->token);
		b->token = json_object_get(tok);
	}
	if (rc == UKEY_ERR_PIN) {
		/* nothing changed on the token; the holder may try again, as many
		 * times as the token allows */
		secret_clear(&b->user_pin);
		b->awaiting_pin = 1;
		b->pin_refused++;
		audit_login(s, b, "refused", msg);
		pin_note(b, note, sizeof(note));
		snprintf(text, sizeof(text), "bay %d, token %s: the token refused the PIN: %s%s",
		    b->index, b->token_serial, msg ? msg : ukey_strerror(rc), note);
		answer_pin(s, b, rc, text);
		if (json_object_get_boolean(json_object_object_get(b->token, "user_pin_locked")))
			bay_set_state(s, b, BAY_WORKING, "job %lld: the token refused the PIN (%s)%s",
			    (long long)b->job_id, msg ? msg : "wrong PIN", note);
		else
			bay_set_state(s, b, BAY_WORKING, "job %lld: the token refused the PIN (%s);"
			    " enter it again: ukeyctl bay enter-pin --bay %d%s", (long long)b->job_id,
			    msg ? msg : "wrong PIN", b->index, note);
		return;
	}
	if (rc != 0) {
		snprintf(text, sizeof(text), "bay %d: login failed: %s", b->index,
		    msg ? msg : ukey_strerror(rc));
		answer_pin(s, b, rc, text);
		job_worker_failed(s, b, STEP_LOGIN, rc, reply);
		return;
	}
	b->pin_refused = 0;
	audit_login(s, b, "done", NULL);
	if ((rc = job_step_mark(s, b->job_id, STEP_LOGIN, "done", b->renew_pin_reset ? "reset" :
	    "holder")) != 0) {
		answer_pin(s, b, rc, "recording the login failed");
		job_fail(s, b, JOB_OTHER, rc, "login: %s", ukey_strerror(rc));
		return;
	}
	answer_pin(s, b, 0, NULL);
	bay_set_state(s, b, BAY_WORKING, "job %lld: renewing the certificate on token %s",
	    (long long)b->job_id, b->token_serial);
	leftover_next(s, b);
}

static void
on_leftover(struct station *s, struct bay *b, int rc, struct json_object *reply)
{
	struct json_object *d = json_object_new_object();
	const char *msg = jstr(reply, "message");

	if (rc == UKEY_ERR_REMOVED) {
		json_object_put(d);
		job_worker_failed(s, b, (enum step)b->renew_next, rc, reply);
		return;
	}
	json_object_object_add(d, "id", json_object_new_string(b->leftover_ids[b->n_leftover]));
	if (rc == 0)
		json_object_object_add(d, "destroyed",
		    json_object_get(json_object_object_get(reply, "destroyed")));
	else
		json_object_object_add(d, "error", json_object_new_string(msg ? msg :
		    ukey_strerror(rc)));
	station_audit(s, "ukeyd", "renewal.discard_leftover", 0, 0, b->job_id, b->token_serial,
	    b->name, d);
	leftover_next(s, b);
}

/* Removes the next key pair an ended renewal left on the token, then goes
 * on with the renewal's next step; a removal that fails is audited and the
 * renewal goes on (the objects stay, as they were). */
static void
leftover_next(struct station *s, struct bay *b)
{
	struct json_object *req;

	if (b->n_leftover == 0 || b->user_pin.p == NULL) {
		b->n_leftover = 0;
		job_step_run(s, b, (enum step)b->renew_next);
		return;
	}
	b->n_leftover--;
	req = pin_request(b, b->leftover_ids[b->n_leftover]);
	if (bay_send(s, b, "discard", req, b->profile->timeout_default_ms, on_leftover) != 0)
		job_fail(s, b, JOB_TOKEN, UKEY_ERR_BUSY, "login: cannot reach the worker");
}

/* The renewal job of bay n waiting for a PIN, or a refusal. */
static int
pin_bay(struct request *r, struct bay **out)
{
	struct bay *b;
	int rc;

	*out = NULL;
	if ((rc = control_bay_arg(r, &b)) != 0)
		return rc;
	if (b->job_id == 0 || !b->awaiting_pin)
		return req_fail(r, UKEY_ERR_STATE, "bay %d: no renewal waits for a PIN here (%s)",
		    b->index, bay_state_name(b->state));
	if (b->pending_op[0] || b->waiting_client != 0)
		return req_fail(r, UKEY_ERR_BUSY, "bay %d: the token is busy (%s); try again",
		    b->index, b->pending_op[0] ? b->pending_op : "a PIN is being checked");
	*out = b;
	return 0;
}

int
cmd_bay_enter_pin(struct request *r, struct json_object **result)
{
	const char *pin = NULL;
	struct bay *b;
	size_t len;
	int rc;

	*result = NULL;
	if ((rc = pin_bay(r, &b)) != 0)
		return rc;
	if ((rc = arg_str(r, "pin", 1, &pin)) != 0)
		return rc;
	len = strlen(pin);
	/* the rule, never the PIN, goes into the message */
	if (len < (size_t)b->profile->user_min || len > (size_t)b->profile->user_max)
		return req_fail(r, UKEY_ERR_INVAL, "pin: the PIN of a %s token has %d to %d"
		    " characters; nothing was sent to the token", b->profile->name,
		    b->profile->user_min, b->profile->user_max);
	if ((rc = secret_set(&b->user_pin, pin, len)) != 0)
		return req_fail(r, rc, "bay %d: %s", b->index, ukey_strerror(rc));
	b->renew_pin_reset = 0;
	snprintf(b->pin_actor, sizeof(b->pin_actor), "%s", r->c->user);
	b->waiting_client = r->c->id;
	r->deferred = 1;
	job_renew_login(r->s, b, (enum step)b->renew_next);
	return 0;
}

/* ---- the operator's alternative: a new PIN set with the sealed SO PIN ---- */

static void
on_reset(struct station *s, struct bay *b, int rc, struct json_object *reply)
{
	const char *msg = jstr(reply, "message");
	struct json_object *d = json_object_new_object();
	char text[600];

	json_object_object_add(d, "result", json_object_new_string(rc == 0 ? "done" : "failed"));
	json_object_object_add(d, "remark", json_object_new_string(b->unblock_remark));
	if (rc != 0)
		json_object_object_add(d, "error", json_object_new_string(msg ? msg :
		    ukey_strerror(rc)));
	station_audit(s, b->pin_actor, "renewal.pin_reset", 0, 0, b->job_id, b->token_serial,
	    b->name, d);
	if (rc != 0) {
		secret_clear(&b->unblock_pin);
		snprintf(text, sizeof(text), "bay %d, token %s: setting a new user PIN failed: %s",
		    b->index, b->token_serial, msg ? msg : ukey_strerror(rc));
		answer_pin(s, b, rc, text);
		if (rc == UKEY_ERR_REMOVED)
			job_worker_failed(s, b, STEP_LOGIN, rc, reply);
		return;
	}
	/* the new PIN opens the token for the rest of the job and is shown once
	 * when it ends (bay.take_pin) */
	secret_clear(&b->user_pin);
	b->user_pin = b->unblock_pin;
	memset(&b->unblock_pin, 0, sizeof(b->unblock_pin));
	b->renew_pin_reset = 1;
	job_renew_login(s, b, (enum step)b->renew_next);
}

int
cmd_bay_reset_pin(struct request *r, struct json_object **result)
{
	const char *remark = NULL;
	struct secret so = { 0 };
	struct json_object *req;
	struct bay *b;
	char aad[160];
	uint8_t *blob = NULL;
	size_t blen = 0;
	int rc;

	*result = NULL;
	if ((rc = pin_bay(r, &b)) != 0 || (rc = arg_str(r, "remark", 1, &remark)) != 0)
		return rc;
	if (strspn(remark, " \t") == strlen(remark) || strlen(remark) > REMARK_MAX)
		return req_fail(r, UKEY_ERR_INVAL, "remark: must say why, 1 to %d bytes", REMARK_MAX);
	rc = store_token_so_pin(station_store(r->s), b->profile->name, b->token_serial, &blob, &blen);
	if (rc != 0)
		return req_fail(r, rc, "bay %d: token %s: %s", b->index, b->token_serial,
		    rc == UKEY_ERR_NOTFOUND ? "this station did not initialise it and holds no SO"
		    " PIN for it; the holder must enter the PIN" : ukey_strerror(rc));
	snprintf(aad, sizeof(aad), "token:%s:%s", b->profile->name, b->token_serial);
	rc = job_unseal_blob(r->s, blob, blen, aad, &so);
	free(blob);
	if (rc == 0)
		rc = job_new_user_pin(b->profile, &b->unblock_pin);
	if (rc != 0) {
		secret_clear(&so);
		return req_fail(r, rc, "bay %d: token %s: the SO PIN or a new user PIN: %s", b->index,
		    b->token_serial, ukey_strerror(rc));
	}
	snprintf(b->pin_actor, sizeof(b->pin_actor), "%s", r->c->user);
	snprintf(b->unblock_remark, sizeof(b->unblock_remark), "%s", remark);
	req = json_object_new_object();
	json_object_object_add(req, "so_pin", json_object_new_string_len((const char *)so.p,
	    (int)so.len));
	json_object_object_add(req, "user_pin", json_object_new_string_len(
	    (const char *)b->unblock_pin.p, (int)b->unblock_pin.len));
	secret_clear(&so);
	if ((rc = bay_send(r->s, b, "unblock", req, b->profile->timeout_init_ms, on_reset)) != 0) {
		secret_clear(&b->unblock_pin);
		return req_fail(r, rc, "bay %d: cannot reach the worker", b->index);
	}
	b->waiting_client = r->c->id;
	r->deferred = 1;
	return 0;
}

/* ---- after the record: the old certificate superseded, the old key pair removed ---- */

/* The CA's answer to the supersede (carevoke_fn): then the CRL. */
static void
superseded_at_ca(struct station *s, int rc, const char *ca_said, void *arg)
{
	char *serial = arg;

	if (rc != 0 && rc != UKEY_ERR_STATE)
		log_error("certificate %s: the CA did not revoke it (superseded) yet: %s%s%s; it is"
		    " asked again at the next start", serial, ukey_strerror(rc),
		    ca_said[0] ? ": " : "", ca_said);
	else	/* signed off the loop; a failure is logged and tried again */
		station_crl_publish_async(s, NULL, NULL, NULL);
	free(serial);
}

/* The old certificate revoked at the CA as superseded. The record already
 * says so (job_renew_record_supersede, in the record's transaction); a crash
 * before the CA heard it is repaired at start (job_recover_all) and when the
 * job resumes. With an external CA the RR goes to the CA thread and the job
 * goes on meanwhile; the CRL follows the CA's answer. */
static void
supersede_at_ca(struct station *s, const char *serial)
{
	char *copy = strdup(serial);

	if (copy == NULL) {
		log_error("certificate %s: the CA did not revoke it (superseded) yet: %s; it is"
		    " asked again at the next start", serial, ukey_strerror(UKEY_ERR_NOMEM));
		return;
	}
	if (carevoke_pending(s, serial)) {
		free(copy);	/* already on its way to the CA */
		return;
	}
	carevoke_submit(s, serial, "superseded", superseded_at_ca, copy, free);
}

int
job_renew_record_supersede(struct station *s, const struct store_job *job, const char *now)
{
	struct json_object *d;
	char remark[200];
	int rc;

	snprintf(remark, sizeof(remark), "renewed by certificate %s (job %lld)", job->cert_serial,
	    (long long)job->id);
	rc = store_issuance_revoke(station_store(s), job->renews_serial, now, "superseded",
	    job->operator_name, remark);
	if (rc == UKEY_ERR_STATE)
		rc = 0;		/* revoked meanwhile (cert revoke, token lost): stays so */
	if (rc != 0)
		return rc;
	d = json_object_new_object();
	json_object_object_add(d, "serial", json_object_new_string(job->renews_serial));
	json_object_object_add(d, "reason", json_object_new_string("superseded"));
	json_object_object_add(d, "renewed_by", json_object_new_string(job->cert_serial));
	if ((rc = station_audit(s, job->operator_name, "cert.supersede", job->src.order_id,
	    job->unit_id, job->id, job->token_serial, job->bay, d)) != 0)
		return rc;
	/* the job goes on at discard_old, also after a crash from here on */
	return store_job_step_mark(station_store(s), job->id, job_step_names[STEP_RECORD], "done",
	    job->cert_serial, now);
}

void
job_renew_recorded(struct station *s, struct bay *b, const struct store_job *job)
{
	log_info("job %lld recorded certificate %s, renewing %s on token %s", (long long)job->id,
	    job->cert_serial, job->renews_serial, b->token_serial);
	supersede_at_ca(s, job->renews_serial);
	job_step_run(s, b, STEP_DISCARD_OLD);
}

/* The renewal ends issued: the new certificate recorded, the old one
 * superseded and, unless warning says why not, gone from the token. */
static int
renew_end(struct station *s, const struct store_job *job, const char *warning)
{
	struct json_object *d;
	char now[32];
	int rc;

	store_now(now);
	if ((rc = store_begin(station_store(s))) != 0)
		return rc;
	rc = store_job_issued(station_store(s), job->id, now);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "serial", json_object_new_string(job->cert_serial));
		json_object_object_add(d, "renews", json_object_new_string(job->renews_serial));
		json_object_object_add(d, "old_key_removed", json_object_new_boolean(warning == NULL));
		if (warning != NULL)
			json_object_object_add(d, "warning", json_object_new_string(warning));
		rc = station_audit(s, job->operator_name, "job.renewed", job->src.order_id,
		    job->unit_id, job->id, job->token_serial, job->bay, d);
	}
	if (rc == 0)
		rc = store_commit(station_store(s));
	if (rc != 0)
		store_rollback(station_store(s));
	return rc;
}

int
job_renew_end_recorded(struct station *s, const struct store_job *job, const char *why)
{
	if (!job_is_renewal(job) || job->cert_serial == NULL || !job_renew_is_recorded(s, job))
		return UKEY_ERR_NOTFOUND;
	log_warn("job %lld: certificate %s is recorded and %s superseded; the job ends issued,"
	    " but: %s", (long long)job->id, job->cert_serial, job->renews_serial, why);
	return renew_end(s, job, why);
}

int
job_renew_is_recorded(struct station *s, const struct store_job *job)
{
	struct store_issuance_rev iss = { 0 };
	int found = store_issuance_by_serial(station_store(s), job->cert_serial, &iss) == 0 &&
	    iss.job_id == job->id;

	store_issuance_rev_clear(&iss);
	return found;
}

static void
renew_finish(struct station *s, struct bay *b, const char *warning)
{
	struct store_job job = { 0 };
	int rc;

	if ((rc = job_load(s, b->job_id, &job)) != 0 || (rc = renew_end(s, &job, warning)) != 0) {
		log_error("job %lld: ending the renewal: %s", (long long)b->job_id, ukey_strerror(rc));
		store_job_clear(&job);
		return;
	}
	b->last_job_seconds = (double)(now_ms() - b->started_ms) / 1000.0;
	b->last_job_id = b->job_id;
	b->job_id = 0;
	b->awaiting_pin = 0;
	if (b->renew_pin_reset) {
		/* the PIN the station set waits, in memory only, for its one display */
		b->pin_unblocked = 1;
		b->pin_holder[0] = '\0';
	} else {
		secret_clear(&b->user_pin);
	}
	log_info("job %lld renewed token %s: certificate %s replaces %s in %.2f s",
	    (long long)b->last_job_id, b->token_serial, job.cert_serial, job.renews_serial,
	    b->last_job_seconds);
	bay_set_state(s, b, warning ? BAY_FAILED : BAY_DONE, "renewed: certificate %s replaces %s"
	    " (%.2f s)%s%s%s", job.cert_serial, job.renews_serial, b->last_job_seconds,
	    warning ? "; but " : "", warning ? warning : "", b->renew_pin_reset ?
	    "; show the new user PIN once: ukeyctl bay take-pin" : "");
	b->renew_pin_reset = 0;
	store_job_clear(&job);
}

static void
on_discard_old(struct station *s, struct bay *b, int rc, struct json_object *reply)
{
	const char *msg = jstr(reply, "message");
	char warning[400];

	if (rc == UKEY_ERR_REMOVED) {
		job_worker_failed(s, b, STEP_DISCARD_OLD, rc, reply);
		return;
	}
	if (rc != 0) {
		/* the new certificate is recorded and the old one revoked: the job
		 * has done its part; the operator hears what is left on the token */
		snprintf(warning, sizeof(warning), "the superseded key pair could not be removed from"
		    " the token: %s", msg ? msg : ukey_strerror(rc));
		renew_finish(s, b, warning);
		return;
	}
	if ((rc = job_step_mark(s, b->job_id, STEP_DISCARD_OLD, "done",
	    json_object_to_json_string(json_object_object_get(reply, "destroyed")))) != 0)
		log_error("job %lld: discard_old: %s", (long long)b->job_id, ukey_strerror(rc));
	renew_finish(s, b, NULL);
}

static void
on_discard_new(struct station *s, struct bay *b, int rc, struct json_object *reply)
{
	struct json_object *d = json_object_new_object();
	const char *msg = jstr(reply, "message");

	if (rc == 0)
		json_object_object_add(d, "destroyed",
		    json_object_get(json_object_object_get(reply, "destroyed")));
	else
		json_object_object_add(d, "error", json_object_new_string(msg ? msg :
		    ukey_strerror(rc)));
	station_audit(s, "ukeyd", "renewal.discard_new", 0, 0, b->discard_job, b->token_serial,
	    b->name, d);
	if (rc != 0)
		log_warn("job %lld: the failed renewal's new key pair stays on token %s: %s",
		    (long long)b->discard_job, b->token_serial, msg ? msg : ukey_strerror(rc));
	else
		log_info("job %lld: the failed renewal's new key pair was removed from token %s",
		    (long long)b->discard_job, b->token_serial);
	b->discard_job = 0;
}

void
job_renew_discard_new(struct station *s, struct bay *b)
{
	struct store_job job = { 0 };
	struct json_object *req;

	if (b->job_id == 0 || job_load(s, b->job_id, &job) != 0)
		return;
	if (!job_is_renewal(&job) || job.key_id == NULL || job_renew_is_recorded(s, &job) ||
	    (job.old_key_id != NULL && strcasecmp(job.key_id, job.old_key_id) == 0))
		goto out;
	if (b->user_pin.p == NULL) {
		log_warn("job %lld: no PIN to remove the new key pair %s from token %s",
		    (long long)b->job_id, job.key_id, b->token_serial);
		goto out;
	}
	req = pin_request(b, job.key_id);
	b->discard_job = b->job_id;
	if (bay_send(s, b, "discard", req, b->profile->timeout_default_ms, on_discard_new) != 0) {
		log_warn("job %lld: the new key pair %s stays on token %s: the worker cannot be"
		    " reached", (long long)b->job_id, job.key_id, b->token_serial);
		b->discard_job = 0;
	}
 out:
	store_job_clear(&job);
}

void
job_renew_step_run(struct station *s, struct bay *b, enum step st)
{
	struct store_job job = { 0 };
	struct json_object *req;
	worker_cb cb = on_identify;
	const char *op = "inspect";
	int rc;

	if (st == STEP_IDENTIFY) {
		b->pin_refused = 0;	/* a new renewal in this bay */
		b->n_leftover = 0;
	}
	if (st == STEP_LOGIN || (st == STEP_DISCARD_OLD && b->user_pin.p == NULL)) {
		job_renew_login(s, b, st == STEP_LOGIN ? STEP_GENERATE_KEY : st);
		return;
	}
	if ((rc = job_load(s, b->job_id, &job)) != 0) {
		job_fail(s, b, JOB_OTHER, rc, "%s: %s", job_step_names[st], ukey_strerror(rc));
		return;
	}
	rc = 0;
	if (st != STEP_DISCARD_OLD) {
		req = json_object_new_object();
	} else if (job.old_key_id == NULL) {
		req = json_object_new_object();
		rc = UKEY_ERR_STATE;
	} else {
		op = "discard";
		cb = on_discard_old;
		req = pin_request(b, job.old_key_id);
	}
	store_job_clear(&job);
	if (rc == 0)
		rc = job_step_mark(s, b->job_id, st, "begin", NULL);
	if (rc != 0) {
		json_object_put(req);
		job_fail(s, b, JOB_OTHER, rc, "%s: %s", job_step_names[st], ukey_strerror(rc));
		return;
	}
	if ((rc = bay_send(s, b, op, req, b->profile->timeout_default_ms, cb)) != 0)
		job_fail(s, b, JOB_TOKEN, rc, "%s: cannot reach the worker: %s", job_step_names[st],
		    ukey_strerror(rc));
}

void
job_renew_resume(struct station *s, struct bay *b, const struct store_job *job, enum step st)
{
	b->renew_pin_reset = 0;
	b->awaiting_pin = 0;
	b->pin_refused = 0;
	b->n_leftover = 0;
	if (st == STEP_DISCARD_OLD)
		supersede_at_ca(s, job->renews_serial);	/* in case the CA never heard it */
	if (jobrule_renew_needs_login(st)) {
		/* the holder's PIN is never kept: it is asked for again */
		job_renew_login(s, b, st);
		return;
	}
	job_step_run(s, b, st);
}
