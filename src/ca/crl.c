/* X.509 v2 CRLs (RFC 5280 section 5) from a CA's revoked list. */
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "ca/crl.h"
#include "common/err.h"
#include "common/keyfile.h"
#include "common/log.h"

static const struct {
	const char *name;
	int code;
} reasons[] = {
	{ "unspecified", CRL_REASON_UNSPECIFIED },
	{ "keyCompromise", CRL_REASON_KEY_COMPROMISE },
	{ "affiliationChanged", CRL_REASON_AFFILIATION_CHANGED },
	{ "superseded", CRL_REASON_SUPERSEDED },
	{ "cessationOfOperation", CRL_REASON_CESSATION_OF_OPERATION },
	{ "certificateHold", CRL_REASON_CERTIFICATE_HOLD },
	{ "privilegeWithdrawn", CRL_REASON_PRIVILEGE_WITHDRAWN },
};

int
crl_reason_code(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcmp(reasons[i].name, name) == 0)
			return reasons[i].code;
	return -1;
}

/* "2026-11-21T08:20:00Z" to a time_t, or -1. */
static time_t
iso_to_time(const char *iso)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (iso == NULL || (end = strptime(iso, "%Y-%m-%dT%H:%M:%SZ", &tm)) == NULL || *end != '\0')
		return (time_t)-1;
	return timegm(&tm);
}

/* One CRL entry: serial, revocation date, reason code (unless unspecified). */
static int
add_entry(X509_CRL *crl, const struct crl_entry *e)
{
	X509_REVOKED *rv = NULL;
	ASN1_INTEGER *sn = NULL;
	ASN1_TIME *at = NULL;
	ASN1_ENUMERATED *code = NULL;
	BIGNUM *bn = NULL;
	time_t t = iso_to_time(e->revoked_at);
	int reason = e->reason != NULL ? crl_reason_code(e->reason) : CRL_REASON_UNSPECIFIED;
	int rc, len;

	len = e->serial_hex != NULL ? BN_hex2bn(&bn, e->serial_hex) : 0;
	if (t == (time_t)-1 || reason < 0 || len == 0 || (size_t)len != strlen(e->serial_hex)) {
		log_error("revoked serial %s: bad serial, time (%s) or reason (%s)",
		    e->serial_hex ? e->serial_hex : "none",
		    e->revoked_at ? e->revoked_at : "none", e->reason ? e->reason : "none");
		rc = UKEY_ERR_INVAL;
		goto out;
	}
	if ((rv = X509_REVOKED_new()) == NULL || (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    (at = ASN1_TIME_set(NULL, t)) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if (X509_REVOKED_set_serialNumber(rv, sn) != 1 ||
	    X509_REVOKED_set_revocationDate(rv, at) != 1) {
		log_openssl("X509_REVOKED_set_*");
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	if (reason != CRL_REASON_UNSPECIFIED &&
	    ((code = ASN1_ENUMERATED_new()) == NULL || ASN1_ENUMERATED_set(code, reason) != 1 ||
	    X509_REVOKED_add1_ext_i2d(rv, NID_crl_reason, code, 0, 0) != 1)) {
		log_openssl("CRL entry reasonCode");
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	if (X509_CRL_add0_revoked(crl, rv) != 1) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	rv = NULL;		/* crl owns it */
	rc = 0;
 out:
	ASN1_ENUMERATED_free(code);
	ASN1_TIME_free(at);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	X509_REVOKED_free(rv);
	return rc;
}

/* Version, issuer, thisUpdate, nextUpdate, CRL number, authority key id. */
static int
crl_frame(X509_CRL *crl, const X509 *cacert, int64_t number, time_t this_update,
    time_t next_update)
{
	ASN1_TIME *tu = NULL, *nu = NULL;
	ASN1_INTEGER *num = NULL;
	X509_EXTENSION *aki = NULL;
	X509V3_CTX ctx;
	int rc;

	if ((tu = ASN1_TIME_set(NULL, this_update)) == NULL ||
	    (nu = ASN1_TIME_set(NULL, next_update)) == NULL || (num = ASN1_INTEGER_new()) == NULL ||
	    ASN1_INTEGER_set_int64(num, number) != 1) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	/* OpenSSL 3.0's getters take non-const pointers; nothing is written */
	X509V3_set_ctx(&ctx, (X509 *)cacert, NULL, NULL, crl, 0);
	if (X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(cacert)) != 1 ||
	    X509_CRL_set1_lastUpdate(crl, tu) != 1 || X509_CRL_set1_nextUpdate(crl, nu) != 1 ||
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1 ||
	    (aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
	    "keyid:always")) == NULL || X509_CRL_add_ext(crl, aki, -1) != 1) {
		log_openssl("CRL fields");
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	rc = 0;
 out:
	X509_EXTENSION_free(aki);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	return rc;
}

int
crl_build(const X509 *cacert, EVP_PKEY *key, const EVP_MD *md, const struct crl_entry *e,
    size_t n, int64_t number, time_t this_update, time_t next_update, X509_CRL **out)
{
	X509_CRL *crl = NULL;
	size_t i;
	int rc;

	*out = NULL;
	if ((crl = X509_CRL_new()) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if ((rc = crl_frame(crl, cacert, number, this_update, next_update)) != 0)
		goto out;
	for (i = 0; i < n; i++)
		if ((rc = add_entry(crl, &e[i])) != 0)
			goto out;
	if (X509_CRL_sort(crl) != 1 || X509_CRL_sign(crl, key, md) <= 0) {
		log_openssl("X509_CRL_sign");
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	*out = crl;
	crl = NULL;
	rc = 0;
 out:
	X509_CRL_free(crl);
	return rc;
}
