/* Service points at the station (docs/service-points.md): an order's point
 * derived at import, set by a reviewer, and the station's own point and how
 * much of the queue is its own, for `ukeyctl status`. */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/svcpoint.h"
#include "orders/order.h"
#include "station/cmd_order.h"
#include "station/station_impl.h"
#include "store/store_units.h"

int
station_order_derive_point(struct station *s, int64_t id, const struct order *o, const char *now)
{
	const struct svcpoint *p = svcpoint_for_region(o->handler.province, o->handler.city,
	    o->handler.county);

	if (p == NULL) {
		log_info("order %s: the handler's region %s %s %s has no service point; any station"
		    " may take it (ukeyctl order set-service-point)", o->portal_ref,
		    o->handler.province ? o->handler.province : "", o->handler.city ?
		    o->handler.city : "", o->handler.county ? o->handler.county : "");
		return 0;
	}
	return store_order_set_service_point(station_store(s), id, p->id, now);
}

/* The point argument: a known id, or "none" to clear. */
static int
point_arg(struct request *r, const char **point)
{
	int rc;

	if ((rc = arg_str(r, "service_point", 1, point)) != 0)
		return rc;
	if (strcmp(*point, "none") == 0) {
		*point = NULL;
		return 0;
	}
	if (svcpoint_find(*point) == NULL)
		return req_fail(r, UKEY_ERR_INVAL, "argument service_point: \"%.32s\" is not a service"
		    " point (kunming-1, kunming-2, chuxiong, dehong, tengchong, dali, baoshan, lincang,"
		    " lijiang, diqing, nujiang, puer, qujing, wenshan, yuxi, honghe, xishuangbanna,"
		    " zhaotong, kungang; or none)", *point);
	return 0;
}

int
cmd_order_set_service_point(struct request *r, struct json_object **result)
{
	struct store *st = station_store(r->s);
	struct json_object *d;
	const char *point, *remark;
	char state[32], was[32], now[32];
	int64_t id;
	int rc;

	if ((rc = cmd_order_id(r, &id)) != 0 || (rc = point_arg(r, &point)) != 0 ||
	    (rc = cmd_arg_text(r, "remark", 1, 512, &remark)) != 0)
		return rc;
	if ((rc = store_order_state(st, id, state, sizeof(state))) == UKEY_ERR_NOTFOUND)
		return req_fail(r, rc, "order %lld: no such order", (long long)id);
	if (rc != 0 || (rc = store_order_service_point(st, id, was, sizeof(was))) != 0)
		return rc;
	if (strcmp(state, "issued") == 0 || strcmp(state, "delivered") == 0 ||
	    strcmp(state, "cancelled") == 0)
		return req_fail(r, UKEY_ERR_STATE, "order %lld is %s: nothing of it is left to"
		    " produce, its service point stays %s", (long long)id, state,
		    was[0] ? was : "none");
	store_now(now);
	if ((rc = store_begin(st)) != 0)
		return rc;
	rc = store_order_set_service_point(st, id, point, now);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "from", was[0] ? json_object_new_string(was) : NULL);
		json_object_object_add(d, "to", point ? json_object_new_string(point) : NULL);
		json_object_object_add(d, "remark", json_object_new_string(remark));
		rc = station_audit(r->s, r->c->user, "order.service_point", id, 0, 0, NULL, NULL, d);
	}
	if ((rc = cmd_tx_end(r, rc)) != 0)
		return rc;
	*result = json_object_new_object();
	json_object_object_add(*result, "id", json_object_new_int64(id));
	json_object_object_add(*result, "service_point", point ? json_object_new_string(point) :
	    NULL);
	json_object_object_add(*result, "was", was[0] ? json_object_new_string(was) : NULL);
	return 0;
}

int
station_queue_glance(struct station *s, const char *state, const char *point, const char *key,
    struct json_object *o)
{
	char more[64];
	int64_t n = 0;
	int rc;

	/* a glance, not a census: a queue of a million reads this many rows */
	if ((rc = store_units_queue_count(station_store(s), state, point, QUEUE_GLANCE_MAX + 1,
	    &n)) != 0)
		return rc;
	json_object_object_add(o, key, json_object_new_int64(n > QUEUE_GLANCE_MAX ?
	    QUEUE_GLANCE_MAX : n));
	if (n > QUEUE_GLANCE_MAX) {
		snprintf(more, sizeof(more), "%s_more", key);
		json_object_object_add(o, more, json_object_new_boolean(1));
	}
	return 0;
}

void
station_point_status(struct station *s, struct json_object *result)
{
	const struct station_config *c = station_cfg(s);
	struct json_object *q = json_object_new_object();

	json_object_object_add(result, "service_point", c->service_point[0] ?
	    json_object_new_string(c->service_point) : NULL);
	json_object_object_add(result, "take", json_object_new_string(svcpoint_take_name(c->take)));
	/* both counts, or neither when the store cannot say */
	if (station_queue_glance(s, "queued", NULL, "queued", q) == 0 && (!c->service_point[0] ||
	    station_queue_glance(s, "queued", c->service_point, "queued_own", q) == 0)) {
		json_object_object_foreach(q, k, v)
			json_object_object_add(result, k, json_object_get(v));
	}
	json_object_put(q);
}
