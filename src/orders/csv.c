/* Strict RFC 4180 reader. Written here rather than taken from libcsv
 * (Debian's libcsv 3.0.3): an order file's errors must name their line, and
 * libcsv reports only an error code for the whole buffer. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "orders/csv.h"

struct reader {
	struct csv *c;
	char *buf;		/* the field being read */
	size_t len, cap;
	char **fields;		/* the record being read */
	size_t nf, capf;
	size_t line;		/* current line, from 1 */
	size_t rec_line;	/* line the current record started on */
	char *why;
	size_t whylen;
};

static int __attribute__((format(printf, 3, 4)))
syntax(struct reader *r, size_t line, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->why != NULL && r->whylen > 0)
		snprintf(r->why, r->whylen, "line %zu: %s", line, msg);
	return UKEY_ERR_INVAL;
}

static int
put_char(struct reader *r, char ch)
{
	if (r->len >= CSV_MAX_FIELD)
		return syntax(r, r->line, "a field longer than %d bytes", CSV_MAX_FIELD);
	if (r->len + 1 >= r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 64;
		char *nb;

		if ((nb = realloc(r->buf, ncap)) == NULL)
			return UKEY_ERR_NOMEM;
		r->buf = nb;
		r->cap = ncap;
	}
	r->buf[r->len++] = ch;
	return 0;
}

static int
end_field(struct reader *r)
{
	char *f, **nf;

	if (r->nf == CSV_MAX_FIELDS)
		return syntax(r, r->rec_line, "a record with more than %d fields", CSV_MAX_FIELDS);
	if (r->nf == r->capf) {
		size_t ncap = r->capf ? r->capf * 2 : 16;

		if ((nf = realloc(r->fields, ncap * sizeof(*nf))) == NULL)
			return UKEY_ERR_NOMEM;
		r->fields = nf;
		r->capf = ncap;
	}
	if ((f = malloc(r->len + 1)) == NULL)
		return UKEY_ERR_NOMEM;
	if (r->len > 0)
		memcpy(f, r->buf, r->len);
	f[r->len] = '\0';
	r->fields[r->nf++] = f;
	r->len = 0;
	return 0;
}

static int
end_record(struct reader *r)
{
	struct csv_record *nr;

	if ((nr = realloc(r->c->recs, (r->c->n + 1) * sizeof(*nr))) == NULL)
		return UKEY_ERR_NOMEM;
	r->c->recs = nr;
	nr = &r->c->recs[r->c->n++];
	nr->fields = r->fields;
	nr->n = r->nf;
	nr->line = r->rec_line;
	r->fields = NULL;
	r->nf = r->capf = 0;
	return 0;
}

void
csv_free(struct csv *c)
{
	size_t i, j;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++) {
		for (j = 0; j < c->recs[i].n; j++)
			free(c->recs[i].fields[j]);
		free(c->recs[i].fields);
	}
	free(c->recs);
	free(c);
}

int
csv_parse(const char *text, size_t len, struct csv **out, char *why, size_t whylen)
{
	struct reader r = { .line = 1, .why = why, .whylen = whylen };
	size_t i = 0, j, quote_line = 0;
	int rc = 0, quoted;

	*out = NULL;
	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if ((r.c = calloc(1, sizeof(*r.c))) == NULL)
		return UKEY_ERR_NOMEM;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len) {
		/* the start of a record: an empty line is none */
		if (text[i] == '\n' || (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')) {
			i += text[i] == '\r' ? 2 : 1;
			r.line++;
			continue;
		}
		r.rec_line = r.line;
		for (;;) {
			/* the start of a field */
			quoted = i < len && text[i] == '"';
			if (quoted) {
				quote_line = r.line;
				for (i++;; i++) {
					if (i >= len) {
						rc = syntax(&r, quote_line, "a quoted field is not closed");
						goto out;
					}
					if (text[i] == '"') {
						if (i + 1 < len && text[i + 1] == '"') {
							i++;	/* a doubled quote stands for one */
						} else {
							i++;
							break;
						}
					} else if (text[i] == '\0') {
						rc = syntax(&r, r.line, "a NUL byte (the file is not text)");
						goto out;
					} else if (text[i] == '\n') {
						r.line++;
					}
					if ((rc = put_char(&r, text[i])) != 0)
						goto out;
				}
				if (i < len && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
					rc = syntax(&r, r.line, "text after the closing quote of a field "
					    "(RFC 4180: a quoted field ends at its closing quote)");
					goto out;
				}
			} else {
				for (; i < len && text[i] != ',' && text[i] != '\n' && text[i] != '\r'; i++) {
					if (text[i] == '"') {
						rc = syntax(&r, r.line, "a quote inside an unquoted field "
						    "(RFC 4180: quote the whole field and double the quote)");
						goto out;
					}
					if (text[i] == '\0') {
						rc = syntax(&r, r.line, "a NUL byte (the file is not text)");
						goto out;
					}
					if ((rc = put_char(&r, text[i])) != 0)
						goto out;
				}
			}
			if ((rc = end_field(&r)) != 0)
				goto out;
			if (i < len && text[i] == ',') {
				i++;
				continue;	/* a comma at the very end starts an empty field */
			}
			break;
		}
		/* the end of a record: a line end or the end of the text */
		if (i < len) {
			if (text[i] == '\r') {
				if (i + 1 >= len || text[i + 1] != '\n') {
					rc = syntax(&r, r.line, "a carriage return without a line feed "
					    "(lines end in CRLF or LF)");
					goto out;
				}
				i++;
			}
			i++;
			r.line++;
		}
		if ((rc = end_record(&r)) != 0)
			goto out;
	}
	*out = r.c;
	r.c = NULL;
	rc = 0;
 out:
	for (j = 0; j < r.nf; j++)
		free(r.fields[j]);
	free(r.fields);
	free(r.buf);
	csv_free(r.c);
	return rc;
}
