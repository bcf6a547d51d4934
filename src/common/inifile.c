/* INI files read with inih: line counting, section and key tables, first-error
 * collection and the small value parsers the station's parsers share. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <ini.h>

#include "common/err.h"
#include "common/inifile.h"

void
inifile_vfail(struct inifile *f, unsigned line, const char *what, const char *fmt, va_list ap)
{
	char rule[512];

	if (f->failed)
		return;
	vsnprintf(rule, sizeof(rule), fmt, ap);
	if (what != NULL)
		snprintf(f->err, sizeof(f->err), "%s:%u: %s: %s", f->path, line, what, rule);
	else
		snprintf(f->err, sizeof(f->err), "%s:%u: %s", f->path, line, rule);
	f->err_line = line;
	f->failed = 1;
}

void
inifile_fail(struct inifile *f, unsigned line, const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	inifile_vfail(f, line, what, fmt, ap);
	va_end(ap);
}

void
inifile_key_fail(struct inifile *f, unsigned k, const char *fmt, ...)
{
	unsigned sec = f->keys[k].sec, line = f->key_line[k];
	char what[64];
	va_list ap;

	if (line == 0)
		line = f->sec_line[sec] ? f->sec_line[sec] : f->line;
	snprintf(what, sizeof(what), "%s.%s", f->sections[sec], f->keys[k].name);
	va_start(ap, fmt);
	inifile_vfail(f, line, what, fmt, ap);
	va_end(ap);
}

int
inifile_section_find(const struct inifile *f, const char *name)
{
	unsigned i;

	for (i = 0; i < f->n_sections; i++)
		if (strcmp(f->sections[i], name) == 0)
			return (int)i;
	return -1;
}

int
inifile_header(const char *line, unsigned lineno, const char **name, size_t *len)
{
	const char *s = line, *end;

	if (lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	while (isspace((unsigned char)*s))
		s++;
	if (*s != '[')
		return 0;
	if ((end = strchr(s, ']')) == NULL)
		return -1;
	*name = s + 1;
	*len = (size_t)(end - s - 1);
	return 1;
}

/* Joins the names of the table's sections, or of section sec's keys. */
static void
join_names(const struct inifile *f, int sec, char *buf, size_t len)
{
	size_t used = 0;
	unsigned i, n = sec < 0 ? f->n_sections : f->n_keys;
	const char *name;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		if (sec >= 0 && f->keys[i].sec != (unsigned)sec)
			continue;
		name = sec < 0 ? f->sections[i] : f->keys[i].name;
		used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name);
		if (used >= len)
			break;
	}
}

/* Notes a section header as the reader passes it. */
static void
note_section(struct inifile *f, const char *line)
{
	const char *s;
	char name[64], known[256];
	size_t n;
	int sec;

	if (inifile_header(line, f->line, &s, &n) != 1)
		return;		/* not a header, or a broken one that inih reports */
	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	memcpy(name, s, n);
	name[n] = '\0';
	if ((sec = inifile_section_find(f, name)) < 0) {
		join_names(f, -1, known, sizeof(known));
		inifile_fail(f, f->line, NULL, "[%s]: unknown section (known: %s)", name, known);
		return;
	}
	if (f->sec_line[sec] != 0) {
		inifile_fail(f, f->line, NULL, "[%s]: section given twice (first at line %u)", name,
		    f->sec_line[sec]);
		return;
	}
	f->sec_line[sec] = f->line;
}

char *
inifile_read_line(char *buf, int num, void *stream)
{
	struct inifile *f = stream;
	size_t len = 0, n = 0, max = (size_t)num - 1;
	int c, nul = 0;

	/* byte by byte rather than fgets(): after a NUL byte, strlen() would end
	 * the line early, so that its rest looked like a line of its own or the
	 * next line was taken for the end of an over-long one */
	while ((c = getc(f->fp)) != EOF && c != '\n') {
		if (c == '\0')
			nul = 1;
		if (n++ < max)
			buf[len++] = (char)c;
	}
	if (c == EOF && n == 0)
		return NULL;
	f->line++;
	if (c == '\n' && len < max)
		buf[len++] = '\n';
	buf[len] = '\0';
	if (n > max) {
		inifile_fail(f, f->line, NULL, "line longer than %d bytes", num - 1);
		buf[0] = '\0';
		return buf;
	}
	if (nul) {
		inifile_fail(f, f->line, NULL, "NUL byte in the line (the file must be text)");
		buf[0] = '\0';
		return buf;
	}
	note_section(f, buf);
	return buf;
}

int
inifile_handle_key(struct inifile *f, const char *section, const char *name, const char *value,
    inifile_set_fn set, void *user)
{
	char what[128], known[256];
	unsigned k;
	int sec;

	if (f->failed)
		return 1;	/* only the first error is reported */
	if (*section == '\0') {
		inifile_fail(f, f->line, name, "key outside any section");
		return 0;
	}
	if ((sec = inifile_section_find(f, section)) < 0)
		return 0;	/* already reported at the section header */
	snprintf(what, sizeof(what), "%s.%s", section, name);
	for (k = 0; k < f->n_keys; k++)
		if (f->keys[k].sec == (unsigned)sec && strcmp(f->keys[k].name, name) == 0)
			break;
	if (k == f->n_keys) {
		if (f->list_known_keys) {
			join_names(f, sec, known, sizeof(known));
			inifile_fail(f, f->line, what, "unknown key (known in [%s]: %s)", section,
			    known);
		} else
			inifile_fail(f, f->line, what, "unknown key");
		return 0;
	}
	if (f->key_line[k] != 0) {
		inifile_fail(f, f->line, what, "given twice (first at line %u)", f->key_line[k]);
		return 0;
	}
	f->key_line[k] = f->line;
	if (set(user, k, value) != 0) {
		if (!f->failed) {
			f->nomem = 1;
			inifile_fail(f, f->line, NULL, "out of memory");
		}
		return 0;
	}
	return 1;
}

/* Parses the open f->fp with inih, then closes it. */
static int
parse_open(struct inifile *f, int (*handler)(void *, const char *, const char *, const char *),
    void *user, char *err, size_t errlen)
{
	int rc, irc;

	irc = ini_parse_stream(inifile_read_line, f, handler, user);
	if (irc == -2) {
		snprintf(err, errlen, "%s: out of memory", f->path);
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if (ferror(f->fp)) {
		snprintf(err, errlen, "%s: read error", f->path);
		rc = UKEY_ERR_IO;
		goto out;
	}
	/* inih's own syntax errors come before ours when they are on an earlier line */
	if (irc > 0 && (!f->failed || (unsigned)irc < f->err_line)) {
		f->failed = 0;
		inifile_fail(f, (unsigned)irc, NULL, "syntax error: expected [section], key = value, "
		    "or a comment");
	}
	rc = 0;
 out:
	fclose(f->fp);
	f->fp = NULL;
	return rc;
}

int
inifile_parse(struct inifile *f, int (*handler)(void *, const char *, const char *,
    const char *), void *user, char *err, size_t errlen)
{
	if ((f->fp = fopen(f->path, "re")) == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", f->path, strerror(errno));
		return UKEY_ERR_IO;
	}
	return parse_open(f, handler, user, err, errlen);
}

int
inifile_parse_mem(struct inifile *f, const char *text, size_t len, int (*handler)(void *,
    const char *, const char *, const char *), void *user, char *err, size_t errlen)
{
	static char empty[1];

	/* a read-only memory stream: inih and the line reader see the bytes,
	 * NULs included, exactly as they would see a file holding them */
	if ((f->fp = fmemopen(len ? (void *)(uintptr_t)text : empty, len, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", f->path, errno == ENOMEM ? "out of memory" :
		    strerror(errno));
		return errno == ENOMEM ? UKEY_ERR_NOMEM : UKEY_ERR_IO;
	}
	return parse_open(f, handler, user, err, errlen);
}

int
inifile_result(const struct inifile *f, char *err, size_t errlen)
{
	if (!f->failed)
		return 0;
	snprintf(err, errlen, "%s", f->err);
	return f->nomem ? UKEY_ERR_NOMEM : UKEY_ERR_INVAL;
}

int
inifile_list_next(const char **cur, char *buf, size_t len)
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

int
inifile_yesno(const char *v, int *out)
{
	if (strcmp(v, "yes") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

int
inifile_conf_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".conf") == 0;
}
