/* Message framing shared by the control socket and the worker channel:
 * a 4-byte big-endian length, then that many bytes of UTF-8 JSON. */
#ifndef UKEY_FRAME_H
#define UKEY_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define FRAME_MAX_CONTROL (4u * 1024 * 1024)	/* ukeyctl <-> ukeyd */
#define FRAME_MAX_WORKER (256u * 1024)		/* ukeyd <-> ukey-worker */

/* Writes one frame, retrying on EINTR and short writes (blocking fd).
 * Returns 0 or UKEY_ERR_IO / UKEY_ERR_PROTO (payload larger than max). */
int frame_write(int fd, const void *buf, size_t len, size_t max);

/* Serialises obj (borrowed) compactly and writes it as one frame. */
int frame_write_json(int fd, struct json_object *obj, size_t max);

/* Reads one frame from a blocking fd; *out is malloc'd and NUL-terminated,
 * the caller frees it (wiping it first if it may hold a secret).
 * timeout_ms < 0 waits forever. Returns 0, UKEY_ERR_IO (EOF or error),
 * UKEY_ERR_TIMEOUT or UKEY_ERR_PROTO (length over max). */
int frame_read(int fd, char **out, size_t *len, size_t max, int timeout_ms);

/* Parses len bytes (need not be NUL-terminated) as one JSON object in
 * json-c's strict mode (RFC 8259: no comments, single quotes, trailing
 * commas, ...) with nothing after it. Returns the object (owned) or NULL. */
struct json_object *frame_parse_json(const char *text, size_t len);

/* Reads one frame and parses it as a JSON object (frame_parse_json); *out is owned by the caller
 * (json_object_put). Returns as frame_read, or UKEY_ERR_PROTO for bad JSON. */
int frame_read_json(int fd, struct json_object **out, size_t max, int timeout_ms);

/* Incremental reader for non-blocking fds in an event loop. */
struct framer {
	uint8_t *buf;
	size_t len, cap, max;
};

void framer_init(struct framer *f, size_t max);
void framer_free(struct framer *f);	/* wipes the buffer */

/* Reads what is available from fd. Returns 1 if data arrived, 0 on EAGAIN,
 * UKEY_ERR_IO on EOF or error, UKEY_ERR_PROTO when a frame is over max. */
int framer_fill(struct framer *f, int fd);

/* Takes the next complete frame out of the buffer: 1 and *out (malloc'd,
 * NUL-terminated) if one is complete, 0 if not yet. */
int framer_next(struct framer *f, char **out, size_t *len);

#endif
