/* Building and signing an X.509 v2 CRL from a CA's revoked list: shared by
 * the backends that keep their own list (the embedded CA). Only src/ca/
 * files include this. */
#ifndef UKEY_CA_CRL_H
#define UKEY_CA_CRL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* One revoked certificate: borrowed strings as the CA's list keeps them. */
struct crl_entry {
	const char *serial_hex;		/* the serial, hex */
	const char *revoked_at;		/* ISO-8601 UTC, "2026-11-21T08:20:00Z" */
	const char *reason;		/* RFC 5280 reason name, NULL: unspecified */
};

/* The RFC 5280 CRLReason code of a reason name (5.3.1), or -1 for a name
 * that is not one (the embedded CA's revoke accepts these names). */
int crl_reason_code(const char *name);

/* Builds a v2 CRL issued by cacert, signed with key and md: thisUpdate
 * this_update, nextUpdate next_update, the CRL number extension `number`,
 * the authority key identifier of cacert, and one entry per revoked
 * certificate with its revocation date and, unless unspecified (RFC 5280
 * 5.3.1: absent rather than unspecified), a reasonCode entry extension.
 * Returns 0 and *out (X509_CRL_free), UKEY_ERR_INVAL for an entry that does
 * not parse, UKEY_ERR_CRYPTO or UKEY_ERR_NOMEM. */
int crl_build(const X509 *cacert, EVP_PKEY *key, const EVP_MD *md, const struct crl_entry *e,
    size_t n, int64_t number, time_t this_update, time_t next_update, X509_CRL **out);

#endif
