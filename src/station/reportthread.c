/* The floor reports off the event loop (reports.h): each report is made in
 * a thread (threadjob.h) on a read-only connection to the store of its
 * own, from what its handler copied, and answered from the loop. */
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "common/log.h"
#include "station/control.h"
#include "station/reports.h"
#include "station/reportspool.h"
#include "station/threadjob.h"
#include "store/db.h"

struct reportjob {
	struct report_ask ask;
	struct report_answer ans;
};

/* The thread: the store opened read-only (an SQLite file, or a PostgreSQL
 * connection of its own), the report made, the connection closed. */
static void
report_run(void *arg)
{
	struct reportjob *j = arg;
	struct db *db = NULL;

	if ((j->ans.rc = db_open_readonly(j->ask.url, &db)) != 0)
		return;
	report_make(&j->ask, db, &j->ans);
	db_close(db);
}

/* Loop context: the reply, as the handler would have sent it. */
static void
report_reply(struct station *s, int64_t client_id, void *arg)
{
	struct reportjob *j = arg;
	const char *cmd = report_cmd(j->ask.kind);

	if (j->ans.rc != 0) {
		log_warn("%s: %s", cmd, j->ans.msg[0] ? j->ans.msg : ukey_strerror(j->ans.rc));
		if (j->ans.msg[0] == '\0')	/* as dispatch says it for a handler */
			snprintf(j->ans.msg, sizeof(j->ans.msg), "%s: %s", cmd,
			    ukey_strerror(j->ans.rc));
		json_object_put(j->ans.result);
		j->ans.result = NULL;
		control_reply_deferred(s, client_id, j->ans.rc, j->ans.msg, NULL);
		return;
	}
	if (j->ans.spool != NULL) {
		char id[33];

		/* the later pages: the head, with rows from the spool (both taken) */
		if (report_keep(s, cmd, j->ans.spool, j->ans.spool_head, id) == 0)
			json_object_object_add(j->ans.result, "report_id",
			    json_object_new_string(id));
		j->ans.spool = NULL;
		j->ans.spool_head = NULL;
	}
	control_reply_deferred_next(s, client_id, 0, NULL, j->ans.result, j->ans.next);
	j->ans.result = NULL;	/* sent (or dropped): the reply's */
}

static void
report_free(void *arg)
{
	struct reportjob *j = arg;

	if (j == NULL)
		return;
	json_object_put(j->ans.result);
	json_object_put(j->ans.next);
	spool_free(j->ans.spool);
	json_object_put(j->ans.spool_head);
	free(j);
}

static const struct threadjob_kind report_kind = {
	.what = "reports",
	.max = REPORT_THREADS_MAX,
	.hold_env = "UKEY_TEST_REPORT_HOLD",
	.run = report_run,
	.reply = report_reply,
	.free = report_free,
};

int
report_request(struct request *r, const struct report_ask *a)
{
	struct reportjob *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return req_fail(r, UKEY_ERR_NOMEM, "%s: %s", report_cmd(a->kind),
		    ukey_strerror(UKEY_ERR_NOMEM));
	j->ask = *a;
	return threadjob_request(r, report_cmd(a->kind), &report_kind, j);
}
