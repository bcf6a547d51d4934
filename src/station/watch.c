/* `watch.subscribe` (ukeyctl watch): a snapshot of the floor (bays and their
 * jobs, the queue by state, the last detection events, the station's health)
 * pushed to subscribed control connections when it changes, coalesced. */
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "station/control.h"
#include "station/job_steps.h"
#include "store/store_jobs.h"
#include "station/station_impl.h"

/* The detection events a snapshot carries, newest last. */
#define WATCH_EVENTS 8

/* A job's steps as a bar shows them: claimed .. record (docs/jobs.md). */
#define WATCH_STEPS ((int)STEP_ISSUED)

static int64_t snapshot_seq;

void
watch_notify(struct station *s)
{
	int i;

	for (i = 0; i < s->n_clients; i++)
		if (s->clients[i].watch.on)
			s->clients[i].watch.dirty = 1;
}

static void
add_str(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, v != NULL && v[0] != '\0' ? json_object_new_string(v) : NULL);
}

static int
step_index(const char *name)
{
	int i;

	for (i = 0; name != NULL && i < WATCH_STEPS; i++)
		if (strcmp(job_step_names[i], name) == 0)
			return i;
	return -1;
}

/* The bay's job as the view shows it: order, holder, step. A job the
 * database cannot give is shown by its number alone. */
static void
bay_job_json(struct station *s, int64_t job_id, struct json_object *o)
{
	struct store_job job;
	int idx, done;

	json_object_object_add(o, "job", json_object_new_int64(job_id));
	if (store_job_load(s->st, job_id, &job) != 0) {
		store_job_clear(&job);
		return;
	}
	done = job.state != NULL && strcmp(job.state, "issued") == 0;
	add_str(o, "job_state", job.state);
	add_str(o, "portal_ref", job.src.portal_ref);
	add_str(o, "holder", job.src.item_name);
	add_str(o, "kind", job.src.kind);
	add_str(o, "step", job.step);
	idx = step_index(job.step);
	/* an issued job has gone through every step */
	if (done)
		idx = WATCH_STEPS - 1;
	json_object_object_add(o, "step_no", json_object_new_int(idx + 1));
	json_object_object_add(o, "done", json_object_new_boolean(done));
	store_job_clear(&job);
}

static struct json_object *
bay_json(struct station *s, const struct bay *b, int64_t now)
{
	struct json_object *o = json_object_new_object();
	int running = b->state == BAY_STARTING || b->state == BAY_PROBING ||
	    b->state == BAY_WORKING;
	int64_t job = b->job_id;

	json_object_object_add(o, "bay", json_object_new_int(b->index));
	add_str(o, "name", b->name);
	add_str(o, "state", bay_state_name(b->state));
	add_str(o, "reason", b->reason);
	add_str(o, "profile", b->profile ? b->profile->name : NULL);
	add_str(o, "model", b->token ? jstr(b->token, "model") : NULL);
	add_str(o, "token_serial", b->token_serial);
	json_object_object_add(o, "steps", json_object_new_int(WATCH_STEPS));
	/* a finished job stays on the bay's line until the token is taken out */
	if (job == 0 && (b->state == BAY_DONE || b->state == BAY_FAILED))
		job = b->last_job_id;
	if (job != 0)
		bay_job_json(s, job, o);
	json_object_object_add(o, "running", json_object_new_boolean(running));
	if (running && b->started_ms > 0)
		json_object_object_add(o, "elapsed_ms", json_object_new_int64(now - b->started_ms));
	else if (b->state == BAY_DONE && b->last_job_seconds > 0)
		json_object_object_add(o, "elapsed_ms",
		    json_object_new_int64((int64_t)(b->last_job_seconds * 1000.0)));
	/* the PIN waits to be shown (bay.take_pin) once the token is issued */
	json_object_object_add(o, "pin_waiting", json_object_new_boolean(b->user_pin.p != NULL &&
	    b->job_id == 0 && b->state == BAY_DONE));
	json_object_object_add(o, "ca_waiting", json_object_new_boolean(b->retry_at_ms != 0));
	return o;
}

/* The units of orders waiting for or in production, counted by state up to
 * QUEUE_GLANCE_MAX each (<state>_more when there are more); the database's
 * health is whether it could say. */
static int
queue_json(struct station *s, struct json_object **out)
{
	static const char *const states[] = { "queued", "held", "in_production" };
	size_t i;
	int rc;

	*out = json_object_new_object();
	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if ((rc = station_queue_glance(s, states[i], NULL, states[i], *out)) != 0)
			return rc;
	return 0;
}

static struct json_object *
events_json(const struct station *s)
{
	struct json_object *a = json_object_new_array(), *o;
	int64_t seq = s->next_event_seq > WATCH_EVENTS ? s->next_event_seq - WATCH_EVENTS : 0;

	for (; seq < s->next_event_seq; seq++) {
		const struct station_event *e = &s->events[seq % EVENT_RING];

		if ((o = detect_event_json(&e->ev)) == NULL)
			continue;
		json_object_object_add(o, "seq", json_object_new_int64(e->seq));
		json_object_object_add(o, "time", json_object_new_int64(e->wall));
		json_object_array_add(a, o);
	}
	return a;
}

/* CA reachable: as the jobs last found it (a job waiting to ask a CA that
 * was down says it is not); database: whether the queue could be read. */
static struct json_object *
health_json(struct station *s, int db_rc)
{
	struct json_object *h = json_object_new_object(), *ca = json_object_new_object();
	struct json_object *db = json_object_new_object();
	int i, waiting = 0;

	for (i = 0; i < s->n_bays; i++)
		waiting += s->bays[i].retry_at_ms != 0;
	add_str(ca, "kind", ca_kind(s->ca));
	json_object_object_add(ca, "reachable", json_object_new_boolean(waiting == 0));
	json_object_object_add(ca, "waiting_bays", json_object_new_int(waiting));
	json_object_object_add(db, "ok", json_object_new_boolean(db_rc == 0));
	if (db_rc != 0)
		add_str(db, "error", ukey_strerror(db_rc));
	json_object_object_add(h, "ca", ca);
	json_object_object_add(h, "database", db);
	json_object_object_add(h, "sources", detect_status_json(s));
	return h;
}

/* The whole view as one JSON object (owned). */
static struct json_object *
snapshot(struct station *s)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array(), *q;
	int64_t now = now_ms();
	int i, db_rc;

	json_object_object_add(o, "seq", json_object_new_int64(++snapshot_seq));
	add_str(o, "station", s->cfg.station_id);
	json_object_object_add(o, "time", json_object_new_int64((int64_t)time(NULL)));
	for (i = 0; i < s->n_bays; i++)
		json_object_array_add(a, bay_json(s, &s->bays[i], now));
	json_object_object_add(o, "bays", a);
	db_rc = queue_json(s, &q);
	json_object_object_add(o, "queue", q);
	json_object_object_add(o, "events", events_json(s));
	json_object_object_add(o, "health", health_json(s, db_rc));
	return o;
}

int
cmd_watch_subscribe(struct request *r, struct json_object **result)
{
	struct client *c = r->c;

	*result = snapshot(r->s);
	/* the reply to this request is the first frame */
	c->watch.on = 1;
	c->watch.dirty = 0;
	c->watch.sent_ms = now_ms();
	log_info("control client %s (pid %d) watches the floor", c->user, (int)c->pid);
	return 0;
}

static int
owes_frame(const struct client *c, int64_t now)
{
	return c->watch.on && c->watch.dirty && !c->dead && !control_wants_write(c) &&
	    now - c->watch.sent_ms >= WATCH_COALESCE_MS;
}

void
watch_flush(struct station *s)
{
	struct json_object *frame = NULL;
	int64_t now = now_ms();
	const char *txt = NULL;
	size_t len = 0;
	int i, rc;

	for (i = 0; i < s->n_clients; i++) {
		struct client *c = &s->clients[i];

		if (!owes_frame(c, now))
			continue;
		if (frame == NULL) {
			/* one snapshot for every subscriber due this turn */
			frame = json_object_new_object();
			json_object_object_add(frame, "v",
			    json_object_new_int(STATION_PROTOCOL_VERSION));
			json_object_object_add(frame, "watch", snapshot(s));
			txt = json_object_to_json_string_length(frame, JSON_C_TO_STRING_PLAIN, &len);
		}
		c->watch.dirty = 0;
		c->watch.sent_ms = now;
		if ((rc = control_push(c, txt, len)) != 0) {
			log_warn("watch frame to control client %s (pid %d): %s", c->user,
			    (int)c->pid, ukey_strerror(rc));
			c->dead = 1;
		}
	}
	json_object_put(frame);
}

int
watch_poll_timeout(struct station *s, int dflt)
{
	int64_t now = now_ms(), wait;
	int i;

	for (i = 0; i < s->n_clients; i++) {
		const struct client *c = &s->clients[i];

		if (!c->watch.on || !c->watch.dirty || c->dead || control_wants_write(c))
			continue;
		wait = c->watch.sent_ms + WATCH_COALESCE_MS - now;
		if (wait < 0)
			wait = 0;
		if (wait < dflt)
			dflt = (int)wait;
	}
	return dflt;
}
