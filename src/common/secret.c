/* Secret buffers and hex coding. Random data comes from OpenSSL's CSPRNG. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/err.h"
#include "common/secret.h"

void
secure_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

int
secret_set(struct secret *s, const void *data, size_t len)
{
	uint8_t *p;

	if ((p = malloc(len + 1)) == NULL)
		return UKEY_ERR_NOMEM;
	memcpy(p, data, len);
	p[len] = '\0';
	secret_clear(s);
	s->p = p;
	s->len = len;
	return 0;
}

static int
secret_random_from(struct secret *s, size_t n, const char *alphabet)
{
	size_t na = strlen(alphabet), i = 0;
	/* the largest multiple of na below 256, so that the mapping has no bias */
	unsigned limit = 256 - (256 % (unsigned)na);
	uint8_t buf[64], *p;
	int rc = UKEY_ERR_CRYPTO;

	if ((p = malloc(n + 1)) == NULL)
		return UKEY_ERR_NOMEM;
	while (i < n) {
		size_t j;

		if (RAND_bytes(buf, sizeof(buf)) != 1)
			goto out;
		for (j = 0; j < sizeof(buf) && i < n; j++)
			if (buf[j] < limit)
				p[i++] = (uint8_t)alphabet[buf[j] % na];
	}
	p[n] = '\0';
	secret_clear(s);
	s->p = p;
	s->len = n;
	p = NULL;
	rc = 0;
 out:
	secure_wipe(buf, sizeof(buf));
	if (p != NULL) {
		secure_wipe(p, n);
		free(p);
	}
	return rc;
}

int
secret_random_digits(struct secret *s, size_t n)
{
	return secret_random_from(s, n, "0123456789");
}

int
secret_random_alnum(struct secret *s, size_t n)
{
	/* no 0/O, 1/l/I: an SO PIN may one day be read aloud from a recovery sheet */
	return secret_random_from(s, n, "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz");
}

int
secret_random_hex(struct secret *s, size_t n)
{
	return secret_random_from(s, n, "0123456789ABCDEF");
}

void
secret_clear(struct secret *s)
{
	if (s == NULL)
		return;
	if (s->p != NULL) {
		secure_wipe(s->p, s->len);
		free(s->p);
	}
	s->p = NULL;
	s->len = 0;
}

char *
hex_encode(const uint8_t *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char *s;
	size_t i;

	if ((s = malloc(len * 2 + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * len] = '\0';
	return s;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hex_decode(const char *hex, uint8_t **out, size_t *outlen)
{
	size_t n, i;
	uint8_t *p;

	*out = NULL;
	*outlen = 0;
	if (hex == NULL || (n = strlen(hex)) % 2 != 0)
		return UKEY_ERR_INVAL;
	if ((p = malloc(n / 2 + 1)) == NULL)
		return UKEY_ERR_NOMEM;
	for (i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(p);
			return UKEY_ERR_INVAL;
		}
		p[i] = (uint8_t)(hi << 4 | lo);
	}
	p[n / 2] = 0;
	*out = p;
	*outlen = n / 2;
	return 0;
}
