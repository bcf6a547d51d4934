/* ukeyctl's verbs on issued certificates: revocation, the CA's CRL, and the
 * certificates about to expire (docs/ca.md). */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "common/err.h"
#include "common/keyfile.h"
#include "ctl/ctl.h"

/* ukeyctl cert revoke SERIAL --reason R --remark TEXT */
int
verb_cert_revoke(const struct ctl_verb *v, const struct ctl_args *a)
{
	struct json_object *args, *rep, *res, *n;
	int ex;

	if (!ctl_need(v, "--reason R", a->val[OPT_REASON] != NULL) ||
	    !ctl_need(v, "--remark TEXT", a->val[OPT_REMARK] != NULL))
		return EXIT_USAGE;
	args = json_object_new_object();
	ctl_add_str(args, "serial", a->pos[0]);
	ctl_add_str(args, "reason", a->val[OPT_REASON]);
	ctl_add_str(args, "remark", a->val[OPT_REMARK]);
	if ((ex = ctl_run("cert.revoke", args, &rep, &res)) != EXIT_OK) {
		json_object_put(rep);	/* the error reply, when there is one */
		return ex;
	}
	if (ctl_json) {
		print_json(res);
	} else {
		printf("certificate %s revoked (%s)\n",
		    json_object_get_string(json_object_object_get(res, "serial")),
		    json_object_get_string(json_object_object_get(res, "reason")));
		if ((n = json_object_object_get(res, "crl_number")) != NULL)
			printf("CRL %lld published\n", (long long)json_object_get_int64(n));
		else if ((n = json_object_object_get(res, "crl_error")) != NULL)
			printf("warning: the CRL was not published: %s\n", json_object_get_string(n));
	}
	json_object_put(rep);
	return EXIT_OK;
}

/* ukeyctl ca crl [--output FILE] */
int
verb_ca_crl(const struct ctl_verb *v, const struct ctl_args *a)
{
	const char *output = a->val[OPT_OUTPUT], *pem;
	struct json_object *rep, *res;
	int ex;

	if ((ex = ctl_run("ca.crl", NULL, &rep, &res)) != EXIT_OK) {
		json_object_put(rep);
		return ex;
	}
	pem = json_object_get_string(json_object_object_get(res, "pem"));
	if (output != NULL) {
		if (pem == NULL || file_write_atomic(output, pem, strlen(pem), 0644) != 0) {
			fprintf(stderr, "ukeyctl: cannot write %s\n", output);
			ex = EXIT_NOINPUT;
		} else {
			fprintf(stderr, "CRL %lld written to %s\n", (long long)json_object_get_int64(
			    json_object_object_get(res, "number")), output);
		}
	} else if (ctl_json) {
		print_json(res);
	} else {
		fputs(pem ? pem : "", stdout);
	}
	json_object_put(rep);
	return ex;
}

/* ukeyctl audit expiring --within DAYS [--org USCC] */
int
verb_audit_expiring(const struct ctl_verb *v, const struct ctl_args *a)
{
	static const char *const cols[] = { "serial", "subject", "kind", "not_after",
		"days_left", "renewal", "renewal_ref", NULL };
	struct json_object *args;
	int64_t within;

	if (!ctl_need(v, "--within DAYS", a->val[OPT_WITHIN] != NULL) ||
	    ctl_arg_int(a, OPT_WITHIN, &within) != 0)
		return EXIT_USAGE;
	args = json_object_new_object();
	/* sent as given, 0 too: the daemon names the range */
	json_object_object_add(args, "within", json_object_new_int64(within));
	ctl_add_str(args, "org", a->val[OPT_ORG]);
	return ctl_list("audit.expiring", args, cols, a, CTL_PAGE);
}
