/* Control commands for orders: import, list, show, and every lifecycle step
 * (review, edit, payment, delivery, cancellation, invoice), each checked
 * against the transition table in orders/lifecycle.c and audited in the
 * same transaction as the change. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/caldate.h"
#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"
#include "orders/idcheck.h"
#include "orders/lifecycle.h"
#include "orders/order.h"
#include "orders/route.h"
#include "station/control.h"

static const char *
jstr(struct json_object *o, const char *k)
{
	return json_object_get_string(json_object_object_get(o, k));
}

/* The order's organisation name: its organisation section, else the account. */
static const char *
org_name_of(const struct order *o)
{
	size_t i;

	for (i = 0; i < o->n_items; i++)
		if (o->items[i].kind == ITEM_ORG)
			return o->items[i].name;
	return o->account_name;
}

/* Items and their held units (one per certificate) of an order whose row
 * exists, inside an open transaction. */
static int
insert_items(struct request *r, const struct order *o, int64_t order_id, const char *now)
{
	size_t i;
	int rc, u;

	for (i = 0; i < o->n_items; i++) {
		const struct order_item *it = &o->items[i];
		int64_t item_id;

		rc = store_run(r->s->st, "INSERT INTO order_items (order_id, seq, kind, name,"
		    " cert_profile, years, count) VALUES (?, ?, ?, ?, ?, ?, ?)", "iitttii", order_id,
		    (int64_t)i + 1, item_kind_name(it->kind), it->name, order_item_profile(it),
		    (int64_t)it->years, (int64_t)it->count);
		if (rc != 0)
			return rc;
		item_id = store_last_id(r->s->st);
		for (u = 0; u < it->count; u++)
			if ((rc = store_run(r->s->st, "INSERT INTO units (item_id, seq, state, updated_at)"
			    " VALUES (?, ?, 'held', ?)", "iit", item_id, (int64_t)u + 1, now)) != 0)
				return rc;
	}
	return 0;
}

/* The identity check-character failures as stored (a JSON array of
 * messages), or NULL when there are none; the caller owns the result. */
static struct json_object *
failures_json(const struct order *o)
{
	struct json_object *a;
	size_t i;

	if (o->n_checksum_failures == 0)
		return NULL;
	a = json_object_new_array();
	for (i = 0; i < o->n_checksum_failures; i++)
		json_object_array_add(a, json_object_new_string(o->checksum_failures[i]));
	return a;
}

static int
insert_order(struct request *r, const struct order *o, struct json_object *norm, const char *now,
    int64_t *order_id)
{
	struct json_object *fails;
	uint8_t *sealed = NULL;
	size_t slen = 0;
	char *masked = NULL;
	int rc;

	if ((rc = orderdoc_seal(r->s, o->portal_ref,
	    json_object_to_json_string_ext(norm, JSON_C_TO_STRING_PLAIN), &masked, &sealed,
	    &slen)) != 0)
		return rc;
	fails = failures_json(o);
	rc = store_run(r->s->st, "INSERT INTO orders (portal_ref, type, account_uscc, org_name, state,"
	    " total_fen, doc, doc_sealed, checksum_failures, created_at, created_by, updated_at)"
	    " VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)", "ttttitbtttt", o->portal_ref,
	    order_type_name(o->type), o->account_uscc, org_name_of(o), order_total_fen(o), masked,
	    sealed, slen, fails ? json_object_to_json_string_ext(fails, JSON_C_TO_STRING_PLAIN) : NULL,
	    now, r->c->user, now);
	json_object_put(fails);
	free(masked);
	free(sealed);
	if (rc != 0)
		return rc;
	*order_id = store_last_id(r->s->st);
	return insert_items(r, o, *order_id, now);
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
		rc = store_row(s->st, &old, "SELECT id, state, portal_ref, doc_sealed FROM orders"
		    " WHERE portal_ref = ?", "t", o->portal_ref);
		if (rc == 0) {
			char *stored = NULL;
			int same;

			id = json_object_get_int64(json_object_object_get(old, "id"));
			if ((rc = orderdoc_text(s, jstr(old, "portal_ref"), jstr(old, "doc_sealed"),
			    &stored)) != 0) {
				req_fail(r, UKEY_ERR_DB, "order %lld: its stored document cannot be"
				    " opened: %s", (long long)id, ukey_strerror(rc));
				rc = UKEY_ERR_DB;
				json_object_put(old);
				order_free(o);
				goto rollback;
			}
			same = strcmp(stored, doc) == 0;
			secure_wipe(stored, strlen(stored));
			free(stored);
			if (same) {
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
	enum order_file_format fmt = ORDER_FILE_JSON;
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

/* 1 if s is a real calendar date written YYYY-MM-DD. */
static int
date_text_valid(const char *s)
{
	int y, m, d, i;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return 0;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	return y >= 1900 && date_valid(y, m, d);
}

int
cmd_order_list(struct request *r, struct json_object **result)
{
	const char *state = NULL, *org = NULL, *type = NULL, *since = NULL, *until = NULL;
	enum order_state st;
	char why[160];
	int rc;

	if (((rc = arg_str(r, "state", 0, &state)) != 0 && rc != UKEY_ERR_NOTFOUND) ||
	    ((rc = arg_str(r, "org", 0, &org)) != 0 && rc != UKEY_ERR_NOTFOUND) ||
	    ((rc = arg_str(r, "type", 0, &type)) != 0 && rc != UKEY_ERR_NOTFOUND) ||
	    ((rc = arg_str(r, "since", 0, &since)) != 0 && rc != UKEY_ERR_NOTFOUND) ||
	    ((rc = arg_str(r, "until", 0, &until)) != 0 && rc != UKEY_ERR_NOTFOUND))
		return rc;
	if (state != NULL && order_state_parse(state, &st) != 0)
		return req_fail(r, UKEY_ERR_INVAL, "argument state: \"%.32s\" is not an order state"
		    " (pending, approved, rejected, waiting_production, in_production, issued,"
		    " delivered, cancelled)", state);
	/* a code that fails only its check character exists in the wild */
	if (org != NULL && (rc = uscc_check(org, why, sizeof(why))) != 0 && rc != UKEY_ERR_VERIFY)
		return req_fail(r, UKEY_ERR_INVAL, "argument org: %s", why);
	if (type != NULL && strcmp(type, "new") != 0 && strcmp(type, "renewal") != 0)
		return req_fail(r, UKEY_ERR_INVAL, "argument type: must be \"new\" or \"renewal\"");
	if (since != NULL && !date_text_valid(since))
		return req_fail(r, UKEY_ERR_INVAL, "argument since: \"%.32s\" is not a date"
		    " YYYY-MM-DD", since);
	if (until != NULL && !date_text_valid(until))
		return req_fail(r, UKEY_ERR_INVAL, "argument until: \"%.32s\" is not a date"
		    " YYYY-MM-DD", until);
	if (since != NULL && until != NULL && strcmp(since, until) > 0)
		return req_fail(r, UKEY_ERR_INVAL, "arguments since and until: %s is after %s", since,
		    until);
	/* created_at is ISO-8601 UTC: its first ten characters are the date */
	return store_query(r->s->st, result,
	    "SELECT o.id, o.portal_ref, o.type, o.state, o.org_name, o.account_uscc, o.total_fen,"
	    " o.payment_no, o.renews_cert, o.refund_due, o.revision, o.created_at, o.updated_at,"
	    " (SELECT count(*) FROM units u JOIN order_items i ON i.id = u.item_id"
	    "  WHERE i.order_id = o.id) AS certificates,"
	    " (SELECT count(*) FROM units u JOIN order_items i ON i.id = u.item_id"
	    "  WHERE i.order_id = o.id AND u.state = 'issued') AS issued"
	    " FROM orders o WHERE (?1 IS NULL OR o.state = ?1) AND (?2 IS NULL OR o.account_uscc = ?2)"
	    " AND (?3 IS NULL OR o.type = ?3) AND (?4 IS NULL OR substr(o.created_at, 1, 10) >= ?4)"
	    " AND (?5 IS NULL OR substr(o.created_at, 1, 10) <= ?5) ORDER BY o.id", "ttttt", state,
	    org, type, since, until);
}

static int
order_id_arg(struct request *r, int64_t *id)
{
	return arg_int(r, "id", 1, id);
}

/* A stored JSON text column as JSON (ID numbers masked unless reveal). */
static void
json_column(struct json_object *row, const char *key, int mask)
{
	struct json_object *v;

	if (jstr(row, key) == NULL)
		return;
	v = json_tokener_parse(jstr(row, key));
	if (mask)
		orderdoc_mask(v);
	json_object_object_add(row, key, v);
}

/* The row's order document as JSON: as stored (ID numbers masked), or, to
 * reveal, opened from its sealed form. The sealed column is not shown. */
static int
doc_column(struct request *r, struct json_object *row, const char *portal_ref, int reveal)
{
	struct json_object *doc;
	int rc;

	if (!reveal) {
		json_column(row, "doc", 1);
	} else {
		if ((rc = orderdoc_open(r->s, portal_ref, jstr(row, "doc_sealed"), &doc)) != 0)
			return req_fail(r, UKEY_ERR_DB, "order %s: its sealed document cannot be"
			    " opened: %s", portal_ref, ukey_strerror(rc));
		json_object_object_add(row, "doc", doc);
	}
	json_object_object_del(row, "doc_sealed");
	return 0;
}

int
cmd_order_show(struct request *r, struct json_object **result)
{
	struct json_object *o = NULL, *items = NULL, *units = NULL, *revs = NULL, *dl = NULL, *v;
	int64_t id;
	int reveal = 0, rc;
	size_t i;

	if ((rc = order_id_arg(r, &id)) != 0)
		return rc;
	if ((v = json_object_object_get(r->args, "reveal")) != NULL) {
		if (!json_object_is_type(v, json_type_boolean))
			return req_fail(r, UKEY_ERR_INVAL, "argument reveal: must be true or false");
		reveal = json_object_get_boolean(v);
	}
	rc = store_row(r->s->st, &o, "SELECT id, portal_ref, type, state, org_name, account_uscc,"
	    " total_fen, payment_no, doc, doc_sealed, revision, renews_cert, checksum_failures,"
	    " override_reason,"
	    " override_by, review_remark, reviewer, reviewed_at, paid_at, paid_by, cancel_remark,"
	    " cancelled_at, cancelled_by, refund_due, invoice_requested_at, invoice_requested_by,"
	    " created_at, created_by, updated_at FROM orders WHERE id = ?", "i", id);
	if (rc == UKEY_ERR_NOTFOUND)
		return req_fail(r, rc, "order %lld: no such order", (long long)id);
	if (rc != 0)
		return rc;
	if ((rc = doc_column(r, o, jstr(o, "portal_ref"), reveal)) != 0) {
		json_object_put(o);
		return rc;
	}
	json_column(o, "checksum_failures", 0);
	rc = store_query(r->s->st, &items, "SELECT id, seq, kind, name, cert_profile, years, count"
	    " FROM order_items WHERE order_id = ? ORDER BY seq", "i", id);
	if (rc == 0)
		rc = store_query(r->s->st, &units, "SELECT u.id, i.seq AS item, u.seq, u.state, u.job_id,"
		    " s.cert_serial, s.token_serial FROM units u JOIN order_items i ON i.id = u.item_id"
		    " LEFT JOIN issuances s ON s.unit_id = u.id WHERE i.order_id = ? ORDER BY i.seq, u.seq",
		    "i", id);
	if (rc == 0)
		rc = store_query(r->s->st, &revs, "SELECT revision, type, org_name, total_fen, doc,"
		    " doc_sealed,"
		    " checksum_failures, review_remark, replaced_at, replaced_by FROM order_revisions"
		    " WHERE order_id = ? ORDER BY revision", "i", id);
	if (rc == 0) {
		rc = store_row(r->s->st, &dl, "SELECT method, picked_up_by, carrier, tracking_no,"
		    " delivered_at, delivered_by FROM deliveries WHERE order_id = ?", "i", id);
		if (rc == UKEY_ERR_NOTFOUND)
			rc = 0;
	}
	if (rc == 0 && reveal) {
		/* full identity numbers left the station: that is on the record */
		if ((rc = store_begin(r->s->st)) == 0) {
			rc = station_audit(r->s, r->c->user, "order.reveal", id, 0, 0, NULL, NULL,
			    json_object_new_string(jstr(o, "portal_ref")));
			if (rc == 0)
				rc = store_commit(r->s->st);
			if (rc != 0)
				store_rollback(r->s->st);
		}
	}
	if (rc != 0) {
		json_object_put(o);
		json_object_put(items);
		json_object_put(units);
		json_object_put(revs);
		json_object_put(dl);
		return rc;
	}
	for (i = 0; rc == 0 && i < json_object_array_length(revs); i++) {
		rc = doc_column(r, json_object_array_get_idx(revs, i), jstr(o, "portal_ref"), reveal);
		json_column(json_object_array_get_idx(revs, i), "checksum_failures", 0);
	}
	if (rc != 0) {
		json_object_put(o);
		json_object_put(items);
		json_object_put(units);
		json_object_put(revs);
		json_object_put(dl);
		return rc;
	}
	json_object_object_add(o, "items", items);
	json_object_object_add(o, "units", units);
	json_object_object_add(o, "revisions", revs);
	if (dl != NULL)
		json_object_object_add(o, "delivery", dl);
	json_object_object_add(o, "revealed", json_object_new_boolean(reveal));
	*result = o;
	return 0;
}

/*
 * Loads order id and checks that ev is legal in its state. Returns 0 with
 * *row (owned), *from and *to; UKEY_ERR_NOTFOUND or UKEY_ERR_STATE with the
 * message in r->msg and *row NULL.
 */
static int
order_for(struct request *r, int64_t id, enum order_event ev, struct json_object **row,
    enum order_state *from, enum order_state *to)
{
	int rc = store_row(r->s->st, row, "SELECT * FROM orders WHERE id = ?", "i", id);

	if (rc == UKEY_ERR_NOTFOUND)
		return req_fail(r, rc, "order %lld: no such order", (long long)id);
	if (rc != 0)
		return rc;
	if (order_state_parse(jstr(*row, "state"), from) != 0) {
		rc = req_fail(r, UKEY_ERR_DB, "order %lld: the store holds unknown state \"%s\"",
		    (long long)id, jstr(*row, "state"));
	} else if (lifecycle_next(*from, ev, to) != 0) {
		lifecycle_refusal(id, *from, ev, r->msg, sizeof(r->msg));
		rc = UKEY_ERR_STATE;
	}
	if (rc != 0) {
		json_object_put(*row);
		*row = NULL;
	}
	return rc;
}

/*
 * Inside an open transaction: moves the order from -> to and appends the
 * audit record "order.<event>" with detail (taken; NULL for none) plus the
 * two states. The UPDATE names the old state too, so that it cannot apply
 * to an order that moved meanwhile.
 */
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
	rc = store_run(s->st, "UPDATE orders SET state = ?, updated_at = ? WHERE id = ?"
	    " AND state = ?", "ttit", order_state_name(to), now, id, order_state_name(from));
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
	struct json_object *row = NULL;
	char why[160];
	int rc;

	if ((rc = store_row(s->st, &row, "SELECT state FROM orders WHERE id = ?", "i", id)) != 0)
		return rc;
	if (order_state_parse(jstr(row, "state"), &from) != 0) {
		log_error("order %lld: the store holds unknown state \"%s\"", (long long)id,
		    jstr(row, "state"));
		json_object_put(row);
		return UKEY_ERR_DB;
	}
	json_object_put(row);
	if (lifecycle_next(from, ev, &to) != 0) {
		lifecycle_refusal(id, from, ev, why, sizeof(why));
		log_error("%s", why);
		return UKEY_ERR_STATE;
	}
	if (to == from)
		return 0;	/* e.g. a further unit of an order already in production */
	return station_order_move(s, actor, id, from, to, ev, now, NULL);
}

static int
order_move(struct request *r, int64_t id, enum order_state from, enum order_state to,
    enum order_event ev, const char *now, struct json_object *detail)
{
	return station_order_move(r->s, r->c->user, id, from, to, ev, now, detail);
}

/* Commits when rc is 0, else (or when the commit fails) rolls back. */
static int
tx_end(struct request *r, int rc)
{
	if (rc == 0)
		rc = store_commit(r->s->st);
	if (rc != 0)
		store_rollback(r->s->st);
	return rc;
}

/* The reply of a transition: the order's id and its new state. */
static struct json_object *
moved(int64_t id, enum order_state to)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(id));
	json_object_object_add(o, "state", json_object_new_string(order_state_name(to)));
	return o;
}

/* Text argument that a person reads later: required, valid UTF-8, no
 * control characters, 1 to max characters. */
static int
arg_text(struct request *r, const char *name, int required, size_t max, const char **out)
{
	int rc = arg_str(r, name, required, out);

	if (rc != 0)
		return rc;
	if (!utf8_valid(*out, strlen(*out)) || utf8_has_control(*out))
		return req_fail(r, UKEY_ERR_INVAL, "%s: must be UTF-8 text without control characters",
		    name);
	if ((*out)[0] == '\0' || utf8_chars(*out) > max)
		return req_fail(r, UKEY_ERR_INVAL, "%s: must be 1 to %zu characters", name, max);
	return 0;
}

/* The order's document (the normalized JSON of its content) as an order. */
static int
stored_order(struct request *r, int64_t id, struct json_object *row, struct order **out)
{
	struct json_object *doc = NULL;
	int rc;

	*out = NULL;
	if ((rc = orderdoc_open(r->s, jstr(row, "portal_ref"), jstr(row, "doc_sealed"), &doc)) != 0)
		return req_fail(r, UKEY_ERR_DB, "order %lld: the stored document cannot be opened: %s",
		    (long long)id, ukey_strerror(rc));
	rc = order_from_json(doc, time(NULL), out, NULL);
	json_object_put(doc);
	if (rc != 0)
		return req_fail(r, rc == UKEY_ERR_NOMEM ? rc : UKEY_ERR_DB,
		    "order %lld: the stored document no longer validates", (long long)id);
	return 0;
}

/* Records a reviewer's override of the order's check-character failures,
 * inside an open transaction, with its own audit record. */
static int
record_override(struct request *r, int64_t id, struct json_object *row, const char *reason,
    const char *now)
{
	struct json_object *d = json_object_new_object();
	int rc;

	rc = store_run(r->s->st, "UPDATE orders SET override_reason = ?, override_by = ?,"
	    " updated_at = ? WHERE id = ?", "ttti", reason, r->c->user, now, id);
	json_object_object_add(d, "reason", json_object_new_string(reason));
	json_object_object_add(d, "checksum_failures",
	    json_tokener_parse(jstr(row, "checksum_failures")));
	if (rc != 0) {
		json_object_put(d);
		return rc;
	}
	return station_audit(r->s, r->c->user, "order.override", id, 0, 0, NULL, NULL, d);
}

/*
 * Checks that every certificate of order id can be made before the order is
 * approved: its subject under its certificate profile (RFC 5280 lengths,
 * string types, every variable present) and its token label (valid text,
 * at least one whole character within the smallest label of the firmware
 * profiles that can make its key). Fails with the item, the field and the
 * rule in r->msg, so that no such unit ever reaches a token.
 */
static int
order_identities_check(struct request *r, int64_t id, struct json_object *row)
{
	struct json_object *items = NULL, *doc = NULL;
	X509_NAME *name = NULL;
	char err[400], *label = NULL;
	size_t i;
	int rc;

	if ((rc = store_query(r->s->st, &items, "SELECT seq, kind, name, cert_profile FROM"
	    " order_items WHERE order_id = ? ORDER BY seq", "i", id)) != 0)
		return rc;
	if ((rc = orderdoc_open(r->s, jstr(row, "portal_ref"), jstr(row, "doc_sealed"), &doc)) != 0) {
		rc = req_fail(r, UKEY_ERR_DB, "order %lld: the stored document cannot be opened: %s",
		    (long long)id, ukey_strerror(rc));
		goto out;
	}
	for (i = 0; i < json_object_array_length(items); i++) {
		struct json_object *it = json_object_array_get_idx(items, i);

		err[0] = '\0';
		rc = job_unit_identity(r->s, doc, jstr(it, "kind"), jstr(it, "cert_profile"),
		    jstr(row, "account_uscc"), jstr(row, "portal_ref"), 0, NULL, &name, &label, err,
		    sizeof(err));
		X509_NAME_free(name);
		name = NULL;
		free(label);
		label = NULL;
		if (rc == UKEY_ERR_NOMEM)
			goto out;
		if (rc != 0) {
			rc = req_fail(r, rc == UKEY_ERR_NOTFOUND ? rc : UKEY_ERR_INVAL, "order %lld,"
			    " item %lld (%s %s, certificate profile %s): %s; not approved", (long long)id,
			    (long long)json_object_get_int64(json_object_object_get(it, "seq")),
			    jstr(it, "kind"), jstr(it, "name"), jstr(it, "cert_profile"),
			    err[0] ? err : ukey_strerror(rc));
			goto out;
		}
	}
	rc = 0;
 out:
	json_object_put(doc);
	json_object_put(items);
	return rc;
}

int
cmd_order_approve(struct request *r, struct json_object **result)
{
	struct json_object *row = NULL, *d;
	struct order *o = NULL;
	enum order_state from, to;
	const char *reason = NULL, *fails;
	char now[32], why[512], *renews = NULL;
	int64_t id;
	int rc, overriding = 0;

	if ((rc = order_id_arg(r, &id)) != 0)
		return rc;
	if (json_object_object_get(r->args, "override_reason") != NULL &&
	    (rc = arg_text(r, "override_reason", 1, 512, &reason)) != 0)
		return rc;
	if ((rc = order_for(r, id, OE_APPROVE, &row, &from, &to)) != 0)
		return rc;
	fails = jstr(row, "checksum_failures");
	if (fails != NULL && jstr(row, "override_reason") == NULL) {
		if (reason == NULL) {
			rc = req_fail(r, UKEY_ERR_VERIFY, "order %lld: identity check characters fail:"
			    " %s; after checking the documents, override with: ukeyctl order override"
			    " %lld --reason TEXT (or approve with --override-reason TEXT)",
			    (long long)id, fails, (long long)id);
			goto out;
		}
		overriding = 1;
	}
	if (strcmp(jstr(row, "type"), "renewal") == 0) {
		/* its units may only go to the token holding the certificate it renews */
		if ((rc = stored_order(r, id, row, &o)) != 0)
			goto out;
		if ((rc = route_renewal_resolve(r->s->st, id, o, &renews, why, sizeof(why))) != 0) {
			if (why[0])
				req_fail(r, rc, "%s; not approved", why);
			goto out;
		}
	}
	/* a unit whose subject or label cannot be made must never reach a token */
	if ((rc = order_identities_check(r, id, row)) != 0)
		goto out;
	store_now(now);
	if ((rc = store_begin(r->s->st)) != 0)
		goto out;
	if (overriding)
		rc = record_override(r, id, row, reason, now);
	if (rc == 0)
		rc = store_run(r->s->st, "UPDATE orders SET reviewer = ?, reviewed_at = ?,"
		    " renews_cert = ? WHERE id = ?", "ttti", r->c->user, now, renews, id);
	if (rc == 0) {
		d = json_object_new_object();
		if (renews)
			json_object_object_add(d, "renews_cert", json_object_new_string(renews));
		rc = order_move(r, id, from, to, OE_APPROVE, now, d);
	}
	if ((rc = tx_end(r, rc)) != 0)
		goto out;
	*result = moved(id, to);
	if (renews)
		json_object_object_add(*result, "renews_cert", json_object_new_string(renews));
 out:
	free(renews);
	order_free(o);
	json_object_put(row);
	return rc;
}

int
cmd_order_override(struct request *r, struct json_object **result)
{
	struct json_object *row = NULL;
	enum order_state from, to;
	const char *reason;
	char now[32];
	int64_t id;
	int rc;

	if ((rc = order_id_arg(r, &id)) != 0 || (rc = arg_text(r, "reason", 1, 512, &reason)) != 0)
		return rc;
	if ((rc = order_for(r, id, OE_OVERRIDE, &row, &from, &to)) != 0)
		return rc;
	if (jstr(row, "checksum_failures") == NULL) {
		rc = req_fail(r, UKEY_ERR_STATE, "order %lld: no identity check character fails;"
		    " there is nothing to override", (long long)id);
		goto out;
	}
	if (jstr(row, "override_reason") != NULL) {
		rc = req_fail(r, UKEY_ERR_EXISTS, "order %lld: already overridden by %s (\"%s\")",
		    (long long)id, jstr(row, "override_by"), jstr(row, "override_reason"));
		goto out;
	}
	store_now(now);
	if ((rc = store_begin(r->s->st)) != 0)
		goto out;
	/* the audit record is order.override, written by record_override */
	rc = record_override(r, id, row, reason, now);
	if ((rc = tx_end(r, rc)) == 0)
		*result = moved(id, to);
 out:
	json_object_put(row);
	return rc;
}

int
cmd_order_reject(struct request *r, struct json_object **result)
{
	struct json_object *row = NULL, *d;
	enum order_state from, to;
	const char *remark;
	char now[32];
	int64_t id;
	int rc;

	if ((rc = order_id_arg(r, &id)) != 0)
		return rc;
	if ((rc = arg_str(r, "remark", 1, &remark)) != 0)
		return rc;
	if (remark[0] == '\0')
		return req_fail(r, UKEY_ERR_INVAL, "remark: required when rejecting (e.g. 资料不全)");
	if ((rc = arg_text(r, "remark", 1, 512, &remark)) != 0)
		return rc;
	if ((rc = order_for(r, id, OE_REJECT, &row, &from, &to)) != 0)
		return rc;
	store_now(now);
	if ((rc = store_begin(r->s->st)) != 0)
		goto out;
	rc = store_run(r->s->st, "UPDATE orders SET review_remark = ?, reviewer = ?, reviewed_at = ?"
	    " WHERE id = ?", "ttti", remark, r->c->user, now, id);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "remark", json_object_new_string(remark));
		rc = order_move(r, id, from, to, OE_REJECT, now, d);
	}
	if ((rc = tx_end(r, rc)) == 0)
		*result = moved(id, to);
 out:
	json_object_put(row);
	return rc;
}

int
cmd_order_edit(struct request *r, struct json_object **result)
{
	struct json_object *row = NULL, *orders = NULL, *fails = NULL, *norm, *d;
	struct errlist errs = { 0 };
	struct order *o = NULL;
	enum order_state from, to;
	const char *text, *doc;
	char now[32], *stored = NULL, *masked = NULL;
	uint8_t *sealed = NULL;
	int64_t id, revision;
	size_t i, slen = 0;
	int rc, same;

	if ((rc = order_id_arg(r, &id)) != 0 || (rc = arg_str(r, "text", 1, &text)) != 0)
		return rc;
	if ((rc = order_for(r, id, OE_EDIT, &row, &from, &to)) != 0)
		return rc;
	/* the new content is validated exactly as an import would */
	if ((rc = order_file_parse(text, (size_t)json_object_get_string_len(
	    json_object_object_get(r->args, "text")), time(NULL), &orders, &errs)) != 0) {
		r->details = json_object_new_array();
		for (i = 0; i < errs.n; i++)
			json_object_array_add(r->details, json_object_new_string(errs.msgs[i]));
		req_fail(r, rc, "order %lld: the new content has %zu error%s; nothing changed",
		    (long long)id, errs.n, errs.n == 1 ? "" : "s");
		goto out;
	}
	if (json_object_array_length(orders) != 1) {
		rc = req_fail(r, UKEY_ERR_INVAL, "order %lld: the new content must be one order, not %zu;"
		    " nothing changed", (long long)id, json_object_array_length(orders));
		goto out;
	}
	norm = json_object_array_get_idx(orders, 0);
	if ((rc = order_from_json(norm, time(NULL), &o, NULL)) != 0) {
		req_fail(r, rc, "order %lld: the normalized form does not parse again", (long long)id);
		goto out;
	}
	if (strcmp(o->portal_ref, jstr(row, "portal_ref")) != 0) {
		rc = req_fail(r, UKEY_ERR_INVAL, "order %lld, portal_ref: the edit names %s, but the"
		    " order is %s; an edit keeps the portal reference", (long long)id, o->portal_ref,
		    jstr(row, "portal_ref"));
		goto out;
	}
	doc = json_object_to_json_string_ext(norm, JSON_C_TO_STRING_PLAIN);
	if ((rc = orderdoc_text(r->s, jstr(row, "portal_ref"), jstr(row, "doc_sealed"), &stored)) != 0) {
		rc = req_fail(r, UKEY_ERR_DB, "order %lld: its stored document cannot be opened: %s",
		    (long long)id, ukey_strerror(rc));
		goto out;
	}
	same = strcmp(doc, stored) == 0;
	secure_wipe(stored, strlen(stored));
	free(stored);
	if (same) {
		*result = moved(id, from);
		json_object_object_add(*result, "changed", json_object_new_boolean(0));
		json_object_object_add(*result, "revision",
		    json_object_new_int64(json_object_get_int64(json_object_object_get(row, "revision"))));
		goto out;
	}
	if ((rc = orderdoc_seal(r->s, o->portal_ref, doc, &masked, &sealed, &slen)) != 0)
		goto out;
	fails = failures_json(o);
	revision = json_object_get_int64(json_object_object_get(row, "revision"));
	store_now(now);
	if ((rc = store_begin(r->s->st)) != 0)
		goto out;
	/* the replaced content stays readable: auditors see what changed */
	rc = store_run(r->s->st, "INSERT INTO order_revisions (order_id, revision, type, org_name,"
	    " total_fen, doc, doc_sealed, checksum_failures, review_remark, replaced_at, replaced_by)"
	    " SELECT id, revision, type, org_name, total_fen, doc, doc_sealed, checksum_failures,"
	    " review_remark, ?, ? FROM orders WHERE id = ?", "tti", now, r->c->user, id);
	/* a rejected order was never paid: its units are all held, none has a job */
	if (rc == 0)
		rc = store_run(r->s->st, "DELETE FROM units WHERE item_id IN (SELECT id FROM order_items"
		    " WHERE order_id = ?)", "i", id);
	if (rc == 0)
		rc = store_run(r->s->st, "DELETE FROM order_items WHERE order_id = ?", "i", id);
	if (rc == 0)
		rc = store_run(r->s->st, "UPDATE orders SET type = ?, account_uscc = ?, org_name = ?,"
		    " total_fen = ?, doc = ?, doc_sealed = ?, checksum_failures = ?,"
		    " override_reason = NULL, override_by = NULL, renews_cert = NULL, revision = ?"
		    " WHERE id = ?", "tttitbtii",
		    order_type_name(o->type), o->account_uscc, org_name_of(o), order_total_fen(o), masked,
		    sealed, slen,
		    fails ? json_object_to_json_string_ext(fails, JSON_C_TO_STRING_PLAIN) : NULL,
		    revision + 1, id);
	if (rc == 0)
		rc = insert_items(r, o, id, now);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "revision", json_object_new_int64(revision + 1));
		json_object_object_add(d, "total_fen_before",
		    json_object_new_int64(json_object_get_int64(json_object_object_get(row, "total_fen"))));
		json_object_object_add(d, "total_fen", json_object_new_int64(order_total_fen(o)));
		json_object_object_add(d, "certificates", json_object_new_int((int)order_cert_count(o)));
		rc = order_move(r, id, from, to, OE_EDIT, now, d);
	}
	if ((rc = tx_end(r, rc)) != 0)
		goto out;
	*result = moved(id, to);
	json_object_object_add(*result, "changed", json_object_new_boolean(1));
	json_object_object_add(*result, "revision", json_object_new_int64(revision + 1));
	json_object_object_add(*result, "checksum_failures",
	    json_object_new_int((int)o->n_checksum_failures));
 out:
	errlist_clear(&errs);
	json_object_put(fails);
	json_object_put(orders);
	json_object_put(row);
	order_free(o);
	free(masked);
	free(sealed);
	return rc;
}

int
cmd_order_resubmit(struct request *r, struct json_object **result)
{
	struct json_object *row = NULL, *d;
	enum order_state from, to;
	char now[32];
	int64_t id;
	int rc;

	if ((rc = order_id_arg(r, &id)) != 0)
		return rc;
	if ((rc = order_for(r, id, OE_RESUBMIT, &row, &from, &to)) != 0)
		return rc;
	store_now(now);
	if ((rc = store_begin(r->s->st)) != 0)
		goto out;
	d = json_object_new_object();
	json_object_object_add(d, "revision",
	    json_object_new_int64(json_object_get_int64(json_object_object_get(row, "revision"))));
	rc = order_move(r, id, from, to, OE_RESUBMIT, now, d);
	if ((rc = tx_end(r, rc)) == 0)
		*result = moved(id, to);
 out:
	json_object_put(row);
	return rc;
}

/* The portal's payment order number: digits only (30 in the manual's
 * example, 202108311743133254271557329797). */
#define PAYMENT_NO_MIN 12
#define PAYMENT_NO_MAX 40

static int
payment_no_valid(const char *no)
{
	size_t n = strlen(no), i;

	if (n < PAYMENT_NO_MIN || n > PAYMENT_NO_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)no[i]))
			return 0;
	return 1;
}

int
cmd_order_pay(struct request *r, struct json_object **result)
{
	struct json_object *row = NULL, *d;
	enum order_state from, to;
	const char *no;
	char now[32];
	int64_t id, other = 0;
	int rc;

	if ((rc = order_id_arg(r, &id)) != 0 || (rc = arg_str(r, "payment_no", 1, &no)) != 0)
		return rc;
	if (!payment_no_valid(no))
		return req_fail(r, UKEY_ERR_INVAL, "payment_no: must be %d to %d digits (the portal's"
		    " payment order number, e.g. 30 digits)", PAYMENT_NO_MIN, PAYMENT_NO_MAX);
	if ((rc = order_for(r, id, OE_PAY, &row, &from, &to)) != 0)
		return rc;
	if (store_int(r->s->st, &other, "SELECT id FROM orders WHERE payment_no = ?", "t", no) == 0) {
		rc = req_fail(r, UKEY_ERR_EXISTS, "payment_no: already used by order %lld",
		    (long long)other);
		goto out;
	}
	store_now(now);
	if ((rc = store_begin(r->s->st)) != 0)
		goto out;
	rc = store_run(r->s->st, "UPDATE orders SET payment_no = ?, paid_at = ?, paid_by = ?"
	    " WHERE id = ?", "ttti", no, now, r->c->user, id);
	if (rc == 0)
		rc = store_run(r->s->st, "UPDATE units SET state = 'queued', updated_at = ? WHERE state ="
		    " 'held' AND item_id IN (SELECT id FROM order_items WHERE order_id = ?)", "ti", now, id);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "payment_no", json_object_new_string(no));
		rc = order_move(r, id, from, to, OE_PAY, now, d);
	}
	if ((rc = tx_end(r, rc)) != 0)
		goto out;
	*result = moved(id, to);
	/* tokens waiting in bays can start on the new units now */
	bay_kick_idle(r->s);
 out:
	json_object_put(row);
	return rc;
}

/* Tracking numbers: carriers use letters, digits and hyphens. */
static int
tracking_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 4 || n > 40)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return 0;
	return 1;
}

int
cmd_order_deliver(struct request *r, struct json_object **result)
{
	struct json_object *row = NULL, *doc = NULL, *d;
	enum order_state from, to;
	const char *who = NULL, *carrier = NULL, *tracking = NULL, *chosen;
	char now[32];
	int64_t id;
	int rc;

	if ((rc = order_id_arg(r, &id)) != 0)
		return rc;
	if ((json_object_object_get(r->args, "picked_up_by") != NULL &&
	    (rc = arg_text(r, "picked_up_by", 1, 64, &who)) != 0) ||
	    (json_object_object_get(r->args, "carrier") != NULL &&
	    (rc = arg_text(r, "carrier", 1, 64, &carrier)) != 0) ||
	    (json_object_object_get(r->args, "tracking_no") != NULL &&
	    (rc = arg_text(r, "tracking_no", 1, 40, &tracking)) != 0))
		return rc;
	if (who != NULL && (carrier != NULL || tracking != NULL))
		return req_fail(r, UKEY_ERR_INVAL, "delivery: either picked_up_by (signed for on site)"
		    " or carrier and tracking_no (mailed), not both");
	if (who == NULL && carrier == NULL && tracking == NULL)
		return req_fail(r, UKEY_ERR_INVAL, "delivery: picked_up_by (who signed for the tokens on"
		    " site) or carrier and tracking_no (mailed) is required");
	if (who == NULL && (carrier == NULL || tracking == NULL))
		return req_fail(r, UKEY_ERR_INVAL, "delivery: %s is required with %s",
		    carrier == NULL ? "carrier" : "tracking_no",
		    carrier == NULL ? "tracking_no" : "carrier");
	if (tracking != NULL && !tracking_valid(tracking))
		return req_fail(r, UKEY_ERR_INVAL, "tracking_no: must be 4 to 40 letters, digits or"
		    " hyphens");
	if ((rc = order_for(r, id, OE_DELIVER, &row, &from, &to)) != 0)
		return rc;
	doc = json_tokener_parse(jstr(row, "doc"));
	chosen = json_object_get_string(json_object_object_get(json_object_object_get(doc,
	    "delivery"), "kind"));
	if (chosen == NULL) {
		rc = req_fail(r, UKEY_ERR_DB, "order %lld: the stored document has no delivery choice",
		    (long long)id);
		goto out;
	}
	if (strcmp(chosen, "pickup") == 0 && who == NULL) {
		rc = req_fail(r, UKEY_ERR_INVAL, "order %lld: the order chose pick-up on site (现场自取);"
		    " record who signed for the tokens with --picked-up-by NAME", (long long)id);
		goto out;
	}
	if (strcmp(chosen, "mail") == 0 && who != NULL) {
		rc = req_fail(r, UKEY_ERR_INVAL, "order %lld: the order chose delivery by mail"
		    " (邮寄(到付)); record it with --carrier NAME --tracking NO", (long long)id);
		goto out;
	}
	store_now(now);
	if ((rc = store_begin(r->s->st)) != 0)
		goto out;
	rc = store_run(r->s->st, "INSERT INTO deliveries (order_id, method, picked_up_by, carrier,"
	    " tracking_no, delivered_at, delivered_by) VALUES (?, ?, ?, ?, ?, ?, ?)", "itttttt",
	    id, who ? "pickup" : "mail", who, carrier, tracking, now, r->c->user);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "method", json_object_new_string(who ? "pickup" : "mail"));
		if (who)
			json_object_object_add(d, "picked_up_by", json_object_new_string(who));
		if (carrier)
			json_object_object_add(d, "carrier", json_object_new_string(carrier));
		if (tracking)
			json_object_object_add(d, "tracking_no", json_object_new_string(tracking));
		rc = order_move(r, id, from, to, OE_DELIVER, now, d);
	}
	if ((rc = tx_end(r, rc)) == 0)
		*result = moved(id, to);
 out:
	json_object_put(doc);
	json_object_put(row);
	return rc;
}

int
cmd_order_cancel(struct request *r, struct json_object **result)
{
	struct json_object *row = NULL, *d;
	enum order_state from, to;
	const char *remark;
	char now[32];
	int64_t id, busy = 0, n = 0;
	int rc, refund;

	if ((rc = order_id_arg(r, &id)) != 0 || (rc = arg_text(r, "remark", 1, 512, &remark)) != 0)
		return rc;
	if ((rc = order_for(r, id, OE_CANCEL, &row, &from, &to)) != 0)
		return rc;
	rc = store_int(r->s->st, &busy, "SELECT count(*) FROM units u JOIN order_items i"
	    " ON i.id = u.item_id WHERE i.order_id = ? AND u.state IN ('in_production', 'issued')",
	    "i", id);
	if (rc != 0)
		goto out;
	if (busy > 0) {
		rc = req_fail(r, UKEY_ERR_STATE, "order %lld: cannot cancel: %lld of its certificates"
		    " are in production or issued (cancel the units not produced with: ukeyctl unit"
		    " cancel N --remark TEXT)", (long long)id, (long long)busy);
		goto out;
	}
	/* a paid order owes the customer a refund: that is part of the record */
	refund = from == OS_WAITING_PRODUCTION || from == OS_IN_PRODUCTION;
	(void)store_int(r->s->st, &n, "SELECT count(*) FROM units u JOIN order_items i"
	    " ON i.id = u.item_id WHERE i.order_id = ? AND u.state IN ('held', 'queued')", "i", id);
	store_now(now);
	if ((rc = store_begin(r->s->st)) != 0)
		goto out;
	rc = store_run(r->s->st, "UPDATE units SET state = 'cancelled', updated_at = ? WHERE state IN"
	    " ('held', 'queued') AND item_id IN (SELECT id FROM order_items WHERE order_id = ?)",
	    "ti", now, id);
	if (rc == 0)
		rc = store_run(r->s->st, "UPDATE orders SET cancel_remark = ?, cancelled_at = ?,"
		    " cancelled_by = ?, refund_due = ? WHERE id = ?", "tttii", remark, now, r->c->user,
		    (int64_t)refund, id);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "remark", json_object_new_string(remark));
		json_object_object_add(d, "refund_due", json_object_new_boolean(refund));
		json_object_object_add(d, "units_cancelled", json_object_new_int64(n));
		rc = order_move(r, id, from, to, OE_CANCEL, now, d);
	}
	if ((rc = tx_end(r, rc)) != 0)
		goto out;
	*result = moved(id, to);
	json_object_object_add(*result, "refund_due", json_object_new_boolean(refund));
	json_object_object_add(*result, "units_cancelled", json_object_new_int64(n));
 out:
	json_object_put(row);
	return rc;
}

int
cmd_order_invoice(struct request *r, struct json_object **result)
{
	struct json_object *row = NULL, *doc = NULL, *d;
	enum order_state from, to;
	const char *kind;
	char now[32];
	int64_t id;
	int rc;

	if ((rc = order_id_arg(r, &id)) != 0)
		return rc;
	if ((rc = order_for(r, id, OE_INVOICE_REQUEST, &row, &from, &to)) != 0)
		return rc;
	doc = json_tokener_parse(jstr(row, "doc"));
	kind = json_object_get_string(json_object_object_get(json_object_object_get(doc,
	    "invoice"), "kind"));
	if (kind == NULL || strcmp(kind, "mail") != 0) {
		rc = req_fail(r, UKEY_ERR_STATE, "order %lld: the order chose no invoice (不开票);"
		    " none can be requested", (long long)id);
		goto out;
	}
	if (jstr(row, "invoice_requested_at") != NULL) {
		rc = req_fail(r, UKEY_ERR_EXISTS, "order %lld: the invoice was already requested at %s"
		    " by %s", (long long)id, jstr(row, "invoice_requested_at"),
		    jstr(row, "invoice_requested_by"));
		goto out;
	}
	store_now(now);
	if ((rc = store_begin(r->s->st)) != 0)
		goto out;
	rc = store_run(r->s->st, "UPDATE orders SET invoice_requested_at = ?,"
	    " invoice_requested_by = ? WHERE id = ?", "tti", now, r->c->user, id);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "unit_name", json_object_get(json_object_object_get(
		    json_object_object_get(doc, "invoice"), "unit_name")));
		rc = order_move(r, id, from, to, OE_INVOICE_REQUEST, now, d);
	}
	if ((rc = tx_end(r, rc)) == 0) {
		*result = moved(id, to);
		json_object_object_add(*result, "invoice_requested_at", json_object_new_string(now));
	}
 out:
	json_object_put(doc);
	json_object_put(row);
	return rc;
}

int
cmd_queue(struct request *r, struct json_object **result)
{
	/* in production first, then the queue in the order tokens take it,
	 * then the held units with the reason they wait for a person */
	return store_query(r->s->st, result,
	    "SELECT u.id AS unit, o.id AS order_id, o.portal_ref, i.kind, i.name, i.cert_profile,"
	    " i.years, u.seq, i.count, u.state, o.paid_at, u.failures, u.last_failure,"
	    " u.hold_reason, u.held_at FROM units u"
	    " JOIN order_items i ON i.id = u.item_id JOIN orders o ON o.id = i.order_id"
	    " WHERE u.state IN ('queued', 'in_production', 'held')"
	    " AND o.state IN ('waiting_production', 'in_production')"
	    " ORDER BY CASE u.state WHEN 'in_production' THEN 0 WHEN 'queued' THEN 1 ELSE 2 END,"
	    ROUTE_QUEUE_KEYS, "");
}
