/* libFuzzer harness for the control socket's request path: the input is the
 * byte stream a client sends. It goes through the incremental framer as the
 * daemon reads it (in chunks, through a non-blocking pipe), through the
 * blocking frame reader, and each complete frame through request_parse();
 * the whole input is also parsed as one request's text. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/frame.h"
#include "common/request.h"

/* Small enough that the fuzzer meets the over-the-limit path often. */
#define FUZZ_FRAME_MAX 2048
/* Fits a pipe's buffer, so that whole inputs can be written before reading. */
#define FUZZ_INPUT_MAX 60000

#define check(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_request: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

static void
parse_one(const char *text, size_t len)
{
	struct parsed_request pr;
	char msg[1024];
	int rc = request_parse(text, len, &pr, msg, sizeof(msg));

	if (rc == 0) {
		check(pr.root != NULL && pr.cmd != NULL && pr.args != NULL);
		check(strlen(pr.cmd) >= 1 && strlen(pr.cmd) <= REQUEST_CMD_MAX);
		check(json_object_is_type(pr.args, json_type_object));
		check(json_object_object_get(pr.root, "args") == pr.args);
		/* what the daemon does with a request that passed: look at args */
		json_object_object_foreach(pr.args, key, val) {
			(void)key;
			(void)json_object_get_type(val);
		}
		request_free(&pr);
		check(pr.root == NULL);
	} else {
		check(rc == UKEY_ERR_PROTO || rc == UKEY_ERR_NOMEM);
		check(pr.root == NULL && msg[0] != '\0');
	}
}

static size_t
header_len(const uint8_t *p)
{
	return (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
}

/* Checks one frame the readers returned against the input at *off. */
static void
check_frame(const uint8_t *data, size_t size, size_t *off, const char *msg, size_t len)
{
	check(*off + 4 + len <= size);
	check(header_len(data + *off) == len && len <= FUZZ_FRAME_MAX);
	check(memcmp(data + *off + 4, msg, len) == 0 && msg[len] == '\0');
	*off += 4 + len;
}

static int
make_pipe(int fds[2], int nonblock_read)
{
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -1;
	if (nonblock_read && fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	return 0;
}

static void
write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		check(w > 0);
		p += w;
		n -= (size_t)w;
	}
}

/* The daemon's way: framer_fill when readable, then every complete frame. */
static void
fuzz_framer(const uint8_t *data, size_t size)
{
	struct framer f;
	size_t sent = 0, off = 0, len;
	uint32_t lcg = (uint32_t)size * 2654435761u + 1;
	int fds[2], rc = 0, more;
	char *msg;

	if (make_pipe(fds, 1) != 0)
		return;
	framer_init(&f, FUZZ_FRAME_MAX);
	for (;;) {
		if (sent < size) {	/* the next chunk, of a size the client chose */
			size_t chunk;

			lcg = lcg * 1103515245u + 12345u;
			chunk = 1 + (lcg >> 16) % 700;
			if (chunk > size - sent)
				chunk = size - sent;
			write_all(fds[1], data + sent, chunk);
			sent += chunk;
		}
		if (sent == size && fds[1] >= 0) {	/* the client closes its side */
			close(fds[1]);
			fds[1] = -1;
		}
		rc = framer_fill(&f, fds[0]);
		while ((more = framer_next(&f, &msg, &len)) == 1) {
			check_frame(data, size, &off, msg, len);
			parse_one(msg, len);
			free(msg);
		}
		if (more < 0) {
			check(more == UKEY_ERR_PROTO && header_len(data + off) > FUZZ_FRAME_MAX);
			break;
		}
		if (rc == UKEY_ERR_PROTO) {
			/* refused only for a frame over the limit, once its header is in */
			check(off + 4 <= sent && header_len(data + off) > FUZZ_FRAME_MAX);
			break;
		}
		if (rc < 0) {
			check(rc == UKEY_ERR_IO && sent == size);	/* EOF after the last byte */
			/* what is left is a frame that never completed */
			check(size - off < 4 || header_len(data + off) > size - off - 4);
			break;
		}
	}
	if (fds[1] >= 0)
		close(fds[1]);
	close(fds[0]);
	framer_free(&f);
}

/* The blocking reader (ukeyctl's and the worker's side) must agree. */
static void
fuzz_frame_read(const uint8_t *data, size_t size)
{
	size_t off = 0, len;
	int fds[2], rc;
	char *msg;

	if (make_pipe(fds, 0) != 0)
		return;
	write_all(fds[1], data, size);
	close(fds[1]);
	while ((rc = frame_read(fds[0], &msg, &len, FUZZ_FRAME_MAX, 1000)) == 0) {
		check_frame(data, size, &off, msg, len);
		free(msg);
	}
	if (rc == UKEY_ERR_PROTO)
		check(off + 4 <= size && header_len(data + off) > FUZZ_FRAME_MAX);
	else
		check(rc == UKEY_ERR_IO);
	close(fds[0]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_INPUT_MAX)
		return 0;
	parse_one((const char *)data, size);
	fuzz_framer(data, size);
	fuzz_frame_read(data, size);
	return 0;
}
