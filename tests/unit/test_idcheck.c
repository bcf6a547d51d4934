/* Tests for USCC (GB 32100-2015), resident ID (GB 11643-1999), mobile-number
 * normalization and id masking: published vectors plus random codes where
 * every single-character change must be refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "common/err.h"
#include "orders/idcheck.h"

/* 2026-03-01 00:00:00 UTC: a fixed "now" keeps the tests reproducible. */
#define NOW ((time_t)1772323200)

static const char alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

static void
test_uscc_vectors(void **state)
{
	char why[128];

	(void)state;
	assert_int_equal(uscc_check("91350100M000100Y43", why, sizeof(why)), 0);
	assert_string_equal(why, "");
	assert_int_equal(uscc_check("91110000600037341L", why, sizeof(why)), 0);
	assert_int_equal(uscc_check("91530100MA6K5U5X7R", why, sizeof(why)), 0);
	/* The account in the operator manual's screenshots. */
	assert_int_equal(uscc_check("91110113785537392L", why, sizeof(why)), 0);
	assert_int_equal(uscc_check_char("91530100MA6K5U5X7"), 'R');
	assert_int_equal(uscc_check_char("91350100M000100Y4"), '3');
	assert_int_equal(uscc_check_char("91110000600037341"), 'L');
}

static void
test_uscc_wild_checksum_failure(void **state)
{
	char why[128];

	(void)state;
	/* Exists in the wild, fails the check: overridable, not a format error. */
	assert_int_equal(uscc_check("91350211M0000XUF46", why, sizeof(why)), UKEY_ERR_VERIFY);
	assert_int_equal(uscc_check_char("91350211M0000XUF4"), 'R');
	assert_string_equal(why, "check character should be 'R', not '6' (GB 32100-2015)");
	assert_null(strstr(why, "91350211"));
}

static void
test_uscc_format_errors(void **state)
{
	char why[160];

	(void)state;
	assert_int_equal(uscc_check("91530100MA6K5U5X7", why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "must be 18 characters, not 17 (GB 32100-2015)");
	assert_int_equal(uscc_check("91530100MA6K5U5X7RR", why, sizeof(why)), UKEY_ERR_INVAL);
	assert_int_equal(uscc_check("", why, sizeof(why)), UKEY_ERR_INVAL);
	assert_int_equal(uscc_check(NULL, why, sizeof(why)), UKEY_ERR_INVAL);
	/* I, O, S, V, Z and lower case are not in the alphabet. */
	assert_int_equal(uscc_check("91530100IA6K5U5X7R", why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "character 9 'I' is not in the code alphabet "
	    "0-9 A-Z without I O S V Z (GB 32100-2015)");
	assert_int_equal(uscc_check("91530100ma6k5u5x7r", why, sizeof(why)), UKEY_ERR_INVAL);
	assert_int_equal(uscc_check("91530100MA6K5U5X7\xE4", why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "character 18 is not in the code alphabet "
	    "0-9 A-Z without I O S V Z (GB 32100-2015)");
	/* Division code must be digits even if the letters are in the alphabet. */
	assert_int_equal(uscc_check("915A0100MA6K5U5X7R", why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "characters 3-8 (administrative division) must be digits "
	    "(GB 32100-2015)");
	assert_int_equal(uscc_check_char("9153010"), 0);
	assert_int_equal(uscc_check_char("91530100OA6K5U5X7"), 0);
	/* why may be absent or tiny. */
	assert_int_equal(uscc_check("91350211M0000XUF46", NULL, 0), UKEY_ERR_VERIFY);
	assert_int_equal(uscc_check("91350211M0000XUF46", why, 6), UKEY_ERR_VERIFY);
	assert_string_equal(why, "check");
}

static void
random_uscc(char out[19])
{
	int i;

	for (i = 0; i < 17; i++) {
		if (i >= 2 && i < 8)
			out[i] = (char)('0' + rand() % 10);
		else
			out[i] = alphabet[rand() % 31];
	}
	out[17] = uscc_check_char(out);
	out[18] = '\0';
}

static void
test_uscc_random_single_changes(void **state)
{
	char code[19], mut[19];
	int n, pos, c;

	(void)state;
	srand(20260301);
	for (n = 0; n < 3000; n++) {
		random_uscc(code);
		assert_int_equal(uscc_check(code, NULL, 0), 0);
		for (pos = 0; pos < 18; pos++) {
			for (c = 0x20; c < 0x7F; c++) {
				if (c == code[pos])
					continue;
				memcpy(mut, code, sizeof(mut));
				mut[pos] = (char)c;
				if (uscc_check(mut, NULL, 0) == 0)
					fail_msg("USCC %s with character %d changed to '%c' passes",
					    code, pos + 1, c);
			}
		}
	}
}

static void
test_rid_vectors(void **state)
{
	char norm[19], why[128];

	(void)state;
	assert_int_equal(rid_check("11010519491231002X", NOW, norm, why, sizeof(why)), 0);
	assert_string_equal(norm, "11010519491231002X");
	assert_int_equal(rid_check("11010519491231002x", NOW, norm, why, sizeof(why)), 0);
	assert_string_equal(norm, "11010519491231002X");
	assert_int_equal(rid_check("440524188001010014", NOW, norm, why, sizeof(why)), 0);
	assert_int_equal(rid_check("530102199003070016", NOW, norm, why, sizeof(why)), 0);
	assert_string_equal(norm, "530102199003070016");
	/* 2000 is a leap year. */
	assert_int_equal(rid_check("110105200002290013", NOW, norm, why, sizeof(why)), 0);
	/* The legal representative in the operator manual's screenshots has a
	 * number that fails its check: overridable, like a real one would be. */
	assert_int_equal(rid_check("612429199411200122", NOW, norm, why, sizeof(why)), UKEY_ERR_VERIFY);
	assert_string_equal(why, "check character should be 1, not 2 (GB 11643)");
	assert_int_equal(rid_check_char("11010519491231002"), 'X');
	assert_int_equal(rid_check_char("53010219900307001"), '6');
	assert_int_equal(rid_check_char("5301021990030700a"), 0);
}

static void
make_rid(const char *first17, char out[19])
{
	memcpy(out, first17, 17);
	out[17] = rid_check_char(first17);
	out[18] = '\0';
}

static void
test_rid_dates(void **state)
{
	char id[19], norm[19], why[128];

	(void)state;
	/* 1900 is not a leap year; February has no 30th. Made with a correct
	 * check character, so only the date can be at fault. */
	make_rid("11010519000229001", id);
	assert_int_equal(rid_check(id, NOW, norm, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "birth date (characters 7-14) is not a real calendar date (GB 11643)");
	assert_string_equal(norm, "");
	make_rid("11010519490230001", id);
	assert_int_equal(rid_check(id, NOW, norm, why, sizeof(why)), UKEY_ERR_INVAL);
	make_rid("11010520240229001", id);
	assert_int_equal(rid_check(id, NOW, norm, why, sizeof(why)), 0);
	make_rid("11010520230229001", id);
	assert_int_equal(rid_check(id, NOW, norm, why, sizeof(why)), UKEY_ERR_INVAL);
	make_rid("11010519491331001", id);
	assert_int_equal(rid_check(id, NOW, norm, why, sizeof(why)), UKEY_ERR_INVAL);
	make_rid("11010519490100001", id);
	assert_int_equal(rid_check(id, NOW, norm, why, sizeof(why)), UKEY_ERR_INVAL);
	make_rid("11010517991231001", id);
	assert_int_equal(rid_check(id, NOW, norm, why, sizeof(why)), UKEY_ERR_INVAL);
	/* Today (Beijing) is fine, tomorrow is in the future. NOW is 08:00 on
	 * 2026-03-01 in Beijing. */
	make_rid("11010520260301001", id);
	assert_int_equal(rid_check(id, NOW, norm, why, sizeof(why)), 0);
	make_rid("11010520260302001", id);
	assert_int_equal(rid_check(id, NOW, norm, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "birth date (characters 7-14) is in the future (GB 11643)");
	/* At 23:00 UTC on 2026-03-01 it is already 2026-03-02 in Beijing. */
	assert_int_equal(rid_check(id, NOW + 23 * 3600, norm, why, sizeof(why)), 0);
}

static void
test_rid_errors(void **state)
{
	char norm[19], why[128];

	(void)state;
	assert_int_equal(rid_check("530102199003070015", NOW, norm, why, sizeof(why)), UKEY_ERR_VERIFY);
	assert_string_equal(why, "check character should be 6, not 5 (GB 11643)");
	/* The normalized form is still given so that a reviewer can override. */
	assert_string_equal(norm, "530102199003070015");
	assert_int_equal(rid_check("11010519491231002x", NOW, NULL, why, sizeof(why)), 0);
	assert_int_equal(rid_check("110105194912310021", NOW, norm, why, sizeof(why)), UKEY_ERR_VERIFY);
	assert_string_equal(why, "check character should be X, not 1 (GB 11643)");
	assert_int_equal(rid_check("53010219900307001", NOW, norm, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "must be 18 characters, not 17 (GB 11643)");
	assert_int_equal(rid_check("5301021990030700166", NOW, norm, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_int_equal(rid_check("53010219900307A016", NOW, norm, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "character 15 must be a digit (GB 11643)");
	assert_int_equal(rid_check("53010219900307001Y", NOW, norm, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "character 18 must be a digit or X (GB 11643)");
	assert_int_equal(rid_check(NULL, NOW, norm, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_int_equal(rid_check("", NOW, norm, why, sizeof(why)), UKEY_ERR_INVAL);
}

static void
random_rid(char out[19])
{
	char first[18], date[32];
	int i, y, m, d;
	static const int dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	first[0] = (char)('1' + rand() % 6);
	for (i = 1; i < 6; i++)
		first[i] = (char)('0' + rand() % 10);
	y = 1920 + rand() % 100;
	m = 1 + rand() % 12;
	d = 1 + rand() % dm[m - 1];
	snprintf(date, sizeof(date), "%04d%02d%02d", y, m, d);
	memcpy(first + 6, date, 8);
	for (i = 14; i < 17; i++)
		first[i] = (char)('0' + rand() % 10);
	first[17] = '\0';
	make_rid(first, out);
}

static void
test_rid_random_single_changes(void **state)
{
	char id[19], mut[19];
	int n, pos, c, rc;

	(void)state;
	srand(11643);
	for (n = 0; n < 3000; n++) {
		random_rid(id);
		assert_int_equal(rid_check(id, NOW, NULL, NULL, 0), 0);
		for (pos = 0; pos < 18; pos++) {
			for (c = 0x20; c < 0x7F; c++) {
				if (c == id[pos])
					continue;
				/* x is the same check character as X, not a change. */
				if (pos == 17 && id[17] == 'X' && c == 'x')
					continue;
				memcpy(mut, id, sizeof(mut));
				mut[pos] = (char)c;
				rc = rid_check(mut, NOW, NULL, NULL, 0);
				if (rc == 0)
					fail_msg("resident ID with character %d changed to '%c' passes",
					    pos + 1, c);
			}
		}
	}
}

static void
test_phone(void **state)
{
	char out[12], why[128];

	(void)state;
	assert_int_equal(phone_normalize("13608850398", out, why, sizeof(why)), 0);
	assert_string_equal(out, "13608850398");
	assert_int_equal(phone_normalize("+86 136-0885-0398", out, why, sizeof(why)), 0);
	assert_string_equal(out, "13608850398");
	assert_int_equal(phone_normalize("0086 19912345678", out, why, sizeof(why)), 0);
	assert_string_equal(out, "19912345678");
	assert_int_equal(phone_normalize("+8613299012880", out, why, sizeof(why)), 0);
	assert_string_equal(out, "13299012880");

	assert_int_equal(phone_normalize("12608850398", out, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(out, "");
	assert_string_equal(why, "must be a mainland mobile number: 11 digits 1[3-9]xxxxxxxxx, "
	    "optionally after +86 or 0086");
	/* The manual's own example recipient number has 10 digits. */
	assert_int_equal(phone_normalize("1588701840", out, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_int_equal(phone_normalize("136088503981", out, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_int_equal(phone_normalize("1360885039a", out, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_int_equal(phone_normalize("+85213608850398", out, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_int_equal(phone_normalize("0871-65385613", out, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_int_equal(phone_normalize("", out, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_int_equal(phone_normalize(NULL, out, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_int_equal(phone_normalize("1 3 6 0 8 8 5 0 3 9 8 1 3 6 0 8 8 5 0 3 9 8 1 3 6 0 8",
	    out, why, sizeof(why)), UKEY_ERR_INVAL);
}

/* Lengths and places count characters, not bytes: a code typed with a
 * Chinese input method in full-width forms is told so, with the ASCII
 * character meant, not that it has 54 characters. */
static void
test_full_width(void **state)
{
	char why[200], norm[19], out[12];

	(void)state;
	/* 91350100M000100Y43 in full-width forms: 18 characters, 54 bytes */
	assert_int_equal(uscc_check("９１３５０１００Ｍ０００１００Ｙ４３", why, sizeof(why)),
	    UKEY_ERR_INVAL);
	assert_string_equal(why, "character 1 '９' is full-width (U+FF19): only ASCII is allowed, "
	    "write '9' (GB 32100-2015)");
	assert_int_equal(uscc_check("91350100Ｍ000100Y43", why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "character 9 'Ｍ' is full-width (U+FF2D): only ASCII is allowed, "
	    "write 'M' (GB 32100-2015)");
	assert_int_equal(uscc_check("91350100M000100Y4三", why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "character 18 (U+4E09) is not in the code alphabet 0-9 A-Z "
	    "without I O S V Z (GB 32100-2015)");
	assert_int_equal(uscc_check("91350100M000100Y4", why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "must be 18 characters, not 17 (GB 32100-2015)");
	assert_int_equal(uscc_check("９１３５０１００Ｍ０００１００Ｙ４", why, sizeof(why)),
	    UKEY_ERR_INVAL);
	assert_string_equal(why, "must be 18 characters, not 17 (GB 32100-2015)");

	assert_int_equal(rid_check("１１０１０５１９４９１２３１００２Ｘ", NOW, norm, why, sizeof(why)),
	    UKEY_ERR_INVAL);
	assert_string_equal(why, "character 1 '１' is full-width (U+FF11): only ASCII is allowed, "
	    "write '1' (GB 11643)");
	assert_string_equal(norm, "");
	assert_int_equal(rid_check("11010519491231002Ｘ", NOW, norm, why, sizeof(why)),
	    UKEY_ERR_INVAL);
	assert_string_equal(why, "character 18 'Ｘ' is full-width (U+FF38): only ASCII is allowed, "
	    "write 'X' (GB 11643)");
	assert_int_equal(rid_check("1101051949123100２", NOW, norm, why, sizeof(why)),
	    UKEY_ERR_INVAL);
	assert_string_equal(why, "must be 18 characters, not 17 (GB 11643)");
	assert_int_equal(rid_check("110105194912310　2X", NOW, norm, why, sizeof(why)),
	    UKEY_ERR_INVAL);
	assert_string_equal(why, "character 16 is a full-width space (U+3000): only ASCII is "
	    "allowed (GB 11643)");

	/* 11 full-width digits are 33 bytes: not "too long" */
	assert_int_equal(phone_normalize("１３６０８８５０３９８", out, why, sizeof(why)),
	    UKEY_ERR_INVAL);
	assert_string_equal(why, "character 1 '１' is full-width (U+FF11): only ASCII is allowed, "
	    "write '1'");
	assert_string_equal(out, "");
	assert_int_equal(phone_normalize("+86 136０8850398", out, why, sizeof(why)),
	    UKEY_ERR_INVAL);
	assert_string_equal(why, "character 8 '０' is full-width (U+FF10): only ASCII is allowed, "
	    "write '0'");
	assert_int_equal(id_ascii_check("0871-6538５613", why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "character 10 '５' is full-width (U+FF15): only ASCII is allowed, "
	    "write '5'");
	assert_int_equal(id_ascii_check("a\xff", why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "character 2 is not an ASCII character");
	assert_int_equal(id_ascii_check("0871-65385613", why, sizeof(why)), 0);
	assert_int_equal(id_ascii_check(NULL, why, sizeof(why)), 0);
}

static void
test_email(void **state)
{
	static const char *const bad[] = {
		"", "zhang", "zhang@", "@example.cn", "zhang@@example.cn", "zhang@example",
		"zhang@example..cn", "zhang@-example.cn", "zhang@example-.cn", ".zhang@example.cn",
		"zhang.@example.cn", "zh..ang@example.cn", "zhang san@example.cn", "\"zs\"@example.cn",
		"张三@example.cn", "zhang@例子.cn", "zhang@[192.0.2.1]", "a,b@example.cn",
		"zhang@exa_mple.cn", "zhang@example.cn.",
	};
	char out[EMAIL_MAX + 1], why[160], longer[EMAIL_MAX + 8];
	size_t i;

	(void)state;
	assert_int_equal(email_normalize("zhang.san@example.cn", out, sizeof(out), why,
	    sizeof(why)), 0);
	assert_string_equal(out, "zhang.san@example.cn");
	/* the domain is case-insensitive and stored in lower case; the local
	 * part is kept as given */
	assert_int_equal(email_normalize("Zhang.San+ca@Mail.Example.CN", out, sizeof(out), why,
	    sizeof(why)), 0);
	assert_string_equal(out, "Zhang.San+ca@mail.example.cn");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (email_normalize(bad[i], out, sizeof(out), why, sizeof(why)) != UKEY_ERR_INVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_string_equal(out, "");
		/* the message never repeats the address */
		if (bad[i][0] != '\0')
			assert_null(strstr(why, bad[i]));
	}
	assert_int_equal(email_normalize(NULL, out, sizeof(out), why, sizeof(why)), UKEY_ERR_INVAL);
	assert_int_equal(email_normalize("zhang@example", out, sizeof(out), why, sizeof(why)),
	    UKEY_ERR_INVAL);
	assert_string_equal(why, "the domain after '@' must have at least two labels (example.cn)");
	/* 65 characters before '@' */
	memset(longer, 'a', 65);
	strcpy(longer + 65, "@example.cn");
	assert_int_equal(email_normalize(longer, out, sizeof(out), why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "the part before '@' must be 1 to 64 characters");
	/* 255 characters in all */
	memset(longer, 'a', sizeof(longer));
	memcpy(longer, "a@", 2);
	memcpy(longer + 255 - 3, ".cn", 4);
	for (i = 2; i < 252; i += 60)
		longer[i] = '.';
	assert_int_equal(email_normalize(longer, out, sizeof(out), why, sizeof(why)), UKEY_ERR_INVAL);
	assert_string_equal(why, "must be an e-mail address of at most 254 characters");
}

static void
test_mask(void **state)
{
	char out[32];

	(void)state;
	id_mask("530102199003070016", out, sizeof(out));
	assert_string_equal(out, "5301**********0016");
	id_mask("91530100MA6K5U5X7R", out, sizeof(out));
	assert_string_equal(out, "9153**********5X7R");
	id_mask("13608850398", out, sizeof(out));
	assert_string_equal(out, "13*******98");
	id_mask("12345", out, sizeof(out));
	assert_string_equal(out, "12*45");
	id_mask("1234", out, sizeof(out));
	assert_string_equal(out, "****");
	id_mask("", out, sizeof(out));
	assert_string_equal(out, "");
	id_mask(NULL, out, sizeof(out));
	assert_string_equal(out, "");
	id_mask("530102199003070016", out, 6);
	assert_string_equal(out, "5301*");
	id_mask("530102199003070016", out, 0);	/* must not write */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uscc_vectors),
		cmocka_unit_test(test_uscc_wild_checksum_failure),
		cmocka_unit_test(test_uscc_format_errors),
		cmocka_unit_test(test_uscc_random_single_changes),
		cmocka_unit_test(test_rid_vectors),
		cmocka_unit_test(test_rid_dates),
		cmocka_unit_test(test_rid_errors),
		cmocka_unit_test(test_full_width),
		cmocka_unit_test(test_rid_random_single_changes),
		cmocka_unit_test(test_phone),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_mask),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
