/* PKCS#11 URIs (RFC 7512) through p11-kit: token fields go into the
 * CK_TOKEN_INFO of a P11KitUri, object fields into its attributes, and
 * p11_kit_uri_format() writes and percent-encodes them. */
#include <stdlib.h>
#include <string.h>

#include <p11-kit/uri.h>

#include "common/err.h"
#include "common/p11uri.h"

/* v into the blank-padded field of n bytes (CK_TOKEN_INFO style). */
static int
pad(unsigned char *field, size_t n, const char *v)
{
	size_t len = v != NULL ? strlen(v) : 0;

	if (len > n)
		return UKEY_ERR_INVAL;
	memset(field, ' ', n);
	if (len > 0)
		memcpy(field, v, len);
	return 0;
}

static int
set_attr(P11KitUri *uri, CK_ATTRIBUTE_TYPE type, const void *v, size_t len)
{
	/* p11-kit leaves out an attribute whose value pointer is NULL: an
	 * empty CKA_ID or label still has a pointer, and is written "id=" */
	CK_ATTRIBUTE a = { type, (void *)(v != NULL ? v : ""), (CK_ULONG)len };

	return p11_kit_uri_set_attribute(uri, &a) == P11_KIT_URI_OK ? 0 : UKEY_ERR_NOMEM;
}

int
p11uri_format(const struct p11uri *u, char **out)
{
	static const struct {
		const char *name;
		CK_OBJECT_CLASS cls;
	} types[] = {
		{ "cert", CKO_CERTIFICATE },
		{ "data", CKO_DATA },
		{ "private", CKO_PRIVATE_KEY },
		{ "public", CKO_PUBLIC_KEY },
		{ "secret-key", CKO_SECRET_KEY },
	};
	P11KitUri *uri = NULL;
	CK_TOKEN_INFO *ti;
	CK_OBJECT_CLASS cls = 0;
	char *s = NULL;
	size_t i;
	int rc;

	*out = NULL;
	if ((uri = p11_kit_uri_new()) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	ti = p11_kit_uri_get_token_info(uri);
	if ((rc = pad(ti->model, sizeof(ti->model), u->model)) != 0 ||
	    (rc = pad(ti->manufacturerID, sizeof(ti->manufacturerID), u->manufacturer)) != 0 ||
	    (rc = pad(ti->serialNumber, sizeof(ti->serialNumber), u->serial)) != 0 ||
	    (rc = pad(ti->label, sizeof(ti->label), u->token)) != 0)
		goto out;
	if (u->type != NULL) {
		for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcmp(u->type, types[i].name) == 0)
				break;
		if (i == sizeof(types) / sizeof(types[0])) {
			rc = UKEY_ERR_INVAL;
			goto out;
		}
		cls = types[i].cls;
		if ((rc = set_attr(uri, CKA_CLASS, &cls, sizeof(cls))) != 0 ||
		    (u->id != NULL && (rc = set_attr(uri, CKA_ID, u->id, u->idlen)) != 0) ||
		    (u->object != NULL &&
		    (rc = set_attr(uri, CKA_LABEL, u->object, strlen(u->object))) != 0))
			goto out;
	}
	if (p11_kit_uri_format(uri, u->type != NULL ? P11_KIT_URI_FOR_OBJECT_ON_TOKEN :
	    P11_KIT_URI_FOR_TOKEN, &s) != P11_KIT_URI_OK) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	*out = s;
	s = NULL;
	rc = 0;
 out:
	free(s);
	p11_kit_uri_free(uri);
	return rc;
}
