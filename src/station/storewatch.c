/* The store's connection as the daemon sees it: up, or down since a time
 * and retried with backoff (storewatch.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "station/storewatch.h"

int
storewatch_delay(int attempt)
{
	/* doubling from 1 s; past 16 s the cap: a restarted server is back
	 * within half a minute of its return */
	if (attempt < 0)
		attempt = 0;
	if (attempt >= 5)
		return STOREWATCH_MAX_DELAY_S;
	return 1 << attempt;
}

int
storewatch_mark_down(struct storewatch *w, const char *why, int64_t now_ms)
{
	time_t t = time(NULL);
	struct tm tm;

	if (w->down)
		return 0;
	w->down = 1;
	w->attempts = 0;
	w->retry_ms = now_ms + 1000L * storewatch_delay(0);
	gmtime_r(&t, &tm);
	strftime(w->since, sizeof(w->since), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(w->why, sizeof(w->why), "%s", why ? why : "the database does not answer");
	log_error("store down: %s; new jobs wait, reconnecting in %d s", w->why, storewatch_delay(0));
	return 1;
}

/* The test hook: the file UKEY_TEST_STORE_DOWN names exists. */
static int
test_down(void)
{
	const char *f = getenv("UKEY_TEST_STORE_DOWN");

	return f != NULL && *f != '\0' && access(f, F_OK) == 0;
}

/* One reconnection attempt, due now. */
static enum storewatch_event
try_reconnect(struct storewatch *w, struct store *st, int64_t now_ms)
{
	int rc = test_down() ? UKEY_ERR_UNAVAIL : store_reconnect(st);
	char why[256];

	if (rc == 0 && !store_connection_lost(st, why, sizeof(why))) {
		log_info("store up again after %d attempts (down since %s: %s)", w->attempts + 1,
		    w->since, w->why);
		memset(w, 0, sizeof(*w));
		return STOREWATCH_BACK;
	}
	w->attempts++;
	w->retry_ms = now_ms + 1000L * storewatch_delay(w->attempts);
	if (rc != 0 && rc != UKEY_ERR_UNAVAIL)	/* refused for another reason: say which */
		snprintf(w->why, sizeof(w->why), "reconnecting: %s", ukey_strerror(rc));
	log_warn("store still down (attempt %d): %s; next try in %d s", w->attempts, w->why,
	    storewatch_delay(w->attempts));
	return STOREWATCH_SAME;
}

enum storewatch_event
storewatch_tick(struct storewatch *w, struct store *st, int64_t now_ms)
{
	char why[256];

	if (!w->down) {
		if (test_down())
			snprintf(why, sizeof(why), "test hook UKEY_TEST_STORE_DOWN: %s",
			    getenv("UKEY_TEST_STORE_DOWN"));
		else if (!store_connection_lost(st, why, sizeof(why)))
			return STOREWATCH_SAME;
		storewatch_mark_down(w, why, now_ms);
		return STOREWATCH_LOST;
	}
	if (now_ms < w->retry_ms)
		return STOREWATCH_SAME;
	return try_reconnect(w, st, now_ms);
}

int
storewatch_retry_in(const struct storewatch *w, int64_t now_ms)
{
	if (!w->down || w->retry_ms <= now_ms)
		return 0;
	return (int)((w->retry_ms - now_ms + 999) / 1000);
}

void
storewatch_describe(const struct storewatch *w, int64_t now_ms, char *buf, size_t len)
{
	if (!w->down)
		snprintf(buf, len, "up");
	else
		snprintf(buf, len, "down since %s, retrying in %d s: %s", w->since,
		    storewatch_retry_in(w, now_ms), w->why);
}

struct json_object *
storewatch_json(const struct storewatch *w, int64_t now_ms)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "state", json_object_new_string(w->down ? "down" : "up"));
	if (!w->down)
		return o;
	json_object_object_add(o, "since", json_object_new_string(w->since));
	json_object_object_add(o, "retry_in_s", json_object_new_int(storewatch_retry_in(w, now_ms)));
	json_object_object_add(o, "attempts", json_object_new_int(w->attempts));
	json_object_object_add(o, "why", json_object_new_string(w->why));
	return o;
}
