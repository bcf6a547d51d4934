/* Order documents at rest (orderdoc.c): kept with ID numbers masked, and
 * whole only sealed under the station's master key. */
#ifndef UKEY_STATION_ORDERDOC_H
#define UKEY_STATION_ORDERDOC_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "station/station.h"

/* orderdoc.c: orders keep their document with ID numbers masked (doc) and
 * whole, sealed under the master key (doc_sealed). */
/* Masks every "id_number" string in a JSON tree (5301**********0016). */
void orderdoc_mask(struct json_object *o);
/* From the normalized text of an order: the masked text (owned) and the
 * sealed whole text (owned). Returns 0, UKEY_ERR_INVAL or UKEY_ERR_NOMEM. */
int orderdoc_seal(struct station *s, const char *portal_ref, const char *text, char **masked,
    uint8_t **sealed, size_t *sealed_len);
/* Opens a doc_sealed column (as store rows give it: hex) into the whole text
 * (owned; wipe and free) or a JSON document. UKEY_ERR_VERIFY if it was not
 * sealed by this station for that order, UKEY_ERR_NOTFOUND if absent. */
int orderdoc_text(struct station *s, const char *portal_ref, const char *sealed_hex, char **text);
/* The same from the sealed bytes themselves. */
int orderdoc_text_sealed(struct station *s, const char *portal_ref, const uint8_t *sealed,
    size_t sealed_len, char **text);
int orderdoc_open_sealed(struct station *s, const char *portal_ref, const uint8_t *sealed,
    size_t sealed_len, struct json_object **doc);
int orderdoc_open(struct station *s, const char *portal_ref, const char *sealed_hex,
    struct json_object **doc);
/* At start: seals the documents a database from before sealing holds in clear. */
int orderdoc_seal_stored(struct station *s);

#endif
