/* The daemon's CA thread: one thread runs the CA calls that may wait
 * (cmp.timeout for an external CA) so that the event loop never does; the
 * connector's own lock (ca_hold) keeps the loop's few direct CA calls from
 * running beside it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/secret.h"
#include "station/cathread.h"

struct cathread {
	struct ca *ca;
	pthread_t tid;
	int started, stop, exited;
	int pipe_r, pipe_w;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct cacall *queue, *running, *done;	/* queue and done: oldest first */
};

struct cacall *
cacall_new(enum cacall_op op, int64_t job_id)
{
	struct cacall *c = calloc(1, sizeof(*c));

	if (c != NULL) {
		c->op = op;
		c->job_id = job_id;
	}
	return c;
}

static void
free_wiped(char *p)
{
	if (p != NULL) {
		secure_wipe(p, strlen(p));
		free(p);
	}
}

void
cacall_free(struct cacall *c)
{
	if (c == NULL)
		return;
	X509_REQ_free(c->csr);
	X509_NAME_free(c->subject);
	X509_free(c->old_cert);
	X509_free(c->cert);
	X509_free(c->unconfirmed);
	free_wiped(c->gm_identity_value);
	free_wiped(c->email);
	if (c->revoked_arg != NULL && c->revoked_arg_free != NULL)
		c->revoked_arg_free(c->revoked_arg);
	free(c);
}

static void
list_append(struct cacall **head, struct cacall *c)
{
	c->next = NULL;
	while (*head != NULL)
		head = &(*head)->next;
	*head = c;
}

/* req.before_confirm on the CA thread: hands the certificate to the loop
 * (through the pipe) and waits until the loop recorded it. */
static int
before_confirm(void *arg, const X509 *cert)
{
	struct cacall *c = arg;
	struct cathread *t = c->owner;
	const char one = 1;
	int ok;

	pthread_mutex_lock(&t->mu);
	c->recorded = 0;
	if ((c->unconfirmed = X509_dup(cert)) == NULL) {
		pthread_mutex_unlock(&t->mu);
		return -1;
	}
	if (write(t->pipe_w, &one, 1) < 0 && errno != EAGAIN)
		log_error("CA thread: write to the loop's pipe: %s", strerror(errno));
	while (c->recorded == 0)
		pthread_cond_wait(&t->cv, &t->mu);
	ok = c->recorded > 0;
	X509_free(c->unconfirmed);
	c->unconfirmed = NULL;
	pthread_mutex_unlock(&t->mu);
	return ok ? 0 : -1;
}

struct cacall *
cathread_unconfirmed(struct cathread *t)
{
	struct cacall *c;

	pthread_mutex_lock(&t->mu);
	c = t->running != NULL && t->running->unconfirmed != NULL && t->running->recorded == 0 ?
	    t->running : NULL;
	pthread_mutex_unlock(&t->mu);
	return c;
}

void
cathread_recorded(struct cathread *t, struct cacall *c, int ok)
{
	pthread_mutex_lock(&t->mu);
	c->recorded = ok ? 1 : -1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

/* Runs c on the CA; the lock is held over the call and its error text. */
static void
run_call(struct ca *ca, struct cacall *c)
{
	ca_hold();
	switch (c->op) {
	case CACALL_ISSUE:
		c->rc = ca_issue_start(ca, &c->req, &c->txn, &c->cert);
		break;
	case CACALL_POLL:
		c->rc = ca_issue_poll(ca, &c->req, &c->txn, &c->cert);
		break;
	case CACALL_REVOKE:
		c->rc = ca_revoke(ca, c->serial, c->reason[0] ? c->reason : NULL);
		break;
	default:
		c->rc = UKEY_ERR_INVAL;
	}
	snprintf(c->error, sizeof(c->error), "%s", c->rc != 0 ? ca_last_error(ca) : "");
	ca_release();
}

static void *
thread_main(void *arg)
{
	struct cathread *t = arg;
	struct cacall *c;
	const char one = 1;

	pthread_mutex_lock(&t->mu);
	for (;;) {
		while (!t->stop && t->queue == NULL)
			pthread_cond_wait(&t->cv, &t->mu);
		if (t->stop)
			break;
		c = t->queue;
		t->queue = c->next;
		t->running = c;
		pthread_mutex_unlock(&t->mu);
		run_call(t->ca, c);
		pthread_mutex_lock(&t->mu);
		t->running = NULL;
		list_append(&t->done, c);
		/* the pipe is non-blocking: a full pipe already wakes the loop */
		if (write(t->pipe_w, &one, 1) < 0 && errno != EAGAIN)
			log_error("CA thread: write to the loop's pipe: %s", strerror(errno));
	}
	t->exited = 1;
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

int
cathread_start(struct ca *ca, struct cathread **out)
{
	struct cathread *t;
	int fds[2];

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return UKEY_ERR_NOMEM;
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
		log_error("pipe2: %s", strerror(errno));
		free(t);
		return UKEY_ERR_IO;
	}
	t->ca = ca;
	t->pipe_r = fds[0];
	t->pipe_w = fds[1];
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	if (pthread_create(&t->tid, NULL, thread_main, t) != 0) {
		log_error("pthread_create: cannot start the CA thread");
		cathread_free(t);
		return UKEY_ERR_IO;
	}
	t->started = 1;
	*out = t;
	return 0;
}

int
cathread_fd(const struct cathread *t)
{
	return t->pipe_r;
}

void
cathread_submit(struct cathread *t, struct cacall *c)
{
	c->owner = t;
	if (c->op != CACALL_REVOKE) {
		c->req.before_confirm = before_confirm;
		c->req.before_confirm_arg = c;
	}
	pthread_mutex_lock(&t->mu);
	list_append(&t->queue, c);
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

static int
list_has(const struct cacall *c, int64_t job_id)
{
	for (; c != NULL; c = c->next)
		if (c->job_id == job_id)
			return 1;
	return 0;
}

int
cathread_busy(struct cathread *t, int64_t job_id)
{
	int busy;

	if (job_id == 0)
		return 0;
	pthread_mutex_lock(&t->mu);
	busy = list_has(t->queue, job_id) || list_has(t->done, job_id) ||
	    (t->running != NULL && t->running->job_id == job_id);
	pthread_mutex_unlock(&t->mu);
	return busy;
}

static int
list_revokes(const struct cacall *c, const char *serial)
{
	for (; c != NULL; c = c->next)
		if (c->op == CACALL_REVOKE && strcasecmp(c->serial, serial) == 0)
			return 1;
	return 0;
}

int
cathread_revoking(struct cathread *t, const char *serial)
{
	int busy;

	pthread_mutex_lock(&t->mu);
	busy = list_revokes(t->queue, serial) || list_revokes(t->done, serial) ||
	    (t->running != NULL && t->running->op == CACALL_REVOKE &&
	    strcasecmp(t->running->serial, serial) == 0);
	pthread_mutex_unlock(&t->mu);
	return busy;
}

struct cacall *
cathread_answers(struct cathread *t)
{
	struct cacall *list;
	char buf[64];

	while (read(t->pipe_r, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&t->mu);
	list = t->done;
	t->done = NULL;
	pthread_mutex_unlock(&t->mu);
	return list;
}

void
cathread_stop(struct cathread *t, void (*serve)(void *arg), void *arg)
{
	struct pollfd p;
	char buf[64];
	int exited = 0;

	if (t == NULL || !t->started)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	while (!exited) {
		/* the call under way may need the loop to record its certificate */
		if (serve != NULL)
			serve(arg);
		p = (struct pollfd){ .fd = t->pipe_r, .events = POLLIN };
		if (poll(&p, 1, 50) > 0)
			while (read(t->pipe_r, buf, sizeof(buf)) > 0)
				;	/* the answers stay on the done list */
		pthread_mutex_lock(&t->mu);
		exited = t->exited;
		pthread_mutex_unlock(&t->mu);
	}
	pthread_join(t->tid, NULL);
	t->started = 0;
}

static void
list_free(struct cacall *c)
{
	struct cacall *next;

	for (; c != NULL; c = next) {
		next = c->next;
		cacall_free(c);
	}
}

void
cathread_free(struct cathread *t)
{
	if (t == NULL)
		return;
	cathread_stop(t, NULL, NULL);
	list_free(t->queue);
	list_free(t->done);
	close(t->pipe_r);
	close(t->pipe_w);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	free(t);
}
