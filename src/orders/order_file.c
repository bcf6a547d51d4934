/* Order files: a JSON document or the portal's CSV order table, read order by
 * order so that an import can say which orders are good and which are not,
 * with every error of every order. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/jsontext.h"
#include "orders/order.h"
#include "orders/order_csv.h"

int
order_file_fail(struct order_file *f, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return UKEY_ERR_NOMEM;
	n = errlist_add(&f->errs, "order file: %s", msg);
	free(msg);
	return n;
}

void
order_file_free(struct order_file *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++) {
		free(f->entries[i].portal_ref);
		json_object_put(f->entries[i].order);
		errlist_clear(&f->entries[i].errs);
	}
	free(f->entries);
	errlist_clear(&f->errs);
	free(f);
}

/* The JSON form: one order object, an array of them or {"orders": [...]}. */
static int
json_read(struct order_file *f, const char *text, size_t len, time_t now)
{
	struct json_tokener *tok = NULL;
	struct json_object *root = NULL, *list, *v;
	enum json_tokener_error jerr;
	char label[32], why[320];
	size_t n, i, off, bom = 0;
	int rc;

	/* RFC 8259 lets a parser ignore a byte order mark; spreadsheet and
	 * Windows tools write one. Offsets in messages count it. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		bom = 3;
		text += bom;
		len -= bom;
	}
	if (len > INT32_MAX) {
		rc = order_file_fail(f, "larger than 2 GiB");
		goto out;
	}
	if ((tok = json_tokener_new()) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	/* Strict: no comments, no single quotes, no trailing commas; an order
	 * file is data exchanged with the portal, not a hand-edited config. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	off = json_tokener_get_parse_end(tok);
	/* A bare number at the very end may go on in json-c's view; a NUL
	 * tells it the text is over. */
	if (root == NULL && jerr == json_tokener_continue) {
		root = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		off = len;
		if (root == NULL)
			jerr = json_tokener_continue;
	}
	if (root == NULL || jerr != json_tokener_success) {
		if (jerr == json_tokener_continue)
			rc = order_file_fail(f, "JSON ends too early");
		else
			rc = order_file_fail(f, "JSON syntax error at byte %zu: %s", off + bom,
			    json_tokener_error_desc(jerr));
		goto out;
	}
	for (; off < len; off++) {
		if (!isspace((unsigned char)text[off])) {
			rc = order_file_fail(f, "text after the JSON value at byte %zu", off + bom);
			goto out;
		}
	}
	/* What json-c's strict mode still lets through: an unpaired surrogate
	 * escape (\uD800) it would store as U+FFFD, single-quoted member names,
	 * NaN. Refused for the whole file, as a syntax error is; the message
	 * names the member (byte offsets here do not count a BOM). */
	if (jsontext_check(text, len, why, sizeof(why)) != 0) {
		rc = order_file_fail(f, "JSON: %s", why);
		goto out;
	}

	if (json_object_is_type(root, json_type_array)) {
		list = root;
	} else if (json_object_is_type(root, json_type_object) &&
	    json_object_object_get_ex(root, "orders", &v)) {
		if (json_object_object_length(root) != 1 || !json_object_is_type(v, json_type_array)) {
			rc = order_file_fail(f, "{\"orders\": [...]} must hold only an array named orders");
			goto out;
		}
		list = v;
	} else if (json_object_is_type(root, json_type_object)) {
		struct json_object *wrap = json_object_new_array();

		if (wrap == NULL) {
			rc = UKEY_ERR_NOMEM;
			goto out;
		}
		if (json_object_array_add(wrap, root) != 0) {
			json_object_put(wrap);	/* root was not taken */
			rc = UKEY_ERR_NOMEM;
			goto out;
		}
		root = wrap;		/* the wrapper owns the order object now */
		list = root;
	} else {
		rc = order_file_fail(f, "must hold an order object, an array of orders or "
		    "{\"orders\": [...]}");
		goto out;
	}
	if ((n = json_object_array_length(list)) == 0) {
		rc = order_file_fail(f, "holds no orders");
		goto out;
	}
	for (i = 0; i < n; i++) {
		snprintf(label, sizeof(label), "#%zu", i + 1);
		if ((rc = order_file_add(f, json_object_array_get_idx(list, i), 0, label, NULL,
		    NULL, now)) != 0)
			goto out;
	}
	rc = 0;
 out:
	json_object_put(root);
	if (tok != NULL)
		json_tokener_free(tok);
	return rc;
}

/* Appends " #1", ", #4" or " and #7" (CSV: line numbers) to buf. */
static void
place_append(char *buf, size_t len, const struct order_file *f, size_t idx, size_t k, size_t nk)
{
	size_t used = strlen(buf);
	const char *sep = k == 0 ? "" : k + 1 == nk ? " and " : ", ";

	if (used >= len)
		return;
	if (f->format == ORDER_FILE_CSV)
		snprintf(buf + used, len - used, "%s%zu", sep, f->entries[idx].line);
	else
		snprintf(buf + used, len - used, "%s#%zu", sep, idx + 1);
}

/* The portal reference names the order in the queue: twice in one file is a
 * mistake, whichever copy was meant, so every copy is refused. */
static int
check_duplicates(struct order_file *f)
{
	size_t i, j, k, nk;
	char places[256];

	for (i = 0; i < f->n; i++) {
		const char *ref = f->entries[i].portal_ref;

		if (ref == NULL)
			continue;
		for (nk = 0, j = 0; j < f->n; j++)
			if (f->entries[j].portal_ref != NULL && strcmp(f->entries[j].portal_ref, ref) == 0)
				nk++;
		if (nk < 2)
			continue;
		places[0] = '\0';
		for (k = 0, j = 0; j < f->n; j++)
			if (f->entries[j].portal_ref != NULL && strcmp(f->entries[j].portal_ref, ref) == 0)
				place_append(places, sizeof(places), f, j, k++, nk);
		if (f->format == ORDER_FILE_CSV) {
			if (errlist_add(&f->entries[i].errs, "line %zu: order %s, portal_ref (%s): appears "
			    "more than once in the file (lines %s)", f->entries[i].line, ref,
			    ORDER_CSV_REF_COLUMN, places) != 0)
				return UKEY_ERR_NOMEM;
		} else if (errlist_add(&f->entries[i].errs, "order %s, portal_ref: appears more than "
		    "once in the file (orders %s)", ref, places) != 0) {
			return UKEY_ERR_NOMEM;
		}
		if (f->entries[i].order != NULL) {
			json_object_put(f->entries[i].order);
			f->entries[i].order = NULL;
			f->n_bad++;
		}
	}
	return 0;
}

int
order_file_read(const char *text, size_t len, enum order_file_format fmt, time_t now,
    struct order_file **out)
{
	struct order_file *f;
	int rc;

	*out = NULL;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return UKEY_ERR_NOMEM;
	f->format = fmt;
	rc = fmt == ORDER_FILE_CSV ? order_csv_read(f, text, len, now) : json_read(f, text, len, now);
	if (rc == 0)
		rc = check_duplicates(f);
	if (rc != 0) {
		order_file_free(f);
		return rc;
	}
	*out = f;
	return 0;
}

int
order_file_parse(const char *text, size_t len, time_t now, struct json_object **orders_out,
    struct errlist *errs)
{
	struct order_file *f = NULL;
	struct json_object *arr = NULL;
	size_t i, k;
	int rc;

	*orders_out = NULL;
	if ((rc = order_file_read(text, len, ORDER_FILE_JSON, now, &f)) != 0)
		return rc;
	if (f->errs.n > 0 || f->n_bad > 0) {
		rc = UKEY_ERR_INVAL;
		for (k = 0; errs != NULL && k < f->errs.n; k++)
			if (errlist_add(errs, "%s", f->errs.msgs[k]) != 0)
				rc = UKEY_ERR_NOMEM;
		for (i = 0; errs != NULL && i < f->n; i++)
			for (k = 0; k < f->entries[i].errs.n; k++)
				if (errlist_add(errs, "%s", f->entries[i].errs.msgs[k]) != 0)
					rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if ((arr = json_object_new_array()) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < f->n; i++) {
		if (json_object_array_add(arr, f->entries[i].order) != 0) {
			rc = UKEY_ERR_NOMEM;
			goto out;
		}
		f->entries[i].order = NULL;	/* the array owns it now */
	}
	*orders_out = arr;
	arr = NULL;
	rc = 0;
 out:
	json_object_put(arr);
	order_file_free(f);
	return rc;
}
