/* Shared between the job's life cycle (job.c) and its steps (job_steps.c). */
#ifndef UKEY_JOB_STEPS_H
#define UKEY_JOB_STEPS_H

#include <stdint.h>

#include <json-c/json.h>

#include "station/ordermove.h"
#include "station/station.h"

/* Steps in order; the names are what the database and `ukeyctl jobs` show. */
enum step {
	STEP_CLAIMED, STEP_INIT_TOKEN, STEP_GENERATE_KEY, STEP_MAKE_CSR, STEP_CA_SUBMIT,
	STEP_CERT_CHECK, STEP_WRITE_CERT, STEP_READ_BACK, STEP_RECORD, STEP_ISSUED
};
extern const char *const job_step_names[];

static inline const char *
jstr(struct json_object *o, const char *key)
{
	return json_object_get_string(json_object_object_get(o, key));
}

static inline int64_t
jint(struct json_object *o, const char *key)
{
	return json_object_get_int64(json_object_object_get(o, key));
}

/* job_steps.detail of init_token "begin": the device the token was in, by
 * which a job whose token has no serial yet knows it again. */
#define JOB_DEVICE_NOTE "device: "

/* Test hook: kills ukeyd at <step>:<point> when UKEY_TEST_CRASH_AT names it. */
void job_test_crash_point(const char *step, const char *point);

/* Persists the step and phase ("begin", "done", "failed") with an audit record. */
int job_step_mark(struct station *s, int64_t job_id, enum step st, const char *phase,
    const char *detail);

/* The job row joined with its unit, item and order; *out owned. */
int job_load(struct station *s, int64_t job_id, struct json_object **out);

/* Decodes a hex column of a row; *out malloc'd. */
int job_blob_from_hex(struct json_object *row, const char *key, uint8_t **out, size_t *len);

/*
 * Whose failure a job's end is, which decides what happens to its unit and
 * its token (docs/jobs.md, "Failed jobs, held units, tokens put aside"):
 * JOB_INTERRUPTED: nobody's (the worker died, an operator abandoned the job):
 *   the unit is queued again where it stood;
 * JOB_TOKEN: the token's (a PKCS#11 device or module error, a key or request
 *   the token got wrong, a token that is not blank): the unit is queued
 *   again where it stood and counts no failure; the token is put aside;
 * JOB_UNIT: the unit's, and it will fail the same way on any token (its
 *   label or subject, the CA refusing its request): counted; the second
 *   failure of the same kind holds the unit;
 * JOB_OTHER: the station's or the CA's, maybe passing (the database, a CA
 *   reply refused by the checks): counted.
 * A counted failure puts the unit at the tail of the queue, or holds it at
 * UNIT_MAX_FAILURES failures of any kind.
 */
enum job_blame { JOB_INTERRUPTED, JOB_TOKEN, JOB_UNIT, JOB_OTHER };

#define UNIT_MAX_FAILURES 3

/* Ends a job not issued: revokes a received certificate and queues or holds
 * the unit as blame says; err (a UKEY_ERR_* code, 0 if none) and the job's
 * step make the failure's kind. */
void job_end_not_issued(struct station *s, int64_t job_id, const char *state, const char *why,
    const char *cert_status, enum job_blame blame, int err);

/* Ends the bay's job as failed with blame and err as above. The bay shows
 * failed with the reason, or, when the token is to blame, refused: the token
 * is put aside and given no other unit until it is taken out (or an admin
 * allows it again with bay.wipe). */
void job_fail(struct station *s, struct bay *b, enum job_blame blame, int err, const char *fmt,
    ...) __attribute__((format(printf, 5, 6)));

/* Records a certificate the CA issued for the job's request but the station
 * never stored (serial "" if none); see job_steps.c. */
int job_ca_recover(struct station *s, int64_t job_id, char *serial, size_t len);

/* Runs one step of the bay's job (sends the worker request or does the work). */
void job_step_run(struct station *s, struct bay *b, enum step st);

#endif
