/* Control protocol requests: parsing and the checks common to every command. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/jsontext.h"
#include "common/request.h"
#include "common/secret.h"

static int
valid_cmd(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > REQUEST_CMD_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return 1;
}

int
request_parse(const char *text, size_t len, struct parsed_request *out, char *msg, size_t msglen)
{
	struct json_tokener *tok = NULL;
	struct json_object *root = NULL, *v, *args;
	char why[200];
	int rc;

	memset(out, 0, sizeof(*out));
	if (msglen > 0)
		msg[0] = '\0';
	if (len > INT_MAX) {	/* json-c takes an int length */
		snprintf(msg, msglen, "request larger than the protocol allows");
		rc = UKEY_ERR_PROTO;
		goto out;
	}
	if ((tok = json_tokener_new()) == NULL) {
		snprintf(msg, msglen, "out of memory");
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	/* strict, as order files are: a request is written by a program */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)len);
	if (root == NULL || json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(root, json_type_object)) {
		snprintf(msg, msglen, "request is not a JSON object");
		rc = UKEY_ERR_PROTO;
		goto out;
	}
	if (jsontext_check(text, len, why, sizeof(why)) != 0) {
		snprintf(msg, msglen, "request is not strict JSON (RFC 8259): %s", why);
		rc = UKEY_ERR_PROTO;
		goto out;
	}
	v = json_object_object_get(root, "v");
	if (v == NULL || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) != REQUEST_PROTOCOL_VERSION) {
		snprintf(msg, msglen, "request field v: must be %d", REQUEST_PROTOCOL_VERSION);
		rc = UKEY_ERR_PROTO;
		goto out;
	}
	v = json_object_object_get(root, "cmd");
	if (v == NULL || !json_object_is_type(v, json_type_string)) {
		snprintf(msg, msglen, "request field cmd: required string");
		rc = UKEY_ERR_PROTO;
		goto out;
	}
	if (!valid_cmd(json_object_get_string(v), (size_t)json_object_get_string_len(v))) {
		snprintf(msg, msglen, "request field cmd: must be 1 to %d printable ASCII "
		    "characters without spaces", REQUEST_CMD_MAX);
		rc = UKEY_ERR_PROTO;
		goto out;
	}
	/* get_ex tells "args": null (refused) from no "args" at all */
	if (!json_object_object_get_ex(root, "args", &args)) {
		if ((args = json_object_new_object()) == NULL ||
		    json_object_object_add(root, "args", args) != 0) {
			json_object_put(args);
			snprintf(msg, msglen, "out of memory");
			rc = UKEY_ERR_NOMEM;
			goto out;
		}
	} else if (args == NULL || !json_object_is_type(args, json_type_object)) {
		snprintf(msg, msglen, "request field args: must be an object");
		rc = UKEY_ERR_PROTO;
		goto out;
	}
	out->root = root;
	out->cmd = json_object_get_string(v);
	out->args = args;
	root = NULL;	/* out owns it now */
	rc = 0;
 out:
	json_object_put(root);
	if (tok != NULL)
		json_tokener_free(tok);
	return rc;
}

void
request_free(struct parsed_request *r)
{
	/* a PIN argument (bay.enter_pin) is wiped before json-c frees it */
	if (json_object_is_type(r->args, json_type_object)) {
		json_object_object_foreach(r->args, key, val) {
			size_t kl = strlen(key);

			if (kl >= 3 && strcmp(key + kl - 3, "pin") == 0 &&
			    json_object_is_type(val, json_type_string))
				secure_wipe((char *)json_object_get_string(val),
				    (size_t)json_object_get_string_len(val));
		}
	}
	json_object_put(r->root);
	memset(r, 0, sizeof(*r));
}
