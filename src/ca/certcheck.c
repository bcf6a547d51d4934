/* Checks on an issued certificate (right key, right CA, right subject,
 * right validity, a serial with entropy) and the formatting helpers used to
 * record certificates: serial hex, ISO-8601 times, RFC 2253 subjects. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "ca/certcheck.h"
#include "common/caldate.h"
#include "common/err.h"
#include "common/log.h"

#define DAY 86400

static int
fail(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return UKEY_ERR_VERIFY;
}

int
cert_time_add_years(time_t t, int years, time_t *out)
{
	struct tm tm;

	if (years < 0 || years > 1000 || gmtime_r(&t, &tm) == NULL)
		return UKEY_ERR_INVAL;
	tm.tm_year += years;
	if (tm.tm_mon == 1 && tm.tm_mday == 29 && !date_valid(tm.tm_year + 1900, 2, 29))
		tm.tm_mday = 28;
	tm.tm_isdst = 0;
	*out = timegm(&tm);
	return *out == (time_t)-1 ? UKEY_ERR_INVAL : 0;
}

int
cert_time_to_time_t(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return UKEY_ERR_INVAL;
	*out = timegm(&tm);
	return 0;
}

int
cert_time_iso(const ASN1_TIME *t, char *out, size_t outlen)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return UKEY_ERR_INVAL;
	if (strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return UKEY_ERR_INVAL;
	return 0;
}

int
cert_serial_hex(const X509 *cert, char *out, size_t outlen)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(cert);
	BIGNUM *bn = NULL;
	char *hex = NULL;
	int rc;

	if (sn == NULL || (bn = ASN1_INTEGER_to_BN(sn, NULL)) == NULL ||
	    (hex = BN_bn2hex(bn)) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	/* BN_bn2hex writes upper-case whole bytes without leading zero bytes. */
	if (strlen(hex) + 1 > outlen) {
		rc = UKEY_ERR_INVAL;
		goto out;
	}
	memcpy(out, hex, strlen(hex) + 1);
	rc = 0;
 out:
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

int
cert_subject_text(const X509_NAME *n, char **out)
{
	BIO *bio = NULL;
	char *data, *s = NULL;
	long len;
	int rc;

	*out = NULL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	/* RFC 2253 escaping, but UTF-8 bytes stay readable instead of \XX. */
	if (X509_NAME_print_ex(bio, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	len = BIO_get_mem_data(bio, &data);
	if (len < 0 || (s = malloc((size_t)len + 1)) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	memcpy(s, data, (size_t)len);
	s[len] = '\0';
	*out = s;
	rc = 0;
 out:
	BIO_free(bio);
	return rc;
}

/* Verifies cert against ca_cert alone, at time `at`. */
static int
verify_chain(const X509 *cert, const X509 *ca_cert, time_t at, char *why, size_t whylen)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	int rc, err;

	/* An end-entity certificate must never act as the anchor, least of
	 * all for itself. */
	if (X509_check_ca((X509 *)ca_cert) == 0 || X509_cmp(cert, ca_cert) == 0) {
		rc = fail(why, whylen, "the CA certificate given is not a CA certificate");
		goto out;
	}
	if ((store = X509_STORE_new()) == NULL || (ctx = X509_STORE_CTX_new()) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	/* The store only up-refs the anchor; nothing writes through these. */
	if (X509_STORE_add_cert(store, (X509 *)ca_cert) != 1 ||
	    X509_STORE_CTX_init(ctx, store, (X509 *)cert, NULL) != 1) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	/* The CA given is the trust anchor even when it is an intermediate
	 * (not self-signed); partial chains stay off for a root so that
	 * nothing but the root itself can anchor. */
	if (X509_self_signed((X509 *)ca_cert, 0) != 1)
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY);
	X509_STORE_CTX_set_time(ctx, 0, at);
	if (X509_verify_cert(ctx) != 1) {
		err = X509_STORE_CTX_get_error(ctx);
		rc = fail(why, whylen, "certificate does not verify against the CA certificate: %s",
			  X509_verify_cert_error_string(err));
		goto out;
	}
	rc = 0;
 out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

/* A certificate that claims e-mail protection names the address it
 * protects: id-kp-emailProtection needs an rfc822Name subjectAltName. */
static int
email_claim_ok(const X509 *cert, char *why, size_t whylen)
{
	GENERAL_NAMES *names;
	int i, has_email = 0, crit = -1;

	if (!(X509_get_extension_flags((X509 *)cert) & EXFLAG_XKUSAGE) ||
	    !(X509_get_extended_key_usage((X509 *)cert) & XKU_SMIME))
		return 0;
	names = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
	for (i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++)
		if (sk_GENERAL_NAME_value(names, i)->type == GEN_EMAIL)
			has_email = 1;
	GENERAL_NAMES_free(names);
	ERR_clear_error();
	if (!has_email)
		return fail(why, whylen, "certificate claims emailProtection but names no e-mail "
			    "address (rfc822Name)");
	return 0;
}

/* The validity rule: exactly years calendar years and extra_days days from
 * notBefore (a day of slack either way), or, when years is 0, any end after
 * now and at most max_years calendar years (and a day) after notBefore. */
static int
validity_ok(time_t nb, time_t na, int years, int extra_days, int max_years, time_t now,
	    char *why, size_t whylen)
{
	time_t want_na;

	if (years == 0) {
		if (na <= nb || na <= now)
			return fail(why, whylen, "certificate notAfter is not after notBefore and now");
		if (cert_time_add_years(nb, max_years, &want_na) != 0)
			return fail(why, whylen, "validity of %d years cannot be computed", max_years);
		if (na > want_na + DAY)
			return fail(why, whylen, "certificate validity is %.1f days, more than the "
				    "profile's %d years", (double)(na - nb) / DAY, max_years);
		return 0;
	}
	if (cert_time_add_years(nb, years, &want_na) != 0)
		return fail(why, whylen, "validity of %d years cannot be computed", years);
	want_na += (time_t)extra_days * DAY;
	if (na < want_na - DAY || na > want_na + DAY)
		return fail(why, whylen, "certificate validity is %.1f days, expected %d calendar "
			    "year%s%s%.0d%s (%lld days)", (double)(na - nb) / DAY, years,
			    years == 1 ? "" : "s", extra_days > 0 ? " and " : "", extra_days,
			    extra_days > 0 ? " days carried over" : "",
			    (long long)((want_na - nb) / DAY));
	return 0;
}

static int
check_issued(const X509 *cert, const X509 *ca_cert, const EVP_PKEY *token_pub,
	     const X509_NAME *expected_subject, int years, int extra_days, int max_years,
	     time_t now, char *why, size_t whylen);

int
certcheck_issued(const X509 *cert, const X509 *ca_cert, const EVP_PKEY *token_pub,
		 const X509_NAME *expected_subject, int years, time_t now,
		 char *why, size_t whylen)
{
	return certcheck_issued_days(cert, ca_cert, token_pub, expected_subject, years, 0, now,
				     why, whylen);
}

int
certcheck_issued_days(const X509 *cert, const X509 *ca_cert, const EVP_PKEY *token_pub,
		      const X509_NAME *expected_subject, int years, int extra_days, time_t now,
		      char *why, size_t whylen)
{
	if (years < 1 || extra_days < 0) {
		if (why != NULL && whylen > 0)
			snprintf(why, whylen, "certificate check called without a validity");
		return UKEY_ERR_INVAL;
	}
	return check_issued(cert, ca_cert, token_pub, expected_subject, years, extra_days, 0,
			    now, why, whylen);
}

int
cert_carry_days(const X509 *old, time_t from, int cap)
{
	time_t na;
	long long days;

	if (old == NULL || cap <= 0 || cert_time_to_time_t(X509_get0_notAfter(old), &na) != 0 ||
	    na <= from)
		return 0;
	days = (long long)(na - from) / DAY;
	return days > cap ? cap : (int)days;
}

int
certcheck_issued_ca_validity(const X509 *cert, const X509 *ca_cert, const EVP_PKEY *token_pub,
			     const X509_NAME *expected_subject, int max_years, time_t now,
			     char *why, size_t whylen)
{
	if (max_years < 1) {
		if (why != NULL && whylen > 0)
			snprintf(why, whylen, "certificate check called without a maximum validity");
		return UKEY_ERR_INVAL;
	}
	return check_issued(cert, ca_cert, token_pub, expected_subject, 0, 0, max_years, now,
			    why, whylen);
}

static int
check_issued(const X509 *cert, const X509 *ca_cert, const EVP_PKEY *token_pub,
	     const X509_NAME *expected_subject, int years, int extra_days, int max_years,
	     time_t now, char *why, size_t whylen)
{
	const EVP_PKEY *pub;
	const ASN1_INTEGER *sn;
	time_t nb, na, at;
	char *got = NULL, *want = NULL;
	int rc;

	if (cert == NULL || ca_cert == NULL || token_pub == NULL || expected_subject == NULL) {
		rc = UKEY_ERR_INVAL;
		if (why != NULL && whylen > 0)
			snprintf(why, whylen, "certificate check called without a certificate, CA, key, "
				 "subject or validity");
		goto out;
	}
	if ((pub = X509_get0_pubkey(cert)) == NULL) {
		rc = fail(why, whylen, "certificate public key cannot be read");
		goto out;
	}
	if (EVP_PKEY_eq(pub, token_pub) != 1) {
		rc = fail(why, whylen, "certificate public key does not match the token's key");
		goto out;
	}
	if (cert_time_to_time_t(X509_get0_notBefore(cert), &nb) != 0 ||
	    cert_time_to_time_t(X509_get0_notAfter(cert), &na) != 0) {
		rc = fail(why, whylen, "certificate validity times cannot be read");
		goto out;
	}
	if (nb > now + CERTCHECK_SKEW) {
		rc = fail(why, whylen, "certificate notBefore lies %lld s in the future (at most %d)",
			  (long long)(nb - now), CERTCHECK_SKEW);
		goto out;
	}
	/* A CA clock a little ahead of ours is tolerated above; verify at a
	 * moment the certificate is meant to be valid. */
	at = nb > now ? nb : now;
	if ((rc = verify_chain(cert, ca_cert, at, why, whylen)) != 0)
		goto out;
	if (X509_NAME_cmp(X509_get_subject_name(cert), expected_subject) != 0) {
		if (cert_subject_text(X509_get_subject_name(cert), &got) != 0 ||
		    cert_subject_text(expected_subject, &want) != 0) {
			rc = UKEY_ERR_NOMEM;
			goto out;
		}
		rc = fail(why, whylen, "certificate subject \"%s\" differs from the expected \"%s\"",
			  got, want);
		goto out;
	}
	if ((rc = email_claim_ok(cert, why, whylen)) != 0)
		goto out;
	if ((rc = validity_ok(nb, na, years, extra_days, max_years, now, why, whylen)) != 0)
		goto out;
	sn = X509_get0_serialNumber(cert);
	if (sn == NULL || ASN1_STRING_type(sn) == V_ASN1_NEG_INTEGER) {
		rc = fail(why, whylen, "certificate serial number is negative");
		goto out;
	}
	if (ASN1_STRING_length(sn) < 8) {
		rc = fail(why, whylen, "certificate serial number has %d bytes, at least 8 "
			  "(64 bits of entropy)", ASN1_STRING_length(sn));
		goto out;
	}
	rc = 0;
 out:
	free(got);
	free(want);
	return rc;
}
