/* SubjectPublicKeyInfo without OpenSSL 3.0's encoder and decoder chains for
 * EC keys on a named curve (spki.h). */
#include <limits.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "common/err.h"
#include "common/spki.h"

/* SubjectPublicKeyInfo (RFC 5280, 4.1) as its two fields, the key's bits
 * left as they are */
typedef struct {
	X509_ALGOR *algor;
	ASN1_BIT_STRING *bits;
} SPKI_FIELDS;

ASN1_SEQUENCE(SPKI_FIELDS) = {
	ASN1_SIMPLE(SPKI_FIELDS, algor, X509_ALGOR),
	ASN1_SIMPLE(SPKI_FIELDS, bits, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(SPKI_FIELDS)

/* the longest point: P-521's uncompressed, 1 + 2 * 66 bytes */
#define POINT_MAX 133

/* The curve (nid) and encoded point of an EC key on a named curve; 0 when
 * key is anything else, which OpenSSL's own functions then handle. */
static int
ec_named(const EVP_PKEY *key, int *nid, unsigned char pt[POINT_MAX], size_t *ptlen)
{
	char name[80], enc[32], form[32];
	int ok = 0;

	ERR_set_mark();
	/* a key to be written with explicit curve parameters, or with its
	 * point compressed, is OpenSSL's */
	if (EVP_PKEY_is_a(key, "EC") &&
	    (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_EC_ENCODING, enc, sizeof(enc),
	    NULL) != 1 || strcmp(enc, OSSL_PKEY_EC_ENCODING_GROUP) == 0) &&
	    EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name),
	    NULL) == 1 &&
	    ((*nid = OBJ_sn2nid(name)) != NID_undef || (*nid = EC_curve_nist2nid(name)) != NID_undef) &&
	    EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, form,
	    sizeof(form), NULL) == 1 &&
	    strcmp(form, OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) == 0 &&
	    EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, POINT_MAX,
	    ptlen) == 1 && *ptlen > 0 && pt[0] == 0x04)
		ok = 1;
	ERR_pop_to_mark();
	return ok;
}

/* An EC public key from its curve and point, through the key manager; NULL
 * when the point is not one of the curve's. */
static EVP_PKEY *
ec_import(int nid, const unsigned char *pt, size_t ptlen)
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *key = NULL;
	const char *curve = OBJ_nid2sn(nid);

	if (curve == NULL)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)curve, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pt, ptlen);
	params[2] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	return key;
}

int
spki_encode(const EVP_PKEY *key, uint8_t **der, size_t *len)
{
	unsigned char pt[POINT_MAX], *buf = NULL;
	SPKI_FIELDS *f = NULL;
	size_t ptlen = 0;
	int nid, n = -1;

	*der = NULL;
	*len = 0;
	if (!ec_named(key, &nid, pt, &ptlen)) {
		n = i2d_PUBKEY(key, &buf);
	} else if ((f = (SPKI_FIELDS *)ASN1_item_new(ASN1_ITEM_rptr(SPKI_FIELDS))) != NULL &&
	    X509_ALGOR_set0(f->algor, OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
	    OBJ_nid2obj(nid)) == 1 && ASN1_BIT_STRING_set(f->bits, pt, (int)ptlen) == 1) {
		/* a point is whole bytes: "0 unused bits", said explicitly */
		f->bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
		f->bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
		n = ASN1_item_i2d((ASN1_VALUE *)f, &buf, ASN1_ITEM_rptr(SPKI_FIELDS));
	}
	ASN1_item_free((ASN1_VALUE *)f, ASN1_ITEM_rptr(SPKI_FIELDS));
	if (n <= 0) {
		OPENSSL_free(buf);
		return UKEY_ERR_CRYPTO;
	}
	*der = buf;
	*len = (size_t)n;
	return 0;
}

/* d2i_PUBKEY over exactly len bytes */
static EVP_PKEY *
openssl_decode(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)len);

	if (key != NULL && p != der + len) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	return key;
}

EVP_PKEY *
spki_decode(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	const ASN1_OBJECT *alg;
	const void *param;
	SPKI_FIELDS *f;
	EVP_PKEY *key = NULL;
	int ptype, nid;

	if (der == NULL || len == 0 || len > LONG_MAX)
		return NULL;
	ERR_set_mark();
	f = (SPKI_FIELDS *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(SPKI_FIELDS));
	if (f == NULL || p != der + len)
		goto out;	/* not a SubjectPublicKeyInfo: nor for d2i_PUBKEY */
	X509_ALGOR_get0(&alg, &ptype, &param, f->algor);
	if (OBJ_obj2nid(alg) == NID_X9_62_id_ecPublicKey && ptype == V_ASN1_OBJECT &&
	    (nid = OBJ_obj2nid(param)) != NID_undef && (f->bits->flags & 0x07) == 0 &&
	    f->bits->length > 0 && f->bits->data[0] == 0x04)
		key = ec_import(nid, f->bits->data, (size_t)f->bits->length);
	/* anything else (a compressed point too: the key keeps its form), and
	 * what the key manager refused, as OpenSSL reads it */
	if (key == NULL)
		key = openssl_decode(der, len);
 out:
	ASN1_item_free((ASN1_VALUE *)f, ASN1_ITEM_rptr(SPKI_FIELDS));
	ERR_pop_to_mark();
	return key;
}

/* Writes an EC key on a named curve into pk: 1 done, 0 not such a key, -1
 * out of memory. */
static int
pubkey_set(X509_PUBKEY *pk, const EVP_PKEY *key)
{
	unsigned char pt[POINT_MAX], *copy;
	size_t ptlen = 0;
	int nid;

	if (pk == NULL || !ec_named(key, &nid, pt, &ptlen))
		return 0;
	if ((copy = OPENSSL_memdup(pt, ptlen)) == NULL)
		return -1;
	if (X509_PUBKEY_set0_param(pk, OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
	    OBJ_nid2obj(nid), copy, (int)ptlen) != 1) {
		OPENSSL_free(copy);
		return -1;
	}
	return 1;
}

int
spki_req_set(X509_REQ *req, EVP_PKEY *key)
{
	int rc = pubkey_set(X509_REQ_get_X509_PUBKEY(req), key);

	return rc == 0 ? X509_REQ_set_pubkey(req, key) : rc > 0;
}

int
spki_cert_set(X509 *cert, EVP_PKEY *key)
{
	int rc = pubkey_set(X509_get_X509_PUBKEY(cert), key);

	return rc == 0 ? X509_set_pubkey(cert, key) : rc > 0;
}
