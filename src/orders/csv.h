/* A strict reader of comma-separated values (RFC 4180): quoted fields with
 * embedded commas, doubled quotes and line breaks; CRLF or LF line ends; a
 * UTF-8 byte order mark at the start is skipped. */
#ifndef UKEY_CSV_H
#define UKEY_CSV_H

#include <stddef.h>

#define CSV_MAX_FIELDS 256	/* per record */
#define CSV_MAX_FIELD (64 * 1024)	/* bytes per field */

struct csv_record {
	char **fields;		/* NUL-terminated; the text holds no NUL */
	size_t n;
	size_t line;		/* the line the record starts on, from 1 */
};

struct csv {
	struct csv_record *recs;	/* empty lines are not records */
	size_t n;
};

/* Parses text. Returns 0 with an owned *out (csv_free()); UKEY_ERR_INVAL with
 * *out NULL and why set to the first syntax error, naming its line and the
 * rule ("line 3: a quote inside an unquoted field (RFC 4180: quote the whole
 * field and double the quote)"); or UKEY_ERR_NOMEM. */
int csv_parse(const char *text, size_t len, struct csv **out, char *why, size_t whylen);

/* Frees c and its records; NULL is a no-op. */
void csv_free(struct csv *c);

#endif
