/* Detection inside the daemon (detect.c): the sources started from the
 * configuration, the ring of their events (`ukeyctl events`), and the
 * simulated bays' requests (sim.c). */
#ifndef UKEY_STATION_SOURCES_H
#define UKEY_STATION_SOURCES_H

#include <poll.h>
#include <stdint.h>

#include <json-c/json.h>

#include "detect/source.h"
#include "station/station.h"

/* One entry of the detection event stream (`ukeyctl events`). */
struct station_event {
	int64_t seq;
	int64_t t_ms;			/* monotonic ms */
	int64_t wall;			/* Unix time */
	struct detect_event ev;		/* ev.profile points into s->fw, which lives as long as ukeyd */
};

#define EVENT_RING 256
#define MAX_SOURCES 4

/* detect.c: detection sources and the event stream. */
void detect_start_all(struct station *s);
int detect_pollfds(struct station *s, struct pollfd *pfd, int max, int *owner);
void detect_dispatch(struct station *s, int which);
/* The index of the running simulated source in s->src, or -1. */
int detect_sim_index(const struct station *s);
/* Hands a virtual token's arrival in (arrived) or departure from the bay
 * named bay to the simulated source and dispatches it at once, so that the
 * bay has the token (or has let it go) when this returns. conf: the token's
 * SOFTHSM2_CONF (arrivals). Returns 0, UKEY_ERR_STATE when the simulated
 * source is not running, or detect_sim_insert()'s error. */
int detect_sim_announce(struct station *s, const char *bay, int arrived, const char *device,
    const struct fw_profile *profile, const char *conf);
void detect_stop_all(struct station *s);
void station_event_add(struct station *s, const struct detect_event *ev);
struct json_object *detect_status_json(struct station *s);

/* sim.c: the simulated bays with SoftHSM2 virtual tokens. */
/* Puts a virtual token (token_no > 0: that one again; else a new one of
 * preset) into simulated bay bay_index (0: the first empty one), plugged by
 * operator_name. */
int sim_plug(struct station *s, int bay_index, const char *preset, int64_t token_no,
    const char *profile, const char *operator_name, struct json_object **result);
int sim_unplug(struct station *s, int bay_index);

#endif
