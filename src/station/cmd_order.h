/* Helpers the order control commands share (cmd_orders.c defines them):
 * arguments, loading an order for an event, the move, the reply. */
#ifndef UKEY_CMD_ORDER_H
#define UKEY_CMD_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "orders/lifecycle.h"
#include "station/control.h"
#include "store/store_orders.h"

/* The "id" argument. */
int cmd_order_id(struct request *r, int64_t *id);

/* Loads order id and checks that ev is legal in its state. Returns 0 with
 * *o (owned, store_order_free), *from and *to; UKEY_ERR_NOTFOUND or
 * UKEY_ERR_STATE with the message in r->msg and *o NULL. */
int cmd_order_for(struct request *r, int64_t id, enum order_event ev, struct store_order **o,
    enum order_state *from, enum order_state *to);

/* station_order_move() by the request's user. */
int cmd_order_move(struct request *r, int64_t id, enum order_state from, enum order_state to,
    enum order_event ev, const char *now, struct json_object *detail);

/* Commits when rc is 0, else (or when the commit fails) rolls back. */
int cmd_tx_end(struct request *r, int rc);

/* The reply of a transition: the order's id and its new state (owned). */
struct json_object *cmd_order_moved(int64_t id, enum order_state to);

/* Text argument that a person reads later: valid UTF-8, no control
 * characters, 1 to max characters. */
int cmd_arg_text(struct request *r, const char *name, int required, size_t max,
    const char **out);

struct route_replaced;
/* approve_replace.c: at the approval of a replacement order (补办), the
 * certificate it replaces (route_replacement_resolve) with the subject the
 * order makes checked against it. Returns 0 with *repl filled (cleared, and
 * 0, for other orders), or an error with r->msg naming the rule. */
int cmd_approve_replacement(struct request *r, const struct store_order *so,
    struct route_replaced *repl);

/* Adds to d what an approval resolved: renews_cert (renews may be NULL);
 * replaces_cert, replaced_token and token_state when repl names one. */
void cmd_approval_detail(struct json_object *d, const char *renews,
    const struct route_replaced *repl);

struct order;
struct station;
/* cmd_svcpt.c: at import, order id's service point from its handler's
 * region (common/svcpoint.h); none when the region has none (logged). */
int station_order_derive_point(struct station *s, int64_t id, const struct order *o,
    const char *now);

#endif
