/* The issuance job: one token, one production unit, driven step by step.
 * Every step is written to the database before it starts and after it ends,
 * so that whatever happens to the daemon or the token, the record says where
 * the job stood. Any interruption before the issuance is recorded ends the
 * job cleanly not issued: a certificate the CA already returned is revoked
 * (and kept in the record), the unit goes back to the queue, and the token,
 * whose SO PIN the station holds, can be wiped and re-used. */
#include <stdarg.h>
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
#include "common/utf8.h"
#include "orders/idcheck.h"
#include "station/station.h"
#include "store/audit.h"

/* Steps in order; the names are what the database and `ukeyctl bays` show. */
enum step {
	STEP_CLAIMED, STEP_INIT_TOKEN, STEP_GENERATE_KEY, STEP_MAKE_CSR, STEP_CA_SUBMIT,
	STEP_CERT_CHECK, STEP_WRITE_CERT, STEP_READ_BACK, STEP_RECORD, STEP_ISSUED
};
static const char *step_names[] = {
	"claimed", "init_token", "generate_key", "make_csr", "ca_submit", "cert_check",
	"write_cert", "read_back", "record", "issued"
};

#define CA_RETRY_MS 2000

static void step_run(struct station *s, struct bay *b, enum step st);

static const char *
jstr(struct json_object *o, const char *key)
{
	return json_object_get_string(json_object_object_get(o, key));
}

static int64_t
jint(struct json_object *o, const char *key)
{
	return json_object_get_int64(json_object_object_get(o, key));
}

static int
step_mark(struct station *s, int64_t job_id, enum step st, const char *phase, const char *detail)
{
	char now[32];
	int rc;

	store_now(now);
	if ((rc = store_begin(s->st)) != 0)
		return rc;
	if ((rc = store_run(s->st, "UPDATE jobs SET step = ?, updated_at = ? WHERE id = ?", "tti",
	    step_names[st], now, job_id)) != 0 ||
	    (rc = store_run(s->st, "INSERT INTO job_steps (job_id, step, phase, at, detail)"
	    " VALUES (?, ?, ?, ?, ?)", "itttt", job_id, step_names[st], phase, now, detail)) != 0) {
		store_rollback(s->st);
		return rc;
	}
	{
		struct json_object *d = json_object_new_object();

		json_object_object_add(d, "step", json_object_new_string(step_names[st]));
		json_object_object_add(d, "phase", json_object_new_string(phase));
		if (detail)
			json_object_object_add(d, "detail", json_object_new_string(detail));
		if ((rc = station_audit(s, "ukeyd", "job.step", 0, 0, job_id, NULL, NULL, d)) != 0) {
			store_rollback(s->st);
			return rc;
		}
	}
	return store_commit(s->st);
}

static int
load_job(struct station *s, int64_t job_id, struct json_object **out)
{
	return store_row(s->st, out,
	    "SELECT j.*, u.item_id, i.kind, i.name AS item_name, i.cert_profile, i.years,"
	    " o.id AS order_id, o.portal_ref, o.doc, o.account_uscc"
	    " FROM jobs j JOIN units u ON u.id = j.unit_id JOIN order_items i ON i.id = u.item_id"
	    " JOIN orders o ON o.id = i.order_id WHERE j.id = ?", "i", job_id);
}

static int
blob_from_hex(struct json_object *row, const char *key, uint8_t **out, size_t *len)
{
	const char *hex = jstr(row, key);

	if (hex == NULL)
		return UKEY_ERR_NOTFOUND;
	return hex_decode(hex, out, len);
}

static int
unseal_pin(struct station *s, struct json_object *row, const char *key, const char *aad,
    struct secret *pin)
{
	uint8_t *blob = NULL, *plain = NULL;
	size_t blen = 0, plen = 0;
	int rc;

	if ((rc = blob_from_hex(row, key, &blob, &blen)) != 0)
		return rc;
	if ((rc = unseal(s->master_key, aad, blob, blen, &plain, &plen)) == 0)
		rc = secret_set(pin, plain, plen);
	secure_wipe(plain, plen);
	free(plain);
	free(blob);
	return rc;
}

/*
 * Ends the job not issued. A certificate already received is revoked at the
 * CA first and then marked revoked here, so that a crash between the two is
 * repaired by the next recovery pass (revoking is idempotent).
 */
static void
job_end_not_issued(struct station *s, int64_t job_id, const char *state, const char *why,
    const char *cert_status)
{
	struct json_object *job = NULL, *d;
	char now[32];
	const char *serial;
	int rc;

	if (load_job(s, job_id, &job) != 0)
		return;
	serial = jstr(job, "cert_serial");
	/* RFC 5280 reason: the certificate's purpose ended before it was used;
	 * the station's own words stay in received_certs.note */
	if (serial != NULL && (rc = ca_revoke(s->ca, serial, "cessationOfOperation")) != 0)
		log_error("job %lld: revoking certificate %s: %s", (long long)job_id, serial,
		    ukey_strerror(rc));
	store_now(now);
	if (store_begin(s->st) != 0)
		goto out;
	rc = store_run(s->st, "UPDATE jobs SET state = ?, error = ?, user_pin_enc = NULL,"
	    " so_pin_enc = NULL, updated_at = ?, finished_at = ? WHERE id = ?", "tttti",
	    state, why, now, now, job_id);
	if (rc == 0 && serial != NULL)
		rc = store_run(s->st, "UPDATE received_certs SET status = ?, note = ?, updated_at = ?"
		    " WHERE serial = ? AND status = 'received'", "tttt", cert_status, why, now, serial);
	if (rc == 0)
		rc = store_run(s->st, "UPDATE units SET state = 'queued', job_id = NULL, updated_at = ?"
		    " WHERE id = ? AND state = 'in_production'", "ti", now, jint(job, "unit_id"));
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "state", json_object_new_string(state));
		json_object_object_add(d, "step", json_object_new_string(jstr(job, "step")));
		json_object_object_add(d, "reason", json_object_new_string(why));
		if (serial)
			json_object_object_add(d, "revoked_serial", json_object_new_string(serial));
		rc = station_audit(s, "ukeyd", strcmp(state, "failed") == 0 ? "job.fail" : "job.abort",
		    jint(job, "order_id"), jint(job, "unit_id"), job_id, jstr(job, "token_serial"),
		    jstr(job, "bay"), d);
	}
	if (rc == 0)
		rc = store_commit(s->st);
	if (rc != 0) {
		store_rollback(s->st);
		log_error("job %lld: recording the end failed: %s", (long long)job_id, ukey_strerror(rc));
	}
	log_warn("job %lld %s at step %s: %s%s%s", (long long)job_id, state, jstr(job, "step"), why,
	    serial ? "; revoked certificate " : "", serial ? serial : "");
 out:
	json_object_put(job);
}

static void
job_fail(struct station *s, struct bay *b, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
job_fail(struct station *s, struct bay *b, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	job_end_not_issued(s, b->job_id, "failed", why, "revoked");
	b->last_job_id = b->job_id;
	b->job_id = 0;
	secret_clear(&b->user_pin);
	secret_clear(&b->so_pin);
	bay_set_state(s, b, BAY_FAILED, "job %lld: %s", (long long)b->last_job_id, why);
}

void
job_on_worker_lost(struct station *s, struct bay *b, const char *why)
{
	job_end_not_issued(s, b->job_id, "aborted", why, "revoked");
	b->last_job_id = b->job_id;
	b->job_id = 0;
	secret_clear(&b->user_pin);
	secret_clear(&b->so_pin);
}

int
job_recover_all(struct station *s)
{
	struct json_object *rows = NULL;
	size_t i;
	int rc;

	/* no token is in any bay at start: a job left running was interrupted */
	if ((rc = store_query(s->st, &rows, "SELECT id, step FROM jobs WHERE state = 'running'",
	    "")) != 0)
		return rc;
	for (i = 0; i < json_object_array_length(rows); i++) {
		struct json_object *r = json_object_array_get_idx(rows, i);
		char why[128];

		snprintf(why, sizeof(why), "station restarted during step %s", jstr(r, "step"));
		job_end_not_issued(s, jint(r, "id"), "aborted", why, "revoked");
	}
	/* certificates marked revoked here but maybe not yet at the CA (crash in between) */
	json_object_put(rows);
	rows = NULL;
	if ((rc = store_query(s->st, &rows, "SELECT serial, note FROM received_certs"
	    " WHERE status IN ('revoked', 'refused')", "")) != 0)
		return rc;
	for (i = 0; i < json_object_array_length(rows); i++) {
		struct json_object *r = json_object_array_get_idx(rows, i);

		(void)ca_revoke(s->ca, jstr(r, "serial"), "cessationOfOperation");
	}
	json_object_put(rows);
	return 0;
}

/* ---- subject variables from the order ---- */

struct vars {
	struct json_object *doc, *item;
	const char *kind, *uscc, *portal_ref;
};

static const char *
var_lookup(void *ctx, const char *var)
{
	struct vars *v = ctx;
	struct json_object *h = json_object_object_get(v->doc, "handler");
	struct json_object *org = json_object_object_get(v->doc, "organisation");

	if (strcmp(var, "province") == 0 || strcmp(var, "city") == 0 || strcmp(var, "county") == 0)
		return jstr(h, var);
	if (strcmp(var, "org_name") == 0)
		return org ? jstr(org, "name") : jstr(v->doc, "account_name");
	if (strcmp(var, "uscc") == 0)
		return v->uscc;
	if (strcmp(var, "portal_ref") == 0)
		return v->portal_ref;
	if (strcmp(var, "name") == 0 || strcmp(var, "id_number") == 0 || strcmp(var, "phone") == 0)
		return jstr(v->item, var);
	return NULL;
}

/* Builds the subject and label for a unit before any token is touched.
 * *subject_der and *label are malloc'd. */
static int
unit_subject(struct station *s, int64_t unit_id, const struct certprof **pp,
    uint8_t **subject_der, size_t *subject_len, char **label, int *years, char *err, size_t errlen)
{
	struct json_object *row = NULL, *doc = NULL;
	const struct certprof *p;
	struct vars v = { 0 };
	X509_NAME *name = NULL;
	unsigned char *der = NULL;
	char *lab = NULL;
	int rc, n;

	*subject_der = NULL;
	*label = NULL;
	if ((rc = store_row(s->st, &row, "SELECT i.kind, i.cert_profile, i.years, o.doc,"
	    " o.account_uscc, o.portal_ref FROM units u JOIN order_items i ON i.id = u.item_id"
	    " JOIN orders o ON o.id = i.order_id WHERE u.id = ?", "i", unit_id)) != 0)
		goto out;
	if ((p = certprof_set_find(s->cp, jstr(row, "cert_profile"))) == NULL) {
		snprintf(err, errlen, "certificate profile \"%s\" is not installed",
		    jstr(row, "cert_profile"));
		rc = UKEY_ERR_NOTFOUND;
		goto out;
	}
	if ((doc = json_tokener_parse(jstr(row, "doc"))) == NULL) {
		snprintf(err, errlen, "stored order document does not parse");
		rc = UKEY_ERR_DB;
		goto out;
	}
	v.doc = doc;
	v.kind = jstr(row, "kind");
	v.item = json_object_object_get(doc, v.kind);
	v.uscc = jstr(row, "account_uscc");
	v.portal_ref = jstr(row, "portal_ref");
	if ((rc = certprof_subject(p, var_lookup, &v, &name, err, errlen)) != 0)
		goto out;
	if ((rc = certprof_label(p, var_lookup, &v, &lab)) != 0) {
		snprintf(err, errlen, "token label: %s", ukey_strerror(rc));
		goto out;
	}
	if ((n = i2d_X509_NAME(name, &der)) <= 0) {
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	*pp = p;
	*years = (int)jint(row, "years");
	*subject_der = der;
	*subject_len = (size_t)n;
	der = NULL;
	*label = lab;
	lab = NULL;
	rc = 0;
 out:
	OPENSSL_free(der);
	free(lab);
	X509_NAME_free(name);
	json_object_put(doc);
	json_object_put(row);
	return rc;
}

/* ---- starting a job ---- */

static int
token_refusal(struct station *s, struct bay *b, char *why, size_t whylen)
{
	struct json_object *tok = b->token, *known = NULL;
	int initialized = json_object_get_boolean(json_object_object_get(tok, "initialized"));
	int rc;

	if (!initialized)
		return 0;
	rc = store_row(s->st, &known, "SELECT t.id, t.so_pin_enc IS NOT NULL AS have_so,"
	    " (SELECT group_concat(cert_serial) FROM issuances WHERE token_serial = t.serial"
	    "  AND token_profile = t.profile) AS issued"
	    " FROM tokens t WHERE t.profile = ? AND t.serial = ?", "tt", b->profile->name,
	    b->token_serial);
	if (rc == UKEY_ERR_NOTFOUND) {
		snprintf(why, whylen, "token %s is not blank (initialised, %lld public objects) and its"
		    " SO PIN is unknown to this station; it cannot be wiped here", b->token_serial,
		    (long long)jint(b->token, "public_objects"));
		return UKEY_ERR_NOTBLANK;
	}
	if (rc != 0)
		return rc;
	if (jstr(known, "issued") != NULL) {
		snprintf(why, whylen, "token %s holds issued certificate %s; it is not wiped",
		    b->token_serial, jstr(known, "issued"));
		rc = UKEY_ERR_NOTBLANK;
	} else if (!b->allow_wipe) {
		snprintf(why, whylen, "token %s is not blank (initialised by this station, no"
		    " certificate issued); allow wiping it with: ukeyctl bay wipe --bay %d",
		    b->token_serial, b->index);
		rc = UKEY_ERR_NOTBLANK;
	} else {
		char aad[160];

		snprintf(aad, sizeof(aad), "token:%s:%s", b->profile->name, b->token_serial);
		rc = store_row(s->st, &tok, "SELECT so_pin_enc FROM tokens WHERE id = ?", "i",
		    jint(known, "id"));
		if (rc == 0) {
			rc = unseal_pin(s, tok, "so_pin_enc", aad, &b->wipe_so);
			json_object_put(tok);
		}
		if (rc != 0)
			snprintf(why, whylen, "token %s: the stored SO PIN cannot be opened (%s)",
			    b->token_serial, ukey_strerror(rc));
	}
	json_object_put(known);
	return rc;
}

static int
seal_pin(struct station *s, const struct secret *pin, const char *aad, uint8_t **out, size_t *len)
{
	return seal(s->master_key, aad, pin->p, pin->len, out, len);
}

void
job_start_if_possible(struct station *s, struct bay *b)
{
	struct json_object *units = NULL, *d;
	const struct certprof *p = NULL;
	struct secret so = { 0 }, user = { 0 };
	uint8_t *subject = NULL, *so_enc = NULL, *user_enc = NULL;
	size_t subject_len = 0, so_len = 0, user_len = 0, i;
	char *label = NULL, why[512], now[32], aad[64];
	int64_t unit_id = 0, order_id = 0, job_id;
	int years = 0, rc;

	if (b->job_id != 0 || b->worker_fd < 0 || b->pending_op[0])
		return;
	if (b->retry_at_ms) {
		/* a job waiting for the CA resumes by itself */
		return;
	}
	if ((rc = token_refusal(s, b, why, sizeof(why))) != 0) {
		bay_set_state(s, b, BAY_REFUSED, "%s", why);
		station_audit(s, b->operator_name, "bay.token_refused", 0, 0, 0, b->token_serial,
		    b->name, json_object_new_string(why));
		return;
	}

	rc = store_query(s->st, &units, "SELECT u.id AS unit_id, o.id AS order_id, i.cert_profile"
	    " FROM units u JOIN order_items i ON i.id = u.item_id JOIN orders o ON o.id = i.order_id"
	    " WHERE u.state = 'queued' AND o.type = 'new'"
	    " AND o.state IN ('waiting_production', 'in_production')"
	    " ORDER BY o.paid_at, o.id, i.seq, u.seq LIMIT 200", "");
	if (rc != 0)
		goto out;
	for (i = 0; i < json_object_array_length(units); i++) {
		struct json_object *u = json_object_array_get_idx(units, i);
		const struct certprof *cp = certprof_set_find(s->cp, jstr(u, "cert_profile"));

		if (cp != NULL && !fw_profile_supports(b->profile, certprof_key_alg(cp)))
			continue;	/* another token model can take this one */
		rc = unit_subject(s, jint(u, "unit_id"), &p, &subject, &subject_len, &label, &years,
		    why, sizeof(why));
		if (rc != 0) {
			/* refused before any token is touched; hold the unit for a person */
			store_now(now);
			(void)store_run(s->st, "UPDATE units SET state = 'held', updated_at = ?"
			    " WHERE id = ?", "ti", now, jint(u, "unit_id"));
			station_audit(s, "ukeyd", "unit.hold", jint(u, "order_id"), jint(u, "unit_id"), 0,
			    NULL, b->name, json_object_new_string(why));
			log_error("unit %lld held: %s", (long long)jint(u, "unit_id"), why);
			continue;
		}
		unit_id = jint(u, "unit_id");
		order_id = jint(u, "order_id");
		break;
	}
	if (unit_id == 0) {
		bay_set_state(s, b, BAY_IDLE, "token %s ready; no queued certificate for this model",
		    b->token_serial[0] ? b->token_serial : "(blank)");
		goto out;
	}

	/* PINs are chosen before the job row exists so that the row never lacks them */
	if ((rc = secret_random_alnum(&so, (size_t)b->profile->so_pin_length)) != 0)
		goto out;
	if (b->profile->user_pin_random)
		rc = secret_random_digits(&user, (size_t)b->profile->user_pin_length);
	else
		rc = secret_set(&user, b->profile->initial_user_pin, strlen(b->profile->initial_user_pin));
	if (rc != 0)
		goto out;

	store_now(now);
	if ((rc = store_begin(s->st)) != 0)
		goto out;
	rc = store_run(s->st, "INSERT INTO jobs (unit_id, bay, profile, step, state, key_alg, subject,"
	    " label, operator, started_at, updated_at) VALUES (?, ?, ?, 'claimed', 'running', ?, ?, ?,"
	    " ?, ?, ?)", "itttbtttt", unit_id, b->name, b->profile->name, certprof_key_alg(p),
	    subject, subject_len, label, b->operator_name[0] ? b->operator_name : "ukeyd", now, now);
	job_id = store_last_id(s->st);
	snprintf(aad, sizeof(aad), "job:%lld", (long long)job_id);
	if (rc == 0 && ((rc = seal_pin(s, &so, aad, &so_enc, &so_len)) != 0 ||
	    (rc = seal_pin(s, &user, aad, &user_enc, &user_len)) != 0))
		goto rollback;
	if (rc == 0)
		rc = store_run(s->st, "UPDATE jobs SET so_pin_enc = ?, user_pin_enc = ? WHERE id = ?",
		    "bbi", so_enc, so_len, user_enc, user_len, job_id);
	if (rc == 0)
		rc = store_run(s->st, "UPDATE units SET state = 'in_production', job_id = ?,"
		    " updated_at = ? WHERE id = ? AND state = 'queued'", "iti", job_id, now, unit_id);
	if (rc == 0)
		rc = store_run(s->st, "UPDATE orders SET state = 'in_production', updated_at = ?"
		    " WHERE id = ? AND state = 'waiting_production'", "ti", now, order_id);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "profile", json_object_new_string(certprof_name(p)));
		json_object_object_add(d, "key_alg", json_object_new_string(certprof_key_alg(p)));
		json_object_object_add(d, "token_model", json_object_new_string(b->profile->name));
		json_object_object_add(d, "wipe", json_object_new_boolean(b->wipe_so.p != NULL));
		rc = station_audit(s, b->operator_name[0] ? b->operator_name : "ukeyd", "job.start",
		    order_id, unit_id, job_id, b->token_serial[0] ? b->token_serial : NULL, b->name, d);
	}
	if (rc == 0)
		rc = store_commit(s->st);
 rollback:
	if (rc != 0) {
		store_rollback(s->st);
		goto out;
	}
	b->job_id = job_id;
	b->started_ms = now_ms();
	secret_clear(&b->user_pin);
	b->user_pin = user;
	memset(&user, 0, sizeof(user));
	secret_clear(&b->so_pin);
	b->so_pin = so;
	memset(&so, 0, sizeof(so));
	bay_set_state(s, b, BAY_WORKING, "job %lld, unit %lld, profile %s", (long long)job_id,
	    (long long)unit_id, certprof_name(p));
	step_run(s, b, STEP_INIT_TOKEN);
 out:
	if (rc != 0 && unit_id != 0)
		bay_set_state(s, b, BAY_FAILED, "cannot start a job: %s", ukey_strerror(rc));
	secret_clear(&so);
	secret_clear(&user);
	if (so_enc) {
		secure_wipe(so_enc, so_len);
		free(so_enc);
	}
	if (user_enc) {
		secure_wipe(user_enc, user_len);
		free(user_enc);
	}
	OPENSSL_free(subject);
	free(label);
	json_object_put(units);
}

/* ---- the steps ---- */

static int
step_timeout(const struct bay *b, enum step st)
{
	if (st == STEP_INIT_TOKEN)
		return b->profile->timeout_init_ms;
	if (st == STEP_GENERATE_KEY)
		return b->profile->timeout_keygen_ms;
	return b->profile->timeout_default_ms;
}

static void
worker_failed(struct station *s, struct bay *b, enum step st, int rc, struct json_object *reply)
{
	const char *msg = jstr(reply, "message");

	if (rc == UKEY_ERR_REMOVED) {
		job_on_worker_lost(s, b, msg ? msg : "token removed");
		bay_set_state(s, b, BAY_FAILED, "token removed during %s", step_names[st]);
		return;
	}
	job_fail(s, b, "%s: %s", step_names[st], msg ? msg : ukey_strerror(rc));
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

static void
pct_encode(char *out, size_t outlen, const char *in)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *in && o + 4 < outlen; in++) {
		unsigned char c = (unsigned char)*in;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

/* RFC 7512 URI naming the token. */
static void
token_uri(const struct bay *b, char *out, size_t outlen)
{
	char model[128], manuf[128], serial[128], label[128];

	pct_encode(model, sizeof(model), token_text(b, "model"));
	pct_encode(manuf, sizeof(manuf), token_text(b, "manufacturer"));
	pct_encode(serial, sizeof(serial), token_text(b, "serial"));
	pct_encode(label, sizeof(label), token_text(b, "label"));
	snprintf(out, outlen, "pkcs11:model=%s;manufacturer=%s;serial=%s;token=%s", model, manuf,
	    serial, label);
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
		job_fail(s, b, "init_token: the token reports no serial number");
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
	rc = store_run(s->st, "INSERT INTO tokens (profile, serial, model, manufacturer, label,"
	    " so_pin_enc, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
	    " ON CONFLICT (profile, serial) DO UPDATE SET so_pin_enc = excluded.so_pin_enc,"
	    " label = excluded.label, last_seen = excluded.last_seen", "tttttbtt", b->profile->name,
	    serial, token_text(b, "model"), token_text(b, "manufacturer"), token_text(b, "label"),
	    enc, enclen, now, now);
	if (rc == 0)
		rc = store_run(s->st, "UPDATE jobs SET token_id = (SELECT id FROM tokens WHERE"
		    " profile = ? AND serial = ?), token_serial = ?, so_pin_enc = NULL WHERE id = ?",
		    "ttti", b->profile->name, serial, serial, b->job_id);
	if (rc == 0)
		rc = store_commit(s->st);
	else
		store_rollback(s->st);
	if (rc != 0)
		goto fail;
	secret_clear(&b->so_pin);
	if ((rc = step_mark(s, b->job_id, STEP_INIT_TOKEN, "done", serial)) != 0)
		goto fail;
	free(enc);
	step_run(s, b, STEP_GENERATE_KEY);
	return;
 fail:
	free(enc);
	job_fail(s, b, "init_token: recording the token: %s", ukey_strerror(rc));
}

static int
evidence_ok(struct json_object *ev, char *why, size_t whylen)
{
	static const char *must_true[] = { "local", "always_sensitive", "never_extractable",
		"sensitive" };
	struct json_object *v;
	size_t i;

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
	return 0;
}

static void
on_generate_key(struct station *s, struct bay *b, int rc, struct json_object *reply)
{
	struct json_object *ev = json_object_object_get(reply, "evidence");
	const char *pub_hex = jstr(reply, "public_key");
	uint8_t *pub = NULL;
	const uint8_t *pp;
	size_t publen = 0;
	EVP_PKEY *pk = NULL;
	char why[256];

	if (rc != 0) {
		worker_failed(s, b, STEP_GENERATE_KEY, rc, reply);
		return;
	}
	if (evidence_ok(ev, why, sizeof(why)) != 0) {
		job_fail(s, b, "generate_key: %s", why);
		return;
	}
	if (pub_hex == NULL || hex_decode(pub_hex, &pub, &publen) != 0 ||
	    (pp = pub, pk = d2i_PUBKEY(NULL, &pp, (long)publen)) == NULL) {
		free(pub);
		job_fail(s, b, "generate_key: the worker returned no valid public key");
		return;
	}
	EVP_PKEY_free(pk);
	rc = store_run(s->st, "UPDATE jobs SET public_key = ?, evidence = ? WHERE id = ?", "bti",
	    pub, publen, json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN), b->job_id);
	free(pub);
	if (rc == 0)
		rc = step_mark(s, b->job_id, STEP_GENERATE_KEY, "done",
		    json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN));
	if (rc != 0) {
		job_fail(s, b, "generate_key: recording the key: %s", ukey_strerror(rc));
		return;
	}
	step_run(s, b, STEP_MAKE_CSR);
}

static int
job_pubkey(struct json_object *job, EVP_PKEY **out)
{
	uint8_t *der = NULL;
	const uint8_t *p;
	size_t len = 0;
	int rc;

	*out = NULL;
	if ((rc = blob_from_hex(job, "public_key", &der, &len)) != 0)
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
	if ((rc = load_job(s, b->job_id, &job)) != 0 || (rc = job_pubkey(job, &pub)) != 0)
		goto fail;
	if (jstr(reply, "csr") == NULL || hex_decode(jstr(reply, "csr"), &der, &len) != 0 ||
	    (p = der, req = d2i_X509_REQ(NULL, &p, (long)len)) == NULL) {
		json_object_put(job);
		EVP_PKEY_free(pub);
		free(der);
		job_fail(s, b, "make_csr: the worker returned no valid request");
		return;
	}
	if (X509_REQ_verify(req, pub) != 1) {
		json_object_put(job);
		EVP_PKEY_free(pub);
		X509_REQ_free(req);
		free(der);
		job_fail(s, b, "make_csr: the request is not signed by the token's key");
		return;
	}
	rc = store_run(s->st, "UPDATE jobs SET csr = ? WHERE id = ?", "bi", der, len, b->job_id);
	if (rc == 0)
		rc = step_mark(s, b->job_id, STEP_MAKE_CSR, "done", NULL);
 fail:
	json_object_put(job);
	EVP_PKEY_free(pub);
	X509_REQ_free(req);
	free(der);
	if (rc != 0) {
		job_fail(s, b, "make_csr: %s", ukey_strerror(rc));
		return;
	}
	step_run(s, b, STEP_CA_SUBMIT);
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

static void
do_ca_submit(struct station *s, struct bay *b)
{
	struct json_object *job = NULL, *doc = NULL, *item;
	uint8_t *csr_der = NULL, *subj_der = NULL, *cert_der = NULL;
	size_t csr_len = 0, subj_len = 0;
	const uint8_t *p;
	X509_REQ *csr = NULL;
	X509_NAME *subject = NULL;
	X509 *cert = NULL;
	const struct certprof *prof;
	struct ca_request req = { 0 };
	char rkey[65], serial[80], now[32];
	int rc, n;

	if ((rc = load_job(s, b->job_id, &job)) != 0 ||
	    (rc = blob_from_hex(job, "csr", &csr_der, &csr_len)) != 0 ||
	    (rc = blob_from_hex(job, "subject", &subj_der, &subj_len)) != 0)
		goto fail;
	p = csr_der;
	csr = d2i_X509_REQ(NULL, &p, (long)csr_len);
	p = subj_der;
	subject = d2i_X509_NAME(NULL, &p, (long)subj_len);
	prof = certprof_set_find(s->cp, jstr(job, "cert_profile"));
	if (csr == NULL || subject == NULL || prof == NULL) {
		rc = UKEY_ERR_DB;
		goto fail;
	}
	if ((rc = request_key(job, csr_der, csr_len, rkey)) != 0)
		goto fail;
	doc = json_tokener_parse(jstr(job, "doc"));
	item = json_object_object_get(doc, jstr(job, "kind"));
	req.csr = csr;
	req.subject = subject;
	req.profile = prof;
	req.years = (int)jint(job, "years");
	req.request_key = rkey;
	req.gm_identity_value = strcmp(jstr(job, "kind"), "organisation") == 0 ?
	    jstr(job, "account_uscc") : jstr(item, "id_number");
	rc = ca_issue(s->ca, &req, &cert);
	if (rc == UKEY_ERR_UNAVAIL) {
		/* the CA is down: nothing was issued; try the same request again later */
		(void)step_mark(s, b->job_id, STEP_CA_SUBMIT, "failed", "CA unavailable; will retry");
		b->retry_at_ms = now_ms() + CA_RETRY_MS;
		bay_set_state(s, b, BAY_WORKING, "job %lld waiting for the CA", (long long)b->job_id);
		goto out;
	}
	if (rc != 0) {
		char why[128];

		snprintf(why, sizeof(why), "ca_submit: the CA refused the request: %s", ukey_strerror(rc));
		job_fail(s, b, "%s", why);
		goto out;
	}
	if ((n = i2d_X509(cert, &cert_der)) <= 0 ||
	    (rc = cert_serial_hex(cert, serial, sizeof(serial))) != 0) {
		rc = UKEY_ERR_CRYPTO;
		goto fail;
	}
	store_now(now);
	/* the returned certificate is in the record before anything else happens */
	if ((rc = store_begin(s->st)) != 0)
		goto fail;
	rc = store_run(s->st, "INSERT INTO received_certs (serial, job_id, unit_id, der, status,"
	    " received_at, updated_at) VALUES (?, ?, ?, ?, 'received', ?, ?)", "tiibtt", serial,
	    b->job_id, jint(job, "unit_id"), cert_der, (size_t)n, now, now);
	if (rc == UKEY_ERR_EXISTS) {
		int64_t other = 0;

		store_rollback(s->st);
		(void)store_int(s->st, &other, "SELECT job_id FROM received_certs WHERE serial = ?",
		    "t", serial);
		if (other != b->job_id) {
			station_audit(s, "ukeyd", "incident.duplicate_serial", jint(job, "order_id"),
			    jint(job, "unit_id"), b->job_id, b->token_serial, b->name,
			    json_object_new_string(serial));
			job_fail(s, b, "ca_submit: the CA returned serial %s, already received for job"
			    " %lld; refused", serial, (long long)other);
			goto out;
		}
		/* the same job's own request answered again (idempotent resubmission) */
		if ((rc = store_begin(s->st)) != 0)
			goto fail;
	} else if (rc != 0) {
		store_rollback(s->st);
		goto fail;
	}
	rc = store_run(s->st, "UPDATE jobs SET cert = ?, cert_serial = ?, request_key = ? WHERE id = ?",
	    "btti", cert_der, (size_t)n, serial, rkey, b->job_id);
	if (rc == 0)
		rc = store_commit(s->st);
	if (rc != 0) {
		store_rollback(s->st);
		goto fail;
	}
	if ((rc = step_mark(s, b->job_id, STEP_CA_SUBMIT, "done", serial)) != 0)
		goto fail;
	step_run(s, b, STEP_CERT_CHECK);
	goto out;
 fail:
	job_fail(s, b, "ca_submit: %s", ukey_strerror(rc));
 out:
	json_object_put(job);
	json_object_put(doc);
	free(csr_der);
	free(subj_der);
	OPENSSL_free(cert_der);
	X509_REQ_free(csr);
	X509_NAME_free(subject);
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
	if ((rc = load_job(s, b->job_id, job)) != 0 || (rc = job_pubkey(*job, pub)) != 0)
		return rc;
	if ((rc = blob_from_hex(*job, "cert", &der, &len)) != 0)
		return rc;
	p = der;
	*cert = d2i_X509(NULL, &p, (long)len);
	free(der);
	if ((rc = blob_from_hex(*job, "subject", &der, &len)) != 0)
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

	(void)step_mark(s, b->job_id, STEP_CERT_CHECK, "begin", NULL);
	if ((rc = check_material(s, b, &job, &cert, &pub, &subject)) != 0) {
		job_fail(s, b, "cert_check: %s", ukey_strerror(rc));
		goto out;
	}
	rc = certcheck_issued(cert, ca_cert(s->ca), pub, subject, (int)jint(job, "years"),
	    time(NULL), why, sizeof(why));
	if (rc != 0) {
		/* an incident: the CA answered with something the token must not receive */
		station_audit(s, "ukeyd", "incident.ca_reply_refused", jint(job, "order_id"),
		    jint(job, "unit_id"), b->job_id, b->token_serial, b->name,
		    json_object_new_string(why));
		job_end_not_issued(s, b->job_id, "failed", why, "refused");
		b->last_job_id = b->job_id;
		b->job_id = 0;
		secret_clear(&b->user_pin);
		bay_set_state(s, b, BAY_FAILED, "job %lld: certificate refused before writing: %s",
		    (long long)b->last_job_id, why);
		goto out;
	}
	if ((rc = step_mark(s, b->job_id, STEP_CERT_CHECK, "done", NULL)) != 0) {
		job_fail(s, b, "cert_check: %s", ukey_strerror(rc));
		goto out;
	}
	step_run(s, b, STEP_WRITE_CERT);
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
	if ((rc = step_mark(s, b->job_id, STEP_WRITE_CERT, "done", NULL)) != 0) {
		job_fail(s, b, "write_cert: %s", ukey_strerror(rc));
		return;
	}
	step_run(s, b, STEP_READ_BACK);
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
	int found_ca = 0;

	if (rc != 0) {
		worker_failed(s, b, STEP_READ_BACK, rc, reply);
		return;
	}
	if ((rc = check_material(s, b, &job, &cert, &pub, &subject)) != 0 ||
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
	if (evidence_ok(json_object_object_get(reply, "evidence"), why, sizeof(why)) != 0)
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
	if ((rc = step_mark(s, b->job_id, STEP_READ_BACK, "done", NULL)) != 0) {
		snprintf(why, sizeof(why), "%s", ukey_strerror(rc));
		goto fail;
	}
	do_record(s, b, json_object_object_get(reply, "evidence"));
	goto out;
 fail:
	job_fail(s, b, "read_back: %s", why);
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
	char *subj_txt = NULL, *iss_txt = NULL, nb[32], na[32], now[32], uri[640];
	uint8_t *cert_der = NULL;
	size_t cert_len = 0;
	const char *serial;
	int rc;

	(void)step_mark(s, b->job_id, STEP_RECORD, "begin", NULL);
	if ((rc = check_material(s, b, &job, &cert, &pub, &subject)) != 0 ||
	    (rc = cert_subject_text(X509_get_subject_name(cert), &subj_txt)) != 0 ||
	    (rc = cert_subject_text(X509_get_issuer_name(cert), &iss_txt)) != 0 ||
	    (rc = cert_time_iso(X509_get0_notBefore(cert), nb, sizeof(nb))) != 0 ||
	    (rc = cert_time_iso(X509_get0_notAfter(cert), na, sizeof(na))) != 0)
		goto fail;
	serial = jstr(job, "cert_serial");
	if ((rc = blob_from_hex(job, "cert", &cert_der, &cert_len)) != 0)
		goto fail;
	token_uri(b, uri, sizeof(uri));
	store_now(now);
	/* one transaction: the issuance, the unit, the certificate and the job agree */
	if ((rc = store_begin(s->st)) != 0)
		goto fail;
	rc = store_run(s->st, "INSERT INTO issuances (order_id, item_id, unit_id, job_id, cert_serial,"
	    " subject, issuer, not_before, not_after, key_alg, key_local, key_always_sensitive,"
	    " key_never_extractable, token_serial, token_model, token_profile, token_uri, org_uscc,"
	    " kind, cert, operator, station_id, started_at, issued_at)"
	    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	    "iiiittttttiiittttttbtttt",
	    jint(job, "order_id"), jint(job, "item_id"), jint(job, "unit_id"), b->job_id, serial,
	    subj_txt, iss_txt, nb, na, jstr(job, "key_alg"),
	    (int64_t)json_object_get_boolean(json_object_object_get(evidence, "local")),
	    (int64_t)json_object_get_boolean(json_object_object_get(evidence, "always_sensitive")),
	    (int64_t)json_object_get_boolean(json_object_object_get(evidence, "never_extractable")),
	    b->token_serial, token_text(b, "model"), b->profile->name, uri,
	    jstr(job, "account_uscc"), jstr(job, "kind"), cert_der, cert_len, jstr(job, "operator"),
	    s->cfg.station_id, jstr(job, "started_at"), now);
	if (rc == 0)
		rc = store_run(s->st, "UPDATE received_certs SET status = 'issued', updated_at = ?"
		    " WHERE serial = ?", "tt", now, serial);
	if (rc == 0)
		rc = store_run(s->st, "UPDATE units SET state = 'issued', updated_at = ? WHERE id = ?",
		    "ti", now, jint(job, "unit_id"));
	if (rc == 0)
		rc = store_run(s->st, "UPDATE jobs SET state = 'issued', step = 'issued',"
		    " user_pin_enc = NULL, so_pin_enc = NULL, updated_at = ?, finished_at = ?"
		    " WHERE id = ?", "tti", now, now, b->job_id);
	if (rc == 0)
		rc = store_run(s->st, "UPDATE orders SET state = 'issued', updated_at = ? WHERE id = ?"
		    " AND NOT EXISTS (SELECT 1 FROM units u JOIN order_items i ON i.id = u.item_id"
		    " WHERE i.order_id = orders.id AND u.state NOT IN ('issued', 'cancelled'))", "ti",
		    now, jint(job, "order_id"));
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "serial", json_object_new_string(serial));
		json_object_object_add(d, "subject", json_object_new_string(subj_txt));
		json_object_object_add(d, "not_after", json_object_new_string(na));
		json_object_object_add(d, "station", json_object_new_string(s->cfg.station_id));
		rc = station_audit(s, jstr(job, "operator"), "issuance.record", jint(job, "order_id"),
		    jint(job, "unit_id"), b->job_id, b->token_serial, b->name, d);
	}
	if (rc == 0)
		rc = store_commit(s->st);
	if (rc != 0) {
		store_rollback(s->st);
		goto fail;
	}
	b->last_job_seconds = (double)(now_ms() - b->started_ms) / 1000.0;
	b->last_job_id = b->job_id;
	b->job_id = 0;
	log_info("job %lld issued certificate %s on token %s in %.2f s", (long long)b->last_job_id,
	    serial, b->token_serial, b->last_job_seconds);
	bay_set_state(s, b, BAY_DONE, "issued certificate %s (%.2f s)", serial, b->last_job_seconds);
	goto out;
 fail:
	job_fail(s, b, "record: %s", ukey_strerror(rc));
 out:
	free(subj_txt);
	free(iss_txt);
	free(cert_der);
	json_object_put(job);
	X509_free(cert);
	EVP_PKEY_free(pub);
	X509_NAME_free(subject);
}

static void
step_run(struct station *s, struct bay *b, enum step st)
{
	struct json_object *req, *job = NULL;
	worker_cb cb = NULL;
	char *ca_hex = NULL;
	int rc;

	if (st == STEP_CA_SUBMIT) {
		(void)step_mark(s, b->job_id, st, "begin", NULL);
		do_ca_submit(s, b);
		return;
	}
	if (st == STEP_CERT_CHECK) {
		do_cert_check(s, b);
		return;
	}
	if ((rc = load_job(s, b->job_id, &job)) != 0) {
		job_fail(s, b, "%s: %s", step_names[st], ukey_strerror(rc));
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
		char *hex;

		if (RAND_bytes(id, sizeof(id)) != 1 || (hex = hex_encode(id, sizeof(id))) == NULL) {
			rc = UKEY_ERR_CRYPTO;
			break;
		}
		rc = store_run(s->st, "UPDATE jobs SET key_id = ? WHERE id = ?", "ti", hex, b->job_id);
		add_pin(req, "user_pin", &b->user_pin);
		json_object_object_add(req, "alg", json_object_new_string(jstr(job, "key_alg")));
		json_object_object_add(req, "id", json_object_new_string(hex));
		json_object_object_add(req, "label", json_object_new_string(jstr(job, "label")));
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
	case STEP_READ_BACK:
		add_pin(req, "user_pin", &b->user_pin);
		json_object_object_add(req, "id", json_object_new_string(jstr(job, "key_id")));
		cb = on_read_back;
		break;
	default:
		rc = UKEY_ERR_STATE;
	}
	free(ca_hex);
	json_object_put(job);
	if (rc == 0)
		rc = step_mark(s, b->job_id, st, "begin", NULL);
	if (rc != 0) {
		json_object_put(req);
		job_fail(s, b, "%s: %s", step_names[st], ukey_strerror(rc));
		return;
	}
	if ((rc = bay_send(s, b, step_names[st], req, step_timeout(b, st), cb)) != 0)
		job_fail(s, b, "%s: cannot reach the worker: %s", step_names[st], ukey_strerror(rc));
}

void
job_retry(struct station *s, struct bay *b)
{
	if (b->job_id != 0)
		step_run(s, b, STEP_CA_SUBMIT);
}
