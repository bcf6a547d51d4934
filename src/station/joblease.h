/* The daemon on a shared store (joblease.c): the leases of its running
 * jobs renewed and lapsed leases recovered from the loop's timer, and the
 * store watched (storewatch.h) so that the station waits for a lost
 * database instead of failing its jobs. On SQLite leases are not kept and
 * the store never goes away: all of it does nothing. Loop context. */
#ifndef UKEY_STATION_JOBLEASE_H
#define UKEY_STATION_JOBLEASE_H

#include <stddef.h>

#include <json-c/json.h>

#include "station/bay.h"
#include "station/station.h"

#define JOB_LEASE_SECS 60	/* a unit's lease runs this long from its last renewal */
#define JOB_LEASE_RENEW_S 15	/* and is renewed this often */

/* The loop's timer: watches the store, reconnecting with backoff while it
 * is down; when it comes back, the jobs that waited for it are suspended
 * in the record and resume on their tokens. While it answers, every
 * JOB_LEASE_RENEW_S renews the running jobs' leases and recovers lapsed
 * ones (store_lease_recover). */
void station_store_if_due(struct station *s);

/* 1 when the store is down, with why saying since when and why ("down since
 * T, retrying in N s: ..."); 0 when it answers. */
int station_store_down(struct station *s, char *why, size_t len);

/* After a store call failed: 1 when it failed because the connection is
 * lost (the store is marked down from now), else 0. */
int station_store_lost(struct station *s);

/* A store call of the job in b failed and the database is gone
 * (station_store_lost): the job can be neither continued nor ended in the
 * record, so it waits, as one whose token left does; returns 1 then, else 0.
 * When the store is back it is suspended in the record (job_store_back) and
 * resumes on its token. */
int job_wait_store(struct station *s, struct bay *b);

/* The store's state for `ukeyctl status` (storewatch_json), owned. */
struct json_object *station_store_json(struct station *s);

#endif
