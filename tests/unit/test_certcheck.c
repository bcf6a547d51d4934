/* Certificate checks: the accepted case and one refusal per rule (key, CA,
 * subject, validity, notBefore, serial), plus the formatting helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/certcheck.h"
#include "ca/certprof.h"
#include "common/err.h"

struct fixture {
	char dir[64];
	char cadir[96];
	struct ca *ca;
	EVP_PKEY *ca_key;	/* read from ca.key to forge certificates */
	struct certprof *prof;
	EVP_PKEY *key;
	X509_NAME *subject;
	X509 *cert;		/* issued for key, 1 year */
};

static const char *
lookup(void *ctx, const char *var)
{
	static const char *const kv[] = {
		"province", "云南省", "city", "昆明市", "org_name", "云南测试科技有限公司",
		"name", "李四", NULL,
	};
	size_t i;

	(void)ctx;
	for (i = 0; kv[i] != NULL; i += 2)
		if (strcmp(kv[i], var) == 0)
			return kv[i + 1];
	return NULL;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *src = getenv("UKEY_SOURCE_DIR");
	char path[1024], err[512];
	struct ca_request r;
	X509_REQ *csr;
	FILE *fp;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/ukey-certcheck-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->cadir, sizeof(f->cadir), "%s/ca", f->dir);
	assert_int_equal(ca_embedded_open(f->cadir, "Check", &f->ca), 0);
	snprintf(path, sizeof(path), "%s/ca.key", f->cadir);
	assert_non_null(fp = fopen(path, "r"));
	assert_non_null(f->ca_key = PEM_read_PrivateKey(fp, NULL, NULL, NULL));
	fclose(fp);
	snprintf(path, sizeof(path), "%s/cert-profiles/entrusted.conf", src ? src : UKEY_SOURCE_DIR);
	if (certprof_load(path, &f->prof, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(certprof_subject(f->prof, lookup, NULL, &f->subject, err, sizeof(err)), 0);
	assert_non_null(f->key = EVP_EC_gen("P-256"));
	assert_non_null(csr = X509_REQ_new());
	assert_int_equal(X509_REQ_set_pubkey(csr, f->key), 1);
	assert_true(X509_REQ_sign(csr, f->key, EVP_sha256()) > 0);
	r = (struct ca_request){ .csr = csr, .subject = f->subject, .profile = f->prof, .years = 1,
				 .request_key = "check-1" };
	assert_int_equal(ca_issue(f->ca, &r, &f->cert), 0);
	X509_REQ_free(csr);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	X509_free(f->cert);
	X509_NAME_free(f->subject);
	EVP_PKEY_free(f->key);
	EVP_PKEY_free(f->ca_key);
	certprof_free(f->prof);
	ca_free(f->ca);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static int
check(struct fixture *f, const X509 *cert, const X509 *anchor, const EVP_PKEY *key,
      const X509_NAME *subj, int years, char *why, size_t len)
{
	why[0] = '\0';
	return certcheck_issued(cert, anchor, key, subj, years, time(NULL), why, len);
}

static void
test_ok(void **state)
{
	struct fixture *f = *state;
	char why[256];

	if (check(f, f->cert, ca_cert(f->ca), f->key, f->subject, 1, why, sizeof(why)) != 0)
		fail_msg("refused: %s", why);
	/* A CA clock up to five minutes ahead is fine. */
	assert_int_equal(certcheck_issued(f->cert, ca_cert(f->ca), f->key, f->subject, 1,
					  time(NULL) - 250, why, sizeof(why)), 0);
}

static void
test_wrong_key(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *other = EVP_EC_gen("P-256");
	char why[256];

	assert_non_null(other);
	assert_int_equal(check(f, f->cert, ca_cert(f->ca), other, f->subject, 1, why, sizeof(why)),
			 UKEY_ERR_VERIFY);
	assert_string_equal(why, "certificate public key does not match the token's key");
	EVP_PKEY_free(other);
}

static void
test_wrong_ca(void **state)
{
	struct fixture *f = *state;
	struct ca *other = NULL;
	char dir[160], why[256];

	snprintf(dir, sizeof(dir), "%s/other-ca", f->dir);
	assert_int_equal(ca_embedded_open(dir, "Check", &other), 0);
	/* Same name, same subject, different key: the signature decides. */
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(ca_cert(other)),
				       X509_get_subject_name(ca_cert(f->ca))), 0);
	assert_int_equal(check(f, f->cert, ca_cert(other), f->key, f->subject, 1, why, sizeof(why)),
			 UKEY_ERR_VERIFY);
	assert_non_null(strstr(why, "does not verify against the CA certificate"));
	ca_free(other);
	/* Nor is a certificate its own anchor. */
	assert_int_equal(check(f, f->cert, f->cert, f->key, f->subject, 1, why, sizeof(why)),
			 UKEY_ERR_VERIFY);
	assert_string_equal(why, "the CA certificate given is not a CA certificate");
}

static void
test_wrong_subject(void **state)
{
	struct fixture *f = *state;
	X509_NAME *n = X509_NAME_dup(f->subject);
	char why[512];

	assert_int_equal(X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_UTF8,
						    (const unsigned char *)"财务部", -1, -1, 0), 1);
	assert_int_equal(check(f, f->cert, ca_cert(f->ca), f->key, n, 1, why, sizeof(why)),
			 UKEY_ERR_VERIFY);
	assert_non_null(strstr(why, "certificate subject \"CN=李四,"));
	assert_non_null(strstr(why, "differs from the expected \"OU=财务部,CN=李四,"));
	X509_NAME_free(n);
}

static void
test_wrong_validity(void **state)
{
	struct fixture *f = *state;
	char why[256];

	assert_int_equal(check(f, f->cert, ca_cert(f->ca), f->key, f->subject, 2, why, sizeof(why)),
			 UKEY_ERR_VERIFY);
	assert_non_null(strstr(why, "expected 2 calendar years"));
}

/* Copies f->cert, lets edit() change it, and re-signs it with the CA key. */
static X509 *
forge(struct fixture *f, void (*edit)(X509 *))
{
	X509 *c = X509_dup(f->cert);

	assert_non_null(c);
	edit(c);
	assert_true(X509_sign(c, f->ca_key, EVP_sha384()) > 0);
	return c;
}

static void
unchanged(X509 *c)
{
	(void)c;
}

static void
days_90(X509 *c)
{
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(c), 90L * 86400));
}

/* a calendar year is 365 or 366 days: within the check's day of slack */
static void
year_and_90_days(X509 *c)
{
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(c), (365L + 90) * 86400));
}

static void
years_3(X509 *c)
{
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(c), (3L * 365 + 2) * 86400));
}

static void
expired(X509 *c)
{
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(c), -10L * 86400));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(c), -86400));
}

static void
starts_tomorrow(X509 *c)
{
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(c), 86400));
}

/* A renewal carrying days over: one year and 90 days is right with 90
 * days carried, wrong without; the days left of an old certificate. */
static void
test_carry_days(void **state)
{
	struct fixture *f = *state;
	time_t now = time(NULL);
	X509 *c = forge(f, year_and_90_days);
	char why[256] = "";

	if (certcheck_issued_days(c, ca_cert(f->ca), f->key, f->subject, 1, 90, now, why,
				  sizeof(why)) != 0)
		fail_msg("a year and 90 days refused: %s", why);
	assert_int_equal(check(f, c, ca_cert(f->ca), f->key, f->subject, 1, why, sizeof(why)),
			 UKEY_ERR_VERIFY);
	assert_int_equal(certcheck_issued_days(f->cert, ca_cert(f->ca), f->key, f->subject, 1, 90,
					       now, why, sizeof(why)), UKEY_ERR_VERIFY);
	assert_non_null(strstr(why, "90 days carried over"));
	assert_int_equal(certcheck_issued_days(c, ca_cert(f->ca), f->key, f->subject, 1, -1, now,
					       why, sizeof(why)), UKEY_ERR_INVAL);
	/* f->cert has a year left: capped, whole days, none when expired or cap 0 */
	assert_int_equal(cert_carry_days(f->cert, now, 30), 30);
	assert_in_range(cert_carry_days(f->cert, now, 366), 364, 365);
	assert_int_equal(cert_carry_days(f->cert, now, 0), 0);
	assert_int_equal(cert_carry_days(f->cert, now + 400 * 86400, 30), 0);
	assert_int_equal(cert_carry_days(NULL, now, 30), 0);
	X509_free(c);
}

/* cmp.validity = ca: the CA's own validity within the profile's maximum. */
static void
test_ca_validity(void **state)
{
	struct fixture *f = *state;
	X509 *c;
	char why[256] = "";

	/* the order's one year, and 90 days, both within a 2-year maximum */
	assert_int_equal(certcheck_issued_ca_validity(f->cert, ca_cert(f->ca), f->key, f->subject,
						      2, time(NULL), why, sizeof(why)), 0);
	c = forge(f, days_90);
	if (certcheck_issued_ca_validity(c, ca_cert(f->ca), f->key, f->subject, 2, time(NULL), why,
					 sizeof(why)) != 0)
		fail_msg("90 days refused: %s", why);
	/* the same 90 days are not the order's year */
	assert_int_equal(check(f, c, ca_cert(f->ca), f->key, f->subject, 1, why, sizeof(why)),
			 UKEY_ERR_VERIFY);
	X509_free(c);
	c = forge(f, years_3);
	assert_int_equal(certcheck_issued_ca_validity(c, ca_cert(f->ca), f->key, f->subject, 2,
						      time(NULL), why, sizeof(why)), UKEY_ERR_VERIFY);
	assert_non_null(strstr(why, "more than the profile's 2 years"));
	X509_free(c);
	c = forge(f, expired);
	assert_int_equal(certcheck_issued_ca_validity(c, ca_cert(f->ca), f->key, f->subject, 2,
						      time(NULL), why, sizeof(why)), UKEY_ERR_VERIFY);
	X509_free(c);
	c = forge(f, starts_tomorrow);
	assert_int_equal(certcheck_issued_ca_validity(c, ca_cert(f->ca), f->key, f->subject, 2,
						      time(NULL), why, sizeof(why)), UKEY_ERR_VERIFY);
	assert_non_null(strstr(why, "in the future"));
	X509_free(c);
	/* the other checks still hold: another key is refused */
	assert_int_equal(certcheck_issued_ca_validity(f->cert, ca_cert(f->ca), f->ca_key,
						      f->subject, 2, time(NULL), why, sizeof(why)),
			 UKEY_ERR_VERIFY);
	assert_int_equal(certcheck_issued_ca_validity(f->cert, ca_cert(f->ca), f->key, f->subject,
						      0, time(NULL), why, sizeof(why)), UKEY_ERR_INVAL);
}

static void
short_serial(X509 *c)
{
	ASN1_INTEGER *sn = ASN1_INTEGER_new();

	assert_int_equal(ASN1_INTEGER_set(sn, 0x123456), 1);
	assert_int_equal(X509_set_serialNumber(c, sn), 1);
	ASN1_INTEGER_free(sn);
}

static void
negative_serial(X509 *c)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *sn;

	assert_true(BN_hex2bn(&bn, "-7FFFFFFFFFFFFFFFFF") > 0);
	assert_non_null(sn = BN_to_ASN1_INTEGER(bn, NULL));
	assert_int_equal(X509_set_serialNumber(c, sn), 1);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
}

static void
future_not_before(X509 *c)
{
	time_t t = time(NULL) + 3600;

	assert_non_null(X509_time_adj_ex(X509_getm_notBefore(c), 0, 0, &t));
}

static void
short_validity(X509 *c)
{
	time_t t = time(NULL) + 300 * 86400;

	assert_non_null(X509_time_adj_ex(X509_getm_notAfter(c), 0, 0, &t));
}

/* Replaces the extended key usage by clientAuth and emailProtection. */
static void
email_eku(X509 *c)
{
	X509_EXTENSION *ext;
	int idx = X509_get_ext_by_NID(c, NID_ext_key_usage, -1);

	if (idx >= 0)
		X509_EXTENSION_free(X509_delete_ext(c, idx));
	assert_non_null(ext = X509V3_EXT_conf_nid(NULL, NULL, NID_ext_key_usage,
	    "clientAuth,emailProtection"));
	assert_int_equal(X509_add_ext(c, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* emailProtection, and an e-mail name for it. */
static void
email_eku_and_san(X509 *c)
{
	X509_EXTENSION *ext;

	email_eku(c);
	assert_non_null(ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
	    "email:li.si@example.cn"));
	assert_int_equal(X509_add_ext(c, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

static void
test_forged_fields(void **state)
{
	struct fixture *f = *state;
	X509 *c;
	char why[256];

	/* The forging itself is sound: an unchanged copy passes. */
	c = forge(f, unchanged);
	assert_int_equal(check(f, c, ca_cert(f->ca), f->key, f->subject, 1, why, sizeof(why)), 0);
	X509_free(c);

	c = forge(f, short_serial);
	assert_int_equal(check(f, c, ca_cert(f->ca), f->key, f->subject, 1, why, sizeof(why)),
			 UKEY_ERR_VERIFY);
	assert_string_equal(why, "certificate serial number has 3 bytes, at least 8 (64 bits of entropy)");
	X509_free(c);

	c = forge(f, negative_serial);
	assert_int_equal(check(f, c, ca_cert(f->ca), f->key, f->subject, 1, why, sizeof(why)),
			 UKEY_ERR_VERIFY);
	assert_string_equal(why, "certificate serial number is negative");
	X509_free(c);

	c = forge(f, future_not_before);
	assert_int_equal(check(f, c, ca_cert(f->ca), f->key, f->subject, 1, why, sizeof(why)),
			 UKEY_ERR_VERIFY);
	assert_non_null(strstr(why, "notBefore lies"));
	X509_free(c);

	c = forge(f, short_validity);
	assert_int_equal(check(f, c, ca_cert(f->ca), f->key, f->subject, 1, why, sizeof(why)),
			 UKEY_ERR_VERIFY);
	assert_non_null(strstr(why, "expected 1 calendar year "));
	X509_free(c);

	/* e-mail protection without an e-mail address is refused; with one,
	 * accepted */
	c = forge(f, email_eku);
	assert_int_equal(check(f, c, ca_cert(f->ca), f->key, f->subject, 1, why, sizeof(why)),
			 UKEY_ERR_VERIFY);
	assert_string_equal(why, "certificate claims emailProtection but names no e-mail address "
			    "(rfc822Name)");
	X509_free(c);
	c = forge(f, email_eku_and_san);
	assert_int_equal(check(f, c, ca_cert(f->ca), f->key, f->subject, 1, why, sizeof(why)), 0);
	X509_free(c);
}

static void
test_tampered_signature(void **state)
{
	struct fixture *f = *state;
	unsigned char *der = NULL;
	const unsigned char *p;
	X509 *c;
	char why[256];
	int len;

	assert_true((len = i2d_X509(f->cert, &der)) > 0);
	der[len - 1] ^= 0x01;
	p = der;
	assert_non_null(c = d2i_X509(NULL, &p, len));
	assert_int_equal(check(f, c, ca_cert(f->ca), f->key, f->subject, 1, why, sizeof(why)),
			 UKEY_ERR_VERIFY);
	assert_non_null(strstr(why, "does not verify against the CA certificate"));
	X509_free(c);
	OPENSSL_free(der);
}

static void
test_bad_arguments(void **state)
{
	struct fixture *f = *state;
	char why[256];

	assert_int_equal(check(f, NULL, ca_cert(f->ca), f->key, f->subject, 1, why, sizeof(why)),
			 UKEY_ERR_INVAL);
	assert_int_equal(check(f, f->cert, ca_cert(f->ca), f->key, f->subject, 0, why, sizeof(why)),
			 UKEY_ERR_INVAL);
	/* why may be NULL. */
	assert_int_equal(certcheck_issued(f->cert, ca_cert(f->ca), f->key, f->subject, 3, time(NULL),
					  NULL, 0), UKEY_ERR_VERIFY);
}

static void
test_formatting(void **state)
{
	struct fixture *f = *state;
	ASN1_TIME *t;
	X509 *c;
	char buf[64], *s = NULL;
	time_t out;

	(void)f;
	assert_non_null(t = ASN1_TIME_set(NULL, 1795248000));	/* 2026-11-21T08:00:00Z */
	assert_int_equal(cert_time_iso(t, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2026-11-21T08:00:00Z");
	assert_int_equal(cert_time_iso(t, buf, 10), UKEY_ERR_INVAL);
	ASN1_TIME_free(t);

	assert_int_equal(cert_subject_text(f->subject, &s), 0);
	assert_string_equal(s, "CN=李四,O=云南测试科技有限公司,L=昆明市,ST=云南省,C=CN");
	free(s);

	c = forge(f, short_serial);
	assert_int_equal(cert_serial_hex(c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "123456");
	assert_int_equal(cert_serial_hex(c, buf, 6), UKEY_ERR_INVAL);
	X509_free(c);
	assert_int_equal(cert_serial_hex(f->cert, buf, sizeof(buf)), 0);
	assert_true(strlen(buf) >= 16 && strspn(buf, "0123456789ABCDEF") == strlen(buf));
	assert_false(buf[0] == '0' && buf[1] == '0');

	/* Calendar years: 29 February falls back to 28 February. */
	assert_int_equal(cert_time_add_years(1709164800, 1, &out), 0);	/* 2024-02-29 */
	assert_true(out == 1740700800);					/* 2025-02-28 */
	assert_int_equal(cert_time_add_years(1709164800, 4, &out), 0);
	assert_true(out == 1835395200);					/* 2028-02-29 */
	assert_int_equal(cert_time_add_years(1704067200, 1, &out), 0);	/* 2024-01-01 */
	assert_true(out == 1735689600);					/* 2025-01-01: 366 days */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_ca, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_subject, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_validity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ca_validity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered_signature, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_formatting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_carry_days, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
