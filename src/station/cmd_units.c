/* Control commands for production units a person decides on: a held unit
 * released to the queue again, a unit that will not be produced cancelled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"
#include "station/control.h"

static const char *
col(struct json_object *row, const char *key)
{
	return json_object_get_string(json_object_object_get(row, key));
}

static int64_t
col_int(struct json_object *row, const char *key)
{
	return json_object_get_int64(json_object_object_get(row, key));
}

/* The unit named by the "unit" argument, with its order's id and state; the
 * remark, UTF-8 text of 1 to 512 characters. */
static int
unit_args(struct request *r, int64_t *id, const char **remark, struct json_object **unit)
{
	int rc;

	*unit = NULL;
	if ((rc = arg_int(r, "unit", 1, id)) != 0 || (rc = arg_str(r, "remark", 1, remark)) != 0)
		return rc;
	if (!utf8_valid(*remark, strlen(*remark)) || utf8_has_control(*remark))
		return req_fail(r, UKEY_ERR_INVAL, "remark: must be UTF-8 text without control"
		    " characters");
	if ((*remark)[0] == '\0' || utf8_chars(*remark) > 512)
		return req_fail(r, UKEY_ERR_INVAL, "remark: must be 1 to 512 characters");
	rc = store_row(r->s->st, unit, "SELECT u.id, u.state, u.failures, u.hold_reason,"
	    " o.id AS order_id, o.state AS order_state FROM units u JOIN order_items i"
	    " ON i.id = u.item_id JOIN orders o ON o.id = i.order_id WHERE u.id = ?", "i", *id);
	if (rc == UKEY_ERR_NOTFOUND)
		return req_fail(r, rc, "unit %lld: no such unit", (long long)*id);
	if (rc != 0)
		return rc;
	/* before payment every unit waits as 'held' too; those are the order's
	 * business (edit, cancel), not production's */
	if (strcmp(col(*unit, "order_state"), "waiting_production") != 0 &&
	    strcmp(col(*unit, "order_state"), "in_production") != 0)
		return req_fail(r, UKEY_ERR_STATE, "unit %lld: its order %lld is %s; only units of"
		    " orders waiting for or in production are released or cancelled here",
		    (long long)*id, (long long)col_int(*unit, "order_id"), col(*unit, "order_state"));
	return 0;
}

int
cmd_unit_release(struct request *r, struct json_object **result)
{
	struct json_object *unit = NULL, *d;
	const char *remark = NULL;
	char now[32];
	int64_t id = 0;
	int rc;

	if ((rc = unit_args(r, &id, &remark, &unit)) != 0)
		goto out;
	if (strcmp(col(unit, "state"), "held") != 0 || col(unit, "hold_reason") == NULL) {
		rc = req_fail(r, UKEY_ERR_STATE, "unit %lld is %s; only a held unit can be released",
		    (long long)id, col(unit, "state"));
		goto out;
	}
	store_now(now);
	if ((rc = store_begin(r->s->st)) != 0)
		goto out;
	/* a fresh start at the tail of the queue: the count that held it is
	 * spent; last_failure keeps what happened */
	rc = store_run(r->s->st, "UPDATE units SET state = 'queued', failures = 0,"
	    " failure_kind = NULL, hold_reason = NULL, held_at = NULL, requeued_at = ?,"
	    " requeue_seq = (SELECT coalesce(max(requeue_seq), 0) + 1 FROM units), updated_at = ?"
	    " WHERE id = ? AND state = 'held' AND hold_reason IS NOT NULL", "tti", now, now, id);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "remark", json_object_new_string(remark));
		json_object_object_add(d, "hold_reason", json_object_new_string(col(unit,
		    "hold_reason")));
		json_object_object_add(d, "failures", json_object_new_int64(col_int(unit,
		    "failures")));
		rc = station_audit(r->s, r->c->user, "unit.release", col_int(unit, "order_id"), id, 0,
		    NULL, NULL, d);
	}
	if (rc == 0)
		rc = store_commit(r->s->st);
	if (rc != 0) {
		store_rollback(r->s->st);
		goto out;
	}
	log_info("unit %lld released by %s: %s", (long long)id, r->c->user, remark);
	*result = json_object_new_object();
	json_object_object_add(*result, "unit", json_object_new_int64(id));
	json_object_object_add(*result, "order_id", json_object_new_int64(col_int(unit,
	    "order_id")));
	json_object_object_add(*result, "state", json_object_new_string("queued"));
	bay_kick_idle(r->s);
 out:
	json_object_put(unit);
	return rc;
}

int
cmd_unit_cancel(struct request *r, struct json_object **result)
{
	struct json_object *unit = NULL, *d;
	const char *remark = NULL, *next = NULL;
	char now[32];
	int64_t id = 0, order_id, left = 0, issued = 0;
	int rc;

	if ((rc = unit_args(r, &id, &remark, &unit)) != 0)
		goto out;
	if (strcmp(col(unit, "state"), "held") != 0 && strcmp(col(unit, "state"), "queued") != 0) {
		rc = req_fail(r, UKEY_ERR_STATE, "unit %lld is %s; only a held or queued unit can be"
		    " cancelled", (long long)id, col(unit, "state"));
		goto out;
	}
	order_id = col_int(unit, "order_id");
	store_now(now);
	if ((rc = store_begin(r->s->st)) != 0)
		goto out;
	rc = store_run(r->s->st, "UPDATE units SET state = 'cancelled', updated_at = ? WHERE id = ?"
	    " AND state IN ('held', 'queued')", "ti", now, id);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "remark", json_object_new_string(remark));
		json_object_object_add(d, "from", json_object_new_string(col(unit, "state")));
		if (col(unit, "hold_reason"))
			json_object_object_add(d, "hold_reason",
			    json_object_new_string(col(unit, "hold_reason")));
		rc = station_audit(r->s, r->c->user, "unit.cancel", order_id, id, 0, NULL, NULL, d);
	}
	if (rc == 0)
		rc = store_int(r->s->st, &left, "SELECT count(*) FROM units u JOIN order_items i"
		    " ON i.id = u.item_id WHERE i.order_id = ? AND u.state NOT IN ('issued',"
		    " 'cancelled')", "i", order_id);
	if (rc == 0)
		rc = store_int(r->s->st, &issued, "SELECT count(*) FROM units u JOIN order_items i"
		    " ON i.id = u.item_id WHERE i.order_id = ? AND u.state = 'issued'", "i", order_id);
	/* nothing of the order waits any more: with a certificate made it is
	 * issued (lifecycle: finish_production); with none it is left for a
	 * reviewer to cancel, which decides the refund */
	if (rc == 0 && left == 0 && issued > 0 && strcmp(col(unit, "order_state"),
	    "in_production") == 0) {
		rc = station_order_event(r->s, r->c->user, order_id, OE_FINISH_PRODUCTION, now);
		next = "issued";
	}
	if (rc == 0)
		rc = store_commit(r->s->st);
	if (rc != 0) {
		store_rollback(r->s->st);
		goto out;
	}
	log_info("unit %lld cancelled by %s: %s", (long long)id, r->c->user, remark);
	*result = json_object_new_object();
	json_object_object_add(*result, "unit", json_object_new_int64(id));
	json_object_object_add(*result, "order_id", json_object_new_int64(order_id));
	json_object_object_add(*result, "state", json_object_new_string("cancelled"));
	json_object_object_add(*result, "order_state", json_object_new_string(next ? next :
	    col(unit, "order_state")));
	json_object_object_add(*result, "units_left", json_object_new_int64(left));
 out:
	json_object_put(unit);
	return rc;
}
