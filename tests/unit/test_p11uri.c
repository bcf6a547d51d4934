/* Tests for p11uri_format: token and object URIs in RFC 7512 form, the
 * percent-encoding of values, empty and missing attributes, and refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/p11uri.h"

#define TOKEN_URI "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;" \
	"serial=c2e2114bcf84f5cd;token=%E4%BA%91%E5%8D%97%20CA"

static const struct p11uri softhsm = {
	.model = "SoftHSM v2", .manufacturer = "SoftHSM project",
	.serial = "c2e2114bcf84f5cd", .token = "云南 CA",
};

/* u's URI must be want. */
static void
expect_uri(const struct p11uri *u, const char *want)
{
	char *s;

	assert_int_equal(p11uri_format(u, &s), 0);
	assert_string_equal(s, want);
	free(s);
}

static void
test_token(void **state)
{
	struct p11uri u = softhsm;

	(void)state;
	expect_uri(&u, TOKEN_URI);
	/* object fields are left out of a token's URI */
	u.id = (const uint8_t *)"\x01";
	u.idlen = 1;
	u.object = "key";
	expect_uri(&u, TOKEN_URI);
	/* blank fields stay in, empty */
	u = (struct p11uri){ .serial = "1" };
	expect_uri(&u, "pkcs11:model=;manufacturer=;serial=1;token=");
	/* the delimiters of the URI and of RFC 3986 are encoded */
	u.token = "a;b=c/d?e#f%g&h~i-j.k_l";
	expect_uri(&u, "pkcs11:model=;manufacturer=;serial=1;"
	    "token=a%3Bb%3Dc%2Fd%3Fe%23f%25g%26h%7Ei-j.k_l");
}

static void
test_object(void **state)
{
	struct p11uri u = softhsm;

	(void)state;
	u.id = (const uint8_t *)"\xA1\xB2";
	u.idlen = 2;
	u.object = "signing key";
	u.type = "private";
	expect_uri(&u, TOKEN_URI ";id=%A1%B2;object=signing%20key;type=private");
	/* the id is encoded whole, letters too */
	u.id = (const uint8_t *)"Ab";
	u.object = NULL;
	u.type = "cert";
	expect_uri(&u, TOKEN_URI ";id=%41%62;type=cert");
	/* an empty id or label is written empty; a missing one is left out */
	u.idlen = 0;
	u.object = "";
	u.type = "public";
	expect_uri(&u, TOKEN_URI ";id=;object=;type=public");
	u.id = NULL;
	u.object = NULL;
	u.type = "secret-key";
	expect_uri(&u, TOKEN_URI ";type=secret-key");
	u.type = "data";
	expect_uri(&u, TOKEN_URI ";type=data");
}

static void
test_refused(void **state)
{
	struct p11uri u = softhsm;
	char *s = (char *)"untouched";

	(void)state;
	u.type = "private-key";
	assert_int_equal(p11uri_format(&u, &s), UKEY_ERR_INVAL);
	assert_null(s);
	u = softhsm;
	u.model = "0123456789abcdefX";		/* 17 bytes: the field holds 16 */
	assert_int_equal(p11uri_format(&u, &s), UKEY_ERR_INVAL);
	assert_null(s);
	u.model = "0123456789abcdef";
	assert_int_equal(p11uri_format(&u, &s), 0);
	free(s);
	u.token = "0123456789abcdef0123456789abcdefX";	/* 33 bytes */
	assert_int_equal(p11uri_format(&u, &s), UKEY_ERR_INVAL);
	assert_null(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_object),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
