/* Keys on the token seen from OpenSSL: a token public key object becomes an
 * EVP_PKEY (and a SubjectPublicKeyInfo), and a private key object's
 * attributes become the evidence that it was made on the token and stays there. */
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "common/err.h"
#include "common/log.h"
#include "worker/ops.h"

static int
pkey_fromdata(struct p11 *p, const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **out)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int rc = UKEY_ERR_CRYPTO;

	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		rc = p11_error(p, UKEY_ERR_VERIFY, "the token's %s public key is not a valid key",
		    type);
		goto out;
	}
	rc = 0;
 out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return rc;
}

static int
rsa_from_object(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, EVP_PKEY **out)
{
	uint8_t *mod = NULL, *exp = NULL;
	size_t nmod = 0, nexp = 0;
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	int rc;

	if ((rc = p11_get_attr(p, s, o, CKA_MODULUS, 2048, &mod, &nmod)) != 0 ||
	    (rc = p11_get_attr(p, s, o, CKA_PUBLIC_EXPONENT, 64, &exp, &nexp)) != 0) {
		if (rc == UKEY_ERR_NOTFOUND)
			rc = p11_error(p, UKEY_ERR_VERIFY, "RSA public key without modulus or exponent");
		goto out;
	}
	if ((n = BN_bin2bn(mod, (int)nmod, NULL)) == NULL ||
	    (e = BN_bin2bn(exp, (int)nexp, NULL)) == NULL || (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	rc = pkey_fromdata(p, "RSA", bld, out);
 out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	free(mod);
	free(exp);
	return rc;
}

/* CKA_EC_POINT should be a DER OCTET STRING around the point (SoftHSM2 and
 * most modules), but some modules return the bare point. Tell them apart by
 * the lengths a point of this curve can have. */
static int
ec_point_bare(const uint8_t *in, size_t len, size_t fieldlen, const uint8_t **pt, size_t *ptlen)
{
	const unsigned char *q = in;
	ASN1_OCTET_STRING *os = NULL;
	int ok = 0;

	if ((len == 1 + 2 * fieldlen && in[0] == 0x04) ||
	    (len == 1 + fieldlen && (in[0] == 0x02 || in[0] == 0x03))) {
		*pt = in;
		*ptlen = len;
		return 1;
	}
	if ((os = d2i_ASN1_OCTET_STRING(NULL, &q, (long)len)) != NULL && q == in + len) {
		size_t n = (size_t)ASN1_STRING_length(os);
		const uint8_t *d = ASN1_STRING_get0_data(os);

		if ((n == 1 + 2 * fieldlen && d[0] == 0x04) ||
		    (n == 1 + fieldlen && (d[0] == 0x02 || d[0] == 0x03))) {
			/* the content lies inside in: point there, not into os */
			*pt = in + (len - n);
			*ptlen = n;
			ok = 1;
		}
	}
	ASN1_OCTET_STRING_free(os);
	return ok;
}

static int
ec_from_object(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, EVP_PKEY **out)
{
	uint8_t *params = NULL, *point = NULL;
	size_t nparams = 0, npoint = 0, ptlen = 0;
	const uint8_t *pt = NULL;
	const unsigned char *q;
	ASN1_OBJECT *oid = NULL;
	EC_GROUP *group = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	const char *curve;
	int rc, nid;

	if ((rc = p11_get_attr(p, s, o, CKA_EC_PARAMS, 256, &params, &nparams)) != 0 ||
	    (rc = p11_get_attr(p, s, o, CKA_EC_POINT, 1024, &point, &npoint)) != 0) {
		if (rc == UKEY_ERR_NOTFOUND)
			rc = p11_error(p, UKEY_ERR_VERIFY, "EC public key without parameters or point");
		goto out;
	}
	/* only named curves: explicit parameters are a way to smuggle weak ones */
	q = params;
	if ((oid = d2i_ASN1_OBJECT(NULL, &q, (long)nparams)) == NULL || q != params + nparams ||
	    (nid = OBJ_obj2nid(oid)) == NID_undef || (curve = OBJ_nid2sn(nid)) == NULL ||
	    (group = EC_GROUP_new_by_curve_name(nid)) == NULL) {
		rc = p11_error(p, UKEY_ERR_UNSUPPORTED, "EC key on a curve that is not a known named curve");
		goto out;
	}
	if (!ec_point_bare(point, npoint, (size_t)(EC_GROUP_get_degree(group) + 7) / 8, &pt,
	    &ptlen)) {
		rc = p11_error(p, UKEY_ERR_VERIFY, "CKA_EC_POINT of %zu bytes is not a %s point",
		    npoint, curve);
		goto out;
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, ptlen)) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	rc = pkey_fromdata(p, "EC", bld, out);
 out:
	OSSL_PARAM_BLD_free(bld);
	EC_GROUP_free(group);
	ASN1_OBJECT_free(oid);
	free(params);
	free(point);
	return rc;
}

int
pubkey_from_object(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, EVP_PKEY **out)
{
	CK_ULONG kt = 0;
	int rc;

	*out = NULL;
	if ((rc = p11_get_ulong(p, s, pub, CKA_KEY_TYPE, &kt)) != 0) {
		if (rc == UKEY_ERR_NOTFOUND)
			rc = p11_error(p, UKEY_ERR_VERIFY, "public key object without CKA_KEY_TYPE");
		return rc;
	}
	switch (kt) {
	case CKK_RSA:
		return rsa_from_object(p, s, pub, out);
	case CKK_EC:
		return ec_from_object(p, s, pub, out);
	default:
		return p11_error(p, UKEY_ERR_UNSUPPORTED, "public key of type 0x%lx is not RSA or EC",
		    (unsigned long)kt);
	}
}

int
evidence_read(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv,
    struct json_object **out, const char **bad)
{
	/* want: 1 must be true, 0 must be false; unreadable counts as broken */
	static const struct {
		CK_ATTRIBUTE_TYPE type;
		const char *name, *key;
		int want;
	} ev[] = {
		{ CKA_LOCAL, "CKA_LOCAL", "local", 1 },
		{ CKA_ALWAYS_SENSITIVE, "CKA_ALWAYS_SENSITIVE", "always_sensitive", 1 },
		{ CKA_NEVER_EXTRACTABLE, "CKA_NEVER_EXTRACTABLE", "never_extractable", 1 },
		{ CKA_SENSITIVE, "CKA_SENSITIVE", "sensitive", 1 },
		{ CKA_EXTRACTABLE, "CKA_EXTRACTABLE", "extractable", 0 },
		{ CKA_TOKEN, "CKA_TOKEN", "token", 1 },
		{ CKA_PRIVATE, "CKA_PRIVATE", "private", 1 },
	};
	CK_ATTRIBUTE_TYPE types[sizeof(ev) / sizeof(ev[0])];
	int vals[sizeof(ev) / sizeof(ev[0])], ok[sizeof(ev) / sizeof(ev[0])];
	struct json_object *o;
	size_t i;
	int rc, v;

	*out = NULL;
	*bad = NULL;
	for (i = 0; i < sizeof(ev) / sizeof(ev[0]); i++)
		types[i] = ev[i].type;
	/* all seven in one call (p11_get_bools) */
	if ((rc = p11_get_bools(p, s, priv, types, sizeof(ev) / sizeof(ev[0]), vals, ok)) != 0)
		return rc;
	if ((o = json_object_new_object()) == NULL)
		return UKEY_ERR_NOMEM;
	for (i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
		v = vals[i];
		rc = ok[i] ? 0 : UKEY_ERR_NOTFOUND;
		if (rc == UKEY_ERR_NOTFOUND) {
			if (*bad == NULL)
				*bad = ev[i].name;
			if ((rc = rep_take(o, ev[i].key, NULL)) != 0)
				goto out;
			continue;
		}
		if (rc != 0)
			goto out;
		if (v != ev[i].want && *bad == NULL)
			*bad = ev[i].name;
		if ((rc = rep_bool(o, ev[i].key, v)) != 0)
			goto out;
	}
	*out = o;
	o = NULL;
	rc = 0;
 out:
	json_object_put(o);
	return rc;
}

/* Appends name to the array under key in o, making the array on first use. */
static int
list_add(struct json_object *o, const char *key, const char *name)
{
	struct json_object *arr = NULL, *v;

	if (!json_object_object_get_ex(o, key, &arr)) {
		if ((arr = json_object_new_array()) == NULL ||
		    json_object_object_add(o, key, arr) != 0) {
			json_object_put(arr);
			return UKEY_ERR_NOMEM;
		}
	}
	if ((v = json_object_new_string(name)) == NULL)
		return UKEY_ERR_NOMEM;
	if (json_object_array_add(arr, v) != 0) {
		json_object_put(v);
		return UKEY_ERR_NOMEM;
	}
	return 0;
}

int
usage_read(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub,
    unsigned ops, struct json_object **out, const char **bad)
{
	/* pub: 0 for the private key, 1 for the public one; op: the KEY_OP_*
	 * bit that allows it (0: never allowed) */
	static const struct {
		int pub;
		CK_ATTRIBUTE_TYPE type;
		const char *name, *key;
		unsigned op;
	} attrs[] = {
		{ 0, CKA_SIGN, "CKA_SIGN", "sign", KEY_OP_SIGN },
		{ 0, CKA_DECRYPT, "CKA_DECRYPT", "decrypt", KEY_OP_DECRYPT },
		{ 0, CKA_UNWRAP, "CKA_UNWRAP", "unwrap", KEY_OP_UNWRAP },
		{ 0, CKA_DERIVE, "CKA_DERIVE", "derive", KEY_OP_DERIVE },
		{ 1, CKA_VERIFY, "CKA_VERIFY (public key)", "verify", KEY_OP_SIGN },
		{ 1, CKA_ENCRYPT, "CKA_ENCRYPT (public key)", "encrypt", KEY_OP_DECRYPT },
		{ 1, CKA_WRAP, "CKA_WRAP (public key)", "wrap", KEY_OP_UNWRAP },
		{ 1, CKA_DERIVE, "CKA_DERIVE (public key)", "derive", 0 },
	};
	enum { N_USAGE = sizeof(attrs) / sizeof(attrs[0]), N_HALF = N_USAGE / 2 };
	CK_ATTRIBUTE_TYPE types[N_USAGE];
	int vals[N_USAGE], ok[N_USAGE];
	struct json_object *o = NULL, *arr;
	size_t i;
	int rc, v;

	*out = NULL;
	*bad = NULL;
	/* each half's four in one call: the private key's, then the public key's */
	for (i = 0; i < N_USAGE; i++)
		types[i] = attrs[i].type;
	if ((rc = p11_get_bools(p, s, priv, types, N_HALF, vals, ok)) != 0 ||
	    (pub != CK_INVALID_HANDLE &&
	    (rc = p11_get_bools(p, s, pub, types + N_HALF, N_HALF, vals + N_HALF, ok + N_HALF)) != 0))
		return rc;
	if ((o = json_object_new_object()) == NULL)
		return UKEY_ERR_NOMEM;
	/* both lists are there even when empty: "nothing allowed" is an
	 * answer; "public" is null when there is no public key to read */
	if ((arr = json_object_new_array()) == NULL ||
	    (rc = rep_take(o, "private", arr)) != 0 ||
	    (pub != CK_INVALID_HANDLE && (arr = json_object_new_array()) == NULL) ||
	    (rc = rep_take(o, "public", pub != CK_INVALID_HANDLE ? arr : NULL)) != 0) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		if (attrs[i].pub && pub == CK_INVALID_HANDLE)
			continue;
		v = vals[i];
		rc = ok[i] ? 0 : UKEY_ERR_NOTFOUND;
		if (rc == UKEY_ERR_NOTFOUND) {
			if (*bad == NULL)
				*bad = attrs[i].name;
			if ((rc = list_add(o, "unreadable", attrs[i].name)) != 0)
				goto out;
			continue;
		}
		if (rc != 0)
			goto out;
		if (v != ((ops & attrs[i].op) != 0) && *bad == NULL)
			*bad = attrs[i].name;
		if (v && (rc = list_add(o, attrs[i].pub ? "public" : "private", attrs[i].key)) != 0)
			goto out;
	}
	*out = o;
	o = NULL;
	rc = 0;
 out:
	json_object_put(o);
	return rc;
}
