/* UTF-8 checks for text that ends up in certificate subjects and token labels:
 * well-formedness, length in characters, control characters, safe truncation. */
#ifndef UKEY_UTF8_H
#define UKEY_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the character that starts at s, of which at most len bytes are
 * read: returns its length in bytes (1 to 4) and, when cp is not NULL, sets
 * *cp to its code point. Returns 0 when len is 0 or the bytes at s start no
 * well-formed character (the rules of utf8_valid()); *cp is then untouched. */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp);

/* Returns 1 if the len bytes at s are well-formed UTF-8 (RFC 3629: no overlong
 * forms, no surrogates U+D800..U+DFFF, nothing above U+10FFFF), else 0.
 * An embedded NUL byte is well-formed; utf8_has_control() catches it. */
int utf8_valid(const char *s, size_t len);

/* Returns the number of code points in the NUL-terminated string s, which must
 * be valid UTF-8 (check with utf8_valid() first); counts lead bytes. */
size_t utf8_chars(const char *s);

/* Returns 1 if the NUL-terminated string s holds a C0 control character
 * (U+0000..U+001F), DEL (U+007F) or a C1 control character (U+0080..U+009F),
 * else 0. s should be valid UTF-8. */
int utf8_has_control(const char *s);

/* Returns the byte length of the longest prefix of the valid UTF-8 string s
 * that is at most maxbytes long and ends on a character boundary; used to fit
 * a name into a fixed-size field such as a 32-byte PKCS#11 token label. */
size_t utf8_cut(const char *s, size_t maxbytes);

#endif
