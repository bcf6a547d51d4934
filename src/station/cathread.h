/* The daemon's CA thread: the calls that may wait for a CA (issue, poll,
 * revoke) run on it, one at a time, off the event loop; each answer comes
 * back to the loop through a pipe the loop polls (cathread_fd). */
#ifndef UKEY_STATION_CATHREAD_H
#define UKEY_STATION_CATHREAD_H

#include <stdint.h>

#include <openssl/x509.h>

#include "ca/ca.h"

struct station;

enum cacall_op {
	CACALL_ISSUE,	/* ca_issue_start(): a new request */
	CACALL_POLL,	/* ca_issue_poll(): the request the CA holds (txn) */
	CACALL_REVOKE	/* ca_revoke(serial, reason) */
};

/* One call and its answer. The request's data is owned here (cacall_free)
 * and req points into it, so the thread never reads the loop's memory. */
struct cacall {
	enum cacall_op op;
	int64_t job_id;
	X509_REQ *csr;
	X509_NAME *subject;
	X509 *old_cert;
	char *gm_identity_value, *email;	/* wiped when freed */
	char request_key[65];
	struct ca_request req;
	struct ca_txn txn;		/* ISSUE: the transactionID chosen; POLL: as
					 * persisted; after: as the CA left it */
	int unanswered;			/* POLL of a request sent before a stop, never answered */
	char serial[80], reason[32];	/* REVOKE */
	/* REVOKE: what the loop does with the answer (carevoke.c), or NULL;
	 * revoked_arg is freed with revoked_arg_free when never answered */
	void (*revoked)(struct station *s, int rc, const char *ca_said, void *arg);
	void *revoked_arg;
	void (*revoked_arg_free)(void *arg);
	/* the answer */
	int rc;
	X509 *cert;			/* owned; NULL unless rc == 0 */
	char error[512];		/* ca_last_error() after the call */
	/* before the CA is told the certificate is taken (req.before_confirm):
	 * the certificate waiting to be recorded by the loop, and whether it was */
	X509 *unconfirmed;
	int recorded;			/* 0 waiting, 1 recorded, -1 refused */
	struct cathread *owner;
	struct cacall *next;
};

/* A zeroed call of op for job_id (0: none); NULL when out of memory. */
struct cacall *cacall_new(enum cacall_op op, int64_t job_id);
void cacall_free(struct cacall *c);

struct cathread;

/* Starts the thread for ca (borrowed; it must outlive the thread). 0 and
 * *out, or UKEY_ERR_IO / UKEY_ERR_NOMEM. Loop context. */
int cathread_start(struct ca *ca, struct cathread **out);

/* The descriptor that becomes readable when answers wait, or a certificate
 * waits to be recorded (cathread_unconfirmed). */
int cathread_fd(const struct cathread *t);

/* Queues c; the thread owns it until cathread_answers() hands it back. */
void cathread_submit(struct cathread *t, struct cacall *c);

/* Whether a call for job_id is queued, running or answered but not yet
 * taken by the loop. */
int cathread_busy(struct cathread *t, int64_t job_id);

/* 1 when a REVOKE of serial (compared without regard to case) is queued,
 * running or answered but not yet taken by the loop. */
int cathread_revoking(struct cathread *t, const char *serial);

/* The call under way whose certificate waits to be recorded before the CA
 * is told it is taken (cacall.unconfirmed), or NULL; borrowed until
 * cathread_recorded(). Loop context. */
struct cacall *cathread_unconfirmed(struct cathread *t);

/* The loop recorded c's unconfirmed certificate (ok 1) or could not (0:
 * the CA is told it is refused); the CA thread goes on. */
void cathread_recorded(struct cathread *t, struct cacall *c, int ok);

/* The answered calls, oldest first, as a list through ->next (each freed
 * with cacall_free), or NULL; empties the pipe. Loop context. */
struct cacall *cathread_answers(struct cathread *t);

/* Lets the call under way finish (at most the connector's timeout), then
 * stops and joins the thread; calls not started stay unanswered and are
 * dropped by cathread_free. While it waits it calls serve(arg) now and
 * then, which records an unconfirmed certificate (cathread_unconfirmed).
 * The answers are still there for cathread_answers(). */
void cathread_stop(struct cathread *t, void (*serve)(void *arg), void *arg);

/* Stops the thread if needed and frees everything; NULL is a no-op. */
void cathread_free(struct cathread *t);

#endif
