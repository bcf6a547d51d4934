/* Shared between the job's life cycle (job.c), its steps on the token
 * (job_steps.c), its steps in the daemon (job_ca.c) and the unit's identity
 * (job_subject.c). */
#ifndef UKEY_JOB_STEPS_H
#define UKEY_JOB_STEPS_H

#include <stdint.h>

#include <json-c/json.h>
#include <openssl/x509.h>

#include "station/jobrule.h"
#include "station/ordermove.h"
#include "station/bay.h"
#include "common/jsontext.h"
#include "station/job.h"
#include "station/station.h"
#include "store/store_jobs.h"

/* job_steps.detail of init_token "begin": the device the token was in, by
 * which a job whose token has no serial yet knows it again. */
#define JOB_DEVICE_NOTE "device: "

/* Test hook: kills ukeyd at <step>:<point> when UKEY_TEST_CRASH_AT names it. */
void job_test_crash_point(const char *step, const char *point);

/* Persists the step and phase ("begin", "done", "failed") with an audit
 * record, committing the journal's transaction: with the marks and writes
 * already in it (a step's done before the next step's begin), one commit. */
int job_step_mark(struct station *s, int64_t job_id, enum step st, const char *phase,
    const char *detail);

/* The same inside the caller's own transaction, for a mark recorded with
 * other writes; the caller commits (and then calls job_test_crash_point). */
int job_step_mark_in(struct station *s, int64_t job_id, enum step st, const char *phase,
    const char *detail);

/*
 * The journal's transaction (job_journal.c; docs/jobs.md, "One commit per
 * step boundary"): a step's results and its done mark, and the next step's
 * begin, in one commit. job_journal_open begins it (0 when open already);
 * job_journal_mark records a mark in it (opening it if needed) without
 * committing, and rolls the whole transaction back if the mark cannot be
 * written; job_journal_commit commits it (rolled back if that fails) and
 * then reaches the crash points of its marks in order (job_journal_point
 * adds one for a mark written otherwise); 0 when none is open. Committed
 * before the worker or the CA is asked anything, and before any other
 * transaction begins (job_fail, a job's end or suspension commit it first).
 */
int job_journal_open(struct station *s);
int job_journal_is_open(void);
int job_journal_mark(struct station *s, int64_t job_id, enum step st, const char *phase,
    const char *detail);
int job_journal_commit(struct station *s);
/* The event loop's guard: commits a journal a step left open, whatever the
 * test hook UKEY_TEST_JOURNAL_OPEN_AT holds back (job_journal.c). */
int job_journal_commit_guard(struct station *s);
/* The step's time in the bay of job_id (bay.list step_ms): "begin" starts
 * it, "done" ends it; any other phase forgets it. Called by every mark;
 * record's done, written with the issuance, is told directly. */
void job_step_timed(struct station *s, int64_t job_id, enum step st, const char *phase);
/* job_journal_open for a transaction that ends one step and begins next:
 * one whose commit does not wait for the disk (store_begin_lazy) when
 * jobrule_begin_may_wait(next) allows it. */
int job_journal_open_for(struct station *s, enum step next);
void job_journal_rollback(struct station *s);
void job_journal_point(enum step st, const char *phase);

/* The job row with its unit's item and order; store_job_clear *out. */
int job_load(struct station *s, int64_t job_id, struct store_job *out);

/* Ends a job not issued: revokes a received certificate and queues or holds
 * the unit as blame says (jobrule_unit_fate); err (a UKEY_ERR_* code, 0 if
 * none) and the job's step make the failure's kind. */
void job_end_not_issued(struct station *s, int64_t job_id, const char *state, const char *why,
    const char *cert_status, enum job_blame blame, int err);

/* The same with a hook: in_tx (if not NULL) runs inside the transaction
 * that records the end, before anything is written; its non-zero return
 * rolls the end back and is returned (job_abandon: the job is checked again
 * under its row lock and the operator's word audited). With a hook the
 * certificate is revoked at the CA after the commit, so never for a job the
 * check kept going. 0 when recorded. */
struct job_end_how {
	const char *state, *why, *cert_status;
	enum job_blame blame;
	int err;
	int (*in_tx)(struct station *s, const struct store_job *job, void *arg);
	void *arg;
};
int job_end_not_issued_how(struct station *s, int64_t job_id, const struct job_end_how *how);

/* Ends the bay's job as failed with blame and err as above. The bay shows
 * failed with the reason, or, when the token is to blame, refused: the token
 * is put aside and given no other unit until it is taken out (or an admin
 * allows it again with bay.wipe). */
void job_fail(struct station *s, struct bay *b, enum job_blame blame, int err, const char *fmt,
    ...) __attribute__((format(printf, 5, 6)));

/* A worker request of step st failed with rc: a token that left suspends
 * the job, anything else ends it failed, blamed by jobrule_worker_blame. */
void job_worker_failed(struct station *s, struct bay *b, enum step st, int rc,
    struct json_object *reply);

/* Runs one step of the bay's job (sends the worker request or does the work). */
void job_step_run(struct station *s, struct bay *b, enum step st);

/* ---- job_ca.c: the steps the daemon does itself ---- */

/* Records a certificate the CA issued for the job's request but the station
 * never stored (serial "" if none); see job_ca.c. */
int job_ca_recover(struct station *s, int64_t job_id, char *serial, size_t len);

/* Revokes a certificate the station received and will not use (reason
 * cessationOfOperation): at once with the embedded CA, through the CA
 * thread with an external one; a failure is logged, and the next start
 * revokes every certificate marked revoked here again. */
void job_ca_revoke(struct station *s, const char *serial);

struct ca_txn;

/* Shared by job_ca.c (the requests) and job_caanswer.c (the answers). */
/* Stores a certificate the CA returned for the job, in one transaction:
 * the received_certs row, the job's cert columns, its CA transaction gone.
 * UKEY_ERR_EXISTS (nothing written) when that serial was received before. */
int job_ca_record_received(struct station *s, int64_t job_id, int64_t unit_id,
    const char *serial, const unsigned char *der, size_t len, const char *rkey);
/* Stores the certificate for the bay's job (unless recorded before its
 * certConf) and marks ca_submit done; 1 when the job was failed here (a
 * serial another job received), else 0 or an error. */
int job_ca_store_answer(struct station *s, struct bay *b, const struct store_job *job,
    X509 *cert, const char *rkey);
/* The CA is down: ca_submit again after 2, 4, 8, 16, then every 30 s. */
void job_ca_retry_later(struct station *s, struct bay *b);
/* The connector's transaction in the store's form. */
void job_ca_txn_to_store(struct store_ca_txn *st, const struct ca_txn *t);

/* ca_submit, cert_check and record of the bay's job; each goes on to the
 * next step or ends the job. Loop context. */
void job_ca_submit(struct station *s, struct bay *b);
void job_cert_check(struct station *s, struct bay *b);
void job_record(struct station *s, struct bay *b, struct json_object *evidence);

/* The most days a renewal under profile prof carries over: the profile's
 * renewal_carry_over_days with the embedded CA, 0 with an external CA. */
struct certprof;
int job_carry_cap(struct station *s, const struct certprof *prof);

/* The bay's token description's field key, "" when it has none; borrowed. */
const char *job_token_text(const struct bay *b, const char *key);

/* ---- job_subject.c: a unit's identity from its order's document ---- */

/* The typed view of one unit's subject data: from the order (uscc: the
 * account's USCC, portal_ref), its handler (province, city, county), the
 * organisation's name (the organisation section's, else the account's) and
 * the unit's own section (kind; name, id_number, phone, email). Strings
 * owned, NULL when the document has none; job_identity_clear wipes them. */
struct job_identity {
	char *province, *city, *county, *org_name, *uscc, *portal_ref, *kind;
	char *name, *id_number, *phone, *email;
};

/* Fills *out from the whole order document doc (borrowed) for a unit of
 * kind; 0 or UKEY_ERR_NOMEM (*out cleared). */
int job_identity_from_doc(struct json_object *doc, const char *kind, const char *uscc,
    const char *portal_ref, struct job_identity *out);

/* Opens the sealed document of src and fills *out from it; orderdoc's and
 * job_identity_from_doc's codes. */
int job_identity_open(struct station *s, const struct store_job_source *src,
    struct job_identity *out);
void job_identity_clear(struct job_identity *id);

/* job_unit_identity() from the typed view. */
int job_identity_subject(struct station *s, const struct job_identity *id,
    const char *cert_profile, size_t label_max, const struct certprof **pp, X509_NAME **name,
    char **label, char *err, size_t errlen);

/* Builds the subject and label for a unit before any token is touched, the
 * label fitted to the token model fw. *subject_der (OPENSSL_free) and *label
 * (free) owned; err says what is wrong with the unit. */
int job_unit_subject(struct station *s, int64_t unit_id, const struct fw_profile *fw,
    const struct certprof **pp, uint8_t **subject_der, size_t *subject_len, char **label,
    int *years, char *err, size_t errlen);

#endif
