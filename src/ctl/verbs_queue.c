/* ukeyctl's production verbs: the queue and its units, and dual control's
 * pending requests (docs/jobs.md, docs/protocol.md). */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl/ctl.h"

/* What a confirmed request's command did, in the words its own verb uses. */
static void
print_confirmed(int64_t id, struct json_object *res)
{
	struct json_object *v;

	printf("request %lld confirmed: ", (long long)id);
	if (json_object_object_get(res, "was_locked") != NULL)
		printf("token %s: new user PIN set%s; show it once with: ukeyctl bay take-pin"
		    " --bay %d (only the confirming user can)\n",
		    json_object_get_string(json_object_object_get(res, "token_serial")),
		    json_object_get_boolean(json_object_object_get(res, "was_locked")) ?
		    " (it was locked)" : "", json_object_get_int(json_object_object_get(res, "bay")));
	else if ((v = json_object_object_get(res, "id")) != NULL)
		printf("order %lld: %s\n", (long long)json_object_get_int64(v),
		    json_object_get_string(json_object_object_get(res, "state")));
	else if ((v = json_object_object_get(res, "bay")) != NULL)
		printf("bay %d: wiping allowed; the job restarts on this token\n",
		    json_object_get_int(v));
	else
		printf("done\n");
}

/* ukeyctl queue */
int
verb_queue(const struct ctl_verb *v, const struct ctl_args *a)
{
	static const char *const cols[] = { "unit", "order_id", "portal_ref", "kind", "name",
		"cert_profile", "years", "seq", "count", "state", "failures", "hold_reason", NULL };

	return ctl_list("queue", json_object_new_object(), cols, a, CTL_PAGE);
}

/* ukeyctl unit release|cancel N --remark TEXT */
int
verb_unit(const struct ctl_verb *v, const struct ctl_args *a)
{
	int release = strcmp(v->words, "unit release") == 0;
	struct json_object *args;
	char done[64];
	int64_t id;

	if (ctl_parse_int(a->pos[0], "unit", &id) != 0 ||
	    !ctl_need(v, "--remark TEXT", a->val[OPT_REMARK] != NULL))
		return EXIT_USAGE;
	args = json_object_new_object();
	json_object_object_add(args, "unit", json_object_new_int64(id));
	ctl_add_str(args, "remark", a->val[OPT_REMARK]);
	snprintf(done, sizeof(done), release ? "unit %lld: queued" : "unit %lld: cancelled",
	    (long long)id);
	return ctl_simple(release ? "unit.release" : "unit.cancel", args, NULL, done);
}

/* ukeyctl pending [--all] */
int
verb_pending(const struct ctl_verb *v, const struct ctl_args *a)
{
	static const char *const cols[] = { "id", "action", "command", "args", "requested_by",
		"requested_at", "expires_at", "state", "confirmed_by", "close_reason", NULL };
	struct json_object *args = json_object_new_object();

	if (a->val[OPT_ALL] != NULL)
		json_object_object_add(args, "all", json_object_new_boolean(1));
	return ctl_list("pending.list", args, cols, a, CTL_PAGE);
}

/* {"id": ID, "remark": TEXT} from ID [--remark TEXT]; NULL after a message. */
static struct json_object *
request_args(const struct ctl_args *a, int64_t *id)
{
	struct json_object *args;

	if (ctl_parse_int(a->pos[0], "ID", id) != 0)
		return NULL;
	args = json_object_new_object();
	json_object_object_add(args, "id", json_object_new_int64(*id));
	ctl_add_str(args, "remark", a->val[OPT_REMARK]);
	return args;
}

/* ukeyctl pending cancel ID [--remark TEXT] */
int
verb_pending_cancel(const struct ctl_verb *v, const struct ctl_args *a)
{
	struct json_object *args;
	int64_t id;

	if ((args = request_args(a, &id)) == NULL) {
		ctl_verb_usage(stderr, v);
		return EXIT_USAGE;
	}
	return ctl_simple("pending.cancel", args, NULL, "request cancelled");
}

/* ukeyctl confirm ID [--remark TEXT] */
int
verb_confirm(const struct ctl_verb *v, const struct ctl_args *a)
{
	struct json_object *args, *rep, *res;
	int64_t id;
	int ex;

	if ((args = request_args(a, &id)) == NULL) {
		ctl_verb_usage(stderr, v);
		return EXIT_USAGE;
	}
	if ((ex = ctl_run("pending.confirm", args, &rep, &res)) == EXIT_OK) {
		if (ctl_json)
			print_json(res);
		else
			print_confirmed(id, res);
	}
	json_object_put(rep);
	return ex;
}

/* ukeyctl status: the daemon's answer to ping. */
/* "store: up", or "store: down since T, retrying in N s: why" (the
 * daemon's storewatch_describe in words). */
static void
print_store_state(struct json_object *st)
{
	const char *state = json_object_get_string(json_object_object_get(st, "state"));

	if (state == NULL || strcmp(state, "down") != 0) {
		printf("store: %s\n", state ? state : "unknown");
		return;
	}
	printf("store: down since %s, retrying in %d s: %s\n",
	    json_object_get_string(json_object_object_get(st, "since")),
	    json_object_get_int(json_object_object_get(st, "retry_in_s")),
	    json_object_get_string(json_object_object_get(st, "why")));
}

int
verb_status(const struct ctl_verb *v, const struct ctl_args *a)
{
	struct json_object *rep, *res, *n;
	int ex;

	if ((ex = ctl_run("ping", NULL, &rep, &res)) != EXIT_OK) {
		json_object_put(rep);
		return ex;
	}
	print_json(res);
	/* the summary line, for a user with a role (the daemon says it then) */
	if (!ctl_json && (n = json_object_object_get(res, "expiring_30d")) != NULL)
		printf("expiring within 30 days: %lld\n", (long long)json_object_get_int64(n));
	if (!ctl_json && (n = json_object_object_get(res, "store")) != NULL)
		print_store_state(n);
	/* a count that reached the daemon's cap says so: "10000+" */
	if (!ctl_json && (n = json_object_object_get(res, "queued_own")) != NULL)
		printf("service point %s (take %s): %lld%s of %lld%s queued units are its own\n",
		    json_object_get_string(json_object_object_get(res, "service_point")),
		    json_object_get_string(json_object_object_get(res, "take")),
		    (long long)json_object_get_int64(n),
		    json_object_get_boolean(json_object_object_get(res, "queued_own_more")) ? "+" :
		    "", (long long)json_object_get_int64(json_object_object_get(res, "queued")),
		    json_object_get_boolean(json_object_object_get(res, "queued_more")) ? "+" : "");
	json_object_put(rep);
	return EXIT_OK;
}
