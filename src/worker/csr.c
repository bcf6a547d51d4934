/* The certificate request (make_csr): OpenSSL builds the PKCS#10 structure
 * around the token's public key, and the token signs its to-be-signed bytes,
 * so the private key is used where it lives and never leaves. */
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "common/err.h"
#include "common/log.h"
#include "common/spki.h"
#include "worker/ops.h"

#define SIG_MAX 1024

/* DER DigestInfo header for SHA-256 (RFC 8017 section 9.2, note 1) */
static const uint8_t sha256_prefix[] = {
	0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
	0x05, 0x00, 0x04, 0x20,
};

/* Signs data with the token key under mech; *sig is malloc'd. */
static int
token_sign(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, CK_MECHANISM_TYPE type,
    const uint8_t *data, size_t len, uint8_t **sig, size_t *siglen)
{
	CK_MECHANISM mech = { type, NULL, 0 };
	CK_ULONG n = SIG_MAX;
	uint8_t *buf = NULL;
	CK_RV rv;
	int rc;

	*sig = NULL;
	*siglen = 0;
	/* a buffer big enough for any RSA-8192 or ECDSA signature, so that one
	 * C_Sign call ends the operation (a size query would leave it open) */
	if ((buf = malloc(SIG_MAX)) == NULL)
		return UKEY_ERR_NOMEM;
	if ((rv = P11F(p)->C_SignInit(s, &mech, key)) != CKR_OK) {
		rc = p11_fail(p, "C_SignInit", rv);
		goto out;
	}
	if ((rv = P11F(p)->C_Sign(s, (CK_BYTE_PTR)data, (CK_ULONG)len, buf, &n)) != CKR_OK) {
		rc = p11_fail(p, "C_Sign", rv);
		goto out;
	}
	if (n == 0 || n > SIG_MAX) {
		rc = p11_error(p, UKEY_ERR_P11, "C_Sign returned a signature of %lu bytes",
		    (unsigned long)n);
		goto out;
	}
	*sig = buf;
	*siglen = n;
	buf = NULL;
	rc = 0;
 out:
	free(buf);
	return rc;
}

static int
sign_rsa(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const uint8_t *tbs,
    size_t tbslen, uint8_t **sig, size_t *siglen)
{
	uint8_t di[sizeof(sha256_prefix) + 32];
	CK_MECHANISM_INFO mi;
	int rc;

	/* tokens without the hash-and-sign mechanism get a DigestInfo that the
	 * station hashed, signed with raw PKCS#1 v1.5: the same signature */
	memset(&mi, 0, sizeof(mi));
	if (P11F(p)->C_GetMechanismInfo(p->slot, CKM_SHA256_RSA_PKCS, &mi) == CKR_OK &&
	    (mi.flags & CKF_SIGN))
		return token_sign(p, s, key, CKM_SHA256_RSA_PKCS, tbs, tbslen, sig, siglen);
	log_info("token lacks CKM_SHA256_RSA_PKCS, signing a DigestInfo with CKM_RSA_PKCS");
	memcpy(di, sha256_prefix, sizeof(sha256_prefix));
	if (EVP_Digest(tbs, tbslen, di + sizeof(sha256_prefix), NULL, EVP_sha256(), NULL) != 1)
		return p11_error(p, UKEY_ERR_CRYPTO, "SHA-256 of the request failed");
	rc = token_sign(p, s, key, CKM_RSA_PKCS, di, sizeof(di), sig, siglen);
	OPENSSL_cleanse(di, sizeof(di));
	return rc;
}

/* ECDSA on the token returns r||s; X.509 wants the DER ECDSA-Sig-Value. */
static int
sign_ec(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const uint8_t *tbs,
    size_t tbslen, uint8_t **sig, size_t *siglen)
{
	uint8_t md[32], *raw = NULL;
	unsigned char *der = NULL, *q;
	size_t rawlen = 0, half;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *sv = NULL;
	int rc, n;

	*sig = NULL;
	*siglen = 0;
	if (EVP_Digest(tbs, tbslen, md, NULL, EVP_sha256(), NULL) != 1)
		return p11_error(p, UKEY_ERR_CRYPTO, "SHA-256 of the request failed");
	if ((rc = token_sign(p, s, key, CKM_ECDSA, md, sizeof(md), &raw, &rawlen)) != 0)
		goto out;
	if (rawlen % 2 != 0) {
		rc = p11_error(p, UKEY_ERR_P11, "CKM_ECDSA signature of odd length %zu", rawlen);
		goto out;
	}
	half = rawlen / 2;
	if ((es = ECDSA_SIG_new()) == NULL || (r = BN_bin2bn(raw, (int)half, NULL)) == NULL ||
	    (sv = BN_bin2bn(raw + half, (int)half, NULL)) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if (ECDSA_SIG_set0(es, r, sv) != 1) {
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	r = sv = NULL;		/* es owns them */
	if ((n = i2d_ECDSA_SIG(es, NULL)) <= 0 || (der = malloc((size_t)n)) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	q = der;
	if (i2d_ECDSA_SIG(es, &q) != n) {
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	*sig = der;
	*siglen = (size_t)n;
	der = NULL;
	rc = 0;
 out:
	free(der);
	free(raw);
	BN_free(r);
	BN_free(sv);
	ECDSA_SIG_free(es);
	return rc;
}

int
op_make_csr(struct p11 *p, struct json_object *req, struct json_object *rep)
{
	struct secret pin = { 0 };
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE privh, pubh;
	uint8_t *id = NULL, *subj = NULL, *sig = NULL;
	size_t idlen = 0, subjlen = 0, siglen = 0;
	unsigned char *tbs = NULL, *csr = NULL;
	const unsigned char *q;
	X509_NAME *name = NULL;
	X509_REQ *xr = NULL;
	X509_ALGOR *alg = NULL;
	ASN1_BIT_STRING *bits = NULL;
	EVP_PKEY *pub = NULL;
	int rc, tbslen, csrlen, keytype;

	if ((rc = req_pin(p, req, "user_pin", 1, &pin)) != 0 ||
	    (rc = req_hex(p, req, "id", 1, P11_MAX_ID, &id, &idlen)) != 0 ||
	    (rc = req_hex(p, req, "subject", 1, 8192, &subj, &subjlen)) != 0)
		goto out;
	q = subj;
	if ((name = d2i_X509_NAME(NULL, &q, (long)subjlen)) == NULL || q != subj + subjlen) {
		rc = p11_error(p, UKEY_ERR_INVAL, "subject: not a DER X.509 Name");
		goto out;
	}
	if ((rc = p11_session_user(p, 0, &pin, &s)) != 0)
		goto out;
	if ((rc = p11_find_by_id(p, s, CKO_PRIVATE_KEY, id, idlen, &privh)) != 0 ||
	    (rc = p11_find_by_id(p, s, CKO_PUBLIC_KEY, id, idlen, &pubh)) != 0) {
		if (rc == UKEY_ERR_NOTFOUND)
			rc = p11_error(p, rc, "id: no key pair with this id on the token");
		goto out;
	}
	if ((rc = pubkey_from_object(p, s, pubh, &pub)) != 0)
		goto out;
	keytype = EVP_PKEY_get_base_id(pub);
	if ((xr = X509_REQ_new()) == NULL || (alg = X509_ALGOR_new()) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if (X509_REQ_set_version(xr, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_subject_name(xr, name) != 1 || spki_req_set(xr, pub) != 1) {
		rc = p11_error(p, UKEY_ERR_CRYPTO, "cannot assemble the certificate request");
		goto out;
	}
	/* RSA algorithm identifiers carry an explicit NULL, ECDSA ones none (RFC 5758) */
	if (keytype == EVP_PKEY_RSA)
		X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256WithRSAEncryption), V_ASN1_NULL, NULL);
	else
		X509_ALGOR_set0(alg, OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, NULL);
	if (X509_REQ_set1_signature_algo(xr, alg) != 1 ||
	    (tbslen = i2d_re_X509_REQ_tbs(xr, &tbs)) <= 0) {
		rc = p11_error(p, UKEY_ERR_CRYPTO, "cannot encode the certificate request");
		goto out;
	}
	rc = keytype == EVP_PKEY_RSA ? sign_rsa(p, s, privh, tbs, (size_t)tbslen, &sig, &siglen) :
	    sign_ec(p, s, privh, tbs, (size_t)tbslen, &sig, &siglen);
	if (rc != 0)
		goto out;
	if ((bits = ASN1_BIT_STRING_new()) == NULL ||
	    ASN1_BIT_STRING_set(bits, sig, (int)siglen) != 1) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	/* a signature is whole bytes: say "0 unused bits" explicitly */
	bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	X509_REQ_set0_signature(xr, bits);
	bits = NULL;
	if (X509_REQ_verify(xr, pub) != 1) {
		ERR_clear_error();
		rc = p11_error(p, UKEY_ERR_VERIFY,
		    "the token's signature on the request does not verify with its public key");
		goto out;
	}
	if ((csrlen = i2d_X509_REQ(xr, &csr)) <= 0) {
		rc = p11_error(p, UKEY_ERR_CRYPTO, "cannot encode the certificate request");
		goto out;
	}
	if ((rc = rep_hex(rep, "csr", csr, (size_t)csrlen)) != 0)
		goto out;
	log_info("certificate request signed by the token and verified");
	/* the CA certificate, if given, goes on the token after the reply */
	if ((rc = ca_cert_ahead(p, req, &pin)) != 0)
		goto out;
	rc = 0;
 out:
	p11_session_release(p, s, rc == 0);
	OPENSSL_free(csr);
	OPENSSL_free(tbs);
	ASN1_BIT_STRING_free(bits);
	X509_ALGOR_free(alg);
	X509_REQ_free(xr);
	X509_NAME_free(name);
	EVP_PKEY_free(pub);
	free(sig);
	free(subj);
	free(id);
	secret_clear(&pin);
	return rc;
}
