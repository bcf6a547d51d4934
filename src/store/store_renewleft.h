/* What an ended renewal left on its token (docs/jobs.md, "Renewal"): the
 * key pair a renewal generated before it failed or was abandoned, never
 * recorded, which the next renewal of the same token removes. */
#ifndef UKEY_STORE_RENEWLEFT_H
#define UKEY_STORE_RENEWLEFT_H

#include <stdint.h>

#include "store/store.h"

/* *left = 1 when key_id (CKA_ID, hex, any case) is the new key of a renewal
 * job of token_serial, other than job `except`, that ended failed or
 * aborted (so its key pair was never recorded); else 0. Returns 0 or
 * UKEY_ERR_DB. */
int store_renewal_leftover(struct store *st, const char *token_serial, int64_t except,
    const char *key_id, int *left);

#endif
