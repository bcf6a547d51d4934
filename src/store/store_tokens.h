/* The physical token's life as the station records it (docs/lifecycle.md):
 * the states an operator or reviewer marks (lost, damaged, destroyed,
 * returned), each with who, when and why, and the certificates a token
 * holds. Migration 10. */
#ifndef UKEY_STORE_TOKENS_H
#define UKEY_STORE_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* One recorded state of a token. Owned strings: store_token_mark_clear. */
struct store_token_mark {
	int64_t id;
	char *token_serial;
	char *state;		/* "in-stock", "lost", "damaged", "destroyed", "returned" */
	char *at, *actor, *remark;
};

/* A certificate the station issued onto a token. Owned: store_token_cert_clear. */
struct store_token_cert {
	int64_t id;		/* the issuance's id: the order of the list */
	char *cert_serial, *kind, *subject, *not_after, *issued_at;
	char *revoked_at, *revoke_reason;	/* NULL while not revoked */
	int64_t order_id;
};

/* Records state for the token at `at` by actor with remark (in the caller's
 * transaction, beside its audit record). Returns 0 or UKEY_ERR_DB. */
int store_token_mark_add(struct store *st, const char *token_serial, const char *state,
    const char *at, const char *actor, const char *remark);

/* Every recorded state of the token, oldest first; *out NULL when none.
 * Free with store_token_marks_free. Returns 0, UKEY_ERR_DB, UKEY_ERR_NOMEM. */
int store_token_marks(struct store *st, const char *token_serial, struct store_token_mark **out,
    size_t *n);
void store_token_marks_free(struct store_token_mark *a, size_t n);

/* Every certificate issued onto the token, oldest first (live ones have
 * revoked_at NULL). Free with store_token_certs_free. */
int store_token_certs(struct store *st, const char *token_serial, struct store_token_cert **out,
    size_t *n);
void store_token_certs_free(struct store_token_cert *a, size_t n);

/* Whether the station knows the token: it initialised it, or issued onto it. */
int store_token_known_serial(struct store *st, const char *token_serial, int *known);

#endif
