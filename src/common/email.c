/* E-mail address checking and normal form (RFC 5280 4.2.1.6, RFC 5321). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/email.h"
#include "common/err.h"

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

static int
is_atext(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL);
}

static int
is_ldh(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '-';
}

int
email_normalize(const char *s, char *out, size_t outlen, char *why, size_t whylen)
{
	const char *at, *p, *label;
	size_t len, i, labels = 0;

	if (outlen > 0)
		out[0] = '\0';
	len = s != NULL ? strlen(s) : 0;
	if (len == 0 || len > EMAIL_MAX) {
		say(why, whylen, "must be an e-mail address of at most %d characters", EMAIL_MAX);
		return UKEY_ERR_INVAL;
	}
	at = strchr(s, '@');
	if (at == NULL || strchr(at + 1, '@') != NULL) {
		say(why, whylen, "must be an e-mail address with one '@' (name@example.cn)");
		return UKEY_ERR_INVAL;
	}
	if (at == s || (size_t)(at - s) > 64) {
		say(why, whylen, "the part before '@' must be 1 to 64 characters");
		return UKEY_ERR_INVAL;
	}
	for (p = s; p < at; p++) {
		if (*p == '.' ? (p == s || p + 1 == at || p[1] == '.') : !is_atext((unsigned char)*p)) {
			say(why, whylen, "the part before '@' may hold letters, digits, "
			    "!#$%%&'*+/=?^_`{|}~- and single inner dots only (ASCII)");
			return UKEY_ERR_INVAL;
		}
	}
	for (label = p = at + 1;; p++) {
		if (*p == '.' || *p == '\0') {
			if (p == label || p - label > 63 || label[0] == '-' || p[-1] == '-') {
				say(why, whylen, "the domain after '@' must be labels of 1 to 63 letters, "
				    "digits and inner hyphens, separated by dots");
				return UKEY_ERR_INVAL;
			}
			labels++;
			if (*p == '\0')
				break;
			label = p + 1;
		} else if (!is_ldh((unsigned char)*p)) {
			say(why, whylen, "the domain after '@' may hold letters, digits, hyphens and "
			    "dots only (ASCII)");
			return UKEY_ERR_INVAL;
		}
	}
	if (labels < 2) {
		say(why, whylen, "the domain after '@' must have at least two labels (example.cn)");
		return UKEY_ERR_INVAL;
	}
	if (len + 1 > outlen) {
		say(why, whylen, "no room for the address");
		return UKEY_ERR_INVAL;
	}
	/* the domain is case-insensitive (RFC 5321 2.4); the local part is
	 * kept as given */
	for (i = 0; i <= len; i++)
		out[i] = &s[i] > at && s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
	return 0;
}
