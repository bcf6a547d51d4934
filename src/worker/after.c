/* The work an op leaves for after its reply (worker_after_reply, ops.h),
 * and the daemon's death meanwhile. ukeyd starts a worker with SIGTERM as
 * its parent-death signal. Between requests, and inside one, that ends the
 * worker at once, as SIGKILL would (a module stuck in a call must not keep
 * the token). Inside the work after a reply, which writes to the token
 * while the daemon does its own part of the job, the write is let finish,
 * for at most AFTER_GRACE_S (SIGALRM's default action ends a write that
 * hangs), and the worker stops after it. */
#include <signal.h>
#include <unistd.h>

#include "common/log.h"
#include "worker/ops.h"

#define AFTER_GRACE_S 5

static after_reply_fn after_fn;
static void *after_arg;
static volatile sig_atomic_t after_busy, term_seen;

unsigned long worker_calls_counted;

void
worker_after_reply(after_reply_fn fn, void *arg)
{
	if (after_fn != NULL)
		after_fn(NULL, after_arg, 0);
	after_fn = fn;
	after_arg = arg;
}

int
worker_after_run(struct p11 *p, int run)
{
	after_reply_fn fn = after_fn;

	if (fn == NULL)
		return 0;
	after_fn = NULL;
	if (!run) {
		fn(p, after_arg, 0);
		return 0;
	}
	after_busy = 1;
	fn(p, after_arg, 1);
	after_busy = 0;
	if (term_seen)
		log_warn("the daemon went away while the token was written; stopping after it");
	return term_seen != 0;
}

void
worker_after_term(int sig)
{
	(void)sig;
	if (!after_busy)
		_exit(128 + SIGTERM);
	term_seen = 1;
	alarm(AFTER_GRACE_S);
}
