/* The station form's certificates (floor_certs.h): made as the embedded CA
 * (src/ca/certbuild.c) makes its own and the holder's, so that the
 * certificate objects the floor writes have the station's sizes. Never
 * installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "bench/floor_certs.h"

#define CA_NAME "Yunnan Station Test"	/* the default [ca] name (src/common/config.c) */
#define GM_OID_ORG_CODE "1.2.156.10260.4.1.4"

/* the first sample order (examples/orders-sample.json) */
#define ORG_NAME "云南滇池科技有限公司"
#define USCC "91530100MA6K5U5X7R"
#define LEGAL_REP "李四"
#define LEGAL_REP_EMAIL "lisi@dianchi-tech.example.cn"	/* the order may give one */

static int
fail(const char *what)
{
	fprintf(stderr, "ukey-bench-floor: %s failed\n", what);
	ERR_print_errors_fp(stderr);
	return -1;
}

static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return fail(OBJ_nid2sn(nid));
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : fail("X509_add_ext");
}

/* GM/T 0015's organisation code: a PrintableString, as certbuild.c adds it. */
static int
add_gm_identity(X509 *cert, const char *value)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(GM_OID_ORG_CODE, 1);
	ASN1_PRINTABLESTRING *ps = ASN1_PRINTABLESTRING_new();
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	unsigned char *der = NULL;
	int len, rc = -1;

	if (obj != NULL && ps != NULL && os != NULL && ASN1_STRING_set(ps, value, -1) == 1 &&
	    (len = i2d_ASN1_PRINTABLESTRING(ps, &der)) > 0 &&
	    ASN1_OCTET_STRING_set(os, der, len) == 1 &&
	    (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) != NULL &&
	    X509_add_ext(cert, ext, -1) == 1)
		rc = 0;
	OPENSSL_free(der);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_PRINTABLESTRING_free(ps);
	ASN1_OBJECT_free(obj);
	return rc == 0 ? 0 : fail("GM/T identity extension");
}

/* Version 3, a random positive 16-byte serial, the names, `days` of
 * validity from now and the public key. */
static int
frame(X509 *cert, const X509_NAME *issuer, const X509_NAME *subject, long days, EVP_PKEY *pub)
{
	unsigned char buf[16];
	BIGNUM *bn = NULL;
	ASN1_INTEGER *sn = NULL;
	int rc = -1;

	if (RAND_bytes(buf, sizeof(buf)) != 1)
		return fail("RAND_bytes");
	buf[0] = (unsigned char)((buf[0] & 0x7f) | 0x40);	/* positive, 16 bytes long */
	if ((bn = BN_bin2bn(buf, sizeof(buf), NULL)) != NULL &&
	    (sn = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
	    X509_set_version(cert, X509_VERSION_3) == 1 && X509_set_serialNumber(cert, sn) == 1 &&
	    X509_set_issuer_name(cert, issuer) == 1 && X509_set_subject_name(cert, subject) == 1 &&
	    X509_gmtime_adj(X509_getm_notBefore(cert), 0) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(cert), days * 86400) != NULL &&
	    X509_set_pubkey(cert, pub) == 1)
		rc = 0;
	BN_free(bn);
	ASN1_INTEGER_free(sn);
	return rc == 0 ? 0 : fail("the certificate's frame");
}

static int
name_add(X509_NAME *n, int nid, const char *value)
{
	return X509_NAME_add_entry_by_NID(n, nid, MBSTRING_UTF8, (const unsigned char *)value,
	    -1, -1, 0) == 1 ? 0 : fail("X509_NAME_add_entry_by_NID");
}

/* The embedded CA's certificate (certbuild_ca): 20 years, pathlen 0. */
static X509 *
make_ca(EVP_PKEY *key)
{
	X509 *cert = X509_new();
	X509_NAME *n = X509_NAME_new();
	int ok;

	ok = cert != NULL && n != NULL && name_add(n, NID_countryName, "CN") == 0 &&
	    name_add(n, NID_commonName, CA_NAME " Embedded CA") == 0 &&
	    frame(cert, n, n, 20L * 365, key) == 0 &&
	    add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") == 0 &&
	    add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign") == 0 &&
	    add_ext(cert, cert, NID_subject_key_identifier, "hash") == 0 &&
	    X509_sign(cert, key, EVP_sha384()) > 0;
	X509_NAME_free(n);
	if (!ok) {
		X509_free(cert);
		fail("the CA certificate");
		return NULL;
	}
	return cert;
}

/* The holder's certificate as certbuild_end_entity makes it from the
 * profile (cert-profiles/legal-rep.conf for EC, with the e-mail address an
 * order may give; organisation.conf for RSA), one year, with a CRL
 * distribution point as docs/cert-profiles.md's example. */
static X509 *
make_holder(int rsa, X509 *ca, EVP_PKEY *cakey, EVP_PKEY *key)
{
	X509 *cert = X509_new();
	X509_NAME *n = X509_NAME_new();
	int ok;

	ok = cert != NULL && n != NULL && name_add(n, NID_countryName, "CN") == 0 &&
	    name_add(n, NID_stateOrProvinceName, "云南省") == 0 &&
	    name_add(n, NID_localityName, "昆明市") == 0 &&
	    name_add(n, NID_organizationName, ORG_NAME) == 0 &&
	    name_add(n, NID_commonName, rsa ? ORG_NAME : LEGAL_REP) == 0 &&
	    (!rsa || name_add(n, NID_serialNumber, USCC) == 0) &&
	    frame(cert, X509_get_subject_name(ca), n, 365, key) == 0 &&
	    add_ext(cert, ca, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
	    add_ext(cert, ca, NID_key_usage, rsa ?
	    "critical,digitalSignature,nonRepudiation,keyEncipherment" :
	    "critical,digitalSignature,nonRepudiation") == 0 &&
	    add_ext(cert, ca, NID_ext_key_usage, rsa ? "1.3.6.1.5.5.7.3.2,1.3.6.1.5.5.7.3.36" :
	    "1.3.6.1.5.5.7.3.2,1.3.6.1.5.5.7.3.36,emailProtection") == 0 &&
	    add_ext(cert, ca, NID_subject_key_identifier, "hash") == 0 &&
	    add_ext(cert, ca, NID_authority_key_identifier, "keyid:always") == 0 &&
	    (rsa || add_ext(cert, ca, NID_subject_alt_name, "email:" LEGAL_REP_EMAIL) == 0) &&
	    add_ext(cert, ca, NID_crl_distribution_points,
	    "URI:http://crl.example.cn/km-01.crl") == 0 &&
	    (!rsa || add_gm_identity(cert, USCC) == 0) &&
	    X509_sign(cert, cakey, EVP_sha384()) > 0;
	X509_NAME_free(n);
	if (!ok) {
		X509_free(cert);
		fail("the holder's certificate");
		return NULL;
	}
	return cert;
}

/* The DER pieces create_cert writes. */
static int
pieces(X509 *x, struct floor_cert *c)
{
	int n;

	if ((n = i2d_X509(x, &c->der)) <= 0)
		return fail("i2d_X509");
	c->der_len = (size_t)n;
	if ((n = i2d_X509_NAME(X509_get_subject_name(x), &c->subject)) <= 0)
		return fail("i2d_X509_NAME");
	c->subject_len = (size_t)n;
	if ((n = i2d_X509_NAME(X509_get_issuer_name(x), &c->issuer)) <= 0)
		return fail("i2d_X509_NAME");
	c->issuer_len = (size_t)n;
	if ((n = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &c->serial)) <= 0)
		return fail("i2d_ASN1_INTEGER");
	c->serial_len = (size_t)n;
	return 0;
}

int
floor_certs_make(int rsa, struct floor_certs *fc)
{
	EVP_PKEY *cakey = EVP_EC_gen("P-384");
	EVP_PKEY *key = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
	X509 *ca = NULL, *holder = NULL;
	unsigned int idlen = sizeof(fc->ca_id);
	int rc = -1;

	memset(fc, 0, sizeof(*fc));
	fc->holder_label = rsa ? ORG_NAME : LEGAL_REP;
	fc->ca_label = CA_NAME;
	if (cakey == NULL || key == NULL) {
		fail("key generation");
		goto out;
	}
	if ((ca = make_ca(cakey)) == NULL || (holder = make_holder(rsa, ca, cakey, key)) == NULL ||
	    pieces(ca, &fc->ca) != 0 || pieces(holder, &fc->holder) != 0)
		goto out;
	if (X509_pubkey_digest(ca, EVP_sha1(), fc->ca_id, &idlen) != 1 || idlen != 20) {
		fail("X509_pubkey_digest");
		goto out;
	}
	rc = 0;
 out:
	X509_free(ca);
	X509_free(holder);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(key);
	return rc;
}

static void
cert_free(struct floor_cert *c)
{
	OPENSSL_free(c->der);
	OPENSSL_free(c->subject);
	OPENSSL_free(c->issuer);
	OPENSSL_free(c->serial);
}

void
floor_certs_free(struct floor_certs *fc)
{
	cert_free(&fc->holder);
	cert_free(&fc->ca);
	memset(fc, 0, sizeof(*fc));
}
