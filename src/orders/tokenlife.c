/* The token's state table (tokenlife.h, docs/lifecycle.md). */
#include <stdio.h>
#include <string.h>

#include "orders/tokenlife.h"

static const char *const names[TS_COUNT_] = {
	[TS_IN_STOCK] = "in-stock", [TS_ISSUED] = "issued", [TS_LOST] = "lost",
	[TS_DAMAGED] = "damaged", [TS_DESTROYED] = "destroyed", [TS_RETURNED] = "returned",
};

/* allowed[from][to]: the marks the station records. A lost token found again
 * is handed back (returned); only a token in the station's hands can be
 * destroyed or put back in stock (after a wipe); a destroyed one is final. */
static const unsigned char allowed[TS_COUNT_][TS_COUNT_] = {
	[TS_IN_STOCK] = { [TS_LOST] = 1, [TS_DAMAGED] = 1, [TS_DESTROYED] = 1 },
	[TS_ISSUED] = { [TS_LOST] = 1, [TS_DAMAGED] = 1, [TS_RETURNED] = 1 },
	[TS_LOST] = { [TS_RETURNED] = 1 },
	[TS_DAMAGED] = { [TS_DESTROYED] = 1 },
	[TS_DESTROYED] = { 0 },
	[TS_RETURNED] = { [TS_IN_STOCK] = 1, [TS_LOST] = 1, [TS_DAMAGED] = 1, [TS_DESTROYED] = 1 },
};

const char *
token_state_name(enum token_state s)
{
	return (unsigned)s < TS_COUNT_ ? names[s] : "?";
}

int
token_state_parse(const char *s)
{
	int i;

	for (i = 0; i < TS_COUNT_; i++)
		if (s != NULL && strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

int
token_mark_allowed(enum token_state from, enum token_state to)
{
	return (unsigned)from < TS_COUNT_ && (unsigned)to < TS_COUNT_ && allowed[from][to];
}

const char *
token_mark_reason(enum token_state to)
{
	switch (to) {
	case TS_LOST:
		return "keyCompromise";
	case TS_DAMAGED:
	case TS_DESTROYED:
	case TS_RETURNED:
		return "cessationOfOperation";
	default:
		return NULL;
	}
}

void
token_marks_from(enum token_state from, char *buf, unsigned long len)
{
	size_t used = 0;
	int to, n;

	snprintf(buf, len, "none");
	for (to = 0; to < TS_COUNT_; to++) {
		if (!token_mark_allowed(from, to))
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", names[to]);
		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	}
}
