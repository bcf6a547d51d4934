/* Revocation on the station's side: an issuance looked up by its
 * certificate serial, and marked revoked (migration 9's columns). */
#ifndef UKEY_STORE_REVOKE_H
#define UKEY_STORE_REVOKE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* An issuance as cert.revoke needs it. Owned: store_issuance_rev_clear. */
struct store_issuance_rev {
	int64_t id, order_id, unit_id, job_id;
	char *cert_serial;		/* as stored (upper-case hex) */
	char *token_serial;
	char *not_after;
	char *revoked_at, *revoke_reason, *revoked_by;	/* NULL while live */
	char *org_uscc, *kind, *station_id, *subject;
};

/* Finds the issuance of certificate serial (hex; case and leading zeros do
 * not matter). Returns 0 with *out, UKEY_ERR_NOTFOUND, UKEY_ERR_DB or
 * UKEY_ERR_NOMEM; *out is zeroed on entry. */
int store_issuance_by_serial(struct store *st, const char *serial, struct store_issuance_rev *out);

/* Marks the live issuance of cert_serial (as stored) revoked at `at` for
 * reason by `by` with remark. Returns 0, UKEY_ERR_STATE when it was revoked
 * already (or is not there), UKEY_ERR_DB. */
int store_issuance_revoke(struct store *st, const char *cert_serial, const char *at,
    const char *reason, const char *by, const char *remark);

void store_issuance_rev_clear(struct store_issuance_rev *r);

/* The DER of the certificate of the issuance with serial (as stored), into
 * *der (free) and *len; UKEY_ERR_NOTFOUND when there is none. */
int store_issuance_cert(struct store *st, const char *serial, uint8_t **der, size_t *len);
/* A replacement certificate (issuances.replaces_how 'replacement') whose
 * replaced certificate the record still has live. Owned: store_replaced_free. */
struct store_replaced {
	char *new_serial, *old_serial;
	int64_t order_id, unit_id, job_id;	/* of the replacement */
};

/* Those of certificate new_serial (NULL: all of them), oldest first; *out
 * NULL when none. Returns 0, UKEY_ERR_DB or UKEY_ERR_NOMEM. */
int store_replaced_live(struct store *st, const char *new_serial, struct store_replaced **out,
    size_t *n);
void store_replaced_free(struct store_replaced *a, size_t n);

#endif
