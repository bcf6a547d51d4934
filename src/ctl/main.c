/* ukeyctl: the station's admin CLI. Each verb becomes one request on the
 * daemon's control socket; the reply is printed as a table or, with --json,
 * as the JSON the daemon sent. Exit codes are listed in usage(). */
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/pem.h>

#include <sys/stat.h>

#include "common/config.h"
#include "common/err.h"
#include "common/errlist.h"
#include "common/frame.h"
#include "common/secret.h"
#include "common/utf8.h"
#include "orders/order.h"
#include "detect/profile.h"
#include "detect/source.h"
#include "store/audit.h"
#include "store/auditkey.h"
#include "store/witness.h"

enum exit_code {
	EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_NOTFOUND = 2, EXIT_PENDING = 3, EXIT_USAGE = 64,
	EXIT_DATAERR = 65,
	EXIT_NOINPUT = 66, EXIT_UNAVAILABLE = 69, EXIT_TEMPFAIL = 75, EXIT_NOPERM = 77
};

static const char *sock_path;
static int want_json;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ukeyctl [--state DIR | --socket PATH] [--json] COMMAND [ARGS]\n"
	    "\n"
	    "orders:   order import [--partial] [--format json|csv] FILE\n"
	    "          order list [--state STATE] [--org USCC] [--type new|renewal]\n"
	    "                     [--since YYYY-MM-DD] [--until YYYY-MM-DD]\n"
	    "          order show ID [--reveal]       --reveal: full ID numbers (audited)\n"
	    "          order approve ID [--override-reason TEXT]\n"
	    "          order reject ID --remark TEXT\n"
	    "          order override ID --reason TEXT  accept failed ID check characters\n"
	    "          order edit ID FILE             new content for a rejected order\n"
	    "          order resubmit ID\n"
	    "          order pay ID --payment-no NO\n"
	    "          order deliver ID (--picked-up-by NAME | --carrier NAME --tracking NO)\n"
	    "          order cancel ID --remark TEXT\n"
	    "          order invoice ID\n"
	    "          queue                          in production, queued, held (with why)\n"
	    "          unit release N --remark TEXT   a held unit back to the queue\n"
	    "          unit cancel N --remark TEXT    a held or queued unit is not produced\n"
	    "bays:     bays\n"
	    "          bay wait --bay N [--timeout SECONDS]\n"
	    "          bay take-pin --bay N\n"
	    "          bay wipe --bay N\n"
	    "          token inspect --bay N\n"
	    "          token unblock --bay N [--remark TEXT]  new user PIN (admin)\n"
	    "          jobs [--state STATE]\n"
	    "          job abandon ID --remark TEXT\n"
	    "detection: events [--since SEQ] [--follow]\n"
	    "          sources\n"
	    "virtual:  sim plug [--bay N] [--preset blank|initialised] [--token N] [--profile NAME] [--wait]\n"
	    "          sim unplug --bay N\n"
	    "audit:    audit serials [--order ID] [--org USCC]\n"
	    "          audit verify [--db FILE | --file EXPORT] [--pubkey PEM] [--witness FILE]\n"
	    "          audit export [--output FILE]\n"
	    "          audit checkpoint\n"
	    "          audit pubkey\n"
	    "          audit log [--order ID] [--limit N]\n"
	    "          ca show\n"
	    "dual control: pending [--all]           requests waiting for a second user\n"
	    "          confirm ID [--remark TEXT]    run another user's held request\n"
	    "          pending cancel ID [--remark TEXT]  withdraw your own request\n"
	    "          status\n"
	    "profiles: profiles                       what the daemon loaded\n"
	    "          profiles check FILE...         no daemon needed\n"
	    "          profiles udev-rules [DIR...]   no daemon needed\n"
	    "\n"
	    "The socket is DIR/ukeyd.sock (DIR from --state, else $UKEY_STATE, else\n"
	    "/var/lib/ukey-station). Exit codes: 0 done; 1 refused by the station; 2 not\n"
	    "found; 3 held for a second user's confirmation (nothing done yet; see\n"
	    "ukeyctl pending); 64 usage; 65 invalid input; 66 input file unreadable;\n"
	    "69 daemon not running; 75 busy, timed out, or the daemon closed the\n"
	    "connection; 77 permission denied.\n");
}

static int
exit_for(const char *code)
{
	int rc = ukey_errcode(code);

	switch (rc) {
	case UKEY_ERR_INVAL:
	case UKEY_ERR_PROTO:
		return EXIT_DATAERR;
	case UKEY_ERR_NOTFOUND:
		return EXIT_NOTFOUND;
	case UKEY_ERR_PERM:
		return EXIT_NOPERM;
	case UKEY_ERR_BUSY:
	case UKEY_ERR_TIMEOUT:
		return EXIT_TEMPFAIL;
	case UKEY_ERR_UNAVAIL:
		return EXIT_UNAVAILABLE;
	default:
		return EXIT_REFUSED;
	}
}

/* Sends one request and returns the reply (owned) or NULL with *ex set. */
static struct json_object *
call(const char *cmd, struct json_object *args, int *ex)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct json_object *req = json_object_new_object(), *rep = NULL;
	int fd = -1, rc;

	json_object_object_add(req, "v", json_object_new_int(1));
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	json_object_object_add(req, "args", args ? args : json_object_new_object());
	if (strlen(sock_path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "ukeyctl: socket path too long: %s\n", sock_path);
		*ex = EXIT_USAGE;
		goto out;
	}
	strcpy(sun.sun_path, sock_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		fprintf(stderr, "ukeyctl: the station daemon is not running (cannot connect to %s: %s)\n",
		    sock_path, strerror(errno));
		*ex = EXIT_UNAVAILABLE;
		goto out;
	}
	if ((rc = frame_write_json(fd, req, FRAME_MAX_CONTROL)) != 0) {
		int err = errno;

		if (rc == UKEY_ERR_PROTO) {
			fprintf(stderr, "ukeyctl: sending the request: %s\n", ukey_strerror(rc));
			*ex = EXIT_DATAERR;
			goto out;
		}
		/* a daemon that refuses a connection says why in one frame
		 * before it closes: that is the answer, if it is there */
		if (frame_read_json(fd, &rep, FRAME_MAX_CONTROL, 1000) == 0) {
			*ex = EXIT_OK;
			goto out;
		}
		fprintf(stderr, "ukeyctl: daemon closed the connection: sending the request: %s\n",
		    strerror(err));
		*ex = EXIT_TEMPFAIL;
		goto out;
	}
	if ((rc = frame_read_json(fd, &rep, FRAME_MAX_CONTROL, 900000)) != 0) {
		if (rc == UKEY_ERR_IO)
			fprintf(stderr, "ukeyctl: daemon closed the connection before it replied\n");
		else if (rc == UKEY_ERR_TIMEOUT)
			fprintf(stderr, "ukeyctl: no reply from the daemon within 900 s\n");
		else
			fprintf(stderr, "ukeyctl: reading the reply: %s\n", ukey_strerror(rc));
		*ex = EXIT_TEMPFAIL;
		goto out;
	}
	*ex = EXIT_OK;
 out:
	if (fd >= 0)
		close(fd);
	json_object_put(req);
	return rep;
}

/* Runs a request; prints an error reply and returns its exit code, or
 * returns 0 with *result borrowed from *reply (which the caller frees). */
static int
run(const char *cmd, struct json_object *args, struct json_object **reply,
    struct json_object **result)
{
	struct json_object *err, *details;
	int ex;
	size_t i;

	*result = NULL;
	if ((*reply = call(cmd, args, &ex)) == NULL)
		return ex;
	if (json_object_get_boolean(json_object_object_get(*reply, "ok"))) {
		*result = json_object_object_get(*reply, "result");
		/* dual control held the command: nothing was done yet */
		if ((details = json_object_object_get(*result, "pending_request")) != NULL) {
			if (want_json)
				printf("%s\n", json_object_to_json_string_ext(*result,
				    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
			else
				printf("%s\n", json_object_get_string(json_object_object_get(details,
				    "message")));
			*result = NULL;
			return EXIT_PENDING;
		}
		return EXIT_OK;
	}
	err = json_object_object_get(*reply, "error");
	if (want_json) {
		printf("%s\n", json_object_to_json_string_ext(*reply, JSON_C_TO_STRING_PRETTY));
	} else {
		fprintf(stderr, "ukeyctl: %s\n", json_object_get_string(json_object_object_get(err,
		    "message")));
		details = json_object_object_get(err, "details");
		for (i = 0; json_object_is_type(details, json_type_array) &&
		    i < json_object_array_length(details); i++)
			fprintf(stderr, "  %s\n", json_object_get_string(json_object_array_get_idx(details, i)));
	}
	return exit_for(json_object_get_string(json_object_object_get(err, "code")));
}

static void
print_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Terminal columns a UTF-8 string takes: East Asian wide characters (the
 * Chinese names of orders) take two, so tables stay aligned. */
static size_t
display_width(const char *s)
{
	size_t w = 0;

	while (*s) {
		uint32_t cp = (unsigned char)*s;
		size_t n = utf8_decode(s, strnlen(s, 4), &cp);

		s += n > 0 ? n : 1;	/* a byte that is no UTF-8 takes one column */
		w += (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
		    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
		    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
		    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x20000 && cp <= 0x3fffd) ? 2 : 1;
	}
	return w;
}

static void
print_cell(const char *v, size_t width, int last)
{
	size_t w = display_width(v);

	fputs(v, stdout);
	if (last) {
		putchar('\n');
		return;
	}
	for (; w < width + 2; w++)
		putchar(' ');
}

/* Prints an array of objects as a table of the named columns. */
static void
print_table(struct json_object *rows, const char *const *cols)
{
	size_t n = json_object_array_length(rows), i, c, ncol = 0;
	size_t width[32] = { 0 };

	while (cols[ncol] != NULL && ncol < 32)
		ncol++;
	for (c = 0; c < ncol; c++)
		width[c] = strlen(cols[c]);
	for (i = 0; i < n; i++)
		for (c = 0; c < ncol; c++) {
			const char *v = json_object_get_string(json_object_object_get(
			    json_object_array_get_idx(rows, i), cols[c]));
			size_t w = v ? display_width(v) : 1;

			if (w > width[c])
				width[c] = w;
		}
	for (c = 0; c < ncol; c++)
		print_cell(cols[c], width[c], c + 1 == ncol);
	for (i = 0; i < n; i++)
		for (c = 0; c < ncol; c++) {
			const char *v = json_object_get_string(json_object_object_get(
			    json_object_array_get_idx(rows, i), cols[c]));

			print_cell(v ? v : "-", width[c], c + 1 == ncol);
		}
}

static int
parse_int(const char *s, const char *what, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < 0) {
		fprintf(stderr, "ukeyctl: %s: \"%s\" is not a non-negative integer\n", what, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* Options shared by the verbs; each verb says which it accepts. */
struct opts {
	int64_t bay, token, order, limit, timeout;
	const char *state, *remark, *payment_no, *override, *preset, *profile, *org;
	const char *file, *pubkey, *db, *output, *witness;
	const char *reason, *picked_up_by, *carrier, *tracking, *type, *since, *until;
	int wait, reveal, all;
};

static int
parse_opts(int argc, char **argv, struct opts *o, const char *allowed)
{
	static const struct option lo[] = {
		{ "bay", required_argument, NULL, 'b' },
		{ "token", required_argument, NULL, 't' },
		{ "order", required_argument, NULL, 'o' },
		{ "limit", required_argument, NULL, 'l' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "state", required_argument, NULL, 's' },
		{ "remark", required_argument, NULL, 'r' },
		{ "payment-no", required_argument, NULL, 'p' },
		{ "override-reason", required_argument, NULL, 'O' },
		{ "preset", required_argument, NULL, 'P' },
		{ "profile", required_argument, NULL, 'f' },
		{ "org", required_argument, NULL, 'g' },
		{ "wait", no_argument, NULL, 'w' },
		{ "reason", required_argument, NULL, 'R' },
		{ "picked-up-by", required_argument, NULL, 'U' },
		{ "carrier", required_argument, NULL, 'C' },
		{ "tracking", required_argument, NULL, 'K' },
		{ "type", required_argument, NULL, 'y' },
		{ "since", required_argument, NULL, '1' },
		{ "until", required_argument, NULL, '2' },
		{ "reveal", no_argument, NULL, 'v' },
		{ "file", required_argument, NULL, 'F' },
		{ "pubkey", required_argument, NULL, 'k' },
		{ "db", required_argument, NULL, 'D' },
		{ "output", required_argument, NULL, 'E' },
		{ "witness", required_argument, NULL, 'W' },
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 }
	};
	int ch, idx;

	optind = 0;	/* glibc: 0 also resets its permutation state */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", lo, &idx)) != -1) {
		if (ch == '?' || strchr(allowed, ch) == NULL) {
			fprintf(stderr, "ukeyctl %s: option %s is not accepted here\n", argv[0],
			    argv[optind - 1]);
			return -1;
		}
		switch (ch) {
		case 'b': if (parse_int(optarg, "--bay", &o->bay)) return -1; break;
		case 't': if (parse_int(optarg, "--token", &o->token)) return -1; break;
		case 'o': if (parse_int(optarg, "--order", &o->order)) return -1; break;
		case 'l': if (parse_int(optarg, "--limit", &o->limit)) return -1; break;
		case 'T': if (parse_int(optarg, "--timeout", &o->timeout)) return -1; break;
		case 's': o->state = optarg; break;
		case 'r': o->remark = optarg; break;
		case 'p': o->payment_no = optarg; break;
		case 'O': o->override = optarg; break;
		case 'P': o->preset = optarg; break;
		case 'f': o->profile = optarg; break;
		case 'g': o->org = optarg; break;
		case 'w': o->wait = 1; break;
		case 'R': o->reason = optarg; break;
		case 'U': o->picked_up_by = optarg; break;
		case 'C': o->carrier = optarg; break;
		case 'K': o->tracking = optarg; break;
		case 'y': o->type = optarg; break;
		case '1': o->since = optarg; break;
		case '2': o->until = optarg; break;
		case 'v': o->reveal = 1; break;
		case 'F': o->file = optarg; break;
		case 'k': o->pubkey = optarg; break;
		case 'D': o->db = optarg; break;
		case 'E': o->output = optarg; break;
		case 'W': o->witness = optarg; break;
		case 'a': o->all = 1; break;
		}
	}
	return optind;
}

static char *
read_file(const char *path, size_t max)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	if ((buf = malloc(max + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, max + 1, f);
	fclose(f);
	if (n > max) {
		free(buf);
		errno = EFBIG;
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static int
simple(const char *cmd, struct json_object *args, const char *const *cols, const char *done)
{
	struct json_object *rep, *res;
	int ex = run(cmd, args, &rep, &res);

	if (ex == EXIT_OK) {
		if (want_json)
			print_json(res);
		else if (cols && json_object_is_type(res, json_type_array))
			print_table(res, cols);
		else if (done)
			printf("%s\n", done);
		else
			print_json(res);
	}
	json_object_put(rep);
	return ex;
}

static struct json_object *
bay_state(int64_t bay, int *ex)
{
	struct json_object *rep, *res, *b = NULL;

	if ((*ex = run("bay.list", NULL, &rep, &res)) == EXIT_OK && bay >= 1 &&
	    (size_t)bay <= json_object_array_length(res))
		b = json_object_get(json_object_array_get_idx(res, (size_t)bay - 1));
	else if (*ex == EXIT_OK)
		*ex = EXIT_NOTFOUND;
	json_object_put(rep);
	return b;
}

/* Waits until the bay's token is no longer being worked on. */
static int
bay_wait(int64_t bay, int64_t timeout_s)
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
			if (want_json)
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

static int
need(const char *what, int ok)
{
	if (!ok)
		fprintf(stderr, "ukeyctl: %s is required (see ukeyctl --help)\n", what);
	return ok;
}

/* Reads a whole file of at most max bytes; returns it (owned, NUL added)
 * with its length, or NULL with errno set. */
static char *
read_input(const char *path, size_t max, size_t *len)
{
	char *buf = read_file(path, max);

	/* read_file() adds a NUL after what it read; a NUL inside the file is
	 * the station's to refuse, so the length comes from the file itself */
	if (buf != NULL) {
		struct stat st;

		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size <= max)
			*len = (size_t)st.st_size;
		else
			*len = strlen(buf);
	}
	return buf;
}

/* Length of an array; 0 for anything else (a reply field left out). */
static size_t
alen(struct json_object *a)
{
	return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

/* Prints what became of each order of an import report: imported, unchanged
 * and skipped ones on stdout, the errors on stderr. */
static void
print_import_report(struct json_object *rep)
{
	struct json_object *orders = json_object_object_get(rep, "orders");
	struct json_object *ferrs = json_object_object_get(rep, "errors");
	size_t i, k;

	for (i = 0; i < alen(orders); i++) {
		struct json_object *o = json_object_array_get_idx(orders, i);
		const char *st = json_object_get_string(json_object_object_get(o, "status"));
		const char *ref = json_object_get_string(json_object_object_get(o, "portal_ref"));
		long long id = (long long)json_object_get_int64(json_object_object_get(o, "id"));
		char yuan[32];

		if (ref == NULL)
			ref = "-";
		if (strcmp(st, "imported") == 0) {
			int cf = json_object_get_int(json_object_object_get(o, "checksum_failures"));

			order_fen_format(json_object_get_int64(json_object_object_get(o, "total_fen")),
			    yuan, sizeof(yuan));
			printf("imported   %s: order %lld, %d certificate%s, %s yuan%s\n", ref, id,
			    json_object_get_int(json_object_object_get(o, "certificates")),
			    json_object_get_int(json_object_object_get(o, "certificates")) == 1 ? "" : "s",
			    yuan, cf ? ", check characters to review" : "");
		} else if (strcmp(st, "unchanged") == 0) {
			printf("unchanged  %s: order %lld (already imported)\n", ref, id);
		} else if (strcmp(st, "skipped") == 0) {
			printf("skipped    %s: valid, not imported\n", ref);
		}
	}
	fflush(stdout);
	for (k = 0; k < alen(ferrs); k++)
		fprintf(stderr, "  %s\n", json_object_get_string(json_object_array_get_idx(ferrs, k)));
	for (i = 0; i < alen(orders); i++) {
		struct json_object *e = json_object_object_get(json_object_array_get_idx(orders, i),
		    "errors");

		for (k = 0; k < alen(e); k++)
			fprintf(stderr, "  %s\n", json_object_get_string(json_object_array_get_idx(e, k)));
	}
}

/* ukeyctl order import [--partial] [--format json|csv] FILE */
static int
order_import(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "partial", no_argument, NULL, 'p' },
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	struct json_object *args, *rep, *err, *det;
	const char *format = NULL;
	int ch, partial = 0, ex;
	size_t len = 0;
	char *text;

	optind = 0;	/* glibc: 0 also resets its permutation state */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch == 'p') {
			partial = 1;
		} else if (ch == 'f' && (strcmp(optarg, "json") == 0 || strcmp(optarg, "csv") == 0)) {
			format = optarg;
		} else if (ch == 'f') {
			fprintf(stderr, "ukeyctl order import: --format must be json or csv\n");
			return EXIT_USAGE;
		} else {
			fprintf(stderr, "ukeyctl order import: option %s is not accepted here\n",
			    argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!need("FILE", argc - optind == 1)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((text = read_input(argv[optind], FRAME_MAX_CONTROL - 4096, &len)) == NULL) {
		fprintf(stderr, "ukeyctl: cannot read %s: %s\n", argv[optind], strerror(errno));
		return EXIT_NOINPUT;
	}
	args = json_object_new_object();
	json_object_object_add(args, "text", json_object_new_string_len(text, (int)len));
	json_object_object_add(args, "file", json_object_new_string(argv[optind]));
	if (format != NULL)
		json_object_object_add(args, "format", json_object_new_string(format));
	if (partial)
		json_object_object_add(args, "partial", json_object_new_boolean(1));
	free(text);
	if ((rep = call("order.import", args, &ex)) == NULL)
		return ex;
	err = json_object_object_get(rep, "error");
	det = json_object_object_get(err, "details");
	if (json_object_get_boolean(json_object_object_get(rep, "ok"))) {
		if (want_json)
			print_json(json_object_object_get(rep, "result"));
		else
			print_import_report(json_object_object_get(rep, "result"));
		ex = EXIT_OK;
	} else if (want_json) {
		print_json(rep);
		ex = exit_for(json_object_get_string(json_object_object_get(err, "code")));
	} else {
		fprintf(stderr, "ukeyctl: %s\n", json_object_get_string(json_object_object_get(err,
		    "message")));
		if (json_object_is_type(det, json_type_object))
			print_import_report(det);
		ex = exit_for(json_object_get_string(json_object_object_get(err, "code")));
	}
	json_object_put(rep);
	return ex;
}

/* A lifecycle command: prints "order N: STATE" (and what else the daemon
 * says happened), or the reply with --json. */
static int
transition(const char *cmd, struct json_object *args)
{
	struct json_object *rep, *res, *v;
	int ex = run(cmd, args, &rep, &res);

	if (ex == EXIT_OK && want_json) {
		print_json(res);
	} else if (ex == EXIT_OK) {
		printf("order %lld: %s", (long long)json_object_get_int64(json_object_object_get(res,
		    "id")), json_object_get_string(json_object_object_get(res, "state")));
		if ((v = json_object_object_get(res, "changed")) != NULL)
			printf(json_object_get_boolean(v) ? ", content changed (revision %lld)" :
			    ", content unchanged (revision %lld)",
			    (long long)json_object_get_int64(json_object_object_get(res, "revision")));
		if ((v = json_object_object_get(res, "renews_cert")) != NULL)
			printf(", renews certificate %s", json_object_get_string(v));
		if (json_object_get_boolean(json_object_object_get(res, "refund_due")))
			printf(", refund due");
		if (strcmp(cmd, "order.pay") == 0)
			printf("; its certificates are queued for production");
		printf("\n");
	}
	json_object_put(rep);
	return ex;
}

static int
cmd_order(int argc, char **argv)
{
	static const char *const cols[] = { "id", "portal_ref", "type", "state", "org_name",
		"certificates", "issued", "total_fen", "payment_no", NULL };
	struct json_object *args = json_object_new_object();
	struct opts o = { 0 };
	const char *verb = argc > 1 ? argv[1] : "";
	int64_t id = 0;
	int i;

	if (strcmp(verb, "import") == 0) {
		json_object_put(args);
		return order_import(argc - 1, argv + 1);
	}
	if (strcmp(verb, "list") == 0) {
		if (parse_opts(argc - 1, argv + 1, &o, "sgy12") != argc - 1)
			goto usage;
		if (o.type && strcmp(o.type, "new") != 0 && strcmp(o.type, "renewal") != 0) {
			fprintf(stderr, "ukeyctl: --type: must be new or renewal, not \"%s\"\n", o.type);
			json_object_put(args);
			return EXIT_USAGE;
		}
		if (o.state)
			json_object_object_add(args, "state", json_object_new_string(o.state));
		if (o.org)
			json_object_object_add(args, "org", json_object_new_string(o.org));
		if (o.type)
			json_object_object_add(args, "type", json_object_new_string(o.type));
		if (o.since)
			json_object_object_add(args, "since", json_object_new_string(o.since));
		if (o.until)
			json_object_object_add(args, "until", json_object_new_string(o.until));
		return simple("order.list", args, cols, NULL);
	}
	if (strcmp(verb, "edit") == 0) {
		char *text;

		if ((i = parse_opts(argc - 1, argv + 1, &o, "")) < 0 ||
		    !need("ID FILE", argc - 1 - i == 2) || parse_int(argv[1 + i], "ID", &id) != 0)
			goto usage;
		if ((text = read_file(argv[2 + i], FRAME_MAX_CONTROL - 4096)) == NULL) {
			fprintf(stderr, "ukeyctl: cannot read %s: %s\n", argv[2 + i], strerror(errno));
			json_object_put(args);
			return EXIT_NOINPUT;
		}
		json_object_object_add(args, "id", json_object_new_int64(id));
		json_object_object_add(args, "text", json_object_new_string(text));
		free(text);
		return transition("order.edit", args);
	}
	{
		static const struct {
			const char *verb, *allowed;
		} verbs[] = {
			{ "show", "v" }, { "approve", "O" }, { "reject", "r" }, { "pay", "p" },
			{ "override", "R" }, { "resubmit", "" }, { "deliver", "UCK" },
			{ "cancel", "r" }, { "invoice", "" },
		};
		const char *allowed = NULL;
		size_t k;

		for (k = 0; k < sizeof(verbs) / sizeof(verbs[0]); k++)
			if (strcmp(verb, verbs[k].verb) == 0)
				allowed = verbs[k].allowed;
		if (allowed == NULL)
			goto usage;
		if ((i = parse_opts(argc - 1, argv + 1, &o, allowed)) < 0 || argc - 1 - i != 1 ||
		    parse_int(argv[1 + i], "ID", &id) != 0)
			goto usage;
	}
	json_object_object_add(args, "id", json_object_new_int64(id));
	if (strcmp(verb, "show") == 0) {
		if (o.reveal)
			json_object_object_add(args, "reveal", json_object_new_boolean(1));
		return simple("order.show", args, NULL, NULL);
	}
	if (strcmp(verb, "approve") == 0) {
		if (o.override)
			json_object_object_add(args, "override_reason", json_object_new_string(o.override));
		return transition("order.approve", args);
	}
	if (strcmp(verb, "override") == 0) {
		if (!need("--reason TEXT", o.reason != NULL))
			goto usage;
		json_object_object_add(args, "reason", json_object_new_string(o.reason));
		return transition("order.override", args);
	}
	if (strcmp(verb, "reject") == 0 || strcmp(verb, "cancel") == 0) {
		if (!need("--remark TEXT", o.remark != NULL))
			goto usage;
		json_object_object_add(args, "remark", json_object_new_string(o.remark));
		return transition(verb[0] == 'r' ? "order.reject" : "order.cancel", args);
	}
	if (strcmp(verb, "pay") == 0) {
		if (!need("--payment-no NO", o.payment_no != NULL))
			goto usage;
		json_object_object_add(args, "payment_no", json_object_new_string(o.payment_no));
		return transition("order.pay", args);
	}
	if (strcmp(verb, "deliver") == 0) {
		if (!need("--picked-up-by NAME, or --carrier NAME and --tracking NO",
		    (o.picked_up_by != NULL) != (o.carrier != NULL || o.tracking != NULL)))
			goto usage;
		if (o.picked_up_by)
			json_object_object_add(args, "picked_up_by", json_object_new_string(o.picked_up_by));
		if (o.carrier)
			json_object_object_add(args, "carrier", json_object_new_string(o.carrier));
		if (o.tracking)
			json_object_object_add(args, "tracking_no", json_object_new_string(o.tracking));
		return transition("order.deliver", args);
	}
	if (strcmp(verb, "resubmit") == 0)
		return transition("order.resubmit", args);
	return transition("order.invoice", args);
 usage:
	json_object_put(args);
	usage(stderr);
	return EXIT_USAGE;
}

static int
cmd_bay(int argc, char **argv)
{
	struct json_object *args = json_object_new_object();
	struct opts o = { 0 };
	const char *verb = argc > 1 ? argv[1] : "";

	if (parse_opts(argc - 1, argv + 1, &o, "bT") != argc - 1 || !need("--bay N", o.bay > 0))
		goto usage;
	json_object_object_add(args, "bay", json_object_new_int64(o.bay));
	if (strcmp(verb, "wait") == 0) {
		json_object_put(args);
		return bay_wait(o.bay, o.timeout);
	}
	if (strcmp(verb, "take-pin") == 0) {
		struct json_object *rep, *res;
		int ex = run("bay.take_pin", args, &rep, &res);

		struct json_object *pin = json_object_object_get(res, "user_pin");
		size_t len = 0;
		char *txt;

		if (ex == EXIT_OK && want_json) {
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
	if (strcmp(verb, "wipe") == 0)
		return simple("bay.wipe", args, NULL, "wiping allowed: the next job on this bay initialises the token again");
 usage:
	json_object_put(args);
	usage(stderr);
	return EXIT_USAGE;
}

/* What a confirmed request's command did, in the words its own verb uses. */
static void
print_confirmed(int64_t id, struct json_object *res)
{
	struct json_object *v;

	printf("request %lld confirmed: ", (long long)id);
	if (json_object_object_get(res, "was_locked") != NULL)
		printf("token %s: new user PIN set%s; show it once with: ukeyctl bay take-pin"
		    " --bay %d (only the confirming user can)\n",
		    json_object_get_string(json_object_object_get(res, "token_serial")),
		    json_object_get_boolean(json_object_object_get(res, "was_locked")) ?
		    " (it was locked)" : "", json_object_get_int(json_object_object_get(res, "bay")));
	else if ((v = json_object_object_get(res, "id")) != NULL)
		printf("order %lld: %s\n", (long long)json_object_get_int64(v),
		    json_object_get_string(json_object_object_get(res, "state")));
	else if ((v = json_object_object_get(res, "bay")) != NULL)
		printf("bay %d: wiping allowed; the job restarts on this token\n",
		    json_object_get_int(v));
	else
		printf("done\n");
}

/* ukeyctl confirm ID [--remark TEXT] | pending [--all] | pending cancel ID [--remark TEXT] */
static int
cmd_dual(int argc, char **argv)
{
	static const char *const cols[] = { "id", "action", "command", "args", "requested_by",
		"requested_at", "expires_at", "state", "confirmed_by", "close_reason", NULL };
	struct json_object *args = json_object_new_object(), *rep, *res;
	struct opts o = { 0 };
	int confirm = strcmp(argv[0], "confirm") == 0, i, ex;
	int64_t id;

	if (!confirm && (argc < 2 || strcmp(argv[1], "cancel") != 0)) {
		if (parse_opts(argc, argv, &o, "a") != argc)
			goto usage;
		if (o.all)
			json_object_object_add(args, "all", json_object_new_boolean(1));
		return simple("pending.list", args, cols, NULL);
	}
	if (!confirm) {		/* pending cancel ... */
		argc--;
		argv++;
	}
	if ((i = parse_opts(argc, argv, &o, "r")) < 0 || !need("ID", argc - i == 1) ||
	    parse_int(argv[i], "ID", &id) != 0)
		goto usage;
	json_object_object_add(args, "id", json_object_new_int64(id));
	if (o.remark)
		json_object_object_add(args, "remark", json_object_new_string(o.remark));
	if (!confirm)
		return simple("pending.cancel", args, NULL, "request cancelled");
	if ((ex = run("pending.confirm", args, &rep, &res)) == EXIT_OK) {
		if (want_json)
			print_json(res);
		else
			print_confirmed(id, res);
	}
	json_object_put(rep);
	return ex;
 usage:
	json_object_put(args);
	usage(stderr);
	return EXIT_USAGE;
}

static int
cmd_sim(int argc, char **argv)
{
	struct json_object *args = json_object_new_object(), *rep, *res;
	struct opts o = { 0 };
	const char *verb = argc > 1 ? argv[1] : "";
	int ex;

	if (strcmp(verb, "plug") == 0) {
		if (parse_opts(argc - 1, argv + 1, &o, "btPfwT") != argc - 1)
			goto usage;
		if (o.bay)
			json_object_object_add(args, "bay", json_object_new_int64(o.bay));
		if (o.token)
			json_object_object_add(args, "token", json_object_new_int64(o.token));
		if (o.preset)
			json_object_object_add(args, "preset", json_object_new_string(o.preset));
		if (o.profile)
			json_object_object_add(args, "profile", json_object_new_string(o.profile));
		if ((ex = run("sim.plug", args, &rep, &res)) != EXIT_OK) {
			json_object_put(rep);
			return ex;
		}
		o.bay = json_object_get_int64(json_object_object_get(res, "bay"));
		if (!o.wait) {
			if (want_json)
				print_json(res);
			else
				printf("virtual token %04lld plugged into bay %lld\n",
				    (long long)json_object_get_int64(json_object_object_get(res, "token")),
				    (long long)o.bay);
		}
		json_object_put(rep);
		return o.wait ? bay_wait(o.bay, o.timeout) : EXIT_OK;
	}
	if (strcmp(verb, "unplug") == 0) {
		if (parse_opts(argc - 1, argv + 1, &o, "b") != argc - 1 || !need("--bay N", o.bay > 0))
			goto usage;
		json_object_object_add(args, "bay", json_object_new_int64(o.bay));
		return simple("sim.unplug", args, NULL, "unplugged");
	}
 usage:
	json_object_put(args);
	usage(stderr);
	return EXIT_USAGE;
}

/* Prints a verification report (audit_report_json's form) and returns the
 * exit code: 0 intact, 1 broken. */
static int
audit_print_report(struct json_object *res)
{
	int ok = json_object_get_boolean(json_object_object_get(res, "ok"));
	int64_t unsigned_n = json_object_get_int64(json_object_object_get(res, "unsigned"));
	struct json_object *w;

	if (want_json) {
		print_json(res);
	} else if (ok) {
		printf("audit log OK: %lld records, %lld checkpoints, last signed record %lld\n",
		    (long long)json_object_get_int64(json_object_object_get(res, "records")),
		    (long long)json_object_get_int64(json_object_object_get(res, "checkpoints")),
		    (long long)json_object_get_int64(json_object_object_get(res, "last_signed_id")));
		if (unsigned_n > 0)
			printf("note: %lld records after the last checkpoint are not signed yet\n",
			    (long long)unsigned_n);
		if ((w = json_object_object_get(res, "witness")) != NULL)
			printf("witness: the log holds all %lld heads witnessed (the latest at record"
			    " %lld)\n", (long long)json_object_get_int64(json_object_object_get(w, "heads")),
			    (long long)json_object_get_int64(json_object_object_get(w, "records")));
	} else if (json_object_object_get(res, "first_bad") != NULL) {
		printf("audit log BROKEN at record %lld: %s\n",
		    (long long)json_object_get_int64(json_object_object_get(res, "first_bad")),
		    json_object_get_string(json_object_object_get(res, "reason")));
	} else if (json_object_object_get(res, "bad_checkpoint") != NULL) {
		printf("audit log BROKEN at checkpoint %lld: %s\n",
		    (long long)json_object_get_int64(json_object_object_get(res, "bad_checkpoint")),
		    json_object_get_string(json_object_object_get(res, "reason")));
	} else {
		printf("audit log BROKEN: %s\n",
		    json_object_get_string(json_object_object_get(res, "reason")));
	}
	return ok ? EXIT_OK : EXIT_REFUSED;
}

/* Reads the witness file at path into ws, checking every line's signature
 * with pub. Returns EXIT_OK, or prints why and returns the exit code. */
static int
witness_load(const char *path, EVP_PKEY *pub, struct witness_set *ws)
{
	char why[256];
	FILE *f;
	int rc;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "ukeyctl: cannot read %s: %s\n", path, strerror(errno));
		return EXIT_NOINPUT;
	}
	rc = witness_read(f, pub, ws, why, sizeof(why));
	fclose(f);
	if (rc == 0 && ws->lines > 0)
		return EXIT_OK;
	/* a file with no witness line (the wrong file) vouches for nothing */
	if (rc == 0) {
		snprintf(why, sizeof(why), "no witness line (%s) in %" PRId64 " lines", WITNESS_TAG,
		    ws->skipped);
		rc = UKEY_ERR_VERIFY;
	}
	if (rc != UKEY_ERR_VERIFY) {
		fprintf(stderr, "ukeyctl: %s: %s\n", path, why[0] ? why : ukey_strerror(rc));
		return rc == UKEY_ERR_IO ? EXIT_NOINPUT : EXIT_REFUSED;
	}
	if (want_json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "ok", json_object_new_boolean(0));
		json_object_object_add(o, "witness_refused", json_object_new_boolean(1));
		json_object_object_add(o, "reason", json_object_new_string(why));
		print_json(o);
		json_object_put(o);
	} else {
		printf("audit witness REFUSED: %s: %s\n", path, why);
	}
	return EXIT_REFUSED;
}

/* The daemon's audit public key, for checking a witness in daemon mode. */
static int
daemon_pubkey(EVP_PKEY **out)
{
	struct json_object *rep, *res;
	const char *pem;
	BIO *bio = NULL;
	int ex;

	*out = NULL;
	if ((ex = run("audit.pubkey", NULL, &rep, &res)) != EXIT_OK)
		goto out;
	pem = json_object_get_string(json_object_object_get(res, "pem"));
	if (pem == NULL || (bio = BIO_new_mem_buf(pem, -1)) == NULL ||
	    (*out = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) == NULL) {
		fprintf(stderr, "ukeyctl: the daemon's audit public key does not parse\n");
		ex = EXIT_DATAERR;
	}
 out:
	BIO_free(bio);
	json_object_put(rep);
	return ex;
}

#define WITNESS_BATCH 10000	/* heads a request carries: well under FRAME_MAX_CONTROL */

/* The daemon verifies its database; with a witness, ukeyctl checks the
 * witness lines' signatures and sends the heads in batches, each verified
 * against the whole log, and prints the first broken report or the last. */
static int
audit_verify_daemon(const char *witness, const char *pubkey)
{
	struct witness_set ws = { 0 };
	struct json_object *rep = NULL, *res = NULL;
	EVP_PKEY *pub = NULL;
	int64_t heads = 0, maxrec = 0;
	size_t done = 0;
	int ex, rc;

	if (witness == NULL) {
		if ((ex = run("audit.verify", NULL, &rep, &res)) == EXIT_OK)
			ex = audit_print_report(res);
		json_object_put(rep);
		return ex;
	}
	if (pubkey != NULL) {
		if ((rc = audit_pubkey_read(pubkey, &pub)) != 0) {
			fprintf(stderr, "ukeyctl: %s: %s\n", pubkey, rc == UKEY_ERR_IO ?
			    "cannot read the public key" : "not an Ed25519 public key in PEM");
			return rc == UKEY_ERR_IO ? EXIT_NOINPUT : EXIT_DATAERR;
		}
	} else if ((ex = daemon_pubkey(&pub)) != EXIT_OK) {
		return ex;
	}
	if ((ex = witness_load(witness, pub, &ws)) != EXIT_OK)
		goto out;
	do {
		struct json_object *args = json_object_new_object(), *arr = json_object_new_array();
		size_t i, n = ws.n - done < WITNESS_BATCH ? ws.n - done : WITNESS_BATCH;
		struct json_object *w;

		for (i = done; i < done + n; i++) {
			struct json_object *pt = json_object_new_object();

			json_object_object_add(pt, "line", json_object_new_int64(ws.p[i].line));
			json_object_object_add(pt, "records", json_object_new_int64(ws.p[i].records));
			json_object_object_add(pt, "head", json_object_new_string(ws.p[i].head));
			json_object_object_add(pt, "at", json_object_new_string(ws.p[i].at));
			json_object_array_add(arr, pt);
		}
		json_object_object_add(args, "witness", arr);
		done += n;
		json_object_put(rep);
		rep = NULL;
		if ((ex = run("audit.verify", args, &rep, &res)) != EXIT_OK)
			goto out;
		if (!json_object_get_boolean(json_object_object_get(res, "ok")))
			break;
		w = json_object_object_get(res, "witness");
		heads += json_object_get_int64(json_object_object_get(w, "heads"));
		if (json_object_get_int64(json_object_object_get(w, "records")) > maxrec)
			maxrec = json_object_get_int64(json_object_object_get(w, "records"));
		if (done == ws.n) {
			json_object_object_add(w, "heads", json_object_new_int64(heads));
			json_object_object_add(w, "records", json_object_new_int64(maxrec));
		}
	} while (done < ws.n);
	ex = audit_print_report(res);
 out:
	json_object_put(rep);
	witness_set_clear(&ws);
	EVP_PKEY_free(pub);
	return ex;
}

/* Verifies an export file or a database file with the station's public key,
 * with no daemon; with a witness file, also against the heads it saw. */
static int
audit_verify_offline(const char *file, const char *db, const char *pubkey, const char *witness)
{
	struct witness_set ws = { 0 };
	struct audit_report rep;
	struct json_object *res;
	EVP_PKEY *pub = NULL;
	FILE *f = NULL;
	int rc, ex;

	if ((rc = audit_pubkey_read(pubkey, &pub)) != 0) {
		fprintf(stderr, "ukeyctl: %s: %s\n", pubkey, rc == UKEY_ERR_IO ?
		    "cannot read the public key" : "not an Ed25519 public key in PEM");
		return rc == UKEY_ERR_IO ? EXIT_NOINPUT : EXIT_DATAERR;
	}
	/* the witness is read before the log, so that every head in it is one
	 * the log had already reached */
	if (witness != NULL && (ex = witness_load(witness, pub, &ws)) != EXIT_OK)
		goto out;
	if (file != NULL) {
		if ((f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r")) == NULL) {
			fprintf(stderr, "ukeyctl: cannot read %s: %s\n", file, strerror(errno));
			ex = EXIT_NOINPUT;
			goto out;
		}
		rc = audit_verify_export(f, pub, witness ? &ws : NULL, &rep);
		if (f != stdin)
			fclose(f);
	} else {
		if (access(db, R_OK) != 0) {
			fprintf(stderr, "ukeyctl: cannot read %s: %s\n", db, strerror(errno));
			ex = EXIT_NOINPUT;
			goto out;
		}
		rc = audit_verify_db_file(db, pub, witness ? &ws : NULL, &rep);
	}
	if (rc != 0 && rc != UKEY_ERR_VERIFY) {
		fprintf(stderr, "ukeyctl: audit verify: %s\n", ukey_strerror(rc));
		ex = rc == UKEY_ERR_IO ? EXIT_NOINPUT : EXIT_REFUSED;
		goto out;
	}
	res = audit_report_json(&rep);
	ex = audit_print_report(res);
	json_object_put(res);
 out:
	witness_set_clear(&ws);
	EVP_PKEY_free(pub);
	return ex;
}

/* Pages the records, then the checkpoints, out of the daemon as JSON lines. */
static int
audit_export(const char *output)
{
	static const char *const what[] = { "records", "checkpoints" };
	FILE *out = stdout;
	char *tmp = NULL;
	int64_t upto = -1, lines = 0;
	int ex = EXIT_OK, w, fd;
	mode_t um;

	/* the export goes to a temporary file next to output and takes its
	 * name only when complete: a refused or broken export leaves no file,
	 * and an earlier export of that name as it was */
	if (output != NULL) {
		if (asprintf(&tmp, "%s.XXXXXX", output) < 0) {
			fprintf(stderr, "ukeyctl: out of memory\n");
			return EXIT_TEMPFAIL;
		}
		if ((fd = mkstemp(tmp)) < 0) {
			fprintf(stderr, "ukeyctl: cannot write %s: %s\n", output, strerror(errno));
			free(tmp);
			return EXIT_NOINPUT;
		}
		um = umask(0);
		umask(um);
		(void)fchmod(fd, 0666 & ~um);	/* as fopen would create it */
		if ((out = fdopen(fd, "w")) == NULL) {
			fprintf(stderr, "ukeyctl: cannot write %s: %s\n", output, strerror(errno));
			close(fd);
			unlink(tmp);
			free(tmp);
			return EXIT_NOINPUT;
		}
	}
	for (w = 0; w < 2 && ex == EXIT_OK; w++) {
		int64_t after = 0;

		for (;;) {
			struct json_object *args = json_object_new_object(), *rep, *res, *items;
			size_t i, n;

			json_object_object_add(args, "what", json_object_new_string(what[w]));
			json_object_object_add(args, "after", json_object_new_int64(after));
			json_object_object_add(args, "limit", json_object_new_int64(2000));
			if (upto >= 0)
				json_object_object_add(args, "upto", json_object_new_int64(upto));
			if ((ex = run("audit.export", args, &rep, &res)) != EXIT_OK) {
				json_object_put(rep);
				break;
			}
			upto = json_object_get_int64(json_object_object_get(res, "upto"));
			items = json_object_object_get(res, "items");
			n = json_object_array_length(items);
			for (i = 0; i < n; i++) {
				struct json_object *it = json_object_array_get_idx(items, i);

				fprintf(out, "%s\n", json_object_to_json_string_ext(it,
				    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
				after = json_object_get_int64(json_object_object_get(it,
				    w == 0 ? "id" : "checkpoint"));
				lines++;
			}
			json_object_put(rep);
			if (n == 0)
				break;
		}
	}
	if (fflush(out) != 0 || ferror(out) || (out != stdout && fsync(fileno(out)) != 0)) {
		fprintf(stderr, "ukeyctl: writing %s: %s\n", output ? output : "stdout", strerror(errno));
		if (ex == EXIT_OK)
			ex = EXIT_NOINPUT;
	}
	if (out != stdout && fclose(out) != 0 && ex == EXIT_OK) {
		fprintf(stderr, "ukeyctl: writing %s: %s\n", output, strerror(errno));
		ex = EXIT_NOINPUT;
	}
	if (tmp != NULL) {
		if (ex == EXIT_OK && rename(tmp, output) != 0) {
			fprintf(stderr, "ukeyctl: cannot write %s: %s\n", output, strerror(errno));
			ex = EXIT_NOINPUT;
		}
		if (ex != EXIT_OK)
			unlink(tmp);
		free(tmp);
	}
	if (ex == EXIT_OK && output != NULL)
		fprintf(stderr, "%lld lines written to %s (records up to %lld)\n", (long long)lines,
		    output, (long long)upto);
	return ex;
}

static int
cmd_audit(int argc, char **argv)
{
	static const char *const serial_cols[] = { "serial", "order_id", "kind", "subject", "not_after",
		"key_alg", "token_serial", "operator", "issued_at", NULL };
	static const char *const log_cols[] = { "id", "at", "actor", "action", "order_id", "job_id",
		"bay", "token", NULL };
	struct json_object *args = json_object_new_object();
	struct opts o = { 0 };
	const char *verb = argc > 1 ? argv[1] : "";

	if (strcmp(verb, "serials") == 0) {
		if (parse_opts(argc - 1, argv + 1, &o, "og") != argc - 1)
			goto usage;
		if (o.order)
			json_object_object_add(args, "order", json_object_new_int64(o.order));
		if (o.org)
			json_object_object_add(args, "org", json_object_new_string(o.org));
		return simple("audit.serials", args, serial_cols, NULL);
	}
	if (strcmp(verb, "verify") == 0) {
		if (parse_opts(argc - 1, argv + 1, &o, "FkDW") != argc - 1)
			goto usage;
		json_object_put(args);
		if (o.file != NULL || o.db != NULL) {
			if (!need("--pubkey PEM", o.pubkey != NULL) || (o.file && o.db))
				return EXIT_USAGE;
			return audit_verify_offline(o.file, o.db, o.pubkey, o.witness);
		}
		if (o.pubkey != NULL && o.witness == NULL) {
			fprintf(stderr, "ukeyctl: --pubkey goes with --file, --db or --witness\n");
			return EXIT_USAGE;
		}
		return audit_verify_daemon(o.witness, o.pubkey);
	}
	if (strcmp(verb, "export") == 0) {
		if (parse_opts(argc - 1, argv + 1, &o, "E") != argc - 1)
			goto usage;
		json_object_put(args);
		return audit_export(o.output);
	}
	if (strcmp(verb, "checkpoint") == 0 || strcmp(verb, "pubkey") == 0) {
		struct json_object *rep, *res;
		int ex;

		if (argc != 2)
			goto usage;
		ex = run(verb[0] == 'c' ? "audit.checkpoint" : "audit.pubkey", args, &rep, &res);
		if (ex == EXIT_OK && want_json)
			print_json(res);
		else if (ex == EXIT_OK && verb[0] == 'p')
			fputs(json_object_get_string(json_object_object_get(res, "pem")), stdout);
		else if (ex == EXIT_OK)
			printf("checkpoint %lld signed: record %lld, hash %s\n",
			    (long long)json_object_get_int64(json_object_object_get(res, "checkpoint")),
			    (long long)json_object_get_int64(json_object_object_get(res, "audit_id")),
			    json_object_get_string(json_object_object_get(res, "audit_hash")));
		json_object_put(rep);
		return ex;
	}
	if (strcmp(verb, "log") == 0) {
		if (parse_opts(argc - 1, argv + 1, &o, "ol") != argc - 1)
			goto usage;
		if (o.order)
			json_object_object_add(args, "order", json_object_new_int64(o.order));
		if (o.limit)
			json_object_object_add(args, "limit", json_object_new_int64(o.limit));
		return simple("audit.log", args, log_cols, NULL);
	}
 usage:
	json_object_put(args);
	usage(stderr);
	return EXIT_USAGE;
}

/* ukeyctl events [--since SEQ] [--follow]: the detection event stream. */
static int
cmd_events(int argc, char **argv)
{
	static const char *const cols[] = { "seq", "kind", "source", "bay", "profile", "device",
		"message", NULL };
	int64_t since = 0;
	int follow = 0, i, ex = EXIT_OK;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--follow") == 0)
			follow = 1;
		else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc) {
			if (parse_int(argv[++i], "--since", &since))
				return EXIT_USAGE;
		} else {
			fprintf(stderr, "ukeyctl events: unexpected argument %s\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	for (;;) {
		struct json_object *args = json_object_new_object(), *rep, *res, *evs;
		size_t n, k;

		json_object_object_add(args, "since", json_object_new_int64(since));
		if ((ex = run("events.list", args, &rep, &res)) != EXIT_OK)
			return ex;
		evs = json_object_object_get(res, "events");
		n = json_object_array_length(evs);
		if (!follow) {
			if (want_json)
				print_json(res);
			else
				print_table(evs, cols);
		} else {
			/* one line per event, as they come */
			for (k = 0; k < n; k++) {
				struct json_object *e = json_object_array_get_idx(evs, k);

				if (want_json)
					printf("%s\n", json_object_to_json_string_ext(e,
					    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
				else
					printf("%s %s %s %s %s\n", json_object_get_string(
					    json_object_object_get(e, "kind")),
					    json_object_get_string(json_object_object_get(e, "source")),
					    json_object_get_string(json_object_object_get(e, "bay")),
					    json_object_get_string(json_object_object_get(e, "profile")),
					    json_object_get_string(json_object_object_get(e, "device")));
			}
			fflush(stdout);
		}
		since = json_object_get_int64(json_object_object_get(res, "next"));
		json_object_put(rep);
		if (!follow)
			return EXIT_OK;
		usleep(200000);
	}
}

/*
 * profiles: the firmware profiles. The listing asks the daemon what it
 * loaded; "check" and "udev-rules" read profile files themselves, with no
 * daemon.
 */

static const char *
str_or_dash(struct json_object *o, const char *key)
{
	const char *v = json_object_get_string(json_object_object_get(o, key));

	return v != NULL ? v : "-";
}

/* A flat row of the profiles table from one fw_profile_to_json() object;
 * NULL on memory failure. */
static struct json_object *
profile_row(struct json_object *p)
{
	struct json_object *row = json_object_new_object(), *usb, *pk, *a;
	char buf[256];
	size_t i, len = 0;

	if (row == NULL)
		return NULL;
	json_object_object_add(row, "name", json_object_new_string(str_or_dash(p, "name")));
	json_object_object_add(row, "verified", json_object_new_string(
	    json_object_get_boolean(json_object_object_get(p, "verified")) ? "yes" : "no"));
	json_object_object_add(row, "virtual", json_object_new_string(
	    json_object_get_boolean(json_object_object_get(p, "virtual")) ? "yes" : "no"));
	buf[0] = '\0';
	if ((usb = json_object_object_get(p, "usb")) != NULL) {
		a = json_object_object_get(usb, "product_ids");
		len = (size_t)snprintf(buf, sizeof(buf), "%s:", str_or_dash(usb, "vendor_id"));
		for (i = 0; i < json_object_array_length(a) && len < sizeof(buf); i++)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? "," : "",
			    json_object_get_string(json_object_array_get_idx(a, i)));
	}
	json_object_object_add(row, "usb", json_object_new_string(buf[0] ? buf : "-"));
	pk = json_object_object_get(p, "pkcs11");
	json_object_object_add(row, "reader", json_object_new_string(str_or_dash(pk, "reader_pattern")));
	json_object_object_add(row, "module", json_object_new_string(
	    json_object_get_string(json_object_object_get(pk, "module")) ? "installed" : "missing"));
	a = json_object_object_get(p, "algorithms");
	for (i = 0, len = 0, buf[0] = '\0'; i < json_object_array_length(a) && len < sizeof(buf); i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? "," : "",
		    json_object_get_string(json_object_array_get_idx(a, i)));
	json_object_object_add(row, "algorithms", json_object_new_string(buf));
	return row;
}

/* ukeyctl profiles: what the running daemon loaded. */
static int
profiles_list(void)
{
	static const char *const cols[] = { "name", "verified", "virtual", "usb", "reader",
		"module", "algorithms", NULL };
	struct json_object *rep, *res, *rows;
	size_t i;
	int ex = run("profile.list", NULL, &rep, &res);

	if (ex == EXIT_OK && want_json) {
		print_json(res);
	} else if (ex == EXIT_OK) {
		if ((rows = json_object_new_array()) == NULL) {
			json_object_put(rep);
			return EXIT_UNAVAILABLE;
		}
		for (i = 0; i < json_object_array_length(res); i++)
			json_object_array_add(rows, profile_row(json_object_array_get_idx(res, i)));
		print_table(rows, cols);
		json_object_put(rows);
	}
	json_object_put(rep);
	return ex;
}

/* ukeyctl profiles check FILE...: each file read on its own, as ukeyd reads
 * it. Exit 0 when all are good, 65 when one is bad, else 66 when one cannot
 * be read. */
static int
profiles_check(int argc, char **argv)
{
	struct json_object *out = want_json ? json_object_new_array() : NULL, *o;
	struct fw_profile *p;
	char err[1024];
	int i, rc, bad = 0, unreadable = 0;

	for (i = 0; i < argc; i++) {
		rc = fw_profile_load(argv[i], &p, err, sizeof(err));
		if (rc == 0 && !want_json)
			printf("%s: ok (%s)\n", argv[i], p->name);
		else if (rc != 0 && !want_json)
			fprintf(stderr, "%s\n", err);
		if (want_json && (o = json_object_new_object()) != NULL) {
			json_object_object_add(o, "file", json_object_new_string(argv[i]));
			json_object_object_add(o, "ok", json_object_new_boolean(rc == 0));
			json_object_object_add(o, rc == 0 ? "name" : "error",
			    json_object_new_string(rc == 0 ? p->name : err));
			json_object_array_add(out, o);
		}
		bad |= rc == UKEY_ERR_INVAL || rc == UKEY_ERR_NOMEM;
		unreadable |= rc == UKEY_ERR_IO;
		fw_profile_free(p);
	}
	if (out != NULL) {
		print_json(out);
		json_object_put(out);
	}
	return bad ? EXIT_DATAERR : unreadable ? EXIT_NOINPUT : EXIT_OK;
}

/* ukeyctl profiles udev-rules [DIR...]: one rule per USB vendor:product id
 * of the profiles in DIRs (default: the shipped directory), loaded as one
 * set the way ukeyd loads them. Output is stable for a given set of files,
 * so that udev/70-ukey-station.rules can be compared with it. */
static int
profiles_udev_rules(int argc, char **argv)
{
	struct station_config cfg;
	struct errlist errs = { 0 };
	struct fw_profile_set *set = NULL;
	const struct fw_profile *p, *q;
	const char *dirs[CONFIG_MAX_PROFILE_DIRS];
	struct stat sb;
	size_t i, j, k, l, ndirs = 0;
	int ex = EXIT_OK, seen;

	config_defaults(&cfg);	/* its first directory is the shipped one */
	if (argc > CONFIG_MAX_PROFILE_DIRS) {
		fprintf(stderr, "ukeyctl: profiles udev-rules: at most %d directories\n",
		    CONFIG_MAX_PROFILE_DIRS);
		ex = EXIT_USAGE;
		goto out;
	}
	for (i = 0; i < (size_t)argc; i++)
		dirs[ndirs++] = argv[i];
	if (ndirs == 0 && cfg.n_profile_dirs > 0)
		dirs[ndirs++] = cfg.profile_dirs[0];
	for (i = 0; i < ndirs; i++)
		if (stat(dirs[i], &sb) != 0 || !S_ISDIR(sb.st_mode)) {
			fprintf(stderr, "ukeyctl: %s: not a directory\n", dirs[i]);
			ex = EXIT_NOINPUT;
			goto out;
		}
	if (fw_profile_set_load(dirs, ndirs, &set, &errs) != 0) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		ex = EXIT_DATAERR;
		goto out;
	}
	printf("# ukey-station: USB tokens that a firmware profile knows get the daemon's\n"
	    "# group (ukey) and the tag \"%s\" that its udev source watches.\n"
	    "# Generated by `ukeyctl profiles udev-rules` from the firmware profiles;\n"
	    "# regenerate it when a profile is added or its USB ids change.\n",
	    DETECT_UDEV_TAG);
	for (i = 0; i < fw_profile_set_count(set); i++) {
		p = fw_profile_set_at(set, i);
		if (p->n_product_ids == 0)
			continue;
		printf("\n# %s: %s\n", p->name, p->description);
		for (j = 0; j < p->n_product_ids; j++) {
			/* profiles for two firmware ranges share ids: one rule each */
			for (k = 0, seen = 0; k < i && !seen; k++) {
				q = fw_profile_set_at(set, k);
				for (l = 0; l < q->n_product_ids && !seen; l++)
					seen = q->vendor_id == p->vendor_id &&
					    q->product_ids[l] == p->product_ids[j];
			}
			if (seen)
				continue;
			printf("SUBSYSTEM==\"usb\", ENV{DEVTYPE}==\"usb_device\", "
			    "ATTR{idVendor}==\"%04x\", ATTR{idProduct}==\"%04x\", "
			    "GROUP=\"ukey\", MODE=\"0660\", TAG+=\"%s\"\n",
			    p->vendor_id, p->product_ids[j], DETECT_UDEV_TAG);
		}
	}
 out:
	fw_profile_set_free(set);
	errlist_clear(&errs);
	config_free(&cfg);
	return ex;
}

static int
cmd_profiles(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : NULL;

	if (verb == NULL)
		return profiles_list();
	if (strcmp(verb, "check") == 0 && argc > 2)
		return profiles_check(argc - 2, argv + 2);
	if (strcmp(verb, "udev-rules") == 0)
		return profiles_udev_rules(argc - 2, argv + 2);
	if (strcmp(verb, "check") == 0)
		fprintf(stderr, "ukeyctl: profiles check: FILE is required\n");
	else
		fprintf(stderr, "ukeyctl: profiles: unknown verb \"%s\"\n", verb);
	usage(stderr);
	return EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "state", required_argument, NULL, 's' },
		{ "socket", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static char path[600];
	const char *state = getenv("UKEY_STATE");
	struct opts o = { 0 };
	const char *cmd;
	int ch;

	/* a daemon that closes the connection is an error to report, not a
	 * signal to die of (exit 141 says nothing) */
	signal(SIGPIPE, SIG_IGN);
	if (state == NULL || state[0] == '\0')
		state = "/var/lib/ukey-station";
	while ((ch = getopt_long(argc, argv, "+s:S:jh", lo, NULL)) != -1) {
		switch (ch) {
		case 's': state = optarg; break;
		case 'S': sock_path = optarg; break;
		case 'j': want_json = 1; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (sock_path == NULL) {
		snprintf(path, sizeof(path), "%s/ukeyd.sock", state);
		sock_path = path;
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[0];
	if (strcmp(cmd, "order") == 0)
		return cmd_order(argc, argv);
	if (strcmp(cmd, "bay") == 0)
		return cmd_bay(argc, argv);
	if (strcmp(cmd, "sim") == 0)
		return cmd_sim(argc, argv);
	if (strcmp(cmd, "audit") == 0)
		return cmd_audit(argc, argv);
	if (strcmp(cmd, "profiles") == 0)
		return cmd_profiles(argc, argv);
	if (strcmp(cmd, "events") == 0)
		return cmd_events(argc, argv);
	if (strcmp(cmd, "confirm") == 0 || strcmp(cmd, "pending") == 0)
		return cmd_dual(argc, argv);
	if (strcmp(cmd, "sources") == 0 && argc == 1) {
		static const char *const cols[] = { "source", "status", NULL };
		struct json_object *rep, *res;
		int ex = run("events.list", NULL, &rep, &res);

		if (ex == EXIT_OK && want_json)
			print_json(json_object_object_get(res, "sources"));
		else if (ex == EXIT_OK)
			print_table(json_object_object_get(res, "sources"), cols);
		json_object_put(rep);
		return ex;
	}
	if (strcmp(cmd, "queue") == 0 && argc == 1) {
		static const char *const cols[] = { "unit", "order_id", "portal_ref", "kind", "name",
			"cert_profile", "years", "seq", "count", "state", "failures", "hold_reason",
			NULL };
		return simple("queue", NULL, cols, NULL);
	}
	if (strcmp(cmd, "unit") == 0 && argc > 2 && (strcmp(argv[1], "release") == 0 ||
	    strcmp(argv[1], "cancel") == 0)) {
		struct json_object *args = json_object_new_object();
		char done[64];
		int64_t id;

		if (parse_int(argv[2], "unit", &id) || parse_opts(argc - 2, argv + 2, &o, "r") !=
		    argc - 2 || !need("--remark TEXT", o.remark != NULL)) {
			json_object_put(args);
			usage(stderr);
			return EXIT_USAGE;
		}
		json_object_object_add(args, "unit", json_object_new_int64(id));
		json_object_object_add(args, "remark", json_object_new_string(o.remark));
		snprintf(done, sizeof(done), argv[1][0] == 'r' ? "unit %lld: queued" :
		    "unit %lld: cancelled", (long long)id);
		return simple(argv[1][0] == 'r' ? "unit.release" : "unit.cancel", args, NULL, done);
	}
	if (strcmp(cmd, "bays") == 0 && argc == 1) {
		static const char *const cols[] = { "bay", "name", "state", "profile", "token_serial",
			"job", "reason", NULL };
		return simple("bay.list", NULL, cols, NULL);
	}
	if (strcmp(cmd, "jobs") == 0) {
		static const char *const cols[] = { "id", "unit_id", "bay", "state", "step", "key_alg",
			"token_serial", "cert_serial", "error", NULL };
		struct json_object *args = json_object_new_object();

		if (parse_opts(argc, argv, &o, "s") != argc) {
			json_object_put(args);
			usage(stderr);
			return EXIT_USAGE;
		}
		if (o.state)
			json_object_object_add(args, "state", json_object_new_string(o.state));
		return simple("job.list", args, cols, NULL);
	}
	if (strcmp(cmd, "job") == 0 && argc > 2 && strcmp(argv[1], "abandon") == 0) {
		struct json_object *args = json_object_new_object();
		int64_t id;

		if (parse_int(argv[2], "job id", &id) ||
		    parse_opts(argc - 2, argv + 2, &o, "r") != argc - 2 || !need("--remark TEXT", o.remark != NULL)) {
			json_object_put(args);
			return EXIT_USAGE;
		}
		json_object_object_add(args, "job", json_object_new_int64(id));
		json_object_object_add(args, "remark", json_object_new_string(o.remark));
		return simple("job.abandon", args, NULL, "job abandoned; its unit is queued again");
	}
	if (strcmp(cmd, "token") == 0 && argc > 1 && strcmp(argv[1], "inspect") == 0) {
		struct json_object *args = json_object_new_object();

		if (parse_opts(argc - 1, argv + 1, &o, "b") != argc - 1 || !need("--bay N", o.bay > 0)) {
			json_object_put(args);
			usage(stderr);
			return EXIT_USAGE;
		}
		json_object_object_add(args, "bay", json_object_new_int64(o.bay));
		return simple("token.inspect", args, NULL, NULL);
	}
	if (strcmp(cmd, "token") == 0 && argc > 1 && strcmp(argv[1], "unblock") == 0) {
		struct json_object *args = json_object_new_object(), *rep, *res;
		int ex;

		if (parse_opts(argc - 1, argv + 1, &o, "br") != argc - 1 || !need("--bay N", o.bay > 0)) {
			json_object_put(args);
			usage(stderr);
			return EXIT_USAGE;
		}
		json_object_object_add(args, "bay", json_object_new_int64(o.bay));
		if (o.remark)
			json_object_object_add(args, "remark", json_object_new_string(o.remark));
		if ((ex = run("token.unblock", args, &rep, &res)) == EXIT_OK) {
			if (want_json)
				print_json(res);
			else
				printf("token %s: new user PIN set%s; show it once with: ukeyctl bay"
				    " take-pin --bay %lld\n",
				    json_object_get_string(json_object_object_get(res, "token_serial")),
				    json_object_get_boolean(json_object_object_get(res, "was_locked")) ?
				    " (it was locked)" : "", (long long)o.bay);
		}
		json_object_put(rep);
		return ex;
	}
	if (strcmp(cmd, "ca") == 0 && argc == 2 && strcmp(argv[1], "show") == 0) {
		struct json_object *rep, *res;
		int ex = run("ca.show", NULL, &rep, &res);

		if (ex == EXIT_OK && want_json)
			print_json(res);
		else if (ex == EXIT_OK)
			fputs(json_object_get_string(json_object_object_get(res, "pem")), stdout);
		json_object_put(rep);
		return ex;
	}
	if (strcmp(cmd, "status") == 0 && argc == 1)
		return simple("ping", NULL, NULL, NULL);
	fprintf(stderr, "ukeyctl: unknown command \"%s\"\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
