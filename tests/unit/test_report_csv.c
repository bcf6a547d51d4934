/* Tests for the reports' writers (ctl/verbs_reports.c): CSV fields and
 * tables per RFC 4180 (quoting, doubled quotes, CRLF, empty fields for
 * missing values), HTML-escaped text, the production chart's SVG, and
 * durations as people read them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "ctl/ctl.h"

/* What fn wrote for s, in a static buffer. */
static const char *
written(void (*fn)(FILE *, const char *), const char *s)
{
	static char out[512];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fn(f, s);
	assert_int_equal(fclose(f), 0);
	snprintf(out, sizeof(out), "%s", buf);
	free(buf);
	return out;
}

static void
test_csv_field(void **state)
{
	(void)state;
	assert_string_equal(written(report_csv_field, "abc"), "abc");
	assert_string_equal(written(report_csv_field, ""), "");
	assert_string_equal(written(report_csv_field, NULL), "");
	assert_string_equal(written(report_csv_field, "a,b"), "\"a,b\"");
	assert_string_equal(written(report_csv_field, "say \"hi\""), "\"say \"\"hi\"\"\"");
	assert_string_equal(written(report_csv_field, "\""), "\"\"\"\"");
	assert_string_equal(written(report_csv_field, "two\nlines"), "\"two\nlines\"");
	assert_string_equal(written(report_csv_field, "cr\r"), "\"cr\r\"");
	assert_string_equal(written(report_csv_field, "云南,CA"), "\"云南,CA\"");
	/* a customer's text that a spreadsheet would run stays text; numbers stay numbers */
	assert_string_equal(written(report_csv_field, "=HYPERLINK(\"http://x\")"),
	    "\"'=HYPERLINK(\"\"http://x\"\")\"");
	assert_string_equal(written(report_csv_field, "@SUM(A1)"), "\"'@SUM(A1)\"");
	assert_string_equal(written(report_csv_field, "+86 871"), "\"'+86 871\"");
	assert_string_equal(written(report_csv_field, "-cmd"), "\"'-cmd\"");
	assert_string_equal(written(report_csv_field, "-125.50"), "-125.50");
	assert_string_equal(written(report_csv_field, "+3"), "+3");
	assert_string_equal(written(report_csv_field, "a=b"), "a=b");
	/* nothing else is quoted: spaces, semicolons, single quotes */
	assert_string_equal(written(report_csv_field, " a;b 'c' "), " a;b 'c' ");
}

static void
test_csv_table(void **state)
{
	static const char *const cols[] = { "a", "b", NULL };
	struct json_object *rows = json_tokener_parse(
	    "[{\"a\": \"x,y\", \"b\": 1}, {\"a\": null}, {\"b\": \"q\\\"\"}]");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(rows);
	report_csv_write(f, rows, cols);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(buf, "a,b\r\n\"x,y\",1\r\n,\r\n,\"q\"\"\"\r\n");
	free(buf);
	json_object_put(rows);
}

static void
test_html_text(void **state)
{
	(void)state;
	assert_string_equal(written(report_html_text, "<a href=\"x\">&'</a>"),
	    "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
	assert_string_equal(written(report_html_text, "云南 CA"), "云南 CA");
	assert_string_equal(written(report_html_text, NULL), "");
}

static size_t
count(const char *s, const char *what)
{
	size_t n = 0;

	for (; (s = strstr(s, what)) != NULL; s++)
		n++;
	return n;
}

static void
test_svg_chart(void **state)
{
	struct json_object *days = json_tokener_parse("["
	    "{\"day\": \"2026-12-01\", \"tokens\": 4, \"median_seconds\": 30},"
	    "{\"day\": \"2026-12-02\", \"tokens\": 0, \"median_seconds\": null},"
	    "{\"day\": \"<&>\", \"tokens\": 2, \"median_seconds\": 60}]");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(days);
	report_svg_chart(f, days);
	assert_int_equal(fclose(f), 0);
	assert_true(strncmp(buf, "<svg ", 5) == 0);
	assert_non_null(strstr(buf, "</svg>\n"));
	assert_int_equal(count(buf, "<rect "), 3);
	/* the busiest day's bar takes the plot's whole height (300 - 30 - 60) */
	assert_non_null(strstr(buf, "height=\"210.0\" fill"));
	assert_non_null(strstr(buf, "height=\"0.0\" fill"));
	/* the median line joins the two days that have one; the highest is at
	 * the top of the plot */
	assert_int_equal(count(buf, "<polyline "), 1);
	assert_non_null(strstr(buf, ",30.0\"/>"));
	assert_int_equal(count(buf, "<circle "), 2);
	assert_non_null(strstr(buf, "cy=\"30.0\""));
	assert_non_null(strstr(buf, "median 1m00s per token"));
	/* text is escaped; nothing runs or loads */
	assert_non_null(strstr(buf, "&lt;&amp;&gt;"));
	assert_null(strstr(buf, "<&>"));
	assert_null(strstr(buf, "script"));
	assert_null(strstr(buf, "href"));
	free(buf);
	json_object_put(days);
}

static void
test_duration(void **state)
{
	char buf[32];

	(void)state;
	report_duration(0, buf, sizeof(buf));
	assert_string_equal(buf, "0s");
	report_duration(59, buf, sizeof(buf));
	assert_string_equal(buf, "59s");
	report_duration(60, buf, sizeof(buf));
	assert_string_equal(buf, "1m00s");
	report_duration(3599, buf, sizeof(buf));
	assert_string_equal(buf, "59m59s");
	report_duration(3600 + 4 * 60 + 59, buf, sizeof(buf));
	assert_string_equal(buf, "1h04m");
	report_duration(10 * 86400 + 3 * 3600 + 59, buf, sizeof(buf));
	assert_string_equal(buf, "10d03h");
	report_duration(-90, buf, sizeof(buf));
	assert_string_equal(buf, "-1m30s");
	report_duration(INT64_MIN, buf, sizeof(buf));
	assert_true(buf[0] == '-');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_field),
		cmocka_unit_test(test_csv_table),
		cmocka_unit_test(test_html_text),
		cmocka_unit_test(test_svg_chart),
		cmocka_unit_test(test_duration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
