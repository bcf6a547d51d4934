/* Building the certificates the embedded CA signs: its own self-signed
 * certificate, and an end-entity certificate from a request and its
 * profile (extensions: docs/ca.md, "Issuing"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca/certbuild.h"
#include "ca/certcheck.h"
#include "common/err.h"
#include "common/keyfile.h"
#include "common/log.h"
#include "common/spki.h"

#define CA_YEARS 20
#define SERIAL_BYTES 16

/* Draws a positive, non-zero serial of SERIAL_BYTES random bytes. */
int
certbuild_serial(BIGNUM **out)
{
	unsigned char buf[SERIAL_BYTES];
	size_t i;
	int rc;

	*out = NULL;
	do {
		if (RAND_bytes(buf, sizeof(buf)) != 1) {
			log_openssl("RAND_bytes");
			rc = UKEY_ERR_CRYPTO;
			goto out;
		}
		buf[0] &= 0x7f;		/* DER INTEGER: keep it positive */
		for (i = 0; i < sizeof(buf) && buf[i] == 0; i++)
			;
	} while (i == sizeof(buf));
	if ((*out = BN_bin2bn(buf, sizeof(buf), NULL)) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	rc = 0;
 out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

/* Signs cert with key and hands it to *out; on failure cert stays the
 * caller's. */
static int
sign_into(X509 *cert, EVP_PKEY *key, const EVP_MD *md, X509 **out)
{
	if (X509_sign(cert, key, md) <= 0) {
		log_openssl("X509_sign");
		return UKEY_ERR_CRYPTO;
	}
	*out = cert;
	return 0;
}

static int
add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int ok;

	if ((ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value)) == NULL) {
		log_openssl(OBJ_nid2sn(nid));
		return UKEY_ERR_CRYPTO;
	}
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : UKEY_ERR_NOMEM;
}

/* Sets version 3, serial, names and validity of `years` calendar years and
 * `days` days from now: what every certificate here has in common. */
static int
cert_frame(X509 *cert, const BIGNUM *serial, const X509_NAME *issuer, const X509_NAME *subject,
	   int years, int days)
{
	ASN1_INTEGER *sn = NULL;
	ASN1_TIME *nb = NULL, *na = NULL;
	time_t now = time(NULL), end;
	int rc;

	if ((rc = cert_time_add_years(now, years, &end)) != 0)
		goto out;
	end += (time_t)days * 86400;
	if ((sn = BN_to_ASN1_INTEGER(serial, NULL)) == NULL ||
	    (nb = ASN1_TIME_set(NULL, now)) == NULL || (na = ASN1_TIME_set(NULL, end)) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if (X509_set_version(cert, X509_VERSION_3) != 1 || X509_set_serialNumber(cert, sn) != 1 ||
	    X509_set_issuer_name(cert, issuer) != 1 || X509_set_subject_name(cert, subject) != 1 ||
	    X509_set1_notBefore(cert, nb) != 1 || X509_set1_notAfter(cert, na) != 1) {
		log_openssl("X509_set_*");
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	rc = 0;
 out:
	ASN1_INTEGER_free(sn);
	ASN1_TIME_free(nb);
	ASN1_TIME_free(na);
	return rc;
}

int
certbuild_ca(EVP_PKEY *key, const EVP_MD *md, const char *name, X509 **out)
{
	X509 *cert = NULL;
	X509_NAME *subj = NULL;
	BIGNUM *serial = NULL;
	X509V3_CTX ctx;
	char *cn = NULL;
	int rc;

	*out = NULL;
	if (asprintf(&cn, "%s Embedded CA", name) < 0) {
		cn = NULL;
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if ((cert = X509_new()) == NULL || (subj = X509_NAME_new()) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if (X509_NAME_add_entry_by_NID(subj, NID_countryName, MBSTRING_UTF8,
				       (const unsigned char *)"CN", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_UTF8,
				       (const unsigned char *)cn, -1, -1, 0) != 1) {
		log_openssl("X509_NAME_add_entry_by_NID");
		rc = UKEY_ERR_INVAL;
		goto out;
	}
	if ((rc = certbuild_serial(&serial)) != 0 ||
	    (rc = cert_frame(cert, serial, subj, subj, CA_YEARS, 0)) != 0)
		goto out;
	/* the CA's own certificate is asked for its key later: OpenSSL's setter,
	 * which keeps the key decoded with it */
	if (X509_set_pubkey(cert, key) != 1) {
		log_openssl("X509_set_pubkey");
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	if ((rc = add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0")) != 0 ||
	    (rc = add_ext(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign")) != 0 ||
	    (rc = add_ext(cert, &ctx, NID_subject_key_identifier, "hash")) != 0)
		goto out;
	if ((rc = sign_into(cert, key, md, out)) == 0)
		cert = NULL;
 out:
	BN_free(serial);
	X509_NAME_free(subj);
	X509_free(cert);
	free(cn);
	return rc;
}

/* Adds the GM/T 0015 identity extension: a PrintableString, non-critical. */
static int
add_gm_identity(X509 *cert, const char *oid, const char *value)
{
	ASN1_OBJECT *obj = NULL;
	ASN1_PRINTABLESTRING *ps = NULL;
	ASN1_OCTET_STRING *os = NULL;
	X509_EXTENSION *ext = NULL;
	unsigned char *der = NULL;
	int len, rc;

	if ((obj = OBJ_txt2obj(oid, 1)) == NULL || (ps = ASN1_PRINTABLESTRING_new()) == NULL ||
	    ASN1_STRING_set(ps, value, -1) != 1 || (len = i2d_ASN1_PRINTABLESTRING(ps, &der)) <= 0 ||
	    (os = ASN1_OCTET_STRING_new()) == NULL || ASN1_OCTET_STRING_set(os, der, len) != 1 ||
	    (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) == NULL ||
	    X509_add_ext(cert, ext, -1) != 1) {
		log_openssl("GM/T identity extension");
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	rc = 0;
 out:
	OPENSSL_free(der);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_PRINTABLESTRING_free(ps);
	ASN1_OBJECT_free(obj);
	return rc;
}

/* Adds a non-critical subjectAltName holding one rfc822Name. */
static int
add_email_san(X509 *cert, const char *email)
{
	GENERAL_NAMES *names = NULL;
	GENERAL_NAME *gn = NULL;
	ASN1_IA5STRING *ia5 = NULL;
	int rc;

	if ((names = GENERAL_NAMES_new()) == NULL || (gn = GENERAL_NAME_new()) == NULL ||
	    (ia5 = ASN1_IA5STRING_new()) == NULL || ASN1_STRING_set(ia5, email, -1) != 1) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	GENERAL_NAME_set0_value(gn, GEN_EMAIL, ia5);
	ia5 = NULL;		/* gn owns it */
	if (sk_GENERAL_NAME_push(names, gn) <= 0) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	gn = NULL;		/* names owns it */
	if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) != 1) {
		log_openssl("subjectAltName");
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	rc = 0;
 out:
	ASN1_IA5STRING_free(ia5);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(names);
	return rc;
}

/* cRLDistributionPoints with one fullName URI (the profile checked it). */
static int
add_crl_dp(X509 *cert, X509V3_CTX *ctx, const char *url)
{
	char value[256];

	snprintf(value, sizeof(value), "URI:%s", url);
	return add_ext(cert, ctx, NID_crl_distribution_points, value);
}

/* Builds and signs the end-entity certificate for pub. */
int
certbuild_end_entity(const X509 *cacert, EVP_PKEY *cakey, const EVP_MD *md,
    const struct ca_request *req, EVP_PKEY *pub, const BIGNUM *serial, X509 **out)
{
	static const struct {
		unsigned bit;
		const char *name;
	} ku[] = {
		{ KU_DIGITAL_SIGNATURE, "digitalSignature" },
		{ KU_NON_REPUDIATION, "nonRepudiation" },
		{ KU_KEY_ENCIPHERMENT, "keyEncipherment" },
		{ KU_DATA_ENCIPHERMENT, "dataEncipherment" },
		{ KU_KEY_AGREEMENT, "keyAgreement" },
	};
	const struct certprof *p = req->profile;
	unsigned bits = certprof_key_usage(p);
	/* e-mail protection only for a certificate that names the address */
	const char *email = certprof_email(p) ? req->email : NULL;
	char kus[256] = "critical", ekus[512] = "";
	X509V3_CTX ctx;
	X509 *cert = NULL;
	size_t i;
	int rc;

	*out = NULL;
	if ((cert = X509_new()) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if ((rc = cert_frame(cert, serial, X509_get_subject_name(cacert), req->subject, req->years,
			     req->carry_days)) != 0)
		goto out;
	/* the holder's key as its encoding only (spki.h): the certificate is
	 * signed and encoded, and whoever asks for its key parses those bytes */
	if (spki_cert_set(cert, pub) != 1) {
		log_openssl("setting the certificate's public key");
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	for (i = 0; i < sizeof(ku) / sizeof(ku[0]); i++) {
		if (bits & ku[i].bit) {
			strcat(kus, ",");
			strcat(kus, ku[i].name);
		}
	}
	for (i = 0; i < certprof_eku_count(p); i++) {
		if (strlen(ekus) + strlen(certprof_eku_oid(p, i)) + 2 +
		    sizeof(",emailProtection") > sizeof(ekus)) {
			rc = UKEY_ERR_INVAL;
			goto out;
		}
		if (i > 0)
			strcat(ekus, ",");
		strcat(ekus, certprof_eku_oid(p, i));
	}
	if (email != NULL) {
		if (ekus[0] != '\0')
			strcat(ekus, ",");
		strcat(ekus, "emailProtection");	/* room: see the loop's bound */
	}
	/* OpenSSL 3.0 takes the issuer non-const; nothing is written to it */
	X509V3_set_ctx(&ctx, (X509 *)cacert, cert, NULL, NULL, 0);
	if ((rc = add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE")) != 0 ||
	    (rc = add_ext(cert, &ctx, NID_key_usage, kus)) != 0 ||
	    (ekus[0] != '\0' && (rc = add_ext(cert, &ctx, NID_ext_key_usage, ekus)) != 0) ||
	    (rc = add_ext(cert, &ctx, NID_subject_key_identifier, "hash")) != 0 ||
	    (rc = add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always")) != 0 ||
	    (email != NULL && (rc = add_email_san(cert, email)) != 0))
		goto out;
	if (certprof_crl_url(p) != NULL &&
	    (rc = add_crl_dp(cert, &ctx, certprof_crl_url(p))) != 0)
		goto out;
	if (certprof_gm_identity_oid(p) != NULL &&
	    (rc = add_gm_identity(cert, certprof_gm_identity_oid(p), req->gm_identity_value)) != 0)
		goto out;
	if ((rc = sign_into(cert, cakey, md, out)) == 0)
		cert = NULL;
 out:
	X509_free(cert);
	return rc;
}
