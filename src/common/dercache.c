/* Decoded copies of a job's keys, certificates and request (dercache.h). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>

#include "common/dercache.h"
#include "common/spki.h"

static int
same_der(const struct der_copy *d, const uint8_t *der, size_t len)
{
	return d->obj != NULL && d->len == len && memcmp(d->der, der, len) == 0;
}

static void
forget(struct der_copy *d, void (*release)(void *))
{
	if (d->obj != NULL)
		release(d->obj);
	free(d->der);
	memset(d, 0, sizeof(*d));
}

/* Keeps obj as what der decodes to; without memory, keeps nothing. */
static void
keep(struct der_copy *d, const uint8_t *der, size_t len, void *obj, void (*release)(void *))
{
	uint8_t *copy = malloc(len);

	forget(d, release);
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
decode_pkey(const uint8_t *der, size_t len)
{
	return spki_decode(der, len);
}

static void
release_pkey(void *o)
{
	EVP_PKEY_free(o);
}

/* The object of type it that der decodes to as a whole, else NULL. */
static void *
decode_whole(const ASN1_ITEM *it, const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	ASN1_VALUE *v = ASN1_item_d2i(NULL, &p, (long)len, it);

	if (v != NULL && p != der + len) {
		ASN1_item_free(v, it);
		v = NULL;
	}
	return v;
}

static void *
decode_x509(const uint8_t *der, size_t len)
{
	return decode_whole(ASN1_ITEM_rptr(X509), der, len);
}

static void
release_x509(void *o)
{
	X509_free(o);
}

static void *
decode_req(const uint8_t *der, size_t len)
{
	return decode_whole(ASN1_ITEM_rptr(X509_REQ), der, len);
}

static void
release_req(void *o)
{
	X509_REQ_free(o);
}

/* The one of the n slots d that holds der, else the one asked for least
 * recently; *found says which. */
static struct der_copy *
slot(struct der_copy *d, size_t n, const uint8_t *der, size_t len, int *found)
{
	struct der_copy *oldest = d;
	size_t i;

	*found = 0;
	for (i = 0; i < n; i++) {
		if (same_der(&d[i], der, len)) {
			*found = 1;
			return &d[i];
		}
		if (d[i].used < oldest->used)
			oldest = &d[i];
	}
	return oldest;
}

/* The object one of the n slots d keeps for der (borrowed), decoded now into
 * the slot asked for least recently when none holds it; NULL when der does
 * not parse as a whole. */
static void *
lookup(struct dercache *c, struct der_copy *d, size_t n, const uint8_t *der, size_t len,
    void *(*decode)(const uint8_t *, size_t), void (*release)(void *))
{
	struct der_copy *to;
	void *o;
	int found;

	if (der == NULL || len == 0 || len > LONG_MAX)
		return NULL;
	to = slot(d, n, der, len, &found);
	if (!found) {
		if ((o = decode(der, len)) == NULL) {
			ERR_clear_error();
			return NULL;
		}
		keep(to, der, len, o, release);
	}
	to->used = ++c->clock;
	return to->obj;
}

EVP_PKEY *
dercache_pubkey(struct dercache *c, const uint8_t *der, size_t len)
{
	EVP_PKEY *k = lookup(c, &c->pubkey, 1, der, len, decode_pkey, release_pkey);

	return k != NULL && EVP_PKEY_up_ref(k) == 1 ? k : NULL;
}

X509 *
dercache_cert(struct dercache *c, const uint8_t *der, size_t len)
{
	X509 *x = lookup(c, c->cert, DERCACHE_CERTS, der, len, decode_x509, release_x509);

	return x != NULL && X509_up_ref(x) == 1 ? x : NULL;
}

void
dercache_cert_keep(struct dercache *c, const uint8_t *der, size_t len, X509 *x)
{
	struct der_copy *to;
	int found;

	if (der == NULL || len == 0 || x == NULL)
		return;
	to = slot(c->cert, DERCACHE_CERTS, der, len, &found);
	if (!found && X509_up_ref(x) == 1)
		keep(to, der, len, x, release_x509);
	to->used = ++c->clock;
}

void
dercache_csr_keep(struct dercache *c, const uint8_t *der, size_t len, X509_REQ *req)
{
	if (der == NULL || len == 0) {
		X509_REQ_free(req);
		return;
	}
	keep(&c->csr, der, len, req, release_req);
}

X509_REQ *
dercache_csr_take(struct dercache *c, const uint8_t *der, size_t len)
{
	X509_REQ *r;

	if (der == NULL || len == 0 || len > LONG_MAX)
		return NULL;
	if (c != NULL && same_der(&c->csr, der, len)) {
		r = c->csr.obj;
		c->csr.obj = NULL;
		forget(&c->csr, release_req);
		return r;
	}
	if ((r = decode_req(der, len)) == NULL)
		ERR_clear_error();
	return r;
}

void
dercache_clear(struct dercache *c)
{
	size_t i;

	forget(&c->pubkey, release_pkey);
	for (i = 0; i < DERCACHE_CERTS; i++)
		forget(&c->cert[i], release_x509);
	forget(&c->csr, release_req);
	c->clock = 0;
}
