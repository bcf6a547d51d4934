/* Looking at a token without changing it (inspect): the token's description
 * and URI, and every object visible, with the attributes that show how a key
 * is protected and what each certificate is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "common/err.h"
#include "common/log.h"
#include "ca/certcheck.h"
#include "worker/ops.h"

#define TEXT_MAX 1024

/* The one-line RFC 2253 form of name, UTF-8 kept as is; NULL on failure. */
static char *
name_text(const X509_NAME *name)
{
	BIO *bio;
	char *data = NULL, *out = NULL;
	long n;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_get_mem_data(bio, &data)) >= 0 && (out = malloc(TEXT_MAX)) != NULL)
		p11_text(out, TEXT_MAX, (const unsigned char *)data, (size_t)n);
	BIO_free(bio);
	return out;
}

static int
cert_fields(const uint8_t *der, size_t len, struct json_object *o)
{
	const unsigned char *q = der;
	X509 *x = NULL;
	char *subj = NULL, *iss = NULL, ser[80], when[32];
	struct tm tm;
	int rc = 0;

	if ((x = d2i_X509(NULL, &q, (long)len)) == NULL || q != der + len) {
		/* not X.509: say so rather than fail the whole inspection */
		ERR_clear_error();
		rc = rep_bool(o, "unparsable", 1);
		goto out;
	}
	subj = name_text(X509_get_subject_name(x));
	iss = name_text(X509_get_issuer_name(x));
	/* the form the station records serials in: upper case, no leading 00 */
	if (cert_serial_hex(x, ser, sizeof(ser)) != 0)
		ser[0] = '\0';
	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1 ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		when[0] = '\0';
	if ((rc = rep_string(o, "subject", subj)) != 0 || (rc = rep_string(o, "issuer", iss)) != 0 ||
	    (rc = rep_string(o, "serial", ser[0] ? ser : NULL)) != 0 ||
	    (rc = rep_string(o, "not_after", when[0] ? when : NULL)) != 0)
		goto out;
	rc = 0;
 out:
	ERR_clear_error();
	free(subj);
	free(iss);
	X509_free(x);
	return rc;
}

static int
object_json(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const CK_TOKEN_INFO *ti,
    struct json_object **out)
{
	static const struct {
		CK_ATTRIBUTE_TYPE type;
		const char *key;
		int keys_only, private_only;
	} flags[] = {
		{ CKA_TOKEN, "token", 0, 0 },
		{ CKA_PRIVATE, "private", 0, 0 },
		{ CKA_SENSITIVE, "sensitive", 1, 1 },
		{ CKA_EXTRACTABLE, "extractable", 1, 1 },
		{ CKA_LOCAL, "local", 1, 0 },
		{ CKA_ALWAYS_SENSITIVE, "always_sensitive", 1, 1 },
		{ CKA_NEVER_EXTRACTABLE, "never_extractable", 1, 1 },
	};
	struct json_object *o = NULL, *attrs = NULL;
	CK_ULONG cls = 0, kt = 0;
	uint8_t *id = NULL, *label = NULL, *value = NULL;
	size_t idlen = 0, labellen = 0, valuelen = 0, i;
	char text[P11_MAX_LABEL + 1], *uri = NULL;
	const char *cname, *utype;
	int rc, is_key, is_secret_half, v;

	*out = NULL;
	if ((rc = p11_get_ulong(p, s, h, CKA_CLASS, &cls)) != 0 && rc != UKEY_ERR_NOTFOUND)
		return rc;
	switch (cls) {
	case CKO_DATA: cname = "data"; utype = "data"; break;
	case CKO_CERTIFICATE: cname = "certificate"; utype = "cert"; break;
	case CKO_PUBLIC_KEY: cname = "public-key"; utype = "public"; break;
	case CKO_PRIVATE_KEY: cname = "private-key"; utype = "private"; break;
	case CKO_SECRET_KEY: cname = "secret-key"; utype = "secret-key"; break;
	default: cname = "other"; utype = NULL; break;
	}
	is_key = cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY;
	is_secret_half = cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY;
	if ((o = json_object_new_object()) == NULL || (attrs = json_object_new_object()) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if ((rc = rep_string(o, "class", cname)) != 0)
		goto out;
	if ((rc = p11_get_attr(p, s, h, CKA_ID, P11_MAX_ID, &id, &idlen)) != 0 &&
	    rc != UKEY_ERR_NOTFOUND)
		goto out;
	if ((rc = rep_hex(o, "id", id, idlen)) != 0)
		goto out;
	/* an overlong label is shown cut, not refused: inspect must always work */
	rc = p11_get_attr(p, s, h, CKA_LABEL, P11_MAX_VALUE, &label, &labellen);
	if (rc != 0 && rc != UKEY_ERR_NOTFOUND)
		goto out;
	if (label != NULL)
		p11_text(text, sizeof(text), label, labellen);
	if ((rc = rep_string(o, "label", label != NULL ? text : NULL)) != 0)
		goto out;
	if (is_key) {
		if ((rc = p11_get_ulong(p, s, h, CKA_KEY_TYPE, &kt)) != 0 && rc != UKEY_ERR_NOTFOUND)
			goto out;
		if ((rc = rep_string(o, "key_type", rc != 0 ? NULL : kt == CKK_RSA ? "rsa" :
		    kt == CKK_EC ? "ec" : "other")) != 0)
			goto out;
	}
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if ((flags[i].keys_only && !is_key) || (flags[i].private_only && !is_secret_half))
			continue;
		rc = p11_get_bool(p, s, h, flags[i].type, &v);
		if (rc == UKEY_ERR_NOTFOUND)
			continue;
		if (rc != 0 || (rc = rep_bool(attrs, flags[i].key, v)) != 0)
			goto out;
	}
	rc = rep_take(o, "attributes", attrs);
	attrs = NULL;
	if (rc != 0)
		goto out;
	if (cls == CKO_CERTIFICATE) {
		rc = p11_get_attr(p, s, h, CKA_VALUE, P11_MAX_VALUE, &value, &valuelen);
		if (rc == 0)
			rc = cert_fields(value, valuelen, o);
		else if (rc == UKEY_ERR_INVAL)
			rc = 0;		/* oversize: listed without its details */
		if (rc != 0 && rc != UKEY_ERR_NOTFOUND)
			goto out;
	}
	if (utype != NULL) {
		const struct p11uri obj = { .id = id, .idlen = idlen,
		    .object = label != NULL ? text : NULL, .type = utype };

		if ((uri = token_uri(ti, &obj)) == NULL) {
			rc = UKEY_ERR_NOMEM;
			goto out;
		}
		if ((rc = rep_string(o, "uri", uri)) != 0)
			goto out;
	}
	*out = o;
	o = NULL;
	rc = 0;
 out:
	json_object_put(o);
	json_object_put(attrs);
	free(id);
	free(label);
	free(value);
	free(uri);
	return rc;
}

int
op_inspect(struct p11 *p, struct json_object *req, struct json_object *rep)
{
	static CK_OBJECT_HANDLE objs[P11_MAX_OBJECTS];
	struct secret pin = { 0 };
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_TOKEN_INFO ti;
	struct json_object *t = NULL, *list = NULL, *obj;
	char *uri = NULL;
	size_t n = 0, i;
	int rc, logged_in = 0;

	if ((rc = req_pin(p, req, "user_pin", 0, &pin)) != 0)
		goto out;
	if ((rc = p11_ensure_slot(p, &ti)) != 0 || (rc = token_json(&ti, &t)) != 0)
		goto out;
	if ((uri = token_uri(&ti, NULL)) == NULL || (list = json_object_new_array()) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if (ti.flags & CKF_TOKEN_INITIALIZED) {
		if ((rc = p11_session_open(p, 0, CKU_USER, pin.p != NULL ? &pin : NULL, &s)) != 0)
			goto out;
		logged_in = pin.p != NULL;
		if ((rc = p11_find(p, s, NULL, 0, objs, P11_MAX_OBJECTS, &n)) != 0)
			goto out;
		for (i = 0; i < n; i++) {
			if ((rc = object_json(p, s, objs[i], &ti, &obj)) != 0)
				goto out;
			if (json_object_array_add(list, obj) != 0) {
				json_object_put(obj);
				rc = UKEY_ERR_NOMEM;
				goto out;
			}
		}
	}
	if ((rc = rep_int(rep, "slot_id", (int64_t)p->slot)) != 0)
		goto out;
	rc = rep_take(rep, "token", t);
	t = NULL;
	if (rc != 0 || (rc = rep_string(rep, "uri", uri)) != 0 ||
	    (rc = rep_bool(rep, "logged_in", logged_in)) != 0)
		goto out;
	rc = rep_take(rep, "objects", list);
	list = NULL;
	if (rc != 0)
		goto out;
	rc = 0;
 out:
	p11_session_close(p, s, logged_in);
	json_object_put(t);
	json_object_put(list);
	free(uri);
	secret_clear(&pin);
	return rc;
}
