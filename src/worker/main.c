/* ukey-worker: the per-bay process that alone loads a PKCS#11 module, so that
 * a module crash or hang takes down one bay and not the station. It serves
 * one request at a time over the socket that ukeyd hands it (docs/worker-protocol.md). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <json-c/printbuf.h>

#include "common/err.h"
#include "common/frame.h"
#include "common/jsontext.h"
#include "common/log.h"
#include "common/secret.h"
#include "worker/ops.h"

static const struct {
	const char *name;
	op_fn fn;
} op_table[] = {
	{ "probe", op_probe },
	{ "init_token", op_init_token },
	{ "generate_key", op_generate_key },
	{ "make_csr", op_make_csr },
	{ "write_cert", op_write_cert },
	{ "read_back", op_read_back },
	{ "inspect", op_inspect },
	{ "unblock", op_unblock },
	{ "login", op_login },
	{ "discard", op_discard },
};

static void
usage(void)
{
	fprintf(stderr, "usage: ukey-worker --fd N --module /path/to/module.so [--bay NAME]"
	    " [--session-per-request]\n");
	exit(2);
}

/* Sends rep; a reply too large for a frame becomes an error reply. */
static int
send_reply(int fd, struct json_object *rep)
{
	struct json_object *e;
	int rc;

	if ((rc = frame_write_json(fd, rep, FRAME_MAX_WORKER)) != UKEY_ERR_PROTO)
		return rc;
	log_error("reply larger than %u bytes", FRAME_MAX_WORKER);
	if ((e = json_object_new_object()) == NULL)
		return UKEY_ERR_NOMEM;
	json_object_object_add(e, "v", json_object_new_int(WORKER_PROTOCOL_VERSION));
	json_object_object_add(e, "ok", json_object_new_boolean(0));
	json_object_object_add(e, "error", json_object_new_string(ukey_errname(UKEY_ERR_PROTO)));
	json_object_object_add(e, "message", json_object_new_string("reply too large for a frame"));
	rc = frame_write_json(fd, e, FRAME_MAX_WORKER);
	json_object_put(e);
	return rc;
}

/* Builds {"v":1,"ok":false,"error":..,"message":..[,"ckr":..]} from rc and
 * what p recorded. */
static struct json_object *
error_reply(const struct p11 *p, int rc)
{
	struct json_object *e;
	const char *msg = p->err_rc != 0 && p->err_msg[0] ? p->err_msg : ukey_strerror(rc);

	if ((e = json_object_new_object()) == NULL)
		return NULL;
	if (rep_int(e, "v", WORKER_PROTOCOL_VERSION) != 0 || rep_bool(e, "ok", 0) != 0 ||
	    rep_string(e, "error", ukey_errname(rc)) != 0 || rep_string(e, "message", msg) != 0 ||
	    (p->err_rc != 0 && p->err_ckr != NULL && rep_string(e, "ckr", p->err_ckr) != 0)) {
		json_object_put(e);
		return NULL;
	}
	return e;
}

/* Parses one request frame into a JSON object; wipes every copy of the raw
 * text, including the parser's own buffer, since it may hold PINs. */
static struct json_object *
parse_request(char *buf, size_t len)
{
	struct json_tokener *tok;
	struct json_object *req = NULL;

	if ((tok = json_tokener_new()) == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	req = json_tokener_parse_ex(tok, buf, (int)len);
	if (req != NULL && (json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(req, json_type_object) ||
	    jsontext_check(buf, len, NULL, 0) != 0)) {
		req_wipe_pins(req);
		json_object_put(req);
		req = NULL;
	}
	/* json-c 0.16 keeps string bytes in tok->pb while parsing */
	if (tok->pb != NULL && tok->pb->buf != NULL)
		secure_wipe(tok->pb->buf, (size_t)tok->pb->size);
	json_tokener_free(tok);
	return req;
}

/* Runs one request; returns 1 when the worker should stop afterwards. */
static int
serve_one(struct p11 *p, int fd, struct json_object *req)
{
	struct json_object *rep = NULL, *v;
	const char *op = NULL;
	unsigned long calls0 = worker_calls_counted;
	size_t i;
	int rc, quit = 0;

	p11_error_clear(p);
	if ((rep = json_object_new_object()) == NULL ||
	    rep_int(rep, "v", WORKER_PROTOCOL_VERSION) != 0 || rep_bool(rep, "ok", 1) != 0) {
		rc = UKEY_ERR_NOMEM;
		goto reply;
	}
	if (req == NULL) {
		rc = p11_error(p, UKEY_ERR_PROTO, "request is not a JSON object");
		goto reply;
	}
	if (!json_object_object_get_ex(req, "v", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int(v) != WORKER_PROTOCOL_VERSION) {
		rc = p11_error(p, UKEY_ERR_PROTO, "v: protocol version %d required",
		    WORKER_PROTOCOL_VERSION);
		goto reply;
	}
	if ((rc = req_string(p, req, "op", 1, 64, &op)) != 0)
		goto reply;
	if (strcmp(op, "quit") == 0) {
		quit = 1;
		rc = 0;
		goto reply;
	}
	for (i = 0; i < sizeof(op_table) / sizeof(op_table[0]); i++)
		if (strcmp(op, op_table[i].name) == 0)
			break;
	if (i == sizeof(op_table) / sizeof(op_table[0])) {
		rc = p11_error(p, UKEY_ERR_PROTO, "op: unknown operation '%.64s'", op);
		goto reply;
	}
	log_debug("op %s", op);
	rc = op_table[i].fn(p, req, rep);
 reply:
	req_wipe_pins(req);
	if (rc != 0) {
		/* a failed op may still say what the token now shows (login) */
		struct json_object *tok = json_object_object_get(rep, "token");

		tok = json_object_get(tok);
		json_object_put(rep);
		if ((rep = error_reply(p, rc)) != NULL && tok != NULL)
			json_object_object_add(rep, "token", tok);
		else
			json_object_put(tok);
		log_info("op %s failed: %s", op != NULL ? op : "?", ukey_errname(rc));
	}
	/* what the request cost in calls into the module (docs/performance.md) */
	worker_calls_counted = p->calls;
	if (rep != NULL && rep_int(rep, "p11_calls", (int64_t)(p->calls - calls0)) != 0) {
		json_object_put(rep);
		rep = NULL;
	}
	if (rep == NULL || send_reply(fd, rep) != 0) {
		log_error("cannot send the reply, stopping");
		quit = 1;
	}
	json_object_put(rep);
	/* a failed op leaves nothing to do after it */
	if (worker_after_run(p, rc == 0 && !quit))
		quit = 1;
	return quit;
}

static int
send_hello(int fd, const struct p11 *p, const char *module, int rc)
{
	struct json_object *h;
	int wrc;

	if (rc != 0) {
		h = error_reply(p, rc);
	} else {
		if ((h = json_object_new_object()) != NULL &&
		    (rep_int(h, "v", WORKER_PROTOCOL_VERSION) != 0 || rep_bool(h, "ok", 1) != 0 ||
		    rep_string(h, "op", "hello") != 0 || rep_int(h, "pid", (int64_t)getpid()) != 0 ||
		    rep_string(h, "module", module) != 0 ||
		    rep_int(h, "p11_calls", (int64_t)p->calls) != 0)) {
			json_object_put(h);
			h = NULL;
		}
	}
	if (h == NULL)
		return UKEY_ERR_NOMEM;
	if (rc != 0)
		json_object_object_add(h, "op", json_object_new_string("hello"));
	wrc = frame_write_json(fd, h, FRAME_MAX_WORKER);
	json_object_put(h);
	return wrc;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fd", required_argument, NULL, 'f' },
		{ "module", required_argument, NULL, 'm' },
		{ "bay", required_argument, NULL, 'b' },
		{ "session-per-request", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct p11 p;
	const char *module = NULL, *bay = NULL;
	char tag[64], *end;
	int fd = -1, c, rc, status = 0, per_request = 0;

	while ((c = getopt_long(argc, argv, "f:m:b:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			fd = (int)strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || fd < 0)
				usage();
			break;
		case 'm':
			module = optarg;
			break;
		case 'b':
			bay = optarg;
			break;
		case 's':
			per_request = 1;
			break;
		default:
			usage();
		}
	}
	if (fd < 0 || module == NULL || optind != argc)
		usage();
	/* no core dumps and no ptrace by other users: PINs pass through here */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		perror("prctl(PR_SET_DUMPABLE)");
	/* a daemon that went away must not kill us with SIGPIPE mid-write:
	 * the write fails and the module is still finalized */
	signal(SIGPIPE, SIG_IGN);
	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = worker_after_term;
		sa.sa_flags = SA_RESTART;	/* the module's own calls go on */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, NULL);
	}
	log_init("ukey-worker", LOG_LVL_INFO);
	snprintf(tag, sizeof(tag), "bay %s", bay != NULL ? bay : "?");
	log_set_tag(tag);

	memset(&p, 0, sizeof(p));
	p.no_share = per_request;
	if ((rc = p11_load(&p, module)) != 0) {
		send_hello(fd, &p, module, rc);
		p11_unload(&p);
		return 1;
	}
	log_info("module %s loaded, serving on fd %d", module, fd);
	if (send_hello(fd, &p, module, 0) != 0) {
		log_error("cannot greet the daemon on fd %d", fd);
		p11_unload(&p);
		return 1;
	}
	worker_calls_counted = p.calls;	/* the hello's */
	for (;;) {
		struct json_object *req;
		char *buf = NULL;
		size_t len = 0;
		int quit;

		rc = frame_read(fd, &buf, &len, FRAME_MAX_WORKER, -1);
		if (rc == UKEY_ERR_IO) {
			log_info("the daemon closed the channel");
			break;
		}
		if (rc != 0) {
			/* the rest of an oversize frame cannot be skipped safely */
			struct json_object *e;

			p11_error_clear(&p);
			p11_error(&p, UKEY_ERR_PROTO, "request larger than %u bytes", FRAME_MAX_WORKER);
			if ((e = error_reply(&p, UKEY_ERR_PROTO)) != NULL)
				(void)send_reply(fd, e);
			json_object_put(e);
			status = 1;
			break;
		}
		req = parse_request(buf, len);
		secure_wipe(buf, len);
		free(buf);
		quit = serve_one(&p, fd, req);
		json_object_put(req);
		if (quit)
			break;
	}
	p11_unload(&p);
	certs_forget();
	close(fd);
	log_info("stopped");
	return status;
}
