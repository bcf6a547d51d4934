/* The issuance job's state machine against a real SQLite database: a job
 * claimed, its steps journalled, suspended and resumed, then issued or
 * failed, with what the store holds after each transition and where the
 * job would resume (jobrule_resume_step over store_job_last_step); and the
 * blame rules: what a failure of each blame leaves the unit as
 * (jobrule_unit_fate driving store_unit_return / requeue / hold_failed, as
 * job.c does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "station/jobrule.h"
#include "store/store.h"
#include "store_fixture.h"
#include "store/store_jobs.h"
#include "store/store_orders.h"
#include "store/store_units.h"

#define USCC "91530100MA6K5U5X7R"
#define NOW "2026-03-02T10:00:00Z"
#define DEVICE "device: /dev/bus/usb/001/004"

struct fixture {
	char dir[64];
	struct store *st;
	int64_t order_id, unit[2];
};

static const uint8_t sealed_doc[] = { 0x00, 0x01, 0xfe, 0xff, 0x42 };
static const uint8_t subject_der[] = { 0x30, 0x03, 0x31, 0x01, 0x00 };
static const uint8_t so_enc[] = { 0x5a, 0x01, 0x02, 0x03 };
static const uint8_t user_enc[] = { 0xa5, 0x04, 0x05 };
static const uint8_t pub_der[] = { 0x30, 0x59, 0x01 };
static const uint8_t csr_der[] = { 0x30, 0x82, 0x02 };
static const uint8_t cert_der[] = { 0x30, 0x82, 0x01, 0x00, 0x99 };

/* A paid order of two legal_rep units of 2 years, queued; f->unit its units. */
static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const struct store_fixture_order o = {
		.portal_ref = "P-JS1", .uscc = USCC, .kind = "legal_rep", .name = "张三",
		.cert_profile = "legal-rep", .years = 2, .count = 2,
	};

	assert_non_null(f);
	f->st = store_fixture_open(f->dir, sizeof(f->dir), "jobstore");
	store_fixture_paid_order(f->st, &o, "2026-03-01T09:00:00Z", &f->order_id, f->unit, 2);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_fixture_close(f->st, f->dir);
	free(f);
	return 0;
}

/* The unit's state, failures and failure kind, checked in one call. */
static void
assert_unit(struct fixture *f, int64_t unit_id, const char *state, int64_t failures,
    const char *kind)
{
	struct store_unit u = { 0 };

	assert_int_equal(store_unit_load(f->st, unit_id, &u), 0);
	assert_string_equal(u.state, state);
	assert_int_equal(u.failures, failures);
	if (kind == NULL)
		assert_null(u.failure_kind);
	else
		assert_string_equal(u.failure_kind, kind);
	store_unit_clear(&u);
}

/* Claims unit_id for a new job in one transaction, as job.c starts one. */
static int64_t
claim(struct fixture *f, int64_t unit_id)
{
	const struct store_job_new j = {
		.unit_id = unit_id, .bay = "bay1", .profile = "softhsm", .token_serial = NULL,
		.key_alg = "sm2", .label = "ORG-P-JS1", .operator_name = "operator1",
		.subject = subject_der, .subject_len = sizeof(subject_der),
	};
	int64_t id = 0;

	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_job_insert(f->st, &j, NOW, &id), 0);
	assert_int_equal(store_job_set_pins(f->st, id, so_enc, sizeof(so_enc), user_enc,
	    sizeof(user_enc)), 0);
	assert_int_equal(store_unit_claim(f->st, unit_id, id, NOW), 0);
	assert_int_equal(store_commit(f->st), 0);
	return id;
}

/* Where the job would resume now, from its journal in the store. */
static enum step
resumes_at(struct fixture *f, int64_t id)
{
	struct store_job_step last = { 0 };
	enum step st;

	if (store_job_last_step(f->st, id, &last) == UKEY_ERR_NOTFOUND)
		return jobrule_resume_step(NULL, NULL);
	st = jobrule_resume_step(last.step, last.phase);
	store_job_step_clear(&last);
	return st;
}

static void
mark(struct fixture *f, int64_t id, enum step st, const char *phase, const char *detail)
{
	assert_int_equal(store_job_step_mark(f->st, id, job_step_names[st], phase, detail, NOW), 0);
}

/* Ends job id failed with blame, in one transaction as job_end_not_issued()
 * does: the job's end, then the unit's fate by the rules. */
static enum unit_fate
fail_job(struct fixture *f, int64_t id, enum job_blame blame, int err, const char *why)
{
	struct store_job j = { 0 };
	struct store_unit u = { 0 };
	enum unit_fate fate;
	char kind[64], reason[700];
	int64_t count = 0;

	assert_int_equal(store_job_load(f->st, id, &j), 0);
	jobrule_failure_kind(j.step, err, kind, sizeof(kind));
	assert_int_equal(store_unit_load(f->st, j.unit_id, &u), 0);
	fate = jobrule_unit_fate(blame, u.state, u.failures, u.failure_kind, kind, why, &count,
	    reason, sizeof(reason));
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_job_end(f->st, id, "failed", why, NOW), 0);
	if (fate == UNIT_RETURN)
		assert_int_equal(store_unit_return(f->st, j.unit_id, NOW), 0);
	else if (fate == UNIT_REQUEUE)
		assert_int_equal(store_unit_requeue(f->st, j.unit_id, count, kind, why, NOW), 0);
	else if (fate == UNIT_HOLD)
		assert_int_equal(store_unit_hold_failed(f->st, j.unit_id, count, kind, why, reason,
		    NOW), 0);
	assert_int_equal(store_commit(f->st), 0);
	store_unit_clear(&u);
	store_job_clear(&j);
	return fate;
}

/* claimed -> every step begun and done -> issued. */
/* The CA transaction of a job (job_ca_txns): stored before sending (no
 * nonce), then waiting (the CA's nonce), polled, cleared; the job list
 * shows the wait only once the CA answered "waiting". */
static void
test_ca_txn(void **state)
{
	struct fixture *f = *state;
	struct store_ca_txn t = { .tid = { 1, 2, 3, 4 }, .tid_len = 4 }, got;
	struct store_job_summary *list = NULL;
	size_t n = 0;
	int64_t id = claim(f, f->unit[0]);

	assert_int_equal(store_job_ca_txn_get(f->st, id, &got), UKEY_ERR_NOTFOUND);
	assert_int_equal(store_job_ca_txn_set(f->st, id, &t, "2026-03-01T10:00:00Z"), 0);
	assert_int_equal(store_job_ca_txn_get(f->st, id, &got), 0);
	assert_int_equal(got.tid_len, 4);
	assert_memory_equal(got.tid, t.tid, 4);
	assert_int_equal(got.nonce_len, 0);
	assert_int_equal(store_jobs_list(f->st, NULL, 0, INT64_MAX, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_null(list[0].ca_waiting_since);
	store_job_summaries_free(list, n);
	/* the CA holds it: its nonce and checkAfter; the wait begins now */
	t.nonce[0] = 9;
	t.nonce_len = 1;
	t.check_after = 10;
	assert_int_equal(store_job_ca_txn_set(f->st, id, &t, "2026-03-01T10:00:05Z"), 0);
	assert_int_equal(store_job_ca_txn_set(f->st, id, &t, "2026-03-01T10:00:15Z"), 0);
	assert_int_equal(store_job_ca_txn_get(f->st, id, &got), 0);
	assert_int_equal(got.nonce_len, 1);
	assert_int_equal(got.check_after, 10);
	assert_int_equal(got.polls, 2);
	assert_string_equal(got.waiting_since, "2026-03-01T10:00:05Z");
	assert_int_equal(store_jobs_list(f->st, NULL, 0, INT64_MAX, &list, &n), 0);
	assert_string_equal(list[0].ca_waiting_since, "2026-03-01T10:00:05Z");
	store_job_summaries_free(list, n);
	/* refused: no transaction id, or one too long */
	t.tid_len = 0;
	assert_int_equal(store_job_ca_txn_set(f->st, id, &t, NOW), UKEY_ERR_INVAL);
	t.tid_len = STORE_CA_TXN_MAX + 1;
	assert_int_equal(store_job_ca_txn_set(f->st, id, &t, NOW), UKEY_ERR_INVAL);
	assert_int_equal(store_job_ca_txn_clear(f->st, id), 0);
	assert_int_equal(store_job_ca_txn_get(f->st, id, &got), UKEY_ERR_NOTFOUND);
}

static void
test_claim_to_issued(void **state)
{
	struct fixture *f = *state;
	const struct store_token_seen t = {
		.profile = "softhsm", .serial = "T1", .model = "SoftHSM v2",
		.manufacturer = "SoftHSM project", .label = "ORG-P-JS1", .so_pin_enc = so_enc,
		.so_pin_enc_len = sizeof(so_enc),
	};
	struct store_job j = { 0 };
	int64_t id, left = -1;

	id = claim(f, f->unit[0]);
	assert_unit(f, f->unit[0], "in_production", 0, NULL);
	assert_int_equal(store_job_load(f->st, id, &j), 0);
	assert_string_equal(j.state, "running");
	assert_string_equal(j.step, "claimed");
	assert_int_equal(j.user_pin_enc_len, sizeof(user_enc));
	assert_memory_equal(j.user_pin_enc, user_enc, sizeof(user_enc));
	assert_int_equal(j.so_pin_enc_len, sizeof(so_enc));
	/* the unit's item and order come with the job */
	assert_int_equal(j.src.order_id, f->order_id);
	assert_int_equal(j.src.years, 2);
	assert_string_equal(j.src.kind, "legal_rep");
	assert_string_equal(j.src.item_name, "张三");
	assert_string_equal(j.src.cert_profile, "legal-rep");
	assert_string_equal(j.src.portal_ref, "P-JS1");
	assert_string_equal(j.src.account_uscc, USCC);
	assert_int_equal(j.src.doc_sealed_len, sizeof(sealed_doc));
	assert_memory_equal(j.src.doc_sealed, sealed_doc, sizeof(sealed_doc));
	assert_null(j.public_key);
	assert_null(j.cert);
	store_job_clear(&j);
	assert_int_equal(resumes_at(f, id), STEP_INIT_TOKEN);

	/* init_token: the token's row takes the SO PIN from the job */
	mark(f, id, STEP_INIT_TOKEN, "begin", DEVICE);
	assert_int_equal(resumes_at(f, id), STEP_INIT_TOKEN);
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_token_upsert(f->st, &t, NOW), 0);
	assert_int_equal(store_job_set_token(f->st, id, "softhsm", "T1"), 0);
	assert_int_equal(store_commit(f->st), 0);
	mark(f, id, STEP_INIT_TOKEN, "done", "T1");
	assert_int_equal(resumes_at(f, id), STEP_GENERATE_KEY);

	mark(f, id, STEP_GENERATE_KEY, "begin", NULL);
	assert_int_equal(store_job_set_key_id(f->st, id, "0a0b"), 0);
	assert_int_equal(store_job_set_public_key(f->st, id, pub_der, sizeof(pub_der),
	    "{\"local\":true}"), 0);
	mark(f, id, STEP_GENERATE_KEY, "done", NULL);
	mark(f, id, STEP_MAKE_CSR, "begin", NULL);
	assert_int_equal(store_job_set_csr(f->st, id, csr_der, sizeof(csr_der)), 0);
	mark(f, id, STEP_MAKE_CSR, "done", NULL);
	assert_int_equal(resumes_at(f, id), STEP_CA_SUBMIT);

	/* the CA was down once: ca_submit is tried again */
	mark(f, id, STEP_CA_SUBMIT, "begin", NULL);
	mark(f, id, STEP_CA_SUBMIT, "failed", "CA unavailable (attempt 1); next try in 2 s");
	assert_int_equal(resumes_at(f, id), STEP_CA_SUBMIT);
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_received_cert_add(f->st, "0A1B", id, f->unit[0], cert_der,
	    sizeof(cert_der), NOW), 0);
	assert_int_equal(store_job_set_cert(f->st, id, cert_der, sizeof(cert_der), "0A1B",
	    "rk"), 0);
	assert_int_equal(store_commit(f->st), 0);
	mark(f, id, STEP_CA_SUBMIT, "done", "0A1B");
	assert_int_equal(resumes_at(f, id), STEP_CERT_CHECK);

	assert_int_equal(store_job_load(f->st, id, &j), 0);
	assert_string_equal(j.step, "ca_submit");
	assert_string_equal(j.token_serial, "T1");
	assert_true(j.token_id > 0);
	assert_null(j.so_pin_enc);		/* moved to the token row */
	assert_string_equal(j.key_id, "0a0b");
	assert_string_equal(j.evidence, "{\"local\":true}");
	assert_int_equal(j.public_key_len, sizeof(pub_der));
	assert_memory_equal(j.public_key, pub_der, sizeof(pub_der));
	assert_int_equal(j.csr_len, sizeof(csr_der));
	assert_memory_equal(j.csr, csr_der, sizeof(csr_der));
	assert_int_equal(j.cert_len, sizeof(cert_der));
	assert_memory_equal(j.cert, cert_der, sizeof(cert_der));
	assert_string_equal(j.cert_serial, "0A1B");
	assert_string_equal(j.request_key, "rk");
	store_job_clear(&j);

	mark(f, id, STEP_CERT_CHECK, "begin", NULL);
	mark(f, id, STEP_CERT_CHECK, "done", NULL);
	mark(f, id, STEP_WRITE_CERT, "begin", NULL);
	mark(f, id, STEP_WRITE_CERT, "done", NULL);
	assert_int_equal(resumes_at(f, id), STEP_READ_BACK);
	mark(f, id, STEP_READ_BACK, "begin", NULL);
	mark(f, id, STEP_READ_BACK, "done", NULL);
	assert_int_equal(resumes_at(f, id), STEP_READ_BACK);
	mark(f, id, STEP_RECORD, "begin", NULL);
	assert_int_equal(resumes_at(f, id), STEP_READ_BACK);

	/* record: the unit, the certificate and the job agree */
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_received_cert_issued(f->st, "0A1B", NOW), 0);
	assert_int_equal(store_unit_set_issued(f->st, f->unit[0], NOW), 0);
	assert_int_equal(store_job_issued(f->st, id, "2026-03-02T10:05:00Z"), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_job_load(f->st, id, &j), 0);
	assert_string_equal(j.state, "issued");
	assert_string_equal(j.step, "issued");
	assert_string_equal(j.finished_at, "2026-03-02T10:05:00Z");
	assert_null(j.user_pin_enc);
	assert_null(j.so_pin_enc);
	store_job_clear(&j);
	assert_unit(f, f->unit[0], "issued", 0, NULL);
	assert_int_equal(store_units_count(f->st, f->order_id, STORE_UNIT_WAITING, &left), 0);
	assert_int_equal(left, 1);
}

/* running -> suspended -> running again, twice; a job no longer running is
 * not suspended. */
static void
test_suspend_resume(void **state)
{
	struct fixture *f = *state;
	struct store_job_ref *refs = NULL;
	struct store_job j = { 0 };
	struct store_job_source src = { 0 };
	int64_t id, found = 0;
	size_t n = 0;
	int yes = -1;

	id = claim(f, f->unit[1]);
	mark(f, id, STEP_INIT_TOKEN, "begin", DEVICE);
	assert_int_equal(store_job_suspend(f->st, id, "token removed", NOW), 0);
	assert_int_equal(store_job_is_suspended(f->st, id, &yes), 0);
	assert_int_equal(yes, 1);
	assert_int_equal(store_job_load(f->st, id, &j), 0);
	assert_string_equal(j.state, "suspended");
	assert_string_equal(j.step, "init_token");
	assert_string_equal(j.error, "token removed");
	/* the PINs stay sealed in the job: it goes on later */
	assert_non_null(j.so_pin_enc);
	assert_non_null(j.user_pin_enc);
	store_job_clear(&j);
	assert_int_equal(store_jobs_running(f->st, NULL, &refs, &n), 0);
	assert_int_equal(n, 0);
	store_job_refs_free(refs, n);
	/* the unit stays in production: the job owns it until it ends */
	assert_unit(f, f->unit[1], "in_production", 0, NULL);
	assert_int_equal(store_job_suspended_blank(f->st, NULL, "softhsm", DEVICE, &found), 0);
	assert_int_equal(found, id);
	assert_int_equal(resumes_at(f, id), STEP_INIT_TOKEN);

	assert_int_equal(store_job_resume(f->st, id, "bay2", NOW), 0);
	assert_int_equal(store_job_load(f->st, id, &j), 0);
	assert_string_equal(j.state, "running");
	assert_string_equal(j.bay, "bay2");
	assert_int_equal(j.resumed, 1);
	assert_null(j.error);
	store_job_clear(&j);
	/* resuming a running job changes nothing */
	assert_int_equal(store_job_resume(f->st, id, "bay3", NOW), 0);

	mark(f, id, STEP_INIT_TOKEN, "done", "T2");
	mark(f, id, STEP_GENERATE_KEY, "begin", NULL);
	assert_int_equal(store_job_suspend(f->st, id, "station restarted during step"
	    " generate_key", NOW), 0);
	assert_int_equal(resumes_at(f, id), STEP_GENERATE_KEY);
	assert_int_equal(store_job_resume(f->st, id, "bay1", NOW), 0);
	assert_int_equal(store_job_load(f->st, id, &j), 0);
	assert_int_equal(j.resumed, 2);
	assert_string_equal(j.bay, "bay1");
	store_job_clear(&j);

	/* ended: suspending it is a no-op */
	assert_int_equal(fail_job(f, id, JOB_INTERRUPTED, 0, "abandoned"), UNIT_RETURN);
	assert_int_equal(store_job_suspend(f->st, id, "late", NOW), 0);
	assert_int_equal(store_job_load(f->st, id, &j), 0);
	assert_string_equal(j.state, "failed");
	assert_string_equal(j.error, "abandoned");
	store_job_clear(&j);
	assert_unit(f, f->unit[1], "queued", 0, NULL);

	/* the source of a unit's subject, without a job */
	assert_int_equal(store_job_unit_source(f->st, f->unit[1], &src), 0);
	assert_string_equal(src.kind, "legal_rep");
	assert_string_equal(src.cert_profile, "legal-rep");
	assert_int_equal(src.years, 2);
	assert_int_equal(src.doc_sealed_len, sizeof(sealed_doc));
	store_job_source_clear(&src);
	assert_int_equal(store_job_unit_source(f->st, f->unit[1] + 100, &src), UKEY_ERR_NOTFOUND);
	assert_null(src.kind);
}

/* The token's fault: the unit goes back untouched, however often. */
static void
test_token_blame_returns(void **state)
{
	struct fixture *f = *state;
	struct store_job j = { 0 };
	int64_t id;
	int i;

	for (i = 0; i < UNIT_MAX_FAILURES + 1; i++) {
		id = claim(f, f->unit[0]);
		mark(f, id, STEP_GENERATE_KEY, "begin", NULL);
		assert_int_equal(fail_job(f, id, JOB_TOKEN, UKEY_ERR_P11,
		    "generate_key: CKR_DEVICE_ERROR"), UNIT_RETURN);
		assert_unit(f, f->unit[0], "queued", 0, NULL);
	}
	assert_int_equal(store_job_load(f->st, id, &j), 0);
	assert_string_equal(j.state, "failed");
	assert_string_equal(j.error, "generate_key: CKR_DEVICE_ERROR");
	assert_null(j.so_pin_enc);
	assert_null(j.user_pin_enc);
	store_job_clear(&j);
}

/* The unit's own failure twice the same way holds it. */
static void
test_unit_blame_twice_holds(void **state)
{
	struct fixture *f = *state;
	struct store_unit u = { 0 };
	char kind[64];
	int64_t id;

	jobrule_failure_kind("ca_submit", UKEY_ERR_CA, kind, sizeof(kind));
	id = claim(f, f->unit[0]);
	mark(f, id, STEP_CA_SUBMIT, "begin", NULL);
	assert_int_equal(fail_job(f, id, JOB_UNIT, UKEY_ERR_CA, "the CA refused the request"),
	    UNIT_REQUEUE);
	assert_unit(f, f->unit[0], "queued", 1, kind);

	id = claim(f, f->unit[0]);
	mark(f, id, STEP_CA_SUBMIT, "begin", NULL);
	assert_int_equal(fail_job(f, id, JOB_UNIT, UKEY_ERR_CA, "the CA refused the request"),
	    UNIT_HOLD);
	assert_unit(f, f->unit[0], "held", 2, kind);
	assert_int_equal(store_unit_load(f->st, f->unit[0], &u), 0);
	assert_non_null(u.hold_reason);
	assert_non_null(strstr(u.hold_reason, "failed the same way twice"));
	store_unit_clear(&u);
	/* a held unit is not claimed */
	assert_int_equal(store_unit_claim(f->st, f->unit[0], id, NOW), 0);
	assert_unit(f, f->unit[0], "held", 2, kind);
}

/* Passing failures of different kinds: requeued, then held at the
 * UNIT_MAX_FAILURES-th; a token's failure in between counts nothing. */
static void
test_other_blame_max_holds(void **state)
{
	static const struct {
		const char *step;
		enum job_blame blame;
		int err;
		int64_t failures;
		const char *state;
	} seq[] = {
		{ "record", JOB_OTHER, UKEY_ERR_DB, 1, "queued" },
		{ "make_csr", JOB_UNIT, UKEY_ERR_VERIFY, 2, "queued" },
		{ "init_token", JOB_TOKEN, UKEY_ERR_P11, 2, "queued" },
		{ "cert_check", JOB_OTHER, UKEY_ERR_VERIFY, 3, "held" },
	};
	struct fixture *f = *state;
	struct store_unit u = { 0 };
	size_t i;
	int64_t id;

	for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		id = claim(f, f->unit[1]);
		assert_int_equal(store_job_step_mark(f->st, id, seq[i].step, "begin", NULL, NOW), 0);
		(void)fail_job(f, id, seq[i].blame, seq[i].err, "failed");
		assert_int_equal(store_unit_load(f->st, f->unit[1], &u), 0);
		assert_string_equal(u.state, seq[i].state);
		assert_int_equal(u.failures, seq[i].failures);
		store_unit_clear(&u);
	}
	assert_int_equal(store_unit_load(f->st, f->unit[1], &u), 0);
	assert_string_equal(u.hold_reason, "failed 3 times; the last (cert_check:verify): failed");
	store_unit_clear(&u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_claim_to_issued, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suspend_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_blame_returns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unit_blame_twice_holds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_blame_max_holds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ca_txn, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
