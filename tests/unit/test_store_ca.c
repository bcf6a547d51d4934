/* The embedded CA's database (store_ca.c): migrations, including from a
 * ca.db made before there were any; the issued list's inserts, look-ups
 * and revocation; the CRL numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "store/store_ca.h"

struct fixture {
	char dir[64];
	char path[96];
	struct store_ca *db;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/ukey-test-storeca-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/ca.db", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	store_ca_close(f->db);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void
insert(struct store_ca *db, const char *serial, const char *key, int want)
{
	static const uint8_t der[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	struct store_ca_new c = {
		.serial = serial, .request_key = key, .subject = "CN=张三,O=测试",
		.not_before = "2026-11-21T08:20:00Z", .not_after = "2027-11-21T08:20:00Z",
		.issued_at = "2026-11-21T08:20:00Z", .der = der, .der_len = sizeof(der),
	};

	assert_int_equal(store_ca_insert(db, &c), want);
}

static void
test_fresh_and_rows(void **state)
{
	struct fixture *f = *state;
	struct store_ca_cert c;

	assert_int_equal(store_ca_open(f->path, &f->db), 0);
	assert_int_equal(store_ca_version(f->db), STORE_CA_VERSION);
	insert(f->db, "0A1B", "order-1/unit-1", 0);
	insert(f->db, "0C2D", "order-1/unit-2", 0);
	/* a serial or request key is recorded once */
	insert(f->db, "0A1B", "order-9/unit-9", UKEY_ERR_EXISTS);
	insert(f->db, "FFFF", "order-1/unit-1", UKEY_ERR_EXISTS);

	assert_int_equal(store_ca_find_request(f->db, "order-1/unit-2", &c), 0);
	assert_string_equal(c.serial, "0C2D");
	assert_string_equal(c.status, "valid");
	assert_string_equal(c.subject, "CN=张三,O=测试");
	assert_null(c.revoked_at);
	assert_int_equal(c.der_len, 5);
	assert_int_equal(c.der[0], 0x30);
	store_ca_cert_clear(&c);
	assert_int_equal(store_ca_find_serial(f->db, "0A1B", &c), 0);
	assert_string_equal(c.request_key, "order-1/unit-1");
	store_ca_cert_clear(&c);
	assert_int_equal(store_ca_find_serial(f->db, "0BAD", &c), UKEY_ERR_NOTFOUND);
	assert_null(c.serial);
	assert_int_equal(store_ca_find_request(f->db, "nobody", &c), UKEY_ERR_NOTFOUND);
}

static void
test_revoke_and_lists(void **state)
{
	struct fixture *f = *state;
	struct store_ca_cert *a = NULL, c;
	size_t n = 99;

	assert_int_equal(store_ca_open(f->path, &f->db), 0);
	assert_int_equal(store_ca_list_revoked(f->db, &a, &n), 0);
	assert_int_equal(n, 0);
	assert_null(a);
	insert(f->db, "01", "k1", 0);
	insert(f->db, "02", "k2", 0);
	insert(f->db, "03", "k3", 0);
	assert_int_equal(store_ca_revoke(f->db, "0404", "keyCompromise", "2026-12-01T00:00:00Z"),
	    UKEY_ERR_NOTFOUND);
	assert_int_equal(store_ca_revoke(f->db, "03", "superseded", "2026-12-02T00:00:00Z"), 0);
	assert_int_equal(store_ca_revoke(f->db, "01", "keyCompromise", "2026-12-03T00:00:00Z"), 0);
	/* revoked once: the second time changes nothing */
	assert_int_equal(store_ca_revoke(f->db, "01", "unspecified", "2026-12-04T00:00:00Z"),
	    UKEY_ERR_STATE);
	assert_int_equal(store_ca_find_serial(f->db, "01", &c), 0);
	assert_string_equal(c.status, "revoked");
	assert_string_equal(c.revoke_reason, "keyCompromise");
	assert_string_equal(c.revoked_at, "2026-12-03T00:00:00Z");
	store_ca_cert_clear(&c);

	assert_int_equal(store_ca_list(f->db, &a, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(a[0].serial, "01");
	assert_string_equal(a[1].status, "valid");
	assert_null(a[1].revoked_at);
	assert_null(a[2].der);		/* lists leave the DER out */
	store_ca_certs_free(a, n);
	/* the revoked, in the order of revocation */
	assert_int_equal(store_ca_list_revoked(f->db, &a, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(a[0].serial, "03");
	assert_string_equal(a[0].revoke_reason, "superseded");
	assert_string_equal(a[1].serial, "01");
	assert_string_equal(a[1].revoked_at, "2026-12-03T00:00:00Z");
	assert_null(a[1].subject);	/* only what a CRL entry says */
	store_ca_certs_free(a, n);
}

static void
test_crl_numbers(void **state)
{
	struct fixture *f = *state;
	int64_t num = 0;

	assert_int_equal(store_ca_open(f->path, &f->db), 0);
	assert_int_equal(store_ca_crl_next(f->db, "2026-12-01T00:00:00Z", "2026-12-03T00:00:00Z", 0,
	    &num), 0);
	assert_int_equal(num, 1);
	assert_int_equal(store_ca_begin(f->db), 0);
	assert_int_equal(store_ca_crl_next(f->db, "2026-12-02T00:00:00Z", "2026-12-04T00:00:00Z", 2,
	    &num), 0);
	assert_int_equal(num, 2);
	/* a CRL not signed after all gives its number back */
	store_ca_rollback(f->db);
	assert_int_equal(store_ca_crl_next(f->db, "2026-12-02T00:00:00Z", "2026-12-04T00:00:00Z", 2,
	    &num), 0);
	assert_int_equal(num, 2);
	/* and the numbers go on after a reopen */
	store_ca_close(f->db);
	f->db = NULL;
	assert_int_equal(store_ca_open(f->path, &f->db), 0);
	assert_int_equal(store_ca_crl_next(f->db, "2026-12-03T00:00:00Z", "2026-12-05T00:00:00Z", 1,
	    &num), 0);
	assert_int_equal(num, 3);
}

/* A ca.db written before the migrations: the table at user_version 1. */
static void
test_migrate_old_db(void **state)
{
	struct fixture *f = *state;
	struct store_ca_cert c;
	char cmd[1024];
	int64_t num = 0;

	snprintf(cmd, sizeof(cmd), "sqlite3 '%s' \"CREATE TABLE issued (serial TEXT PRIMARY KEY,"
	    " request_key TEXT UNIQUE, subject TEXT NOT NULL, not_before TEXT NOT NULL,"
	    " not_after TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'valid' CHECK (status IN"
	    " ('valid', 'revoked')), revoked_at TEXT, revoke_reason TEXT, der BLOB NOT NULL,"
	    " issued_at TEXT NOT NULL); INSERT INTO issued VALUES ('AB', 'old-key', 'CN=x',"
	    " '2020-01-01T00:00:00Z', '2030-01-01T00:00:00Z', 'revoked', '2021-01-01T00:00:00Z',"
	    " 'superseded', x'3000', '2020-01-01T00:00:00Z'); PRAGMA user_version = 1;\"", f->path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(store_ca_open(f->path, &f->db), 0);
	assert_int_equal(store_ca_version(f->db), 2);
	assert_int_equal(store_ca_find_request(f->db, "old-key", &c), 0);
	assert_string_equal(c.revoke_reason, "superseded");
	store_ca_cert_clear(&c);
	assert_int_equal(store_ca_crl_next(f->db, "2026-12-01T00:00:00Z", "2026-12-03T00:00:00Z", 1,
	    &num), 0);
	assert_int_equal(num, 1);
}

/* A database from a newer program is refused, not downgraded. */
static void
test_newer_db_refused(void **state)
{
	struct fixture *f = *state;
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "sqlite3 '%s' 'PRAGMA user_version = %d;'", f->path,
	    STORE_CA_VERSION + 1);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(store_ca_open(f->path, &f->db), UKEY_ERR_DB);
	assert_null(f->db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh_and_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_and_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crl_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_old_db, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_db_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
