/* The floor reports off the event loop (docs/reports.md): what a report
 * needs, copied from its request on the loop (cmd_reports.c), and the
 * report made from it in a thread of its own (reportthread.c) on a
 * read-only connection to the store of its own. */
#ifndef UKEY_REPORTS_H
#define UKEY_REPORTS_H

#include <stdint.h>

#include <json-c/json.h>

#include "station/control.h"
#include "store/db.h"

/* Reports that may be made at once (all three kinds); one more is busy. */
#define REPORT_THREADS_MAX 2

enum report_kind { REPORT_PRODUCTION, REPORT_SERVICE_TIMES, REPORT_RECONCILE };

/* Everything a report reads besides the databases: no pointer into the
 * request, the station or its configuration. */
struct report_ask {
	enum report_kind kind;
	char url[1024];			/* the station's store (threadjob_store_url) */
	char ca_dir[512];		/* reconcile: the embedded CA's directory */
	char station_id[64];		/* production by station: this station's jobs */
	char since[16], until[16];	/* "YYYY-MM-DD", "" for an open end */
	int utc_offset_min;
	int64_t first, last;		/* since and until as day numbers */
	char by[16];			/* production: operator, station, day or kind */
	int64_t hours, now;		/* service times: due soon; the time of asking */
	struct page pg;			/* service times, reconcile: the page asked for */
};

/* What the report's reply will be: rc 0 with result (and next, the key to
 * go on from, NULL on the last page), else rc and msg ("" for the error's
 * own text). Owned until sent. */
struct report_answer {
	int rc;
	char msg[1024];
	struct json_object *result, *next;
	/* a report of more than one page: every row of its lists, and its
	 * result without them, kept on the loop for the later pages
	 * (reportspool.h) */
	struct report_spool *spool;
	struct json_object *spool_head;
};

/* The command's name of a kind ("report.production"...). */
const char *report_cmd(enum report_kind kind);
/* Makes the report a asks for from db into ans (zeroed by the caller).
 * Any thread: it touches a, db and ans only, and for reconcile reads the
 * embedded CA's ca.db through a connection of its own. */
void report_make(const struct report_ask *a, struct db *db, struct report_answer *ans);
/* Starts a's report in a thread for r's client (r->deferred set), or
 * refuses (r->msg set; busy past REPORT_THREADS_MAX). Loop context. */
int report_request(struct request *r, const struct report_ask *a);

#endif
