/* An order's document holds personal data: the resident ID numbers of the
 * handler, the legal representative and the entrusted person. The orders
 * table keeps two forms of it: `doc`, with every ID number masked, which is
 * what listings, the audit trail and most commands read; and `doc_sealed`,
 * the whole normalized text sealed under the station master key (AES-256-GCM,
 * bound to the portal reference), opened only where a full number is needed:
 * validating the order again, a certificate subject that carries the number,
 * and `order show --reveal`. So neither the database file nor its WAL holds
 * an ID number in clear. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/secret.h"
#include "orders/idcheck.h"
#include "station/station.h"
#include "store/store_orders.h"
#include "station/orderdoc.h"
#include "station/job.h"
#include "common/seal.h"

#define AAD_PREFIX "ukey-order-doc:"

static void
aad_for(const char *portal_ref, char *aad, size_t len)
{
	snprintf(aad, len, AAD_PREFIX "%s", portal_ref);
}

void
orderdoc_mask(struct json_object *o)
{
	if (json_object_is_type(o, json_type_array)) {
		size_t i;

		for (i = 0; i < json_object_array_length(o); i++)
			orderdoc_mask(json_object_array_get_idx(o, i));
		return;
	}
	if (!json_object_is_type(o, json_type_object))
		return;
	json_object_object_foreach(o, key, val) {
		if (strcmp(key, "id_number") == 0 && json_object_is_type(val, json_type_string)) {
			char masked[64];

			id_mask(json_object_get_string(val), masked, sizeof(masked));
			json_object_object_add(o, key, json_object_new_string(masked));
		} else {
			orderdoc_mask(val);
		}
	}
}

int
orderdoc_seal(struct station *s, const char *portal_ref, const char *text, char **masked,
    uint8_t **sealed, size_t *sealed_len)
{
	struct json_object *doc;
	char aad[160];
	int rc;

	*masked = NULL;
	*sealed = NULL;
	if ((doc = json_tokener_parse(text)) == NULL)
		return UKEY_ERR_INVAL;
	orderdoc_mask(doc);
	*masked = strdup(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
	json_object_put(doc);
	if (*masked == NULL)
		return UKEY_ERR_NOMEM;
	aad_for(portal_ref, aad, sizeof(aad));
	if ((rc = seal(station_master_key(s), aad, (const uint8_t *)text, strlen(text), sealed,
	    sealed_len)) != 0) {
		free(*masked);
		*masked = NULL;
	}
	return rc;
}

int
orderdoc_text_sealed(struct station *s, const char *portal_ref, const uint8_t *sealed,
    size_t sealed_len, char **text)
{
	uint8_t *plain = NULL;
	size_t plen = 0;
	char aad[160];
	int rc;

	*text = NULL;
	if (portal_ref == NULL || sealed == NULL)
		return UKEY_ERR_NOTFOUND;
	aad_for(portal_ref, aad, sizeof(aad));
	if ((rc = unseal(station_master_key(s), aad, sealed, sealed_len, &plain, &plen)) != 0)
		return rc;
	*text = (char *)plain;	/* NUL-terminated by unseal */
	return 0;
}

int
orderdoc_text(struct station *s, const char *portal_ref, const char *sealed_hex, char **text)
{
	uint8_t *blob = NULL;
	size_t blen = 0;
	int rc;

	*text = NULL;
	if (portal_ref == NULL || sealed_hex == NULL)
		return UKEY_ERR_NOTFOUND;
	if ((rc = hex_decode(sealed_hex, &blob, &blen)) != 0)
		return rc;
	rc = orderdoc_text_sealed(s, portal_ref, blob, blen, text);
	free(blob);
	return rc;
}

/* The text as JSON; the text is wiped and freed. */
static int
parse_wiped(char *text, struct json_object **doc)
{
	*doc = json_tokener_parse(text);
	secure_wipe(text, strlen(text));
	free(text);
	return *doc != NULL ? 0 : UKEY_ERR_DB;
}

int
orderdoc_open_sealed(struct station *s, const char *portal_ref, const uint8_t *sealed,
    size_t sealed_len, struct json_object **doc)
{
	char *text = NULL;
	int rc;

	*doc = NULL;
	if ((rc = orderdoc_text_sealed(s, portal_ref, sealed, sealed_len, &text)) != 0)
		return rc;
	return parse_wiped(text, doc);
}

int
orderdoc_open(struct station *s, const char *portal_ref, const char *sealed_hex,
    struct json_object **doc)
{
	char *text = NULL;
	int rc;

	*doc = NULL;
	if ((rc = orderdoc_text(s, portal_ref, sealed_hex, &text)) != 0)
		return rc;
	return parse_wiped(text, doc);
}

int
orderdoc_seal_stored(struct station *s)
{
	struct store_clear_doc *docs = NULL;
	size_t n = 0, i;
	int rc;

	if ((rc = store_begin(station_store(s))) != 0)
		return rc;
	rc = store_order_clear_docs(station_store(s), &docs, &n);
	for (i = 0; rc == 0 && i < n; i++) {
		uint8_t *sealed = NULL;
		size_t slen = 0;
		char *masked = NULL;

		rc = orderdoc_seal(s, docs[i].portal_ref, docs[i].doc, &masked, &sealed, &slen);
		if (rc == 0)
			rc = store_order_doc_seal(station_store(s), &docs[i], masked, sealed, slen);
		free(masked);
		free(sealed);
	}
	store_order_clear_docs_free(docs, n);
	if (rc == 0)
		rc = store_commit(station_store(s));
	else
		store_rollback(station_store(s));
	if (rc == 0 && n > 0)
		log_info("sealed the identity numbers of %zu stored order document%s", n,
		    n == 1 ? "" : "s");
	return rc;
}
