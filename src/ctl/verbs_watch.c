/* ukeyctl watch: the floor on one screen, redrawn from the frames the daemon
 * pushes on a watch.subscribe connection (docs/protocol.md, "Watching");
 * one snapshot as text when stdout is not a terminal or with --once. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/frame.h"
#include "common/utf8.h"
#include "ctl/ctl.h"

/* ---- text that fits its column ---- */

/* East Asian wide and fullwidth characters take two terminal columns. */
static int
cp_width(uint32_t cp)
{
	if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
	    (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
	    (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
	    (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD))
		return 2;
	return 1;
}

int
ctl_text_fit(char *dst, size_t dstlen, const char *src, int cols)
{
	size_t o = 0, n, len = src ? strlen(src) : 0, i = 0;
	uint32_t cp = 0;
	int used = 0, w;

	if (dstlen == 0)
		return 0;
	while (i < len && used < cols) {
		n = utf8_decode(src + i, len - i, &cp);
		/* no escape sequence or broken byte from a name reaches the terminal */
		if (n == 0 || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
			n = n ? n : 1;
			cp = '?';
		}
		w = cp_width(cp);
		if (used + w > cols || o + (cp == '?' ? 1 : n) + 1 > dstlen)
			break;
		if (cp == '?') {
			dst[o++] = '?';
		} else {
			memcpy(dst + o, src + i, n);
			o += n;
		}
		used += w;
		i += n;
	}
	for (; used < cols && o + 1 < dstlen; used++)
		dst[o++] = ' ';
	dst[o] = '\0';
	return used;
}

/* ---- the view ---- */

static const char *
jget(struct json_object *o, const char *key)
{
	return json_object_get_string(json_object_object_get(o, key));
}

static int64_t
jnum(struct json_object *o, const char *key)
{
	return json_object_get_int64(json_object_object_get(o, key));
}

static int
jbool(struct json_object *o, const char *key)
{
	return json_object_get_boolean(json_object_object_get(o, key));
}

/* Writes src in a column of cols, then one space. */
static void
col(FILE *f, const char *src, int cols)
{
	char buf[512];

	ctl_text_fit(buf, sizeof(buf), src, cols);
	fprintf(f, "%s ", buf);
}

static void
fmt_elapsed(char *buf, size_t len, int64_t ms)
{
	int64_t s = ms / 1000;

	if (s >= 3600)
		snprintf(buf, len, "%lld:%02lld:%02lld", (long long)(s / 3600),
		    (long long)(s / 60 % 60), (long long)(s % 60));
	else
		snprintf(buf, len, "%lld:%02lld", (long long)(s / 60), (long long)(s % 60));
}

#define BAR_CELLS 10

/* The job's progress: a bar over its steps and what it is at; else what
 * the bay says. */
static void
progress(struct json_object *b, char *buf, size_t len)
{
	int64_t steps = jnum(b, "steps"), no = jnum(b, "step_no");
	const char *state = jget(b, "state"), *js = jget(b, "job_state"), *what;
	char bar[BAR_CELLS + 1];
	int i, fill;

	if (json_object_object_get(b, "job") == NULL || steps <= 0) {
		snprintf(buf, len, "%s", jget(b, "reason") ? jget(b, "reason") : "");
		return;
	}
	if (no < 0)
		no = 0;
	fill = (int)(no * BAR_CELLS / steps);
	for (i = 0; i < BAR_CELLS; i++)
		bar[i] = i < fill ? '#' : '-';
	bar[BAR_CELLS] = '\0';
	if (jbool(b, "done"))
		what = "done";
	else if (jbool(b, "ca_waiting"))
		what = "CA retry";
	else if (js != NULL && strcmp(js, "running") != 0)
		what = js;		/* failed, suspended, aborted */
	else
		what = jget(b, "step");
	snprintf(buf, len, "[%s] %lld/%lld %s%s%s", bar, (long long)no, (long long)steps,
	    what ? what : "", strcmp(state ? state : "", "failed") == 0 ? ": " : "",
	    strcmp(state ? state : "", "failed") == 0 && jget(b, "reason") ? jget(b, "reason") : "");
}

static void
render_bay(FILE *f, struct json_object *b, int64_t age_ms)
{
	char token[160], num[16], prog[700], el[32] = "";
	const char *model = jget(b, "model") ? jget(b, "model") : jget(b, "profile");
	struct json_object *e = json_object_object_get(b, "elapsed_ms");

	snprintf(num, sizeof(num), "%lld", (long long)jnum(b, "bay"));
	snprintf(token, sizeof(token), "%s%s%s", model ? model : "",
	    model && jget(b, "token_serial") ? " " : "",
	    jget(b, "token_serial") ? jget(b, "token_serial") : "");
	progress(b, prog, sizeof(prog));
	if (e != NULL)
		fmt_elapsed(el, sizeof(el), json_object_get_int64(e) +
		    (jbool(b, "running") ? age_ms : 0));
	fprintf(f, "%3s ", num);
	col(f, jget(b, "state"), 8);
	col(f, token, 27);
	col(f, jget(b, "portal_ref"), 17);
	col(f, jget(b, "holder"), 14);
	col(f, prog, 29);
	col(f, el, 7);
	fprintf(f, "%s\n", jbool(b, "pin_waiting") ? "waiting" : "");
}

static void
render_events(FILE *f, struct json_object *evs)
{
	size_t i, n = json_object_is_type(evs, json_type_array) ? json_object_array_length(evs) : 0;
	char when[16];

	fprintf(f, "Last events:%s\n", n ? "" : " none");
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(evs, i);
		time_t t = (time_t)jnum(e, "time");
		struct tm tm;
		char line[600];

		strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&t, &tm));
		snprintf(line, sizeof(line), "%s %s %s %s %s %s", when, jget(e, "kind"),
		    jget(e, "source"), jget(e, "bay") ? jget(e, "bay") : "",
		    jget(e, "device") ? jget(e, "device") : "",
		    jget(e, "message") ? jget(e, "message") : "");
		fprintf(f, "  ");
		col(f, line, 200);
		fprintf(f, "\n");	/* the padding goes when the lines are put out */
	}
}

static void
render_health(FILE *f, struct json_object *h)
{
	struct json_object *ca = json_object_object_get(h, "ca");
	struct json_object *db = json_object_object_get(h, "database");
	struct json_object *src = json_object_object_get(h, "sources");
	size_t i, n = json_object_is_type(src, json_type_array) ? json_object_array_length(src) : 0;
	char line[1024];
	int o;

	o = snprintf(line, sizeof(line), "Health: CA (%s) %s; database %s; sources:",
	    jget(ca, "kind") ? jget(ca, "kind") : "?",
	    jbool(ca, "reachable") ? "reachable" : "NOT REACHABLE (jobs retry)",
	    jbool(db, "ok") ? "ok" : (jget(db, "error") ? jget(db, "error") : "FAILING"));
	for (i = 0; i < n && o > 0 && (size_t)o < sizeof(line); i++) {
		struct json_object *s = json_object_array_get_idx(src, i);

		o += snprintf(line + o, sizeof(line) - (size_t)o, " %s %s", jget(s, "source"),
		    jget(s, "status"));
	}
	if (n == 0)
		snprintf(line + o, sizeof(line) - (size_t)o, " none");
	col(f, line, 300);
	fprintf(f, "\n");
}

void
ctl_watch_render(FILE *f, struct json_object *snap, int64_t age_ms)
{
	struct json_object *bays = json_object_object_get(snap, "bays");
	struct json_object *q = json_object_object_get(snap, "queue");
	size_t i, n = json_object_is_type(bays, json_type_array) ? json_object_array_length(bays) : 0;
	time_t t = (time_t)jnum(snap, "time") + (time_t)(age_ms / 1000);
	struct tm tm;
	char when[32];

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
	fprintf(f, "ukey-station %s   %s   (q: quit)\n\n", jget(snap, "station") ?
	    jget(snap, "station") : "", when);
	fprintf(f, "%3s ", "BAY");
	col(f, "STATE", 8);
	col(f, "TOKEN", 27);
	col(f, "ORDER", 17);
	col(f, "HOLDER", 14);
	col(f, "PROGRESS", 29);
	col(f, "ELAPSED", 7);
	fprintf(f, "PIN\n");
	for (i = 0; i < n; i++)
		render_bay(f, json_object_array_get_idx(bays, i), age_ms);
	if (n == 0)
		fprintf(f, "  (no bays yet: hardware bays appear when a token is plugged in)\n");
	/* a count that reached the daemon's cap says so: "10000+" */
	fprintf(f, "\nQueue: %lld%s queued, %lld%s held, %lld%s in production\n",
	    (long long)jnum(q, "queued"), jbool(q, "queued_more") ? "+" : "",
	    (long long)jnum(q, "held"), jbool(q, "held_more") ? "+" : "",
	    (long long)jnum(q, "in_production"), jbool(q, "in_production_more") ? "+" : "");
	render_health(f, json_object_object_get(snap, "health"));
	fprintf(f, "\n");
	render_events(f, json_object_object_get(snap, "events"));
}

/* ---- the screen ---- */

static volatile sig_atomic_t got_quit, got_winch, got_stop;
static struct termios saved_tio;
static int tio_saved, screen_on;

#define SCREEN_ENTER "\033[?1049h\033[?25l"	/* alternate screen, no cursor */
#define SCREEN_LEAVE "\033[?25h\033[?1049l"

/* Gives the terminal back as it was: async-signal-safe, run at every exit. */
static void
screen_restore(void)
{
	if (screen_on && write(STDOUT_FILENO, SCREEN_LEAVE, sizeof(SCREEN_LEAVE) - 1) < 0)
		screen_on = 0;
	screen_on = 0;
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	tio_saved = 0;
}

static void
on_quit(int sig)
{
	(void)sig;
	got_quit = 1;
}

static void
on_winch(int sig)
{
	(void)sig;
	got_winch = 1;
}

static void
on_stop(int sig)
{
	(void)sig;
	got_stop = 1;
}

/* A crash must not leave the terminal raw and on the alternate screen. */
static void
on_fatal(int sig)
{
	screen_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Raw keys and the alternate screen (again after a stop). */
static void
screen_enter(void)
{
	struct termios tio;

	/* keys one at a time, not echoed; Ctrl-C still raises SIGINT (ISIG) */
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
		tio = saved_tio;
		tio.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		tio.c_cc[VMIN] = 1;
		tio.c_cc[VTIME] = 0;
		tio_saved = tcsetattr(STDIN_FILENO, TCSANOW, &tio) == 0;
	}
	screen_on = 1;
	fputs(SCREEN_ENTER, stdout);
	fflush(stdout);
}

static void
screen_setup(void)
{
	static const int quit_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	static const int fatal_sigs[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: a signal ends poll() at once */
	sa.sa_handler = on_quit;
	for (i = 0; i < sizeof(quit_sigs) / sizeof(quit_sigs[0]); i++)
		sigaction(quit_sigs[i], &sa, NULL);
	sa.sa_handler = on_winch;
	sigaction(SIGWINCH, &sa, NULL);
	sa.sa_handler = on_stop;
	sigaction(SIGTSTP, &sa, NULL);
	sa.sa_handler = on_fatal;
	for (i = 0; i < sizeof(fatal_sigs) / sizeof(fatal_sigs[0]); i++)
		sigaction(fatal_sigs[i], &sa, NULL);
	atexit(screen_restore);
	screen_enter();
}

/* Ctrl-Z: the terminal as it was while stopped, the view again after. */
static void
screen_suspend(void)
{
	got_stop = 0;
	screen_restore();
	kill(getpid(), SIGSTOP);
	screen_enter();
}

static void
screen_size(int *rows, int *cols)
{
	struct winsize ws;

	*rows = 24;
	*cols = 80;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

/* Puts the rendered text out: each line without its trailing blanks; on the
 * screen (rows > 0) from the top, cut to cols and to rows lines, each line's
 * rest and the screen below cleared. */
static void
put_lines(FILE *out, char *text, int rows, int cols)
{
	char *line, *next, fit[2048];
	size_t l;
	int n = 0;

	if (rows > 0)
		fputs("\033[H", out);
	for (line = text; *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if (rows > 0 && n >= rows)
			break;
		if (rows > 0) {
			ctl_text_fit(fit, sizeof(fit), line, cols);
			line = fit;
		}
		l = strlen(line);
		while (l > 0 && line[l - 1] == ' ')
			line[--l] = '\0';
		if (rows > 0)
			fprintf(out, "%s%s\033[K", n ? "\r\n" : "", line);
		else
			fprintf(out, "%s\n", line);
		n++;
	}
	if (rows > 0)
		fputs("\033[J", out);
	fflush(out);
}

/* Renders snap; screen: full-screen redraw, else plain lines on stdout. */
static void
draw(struct json_object *snap, int64_t age_ms, int screen)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	int rows = 0, cols = 0;

	if (m == NULL)
		return;
	ctl_watch_render(m, snap, age_ms);
	if (fclose(m) != 0 || text == NULL) {
		free(text);
		return;
	}
	if (screen)
		screen_size(&rows, &cols);
	put_lines(stdout, text, rows, cols);
	free(text);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the next frame the daemon pushes (waiting at most timeout_ms, < 0:
 * as long as it takes): 0 with *snap replaced, or an exit code after saying
 * why the watch ends. */
static int
take_frame(int fd, int timeout_ms, struct json_object **reply, struct json_object **snap)
{
	struct json_object *o = NULL, *w;
	int rc;

	if ((rc = frame_read_json(fd, &o, FRAME_MAX_CONTROL, timeout_ms)) != 0) {
		screen_restore();
		fprintf(stderr, "ukeyctl: watch: %s\n", rc == UKEY_ERR_IO ?
		    "the daemon closed the connection" : ukey_strerror(rc));
		return EXIT_TEMPFAIL;
	}
	if ((w = json_object_object_get(o, "watch")) == NULL) {
		struct json_object *err = json_object_object_get(o, "error");

		screen_restore();
		fprintf(stderr, "ukeyctl: watch: %s\n", err ? jget(err, "message") :
		    "unexpected frame from the daemon");
		rc = err ? ctl_exit_for(jget(err, "code")) : EXIT_TEMPFAIL;
		json_object_put(o);
		return rc;
	}
	json_object_put(*reply);
	*reply = o;
	*snap = w;
	return 0;
}

/* 1 when the keys typed say quit (q, Q, Ctrl-C as a byte) or stdin ended. */
static int
keys_quit(void)
{
	char buf[64];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf)), i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++)
		if (buf[i] == 'q' || buf[i] == 'Q' || buf[i] == 3)
			return 1;
	return 0;
}

/* The live view: redrawn on each frame, and each second for the clocks. */
static int
watch_screen(int fd, struct json_object **reply, struct json_object *snap)
{
	struct pollfd pfd[2];
	int64_t got = mono_ms();
	int ex = EXIT_OK, stdin_open = 1, r, k;

	screen_setup();
	draw(snap, 0, 1);
	while (!got_quit) {
		int64_t age = mono_ms() - got;

		pfd[0] = (struct pollfd){ .fd = fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN };
		/* not a poll of the daemon: the next second of the elapsed times */
		r = poll(pfd, 2, (int)(1000 - age % 1000));
		if (r < 0 && errno != EINTR)
			break;
		if (got_quit)
			break;
		if (r > 0 && pfd[1].revents) {
			if ((k = keys_quit()) > 0)
				break;
			stdin_open = k == 0;
		}
		if (r > 0 && pfd[0].revents) {
			/* poll said a frame is coming: it comes whole */
			if ((ex = take_frame(fd, 10000, reply, &snap)) != 0)
				return ex;
			got = mono_ms();
		}
		if (got_stop)
			screen_suspend();
		got_winch = 0;
		draw(snap, mono_ms() - got, 1);
	}
	screen_restore();
	return ex;
}

/* --json without --once: each snapshot as one line of JSON, as it comes. */
static int
watch_json_lines(int fd, struct json_object **reply, struct json_object *snap)
{
	int ex;

	for (;;) {
		printf("%s\n", json_object_to_json_string_ext(snap, JSON_C_TO_STRING_PLAIN |
		    JSON_C_TO_STRING_NOSLASHESCAPE));
		if (fflush(stdout) != 0)
			return EXIT_OK;		/* the reader went away */
		if ((ex = take_frame(fd, -1, reply, &snap)) != 0)
			return ex;
	}
}

/* ukeyctl watch [--once] [--json] */
int
verb_watch(const struct ctl_verb *v, const struct ctl_args *a)
{
	struct json_object *reply = NULL, *snap = NULL;
	int once = a->val[OPT_ONCE] != NULL, fd = -1, ex;

	(void)v;
	if ((ex = ctl_subscribe("watch.subscribe", NULL, &reply, &snap, &fd)) != EXIT_OK)
		goto out;
	if (ctl_json && once)
		print_json(snap);
	else if (ctl_json)
		ex = watch_json_lines(fd, &reply, snap);
	else if (once || !isatty(STDOUT_FILENO))
		draw(snap, 0, 0);	/* one snapshot: the reply to the subscription */
	else
		ex = watch_screen(fd, &reply, snap);
 out:
	if (fd >= 0)
		close(fd);
	json_object_put(reply);
	return ex;
}
