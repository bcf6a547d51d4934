/* Control protocol requests: the checks every request passes before the
 * daemon looks its command up (JSON object, protocol version, cmd, args). */
#ifndef UKEY_REQUEST_H
#define UKEY_REQUEST_H

#include <stddef.h>

#include <json-c/json.h>

#define REQUEST_PROTOCOL_VERSION 1
#define REQUEST_CMD_MAX 64		/* longest command name */

struct parsed_request {
	struct json_object *root;	/* owned: the whole request */
	const char *cmd;		/* borrowed from root */
	struct json_object *args;	/* borrowed from root; an object, maybe empty */
};

/* Parses one request's text (len bytes, need not be NUL-terminated): a JSON
 * object and nothing after it, "v" equal to REQUEST_PROTOCOL_VERSION, "cmd" a
 * string of 1..REQUEST_CMD_MAX printable ASCII characters, "args" an object
 * or absent (then an empty one is added). Returns 0 with out filled (free
 * with request_free), or UKEY_ERR_PROTO / UKEY_ERR_NOMEM with out zeroed and
 * a message naming the field and the rule in msg. */
int request_parse(const char *text, size_t len, struct parsed_request *out, char *msg,
    size_t msglen);

/* Frees what r owns and zeroes it; safe on a zeroed struct. */
void request_free(struct parsed_request *r);

#endif
