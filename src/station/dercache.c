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

static void
release_pkey(void *o)
{
	EVP_PKEY_free(o);
}

static void
release_x509(void *o)
{
	X509_free(o);
}

EVP_PKEY *
dercache_pubkey(struct dercache *c, const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	EVP_PKEY *k;

	if (der == NULL || len == 0)
		return NULL;
	if (!same_der(&c->pubkey, der, len)) {
		if ((k = d2i_PUBKEY(NULL, &p, (long)len)) == NULL || p != der + len) {
			EVP_PKEY_free(k);
			ERR_clear_error();
			return NULL;
		}
		keep(&c->pubkey, der, len, k, release_pkey);
		if (c->pubkey.obj == NULL)
			return NULL;
	}
	return EVP_PKEY_up_ref(c->pubkey.obj) == 1 ? c->pubkey.obj : NULL;
}

X509 *
dercache_cert(struct dercache *c, const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x;

	if (der == NULL || len == 0)
		return NULL;
	if (!same_der(&c->cert, der, len)) {
		if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len) {
			X509_free(x);
			ERR_clear_error();
			return NULL;
		}
		keep(&c->cert, der, len, x, release_x509);
		if (c->cert.obj == NULL)
			return NULL;
	}
	return X509_up_ref(c->cert.obj) == 1 ? c->cert.obj : NULL;
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
