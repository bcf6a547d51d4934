/* RFC 8259 checks on JSON text after json-c has parsed it: a small scanner
 * that follows the member path, so that a refusal names the field. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/jsontext.h"
#include "common/secret.h"

#define DEPTH_MAX 64
#define KEY_MAX 64

struct level {
	int is_object;
	size_t index;		/* element number in an array */
	char key[KEY_MAX];	/* current member name in an object */
};

struct scan {
	const char *t;
	size_t len, pos;
	struct level lv[DEPTH_MAX];
	int depth;
	char *why;
	size_t whylen;
};

/* The member path of the value being read, into buf. */
static void
path(const struct scan *s, char *buf, size_t buflen)
{
	size_t o = 0;
	int i, n;

	buf[0] = '\0';
	for (i = 0; i < s->depth && i < DEPTH_MAX && o < buflen; i++) {
		if (s->lv[i].is_object)
			n = snprintf(buf + o, buflen - o, "%s%s", o ? "." : "", s->lv[i].key);
		else
			n = snprintf(buf + o, buflen - o, "[%zu]", s->lv[i].index);
		if (n < 0)
			break;
		o += (size_t)n;
	}
}

static int __attribute__((format(printf, 2, 3)))
fail(struct scan *s, const char *fmt, ...)
{
	char p[256], m[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	path(s, p, sizeof(p));
	if (s->why != NULL && s->whylen > 0)
		snprintf(s->why, s->whylen, "%s%s%s", p, p[0] ? ": " : "", m);
	return UKEY_ERR_INVAL;
}

/* The four hex digits of a \u escape at p. */
static int
hex4(const char *p, unsigned *out)
{
	char digits[5];

	memcpy(digits, p, 4);
	digits[4] = '\0';
	return hex_read4(digits, out) == 0 ? 0 : -1;
}

/* A string from its opening quote; a key's first KEY_MAX - 1 raw bytes go
 * to key (escapes kept as written: the name is for messages only). */
static int
string(struct scan *s, char *key)
{
	size_t start = s->pos, k = 0;
	unsigned u, lo;

	s->pos++;	/* the quote */
	while (s->pos < s->len) {
		unsigned char c = (unsigned char)s->t[s->pos];

		if (c == '"') {
			s->pos++;
			if (key != NULL)
				key[k] = '\0';
			return 0;
		}
		if (c < 0x20)
			return fail(s, "control character 0x%02X at byte %zu must be escaped",
			    c, s->pos);
		if (key != NULL && k + 1 < KEY_MAX)
			key[k++] = (char)c;
		if (c != '\\') {
			s->pos++;
			continue;
		}
		if (s->pos + 1 >= s->len)
			break;
		if (s->t[s->pos + 1] != 'u') {
			if (key != NULL && k + 1 < KEY_MAX)
				key[k++] = s->t[s->pos + 1];
			s->pos += 2;
			continue;
		}
		if (s->pos + 6 > s->len || hex4(s->t + s->pos + 2, &u) != 0)
			return fail(s, "bad \\u escape at byte %zu", s->pos);
		if (u >= 0xDC00 && u <= 0xDFFF)
			return fail(s, "\\u%04X at byte %zu is an unpaired UTF-16 surrogate "
			    "(a low surrogate without a high one before it)", u, s->pos);
		if (u >= 0xD800 && u <= 0xDBFF) {
			if (s->pos + 12 > s->len || s->t[s->pos + 6] != '\\' ||
			    s->t[s->pos + 7] != 'u' || hex4(s->t + s->pos + 8, &lo) != 0 ||
			    lo < 0xDC00 || lo > 0xDFFF)
				return fail(s, "\\u%04X at byte %zu is an unpaired UTF-16 surrogate "
				    "(a high surrogate without a low one after it)", u, s->pos);
			s->pos += 12;
			continue;
		}
		s->pos += 6;
	}
	s->pos = start;
	return fail(s, "string at byte %zu does not end", start);
}

/* A bare word outside strings: only the three literals of RFC 8259. */
static int
word(struct scan *s)
{
	size_t start = s->pos, n;

	while (s->pos < s->len && ((s->t[s->pos] >= 'a' && s->t[s->pos] <= 'z') ||
	    (s->t[s->pos] >= 'A' && s->t[s->pos] <= 'Z')))
		s->pos++;
	n = s->pos - start;
	if ((n == 4 && memcmp(s->t + start, "true", 4) == 0) ||
	    (n == 5 && memcmp(s->t + start, "false", 5) == 0) ||
	    (n == 4 && memcmp(s->t + start, "null", 4) == 0))
		return 0;
	return fail(s, "\"%.*s\" at byte %zu is not a JSON value (only true, false and null "
	    "are literals)", (int)(n > 16 ? 16 : n), s->t + start, start);
}

int
jsontext_check(const char *text, size_t len, char *why, size_t whylen)
{
	struct scan s = { .t = text, .len = len, .why = why, .whylen = whylen };
	int want_key = 0, rc;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	while (s.pos < s.len) {
		char c = s.t[s.pos];
		struct level *top = s.depth > 0 && s.depth <= DEPTH_MAX ? &s.lv[s.depth - 1] : NULL;

		switch (c) {
		case ' ': case '\t': case '\n': case '\r':
			s.pos++;
			break;
		case '{':
		case '[':
			if (s.depth >= DEPTH_MAX)
				return fail(&s, "nested deeper than %d levels", DEPTH_MAX);
			s.lv[s.depth].is_object = c == '{';
			s.lv[s.depth].index = 0;
			s.lv[s.depth].key[0] = '\0';
			s.depth++;
			want_key = c == '{';
			s.pos++;
			break;
		case '}':
		case ']':
			if (s.depth > 0)
				s.depth--;
			want_key = 0;
			s.pos++;
			break;
		case ',':
			if (top != NULL && top->is_object)
				want_key = 1;
			else if (top != NULL)
				top->index++;
			s.pos++;
			break;
		case ':':
			want_key = 0;
			s.pos++;
			break;
		case '"':
			if (want_key && top != NULL) {
				/* the key names the path only once it is read */
				char key[KEY_MAX];

				snprintf(top->key, sizeof(top->key), "(member name)");
				if ((rc = string(&s, key)) != 0)
					return rc;
				memcpy(top->key, key, sizeof(key));
			} else if ((rc = string(&s, NULL)) != 0)
				return rc;
			break;
		case '\'':
			return fail(&s, "single quote at byte %zu: JSON strings and member names "
			    "take double quotes", s.pos);
		default:
			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
				if ((rc = word(&s)) != 0)
					return rc;
			} else if ((c >= '0' && c <= '9') || c == '-') {
				/* json-c has checked the number's form; an exponent's e
				 * is part of it, not a word */
				s.pos++;
				while (s.pos < s.len && strchr("0123456789eE+-.", s.t[s.pos]) != NULL &&
				    s.t[s.pos] != '\0')
					s.pos++;
			} else {
				return fail(&s, "unexpected byte 0x%02X at byte %zu", (unsigned char)c,
				    s.pos);
			}
		}
	}
	return 0;
}
