/* The JSON the control socket replies with for orders, units and the queue,
 * made from the store's structs; keys and their order are those of
 * docs/protocol.md. Each function returns a new object (json_object_put). */
#ifndef UKEY_ORDERVIEW_H
#define UKEY_ORDERVIEW_H

#include <json-c/json.h>

#include "store/store_orders.h"
#include "store/store_units.h"

/* The order row: "doc" holds the masked document and "checksum_failures"
 * the parsed array (or null). */
struct json_object *orderview_order(const struct store_order *o);
struct json_object *orderview_summary(const struct store_order_summary *s);
struct json_object *orderview_item(const struct store_order_item *it);
struct json_object *orderview_unit(const struct store_order_unit *u);
/* A revision, "doc" the masked document. */
struct json_object *orderview_revision(const struct store_order_revision *v);
struct json_object *orderview_delivery(const struct store_delivery *d);
struct json_object *orderview_queue_entry(const struct store_queue_entry *e);

#endif
