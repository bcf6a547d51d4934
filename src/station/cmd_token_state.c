/* The physical token's recorded life (docs/lifecycle.md): token.mark
 * records a token lost, damaged, destroyed, returned or back in stock,
 * revoking the live certificates it holds first; token.show gives its state,
 * its marks and its certificates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "orders/tokenlife.h"
#include "station/bay.h"
#include "station/carevoke.h"
#include "station/control.h"
#include "store/store_revoke.h"
#include "store/store_tokens.h"

#define REMARK_MAX 500

/* What the station knows of one token. */
struct token_view {
	struct store_token_mark *marks;
	size_t n_marks;
	struct store_token_cert *certs;
	size_t n_certs;
	enum token_state state;
};

static void
token_view_clear(struct token_view *v)
{
	store_token_marks_free(v->marks, v->n_marks);
	store_token_certs_free(v->certs, v->n_certs);
	memset(v, 0, sizeof(*v));
}

static int
cert_live(const struct store_token_cert *c, const char *now)
{
	return c->revoked_at == NULL && strcmp(c->not_after, now) > 0;
}

/* The token's state: its last mark, unless a live certificate was issued
 * onto it after that mark (a wiped token used again); with no mark, issued
 * while it holds a live certificate, else in stock. */
static int
token_view_load(struct station *s, const char *serial, struct token_view *v)
{
	const struct store_token_mark *last;
	char now[32];
	size_t i;
	int rc, live_after = 0;

	memset(v, 0, sizeof(*v));
	if ((rc = store_token_marks(station_store(s), serial, &v->marks, &v->n_marks)) != 0 ||
	    (rc = store_token_certs(station_store(s), serial, &v->certs, &v->n_certs)) != 0) {
		token_view_clear(v);
		return rc;
	}
	store_now(now);
	last = v->n_marks > 0 ? &v->marks[v->n_marks - 1] : NULL;
	for (i = 0; i < v->n_certs; i++)
		if (cert_live(&v->certs[i], now) &&
		    (last == NULL || strcmp(v->certs[i].issued_at, last->at) >= 0))
			live_after = 1;
	if (live_after)
		v->state = TS_ISSUED;
	else if (last != NULL)
		v->state = (enum token_state)token_state_parse(last->state);
	else
		v->state = TS_IN_STOCK;
	return 0;
}

static int
mark_args(struct request *r, const char **serial, enum token_state *to, const char **remark)
{
	const char *state;
	int st;

	if (arg_str(r, "serial", 1, serial) != 0 || arg_str(r, "state", 1, &state) != 0 ||
	    arg_str(r, "remark", 1, remark) != 0)
		return UKEY_ERR_INVAL;
	if (**serial == '\0' || strlen(*serial) > 64)
		return req_fail(r, UKEY_ERR_INVAL, "argument serial: 1 to 64 bytes");
	st = token_state_parse(state);
	if (st < 0 || st == TS_ISSUED)
		return req_fail(r, UKEY_ERR_INVAL, "argument state: '%.32s' is not one of in-stock, "
		    "lost, damaged, destroyed, returned", state);
	if (strspn(*remark, " \t") == strlen(*remark) || strlen(*remark) > REMARK_MAX)
		return req_fail(r, UKEY_ERR_INVAL, "argument remark: must say why, 1 to %d bytes",
		    REMARK_MAX);
	*to = (enum token_state)st;
	return 0;
}

/* Refuses a token a bay is working on: its job decides what it holds. */
static int
token_in_work(struct station *s, const char *serial)
{
	int i;

	for (i = 0; i < station_n_bays(s); i++) {
		const struct bay *b = station_bay(s, i);

		if (b->job_id != 0 && strcmp(b->token_serial, serial) == 0)
			return b->index;
	}
	return 0;
}

/* token.mark between its request and its reply: the token's live
 * certificates are revoked one after the other (CA first, then the record,
 * each: station_revoke_cert), then the mark is recorded and the CRL
 * published. With an external CA each revocation waits for the CA's answer
 * off the event loop and the reply is deferred. */
struct mark_run {
	struct station *s;
	int64_t client;
	int deferred, finished, rc;
	char msg[1024];
	char serial[72], actor[64];
	char *remark;
	enum token_state from, to;
	char **certs;			/* the live certificates' serials */
	size_t n, i;
	struct json_object *revoked, *result;
};

static void
mark_run_free(void *p)
{
	struct mark_run *m = p;
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++)
		free(m->certs[i]);
	free(m->certs);
	free(m->remark);
	json_object_put(m->revoked);
	json_object_put(m->result);
	free(m);
}

/* The mark and its audit record, in one transaction. */
static int
mark_record(struct mark_run *m, char now[32])
{
	struct json_object *d = json_object_new_object();
	struct store *st = station_store(m->s);
	int rc;

	json_object_object_add(d, "from", json_object_new_string(token_state_name(m->from)));
	json_object_object_add(d, "state", json_object_new_string(token_state_name(m->to)));
	json_object_object_add(d, "remark", json_object_new_string(m->remark));
	json_object_object_add(d, "revoked", json_object_get(m->revoked));
	store_now(now);
	if ((rc = store_begin(st)) != 0) {
		json_object_put(d);
		return rc;
	}
	rc = store_token_mark_add(st, m->serial, token_state_name(m->to), now, m->actor, m->remark);
	if (rc == 0)
		rc = station_audit(m->s, m->actor, "token.mark", 0, 0, 0, m->serial, NULL, d);
	else
		json_object_put(d);
	if (rc == 0)
		rc = store_commit(st);
	if (rc != 0)
		store_rollback(st);
	return rc;
}

/* The run ends: the handler replies (the call has not returned yet) or
 * the reply goes now, deferred. */
static void
mark_reply(struct mark_run *m)
{
	if (!m->deferred) {
		m->finished = 1;
		return;
	}
	control_reply_deferred(m->s, m->client, m->rc, m->msg, m->result);
	m->result = NULL;
	mark_run_free(m);
}

/* The CRL that lists the token's revoked certificates is written
 * (crl_published_fn): the reply names it. */
static void
mark_crl(struct station *s, int rc, int64_t number, void *arg)
{
	struct mark_run *m = arg;

	(void)s;
	if (rc == 0)
		json_object_object_add(m->result, "crl_number", json_object_new_int64(number));
	mark_reply(m);
}

static void
mark_finish(struct mark_run *m)
{
	char now[32];
	size_t n = json_object_array_length(m->revoked);

	if ((m->rc = mark_record(m, now)) != 0) {
		snprintf(m->msg, sizeof(m->msg), "token.mark: %s", ukey_strerror(m->rc));
		mark_reply(m);
		return;
	}
	log_info("token %s marked %s (was %s) by %s: %s; %zu certificates revoked", m->serial,
	    token_state_name(m->to), token_state_name(m->from), m->actor, m->remark, n);
	m->result = json_object_new_object();
	json_object_object_add(m->result, "serial", json_object_new_string(m->serial));
	json_object_object_add(m->result, "from", json_object_new_string(token_state_name(m->from)));
	json_object_object_add(m->result, "state", json_object_new_string(token_state_name(m->to)));
	json_object_object_add(m->result, "at", json_object_new_string(now));
	json_object_object_add(m->result, "revoked", json_object_get(m->revoked));
	if (n > 0)	/* signed off the loop; the reply waits for it */
		station_crl_publish_async(m->s, mark_crl, m, mark_run_free);
	else
		mark_reply(m);
}

static void mark_next(struct mark_run *m);

/* One certificate revoked (cert_revoked_fn): the next, or the first failure
 * named; the token is not marked then. */
static void
mark_revoked(struct station *s, int rc, const char *ca_said, const char *now, void *arg)
{
	struct mark_run *m = arg;

	(void)s;
	(void)now;
	if (rc != 0) {
		m->rc = rc;
		snprintf(m->msg, sizeof(m->msg), "token %s: certificate %s not revoked (%s%s%s); %zu"
		    " revoked before it; the token is not marked: run the command again", m->serial,
		    m->certs[m->i], ukey_strerror(rc), ca_said[0] ? ": the CA said: " : "", ca_said,
		    json_object_array_length(m->revoked));
		mark_reply(m);
		return;
	}
	json_object_array_add(m->revoked, json_object_new_string(m->certs[m->i]));
	m->i++;
	mark_next(m);
}

static void
mark_next(struct mark_run *m)
{
	struct store_issuance_rev iss;
	int rc;

	if (m->i == m->n) {
		mark_finish(m);
		return;
	}
	if ((rc = store_issuance_by_serial(station_store(m->s), m->certs[m->i], &iss)) != 0) {
		mark_revoked(m->s, rc, "", "", m);
		return;
	}
	/* m may be freed by the time this returns */
	station_revoke_cert(m->s, m->actor, &iss, token_mark_reason(m->to), m->remark,
	    mark_revoked, m, mark_run_free);
	store_issuance_rev_clear(&iss);
}

/* The run for r: the live certificates of v to revoke when the mark
 * revokes; NULL when out of memory. */
static struct mark_run *
mark_run_new(struct request *r, const char *serial, enum token_state to, const char *remark,
    const struct token_view *v)
{
	struct mark_run *m = calloc(1, sizeof(*m));
	char now[32];
	size_t i;

	if (m == NULL || (m->certs = calloc(v->n_certs + 1, sizeof(char *))) == NULL ||
	    (m->remark = strdup(remark)) == NULL || (m->revoked = json_object_new_array()) == NULL) {
		mark_run_free(m);
		return NULL;
	}
	m->s = r->s;
	m->client = r->c->id;
	snprintf(m->serial, sizeof(m->serial), "%s", serial);
	snprintf(m->actor, sizeof(m->actor), "%s", r->c->user);
	m->from = v->state;
	m->to = to;
	store_now(now);
	for (i = 0; token_mark_reason(to) != NULL && i < v->n_certs; i++) {
		if (!cert_live(&v->certs[i], now))
			continue;
		if ((m->certs[m->n] = strdup(v->certs[i].cert_serial)) == NULL) {
			mark_run_free(m);
			return NULL;
		}
		m->n++;
	}
	return m;
}

/* The checks before anything changes: a token the station knows, not in
 * work, and a legal mark from its state. */
static int
mark_check(struct request *r, const char *serial, enum token_state to, struct token_view *v)
{
	char allowed[128];
	size_t i;
	int known = 0, rc, bay;

	if ((rc = store_token_known_serial(station_store(r->s), serial, &known)) != 0)
		return rc;
	if (!known)
		return req_fail(r, UKEY_ERR_NOTFOUND, "token %s: this station neither initialised "
		    "it nor issued a certificate onto it", serial);
	if ((bay = token_in_work(r->s, serial)) != 0)
		return req_fail(r, UKEY_ERR_BUSY, "token %s: a job runs on it in bay %d", serial, bay);
	if ((rc = token_view_load(r->s, serial, v)) != 0)
		return rc;
	for (i = 0; i < v->n_certs; i++)
		if (carevoke_pending(r->s, v->certs[i].cert_serial))
			return req_fail(r, UKEY_ERR_BUSY, "token %s: a revocation of its certificate"
			    " %s is waiting for the CA's answer", serial, v->certs[i].cert_serial);
	if (!token_mark_allowed(v->state, to)) {
		token_marks_from(v->state, allowed, sizeof(allowed));
		return req_fail(r, UKEY_ERR_STATE, "token %s is %s: it cannot be marked %s (from %s: "
		    "%s)", serial, token_state_name(v->state), token_state_name(to),
		    token_state_name(v->state), allowed);
	}
	return 0;
}

int
cmd_token_mark(struct request *r, struct json_object **result)
{
	struct token_view v = { 0 };
	struct mark_run *m = NULL;
	const char *serial, *remark;
	enum token_state to = TS_IN_STOCK;
	int rc;

	if ((rc = mark_args(r, &serial, &to, &remark)) != 0 ||
	    (rc = mark_check(r, serial, to, &v)) != 0)
		goto out;
	if ((m = mark_run_new(r, serial, to, remark, &v)) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	mark_next(m);
	if (!m->finished) {
		m->deferred = 1;	/* mark_reply replies and frees m */
		r->deferred = 1;
		m = NULL;
		goto out;
	}
	if ((rc = m->rc) != 0)
		snprintf(r->msg, sizeof(r->msg), "%s", m->msg);
	*result = m->result;
	m->result = NULL;
 out:
	mark_run_free(m);
	token_view_clear(&v);
	return rc;
}

static struct json_object *
str_or_null(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

/* The certificates of one page: those after p->after (an issuance id), at
 * most p->limit; a full page sets r->next to its last one's id. */
static struct json_object *
certs_json(struct request *r, const struct token_view *v, const struct page *p)
{
	struct json_object *a = json_object_new_array(), *e;
	int64_t last = 0;
	char now[32];
	size_t i;

	store_now(now);
	for (i = 0; i < v->n_certs && (int64_t)json_object_array_length(a) < p->limit; i++) {
		const struct store_token_cert *c = &v->certs[i];

		if (c->id <= p->after)
			continue;
		e = json_object_new_object();
		json_object_object_add(e, "serial", json_object_new_string(c->cert_serial));
		json_object_object_add(e, "kind", json_object_new_string(c->kind));
		json_object_object_add(e, "subject", json_object_new_string(c->subject));
		json_object_object_add(e, "order_id", json_object_new_int64(c->order_id));
		json_object_object_add(e, "issued_at", json_object_new_string(c->issued_at));
		json_object_object_add(e, "not_after", json_object_new_string(c->not_after));
		json_object_object_add(e, "status", json_object_new_string(c->revoked_at ?
		    "revoked" : cert_live(c, now) ? "live" : "expired"));
		json_object_object_add(e, "revoked_at", str_or_null(c->revoked_at));
		json_object_object_add(e, "revoke_reason", str_or_null(c->revoke_reason));
		json_object_array_add(a, e);
		last = c->id;
	}
	/* the key is the issuance id, kept out of the rows: they stay as they were */
	json_object_put(r->next);
	r->next = (int64_t)json_object_array_length(a) == p->limit && last > 0 ?
	    json_object_new_int64(last) : NULL;
	return a;
}

/* The token's state and marks (always whole: a handful) and one page of
 * its certificates. */
static struct json_object *
view_json(struct request *r, const char *serial, const struct token_view *v,
    const struct page *p)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array(), *e;
	size_t i;

	json_object_object_add(o, "serial", json_object_new_string(serial));
	json_object_object_add(o, "state", json_object_new_string(token_state_name(v->state)));
	for (i = 0; i < v->n_marks; i++) {
		e = json_object_new_object();
		json_object_object_add(e, "state", json_object_new_string(v->marks[i].state));
		json_object_object_add(e, "at", json_object_new_string(v->marks[i].at));
		json_object_object_add(e, "by", json_object_new_string(v->marks[i].actor));
		json_object_object_add(e, "remark", json_object_new_string(v->marks[i].remark));
		json_object_array_add(a, e);
	}
	json_object_object_add(o, "marks", a);
	json_object_object_add(o, "certificates", certs_json(r, v, p));
	return o;
}

/* token.show: a page ("Listings page", docs/protocol.md) of the token's
 * certificates, in issue order, after an issuance id. The state needs every
 * certificate, so all are read; a token holds few. */
int
cmd_token_show(struct request *r, struct json_object **result)
{
	struct token_view v;
	struct page p;
	const char *serial;
	int rc, known = 0;

	if (arg_str(r, "serial", 1, &serial) != 0 || page_args(r, LIST_PAGE_MAX, &p) != 0)
		return UKEY_ERR_INVAL;
	if ((rc = store_token_known_serial(station_store(r->s), serial, &known)) != 0)
		return rc;
	if (!known)
		return req_fail(r, UKEY_ERR_NOTFOUND, "token %s: this station neither initialised "
		    "it nor issued a certificate onto it", serial);
	if ((rc = token_view_load(r->s, serial, &v)) != 0)
		return rc;
	*result = view_json(r, serial, &v, &p);
	token_view_clear(&v);
	return 0;
}
