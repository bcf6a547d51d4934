/* The worker's operations (one per protocol op) and the helpers they share
 * for reading requests, writing replies and turning token objects into
 * OpenSSL keys. Everything here runs in ukey-worker only. */
#ifndef UKEY_WORKER_OPS_H
#define UKEY_WORKER_OPS_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "common/p11uri.h"
#include "common/secret.h"
#include "worker/p11.h"

#define WORKER_PROTOCOL_VERSION 1

/* An op handler reads its fields from req (borrowed), adds its results to rep
 * (borrowed, already {"v":1,"ok":true}) and returns 0, or a UKEY_ERR_* with
 * the failure recorded in p. */
typedef int (*op_fn)(struct p11 *p, struct json_object *req, struct json_object *rep);

int op_probe(struct p11 *p, struct json_object *req, struct json_object *rep);
int op_init_token(struct p11 *p, struct json_object *req, struct json_object *rep);
int op_generate_key(struct p11 *p, struct json_object *req, struct json_object *rep);
int op_make_csr(struct p11 *p, struct json_object *req, struct json_object *rep);
int op_write_cert(struct p11 *p, struct json_object *req, struct json_object *rep);
int op_read_back(struct p11 *p, struct json_object *req, struct json_object *rep);
int op_inspect(struct p11 *p, struct json_object *req, struct json_object *rep);
int op_unblock(struct p11 *p, struct json_object *req, struct json_object *rep);
int op_login(struct p11 *p, struct json_object *req, struct json_object *rep);
int op_discard(struct p11 *p, struct json_object *req, struct json_object *rep);

/* --- work after the reply (main.c) ---
 * What an op leaves to do once its reply is on its way: make_csr's CA
 * certificate, written while the daemon asks the CA for the holder's
 * (docs/worker-protocol.md, "make_csr"). fn runs with run 1 after the
 * reply was sent, or with run 0 only to free arg (the op failed, or the
 * daemon is gone). One at a time: a second replaces (and frees) the first.
 * Its PKCS#11 calls count in the next reply's p11_calls. */
typedef void (*after_reply_fn)(struct p11 *p, void *arg, int run);
void worker_after_reply(after_reply_fn fn, void *arg);
/* Runs (run 1) or drops (run 0) what was left; returns 1 when the daemon
 * went away meanwhile and the worker should stop. (after.c) */
int worker_after_run(struct p11 *p, int run);
/* The worker's SIGTERM handler (after.c has why). */
void worker_after_term(int sig);
/* Module calls reported so far (main.c's replies): those of the work after
 * a reply count in the next reply. */
extern unsigned long worker_calls_counted;

/* make_csr's optional "ca_cert" (hex DER) and "ca_label": when present, the
 * CA certificate is checked now and written to the token after the reply,
 * in the session the request used (pin). 0, or the failure recorded in p.
 * (certs.c) */
int ca_cert_ahead(struct p11 *p, struct json_object *req, const struct secret *pin);
/* Frees the certificates the worker keeps decoded between requests (certs.c). */
void certs_forget(void);

/* Destroys every object with CKA_ID id in session s (logged in as user, so
 * that private keys are seen); *count (when not NULL) gets how many. Returns
 * 0 or the failure recorded in p. (discard.c) */
int discard_objects(struct p11 *p, CK_SESSION_HANDLE s, const uint8_t *id, size_t idlen,
    size_t *count);

/* --- request fields (req.c) --- */

/* Borrows string field key of req (NULL when absent and !required). Missing or
 * not a string: UKEY_ERR_PROTO; longer than max bytes or holding a NUL:
 * UKEY_ERR_INVAL; both recorded in p, naming the field. */
int req_string(struct p11 *p, struct json_object *req, const char *key, int required, size_t max,
    const char **out);

/* Copies PIN field key into out and wipes the JSON copy. An absent optional
 * PIN leaves out empty. */
int req_pin(struct p11 *p, struct json_object *req, const char *key, int required,
    struct secret *out);

/* Decodes hex field key into a malloc'd buffer of at most max bytes; an empty
 * value is refused. The caller frees *out. */
int req_hex(struct p11 *p, struct json_object *req, const char *key, int required, size_t max,
    uint8_t **out, size_t *len);

/* What a key pair may be used for, as the daemon allows it from the
 * certificate profile's key usage (request field "usage"): each bit names a
 * private-key operation and its public-key counterpart. */
#define KEY_OP_SIGN 0x1u	/* CKA_SIGN; public CKA_VERIFY */
#define KEY_OP_DECRYPT 0x2u	/* CKA_DECRYPT; public CKA_ENCRYPT */
#define KEY_OP_UNWRAP 0x4u	/* CKA_UNWRAP; public CKA_WRAP */
#define KEY_OP_DERIVE 0x8u	/* CKA_DERIVE (ECDH); never on the public key */

/* Reads array field key of private-key operations ("sign", "decrypt",
 * "unwrap", "derive") into *ops. Missing (when required) or not an array of
 * strings: UKEY_ERR_PROTO; an unknown or repeated name: UKEY_ERR_INVAL.
 * *present says whether the field was there. */
int req_usage(struct p11 *p, struct json_object *req, const char *key, int required,
    unsigned *ops, int *present);

/* Wipes every string member whose name ends in "pin", whatever the op did. */
void req_wipe_pins(struct json_object *req);

/* --- reply fields (req.c) --- */

/* Adds key: lower-case hex of buf (JSON null when buf is NULL). */
int rep_hex(struct json_object *o, const char *key, const uint8_t *buf, size_t len);
/* Adds key: s (JSON null when s is NULL). */
int rep_string(struct json_object *o, const char *key, const char *s);
int rep_bool(struct json_object *o, const char *key, int b);
int rep_int(struct json_object *o, const char *key, int64_t v);
/* Adds key: obj, taking ownership of obj on every path. */
int rep_take(struct json_object *o, const char *key, struct json_object *obj);

/* --- token description (token.c) --- */

/* Builds the "token" object of probe/init_token from ti. */
int token_json(const CK_TOKEN_INFO *ti, struct json_object **out);

/* Builds the RFC 7512 URI of the token in ti ("pkcs11:model=...;..."), or
 * with obj not NULL of the object on it that obj's id, object and type name
 * (obj's token fields are ignored: they come from ti). Malloc'd, freed by the
 * caller; NULL when out of memory. */
char *token_uri(const CK_TOKEN_INFO *ti, const struct p11uri *obj);

/* --- keys on the token (pubkey.c) --- */

/* Builds an OpenSSL public key from the token's public key object pub
 * (RSA: modulus and exponent; EC: parameters and point). Owned by caller. */
int pubkey_from_object(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, EVP_PKEY **out);

/* Reads the key-protection evidence of private key priv into a new JSON
 * object {"local":..,"always_sensitive":..,"never_extractable":..,
 * "sensitive":..,"extractable":..,"token":..,"private":..}. *bad names the
 * first attribute that breaks the rule (the key was made on the token and can
 * never leave it), or is NULL when all hold. */
int evidence_read(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv,
    struct json_object **out, const char **bad);

/* Reads the usage attributes of the pair: CKA_SIGN, CKA_DECRYPT, CKA_UNWRAP,
 * CKA_DERIVE of priv and CKA_VERIFY, CKA_ENCRYPT, CKA_WRAP, CKA_DERIVE of pub
 * (pub may be CK_INVALID_HANDLE: not read). *out gets a new object
 * {"private":["sign",...],"public":["verify",...]} listing the attributes
 * that are true, plus "unreadable":["CKA_...",...] when some could not be
 * read. *bad names the first attribute that differs from what ops allows
 * (unreadable counts as differing), or is NULL. */
int usage_read(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub,
    unsigned ops, struct json_object **out, const char **bad);

#endif
