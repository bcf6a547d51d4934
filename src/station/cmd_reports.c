/* The floor reports (docs/reports.md): production (tokens cut, failures by
 * cause, median time per token), service times against the production
 * promise, and the reconciliation of payments, issuances and the CA's list.
 * The handlers check the arguments on the loop and copy them into a
 * report_ask; the report is made in a thread (reports.h, reportthread.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ca/ca.h"
#include "common/err.h"
#include "common/log.h"
#include "common/reportcalc.h"
#include "station/control.h"
#include "station/reports.h"
#include "station/reportspool.h"
#include "station/threadjob.h"
#include "store/store.h"
#include "store/store_ca.h"
#include "store/store_reports.h"

/* The longest window a production report draws day by day. */
#define REPORT_MAX_DAYS 366
/* The promise of the source documents: production within one working day
 * (制证时间：审核通过后 1 个工作日内完成制证). */
#define PROMISE_WORKING_DAYS 1
#define DUE_SOON_HOURS_DEFAULT 4

struct window {
	struct store_report_window w;
	int64_t first, last;	/* day numbers; 0 when open */
};

/* since/until (required or not) and utc_offset from the request. */
static int
window_args(struct request *r, int required, struct window *win)
{
	int64_t off = 0;
	int rc;

	memset(win, 0, sizeof(*win));
	if ((rc = arg_str(r, "since", required, &win->w.since)) == UKEY_ERR_INVAL ||
	    (rc = arg_str(r, "until", required, &win->w.until)) == UKEY_ERR_INVAL ||
	    (rc = arg_int(r, "utc_offset", 0, &off)) == UKEY_ERR_INVAL)
		return UKEY_ERR_INVAL;
	if (off < REPORT_OFFSET_MIN || off > REPORT_OFFSET_MAX)
		return req_fail(r, UKEY_ERR_INVAL, "argument utc_offset: %lld minutes; must be"
		    " %d to %d minutes east of UTC", (long long)off, REPORT_OFFSET_MIN,
		    REPORT_OFFSET_MAX);
	win->w.utc_offset_min = (int)off;
	if (win->w.since != NULL && report_day_parse(win->w.since, &win->first) != 0)
		return req_fail(r, UKEY_ERR_INVAL, "argument since: \"%s\" is not a day"
		    " (YYYY-MM-DD)", win->w.since);
	if (win->w.until != NULL && report_day_parse(win->w.until, &win->last) != 0)
		return req_fail(r, UKEY_ERR_INVAL, "argument until: \"%s\" is not a day"
		    " (YYYY-MM-DD)", win->w.until);
	if (win->w.since != NULL && win->w.until != NULL && win->last < win->first)
		return req_fail(r, UKEY_ERR_INVAL, "argument until: %s is before since (%s)",
		    win->w.until, win->w.since);
	return 0;
}

/* The request's window as the ask keeps it (copies, not the request's). */
static void
ask_window_set(struct report_ask *a, const struct window *win)
{
	snprintf(a->since, sizeof(a->since), "%s", win->w.since ? win->w.since : "");
	snprintf(a->until, sizeof(a->until), "%s", win->w.until ? win->w.until : "");
	a->utc_offset_min = win->w.utc_offset_min;
	a->first = win->first;
	a->last = win->last;
}

/* The window of the ask, pointing into it, for the thread. */
static void
ask_window(const struct report_ask *a, struct window *win)
{
	memset(win, 0, sizeof(*win));
	win->w.since = a->since[0] ? a->since : NULL;
	win->w.until = a->until[0] ? a->until : NULL;
	win->w.utc_offset_min = a->utc_offset_min;
	win->first = a->first;
	win->last = a->last;
}

/* The ask of a report of kind for r: the store's url and this station's
 * id; the rest is the handler's. */
static void
ask_init(struct request *r, enum report_kind kind, struct report_ask *a)
{
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	threadjob_store_url(r->s, a->url, sizeof(a->url));
	snprintf(a->station_id, sizeof(a->station_id), "%s", station_cfg(r->s)->station_id);
}

static void
add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static void
add_int(struct json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

/* ---- production ---- */

/* One row of a production report: the jobs of one key. */
struct prod_row {
	char key[160];
	int64_t tokens, failures;
	struct report_durations secs;	/* the issued jobs' durations, by value */
};

struct prod_rows {
	struct prod_row *a;
	size_t n;
};

static void
prod_rows_free(struct prod_rows *rows)
{
	size_t i;

	for (i = 0; i < rows->n; i++)
		report_durations_free(&rows->a[i].secs);
	free(rows->a);
	rows->a = NULL;
	rows->n = 0;
}

/* The row of key (added when new), or NULL when memory runs out. */
static struct prod_row *
prod_row_get(struct prod_rows *rows, const char *key)
{
	struct prod_row *nb;
	size_t i;

	for (i = 0; i < rows->n; i++)
		if (strcmp(rows->a[i].key, key) == 0)
			return &rows->a[i];
	if ((nb = realloc(rows->a, (rows->n + 1) * sizeof(*nb))) == NULL)
		return NULL;
	rows->a = nb;
	memset(&nb[rows->n], 0, sizeof(*nb));
	snprintf(nb[rows->n].key, sizeof(nb[rows->n].key), "%s", key);
	return &nb[rows->n++];
}

/* Stores v as the n-th of the durations *a (room for *cap), which grow by
 * doubling; the caller counts it. 0 or UKEY_ERR_NOMEM. */
static int
secs_push(int64_t **a, size_t n, size_t *cap, int64_t v)
{
	int64_t *na;

	if (n == *cap) {
		if ((na = realloc(*a, (*cap ? 2 * *cap : 64) * sizeof(*na))) == NULL)
			return UKEY_ERR_NOMEM;
		*a = na;
		*cap = *cap ? 2 * *cap : 64;
	}
	(*a)[n] = v;
	return 0;
}

/* Counts job j into the row of key. */
static int
prod_count(struct prod_rows *rows, const char *key, const struct store_report_job *j)
{
	struct prod_row *row = prod_row_get(rows, key ? key : "-");

	if (row == NULL)
		return UKEY_ERR_NOMEM;
	if (strcmp(j->state, "issued") != 0) {
		row->failures++;
		return 0;
	}
	if (report_durations_add(&row->secs, j->seconds) != 0)
		return UKEY_ERR_NOMEM;
	row->tokens++;
	return 0;
}

/* A row as JSON: {<name>: key, tokens, failures, median_seconds}. */
static struct json_object *
prod_row_json(struct prod_row *row, const char *name)
{
	struct json_object *o = json_object_new_object();
	int64_t med;

	add_str(o, name, row->key);
	add_int(o, "tokens", row->tokens);
	add_int(o, "failures", row->failures);
	if (report_durations_median(&row->secs, &med) == 0)
		add_int(o, "median_seconds", med);
	else
		json_object_object_add(o, "median_seconds", NULL);
	return o;
}

static int
row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct prod_row *)a)->key, ((const struct prod_row *)b)->key);
}

static const char *
prod_key(const struct report_ask *a, const struct store_report_job *j)
{
	if (strcmp(a->by, "operator") == 0)
		return j->operator_name;
	if (strcmp(a->by, "station") == 0)
		return j->station_id ? j->station_id : a->station_id;	/* jobs run here */
	if (strcmp(a->by, "kind") == 0)
		return j->cert_kind;
	return j->day;
}

/* The failure's cause: the kind the station recorded for it (a step and an
 * error), else the step it stopped at. */
static void
cause_of(const struct store_report_job *j, char *out, size_t len)
{
	snprintf(out, len, "%s|%s", j->blame ? j->blame : "unknown", j->kind ? j->kind : j->step);
}

static struct json_object *
causes_json(struct prod_rows *causes)
{
	struct json_object *arr = json_object_new_array(), *o;
	size_t i;
	char *bar;

	for (i = 0; i < causes->n; i++) {
		o = json_object_new_object();
		bar = strchr(causes->a[i].key, '|');
		*bar = '\0';
		add_str(o, "blame", causes->a[i].key);
		add_str(o, "cause", bar + 1);
		add_int(o, "failures", causes->a[i].failures);
		*bar = '|';
		json_object_array_add(arr, o);
	}
	return arr;
}

/* Every day of the window in order, with its row (zero when none). */
static struct json_object *
days_json(const struct window *win, struct prod_rows *days)
{
	struct json_object *arr = json_object_new_array();
	struct prod_row empty;
	int64_t d;
	size_t i;
	char day[16];

	for (d = win->first; d <= win->last; d++) {
		report_day_format(d, day);
		for (i = 0; i < days->n && strcmp(days->a[i].key, day) != 0; i++)
			;
		if (i == days->n) {
			memset(&empty, 0, sizeof(empty));
			snprintf(empty.key, sizeof(empty.key), "%s", day);
		}
		json_object_array_add(arr, prod_row_json(i < days->n ? &days->a[i] : &empty, "day"));
	}
	return arr;
}

/* The tallies (all, by key, by day, by cause) a production report counts
 * its jobs into, one job at a time. */
struct prod_tally {
	const struct report_ask *a;
	struct prod_rows t[4];
};

static int
prod_tally_job(struct store_report_job *j, void *arg)
{
	struct prod_tally *pt = arg;
	char cause[300];
	int rc;

	if ((rc = prod_count(&pt->t[0], "all", j)) == 0)
		rc = prod_count(&pt->t[1], prod_key(pt->a, j), j);
	if (rc == 0)
		rc = prod_count(&pt->t[2], j->day, j);
	if (rc == 0 && strcmp(j->state, "issued") != 0) {
		cause_of(j, cause, sizeof(cause));
		rc = prod_count(&pt->t[3], cause, j);
	}
	return rc;
}

int
cmd_report_production(struct request *r, struct json_object **result)
{
	struct report_ask a;
	struct window win;
	const char *by = NULL;
	int rc;

	(void)result;	/* deferred: the report's thread answers */
	if ((rc = window_args(r, 1, &win)) != 0)
		return rc;
	if (win.last - win.first >= REPORT_MAX_DAYS)
		return req_fail(r, UKEY_ERR_INVAL, "arguments since, until: %lld days; a report"
		    " covers at most %d", (long long)(win.last - win.first + 1), REPORT_MAX_DAYS);
	if (arg_str(r, "by", 0, &by) == UKEY_ERR_INVAL)
		return UKEY_ERR_INVAL;
	if (by == NULL)
		by = "day";
	if (strcmp(by, "operator") != 0 && strcmp(by, "station") != 0 &&
	    strcmp(by, "day") != 0 && strcmp(by, "kind") != 0)
		return req_fail(r, UKEY_ERR_INVAL, "argument by: \"%s\"; must be operator, station,"
		    " day or kind", by);
	ask_init(r, REPORT_PRODUCTION, &a);
	ask_window_set(&a, &win);
	snprintf(a.by, sizeof(a.by), "%s", by);
	return report_request(r, &a);
}

/* The production report's totals, rows, causes and days from the tallies
 * t (all, by key, by day, by cause; sorted here). */
static struct json_object *
prod_json(const struct report_ask *a, const struct window *win, struct prod_rows t[4])
{
	struct json_object *res, *rows, *tot;
	size_t i;

	res = json_object_new_object();
	add_str(res, "since", win->w.since);
	add_str(res, "until", win->w.until);
	add_str(res, "by", a->by);
	add_int(res, "utc_offset", win->w.utc_offset_min);
	tot = t[0].n ? prod_row_json(&t[0].a[0], "all") : json_object_new_object();
	add_int(res, "tokens", t[0].n ? t[0].a[0].tokens : 0);
	add_int(res, "failures", t[0].n ? t[0].a[0].failures : 0);
	json_object_object_add(res, "median_seconds",
	    json_object_get(json_object_object_get(tot, "median_seconds")));
	json_object_put(tot);
	rows = json_object_new_array();
	if (t[1].n > 1)
		qsort(t[1].a, t[1].n, sizeof(t[1].a[0]), row_cmp);
	if (t[3].n > 1)
		qsort(t[3].a, t[3].n, sizeof(t[3].a[0]), row_cmp);
	for (i = 0; i < t[1].n; i++)
		json_object_array_add(rows, prod_row_json(&t[1].a[i], a->by));
	json_object_object_add(res, "rows", rows);
	json_object_object_add(res, "causes", causes_json(&t[3]));
	json_object_object_add(res, "days", days_json(win, &t[2]));
	return res;
}

/* The thread's half of report.production. */
static int
report_production(const struct report_ask *a, struct db *db, struct report_answer *ans)
{
	struct prod_tally pt = { .a = a };
	struct window win;
	size_t i;
	int rc;

	/* the jobs are counted as they are read, not kept */
	ask_window(a, &win);
	if ((rc = store_report_jobs_each(db, &win.w, prod_tally_job, &pt)) == 0)
		ans->result = prod_json(a, &win, pt.t);
	for (i = 0; i < 4; i++)
		prod_rows_free(&pt.t[i]);
	return rc;
}

/* ---- service times ---- */

/* When the promise's clock starts: the order approved and paid (the
 * station takes payment only after approval, so in practice the payment). */
static int
clock_start(const struct store_report_order *o, int64_t *start)
{
	int64_t paid, approved;

	if (report_time_parse(o->paid_at, &paid) != 0)
		return UKEY_ERR_INVAL;
	*start = paid;
	if (o->reviewed_at != NULL && report_time_parse(o->reviewed_at, &approved) == 0 &&
	    approved > paid)
		*start = approved;
	return 0;
}

static const char *const service_statuses[] = { "met", "late", "overdue", "due_soon", "open" };
#define N_SERVICE_STATUSES (sizeof(service_statuses) / sizeof(service_statuses[0]))

/* Where an order stands against the promise: its clock's start, deadline,
 * the time its last certificate was issued (*done, -1 while not finished)
 * and its status (an index into service_statuses). */
static size_t
service_status(const struct store_report_order *o, int64_t now, int64_t hours, int off,
    int64_t *start, int64_t *deadline, int64_t *done)
{
	int finished = strcmp(o->state, "issued") == 0 || strcmp(o->state, "delivered") == 0;

	*start = 0;
	clock_start(o, start);
	*deadline = report_workday_deadline(*start, off, PROMISE_WORKING_DAYS);
	if (finished && o->last_issued != NULL && report_time_parse(o->last_issued, done) == 0)
		return *done <= *deadline ? 0 : 1;
	*done = -1;
	return now > *deadline ? 2 : *deadline - now <= hours * 3600 ? 3 : 4;
}

/* The order's row of the report. */
static struct json_object *
service_row(const struct store_report_order *o, int64_t now, int64_t start, int64_t deadline,
    int64_t done, size_t status)
{
	struct json_object *row = json_object_new_object();
	char t[32];

	add_int(row, "id", o->id);
	add_str(row, "portal_ref", o->portal_ref);
	add_str(row, "org_name", o->org_name);
	add_str(row, "state", o->state);
	add_str(row, "paid_at", o->paid_at);
	report_time_format(start, t);
	add_str(row, "clock_start", t);
	report_time_format(deadline, t);
	add_str(row, "deadline", t);
	add_int(row, "units", o->units - o->cancelled);
	add_int(row, "issued", o->issued);
	if (done >= 0) {
		add_str(row, "issued_at", o->last_issued);
		add_int(row, "elapsed_seconds", done - start);
	} else {
		add_str(row, "issued_at", NULL);
		add_int(row, "elapsed_seconds", now - start);
		add_int(row, "remaining_seconds", deadline - now);
	}
	add_str(row, "status", service_statuses[status]);
	return row;
}

/* A later page of a report kept on the loop (report_id), whose lists are
 * named names. */
static int
kept_page(struct request *r, const char *cmd, const char *const names[SPOOL_LISTS],
    const char *id, const struct page *pg, struct json_object **result)
{
	struct json_object *next = NULL;
	int err = report_kept_page(r->s, cmd, id, pg->after, pg->limit, names, result, &next);

	if (err == UKEY_ERR_NOTFOUND)
		return req_fail(r, UKEY_ERR_STATE, "%s: report %.40s is not kept (a report is kept"
		    " %d minutes after its last page was asked): ask again from the start", cmd, id,
		    REPORT_KEEP_MS / 60000);
	if (err != 0)
		return req_fail(r, err, "%s: report %.40s: %s", cmd, id, ukey_strerror(err));
	json_object_object_add(*result, "report_id", json_object_new_string(id));
	json_object_put(r->next);
	r->next = next;
	log_info("%s: the page after %lld of report %s, from the rows kept", cmd,
	    (long long)pg->after, id);
	return 0;
}

/* The page a report command asks for; with a report_id, that page of the
 * report kept under it, answered here (*kept set). */
static int
report_page_args(struct request *r, const char *cmd, const char *const names[SPOOL_LISTS],
    struct page *pg, struct json_object **result, int *kept)
{
	const char *id = NULL;
	int rc;

	*kept = 0;
	if ((rc = page_args(r, LIST_PAGE_MAX, pg)) != 0)
		return rc;
	if (arg_str(r, "report_id", 0, &id) == UKEY_ERR_INVAL)
		return UKEY_ERR_INVAL;
	if (id == NULL)
		return 0;
	*kept = 1;
	return kept_page(r, cmd, names, id, pg, result);
}

static const char *const service_lists[SPOOL_LISTS] = { "orders", NULL };

int
cmd_report_service_times(struct request *r, struct json_object **result)
{
	struct report_ask a;
	struct window win;
	struct page pg;
	int64_t hours = DUE_SOON_HOURS_DEFAULT;
	int rc, kept;

	if ((rc = report_page_args(r, "report.service_times", service_lists, &pg, result,
	    &kept)) != 0 || kept)
		return rc;
	/* deferred: the report's thread answers */
	if ((rc = window_args(r, 0, &win)) != 0)
		return rc;
	if ((rc = arg_int(r, "hours", 0, &hours)) == UKEY_ERR_INVAL)
		return rc;
	if (hours < 1 || hours > 720)
		return req_fail(r, UKEY_ERR_INVAL, "argument hours: %lld; must be 1 to 720",
		    (long long)hours);
	ask_init(r, REPORT_SERVICE_TIMES, &a);
	ask_window_set(&a, &win);
	a.hours = hours;
	a.now = (int64_t)time(NULL);	/* the time of asking */
	a.pg = pg;
	return report_request(r, &a);
}

/* The service times' head: the window, the promise and the time of asking. */
static struct json_object *
service_head(const struct report_ask *a, const struct window *win)
{
	struct json_object *res = json_object_new_object();
	char t[32];

	add_str(res, "since", win->w.since);
	add_str(res, "until", win->w.until);
	add_int(res, "hours", a->hours);
	add_int(res, "utc_offset", win->w.utc_offset_min);
	report_time_format(a->now, t);
	add_str(res, "now", t);
	add_int(res, "promise_working_days", PROMISE_WORKING_DAYS);
	return res;
}

/* A service-times report made one order at a time: every order counted,
 * the rows of the page asked for kept. */
struct service_walk {
	const struct report_ask *a;
	int off;			/* the window's UTC offset, minutes */
	int64_t counts[N_SERVICE_STATUSES];
	int64_t *secs;			/* the finished orders' times */
	size_t nsecs, cap;
	int64_t at;			/* the next row's position */
	struct json_object *rows;	/* the page's */
	struct report_spool *spool;	/* every row, for the later pages */
};

static int
service_order(struct store_report_order *o, void *arg)
{
	struct service_walk *w = arg;
	struct json_object *row = NULL;
	int64_t start, deadline, done;
	size_t status;
	int in_page;

	if (strcmp(o->state, "cancelled") == 0)	/* nothing owed to produce */
		return 0;
	status = service_status(o, w->a->now, w->a->hours, w->off, &start, &deadline, &done);
	w->counts[status]++;
	if (done >= 0) {
		if (secs_push(&w->secs, w->nsecs, &w->cap, done - start) != 0)
			return UKEY_ERR_NOMEM;
		w->nsecs++;
	}
	in_page = w->at >= w->a->pg.after && w->at < page_end(&w->a->pg);
	if (in_page || w->spool != NULL)
		row = service_row(o, w->a->now, start, deadline, done, status);
	spool_add(&w->spool, 0, row, "report.service_times");
	if (in_page)
		json_object_array_add(w->rows, row);
	else
		json_object_put(row);
	w->at++;
	return 0;
}

/* The thread's half of report.service_times: the orders are read one at a
 * time, counted, and only the page's rows are made. */
static int
report_service_times(const struct report_ask *a, struct db *db, struct report_answer *ans)
{
	struct service_walk w = { .a = a };
	struct json_object *res = NULL, *counts;
	struct window win;
	int64_t med;
	size_t i;
	int rc;

	ask_window(a, &win);
	w.off = win.w.utc_offset_min;
	w.rows = json_object_new_array();
	/* kept only from the first page: a later one asked without the report's
	 * id is made again, as a page of a report kept no more is */
	if (a->pg.after == 0)
		(void)spool_new(&w.spool);	/* none: each later page is made again */
	if ((rc = store_report_orders_each(db, &win.w, service_order, &w)) != 0) {
		json_object_put(w.rows);
		goto out;
	}
	res = service_head(a, &win);
	counts = json_object_new_object();
	for (i = 0; i < N_SERVICE_STATUSES; i++)
		add_int(counts, service_statuses[i], w.counts[i]);
	json_object_object_add(res, "counts", counts);
	if (report_median(w.secs, w.nsecs, &med) == 0)
		add_int(res, "median_seconds", med);
	else
		json_object_object_add(res, "median_seconds", NULL);
	/* the counts and the median are the whole window's; the rows page */
	if (w.at > a->pg.after + (int64_t)json_object_array_length(w.rows))
		ans->next = json_object_new_int64(a->pg.after +
		    (int64_t)json_object_array_length(w.rows));
	/* more than one page: every row kept, with the head, for the later
	 * pages (reportspool.h) */
	spool_hand_over(&w.spool, res, ans);
	json_object_object_add(res, "orders", w.rows);
	ans->result = res;
 out:
	spool_free(w.spool);
	free(w.secs);
	return rc;
}

/* ---- reconciliation ---- */

/* The reconciliation walks its sources once each and holds only what it
 * found: the paid orders one by one, then the station's serials and the
 * CA's list side by side, both in serial order (a merge), so that its
 * memory grows with the findings, not with the years of issuances. */

/* An issuance whose serial the CA's walk did not have: looked up again
 * once the walk is over (issued while the report ran). */
struct recon_late {
	int64_t issuance_id, order_id, job_id;
	char *serial, *portal_ref;
};

struct recon {
	struct ca_reader *cadb;			/* the embedded CA's ca.db, read-only */
	struct report_spool *spool;		/* every finding, for the later pages */
	struct page pg;				/* the findings asked for */
	struct json_object *mismatches, *explained;	/* the page's (recon_add) */
	int64_t nmis, nexp;			/* the findings, counted */
	struct store_ca_cert ca;		/* the CA's entry the merge stands at */
	int ca_more;				/* ca holds an entry (0: the CA's walk ended) */
	int ca_seen;				/* a serial of the station's matched it */
	char *last;				/* the station's previous serial */
	struct recon_late *late;
	size_t nlate;
	int64_t orders, paid_fen, units, refunds, refund_fen;	/* the paid orders */
	int64_t issued, nca, valid;		/* issuances; the CA's list */
};

enum finding { FINDING_MISMATCH, FINDING_EXPLAINED };

/* The lists of a reconciliation's pages, in page order. */
static const char *const recon_lists[SPOOL_LISTS] = { "mismatches", "explained" };

static void
recon_add(struct recon *rc, enum finding which, const char *kind, int64_t order_id,
    const char *ref, const char *serial, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* A finding of the page is kept: the page counts the mismatches, then the
 * explained findings, from page.after; the explained ones come before the
 * mismatches are all counted, so those up to the page's end are kept and
 * sliced by recon_page. Every other finding is only counted, and written to
 * the spool with the page's (a spool that fails is given up: the later
 * pages are then made again). */
static void
recon_add(struct recon *rc, enum finding which, const char *kind, int64_t order_id,
    const char *ref, const char *serial, const char *fmt, ...)
{
	int64_t at = which == FINDING_MISMATCH ? rc->nmis++ : rc->nexp++;
	int64_t to = page_end(&rc->pg);
	int keep = !(at >= to || (which == FINDING_MISMATCH && at < rc->pg.after));
	struct json_object *o;
	char msg[700];
	va_list ap;

	if (!keep && rc->spool == NULL)
		return;
	o = json_object_new_object();
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	add_str(o, "kind", kind);
	if (order_id > 0)
		add_int(o, "order_id", order_id);
	if (ref != NULL)
		add_str(o, "portal_ref", ref);
	if (serial != NULL)
		add_str(o, "serial", serial);
	add_str(o, "message", msg);
	spool_add(&rc->spool, which == FINDING_MISMATCH ? 0 : 1, o, "report.reconcile");
	if (keep)
		json_object_array_add(which == FINDING_MISMATCH ? rc->mismatches : rc->explained,
		    o);
	else
		json_object_put(o);
}

/* The page's explained findings out of those kept, now that the mismatches
 * are counted, and the next page's start (NULL after the last). */
static int
recon_page(struct recon *rc, struct json_object **next)
{
	int64_t to = page_end(&rc->pg), from = rc->pg.after - rc->nmis, i;
	struct json_object *b;

	*next = NULL;
	if ((b = json_object_new_array()) == NULL)
		return UKEY_ERR_NOMEM;
	for (i = from < 0 ? 0 : from; i < to - rc->nmis && i < rc->nexp; i++)
		json_object_array_add(b, json_object_get(json_object_array_get_idx(rc->explained,
		    (size_t)i)));
	json_object_put(rc->explained);
	rc->explained = b;
	if (to < rc->nmis + rc->nexp)
		*next = json_object_new_int64(to);
	return 0;
}

static const char *
dash(const char *s)
{
	return s != NULL ? s : "-";
}

/* A paid order whose certificates fall short with nothing left to produce,
 * or whose refund is due; and its share of the totals. */
static int
recon_order(struct store_report_order *o, void *arg)
{
	struct recon *rc = arg;

	rc->orders++;
	rc->paid_fen += o->total_fen;
	rc->units += o->units;
	if (o->refund_due) {
		rc->refunds++;
		rc->refund_fen += o->total_fen;
		recon_add(rc, FINDING_MISMATCH, "refund_due", o->id, o->portal_ref, NULL,
		    "order %lld (%s, %s): paid %lld.%02lld yuan for %lld certificates, %lld"
		    " issued, %lld cancelled; refund due", (long long)o->id, o->portal_ref,
		    o->state, (long long)(o->total_fen / 100), (long long)(o->total_fen % 100),
		    (long long)o->units, (long long)o->issued, (long long)o->cancelled);
	} else if (o->issued < o->units && o->pending == 0)
		recon_add(rc, FINDING_MISMATCH, "paid_not_issued", o->id, o->portal_ref, NULL,
		    "order %lld (%s, %s): paid %lld.%02lld yuan for %lld certificates, %lld"
		    " issued, %lld cancelled, none in production, no refund recorded",
		    (long long)o->id, o->portal_ref, o->state, (long long)(o->total_fen / 100),
		    (long long)(o->total_fen % 100), (long long)o->units, (long long)o->issued,
		    (long long)o->cancelled);
	return 0;
}

/* A CA certificate and what the station knows of its serial (c NULL:
 * nothing): no finding when an issuance records it; else received by a
 * job that did not issue it (revoked, or still being written), or unknown
 * here. */
static void
recon_ca_entry(struct recon *rc, const struct store_report_cert *c, const struct store_ca_cert *ca)
{
	const char *serial = ca->serial, *status = dash(ca->status);
	int valid = strcmp(status, "valid") == 0;

	if (c != NULL && c->issuance_id > 0)
		return;
	if (c == NULL)
		recon_add(rc, FINDING_MISMATCH, "ca_without_issuance", 0, NULL, serial, "certificate %s"
		    " (%s; %s at the CA) has no issuance record and the station never received it",
		    serial, dash(ca->subject), status);
	else if (!valid && (strcmp(c->status, "revoked") == 0 || strcmp(c->status, "refused") == 0))
		recon_add(rc, FINDING_EXPLAINED, "revoked_orphan", c->order_id, c->portal_ref, serial,
		    "certificate %s: received by job %lld (%s) and never issued onto a token;"
		    " revoked at the CA (%s, %s); the station recorded it %s: %s", serial,
		    (long long)c->job_id, dash(c->job_state), dash(ca->revoke_reason),
		    dash(ca->revoked_at), c->status, dash(c->note));
	else if (valid && strcmp(c->status, "received") == 0 && c->job_state != NULL &&
	    (strcmp(c->job_state, "running") == 0 || strcmp(c->job_state, "suspended") == 0))
		recon_add(rc, FINDING_EXPLAINED, "in_production", c->order_id, c->portal_ref, serial,
		    "certificate %s: job %lld (%s) has not written it yet", serial,
		    (long long)c->job_id, c->job_state);
	else
		recon_add(rc, FINDING_MISMATCH, "ca_without_issuance", c->order_id, c->portal_ref, serial,
		    "certificate %s: %s at the CA, received by job %lld (%s) and recorded %s%s%s,"
		    " but no issuance records it", serial, status, (long long)c->job_id,
		    dash(c->job_state), c->status, c->note ? ": " : "", c->note ? c->note : "");
}

/* An issuance whose certificate the CA lists as not valid. */
static void
recon_revoked_at_ca(struct recon *rc, int64_t issuance_id, int64_t order_id, const char *ref,
    const struct store_ca_cert *ca)
{
	recon_add(rc, FINDING_MISMATCH, "issued_revoked_at_ca", order_id, ref, ca->serial,
	    "issuance %lld (order %lld): certificate %s is %s at the CA (%s, %s) but recorded"
	    " as issued", (long long)issuance_id, (long long)order_id, ca->serial,
	    dash(ca->status), dash(ca->revoke_reason), dash(ca->revoked_at));
}

/* The CA's next entry into rc->ca (rc->ca_more 0 at the end), counted. */
static int
recon_ca_next(struct recon *rc)
{
	char *prev = rc->ca.serial;
	int r;

	rc->ca.serial = NULL;	/* kept for the order check */
	r = ca_reader_next(rc->cadb, &rc->ca);
	if (r == 1 && (rc->ca.serial == NULL || (prev != NULL && strcmp(prev, rc->ca.serial) >= 0))) {
		log_error("report.reconcile: the CA's list is not in serial order at %s",
		    dash(rc->ca.serial));
		r = UKEY_ERR_DB;
	}
	free(prev);
	rc->ca_more = r == 1;
	rc->ca_seen = 0;
	if (r != 1)
		return r;
	rc->nca++;
	rc->valid += rc->ca.status != NULL && strcmp(rc->ca.status, "valid") == 0;
	return 0;
}

/* Moves the CA's walk past every entry before serial (NULL: to its end);
 * an entry no serial of the station's matched is the CA's alone. */
static int
recon_ca_until(struct recon *rc, const char *serial)
{
	int r;

	while (rc->ca_more && (serial == NULL || strcmp(rc->ca.serial, serial) < 0)) {
		if (!rc->ca_seen)
			recon_ca_entry(rc, NULL, &rc->ca);
		if ((r = recon_ca_next(rc)) != 0)
			return r;
	}
	return 0;
}

/* One serial of the station's against the CA's entry of that serial. */
static int
recon_cert(const struct store_report_cert *c, void *arg)
{
	struct recon *rc = arg;
	struct recon_late *l;
	int match, r;

	if (rc->last != NULL && strcmp(rc->last, c->serial) > 0) {
		log_error("report.reconcile: the station's serials are not in order at %s",
		    c->serial);
		return UKEY_ERR_DB;
	}
	free(rc->last);
	if ((rc->last = strdup(c->serial)) == NULL)
		return UKEY_ERR_NOMEM;
	if ((r = recon_ca_until(rc, c->serial)) != 0)
		return r;
	match = rc->ca_more && strcmp(rc->ca.serial, c->serial) == 0;
	if (c->issuance_id > 0) {
		rc->issued++;
		if (match && strcmp(dash(rc->ca.status), "valid") != 0)
			recon_revoked_at_ca(rc, c->issuance_id, c->order_id, c->portal_ref, &rc->ca);
		else if (!match) {
			if ((l = store_array_add((void **)&rc->late, &rc->nlate,
			    sizeof(*rc->late))) == NULL)
				return UKEY_ERR_NOMEM;
			l->issuance_id = c->issuance_id;
			l->order_id = c->order_id;
			l->job_id = c->job_id;
			l->serial = strdup(c->serial);
			l->portal_ref = c->portal_ref ? strdup(c->portal_ref) : NULL;
			if (l->serial == NULL || (c->portal_ref != NULL && l->portal_ref == NULL))
				return UKEY_ERR_NOMEM;
		}
	}
	if (match && !rc->ca_seen) {
		recon_ca_entry(rc, c, &rc->ca);
		rc->ca_seen = 1;
	}
	return 0;
}

/* The issuances the CA's walk did not have, looked up again: issued after
 * the walk began (the report runs while bays produce), or not at the CA. */
static int
recon_late(struct recon *rc)
{
	struct store_ca_cert ca = { 0 };
	struct recon_late *l;
	size_t i;
	int r;

	for (i = 0; i < rc->nlate; i++) {
		l = &rc->late[i];
		r = ca_reader_find(rc->cadb, l->serial, &ca);
		if (r == 0) {
			rc->nca++;
			if (strcmp(dash(ca.status), "valid") == 0)
				rc->valid++;
			else
				recon_revoked_at_ca(rc, l->issuance_id, l->order_id, l->portal_ref, &ca);
		} else if (r == UKEY_ERR_NOTFOUND)
			recon_add(rc, FINDING_MISMATCH, "issuance_without_ca_record", l->order_id,
			    l->portal_ref, l->serial, "issuance %lld (order %lld, job %lld): certificate"
			    " %s is not in the CA's list", (long long)l->issuance_id,
			    (long long)l->order_id, (long long)l->job_id, l->serial);
		store_ca_cert_clear(&ca);
		if (r != 0 && r != UKEY_ERR_NOTFOUND)
			return r;
	}
	return 0;
}

static struct json_object *
recon_totals(const struct recon *rc)
{
	struct json_object *res = json_object_new_object();

	add_int(res, "paid_orders", rc->orders);
	add_int(res, "paid_fen", rc->paid_fen);
	add_int(res, "paid_certificates", rc->units);
	add_int(res, "refunds_due", rc->refunds);
	add_int(res, "refund_due_fen", rc->refund_fen);
	add_int(res, "issuances", rc->issued);
	add_int(res, "ca_certificates", rc->nca);
	add_int(res, "ca_valid", rc->valid);
	add_int(res, "ca_revoked", rc->nca - rc->valid);
	json_object_object_add(res, "ok", json_object_new_boolean(rc->nmis == 0));
	return res;
}

static void
recon_free(struct recon *rc)
{
	size_t i;

	ca_reader_close(rc->cadb);
	spool_free(rc->spool);
	store_ca_cert_clear(&rc->ca);
	free(rc->last);
	for (i = 0; i < rc->nlate; i++) {
		free(rc->late[i].serial);
		free(rc->late[i].portal_ref);
	}
	free(rc->late);
	json_object_put(rc->mismatches);
	json_object_put(rc->explained);
}

int
cmd_report_reconcile(struct request *r, struct json_object **result)
{
	struct report_ask a;
	struct ca *ca = station_ca(r->s);
	struct page pg;
	int err, kept;

	if ((err = report_page_args(r, "report.reconcile", recon_lists, &pg, result,
	    &kept)) != 0 || kept)
		return err;
	/* deferred: the report's thread answers */
	/* the CA's list is the embedded CA's ca.db, which the thread reads on
	 * a connection of its own; an external CA keeps its own list */
	if (ca == NULL || strcmp(ca_kind(ca), "embedded") != 0) {
		err = ca == NULL ? UKEY_ERR_INVAL : UKEY_ERR_UNSUPPORTED;
		return req_fail(r, err, "the CA's list of issued certificates: %s", ukey_strerror(err));
	}
	ask_init(r, REPORT_RECONCILE, &a);
	snprintf(a.ca_dir, sizeof(a.ca_dir), "%s", station_cfg(r->s)->ca_dir);
	a.pg = pg;
	return report_request(r, &a);
}

/* The thread's half of report.reconcile. The CA's walk begins first: the
 * station records a certificate after the CA issued it, so every
 * certificate of the CA's snapshot is in the station's records read after
 * it (those issued meanwhile: recon_late looks them up again). */
static int
report_reconcile(const struct report_ask *a, struct db *db, struct report_answer *ans)
{
	struct store_report_window all = { NULL, NULL, 0 };
	struct recon rc = { 0 };
	struct json_object *res;
	int err;

	rc.pg = a->pg;
	rc.mismatches = json_object_new_array();
	rc.explained = json_object_new_array();
	if (spool_new(&rc.spool) != 0)
		rc.spool = NULL;	/* each later page is then made again */
	if ((err = ca_reader_open(a->ca_dir, &rc.cadb)) != 0 ||
	    (err = recon_ca_next(&rc)) < 0) {
		snprintf(ans->msg, sizeof(ans->msg), "the CA's list of issued certificates: %s",
		    ukey_strerror(err));
		goto out;
	}
	/* test hook: a certificate issued between the two reads */
	threadjob_hold("UKEY_TEST_RECONCILE_LATE", "report.reconcile read the CA's list;");
	if ((err = store_report_orders_each(db, &all, recon_order, &rc)) != 0 ||
	    (err = store_report_certs_each(db, recon_cert, &rc)) != 0 ||
	    (err = recon_ca_until(&rc, NULL)) != 0 ||
	    (err = recon_late(&rc)) != 0)
		goto out;
	res = recon_totals(&rc);
	/* the totals and ok are the whole reconciliation's; its findings page */
	if ((err = recon_page(&rc, &ans->next)) != 0) {
		json_object_put(res);
		goto out;
	}
	/* more pages: served from the findings kept, under this head */
	spool_hand_over(&rc.spool, res, ans);
	json_object_object_add(res, "mismatches", rc.mismatches);
	json_object_object_add(res, "explained", rc.explained);
	rc.mismatches = rc.explained = NULL;
	ans->result = res;
	err = 0;
 out:
	recon_free(&rc);
	return err;
}

const char *
report_cmd(enum report_kind kind)
{
	switch (kind) {
	case REPORT_PRODUCTION:
		return "report.production";
	case REPORT_SERVICE_TIMES:
		return "report.service_times";
	default:
		return "report.reconcile";
	}
}

void
report_make(const struct report_ask *a, struct db *db, struct report_answer *ans)
{
	switch (a->kind) {
	case REPORT_PRODUCTION:
		ans->rc = report_production(a, db, ans);
		break;
	case REPORT_SERVICE_TIMES:
		ans->rc = report_service_times(a, db, ans);
		break;
	default:
		ans->rc = report_reconcile(a, db, ans);
		break;
	}
}
