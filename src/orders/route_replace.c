/* Replacement (补办) at review: the certificate a replacement order names,
 * checked against the station's issuances and the state of its token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "orders/route.h"
#include "store/store_orders.h"
#include "store/store_revoke.h"
#include "store/store_tokens.h"

/* The replaced certificate fits the order: issued here, to the account's
 * organisation, of the kind of the order's one certificate. */
static int
replaced_fits(int64_t order_id, const struct order *o, const struct store_issuance_rev *c,
    const char *station_id, char *why, size_t whylen)
{
	const char *kind = item_kind_name(o->items[0].kind);

	if (station_id != NULL && c->station_id != NULL && strcmp(c->station_id, station_id) != 0) {
		snprintf(why, whylen, "order %lld, replaces.serial: certificate %s was issued by"
		    " station %s, not by this one (%s)", (long long)order_id, c->cert_serial,
		    c->station_id, station_id);
		return UKEY_ERR_VERIFY;
	}
	if (strcmp(c->kind, kind) != 0) {
		snprintf(why, whylen, "order %lld, replaces: certificate %s is of kind %s, but the"
		    " order asks for one of kind %s", (long long)order_id, c->cert_serial, c->kind,
		    kind);
		return UKEY_ERR_VERIFY;
	}
	if (strcmp(c->org_uscc, o->account_uscc) != 0) {
		snprintf(why, whylen, "order %lld, replaces: certificate %s was issued to organisation"
		    " %s, not to the account %s that filed the order", (long long)order_id,
		    c->cert_serial, c->org_uscc, o->account_uscc);
		return UKEY_ERR_VERIFY;
	}
	return 0;
}

/* The token that holds c is marked lost or damaged (its last mark): a
 * replacement is for a token its holder no longer has or can use. */
static int
token_gone(struct store *st, int64_t order_id, const struct store_issuance_rev *c,
    char **state, char *why, size_t whylen)
{
	struct store_token_mark *m = NULL;
	const char *last;
	size_t n = 0;
	int rc;

	*state = NULL;
	if ((rc = store_token_marks(st, c->token_serial, &m, &n)) != 0)
		return rc;
	last = n > 0 ? m[n - 1].state : NULL;
	if (last == NULL || (strcmp(last, "lost") != 0 && strcmp(last, "damaged") != 0)) {
		snprintf(why, whylen, "order %lld, replaces: token %s (certificate %s) is %s, not lost"
		    " or damaged; record its state first (ukeyctl token mark-lost or mark-damaged)",
		    (long long)order_id, c->token_serial, c->cert_serial,
		    last != NULL ? last : "not marked lost or damaged");
		rc = UKEY_ERR_VERIFY;
	} else if ((*state = strdup(last)) == NULL) {
		rc = UKEY_ERR_NOMEM;
	}
	store_token_marks_free(m, n);
	return rc;
}

int
route_replacement_resolve(struct store *st, int64_t order_id, const struct order *o,
    const char *station_id, struct route_replaced *out, char *why, size_t whylen)
{
	struct store_issuance_rev c = { 0 };
	int64_t other = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	why[0] = '\0';
	if (o->type != ORDER_REPLACEMENT) {
		snprintf(why, whylen, "order %lld: not a replacement order", (long long)order_id);
		return UKEY_ERR_INVAL;
	}
	if (order_cert_count(o) != 1 || o->n_items != 1) {
		snprintf(why, whylen, "order %lld: a replacement order replaces one certificate on"
		    " one token; this one asks for %u", (long long)order_id, order_cert_count(o));
		return UKEY_ERR_VERIFY;
	}
	if ((rc = store_issuance_by_serial(st, o->replaces_serial, &c)) == UKEY_ERR_NOTFOUND)
		snprintf(why, whylen, "order %lld, replaces.serial: %s names no certificate issued"
		    " by this station", (long long)order_id, o->replaces_serial);
	if (rc != 0 || (rc = replaced_fits(order_id, o, &c, station_id, why, whylen)) != 0 ||
	    (rc = token_gone(st, order_id, &c, &out->token_state, why, whylen)) != 0)
		goto out;
	rc = store_order_replacing(st, c.cert_serial, order_id, &other);
	if (rc == 0) {
		snprintf(why, whylen, "order %lld, replaces: certificate %s is already being replaced"
		    " by order %lld", (long long)order_id, c.cert_serial, (long long)other);
		rc = UKEY_ERR_EXISTS;
		goto out;
	}
	if (rc != UKEY_ERR_NOTFOUND)
		goto out;
	if ((out->serial = strdup(c.cert_serial)) == NULL ||
	    (out->token_serial = strdup(c.token_serial)) == NULL ||
	    (out->subject = strdup(c.subject)) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	rc = 0;
 out:
	if (rc != 0)
		route_replaced_clear(out);
	store_issuance_rev_clear(&c);
	return rc;
}

void
route_replaced_clear(struct route_replaced *r)
{
	free(r->serial);
	free(r->token_serial);
	free(r->token_state);
	free(r->subject);
	memset(r, 0, sizeof(*r));
}
