/* ukeyctl's verb table: look-up, the nearest verb to a mistyped one, which
 * options a verb accepts and the messages when it does not, and the table's
 * rows agreeing with their own usage lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "ctl/ctl.h"

/* Splits a line into words (at most 15) in a static buffer. */
static char **
split(const char *line, int *n)
{
	static char buf[256], *w[16];
	char *save = NULL, *t;

	snprintf(buf, sizeof(buf), "%s", line);
	*n = 0;
	for (t = strtok_r(buf, " ", &save); t != NULL && *n < 15; t = strtok_r(NULL, " ", &save))
		w[(*n)++] = t;
	w[*n] = NULL;
	return w;
}

static const char *
lookup(const char *line, int *nw)
{
	const struct ctl_verb *v;
	int n;
	char **w = split(line, &n);

	*nw = ctl_verb_lookup(n, w, &v);
	return v ? v->words : NULL;
}

static void
test_lookup(void **state)
{
	int nw, n;
	char **w;

	assert_string_equal(lookup("order approve 5", &nw), "order approve");
	assert_int_equal(nw, 2);
	/* the longest verb: "pending cancel 3" is not "pending" with arguments */
	assert_string_equal(lookup("pending cancel 3", &nw), "pending cancel");
	assert_string_equal(lookup("pending --all", &nw), "pending");
	assert_int_equal(nw, 1);
	assert_string_equal(lookup("profiles check a.conf b.conf", &nw), "profiles check");
	assert_string_equal(lookup("bays", &nw), "bays");
	assert_null(lookup("bay", &nw));
	assert_int_equal(nw, 0);
	assert_null(lookup("order", &nw));
	assert_null(lookup("orderapprove", &nw));
	assert_null(lookup("frobnicate", &nw));
	w = split("order frob", &n);
	assert_int_equal(ctl_prefix_len(n, w), 1);
	w = split("frob", &n);
	assert_int_equal(ctl_prefix_len(n, w), 0);
	w = split("order", &n);
	assert_true(ctl_is_group(1, w));
	w = split("pending", &n);
	assert_true(ctl_is_group(1, w));
	w = split("queue", &n);
	assert_false(ctl_is_group(1, w));
}

static void
test_suggest(void **state)
{
	char buf[256], **w;
	int n;

	assert_int_equal(ctl_suggest(0, NULL, "ordr", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "order");
	assert_int_equal(ctl_suggest(0, NULL, "pendng", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "pending");
	/* a swap of two letters is one edit: "bay", not "bays" too */
	assert_int_equal(ctl_suggest(0, NULL, "bya", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "bay");
	/* a prefix: "aud" is audit */
	assert_int_equal(ctl_suggest(0, NULL, "aud", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "audit");
	assert_int_equal(ctl_suggest(0, NULL, "frobnicate", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	w = split("order", &n);
	assert_int_equal(ctl_suggest(1, w, "aprove", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "approve");
	w = split("unit", &n);
	assert_int_equal(ctl_suggest(1, w, "cancle", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "cancel");
	w = split("audit", &n);
	assert_int_equal(ctl_suggest(1, w, "lo", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "log");
	/* two as near are both named */
	w = split("order", &n);
	assert_int_equal(ctl_suggest(1, w, "re", buf, sizeof(buf)), 2);
	assert_string_equal(buf, "reject, resubmit");
}

/* Parses line as "VERB... ARGS..." and returns ctl_args_parse()'s code. */
static int
parse(const char *line, struct ctl_args *a, char *why, size_t len)
{
	const struct ctl_verb *v;
	int n, nw, rc;
	char **w = split(line, &n);

	nw = ctl_verb_lookup(n, w, &v);
	assert_non_null(v);
	rc = ctl_args_parse(v, n - nw, w + nw, a, why, len);
	return rc;
}

static void
test_options(void **state)
{
	struct ctl_args a;
	char why[512];

	assert_int_equal(parse("order approve 1 --bay 2", &a, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "option --bay is not accepted here: 'ukeyctl order approve' "
	    "does not take --bay");
	free(a.pos);
	assert_int_equal(parse("profiles udev-rules --json", &a, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_non_null(strstr(why, "'ukeyctl profiles udev-rules' does not take --json"));
	free(a.pos);
	assert_int_equal(parse("order list --frob", &a, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "unknown option --frob for 'ukeyctl order list'");
	free(a.pos);
	assert_int_equal(parse("order list --json --state approved", &a, why, sizeof(why)), 0);
	assert_non_null(a.val[OPT_JSON]);
	assert_string_equal(a.val[OPT_STATE], "approved");
	assert_int_equal(a.npos, 0);
	free(a.pos);
	assert_int_equal(parse("order reject 7 --remark=bad --json", &a, why, sizeof(why)), 0);
	assert_string_equal(a.val[OPT_REMARK], "bad");
	assert_int_equal(a.npos, 1);
	assert_string_equal(a.pos[0], "7");
	free(a.pos);
	assert_int_equal(parse("order reject 7 --remark", &a, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "--remark needs a value (--remark TEXT)");
	free(a.pos);
	assert_int_equal(parse("pending --all=yes", &a, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "--all takes no value");
	free(a.pos);
	assert_int_equal(parse("order show", &a, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "order show: ID is required");
	free(a.pos);
	assert_int_equal(parse("order show 1 2", &a, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "order show: unexpected argument \"2\"");
	free(a.pos);
	/* --help (or -h) goes to every verb, whatever else is missing */
	assert_int_equal(parse("order show --help", &a, why, sizeof(why)), 0);
	assert_non_null(a.val[OPT_HELP]);
	free(a.pos);
	assert_int_equal(parse("status -h", &a, why, sizeof(why)), 0);
	assert_non_null(a.val[OPT_HELP]);
	free(a.pos);
	assert_int_equal(parse("status --socket x", &a, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_non_null(strstr(why, "--socket goes before the command"));
	free(a.pos);
	/* after "--" a word that begins with a dash is an argument */
	assert_int_equal(parse("profiles check -- -odd.conf", &a, why, sizeof(why)), 0);
	assert_int_equal(a.npos, 1);
	assert_string_equal(a.pos[0], "-odd.conf");
	free(a.pos);
}

/* Every row is complete, its words are its own, and the options its usage
 * line names are the ones it accepts (--json and --help aside). */
static void
test_table(void **state)
{
	size_t i, k;
	int o;

	for (i = 0; i < ctl_nverbs; i++) {
		const struct ctl_verb *v = &ctl_verbs[i];
		uint64_t named = 0;
		const char *p;

		assert_non_null(v->run);
		assert_true(v->words[0] != '\0' && v->summary[0] != '\0' && v->section[0] != '\0');
		for (k = 0; k < i; k++)
			assert_string_not_equal(v->words, ctl_verbs[k].words);
		for (p = strstr(v->usage, "--"); p != NULL; p = strstr(p + 2, "--")) {
			char name[32];

			snprintf(name, sizeof(name), "%.*s", (int)strcspn(p + 2, " ]|)"), p + 2);
			o = ctl_option_find(name);
			if (o < 0)
				fail_msg("%s: usage names unknown option --%s", v->words, name);
			named |= UINT64_C(1) << o;
		}
		if ((named | O(JSON)) != (v->opts | O(JSON)))
			fail_msg("%s: its usage line and its options differ", v->words);
		assert_true(v->max_pos < 0 || v->max_pos >= v->min_pos);
	}
}

/* The completion script names each group's verbs and each verb's options. */
static void
test_completion(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(ctl_completion_bash(f), 0);
	fclose(f);
	assert_non_null(strstr(text, "complete -F _ukeyctl ukeyctl\n"));
	assert_non_null(strstr(text, "\t\"order\") words=\"import list show approve reject "
	    "override edit resubmit pay deliver cancel invoice set-service-point\" opts=\"\" ;;\n"));
	assert_non_null(strstr(text, "\t\"pending\") words=\"cancel\" opts=\"--limit --all --after"
	    " --json --help\""));
	assert_non_null(strstr(text, "\t\"order approve\"|\"order approve \"*) "
	    "opts=\"--override-reason --json --help\" ;;\n"));
	/* "pending cancel 3" reaches its own arm before the one of "pending 3" */
	assert_true(strstr(text, "\"pending cancel\"|") < strstr(text, "\"pending\"|"));
	free(text);
}

/* Each section of the usage is listed once, with every verb of the table
 * that names it, wherever the table's row stands. */
static void
test_usage_sections(void **state)
{
	char *text = NULL, heading[64];
	size_t len = 0, i;
	FILE *f = open_memstream(&text, &len);
	const char *first, *station, *end;

	(void)state;
	assert_non_null(f);
	ctl_usage(f);
	assert_int_equal(fclose(f), 0);
	for (i = 0; i < ctl_nverbs; i++) {
		snprintf(heading, sizeof(heading), "\n%s:\n", ctl_verbs[i].section);
		assert_non_null(first = strstr(text, heading));
		assert_null(strstr(first + 1, heading));
	}
	/* watch, at the table's end, is under station with status */
	assert_non_null(station = strstr(text, "\nstation:\n"));
	assert_non_null(end = strstr(station + 1, "\n\n"));
	assert_true(strstr(station, "\n  status ") != NULL && strstr(station, "\n  status ") < end);
	assert_true(strstr(station, "\n  watch ") != NULL && strstr(station, "\n  watch ") < end);
	free(text);
}

static void
test_text_fit(void **state)
{
	char buf[64];

	(void)state;
	/* padded to the width, cut at it */
	assert_int_equal(ctl_text_fit(buf, sizeof(buf), "abc", 5), 5);
	assert_string_equal(buf, "abc  ");
	assert_int_equal(ctl_text_fit(buf, sizeof(buf), "abcdef", 4), 4);
	assert_string_equal(buf, "abcd");
	assert_int_equal(ctl_text_fit(buf, sizeof(buf), NULL, 2), 2);
	assert_string_equal(buf, "  ");
	/* CJK takes two columns; one that would straddle the edge goes */
	assert_int_equal(ctl_text_fit(buf, sizeof(buf), "李四", 4), 4);
	assert_string_equal(buf, "李四");
	assert_int_equal(ctl_text_fit(buf, sizeof(buf), "云南滇池", 5), 5);
	assert_string_equal(buf, "云南 ");
	/* no escape sequence, C1 control or broken byte reaches the terminal */
	ctl_text_fit(buf, sizeof(buf), "a\033[2Jb\xc2\x9b\xff", 10);
	assert_string_equal(buf, "a?[2Jb??  ");
	/* a small buffer is never overrun */
	assert_int_equal(ctl_text_fit(buf, 4, "李四李四", 8), 2);
	assert_string_equal(buf, "李");
}

/* A snapshot as watch.subscribe gives it, rendered as text. */
static void
test_watch_render(void **state)
{
	static const char snap_text[] = "{\"seq\":3,\"station\":\"km-01\",\"time\":0,"
	    "\"bays\":["
	    "{\"bay\":1,\"state\":\"working\",\"model\":\"SoftHSM v2\",\"token_serial\":"
	    "\"5bbb456b572996f2\",\"steps\":9,\"job\":1,\"job_state\":\"running\","
	    "\"portal_ref\":\"YNCA-1\",\"holder\":\"李四\",\"step\":\"generate_key\","
	    "\"step_no\":3,\"done\":false,\"running\":true,\"elapsed_ms\":61000,"
	    "\"pin_waiting\":false,\"ca_waiting\":false},"
	    "{\"bay\":2,\"state\":\"done\",\"model\":\"SoftHSM v2\",\"token_serial\":\"77\","
	    "\"steps\":9,\"job\":2,\"job_state\":\"issued\",\"portal_ref\":\"YNCA-2\","
	    "\"step\":\"record\",\"step_no\":9,\"done\":true,\"running\":false,"
	    "\"elapsed_ms\":1500,\"pin_waiting\":true,\"ca_waiting\":false},"
	    "{\"bay\":3,\"state\":\"working\",\"steps\":9,\"job\":3,\"job_state\":\"running\","
	    "\"step\":\"ca_submit\",\"step_no\":5,\"running\":true,\"ca_waiting\":true},"
	    "{\"bay\":4,\"state\":\"empty\",\"steps\":9,\"running\":false}],"
	    "\"queue\":{\"queued\":3,\"held\":1,\"in_production\":2},"
	    "\"events\":[{\"seq\":0,\"time\":0,\"kind\":\"arrived\",\"source\":\"udev\","
	    "\"bay\":\"usb:1-2\",\"device\":\"096e:0807\"}],"
	    "\"health\":{\"ca\":{\"kind\":\"embedded\",\"reachable\":false},"
	    "\"database\":{\"ok\":true},\"sources\":[{\"source\":\"udev\",\"status\":\"running\"}]}}";
	struct json_object *snap = json_tokener_parse(snap_text);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(snap);
	assert_non_null(f);
	/* arrived 2 s ago: a running bay's clock goes on, a done one's not */
	ctl_watch_render(f, snap, 2000);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(text, "ukey-station km-01 "));
	assert_non_null(strstr(text, "  1 working  SoftHSM v2 5bbb456b572996f2 YNCA-1            "
	    "李四           [###-------] 3/9 generate_key 1:03    \n"));
	assert_non_null(strstr(text, "  2 done     SoftHSM v2 77"));
	assert_non_null(strstr(text, "[##########] 9/9 done         0:01    waiting\n"));
	assert_non_null(strstr(text, "[#####-----] 5/9 CA retry"));
	assert_non_null(strstr(text, "  4 empty    "));
	assert_non_null(strstr(text, "Queue: 3 queued, 1 held, 2 in production\n"));
	assert_non_null(strstr(text, "Health: CA (embedded) NOT REACHABLE (jobs retry); database ok;"
	    " sources: udev running"));
	assert_non_null(strstr(text, " arrived udev usb:1-2 096e:0807"));
	free(text);
	json_object_put(snap);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_suggest),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_completion),
		cmocka_unit_test(test_usage_sections),
		cmocka_unit_test(test_text_fit),
		cmocka_unit_test(test_watch_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
