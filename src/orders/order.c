/* Orders: parse and validate the JSON form of a portal order into struct
 * order, collecting every broken rule, and write the normalized form back.
 * The format is described in docs/order-format.md. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/utf8.h"
#include "orders/idcheck.h"
#include "orders/order.h"

#define PATH_MAX_LEN 96
#define REF_MAX_LEN 64
#define PROFILE_MAX_LEN 64
#define SERIAL_MAX_HEX 40	/* 20 octets, RFC 5280 4.1.2.2 */
#define PLACE_MAX_CHARS 64
#define FILE_NAME_MAX_CHARS 255
#define TEXT_MAX_CHARS 128
#define ADDRESS_MAX_CHARS 256

/* State of one order's validation. */
struct pctx {
	char label[REF_MAX_LEN + 16];	/* "order YNCA-2026-000123" */
	struct errlist *errs;
	size_t nerr;			/* hard errors so far */
	int nomem;
	time_t now;
	struct order *o;
	const struct order_origin *orig;	/* may be NULL */
};

static const char *const attachment_types[] = { "pdf", "gif", "png", "jpeg", "jpg", NULL };

const char *
order_type_name(enum order_type t)
{
	return t == ORDER_RENEWAL ? "renewal" : t == ORDER_REPLACEMENT ? "replacement" : "new";
}

const char *
item_kind_name(enum item_kind k)
{
	switch (k) {
	case ITEM_ORG:
		return "organisation";
	case ITEM_LEGAL_REP:
		return "legal_rep";
	case ITEM_ENTRUSTED:
		return "entrusted";
	}
	return "unknown";
}

const char *
order_item_profile(const struct order_item *it)
{
	if (it->cert_profile != NULL)
		return it->cert_profile;
	switch (it->kind) {
	case ITEM_ORG:
		return "organisation";
	case ITEM_LEGAL_REP:
		return "legal-rep";
	case ITEM_ENTRUSTED:
		return "entrusted";
	}
	return "organisation";
}

/* ---- messages ---- */

static void __attribute__((format(printf, 4, 0)))
vmsg(struct pctx *c, int hard, const char *path, const char *fmt, va_list ap)
{
	char *text = NULL, *full = NULL;
	char **nv;
	struct order *o = c->o;

	if (hard)
		c->nerr++;
	if (vasprintf(&text, fmt, ap) < 0) {
		text = NULL;
		c->nomem = 1;
		goto out;
	}
	if (hard) {
		const struct order_origin *og = c->orig;
		const char *where = og != NULL && og->where != NULL ? og->where : NULL;
		char name[PATH_MAX_LEN] = "";
		int rc;

		if (c->errs == NULL)
			goto out;
		if (path != NULL && og != NULL && og->field_name != NULL &&
		    og->field_name(og->arg, path, name, sizeof(name)) != 0)
			goto out;	/* the reader reported this field in its own words */
		if (path == NULL)
			rc = errlist_add(c->errs, "%s%s%s: %s", where ? where : "", where ? ": " : "",
			    c->label, text);
		else
			rc = errlist_add(c->errs, "%s%s%s, %s%s%s%s: %s", where ? where : "",
			    where ? ": " : "", c->label, path, name[0] ? " (" : "", name,
			    name[0] ? ")" : "", text);
		if (rc != 0)
			c->nomem = 1;
		goto out;
	}
	if (asprintf(&full, "%s, %s: %s", c->label, path, text) < 0) {
		full = NULL;
		c->nomem = 1;
		goto out;
	}
	nv = realloc(o->checksum_failures, (o->n_checksum_failures + 1) * sizeof(*nv));
	if (nv == NULL) {
		c->nomem = 1;
		goto out;
	}
	o->checksum_failures = nv;
	o->checksum_failures[o->n_checksum_failures++] = full;
	full = NULL;
 out:
	free(full);
	free(text);
}

/* Records a hard error at path (NULL: the order as a whole). */
static void __attribute__((format(printf, 3, 4)))
bad(struct pctx *c, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(c, 1, path, fmt, ap);
	va_end(ap);
}

/* Records an overridable check-character failure at path. */
static void __attribute__((format(printf, 3, 4)))
soft(struct pctx *c, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(c, 0, path, fmt, ap);
	va_end(ap);
}

/* ---- field access ---- */

static void
join(char *buf, const char *path, const char *key)
{
	if (path == NULL || *path == '\0')
		snprintf(buf, PATH_MAX_LEN, "%s", key);
	else
		snprintf(buf, PATH_MAX_LEN, "%s.%s", path, key);
}

static int
is_field_name(const char *k)
{
	size_t n = 0;

	for (; *k != '\0'; k++, n++)
		if (!(isalnum((unsigned char)*k) || *k == '_' || *k == '-'))
			return 0;
	return n > 0 && n <= 40;
}

/* Reports every key of obj not in allowed. A key that does not look like a
 * field name is not echoed: it might be personal data pasted in the wrong
 * place. */
static void
check_keys(struct pctx *c, struct json_object *obj, const char *path, const char *const *allowed)
{
	char p[PATH_MAX_LEN];
	size_t i;

	json_object_object_foreach(obj, key, val) {
		(void)val;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] != NULL)
			continue;
		if (is_field_name(key)) {
			join(p, path, key);
			bad(c, p, "unknown field");
		} else {
			bad(c, path != NULL && *path != '\0' ? path : NULL,
			    "holds a field whose name is not a known field name");
		}
	}
}

static const char *
type_word(enum json_type t)
{
	switch (t) {
	case json_type_boolean:
		return "true or false";
	case json_type_int:
		return "an integer";
	case json_type_string:
		return "a string";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	default:
		return "a value";
	}
}

/* Returns obj[key] if present (JSON null counts as absent) and of type t;
 * otherwise reports "required field is missing" (when required) or a type
 * error and returns NULL. */
static struct json_object *
field(struct pctx *c, struct json_object *obj, const char *path, const char *key,
    enum json_type t, int required)
{
	struct json_object *v = NULL;
	char p[PATH_MAX_LEN];

	join(p, path, key);
	if (!json_object_object_get_ex(obj, key, &v) || v == NULL) {
		if (required)
			bad(c, p, "required field is missing");
		return NULL;
	}
	if (!json_object_is_type(v, t)) {
		bad(c, p, "must be %s", type_word(t));
		return NULL;
	}
	return v;
}

/* A text field: valid UTF-8, no control characters, 1..maxchars characters.
 * rule names where the bound comes from, or NULL. Returns an owned copy or
 * NULL (absent optional field, empty optional field, or an error reported). */
static char *
text(struct pctx *c, struct json_object *obj, const char *path, const char *key, int required,
    size_t maxchars, const char *rule)
{
	struct json_object *v;
	const char *s;
	char p[PATH_MAX_LEN];
	char *dup;
	size_t len, n;

	if ((v = field(c, obj, path, key, json_type_string, required)) == NULL)
		return NULL;
	join(p, path, key);
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (len == 0) {
		if (required)
			bad(c, p, "must not be empty");
		return NULL;
	}
	if (!utf8_valid(s, len)) {
		bad(c, p, "is not valid UTF-8");
		return NULL;
	}
	/* An escaped \u0000 ends the C string early: refuse it with the other
	 * control characters rather than silently shortening the text. */
	if (strlen(s) != len || utf8_has_control(s)) {
		bad(c, p, "must not contain control characters");
		return NULL;
	}
	if ((n = utf8_chars(s)) > maxchars) {
		if (rule != NULL)
			bad(c, p, "is %zu characters long, at most %zu allowed (%s)", n, maxchars, rule);
		else
			bad(c, p, "is %zu characters long, at most %zu allowed", n, maxchars);
		return NULL;
	}
	if ((dup = strdup(s)) == NULL)
		c->nomem = 1;
	return dup;
}

/* A string field that a specific rule checks next (codes, kinds, numbers);
 * borrowed. Only an escaped NUL is refused here, since it would hide the
 * rest of the value from that rule. */
static const char *
ascii(struct pctx *c, struct json_object *obj, const char *path, const char *key, int required)
{
	struct json_object *v;
	const char *s;
	char p[PATH_MAX_LEN];

	if ((v = field(c, obj, path, key, json_type_string, required)) == NULL)
		return NULL;
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v)) {
		join(p, path, key);
		bad(c, p, "must not contain control characters");
		return NULL;
	}
	return s;
}

/* An integer field in lo..hi; returns 0 and sets *out, or -1 (reported). */
static int
integer(struct pctx *c, struct json_object *obj, const char *path, const char *key,
    int lo, int hi, int *out)
{
	struct json_object *v;
	char p[PATH_MAX_LEN];
	int64_t x;

	join(p, path, key);
	if ((v = field(c, obj, path, key, json_type_int, 1)) == NULL)
		return -1;
	x = json_object_get_int64(v);
	if (x < lo || x > hi) {
		bad(c, p, "must be an integer from %d to %d", lo, hi);
		return -1;
	}
	*out = (int)x;
	return 0;
}

static char *
xstrdup(struct pctx *c, const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		c->nomem = 1;
	return d;
}

/* ---- identity numbers ---- */

/* Checks a USCC field; returns an owned copy when its format is right (even
 * with a wrong check character, which is recorded as overridable). */
static char *
uscc_field(struct pctx *c, struct json_object *obj, const char *path, const char *key)
{
	const char *s;
	char p[PATH_MAX_LEN], why[160];
	int rc;

	if ((s = ascii(c, obj, path, key, 1)) == NULL)
		return NULL;
	join(p, path, key);
	rc = uscc_check(s, why, sizeof(why));
	if (rc == UKEY_ERR_VERIFY)
		soft(c, p, "%s", why);
	else if (rc != 0) {
		bad(c, p, "%s", why);
		return NULL;
	}
	return xstrdup(c, s);
}

static char *
rid_field(struct pctx *c, struct json_object *obj, const char *path, const char *key)
{
	const char *s;
	char p[PATH_MAX_LEN], why[160], norm[19];
	int rc;

	if ((s = ascii(c, obj, path, key, 1)) == NULL)
		return NULL;
	join(p, path, key);
	rc = rid_check(s, c->now, norm, why, sizeof(why));
	if (rc == UKEY_ERR_VERIFY)
		soft(c, p, "%s", why);
	else if (rc != 0) {
		bad(c, p, "%s", why);
		return NULL;
	}
	return xstrdup(c, norm);
}

static char *
mobile_field(struct pctx *c, struct json_object *obj, const char *path, const char *key)
{
	const char *s;
	char p[PATH_MAX_LEN], why[160], out[12];

	if ((s = ascii(c, obj, path, key, 1)) == NULL)
		return NULL;
	join(p, path, key);
	if (phone_normalize(s, out, why, sizeof(why)) != 0) {
		bad(c, p, "%s", why);
		return NULL;
	}
	return xstrdup(c, out);
}

/* An optional e-mail address (email_normalize); absent or empty: NULL. */
static char *
email_field(struct pctx *c, struct json_object *obj, const char *path, const char *key)
{
	const char *s;
	char p[PATH_MAX_LEN], why[160], out[EMAIL_MAX + 1];

	if ((s = ascii(c, obj, path, key, 0)) == NULL || *s == '\0')
		return NULL;
	join(p, path, key);
	if (email_normalize(s, out, sizeof(out), why, sizeof(why)) != 0) {
		bad(c, p, "%s", why);
		return NULL;
	}
	return xstrdup(c, out);
}

/* A contact phone for mail: a mobile number, or a landline with its area
 * code (0 and 2-3 more digits, then 7-8 digits, e.g. 0871-65385613). */
static char *
contact_phone_field(struct pctx *c, struct json_object *obj, const char *path, const char *key)
{
	const char *s, *q;
	char p[PATH_MAX_LEN], out[12], buf[24], why[160];
	size_t n = 0, i, area;

	if ((s = ascii(c, obj, path, key, 1)) == NULL)
		return NULL;
	join(p, path, key);
	if (phone_normalize(s, out, NULL, 0) == 0)
		return xstrdup(c, out);
	if (id_ascii_check(s, why, sizeof(why)) != 0) {
		bad(c, p, "%s", why);
		return NULL;
	}
	for (q = s; *q != '\0' && n + 1 < sizeof(buf); q++)
		if (*q != ' ')
			buf[n++] = *q;
	buf[n] = '\0';
	if (*q == '\0' && n >= 2 && buf[0] == '0' && buf[1] != '0') {
		const char *dash = strchr(buf, '-');

		if (dash != NULL) {
			area = (size_t)(dash - buf);
			for (i = 0; buf[i] != '\0'; i++)
				if (i != area && !isdigit((unsigned char)buf[i]))
					break;
			if (buf[i] == '\0' && area >= 3 && area <= 4 &&
			    n - area - 1 >= 7 && n - area - 1 <= 8)
				return xstrdup(c, buf);
		} else {
			for (i = 0; buf[i] != '\0'; i++)
				if (!isdigit((unsigned char)buf[i]))
					break;
			if (buf[i] == '\0' && n >= 10 && n <= 12)
				return xstrdup(c, buf);
		}
	}
	bad(c, p, "must be a mobile number 1[3-9]xxxxxxxxx (optionally after +86 or 0086) "
	    "or a landline with its area code, e.g. 0871-65385613");
	return NULL;
}

/* ---- attachments ---- */

static void
attachment_clear(struct order_attachment *a)
{
	free(a->name);
	free(a->type);
	free(a->sha256);
	memset(a, 0, sizeof(*a));
}

static int
is_hex(const char *s, size_t minlen, size_t maxlen)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++)
		if (!isxdigit((unsigned char)*s))
			return 0;
	return n >= minlen && n <= maxlen;
}

static char *
lower_dup(struct pctx *c, const char *s)
{
	char *d = xstrdup(c, s), *q;

	for (q = d; q != NULL && *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
	return d;
}

/* Parses the attachment object v at path into a. */
static void
attachment_parse(struct pctx *c, struct json_object *v, const char *path, struct order_attachment *a)
{
	static const char *const keys[] = { "name", "type", "sha256", NULL };
	const char *s;
	char p[PATH_MAX_LEN];
	size_t i;

	if (!json_object_is_type(v, json_type_object)) {
		bad(c, path, "must be an object with name, type and sha256");
		return;
	}
	check_keys(c, v, path, keys);
	a->name = text(c, v, path, "name", 1, FILE_NAME_MAX_CHARS, NULL);
	if ((s = ascii(c, v, path, "type", 1)) != NULL) {
		for (i = 0; attachment_types[i] != NULL; i++)
			if (strcasecmp(s, attachment_types[i]) == 0)
				break;
		join(p, path, "type");
		if (attachment_types[i] == NULL)
			bad(c, p, "must be one of pdf, gif, png, jpeg, jpg");
		else
			a->type = xstrdup(c, attachment_types[i]);
	}
	if ((s = ascii(c, v, path, "sha256", 1)) != NULL) {
		join(p, path, "sha256");
		if (!is_hex(s, 64, 64))
			bad(c, p, "must be 64 hexadecimal digits (a SHA-256 digest)");
		else
			a->sha256 = lower_dup(c, s);
	}
}

static void
attachments_parse(struct pctx *c, struct json_object *obj, const char *path, struct order_item *it)
{
	struct json_object *arr;
	char p[PATH_MAX_LEN], ap[PATH_MAX_LEN + 24];
	size_t n, i;

	if ((arr = field(c, obj, path, "attachments", json_type_array, 0)) == NULL)
		return;
	join(p, path, "attachments");
	if ((n = json_object_array_length(arr)) == 0)
		return;
	if (n > 32) {
		bad(c, p, "at most 32 attachments allowed");
		return;
	}
	if ((it->attachments = calloc(n, sizeof(*it->attachments))) == NULL) {
		c->nomem = 1;
		return;
	}
	it->n_attachments = n;
	for (i = 0; i < n; i++) {
		snprintf(ap, sizeof(ap), "%s[%zu]", p, i);
		attachment_parse(c, json_object_array_get_idx(arr, i), ap, &it->attachments[i]);
	}
}

/* ---- sections ---- */

static void
item_clear(struct order_item *it)
{
	size_t i;

	free(it->name);
	free(it->uscc);
	free(it->id_number);
	free(it->phone);
	free(it->email);
	free(it->cert_profile);
	for (i = 0; i < it->n_attachments; i++)
		attachment_clear(&it->attachments[i]);
	free(it->attachments);
	memset(it, 0, sizeof(*it));
}

static int
is_profile_name(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) ||
		    *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return n > 0 && n <= PROFILE_MAX_LEN && *(s - n) != '.';
}

/* Parses one certificate section. Returns 1 if it is ticked, 0 if not (or
 * absent), -1 if its ticked flag is unusable. Sets *counts_ok to 0 when the
 * fee cannot be recomputed (bad years, count or ticked flag). */
static int
section_parse(struct pctx *c, struct json_object *root, enum item_kind kind, int *counts_ok)
{
	static const char *const org_keys[] = {
		"ticked", "name", "uscc", "years", "count", "cert_profile", "attachments", NULL
	};
	static const char *const rep_keys[] = {
		"ticked", "name", "id_number", "email", "years", "count", "cert_profile",
		"attachments", NULL
	};
	static const char *const ent_keys[] = {
		"ticked", "name", "id_number", "phone", "email", "years", "count", "cert_profile",
		"attachments", NULL
	};
	const char *key = item_kind_name(kind), *s;
	struct json_object *sec, *tk;
	struct order *o = c->o;
	struct order_item *it;
	char p[PATH_MAX_LEN];
	int y, n;

	if ((sec = field(c, root, "", key, json_type_object, 0)) == NULL)
		return 0;
	check_keys(c, sec, key, kind == ITEM_ORG ? org_keys :
	    kind == ITEM_LEGAL_REP ? rep_keys : ent_keys);
	if ((tk = field(c, sec, key, "ticked", json_type_boolean, 1)) == NULL) {
		/* Unknown whether it counts: skip the total and the "none
		 * ticked" checks rather than pile guesses on this error. */
		*counts_ok = 0;
		return -1;
	}
	/* Only ticked sections are validated and counted, as on the portal:
	 * an unticked section may hold half-filled leftovers. */
	if (!json_object_get_boolean(tk))
		return 0;

	it = &o->items[o->n_items++];	/* room for three reserved by the caller */
	it->kind = kind;
	it->name = text(c, sec, key, "name", 1, ORDER_NAME_MAX_CHARS,
	    kind == ITEM_ORG ? "RFC 5280 upper bound for O" : "RFC 5280 upper bound for CN");
	if (kind == ITEM_ORG) {
		it->uscc = uscc_field(c, sec, key, "uscc");
		if (it->uscc != NULL && o->account_uscc != NULL &&
		    strcmp(it->uscc, o->account_uscc) != 0)
			bad(c, "organisation.uscc", "must equal account_uscc, the code of the "
			    "portal account that filed the order");
	} else {
		it->id_number = rid_field(c, sec, key, "id_number");
	}
	if (kind == ITEM_ENTRUSTED)
		it->phone = mobile_field(c, sec, key, "phone");
	/* a person's certificate names an e-mail address (and may protect
	 * e-mail) only when the order gives one */
	if (kind != ITEM_ORG)
		it->email = email_field(c, sec, key, "email");
	if (integer(c, sec, key, "years", ORDER_YEARS_MIN, ORDER_YEARS_MAX, &y) == 0)
		it->years = y;
	else
		*counts_ok = 0;
	if (integer(c, sec, key, "count", ORDER_COUNT_MIN, ORDER_COUNT_MAX, &n) == 0)
		it->count = n;
	else
		*counts_ok = 0;
	if ((s = ascii(c, sec, key, "cert_profile", 0)) != NULL) {
		join(p, key, "cert_profile");
		if (!is_profile_name(s))
			bad(c, p, "must be a profile name: 1 to %d characters of a-z 0-9 . _ -",
			    PROFILE_MAX_LEN);
		else
			it->cert_profile = xstrdup(c, s);
	}
	attachments_parse(c, sec, key, it);
	return 1;
}

/* ---- handler, invoice, delivery ---- */

static void
handler_parse(struct pctx *c, struct json_object *root)
{
	static const char *const keys[] = {
		"province", "city", "county", "name", "id_number", "phone", "id_scan", NULL
	};
	struct order_handler *h = &c->o->handler;
	struct json_object *obj, *scan;

	if ((obj = field(c, root, "", "handler", json_type_object, 1)) == NULL)
		return;
	check_keys(c, obj, "handler", keys);
	h->province = text(c, obj, "handler", "province", 1, PLACE_MAX_CHARS, NULL);
	h->city = text(c, obj, "handler", "city", 1, PLACE_MAX_CHARS, NULL);
	h->county = text(c, obj, "handler", "county", 1, PLACE_MAX_CHARS, NULL);
	h->name = text(c, obj, "handler", "name", 1, ORDER_NAME_MAX_CHARS,
	    "RFC 5280 upper bound for CN");
	h->id_number = rid_field(c, obj, "handler", "id_number");
	h->phone = mobile_field(c, obj, "handler", "phone");
	if ((scan = field(c, obj, "handler", "id_scan", json_type_object, 1)) != NULL)
		attachment_parse(c, scan, "handler.id_scan", &h->id_scan);
}

static int
is_taxpayer_id(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++)
		if (!(isdigit((unsigned char)*s) || isupper((unsigned char)*s)))
			return 0;
	return n >= 15 && n <= 20;
}

static void
invoice_parse(struct pctx *c, struct json_object *root)
{
	static const char *const none_keys[] = { "kind", NULL };
	static const char *const mail_keys[] = {
		"kind", "unit_name", "taxpayer_id", "bank_account", "address_phone",
		"recipient", "phone", "address", NULL
	};
	struct order_invoice *inv = &c->o->invoice;
	struct json_object *obj;
	const char *kind, *s;

	if ((obj = field(c, root, "", "invoice", json_type_object, 1)) == NULL)
		return;
	if ((kind = ascii(c, obj, "invoice", "kind", 1)) == NULL) {
		check_keys(c, obj, "invoice", mail_keys);
		return;
	}
	if (strcmp(kind, "none") == 0) {
		inv->kind = INVOICE_NONE;
		check_keys(c, obj, "invoice", none_keys);
		return;
	}
	if (strcmp(kind, "mail") != 0) {
		bad(c, "invoice.kind", "must be \"none\" or \"mail\"");
		check_keys(c, obj, "invoice", mail_keys);
		return;
	}
	inv->kind = INVOICE_MAIL;
	check_keys(c, obj, "invoice", mail_keys);
	inv->unit_name = text(c, obj, "invoice", "unit_name", 1, TEXT_MAX_CHARS, NULL);
	if ((s = ascii(c, obj, "invoice", "taxpayer_id", 1)) != NULL) {
		if (!is_taxpayer_id(s))
			bad(c, "invoice.taxpayer_id", "must be 15 to 20 digits and upper-case letters");
		else
			inv->taxpayer_id = xstrdup(c, s);
	}
	inv->bank_account = text(c, obj, "invoice", "bank_account", 0, TEXT_MAX_CHARS, NULL);
	inv->address_phone = text(c, obj, "invoice", "address_phone", 0, TEXT_MAX_CHARS, NULL);
	inv->recipient = text(c, obj, "invoice", "recipient", 1, ORDER_NAME_MAX_CHARS, NULL);
	inv->phone = contact_phone_field(c, obj, "invoice", "phone");
	inv->address = text(c, obj, "invoice", "address", 1, ADDRESS_MAX_CHARS, NULL);
}

static void
delivery_parse(struct pctx *c, struct json_object *root)
{
	static const char *const pickup_keys[] = { "kind", NULL };
	static const char *const mail_keys[] = { "kind", "address", "recipient", "phone", NULL };
	struct order_delivery *d = &c->o->delivery;
	struct json_object *obj;
	const char *kind;

	if ((obj = field(c, root, "", "delivery", json_type_object, 1)) == NULL)
		return;
	if ((kind = ascii(c, obj, "delivery", "kind", 1)) == NULL) {
		check_keys(c, obj, "delivery", mail_keys);
		return;
	}
	if (strcmp(kind, "pickup") == 0) {
		d->kind = DELIVERY_PICKUP;
		check_keys(c, obj, "delivery", pickup_keys);
		return;
	}
	if (strcmp(kind, "mail") != 0) {
		bad(c, "delivery.kind", "must be \"pickup\" or \"mail\"");
		check_keys(c, obj, "delivery", mail_keys);
		return;
	}
	d->kind = DELIVERY_MAIL;
	check_keys(c, obj, "delivery", mail_keys);
	d->address = text(c, obj, "delivery", "address", 1, ADDRESS_MAX_CHARS, NULL);
	d->recipient = text(c, obj, "delivery", "recipient", 1, ORDER_NAME_MAX_CHARS, NULL);
	d->phone = contact_phone_field(c, obj, "delivery", "phone");
}

static void
renews_parse(struct pctx *c, struct json_object *root)
{
	static const char *const keys[] = { "serial", "uscc", "kind", NULL };
	struct json_object *obj;
	const char *s;
	int by_serial, by_org;
	enum item_kind k;

	if (c->o->type != ORDER_RENEWAL) {
		if (json_object_object_get_ex(root, "renews", NULL))
			bad(c, "renews", "only a renewal order names a certificate to renew");
		return;
	}
	if ((obj = field(c, root, "", "renews", json_type_object, 1)) == NULL)
		return;
	check_keys(c, obj, "renews", keys);
	by_serial = json_object_object_get(obj, "serial") != NULL;
	by_org = json_object_object_get(obj, "uscc") != NULL ||
	    json_object_object_get(obj, "kind") != NULL;
	if (by_serial && by_org) {
		bad(c, "renews", "name the certificate either by serial or by uscc and kind, not both");
		return;
	}
	if (by_org) {
		if ((s = ascii(c, obj, "renews", "kind", 1)) != NULL) {
			for (k = ITEM_ORG; k <= ITEM_ENTRUSTED; k++)
				if (strcmp(s, item_kind_name(k)) == 0)
					break;
			if (k > ITEM_ENTRUSTED)
				bad(c, "renews.kind", "must be one of organisation, legal_rep, entrusted");
			else
				c->o->renews_kind = k;
		}
		if ((s = ascii(c, obj, "renews", "uscc", 1)) != NULL) {
			if (c->o->account_uscc != NULL && strcmp(s, c->o->account_uscc) != 0)
				bad(c, "renews.uscc", "must equal account_uscc: an organisation renews"
				    " only its own certificates");
			else
				c->o->renews_uscc = xstrdup(c, s);
		}
		return;
	}
	if ((s = ascii(c, obj, "renews", "serial", 1)) == NULL)
		return;
	if (!is_hex(s, 1, SERIAL_MAX_HEX))
		bad(c, "renews.serial", "must be the certificate serial number in hexadecimal, "
		    "1 to %d digits", SERIAL_MAX_HEX);
	else
		c->o->renews_serial = lower_dup(c, s);
}

static void
type_parse(struct pctx *c, struct json_object *root)
{
	const char *s;

	if ((s = ascii(c, root, "", "type", 1)) == NULL)
		return;
	if (strcmp(s, "new") == 0)
		c->o->type = ORDER_NEW;
	else if (strcmp(s, "renewal") == 0)
		c->o->type = ORDER_RENEWAL;
	else if (strcmp(s, "replacement") == 0)
		c->o->type = ORDER_REPLACEMENT;
	else
		bad(c, "type", "must be \"new\", \"renewal\" or \"replacement\"");
}

/* A replacement order (补办) names the certificate of the lost or damaged
 * token by serial: "replaces": {"serial": "..."}. */
static void
replaces_parse(struct pctx *c, struct json_object *root)
{
	static const char *const keys[] = { "serial", NULL };
	struct json_object *obj;
	const char *s;

	if (c->o->type != ORDER_REPLACEMENT) {
		if (json_object_object_get_ex(root, "replaces", NULL))
			bad(c, "replaces", "only a replacement order names a certificate to replace");
		return;
	}
	if ((obj = field(c, root, "", "replaces", json_type_object, 1)) == NULL)
		return;
	check_keys(c, obj, "replaces", keys);
	if ((s = ascii(c, obj, "replaces", "serial", 1)) == NULL)
		return;
	if (!is_hex(s, 1, SERIAL_MAX_HEX))
		bad(c, "replaces.serial", "must be the certificate serial number in hexadecimal, "
		    "1 to %d digits", SERIAL_MAX_HEX);
	else
		c->o->replaces_serial = lower_dup(c, s);
}

/* ---- order ---- */

static int
is_portal_ref(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++)
		if (!(isalnum((unsigned char)*s) || *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return n > 0 && n <= REF_MAX_LEN;
}

/* Portal reference of obj if it is a usable name for messages, else NULL. */
static const char *
peek_ref(struct json_object *obj)
{
	struct json_object *v;
	const char *s;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "portal_ref", &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return NULL;
	return is_portal_ref(s) ? s : NULL;
}

void
order_free(struct order *o)
{
	size_t i;

	if (o == NULL)
		return;
	free(o->portal_ref);
	free(o->account_uscc);
	free(o->account_name);
	free(o->renews_serial);
	free(o->renews_uscc);
	free(o->replaces_serial);
	free(o->handler.province);
	free(o->handler.city);
	free(o->handler.county);
	free(o->handler.name);
	free(o->handler.id_number);
	free(o->handler.phone);
	attachment_clear(&o->handler.id_scan);
	for (i = 0; i < o->n_items; i++)
		item_clear(&o->items[i]);
	free(o->items);
	free(o->invoice.unit_name);
	free(o->invoice.taxpayer_id);
	free(o->invoice.bank_account);
	free(o->invoice.address_phone);
	free(o->invoice.recipient);
	free(o->invoice.phone);
	free(o->invoice.address);
	free(o->delivery.address);
	free(o->delivery.recipient);
	free(o->delivery.phone);
	for (i = 0; i < o->n_checksum_failures; i++)
		free(o->checksum_failures[i]);
	free(o->checksum_failures);
	free(o);
}

/* order_from_json() with the label to use when the order has no usable
 * portal_ref ("order #3" inside a file). */
static int
order_parse(struct json_object *obj, time_t now, const char *fallback,
    const struct order_origin *orig, struct order **out, struct errlist *errs)
{
	static const char *const keys[] = {
		"portal_ref", "type", "account_uscc", "account_name", "renews", "replaces", "handler",
		"organisation",
		"legal_rep", "entrusted", "invoice", "delivery", "amount_fen", NULL
	};
	struct pctx c;
	struct json_object *v;
	const char *ref, *s;
	char want[32], got[32];
	int counts_ok = 1, nticked = 0, unsure = 0, rc, t;
	enum item_kind k;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	c.errs = errs;
	c.now = now;
	c.orig = orig;
	ref = peek_ref(obj);
	snprintf(c.label, sizeof(c.label), "order %s", ref != NULL ? ref : fallback);
	if ((c.o = calloc(1, sizeof(*c.o))) == NULL ||
	    (c.o->items = calloc(3, sizeof(*c.o->items))) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		bad(&c, NULL, "must be a JSON object");
		rc = UKEY_ERR_INVAL;
		goto out;
	}
	check_keys(&c, obj, "", keys);

	if ((s = ascii(&c, obj, "", "portal_ref", 1)) != NULL) {
		if (ref == NULL)
			bad(&c, "portal_ref", "must be 1 to %d characters of A-Z a-z 0-9 . _ -",
			    REF_MAX_LEN);
		else
			c.o->portal_ref = xstrdup(&c, s);
	}
	type_parse(&c, obj);
	c.o->account_uscc = uscc_field(&c, obj, "", "account_uscc");
	/* the filing organisation's name: the O of personal certificates when
	 * the order has no organisation section to take it from */
	c.o->account_name = text(&c, obj, "", "account_name", 0, ORDER_NAME_MAX_CHARS,
	    "RFC 5280 upper bound for O");
	renews_parse(&c, obj);
	replaces_parse(&c, obj);
	handler_parse(&c, obj);
	for (k = ITEM_ORG; k <= ITEM_ENTRUSTED; k++) {
		if ((t = section_parse(&c, obj, k, &counts_ok)) < 0)
			unsure = 1;
		else
			nticked += t;
	}
	if (nticked == 0 && !unsure)
		bad(&c, NULL, "no certificate section is ticked; tick at least one of "
		    "organisation, legal_rep, entrusted");
	invoice_parse(&c, obj);
	delivery_parse(&c, obj);
	if ((v = field(&c, obj, "", "amount_fen", json_type_int, 1)) != NULL) {
		c.o->stated_amount_fen = json_object_get_int64(v);
		/* Compare only when every ticked section gave usable numbers;
		 * otherwise the mismatch would just repeat those errors. */
		if (counts_ok && nticked > 0 && c.o->type != ORDER_REPLACEMENT &&
		    c.o->stated_amount_fen != order_total_fen(c.o)) {
			order_fen_format(c.o->stated_amount_fen, got, sizeof(got));
			order_fen_format(order_total_fen(c.o), want, sizeof(want));
			bad(&c, "amount_fen", "states %s yuan, but the ticked sections come to "
			    "%s yuan (200 yuan per certificate-year)", got, want);
		}
	}

	if (c.nomem)
		rc = UKEY_ERR_NOMEM;
	else if (c.nerr > 0)
		rc = UKEY_ERR_INVAL;
	else
		rc = 0;
	if (rc != 0)
		goto out;
	*out = c.o;
	c.o = NULL;		/* caller owns it now */
 out:
	order_free(c.o);
	return rc;
}

int
order_from_json(struct json_object *obj, time_t now, struct order **out, struct errlist *errs)
{
	return order_parse(obj, now, "(without portal_ref)", NULL, out, errs);
}

int
order_from_json_at(struct json_object *obj, time_t now, const char *label,
    const struct order_origin *orig, struct order **out, struct errlist *errs)
{
	return order_parse(obj, now, label, orig, out, errs);
}

/* ---- normalized JSON ---- */

/* Adds key: s to obj when s is not NULL; returns -1 when out of memory. */
static int
put_str(struct json_object *obj, const char *key, const char *s)
{
	struct json_object *v;

	if (s == NULL)
		return 0;
	if ((v = json_object_new_string(s)) == NULL)
		return -1;
	if (json_object_object_add(obj, key, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

/* Adds key: v to obj, taking v; a NULL v means an allocation failed. */
static int
put_obj(struct json_object *obj, const char *key, struct json_object *v)
{
	if (v == NULL)
		return -1;
	if (json_object_object_add(obj, key, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

static struct json_object *
attachment_to_json(const struct order_attachment *a)
{
	struct json_object *obj = json_object_new_object();

	if (obj == NULL || put_str(obj, "name", a->name) != 0 ||
	    put_str(obj, "type", a->type) != 0 || put_str(obj, "sha256", a->sha256) != 0) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

static struct json_object *
item_to_json(const struct order_item *it)
{
	struct json_object *obj = NULL, *arr = NULL, *a;
	size_t i;

	if ((obj = json_object_new_object()) == NULL ||
	    put_obj(obj, "ticked", json_object_new_boolean(1)) != 0 ||
	    put_str(obj, "name", it->name) != 0 ||
	    put_str(obj, "uscc", it->uscc) != 0 ||
	    put_str(obj, "id_number", it->id_number) != 0 ||
	    put_str(obj, "phone", it->phone) != 0 ||
	    put_str(obj, "email", it->email) != 0 ||
	    put_obj(obj, "years", json_object_new_int(it->years)) != 0 ||
	    put_obj(obj, "count", json_object_new_int(it->count)) != 0 ||
	    put_str(obj, "cert_profile", it->cert_profile) != 0 ||
	    (arr = json_object_new_array()) == NULL)
		goto fail;
	for (i = 0; i < it->n_attachments; i++) {
		if ((a = attachment_to_json(&it->attachments[i])) == NULL)
			goto fail;
		if (json_object_array_add(arr, a) != 0) {
			json_object_put(a);
			goto fail;
		}
	}
	if (put_obj(obj, "attachments", arr) != 0) {
		arr = NULL;	/* put_obj released it */
		goto fail;
	}
	return obj;
 fail:
	json_object_put(arr);
	json_object_put(obj);
	return NULL;
}

static struct json_object *
handler_to_json(const struct order_handler *h)
{
	struct json_object *obj = json_object_new_object();

	if (obj == NULL ||
	    put_str(obj, "province", h->province) != 0 ||
	    put_str(obj, "city", h->city) != 0 ||
	    put_str(obj, "county", h->county) != 0 ||
	    put_str(obj, "name", h->name) != 0 ||
	    put_str(obj, "id_number", h->id_number) != 0 ||
	    put_str(obj, "phone", h->phone) != 0 ||
	    put_obj(obj, "id_scan", attachment_to_json(&h->id_scan)) != 0) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

static struct json_object *
invoice_to_json(const struct order_invoice *inv)
{
	struct json_object *obj = json_object_new_object();

	if (obj == NULL)
		return NULL;
	if (inv->kind == INVOICE_NONE) {
		if (put_str(obj, "kind", "none") != 0)
			goto fail;
		return obj;
	}
	if (put_str(obj, "kind", "mail") != 0 ||
	    put_str(obj, "unit_name", inv->unit_name) != 0 ||
	    put_str(obj, "taxpayer_id", inv->taxpayer_id) != 0 ||
	    put_str(obj, "bank_account", inv->bank_account) != 0 ||
	    put_str(obj, "address_phone", inv->address_phone) != 0 ||
	    put_str(obj, "recipient", inv->recipient) != 0 ||
	    put_str(obj, "phone", inv->phone) != 0 ||
	    put_str(obj, "address", inv->address) != 0)
		goto fail;
	return obj;
 fail:
	json_object_put(obj);
	return NULL;
}

static struct json_object *
delivery_to_json(const struct order_delivery *d)
{
	struct json_object *obj = json_object_new_object();

	if (obj == NULL)
		return NULL;
	if (d->kind == DELIVERY_PICKUP) {
		if (put_str(obj, "kind", "pickup") != 0)
			goto fail;
		return obj;
	}
	if (put_str(obj, "kind", "mail") != 0 ||
	    put_str(obj, "address", d->address) != 0 ||
	    put_str(obj, "recipient", d->recipient) != 0 ||
	    put_str(obj, "phone", d->phone) != 0)
		goto fail;
	return obj;
 fail:
	json_object_put(obj);
	return NULL;
}

static struct json_object *
replaces_to_json(const struct order *o)
{
	struct json_object *r = json_object_new_object();

	if (r != NULL && put_str(r, "serial", o->replaces_serial) != 0) {
		json_object_put(r);
		return NULL;
	}
	return r;
}

struct json_object *
order_to_json(const struct order *o)
{
	struct json_object *obj, *renews = NULL;
	size_t i;

	if ((obj = json_object_new_object()) == NULL)
		return NULL;
	if (put_str(obj, "portal_ref", o->portal_ref) != 0 ||
	    put_str(obj, "type", order_type_name(o->type)) != 0 ||
	    put_str(obj, "account_uscc", o->account_uscc) != 0 ||
	    (o->account_name != NULL && put_str(obj, "account_name", o->account_name) != 0))
		goto fail;
	if (o->type == ORDER_RENEWAL) {
		if ((renews = json_object_new_object()) == NULL ||
		    (o->renews_uscc == NULL && put_str(renews, "serial", o->renews_serial) != 0) ||
		    (o->renews_uscc != NULL && (put_str(renews, "uscc", o->renews_uscc) != 0 ||
		    put_str(renews, "kind", item_kind_name(o->renews_kind)) != 0))) {
			json_object_put(renews);
			goto fail;
		}
		if (put_obj(obj, "renews", renews) != 0)
			goto fail;
	}
	if (o->type == ORDER_REPLACEMENT && put_obj(obj, "replaces", replaces_to_json(o)) != 0)
		goto fail;
	if (put_obj(obj, "handler", handler_to_json(&o->handler)) != 0)
		goto fail;
	for (i = 0; i < o->n_items; i++)
		if (put_obj(obj, item_kind_name(o->items[i].kind), item_to_json(&o->items[i])) != 0)
			goto fail;
	if (put_obj(obj, "invoice", invoice_to_json(&o->invoice)) != 0 ||
	    put_obj(obj, "delivery", delivery_to_json(&o->delivery)) != 0 ||
	    put_obj(obj, "amount_fen", json_object_new_int64(o->stated_amount_fen)) != 0)
		goto fail;
	return obj;
 fail:
	json_object_put(obj);
	return NULL;
}

/* ---- order files ---- */

const char *
order_json_ref(struct json_object *obj)
{
	return peek_ref(obj);
}

int
order_file_add(struct order_file *f, struct json_object *obj, size_t line, const char *label,
    const struct order_origin *orig, struct errlist *pre, time_t now)
{
	struct order_file_entry *e, *ne;
	struct order *o = NULL;
	const char *ref;
	int rc;

	ne = realloc(f->entries, (f->n + 1) * sizeof(*ne));
	if (ne == NULL)
		return UKEY_ERR_NOMEM;
	f->entries = ne;
	e = &f->entries[f->n++];
	memset(e, 0, sizeof(*e));
	e->line = line;
	if (pre != NULL) {
		e->errs = *pre;		/* the entry owns these messages now */
		memset(pre, 0, sizeof(*pre));
	}
	if (obj != NULL && (ref = peek_ref(obj)) != NULL && (e->portal_ref = strdup(ref)) == NULL)
		return UKEY_ERR_NOMEM;
	rc = obj != NULL ? order_parse(obj, now, label, orig, &o, &e->errs) : UKEY_ERR_INVAL;
	if (rc == UKEY_ERR_NOMEM)
		return rc;
	if (rc != 0 || e->errs.n > 0) {
		order_free(o);
		f->n_bad++;
		return 0;
	}
	e->order = order_to_json(o);
	order_free(o);
	return e->order != NULL ? 0 : UKEY_ERR_NOMEM;
}
