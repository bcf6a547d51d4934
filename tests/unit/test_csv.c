/* The strict RFC 4180 reader: quoting, line ends, byte order mark, and an
 * error naming the line for each way a file can break the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "orders/csv.h"

static struct csv *
parse_ok(const char *text)
{
	struct csv *c = NULL;
	char why[256];

	assert_int_equal(csv_parse(text, strlen(text), &c, why, sizeof(why)), 0);
	assert_non_null(c);
	return c;
}

static void
expect_error(const char *text, size_t len, const char *want)
{
	struct csv *c = (struct csv *)1;
	char why[256];

	assert_int_equal(csv_parse(text, len, &c, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_null(c);
	assert_string_equal(why, want);
}

static void
test_quoting(void **state)
{
	struct csv *c;

	(void)state;
	/* BOM, CRLF, quoted comma, doubled quote, line break in a field,
	 * empty fields, LF-only last line without a line end */
	c = parse_ok("\xef\xbb\xbf" "a,b,c\r\n\"x,y\",\"say \"\"hi\"\"\",\"1\r\n2\"\r\n,,\n\nlast,\"\",z");
	assert_int_equal(c->n, 4);
	assert_int_equal(c->recs[0].n, 3);
	assert_string_equal(c->recs[0].fields[0], "a");
	assert_int_equal(c->recs[1].line, 2);
	assert_string_equal(c->recs[1].fields[0], "x,y");
	assert_string_equal(c->recs[1].fields[1], "say \"hi\"");
	assert_string_equal(c->recs[1].fields[2], "1\r\n2");
	assert_int_equal(c->recs[2].line, 4);
	assert_int_equal(c->recs[2].n, 3);
	assert_string_equal(c->recs[2].fields[2], "");
	/* the empty line 5 is no record */
	assert_int_equal(c->recs[3].line, 6);
	assert_string_equal(c->recs[3].fields[1], "");
	assert_string_equal(c->recs[3].fields[2], "z");
	csv_free(c);
	/* a comma at the end of a line is one more, empty, field */
	c = parse_ok("a,\n");
	assert_int_equal(c->n, 1);
	assert_int_equal(c->recs[0].n, 2);
	csv_free(c);
	c = parse_ok("");
	assert_int_equal(c->n, 0);
	csv_free(c);
	csv_free(NULL);
}

static void
test_errors(void **state)
{
	(void)state;
	expect_error("a,b\nc,d\"e\n", 10, "line 2: a quote inside an unquoted field (RFC 4180: "
	    "quote the whole field and double the quote)");
	expect_error("a\n\"b\"c\n", 7, "line 2: text after the closing quote of a field "
	    "(RFC 4180: a quoted field ends at its closing quote)");
	expect_error("a\n\"b\n\nc", 7, "line 2: a quoted field is not closed");
	expect_error("a\rb\n", 4, "line 1: a carriage return without a line feed "
	    "(lines end in CRLF or LF)");
	expect_error("a\n\nb\0c\n", 7, "line 3: a NUL byte (the file is not text)");
	expect_error("\"a\0\"", 4, "line 1: a NUL byte (the file is not text)");
}

static void
test_limits(void **state)
{
	char *big;
	size_t i;

	(void)state;
	big = malloc(CSV_MAX_FIELDS * 2 + 8);
	assert_non_null(big);
	for (i = 0; i < CSV_MAX_FIELDS + 1; i++) {
		big[2 * i] = 'x';
		big[2 * i + 1] = ',';
	}
	big[2 * CSV_MAX_FIELDS + 1] = '\n';
	expect_error(big, 2 * CSV_MAX_FIELDS + 2, "line 1: a record with more than 256 fields");
	free(big);
	big = malloc(CSV_MAX_FIELD + 2);
	assert_non_null(big);
	memset(big, 'y', CSV_MAX_FIELD + 1);
	expect_error(big, CSV_MAX_FIELD + 1, "line 1: a field longer than 65536 bytes");
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
