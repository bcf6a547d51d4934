/* Control commands for bays, virtual tokens, token inspection and jobs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "station/control.h"
#include "store/store_jobs.h"
#include "station/bay.h"
#include "station/job.h"
#include "station/job_steps.h"
#include "station/sources.h"

int
control_bay_arg(struct request *r, struct bay **out)
{
	int64_t n;
	int rc;

	*out = NULL;
	if ((rc = arg_int(r, "bay", 1, &n)) != 0)
		return rc;
	if (n < 1 || n > station_n_bays(r->s))
		return req_fail(r, UKEY_ERR_NOTFOUND, "bay %lld: no such bay (1..%d)", (long long)n,
		    station_n_bays(r->s));
	*out = station_bay(r->s, n - 1);
	return 0;
}

int
cmd_bay_list(struct request *r, struct json_object **result)
{
	int i;

	*result = json_object_new_array();
	for (i = 0; i < station_n_bays(r->s); i++)
		json_object_array_add(*result, bay_to_json(r->s, station_bay(r->s, i)));
	return 0;
}

int
cmd_bay_take_pin(struct request *r, struct json_object **result)
{
	struct bay *b;
	int rc;

	if ((rc = control_bay_arg(r, &b)) != 0)
		return rc;
	if (b->user_pin.p == NULL || b->job_id != 0 || b->state != BAY_DONE)
		return req_fail(r, UKEY_ERR_STATE, "bay %d: no user PIN to show (it is shown once,"
		    " after the token is issued or unblocked)", b->index);
	if (b->pin_unblocked && b->pin_holder[0] != '\0' && strcmp(b->pin_holder, r->c->user) != 0)
		return req_fail(r, UKEY_ERR_PERM, "bay %d: the new user PIN of token %s is shown only"
		    " to %s, who confirmed its unblock", b->index, b->token_serial, b->pin_holder);
	*result = json_object_new_object();
	json_object_object_add(*result, "bay", json_object_new_int(b->index));
	json_object_object_add(*result, "token_serial", json_object_new_string(b->token_serial));
	/* initial: the PIN a job gave the token; unblock: token.unblock's */
	json_object_object_add(*result, "kind",
	    json_object_new_string(b->pin_unblocked ? "unblock" : "initial"));
	/* the one time a PIN crosses the socket: the operator prints the PIN letter */
	json_object_object_add(*result, "user_pin",
	    json_object_new_string_len((const char *)b->user_pin.p, (int)b->user_pin.len));
	secret_clear(&b->user_pin);
	station_audit(r->s, r->c->user, "bay.pin_shown", 0, 0, b->pin_unblocked ? 0 :
	    b->last_job_id, b->token_serial, b->name,
	    json_object_new_string(b->pin_unblocked ? "unblock" : "initial"));
	b->pin_unblocked = 0;
	b->pin_holder[0] = '\0';
	return 0;
}

int
cmd_bay_wipe(struct request *r, struct json_object **result)
{
	struct bay *b;
	char why[512];
	int rc;

	if ((rc = control_bay_arg(r, &b)) != 0)
		return rc;
	if (b->state != BAY_REFUSED || b->worker_fd < 0)
		return req_fail(r, UKEY_ERR_STATE, "bay %d: only a refused token can be allowed for"
		    " wiping (bay is %s)", b->index, bay_state_name(b->state));
	/* allowed only when the wipe can happen: a token whose SO PIN this
	 * station does not hold would stay refused after a "yes" */
	if ((rc = job_wipe_check(r->s, b, why, sizeof(why))) != 0)
		return req_fail(r, rc, "bay %d: wiping cannot be allowed: %s", b->index, why);
	b->allow_wipe = 1;
	snprintf(b->operator_name, sizeof(b->operator_name), "%s", r->c->user);
	station_audit(r->s, r->c->user, "bay.wipe_allowed", 0, 0, 0, b->token_serial, b->name, NULL);
	job_start_if_possible(r->s, b);
	*result = bay_to_json(r->s, b);
	return 0;
}

int
cmd_sim_plug(struct request *r, struct json_object **result)
{
	struct station *s = r->s;
	const char *preset = NULL, *profile = NULL;
	int64_t bay = 0, token = 0;
	int rc;

	if (arg_int(r, "bay", 0, &bay) == UKEY_ERR_INVAL || arg_int(r, "token", 0, &token) ==
	    UKEY_ERR_INVAL || arg_str(r, "preset", 0, &preset) == UKEY_ERR_INVAL ||
	    arg_str(r, "profile", 0, &profile) == UKEY_ERR_INVAL)
		return UKEY_ERR_INVAL;
	if (preset && strcmp(preset, "blank") != 0 && strcmp(preset, "initialised") != 0)
		return req_fail(r, UKEY_ERR_INVAL, "preset: must be blank or initialised");
	if (detect_sim_index(s) < 0)
		return req_fail(r, UKEY_ERR_STATE, "no simulated bays: station.sources does not "
		    "name sim");
	if (bay < 0 || bay > station_n_bays(s))
		return req_fail(r, UKEY_ERR_NOTFOUND, "bay %lld: no such bay (1..%d)", (long long)bay,
		    station_n_bays(s));
	if (bay > 0 && strcmp(station_bay(s, bay - 1)->source, "sim") != 0)
		return req_fail(r, UKEY_ERR_NOTFOUND, "bay %lld: not a simulated bay", (long long)bay);
	if (bay > 0 && station_bay(s, bay - 1)->state != BAY_EMPTY)
		return req_fail(r, UKEY_ERR_BUSY, "bay %lld: a token is already in it", (long long)bay);
	if (fw_profile_set_find(station_fw(s), profile ? profile : "softhsm2") == NULL)
		return req_fail(r, UKEY_ERR_NOTFOUND, "profile %s: no such firmware profile",
		    profile ? profile : "softhsm2");
	rc = sim_plug(s, (int)bay, preset, token, profile, r->c->user, result);
	if (rc == UKEY_ERR_BUSY)
		return req_fail(r, rc, "no empty simulated bay");
	if (rc == UKEY_ERR_NOTFOUND)
		return req_fail(r, rc, "virtual token %lld does not exist", (long long)token);
	return rc;
}

int
cmd_sim_unplug(struct request *r, struct json_object **result)
{
	struct bay *b;
	int rc;

	if ((rc = control_bay_arg(r, &b)) != 0)
		return rc;
	if (b->state == BAY_EMPTY)
		return req_fail(r, UKEY_ERR_STATE, "bay %d: empty", b->index);
	station_audit(r->s, r->c->user, "sim.unplug", 0, 0, b->job_id, b->token_serial, b->name, NULL);
	if ((rc = sim_unplug(r->s, b->index)) != 0)
		return rc;
	*result = json_object_new_object();
	return 0;
}

static void
on_inspect(struct station *s, struct bay *b, int rc, struct json_object *reply)
{
	int64_t client = b->waiting_client;

	b->waiting_client = 0;
	if (rc != 0) {
		control_reply_deferred(s, client, rc,
		    json_object_get_string(json_object_object_get(reply, "message")), NULL);
		return;
	}
	json_object_object_del(reply, "v");
	json_object_object_del(reply, "ok");
	json_object_object_add(reply, "bay", json_object_new_int(b->index));
	control_reply_deferred(s, client, 0, NULL, json_object_get(reply));
}

int
cmd_token_inspect(struct request *r, struct json_object **result)
{
	struct bay *b;
	int rc;

	if ((rc = control_bay_arg(r, &b)) != 0)
		return rc;
	if (b->worker_fd < 0 || b->state == BAY_EMPTY)
		return req_fail(r, UKEY_ERR_STATE, "bay %d: no token to inspect (%s)", b->index,
		    bay_state_name(b->state));
	if (b->pending_op[0] || b->job_id)
		return req_fail(r, UKEY_ERR_BUSY, "bay %d: the token is busy (%s); inspect it when the"
		    " job ends", b->index, b->pending_op[0] ? b->pending_op : "job running");
	rc = bay_send(r->s, b, "inspect", json_object_new_object(), b->profile->timeout_default_ms,
	    on_inspect);
	if (rc != 0)
		return req_fail(r, rc, "bay %d: cannot reach the worker", b->index);
	b->waiting_client = r->c->id;
	r->deferred = 1;
	*result = NULL;
	return 0;
}

/* A stored text as JSON: a string, or NULL (JSON null) for NULL. */
static struct json_object *
json_text(const char *t)
{
	return t != NULL ? json_object_new_string(t) : NULL;
}

/* A job as job.list shows it. */
static struct json_object *
job_summary_json(const struct store_job_summary *j)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(j->id));
	json_object_object_add(o, "unit_id", json_object_new_int64(j->unit_id));
	json_object_object_add(o, "bay", json_text(j->bay));
	json_object_object_add(o, "profile", json_text(j->profile));
	json_object_object_add(o, "token_serial", json_text(j->token_serial));
	json_object_object_add(o, "step", json_text(j->step));
	json_object_object_add(o, "state", json_text(j->state));
	json_object_object_add(o, "key_alg", json_text(j->key_alg));
	json_object_object_add(o, "cert_serial", json_text(j->cert_serial));
	json_object_object_add(o, "error", json_text(j->error));
	json_object_object_add(o, "operator", json_text(j->operator_name));
	json_object_object_add(o, "resumed", json_object_new_int64(j->resumed));
	json_object_object_add(o, "started_at", json_text(j->started_at));
	json_object_object_add(o, "finished_at", json_text(j->finished_at));
	/* only while the CA holds the job's request (PKIStatus waiting) */
	if (j->ca_waiting_since != NULL)
		json_object_object_add(o, "ca_waiting_since", json_text(j->ca_waiting_since));
	return o;
}

int
cmd_job_list(struct request *r, struct json_object **result)
{
	struct store_job_summary *a = NULL;
	const char *state = NULL;
	struct page p;
	size_t i, n = 0;
	int rc;

	(void)arg_str(r, "state", 0, &state);
	if ((rc = page_args(r, LIST_PAGE_MAX, &p)) != 0)
		return rc;
	if ((rc = store_jobs_list(station_store(r->s), state, p.after, p.limit, &a, &n)) != 0)
		return rc;
	*result = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(*result, job_summary_json(&a[i]));
	store_job_summaries_free(a, n);
	page_next_key(r, *result, "id", &p);
	return 0;
}

int
cmd_job_abandon(struct request *r, struct json_object **result)
{
	struct store_job job;
	const char *remark = NULL;
	char msg[400];
	int64_t id;
	int rc;

	if ((rc = arg_int(r, "job", 1, &id)) != 0 || (rc = arg_str(r, "remark", 1, &remark)) != 0)
		return rc;
	if (remark[0] == '\0')
		return req_fail(r, UKEY_ERR_INVAL, "remark: say why the job is abandoned");
	rc = job_abandon(r->s, id, r->c->user, remark, msg, sizeof(msg));
	if (rc != 0 && msg[0] != '\0')
		return req_fail(r, rc, "%s", msg);
	if (rc != 0)
		return req_fail(r, rc, "job %lld: %s", (long long)id, ukey_strerror(rc));
	/* what the job became: aborted, or issued for a renewal past its
	 * record, whose new certificate stands (docs/jobs.md, "Renewal") */
	if ((rc = job_load(r->s, id, &job)) != 0)
		return req_fail(r, rc, "job %lld: abandoned, but reading it back: %s", (long long)id,
		    ukey_strerror(rc));
	*result = json_object_new_object();
	json_object_object_add(*result, "job", json_object_new_int64(id));
	json_object_object_add(*result, "state", json_object_new_string(job.state));
	store_job_clear(&job);
	return 0;
}
