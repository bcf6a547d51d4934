/* The station per token, against the PKCS#11 floor (p11_floor.c): a real
 * ukeyd with B simulated bays produces N tokens of one algorithm, plugged as
 * bays come free, and the program prints per token (arrival to job start,
 * arrival to issued), the wall time per token over the run and the daemon's
 * resident memory. Never installed; bench/README.md.
 *
 *   ukey-bench-station [--tokens N] [--bays B] [--alg ec|rsa] [--keep]
 *
 * Runs the build's ukeyd, ukey-worker and ukeyctl (UKEY_BUILD_DIR) on the
 * source tree's profiles (UKEY_SOURCE_DIR), in a new state directory under
 * /tmp that is removed at the end unless --keep. */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/benchstat.h"

#define ORDER_MAX 50	/* certificates one section of an order may ask for */

static char state[64], build_dir[512], src_dir[512];
static pid_t daemon_pid;
static int keep_state, keygen_delay_ms;
static const char *plug_profile = "softhsm2";	/* --profile */

/* On every exit: the daemon stopped, the state directory removed (unless
 * --keep). */
static void
cleanup(void)
{
	char cmd[128];
	int status;

	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, &status, 0);
		daemon_pid = 0;
	}
	if (state[0] == '\0' || keep_state) {
		if (state[0] != '\0')
			fprintf(stderr, "state kept in %s\n", state);
		return;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", state);
	if (system(cmd) != 0)
		fprintf(stderr, "ukey-bench-station: could not remove %s\n", state);
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

/* Plugs a token into every free bay until `tokens` were issued; each
 * issued token's arrival → job start and arrival → issued go into start[]
 * and total[]. Returns the wall time of the run (ms). */
static double
produce(int tokens, int bays, double *start, double *total, double *calls)
{
	int plugged = 0, done = 0, i, n;
	double t0 = now_ms();

	while (done < tokens) {
		struct json_object *list = ctl("bays"), *b;

		if (list == NULL)
			exit(1);
		n = (int)json_object_array_length(list);
		for (i = 0; i < n && i < bays; i++) {
			const char *st;

			b = json_object_array_get_idx(list, i);
			st = json_object_get_string(json_object_object_get(b, "state"));
			if (strcmp(st, "done") == 0) {
				start[done] = (double)json_object_get_int64(
				    json_object_object_get(b, "arrival_to_job_ms"));
				total[done] = start[done] + 1e3 * json_object_get_double(
				    json_object_object_get(b, "job_seconds"));
				calls[done] = (double)json_object_get_int64(
				    json_object_object_get(b, "p11_calls"));
				done++;
				must(ctl("sim unplug --bay %d", i + 1), "sim unplug");
			} else if (strcmp(st, "empty") == 0 && plugged < tokens) {
				must(ctl("sim plug --bay %d --profile %s", i + 1, plug_profile),
				    "sim plug");
				plugged++;
			} else if (strcmp(st, "refused") == 0 || strcmp(st, "failed") == 0 ||
			    strcmp(st, "faulted") == 0 || strcmp(st, "idle") == 0) {
				fprintf(stderr, "ukey-bench-station: bay %d is %s: %s\n", i + 1, st,
				    json_object_get_string(json_object_object_get(b, "reason")));
				exit(1);
			}
		}
		json_object_put(list);
		usleep(20000);
	}
	return now_ms() - t0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tokens", required_argument, NULL, 'n' },
		{ "bays", required_argument, NULL, 'b' },
		{ "alg", required_argument, NULL, 'a' },
		{ "keep", no_argument, NULL, 'k' },
		{ "keygen-delay-ms", required_argument, NULL, 'd' },
		{ "profile", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *alg = "ec", *b = getenv("UKEY_BUILD_DIR"), *s = getenv("UKEY_SOURCE_DIR");
	struct bench_stat st_start, st_total, st_calls;
	double *start, *total, *calls, wall;
	int tokens = 30, bays = 1, c;
	long rss, fs0, fs1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': tokens = atoi(optarg); break;
		case 'b': bays = atoi(optarg); break;
		case 'a': alg = optarg; break;
		case 'k': keep_state = 1; break;
		case 'd': keygen_delay_ms = atoi(optarg); break;
		case 'p': plug_profile = optarg; break;
		default:
			fprintf(stderr, "usage: ukey-bench-station [--tokens N] [--bays B] "
			    "[--alg ec|rsa] [--keygen-delay-ms MS] [--profile NAME] [--keep]\n");
			return 64;
		}
	}
	if (tokens < 1 || tokens > 10000 || bays < 1 || bays > 64 || plug_profile[0] == '\0' ||
	    strspn(plug_profile, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(plug_profile) ||
	    (strcmp(alg, "ec") != 0 && strcmp(alg, "rsa") != 0)) {
		fprintf(stderr, "ukey-bench-station: --tokens 1..10000, --bays 1..64, --alg ec|rsa, "
		    "--profile a profile name\n");
		return 64;
	}
	snprintf(build_dir, sizeof(build_dir), "%s", b ? b : UKEY_BUILD_DIR);
	snprintf(src_dir, sizeof(src_dir), "%s", s ? s : UKEY_SOURCE_DIR);
	snprintf(state, sizeof(state), "/tmp/ukey-bench.XXXXXX");
	if (mkdtemp(state) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	atexit(cleanup);
	/* the test profiles name the build's fault module through it */
	setenv("UKEY_BUILD_DIR", build_dir, 1);
	daemon_pid = start_daemon(bays);
	/* the organisation profile makes RSA-2048 keys, the legal
	 * representative's EC P-256 (cert-profiles/) */
	orders_ready(tokens, strcmp(alg, "rsa") == 0 ? "organisation" : "legal_rep");
	if ((start = calloc((size_t)tokens, sizeof(double))) == NULL ||
	    (total = calloc((size_t)tokens, sizeof(double))) == NULL ||
	    (calls = calloc((size_t)tokens, sizeof(double))) == NULL)
		return 1;
	fs0 = fsyncs_now();
	wall = produce(tokens, bays, start, total, calls);
	/* the last token's record may still be committing: a moment for it */
	usleep(200000);
	fs1 = fsyncs_now();
	rss = rss_kib(daemon_pid);
	bench_stat_of(start, (size_t)tokens, &st_start);
	bench_stat_of(total, (size_t)tokens, &st_total);
	bench_stat_of(calls, (size_t)tokens, &st_calls);
	printf("station %s profile=%s tokens=%d bays=%d keygen_delay_ms=%d median_ms=%.1f p90_ms=%.1f "
	    "arrival_to_job_median_ms=%.1f wall_ms_per_token=%.1f p11_calls_per_token=%.0f "
	    "fsyncs_per_token=%.1f daemon_rss_kib=%ld\n", alg, plug_profile, tokens, bays, keygen_delay_ms,
	    st_total.median, st_total.p90, st_start.median, wall / tokens, st_calls.median,
	    fs0 >= 0 && fs1 >= fs0 ? (double)(fs1 - fs0) / tokens : -1.0, rss);
	free(calls);
	free(start);
	free(total);
	return 0;
}
