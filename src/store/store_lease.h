/* Claiming units safely when several stations share one database: a unit
 * is taken with SELECT ... FOR UPDATE SKIP LOCKED and holds a lease (the
 * station, its job, an expiry on the database server's clock) that the
 * station renews while the job runs; a lapsed lease is recovered by the
 * rules of docs/multi-station.md. On SQLite (one station, one writer) the
 * take is the plain claim and leases are not kept. */
#ifndef UKEY_STORE_LEASE_H
#define UKEY_STORE_LEASE_H

#include <stdint.h>

#include "store/store.h"

/* What store_lease_recover did with one lapsed lease. */
struct store_lease_recovery {
	int64_t unit_id, job_id;	/* job_id 0: the lease named none */
	char station[64];		/* the station whose lease lapsed */
	int requeued;			/* 1: unit back in the queue, job aborted;
					 * 0: job suspended, lease pinned to station */
};

/* In the caller's transaction: takes unit_id for job_id (0: none yet,
 * store_lease_attach_job later) for station, if it is still queued and no
 * other transaction holds it. *taken is 1, or 0 when another station has it
 * or it left the queue (not an error). The lease runs lease_secs from the
 * server's now (PostgreSQL). */
int store_unit_take(struct store *st, int64_t unit_id, int64_t job_id, const char *station,
    int lease_secs, const char *now, int *taken);

/* The same for the first unit of a new order in queue order that no other
 * transaction holds, within the station's claim scope (store_set_claim_scope);
 * *unit_id 0 when there is none. */
int store_unit_take_next(struct store *st, int64_t job_id, const char *station, int lease_secs,
    const char *now, int64_t *unit_id);

/* Names the job of a unit taken without one (same transaction). */
int store_lease_attach_job(struct store *st, int64_t unit_id, int64_t job_id);

/* Extends the lease to lease_secs from now. UKEY_ERR_STATE when the lease is
 * no longer station's (it lapsed and another station recovered the unit):
 * the job must stop touching the unit. A pinned lease (recovered while its
 * token stays in station's bay) is live again. 0 on SQLite. */
int store_lease_renew(struct store *st, int64_t unit_id, const char *station, int lease_secs);

/* Drops station's lease as its job ends (issued, returned, requeued, held).
 * 0 on SQLite. */
int store_lease_release(struct store *st, int64_t unit_id, const char *station);

/* In a transaction of its own: takes one lapsed lease (FOR UPDATE SKIP
 * LOCKED, the oldest first) and applies the rules: a job that began no step
 * (nothing reached a token) is aborted and its unit goes back to the
 * queue; a job that began one is suspended and its lease pinned to its
 * station (lease_until NULL), since its token is in that station's bay and
 * the job's journal, in this database, lets only that token resume it.
 * *found 0 when no lease has lapsed (and always on SQLite). by_station is
 * recorded in the job's error text. */
int store_lease_recover(struct store *st, const char *by_station, const char *now,
    struct store_lease_recovery *out, int *found);

/* Drops the lease of job_id's unit as the job ends: station's own, or
 * the one naming job_id whoever holds it (a job abandoned at another
 * station than the one it ran at). 0 on SQLite. */
int store_lease_release_job(struct store *st, int64_t unit_id, int64_t job_id,
    const char *station);

/* Who holds a job, for abandoning it from any station. */
struct store_job_holder {
	char state[16];		/* the job's state: running, suspended, issued, ... */
	char station[64];	/* the lease's station; "" when no lease */
	char until[40];		/* the lease's expiry (server time, text); "" when pinned */
	int has_lease;		/* a lease names the job's unit for this job */
	int pinned;		/* lease_until NULL: recovered mid-job, its token there */
	int live;		/* the lease runs on (lease_until > now) */
};

/* Reads job_id's state and its unit's lease into h; with lock (inside a
 * transaction, PostgreSQL) the job row is locked FOR UPDATE so that the
 * answer holds to the commit. UKEY_ERR_NOTFOUND for no such job. On SQLite
 * there are no leases (has_lease 0). */
int store_job_holder(struct store *st, int64_t job_id, int lock, struct store_job_holder *h);

/* Leases held now: count of all, and of lapsed ones (for status, tests). */
int store_leases_count(struct store *st, int64_t *all, int64_t *lapsed);

#endif
