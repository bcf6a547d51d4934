/* Tests for src/common/spki.c: every key it writes is the bytes i2d_PUBKEY
 * writes, every SubjectPublicKeyInfo it reads is the key d2i_PUBKEY reads
 * (EC on named curves, compressed points, explicit parameters, RSA, Ed25519),
 * what does not parse or is not on its curve is refused, and a request or
 * certificate given a key through it encodes the key as OpenSSL's setters do. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "common/err.h"
#include "common/spki.h"

static EVP_PKEY *
ec_key(const char *curve)
{
	EVP_PKEY *k = EVP_EC_gen(curve);

	assert_non_null(k);
	return k;
}

/* The same key, read back from OpenSSL's encoding after the key was told to
 * write itself in another form (point compression, explicit parameters). */
static EVP_PKEY *
ec_key_as(const char *curve, const char *param, const char *value)
{
	EVP_PKEY *k = ec_key(curve), *back;
	unsigned char *der = NULL;
	const unsigned char *p;
	int n;

	assert_int_equal(EVP_PKEY_set_utf8_string_param(k, param, value), 1);
	assert_true((n = i2d_PUBKEY(k, &der)) > 0);
	p = der;
	assert_non_null(back = d2i_PUBKEY(NULL, &p, n));
	OPENSSL_free(der);
	EVP_PKEY_free(k);
	return back;
}

/* spki_encode gives i2d_PUBKEY's bytes, spki_decode reads them back into the
 * same key, and OpenSSL's error queue stays empty. */
static void
same_as_openssl(EVP_PKEY *k)
{
	unsigned char *want = NULL;
	uint8_t *got = NULL, *again = NULL;
	size_t len = 0, len2 = 0;
	EVP_PKEY *back;
	int n;

	ERR_clear_error();
	assert_true((n = i2d_PUBKEY(k, &want)) > 0);
	assert_int_equal(spki_encode(k, &got, &len), 0);
	assert_int_equal(len, (size_t)n);
	assert_memory_equal(got, want, len);
	assert_non_null(back = spki_decode(got, len));
	assert_int_equal(EVP_PKEY_eq(back, k), 1);
	assert_int_equal(spki_encode(back, &again, &len2), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(again, want, len);
	assert_int_equal(ERR_peek_error(), 0);
	EVP_PKEY_free(back);
	OPENSSL_free(want);
	OPENSSL_free(got);
	OPENSSL_free(again);
	EVP_PKEY_free(k);
}

static void
test_named_curves(void **state)
{
	(void)state;
	same_as_openssl(ec_key("P-256"));
	same_as_openssl(ec_key("P-384"));
	same_as_openssl(ec_key("P-521"));
	same_as_openssl(ec_key("secp256k1"));
}

static void
test_other_forms(void **state)
{
	(void)state;
	same_as_openssl(ec_key_as("P-256", OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
	    OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_COMPRESSED));
	same_as_openssl(ec_key_as("P-384", OSSL_PKEY_PARAM_EC_ENCODING,
	    OSSL_PKEY_EC_ENCODING_EXPLICIT));
}

static void
test_other_algorithms(void **state)
{
	EVP_PKEY *rsa = EVP_RSA_gen(2048), *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	(void)state;
	assert_non_null(rsa);
	assert_non_null(ed);
	same_as_openssl(rsa);
	same_as_openssl(ed);
}

static void
test_refused(void **state)
{
	EVP_PKEY *k = ec_key("P-256");
	uint8_t *der = NULL, *buf;
	size_t len = 0;

	(void)state;
	assert_int_equal(spki_encode(k, &der, &len), 0);
	assert_non_null(buf = malloc(len + 1));
	/* a byte more, a byte less, nothing */
	memcpy(buf, der, len);
	buf[len] = 0;
	assert_null(spki_decode(buf, len + 1));
	assert_null(spki_decode(buf, len - 1));
	assert_null(spki_decode(buf, 0));
	assert_null(spki_decode(NULL, len));
	/* the point's last byte changed: no longer on the curve */
	buf[len - 1] ^= 0x01;
	assert_null(spki_decode(buf, len));
	/* not a SubjectPublicKeyInfo at all */
	memset(buf, 0x30, len);
	assert_null(spki_decode(buf, len));
	/* refusals leave nothing on OpenSSL's error queue */
	assert_int_equal(ERR_peek_error(), 0);
	free(buf);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

/* A request's and a certificate's to-be-signed part, encoded after the key
 * was set through spki and through OpenSSL. */
static void
setters_as_openssl(EVP_PKEY *k)
{
	X509_REQ *r1 = X509_REQ_new(), *r2 = X509_REQ_new();
	X509 *c1 = X509_new(), *c2 = X509_new();
	unsigned char *a = NULL, *b = NULL;
	int na, nb;

	assert_true(r1 && r2 && c1 && c2);
	assert_int_equal(spki_req_set(r1, k), 1);
	assert_int_equal(X509_REQ_set_pubkey(r2, k), 1);
	assert_true((na = i2d_re_X509_REQ_tbs(r1, &a)) > 0);
	assert_true((nb = i2d_re_X509_REQ_tbs(r2, &b)) > 0);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, (size_t)na);
	OPENSSL_free(a);
	OPENSSL_free(b);
	a = b = NULL;
	/* a certificate's other fields are not there: its key's encoding alone */
	assert_int_equal(spki_cert_set(c1, k), 1);
	assert_int_equal(X509_set_pubkey(c2, k), 1);
	assert_true((na = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(c1), &a)) > 0);
	assert_true((nb = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(c2), &b)) > 0);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, (size_t)na);
	assert_int_equal(ERR_peek_error(), 0);
	OPENSSL_free(a);
	OPENSSL_free(b);
	X509_REQ_free(r1);
	X509_REQ_free(r2);
	X509_free(c1);
	X509_free(c2);
	EVP_PKEY_free(k);
}

static void
test_setters(void **state)
{
	(void)state;
	setters_as_openssl(ec_key("P-256"));
	setters_as_openssl(ec_key("P-384"));
	setters_as_openssl(ec_key_as("P-256", OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
	    OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_COMPRESSED));
	setters_as_openssl(EVP_RSA_gen(2048));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_named_curves),
		cmocka_unit_test(test_other_forms),
		cmocka_unit_test(test_other_algorithms),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_setters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
