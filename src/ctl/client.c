/* ukeyctl's side of the control socket: one request, one reply, and the
 * exit code an error reply maps to (docs/protocol.md). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/err.h"
#include "common/secret.h"
#include "common/frame.h"
#include "ctl/ctl.h"

const char *ctl_sock_path;
int ctl_json;

/* The exit code for an error reply's code (ukeyctl --help lists them). */
int
ctl_exit_for(const char *code)
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

/* A request that carried a PIN (bay.enter_pin): the PIN string and the
 * text json-c serialised for the frame (kept in req, freed unwiped) are
 * wiped; serialising again writes the same text into the same buffer. */
static void
wipe_request_pins(struct json_object *req)
{
	struct json_object *args = json_object_object_get(req, "args");
	size_t len = 0, kl;
	char *txt;
	int has_pin = 0;

	json_object_object_foreach(args, k, v)
		has_pin |= (kl = strlen(k)) >= 3 && strcmp(k + kl - 3, "pin") == 0 &&
		    json_object_is_type(v, json_type_string);
	if (!has_pin)
		return;
	txt = (char *)json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN, &len);
	secure_wipe(txt, len);
	json_object_object_foreach(args, key, val)
		if ((kl = strlen(key)) >= 3 && strcmp(key + kl - 3, "pin") == 0 &&
		    json_object_is_type(val, json_type_string))
			secure_wipe((char *)json_object_get_string(val),
			    (size_t)json_object_get_string_len(val));
}

/* Sends one request and returns the reply (owned) or NULL with *ex set;
 * *fdp is the connection, open when a reply came, else -1. */
static struct json_object *
call_open(const char *cmd, struct json_object *args, int *ex, int *fdp)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct json_object *req = json_object_new_object(), *rep = NULL;
	int fd = -1, rc;

	*fdp = -1;

	json_object_object_add(req, "v", json_object_new_int(1));
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	json_object_object_add(req, "args", args ? args : json_object_new_object());
	if (strlen(ctl_sock_path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "ukeyctl: socket path too long: %s\n", ctl_sock_path);
		*ex = EXIT_USAGE;
		goto out;
	}
	strcpy(sun.sun_path, ctl_sock_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		fprintf(stderr, "ukeyctl: the station daemon is not running (cannot connect to %s: %s)\n",
		    ctl_sock_path, strerror(errno));
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
	*fdp = fd;
	fd = -1;
 out:
	if (fd >= 0)
		close(fd);
	wipe_request_pins(req);
	json_object_put(req);
	return rep;
}

struct json_object *
ctl_call(const char *cmd, struct json_object *args, int *ex)
{
	struct json_object *rep;
	int fd;

	rep = call_open(cmd, args, ex, &fd);
	if (fd >= 0)
		close(fd);
	return rep;
}

int
ctl_subscribe(const char *cmd, struct json_object *args, struct json_object **reply,
    struct json_object **result, int *fdp)
{
	struct json_object *err;
	int ex;

	*result = NULL;
	if ((*reply = call_open(cmd, args, &ex, fdp)) == NULL)
		return ex;
	if (json_object_get_boolean(json_object_object_get(*reply, "ok"))) {
		*result = json_object_object_get(*reply, "result");
		return EXIT_OK;
	}
	if (*fdp >= 0)
		close(*fdp);
	*fdp = -1;
	err = json_object_object_get(*reply, "error");
	if (ctl_json)
		printf("%s\n", json_object_to_json_string_ext(*reply, JSON_C_TO_STRING_PRETTY));
	else
		fprintf(stderr, "ukeyctl: %s\n", json_object_get_string(json_object_object_get(err,
		    "message")));
	ex = ctl_exit_for(json_object_get_string(json_object_object_get(err, "code")));
	json_object_put(*reply);
	*reply = NULL;
	return ex;
}

/* Runs a request; prints an error reply and returns its exit code, or
 * returns 0 with *result borrowed from *reply (which the caller frees). */
int
ctl_run(const char *cmd, struct json_object *args, struct json_object **reply,
    struct json_object **result)
{
	struct json_object *err, *details;
	int ex;
	size_t i;

	*result = NULL;
	if ((*reply = ctl_call(cmd, args, &ex)) == NULL)
		return ex;
	if (json_object_get_boolean(json_object_object_get(*reply, "ok"))) {
		*result = json_object_object_get(*reply, "result");
		/* dual control held the command: nothing was done yet */
		if ((details = json_object_object_get(*result, "pending_request")) != NULL) {
			if (ctl_json)
				printf("%s\n", json_object_to_json_string_ext(*result,
				    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
			else
				printf("%s\n", json_object_get_string(json_object_object_get(details,
				    "message")));
			*result = NULL;
			json_object_put(*reply);
			*reply = NULL;
			return EXIT_PENDING;
		}
		return EXIT_OK;
	}
	err = json_object_object_get(*reply, "error");
	if (ctl_json) {
		printf("%s\n", json_object_to_json_string_ext(*reply, JSON_C_TO_STRING_PRETTY));
	} else {
		fprintf(stderr, "ukeyctl: %s\n", json_object_get_string(json_object_object_get(err,
		    "message")));
		details = json_object_object_get(err, "details");
		for (i = 0; json_object_is_type(details, json_type_array) &&
		    i < json_object_array_length(details); i++)
			fprintf(stderr, "  %s\n", json_object_get_string(json_object_array_get_idx(details, i)));
	}
	ex = ctl_exit_for(json_object_get_string(json_object_object_get(err, "code")));
	json_object_put(*reply);
	*reply = NULL;
	return ex;
}
