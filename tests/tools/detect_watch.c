/* detect_watch: runs one detection source outside the daemon and prints each
 * event it reports as one JSON line on stdout, until SIGTERM or SIGINT.
 * Used by the detection tests; also handy on a station to see what a source
 * makes of a token:   detect_watch --profiles DIR libusb|udev|pcsc
 * Each event line carries "t_ms", the CLOCK_MONOTONIC time in milliseconds
 * at which it was reported, for latency measurements. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "common/err.h"
#include "common/errlist.h"
#include "common/log.h"
#include "detect/profile.h"
#include "detect/source.h"

static volatile sig_atomic_t stop_now;

static void
on_signal(int sig)
{
	stop_now = sig;
}

/* CLOCK_MONOTONIC in milliseconds, the clock tests compare event times on. */
static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void
print_event(void *ctx, const struct detect_event *ev)
{
	struct json_object *o = detect_event_json(ev);
	static const char *const texts[] = { "bay", "usb_serial", "reader", "atr", "device", "message" };
	char t_ms[32];
	size_t i;

	/* every text field present, "" when empty, as the tests read them */
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (json_object_object_get(o, texts[i]) == NULL)
			json_object_object_add(o, texts[i], json_object_new_string(""));
	/* when the event reached us, printed with three decimals */
	snprintf(t_ms, sizeof(t_ms), "%.3f", now_ms());
	json_object_object_add(o, "t_ms", json_object_new_double_s(strtod(t_ms, NULL), t_ms));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	fflush(stdout);
	json_object_put(o);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "profiles", required_argument, NULL, 'p' },
		{ "debug", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	static const struct detect_source_ops *all[] = {
		&detect_source_libusb, &detect_source_udev, &detect_source_pcsc,
	};
	const struct detect_source_ops *ops = NULL;
	const char *dirs[8];
	size_t ndirs = 0, i;
	struct fw_profile_set *fw = NULL;
	struct detect_source *src = NULL;
	struct errlist errs = { 0 };
	struct sigaction sa;
	char err[512];
	int ch, rc;

	log_init("detect_watch", LOG_LVL_INFO);
	while ((ch = getopt_long(argc, argv, "p:d", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			if (ndirs < 8)
				dirs[ndirs++] = optarg;
			break;
		case 'd':
			log_init("detect_watch", LOG_LVL_DEBUG);
			break;
		default:
			return 64;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: detect_watch [--profiles DIR]... libusb|udev|pcsc\n");
		return 64;
	}
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(all[i]->name, argv[optind]) == 0)
			ops = all[i];
	if (ops == NULL) {
		fprintf(stderr, "detect_watch: unknown source %s\n", argv[optind]);
		return 64;
	}
	if (fw_profile_set_load(dirs, ndirs, &fw, &errs) != 0) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "detect_watch: %s\n", errs.msgs[i]);
		errlist_clear(&errs);
		return 65;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if ((rc = ops->start(fw, print_event, NULL, &src, err, sizeof(err))) != 0) {
		fprintf(stderr, "detect_watch: %s: %s\n", ops->name, err);
		fw_profile_set_free(fw);
		return 69;
	}
	printf("{\"kind\":\"started\",\"source\":\"%s\"}\n", ops->name);
	fflush(stdout);
	while (!stop_now) {
		struct pollfd pfd[16];
		int n = ops->pollfds(src, pfd, 16);

		poll(pfd, (nfds_t)n, 250);
		ops->dispatch(src);
	}
	ops->stop(src);
	fw_profile_set_free(fw);
	return 0;
}
