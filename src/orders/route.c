/* Renewal routing: resolving the certificate a renewal order renews, and
 * choosing which queued units a token in a bay may be given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "orders/route.h"
#include "store/store_orders.h"

/* The kind of the order's one certificate; fails when it asks for another
 * number than one. */
static int
renewal_item_kind(int64_t order_id, const struct order *o, enum item_kind *kind, char *why,
    size_t whylen)
{
	unsigned n = order_cert_count(o);

	if (n != 1 || o->n_items != 1) {
		snprintf(why, whylen, "order %lld: a renewal order renews one certificate on its"
		    " token; this one asks for %u", (long long)order_id, n);
		return UKEY_ERR_VERIFY;
	}
	*kind = o->items[0].kind;
	return 0;
}

/* Why a renewal order's certificate is refused, into why: the name matches
 * no live certificate, several, or one of another kind or organisation. */
static int
resolve_refusal(int64_t order_id, const struct order *o, enum item_kind kind,
    const struct store_live_cert *c, size_t n, char *why, size_t whylen)
{
	char list[256] = "";
	size_t i, off = 0;

	if (n == 0) {
		if (o->renews_uscc != NULL)
			snprintf(why, whylen, "order %lld, renews: this station has issued no live %s"
			    " certificate to organisation %s", (long long)order_id,
			    item_kind_name(o->renews_kind), o->renews_uscc);
		else
			snprintf(why, whylen, "order %lld, renews.serial: %s names no live certificate"
			    " issued by this station", (long long)order_id, o->renews_serial);
		return UKEY_ERR_NOTFOUND;
	}
	if (n > 1) {
		for (i = 0; i < n && off + 1 < sizeof(list); i++) {
			int w = snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "",
			    c[i].cert_serial);

			if (w < 0)
				break;
			off += (size_t)w;
		}
		snprintf(why, whylen, "order %lld, renews: %zu live %s certificates of organisation %s"
		    " (serials %s); name the one to renew by serial", (long long)order_id, n,
		    item_kind_name(o->renews_kind), o->renews_uscc ? o->renews_uscc : "?", list);
		return UKEY_ERR_VERIFY;
	}
	if (strcmp(c->kind, item_kind_name(kind)) != 0) {
		snprintf(why, whylen, "order %lld, renews: certificate %s is of kind %s, but the order"
		    " asks for one of kind %s", (long long)order_id, c->cert_serial, c->kind,
		    item_kind_name(kind));
		return UKEY_ERR_VERIFY;
	}
	if (strcmp(c->org_uscc, o->account_uscc) != 0) {
		snprintf(why, whylen, "order %lld, renews: certificate %s was issued to organisation %s,"
		    " not to the account %s that filed the order", (long long)order_id, c->cert_serial,
		    c->org_uscc, o->account_uscc);
		return UKEY_ERR_VERIFY;
	}
	return 0;
}

int
route_renewal_resolve(struct store *st, int64_t order_id, const struct order *o,
    char **serial_out, char *why, size_t whylen)
{
	struct store_live_cert *certs = NULL;
	enum item_kind kind = ITEM_ORG;
	size_t n = 0;
	int64_t other = 0;
	int rc;

	*serial_out = NULL;
	why[0] = '\0';
	if (o->type != ORDER_RENEWAL) {
		snprintf(why, whylen, "order %lld: not a renewal order", (long long)order_id);
		return UKEY_ERR_INVAL;
	}
	if ((rc = renewal_item_kind(order_id, o, &kind, why, whylen)) != 0)
		return rc;
	if (o->renews_uscc != NULL)
		rc = store_live_certs_by_org(st, o->renews_uscc, item_kind_name(o->renews_kind),
		    &certs, &n);
	else
		rc = store_live_certs_by_serial(st, o->renews_serial, &certs, &n);
	if (rc != 0)
		goto out;
	if ((rc = resolve_refusal(order_id, o, kind, certs, n, why, whylen)) != 0)
		goto out;
	rc = store_order_renewing(st, certs[0].cert_serial, order_id, &other);
	if (rc == 0) {
		snprintf(why, whylen, "order %lld, renews: certificate %s is already being renewed by"
		    " order %lld", (long long)order_id, certs[0].cert_serial, (long long)other);
		rc = UKEY_ERR_EXISTS;
		goto out;
	}
	if (rc != UKEY_ERR_NOTFOUND)
		goto out;
	if ((*serial_out = strdup(certs[0].cert_serial)) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	rc = 0;
 out:
	store_live_certs_free(certs, n);
	return rc;
}

int
route_token_certs(struct store *st, const char *profile, const char *serial, int64_t *n)
{
	return store_token_live_certs(st, profile, serial, n);
}

int
route_units_for_token(struct store *st, const char *profile, const char *serial, int limit,
    struct store_unit_claim **units_out, size_t *n)
{
	return store_units_for_token(st, profile, serial, limit, units_out, n);
}
