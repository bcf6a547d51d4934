/* Control commands that write an order's content: import of an order file
 * (JSON or CSV) and the edit of a rejected order, both validated by
 * orders/order_file.c and sealed by orderdoc.c before the store keeps them. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"
#include "orders/idcheck.h"
#include "orders/lifecycle.h"
#include "orders/order.h"
#include "orders/route.h"
#include "station/cmd_order.h"
#include "station/control.h"
#include "station/ordermove.h"
#include "station/orderview.h"
#include "store/store_orders.h"
#include "store/store_units.h"
#include "station/orderdoc.h"
#include "station/job.h"

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
	int rc;

	for (i = 0; i < o->n_items; i++) {
		const struct order_item *it = &o->items[i];
		struct store_order_item_new n = {
			.seq = (int64_t)i + 1, .years = it->years, .count = it->count,
			.kind = item_kind_name(it->kind), .name = it->name,
			.cert_profile = order_item_profile(it),
		};

		if ((rc = store_order_add_item(station_store(r->s), order_id, &n, now)) != 0)
			return rc;
	}
	return 0;
}

/* The identity check-character failures as stored (the text of a JSON
 * array of messages), or NULL when there are none; the caller frees it. */
static char *
failures_text(const struct order *o)
{
	struct json_object *a;
	char *text;
	size_t i;

	if (o->n_checksum_failures == 0)
		return NULL;
	a = json_object_new_array();
	for (i = 0; i < o->n_checksum_failures; i++)
		json_object_array_add(a, json_object_new_string(o->checksum_failures[i]));
	text = strdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
	json_object_put(a);
	return text;
}

/* The content the store keeps of order o: masked and sealed forms of its
 * normalized text, sealed here. Owned parts: *masked, *sealed, *fails. */
static int
order_content(struct request *r, const struct order *o, const char *text,
    struct store_order_content *c, char **masked, uint8_t **sealed, char **fails)
{
	size_t slen = 0;
	int rc;

	*fails = NULL;
	if ((rc = orderdoc_seal(r->s, o->portal_ref, text, masked, sealed, &slen)) != 0)
		return rc;
	*fails = failures_text(o);
	memset(c, 0, sizeof(*c));
	c->portal_ref = o->portal_ref;
	c->type = order_type_name(o->type);
	c->account_uscc = o->account_uscc;
	c->org_name = org_name_of(o);
	c->total_fen = order_total_fen(o);
	c->doc = *masked;
	c->doc_sealed = *sealed;
	c->doc_sealed_len = slen;
	c->checksum_failures = *fails;
	return 0;
}

static int
insert_order(struct request *r, const struct order *o, struct json_object *norm, const char *now,
    int64_t *order_id)
{
	struct store_order_content c;
	uint8_t *sealed = NULL;
	char *masked = NULL, *fails = NULL;
	int rc;

	rc = order_content(r, o, json_object_to_json_string_ext(norm, JSON_C_TO_STRING_PLAIN), &c,
	    &masked, &sealed, &fails);
	if (rc == 0)
		rc = store_order_insert(station_store(r->s), &c, now, r->c->user, order_id);
	free(masked);
	free(sealed);
	free(fails);
	if (rc != 0 || (rc = station_order_derive_point(r->s, *order_id, o, now)) != 0)
		return rc;
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

/* What one import builds: the per-order reports and the two summaries. */
struct import_run {
	struct order_file *f;
	struct json_object **rep, *imported, *unchanged;
	size_t n_refused, n_imported;
};

/* Entry i names an order already stored as old: unchanged when its
 * normalized form is the same, refused when it differs. */
static int
import_existing(struct request *r, struct import_run *run, size_t i, const struct order *o,
    const char *doc, const struct store_order *old)
{
	const struct order_file_entry *e = &run->f->entries[i];
	struct json_object *x;
	char *stored = NULL, msg[256];
	int rc, same;

	if ((rc = orderdoc_text_sealed(r->s, old->portal_ref, old->doc_sealed,
	    old->doc_sealed_len, &stored)) != 0)
		return req_fail(r, UKEY_ERR_DB, "order %lld: its stored document cannot be opened: %s",
		    (long long)old->id, ukey_strerror(rc));
	same = strcmp(stored, doc) == 0;
	secure_wipe(stored, strlen(stored));
	free(stored);
	if (same) {
		/* importing the same file twice changes nothing */
		run->rep[i] = entry_report(run->f, i, "unchanged");
		json_object_object_add(run->rep[i], "id", json_object_new_int64(old->id));
		json_object_array_add(run->unchanged, json_object_new_string(o->portal_ref));
		return 0;
	}
	if (run->f->format == ORDER_FILE_CSV)
		snprintf(msg, sizeof(msg), "line %zu: order %s, portal_ref (订单编号)", e->line,
		    o->portal_ref);
	else
		snprintf(msg, sizeof(msg), "order %s, portal_ref", o->portal_ref);
	snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), ": already imported as order %lld"
	    " (state %s) with different content; an import never changes an order",
	    (long long)old->id, old->state);
	run->rep[i] = entry_report(run->f, i, "refused");
	x = json_object_new_array();
	json_object_array_add(x, json_object_new_string(msg));
	json_object_object_add(run->rep[i], "errors", x);
	run->n_refused++;
	return 0;
}

/* The numbers of an imported order, for its report and the summary. */
static void
add_import_numbers(struct json_object *x, int64_t id, const struct order *o)
{
	json_object_object_add(x, "id", json_object_new_int64(id));
	json_object_object_add(x, "certificates", json_object_new_int((int)order_cert_count(o)));
	json_object_object_add(x, "total_fen", json_object_new_int64(order_total_fen(o)));
	json_object_object_add(x, "checksum_failures",
	    json_object_new_int((int)o->n_checksum_failures));
}

/* Entry i of the file, inside the import's transaction. */
static int
import_entry(struct request *r, struct import_run *run, size_t i, const char *now)
{
	struct order_file_entry *e = &run->f->entries[i];
	struct store_order *old = NULL;
	struct order *o = NULL;
	struct json_object *x;
	char why[512];
	int64_t id = 0;
	int rc;

	if (e->order == NULL) {
		run->rep[i] = entry_report(run->f, i, "refused");
		json_object_object_add(run->rep[i], "errors", strings(&e->errs));
		return 0;
	}
	if ((rc = order_from_json(e->order, time(NULL), &o, NULL)) != 0)
		return req_fail(r, rc, "order %zu: normalized form does not parse again", i + 1);
	if (order_replacement_fee_check(o, station_cfg(r->s)->fee_replacement_fen, why,
	    sizeof(why)) != 0) {
		run->rep[i] = entry_report(run->f, i, "refused");
		x = json_object_new_array();
		json_object_array_add(x, json_object_new_string(why));
		json_object_object_add(run->rep[i], "errors", x);
		run->n_refused++;
		rc = 0;
		goto out;
	}
	rc = store_order_load_ref(station_store(r->s), o->portal_ref, &old);
	if (rc == 0) {
		rc = import_existing(r, run, i, o,
		    json_object_to_json_string_ext(e->order, JSON_C_TO_STRING_PLAIN), old);
		goto out;
	}
	if (rc != UKEY_ERR_NOTFOUND || (rc = insert_order(r, o, e->order, now, &id)) != 0)
		goto out;
	run->rep[i] = entry_report(run->f, i, "imported");
	add_import_numbers(run->rep[i], id, o);
	x = json_object_new_object();
	add_import_numbers(x, id, o);
	json_object_object_add(x, "portal_ref", json_object_new_string(o->portal_ref));
	json_object_array_add(run->imported, x);
	run->n_imported++;
	rc = station_audit(r->s, r->c->user, "order.import", id, 0, 0, NULL, NULL,
	    json_object_new_string(o->portal_ref));
 out:
	store_order_free(old);
	order_free(o);
	return rc;
}

/* Unless partial, one refused order keeps the whole file out: the reports
 * of the orders that went in say "skipped". */
static void
import_undo(struct import_run *run)
{
	size_t i;

	for (i = 0; i < run->f->n; i++) {
		if (strcmp(json_object_get_string(json_object_object_get(run->rep[i], "status")),
		    "imported") != 0)
			continue;
		json_object_put(run->rep[i]);
		run->rep[i] = entry_report(run->f, i, "skipped");
	}
	json_object_put(run->imported);
	run->imported = json_object_new_array();
	run->n_imported = 0;
}

/* Imports the valid orders of f in one transaction; an order whose
 * portal_ref is already in the store is unchanged when its normalized form
 * is the same, and refused when it differs. Unless partial, one refused
 * order rolls everything back. Fills report->orders and the counters. */
static int
import_orders(struct request *r, struct order_file *f, int partial, struct json_object *report,
    size_t *n_refused, size_t *n_imported)
{
	struct import_run run = { .f = f, .n_refused = f->n_bad };
	struct json_object *list = json_object_new_array();
	char now[32];
	size_t i;
	int rc;

	run.imported = json_object_new_array();
	run.unchanged = json_object_new_array();
	if ((run.rep = calloc(f->n ? f->n : 1, sizeof(*run.rep))) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	store_now(now);
	if ((rc = store_begin(station_store(r->s))) != 0)
		goto out;
	for (i = 0; rc == 0 && i < f->n; i++)
		rc = import_entry(r, &run, i, now);
	if (rc == 0 && run.n_refused > 0 && !partial) {
		store_rollback(station_store(r->s));
		import_undo(&run);
	} else if (rc == 0) {
		rc = store_commit(station_store(r->s));
	}
	if (rc != 0) {
		store_rollback(station_store(r->s));
		goto out;
	}
	for (i = 0; i < f->n; i++) {
		json_object_array_add(list, run.rep[i]);
		run.rep[i] = NULL;
	}
	json_object_object_add(report, "orders", list);
	json_object_object_add(report, "imported", run.imported);
	json_object_object_add(report, "unchanged", run.unchanged);
	list = run.imported = run.unchanged = NULL;
	*n_refused = run.n_refused;
	*n_imported = run.n_imported;
	rc = 0;
 out:
	for (i = 0; run.rep != NULL && i < f->n; i++)
		json_object_put(run.rep[i]);
	free(run.rep);
	json_object_put(list);
	json_object_put(run.imported);
	json_object_put(run.unchanged);
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

/* The new content of an edit, validated exactly as an import would: one
 * order (*o, owned) keeping the portal reference of so; *orders holds its
 * normalized form (the only element; owned). */
static int
edit_parse(struct request *r, const struct store_order *so, const char *text,
    struct json_object **orders, struct order **o)
{
	struct errlist errs = { 0 };
	char why[512];
	size_t i;
	int rc;

	if ((rc = order_file_parse(text, (size_t)json_object_get_string_len(
	    json_object_object_get(r->args, "text")), time(NULL), orders, &errs)) != 0) {
		r->details = json_object_new_array();
		for (i = 0; i < errs.n; i++)
			json_object_array_add(r->details, json_object_new_string(errs.msgs[i]));
		req_fail(r, rc, "order %lld: the new content has %zu error%s; nothing changed",
		    (long long)so->id, errs.n, errs.n == 1 ? "" : "s");
		errlist_clear(&errs);
		return rc;
	}
	errlist_clear(&errs);
	if (json_object_array_length(*orders) != 1)
		return req_fail(r, UKEY_ERR_INVAL, "order %lld: the new content must be one order,"
		    " not %zu; nothing changed", (long long)so->id, json_object_array_length(*orders));
	if ((rc = order_from_json(json_object_array_get_idx(*orders, 0), time(NULL), o,
	    NULL)) != 0)
		return req_fail(r, rc, "order %lld: the normalized form does not parse again",
		    (long long)so->id);
	if (strcmp((*o)->portal_ref, so->portal_ref) != 0)
		return req_fail(r, UKEY_ERR_INVAL, "order %lld, portal_ref: the edit names %s, but the"
		    " order is %s; an edit keeps the portal reference", (long long)so->id,
		    (*o)->portal_ref, so->portal_ref);
	if (order_replacement_fee_check(*o, station_cfg(r->s)->fee_replacement_fen, why,
	    sizeof(why)) != 0)
		return req_fail(r, UKEY_ERR_INVAL, "%s; nothing changed", why);
	return 0;
}

/* 1 when doc is the order's stored content, 0 when it differs. */
static int
edit_same(struct request *r, const struct store_order *so, const char *doc, int *same)
{
	char *stored = NULL;
	int rc;

	if ((rc = orderdoc_text_sealed(r->s, so->portal_ref, so->doc_sealed, so->doc_sealed_len,
	    &stored)) != 0)
		return req_fail(r, UKEY_ERR_DB, "order %lld: its stored document cannot be opened: %s",
		    (long long)so->id, ukey_strerror(rc));
	*same = strcmp(doc, stored) == 0;
	secure_wipe(stored, strlen(stored));
	free(stored);
	return 0;
}

/* Writes the edit in one transaction: the old content kept as a revision,
 * the new one with its items and units, the move and its audit record. */
static int
edit_write(struct request *r, const struct store_order *so, const struct order *o,
    const char *doc, enum order_state from, enum order_state to)
{
	struct store_order_content c;
	struct json_object *d;
	uint8_t *sealed = NULL;
	char now[32], *masked = NULL, *fails = NULL;
	int rc;

	if ((rc = order_content(r, o, doc, &c, &masked, &sealed, &fails)) != 0)
		return rc;
	store_now(now);
	if ((rc = store_begin(station_store(r->s))) != 0)
		goto out;
	rc = store_order_revise(station_store(r->s), so->id, &c, so->revision + 1, now, r->c->user);
	if (rc == 0)
		rc = insert_items(r, o, so->id, now);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "revision", json_object_new_int64(so->revision + 1));
		json_object_object_add(d, "total_fen_before", json_object_new_int64(so->total_fen));
		json_object_object_add(d, "total_fen", json_object_new_int64(order_total_fen(o)));
		json_object_object_add(d, "certificates",
		    json_object_new_int((int)order_cert_count(o)));
		rc = cmd_order_move(r, so->id, from, to, OE_EDIT, now, d);
	}
	rc = cmd_tx_end(r, rc);
 out:
	free(masked);
	free(sealed);
	free(fails);
	return rc;
}

int
cmd_order_edit(struct request *r, struct json_object **result)
{
	struct store_order *so = NULL;
	struct json_object *orders = NULL;
	struct order *o = NULL;
	enum order_state from, to;
	const char *text, *doc;
	int64_t id;
	int rc, same = 0;

	if ((rc = cmd_order_id(r, &id)) != 0 || (rc = arg_str(r, "text", 1, &text)) != 0)
		return rc;
	if ((rc = cmd_order_for(r, id, OE_EDIT, &so, &from, &to)) != 0)
		return rc;
	if ((rc = edit_parse(r, so, text, &orders, &o)) != 0)
		goto out;
	doc = json_object_to_json_string_ext(json_object_array_get_idx(orders, 0),
	    JSON_C_TO_STRING_PLAIN);
	if ((rc = edit_same(r, so, doc, &same)) != 0)
		goto out;
	if (same) {
		*result = cmd_order_moved(id, from);
		json_object_object_add(*result, "changed", json_object_new_boolean(0));
		json_object_object_add(*result, "revision", json_object_new_int64(so->revision));
		goto out;
	}
	if ((rc = edit_write(r, so, o, doc, from, to)) != 0)
		goto out;
	*result = cmd_order_moved(id, to);
	json_object_object_add(*result, "changed", json_object_new_boolean(1));
	json_object_object_add(*result, "revision", json_object_new_int64(so->revision + 1));
	json_object_object_add(*result, "checksum_failures",
	    json_object_new_int((int)o->n_checksum_failures));
 out:
	json_object_put(orders);
	store_order_free(so);
	order_free(o);
	return rc;
}

