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
#include "common/secret.h"
#include "station/control.h"
#include "station/job_renew.h"
#include "station/joblease.h"
#include "station/station_impl.h"

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
	/* a held request's confirmer needs the roles of its command: checked by
	 * cmd_pending_confirm against that command's row */
	{ "pending.list", cmd_pending_list, READ },
	{ "pending.confirm", cmd_pending_confirm, READ },
	{ "pending.cancel", cmd_pending_cancel, READ },
	/* the floor reports: production and service times are the floor's own
	 * figures; the reconciliation names money */
	{ "report.production", cmd_report_production, READ },
	{ "report.service_times", cmd_report_service_times, READ },
	{ "report.reconcile", cmd_report_reconcile, REVIEWER | AUDITOR | ADMIN },
	{ "watch.subscribe", cmd_watch_subscribe, READ },
	{ "cert.revoke", cmd_cert_revoke, REVIEWER | ADMIN },
	{ "ca.crl", cmd_ca_crl, READ },
	{ "audit.expiring", cmd_audit_expiring, AUDITOR | REVIEWER | OPERATOR | ADMIN },
	{ "token.mark", cmd_token_mark, REVIEWER | ADMIN },
	{ "token.show", cmd_token_show, READ },
	{ "bay.enter_pin", cmd_bay_enter_pin, OPERATOR },
	{ "bay.reset_pin", cmd_bay_reset_pin, OPERATOR },
	{ "order.set_service_point", cmd_order_set_service_point, REVIEWER | ADMIN },
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
control_command_find(const char *cmd, cmd_fn *fn, unsigned *roles)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(commands); i++)
		if (strcmp(commands[i].name, cmd) == 0) {
			*fn = commands[i].fn;
			*roles = commands[i].roles ? commands[i].roles : ADMIN;
			return 0;
		}
	return UKEY_ERR_NOTFOUND;
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
	dualctl_check_table();
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
	    chmod(s->sock_path, 0660) != 0 || listen(fd, 64) != 0) {
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

/* ---- writing: replies are queued per client and written as the socket
 * takes them, so that a client that does not read never stalls the loop ---- */

static void
out_reset(struct client *c)
{
	if (c->out != NULL) {
		secure_wipe(c->out, c->out_len);
		free(c->out);
	}
	c->out = NULL;
	c->out_len = c->out_off = 0;
}

int
control_wants_write(const struct client *c)
{
	return c->out_off < c->out_len;
}

/* Writes what the socket takes now. 0 (all written, or the rest waits for
 * POLLOUT) or UKEY_ERR_IO when the peer is gone. */
static int
out_flush(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return UKEY_ERR_IO;
		c->out_off += (size_t)n;
	}
	out_reset(c);
	return 0;
}

/* Queues one frame of len bytes of text for c and writes what it can. */
static int
out_queue(struct client *c, const char *text, size_t len)
{
	size_t left = c->out_len - c->out_off;
	uint8_t *nb;

	if (len > FRAME_MAX_CONTROL)
		return UKEY_ERR_PROTO;
	/* a new buffer rather than realloc: the old one is wiped, not copied
	 * around by the allocator */
	if ((nb = malloc(left + 4 + len)) == NULL)
		return UKEY_ERR_NOMEM;
	if (left > 0)
		memcpy(nb, c->out + c->out_off, left);
	else
		c->out_since_ms = now_ms();
	nb[left] = (uint8_t)(len >> 24);
	nb[left + 1] = (uint8_t)(len >> 16);
	nb[left + 2] = (uint8_t)(len >> 8);
	nb[left + 3] = (uint8_t)len;
	memcpy(nb + left + 4, text, len);
	out_reset(c);
	c->out = nb;
	c->out_len = left + 4 + len;
	return out_flush(c);
}

int
control_push(struct client *c, const char *text, size_t len)
{
	return out_queue(c, text, len);
}

static struct json_object *
error_reply(int rc, const char *msg, struct json_object *details)
{
	struct json_object *rep = json_object_new_object(), *e = json_object_new_object();

	json_object_object_add(rep, "v", json_object_new_int(STATION_PROTOCOL_VERSION));
	json_object_object_add(rep, "ok", json_object_new_boolean(0));
	json_object_object_add(e, "code", json_object_new_string(ukey_errname(rc)));
	json_object_object_add(e, "message",
	    json_object_new_string(msg && msg[0] ? msg : ukey_strerror(rc)));
	if (details != NULL)
		json_object_object_add(e, "details", details);
	json_object_object_add(rep, "error", e);
	return rep;
}

/* One error frame to a connection about to be closed, in place of a silent
 * close: written if the socket takes it at once, else dropped. The client
 * reads it as the reply to its request, sent or not. */
static void
say_goodbye(int fd, int rc, const char *msg)
{
	struct json_object *rep = error_reply(rc, msg, NULL);
	size_t len;
	const char *txt = json_object_to_json_string_length(rep, JSON_C_TO_STRING_PLAIN, &len);
	uint8_t buf[4 + 1024];

	if (len <= sizeof(buf) - 4) {
		buf[0] = (uint8_t)(len >> 24);
		buf[1] = (uint8_t)(len >> 16);
		buf[2] = (uint8_t)(len >> 8);
		buf[3] = (uint8_t)len;
		memcpy(buf + 4, txt, len);
		if (send(fd, buf, len + 4, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_debug("goodbye frame: %s", strerror(errno));
	}
	json_object_put(rep);
}

/* ---- connections: who gets a slot ---- */

static int
client_idle(const struct client *c)
{
	/* a watching connection is in use though it sends nothing */
	return !c->dead && !c->awaiting && !c->watch.on && !control_wants_write(c);
}

/* Closes client i and takes it out of the table now. Only outside the
 * handling of the clients in a loop turn (at accept, after the reap). */
static void
client_drop(struct station *s, int i)
{
	close(s->clients[i].fd);
	framer_free(&s->clients[i].in);
	out_reset(&s->clients[i]);
	s->clients[i] = s->clients[--s->n_clients];
}

/* Index of the idle client that has waited longest for a request among
 * those that match: no role (norole), or the user uid (uid != -1), or any
 * of the user with the most connections; -1 if none. */
static int
oldest_idle(const struct station *s, int norole, uid_t uid, int busiest)
{
	int i, j, best = -1, best_n = 0;

	for (i = 0; i < s->n_clients; i++) {
		const struct client *c = &s->clients[i];
		int n = 0;

		if (!client_idle(c) || (norole && c->roles != 0) ||
		    (uid != (uid_t)-1 && c->uid != uid))
			continue;
		if (busiest)
			for (j = 0; j < s->n_clients; j++)
				n += s->clients[j].uid == c->uid;
		if (best < 0 || n > best_n ||
		    (n == best_n && c->since_ms < s->clients[best].since_ms)) {
			best = i;
			best_n = n;
		}
	}
	return best;
}

/* Makes room in the table for a new connection of uid with roles, closing
 * the idle client that has waited longest in its class if need be: users
 * without a role share NOROLE_CLIENTS_MAX slots, a user holds at most
 * USER_CLIENTS_MAX, and a full table gives way to a user with a role at the
 * cost of an idle client without one, or else of an idle one of the user
 * holding most. Returns 0, or -1 with why set when the newcomer is refused. */
static int
make_room(struct station *s, uid_t uid, const char *user, unsigned roles, char *why,
    size_t whylen)
{
	char reason[200];
	int i, norole = 0, mine = 0, v = -1;

	for (i = 0; i < s->n_clients; i++) {
		norole += s->clients[i].roles == 0;
		mine += s->clients[i].uid == uid;
	}
	if (roles == 0 && norole >= NOROLE_CLIENTS_MAX) {
		v = oldest_idle(s, 1, (uid_t)-1, 0);
		snprintf(reason, sizeof(reason), "users without a role may hold %d connections "
		    "at a time", NOROLE_CLIENTS_MAX);
	} else if (mine >= USER_CLIENTS_MAX) {
		v = oldest_idle(s, 0, uid, 0);
		snprintf(reason, sizeof(reason), "user %s may hold %d connections at a time",
		    user, USER_CLIENTS_MAX);
	} else if (s->n_clients >= MAX_CLIENTS) {
		if ((v = oldest_idle(s, 1, (uid_t)-1, 0)) < 0 && roles != 0)
			v = oldest_idle(s, 0, (uid_t)-1, 1);
		snprintf(reason, sizeof(reason), "the control socket's %d connections are in use",
		    MAX_CLIENTS);
	} else {
		return 0;
	}
	if (v < 0) {
		snprintf(why, whylen, "%s and none is idle; try again later", reason);
		return -1;
	}
	snprintf(why, whylen, "connection closed after %lld s without a request to make room "
	    "for a new one: %s", (long long)((now_ms() - s->clients[v].since_ms) / 1000), reason);
	log_info("control client %s (pid %d): %s", s->clients[v].user, (int)s->clients[v].pid, why);
	say_goodbye(s->clients[v].fd, UKEY_ERR_BUSY, why);
	client_drop(s, v);
	return 0;
}

/* Takes one pending connection; 0 when one was handled, -1 when none waits. */
static int
accept_one(struct station *s)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct passwd pw, *pwp = NULL;
	char buf[16384], user[64], why[400];
	struct client *c;
	unsigned roles;
	int fd;

	if ((fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) < 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		log_error("SO_PEERCRED: %s", strerror(errno));
		close(fd);
		return 0;
	}
	if (getpwuid_r(cred.uid, &pw, buf, sizeof(buf), &pwp) == 0 && pwp != NULL)
		snprintf(user, sizeof(user), "%s", pw.pw_name);
	else
		snprintf(user, sizeof(user), "uid:%u", (unsigned)cred.uid);
	/* the roles decide the slot, so they are known before one is given */
	roles = peer_roles(s, cred.uid, cred.gid, pwp);
	if (make_room(s, cred.uid, user, roles, why, sizeof(why)) != 0) {
		log_warn("control socket: refusing a connection of %s (pid %d): %s", user,
		    (int)cred.pid, why);
		say_goodbye(fd, UKEY_ERR_BUSY, why);
		close(fd);
		return 0;
	}
	c = &s->clients[s->n_clients++];
	memset(c, 0, sizeof(*c));
	c->id = ++s->next_client_id;
	c->fd = fd;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	snprintf(c->user, sizeof(c->user), "%s", user);
	c->roles = roles;
	c->since_ms = now_ms();
	framer_init(&c->in, FRAME_MAX_CONTROL);
	return 0;
}

/* Connections arrive in bursts (one ukeyctl per verb, scripts in
 * parallel): take what waits, up to a bound, so the backlog drains. */
#define ACCEPT_PER_TURN 32

void
control_accept(struct station *s)
{
	int i;

	/* the loop has done with its client pointers for this turn: the
	 * table may shrink here */
	control_reap(s);
	for (i = 0; i < ACCEPT_PER_TURN; i++)
		if (accept_one(s) != 0)
			break;
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

size_t
control_reply_max(void)
{
	const char *v = getenv("UKEY_TEST_REPLY_MAX");
	long n;

	/* test hook: a lower bound lets a test make a reply too large cheaply */
	if (v != NULL && (n = atol(v)) > 64 && (unsigned long)n < FRAME_MAX_CONTROL)
		return (size_t)n;
	return FRAME_MAX_CONTROL;
}

/* A reply that cannot be sent, too large or refused by the socket: logged,
 * told in one last error frame if the socket takes it at once, and the
 * connection closed now, so that the client fails at once instead of
 * waiting for a reply that will not come. */
static void
reply_unsendable(struct client *c, int rc, const char *why)
{
	log_warn("reply to control client %s (pid %d) cannot be sent: %s; connection closed",
	    c->user, (int)c->pid, why);
	if (!control_wants_write(c))
		say_goodbye(c->fd, rc, why);
	c->dead = 1;
}

static void
send_reply(struct client *c, int rc, const char *msg, struct json_object *details,
    struct json_object *result, struct json_object *next)
{
	struct json_object *rep;
	const char *txt;
	size_t len, max = control_reply_max();
	char why[300];
	int wrc;

	if (rc == 0) {
		rep = json_object_new_object();
		json_object_object_add(rep, "v", json_object_new_int(STATION_PROTOCOL_VERSION));
		json_object_object_add(rep, "ok", json_object_new_boolean(1));
		json_object_object_add(rep, "result", result ? result : json_object_new_object());
		if (next != NULL)
			json_object_object_add(rep, "next", json_object_get(next));
	} else {
		rep = error_reply(rc, msg, details);
		json_object_put(result);
		result = NULL;
	}
	txt = json_object_to_json_string_length(rep, JSON_C_TO_STRING_PLAIN, &len);
	if (len > max) {
		snprintf(why, sizeof(why), "the reply would be %zu bytes, over the protocol's %zu: "
		    "ask for less (a narrower filter, or pages with limit and after)", len, max);
		reply_unsendable(c, UKEY_ERR_INVAL, why);
	} else if ((wrc = out_queue(c, txt, len)) != 0) {
		snprintf(why, sizeof(why), "writing it: %s", ukey_strerror(wrc));
		reply_unsendable(c, UKEY_ERR_IO, why);
	}
	c->since_ms = now_ms();
	if (result != NULL)
		wipe_pins(rep, result);
	json_object_put(rep);
}

void
control_reply_deferred(struct station *s, int64_t client_id, int rc, const char *msg,
    struct json_object *result)
{
	control_reply_deferred_next(s, client_id, rc, msg, result, NULL);
}

void
control_reply_deferred_next(struct station *s, int64_t client_id, int rc, const char *msg,
    struct json_object *result, struct json_object *next)
{
	int i;

	for (i = 0; i < s->n_clients; i++) {
		if (s->clients[i].id == client_id && !s->clients[i].dead) {
			s->clients[i].awaiting = 0;
			send_reply(&s->clients[i], rc, msg, NULL, result, next);
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
	int64_t expiring = 0;
	int rc, held = 0;

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
	if (c->watch.on) {
		/* a reply among the frames could be taken for one of them */
		rc = req_fail(&r, UKEY_ERR_STATE, "%s: this connection watches the floor "
		    "(watch.subscribe) and takes no other request; use another", cmd->name);
		goto out;
	}
	if ((rc = authorize(&r, cmd)) != 0)
		goto out;
	if ((rc = dualctl_hold(&r, cmd->name, &held, &result)) != 0 || held)
		goto out;
	if (cmd->fn == NULL) {
		result = json_object_new_object();
		json_object_object_add(result, "version", json_object_new_string(UKEY_VERSION));
		json_object_object_add(result, "protocol", json_object_new_int(STATION_PROTOCOL_VERSION));
		json_object_object_add(result, "station", json_object_new_string(s->cfg.station_id));
		json_object_object_add(result, "user", json_object_new_string(c->user));
		json_object_object_add(result, "roles", roles_json(c->roles));
		json_object_object_add(result, "store", station_store_json(s));
		/* `ukeyctl status`'s summary, for users with a role */
		if (c->roles != 0 && station_expiring_count(s, 30, &expiring) == 0)
			json_object_object_add(result, "expiring_30d", json_object_new_int64(expiring));
		if (c->roles != 0)
			station_point_status(s, result);
		rc = 0;
		goto out;
	}
	log_debug("%s from %s", cmd->name, c->user);
	rc = cmd->fn(&r, &result);
	if (rc != 0 && r.msg[0] == '\0')
		snprintf(r.msg, sizeof(r.msg), "%s: %s", cmd->name, ukey_strerror(rc));
 out:
	if (!r.deferred) {
		send_reply(c, rc, r.msg, r.details, result, r.next);
		json_object_put(r.next);
	} else {
		c->awaiting = 1;
		json_object_put(r.details);
		json_object_put(r.next);
	}
	request_free(&pr);
}

/* Serves the complete requests the client's buffer holds, one at a time:
 * the next waits until the reply before it is written. Returns as
 * framer_next() did last. */
static int
serve_frames(struct station *s, struct client *c)
{
	char *msg;
	size_t len;
	int more = 0;

	/* a deferred reply (audit.verify, bay.take_pin) comes first: what the
	 * client sent after it waits, so that replies keep the requests' order */
	c->held = c->awaiting;
	while (!c->dead && !c->awaiting && !control_wants_write(c) &&
	    (more = framer_next(&c->in, &msg, &len)) == 1) {
		dispatch(s, c, msg, len);
		secure_wipe(msg, len);
		free(msg);
		c->held = c->awaiting;
	}
	return more;
}

/* After a turn's reading or writing: a client that closed its side, or was
 * told its last word, goes once everything for it is written. */
static void
settle(struct client *c)
{
	if (!control_wants_write(c) && (c->closing || c->eof))
		c->dead = 1;
}

void
control_on_readable(struct station *s, struct client *c)
{
	int more, rc = framer_fill(&c->in, c->fd);

	/* a client may send its request and close its side at once: serve
	 * whatever complete frames arrived before honouring the EOF */
	more = serve_frames(s, c);
	/* an oversize frame is told as such, whether it came first (framer_fill)
	 * or after requests that were served (framer_next) */
	if (rc == UKEY_ERR_PROTO || more == UKEY_ERR_PROTO) {
		send_reply(c, UKEY_ERR_PROTO, "request larger than the protocol allows", NULL, NULL,
		    NULL);
		c->closing = 1;
	} else if (rc < 0 || more < 0) {
		c->eof = 1;
	}
	settle(c);
}

void
control_on_writable(struct station *s, struct client *c)
{
	int more;

	if (out_flush(c) != 0) {
		log_warn("reply to control client %s (pid %d) cannot be sent: writing it: %s; "
		    "connection closed", c->user, (int)c->pid, strerror(errno));
		c->dead = 1;
		return;
	}
	/* requests that came with the one just answered */
	if (!control_wants_write(c) && !c->closing) {
		more = serve_frames(s, c);
		if (more == UKEY_ERR_PROTO) {
			send_reply(c, UKEY_ERR_PROTO, "request larger than the protocol allows",
			    NULL, NULL, NULL);
			c->closing = 1;
		} else if (more < 0) {
			c->dead = 1;
		}
	}
	settle(c);
}

void
control_check_timers(struct station *s)
{
	int64_t now = now_ms(), limit = (int64_t)s->cfg.client_timeout_s * 1000;
	char why[200];
	int i;

	for (i = 0; i < s->n_clients; i++) {
		struct client *c = &s->clients[i];

		if (c->dead)
			continue;
		if (c->held && !c->awaiting && !control_wants_write(c)) {
			/* its deferred reply went out: the requests behind it */
			if (serve_frames(s, c) == UKEY_ERR_PROTO) {
				send_reply(c, UKEY_ERR_PROTO, "request larger than the protocol "
				    "allows", NULL, NULL, NULL);
				c->closing = 1;
			}
			settle(c);
		}
		if (control_wants_write(c)) {
			/* mid-frame: nothing more can be said on this stream */
			if (now - c->out_since_ms >= limit) {
				log_info("control client %s (pid %d) has not read its reply for %d s;"
				    " closed", c->user, (int)c->pid, s->cfg.client_timeout_s);
				c->dead = 1;
			}
		} else if (!c->awaiting && !c->watch.on && now - c->since_ms >= limit) {
			snprintf(why, sizeof(why), "connection closed: no complete request within "
			    "%d s (station.client_timeout)", s->cfg.client_timeout_s);
			log_info("control client %s (pid %d): %s", c->user, (int)c->pid, why);
			say_goodbye(c->fd, UKEY_ERR_TIMEOUT, why);
			c->dead = 1;
		}
	}
}

void
control_reap(struct station *s)
{
	int i = 0;

	while (i < s->n_clients) {
		if (s->clients[i].dead) {
			client_drop(s, i);
			continue;
		}
		i++;
	}
}

void
control_close_all(struct station *s)
{
	while (s->n_clients > 0)
		client_drop(s, s->n_clients - 1);
}
