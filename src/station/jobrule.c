/* The issuance job's rules: step order, resumption, blame and the unit's
 * fate after a failure (jobrule.h). Pure: linked into the library so that
 * the unit tests can check them. */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "station/jobrule.h"

const char *const job_step_names[] = {
	"claimed", "init_token", "generate_key", "make_csr", "ca_submit", "cert_check",
	"write_cert", "read_back", "record", "issued", "identify", "login", "discard_old"
};

static const char *const blame_names[] = {
	[JOB_INTERRUPTED] = "interrupted", [JOB_TOKEN] = "token", [JOB_UNIT] = "unit",
	[JOB_OTHER] = "other",
};

const char *
jobrule_blame_name(enum job_blame blame)
{
	return blame_names[blame];
}

enum step
jobrule_resume_step(const char *last_step, const char *last_phase)
{
	enum step st = STEP_INIT_TOKEN;
	int i;

	if (last_step == NULL)
		return STEP_INIT_TOKEN;
	for (i = STEP_INIT_TOKEN; i <= STEP_RECORD; i++)
		if (strcmp(last_step, job_step_names[i]) == 0)
			st = (enum step)i;
	if (last_phase != NULL && strcmp(last_phase, "done") == 0)
		st = st < STEP_RECORD ? st + 1 : STEP_RECORD;
	if (st == STEP_RECORD)
		st = STEP_READ_BACK;
	return st;
}

enum step
jobrule_renew_resume_step(const char *last_step, const char *last_phase)
{
	int done = last_phase != NULL && strcmp(last_phase, "done") == 0;

	if (last_step == NULL || strcmp(last_step, "claimed") == 0)
		return STEP_IDENTIFY;
	if (strcmp(last_step, "identify") == 0)
		return done ? STEP_LOGIN : STEP_IDENTIFY;
	if (strcmp(last_step, "login") == 0)
		return done ? STEP_GENERATE_KEY : STEP_LOGIN;
	if (strcmp(last_step, "discard_old") == 0 || (strcmp(last_step, "record") == 0 && done))
		return STEP_DISCARD_OLD;
	/* generate_key .. record begun: the issuance's rules */
	return jobrule_resume_step(last_step, last_phase);
}

int
jobrule_begin_may_wait(enum step st)
{
	return st == STEP_MAKE_CSR || st == STEP_READ_BACK;
}

int
jobrule_renew_needs_login(enum step st)
{
	return st != STEP_IDENTIFY && st != STEP_CA_SUBMIT && st != STEP_CERT_CHECK;
}

enum job_blame
jobrule_worker_blame(int rc, const char *msg)
{
	if (rc == UKEY_ERR_INVAL && msg != NULL &&
	    (strncmp(msg, "label", 5) == 0 || strncmp(msg, "subject", 7) == 0))
		return JOB_UNIT;
	if (rc == UKEY_ERR_NOMEM || rc == UKEY_ERR_PROTO)
		return JOB_OTHER;	/* the worker's host or the station itself */
	return JOB_TOKEN;
}

enum job_blame
jobrule_ca_blame(int rc)
{
	switch (rc) {
	case UKEY_ERR_INVAL:
	case UKEY_ERR_VERIFY:
	case UKEY_ERR_CA:
	case UKEY_ERR_UNSUPPORTED:
	case UKEY_ERR_PERM:
		return JOB_UNIT;
	default:
		return JOB_OTHER;
	}
}

void
jobrule_failure_kind(const char *step, int err, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%s", step, err ? ukey_errname(err) : "failed");
}

enum unit_fate
jobrule_unit_fate(enum job_blame blame, const char *unit_state, int64_t failures,
    const char *prev_kind, const char *kind, const char *why, int64_t *count, char *reason,
    size_t len)
{
	int same;

	*count = failures;
	snprintf(reason, len, "%s", why);
	if (blame == JOB_INTERRUPTED || blame == JOB_TOKEN)
		return UNIT_RETURN;
	if (strcmp(unit_state, "in_production") != 0)
		return UNIT_LEAVE;	/* released, cancelled or ended meanwhile */
	*count = failures + 1;
	same = blame == JOB_UNIT && prev_kind != NULL && strcmp(prev_kind, kind) == 0;
	if (same) {
		snprintf(reason, len, "failed the same way twice (%s): %s", kind, why);
		return UNIT_HOLD;
	}
	if (*count >= UNIT_MAX_FAILURES) {
		snprintf(reason, len, "failed %lld times; the last (%s): %s", (long long)*count,
		    kind, why);
		return UNIT_HOLD;
	}
	return UNIT_REQUEUE;
}
