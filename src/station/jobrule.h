/* The issuance job's rules without the station around them: its steps in
 * order, where a suspended job goes on, whose fault a failure is and what a
 * failure does to the unit. No I/O; the station (job.c, job_steps.c) acts on
 * what these say. */
#ifndef UKEY_JOBRULE_H
#define UKEY_JOBRULE_H

#include <stddef.h>
#include <stdint.h>

/* Steps in order; the names are what the database and `ukeyctl jobs` show.
 * An issuance runs claimed .. issued; a renewal (docs/jobs.md, "Renewal")
 * runs claimed, identify, login, generate_key .. record, discard_old, issued. */
enum step {
	STEP_CLAIMED, STEP_INIT_TOKEN, STEP_GENERATE_KEY, STEP_MAKE_CSR, STEP_CA_SUBMIT,
	STEP_CERT_CHECK, STEP_WRITE_CERT, STEP_READ_BACK, STEP_RECORD, STEP_ISSUED,
	STEP_IDENTIFY, STEP_LOGIN, STEP_DISCARD_OLD
};
extern const char *const job_step_names[];

/*
 * Whose failure a job's end is, which decides what happens to its unit and
 * its token (docs/jobs.md, "Failed jobs, held units, tokens put aside"):
 * JOB_INTERRUPTED: nobody's (the worker died, an operator abandoned the job):
 *   the unit is queued again where it stood;
 * JOB_TOKEN: the token's (a PKCS#11 device or module error, a key or request
 *   the token got wrong, a token that is not blank): the unit is queued
 *   again where it stood and counts no failure; the token is put aside;
 * JOB_UNIT: the unit's, and it will fail the same way on any token (its
 *   label or subject, the CA refusing its request): counted; the second
 *   failure of the same kind holds the unit;
 * JOB_OTHER: the station's or the CA's, maybe passing (the database, a CA
 *   reply refused by the checks): counted.
 * A counted failure puts the unit at the tail of the queue, or holds it at
 * UNIT_MAX_FAILURES failures of any kind.
 */
enum job_blame { JOB_INTERRUPTED, JOB_TOKEN, JOB_UNIT, JOB_OTHER };

#define UNIT_MAX_FAILURES 3

/* "interrupted", "token", "unit" or "other", as audit records name it. */
const char *jobrule_blame_name(enum job_blame blame);

/* Where a suspended job goes on, from its last journal entry (last_step
 * NULL when it has none): the step after the last one done, or the one
 * that was under way again; never before init_token. A job interrupted at
 * `record` goes back to read_back, so that what is recorded was read from
 * the token just now. */
enum step jobrule_resume_step(const char *last_step, const char *last_phase);

/* Where a suspended renewal goes on, from its last journal entry (NULL
 * when none): identify until the token was identified; then the step after
 * the last one done, or the one under way again, as for an issuance; a
 * renewal interrupted at `record` begun goes back to read_back, one whose
 * record is done goes on at discard_old. Every step from login on needs the
 * holder's PIN again, which the station never keeps: the caller asks for it
 * before going on (jobrule_renew_needs_login). */
enum step jobrule_renew_resume_step(const char *last_step, const char *last_phase);

/* 1 if the commit that begins step st (with the step before it done) need
 * not be flushed before the step runs: st changes nothing on the token
 * (make_csr signs, read_back reads) and the next commit, which is flushed
 * before anything depends on it, flushes this one too; a power cut that
 * loses it resumes one step earlier, which redoes what it recorded
 * (docs/jobs.md, "Commits that need no flush of their own"). */
int jobrule_begin_may_wait(enum step st);

/* 1 if a renewal resumed at st must log in first (the steps that talk to the
 * token as its user), else 0. */
int jobrule_renew_needs_login(enum step st);

/* Whose fault a step's error from the worker is (rc a UKEY_ERR_* code, msg
 * the worker's message or NULL): a label or subject it refused is the
 * unit's, the worker's host or the station's own trouble is JOB_OTHER,
 * anything else the token did is the token's. */
enum job_blame jobrule_worker_blame(int rc, const char *msg);

/* Whose fault a CA's refusal (rc) is: a request it finds malformed or
 * against its policy is the unit's; its own trouble is JOB_OTHER. */
enum job_blame jobrule_ca_blame(int rc);

/* The kind of a failure, "<step>:<error name>" ("failed" when err is 0),
 * into buf: two failures of the same kind are the same failure. */
void jobrule_failure_kind(const char *step, int err, char *buf, size_t len);

/* What a failed job does to its unit. */
enum unit_fate {
	UNIT_RETURN,	/* queued again where it stood, no failure counted */
	UNIT_LEAVE,	/* left alone: no longer in production */
	UNIT_REQUEUE,	/* failure counted, to the tail of the queue */
	UNIT_HOLD	/* failure counted, held for a person */
};

/* The unit's fate after a failure with blame of the given kind (why: the
 * job's reason). unit_state, failures and prev_kind are the unit's as
 * stored (prev_kind NULL when it never failed). Sets *count to the failures
 * to store and writes into reason what the unit's record says (for a hold,
 * which rule held it). */
enum unit_fate jobrule_unit_fate(enum job_blame blame, const char *unit_state, int64_t failures,
    const char *prev_kind, const char *kind, const char *why, int64_t *count, char *reason,
    size_t len);

#endif
