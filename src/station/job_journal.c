/* The job's journal: each step's begin, done and failed, written to the
 * database (jobs.step and a job_steps row) with an audit record, and the
 * test hook that kills ukeyd right after a mark is committed. A step's end
 * and the next step's begin share one transaction where nothing outside the
 * database happens between them (docs/jobs.md, "One commit per step
 * boundary"): the journal's transaction is opened by the first mark (or
 * job_journal_open) and committed by job_journal_commit, always before the
 * worker or the CA is asked anything. Loop context only: one transaction is
 * open at a time, and never across a return to the event loop. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "station/job_steps.h"
#include "station/station.h"
#include "store/audit.h"
#include "store/store_jobs.h"

/* The crash points a commit of the journal reaches, in the order of the
 * marks it holds (a done, the next begin, the record). */
#define JOURNAL_POINTS 6

struct journal_point {
	enum step st;
	char phase[8];
};

static struct {
	int open;
	int left;		/* the test hook holds this transaction open for the guard */
	size_t n;
	struct journal_point p[JOURNAL_POINTS];
} journal;

/*
 * Test hook, inert unless the environment variable is set: with
 * UKEY_TEST_CRASH_AT=<step>:<point> ukeyd kills itself with SIGKILL when a job
 * reaches that point, as a power cut would (docs/testing-faults.md). The
 * points are "begin", "done" and "failed" of every step (right after the
 * commit that holds the job_steps row; a done shares it with the next
 * step's begin), "claimed:done" (the job row committed, the token not
 * touched yet), "ca_submit:returned" (the CA answered, nothing stored yet),
 * "ca_submit:recorded" (CMP: stored, its certConf not sent) and
 * "record:done" (the issuance committed).
 */
void
job_test_crash_point(const char *step, const char *point)
{
	const char *want = getenv("UKEY_TEST_CRASH_AT");
	size_t n;

	if (want == NULL || *want == '\0')
		return;
	n = strlen(step);
	if (strncmp(want, step, n) != 0 || want[n] != ':' || strcmp(want + n + 1, point) != 0)
		return;
	log_warn("test hook UKEY_TEST_CRASH_AT=%s reached: ukeyd kills itself", want);
	raise(SIGKILL);
}

void
job_step_timed(struct station *s, int64_t job_id, enum step st, const char *phase)
{
	struct bay *b = NULL;
	int64_t ms;
	int i;

	for (i = 0; job_id != 0 && i < station_n_bays(s) && b == NULL; i++)
		if (station_bay(s, i)->job_id == job_id)
			b = station_bay(s, i);
	if (b == NULL)
		return;	/* a job no bay runs (an operator's abandon) */
	if (strcmp(phase, "begin") == 0) {
		b->step_began_ms = now_ms();
		b->step_timed = (int)st;
		return;
	}
	if (strcmp(phase, "done") == 0 && b->step_began_ms > 0 && b->step_timed == (int)st) {
		ms = now_ms() - b->step_began_ms;
		b->step_ms[st] = ms > INT32_MAX ? INT32_MAX : (int32_t)ms;
		b->step_ran |= 1u << st;
	}
	b->step_began_ms = 0;
}

int
job_step_mark_in(struct station *s, int64_t job_id, enum step st, const char *phase,
    const char *detail)
{
	struct json_object *d;
	char now[32];
	int rc;

	store_now(now);
	if ((rc = store_job_step_mark(station_store(s), job_id, job_step_names[st], phase, detail,
	    now)) != 0)
		return rc;
	job_step_timed(s, job_id, st, phase);
	d = json_object_new_object();
	json_object_object_add(d, "step", json_object_new_string(job_step_names[st]));
	json_object_object_add(d, "phase", json_object_new_string(phase));
	if (detail)
		json_object_object_add(d, "detail", json_object_new_string(detail));
	return station_audit(s, "ukeyd", "job.step", 0, 0, job_id, NULL, NULL, d);
}

int
job_journal_is_open(void)
{
	return journal.open;
}

int
job_journal_open(struct station *s)
{
	int rc;

	if (journal.open)
		return 0;
	if ((rc = store_begin(station_store(s))) != 0)
		return rc;
	journal.open = 1;
	journal.n = 0;
	return 0;
}

int
job_journal_open_for(struct station *s, enum step next)
{
	int rc;

	if (journal.open || !jobrule_begin_may_wait(next))
		return job_journal_open(s);
	if ((rc = store_begin_lazy(station_store(s))) != 0)
		return rc;
	journal.open = 1;
	journal.n = 0;
	return 0;
}

void
job_journal_rollback(struct station *s)
{
	if (!journal.open)
		return;
	store_rollback(station_store(s));
	journal.open = 0;
	journal.left = 0;
	journal.n = 0;
}

/*
 * Test hook, inert unless the environment variable is set: with
 * UKEY_TEST_JOURNAL_OPEN_AT=<step>:<point> a journal that holds that point
 * is not committed, as if the step had returned without it, until the
 * event loop's guard (main.c, job_journal_commit_guard) commits it before
 * it waits (docs/testing-faults.md).
 */
static int
journal_left_open(void)
{
	const char *want = getenv("UKEY_TEST_JOURNAL_OPEN_AT");
	char at[40];
	size_t i;

	if (journal.left)
		return 1;	/* until the loop's guard commits it */
	for (i = 0; want != NULL && *want != '\0' && i < journal.n; i++) {
		snprintf(at, sizeof(at), "%s:%s", job_step_names[journal.p[i].st],
		    journal.p[i].phase);
		if (strcmp(want, at) == 0) {
			log_warn("test hook UKEY_TEST_JOURNAL_OPEN_AT=%s reached: the journal is left"
			    " open", want);
			journal.left = 1;
			return 1;
		}
	}
	return 0;
}

static int
journal_commit(struct station *s, int guard)
{
	struct journal_point p[JOURNAL_POINTS];
	size_t i, n;
	int rc;

	if (!journal.open || (!guard && journal_left_open()))
		return 0;
	n = journal.n;
	memcpy(p, journal.p, sizeof(p));
	if ((rc = store_commit(station_store(s))) != 0) {
		log_error("committing the job's journal: %s", ukey_strerror(rc));
		job_journal_rollback(s);
		return rc;
	}
	journal.open = 0;
	journal.left = 0;
	journal.n = 0;
	for (i = 0; i < n; i++)
		job_test_crash_point(job_step_names[p[i].st], p[i].phase);
	return 0;
}

int
job_journal_commit(struct station *s)
{
	return journal_commit(s, 0);
}

int
job_journal_commit_guard(struct station *s)
{
	return journal_commit(s, 1);
}

void
job_journal_point(enum step st, const char *phase)
{
	if (!journal.open || journal.n == JOURNAL_POINTS)
		return;
	journal.p[journal.n].st = st;
	snprintf(journal.p[journal.n].phase, sizeof(journal.p[journal.n].phase), "%s", phase);
	journal.n++;
}

int
job_journal_mark(struct station *s, int64_t job_id, enum step st, const char *phase,
    const char *detail)
{
	int rc;

	if ((rc = job_journal_open(s)) != 0)
		return rc;
	if ((rc = job_step_mark_in(s, job_id, st, phase, detail)) != 0) {
		job_journal_rollback(s);
		return rc;
	}
	job_journal_point(st, phase);
	return 0;
}

int
job_step_mark(struct station *s, int64_t job_id, enum step st, const char *phase, const char *detail)
{
	int rc;

	if ((rc = job_journal_mark(s, job_id, st, phase, detail)) != 0)
		return rc;
	return job_journal_commit(s);
}
