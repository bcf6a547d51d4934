/* Jobs, the job list, the auditors' queries and the audit log on a real
 * PostgreSQL 15 server (pg_fixture.h starts one): a job inserted, its
 * journal, listed, its CA transaction kept and dropped; the token it
 * initialised; audit records appended (by two processes at once too), the
 * chain and the checkpoints verified; a record changed behind the station's
 * back (as the superuser, the trigger disabled) found by audit verify; all
 * of it as a station's role too (docs/pg-roles.sql). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "store/audit.h"
#include "store/auditkey.h"
#include "store/store_auditq.h"
#include "store/store_jobs.h"
#include "pg_fixture.h"

#define AT "2026-03-01T10:00:00Z"
#define AT2 "2026-03-01T10:05:00Z"
#define AT3 "2026-03-01T10:09:00Z"
#define APPENDERS 2
#define APPENDS 40

static struct pg_server server;
static char keydir[64];
static EVP_PKEY *key;

static int
group_setup(void **state)
{
	snprintf(keydir, sizeof(keydir), "/tmp/ukey-pgj-key-XXXXXX");
	if (mkdtemp(keydir) == NULL || audit_key_load(keydir, &key) != 0)
		return -1;
	return pg_server_start(&server);
}

static int
group_teardown(void **state)
{
	char cmd[128];

	pg_server_stop(&server);
	EVP_PKEY_free(key);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", keydir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct store *
fresh_store(const char *name, char *url, size_t sz)
{
	struct store *st = NULL;

	assert_int_equal(pg_fresh_db(&server, name, url, sz), 0);
	assert_int_equal(store_open_url(url, &st), 0);
	return st;
}

/* A paid order of two units; the first unit's id. */
static int64_t
first_unit(struct store *st, const char *ref)
{
	int64_t order = 0, unit = 0;

	assert_int_equal(pg_fixture_order(st, ref, 2, AT, &order), 0);
	assert_int_equal(store_int(st, &unit, "SELECT min(id) FROM units WHERE state = 'queued'",
	    ""), 0);
	return unit;
}

static int64_t
new_job(struct store *st, int64_t unit)
{
	static const uint8_t subject[] = { 0x30, 0x00, 0xff };
	struct store_job_new j = {
		.unit_id = unit, .bay = "bay1", .profile = "softhsm", .key_alg = "ec-p256",
		.label = "ZS-1", .operator_name = "operator1", .subject = subject,
		.subject_len = sizeof(subject),
	};
	int64_t id = 0;

	assert_int_equal(store_job_insert(st, &j, AT, &id), 0);
	assert_true(id > 0);
	return id;
}

static void
check_loaded(struct store *st, int64_t id, int64_t unit)
{
	struct store_job j;

	assert_int_equal(store_job_load(st, id, &j), 0);
	assert_int_equal(j.id, id);
	assert_int_equal(j.unit_id, unit);
	assert_string_equal(j.state, "running");
	assert_string_equal(j.step, "init_token");
	assert_string_equal(j.kind, "issue");
	assert_null(j.token_serial);
	assert_int_equal(j.subject_len, 3);
	assert_int_equal(j.subject[2], 0xff);
	assert_int_equal(j.public_key_len, 4);
	assert_int_equal(j.public_key[0], 0x00);
	assert_int_equal(j.so_pin_enc_len, 2);
	assert_string_equal(j.evidence, "local");
	assert_string_equal(j.src.kind, "legal_rep");
	assert_string_equal(j.src.item_name, "张三");
	assert_int_equal(j.src.doc_sealed_len, 5);
	assert_int_equal(j.src.doc_sealed[0], 0x00);
	assert_int_equal(j.src.doc_sealed[3], 0xff);
	assert_string_equal(j.src.order_type, "new");
	store_job_clear(&j);
	assert_int_equal(store_job_load(st, id + 100, &j), UKEY_ERR_NOTFOUND);
}

static void
check_listed(struct store *st, int64_t id, int64_t second)
{
	struct store_job_summary *a = NULL;
	struct store_job_ref *r = NULL;
	size_t n = 0;
	int64_t found = 0;
	int yes = 0;

	assert_int_equal(store_jobs_list(st, NULL, 0, INT64_MAX, &a, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(a[0].id, id);
	assert_int_equal(a[1].id, second);
	assert_string_equal(a[0].operator_name, "operator1");
	store_job_summaries_free(a, n);
	assert_int_equal(store_job_suspend(st, id, "token removed", AT2), 0);
	assert_int_equal(store_job_is_suspended(st, id, &yes), 0);
	assert_true(yes);
	assert_int_equal(store_jobs_list(st, "suspended", 0, INT64_MAX, &a, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(a[0].error, "token removed");
	store_job_summaries_free(a, n);
	/* a blank token: no serial yet, init_token begun on device dev-1 */
	assert_int_equal(store_job_suspended_blank(st, NULL, "softhsm", "dev-1", &found), 0);
	assert_int_equal(found, id);
	assert_int_equal(store_job_suspended_by_label(st, NULL, "softhsm", "ZS-1", "dev-1", &found), 0);
	assert_int_equal(found, id);
	assert_int_equal(store_jobs_running(st, NULL, &r, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].id, second);
	store_job_refs_free(r, n);
	assert_int_equal(store_job_resume(st, id, "bay2", AT2), 0);
	assert_int_equal(store_jobs_running(st, NULL, &r, &n), 0);
	assert_int_equal(n, 2);
	store_job_refs_free(r, n);
}

static void
test_job_journal(void **state)
{
	static const uint8_t pub[] = { 0x00, 0x04, 0x5c, 0xff }, so[] = { 0x01, 0x00 };
	struct store_job_step s;
	char url[256];
	struct store *st = fresh_store("jobs", url, sizeof(url));
	int64_t unit = first_unit(st, "KM-J1"), id, second;

	id = new_job(st, unit);
	second = new_job(st, unit + 1);
	assert_int_equal(second, id + 1);	/* RETURNING id, not a guess */
	assert_int_equal(store_job_step_mark(st, id, "claimed", "done", NULL, AT), 0);
	assert_int_equal(store_job_step_mark(st, id, "init_token", "begin", "dev-1", AT), 0);
	assert_int_equal(store_job_last_step(st, id, &s), 0);
	assert_string_equal(s.step, "init_token");
	assert_string_equal(s.phase, "begin");
	assert_string_equal(s.detail, "dev-1");
	store_job_step_clear(&s);
	assert_int_equal(store_job_last_step(st, second, &s), UKEY_ERR_NOTFOUND);
	assert_int_equal(store_job_set_pins(st, id, so, sizeof(so), so, sizeof(so)), 0);
	assert_int_equal(store_job_set_public_key(st, id, pub, sizeof(pub), "local"), 0);
	check_loaded(st, id, unit);
	check_listed(st, id, second);
	assert_int_equal(store_job_end(st, second, "failed", "test", AT3), 0);
	store_close(st);
}

/* A suspended job whose unit another station holds is that station's:
 * another station's token of the same serial or on a device of the same
 * description does not take it, and the token is told where it belongs. */
static void
test_suspended_pinned(void **state)
{
	static const uint8_t so[] = { 0x01, 0x00 };
	char url[256], other[64];
	struct store *st = fresh_store("pinned", url, sizeof(url));
	int64_t unit = first_unit(st, "KM-P1"), blank, known, found = 0;

	(void)state;
	blank = new_job(st, unit);
	known = new_job(st, unit + 1);
	assert_int_equal(store_job_step_mark(st, blank, "init_token", "begin", "dev-1", AT), 0);
	assert_int_equal(store_job_set_pins(st, known, so, sizeof(so), so, sizeof(so)), 0);
	assert_int_equal(store_job_set_token(st, known, "softhsm", "A1B2"), 0);
	assert_int_equal(store_job_suspend(st, blank, "station restarted", AT2), 0);
	assert_int_equal(store_job_suspend(st, known, "station restarted", AT2), 0);
	assert_int_equal(store_run(st, "INSERT INTO unit_leases (unit_id, station_id, job_id)"
	    " VALUES (?, 'station-b', ?), (?, 'station-b', ?)", "iiii", unit, blank, unit + 1,
	    known), 0);
	/* station-b, where the tokens are, finds both */
	assert_int_equal(store_job_suspended_blank(st, "station-b", "softhsm", "dev-1", &found), 0);
	assert_int_equal(found, blank);
	assert_int_equal(store_job_suspended_by_label(st, "station-b", "softhsm", "ZS-1", "dev-1",
	    &found), 0);
	assert_int_equal(found, blank);
	assert_int_equal(store_job_suspended_by_serial(st, "station-b", "softhsm", "A1B2", &found),
	    0);
	assert_int_equal(found, known);
	assert_int_equal(store_job_suspended_elsewhere(st, "station-b", "softhsm", "A1B2", &found,
	    other, sizeof(other)), UKEY_ERR_NOTFOUND);
	/* station-a's tokens of the same description do not */
	assert_int_equal(store_job_suspended_blank(st, "station-a", "softhsm", "dev-1", &found),
	    UKEY_ERR_NOTFOUND);
	assert_int_equal(store_job_suspended_by_label(st, "station-a", "softhsm", "ZS-1", "dev-1",
	    &found), UKEY_ERR_NOTFOUND);
	assert_int_equal(store_job_suspended_by_serial(st, "station-a", "softhsm", "A1B2", &found),
	    UKEY_ERR_NOTFOUND);
	assert_int_equal(store_job_suspended_elsewhere(st, "station-a", "softhsm", "A1B2", &found,
	    other, sizeof(other)), 0);
	assert_int_equal(found, known);
	assert_string_equal(other, "station-b");
	store_close(st);
}

/* The auditors' queries over the two issuances test_token_and_issued makes:
 * 0A1B not after 2027-03-01, 0A1C 2026-04-01. */
static void
check_auditq_certs(struct store *st)
{
	struct store_serials_page page = { .now = AT, .limit = 1 };
	struct store_expiring *e = NULL;
	struct json_object *rows = NULL;
	size_t n = 0;
	int64_t count = 0;

	assert_int_equal(store_auditq_serials(st, 0, NULL, AT, &rows), 0);
	assert_int_equal(json_object_array_length(rows), 2);
	assert_string_equal(json_object_get_string(json_object_object_get(
	    json_object_array_get_idx(rows, 0), "status")), "live");
	json_object_put(rows);
	assert_int_equal(store_auditq_serials(st, 0, "91530100MA6K0A0A0A", "2026-05-01T00:00:00Z",
	    &rows), 0);
	assert_string_equal(json_object_get_string(json_object_object_get(
	    json_object_array_get_idx(rows, 1), "status")), "expired");
	json_object_put(rows);
	assert_int_equal(store_auditq_serials_page(st, &page, &rows), 0);
	assert_int_equal(json_object_array_length(rows), 1);
	json_object_put(rows);
	assert_int_equal(store_auditq_expiring(st, AT, "2026-06-01T00:00:00Z", NULL, 0, INT64_MAX, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].serial, "0A1C");
	assert_int_equal(e[0].renewal_order, 0);
	store_expiring_free(e, n);
	assert_int_equal(store_auditq_expiring_count(st, AT, "2028-01-01T00:00:00Z", &count), 0);
	assert_int_equal(count, 2);
}

static void
test_token_and_issued(void **state)
{
	static const uint8_t so[] = { 0xde, 0xad, 0x00 }, der[] = { 0x30, 0x01, 0x00 };
	struct store_token_seen t = { .profile = "softhsm", .serial = "A1B2", .model = "SoftHSM v2",
		.manufacturer = "SoftHSM project", .label = "ZS-1", .so_pin_enc = so,
		.so_pin_enc_len = sizeof(so) };
	struct store_token_known k;
	char url[256];
	struct store *st = fresh_store("tokens", url, sizeof(url));
	int64_t unit = first_unit(st, "KM-T1"), id = new_job(st, unit), n = 0;
	uint8_t *pin = NULL;
	size_t len = 0;

	assert_int_equal(store_token_lookup(st, "softhsm", "A1B2", &k), UKEY_ERR_NOTFOUND);
	assert_int_equal(store_token_upsert(st, &t, AT), 0);
	assert_int_equal(store_token_upsert(st, &t, AT2), 0);
	assert_int_equal(store_token_known_count(st, "softhsm", "A1B2", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_token_lookup(st, "softhsm", "A1B2", &k), 0);
	assert_true(k.have_so);
	assert_null(k.issued);
	store_token_known_clear(&k);
	assert_int_equal(store_token_so_pin(st, "softhsm", "A1B2", &pin, &len), 0);
	assert_int_equal(len, sizeof(so));
	assert_memory_equal(pin, so, sizeof(so));
	free(pin);
	assert_int_equal(store_job_set_token(st, id, "softhsm", "A1B2"), 0);
	/* two certificates issued onto it: string_agg on PostgreSQL */
	assert_int_equal(store_received_cert_add(st, "0A1B", id, unit, der, sizeof(der), AT), 0);
	assert_int_equal(store_received_cert_add(st, "0A1C", id, unit, der, sizeof(der), AT), 0);
	assert_int_equal(store_run(st, "INSERT INTO issuances (order_id, item_id, unit_id, job_id,"
	    " cert_serial, subject, issuer, not_before, not_after, key_alg, key_local,"
	    " key_always_sensitive, key_never_extractable, token_serial, token_model, token_profile,"
	    " org_uscc, kind, cert, operator, station_id, started_at, issued_at) SELECT i.order_id,"
	    " u.item_id, u.id, ?, ?, 'CN=x', 'CN=ca', ?, '2027-03-01T10:00:00Z', 'ec-p256', 1, 1, 1,"
	    " 'A1B2', 'SoftHSM v2', 'softhsm', '91530100MA6K0A0A0A', 'legal_rep', ?, 'operator1',"
	    " 'km01', ?, ? FROM units u JOIN order_items i ON i.id = u.item_id WHERE u.id = ?",
	    "ittbtti", id, "0A1B", AT, der, sizeof(der), AT, AT, unit), 0);
	assert_int_equal(store_run(st, "INSERT INTO issuances (order_id, item_id, unit_id, job_id,"
	    " cert_serial, subject, issuer, not_before, not_after, key_alg, key_local,"
	    " key_always_sensitive, key_never_extractable, token_serial, token_model, token_profile,"
	    " org_uscc, kind, cert, operator, station_id, started_at, issued_at) SELECT i.order_id,"
	    " u.item_id, u.id, ?, ?, 'CN=y', 'CN=ca', ?, '2026-04-01T10:00:00Z', 'ec-p256', 1, 1, 1,"
	    " 'A1B2', 'SoftHSM v2', 'softhsm', '91530100MA6K0A0A0A', 'legal_rep', ?, 'operator1',"
	    " 'km01', ?, ? FROM units u JOIN order_items i ON i.id = u.item_id WHERE u.id = ?",
	    "ittbtti", id, "0A1C", AT, der, sizeof(der), AT, AT, unit + 1), 0);
	assert_int_equal(store_token_lookup(st, "softhsm", "A1B2", &k), 0);
	assert_non_null(k.issued);
	assert_string_equal(k.issued, "0A1B,0A1C");
	assert_int_equal(store_token_so_pin_by_id(st, k.id, &pin, &len), 0);
	free(pin);
	store_token_known_clear(&k);
	check_auditq_certs(st);
	store_close(st);
}

static void
test_ca_txn(void **state)
{
	struct store_ca_txn t = { .tid = { 0x00, 0x11, 0xff }, .tid_len = 3, .check_after = 30 };
	struct store_job_summary *a = NULL;
	struct store_ca_txn got;
	char url[256];
	struct store *st = fresh_store("catxn", url, sizeof(url));
	int64_t id = new_job(st, first_unit(st, "KM-C1"));
	size_t n = 0;

	assert_int_equal(store_job_ca_txn_get(st, id, &got), UKEY_ERR_NOTFOUND);
	assert_int_equal(store_job_ca_txn_set(st, id, &t, AT), 0);	/* sent: no nonce yet */
	assert_int_equal(store_job_ca_txn_get(st, id, &got), 0);
	assert_int_equal(got.tid_len, 3);
	assert_memory_equal(got.tid, t.tid, 3);
	assert_int_equal(got.nonce_len, 0);
	assert_int_equal(got.polls, 0);
	assert_int_equal(store_jobs_list(st, NULL, 0, INT64_MAX, &a, &n), 0);
	assert_null(a[0].ca_waiting_since);	/* not waiting before the CA answered */
	store_job_summaries_free(a, n);
	/* the CA's first answer starts the wait; a later poll keeps its start */
	t.nonce[0] = 0x5c;
	t.nonce_len = 16;
	assert_int_equal(store_job_ca_txn_set(st, id, &t, AT2), 0);
	t.check_after = 60;
	assert_int_equal(store_job_ca_txn_set(st, id, &t, AT3), 0);
	assert_int_equal(store_job_ca_txn_get(st, id, &got), 0);
	assert_int_equal(got.nonce_len, 16);
	assert_int_equal(got.nonce[0], 0x5c);
	assert_int_equal(got.check_after, 60);
	assert_string_equal(got.waiting_since, AT2);
	assert_int_equal(got.polls, 2);
	assert_int_equal(store_jobs_list(st, "running", 0, INT64_MAX, &a, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(a[0].ca_waiting_since, AT2);
	store_job_summaries_free(a, n);
	t.tid_len = 0;
	assert_int_equal(store_job_ca_txn_set(st, id, &t, AT3), UKEY_ERR_INVAL);
	assert_int_equal(store_job_ca_txn_clear(st, id), 0);
	assert_int_equal(store_job_ca_txn_get(st, id, &got), UKEY_ERR_NOTFOUND);
	store_close(st);
}

static void
append(struct store *st, const char *action, int64_t order, const char *detail)
{
	struct audit_event ev = { .station = "km01", .actor = "operator1", .action = action,
		.order_id = order,
		.token = "A1B2", .bay = "bay1", .detail = detail };
	int64_t id = 0;

	assert_int_equal(audit_append(st, &ev, &id), 0);
	assert_true(id > 0);
}

/* 3 records, checkpoint 1, 2 records, checkpoint 2, 1 record: 8 records. */
static void
fill_log(struct store *st)
{
	struct json_object *cp = NULL;

	append(st, "order.approve", 1, "{\"ref\":\"KM-A1\"}");
	append(st, "job.step", 0, NULL);
	append(st, "order.pay", 1, "{\"name\":\"张三\"}");
	assert_int_equal(audit_checkpoint(st, key, "km01", "ukeyd", "test", &cp), 0);
	assert_int_equal(json_object_get_int64(json_object_object_get(cp, "audit_id")), 4);
	json_object_put(cp);
	append(st, "job.step", 0, "{}");
	append(st, "order.cancel", 2, NULL);
	assert_int_equal(audit_checkpoint(st, key, "km01", "ukeyd", "test", NULL), 0);
	append(st, "job.step", 0, NULL);
}

static void
check_audit_queries(struct store *st)
{
	struct json_object *rows = NULL;
	int64_t last = 0;

	assert_int_equal(store_auditq_last_id(st, &last), 0);
	assert_int_equal(last, 8);
	assert_int_equal(audit_unsigned_count(st, "km01", &last), 0);
	assert_int_equal(last, 1);
	assert_int_equal(store_auditq_log(st, 0, 3, &rows), 0);
	assert_int_equal(json_object_array_length(rows), 3);
	assert_int_equal(json_object_get_int64(json_object_object_get(
	    json_object_array_get_idx(rows, 0), "id")), 6);
	json_object_put(rows);
	assert_int_equal(store_auditq_log(st, 1, 10, &rows), 0);
	assert_int_equal(json_object_array_length(rows), 2);
	json_object_put(rows);
	assert_int_equal(audit_export_page(st, AUDIT_EXPORT_RECORDS, 2, 8, 100, &rows), 0);
	assert_int_equal(json_object_array_length(rows), 6);
	json_object_put(rows);
	assert_int_equal(audit_export_page(st, AUDIT_EXPORT_CHECKPOINTS, 0, 8, 100, &rows), 0);
	assert_int_equal(json_object_array_length(rows), 2);
	json_object_put(rows);
}

static void
test_audit_chain(void **state)
{
	struct audit_report rep;
	char url[256];
	struct store *st = fresh_store("audit", url, sizeof(url));

	fill_log(st);
	check_audit_queries(st);
	assert_int_equal(audit_verify_db(store_dbh(st), key, NULL, NULL, &rep), 0);
	assert_true(rep.ok);
	assert_int_equal(rep.records, 8);
	assert_int_equal(rep.checkpoints, 2);
	assert_int_equal(rep.last_signed_id, 7);
	assert_int_equal(rep.unsigned_tail, 1);
	/* ukeyctl audit verify --db: the url opened on its own */
	assert_int_equal(audit_verify_db_file(url, key, NULL, NULL, &rep), 0);
	assert_int_equal(rep.records, 8);
	/* the log is append-only for everyone, the trigger says so */
	assert_int_not_equal(store_run(st, "UPDATE audit SET detail = NULL WHERE id = 3", ""), 0);
	assert_int_not_equal(store_run(st, "DELETE FROM audit WHERE id = 8", ""), 0);
	/* the superuser can go around it: verify finds the changed record */
	assert_int_equal(store_run(st, "ALTER TABLE audit DISABLE TRIGGER audit_append_only", ""), 0);
	assert_int_equal(store_run(st, "UPDATE audit SET detail = '{\"name\":\"李四\"}'"
	    " WHERE id = 3", ""), 0);
	assert_int_equal(audit_verify_db(store_dbh(st), key, NULL, NULL, &rep), UKEY_ERR_VERIFY);
	assert_false(rep.ok);
	assert_int_equal(rep.bad_record, 3);
	assert_non_null(strstr(rep.why, "3"));
	store_close(st);
	/* a file that is not there is not created by verify */
	assert_int_equal(audit_verify_db_file("/nonexistent/station.db", key, NULL, NULL, &rep),
	    UKEY_ERR_IO);
}

/* Two stations' processes append at once on their own connections, each
 * to its own chain under its own advisory lock: both chains are whole. */
static void
test_audit_concurrent(void **state)
{
	struct audit_report rep;
	pid_t pid[APPENDERS];
	char url[256];
	struct store *st = fresh_store("auditrace", url, sizeof(url));
	int i, k, status;

	append(st, "station.start", 0, NULL);
	for (i = 0; i < APPENDERS; i++) {
		assert_true((pid[i] = fork()) >= 0);
		if (pid[i] == 0) {
			struct store *mine = NULL;

			if (store_open_url(url, &mine) != 0)
				_exit(2);
			for (k = 0; k < APPENDS; k++) {
				struct audit_event ev = { .station = i ? "dl01" : "km01", .actor = "ukeyd",
				    .action = "job.step" };

				if (audit_append(mine, &ev, NULL) != 0)
					_exit(1);
			}
			store_close(mine);
			_exit(0);
		}
	}
	for (i = 0; i < APPENDERS; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(audit_verify_db(store_dbh(st), key, NULL, NULL, &rep), 0);
	assert_int_equal(rep.records, 1 + APPENDERS * APPENDS);
	assert_int_equal(rep.n_stations, 2);
	assert_string_equal(rep.stations[0].station, "km01");
	assert_int_equal(rep.stations[0].last_seq, 1 + APPENDS);
	assert_string_equal(rep.stations[1].station, "dl01");
	assert_int_equal(rep.stations[1].first_seq, 1);
	assert_int_equal(rep.stations[1].last_seq, APPENDS);
	store_close(st);
}

/* Runs docs/pg-roles.sql on database name as the superuser and makes the
 * station role km01 (as test_pg_store does). */
static void
apply_roles(const char *name)
{
	char url[256], path[512], *sql;
	struct db *db = NULL;
	const char *src = getenv("UKEY_SOURCE_DIR");
	FILE *f;
	long len;

	snprintf(path, sizeof(path), "%s/docs/pg-roles.sql", src ? src : UKEY_SOURCE_DIR);
	assert_non_null(f = fopen(path, "r"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	assert_true((len = ftell(f)) > 0);
	rewind(f);
	assert_non_null(sql = calloc(1, (size_t)len + 1));
	assert_int_equal(fread(sql, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	pg_conninfo(&server, name, url, sizeof(url));
	assert_int_equal(db_open(url, &db), 0);
	assert_int_equal(db_exec(db, sql), 0);
	assert_int_equal(db_exec(db, "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE"
	    " rolname = 'km01') THEN CREATE ROLE km01 LOGIN IN ROLE ukey_station; END IF; END$$"),
	    0);
	db_close(db);
	free(sql);
}

/* A station's role (docs/pg-roles.sql) can do everything these modules do:
 * a job, its journal and CA transaction, the audit lock, checkpoints and
 * verification; it cannot change an audit row. */
static void
test_station_role(void **state)
{
	struct store_ca_txn t = { .tid = { 0x01 }, .tid_len = 1, .nonce_len = 1 };
	struct audit_report rep;
	char url[256];
	struct store *st = fresh_store("rolejobs", url, sizeof(url));
	int64_t unit = first_unit(st, "KM-R1"), id;

	store_close(st);
	apply_roles("rolejobs");
	snprintf(url, sizeof(url), "host=%s dbname=rolejobs user=km01", server.dir);
	assert_int_equal(store_open_url(url, &st), 0);
	id = new_job(st, unit);
	assert_int_equal(store_job_step_mark(st, id, "claimed", "done", NULL, AT), 0);
	assert_int_equal(store_job_ca_txn_set(st, id, &t, AT), 0);
	assert_int_equal(store_job_ca_txn_set(st, id, &t, AT2), 0);
	assert_int_equal(store_job_ca_txn_clear(st, id), 0);
	assert_int_equal(store_job_end(st, id, "failed", "test", AT3), 0);
	assert_int_equal(audit_key_register(st, "km01", key), 0);
	assert_int_equal(audit_key_register(st, "km01", key), 0);
	fill_log(st);
	assert_int_equal(audit_verify_db(store_dbh(st), key, NULL, NULL, &rep), 0);
	assert_int_equal(rep.records, 8);
	assert_int_equal(rep.stations[0].n_keys, 1);
	assert_int_equal(store_run(st, "UPDATE audit SET detail = NULL WHERE id = 3", ""),
	    UKEY_ERR_PERM);
	assert_int_equal(store_run(st, "UPDATE audit_keys SET station = 'x'", ""), UKEY_ERR_PERM);
	assert_int_equal(store_run(st, "DELETE FROM audit_keys", ""), UKEY_ERR_PERM);
	store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_job_journal),
		cmocka_unit_test(test_suspended_pinned),
		cmocka_unit_test(test_token_and_issued),
		cmocka_unit_test(test_ca_txn),
		cmocka_unit_test(test_audit_chain),
		cmocka_unit_test(test_audit_concurrent),
		cmocka_unit_test(test_station_role),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
