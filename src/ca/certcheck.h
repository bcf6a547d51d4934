/* Certificate checks the station runs on a CA's reply before it touches a
 * token and again after reading the certificate back, plus the small
 * formatting helpers (serial, times, subject) used wherever certificates
 * are recorded or shown. */
#ifndef UKEY_CERTCHECK_H
#define UKEY_CERTCHECK_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

/* Seconds a certificate's notBefore may lie ahead of our clock. */
#define CERTCHECK_SKEW 300

/* Returns 0 if cert is the one that was asked for: its public key equals
 * token_pub; it verifies with ca_cert as the only trust anchor (purpose
 * any, at time now; ca_cert must be a CA certificate, and may be an
 * intermediate); its subject equals expected_subject; notBefore <=
 * now + 300 s and notAfter - notBefore is `years` calendar years (within a
 * day); its serial is positive and at least 8 bytes long; when it claims
 * id-kp-emailProtection it names an e-mail address (rfc822Name). Otherwise
 * UKEY_ERR_VERIFY with why naming the failed check (why may be NULL), or
 * UKEY_ERR_NOMEM / UKEY_ERR_INVAL for missing arguments. All borrowed. */
int certcheck_issued(const X509 *cert, const X509 *ca_cert, const EVP_PKEY *token_pub,
		     const X509_NAME *expected_subject, int years, time_t now,
		     char *why, size_t whylen);

/* certcheck_issued() for a validity of years calendar years and extra_days
 * days: a renewal whose profile carries the old certificate's remaining
 * days over (cert_carry_days). */
int certcheck_issued_days(const X509 *cert, const X509 *ca_cert, const EVP_PKEY *token_pub,
			  const X509_NAME *expected_subject, int years, int extra_days,
			  time_t now, char *why, size_t whylen);

/* The whole days old is still valid after `from`, at most cap (0 when it has
 * expired, or cap is 0): what a renewal carries over. */
int cert_carry_days(const X509 *old, time_t from, int cap);

/* certcheck_issued() for a CA that chooses the validity itself
 * (cmp.validity = ca): in place of the order's years, notAfter must lie
 * after notBefore and after now, and at most max_years calendar years (and
 * a day) after notBefore; notBefore may still be at most 300 s ahead. */
int certcheck_issued_ca_validity(const X509 *cert, const X509 *ca_cert,
				 const EVP_PKEY *token_pub, const X509_NAME *expected_subject,
				 int max_years, time_t now, char *why, size_t whylen);

/* Adds `years` calendar years to t (UTC); 29 February becomes 28 February
 * in a year that is not a leap year. Returns 0 or UKEY_ERR_INVAL. */
int cert_time_add_years(time_t t, int years, time_t *out);

/* Converts an ASN1_TIME to time_t (UTC). Returns 0 or UKEY_ERR_INVAL. */
int cert_time_to_time_t(const ASN1_TIME *t, time_t *out);

/* Writes cert's serial as upper-case hex without leading zero bytes (a
 * negative serial gets a leading '-'). Returns 0, UKEY_ERR_INVAL if outlen
 * is too small, or UKEY_ERR_NOMEM. 2 * 20 + 2 bytes always suffice for
 * RFC 5280 serials. */
int cert_serial_hex(const X509 *cert, char *out, size_t outlen);

/* Formats t as "2026-11-21T08:00:00Z". Returns 0 or UKEY_ERR_INVAL.
 * outlen must be at least 21. */
int cert_time_iso(const ASN1_TIME *t, char *out, size_t outlen);

/* Formats n as an RFC 2253 one-line string with UTF-8 kept as is (not
 * escaped). Returns 0 and a malloc'd string in *out, or UKEY_ERR_NOMEM. */
int cert_subject_text(const X509_NAME *n, char **out);

#endif
