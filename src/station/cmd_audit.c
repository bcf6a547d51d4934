/* Control commands for auditors: issued serials, the audit chain, the CA. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "ca/certcheck.h"
#include "common/err.h"
#include "station/control.h"
#include "store/audit.h"
#include "store/auditkey.h"
#include "store/witness.h"
#include "ca/ca.h"

int
cmd_audit_serials(struct request *r, struct json_object **result)
{
	const char *org = NULL;
	int64_t order = 0;
	int have_order;

	if (arg_str(r, "org", 0, &org) == UKEY_ERR_INVAL)
		return UKEY_ERR_INVAL;
	have_order = arg_int(r, "order", 0, &order);
	if (have_order == UKEY_ERR_INVAL)
		return UKEY_ERR_INVAL;
	return store_query(station_store(r->s), result,
	    "SELECT s.cert_serial AS serial, s.order_id, o.portal_ref, s.unit_id, s.kind, s.subject,"
	    " s.issuer, s.not_before, s.not_after, s.key_alg, s.key_local, s.key_always_sensitive,"
	    " s.key_never_extractable, s.key_usage, s.token_serial, s.token_model, s.token_profile, s.token_uri,"
	    " s.org_uscc, s.operator, s.station_id, s.started_at, s.issued_at"
	    " FROM issuances s JOIN orders o ON o.id = s.order_id"
	    " WHERE (?1 = 0 OR s.order_id = ?1) AND (?2 IS NULL OR s.org_uscc = ?2) ORDER BY s.id",
	    "it", have_order == 0 ? order : (int64_t)0, org);
}

/* The optional "witness" argument: the heads ukeyctl read from a witness file
 * and whose signatures it checked, [{line, records, head, at}, ...]. */
static int
witness_arg(struct request *r, struct witness_set *ws)
{
	struct json_object *arr = NULL;
	size_t i, n;

	if (!json_object_object_get_ex(r->args, "witness", &arr))
		return UKEY_ERR_NOTFOUND;
	if (!json_object_is_type(arr, json_type_array))
		return req_fail(r, UKEY_ERR_INVAL, "argument witness: must be an array of heads");
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		struct json_object *it = json_object_array_get_idx(arr, i), *o;
		struct witness_point pt = { 0 };
		const char *head, *at;

		if (!json_object_is_type(it, json_type_object) ||
		    !json_object_object_get_ex(it, "records", &o) ||
		    !json_object_is_type(o, json_type_int) || (pt.records = json_object_get_int64(o)) < 0 ||
		    !json_object_object_get_ex(it, "line", &o) || !json_object_is_type(o, json_type_int) ||
		    (pt.line = json_object_get_int64(o)) < 1 ||
		    !json_object_object_get_ex(it, "head", &o) || !json_object_is_type(o, json_type_string) ||
		    (head = json_object_get_string(o)) == NULL ||
		    strlen(head) != WITNESS_HASH_LEN || strspn(head, "0123456789abcdef") != WITNESS_HASH_LEN ||
		    !json_object_object_get_ex(it, "at", &o) || !json_object_is_type(o, json_type_string) ||
		    (at = json_object_get_string(o)) == NULL ||
		    strlen(at) >= sizeof(pt.at))
			return req_fail(r, UKEY_ERR_INVAL, "argument witness, item %zu: needs line (from 1),"
			    " records (from 0), head (%d hex digits) and at", i + 1, WITNESS_HASH_LEN);
		memcpy(pt.head, head, sizeof(pt.head));
		memcpy(pt.at, at, strlen(at) + 1);
		if (witness_set_add(ws, &pt) != 0)
			return UKEY_ERR_NOMEM;
	}
	return 0;
}

int
cmd_audit_verify(struct request *r, struct json_object **result)
{
	struct witness_set ws = { 0 };
	struct audit_report rep;
	char key_id[AUDIT_KEY_ID_LEN + 1];
	int rc, have_ws;

	if ((rc = witness_arg(r, &ws)) != 0 && rc != UKEY_ERR_NOTFOUND)
		goto out;
	have_ws = rc == 0;
	rc = audit_verify_db(store_db(station_store(r->s)), station_audit_key(r->s),
	    have_ws ? &ws : NULL, &rep);
	if (rc != 0 && rc != UKEY_ERR_VERIFY)
		goto out;
	*result = audit_report_json(&rep);
	if (audit_key_id(station_audit_key(r->s), key_id) == 0)
		json_object_object_add(*result, "key_id", json_object_new_string(key_id));
	rc = 0;
 out:
	witness_set_clear(&ws);
	return rc;
}

int
cmd_audit_checkpoint(struct request *r, struct json_object **result)
{
	int rc = audit_checkpoint(station_store(r->s), station_audit_key(r->s),
	    station_cfg(r->s)->station_id, r->c->user, "request", result);

	if (rc != 0)
		return req_fail(r, rc, "audit.checkpoint: %s", ukey_strerror(rc));
	station_witness(r->s, "checkpoint");
	return 0;
}

int
cmd_audit_pubkey(struct request *r, struct json_object **result)
{
	char key_id[AUDIT_KEY_ID_LEN + 1], *pem = NULL;
	int rc;

	if ((rc = audit_pubkey_pem(station_audit_key(r->s), &pem)) != 0 ||
	    (rc = audit_key_id(station_audit_key(r->s), key_id)) != 0) {
		free(pem);
		return rc;
	}
	*result = json_object_new_object();
	json_object_object_add(*result, "pem", json_object_new_string(pem));
	json_object_object_add(*result, "key_id", json_object_new_string(key_id));
	json_object_object_add(*result, "alg", json_object_new_string(AUDIT_KEY_ALG));
	free(pem);
	return 0;
}

/* One page of the export. The client fixes "upto" from the first reply so
 * that records appended meanwhile, and checkpoints over them, are left out
 * together. */
int
cmd_audit_export(struct request *r, struct json_object **result)
{
	const char *what = "records";
	int64_t after = 0, upto = 0, limit = 1000;
	struct json_object *items = NULL;
	int rc, cps;

	if (arg_str(r, "what", 0, &what) == UKEY_ERR_INVAL ||
	    arg_int(r, "after", 0, &after) == UKEY_ERR_INVAL ||
	    arg_int(r, "limit", 0, &limit) == UKEY_ERR_INVAL)
		return UKEY_ERR_INVAL;
	if (what == NULL)
		what = "records";
	if (strcmp(what, "records") != 0 && strcmp(what, "checkpoints") != 0)
		return req_fail(r, UKEY_ERR_INVAL, "argument what: must be records or checkpoints");
	cps = strcmp(what, "checkpoints") == 0;
	if (limit < 1 || limit > 10000)
		return req_fail(r, UKEY_ERR_INVAL, "argument limit: 1..10000");
	if (after < 0)
		return req_fail(r, UKEY_ERR_INVAL, "argument after: must not be negative");
	rc = arg_int(r, "upto", 0, &upto);
	if (rc == UKEY_ERR_INVAL)
		return rc;
	if (rc == UKEY_ERR_NOTFOUND) {
		rc = store_int(station_store(r->s), &upto, "SELECT coalesce(max(id), 0) FROM audit", "");
		if (rc != 0)
			return rc;
	}
	if ((rc = audit_export_page(station_store(r->s), cps, after, upto, limit, &items)) != 0)
		return rc;
	*result = json_object_new_object();
	json_object_object_add(*result, "what", json_object_new_string(what));
	json_object_object_add(*result, "upto", json_object_new_int64(upto));
	json_object_object_add(*result, "items", items);
	return 0;
}

int
cmd_audit_log(struct request *r, struct json_object **result)
{
	int64_t limit = 100, order = 0;
	int have_order;

	(void)arg_int(r, "limit", 0, &limit);
	have_order = arg_int(r, "order", 0, &order);
	if (limit < 1 || limit > 100000)
		return req_fail(r, UKEY_ERR_INVAL, "limit: 1..100000");
	return store_query(station_store(r->s), result,
	    "SELECT * FROM (SELECT id, at, actor, action, order_id, unit_id, job_id, token, bay, detail"
	    " FROM audit WHERE (?1 = 0 OR order_id = ?1) ORDER BY id DESC LIMIT ?2) ORDER BY id", "ii",
	    have_order == 0 ? order : (int64_t)0, limit);
}

int
cmd_ca_show(struct request *r, struct json_object **result)
{
	const X509 *ca = ca_cert(station_ca(r->s));
	BIO *bio = BIO_new(BIO_s_mem());
	char *subj = NULL, serial[80] = "";
	BUF_MEM *mem;

	if (bio == NULL || PEM_write_bio_X509(bio, (X509 *)ca) != 1) {
		BIO_free(bio);
		return UKEY_ERR_CRYPTO;
	}
	BIO_get_mem_ptr(bio, &mem);
	*result = json_object_new_object();
	json_object_object_add(*result, "pem", json_object_new_string_len(mem->data, (int)mem->length));
	if (cert_subject_text(X509_get_subject_name(ca), &subj) == 0)
		json_object_object_add(*result, "subject", json_object_new_string(subj));
	if (cert_serial_hex(ca, serial, sizeof(serial)) == 0)
		json_object_object_add(*result, "serial", json_object_new_string(serial));
	json_object_object_add(*result, "dir", json_object_new_string(station_cfg(r->s)->ca_dir));
	free(subj);
	BIO_free(bio);
	return 0;
}
