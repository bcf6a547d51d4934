/* `audit verify` off the event loop (verifythread.h). The verifier itself
 * runs in a thread (threadjob.h) with its own read-only database
 * connection, so that bays and other commands are served while a log of a
 * million records is checked; incrementally from what the last intact
 * verification reached, kept in the state directory, unless the whole log
 * is asked for. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include <json-c/json.h>

#include "common/err.h"
#include "common/jsontext.h"
#include "common/log.h"
#include "station/control.h"
#include "station/station_impl.h"
#include "station/threadjob.h"
#include "station/verifythread.h"
#include "store/audit.h"
#include "store/auditkey.h"
#include "store/db.h"
#include "store/store.h"

struct verifyjob {
	char url[1024];
	EVP_PKEY *pub;			/* a public-only copy: the thread's own */
	struct witness_set ws;
	int have_ws;
	char only[AUDIT_STATION_MAX + 1];	/* one station's chain; "" every one */
	int full;				/* the whole log, not from the seeds */
	char state_dir[900];			/* where the seeds are kept */
	struct audit_report rep;
	int rc;
};

/* Incremental verification (docs/audit.md): what the last whole
 * verification found intact, each chain up to its last checkpoint, kept in
 * the state directory. */
#define AUDIT_VERIFIED_FILE "audit-verified.json"

/* Reads the seeds of the file; 0 with *n 0 when there is none or it does
 * not parse (the verification is then whole). *seeds malloc'd. */
static int
seeds_load(const char *state_dir, struct audit_seed **seeds, size_t *n)
{
	struct json_object *o = NULL, *arr, *it;
	char path[4096];
	size_t i, len;

	*seeds = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "%s/%s", state_dir, AUDIT_VERIFIED_FILE);
	if (access(path, F_OK) != 0 || (o = json_object_from_file(path)) == NULL ||
	    !json_object_object_get_ex(o, "chains", &arr) || (len = json_object_array_length(arr)) == 0 ||
	    (*seeds = calloc(len, sizeof(**seeds))) == NULL) {
		json_object_put(o);
		return 0;
	}
	for (i = 0; i < len; i++) {
		struct audit_seed *sd = &(*seeds)[i];
		const char *st, *h;

		it = json_object_array_get_idx(arr, i);
		st = jstr(it, "station");
		h = jstr(it, "hash");
		if (st == NULL || strlen(st) > AUDIT_STATION_MAX || h == NULL ||
		    strlen(h) != AUDIT_HASH_LEN)
			break;
		snprintf(sd->station, sizeof(sd->station), "%s", st);
		memcpy(sd->hash, h, sizeof(sd->hash));
		sd->base = jint(it, "base");
		sd->pos = jint(it, "pos");
		sd->id = jint(it, "id");
		sd->checkpoint = jint(it, "checkpoint");
	}
	json_object_put(o);
	if (i < len) {
		log_warn("%s: a chain without station or hash: verifying everything", path);
		free(*seeds);
		*seeds = NULL;
		return 0;
	}
	*n = len;
	return 0;
}

/* After an intact verification of every chain: each chain's last
 * checkpoint, where the next verification starts. Nothing is written
 * while a chain has no checkpoint (it would have to start from nothing). */
static void
seeds_save(const char *state_dir, const struct audit_report *rep)
{
	struct json_object *o, *arr;
	char path[4096], tmp[4200], now[32];
	size_t i;

	for (i = 0; i < rep->n_stations; i++)
		if (rep->stations[i].last_signed_seq == 0)
			return;
	o = json_object_new_object();
	arr = json_object_new_array();
	for (i = 0; i < rep->n_stations; i++) {
		const struct audit_station_report *c = &rep->stations[i];
		struct json_object *it = json_object_new_object();

		json_object_object_add(it, "station", json_object_new_string(c->station));
		json_object_object_add(it, "base", json_object_new_int64(c->base));
		json_object_object_add(it, "pos", json_object_new_int64(c->last_signed_seq));
		json_object_object_add(it, "id", json_object_new_int64(c->last_signed_id));
		json_object_object_add(it, "checkpoint", json_object_new_int64(c->checkpoints));
		json_object_object_add(it, "hash", json_object_new_string(c->last_signed_hash));
		json_object_array_add(arr, it);
	}
	store_now(now);
	json_object_object_add(o, "verified_at", json_object_new_string(now));
	json_object_object_add(o, "chains", arr);
	snprintf(path, sizeof(path), "%s/%s", state_dir, AUDIT_VERIFIED_FILE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_object_to_file_ext(tmp, o, JSON_C_TO_STRING_PLAIN) != 0 || rename(tmp, path) != 0)
		log_warn("%s: cannot write: the next verification is whole", path);
	json_object_put(o);
}

/* Verifies the log of db for j: from the last intact verification (the
 * saved seeds) unless the whole log, a witness or one station is asked for. */
static int
verify_log(struct verifyjob *j, struct db *db)
{
	struct audit_seed *seeds = NULL;
	size_t n = 0;
	int rc;

	if (j->only[0] != '\0' || j->have_ws)
		return audit_verify_db(db, j->pub, j->only[0] ? j->only : NULL,
		    j->have_ws ? &j->ws : NULL, &j->rep);
	if (!j->full && (rc = seeds_load(j->state_dir, &seeds, &n)) != 0)
		return rc;
	rc = audit_verify_db_from(db, j->pub, seeds, n, NULL, &j->rep);
	/* seeds that do not fit the log (another database): the whole log */
	if (rc == UKEY_ERR_INVAL)
		rc = audit_verify_db(db, j->pub, NULL, NULL, &j->rep);
	free(seeds);
	if (rc == 0)
		seeds_save(j->state_dir, &j->rep);
	return rc;
}

/* The thread (threadjob.h): the job's own read-only connection. */
static void
verify_run(void *arg)
{
	struct verifyjob *j = arg;
	struct db *db = NULL;

	memset(&j->rep, 0, sizeof(j->rep));
	if ((j->rc = db_open_readonly(j->url, &db)) == 0) {
		j->rc = verify_log(j, db);
		db_close(db);
	}
}

/* The public half of key, as a key of its own for the thread. */
static EVP_PKEY *
public_copy(EVP_PKEY *key)
{
	unsigned char *der = NULL;
	const unsigned char *pp;
	EVP_PKEY *pub = NULL;
	int len = i2d_PUBKEY(key, &der);

	if (len > 0) {
		pp = der;
		pub = d2i_PUBKEY(NULL, &pp, len);
	}
	OPENSSL_free(der);
	return pub;
}

static void
verify_free(void *arg)
{
	struct verifyjob *j = arg;

	if (j == NULL)
		return;
	EVP_PKEY_free(j->pub);
	witness_set_clear(&j->ws);
	free(j);
}

/* The reply to the client of job j, which has ended. Loop context. */
static void
verify_reply(struct station *s, int64_t client_id, void *arg)
{
	struct verifyjob *j = arg;
	struct json_object *res;
	char key_id[AUDIT_KEY_ID_LEN + 1], msg[300];

	if (j->rc != 0 && j->rc != UKEY_ERR_VERIFY) {
		snprintf(msg, sizeof(msg), "audit.verify: %s", ukey_strerror(j->rc));
		log_warn("%s", msg);
		control_reply_deferred(s, client_id, j->rc, msg, NULL);
		return;
	}
	res = audit_report_json(&j->rep);
	if (audit_key_id(station_audit_key(s), key_id) == 0)
		json_object_object_add(res, "key_id", json_object_new_string(key_id));
	log_info("audit.verify: %s, %lld records", j->rep.ok ? "intact" : "BROKEN",
	    (long long)j->rep.records);
	control_reply_deferred(s, client_id, 0, NULL, res);
}

static const struct threadjob_kind verify_kind = {
	.what = "verifications",
	.max = VERIFY_THREADS_MAX,
	.hold_env = "UKEY_TEST_VERIFY_HOLD",
	.run = verify_run,
	.reply = verify_reply,
	.free = verify_free,
};

int
verifythreads_request(struct request *r, const char *only, int full, struct witness_set *ws)
{
	struct station *s = r->s;
	struct verifyjob *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return req_fail(r, UKEY_ERR_NOMEM, "audit.verify: %s", ukey_strerror(UKEY_ERR_NOMEM));
	threadjob_store_url(s, j->url, sizeof(j->url));
	snprintf(j->only, sizeof(j->only), "%s", only ? only : "");
	snprintf(j->state_dir, sizeof(j->state_dir), "%s", s->state_dir);
	j->full = full;
	if (ws != NULL) {
		j->ws = *ws;	/* taken */
		memset(ws, 0, sizeof(*ws));
		j->have_ws = 1;
	}
	if ((j->pub = public_copy(station_audit_key(s))) == NULL) {
		verify_free(j);
		return req_fail(r, UKEY_ERR_CRYPTO, "audit.verify: cannot start the verification: %s",
		    ukey_strerror(UKEY_ERR_CRYPTO));
	}
	return threadjob_request(r, "audit.verify", &verify_kind, j);
}
