/* Jobs in the station's database: a job's row and its journal of steps
 * (job_steps), the tokens the station initialised, the certificates the CA
 * returned (received_certs) and the issuances recorded. Writes run inside
 * the caller's transaction unless a function says otherwise. */
#ifndef UKEY_STORE_JOBS_H
#define UKEY_STORE_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* A new job on a claimed unit (store_job_insert); borrowed strings, NULL
 * token_serial for a token that reports none. */
struct store_job_new {
	int64_t unit_id;
	const char *bay, *profile, *token_serial, *key_alg, *label, *operator_name;
	const char *kind;		/* "issue" (NULL) or "renew" */
	const char *renews_serial;	/* renew: the certificate replaced */
	const uint8_t *subject;
	size_t subject_len;
};

/* The last journal entry of a job. Strings owned; store_job_step_clear. */
struct store_job_step {
	char *step, *phase, *detail;
};

/* A job as a reference (id, step), for the jobs left running at start. */
struct store_job_ref {
	int64_t id;
	char *step;
};

/* A token the station knows: its row id, whether an SO PIN is stored,
 * and the serials of the certificates issued onto it (comma-separated,
 * NULL when none). Free with store_token_known_clear. */
struct store_token_known {
	int64_t id;
	int have_so;
	char *issued;
};

/* A token seen at initialisation (store_token_upsert); borrowed. */
struct store_token_seen {
	const char *profile, *serial, *model, *manufacturer, *label;
	const uint8_t *so_pin_enc;
	size_t so_pin_enc_len;
};

/* A received certificate the station no longer stands behind. Owned. */
struct store_received_cert {
	char *serial, *note;
	char *reason;		/* the RFC 5280 reason to give the CA */
};

/* One issuance record (store_issuance_insert); borrowed. */
struct store_issuance_new {
	int64_t order_id, item_id, unit_id, job_id;
	const char *cert_serial, *subject, *issuer, *not_before, *not_after, *key_alg;
	int64_t key_local, key_always_sensitive, key_never_extractable;
	const char *key_usage, *token_serial, *token_model, *token_profile, *token_uri;
	const char *org_uscc, *kind;
	const uint8_t *cert;
	size_t cert_len;
	const char *operator_name, *station_id, *started_at, *issued_at;
	/* the certificate this one replaces and how ("renewal" or
	 * "replacement"); both NULL for a new issuance (docs/lifecycle.md) */
	const char *replaces_serial, *replaces_how;
};

/* One issuance as listed (store_issuances_of_order). Owned. */
struct store_issuance {
	int64_t id, order_id, unit_id, job_id;
	char *cert_serial, *subject, *not_after, *token_serial, *token_profile, *kind;
	char *issued_at;
};

/* ---- jobs ---- */

/* The unit's item and order a job's subject is made from
 * (store_job_unit_source). Owned; store_job_source_clear. */
struct store_job_source {
	int64_t item_id, order_id, years;
	char *kind, *item_name, *cert_profile, *portal_ref, *account_uscc;
	uint8_t *doc_sealed;		/* the whole order document, sealed */
	size_t doc_sealed_len;
	char *order_type;		/* "new", "renewal" or "replacement" */
	char *replaces_cert;		/* a replacement: the certificate it replaces */
};

/* A job's row with its unit's item and order (store_job_load). Strings and
 * blobs owned (NULL where the column is NULL); store_job_clear. */
struct store_job {
	int64_t id, unit_id, token_id, resumed;
	char *bay, *profile, *token_serial, *step, *state, *key_id, *key_alg, *evidence;
	char *label, *request_key, *cert_serial, *error, *operator_name;
	char *started_at, *updated_at, *finished_at;
	char *kind, *renews_serial, *old_key_id;	/* "issue" | "renew"; renewal only */
	uint8_t *public_key, *user_pin_enc, *so_pin_enc, *subject, *csr, *cert;
	size_t public_key_len, user_pin_enc_len, so_pin_enc_len, subject_len, csr_len, cert_len;
	struct store_job_source src;
};

/* Loads job id with its unit's item and order into *out (zeroed first;
 * store_job_clear it on every return); UKEY_ERR_NOTFOUND when there is
 * none. */
int store_job_load(struct store *st, int64_t id, struct store_job *out);
void store_job_clear(struct store_job *j);

/* The unit's item and order a job's subject is made from, into *out
 * (zeroed first; store_job_source_clear it). UKEY_ERR_NOTFOUND when there
 * is no such unit. */
int store_job_unit_source(struct store *st, int64_t unit_id, struct store_job_source *out);
void store_job_source_clear(struct store_job_source *s);

/* Inserts a running job at step 'claimed'; *id its row id. */
int store_job_insert(struct store *st, const struct store_job_new *j, const char *now,
    int64_t *id);

/* A renewal job's old key pair and certificate are under CKA_ID old_key_id
 * (hex) on its token. */
int store_job_set_old_key(struct store *st, int64_t id, const char *old_key_id);

/* Stores the job's sealed SO and user PINs. */
int store_job_set_pins(struct store *st, int64_t id, const uint8_t *so, size_t so_len,
    const uint8_t *user, size_t user_len);

/* The job's step is `step` and the journal gets (step, phase, detail). */
int store_job_step_mark(struct store *st, int64_t id, const char *step, const char *phase,
    const char *detail, const char *now);

/* The job's last journal entry; UKEY_ERR_NOTFOUND when it has none. */
int store_job_last_step(struct store *st, int64_t id, struct store_job_step *out);
void store_job_step_clear(struct store_job_step *s);

/* The job ends in state (failed, aborted) with why; its sealed PINs go. */
int store_job_end(struct store *st, int64_t id, const char *state, const char *why,
    const char *now);

/* The job ends issued; its sealed PINs go. */
int store_job_issued(struct store *st, int64_t id, const char *now);

/* A running job suspended with why (a no-op unless running). */
int store_job_suspend(struct store *st, int64_t id, const char *why, const char *now);

/* A suspended job running again in bay (a no-op unless suspended). */
int store_job_resume(struct store *st, int64_t id, const char *bay, const char *now);

/* *yes is 1 when job id is suspended, else 0. */
int store_job_is_suspended(struct store *st, int64_t id, int *yes);

/* The suspended job to resume on a token: the newest for (profile,
 * serial); for a blank token the oldest without serial whose init_token
 * never began or began on device; for an initialised token without serial
 * the newest with label whose init_token began on device. On a shared
 * database (station_id not NULL) only jobs whose units no other station
 * holds. UKEY_ERR_NOTFOUND when none. */
int store_job_suspended_by_serial(struct store *st, const char *station_id, const char *profile,
    const char *serial, int64_t *id);
int store_job_suspended_blank(struct store *st, const char *station_id, const char *profile,
    const char *device, int64_t *id);
int store_job_suspended_by_label(struct store *st, const char *station_id, const char *profile,
    const char *label, const char *device, int64_t *id);

/* On a shared database, the newest suspended job for (profile, serial)
 * whose unit another station holds: its id and that station's id
 * (station, len). UKEY_ERR_NOTFOUND when none, and always on SQLite. */
int store_job_suspended_elsewhere(struct store *st, const char *station_id, const char *profile,
    const char *serial, int64_t *id, char *station, size_t len);

/* The jobs left running, in id order; on a shared (PostgreSQL) database with
 * station_id given, not those whose unit another station's lease holds.
 * Free with store_job_refs_free. */
int store_jobs_running(struct store *st, const char *station_id, struct store_job_ref **out,
    size_t *n);
void store_job_refs_free(struct store_job_ref *a, size_t n);

/* The job's token: the tokens row (profile, serial), its serial, and the
 * job's own sealed SO PIN dropped (the token's row holds it now). */
int store_job_set_token(struct store *st, int64_t id, const char *profile, const char *serial);
int store_job_set_key_id(struct store *st, int64_t id, const char *key_id);
int store_job_set_public_key(struct store *st, int64_t id, const uint8_t *der, size_t len,
    const char *evidence);
int store_job_set_csr(struct store *st, int64_t id, const uint8_t *der, size_t len);
/* A request sent to the CA or held by it (docs/ca.md, "Polling"): the
 * transaction's id and the CA's last nonce as the connector gave them
 * (opaque bytes; no nonce: sent, not answered yet), the seconds the CA
 * asked to wait, since when the job waits (since it was sent, until the CA
 * first answers) and how often it polled. */
#define STORE_CA_TXN_MAX 64
struct store_ca_txn {
	uint8_t tid[STORE_CA_TXN_MAX], nonce[STORE_CA_TXN_MAX];
	size_t tid_len, nonce_len;
	int check_after;
	char waiting_since[32];
	int64_t polls;
};

/* Stores (or replaces, counting a poll) the CA transaction job id waits on;
 * UKEY_ERR_INVAL for an empty or oversized id. */
int store_job_ca_txn_set(struct store *st, int64_t id, const struct store_ca_txn *t,
    const char *now);
/* The transaction job id waits on, UKEY_ERR_NOTFOUND when none. */
int store_job_ca_txn_get(struct store *st, int64_t id, struct store_ca_txn *out);
/* The job waits on no CA transaction any more (a no-op when it did not). */
int store_job_ca_txn_clear(struct store *st, int64_t id);

int store_job_set_cert(struct store *st, int64_t id, const uint8_t *der, size_t len,
    const char *serial, const char *request_key);

/* ---- tokens ---- */

/* Inserts the token or updates its SO PIN, label and last_seen. */
int store_token_upsert(struct store *st, const struct store_token_seen *t, const char *now);

/* *n is 1 when (profile, serial) is a known token, else 0. */
int store_token_known_count(struct store *st, const char *profile, const char *serial,
    int64_t *n);

/* The known token (profile, serial); UKEY_ERR_NOTFOUND when unknown. */
int store_token_lookup(struct store *st, const char *profile, const char *serial,
    struct store_token_known *out);
void store_token_known_clear(struct store_token_known *t);

/* The token's sealed SO PIN, by (profile, serial) or by row id; *out owned
 * (free). UKEY_ERR_NOTFOUND when the token or its SO PIN is missing. */
int store_token_so_pin(struct store *st, const char *profile, const char *serial,
    uint8_t **out, size_t *len);
int store_token_so_pin_by_id(struct store *st, int64_t id, uint8_t **out, size_t *len);

/* ---- received certificates ---- */

/* Records a certificate the CA returned for job (status 'received'). */
int store_received_cert_add(struct store *st, const char *serial, int64_t job_id,
    int64_t unit_id, const uint8_t *der, size_t len, const char *now);

/* The job that received serial; UKEY_ERR_NOTFOUND when none. */
int store_received_cert_job(struct store *st, const char *serial, int64_t *job_id);

/* A certificate still 'received' gets status (revoked, refused) and note. */
int store_received_cert_close(struct store *st, const char *serial, const char *status,
    const char *note, const char *now);

/* The certificate is issued (whatever it stood at). */
int store_received_cert_issued(struct store *st, const char *serial, const char *now);

/* The certificates to be revoked at the CA again: those received for jobs
 * that ended not issued (revoked or refused; cessationOfOperation) and
 * those renewals superseded (superseded), which the record marks before the
 * CA hears of them. */
int store_received_certs_unwanted(struct store *st, struct store_received_cert **out,
    size_t *n);
void store_received_certs_free(struct store_received_cert *a, size_t n);

/* ---- issuances ---- */

int store_issuance_insert(struct store *st, const struct store_issuance_new *r);

/* The order's issuances in id order. Free with store_issuances_free. */
int store_issuances_of_order(struct store *st, int64_t order_id, struct store_issuance **out,
    size_t *n);
void store_issuances_free(struct store_issuance *a, size_t n);

/* ---- the job list (store_joblist.c) ---- */

/* A line of the job list. Strings owned (NULL when NULL); free an array
 * with store_job_summaries_free. */
struct store_job_summary {
	int64_t id, unit_id, resumed;
	char *bay, *profile, *token_serial, *step, *state, *key_alg, *cert_serial, *error;
	char *operator_name, *started_at, *finished_at;
	char *ca_waiting_since;	/* the CA holds its request since then, else NULL */
};

/* The jobs in state (running, suspended, issued, failed, aborted; NULL for
 * every job) whose id is above after, by id, at most limit of them (1 or
 * more; INT64_MAX for all): read from the index, so a page costs its rows,
 * not the jobs before it. *out owned (NULL when none). */
int store_jobs_list(struct store *st, const char *state, int64_t after, int64_t limit,
    struct store_job_summary **out, size_t *n);
void store_job_summaries_free(struct store_job_summary *a, size_t n);

#endif
