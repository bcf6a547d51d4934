/* The certificate order as filed on the portal: handler, up to three
 * certificate sections, invoice and key delivery, fee. Parsed and validated
 * from JSON (docs/order-format.md), and written back in normalized form. */
#ifndef UKEY_ORDER_H
#define UKEY_ORDER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>

#include "common/errlist.h"

/* 200 yuan per certificate per year, in fen (1 yuan = 100 fen). */
#define ORDER_FEE_FEN_PER_CERT_YEAR 20000

#define ORDER_YEARS_MIN 1
#define ORDER_YEARS_MAX 5
#define ORDER_COUNT_MIN 1
#define ORDER_COUNT_MAX 50
/* RFC 5280 upper bound for CN and O, counted in characters. */
#define ORDER_NAME_MAX_CHARS 64

enum order_type { ORDER_NEW = 0, ORDER_RENEWAL = 1, ORDER_REPLACEMENT = 2 };
enum item_kind { ITEM_ORG = 0, ITEM_LEGAL_REP = 1, ITEM_ENTRUSTED = 2 };
enum invoice_kind { INVOICE_NONE = 0, INVOICE_MAIL = 1 };
enum delivery_kind { DELIVERY_PICKUP = 0, DELIVERY_MAIL = 1 };

/* A scanned document uploaded with the order; only its description and
 * digest travel with the order, the file itself stays on the portal. */
struct order_attachment {
	char *name;		/* file name as uploaded */
	char *type;		/* "pdf", "gif", "png", "jpeg" or "jpg" */
	char *sha256;		/* 64 lower-case hex digits */
};

/* One ticked certificate section: count certificates (one token each) of
 * the same subject, each valid for years. */
struct order_item {
	enum item_kind kind;
	char *name;		/* organisation name or person name */
	char *uscc;		/* ITEM_ORG only */
	char *id_number;	/* persons: resident ID, normalized (upper-case X) */
	char *phone;		/* ITEM_ENTRUSTED only: 11-digit mobile */
	char *email;		/* persons, optional: e-mail address (email_normalize) */
	int years, count;
	char *cert_profile;	/* as given, or NULL = default for the kind */
	struct order_attachment *attachments;
	size_t n_attachments;
};

struct order_handler {
	char *province, *city, *county;
	char *name, *id_number, *phone;	/* id normalized, phone 11 digits */
	struct order_attachment id_scan;
};

struct order_invoice {
	enum invoice_kind kind;
	/* INVOICE_MAIL only; bank_account and address_phone may be NULL. */
	char *unit_name, *taxpayer_id, *bank_account, *address_phone;
	char *recipient, *phone, *address;
};

struct order_delivery {
	enum delivery_kind kind;
	char *address, *recipient, *phone;	/* DELIVERY_MAIL only */
};

struct order {
	char *portal_ref;
	enum order_type type;
	char *account_uscc;		/* the portal account that filed the order */
	char *account_name;		/* its organisation name, optional */
	/* ORDER_RENEWAL names the certificate it renews either by serial
	 * (lower-case hex) or by the organisation's USCC and the certificate's
	 * kind (renews_uscc non-NULL, equal to account_uscc); NULL otherwise. */
	char *renews_serial;
	char *renews_uscc;
	enum item_kind renews_kind;
	/* ORDER_REPLACEMENT (补办) names the certificate of the lost or
	 * damaged token it replaces by serial (lower-case hex); NULL otherwise. */
	char *replaces_serial;
	struct order_handler handler;
	struct order_item *items;	/* ticked sections only: org, legal_rep, entrusted */
	size_t n_items;
	struct order_invoice invoice;
	struct order_delivery delivery;
	/* equals order_total_fen() once parsed; for a replacement order the fee
	 * is the station's ([fees] replacement_fen), checked at import */
	int64_t stated_amount_fen;
	/* Check-character failures of identity numbers: not hard errors, a
	 * reviewer may override them with a recorded reason. */
	char **checksum_failures;
	size_t n_checksum_failures;
};

/* "new", "renewal" or "replacement". */
const char *order_type_name(enum order_type t);

/* "organisation", "legal_rep" or "entrusted": also the section's JSON key. */
const char *item_kind_name(enum item_kind k);

/* The certificate profile an item asks for: its cert_profile, or the default
 * for its kind ("organisation", "legal-rep", "entrusted"). Never NULL. */
const char *order_item_profile(const struct order_item *it);

/* Parses and validates one order object; now is the time birth dates are
 * checked against. Every hard error is appended to errs (may be NULL), each
 * naming the order, the field path and the rule, and the function returns
 * UKEY_ERR_INVAL with *out NULL. Identity-number check-character failures are
 * not hard errors: they go to (*out)->checksum_failures and the order parses.
 * Messages never hold a whole ID number. Returns 0 with an owned *out (free
 * with order_free()), UKEY_ERR_INVAL or UKEY_ERR_NOMEM. */
int order_from_json(struct json_object *obj, time_t now, struct order **out, struct errlist *errs);

/* Returns the normalized JSON form of o (owned; json_object_put()), which
 * order_from_json() accepts and turns into an equal order; NULL when out of
 * memory. Unticked sections are left out. */
struct json_object *order_to_json(const struct order *o);

/* Sum over the ticked sections of years x count x 200 yuan, in fen; for a
 * replacement order, the amount it states (the fee is the station's own,
 * order_replacement_fee_check()). */
int64_t order_total_fen(const struct order *o);

/* Checks a replacement order's stated amount against the station's fee
 * per certificate (fee_fen x the certificates it asks for). Returns 0 when
 * it is equal (or o is no replacement), UKEY_ERR_INVAL with why naming
 * amount_fen, what it states and what it should be. */
int order_replacement_fee_check(const struct order *o, int64_t fee_fen, char *why,
    size_t whylen);

/* Number of certificates (and so tokens) the order asks for. */
unsigned order_cert_count(const struct order *o);

/* Writes fen as yuan with two decimals ("1600.00", "-0.50") into buf,
 * using integer arithmetic only. */
void order_fen_format(int64_t fen, char *buf, size_t buflen);

/* Frees o and everything it owns; NULL is a no-op. */
void order_free(struct order *o);

/* Where an order came from, for its messages: a CSV row names its line and
 * its columns. */
struct order_origin {
	const char *where;	/* put before each message ("line 4"), or NULL */
	/* Writes into buf the input's own name for the field at path (a CSV
	 * column such as "经办人电话"), or "" when it has none, and returns 0;
	 * returns 1 to drop the message because the reader already reported
	 * that field. NULL: messages name JSON paths only. */
	int (*field_name)(void *arg, const char *path, char *buf, size_t len);
	void *arg;
};

/* order_from_json() for file readers: label names the order when it has no
 * usable portal_ref ("#3", "row 3"); orig (may be NULL) places the hard
 * errors ("line 4: order X, handler.phone (经办人电话): ..."). Check-character
 * failures are recorded without the origin: they describe the order. */
int order_from_json_at(struct json_object *obj, time_t now, const char *label,
    const struct order_origin *orig, struct order **out, struct errlist *errs);

enum order_file_format { ORDER_FILE_JSON = 0, ORDER_FILE_CSV = 1 };

/* One order of a file, valid or not. */
struct order_file_entry {
	size_t line;			/* CSV: the line its row starts on; JSON: 0 */
	char *portal_ref;		/* NULL when the order has no usable one */
	struct json_object *order;	/* normalized form; NULL when refused */
	struct errlist errs;		/* every hard error of this order */
};

/* An order file read order by order. */
struct order_file {
	enum order_file_format format;
	struct errlist errs;		/* about the file as a whole; then n == 0 */
	struct order_file_entry *entries;	/* in file order */
	size_t n, n_bad;		/* orders, refused orders */
};

/* Reads an order file in the given format (JSON: docs/order-format.md, one
 * order object, an array or {"orders": [...]}; CSV: the portal's order table,
 * one row per order, src/orders/order_csv.c) and validates every order with
 * order_from_json(), so both formats obey the same rules. A portal_ref that
 * appears more than once refuses each of its orders. Returns 0 with an owned
 * *out (order_file_free()) whatever the content: the file as a whole is
 * unusable when (*out)->errs.n > 0, and (*out)->n_bad orders are refused.
 * Returns UKEY_ERR_NOMEM with *out NULL when memory runs out. */
int order_file_read(const char *text, size_t len, enum order_file_format fmt, time_t now,
    struct order_file **out);

/* For file readers: validates obj (borrowed) as the next order of f, from
 * line (0 for JSON), named label when it lacks a portal_ref. pre (may be
 * NULL) holds what the reader itself found wrong with the order: its
 * messages come first and are moved into the entry, and any of them refuses
 * the order. obj NULL: the reader could make no order of it (pre says why).
 * Returns 0 (the order is added, valid or refused) or UKEY_ERR_NOMEM. */
int order_file_add(struct order_file *f, struct json_object *obj, size_t line, const char *label,
    const struct order_origin *orig, struct errlist *pre, time_t now);

/* The portal_ref of an order object when it is usable as its name in
 * messages (1-64 characters of A-Z a-z 0-9 . _ -), else NULL; borrowed. */
const char *order_json_ref(struct json_object *obj);

/* Adds a message about the file as a whole; 0 or UKEY_ERR_NOMEM. */
int order_file_fail(struct order_file *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Frees f and everything it owns; NULL is a no-op. */
void order_file_free(struct order_file *f);

/* Parses an order file: one order object, an array of them, or
 * {"orders": [...]}. Validates every order (and that portal_ref values are
 * unique in the file); all hard errors go to errs, file errors first, then
 * each order's in file order. Returns 0 with
 * *orders_out an owned JSON array of the orders in normalized form
 * (json_object_put()), or UKEY_ERR_INVAL / UKEY_ERR_NOMEM with *orders_out
 * NULL: a file with one bad order is refused as a whole. */
int order_file_parse(const char *text, size_t len, time_t now, struct json_object **orders_out,
    struct errlist *errs);

#endif
