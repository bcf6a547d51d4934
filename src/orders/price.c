/* Pricing of an order: 200 yuan per certificate per year over the ticked
 * sections, in integer fen so that no amount is ever rounded; a replacement
 * (补办) costs the station's configured fee per certificate. */
#include <inttypes.h>
#include <stdio.h>

#include "common/err.h"
#include "orders/order.h"

int64_t
order_total_fen(const struct order *o)
{
	int64_t total = 0;
	size_t i;

	if (o->type == ORDER_REPLACEMENT)
		return o->stated_amount_fen;
	/* Only ticked sections become items, so an unticked section with years
	 * and count filled in adds nothing, as on the portal. */
	for (i = 0; i < o->n_items; i++)
		total += (int64_t)o->items[i].years * o->items[i].count * ORDER_FEE_FEN_PER_CERT_YEAR;
	return total;
}

int
order_replacement_fee_check(const struct order *o, int64_t fee_fen, char *why, size_t whylen)
{
	char want[32], got[32];
	int64_t due = fee_fen * (int64_t)order_cert_count(o);

	if (o->type != ORDER_REPLACEMENT || o->stated_amount_fen == due)
		return 0;
	order_fen_format(o->stated_amount_fen, got, sizeof(got));
	order_fen_format(due, want, sizeof(want));
	snprintf(why, whylen, "order %s, amount_fen: states %s yuan, but a replacement costs %s"
	    " yuan (%u certificate%s at the station's fee, [fees] replacement_fen)",
	    o->portal_ref ? o->portal_ref : "?", got, want, order_cert_count(o),
	    order_cert_count(o) == 1 ? "" : "s");
	return UKEY_ERR_INVAL;
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
