/* Bays: where tokens arrive and leave. Each occupied bay has its own worker
 * process holding the PKCS#11 module, spoken to over a socketpair; a worker
 * that crashes or hangs faults its bay and nothing else. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "station/control.h"
#include "station/station.h"
#include "station/bay.h"
#include "station/job.h"
#include "station/sources.h"

static const char *state_names[] = {
	[BAY_EMPTY] = "empty", [BAY_STARTING] = "starting", [BAY_PROBING] = "probing",
	[BAY_WORKING] = "working", [BAY_DONE] = "done", [BAY_IDLE] = "idle",
	[BAY_REFUSED] = "refused", [BAY_FAILED] = "failed", [BAY_FAULTED] = "faulted",
};

const char *
bay_state_name(enum bay_state st)
{
	return state_names[st];
}

void
bay_set_state(struct station *s, struct bay *b, enum bay_state st, const char *fmt, ...)
{
	va_list ap;

	b->state = st;
	b->reason[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(b->reason, sizeof(b->reason), fmt, ap);
		va_end(ap);
	}
	watch_notify(s);
	if (st == BAY_REFUSED || st == BAY_FAILED || st == BAY_FAULTED)
		log_warn("bay %s: %s: %s", b->name, state_names[st], b->reason);
	else
		log_info("bay %s: %s%s%s", b->name, state_names[st], b->reason[0] ? ": " : "",
		    b->reason);
}

/* How long a worker writing the CA certificate ahead (make_csr) is given
 * to finish that write when it is stopped, before SIGKILL. */
#define WRITE_AHEAD_STOP_MS 500

/* Ends the bay's worker pid without waiting for it: SIGTERM for one that may
 * be writing ahead, which it lets the write finish first
 * (src/worker/after.c), with SIGKILL after WRITE_AHEAD_STOP_MS; SIGKILL for
 * any other, since the module may be stuck in a call that no polite request
 * reaches. Reaped on a later turn of the loop (bay_reap_workers): a worker
 * stuck in the kernel, which not even SIGKILL ends at once, holds up no bay
 * and no client. */
static void
worker_end(struct bay *b, pid_t pid, int writes_ahead)
{
	int64_t kill_ms = 0;
	int i;

	if (writes_ahead && kill(pid, SIGTERM) == 0)
		kill_ms = now_ms() + WRITE_AHEAD_STOP_MS;
	else
		kill(pid, SIGKILL);
	if (waitpid(pid, NULL, WNOHANG) == pid)
		return;
	for (i = 0; i < BAY_ENDING_MAX; i++) {
		if (b->ending[i].pid == 0) {
			b->ending[i].pid = pid;
			b->ending[i].kill_ms = kill_ms;
			return;
		}
	}
	/* every slot holds a worker stuck in the kernel: this one is waited
	 * for, as no bay should ever come to */
	log_error("bay %s: %d stopped workers not ended yet; waiting for worker %d", b->name,
	    BAY_ENDING_MAX, (int)pid);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

void
bay_reap_workers(struct station *s)
{
	int64_t now = now_ms();
	int i, j;

	for (i = 0; i < station_n_bays(s); i++) {
		struct bay *b = station_bay(s, i);

		for (j = 0; j < BAY_ENDING_MAX; j++) {
			pid_t pid = b->ending[j].pid;

			if (pid == 0)
				continue;
			if (waitpid(pid, NULL, WNOHANG) != 0) {
				/* ended (or not ours to wait for any more) */
				b->ending[j].pid = 0;
				continue;
			}
			if (b->ending[j].kill_ms != 0 && now >= b->ending[j].kill_ms) {
				log_warn("bay %s: worker %d did not end its write within %d ms of"
				    " SIGTERM: killed", b->name, (int)pid, WRITE_AHEAD_STOP_MS);
				kill(pid, SIGKILL);
				b->ending[j].kill_ms = 0;
			}
		}
	}
}

/* At ukeyd's stop: the stopped workers are given what is left of their
 * time, and then SIGKILL, for a second at most; one stuck in the kernel
 * after that is left to end on its own. */
static void
reap_workers_at_stop(struct station *s)
{
	int64_t until = now_ms() + WRITE_AHEAD_STOP_MS + 1000;
	struct timespec ms = { 0, 1000000L };
	int i, j, left;

	do {
		bay_reap_workers(s);
		left = 0;
		for (i = 0; i < station_n_bays(s); i++)
			for (j = 0; j < BAY_ENDING_MAX; j++)
				left += station_bay(s, i)->ending[j].pid != 0;
		if (left == 0)
			return;
		nanosleep(&ms, NULL);
	} while (now_ms() < until);
	log_warn("%d stopped worker%s not ended at the daemon's stop", left, left == 1 ? "" : "s");
}

static void
worker_stop(struct station *s, struct bay *b)
{
	if (b->worker_fd >= 0) {
		close(b->worker_fd);
		b->worker_fd = -1;
	}
	if (b->worker_pid > 0) {
		worker_end(b, b->worker_pid, b->worker_writes_ahead);
		b->worker_pid = 0;
	}
	b->worker_ahead_asked = 0;
	b->worker_writes_ahead = 0;
	framer_free(&b->in);
	b->worker_module[0] = '\0';
	b->worker_keep = 0;
	b->worker_tokens = 0;
	b->pending_op[0] = '\0';
	b->pending_cb = NULL;
	secret_clear(&b->unblock_pin);	/* an unblock under way ends with its worker */
	if (b->waiting_client) {
		control_reply_deferred(s, b->waiting_client, UKEY_ERR_REMOVED,
		    "the bay's token or worker went away", NULL);
		b->waiting_client = 0;
	}
}

static int
worker_spawn(struct station *s, struct bay *b, const char *module)
{
	int sv[2];
	pid_t pid, parent = getpid();

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		log_error("socketpair: %s", strerror(errno));
		return UKEY_ERR_IO;
	}
	if ((pid = fork()) < 0) {
		log_error("fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return UKEY_ERR_IO;
	}
	if (pid == 0) {
		char *argv[] = { "ukey-worker", "--fd", "3", "--module", (char *)module, "--bay",
			b->name, NULL, NULL };

		/* today's module not trusted with a second token: nothing of one
		 * request's session is kept for the next either */
		if (b->profile->quirks & FW_QUIRK_FRESH_WORKER)
			argv[7] = "--session-per-request";

		/* a worker never outlives its daemon, even one killed with -9:
		 * a module stuck in a call must not keep the token. SIGTERM,
		 * which the worker turns into an immediate exit, except in the
		 * write it makes after a reply, which it lets finish (for a few
		 * seconds at most; src/worker/after.c) */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
			_exit(127);
		if (dup2(sv[1], 3) < 0)
			_exit(127);
		if (b->softhsm_conf[0])
			setenv("SOFTHSM2_CONF", b->softhsm_conf, 1);
		signal(SIGPIPE, SIG_DFL);
		execv(station_cfg(s)->worker_path, argv);
		fprintf(stderr, "ukeyd: exec %s: %s\n", station_cfg(s)->worker_path, strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	b->worker_pid = pid;
	b->worker_fd = sv[0];
	snprintf(b->worker_module, sizeof(b->worker_module), "%s", module);
	b->worker_keep = !(b->profile->quirks & FW_QUIRK_FRESH_WORKER);
	b->worker_tokens = 0;
	framer_init(&b->in, FRAME_MAX_WORKER);
	return 0;
}

int
bay_send(struct station *s, struct bay *b, const char *op, struct json_object *req,
    int timeout_ms, worker_cb cb)
{
	int rc;

	if (b->worker_fd < 0 || b->pending_op[0]) {
		json_object_put(req);
		return UKEY_ERR_BUSY;
	}
	json_object_object_add(req, "v", json_object_new_int(1));
	json_object_object_add(req, "op", json_object_new_string(op));
	rc = frame_write_json(b->worker_fd, req, FRAME_MAX_WORKER);
	/* the request may hold PINs: wipe the serialised copy json-c keeps and
	 * the PIN strings themselves, which json-c frees without wiping */
	{
		size_t len;
		char *txt = (char *)json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN, &len);

		secure_wipe(txt, len);
		json_object_object_foreach(req, key, val) {
			size_t kl = strlen(key);

			if (kl >= 3 && strcmp(key + kl - 3, "pin") == 0 &&
			    json_object_is_type(val, json_type_string))
				secure_wipe((char *)json_object_get_string(val),
				    (size_t)json_object_get_string_len(val));
		}
	}
	json_object_put(req);
	if (rc != 0) {
		log_error("bay %s: sending %s to the worker: %s", b->name, op, ukey_strerror(rc));
		return rc;
	}
	snprintf(b->pending_op, sizeof(b->pending_op), "%s", op);
	b->pending_cb = cb;
	b->deadline_ms = now_ms() + timeout_ms;
	return 0;
}

static void
on_probe(struct station *s, struct bay *b, int rc, struct json_object *reply)
{
	struct json_object *tok;

	b->probed_ms = now_ms();
	if (rc != 0) {
		bay_set_state(s, b, BAY_FAILED, "probe: %s",
		    json_object_get_string(json_object_object_get(reply, "message")));
		return;
	}
	tok = json_object_object_get(reply, "token");
	json_object_put(b->token);
	b->token = json_object_get(tok);
	snprintf(b->token_serial, sizeof(b->token_serial), "%s",
	    json_object_get_string(json_object_object_get(tok, "serial")));
	station_audit_lazy(s, b->operator_name, "bay.token_probed", b->token_serial, b->name,
	    json_object_get(tok));
	job_start_if_possible(s, b);
}

/* How long the worker may wait for the token's slot to show up: a USB token
 * is seen by the USB source before pcscd and the module have found it. */
#define SLOT_WAIT_MS 15000

/* The probe request: how the worker finds this bay's token among the
 * module's slots (docs/worker-protocol.md, "probe"). */
static struct json_object *
probe_request(struct station *s, struct bay *b)
{
	struct json_object *req = json_object_new_object(), *ex = json_object_new_array();
	const struct fw_profile *p = b->profile;
	int i;

	json_object_object_add(req, "match", json_object_new_string(fw_slot_match_name(p->slot_match)));
	if (p->reader_pattern[0])
		json_object_object_add(req, "reader_pattern", json_object_new_string(p->reader_pattern));
	if (b->reader[0])
		json_object_object_add(req, "reader", json_object_new_string(b->reader));
	if (b->usb_serial[0])
		json_object_object_add(req, "usb_serial", json_object_new_string(b->usb_serial));
	/* tokens of the same model held by other bays are never this bay's */
	for (i = 0; i < station_n_bays(s); i++) {
		const struct bay *o = station_bay(s, i);

		if (o != b && o->state != BAY_EMPTY && o->profile == p && o->token_serial[0])
			json_object_array_add(ex, json_object_new_string(o->token_serial));
	}
	json_object_object_add(req, "exclude", ex);
	json_object_object_add(req, "wait_ms", json_object_new_int(p->is_virtual ? 0 : SLOT_WAIT_MS));
	return req;
}

/* Asks the worker which token the bay holds. A worker kept from the bay's
 * last token (rescan) first releases and re-enumerates the module's slots,
 * with the new token's SoftHSM2 configuration for a virtual one. */
static void
probe_send(struct station *s, struct bay *b, int rescan)
{
	struct json_object *req = probe_request(s, b);
	int rc;

	if (rescan) {
		json_object_object_add(req, "rescan", json_object_new_boolean(1));
		if (b->softhsm_conf[0])
			json_object_object_add(req, "softhsm_conf",
			    json_object_new_string(b->softhsm_conf));
	}
	b->worker_tokens++;
	b->probe_sent_ms = now_ms();
	bay_set_state(s, b, BAY_PROBING, NULL);
	if ((rc = bay_send(s, b, "probe", req,
	    b->profile->timeout_default_ms + (b->profile->is_virtual ? 0 : SLOT_WAIT_MS),
	    on_probe)) != 0)
		bay_set_state(s, b, BAY_FAULTED, "probe: %s", ukey_strerror(rc));
}

static void
on_hello(struct station *s, struct bay *b, int rc, struct json_object *reply)
{
	if (rc != 0) {
		bay_set_state(s, b, BAY_FAULTED, "worker could not start: %s",
		    json_object_get_string(json_object_object_get(reply, "message")));
		worker_stop(s, b);
		return;
	}
	probe_send(s, b, 0);
}

/* A worker kept from the bay's last token serves this one when its profile
 * allows it and it loaded the same module; else it is stopped. Returns 1
 * when the kept worker was asked to probe. */
static int
worker_reuse(struct station *s, struct bay *b, const char *module)
{
	if (b->worker_fd < 0)
		return 0;
	if (!b->worker_keep || (b->profile->quirks & FW_QUIRK_FRESH_WORKER) ||
	    strcmp(module, b->worker_module) != 0 || b->pending_op[0]) {
		worker_stop(s, b);
		return 0;
	}
	b->started_ms = now_ms();
	log_info("bay %s: worker %d kept for %s (token %d of this worker)", b->name,
	    (int)b->worker_pid, b->device, b->worker_tokens + 1);
	probe_send(s, b, 1);
	return 1;
}

/* When the token leaves: the worker stays for the bay's next token if it is
 * idle after a job that went well (or a token with nothing queued) and its
 * profile allows it; otherwise it is stopped, as a worker that faulted,
 * failed or is in the middle of a request must be. */
static void
worker_release(struct station *s, struct bay *b)
{
	if (b->worker_fd >= 0 && b->worker_keep && !b->pending_op[0] && !b->waiting_client &&
	    b->job_id == 0 && (b->state == BAY_DONE || b->state == BAY_IDLE)) {
		log_info("bay %s: worker %d kept for the next token", b->name, (int)b->worker_pid);
		return;
	}
	worker_stop(s, b);
}

int
bay_token_arrived(struct station *s, struct bay *b, const struct arrival *a)
{
	const char *module;
	int rc;

	if (b->state != BAY_EMPTY)
		return UKEY_ERR_BUSY;
	snprintf(b->device, sizeof(b->device), "%s", a->device ? a->device : "");
	snprintf(b->softhsm_conf, sizeof(b->softhsm_conf), "%s", a->softhsm_conf ? a->softhsm_conf : "");
	snprintf(b->reader, sizeof(b->reader), "%s", a->reader ? a->reader : "");
	snprintf(b->usb_serial, sizeof(b->usb_serial), "%s", a->usb_serial ? a->usb_serial : "");
	b->arrived_ms = a->detected_ms > 0 ? a->detected_ms : now_ms();
	b->token_serial[0] = '\0';
	b->allow_wipe = 0;
	b->job_id = 0;
	b->p11_calls = 0;
	station_audit_lazy(s, b->operator_name, "bay.token_arrived", NULL, b->name,
	    json_object_new_string(b->device));
	b->profile = a->profile ? fw_profile_set_find(station_fw(s), a->profile) : NULL;
	if (b->profile == NULL) {
		/* never touched: no profile says how to talk to it */
		worker_stop(s, b);	/* nor a worker kept from the last token */
		bay_set_state(s, b, BAY_REFUSED, "no firmware profile for %s (%s)", b->device,
		    a->profile ? a->profile : "unknown model");
		return 0;
	}
	if (a->module != NULL) {
		/* said before a worker is started, which could only say it
		 * could not load "something" */
		if (access(a->module, R_OK) != 0) {
			worker_stop(s, b);
			bay_set_state(s, b, BAY_REFUSED, "sim.softhsm_module %s: %s", a->module,
			    strerror(errno));
			return 0;
		}
		module = a->module;
	} else if ((module = fw_profile_module(b->profile)) == NULL) {
		worker_stop(s, b);
		bay_set_state(s, b, BAY_REFUSED, "profile %s: none of its PKCS#11 modules is installed",
		    b->profile->name);
		return 0;
	}
	if (worker_reuse(s, b, module))
		return 0;
	if ((rc = worker_spawn(s, b, module)) != 0) {
		bay_set_state(s, b, BAY_FAULTED, "cannot start worker: %s", ukey_strerror(rc));
		return 0;
	}
	b->started_ms = now_ms();
	bay_set_state(s, b, BAY_STARTING, "%s, profile %s", b->device, b->profile->name);
	/* the worker speaks first: its hello is the reply to this virtual request */
	snprintf(b->pending_op, sizeof(b->pending_op), "hello");
	b->pending_cb = on_hello;
	b->deadline_ms = now_ms() + b->profile->timeout_default_ms;
	return 0;
}

void
bay_token_left(struct station *s, struct bay *b)
{
	if (b->state == BAY_EMPTY)
		return;
	worker_release(s, b);
	if (b->job_id)
		job_on_token_left(s, b, "token removed");
	if (b->user_pin.p != NULL)
		log_warn("bay %s: the user PIN of token %s was never displayed", b->name,
		    b->token_serial);
	secret_clear(&b->user_pin);
	secret_clear(&b->so_pin);
	secret_clear(&b->wipe_so);
	secret_clear(&b->unblock_pin);
	b->pin_unblocked = 0;
	station_audit_lazy(s, b->operator_name, "bay.token_left",
	    b->token_serial[0] ? b->token_serial : NULL, b->name, NULL);
	json_object_put(b->token);
	b->token = NULL;
	dercache_clear(&b->der);
	b->token_serial[0] = '\0';
	b->profile = NULL;
	b->retry_at_ms = 0;
	b->ca_attempts = 0;
	b->reader[0] = b->usb_serial[0] = '\0';
	b->arrived_ms = 0;
	bay_set_state(s, b, BAY_EMPTY, NULL);
}

/* How long a worker whose channel closed is given to end before it is
 * said to have broken the channel: it closes it as it exits. */
#define WORKER_EXIT_WAIT_MS 100

/* 1 with its status once pid ended, within WORKER_EXIT_WAIT_MS; 0 for one
 * still there (a worker that broke the protocol, or is stuck in the
 * kernel), which worker_stop then ends without waiting. */
static int
worker_exited(pid_t pid, int *status)
{
	int64_t until = now_ms() + WORKER_EXIT_WAIT_MS;
	struct timespec ms = { 0, 1000000L };

	do {
		if (waitpid(pid, status, WNOHANG) == pid)
			return 1;
		nanosleep(&ms, NULL);
	} while (now_ms() < until);
	return 0;
}

void
bay_on_readable(struct station *s, struct bay *b)
{
	char *msg;
	size_t len;
	int rc = framer_fill(&b->in, b->worker_fd), more;

	while ((more = framer_next(&b->in, &msg, &len)) == 1) {
		struct json_object *reply = frame_parse_json(msg, len);
		worker_cb cb = b->pending_cb;
		struct json_object *ok = json_object_object_get(reply, "ok");
		int wrc;

		secure_wipe(msg, len);
		free(msg);
		if (reply == NULL || !json_object_is_type(reply, json_type_object) || ok == NULL) {
			json_object_put(reply);
			rc = UKEY_ERR_PROTO;
			break;
		}
		if (cb == NULL) {
			log_warn("bay %s: unexpected message from the worker", b->name);
			json_object_put(reply);
			continue;
		}
		b->p11_calls += json_object_get_int64(json_object_object_get(reply, "p11_calls"));
		wrc = json_object_get_boolean(ok) ? 0 :
		    ukey_errcode(json_object_get_string(json_object_object_get(reply, "error")));
		if (wrc != 0)
			log_warn("bay %s: %s: %s", b->name, b->pending_op,
			    json_object_get_string(json_object_object_get(reply, "message")));
		b->pending_op[0] = '\0';
		b->pending_cb = NULL;
		/* a make_csr given the CA certificate writes it after this
		 * reply, until its next one, which it reads only after that
		 * write (src/worker/after.c); a failed one writes nothing */
		b->worker_writes_ahead = b->worker_ahead_asked && wrc == 0;
		b->worker_ahead_asked = 0;
		cb(s, b, wrc, reply);
		json_object_put(reply);
		if (b->worker_fd < 0)
			return;		/* the callback stopped the worker */
	}
	if ((rc < 0 || more < 0) && b->state == BAY_EMPTY) {
		/* a worker kept for the next token ended: no token, no fault */
		log_warn("bay %s: the kept worker %d went away", b->name, (int)b->worker_pid);
		worker_stop(s, b);
		return;
	}
	if (rc < 0 || more < 0) {
		char why[128];
		int status = 0;
		pid_t pid = b->worker_pid;

		if (pid > 0 && worker_exited(pid, &status)) {
			b->worker_pid = 0;
			if (WIFSIGNALED(status))
				snprintf(why, sizeof(why), "worker crashed (signal %d) during %s",
				    WTERMSIG(status), b->pending_op[0] ? b->pending_op : "idle");
			else
				snprintf(why, sizeof(why), "worker exited with status %d during %s",
				    WEXITSTATUS(status), b->pending_op[0] ? b->pending_op : "idle");
		} else {
			snprintf(why, sizeof(why), "worker channel broken (%s)", ukey_strerror(rc));
		}
		worker_stop(s, b);
		if (b->job_id)
			job_on_worker_lost(s, b, why);
		bay_set_state(s, b, BAY_FAULTED, "%s", why);
		station_audit(s, "ukeyd", "bay.fault", 0, 0, b->last_job_id, b->token_serial, b->name,
		    json_object_new_string(why));
	}
}

void
bay_check_timers(struct station *s)
{
	int64_t now = now_ms();
	int i;

	bay_reap_workers(s);
	for (i = 0; i < station_n_bays(s); i++) {
		struct bay *b = station_bay(s, i);

		if (b->pending_op[0] && now > b->deadline_ms) {
			char why[128];

			snprintf(why, sizeof(why), "PKCS#11 operation %s timed out; worker killed",
			    b->pending_op);
			worker_stop(s, b);
			if (b->job_id)
				job_on_worker_lost(s, b, why);
			bay_set_state(s, b, BAY_FAULTED, "%s", why);
			station_audit(s, "ukeyd", "bay.fault", 0, 0, b->last_job_id, b->token_serial,
			    b->name, json_object_new_string(why));
		}
		if (b->retry_at_ms && now >= b->retry_at_ms) {
			b->retry_at_ms = 0;
			job_retry(s, b);
		}
	}
}

void
bay_kick_idle(struct station *s)
{
	int i;

	for (i = 0; i < station_n_bays(s); i++)
		if (station_bay(s, i)->state == BAY_IDLE)
			job_start_if_possible(s, station_bay(s, i));
}

/* The running or last job's step times (ms) by step name, NULL before any
 * step of a job was done. */
static struct json_object *
steps_to_json(const struct bay *b)
{
	struct json_object *o;
	int st;

	if (b->step_ran == 0)
		return NULL;
	o = json_object_new_object();
	for (st = 0; st <= STEP_DISCARD_OLD; st++)
		if (b->step_ran & (1u << st))
			json_object_object_add(o, job_step_names[st],
			    json_object_new_int(b->step_ms[st]));
	return o;
}

struct json_object *
bay_to_json(struct station *s, const struct bay *b)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "bay", json_object_new_int(b->index));
	json_object_object_add(o, "name", json_object_new_string(b->name));
	json_object_object_add(o, "source", json_object_new_string(b->source));
	json_object_object_add(o, "state", json_object_new_string(state_names[b->state]));
	json_object_object_add(o, "reason", b->reason[0] ? json_object_new_string(b->reason) : NULL);
	json_object_object_add(o, "device", b->device[0] ? json_object_new_string(b->device) : NULL);
	json_object_object_add(o, "profile", b->profile ? json_object_new_string(b->profile->name) : NULL);
	json_object_object_add(o, "token_serial",
	    b->token_serial[0] ? json_object_new_string(b->token_serial) : NULL);
	json_object_object_add(o, "job", b->job_id ? json_object_new_int64(b->job_id) :
	    (b->last_job_id ? json_object_new_int64(b->last_job_id) : NULL));
	json_object_object_add(o, "busy", json_object_new_boolean(b->pending_op[0] != '\0'));
	json_object_object_add(o, "pin_to_show", json_object_new_boolean(b->user_pin.p != NULL &&
	    b->job_id == 0));
	/* a renewal waits for the holder's PIN (bay.enter_pin) */
	json_object_object_add(o, "awaiting_pin", json_object_new_boolean(b->awaiting_pin));
	if (b->arrival_to_job_ms >= 0)
		json_object_object_add(o, "arrival_to_job_ms", json_object_new_int64(b->arrival_to_job_ms));
	/* calls into the module for the token, and the worker serving it */
	json_object_object_add(o, "p11_calls", json_object_new_int64(b->p11_calls));
	json_object_object_add(o, "worker_pid", b->worker_pid > 0 ?
	    json_object_new_int(b->worker_pid) : NULL);
	json_object_object_add(o, "worker_tokens", json_object_new_int(b->worker_tokens));
	if (b->last_job_seconds > 0)
		json_object_object_add(o, "job_seconds", json_object_new_double(b->last_job_seconds));
	json_object_object_add(o, "step_ms", steps_to_json(b));
	return o;
}

void
bay_shutdown_all(struct station *s)
{
	int i;

	for (i = 0; i < station_n_bays(s); i++) {
		worker_stop(s, station_bay(s, i));
		secret_clear(&station_bay(s, i)->user_pin);
		secret_clear(&station_bay(s, i)->so_pin);
		secret_clear(&station_bay(s, i)->wipe_so);
		secret_clear(&station_bay(s, i)->unblock_pin);
		json_object_put(station_bay(s, i)->token);
		station_bay(s, i)->token = NULL;
		dercache_clear(&station_bay(s, i)->der);
	}
	reap_workers_at_stop(s);
}
