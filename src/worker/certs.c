/* Certificates on the token: writing the issued certificate and its CA
 * certificate (write_cert, idempotent so that a job can repeat the step after
 * a crash) and reading everything back to prove it is there (read_back). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/dercache.h"
#include "common/err.h"
#include "common/log.h"
#include "common/spki.h"
#include "worker/ops.h"

#define CERT_MAX (32u * 1024)
#define CATEGORY_USER 1		/* CKA_CERTIFICATE_CATEGORY: token user */
#define CATEGORY_AUTHORITY 2	/* CKA_CERTIFICATE_CATEGORY: authority */
#define MAX_CERTS 16

/* The certificates this worker parsed last, by their bytes: the CA's, the
 * same for every token, and the holder's between write_cert and read_back
 * (dercache.h). */
static struct dercache certs_seen;

static int
parse_cert(struct p11 *p, const char *field, const uint8_t *der, size_t len, X509 **out)
{
	if ((*out = dercache_cert(&certs_seen, der, len)) == NULL)
		return p11_error(p, UKEY_ERR_INVAL, "%s: not a DER X.509 certificate", field);
	return 0;
}

void
certs_forget(void)
{
	dercache_clear(&certs_seen);
}

static int
create_cert(struct p11 *p, CK_SESSION_HANDLE s, X509 *x, const uint8_t *der, size_t derlen,
    const uint8_t *id, size_t idlen, const char *label, CK_ULONG category)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ctype = CKC_X_509;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	unsigned char *subj = NULL, *iss = NULL, *ser = NULL;
	int nsubj, niss, nser, rc;
	CK_RV rv;

	if ((nsubj = i2d_X509_NAME(X509_get_subject_name(x), &subj)) <= 0 ||
	    (niss = i2d_X509_NAME(X509_get_issuer_name(x), &iss)) <= 0 ||
	    (nser = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &ser)) <= 0) {
		rc = p11_error(p, UKEY_ERR_CRYPTO, "cannot encode the certificate's names");
		goto out;
	}
	{
		CK_ATTRIBUTE t[] = {
			{ CKA_CLASS, &cls, sizeof(cls) },
			{ CKA_CERTIFICATE_TYPE, &ctype, sizeof(ctype) },
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_PRIVATE, &no, sizeof(no) },
			{ CKA_MODIFIABLE, &yes, sizeof(yes) },
			{ CKA_ID, (void *)id, (CK_ULONG)idlen },
			{ CKA_LABEL, (void *)label, (CK_ULONG)strlen(label) },
			{ CKA_SUBJECT, subj, (CK_ULONG)nsubj },
			{ CKA_ISSUER, iss, (CK_ULONG)niss },
			{ CKA_SERIAL_NUMBER, ser, (CK_ULONG)nser },
			{ CKA_VALUE, (void *)der, (CK_ULONG)derlen },
			{ CKA_CERTIFICATE_CATEGORY, &category, sizeof(category) },
		};

		if ((rv = P11F(p)->C_CreateObject(s, t, sizeof(t) / sizeof(t[0]), &h)) != CKR_OK) {
			rc = p11_fail(p, "C_CreateObject", rv);
			goto out;
		}
	}
	rc = 0;
 out:
	OPENSSL_free(subj);
	OPENSSL_free(iss);
	OPENSSL_free(ser);
	return rc;
}

/* Finds certificate objects matching tmpl and reads their values: *same is set
 * when one equals der, *other when one differs. */
static int
compare_certs(struct p11 *p, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG ntmpl,
    const uint8_t *der, size_t derlen, int *same, int *other)
{
	CK_OBJECT_HANDLE objs[MAX_CERTS];
	size_t n = 0, i;
	int rc;

	*same = *other = 0;
	if ((rc = p11_find(p, s, tmpl, ntmpl, objs, MAX_CERTS, &n)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		uint8_t *v = NULL;
		size_t vlen = 0;

		rc = p11_get_attr(p, s, objs[i], CKA_VALUE, CERT_MAX, &v, &vlen);
		if (rc == UKEY_ERR_NOTFOUND) {
			*other = 1;
			continue;
		}
		if (rc != 0)
			return rc;
		if (vlen == derlen && memcmp(v, der, derlen) == 0)
			*same = 1;
		else
			*other = 1;
		free(v);
	}
	return 0;
}

/* The certificate must be for the key with this id, and signed by the CA. */
static int
check_cert(struct p11 *p, CK_SESSION_HANDLE s, const uint8_t *id, size_t idlen, X509 *cert,
    X509 *ca)
{
	CK_OBJECT_HANDLE pubh;
	EVP_PKEY *pub = NULL;
	int rc;

	if ((rc = p11_find_by_id(p, s, CKO_PUBLIC_KEY, id, idlen, &pubh)) != 0) {
		if (rc == UKEY_ERR_NOTFOUND)
			rc = p11_error(p, rc, "id: no public key with this id on the token");
		goto out;
	}
	if ((rc = pubkey_from_object(p, s, pubh, &pub)) != 0)
		goto out;
	if (EVP_PKEY_eq(pub, X509_get0_pubkey(cert)) != 1) {
		rc = p11_error(p, UKEY_ERR_VERIFY,
		    "cert: its public key is not the token's key with this id");
		goto out;
	}
	/* the issuer's name and key identifier only: ukeyd verified the
	 * signature over these bytes with the CA's chain (cert_check) before it
	 * asked for this write, and a second verification here would cost a
	 * signature check per token for nothing new */
	if (ca != NULL && X509_check_issued(ca, cert) != X509_V_OK) {
		rc = p11_error(p, UKEY_ERR_VERIFY, "cert: not issued by ca_cert");
		goto out;
	}
	rc = 0;
 out:
	ERR_clear_error();
	EVP_PKEY_free(pub);
	return rc;
}

/* Writes the CA certificate ca (der) labelled label, unless the token holds
 * it already (a write_cert repeated after a crash, or make_csr's write
 * ahead): its CKA_ID is the usual key identifier, the SHA-1 of the CA's
 * subjectPublicKey bits. */
static int
write_ca_cert(struct p11 *p, CK_SESSION_HANDLE s, X509 *ca, const uint8_t *der, size_t len,
    const char *label)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_VALUE, (void *)der, (CK_ULONG)len },
	};
	uint8_t kid[SHA_DIGEST_LENGTH];
	unsigned int kidlen = sizeof(kid);
	int rc, same, other;

	if ((rc = compare_certs(p, s, t, 2, der, len, &same, &other)) != 0)
		return rc;
	if (same) {
		log_info("the CA certificate is already on the token");
		return 0;
	}
	if (X509_pubkey_digest(ca, EVP_sha1(), kid, &kidlen) != 1)
		return p11_error(p, UKEY_ERR_CRYPTO, "ca_cert: cannot hash its public key");
	return create_cert(p, s, ca, der, len, kid, kidlen, label, CATEGORY_AUTHORITY);
}

/* The CA certificate make_csr was given, kept for after its reply. */
struct ca_ahead {
	uint8_t *der;
	size_t len;
	X509 *ca;
	char label[P11_MAX_LABEL + 1];
	struct secret pin;
};

static void
ca_ahead_run(struct p11 *p, void *arg, int run)
{
	struct ca_ahead *a = arg;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	int rc;

	if (run) {
		p11_error_clear(p);
		if ((rc = p11_session_user(p, 1, &a->pin, &s)) == 0)
			rc = write_ca_cert(p, s, a->ca, a->der, a->len, a->label);
		p11_session_release(p, s, rc == 0);
		if (rc == 0)
			log_info("CA certificate on the token, ahead of the certificate");
		else	/* nothing lost: write_cert writes it */
			log_warn("the CA certificate was not written ahead: %s", p->err_rc != 0 &&
			    p->err_msg[0] ? p->err_msg : ukey_strerror(rc));
		p11_error_clear(p);
	}
	X509_free(a->ca);
	free(a->der);
	secret_clear(&a->pin);
	free(a);
}

int
ca_cert_ahead(struct p11 *p, struct json_object *req, const struct secret *pin)
{
	struct ca_ahead *a;
	const char *label = NULL;
	uint8_t *der = NULL;
	size_t len = 0;
	X509 *ca = NULL;
	int rc;

	if ((rc = req_hex(p, req, "ca_cert", 0, CERT_MAX, &der, &len)) != 0 || der == NULL ||
	    (rc = req_string(p, req, "ca_label", 0, P11_MAX_LABEL, &label)) != 0 ||
	    (rc = parse_cert(p, "ca_cert", der, len, &ca)) != 0) {
		free(der);
		return rc;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL || secret_set(&a->pin, pin->p, pin->len) != 0) {
		free(a);
		X509_free(ca);
		free(der);
		return UKEY_ERR_NOMEM;
	}
	a->der = der;
	a->len = len;
	a->ca = ca;
	snprintf(a->label, sizeof(a->label), "%s", label != NULL ? label : "CA");
	worker_after_reply(ca_ahead_run, a);
	return 0;
}

int
op_write_cert(struct p11 *p, struct json_object *req, struct json_object *rep)
{
	struct secret pin = { 0 };
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	uint8_t *id = NULL, *der = NULL, *cader = NULL;
	size_t idlen = 0, derlen = 0, caderlen = 0;
	const char *label, *ca_label;
	X509 *cert = NULL, *ca = NULL;
	int rc, same, other;

	if ((rc = req_pin(p, req, "user_pin", 1, &pin)) != 0 ||
	    (rc = req_hex(p, req, "id", 1, P11_MAX_ID, &id, &idlen)) != 0 ||
	    (rc = req_string(p, req, "label", 1, P11_MAX_LABEL, &label)) != 0 ||
	    (rc = req_hex(p, req, "cert", 1, CERT_MAX, &der, &derlen)) != 0 ||
	    (rc = req_hex(p, req, "ca_cert", 0, CERT_MAX, &cader, &caderlen)) != 0 ||
	    (rc = req_string(p, req, "ca_label", 0, P11_MAX_LABEL, &ca_label)) != 0)
		goto out;
	if (ca_label == NULL)
		ca_label = "CA";
	if ((rc = parse_cert(p, "cert", der, derlen, &cert)) != 0 ||
	    (cader != NULL && (rc = parse_cert(p, "ca_cert", cader, caderlen, &ca)) != 0))
		goto out;
	if ((rc = p11_session_user(p, 1, &pin, &s)) != 0)
		goto out;
	if ((rc = check_cert(p, s, id, idlen, cert, ca)) != 0)
		goto out;
	{
		CK_ATTRIBUTE t[] = {
			{ CKA_CLASS, &cls, sizeof(cls) },
			{ CKA_ID, id, (CK_ULONG)idlen },
		};

		if ((rc = compare_certs(p, s, t, 2, der, derlen, &same, &other)) != 0)
			goto out;
	}
	if (!same && other) {
		rc = p11_error(p, UKEY_ERR_EXISTS,
		    "id: another certificate with this id is already on the token");
		goto out;
	}
	if (same)
		log_info("the certificate is already on the token");
	else if ((rc = create_cert(p, s, cert, der, derlen, id, idlen, label, CATEGORY_USER)) != 0)
		goto out;
	if (ca != NULL && (rc = write_ca_cert(p, s, ca, cader, caderlen, ca_label)) != 0)
		goto out;
	log_info("certificate%s written to the token", ca != NULL ? " and CA certificate" : "");
	rc = 0;
 out:
	p11_session_release(p, s, rc == 0);
	X509_free(cert);
	X509_free(ca);
	free(id);
	free(der);
	free(cader);
	secret_clear(&pin);
	return rc;
}

int
op_read_back(struct p11 *p, struct json_object *req, struct json_object *rep)
{
	struct secret pin = { 0 };
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_ULONG cat = CATEGORY_AUTHORITY;
	CK_ATTRIBUTE catmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_CERTIFICATE_CATEGORY, &cat, sizeof(cat) },
	};
	CK_OBJECT_HANDLE h, pubh = CK_INVALID_HANDLE, objs[MAX_CERTS];
	struct json_object *cas = NULL, *ev = NULL, *usage = NULL;
	uint8_t *id = NULL, *der = NULL, *spki = NULL;
	size_t idlen = 0, derlen = 0, spkilen = 0, n = 0, i;
	const char *bad = NULL, *usage_bad = NULL;
	EVP_PKEY *pub = NULL;
	X509 *cert = NULL;
	unsigned ops = 0;
	int rc, have_priv = 0, have_usage = 0;

	if ((rc = req_pin(p, req, "user_pin", 1, &pin)) != 0 ||
	    (rc = req_hex(p, req, "id", 1, P11_MAX_ID, &id, &idlen)) != 0 ||
	    (rc = req_usage(p, req, "usage", 0, &ops, &have_usage)) != 0)
		goto out;
	if ((rc = p11_session_user(p, 0, &pin, &s)) != 0)
		goto out;
	/* the end-entity certificate */
	if ((rc = p11_find_by_id(p, s, CKO_CERTIFICATE, id, idlen, &h)) == 0) {
		rc = p11_get_attr(p, s, h, CKA_VALUE, CERT_MAX, &der, &derlen);
		if (rc != 0 && rc != UKEY_ERR_NOTFOUND)
			goto out;
	} else if (rc != UKEY_ERR_NOTFOUND) {
		goto out;
	}
	if ((rc = rep_hex(rep, "cert", der, derlen)) != 0)
		goto out;
	/* the CA certificates */
	if ((cas = json_object_new_array()) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if ((rc = p11_find(p, s, catmpl, 2, objs, MAX_CERTS, &n)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		uint8_t *v = NULL;
		size_t vlen = 0;
		char *hex;
		struct json_object *js;

		if ((rc = p11_get_attr(p, s, objs[i], CKA_VALUE, CERT_MAX, &v, &vlen)) ==
		    UKEY_ERR_NOTFOUND)
			continue;
		if (rc != 0)
			goto out;
		hex = hex_encode(v, vlen);
		free(v);
		if (hex == NULL || (js = json_object_new_string(hex)) == NULL ||
		    json_object_array_add(cas, js) != 0) {
			free(hex);
			rc = UKEY_ERR_NOMEM;
			goto out;
		}
		free(hex);
	}
	rc = rep_take(rep, "ca_certs", cas);
	cas = NULL;
	if (rc != 0)
		goto out;
	/* the public key */
	if ((rc = p11_find_by_id(p, s, CKO_PUBLIC_KEY, id, idlen, &h)) == 0) {
		pubh = h;
		if ((rc = pubkey_from_object(p, s, h, &pub)) != 0 ||
		    (rc = spki_encode(pub, &spki, &spkilen)) != 0)
			goto out;
	} else if (rc != UKEY_ERR_NOTFOUND) {
		goto out;
	}
	if ((rc = rep_hex(rep, "public_key", spki, spkilen)) != 0)
		goto out;
	/* does the certificate on the token belong to that key? */
	if (der != NULL && pub != NULL) {
		cert = dercache_cert(&certs_seen, der, derlen);
		rc = rep_bool(rep, "cert_matches_key",
		    cert != NULL && EVP_PKEY_eq(pub, X509_get0_pubkey(cert)) == 1);
		ERR_clear_error();
	} else {
		rc = rep_take(rep, "cert_matches_key", NULL);
	}
	if (rc != 0)
		goto out;
	/* the private key and its evidence */
	if ((rc = p11_find_by_id(p, s, CKO_PRIVATE_KEY, id, idlen, &h)) == 0) {
		have_priv = 1;
		if ((rc = evidence_read(p, s, h, &ev, &bad)) != 0 ||
		    (rc = usage_read(p, s, h, pubh, ops, &usage, &usage_bad)) != 0)
			goto out;
		rc = rep_take(ev, "usage", usage);
		usage = NULL;
		if (rc != 0)
			goto out;
	} else if (rc != UKEY_ERR_NOTFOUND) {
		goto out;
	}
	if ((rc = rep_bool(rep, "private_key", have_priv)) != 0)
		goto out;
	rc = rep_take(rep, "evidence", ev);
	ev = NULL;
	/* the usage is judged only against what the request allows */
	if (rc != 0 || (rc = rep_bool(rep, "evidence_ok", have_priv && bad == NULL &&
	    (!have_usage || usage_bad == NULL))) != 0)
		goto out;
	rc = 0;
 out:
	/* the job's last step on the token: its session ends here */
	p11_session_release(p, s, 0);
	json_object_put(cas);
	json_object_put(ev);
	json_object_put(usage);
	X509_free(cert);
	EVP_PKEY_free(pub);
	OPENSSL_free(spki);
	free(der);
	free(id);
	secret_clear(&pin);
	return rc;
}
