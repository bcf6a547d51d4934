/* ukeyctl's floor reports (docs/reports.md): production, service times and
 * reconciliation, printed as a table, JSON or CSV (RFC 4180), and written
 * as a one-page HTML file with its chart drawn as inline SVG. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/jsontext.h"
#include "ctl/ctl.h"

/* ---- CSV (RFC 4180): fields separated by commas, records ended by CRLF;
 * a field holding a comma, a double quote, CR or LF is quoted, its quotes
 * doubled ---- */

/* Whether a spreadsheet would take text s as a formula: it starts with =,
 * +, -, @, a tab or a carriage return, and is not a number (a negative
 * amount stays a number). */
static int
csv_formula(const char *s)
{
	char *end;

	if (strchr("=+-@\t\r", s[0]) == NULL || s[0] == '\0')
		return 0;
	(void)strtod(s, &end);
	return end == s || *end != '\0';
}

void
report_csv_field(FILE *f, const char *s)
{
	const char *p;

	if (s == NULL)
		return;		/* no value: an empty field */
	if (csv_formula(s)) {
		/* text a spreadsheet would run as a formula (an organisation's
		 * name comes from the customer): kept as text by a leading
		 * apostrophe, which the spreadsheet shows without */
		fputc('"', f);
		fputc('\'', f);
		for (p = s; *p; p++) {
			if (*p == '"')
				fputc('"', f);
			fputc(*p, f);
		}
		fputc('"', f);
		return;
	}
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (p = s; *p; p++) {
		if (*p == '"')
			fputc('"', f);
		fputc(*p, f);
	}
	fputc('"', f);
}

void
report_csv_write(FILE *f, struct json_object *rows, const char *const *cols)
{
	size_t i, c, n = json_object_array_length(rows);
	struct json_object *row, *v;

	for (c = 0; cols[c] != NULL; c++) {
		if (c > 0)
			fputc(',', f);
		report_csv_field(f, cols[c]);
	}
	fputs("\r\n", f);
	for (i = 0; i < n; i++) {
		row = json_object_array_get_idx(rows, i);
		for (c = 0; cols[c] != NULL; c++) {
			if (c > 0)
				fputc(',', f);
			v = json_object_object_get(row, cols[c]);
			report_csv_field(f, v ? json_object_get_string(v) : NULL);
		}
		fputs("\r\n", f);
	}
}

/* ---- HTML ---- */

void
report_html_text(FILE *f, const char *s)
{
	for (; s != NULL && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

static void
html_begin(FILE *f, const char *title)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
	report_html_text(f, title);
	fputs("</title>\n<style>\nbody{font-family:sans-serif;margin:2em;color:#222}\n"
	    "table{border-collapse:collapse;margin:1em 0}\n"
	    "th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left}\n"
	    "th{background:#eee}td.n{text-align:right}\n.bad{color:#a00}\n</style>\n"
	    "</head>\n<body>\n<h1>", f);
	report_html_text(f, title);
	fputs("</h1>\n", f);
}

static void
html_end(FILE *f)
{
	fputs("</body>\n</html>\n", f);
}

/* A paragraph of label: value pairs of o's fields. */
static void
html_facts(FILE *f, struct json_object *o, const char *const *keys)
{
	size_t i;
	struct json_object *v;

	fputs("<p>", f);
	for (i = 0; keys[i] != NULL; i++) {
		v = json_object_object_get(o, keys[i]);
		fputs(i ? "; " : "", f);
		report_html_text(f, keys[i]);
		fputs(": <b>", f);
		report_html_text(f, v ? json_object_get_string(v) : "-");
		fputs("</b>", f);
	}
	fputs("</p>\n", f);
}

static void
html_table(FILE *f, const char *heading, struct json_object *rows, const char *const *cols)
{
	size_t i, c, n = json_object_array_length(rows);
	struct json_object *v;

	fputs("<h2>", f);
	report_html_text(f, heading);
	fputs("</h2>\n<table>\n<tr>", f);
	for (c = 0; cols[c] != NULL; c++) {
		fputs("<th>", f);
		report_html_text(f, cols[c]);
		fputs("</th>", f);
	}
	fputs("</tr>\n", f);
	for (i = 0; i < n; i++) {
		fputs("<tr>", f);
		for (c = 0; cols[c] != NULL; c++) {
			v = json_object_object_get(json_object_array_get_idx(rows, i), cols[c]);
			fputs(json_object_is_type(v, json_type_int) ? "<td class=\"n\">" : "<td>", f);
			report_html_text(f, v ? json_object_get_string(v) : "-");
			fputs("</td>", f);
		}
		fputs("</tr>\n", f);
	}
	if (n == 0)
		fprintf(f, "<tr><td colspan=\"%zu\">none</td></tr>\n", c);
	fputs("</table>\n", f);
}

#define SVG_W 760
#define SVG_H 300
#define SVG_L 50	/* left margin: the tokens axis */
#define SVG_R 70	/* right margin: the median axis */
#define SVG_T 30
#define SVG_B 60	/* bottom margin: the day labels */

static int64_t
days_max(struct json_object *days, const char *key)
{
	size_t i, n = json_object_array_length(days);
	int64_t m = 0, v;

	for (i = 0; i < n; i++) {
		v = json_object_get_int64(json_object_object_get(json_object_array_get_idx(days, i),
		    key));
		if (v > m)
			m = v;
	}
	return m;
}

static void
svg_axes(FILE *f, int64_t max_tok, int64_t max_med)
{
	int ph = SVG_H - SVG_T - SVG_B;
	char dur[32];

	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>\n", SVG_L,
	    SVG_T, SVG_L, SVG_H - SVG_B);
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>\n", SVG_L,
	    SVG_H - SVG_B, SVG_W - SVG_R, SVG_H - SVG_B);
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%lld</text>\n",
	    SVG_L - 4, SVG_T + 4, (long long)max_tok);
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">0</text>\n",
	    SVG_L - 4, SVG_H - SVG_B);
	fprintf(f, "<text x=\"12\" y=\"%d\" font-size=\"11\" fill=\"#2a6fb0\" transform=\"rotate(-90"
	    " 12 %d)\" text-anchor=\"middle\">tokens per day</text>\n", SVG_T + ph / 2,
	    SVG_T + ph / 2);
	if (max_med > 0) {
		report_duration(max_med, dur, sizeof(dur));
		fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#c05000\">%s</text>\n",
		    SVG_W - SVG_R + 4, SVG_T + 4, dur);
		fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#c05000\">median time"
		    "</text>\n", SVG_W - SVG_R + 4, SVG_T + 20);
		fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#c05000\">per token</text>\n",
		    SVG_W - SVG_R + 4, SVG_T + 34);
	}
}

/* The production chart: a bar per day for the tokens cut and a line
 * through the days' median time per token, each on its own scale. */
void
report_svg_chart(FILE *f, struct json_object *days)
{
	size_t i, n = json_object_array_length(days), step;
	int64_t max_tok = days_max(days, "tokens"), max_med = days_max(days, "median_seconds");
	int64_t scale = max_med > 0 ? max_med : 1;	/* medians of 0 s sit on the axis */
	double pw = SVG_W - SVG_L - SVG_R, ph = SVG_H - SVG_T - SVG_B, bw, x, y, h;
	int64_t tok;
	struct json_object *d, *med;
	char dur[32];
	int first = 1;

	bw = n ? pw / (double)n : pw;
	step = n > 20 ? (n + 19) / 20 : 1;	/* at most about 20 day labels */
	fprintf(f, "<svg width=\"%d\" height=\"%d\" "
	    "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"tokens per day and median time per"
	    " token\">\n", SVG_W, SVG_H, SVG_W, SVG_H);
	svg_axes(f, max_tok, max_med);
	for (i = 0; i < n; i++) {
		d = json_object_array_get_idx(days, i);
		tok = json_object_get_int64(json_object_object_get(d, "tokens"));
		h = max_tok ? ph * (double)tok / (double)max_tok : 0;
		x = SVG_L + bw * (double)i;
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#2a6fb0\">"
		    "<title>", x + bw * 0.15, SVG_T + ph - h, bw * 0.7, h);
		report_html_text(f, json_object_get_string(json_object_object_get(d, "day")));
		fprintf(f, ": %lld tokens</title></rect>\n", (long long)tok);
		if (i % step == 0) {
			fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" transform=\"rotate(45 %.1f"
			    " %d)\">", x + bw / 2, SVG_H - SVG_B + 12, x + bw / 2, SVG_H - SVG_B + 12);
			report_html_text(f, json_object_get_string(json_object_object_get(d, "day")));
			fputs("</text>\n", f);
		}
	}
	fputs("<polyline fill=\"none\" stroke=\"#c05000\" stroke-width=\"2\" points=\"", f);
	for (i = 0; i < n; i++) {
		med = json_object_object_get(json_object_array_get_idx(days, i), "median_seconds");
		if (med == NULL)
			continue;	/* no token that day: the line joins its neighbours */
		x = SVG_L + bw * ((double)i + 0.5);
		y = SVG_T + ph - ph * (double)json_object_get_int64(med) / (double)scale;
		fprintf(f, "%s%.1f,%.1f", first ? "" : " ", x, y);
		first = 0;
	}
	fputs("\"/>\n", f);
	/* a dot on each day with a median: a single day draws no line */
	for (i = 0; i < n; i++) {
		d = json_object_array_get_idx(days, i);
		if ((med = json_object_object_get(d, "median_seconds")) == NULL)
			continue;
		x = SVG_L + bw * ((double)i + 0.5);
		y = SVG_T + ph - ph * (double)json_object_get_int64(med) / (double)scale;
		report_duration(json_object_get_int64(med), dur, sizeof(dur));
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#c05000\"><title>", x, y);
		report_html_text(f, json_object_get_string(json_object_object_get(d, "day")));
		fprintf(f, ": median %s per token</title></circle>\n", dur);
	}
	fputs("</svg>\n", f);
}

/* Writes the text of len bytes to path whole or not at all: a temporary
 * file beside it, synced, then renamed over it. Returns EXIT_OK or prints
 * why and returns EXIT_NOINPUT (the file cannot be written). */
static int
write_atomic(const char *path, const char *text, size_t len)
{
	char *tmp = NULL;
	mode_t mask;
	int fd, ex = EXIT_NOINPUT, ok;

	if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		tmp = NULL;
		goto out;
	}
	if ((fd = mkstemp(tmp)) < 0) {
		fprintf(stderr, "ukeyctl: --html %s: %s\n", path, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	mask = umask(0);
	umask(mask);
	ok = fchmod(fd, 0666 & ~mask) == 0 && write(fd, text, len) == (ssize_t)len &&
	    fsync(fd) == 0;
	if (!ok)
		fprintf(stderr, "ukeyctl: --html %s: writing: %s\n", path, strerror(errno));
	if (close(fd) != 0 && ok) {
		fprintf(stderr, "ukeyctl: --html %s: writing: %s\n", path, strerror(errno));
		ok = 0;
	}
	if (!ok)
		goto out;
	if (rename(tmp, path) != 0) {
		fprintf(stderr, "ukeyctl: --html %s: %s\n", path, strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	ex = EXIT_OK;
 out:
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	return ex;
}

/* ---- the three reports ---- */

static const char *const cause_cols[] = { "blame", "cause", "failures", NULL };
static const char *const day_cols[] = { "day", "tokens", "failures", "median", NULL };
static const char *const service_cols[] = { "id", "portal_ref", "state", "paid_at", "deadline",
	"issued_at", "units", "issued", "elapsed", "due_in", "status", NULL };
static const char *const service_html_cols[] = { "id", "portal_ref", "org_name", "state",
	"paid_at", "deadline", "issued_at", "units", "issued", "elapsed", "due_in", "status", NULL };
static const char *const service_csv_cols[] = { "id", "portal_ref", "org_name", "state",
	"paid_at", "clock_start", "deadline", "issued_at", "units", "issued", "elapsed_seconds",
	"remaining_seconds", "status", NULL };
static const char *const finding_cols[] = { "finding", "kind", "order_id", "portal_ref", "serial",
	"message", NULL };

static const char *
jget(struct json_object *o, const char *k)
{
	const char *v = json_object_get_string(json_object_object_get(o, k));

	return v ? v : "-";
}

/* A duration for people: 45s, 12m05s, 3h04m, 2d03h. */
void
report_duration(int64_t s, char *out, size_t len)
{
	const char *sign = s < 0 ? "-" : "";

	if (s < 0)
		s = s == INT64_MIN ? INT64_MAX : -s;
	if (s < 60)
		snprintf(out, len, "%s%llds", sign, (long long)s);
	else if (s < 3600)
		snprintf(out, len, "%s%lldm%02llds", sign, (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(out, len, "%s%lldh%02lldm", sign, (long long)(s / 3600),
		    (long long)(s / 60 % 60));
	else
		snprintf(out, len, "%s%lldd%02lldh", sign, (long long)(s / 86400),
		    (long long)(s / 3600 % 24));
}

/* Adds to each row the duration in seconds of field from, as text in
 * field to ("-" when it has none). */
static void
add_durations(struct json_object *rows, const char *from, const char *to)
{
	struct json_object *row, *v;
	size_t i;
	char buf[32];

	if (!json_object_is_type(rows, json_type_array))
		return;		/* not a field of this report */
	for (i = 0; i < json_object_array_length(rows); i++) {
		row = json_object_array_get_idx(rows, i);
		v = json_object_object_get(row, from);
		if (v != NULL)
			report_duration(json_object_get_int64(v), buf, sizeof(buf));
		json_object_object_add(row, to, json_object_new_string(v ? buf : "-"));
	}
}

/* The human fields of a report's result: durations as text. */
static void
humanise(struct json_object *res)
{
	struct json_object *one = json_object_new_array();

	add_durations(json_object_object_get(res, "rows"), "median_seconds", "median");
	add_durations(json_object_object_get(res, "days"), "median_seconds", "median");
	add_durations(json_object_object_get(res, "orders"), "elapsed_seconds", "elapsed");
	add_durations(json_object_object_get(res, "orders"), "remaining_seconds", "due_in");
	json_object_array_add(one, json_object_get(res));
	add_durations(one, "median_seconds", "median");
	json_object_put(one);
}

static void
production_text(struct json_object *res, const char *const *cols)
{
	printf("production %s .. %s: tokens %lld, failed jobs %lld, median %s per token\n\n",
	    jget(res, "since"), jget(res, "until"), (long long)jint(res, "tokens"),
	    (long long)jint(res, "failures"), jget(res, "median"));
	print_table(json_object_object_get(res, "rows"), cols);
	printf("\nfailures by cause:\n");
	if (json_object_array_length(json_object_object_get(res, "causes")) == 0)
		printf("none\n");
	else
		print_table(json_object_object_get(res, "causes"), cause_cols);
}

static void
production_html(FILE *f, struct json_object *res, const char *const *cols)
{
	static const char *const facts[] = { "since", "until", "tokens", "failures", "median",
		NULL };
	char title[120], by[64];

	snprintf(title, sizeof(title), "Production %s to %s", jget(res, "since"),
	    jget(res, "until"));
	snprintf(by, sizeof(by), "By %s", jget(res, "by"));
	html_begin(f, title);
	html_facts(f, res, facts);
	fputs("<h2>Tokens per day and median time per token</h2>\n", f);
	report_svg_chart(f, json_object_object_get(res, "days"));
	html_table(f, by, json_object_object_get(res, "rows"), cols);
	html_table(f, "Failures by cause", json_object_object_get(res, "causes"), cause_cols);
	html_table(f, "Days", json_object_object_get(res, "days"), day_cols);
}

static void
service_text(struct json_object *res)
{
	struct json_object *c = json_object_object_get(res, "counts");

	printf("service times (promise: production within %lld working day of approval and"
	    " payment; due soon: deadline within %lld h): met %lld, late %lld, overdue %lld,"
	    " due soon %lld, open %lld; median %s to issue\n\n",
	    (long long)jint(res, "promise_working_days"), (long long)jint(res, "hours"),
	    (long long)jint(c, "met"), (long long)jint(c, "late"),
	    (long long)jint(c, "overdue"), (long long)jint(c, "due_soon"),
	    (long long)jint(c, "open"), jget(res, "median"));
	print_table(json_object_object_get(res, "orders"), service_cols);
}

static void
service_html(FILE *f, struct json_object *res)
{
	static const char *const facts[] = { "met", "late", "overdue", "due_soon", "open", NULL };

	html_begin(f, "Service times");
	fprintf(f, "<p>Promise: production within %lld working day (Monday to Friday; public"
	    " holidays not counted) of the order's approval and payment, due at the end of that"
	    " day. Due soon: deadline within %lld hours. At ",
	    (long long)jint(res, "promise_working_days"), (long long)jint(res, "hours"));
	report_html_text(f, jget(res, "now"));
	fputs(".</p>\n", f);
	html_facts(f, json_object_object_get(res, "counts"), facts);
	html_table(f, "Orders", json_object_object_get(res, "orders"), service_html_cols);
}

/* The mismatches and the explained findings as one array of rows. */
static struct json_object *
findings(struct json_object *res)
{
	static const char *const kinds[] = { "mismatches", "explained" };
	static const char *const names[] = { "mismatch", "explained" };
	struct json_object *all = json_object_new_array(), *arr, *o;
	size_t i, k;

	for (k = 0; k < 2; k++) {
		arr = json_object_object_get(res, kinds[k]);
		for (i = 0; i < json_object_array_length(arr); i++) {
			o = json_object_get(json_object_array_get_idx(arr, i));
			json_object_object_add(o, "finding", json_object_new_string(names[k]));
			json_object_array_add(all, o);
		}
	}
	return all;
}

static void
reconcile_summary(FILE *f, struct json_object *res)
{
	int64_t paid = jint(res, "paid_fen"), refund = jint(res, "refund_due_fen");

	fprintf(f, "payments: %lld orders, %lld.%02lld yuan for %lld certificates; issuances:"
	    " %lld; CA: %lld certificates (%lld valid, %lld revoked); refunds due: %lld orders,"
	    " %lld.%02lld yuan", (long long)jint(res, "paid_orders"), (long long)(paid / 100),
	    (long long)(paid % 100), (long long)jint(res, "paid_certificates"),
	    (long long)jint(res, "issuances"), (long long)jint(res, "ca_certificates"),
	    (long long)jint(res, "ca_valid"), (long long)jint(res, "ca_revoked"),
	    (long long)jint(res, "refunds_due"), (long long)(refund / 100),
	    (long long)(refund % 100));
}

static void
reconcile_text(struct json_object *res, struct json_object *rows)
{
	size_t i, n = json_object_array_length(rows);

	reconcile_summary(stdout, res);
	printf("\n%s\n", json_object_get_boolean(json_object_object_get(res, "ok")) ?
	    "reconciled: no mismatch" : "MISMATCHES:");
	for (i = 0; i < n; i++)
		printf("  %s %s: %s\n", jget(json_object_array_get_idx(rows, i), "finding"),
		    jget(json_object_array_get_idx(rows, i), "kind"),
		    jget(json_object_array_get_idx(rows, i), "message"));
}

static void
reconcile_html(FILE *f, struct json_object *res)
{
	static const char *const cols[] = { "kind", "order_id", "portal_ref", "serial", "message",
		NULL };
	int ok = json_object_get_boolean(json_object_object_get(res, "ok"));

	html_begin(f, "Reconciliation: payments, issuances, the CA's list");
	fputs("<p>", f);
	reconcile_summary(f, res);
	fprintf(f, "</p>\n<p class=\"%s\"><b>%s</b></p>\n", ok ? "ok" : "bad",
	    ok ? "Reconciled: no mismatch." : "Mismatches found.");
	html_table(f, "Mismatches", json_object_object_get(res, "mismatches"), cols);
	html_table(f, "Explained", json_object_object_get(res, "explained"), cols);
}

/* Renders the report html on a memory stream and writes it to path. */
static int
html_write(const char *path, const char *what, struct json_object *res,
    const char *const *cols)
{
	char *buf = NULL, stamp[32];
	size_t len = 0;
	time_t now = time(NULL);
	struct tm tm;
	FILE *f;
	int ex;

	if ((f = open_memstream(&buf, &len)) == NULL) {
		fprintf(stderr, "ukeyctl: --html: %s\n", strerror(errno));
		return EXIT_TEMPFAIL;
	}
	if (strcmp(what, "production") == 0)
		production_html(f, res, cols);
	else if (strcmp(what, "service-times") == 0)
		service_html(f, res);
	else
		reconcile_html(f, res);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	fprintf(f, "<p><small>ukeyctl report %s, written %s</small></p>\n", what, stamp);
	html_end(f);
	if (fclose(f) != 0 || buf == NULL) {
		free(buf);
		fprintf(stderr, "ukeyctl: --html: out of memory\n");
		return EXIT_TEMPFAIL;
	}
	ex = write_atomic(path, buf, len);
	free(buf);
	return ex;
}

/* The request's arguments from the options. */
static int
report_args(const struct ctl_args *a, struct json_object *args)
{
	time_t now = time(NULL);
	struct tm tm;
	int64_t hours;

	ctl_add_str(args, "since", a->val[OPT_SINCE]);
	ctl_add_str(args, "until", a->val[OPT_UNTIL]);
	ctl_add_str(args, "by", a->val[OPT_BY]);
	if (ctl_arg_int(a, OPT_HOURS, &hours) != 0)
		return EXIT_USAGE;
	if (a->val[OPT_HOURS] != NULL)
		json_object_object_add(args, "hours", json_object_new_int64(hours));
	/* working days and calendar days are those of the caller's time zone */
	if (localtime_r(&now, &tm) != NULL)
		json_object_object_add(args, "utc_offset", json_object_new_int64(tm.tm_gmtoff / 60));
	return EXIT_OK;
}

int
verb_report(const struct ctl_verb *v, const struct ctl_args *a)
{
	const char *what = v->words + strlen("report ");
	const char *cmd = strcmp(what, "production") == 0 ? "report.production" :
	    strcmp(what, "service-times") == 0 ? "report.service_times" : "report.reconcile";
	const char *cols[] = { NULL, "tokens", "failures", "median_seconds", NULL };
	const char *text_cols[] = { NULL, "tokens", "failures", "median", NULL };
	struct json_object *args = json_object_new_object(), *rep = NULL, *res, *rows = NULL;
	struct json_object *human = NULL, *again = NULL;
	static const char *const found_lists[] = { "mismatches", "explained", NULL };
	static const char *const svc_lists[] = { "orders", NULL };
	int ex;

	if (strcmp(what, "production") == 0 &&
	    (!ctl_need(v, "--since", a->val[OPT_SINCE] != NULL) ||
	    !ctl_need(v, "--until", a->val[OPT_UNTIL] != NULL))) {
		json_object_put(args);
		return EXIT_USAGE;
	}
	if (a->val[OPT_CSV] != NULL && ctl_json) {
		json_object_put(args);
		fprintf(stderr, "ukeyctl: %s: --csv and --json exclude each other\n", v->words);
		return EXIT_USAGE;
	}
	if ((ex = report_args(a, args)) != EXIT_OK) {
		json_object_put(args);
		return ex;
	}
	if (json_object_deep_copy(args, &again, NULL) != 0) {
		json_object_put(args);
		return EXIT_TEMPFAIL;
	}
	if ((ex = ctl_run(cmd, args, &rep, &res)) != EXIT_OK ||
	    (ex = ctl_join_pages(cmd, again, rep, res, strcmp(what, "reconcile") == 0 ? found_lists :
	    svc_lists)) != EXIT_OK)
		goto out;
	cols[0] = text_cols[0] = jget(res, "by");
	/* the human forms (table, CSV, HTML) get durations as text too; --json
	 * prints the result as the daemon sent it */
	if (json_object_deep_copy(res, &human, NULL) != 0) {
		fprintf(stderr, "ukeyctl: out of memory\n");
		ex = EXIT_TEMPFAIL;
		goto out;
	}
	humanise(human);
	if (strcmp(what, "reconcile") == 0)
		rows = findings(human);
	if (a->val[OPT_HTML] != NULL &&
	    (ex = html_write(a->val[OPT_HTML], what, human, text_cols)) != EXIT_OK)
		goto out;
	if (ctl_json)
		print_json(res);
	else if (a->val[OPT_CSV] != NULL)
		report_csv_write(stdout, rows ? rows : strcmp(what, "production") == 0 ?
		    json_object_object_get(human, "rows") : json_object_object_get(human, "orders"),
		    rows ? finding_cols : strcmp(what, "production") == 0 ? cols : service_csv_cols);
	else if (rows != NULL)
		reconcile_text(human, rows);
	else if (strcmp(what, "production") == 0)
		production_text(human, text_cols);
	else
		service_text(human);
	/* like audit verify: a reconciliation that finds a mismatch exits 1 */
	if (rows != NULL && !json_object_get_boolean(json_object_object_get(res, "ok")))
		ex = EXIT_REFUSED;
 out:
	json_object_put(again);
	json_object_put(rows);
	json_object_put(human);
	json_object_put(rep);
	return ex;
}
