/* Control commands on issued certificates: revocation (cert.revoke) and the
 * CRL the embedded CA publishes (ca.crl). docs/ca.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "ca/certcheck.h"
#include "common/err.h"
#include "common/log.h"
#include "station/control.h"
#include "store/store_revoke.h"
#include "ca/ca.h"

#define REMARK_MAX 500

/* The arguments of cert.revoke, checked: serial, reason, remark. */
static int
revoke_args(struct request *r, const char **serial, const char **reason, const char **remark)
{
	if (arg_str(r, "serial", 1, serial) != 0 || arg_str(r, "reason", 1, reason) != 0 ||
	    arg_str(r, "remark", 1, remark) != 0)
		return UKEY_ERR_INVAL;
	if (**serial == '\0' || strlen(*serial) > 64 ||
	    strspn(*serial, "0123456789abcdefABCDEF") != strlen(*serial))
		return req_fail(r, UKEY_ERR_INVAL, "argument serial: must be 1 to 64 hex digits");
	if (!ca_reason_known(*reason))
		return req_fail(r, UKEY_ERR_INVAL, "argument reason: '%.64s' is not an RFC 5280 "
		    "reason name (unspecified, keyCompromise, affiliationChanged, superseded, "
		    "cessationOfOperation, certificateHold, privilegeWithdrawn)", *reason);
	if (strspn(*remark, " \t") == strlen(*remark) || strlen(*remark) > REMARK_MAX)
		return req_fail(r, UKEY_ERR_INVAL, "argument remark: must say why, 1 to %d bytes",
		    REMARK_MAX);
	return 0;
}

/* Records the revocation in station.db with its audit record, in one
 * transaction. */
static int
revoke_record(struct station *s, const char *actor, const struct store_issuance_rev *iss,
    const char *reason, const char *remark, const char *now)
{
	struct json_object *d;
	int rc;

	if ((rc = store_begin(station_store(s))) != 0)
		return rc;
	rc = store_issuance_revoke(station_store(s), iss->cert_serial, now, reason, actor, remark);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "serial", json_object_new_string(iss->cert_serial));
		json_object_object_add(d, "reason", json_object_new_string(reason));
		json_object_object_add(d, "remark", json_object_new_string(remark));
		rc = station_audit(s, actor, "cert.revoke", iss->order_id, iss->unit_id,
		    iss->job_id, iss->token_serial, NULL, d);
	}
	if (rc == 0)
		rc = store_commit(station_store(s));
	if (rc != 0)
		store_rollback(station_store(s));
	return rc;
}

int
station_revoke_cert(struct station *s, const char *actor, const struct store_issuance_rev *iss,
    const char *reason, const char *remark, char now[32])
{
	int rc = ca_revoke(station_ca(s), iss->cert_serial, reason);

	if (rc == UKEY_ERR_STATE) {
		log_warn("certificate %s was revoked at the CA already; recording it here",
		    iss->cert_serial);
	} else if (rc != 0) {
		log_error("certificate %s: the CA did not revoke it: %s", iss->cert_serial,
		    ukey_strerror(rc));
		return rc;
	}
	store_now(now);
	if ((rc = revoke_record(s, actor, iss, reason, remark, now)) != 0)
		return rc;
	log_info("certificate %s revoked by %s (%s): %s", iss->cert_serial, actor, reason, remark);
	return 0;
}

/* The CA first, then the station's record: a failure between the two
 * leaves the certificate revoked at the CA only, and the same command run
 * again finds it so there and completes the station's side. */
int
cmd_cert_revoke(struct request *r, struct json_object **result)
{
	struct store_issuance_rev iss = { 0 };
	const char *serial, *reason, *remark;
	char now[32];
	int64_t number = 0;
	int rc, crl_rc;

	if ((rc = revoke_args(r, &serial, &reason, &remark)) != 0)
		goto out;
	if ((rc = store_issuance_by_serial(station_store(r->s), serial, &iss)) != 0) {
		if (rc == UKEY_ERR_NOTFOUND)
			rc = req_fail(r, rc, "certificate %s: this station issued no certificate with"
			    " this serial", serial);
		goto out;
	}
	if (iss.revoked_at != NULL) {
		rc = req_fail(r, UKEY_ERR_STATE, "certificate %s: already revoked at %s by %s (%s)",
		    iss.cert_serial, iss.revoked_at, iss.revoked_by ? iss.revoked_by : "?",
		    iss.revoke_reason ? iss.revoke_reason : "unspecified");
		goto out;
	}
	if ((rc = station_revoke_cert(r->s, r->c->user, &iss, reason, remark, now)) != 0) {
		rc = req_fail(r, rc, "certificate %s: not revoked: %s", iss.cert_serial,
		    ukey_strerror(rc));
		goto out;
	}
	crl_rc = station_crl_publish(r->s, &number);
	*result = json_object_new_object();
	json_object_object_add(*result, "serial", json_object_new_string(iss.cert_serial));
	json_object_object_add(*result, "order_id", json_object_new_int64(iss.order_id));
	json_object_object_add(*result, "revoked_at", json_object_new_string(now));
	json_object_object_add(*result, "reason", json_object_new_string(reason));
	if (crl_rc == 0)
		json_object_object_add(*result, "crl_number", json_object_new_int64(number));
	else if (crl_rc != UKEY_ERR_UNSUPPORTED)
		json_object_object_add(*result, "crl_error",
		    json_object_new_string(ukey_strerror(crl_rc)));
	rc = 0;
 out:
	store_issuance_rev_clear(&iss);
	return rc;
}

static void
add_time(struct json_object *o, const char *key, const ASN1_TIME *t)
{
	char iso[32];

	if (t != NULL && cert_time_iso(t, iso, sizeof(iso)) == 0)
		json_object_object_add(o, key, json_object_new_string(iso));
}

/* The CRL as last published at crl_path: its PEM, number and times. */
int
cmd_ca_crl(struct request *r, struct json_object **result)
{
	const char *path = station_cfg(r->s)->ca_crl_path;
	X509_CRL *crl = NULL;
	ASN1_INTEGER *num = NULL;
	BIO *bio = NULL;
	BUF_MEM *mem;
	FILE *f;
	int rc, n;

	if ((f = fopen(path, "re")) == NULL)
		return req_fail(r, UKEY_ERR_NOTFOUND, "no CRL at %s: the CA publishes none yet", path);
	crl = PEM_read_X509_CRL(f, NULL, NULL, NULL);
	fclose(f);
	if (crl == NULL || (bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509_CRL(bio, crl) != 1) {
		rc = req_fail(r, UKEY_ERR_CRYPTO, "%s does not hold a PEM CRL", path);
		goto out;
	}
	BIO_get_mem_ptr(bio, &mem);
	*result = json_object_new_object();
	json_object_object_add(*result, "pem",
	    json_object_new_string_len(mem->data, (int)mem->length));
	json_object_object_add(*result, "path", json_object_new_string(path));
	if ((num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL)) != NULL)
		json_object_object_add(*result, "number",
		    json_object_new_int64(ASN1_INTEGER_get(num)));
	add_time(*result, "this_update", X509_CRL_get0_lastUpdate(crl));
	add_time(*result, "next_update", X509_CRL_get0_nextUpdate(crl));
	/* an empty CRL has no list at all (-1) */
	n = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));
	json_object_object_add(*result, "revoked", json_object_new_int(n > 0 ? n : 0));
	rc = 0;
 out:
	ASN1_INTEGER_free(num);
	BIO_free(bio);
	X509_CRL_free(crl);
	return rc;
}
