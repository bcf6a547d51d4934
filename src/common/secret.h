/* Secrets (PINs, SO PINs, key material): heap buffers wiped before free. */
#ifndef UKEY_SECRET_H
#define UKEY_SECRET_H

#include <stddef.h>
#include <stdint.h>

struct secret {
	uint8_t *p;	/* NUL-terminated for convenience; len excludes the NUL */
	size_t len;
};

/* Copies len bytes into s (owned by s). Returns 0 or UKEY_ERR_NOMEM. */
int secret_set(struct secret *s, const void *data, size_t len);

/* Fills s with n random decimal digits from the CSPRNG. */
int secret_random_digits(struct secret *s, size_t n);

/* Fills s with n random characters from a PIN-safe alphabet (letters and digits). */
int secret_random_alnum(struct secret *s, size_t n);

/* n random upper-case hex digits (an SO PIN that encodes a binary key). */
int secret_random_hex(struct secret *s, size_t n);

/* Wipes and frees s's buffer; s may be all-zero. Leaves s empty. */
void secret_clear(struct secret *s);

/* Hex coding, on OpenSSL's OPENSSL_buf2hexstr_ex and OPENSSL_hexstr2buf_ex:
 * the one hex encoder and decoder of the station. */

/* Writes the hex digits of the len bytes at p and a NUL into out, which holds
 * outlen bytes (at least 2 * len + 1); upper case when upper, else lower.
 * Returns 0 or UKEY_ERR_INVAL when out is too small. */
int hex_write(char *out, size_t outlen, const uint8_t *p, size_t len, int upper);
/* Lower-case hex of the len bytes at p: a malloc'd string, or NULL. */
char *hex_encode(const uint8_t *p, size_t len);
/* Decodes the NUL-terminated hex string hex (digits in either case, nothing
 * else) into the outcap bytes at out and sets *outlen to their number.
 * Returns 0, or UKEY_ERR_INVAL for an odd number of digits, a character that
 * is no hex digit or more bytes than outcap (*outlen is then 0). */
int hex_read(const char *hex, uint8_t *out, size_t outcap, size_t *outlen);
/* Reads the NUL-terminated string of exactly four hex digits hex (a USB id,
 * the digits of a JSON \u escape) into *out. Returns 0 or UKEY_ERR_INVAL. */
int hex_read4(const char *hex, unsigned *out);
/* Decodes hex into a malloc'd buffer; returns 0, UKEY_ERR_INVAL or UKEY_ERR_NOMEM. */
int hex_decode(const char *hex, uint8_t **out, size_t *outlen);

/* Wipes a buffer in a way the compiler may not drop. */
void secure_wipe(void *p, size_t len);

#endif
