/* Tests for the reports' arithmetic (common/reportcalc.c): the median of
 * odd and even counts (rounded down, no overflow), the same median of
 * durations counted by value in memory for the values that differ, day
 * numbers and times
 * both ways, and the deadline of the production promise in working days
 * across weekends, time zones, a new year and the epoch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/reportcalc.h"

static int64_t
t(const char *iso)
{
	int64_t v = 0;

	assert_int_equal(report_time_parse(iso, &v), 0);
	return v;
}

static void
test_median(void **state)
{
	int64_t one[] = { 5 }, odd[] = { 3, 1, 2 }, even[] = { 4, 1, 3, 2 }, two[] = { 1, 2 };
	int64_t neg[] = { -3, -2 }, big[] = { INT64_MAX, INT64_MAX - 2 }, same[] = { 7, 7, 7, 7 };
	int64_t m = -1;

	(void)state;
	assert_int_equal(report_median(one, 0, &m), UKEY_ERR_NOTFOUND);
	assert_int_equal(m, -1);
	assert_int_equal(report_median(one, 1, &m), 0);
	assert_int_equal(m, 5);
	assert_int_equal(report_median(odd, 3, &m), 0);
	assert_int_equal(m, 2);
	assert_int_equal(odd[0], 1);	/* sorted in place */
	assert_int_equal(odd[2], 3);
	assert_int_equal(report_median(even, 4, &m), 0);
	assert_int_equal(m, 2);		/* 2.5 rounded down */
	assert_int_equal(report_median(two, 2, &m), 0);
	assert_int_equal(m, 1);
	assert_int_equal(report_median(neg, 2, &m), 0);
	assert_int_equal(m, -3);	/* -2.5 rounded down */
	assert_int_equal(report_median(big, 2, &m), 0);
	assert_true(m == INT64_MAX - 1);	/* the sum would overflow */
	assert_int_equal(report_median(same, 4, &m), 0);
	assert_int_equal(m, 7);
}

/* The median of durations counted by value equals report_median's over
 * the same values, for v[0..n) (v is sorted by the comparison). */
static void
same_median(int64_t *v, size_t n)
{
	struct report_durations d = { 0 };
	int64_t want = -1, got = -2;
	size_t i;

	for (i = 0; i < n; i++)
		assert_int_equal(report_durations_add(&d, v[i]), 0);
	assert_int_equal(d.n, (int64_t)n);
	if (n == 0) {
		assert_int_equal(report_durations_median(&d, &got), UKEY_ERR_NOTFOUND);
	} else {
		assert_int_equal(report_durations_median(&d, &got), 0);
		assert_int_equal(report_median(v, n, &want), 0);
		assert_true(got == want);
	}
	report_durations_free(&d);
}

static void
test_durations(void **state)
{
	static int64_t v[20001];
	int64_t edge[] = { INT64_MAX, INT64_MAX - 2, INT64_MIN, -3, -2, 0 };
	struct report_durations d = { 0 };
	uint64_t x = 88172645463325252u;
	size_t n, i, sizes[] = { 0, 1, 2, 3, 4, 7, 100, 101, 20000, 20001 };
	int64_t range[] = { 1, 3, 60, 100000, 0 };
	size_t k, r;

	(void)state;
	/* odd and even counts, few values that differ and many, negative ones
	 * (r = 3) and the whole int64_t range (r = 4) */
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		for (r = 0; r < sizeof(range) / sizeof(range[0]); r++) {
			n = sizes[k];
			for (i = 0; i < n; i++) {
				x ^= x << 13;	/* xorshift64 */
				x ^= x >> 7;
				x ^= x << 17;
				v[i] = range[r] ? (int64_t)(x % (uint64_t)range[r]) - (r == 3 ? 50000 : 0) :
				    (int64_t)x;
			}
			same_median(v, n);
		}
	}
	/* the rounding and the sums report_median is checked for above */
	same_median(edge, 2);		/* INT64_MAX - 1: the sum would overflow */
	same_median(edge + 3, 2);	/* -2.5 rounded down: -3 */
	same_median(edge, 6);
	/* memory for the values that differ, not for the count */
	for (i = 0; i < 1000000; i++)
		assert_int_equal(report_durations_add(&d, (int64_t)(i % 300)), 0);
	assert_int_equal(d.used, 300);
	assert_true(d.cap <= 512);
	assert_int_equal(report_durations_median(&d, &v[0]), 0);
	assert_int_equal(v[0], 149);	/* 0..299 as often each: (149 + 150) / 2 down */
	report_durations_free(&d);
	assert_null(d.val);
}

static void
test_days(void **state)
{
	int64_t d = 1;
	char buf[16];

	(void)state;
	assert_int_equal(report_day_parse("1970-01-01", &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(report_day_parse("1969-12-31", &d), 0);
	assert_int_equal(d, -1);
	assert_int_equal(report_day_parse("2024-02-29", &d), 0);
	assert_int_equal(d, 19782);
	assert_int_equal(report_day_parse("2023-02-29", &d), UKEY_ERR_INVAL);
	assert_int_equal(report_day_parse("2024-2-29", &d), UKEY_ERR_INVAL);
	assert_int_equal(report_day_parse("2024-02-29x", &d), UKEY_ERR_INVAL);
	assert_int_equal(report_day_parse("2024/02/28", &d), UKEY_ERR_INVAL);
	assert_int_equal(report_day_parse("", &d), UKEY_ERR_INVAL);
	assert_int_equal(report_day_parse(NULL, &d), UKEY_ERR_INVAL);
	for (d = -719528; d <= 2932896; d += 997) {	/* years 0000 to 9999 */
		int64_t back = 0;

		report_day_format(d, buf);
		assert_int_equal(report_day_parse(buf, &back), 0);
		assert_true(back == d);
	}
	report_day_format(19782, buf);
	assert_string_equal(buf, "2024-02-29");
}

static void
test_times(void **state)
{
	int64_t v = 0;
	char buf[32];

	(void)state;
	assert_true(t("2026-12-05T20:32:50Z") == 1796502770);
	assert_true(t("1970-01-01T00:00:00Z") == 0);
	assert_int_equal(report_time_parse("2026-12-05 20:32:50Z", &v), UKEY_ERR_INVAL);
	assert_int_equal(report_time_parse("2026-12-05T24:00:00Z", &v), UKEY_ERR_INVAL);
	assert_int_equal(report_time_parse("2026-12-05T20:32:50", &v), UKEY_ERR_INVAL);
	assert_int_equal(report_time_parse("2026-02-30T20:32:50Z", &v), UKEY_ERR_INVAL);
	report_time_format(1796502770, buf);
	assert_string_equal(buf, "2026-12-05T20:32:50Z");
	report_time_format(-1, buf);
	assert_string_equal(buf, "1969-12-31T23:59:59Z");
}

static void
test_workdays(void **state)
{
	int64_t d;

	(void)state;
	assert_int_equal(report_day_parse("2026-12-05", &d), 0);	/* Saturday */
	assert_false(report_workday(d));
	assert_false(report_workday(d + 1));			/* Sunday */
	assert_true(report_workday(d + 2));			/* Monday */
	assert_true(report_workday(d + 6));			/* Friday */
	assert_true(report_workday(0));				/* Thursday, 1970-01-01 */
	assert_false(report_workday(-4));			/* Sunday, 1969-12-28 */
	assert_false(report_workday(-5));			/* Saturday, 1969-12-27 */
	assert_true(report_workday(-3));			/* Monday, 1969-12-29 */
}

static void
test_deadline(void **state)
{
	(void)state;
	/* Monday afternoon: due at the end of Tuesday */
	assert_true(report_workday_deadline(t("2026-12-07T15:00:00Z"), 0, 1) ==
	    t("2026-12-09T00:00:00Z"));
	/* Friday, Saturday, Sunday night: due at the end of Monday */
	assert_true(report_workday_deadline(t("2026-12-04T10:00:00Z"), 0, 1) ==
	    t("2026-12-08T00:00:00Z"));
	assert_true(report_workday_deadline(t("2026-12-05T10:00:00Z"), 0, 1) ==
	    t("2026-12-08T00:00:00Z"));
	assert_true(report_workday_deadline(t("2026-12-06T23:59:59Z"), 0, 1) ==
	    t("2026-12-08T00:00:00Z"));
	/* Thursday's last second: due at the end of Friday */
	assert_true(report_workday_deadline(t("2026-12-03T23:59:59Z"), 0, 1) ==
	    t("2026-12-05T00:00:00Z"));
	/* Friday 17:00 UTC is Saturday 01:00 in UTC+8: due at the end of
	 * Monday there, 16:00 UTC */
	assert_true(report_workday_deadline(t("2026-12-04T17:00:00Z"), 480, 1) ==
	    t("2026-12-07T16:00:00Z"));
	/* Monday 03:00 UTC is Sunday 22:00 in UTC-5: due at the end of Monday
	 * there, Tuesday 05:00 UTC */
	assert_true(report_workday_deadline(t("2026-12-07T03:00:00Z"), -300, 1) ==
	    t("2026-12-08T05:00:00Z"));
	/* two working days from Thursday: the end of Monday */
	assert_true(report_workday_deadline(t("2026-12-03T09:00:00Z"), 0, 2) ==
	    t("2026-12-08T00:00:00Z"));
	/* none: the end of the day itself */
	assert_true(report_workday_deadline(t("2026-12-05T10:00:00Z"), 0, 0) ==
	    t("2026-12-06T00:00:00Z"));
	/* New Year's Day is not known as a holiday: a working day (Friday) */
	assert_true(report_workday_deadline(t("2026-12-31T10:00:00Z"), 0, 1) ==
	    t("2027-01-02T00:00:00Z"));
	/* before the epoch: Wednesday 1969-12-31, due at the end of Thursday */
	assert_true(report_workday_deadline(t("1969-12-31T12:00:00Z"), 0, 1) == 86400);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_median),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_days),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_workdays),
		cmocka_unit_test(test_deadline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
