/* ukeyctl's verbs on issued certificates: revocation, the CA's CRL, and the
 * certificates about to expire (docs/ca.md). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "common/err.h"
#include "common/keyfile.h"
#include "common/secret.h"
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

/* Whether text is the CRL the first page described: its length and SHA-256. */
static int
crl_whole(const char *text, size_t len, struct json_object *res)
{
	const char *want = json_object_get_string(json_object_object_get(res, "sha256"));
	unsigned char md[32];
	char hex[65];

	if (want == NULL)
		return 1;	/* a daemon that answers whole */
	return (int64_t)len == json_object_get_int64(json_object_object_get(res, "length")) &&
	    EVP_Digest(text, len, md, NULL, EVP_sha256(), NULL) == 1 &&
	    hex_write(hex, sizeof(hex), md, sizeof(md), 0) == 0 && strcasecmp(hex, want) == 0;
}

/* The CRL's pages of PEM text (docs/protocol.md, "The CRL in pages") joined
 * into res's "pem": each page after the first asks with the first's sha256,
 * so that the daemon refuses a page of another CRL published meanwhile;
 * the joined text is checked against the length and digest. res keeps the
 * fields ca.crl answered before it paged. */
static int
crl_join(struct json_object *rep, struct json_object *res)
{
	struct json_object *next = json_object_object_get(rep, "next"), *args, *more, *mres;
	const char *sha = json_object_get_string(json_object_object_get(res, "sha256"));
	struct printbuf *pb = printbuf_new();
	const char *chunk;
	int64_t after;
	int ex = EXIT_OK;

	if (pb == NULL)
		return EXIT_TEMPFAIL;
	chunk = json_object_get_string(json_object_object_get(res, "pem"));
	printbuf_memappend(pb, chunk ? chunk : "", chunk ? (int)strlen(chunk) : 0);
	while (next != NULL && sha != NULL) {
		after = json_object_get_int64(next);
		args = json_object_new_object();
		json_object_object_add(args, "after", json_object_new_int64(after));
		ctl_add_str(args, "sha256", sha);
		if ((ex = ctl_run("ca.crl", args, &more, &mres)) != EXIT_OK)
			goto out;
		chunk = json_object_get_string(json_object_object_get(mres, "pem"));
		printbuf_memappend(pb, chunk ? chunk : "", chunk ? (int)strlen(chunk) : 0);
		next = json_object_object_get(more, "next");
		next = next != NULL ? json_object_new_int64(json_object_get_int64(next)) : NULL;
		json_object_put(more);
		json_object_object_add(rep, "next", next);	/* rep owns it now */
	}
	if (!crl_whole(pb->buf, (size_t)printbuf_length(pb), res)) {
		fprintf(stderr, "ukeyctl: ca.crl: the pages joined are not the CRL the daemon "
		    "described (%d bytes joined; the first page said %lld bytes, sha256 %s): ask "
		    "again\n", printbuf_length(pb), (long long)json_object_get_int64(
		    json_object_object_get(res, "length")), sha);
		ex = EXIT_REFUSED;
		goto out;
	}
	json_object_object_add(res, "pem", json_object_new_string_len(pb->buf,
	    printbuf_length(pb)));
	json_object_object_del(res, "length");
	json_object_object_del(res, "sha256");
 out:
	printbuf_free(pb);
	return ex;
}

/* ukeyctl ca crl [--output FILE] */
int
verb_ca_crl(const struct ctl_verb *v, const struct ctl_args *a)
{
	const char *output = a->val[OPT_OUTPUT], *pem;
	struct json_object *rep, *res;
	int ex;

	if ((ex = ctl_run("ca.crl", NULL, &rep, &res)) != EXIT_OK ||
	    (ex = crl_join(rep, res)) != EXIT_OK) {
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
