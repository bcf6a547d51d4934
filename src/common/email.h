/* E-mail addresses as a certificate's rfc822Name carries them: shared by the
 * order parser and the CA connector. */
#ifndef UKEY_EMAIL_H
#define UKEY_EMAIL_H

#include <stddef.h>

/* An e-mail address in the form a certificate's rfc822Name can carry
 * (RFC 5280 4.2.1.6: an RFC 5321 Mailbox, IA5String, so ASCII only): a
 * dot-atom local part of at most 64 characters (letters, digits and
 * !#$%&'*+/=?^_`{|}~- , dots only between them), '@', and a domain of at
 * least two labels (letters, digits, inner hyphens, 1-63 each), 254
 * characters in all. Quoted local parts, address literals and non-ASCII
 * addresses are refused. Returns 0 with the address, its domain in lower
 * case, in out (at least EMAIL_MAX + 1 bytes), or UKEY_ERR_INVAL with why
 * set (never repeating the address). */
#define EMAIL_MAX 254
int email_normalize(const char *s, char *out, size_t outlen, char *why, size_t whylen);

#endif
