/* ukeyctl's own modules: the verb table and its option parser (table.c,
 * args.c), the socket client (client.c), output (print.c), help and
 * completion (help.c), and the verbs by area (verbs_*.c). */
#ifndef UKEY_CTL_H
#define UKEY_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

enum exit_code {
	EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_NOTFOUND = 2, EXIT_PENDING = 3, EXIT_USAGE = 64,
	EXIT_DATAERR = 65,
	EXIT_NOINPUT = 66, EXIT_UNAVAILABLE = 69, EXIT_TEMPFAIL = 75, EXIT_NOPERM = 77
};

/* Every option a verb may take; a verb's row says which (a mask of O()). */
enum ctl_opt {
	OPT_BAY, OPT_TOKEN, OPT_ORDER, OPT_LIMIT, OPT_TIMEOUT, OPT_STATE, OPT_REMARK,
	OPT_PAYMENT_NO, OPT_OVERRIDE_REASON, OPT_PRESET, OPT_PROFILE, OPT_ORG, OPT_WAIT,
	OPT_REASON, OPT_PICKED_UP_BY, OPT_CARRIER, OPT_TRACKING, OPT_TYPE, OPT_SINCE, OPT_UNTIL,
	OPT_REVEAL, OPT_FILE, OPT_PUBKEY, OPT_DB, OPT_OUTPUT, OPT_WITNESS, OPT_ALL, OPT_PARTIAL,
	OPT_FORMAT, OPT_FOLLOW, OPT_BY, OPT_CSV, OPT_HTML, OPT_HOURS, OPT_ONCE, OPT_WITHIN,
	OPT_SERVICE_POINT, OPT_AFTER, OPT_STATION, OPT_FULL, OPT_JSON, OPT_HELP, OPT_COUNT
};
#define O(x) (UINT64_C(1) << OPT_##x)

struct ctl_option {
	const char *name;	/* without the dashes */
	const char *metavar;	/* NULL: a flag that takes no value */
};
extern const struct ctl_option ctl_options[OPT_COUNT];

/* What followed a verb's words: option values (a flag's is ""; NULL when
 * not given) and the positional arguments, in order. */
struct ctl_args {
	const char *val[OPT_COUNT];
	char **pos;
	int npos;
};

struct ctl_verb;
typedef int (*ctl_handler)(const struct ctl_verb *v, const struct ctl_args *a);

struct ctl_verb {
	const char *words;	/* "order approve" */
	ctl_handler run;
	uint64_t opts;		/* the options it takes (--help always) */
	int min_pos, max_pos;	/* positional arguments; max -1: any number */
	const char *pos;	/* their names, for "ID is required" */
	const char *section;	/* the heading it is listed under in --help */
	const char *usage;	/* what follows the words in its usage line */
	const char *summary;	/* one line */
};
extern const struct ctl_verb ctl_verbs[];
extern const size_t ctl_nverbs;

/* Global state from the options before the verb (main.c). */
extern const char *ctl_sock_path;
extern int ctl_json;

/* args.c: the table's look-ups and the option parser; no output. */
int ctl_verb_words(const struct ctl_verb *v, const char **w, int max);
int ctl_verb_lookup(int argc, char **argv, const struct ctl_verb **out);
int ctl_prefix_len(int argc, char **argv);
int ctl_is_group(int n, char **words);
size_t ctl_suggest(int n, char **words, const char *typed, char *buf, size_t len);
int ctl_option_find(const char *name);
int ctl_args_parse(const struct ctl_verb *v, int argc, char **argv, struct ctl_args *a,
    char *why, size_t len);
int ctl_parse_int(const char *s, const char *what, int64_t *out);
int ctl_arg_int(const struct ctl_args *a, enum ctl_opt o, int64_t *out);

/* help.c */
void ctl_usage(FILE *f);
void ctl_verb_usage(FILE *f, const struct ctl_verb *v);
void ctl_group_usage(FILE *f, int n, char **words);
int ctl_need(const struct ctl_verb *v, const char *what, int ok);
int ctl_completion_bash(FILE *f);
int verb_help(const struct ctl_verb *v, const struct ctl_args *a);
int verb_completion(const struct ctl_verb *v, const struct ctl_args *a);

/* client.c: one request on the control socket. ctl_run takes args, prints
 * a refusal (or the held request) itself and returns its exit code with
 * *reply NULL; on success *reply is the reply (owned: json_object_put it)
 * and *result its result (borrowed from it). */
struct json_object *ctl_call(const char *cmd, struct json_object *args, int *ex);
int ctl_run(const char *cmd, struct json_object *args, struct json_object **reply,
    struct json_object **result);
int ctl_exit_for(const char *code);
/* A request whose connection stays open (watch.subscribe): as ctl_run, and
 * on success *fdp is the connection (the caller closes it); an error reply
 * is printed, its exit code returned and *fdp is -1. */
int ctl_subscribe(const char *cmd, struct json_object *args, struct json_object **reply,
    struct json_object **result, int *fdp);

/* print.c */
void print_json(struct json_object *o);
void print_table(struct json_object *rows, const char *const *cols);
int ctl_simple(const char *cmd, struct json_object *args, const char *const *cols,
    const char *done);
/* As print_table, the header only when header is not 0 (a later page). */
void print_table_rows(struct json_object *rows, const char *const *cols, int header);
/* pages.c: a listing, page by page: args (owned) plus "after" and "limit"
 * (page rows; --after and --limit of a), each page printed as it comes
 * (a table, or with --json one JSON array streamed), going on from the
 * reply's "next" until a reply has none. With --limit N only that page,
 * and where to go on from on stderr. Returns the exit code. */
#define CTL_PAGE 1000	/* rows a page of a listing asks for */
int ctl_list(const char *cmd, struct json_object *args, const char *const *cols,
    const struct ctl_args *a, int page);
/* A reply whose lists come in pages, joined: asks cmd with args (borrowed)
 * and "after" for the pages after the one in rep/res (from rep's "next" on),
 * with res's "report_id" when it names one (the daemon keeps that report for
 * its later pages), and appends their rows of each of lists (NULL-ended) to
 * res's. Returns the exit code; on failure the failing reply was reported by
 * ctl_run. */
int ctl_join_pages(const char *cmd, struct json_object *args, struct json_object *rep,
    struct json_object *res, const char *const *lists);
void ctl_add_str(struct json_object *args, const char *key, const char *v);
void ctl_add_int(struct json_object *args, const char *key, int64_t v);
char *ctl_read_file(const char *path, size_t max, size_t *len);

/* verbs_orders.c */
int verb_order_import(const struct ctl_verb *v, const struct ctl_args *a);
int verb_order_list(const struct ctl_verb *v, const struct ctl_args *a);
int verb_order_edit(const struct ctl_verb *v, const struct ctl_args *a);
int verb_order_set_point(const struct ctl_verb *v, const struct ctl_args *a);
int verb_order_id(const struct ctl_verb *v, const struct ctl_args *a);

/* verbs_bays.c */
int verb_bays(const struct ctl_verb *v, const struct ctl_args *a);
int verb_bay(const struct ctl_verb *v, const struct ctl_args *a);
int verb_bay_take_pin(const struct ctl_verb *v, const struct ctl_args *a);
int verb_bay_enter_pin(const struct ctl_verb *v, const struct ctl_args *a);
int verb_bay_reset_pin(const struct ctl_verb *v, const struct ctl_args *a);
int verb_token(const struct ctl_verb *v, const struct ctl_args *a);
int verb_jobs(const struct ctl_verb *v, const struct ctl_args *a);
int verb_job_abandon(const struct ctl_verb *v, const struct ctl_args *a);
int verb_sim_plug(const struct ctl_verb *v, const struct ctl_args *a);
int verb_sim_unplug(const struct ctl_verb *v, const struct ctl_args *a);
int verb_events(const struct ctl_verb *v, const struct ctl_args *a);
int verb_sources(const struct ctl_verb *v, const struct ctl_args *a);
int ctl_bay_wait(int64_t bay, int64_t timeout_s);

/* verbs_audit.c */
int verb_audit_list(const struct ctl_verb *v, const struct ctl_args *a);
int verb_audit_verify(const struct ctl_verb *v, const struct ctl_args *a);
int verb_audit_export(const struct ctl_verb *v, const struct ctl_args *a);
int verb_audit_show(const struct ctl_verb *v, const struct ctl_args *a);

/* verbs_cert.c */
int verb_cert_revoke(const struct ctl_verb *v, const struct ctl_args *a);
int verb_ca_crl(const struct ctl_verb *v, const struct ctl_args *a);
int verb_audit_expiring(const struct ctl_verb *v, const struct ctl_args *a);

/* verbs_tokens.c */
int verb_token_mark(const struct ctl_verb *v, const struct ctl_args *a);
int verb_token_show(const struct ctl_verb *v, const struct ctl_args *a);

/* verbs_queue.c */
int verb_queue(const struct ctl_verb *v, const struct ctl_args *a);
int verb_unit(const struct ctl_verb *v, const struct ctl_args *a);
int verb_pending(const struct ctl_verb *v, const struct ctl_args *a);
int verb_pending_cancel(const struct ctl_verb *v, const struct ctl_args *a);
int verb_confirm(const struct ctl_verb *v, const struct ctl_args *a);
int verb_status(const struct ctl_verb *v, const struct ctl_args *a);

/* verbs_profiles.c */
int verb_profiles(const struct ctl_verb *v, const struct ctl_args *a);
int verb_profiles_check(const struct ctl_verb *v, const struct ctl_args *a);
int verb_profiles_udev_rules(const struct ctl_verb *v, const struct ctl_args *a);

/* verbs_reports.c: the floor reports, and their writers (tested alone):
 * one CSV field or a table of rows (RFC 4180, CRLF), HTML-escaped text,
 * the production chart as inline SVG. */
int verb_report(const struct ctl_verb *v, const struct ctl_args *a);
void report_csv_field(FILE *f, const char *s);
void report_csv_write(FILE *f, struct json_object *rows, const char *const *cols);
void report_html_text(FILE *f, const char *s);
void report_svg_chart(FILE *f, struct json_object *days);
void report_duration(int64_t s, char *out, size_t len);
/* verbs_watch.c */
int verb_watch(const struct ctl_verb *v, const struct ctl_args *a);
/* Writes the view of a watch snapshot as text lines; age_ms is how long ago
 * it arrived (running bays' elapsed times go on). */
void ctl_watch_render(FILE *f, struct json_object *snap, int64_t age_ms);
/* Copies src into dst (dstlen bytes, NUL-terminated) fitted to exactly cols
 * terminal columns: cut on a character boundary, padded with spaces; East
 * Asian wide characters take two columns; control characters and bytes
 * that are not UTF-8 show as '?'. Returns the columns written. */
int ctl_text_fit(char *dst, size_t dstlen, const char *src, int cols);

#endif
