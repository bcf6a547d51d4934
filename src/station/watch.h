/* `watch.subscribe`: control connections that get a snapshot of the floor
 * pushed to them whenever something it shows changes (watch.c). */
#ifndef UKEY_WATCH_H
#define UKEY_WATCH_H

#include <stdint.h>

struct station;

/* At most one frame per subscriber this often: changes in between are
 * coalesced into the next frame. */
#define WATCH_COALESCE_MS 50

/* A control client's subscription; all zero when it has none. */
struct watch_sub {
	int on;			/* subscribed: frames are pushed, no other request served */
	int dirty;		/* something changed since its last frame */
	int64_t sent_ms;	/* when its last frame was queued (monotonic ms) */
};

/* Marks every subscriber as owing a frame. Cheap; call it wherever a bay,
 * a job, the queue or the event stream changes. Loop context. */
void watch_notify(struct station *s);

/* Queues a snapshot frame for each subscriber that owes one, has written
 * everything queued before and got its last frame WATCH_COALESCE_MS ago or
 * more. Never blocks: a subscriber that does not read keeps its one
 * unwritten frame and is closed after station.client_timeout like any
 * client. Loop context, once a turn after the clients are reaped. */
void watch_flush(struct station *s);

/* The poll timeout (ms) for the loop: dflt, or less when a coalesced frame
 * falls due sooner. */
int watch_poll_timeout(struct station *s, int dflt);

#endif
