/* Secret buffers and hex coding. Random data comes from OpenSSL's CSPRNG. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
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

int
hex_write(char *out, size_t outlen, const uint8_t *p, size_t len, int upper)
{
	size_t i;

	/* OpenSSL writes upper case; the station's stored hex is lower case */
	if (outlen < 2 * len + 1 || OPENSSL_buf2hexstr_ex(out, outlen, NULL, p, len, '\0') != 1)
		return UKEY_ERR_INVAL;
	for (i = 0; !upper && i < 2 * len; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	return 0;
}

char *
hex_encode(const uint8_t *p, size_t len)
{
	char *s;

	if ((s = malloc(len * 2 + 1)) == NULL)
		return NULL;
	if (hex_write(s, len * 2 + 1, p, len, 0) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

int
hex_read(const char *hex, uint8_t *out, size_t outcap, size_t *outlen)
{
	int ok;

	*outlen = 0;
	/* a refusal is the caller's to report: keep OpenSSL's error queue as it was */
	ERR_set_mark();
	ok = OPENSSL_hexstr2buf_ex(out, outcap, outlen, hex, '\0') == 1;
	ERR_pop_to_mark();
	if (!ok) {
		*outlen = 0;
		return UKEY_ERR_INVAL;
	}
	return 0;
}

int
hex_read4(const char *hex, unsigned *out)
{
	uint8_t b[2];
	size_t n;

	if (hex_read(hex, b, sizeof(b), &n) != 0 || n != sizeof(b))
		return UKEY_ERR_INVAL;
	*out = (unsigned)b[0] << 8 | b[1];
	return 0;
}

int
hex_decode(const char *hex, uint8_t **out, size_t *outlen)
{
	size_t n;
	uint8_t *p;

	*out = NULL;
	*outlen = 0;
	if (hex == NULL || (n = strlen(hex)) % 2 != 0)
		return UKEY_ERR_INVAL;
	if ((p = malloc(n / 2 + 1)) == NULL)
		return UKEY_ERR_NOMEM;
	if (hex_read(hex, p, n / 2, outlen) != 0) {
		free(p);
		return UKEY_ERR_INVAL;
	}
	p[n / 2] = 0;
	*out = p;
	return 0;
}
