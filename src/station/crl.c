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
#include "station/threadjob.h"

#define CRL_RETRY_MS 60000	/* a CRL that could not be written is tried again */

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
	/* the workers' requests carry the CA certificate: encoded once */
	{
		unsigned char *der = NULL;
		int n = i2d_X509(ca_cert(s->ca), &der);

		s->ca_hex = n > 0 ? hex_encode(der, (size_t)n) : NULL;
		OPENSSL_free(der);
		if (s->ca_hex == NULL)
			return UKEY_ERR_CRYPTO;
	}
	if ((rc = cathread_start(s->ca, &s->cathread)) != 0)
		return rc;
	/* a CRL at start: what was revoked while the station was down (by
	 * another tool on ca.db) is published, and a fresh install has one;
	 * signed in its thread, so that the bays are served meanwhile (a
	 * ca.crl asked before it is written waits for it) */
	station_crl_publish_async(s, NULL, NULL, NULL);
	return 0;
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

/* Opens the CRL file at path into *fd and fstat()s it into *st: 0,
 * UKEY_ERR_NOTFOUND or UKEY_ERR_IO (nothing left open). */
static int
crl_file_open(const char *path, int *fd, struct stat *st)
{
	if ((*fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? UKEY_ERR_NOTFOUND : UKEY_ERR_IO;
	if (fstat(*fd, st) != 0) {
		close(*fd);
		*fd = -1;
		return UKEY_ERR_IO;
	}
	return 0;
}

int
station_crl_current(struct station *s, const struct crl_copy **out)
{
	struct crl_cache *k = NULL;
	struct stat st;
	int fd, rc;

	*out = NULL;
	if ((rc = crl_file_open(s->cfg.ca_crl_path, &fd, &st)) != 0)
		return rc;
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

/* ---- publication ---- */

/* Someone waiting for a CRL to be written. */
struct crl_waiter {
	crl_published_fn fn;
	void *arg;
	void (*arg_free)(void *);
	struct crl_waiter *next;
};

/* One CRL's publication, made on the loop or in a thread from what was
 * copied for it: the thread touches nothing of the station. A read of a
 * CRL file another tool wrote (station_crl_read) is one too, with only its
 * path, outcome, copy and waiters. */
struct crljob {
	struct ca *ca;			/* its calls hold the CA's own lock */
	int64_t validity;
	char path[sizeof(((struct station_config *)NULL)->ca_crl_path)];
	int rc;
	int64_t number;
	struct crl_cache *copy;		/* what ca.crl serves once it is written */
	struct crl_waiter *waiters;	/* told on the loop when it is done */
};

/* Appends a waiter for fn to *list: 0, or UKEY_ERR_NOMEM (nothing taken). */
static int
waiter_add(struct crl_waiter **list, crl_published_fn fn, void *arg, void (*arg_free)(void *))
{
	struct crl_waiter *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return UKEY_ERR_NOMEM;
	*w = (struct crl_waiter){ fn, arg, arg_free, NULL };
	while (*list != NULL)
		list = &(*list)->next;
	*list = w;
	return 0;
}

static void
waiters_free(struct crl_waiter *w)
{
	struct crl_waiter *next;

	for (; w != NULL; w = next) {
		next = w->next;
		if (w->arg_free != NULL)
			w->arg_free(w->arg);
		free(w);
	}
}

/* Tells each waiter of w what came of it (fn owns its arg then), and frees
 * the list. Loop context. */
static void
waiters_tell(struct station *s, struct crl_waiter *w, int rc, int64_t number)
{
	struct crl_waiter *next;

	for (; w != NULL; w = next) {
		next = w->next;
		w->fn(s, rc, number, w->arg);
		free(w);
	}
}

static void
crljob_free(void *arg)
{
	struct crljob *j = arg;

	if (j == NULL)
		return;
	crl_cache_free(j->copy);
	waiters_free(j->waiters);
	free(j);
}

static struct crljob *
crljob_new(struct station *s)
{
	struct crljob *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->ca = s->ca;
	/* nextUpdate leaves one interval of grace past the next signing */
	j->validity = 2 * (int64_t)s->cfg.ca_crl_interval;
	snprintf(j->path, sizeof(j->path), "%s", s->cfg.ca_crl_path);
	return j;
}

/* Signs the CRL, writes it to its path (readable by all: a web server
 * publishes it) and keeps the copy ca.crl will serve, without reading the
 * file back. No station state: the loop or a thread. */
static void
crljob_make(struct crljob *j)
{
	X509_CRL *crl = NULL;
	struct crl_cache *k;
	BIO *bio = NULL;
	BUF_MEM *mem;

	if ((j->rc = ca_crl(j->ca, j->validity, &crl)) != 0)
		return;
	if ((bio = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509_CRL(bio, crl) != 1) {
		log_openssl("PEM_write_bio_X509_CRL");
		j->rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	BIO_get_mem_ptr(bio, &mem);
	if ((j->rc = file_write_atomic(j->path, mem->data, mem->length, 0644)) != 0)
		goto out;
	/* a copy that cannot be made is only read from the file later */
	if ((k = calloc(1, sizeof(*k))) != NULL && stat(j->path, &k->st) == 0 &&
	    crl_cache_set(k, crl, mem->data, mem->length) == 0) {
		j->copy = k;
		j->number = k->c.number;
	} else {
		struct crl_copy c = { 0 };

		crl_cache_free(k);
		crl_describe(crl, &c);
		j->number = c.number;
	}
 out:
	BIO_free(bio);
	X509_CRL_free(crl);
}

/* Loop context: the station takes the job's outcome (the copy, when the
 * next CRL is due) and tells its waiters. */
static void
crljob_done(struct station *s, struct crljob *j)
{
	struct crl_waiter *w = j->waiters;

	if (j->rc == UKEY_ERR_UNSUPPORTED) {
		/* the CA publishes its own; nothing to do until a restart */
		s->next_crl_ms = INT64_MAX;
	} else if (j->rc != 0) {
		log_error("CRL: %s", ukey_strerror(j->rc));
		s->next_crl_ms = now_ms() + CRL_RETRY_MS;
	} else {
		crl_cache_free(s->crl_cache);
		s->crl_cache = j->copy;
		j->copy = NULL;
		s->next_crl_ms = now_ms() + (int64_t)s->cfg.ca_crl_interval * 1000;
	}
	j->waiters = NULL;
	waiters_tell(s, w, j->rc, j->number);
}

static void
crl_thread_run(void *arg)
{
	crljob_make(arg);
}

static void crl_begin(struct station *s);

static void
crl_thread_reply(struct station *s, int64_t client_id, void *arg)
{
	(void)client_id;	/* none: the station's own job */
	s->crl_job = NULL;
	crljob_done(s, arg);
	crl_begin(s);		/* asked for meanwhile */
}

static const struct threadjob_kind crl_kind = {
	.what = "CRL publications",
	.max = 1,
	.hold_env = "UKEY_TEST_CRL_HOLD",
	.run = crl_thread_run,
	.reply = crl_thread_reply,
	.free = crljob_free,
};

/* Begins the CRL asked for, unless one is being signed: its waiters are
 * those queued so far, its list every revocation made so far. */
static void
crl_begin(struct station *s)
{
	struct crljob *j;

	if (s->crl_job != NULL || !s->crl_due)
		return;
	if ((j = crljob_new(s)) == NULL) {
		log_error("CRL: %s", ukey_strerror(UKEY_ERR_NOMEM));
		s->next_crl_ms = now_ms() + CRL_RETRY_MS;
		return;		/* asked again when due */
	}
	j->waiters = s->crl_queued;
	s->crl_queued = NULL;
	s->crl_due = 0;
	s->crl_revocations = ca_revocations(s->ca);
	s->next_crl_ms = now_ms() + CRL_RETRY_MS;
	if (threadjob_start(s, "CRL publication", &crl_kind, j) == 0) {
		s->crl_job = j;
		return;
	}
	/* no thread for it: signed here, as the loop did before threads */
	crljob_make(j);
	crljob_done(s, j);
	crljob_free(j);
}

void
station_crl_publish_async(struct station *s, crl_published_fn fn, void *arg,
    void (*arg_free)(void *))
{
	if (fn != NULL && waiter_add(&s->crl_queued, fn, arg, arg_free) != 0) {
		fn(s, UKEY_ERR_NOMEM, 0, arg);
		return;
	}
	s->crl_due = 1;
	crl_begin(s);
}

int
station_crl_wait(struct station *s, crl_published_fn fn, void *arg, void (*arg_free)(void *))
{
	if (s->crl_job == NULL && !s->crl_due)
		return 0;
	/* the CRL under way if there is one, else the one asked for; without
	 * memory for the wait, served from the copy there is */
	return waiter_add(s->crl_job != NULL ? &s->crl_job->waiters : &s->crl_queued, fn, arg,
	    arg_free) == 0;
}

void
station_crl_if_due(struct station *s)
{
	if (s->ca == NULL || s->crl_job != NULL ||
	    (!s->crl_due && now_ms() < s->next_crl_ms &&
	    ca_revocations(s->ca) == s->crl_revocations))
		return;
	station_crl_publish_async(s, NULL, NULL, NULL);
}

/* ---- a CRL file the station did not write, read off the loop ----
 * A CRL another tool put at crl_path (an external CA's, copied in) is read
 * and parsed once per version of the file; at 100,000 revocations that is
 * 0.2-0.7 s, done in a thread while ca.crl's askers wait. */

/* A read is a crljob of its own: its path, outcome, copy and waiters. */
static void
crlread_run(void *arg)
{
	struct crljob *j = arg;
	struct stat st;
	int fd;

	if ((j->rc = crl_file_open(j->path, &fd, &st)) != 0)
		return;
	j->rc = crl_cache_read(fd, &st, &j->copy);
	close(fd);
}

static void
crlread_reply(struct station *s, int64_t client_id, void *arg)
{
	struct crljob *j = arg;
	struct crl_waiter *w = j->waiters;

	(void)client_id;	/* none: its askers are the waiters */
	s->crl_read = NULL;
	if (j->rc == 0) {
		/* the file as read; one changed again meanwhile is read again */
		crl_cache_free(s->crl_cache);
		s->crl_cache = j->copy;
		j->copy = NULL;
	}
	j->waiters = NULL;
	waiters_tell(s, w, j->rc, s->crl_cache != NULL ? s->crl_cache->c.number : 0);
}

static const struct threadjob_kind crlread_kind = {
	.what = "CRL reads",
	.max = 1,
	.hold_env = "UKEY_TEST_CRL_HOLD",
	.run = crlread_run,
	.reply = crlread_reply,
	.free = crljob_free,
};

int
station_crl_read(struct station *s, crl_published_fn fn, void *arg, void (*arg_free)(void *))
{
	struct crljob *j;
	struct stat st;

	if (s->crl_read != NULL)	/* one read under way: its answer serves this one too */
		return waiter_add(&s->crl_read->waiters, fn, arg, arg_free) == 0;
	if (stat(s->cfg.ca_crl_path, &st) != 0 ||
	    (s->crl_cache != NULL && same_file(&s->crl_cache->st, &st)))
		return 0;	/* current, or no file: answered at once */
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return 0;
	snprintf(j->path, sizeof(j->path), "%s", s->cfg.ca_crl_path);
	if (waiter_add(&j->waiters, fn, arg, arg_free) != 0) {
		free(j);
		return 0;
	}
	if (threadjob_start(s, "CRL read", &crlread_kind, j) != 0) {
		/* no thread for it: read on the loop, as before threads */
		j->waiters->arg_free = NULL;	/* the caller keeps arg */
		crljob_free(j);
		return 0;
	}
	s->crl_read = j;
	return 1;
}

void
station_crl_forget(struct station *s)
{
	crl_cache_free(s->crl_cache);
	s->crl_cache = NULL;
	waiters_free(s->crl_queued);
	s->crl_queued = NULL;
}
