/* UTF-8 well-formedness (RFC 3629), character counts, control characters and
 * truncation on character boundaries. */
#include <stdint.h>
#include <string.h>

#include "common/utf8.h"

int
utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		uint32_t cp, min;
		size_t n, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0) {
			n = 1; cp = c & 0x1F; min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			n = 2; cp = c & 0x0F; min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			n = 3; cp = c & 0x07; min = 0x10000;
		} else {
			return 0;	/* stray continuation byte or 0xF8..0xFF */
		}
		if (len - i - 1 < n)
			return 0;	/* truncated sequence */
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3F);
		}
		/* An overlong form would let one character hide behind another
		 * spelling (the classic "/" as C0 AF), so refuse it outright. */
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += n + 1;
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
