/* Audit witness lines: made lines parse and verify, malformed fields are
 * refused by name, forged or foreign lines are refused, and the verifier
 * finds a log cut back or rewritten against the heads a witness file saw. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "store/audit.h"
#include "store/auditkey.h"
#include "store/witness.h"

#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"
#define HEAD "cd5fc82a0b7a40a5e7c1e0ff0b0a3c6f1d2e3f405162738495a6b7c8d9eaf0b1"
#define AT "2026-11-21T08:20:00Z"

static EVP_PKEY *key, *other;

static int
setup(void **state)
{
	(void)state;
	key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return key != NULL && other != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	return 0;
}

static char *
make(int64_t records, const char *head, const char *event)
{
	char *line = NULL;

	assert_int_equal(witness_line_make(key, "km-01", records, head, AT, event, &line), 0);
	assert_non_null(line);
	return line;
}

static void
test_roundtrip(void **state)
{
	struct witness_entry e;
	char key_id[AUDIT_KEY_ID_LEN + 1], want[512], *line = make(42, HEAD, "interval"), *pre;

	(void)state;
	assert_int_equal(audit_key_id(key, key_id), 0);
	snprintf(want, sizeof(want), "ukey-witness/1 station=km-01 records=42 head=" HEAD
	    " at=" AT " event=interval key=%s sig=", key_id);
	assert_int_equal(strncmp(line, want, strlen(want)), 0);
	assert_int_equal(strlen(line), strlen(want) + WITNESS_SIG_LEN);
	assert_int_equal(witness_line_parse(line, &e, NULL, 0), 0);
	assert_string_equal(e.station, "km-01");
	assert_int_equal(e.records, 42);
	assert_string_equal(e.head, HEAD);
	assert_string_equal(e.at, AT);
	assert_string_equal(e.event, "interval");
	assert_string_equal(e.key_id, key_id);
	assert_int_equal(e.start, 0);
	assert_int_equal(e.signed_len, strlen(want) - strlen(" sig="));
	assert_int_equal(witness_line_check(key, line, &e), 0);
	/* a syslog prefix and the newline of a file are skipped */
	assert_true(asprintf(&pre, "Nov 21 08:20:00 km-01 ukeyd[812]: witness: %s\n", line) > 0);
	assert_int_equal(witness_line_parse(pre, &e, NULL, 0), 0);
	assert_int_equal(e.records, 42);
	assert_int_equal(witness_line_check(key, pre, &e), 0);
	free(pre);
	/* the empty log */
	free(line);
	line = make(0, ZEROS, "start");
	assert_int_equal(witness_line_parse(line, &e, NULL, 0), 0);
	assert_int_equal(e.records, 0);
	free(line);
}

/* A bad station id or event is refused when the line is made. */
static void
test_make_refuses(void **state)
{
	char *line = NULL;

	(void)state;
	assert_int_equal(witness_line_make(key, "km 01", 1, HEAD, AT, "start", &line),
	    UKEY_ERR_INVAL);
	assert_null(line);
	assert_int_equal(witness_line_make(key, "km-01", 1, HEAD, AT, "Start", &line),
	    UKEY_ERR_INVAL);
	assert_int_equal(witness_line_make(key, "km-01", 1, "abc", AT, "start", &line),
	    UKEY_ERR_INVAL);
	assert_null(line);
}

/* Replaces the first from in line by to; returns a malloc'd copy. */
static char *
edit(const char *line, const char *from, const char *to)
{
	const char *at = strstr(line, from);
	char *out;

	assert_non_null(at);
	assert_true(asprintf(&out, "%.*s%s%s", (int)(at - line), line, to, at + strlen(from)) > 0);
	return out;
}

static void
expect_bad(const char *line, const char *field)
{
	struct witness_entry e;
	char why[200];

	assert_int_equal(witness_line_parse(line, &e, why, sizeof(why)), UKEY_ERR_INVAL);
	if (strncmp(why, field, strlen(field)) != 0)
		fail_msg("expected a message about %s, got \"%s\" for %s", field, why, line);
}

static void
test_parse_refuses(void **state)
{
	char *line = make(42, HEAD, "interval"), *b;
	struct witness_entry e;
	static const struct {
		const char *from, *to, *field;
	} cases[] = {
		{ "station=km-01", "station=km/01", "station" },
		{ "station=km-01 ", "station= ", "station" },
		{ "records=42", "records=042", "records" },
		{ "records=42", "records=-42", "records" },
		{ "records=42", "records=4x", "records" },
		{ "records=42", "records=1234567890123456789", "records" },
		{ "head=cd5f", "head=CD5F", "head" },
		{ "head=cd5f", "head=cd5", "head" },
		{ "at=2026-11-21T08:20:00Z", "at=2026-11-21 08:20:00Z", "at" },
		{ "at=2026-11-21T08:20:00Z", "at=2026-11-21T08:20:00", "at" },
		{ "event=interval", "event=Interval", "event" },
		{ "event=interval", "event=", "event" },
		{ " key=", " kid=", "key" },
		{ " sig=", " sig=0", "sig" },
		{ " station=", " records=1 station=", "station" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b = edit(line, cases[i].from, cases[i].to);
		expect_bad(b, cases[i].field);
		free(b);
	}
	assert_true(asprintf(&b, "%s extra", line) > 0);
	expect_bad(b, "text after sig=");
	free(b);
	b = edit(line, "records=42", "records=0");
	expect_bad(b, "head");		/* an empty log's head is 64 zeros */
	free(b);
	assert_int_equal(witness_line_parse("ukey-witness/2 station=km-01", &e, NULL, 0),
	    UKEY_ERR_NOTFOUND);
	assert_int_equal(witness_line_parse("ukeyd[1]: audit checkpoint 3", &e, NULL, 0),
	    UKEY_ERR_NOTFOUND);
	free(line);
}

/* A line changed after signing, or signed by another key, does not verify. */
static void
test_forged(void **state)
{
	char *line = make(42, HEAD, "interval"), *b;
	struct witness_entry e;

	(void)state;
	b = edit(line, "records=42", "records=41");
	assert_int_equal(witness_line_parse(b, &e, NULL, 0), 0);
	assert_int_equal(witness_line_check(key, b, &e), UKEY_ERR_VERIFY);
	free(b);
	b = edit(line, "event=interval", "event=stop");
	assert_int_equal(witness_line_parse(b, &e, NULL, 0), 0);
	assert_int_equal(witness_line_check(key, b, &e), UKEY_ERR_VERIFY);
	free(b);
	assert_int_equal(witness_line_parse(line, &e, NULL, 0), 0);
	assert_int_equal(witness_line_check(other, line, &e), UKEY_ERR_VERIFY);
	free(line);
}

static FILE *
file_of(const char *text)
{
	FILE *f = tmpfile();

	assert_non_null(f);
	fputs(text, f);
	rewind(f);
	return f;
}

static void
test_read(void **state)
{
	char *l1 = make(0, ZEROS, "start"), *l2 = make(3, HEAD, "checkpoint"),
	    *l3 = make(3, HEAD, "interval"), *l4 = make(5, ZEROS, "stop"), *text, *forged, why[256];
	struct witness_set ws = { 0 };
	FILE *f;

	(void)state;
	assert_true(asprintf(&text, "%s\nsome other log line\n%s\n%s\n%s\n", l1, l2, l3, l4) > 0);
	f = file_of(text);
	assert_int_equal(witness_read(f, key, &ws, why, sizeof(why)), 0);
	fclose(f);
	assert_int_equal(ws.lines, 4);
	assert_int_equal(ws.skipped, 1);
	assert_int_equal(ws.n, 3);		/* the repeated head is kept once */
	assert_int_equal(ws.p[0].line, 1);
	assert_int_equal(ws.p[0].records, 0);
	assert_int_equal(ws.p[1].line, 3);
	assert_int_equal(ws.p[1].records, 3);
	assert_string_equal(ws.p[1].head, HEAD);
	assert_string_equal(ws.p[1].at, AT);
	assert_int_equal(ws.p[2].line, 5);
	witness_set_clear(&ws);
	free(text);

	/* a forged line is refused, named by its line number */
	forged = edit(l4, "records=5", "records=4");
	assert_true(asprintf(&text, "%s\n%s\n%s\n", l1, l2, forged) > 0);
	f = file_of(text);
	assert_int_equal(witness_read(f, key, &ws, why, sizeof(why)), UKEY_ERR_VERIFY);
	fclose(f);
	assert_string_equal(why, "witness line 3: signature does not verify (line forged or edited)");
	witness_set_clear(&ws);
	free(text);
	/* another station's key */
	f = file_of(l2);
	assert_int_equal(witness_read(f, other, &ws, why, sizeof(why)), UKEY_ERR_VERIFY);
	fclose(f);
	assert_non_null(strstr(why, "witness line 1: signed by key "));
	assert_non_null(strstr(why, ", not by the public key given"));
	witness_set_clear(&ws);
	/* a malformed witness line is not skipped */
	f = file_of("ukeyd: ukey-witness/1 station=km-01 records=x\n");
	assert_int_equal(witness_read(f, key, &ws, why, sizeof(why)), UKEY_ERR_VERIFY);
	fclose(f);
	assert_string_equal(why, "witness line 1: not a witness line: records: a whole number"
	    " without leading zeros expected");
	witness_set_clear(&ws);
	free(forged);
	free(l1);
	free(l2);
	free(l3);
	free(l4);
}

/* Feeds a verifier records 1..n of a chain (format 2, no checkpoints);
 * hashes[i] receives record i + 1's hash. */
static struct audit_verifier *
chain(int n, char hashes[][AUDIT_HASH_LEN + 1])
{
	struct audit_verifier *v = NULL;
	int i;

	assert_int_equal(audit_verifier_new(key, NULL, &v), 0);
	for (i = 0; i < n; i++) {
		struct audit_record r;
		int c;

		for (c = 0; c < AC_N; c++)
			r.v[c] = (struct audit_value){ .type = AV_NULL };
		r.v[AC_ID] = (struct audit_value){ .type = AV_INT, .i = i + 1 };
		r.v[AC_FORMAT] = (struct audit_value){ .type = AV_INT, .i = 2 };
		r.v[AC_AT] = (struct audit_value){ .type = AV_TEXT, .s = AT, .len = strlen(AT) };
		r.v[AC_ACTOR] = (struct audit_value){ .type = AV_TEXT, .s = "ukeyd", .len = 5 };
		r.v[AC_ACTION] = (struct audit_value){ .type = AV_TEXT, .s = "job.step", .len = 8 };
		r.v[AC_PREV] = (struct audit_value){ .type = AV_TEXT, .s = i ? hashes[i - 1] : ZEROS,
		    .len = AUDIT_HASH_LEN };
		assert_int_equal(audit_record_hash(&r, hashes[i]), 0);
		r.v[AC_HASH] = (struct audit_value){ .type = AV_TEXT, .s = hashes[i],
		    .len = AUDIT_HASH_LEN };
		assert_int_equal(audit_verifier_record(v, &r, NULL), 0);
	}
	return v;
}

static void
test_verifier(void **state)
{
	char h[4][AUDIT_HASH_LEN + 1];
	struct audit_verifier *v;
	struct audit_report rep;
	struct witness_point pt = { .line = 7, .at = AT };

	(void)state;
	/* every witnessed head is in the log */
	v = chain(4, h);
	pt.records = 0;
	memcpy(pt.head, ZEROS, sizeof(pt.head));
	assert_int_equal(audit_verifier_witness(v, &pt), 0);
	pt.records = 3;
	memcpy(pt.head, h[2], sizeof(pt.head));
	assert_int_equal(audit_verifier_witness(v, &pt), 0);
	pt.records = 4;
	memcpy(pt.head, h[3], sizeof(pt.head));
	assert_int_equal(audit_verifier_witness(v, &pt), 0);
	assert_int_equal(audit_verifier_finish(v, &rep), 0);
	assert_true(rep.ok);
	assert_int_equal(rep.witness, 1);
	assert_int_equal(rep.witness_points, 3);
	assert_int_equal(rep.witness_records, 4);
	audit_verifier_free(v);

	/* the witness saw 4 records; the log has 2: cut back */
	v = chain(2, h);
	memcpy(pt.head, HEAD, sizeof(pt.head));
	assert_int_equal(audit_verifier_witness(v, &pt), UKEY_ERR_VERIFY);
	assert_int_equal(audit_verifier_finish(v, &rep), UKEY_ERR_VERIFY);
	assert_false(rep.ok);
	assert_int_equal(rep.bad_record, 3);
	assert_string_equal(rep.why, "witness line 7: at " AT " the log had 4 records (head "
	    "cd5fc82a0b7a40a5...), but it ends at record 2: records 3 to 4 were removed from the end"
	    " (truncated)");
	audit_verifier_free(v);

	/* record 2 is not the one witnessed: rewritten */
	v = chain(3, h);
	pt.records = 2;
	memcpy(pt.head, HEAD, sizeof(pt.head));
	assert_int_equal(audit_verifier_witness(v, &pt), UKEY_ERR_VERIFY);
	assert_int_equal(audit_verifier_finish(v, &rep), UKEY_ERR_VERIFY);
	assert_int_equal(rep.bad_record, 2);
	assert_non_null(strstr(rep.why, "witness line 7: record 2 differs from the head witnessed at "
	    AT));
	assert_non_null(strstr(rep.why, "witnessed cd5fc82a0b7a40a5...): the log was rewritten"));
	audit_verifier_free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_make_refuses),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_forged),
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_verifier),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
