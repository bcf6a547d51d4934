/* Renewal routing: resolving the certificate a renewal order renews, and
 * choosing which queued units a token in a bay may be given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "orders/route.h"

/* A certificate the station issued and still stands behind. Serials are
 * compared without leading zeros and case, since BN_bn2hex writes whole
 * upper-case bytes and an order may name the serial in lower case. */
#define LIVE_CERTS \
    "SELECT s.cert_serial, s.kind, s.org_uscc, s.token_profile, s.token_serial" \
    " FROM issuances s JOIN received_certs c ON c.serial = s.cert_serial" \
    " WHERE c.status = 'issued'"

static const char *
col(struct json_object *row, const char *key)
{
	return json_object_get_string(json_object_object_get(row, key));
}

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

int
route_renewal_resolve(struct store *st, int64_t order_id, const struct order *o,
    char **serial_out, char *why, size_t whylen)
{
	struct json_object *rows = NULL, *row;
	enum item_kind kind = ITEM_ORG;
	const char *serial;
	char list[256] = "";
	size_t i, n, off = 0;
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
		rc = store_query(st, &rows, LIVE_CERTS " AND s.org_uscc = ? AND s.kind = ?"
		    " ORDER BY s.issued_at", "tt", o->renews_uscc, item_kind_name(o->renews_kind));
	else
		rc = store_query(st, &rows, LIVE_CERTS " AND ltrim(upper(s.cert_serial), '0') ="
		    " ltrim(upper(?), '0')", "t", o->renews_serial);
	if (rc != 0)
		goto out;
	n = json_object_array_length(rows);
	if (n == 0) {
		if (o->renews_uscc != NULL)
			snprintf(why, whylen, "order %lld, renews: this station has issued no live %s"
			    " certificate to organisation %s", (long long)order_id,
			    item_kind_name(o->renews_kind), o->renews_uscc);
		else
			snprintf(why, whylen, "order %lld, renews.serial: %s names no live certificate"
			    " issued by this station", (long long)order_id, o->renews_serial);
		rc = UKEY_ERR_NOTFOUND;
		goto out;
	}
	if (n > 1) {
		for (i = 0; i < n && off + 1 < sizeof(list); i++) {
			int w = snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "",
			    col(json_object_array_get_idx(rows, i), "cert_serial"));

			if (w < 0)
				break;
			off += (size_t)w;
		}
		snprintf(why, whylen, "order %lld, renews: %zu live %s certificates of organisation %s"
		    " (serials %s); name the one to renew by serial", (long long)order_id, n,
		    item_kind_name(o->renews_kind), o->renews_uscc ? o->renews_uscc : "?", list);
		rc = UKEY_ERR_VERIFY;
		goto out;
	}
	row = json_object_array_get_idx(rows, 0);
	serial = col(row, "cert_serial");
	if (strcmp(col(row, "kind"), item_kind_name(kind)) != 0) {
		snprintf(why, whylen, "order %lld, renews: certificate %s is of kind %s, but the order"
		    " asks for one of kind %s", (long long)order_id, serial, col(row, "kind"),
		    item_kind_name(kind));
		rc = UKEY_ERR_VERIFY;
		goto out;
	}
	if (strcmp(col(row, "org_uscc"), o->account_uscc) != 0) {
		snprintf(why, whylen, "order %lld, renews: certificate %s was issued to organisation %s,"
		    " not to the account %s that filed the order", (long long)order_id, serial,
		    col(row, "org_uscc"), o->account_uscc);
		rc = UKEY_ERR_VERIFY;
		goto out;
	}
	rc = store_int(st, &other, "SELECT id FROM orders WHERE renews_cert = ? AND id <> ?"
	    " AND state NOT IN ('cancelled', 'rejected') ORDER BY id LIMIT 1", "ti", serial, order_id);
	if (rc == 0) {
		snprintf(why, whylen, "order %lld, renews: certificate %s is already being renewed by"
		    " order %lld", (long long)order_id, serial, (long long)other);
		rc = UKEY_ERR_EXISTS;
		goto out;
	}
	if (rc != UKEY_ERR_NOTFOUND)
		goto out;
	if ((*serial_out = strdup(serial)) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	rc = 0;
 out:
	json_object_put(rows);
	return rc;
}

int
route_token_certs(struct store *st, const char *profile, const char *serial, int64_t *n)
{
	*n = 0;
	if (serial == NULL || serial[0] == '\0')
		return 0;
	return store_int(st, n, "SELECT count(*) FROM issuances s JOIN received_certs c"
	    " ON c.serial = s.cert_serial WHERE c.status = 'issued' AND s.token_profile = ?"
	    " AND s.token_serial = ?", "tt", profile, serial);
}

int
route_units_for_token(struct store *st, const char *profile, const char *serial, int limit,
    struct json_object **units_out)
{
	int64_t held = 0;
	int rc;

	*units_out = NULL;
	if ((rc = route_token_certs(st, profile, serial, &held)) != 0)
		return rc;
	if (held == 0)
		/* a token with no certificate of ours: production of new orders */
		return store_query(st, units_out, "SELECT u.id AS unit_id, o.id AS order_id,"
		    " i.cert_profile, o.type, o.renews_cert FROM units u"
		    " JOIN order_items i ON i.id = u.item_id JOIN orders o ON o.id = i.order_id"
		    " WHERE u.state = 'queued' AND o.type = 'new'"
		    " AND o.state IN ('waiting_production', 'in_production')"
		    ROUTE_QUEUE_ORDER " LIMIT ?", "i", (int64_t)limit);
	/* a token that came back: only the renewal of a certificate it holds */
	return store_query(st, units_out, "SELECT u.id AS unit_id, o.id AS order_id,"
	    " i.cert_profile, o.type, o.renews_cert FROM units u"
	    " JOIN order_items i ON i.id = u.item_id JOIN orders o ON o.id = i.order_id"
	    " WHERE u.state = 'queued' AND o.type = 'renewal'"
	    " AND o.state IN ('waiting_production', 'in_production')"
	    " AND o.renews_cert IN (SELECT s.cert_serial FROM issuances s JOIN received_certs c"
	    "  ON c.serial = s.cert_serial WHERE c.status = 'issued' AND s.token_profile = ?"
	    "  AND s.token_serial = ?)"
	    ROUTE_QUEUE_ORDER " LIMIT ?", "tti", profile, serial,
	    (int64_t)limit);
}
