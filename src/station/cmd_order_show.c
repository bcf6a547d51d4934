/* Control commands that read orders: the list with its filters, one order
 * with its items, units, revisions and delivery, and the production queue. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/caldate.h"
#include "common/err.h"
#include "common/log.h"
#include "common/svcpoint.h"
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

/* Orders one order.list request may ask for (under 1 KiB each). */
#define ORDER_PAGE_MAX 2000

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


/* The list's filters from the arguments, each checked. */
static int
list_filter(struct request *r, struct store_order_filter *f)
{
	enum order_state st;
	char why[160];
	int rc;

	memset(f, 0, sizeof(*f));
	if (((rc = arg_str(r, "state", 0, &f->state)) != 0 && rc != UKEY_ERR_NOTFOUND) ||
	    ((rc = arg_str(r, "org", 0, &f->org)) != 0 && rc != UKEY_ERR_NOTFOUND) ||
	    ((rc = arg_str(r, "type", 0, &f->type)) != 0 && rc != UKEY_ERR_NOTFOUND) ||
	    ((rc = arg_str(r, "since", 0, &f->since)) != 0 && rc != UKEY_ERR_NOTFOUND) ||
	    ((rc = arg_str(r, "until", 0, &f->until)) != 0 && rc != UKEY_ERR_NOTFOUND) ||
	    ((rc = arg_str(r, "service_point", 0, &f->service_point)) != 0 &&
	    rc != UKEY_ERR_NOTFOUND))
		return rc;
	if (f->service_point != NULL && svcpoint_find(f->service_point) == NULL)
		return req_fail(r, UKEY_ERR_INVAL, "argument service_point: \"%.32s\" is not a"
		    " service point (docs/service-points.md)", f->service_point);
	if (f->state != NULL && order_state_parse(f->state, &st) != 0)
		return req_fail(r, UKEY_ERR_INVAL, "argument state: \"%.32s\" is not an order state"
		    " (pending, approved, rejected, waiting_production, in_production, issued,"
		    " delivered, cancelled)", f->state);
	/* a code that fails only its check character exists in the wild */
	if (f->org != NULL && (rc = uscc_check(f->org, why, sizeof(why))) != 0 &&
	    rc != UKEY_ERR_VERIFY)
		return req_fail(r, UKEY_ERR_INVAL, "argument org: %s", why);
	if (f->type != NULL && strcmp(f->type, "new") != 0 && strcmp(f->type, "renewal") != 0 &&
	    strcmp(f->type, "replacement") != 0)
		return req_fail(r, UKEY_ERR_INVAL, "argument type: must be \"new\", \"renewal\" or"
		    " \"replacement\"");
	if (f->since != NULL && !date_text_valid(f->since))
		return req_fail(r, UKEY_ERR_INVAL, "argument since: \"%.32s\" is not a date"
		    " YYYY-MM-DD", f->since);
	if (f->until != NULL && !date_text_valid(f->until))
		return req_fail(r, UKEY_ERR_INVAL, "argument until: \"%.32s\" is not a date"
		    " YYYY-MM-DD", f->until);
	if (f->since != NULL && f->until != NULL && strcmp(f->since, f->until) > 0)
		return req_fail(r, UKEY_ERR_INVAL, "arguments since and until: %s is after %s",
		    f->since, f->until);
	return 0;
}

int
cmd_order_list(struct request *r, struct json_object **result)
{
	struct store_order_filter f;
	struct store_order_summary *list = NULL;
	struct page p;
	size_t n = 0, i;
	int rc;

	if ((rc = list_filter(r, &f)) != 0)
		return rc;
	if ((rc = page_args(r, ORDER_PAGE_MAX, &p)) != 0)
		return rc;
	f.after = p.after;
	f.limit = p.limit;
	if ((rc = store_order_list(station_store(r->s), &f, &list, &n)) != 0)
		return rc;
	*result = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(*result, orderview_summary(&list[i]));
	store_order_summaries_free(list, n);
	page_next_key(r, *result, "id", &p);
	return 0;
}

/* To reveal: the document opened from its sealed form replaces the masked
 * one in view. */
static int
reveal_doc(struct request *r, struct json_object *view, const char *portal_ref,
    const uint8_t *sealed, size_t sealed_len)
{
	struct json_object *doc;
	int rc;

	if ((rc = orderdoc_open_sealed(r->s, portal_ref, sealed, sealed_len, &doc)) != 0)
		return req_fail(r, UKEY_ERR_DB, "order %s: its sealed document cannot be opened: %s",
		    portal_ref, ukey_strerror(rc));
	json_object_object_add(view, "doc", doc);
	return 0;
}

/* The parts of order o shown with it: items, units, revisions, delivery. */
static int
show_parts(struct request *r, const struct store_order *o, int reveal, struct json_object *view)
{
	struct store_order_item *items = NULL;
	struct store_order_unit *units = NULL;
	struct store_order_revision *revs = NULL;
	struct store_delivery dl = { 0 };
	struct json_object *a[3] = { NULL, NULL, NULL }, *v;
	size_t n_items = 0, n_units = 0, n_revs = 0, i;
	int rc, have_dl = 0;

	if ((rc = store_order_items(station_store(r->s), o->id, &items, &n_items)) != 0 ||
	    (rc = store_order_units(station_store(r->s), o->id, &units, &n_units)) != 0 ||
	    (rc = store_order_revisions(station_store(r->s), o->id, &revs, &n_revs)) != 0)
		goto out;
	if ((rc = store_delivery_load(station_store(r->s), o->id, &dl)) == 0)
		have_dl = 1;
	else if (rc != UKEY_ERR_NOTFOUND)
		goto out;
	rc = 0;
	for (i = 0; i < 3; i++)
		a[i] = json_object_new_array();
	for (i = 0; i < n_items; i++)
		json_object_array_add(a[0], orderview_item(&items[i]));
	for (i = 0; i < n_units; i++)
		json_object_array_add(a[1], orderview_unit(&units[i]));
	for (i = 0; rc == 0 && i < n_revs; i++) {
		json_object_array_add(a[2], v = orderview_revision(&revs[i]));
		if (reveal)
			rc = reveal_doc(r, v, o->portal_ref, revs[i].doc_sealed,
			    revs[i].doc_sealed_len);
	}
	if (rc != 0)
		goto out;
	json_object_object_add(view, "items", a[0]);
	json_object_object_add(view, "units", a[1]);
	json_object_object_add(view, "revisions", a[2]);
	a[0] = a[1] = a[2] = NULL;
	if (have_dl)
		json_object_object_add(view, "delivery", orderview_delivery(&dl));
 out:
	for (i = 0; i < 3; i++)
		json_object_put(a[i]);
	store_order_items_free(items, n_items);
	store_order_units_free(units, n_units);
	store_order_revisions_free(revs, n_revs);
	store_delivery_clear(&dl);
	return rc;
}

/* Full identity numbers left the station: that is on the record. */
static int
audit_reveal(struct request *r, const struct store_order *o)
{
	int rc;

	if ((rc = store_begin(station_store(r->s))) != 0)
		return rc;
	rc = station_audit(r->s, r->c->user, "order.reveal", o->id, 0, 0, NULL, NULL,
	    json_object_new_string(o->portal_ref));
	if (rc == 0)
		rc = store_commit(station_store(r->s));
	if (rc != 0)
		store_rollback(station_store(r->s));
	return rc;
}

int
cmd_order_show(struct request *r, struct json_object **result)
{
	struct store_order *o = NULL;
	struct json_object *view = NULL, *v;
	char point[32];
	int64_t id;
	int reveal = 0, rc;

	if ((rc = cmd_order_id(r, &id)) != 0)
		return rc;
	if ((v = json_object_object_get(r->args, "reveal")) != NULL) {
		if (!json_object_is_type(v, json_type_boolean))
			return req_fail(r, UKEY_ERR_INVAL, "argument reveal: must be true or false");
		reveal = json_object_get_boolean(v);
	}
	rc = store_order_load(station_store(r->s), id, &o);
	if (rc == UKEY_ERR_NOTFOUND)
		return req_fail(r, rc, "order %lld: no such order", (long long)id);
	if (rc != 0)
		return rc;
	view = orderview_order(o);
	if ((rc = store_order_service_point(station_store(r->s), id, point, sizeof(point))) != 0)
		goto out;
	json_object_object_add(view, "service_point", point[0] ? json_object_new_string(point) :
	    NULL);
	if (reveal && (rc = reveal_doc(r, view, o->portal_ref, o->doc_sealed,
	    o->doc_sealed_len)) != 0)
		goto out;
	if ((rc = show_parts(r, o, reveal, view)) != 0)
		goto out;
	if (reveal && (rc = audit_reveal(r, o)) != 0)
		goto out;
	json_object_object_add(view, "revealed", json_object_new_boolean(reveal));
	*result = view;
	view = NULL;
	rc = 0;
 out:
	json_object_put(view);
	store_order_free(o);
	return rc;
}

int
cmd_queue(struct request *r, struct json_object **result)
{
	struct store_queue_entry *q = NULL;
	struct page p;
	size_t n = 0, i;
	int64_t next = 0;
	int rc;

	/* in production first, then the queue in the order tokens take it,
	 * then the held units with the reason they wait for a person; the
	 * store reads the page from the key on, not the queue */
	if ((rc = page_args(r, LIST_PAGE_MAX, &p)) != 0)
		return rc;
	rc = store_units_queue_page(station_store(r->s), p.after, p.limit, &q, &n, &next);
	if (rc == UKEY_ERR_NOTFOUND)
		return req_fail(r, UKEY_ERR_INVAL, "argument after: %lld is no key of the queue"
		    " (the next of a page before)", (long long)p.after);
	if (rc != 0)
		return rc;
	*result = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(*result, orderview_queue_entry(&q[i]));
	store_queue_entries_free(q, n);
	if (next != 0) {
		json_object_put(r->next);
		r->next = json_object_new_int64(next);
	}
	return 0;
}
