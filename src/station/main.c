/* ukeyd: the station daemon. Opens the state directory, then runs one poll
 * loop over the control socket, its clients and the per-bay workers. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/errlist.h"
#include "common/log.h"
#include "store/audit.h"
#include "store/auditkey.h"
#include "store/db.h"
#include "store/store.h"
#include "station/station.h"
#include "station/reportspool.h"
#include "station/station_impl.h"
#include "station/orderdoc.h"
#include "station/job.h"
#include "station/job_steps.h"
#include "station/joblease.h"

static volatile sig_atomic_t got_signal;

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
station_audit(struct station *s, const char *actor, const char *action, int64_t order_id,
    int64_t unit_id, int64_t job_id, const char *token, const char *bay, struct json_object *detail)
{
	struct audit_event ev = {
		.station = s->cfg.station_id, .actor = actor ? actor : "ukeyd", .action = action,
		.order_id = order_id, .unit_id = unit_id, .job_id = job_id, .token = token, .bay = bay,
	};
	int rc;

	/* a command run on a second user's confirmation: its records name both */
	if (s->dual != NULL && s->dual->request != 0 &&
	    (detail == NULL || json_object_is_type(detail, json_type_object))) {
		struct json_object *d = json_object_new_object();

		json_object_object_add(d, "request", json_object_new_int64(s->dual->request));
		json_object_object_add(d, "requested_by",
		    json_object_new_string(s->dual->requested_by));
		json_object_object_add(d, "confirmed_by",
		    json_object_new_string(s->dual->confirmed_by));
		if (detail == NULL)
			detail = json_object_new_object();
		json_object_object_add(detail, "dual_control", d);
	}
	ev.detail = detail ? json_object_to_json_string_ext(detail, JSON_C_TO_STRING_PLAIN) : NULL;
	rc = audit_append(s->st, &ev, NULL);

	json_object_put(detail);
	if (rc != 0)
		log_error("audit_append %s: %s", action, ukey_strerror(rc));
	else
		s->audit_dirty = 1;
	watch_notify(s);
	return rc;
}

/* A record that nothing outside the database waits for (a token arrived,
 * probed, gone): outside a transaction, its own commit is written to the
 * WAL but not flushed (store_begin_lazy); the next flushed commit of any
 * bay takes it to the disk (docs/jobs.md, "Commits that need no flush of
 * their own"). Inside one, it joins it. */
int
station_audit_lazy(struct station *s, const char *actor, const char *action, const char *token,
    const char *bay, struct json_object *detail)
{
	int own = 0, rc;

	if (!db_in_transaction(store_dbh(s->st)) && store_begin_lazy(s->st) == 0)
		own = 1;
	rc = station_audit(s, actor, action, 0, 0, 0, token, bay, detail);
	if (own && rc == 0 && (rc = store_commit(s->st)) != 0)
		log_error("committing the %s record: %s", action, ukey_strerror(rc));
	if (own && rc != 0)
		store_rollback(s->st);
	return rc;
}

void
station_audit_checkpoint_if_due(struct station *s)
{
	int64_t n = 0;
	int rc;

	if (!s->audit_dirty)
		return;
	s->audit_dirty = 0;
	if ((rc = audit_unsigned_count(s->st, s->cfg.station_id, &n)) != 0 ||
	    n < s->cfg.audit_checkpoint_every)
		return;
	if ((rc = audit_checkpoint(s->st, s->audit_key, s->cfg.station_id, "ukeyd", "interval",
	    NULL)) != 0)
		log_error("audit checkpoint: %s", ukey_strerror(rc));
	else
		station_witness(s, "checkpoint");
}

static void
on_signal(int sig)
{
	got_signal = sig;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ukeyd [--state DIR] [--config FILE] [--socket PATH] [--debug]\n"
	    "  --state DIR    state directory (database, CA, keys, socket); default /var/lib/ukey-station\n"
	    "  --config FILE  station configuration (default DIR/ukeyd.conf if present)\n"
	    "  --socket PATH  control socket (default DIR/ukeyd.sock)\n");
}

static int
make_dir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) != 0 && errno != EEXIST) {
		log_error("mkdir %s: %s", path, strerror(errno));
		return UKEY_ERR_IO;
	}
	return 0;
}

static int
lock_state(struct station *s, int *fdp)
{
	char path[600];
	char pid[32];
	int fd;

	snprintf(path, sizeof(path), "%s/ukeyd.pid", s->state_dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		log_error("open %s: %s", path, strerror(errno));
		return UKEY_ERR_IO;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		log_error("another ukeyd already runs on %s", s->state_dir);
		close(fd);
		return UKEY_ERR_BUSY;
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || write(fd, pid, strlen(pid)) < 0)
		log_warn("cannot write %s", path);
	*fdp = fd;
	return 0;
}

/* The station database: [store] url (an SQLite file, or a PostgreSQL
 * database shared by several stations: docs/multi-station.md), or
 * <state>/station.db. */
static int
open_store(struct station *s)
{
	char path[PATH_MAX];

	if (s->cfg.store_url[0] != '\0')
		return store_open_url(s->cfg.store_url, &s->st);
	snprintf(path, sizeof(path), "%s/station.db", s->state_dir);
	return store_open(path, &s->st);
}

static int
station_open(struct station *s, const char *config_path)
{
	char path[600], err[1024];
	struct errlist errs = { 0 };
	size_t i;
	int rc;

	config_defaults(&s->cfg);
	if (config_path == NULL) {
		snprintf(path, sizeof(path), "%s/ukeyd.conf", s->state_dir);
		if (access(path, R_OK) == 0)
			config_path = path;
	}
	if (config_path != NULL && (rc = config_load(config_path, &s->cfg, err, sizeof(err))) != 0) {
		log_error("%s", err);
		return rc;
	}
	snprintf(path, sizeof(path), "%s/keys", s->state_dir);
	if ((rc = make_dir(path, 0700)) != 0)
		return rc;
	snprintf(path, sizeof(path), "%s/keys/master.key", s->state_dir);
	if ((rc = seal_key_load(path, s->master_key)) != 0)
		return rc;
	snprintf(path, sizeof(path), "%s/keys", s->state_dir);
	if ((rc = audit_key_load(path, &s->audit_key)) != 0)
		return rc;
	if ((rc = open_store(s)) != 0 ||
	    (rc = store_set_claim_scope(s->st, s->cfg.service_point, s->cfg.take)) != 0 ||
	    (rc = audit_key_register(s->st, s->cfg.station_id, s->audit_key)) != 0)
		return rc;
	if ((rc = station_witness_open(s)) != 0)
		return rc;
	if ((rc = orderdoc_seal_stored(s)) != 0) {
		log_error("sealing stored order documents: %s", ukey_strerror(rc));
		return rc;
	}
	if ((rc = station_ca_open(s)) != 0)
		return rc;
	rc = fw_profile_set_load((const char *const *)s->cfg.profile_dirs, s->cfg.n_profile_dirs,
	    &s->fw, &errs);
	for (i = 0; i < errs.n; i++)
		log_error("firmware profile: %s", errs.msgs[i]);
	errlist_clear(&errs);
	if (rc != 0)
		return rc;
	if ((rc = certprof_set_load_dir(s->cfg.cert_profile_dir, &s->cp, err, sizeof(err))) != 0) {
		log_error("certificate profiles: %s", err);
		return rc;
	}
	log_info("%zu firmware profiles, certificate profiles from %s", fw_profile_set_count(s->fw),
	    s->cfg.cert_profile_dir);
	/* simulated bays come first; bays of the hardware sources are added as
	 * tokens show up in them */
	s->n_bays = 0;
	if (s->cfg.sources & SRC_SIM) {
		int nsim = s->cfg.sim_bays > MAX_BAYS ? MAX_BAYS : s->cfg.sim_bays;

		for (i = 0; i < (size_t)nsim; i++) {
			char name[32];

			snprintf(name, sizeof(name), "sim-%zu", i + 1);
			bay_by_name(s, name, 1, "sim");
		}
	}
	return 0;
}

static void
station_close(struct station *s)
{
	control_close_all(s);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink(s->sock_path);
	}
	station_witness_close(s);
	certprof_set_free(s->cp);
	fw_profile_set_free(s->fw);
	cathread_free(s->cathread);
	threadjobs_free(s->offloop);
	ca_free(s->ca);
	free(s->ca_hex);
	station_crl_forget(s);
	reports_kept_free(s);
	store_close(s->st);
	config_free(&s->cfg);
	secure_wipe(s->master_key, sizeof(s->master_key));
	EVP_PKEY_free(s->audit_key);
	s->audit_key = NULL;
}

static void
run_loop(struct station *s)
{
	struct pollfd pfd[2 + MAX_CLIENTS + MAX_BAYS + 32];
	struct client *cref[MAX_CLIENTS];
	struct bay *bref[MAX_BAYS];
	int downer[32];
	int64_t next_sweep = 0;

	while (!got_signal) {
		int n = 0, nc = 0, nb = 0, nd, i, r, ca_at, vt_at;

		pfd[n++] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
		for (i = 0; i < s->n_clients; i++) {
			cref[nc++] = &s->clients[i];
			/* a reply not yet written holds the client's next request back */
			pfd[n++] = (struct pollfd){ .fd = s->clients[i].fd,
			    .events = control_wants_write(&s->clients[i]) ? POLLOUT : POLLIN };
		}
		for (i = 0; i < s->n_bays; i++) {
			if (s->bays[i].worker_fd < 0)
				continue;
			bref[nb++] = &s->bays[i];
			pfd[n++] = (struct pollfd){ .fd = s->bays[i].worker_fd, .events = POLLIN };
		}
		nd = detect_pollfds(s, pfd + n, 31, downer);
		n += nd;
		ca_at = n;
		pfd[n++] = (struct pollfd){ .fd = cathread_fd(s->cathread), .events = POLLIN };
		vt_at = n;
		pfd[n++] = (struct pollfd){ .fd = threadjobs_fd(s->offloop), .events = POLLIN };
		/* every path commits the job's journal before it returns here
		 * (job_journal.c); one left open would span the wait */
		if (job_journal_is_open()) {
			log_error("the job journal was left open by a step: committing it");
			(void)job_journal_commit_guard(s);
		}
		r = poll(pfd, (nfds_t)n, watch_poll_timeout(s, 100));
		if (r < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			break;
		}
		if (r > 0) {
			/* workers first: a reply may finish a job a client then asks about */
			for (i = 0; i < nb; i++)
				if (pfd[1 + nc + i].revents && bref[i]->worker_fd == pfd[1 + nc + i].fd)
					bay_on_readable(s, bref[i]);
			for (i = 0; i < nc; i++) {
				if (!pfd[1 + i].revents || cref[i]->dead)
					continue;
				if (pfd[1 + i].events & POLLOUT)
					control_on_writable(s, cref[i]);
				else
					control_on_readable(s, cref[i]);
			}
			/* a CA answer goes on with its job, as a worker's reply does */
			if (pfd[ca_at].revents & POLLIN)
				job_ca_answers(s, 0);
			/* a request served off the loop ended: its client's reply */
			if (pfd[vt_at].revents & POLLIN)
				threadjobs_collect(s, s->offloop);
			if (pfd[0].revents & POLLIN)
				control_accept(s);
			for (i = 0; i < nd; i++)
				if (pfd[1 + nc + nb + i].revents)
					detect_dispatch(s, downer[i]);
		}
		if (now_ms() >= next_sweep) {
			/* sources with work but no descriptor (timers, retries) */
			detect_dispatch(s, -1);
			next_sweep = now_ms() + 250;
		}
		/* clients are closed and removed only here, after the iteration */
		control_check_timers(s);
		control_reap(s);
		station_store_if_due(s);	/* before the bays: a lost store is known first */
		bay_check_timers(s);
		station_audit_checkpoint_if_due(s);
		station_witness_if_due(s);
		station_crl_if_due(s);
		watch_flush(s);
		if (s->stop)
			break;
	}
}

/* What the command line gives. */
struct options {
	const char *state, *config, *sock;
	enum log_level lvl;
};

/* Reads the command line into o: -1 to go on, else the exit status. */
static int
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 'S' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	*o = (struct options){ .state = "/var/lib/ukey-station", .lvl = LOG_LVL_INFO };
	while ((ch = getopt_long(argc, argv, "s:c:S:dhV", opts, NULL)) != -1) {
		switch (ch) {
		case 's': o->state = optarg; break;
		case 'c': o->config = optarg; break;
		case 'S': o->sock = optarg; break;
		case 'd': o->lvl = LOG_LVL_DEBUG; break;
		case 'h': usage(); return 0;
		case 'V': printf("ukeyd %s\n", UKEY_VERSION); return 0;
		default: usage(); return 64;
		}
	}
	if (optind != argc) {
		usage();
		return 64;
	}
	return -1;
}

/* Makes the state directory (mode 0750) and sets s's state and socket
 * paths from it, or from sock when given. 0, or -1 (logged). */
static int
state_paths(struct station *s, const char *state, const char *sock)
{
	char real[PATH_MAX];

	if (mkdir(state, 0750) != 0 && errno != EEXIST) {
		log_error("state directory %s: %s", state, strerror(errno));
		return -1;
	}
	if (realpath(state, real) == NULL || strlen(real) >= 400) {
		log_error("state directory %s: %s", state, errno ? strerror(errno) : "path too long");
		return -1;
	}
	snprintf(s->state_dir, sizeof(s->state_dir), "%.400s", real);
	if (sock)
		snprintf(s->sock_path, sizeof(s->sock_path), "%.590s", sock);
	else
		snprintf(s->sock_path, sizeof(s->sock_path), "%.400s/ukeyd.sock", s->state_dir);
	return 0;
}

/* SIGTERM and SIGINT stop the loop; SIGPIPE is ignored (a client gone). */
static void
signals_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

int
main(int argc, char **argv)
{
	static struct station station;
	struct station *s = &station;
	struct options o;
	int lockfd = -1, rc;

	if ((rc = parse_options(argc, argv, &o)) >= 0)
		return rc;
	rc = 1;
	log_init("ukeyd", o.lvl);
	umask(007);
	s->listen_fd = -1;
	if (state_paths(s, o.state, o.sock) != 0)
		return 1;
	signals_setup();
	if (lock_state(s, &lockfd) != 0)
		return 1;
	if (station_open(s, o.config) != 0)
		goto out;
	if (job_recover_all(s) != 0)
		goto out;
	if (control_listen(s) != 0)
		goto out;
	detect_start_all(s);
	station_audit(s, "ukeyd", "station.start", 0, 0, 0, NULL, NULL,
	    json_object_new_string(s->cfg.station_id));
	station_witness(s, "start");
	log_info("station %s ready: state %s, socket %s, %d simulated bays, %d detection sources",
	    s->cfg.station_id, s->state_dir, s->sock_path, s->n_bays, s->n_sources);
	run_loop(s);
	log_info("stopping (signal %d)", (int)got_signal);
	detect_stop_all(s);
	/* the CA call under way ends (at most cmp.timeout) and its answer is
	 * stored before the database closes: nothing the CA returned is lost */
	cathread_stop(s->cathread, job_ca_unconfirmed, s);
	job_ca_answers(s, 1);
	bay_shutdown_all(s);
	station_audit(s, "ukeyd", "station.stop", 0, 0, 0, NULL, NULL, NULL);
	/* a clean stop leaves no unsigned record behind */
	if (audit_checkpoint(s->st, s->audit_key, s->cfg.station_id, "ukeyd", "shutdown", NULL) != 0)
		log_error("audit checkpoint at shutdown failed");
	station_witness(s, "stop");
	rc = 0;
 out:
	station_close(s);
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}
