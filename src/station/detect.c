/* The daemon's side of detection: starts the configured sources, polls them
 * in the main loop, keeps the last EVENT_RING events for `ukeyctl events`,
 * and turns "token arrived / token left" events into bay calls. A bay is
 * named by the source's stable identity (USB port path, reader name) and is
 * created the first time a token shows up there. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "station/control.h"
#include "station/station.h"
#include "station/station_impl.h"

static const struct {
	unsigned bit;
	const struct detect_source_ops *ops;
} source_table[MAX_SOURCES] = {
	{ SRC_SIM, &detect_source_sim },
	{ SRC_LIBUSB, &detect_source_libusb },
	{ SRC_UDEV, &detect_source_udev },
	{ SRC_PCSC, &detect_source_pcsc },
};

void
station_event_add(struct station *s, const struct detect_event *ev)
{
	struct station_event *e = &s->events[s->next_event_seq % EVENT_RING];

	memset(e, 0, sizeof(*e));
	e->seq = s->next_event_seq++;
	e->t_ms = now_ms();
	e->wall = (int64_t)time(NULL);
	e->ev = *ev;
	watch_notify(s);
}

struct bay *
bay_by_name(struct station *s, const char *name, int create, const char *source)
{
	struct bay *b;
	int i;

	for (i = 0; i < s->n_bays; i++)
		if (strcmp(s->bays[i].name, name) == 0)
			return &s->bays[i];
	if (!create || s->n_bays >= MAX_BAYS)
		return NULL;
	b = &s->bays[s->n_bays];
	memset(b, 0, sizeof(*b));
	b->index = ++s->n_bays;
	snprintf(b->name, sizeof(b->name), "%s", name);
	snprintf(b->source, sizeof(b->source), "%s", source);
	b->state = BAY_EMPTY;
	b->worker_fd = -1;
	b->arrival_to_job_ms = -1;
	log_info("bay %d is %s (%s)", b->index, b->name, source);
	return b;
}

static void
on_token_arrived(struct station *s, const struct detect_event *ev, int64_t t_ms)
{
	struct arrival a = {
		.source = ev->source, .device = ev->device,
		.profile = ev->profile ? ev->profile->name : NULL,
		.reader = ev->reader[0] ? ev->reader : NULL,
		.usb_serial = ev->usb_serial[0] ? ev->usb_serial : NULL,
		.softhsm_conf = ev->softhsm_conf[0] ? ev->softhsm_conf : NULL,
		.module = ev->module[0] ? ev->module : NULL,
		.detected_ms = t_ms,
	};
	struct bay *b = bay_by_name(s, ev->bay, 1, ev->source);
	struct json_object *d;

	if (b == NULL) {
		log_error("%s: token at %s ignored: all %d bays are in use", ev->source, ev->bay,
		    MAX_BAYS);
		return;
	}
	if (b->state != BAY_EMPTY) {
		/* the same token seen by a second source (libusb and udev together) */
		log_debug("bay %s: %s reports a token already present", b->name, ev->source);
		return;
	}
	if (ev->profile == NULL) {
		d = json_object_new_object();
		json_object_object_add(d, "device", json_object_new_string(ev->device));
		json_object_object_add(d, "source", json_object_new_string(ev->source));
		station_audit(s, "ukeyd", "bay.unknown_token", 0, 0, 0, NULL, b->name, d);
	}
	bay_token_arrived(s, b, &a);
}

static void
on_event(void *ctx, const struct detect_event *ev)
{
	struct station *s = ctx;
	int64_t t = now_ms();
	struct bay *b;

	station_event_add(s, ev);
	switch (ev->kind) {
	case DETECT_TOKEN_ARRIVED:
		log_info("%s: token arrived at %s: %s, profile %s", ev->source, ev->bay, ev->device,
		    ev->profile ? ev->profile->name : "none");
		on_token_arrived(s, ev, t);
		break;
	case DETECT_TOKEN_LEFT:
		log_info("%s: token left %s", ev->source, ev->bay);
		if ((b = bay_by_name(s, ev->bay, 0, NULL)) != NULL &&
		    strcmp(b->source, ev->source) == 0)
			bay_token_left(s, b);
		break;
	case DETECT_READER_ADDED:
	case DETECT_READER_REMOVED:
		log_info("%s: %s %s", ev->source, detect_kind_name(ev->kind), ev->reader);
		break;
	case DETECT_SOURCE_DOWN:
		log_warn("%s: source down: %s", ev->source, ev->message);
		station_audit(s, "ukeyd", "detect.source_down", 0, 0, 0, NULL, NULL,
		    json_object_new_string(ev->message));
		break;
	case DETECT_SOURCE_UP:
		log_info("%s: source up%s%s", ev->source, ev->message[0] ? ": " : "", ev->message);
		break;
	}
}

void
detect_start_all(struct station *s)
{
	int i;

	s->n_sources = 0;
	for (i = 0; i < MAX_SOURCES; i++) {
		const struct detect_source_ops *ops = source_table[i].ops;
		int k = s->n_sources;
		char err[200] = "";

		if (!(s->cfg.sources & source_table[i].bit))
			continue;
		s->src_ops[k] = ops;
		s->n_sources++;
		if (ops->start(s->fw, on_event, s, &s->src[k], err, sizeof(err)) != 0) {
			struct detect_event ev = { .kind = DETECT_SOURCE_DOWN, .source = ops->name };

			/* the other sources keep running; this one stays off until restart */
			s->src[k] = NULL;
			snprintf(s->src_status[k], sizeof(s->src_status[k]), "cannot start: %s", err);
			snprintf(ev.message, sizeof(ev.message), "cannot start: %s", err);
			log_error("detection source %s cannot start: %s", ops->name, err);
			on_event(s, &ev);
			continue;
		}
		snprintf(s->src_status[k], sizeof(s->src_status[k]), "running");
		log_info("detection source %s started", ops->name);
	}
}

int
detect_pollfds(struct station *s, struct pollfd *pfd, int max, int *owner)
{
	int i, j, n = 0;

	for (i = 0; i < s->n_sources; i++) {
		int got;

		if (s->src[i] == NULL)
			continue;
		got = s->src_ops[i]->pollfds(s->src[i], pfd + n, max - n);
		for (j = 0; j < got; j++)
			owner[n + j] = i;
		n += got;
	}
	return n;
}

void
detect_dispatch(struct station *s, int which)
{
	int i;

	for (i = 0; i < s->n_sources; i++)
		if (s->src[i] != NULL && (which < 0 || which == i))
			s->src_ops[i]->dispatch(s->src[i]);
}

int
detect_sim_index(const struct station *s)
{
	int i;

	for (i = 0; i < s->n_sources; i++)
		if (s->src_ops[i] == &detect_source_sim && s->src[i] != NULL)
			return i;
	return -1;
}

int
detect_sim_announce(struct station *s, const char *bay, int arrived, const char *device,
    const struct fw_profile *profile, const char *conf)
{
	int k = detect_sim_index(s), rc;
	const char *module = s->cfg.sim_softhsm_module[0] ? s->cfg.sim_softhsm_module : NULL;

	if (k < 0)
		return UKEY_ERR_STATE;
	rc = arrived ? detect_sim_insert(s->src[k], bay, device, profile, conf, module)
		     : detect_sim_remove(s->src[k], bay, device, profile);
	if (rc == 0)
		detect_dispatch(s, k);
	return rc;
}

void
detect_stop_all(struct station *s)
{
	int i;

	for (i = 0; i < s->n_sources; i++) {
		if (s->src[i] != NULL)
			s->src_ops[i]->stop(s->src[i]);
		s->src[i] = NULL;
	}
	s->n_sources = 0;
}

struct json_object *
detect_status_json(struct station *s)
{
	struct json_object *a = json_object_new_array();
	int i;

	for (i = 0; i < s->n_sources; i++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "source", json_object_new_string(s->src_ops[i]->name));
		json_object_object_add(o, "status", json_object_new_string(s->src_status[i]));
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *
event_json(const struct station_event *e)
{
	struct json_object *o = detect_event_json(&e->ev);

	json_object_object_add(o, "seq", json_object_new_int64(e->seq));
	json_object_object_add(o, "time", json_object_new_int64(e->wall));
	json_object_object_add(o, "t_ms", json_object_new_int64(e->t_ms));
	return o;
}

int
cmd_events_list(struct request *r, struct json_object **result)
{
	struct station *s = r->s;
	struct json_object *a;
	int64_t since = 0, seq, first;
	int rc;

	if ((rc = arg_int(r, "since", 0, &since)) != 0 && rc != UKEY_ERR_NOTFOUND)
		return rc;
	first = s->next_event_seq > EVENT_RING ? s->next_event_seq - EVENT_RING : 0;
	if (since < first)
		since = first;
	*result = json_object_new_object();
	a = json_object_new_array();
	for (seq = since; seq < s->next_event_seq; seq++)
		json_object_array_add(a, event_json(&s->events[seq % EVENT_RING]));
	json_object_object_add(*result, "events", a);
	json_object_object_add(*result, "next", json_object_new_int64(s->next_event_seq));
	json_object_object_add(*result, "sources", detect_status_json(s));
	return 0;
}
