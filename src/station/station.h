/* ukeyd's state as its modules see it: an opaque struct station (defined
 * in station_impl.h for the event loop alone) and what each module may ask
 * of it: the database, the configuration, the CA, the profiles, the master
 * key, the audit log. */
#ifndef UKEY_STATION_H
#define UKEY_STATION_H

#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "common/config.h"

struct station;
struct bay;
struct store;
struct ca;
struct fw_profile_set;
struct certprof_set;
struct dual_actors;

#define STATION_PROTOCOL_VERSION 1
#define MAX_BAYS 64

/* station.c: what the modules read of the station. */
struct store *station_store(const struct station *s);
const struct station_config *station_cfg(const struct station *s);
struct ca *station_ca(const struct station *s);
/* The CA's certificate as hex DER, as the worker requests carry it; made
 * once, when the CA is opened. */
const char *station_ca_hex(const struct station *s);
/* The CA thread (cathread.h): issuance and polling go through it. */
struct cathread *station_cathread(const struct station *s);
struct fw_profile_set *station_fw(const struct station *s);
struct certprof_set *station_cp(const struct station *s);
const uint8_t *station_master_key(const struct station *s);	/* SEAL_KEY_LEN bytes */
EVP_PKEY *station_audit_key(const struct station *s);
const char *station_state_dir(const struct station *s);
/* The two people of the confirmed request whose command runs now, or NULL
 * (dualctl.c sets it around the command; station_audit records both). */
const struct dual_actors *station_dual(const struct station *s);
void station_set_dual(struct station *s, const struct dual_actors *d);

/* main.c */
int64_t now_ms(void);
int station_audit(struct station *s, const char *actor, const char *action, int64_t order_id,
    int64_t unit_id, int64_t job_id, const char *token, const char *bay, struct json_object *detail);
int station_audit_lazy(struct station *s, const char *actor, const char *action, const char *token,
    const char *bay, struct json_object *detail);
/* Signs an audit checkpoint when audit_checkpoint_every records are unsigned.
 * Loop context, outside any transaction. */
void station_audit_checkpoint_if_due(struct station *s);

/* auditwitness.c: the audit log's head, signed, written to the daemon's log
 * (journald) and to every [audit] witness. Loop context. */
int station_witness_open(struct station *s);
/* Writes the current head (record count, last hash) for event ("start",
 * "interval", "checkpoint", "stop"); a sink that fails is logged and kept. */
void station_witness(struct station *s, const char *event);
/* Witnesses the head when head_interval seconds have passed since the last. */
void station_witness_if_due(struct station *s);
void station_witness_close(struct station *s);

/* crl.c: the CA connector and its CRL. Loop context; may block on disk. */
/* Opens the CA ([ca] dir, default <state>/ca; crl_path default
 * <ca dir>/crl.pem) and begins a first CRL (station_crl_publish_async).
 * Returns 0 or the CA's error. */
int station_ca_open(struct station *s);
/* What follows a CRL's publication: rc 0 and its number, or why not
 * (UKEY_ERR_UNSUPPORTED: the CA makes no CRLs). The callee owns arg. */
typedef void (*crl_published_fn)(struct station *s, int rc, int64_t number, void *arg);
/* Publishes a CRL in a thread of its own (signing a CRL of 100,000
 * revocations takes most of a second, docs/performance.md): signed with
 * nextUpdate two crl_intervals on and written to crl_path atomically (mode
 * 0644); the next one is due crl_interval later, or in a minute after a
 * failure. One at a time;
 * asked while one is being signed, the next begins after it, with every
 * revocation made until then. fn (NULL: nobody waits) runs on the loop once
 * that CRL is written or failed; arg_free frees arg if it never runs (the
 * daemon stops). Without a thread the CRL is signed at once, fn called
 * before the return. */
void station_crl_publish_async(struct station *s, crl_published_fn fn, void *arg,
    void (*arg_free)(void *));
/* fn (as above; rc 0, or why the file could not be read or parsed) once
 * the CRL file at crl_path, changed since it was last read (not written by
 * this station: another tool's), is read and parsed in a thread: 1, or 0
 * when the copy there is current, there is no file, or no thread could be
 * had (fn not taken: station_crl_current answers at once). */
int station_crl_read(struct station *s, crl_published_fn fn, void *arg,
    void (*arg_free)(void *));
/* fn (as above) once the CRL being signed, or the one asked for next, is
 * written: 1, or 0 when none is under way or asked for (fn not taken). */
int station_crl_wait(struct station *s, crl_published_fn fn, void *arg,
    void (*arg_free)(void *));
/* Publishes the CRL (station_crl_publish_async) when crl_interval has
 * passed since the last, or when the CA revoked a certificate since (a
 * job's refused or abandoned certificate, job.c). */
void station_crl_if_due(struct station *s);
/* The CRL at crl_path as ca.crl serves it (docs/protocol.md, "The CRL in
 * pages"): re-encoded as PEM, with its SHA-256 and what it says of itself. */
struct crl_copy {
	char *pem;
	size_t len;
	char sha256[65];	/* of pem, lower-case hex */
	int64_t number;		/* -1 when the CRL has no CRL Number */
	char this_update[32], next_update[32];	/* ISO 8601 UTC; "" when absent */
	int revoked;		/* entries */
};
/* The CRL at crl_path: read and parsed once per version of the file (a new
 * file, a new size or time), from a copy kept in the station after that, so
 * that the pages of a large CRL do not parse it again each. *out is borrowed
 * until the next call. Returns 0, UKEY_ERR_NOTFOUND (no file),
 * UKEY_ERR_CRYPTO (not a PEM CRL), UKEY_ERR_IO, UKEY_ERR_NOMEM. */
int station_crl_current(struct station *s, const struct crl_copy **out);
/* Drops that copy and whoever waits for a CRL not begun (at exit). */
void station_crl_forget(struct station *s);

struct store_issuance_rev;
/* What follows a revocation: rc 0 with now, the time recorded; or the CA's
 * or the store's error, ca_said the CA's words ("" if none). The callee
 * owns arg from here on. */
typedef void (*cert_revoked_fn)(struct station *s, int rc, const char *ca_said, const char *now,
    void *arg);
/* cmd_cert.c: revokes one certificate the station issued, at the CA first
 * (one the CA has revoked already counts as done there), then in
 * station.db with its cert.revoke audit record, in one transaction; then
 * done. With the embedded CA done runs before this returns; with an
 * external CA once the CA answered, on the loop (carevoke.h), or never if
 * the station stops first (arg_free(arg) then, arg_free may be NULL). The
 * caller publishes the CRL. Errors are logged. */
void station_revoke_cert(struct station *s, const char *actor, const struct store_issuance_rev *iss,
    const char *reason, const char *remark, cert_revoked_fn done, void *arg,
    void (*arg_free)(void *));

#endif
