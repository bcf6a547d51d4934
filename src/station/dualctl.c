/* Dual control: an SO-level command that [dual_control] names is held as a
 * pending request until a second user with the command's role confirms it;
 * it then runs as its requester's, and its audit records name both people. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"
#include "station/control.h"
#include "station/job_steps.h"
#include "store/store_dual.h"
#include "store/store_jobs.h"
#include "store/store_orders.h"
#include "station/bay.h"
#include "station/job.h"
#include "station/sources.h"

#define REMARK_MAX 500

/* What a held command acts on, as the station sees it now: 0 with *subject
 * (owned) when the command would act, else a UKEY_ERR_* code with the
 * reason, a sentence, in why. Reads r->args and leaves r->msg alone: at the
 * request a command that would not act is not held but runs, and says why
 * in its own words. */
typedef int (*subject_fn)(struct request *r, struct json_object **subject, char *why, size_t len);

static int wipe_subject(struct request *r, struct json_object **subject, char *why, size_t len);
static int unblock_subject(struct request *r, struct json_object **subject, char *why, size_t len);
static int approve_subject(struct request *r, struct json_object **subject, char *why, size_t len);
static int override_subject(struct request *r, struct json_object **subject, char *why,
    size_t len);

/* The commands dual control can hold: one row each. The action's name is
 * the one [dual_control] actions gives (its list is in config.c); the
 * confirmer needs the roles of the command's row in the dispatch table
 * (control.c). */
static const struct dual_action {
	const char *name;	/* the action, as [dual_control] names it */
	const char *cmd;	/* the control command held */
	const char *arg;	/* held only when the request gives this argument; NULL: always */
	subject_fn subject;
} actions[] = {
	{ "wipe", "bay.wipe", NULL, wipe_subject },
	{ "unblock", "token.unblock", NULL, unblock_subject },
	{ "override", "order.approve", "override_reason", approve_subject },
	{ "override", "order.override", NULL, override_subject },
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static int
why_fail(char *why, size_t len, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
why_fail(char *why, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return rc;
}

/* An argument given with any value but false or null. */
static int
arg_given(struct json_object *args, const char *name)
{
	struct json_object *v = json_object_object_get(args, name);

	return v != NULL && !(json_object_is_type(v, json_type_boolean) &&
	    !json_object_get_boolean(v));
}

static int
subject_bay(struct request *r, struct bay **out, char *why, size_t len)
{
	struct json_object *v = json_object_object_get(r->args, "bay");
	int64_t n;

	*out = NULL;
	if (!json_object_is_type(v, json_type_int))
		return why_fail(why, len, UKEY_ERR_INVAL, "argument bay: must be an integer");
	n = json_object_get_int64(v);
	if (n < 1 || n > station_n_bays(r->s))
		return why_fail(why, len, UKEY_ERR_NOTFOUND, "bay %lld: no such bay (1..%d)",
		    (long long)n, station_n_bays(r->s));
	*out = station_bay(r->s, n - 1);
	return 0;
}

/* A bay's token as a subject: the same bay holding the same token. */
static struct json_object *
bay_subject_json(const struct bay *b)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "bay", json_object_new_int(b->index));
	json_object_object_add(o, "bay_name", json_object_new_string(b->name));
	json_object_object_add(o, "token_serial", json_object_new_string(b->token_serial));
	json_object_object_add(o, "profile", b->profile ?
	    json_object_new_string(b->profile->name) : NULL);
	return o;
}

/* bay.wipe acts on a refused token whose worker runs (cmd_bay_wipe). */
static int
wipe_subject(struct request *r, struct json_object **subject, char *why, size_t len)
{
	struct bay *b;
	int rc;

	*subject = NULL;
	if ((rc = subject_bay(r, &b, why, len)) != 0)
		return rc;
	if (b->state != BAY_REFUSED || b->worker_fd < 0)
		return why_fail(why, len, UKEY_ERR_STATE, "bay %d holds no refused token to wipe"
		    " (bay is %s)", b->index, bay_state_name(b->state));
	*subject = bay_subject_json(b);
	return 0;
}

/* token.unblock acts on an initialised token that this station keeps the
 * SO PIN of, with no job or worker request under way (cmd_token_unblock). */
static int
unblock_subject(struct request *r, struct json_object **subject, char *why, size_t len)
{
	uint8_t *so = NULL;
	size_t so_len = 0;
	struct bay *b;
	int rc;

	*subject = NULL;
	if ((rc = subject_bay(r, &b, why, len)) != 0)
		return rc;
	if (b->worker_fd < 0 || b->profile == NULL)
		return why_fail(why, len, UKEY_ERR_STATE, "bay %d holds no token to unblock (%s)",
		    b->index, bay_state_name(b->state));
	if (b->job_id != 0 || b->pending_op[0])
		return why_fail(why, len, UKEY_ERR_BUSY, "bay %d: the token is busy", b->index);
	if (b->token_serial[0] == '\0' ||
	    !json_object_get_boolean(json_object_object_get(b->token, "initialized")))
		return why_fail(why, len, UKEY_ERR_STATE, "bay %d: the token is blank", b->index);
	/* the sealed SO PIN itself is not needed here, only that it is kept */
	rc = store_token_so_pin(station_store(r->s), b->profile->name, b->token_serial, &so, &so_len);
	free(so);
	if (rc != 0)
		return why_fail(why, len, rc, "bay %d: token %s: this station does not hold its SO PIN",
		    b->index, b->token_serial);
	*subject = bay_subject_json(b);
	return 0;
}

/* An identity check override applies to an order whose check characters
 * fail, not overridden yet, in a state where event ev is allowed. */
static int
order_subject(struct request *r, enum order_event ev, struct json_object **subject, char *why,
    size_t len)
{
	struct json_object *v = json_object_object_get(r->args, "id");
	struct store_order *o = NULL;
	enum order_state from, to;
	int64_t id;
	int rc;

	*subject = NULL;
	if (!json_object_is_type(v, json_type_int))
		return why_fail(why, len, UKEY_ERR_INVAL, "argument id: must be an integer");
	id = json_object_get_int64(v);
	rc = store_order_load(station_store(r->s), id, &o);
	if (rc == UKEY_ERR_NOTFOUND)
		return why_fail(why, len, rc, "order %lld: no such order", (long long)id);
	if (rc != 0)
		return why_fail(why, len, rc, "order %lld: %s", (long long)id, ukey_strerror(rc));
	if (order_state_parse(o->state, &from) != 0) {
		rc = why_fail(why, len, UKEY_ERR_DB, "order %lld: the store holds unknown state \"%s\"",
		    (long long)id, o->state);
	} else if (lifecycle_next(from, ev, &to) != 0) {
		lifecycle_refusal(id, from, ev, why, len);
		rc = UKEY_ERR_STATE;
	} else if (o->checksum_failures == NULL) {
		rc = why_fail(why, len, UKEY_ERR_STATE, "order %lld: no identity check character"
		    " fails; there is nothing to override", (long long)id);
	} else if (o->override_reason != NULL) {
		rc = why_fail(why, len, UKEY_ERR_EXISTS, "order %lld: already overridden by %s",
		    (long long)id, o->override_by);
	} else {
		*subject = json_object_new_object();
		json_object_object_add(*subject, "order", json_object_new_int64(id));
		json_object_object_add(*subject, "state", json_object_new_string(o->state));
		json_object_object_add(*subject, "revision", json_object_new_int64(o->revision));
		json_object_object_add(*subject, "checksum_failures",
		    json_object_new_string(o->checksum_failures));
	}
	store_order_free(o);
	return rc;
}

static int
approve_subject(struct request *r, struct json_object **subject, char *why, size_t len)
{
	return order_subject(r, OE_APPROVE, subject, why, len);
}

static int
override_subject(struct request *r, struct json_object **subject, char *why, size_t len)
{
	return order_subject(r, OE_OVERRIDE, subject, why, len);
}

/* The row of a command and its arguments, or NULL when none holds it. */
static const struct dual_action *
action_for(const char *cmd, struct json_object *args)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(actions); i++)
		if (strcmp(actions[i].cmd, cmd) == 0 &&
		    (actions[i].arg == NULL || arg_given(args, actions[i].arg)))
			return &actions[i];
	return NULL;
}

/* Argument names that would carry a secret; such a request is not stored. */
static int
secret_arg(const char *key)
{
	size_t kl = strlen(key);

	return (kl >= 3 && strcmp(key + kl - 3, "pin") == 0) || strstr(key, "secret") != NULL ||
	    strstr(key, "password") != NULL || strstr(key, "puk") != NULL;
}

static void
time_after(int secs, char out[32])
{
	time_t t = time(NULL) + secs;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Appends an audit record about a request, with the order, token and bay
 * its subject names (detail taken). */
static int
audit_request(struct station *s, const char *actor, const char *action,
    struct json_object *subject, struct json_object *detail)
{
	return station_audit(s, actor, action, jint(subject, "order"), 0, 0,
	    jstr(subject, "token_serial"), jstr(subject, "bay_name"), detail);
}

/* A stored text as JSON: a string, or NULL (JSON null) for NULL. */
static struct json_object *
json_text(const char *t)
{
	return t != NULL ? json_object_new_string(t) : NULL;
}

static struct json_object *
request_detail(const struct store_dual_request *q)
{
	struct json_object *d = json_object_new_object();

	json_object_object_add(d, "request", json_object_new_int64(q->id));
	json_object_object_add(d, "dual_action", json_text(q->action));
	json_object_object_add(d, "command", json_text(q->command));
	json_object_object_add(d, "requested_by", json_text(q->requested_by));
	return d;
}

/* Closes request q, if still in state from, as state (expired, refused,
 * cancelled) with the reason, and audits it as action by actor. Its own
 * transaction. */
static int
close_request(struct station *s, const struct store_dual_request *q, const char *from,
    const char *state, const char *actor, const char *reason, const char *action)
{
	struct json_object *subject = json_tokener_parse(q->subject), *d;
	char now[32];
	int rc;

	store_now(now);
	if ((rc = store_begin(station_store(s))) != 0)
		goto out;
	rc = store_dual_close(station_store(s), q->id, from, state, actor, reason, now);
	if (rc == 0) {
		d = request_detail(q);
		json_object_object_add(d, "reason", json_object_new_string(reason));
		rc = audit_request(s, actor, action, subject, d);
	}
	if (rc == 0)
		rc = store_commit(station_store(s));
	if (rc != 0)
		store_rollback(station_store(s));
 out:
	if (rc != 0)
		log_error("request %lld: closing it as %s: %s", (long long)q->id, state,
		    ukey_strerror(rc));
	json_object_put(subject);
	return rc;
}

/* Closes the pending requests whose time is up. Loop context. */
static void
expire_due(struct station *s)
{
	struct store_dual_request *due = NULL;
	char now[32], why[96];
	size_t i, n = 0;

	store_now(now);
	if (store_dual_due(station_store(s), now, &due, &n) != 0)
		return;
	for (i = 0; i < n; i++) {
		snprintf(why, sizeof(why), "not confirmed by %s", due[i].expires_at);
		close_request(s, &due[i], "pending", "expired", "ukeyd", why, "dual.expire");
	}
	store_dual_requests_free(due, n);
}

int
dualctl_check_table(void)
{
	unsigned roles;
	cmd_fn fn;
	size_t i;
	int bad = 0;

	for (i = 0; i < ARRAY_LEN(actions); i++) {
		if (config_dual_action_bit(actions[i].name) == 0) {
			log_error("dual control action %s (command %s) has no name in [dual_control]"
			    " actions (config.c)", actions[i].name, actions[i].cmd);
			bad++;
		}
		if (control_command_find(actions[i].cmd, &fn, &roles) != 0 || fn == NULL) {
			log_error("dual control action %s holds command %s, which the dispatch table"
			    " does not run", actions[i].name, actions[i].cmd);
			bad++;
		}
	}
	return bad;
}

/* Refuses a request whose arguments would carry a secret into the store. */
static int
refuse_secret_args(struct request *r, const char *cmd)
{
	json_object_object_foreach(r->args, key, val) {
		(void)val;
		if (secret_arg(key))
			return req_fail(r, UKEY_ERR_INVAL, "%s: argument %s would be a secret in the"
			    " store; a command held for confirmation cannot take it", cmd, key);
	}
	return 0;
}

/* Inside the caller's transaction: the pending request n and its
 * dual.request audit record; *id its row id. */
static int
hold_insert(struct station *s, const struct store_dual_new *n, struct json_object *subject,
    int64_t *id)
{
	struct json_object *d;
	int rc;

	if ((rc = store_dual_insert(station_store(s), n, id)) != 0)
		return rc;
	d = json_object_new_object();
	json_object_object_add(d, "request", json_object_new_int64(*id));
	json_object_object_add(d, "dual_action", json_object_new_string(n->action));
	json_object_object_add(d, "command", json_object_new_string(n->command));
	json_object_object_add(d, "args", json_tokener_parse(n->args));
	json_object_object_add(d, "subject", json_object_get(subject));
	json_object_object_add(d, "roles", json_object_new_string(n->requester_roles));
	json_object_object_add(d, "expires_at", json_object_new_string(n->expires_at));
	return audit_request(s, n->requested_by, "dual.request", subject, d);
}

/* The reply to a held command: {pending_request: {..., message}}. */
static struct json_object *
held_reply(struct request *r, const struct store_dual_new *n, int64_t id)
{
	struct json_object *p, *res;
	char why[512], needs[128];
	unsigned need = 0;
	cmd_fn fn;

	if (control_command_find(n->command, &fn, &need) != 0)
		need = ROLE_ADMIN;
	config_roles_format(need & ROLE_ALL, needs, sizeof(needs));
	log_info("request %lld: %s by %s held for confirmation until %s", (long long)id,
	    n->command, r->c->user, n->expires_at);
	p = json_object_new_object();
	json_object_object_add(p, "id", json_object_new_int64(id));
	json_object_object_add(p, "action", json_object_new_string(n->action));
	json_object_object_add(p, "command", json_object_new_string(n->command));
	json_object_object_add(p, "requested_by", json_object_new_string(r->c->user));
	json_object_object_add(p, "expires_at", json_object_new_string(n->expires_at));
	json_object_object_add(p, "confirm_roles", json_object_new_string(needs));
	snprintf(why, sizeof(why), "pending confirmation %lld: %s is held until another user with"
	    " %s %s confirms it (ukeyctl confirm %lld) before %s", (long long)id, n->action,
	    (need & (need - 1) & ROLE_ALL) ? "one of the roles" : "the role", needs, (long long)id,
	    n->expires_at);
	json_object_object_add(p, "message", json_object_new_string(why));
	res = json_object_new_object();
	json_object_object_add(res, "pending_request", p);
	return res;
}

int
dualctl_hold(struct request *r, const char *cmd, int *held, struct json_object **result)
{
	struct station *s = r->s;
	const struct dual_action *a;
	struct json_object *subject = NULL;
	struct store_dual_new n;
	char why[512], now[32], expires[32], roles[128];
	int64_t id = 0;
	int rc;

	*held = 0;
	if ((a = action_for(cmd, r->args)) == NULL ||
	    !(station_cfg(s)->dual_actions & config_dual_action_bit(a->name)))
		return 0;
	if (a->subject(r, &subject, why, sizeof(why)) != 0)
		return 0;	/* it would not act: it runs and says why */
	if ((rc = refuse_secret_args(r, cmd)) != 0)
		goto out;
	expire_due(s);
	store_now(now);
	time_after(station_cfg(s)->dual_timeout_s, expires);
	config_roles_format(r->c->roles, roles, sizeof(roles));
	n = (struct store_dual_new){
		.action = a->name, .command = cmd,
		.args = json_object_to_json_string_ext(r->args, JSON_C_TO_STRING_PLAIN),
		.subject = json_object_to_json_string_ext(subject, JSON_C_TO_STRING_PLAIN),
		.requested_by = r->c->user, .requested_uid = (int64_t)r->c->uid,
		.requester_roles = roles, .requested_at = now, .expires_at = expires,
	};
	if ((rc = store_begin(station_store(s))) != 0)
		goto out;
	rc = hold_insert(s, &n, subject, &id);
	if (rc == 0)
		rc = store_commit(station_store(s));
	if (rc != 0) {
		store_rollback(station_store(s));
		rc = req_fail(r, rc, "%s: the request for confirmation could not be stored: %s", cmd,
		    ukey_strerror(rc));
		goto out;
	}
	*result = held_reply(r, &n, id);
	*held = 1;
	rc = 0;
 out:
	json_object_put(subject);
	return rc;
}

static int
remark_arg(struct request *r, const char **out)
{
	int rc = arg_str(r, "remark", 0, out);

	if (rc == UKEY_ERR_NOTFOUND) {
		*out = NULL;
		return 0;
	}
	if (rc != 0)
		return rc;
	if (!utf8_valid(*out, strlen(*out)) || utf8_has_control(*out))
		return req_fail(r, UKEY_ERR_INVAL, "remark: must be UTF-8 text without control"
		    " characters");
	if ((*out)[0] == '\0' || utf8_chars(*out) > REMARK_MAX)
		return req_fail(r, UKEY_ERR_INVAL, "remark: must be 1 to %d characters", REMARK_MAX);
	return 0;
}

/* Loads request id into *q (store_dual_request_clear), after closing the
 * expired ones. */
static int
load_request(struct request *r, int64_t id, struct store_dual_request *q)
{
	int rc;

	expire_due(r->s);
	rc = store_dual_load(station_store(r->s), id, q);
	if (rc == UKEY_ERR_NOTFOUND)
		return req_fail(r, rc, "request %lld: no such request", (long long)id);
	return rc;
}

/* The refusal of a request that is no longer pending. */
static int
not_pending(struct request *r, const struct store_dual_request *q, const char *verb)
{
	const char *why = q->close_reason;
	long long id = (long long)q->id;

	if (strcmp(q->state, "expired") == 0)
		return req_fail(r, UKEY_ERR_STATE, "request %lld expired at %s: it was not confirmed"
		    " in time and cannot be %s; ask again", id, q->expires_at, verb);
	return req_fail(r, UKEY_ERR_STATE, "request %lld is %s%s%s%s; only a pending request can be %s",
	    id, q->state, why ? " (" : "", why ? why : "", why ? ")" : "", verb);
}

/* A confirmation refused for who asks: audited as access.denied. */
static int
deny(struct request *r, const struct store_dual_request *q, const char *why)
{
	struct json_object *d = request_detail(q);
	char held[128];

	req_fail(r, UKEY_ERR_PERM, "request %lld: %s", (long long)q->id, why);
	log_info("access denied: %s", r->msg);
	json_object_object_add(d, "command", json_object_new_string("pending.confirm"));
	json_object_object_add(d, "dual_command", json_text(q->command));
	json_object_object_add(d, "roles", json_object_new_string(config_roles_format(r->c->roles,
	    held, sizeof(held))));
	json_object_object_add(d, "uid", json_object_new_int64((int64_t)r->c->uid));
	json_object_object_add(d, "reason", json_object_new_string(why));
	station_audit(r->s, r->c->user, "access.denied", 0, 0, 0, NULL, NULL, d);
	return UKEY_ERR_PERM;
}

static int
own_request(const struct client *c, const struct store_dual_request *q)
{
	return q->requested_uid == (int64_t)c->uid || strcmp(q->requested_by, c->user) == 0;
}

/* Whether who asks may confirm q, whose command needs the roles need: not
 * its requester, and holding one of them. 0, or the denial (audited). */
static int
confirm_allowed(struct request *r, const struct store_dual_request *q, unsigned need)
{
	char why[1024], needs[128], held[128];

	if (own_request(r->c, q)) {
		snprintf(why, sizeof(why), "%s asked for it and cannot confirm it too; a second user"
		    " must", r->c->user);
		return deny(r, q, why);
	}
	if (!(r->c->roles & need)) {
		config_roles_format(need & ROLE_ALL, needs, sizeof(needs));
		snprintf(why, sizeof(why), "permission denied: confirming %s needs %s %s; user %s has"
		    " %s%s", q->command, (need & (need - 1) & ROLE_ALL) ? "one of the roles" :
		    "the role", needs, r->c->user, r->c->roles ? (r->c->roles & (r->c->roles - 1) ?
		    "the roles " : "the role ") : "no role",
		    r->c->roles ? config_roles_format(r->c->roles, held, sizeof(held)) : "");
		return deny(r, q, why);
	}
	return 0;
}

/* The world must be as it was when the request was made: what the command
 * acts on now (sub, as its requester) must equal then. Otherwise the
 * request is refused and closed. */
static int
confirm_subject_same(struct request *r, const struct store_dual_request *q,
    const struct dual_action *a, struct request *sub, struct json_object *then)
{
	struct json_object *now_subj = NULL;
	char why[1024];
	int rc;

	rc = a->subject(sub, &now_subj, why, sizeof(why));
	if (rc == 0 && !json_object_equal(then, now_subj)) {
		snprintf(why, sizeof(why), "what it acts on changed since the request: was %s, now %s",
		    json_object_to_json_string_ext(then, JSON_C_TO_STRING_PLAIN),
		    json_object_to_json_string_ext(now_subj, JSON_C_TO_STRING_PLAIN));
		rc = UKEY_ERR_STATE;
	}
	json_object_put(now_subj);
	if (rc == 0)
		return 0;
	close_request(r->s, q, "pending", "refused", r->c->user, why, "dual.refuse");
	return req_fail(r, UKEY_ERR_STATE, "request %lld refused and closed: %s", (long long)q->id,
	    why);
}

/* Records the confirmation of q by who asks, with its dual.confirm audit
 * record, in one transaction, before the command's own records. */
static int
confirm_record(struct request *r, const struct store_dual_request *q, const char *remark,
    struct json_object *then)
{
	struct station *s = r->s;
	struct json_object *d;
	char now[32];
	int rc;

	store_now(now);
	if ((rc = store_begin(station_store(s))) != 0)
		return rc;
	rc = store_dual_confirm(station_store(s), q->id, r->c->user, remark, now);
	if (rc == 0) {
		d = request_detail(q);
		json_object_object_add(d, "confirmed_by", json_object_new_string(r->c->user));
		if (remark != NULL)
			json_object_object_add(d, "remark", json_object_new_string(remark));
		rc = audit_request(s, r->c->user, "dual.confirm", then, d);
	}
	if (rc == 0)
		rc = store_commit(station_store(s));
	if (rc != 0) {
		store_rollback(station_store(s));
		rc = req_fail(r, rc, "request %lld: recording the confirmation: %s", (long long)q->id,
		    ukey_strerror(rc));
	}
	return rc;
}

/* Runs the confirmed command fn as sub (its requester's), the audit
 * records naming both people; its failure refuses and closes q. */
static int
confirm_run(struct request *r, const struct store_dual_request *q, cmd_fn fn,
    struct request *sub, struct json_object **result)
{
	struct station *s = r->s;
	const struct dual_actors *saved;
	struct dual_actors who;
	char why[1024];
	int rc;

	log_info("request %lld: %s confirmed %s of %s", (long long)q->id, r->c->user, q->command,
	    sub->c->user);
	memset(&who, 0, sizeof(who));
	who.request = q->id;
	snprintf(who.requested_by, sizeof(who.requested_by), "%s", sub->c->user);
	snprintf(who.confirmed_by, sizeof(who.confirmed_by), "%s", r->c->user);
	saved = station_dual(s);
	station_set_dual(s, &who);
	rc = fn(sub, result);
	station_set_dual(s, saved);
	if (rc != 0) {
		snprintf(why, sizeof(why), "%s", sub->msg[0] ? sub->msg : ukey_strerror(rc));
		close_request(s, q, "confirmed", "refused", r->c->user, why, "dual.refuse");
		req_fail(r, rc, "request %lld confirmed, but %s refused it: %s", (long long)q->id,
		    q->command, why);
		r->details = sub->details;
		return rc;
	}
	r->deferred = sub->deferred;
	if (!sub->deferred && *result == NULL)
		*result = json_object_new_object();
	return 0;
}

/* The arguments of pending.confirm and pending.cancel (id, remark) and the
 * request they name, which must still be pending (else r->msg says it was
 * already `verb` or ended otherwise). *q is loaded or left zeroed: the
 * caller clears it either way. */
static int
pending_request(struct request *r, const char *verb, int64_t *id, const char **remark,
    struct store_dual_request *q)
{
	int rc;

	if ((rc = arg_int(r, "id", 1, id)) != 0 || (rc = remark_arg(r, remark)) != 0 ||
	    (rc = load_request(r, *id, q)) != 0)
		return rc;
	return strcmp(q->state, "pending") == 0 ? 0 : not_pending(r, q, verb);
}

int
cmd_pending_confirm(struct request *r, struct json_object **result)
{
	struct store_dual_request q = { 0 };
	struct json_object *args = NULL, *then = NULL;
	const struct dual_action *a;
	struct request sub;
	struct client proxy;
	const char *remark;
	unsigned need;
	cmd_fn fn;
	int64_t id;
	int rc;

	*result = NULL;
	if ((rc = pending_request(r, "confirmed", &id, &remark, &q)) != 0)
		goto out;
	args = json_tokener_parse(q.args);
	then = json_tokener_parse(q.subject);
	if (!json_object_is_type(args, json_type_object) ||
	    (a = action_for(q.command, args)) == NULL ||
	    control_command_find(q.command, &fn, &need) != 0 || fn == NULL) {
		rc = req_fail(r, UKEY_ERR_DB, "request %lld: the store holds a command this station"
		    " cannot run (%s)", (long long)id, q.command);
		goto out;
	}
	if ((rc = confirm_allowed(r, &q, need)) != 0)
		goto out;
	/* the command runs as its requester's; replies go to the confirmer */
	proxy = *r->c;
	snprintf(proxy.user, sizeof(proxy.user), "%s", q.requested_by);
	sub = (struct request){ .s = r->s, .c = &proxy, .args = args };
	if ((rc = confirm_subject_same(r, &q, a, &sub, then)) != 0 ||
	    (rc = confirm_record(r, &q, remark, then)) != 0)
		goto out;
	rc = confirm_run(r, &q, fn, &sub, result);
 out:
	json_object_put(then);
	json_object_put(args);
	store_dual_request_clear(&q);
	return rc;
}

int
cmd_pending_cancel(struct request *r, struct json_object **result)
{
	struct store_dual_request q = { 0 };
	const char *remark;
	char why[600];
	int64_t id;
	int rc;

	*result = NULL;
	if ((rc = pending_request(r, "cancelled", &id, &remark, &q)) != 0)
		goto out;
	if (!own_request(r->c, &q)) {
		rc = req_fail(r, UKEY_ERR_PERM, "request %lld: only %s, who asked for it, can cancel"
		    " it", (long long)id, q.requested_by);
		goto out;
	}
	snprintf(why, sizeof(why), "cancelled by %s%s%s", r->c->user, remark ? ": " : "",
	    remark ? remark : "");
	if ((rc = close_request(r->s, &q, "pending", "cancelled", r->c->user, why,
	    "dual.cancel")) != 0) {
		rc = req_fail(r, rc, "request %lld: cancelling it: %s", (long long)id,
		    ukey_strerror(rc));
		goto out;
	}
	*result = json_object_new_object();
	json_object_object_add(*result, "id", json_object_new_int64(id));
	json_object_object_add(*result, "state", json_object_new_string("cancelled"));
	rc = 0;
 out:
	store_dual_request_clear(&q);
	return rc;
}

/* JSON text as JSON, or as the text when it does not parse. */
static struct json_object *
json_parsed(const char *t)
{
	struct json_object *v = t != NULL ? json_tokener_parse(t) : NULL;

	return v != NULL ? v : json_text(t);
}

/* A request as pending.list shows it (docs/protocol.md). */
static struct json_object *
request_json(const struct store_dual_request *q)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(q->id));
	json_object_object_add(o, "action", json_text(q->action));
	json_object_object_add(o, "command", json_text(q->command));
	json_object_object_add(o, "args", json_parsed(q->args));
	json_object_object_add(o, "subject", json_parsed(q->subject));
	json_object_object_add(o, "requested_by", json_text(q->requested_by));
	json_object_object_add(o, "requester_roles", json_text(q->requester_roles));
	json_object_object_add(o, "requested_at", json_text(q->requested_at));
	json_object_object_add(o, "expires_at", json_text(q->expires_at));
	json_object_object_add(o, "state", json_text(q->state));
	json_object_object_add(o, "confirmed_by", json_text(q->confirmed_by));
	json_object_object_add(o, "confirmed_at", json_text(q->confirmed_at));
	json_object_object_add(o, "remark", json_text(q->remark));
	json_object_object_add(o, "closed_by", json_text(q->closed_by));
	json_object_object_add(o, "closed_at", json_text(q->closed_at));
	json_object_object_add(o, "close_reason", json_text(q->close_reason));
	return o;
}

int
cmd_pending_list(struct request *r, struct json_object **result)
{
	struct store_dual_request *a = NULL;
	struct page p;
	size_t i, n = 0;
	int rc;

	if ((rc = page_args(r, LIST_PAGE_MAX, &p)) != 0)
		return rc;
	expire_due(r->s);
	if ((rc = store_dual_list(station_store(r->s), arg_given(r->args, "all"), p.after,
	    p.limit, &a, &n)) != 0)
		return rc;
	*result = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(*result, request_json(&a[i]));
	store_dual_requests_free(a, n);
	page_next_key(r, *result, "id", &p);
	return 0;
}
