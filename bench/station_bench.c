/* The station per token, against the PKCS#11 floor (p11_floor.c): a real
 * ukeyd with B simulated bays produces N tokens of one algorithm, plugged as
 * bays come free, and the program prints per token (arrival to job start,
 * arrival to issued), the wall time per token over the run, the daemon's
 * resident memory and CPU, and where a token's time went (the steps of its
 * job, bay.list step_ms). Never installed; bench/README.md.
 *
 *   ukey-bench-station [--tokens N] [--bays B] [--alg ec|rsa] [--token-dir DIR] [--keep]
 *
 * Runs the build's ukeyd, ukey-worker and ukeyctl (UKEY_BUILD_DIR) on the
 * source tree's profiles (UKEY_SOURCE_DIR), in a new state directory under
 * /tmp that is removed at the end unless --keep; with --token-dir the
 * virtual tokens (<state>/sim) live in a new directory under DIR instead,
 * <state>/sim a symbolic link to it (tmpfs for the tokens, the station's
 * database still on the disk). The orders are set up with
 * ukeyctl; the production talks to ukeyd.sock itself, over one connection,
 * so that no ukeyctl process competes with the station it measures. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/benchstat.h"

#define ORDER_MAX 50	/* certificates one section of an order may ask for */

static char state[64], build_dir[512], src_dir[512];
static char sim_dir[600];	/* --token-dir: where <state>/sim points */
static pid_t daemon_pid;
static int keep_state, keygen_delay_ms;
static const char *plug_profile = "softhsm2";	/* --profile */

/* On every exit: the daemon stopped, the state directory removed (unless
 * --keep). */
static void
cleanup(void)
{
	char cmd[700];
	int status;

	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, &status, 0);
		daemon_pid = 0;
	}
	if (state[0] == '\0' || keep_state) {
		if (state[0] != '\0')
			fprintf(stderr, "state kept in %s%s%s\n", state,
			    sim_dir[0] ? ", virtual tokens in " : "", sim_dir);
		return;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
	if (system(cmd) != 0)
		fprintf(stderr, "ukey-bench-station: could not remove %s\n", state);
	if (sim_dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sim_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "ukey-bench-station: could not remove %s\n", sim_dir);
}

/* --token-dir DIR: <state>/sim, where ukeyd keeps the virtual tokens
 * (src/station/sim.c mkdir()s it, EEXIST tolerated), a symbolic link to a
 * new directory under DIR, made before ukeyd starts. */
static void
sim_link(const char *dir)
{
	char link[128];

	snprintf(sim_dir, sizeof(sim_dir), "%s/ukey-bench-sim.XXXXXX", dir);
	if (strchr(dir, '\'') != NULL || mkdtemp(sim_dir) == NULL) {
		fprintf(stderr, "ukey-bench-station: --token-dir %s: cannot make a directory in "
		    "it: %s\n", dir, strchr(dir, '\'') ? "a quote in the name" : strerror(errno));
		sim_dir[0] = '\0';
		exit(1);
	}
	snprintf(link, sizeof(link), "%s/sim", state);
	if (symlink(sim_dir, link) != 0) {
		fprintf(stderr, "ukey-bench-station: symlink %s -> %s: %s\n", link, sim_dir,
		    strerror(errno));
		exit(1);
	}
}

static double
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Runs ukeyctl --json with args; its output parsed (NULL on failure). */
static struct json_object *
ctl(const char *fmt, ...)
{
	char args[1024], cmd[2048], *buf = NULL;
	size_t cap = 0, len = 0, n;
	struct json_object *o;
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s/ukeyctl --state %s --json %s", build_dir, state, args);
	if ((p = popen(cmd, "r")) == NULL)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap && (buf = realloc(buf, cap = cap * 2 + 8192)) == NULL)
			exit(1);
		if ((n = fread(buf + len, 1, 4096, p)) == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	if (pclose(p) != 0) {
		fprintf(stderr, "ukey-bench-station: ukeyctl %s failed: %s\n", args, buf);
		free(buf);
		return NULL;
	}
	o = json_tokener_parse(buf);
	free(buf);
	return o;
}

static void
must(struct json_object *o, const char *what)
{
	if (o == NULL) {
		fprintf(stderr, "ukey-bench-station: %s\n", what);
		exit(1);
	}
	json_object_put(o);
}

static pid_t
start_daemon(int bays)
{
	char path[700];
	FILE *f;
	pid_t pid;
	int i;

	snprintf(path, sizeof(path), "%s/ukeyd.conf", state);
	if ((f = fopen(path, "w")) == NULL)
		exit(1);
	fprintf(f, "[station]\nid = bench\nprofile_dirs = %s/firmware-profiles, "
	    "%s/tests/data/firmware-profiles, %s/bench/firmware-profiles\n"
	    "cert_profile_dir = %s/cert-profiles\nworker = %s/ukey-worker\n[sim]\nbays = %d\n"
	    "keygen_delay_ms = %d\n", src_dir, src_dir, src_dir, src_dir, build_dir, bays,
	    keygen_delay_ms);
	fclose(f);
	if ((pid = fork()) == 0) {
		snprintf(path, sizeof(path), "%s/ukeyd.log", state);
		if (freopen(path, "w", stderr) == NULL)
			_exit(127);
		/* ukeyd's fsync()/fdatasync() calls counted into <state>/fsyncs */
		snprintf(path, sizeof(path), "%s/bench/libukey-fsynccount.so", build_dir);
		if (access(path, R_OK) == 0) {
			/* an ASan build wants its runtime first; the shim comes
			 * before it, which is harmless for counting */
			char asan[512];
			const char *prev = getenv("ASAN_OPTIONS");

			snprintf(asan, sizeof(asan), "%s%sverify_asan_link_order=0", prev ? prev : "",
			    prev && *prev ? ":" : "");
			setenv("ASAN_OPTIONS", asan, 1);
			setenv("LD_PRELOAD", path, 1);
			snprintf(path, sizeof(path), "%s/fsyncs", state);
			setenv("UKEY_FSYNC_COUNT_FILE", path, 1);
		}
		snprintf(path, sizeof(path), "%s/ukeyd", build_dir);
		execl(path, "ukeyd", "--state", state, (char *)NULL);
		_exit(127);
	}
	daemon_pid = pid;
	for (i = 0; i < 200; i++) {
		struct json_object *o;

		usleep(50000);
		snprintf(path, sizeof(path), "%s/ukeyd.sock", state);
		if (access(path, F_OK) == 0 && (o = ctl("status")) != NULL) {
			json_object_put(o);
			return pid;
		}
	}
	fprintf(stderr, "ukey-bench-station: ukeyd did not start\n");
	exit(1);
}

/* Orders of `tokens` certificates of the section that makes alg's keys,
 * written from the first sample order, then approved and paid. */
static void
orders_ready(int tokens, const char *section)
{
	struct json_object *sample, *orders, *o, *sec, *out = json_object_new_array(), *ids;
	const char *drop[] = { "organisation", "legal_rep", "entrusted" };
	char path[700], ref[32];
	int left = tokens, k = 0, n;
	size_t i;

	snprintf(path, sizeof(path), "%s/examples/orders-sample.json", src_dir);
	if ((sample = json_object_from_file(path)) == NULL)
		exit(1);
	orders = json_object_object_get(sample, "orders");
	while (left > 0) {
		n = left > ORDER_MAX ? ORDER_MAX : left;
		o = NULL;
		if (json_object_deep_copy(json_object_array_get_idx(orders, 0), &o, NULL) != 0)
			exit(1);
		snprintf(ref, sizeof(ref), "BENCH-%d", ++k);
		json_object_object_add(o, "portal_ref", json_object_new_string(ref));
		for (i = 0; i < 3; i++)
			if (strcmp(drop[i], section) != 0)
				json_object_object_del(o, drop[i]);
		sec = json_object_object_get(o, section);
		json_object_object_add(sec, "years", json_object_new_int(1));
		json_object_object_add(sec, "count", json_object_new_int(n));
		json_object_object_add(o, "amount_fen", json_object_new_int(20000 * n));
		json_object_array_add(out, o);
		left -= n;
	}
	o = json_object_new_object();
	json_object_object_add(o, "orders", out);
	snprintf(path, sizeof(path), "%s/bench-orders.json", state);
	json_object_to_file_ext(path, o, JSON_C_TO_STRING_PLAIN);
	json_object_put(o);
	json_object_put(sample);
	must(ctl("order import %s", path), "order import");
	if ((ids = ctl("order list --state pending")) == NULL)
		exit(1);
	for (i = 0; i < json_object_array_length(ids); i++) {
		int64_t id = json_object_get_int64(json_object_object_get(
		    json_object_array_get_idx(ids, i), "id"));

		must(ctl("order approve %lld", (long long)id), "order approve");
		must(ctl("order pay %lld --payment-no 2026120500000000%04lld", (long long)id,
		    (long long)id), "order pay");
	}
	json_object_put(ids);
}

/* ukeyd's fsyncs so far (bench/fsynccount.c), -1 when not counted. */
static long
fsyncs_now(void)
{
	char path[128];
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/fsyncs", state);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fscanf(f, "%ld", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

static long
rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* ---- the production's own connection to ukeyd.sock (docs/protocol.md) ---- */

static int sock_fd = -1;

static void
io_all(ssize_t (*op)(int, void *, size_t), void *buf, size_t len, const char *what)
{
	char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = op(sock_fd, p, len)) <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			fprintf(stderr, "ukey-bench-station: ukeyd.sock: %s: %s\n", what,
			    n == 0 ? "connection closed" : strerror(errno));
			exit(1);
		}
		p += n;
		len -= (size_t)n;
	}
}

static ssize_t
sock_read(int fd, void *buf, size_t len)
{
	return read(fd, buf, len);
}

static ssize_t
sock_write(int fd, void *buf, size_t len)
{
	return write(fd, buf, len);
}

static void
sock_open(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/ukeyd.sock", state);
	if ((sock_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(sock_fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		fprintf(stderr, "ukey-bench-station: connecting to %s: %s\n", sun.sun_path,
		    strerror(errno));
		exit(1);
	}
}

/* One request over the connection (args owned, may be NULL); the reply's
 * result (owned, NULL when it is null) or exit(1) on an error reply. */
static struct json_object *
call(const char *cmd, struct json_object *args)
{
	struct json_object *req = json_object_new_object(), *rep, *res;
	unsigned char hdr[4];
	size_t len;
	const char *txt;
	char *buf;

	json_object_object_add(req, "v", json_object_new_int(1));
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	json_object_object_add(req, "args", args ? args : json_object_new_object());
	txt = json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN, &len);
	hdr[0] = (unsigned char)(len >> 24), hdr[1] = (unsigned char)(len >> 16);
	hdr[2] = (unsigned char)(len >> 8), hdr[3] = (unsigned char)len;
	io_all(sock_write, hdr, 4, cmd);
	io_all(sock_write, (void *)txt, len, cmd);
	json_object_put(req);
	io_all(sock_read, hdr, 4, cmd);
	len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	if (len > 4u * 1024 * 1024 || (buf = malloc(len + 1)) == NULL)
		exit(1);
	io_all(sock_read, buf, len, cmd);
	buf[len] = '\0';
	if ((rep = json_tokener_parse(buf)) == NULL ||
	    !json_object_get_boolean(json_object_object_get(rep, "ok"))) {
		fprintf(stderr, "ukey-bench-station: %s failed: %s\n", cmd, buf);
		exit(1);
	}
	free(buf);
	res = json_object_get(json_object_object_get(rep, "result"));
	json_object_put(rep);
	return res;
}

static struct json_object *
bay_args(int bay, const char *profile)
{
	struct json_object *a = json_object_new_object();

	json_object_object_add(a, "bay", json_object_new_int(bay));
	if (profile != NULL)
		json_object_object_add(a, "profile", json_object_new_string(profile));
	return a;
}

/* ---- CPU of ukeyd and its workers (/proc/PID/stat, clock ticks) ---- */

/* utime + stime of pid, and cutime + cstime in *children (NULL: not
 * wanted); -1 when pid is gone. */
static long long
cpu_ticks(pid_t pid, long long *children)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	long long cut, cst;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* after the command's ")": state, then fields 4..13, utime is 14 */
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u "
	    "%*u %*u %*u %llu %llu %lld %lld", &ut, &st, &cut, &cst) != 4)
		return -1;
	if (children != NULL)
		*children = cut + cst;
	return (long long)(ut + st);
}

struct cpu_mark {
	long long daemon, workers;	/* ticks; workers -1 when not known */
};

/* ukeyd's own ticks and its workers' (the reaped ones in its cutime and
 * cstime, the live ones of list, a bay.list, in their own stat), read
 * again when a worker was reaped in between. */
static void
cpu_mark(struct json_object *list, struct cpu_mark *m)
{
	long long c0, c1, w, t;
	size_t i, tries;

	for (tries = 0; tries < 5; tries++) {
		if ((m->daemon = cpu_ticks(daemon_pid, &c0)) < 0)
			exit(1);
		for (w = 0, i = 0; list != NULL && i < json_object_array_length(list); i++) {
			pid_t pid = json_object_get_int(json_object_object_get(
			    json_object_array_get_idx(list, i), "worker_pid"));

			if (pid > 0 && (t = cpu_ticks(pid, NULL)) >= 0)
				w += t;
		}
		if (cpu_ticks(daemon_pid, &c1) >= 0 && c1 == c0) {
			m->workers = c0 + w;
			return;
		}
	}
	m->workers = -1;
}

/* ---- where a token's time went: bay.list step_ms ---- */

static const char *const step_names[] = {
	"init_token", "generate_key", "make_csr", "ca_submit", "cert_check", "write_cert",
	"read_back", "record",
};
#define N_STEPS (sizeof(step_names) / sizeof(step_names[0]))
/* the steps the worker does on the token; the others are the daemon's own */
static const int step_in_worker[N_STEPS] = { 1, 1, 1, 0, 0, 1, 1, 0 };

/* Per token: arrival → job start, arrival → issued, PKCS#11 calls, and
 * each step's ms (steps[N_STEPS * token + step], -1 when not reported). */
struct samples {
	double *start, *total, *calls, *steps;
	double *later;		/* arrival → job of the tokens after each bay's first */
	int n_later;
	double *seen_done;	/* ms from the first plug to the poll that saw token k done */
};

static void
samples_alloc(struct samples *sm, int tokens)
{
	if ((sm->start = calloc((size_t)tokens, sizeof(double))) == NULL ||
	    (sm->total = calloc((size_t)tokens, sizeof(double))) == NULL ||
	    (sm->calls = calloc((size_t)tokens, sizeof(double))) == NULL ||
	    (sm->steps = calloc((size_t)tokens * N_STEPS, sizeof(double))) == NULL ||
	    (sm->later = calloc((size_t)tokens, sizeof(double))) == NULL ||
	    (sm->seen_done = calloc((size_t)tokens, sizeof(double))) == NULL)
		exit(1);
	sm->n_later = 0;
}

static void
samples_free(struct samples *sm)
{
	free(sm->start);
	free(sm->total);
	free(sm->calls);
	free(sm->steps);
	free(sm->later);
	free(sm->seen_done);
}

static void
sample_done(struct samples *sm, int k, struct json_object *b)
{
	struct json_object *st = json_object_object_get(b, "step_ms"), *v;
	size_t j;

	sm->start[k] = (double)json_object_get_int64(json_object_object_get(b, "arrival_to_job_ms"));
	sm->total[k] = sm->start[k] + 1e3 * json_object_get_double(
	    json_object_object_get(b, "job_seconds"));
	sm->calls[k] = (double)json_object_get_int64(json_object_object_get(b, "p11_calls"));
	for (j = 0; j < N_STEPS; j++)
		sm->steps[N_STEPS * (size_t)k + j] = json_object_object_get_ex(st, step_names[j], &v) ?
		    (double)json_object_get_int(v) : -1;
}

/* Plugs a token into every free bay until `tokens` were issued, polling
 * bay.list every 5 ms over the one connection (counted in *polls); each
 * issued token's figures go into sm. Returns the wall time of the run (ms). */
static double
produce(int tokens, int bays, struct samples *sm, long *polls)
{
	int plugged = 0, done = 0, i, n;
	int issued_in[64] = { 0 };	/* tokens each bay issued so far */
	double t0 = now_ms();

	while (done < tokens) {
		struct json_object *list = call("bay.list", NULL), *b;

		++*polls;
		n = (int)json_object_array_length(list);
		for (i = 0; i < n && i < bays; i++) {
			const char *st;

			b = json_object_array_get_idx(list, i);
			st = json_object_get_string(json_object_object_get(b, "state"));
			if (strcmp(st, "done") == 0 && done < tokens) {
				/* a bay's first token waits for its worker to
				 * start; the later ones find it kept */
				if (issued_in[i]++ > 0)
					sm->later[sm->n_later++] = (double)json_object_get_int64(
					    json_object_object_get(b, "arrival_to_job_ms"));
				sm->seen_done[done] = now_ms() - t0;
				sample_done(sm, done++, b);
				json_object_put(call("sim.unplug", bay_args(i + 1, NULL)));
			} else if (strcmp(st, "empty") == 0 && plugged < tokens) {
				json_object_put(call("sim.plug", bay_args(i + 1, plug_profile)));
				plugged++;
			} else if (strcmp(st, "refused") == 0 || strcmp(st, "failed") == 0 ||
			    strcmp(st, "faulted") == 0 || strcmp(st, "idle") == 0) {
				fprintf(stderr, "ukey-bench-station: bay %d is %s: %s\n", i + 1, st,
				    json_object_get_string(json_object_object_get(b, "reason")));
				exit(1);
			}
		}
		json_object_put(list);
		usleep(5000);
	}
	return now_ms() - t0;
}

/* ukeyd's time on a CPU so far, in ns, over its threads now alive
 * (/proc/PID/task/TID/schedstat): finer than stat's clock ticks. */
static long long
sched_ns(pid_t pid)
{
	char path[320];
	long long sum = 0, ns;
	struct dirent *d;
	FILE *f;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((dir = opendir(path)) == NULL)
		exit(1);
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.32s/schedstat", (int)pid, d->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fscanf(f, "%lld", &ns) == 1)
			sum += ns;
		fclose(f);
	}
	closedir(dir);
	return sum;
}

/* What one poll costs ukeyd (CPU ms): POLL_CALIBRATE bay.list 5 ms apart
 * before any token, as the production polls; the polls' share of ukeyd's
 * CPU, which the result line takes out of ukeyd_cpu_net_ms_per_token. */
#define POLL_CALIBRATE 100
static double
poll_cpu_ms(void)
{
	long long t0 = sched_ns(daemon_pid);
	int i;

	for (i = 0; i < POLL_CALIBRATE; i++) {
		json_object_put(call("bay.list", NULL));
		usleep(5000);
	}
	return (double)(sched_ns(daemon_pid) - t0) / 1e6 / POLL_CALIBRATE;
}

/* The second line: the median ms of arrival → job start, of each step over
 * the tokens that reported it, and in_daemon, the median of the job's time
 * (job start → issued) less the worker's steps: the daemon's own steps
 * (ca_submit, cert_check, record) and its loop and commits between steps. */
static void
print_steps(const char *alg, int tokens, int bays, const struct samples *sm)
{
	struct bench_stat bs;
	double *v = calloc((size_t)tokens, sizeof(double)), w;
	size_t j, k, n;

	if (v == NULL)
		exit(1);
	memcpy(v, sm->start, (size_t)tokens * sizeof(double));
	bench_stat_of(v, (size_t)tokens, &bs);
	printf("steps %s profile=%s bays=%d keygen_delay_ms=%d arrival_to_job=%.1f", alg, plug_profile,
	    bays, keygen_delay_ms, bs.median);
	for (j = 0; j < N_STEPS; j++) {
		for (n = 0, k = 0; k < (size_t)tokens; k++)
			if (sm->steps[N_STEPS * k + j] >= 0)
				v[n++] = sm->steps[N_STEPS * k + j];
		if (n == 0) {
			printf(" %s=-", step_names[j]);
			continue;
		}
		bench_stat_of(v, n, &bs);
		printf(" %s=%.1f", step_names[j], bs.median);
	}
	for (k = 0; k < (size_t)tokens; k++) {
		for (w = 0, j = 0; j < N_STEPS; j++)
			if (step_in_worker[j] && sm->steps[N_STEPS * k + j] > 0)
				w += sm->steps[N_STEPS * k + j];
		v[k] = sm->total[k] - sm->start[k] - w;
	}
	bench_stat_of(v, (size_t)tokens, &bs);
	printf(" in_daemon=%.1f\n", bs.median);
	free(v);
}

/* CPU ms per token over the production: ukeyd's, its workers' (-1 when
 * not known), and the bench's bay.list polls per token with what each cost
 * ukeyd. */
struct cpu_use {
	double daemon, worker, polls, per_poll;
};

/* bench_stat_of on a copy of v's n samples. */
static void
stat_copy(const double *v, int n, struct bench_stat *st)
{
	double *c = malloc((size_t)n * sizeof(double));

	if (c == NULL)
		exit(1);
	memcpy(c, v, (size_t)n * sizeof(double));
	bench_stat_of(c, (size_t)n, st);
	free(c);
}

/* The first line (bench/ukey-bench-all.in parses its fields by name; new
 * ones go at the end). */
static void
print_result(const char *alg, int tokens, int bays, double wall, const struct samples *sm,
    double fsyncs, long rss, const struct cpu_use *cu)
{
	struct bench_stat st_start, st_total, st_calls, st_later = { 0 };
	/* the production rate once every bay's first token (whose worker had
	 * to start) is out */
	double steady = tokens > bays ? (sm->seen_done[tokens - 1] - sm->seen_done[bays - 1]) /
	    (tokens - bays) : -1.0;

	/* on copies: print_steps wants each token's figures in place */
	stat_copy(sm->start, tokens, &st_start);
	stat_copy(sm->total, tokens, &st_total);
	stat_copy(sm->calls, tokens, &st_calls);
	if (sm->n_later > 0)
		stat_copy(sm->later, sm->n_later, &st_later);
	else
		st_later.median = -1;
	printf("station %s profile=%s tokens=%d bays=%d keygen_delay_ms=%d median_ms=%.1f p90_ms=%.1f "
	    "arrival_to_job_median_ms=%.1f wall_ms_per_token=%.1f p11_calls_per_token=%.0f "
	    "fsyncs_per_token=%.1f daemon_rss_kib=%ld ukeyd_cpu_ms_per_token=%.1f "
	    "worker_cpu_ms_per_token=%.1f polls_per_token=%.1f ukeyd_cpu_ms_per_poll=%.3f "
	    "ukeyd_cpu_net_ms_per_token=%.1f arrival_to_job_later_median_ms=%.1f "
	    "steady_ms_per_token=%.1f arrival_to_job_p90_ms=%.1f arrival_to_job_max_ms=%.1f\n",
	    alg, plug_profile, tokens, bays, keygen_delay_ms,
	    st_total.median, st_total.p90, st_start.median, wall / tokens, st_calls.median, fsyncs,
	    rss, cu->daemon, cu->worker, cu->polls, cu->per_poll,
	    cu->daemon - cu->polls * cu->per_poll, st_later.median, steady, st_start.p90,
	    st_start.max);
}

struct bench_opts {
	const char *alg, *token_dir;
	int tokens, bays;
};

/* The options (into o and the globals); 0 or the exit status. */
static int
parse_opts(int argc, char **argv, struct bench_opts *o)
{
	static const struct option opts[] = {
		{ "tokens", required_argument, NULL, 'n' },
		{ "bays", required_argument, NULL, 'b' },
		{ "alg", required_argument, NULL, 'a' },
		{ "keep", no_argument, NULL, 'k' },
		{ "keygen-delay-ms", required_argument, NULL, 'd' },
		{ "profile", required_argument, NULL, 'p' },
		{ "token-dir", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct bench_opts){ "ec", NULL, 30, 1 };
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': o->tokens = atoi(optarg); break;
		case 'b': o->bays = atoi(optarg); break;
		case 'a': o->alg = optarg; break;
		case 'k': keep_state = 1; break;
		case 'd': keygen_delay_ms = atoi(optarg); break;
		case 'p': plug_profile = optarg; break;
		case 't': o->token_dir = optarg; break;
		default:
			fprintf(stderr, "usage: ukey-bench-station [--tokens N] [--bays B] "
			    "[--alg ec|rsa] [--keygen-delay-ms MS] [--profile NAME] [--token-dir DIR] "
			    "[--keep]\n");
			return 64;
		}
	}
	if (o->tokens < 1 || o->tokens > 10000 || o->bays < 1 || o->bays > 64 ||
	    plug_profile[0] == '\0' ||
	    strspn(plug_profile, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(plug_profile) ||
	    (strcmp(o->alg, "ec") != 0 && strcmp(o->alg, "rsa") != 0)) {
		fprintf(stderr, "ukey-bench-station: --tokens 1..10000, --bays 1..64, --alg ec|rsa, "
		    "--profile a profile name\n");
		return 64;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *b = getenv("UKEY_BUILD_DIR"), *s = getenv("UKEY_SOURCE_DIR"), *alg;
	struct bench_opts o;
	struct samples sm;
	struct cpu_mark c0, c1;
	struct cpu_use cu;
	struct json_object *list;
	long polls = 0;
	double wall, tick = 1e3 / (double)sysconf(_SC_CLK_TCK);
	int tokens, bays, rc;
	long rss, fs0, fs1;

	if ((rc = parse_opts(argc, argv, &o)) != 0)
		return rc;
	alg = o.alg, tokens = o.tokens, bays = o.bays;
	snprintf(build_dir, sizeof(build_dir), "%s", b ? b : UKEY_BUILD_DIR);
	snprintf(src_dir, sizeof(src_dir), "%s", s ? s : UKEY_SOURCE_DIR);
	snprintf(state, sizeof(state), "/tmp/ukey-bench.XXXXXX");
	if (mkdtemp(state) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	atexit(cleanup);
	if (o.token_dir != NULL)
		sim_link(o.token_dir);
	/* the test profiles name the build's fault module through it */
	setenv("UKEY_BUILD_DIR", build_dir, 1);
	daemon_pid = start_daemon(bays);
	/* the organisation profile makes RSA-2048 keys, the legal
	 * representative's EC P-256 (cert-profiles/) */
	orders_ready(tokens, strcmp(alg, "rsa") == 0 ? "organisation" : "legal_rep");
	samples_alloc(&sm, tokens);
	sock_open();
	cu.per_poll = poll_cpu_ms();
	list = call("bay.list", NULL);
	cpu_mark(list, &c0);
	json_object_put(list);
	fs0 = fsyncs_now();
	wall = produce(tokens, bays, &sm, &polls);
	/* the last token's record may still be committing: a moment for it */
	usleep(200000);
	list = call("bay.list", NULL);
	cpu_mark(list, &c1);
	json_object_put(list);
	fs1 = fsyncs_now();
	rss = rss_kib(daemon_pid);
	cu.daemon = (double)(c1.daemon - c0.daemon) * tick / tokens;
	cu.worker = c0.workers >= 0 && c1.workers >= 0 ?
	    (double)(c1.workers - c0.workers) * tick / tokens : -1.0;
	cu.polls = (double)(polls + 1) / tokens;
	print_result(alg, tokens, bays, wall, &sm, fs0 >= 0 && fs1 >= fs0 ?
	    (double)(fs1 - fs0) / tokens : -1.0, rss, &cu);
	print_steps(alg, tokens, bays, &sm);
	close(sock_fd);
	samples_free(&sm);
	return 0;
}
