/* The order lifecycle table: every (state, event) pair, legal and illegal,
 * against an expectation written out here independently of the table, with
 * the exact refusal message for each illegal pair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "orders/lifecycle.h"

/* The legal transitions (DOMAIN.md §1, docs/orders-lifecycle.md). */
static const struct {
	const char *from, *event, *to;
} legal[] = {
	{ "pending", "approve", "approved" },
	{ "pending", "reject", "rejected" },
	{ "pending", "override", "pending" },
	{ "pending", "cancel", "cancelled" },
	{ "approved", "pay", "waiting_production" },
	{ "approved", "cancel", "cancelled" },
	{ "rejected", "edit", "rejected" },
	{ "rejected", "resubmit", "pending" },
	{ "rejected", "cancel", "cancelled" },
	{ "waiting_production", "start_production", "in_production" },
	{ "waiting_production", "cancel", "cancelled" },
	{ "in_production", "start_production", "in_production" },
	{ "in_production", "finish_production", "issued" },
	{ "in_production", "cancel", "cancelled" },
	{ "issued", "deliver", "delivered" },
	{ "issued", "invoice_request", "issued" },
	{ "delivered", "invoice_request", "delivered" },
};

static const char *const states[] = {
	"pending", "approved", "rejected", "waiting_production", "in_production", "issued",
	"delivered", "cancelled",
};

/* Each event: what the refusal says it cannot do, and where it can. */
static const struct {
	const char *event, *verb, *only;
} events[] = {
	{ "approve", "approve", "pending" },
	{ "reject", "reject", "pending" },
	{ "override", "override the identity checks of", "pending" },
	{ "edit", "edit", "rejected" },
	{ "resubmit", "resubmit", "rejected" },
	{ "pay", "take payment for", "approved" },
	{ "start_production", "start production of", "waiting_production or in_production" },
	{ "finish_production", "finish production of", "in_production" },
	{ "deliver", "deliver", "issued" },
	{ "cancel", "cancel", "pending, approved, rejected, waiting_production or in_production" },
	{ "invoice_request", "request an invoice for", "issued or delivered" },
};

static const char *
legal_target(const char *from, const char *event)
{
	size_t i;

	for (i = 0; i < sizeof(legal) / sizeof(legal[0]); i++)
		if (strcmp(legal[i].from, from) == 0 && strcmp(legal[i].event, event) == 0)
			return legal[i].to;
	return NULL;
}

static void
test_every_pair(void **state)
{
	size_t si, ei, n_legal = 0, n_illegal = 0;

	(void)state;
	assert_int_equal(sizeof(states) / sizeof(states[0]), OS_COUNT_);
	assert_int_equal(sizeof(events) / sizeof(events[0]), OE_COUNT_);
	for (si = 0; si < OS_COUNT_; si++) {
		for (ei = 0; ei < OE_COUNT_; ei++) {
			enum order_state from, to = OS_COUNT_;
			enum order_event ev;
			const char *want = legal_target(states[si], events[ei].event);
			char msg[256], expect[256];
			int rc;

			assert_int_equal(order_state_parse(states[si], &from), 0);
			assert_int_equal(order_event_parse(events[ei].event, &ev), 0);
			rc = lifecycle_next(from, ev, &to);
			if (want != NULL) {
				if (rc != 0)
					fail_msg("%s in %s should be legal", events[ei].event, states[si]);
				assert_string_equal(order_state_name(to), want);
				n_legal++;
				continue;
			}
			if (rc != UKEY_ERR_STATE)
				fail_msg("%s in %s should be refused, got %d -> %s", events[ei].event,
				    states[si], rc, order_state_name(to));
			lifecycle_refusal(7, from, ev, msg, sizeof(msg));
			snprintf(expect, sizeof(expect), "order 7: cannot %s an order in state %s"
			    " (only %s orders)", events[ei].verb, states[si], events[ei].only);
			assert_string_equal(msg, expect);
			n_illegal++;
		}
	}
	assert_int_equal(n_legal, sizeof(legal) / sizeof(legal[0]));
	assert_int_equal(n_legal + n_illegal, (size_t)OS_COUNT_ * OE_COUNT_);
}

/* The examples of the brief, word for word. */
static void
test_messages(void **state)
{
	char msg[256];

	(void)state;
	lifecycle_refusal(3, OS_APPROVED, OE_DELIVER, msg, sizeof(msg));
	assert_string_equal(msg, "order 3: cannot deliver an order in state approved"
	    " (only issued orders)");
	lifecycle_refusal(12, OS_ISSUED, OE_CANCEL, msg, sizeof(msg));
	assert_string_equal(msg, "order 12: cannot cancel an order in state issued"
	    " (only pending, approved, rejected, waiting_production or in_production orders)");
	lifecycle_refusal(4, OS_PENDING, OE_EDIT, msg, sizeof(msg));
	assert_string_equal(msg, "order 4: cannot edit an order in state pending"
	    " (only rejected orders)");
	/* a short buffer is cut, still terminated */
	lifecycle_refusal(3, OS_APPROVED, OE_DELIVER, msg, 10);
	assert_string_equal(msg, "order 3: ");
}

static void
test_names(void **state)
{
	enum order_state st;
	enum order_event ev;
	int i;

	(void)state;
	for (i = 0; i < OS_COUNT_; i++) {
		assert_int_equal(order_state_parse(order_state_name((enum order_state)i), &st), 0);
		assert_int_equal(st, i);
	}
	for (i = 0; i < OE_COUNT_; i++) {
		assert_int_equal(order_event_parse(order_event_name((enum order_event)i), &ev), 0);
		assert_int_equal(ev, i);
	}
	assert_int_equal(order_state_parse("paid", &st), UKEY_ERR_INVAL);
	assert_int_equal(order_state_parse("Pending", &st), UKEY_ERR_INVAL);
	assert_int_equal(order_state_parse(NULL, &st), UKEY_ERR_INVAL);
	assert_int_equal(order_event_parse("ship", &ev), UKEY_ERR_INVAL);
	assert_string_equal(order_state_name(OS_COUNT_), "?");
	assert_string_equal(order_event_name(OE_COUNT_), "?");
	assert_int_equal(lifecycle_next(OS_COUNT_, OE_APPROVE, &st), UKEY_ERR_STATE);
	assert_int_equal(lifecycle_next(OS_PENDING, OE_COUNT_, &st), UKEY_ERR_STATE);
}

/* Nothing leaves a cancelled order, and every state but cancelled has a way on. */
static void
test_cancelled_is_final(void **state)
{
	enum order_state to;
	int s, e, out;

	(void)state;
	for (s = 0; s < OS_COUNT_; s++) {
		for (e = 0, out = 0; e < OE_COUNT_; e++)
			if (lifecycle_next((enum order_state)s, (enum order_event)e, &to) == 0)
				out++;
		if (s == OS_CANCELLED)
			assert_int_equal(out, 0);
		else
			assert_true(out > 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_pair),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_cancelled_is_final),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
