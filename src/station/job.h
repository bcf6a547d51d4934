/* The job module's face to the rest of the daemon: starting, suspending,
 * resuming and ending the issuance job of a bay's token (job.c); its steps
 * are in job_steps.h. */
#ifndef UKEY_STATION_JOB_H
#define UKEY_STATION_JOB_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/x509.h>

#include "ca/certprof.h"
#include "common/secret.h"
#include "detect/profile.h"
#include "station/bay.h"

/* job.c: the issuance state machine, one job per token. */
void job_start_if_possible(struct station *s, struct bay *b);
void job_on_worker_lost(struct station *s, struct bay *b, const char *why);
/* The bay's token left mid-job: the job is suspended until it is back. */
void job_on_token_left(struct station *s, struct bay *b, const char *why);
/* The job that waited in b for the store (job_wait_store, joblease.h) is
 * suspended in the record now that the store is back; it resumes on its
 * token like one whose token left. */
void job_store_back(struct station *s, struct bay *b);
/* job_end.c: ends a suspended job not issued on an operator's word (who,
 * remark), from any station: aborted, a certificate the CA returned revoked,
 * the unit's lease dropped (also one pinned to a station that will not come
 * back) and the unit queued again, in one transaction, audited job.abandon.
 * UKEY_ERR_STATE with msg saying why when the job is not suspended, runs at
 * a station whose lease is live, or waits at a live station;
 * UKEY_ERR_NOTFOUND for no such job. */
int job_abandon(struct station *s, int64_t job_id, const char *who, const char *remark, char *msg,
    size_t msglen);
/* Whether `bay.wipe` can work on the token in b: 0 when the token is
 * initialised, its model can be initialised, this station holds its SO PIN
 * and no certificate was issued on it; else UKEY_ERR_STATE or
 * UKEY_ERR_NOTBLANK with why saying which. Changes nothing. */
int job_wipe_check(struct station *s, struct bay *b, char *why, size_t whylen);
int job_recover_all(struct station *s);
/* Takes the CA thread's answers and goes on with their jobs (job_ca.c):
 * called by the loop when the CA thread's pipe is readable, and once at
 * shutdown after the thread stopped (stopping: certificates are stored and
 * the jobs go on after the restart). */
void job_ca_answers(struct station *s, int stopping);
/* Records the certificate the CA thread holds before confirming it to the
 * CA, if any (arg: the station); cathread_stop() calls it while it waits. */
void job_ca_unconfirmed(void *arg);

struct store_job;
/* job_replace.c: after job_record has recorded the certificate of a
 * replacement unit (补办), revokes the certificate it replaces when the
 * record still has it live: at the CA (keyCompromise when its token was
 * marked lost, cessationOfOperation otherwise), then in the record with a
 * cert.revoke audit record naming the replacement; publishes a CRL. A
 * failure is logged and left to job_replace_resume. With an external CA
 * the revocations wait for the CA on the CA thread, one after the other,
 * and the record follows each answer (carevoke.h). Loop context. */
void job_replace_after_record(struct station *s, const struct store_job *job);
/* At start: the same for every replacement whose replaced certificate the
 * record still has live (a crash or a CA failure between the record and
 * the revocation). Returns 0 or the store's error; the revocations'
 * failures are logged. */
int job_replace_resume(struct station *s);
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

#endif
