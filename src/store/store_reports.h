/* What the floor reports read from the station's database (production,
 * service times, reconciliation; docs/reports.md): typed rows, no SQL
 * outside this module. Read-only; each function runs one query, on any
 * connection to the store (the reports' threads open their own, read-only:
 * db_open_readonly). */
#ifndef UKEY_STORE_REPORTS_H
#define UKEY_STORE_REPORTS_H

#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

/* A window of local calendar days: since and until "YYYY-MM-DD" (inclusive;
 * NULL for open), the days taken in the zone utc_offset_min minutes east
 * of UTC. Borrowed. */
struct store_report_window {
	const char *since, *until;
	int utc_offset_min;
};

/* A job that ended (issued, failed or aborted) on a day of the window.
 * day is the local day it ended; seconds the time from its start to its
 * end (issued jobs); station_id its issuance's (NULL when not issued);
 * blame and kind from the audit record of its end ("token", "unit",
 * "other", "interrupted"; "<step>:<error>"), NULL when not recorded.
 * Strings owned: store_report_jobs_free. */
struct store_report_job {
	int64_t id, seconds;
	char *state, *operator_name, *station_id, *day, *cert_kind, *step, *error, *blame, *kind;
};

/* The jobs that ended within w, by id. *out owned (NULL when none).
 * store_report_jobs_each hands them to fn one at a time instead (fn may
 * take a job's strings, leaving NULL): fn returns 0 to go on, or an error,
 * which ends the walk and is returned. */
int store_report_jobs(struct db *db, const struct store_report_window *w,
    struct store_report_job **out, size_t *n);
int store_report_jobs_each(struct db *db, const struct store_report_window *w,
    int (*fn)(struct store_report_job *j, void *arg), void *arg);
void store_report_jobs_free(struct store_report_job *a, size_t n);

/* A paid order with its units counted by what became of them and its
 * issuances: units all of them, cancelled, pending (held, queued or in
 * production), issued the issuance records; last_issued the latest
 * issuance's time (NULL when none). Strings owned. */
struct store_report_order {
	int64_t id, total_fen, refund_due, units, cancelled, pending, issued;
	char *portal_ref, *org_name, *state, *reviewed_at, *paid_at, *cancelled_at, *last_issued;
};

/* The orders paid on a day of w (every paid order for an open window), by
 * id. *out owned (NULL when none). store_report_orders_each hands them to
 * fn one at a time instead (fn may take an order's strings, leaving NULL):
 * fn returns 0 to go on, or an error, which ends the walk and is returned. */
int store_report_orders(struct db *db, const struct store_report_window *w,
    struct store_report_order **out, size_t *n);
int store_report_orders_each(struct db *db, const struct store_report_window *w,
    int (*fn)(struct store_report_order *o, void *arg), void *arg);
void store_report_orders_free(struct store_report_order *a, size_t n);

/* A certificate serial the station knows: from an issuance record
 * (issuance_id > 0) or a certificate received from the CA without one
 * (issuance_id 0; status received, refused or revoked, note why, job_state
 * the state of the job that received it). Strings owned. */
struct store_report_cert {
	int64_t issuance_id, order_id, job_id;
	char *serial, *status, *note, *job_state, *portal_ref;
};

/* Every issuance record and every received certificate without one, handed
 * to fn one at a time (borrowed for the call), the serial in upper case, in
 * serial order: compared byte by byte, as strcmp does, on both backends. fn
 * returns 0 to go on, or an error, which ends the walk and is returned. */
int store_report_certs_each(struct db *db,
    int (*fn)(const struct store_report_cert *c, void *arg), void *arg);

#endif
