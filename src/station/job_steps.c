/* The steps of the issuance job, one function (or reply handler) each; the
 * job's start, end and recovery are in job.c. Loop context only. */
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
#include "station/station.h"
#include "store/store_jobs.h"
#include "store/store_units.h"

/* A CA that is down is asked again after 2 s, then 4, 8, 16 and every 30 s:
 * each refused submission is journalled and audited, so a long outage must
 * not add a record every 2 s. */
#define CA_RETRY_MS 2000
#define CA_RETRY_MAX_MS 30000


static int
step_timeout(const struct bay *b, enum step st)
{
	if (st == STEP_INIT_TOKEN)
		return b->profile->timeout_init_ms;
	if (st == STEP_GENERATE_KEY)
		return b->profile->timeout_keygen_ms;
	return b->profile->timeout_default_ms;
}

/*
 * Whose fault a step's error from the worker is. The worker names the field
 * it refused: a label or a subject is the unit's and fails the same way on
 * any token; a PIN, a PKCS#11 call the token refused (device or module
 * errors, a token not blank, write protected, a mechanism it lacks) or
 * anything else the token did is the token's.
 */
static enum job_blame
worker_blame(int rc, const char *msg)
{
	if (rc == UKEY_ERR_INVAL && msg != NULL &&
	    (strncmp(msg, "label", 5) == 0 || strncmp(msg, "subject", 7) == 0))
		return JOB_UNIT;
	if (rc == UKEY_ERR_NOMEM || rc == UKEY_ERR_PROTO)
		return JOB_OTHER;	/* the worker's host or the station itself */
	return JOB_TOKEN;
}

/* Whose fault a CA's refusal is: a request it finds malformed or against
 * its policy is the unit's (the same request is refused again); its own
 * trouble is passing. */
static enum job_blame
ca_refusal_blame(int rc)
{
	switch (rc) {
	case UKEY_ERR_INVAL:
	case UKEY_ERR_VERIFY:
	case UKEY_ERR_CA:
	case UKEY_ERR_UNSUPPORTED:
	case UKEY_ERR_PERM:
		return JOB_UNIT;
	default:
		return JOB_OTHER;
	}
}

static void
worker_failed(struct station *s, struct bay *b, enum step st, int rc, struct json_object *reply)
{
	const char *msg = jstr(reply, "message");

	if (rc == UKEY_ERR_REMOVED) {
		int64_t id = b->job_id;

		job_on_token_left(s, b, msg ? msg : "token removed");
		bay_set_state(s, b, BAY_FAILED, "token lost during %s; job %lld waits for it to be"
		    " plugged in again", job_step_names[st], (long long)id);
		return;
	}
	job_fail(s, b, worker_blame(rc, msg), rc, "%s: %s", job_step_names[st],
	    msg ? msg : ukey_strerror(rc));
}

static void
add_pin(struct json_object *req, const char *key, const struct secret *pin)
{
	json_object_object_add(req, key, json_object_new_string_len((const char *)pin->p,
	    (int)pin->len));
}

static const char *
token_text(const struct bay *b, const char *key)
{
	const char *v = jstr(b->token, key);

	return v ? v : "";
}

/* RFC 7512 URI naming the token, malloc'd in *out. */
static int
token_uri(const struct bay *b, char **out)
{
	const struct p11uri u = { .model = token_text(b, "model"),
	    .manufacturer = token_text(b, "manufacturer"), .serial = token_text(b, "serial"),
	    .token = token_text(b, "label") };

	return p11uri_format(&u, out);
}

static void
on_init_token(struct station *s, struct bay *b, int rc, struct json_object *reply)
{
	struct json_object *tok = json_object_object_get(reply, "token");
	uint8_t *enc = NULL;
	size_t enclen = 0;
	char aad[160], now[32];
	const char *serial = jstr(tok, "serial");

	secret_clear(&b->wipe_so);
	if (rc != 0) {
		worker_failed(s, b, STEP_INIT_TOKEN, rc, reply);
		return;
	}
	if (serial == NULL || serial[0] == '\0') {
		job_fail(s, b, JOB_TOKEN, UKEY_ERR_P11, "init_token: the token reports no serial"
		    " number");
		return;
	}
	json_object_put(b->token);
	b->token = json_object_get(tok);
	snprintf(b->token_serial, sizeof(b->token_serial), "%s", serial);
	snprintf(aad, sizeof(aad), "token:%s:%s", b->profile->name, serial);
	if ((rc = seal(s->master_key, aad, b->so_pin.p, b->so_pin.len, &enc, &enclen)) != 0)
		goto fail;
	store_now(now);
	/* the SO PIN moves from the job row to the token row in one transaction */
	if ((rc = store_begin(s->st)) != 0)
		goto fail;
	{
		const struct store_token_seen t = {
			.profile = b->profile->name, .serial = serial,
			.model = token_text(b, "model"), .manufacturer = token_text(b, "manufacturer"),
			.label = token_text(b, "label"), .so_pin_enc = enc, .so_pin_enc_len = enclen,
		};

		rc = store_token_upsert(s->st, &t, now);
	}
	if (rc == 0)
		rc = store_job_set_token(s->st, b->job_id, b->profile->name, serial);
	if (rc == 0)
		rc = store_commit(s->st);
	else
		store_rollback(s->st);
	if (rc != 0)
		goto fail;
	secret_clear(&b->so_pin);
	if ((rc = job_step_mark(s, b->job_id, STEP_INIT_TOKEN, "done", serial)) != 0)
		goto fail;
	free(enc);
	job_step_run(s, b, STEP_GENERATE_KEY);
	return;
 fail:
	free(enc);
	job_fail(s, b, JOB_OTHER, rc, "init_token: recording the token: %s", ukey_strerror(rc));
}

/* What the job's key pair may do: its certificate profile's key usage
 * (certprof_key_ops). UKEY_ERR_NOTFOUND when the profile is no longer
 * loaded. */
static int
job_key_ops(struct station *s, struct json_object *job, unsigned *ops)
{
	const struct certprof *prof = certprof_set_find(s->cp, jstr(job, "cert_profile"));

	*ops = 0;
	if (prof == NULL)
		return UKEY_ERR_NOTFOUND;
	*ops = certprof_key_ops(prof);
	return 0;
}

/* The usage names of the worker protocol, private key and public key side,
 * each with the CERTPROF_KEY_* bit that allows it (0: never). */
struct usage_name {
	const char *name;
	unsigned op;
};

static const struct usage_name usage_private[] = {
	{ "sign", CERTPROF_KEY_SIGN },
	{ "decrypt", CERTPROF_KEY_DECRYPT },
	{ "unwrap", CERTPROF_KEY_UNWRAP },
	{ "derive", CERTPROF_KEY_DERIVE },
}, usage_public[] = {
	{ "verify", CERTPROF_KEY_SIGN },
	{ "encrypt", CERTPROF_KEY_DECRYPT },
	{ "wrap", CERTPROF_KEY_UNWRAP },
	{ "derive", 0 },
};

/* The "usage" field of generate_key and read_back: the private-key
 * operations ops allows. */
static struct json_object *
usage_request(unsigned ops)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; a != NULL && i < sizeof(usage_private) / sizeof(usage_private[0]); i++)
		if (ops & usage_private[i].op)
			json_object_array_add(a, json_object_new_string(usage_private[i].name));
	return a;
}

/* Does the list got (a JSON array of names) hold exactly the names of tab
 * (n entries) that ops allows? Writes the first difference into why. */
static int
usage_side_ok(struct json_object *got, const struct usage_name *tab, size_t n, unsigned ops,
    const char *side, char *why, size_t whylen)
{
	size_t i, j, len;
	int found;

	if (got == NULL || !json_object_is_type(got, json_type_array)) {
		snprintf(why, whylen, "the %s key's usage was not reported", side);
		return UKEY_ERR_VERIFY;
	}
	len = json_object_array_length(got);
	for (j = 0; j < len; j++) {
		const char *g = json_object_get_string(json_object_array_get_idx(got, j));

		for (i = 0; i < n; i++)
			if (g != NULL && strcmp(g, tab[i].name) == 0)
				break;
		if (i == n || !(ops & tab[i].op)) {
			snprintf(why, whylen, "the %s key allows %.32s, which the certificate profile "
			    "does not", side, g != NULL ? g : "?");
			return UKEY_ERR_VERIFY;
		}
	}
	for (i = 0; i < n; i++) {
		if (!(ops & tab[i].op))
			continue;
		found = 0;
		for (j = 0; j < len; j++) {
			const char *g = json_object_get_string(json_object_array_get_idx(got, j));

			if (g != NULL && strcmp(g, tab[i].name) == 0)
				found = 1;
		}
		if (!found) {
			snprintf(why, whylen, "the %s key does not allow %s, which the certificate "
			    "profile asks for", side, tab[i].name);
			return UKEY_ERR_VERIFY;
		}
	}
	return 0;
}

/* The key-protection evidence holds (made on the token, never extractable)
 * and the pair's usage attributes are exactly what ops allows. */
static int
evidence_ok(struct json_object *ev, unsigned ops, char *why, size_t whylen)
{
	static const char *must_true[] = { "local", "always_sensitive", "never_extractable",
		"sensitive" };
	struct json_object *v, *usage;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(must_true) / sizeof(must_true[0]); i++) {
		v = json_object_object_get(ev, must_true[i]);
		if (v == NULL || !json_object_is_type(v, json_type_boolean) ||
		    !json_object_get_boolean(v)) {
			snprintf(why, whylen, "private key attribute %s is not true", must_true[i]);
			return UKEY_ERR_VERIFY;
		}
	}
	v = json_object_object_get(ev, "extractable");
	if (v == NULL || json_object_get_boolean(v)) {
		snprintf(why, whylen, "private key is extractable");
		return UKEY_ERR_VERIFY;
	}
	usage = json_object_object_get(ev, "usage");
	if (usage == NULL || !json_object_is_type(usage, json_type_object)) {
		snprintf(why, whylen, "the key pair's usage was not reported");
		return UKEY_ERR_VERIFY;
	}
	if ((v = json_object_object_get(usage, "unreadable")) != NULL &&
	    json_object_array_length(v) > 0) {
		snprintf(why, whylen, "the key pair's usage attribute %s cannot be read",
		    json_object_get_string(json_object_array_get_idx(v, 0)));
		return UKEY_ERR_VERIFY;
	}
	if ((rc = usage_side_ok(json_object_object_get(usage, "private"), usage_private,
	    sizeof(usage_private) / sizeof(usage_private[0]), ops, "private", why, whylen)) != 0 ||
	    (rc = usage_side_ok(json_object_object_get(usage, "public"), usage_public,
	    sizeof(usage_public) / sizeof(usage_public[0]), ops, "public", why, whylen)) != 0)
		return rc;
	return 0;
}

static void
on_generate_key(struct station *s, struct bay *b, int rc, struct json_object *reply)
{
	struct json_object *ev = json_object_object_get(reply, "evidence"), *job = NULL;
	const char *pub_hex = jstr(reply, "public_key");
	uint8_t *pub = NULL;
	const uint8_t *pp;
	size_t publen = 0;
	EVP_PKEY *pk = NULL;
	unsigned ops = 0;
	char why[256];

	if (rc != 0) {
		worker_failed(s, b, STEP_GENERATE_KEY, rc, reply);
		return;
	}
	/* checked here again, from the profile, not from what the worker says
	 * it was asked */
	rc = job_load(s, b->job_id, &job);
	if (rc == 0)
		rc = job_key_ops(s, job, &ops);
	json_object_put(job);
	if (rc != 0) {
		job_fail(s, b, JOB_OTHER, rc, "generate_key: the job's certificate profile: %s",
		    ukey_strerror(rc));
		return;
	}
	if (evidence_ok(ev, ops, why, sizeof(why)) != 0) {
		job_fail(s, b, JOB_TOKEN, UKEY_ERR_VERIFY, "generate_key: %s", why);
		return;
	}
	if (pub_hex == NULL || hex_decode(pub_hex, &pub, &publen) != 0 ||
	    (pp = pub, pk = d2i_PUBKEY(NULL, &pp, (long)publen)) == NULL) {
		free(pub);
		job_fail(s, b, JOB_TOKEN, UKEY_ERR_VERIFY, "generate_key: the worker returned no"
		    " valid public key");
		return;
	}
	EVP_PKEY_free(pk);
	rc = store_job_set_public_key(s->st, b->job_id, pub, publen,
	    json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN));
	free(pub);
	if (rc == 0)
		rc = job_step_mark(s, b->job_id, STEP_GENERATE_KEY, "done",
		    json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN));
	if (rc != 0) {
		job_fail(s, b, JOB_OTHER, rc, "generate_key: recording the key: %s", ukey_strerror(rc));
		return;
	}
	job_step_run(s, b, STEP_MAKE_CSR);
}

static int
job_pubkey(struct json_object *job, EVP_PKEY **out)
{
	uint8_t *der = NULL;
	const uint8_t *p;
	size_t len = 0;
	int rc;

	*out = NULL;
	if ((rc = job_blob_from_hex(job, "public_key", &der, &len)) != 0)
		return rc;
	p = der;
	*out = d2i_PUBKEY(NULL, &p, (long)len);
	free(der);
	return *out ? 0 : UKEY_ERR_CRYPTO;
}

static void
on_make_csr(struct station *s, struct bay *b, int rc, struct json_object *reply)
{
	struct json_object *job = NULL;
	uint8_t *der = NULL;
	const uint8_t *p;
	size_t len = 0;
	X509_REQ *req = NULL;
	EVP_PKEY *pub = NULL;

	if (rc != 0) {
		worker_failed(s, b, STEP_MAKE_CSR, rc, reply);
		return;
	}
	if ((rc = job_load(s, b->job_id, &job)) != 0 || (rc = job_pubkey(job, &pub)) != 0)
		goto fail;
	if (jstr(reply, "csr") == NULL || hex_decode(jstr(reply, "csr"), &der, &len) != 0 ||
	    (p = der, req = d2i_X509_REQ(NULL, &p, (long)len)) == NULL) {
		json_object_put(job);
		EVP_PKEY_free(pub);
		free(der);
		job_fail(s, b, JOB_TOKEN, UKEY_ERR_VERIFY, "make_csr: the worker returned no valid"
		    " request");
		return;
	}
	if (X509_REQ_verify(req, pub) != 1) {
		json_object_put(job);
		EVP_PKEY_free(pub);
		X509_REQ_free(req);
		free(der);
		job_fail(s, b, JOB_TOKEN, UKEY_ERR_VERIFY, "make_csr: the request is not signed by"
		    " the token's key");
		return;
	}
	rc = store_job_set_csr(s->st, b->job_id, der, len);
	if (rc == 0)
		rc = job_step_mark(s, b->job_id, STEP_MAKE_CSR, "done", NULL);
 fail:
	json_object_put(job);
	EVP_PKEY_free(pub);
	X509_REQ_free(req);
	free(der);
	if (rc != 0) {
		job_fail(s, b, JOB_OTHER, rc, "make_csr: %s", ukey_strerror(rc));
		return;
	}
	job_step_run(s, b, STEP_CA_SUBMIT);
}

static int
request_key(struct json_object *job, const uint8_t *csr, size_t csrlen, char out[65])
{
	unsigned char h[32];
	char head[160], *hex;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned hl = 0;
	int ok;

	snprintf(head, sizeof(head), "unit:%lld;token:%s;csr:", (long long)jint(job, "unit_id"),
	    jstr(job, "token_serial"));
	ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(md, head, strlen(head)) == 1 &&
	    EVP_DigestUpdate(md, csr, csrlen) == 1 && EVP_DigestFinal_ex(md, h, &hl) == 1;
	EVP_MD_CTX_free(md);
	if (!ok || (hex = hex_encode(h, sizeof(h))) == NULL)
		return UKEY_ERR_CRYPTO;
	memcpy(out, hex, 65);
	free(hex);
	return 0;
}

/*
 * Asks the CA for the job's certificate with the job's stored request and its
 * request key (rkey, 65 bytes). Returns ca_issue()'s code; *cert owned.
 */
static int
job_ca_issue(struct station *s, struct json_object *job, char rkey[65], X509 **cert)
{
	struct json_object *doc = NULL, *item;
	uint8_t *csr_der = NULL, *subj_der = NULL;
	size_t csr_len = 0, subj_len = 0;
	const uint8_t *p;
	X509_REQ *csr = NULL;
	X509_NAME *subject = NULL;
	const struct certprof *prof;
	struct ca_request req = { 0 };
	int rc;

	*cert = NULL;
	if ((rc = job_blob_from_hex(job, "csr", &csr_der, &csr_len)) != 0 ||
	    (rc = job_blob_from_hex(job, "subject", &subj_der, &subj_len)) != 0)
		goto out;
	p = csr_der;
	csr = d2i_X509_REQ(NULL, &p, (long)csr_len);
	p = subj_der;
	subject = d2i_X509_NAME(NULL, &p, (long)subj_len);
	prof = certprof_set_find(s->cp, jstr(job, "cert_profile"));
	if (csr == NULL || subject == NULL || prof == NULL) {
		rc = UKEY_ERR_DB;
		goto out;
	}
	if ((rc = request_key(job, csr_der, csr_len, rkey)) != 0)
		goto out;
	/* the whole document: a personal certificate's GM/T identity value is
	 * the resident ID number */
	if ((rc = orderdoc_open(s, jstr(job, "portal_ref"), jstr(job, "doc_sealed"), &doc)) != 0)
		goto out;
	item = json_object_object_get(doc, jstr(job, "kind"));
	req.csr = csr;
	req.subject = subject;
	req.profile = prof;
	req.years = (int)jint(job, "years");
	req.request_key = rkey;
	req.gm_identity_value = strcmp(jstr(job, "kind"), "organisation") == 0 ?
	    jstr(job, "account_uscc") : jstr(item, "id_number");
	/* a person's e-mail address, when the order gives one (the profile
	 * decides whether the certificate carries it) */
	req.email = jstr(item, "email");
	rc = ca_issue(s->ca, &req, cert);
 out:
	json_object_put(doc);
	free(csr_der);
	free(subj_der);
	X509_REQ_free(csr);
	X509_NAME_free(subject);
	return rc;
}

/* Stores a certificate the CA returned for the job, in one transaction: the
 * received_certs row and the job's cert columns. UKEY_ERR_EXISTS (nothing
 * written) when that serial was received before. */
static int
record_received(struct station *s, int64_t job_id, int64_t unit_id, const char *serial,
    const unsigned char *der, size_t len, const char *rkey)
{
	char now[32];
	int rc;

	store_now(now);
	if ((rc = store_begin(s->st)) != 0)
		return rc;
	rc = store_received_cert_add(s->st, serial, job_id, unit_id, der, len, now);
	if (rc == 0)
		rc = store_job_set_cert(s->st, job_id, der, len, serial, rkey);
	if (rc == 0)
		rc = store_commit(s->st);
	if (rc != 0)
		store_rollback(s->st);
	return rc;
}

/*
 * A job ending between its CA request and the storing of the answer (killed
 * at ca_submit, then abandoned) may have a certificate at the CA that the
 * station never received. If the CA lists one under the job's request key,
 * it is fetched again (the request key makes that idempotent) and stored as
 * received, so that the job's end revokes it and keeps it in the record.
 * Returns 0 (with *serial set, or "" when the CA has none) or an error.
 */
int
job_ca_recover(struct station *s, int64_t job_id, char *serial, size_t len)
{
	struct json_object *job = NULL, *list = NULL;
	X509 *cert = NULL;
	unsigned char *der = NULL;
	char rkey[65];
	uint8_t *csr = NULL;
	size_t csrlen = 0, i;
	int rc, n, found = 0;

	serial[0] = '\0';
	if ((rc = job_load(s, job_id, &job)) != 0)
		return rc;
	if (jstr(job, "cert_serial") != NULL || jstr(job, "csr") == NULL ||
	    jstr(job, "token_serial") == NULL) {
		rc = 0;		/* stored already, or never asked */
		goto out;
	}
	if ((rc = job_blob_from_hex(job, "csr", &csr, &csrlen)) != 0 ||
	    (rc = request_key(job, csr, csrlen, rkey)) != 0 ||
	    (rc = ca_list_issued(s->ca, &list)) != 0)
		goto out;
	for (i = 0; i < json_object_array_length(list); i++) {
		struct json_object *r = json_object_array_get_idx(list, i);

		if (jstr(r, "request_key") != NULL && strcmp(jstr(r, "request_key"), rkey) == 0 &&
		    strcmp(jstr(r, "status"), "valid") == 0)
			found = 1;
	}
	if (!found) {
		rc = 0;
		goto out;
	}
	if ((rc = job_ca_issue(s, job, rkey, &cert)) != 0)
		goto out;
	if ((n = i2d_X509(cert, &der)) <= 0 || (rc = cert_serial_hex(cert, serial, len)) != 0) {
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	if ((rc = record_received(s, job_id, jint(job, "unit_id"), serial, der, (size_t)n,
	    rkey)) == 0)
		log_warn("job %lld: the CA had issued %s for its request before the job stopped;"
		    " recorded", (long long)job_id, serial);
 out:
	if (rc != 0)
		serial[0] = '\0';
	free(csr);
	OPENSSL_free(der);
	X509_free(cert);
	json_object_put(list);
	json_object_put(job);
	return rc;
}

static void
do_ca_submit(struct station *s, struct bay *b)
{
	struct json_object *job = NULL;
	uint8_t *cert_der = NULL;
	X509 *cert = NULL;
	char rkey[65], serial[80];
	int rc, n;

	if ((rc = job_load(s, b->job_id, &job)) != 0)
		goto fail;
	rc = job_ca_issue(s, job, rkey, &cert);
	if (rc == UKEY_ERR_DB)
		goto fail;
	if (rc == UKEY_ERR_UNAVAIL) {
		/* the CA is down: nothing was issued; try the same request again later */
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
		goto out;
	}
	if (rc != 0) {
		char why[128];

		snprintf(why, sizeof(why), "ca_submit: the CA refused the request: %s", ukey_strerror(rc));
		job_fail(s, b, ca_refusal_blame(rc), rc, "%s", why);
		goto out;
	}
	job_test_crash_point("ca_submit", "returned");
	if ((n = i2d_X509(cert, &cert_der)) <= 0 ||
	    (rc = cert_serial_hex(cert, serial, sizeof(serial))) != 0) {
		rc = UKEY_ERR_CRYPTO;
		goto fail;
	}
	/* the returned certificate is in the record before anything else happens */
	rc = record_received(s, b->job_id, jint(job, "unit_id"), serial, cert_der, (size_t)n, rkey);
	if (rc == UKEY_ERR_EXISTS) {
		int64_t other = 0;

		(void)store_received_cert_job(s->st, serial, &other);
		if (other != b->job_id) {
			station_audit(s, "ukeyd", "incident.duplicate_serial", jint(job, "order_id"),
			    jint(job, "unit_id"), b->job_id, b->token_serial, b->name,
			    json_object_new_string(serial));
			job_fail(s, b, JOB_OTHER, UKEY_ERR_EXISTS, "ca_submit: the CA returned serial %s,"
			    " already received for job"
			    " %lld; refused", serial, (long long)other);
			goto out;
		}
		/* the same job's own request answered again (idempotent resubmission) */
		rc = store_job_set_cert(s->st, b->job_id, cert_der, (size_t)n, serial, rkey);
	}
	if (rc != 0)
		goto fail;
	if ((rc = job_step_mark(s, b->job_id, STEP_CA_SUBMIT, "done", serial)) != 0)
		goto fail;
	job_step_run(s, b, STEP_CERT_CHECK);
	goto out;
 fail:
	job_fail(s, b, JOB_OTHER, rc, "ca_submit: %s", ukey_strerror(rc));
 out:
	json_object_put(job);
	OPENSSL_free(cert_der);
	X509_free(cert);
}

/* Loads what every check needs: the job's certificate, public key and subject. */
static int
check_material(struct station *s, struct bay *b, struct json_object **job, X509 **cert,
    EVP_PKEY **pub, X509_NAME **subject)
{
	uint8_t *der = NULL;
	const uint8_t *p;
	size_t len = 0;
	int rc;

	*cert = NULL;
	*pub = NULL;
	*subject = NULL;
	if ((rc = job_load(s, b->job_id, job)) != 0 || (rc = job_pubkey(*job, pub)) != 0)
		return rc;
	if ((rc = job_blob_from_hex(*job, "cert", &der, &len)) != 0)
		return rc;
	p = der;
	*cert = d2i_X509(NULL, &p, (long)len);
	free(der);
	if ((rc = job_blob_from_hex(*job, "subject", &der, &len)) != 0)
		return rc;
	p = der;
	*subject = d2i_X509_NAME(NULL, &p, (long)len);
	free(der);
	return *cert && *subject ? 0 : UKEY_ERR_DB;
}

static void
do_cert_check(struct station *s, struct bay *b)
{
	struct json_object *job = NULL;
	X509 *cert = NULL;
	EVP_PKEY *pub = NULL;
	X509_NAME *subject = NULL;
	char why[256] = "";
	int rc;

	(void)job_step_mark(s, b->job_id, STEP_CERT_CHECK, "begin", NULL);
	if ((rc = check_material(s, b, &job, &cert, &pub, &subject)) != 0) {
		job_fail(s, b, JOB_OTHER, rc, "cert_check: %s", ukey_strerror(rc));
		goto out;
	}
	rc = certcheck_issued(cert, ca_cert(s->ca), pub, subject, (int)jint(job, "years"),
	    time(NULL), why, sizeof(why));
	if (rc != 0) {
		/* an incident: the CA answered with something the token must not receive */
		station_audit(s, "ukeyd", "incident.ca_reply_refused", jint(job, "order_id"),
		    jint(job, "unit_id"), b->job_id, b->token_serial, b->name,
		    json_object_new_string(why));
		job_end_not_issued(s, b->job_id, "failed", why, "refused", JOB_OTHER, rc);
		b->last_job_id = b->job_id;
		b->job_id = 0;
		secret_clear(&b->user_pin);
		bay_set_state(s, b, BAY_FAILED, "job %lld: certificate refused before writing: %s",
		    (long long)b->last_job_id, why);
		goto out;
	}
	if ((rc = job_step_mark(s, b->job_id, STEP_CERT_CHECK, "done", NULL)) != 0) {
		job_fail(s, b, JOB_OTHER, rc, "cert_check: %s", ukey_strerror(rc));
		goto out;
	}
	job_step_run(s, b, STEP_WRITE_CERT);
 out:
	json_object_put(job);
	X509_free(cert);
	EVP_PKEY_free(pub);
	X509_NAME_free(subject);
}

static void
on_write_cert(struct station *s, struct bay *b, int rc, struct json_object *reply)
{
	if (rc != 0) {
		worker_failed(s, b, STEP_WRITE_CERT, rc, reply);
		return;
	}
	if ((rc = job_step_mark(s, b->job_id, STEP_WRITE_CERT, "done", NULL)) != 0) {
		job_fail(s, b, JOB_OTHER, rc, "write_cert: %s", ukey_strerror(rc));
		return;
	}
	job_step_run(s, b, STEP_READ_BACK);
}

static int
ca_der_hex(struct station *s, char **out)
{
	unsigned char *der = NULL;
	int n = i2d_X509(ca_cert(s->ca), &der);

	*out = n > 0 ? hex_encode(der, (size_t)n) : NULL;
	OPENSSL_free(der);
	return *out ? 0 : UKEY_ERR_CRYPTO;
}

static void do_record(struct station *s, struct bay *b, struct json_object *evidence);

static void
on_read_back(struct station *s, struct bay *b, int rc, struct json_object *reply)
{
	struct json_object *job = NULL, *cas;
	X509 *cert = NULL;
	EVP_PKEY *pub = NULL;
	X509_NAME *subject = NULL;
	char why[256] = "", *ca_hex = NULL;
	const char *got;
	size_t i;
	unsigned ops = 0;
	int found_ca = 0;

	if (rc != 0) {
		worker_failed(s, b, STEP_READ_BACK, rc, reply);
		return;
	}
	if ((rc = check_material(s, b, &job, &cert, &pub, &subject)) != 0 ||
	    (rc = job_key_ops(s, job, &ops)) != 0 ||
	    (rc = ca_der_hex(s, &ca_hex)) != 0) {
		snprintf(why, sizeof(why), "%s", ukey_strerror(rc));
		goto fail;
	}
	got = jstr(reply, "cert");
	if (got == NULL || strcmp(got, jstr(job, "cert")) != 0) {
		snprintf(why, sizeof(why), "the certificate read from the token differs from the one written");
		goto fail;
	}
	got = jstr(reply, "public_key");
	if (got == NULL || strcmp(got, jstr(job, "public_key")) != 0) {
		snprintf(why, sizeof(why), "the public key read from the token differs from the generated one");
		goto fail;
	}
	if (!json_object_get_boolean(json_object_object_get(reply, "private_key"))) {
		snprintf(why, sizeof(why), "the private key is no longer on the token");
		goto fail;
	}
	if (evidence_ok(json_object_object_get(reply, "evidence"), ops, why, sizeof(why)) != 0)
		goto fail;
	cas = json_object_object_get(reply, "ca_certs");
	for (i = 0; i < json_object_array_length(cas); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(cas, i)), ca_hex) == 0)
			found_ca = 1;
	if (!found_ca) {
		snprintf(why, sizeof(why), "the CA certificate is not on the token");
		goto fail;
	}
	if (certcheck_issued(cert, ca_cert(s->ca), pub, subject, (int)jint(job, "years"), time(NULL),
	    why, sizeof(why)) != 0)
		goto fail;
	if ((rc = job_step_mark(s, b->job_id, STEP_READ_BACK, "done", NULL)) != 0) {
		snprintf(why, sizeof(why), "%s", ukey_strerror(rc));
		goto fail;
	}
	do_record(s, b, json_object_object_get(reply, "evidence"));
	goto out;
 fail:
	job_fail(s, b, JOB_TOKEN, UKEY_ERR_VERIFY, "read_back: %s", why);
 out:
	free(ca_hex);
	json_object_put(job);
	X509_free(cert);
	EVP_PKEY_free(pub);
	X509_NAME_free(subject);
}

static void
do_record(struct station *s, struct bay *b, struct json_object *evidence)
{
	struct json_object *job = NULL, *d;
	X509 *cert = NULL;
	EVP_PKEY *pub = NULL;
	X509_NAME *subject = NULL;
	char *subj_txt = NULL, *iss_txt = NULL, nb[32], na[32], now[32], *uri = NULL;
	uint8_t *cert_der = NULL;
	size_t cert_len = 0;
	const char *serial;
	int64_t left = 0;
	int rc;

	(void)job_step_mark(s, b->job_id, STEP_RECORD, "begin", NULL);
	if ((rc = check_material(s, b, &job, &cert, &pub, &subject)) != 0 ||
	    (rc = cert_subject_text(X509_get_subject_name(cert), &subj_txt)) != 0 ||
	    (rc = cert_subject_text(X509_get_issuer_name(cert), &iss_txt)) != 0 ||
	    (rc = cert_time_iso(X509_get0_notBefore(cert), nb, sizeof(nb))) != 0 ||
	    (rc = cert_time_iso(X509_get0_notAfter(cert), na, sizeof(na))) != 0)
		goto fail;
	serial = jstr(job, "cert_serial");
	if ((rc = job_blob_from_hex(job, "cert", &cert_der, &cert_len)) != 0 ||
	    (rc = token_uri(b, &uri)) != 0)
		goto fail;
	store_now(now);
	/* one transaction: the issuance, the unit, the certificate and the job agree */
	if ((rc = store_begin(s->st)) != 0)
		goto fail;
	{
		const struct store_issuance_new r = {
			.order_id = jint(job, "order_id"), .item_id = jint(job, "item_id"),
			.unit_id = jint(job, "unit_id"), .job_id = b->job_id, .cert_serial = serial,
			.subject = subj_txt, .issuer = iss_txt, .not_before = nb, .not_after = na,
			.key_alg = jstr(job, "key_alg"),
			.key_local = json_object_get_boolean(json_object_object_get(evidence,
			    "local")),
			.key_always_sensitive = json_object_get_boolean(
			    json_object_object_get(evidence, "always_sensitive")),
			.key_never_extractable = json_object_get_boolean(
			    json_object_object_get(evidence, "never_extractable")),
			.key_usage = json_object_to_json_string_ext(json_object_object_get(evidence,
			    "usage"), JSON_C_TO_STRING_PLAIN),
			.token_serial = b->token_serial, .token_model = token_text(b, "model"),
			.token_profile = b->profile->name, .token_uri = uri,
			.org_uscc = jstr(job, "account_uscc"), .kind = jstr(job, "kind"),
			.cert = cert_der, .cert_len = cert_len, .operator_name = jstr(job, "operator"),
			.station_id = s->cfg.station_id, .started_at = jstr(job, "started_at"),
			.issued_at = now,
		};

		rc = store_issuance_insert(s->st, &r);
	}
	if (rc == 0)
		rc = store_received_cert_issued(s->st, serial, now);
	if (rc == 0)
		rc = store_unit_set_issued(s->st, jint(job, "unit_id"), now);
	if (rc == 0)
		rc = store_job_issued(s->st, b->job_id, now);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "serial", json_object_new_string(serial));
		json_object_object_add(d, "subject", json_object_new_string(subj_txt));
		json_object_object_add(d, "not_after", json_object_new_string(na));
		json_object_object_add(d, "station", json_object_new_string(s->cfg.station_id));
		rc = station_audit(s, jstr(job, "operator"), "issuance.record", jint(job, "order_id"),
		    jint(job, "unit_id"), b->job_id, b->token_serial, b->name, d);
	}
	/* the order is issued once none of its units waits any more */
	if (rc == 0)
		rc = store_units_count(s->st, jint(job, "order_id"), STORE_UNIT_WAITING, &left);
	if (rc == 0 && left == 0)
		rc = station_order_event(s, jstr(job, "operator"), jint(job, "order_id"),
		    OE_FINISH_PRODUCTION, now);
	if (rc == 0)
		rc = store_commit(s->st);
	if (rc != 0) {
		store_rollback(s->st);
		goto fail;
	}
	job_test_crash_point("record", "done");
	b->last_job_seconds = (double)(now_ms() - b->started_ms) / 1000.0;
	b->last_job_id = b->job_id;
	b->job_id = 0;
	log_info("job %lld issued certificate %s on token %s in %.2f s", (long long)b->last_job_id,
	    serial, b->token_serial, b->last_job_seconds);
	bay_set_state(s, b, BAY_DONE, "issued certificate %s (%.2f s)", serial, b->last_job_seconds);
	goto out;
 fail:
	job_fail(s, b, JOB_OTHER, rc, "record: %s", ukey_strerror(rc));
 out:
	free(subj_txt);
	free(iss_txt);
	free(uri);
	free(cert_der);
	json_object_put(job);
	X509_free(cert);
	EVP_PKEY_free(pub);
	X509_NAME_free(subject);
}

void
job_step_run(struct station *s, struct bay *b, enum step st)
{
	struct json_object *req, *job = NULL;
	worker_cb cb = NULL;
	char *ca_hex = NULL;
	int rc;

	if (st == STEP_CA_SUBMIT) {
		(void)job_step_mark(s, b->job_id, st, "begin", NULL);
		do_ca_submit(s, b);
		return;
	}
	if (st == STEP_CERT_CHECK) {
		do_cert_check(s, b);
		return;
	}
	if ((rc = job_load(s, b->job_id, &job)) != 0) {
		job_fail(s, b, JOB_OTHER, rc, "%s: %s", job_step_names[st], ukey_strerror(rc));
		return;
	}
	req = json_object_new_object();
	switch (st) {
	case STEP_INIT_TOKEN:
		json_object_object_add(req, "label", json_object_new_string(jstr(job, "label")));
		add_pin(req, "so_pin", &b->so_pin);
		add_pin(req, "user_pin", &b->user_pin);
		if (b->wipe_so.p != NULL)
			add_pin(req, "old_so_pin", &b->wipe_so);
		cb = on_init_token;
		break;
	case STEP_GENERATE_KEY: {
		uint8_t id[20];
		unsigned ops;
		char *hex;

		/* the profile decides what the key may do, not the worker */
		if ((rc = job_key_ops(s, job, &ops)) != 0)
			break;
		if (RAND_bytes(id, sizeof(id)) != 1 || (hex = hex_encode(id, sizeof(id))) == NULL) {
			rc = UKEY_ERR_CRYPTO;
			break;
		}
		/* a resumed job makes its key again: what the interrupted
		 * generation may have left under the old id goes first */
		if (jstr(job, "key_id") != NULL)
			json_object_object_add(req, "discard_id",
			    json_object_new_string(jstr(job, "key_id")));
		rc = store_job_set_key_id(s->st, b->job_id, hex);
		add_pin(req, "user_pin", &b->user_pin);
		json_object_object_add(req, "alg", json_object_new_string(jstr(job, "key_alg")));
		json_object_object_add(req, "id", json_object_new_string(hex));
		json_object_object_add(req, "label", json_object_new_string(jstr(job, "label")));
		json_object_object_add(req, "usage", usage_request(ops));
		free(hex);
		cb = on_generate_key;
		break;
	}
	case STEP_MAKE_CSR:
		add_pin(req, "user_pin", &b->user_pin);
		json_object_object_add(req, "id", json_object_new_string(jstr(job, "key_id")));
		json_object_object_add(req, "subject", json_object_new_string(jstr(job, "subject")));
		cb = on_make_csr;
		break;
	case STEP_WRITE_CERT:
		if ((rc = ca_der_hex(s, &ca_hex)) != 0)
			break;
		add_pin(req, "user_pin", &b->user_pin);
		json_object_object_add(req, "id", json_object_new_string(jstr(job, "key_id")));
		json_object_object_add(req, "label", json_object_new_string(jstr(job, "label")));
		json_object_object_add(req, "cert", json_object_new_string(jstr(job, "cert")));
		json_object_object_add(req, "ca_cert", json_object_new_string(ca_hex));
		json_object_object_add(req, "ca_label", json_object_new_string(s->cfg.ca_name));
		cb = on_write_cert;
		break;
	case STEP_READ_BACK: {
		unsigned ops;

		if ((rc = job_key_ops(s, job, &ops)) != 0)
			break;
		add_pin(req, "user_pin", &b->user_pin);
		json_object_object_add(req, "id", json_object_new_string(jstr(job, "key_id")));
		json_object_object_add(req, "usage", usage_request(ops));
		cb = on_read_back;
		break;
	}
	default:
		rc = UKEY_ERR_STATE;
	}
	free(ca_hex);
	json_object_put(job);
	if (rc == 0) {
		char device[sizeof(b->device) + 16];

		/* before C_InitToken a token may have no serial: its device names it */
		snprintf(device, sizeof(device), "%s%s", JOB_DEVICE_NOTE, b->device);
		rc = job_step_mark(s, b->job_id, st, "begin", st == STEP_INIT_TOKEN ? device : NULL);
	}
	if (rc != 0) {
		json_object_put(req);
		job_fail(s, b, JOB_OTHER, rc, "%s: %s", job_step_names[st], ukey_strerror(rc));
		return;
	}
	if ((rc = bay_send(s, b, job_step_names[st], req, step_timeout(b, st), cb)) != 0)
		job_fail(s, b, JOB_TOKEN, rc, "%s: cannot reach the worker: %s", job_step_names[st],
		    ukey_strerror(rc));
}

void
job_retry(struct station *s, struct bay *b)
{
	if (b->job_id != 0)
		job_step_run(s, b, STEP_CA_SUBMIT);
}
