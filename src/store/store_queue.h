/* The production queue's order and the units a token may claim, as SQL
 * fragments shared by store_units.c and store_lease.c; private to the store. */
#ifndef UKEY_STORE_QUEUE_H
#define UKEY_STORE_QUEUE_H

#include <stddef.h>

#include "store/store.h"

/* Queue order, over units u: by payment time, except that a unit put back
 * after a failed job stands at the tail, i.e. at its requeue time after
 * every unit paid by then (requeue_seq orders the requeues of one second);
 * then by order, item and unit. The keys are the unit's own columns
 * (schema migration 17: queue_at is coalesce(requeued_at, the order's
 * paid_at)), in the order of the units_queue index, so that a query for the
 * head of the queue reads the index and sorts nothing. */
#define QUEUE_KEYS \
    " u.queue_at, u.requeue_seq NULLS FIRST, u.queue_paid_at, u.queue_order, u.queue_item_seq," \
    " u.seq"

#define CLAIM_COLS \
    "SELECT u.id, o.id, i.cert_profile, o.type, o.renews_cert FROM units u" \
    " JOIN order_items i ON i.id = u.item_id JOIN orders o ON o.id = i.order_id" \
    " WHERE u.state = 'queued' AND o.state IN ('waiting_production', 'in_production')"

/* CLAIM_COLS written from the orders: for a query whose condition on the
 * orders selects few of them (a service point's, the renewals of a
 * token's certificates), so that SQLite finds those orders by their index
 * and sorts their units, rather than walking the whole queue in its order
 * for them (CROSS JOIN keeps the join order in SQLite; PostgreSQL plans
 * it as an inner join). */
#define CLAIM_COLS_BY_ORDER \
    "SELECT u.id, o.id, i.cert_profile, o.type, o.renews_cert FROM orders o" \
    " CROSS JOIN order_items i CROSS JOIN units u WHERE i.order_id = o.id AND u.item_id = i.id" \
    " AND u.state = 'queued' AND o.state IN ('waiting_production', 'in_production')"

/* CLAIM_COLS_BY_ORDER as PostgreSQL needs it: the orders' items, then
 * each item's first queued units (LATERAL, by units_item_queue: its first
 * parameter is their number), then the first of those. Where one huge
 * order dominates the units' statistics, PostgreSQL expects half the table
 * behind any item and plans the plain join as a walk of the whole queue in
 * its order, filtered on the few orders: 37 ms at 100,000 queued units for
 * a point none of whose units is queued. */
#define CLAIM_COLS_BY_ITEM_PG \
    "SELECT u.id, o.id, i.cert_profile, o.type, o.renews_cert FROM orders o" \
    " JOIN order_items i ON i.order_id = o.id CROSS JOIN LATERAL (SELECT u.id, u.queue_at," \
    " u.requeue_seq, u.queue_paid_at, u.queue_order, u.queue_item_seq, u.seq FROM units u" \
    " WHERE u.item_id = i.id AND u.state = 'queued' ORDER BY" QUEUE_KEYS " LIMIT ?) u" \
    " WHERE o.state IN ('waiting_production', 'in_production')"

/* The queue view's rows of one state (the first parameter), of orders
 * waiting for or in production: a page, or a count, read in QUEUE_KEYS
 * order from units_queue. */
#define QUEUE_VIEW_FROM \
    " FROM units u JOIN order_items i ON i.id = u.item_id JOIN orders o ON o.id = i.order_id" \
    " WHERE u.state = ? AND o.state IN ('waiting_production', 'in_production')"

/* The next requeue number: one more than the highest given (migration 18's
 * partial index answers the max() at once). */
#define NEXT_REQUEUE_SEQ \
    " (SELECT coalesce(max(requeue_seq), 0) + 1 FROM units WHERE requeue_seq IS NOT NULL)"

/* The SQL (into sql, len bytes) of pass `pass` (0, 1) of a blank token's
 * claim: new and replacement units in queue order (QUEUE_KEYS) within the
 * station's claim scope (store_set_claim_scope), then tail (" LIMIT ?",
 * a lock clause). Returns the number of passes: any and own take one (own:
 * the point's orders only), own-first two, the point's orders and then the
 * others, so that the passes in turn give the queue with the point's
 * orders first. The point's own pass is written with CLAIM_COLS_BY_ORDER,
 * the others with CLAIM_COLS. */
int store_claim_sql(struct store *st, int pass, const char *tail, char *sql, size_t len);

/* The SQL (into sql, len bytes) of a service point's own pass of a blank
 * token's claim on PostgreSQL: CLAIM_COLS_BY_ITEM_PG, its two parameters
 * the units per item and the limit. 0, or UKEY_ERR_INVAL when len is too
 * short. */
int store_claim_own_sql_pg(struct store *st, char *sql, size_t len);

/* Whether pass `pass` of the claim is to be read item by item
 * (store_claim_own_sql_pg): 1 for a service point's own pass on PostgreSQL
 * while the point has at most a few dozen items in production, 0
 * otherwise, or an error. */
int store_claim_by_item(struct store *st, int pass);

/* Whether pass `pass` of the claim may give anything: 0 when it is a
 * service point's own pass and the point has no order in production (then
 * the pass is not asked: PostgreSQL, expecting a match, would walk the
 * whole queue's index for one), 1 otherwise, or an error. */
int store_claim_pass_open(struct store *st, int pass);

#endif
