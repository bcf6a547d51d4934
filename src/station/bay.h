/* A bay: one place where a token sits (a USB port, a reader, a simulated
 * bay), its token, and the worker process that talks to it (bay.c). The bay
 * and job modules work on struct bay; command handlers read it. */
#ifndef UKEY_STATION_BAY_H
#define UKEY_STATION_BAY_H

#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "common/frame.h"
#include "common/secret.h"
#include "common/dercache.h"
#include "detect/source.h"
#include "station/jobrule.h"
#include "station/station.h"

enum bay_state {
	BAY_EMPTY,	/* no token */
	BAY_STARTING,	/* token arrived, worker starting */
	BAY_PROBING,	/* asking the token what it is */
	BAY_WORKING,	/* a job runs on the token */
	BAY_DONE,	/* job issued; the token can be taken out */
	BAY_IDLE,	/* token present, nothing queued for it */
	BAY_REFUSED,	/* token not usable (not blank, no profile, ...) */
	BAY_FAILED,	/* the job failed; see the reason */
	BAY_FAULTED	/* the worker crashed or hung */
};

/* What a detection source reports when a token arrives. */
struct arrival {
	const char *source;		/* "sim", "libusb", "udev", "pcsc" */
	const char *profile;		/* firmware profile name when the source knows it */
	const char *softhsm_conf;	/* SOFTHSM2_CONF for virtual tokens, else NULL */
	const char *module;		/* PKCS#11 module for the worker in place of the
					 * profile's (sim.softhsm_module), else NULL */
	const char *device;		/* human description (vid:pid, reader, virtual token id) */
	const char *reader;		/* PC/SC reader name, else NULL */
	const char *usb_serial;		/* USB iSerialNumber, else NULL */
	int64_t detected_ms;		/* monotonic ms when the source saw it (0: now) */
};

typedef void (*worker_cb)(struct station *s, struct bay *b, int rc, struct json_object *reply);

/* stopped workers of one bay not reaped yet: one in its grace after a write
 * ahead, or killed and stuck in the kernel (a device that does not answer) */
#define BAY_ENDING_MAX 4

/* The two people behind a command run under dual control (dualctl.c): the
 * audit records written while it runs carry both (station_audit). */
struct dual_actors {
	int64_t request;		/* dual_requests.id; 0 when none */
	char requested_by[64];
	char confirmed_by[64];
};

struct bay {
	int index;			/* 1-based */
	char name[DETECT_BAY_MAX];	/* "sim-1", "usb:1-2.3", "pcsc:<reader>" */
	char source[16];		/* the source that created the bay */
	char reader[128];		/* PC/SC reader of the token in the bay, "" if none */
	char usb_serial[128];		/* USB iSerialNumber of the token, "" if unknown */
	int64_t arrived_ms;		/* when the source saw the token (monotonic ms) */
	int64_t arrival_to_job_ms;	/* latency of the last job start, -1 if none */
	int64_t probe_sent_ms, probed_ms;	/* the arrival's probe: asked, answered */
	enum bay_state state;
	char reason[512];		/* why refused / failed / faulted */
	char device[128];
	char softhsm_conf[512];
	const struct fw_profile *profile;

	pid_t worker_pid;
	int worker_fd;
	char worker_module[512];	/* the module the running worker loaded */
	int worker_keep;		/* it may serve the bay's next token (no
					 * fresh-worker quirk) */
	int worker_tokens;		/* tokens the running worker has probed */
	/* the request in flight asks the worker to write the CA certificate
	 * after its reply (make_csr, job_steps.c) */
	int worker_ahead_asked;
	/* the worker may be writing the CA certificate after make_csr's
	 * reply, until its next reply: stopped, it is let finish first */
	int worker_writes_ahead;
	/* workers stopped and not reaped yet, never waited for on the loop
	 * (bay_reap_workers): pid, and when it gets SIGKILL (0: it has) */
	struct {
		pid_t pid;
		int64_t kill_ms;
	} ending[BAY_ENDING_MAX];
	int64_t p11_calls;		/* calls into the module for the bay's token */
	struct framer in;
	char pending_op[32];		/* request in flight, "" when none */
	worker_cb pending_cb;
	int64_t deadline_ms;		/* monotonic ms when the request times out */

	struct json_object *token;	/* probe reply's token object, or NULL */
	char token_serial[64];
	int64_t job_id;			/* running job or 0 */
	struct dercache der;		/* its key and certificate, decoded (dercache.h) */
	int64_t last_job_id;
	int64_t store_wait_job;		/* a job whose end waits for the store (job_store_back) */
	int allow_wipe;
	struct secret user_pin;		/* held until shown once (bay.take_pin) */
	struct secret so_pin;		/* the SO PIN this job sets */
	struct secret wipe_so;		/* current SO PIN when re-initialising */
	int pin_unblocked;		/* user_pin is an unblock's new PIN, not a job's */
	struct secret unblock_pin;	/* new user PIN while token.unblock runs */
	char unblock_actor[64];		/* who asked for the unblock under way */
	char unblock_remark[512];	/* and why ("" if not said) */
	struct dual_actors unblock_dual;	/* its two people, when held for confirmation */
	char pin_holder[64];		/* an unblock's new PIN is shown to this user only ("" anyone) */
	int64_t started_ms;
	double last_job_seconds;
	/* where the last job's time went (bay.list step_ms): each step's wall
	 * time from its begin mark to its done (job_step_timed), for the steps
	 * whose bit is set in step_ran; step_began_ms is when step_timed began */
	int64_t step_began_ms;
	int step_timed;
	unsigned step_ran;
	int32_t step_ms[STEP_DISCARD_OLD + 1];
	char operator_name[64];	/* who put the token in */
	int64_t waiting_client;	/* client id awaiting a deferred reply, 0 if none */
	int64_t retry_at_ms;	/* CA retry time, 0 if none */
	int ca_attempts;	/* submissions the CA was unavailable for, this job */
	int awaiting_pin;	/* a renewal waits for the holder's PIN (bay.enter_pin) */
	int renew_next;		/* the step (enum step) a renewal goes on at after login */
	int renew_pin_reset;	/* the renewal's PIN is a new one set with the SO PIN */
	int pin_refused;	/* wrong PINs the token refused in this bay's renewal */
	int64_t discard_job;	/* a failed renewal whose new key pair is being removed */
	/* key ids an ended renewal of this token left on it, removed after the
	 * login (job_renew.c); n_leftover of them */
	char leftover_ids[4][132];
	int n_leftover;
	char pin_actor[64];	/* who entered or reset the renewal's PIN */
};

/* bay.c: token arrival/removal and the worker channel. Loop context only. */
int bay_token_arrived(struct station *s, struct bay *b, const struct arrival *a);
void bay_token_left(struct station *s, struct bay *b);
int bay_send(struct station *s, struct bay *b, const char *op, struct json_object *req,
    int timeout_ms, worker_cb cb);
void bay_on_readable(struct station *s, struct bay *b);
void bay_check_timers(struct station *s);
/* Reaps the bays' stopped workers that ended, and gives SIGKILL to those
 * whose time to finish a write ran out; never waits. */
void bay_reap_workers(struct station *s);
void bay_kick_idle(struct station *s);
const char *bay_state_name(enum bay_state st);
struct json_object *bay_to_json(struct station *s, const struct bay *b);
void bay_set_state(struct station *s, struct bay *b, enum bay_state st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void bay_shutdown_all(struct station *s);

/* The bay named name (a source's stable identity); created (as bay
 * station_n_bays() + 1, for source) when create and there is room, else NULL
 * (detect.c). */
struct bay *bay_by_name(struct station *s, const char *name, int create, const char *source);

/* The bay at index i (0-based, below station_n_bays()). */
struct bay *station_bay(struct station *s, int i);
int station_n_bays(const struct station *s);

#endif
