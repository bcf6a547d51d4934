/* ukeyctl's bay verbs: bays and their tokens, jobs, virtual tokens, and the
 * detection events and sources (docs/jobs.md, docs/detection.md). */
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/secret.h"
#include "ctl/ctl.h"

static struct json_object *
bay_state(int64_t bay, int *ex)
{
	struct json_object *rep, *res, *b = NULL;

	if ((*ex = ctl_run("bay.list", NULL, &rep, &res)) == EXIT_OK && bay >= 1 &&
	    (size_t)bay <= json_object_array_length(res))
		b = json_object_get(json_object_array_get_idx(res, (size_t)bay - 1));
	else if (*ex == EXIT_OK)
		*ex = EXIT_NOTFOUND;
	json_object_put(rep);
	return b;
}

/* Waits until the bay's token is no longer being worked on. */
int
ctl_bay_wait(int64_t bay, int64_t timeout_s)
{
	time_t end = time(NULL) + (timeout_s > 0 ? timeout_s : 900);
	struct json_object *b;
	int ex;

	for (;;) {
		const char *st;

		if ((b = bay_state(bay, &ex)) == NULL)
			return ex;
		st = json_object_get_string(json_object_object_get(b, "state"));
		if (strcmp(st, "starting") != 0 && strcmp(st, "probing") != 0 &&
		    strcmp(st, "working") != 0) {
			if (ctl_json)
				print_json(b);
			else
				printf("bay %lld: %s%s%s\n", (long long)bay, st,
				    json_object_object_get(b, "reason") ? ": " : "",
				    json_object_object_get(b, "reason") ?
				    json_object_get_string(json_object_object_get(b, "reason")) : "");
			ex = strcmp(st, "done") == 0 || strcmp(st, "idle") == 0 ||
			    strcmp(st, "empty") == 0 ? EXIT_OK : EXIT_REFUSED;
			json_object_put(b);
			return ex;
		}
		json_object_put(b);
		if (time(NULL) > end) {
			fprintf(stderr, "ukeyctl: bay %lld still %s after %lld s\n", (long long)bay, st,
			    (long long)timeout_s);
			return EXIT_TEMPFAIL;
		}
		usleep(100000);
	}
}

/* --bay N, required and positive; -1 after a message. */
static int
need_bay(const struct ctl_verb *v, const struct ctl_args *a, int64_t *bay)
{
	if (ctl_arg_int(a, OPT_BAY, bay) != 0)
		return -1;
	return ctl_need(v, "--bay N", *bay > 0) ? 0 : -1;
}

/* A request with only {"bay": N}. */
static struct json_object *
bay_args(int64_t bay)
{
	struct json_object *args = json_object_new_object();

	json_object_object_add(args, "bay", json_object_new_int64(bay));
	return args;
}

/* ukeyctl bays */
int
verb_bays(const struct ctl_verb *v, const struct ctl_args *a)
{
	static const char *const cols[] = { "bay", "name", "state", "profile", "token_serial",
		"job", "reason", NULL };

	return ctl_simple("bay.list", NULL, cols, NULL);
}

/* ukeyctl bay wait --bay N [--timeout SECONDS] | bay wipe --bay N */
int
verb_bay(const struct ctl_verb *v, const struct ctl_args *a)
{
	int64_t bay, timeout;

	if (need_bay(v, a, &bay) != 0 || ctl_arg_int(a, OPT_TIMEOUT, &timeout) != 0)
		return EXIT_USAGE;
	if (strcmp(v->words, "bay wait") == 0)
		return ctl_bay_wait(bay, timeout);
	return ctl_simple("bay.wipe", bay_args(bay), NULL,
	    "wiping allowed: the next job on this bay initialises the token again");
}

/* ukeyctl bay take-pin --bay N: the PIN is wiped from memory once shown. */
int
verb_bay_take_pin(const struct ctl_verb *v, const struct ctl_args *a)
{
	struct json_object *rep, *res, *pin;
	int64_t bay;
	size_t len = 0;
	char *txt;
	int ex;

	if (need_bay(v, a, &bay) != 0)
		return EXIT_USAGE;
	ex = ctl_run("bay.take_pin", bay_args(bay), &rep, &res);
	pin = json_object_object_get(res, "user_pin");
	if (ex == EXIT_OK && ctl_json) {
		txt = (char *)json_object_to_json_string_length(res, JSON_C_TO_STRING_PRETTY |
		    JSON_C_TO_STRING_NOSLASHESCAPE, &len);
		fwrite(txt, 1, len, stdout);
		putchar('\n');
		secure_wipe(txt, len);
	} else if (ex == EXIT_OK) {
		const char *kind = json_object_get_string(json_object_object_get(res, "kind"));

		printf("token %s %s user PIN: %s\n(shown once: put it in the PIN letter now)\n",
		    json_object_get_string(json_object_object_get(res, "token_serial")),
		    kind && strcmp(kind, "unblock") == 0 ? "new" : "initial",
		    json_object_get_string(pin));
	}
	fflush(stdout);
	if (json_object_is_type(pin, json_type_string))
		secure_wipe((char *)json_object_get_string(pin),
		    (size_t)json_object_get_string_len(pin));
	json_object_put(rep);
	return ex;
}

/* ukeyctl token inspect --bay N | token unblock --bay N [--remark TEXT] */
int
verb_token(const struct ctl_verb *v, const struct ctl_args *a)
{
	struct json_object *args, *rep, *res;
	int64_t bay;
	int ex;

	if (need_bay(v, a, &bay) != 0)
		return EXIT_USAGE;
	args = bay_args(bay);
	if (strcmp(v->words, "token inspect") == 0)
		return ctl_simple("token.inspect", args, NULL, NULL);
	ctl_add_str(args, "remark", a->val[OPT_REMARK]);
	if ((ex = ctl_run("token.unblock", args, &rep, &res)) == EXIT_OK) {
		if (ctl_json)
			print_json(res);
		else
			printf("token %s: new user PIN set%s; show it once with: ukeyctl bay"
			    " take-pin --bay %lld\n",
			    json_object_get_string(json_object_object_get(res, "token_serial")),
			    json_object_get_boolean(json_object_object_get(res, "was_locked")) ?
			    " (it was locked)" : "", (long long)bay);
	}
	json_object_put(rep);
	return ex;
}

/* ukeyctl jobs [--state STATE] */
int
verb_jobs(const struct ctl_verb *v, const struct ctl_args *a)
{
	static const char *const cols[] = { "id", "unit_id", "bay", "state", "step", "key_alg",
		"token_serial", "cert_serial", "error", "ca_waiting_since", NULL };
	struct json_object *args = json_object_new_object();

	ctl_add_str(args, "state", a->val[OPT_STATE]);
	return ctl_list("job.list", args, cols, a, CTL_PAGE);
}

/* ukeyctl job abandon ID --remark TEXT */
int
verb_job_abandon(const struct ctl_verb *v, const struct ctl_args *a)
{
	struct json_object *args, *rep, *res;
	const char *state;
	int64_t id;
	int ex;

	if (ctl_parse_int(a->pos[0], "job id", &id) != 0 ||
	    !ctl_need(v, "--remark TEXT", a->val[OPT_REMARK] != NULL))
		return EXIT_USAGE;
	args = json_object_new_object();
	json_object_object_add(args, "job", json_object_new_int64(id));
	ctl_add_str(args, "remark", a->val[OPT_REMARK]);
	if ((ex = ctl_run("job.abandon", args, &rep, &res)) != EXIT_OK)
		return ex;
	state = json_object_get_string(json_object_object_get(res, "state"));
	if (ctl_json)
		print_json(res);
	else if (state != NULL && strcmp(state, "issued") == 0)
		printf("job %lld ends issued: a renewal past its record, whose new certificate"
		    " stands; only the old key pair may remain on the token\n", (long long)id);
	else
		printf("job abandoned; its unit is queued again\n");
	json_object_put(rep);
	return EXIT_OK;
}

/* ukeyctl sim plug [--bay N] [--preset ...] [--token N] [--profile NAME] [--wait] */
int
verb_sim_plug(const struct ctl_verb *v, const struct ctl_args *a)
{
	struct json_object *args, *rep, *res;
	int64_t bay, token, timeout;
	int ex;

	if (ctl_arg_int(a, OPT_BAY, &bay) != 0 || ctl_arg_int(a, OPT_TOKEN, &token) != 0 ||
	    ctl_arg_int(a, OPT_TIMEOUT, &timeout) != 0)
		return EXIT_USAGE;
	args = json_object_new_object();
	ctl_add_int(args, "bay", bay);
	ctl_add_int(args, "token", token);
	ctl_add_str(args, "preset", a->val[OPT_PRESET]);
	ctl_add_str(args, "profile", a->val[OPT_PROFILE]);
	if ((ex = ctl_run("sim.plug", args, &rep, &res)) != EXIT_OK) {
		json_object_put(rep);
		return ex;
	}
	bay = json_object_get_int64(json_object_object_get(res, "bay"));
	if (a->val[OPT_WAIT] == NULL) {
		if (ctl_json)
			print_json(res);
		else
			printf("virtual token %04lld plugged into bay %lld\n",
			    (long long)json_object_get_int64(json_object_object_get(res, "token")),
			    (long long)bay);
	}
	json_object_put(rep);
	return a->val[OPT_WAIT] != NULL ? ctl_bay_wait(bay, timeout) : EXIT_OK;
}

/* ukeyctl sim unplug --bay N */
int
verb_sim_unplug(const struct ctl_verb *v, const struct ctl_args *a)
{
	int64_t bay;

	if (need_bay(v, a, &bay) != 0)
		return EXIT_USAGE;
	return ctl_simple("sim.unplug", bay_args(bay), NULL, "unplugged");
}

/* One line per event, as they come (events --follow). */
static void
print_events_follow(struct json_object *evs)
{
	size_t k;

	for (k = 0; k < json_object_array_length(evs); k++) {
		struct json_object *e = json_object_array_get_idx(evs, k);

		if (ctl_json)
			printf("%s\n", json_object_to_json_string_ext(e,
			    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		else
			printf("%s %s %s %s %s\n",
			    json_object_get_string(json_object_object_get(e, "kind")),
			    json_object_get_string(json_object_object_get(e, "source")),
			    json_object_get_string(json_object_object_get(e, "bay")),
			    json_object_get_string(json_object_object_get(e, "profile")),
			    json_object_get_string(json_object_object_get(e, "device")));
	}
	fflush(stdout);
}

/* ukeyctl events [--since SEQ] [--follow]: the detection event stream. */
int
verb_events(const struct ctl_verb *v, const struct ctl_args *a)
{
	static const char *const cols[] = { "seq", "kind", "source", "bay", "profile", "device",
		"message", NULL };
	int follow = a->val[OPT_FOLLOW] != NULL, ex;
	int64_t since;

	if (ctl_arg_int(a, OPT_SINCE, &since) != 0)
		return EXIT_USAGE;
	for (;;) {
		struct json_object *args = json_object_new_object(), *rep, *res, *evs;

		json_object_object_add(args, "since", json_object_new_int64(since));
		if ((ex = ctl_run("events.list", args, &rep, &res)) != EXIT_OK) {
			json_object_put(rep);
			return ex;
		}
		evs = json_object_object_get(res, "events");
		if (follow)
			print_events_follow(evs);
		else if (ctl_json)
			print_json(res);
		else
			print_table(evs, cols);
		since = json_object_get_int64(json_object_object_get(res, "next"));
		json_object_put(rep);
		if (!follow)
			return EXIT_OK;
		usleep(200000);
	}
}

/* ukeyctl sources */
int
verb_sources(const struct ctl_verb *v, const struct ctl_args *a)
{
	static const char *const cols[] = { "source", "status", NULL };
	struct json_object *rep, *res;
	int ex = ctl_run("events.list", NULL, &rep, &res);

	if (ex == EXIT_OK && ctl_json)
		print_json(json_object_object_get(res, "sources"));
	else if (ex == EXIT_OK)
		print_table(json_object_object_get(res, "sources"), cols);
	json_object_put(rep);
	return ex;
}

/* Reads the holder's PIN: from the terminal without echo, or one line of
 * standard input when it is not a terminal. Returns its length, -1 on
 * failure. */
static int
read_pin(int64_t bay, char *buf, size_t size)
{
	struct termios tio, saved;
	int tty = isatty(STDIN_FILENO), got;
	size_t n;

	if (tty) {
		fprintf(stderr, "PIN of the token in bay %lld (not shown): ", (long long)bay);
		fflush(stderr);
		if (tcgetattr(STDIN_FILENO, &saved) != 0)
			return -1;
		tio = saved;
		tio.c_lflag &= ~(tcflag_t)ECHO;
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio) != 0)
			return -1;
	}
	got = fgets(buf, (int)size, stdin) != NULL;
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		fputc('\n', stderr);
	}
	if (!got)
		return -1;
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	return (int)n;
}

/* ukeyctl bay enter-pin --bay N: the holder types the PIN of the token a
 * renewal waits for; it goes to that bay's worker only and is wiped here. */
int
verb_bay_enter_pin(const struct ctl_verb *v, const struct ctl_args *a)
{
	struct json_object *args, *rep, *res;
	char pin[256];
	int64_t bay;
	int ex, n;

	if (need_bay(v, a, &bay) != 0)
		return EXIT_USAGE;
	if ((n = read_pin(bay, pin, sizeof(pin))) <= 0) {
		secure_wipe(pin, sizeof(pin));
		fprintf(stderr, "ukeyctl: no PIN was read\n");
		return EXIT_USAGE;
	}
	args = bay_args(bay);
	json_object_object_add(args, "pin", json_object_new_string_len(pin, n));
	secure_wipe(pin, sizeof(pin));
	if ((ex = ctl_run("bay.enter_pin", args, &rep, &res)) == EXIT_OK) {
		if (ctl_json)
			print_json(res);
		else
			printf("token %s: the PIN was accepted; renewal job %lld goes on\n",
			    json_object_get_string(json_object_object_get(res, "token_serial")),
			    (long long)json_object_get_int64(json_object_object_get(res, "job")));
	}
	json_object_put(rep);
	return ex;
}

/* ukeyctl bay reset-pin --bay N --remark TEXT: the operator's alternative
 * when the holder cannot give the PIN. */
int
verb_bay_reset_pin(const struct ctl_verb *v, const struct ctl_args *a)
{
	struct json_object *args;
	int64_t bay;

	if (need_bay(v, a, &bay) != 0 || !ctl_need(v, "--remark TEXT", a->val[OPT_REMARK] != NULL))
		return EXIT_USAGE;
	args = bay_args(bay);
	ctl_add_str(args, "remark", a->val[OPT_REMARK]);
	return ctl_simple("bay.reset_pin", args, NULL, "a new user PIN opened the token; the"
	    " renewal goes on; when it is done, show the PIN once with: ukeyctl bay take-pin");
}
