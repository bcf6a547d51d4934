/* Renewal routing: the certificate a renewal order renews, resolved against
 * the station's issuances, and which queued production units a given token
 * may take (new units for a token holding no certificate of ours, the
 * renewal units naming its certificate otherwise). */
#ifndef UKEY_ROUTE_H
#define UKEY_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "orders/order.h"
#include "store/store.h"
#include "store/store_units.h"

/* Resolves the certificate renewal order o (stored as order_id) names: by
 * serial, or by (organisation USCC, certificate kind). The certificate must
 * be one this station issued and has not revoked, of the same kind as the
 * order's one certificate, and not already named by another live renewal
 * order. Returns 0 with *serial_out (owned, free()) the certificate's serial
 * as the store keeps it; UKEY_ERR_NOTFOUND when no such certificate,
 * UKEY_ERR_VERIFY when the name is ambiguous or does not fit the order,
 * UKEY_ERR_EXISTS when another order already renews it, UKEY_ERR_INVAL when
 * o is not a renewal; why then names the order and the rule. UKEY_ERR_DB or
 * UKEY_ERR_NOMEM otherwise. Loop context (it reads the store). */
int route_renewal_resolve(struct store *st, int64_t order_id, const struct order *o,
    char **serial_out, char *why, size_t whylen);

/* The certificate a replacement order (补办) replaces, as resolved at
 * review. Owned: route_replaced_clear. */
struct route_replaced {
	char *serial;		/* as the store keeps it */
	char *token_serial;	/* the token that held it */
	char *token_state;	/* its last mark: "lost" or "damaged" */
	char *subject;		/* its subject as the record has it */
};

/* Resolves the certificate replacement order o (stored as order_id) names
 * by serial (src/orders/route_replace.c): the order asks for one
 * certificate; the named one was issued by this station (station_id; NULL:
 * any) to the order's account, of the same kind; its token's last recorded
 * mark is lost or damaged (docs/lifecycle.md); no other order that is
 * neither cancelled nor rejected replaces it. The certificate itself may be
 * revoked already (marking the token revoked it). Returns 0 with *out;
 * UKEY_ERR_NOTFOUND (no such certificate), UKEY_ERR_VERIFY (does not fit,
 * token not lost or damaged), UKEY_ERR_EXISTS (another order replaces it),
 * UKEY_ERR_INVAL (not a replacement), with why naming the order and the
 * rule; UKEY_ERR_DB or UKEY_ERR_NOMEM otherwise. Loop context. */
int route_replacement_resolve(struct store *st, int64_t order_id, const struct order *o,
    const char *station_id, struct route_replaced *out, char *why, size_t whylen);
void route_replaced_clear(struct route_replaced *r);

/* The queued units the token (firmware profile, token serial; serial may be
 * NULL or "" for a token that reports none) may take, in queue order, at
 * most limit of them: a token holding no live certificate issued here gets
 * units of new and replacement orders only; a token holding one gets only
 * the units of renewal orders that name a certificate it holds. Held units
 * are never given (docs/jobs.md). Each has unit_id, order_id, cert_profile,
 * type ("new", "renewal" or "replacement") and renews_cert. Returns 0 with *units_out an owned
 * array of *n (store_unit_claims_free()), or UKEY_ERR_DB / UKEY_ERR_NOMEM. */
int route_units_for_token(struct store *st, const char *profile, const char *serial, int limit,
    struct store_unit_claim **units_out, size_t *n);

/* Number of live certificates (issued, not revoked) this station recorded on
 * the token; 0 for a token without serial. Returns 0 or UKEY_ERR_DB. */
int route_token_certs(struct store *st, const char *profile, const char *serial, int64_t *n);

#endif
