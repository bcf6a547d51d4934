/* The steps of the issuance job on the token, one request and reply handler
 * each; the steps the daemon does itself are in job_ca.c, the job's start,
 * end and recovery in job.c. Loop context only. */
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
#include "station/bay.h"
#include "station/job.h"
#include "station/job_renew.h"
#include "station/orderdoc.h"
#include "common/seal.h"
#include "ca/ca.h"

static int
step_timeout(struct station *s, const struct bay *b, enum step st)
{
	if (st == STEP_INIT_TOKEN)
		return b->profile->timeout_init_ms;
	if (st == STEP_GENERATE_KEY)
		return b->profile->timeout_keygen_ms + (strcmp(b->source, "sim") == 0 ?
		    station_cfg(s)->sim_keygen_delay_ms : 0);
	return b->profile->timeout_default_ms;
}

void
job_worker_failed(struct station *s, struct bay *b, enum step st, int rc, struct json_object *reply)
{
	const char *msg = jstr(reply, "message");

	if (rc == UKEY_ERR_REMOVED) {
		int64_t id = b->job_id;

		job_on_token_left(s, b, msg ? msg : "token removed");
		bay_set_state(s, b, BAY_FAILED, "token lost during %s; job %lld waits for it to be"
		    " plugged in again", job_step_names[st], (long long)id);
		return;
	}
	job_fail(s, b, jobrule_worker_blame(rc, msg), rc, "%s: %s", job_step_names[st],
	    msg ? msg : ukey_strerror(rc));
}

static void
add_pin(struct json_object *req, const char *key, const struct secret *pin)
{
	json_object_object_add(req, key, json_object_new_string_len((const char *)pin->p,
	    (int)pin->len));
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
		job_worker_failed(s, b, STEP_INIT_TOKEN, rc, reply);
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
	if ((rc = seal(station_master_key(s), aad, b->so_pin.p, b->so_pin.len, &enc, &enclen)) != 0)
		goto fail;
	store_now(now);
	/* the SO PIN moves from the job row to the token row in one transaction,
	 * the journal's: generate_key's begin commits it (job_step_run) */
	if ((rc = job_journal_open(s)) != 0)
		goto fail;
	{
		const struct store_token_seen t = {
			.profile = b->profile->name, .serial = serial,
			.model = job_token_text(b, "model"),
			.manufacturer = job_token_text(b, "manufacturer"),
			.label = job_token_text(b, "label"), .so_pin_enc = enc, .so_pin_enc_len = enclen,
		};

		rc = store_token_upsert(station_store(s), &t, now);
	}
	/* the step is done with the same commit: a job whose row no longer
	 * holds the SO PIN must never be resumed at init_token */
	if (rc == 0)
		rc = store_job_set_token(station_store(s), b->job_id, b->profile->name, serial);
	if (rc == 0)
		rc = job_journal_mark(s, b->job_id, STEP_INIT_TOKEN, "done", serial);
	else
		job_journal_rollback(s);
	if (rc != 0)
		goto fail;
	secret_clear(&b->so_pin);
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
job_key_ops(struct station *s, const struct store_job *job, unsigned *ops)
{
	const struct certprof *prof = certprof_set_find(station_cp(s), job->src.cert_profile);

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
	struct json_object *ev = json_object_object_get(reply, "evidence");
	struct store_job job = { 0 };
	const char *pub_hex = jstr(reply, "public_key");
	uint8_t *pub = NULL;
	size_t publen = 0;
	EVP_PKEY *pk = NULL;
	unsigned ops = 0;
	char why[256];

	if (rc != 0) {
		job_worker_failed(s, b, STEP_GENERATE_KEY, rc, reply);
		return;
	}
	/* checked here again, from the profile, not from what the worker says
	 * it was asked */
	rc = job_load(s, b->job_id, &job);
	if (rc == 0)
		rc = job_key_ops(s, &job, &ops);
	store_job_clear(&job);
	if (rc != 0) {
		job_fail(s, b, JOB_OTHER, rc, "generate_key: the job's certificate profile: %s",
		    ukey_strerror(rc));
		return;
	}
	if (evidence_ok(ev, ops, why, sizeof(why)) != 0) {
		job_fail(s, b, JOB_TOKEN, UKEY_ERR_VERIFY, "generate_key: %s", why);
		return;
	}
	/* decoded once here, for the steps after it too (dercache.h) */
	if (pub_hex == NULL || hex_decode(pub_hex, &pub, &publen) != 0 ||
	    (pk = dercache_pubkey(&b->der, pub, publen)) == NULL) {
		free(pub);
		job_fail(s, b, JOB_TOKEN, UKEY_ERR_VERIFY, "generate_key: the worker returned no"
		    " valid public key");
		return;
	}
	EVP_PKEY_free(pk);
	/* the key, its done mark and make_csr's begin: one commit, not waited
	 * for (jobrule_begin_may_wait): the request's commit flushes it */
	if ((rc = job_journal_open_for(s, STEP_MAKE_CSR)) == 0 &&
	    (rc = store_job_set_public_key(station_store(s), b->job_id, pub, publen,
	    json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN))) != 0)
		job_journal_rollback(s);
	free(pub);
	if (rc == 0)
		rc = job_journal_mark(s, b->job_id, STEP_GENERATE_KEY, "done",
		    json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN));
	if (rc != 0) {
		job_fail(s, b, JOB_OTHER, rc, "generate_key: recording the key: %s", ukey_strerror(rc));
		return;
	}
	job_step_run(s, b, STEP_MAKE_CSR);
}

static int
job_pubkey(struct bay *b, const struct store_job *job, EVP_PKEY **out)
{
	*out = NULL;
	if (job->public_key == NULL)
		return UKEY_ERR_NOTFOUND;
	*out = dercache_pubkey(&b->der, job->public_key, job->public_key_len);
	return *out ? 0 : UKEY_ERR_CRYPTO;
}

static void
on_make_csr(struct station *s, struct bay *b, int rc, struct json_object *reply)
{
	struct store_job job = { 0 };
	uint8_t *der = NULL;
	const uint8_t *p;
	size_t len = 0;
	X509_REQ *req = NULL;
	EVP_PKEY *pub = NULL;

	if (rc != 0) {
		job_worker_failed(s, b, STEP_MAKE_CSR, rc, reply);
		return;
	}
	if ((rc = job_load(s, b->job_id, &job)) != 0 || (rc = job_pubkey(b, &job, &pub)) != 0)
		goto fail;
	if (jstr(reply, "csr") == NULL || hex_decode(jstr(reply, "csr"), &der, &len) != 0 ||
	    (p = der, req = d2i_X509_REQ(NULL, &p, (long)len)) == NULL) {
		store_job_clear(&job);
		EVP_PKEY_free(pub);
		free(der);
		job_fail(s, b, JOB_TOKEN, UKEY_ERR_VERIFY, "make_csr: the worker returned no valid"
		    " request");
		return;
	}
	if (X509_REQ_verify(req, pub) != 1) {
		store_job_clear(&job);
		EVP_PKEY_free(pub);
		X509_REQ_free(req);
		free(der);
		job_fail(s, b, JOB_TOKEN, UKEY_ERR_VERIFY, "make_csr: the request is not signed by"
		    " the token's key");
		return;
	}
	/* the request, its done mark, ca_submit's begin and the CA transaction
	 * (job_ca_submit): one commit, before the CA is asked */
	if ((rc = job_journal_open(s)) == 0 &&
	    (rc = store_job_set_csr(station_store(s), b->job_id, der, len)) != 0)
		job_journal_rollback(s);
	if (rc == 0)
		rc = job_journal_mark(s, b->job_id, STEP_MAKE_CSR, "done", NULL);
	/* decoded once: ca_submit takes it for the CA (dercache.h) */
	if (rc == 0) {
		dercache_csr_keep(&b->der, der, len, req);
		req = NULL;
	}
 fail:
	store_job_clear(&job);
	EVP_PKEY_free(pub);
	X509_REQ_free(req);
	free(der);
	if (rc != 0) {
		job_fail(s, b, JOB_OTHER, rc, "make_csr: %s", ukey_strerror(rc));
		return;
	}
	job_step_run(s, b, STEP_CA_SUBMIT);
}

static void
on_write_cert(struct station *s, struct bay *b, int rc, struct json_object *reply)
{
	if (rc != 0) {
		job_worker_failed(s, b, STEP_WRITE_CERT, rc, reply);
		return;
	}
	/* committed with read_back's begin, not waited for
	 * (jobrule_begin_may_wait): the record's commit flushes it */
	if ((rc = job_journal_open_for(s, STEP_READ_BACK)) != 0 ||
	    (rc = job_journal_mark(s, b->job_id, STEP_WRITE_CERT, "done", NULL)) != 0) {
		job_fail(s, b, JOB_OTHER, rc, "write_cert: %s", ukey_strerror(rc));
		return;
	}
	job_step_run(s, b, STEP_READ_BACK);
}

/* Does hex (a worker's reply) say the bytes p (len) stored? */
static int
hex_matches(const char *hex, const uint8_t *p, size_t len)
{
	char *mine;
	int same;

	if (hex == NULL || p == NULL || (mine = hex_encode(p, len)) == NULL)
		return 0;
	same = strcmp(hex, mine) == 0;
	free(mine);
	return same;
}

/* Checks what the worker read back from the token against the job's record
 * (certificate, public key, key attributes, the CA certificate); why says
 * what differs. */
static int
read_back_ok(struct station *s, const struct store_job *job, struct json_object *reply,
    unsigned ops, const char *ca_hex, char *why, size_t whylen)
{
	struct json_object *cas;
	size_t i;
	int found_ca = 0;

	if (!hex_matches(jstr(reply, "cert"), job->cert, job->cert_len)) {
		snprintf(why, whylen, "the certificate read from the token differs from the one written");
		return UKEY_ERR_VERIFY;
	}
	if (!hex_matches(jstr(reply, "public_key"), job->public_key, job->public_key_len)) {
		snprintf(why, whylen, "the public key read from the token differs from the generated one");
		return UKEY_ERR_VERIFY;
	}
	if (!json_object_get_boolean(json_object_object_get(reply, "private_key"))) {
		snprintf(why, whylen, "the private key is no longer on the token");
		return UKEY_ERR_VERIFY;
	}
	if (evidence_ok(json_object_object_get(reply, "evidence"), ops, why, whylen) != 0)
		return UKEY_ERR_VERIFY;
	cas = json_object_object_get(reply, "ca_certs");
	for (i = 0; i < json_object_array_length(cas); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(cas, i)), ca_hex) == 0)
			found_ca = 1;
	if (!found_ca) {
		snprintf(why, whylen, "the CA certificate is not on the token");
		return UKEY_ERR_VERIFY;
	}
	return 0;
}

/* The token's copy of the certificate is compared byte for byte with the
 * stored one, which cert_check verified before write_cert could begin (in
 * the same commit as its done mark, docs/jobs.md): verifying those bytes a
 * second time would prove nothing more. The key's evidence and usage are
 * checked again, on what the token holds now. */
static void
on_read_back(struct station *s, struct bay *b, int rc, struct json_object *reply)
{
	struct store_job job = { 0 };
	char why[256] = "";
	unsigned ops = 0;

	if (rc != 0) {
		job_worker_failed(s, b, STEP_READ_BACK, rc, reply);
		return;
	}
	if ((rc = job_load(s, b->job_id, &job)) == 0 &&
	    (job.cert == NULL || job.public_key == NULL))
		rc = UKEY_ERR_NOTFOUND;
	if (rc != 0 || (rc = job_key_ops(s, &job, &ops)) != 0) {
		snprintf(why, sizeof(why), "%s", ukey_strerror(rc));
		goto fail;
	}
	if (read_back_ok(s, &job, reply, ops, station_ca_hex(s), why, sizeof(why)) != 0)
		goto fail;
	/* committed with the record (job_record) */
	if ((rc = job_journal_mark(s, b->job_id, STEP_READ_BACK, "done", NULL)) != 0) {
		snprintf(why, sizeof(why), "%s", ukey_strerror(rc));
		goto fail;
	}
	job_record(s, b, json_object_object_get(reply, "evidence"));
	goto out;
 fail:
	job_fail(s, b, JOB_TOKEN, UKEY_ERR_VERIFY, "read_back: %s", why);
 out:
	store_job_clear(&job);
}

/* Adds the stored blob p (len) to req as hex under key; UKEY_ERR_NOTFOUND
 * when the job has none yet. */
static int
add_hex(struct json_object *req, const char *key, const uint8_t *p, size_t len)
{
	char *hex;

	if (p == NULL)
		return UKEY_ERR_NOTFOUND;
	if ((hex = hex_encode(p, len)) == NULL)
		return UKEY_ERR_NOMEM;
	json_object_object_add(req, key, json_object_new_string(hex));
	free(hex);
	return 0;
}

static int
req_init_token(struct bay *b, const struct store_job *job, struct json_object *req)
{
	json_object_object_add(req, "label", json_object_new_string(job->label));
	add_pin(req, "so_pin", &b->so_pin);
	add_pin(req, "user_pin", &b->user_pin);
	if (b->wipe_so.p != NULL)
		add_pin(req, "old_so_pin", &b->wipe_so);
	return 0;
}

static int
req_generate_key(struct station *s, struct bay *b, const struct store_job *job,
    struct json_object *req)
{
	uint8_t id[20];
	unsigned ops;
	char *hex;
	int rc;

	/* the profile decides what the key may do, not the worker */
	if ((rc = job_key_ops(s, job, &ops)) != 0)
		return rc;
	if (RAND_bytes(id, sizeof(id)) != 1 || (hex = hex_encode(id, sizeof(id))) == NULL)
		return UKEY_ERR_CRYPTO;
	/* a resumed job makes its key again: what the interrupted
	 * generation may have left under the old id goes first */
	if (job->key_id != NULL)
		json_object_object_add(req, "discard_id", json_object_new_string(job->key_id));
	rc = store_job_set_key_id(station_store(s), b->job_id, hex);
	add_pin(req, "user_pin", &b->user_pin);
	json_object_object_add(req, "alg", json_object_new_string(job->key_alg));
	json_object_object_add(req, "id", json_object_new_string(hex));
	json_object_object_add(req, "label", json_object_new_string(job->label));
	json_object_object_add(req, "usage", usage_request(ops));
	/* a virtual token as slow as a real one (sim.keygen_delay_ms) */
	if (strcmp(b->source, "sim") == 0 && station_cfg(s)->sim_keygen_delay_ms > 0)
		json_object_object_add(req, "sim_keygen_delay_ms",
		    json_object_new_int(station_cfg(s)->sim_keygen_delay_ms));
	free(hex);
	return rc;
}

static int
req_write_cert(struct station *s, struct bay *b, const struct store_job *job,
    struct json_object *req)
{
	int rc;

	add_pin(req, "user_pin", &b->user_pin);
	json_object_object_add(req, "id", json_object_new_string(job->key_id));
	json_object_object_add(req, "label", json_object_new_string(job->label));
	rc = add_hex(req, "cert", job->cert, job->cert_len);
	json_object_object_add(req, "ca_cert", json_object_new_string(station_ca_hex(s)));
	json_object_object_add(req, "ca_label", json_object_new_string(station_cfg(s)->ca_name));
	return rc;
}

/* make_csr also hands the worker the CA certificate, which it writes to the
 * token after its reply, while the CA signs (docs/jobs.md, "The CA
 * certificate written ahead"): write_cert then finds it there. Not on a
 * holder's token (a renewal: it has the CA certificate, and the write
 * would be a write to a live token the daemon's work does not wait for),
 * nor with a module that gets a fresh worker per token. */
static int
req_ca_ahead(struct station *s, struct bay *b, const struct store_job *job,
    struct json_object *req)
{
	if (job_is_renewal(job) || (b->profile->quirks & FW_QUIRK_FRESH_WORKER))
		return 0;
	json_object_object_add(req, "ca_cert", json_object_new_string(station_ca_hex(s)));
	json_object_object_add(req, "ca_label", json_object_new_string(station_cfg(s)->ca_name));
	b->worker_ahead_asked = 1;
	return 0;
}

/* The worker request of step st of the job (into req) and the handler of
 * its reply. */
static int
step_request(struct station *s, struct bay *b, enum step st, const struct store_job *job,
    struct json_object *req, worker_cb *cb)
{
	unsigned ops;
	int rc;

	switch (st) {
	case STEP_INIT_TOKEN:
		*cb = on_init_token;
		return req_init_token(b, job, req);
	case STEP_GENERATE_KEY:
		*cb = on_generate_key;
		return req_generate_key(s, b, job, req);
	case STEP_MAKE_CSR:
		add_pin(req, "user_pin", &b->user_pin);
		json_object_object_add(req, "id", json_object_new_string(job->key_id));
		*cb = on_make_csr;
		if ((rc = add_hex(req, "subject", job->subject, job->subject_len)) != 0)
			return rc;
		return req_ca_ahead(s, b, job, req);
	case STEP_WRITE_CERT:
		*cb = on_write_cert;
		return req_write_cert(s, b, job, req);
	case STEP_READ_BACK:
		if ((rc = job_key_ops(s, job, &ops)) != 0)
			return rc;
		add_pin(req, "user_pin", &b->user_pin);
		json_object_object_add(req, "id", json_object_new_string(job->key_id));
		json_object_object_add(req, "usage", usage_request(ops));
		*cb = on_read_back;
		return 0;
	default:
		return UKEY_ERR_STATE;
	}
}

static void
step_run(struct station *s, struct bay *b, enum step st)
{
	struct store_job job;
	struct json_object *req;
	worker_cb cb = NULL;
	int rc;

	if (st == STEP_IDENTIFY || st == STEP_LOGIN || st == STEP_DISCARD_OLD) {
		job_renew_step_run(s, b, st);
		return;
	}
	if (st == STEP_CA_SUBMIT) {
		job_ca_submit(s, b);
		return;
	}
	if (st == STEP_CERT_CHECK) {
		job_cert_check(s, b);
		return;
	}
	if ((rc = job_load(s, b->job_id, &job)) != 0) {
		job_fail(s, b, JOB_OTHER, rc, "%s: %s", job_step_names[st], ukey_strerror(rc));
		return;
	}
	if (job_is_renewal(&job) && b->user_pin.p == NULL) {
		/* a renewal resumed past login: the holder's PIN again first */
		store_job_clear(&job);
		job_renew_login(s, b, st);
		return;
	}
	req = json_object_new_object();
	/* what the request stores (a new key id) joins the begin's commit */
	if ((rc = job_journal_open(s)) == 0)
		rc = step_request(s, b, st, &job, req, &cb);
	store_job_clear(&job);
	if (rc == 0) {
		char device[sizeof(b->device) + 16];

		/* before C_InitToken a token may have no serial: its device names it */
		snprintf(device, sizeof(device), "%s%s", JOB_DEVICE_NOTE, b->device);
		rc = job_step_mark(s, b->job_id, st, "begin", st == STEP_INIT_TOKEN ? device : NULL);
	}
	if (rc != 0) {
		b->worker_ahead_asked = 0;
		json_object_put(req);
		job_fail(s, b, JOB_OTHER, rc, "%s: %s", job_step_names[st], ukey_strerror(rc));
		return;
	}
	if ((rc = bay_send(s, b, job_step_names[st], req, step_timeout(s, b, st), cb)) != 0) {
		b->worker_ahead_asked = 0;	/* never asked */
		job_fail(s, b, JOB_TOKEN, rc, "%s: cannot reach the worker: %s", job_step_names[st],
		    ukey_strerror(rc));
	}
}

void
job_step_run(struct station *s, struct bay *b, enum step st)
{
	step_run(s, b, st);
	/* never open across a return to the loop: a step that stopped before
	 * its begin mark (waiting for a PIN, for the CA thread) commits here
	 * what the step before it recorded */
	if (job_journal_commit(s) != 0 && b->job_id != 0)
		job_fail(s, b, JOB_OTHER, UKEY_ERR_DB, "%s: the journal could not be committed",
		    job_step_names[st]);
}

void
job_retry(struct station *s, struct bay *b)
{
	if (b->job_id != 0)
		job_step_run(s, b, STEP_CA_SUBMIT);
}
