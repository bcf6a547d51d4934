/* Tests for the order model: fees from the operator manual, parsing of good
 * and bad order files with their exact messages, check-character failures
 * that a reviewer may override, the normalized form and its round trip. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/errlist.h"
#include "orders/order.h"

/* 2026-03-01 00:00:00 UTC */
#define NOW ((time_t)1772323200)

/* A complete order with only the legal-representative section ticked
 * (1 year x 3 = 600 yuan, the manual's first example). */
static const char base_order[] =
	"{\"portal_ref\": \"YNCA-2026-0042\", \"type\": \"new\","
	" \"account_uscc\": \"91530100MA6K5U5X7R\","
	" \"handler\": {\"province\": \"云南省\", \"city\": \"昆明市\", \"county\": \"五华区\","
	"   \"name\": \"张三\", \"id_number\": \"530102199003070016\", \"phone\": \"13608850398\","
	"   \"id_scan\": {\"name\": \"id.pdf\", \"type\": \"pdf\", \"sha256\":"
	"     \"e2377ae68c39006a0f2ad9efa233c10daebeb32cc365dcd2d85af47cb967d60d\"}},"
	" \"organisation\": {\"ticked\": false},"
	" \"legal_rep\": {\"ticked\": true, \"name\": \"李书琴\", \"id_number\": \"530102197805140021\","
	"   \"years\": 1, \"count\": 3},"
	" \"entrusted\": {\"ticked\": false},"
	" \"invoice\": {\"kind\": \"none\"}, \"delivery\": {\"kind\": \"pickup\"},"
	" \"amount_fen\": 60000}";

static char *
slurp(const char *rel, size_t *len)
{
	const char *dir = getenv("UKEY_SOURCE_DIR");
	char path[1024];
	FILE *f;
	char *buf;
	long n;

#ifdef UKEY_SOURCE_DIR
	if (dir == NULL)
		dir = UKEY_SOURCE_DIR;
#endif
	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int
parse_file(const char *rel, struct json_object **out, struct errlist *errs)
{
	size_t len;
	char *text = slurp(rel, &len);
	int rc = order_file_parse(text, len, NOW, out, errs);

	free(text);
	return rc;
}

/* Asserts that errs holds exactly the n messages of want, in order. */
static void
assert_msgs(const struct errlist *errs, const char *const *want, size_t n)
{
	size_t i;

	for (i = 0; i < errs->n || i < n; i++) {
		const char *got = i < errs->n ? errs->msgs[i] : "(none)";
		const char *exp = i < n ? want[i] : "(none)";

		if (strcmp(got, exp) != 0)
			fail_msg("message %zu:\n  got  %s\n  want %s", i, got, exp);
	}
}

/* No message may hold a whole identity number: look for 15 or more
 * characters in a row that could be one. */
static void
assert_no_id_numbers(const char *msg)
{
	size_t run = 0;
	const char *p;

	for (p = msg; *p != '\0'; p++) {
		run = ((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z')) ? run + 1 : 0;
		if (run >= 15)
			fail_msg("message holds an identity number: %s", msg);
	}
}

static struct json_object *
base(void)
{
	struct json_object *o = json_tokener_parse(base_order);

	assert_non_null(o);
	return o;
}

/* Sets a "section.key" (or top-level "key") of root to v, taking v. */
static void
set(struct json_object *root, const char *path, struct json_object *v)
{
	char sec[64];
	const char *dot = strchr(path, '.');
	struct json_object *obj;

	if (dot == NULL) {
		json_object_object_add(root, path, v);
		return;
	}
	snprintf(sec, sizeof(sec), "%.*s", (int)(dot - path), path);
	assert_true(json_object_object_get_ex(root, sec, &obj));
	json_object_object_add(obj, dot + 1, v);
}

static void
set_section(struct json_object *root, const char *sec, const char *json)
{
	struct json_object *v = json_tokener_parse(json);

	assert_non_null(v);
	json_object_object_add(root, sec, v);
}

/* Parses obj (taking it) and returns the rc; *o gets the order or NULL. */
static int
parse_obj(struct json_object *obj, struct order **o, struct errlist *errs)
{
	int rc = order_from_json(obj, NOW, o, errs);

	json_object_put(obj);
	return rc;
}

/* The operator manual's three worked fee examples (DOMAIN.md §1), one test each. */
static void
test_fee_manual_600_legal_rep(void **state)
{
	struct errlist errs = { 0 };
	struct order *o = NULL;

	(void)state;
	/* Legal rep 1 year x 3 = 600 yuan. */
	assert_int_equal(parse_obj(base(), &o, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(o->n_items, 1);
	assert_int_equal(o->items[0].kind, ITEM_LEGAL_REP);
	assert_int_equal(order_total_fen(o), 60000);
	assert_int_equal(order_cert_count(o), 3);
	order_free(o);
}

static void
test_fee_manual_1000_plus_entrusted(void **state)
{
	struct errlist errs = { 0 };
	struct json_object *j;
	struct order *o = NULL;

	(void)state;
	/* Plus entrusted 1 year x 2 = 1000 yuan. */
	j = base();
	set_section(j, "entrusted", "{\"ticked\": true, \"name\": \"王五\","
	    " \"id_number\": \"110105200002290013\", \"phone\": \"18987160235\","
	    " \"years\": 1, \"count\": 2}");
	set(j, "amount_fen", json_object_new_int(100000));
	assert_int_equal(parse_obj(j, &o, &errs), 0);
	assert_int_equal(o->n_items, 2);
	assert_int_equal(o->items[1].kind, ITEM_ENTRUSTED);
	assert_int_equal(order_total_fen(o), 100000);
	assert_int_equal(order_cert_count(o), 5);
	order_free(o);
}

static void
test_fee_manual_800_organisation(void **state)
{
	struct errlist errs = { 0 };
	struct json_object *j;
	struct order *o = NULL;

	(void)state;
	/* Organisation 2 years x 2 = 800 yuan. */
	j = base();
	set_section(j, "organisation", "{\"ticked\": true, \"name\": \"云南滇池科技有限公司\","
	    " \"uscc\": \"91530100MA6K5U5X7R\", \"years\": 2, \"count\": 2}");
	set(j, "legal_rep.ticked", json_object_new_boolean(0));
	set(j, "amount_fen", json_object_new_int(80000));
	assert_int_equal(parse_obj(j, &o, &errs), 0);
	assert_int_equal(o->n_items, 1);
	assert_int_equal(o->items[0].kind, ITEM_ORG);
	assert_int_equal(order_total_fen(o), 80000);
	order_free(o);
}

static void
test_fee_unticked_adds_nothing(void **state)
{
	struct errlist errs = { 0 };
	struct json_object *j;
	struct order *o = NULL;

	(void)state;
	/* An unticked section with years and count filled in adds nothing and
	 * is not validated (its ID number is even malformed here). */
	j = base();
	set_section(j, "entrusted", "{\"ticked\": false, \"name\": \"王五\","
	    " \"id_number\": \"1101\", \"phone\": \"\", \"years\": 1, \"count\": 2}");
	assert_int_equal(parse_obj(j, &o, &errs), 0);
	assert_int_equal(o->n_items, 1);
	assert_int_equal(order_total_fen(o), 60000);
	order_free(o);

	/* Stating the total with the unticked section counted is refused. */
	j = base();
	set_section(j, "entrusted", "{\"ticked\": false, \"name\": \"王五\","
	    " \"years\": 1, \"count\": 2}");
	set(j, "amount_fen", json_object_new_int(100000));
	assert_int_equal(parse_obj(j, &o, &errs), UKEY_ERR_INVAL);
	assert_null(o);
	{
		static const char *const want[] = {
			"order YNCA-2026-0042, amount_fen: states 1000.00 yuan, but the ticked "
			"sections come to 600.00 yuan (200 yuan per certificate-year)",
		};
		assert_msgs(&errs, want, 1);
	}
	errlist_clear(&errs);
}

static void
test_all_sections_max(void **state)
{
	struct errlist errs = { 0 };
	struct json_object *j = base();
	struct order *o = NULL;

	(void)state;
	set_section(j, "organisation", "{\"ticked\": true, \"name\": \"云南滇池科技有限公司\","
	    " \"uscc\": \"91530100MA6K5U5X7R\", \"years\": 5, \"count\": 50}");
	set(j, "legal_rep.years", json_object_new_int(5));
	set(j, "legal_rep.count", json_object_new_int(50));
	set_section(j, "entrusted", "{\"ticked\": true, \"name\": \"王五\","
	    " \"id_number\": \"110105200002290013\", \"phone\": \"18987160235\","
	    " \"years\": 5, \"count\": 50}");
	/* 3 x 5 x 50 x 200 yuan = 150000 yuan */
	set(j, "amount_fen", json_object_new_int64(15000000));
	assert_int_equal(parse_obj(j, &o, &errs), 0);
	assert_int_equal(o->n_items, 3);
	assert_int_equal(o->items[0].kind, ITEM_ORG);
	assert_int_equal(o->items[1].kind, ITEM_LEGAL_REP);
	assert_int_equal(o->items[2].kind, ITEM_ENTRUSTED);
	assert_int_equal(order_total_fen(o), INT64_C(15000000));
	assert_int_equal(order_cert_count(o), 150);
	order_free(o);
	errlist_clear(&errs);
}

static void
test_fen_format(void **state)
{
	char buf[32];

	(void)state;
	order_fen_format(160000, buf, sizeof(buf));
	assert_string_equal(buf, "1600.00");
	order_fen_format(5, buf, sizeof(buf));
	assert_string_equal(buf, "0.05");
	order_fen_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "0.00");
	order_fen_format(-150, buf, sizeof(buf));
	assert_string_equal(buf, "-1.50");
	order_fen_format(INT64_MIN, buf, sizeof(buf));
	assert_string_equal(buf, "-92233720368547758.08");
	order_fen_format(INT64_MAX, buf, sizeof(buf));
	assert_string_equal(buf, "92233720368547758.07");
	order_fen_format(123456, buf, 4);
	assert_string_equal(buf, "123");
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(item_kind_name(ITEM_ORG), "organisation");
	assert_string_equal(item_kind_name(ITEM_LEGAL_REP), "legal_rep");
	assert_string_equal(item_kind_name(ITEM_ENTRUSTED), "entrusted");
	assert_string_equal(order_type_name(ORDER_NEW), "new");
	assert_string_equal(order_type_name(ORDER_RENEWAL), "renewal");
}

static void
test_example_file(void **state)
{
	struct errlist errs = { 0 };
	struct json_object *arr = NULL;
	struct order *o = NULL;
	unsigned certs = 0;
	size_t i, j;

	(void)state;
	assert_int_equal(parse_file("examples/orders-sample.json", &arr, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(json_object_array_length(arr), 2);
	for (i = 0; i < 2; i++) {
		assert_int_equal(order_from_json(json_object_array_get_idx(arr, i), NOW, &o, &errs), 0);
		assert_int_equal(o->n_checksum_failures, 0);
		assert_int_equal(order_total_fen(o), o->stated_amount_fen);
		certs += order_cert_count(o);
		for (j = 0; j < o->n_items; j++) {
			/* Every item names its profile explicitly, and it matches
			 * the default of its kind. */
			assert_non_null(o->items[j].cert_profile);
			assert_string_equal(o->items[j].cert_profile, order_item_profile(&o->items[j]));
		}
		if (i == 0) {
			assert_int_equal(o->n_items, 2);
			assert_int_equal(o->items[0].count, 2);
			assert_int_equal(o->invoice.kind, INVOICE_MAIL);
		}
		if (i == 1) {
			assert_string_equal(o->handler.phone, "13987251146");
			assert_string_equal(o->delivery.phone, "0872-2123456");
		}
		order_free(o);
		o = NULL;
	}
	/* A demo cuts one token per certificate. */
	assert_true(certs >= 5 && certs <= 8);
	json_object_put(arr);
	arr = NULL;
	/* renewals are shipped apart: their units wait for the token they renew */
	assert_int_equal(parse_file("examples/orders-renewal.json", &arr, &errs), 0);
	assert_int_equal(json_object_array_length(arr), 1);
	assert_int_equal(order_from_json(json_object_array_get_idx(arr, 0), NOW, &o, &errs), 0);
	assert_int_equal(o->type, ORDER_RENEWAL);
	assert_string_equal(o->renews_serial, "4f3a9c0e12d7b5a8c601");
	assert_string_equal(o->handler.phone, "18987160235");
	order_free(o);
	json_object_put(arr);
	errlist_clear(&errs);
}

/* A byte order mark before the JSON is skipped; offsets in messages count it. */
static void
test_file_bom(void **state)
{
	struct errlist errs = { 0 };
	struct json_object *arr = NULL;
	size_t len;
	char *text = slurp("tests/data/orders/good-single.json", &len), *with;

	(void)state;
	assert_non_null(text);
	with = malloc(len + 3);
	assert_non_null(with);
	memcpy(with, "\xef\xbb\xbf", 3);
	memcpy(with + 3, text, len);
	assert_int_equal(order_file_parse(with, len + 3, NOW, &arr, &errs), 0);
	assert_int_equal(json_object_array_length(arr), 1);
	json_object_put(arr);
	arr = NULL;
	memcpy(with + 3, "{,", 2);
	assert_int_equal(order_file_parse(with, len + 3, NOW, &arr, &errs), UKEY_ERR_INVAL);
	assert_null(arr);
	assert_true(errs.n >= 1);
	assert_non_null(strstr(errs.msgs[0], "at byte 4"));
	errlist_clear(&errs);
	free(with);
	free(text);
}

static void
test_good_single(void **state)
{
	struct errlist errs = { 0 };
	struct json_object *arr = NULL;
	struct order *o = NULL;

	(void)state;
	assert_int_equal(parse_file("tests/data/orders/good-single.json", &arr, &errs), 0);
	assert_int_equal(json_object_array_length(arr), 1);
	assert_int_equal(order_from_json(json_object_array_get_idx(arr, 0), NOW, &o, &errs), 0);
	assert_string_equal(o->portal_ref, "YNCA-2026-0042");
	assert_int_equal(o->type, ORDER_NEW);
	assert_null(o->renews_serial);
	assert_string_equal(o->handler.county, "盘龙区");
	assert_string_equal(o->handler.phone, "13608850398");
	assert_string_equal(o->handler.id_scan.name, "id.PDF");
	assert_string_equal(o->handler.id_scan.type, "pdf");
	assert_string_equal(o->handler.id_scan.sha256,
	    "e2377ae68c39006a0f2ad9efa233c10daebeb32cc365dcd2d85af47cb967d60d");
	assert_int_equal(o->n_items, 1);
	assert_string_equal(o->items[0].name, "李书琴");
	assert_string_equal(o->items[0].id_number, "11010519491231002X");
	assert_null(o->items[0].cert_profile);
	assert_string_equal(order_item_profile(&o->items[0]), "legal-rep");
	assert_int_equal(o->items[0].n_attachments, 0);
	assert_int_equal(o->invoice.kind, INVOICE_NONE);
	assert_int_equal(o->delivery.kind, DELIVERY_PICKUP);
	assert_int_equal(order_total_fen(o), 60000);
	order_free(o);
	json_object_put(arr);
	errlist_clear(&errs);
}

static void
test_checksum_failures_are_overridable(void **state)
{
	static const char *const want[] = {
		"order YNCA-2026-0050, account_uscc: check character should be 'R', not '6' "
		"(GB 32100-2015)",
		"order YNCA-2026-0050, organisation.uscc: check character should be 'R', not '6' "
		"(GB 32100-2015)",
		"order YNCA-2026-0050, legal_rep.id_number: check character should be 6, not 5 "
		"(GB 11643)",
	};
	struct errlist errs = { 0 }, got = { 0 };
	struct json_object *arr = NULL;
	struct order *o = NULL;
	size_t i;

	(void)state;
	assert_int_equal(parse_file("tests/data/orders/good-array.json", &arr, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(json_object_array_length(arr), 2);

	assert_int_equal(order_from_json(json_object_array_get_idx(arr, 0), NOW, &o, &errs), 0);
	assert_string_equal(o->account_uscc, "91350211M0000XUF46");
	/* The number is kept as given so that the reviewer sees what was filed. */
	assert_string_equal(o->items[1].id_number, "530102199003070015");
	for (i = 0; i < o->n_checksum_failures; i++) {
		assert_no_id_numbers(o->checksum_failures[i]);
		assert_int_equal(errlist_add(&got, "%s", o->checksum_failures[i]), 0);
	}
	assert_msgs(&got, want, 3);
	assert_int_equal(order_total_fen(o), 100000);
	order_free(o);

	assert_int_equal(order_from_json(json_object_array_get_idx(arr, 1), NOW, &o, &errs), 0);
	assert_int_equal(o->n_checksum_failures, 0);
	assert_int_equal(o->type, ORDER_RENEWAL);
	assert_string_equal(o->renews_serial, "0a1b2c3d4e5f");
	assert_string_equal(o->items[0].cert_profile, "entrusted-sm2");
	assert_string_equal(o->items[0].phone, "18987160235");
	assert_string_equal(o->invoice.phone, "0871-65385613");
	assert_null(o->invoice.bank_account);
	assert_string_equal(o->delivery.recipient, "小翠");
	order_free(o);

	assert_int_equal(errs.n, 0);
	json_object_put(arr);
	errlist_clear(&got);
}

static void
test_bad_fields(void **state)
{
	static const char *const want[] = {
		"order YNCA-2026-0042, priority: unknown field",
		"order YNCA-2026-0042, handler.city: must not be empty",
		"order YNCA-2026-0042, handler.name: must not contain control characters",
		"order YNCA-2026-0042, handler.id_number: birth date (characters 7-14) is not a "
		"real calendar date (GB 11643)",
		"order YNCA-2026-0042, handler.phone: must be a mainland mobile number: 11 digits "
		"1[3-9]xxxxxxxxx, optionally after +86 or 0086",
		"order YNCA-2026-0042, handler.id_scan.type: must be one of pdf, gif, png, jpeg, jpg",
		"order YNCA-2026-0042, handler.id_scan.sha256: must be 64 hexadecimal digits "
		"(a SHA-256 digest)",
		"order YNCA-2026-0042, organisation.uscc: must equal account_uscc, the code of the "
		"portal account that filed the order",
		"order YNCA-2026-0042, organisation.years: must be an integer from 1 to 5",
		"order YNCA-2026-0042, organisation.cert_profile: must be a profile name: 1 to 64 "
		"characters of a-z 0-9 . _ -",
		"order YNCA-2026-0042, legal_rep.count: must be an integer from 1 to 50",
		"order YNCA-2026-0042, entrusted.ticked: must be true or false",
		"order YNCA-2026-0042, invoice.taxpayer_id: must be 15 to 20 digits and upper-case "
		"letters",
		"order YNCA-2026-0042, invoice.phone: must be a mobile number 1[3-9]xxxxxxxxx "
		"(optionally after +86 or 0086) or a landline with its area code, e.g. 0871-65385613",
		"order YNCA-2026-0042, invoice.address: required field is missing",
		"order YNCA-2026-0042, delivery.kind: must be \"pickup\" or \"mail\"",
		"order YNCA-2026-0042, amount_fen: must be an integer",
	};
	struct errlist errs = { 0 };
	struct json_object *arr = (struct json_object *)1;
	size_t i;

	(void)state;
	assert_int_equal(parse_file("tests/data/orders/bad-fields.json", &arr, &errs), UKEY_ERR_INVAL);
	assert_null(arr);
	assert_msgs(&errs, want, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < errs.n; i++)
		assert_no_id_numbers(errs.msgs[i]);
	errlist_clear(&errs);
}

static void
test_bad_amount_and_duplicates(void **state)
{
	static const char *const want[] = {
		"order YNCA-2026-0060, amount_fen: states 1000.00 yuan, but the ticked sections "
		"come to 600.00 yuan (200 yuan per certificate-year)",
		"order YNCA-2026-0060, portal_ref: appears more than once in the file "
		"(orders #1 and #2)",
		"order YNCA-2026-0060, renews: required field is missing",
		"order YNCA-2026-0060: no certificate section is ticked; tick at least one of "
		"organisation, legal_rep, entrusted",
		"order YNCA-2026-0060, portal_ref: appears more than once in the file "
		"(orders #1 and #2)",
		"order #3, portal_ref: required field is missing",
		"order #3, account_uscc: required field is missing",
		"order #3, handler: required field is missing",
		"order #3: no certificate section is ticked; tick at least one of "
		"organisation, legal_rep, entrusted",
		"order #3, invoice: required field is missing",
		"order #3, delivery: required field is missing",
		"order #3, amount_fen: required field is missing",
	};
	struct errlist errs = { 0 };
	struct json_object *arr = NULL;

	(void)state;
	assert_int_equal(parse_file("tests/data/orders/bad-amount.json", &arr, &errs), UKEY_ERR_INVAL);
	assert_null(arr);
	assert_msgs(&errs, want, sizeof(want) / sizeof(want[0]));
	errlist_clear(&errs);
}

static void
expect_file_error(const char *text, const char *want)
{
	struct errlist errs = { 0 };
	struct json_object *arr = NULL;

	assert_int_equal(order_file_parse(text, strlen(text), NOW, &arr, &errs), UKEY_ERR_INVAL);
	assert_null(arr);
	assert_msgs(&errs, &want, 1);
	errlist_clear(&errs);
}

/* A copy of base_order with the handler's name "张三" replaced by name (JSON
 * text as it appears between the quotes); the caller frees it. */
static char *
with_handler_name(const char *name)
{
	const char *at = strstr(base_order, "\"张三\"");
	char *out;

	assert_non_null(at);
	assert_true(asprintf(&out, "%.*s\"%s\"%s", (int)(at - base_order), base_order, name,
	    at + strlen("\"张三\"")) > 0);
	return out;
}

/* json-c stores an unpaired surrogate escape as U+FFFD: the text is refused
 * before that, naming the member; a proper pair and a literal U+FFFD pass. */
static void
test_surrogate_escapes(void **state)
{
	struct errlist errs = { 0 };
	struct json_object *arr = NULL;
	char *text, want[256];
	size_t at;

	(void)state;
	text = with_handler_name("张\\ud800三");
	at = (size_t)(strstr(text, "\\ud800") - text);
	snprintf(want, sizeof(want), "order file: JSON: handler.name: \\uD800 at byte %zu is an "
	    "unpaired UTF-16 surrogate (a high surrogate without a low one after it)", at);
	expect_file_error(text, want);
	free(text);

	text = with_handler_name("\\uDC00");
	at = (size_t)(strstr(text, "\\uDC00") - text);
	snprintf(want, sizeof(want), "order file: JSON: handler.name: \\uDC00 at byte %zu is an "
	    "unpaired UTF-16 surrogate (a low surrogate without a high one before it)", at);
	expect_file_error(text, want);
	free(text);

	/* a high surrogate followed by an escape that is not a low one */
	expect_file_error("[{\"a\": 1}, {\"b\": [\"x\", \"\\ud83d\\u0041\"]}]",
	    "order file: JSON: [1].b[1]: \\uD83D at byte 24 is an unpaired UTF-16 surrogate "
	    "(a high surrogate without a low one after it)");
	expect_file_error("{\"orders\": [{\"\\udfff\": 1}]}",
	    "order file: JSON: orders[0].(member name): \\uDFFF at byte 14 is an unpaired "
	    "UTF-16 surrogate (a low surrogate without a high one before it)");
	/* an escaped backslash before u is no escape */
	text = with_handler_name("张\\\\ud800");
	assert_int_equal(order_file_parse(text, strlen(text), NOW, &arr, &errs), 0);
	json_object_put(arr);
	free(text);

	text = with_handler_name("张\\ud83d\\ude00");
	assert_int_equal(order_file_parse(text, strlen(text), NOW, &arr, &errs), 0);
	assert_string_equal(json_object_get_string(json_object_object_get(json_object_object_get(
	    json_object_array_get_idx(arr, 0), "handler"), "name")), "张\xf0\x9f\x98\x80");
	json_object_put(arr);
	free(text);

	/* full-width forms in an identity number: counted in characters */
	{
		const char *uscc_at = strstr(base_order, "91530100MA6K5U5X7R");
		char *fw;

		assert_true(asprintf(&fw, "%.*s９１５３０１００ＭＡ６Ｋ５Ｕ５Ｘ７Ｒ%s",
		    (int)(uscc_at - base_order), base_order, uscc_at + 18) > 0);
		expect_file_error(fw, "order YNCA-2026-0042, account_uscc: character 1 '９' is "
		    "full-width (U+FF19): only ASCII is allowed, write '9' (GB 32100-2015)");
		free(fw);
	}

	text = with_handler_name("张\xef\xbf\xbd");	/* U+FFFD written as such */
	assert_int_equal(order_file_parse(text, strlen(text), NOW, &arr, &errs), 0);
	json_object_put(arr);
	free(text);
	assert_int_equal(errs.n, 0);
}

static void
test_file_shapes(void **state)
{
	struct errlist errs = { 0 };
	struct json_object *arr = NULL;
	char *wrapped;

	(void)state;
	assert_int_equal(parse_file("tests/data/orders/bad-syntax.json", &arr, &errs), UKEY_ERR_INVAL);
	assert_null(arr);
	{
		static const char *const want[] = {
			"order file: JSON syntax error at byte 25: unexpected character",
		};
		assert_msgs(&errs, want, 1);
	}
	errlist_clear(&errs);
	assert_int_equal(parse_file("tests/data/orders/bad-empty.json", &arr, &errs), UKEY_ERR_INVAL);
	{
		static const char *const want[] = { "order file: holds no orders" };
		assert_msgs(&errs, want, 1);
	}
	errlist_clear(&errs);

	expect_file_error("42", "order file: must hold an order object, an array of orders or "
	    "{\"orders\": [...]}");
	expect_file_error("[1]", "order #1: must be a JSON object");
	expect_file_error("{\"orders\": {}}", "order file: {\"orders\": [...]} must hold only an "
	    "array named orders");
	expect_file_error("{\"orders\": [], \"more\": 1}", "order file: {\"orders\": [...]} must "
	    "hold only an array named orders");
	expect_file_error("[] x", "order file: JSON syntax error at byte 3: unexpected character");
	expect_file_error("[{\"portal_ref\": ", "order file: JSON ends too early");
	expect_file_error("", "order file: JSON ends too early");
	/* Strict JSON: no comments. */
	expect_file_error("/* c */ []", "order file: JSON syntax error at byte 0: unexpected character");

	/* The same order as a bare object and wrapped in {"orders": [...]}. */
	assert_int_equal(order_file_parse(base_order, strlen(base_order), NOW, &arr, &errs), 0);
	assert_int_equal(json_object_array_length(arr), 1);
	json_object_put(arr);
	assert_true(asprintf(&wrapped, "{\"orders\": [%s]}\n\n", base_order) > 0);
	assert_int_equal(order_file_parse(wrapped, strlen(wrapped), NOW, &arr, &errs), 0);
	assert_int_equal(json_object_array_length(arr), 1);
	json_object_put(arr);
	free(wrapped);
	/* errs may be NULL: the result is the same. */
	assert_int_equal(order_file_parse("[1]", 3, NOW, &arr, NULL), UKEY_ERR_INVAL);
	assert_null(arr);
	assert_int_equal(errs.n, 0);
}

static void
expect_order_errors(struct json_object *j, const char *const *want, size_t n)
{
	struct errlist errs = { 0 };
	struct order *o = (struct order *)1;
	size_t i;

	assert_int_equal(parse_obj(j, &o, &errs), UKEY_ERR_INVAL);
	assert_null(o);
	assert_msgs(&errs, want, n);
	for (i = 0; i < errs.n; i++)
		assert_no_id_numbers(errs.msgs[i]);
	errlist_clear(&errs);
}

#define EXPECT1(j, msg) do { \
	static const char *const w_[] = { msg }; \
	expect_order_errors((j), w_, 1); \
} while (0)

static void
test_field_rules(void **state)
{
	struct json_object *j;
	char name[64 * 3 + 8];
	struct order *o = NULL;
	struct errlist errs = { 0 };
	int i;

	(void)state;
	/* 64 Chinese characters (192 bytes) fit CN; 65 do not. */
	name[0] = '\0';
	for (i = 0; i < 64; i++)
		strcat(name, "滇");
	j = base();
	set(j, "legal_rep.name", json_object_new_string(name));
	assert_int_equal(parse_obj(j, &o, &errs), 0);
	order_free(o);
	strcat(name, "池");
	j = base();
	set(j, "legal_rep.name", json_object_new_string(name));
	EXPECT1(j, "order YNCA-2026-0042, legal_rep.name: is 65 characters long, at most 64 "
	    "allowed (RFC 5280 upper bound for CN)");
	j = base();
	set_section(j, "organisation", "{\"ticked\": true, \"uscc\": \"91530100MA6K5U5X7R\","
	    " \"years\": 1, \"count\": 1}");
	set(j, "organisation.name", json_object_new_string(name));
	set(j, "amount_fen", json_object_new_int(80000));
	EXPECT1(j, "order YNCA-2026-0042, organisation.name: is 65 characters long, at most 64 "
	    "allowed (RFC 5280 upper bound for O)");

	/* Bytes that are not UTF-8, an escaped NUL, a C1 control. */
	j = base();
	set(j, "legal_rep.name", json_object_new_string("\xE6\x9D"));
	EXPECT1(j, "order YNCA-2026-0042, legal_rep.name: is not valid UTF-8");
	j = base();
	set(j, "legal_rep.name", json_object_new_string_len("李\0四", 7));
	EXPECT1(j, "order YNCA-2026-0042, legal_rep.name: must not contain control characters");
	j = base();
	set(j, "legal_rep.name", json_object_new_string("李\xC2\x85四"));
	EXPECT1(j, "order YNCA-2026-0042, legal_rep.name: must not contain control characters");
	j = base();
	set(j, "legal_rep.name", json_object_new_int(7));
	EXPECT1(j, "order YNCA-2026-0042, legal_rep.name: must be a string");

	/* An escaped NUL must not hide a tail behind a valid-looking code. */
	j = base();
	set(j, "account_uscc", json_object_new_string_len("91530100MA6K5U5X7R\0x", 20));
	EXPECT1(j, "order YNCA-2026-0042, account_uscc: must not contain control characters");

	/* Identity-number format errors are hard errors. */
	j = base();
	set(j, "legal_rep.id_number", json_object_new_string("53010219780514002"));
	EXPECT1(j, "order YNCA-2026-0042, legal_rep.id_number: must be 18 characters, not 17 "
	    "(GB 11643)");
	j = base();
	set(j, "account_uscc", json_object_new_string("91530100MA6K5U5X7"));
	EXPECT1(j, "order YNCA-2026-0042, account_uscc: must be 18 characters, not 17 "
	    "(GB 32100-2015)");
	j = base();
	set(j, "legal_rep.id_number", json_object_new_string("530102202803140021"));
	EXPECT1(j, "order YNCA-2026-0042, legal_rep.id_number: birth date (characters 7-14) "
	    "is in the future (GB 11643)");

	/* A person's optional e-mail address: validated, domain in lower case;
	 * the organisation section has none. */
	j = base();
	set(j, "legal_rep.email", json_object_new_string("li.shuqin@Dianchi-Tech.CN"));
	o = NULL;
	assert_int_equal(parse_obj(j, &o, &errs), 0);
	assert_string_equal(o->items[0].email, "li.shuqin@dianchi-tech.cn");
	j = order_to_json(o);
	assert_string_equal(json_object_get_string(json_object_object_get(
	    json_object_object_get(j, "legal_rep"), "email")), "li.shuqin@dianchi-tech.cn");
	json_object_put(j);
	order_free(o);
	j = base();
	set(j, "legal_rep.email", json_object_new_string(""));
	o = NULL;
	assert_int_equal(parse_obj(j, &o, &errs), 0);
	assert_null(o->items[0].email);
	order_free(o);
	j = base();
	set(j, "legal_rep.email", json_object_new_string("li.shuqin@dianchi"));
	EXPECT1(j, "order YNCA-2026-0042, legal_rep.email: the domain after '@' must have at "
	    "least two labels (example.cn)");
	j = base();
	set_section(j, "entrusted", "{\"ticked\": true, \"name\": \"王五\","
	    " \"id_number\": \"110105200002290013\", \"phone\": \"18987160235\","
	    " \"email\": \"王五@example.cn\", \"years\": 1, \"count\": 2}");
	set(j, "amount_fen", json_object_new_int(100000));
	EXPECT1(j, "order YNCA-2026-0042, entrusted.email: the part before '@' may hold letters, "
	    "digits, !#$%&'*+/=?^_`{|}~- and single inner dots only (ASCII)");
	j = base();
	set_section(j, "organisation", "{\"ticked\": false, \"email\": \"a@example.cn\"}");
	EXPECT1(j, "order YNCA-2026-0042, organisation.email: unknown field");

	/* Entrusted persons need a mobile number. */
	j = base();
	set_section(j, "entrusted", "{\"ticked\": true, \"name\": \"王五\","
	    " \"id_number\": \"110105200002290013\", \"years\": 1, \"count\": 2}");
	set(j, "amount_fen", json_object_new_int(100000));
	EXPECT1(j, "order YNCA-2026-0042, entrusted.phone: required field is missing");

	/* Unknown keys, also in an unticked section; odd key names not echoed. */
	j = base();
	set_section(j, "organisation", "{\"ticked\": false, \"yeras\": 2}");
	EXPECT1(j, "order YNCA-2026-0042, organisation.yeras: unknown field");
	j = base();
	set(j, "handler.530102199003070016 身份证", json_object_new_int(1));
	EXPECT1(j, "order YNCA-2026-0042, handler: holds a field whose name is not a known "
	    "field name");
	j = base();
	set_section(j, "invoice", "{\"kind\": \"none\", \"unit_name\": \"x\"}");
	EXPECT1(j, "order YNCA-2026-0042, invoice.unit_name: unknown field");
	j = base();
	set(j, "legal_rep.years", json_object_new_string("1"));
	EXPECT1(j, "order YNCA-2026-0042, legal_rep.years: must be an integer");
	j = base();
	set(j, "legal_rep.ticked", json_object_new_int(1));
	EXPECT1(j, "order YNCA-2026-0042, legal_rep.ticked: must be true or false");
	j = base();
	set(j, "legal_rep.ticked", json_object_new_boolean(0));
	EXPECT1(j, "order YNCA-2026-0042: no certificate section is ticked; tick at least one "
	    "of organisation, legal_rep, entrusted");

	/* Attachments. */
	j = base();
	set(j, "legal_rep.attachments", json_object_new_string("a.pdf"));
	EXPECT1(j, "order YNCA-2026-0042, legal_rep.attachments: must be an array");
	j = base();
	set(j, "legal_rep.attachments", json_tokener_parse("[{\"name\": \"a.pdf\", \"type\": "
	    "\"pdf\", \"sha256\": \"e2377ae68c39006a0f2ad9efa233c10daebeb32cc365dcd2d85af47cb967d60d\"},"
	    " {\"name\": \"b.tiff\", \"type\": \"tiff\", \"sha256\": "
	    "\"g2377ae68c39006a0f2ad9efa233c10daebeb32cc365dcd2d85af47cb967d60d\"}, 5]"));
	{
		static const char *const want[] = {
			"order YNCA-2026-0042, legal_rep.attachments[1].type: must be one of pdf, "
			"gif, png, jpeg, jpg",
			"order YNCA-2026-0042, legal_rep.attachments[1].sha256: must be 64 "
			"hexadecimal digits (a SHA-256 digest)",
			"order YNCA-2026-0042, legal_rep.attachments[2]: must be an object with "
			"name, type and sha256",
		};
		expect_order_errors(j, want, 3);
	}

	/* Renewals name the certificate they renew; new orders do not. */
	j = base();
	set(j, "type", json_object_new_string("renewal"));
	set(j, "renews", json_tokener_parse("{\"serial\": \"12:34\"}"));
	EXPECT1(j, "order YNCA-2026-0042, renews.serial: must be the certificate serial number "
	    "in hexadecimal, 1 to 40 digits");
	j = base();
	set(j, "renews", json_tokener_parse("{\"serial\": \"1234\"}"));
	EXPECT1(j, "order YNCA-2026-0042, renews: only a renewal order names a certificate to "
	    "renew");
	j = base();
	set(j, "type", json_object_new_string("续费"));
	EXPECT1(j, "order YNCA-2026-0042, type: must be \"new\", \"renewal\" or \"replacement\"");

	/* A portal reference that cannot name the order is not echoed. */
	j = base();
	set(j, "portal_ref", json_object_new_string("YNCA 42\n"));
	EXPECT1(j, "order (without portal_ref), portal_ref: must be 1 to 64 characters of "
	    "A-Z a-z 0-9 . _ -");

	/* Invoice and delivery details complete for the chosen kind. */
	j = base();
	set_section(j, "delivery", "{\"kind\": \"mail\", \"address\": \"昆明市\"}");
	{
		static const char *const want[] = {
			"order YNCA-2026-0042, delivery.recipient: required field is missing",
			"order YNCA-2026-0042, delivery.phone: required field is missing",
		};
		expect_order_errors(j, want, 2);
	}
	j = base();
	set_section(j, "invoice", "{}");
	EXPECT1(j, "order YNCA-2026-0042, invoice.kind: required field is missing");

	/* Not an object at all. */
	assert_int_equal(order_from_json(NULL, NOW, &o, NULL), UKEY_ERR_INVAL);
	assert_null(o);
	errlist_clear(&errs);
}

static void
test_roundtrip(void **state)
{
	static const char *const files[] = {
		"examples/orders-sample.json",
		"examples/orders-renewal.json",
		"examples/orders-replacement.json",
		"tests/data/orders/good-single.json",
		"tests/data/orders/good-array.json",
	};
	struct errlist errs = { 0 };
	struct json_object *arr, *again;
	struct order *o;
	size_t f, i;

	(void)state;
	for (f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		arr = NULL;
		assert_int_equal(parse_file(files[f], &arr, &errs), 0);
		for (i = 0; i < json_object_array_length(arr); i++) {
			struct json_object *norm = json_object_array_get_idx(arr, i);

			o = NULL;
			assert_int_equal(order_from_json(norm, NOW, &o, &errs), 0);
			again = order_to_json(o);
			assert_non_null(again);
			assert_string_equal(json_object_to_json_string(again),
			    json_object_to_json_string(norm));
			json_object_put(again);
			order_free(o);
		}
		json_object_put(arr);
	}
	assert_int_equal(errs.n, 0);
	order_free(NULL);
}

/* A renewal may name its certificate by the organisation and the kind
 * instead of the serial; the normalized form keeps that name. */
static void
test_renews_by_org(void **state)
{
	struct errlist errs = { 0 };
	struct json_object *j, *back;
	struct order *o = NULL, *o2 = NULL;

	(void)state;
	j = base();
	set(j, "type", json_object_new_string("renewal"));
	set(j, "renews", json_tokener_parse("{\"uscc\": \"91530100MA6K5U5X7R\","
	    " \"kind\": \"legal_rep\"}"));
	assert_int_equal(parse_obj(j, &o, &errs), 0);
	assert_null(o->renews_serial);
	assert_string_equal(o->renews_uscc, "91530100MA6K5U5X7R");
	assert_int_equal(o->renews_kind, ITEM_LEGAL_REP);
	back = order_to_json(o);
	assert_non_null(back);
	assert_string_equal(json_object_to_json_string_ext(json_object_object_get(back, "renews"),
	    JSON_C_TO_STRING_PLAIN), "{\"uscc\":\"91530100MA6K5U5X7R\",\"kind\":\"legal_rep\"}");
	assert_int_equal(order_from_json(back, NOW, &o2, &errs), 0);
	assert_string_equal(o2->renews_uscc, o->renews_uscc);
	assert_int_equal(o2->renews_kind, o->renews_kind);
	json_object_put(back);
	order_free(o);
	order_free(o2);

	j = base();
	set(j, "type", json_object_new_string("renewal"));
	set(j, "renews", json_tokener_parse("{\"uscc\": \"91110000600037341L\","
	    " \"kind\": \"legal_rep\"}"));
	EXPECT1(j, "order YNCA-2026-0042, renews.uscc: must equal account_uscc: an organisation"
	    " renews only its own certificates");
	j = base();
	set(j, "type", json_object_new_string("renewal"));
	set(j, "renews", json_tokener_parse("{\"uscc\": \"91530100MA6K5U5X7R\","
	    " \"kind\": \"seal\"}"));
	EXPECT1(j, "order YNCA-2026-0042, renews.kind: must be one of organisation, legal_rep,"
	    " entrusted");
	j = base();
	set(j, "type", json_object_new_string("renewal"));
	set(j, "renews", json_tokener_parse("{\"serial\": \"12\", \"kind\": \"legal_rep\"}"));
	EXPECT1(j, "order YNCA-2026-0042, renews: name the certificate either by serial or by uscc"
	    " and kind, not both");
	j = base();
	set(j, "type", json_object_new_string("renewal"));
	set(j, "renews", json_tokener_parse("{\"kind\": \"legal_rep\"}"));
	EXPECT1(j, "order YNCA-2026-0042, renews.uscc: required field is missing");
}

/* A replacement (补办) names the certificate it replaces by serial; its
 * amount is the station's fee, checked at import, not the 200 yuan rule. */
static void
test_replaces(void **state)
{
	struct errlist errs = { 0 };
	struct json_object *j, *back;
	struct order *o = NULL;
	char why[256];

	(void)state;
	j = base();
	set(j, "type", json_object_new_string("replacement"));
	set(j, "replaces", json_tokener_parse("{\"serial\": \"0A1B\"}"));
	set(j, "amount_fen", json_object_new_int64(5000));
	assert_int_equal(parse_obj(j, &o, &errs), 0);
	assert_int_equal(o->type, ORDER_REPLACEMENT);
	assert_string_equal(o->replaces_serial, "0a1b");
	assert_null(o->renews_serial);
	assert_int_equal(order_total_fen(o), 5000);
	back = order_to_json(o);
	assert_non_null(back);
	assert_string_equal(json_object_to_json_string_ext(json_object_object_get(back,
	    "replaces"), JSON_C_TO_STRING_PLAIN), "{\"serial\":\"0a1b\"}");
	json_object_put(back);
	/* the fee: the station's, per certificate */
	assert_int_equal(order_replacement_fee_check(o, 5000 / (int64_t)order_cert_count(o), why,
	    sizeof(why)), order_cert_count(o) == 1 ? 0 : UKEY_ERR_INVAL);
	assert_int_equal(order_replacement_fee_check(o, 20000, why, sizeof(why)), UKEY_ERR_INVAL);
	assert_non_null(strstr(why, "amount_fen: states 50.00 yuan, but a replacement costs"));
	order_free(o);

	j = base();
	set(j, "type", json_object_new_string("replacement"));
	EXPECT1(j, "order YNCA-2026-0042, replaces: required field is missing");
	j = base();
	set(j, "type", json_object_new_string("replacement"));
	set(j, "replaces", json_tokener_parse("{\"serial\": \"xyz\"}"));
	EXPECT1(j, "order YNCA-2026-0042, replaces.serial: must be the certificate serial number"
	    " in hexadecimal, 1 to 40 digits");
	j = base();
	set(j, "type", json_object_new_string("replacement"));
	set(j, "replaces", json_tokener_parse("{\"serial\": \"12\", \"reason\": \"lost\"}"));
	EXPECT1(j, "order YNCA-2026-0042, replaces.reason: unknown field");
	j = base();
	set(j, "replaces", json_tokener_parse("{\"serial\": \"12\"}"));
	EXPECT1(j, "order YNCA-2026-0042, replaces: only a replacement order names a certificate"
	    " to replace");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fee_manual_600_legal_rep),
		cmocka_unit_test(test_fee_manual_1000_plus_entrusted),
		cmocka_unit_test(test_fee_manual_800_organisation),
		cmocka_unit_test(test_fee_unticked_adds_nothing),
		cmocka_unit_test(test_renews_by_org),
		cmocka_unit_test(test_replaces),
		cmocka_unit_test(test_file_bom),
		cmocka_unit_test(test_all_sections_max),
		cmocka_unit_test(test_fen_format),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_example_file),
		cmocka_unit_test(test_good_single),
		cmocka_unit_test(test_checksum_failures_are_overridable),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_bad_amount_and_duplicates),
		cmocka_unit_test(test_file_shapes),
		cmocka_unit_test(test_surrogate_escapes),
		cmocka_unit_test(test_field_rules),
		cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
