/* Requests served off the event loop (threadjob.h): a thread per request,
 * a bounded number of each kind, and a pipe by which an ended thread wakes
 * the loop, which joins it and sends the deferred reply. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "station/control.h"
#include "station/station_impl.h"
#include "station/threadjob.h"

struct tjob {
	struct threadjobs *tj;
	const struct threadjob_kind *k;
	const char *cmd;
	void *arg;
	int64_t client_id;
	pthread_t tid;
	int slot;
};

struct threadjobs {
	int pipe_r, pipe_w;
	int stopping;			/* atomic: the daemon stops, the holds end */
	struct tjob *job[THREADJOBS_MAX];
};

/* The job this thread runs (NULL on any other thread): for threadjob_hold. */
static _Thread_local const struct tjob *current;

/* Test hook (docs/testing-faults.md): while the file variable env names
 * exists, the thread waits, as a long job would, so that a test sees the
 * loop serve meanwhile. The daemon's stop ends it. */
static void
test_hold(const struct tjob *j, const char *env, const char *what)
{
	const char *f = env != NULL ? getenv(env) : NULL;
	struct timespec ts = { 0, 50 * 1000000L };

	if (f == NULL || f[0] == '\0' || access(f, F_OK) != 0)
		return;		/* said only when it waits */
	log_warn("test hook %s: %s waits while %s exists", env, what, f);
	while (access(f, F_OK) == 0 && !__atomic_load_n(&j->tj->stopping, __ATOMIC_SEQ_CST))
		nanosleep(&ts, NULL);
}

void
threadjob_hold(const char *env, const char *what)
{
	if (current != NULL)
		test_hold(current, env, what);
}

static void *
tjob_main(void *arg)
{
	struct tjob *j = arg;
	ssize_t w;

	current = j;
	test_hold(j, j->k->hold_env, j->cmd);
	j->k->run(j->arg);
	/* the slot number tells the loop which one ended */
	do
		w = write(j->tj->pipe_w, &j->slot, sizeof(j->slot));
	while (w < 0 && errno == EINTR);
	return NULL;
}

static int
tj_new(struct threadjobs **out)
{
	struct threadjobs *tj = calloc(1, sizeof(*tj));
	int p[2];

	if (tj == NULL)
		return UKEY_ERR_NOMEM;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
		free(tj);
		return UKEY_ERR_IO;
	}
	tj->pipe_r = p[0];
	tj->pipe_w = p[1];
	*out = tj;
	return 0;
}

/* A free slot for one more job of kind k, or -1 (busy). */
static int
free_slot(const struct threadjobs *tj, const struct threadjob_kind *k)
{
	int i, slot = -1, same = 0;

	for (i = 0; i < THREADJOBS_MAX; i++) {
		if (tj->job[i] == NULL && slot < 0)
			slot = i;
		else if (tj->job[i] != NULL && tj->job[i]->k == k)
			same++;
	}
	return same < k->max ? slot : -1;
}

/* Starts a thread running kind k on arg for the deferred reply to
 * client_id; cmd (a static string) names the request in the logs. *tjp is
 * made on first use. 0 (arg taken), UKEY_ERR_BUSY (k->max of that kind
 * under way, or every slot), UKEY_ERR_NOMEM or UKEY_ERR_IO; arg is not
 * taken on error. Loop context. */
static int
threadjobs_start(struct threadjobs **tjp, const struct threadjob_kind *k, const char *cmd,
    void *arg, int64_t client_id)
{
	struct tjob *j;
	int rc, slot;

	if (*tjp == NULL && (rc = tj_new(tjp)) != 0)
		return rc;
	if ((slot = free_slot(*tjp, k)) < 0)
		return UKEY_ERR_BUSY;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return UKEY_ERR_NOMEM;
	*j = (struct tjob){ .tj = *tjp, .k = k, .cmd = cmd, .arg = arg, .client_id = client_id,
	    .slot = slot };
	if (pthread_create(&j->tid, NULL, tjob_main, j) != 0) {
		free(j);
		return UKEY_ERR_NOMEM;
	}
	(*tjp)->job[slot] = j;
	return 0;
}

int
threadjob_request(struct request *r, const char *cmd, const struct threadjob_kind *k, void *arg)
{
	int rc = threadjobs_start(&r->s->offloop, k, cmd, arg, r->c->id);

	if (rc == 0) {
		log_info("%s for %s (pid %d): in a thread of its own", cmd, r->c->user,
		    (int)r->c->pid);
		r->deferred = 1;
		return 0;
	}
	k->free(arg);
	if (rc == UKEY_ERR_BUSY)
		return req_fail(r, rc, "%s: %d %s are under way; try again when one has ended",
		    cmd, k->max, k->what);
	return req_fail(r, rc, "%s: cannot start its thread: %s", cmd, ukey_strerror(rc));
}

int
threadjob_start(struct station *s, const char *what, const struct threadjob_kind *k, void *arg)
{
	return threadjobs_start(&s->offloop, k, what, arg, 0);
}

void
threadjob_store_url(const struct station *s, char *buf, size_t len)
{
	if (s->cfg.store_url[0] != '\0')
		snprintf(buf, len, "%s", s->cfg.store_url);
	else
		snprintf(buf, len, "%s/station.db", s->state_dir);
}

int
threadjobs_fd(const struct threadjobs *tj)
{
	return tj != NULL ? tj->pipe_r : -1;
}

void
threadjobs_collect(struct station *s, struct threadjobs *tj)
{
	struct tjob *j;
	int slot;

	while (read(tj->pipe_r, &slot, sizeof(slot)) == (ssize_t)sizeof(slot)) {
		if (slot < 0 || slot >= THREADJOBS_MAX || (j = tj->job[slot]) == NULL)
			continue;
		pthread_join(j->tid, NULL);
		tj->job[slot] = NULL;
		if (j->client_id != 0)
			log_info("%s ended: replying to control client %lld", j->cmd,
			    (long long)j->client_id);
		else
			log_info("%s ended", j->cmd);
		/* a client gone meanwhile: control_reply_deferred drops the reply */
		j->k->reply(s, j->client_id, j->arg);
		j->k->free(j->arg);
		free(j);
	}
}

void
threadjobs_free(struct threadjobs *tj)
{
	int i;

	if (tj == NULL)
		return;
	__atomic_store_n(&tj->stopping, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < THREADJOBS_MAX; i++)
		if (tj->job[i] != NULL) {
			pthread_join(tj->job[i]->tid, NULL);
			tj->job[i]->k->free(tj->job[i]->arg);
			free(tj->job[i]);
		}
	close(tj->pipe_r);
	close(tj->pipe_w);
	free(tj);
}
