/* RFC 8259 checks on JSON text that json-c's strict mode leaves out: quoted
 * keys in single quotes, NaN and Infinity, raw control characters in strings,
 * and \u escapes of unpaired UTF-16 surrogates (json-c would store U+FFFD). */
#ifndef UKEY_JSONTEXT_H
#define UKEY_JSONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* Checks the len bytes at text (need not be NUL-terminated) that a JSON
 * parser has accepted. Returns 0, or UKEY_ERR_INVAL with a message in why
 * naming the place and the rule, e.g. "org.name: \uD800 at byte 57 is an
 * unpaired UTF-16 surrogate". The place is the member path from the root
 * ("orders[2].org.name"; "" for the root, "[0]" for an array element).
 * Never reads past len. */
int jsontext_check(const char *text, size_t len, char *why, size_t whylen);

/* The one pair of field readers for JSON already checked by whoever made
 * it (worker replies, daemon replies, the bay's token description): member
 * key of o as a string (NULL when absent) or as an integer (0 when absent).
 * Input from outside is checked field by field instead (request.c,
 * auditverify.c). */
static inline const char *
jstr(struct json_object *o, const char *key)
{
	return json_object_get_string(json_object_object_get(o, key));
}

static inline int64_t
jint(struct json_object *o, const char *key)
{
	return json_object_get_int64(json_object_object_get(o, key));
}

#endif
