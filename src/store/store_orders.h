/* Orders in the station's database: the order row, its items, its earlier
 * revisions, its sealed document, review, payment, delivery, cancellation
 * and invoice, read into plain C structs and written with typed fields.
 * Nothing here checks the lifecycle (orders/lifecycle.c does); writes run
 * inside the caller's transaction (store_begin/store_commit), so that a
 * change and its audit record are one. */
#ifndef UKEY_STORE_ORDERS_H
#define UKEY_STORE_ORDERS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* One order row. Every string is owned (NULL when the column is NULL);
 * free the whole with store_order_free. */
struct store_order {
	int64_t id;
	int64_t total_fen;
	int64_t revision;
	int refund_due;
	char *portal_ref, *type, *state, *org_name, *account_uscc, *payment_no;
	char *doc;			/* the document with ID numbers masked */
	uint8_t *doc_sealed;		/* the whole document, sealed */
	size_t doc_sealed_len;
	char *renews_cert, *checksum_failures, *override_reason, *override_by;
	char *review_remark, *reviewer, *reviewed_at, *paid_at, *paid_by;
	char *cancel_remark, *cancelled_at, *cancelled_by;
	char *invoice_requested_at, *invoice_requested_by;
	char *created_at, *created_by, *updated_at;
	char *replaces_cert;		/* a replacement: the certificate it replaces */
};

/* The content an import or an edit writes: all borrowed. */
struct store_order_content {
	const char *portal_ref, *type, *account_uscc, *org_name;
	int64_t total_fen;
	const char *doc;
	const uint8_t *doc_sealed;
	size_t doc_sealed_len;
	const char *checksum_failures;	/* JSON array text, or NULL */
};

/* One item of an order. */
struct store_order_item {
	int64_t id, seq, years, count;
	char *kind, *name, *cert_profile;
};

/* One unit of an order as shown: job_id 0 when none. */
struct store_order_unit {
	int64_t id, item_seq, seq, job_id;
	char *state, *cert_serial, *token_serial;
};

/* One replaced content of an order. */
struct store_order_revision {
	int64_t revision, total_fen;
	char *type, *org_name, *doc;
	uint8_t *doc_sealed;
	size_t doc_sealed_len;
	char *checksum_failures, *review_remark, *replaced_at, *replaced_by;
};

/* How an order left the station (pick-up: picked_up_by; mail: carrier and
 * tracking_no). */
struct store_delivery {
	int64_t order_id;
	char *method, *picked_up_by, *carrier, *tracking_no, *delivered_at, *delivered_by;
};

/* A line of the order list. */
struct store_order_summary {
	int64_t id, total_fen, revision, certificates, issued;
	int refund_due;
	char *portal_ref, *type, *state, *org_name, *account_uscc, *payment_no, *renews_cert;
	char *created_at, *updated_at;
	char *service_point;	/* NULL: none */
};

/* Filters of the order list, each NULL for any: state, account USCC, type,
 * service point, and creation dates since/until (YYYY-MM-DD, inclusive). */
struct store_order_filter {
	const char *state, *org, *type, *since, *until;
	const char *service_point;	/* an order's service point id */
	int64_t after;		/* only orders with a larger id (a page's cursor) */
	int64_t limit;		/* at most this many; 0: all */
};

/* Loads order id (or the one with portal_ref). Returns 0 with *out owned
 * (store_order_free), UKEY_ERR_NOTFOUND, UKEY_ERR_DB or UKEY_ERR_NOMEM. */
int store_order_load(struct store *st, int64_t id, struct store_order **out);
int store_order_load_ref(struct store *st, const char *portal_ref, struct store_order **out);
void store_order_free(struct store_order *o);

/* The state of order id as stored, into state (at least 32 bytes). */
int store_order_state(struct store *st, int64_t id, char *state, size_t len);

/* The orders matching f, by id: *out an owned array of *n (free with
 * store_order_summaries_free; NULL when none). */
int store_order_list(struct store *st, const struct store_order_filter *f,
    struct store_order_summary **out, size_t *n);
void store_order_summaries_free(struct store_order_summary *a, size_t n);

/* A new order in state pending; *id its row id. UKEY_ERR_EXISTS when the
 * portal reference is taken. */
int store_order_insert(struct store *st, const struct store_order_content *c, const char *now,
    const char *by, int64_t *id);

/* An item to add (strings borrowed). */
struct store_order_item_new {
	int64_t seq, years, count;
	const char *kind, *name, *cert_profile;
};

/* Adds item it to order_id with its count units, held until payment. */
int store_order_add_item(struct store *st, int64_t order_id,
    const struct store_order_item_new *it, const char *now);

/* The order's items by seq, units by (item, seq), revisions by number. */
int store_order_items(struct store *st, int64_t order_id, struct store_order_item **out,
    size_t *n);
void store_order_items_free(struct store_order_item *a, size_t n);
int store_order_units(struct store *st, int64_t order_id, struct store_order_unit **out,
    size_t *n);
void store_order_units_free(struct store_order_unit *a, size_t n);
int store_order_revisions(struct store *st, int64_t order_id,
    struct store_order_revision **out, size_t *n);
void store_order_revisions_free(struct store_order_revision *a, size_t n);

/* An edit: the current content is kept as a revision (replaced_at now, by),
 * the order's items and units (all held: it was never paid) go, and c
 * becomes revision `revision` with no override and no renewal named. The
 * caller adds the new items. */
int store_order_revise(struct store *st, int64_t id, const struct store_order_content *c,
    int64_t revision, const char *now, const char *by);

/* Moves the order from -> to (state names); a no-op when it is no longer
 * in state from. Sets updated_at. */
int store_order_set_state(struct store *st, int64_t id, const char *from, const char *to,
    const char *now);

/* Review: an override of check-character failures, an approval (renews:
 * the certificate a renewal renews, or NULL), a rejection with remark. */
int store_order_set_override(struct store *st, int64_t id, const char *reason, const char *by,
    const char *now);
int store_order_set_approval(struct store *st, int64_t id, const char *reviewer, const char *now,
    const char *renews);
int store_order_set_rejection(struct store *st, int64_t id, const char *remark,
    const char *reviewer, const char *now);

/* Payment: the order paid with payment_no; *other the order already using
 * payment_no (UKEY_ERR_NOTFOUND when none). */
int store_order_set_payment(struct store *st, int64_t id, const char *payment_no,
    const char *now, const char *by);
int store_order_by_payment_no(struct store *st, const char *payment_no, int64_t *other);

/* Cancellation (refund_due 1 when it was paid) and the invoice request. */
int store_order_set_cancel(struct store *st, int64_t id, const char *remark, const char *by,
    const char *now, int refund_due);
int store_order_set_invoice(struct store *st, int64_t id, const char *now, const char *by);

/* The order's delivery: insert d (strings borrowed), or load it
 * (UKEY_ERR_NOTFOUND before delivery; free with store_delivery_clear). */
int store_delivery_insert(struct store *st, const struct store_delivery *d);
int store_delivery_load(struct store *st, int64_t order_id, struct store_delivery *out);
void store_delivery_clear(struct store_delivery *d);

/* The live (not cancelled or rejected) order other than except_id that
 * renews certificate serial: *other its id, UKEY_ERR_NOTFOUND when none. */
int store_order_renewing(struct store *st, const char *serial, int64_t except_id,
    int64_t *other);

/* A replacement order (补办): the certificate it replaces, set at approval
 * (store_order_set_replaces); the live order other than except_id that
 * replaces certificate serial: *other its id, UKEY_ERR_NOTFOUND when none. */
int store_order_set_replaces(struct store *st, int64_t id, const char *serial);
int store_order_replacing(struct store *st, const char *serial, int64_t except_id,
    int64_t *other);

/* Documents still stored in clear, from before sealing: each row's table
 * ("orders" or "order_revisions"), rowid, portal reference and text. */
struct store_clear_doc {
	const char *table;
	int64_t rowid;
	char *portal_ref, *doc;
};
int store_order_clear_docs(struct store *st, struct store_clear_doc **out, size_t *n);
void store_order_clear_docs_free(struct store_clear_doc *a, size_t n);
/* Replaces such a row's document with its masked and sealed forms. */
int store_order_doc_seal(struct store *st, const struct store_clear_doc *d, const char *masked,
    const uint8_t *sealed, size_t sealed_len);

/* An order's service point (docs/service-points.md): the id, or NULL to
 * clear it; store_order_service_point reads it into out ("" when none). */
int store_order_set_service_point(struct store *st, int64_t id, const char *point,
    const char *now);
int store_order_service_point(struct store *st, int64_t id, char *out, size_t len);

#endif
