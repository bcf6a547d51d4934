/* The order lifecycle: the states an order passes through on the station,
 * the events that move it, and the one table that says which event is legal
 * in which state (docs/orders-lifecycle.md). */
#ifndef UKEY_LIFECYCLE_H
#define UKEY_LIFECYCLE_H

#include <stddef.h>
#include <stdint.h>

enum order_state {
	OS_PENDING,		/* 未审核: imported or resubmitted, waiting for review */
	OS_APPROVED,		/* 审核通过: waiting for payment */
	OS_REJECTED,		/* 驳回: may be edited and resubmitted */
	OS_WAITING_PRODUCTION,	/* paid; 待制证: units queued */
	OS_IN_PRODUCTION,	/* at least one unit has been claimed by a token */
	OS_ISSUED,		/* 已发证: every unit issued */
	OS_DELIVERED,		/* tokens picked up or mailed */
	OS_CANCELLED,		/* ended without production */
	OS_COUNT_
};

enum order_event {
	OE_APPROVE,		/* reviewer accepts the order */
	OE_REJECT,		/* reviewer sends it back, with a remark */
	OE_OVERRIDE,		/* reviewer accepts failed identity check characters */
	OE_EDIT,		/* new content for a rejected order */
	OE_RESUBMIT,		/* a rejected order goes back to review */
	OE_PAY,			/* payment taken; units join the queue */
	OE_START_PRODUCTION,	/* a token claims one of the order's units */
	OE_FINISH_PRODUCTION,	/* the last unit is issued */
	OE_DELIVER,		/* picked up or mailed */
	OE_CANCEL,		/* the order ends without (further) production */
	OE_INVOICE_REQUEST,	/* the invoice is asked for */
	OE_COUNT_
};

/* "pending", "waiting_production", ...: the names the store and the
 * protocol use. Never NULL ("?" for an out-of-range value). */
const char *order_state_name(enum order_state st);

/* Parses a state name; returns 0 or UKEY_ERR_INVAL. */
int order_state_parse(const char *name, enum order_state *out);

/* "approve", "invoice_request", ...: the audit action is "order.<name>".
 * Never NULL. */
const char *order_event_name(enum order_event ev);

/* Parses an event name; returns 0 or UKEY_ERR_INVAL. */
int order_event_parse(const char *name, enum order_event *out);

/* Looks the pair up in the transition table. Returns 0 with *to set when ev
 * is legal in from (to may equal from: an edit, an override and an invoice
 * request leave the state as it is), else UKEY_ERR_STATE. Guards that depend
 * on more than the state (a remark, the units' states, the order's invoice
 * choice) are the caller's. */
int lifecycle_next(enum order_state from, enum order_event ev, enum order_state *to);

/* Writes the refusal for an illegal pair, naming the order, the current
 * state and the states the event is allowed in:
 *   "order 3: cannot deliver an order in state approved (only issued orders)"
 * Always NUL-terminates buf (when len > 0). */
void lifecycle_refusal(int64_t order_id, enum order_state from, enum order_event ev, char *buf,
    size_t len);

#endif
