/* The issuance job's rules (src/station/jobrule.c) without a station: the
 * step names, where a suspended job resumes after each journal entry, whose
 * fault a worker's or the CA's error is, a failure's kind, and what a
 * failure of each blame does to its unit (returned, left, requeued, held). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "station/jobrule.h"

static void
test_step_names(void **state)
{
	(void)state;
	assert_string_equal(job_step_names[STEP_CLAIMED], "claimed");
	assert_string_equal(job_step_names[STEP_INIT_TOKEN], "init_token");
	assert_string_equal(job_step_names[STEP_CA_SUBMIT], "ca_submit");
	assert_string_equal(job_step_names[STEP_RECORD], "record");
	assert_string_equal(job_step_names[STEP_ISSUED], "issued");
	assert_string_equal(jobrule_blame_name(JOB_INTERRUPTED), "interrupted");
	assert_string_equal(jobrule_blame_name(JOB_TOKEN), "token");
	assert_string_equal(jobrule_blame_name(JOB_UNIT), "unit");
	assert_string_equal(jobrule_blame_name(JOB_OTHER), "other");
}

/* docs/jobs.md, "The token leaves: the job is suspended": the table. */
static void
test_resume_step(void **state)
{
	static const struct {
		const char *step, *phase;
		enum step want;
	} cases[] = {
		{ NULL, NULL, STEP_INIT_TOKEN },		/* claimed, no step begun */
		{ "init_token", "begin", STEP_INIT_TOKEN },
		{ "init_token", "done", STEP_GENERATE_KEY },
		{ "generate_key", "begin", STEP_GENERATE_KEY },
		{ "generate_key", "done", STEP_MAKE_CSR },
		{ "make_csr", "begin", STEP_MAKE_CSR },
		{ "make_csr", "done", STEP_CA_SUBMIT },
		{ "ca_submit", "begin", STEP_CA_SUBMIT },
		{ "ca_submit", "failed", STEP_CA_SUBMIT },	/* the CA was down */
		{ "ca_submit", "done", STEP_CERT_CHECK },
		{ "cert_check", "begin", STEP_CERT_CHECK },
		{ "cert_check", "done", STEP_WRITE_CERT },
		{ "write_cert", "begin", STEP_WRITE_CERT },
		{ "write_cert", "done", STEP_READ_BACK },
		{ "read_back", "begin", STEP_READ_BACK },
		/* what is recorded is read from the token again first */
		{ "read_back", "done", STEP_READ_BACK },
		{ "record", "begin", STEP_READ_BACK },
		{ "no_such_step", "begin", STEP_INIT_TOKEN },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum step got = jobrule_resume_step(cases[i].step, cases[i].phase);

		if (got != cases[i].want)
			fail_msg("%s:%s resumes at %s, not %s", cases[i].step ? cases[i].step : "-",
			    cases[i].phase ? cases[i].phase : "-", job_step_names[got],
			    job_step_names[cases[i].want]);
	}
}

/* A step's done and the next step's begin share one commit (docs/jobs.md,
 * "One commit per step boundary"): resuming from either mark must be the
 * same, for an issuance and a renewal. */
static void
test_merged_boundaries(void **state)
{
	static const char *const pairs[][2] = {
		{ "init_token", "generate_key" }, { "generate_key", "make_csr" },
		{ "make_csr", "ca_submit" }, { "ca_submit", "cert_check" },
		{ "cert_check", "write_cert" }, { "write_cert", "read_back" },
		{ "read_back", "record" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		if (jobrule_resume_step(pairs[i][0], "done") !=
		    jobrule_resume_step(pairs[i][1], "begin"))
			fail_msg("%s done and %s begun resume apart", pairs[i][0], pairs[i][1]);
		if (i > 0 && jobrule_renew_resume_step(pairs[i][0], "done") !=
		    jobrule_renew_resume_step(pairs[i][1], "begin"))
			fail_msg("renewal: %s done and %s begun resume apart", pairs[i][0],
			    pairs[i][1]);
	}
}

/* Only the begin of a step that changes nothing on the token may wait for
 * the next flush; losing it resumes at the step before, which redoes it. */
static void
test_begin_may_wait(void **state)
{
	int i, n = 0;

	(void)state;
	for (i = STEP_CLAIMED; i <= STEP_DISCARD_OLD; i++)
		n += jobrule_begin_may_wait((enum step)i);
	assert_int_equal(n, 2);
	assert_true(jobrule_begin_may_wait(STEP_MAKE_CSR));
	assert_true(jobrule_begin_may_wait(STEP_READ_BACK));
	assert_int_equal(jobrule_resume_step("generate_key", "begin"), STEP_GENERATE_KEY);
	assert_int_equal(jobrule_resume_step("write_cert", "begin"), STEP_WRITE_CERT);
}

static void
test_worker_blame(void **state)
{
	(void)state;
	/* the unit's label or subject fails the same way on any token */
	assert_int_equal(jobrule_worker_blame(UKEY_ERR_INVAL, "label: 40 bytes, at most 32"),
	    JOB_UNIT);
	assert_int_equal(jobrule_worker_blame(UKEY_ERR_INVAL, "subject.CN: too long"), JOB_UNIT);
	/* any other refusal is the token's */
	assert_int_equal(jobrule_worker_blame(UKEY_ERR_INVAL, "user_pin: too short"), JOB_TOKEN);
	assert_int_equal(jobrule_worker_blame(UKEY_ERR_INVAL, NULL), JOB_TOKEN);
	assert_int_equal(jobrule_worker_blame(UKEY_ERR_P11, "C_GenerateKeyPair: CKR_DEVICE_ERROR"),
	    JOB_TOKEN);
	assert_int_equal(jobrule_worker_blame(UKEY_ERR_NOTBLANK, NULL), JOB_TOKEN);
	assert_int_equal(jobrule_worker_blame(UKEY_ERR_VERIFY, "label"), JOB_TOKEN);
	/* the worker's host or the station itself */
	assert_int_equal(jobrule_worker_blame(UKEY_ERR_NOMEM, NULL), JOB_OTHER);
	assert_int_equal(jobrule_worker_blame(UKEY_ERR_PROTO, "label"), JOB_OTHER);
}

static void
test_ca_blame(void **state)
{
	static const int unit[] = { UKEY_ERR_INVAL, UKEY_ERR_VERIFY, UKEY_ERR_CA,
		UKEY_ERR_UNSUPPORTED, UKEY_ERR_PERM };
	static const int other[] = { UKEY_ERR_UNAVAIL, UKEY_ERR_DB, UKEY_ERR_NOTFOUND,
		UKEY_ERR_NOMEM, UKEY_ERR_CRYPTO };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(unit) / sizeof(unit[0]); i++)
		assert_int_equal(jobrule_ca_blame(unit[i]), JOB_UNIT);
	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		assert_int_equal(jobrule_ca_blame(other[i]), JOB_OTHER);
}

static void
test_failure_kind(void **state)
{
	char kind[64], want[64];

	(void)state;
	jobrule_failure_kind("make_csr", 0, kind, sizeof(kind));
	assert_string_equal(kind, "make_csr:failed");
	jobrule_failure_kind("ca_submit", UKEY_ERR_CA, kind, sizeof(kind));
	snprintf(want, sizeof(want), "ca_submit:%s", ukey_errname(UKEY_ERR_CA));
	assert_string_equal(kind, want);
}

static void
test_fate_not_counted(void **state)
{
	char reason[256];
	int64_t count = -1;

	(void)state;
	/* the token's fault or nobody's: back where it stood, no failure */
	assert_int_equal(jobrule_unit_fate(JOB_TOKEN, "in_production", 1, "k", "k", "why",
	    &count, reason, sizeof(reason)), UNIT_RETURN);
	assert_int_equal(count, 1);
	assert_int_equal(jobrule_unit_fate(JOB_INTERRUPTED, "in_production", 2, NULL, "k",
	    "why", &count, reason, sizeof(reason)), UNIT_RETURN);
	assert_int_equal(count, 2);
	/* a unit released, cancelled or ended meanwhile is left alone */
	assert_int_equal(jobrule_unit_fate(JOB_UNIT, "cancelled", 0, NULL, "k", "why", &count,
	    reason, sizeof(reason)), UNIT_LEAVE);
	assert_int_equal(jobrule_unit_fate(JOB_OTHER, "queued", 0, NULL, "k", "why", &count,
	    reason, sizeof(reason)), UNIT_LEAVE);
	assert_int_equal(count, 0);
}

static void
test_fate_counted(void **state)
{
	char reason[256];
	int64_t count = -1;

	(void)state;
	/* a first counted failure: to the tail of the queue, with the job's reason */
	assert_int_equal(jobrule_unit_fate(JOB_UNIT, "in_production", 0, NULL, "ca_submit:X",
	    "the CA refused", &count, reason, sizeof(reason)), UNIT_REQUEUE);
	assert_int_equal(count, 1);
	assert_string_equal(reason, "the CA refused");
	/* the unit's own failure twice the same way: held */
	assert_int_equal(jobrule_unit_fate(JOB_UNIT, "in_production", 1, "ca_submit:X",
	    "ca_submit:X", "the CA refused", &count, reason, sizeof(reason)), UNIT_HOLD);
	assert_int_equal(count, 2);
	assert_string_equal(reason, "failed the same way twice (ca_submit:X): the CA refused");
	/* twice, but differently: requeued */
	assert_int_equal(jobrule_unit_fate(JOB_UNIT, "in_production", 1, "make_csr:Y",
	    "ca_submit:X", "the CA refused", &count, reason, sizeof(reason)), UNIT_REQUEUE);
	assert_int_equal(count, 2);
	/* the same kind twice is no rule for a passing failure */
	assert_int_equal(jobrule_unit_fate(JOB_OTHER, "in_production", 1, "record:DB",
	    "record:DB", "database busy", &count, reason, sizeof(reason)), UNIT_REQUEUE);
	assert_int_equal(count, 2);
	/* the UNIT_MAX_FAILURES-th failure of any kind: held */
	assert_int_equal(jobrule_unit_fate(JOB_OTHER, "in_production", UNIT_MAX_FAILURES - 1,
	    "record:DB", "record:DB", "database busy", &count, reason, sizeof(reason)),
	    UNIT_HOLD);
	assert_int_equal(count, UNIT_MAX_FAILURES);
	assert_string_equal(reason, "failed 3 times; the last (record:DB): database busy");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_step_names),
		cmocka_unit_test(test_resume_step),
		cmocka_unit_test(test_merged_boundaries),
		cmocka_unit_test(test_begin_may_wait),
		cmocka_unit_test(test_worker_blame),
		cmocka_unit_test(test_ca_blame),
		cmocka_unit_test(test_failure_kind),
		cmocka_unit_test(test_fate_not_counted),
		cmocka_unit_test(test_fate_counted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
