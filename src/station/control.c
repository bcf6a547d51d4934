/* The control socket: accept, read framed JSON requests, check them, dispatch
 * through the table of known commands, reply. Peer credentials name the actor. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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
#include "common/request.h"
#include "station/control.h"

/* Who may run a command: ROLE_* bits of config.h. READ is every role;
 * ANYONE is every user who can connect, with or without a role. A row
 * whose roles are 0 is refused to all but admin, with a warning; a row
 * without its third field does not compile with -Werror
 * (-Wmissing-field-initializers), so no command is open by accident. */
#define OPERATOR ROLE_OPERATOR
#define REVIEWER ROLE_REVIEWER
#define AUDITOR ROLE_AUDITOR
#define ADMIN ROLE_ADMIN
#define READ ROLE_ALL
#define ANYONE CONTROL_ROLE_ANYONE

static const struct command {
	const char *name;
	cmd_fn fn;
	unsigned roles;
} commands[] = {
	{ "ping", NULL, ANYONE },
	{ "order.import", cmd_order_import, OPERATOR },
	{ "order.list", cmd_order_list, READ },
	{ "order.show", cmd_order_show, READ },
	{ "order.approve", cmd_order_approve, REVIEWER },
	{ "order.reject", cmd_order_reject, REVIEWER },
	{ "order.pay", cmd_order_pay, ADMIN },
	{ "order.override", cmd_order_override, REVIEWER },
	{ "order.edit", cmd_order_edit, OPERATOR },
	{ "order.resubmit", cmd_order_resubmit, OPERATOR },
	{ "order.deliver", cmd_order_deliver, OPERATOR },
	{ "order.cancel", cmd_order_cancel, REVIEWER },
	{ "order.invoice", cmd_order_invoice, OPERATOR },
	{ "queue", cmd_queue, READ },
	{ "unit.release", cmd_unit_release, OPERATOR },
	{ "unit.cancel", cmd_unit_cancel, REVIEWER },
	{ "bay.list", cmd_bay_list, READ },
	{ "bay.take_pin", cmd_bay_take_pin, OPERATOR },
	{ "bay.wipe", cmd_bay_wipe, ADMIN },
	{ "sim.plug", cmd_sim_plug, OPERATOR },
	{ "sim.unplug", cmd_sim_unplug, OPERATOR },
	{ "token.inspect", cmd_token_inspect, OPERATOR },
	{ "token.unblock", cmd_token_unblock, ADMIN },
	{ "job.list", cmd_job_list, READ },
	{ "job.abandon", cmd_job_abandon, OPERATOR },
	{ "audit.serials", cmd_audit_serials, AUDITOR },
	{ "audit.verify", cmd_audit_verify, AUDITOR },
	{ "audit.log", cmd_audit_log, AUDITOR },
	{ "audit.checkpoint", cmd_audit_checkpoint, AUDITOR },
	{ "audit.pubkey", cmd_audit_pubkey, AUDITOR },
	{ "audit.export", cmd_audit_export, AUDITOR },
	{ "ca.show", cmd_ca_show, READ },
	{ "events.list", cmd_events_list, READ },
	{ "profile.list", cmd_profile_list, READ },
};

/* Arguments that need more than the command itself: when the request has
 * the argument with any value but false, the caller needs one of roles. */
static const struct arg_gate {
	const char *cmd, *arg;
	unsigned roles;
} arg_gates[] = {
	{ "order.show", "reveal", REVIEWER | AUDITOR | ADMIN },	/* full ID numbers */
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

int
control_check_table(void)
{
	size_t i, j;
	int bad = 0;

	for (i = 0; i < ARRAY_LEN(commands); i++) {
		if (commands[i].roles == 0) {
			log_warn("command %s has no roles in the dispatch table: only admin may run it",
			    commands[i].name);
			bad++;
		}
		for (j = 0; j < i; j++)
			if (strcmp(commands[i].name, commands[j].name) == 0) {
				log_error("command %s is listed twice in the dispatch table",
				    commands[i].name);
				bad++;
			}
	}
	return bad;
}

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

	struct group gr, *grp = NULL;
	char grbuf[16384];
	gid_t sock_gid = (gid_t)-1;
	int err;

	control_check_table();
	if (s->cfg.socket_group[0] != '\0') {
		err = getgrnam_r(s->cfg.socket_group, &gr, grbuf, sizeof(grbuf), &grp);
		if (grp == NULL) {
			log_error("station.socket_group: %s: %s", s->cfg.socket_group,
			    err ? strerror(err) : "no such group");
			return UKEY_ERR_INVAL;
		}
		sock_gid = gr.gr_gid;
	}
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
	if (sock_gid != (gid_t)-1 && chown(s->sock_path, (uid_t)-1, sock_gid) != 0) {
		log_error("control socket %s: chown to group %s: %s", s->sock_path,
		    s->cfg.socket_group, strerror(errno));
		close(fd);
		unlink(s->sock_path);
		return UKEY_ERR_IO;
	}
	s->listen_fd = fd;
	return 0;
}

#define MAX_PEER_GROUPS 256

/* The roles of a socket peer: every role for root and for the daemon's own
 * user; else what [roles] gives the user's name and the names of its primary
 * group, the group of the peer process and the user's supplementary groups
 * (from the group database, getgrouplist). Runs in the loop, at accept. */
static unsigned
peer_roles(const struct station *s, uid_t uid, gid_t gid, const struct passwd *pw)
{
	gid_t gids[MAX_PEER_GROUPS + 1];
	char *names[MAX_PEER_GROUPS + 1];
	char *grbuf = NULL;
	size_t grlen = 16384, n = 0, i;
	struct group gr, *grp;
	int ng = MAX_PEER_GROUPS, err;
	unsigned roles = 0;

	if (uid == 0 || uid == geteuid())
		return ROLE_ALL;
	if (pw != NULL) {
		if (getgrouplist(pw->pw_name, pw->pw_gid, gids, &ng) < 0) {
			log_warn("user %s is in more than %d groups; the first %d count for roles",
			    pw->pw_name, MAX_PEER_GROUPS, MAX_PEER_GROUPS);
			ng = MAX_PEER_GROUPS;
		}
	} else
		ng = 0;
	gids[ng++] = gid;
	if ((grbuf = malloc(grlen)) == NULL)
		goto out;
	for (i = 0; i < (size_t)ng; i++) {
		while ((err = getgrgid_r(gids[i], &gr, grbuf, grlen, &grp)) == ERANGE &&
		    grlen < 1024 * 1024) {
			char *nb = realloc(grbuf, grlen * 2);

			if (nb == NULL)
				break;
			grbuf = nb;
			grlen *= 2;
		}
		if (err != 0 || grp == NULL)
			continue;	/* a gid without a name matches no @group */
		if ((names[n] = strdup(gr.gr_name)) != NULL)
			n++;
	}
	roles = config_roles_for(&s->cfg, pw ? pw->pw_name : NULL, (const char *const *)names, n);
 out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(grbuf);
	return roles;
}

void
control_accept(struct station *s)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct passwd pw, *pwp = NULL;
	char buf[16384];
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
	c->roles = peer_roles(s, cred.uid, cred.gid, pwp);
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

static struct json_object *
roles_json(unsigned roles)
{
	struct json_object *a = json_object_new_array();
	unsigned bit;

	for (bit = 1; bit & ROLE_ALL; bit <<= 1)
		if (roles & bit)
			json_object_array_add(a, json_object_new_string(config_role_name(bit)));
	return a;
}

/* Checks the client's roles against the command's row and its argument
 * gates. Returns 0, or UKEY_ERR_PERM with the message in r->msg after
 * auditing the denial. */
static int
authorize(struct request *r, const struct command *cmd)
{
	struct client *c = r->c;
	struct json_object *detail, *v;
	const char *what = NULL;
	unsigned need = cmd->roles;
	char needs[128], held[128];
	size_t g;

	if (need == 0) {
		log_warn("command %s has no roles in the dispatch table: only admin may run it",
		    cmd->name);
		need = ADMIN;
	}
	if (!(need & ANYONE) && !(c->roles & need))
		goto deny;
	for (g = 0; g < ARRAY_LEN(arg_gates); g++) {
		if (strcmp(arg_gates[g].cmd, cmd->name) != 0 ||
		    (v = json_object_object_get(r->args, arg_gates[g].arg)) == NULL ||
		    (json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v)))
			continue;
		if (!(c->roles & arg_gates[g].roles)) {
			need = arg_gates[g].roles;
			what = arg_gates[g].arg;
			goto deny;
		}
	}
	return 0;
 deny:
	config_roles_format(need & ROLE_ALL, needs, sizeof(needs));
	config_roles_format(c->roles, held, sizeof(held));
	req_fail(r, UKEY_ERR_PERM, "%s%s%s: permission denied: needs %s %s; user %s has %s%s",
	    cmd->name, what ? " with " : "", what ? what : "",
	    (need & (need - 1)) ? "one of the roles" : "the role", needs, c->user,
	    c->roles ? (c->roles & (c->roles - 1) ? "the roles " : "the role ") : "no role",
	    c->roles ? held : "");
	log_info("access denied: %s", r->msg);
	detail = json_object_new_object();
	json_object_object_add(detail, "command", json_object_new_string(cmd->name));
	if (what != NULL)
		json_object_object_add(detail, "argument", json_object_new_string(what));
	json_object_object_add(detail, "needs", roles_json(need));
	json_object_object_add(detail, "roles", roles_json(c->roles));
	json_object_object_add(detail, "uid", json_object_new_int64((int64_t)c->uid));
	station_audit(r->s, c->user, "access.denied", 0, 0, 0, NULL, NULL, detail);
	return UKEY_ERR_PERM;
}

static void
dispatch(struct station *s, struct client *c, const char *text, size_t len)
{
	struct request r = { .s = s, .c = c };
	struct parsed_request pr;
	struct json_object *result = NULL;
	const struct command *cmd = NULL;
	size_t i;
	int rc;

	if ((rc = request_parse(text, len, &pr, r.msg, sizeof(r.msg))) != 0)
		goto out;
	for (i = 0; i < ARRAY_LEN(commands); i++)
		if (strcmp(commands[i].name, pr.cmd) == 0)
			cmd = &commands[i];
	if (cmd == NULL) {
		rc = req_fail(&r, UKEY_ERR_PROTO, "unknown command \"%.64s\"", pr.cmd);
		goto out;
	}
	r.args = pr.args;
	if ((rc = authorize(&r, cmd)) != 0)
		goto out;
	if (cmd->fn == NULL) {
		result = json_object_new_object();
		json_object_object_add(result, "version", json_object_new_string(UKEY_VERSION));
		json_object_object_add(result, "protocol", json_object_new_int(STATION_PROTOCOL_VERSION));
		json_object_object_add(result, "station", json_object_new_string(s->cfg.station_id));
		json_object_object_add(result, "user", json_object_new_string(c->user));
		json_object_object_add(result, "roles", roles_json(c->roles));
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
	request_free(&pr);
}

void
control_on_readable(struct station *s, struct client *c)
{
	char *msg;
	size_t len;
	int more, rc = framer_fill(&c->in, c->fd);

	/* a client may send its request and close its side at once: serve
	 * whatever complete frames arrived before honouring the EOF */
	while ((more = framer_next(&c->in, &msg, &len)) == 1) {
		dispatch(s, c, msg, len);
		secure_wipe(msg, len);
		free(msg);
	}
	/* an oversize frame is told as such, whether it came first (framer_fill)
	 * or after requests that were served (framer_next) */
	if (rc == UKEY_ERR_PROTO || more == UKEY_ERR_PROTO) {
		send_reply(c->fd, UKEY_ERR_PROTO, "request larger than the protocol allows", NULL, NULL);
		c->dead = 1;
		return;
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
