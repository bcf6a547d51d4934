/* Tests for the hex coding of src/common/secret.c: both cases out, either
 * case in, odd lengths, stray characters and short buffers refused, and
 * OpenSSL's error queue left as it was. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/err.h>

#include "common/err.h"
#include "common/secret.h"

static const uint8_t bytes[] = { 0x00, 0x1f, 0xa0, 0xff, 0x7e };

static void
test_write(void **state)
{
	char out[11], small[10];
	char *s;

	(void)state;
	assert_int_equal(hex_write(out, sizeof(out), bytes, sizeof(bytes), 0), 0);
	assert_string_equal(out, "001fa0ff7e");
	assert_int_equal(hex_write(out, sizeof(out), bytes, sizeof(bytes), 1), 0);
	assert_string_equal(out, "001FA0FF7E");
	assert_int_equal(hex_write(small, sizeof(small), bytes, sizeof(bytes), 0),
	    UKEY_ERR_INVAL);
	assert_int_equal(hex_write(out, 1, NULL, 0, 0), 0);
	assert_string_equal(out, "");
	assert_non_null(s = hex_encode(bytes, sizeof(bytes)));
	assert_string_equal(s, "001fa0ff7e");
	free(s);
	assert_non_null(s = hex_encode(NULL, 0));
	assert_string_equal(s, "");
	free(s);
}

static void
test_read(void **state)
{
	uint8_t buf[8], *p;
	size_t n;
	unsigned u;

	(void)state;
	assert_int_equal(hex_read("001FA0ff7e", buf, sizeof(buf), &n), 0);
	assert_int_equal(n, sizeof(bytes));
	assert_memory_equal(buf, bytes, sizeof(bytes));
	assert_int_equal(hex_read("", buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(hex_read("abc", buf, sizeof(buf), &n), UKEY_ERR_INVAL);	/* odd */
	assert_int_equal(n, 0);
	assert_int_equal(hex_read("0g", buf, sizeof(buf), &n), UKEY_ERR_INVAL);
	assert_int_equal(hex_read("00 1f", buf, sizeof(buf), &n), UKEY_ERR_INVAL);
	assert_int_equal(hex_read("0x1f", buf, sizeof(buf), &n), UKEY_ERR_INVAL);
	assert_int_equal(hex_read("001122", buf, 2, &n), UKEY_ERR_INVAL);	/* too long */
	assert_int_equal(n, 0);
	/* a refusal leaves nothing on OpenSSL's error queue for others to trip on */
	assert_int_equal(ERR_peek_error(), 0);

	assert_int_equal(hex_read4("096e", &u), 0);
	assert_int_equal(u, 0x096e);
	assert_int_equal(hex_read4("FFFF", &u), 0);
	assert_int_equal(u, 0xffff);
	assert_int_equal(hex_read4("96e", &u), UKEY_ERR_INVAL);
	assert_int_equal(hex_read4("096e0", &u), UKEY_ERR_INVAL);
	assert_int_equal(hex_read4("00096e", &u), UKEY_ERR_INVAL);
	assert_int_equal(hex_read4("09 e", &u), UKEY_ERR_INVAL);
	assert_int_equal(hex_read4("", &u), UKEY_ERR_INVAL);

	assert_int_equal(hex_decode("A1b2", &p, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(p[0], 0xa1);
	assert_int_equal(p[1], 0xb2);
	assert_int_equal(p[2], 0);	/* NUL-terminated for convenience */
	free(p);
	assert_int_equal(hex_decode("", &p, &n), 0);
	assert_int_equal(n, 0);
	free(p);
	assert_int_equal(hex_decode("a1b", &p, &n), UKEY_ERR_INVAL);
	assert_null(p);
	assert_int_equal(hex_decode("zz", &p, &n), UKEY_ERR_INVAL);
	assert_null(p);
	assert_int_equal(n, 0);
	assert_int_equal(hex_decode(NULL, &p, &n), UKEY_ERR_INVAL);
	assert_int_equal(ERR_peek_error(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
