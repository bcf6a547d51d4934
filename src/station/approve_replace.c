/* Approval of a replacement order (补办): the certificate it replaces,
 * resolved (src/orders/route_replace.c) and checked to keep its subject
 * (docs/lifecycle.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/certcheck.h"
#include "common/err.h"
#include "orders/order.h"
#include "orders/route.h"
#include "station/cmd_order.h"
#include "station/control.h"
#include "station/job.h"
#include "station/orderdoc.h"
#include "station/station.h"
#include "store/store_orders.h"

/* The replacement's certificate gets the subject the replaced one has: the
 * subject the order's one item makes (as production will make it) must be
 * the one recorded for the replaced certificate. */
static int
replacement_subject_check(struct request *r, const struct store_order *so,
    const struct route_replaced *repl)
{
	struct store_order_item *items = NULL;
	struct json_object *doc = NULL;
	X509_NAME *name = NULL;
	char err[400] = "", *label = NULL, *text = NULL;
	size_t n = 0;
	int rc;

	if ((rc = store_order_items(station_store(r->s), so->id, &items, &n)) != 0 ||
	    (rc = orderdoc_open_sealed(r->s, so->portal_ref, so->doc_sealed, so->doc_sealed_len,
	    &doc)) != 0)
		goto out;
	if (n != 1) {
		rc = req_fail(r, UKEY_ERR_VERIFY, "order %lld: a replacement order has one item,"
		    " not %zu; not approved", (long long)so->id, n);
		goto out;
	}
	rc = job_unit_identity(r->s, doc, items[0].kind, items[0].cert_profile, so->account_uscc,
	    so->portal_ref, 0, NULL, &name, &label, err, sizeof(err));
	if (rc == 0 && (rc = cert_subject_text(name, &text)) == 0 &&
	    strcmp(text, repl->subject) != 0)
		rc = req_fail(r, UKEY_ERR_VERIFY, "order %lld, replaces: the order's %s certificate"
		    " would have the subject \"%s\", but certificate %s has \"%s\"; a replacement"
		    " keeps the subject; not approved", (long long)so->id, items[0].kind, text,
		    repl->serial, repl->subject);
 out:
	if (rc != 0 && rc != UKEY_ERR_VERIFY && r->msg[0] == '\0')
		req_fail(r, rc, "order %lld: the replacement's subject cannot be made: %s",
		    (long long)so->id, err[0] ? err : ukey_strerror(rc));
	free(text);
	free(label);
	X509_NAME_free(name);
	json_object_put(doc);
	store_order_items_free(items, n);
	return rc;
}

/* The order's document as an order (the stored normalized JSON). */
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

/* A replacement (补办) names the certificate of a lost or damaged token;
 * *repl what it resolves to (cleared for other orders). */
int
cmd_approve_replacement(struct request *r, const struct store_order *so, struct route_replaced *repl)
{
	struct order *o = NULL;
	char why[512];
	int rc;

	memset(repl, 0, sizeof(*repl));
	if (strcmp(so->type, "replacement") != 0)
		return 0;
	if ((rc = stored_order(r, so, &o)) != 0)
		return rc;
	if ((rc = route_replacement_resolve(station_store(r->s), so->id, o,
	    station_cfg(r->s)->station_id, repl, why, sizeof(why))) != 0 && why[0])
		req_fail(r, rc, "%s; not approved", why);
	order_free(o);
	if (rc == 0 && (rc = replacement_subject_check(r, so, repl)) != 0)
		route_replaced_clear(repl);
	return rc;
}

/* What an approval resolved, for its audit record and its reply. */
void
cmd_approval_detail(struct json_object *d, const char *renews, const struct route_replaced *repl)
{
	if (renews)
		json_object_object_add(d, "renews_cert", json_object_new_string(renews));
	if (repl->serial == NULL)
		return;
	json_object_object_add(d, "replaces_cert", json_object_new_string(repl->serial));
	json_object_object_add(d, "replaced_token", json_object_new_string(repl->token_serial));
	json_object_object_add(d, "token_state", json_object_new_string(repl->token_state));
}
