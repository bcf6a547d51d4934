/* Orders, their parts and the production queue as the JSON of the control
 * protocol: text columns NULL in the store are null here. */
#include "station/orderview.h"
#include "station/orderdoc.h"
#include "station/station.h"

static struct json_object *
str(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

static void
add_str(struct json_object *o, const char *key, const char *s)
{
	json_object_object_add(o, key, str(s));
}

static void
add_int(struct json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

/* A stored JSON text, parsed (null when there is none). */
static void
add_json(struct json_object *o, const char *key, const char *text)
{
	json_object_object_add(o, key, text != NULL ? json_tokener_parse(text) : NULL);
}

/* The masked document as stored, its ID numbers masked once more in case
 * the row predates sealing. */
static void
add_doc(struct json_object *o, const char *text)
{
	struct json_object *doc = text != NULL ? json_tokener_parse(text) : NULL;

	if (doc != NULL)
		orderdoc_mask(doc);
	json_object_object_add(o, "doc", doc);
}

struct json_object *
orderview_order(const struct store_order *o)
{
	struct json_object *j = json_object_new_object();

	add_int(j, "id", o->id);
	add_str(j, "portal_ref", o->portal_ref);
	add_str(j, "type", o->type);
	add_str(j, "state", o->state);
	add_str(j, "org_name", o->org_name);
	add_str(j, "account_uscc", o->account_uscc);
	add_int(j, "total_fen", o->total_fen);
	add_str(j, "payment_no", o->payment_no);
	add_doc(j, o->doc);
	add_int(j, "revision", o->revision);
	add_str(j, "renews_cert", o->renews_cert);
	add_str(j, "replaces_cert", o->replaces_cert);
	add_json(j, "checksum_failures", o->checksum_failures);
	add_str(j, "override_reason", o->override_reason);
	add_str(j, "override_by", o->override_by);
	add_str(j, "review_remark", o->review_remark);
	add_str(j, "reviewer", o->reviewer);
	add_str(j, "reviewed_at", o->reviewed_at);
	add_str(j, "paid_at", o->paid_at);
	add_str(j, "paid_by", o->paid_by);
	add_str(j, "cancel_remark", o->cancel_remark);
	add_str(j, "cancelled_at", o->cancelled_at);
	add_str(j, "cancelled_by", o->cancelled_by);
	add_int(j, "refund_due", o->refund_due);
	add_str(j, "invoice_requested_at", o->invoice_requested_at);
	add_str(j, "invoice_requested_by", o->invoice_requested_by);
	add_str(j, "created_at", o->created_at);
	add_str(j, "created_by", o->created_by);
	add_str(j, "updated_at", o->updated_at);
	return j;
}

struct json_object *
orderview_summary(const struct store_order_summary *s)
{
	struct json_object *j = json_object_new_object();

	add_int(j, "id", s->id);
	add_str(j, "portal_ref", s->portal_ref);
	add_str(j, "type", s->type);
	add_str(j, "state", s->state);
	add_str(j, "org_name", s->org_name);
	add_str(j, "account_uscc", s->account_uscc);
	add_int(j, "total_fen", s->total_fen);
	add_str(j, "payment_no", s->payment_no);
	add_str(j, "renews_cert", s->renews_cert);
	add_int(j, "refund_due", s->refund_due);
	add_int(j, "revision", s->revision);
	add_str(j, "created_at", s->created_at);
	add_str(j, "updated_at", s->updated_at);
	add_int(j, "certificates", s->certificates);
	add_int(j, "issued", s->issued);
	add_str(j, "service_point", s->service_point);
	return j;
}

struct json_object *
orderview_item(const struct store_order_item *it)
{
	struct json_object *j = json_object_new_object();

	add_int(j, "id", it->id);
	add_int(j, "seq", it->seq);
	add_str(j, "kind", it->kind);
	add_str(j, "name", it->name);
	add_str(j, "cert_profile", it->cert_profile);
	add_int(j, "years", it->years);
	add_int(j, "count", it->count);
	return j;
}

struct json_object *
orderview_unit(const struct store_order_unit *u)
{
	struct json_object *j = json_object_new_object();

	add_int(j, "id", u->id);
	add_int(j, "item", u->item_seq);
	add_int(j, "seq", u->seq);
	add_str(j, "state", u->state);
	json_object_object_add(j, "job_id", u->job_id != 0 ? json_object_new_int64(u->job_id) :
	    NULL);
	add_str(j, "cert_serial", u->cert_serial);
	add_str(j, "token_serial", u->token_serial);
	return j;
}

struct json_object *
orderview_revision(const struct store_order_revision *v)
{
	struct json_object *j = json_object_new_object();

	add_int(j, "revision", v->revision);
	add_str(j, "type", v->type);
	add_str(j, "org_name", v->org_name);
	add_int(j, "total_fen", v->total_fen);
	add_doc(j, v->doc);
	add_json(j, "checksum_failures", v->checksum_failures);
	add_str(j, "review_remark", v->review_remark);
	add_str(j, "replaced_at", v->replaced_at);
	add_str(j, "replaced_by", v->replaced_by);
	return j;
}

struct json_object *
orderview_delivery(const struct store_delivery *d)
{
	struct json_object *j = json_object_new_object();

	add_str(j, "method", d->method);
	add_str(j, "picked_up_by", d->picked_up_by);
	add_str(j, "carrier", d->carrier);
	add_str(j, "tracking_no", d->tracking_no);
	add_str(j, "delivered_at", d->delivered_at);
	add_str(j, "delivered_by", d->delivered_by);
	return j;
}

struct json_object *
orderview_queue_entry(const struct store_queue_entry *e)
{
	struct json_object *j = json_object_new_object();

	add_int(j, "unit", e->unit);
	add_int(j, "order_id", e->order_id);
	add_str(j, "portal_ref", e->portal_ref);
	add_str(j, "kind", e->kind);
	add_str(j, "name", e->name);
	add_str(j, "cert_profile", e->cert_profile);
	add_int(j, "years", e->years);
	add_int(j, "seq", e->seq);
	add_int(j, "count", e->count);
	add_str(j, "state", e->state);
	add_str(j, "paid_at", e->paid_at);
	add_int(j, "failures", e->failures);
	add_str(j, "last_failure", e->last_failure);
	add_str(j, "hold_reason", e->hold_reason);
	add_str(j, "held_at", e->held_at);
	return j;
}
