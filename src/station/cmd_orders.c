/* Control commands for an order's lifecycle steps (review, payment,
 * delivery, cancellation, invoice), each checked against the transition
 * table in orders/lifecycle.c and audited in the same transaction as the
 * change; the helpers the other order commands share. Rows are read and
 * written through store/store_orders.h and store/store_units.h. */
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

int
cmd_order_id(struct request *r, int64_t *id)
{
	return arg_int(r, "id", 1, id);
}

/*
 * Loads order id and checks that ev is legal in its state. Returns 0 with
 * *o (owned, store_order_free), *from and *to; UKEY_ERR_NOTFOUND or
 * UKEY_ERR_STATE with the message in r->msg and *o NULL.
 */
int
cmd_order_for(struct request *r, int64_t id, enum order_event ev, struct store_order **o,
    enum order_state *from, enum order_state *to)
{
	int rc = store_order_load(station_store(r->s), id, o);

	if (rc == UKEY_ERR_NOTFOUND)
		return req_fail(r, rc, "order %lld: no such order", (long long)id);
	if (rc != 0)
		return rc;
	if (order_state_parse((*o)->state, from) != 0) {
		rc = req_fail(r, UKEY_ERR_DB, "order %lld: the store holds unknown state \"%s\"",
		    (long long)id, (*o)->state);
	} else if (lifecycle_next(*from, ev, to) != 0) {
		lifecycle_refusal(id, *from, ev, r->msg, sizeof(r->msg));
		rc = UKEY_ERR_STATE;
	}
	if (rc != 0) {
		store_order_free(*o);
		*o = NULL;
	}
	return rc;
}

int
cmd_order_move(struct request *r, int64_t id, enum order_state from, enum order_state to,
    enum order_event ev, const char *now, struct json_object *detail)
{
	return station_order_move(r->s, r->c->user, id, from, to, ev, now, detail);
}

/* Commits when rc is 0, else (or when the commit fails) rolls back. */
int
cmd_tx_end(struct request *r, int rc)
{
	if (rc == 0)
		rc = store_commit(station_store(r->s));
	if (rc != 0)
		store_rollback(station_store(r->s));
	return rc;
}

/* The reply of a transition: the order's id and its new state. */
struct json_object *
cmd_order_moved(int64_t id, enum order_state to)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(id));
	json_object_object_add(o, "state", json_object_new_string(order_state_name(to)));
	return o;
}

/* Text argument that a person reads later: required, valid UTF-8, no
 * control characters, 1 to max characters. */
int
cmd_arg_text(struct request *r, const char *name, int required, size_t max, const char **out)
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
stored_order(struct request *r, const struct store_order *so, struct order **out)
{
	struct json_object *doc = NULL;
	int rc;

	*out = NULL;
	if ((rc = orderdoc_open_sealed(r->s, so->portal_ref, so->doc_sealed, so->doc_sealed_len,
	    &doc)) != 0)
		return req_fail(r, UKEY_ERR_DB, "order %lld: the stored document cannot be opened: %s",
		    (long long)so->id, ukey_strerror(rc));
	rc = order_from_json(doc, time(NULL), out, NULL);
	json_object_put(doc);
	if (rc != 0)
		return req_fail(r, rc == UKEY_ERR_NOMEM ? rc : UKEY_ERR_DB,
		    "order %lld: the stored document no longer validates", (long long)so->id);
	return 0;
}

/* Records a reviewer's override of the order's check-character failures,
 * inside an open transaction, with its own audit record. */
static int
record_override(struct request *r, const struct store_order *o, const char *reason,
    const char *now)
{
	struct json_object *d = json_object_new_object();
	int rc;

	rc = store_order_set_override(station_store(r->s), o->id, reason, r->c->user, now);
	json_object_object_add(d, "reason", json_object_new_string(reason));
	json_object_object_add(d, "checksum_failures",
	    o->checksum_failures ? json_tokener_parse(o->checksum_failures) : NULL);
	if (rc != 0) {
		json_object_put(d);
		return rc;
	}
	return station_audit(r->s, r->c->user, "order.override", o->id, 0, 0, NULL, NULL, d);
}

/*
 * Checks that every certificate of order o can be made before the order is
 * approved: its subject under its certificate profile (RFC 5280 lengths,
 * string types, every variable present) and its token label (valid text,
 * at least one whole character within the smallest label of the firmware
 * profiles that can make its key). Fails with the item, the field and the
 * rule in r->msg, so that no such unit ever reaches a token.
 */
static int
order_identities_check(struct request *r, const struct store_order *o)
{
	struct store_order_item *items = NULL;
	struct json_object *doc = NULL;
	X509_NAME *name = NULL;
	char err[400], *label = NULL;
	size_t i, n = 0;
	int rc;

	if ((rc = store_order_items(station_store(r->s), o->id, &items, &n)) != 0)
		return rc;
	if ((rc = orderdoc_open_sealed(r->s, o->portal_ref, o->doc_sealed, o->doc_sealed_len,
	    &doc)) != 0) {
		rc = req_fail(r, UKEY_ERR_DB, "order %lld: the stored document cannot be opened: %s",
		    (long long)o->id, ukey_strerror(rc));
		goto out;
	}
	for (i = 0; i < n; i++) {
		err[0] = '\0';
		rc = job_unit_identity(r->s, doc, items[i].kind, items[i].cert_profile,
		    o->account_uscc, o->portal_ref, 0, NULL, &name, &label, err, sizeof(err));
		X509_NAME_free(name);
		name = NULL;
		free(label);
		label = NULL;
		if (rc == UKEY_ERR_NOMEM)
			goto out;
		if (rc != 0) {
			rc = req_fail(r, rc == UKEY_ERR_NOTFOUND ? rc : UKEY_ERR_INVAL, "order %lld,"
			    " item %lld (%s %s, certificate profile %s): %s; not approved",
			    (long long)o->id, (long long)items[i].seq, items[i].kind, items[i].name,
			    items[i].cert_profile, err[0] ? err : ukey_strerror(rc));
			goto out;
		}
	}
	rc = 0;
 out:
	json_object_put(doc);
	store_order_items_free(items, n);
	return rc;
}

/* A renewal's units may only go to the token holding the certificate it
 * renews: *renews that certificate's serial (owned), NULL for a new order. */
static int
approve_renewal(struct request *r, const struct store_order *so, char **renews)
{
	struct order *o = NULL;
	char why[512];
	int rc;

	*renews = NULL;
	if (strcmp(so->type, "renewal") != 0)
		return 0;
	if ((rc = stored_order(r, so, &o)) != 0)
		return rc;
	if ((rc = route_renewal_resolve(station_store(r->s), so->id, o, renews, why, sizeof(why))) != 0 &&
	    why[0])
		req_fail(r, rc, "%s; not approved", why);
	order_free(o);
	return rc;
}

int
cmd_order_approve(struct request *r, struct json_object **result)
{
	struct route_replaced repl = { 0 };
	struct store_order *o = NULL;
	struct json_object *d;
	enum order_state from, to;
	const char *reason = NULL;
	char now[32], *renews = NULL;
	int64_t id;
	int rc, overriding = 0;

	if ((rc = cmd_order_id(r, &id)) != 0)
		return rc;
	if (json_object_object_get(r->args, "override_reason") != NULL &&
	    (rc = cmd_arg_text(r, "override_reason", 1, 512, &reason)) != 0)
		return rc;
	if ((rc = cmd_order_for(r, id, OE_APPROVE, &o, &from, &to)) != 0)
		return rc;
	if (o->checksum_failures != NULL && o->override_reason == NULL) {
		if (reason == NULL) {
			rc = req_fail(r, UKEY_ERR_VERIFY, "order %lld: identity check characters fail:"
			    " %s; after checking the documents, override with: ukeyctl order override"
			    " %lld --reason TEXT (or approve with --override-reason TEXT)",
			    (long long)id, o->checksum_failures, (long long)id);
			goto out;
		}
		overriding = 1;
	}
	if ((rc = approve_renewal(r, o, &renews)) != 0 ||
	    (rc = cmd_approve_replacement(r, o, &repl)) != 0)
		goto out;
	/* a unit whose subject or label cannot be made must never reach a token */
	if ((rc = order_identities_check(r, o)) != 0)
		goto out;
	store_now(now);
	if ((rc = store_begin(station_store(r->s))) != 0)
		goto out;
	if (overriding)
		rc = record_override(r, o, reason, now);
	if (rc == 0)
		rc = store_order_set_approval(station_store(r->s), id, r->c->user, now, renews);
	if (rc == 0 && repl.serial != NULL)
		rc = store_order_set_replaces(station_store(r->s), id, repl.serial);
	if (rc == 0) {
		d = json_object_new_object();
		cmd_approval_detail(d, renews, &repl);
		rc = cmd_order_move(r, id, from, to, OE_APPROVE, now, d);
	}
	if ((rc = cmd_tx_end(r, rc)) != 0)
		goto out;
	*result = cmd_order_moved(id, to);
	cmd_approval_detail(*result, renews, &repl);
 out:
	route_replaced_clear(&repl);
	free(renews);
	store_order_free(o);
	return rc;
}

int
cmd_order_override(struct request *r, struct json_object **result)
{
	struct store_order *o = NULL;
	enum order_state from, to;
	const char *reason;
	char now[32];
	int64_t id;
	int rc;

	if ((rc = cmd_order_id(r, &id)) != 0 || (rc = cmd_arg_text(r, "reason", 1, 512, &reason)) != 0)
		return rc;
	if ((rc = cmd_order_for(r, id, OE_OVERRIDE, &o, &from, &to)) != 0)
		return rc;
	if (o->checksum_failures == NULL) {
		rc = req_fail(r, UKEY_ERR_STATE, "order %lld: no identity check character fails;"
		    " there is nothing to override", (long long)id);
		goto out;
	}
	if (o->override_reason != NULL) {
		rc = req_fail(r, UKEY_ERR_EXISTS, "order %lld: already overridden by %s (\"%s\")",
		    (long long)id, o->override_by, o->override_reason);
		goto out;
	}
	store_now(now);
	if ((rc = store_begin(station_store(r->s))) != 0)
		goto out;
	/* the audit record is order.override, written by record_override */
	rc = record_override(r, o, reason, now);
	if ((rc = cmd_tx_end(r, rc)) == 0)
		*result = cmd_order_moved(id, to);
 out:
	store_order_free(o);
	return rc;
}

int
cmd_order_reject(struct request *r, struct json_object **result)
{
	struct store_order *o = NULL;
	struct json_object *d;
	enum order_state from, to;
	const char *remark;
	char now[32];
	int64_t id;
	int rc;

	if ((rc = cmd_order_id(r, &id)) != 0)
		return rc;
	if ((rc = arg_str(r, "remark", 1, &remark)) != 0)
		return rc;
	if (remark[0] == '\0')
		return req_fail(r, UKEY_ERR_INVAL, "remark: required when rejecting (e.g. 资料不全)");
	if ((rc = cmd_arg_text(r, "remark", 1, 512, &remark)) != 0)
		return rc;
	if ((rc = cmd_order_for(r, id, OE_REJECT, &o, &from, &to)) != 0)
		return rc;
	store_now(now);
	if ((rc = store_begin(station_store(r->s))) != 0)
		goto out;
	rc = store_order_set_rejection(station_store(r->s), id, remark, r->c->user, now);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "remark", json_object_new_string(remark));
		rc = cmd_order_move(r, id, from, to, OE_REJECT, now, d);
	}
	if ((rc = cmd_tx_end(r, rc)) == 0)
		*result = cmd_order_moved(id, to);
 out:
	store_order_free(o);
	return rc;
}
int
cmd_order_resubmit(struct request *r, struct json_object **result)
{
	struct store_order *o = NULL;
	struct json_object *d;
	enum order_state from, to;
	char now[32];
	int64_t id;
	int rc;

	if ((rc = cmd_order_id(r, &id)) != 0)
		return rc;
	if ((rc = cmd_order_for(r, id, OE_RESUBMIT, &o, &from, &to)) != 0)
		return rc;
	store_now(now);
	if ((rc = store_begin(station_store(r->s))) != 0)
		goto out;
	d = json_object_new_object();
	json_object_object_add(d, "revision", json_object_new_int64(o->revision));
	rc = cmd_order_move(r, id, from, to, OE_RESUBMIT, now, d);
	if ((rc = cmd_tx_end(r, rc)) == 0)
		*result = cmd_order_moved(id, to);
 out:
	store_order_free(o);
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
	struct store_order *o = NULL;
	struct json_object *d;
	enum order_state from, to;
	const char *no;
	char now[32];
	int64_t id, other = 0;
	int rc;

	if ((rc = cmd_order_id(r, &id)) != 0 || (rc = arg_str(r, "payment_no", 1, &no)) != 0)
		return rc;
	if (!payment_no_valid(no))
		return req_fail(r, UKEY_ERR_INVAL, "payment_no: must be %d to %d digits (the portal's"
		    " payment order number, e.g. 30 digits)", PAYMENT_NO_MIN, PAYMENT_NO_MAX);
	if ((rc = cmd_order_for(r, id, OE_PAY, &o, &from, &to)) != 0)
		return rc;
	if (store_order_by_payment_no(station_store(r->s), no, &other) == 0) {
		rc = req_fail(r, UKEY_ERR_EXISTS, "payment_no: already used by order %lld",
		    (long long)other);
		goto out;
	}
	store_now(now);
	if ((rc = store_begin(station_store(r->s))) != 0)
		goto out;
	rc = store_order_set_payment(station_store(r->s), id, no, now, r->c->user);
	if (rc == 0)
		rc = store_units_queue_order(station_store(r->s), id, now);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "payment_no", json_object_new_string(no));
		rc = cmd_order_move(r, id, from, to, OE_PAY, now, d);
	}
	if ((rc = cmd_tx_end(r, rc)) != 0)
		goto out;
	*result = cmd_order_moved(id, to);
	/* tokens waiting in bays can start on the new units now */
	bay_kick_idle(r->s);
 out:
	store_order_free(o);
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

/* The delivery's arguments: who signed for the tokens on site, or the
 * carrier and tracking number of a mailing. */
static int
delivery_args(struct request *r, const char **who, const char **carrier, const char **tracking)
{
	int rc = 0;

	*who = *carrier = *tracking = NULL;
	if ((json_object_object_get(r->args, "picked_up_by") != NULL &&
	    (rc = cmd_arg_text(r, "picked_up_by", 1, 64, who)) != 0) ||
	    (json_object_object_get(r->args, "carrier") != NULL &&
	    (rc = cmd_arg_text(r, "carrier", 1, 64, carrier)) != 0) ||
	    (json_object_object_get(r->args, "tracking_no") != NULL &&
	    (rc = cmd_arg_text(r, "tracking_no", 1, 40, tracking)) != 0))
		return rc;
	if (*who != NULL && (*carrier != NULL || *tracking != NULL))
		return req_fail(r, UKEY_ERR_INVAL, "delivery: either picked_up_by (signed for on site)"
		    " or carrier and tracking_no (mailed), not both");
	if (*who == NULL && *carrier == NULL && *tracking == NULL)
		return req_fail(r, UKEY_ERR_INVAL, "delivery: picked_up_by (who signed for the tokens on"
		    " site) or carrier and tracking_no (mailed) is required");
	if (*who == NULL && (*carrier == NULL || *tracking == NULL))
		return req_fail(r, UKEY_ERR_INVAL, "delivery: %s is required with %s",
		    *carrier == NULL ? "carrier" : "tracking_no",
		    *carrier == NULL ? "tracking_no" : "carrier");
	if (*tracking != NULL && !tracking_valid(*tracking))
		return req_fail(r, UKEY_ERR_INVAL, "tracking_no: must be 4 to 40 letters, digits or"
		    " hyphens");
	return 0;
}

/* The way of delivery the order chose must be the one recorded. */
static int
delivery_fits(struct request *r, const struct store_order *o, const char *who)
{
	struct json_object *doc = json_tokener_parse(o->doc);
	const char *chosen;
	int rc = 0;

	chosen = json_object_get_string(json_object_object_get(json_object_object_get(doc,
	    "delivery"), "kind"));
	if (chosen == NULL)
		rc = req_fail(r, UKEY_ERR_DB, "order %lld: the stored document has no delivery choice",
		    (long long)o->id);
	else if (strcmp(chosen, "pickup") == 0 && who == NULL)
		rc = req_fail(r, UKEY_ERR_INVAL, "order %lld: the order chose pick-up on site (现场自取);"
		    " record who signed for the tokens with --picked-up-by NAME", (long long)o->id);
	else if (strcmp(chosen, "mail") == 0 && who != NULL)
		rc = req_fail(r, UKEY_ERR_INVAL, "order %lld: the order chose delivery by mail"
		    " (邮寄(到付)); record it with --carrier NAME --tracking NO", (long long)o->id);
	json_object_put(doc);
	return rc;
}

int
cmd_order_deliver(struct request *r, struct json_object **result)
{
	struct store_order *o = NULL;
	struct store_delivery dl = { 0 };
	struct json_object *d;
	enum order_state from, to;
	const char *who, *carrier, *tracking;
	char now[32];
	int64_t id;
	int rc;

	if ((rc = cmd_order_id(r, &id)) != 0 ||
	    (rc = delivery_args(r, &who, &carrier, &tracking)) != 0)
		return rc;
	if ((rc = cmd_order_for(r, id, OE_DELIVER, &o, &from, &to)) != 0)
		return rc;
	if ((rc = delivery_fits(r, o, who)) != 0)
		goto out;
	store_now(now);
	if ((rc = store_begin(station_store(r->s))) != 0)
		goto out;
	dl.order_id = id;
	dl.method = who ? "pickup" : "mail";
	dl.picked_up_by = (char *)who;
	dl.carrier = (char *)carrier;
	dl.tracking_no = (char *)tracking;
	dl.delivered_at = now;
	dl.delivered_by = r->c->user;
	rc = store_delivery_insert(station_store(r->s), &dl);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "method", json_object_new_string(who ? "pickup" : "mail"));
		if (who)
			json_object_object_add(d, "picked_up_by", json_object_new_string(who));
		if (carrier)
			json_object_object_add(d, "carrier", json_object_new_string(carrier));
		if (tracking)
			json_object_object_add(d, "tracking_no", json_object_new_string(tracking));
		rc = cmd_order_move(r, id, from, to, OE_DELIVER, now, d);
	}
	if ((rc = cmd_tx_end(r, rc)) == 0)
		*result = cmd_order_moved(id, to);
 out:
	store_order_free(o);
	return rc;
}

int
cmd_order_cancel(struct request *r, struct json_object **result)
{
	struct store_order *o = NULL;
	struct json_object *d;
	enum order_state from, to;
	const char *remark;
	char now[32];
	int64_t id, busy = 0, n = 0;
	int rc, refund;

	if ((rc = cmd_order_id(r, &id)) != 0 || (rc = cmd_arg_text(r, "remark", 1, 512, &remark)) != 0)
		return rc;
	if ((rc = cmd_order_for(r, id, OE_CANCEL, &o, &from, &to)) != 0)
		return rc;
	rc = store_units_count(station_store(r->s), id, STORE_UNIT_IN_PRODUCTION | STORE_UNIT_ISSUED,
	    &busy);
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
	(void)store_units_count(station_store(r->s), id, STORE_UNIT_HELD | STORE_UNIT_QUEUED, &n);
	store_now(now);
	if ((rc = store_begin(station_store(r->s))) != 0)
		goto out;
	rc = store_units_cancel_order(station_store(r->s), id, now);
	if (rc == 0)
		rc = store_order_set_cancel(station_store(r->s), id, remark, r->c->user, now, refund);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "remark", json_object_new_string(remark));
		json_object_object_add(d, "refund_due", json_object_new_boolean(refund));
		json_object_object_add(d, "units_cancelled", json_object_new_int64(n));
		rc = cmd_order_move(r, id, from, to, OE_CANCEL, now, d);
	}
	if ((rc = cmd_tx_end(r, rc)) != 0)
		goto out;
	*result = cmd_order_moved(id, to);
	json_object_object_add(*result, "refund_due", json_object_new_boolean(refund));
	json_object_object_add(*result, "units_cancelled", json_object_new_int64(n));
 out:
	store_order_free(o);
	return rc;
}

int
cmd_order_invoice(struct request *r, struct json_object **result)
{
	struct store_order *o = NULL;
	struct json_object *doc = NULL, *d;
	enum order_state from, to;
	const char *kind;
	char now[32];
	int64_t id;
	int rc;

	if ((rc = cmd_order_id(r, &id)) != 0)
		return rc;
	if ((rc = cmd_order_for(r, id, OE_INVOICE_REQUEST, &o, &from, &to)) != 0)
		return rc;
	doc = json_tokener_parse(o->doc);
	kind = json_object_get_string(json_object_object_get(json_object_object_get(doc,
	    "invoice"), "kind"));
	if (kind == NULL || strcmp(kind, "mail") != 0) {
		rc = req_fail(r, UKEY_ERR_STATE, "order %lld: the order chose no invoice (不开票);"
		    " none can be requested", (long long)id);
		goto out;
	}
	if (o->invoice_requested_at != NULL) {
		rc = req_fail(r, UKEY_ERR_EXISTS, "order %lld: the invoice was already requested at %s"
		    " by %s", (long long)id, o->invoice_requested_at, o->invoice_requested_by);
		goto out;
	}
	store_now(now);
	if ((rc = store_begin(station_store(r->s))) != 0)
		goto out;
	rc = store_order_set_invoice(station_store(r->s), id, now, r->c->user);
	if (rc == 0) {
		d = json_object_new_object();
		json_object_object_add(d, "unit_name", json_object_get(json_object_object_get(
		    json_object_object_get(doc, "invoice"), "unit_name")));
		rc = cmd_order_move(r, id, from, to, OE_INVOICE_REQUEST, now, d);
	}
	if ((rc = cmd_tx_end(r, rc)) == 0) {
		*result = cmd_order_moved(id, to);
		json_object_object_add(*result, "invoice_requested_at", json_object_new_string(now));
	}
 out:
	json_object_put(doc);
	store_order_free(o);
	return rc;
}

