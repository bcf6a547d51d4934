/* A throwaway PostgreSQL server for the tests and the bench
 * (tests/tools/pg-test-server: initdb + pg_ctl on a Unix socket in a new
 * directory under /tmp), fresh databases on it, and a paid order whose units
 * wait in the queue. Plain return codes: no cmocka here. */
#ifndef UKEY_TEST_PG_FIXTURE_H
#define UKEY_TEST_PG_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/store.h"
#include "store/store_orders.h"
#include "store/store_units.h"

struct pg_server {
	char dir[64];
};

static inline const char *
pg_fixture_tool(void)
{
	static char path[512];
	const char *src = getenv("UKEY_SOURCE_DIR");

	snprintf(path, sizeof(path), "%s/tests/tools/pg-test-server", src ? src : UKEY_SOURCE_DIR);
	return path;
}

/* 0, or -1 when the server cannot be started (its log on stderr). */
static inline int
pg_server_start(struct pg_server *s)
{
	char cmd[700];

	snprintf(s->dir, sizeof(s->dir), "/tmp/ukey-pg-XXXXXX");
	if (mkdtemp(s->dir) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s start %s >/dev/null", pg_fixture_tool(), s->dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Stops the server, keeping its cluster; pg_server_start_again restarts it. */
static inline int
pg_server_halt(struct pg_server *s)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd), "%s stop %s", pg_fixture_tool(), s->dir);
	return system(cmd) == 0 ? 0 : -1;
}

static inline int
pg_server_start_again(struct pg_server *s)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd), "%s start %s >/dev/null", pg_fixture_tool(), s->dir);
	return system(cmd) == 0 ? 0 : -1;
}

static inline void
pg_server_stop(struct pg_server *s)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd), "%s stop %s; rm -rf %s", pg_fixture_tool(), s->dir, s->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "pg_server_stop: %s failed\n", cmd);
}

/* The conninfo of database name on s (the superuser, trust on the socket). */
static inline void
pg_conninfo(const struct pg_server *s, const char *name, char *out, size_t sz)
{
	snprintf(out, sz, "host=%s dbname=%s user=ukey_admin", s->dir, name);
}

/* Creates database name (empty) and writes its conninfo to out. */
static inline int
pg_fresh_db(const struct pg_server *s, const char *name, char *out, size_t sz)
{
	struct db *db = NULL;
	char admin[256], sql[128];
	int rc;

	pg_conninfo(s, "ukey", admin, sizeof(admin));
	if ((rc = db_open(admin, &db)) != 0)
		return rc;
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	rc = db_exec(db, sql);
	db_close(db);
	pg_conninfo(s, name, out, sz);
	return rc;
}

/* A new order ref of `count` units, approved, paid and queued at `at`;
 * *order_id its id. */
static inline int
pg_fixture_order(struct store *st, const char *ref, int count, const char *at, int64_t *order_id)
{
	static const uint8_t sealed[] = { 0x00, 0x01, 0xfe, 0xff, 0x42 };
	struct store_order_content c = {
		.portal_ref = ref, .type = "new", .account_uscc = "91530100MA6K0A0A0A",
		.org_name = "某某科技有限公司", .total_fen = 20000 * count, .doc = "{}",
		.doc_sealed = sealed, .doc_sealed_len = sizeof(sealed),
	};
	struct store_order_item_new it = {
		.seq = 1, .years = 1, .count = count, .kind = "legal_rep", .name = "张三",
		.cert_profile = "legal_rep",
	};
	char pay[64];
	int rc;

	snprintf(pay, sizeof(pay), "PAY-%s", ref);
	if ((rc = store_begin(st)) != 0)
		return rc;
	if ((rc = store_order_insert(st, &c, at, "operator1", order_id)) == 0 &&
	    (rc = store_order_add_item(st, *order_id, &it, at)) == 0 &&
	    (rc = store_order_set_state(st, *order_id, "pending", "approved", at)) == 0 &&
	    (rc = store_order_set_approval(st, *order_id, "reviewer1", at, NULL)) == 0 &&
	    (rc = store_order_set_payment(st, *order_id, pay, at, "cashier")) == 0 &&
	    (rc = store_units_queue_order(st, *order_id, at)) == 0 &&
	    (rc = store_order_set_state(st, *order_id, "approved", "waiting_production", at)) == 0)
		return store_commit(st);
	store_rollback(st);
	return rc;
}

#endif
