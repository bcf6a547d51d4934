/* The control socket: accept, read framed JSON requests, check them, dispatch
 * through the table of known commands, reply. Peer credentials name the actor. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "station/control.h"

static const struct command {
	const char *name;
	cmd_fn fn;
} commands[] = {
	{ "ping", NULL },
	{ "order.import", cmd_order_import },
	{ "order.list", cmd_order_list },
	{ "order.show", cmd_order_show },
	{ "order.approve", cmd_order_approve },
	{ "order.reject", cmd_order_reject },
	{ "order.pay", cmd_order_pay },
	{ "order.override", cmd_order_override },
	{ "order.edit", cmd_order_edit },
	{ "order.resubmit", cmd_order_resubmit },
	{ "order.deliver", cmd_order_deliver },
	{ "order.cancel", cmd_order_cancel },
	{ "order.invoice", cmd_order_invoice },
	{ "queue", cmd_queue },
	{ "bay.list", cmd_bay_list },
	{ "bay.take_pin", cmd_bay_take_pin },
	{ "bay.wipe", cmd_bay_wipe },
	{ "sim.plug", cmd_sim_plug },
	{ "sim.unplug", cmd_sim_unplug },
	{ "token.inspect", cmd_token_inspect },
	{ "job.list", cmd_job_list },
	{ "job.abandon", cmd_job_abandon },
	{ "audit.serials", cmd_audit_serials },
	{ "audit.verify", cmd_audit_verify },
	{ "audit.log", cmd_audit_log },
	{ "audit.checkpoint", cmd_audit_checkpoint },
	{ "audit.pubkey", cmd_audit_pubkey },
	{ "audit.export", cmd_audit_export },
	{ "ca.show", cmd_ca_show },
	{ "events.list", cmd_events_list },
	{ "profile.list", cmd_profile_list },
};

int
req_fail(struct request *r, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	return rc;
}

int
arg_int(struct request *r, const char *name, int required, int64_t *out)
{
	struct json_object *v = json_object_object_get(r->args, name);

	if (v == NULL) {
		if (required)
			return req_fail(r, UKEY_ERR_INVAL, "argument %s: required", name);
		return UKEY_ERR_NOTFOUND;
	}
	if (!json_object_is_type(v, json_type_int))
		return req_fail(r, UKEY_ERR_INVAL, "argument %s: must be an integer", name);
	*out = json_object_get_int64(v);
	return 0;
}

int
arg_str(struct request *r, const char *name, int required, const char **out)
{
	struct json_object *v = json_object_object_get(r->args, name);

	*out = NULL;
	if (v == NULL) {
		if (required)
			return req_fail(r, UKEY_ERR_INVAL, "argument %s: required", name);
		return UKEY_ERR_NOTFOUND;
	}
	if (!json_object_is_type(v, json_type_string))
		return req_fail(r, UKEY_ERR_INVAL, "argument %s: must be a string", name);
	*out = json_object_get_string(v);
	return 0;
}

int
control_listen(struct station *s)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, probe;

	if (strlen(s->sock_path) >= sizeof(sun.sun_path)) {
		log_error("socket path too long: %s", s->sock_path);
		return UKEY_ERR_INVAL;
	}
	strcpy(sun.sun_path, s->sock_path);
	/* a socket file left by a killed daemon: remove it only if nobody answers */
	if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0) {
		if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			log_error("%s: another daemon answers on this socket", s->sock_path);
			close(probe);
			return UKEY_ERR_BUSY;
		}
		close(probe);
	}
	unlink(s->sock_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(s->sock_path, 0660) != 0 || listen(fd, 16) != 0) {
		log_error("control socket %s: %s", s->sock_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return UKEY_ERR_IO;
	}
	s->listen_fd = fd;
	return 0;
}

void
control_accept(struct station *s)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct passwd pw, *pwp = NULL;
	char buf[1024];
	struct client *c;
	int fd;

	if ((fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) < 0)
		return;
	if (s->n_clients >= MAX_CLIENTS) {
		log_warn("too many control clients; refusing one");
		close(fd);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		log_error("SO_PEERCRED: %s", strerror(errno));
		close(fd);
		return;
	}
	c = &s->clients[s->n_clients++];
	memset(c, 0, sizeof(*c));
	c->id = ++s->next_client_id;
	c->fd = fd;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	if (getpwuid_r(cred.uid, &pw, buf, sizeof(buf), &pwp) == 0 && pwp != NULL)
		snprintf(c->user, sizeof(c->user), "%s", pw.pw_name);
	else
		snprintf(c->user, sizeof(c->user), "uid:%u", (unsigned)cred.uid);
	framer_init(&c->in, FRAME_MAX_CONTROL);
}

static int
is_pin_key(const char *key)
{
	size_t kl = strlen(key);

	return kl >= 3 && strcmp(key + kl - 3, "pin") == 0;
}

/* A reply that carried a PIN (bay.take_pin): wipe the PIN strings and the
 * serialised copy json-c keeps, which it frees without wiping. */
static void
wipe_pins(struct json_object *rep, struct json_object *result)
{
	size_t len = 0;
	char *txt;
	int has_pin = 0;

	if (!json_object_is_type(result, json_type_object))
		return;
	json_object_object_foreach(result, k, v)
		has_pin |= is_pin_key(k) && json_object_is_type(v, json_type_string);
	if (!has_pin)
		return;
	/* serialised again with the PINs still in place, as frame_write_json
	 * did: the same text lands in the same buffer, which is then wiped */
	txt = (char *)json_object_to_json_string_length(rep, JSON_C_TO_STRING_PLAIN, &len);
	secure_wipe(txt, len);
	json_object_object_foreach(result, key, val)
		if (is_pin_key(key) && json_object_is_type(val, json_type_string))
			secure_wipe((char *)json_object_get_string(val),
			    (size_t)json_object_get_string_len(val));
}

static void
send_reply(int fd, int rc, const char *msg, struct json_object *details, struct json_object *result)
{
	struct json_object *rep = json_object_new_object();

	json_object_object_add(rep, "v", json_object_new_int(STATION_PROTOCOL_VERSION));
	json_object_object_add(rep, "ok", json_object_new_boolean(rc == 0));
	if (rc == 0) {
		json_object_object_add(rep, "result", result ? result : json_object_new_object());
	} else {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "code", json_object_new_string(ukey_errname(rc)));
		json_object_object_add(e, "message",
		    json_object_new_string(msg && msg[0] ? msg : ukey_strerror(rc)));
		if (details != NULL)
			json_object_object_add(e, "details", details);
		json_object_object_add(rep, "error", e);
		json_object_put(result);
	}
	if (frame_write_json(fd, rep, FRAME_MAX_CONTROL) != 0)
		log_warn("reply to control client failed");
	if (rc == 0 && result != NULL)
		wipe_pins(rep, result);
	json_object_put(rep);
}

void
control_reply_deferred(struct station *s, int64_t client_id, int rc, const char *msg,
    struct json_object *result)
{
	int i;

	for (i = 0; i < s->n_clients; i++) {
		if (s->clients[i].id == client_id && !s->clients[i].dead) {
			send_reply(s->clients[i].fd, rc, msg, NULL, result);
			return;
		}
	}
	json_object_put(result);	/* the client went away meanwhile */
}

static void
dispatch(struct station *s, struct client *c, const char *text, size_t len)
{
	struct request r = { .s = s, .c = c };
	struct json_object *req = NULL, *result = NULL, *v;
	struct json_tokener *tok = json_tokener_new();
	const struct command *cmd = NULL;
	const char *name;
	size_t i;
	int rc;

	req = tok ? json_tokener_parse_ex(tok, text, (int)len) : NULL;
	if (req == NULL || json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(req, json_type_object)) {
		rc = req_fail(&r, UKEY_ERR_PROTO, "request is not a JSON object");
		goto out;
	}
	v = json_object_object_get(req, "v");
	if (v == NULL || json_object_get_int(v) != STATION_PROTOCOL_VERSION) {
		rc = req_fail(&r, UKEY_ERR_PROTO, "request field v: must be %d",
		    STATION_PROTOCOL_VERSION);
		goto out;
	}
	v = json_object_object_get(req, "cmd");
	if (v == NULL || !json_object_is_type(v, json_type_string)) {
		rc = req_fail(&r, UKEY_ERR_PROTO, "request field cmd: required string");
		goto out;
	}
	name = json_object_get_string(v);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			cmd = &commands[i];
	if (cmd == NULL) {
		rc = req_fail(&r, UKEY_ERR_PROTO, "unknown command \"%.64s\"", name);
		goto out;
	}
	r.args = json_object_object_get(req, "args");
	if (r.args == NULL) {
		r.args = json_object_new_object();
		json_object_object_add(req, "args", r.args);
	} else if (!json_object_is_type(r.args, json_type_object)) {
		rc = req_fail(&r, UKEY_ERR_PROTO, "request field args: must be an object");
		goto out;
	}
	if (cmd->fn == NULL) {
		result = json_object_new_object();
		json_object_object_add(result, "version", json_object_new_string(UKEY_VERSION));
		json_object_object_add(result, "protocol", json_object_new_int(STATION_PROTOCOL_VERSION));
		json_object_object_add(result, "station", json_object_new_string(s->cfg.station_id));
		json_object_object_add(result, "user", json_object_new_string(c->user));
		rc = 0;
		goto out;
	}
	log_debug("%s from %s", cmd->name, c->user);
	rc = cmd->fn(&r, &result);
	if (rc != 0 && r.msg[0] == '\0')
		snprintf(r.msg, sizeof(r.msg), "%s: %s", cmd->name, ukey_strerror(rc));
 out:
	if (!r.deferred)
		send_reply(c->fd, rc, r.msg, r.details, result);
	else
		json_object_put(r.details);
	json_object_put(req);
	if (tok)
		json_tokener_free(tok);
}

void
control_on_readable(struct station *s, struct client *c)
{
	char *msg;
	size_t len;
	int more, rc = framer_fill(&c->in, c->fd);

	if (rc == UKEY_ERR_PROTO) {
		send_reply(c->fd, UKEY_ERR_PROTO, "request larger than the protocol allows", NULL, NULL);
		c->dead = 1;
		return;
	}
	/* a client may send its request and close its side at once: serve
	 * whatever complete frames arrived before honouring the EOF */
	while ((more = framer_next(&c->in, &msg, &len)) == 1) {
		dispatch(s, c, msg, len);
		secure_wipe(msg, len);
		free(msg);
	}
	if (rc < 0 || more < 0)
		c->dead = 1;
}

void
control_reap(struct station *s)
{
	int i = 0;

	while (i < s->n_clients) {
		if (s->clients[i].dead) {
			close(s->clients[i].fd);
			framer_free(&s->clients[i].in);
			s->clients[i] = s->clients[--s->n_clients];
			continue;
		}
		i++;
	}
}
