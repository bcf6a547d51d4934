/* Shared between the job's life cycle (job.c) and its steps (job_steps.c). */
#ifndef UKEY_JOB_STEPS_H
#define UKEY_JOB_STEPS_H

#include <stdint.h>

#include <json-c/json.h>

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

/* Ends a job not issued: revokes a received certificate, queues the unit again. */
void job_end_not_issued(struct station *s, int64_t job_id, const char *state, const char *why,
    const char *cert_status);

/* Ends the bay's job as failed and marks the bay failed with the reason. */
void job_fail(struct station *s, struct bay *b, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records a certificate the CA issued for the job's request but the station
 * never stored (serial "" if none); see job_steps.c. */
int job_ca_recover(struct station *s, int64_t job_id, char *serial, size_t len);

/* Runs one step of the bay's job (sends the worker request or does the work). */
void job_step_run(struct station *s, struct bay *b, enum step st);

#endif
