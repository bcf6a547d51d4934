/* PKCS#11 URIs (RFC 7512) naming a token, or an object on it, written by
 * p11-kit's URI API: the one place the station spells a "pkcs11:" URI. */
#ifndef UKEY_P11URI_H
#define UKEY_P11URI_H

#include <stddef.h>
#include <stdint.h>

struct p11uri {
	/* the token, as its CK_TOKEN_INFO says (trailing blanks trimmed);
	 * NULL is written as an empty value */
	const char *model;		/* model=, at most 16 bytes */
	const char *manufacturer;	/* manufacturer=, at most 32 bytes */
	const char *serial;		/* serial=, at most 16 bytes */
	const char *token;		/* token= (the label), at most 32 bytes */
	/* the object on it; type NULL names the token itself */
	const uint8_t *id;		/* id= (CKA_ID, idlen bytes, maybe 0) when not NULL */
	size_t idlen;
	const char *object;		/* object= (CKA_LABEL) when not NULL */
	const char *type;		/* type=: "cert", "data", "private", "public", "secret-key" */
};

/* Writes the URI of u into *out: "pkcs11:model=...;manufacturer=...;
 * serial=...;token=..." and, when u->type is set, ";id=...;object=...;
 * type=...". Values are percent-encoded as p11-kit does (every byte but
 * letters, digits, '-', '.' and '_'; the id entirely). *out is malloc'd and
 * freed by the caller. Returns 0, UKEY_ERR_INVAL when a token field is longer
 * than its CK_TOKEN_INFO field or the type is none of the five, or
 * UKEY_ERR_NOMEM. May run anywhere. */
int p11uri_format(const struct p11uri *u, char **out);

#endif
