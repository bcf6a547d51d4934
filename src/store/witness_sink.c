/* Witness sinks: where the daemon sends its signed head lines. One table of
 * kinds, one small backend each; a new kind (the shared database of several
 * stations, a remote log service) is one more row. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "store/witness.h"

struct witness_sink_ops {
	const char *prefix;		/* "file:" takes an argument, "syslog" none */
	int (*open)(struct witness_sink *w, const char *arg);
	int (*write)(struct witness_sink *w, const char *line);
	void (*close)(struct witness_sink *w);
};

struct witness_sink {
	const struct witness_sink_ops *ops;
	char name[600];
	int fd;
};

/* file: an append-only file, ideally on another mount (chattr +a). Each
 * line is one write(2) of O_APPEND, then fdatasync, so a line is either
 * there whole or not at all, and survives a crash once written. */
static int
file_open(struct witness_sink *w, const char *path)
{
	if (path[0] != '/') {
		log_error("witness %s: the path must be absolute", w->name);
		return UKEY_ERR_INVAL;
	}
	w->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (w->fd < 0) {
		log_error("witness %s: open: %s", w->name, strerror(errno));
		return UKEY_ERR_IO;
	}
	return 0;
}

static int
file_write(struct witness_sink *w, const char *line)
{
	size_t n = strlen(line);
	char *buf = malloc(n + 1);
	ssize_t wr;

	if (buf == NULL)
		return UKEY_ERR_NOMEM;
	memcpy(buf, line, n);
	buf[n] = '\n';
	wr = write(w->fd, buf, n + 1);
	free(buf);
	if (wr != (ssize_t)(n + 1)) {
		log_error("witness %s: write: %s", w->name, wr < 0 ? strerror(errno) : "short write");
		return UKEY_ERR_IO;
	}
	if (fdatasync(w->fd) != 0 && errno != EINVAL) {
		log_error("witness %s: fdatasync: %s", w->name, strerror(errno));
		return UKEY_ERR_IO;
	}
	return 0;
}

static void
file_close(struct witness_sink *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

/* syslog: the local syslog daemon (and through it journald, or a remote
 * log host the station's administrator cannot edit). */
static int
syslog_open(struct witness_sink *w, const char *arg)
{
	(void)w;
	(void)arg;
	openlog("ukeyd", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
	return 0;
}

static int
syslog_write(struct witness_sink *w, const char *line)
{
	(void)w;
	syslog(LOG_NOTICE, "%s", line);
	return 0;
}

static void
syslog_close(struct witness_sink *w)
{
	(void)w;
	closelog();
}

static const struct witness_sink_ops kinds[] = {
	{ "file:", file_open, file_write, file_close },
	{ "syslog", syslog_open, syslog_write, syslog_close },
};

static const struct witness_sink_ops *
kind_of(const char *spec, const char **arg)
{
	size_t i, n;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		n = strlen(kinds[i].prefix);
		if (kinds[i].prefix[n - 1] == ':' ? strncmp(spec, kinds[i].prefix, n) == 0 :
		    strcmp(spec, kinds[i].prefix) == 0) {
			*arg = spec + n;
			return &kinds[i];
		}
	}
	return NULL;
}

int
witness_sink_open(const char *spec, struct witness_sink **out)
{
	struct witness_sink *w = NULL;
	const char *arg = NULL;
	const struct witness_sink_ops *k;
	int rc;

	*out = NULL;
	if ((k = kind_of(spec, &arg)) == NULL) {
		log_error("witness %s: unknown kind (file:/path or syslog)", spec);
		return UKEY_ERR_INVAL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return UKEY_ERR_NOMEM;
	w->ops = k;
	w->fd = -1;
	snprintf(w->name, sizeof(w->name), "%s", spec);
	if ((rc = k->open(w, arg)) != 0)
		goto out;
	*out = w;
	w = NULL;
	rc = 0;
 out:
	free(w);
	return rc;
}

int
witness_sink_write(struct witness_sink *w, const char *line)
{
	return w->ops->write(w, line);
}

const char *
witness_sink_name(const struct witness_sink *w)
{
	return w->name;
}

void
witness_sink_free(struct witness_sink *w)
{
	if (w == NULL)
		return;
	w->ops->close(w);
	free(w);
}
