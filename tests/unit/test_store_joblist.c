/* The job list (store_jobs_list) against a real SQLite database: every job
 * or those in one state, by id, with the columns `ukeyctl jobs` shows and
 * NULL columns left NULL, and its pages by id. */
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
#include "store/store.h"
#include "store_fixture.h"
#include "store/store_jobs.h"
#include "store/store_orders.h"
#include "store/store_units.h"

#define USCC "91530100MA6K5U5X7R"
#define NOW "2026-03-02T10:00:00Z"
#define LATER "2026-03-02T10:05:00Z"

struct fixture {
	char dir[64];
	struct store *st;
	int64_t unit[2];
};

static const uint8_t subject_der[] = { 0x30, 0x03, 0x31, 0x01, 0x00 };

/* A paid order of two units, queued. */
static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const struct store_fixture_order o = {
		.portal_ref = "P-L1", .uscc = USCC, .kind = "organisation", .name = "某某科技",
		.cert_profile = "organisation", .years = 1, .count = 2,
	};
	int64_t order_id = 0;

	assert_non_null(f);
	f->st = store_fixture_open(f->dir, sizeof(f->dir), "storejoblist");
	store_fixture_paid_order(f->st, &o, NOW, &order_id, f->unit, 2);
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

static int64_t
start_job(struct fixture *f, int64_t unit_id, const char *bay, const char *serial)
{
	const struct store_job_new j = {
		.unit_id = unit_id, .bay = bay, .profile = "softhsm", .token_serial = serial,
		.key_alg = "rsa2048", .label = "ORG-P-L1", .operator_name = "operator1",
		.subject = subject_der, .subject_len = sizeof(subject_der),
	};
	int64_t id = 0;

	assert_int_equal(store_job_insert(f->st, &j, NOW, &id), 0);
	assert_int_equal(store_unit_claim(f->st, unit_id, id, NOW), 0);
	return id;
}

static void
test_list(void **state)
{
	struct fixture *f = *state;
	struct store_job_summary *a = NULL;
	size_t n = 5;
	int64_t one, two;

	assert_int_equal(store_jobs_list(f->st, NULL, 0, INT64_MAX, &a, &n), 0);
	assert_null(a);
	assert_int_equal(n, 0);
	store_job_summaries_free(NULL, 0);

	one = start_job(f, f->unit[0], "bay1", NULL);
	two = start_job(f, f->unit[1], "bay2", "A1B2");
	assert_int_equal(store_job_suspend(f->st, two, "token removed", LATER), 0);
	assert_int_equal(store_job_resume(f->st, two, "bay3", LATER), 0);
	assert_int_equal(store_job_end(f->st, one, "failed", "generate_key: CKR_DEVICE_ERROR",
	    LATER), 0);

	/* every job, by id */
	assert_int_equal(store_jobs_list(f->st, NULL, 0, INT64_MAX, &a, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(a[0].id, one);
	assert_int_equal(a[0].unit_id, f->unit[0]);
	assert_string_equal(a[0].bay, "bay1");
	assert_string_equal(a[0].profile, "softhsm");
	assert_null(a[0].token_serial);
	assert_string_equal(a[0].step, "claimed");
	assert_string_equal(a[0].state, "failed");
	assert_string_equal(a[0].key_alg, "rsa2048");
	assert_null(a[0].cert_serial);
	assert_string_equal(a[0].error, "generate_key: CKR_DEVICE_ERROR");
	assert_string_equal(a[0].operator_name, "operator1");
	assert_int_equal(a[0].resumed, 0);
	assert_string_equal(a[0].started_at, NOW);
	assert_string_equal(a[0].finished_at, LATER);
	assert_int_equal(a[1].id, two);
	assert_string_equal(a[1].bay, "bay3");
	assert_string_equal(a[1].token_serial, "A1B2");
	assert_string_equal(a[1].state, "running");
	assert_int_equal(a[1].resumed, 1);
	assert_null(a[1].error);
	assert_null(a[1].finished_at);
	store_job_summaries_free(a, n);

	/* one state */
	assert_int_equal(store_jobs_list(f->st, "running", 0, INT64_MAX, &a, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(a[0].id, two);
	store_job_summaries_free(a, n);
	assert_int_equal(store_jobs_list(f->st, "issued", 0, INT64_MAX, &a, &n), 0);
	assert_null(a);
	assert_int_equal(n, 0);
}

/* Five paid units; jobs on all of them, the second and fourth failed. */
static int
setup_five(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const struct store_fixture_order o = {
		.portal_ref = "P-L5", .uscc = USCC, .kind = "organisation", .name = "某某科技",
		.cert_profile = "organisation", .years = 1, .count = 5,
	};
	int64_t order_id = 0, unit[5];

	assert_non_null(f);
	f->st = store_fixture_open(f->dir, sizeof(f->dir), "storejobpages");
	store_fixture_paid_order(f->st, &o, NOW, &order_id, unit, 5);
	for (int i = 0; i < 5; i++) {
		int64_t id = start_job(f, unit[i], "bay1", NULL);

		if (i % 2 == 1)
			assert_int_equal(store_job_end(f->st, id, "failed", "pulled", LATER), 0);
	}
	*state = f;
	return 0;
}

/* The ids of one page, after `after`, at most `limit`; -1 ends the list. */
static void
expect_page(struct fixture *f, const char *state, int64_t after, int64_t limit,
    const int64_t *want)
{
	struct store_job_summary *a = NULL;
	size_t n = 0, i;

	assert_int_equal(store_jobs_list(f->st, state, after, limit, &a, &n), 0);
	for (i = 0; want[i] >= 0; i++) {
		assert_true(i < n);
		assert_int_equal(a[i].id, want[i]);
	}
	assert_int_equal(n, i);
	store_job_summaries_free(a, n);
}

/* Pages go on from the last id given, in id order, with and without a
 * state; a bad page is refused. */
static void
test_pages(void **state)
{
	struct fixture *f = *state;
	struct store_job_summary *a = NULL;
	size_t n = 0;

	expect_page(f, NULL, 0, 2, (const int64_t[]){ 1, 2, -1 });
	expect_page(f, NULL, 2, 2, (const int64_t[]){ 3, 4, -1 });
	expect_page(f, NULL, 4, 2, (const int64_t[]){ 5, -1 });
	expect_page(f, NULL, 5, 2, (const int64_t[]){ -1 });
	expect_page(f, NULL, 0, INT64_MAX, (const int64_t[]){ 1, 2, 3, 4, 5, -1 });
	expect_page(f, "failed", 0, 1, (const int64_t[]){ 2, -1 });
	expect_page(f, "failed", 2, 1, (const int64_t[]){ 4, -1 });
	expect_page(f, "failed", 4, 1, (const int64_t[]){ -1 });
	expect_page(f, "running", 1, 2, (const int64_t[]){ 3, 5, -1 });
	assert_int_equal(store_jobs_list(f->st, NULL, 0, 0, &a, &n), UKEY_ERR_INVAL);
	assert_int_equal(store_jobs_list(f->st, NULL, -1, 1, &a, &n), UKEY_ERR_INVAL);
	assert_null(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pages, setup_five, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
