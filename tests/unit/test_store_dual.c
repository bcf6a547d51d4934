/* The typed store of dual-control requests against a real SQLite database:
 * a request's insert and load, the pending ones past their expiry, the
 * list (pending or all), and the ends of a request (confirmed, closed as
 * expired, refused or cancelled), each only from the state it names. */
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
#include "store/store_dual.h"

#define ASKED "2026-03-02T10:00:00Z"
#define LATER "2026-03-02T10:20:00Z"

static int
setup(void **state)
{
	return store_fixture_setup(state, "storedual");
}

static int
teardown(void **state)
{
	return store_fixture_teardown(state);
}

/* A pending request by user (uid) expiring at expires; its id. */
static int64_t
ask(struct store_fixture *f, const char *action, const char *command, const char *user, int64_t uid,
    const char *expires)
{
	const struct store_dual_new n = {
		.action = action, .command = command, .args = "{\"bay\":2}",
		.subject = "{\"bay\":2,\"bay_name\":\"sim2\",\"token_serial\":\"A1B2\"}",
		.requested_by = user, .requested_uid = uid, .requester_roles = "operator, admin",
		.requested_at = ASKED, .expires_at = expires,
	};
	int64_t id = 0;

	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_dual_insert(f->st, &n, &id), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_true(id > 0);
	return id;
}

static void
test_insert_load(void **state)
{
	struct store_fixture *f = *state;
	struct store_dual_request q = { 0 };
	int64_t id;

	id = ask(f, "wipe", "bay.wipe", "alice", 1001, "2026-03-02T10:15:00Z");
	assert_int_equal(store_dual_load(f->st, id, &q), 0);
	assert_int_equal(q.id, id);
	assert_string_equal(q.action, "wipe");
	assert_string_equal(q.command, "bay.wipe");
	assert_string_equal(q.args, "{\"bay\":2}");
	assert_string_equal(q.subject, "{\"bay\":2,\"bay_name\":\"sim2\",\"token_serial\":\"A1B2\"}");
	assert_string_equal(q.requested_by, "alice");
	assert_int_equal(q.requested_uid, 1001);
	assert_string_equal(q.requester_roles, "operator, admin");
	assert_string_equal(q.requested_at, ASKED);
	assert_string_equal(q.expires_at, "2026-03-02T10:15:00Z");
	assert_string_equal(q.state, "pending");
	/* nothing has ended it yet */
	assert_null(q.confirmed_by);
	assert_null(q.confirmed_at);
	assert_null(q.remark);
	assert_null(q.closed_by);
	assert_null(q.closed_at);
	assert_null(q.close_reason);
	store_dual_request_clear(&q);
	assert_null(q.action);

	/* an unknown id leaves *out cleared */
	assert_int_equal(store_dual_load(f->st, id + 1, &q), UKEY_ERR_NOTFOUND);
	assert_null(q.action);
	assert_int_equal(q.id, 0);
	store_dual_request_clear(&q);
}

static void
test_confirm(void **state)
{
	struct store_fixture *f = *state;
	struct store_dual_request q = { 0 };
	int64_t id, other;

	id = ask(f, "unblock", "token.unblock", "alice", 1001, LATER);
	other = ask(f, "wipe", "bay.wipe", "alice", 1001, LATER);
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_dual_confirm(f->st, id, "bob", "token in hand", ASKED), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_dual_load(f->st, id, &q), 0);
	assert_string_equal(q.state, "confirmed");
	assert_string_equal(q.confirmed_by, "bob");
	assert_string_equal(q.confirmed_at, ASKED);
	assert_string_equal(q.remark, "token in hand");
	assert_null(q.closed_by);
	store_dual_request_clear(&q);

	/* a confirmation without remark stores none */
	assert_int_equal(store_dual_confirm(f->st, other, "carol", NULL, ASKED), 0);
	assert_int_equal(store_dual_load(f->st, other, &q), 0);
	assert_string_equal(q.state, "confirmed");
	assert_null(q.remark);
	store_dual_request_clear(&q);

	/* a request no longer pending is not confirmed again */
	assert_int_equal(store_dual_confirm(f->st, id, "dave", "again", LATER), 0);
	assert_int_equal(store_dual_load(f->st, id, &q), 0);
	assert_string_equal(q.confirmed_by, "bob");
	assert_string_equal(q.remark, "token in hand");
	store_dual_request_clear(&q);

	/* a confirmed request whose command then refuses is closed from confirmed */
	assert_int_equal(store_dual_close(f->st, id, "confirmed", "refused", "bob",
	    "bay 2: the token is busy", LATER), 0);
	assert_int_equal(store_dual_load(f->st, id, &q), 0);
	assert_string_equal(q.state, "refused");
	assert_string_equal(q.closed_by, "bob");
	assert_string_equal(q.closed_at, LATER);
	assert_string_equal(q.close_reason, "bay 2: the token is busy");
	assert_string_equal(q.confirmed_by, "bob");
	store_dual_request_clear(&q);
}

static void
test_close_only_from(void **state)
{
	struct store_fixture *f = *state;
	struct store_dual_request q = { 0 };
	int64_t id;

	id = ask(f, "override", "order.override", "alice", 1001, LATER);
	/* closing from a state it is not in changes nothing */
	assert_int_equal(store_dual_close(f->st, id, "confirmed", "refused", "bob", "no", ASKED),
	    0);
	assert_int_equal(store_dual_load(f->st, id, &q), 0);
	assert_string_equal(q.state, "pending");
	assert_null(q.close_reason);
	store_dual_request_clear(&q);

	assert_int_equal(store_dual_close(f->st, id, "pending", "cancelled", "alice",
	    "cancelled by alice: wrong order", ASKED), 0);
	assert_int_equal(store_dual_load(f->st, id, &q), 0);
	assert_string_equal(q.state, "cancelled");
	assert_string_equal(q.closed_by, "alice");
	assert_string_equal(q.close_reason, "cancelled by alice: wrong order");
	store_dual_request_clear(&q);

	/* nor can a cancelled request be confirmed */
	assert_int_equal(store_dual_confirm(f->st, id, "bob", NULL, LATER), 0);
	assert_int_equal(store_dual_load(f->st, id, &q), 0);
	assert_string_equal(q.state, "cancelled");
	assert_null(q.confirmed_by);
	store_dual_request_clear(&q);

	/* the database refuses a state the table does not know */
	assert_int_equal(store_dual_close(f->st, id, "cancelled", "forgotten", "alice", "x",
	    LATER), UKEY_ERR_EXISTS);
}

static void
test_due(void **state)
{
	struct store_fixture *f = *state;
	struct store_dual_request *a = NULL;
	size_t n = 7;
	int64_t early, at, closed;

	assert_int_equal(store_dual_due(f->st, LATER, &a, &n), 0);
	assert_null(a);
	assert_int_equal(n, 0);

	ask(f, "wipe", "bay.wipe", "alice", 1001, "2026-03-02T10:30:00Z");
	early = ask(f, "wipe", "bay.wipe", "alice", 1001, "2026-03-02T10:05:00Z");
	at = ask(f, "unblock", "token.unblock", "alice", 1001, LATER);
	closed = ask(f, "wipe", "bay.wipe", "alice", 1001, "2026-03-02T10:01:00Z");
	assert_int_equal(store_dual_close(f->st, closed, "pending", "cancelled", "alice", "no",
	    ASKED), 0);

	/* pending and expiring at or before now, by id; not the cancelled one */
	assert_int_equal(store_dual_due(f->st, LATER, &a, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(a[0].id, early);
	assert_int_equal(a[1].id, at);
	assert_string_equal(a[0].expires_at, "2026-03-02T10:05:00Z");
	assert_string_equal(a[1].command, "token.unblock");
	store_dual_requests_free(a, n);

	/* once expired they are due no more */
	assert_int_equal(store_dual_close(f->st, early, "pending", "expired", "ukeyd",
	    "not confirmed by 2026-03-02T10:05:00Z", LATER), 0);
	assert_int_equal(store_dual_due(f->st, LATER, &a, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(a[0].id, at);
	store_dual_requests_free(a, n);
}

static void
test_list(void **state)
{
	struct store_fixture *f = *state;
	struct store_dual_request *a = NULL;
	size_t n = 0;
	int64_t one, two, three;

	assert_int_equal(store_dual_list(f->st, 0, 0, INT64_MAX, &a, &n), 0);
	assert_null(a);
	assert_int_equal(n, 0);
	store_dual_requests_free(NULL, 0);

	one = ask(f, "wipe", "bay.wipe", "alice", 1001, LATER);
	two = ask(f, "override", "order.approve", "bob", 1002, LATER);
	three = ask(f, "unblock", "token.unblock", "carol", 1003, LATER);
	assert_int_equal(store_dual_confirm(f->st, two, "alice", NULL, ASKED), 0);

	/* pending only */
	assert_int_equal(store_dual_list(f->st, 0, 0, INT64_MAX, &a, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(a[0].id, one);
	assert_int_equal(a[1].id, three);
	assert_string_equal(a[1].requested_by, "carol");
	assert_int_equal(a[1].requested_uid, 1003);
	store_dual_requests_free(a, n);

	/* all, by id, with how each stands */
	assert_int_equal(store_dual_list(f->st, 1, 0, INT64_MAX, &a, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(a[0].id, one);
	assert_int_equal(a[1].id, two);
	assert_int_equal(a[2].id, three);
	assert_string_equal(a[1].state, "confirmed");
	assert_string_equal(a[1].confirmed_by, "alice");
	assert_string_equal(a[0].state, "pending");
	store_dual_requests_free(a, n);

	/* pages by id: the pending ones after the first; all after the second */
	assert_int_equal(store_dual_list(f->st, 0, one, 1, &a, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(a[0].id, three);
	store_dual_requests_free(a, n);
	assert_int_equal(store_dual_list(f->st, 1, one, 1, &a, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(a[0].id, two);
	store_dual_requests_free(a, n);
	assert_int_equal(store_dual_list(f->st, 1, three, 5, &a, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_dual_list(f->st, 1, 0, 0, &a, &n), UKEY_ERR_INVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_insert_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_confirm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_only_from, setup, teardown),
		cmocka_unit_test_setup_teardown(test_due, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
