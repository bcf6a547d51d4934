/* Whether the station's store answers: a lost PostgreSQL connection marks
 * the store down, and the loop's timer tries store_reconnect() again after
 * 1, 2, 4 ... 30 s until it is back (storewatch.c). No station state: the
 * daemon keeps one in struct station, the unit test its own. */
#ifndef UKEY_STATION_STOREWATCH_H
#define UKEY_STATION_STOREWATCH_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "store/store.h"

#define STOREWATCH_MAX_DELAY_S 30

struct storewatch {
	int down;		/* 1 while the store does not answer */
	char since[32];		/* when it went down (UTC, ISO 8601) */
	int64_t retry_ms;	/* monotonic ms of the next store_reconnect() */
	int attempts;		/* reconnections tried since it went down */
	char why[256];		/* libpq's word for it */
};

enum storewatch_event { STOREWATCH_SAME, STOREWATCH_LOST, STOREWATCH_BACK };

/* The delay before attempt n (0-based) to reconnect, in seconds: 1, 2, 4,
 * 8, 16, then 30 for every further one. */
int storewatch_delay(int attempt);

/* Marks the store down for why at now_ms (monotonic) unless it is down
 * already; the first reconnection is tried 1 s later. Returns 1 when it
 * went down now. */
int storewatch_mark_down(struct storewatch *w, const char *why, int64_t now_ms);

/* The loop's timer, at any pace: notices a lost connection
 * (store_connection_lost) and, while down, tries store_reconnect() when its
 * time has come, backing off after each failure. Says what changed. The
 * test hook UKEY_TEST_STORE_DOWN=<file>: while that file exists the store
 * counts as away (for integration tests on SQLite). Loop context. */
enum storewatch_event storewatch_tick(struct storewatch *w, struct store *st, int64_t now_ms);

/* Whole seconds until the next reconnection (0 when up or due). */
int storewatch_retry_in(const struct storewatch *w, int64_t now_ms);

/* "up", or "down since T, retrying in N s: why" into buf. */
void storewatch_describe(const struct storewatch *w, int64_t now_ms, char *buf, size_t len);

/* {"state": "up"} or {"state": "down", "since", "retry_in_s", "attempts",
 * "why"}, owned by the caller, for `ukeyctl status`. */
struct json_object *storewatch_json(const struct storewatch *w, int64_t now_ms);

#endif
