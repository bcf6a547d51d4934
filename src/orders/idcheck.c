/* Check characters and format rules of the USCC (GB 32100-2015) and the
 * resident identity number (GB 11643-1999, ISO 7064 MOD 11-2), mobile-number
 * and e-mail address normalization, and masking. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/caldate.h"
#include "common/err.h"
#include "common/utf8.h"
#include "orders/idcheck.h"

static const char uscc_alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/* W(i) = 3^(i-1) mod 31 */
static const int uscc_weights[17] = {
	1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28
};

static const int rid_weights[17] = {
	7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2
};

static const char rid_map[] = "10X98765432";

static void __attribute__((format(printf, 3, 4)))
say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* The character at s: returns its byte length and sets *cp to its code
 * point, or to 0xFFFD for a byte that starts no well-formed UTF-8 character
 * (it then counts as one character of its own). s is not at its NUL. */
static size_t
decode(const char *s, unsigned *cp)
{
	uint32_t c;
	size_t n = utf8_decode(s, strnlen(s, 4), &c);

	*cp = n == 0 ? 0xFFFD : c;
	return n == 0 ? 1 : n;
}

/* Length in characters, as a person counts them, not in bytes. */
static size_t
nchars(const char *s)
{
	size_t n = 0;
	unsigned cp;

	while (*s != '\0') {
		s += decode(s, &cp);
		n++;
	}
	return n;
}

/* why for the non-ASCII character at (n bytes, code point cp), character
 * pos of its string: full-width forms, as Chinese input methods type them,
 * are told with the ASCII character meant; others get rule. */
static void
say_not_ascii(char *why, size_t whylen, size_t pos, const char *at, size_t n, unsigned cp,
    const char *rule, const char *std)
{
	if (cp >= 0xFF01 && cp <= 0xFF5E)
		say(why, whylen, "character %zu '%.*s' is full-width (U+%04X): only ASCII is "
		    "allowed, write '%c'%s", pos, (int)n, at, cp, (char)(cp - 0xFEE0), std);
	else if (cp == 0x3000)
		say(why, whylen, "character %zu is a full-width space (U+3000): only ASCII is "
		    "allowed%s", pos, std);
	else if (cp != 0xFFFD)
		say(why, whylen, "character %zu (U+%04X) %s%s", pos, cp, rule, std);
	else
		say(why, whylen, "character %zu %s%s", pos, rule, std);
}

int
id_ascii_check(const char *s, char *why, size_t whylen)
{
	size_t pos, n;
	unsigned cp;

	say(why, whylen, "%s", "");
	for (pos = 1; s != NULL && *s != '\0'; pos++, s += n) {
		n = decode(s, &cp);
		if (cp >= 0x80) {
			say_not_ascii(why, whylen, pos, s, n, cp, "is not an ASCII character", "");
			return UKEY_ERR_INVAL;
		}
	}
	return 0;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Value 0..30 of c in the USCC alphabet, or -1. */
static int
uscc_value(char c)
{
	const char *p;

	if (c == '\0')
		return -1;
	p = strchr(uscc_alphabet, c);
	return p == NULL ? -1 : (int)(p - uscc_alphabet);
}

char
uscc_check_char(const char *first17)
{
	int i, v, sum = 0;

	for (i = 0; i < 17; i++) {
		if ((v = uscc_value(first17[i])) < 0)
			return 0;	/* also stops at a NUL, so no over-read */
		sum += v * uscc_weights[i];
	}
	return uscc_alphabet[(31 - sum % 31) % 31];
}

int
uscc_check(const char *s, char *why, size_t whylen)
{
	const char *p;
	size_t len = 0, i, n;
	char want;

	say(why, whylen, "%s", "");
	/* characters, not bytes: a code typed in full-width forms has 18
	 * characters and is told so, not that it has 54 */
	if (s == NULL || (len = nchars(s)) != 18) {
		say(why, whylen, "must be 18 characters, not %zu (GB 32100-2015)",
		    s == NULL ? (size_t)0 : len);
		return UKEY_ERR_INVAL;
	}
	for (i = 0, p = s; *p != '\0'; i++, p += n) {
		unsigned cp;

		if ((n = decode(p, &cp)) > 1 || cp >= 0x80) {
			say_not_ascii(why, whylen, i + 1, p, n, cp, "is not in the code alphabet "
			    "0-9 A-Z without I O S V Z", " (GB 32100-2015)");
			return UKEY_ERR_INVAL;
		}
	}
	/* all ASCII now: byte i is character i + 1 */
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (uscc_value(s[i]) < 0) {
			if (c >= 0x21 && c < 0x7F)
				say(why, whylen, "character %zu '%c' is not in the code alphabet "
				    "0-9 A-Z without I O S V Z (GB 32100-2015)", i + 1, c);
			else
				say(why, whylen, "character %zu is not in the code alphabet "
				    "0-9 A-Z without I O S V Z (GB 32100-2015)", i + 1);
			return UKEY_ERR_INVAL;
		}
	}
	for (i = 2; i < 8; i++) {
		if (!is_digit(s[i])) {
			say(why, whylen, "characters 3-8 (administrative division) must be "
			    "digits (GB 32100-2015)");
			return UKEY_ERR_INVAL;
		}
	}
	want = uscc_check_char(s);
	if (want != s[17]) {
		say(why, whylen, "check character should be '%c', not '%c' (GB 32100-2015)",
		    want, s[17]);
		return UKEY_ERR_VERIFY;
	}
	return 0;
}

char
rid_check_char(const char *first17)
{
	int i, sum = 0;

	for (i = 0; i < 17; i++) {
		if (!is_digit(first17[i]))
			return 0;
		sum += (first17[i] - '0') * rid_weights[i];
	}
	return rid_map[sum % 11];
}

static int
digits_value(const char *p, int n)
{
	int v = 0;

	while (n-- > 0)
		v = v * 10 + (*p++ - '0');
	return v;
}

int
rid_check(const char *s, time_t now, char normalized[19], char *why, size_t whylen)
{
	const char *p;
	size_t len = 0, i, n;
	int y, m, d;
	long birth, today;
	struct tm tm;
	time_t bj;
	char last, want;

	say(why, whylen, "%s", "");
	if (normalized != NULL)
		normalized[0] = '\0';
	if (s == NULL || (len = nchars(s)) != 18) {
		say(why, whylen, "must be 18 characters, not %zu (GB 11643)",
		    s == NULL ? (size_t)0 : len);
		return UKEY_ERR_INVAL;
	}
	for (i = 0, p = s; *p != '\0'; i++, p += n) {
		unsigned cp;

		if ((n = decode(p, &cp)) > 1 || cp >= 0x80) {
			say_not_ascii(why, whylen, i + 1, p, n, cp, i < 17 ? "must be a digit" :
			    "must be a digit or X", " (GB 11643)");
			return UKEY_ERR_INVAL;
		}
	}
	for (i = 0; i < 17; i++) {
		if (!is_digit(s[i])) {
			say(why, whylen, "character %zu must be a digit (GB 11643)", i + 1);
			return UKEY_ERR_INVAL;
		}
	}
	last = s[17] == 'x' ? 'X' : s[17];
	if (!is_digit(last) && last != 'X') {
		say(why, whylen, "character 18 must be a digit or X (GB 11643)");
		return UKEY_ERR_INVAL;
	}
	y = digits_value(s + 6, 4);
	m = digits_value(s + 10, 2);
	d = digits_value(s + 12, 2);
	if (y < 1800 || !date_valid(y, m, d)) {
		say(why, whylen, "birth date (characters 7-14) is not a real calendar date (GB 11643)");
		return UKEY_ERR_INVAL;
	}
	/* The birth date is a Beijing date; compare it with today's date in
	 * UTC+8 so that a station clock in UTC does not refuse a valid day. */
	bj = now + 8 * 3600;
	if (gmtime_r(&bj, &tm) == NULL) {
		say(why, whylen, "cannot tell today's date to check the birth date");
		return UKEY_ERR_INVAL;
	}
	birth = (long)y * 10000 + m * 100 + d;
	today = (long)(tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
	if (birth > today) {
		say(why, whylen, "birth date (characters 7-14) is in the future (GB 11643)");
		return UKEY_ERR_INVAL;
	}
	if (normalized != NULL) {
		memcpy(normalized, s, 17);
		normalized[17] = last;
		normalized[18] = '\0';
	}
	want = rid_check_char(s);
	if (want != last) {
		say(why, whylen, "check character should be %c, not %c (GB 11643)", want, last);
		return UKEY_ERR_VERIFY;
	}
	return 0;
}

int
phone_normalize(const char *s, char out[12], char *why, size_t whylen)
{
	char buf[32];
	const char *p;
	size_t n = 0, i;

	say(why, whylen, "%s", "");
	out[0] = '\0';
	if (s == NULL) {
		say(why, whylen, "must be a mobile number 1[3-9]xxxxxxxxx");
		return UKEY_ERR_INVAL;
	}
	/* a full-width digit is three bytes: told as what it is, not as a
	 * number that is too long */
	if (id_ascii_check(s, why, whylen) != 0)
		return UKEY_ERR_INVAL;
	for (p = s; *p != '\0'; p++) {
		if (*p == ' ' || *p == '-')
			continue;
		if (n + 1 >= sizeof(buf)) {
			say(why, whylen, "is too long for a mobile number");
			return UKEY_ERR_INVAL;
		}
		buf[n++] = *p;
	}
	buf[n] = '\0';
	p = buf;
	if (strncmp(p, "+86", 3) == 0)
		p += 3;
	else if (strncmp(p, "0086", 4) == 0)
		p += 4;
	if (strlen(p) != 11 || p[0] != '1' || p[1] < '3' || p[1] > '9') {
		say(why, whylen, "must be a mainland mobile number: 11 digits 1[3-9]xxxxxxxxx, "
		    "optionally after +86 or 0086");
		return UKEY_ERR_INVAL;
	}
	for (i = 2; i < 11; i++) {
		if (!is_digit(p[i])) {
			say(why, whylen, "must be a mainland mobile number: 11 digits "
			    "1[3-9]xxxxxxxxx, optionally after +86 or 0086");
			return UKEY_ERR_INVAL;
		}
	}
	memcpy(out, p, 12);
	return 0;
}

void
id_mask(const char *id, char *out, size_t outlen)
{
	size_t len, keep, i, o = 0;

	if (outlen == 0)
		return;
	len = id == NULL ? 0 : strlen(id);
	keep = len == 18 ? 4 : len > 4 ? 2 : 0;
	for (i = 0; i < len && o + 1 < outlen; i++)
		out[o++] = (i < keep || i >= len - keep) ? id[i] : '*';
	out[o] = '\0';
}
