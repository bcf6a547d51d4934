/* The station's side of the CA: opening the connector, publishing its CRL
 * to [ca] crl_path on every revocation and every crl_interval, and reading
 * it back for ca.crl. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ca/certcheck.h"
#include "common/err.h"
#include "common/keyfile.h"
#include "common/secret.h"
#include "common/log.h"
#include "station/station_impl.h"

#define CRL_RETRY_MS 60000	/* a CRL that could not be written is tried again */

static void crl_cache_published(struct station *s, X509_CRL *crl, const char *pem, size_t len);

int
station_ca_open(struct station *s)
{
	struct station_config *c = &s->cfg;
	int rc;

	if (c->ca_dir[0] == '\0' &&
	    (size_t)snprintf(c->ca_dir, sizeof(c->ca_dir), "%.500s/ca", s->state_dir) >=
	    sizeof(c->ca_dir))
		return UKEY_ERR_INVAL;
	if (c->ca_crl_path[0] == '\0' &&
	    (size_t)snprintf(c->ca_crl_path, sizeof(c->ca_crl_path), "%.500s/crl.pem", c->ca_dir) >=
	    sizeof(c->ca_crl_path))
		return UKEY_ERR_INVAL;
	if (strcmp(c->ca_type, "cmp") == 0) {
		char err[256] = "";

		if ((rc = ca_cmp_open(&c->cmp, &s->ca, err, sizeof(err))) != 0) {
			log_error("CMP CA %s: %s", c->cmp.server, err);
			return rc;
		}
	} else if ((rc = ca_embedded_open(c->ca_dir, c->ca_name, &s->ca)) != 0) {
		log_error("embedded CA in %s: %s", c->ca_dir, ukey_strerror(rc));
		return rc;
	}
	if ((rc = cathread_start(s->ca, &s->cathread)) != 0)
		return rc;
	/* a CRL at start: what was revoked while the station was down (by
	 * another tool on ca.db) is published, and a fresh install has one */
	(void)station_crl_publish(s, NULL);
	return 0;
}

int
station_crl_publish(struct station *s, int64_t *number)
{
	X509_CRL *crl = NULL;
	ASN1_INTEGER *num = NULL;
	BIO *bio = NULL;
	BUF_MEM *mem;
	/* nextUpdate leaves one interval of grace past the next signing */
	int64_t validity = 2 * (int64_t)s->cfg.ca_crl_interval;
	int rc;

	if (number != NULL)
		*number = 0;
	s->next_crl_ms = now_ms() + CRL_RETRY_MS;
	s->crl_revocations = ca_revocations(s->ca);
	if ((rc = ca_crl(s->ca, validity, &crl)) != 0) {
		if (rc == UKEY_ERR_UNSUPPORTED) {
			/* the CA publishes its own; nothing to do until a restart */
			s->next_crl_ms = INT64_MAX;
			return rc;
		}
		log_error("CRL: %s", ukey_strerror(rc));
		goto out;
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509_CRL(bio, crl) != 1) {
		log_openssl("PEM_write_bio_X509_CRL");
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	BIO_get_mem_ptr(bio, &mem);
	/* readable by all: a web server publishes it */
	if ((rc = file_write_atomic(s->cfg.ca_crl_path, mem->data, mem->length, 0644)) != 0)
		goto out;
	crl_cache_published(s, crl, mem->data, mem->length);
	if (number != NULL && (num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL)) != NULL)
		*number = ASN1_INTEGER_get(num);
	s->next_crl_ms = now_ms() + (int64_t)s->cfg.ca_crl_interval * 1000;
	rc = 0;
 out:
	ASN1_INTEGER_free(num);
	BIO_free(bio);
	X509_CRL_free(crl);
	return rc;
}

void
station_crl_if_due(struct station *s)
{
	if (s->ca == NULL ||
	    (now_ms() < s->next_crl_ms && ca_revocations(s->ca) == s->crl_revocations))
		return;
	(void)station_crl_publish(s, NULL);
}

/* A copy of the CRL at crl_path, and the file it was read from. */
struct crl_cache {
	struct crl_copy c;
	struct stat st;
};

#define CRL_FILE_MAX (256 * 1024 * 1024)	/* a sanity bound, not a policy */

static void
crl_cache_free(struct crl_cache *k)
{
	if (k == NULL)
		return;
	free(k->c.pem);
	free(k);
}

/* The same version of the file: rename() of a new CRL gives a new inode, an
 * edit in place a new size or time. */
static int
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The whole file open at fd (st its fstat) into a malloc'd *buf. */
static int
read_all(int fd, const struct stat *st, char **buf, size_t *len)
{
	size_t cap = (size_t)st->st_size + 1, n = 0;
	ssize_t got;

	*buf = NULL;
	*len = 0;
	if (st->st_size < 0 || st->st_size > CRL_FILE_MAX)
		return UKEY_ERR_INVAL;
	if ((*buf = malloc(cap)) == NULL)
		return UKEY_ERR_NOMEM;
	while (n < cap && (got = read(fd, *buf + n, cap - n)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			free(*buf);
			*buf = NULL;
			return UKEY_ERR_IO;
		}
		n += (size_t)got;
	}
	*len = n;
	return 0;
}

/* What the CRL says of itself, into c. */
static void
crl_describe(X509_CRL *crl, struct crl_copy *c)
{
	ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	const ASN1_TIME *t;
	int n;

	c->number = num != NULL ? ASN1_INTEGER_get(num) : -1;
	ASN1_INTEGER_free(num);
	if ((t = X509_CRL_get0_lastUpdate(crl)) == NULL ||
	    cert_time_iso(t, c->this_update, sizeof(c->this_update)) != 0)
		c->this_update[0] = '\0';
	if ((t = X509_CRL_get0_nextUpdate(crl)) == NULL ||
	    cert_time_iso(t, c->next_update, sizeof(c->next_update)) != 0)
		c->next_update[0] = '\0';
	/* an empty CRL has no list at all (-1) */
	n = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));
	c->revoked = n > 0 ? n : 0;
}

/* Keeps crl, whose PEM is the len bytes at pem, with its digest and
 * description. */
static int
crl_cache_set(struct crl_cache *k, X509_CRL *crl, const char *pem, size_t len)
{
	unsigned char md[32];

	if ((k->c.pem = malloc(len + 1)) == NULL)
		return UKEY_ERR_NOMEM;
	memcpy(k->c.pem, pem, len);
	k->c.pem[len] = '\0';
	k->c.len = len;
	if (EVP_Digest(k->c.pem, k->c.len, md, NULL, EVP_sha256(), NULL) != 1 ||
	    hex_write(k->c.sha256, sizeof(k->c.sha256), md, sizeof(md), 0) != 0)
		return UKEY_ERR_CRYPTO;
	crl_describe(crl, &k->c);
	return 0;
}

/* Parses the file's text and keeps the CRL re-encoded as PEM. */
static int
crl_cache_fill(const char *text, size_t len, struct crl_cache *k)
{
	X509_CRL *crl = NULL;
	BIO *in = NULL, *out = NULL;
	BUF_MEM *mem;
	int rc = UKEY_ERR_CRYPTO;

	if (len > INT_MAX || (in = BIO_new_mem_buf(text, (int)len)) == NULL ||
	    (crl = PEM_read_bio_X509_CRL(in, NULL, NULL, NULL)) == NULL ||
	    (out = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509_CRL(out, crl) != 1)
		goto out;
	BIO_get_mem_ptr(out, &mem);
	rc = crl_cache_set(k, crl, mem->data, mem->length);
 out:
	BIO_free(in);
	BIO_free(out);
	X509_CRL_free(crl);
	return rc;
}

/* The CRL just written to crl_path becomes the copy ca.crl serves, without
 * reading it back: a CRL of 100,000 revocations takes a third of a second
 * and more to parse (docs/performance.md). A failure only drops the copy. */
static void
crl_cache_published(struct station *s, X509_CRL *crl, const char *pem, size_t len)
{
	struct crl_cache *k = calloc(1, sizeof(*k));

	station_crl_forget(s);
	if (k == NULL || stat(s->cfg.ca_crl_path, &k->st) != 0 ||
	    crl_cache_set(k, crl, pem, len) != 0) {
		crl_cache_free(k);
		return;
	}
	s->crl_cache = k;
}

/* Reads the file open at fd into a new copy. */
static int
crl_cache_read(int fd, const struct stat *st, struct crl_cache **out)
{
	struct crl_cache *k;
	char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return UKEY_ERR_NOMEM;
	k->st = *st;
	if ((rc = read_all(fd, st, &text, &len)) != 0 ||
	    (rc = crl_cache_fill(text, len, k)) != 0) {
		if (rc == UKEY_ERR_INVAL)
			rc = UKEY_ERR_CRYPTO;	/* too large for a CRL */
		crl_cache_free(k);
		k = NULL;
	}
	free(text);
	*out = k;
	return rc;
}

int
station_crl_current(struct station *s, const struct crl_copy **out)
{
	struct crl_cache *k = NULL;
	struct stat st;
	int fd, rc;

	*out = NULL;
	if ((fd = open(s->cfg.ca_crl_path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? UKEY_ERR_NOTFOUND : UKEY_ERR_IO;
	if (fstat(fd, &st) != 0) {
		rc = UKEY_ERR_IO;
		goto out;
	}
	if (s->crl_cache == NULL || !same_file(&s->crl_cache->st, &st)) {
		if ((rc = crl_cache_read(fd, &st, &k)) != 0)
			goto out;
		crl_cache_free(s->crl_cache);
		s->crl_cache = k;
	}
	*out = &s->crl_cache->c;
	rc = 0;
 out:
	close(fd);
	return rc;
}

void
station_crl_forget(struct station *s)
{
	crl_cache_free(s->crl_cache);
	s->crl_cache = NULL;
}
