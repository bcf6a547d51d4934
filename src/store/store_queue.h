/* The production queue's order and the units a token may claim, as SQL
 * fragments shared by store_units.c and store_lease.c; private to the store. */
#ifndef UKEY_STORE_QUEUE_H
#define UKEY_STORE_QUEUE_H

#include <stddef.h>

#include "store/store.h"

/* Queue order, over units u, order_items i and orders o: by payment time,
 * except that a unit put back after a failed job stands at the tail, i.e.
 * at its requeue time after every unit paid by then (requeue_seq orders
 * the requeues of one second). */
#define QUEUE_KEYS \
    " coalesce(u.requeued_at, o.paid_at), u.requeue_seq IS NOT NULL, u.requeue_seq," \
    " o.paid_at, o.id, i.seq, u.seq"

#define CLAIM_COLS \
    "SELECT u.id, o.id, i.cert_profile, o.type, o.renews_cert FROM units u" \
    " JOIN order_items i ON i.id = u.item_id JOIN orders o ON o.id = i.order_id" \
    " WHERE u.state = 'queued' AND o.state IN ('waiting_production', 'in_production')"

/* The station's claim scope (store_set_claim_scope) as two fragments for
 * a CLAIM_COLS query of new and replacement units: where (appended to the
 * WHERE: own keeps only the point's orders) and order (put before
 * QUEUE_KEYS: own-first sorts the point's orders first). Both "" for any. */
void store_scope_sql(struct store *st, char *where, size_t wlen, char *order, size_t olen);

#endif
