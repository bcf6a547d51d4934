/* Length-prefixed frames over stream sockets, blocking and incremental. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/frame.h"
#include "common/jsontext.h"
#include "common/secret.h"

static int
write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			if (poll(&pfd, 1, 5000) <= 0)
				return UKEY_ERR_IO;
			continue;
		}
		if (n <= 0)
			return UKEY_ERR_IO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
frame_write(int fd, const void *buf, size_t len, size_t max)
{
	uint8_t hdr[4];
	int rc;

	if (len > max)
		return UKEY_ERR_PROTO;
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
	if ((rc = write_all(fd, hdr, sizeof(hdr))) != 0)
		return rc;
	return write_all(fd, buf, len);
}

int
frame_write_json(int fd, struct json_object *obj, size_t max)
{
	size_t len;
	const char *s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, &len);

	return frame_write(fd, s, len, max);
}

static int
read_all(int fd, uint8_t *p, size_t len, const struct timespec *deadline)
{
	while (len > 0) {
		ssize_t n;

		if (deadline != NULL) {
			struct timespec now;
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			long ms;
			int r;

			clock_gettime(CLOCK_MONOTONIC, &now);
			ms = (deadline->tv_sec - now.tv_sec) * 1000 +
			    (deadline->tv_nsec - now.tv_nsec) / 1000000;
			if (ms <= 0)
				return UKEY_ERR_TIMEOUT;
			r = poll(&pfd, 1, (int)ms);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return UKEY_ERR_IO;
			if (r == 0)
				return UKEY_ERR_TIMEOUT;
		}
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return UKEY_ERR_IO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
frame_read(int fd, char **out, size_t *len, size_t max, int timeout_ms)
{
	struct timespec deadline, *dl = NULL;
	uint8_t hdr[4];
	size_t n;
	char *buf;
	int rc;

	*out = NULL;
	*len = 0;
	if (timeout_ms >= 0) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		dl = &deadline;
	}
	if ((rc = read_all(fd, hdr, sizeof(hdr), dl)) != 0)
		return rc;
	n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	if (n > max)
		return UKEY_ERR_PROTO;
	if ((buf = malloc(n + 1)) == NULL)
		return UKEY_ERR_NOMEM;
	if ((rc = read_all(fd, (uint8_t *)buf, n, dl)) != 0) {
		secure_wipe(buf, n);	/* part of a message that may hold a PIN */
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

struct json_object *
frame_parse_json(const char *text, size_t len)
{
	struct json_tokener *tok;
	struct json_object *obj = NULL;

	if (len > INT_MAX || (tok = json_tokener_new()) == NULL)
		return NULL;
	/* RFC 8259 only: no comments, single quotes or trailing commas; a
	 * protocol message is written by a program, never by hand */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	if (obj != NULL && (json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(obj, json_type_object) ||
	    jsontext_check(text, len, NULL, 0) != 0)) {
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

int
frame_read_json(int fd, struct json_object **out, size_t max, int timeout_ms)
{
	char *buf;
	size_t len;
	int rc;

	*out = NULL;
	if ((rc = frame_read(fd, &buf, &len, max, timeout_ms)) != 0)
		return rc;
	if ((*out = frame_parse_json(buf, len)) == NULL)
		rc = UKEY_ERR_PROTO;
	secure_wipe(buf, len);
	free(buf);
	return rc;
}

void
framer_init(struct framer *f, size_t max)
{
	memset(f, 0, sizeof(*f));
	f->max = max;
}

void
framer_free(struct framer *f)
{
	if (f->buf != NULL) {
		secure_wipe(f->buf, f->cap);
		free(f->buf);
	}
	memset(f, 0, sizeof(*f));
}

int
framer_fill(struct framer *f, int fd)
{
	int got = 0;

	for (;;) {
		ssize_t n;

		if (f->cap - f->len < 4096) {
			size_t ncap = f->cap ? f->cap * 2 : 8192;
			uint8_t *nb;

			if (ncap > f->max + 8192)
				ncap = f->max + 8192;
			if (ncap <= f->len)
				return UKEY_ERR_PROTO;
			if ((nb = realloc(f->buf, ncap)) == NULL)
				return UKEY_ERR_NOMEM;
			f->buf = nb;
			f->cap = ncap;
		}
		n = read(fd, f->buf + f->len, f->cap - f->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return got;
		if (n <= 0)
			return UKEY_ERR_IO;
		f->len += (size_t)n;
		got = 1;
		if (f->len >= 4) {
			size_t want = (size_t)f->buf[0] << 24 | (size_t)f->buf[1] << 16 |
			    (size_t)f->buf[2] << 8 | f->buf[3];

			if (want > f->max)
				return UKEY_ERR_PROTO;
			if (f->len >= want + 4)
				return got;
		}
	}
}

int
framer_next(struct framer *f, char **out, size_t *len)
{
	size_t want;
	char *msg;

	*out = NULL;
	*len = 0;
	if (f->len < 4)
		return 0;
	want = (size_t)f->buf[0] << 24 | (size_t)f->buf[1] << 16 | (size_t)f->buf[2] << 8 | f->buf[3];
	if (want > f->max)
		return UKEY_ERR_PROTO;
	if (f->len < want + 4)
		return 0;
	if ((msg = malloc(want + 1)) == NULL)
		return UKEY_ERR_NOMEM;
	memcpy(msg, f->buf + 4, want);
	msg[want] = '\0';
	secure_wipe(f->buf, want + 4);
	memmove(f->buf, f->buf + 4 + want, f->len - want - 4);
	f->len -= want + 4;
	*out = msg;
	*len = want;
	return 1;
}
