/* Revocation and the auditors' queries against a real station database:
 * an issuance found by serial (any case, leading zeros), marked revoked
 * once; audit serials' status (live, revoked, expired); the expiry report's
 * window, organisation filter, renewal orders and count; the links between
 * certificates (replaces, replaced_by, renewed_by). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "store/db.h"
#include "store/store.h"
#include "store_fixture.h"
#include "store/store_auditq.h"
#include "store/store_jobs.h"
#include "store/store_orders.h"
#include "store/store_revoke.h"
#include "store/store_units.h"

#define USCC "91530100MA6K5U5X7R"
#define AT "2026-03-01T09:00:00Z"

struct fixture {
	char dir[64];
	struct store *st;
	int64_t order_id;
};

static const uint8_t blob[] = { 0x30, 0x03, 0x31, 0x01, 0x00 };

static int64_t
paid_order(struct store *st, const char *ref, int64_t *units, size_t nunits)
{
	struct store_order_content c = {
		.portal_ref = ref, .type = "new", .account_uscc = USCC, .org_name = "某某科技",
		.total_fen = 40000, .doc = "{}", .doc_sealed = blob, .doc_sealed_len = sizeof(blob),
	};
	struct store_order_item_new it = {
		.seq = 1, .years = 1, .count = (int)nunits, .kind = "organisation", .name = "某某科技",
		.cert_profile = "organisation",
	};
	struct store_order_unit *u = NULL;
	size_t i, n = 0;
	int64_t id = 0;

	assert_int_equal(store_order_insert(st, &c, AT, "op", &id), 0);
	assert_int_equal(store_order_add_item(st, id, &it, AT), 0);
	assert_int_equal(store_units_queue_order(st, id, AT), 0);
	assert_int_equal(store_order_units(st, id, &u, &n), 0);
	assert_int_equal(n, nunits);
	for (i = 0; i < n; i++)
		units[i] = u[i].id;
	store_order_units_free(u, n);
	return id;
}

/* An issued certificate on unit unit_id: job, received certificate,
 * issuance, as do_record() leaves them. */
static void
issue_linked(struct fixture *f, int64_t unit_id, const char *serial, const char *org,
    const char *not_after, const char *replaces, const char *how)
{
	const struct store_job_new j = {
		.unit_id = unit_id, .bay = "bay1", .profile = "softhsm", .token_serial = serial,
		.key_alg = "rsa2048", .label = "L", .operator_name = "op",
		.subject = blob, .subject_len = sizeof(blob),
	};
	struct store_issuance_new r = {
		.order_id = f->order_id, .item_id = 1, .unit_id = unit_id, .cert_serial = serial,
		.subject = "CN=某某科技", .issuer = "CN=Test CA", .not_before = AT,
		.not_after = not_after, .key_alg = "rsa2048", .token_serial = serial,
		.token_model = "SoftHSM v2", .token_profile = "softhsm", .org_uscc = org,
		.kind = "organisation", .cert = blob, .cert_len = sizeof(blob), .operator_name = "op",
		.station_id = "s1", .started_at = AT, .issued_at = AT,
		.replaces_serial = replaces, .replaces_how = how,
	};
	int64_t job = 0;

	assert_int_equal(store_job_insert(f->st, &j, AT, &job), 0);
	assert_int_equal(store_received_cert_add(f->st, serial, job, unit_id, blob, sizeof(blob), AT),
	    0);
	r.job_id = job;
	assert_int_equal(store_issuance_insert(f->st, &r), 0);
	assert_int_equal(store_received_cert_issued(f->st, serial, AT), 0);
}

static void
issue(struct fixture *f, int64_t unit_id, const char *serial, const char *org,
    const char *not_after)
{
	issue_linked(f, unit_id, serial, org, not_after, NULL, NULL);
}

/* Three certificates: 0A1B (ends 2027-03-01), 0C2D (ends 2026-04-01, of
 * another organisation), 0E3F (ends 2026-02-01, before the tests' "now"). */
static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int64_t u[3];

	assert_non_null(f);
	f->st = store_fixture_open(f->dir, sizeof(f->dir), "storerevoke");
	f->order_id = paid_order(f->st, "P-R1", u, 3);
	issue(f, u[0], "0A1B", USCC, "2027-03-01T09:00:00Z");
	issue(f, u[1], "0C2D", "91532901MA6P7H4T1G", "2026-04-01T09:00:00Z");
	issue(f, u[2], "0E3F", USCC, "2026-02-01T09:00:00Z");
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

static const char *
col(struct json_object *row, const char *key)
{
	struct json_object *v = json_object_object_get(row, key);

	return v ? json_object_get_string(v) : NULL;
}

static void
test_revoke(void **state)
{
	struct fixture *f = *state;
	struct store_issuance_rev r;

	/* any case, leading zeros or not */
	assert_int_equal(store_issuance_by_serial(f->st, "a1b", &r), 0);
	assert_string_equal(r.cert_serial, "0A1B");
	assert_int_equal(r.order_id, f->order_id);
	assert_true(r.job_id > 0 && r.unit_id > 0);
	assert_string_equal(r.token_serial, "0A1B");
	assert_null(r.revoked_at);
	store_issuance_rev_clear(&r);
	assert_int_equal(store_issuance_by_serial(f->st, "FFFF", &r), UKEY_ERR_NOTFOUND);
	assert_null(r.cert_serial);

	assert_int_equal(store_issuance_revoke(f->st, "0A1B", "2026-03-02T10:00:00Z",
	    "keyCompromise", "carol", "stolen"), 0);
	assert_int_equal(store_issuance_revoke(f->st, "0A1B", "2026-03-03T10:00:00Z",
	    "superseded", "dave", "again"), UKEY_ERR_STATE);
	assert_int_equal(store_issuance_revoke(f->st, "FFFF", "2026-03-03T10:00:00Z",
	    "superseded", "dave", "none"), UKEY_ERR_STATE);
	assert_int_equal(store_issuance_by_serial(f->st, "0A1B", &r), 0);
	assert_string_equal(r.revoked_at, "2026-03-02T10:00:00Z");
	assert_string_equal(r.revoke_reason, "keyCompromise");
	assert_string_equal(r.revoked_by, "carol");
	store_issuance_rev_clear(&r);
}

static void
test_serials_status(void **state)
{
	struct fixture *f = *state;
	struct json_object *rows = NULL, *row;

	assert_int_equal(store_issuance_revoke(f->st, "0C2D", "2026-03-02T10:00:00Z",
	    "cessationOfOperation", "carol", "closed"), 0);
	assert_int_equal(store_auditq_serials(f->st, 0, NULL, "2026-03-10T00:00:00Z", &rows), 0);
	assert_int_equal(json_object_array_length(rows), 3);
	row = json_object_array_get_idx(rows, 0);
	assert_string_equal(col(row, "serial"), "0A1B");
	assert_string_equal(col(row, "status"), "live");
	assert_null(col(row, "revoked_at"));
	row = json_object_array_get_idx(rows, 1);
	assert_string_equal(col(row, "status"), "revoked");
	assert_string_equal(col(row, "revoke_reason"), "cessationOfOperation");
	assert_string_equal(col(row, "revoked_at"), "2026-03-02T10:00:00Z");
	row = json_object_array_get_idx(rows, 2);
	assert_string_equal(col(row, "status"), "expired");
	json_object_put(rows);
	/* the filters */
	assert_int_equal(store_auditq_serials(f->st, 0, "91532901MA6P7H4T1G",
	    "2026-03-10T00:00:00Z", &rows), 0);
	assert_int_equal(json_object_array_length(rows), 1);
	json_object_put(rows);
	assert_int_equal(store_auditq_serials(f->st, f->order_id + 1, NULL, "2026-03-10T00:00:00Z",
	    &rows), 0);
	assert_int_equal(json_object_array_length(rows), 0);
	json_object_put(rows);
}

/* Pages of audit serials: limit rows after an issuance id, in issue order,
 * the filters still applied; walking the pages gives every row once. */
static void
test_serials_pages(void **state)
{
	struct fixture *f = *state;
	struct store_serials_page q = { .now = "2026-03-10T00:00:00Z", .limit = 2 };
	struct json_object *rows = NULL;
	int64_t first, second;

	assert_int_equal(store_auditq_serials_page(f->st, &q, &rows), 0);
	assert_int_equal(json_object_array_length(rows), 2);
	assert_string_equal(col(json_object_array_get_idx(rows, 0), "serial"), "0A1B");
	first = json_object_get_int64(json_object_object_get(json_object_array_get_idx(rows, 0),
	    "id"));
	second = json_object_get_int64(json_object_object_get(json_object_array_get_idx(rows, 1),
	    "id"));
	assert_true(first < second);
	json_object_put(rows);
	q.after = second;
	assert_int_equal(store_auditq_serials_page(f->st, &q, &rows), 0);
	assert_int_equal(json_object_array_length(rows), 1);	/* the third and last */
	assert_true(json_object_get_int64(json_object_object_get(json_object_array_get_idx(rows, 0),
	    "id")) > second);
	json_object_put(rows);
	q.after = first;
	q.limit = 0;		/* no limit: the rest */
	assert_int_equal(store_auditq_serials_page(f->st, &q, &rows), 0);
	assert_int_equal(json_object_array_length(rows), 2);
	json_object_put(rows);
	q.after = 0;
	q.org = "91532901MA6P7H4T1G";
	assert_int_equal(store_auditq_serials_page(f->st, &q, &rows), 0);
	assert_int_equal(json_object_array_length(rows), 1);
	json_object_put(rows);
}

static void
test_expiring(void **state)
{
	struct fixture *f = *state;
	struct store_expiring *e = NULL;
	const char *now = "2026-03-10T00:00:00Z";
	size_t n = 0;
	int64_t cnt = 0, renew = 0, u[1];

	/* within 30 days: 0C2D only (0E3F has expired, 0A1B is a year away) */
	assert_int_equal(store_auditq_expiring(f->st, now, "2026-04-09T00:00:00Z", NULL, 0, INT64_MAX,
	    &e, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].serial, "0C2D");
	assert_string_equal(e[0].not_after, "2026-04-01T09:00:00Z");
	assert_int_equal(e[0].renewal_order, 0);
	assert_null(e[0].renewal_ref);
	store_expiring_free(e, n);
	assert_int_equal(store_auditq_expiring_count(f->st, now, "2026-04-09T00:00:00Z", &cnt), 0);
	assert_int_equal(cnt, 1);
	/* within two years, soonest first; one organisation */
	assert_int_equal(store_auditq_expiring(f->st, now, "2028-03-10T00:00:00Z", NULL, 0, INT64_MAX,
	    &e, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(e[0].serial, "0C2D");
	assert_string_equal(e[1].serial, "0A1B");
	store_expiring_free(e, n);
	assert_int_equal(store_auditq_expiring(f->st, now, "2028-03-10T00:00:00Z", USCC, 0, INT64_MAX,
	    &e, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].serial, "0A1B");
	assert_string_equal(e[0].kind, "organisation");
	store_expiring_free(e, n);

	/* an approved renewal order names 0A1B */
	renew = paid_order(f->st, "P-RENEW", u, 1);
	assert_int_equal(store_order_set_state(f->st, renew, "pending", "approved", AT), 0);
	assert_int_equal(store_order_set_approval(f->st, renew, "reviewer", AT, "0A1B"), 0);
	assert_int_equal(store_auditq_expiring(f->st, now, "2028-03-10T00:00:00Z", USCC, 0, INT64_MAX,
	    &e, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].renewal_order, renew);
	assert_string_equal(e[0].renewal_ref, "P-RENEW");
	store_expiring_free(e, n);
	/* cancelled, it no longer counts */
	assert_int_equal(store_order_set_state(f->st, renew, "approved", "cancelled", AT), 0);
	assert_int_equal(store_auditq_expiring(f->st, now, "2028-03-10T00:00:00Z", USCC, 0, INT64_MAX,
	    &e, &n), 0);
	assert_int_equal(e[0].renewal_order, 0);
	store_expiring_free(e, n);

	/* revoked: gone from the report and the count */
	assert_int_equal(store_issuance_revoke(f->st, "0C2D", AT, "superseded", "carol", "x"), 0);
	assert_int_equal(store_auditq_expiring(f->st, now, "2026-04-09T00:00:00Z", NULL, 0, INT64_MAX,
	    &e, &n), 0);
	assert_int_equal(n, 0);
	assert_null(e);
	assert_int_equal(store_auditq_expiring_count(f->st, now, "2026-04-09T00:00:00Z", &cnt), 0);
	assert_int_equal(cnt, 0);
}

/* One page of the expiring list after issuance `after`, limit rows: their
 * serials, in order, space-separated into out. */
static int
expiring_page(struct fixture *f, int64_t after, int64_t limit, char *out, size_t len,
    int64_t *last)
{
	struct store_expiring *e = NULL;
	size_t n = 0, i;
	int rc;

	out[0] = '\0';
	if ((rc = store_auditq_expiring(f->st, "2026-03-10T00:00:00Z", "2028-03-10T00:00:00Z",
	    NULL, after, limit, &e, &n)) != 0)
		return rc;
	for (i = 0; i < n; i++)
		snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? " " : "", e[i].serial);
	*last = n > 0 ? e[n - 1].id : 0;
	store_expiring_free(e, n);
	return 0;
}

/* Pages of the expiring list go on from the last issuance given, in the
 * list's order (not_after, then id), also across certificates that expire
 * at the same second; an after that names no issuance is refused. */
static void
test_expiring_pages(void **state)
{
	struct fixture *f = *state;
	char got[64];
	int64_t last = 0, first;

	assert_int_equal(expiring_page(f, 0, 1, got, sizeof(got), &last), 0);
	assert_string_equal(got, "0C2D");
	assert_int_equal(expiring_page(f, last, 1, got, sizeof(got), &last), 0);
	assert_string_equal(got, "0A1B");
	assert_int_equal(expiring_page(f, last, 1, got, sizeof(got), &last), 0);
	assert_string_equal(got, "");
	/* the same second: by id, each once */
	assert_int_equal(db_run(store_dbh(f->st), "UPDATE issuances SET not_after ="
	    " '2026-04-01T09:00:00Z' WHERE cert_serial = '0A1B'", ""), 0);
	assert_int_equal(expiring_page(f, 0, 2, got, sizeof(got), &last), 0);
	assert_true(strcmp(got, "0C2D 0A1B") == 0 || strcmp(got, "0A1B 0C2D") == 0);
	assert_int_equal(expiring_page(f, 0, 1, got, sizeof(got), &first), 0);
	assert_int_equal(expiring_page(f, first, 1, got, sizeof(got), &last), 0);
	assert_true(last > first);
	assert_int_equal(expiring_page(f, last, 5, got, sizeof(got), &last), 0);
	assert_string_equal(got, "");
	assert_int_equal(expiring_page(f, 999999, 1, got, sizeof(got), &last), UKEY_ERR_NOTFOUND);
	assert_int_equal(expiring_page(f, 0, 0, got, sizeof(got), &last), UKEY_ERR_INVAL);
}

/* The link between certificates (migration 12): the newer issuance names
 * the one it replaces and how; audit serials shows replaces on it and
 * replaced_by / renewed_by on the older one; a new issuance has none. */
static void
test_serials_links(void **state)
{
	struct fixture *f = *state;
	struct json_object *rows = NULL, *row;
	const char *now = "2026-03-10T00:00:00Z";
	int64_t u[2];

	(void)paid_order(f->st, "P-LINK", u, 2);
	issue_linked(f, u[0], "1A2B", USCC, "2028-03-01T09:00:00Z", "0A1B", "replacement");
	issue_linked(f, u[1], "3C4D", "91532901MA6P7H4T1G", "2028-03-01T09:00:00Z", "0C2D",
	    "renewal");
	/* only 'renewal' and 'replacement' are links */
	{
		const struct store_job_new j = {
			.unit_id = u[0], .bay = "bay1", .profile = "softhsm", .token_serial = "X",
			.key_alg = "rsa2048", .label = "L", .operator_name = "op",
			.subject = blob, .subject_len = sizeof(blob),
		};
		struct store_issuance_new r = {
			.order_id = f->order_id, .item_id = 1, .unit_id = 999, .cert_serial = "5E6F",
			.subject = "CN=x", .issuer = "CN=Test CA", .not_before = AT, .not_after = AT,
			.key_alg = "rsa2048", .token_serial = "X", .token_model = "m",
			.token_profile = "softhsm", .org_uscc = USCC, .kind = "organisation",
			.cert = blob, .cert_len = sizeof(blob), .operator_name = "op",
			.station_id = "s1", .started_at = AT, .issued_at = AT,
			.replaces_serial = "0E3F", .replaces_how = "superseded",
		};
		int64_t job = 0;

		assert_int_equal(store_job_insert(f->st, &j, AT, &job), 0);
		r.job_id = job;
		assert_int_not_equal(store_issuance_insert(f->st, &r), 0);
	}
	assert_int_equal(store_auditq_serials(f->st, 0, NULL, now, &rows), 0);
	assert_int_equal(json_object_array_length(rows), 5);
	row = json_object_array_get_idx(rows, 0);		/* 0A1B, replaced */
	assert_string_equal(col(row, "serial"), "0A1B");
	assert_string_equal(col(row, "replaced_by"), "1A2B");
	assert_null(col(row, "renewed_by"));
	assert_null(col(row, "replaces"));
	row = json_object_array_get_idx(rows, 1);		/* 0C2D, renewed */
	assert_string_equal(col(row, "renewed_by"), "3C4D");
	assert_null(col(row, "replaced_by"));
	row = json_object_array_get_idx(rows, 2);		/* 0E3F: no link */
	assert_null(col(row, "replaces"));
	assert_null(col(row, "replaced_by"));
	assert_null(col(row, "renewed_by"));
	row = json_object_array_get_idx(rows, 3);		/* 1A2B replaces 0A1B */
	assert_string_equal(col(row, "serial"), "1A2B");
	assert_string_equal(col(row, "replaces"), "0A1B");
	assert_string_equal(col(row, "replaces_how"), "replacement");
	assert_null(col(row, "replaced_by"));
	row = json_object_array_get_idx(rows, 4);		/* 3C4D renews 0C2D */
	assert_string_equal(col(row, "replaces"), "0C2D");
	assert_string_equal(col(row, "replaces_how"), "renewal");
	json_object_put(rows);

	/* replacements whose replaced certificate is still live: 1A2B's, not
	 * the renewal's; none once 0A1B is revoked */
	{
		struct store_replaced *r = NULL;
		size_t n = 0;

		assert_int_equal(store_replaced_live(f->st, NULL, &r, &n), 0);
		assert_int_equal(n, 1);
		assert_string_equal(r[0].new_serial, "1A2B");
		assert_string_equal(r[0].old_serial, "0A1B");
		assert_true(r[0].order_id > 0 && r[0].unit_id == u[0] && r[0].job_id > 0);
		store_replaced_free(r, n);
		assert_int_equal(store_replaced_live(f->st, "3C4D", &r, &n), 0);
		assert_int_equal(n, 0);
		assert_null(r);
		assert_int_equal(store_issuance_revoke(f->st, "0A1B", AT, "keyCompromise", "op", "x"),
		    0);
		assert_int_equal(store_replaced_live(f->st, "1A2B", &r, &n), 0);
		assert_int_equal(n, 0);
	}
}

static void
test_audit_queries(void **state)
{
	struct fixture *f = *state;
	struct json_object *rows = NULL;
	int64_t last = -1;

	assert_int_equal(store_auditq_last_id(f->st, &last), 0);
	assert_int_equal(last, 0);
	assert_int_equal(store_auditq_log(f->st, 0, 10, &rows), 0);
	assert_int_equal(json_object_array_length(rows), 0);
	json_object_put(rows);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serials_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serials_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiring_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serials_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_queries, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
