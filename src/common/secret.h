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

/* Hex helpers (lower case). hex_encode returns a malloc'd string or NULL. */
char *hex_encode(const uint8_t *p, size_t len);
/* Decodes hex into a malloc'd buffer; returns 0, UKEY_ERR_INVAL or UKEY_ERR_NOMEM. */
int hex_decode(const char *hex, uint8_t **out, size_t *outlen);

/* Wipes a buffer in a way the compiler may not drop. */
void secure_wipe(void *p, size_t len);

#endif
