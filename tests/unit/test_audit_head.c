/* The audit log's head (audit_head) against a real SQLite database: the
 * genesis hash and no record for an empty log, then the count and the hash
 * of the last record appended, the one the next record chains to. */
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
#include "store/audit.h"
#include "store/store.h"
#include "store_fixture.h"

#define GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

/* The hash stored with record id (and its prev_hash when prev is set). */
static void
stored_hash(struct store *st, int64_t id, int prev, char out[AUDIT_HASH_LEN + 1])
{
	struct json_object *row = NULL;

	assert_int_equal(store_row(st, &row, "SELECT hash, prev_hash FROM audit WHERE id = ?", "i",
	    id), 0);
	snprintf(out, AUDIT_HASH_LEN + 1, "%s",
	    json_object_get_string(json_object_object_get(row, prev ? "prev_hash" : "hash")));
	json_object_put(row);
}

static void
test_head(void **state)
{
	const struct audit_event ev = { .station = "st1", .actor = "alice", .action = "order.import",
		.order_id = 4 };
	char dir[64], head[AUDIT_HASH_LEN + 1], want[AUDIT_HASH_LEN + 1];
	struct store *st;
	int64_t records = -1, id = 0;

	(void)state;
	st = store_fixture_open(dir, sizeof(dir), "audithead");
	assert_int_equal(audit_head(st, "st1", &records, head), 0);
	assert_int_equal(records, 0);
	assert_string_equal(head, GENESIS);

	/* the first record chains to the genesis hash */
	assert_int_equal(audit_append(st, &ev, &id), 0);
	assert_int_equal(id, 1);
	stored_hash(st, 1, 1, want);
	assert_string_equal(want, GENESIS);
	assert_int_equal(audit_head(st, "st1", &records, head), 0);
	assert_int_equal(records, 1);
	stored_hash(st, 1, 0, want);
	assert_string_equal(head, want);
	assert_int_equal(strlen(head), AUDIT_HASH_LEN);

	/* each next record chains to the head before it */
	assert_int_equal(audit_append(st, &ev, &id), 0);
	assert_int_equal(id, 2);
	stored_hash(st, 2, 1, want);
	assert_string_equal(want, head);
	assert_int_equal(audit_head(st, "st1", &records, head), 0);
	assert_int_equal(records, 2);
	stored_hash(st, 2, 0, want);
	assert_string_equal(head, want);
	store_fixture_close(st, dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
