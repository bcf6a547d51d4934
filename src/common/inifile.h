/* INI files read with inih: the machinery the station's parsers share — a
 * reader that counts lines, refuses over-long ones and checks section headers
 * against a table, first-error collection as "file:line: message", key lookup
 * in a table of known keys, and small value parsers (comma lists, yes/no). */
#ifndef UKEY_INIFILE_H
#define UKEY_INIFILE_H

#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>

struct dirent;

/* One known key: the index of its section in the section table, and its name. */
struct inifile_key {
	unsigned sec;
	const char *name;
};

/* A parser's state embeds one of these. The parser fills the first block
 * (sections and keys may be NULL / 0 when it does its own checking); the
 * rest starts zeroed and is kept by the functions below. */
struct inifile {
	const char *path;			/* named in every message */
	const char *const *sections;		/* known section names */
	unsigned n_sections;
	unsigned *sec_line;			/* n_sections entries: header line, 0 if absent */
	const struct inifile_key *keys;		/* known keys */
	unsigned n_keys;
	unsigned *key_line;			/* n_keys entries: line of the key, 0 if absent */
	int list_known_keys;			/* "unknown key" names the section's known keys */

	FILE *fp;				/* open during inifile_parse() */
	unsigned line;				/* the line inih is working on */
	unsigned err_line;			/* line of the first error, 0 while none */
	int failed;
	int nomem;				/* the first error was out of memory */
	char err[768];
};

/* Records "<path>:<line>: <what>: <rule>" (or without "<what>: " when what is
 * NULL) as the error of f, unless one is recorded already: later errors are
 * often consequences of the first. */
void inifile_fail(struct inifile *f, unsigned line, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* inifile_fail() with a va_list, for parsers' own wrappers. */
void inifile_vfail(struct inifile *f, unsigned line, const char *what, const char *fmt,
    va_list ap) __attribute__((format(printf, 4, 0)));

/* Fails key k ("<section>.<key>: <rule>") at the line it was given on or,
 * when it is missing, at its section's header (or the current line when the
 * section is missing too). */
void inifile_key_fail(struct inifile *f, unsigned k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Returns the index of section name in f's table, or -1. */
int inifile_section_find(const struct inifile *f, const char *name);

/* Recognises a section header in line, the file's line number lineno (a
 * UTF-8 byte order mark is skipped on line 1, and leading white space).
 * Returns 1 with *name / *len set to the text between '[' and the first ']',
 * 0 when the line is no header, -1 for a '[' without ']'. */
int inifile_header(const char *line, unsigned lineno, const char **name, size_t *len);

/* inih reader (stream is a struct inifile *): reads f->fp, counts lines,
 * fails a line longer than inih's buffer (which inih would split in two) and
 * a line holding a NUL byte (which would cut it short), and
 * notes section headers, failing an unknown one or one given twice at its own
 * line, even when it holds no key (inih never shows headers to the handler). */
char *inifile_read_line(char *buf, int num, void *stream);

/* Sets key k of f from a value: returns 0, or -1 with the error recorded in
 * f (or nothing recorded, for out of memory). */
typedef int (*inifile_set_fn)(void *user, unsigned k, const char *value);

/* The common part of an inih handler: fails a key outside any section, an
 * unknown one and one given twice, notes the key's line, then calls set.
 * Returns what the handler returns to inih. */
int inifile_handle_key(struct inifile *f, const char *section, const char *name,
    const char *value, inifile_set_fn set, void *user);

/* Opens f->path and parses it with inih, inifile_read_line() and handler.
 * Returns 0 once the file is read (f->failed then tells whether it is good;
 * a syntax error inih finds on an earlier line than the recorded error takes
 * its place), or UKEY_ERR_IO / UKEY_ERR_NOMEM with "<path>: <why>" in err
 * when the file cannot be opened or read. The file is closed either way. */
int inifile_parse(struct inifile *f, int (*handler)(void *, const char *, const char *,
    const char *), void *user, char *err, size_t errlen);

/* inifile_parse() over len bytes of text (not NUL-terminated; borrowed for
 * the call) instead of the file f->path, which only names it in messages. */
int inifile_parse_mem(struct inifile *f, const char *text, size_t len, int (*handler)(void *,
    const char *, const char *, const char *), void *user, char *err, size_t errlen);

/* Returns 0 when f has no error, else copies its message to err and returns
 * UKEY_ERR_NOMEM (the first error was out of memory) or UKEY_ERR_INVAL. */
int inifile_result(const struct inifile *f, char *err, size_t errlen);

/* Takes the next comma-separated item of *cur, trimmed. Returns 1 with the
 * item in buf, 0 at the end, -1 for an empty item, -2 for one too long. */
int inifile_list_next(const char **cur, char *buf, size_t len);

/* Parses "yes" (1) or "no" (0) into *out. Returns 0, or -1 for anything else. */
int inifile_yesno(const char *v, int *out);

/* scandir() filter: visible files named *.conf, the profile directories' files. */
int inifile_conf_filter(const struct dirent *d);

#endif
