/* The typed store of jobs against a real SQLite database: a job's insert,
 * its journal of steps and load, suspension and the searches that find a
 * suspended job again, the tokens row (upsert, lookup, sealed SO PIN), the
 * received certificates and their status, and the issuance record. */
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
#define DEVICE "device:/dev/bus/usb/001/004"

struct fixture {
	char dir[64];
	struct store *st;
	int64_t order_id, unit_id;
};

static const uint8_t subject_der[] = { 0x30, 0x03, 0x31, 0x01, 0x00 };
static const uint8_t so_enc[] = { 0x5a, 0x01, 0x02, 0x03 };
static const uint8_t user_enc[] = { 0xa5, 0x04, 0x05 };
static const uint8_t cert_der[] = { 0x30, 0x82, 0x01, 0x00, 0x99 };

/* A paid order of two organisation units; f->unit_id its first unit. */
static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const struct store_fixture_order o = {
		.portal_ref = "P-J1", .uscc = USCC, .kind = "organisation", .name = "某某科技",
		.cert_profile = "organisation", .years = 1, .count = 2,
	};
	int64_t units[2];

	assert_non_null(f);
	f->st = store_fixture_open(f->dir, sizeof(f->dir), "storejobs");
	store_fixture_paid_order(f->st, &o, "2026-03-01T09:00:00Z", &f->order_id, units, 2);
	f->unit_id = units[0];
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

/* A blob as lower-case hex, as the tests name it (NULL stays NULL); one
 * buffer, overwritten by the next call. */
static const char *
hexcol(const uint8_t *p, size_t len)
{
	static char buf[128];
	size_t i;

	if (p == NULL)
		return NULL;
	assert_true(2 * len < sizeof(buf));
	for (i = 0; i < len; i++)
		snprintf(buf + 2 * i, 3, "%02x", p[i]);
	buf[2 * len] = '\0';
	return buf;
}

/* A running job on f's unit in one transaction, as a job starts; its id. */
static int64_t
start_job(struct fixture *f, const char *serial)
{
	const struct store_job_new j = {
		.unit_id = f->unit_id, .bay = "bay1", .profile = "softhsm", .token_serial = serial,
		.key_alg = "rsa2048", .label = "ORG-P-J1", .operator_name = "operator1",
		.subject = subject_der, .subject_len = sizeof(subject_der),
	};
	int64_t id = 0;

	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_job_insert(f->st, &j, NOW, &id), 0);
	assert_true(id > 0);
	assert_int_equal(store_job_set_pins(f->st, id, so_enc, sizeof(so_enc), user_enc,
	    sizeof(user_enc)), 0);
	assert_int_equal(store_unit_claim(f->st, f->unit_id, id, NOW), 0);
	assert_int_equal(store_commit(f->st), 0);
	return id;
}

static void
test_job_steps(void **state)
{
	struct fixture *f = *state;
	struct store_job_step last = { 0 };
	struct store_job_ref *refs = NULL;
	struct store_job j = { 0 };
	size_t n = 0;
	int64_t id, found = 0;
	int yes = -1;

	id = start_job(f, NULL);
	assert_int_equal(store_job_last_step(f->st, id, &last), UKEY_ERR_NOTFOUND);

	assert_int_equal(store_job_load(f->st, id, &j), 0);
	assert_string_equal(j.state, "running");
	assert_string_equal(j.step, "claimed");
	assert_string_equal(j.label, "ORG-P-J1");
	assert_string_equal(j.src.kind, "organisation");
	assert_string_equal(hexcol(j.so_pin_enc, j.so_pin_enc_len), "5a010203");
	assert_string_equal(hexcol(j.user_pin_enc, j.user_pin_enc_len), "a50405");
	assert_string_equal(hexcol(j.subject, j.subject_len), "3003310100");
	assert_null(j.token_serial);
	assert_int_equal(j.unit_id, f->unit_id);
	assert_int_equal(j.src.order_id, f->order_id);
	store_job_clear(&j);

	/* the journal: begin, then done; the job's step follows */
	assert_int_equal(store_job_step_mark(f->st, id, "init_token", "begin", DEVICE, NOW), 0);
	assert_int_equal(store_job_last_step(f->st, id, &last), 0);
	assert_string_equal(last.step, "init_token");
	assert_string_equal(last.phase, "begin");
	assert_string_equal(last.detail, DEVICE);
	store_job_step_clear(&last);
	assert_int_equal(store_job_step_mark(f->st, id, "generate_key", "done", NULL,
	    "2026-03-02T10:00:05Z"), 0);
	assert_int_equal(store_job_last_step(f->st, id, &last), 0);
	assert_string_equal(last.step, "generate_key");
	assert_string_equal(last.phase, "done");
	assert_null(last.detail);
	store_job_step_clear(&last);
	assert_int_equal(store_job_load(f->st, id, &j), 0);
	assert_string_equal(j.step, "generate_key");
	assert_string_equal(j.updated_at, "2026-03-02T10:00:05Z");
	store_job_clear(&j);

	assert_int_equal(store_jobs_running(f->st, NULL, &refs, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(refs[0].id, id);
	assert_string_equal(refs[0].step, "generate_key");
	store_job_refs_free(refs, n);

	/* suspended: no longer running, found again by the device its
	 * init_token began on, or by its label */
	assert_int_equal(store_job_is_suspended(f->st, id, &yes), 0);
	assert_int_equal(yes, 0);
	assert_int_equal(store_job_suspend(f->st, id, "token removed", NOW), 0);
	assert_int_equal(store_job_is_suspended(f->st, id, &yes), 0);
	assert_int_equal(yes, 1);
	assert_int_equal(store_jobs_running(f->st, NULL, &refs, &n), 0);
	assert_int_equal(n, 0);
	store_job_refs_free(refs, n);
	assert_int_equal(store_job_suspended_blank(f->st, NULL, "softhsm", DEVICE, &found), 0);
	assert_int_equal(found, id);
	assert_int_equal(store_job_suspended_blank(f->st, NULL, "softhsm", "device:other", &found),
	    UKEY_ERR_NOTFOUND);
	found = 0;
	assert_int_equal(store_job_suspended_by_label(f->st, NULL, "softhsm", "ORG-P-J1", DEVICE,
	    &found), 0);
	assert_int_equal(found, id);
	assert_int_equal(store_job_suspended_by_label(f->st, NULL, "softhsm", "OTHER", DEVICE, &found),
	    UKEY_ERR_NOTFOUND);
	assert_int_equal(store_job_suspended_by_serial(f->st, NULL, "softhsm", "S1", &found),
	    UKEY_ERR_NOTFOUND);

	/* resumed in another bay, then ended: the sealed PINs go */
	assert_int_equal(store_job_resume(f->st, id, "bay2", NOW), 0);
	assert_int_equal(store_job_load(f->st, id, &j), 0);
	assert_string_equal(j.state, "running");
	assert_string_equal(j.bay, "bay2");
	assert_int_equal(j.resumed, 1);
	assert_null(j.error);
	store_job_clear(&j);
	assert_int_equal(store_job_end(f->st, id, "failed", "generate_key: CKR_DEVICE_ERROR",
	    "2026-03-02T10:01:00Z"), 0);
	assert_int_equal(store_job_load(f->st, id, &j), 0);
	assert_string_equal(j.state, "failed");
	assert_string_equal(j.error, "generate_key: CKR_DEVICE_ERROR");
	assert_string_equal(j.finished_at, "2026-03-02T10:01:00Z");
	assert_null(hexcol(j.so_pin_enc, j.so_pin_enc_len));
	assert_null(hexcol(j.user_pin_enc, j.user_pin_enc_len));
	store_job_clear(&j);
	assert_int_equal(store_job_load(f->st, id + 100, &j), UKEY_ERR_NOTFOUND);
}

static void
test_tokens(void **state)
{
	struct fixture *f = *state;
	struct store_token_seen t = {
		.profile = "softhsm", .serial = "A1B2", .model = "SoftHSM v2",
		.manufacturer = "SoftHSM project", .label = "ORG-P-J1", .so_pin_enc = so_enc,
		.so_pin_enc_len = sizeof(so_enc),
	};
	struct store_token_known k = { 0 };
	struct store_job j = { 0 };
	uint8_t *blob = NULL;
	size_t len = 0;
	int64_t id, n = -1, token_id;

	assert_int_equal(store_token_lookup(f->st, "softhsm", "A1B2", &k), UKEY_ERR_NOTFOUND);
	assert_int_equal(store_token_known_count(f->st, "softhsm", "A1B2", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_token_so_pin(f->st, "softhsm", "A1B2", &blob, &len),
	    UKEY_ERR_NOTFOUND);
	assert_null(blob);

	id = start_job(f, NULL);
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_token_upsert(f->st, &t, NOW), 0);
	assert_int_equal(store_job_set_token(f->st, id, "softhsm", "A1B2"), 0);
	assert_int_equal(store_commit(f->st), 0);

	assert_int_equal(store_token_lookup(f->st, "softhsm", "A1B2", &k), 0);
	assert_true(k.id > 0);
	assert_int_equal(k.have_so, 1);
	assert_null(k.issued);
	token_id = k.id;
	store_token_known_clear(&k);
	assert_int_equal(store_token_known_count(f->st, "softhsm", "A1B2", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_token_lookup(f->st, "other", "A1B2", &k), UKEY_ERR_NOTFOUND);

	/* the job points at the token and no longer holds the SO PIN */
	assert_int_equal(store_job_load(f->st, id, &j), 0);
	assert_int_equal(j.token_id, token_id);
	assert_string_equal(j.token_serial, "A1B2");
	assert_null(hexcol(j.so_pin_enc, j.so_pin_enc_len));
	assert_string_equal(hexcol(j.user_pin_enc, j.user_pin_enc_len), "a50405");
	store_job_clear(&j);

	assert_int_equal(store_token_so_pin(f->st, "softhsm", "A1B2", &blob, &len), 0);
	assert_int_equal(len, sizeof(so_enc));
	assert_memory_equal(blob, so_enc, sizeof(so_enc));
	free(blob);

	/* seen again with a new SO PIN and label: the same row, updated */
	t.so_pin_enc = user_enc;
	t.so_pin_enc_len = sizeof(user_enc);
	t.label = "ORG-P-J2";
	assert_int_equal(store_token_upsert(f->st, &t, "2026-03-03T10:00:00Z"), 0);
	assert_int_equal(store_token_so_pin_by_id(f->st, token_id, &blob, &len), 0);
	assert_int_equal(len, sizeof(user_enc));
	assert_memory_equal(blob, user_enc, sizeof(user_enc));
	free(blob);
	assert_int_equal(store_token_so_pin_by_id(f->st, token_id + 1, &blob, &len),
	    UKEY_ERR_NOTFOUND);

	/* a suspended job with its serial is found by it */
	assert_int_equal(store_job_suspend(f->st, id, "token removed", NOW), 0);
	n = 0;
	assert_int_equal(store_job_suspended_by_serial(f->st, NULL, "softhsm", "A1B2", &n), 0);
	assert_int_equal(n, id);
}

static void
test_received_and_issued(void **state)
{
	struct fixture *f = *state;
	struct store_received_cert *rc = NULL;
	struct store_issuance *is = NULL;
	struct store_token_known k = { 0 };
	const struct store_token_seen t = {
		.profile = "softhsm", .serial = "A1B2", .model = "SoftHSM v2",
		.manufacturer = "SoftHSM project", .label = "ORG-P-J1", .so_pin_enc = so_enc,
		.so_pin_enc_len = sizeof(so_enc),
	};
	struct store_job j = { 0 };
	size_t n = 0;
	int64_t id, other = 0, left = 0;

	id = start_job(f, "A1B2");
	assert_int_equal(store_token_upsert(f->st, &t, NOW), 0);

	/* the CA's answer is recorded once; a second row for its serial is refused */
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_received_cert_add(f->st, "0A1B", id, f->unit_id, cert_der,
	    sizeof(cert_der), NOW), 0);
	assert_int_equal(store_job_set_cert(f->st, id, cert_der, sizeof(cert_der), "0A1B",
	    "req-1"), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_received_cert_add(f->st, "0A1B", id, f->unit_id, cert_der,
	    sizeof(cert_der), NOW), UKEY_ERR_EXISTS);
	assert_int_equal(store_received_cert_job(f->st, "0A1B", &other), 0);
	assert_int_equal(other, id);
	assert_int_equal(store_received_cert_job(f->st, "FFFF", &other), UKEY_ERR_NOTFOUND);
	assert_int_equal(store_job_load(f->st, id, &j), 0);
	assert_string_equal(j.cert_serial, "0A1B");
	assert_string_equal(j.request_key, "req-1");
	assert_string_equal(hexcol(j.cert, j.cert_len), "3082010099");
	store_job_clear(&j);

	/* a second certificate refused: listed for revocation with its note;
	 * closing it again changes nothing */
	assert_int_equal(store_received_cert_add(f->st, "0C0D", id, f->unit_id, cert_der,
	    sizeof(cert_der), NOW), 0);
	assert_int_equal(store_received_cert_close(f->st, "0C0D", "refused", "cert_check: wrong key",
	    NOW), 0);
	assert_int_equal(store_received_cert_close(f->st, "0C0D", "revoked", "again", NOW), 0);
	assert_int_equal(store_received_certs_unwanted(f->st, &rc, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rc[0].serial, "0C0D");
	assert_string_equal(rc[0].note, "cert_check: wrong key");
	store_received_certs_free(rc, n);

	/* the issuance: one transaction as do_record() writes it */
	{
		const struct store_issuance_new r = {
			.order_id = f->order_id, .item_id = 1, .unit_id = f->unit_id, .job_id = id,
			.cert_serial = "0A1B", .subject = "CN=某某科技", .issuer = "CN=Test CA",
			.not_before = NOW, .not_after = "2027-03-02T10:00:00Z", .key_alg = "rsa2048",
			.key_local = 1, .key_always_sensitive = 1, .key_never_extractable = 1,
			.key_usage = "[\"sign\"]", .token_serial = "A1B2", .token_model = "SoftHSM v2",
			.token_profile = "softhsm", .token_uri = "pkcs11:serial=A1B2",
			.org_uscc = USCC, .kind = "organisation", .cert = cert_der,
			.cert_len = sizeof(cert_der), .operator_name = "operator1",
			.station_id = "station-1", .started_at = NOW, .issued_at = NOW,
		};

		assert_int_equal(store_units_count(f->st, f->order_id, STORE_UNIT_WAITING, &left), 0);
		assert_int_equal(left, 2);
		assert_int_equal(store_begin(f->st), 0);
		assert_int_equal(store_issuance_insert(f->st, &r), 0);
		assert_int_equal(store_received_cert_issued(f->st, "0A1B", NOW), 0);
		assert_int_equal(store_unit_set_issued(f->st, f->unit_id, NOW), 0);
		assert_int_equal(store_job_issued(f->st, id, NOW), 0);
		assert_int_equal(store_commit(f->st), 0);
		assert_int_equal(store_issuance_insert(f->st, &r), UKEY_ERR_EXISTS);
	}
	assert_int_equal(store_units_count(f->st, f->order_id, STORE_UNIT_WAITING, &left), 0);
	assert_int_equal(left, 1);
	assert_int_equal(store_units_count(f->st, f->order_id, STORE_UNIT_ISSUED, &left), 0);
	assert_int_equal(left, 1);
	/* an issued certificate is not closed by a later failure */
	assert_int_equal(store_received_cert_close(f->st, "0A1B", "revoked", "late", NOW), 0);
	assert_int_equal(store_received_certs_unwanted(f->st, &rc, &n), 0);
	assert_int_equal(n, 1);
	store_received_certs_free(rc, n);

	assert_int_equal(store_job_load(f->st, id, &j), 0);
	assert_string_equal(j.state, "issued");
	assert_string_equal(j.step, "issued");
	assert_null(hexcol(j.so_pin_enc, j.so_pin_enc_len));
	assert_null(hexcol(j.user_pin_enc, j.user_pin_enc_len));
	store_job_clear(&j);

	assert_int_equal(store_issuances_of_order(f->st, f->order_id, &is, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(is[0].job_id, id);
	assert_int_equal(is[0].unit_id, f->unit_id);
	assert_string_equal(is[0].cert_serial, "0A1B");
	assert_string_equal(is[0].subject, "CN=某某科技");
	assert_string_equal(is[0].token_serial, "A1B2");
	assert_string_equal(is[0].kind, "organisation");
	store_issuances_free(is, n);
	assert_int_equal(store_issuances_of_order(f->st, f->order_id + 1, &is, &n), 0);
	assert_int_equal(n, 0);
	store_issuances_free(is, n);

	/* the token now holds an issued certificate */
	assert_int_equal(store_token_lookup(f->st, "softhsm", "A1B2", &k), 0);
	assert_string_equal(k.issued, "0A1B");
	store_token_known_clear(&k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_job_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_received_and_issued, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
