/* Control protocol requests: what request_parse() takes and what it refuses,
 * with the message naming the field and the rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/request.h"

static void
expect_refused(const char *text, size_t len, const char *want)
{
	struct parsed_request pr;
	char msg[256];

	assert_int_equal(request_parse(text, len, &pr, msg, sizeof(msg)), UKEY_ERR_PROTO);
	assert_null(pr.root);
	assert_null(pr.cmd);
	assert_string_equal(msg, want);
}

#define refused(lit, want) expect_refused(lit, sizeof(lit) - 1, want)

static void
test_good(void **state)
{
	struct parsed_request pr;
	char msg[256];
	static const char text[] = "{\"v\":1,\"cmd\":\"order.show\",\"args\":{\"id\":12}}";

	assert_int_equal(request_parse(text, sizeof(text) - 1, &pr, msg, sizeof(msg)), 0);
	assert_string_equal(pr.cmd, "order.show");
	assert_int_equal(json_object_get_int(json_object_object_get(pr.args, "id")), 12);
	request_free(&pr);
	assert_null(pr.root);
	request_free(&pr);	/* twice is harmless */

	/* args may be left out: an empty object stands in */
	assert_int_equal(request_parse("{\"cmd\":\"ping\",\"v\":1}", 20, &pr, msg, sizeof(msg)), 0);
	assert_true(json_object_is_type(pr.args, json_type_object));
	assert_int_equal(json_object_object_length(pr.args), 0);
	request_free(&pr);

	/* the text need not be NUL-terminated: only len bytes are read */
	{
		char *buf = malloc(19);

		memcpy(buf, "{\"v\":1,\"cmd\":\"ab\"}X", 19);
		assert_int_equal(request_parse(buf, 18, &pr, msg, sizeof(msg)), 0);
		assert_string_equal(pr.cmd, "ab");
		request_free(&pr);
		free(buf);
	}
}

static void
test_refused(void **state)
{
	refused("", "request is not a JSON object");
	refused("[1]", "request is not a JSON object");
	refused("{\"v\":1,\"cmd\":\"ping\"", "request is not a JSON object");
	refused("{\"v\":1,\"cmd\":\"ping\"} {}", "request is not a JSON object");
	refused("{\"v\":1,\"cmd\":\"ping\"}\0", "request is not a JSON object");
	refused("{\"cmd\":\"ping\"}", "request field v: must be 1");
	refused("{\"v\":2,\"cmd\":\"ping\"}", "request field v: must be 1");
	refused("{\"v\":\"1\",\"cmd\":\"ping\"}", "request field v: must be 1");
	refused("{\"v\":1.0,\"cmd\":\"ping\"}", "request field v: must be 1");
	refused("{\"v\":4294967297,\"cmd\":\"ping\"}", "request field v: must be 1");
	refused("{\"v\":1}", "request field cmd: required string");
	refused("{\"v\":1,\"cmd\":7}", "request field cmd: required string");
	refused("{\"v\":1,\"cmd\":\"\"}",
	    "request field cmd: must be 1 to 64 printable ASCII characters without spaces");
	refused("{\"v\":1,\"cmd\":\"order show\"}",
	    "request field cmd: must be 1 to 64 printable ASCII characters without spaces");
	refused("{\"v\":1,\"cmd\":\"pi\\u0000ng\"}",
	    "request field cmd: must be 1 to 64 printable ASCII characters without spaces");
	refused("{\"v\":1,\"cmd\":\"\xe5\xae\xa1\xe6\xa0\xb8\"}",
	    "request field cmd: must be 1 to 64 printable ASCII characters without spaces");
	refused("{\"v\":1,\"cmd\":\"ping\",\"args\":[]}", "request field args: must be an object");
	refused("{\"v\":1,\"cmd\":\"ping\",\"args\":null}", "request field args: must be an object");
}

/* Only RFC 8259 JSON: json-c's lenient extensions would let a request mean
 * something other than what a strict reader of the same bytes sees. */
static void
test_strict(void **state)
{
	static const char *const bad[] = {
		"{\"v\":1,\"cmd\":\"ping\",}",			/* trailing comma */
		"{\"v\":1,\"cmd\":\"ping\",\"args\":{\"id\":1,}}",
		"{'v':1,'cmd':'ping'}",				/* single quotes */
		"{\"v\":1,\"cmd\":'ping'}",
		"{\"v\":1,/* c */\"cmd\":\"ping\"}",		/* comments */
		"{\"v\":1,\"cmd\":\"ping\"} // c",
		"{v:1,\"cmd\":\"ping\"}",				/* bare key */
		"{\"v\":1,\"cmd\":\"ping\",\"args\":{\"x\":TRUE}}",	/* upper-case literal */
		"{\"v\":01,\"cmd\":\"ping\"}",			/* leading zero */
	};

	struct parsed_request pr;
	char msg[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(request_parse(bad[i], strlen(bad[i]), &pr, msg, sizeof(msg)),
		    UKEY_ERR_PROTO);
		assert_null(pr.root);
		assert_true(strncmp(msg, "request is not ", 15) == 0);
	}
	/* json-c's strict mode takes these; the text check refuses them */
	refused("{'v':1,\"cmd\":\"ping\"}", "request is not strict JSON (RFC 8259): single "
	    "quote at byte 1: JSON strings and member names take double quotes");
	refused("{\"v\":1,\"cmd\":\"ping\",\"args\":{\"x\":NaN}}", "request is not strict "
	    "JSON (RFC 8259): args.x: \"NaN\" at byte 32 is not a JSON value (only true, false "
	    "and null are literals)");
	refused("{\"v\":1,\"cmd\":\"ping\",\"args\":{\"x\":[1,-Infinity]}}", "request is not "
	    "strict JSON (RFC 8259): args.x[1]: \"Infinity\" at byte 36 is not a JSON value "
	    "(only true, false and null are literals)");
	refused("{\"v\":1,\"cmd\":\"pi\tng\"}", "request is not strict JSON (RFC 8259): cmd: "
	    "control character 0x09 at byte 16 must be escaped");
	refused("{\"v\":1,\"cmd\":\"ping\",\"args\":{\"n\":\"\\ud800\"}}", "request is not "
	    "strict JSON (RFC 8259): args.n: \\uD800 at byte 33 is an unpaired UTF-16 surrogate "
	    "(a high surrogate without a low one after it)");
	/* numbers with exponents and escaped quotes are no words or ends */
	{
		static const char ok[] = "{\"v\":1,\"cmd\":\"ping\",\"args\":{\"e\":1.5e-3,"
		    "\"q\":\"a\\\"b\",\"p\":\"\\ud83d\\ude00\",\"t\":[true,false,null]}}";

		assert_int_equal(request_parse(ok, sizeof(ok) - 1, &pr, msg, sizeof(msg)), 0);
		request_free(&pr);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_strict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
