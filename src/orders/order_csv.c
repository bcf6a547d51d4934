/* The portal's order table as CSV: each row is turned into the JSON form of
 * an order and validated by order_from_json(), so both formats obey one set
 * of rules; messages name the row's line and the column. The layout is
 * described in docs/order-format.md ("CSV"). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/utf8.h"
#include "orders/csv.h"
#include "orders/order_csv.h"

enum col_kind {
	K_TEXT,		/* text, or a code the validator checks */
	K_INT,		/* a whole number */
	K_AMOUNT,	/* yuan -> amount_fen */
	K_TYPE,		/* 新办 / 续费 / 补办 */
	K_SERIAL,	/* renews.serial, replaces.serial */
	K_TICK,		/* a section's check box: 是 / 否 */
	K_INVOICE,	/* 不开票 / 开票并邮寄(到付) */
	K_DELIVERY,	/* 现场自取 / 邮寄(到付) */
	K_ATTACH,	/* attachments appended to the section's list */
	K_ATTACH1,	/* the one attachment of handler.id_scan */
};

/* Column groups: a section's cells count only when its box is ticked, and
 * the invoice and delivery details only for the choice that has them. */
enum col_group { G_TOP, G_HANDLER, G_ORG, G_REP, G_ENT, G_INVOICE, G_DELIVERY };

struct col {
	const char *name;	/* header, as on the portal */
	const char *path;	/* JSON field path */
	enum col_kind kind;
	enum col_group group;
	int optional;		/* the column may be left out of the header */
};

static const struct col cols[] = {
	{ ORDER_CSV_REF_COLUMN, "portal_ref", K_TEXT, G_TOP, 0 },
	{ "订单类型", "type", K_TYPE, G_TOP, 0 },
	{ "续费证书序列号", "renews.serial", K_SERIAL, G_TOP, 1 },
	{ "补办证书序列号", "replaces.serial", K_SERIAL, G_TOP, 1 },
	{ "账号", "account_uscc", K_TEXT, G_TOP, 0 },
	{ "申请单位", "account_name", K_TEXT, G_TOP, 1 },
	{ "订单金额(元)", "amount_fen", K_AMOUNT, G_TOP, 0 },
	{ "省", "handler.province", K_TEXT, G_HANDLER, 0 },
	{ "市(州)", "handler.city", K_TEXT, G_HANDLER, 0 },
	{ "县(区)", "handler.county", K_TEXT, G_HANDLER, 0 },
	{ "经办人", "handler.name", K_TEXT, G_HANDLER, 0 },
	{ "经办人身份证", "handler.id_number", K_TEXT, G_HANDLER, 0 },
	{ "经办人电话", "handler.phone", K_TEXT, G_HANDLER, 0 },
	{ "经办人身份证扫描件", "handler.id_scan", K_ATTACH1, G_HANDLER, 0 },
	{ "企业机构证书", "organisation.ticked", K_TICK, G_ORG, 0 },
	{ "企业名称", "organisation.name", K_TEXT, G_ORG, 0 },
	{ "社会信用代码", "organisation.uscc", K_TEXT, G_ORG, 0 },
	{ "企业机构证书/申请证书年限", "organisation.years", K_INT, G_ORG, 0 },
	{ "企业机构证书/申请个数", "organisation.count", K_INT, G_ORG, 0 },
	{ "企业机构证书/证书模板", "organisation.cert_profile", K_TEXT, G_ORG, 1 },
	{ "企业电子公章申请表扫描件", "organisation.attachments", K_ATTACH, G_ORG, 0 },
	{ "企业证书申请表扫描件", "organisation.attachments", K_ATTACH, G_ORG, 0 },
	{ "企业营业执照扫描件", "organisation.attachments", K_ATTACH, G_ORG, 0 },
	{ "法定代表人证书", "legal_rep.ticked", K_TICK, G_REP, 0 },
	{ "法定代表人", "legal_rep.name", K_TEXT, G_REP, 0 },
	{ "法定代表人身份证", "legal_rep.id_number", K_TEXT, G_REP, 0 },
	{ "法定代表人邮箱", "legal_rep.email", K_TEXT, G_REP, 1 },
	{ "法定代表人证书/申请证书年限", "legal_rep.years", K_INT, G_REP, 0 },
	{ "法定代表人证书/申请个数", "legal_rep.count", K_INT, G_REP, 0 },
	{ "法定代表人证书/证书模板", "legal_rep.cert_profile", K_TEXT, G_REP, 1 },
	{ "法定代表人签名申请表扫描件", "legal_rep.attachments", K_ATTACH, G_REP, 0 },
	{ "法定代表人证书申请表扫描件", "legal_rep.attachments", K_ATTACH, G_REP, 0 },
	{ "法定代表人身份证扫描件", "legal_rep.attachments", K_ATTACH, G_REP, 0 },
	{ "委托人员证书", "entrusted.ticked", K_TICK, G_ENT, 0 },
	{ "委托人", "entrusted.name", K_TEXT, G_ENT, 0 },
	{ "委托人身份证", "entrusted.id_number", K_TEXT, G_ENT, 0 },
	{ "委托人电话", "entrusted.phone", K_TEXT, G_ENT, 0 },
	{ "委托人邮箱", "entrusted.email", K_TEXT, G_ENT, 1 },
	{ "委托人员证书/申请证书年限", "entrusted.years", K_INT, G_ENT, 0 },
	{ "委托人员证书/申请个数", "entrusted.count", K_INT, G_ENT, 0 },
	{ "委托人员证书/证书模板", "entrusted.cert_profile", K_TEXT, G_ENT, 1 },
	{ "委托人证书申请表扫描件", "entrusted.attachments", K_ATTACH, G_ENT, 0 },
	{ "委托人电子章申请表扫描件", "entrusted.attachments", K_ATTACH, G_ENT, 0 },
	{ "委托人身份证扫描件", "entrusted.attachments", K_ATTACH, G_ENT, 0 },
	{ "发票", "invoice.kind", K_INVOICE, G_INVOICE, 0 },
	{ "发票/单位名称", "invoice.unit_name", K_TEXT, G_INVOICE, 0 },
	{ "发票/纳税人识别号", "invoice.taxpayer_id", K_TEXT, G_INVOICE, 0 },
	{ "发票/开户行账号", "invoice.bank_account", K_TEXT, G_INVOICE, 0 },
	{ "发票/地址电话", "invoice.address_phone", K_TEXT, G_INVOICE, 0 },
	{ "发票/收件人", "invoice.recipient", K_TEXT, G_INVOICE, 0 },
	{ "发票/联系电话", "invoice.phone", K_TEXT, G_INVOICE, 0 },
	{ "发票/邮寄地址", "invoice.address", K_TEXT, G_INVOICE, 0 },
	{ "取key方式", "delivery.kind", K_DELIVERY, G_DELIVERY, 0 },
	{ "取key方式/邮寄地址", "delivery.address", K_TEXT, G_DELIVERY, 0 },
	{ "取key方式/收件人", "delivery.recipient", K_TEXT, G_DELIVERY, 0 },
	{ "取key方式/收件人电话", "delivery.phone", K_TEXT, G_DELIVERY, 0 },
};

#define NCOLS (sizeof(cols) / sizeof(cols[0]))
#define NAME_MAX_LEN 96

/* Names for the objects, for messages about a whole group. */
static const struct {
	const char *path, *name;
} group_names[] = {
	{ "organisation", "企业机构证书" },
	{ "legal_rep", "法定代表人证书" },
	{ "entrusted", "委托人员证书" },
	{ "invoice", "发票" },
	{ "delivery", "取key方式" },
	{ "renews", "续费证书序列号" },
	{ "replaces", "补办证书序列号" },
};

/* A JSON path and the column its value came from. */
struct path_name {
	char path[NAME_MAX_LEN];
	const char *name;
};

/* One row being turned into an order. */
struct row {
	struct order_file *f;
	const struct csv_record *rec;
	const int *colmap;		/* column -> field index, -1 when absent */
	size_t line;
	const char *label;		/* "#3" */
	struct json_object *root;
	struct errlist pre;		/* the reader's own messages */
	struct path_name names[NCOLS + 32];
	size_t n_names;
	char reported[NCOLS][NAME_MAX_LEN];	/* paths already reported */
	size_t n_reported;
	int nomem;
};

/* Does path lie at or under prefix (a JSON path, cut at . or [)? */
static int
under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(path, prefix, n) == 0 &&
	    (path[n] == '\0' || path[n] == '.' || path[n] == '[');
}

static int
field_name(void *arg, const char *path, char *buf, size_t len)
{
	const struct row *r = arg;
	const char *best = NULL;
	size_t i, best_len = 0;

	for (i = 0; i < r->n_reported; i++)
		if (under(path, r->reported[i]))
			return 1;
	for (i = 0; i < r->n_names; i++)
		if (under(path, r->names[i].path) && strlen(r->names[i].path) >= best_len) {
			best = r->names[i].name;
			best_len = strlen(r->names[i].path);
		}
	for (i = 0; i < sizeof(group_names) / sizeof(group_names[0]); i++)
		if (under(path, group_names[i].path) && strlen(group_names[i].path) > best_len) {
			best = group_names[i].name;
			best_len = strlen(group_names[i].path);
		}
	snprintf(buf, len, "%s", best ? best : "");
	return 0;
}

static void
name_path(struct row *r, const char *path, const char *name)
{
	if (r->n_names < sizeof(r->names) / sizeof(r->names[0])) {
		snprintf(r->names[r->n_names].path, NAME_MAX_LEN, "%s", path);
		r->names[r->n_names++].name = name;
	}
}

/* Records the reader's own error about path (from column name), in the
 * words the validator uses, and keeps the validator quiet about it. */
static void __attribute__((format(printf, 4, 5)))
row_bad(struct row *r, const char *path, const char *name, const char *fmt, ...)
{
	const char *ref = order_json_ref(r->root);
	char text[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (errlist_add(&r->pre, "line %zu: order %s, %s (%s): %s", r->line, ref ? ref : r->label,
	    path, name, text) != 0)
		r->nomem = 1;
	if (r->n_reported < NCOLS)
		snprintf(r->reported[r->n_reported++], NAME_MAX_LEN, "%s", path);
}

static const char *
cell(const struct row *r, size_t col)
{
	int k = r->colmap[col];

	return k >= 0 && (size_t)k < r->rec->n ? r->rec->fields[k] : "";
}

/* The object at the first part of path ("handler" of "handler.phone"),
 * created when missing; the last part goes to *key. */
static struct json_object *
parent(struct row *r, const char *path, char *key, size_t keylen)
{
	const char *dot = strchr(path, '.');
	struct json_object *o;
	char head[32];

	if (dot == NULL) {
		snprintf(key, keylen, "%s", path);
		return r->root;
	}
	snprintf(head, sizeof(head), "%.*s", (int)(dot - path), path);
	snprintf(key, keylen, "%s", dot + 1);
	if (!json_object_object_get_ex(r->root, head, &o)) {
		if ((o = json_object_new_object()) == NULL ||
		    json_object_object_add(r->root, head, o) != 0) {
			json_object_put(o);
			r->nomem = 1;
			return NULL;
		}
	}
	return o;
}

static void
put(struct row *r, const char *path, struct json_object *v)
{
	struct json_object *o;
	char key[32];

	if (v == NULL) {
		r->nomem = 1;
		return;
	}
	if ((o = parent(r, path, key, sizeof(key))) == NULL || json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		r->nomem = 1;
	}
}

/* A whole number, saturated at INT64_MAX so that the validator's range
 * check speaks about it; other text stays text (the validator then says an
 * integer is wanted). */
static struct json_object *
number_or_text(const char *s)
{
	int64_t v = 0;
	const char *p;

	if (*s == '\0')
		return json_object_new_string(s);
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return json_object_new_string(s);
		v = v > (INT64_MAX - 9) / 10 ? INT64_MAX : v * 10 + (*p - '0');
	}
	return json_object_new_int64(v);
}

/* Yuan as the portal shows it: "1000", "1000.00", "1,000.00", "¥ 800.00".
 * Returns 0 with fen set, or -1. Integer arithmetic only. */
static int
parse_yuan(const char *s, int64_t *fen)
{
	int64_t yuan = 0, frac = 0;
	size_t digits = 0, group = 0, fd = 0;
	int commas = 0;

	if (strncmp(s, "\xc2\xa5", 2) == 0)		/* ¥ */
		s += 2;
	else if (strncmp(s, "\xef\xbf\xa5", 3) == 0)	/* ￥ */
		s += 3;
	if (*s == ' ')
		s++;
	for (; *s != '\0' && *s != '.'; s++) {
		if (*s == ',') {
			/* 1-3 digits before the first comma, 3 between */
			if (group == 0 || group > 3 || (commas && group != 3))
				return -1;
			commas = 1;
			group = 0;
			continue;
		}
		if (*s < '0' || *s > '9' || ++digits > 13)
			return -1;
		yuan = yuan * 10 + (*s - '0');
		group++;
	}
	if (digits == 0 || (commas && group != 3))
		return -1;
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9' && fd < 2; s++, fd++)
			frac = frac * 10 + (*s - '0');
		if (fd == 0 || *s != '\0')
			return -1;
		if (fd == 1)
			frac *= 10;
	}
	*fen = yuan * 100 + frac;
	return 0;
}

/* Case-sensitive match of s against a choice; the portal writes these with
 * ASCII or full-width parentheses. */
static int
choice(const char *s, const char *ascii_form, const char *wide_form)
{
	return strcmp(s, ascii_form) == 0 || (wide_form != NULL && strcmp(s, wide_form) == 0);
}

/* Adds the attachments of one cell: one a line, "文件名|类型|SHA-256" (the
 * file name may hold '|': the last two fields are cut off from the right). */
static void
attachments(struct row *r, size_t col)
{
	const struct col *c = &cols[col];
	const char *s = cell(r, col), *eol;
	struct json_object *arr = NULL, *sec, *a;
	char key[32], path[NAME_MAX_LEN], *line, *p1, *p2;
	size_t n = 0, len;

	if (c->kind == K_ATTACH) {
		if ((sec = parent(r, c->path, key, sizeof(key))) == NULL)
			return;
		if (!json_object_object_get_ex(sec, key, &arr)) {
			if ((arr = json_object_new_array()) == NULL) {
				r->nomem = 1;
				return;
			}
			if (json_object_object_add(sec, key, arr) != 0) {
				json_object_put(arr);
				r->nomem = 1;
				return;
			}
		}
		n = json_object_array_length(arr);
	}
	for (; *s != '\0'; s = *eol ? eol + 1 : eol) {
		eol = strchr(s, '\n');
		if (eol == NULL)
			eol = s + strlen(s);
		len = (size_t)(eol - s);
		if (len > 0 && s[len - 1] == '\r')
			len--;
		if (len == 0)
			continue;
		if (c->kind == K_ATTACH)
			snprintf(path, sizeof(path), "%s[%zu]", c->path, n);
		else
			snprintf(path, sizeof(path), "%s", c->path);
		if (c->kind == K_ATTACH1 && json_object_object_get_ex(json_object_object_get(r->root,
		    "handler"), "id_scan", NULL)) {
			row_bad(r, path, c->name, "holds one attachment only");
			return;
		}
		if ((line = strndup(s, len)) == NULL) {
			r->nomem = 1;
			return;
		}
		p2 = strrchr(line, '|');
		if (p2 != NULL)
			*p2 = '\0';
		p1 = p2 != NULL ? strrchr(line, '|') : NULL;
		if (p1 == NULL) {
			row_bad(r, path, c->name, "must be 文件名|类型|SHA-256, one attachment a line "
			    "(e.g. 营业执照.jpg|jpg|<64 hex digits>)");
			free(line);
			n++;
			continue;
		}
		*p1 = '\0';
		name_path(r, path, c->name);
		if ((a = json_object_new_object()) == NULL ||
		    json_object_object_add(a, "name", json_object_new_string(line)) != 0 ||
		    json_object_object_add(a, "type", json_object_new_string(p1 + 1)) != 0 ||
		    json_object_object_add(a, "sha256", json_object_new_string(p2 + 1)) != 0) {
			json_object_put(a);
			free(line);
			r->nomem = 1;
			return;
		}
		free(line);
		if (c->kind == K_ATTACH1) {
			put(r, c->path, a);
		} else if (json_object_array_add(arr, a) != 0) {
			json_object_put(a);
			r->nomem = 1;
			return;
		}
		n++;
	}
}

/* Is the column's group in use for this row: a ticked section, the invoice
 * or delivery choice that has details? 1 yes, 0 no, -1 the choice is not
 * one of the allowed values (the details are then passed on as they are). */
static int
group_state(const struct row *r, enum col_group g)
{
	const char *path = g == G_ORG ? "organisation.ticked" : g == G_REP ? "legal_rep.ticked" :
	    g == G_ENT ? "entrusted.ticked" : g == G_INVOICE ? "invoice.kind" :
	    g == G_DELIVERY ? "delivery.kind" : NULL;
	size_t i;
	const char *s;

	if (path == NULL)
		return 1;
	for (i = 0; i < NCOLS && strcmp(cols[i].path, path) != 0; i++)
		;
	s = cell(r, i);
	switch (g) {
	case G_ORG:
	case G_REP:
	case G_ENT:
		return strcmp(s, "是") == 0 ? 1 : (s[0] == '\0' || strcmp(s, "否") == 0) ? 0 : -1;
	case G_INVOICE:
		return choice(s, "开票并邮寄(到付)", "开票并邮寄（到付）") ? 1 :
		    choice(s, "不开票", NULL) ? 0 : -1;
	case G_DELIVERY:
		return choice(s, "邮寄(到付)", "邮寄（到付）") ? 1 :
		    choice(s, "现场自取", NULL) ? 0 : -1;
	default:
		return 1;
	}
}

/* 订单类型: 新办, 续费 or 补办. */
static void
type_cell(struct row *r, const struct col *c, const char *s)
{
	static const char *const names[][2] = {
		{ "新办", "new" }, { "续费", "renewal" }, { "补办", "replacement" },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i][0]) == 0) {
			put(r, c->path, json_object_new_string(names[i][1]));
			return;
		}
	row_bad(r, c->path, c->name, "must be 新办 (new), 续费 (renewal) or 补办 (replacement)");
}

static void
convert(struct row *r)
{
	size_t i;
	int64_t fen;

	for (i = 0; i < NCOLS && !r->nomem; i++) {
		const struct col *c = &cols[i];
		const char *s = cell(r, i);
		int g = group_state(r, c->group);

		if (r->colmap[i] < 0)
			continue;
		/* a message about an empty cell names its column too */
		if (c->kind != K_ATTACH)
			name_path(r, c->path, c->name);
		if (c->kind == K_TICK || c->kind == K_INVOICE || c->kind == K_DELIVERY) {
			if (s[0] == '\0')
				continue;	/* an empty box: unticked; no choice: required */
			if (c->kind == K_TICK && g >= 0)
				put(r, c->path, json_object_new_boolean(g));
			else if (c->kind == K_INVOICE && g >= 0)
				put(r, c->path, json_object_new_string(g ? "mail" : "none"));
			else if (c->kind == K_DELIVERY && g >= 0)
				put(r, c->path, json_object_new_string(g ? "mail" : "pickup"));
			else {
				row_bad(r, c->path, c->name, "%s", c->kind == K_TICK ?
				    "must be 是 (ticked) or 否 (not ticked)" : c->kind == K_INVOICE ?
				    "must be 不开票 or 开票并邮寄(到付)" : "must be 现场自取 or 邮寄(到付)");
				put(r, c->path, json_object_new_string(s));
			}
			continue;
		}
		if (s[0] == '\0')
			continue;	/* absent: the validator knows what is required */
		if (g == 0) {
			/* Unticked sections count for nothing, as on the portal;
			 * details of a choice that has none are a mistake. */
			if (c->group == G_INVOICE)
				row_bad(r, c->path, c->name, "must be empty when 发票 is 不开票");
			else if (c->group == G_DELIVERY)
				row_bad(r, c->path, c->name, "must be empty when 取key方式 is 现场自取");
			continue;
		}
		if (g < 0 && c->group != G_INVOICE && c->group != G_DELIVERY)
			continue;	/* the section's box is unreadable: reported above */
		switch (c->kind) {
		case K_TEXT:
			put(r, c->path, json_object_new_string(s));
			break;
		case K_INT:
			put(r, c->path, number_or_text(s));
			break;
		case K_AMOUNT:
			if (parse_yuan(s, &fen) != 0)
				row_bad(r, c->path, c->name, "must be an amount in yuan such as 1000.00, "
				    "1,000.00 or ¥ 800.00");
			else
				put(r, c->path, json_object_new_int64(fen));
			break;
		case K_TYPE:
			type_cell(r, c, s);
			break;
		case K_SERIAL:
			put(r, c->path, json_object_new_string(s));
			break;
		case K_ATTACH:
		case K_ATTACH1:
			attachments(r, i);
			break;
		default:
			break;
		}
	}
}

/* Reads the header: every column known, none twice, every required one
 * there. Fills colmap; returns 0, -1 (reported in f->errs) or NOMEM. */
static int
header(struct order_file *f, const struct csv_record *h, int *colmap)
{
	size_t i, k;
	int bad = 0;

	for (k = 0; k < NCOLS; k++)
		colmap[k] = -1;
	for (i = 0; i < h->n; i++) {
		const char *s = h->fields[i];

		for (k = 0; k < NCOLS && strcmp(cols[k].name, s) != 0; k++)
			;
		if (k == NCOLS) {
			bad = 1;
			/* echo the name only when it is short, printable text */
			if (strlen(s) <= 64 && utf8_valid(s, strlen(s)) && !utf8_has_control(s)) {
				if (order_file_fail(f, "line %zu: column %zu: unknown column name \"%s\"",
				    h->line, i + 1, s) != 0)
					return UKEY_ERR_NOMEM;
			} else if (order_file_fail(f, "line %zu: column %zu: unknown column name",
			    h->line, i + 1) != 0) {
				return UKEY_ERR_NOMEM;
			}
		} else if (colmap[k] >= 0) {
			bad = 1;
			if (order_file_fail(f, "line %zu: column %zu: \"%s\" is already column %d",
			    h->line, i + 1, s, colmap[k] + 1) != 0)
				return UKEY_ERR_NOMEM;
		} else {
			colmap[k] = (int)i;
		}
	}
	for (k = 0; k < NCOLS; k++) {
		if (colmap[k] >= 0 || cols[k].optional)
			continue;
		bad = 1;
		if (order_file_fail(f, "line %zu: the header lacks the column \"%s\" (%s)", h->line,
		    cols[k].name, cols[k].path) != 0)
			return UKEY_ERR_NOMEM;
	}
	return bad ? -1 : 0;
}

static int
blank(const struct csv_record *rec)
{
	size_t i;

	for (i = 0; i < rec->n; i++)
		if (rec->fields[i][0] != '\0')
			return 0;
	return 1;
}

int
order_csv_read(struct order_file *f, const char *text, size_t len, time_t now)
{
	struct csv *csv = NULL;
	struct row *r = NULL;
	struct order_origin orig;
	int colmap[NCOLS];
	char why[256], where[32], label[32];
	size_t i, norders = 0;
	int rc;

	rc = csv_parse(text, len, &csv, why, sizeof(why));
	if (rc == UKEY_ERR_INVAL) {
		rc = order_file_fail(f, "%s", why);
		goto out;
	}
	if (rc != 0)
		goto out;
	if (csv->n == 0) {
		rc = order_file_fail(f, "holds no orders (not even the header line)");
		goto out;
	}
	if ((rc = header(f, &csv->recs[0], colmap)) != 0) {
		rc = rc < 0 && rc != UKEY_ERR_NOMEM ? 0 : rc;
		goto out;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	for (i = 1; i < csv->n; i++) {
		const struct csv_record *rec = &csv->recs[i];

		if (blank(rec))
			continue;	/* spreadsheets leave rows of empty cells */
		memset(r, 0, sizeof(*r));
		r->f = f;
		r->rec = rec;
		r->colmap = colmap;
		r->line = rec->line;
		snprintf(label, sizeof(label), "#%zu", ++norders);
		r->label = label;
		snprintf(where, sizeof(where), "line %zu", rec->line);
		orig.where = where;
		orig.field_name = field_name;
		orig.arg = r;
		if (rec->n != csv->recs[0].n) {
			rc = errlist_add(&r->pre, "line %zu: order %s: the row has %zu fields, the header "
			    "%zu", rec->line, label, rec->n, csv->recs[0].n);
			if (rc == 0)
				rc = order_file_add(f, NULL, rec->line, label, &orig, &r->pre, now);
			errlist_clear(&r->pre);
			if (rc != 0)
				goto out;
			continue;
		}
		if ((r->root = json_object_new_object()) == NULL) {
			rc = UKEY_ERR_NOMEM;
			goto out;
		}
		convert(r);
		rc = r->nomem ? UKEY_ERR_NOMEM :
		    order_file_add(f, r->root, rec->line, label, &orig, &r->pre, now);
		json_object_put(r->root);
		r->root = NULL;
		errlist_clear(&r->pre);
		if (rc != 0)
			goto out;
	}
	if (norders == 0)
		rc = order_file_fail(f, "holds no orders (only the header line)");
 out:
	if (r != NULL) {
		json_object_put(r->root);
		errlist_clear(&r->pre);
	}
	free(r);
	csv_free(csv);
	return rc;
}
