/* Dual control: an SO-level command that [dual_control] names is held as a
 * pending request until a second user with the command's role confirms it;
 * it then runs as its requester's, and its audit records name both people. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"
#include "station/control.h"
#include "station/job_steps.h"
#include "store/store_orders.h"

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
	if (n < 1 || n > r->s->n_bays)
		return why_fail(why, len, UKEY_ERR_NOTFOUND, "bay %lld: no such bay (1..%d)",
		    (long long)n, r->s->n_bays);
	*out = &r->s->bays[n - 1];
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
	struct json_object *row = NULL;
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
	rc = store_row(r->s->st, &row, "SELECT 1 AS known FROM tokens WHERE profile = ? AND"
	    " serial = ? AND so_pin_enc IS NOT NULL", "tt", b->profile->name, b->token_serial);
	json_object_put(row);
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
	rc = store_order_load(r->s->st, id, &o);
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

static struct json_object *
request_detail(struct json_object *row)
{
	struct json_object *d = json_object_new_object();

	json_object_object_add(d, "request", json_object_new_int64(jint(row, "id")));
	json_object_object_add(d, "dual_action", json_object_get(json_object_object_get(row,
	    "action")));
	json_object_object_add(d, "command", json_object_get(json_object_object_get(row,
	    "command")));
	json_object_object_add(d, "requested_by", json_object_get(json_object_object_get(row,
	    "requested_by")));
	return d;
}

/* Closes pending request row as state (expired, refused, cancelled) with the
 * reason, and audits it as action by actor. Its own transaction. */
static int
close_request(struct station *s, struct json_object *row, const char *from, const char *state,
    const char *actor, const char *reason, const char *action)
{
	struct json_object *subject = json_tokener_parse(jstr(row, "subject")), *d;
	char now[32];
	int rc;

	store_now(now);
	if ((rc = store_begin(s->st)) != 0)
		goto out;
	rc = store_run(s->st, "UPDATE dual_requests SET state = ?, closed_by = ?, closed_at = ?,"
	    " close_reason = ? WHERE id = ? AND state = ?", "ttttit", state, actor, now, reason,
	    jint(row, "id"), from);
	if (rc == 0) {
		d = request_detail(row);
		json_object_object_add(d, "reason", json_object_new_string(reason));
		rc = audit_request(s, actor, action, subject, d);
	}
	if (rc == 0)
		rc = store_commit(s->st);
	if (rc != 0)
		store_rollback(s->st);
 out:
	if (rc != 0)
		log_error("request %lld: closing it as %s: %s", (long long)jint(row, "id"), state,
		    ukey_strerror(rc));
	json_object_put(subject);
	return rc;
}

/* Closes the pending requests whose time is up. Loop context. */
static void
expire_due(struct station *s)
{
	struct json_object *rows = NULL, *row;
	char now[32], why[96];
	size_t i;

	store_now(now);
	if (store_query(s->st, &rows, "SELECT * FROM dual_requests WHERE state = 'pending' AND"
	    " expires_at <= ? ORDER BY id", "t", now) != 0)
		return;
	for (i = 0; i < json_object_array_length(rows); i++) {
		row = json_object_array_get_idx(rows, i);
		snprintf(why, sizeof(why), "not confirmed by %s", jstr(row, "expires_at"));
		close_request(s, row, "pending", "expired", "ukeyd", why, "dual.expire");
	}
	json_object_put(rows);
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

int
dualctl_hold(struct request *r, const char *cmd, int *held, struct json_object **result)
{
	struct station *s = r->s;
	const struct dual_action *a;
	struct json_object *subject = NULL, *d, *p;
	char why[512], now[32], expires[32], roles[128], needs[128];
	const char *name, *args_text;
	cmd_fn fn;
	unsigned need = 0;
	int64_t id = 0;
	int rc;

	*held = 0;
	if ((a = action_for(cmd, r->args)) == NULL ||
	    !(s->cfg.dual_actions & config_dual_action_bit(a->name)))
		return 0;
	if (a->subject(r, &subject, why, sizeof(why)) != 0)
		return 0;	/* it would not act: it runs and says why */
	name = a->name;
	json_object_object_foreach(r->args, key, val) {
		(void)val;
		if (secret_arg(key)) {
			rc = req_fail(r, UKEY_ERR_INVAL, "%s: argument %s would be a secret in the"
			    " store; a command held for confirmation cannot take it", cmd, key);
			goto out;
		}
	}
	expire_due(s);
	store_now(now);
	time_after(s->cfg.dual_timeout_s, expires);
	config_roles_format(r->c->roles, roles, sizeof(roles));
	args_text = json_object_to_json_string_ext(r->args, JSON_C_TO_STRING_PLAIN);
	if ((rc = store_begin(s->st)) != 0)
		goto out;
	rc = store_run(s->st, "INSERT INTO dual_requests (action, command, args, subject,"
	    " requested_by, requested_uid, requester_roles, requested_at, expires_at, state)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')", "tttttitt" "t", name, cmd, args_text,
	    json_object_to_json_string_ext(subject, JSON_C_TO_STRING_PLAIN), r->c->user,
	    (int64_t)r->c->uid, roles, now, expires);
	if (rc == 0) {
		id = store_last_id(s->st);
		d = json_object_new_object();
		json_object_object_add(d, "request", json_object_new_int64(id));
		json_object_object_add(d, "dual_action", json_object_new_string(name));
		json_object_object_add(d, "command", json_object_new_string(cmd));
		json_object_object_add(d, "args", json_tokener_parse(args_text));
		json_object_object_add(d, "subject", json_object_get(subject));
		json_object_object_add(d, "roles", json_object_new_string(roles));
		json_object_object_add(d, "expires_at", json_object_new_string(expires));
		rc = audit_request(s, r->c->user, "dual.request", subject, d);
	}
	if (rc == 0)
		rc = store_commit(s->st);
	if (rc != 0) {
		store_rollback(s->st);
		rc = req_fail(r, rc, "%s: the request for confirmation could not be stored: %s", cmd,
		    ukey_strerror(rc));
		goto out;
	}
	if (control_command_find(cmd, &fn, &need) != 0)
		need = ROLE_ADMIN;
	config_roles_format(need & ROLE_ALL, needs, sizeof(needs));
	log_info("request %lld: %s by %s held for confirmation until %s", (long long)id, cmd,
	    r->c->user, expires);
	p = json_object_new_object();
	json_object_object_add(p, "id", json_object_new_int64(id));
	json_object_object_add(p, "action", json_object_new_string(name));
	json_object_object_add(p, "command", json_object_new_string(cmd));
	json_object_object_add(p, "requested_by", json_object_new_string(r->c->user));
	json_object_object_add(p, "expires_at", json_object_new_string(expires));
	json_object_object_add(p, "confirm_roles", json_object_new_string(needs));
	snprintf(why, sizeof(why), "pending confirmation %lld: %s is held until another user with"
	    " %s %s confirms it (ukeyctl confirm %lld) before %s", (long long)id, name,
	    (need & (need - 1) & ROLE_ALL) ? "one of the roles" : "the role", needs, (long long)id,
	    expires);
	json_object_object_add(p, "message", json_object_new_string(why));
	*result = json_object_new_object();
	json_object_object_add(*result, "pending_request", p);
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

/* Loads request id into *row (owned), after closing the expired ones. */
static int
load_request(struct request *r, int64_t id, struct json_object **row)
{
	int rc;

	expire_due(r->s);
	rc = store_row(r->s->st, row, "SELECT * FROM dual_requests WHERE id = ?", "i", id);
	if (rc == UKEY_ERR_NOTFOUND)
		return req_fail(r, rc, "request %lld: no such request", (long long)id);
	return rc;
}

/* The refusal of a request that is no longer pending. */
static int
not_pending(struct request *r, struct json_object *row, const char *verb)
{
	const char *state = jstr(row, "state"), *why = jstr(row, "close_reason");
	long long id = (long long)jint(row, "id");

	if (strcmp(state, "expired") == 0)
		return req_fail(r, UKEY_ERR_STATE, "request %lld expired at %s: it was not confirmed"
		    " in time and cannot be %s; ask again", id, jstr(row, "expires_at"), verb);
	return req_fail(r, UKEY_ERR_STATE, "request %lld is %s%s%s%s; only a pending request can be %s",
	    id, state, why ? " (" : "", why ? why : "", why ? ")" : "", verb);
}

/* A confirmation refused for who asks: audited as access.denied. */
static int
deny(struct request *r, struct json_object *row, const char *why)
{
	struct json_object *d = request_detail(row);
	char held[128];

	req_fail(r, UKEY_ERR_PERM, "request %lld: %s", (long long)jint(row, "id"), why);
	log_info("access denied: %s", r->msg);
	json_object_object_add(d, "command", json_object_new_string("pending.confirm"));
	json_object_object_add(d, "dual_command", json_object_get(json_object_object_get(row,
	    "command")));
	json_object_object_add(d, "roles", json_object_new_string(config_roles_format(r->c->roles,
	    held, sizeof(held))));
	json_object_object_add(d, "uid", json_object_new_int64((int64_t)r->c->uid));
	json_object_object_add(d, "reason", json_object_new_string(why));
	station_audit(r->s, r->c->user, "access.denied", 0, 0, 0, NULL, NULL, d);
	return UKEY_ERR_PERM;
}

static int
own_request(const struct client *c, struct json_object *row)
{
	return jint(row, "requested_uid") == (int64_t)c->uid ||
	    strcmp(jstr(row, "requested_by"), c->user) == 0;
}

int
cmd_pending_confirm(struct request *r, struct json_object **result)
{
	struct station *s = r->s;
	struct json_object *row = NULL, *args = NULL, *then = NULL, *now_subj = NULL, *d;
	const struct dual_action *a;
	const struct dual_actors *saved;
	struct dual_actors who;
	struct request sub;
	struct client proxy;
	const char *remark, *cmd;
	char why[1024], now[32], needs[128], held[128];
	unsigned need;
	cmd_fn fn;
	int64_t id;
	int rc;

	*result = NULL;
	if ((rc = arg_int(r, "id", 1, &id)) != 0 || (rc = remark_arg(r, &remark)) != 0)
		return rc;
	if ((rc = load_request(r, id, &row)) != 0)
		return rc;
	if (strcmp(jstr(row, "state"), "pending") != 0) {
		rc = not_pending(r, row, "confirmed");
		goto out;
	}
	cmd = jstr(row, "command");
	args = json_tokener_parse(jstr(row, "args"));
	then = json_tokener_parse(jstr(row, "subject"));
	if (!json_object_is_type(args, json_type_object) || (a = action_for(cmd, args)) == NULL ||
	    control_command_find(cmd, &fn, &need) != 0 || fn == NULL) {
		rc = req_fail(r, UKEY_ERR_DB, "request %lld: the store holds a command this station"
		    " cannot run (%s)", (long long)id, cmd);
		goto out;
	}
	if (own_request(r->c, row)) {
		snprintf(why, sizeof(why), "%s asked for it and cannot confirm it too; a second user"
		    " must", r->c->user);
		rc = deny(r, row, why);
		goto out;
	}
	if (!(r->c->roles & need)) {
		config_roles_format(need & ROLE_ALL, needs, sizeof(needs));
		snprintf(why, sizeof(why), "permission denied: confirming %s needs %s %s; user %s has"
		    " %s%s", cmd, (need & (need - 1) & ROLE_ALL) ? "one of the roles" : "the role",
		    needs, r->c->user, r->c->roles ? (r->c->roles & (r->c->roles - 1) ? "the roles " :
		    "the role ") : "no role",
		    r->c->roles ? config_roles_format(r->c->roles, held, sizeof(held)) : "");
		rc = deny(r, row, why);
		goto out;
	}
	/* the command runs as its requester's; replies go to the confirmer */
	proxy = *r->c;
	snprintf(proxy.user, sizeof(proxy.user), "%s", jstr(row, "requested_by"));
	sub = (struct request){ .s = s, .c = &proxy, .args = args };
	/* the world must be as it was when the request was made */
	rc = a->subject(&sub, &now_subj, why, sizeof(why));
	if (rc == 0 && !json_object_equal(then, now_subj)) {
		snprintf(why, sizeof(why), "what it acts on changed since the request: was %s, now %s",
		    json_object_to_json_string_ext(then, JSON_C_TO_STRING_PLAIN),
		    json_object_to_json_string_ext(now_subj, JSON_C_TO_STRING_PLAIN));
		rc = UKEY_ERR_STATE;
	}
	if (rc != 0) {
		close_request(s, row, "pending", "refused", r->c->user, why, "dual.refuse");
		rc = req_fail(r, UKEY_ERR_STATE, "request %lld refused and closed: %s", (long long)id,
		    why);
		goto out;
	}
	/* the confirmation is recorded before the command's own records */
	store_now(now);
	if ((rc = store_begin(s->st)) != 0)
		goto out;
	rc = store_run(s->st, "UPDATE dual_requests SET state = 'confirmed', confirmed_by = ?,"
	    " confirmed_at = ?, remark = ? WHERE id = ? AND state = 'pending'", "ttti", r->c->user,
	    now, remark, id);
	if (rc == 0) {
		d = request_detail(row);
		json_object_object_add(d, "confirmed_by", json_object_new_string(r->c->user));
		if (remark != NULL)
			json_object_object_add(d, "remark", json_object_new_string(remark));
		rc = audit_request(s, r->c->user, "dual.confirm", then, d);
	}
	if (rc == 0)
		rc = store_commit(s->st);
	if (rc != 0) {
		store_rollback(s->st);
		rc = req_fail(r, rc, "request %lld: recording the confirmation: %s", (long long)id,
		    ukey_strerror(rc));
		goto out;
	}
	log_info("request %lld: %s confirmed %s of %s", (long long)id, r->c->user, cmd,
	    proxy.user);
	memset(&who, 0, sizeof(who));
	who.request = id;
	snprintf(who.requested_by, sizeof(who.requested_by), "%s", proxy.user);
	snprintf(who.confirmed_by, sizeof(who.confirmed_by), "%s", r->c->user);
	saved = s->dual;
	s->dual = &who;
	rc = fn(&sub, result);
	s->dual = saved;
	if (rc != 0) {
		snprintf(why, sizeof(why), "%s", sub.msg[0] ? sub.msg : ukey_strerror(rc));
		close_request(s, row, "confirmed", "refused", r->c->user, why, "dual.refuse");
		req_fail(r, rc, "request %lld confirmed, but %s refused it: %s", (long long)id, cmd, why);
		r->details = sub.details;
		goto out;
	}
	r->deferred = sub.deferred;
	if (!sub.deferred && *result == NULL)
		*result = json_object_new_object();
	rc = 0;
 out:
	json_object_put(now_subj);
	json_object_put(then);
	json_object_put(args);
	json_object_put(row);
	return rc;
}

int
cmd_pending_cancel(struct request *r, struct json_object **result)
{
	struct json_object *row = NULL;
	const char *remark;
	char why[600];
	int64_t id;
	int rc;

	*result = NULL;
	if ((rc = arg_int(r, "id", 1, &id)) != 0 || (rc = remark_arg(r, &remark)) != 0)
		return rc;
	if ((rc = load_request(r, id, &row)) != 0)
		return rc;
	if (strcmp(jstr(row, "state"), "pending") != 0) {
		rc = not_pending(r, row, "cancelled");
		goto out;
	}
	if (!own_request(r->c, row)) {
		rc = req_fail(r, UKEY_ERR_PERM, "request %lld: only %s, who asked for it, can cancel"
		    " it", (long long)id, jstr(row, "requested_by"));
		goto out;
	}
	snprintf(why, sizeof(why), "cancelled by %s%s%s", r->c->user, remark ? ": " : "",
	    remark ? remark : "");
	if ((rc = close_request(r->s, row, "pending", "cancelled", r->c->user, why,
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
	json_object_put(row);
	return rc;
}

int
cmd_pending_list(struct request *r, struct json_object **result)
{
	struct json_object *row, *v;
	size_t i;
	int rc;

	expire_due(r->s);
	rc = store_query(r->s->st, result, "SELECT id, action, command, args, subject, requested_by,"
	    " requester_roles, requested_at, expires_at, state, confirmed_by, confirmed_at, remark,"
	    " closed_by, closed_at, close_reason FROM dual_requests WHERE ?1 OR state = 'pending'"
	    " ORDER BY id", "i", (int64_t)arg_given(r->args, "all"));
	if (rc != 0)
		return rc;
	/* args and subject as JSON, not as text holding JSON */
	for (i = 0; i < json_object_array_length(*result); i++) {
		row = json_object_array_get_idx(*result, i);
		if ((v = json_tokener_parse(jstr(row, "args"))) != NULL)
			json_object_object_add(row, "args", v);
		if ((v = json_tokener_parse(jstr(row, "subject"))) != NULL)
			json_object_object_add(row, "subject", v);
	}
	return 0;
}
