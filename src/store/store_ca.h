/* The embedded CA's own database (ca.db, apart from the station's): the list
 * of what it issued, revocations, and the CRLs it signed. Every statement on
 * ca.db is here; src/ca/ca_embedded.c calls these typed functions. */
#ifndef UKEY_STORE_CA_H
#define UKEY_STORE_CA_H

#include <stddef.h>
#include <stdint.h>

struct store_ca;	/* opaque: one connection to ca.db */

/* The schema version store_ca_open brings ca.db to (PRAGMA user_version):
 * 1 the issued list, 2 the CRLs signed (their numbers). */
#define STORE_CA_VERSION 2

/* A certificate the CA issued, as stored. Owned: free with
 * store_ca_cert_clear (or store_ca_certs_free for an array). The text fields
 * are ISO-8601 UTC times ("2026-11-21T08:20:00Z"); status is "valid" or
 * "revoked"; revoked_at and revoke_reason are NULL while valid. */
struct store_ca_cert {
	char *serial;		/* hex, upper case, as BN_bn2hex writes it */
	char *request_key;
	char *subject;		/* RFC 2253, UTF-8 */
	char *not_before, *not_after;
	char *status;
	char *revoked_at, *revoke_reason;
	char *issued_at;
	uint8_t *der;		/* the certificate (find functions only; NULL in lists) */
	size_t der_len;
};

/* What store_ca_insert records; borrowed. */
struct store_ca_new {
	const char *serial, *request_key, *subject, *not_before, *not_after, *issued_at;
	const uint8_t *der;
	size_t der_len;
};

/* Opens (creating) ca.db at path in WAL mode with synchronous FULL (a
 * certificate handed out must be on disk, even after power loss) and brings
 * its schema to STORE_CA_VERSION, one transaction per version. Returns 0
 * and *out (free with store_ca_close), or UKEY_ERR_DB (logged), also for a
 * database newer than this program. */
int store_ca_open(const char *path, struct store_ca **out);
/* Opens ca.db at path read-only, as it is (no migration; it must exist and
 * have a schema of 1 .. STORE_CA_VERSION): a connection of its own for a
 * reader in another thread than the CA's (the reconciliation report).
 * Only the reading functions work on it. 0 and *out (store_ca_close), or
 * UKEY_ERR_DB (logged) or UKEY_ERR_NOMEM. */
int store_ca_open_readonly(const char *path, struct store_ca **out);
void store_ca_close(struct store_ca *db);
int store_ca_version(struct store_ca *db);

/* One writer at a time: BEGIN IMMEDIATE ... COMMIT, or ROLLBACK. */
int store_ca_begin(struct store_ca *db);
int store_ca_commit(struct store_ca *db);
void store_ca_rollback(struct store_ca *db);

/* Records a certificate as valid. UKEY_ERR_EXISTS for a serial or request
 * key already recorded, else 0 or UKEY_ERR_DB. */
int store_ca_insert(struct store_ca *db, const struct store_ca_new *c);

/* Finds the certificate by its request key, or by its serial (exact, upper
 * case). Returns 0 and *out filled (der included), UKEY_ERR_NOTFOUND, or
 * UKEY_ERR_DB / UKEY_ERR_NOMEM; *out is zeroed on entry. */
int store_ca_find_request(struct store_ca *db, const char *request_key,
    struct store_ca_cert *out);
int store_ca_find_serial(struct store_ca *db, const char *serial, struct store_ca_cert *out);

/* Marks a valid certificate revoked at `at` with an RFC 5280 reason name.
 * Returns 0, UKEY_ERR_NOTFOUND (no such serial), UKEY_ERR_STATE (already
 * revoked) or UKEY_ERR_DB. Run it in a transaction to make the check and
 * the change one. */
int store_ca_revoke(struct store_ca *db, const char *serial, const char *reason, const char *at);

/* Everything issued, oldest first (der left NULL); or only the revoked ones,
 * in revocation order, for a CRL (serial, status, revoked_at and
 * revoke_reason; the rest left NULL). Returns 0 with *out (store_ca_certs_free)
 * and *n (0 and NULL for none), UKEY_ERR_DB or UKEY_ERR_NOMEM. */
int store_ca_list(struct store_ca *db, struct store_ca_cert **out, size_t *n);
int store_ca_list_revoked(struct store_ca *db, struct store_ca_cert **out, size_t *n);

/* The issued list one certificate at a time, in serial order (the upper-case
 * hex compared byte by byte, as strcmp does), so that a reader holds one row
 * and not the list: store_ca_walk_next clears c, fills it (der left NULL)
 * and returns 1, or returns 0 at the end of the list, UKEY_ERR_DB or
 * UKEY_ERR_NOMEM. The walk reads one snapshot of ca.db while it is open;
 * store_ca_walk_close (NULL allowed) ends it. One walk per connection. */
struct store_ca_walk;
int store_ca_walk_open(struct store_ca *db, struct store_ca_walk **out);
int store_ca_walk_next(struct store_ca_walk *w, struct store_ca_cert *c);
void store_ca_walk_close(struct store_ca_walk *w);

/* Takes the next CRL number (1 for the first CRL) and records it with the
 * CRL's thisUpdate and nextUpdate and the count of entries. Numbers only
 * grow, also over restarts (RFC 5280 5.2.3). Run it in the transaction that
 * read the revoked list. Returns 0 and *number, or UKEY_ERR_DB. */
int store_ca_crl_next(struct store_ca *db, const char *this_update, const char *next_update,
    int64_t entries, int64_t *number);

void store_ca_cert_clear(struct store_ca_cert *c);
void store_ca_certs_free(struct store_ca_cert *a, size_t n);

#endif
