/* UTF-8 well-formedness (RFC 3629), character counts, control characters and
 * truncation on character boundaries, decoding one character. */
#include <stdint.h>
#include <string.h>

#include "common/utf8.h"

size_t
utf8_decode(const char *s, size_t len, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c, min;
	size_t n, k;

	if (len == 0)
		return 0;
	c = p[0];
	if (c < 0x80) {
		n = 1;
		min = 0;
	} else if ((c & 0xE0) == 0xC0) {
		n = 2; c &= 0x1F; min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		n = 3; c &= 0x0F; min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		n = 4; c &= 0x07; min = 0x10000;
	} else {
		return 0;	/* stray continuation byte or 0xF8..0xFF */
	}
	if (len < n)
		return 0;	/* truncated sequence */
	for (k = 1; k < n; k++) {
		if ((p[k] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (p[k] & 0x3F);
	}
	/* An overlong form would let one character hide behind another
	 * spelling (the classic "/" as C0 AF), so refuse it outright. */
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	if (cp != NULL)
		*cp = c;
	return n;
}

int
utf8_valid(const char *s, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		if ((n = utf8_decode(s + i, len - i, NULL)) == 0)
			return 0;
		i += n;
	}
	return 1;
}

size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

int
utf8_has_control(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7F)
			return 1;
		/* U+0080..U+009F are encoded as C2 80 .. C2 9F. */
		if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)
			return 1;
	}
	return 0;
}

size_t
utf8_cut(const char *s, size_t maxbytes)
{
	size_t len = strlen(s);

	if (len <= maxbytes)
		return len;
	/* s[maxbytes] starts the first character left out; step back while it
	 * is a continuation byte, i.e. while the cut would split a character. */
	while (maxbytes > 0 && ((unsigned char)s[maxbytes] & 0xC0) == 0x80)
		maxbytes--;
	return maxbytes;
}
