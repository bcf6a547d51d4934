/* Pricing of an order: 200 yuan per certificate per year over the ticked
 * sections, in integer fen so that no amount is ever rounded. */
#include <inttypes.h>
#include <stdio.h>

#include "orders/order.h"

int64_t
order_total_fen(const struct order *o)
{
	int64_t total = 0;
	size_t i;

	/* Only ticked sections become items, so an unticked section with years
	 * and count filled in adds nothing, as on the portal. */
	for (i = 0; i < o->n_items; i++)
		total += (int64_t)o->items[i].years * o->items[i].count * ORDER_FEE_FEN_PER_CERT_YEAR;
	return total;
}

unsigned
order_cert_count(const struct order *o)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < o->n_items; i++)
		n += (unsigned)o->items[i].count;
	return n;
}

void
order_fen_format(int64_t fen, char *buf, size_t buflen)
{
	uint64_t a;

	if (buf == NULL || buflen == 0)
		return;
	/* Negate in unsigned arithmetic: -INT64_MIN does not fit an int64_t. */
	a = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;
	snprintf(buf, buflen, "%s%" PRIu64 ".%02" PRIu64, fen < 0 ? "-" : "", a / 100, a % 100);
}
