/* Order state changes, one place for the operators' commands and for
 * production: every move goes through the transition table of
 * orders/lifecycle.c and is audited as order.<event> in the caller's
 * transaction. */
#ifndef UKEY_ORDERMOVE_H
#define UKEY_ORDERMOVE_H

#include <stdint.h>

#include <json-c/json.h>

#include "orders/lifecycle.h"

struct station;

/* Inside an open transaction: moves order id from -> to and appends the
 * audit record "order.<ev>" by actor with detail (taken; NULL for none)
 * plus the two states. A no-op on the row when the order is no longer in
 * state from. Returns 0 or the store's error. Loop context. */
int station_order_move(struct station *s, const char *actor, int64_t id, enum order_state from,
    enum order_state to, enum order_event ev, const char *now, struct json_object *detail);

/* Inside an open transaction: looks up the order's state and applies ev
 * (nothing when ev leaves it where it is). UKEY_ERR_STATE (logged) when ev
 * is not allowed in that state, UKEY_ERR_DB for a state the program does
 * not know. Loop context. */
int station_order_event(struct station *s, const char *actor, int64_t id, enum order_event ev,
    const char *now);

#endif
