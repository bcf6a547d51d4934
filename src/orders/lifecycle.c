/* The order lifecycle as one transition table: every state change of an
 * order on the station is looked up here first, and the refusal message for
 * an illegal one is built from the same table. */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "orders/lifecycle.h"

static const char *const state_names[OS_COUNT_] = {
	[OS_PENDING] = "pending",
	[OS_APPROVED] = "approved",
	[OS_REJECTED] = "rejected",
	[OS_WAITING_PRODUCTION] = "waiting_production",
	[OS_IN_PRODUCTION] = "in_production",
	[OS_ISSUED] = "issued",
	[OS_DELIVERED] = "delivered",
	[OS_CANCELLED] = "cancelled",
};

static const struct {
	const char *name;
	const char *verb;	/* "cannot <verb> an order in state ..." */
} events[OE_COUNT_] = {
	[OE_APPROVE] = { "approve", "approve" },
	[OE_REJECT] = { "reject", "reject" },
	[OE_OVERRIDE] = { "override", "override the identity checks of" },
	[OE_EDIT] = { "edit", "edit" },
	[OE_RESUBMIT] = { "resubmit", "resubmit" },
	[OE_PAY] = { "pay", "take payment for" },
	[OE_START_PRODUCTION] = { "start_production", "start production of" },
	[OE_FINISH_PRODUCTION] = { "finish_production", "finish production of" },
	[OE_DELIVER] = { "deliver", "deliver" },
	[OE_CANCEL] = { "cancel", "cancel" },
	[OE_INVOICE_REQUEST] = { "invoice_request", "request an invoice for" },
};

/*
 * next[from][event]: the state after the event, or 0 (NONE) when the event
 * is illegal in that state. States are stored plus one so that the table's
 * empty cells mean "refused".
 *
 * From DOMAIN.md §1 and the operator manual: only a pending order is
 * reviewed; only a rejected one is edited and resubmitted (pending and
 * approved orders cannot be edited); only an approved one is paid; an
 * invoice is asked for once the certificates are issued; an order can be
 * cancelled until a token has been claimed for it, and in production as
 * long as none of its units is being produced or issued (its units held or
 * cancelled after failed jobs; cmd_order_cancel checks the units).
 */
#define TO(st) ((st) + 1)
static const unsigned char next[OS_COUNT_][OE_COUNT_] = {
	[OS_PENDING] = {
		[OE_APPROVE] = TO(OS_APPROVED),
		[OE_REJECT] = TO(OS_REJECTED),
		[OE_OVERRIDE] = TO(OS_PENDING),
		[OE_CANCEL] = TO(OS_CANCELLED),
	},
	[OS_APPROVED] = {
		[OE_PAY] = TO(OS_WAITING_PRODUCTION),
		[OE_CANCEL] = TO(OS_CANCELLED),
	},
	[OS_REJECTED] = {
		[OE_EDIT] = TO(OS_REJECTED),
		[OE_RESUBMIT] = TO(OS_PENDING),
		[OE_CANCEL] = TO(OS_CANCELLED),
	},
	[OS_WAITING_PRODUCTION] = {
		[OE_START_PRODUCTION] = TO(OS_IN_PRODUCTION),
		[OE_CANCEL] = TO(OS_CANCELLED),
	},
	[OS_IN_PRODUCTION] = {
		/* each further unit a token claims */
		[OE_START_PRODUCTION] = TO(OS_IN_PRODUCTION),
		[OE_FINISH_PRODUCTION] = TO(OS_ISSUED),
		[OE_CANCEL] = TO(OS_CANCELLED),
	},
	[OS_ISSUED] = {
		[OE_DELIVER] = TO(OS_DELIVERED),
		[OE_INVOICE_REQUEST] = TO(OS_ISSUED),
	},
	[OS_DELIVERED] = {
		[OE_INVOICE_REQUEST] = TO(OS_DELIVERED),
	},
	[OS_CANCELLED] = { 0 },
};

const char *
order_state_name(enum order_state st)
{
	if ((unsigned)st >= OS_COUNT_)
		return "?";
	return state_names[st];
}

int
order_state_parse(const char *name, enum order_state *out)
{
	int i;

	for (i = 0; name != NULL && i < OS_COUNT_; i++) {
		if (strcmp(name, state_names[i]) == 0) {
			*out = (enum order_state)i;
			return 0;
		}
	}
	return UKEY_ERR_INVAL;
}

const char *
order_event_name(enum order_event ev)
{
	if ((unsigned)ev >= OE_COUNT_)
		return "?";
	return events[ev].name;
}

int
order_event_parse(const char *name, enum order_event *out)
{
	int i;

	for (i = 0; name != NULL && i < OE_COUNT_; i++) {
		if (strcmp(name, events[i].name) == 0) {
			*out = (enum order_event)i;
			return 0;
		}
	}
	return UKEY_ERR_INVAL;
}

int
lifecycle_next(enum order_state from, enum order_event ev, enum order_state *to)
{
	if ((unsigned)from >= OS_COUNT_ || (unsigned)ev >= OE_COUNT_ || next[from][ev] == 0)
		return UKEY_ERR_STATE;
	*to = (enum order_state)(next[from][ev] - 1);
	return 0;
}

void
lifecycle_refusal(int64_t order_id, enum order_state from, enum order_event ev, char *buf,
    size_t len)
{
	char allowed[256] = "";
	size_t n = 0, k = 0, off = 0;
	int i;

	if (len == 0)
		return;
	if ((unsigned)ev >= OE_COUNT_) {
		snprintf(buf, len, "order %lld: unknown event", (long long)order_id);
		return;
	}
	for (i = 0; i < OS_COUNT_; i++)
		if (next[i][ev] != 0)
			n++;
	/* "pending, approved, rejected or waiting_production" */
	for (i = 0; i < OS_COUNT_ && off < sizeof(allowed); i++) {
		int w;

		if (next[i][ev] == 0)
			continue;
		k++;
		w = snprintf(allowed + off, sizeof(allowed) - off, "%s%s",
		    k == 1 ? "" : k == n ? " or " : ", ", state_names[i]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	if (n == 0)
		snprintf(buf, len, "order %lld: cannot %s an order in state %s (in no state)",
		    (long long)order_id, events[ev].verb, order_state_name(from));
	else
		snprintf(buf, len, "order %lld: cannot %s an order in state %s (only %s orders)",
		    (long long)order_id, events[ev].verb, order_state_name(from), allowed);
}
