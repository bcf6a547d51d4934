/* ukeyd's shared state: configuration, database, CA, profiles, bays and
 * control clients, all owned by the single event loop in main.c. */
#ifndef UKEY_STATION_H
#define UKEY_STATION_H

#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "ca/ca.h"
#include "ca/certprof.h"
#include "common/config.h"
#include "common/frame.h"
#include "common/seal.h"
#include "orders/lifecycle.h"
#include "common/secret.h"
#include "detect/profile.h"
#include "detect/source.h"
#include "store/store.h"
#include "store/witness.h"

struct station;
struct bay;

#define STATION_PROTOCOL_VERSION 1
#define MAX_BAYS 64
/* Control client slots (docs/protocol.md, "Connections"): users without a
 * role share a few, so that they cannot take the slots of those with one;
 * no user holds more than USER_CLIENTS_MAX. */
#define MAX_CLIENTS 64
#define NOROLE_CLIENTS_MAX 8
#define USER_CLIENTS_MAX 16

enum bay_state {
	BAY_EMPTY,	/* no token */
	BAY_STARTING,	/* token arrived, worker starting */
	BAY_PROBING,	/* asking the token what it is */
	BAY_WORKING,	/* a job runs on the token */
	BAY_DONE,	/* job issued; the token can be taken out */
	BAY_IDLE,	/* token present, nothing queued for it */
	BAY_REFUSED,	/* token not usable (not blank, no profile, ...) */
	BAY_FAILED,	/* the job failed; see the reason */
	BAY_FAULTED	/* the worker crashed or hung */
};

/* What a detection source reports when a token arrives. */
struct arrival {
	const char *source;		/* "sim", "libusb", "udev", "pcsc" */
	const char *profile;		/* firmware profile name when the source knows it */
	const char *softhsm_conf;	/* SOFTHSM2_CONF for virtual tokens, else NULL */
	const char *module;		/* PKCS#11 module for the worker in place of the
					 * profile's (sim.softhsm_module), else NULL */
	const char *device;		/* human description (vid:pid, reader, virtual token id) */
	const char *reader;		/* PC/SC reader name, else NULL */
	const char *usb_serial;		/* USB iSerialNumber, else NULL */
	int64_t detected_ms;		/* monotonic ms when the source saw it (0: now) */
};

/* One entry of the detection event stream (`ukeyctl events`). */
struct station_event {
	int64_t seq;
	int64_t t_ms;			/* monotonic ms */
	int64_t wall;			/* Unix time */
	struct detect_event ev;		/* ev.profile points into s->fw, which lives as long as ukeyd */
};

#define EVENT_RING 256
#define MAX_SOURCES 3

typedef void (*worker_cb)(struct station *s, struct bay *b, int rc, struct json_object *reply);

/* The two people behind a command run under dual control (dualctl.c): the
 * audit records written while it runs carry both (station_audit). */
struct dual_actors {
	int64_t request;		/* dual_requests.id; 0 when none */
	char requested_by[64];
	char confirmed_by[64];
};

struct bay {
	int index;			/* 1-based */
	char name[DETECT_BAY_MAX];	/* "sim-1", "usb:1-2.3", "pcsc:<reader>" */
	char source[16];		/* the source that created the bay */
	char reader[128];		/* PC/SC reader of the token in the bay, "" if none */
	char usb_serial[128];		/* USB iSerialNumber of the token, "" if unknown */
	int64_t arrived_ms;		/* when the source saw the token (monotonic ms) */
	int64_t arrival_to_job_ms;	/* latency of the last job start, -1 if none */
	enum bay_state state;
	char reason[512];		/* why refused / failed / faulted */
	char device[128];
	char softhsm_conf[512];
	const struct fw_profile *profile;

	pid_t worker_pid;
	int worker_fd;
	struct framer in;
	char pending_op[32];		/* request in flight, "" when none */
	worker_cb pending_cb;
	int64_t deadline_ms;		/* monotonic ms when the request times out */

	struct json_object *token;	/* probe reply's token object, or NULL */
	char token_serial[64];
	int64_t job_id;			/* running job or 0 */
	int64_t last_job_id;
	int allow_wipe;
	struct secret user_pin;		/* held until shown once (bay.take_pin) */
	struct secret so_pin;		/* the SO PIN this job sets */
	struct secret wipe_so;		/* current SO PIN when re-initialising */
	int pin_unblocked;		/* user_pin is an unblock's new PIN, not a job's */
	struct secret unblock_pin;	/* new user PIN while token.unblock runs */
	char unblock_actor[64];		/* who asked for the unblock under way */
	char unblock_remark[512];	/* and why ("" if not said) */
	struct dual_actors unblock_dual;	/* its two people, when held for confirmation */
	char pin_holder[64];		/* an unblock's new PIN is shown to this user only ("" anyone) */
	int64_t started_ms;
	double last_job_seconds;
	char operator_name[64];	/* who put the token in */
	int64_t waiting_client;	/* client id awaiting a deferred reply, 0 if none */
	int64_t retry_at_ms;	/* CA retry time, 0 if none */
	int ca_attempts;	/* submissions the CA was unavailable for, this job */
};

struct client {
	int64_t id;
	int fd;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	char user[64];
	unsigned roles;		/* enum config_role bits, from [roles] at connect */
	struct framer in;
	int64_t since_ms;	/* connected or last replied to: the idle deadline's start */
	int awaiting;		/* a deferred reply is due: not idle */
	int eof;		/* the client closed its side */
	int closing;		/* close once out is written */
	uint8_t *out;		/* reply bytes not yet written (may hold a PIN: wiped) */
	size_t out_len, out_off;
	int64_t out_since_ms;	/* since when out has been waiting to be written */
	int dead;
};

struct station {
	char state_dir[512];
	char sock_path[600];
	struct station_config cfg;
	struct store *st;
	struct ca *ca;
	struct fw_profile_set *fw;
	struct certprof_set *cp;
	uint8_t master_key[SEAL_KEY_LEN];
	EVP_PKEY *audit_key;		/* signs audit checkpoints (keys/audit.key) */
	int audit_dirty;		/* records appended since the last checkpoint check */
	struct witness_sink *witness[CONFIG_MAX_WITNESSES];	/* [audit] witness, owned */
	size_t n_witness;
	int64_t next_head_ms;		/* when the head is witnessed next */
	int64_t next_crl_ms;		/* when the CRL is signed again (crl.c) */
	struct bay bays[MAX_BAYS];
	int n_bays;
	int listen_fd;
	struct client clients[MAX_CLIENTS];
	int n_clients;
	int stop;
	int64_t next_client_id;
	const struct dual_actors *dual;	/* set while a confirmed request's command runs */

	/* detection */
	const struct detect_source_ops *src_ops[MAX_SOURCES];
	struct detect_source *src[MAX_SOURCES];
	char src_status[MAX_SOURCES][256];	/* "running" or why not */
	int n_sources;
	struct station_event events[EVENT_RING];
	int64_t next_event_seq;
};

/* main.c */
int64_t now_ms(void);
int station_audit(struct station *s, const char *actor, const char *action, int64_t order_id,
    int64_t unit_id, int64_t job_id, const char *token, const char *bay, struct json_object *detail);
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
 * <ca dir>/crl.pem) and publishes a first CRL. Returns 0 or the CA's error. */
int station_ca_open(struct station *s);
/* Signs a new CRL (nextUpdate two crl_intervals on) and writes it to
 * crl_path atomically (mode 0644); the next one is due crl_interval later,
 * or in a minute after a failure. Returns 0 and *number (the CRL number;
 * number may be NULL), UKEY_ERR_UNSUPPORTED when the CA makes no CRLs, or
 * an error (logged). */
int station_crl_publish(struct station *s, int64_t *number);
/* Publishes the CRL when crl_interval has passed since the last. */
void station_crl_if_due(struct station *s);

struct store_issuance_rev;
/* cmd_cert.c: revokes one certificate the station issued, at the CA first
 * (one the CA has revoked already counts as done there), then in
 * station.db with its cert.revoke audit record, in one transaction; now
 * gets the time recorded. The caller publishes the CRL. Returns 0 or the
 * CA's or the store's error (logged). */
int station_revoke_cert(struct station *s, const char *actor, const struct store_issuance_rev *iss,
    const char *reason, const char *remark, char now[32]);

/* bay.c: token arrival/removal and the worker channel. Loop context only. */
int bay_token_arrived(struct station *s, struct bay *b, const struct arrival *a);
void bay_token_left(struct station *s, struct bay *b);
int bay_send(struct station *s, struct bay *b, const char *op, struct json_object *req,
    int timeout_ms, worker_cb cb);
void bay_on_readable(struct station *s, struct bay *b);
void bay_check_timers(struct station *s);
void bay_kick_idle(struct station *s);
/* The token in b holds the certificate that queued renewal unit unit_id of
 * order_id renews: says so on the bay, audits it, and leaves the token as it
 * is (renewal production is not part of this station yet). */
void bay_renewal_awaited(struct station *s, struct bay *b, int64_t unit_id, int64_t order_id);
const char *bay_state_name(enum bay_state st);
struct json_object *bay_to_json(struct station *s, const struct bay *b);
void bay_set_state(struct station *s, struct bay *b, enum bay_state st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void bay_shutdown_all(struct station *s);

/* job.c: the issuance state machine, one job per token. */
void job_start_if_possible(struct station *s, struct bay *b);
void job_on_worker_lost(struct station *s, struct bay *b, const char *why);
/* The bay's token left mid-job: the job is suspended until it is back. */
void job_on_token_left(struct station *s, struct bay *b, const char *why);
/* Ends a suspended job not issued on an operator's word; UKEY_ERR_STATE if
 * the job is not suspended. */
int job_abandon(struct station *s, int64_t job_id, const char *who, const char *remark);
/* Whether `bay.wipe` can work on the token in b: 0 when the token is
 * initialised, its model can be initialised, this station holds its SO PIN
 * and no certificate was issued on it; else UKEY_ERR_STATE or
 * UKEY_ERR_NOTBLANK with why saying which. Changes nothing. */
int job_wipe_check(struct station *s, struct bay *b, char *why, size_t whylen);
int job_recover_all(struct station *s);
/* A new user PIN by the profile's rules ([pin] user_pin_policy): random
 * digits of user_pin_length, or the profile's fixed initial PIN. The job's
 * initial PIN and an unblock's new PIN both come from here. */
int job_new_user_pin(const struct fw_profile *p, struct secret *pin);
/* Opens the sealed PIN in column key of row (hex, as store rows give it)
 * under aad into pin. UKEY_ERR_NOTFOUND when the column is NULL. */
int job_unseal_pin(struct station *s, struct json_object *row, const char *key, const char *aad,
    struct secret *pin);
/* Opens the sealed PIN blob (blen bytes) under aad into pin. */
int job_unseal_blob(struct station *s, const uint8_t *blob, size_t blen, const char *aad,
    struct secret *pin);
void job_retry(struct station *s, struct bay *b);
/* The token label limit an order's units are checked against before any
 * token is chosen: the smallest [label] max_bytes of the installed firmware
 * profiles that can initialise tokens and make p's key, at most 32. */
size_t job_label_max(struct station *s, const struct certprof *p);
/* The subject and token label of a unit of kind `kind` (organisation,
 * legal_rep, entrusted) of the order document doc (whole, not masked) under
 * certificate profile cert_profile; the label fitted to label_max bytes (0:
 * job_label_max()). Returns 0 with *name (X509_NAME_free) and *label (free),
 * and *pp (borrowed) when pp is not NULL; or UKEY_ERR_NOTFOUND (profile not
 * installed) / UKEY_ERR_INVAL with err naming the field and the rule
 * ("subject.CN: 71 characters, at most 64 (RFC 5280)"). No I/O. */
int job_unit_identity(struct station *s, struct json_object *doc, const char *kind,
    const char *cert_profile, const char *uscc, const char *portal_ref, size_t label_max,
    const struct certprof **pp, X509_NAME **name, char **label, char *err, size_t errlen);

/* detect.c: detection sources and the event stream. */
void detect_start_all(struct station *s);
int detect_pollfds(struct station *s, struct pollfd *pfd, int max, int *owner);
void detect_dispatch(struct station *s, int which);
void detect_stop_all(struct station *s);
void station_event_add(struct station *s, const struct detect_event *ev);
struct bay *bay_by_name(struct station *s, const char *name, int create, const char *source);
struct json_object *detect_status_json(struct station *s);

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

/* sim.c: the simulated bays with SoftHSM2 virtual tokens. */
int sim_plug(struct station *s, int bay_index, const char *preset, int64_t token_no,
    const char *profile, struct json_object **result);
int sim_unplug(struct station *s, int bay_index);

/* control.c: the Unix socket. */
int control_listen(struct station *s);
void control_accept(struct station *s);
void control_on_readable(struct station *s, struct client *c);
/* Writes what is queued for c without blocking; serves requests it held
 * back meanwhile. */
void control_on_writable(struct station *s, struct client *c);
/* 1 while c has reply bytes not yet written (poll it for POLLOUT, not POLLIN). */
int control_wants_write(const struct client *c);
/* Closes clients past their deadline (station.client_timeout): no complete
 * request for that long, or a reply not read for that long. Loop context. */
void control_check_timers(struct station *s);
void control_reap(struct station *s);
/* Closes every client and frees what they hold (at exit). */
void control_close_all(struct station *s);
/* Sends a reply to a client that was told its request is deferred. */
void control_reply_deferred(struct station *s, int64_t client_id, int rc, const char *msg,
    struct json_object *result);

#endif
