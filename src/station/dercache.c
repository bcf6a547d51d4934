/* The bay's decoded copies of its job's key and certificate (dercache.h). */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "station/dercache.h"

static int
same_der(const struct der_copy *d, const uint8_t *der, size_t len)
{
	return d->obj != NULL && d->len == len && memcmp(d->der, der, len) == 0;
}

/* Keeps obj as what der decodes to; without memory, keeps nothing. */
static void
keep(struct der_copy *d, const uint8_t *der, size_t len, void *obj, void (*release)(void *))
{
	uint8_t *copy = malloc(len);

	if (d->obj != NULL)
		release(d->obj);
	free(d->der);
	d->der = NULL;
	d->len = 0;
	d->obj = NULL;
	if (copy == NULL) {
		release(obj);
		return;
	}
	memcpy(copy, der, len);
	d->der = copy;
	d->len = len;
	d->obj = obj;
}

static void *
decode_pkey(const unsigned char **p, long len)
{
	return d2i_PUBKEY(NULL, p, len);
}

static void
release_pkey(void *o)
{
	EVP_PKEY_free(o);
}

static void *
decode_x509(const unsigned char **p, long len)
{
	return d2i_X509(NULL, p, len);
}

static void
release_x509(void *o)
{
	X509_free(o);
}

/* The object d keeps for der, decoded now if d holds another (borrowed);
 * NULL when der does not parse as a whole. */
static void *
lookup(struct der_copy *d, const uint8_t *der, size_t len,
    void *(*decode)(const unsigned char **, long), void (*release)(void *))
{
	const unsigned char *p = der;
	void *o;

	if (der == NULL || len == 0)
		return NULL;
	if (same_der(d, der, len))
		return d->obj;
	if ((o = decode(&p, (long)len)) == NULL || p != der + len) {
		if (o != NULL)
			release(o);
		ERR_clear_error();
		return NULL;
	}
	keep(d, der, len, o, release);
	return d->obj;
}

EVP_PKEY *
dercache_pubkey(struct dercache *c, const uint8_t *der, size_t len)
{
	EVP_PKEY *k = lookup(&c->pubkey, der, len, decode_pkey, release_pkey);

	return k != NULL && EVP_PKEY_up_ref(k) == 1 ? k : NULL;
}

X509 *
dercache_cert(struct dercache *c, const uint8_t *der, size_t len)
{
	X509 *x = lookup(&c->cert, der, len, decode_x509, release_x509);

	return x != NULL && X509_up_ref(x) == 1 ? x : NULL;
}

void
dercache_clear(struct dercache *c)
{
	EVP_PKEY_free(c->pubkey.obj);
	X509_free(c->cert.obj);
	free(c->pubkey.der);
	free(c->cert.der);
	memset(c, 0, sizeof(*c));
}
