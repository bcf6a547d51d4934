/* Station configuration file: INI read with inih over built-in defaults, each
 * key checked against its rule; a bad file changes nothing. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "common/config.h"
#include "common/err.h"
#include "common/utf8.h"

#define ETC_PROFILE_DIR "/etc/ukey-station/firmware-profiles"

enum sec { S_STATION, S_CA, S_SIM, S_N };

static const char *const sec_names[S_N] = { "station", "ca", "sim" };

enum key {
	K_ID, K_SOURCES, K_PROFILE_DIRS, K_CERT_PROFILE_DIR, K_WORKER, K_ALLOW_WIPE,
	K_CA_TYPE, K_CA_NAME, K_CA_DIR,
	K_BAYS, K_SOFTHSM_MODULE,
	K_N
};

static const struct {
	enum sec sec;
	const char *name;
} keys[K_N] = {
	[K_ID] = { S_STATION, "id" },
	[K_SOURCES] = { S_STATION, "sources" },
	[K_PROFILE_DIRS] = { S_STATION, "profile_dirs" },
	[K_CERT_PROFILE_DIR] = { S_STATION, "cert_profile_dir" },
	[K_WORKER] = { S_STATION, "worker" },
	[K_ALLOW_WIPE] = { S_STATION, "allow_wipe" },
	[K_CA_TYPE] = { S_CA, "type" },
	[K_CA_NAME] = { S_CA, "name" },
	[K_CA_DIR] = { S_CA, "dir" },
	[K_BAYS] = { S_SIM, "bays" },
	[K_SOFTHSM_MODULE] = { S_SIM, "softhsm_module" },
};

static const struct {
	unsigned bit;
	const char *name;
} source_table[] = {
	{ SRC_SIM, "sim" },
	{ SRC_LIBUSB, "libusb" },
	{ SRC_UDEV, "udev" },
	{ SRC_PCSC, "pcsc" },
};

struct cstate {
	const char *path;
	FILE *fp;
	struct station_config *c;
	unsigned line;			/* the line inih is working on */
	unsigned sec_line[S_N];
	unsigned key_line[K_N];
	unsigned err_line;		/* line of the first error, 0 while none */
	int failed;
	int nomem;			/* the first error was out of memory */
	char err[768];
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void cerr(struct cstate *st, unsigned line, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Keeps the first error only. */
static void
cerr(struct cstate *st, unsigned line, const char *what, const char *fmt, ...)
{
	char rule[512];
	va_list ap;

	if (st->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(rule, sizeof(rule), fmt, ap);
	va_end(ap);
	if (what != NULL)
		snprintf(st->err, sizeof(st->err), "%s:%u: %s: %s", st->path, line, what, rule);
	else
		snprintf(st->err, sizeof(st->err), "%s:%u: %s", st->path, line, rule);
	st->err_line = line;
	st->failed = 1;
}

static void kerr(struct cstate *st, enum key k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
kerr(struct cstate *st, enum key k, const char *fmt, ...)
{
	char what[64], rule[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rule, sizeof(rule), fmt, ap);
	va_end(ap);
	snprintf(what, sizeof(what), "%s.%s", sec_names[keys[k].sec], keys[k].name);
	cerr(st, st->key_line[k] ? st->key_line[k] : st->line, what, "%s", rule);
}

static int
find_section(const char *name)
{
	int i;

	for (i = 0; i < S_N; i++)
		if (strcmp(sec_names[i], name) == 0)
			return i;
	return -1;
}

/* inih does not show section headers to the handler: note them here so an
 * unknown one is caught at its own line even when it holds no key. */
static void
note_section(struct cstate *st, const char *line)
{
	const char *s = line, *end;
	char name[64];
	size_t n;
	int sec;

	if (st->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	while (isspace((unsigned char)*s))
		s++;
	if (*s != '[' || (end = strchr(s, ']')) == NULL)
		return;
	n = (size_t)(end - s - 1);
	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	memcpy(name, s + 1, n);
	name[n] = '\0';
	if ((sec = find_section(name)) < 0) {
		cerr(st, st->line, NULL, "[%s]: unknown section (known: station, ca, sim)", name);
		return;
	}
	if (st->sec_line[sec] != 0) {
		cerr(st, st->line, NULL, "[%s]: section given twice (first at line %u)", name,
		    st->sec_line[sec]);
		return;
	}
	st->sec_line[sec] = st->line;
}

/* Counts lines for messages and refuses lines inih would split in two. */
static char *
read_line(char *buf, int num, void *stream)
{
	struct cstate *st = stream;
	size_t len;
	int c;

	if (fgets(buf, num, st->fp) == NULL)
		return NULL;
	st->line++;
	len = strlen(buf);
	if (len > 0 && buf[len - 1] != '\n' && !feof(st->fp)) {
		c = fgetc(st->fp);
		if (c != '\n' && c != EOF) {
			while ((c = fgetc(st->fp)) != EOF && c != '\n')
				;
			cerr(st, st->line, NULL, "line longer than %d bytes", num - 1);
			buf[0] = '\0';
			return buf;
		}
	}
	note_section(st, buf);
	return buf;
}

/* Takes the next comma-separated item of *cur, trimmed. Returns 1 with the
 * item in buf, 0 at the end, -1 for an empty item, -2 for one too long. */
static int
list_next(const char **cur, char *buf, size_t len)
{
	const char *s = *cur, *end, *comma;
	size_t n;

	if (*s == '\0')
		return 0;
	comma = strchr(s, ',');
	end = comma ? comma : s + strlen(s);
	*cur = comma ? comma + 1 : end;
	while (s < end && isspace((unsigned char)*s))
		s++;
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	n = (size_t)(end - s);
	if (n == 0)
		return -1;
	if (n >= len)
		return -2;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 1;
}

static int
valid_station_id(const char *v)
{
	size_t n = strlen(v), i;

	if (n == 0 || n > 63)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '-' && v[i] != '_' && v[i] != '.')
			return 0;
	return 1;
}

/* An absolute path that fits dst; "" only when empty_ok. */
static int
set_path(struct cstate *st, enum key k, char *dst, size_t dstlen, const char *v, int empty_ok)
{
	if (*v == '\0' && empty_ok) {
		dst[0] = '\0';
		return 0;
	}
	if (*v != '/') {
		kerr(st, k, "must be an absolute path%s", empty_ok ? " or empty" : "");
		return -1;
	}
	if (strlen(v) >= dstlen) {
		kerr(st, k, "longer than %zu bytes", dstlen - 1);
		return -1;
	}
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int
set_sources(struct cstate *st, const char *v)
{
	const char *cur = v;
	unsigned bits = 0, bit;
	char item[16];
	size_t i;
	int r;

	while ((r = list_next(&cur, item, sizeof(item))) != 0) {
		bit = 0;
		for (i = 0; r == 1 && i < ARRAY_LEN(source_table); i++)
			if (strcmp(item, source_table[i].name) == 0)
				bit = source_table[i].bit;
		if (bit == 0) {
			kerr(st, K_SOURCES, "\"%s\" is not a source (known: sim, libusb, udev, pcsc)",
			    r == 1 ? item : r == -1 ? "" : "(too long)");
			return -1;
		}
		if (bits & bit) {
			kerr(st, K_SOURCES, "\"%s\" listed twice", item);
			return -1;
		}
		bits |= bit;
	}
	if (bits == 0) {
		kerr(st, K_SOURCES, "must list at least one source");
		return -1;
	}
	st->c->sources = bits;
	return 0;
}

static void
free_dirs(struct station_config *c)
{
	size_t i;

	for (i = 0; i < c->n_profile_dirs; i++)
		free(c->profile_dirs[i]);
	c->n_profile_dirs = 0;
}

static int
set_profile_dirs(struct cstate *st, const char *v)
{
	struct station_config *c = st->c;
	const char *cur = v;
	char item[512];
	int r;

	free_dirs(c);	/* the file's list replaces the default one */
	while ((r = list_next(&cur, item, sizeof(item))) != 0) {
		if (r < 0) {
			kerr(st, K_PROFILE_DIRS, r == -1 ? "empty item in the list" :
			    "a path is longer than 511 bytes");
			return -1;
		}
		if (item[0] != '/') {
			kerr(st, K_PROFILE_DIRS, "\"%s\" is not an absolute path", item);
			return -1;
		}
		if (c->n_profile_dirs == CONFIG_MAX_PROFILE_DIRS) {
			kerr(st, K_PROFILE_DIRS, "more than %d directories", CONFIG_MAX_PROFILE_DIRS);
			return -1;
		}
		if ((c->profile_dirs[c->n_profile_dirs] = strdup(item)) == NULL)
			return -1;
		c->n_profile_dirs++;
	}
	if (c->n_profile_dirs == 0) {
		kerr(st, K_PROFILE_DIRS, "must list at least one directory");
		return -1;
	}
	return 0;
}

/* Stores one key's value; returns 0 or -1 with the error recorded (or
 * nothing recorded for out of memory). */
static int
set_value(struct cstate *st, enum key k, const char *v)
{
	struct station_config *c = st->c;
	int n;

	switch (k) {
	case K_ID:
		if (!valid_station_id(v)) {
			kerr(st, k, "must be 1 to 63 characters of A-Z, a-z, 0-9, '-', '_' and '.'");
			return -1;
		}
		memcpy(c->station_id, v, strlen(v) + 1);
		return 0;
	case K_SOURCES:
		return set_sources(st, v);
	case K_PROFILE_DIRS:
		return set_profile_dirs(st, v);
	case K_CERT_PROFILE_DIR:
		return set_path(st, k, c->cert_profile_dir, sizeof(c->cert_profile_dir), v, 0);
	case K_WORKER:
		return set_path(st, k, c->worker_path, sizeof(c->worker_path), v, 0);
	case K_ALLOW_WIPE:
		if (strcmp(v, "yes") == 0)
			c->allow_wipe = 1;
		else if (strcmp(v, "no") == 0)
			c->allow_wipe = 0;
		else {
			kerr(st, k, "must be yes or no");
			return -1;
		}
		return 0;
	case K_CA_TYPE:
		if (strcmp(v, "embedded") != 0) {
			kerr(st, k, "must be embedded (the only CA connector so far)");
			return -1;
		}
		memcpy(c->ca_type, v, strlen(v) + 1);
		return 0;
	case K_CA_NAME:
		if (*v == '\0' || strlen(v) >= sizeof(c->ca_name)) {
			kerr(st, k, "must be 1 to %zu bytes", sizeof(c->ca_name) - 1);
			return -1;
		}
		if (!utf8_valid(v, strlen(v)) || utf8_has_control(v)) {
			kerr(st, k, "must be UTF-8 text without control characters");
			return -1;
		}
		memcpy(c->ca_name, v, strlen(v) + 1);
		return 0;
	case K_CA_DIR:
		return set_path(st, k, c->ca_dir, sizeof(c->ca_dir), v, 1);
	case K_BAYS:
		n = 0;
		if (*v == '\0' || strlen(v) > 2 || strspn(v, "0123456789") != strlen(v) ||
		    (n = atoi(v)) < 1 || n > CONFIG_MAX_BAYS) {
			kerr(st, k, "must be a whole number from 1 to %d", CONFIG_MAX_BAYS);
			return -1;
		}
		c->sim_bays = n;
		return 0;
	case K_SOFTHSM_MODULE:
		return set_path(st, k, c->sim_softhsm_module, sizeof(c->sim_softhsm_module), v, 1);
	case K_N:
		break;
	}
	return -1;
}

static int
on_key(void *user, const char *section, const char *name, const char *value)
{
	struct cstate *st = user;
	char what[128];
	int sec, k;

	if (st->failed)
		return 1;	/* only the first error is reported */
	if (*section == '\0') {
		cerr(st, st->line, name, "key outside any section");
		return 0;
	}
	if ((sec = find_section(section)) < 0)
		return 0;	/* reported at the section header */
	snprintf(what, sizeof(what), "%s.%s", section, name);
	for (k = 0; k < K_N; k++)
		if (keys[k].sec == (enum sec)sec && strcmp(keys[k].name, name) == 0)
			break;
	if (k == K_N) {
		cerr(st, st->line, what, "unknown key");
		return 0;
	}
	if (st->key_line[k] != 0) {
		cerr(st, st->line, what, "given twice (first at line %u)", st->key_line[k]);
		return 0;
	}
	st->key_line[k] = st->line;
	if (set_value(st, k, value) != 0) {
		if (!st->failed) {
			st->nomem = 1;
			cerr(st, st->line, NULL, "out of memory");
		}
		return 0;
	}
	return 1;
}

/* Copies src into dst, duplicating what src owns. Returns 0 or UKEY_ERR_NOMEM
 * (dst then owns what was copied so far). */
static int
config_copy(struct station_config *dst, const struct station_config *src)
{
	size_t i;

	*dst = *src;
	dst->n_profile_dirs = 0;
	for (i = 0; i < src->n_profile_dirs; i++) {
		if ((dst->profile_dirs[i] = strdup(src->profile_dirs[i])) == NULL)
			return UKEY_ERR_NOMEM;
		dst->n_profile_dirs++;
	}
	return 0;
}

int
config_load(const char *path, struct station_config *c, char *err, size_t errlen)
{
	struct station_config tmp;
	struct cstate st;
	int rc, irc;

	memset(&st, 0, sizeof(st));
	memset(&tmp, 0, sizeof(tmp));
	st.path = path;
	st.c = &tmp;
	if (errlen > 0)
		err[0] = '\0';
	/* parse into a copy, so that a bad file leaves c as it was */
	if ((rc = config_copy(&tmp, c)) != 0) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	if ((st.fp = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		rc = UKEY_ERR_IO;
		goto out;
	}
	irc = ini_parse_stream(read_line, &st, on_key, &st);
	if (irc == -2) {
		snprintf(err, errlen, "%s: out of memory", path);
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if (ferror(st.fp)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = UKEY_ERR_IO;
		goto out;
	}
	if (irc > 0 && (!st.failed || (unsigned)irc < st.err_line)) {
		st.failed = 0;
		cerr(&st, (unsigned)irc, NULL, "syntax error: expected [section], key = value, "
		    "or a comment");
	}
	if (st.failed) {
		snprintf(err, errlen, "%s", st.err);
		rc = st.nomem ? UKEY_ERR_NOMEM : UKEY_ERR_INVAL;
		goto out;
	}
	config_free(c);
	*c = tmp;
	memset(&tmp, 0, sizeof(tmp));	/* c owns it now */
	rc = 0;
 out:
	if (st.fp != NULL)
		fclose(st.fp);
	config_free(&tmp);
	return rc;
}

static void
add_dir(struct station_config *c, const char *a, const char *b)
{
	char *d;

	if (c->n_profile_dirs == CONFIG_MAX_PROFILE_DIRS)
		return;
	if (asprintf(&d, "%s%s", a, b) < 0)
		return;		/* out of memory this early: the directory is left out */
	c->profile_dirs[c->n_profile_dirs++] = d;
}

void
config_defaults(struct station_config *c)
{
	const char *dev = getenv("UKEY_DEV_TREE"), *build = getenv("UKEY_BUILD_DIR");
	char host[256];

	memset(c, 0, sizeof(*c));
	/* the short host name identifies the station until the file names it */
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		host[strcspn(host, ".")] = '\0';
	} else
		host[0] = '\0';
	if (!valid_station_id(host))	/* also ensures it fits station_id */
		strcpy(host, "station");
	memcpy(c->station_id, host, strlen(host) + 1);
	c->sources = SRC_SIM;
	if (dev != NULL && *dev != '\0' && build != NULL && *build != '\0') {
		add_dir(c, dev, "/firmware-profiles");
		snprintf(c->cert_profile_dir, sizeof(c->cert_profile_dir), "%s/cert-profiles", dev);
		snprintf(c->worker_path, sizeof(c->worker_path), "%s/ukey-worker", build);
	} else {
		add_dir(c, UKEY_DATADIR, "/firmware-profiles");
		add_dir(c, ETC_PROFILE_DIR, "");
		snprintf(c->cert_profile_dir, sizeof(c->cert_profile_dir), "%s/cert-profiles",
		    UKEY_DATADIR);
		snprintf(c->worker_path, sizeof(c->worker_path), "%s/ukey-worker", UKEY_LIBEXECDIR);
	}
	c->allow_wipe = 0;
	snprintf(c->ca_type, sizeof(c->ca_type), "embedded");
	snprintf(c->ca_name, sizeof(c->ca_name), "Yunnan Station Test");
	c->ca_dir[0] = '\0';
	c->sim_bays = 4;
}

void
config_free(struct station_config *c)
{
	free_dirs(c);
	memset(c, 0, sizeof(*c));
}

const char *
config_source_name(unsigned bit)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(source_table); i++)
		if (source_table[i].bit == bit)
			return source_table[i].name;
	return NULL;
}
