/* The token's state table (src/orders/tokenlife.c): every (from, to) pair,
 * the names, the revocation reasons and the "allowed from" text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "orders/tokenlife.h"

static void
test_pairs(void **state)
{
	/* the 12 legal marks of docs/lifecycle.md; the other 24 pairs are refused */
	static const char *const legal[] = {
		"in-stock>lost", "in-stock>damaged", "in-stock>destroyed",
		"issued>lost", "issued>damaged", "issued>returned",
		"lost>returned", "damaged>destroyed",
		"returned>in-stock", "returned>lost", "returned>damaged", "returned>destroyed",
	};
	char pair[40];
	int from, to, n = 0;
	size_t i;

	(void)state;
	for (from = 0; from < TS_COUNT_; from++)
		for (to = 0; to < TS_COUNT_; to++) {
			int want = 0;

			snprintf(pair, sizeof(pair), "%s>%s", token_state_name(from),
			    token_state_name(to));
			for (i = 0; i < sizeof(legal) / sizeof(legal[0]); i++)
				want |= strcmp(pair, legal[i]) == 0;
			if (token_mark_allowed(from, to) != want)
				fail_msg("%s: allowed %d, expected %d", pair,
				    token_mark_allowed(from, to), want);
			n += want;
			/* nothing marks a token issued: an issuance does */
			assert_false(to == TS_ISSUED && token_mark_allowed(from, to));
		}
	assert_int_equal(n, 12);
	assert_false(token_mark_allowed(TS_COUNT_, TS_LOST));
	assert_false(token_mark_allowed(TS_LOST, -1));
}

static void
test_names(void **state)
{
	int s;

	(void)state;
	for (s = 0; s < TS_COUNT_; s++)
		assert_int_equal(token_state_parse(token_state_name(s)), s);
	assert_int_equal(token_state_parse("stolen"), -1);
	assert_int_equal(token_state_parse(NULL), -1);
	assert_string_equal(token_state_name(TS_COUNT_), "?");
}

static void
test_reasons(void **state)
{
	(void)state;
	assert_string_equal(token_mark_reason(TS_LOST), "keyCompromise");
	assert_string_equal(token_mark_reason(TS_DAMAGED), "cessationOfOperation");
	assert_string_equal(token_mark_reason(TS_DESTROYED), "cessationOfOperation");
	assert_string_equal(token_mark_reason(TS_RETURNED), "cessationOfOperation");
	assert_null(token_mark_reason(TS_IN_STOCK));
	assert_null(token_mark_reason(TS_ISSUED));
}

static void
test_marks_from(void **state)
{
	char buf[128];

	(void)state;
	token_marks_from(TS_ISSUED, buf, sizeof(buf));
	assert_string_equal(buf, "lost, damaged, returned");
	token_marks_from(TS_DESTROYED, buf, sizeof(buf));
	assert_string_equal(buf, "none");
	token_marks_from(TS_RETURNED, buf, sizeof(buf));
	assert_string_equal(buf, "in-stock, lost, damaged, destroyed");
	token_marks_from(TS_RETURNED, buf, 12);	/* cut short, still a string */
	assert_true(strlen(buf) < 12);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairs),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_marks_from),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
