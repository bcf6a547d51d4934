/* Control commands for orders: import, list, show, review, payment, queue. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

/* The format of an order file: the "format" argument, else the file name's
 * extension (.csv), else JSON. Returns 0 or an error reported on r. */
static int
import_format(struct request *r, const char *name, enum order_file_format *fmt)
{
	const char *f = NULL, *dot;

	(void)arg_str(r, "format", 0, &f);
	if (f == NULL) {
		dot = name != NULL ? strrchr(name, '.') : NULL;
		*fmt = dot != NULL && strcasecmp(dot, ".csv") == 0 ? ORDER_FILE_CSV : ORDER_FILE_JSON;
		return 0;
	}
	if (strcmp(f, "json") == 0)
		*fmt = ORDER_FILE_JSON;
	else if (strcmp(f, "csv") == 0)
		*fmt = ORDER_FILE_CSV;
	else
		return req_fail(r, UKEY_ERR_INVAL, "argument format: must be \"json\" or \"csv\"");
	return 0;
}

static struct json_object *
strings(const struct errlist *el)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < el->n; i++)
		json_object_array_add(a, json_object_new_string(el->msgs[i]));
	return a;
}

/* The report of one order: its place, reference and what became of it. */
static struct json_object *
entry_report(const struct order_file *f, size_t i, const char *status)
{
	const struct order_file_entry *e = &f->entries[i];
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "n", json_object_new_int64((int64_t)i + 1));
	if (f->format == ORDER_FILE_CSV)
		json_object_object_add(o, "line", json_object_new_int64((int64_t)e->line));
	json_object_object_add(o, "portal_ref", e->portal_ref ?
	    json_object_new_string(e->portal_ref) : NULL);
	json_object_object_add(o, "status", json_object_new_string(status));
	return o;
}

/* Imports the valid orders of f in one transaction; an order whose
 * portal_ref is already in the store is unchanged when its normalized form
 * is the same, and refused when it differs. Unless partial, one refused
 * order rolls everything back. Fills report->orders and the counters. */
static int
import_orders(struct request *r, struct order_file *f, int partial, struct json_object *report,
    size_t *n_refused, size_t *n_imported)
{
	struct station *s = r->s;
	struct json_object *list = json_object_new_array(), *imported = json_object_new_array();
	struct json_object *unchanged = json_object_new_array(), **rep;
	char now[32];
	size_t i;
	int rc;

	*n_refused = f->n_bad;
	*n_imported = 0;
	if ((rep = calloc(f->n ? f->n : 1, sizeof(*rep))) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	store_now(now);
	if ((rc = store_begin(s->st)) != 0)
		goto out;
	for (i = 0; i < f->n; i++) {
		struct order_file_entry *e = &f->entries[i];
		struct json_object *old = NULL, *x;
		struct order *o = NULL;
		const char *doc;
		int64_t id = 0;

		if (e->order == NULL) {
			rep[i] = entry_report(f, i, "refused");
			json_object_object_add(rep[i], "errors", strings(&e->errs));
			continue;
		}
		if ((rc = order_from_json(e->order, time(NULL), &o, NULL)) != 0) {
			req_fail(r, rc, "order %zu: normalized form does not parse again", i + 1);
			goto rollback;
		}
		doc = json_object_to_json_string_ext(e->order, JSON_C_TO_STRING_PLAIN);
		rc = store_row(s->st, &old, "SELECT id, state, doc FROM orders WHERE portal_ref = ?",
		    "t", o->portal_ref);
		if (rc == 0) {
			id = json_object_get_int64(json_object_object_get(old, "id"));
			if (strcmp(json_object_get_string(json_object_object_get(old, "doc")), doc) == 0) {
				/* importing the same file twice changes nothing */
				rep[i] = entry_report(f, i, "unchanged");
				json_object_object_add(rep[i], "id", json_object_new_int64(id));
				json_object_array_add(unchanged, json_object_new_string(o->portal_ref));
			} else {
				char msg[256];

				if (f->format == ORDER_FILE_CSV)
					snprintf(msg, sizeof(msg), "line %zu: order %s, portal_ref (订单编号)",
					    e->line, o->portal_ref);
				else
					snprintf(msg, sizeof(msg), "order %s, portal_ref", o->portal_ref);
				snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), ": already imported"
				    " as order %lld (state %s) with different content; an import never"
				    " changes an order", (long long)id,
				    json_object_get_string(json_object_object_get(old, "state")));
				rep[i] = entry_report(f, i, "refused");
				x = json_object_new_array();
				json_object_array_add(x, json_object_new_string(msg));
				json_object_object_add(rep[i], "errors", x);
				(*n_refused)++;
			}
			json_object_put(old);
			order_free(o);
			continue;
		}
		if (rc != UKEY_ERR_NOTFOUND || (rc = insert_order(r, o, e->order, now, &id)) != 0) {
			order_free(o);
			goto rollback;
		}
		rep[i] = entry_report(f, i, "imported");
		json_object_object_add(rep[i], "id", json_object_new_int64(id));
		json_object_object_add(rep[i], "certificates", json_object_new_int((int)order_cert_count(o)));
		json_object_object_add(rep[i], "total_fen", json_object_new_int64(order_total_fen(o)));
		json_object_object_add(rep[i], "checksum_failures",
		    json_object_new_int((int)o->n_checksum_failures));
		x = json_object_new_object();
		json_object_object_add(x, "id", json_object_new_int64(id));
		json_object_object_add(x, "portal_ref", json_object_new_string(o->portal_ref));
		json_object_object_add(x, "certificates", json_object_new_int((int)order_cert_count(o)));
		json_object_object_add(x, "total_fen", json_object_new_int64(order_total_fen(o)));
		json_object_object_add(x, "checksum_failures",
		    json_object_new_int((int)o->n_checksum_failures));
		json_object_array_add(imported, x);
		(*n_imported)++;
		rc = station_audit(s, r->c->user, "order.import", id, 0, 0, NULL, NULL,
		    json_object_new_string(o->portal_ref));
		order_free(o);
		if (rc != 0)
			goto rollback;
	}
	if (*n_refused > 0 && !partial) {
		/* one bad order keeps the whole file out */
		store_rollback(s->st);
		for (i = 0; i < f->n; i++) {
			if (strcmp(json_object_get_string(json_object_object_get(rep[i], "status")),
			    "imported") != 0)
				continue;
			json_object_put(rep[i]);
			rep[i] = entry_report(f, i, "skipped");
		}
		json_object_put(imported);
		imported = json_object_new_array();
		*n_imported = 0;
	} else if ((rc = store_commit(s->st)) != 0) {
		goto rollback;
	}
	for (i = 0; i < f->n; i++) {
		json_object_array_add(list, rep[i]);
		rep[i] = NULL;
	}
	json_object_object_add(report, "orders", list);
	json_object_object_add(report, "imported", imported);
	json_object_object_add(report, "unchanged", unchanged);
	list = imported = unchanged = NULL;
	rc = 0;
	goto out;
 rollback:
	store_rollback(s->st);
 out:
	for (i = 0; rep != NULL && i < f->n; i++)
		json_object_put(rep[i]);
	free(rep);
	json_object_put(list);
	json_object_put(imported);
	json_object_put(unchanged);
	return rc;
}

int
cmd_order_import(struct request *r, struct json_object **result)
{
	struct json_object *report = NULL, *v;
	struct order_file *f = NULL;
	enum order_file_format fmt;
	const char *text, *name = NULL, *shown;
	size_t n_refused = 0, n_imported = 0;
	int rc, partial = 0;

	if ((rc = arg_str(r, "text", 1, &text)) != 0)
		return rc;
	(void)arg_str(r, "file", 0, &name);
	shown = name != NULL ? name : "order file";
	if ((v = json_object_object_get(r->args, "partial")) != NULL) {
		if (!json_object_is_type(v, json_type_boolean))
			return req_fail(r, UKEY_ERR_INVAL, "argument partial: must be true or false");
		partial = json_object_get_boolean(v);
	}
	if ((rc = import_format(r, name, &fmt)) != 0)
		return rc;
	/* the length, not strlen(): a NUL in the file is the reader's to refuse */
	rc = order_file_read(text, (size_t)json_object_get_string_len(json_object_object_get(r->args,
	    "text")), fmt, time(NULL), &f);
	if (rc != 0)
		return rc;
	report = json_object_new_object();
	json_object_object_add(report, "file", json_object_new_string(shown));
	json_object_object_add(report, "format", json_object_new_string(fmt == ORDER_FILE_CSV ?
	    "csv" : "json"));
	json_object_object_add(report, "partial", json_object_new_boolean(partial));
	json_object_object_add(report, "errors", strings(&f->errs));
	if (f->errs.n > 0) {
		r->details = report;
		report = NULL;
		rc = req_fail(r, UKEY_ERR_INVAL, "%s: %zu error%s in the file; nothing imported", shown,
		    f->errs.n, f->errs.n == 1 ? "" : "s");
		goto out;
	}
	if ((rc = import_orders(r, f, partial, report, &n_refused, &n_imported)) != 0)
		goto out;
	json_object_object_add(report, "refused", json_object_new_int64((int64_t)n_refused));
	if (n_refused > 0) {
		/* the report goes with the error: which orders, and why */
		r->details = report;
		report = NULL;
		if (partial)
			rc = req_fail(r, UKEY_ERR_INVAL, "%s: %zu of %zu orders refused; %zu imported",
			    shown, n_refused, f->n, n_imported);
		else
			rc = req_fail(r, UKEY_ERR_INVAL, "%s: %zu of %zu orders refused; nothing imported"
			    " (--partial imports the good ones)", shown, n_refused, f->n);
		goto out;
	}
	*result = report;
	report = NULL;
	rc = 0;
 out:
	json_object_put(report);
	order_file_free(f);
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
