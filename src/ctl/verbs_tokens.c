/* ukeyctl token mark-lost|mark-damaged|mark-destroyed|mark-returned|
 * mark-in-stock SERIAL --remark TEXT, and token show SERIAL, its
 * certificates joined from their pages (docs/lifecycle.md). */
#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"

/* The verb names the state: "token mark-lost" records "lost". */
int
verb_token_mark(const struct ctl_verb *v, const struct ctl_args *a)
{
	struct json_object *args, *rep, *res, *revoked, *n;
	const char *state = strstr(v->words, "mark-") + strlen("mark-");
	size_t i;
	int ex;

	if (!ctl_need(v, "--remark TEXT", a->val[OPT_REMARK] != NULL))
		return EXIT_USAGE;
	args = json_object_new_object();
	ctl_add_str(args, "serial", a->pos[0]);
	ctl_add_str(args, "state", state);
	ctl_add_str(args, "remark", a->val[OPT_REMARK]);
	if ((ex = ctl_run("token.mark", args, &rep, &res)) != EXIT_OK)
		return ex;
	if (ctl_json) {
		print_json(res);
	} else {
		printf("token %s: %s -> %s\n",
		    json_object_get_string(json_object_object_get(res, "serial")),
		    json_object_get_string(json_object_object_get(res, "from")),
		    json_object_get_string(json_object_object_get(res, "state")));
		revoked = json_object_object_get(res, "revoked");
		for (i = 0; i < json_object_array_length(revoked); i++)
			printf("certificate %s revoked\n",
			    json_object_get_string(json_object_array_get_idx(revoked, i)));
		if ((n = json_object_object_get(res, "crl_number")) != NULL)
			printf("CRL %lld published\n", (long long)json_object_get_int64(n));
	}
	json_object_put(rep);
	return EXIT_OK;
}

int
verb_token_show(const struct ctl_verb *v, const struct ctl_args *a)
{
	static const char *const mark_cols[] = { "state", "at", "by", "remark", NULL };
	static const char *const cert_cols[] = { "serial", "kind", "status", "issued_at",
		"not_after", "revoke_reason", NULL };
	static const char *const lists[] = { "certificates", NULL };
	struct json_object *args, *again = NULL, *rep, *res;
	int ex;

	(void)v;
	args = json_object_new_object();
	ctl_add_str(args, "serial", a->pos[0]);
	if (json_object_deep_copy(args, &again, NULL) != 0) {
		json_object_put(args);
		return EXIT_TEMPFAIL;
	}
	/* the certificates come in pages (docs/protocol.md, "Listings page") */
	ex = ctl_run("token.show", args, &rep, &res);
	if (ex == EXIT_OK)
		ex = ctl_join_pages("token.show", again, rep, res, lists);
	json_object_put(again);
	if (ex != EXIT_OK) {
		json_object_put(rep);
		return ex;
	}
	if (ctl_json) {
		print_json(res);
	} else {
		printf("token %s: %s\n", json_object_get_string(json_object_object_get(res, "serial")),
		    json_object_get_string(json_object_object_get(res, "state")));
		printf("\nrecorded states:\n");
		print_table(json_object_object_get(res, "marks"), mark_cols);
		printf("\ncertificates:\n");
		print_table(json_object_object_get(res, "certificates"), cert_cols);
	}
	json_object_put(rep);
	return EXIT_OK;
}
