/* The CA connector: how the station gets a certificate for a token's key.
 * One interface, one backend per file: the embedded local CA today
 * (ca_embedded.c), a CMP client for an external CA later. */
#ifndef UKEY_CA_H
#define UKEY_CA_H

#include <stdint.h>

#include <openssl/x509.h>
#include <json-c/json.h>

#include "ca/certprof.h"

struct ca;	/* opaque; holds the backend's operations */

/* What the station asks the CA to certify. All pointers are borrowed. */
struct ca_request {
	const X509_REQ *csr;		/* proof of possession: must verify with its own key */
	const X509_NAME *subject;	/* the subject to certify, built from the profile */
	const struct certprof *profile;	/* key algorithm, key usage, EKU, GM/T extension */
	int years;			/* 1..profile max_years; calendar years */
	/* renewal: days added after the years, the old certificate's days
	 * left (0..certprof_carry_over_days; cert_carry_days) */
	int carry_days;
	const char *request_key;	/* idempotency key: same key, same certificate */
	const char *gm_identity_value;	/* value for the GM/T identity extension, or NULL */
	/* The holder's e-mail address from the order, or NULL. Used only when
	 * the profile's purpose includes email (certprof_email): then it
	 * becomes an rfc822Name subjectAltName and the certificate gets
	 * id-kp-emailProtection; without an address, neither. */
	const char *email;
	const X509 *old_cert;	/* renewal: the certificate replaced, or NULL (docs/ca.md) */
	/* A CA that waits for the station's confirmation (CMP certConf) calls
	 * this with the certificate once every check passed and before it
	 * confirms, so that the caller records it first: 0 confirms, anything
	 * else refuses it (negative certConf). NULL: none. Runs on the thread
	 * that called the CA. The embedded CA never calls it. */
	int (*before_confirm)(void *arg, const X509 *cert);
	void *before_confirm_arg;
};

/* Opens (and on first use creates) the embedded CA in dir: dir (mode 0700),
 * ca.key (EC P-384, PEM, 0600), ca.crt (self-signed, CN = name +
 * " Embedded CA", 20 years) and ca.db (the CA's own issued list, SQLite WAL).
 * Later opens load them and check that key and certificate belong together.
 * Returns 0 and *out (free with ca_free), UKEY_ERR_INVAL for a bad name,
 * UKEY_ERR_IO / UKEY_ERR_DB / UKEY_ERR_CRYPTO / UKEY_ERR_VERIFY (ca.crt is not
 * ca.key's), UKEY_ERR_NOMEM. Runs in the daemon; may block on disk. */
int ca_embedded_open(const char *dir, const char *name, struct ca **out);

/* The embedded CA in dir read through a read-only connection to its ca.db
 * of its own: neither the CA's handle nor its lock is touched, so that
 * another thread may read while the CA issues (the reconciliation report's).
 * ca_reader_open: 0 and *out (ca_reader_close), UKEY_ERR_DB (no such ca.db;
 * logged), UKEY_ERR_INVAL, UKEY_ERR_NOMEM. ca_reader_next: the CA's issued
 * list one certificate at a time in serial order (store_ca_walk_next: 1 and
 * *c, 0 at the end, after which the next call starts again, or an error);
 * the walk holds one snapshot of ca.db until its end or ca_reader_close.
 * ca_reader_find: one certificate of that list by its serial (hex, any
 * case), read afresh: 0 and *c (store_ca_cert_clear), UKEY_ERR_NOTFOUND,
 * UKEY_ERR_INVAL, UKEY_ERR_DB, UKEY_ERR_STATE while a walk is open. One thread at a time per
 * reader. */
struct ca_reader;
struct store_ca_cert;
int ca_reader_open(const char *dir, struct ca_reader **out);
int ca_reader_next(struct ca_reader *r, struct store_ca_cert *c);
int ca_reader_find(struct ca_reader *r, const char *serial_hex, struct store_ca_cert *c);
void ca_reader_close(struct ca_reader *r);

/* Every call on a CA below (and in ca_cmp.h) holds one process-wide lock
 * while it runs, so the daemon's CA thread and its event loop never use a
 * backend at the same time; ca_hold()/ca_release() take it around several
 * calls (it is recursive). ca_cert(), ca_kind() and ca_revocations() take
 * no lock: the event loop may call them while a CA call waits. ca_crl()
 * holds it only while it reads the revoked list and takes the CRL's
 * number, not while it signs. */
void ca_hold(void);
void ca_release(void);

/* Frees ca; NULL is a no-op. */
void ca_free(struct ca *ca);

/* The CA's certificate (the trust anchor for what it issues), borrowed. */
const X509 *ca_cert(const struct ca *ca);

/* The backend's name: "embedded", later "cmp". */
const char *ca_kind(const struct ca *ca);

/* Issues a certificate for req. The certificate is recorded by the CA
 * before it is returned. If req->request_key was seen before, returns the
 * certificate issued then (UKEY_ERR_STATE if that one has been revoked:
 * use a new request key). Returns 0 and *out (free with X509_free), an
 * object decoded from the certificate's DER, as a parsed one is,
 * UKEY_ERR_VERIFY if the CSR's signature does not verify, UKEY_ERR_INVAL for
 * a bad request (wrong key type for the profile, years out of range,
 * missing GM/T identity value, ...), UKEY_ERR_UNAVAIL if the CA is down,
 * UKEY_ERR_DB, UKEY_ERR_CRYPTO, UKEY_ERR_NOMEM. */
int ca_issue(struct ca *ca, const struct ca_request *req, X509 **out);

/* Marks the certificate with serial_hex (case-insensitive hex, as
 * cert_serial_hex writes it) revoked with an RFC 5280 reason name
 * (unspecified, keyCompromise, affiliationChanged, superseded,
 * cessationOfOperation, certificateHold, privilegeWithdrawn; NULL means
 * unspecified). Returns 0, UKEY_ERR_NOTFOUND, UKEY_ERR_STATE if already
 * revoked, UKEY_ERR_INVAL, UKEY_ERR_UNAVAIL, UKEY_ERR_DB. */
int ca_revoke(struct ca *ca, const char *serial_hex, const char *reason);

/* How many certificates ca_revoke revoked through this handle since it was
 * opened: whoever publishes the CRL compares it with the count at its last
 * CRL, and so learns of revocations made anywhere in the program. */
uint64_t ca_revocations(const struct ca *ca);

/* 1 if name is one of the reason names ca_revoke accepts, else 0. */
int ca_reason_known(const char *name);

/* Lists what the CA issued, oldest first: a JSON array of {serial, subject,
 * not_before, not_after, status, request_key} (plus revoked_at and
 * revoke_reason when revoked). Returns 0 and *out (json_object_put it),
 * UKEY_ERR_DB or UKEY_ERR_NOMEM. */
int ca_list_issued(struct ca *ca, struct json_object **out);

/* What the CA says of the certificate it issued under request_key, in one
 * look-up however many it issued: 0 with status ("valid", "revoked") in
 * status (len bytes), UKEY_ERR_NOTFOUND when it issued none under that key,
 * UKEY_ERR_UNSUPPORTED for a CA that keeps no list for the station (CMP),
 * UKEY_ERR_DB. */
int ca_request_status(struct ca *ca, const char *request_key, char *status, size_t len);

/* Signs a new X.509 v2 CRL over everything the CA revoked: thisUpdate now,
 * nextUpdate next_update_s seconds later (1 .. 10 years), the next CRL
 * number (it only grows, also over restarts), the CA's authority key
 * identifier, and per revoked certificate its serial, revocation date and
 * reasonCode (absent for unspecified, RFC 5280 5.3.1). Returns 0 and *out
 * (free with X509_CRL_free), UKEY_ERR_UNSUPPORTED when the backend does
 * not make CRLs (an external CA publishes its own), UKEY_ERR_INVAL,
 * UKEY_ERR_DB, UKEY_ERR_CRYPTO, UKEY_ERR_NOMEM. May block on disk. */
int ca_crl(struct ca *ca, int64_t next_update_s, X509_CRL **out);
/* The CMP connector and requests a CA may answer later: docs/ca.md, "CMP". */
#include "ca/ca_cmp.h"

#endif
