/* The renewal job's own steps (job_renew.c): identify, login, discard_old,
 * and what the issuance's record step does differently for a renewal. */
#ifndef UKEY_STATION_JOB_RENEW_H
#define UKEY_STATION_JOB_RENEW_H

#include "station/jobrule.h"
#include "station/bay.h"
#include "store/store_jobs.h"

struct request;

/* 1 if job renews a returned token's certificate, 0 for an issuance. */
int job_is_renewal(const struct store_job *job);

/* Runs identify, login or discard_old of the bay's renewal. */
void job_renew_step_run(struct station *s, struct bay *b, enum step st);

/* Logs in with the PIN the bay holds and goes on at next; without one the
 * bay waits for bay.enter_pin (or bay.reset_pin). */
void job_renew_login(struct station *s, struct bay *b, enum step next);

/* Goes on with the suspended renewal job (loaded) at st on the token in b. */
void job_renew_resume(struct station *s, struct bay *b, const struct store_job *job,
    enum step st);

/* Inside the record's transaction: the renewed certificate superseded in
 * the record (revoked, reason superseded, linked to the new one), audited,
 * and the record step marked done. */
int job_renew_record_supersede(struct station *s, const struct store_job *job, const char *now);

/* After the record's commit: the CA told, then discard_old. */
void job_renew_recorded(struct station *s, struct bay *b, const struct store_job *job);

/* Whether the renewal's new certificate is recorded (its record step done). */
int job_renew_is_recorded(struct station *s, const struct store_job *job);

/* Called by job_fail() before the job ends: a renewal failing before its
 * record leaves the token as it came. While the holder's PIN is still in
 * memory, the worker removes the new key pair and any new certificate
 * (objects under the job's new CKA_ID, never the old one); the result is
 * audited as renewal.discard_new. Does nothing for an issuance, a recorded
 * renewal, or without a PIN or a worker (the new objects then stay, and
 * the log says so). */
void job_renew_discard_new(struct station *s, struct bay *b);

/* Ends a renewal whose new certificate is recorded as issued after all, with
 * why as a warning, where a failure would otherwise end it not issued.
 * UKEY_ERR_NOTFOUND when job is not such a renewal. */
int job_renew_end_recorded(struct station *s, const struct store_job *job, const char *why);

/* bay.enter_pin and bay.reset_pin (control commands). */
int cmd_bay_enter_pin(struct request *r, struct json_object **result);
int cmd_bay_reset_pin(struct request *r, struct json_object **result);

#endif
