/* Control commands for orders: import, list, show, review, payment, queue. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "orders/idcheck.h"
#include "orders/order.h"
#include "station/control.h"

/* Replaces every "id_number" string in a JSON tree by its masked form. */
static void
mask_ids(struct json_object *o)
{
	if (json_object_is_type(o, json_type_array)) {
		size_t i;

		for (i = 0; i < json_object_array_length(o); i++)
			mask_ids(json_object_array_get_idx(o, i));
		return;
	}
	if (!json_object_is_type(o, json_type_object))
		return;
	json_object_object_foreach(o, key, val) {
		if (strcmp(key, "id_number") == 0 && json_object_is_type(val, json_type_string)) {
			char masked[64];

			id_mask(json_object_get_string(val), masked, sizeof(masked));
			json_object_object_add(o, key, json_object_new_string(masked));
		} else {
			mask_ids(val);
		}
	}
}

static int
insert_order(struct request *r, const struct order *o, struct json_object *norm, const char *now,
    int64_t *order_id)
{
	struct station *s = r->s;
	struct json_object *fails = NULL;
	const char *org_name = NULL;
	size_t i;
	int rc;

	for (i = 0; i < o->n_items; i++)
		if (o->items[i].kind == ITEM_ORG)
			org_name = o->items[i].name;
	if (org_name == NULL)
		org_name = o->account_name;
	if (o->n_checksum_failures > 0) {
		fails = json_object_new_array();
		for (i = 0; i < o->n_checksum_failures; i++)
			json_object_array_add(fails, json_object_new_string(o->checksum_failures[i]));
	}
	rc = store_run(s->st, "INSERT INTO orders (portal_ref, type, account_uscc, org_name, state,"
	    " total_fen, doc, checksum_failures, created_at, created_by, updated_at)"
	    " VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)", "ttttittttt", o->portal_ref,
	    order_type_name(o->type), o->account_uscc, org_name, order_total_fen(o),
	    json_object_to_json_string_ext(norm, JSON_C_TO_STRING_PLAIN),
	    fails ? json_object_to_json_string_ext(fails, JSON_C_TO_STRING_PLAIN) : NULL, now,
	    r->c->user, now);
	json_object_put(fails);
	if (rc != 0)
		return rc;
	*order_id = store_last_id(s->st);
	for (i = 0; i < o->n_items; i++) {
		const struct order_item *it = &o->items[i];
		int64_t item_id;
		int u;

		rc = store_run(s->st, "INSERT INTO order_items (order_id, seq, kind, name, cert_profile,"
		    " years, count) VALUES (?, ?, ?, ?, ?, ?, ?)", "iitttii", *order_id, (int64_t)i + 1,
		    item_kind_name(it->kind), it->name, order_item_profile(it), (int64_t)it->years,
		    (int64_t)it->count);
		if (rc != 0)
			return rc;
		item_id = store_last_id(s->st);
		/* one production unit per certificate: each goes onto its own token */
		for (u = 0; u < it->count; u++)
			if ((rc = store_run(s->st, "INSERT INTO units (item_id, seq, state, updated_at)"
			    " VALUES (?, ?, 'held', ?)", "iit", item_id, (int64_t)u + 1, now)) != 0)
				return rc;
	}
	return 0;
}

int
cmd_order_import(struct request *r, struct json_object **result)
{
	struct station *s = r->s;
	struct json_object *orders = NULL, *imported, *unchanged;
	struct errlist errs = { 0 };
	const char *text, *name = NULL;
	char now[32];
	size_t i;
	int rc;

	if ((rc = arg_str(r, "text", 1, &text)) != 0)
		return rc;
	(void)arg_str(r, "file", 0, &name);
	rc = order_file_parse(text, strlen(text), time(NULL), &orders, &errs);
	if (rc != 0) {
		r->details = json_object_new_array();
		for (i = 0; i < errs.n; i++)
			json_object_array_add(r->details, json_object_new_string(errs.msgs[i]));
		req_fail(r, rc, "%s: %zu error%s; nothing imported", name ? name : "order file",
		    errs.n, errs.n == 1 ? "" : "s");
		errlist_clear(&errs);
		return rc;
	}
	errlist_clear(&errs);
	imported = json_object_new_array();
	unchanged = json_object_new_array();
	store_now(now);
	if ((rc = store_begin(s->st)) != 0)
		goto out;
	for (i = 0; i < json_object_array_length(orders); i++) {
		struct json_object *norm = json_object_array_get_idx(orders, i), *old = NULL, *e;
		struct order *o = NULL;
		const char *doc = json_object_to_json_string_ext(norm, JSON_C_TO_STRING_PLAIN);
		int64_t id = 0;

		if ((rc = order_from_json(norm, time(NULL), &o, NULL)) != 0) {
			req_fail(r, rc, "order %zu: normalized form does not parse again", i + 1);
			goto rollback;
		}
		rc = store_row(s->st, &old, "SELECT id, doc FROM orders WHERE portal_ref = ?", "t",
		    o->portal_ref);
		if (rc == 0) {
			/* importing the same file twice changes nothing */
			if (strcmp(json_object_get_string(json_object_object_get(old, "doc")), doc) != 0) {
				req_fail(r, UKEY_ERR_EXISTS, "order %s: already imported with different"
				    " content (order %lld); nothing imported", o->portal_ref,
				    (long long)json_object_get_int64(json_object_object_get(old, "id")));
				rc = UKEY_ERR_EXISTS;
			} else {
				json_object_array_add(unchanged, json_object_new_string(o->portal_ref));
			}
			json_object_put(old);
			order_free(o);
			if (rc != 0)
				goto rollback;
			continue;
		}
		if (rc != UKEY_ERR_NOTFOUND || (rc = insert_order(r, o, norm, now, &id)) != 0) {
			order_free(o);
			goto rollback;
		}
		e = json_object_new_object();
		json_object_object_add(e, "id", json_object_new_int64(id));
		json_object_object_add(e, "portal_ref", json_object_new_string(o->portal_ref));
		json_object_object_add(e, "certificates", json_object_new_int((int)order_cert_count(o)));
		json_object_object_add(e, "total_fen", json_object_new_int64(order_total_fen(o)));
		json_object_object_add(e, "checksum_failures",
		    json_object_new_int((int)o->n_checksum_failures));
		json_object_array_add(imported, e);
		rc = station_audit(s, r->c->user, "order.import", id, 0, 0, NULL, NULL,
		    json_object_new_string(o->portal_ref));
		order_free(o);
		if (rc != 0)
			goto rollback;
	}
	if ((rc = store_commit(s->st)) != 0)
		goto rollback;
	*result = json_object_new_object();
	json_object_object_add(*result, "imported", imported);
	json_object_object_add(*result, "unchanged", unchanged);
	imported = unchanged = NULL;
	goto out;
 rollback:
	store_rollback(s->st);
 out:
	json_object_put(imported);
	json_object_put(unchanged);
	json_object_put(orders);
	return rc;
}

int
cmd_order_list(struct request *r, struct json_object **result)
{
	const char *state = NULL;

	(void)arg_str(r, "state", 0, &state);
	return store_query(r->s->st, result,
	    "SELECT o.id, o.portal_ref, o.type, o.state, o.org_name, o.account_uscc, o.total_fen,"
	    " o.payment_no, o.created_at, o.updated_at,"
	    " (SELECT count(*) FROM units u JOIN order_items i ON i.id = u.item_id"
	    "  WHERE i.order_id = o.id) AS certificates,"
	    " (SELECT count(*) FROM units u JOIN order_items i ON i.id = u.item_id"
	    "  WHERE i.order_id = o.id AND u.state = 'issued') AS issued"
	    " FROM orders o WHERE (?1 IS NULL OR o.state = ?1) ORDER BY o.id", "t", state);
}

static int
order_id_arg(struct request *r, int64_t *id)
{
	return arg_int(r, "id", 1, id);
}

int
cmd_order_show(struct request *r, struct json_object **result)
{
	struct json_object *o = NULL, *items = NULL, *units = NULL, *doc;
	int64_t id;
	int rc;

	if ((rc = order_id_arg(r, &id)) != 0)
		return rc;
	rc = store_row(r->s->st, &o, "SELECT id, portal_ref, type, state, org_name, account_uscc,"
	    " total_fen, payment_no, doc, checksum_failures, override_reason, override_by,"
	    " review_remark, reviewer, reviewed_at, paid_at, paid_by, created_at, created_by,"
	    " updated_at FROM orders WHERE id = ?", "i", id);
	if (rc == UKEY_ERR_NOTFOUND)
		return req_fail(r, rc, "order %lld: no such order", (long long)id);
	if (rc != 0)
		return rc;
	doc = json_tokener_parse(json_object_get_string(json_object_object_get(o, "doc")));
	mask_ids(doc);
	json_object_object_add(o, "doc", doc);
	if (json_object_object_get(o, "checksum_failures") != NULL)
		json_object_object_add(o, "checksum_failures", json_tokener_parse(
		    json_object_get_string(json_object_object_get(o, "checksum_failures"))));
	rc = store_query(r->s->st, &items, "SELECT id, seq, kind, name, cert_profile, years, count"
	    " FROM order_items WHERE order_id = ? ORDER BY seq", "i", id);
	if (rc == 0)
		rc = store_query(r->s->st, &units, "SELECT u.id, i.seq AS item, u.seq, u.state, u.job_id,"
		    " s.cert_serial, s.token_serial FROM units u JOIN order_items i ON i.id = u.item_id"
		    " LEFT JOIN issuances s ON s.unit_id = u.id WHERE i.order_id = ? ORDER BY i.seq, u.seq",
		    "i", id);
	if (rc != 0) {
		json_object_put(o);
		json_object_put(items);
		return rc;
	}
	json_object_object_add(o, "items", items);
	json_object_object_add(o, "units", units);
	*result = o;
	return 0;
}

static int
order_state(struct request *r, int64_t id, struct json_object **row)
{
	int rc = store_row(r->s->st, row, "SELECT id, state, checksum_failures, portal_ref FROM orders"
	    " WHERE id = ?", "i", id);

	if (rc == UKEY_ERR_NOTFOUND)
		return req_fail(r, rc, "order %lld: no such order", (long long)id);
	return rc;
}

static const char *
jstr(struct json_object *o, const char *k)
{
	return json_object_get_string(json_object_object_get(o, k));
}

int
cmd_order_approve(struct request *r, struct json_object **result)
{
	struct json_object *row = NULL, *d;
	const char *reason = NULL;
	char now[32];
	int64_t id;
	int rc;

	if ((rc = order_id_arg(r, &id)) != 0)
		return rc;
	(void)arg_str(r, "override_reason", 0, &reason);
	if ((rc = order_state(r, id, &row)) != 0)
		return rc;
	if (strcmp(jstr(row, "state"), "pending") != 0) {
		rc = req_fail(r, UKEY_ERR_STATE, "order %lld: cannot approve an order in state %s"
		    " (only pending orders)", (long long)id, jstr(row, "state"));
		goto out;
	}
	if (jstr(row, "checksum_failures") != NULL && (reason == NULL || reason[0] == '\0')) {
		rc = req_fail(r, UKEY_ERR_VERIFY, "order %lld: identity check characters fail: %s;"
		    " approve with --override-reason TEXT after checking the documents", (long long)id,
		    jstr(row, "checksum_failures"));
		goto out;
	}
	store_now(now);
	if ((rc = store_begin(r->s->st)) != 0)
		goto out;
	rc = store_run(r->s->st, "UPDATE orders SET state = 'approved', reviewer = ?, reviewed_at = ?,"
	    " override_reason = ?, override_by = ?, updated_at = ? WHERE id = ?", "ttttti",
	    r->c->user, now, jstr(row, "checksum_failures") ? reason : NULL,
	    jstr(row, "checksum_failures") ? r->c->user : NULL, now, id);
	d = json_object_new_object();
	json_object_object_add(d, "from", json_object_new_string("pending"));
	if (jstr(row, "checksum_failures") && reason)
		json_object_object_add(d, "override_reason", json_object_new_string(reason));
	if (rc == 0)
		rc = station_audit(r->s, r->c->user, "order.approve", id, 0, 0, NULL, NULL, d);
	else
		json_object_put(d);
	if (rc == 0)
		rc = store_commit(r->s->st);
	if (rc != 0)
		store_rollback(r->s->st);
	else
		*result = json_object_new_object();
 out:
	json_object_put(row);
	return rc;
}

int
cmd_order_reject(struct request *r, struct json_object **result)
{
	struct json_object *row = NULL;
	const char *remark;
	char now[32];
	int64_t id;
	int rc;

	if ((rc = order_id_arg(r, &id)) != 0 || (rc = arg_str(r, "remark", 1, &remark)) != 0)
		return rc;
	if (remark[0] == '\0')
		return req_fail(r, UKEY_ERR_INVAL, "remark: required when rejecting (e.g. 资料不全)");
	if ((rc = order_state(r, id, &row)) != 0)
		return rc;
	if (strcmp(jstr(row, "state"), "pending") != 0) {
		rc = req_fail(r, UKEY_ERR_STATE, "order %lld: cannot reject an order in state %s"
		    " (only pending orders)", (long long)id, jstr(row, "state"));
		goto out;
	}
	store_now(now);
	if ((rc = store_begin(r->s->st)) != 0)
		goto out;
	rc = store_run(r->s->st, "UPDATE orders SET state = 'rejected', review_remark = ?,"
	    " reviewer = ?, reviewed_at = ?, updated_at = ? WHERE id = ?", "tttti", remark,
	    r->c->user, now, now, id);
	if (rc == 0)
		rc = station_audit(r->s, r->c->user, "order.reject", id, 0, 0, NULL, NULL,
		    json_object_new_string(remark));
	if (rc == 0)
		rc = store_commit(r->s->st);
	if (rc != 0)
		store_rollback(r->s->st);
	else
		*result = json_object_new_object();
 out:
	json_object_put(row);
	return rc;
}

static int
payment_no_valid(const char *no)
{
	size_t n = strlen(no), i;

	if (n < 8 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)no[i]))
			return 0;
	return 1;
}

int
cmd_order_pay(struct request *r, struct json_object **result)
{
	struct json_object *row = NULL;
	const char *no;
	char now[32];
	int64_t id, other = 0;
	int rc;

	if ((rc = order_id_arg(r, &id)) != 0 || (rc = arg_str(r, "payment_no", 1, &no)) != 0)
		return rc;
	if (!payment_no_valid(no))
		return req_fail(r, UKEY_ERR_INVAL, "payment_no: 8 to 64 letters or digits (the portal's"
		    " payment order number, e.g. 30 digits)");
	if ((rc = order_state(r, id, &row)) != 0)
		return rc;
	if (strcmp(jstr(row, "state"), "approved") != 0) {
		rc = req_fail(r, UKEY_ERR_STATE, "order %lld: cannot take payment for an order in state"
		    " %s (only approved orders)", (long long)id, jstr(row, "state"));
		goto out;
	}
	if (store_int(r->s->st, &other, "SELECT id FROM orders WHERE payment_no = ?", "t", no) == 0) {
		rc = req_fail(r, UKEY_ERR_EXISTS, "payment_no: already used by order %lld",
		    (long long)other);
		goto out;
	}
	store_now(now);
	if ((rc = store_begin(r->s->st)) != 0)
		goto out;
	rc = store_run(r->s->st, "UPDATE orders SET state = 'waiting_production', payment_no = ?,"
	    " paid_at = ?, paid_by = ?, updated_at = ? WHERE id = ?", "tttti", no, now, r->c->user,
	    now, id);
	if (rc == 0)
		rc = store_run(r->s->st, "UPDATE units SET state = 'queued', updated_at = ? WHERE state ="
		    " 'held' AND item_id IN (SELECT id FROM order_items WHERE order_id = ?)", "ti", now, id);
	if (rc == 0)
		rc = station_audit(r->s, r->c->user, "order.pay", id, 0, 0, NULL, NULL,
		    json_object_new_string(no));
	if (rc == 0)
		rc = store_commit(r->s->st);
	if (rc != 0) {
		store_rollback(r->s->st);
		goto out;
	}
	*result = json_object_new_object();
	/* tokens waiting in bays can start on the new units now */
	bay_kick_idle(r->s);
 out:
	json_object_put(row);
	return rc;
}

int
cmd_queue(struct request *r, struct json_object **result)
{
	return store_query(r->s->st, result,
	    "SELECT u.id AS unit, o.id AS order_id, o.portal_ref, i.kind, i.name, i.cert_profile,"
	    " i.years, u.seq, i.count, u.state, o.paid_at FROM units u"
	    " JOIN order_items i ON i.id = u.item_id JOIN orders o ON o.id = i.order_id"
	    " WHERE u.state IN ('queued', 'in_production') ORDER BY o.paid_at, o.id, i.seq, u.seq", "");
}
