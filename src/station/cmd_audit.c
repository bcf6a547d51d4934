/* Control commands for auditors: issued serials, certificates about to
 * expire, the audit chain, the CA. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "ca/certcheck.h"
#include "common/err.h"
#include "common/jsontext.h"
#include "common/log.h"
#include "station/control.h"
#include "station/station.h"
#include "store/audit.h"
#include "store/auditkey.h"
#include "store/store_auditq.h"

#include "store/witness.h"
#include "station/verifythread.h"
#include "ca/ca.h"

/* Rows of `audit serials` one request may ask for (about 1.5 KiB each:
 * far below the protocol's 4 MiB). */
#define SERIALS_PAGE_MAX 2000

int
cmd_audit_serials(struct request *r, struct json_object **result)
{
	struct store_serials_page q = { 0 };
	struct page p;
	int have_order, rc;
	char now[32];

	if (arg_str(r, "org", 0, &q.org) == UKEY_ERR_INVAL)
		return UKEY_ERR_INVAL;
	if ((rc = page_args(r, SERIALS_PAGE_MAX, &p)) != 0)
		return rc;
	q.after = p.after;
	q.limit = p.limit;
	have_order = arg_int(r, "order", 0, &q.order_id);
	if (have_order == UKEY_ERR_INVAL)
		return UKEY_ERR_INVAL;
	if (have_order != 0)
		q.order_id = 0;
	store_now(now);
	q.now = now;
	if ((rc = store_auditq_serials_page(station_store(r->s), &q, result)) != 0)
		return rc;
	page_next_key(r, *result, "id", &p);
	return 0;
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
		/* heads of this station's chain unless the line named another */
		if (!json_object_object_get_ex(it, "station", &o) ||
		    !json_object_is_type(o, json_type_string) ||
		    json_object_get_string_len(o) == 0 ||
		    json_object_get_string_len(o) > WITNESS_STATION_MAX)
			o = NULL;
		snprintf(pt.station, sizeof(pt.station), "%s",
		    o ? json_object_get_string(o) : station_cfg(r->s)->station_id);
		if (witness_set_add(ws, &pt) != 0)
			return UKEY_ERR_NOMEM;
	}
	return 0;
}

int
cmd_audit_verify(struct request *r, struct json_object **result)
{
	struct witness_set ws = { 0 };
	struct json_object *o = NULL;
	const char *only = NULL;
	int rc, full;

	(void)result;	/* the reply is deferred: the verification's thread ends it */
	if (arg_str(r, "station", 0, &only) == UKEY_ERR_INVAL)
		return UKEY_ERR_INVAL;
	if (only != NULL && (only[0] == '\0' || strlen(only) > AUDIT_STATION_MAX))
		return req_fail(r, UKEY_ERR_INVAL, "argument station: a station id of 1 to %d bytes",
		    AUDIT_STATION_MAX);
	full = json_object_object_get_ex(r->args, "full", &o) && json_object_get_boolean(o);
	if ((rc = witness_arg(r, &ws)) != 0 && rc != UKEY_ERR_NOTFOUND)
		goto out;
	/* every station's chain, each with its registered keys, in a thread */
	rc = verifythreads_request(r, only, full, rc == 0 ? &ws : NULL);
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
	enum audit_export_what w;
	int rc;

	if (arg_str(r, "what", 0, &what) == UKEY_ERR_INVAL ||
	    arg_int(r, "after", 0, &after) == UKEY_ERR_INVAL ||
	    arg_int(r, "limit", 0, &limit) == UKEY_ERR_INVAL)
		return UKEY_ERR_INVAL;
	if (what == NULL)
		what = "records";
	if (strcmp(what, "records") != 0 && strcmp(what, "checkpoints") != 0 &&
	    strcmp(what, "keys") != 0)
		return req_fail(r, UKEY_ERR_INVAL, "argument what: must be keys, records or"
		    " checkpoints");
	w = strcmp(what, "keys") == 0 ? AUDIT_EXPORT_KEYS : strcmp(what, "checkpoints") == 0 ?
	    AUDIT_EXPORT_CHECKPOINTS : AUDIT_EXPORT_RECORDS;
	if (limit < 1 || limit > 10000)
		return req_fail(r, UKEY_ERR_INVAL, "argument limit: 1..10000");
	if (after < 0)
		return req_fail(r, UKEY_ERR_INVAL, "argument after: must not be negative");
	rc = arg_int(r, "upto", 0, &upto);
	if (rc == UKEY_ERR_INVAL)
		return rc;
	if (rc == UKEY_ERR_NOTFOUND) {
		if ((rc = store_auditq_last_id(station_store(r->s), &upto)) != 0)
			return rc;
	}
	if ((rc = audit_export_page(station_store(r->s), w, after, upto, limit, &items)) != 0)
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
	struct page p;
	int have_order, rc;

	have_order = arg_int(r, "order", 0, &order);
	if (have_order != 0)
		order = 0;
	if (json_object_object_get_ex(r->args, "after", NULL)) {
		/* a page, oldest first, from a record id on */
		if ((rc = page_args(r, LIST_PAGE_MAX, &p)) != 0 ||
		    (rc = store_auditq_log_after(station_store(r->s), order, p.after, p.limit,
		    result)) != 0)
			return rc;
		page_next_key(r, *result, "id", &p);
		return 0;
	}
	/* the latest records: at most a page, which says nothing to go on from */
	(void)arg_int(r, "limit", 0, &limit);
	if (limit < 1 || limit > LIST_PAGE_MAX)
		return req_fail(r, UKEY_ERR_INVAL, "argument limit: 1..%d (the largest page; "
		    "more with after)", LIST_PAGE_MAX);
	return store_auditq_log(station_store(r->s), order, limit, result);
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

/* "2026-11-21T08:20:00Z" to a time_t, or -1. */
static time_t
iso_time(const char *iso)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (iso == NULL || (end = strptime(iso, "%Y-%m-%dT%H:%M:%SZ", &tm)) == NULL || *end != '\0')
		return (time_t)-1;
	return timegm(&tm);
}

static struct json_object *
expiring_json(const struct store_expiring *e, time_t now)
{
	struct json_object *o = json_object_new_object();
	time_t na = iso_time(e->not_after);

	json_object_object_add(o, "serial", json_object_new_string(e->serial));
	json_object_object_add(o, "subject", json_object_new_string(e->subject));
	json_object_object_add(o, "kind", json_object_new_string(e->kind));
	json_object_object_add(o, "org_uscc", json_object_new_string(e->org_uscc));
	json_object_object_add(o, "order_id", json_object_new_int64(e->order_id));
	json_object_object_add(o, "token_serial", json_object_new_string(e->token_serial));
	json_object_object_add(o, "not_after", json_object_new_string(e->not_after));
	/* whole days left, rounded down: 0 on the last day */
	json_object_object_add(o, "days_left",
	    json_object_new_int64(na == (time_t)-1 ? -1 : (int64_t)(na - now) / 86400));
	json_object_object_add(o, "renewal", json_object_new_boolean(e->renewal_order != 0));
	if (e->renewal_order != 0) {
		json_object_object_add(o, "renewal_order", json_object_new_int64(e->renewal_order));
		json_object_object_add(o, "renewal_ref", json_object_new_string(e->renewal_ref));
	}
	return o;
}

int
station_expiring_count(struct station *s, int days, int64_t *n)
{
	time_t now = time(NULL), until = now + (time_t)days * 86400;
	char nows[32], untils[32];
	struct tm tm;

	strftime(nows, sizeof(nows), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	strftime(untils, sizeof(untils), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&until, &tm));
	return store_auditq_expiring_count(station_store(s), nows, untils, n);
}

/* The live certificates whose not_after falls within the next `within`
 * days, soonest first, and whether a renewal order already names each. */
int
cmd_audit_expiring(struct request *r, struct json_object **result)
{
	struct store_expiring *list = NULL;
	struct page p;
	const char *org = NULL;
	int64_t within = 0;
	time_t now = time(NULL), until;
	char nows[32], untils[32];
	struct tm tm;
	size_t i, n = 0;
	int rc;

	if (arg_int(r, "within", 1, &within) != 0 || arg_str(r, "org", 0, &org) == UKEY_ERR_INVAL)
		return UKEY_ERR_INVAL;
	if (within < 1 || within > 3650)
		return req_fail(r, UKEY_ERR_INVAL, "argument within: 1 to 3650 days");
	until = now + (time_t)within * 86400;
	strftime(nows, sizeof(nows), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	strftime(untils, sizeof(untils), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&until, &tm));
	if ((rc = page_args(r, LIST_PAGE_MAX, &p)) != 0)
		return rc;
	rc = store_auditq_expiring(station_store(r->s), nows, untils, org, p.after, p.limit, &list,
	    &n);
	if (rc == UKEY_ERR_NOTFOUND)
		return req_fail(r, UKEY_ERR_INVAL, "argument after: no issuance %lld (the key to go"
		    " on from is the `next` of the page before)", (long long)p.after);
	if (rc != 0)
		return rc;
	*result = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(*result, expiring_json(&list[i], now));
	/* the key: the last row's issuance id, which the rows do not show */
	page_next_id(r, n, n > 0 ? list[n - 1].id : 0, &p);
	store_expiring_free(list, n);
	return 0;
}
