/* Tests for the UTF-8 helpers: well-formedness edge cases, character counts,
 * control characters and cutting a Chinese token label at 32 bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/utf8.h"

#define V(s) utf8_valid((s), sizeof(s) - 1)

static void
test_valid(void **state)
{
	(void)state;
	assert_true(V(""));
	assert_true(V("ASCII only"));
	assert_true(V("云南滇池科技有限公司"));
	assert_true(V("\xC2\x80"));			/* U+0080 */
	assert_true(V("\xDF\xBF"));			/* U+07FF */
	assert_true(V("\xE0\xA0\x80"));		/* U+0800 */
	assert_true(V("\xED\x9F\xBF"));		/* U+D7FF */
	assert_true(V("\xEE\x80\x80"));		/* U+E000 */
	assert_true(V("\xEF\xBF\xBF"));		/* U+FFFF */
	assert_true(V("\xF0\x90\x80\x80"));		/* U+10000 */
	assert_true(V("\xF0\xA0\x80\x80"));		/* U+20000, CJK extension B */
	assert_true(V("\xF4\x8F\xBF\xBF"));		/* U+10FFFF */
	assert_true(utf8_valid("a\0b", 3));		/* NUL is well-formed */
}

static void
test_invalid(void **state)
{
	(void)state;
	assert_false(V("\x80"));			/* stray continuation */
	assert_false(V("\xBF"));
	assert_false(V("\xC0\xAF"));			/* overlong '/' */
	assert_false(V("\xC1\xBF"));			/* overlong */
	assert_false(V("\xE0\x80\xAF"));		/* overlong, 3 bytes */
	assert_false(V("\xE0\x9F\xBF"));		/* overlong U+07FF */
	assert_false(V("\xF0\x80\x80\xAF"));		/* overlong, 4 bytes */
	assert_false(V("\xF0\x8F\xBF\xBF"));		/* overlong U+FFFF */
	assert_false(V("\xED\xA0\x80"));		/* U+D800 surrogate */
	assert_false(V("\xED\xBF\xBF"));		/* U+DFFF surrogate */
	assert_false(V("\xF4\x90\x80\x80"));		/* U+110000 */
	assert_false(V("\xF5\x80\x80\x80"));
	assert_false(V("\xF8\x88\x80\x80\x80"));	/* 5-byte form */
	assert_false(V("\xFE"));
	assert_false(V("\xFF"));
	assert_false(V("\xE4\xBA"));			/* truncated 云 */
	assert_false(V("\xE4\xBA" "A"));		/* bad continuation */
	assert_false(V("abc\xE4"));
	/* The length bounds the check: a truncated sequence at the end fails
	 * even if the following bytes would complete it. */
	assert_false(utf8_valid("\xE4\xBA\x91", 2));
	assert_true(utf8_valid("\xE4\xBA\x91", 3));
}

static void
test_decode(void **state)
{
	uint32_t cp = 0;

	(void)state;
	assert_int_equal(utf8_decode("A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(utf8_decode("\xC3\xA9x", 3, &cp), 2);	/* é */
	assert_int_equal(cp, 0xE9);
	assert_int_equal(utf8_decode("\xE4\xBA\x91", 3, &cp), 3);	/* 云 */
	assert_int_equal(cp, 0x4E91);
	assert_int_equal(utf8_decode("\xEF\xBC\xA1", 3, &cp), 3);	/* full-width A */
	assert_int_equal(cp, 0xFF21);
	assert_int_equal(utf8_decode("\xF0\xA0\x80\x80", 4, &cp), 4);
	assert_int_equal(cp, 0x20000);
	assert_int_equal(utf8_decode("\xF4\x8F\xBF\xBF", 4, NULL), 4);
	/* refused: nothing, truncated, overlong, surrogate, too large, stray */
	cp = 7;
	assert_int_equal(utf8_decode("", 0, &cp), 0);
	assert_int_equal(utf8_decode("\xE4\xBA\x91", 2, &cp), 0);
	assert_int_equal(utf8_decode("\xE4\xBA", 3, &cp), 0);	/* NUL is no continuation */
	assert_int_equal(utf8_decode("\xC0\xAF", 2, &cp), 0);
	assert_int_equal(utf8_decode("\xE0\x9F\xBF", 3, &cp), 0);
	assert_int_equal(utf8_decode("\xF0\x8F\xBF\xBF", 4, &cp), 0);
	assert_int_equal(utf8_decode("\xED\xA0\x80", 3, &cp), 0);
	assert_int_equal(utf8_decode("\xF4\x90\x80\x80", 4, &cp), 0);
	assert_int_equal(utf8_decode("\x80", 1, &cp), 0);
	assert_int_equal(utf8_decode("\xFF", 1, &cp), 0);
	assert_int_equal(cp, 7);	/* untouched on refusal */
}

static void
test_chars(void **state)
{
	(void)state;
	assert_int_equal(utf8_chars(""), 0);
	assert_int_equal(utf8_chars("abc"), 3);
	assert_int_equal(utf8_chars("云南滇池科技有限公司"), 10);
	assert_int_equal(utf8_chars("张三 Zhang"), 8);
	assert_int_equal(utf8_chars("\xF0\xA0\x80\x80x"), 2);
}

static void
test_control(void **state)
{
	(void)state;
	assert_false(utf8_has_control(""));
	assert_false(utf8_has_control("云南 CA, Kunming."));
	assert_true(utf8_has_control("a\tb"));
	assert_true(utf8_has_control("a\nb"));
	assert_true(utf8_has_control("\x1F"));
	assert_true(utf8_has_control("a\x7F"));
	assert_true(utf8_has_control("\xC2\x80"));	/* U+0080 */
	assert_true(utf8_has_control("x\xC2\x9F"));	/* U+009F */
	assert_false(utf8_has_control("\xC2\xA0"));	/* U+00A0 no-break space */
	assert_false(utf8_has_control("\xC3\xA9"));	/* é */
}

static void
test_cut(void **state)
{
	/* 12 CJK characters, 3 bytes each: 36 bytes, more than a token label holds. */
	const char *label = "云南滇池科技有限公司财务";
	char buf[40];
	size_t n;

	(void)state;
	assert_int_equal(strlen(label), 36);
	n = utf8_cut(label, 32);
	assert_int_equal(n, 30);
	memcpy(buf, label, n);
	buf[n] = '\0';
	assert_true(utf8_valid(buf, n));
	assert_int_equal(utf8_chars(buf), 10);
	assert_int_equal(utf8_cut(label, 33), 33);
	assert_int_equal(utf8_cut(label, 31), 30);
	assert_int_equal(utf8_cut(label, 36), 36);
	assert_int_equal(utf8_cut(label, 100), 36);
	assert_int_equal(utf8_cut(label, 2), 0);
	assert_int_equal(utf8_cut(label, 0), 0);
	/* Mixed widths: "YN" + 云 + "-" + U+20000 (4 bytes). */
	assert_int_equal(utf8_cut("YN云-\xF0\xA0\x80\x80", 8), 6);
	assert_int_equal(utf8_cut("YN云-\xF0\xA0\x80\x80", 10), 10);
	assert_int_equal(utf8_cut("abcdef", 4), 4);
	/* a 2-byte sequence (é) ending at the limit stays, one across it goes */
	assert_int_equal(utf8_cut("abc\xC3\xA9", 5), 5);
	assert_int_equal(utf8_cut("abcd\xC3\xA9", 5), 4);
	/* a 4-byte sequence ending at the limit, and across it at each byte */
	assert_int_equal(utf8_cut("a\xF0\xA0\x80\x80", 5), 5);
	assert_int_equal(utf8_cut("ab\xF0\xA0\x80\x80", 5), 2);
	assert_int_equal(utf8_cut("abc\xF0\xA0\x80\x80", 5), 3);
	assert_int_equal(utf8_cut("abcd\xF0\xA0\x80\x80", 5), 4);
	assert_int_equal(utf8_cut("", 32), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_chars),
		cmocka_unit_test(test_control),
		cmocka_unit_test(test_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
