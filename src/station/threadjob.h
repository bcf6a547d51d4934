/* Requests served off the event loop: each runs in a thread of its own on
 * what was copied for it, and its deferred reply is sent from the loop when
 * the thread ends (docs/reports.md, "Off the event loop"). */
#ifndef UKEY_THREADJOB_H
#define UKEY_THREADJOB_H

#include <stddef.h>
#include <stdint.h>

struct station;
struct request;
struct threadjobs;

/* Threads of every kind that may run at once (the sum of the kinds' max). */
#define THREADJOBS_MAX 8

/* A kind of job. run is the thread's: it may touch only its arg (copied
 * for it on the loop: never the station, its store connection or a
 * client). reply runs on the loop after run, and sends the reply to
 * client_id (control_reply_deferred*). free frees arg after reply, or when
 * the job never started or the daemon stops. */
struct threadjob_kind {
	const char *what;	/* what runs, plural, for the busy refusal ("reports") */
	int max;		/* of this kind at once; one more is refused (busy) */
	const char *hold_env;	/* test hook: names a file the thread waits on */
	void (*run)(void *arg);
	void (*reply)(struct station *s, int64_t client_id, void *arg);
	void (*free)(void *arg);
};

/* From the handler of cmd: starts k on arg for r's client (r->deferred
 * set), or refuses with r->msg saying why (busy: how many are under way).
 * Takes arg always (freed with k->free when it cannot start). 0 or an
 * error. */
int threadjob_request(struct request *r, const char *cmd, const struct threadjob_kind *k,
    void *arg);
/* A job of the station's own, with no client (the CRL's publication): as
 * threadjob_request, its reply called with client_id 0. 0, UKEY_ERR_BUSY,
 * UKEY_ERR_NOMEM or UKEY_ERR_IO; arg is not taken on error. Loop context. */
int threadjob_start(struct station *s, const char *what, const struct threadjob_kind *k,
    void *arg);
/* Test hook for a point inside a job's run (docs/testing-faults.md): on a
 * job's thread, while the file the variable env names exists, waits, having
 * logged "test hook <env>: <what> waits while <file> exists"; the daemon's
 * stop ends the wait. Nothing when env is unset or off a job's thread. */
void threadjob_hold(const char *env, const char *what);
/* The URL a thread opens the station's store by, read-only (db.h): the
 * configured store_url, or <state>/station.db. */
void threadjob_store_url(const struct station *s, char *buf, size_t len);
/* Readable when a job ended; -1 before the first job. */
int threadjobs_fd(const struct threadjobs *tj);
/* Joins the jobs that ended and sends their replies. Loop context. */
void threadjobs_collect(struct station *s, struct threadjobs *tj);
/* Ends the test hook's holds, waits for the jobs under way and frees them
 * without replies (at exit, the clients closed), then tj. */
void threadjobs_free(struct threadjobs *tj);

#endif
