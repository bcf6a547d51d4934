/* The steps of the issuance job that the daemon does itself: ca_submit
 * (asking the CA through the CA thread, with recovery of an answer never
 * stored; the answers are taken in job_caanswer.c), cert_check and record.
 * The steps on the token are in job_steps.c. Loop context only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "ca/certcheck.h"
#include "common/err.h"
#include "common/log.h"
#include "common/p11uri.h"
#include "station/job_steps.h"
#include "station/job_renew.h"
#include "store/store_revoke.h"
#include "station/station.h"
#include "store/store_jobs.h"
#include "store/store_lease.h"
#include "store/store_units.h"
#include "station/bay.h"
#include "station/job.h"
#include "station/orderdoc.h"
#include "ca/ca.h"
#include "station/carevoke.h"
#include "station/cathread.h"

/* A CA that is down is asked again after 2 s, then 4, 8, 16 and every 30 s:
 * each refused submission is journalled and audited, so a long outage must
 * not add a record every 2 s. */
#define CA_RETRY_MS 2000
#define CA_RETRY_MAX_MS 30000

const char *
job_token_text(const struct bay *b, const char *key)
{
	const char *v = jstr(b->token, key);

	return v ? v : "";
}

/* RFC 7512 URI naming the token, malloc'd in *out. */
static int
token_uri(const struct bay *b, char **out)
{
	const struct p11uri u = { .model = job_token_text(b, "model"),
	    .manufacturer = job_token_text(b, "manufacturer"),
	    .serial = job_token_text(b, "serial"), .token = job_token_text(b, "label") };

	return p11uri_format(&u, out);
}

/* The request key: which unit, token and request a CA answer belongs to. */
static int
request_key(const struct store_job *job, char out[65])
{
	unsigned char h[32];
	char head[160], *hex;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned hl = 0;
	int ok;

	snprintf(head, sizeof(head), "unit:%lld;token:%s;csr:", (long long)job->unit_id,
	    job->token_serial);
	ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(md, head, strlen(head)) == 1 &&
	    EVP_DigestUpdate(md, job->csr, job->csr_len) == 1 &&
	    EVP_DigestFinal_ex(md, h, &hl) == 1;
	EVP_MD_CTX_free(md);
	if (!ok || (hex = hex_encode(h, sizeof(h))) == NULL)
		return UKEY_ERR_CRYPTO;
	memcpy(out, hex, 65);
	free(hex);
	return 0;
}

/* The certificate a renewal job replaces, from its issuance record. */
static int
renewal_old_cert(struct station *s, const struct store_job *job, X509 **out)
{
	uint8_t *der = NULL;
	const uint8_t *p;
	size_t len = 0;
	int rc;

	*out = NULL;
	if ((rc = store_issuance_cert(station_store(s), job->renews_serial, &der, &len)) != 0)
		return rc;
	p = der;
	*out = d2i_X509(NULL, &p, (long)len);
	free(der);
	return *out != NULL ? 0 : UKEY_ERR_DB;
}

/*
 * Builds the job's request to the CA into c, from the job's stored CSR and
 * subject, its certificate profile and its unit's identity: the one place a
 * struct ca_request is made for a job (a renewal sets req.old_cert here).
 * c owns every field req points at (cacall_free), so that the CA thread
 * reads nothing of the loop's: the request decoded in make_csr is taken out
 * of the bay's copies (dc, or NULL). Returns 0, UKEY_ERR_NOTFOUND (no CSR yet),
 * UKEY_ERR_DB (a stored blob or the profile is gone), UKEY_ERR_NOMEM.
 */
static int
job_ca_request(struct station *s, const struct store_job *job, struct dercache *dc,
    struct cacall *c)
{
	struct job_identity id = { 0 };
	const struct certprof *prof;
	const uint8_t *p;
	const char *gm;
	int rc;

	if (job->csr == NULL || job->subject == NULL)
		return UKEY_ERR_NOTFOUND;
	/* make_csr's decoded copy when the bay kept it (dc, dercache.h) */
	c->csr = dercache_csr_take(dc, job->csr, job->csr_len);
	p = job->subject;
	c->subject = d2i_X509_NAME(NULL, &p, (long)job->subject_len);
	prof = certprof_set_find(station_cp(s), job->src.cert_profile);
	if (c->csr == NULL || c->subject == NULL || prof == NULL)
		return UKEY_ERR_DB;
	if ((rc = request_key(job, c->request_key)) != 0)
		return rc;
	/* the typed view of the whole document: a personal certificate's GM/T
	 * identity value is the resident ID number */
	if ((rc = job_identity_open(s, &job->src, &id)) != 0)
		return rc;
	gm = strcmp(job->src.kind, "organisation") == 0 ? job->src.account_uscc : id.id_number;
	if ((gm != NULL && (c->gm_identity_value = strdup(gm)) == NULL) ||
	    (id.email != NULL && (c->email = strdup(id.email)) == NULL))
		rc = UKEY_ERR_NOMEM;
	job_identity_clear(&id);
	if (rc != 0)
		return rc;
	c->req.csr = c->csr;
	c->req.subject = c->subject;
	c->req.profile = prof;
	c->req.years = (int)job->src.years;
	c->req.request_key = c->request_key;
	c->req.gm_identity_value = c->gm_identity_value;
	/* a person's e-mail address, when the order gives one (the profile
	 * decides whether the certificate carries it) */
	c->req.email = c->email;
	if (job_is_renewal(job) && (rc = renewal_old_cert(s, job, &c->old_cert)) != 0)
		return rc;
	c->req.old_cert = c->old_cert;
	c->req.carry_days = cert_carry_days(c->old_cert, time(NULL), job_carry_cap(s, prof));
	return 0;
}

/* Stores a certificate the CA returned for the job, in one transaction: the
 * received_certs row and the job's cert columns; the journal's when one is
 * open (left open for the marks that follow, rolled back on failure).
 * UKEY_ERR_EXISTS (nothing written) when that serial was received before. */
int
job_ca_record_received(struct station *s, int64_t job_id, int64_t unit_id, const char *serial,
    const unsigned char *der, size_t len, const char *rkey)
{
	char now[32];
	int rc;

	store_now(now);
	if (job_journal_is_open()) {
		int64_t other = 0;

		/* looked up first: a failed insert would end a PostgreSQL
		 * transaction, and with it the journal's */
		if (store_received_cert_job(station_store(s), serial, &other) == 0)
			return UKEY_ERR_EXISTS;
		if ((rc = store_received_cert_add(station_store(s), serial, job_id, unit_id, der,
		    len, now)) == 0 &&
		    (rc = store_job_set_cert(station_store(s), job_id, der, len, serial, rkey)) == 0)
			rc = store_job_ca_txn_clear(station_store(s), job_id);
		if (rc != 0)
			job_journal_rollback(s);
		return rc;
	}
	if ((rc = store_begin(station_store(s))) != 0)
		return rc;
	rc = store_received_cert_add(station_store(s), serial, job_id, unit_id, der, len, now);
	if (rc == 0)
		rc = store_job_set_cert(station_store(s), job_id, der, len, serial, rkey);
	if (rc == 0)	/* the CA answered: no transaction waits any more */
		rc = store_job_ca_txn_clear(station_store(s), job_id);
	if (rc == 0)
		rc = store_commit(station_store(s));
	if (rc != 0)
		store_rollback(station_store(s));
	return rc;
}

/* Whether the CA lists a valid certificate under request key rkey: one
 * look-up in its list, however long. */
static int
ca_has_request(struct station *s, const char *rkey, int *found)
{
	char status[16];
	int rc;

	*found = 0;
	rc = ca_request_status(station_ca(s), rkey, status, sizeof(status));
	if (rc == UKEY_ERR_NOTFOUND)
		return 0;
	if (rc == 0)
		*found = strcmp(status, "valid") == 0;
	return rc;
}

/*
 * A job ending between its CA request and the storing of the answer (killed
 * at ca_submit, then abandoned) may have a certificate at the CA that the
 * station never received. If the CA lists one under the job's request key,
 * it is fetched again (the request key makes that idempotent) and stored as
 * received, so that the job's end revokes it and keeps it in the record.
 * Nothing is asked while the CA thread has a call for the job (its answer
 * is stored when it comes, job_ca_answers) or of a CA that keeps no list
 * for the station (CMP: docs/ca.md, "Interrupted"). Returns 0 (with *serial
 * set, or "" when the CA has none) or an error.
 */
int
job_ca_recover(struct station *s, int64_t job_id, char *serial, size_t len)
{
	struct store_job job;
	struct cacall *c = NULL;
	X509 *cert = NULL;
	unsigned char *der = NULL;
	int rc, n, found = 0;

	serial[0] = '\0';
	if (strcmp(ca_kind(station_ca(s)), "embedded") != 0 ||
	    (station_cathread(s) != NULL && cathread_busy(station_cathread(s), job_id)))
		return 0;
	if ((rc = job_load(s, job_id, &job)) != 0)
		return rc;
	if (job.cert_serial != NULL || job.csr == NULL || job.token_serial == NULL) {
		rc = 0;		/* stored already, or never asked */
		goto out;
	}
	if ((c = cacall_new(CACALL_ISSUE, job_id)) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if ((rc = job_ca_request(s, &job, NULL, c)) != 0 ||
	    (rc = ca_has_request(s, c->request_key, &found)) != 0 || !found)
		goto out;
	/* the embedded CA answers from its own database at once: on the loop */
	if ((rc = ca_issue(station_ca(s), &c->req, &cert)) != 0)
		goto out;
	if ((n = i2d_X509(cert, &der)) <= 0 || (rc = cert_serial_hex(cert, serial, len)) != 0) {
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	if ((rc = job_ca_record_received(s, job_id, job.unit_id, serial, der, (size_t)n,
	    c->request_key)) == 0)
		log_warn("job %lld: the CA had issued %s for its request before the job stopped;"
		    " recorded", (long long)job_id, serial);
 out:
	if (rc != 0)
		serial[0] = '\0';
	OPENSSL_free(der);
	X509_free(cert);
	cacall_free(c);
	store_job_clear(&job);
	return rc;
}

void
job_ca_revoke(struct station *s, const char *serial)
{
	/* the certificate is already marked revoked here, and one the CA never
	 * got is revoked again at the next start */
	carevoke_submit(s, serial, "cessationOfOperation", NULL, NULL, NULL);
}

/* The CA is down: nothing was issued; the same request goes again later. */
void
job_ca_retry_later(struct station *s, struct bay *b)
{
	int64_t delay = (int64_t)CA_RETRY_MS << (b->ca_attempts < 4 ? b->ca_attempts : 4);
	char why[96];

	if (delay > CA_RETRY_MAX_MS)
		delay = CA_RETRY_MAX_MS;
	b->ca_attempts++;
	snprintf(why, sizeof(why), "CA unavailable (attempt %d); next try in %lld s",
	    b->ca_attempts, (long long)(delay / 1000));
	(void)job_step_mark(s, b->job_id, STEP_CA_SUBMIT, "failed", why);
	b->retry_at_ms = now_ms() + delay;
	bay_set_state(s, b, BAY_WORKING, "job %lld waiting for the CA", (long long)b->job_id);
}

/* Stores the certificate the CA returned (the record first, before anything
 * else happens) and marks ca_submit done. Returns 1 when the job was failed
 * here (a serial another job received), else 0 or an error. */
int
job_ca_store_answer(struct station *s, struct bay *b, const struct store_job *job, X509 *cert,
    const char *rkey)
{
	unsigned char *der = NULL;
	char serial[80];
	int rc, n;

	if ((n = i2d_X509(cert, &der)) <= 0 || cert_serial_hex(cert, serial, sizeof(serial)) != 0) {
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	if ((rc = job_journal_open(s)) != 0)
		goto out;
	/* with CMP the certificate was recorded before its certConf */
	if (job->cert_serial != NULL && strcmp(job->cert_serial, serial) == 0)
		rc = 0;
	else
		rc = job_ca_record_received(s, b->job_id, job->unit_id, serial, der, (size_t)n, rkey);
	if (rc == UKEY_ERR_EXISTS) {
		int64_t other = 0;

		(void)store_received_cert_job(station_store(s), serial, &other);
		if (other != b->job_id) {
			station_audit(s, "ukeyd", "incident.duplicate_serial", job->src.order_id,
			    job->unit_id, b->job_id, b->token_serial, b->name,
			    json_object_new_string(serial));
			job_fail(s, b, JOB_OTHER, UKEY_ERR_EXISTS, "ca_submit: the CA returned serial %s,"
			    " already received for job"
			    " %lld; refused", serial, (long long)other);
			rc = 1;
			goto out;
		}
		/* the same job's own request answered again (idempotent resubmission) */
		rc = store_job_set_cert(station_store(s), b->job_id, der, (size_t)n, serial, rkey);
	}
	/* in the journal's transaction, with the certificate: cert_check and
	 * write_cert's begin join it (job_cert_check) */
	if (rc == 0)
		rc = job_journal_mark(s, b->job_id, STEP_CA_SUBMIT, "done", serial);
	/* decoded from these bytes already (ca.h): cert_check need not again */
	if (rc == 0)
		dercache_cert_keep(&b->der, der, (size_t)n, cert);
 out:
	OPENSSL_free(der);
	return rc;
}

/* A persisted transaction into the connector's form and back. */
static void
txn_from_store(struct ca_txn *t, const struct store_ca_txn *st)
{
	memset(t, 0, sizeof(*t));
	memcpy(t->tid, st->tid, st->tid_len);
	t->tid_len = st->tid_len;
	memcpy(t->nonce, st->nonce, st->nonce_len);
	t->nonce_len = st->nonce_len;
	t->check_after = st->check_after;
}

void
job_ca_txn_to_store(struct store_ca_txn *st, const struct ca_txn *t)
{
	memset(st, 0, sizeof(*st));
	st->tid_len = t->tid_len <= sizeof(st->tid) ? t->tid_len : 0;
	memcpy(st->tid, t->tid, st->tid_len);
	st->nonce_len = t->nonce_len <= sizeof(st->nonce) ? t->nonce_len : 0;
	memcpy(st->nonce, t->nonce, st->nonce_len);
	st->check_after = t->check_after;
}

/*
 * A certificate recorded before its certConf, by a job that stopped before
 * the CA's answer was through (the journal has no ca_submit done): whether
 * the CA got the confirmation is unknown, so it is revoked (an RR; a CA
 * that never got certConf revokes it itself, RFC 4210 5.3.18) and the job
 * asks again. Audited as job.ca_unconfirmed.
 */
static void
unconfirmed_drop(struct station *s, const struct store_job *job)
{
	static const char why[] = "received before the station stopped, its confirmation to the"
	    " CA (certConf) unknown; revoked, and the job asks again";
	struct json_object *d;
	char now[32];
	int rc;

	store_now(now);
	if ((rc = store_begin(station_store(s))) != 0)
		goto out;
	rc = store_received_cert_close(station_store(s), job->cert_serial, "revoked", why, now);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "serial", json_object_new_string(job->cert_serial));
		json_object_object_add(d, "reason", json_object_new_string(why));
		rc = station_audit(s, "ukeyd", "job.ca_unconfirmed", job->src.order_id, job->unit_id,
		    job->id, job->token_serial, job->bay, d);
	}
	if (rc == 0)
		rc = store_commit(station_store(s));
	if (rc != 0)
		store_rollback(station_store(s));
 out:
	if (rc != 0)
		log_error("job %lld: recording certificate %s revoked: %s", (long long)job->id,
		    job->cert_serial, ukey_strerror(rc));
	log_warn("job %lld: certificate %s %s", (long long)job->id, job->cert_serial, why);
	job_ca_revoke(s, job->cert_serial);
}

/* A new request's transactionID, chosen here and stored before the request
 * is sent: a station stopped before the answer polls that transaction. */
static int
txn_new(struct station *s, int64_t job_id, struct ca_txn *t)
{
	struct store_ca_txn st = { .tid_len = 16 };
	char now[32];

	memset(t, 0, sizeof(*t));
	if (RAND_bytes(st.tid, (int)st.tid_len) != 1)
		return UKEY_ERR_CRYPTO;
	store_now(now);
	txn_from_store(t, &st);
	return store_job_ca_txn_set(station_store(s), job_id, &st, now);
}

/*
 * ca_submit: the job's request goes to the CA thread (a new request, or a
 * poll of the transaction the CA holds, persisted in job_ca_txns) and the
 * bay waits in ca_submit; job_ca_answers() goes on when the answer comes.
 */
void
job_ca_submit(struct station *s, struct bay *b)
{
	struct store_job job = { 0 };
	struct store_ca_txn held;
	struct cacall *c = NULL;
	int rc, poll;

	if (cathread_busy(station_cathread(s), b->job_id)) {
		/* asked before its token went and came back: that answer goes on */
		bay_set_state(s, b, BAY_WORKING, "job %lld waiting for the CA's answer",
		    (long long)b->job_id);
		return;
	}
	rc = store_job_ca_txn_get(station_store(s), b->job_id, &held);
	if (rc != 0 && rc != UKEY_ERR_NOTFOUND)
		goto fail;
	poll = rc == 0;
	/* the begin (with make_csr's done before it) and a new transaction's
	 * id: one commit, before the CA is asked */
	(void)job_journal_mark(s, b->job_id, STEP_CA_SUBMIT, "begin", !poll ? NULL :
	    held.nonce_len == 0 ? "poll: the request sent before the station stopped" : "poll");
	if ((c = cacall_new(poll ? CACALL_POLL : CACALL_ISSUE, b->job_id)) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto fail;
	}
	if ((rc = job_load(s, b->job_id, &job)) != 0 ||
	    (rc = job_ca_request(s, &job, &b->der, c)) != 0)
		goto fail;
	if (job.cert_serial != NULL && strcmp(ca_kind(station_ca(s)), "embedded") != 0) {
		(void)job_journal_commit(s);
		unconfirmed_drop(s, &job);
	}
	if (poll) {
		txn_from_store(&c->txn, &held);
		c->unanswered = held.nonce_len == 0;
	} else if ((rc = txn_new(s, b->job_id, &c->txn)) != 0) {
		job_journal_rollback(s);
		goto fail;
	}
	if ((rc = job_journal_commit(s)) != 0)
		goto fail;
	cathread_submit(station_cathread(s), c);
	c = NULL;
	if (poll && held.nonce_len > 0)
		bay_set_state(s, b, BAY_WORKING, "job %lld waiting for the CA (PKIStatus waiting)"
		    " since %s: polling", (long long)b->job_id, held.waiting_since);
	else
		bay_set_state(s, b, BAY_WORKING, "job %lld: asking the CA", (long long)b->job_id);
	goto out;
 fail:
	job_fail(s, b, JOB_OTHER, rc, "ca_submit: %s", ukey_strerror(rc));
 out:
	cacall_free(c);
	store_job_clear(&job);
}

int
job_carry_cap(struct station *s, const struct certprof *prof)
{
	/* an external CA sets its own validity (cmp.validity = ca to accept it) */
	if (prof == NULL || strcmp(station_cfg(s)->ca_type, "embedded") != 0)
		return 0;
	return certprof_carry_over_days(prof);
}

/* The days a renewal's certificate carries over from the one it replaces,
 * counted from the new certificate's notBefore; 0 for an issuance. */
static int
verify_carry_days(struct station *s, const struct store_job *job, const X509 *cert, int *days)
{
	const struct certprof *prof = certprof_set_find(station_cp(s), job->src.cert_profile);
	X509 *old = NULL;
	time_t nb;
	int rc;

	*days = 0;
	if (!job_is_renewal(job) || job_carry_cap(s, prof) == 0)
		return 0;
	if (cert_time_to_time_t(X509_get0_notBefore(cert), &nb) != 0)
		return UKEY_ERR_VERIFY;
	if ((rc = renewal_old_cert(s, job, &old)) != 0)
		return rc;
	*days = cert_carry_days(old, nb, job_carry_cap(s, prof));
	X509_free(old);
	return 0;
}

/* certcheck_issued() of the job's certificate as the configuration says:
 * the order's years (and, for a renewal, the days carried over), or with
 * cmp.validity = ca the CA's own validity within the profile's max years. */
static int
job_cert_verify(struct station *s, const struct store_job *job, const X509 *cert,
    const EVP_PKEY *pub, const X509_NAME *subject, char *why, size_t whylen)
{
	const struct station_config *cfg = station_cfg(s);
	const struct certprof *prof;
	int carry, rc;

	if (strcmp(cfg->ca_type, "cmp") == 0 && cfg->cmp.validity == CMPCONF_VALIDITY_CA) {
		/* the CA sets the validity: bounded by the profile's longest */
		if ((prof = certprof_set_find(station_cp(s), job->src.cert_profile)) == NULL) {
			snprintf(why, whylen, "certificate profile %s is not loaded",
			    job->src.cert_profile);
			return UKEY_ERR_NOTFOUND;
		}
		return certcheck_issued_ca_validity(cert, ca_cert(station_ca(s)), pub, subject,
		    certprof_max_years(prof), time(NULL), why, whylen);
	}
	if ((rc = verify_carry_days(s, job, cert, &carry)) != 0) {
		snprintf(why, whylen, "the renewed certificate cannot be read for its validity");
		return rc;
	}
	return certcheck_issued_days(cert, ca_cert(station_ca(s)), pub, subject,
	    (int)job->src.years, carry, time(NULL), why, whylen);
}

/* What every check of the certificate needs, from the row of b's job: the
 * job, its certificate, public key and subject (each owned by the caller,
 * also on failure; the key and certificate decoded once per bay,
 * dercache.h). UKEY_ERR_DB when a stored blob does not parse. */
static int
job_check_material(struct station *s, struct bay *b, struct store_job *job, X509 **cert,
    EVP_PKEY **pub, X509_NAME **subject)
{
	const uint8_t *p;
	int rc;

	*cert = NULL;
	*pub = NULL;
	*subject = NULL;
	if ((rc = job_load(s, b->job_id, job)) != 0)
		return rc;
	if (job->public_key == NULL)
		return UKEY_ERR_NOTFOUND;
	if ((*pub = dercache_pubkey(&b->der, job->public_key, job->public_key_len)) == NULL)
		return UKEY_ERR_CRYPTO;
	if (job->cert == NULL || job->subject == NULL)
		return UKEY_ERR_NOTFOUND;
	*cert = dercache_cert(&b->der, job->cert, job->cert_len);
	p = job->subject;
	*subject = d2i_X509_NAME(NULL, &p, (long)job->subject_len);
	return *cert && *subject ? 0 : UKEY_ERR_DB;
}

void
job_cert_check(struct station *s, struct bay *b)
{
	struct store_job job = { 0 };
	X509 *cert = NULL;
	EVP_PKEY *pub = NULL;
	X509_NAME *subject = NULL;
	char why[256] = "";
	int rc;

	/* with ca_submit's done and the certificate before it, and write_cert's
	 * begin after it (job_step_run): one commit */
	(void)job_journal_mark(s, b->job_id, STEP_CERT_CHECK, "begin", NULL);
	if ((rc = job_check_material(s, b, &job, &cert, &pub, &subject)) != 0) {
		job_fail(s, b, JOB_OTHER, rc, "cert_check: %s", ukey_strerror(rc));
		goto out;
	}
	rc = job_cert_verify(s, &job, cert, pub, subject, why, sizeof(why));
	if (rc != 0) {
		/* the certificate is in the record before the refusal */
		(void)job_journal_commit(s);
		/* an incident: the CA answered with something the token must not receive */
		station_audit(s, "ukeyd", "incident.ca_reply_refused", job.src.order_id, job.unit_id,
		    b->job_id, b->token_serial, b->name, json_object_new_string(why));
		job_renew_discard_new(s, b);
		job_end_not_issued(s, b->job_id, "failed", why, "refused", JOB_OTHER, rc);
		b->last_job_id = b->job_id;
		b->job_id = 0;
		secret_clear(&b->user_pin);
		bay_set_state(s, b, BAY_FAILED, "job %lld: certificate refused before writing: %s",
		    (long long)b->last_job_id, why);
		goto out;
	}
	if ((rc = job_journal_mark(s, b->job_id, STEP_CERT_CHECK, "done", NULL)) != 0) {
		job_fail(s, b, JOB_OTHER, rc, "cert_check: %s", ukey_strerror(rc));
		goto out;
	}
	job_step_run(s, b, STEP_WRITE_CERT);
 out:
	store_job_clear(&job);
	X509_free(cert);
	EVP_PKEY_free(pub);
	X509_NAME_free(subject);
}

/* What the issuance record says of the certificate and the token, as text. */
struct record_text {
	char *subject, *issuer, *uri, not_before[32], not_after[32];
};

static int
record_text_make(const struct bay *b, X509 *cert, struct record_text *t)
{
	int rc;

	if ((rc = cert_subject_text(X509_get_subject_name(cert), &t->subject)) == 0 &&
	    (rc = cert_subject_text(X509_get_issuer_name(cert), &t->issuer)) == 0 &&
	    (rc = cert_time_iso(X509_get0_notBefore(cert), t->not_before,
	    sizeof(t->not_before))) == 0 &&
	    (rc = cert_time_iso(X509_get0_notAfter(cert), t->not_after,
	    sizeof(t->not_after))) == 0)
		rc = token_uri(b, &t->uri);
	return rc;
}

static int
insert_issuance(struct station *s, const struct bay *b, const struct store_job *job,
    const struct record_text *t, struct json_object *evidence, const char *now)
{
	const struct store_issuance_new r = {
		.order_id = job->src.order_id, .item_id = job->src.item_id,
		.unit_id = job->unit_id, .job_id = job->id, .cert_serial = job->cert_serial,
		.subject = t->subject, .issuer = t->issuer, .not_before = t->not_before,
		.not_after = t->not_after, .key_alg = job->key_alg,
		.key_local = json_object_get_boolean(json_object_object_get(evidence, "local")),
		.key_always_sensitive = json_object_get_boolean(
		    json_object_object_get(evidence, "always_sensitive")),
		.key_never_extractable = json_object_get_boolean(
		    json_object_object_get(evidence, "never_extractable")),
		.key_usage = json_object_to_json_string_ext(json_object_object_get(evidence,
		    "usage"), JSON_C_TO_STRING_PLAIN),
		.token_serial = b->token_serial, .token_model = job_token_text(b, "model"),
		.token_profile = b->profile->name, .token_uri = t->uri,
		.org_uscc = job->src.account_uscc, .kind = job->src.kind,
		.cert = job->cert, .cert_len = job->cert_len, .operator_name = job->operator_name,
		.station_id = station_cfg(s)->station_id, .started_at = job->started_at, .issued_at = now,
		/* the certificate this one replaces: a renewal's (same token) or a
		 * replacement order's (a new token for a lost or damaged one) */
		.replaces_serial = job_is_renewal(job) ? job->renews_serial : job->src.replaces_cert,
		.replaces_how = job_is_renewal(job) ? "renewal" :
		    job->src.replaces_cert != NULL ? "replacement" : NULL,
	};

	return store_issuance_insert(station_store(s), &r);
}

/* One transaction, the journal's (with read_back's done and record's
 * begin): the issuance, the unit, the certificate and the job agree,
 * audited; the order is issued once none of its units waits. */
static int
record_commit(struct station *s, const struct bay *b, const struct store_job *job,
    const struct record_text *t, struct json_object *evidence, const char *now)
{
	struct json_object *d;
	int64_t left = 0;
	int rc;

	if ((rc = job_journal_open(s)) != 0)
		return rc;
	rc = insert_issuance(s, b, job, t, evidence, now);
	if (rc == 0)
		rc = store_received_cert_issued(station_store(s), job->cert_serial, now);
	if (rc == 0)
		rc = store_unit_set_issued(station_store(s), job->unit_id, now);
	if (rc == 0)	/* the unit is done: its lease goes with the record */
		rc = store_lease_release(station_store(s), job->unit_id, station_cfg(s)->station_id);
	/* a renewal goes on to remove the old key pair: its old certificate is
	 * superseded here, its job ends after discard_old */
	if (rc == 0)
		rc = job_is_renewal(job) ? job_renew_record_supersede(s, job, now) :
		    store_job_issued(station_store(s), job->id, now);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "serial", json_object_new_string(job->cert_serial));
		json_object_object_add(d, "subject", json_object_new_string(t->subject));
		json_object_object_add(d, "not_after", json_object_new_string(t->not_after));
		json_object_object_add(d, "station", json_object_new_string(station_cfg(s)->station_id));
		rc = station_audit(s, job->operator_name, "issuance.record", job->src.order_id,
		    job->unit_id, job->id, b->token_serial, b->name, d);
	}
	if (rc == 0)
		rc = store_units_count(station_store(s), job->src.order_id, STORE_UNIT_WAITING, &left);
	if (rc == 0 && left == 0)
		rc = station_order_event(s, job->operator_name, job->src.order_id,
		    OE_FINISH_PRODUCTION, now);
	if (rc == 0)
		rc = job_journal_commit(s);
	else
		job_journal_rollback(s);
	return rc;
}

void
job_record(struct station *s, struct bay *b, struct json_object *evidence)
{
	struct store_job job = { 0 };
	struct record_text t = { 0 };
	X509 *cert = NULL;
	char now[32];
	int rc;

	(void)job_journal_mark(s, b->job_id, STEP_RECORD, "begin", NULL);
	if ((rc = job_load(s, b->job_id, &job)) != 0)
		goto fail;
	/* the certificate read_back found on the token, byte for byte */
	if (job.cert == NULL || (cert = dercache_cert(&b->der, job.cert, job.cert_len)) == NULL) {
		rc = job.cert == NULL ? UKEY_ERR_NOTFOUND : UKEY_ERR_DB;
		goto fail;
	}
	if ((rc = record_text_make(b, cert, &t)) != 0)
		goto fail;
	store_now(now);
	if ((rc = record_commit(s, b, &job, &t, evidence, now)) != 0)
		goto fail;
	job_step_timed(s, b->job_id, STEP_RECORD, "done");
	job_test_crash_point("record", "done");
	job_replace_after_record(s, &job);
	if (job_is_renewal(&job)) {
		job_renew_recorded(s, b, &job);
		goto out;
	}
	b->last_job_seconds = (double)(now_ms() - b->started_ms) / 1000.0;
	b->last_job_id = b->job_id;
	b->job_id = 0;
	log_info("job %lld issued certificate %s on token %s in %.2f s", (long long)b->last_job_id,
	    job.cert_serial, b->token_serial, b->last_job_seconds);
	bay_set_state(s, b, BAY_DONE, "issued certificate %s (%.2f s)", job.cert_serial,
	    b->last_job_seconds);
	goto out;
 fail:
	job_fail(s, b, JOB_OTHER, rc, "record: %s", ukey_strerror(rc));
 out:
	free(t.subject);
	free(t.issuer);
	free(t.uri);
	store_job_clear(&job);
	X509_free(cert);
}
