/* `audit verify` off the event loop (verifythread.h). The verifier itself
 * (audit_verify_db) is called as it is; only where it runs changes: a
 * thread with its own read-only database connection, so that bays and
 * other commands are served while a log of a million records is checked. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "common/err.h"
#include "common/log.h"
#include "station/control.h"
#include "station/station_impl.h"
#include "station/verifythread.h"
#include "store/audit.h"
#include "store/auditkey.h"
#include "store/db.h"

struct verifyjob {
	struct verifythreads *vt;
	int64_t client_id;
	char url[1024];
	EVP_PKEY *pub;			/* a public-only copy: the thread's own */
	struct witness_set ws;
	int have_ws;
	struct audit_report rep;
	int rc;
	pthread_t tid;
	int slot;
};

struct verifythreads {
	int pipe_r, pipe_w;
	struct verifyjob *job[VERIFY_THREADS_MAX];
};

/* Test hook UKEY_TEST_VERIFY_HOLD=<file> (docs/testing-faults.md): while
 * that file exists the thread waits before it verifies, as the check of a
 * very long log would take, so that a test sees the loop serve meanwhile. */
static void
test_hold(void)
{
	const char *f = getenv("UKEY_TEST_VERIFY_HOLD");
	struct timespec ts = { 0, 50 * 1000000L };

	if (f == NULL || f[0] == '\0')
		return;
	log_warn("test hook UKEY_TEST_VERIFY_HOLD: audit.verify waits while %s exists", f);
	while (access(f, F_OK) == 0)
		nanosleep(&ts, NULL);
}

static void *
verify_main(void *arg)
{
	struct verifyjob *j = arg;
	struct db *db = NULL;
	ssize_t w;

	test_hold();
	memset(&j->rep, 0, sizeof(j->rep));
	if ((j->rc = db_open_readonly(j->url, &db)) == 0) {
		j->rc = audit_verify_db(db, j->pub, j->have_ws ? &j->ws : NULL, &j->rep);
		db_close(db);
	}
	/* the slot number tells the loop which one ended */
	do
		w = write(j->vt->pipe_w, &j->slot, sizeof(j->slot));
	while (w < 0 && errno == EINTR);
	return NULL;
}

static int
vt_new(struct verifythreads **out)
{
	struct verifythreads *vt = calloc(1, sizeof(*vt));
	int p[2];

	if (vt == NULL)
		return UKEY_ERR_NOMEM;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
		free(vt);
		return UKEY_ERR_IO;
	}
	vt->pipe_r = p[0];
	vt->pipe_w = p[1];
	*out = vt;
	return 0;
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
job_free(struct verifyjob *j)
{
	if (j == NULL)
		return;
	EVP_PKEY_free(j->pub);
	witness_set_clear(&j->ws);
	free(j);
}

int
verifythreads_start(struct verifythreads **vtp, const char *url, EVP_PKEY *key,
    struct witness_set *ws, int64_t client_id)
{
	struct verifyjob *j;
	int rc, slot;

	if (*vtp == NULL && (rc = vt_new(vtp)) != 0)
		return rc;
	for (slot = 0; slot < VERIFY_THREADS_MAX && (*vtp)->job[slot] != NULL; slot++)
		;
	if (slot == VERIFY_THREADS_MAX)
		return UKEY_ERR_BUSY;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return UKEY_ERR_NOMEM;
	j->vt = *vtp;
	j->slot = slot;
	j->client_id = client_id;
	snprintf(j->url, sizeof(j->url), "%s", url);
	if ((j->pub = public_copy(key)) == NULL) {
		job_free(j);
		return UKEY_ERR_CRYPTO;
	}
	if (ws != NULL) {
		j->ws = *ws;	/* taken */
		memset(ws, 0, sizeof(*ws));
		j->have_ws = 1;
	}
	if (pthread_create(&j->tid, NULL, verify_main, j) != 0) {
		if (ws != NULL)
			*ws = j->ws;	/* given back */
		memset(&j->ws, 0, sizeof(j->ws));
		job_free(j);
		return UKEY_ERR_NOMEM;
	}
	(*vtp)->job[slot] = j;
	return 0;
}

int
verifythreads_request(struct request *r, struct witness_set *ws)
{
	struct station *s = r->s;
	char url[1024];
	int rc;

	if (s->cfg.store_url[0] != '\0')
		snprintf(url, sizeof(url), "%s", s->cfg.store_url);
	else
		snprintf(url, sizeof(url), "%s/station.db", s->state_dir);
	rc = verifythreads_start(&s->verify, url, station_audit_key(s), ws, r->c->id);
	if (rc == UKEY_ERR_BUSY)
		return req_fail(r, rc, "audit.verify: %d verifications are under way; try again "
		    "when one has ended", VERIFY_THREADS_MAX);
	if (rc != 0)
		return req_fail(r, rc, "audit.verify: cannot start the verification: %s",
		    ukey_strerror(rc));
	log_info("audit.verify for %s (pid %d): verifying in a thread of its own", r->c->user,
	    (int)r->c->pid);
	r->deferred = 1;
	return 0;
}

int
verifythreads_fd(const struct verifythreads *vt)
{
	return vt != NULL ? vt->pipe_r : -1;
}

/* The reply to the client of job j, which has ended. */
static void
job_reply(struct station *s, struct verifyjob *j)
{
	struct json_object *res;
	char key_id[AUDIT_KEY_ID_LEN + 1], msg[300];

	if (j->rc != 0 && j->rc != UKEY_ERR_VERIFY) {
		snprintf(msg, sizeof(msg), "audit.verify: %s", ukey_strerror(j->rc));
		log_warn("%s", msg);
		control_reply_deferred(s, j->client_id, j->rc, msg, NULL);
		return;
	}
	res = audit_report_json(&j->rep);
	if (audit_key_id(station_audit_key(s), key_id) == 0)
		json_object_object_add(res, "key_id", json_object_new_string(key_id));
	log_info("audit.verify: %s, %lld records", j->rep.ok ? "intact" : "BROKEN",
	    (long long)j->rep.records);
	control_reply_deferred(s, j->client_id, 0, NULL, res);
}

void
verifythreads_collect(struct station *s, struct verifythreads *vt)
{
	struct verifyjob *j;
	int slot;

	while (read(vt->pipe_r, &slot, sizeof(slot)) == (ssize_t)sizeof(slot)) {
		if (slot < 0 || slot >= VERIFY_THREADS_MAX || (j = vt->job[slot]) == NULL)
			continue;
		pthread_join(j->tid, NULL);
		vt->job[slot] = NULL;
		job_reply(s, j);
		job_free(j);
	}
}

void
verifythreads_free(struct verifythreads *vt)
{
	int i;

	if (vt == NULL)
		return;
	for (i = 0; i < VERIFY_THREADS_MAX; i++)
		if (vt->job[i] != NULL) {
			pthread_join(vt->job[i]->tid, NULL);
			job_free(vt->job[i]);
		}
	close(vt->pipe_r);
	close(vt->pipe_w);
	free(vt);
}
