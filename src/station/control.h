/* The control protocol's request context and the command handlers that the
 * dispatch table in control.c names. */
#ifndef UKEY_CONTROL_H
#define UKEY_CONTROL_H

#include <stdint.h>
#include <sys/types.h>

#include "common/frame.h"
#include "station/station.h"
#include "station/watch.h"

/* Control client slots (docs/protocol.md, "Connections"): users without a
 * role share a few, so that they cannot take the slots of those with one;
 * no user holds more than USER_CLIENTS_MAX. */
#define MAX_CLIENTS 64
#define NOROLE_CLIENTS_MAX 8
#define USER_CLIENTS_MAX 16

/* One connection on the control socket. */
struct client {
	int64_t id;
	int fd;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	char user[64];
	unsigned roles;		/* enum config_role bits, from [roles] at connect */
	struct framer in;
	int64_t since_ms;	/* connected or last replied to: the idle deadline's start */
	int awaiting;		/* a deferred reply is due: not idle */
	int eof;		/* the client closed its side */
	int closing;		/* close once out is written */
	uint8_t *out;		/* reply bytes not yet written (may hold a PIN: wiped) */
	size_t out_len, out_off;
	int64_t out_since_ms;	/* since when out has been waiting to be written */
	int dead;
	int held;		/* requests wait behind a deferred reply */
	struct watch_sub watch;	/* watch.subscribe (watch.c) */
};

/* control.c: the Unix socket. */
int control_listen(struct station *s);
void control_accept(struct station *s);
void control_on_readable(struct station *s, struct client *c);
/* Writes what is queued for c without blocking; serves requests it held
 * back meanwhile. */
void control_on_writable(struct station *s, struct client *c);
/* 1 while c has reply bytes not yet written (poll it for POLLOUT, not POLLIN). */
int control_wants_write(const struct client *c);
/* Closes clients past their deadline (station.client_timeout): no complete
 * request for that long, or a reply not read for that long. Loop context. */
void control_check_timers(struct station *s);
void control_reap(struct station *s);
/* Closes every client and frees what they hold (at exit). */
void control_close_all(struct station *s);
/* The largest reply the daemon sends: FRAME_MAX_CONTROL, or less under the
 * test hook UKEY_TEST_REPLY_MAX (docs/testing-faults.md). */
size_t control_reply_max(void);
/* Sends a reply to a client that was told its request is deferred. */
void control_reply_deferred(struct station *s, int64_t client_id, int rc, const char *msg,
    struct json_object *result);
/* The same with the listing's key to go on from (borrowed; NULL: the last
 * page), as a handler's r->next. */
void control_reply_deferred_next(struct station *s, int64_t client_id, int rc, const char *msg,
    struct json_object *result, struct json_object *next);


/* A dispatch table row open to every connected user, with or without a
 * role (beside the ROLE_* bits of config.h). */
#define CONTROL_ROLE_ANYONE 0x100u

struct request {
	struct station *s;
	struct client *c;
	struct json_object *args;	/* borrowed; an object, maybe empty */
	char msg[1024];			/* error message for the reply */
	struct json_object *details;	/* optional array of messages (owned) */
	int deferred;			/* handler will reply later */
	struct json_object *next;	/* a listing's page was full: the key to go on
					 * from, sent beside result (owned) */
};

typedef int (*cmd_fn)(struct request *r, struct json_object **result);

/* Sets r->msg from a format and returns rc, for one-line error exits. */
int req_fail(struct request *r, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Argument accessors: they fill r->msg naming the argument on error. */
int arg_int(struct request *r, const char *name, int required, int64_t *out);
/* The request's "bay" argument (1..station_n_bays()) as the bay, or a
 * refusal naming the bays there are. */
struct bay;
int control_bay_arg(struct request *r, struct bay **out);
int arg_str(struct request *r, const char *name, int required, const char **out);

/* cmd_page.c: pages of the listing commands. after: the key to go on from
 * (an id, a unit's place in the queue, or a position in a report); limit:
 * 1..max, the server's largest page, and max when not given. */
#define LIST_PAGE_MAX 2000	/* rows of a listing one reply holds at most */
#define QUEUE_GLANCE_MAX 10000	/* queue units `status` and a watch frame count, per state */
struct page {
	int64_t after, limit;
};
int page_args(struct request *r, int64_t max, struct page *p);
/* The position after p's last row: p->after + p->limit, INT64_MAX at most. */
int64_t page_end(const struct page *p);
/* After a page of n rows in key order whose last row's key is last: a full
 * page sets r->next to it (a short page is the last). */
void page_next_id(struct request *r, size_t n, int64_t last, const struct page *p);
/* The same, the key being the integer field key of the page's rows. */
void page_next_key(struct request *r, struct json_object *rows, const char *key,
    const struct page *p);

/* Logs every dispatch table row without roles (refused to all but admin)
 * and every name listed twice; returns their number. control_listen runs it. */
int control_check_table(void);

/* The handler and the roles of the dispatch table's row for cmd. Returns 0,
 * or UKEY_ERR_NOTFOUND when no row names it. */
int control_command_find(const char *cmd, cmd_fn *fn, unsigned *roles);

/* dualctl.c: dual control ([dual_control]). Loop context.
 * Called by dispatch after authorisation: when [dual_control] holds this
 * request, stores it as a pending request, audits it, sets *held and the
 * reply in *result (owned) and returns 0; else returns 0 with *held 0 and
 * the command runs as usual. Fails (r->msg says why) only when the request
 * cannot be held. */
int dualctl_hold(struct request *r, const char *cmd, int *held, struct json_object **result);
/* Logs every row of the table of held commands whose action has no name in
 * the configuration's list or whose command the dispatch table does not
 * run; returns their number. control_listen runs it. */
int dualctl_check_table(void);
int cmd_pending_list(struct request *r, struct json_object **result);
int cmd_pending_confirm(struct request *r, struct json_object **result);
int cmd_pending_cancel(struct request *r, struct json_object **result);

/* cmd_orders.c */
int cmd_order_import(struct request *r, struct json_object **result);
int cmd_order_list(struct request *r, struct json_object **result);
int cmd_order_show(struct request *r, struct json_object **result);
int cmd_order_approve(struct request *r, struct json_object **result);
int cmd_order_reject(struct request *r, struct json_object **result);
int cmd_order_pay(struct request *r, struct json_object **result);
int cmd_order_override(struct request *r, struct json_object **result);
int cmd_order_edit(struct request *r, struct json_object **result);
int cmd_order_resubmit(struct request *r, struct json_object **result);
int cmd_order_deliver(struct request *r, struct json_object **result);
int cmd_order_cancel(struct request *r, struct json_object **result);
int cmd_order_invoice(struct request *r, struct json_object **result);
int cmd_queue(struct request *r, struct json_object **result);
/* cmd_svcpt.c: an order's service point, set by a reviewer (audited); and
 * the station's point, take and queued units (own and all) added to the
 * ping reply for `ukeyctl status`. */
int cmd_order_set_service_point(struct request *r, struct json_object **result);
void station_point_status(struct station *s, struct json_object *result);
/* Adds key to o: the units in state ("queued", "held", "in_production") of
 * orders waiting for or in production, of point's orders unless point is
 * NULL or "", counted up to QUEUE_GLANCE_MAX; and <key>_more, true, when
 * there are more. 0, or the store's error (o unchanged). */
int station_queue_glance(struct station *s, const char *state, const char *point,
    const char *key, struct json_object *o);

/* cmd_units.c */
int cmd_unit_release(struct request *r, struct json_object **result);
int cmd_unit_cancel(struct request *r, struct json_object **result);

/* cmd_bays.c */
int cmd_bay_list(struct request *r, struct json_object **result);
int cmd_bay_take_pin(struct request *r, struct json_object **result);
int cmd_bay_wipe(struct request *r, struct json_object **result);
int cmd_sim_plug(struct request *r, struct json_object **result);
int cmd_sim_unplug(struct request *r, struct json_object **result);
int cmd_token_inspect(struct request *r, struct json_object **result);
int cmd_job_list(struct request *r, struct json_object **result);
int cmd_job_abandon(struct request *r, struct json_object **result);

/* unblock.c */
int cmd_token_unblock(struct request *r, struct json_object **result);

/* cmd_audit.c */
int cmd_audit_serials(struct request *r, struct json_object **result);
int cmd_audit_verify(struct request *r, struct json_object **result);
int cmd_audit_log(struct request *r, struct json_object **result);
int cmd_audit_checkpoint(struct request *r, struct json_object **result);
int cmd_audit_pubkey(struct request *r, struct json_object **result);
int cmd_audit_export(struct request *r, struct json_object **result);
int cmd_ca_show(struct request *r, struct json_object **result);
int cmd_audit_expiring(struct request *r, struct json_object **result);
/* How many live certificates expire within the next `days` days. */
int station_expiring_count(struct station *s, int days, int64_t *n);

/* cmd_cert.c */
int cmd_cert_revoke(struct request *r, struct json_object **result);
int cmd_ca_crl(struct request *r, struct json_object **result);

/* cmd_token_state.c */
int cmd_token_mark(struct request *r, struct json_object **result);
int cmd_token_show(struct request *r, struct json_object **result);

/* detect.c */
int cmd_events_list(struct request *r, struct json_object **result);

/* cmd_profiles.c */
int cmd_profile_list(struct request *r, struct json_object **result);

/* cmd_reports.c */
int cmd_report_production(struct request *r, struct json_object **result);
int cmd_report_service_times(struct request *r, struct json_object **result);
int cmd_report_reconcile(struct request *r, struct json_object **result);
/* watch.c: subscribes the connection to watch frames; the reply is the
 * first snapshot. */
int cmd_watch_subscribe(struct request *r, struct json_object **result);

/* control.c: queues one frame of len bytes of text for c (pushed, not a
 * reply) and writes what the socket takes now. 0, or UKEY_ERR_IO when the
 * peer is gone, UKEY_ERR_PROTO over FRAME_MAX_CONTROL, UKEY_ERR_NOMEM. */
int control_push(struct client *c, const char *text, size_t len);

#endif
