/* Revocations at the CA without waiting on the event loop: the embedded CA
 * answers at once from its own database, so its revocation runs where it is
 * asked for; an external CA (CMP) may take cmp.timeout, so the RR goes to
 * the CA thread and what follows the CA's answer (the record, the CRL, the
 * command's reply) runs on the loop when the answer comes. docs/ca.md */
#ifndef UKEY_STATION_CAREVOKE_H
#define UKEY_STATION_CAREVOKE_H

#include "station/station.h"

/* The CA's answer: rc 0, or its error (UKEY_ERR_STATE: revoked there
 * already); ca_said is what the CA said ("" when it said nothing more).
 * The callee owns arg from here on. */
typedef void (*carevoke_fn)(struct station *s, int rc, const char *ca_said, void *arg);

/* Revokes serial (hex) at the CA with an RFC 5280 reason name. With the
 * embedded CA (or no CA thread) the call is made here and done runs before
 * this returns; with an external CA done runs on the loop once the CA
 * answered (job_ca_answers), or never when the station stops first, and
 * arg_free(arg) frees arg then (arg_free may be NULL). done NULL: the
 * answer is only logged. */
void carevoke_submit(struct station *s, const char *serial, const char *reason, carevoke_fn done,
    void *arg, void (*arg_free)(void *));

/* 1 while a revocation of serial (as stored: upper-case hex) is queued or
 * under way on the CA thread, else 0. */
int carevoke_pending(struct station *s, const char *serial);

/* The loop's side of a REVOKE call the CA thread answered (job_caanswer.c):
 * runs its done, or logs the answer. */
struct cacall;
void carevoke_answer(struct station *s, struct cacall *c);

#endif
