/* Unblocking a token's user PIN (token.unblock): for a token this station
 * initialised, the SO PIN it keeps sealed sets a new user PIN on the token,
 * which is then shown once like an issued token's initial PIN. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "station/control.h"
#include "station/job_steps.h"
#include "store/store_jobs.h"
#include "station/bay.h"
#include "station/job.h"
#include "station/sources.h"

#define REMARK_MAX 500

/* The audit record of an unblock, whatever its outcome. */
static void
audit_unblock(struct station *s, struct bay *b, const char *result, const char *error,
    int was_locked)
{
	struct json_object *d = json_object_new_object();

	json_object_object_add(d, "result", json_object_new_string(result));
	if (b->unblock_remark[0])
		json_object_object_add(d, "remark", json_object_new_string(b->unblock_remark));
	json_object_object_add(d, "user_pin_locked", json_object_new_boolean(was_locked));
	if (error != NULL)
		json_object_object_add(d, "error", json_object_new_string(error));
	/* the worker answers after the confirmation's own call has returned */
	if (b->unblock_dual.request != 0) {
		const struct dual_actors *saved = station_dual(s);

		station_set_dual(s, &b->unblock_dual);
		station_audit(s, b->unblock_actor, "token.unblock", 0, 0, 0, b->token_serial, b->name,
		    d);
		station_set_dual(s, saved);
		return;
	}
	station_audit(s, b->unblock_actor, "token.unblock", 0, 0, 0, b->token_serial, b->name, d);
}

/* The worker's unblock reply. Loop context. */
static void
on_unblock(struct station *s, struct bay *b, int rc, struct json_object *reply)
{
	int64_t client = b->waiting_client;
	int was_locked = json_object_get_boolean(json_object_object_get(b->token,
	    "user_pin_locked"));
	struct json_object *res, *tok;
	char msg[700];

	b->waiting_client = 0;
	if (rc != 0) {
		snprintf(msg, sizeof(msg), "bay %d, token %s: unblock failed: %s", b->index,
		    b->token_serial, jstr(reply, "message") ? jstr(reply, "message") :
		    ukey_strerror(rc));
		secret_clear(&b->unblock_pin);
		audit_unblock(s, b, "failed", msg, was_locked);
		log_warn("%s", msg);
		control_reply_deferred(s, client, rc, msg, NULL);
		return;
	}
	/* the new PIN waits, in memory only, for its one display */
	secret_clear(&b->user_pin);
	b->user_pin = b->unblock_pin;
	memset(&b->unblock_pin, 0, sizeof(b->unblock_pin));
	b->pin_unblocked = 1;
	/* held for confirmation: the confirming user takes the new PIN */
	snprintf(b->pin_holder, sizeof(b->pin_holder), "%s", b->unblock_dual.request != 0 ?
	    b->unblock_dual.confirmed_by : "");
	if ((tok = json_object_object_get(reply, "token")) != NULL) {
		json_object_put(b->token);
		b->token = json_object_get(tok);
	}
	audit_unblock(s, b, "done", NULL, was_locked);
	bay_set_state(s, b, BAY_DONE, "user PIN of token %s reset by %s; show it once with:"
	    " ukeyctl bay take-pin --bay %d", b->token_serial, b->unblock_actor, b->index);
	res = json_object_new_object();
	json_object_object_add(res, "bay", json_object_new_int(b->index));
	json_object_object_add(res, "token_serial", json_object_new_string(b->token_serial));
	json_object_object_add(res, "was_locked", json_object_new_boolean(was_locked));
	json_object_object_add(res, "pin_to_show", json_object_new_boolean(1));
	control_reply_deferred(s, client, 0, NULL, res);
}

/* Refuses a bay whose token cannot be unblocked now: none, blank, or in
 * use by a job or a worker request. */
static int
unblock_check_token(struct request *r, struct bay *b)
{
	if (b->worker_fd < 0 || b->profile == NULL)
		return req_fail(r, UKEY_ERR_STATE, "bay %d: no token to unblock (%s)", b->index,
		    bay_state_name(b->state));
	if (b->job_id != 0)
		return req_fail(r, UKEY_ERR_BUSY, "bay %d: job %lld is running on token %s; unblock"
		    " it when the job ends", b->index, (long long)b->job_id,
		    b->token_serial[0] ? b->token_serial : "(no serial yet)");
	if (b->pending_op[0])
		return req_fail(r, UKEY_ERR_BUSY, "bay %d: the token is busy (%s); try again when it"
		    " is done", b->index, b->pending_op);
	if (b->token_serial[0] == '\0' ||
	    !json_object_get_boolean(json_object_object_get(b->token, "initialized")))
		return req_fail(r, UKEY_ERR_STATE, "bay %d: the token is blank: it has no user PIN"
		    " to unblock", b->index);
	return 0;
}

/* Opens the SO PIN this station sealed for the bay's token into so. */
static int
unblock_so_pin(struct request *r, struct bay *b, struct secret *so)
{
	uint8_t *blob = NULL;
	size_t blen = 0;
	char aad[160];
	int rc;

	rc = store_token_so_pin(station_store(r->s), b->profile->name, b->token_serial, &blob, &blen);
	if (rc == UKEY_ERR_NOTFOUND)
		return req_fail(r, rc, "bay %d: token %s (model %s) was not initialised by this"
		    " station, which does not hold its SO PIN; it cannot be unblocked here",
		    b->index, b->token_serial, b->profile->name);
	if (rc != 0)
		return req_fail(r, rc, "bay %d: looking up token %s: %s", b->index, b->token_serial,
		    ukey_strerror(rc));
	snprintf(aad, sizeof(aad), "token:%s:%s", b->profile->name, b->token_serial);
	rc = job_unseal_blob(r->s, blob, blen, aad, so);
	free(blob);
	if (rc != 0)
		return req_fail(r, rc, "bay %d: token %s: the stored SO PIN cannot be opened (%s)",
		    b->index, b->token_serial, ukey_strerror(rc));
	return 0;
}

int
cmd_token_unblock(struct request *r, struct json_object **result)
{
	struct station *s = r->s;
	struct json_object *req = NULL;
	struct secret so = { 0 };
	const char *remark = NULL;
	struct bay *b;
	int rc;

	*result = NULL;
	if ((rc = control_bay_arg(r, &b)) != 0)
		return rc;
	if ((rc = arg_str(r, "remark", 0, &remark)) == UKEY_ERR_INVAL)
		return rc;
	if (remark != NULL && strlen(remark) > REMARK_MAX)
		return req_fail(r, UKEY_ERR_INVAL, "remark: at most %d bytes", REMARK_MAX);
	if ((rc = unblock_check_token(r, b)) != 0)
		return rc;
	if ((rc = unblock_so_pin(r, b, &so)) != 0)
		goto out;
	secret_clear(&b->unblock_pin);
	if ((rc = job_new_user_pin(b->profile, &b->unblock_pin)) != 0) {
		rc = req_fail(r, rc, "bay %d: choosing a new user PIN: %s", b->index,
		    ukey_strerror(rc));
		goto out;
	}
	snprintf(b->unblock_actor, sizeof(b->unblock_actor), "%s", r->c->user);
	snprintf(b->unblock_remark, sizeof(b->unblock_remark), "%s", remark ? remark : "");
	if (station_dual(s) != NULL)
		b->unblock_dual = *station_dual(s);
	else
		memset(&b->unblock_dual, 0, sizeof(b->unblock_dual));
	req = json_object_new_object();
	json_object_object_add(req, "so_pin", json_object_new_string_len((const char *)so.p,
	    (int)so.len));
	json_object_object_add(req, "user_pin",
	    json_object_new_string_len((const char *)b->unblock_pin.p, (int)b->unblock_pin.len));
	/* bay_send wipes the PIN strings and the serialised request */
	rc = bay_send(s, b, "unblock", req, b->profile->timeout_init_ms, on_unblock);
	req = NULL;
	if (rc != 0) {
		secret_clear(&b->unblock_pin);
		rc = req_fail(r, rc, "bay %d: cannot reach the worker", b->index);
		goto out;
	}
	log_info("bay %s: %s asked to unblock token %s", b->name, r->c->user, b->token_serial);
	b->waiting_client = r->c->id;
	r->deferred = 1;
	rc = 0;
 out:
	secret_clear(&so);
	return rc;
}
