/* A throwaway station database for the store's unit tests: a new directory
 * under /tmp holding station.db, opened (and migrated) by store_open. */
#ifndef UKEY_TEST_STORE_FIXTURE_H
#define UKEY_TEST_STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "store/store.h"
#include "store/store_orders.h"
#include "store/store_units.h"

/* Makes dir (at least 64 bytes) /tmp/ukey-test-<tag>-XXXXXX and opens its
 * station.db; fails the test when either cannot be done. */
static inline struct store *
store_fixture_open(char *dir, size_t dirlen, const char *tag)
{
	struct store *st = NULL;
	char path[128];

	snprintf(dir, dirlen, "/tmp/ukey-test-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/station.db", dir);
	assert_int_equal(store_open(path, &st), 0);
	return st;
}

/* Closes st and removes dir with everything in it. */
static inline void
store_fixture_close(struct store *st, const char *dir)
{
	char cmd[128];

	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* The fixture of a test that needs a database and nothing else: cmocka
 * setup and teardown for it (the tag names the directory). */
struct store_fixture {
	char dir[64];
	struct store *st;
};

static inline int
store_fixture_setup(void **state, const char *tag)
{
	struct store_fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->st = store_fixture_open(f->dir, sizeof(f->dir), tag);
	*state = f;
	return 0;
}

static inline int
store_fixture_teardown(void **state)
{
	struct store_fixture *f = *state;

	store_fixture_close(f->st, f->dir);
	free(f);
	return 0;
}

/* What store_fixture_paid_order makes: one item of `count` units of kind
 * under cert_profile for `years`, by the account uscc, as portal_ref. */
struct store_fixture_order {
	const char *portal_ref, *uscc, *kind, *name, *cert_profile;
	int years, count;
};

/* Imports the order of o (its sealed document a few fixed bytes), approves
 * it, takes its payment and queues its units, all at `at`; *order_id gets
 * its id and units[0..count-1] its units' ids (count at most max). */
static inline void
store_fixture_paid_order(struct store *st, const struct store_fixture_order *o, const char *at,
    int64_t *order_id, int64_t *units, size_t max)
{
	static const uint8_t sealed_doc[] = { 0x00, 0x01, 0xfe, 0xff, 0x42 };
	struct store_order_content c = {
		.portal_ref = o->portal_ref, .type = "new", .account_uscc = o->uscc,
		.org_name = "某某科技有限公司", .total_fen = 20000 * o->years * o->count,
		.doc = "{\"masked\":true}", .doc_sealed = sealed_doc,
		.doc_sealed_len = sizeof(sealed_doc),
	};
	struct store_order_item_new it = {
		.seq = 1, .years = o->years, .count = o->count, .kind = o->kind, .name = o->name,
		.cert_profile = o->cert_profile,
	};
	struct store_order_unit *u = NULL;
	size_t n = 0, i;

	assert_true((size_t)o->count <= max);
	assert_int_equal(store_order_insert(st, &c, at, "operator1", order_id), 0);
	assert_int_equal(store_order_add_item(st, *order_id, &it, at), 0);
	assert_int_equal(store_order_set_state(st, *order_id, "pending", "approved", at), 0);
	assert_int_equal(store_order_set_approval(st, *order_id, "reviewer1", at, NULL), 0);
	assert_int_equal(store_order_set_payment(st, *order_id, "PAY-1", at, "cashier"), 0);
	assert_int_equal(store_units_queue_order(st, *order_id, at), 0);
	assert_int_equal(store_order_set_state(st, *order_id, "approved", "waiting_production",
	    at), 0);
	assert_int_equal(store_order_units(st, *order_id, &u, &n), 0);
	assert_int_equal(n, (size_t)o->count);
	for (i = 0; i < n; i++)
		units[i] = u[i].id;
	store_order_units_free(u, n);
}

#endif
