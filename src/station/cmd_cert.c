/* Control commands on issued certificates: revocation (cert.revoke) and the
 * CRL the embedded CA publishes (ca.crl). docs/ca.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strings.h>

#include "ca/certcheck.h"
#include "common/err.h"
#include "common/log.h"
#include "station/control.h"
#include "store/store_revoke.h"
#include "ca/ca.h"
#include "station/carevoke.h"

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

/* One revocation between the CA's call and its answer: copies of what the
 * record needs, and what runs after it. */
struct certrev {
	char *actor, *serial, *token_serial, *reason, *remark;
	int64_t order_id, unit_id, job_id;
	cert_revoked_fn done;
	void *arg;
	void (*arg_free)(void *);
};

static void
certrev_free(void *p)
{
	struct certrev *v = p;

	if (v == NULL)
		return;
	if (v->arg != NULL && v->arg_free != NULL)
		v->arg_free(v->arg);
	free(v->actor);
	free(v->serial);
	free(v->token_serial);
	free(v->reason);
	free(v->remark);
	free(v);
}

static struct certrev *
certrev_new(const char *actor, const struct store_issuance_rev *iss, const char *reason,
    const char *remark)
{
	struct certrev *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return NULL;
	v->actor = strdup(actor);
	v->serial = strdup(iss->cert_serial);
	v->token_serial = iss->token_serial ? strdup(iss->token_serial) : NULL;
	v->reason = strdup(reason);
	v->remark = strdup(remark);
	v->order_id = iss->order_id;
	v->unit_id = iss->unit_id;
	v->job_id = iss->job_id;
	if (v->actor == NULL || v->serial == NULL || v->reason == NULL || v->remark == NULL ||
	    (iss->token_serial != NULL && v->token_serial == NULL)) {
		certrev_free(v);
		return NULL;
	}
	return v;
}

/* Records the revocation in station.db with its audit record, in one
 * transaction. */
static int
revoke_record(struct station *s, const struct certrev *v, const char *now)
{
	struct json_object *d;
	int rc;

	if ((rc = store_begin(station_store(s))) != 0)
		return rc;
	rc = store_issuance_revoke(station_store(s), v->serial, now, v->reason, v->actor, v->remark);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "serial", json_object_new_string(v->serial));
		json_object_object_add(d, "reason", json_object_new_string(v->reason));
		json_object_object_add(d, "remark", json_object_new_string(v->remark));
		rc = station_audit(s, v->actor, "cert.revoke", v->order_id, v->unit_id, v->job_id,
		    v->token_serial, NULL, d);
	}
	if (rc == 0)
		rc = store_commit(station_store(s));
	if (rc != 0)
		store_rollback(station_store(s));
	return rc;
}

/* The CA answered (carevoke_fn): the record, then the caller's done. */
static void
certrev_answered(struct station *s, int rc, const char *ca_said, void *arg)
{
	struct certrev *v = arg;
	char now[32] = "";

	if (rc == UKEY_ERR_STATE) {
		log_warn("certificate %s was revoked at the CA already; recording it here", v->serial);
	} else if (rc != 0) {
		log_error("certificate %s: the CA did not revoke it: %s%s%s", v->serial,
		    ukey_strerror(rc), ca_said[0] ? ": " : "", ca_said);
		goto out;
	}
	store_now(now);
	if ((rc = revoke_record(s, v, now)) != 0)
		goto out;
	log_info("certificate %s revoked by %s (%s): %s", v->serial, v->actor, v->reason, v->remark);
	ca_said = "";
 out:
	v->done(s, rc, ca_said, now, v->arg);
	v->arg = NULL;		/* done owns it */
	certrev_free(v);
}

void
station_revoke_cert(struct station *s, const char *actor, const struct store_issuance_rev *iss,
    const char *reason, const char *remark, cert_revoked_fn done, void *arg,
    void (*arg_free)(void *))
{
	struct certrev *v = certrev_new(actor, iss, reason, remark);

	if (v == NULL) {
		done(s, UKEY_ERR_NOMEM, "", "", arg);
		return;
	}
	v->done = done;
	v->arg = arg;
	v->arg_free = arg_free;
	carevoke_submit(s, v->serial, v->reason, certrev_answered, v, certrev_free);
}

/* cert.revoke between its request and its reply: the reply is made when
 * the CA answered, sent at once (embedded CA) or later (deferred). */
struct revoke_cmd {
	int64_t client;
	int deferred, finished, rc;
	char msg[1024];
	int64_t order_id;
	char serial[80], reason[32];
	struct json_object *result;
};

static void
revoke_cmd_free(void *p)
{
	struct revoke_cmd *q = p;

	if (q != NULL)
		json_object_put(q->result);
	free(q);
}

/* The run ends: the handler replies (the call has not returned yet) or the
 * reply goes now, deferred. */
static void
revoke_cmd_reply(struct station *s, struct revoke_cmd *q)
{
	if (!q->deferred) {
		q->finished = 1;	/* the handler replies */
		return;
	}
	control_reply_deferred(s, q->client, q->rc, q->msg, q->result);
	q->result = NULL;
	revoke_cmd_free(q);
}

/* The CRL that lists the revocation is written (crl_published_fn): the
 * reply names it. */
static void
revoke_cmd_crl(struct station *s, int rc, int64_t number, void *arg)
{
	struct revoke_cmd *q = arg;

	if (rc == 0)
		json_object_object_add(q->result, "crl_number", json_object_new_int64(number));
	else if (rc != UKEY_ERR_UNSUPPORTED)
		json_object_object_add(q->result, "crl_error", json_object_new_string(
		    ukey_strerror(rc)));
	revoke_cmd_reply(s, q);
}

/* The CA and the record done (cert_revoked_fn): the CRL, then the reply. */
static void
revoke_cmd_done(struct station *s, int rc, const char *ca_said, const char *now, void *arg)
{
	struct revoke_cmd *q = arg;

	q->rc = rc;
	if (rc != 0) {
		snprintf(q->msg, sizeof(q->msg), "certificate %s: not revoked: %s%s%s", q->serial,
		    ukey_strerror(rc), ca_said[0] ? ": the CA said: " : "", ca_said);
		revoke_cmd_reply(s, q);
		return;
	}
	q->result = json_object_new_object();
	json_object_object_add(q->result, "serial", json_object_new_string(q->serial));
	json_object_object_add(q->result, "order_id", json_object_new_int64(q->order_id));
	json_object_object_add(q->result, "revoked_at", json_object_new_string(now));
	json_object_object_add(q->result, "reason", json_object_new_string(q->reason));
	/* signed off the loop; the reply waits for it */
	station_crl_publish_async(s, revoke_cmd_crl, q, revoke_cmd_free);
}

/* Looks up the certificate cert.revoke names: one this station issued and
 * has not revoked, with no revocation of it waiting for the CA. */
static int
revoke_target(struct request *r, const char *serial, struct store_issuance_rev *iss)
{
	int rc;

	if ((rc = store_issuance_by_serial(station_store(r->s), serial, iss)) != 0) {
		if (rc == UKEY_ERR_NOTFOUND)
			rc = req_fail(r, rc, "certificate %s: this station issued no certificate with"
			    " this serial", serial);
		return rc;
	}
	if (iss->revoked_at != NULL)
		return req_fail(r, UKEY_ERR_STATE, "certificate %s: already revoked at %s by %s (%s)",
		    iss->cert_serial, iss->revoked_at, iss->revoked_by ? iss->revoked_by : "?",
		    iss->revoke_reason ? iss->revoke_reason : "unspecified");
	if (carevoke_pending(r->s, iss->cert_serial))
		return req_fail(r, UKEY_ERR_BUSY, "certificate %s: a revocation of it is waiting for"
		    " the CA's answer", iss->cert_serial);
	return 0;
}

/* The CA first, then the station's record, then the CRL: a failure between
 * the CA and the record leaves the certificate revoked at the CA only, and
 * the same command run again finds it so there and completes the station's
 * side. With an external CA the reply waits for the CA's answer, the event
 * loop does not. */
int
cmd_cert_revoke(struct request *r, struct json_object **result)
{
	struct store_issuance_rev iss = { 0 };
	struct revoke_cmd *q = NULL;
	const char *serial, *reason, *remark;
	int rc;

	if ((rc = revoke_args(r, &serial, &reason, &remark)) != 0 ||
	    (rc = revoke_target(r, serial, &iss)) != 0)
		goto out;
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	q->client = r->c->id;
	q->order_id = iss.order_id;
	snprintf(q->serial, sizeof(q->serial), "%s", iss.cert_serial);
	snprintf(q->reason, sizeof(q->reason), "%s", reason);
	station_revoke_cert(r->s, r->c->user, &iss, reason, remark, revoke_cmd_done, q,
	    revoke_cmd_free);
	if (!q->finished) {
		q->deferred = 1;	/* revoke_cmd_done replies and frees q */
		r->deferred = 1;
		q = NULL;
		rc = 0;
		goto out;
	}
	if ((rc = q->rc) != 0)
		snprintf(r->msg, sizeof(r->msg), "%s", q->msg);
	*result = q->result;
	q->result = NULL;
 out:
	revoke_cmd_free(q);
	store_issuance_rev_clear(&iss);
	return rc;
}

/* ca.crl's pages: bytes of the PEM text, at most 1 MiB a reply (a CRL of
 * 100,000 revocations is about 5 MiB, over the protocol's 4 MiB). */
#define CRL_PAGE_MAX (1024 * 1024)

/* A page: its text, then the CRL's own fields, the same on every page. */
static struct json_object *
crl_page_json(const char *path, const struct crl_copy *c, size_t from, size_t n)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "pem", json_object_new_string_len(c->pem + from, (int)n));
	json_object_object_add(o, "path", json_object_new_string(path));
	if (c->number >= 0)
		json_object_object_add(o, "number", json_object_new_int64(c->number));
	if (c->this_update[0] != '\0')
		json_object_object_add(o, "this_update", json_object_new_string(c->this_update));
	if (c->next_update[0] != '\0')
		json_object_object_add(o, "next_update", json_object_new_string(c->next_update));
	json_object_object_add(o, "revoked", json_object_new_int(c->revoked));
	json_object_object_add(o, "length", json_object_new_int64((int64_t)c->len));
	json_object_object_add(o, "sha256", json_object_new_string(c->sha256));
	return o;
}

/* Why the CRL at path could not be served (rc from reading it), into msg;
 * returns rc. */
static int
crl_unreadable(const char *path, int rc, char *msg, size_t len)
{
	if (rc == UKEY_ERR_NOTFOUND)
		snprintf(msg, len, "no CRL at %s: the CA publishes none yet", path);
	else if (rc == UKEY_ERR_CRYPTO)
		snprintf(msg, len, "%s does not hold a PEM CRL", path);
	else
		snprintf(msg, len, "%s: cannot read the CRL: %s", path, ukey_strerror(rc));
	return rc;
}

/* The page p of the CRL at crl_path: 0 with *result and *next (the offset
 * to go on from, NULL after the last page), or an error with msg. want:
 * the sha256 of the CRL the client's first page came from (NULL: none). */
static int
crl_answer(struct station *s, const struct page *p, const char *want, char *msg, size_t len,
    struct json_object **result, struct json_object **next)
{
	const char *path = station_cfg(s)->ca_crl_path;
	const struct crl_copy *c;
	size_t n;
	int rc;

	*result = *next = NULL;
	if ((rc = station_crl_current(s, &c)) != 0)
		return crl_unreadable(path, rc, msg, len);
	if (want != NULL && strcasecmp(want, c->sha256) != 0) {
		snprintf(msg, len, "the CRL at %s changed since the first page (sha256 %.64s, now"
		    " CRL %lld with sha256 %s): ask again from the start", path, want,
		    (long long)c->number, c->sha256);
		return UKEY_ERR_STATE;
	}
	if ((uint64_t)p->after > c->len) {
		snprintf(msg, len, "argument after: a byte offset 0..%zu (the CRL's length)", c->len);
		return UKEY_ERR_INVAL;
	}
	n = c->len - (size_t)p->after;
	if (n > (size_t)p->limit)
		n = (size_t)p->limit;
	*result = crl_page_json(path, c, (size_t)p->after, n);
	*next = (size_t)p->after + n < c->len ? json_object_new_int64(p->after + (int64_t)n) : NULL;
	return 0;
}

/* A ca.crl asked while a CRL is being signed: answered once it is written. */
struct crl_ask {
	int64_t client;
	struct page p;
	char want[80];		/* "" when not given */
};

static void
crl_ask_answer(struct station *s, int rc, int64_t number, void *arg)
{
	struct crl_ask *a = arg;
	struct json_object *result, *next;
	char msg[1024] = "";

	(void)number;	/* whatever stands at crl_path now is the answer */
	rc = crl_answer(s, &a->p, a->want[0] ? a->want : NULL, msg, sizeof(msg), &result, &next);
	control_reply_deferred_next(s, a->client, rc, rc != 0 ? msg : NULL, result, next);
	json_object_put(next);
	free(a);
}

/* A ca.crl asked while the CRL file is read in a thread (another tool's,
 * new at crl_path): answered from it, or with why it could not be read. */
static void
crl_read_answer(struct station *s, int rc, int64_t number, void *arg)
{
	struct crl_ask *a = arg;
	char msg[1024] = "";

	if (rc != 0) {
		crl_unreadable(station_cfg(s)->ca_crl_path, rc, msg, sizeof(msg));
		control_reply_deferred_next(s, a->client, rc, msg, NULL, NULL);
		free(a);
		return;
	}
	crl_ask_answer(s, 0, number, a);
}

/* The CRL as last published at crl_path, one page of its PEM text at a
 * time (docs/protocol.md, "The CRL in pages"): after, a byte offset; limit,
 * bytes; sha256, the CRL the client's first page came from, refused when
 * another one stands there now. While a CRL is being signed (a revocation
 * was just made) the answer waits for it; a CRL file new at crl_path that
 * the station did not write is read and parsed in a thread first. */
int
cmd_ca_crl(struct request *r, struct json_object **result)
{
	const char *want = NULL;
	struct json_object *next = NULL;
	struct crl_ask *a;
	struct page p;
	int rc;

	if (page_args(r, CRL_PAGE_MAX, &p) != 0 || arg_str(r, "sha256", 0, &want) == UKEY_ERR_INVAL)
		return UKEY_ERR_INVAL;
	if ((a = calloc(1, sizeof(*a))) != NULL) {
		*a = (struct crl_ask){ .client = r->c->id, .p = p };
		snprintf(a->want, sizeof(a->want), "%s", want != NULL ? want : "");
		if (station_crl_wait(r->s, crl_ask_answer, a, free) ||
		    station_crl_read(r->s, crl_read_answer, a, free)) {
			r->deferred = 1;
			return 0;
		}
		free(a);
	}
	if ((rc = crl_answer(r->s, &p, want, r->msg, sizeof(r->msg), result, &next)) != 0)
		return rc;
	json_object_put(r->next);
	r->next = next;
	return 0;
}
