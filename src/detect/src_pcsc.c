/* Detection source "pcsc": PC/SC readers and the cards in them, as pcscd sees
 * them. One thread owns the PC/SC context and blocks in SCardGetStatusChange;
 * it hands each event to the daemon's thread as one record through a pipe. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <winscard.h>

#include "common/err.h"
#include "common/log.h"
#include "common/secret.h"
#include "detect/profile.h"
#include "detect/source.h"

#define PNP_READER "\\\\?PnP?\\Notification"
#define DEFAULT_SOCKET "/run/pcscd/pcscd.comm"	/* libpcsclite's built-in default */
#define RETRY_MS 2000		/* between attempts to reach pcscd */
/* Longest single wait for a change. Changes and stop() wake the thread at
 * once; the bound only makes it take a fresh roll call of the readers now and
 * then, in case a reader came in between the roll call and the wait. */
#define WAIT_MS 2000
#define FIRST_SCAN_MS 3000	/* how long start() waits for the first look */
#define CANCEL_EVERY_MS 100	/* stop(): SCardCancel until the thread is out */
#define STOP_MAX_MS 5000	/* stop() leaves a thread stuck in libpcsclite behind */
#define MAX_READERS PCSCLITE_MAX_READERS_CONTEXTS
#define ATR_HEX (2 * MAX_ATR_SIZE + 1)

/* Events cross the pipe whole: a write of at most PIPE_BUF bytes is atomic. */
_Static_assert(sizeof(struct detect_event) <= PIPE_BUF, "detect_event must fit in PIPE_BUF");

struct reader {
	char name[MAX_READERNAME];
	DWORD state;		/* last dwEventState, without SCARD_STATE_CHANGED */
	int card;		/* a card in it has been reported (ARRIVED sent) */
	char atr[ATR_HEX];	/* ATR of that card */
	int listed;		/* roll call mark */
};

struct detect_source {
	/* daemon thread only */
	const struct fw_profile_set *fw;
	detect_emit_fn emit;
	void *emit_ctx;
	int pipe_rd;
	int thread_started;

	/* set before the thread starts, read-only afterwards */
	int pipe_wr;
	char sock[108];		/* where libpcsclite looks for pcscd, for messages */

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* CLOCK_MONOTONIC; any change of the flags below */
	int lock_init, cond_init;
	/* under lock */
	int stopping;		/* stop() asks the thread to end */
	int exited;		/* the thread has ended */
	int first_done;		/* the thread has had its first look */
	int orphaned;		/* stop() gave up waiting: the thread frees the source */
	int have_ctx;		/* hctx is established (stop() may cancel it) */
	SCARDCONTEXT hctx;

	/* the thread only */
	struct reader readers[MAX_READERS];
	size_t nreaders;
	int down_reported;	/* SOURCE_DOWN sent since the last SOURCE_UP */
};

/* Names of the PC/SC return codes the source meets; NULL for others. */
static const char *
rv_name(LONG rv)
{
	switch (rv) {
	case SCARD_S_SUCCESS: return "SCARD_S_SUCCESS";
	case SCARD_E_NO_SERVICE: return "SCARD_E_NO_SERVICE";
	case SCARD_E_SERVICE_STOPPED: return "SCARD_E_SERVICE_STOPPED";
	case SCARD_F_COMM_ERROR: return "SCARD_F_COMM_ERROR";
	case SCARD_F_INTERNAL_ERROR: return "SCARD_F_INTERNAL_ERROR";
	case SCARD_E_TIMEOUT: return "SCARD_E_TIMEOUT";
	case SCARD_E_CANCELLED: return "SCARD_E_CANCELLED";
	case SCARD_E_INVALID_HANDLE: return "SCARD_E_INVALID_HANDLE";
	case SCARD_E_INVALID_PARAMETER: return "SCARD_E_INVALID_PARAMETER";
	case SCARD_E_INVALID_VALUE: return "SCARD_E_INVALID_VALUE";
	case SCARD_E_UNKNOWN_READER: return "SCARD_E_UNKNOWN_READER";
	case SCARD_E_READER_UNAVAILABLE: return "SCARD_E_READER_UNAVAILABLE";
	case SCARD_E_NO_READERS_AVAILABLE: return "SCARD_E_NO_READERS_AVAILABLE";
	case SCARD_E_NO_MEMORY: return "SCARD_E_NO_MEMORY";
	case SCARD_E_INSUFFICIENT_BUFFER: return "SCARD_E_INSUFFICIENT_BUFFER";
	case SCARD_E_UNEXPECTED: return "SCARD_E_UNEXPECTED";
	case SCARD_E_NO_ACCESS: return "SCARD_E_NO_ACCESS";
	}
	return NULL;
}

/* rv's name, or its value in hex for codes without one. */
static const char *
rv_text(LONG rv, char *buf, size_t len)
{
	const char *name = rv_name(rv);

	if (name != NULL)
		return name;
	snprintf(buf, len, "0x%08lX", (unsigned long)rv & 0xFFFFFFFFUL);	/* PC/SC codes are 32-bit */
	return buf;
}

/* vsnprintf into a fixed field; a description cut short is acceptable. */
static void __attribute__((format(printf, 3, 4)))
textf(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(dst, len, fmt, ap);
	va_end(ap);
}

/* "pcsc:<reader>". A name too long for the field keeps its start and ends in
 * "~" and a hash of the whole name, so that the bay stays unique and stable. */
static void
reader_bay(char *dst, size_t len, const char *reader)
{
	static const char prefix[] = "pcsc:";
	size_t n = strlen(reader), keep;
	uint32_t h = 2166136261u;	/* FNV-1a */
	const char *p;

	if (sizeof(prefix) - 1 + n < len) {
		memcpy(dst, prefix, sizeof(prefix) - 1);
		memcpy(dst + sizeof(prefix) - 1, reader, n + 1);
		return;
	}
	for (p = reader; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	keep = len - (sizeof(prefix) - 1) - 10;	/* room for "~" + 8 hex digits + NUL */
	memcpy(dst, prefix, sizeof(prefix) - 1);
	memcpy(dst + sizeof(prefix) - 1, reader, keep);
	snprintf(dst + sizeof(prefix) - 1 + keep, 10, "~%08x", (unsigned)h);
}

static void
atr_hex(const unsigned char *atr, DWORD len, char out[ATR_HEX])
{
	if (len > MAX_ATR_SIZE)
		len = MAX_ATR_SIZE;
	(void)hex_write(out, ATR_HEX, atr, len, 1);	/* fits: ATR_HEX is 2 * MAX_ATR_SIZE + 1 */
}

static int
stop_requested(struct detect_source *s)
{
	int stopping;

	pthread_mutex_lock(&s->lock);
	stopping = s->stopping;
	pthread_mutex_unlock(&s->lock);
	return stopping;
}

/* Waits up to ms or until stop() is called; returns 1 when stopping. */
static int
wait_for_stop(struct detect_source *s, long ms)
{
	struct timespec until;
	int stopping;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	while (!s->stopping && pthread_cond_timedwait(&s->cond, &s->lock, &until) == 0)
		;
	stopping = s->stopping;
	pthread_mutex_unlock(&s->lock);
	return stopping;
}

static void
set_flag(struct detect_source *s, int *flag)
{
	pthread_mutex_lock(&s->lock);
	*flag = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Thread: hands one event to the daemon's thread. When the pipe is full (the
 * daemon is behind) it waits, watching for stop(). Returns 0, or -1 when the
 * source is stopping or the pipe failed. */
static int
send_event(struct detect_source *s, const struct detect_event *ev)
{
	struct pollfd pfd;
	ssize_t n;

	for (;;) {
		n = write(s->pipe_wr, ev, sizeof(*ev));
		if (n == (ssize_t)sizeof(*ev))
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (stop_requested(s))
				return -1;
			pfd.fd = s->pipe_wr;
			pfd.events = POLLOUT;
			(void)poll(&pfd, 1, CANCEL_EVERY_MS);
			continue;
		}
		log_error("write to the event pipe: errno %d", n < 0 ? errno : 0);
		return -1;
	}
}

static int
send_service(struct detect_source *s, enum detect_kind kind, const char *msg)
{
	struct detect_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.source = "pcsc";
	textf(ev.message, sizeof(ev.message), "%s", msg);
	return send_event(s, &ev);
}

static int
send_reader(struct detect_source *s, enum detect_kind kind, const struct reader *r)
{
	struct detect_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.source = "pcsc";
	reader_bay(ev.bay, sizeof(ev.bay), r->name);
	textf(ev.reader, sizeof(ev.reader), "%s", r->name);
	if (kind == DETECT_TOKEN_ARRIVED || kind == DETECT_TOKEN_LEFT) {
		textf(ev.atr, sizeof(ev.atr), "%s", r->atr);
		if (r->atr[0] != '\0')
			textf(ev.device, sizeof(ev.device), "reader '%s' ATR %s", r->name, r->atr);
		else
			textf(ev.device, sizeof(ev.device), "reader '%s' mute card (no ATR)",
			    r->name);
	} else
		textf(ev.device, sizeof(ev.device), "reader '%s'", r->name);
	return send_event(s, &ev);
}

/* Thread: the connection to pcscd is gone (or the source stops): every card
 * is reported gone, then every reader. */
static int
forget_readers(struct detect_source *s)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < s->nreaders && rc == 0; i++) {
		if (s->readers[i].card)
			rc = send_reader(s, DETECT_TOKEN_LEFT, &s->readers[i]);
		if (rc == 0)
			rc = send_reader(s, DETECT_READER_REMOVED, &s->readers[i]);
	}
	s->nreaders = 0;
	return rc;
}

/* Thread: asks pcscd for its readers (a roll call); adds the new ones
 * (READER_ADDED) and drops those no longer listed (TOKEN_LEFT if a card was
 * in it, then READER_REMOVED). Returns SCARD_S_SUCCESS, the code of a failed
 * SCardListReaders, or SCARD_F_INTERNAL_ERROR when an event could not be
 * passed on (the source is stopping). */
static LONG
roll_call(struct detect_source *s, SCARDCONTEXT hctx)
{
	char *list = NULL, buf[16];
	const char *p;
	DWORD len = SCARD_AUTOALLOCATE;
	LONG rv;
	size_t i, j;
	struct reader *r;

	rv = SCardListReaders(hctx, NULL, (LPSTR)&list, &len);
	if (rv == SCARD_E_NO_READERS_AVAILABLE) {
		list = NULL;
		rv = SCARD_S_SUCCESS;
	} else if (rv != SCARD_S_SUCCESS) {
		log_debug("SCardListReaders: %s", rv_text(rv, buf, sizeof(buf)));
		return rv;
	}
	for (i = 0; i < s->nreaders; i++)
		s->readers[i].listed = 0;
	for (p = list; p != NULL && *p != '\0'; p += strlen(p) + 1) {
		for (i = 0; i < s->nreaders && strcmp(s->readers[i].name, p) != 0; i++)
			;
		if (i < s->nreaders) {
			s->readers[i].listed = 1;
			continue;
		}
		if (s->nreaders == MAX_READERS || strlen(p) >= sizeof(r->name)) {
			log_warn("reader '%.*s' ignored: %s", (int)sizeof(r->name) - 1, p,
			    s->nreaders == MAX_READERS ? "too many readers" : "name too long");
			continue;
		}
		r = &s->readers[s->nreaders++];
		memset(r, 0, sizeof(*r));
		memcpy(r->name, p, strlen(p) + 1);
		r->state = SCARD_STATE_UNAWARE;
		r->listed = 1;
		log_info("reader '%s' added", r->name);
		if (send_reader(s, DETECT_READER_ADDED, r) != 0) {
			rv = SCARD_F_INTERNAL_ERROR;
			goto out;
		}
	}
	for (i = 0, j = 0; i < s->nreaders; i++) {
		r = &s->readers[i];
		if (!r->listed) {
			log_info("reader '%s' removed", r->name);
			if ((r->card && send_reader(s, DETECT_TOKEN_LEFT, r) != 0) ||
			    send_reader(s, DETECT_READER_REMOVED, r) != 0) {
				rv = SCARD_F_INTERNAL_ERROR;
				goto out;
			}
			continue;
		}
		if (j != i)
			s->readers[j] = *r;
		j++;
	}
	s->nreaders = j;
 out:
	if (list != NULL)
		(void)SCardFreeMemory(hctx, list);
	return rv;
}

/* Thread: one reader's new state from SCardGetStatusChange. A card seen
 * present with another ATR or another event count than before was swapped
 * between two looks: the old one left and a new one arrived. */
static int
reader_update(struct detect_source *s, struct reader *r, const SCARD_READERSTATE *st)
{
	DWORD ev = st->dwEventState;
	char atr[ATR_HEX];
	int present, swapped;

	present = (ev & SCARD_STATE_PRESENT) && !(ev & (SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE));
	atr_hex(st->rgbAtr, present ? st->cbAtr : 0, atr);
	swapped = r->card && present && (strcmp(atr, r->atr) != 0 ||
	    ((r->state >> 16) != 0 && (ev >> 16) != (r->state >> 16)));
	r->state = ev & ~(DWORD)SCARD_STATE_CHANGED;
	if (r->card && (!present || swapped)) {
		r->card = 0;
		log_info("reader '%s': card removed", r->name);
		if (send_reader(s, DETECT_TOKEN_LEFT, r) != 0)
			return -1;
	}
	if (present && !r->card) {
		r->card = 1;
		memcpy(r->atr, atr, sizeof(atr));
		log_info("reader '%s': card inserted, ATR %s", r->name, atr[0] ? atr : "none (mute)");
		if (send_reader(s, DETECT_TOKEN_ARRIVED, r) != 0)
			return -1;
	}
	return 0;
}

/* Thread: watches pcscd through hctx until the connection fails or stop() is
 * called. Returns the PC/SC code that ended the watch. */
static LONG
watch(struct detect_source *s, SCARDCONTEXT hctx)
{
	SCARD_READERSTATE st[MAX_READERS + 1];
	char buf[16];
	DWORD pnp_state = SCARD_STATE_UNAWARE;
	LONG rv;
	size_t i, n;

	for (;;) {
		if (stop_requested(s))
			return SCARD_E_CANCELLED;
		if ((rv = roll_call(s, hctx)) != SCARD_S_SUCCESS)
			return rv;
		memset(st, 0, sizeof(st));
		st[0].szReader = PNP_READER;
		/* pcsc-lite compares the reader count in the high word when it can */
		st[0].dwCurrentState = (pnp_state & ~(DWORD)0xFFFF0000 & ~(DWORD)SCARD_STATE_CHANGED) |
		    ((DWORD)s->nreaders << 16);
		for (i = 0; i < s->nreaders; i++) {
			st[i + 1].szReader = s->readers[i].name;
			st[i + 1].dwCurrentState = s->readers[i].state;
		}
		n = s->nreaders + 1;
		rv = SCardGetStatusChange(hctx, WAIT_MS, st, (DWORD)n);
		switch (rv) {
		case SCARD_S_SUCCESS:
			break;
		case SCARD_E_TIMEOUT:
		case SCARD_E_CANCELLED:
		case SCARD_E_UNKNOWN_READER:	/* a reader left before the wait: new roll call */
			set_flag(s, &s->first_done);
			continue;
		case SCARD_E_NO_READERS_AVAILABLE:
			/* older pcsc-lite without the PnP reader: look again later */
			set_flag(s, &s->first_done);
			if (wait_for_stop(s, WAIT_MS))
				return SCARD_E_CANCELLED;
			continue;
		default:
			log_debug("SCardGetStatusChange: %s", rv_text(rv, buf, sizeof(buf)));
			return rv;
		}
		pnp_state = st[0].dwEventState;
		for (i = 0; i < s->nreaders; i++) {
			if (!(st[i + 1].dwEventState & SCARD_STATE_CHANGED))
				continue;
			if (reader_update(s, &s->readers[i], &st[i + 1]) != 0)
				return SCARD_E_CANCELLED;
		}
		set_flag(s, &s->first_done);
	}
}

static void
report_down(struct detect_source *s, LONG rv, int lost)
{
	char msg[256], buf[16];
	const char *name = rv_text(rv, buf, sizeof(buf));

	if (s->down_reported)
		return;
	if (lost)
		snprintf(msg, sizeof(msg), "lost the connection to pcscd (%s)", name);
	else if (rv == SCARD_E_NO_SERVICE)
		snprintf(msg, sizeof(msg), "pcscd is not running (%s)", name);
	else
		snprintf(msg, sizeof(msg), "cannot connect to pcscd (%s)", name);
	log_warn("%s at %s; retrying every %d s", msg, s->sock, RETRY_MS / 1000);
	if (send_service(s, DETECT_SOURCE_DOWN, msg) == 0)
		s->down_reported = 1;
}

static void
source_free(struct detect_source *s)
{
	if (s == NULL)
		return;
	if (s->pipe_rd >= 0)
		close(s->pipe_rd);
	if (s->pipe_wr >= 0)
		close(s->pipe_wr);
	if (s->cond_init)
		pthread_cond_destroy(&s->cond);
	if (s->lock_init)
		pthread_mutex_destroy(&s->lock);
	free(s);
}

static void *
pcsc_thread(void *arg)
{
	struct detect_source *s = arg;
	SCARDCONTEXT hctx;
	char msg[256];
	LONG rv;
	int orphaned;

	while (!stop_requested(s)) {
		rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &hctx);
		if (rv != SCARD_S_SUCCESS) {
			report_down(s, rv, 0);
			set_flag(s, &s->first_done);
			(void)wait_for_stop(s, RETRY_MS);
			continue;
		}
		pthread_mutex_lock(&s->lock);
		s->hctx = hctx;
		s->have_ctx = !s->stopping;
		pthread_mutex_unlock(&s->lock);

		s->down_reported = 0;
		snprintf(msg, sizeof(msg), "connected to pcscd at %s", s->sock);
		log_info("%s", msg);
		if (send_service(s, DETECT_SOURCE_UP, msg) == 0)
			rv = watch(s, hctx);
		else
			rv = SCARD_E_CANCELLED;

		pthread_mutex_lock(&s->lock);
		s->have_ctx = 0;
		pthread_mutex_unlock(&s->lock);
		(void)SCardReleaseContext(hctx);

		if (stop_requested(s))
			break;
		/* every token and reader of the lost pcscd is gone, then the service */
		if (forget_readers(s) == 0)
			report_down(s, rv, 1);
		set_flag(s, &s->first_done);
		(void)wait_for_stop(s, RETRY_MS);
	}
	pthread_mutex_lock(&s->lock);
	s->exited = 1;
	orphaned = s->orphaned;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (orphaned)
		source_free(s);
	return NULL;
}

static int
start(const struct fw_profile_set *fw, detect_emit_fn emit, void *ctx, struct detect_source **out,
    char *err, size_t errlen)
{
	struct detect_source *s;
	pthread_condattr_t ca;
	struct timespec until;
	const char *sock;
	int fds[2], e, rc;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return UKEY_ERR_NOMEM;
	}
	s->fw = fw;
	s->emit = emit;
	s->emit_ctx = ctx;
	s->pipe_rd = s->pipe_wr = -1;
	/* libpcsclite itself reads PCSCLITE_CSOCK_NAME; the copy is for messages */
	sock = getenv("PCSCLITE_CSOCK_NAME");
	snprintf(s->sock, sizeof(s->sock), "%s", sock != NULL && *sock != '\0' ? sock : DEFAULT_SOCKET);

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
		snprintf(err, errlen, "pipe2: %s", strerror(errno));
		rc = UKEY_ERR_IO;
		goto out;
	}
	s->pipe_rd = fds[0];
	s->pipe_wr = fds[1];
	if ((e = pthread_mutex_init(&s->lock, NULL)) != 0) {
		snprintf(err, errlen, "pthread_mutex_init: %s", strerror(e));
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	s->lock_init = 1;
	if ((e = pthread_condattr_init(&ca)) != 0) {
		snprintf(err, errlen, "pthread_condattr_init: %s", strerror(e));
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if ((e = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) == 0)
		e = pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (e != 0) {
		snprintf(err, errlen, "pthread_cond_init: %s", strerror(e));
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	s->cond_init = 1;
	if ((e = pthread_create(&s->thread, NULL, pcsc_thread, s)) != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(e));
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	s->thread_started = 1;

	/* Give the thread a moment for its first look, so that the readers and
	 * cards already there come with the first dispatch() calls. */
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += FIRST_SCAN_MS / 1000;
	pthread_mutex_lock(&s->lock);
	while (!s->first_done && !s->exited &&
	    pthread_cond_timedwait(&s->cond, &s->lock, &until) == 0)
		;
	pthread_mutex_unlock(&s->lock);

	*out = s;
	s = NULL;
	rc = 0;
 out:
	source_free(s);
	return rc;
}

static int
pollfds(struct detect_source *s, struct pollfd *pfd, int max)
{
	if (s == NULL || max < 1)
		return 0;
	pfd[0].fd = s->pipe_rd;
	pfd[0].events = POLLIN;
	pfd[0].revents = 0;
	return 1;
}

static void
dispatch(struct detect_source *s)
{
	struct detect_event ev;
	ssize_t n;

	if (s == NULL)
		return;
	for (;;) {
		n = read(s->pipe_rd, &ev, sizeof(ev));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(ev)) {
			if (n > 0)	/* cannot happen: records are written whole */
				log_error("short read of %zd bytes from the event pipe", n);
			else if (n < 0 && errno != EAGAIN)
				log_error("read from the event pipe: %s", strerror(errno));
			return;
		}
		/* matched here, on the daemon's thread, from the set given to start() */
		ev.profile = ev.reader[0] ? fw_profile_set_match_reader(s->fw, ev.reader) : NULL;
		s->emit(s->emit_ctx, &ev);
	}
}

static void
stop(struct detect_source *s)
{
	struct timespec until;
	pthread_t thread;
	int waited;

	if (s == NULL)
		return;
	if (s->thread_started) {
		pthread_mutex_lock(&s->lock);
		s->stopping = 1;
		pthread_cond_broadcast(&s->cond);
		/* SCardCancel only interrupts a wait already under way, so it is
		 * repeated until the thread is out */
		for (waited = 0; !s->exited && waited < STOP_MAX_MS; waited += CANCEL_EVERY_MS) {
			if (s->have_ctx)
				(void)SCardCancel(s->hctx);
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_nsec += CANCEL_EVERY_MS * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			(void)pthread_cond_timedwait(&s->cond, &s->lock, &until);
		}
		if (!s->exited) {
			/* A pcscd that accepts connections but never answers keeps
			 * the thread inside libpcsclite. The daemon must still stop:
			 * the thread frees the source if it ever returns, and never
			 * reports again (the daemon no longer reads the pipe). */
			log_error("the PC/SC thread is stuck in libpcsclite (pcscd at %s does not "
			    "answer); left behind", s->sock);
			s->orphaned = 1;
			thread = s->thread;
			pthread_mutex_unlock(&s->lock);
			pthread_detach(thread);
			return;
		}
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	source_free(s);
}

const struct detect_source_ops detect_source_pcsc = {
	.name = "pcsc", .start = start, .pollfds = pollfds, .dispatch = dispatch, .stop = stop,
};
