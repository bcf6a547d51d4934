/* Tests for date_valid: the leap-year rule (1900, 2000, 2024), February 29
 * and 30, and the first and last day of every month. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/caldate.h"

static void
test_leap_years(void **state)
{
	(void)state;
	assert_false(date_valid(1900, 2, 29));	/* divisible by 100, not by 400 */
	assert_true(date_valid(2000, 2, 29));	/* divisible by 400 */
	assert_true(date_valid(2024, 2, 29));	/* divisible by 4 */
	assert_false(date_valid(2023, 2, 29));
	assert_false(date_valid(2100, 2, 29));
	assert_true(date_valid(1600, 2, 29));
	assert_true(date_valid(1900, 2, 28));
	assert_false(date_valid(2000, 2, 30));
	assert_false(date_valid(2024, 2, 30));
}

static void
test_month_bounds(void **state)
{
	static const int last[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int m;

	(void)state;
	for (m = 1; m <= 12; m++) {
		assert_true(date_valid(2023, m, 1));
		assert_true(date_valid(2023, m, last[m - 1]));
		assert_false(date_valid(2023, m, last[m - 1] + 1));
		assert_false(date_valid(2023, m, 0));
		assert_false(date_valid(2023, m, -1));
	}
	assert_false(date_valid(2023, 0, 1));
	assert_false(date_valid(2023, 13, 1));
	assert_false(date_valid(2023, -1, 1));
	assert_false(date_valid(2024, 4, 31));
	assert_true(date_valid(2024, 12, 31));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leap_years),
		cmocka_unit_test(test_month_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
