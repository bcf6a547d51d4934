/* Reading fields out of worker requests and writing reply fields. PIN fields
 * are copied into struct secret and wiped in the JSON tree at once. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "worker/ops.h"

int
req_string(struct p11 *p, struct json_object *req, const char *key, int required, size_t max,
    const char **out)
{
	struct json_object *v = NULL;
	const char *s;
	size_t len;

	*out = NULL;
	if (!json_object_object_get_ex(req, key, &v) || json_object_is_type(v, json_type_null)) {
		if (required)
			return p11_error(p, UKEY_ERR_PROTO, "%s: required field is missing", key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return p11_error(p, UKEY_ERR_PROTO, "%s: must be a string", key);
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (strlen(s) != len)
		return p11_error(p, UKEY_ERR_INVAL, "%s: must not contain a NUL character", key);
	if (len > max)
		return p11_error(p, UKEY_ERR_INVAL, "%s: %zu bytes, at most %zu allowed", key, len,
		    max);
	*out = s;
	return 0;
}

int
req_pin(struct p11 *p, struct json_object *req, const char *key, int required,
    struct secret *out)
{
	const char *s;
	int rc;

	secret_clear(out);
	if ((rc = req_string(p, req, key, required, 256, &s)) != 0 || s == NULL)
		return rc;
	if (s[0] == '\0')
		return p11_error(p, UKEY_ERR_PIN, "%s: must not be empty", key);
	if ((rc = secret_set(out, s, strlen(s))) != 0)
		return rc;
	/* json-c hands out its own buffer; the copy in the tree is not needed */
	secure_wipe((char *)s, strlen(s));
	return 0;
}

int
req_hex(struct p11 *p, struct json_object *req, const char *key, int required, size_t max,
    uint8_t **out, size_t *len)
{
	const char *s;
	int rc;

	*out = NULL;
	*len = 0;
	if ((rc = req_string(p, req, key, required, 2 * max, &s)) != 0 || s == NULL)
		return rc;
	if (s[0] == '\0')
		return p11_error(p, UKEY_ERR_INVAL, "%s: must not be empty", key);
	if ((rc = hex_decode(s, out, len)) != 0)
		return p11_error(p, rc, "%s: not a hex string", key);
	return 0;
}

int
req_usage(struct p11 *p, struct json_object *req, const char *key, int required, unsigned *ops,
    int *present)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
		{ "sign", KEY_OP_SIGN },
		{ "decrypt", KEY_OP_DECRYPT },
		{ "unwrap", KEY_OP_UNWRAP },
		{ "derive", KEY_OP_DERIVE },
	};
	struct json_object *v = NULL, *e;
	size_t i, j, n;
	const char *s;

	*ops = 0;
	*present = 0;
	if (!json_object_object_get_ex(req, key, &v) || json_object_is_type(v, json_type_null)) {
		if (required)
			return p11_error(p, UKEY_ERR_PROTO, "%s: required field is missing", key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_array))
		return p11_error(p, UKEY_ERR_PROTO, "%s: must be an array of strings", key);
	*present = 1;
	n = json_object_array_length(v);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(v, i);
		if (!json_object_is_type(e, json_type_string))
			return p11_error(p, UKEY_ERR_PROTO, "%s[%zu]: must be a string", key, i);
		s = json_object_get_string(e);
		for (j = 0; j < sizeof(names) / sizeof(names[0]); j++)
			if (strcmp(s, names[j].name) == 0)
				break;
		if (j == sizeof(names) / sizeof(names[0]))
			return p11_error(p, UKEY_ERR_INVAL, "%s[%zu]: '%.32s' is not sign, decrypt, "
			    "unwrap or derive", key, i, s);
		if (*ops & names[j].bit)
			return p11_error(p, UKEY_ERR_INVAL, "%s[%zu]: '%s' given twice", key, i, s);
		*ops |= names[j].bit;
	}
	return 0;
}

void
req_wipe_pins(struct json_object *req)
{
	if (req == NULL || !json_object_is_type(req, json_type_object))
		return;
	json_object_object_foreach(req, key, val) {
		size_t kl = strlen(key);

		if (kl >= 3 && strcmp(key + kl - 3, "pin") == 0 &&
		    json_object_is_type(val, json_type_string))
			secure_wipe((char *)json_object_get_string(val),
			    (size_t)json_object_get_string_len(val));
	}
}

int
rep_take(struct json_object *o, const char *key, struct json_object *obj)
{
	if (json_object_object_add(o, key, obj) != 0) {
		json_object_put(obj);
		return UKEY_ERR_NOMEM;
	}
	return 0;
}

int
rep_hex(struct json_object *o, const char *key, const uint8_t *buf, size_t len)
{
	struct json_object *v = NULL;
	char *hex;

	if (buf != NULL) {
		if ((hex = hex_encode(buf, len)) == NULL)
			return UKEY_ERR_NOMEM;
		v = json_object_new_string(hex);
		free(hex);
		if (v == NULL)
			return UKEY_ERR_NOMEM;
	}
	return rep_take(o, key, v);
}

int
rep_string(struct json_object *o, const char *key, const char *s)
{
	struct json_object *v = NULL;

	if (s != NULL && (v = json_object_new_string(s)) == NULL)
		return UKEY_ERR_NOMEM;
	return rep_take(o, key, v);
}

int
rep_bool(struct json_object *o, const char *key, int b)
{
	struct json_object *v;

	if ((v = json_object_new_boolean(b != 0)) == NULL)
		return UKEY_ERR_NOMEM;
	return rep_take(o, key, v);
}

int
rep_int(struct json_object *o, const char *key, int64_t n)
{
	struct json_object *v;

	if ((v = json_object_new_int64(n)) == NULL)
		return UKEY_ERR_NOMEM;
	return rep_take(o, key, v);
}
