/* Order state changes through the lifecycle's transition table, each with
 * its audit record, for control commands and production alike. */
#include <stdio.h>

#include "common/err.h"
#include "common/log.h"
#include "station/ordermove.h"
#include "station/station.h"
#include "store/store_orders.h"

int
station_order_move(struct station *s, const char *actor, int64_t id, enum order_state from,
    enum order_state to, enum order_event ev, const char *now, struct json_object *detail)
{
	char action[48];
	int rc;

	if (detail == NULL)
		detail = json_object_new_object();
	json_object_object_add(detail, "from", json_object_new_string(order_state_name(from)));
	json_object_object_add(detail, "to", json_object_new_string(order_state_name(to)));
	rc = store_order_set_state(station_store(s), id, order_state_name(from),
	    order_state_name(to), now);
	if (rc != 0) {
		json_object_put(detail);
		return rc;
	}
	snprintf(action, sizeof(action), "order.%s", order_event_name(ev));
	return station_audit(s, actor, action, id, 0, 0, NULL, NULL, detail);
}

int
station_order_event(struct station *s, const char *actor, int64_t id, enum order_event ev,
    const char *now)
{
	enum order_state from, to;
	char state[32], why[160];
	int rc;

	if ((rc = store_order_state(station_store(s), id, state, sizeof(state))) != 0)
		return rc;
	if (order_state_parse(state, &from) != 0) {
		log_error("order %lld: the store holds unknown state \"%s\"", (long long)id, state);
		return UKEY_ERR_DB;
	}
	if (lifecycle_next(from, ev, &to) != 0) {
		lifecycle_refusal(id, from, ev, why, sizeof(why));
		log_error("%s", why);
		return UKEY_ERR_STATE;
	}
	if (to == from)
		return 0;	/* e.g. a further unit of an order already in production */
	return station_order_move(s, actor, id, from, to, ev, now, NULL);
}
