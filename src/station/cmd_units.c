/* Control commands for production units a person decides on: a held unit
 * released to the queue again, a unit that will not be produced cancelled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"
#include "station/control.h"
#include "station/ordermove.h"
#include "store/store_units.h"
#include "station/orderdoc.h"
#include "station/job.h"

/* The unit named by the "unit" argument, with its order's id and state; the
 * remark, UTF-8 text of 1 to 512 characters. */
static int
unit_args(struct request *r, int64_t *id, const char **remark, struct store_unit *unit)
{
	int rc;

	if ((rc = arg_int(r, "unit", 1, id)) != 0 || (rc = arg_str(r, "remark", 1, remark)) != 0)
		return rc;
	if (!utf8_valid(*remark, strlen(*remark)) || utf8_has_control(*remark))
		return req_fail(r, UKEY_ERR_INVAL, "remark: must be UTF-8 text without control"
		    " characters");
	if ((*remark)[0] == '\0' || utf8_chars(*remark) > 512)
		return req_fail(r, UKEY_ERR_INVAL, "remark: must be 1 to 512 characters");
	rc = store_unit_load(station_store(r->s), *id, unit);
	if (rc == UKEY_ERR_NOTFOUND)
		return req_fail(r, rc, "unit %lld: no such unit", (long long)*id);
	if (rc != 0)
		return rc;
	/* before payment every unit waits as 'held' too; those are the order's
	 * business (edit, cancel), not production's */
	if (strcmp(unit->order_state, "waiting_production") != 0 &&
	    strcmp(unit->order_state, "in_production") != 0)
		return req_fail(r, UKEY_ERR_STATE, "unit %lld: its order %lld is %s; only units of"
		    " orders waiting for or in production are released or cancelled here",
		    (long long)*id, (long long)unit->order_id, unit->order_state);
	return 0;
}

int
cmd_unit_release(struct request *r, struct json_object **result)
{
	struct store_unit unit = { 0 };
	struct json_object *d;
	const char *remark = NULL;
	char now[32];
	int64_t id = 0;
	int rc;

	if ((rc = unit_args(r, &id, &remark, &unit)) != 0)
		goto out;
	if (strcmp(unit.state, "held") != 0 || unit.hold_reason == NULL) {
		rc = req_fail(r, UKEY_ERR_STATE, "unit %lld is %s; only a held unit can be released",
		    (long long)id, unit.state);
		goto out;
	}
	store_now(now);
	if ((rc = store_begin(station_store(r->s))) != 0)
		goto out;
	rc = store_unit_release(station_store(r->s), id, now);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "remark", json_object_new_string(remark));
		json_object_object_add(d, "hold_reason", json_object_new_string(unit.hold_reason));
		json_object_object_add(d, "failures", json_object_new_int64(unit.failures));
		rc = station_audit(r->s, r->c->user, "unit.release", unit.order_id, id, 0, NULL, NULL,
		    d);
	}
	if (rc == 0)
		rc = store_commit(station_store(r->s));
	if (rc != 0) {
		store_rollback(station_store(r->s));
		goto out;
	}
	log_info("unit %lld released by %s: %s", (long long)id, r->c->user, remark);
	*result = json_object_new_object();
	json_object_object_add(*result, "unit", json_object_new_int64(id));
	json_object_object_add(*result, "order_id", json_object_new_int64(unit.order_id));
	json_object_object_add(*result, "state", json_object_new_string("queued"));
	bay_kick_idle(r->s);
 out:
	store_unit_clear(&unit);
	return rc;
}

int
cmd_unit_cancel(struct request *r, struct json_object **result)
{
	struct store_unit unit = { 0 };
	struct json_object *d;
	const char *remark = NULL, *next = NULL;
	char now[32];
	int64_t id = 0, order_id, left = 0, issued = 0;
	int rc;

	if ((rc = unit_args(r, &id, &remark, &unit)) != 0)
		goto out;
	if (strcmp(unit.state, "held") != 0 && strcmp(unit.state, "queued") != 0) {
		rc = req_fail(r, UKEY_ERR_STATE, "unit %lld is %s; only a held or queued unit can be"
		    " cancelled", (long long)id, unit.state);
		goto out;
	}
	order_id = unit.order_id;
	store_now(now);
	if ((rc = store_begin(station_store(r->s))) != 0)
		goto out;
	rc = store_unit_cancel(station_store(r->s), id, now);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "remark", json_object_new_string(remark));
		json_object_object_add(d, "from", json_object_new_string(unit.state));
		if (unit.hold_reason)
			json_object_object_add(d, "hold_reason",
			    json_object_new_string(unit.hold_reason));
		rc = station_audit(r->s, r->c->user, "unit.cancel", order_id, id, 0, NULL, NULL, d);
	}
	if (rc == 0)
		rc = store_units_count(station_store(r->s), order_id, STORE_UNIT_WAITING, &left);
	if (rc == 0)
		rc = store_units_count(station_store(r->s), order_id, STORE_UNIT_ISSUED, &issued);
	/* nothing of the order waits any more: with a certificate made it is
	 * issued (lifecycle: finish_production); with none it is left for a
	 * reviewer to cancel, which decides the refund */
	if (rc == 0 && left == 0 && issued > 0 && strcmp(unit.order_state, "in_production") == 0) {
		rc = station_order_event(r->s, r->c->user, order_id, OE_FINISH_PRODUCTION, now);
		next = "issued";
	}
	if (rc == 0)
		rc = store_commit(station_store(r->s));
	if (rc != 0) {
		store_rollback(station_store(r->s));
		goto out;
	}
	log_info("unit %lld cancelled by %s: %s", (long long)id, r->c->user, remark);
	*result = json_object_new_object();
	json_object_object_add(*result, "unit", json_object_new_int64(id));
	json_object_object_add(*result, "order_id", json_object_new_int64(order_id));
	json_object_object_add(*result, "state", json_object_new_string("cancelled"));
	json_object_object_add(*result, "order_state", json_object_new_string(next ? next :
	    unit.order_state));
	json_object_object_add(*result, "units_left", json_object_new_int64(left));
 out:
	store_unit_clear(&unit);
	return rc;
}
