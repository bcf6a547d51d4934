/* ukeyctl's order verbs: import, list, and the lifecycle (docs/orders-lifecycle.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/frame.h"
#include "ctl/ctl.h"
#include "orders/order.h"

/* Length of an array; 0 for anything else (a reply field left out). */
static size_t
alen(struct json_object *a)
{
	return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

/* Prints what became of each order of an import report: imported, unchanged
 * and skipped ones on stdout, the errors on stderr. */
static void
print_import_report(struct json_object *rep)
{
	struct json_object *orders = json_object_object_get(rep, "orders");
	struct json_object *ferrs = json_object_object_get(rep, "errors");
	size_t i, k;

	for (i = 0; i < alen(orders); i++) {
		struct json_object *o = json_object_array_get_idx(orders, i);
		const char *st = json_object_get_string(json_object_object_get(o, "status"));
		const char *ref = json_object_get_string(json_object_object_get(o, "portal_ref"));
		long long id = (long long)json_object_get_int64(json_object_object_get(o, "id"));
		char yuan[32];

		if (ref == NULL)
			ref = "-";
		if (strcmp(st, "imported") == 0) {
			int cf = json_object_get_int(json_object_object_get(o, "checksum_failures"));

			order_fen_format(json_object_get_int64(json_object_object_get(o, "total_fen")),
			    yuan, sizeof(yuan));
			printf("imported   %s: order %lld, %d certificate%s, %s yuan%s\n", ref, id,
			    json_object_get_int(json_object_object_get(o, "certificates")),
			    json_object_get_int(json_object_object_get(o, "certificates")) == 1 ? "" : "s",
			    yuan, cf ? ", check characters to review" : "");
		} else if (strcmp(st, "unchanged") == 0) {
			printf("unchanged  %s: order %lld (already imported)\n", ref, id);
		} else if (strcmp(st, "skipped") == 0) {
			printf("skipped    %s: valid, not imported\n", ref);
		}
	}
	fflush(stdout);
	for (k = 0; k < alen(ferrs); k++)
		fprintf(stderr, "  %s\n", json_object_get_string(json_object_array_get_idx(ferrs, k)));
	for (i = 0; i < alen(orders); i++) {
		struct json_object *e = json_object_object_get(json_object_array_get_idx(orders, i),
		    "errors");

		for (k = 0; k < alen(e); k++)
			fprintf(stderr, "  %s\n", json_object_get_string(json_object_array_get_idx(e, k)));
	}
}

/* A lifecycle command: prints "order N: STATE" (and what else the daemon
 * says happened), or the reply with --json. */
static int
transition(const char *cmd, struct json_object *args)
{
	struct json_object *rep, *res, *v;
	int ex = ctl_run(cmd, args, &rep, &res);

	if (ex == EXIT_OK && ctl_json) {
		print_json(res);
	} else if (ex == EXIT_OK) {
		printf("order %lld: %s", (long long)json_object_get_int64(json_object_object_get(res,
		    "id")), json_object_get_string(json_object_object_get(res, "state")));
		if ((v = json_object_object_get(res, "changed")) != NULL)
			printf(json_object_get_boolean(v) ? ", content changed (revision %lld)" :
			    ", content unchanged (revision %lld)",
			    (long long)json_object_get_int64(json_object_object_get(res, "revision")));
		if ((v = json_object_object_get(res, "renews_cert")) != NULL)
			printf(", renews certificate %s", json_object_get_string(v));
		if ((v = json_object_object_get(res, "replaces_cert")) != NULL)
			printf(", replaces certificate %s (token %s, %s)", json_object_get_string(v),
			    json_object_get_string(json_object_object_get(res, "replaced_token")),
			    json_object_get_string(json_object_object_get(res, "token_state")));
		if (json_object_get_boolean(json_object_object_get(res, "refund_due")))
			printf(", refund due");
		if (strcmp(cmd, "order.pay") == 0)
			printf("; its certificates are queued for production");
		printf("\n");
	}
	json_object_put(rep);
	return ex;
}

/* Prints the reply of an import: the report, or the error and the report
 * in its details. Returns the exit code. */
static int
import_reply(struct json_object *rep)
{
	struct json_object *err = json_object_object_get(rep, "error");
	struct json_object *det = json_object_object_get(err, "details");

	if (json_object_get_boolean(json_object_object_get(rep, "ok"))) {
		if (ctl_json)
			print_json(json_object_object_get(rep, "result"));
		else
			print_import_report(json_object_object_get(rep, "result"));
		return EXIT_OK;
	}
	if (ctl_json) {
		print_json(rep);
	} else {
		fprintf(stderr, "ukeyctl: %s\n", json_object_get_string(json_object_object_get(err,
		    "message")));
		if (json_object_is_type(det, json_type_object))
			print_import_report(det);
	}
	return ctl_exit_for(json_object_get_string(json_object_object_get(err, "code")));
}

/* ukeyctl order import [--partial] [--format json|csv] FILE */
int
verb_order_import(const struct ctl_verb *v, const struct ctl_args *a)
{
	const char *format = a->val[OPT_FORMAT], *path = a->pos[0];
	struct json_object *args, *rep;
	size_t len = 0;
	char *text;
	int ex;

	if (format != NULL && strcmp(format, "json") != 0 && strcmp(format, "csv") != 0) {
		fprintf(stderr, "ukeyctl order import: --format must be json or csv\n");
		return EXIT_USAGE;
	}
	if ((text = ctl_read_file(path, FRAME_MAX_CONTROL - 4096, &len)) == NULL) {
		fprintf(stderr, "ukeyctl: cannot read %s: %s\n", path, strerror(errno));
		return EXIT_NOINPUT;
	}
	args = json_object_new_object();
	json_object_object_add(args, "text", json_object_new_string_len(text, (int)len));
	json_object_object_add(args, "file", json_object_new_string(path));
	ctl_add_str(args, "format", format);
	if (a->val[OPT_PARTIAL] != NULL)
		json_object_object_add(args, "partial", json_object_new_boolean(1));
	free(text);
	if ((rep = ctl_call("order.import", args, &ex)) == NULL)
		return ex;
	ex = import_reply(rep);
	json_object_put(rep);
	return ex;
}

/* ukeyctl order list [--state STATE] [--org USCC] [--type new|renewal] ... */
/* Orders asked for at a time by order list. */
#define ORDER_PAGE 1000

int
verb_order_list(const struct ctl_verb *v, const struct ctl_args *a)
{
	static const char *const cols[] = { "id", "portal_ref", "type", "state", "org_name",
		"certificates", "issued", "total_fen", "payment_no", "service_point", NULL };
	const char *type = a->val[OPT_TYPE];
	struct json_object *args;

	if (type && strcmp(type, "new") != 0 && strcmp(type, "renewal") != 0 &&
	    strcmp(type, "replacement") != 0) {
		fprintf(stderr, "ukeyctl: --type: must be new, renewal or replacement, not \"%s\"\n",
		    type);
		return EXIT_USAGE;
	}
	args = json_object_new_object();
	ctl_add_str(args, "state", a->val[OPT_STATE]);
	ctl_add_str(args, "org", a->val[OPT_ORG]);
	ctl_add_str(args, "type", type);
	ctl_add_str(args, "since", a->val[OPT_SINCE]);
	ctl_add_str(args, "until", a->val[OPT_UNTIL]);
	ctl_add_str(args, "service_point", a->val[OPT_SERVICE_POINT]);
	/* in pages: a busy station's list is longer than one reply may be */
	return ctl_list("order.list", args, cols, a, ORDER_PAGE);
}

/* ukeyctl order edit ID FILE */
int
verb_order_edit(const struct ctl_verb *v, const struct ctl_args *a)
{
	struct json_object *args;
	size_t len;
	int64_t id;
	char *text;

	if (ctl_parse_int(a->pos[0], "ID", &id) != 0) {
		ctl_verb_usage(stderr, v);
		return EXIT_USAGE;
	}
	if ((text = ctl_read_file(a->pos[1], FRAME_MAX_CONTROL - 4096, &len)) == NULL) {
		fprintf(stderr, "ukeyctl: cannot read %s: %s\n", a->pos[1], strerror(errno));
		return EXIT_NOINPUT;
	}
	args = json_object_new_object();
	json_object_object_add(args, "id", json_object_new_int64(id));
	json_object_object_add(args, "text", json_object_new_string(text));
	free(text);
	return transition("order.edit", args);
}

/* The options a lifecycle verb sends, and which one it requires. */
static const struct {
	const char *verb, *cmd, *need;	/* need: the required option's usage */
	enum ctl_opt opt;		/* OPT_COUNT: none */
	const char *key;
} lifecycle[] = {
	{ "order approve", "order.approve", NULL, OPT_OVERRIDE_REASON, "override_reason" },
	{ "order override", "order.override", "--reason TEXT", OPT_REASON, "reason" },
	{ "order reject", "order.reject", "--remark TEXT", OPT_REMARK, "remark" },
	{ "order cancel", "order.cancel", "--remark TEXT", OPT_REMARK, "remark" },
	{ "order pay", "order.pay", "--payment-no NO", OPT_PAYMENT_NO, "payment_no" },
	{ "order resubmit", "order.resubmit", NULL, OPT_COUNT, NULL },
	{ "order invoice", "order.invoice", NULL, OPT_COUNT, NULL },
	{ "order deliver", "order.deliver", NULL, OPT_COUNT, NULL },
};

/* ukeyctl order show|approve|override|reject|cancel|pay|resubmit|invoice|deliver ID ... */
int
verb_order_id(const struct ctl_verb *v, const struct ctl_args *a)
{
	struct json_object *args;
	size_t k;
	int64_t id;

	if (ctl_parse_int(a->pos[0], "ID", &id) != 0) {
		ctl_verb_usage(stderr, v);
		return EXIT_USAGE;
	}
	if (strcmp(v->words, "order deliver") == 0 && !ctl_need(v,
	    "--picked-up-by NAME, or --carrier NAME and --tracking NO",
	    (a->val[OPT_PICKED_UP_BY] != NULL) != (a->val[OPT_CARRIER] != NULL ||
	    a->val[OPT_TRACKING] != NULL)))
		return EXIT_USAGE;
	for (k = 0; k < sizeof(lifecycle) / sizeof(lifecycle[0]); k++)
		if (strcmp(v->words, lifecycle[k].verb) == 0)
			break;
	if (k < sizeof(lifecycle) / sizeof(lifecycle[0]) && lifecycle[k].need != NULL &&
	    !ctl_need(v, lifecycle[k].need, a->val[lifecycle[k].opt] != NULL))
		return EXIT_USAGE;
	args = json_object_new_object();
	json_object_object_add(args, "id", json_object_new_int64(id));
	if (k == sizeof(lifecycle) / sizeof(lifecycle[0])) {	/* order show */
		if (a->val[OPT_REVEAL] != NULL)
			json_object_object_add(args, "reveal", json_object_new_boolean(1));
		return ctl_simple("order.show", args, NULL, NULL);
	}
	if (lifecycle[k].opt != OPT_COUNT)
		ctl_add_str(args, lifecycle[k].key, a->val[lifecycle[k].opt]);
	ctl_add_str(args, "picked_up_by", a->val[OPT_PICKED_UP_BY]);
	ctl_add_str(args, "carrier", a->val[OPT_CARRIER]);
	ctl_add_str(args, "tracking_no", a->val[OPT_TRACKING]);
	return transition(lifecycle[k].cmd, args);
}

/* ukeyctl order set-service-point ID NAME --remark TEXT */
int
verb_order_set_point(const struct ctl_verb *v, const struct ctl_args *a)
{
	struct json_object *args, *rep, *res, *p;
	int64_t id;
	int ex;

	if (ctl_parse_int(a->pos[0], "ID", &id) != 0) {
		ctl_verb_usage(stderr, v);
		return EXIT_USAGE;
	}
	if (!ctl_need(v, "--remark TEXT", a->val[OPT_REMARK] != NULL))
		return EXIT_USAGE;
	args = json_object_new_object();
	json_object_object_add(args, "id", json_object_new_int64(id));
	ctl_add_str(args, "service_point", a->pos[1]);
	ctl_add_str(args, "remark", a->val[OPT_REMARK]);
	if ((ex = ctl_run("order.set_service_point", args, &rep, &res)) != EXIT_OK) {
		json_object_put(rep);
		return ex;
	}
	if (ctl_json) {
		print_json(res);
	} else {
		p = json_object_object_get(res, "service_point");
		printf("order %lld: service point %s\n", (long long)id, p != NULL ?
		    json_object_get_string(p) : "none");
	}
	json_object_put(rep);
	return EXIT_OK;
}
