/* The CMP connector: an external CA reached with OpenSSL's CMP client
 * (RFC 4210 / RFC 9480): P10CR or CR for a new certificate, KUR for a
 * renewal, RR for a revocation, pollReq for a CA that answers "waiting". */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "ca/ca_cmp_impl.h"
#include "common/err.h"
#include "common/log.h"

#define SECRET_MAX 4096

/* Records the text of the last failure of c (printf-style). */
void
cmp_fail(struct cmp_impl *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	log_warn("CMP CA %s: %s", c->cfg.server, c->err);
}

/* Appends OpenSSL's error queue (reason and data of each entry, oldest
 * first) to buf and empties the queue. Returns 1 when an entry says that a
 * CMP message's protection failed to verify, else 0. */
int
cmp_openssl_why(char *buf, size_t len)
{
	const char *data, *func, *file;
	unsigned long e;
	size_t n = strlen(buf);
	int line, flags, prot = 0;

	while ((e = ERR_get_error_all(&file, &line, &func, &data, &flags)) != 0) {
		const char *r = ERR_reason_error_string(e);
		int has = (flags & ERR_TXT_STRING) && data != NULL && *data != '\0';

		if (ERR_GET_LIB(e) == ERR_LIB_CMP &&
		    (ERR_GET_REASON(e) == CMP_R_ERROR_VALIDATING_PROTECTION ||
		    ERR_GET_REASON(e) == CMP_R_WRONG_PBM_VALUE ||
		    ERR_GET_REASON(e) == CMP_R_SRVCERT_DOES_NOT_VALIDATE_MSG ||
		    ERR_GET_REASON(e) == CMP_R_NO_SUITABLE_SENDER_CERT))
			prot = 1;
		if (n + 1 < len) {
			/* the first line of the data: some entries append a whole
			 * certificate dump */
			snprintf(buf + n, len - n, "%s%s%s%.*s", n > 0 ? "; " : "",
			    r != NULL ? r : "unknown OpenSSL error", has ? ": " : "",
			    has ? (int)strcspn(data, "\n") : 0, has ? data : "");
			n = strlen(buf);
		}
	}
	return prot;
}

/* Reads the first PEM object of path (the setting cmp.<key>): a
 * certificate, or an unencrypted private key when priv. */
static int
load_pem(struct cmp_impl *c, const char *key, const char *path, int priv, void **out)
{
	FILE *fp;

	*out = NULL;
	if ((fp = fopen(path, "r")) == NULL) {
		cmp_fail(c, "cmp.%s %s: %s", key, path, strerror(errno));
		return UKEY_ERR_IO;
	}
	*out = priv ? (void *)PEM_read_PrivateKey(fp, NULL, NULL, NULL) :
	    (void *)PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (*out == NULL) {
		ERR_clear_error();
		cmp_fail(c, "cmp.%s %s: no %s in it", key, path,
		    priv ? "unencrypted PEM private key" : "PEM certificate");
		return UKEY_ERR_CRYPTO;
	}
	return 0;
}

static int
load_cert(struct cmp_impl *c, const char *key, const char *path, X509 **out)
{
	void *p;
	int rc = load_pem(c, key, path, 0, &p);

	*out = p;
	return rc;
}

/* Reads a secret (the PBM secret, the PKCS#11 PIN) from cmp.<key>: a
 * regular file of the daemon's user that nobody else may read; one trailing
 * newline is not part of the secret. */
static int
load_secret(struct cmp_impl *c, const char *key, const char *path, struct secret *out)
{
	uint8_t buf[SECRET_MAX + 1];
	struct stat sb;
	ssize_t n;
	int fd = -1, rc;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		cmp_fail(c, "cmp.%s %s: %s", key, path, strerror(errno));
		rc = errno == EACCES ? UKEY_ERR_PERM : UKEY_ERR_IO;
		goto out;
	}
	rc = UKEY_ERR_PERM;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		cmp_fail(c, "cmp.%s %s: must be a regular file", key, path);
		goto out;
	}
	if ((sb.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		cmp_fail(c, "cmp.%s %s: mode %04o lets group or others at the secret; "
		    "must be 0600 or 0400 (chmod 600)", key, path, (unsigned)(sb.st_mode & 07777));
		goto out;
	}
	if (sb.st_uid != geteuid()) {
		cmp_fail(c, "cmp.%s %s: owned by uid %u, must be the daemon's user "
		    "(uid %u)", key, path, (unsigned)sb.st_uid, (unsigned)geteuid());
		goto out;
	}
	rc = UKEY_ERR_IO;
	if ((n = read(fd, buf, sizeof(buf))) < 0) {
		cmp_fail(c, "cmp.%s %s: %s", key, path, strerror(errno));
		goto out;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	rc = UKEY_ERR_INVAL;
	if (n == 0 || n > SECRET_MAX) {
		cmp_fail(c, "cmp.%s %s: must hold 1 to %d bytes of secret", key, path,
		    SECRET_MAX);
		goto out;
	}
	rc = secret_set(out, buf, (size_t)n);
 out:
	secure_wipe(buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The private key named by cmp.<key> (value) for cert: a PEM file, or a
 * pkcs11: URI served by a ukey-signer started here (*signer). */
static int
load_key(struct cmp_impl *c, const char *key, const char *value, X509 *cert,
    struct p11signer **signer, EVP_PKEY **out)
{
	const struct cmp_config *f = &c->cfg;
	struct secret pin = { 0 };
	char what[32], err[sizeof(c->err)];
	void *p;
	int rc;

	*out = NULL;
	if (!cmpconf_is_pkcs11(value)) {
		rc = load_pem(c, key, value, 1, &p);
		*out = p;
		if (rc == 0 && X509_check_private_key(cert, *out) != 1) {
			ERR_clear_error();
			cmp_fail(c, "cmp.%s %s: not the key of cmp.%s", key, value,
			    strcmp(key, "ra_key") == 0 ? "ra_cert" : "tls_cert");
			rc = UKEY_ERR_VERIFY;
		}
		return rc;
	}
	if ((rc = load_secret(c, "pkcs11_pin_file", f->pkcs11_pin_file, &pin)) != 0)
		return rc;
	snprintf(what, sizeof(what), "cmp.%s", key);
	if ((rc = p11signer_open(what, f->signer_path, f->pkcs11_module, value, &pin, cert,
	    f->timeout_s, signer, out, err, sizeof(err))) != 0)
		cmp_fail(c, "%s", err);
	secret_clear(&pin);
	return rc;
}

/* The TLS client context for an https server: trust anchors, and the
 * client certificate and key when configured. */
static int
load_tls(struct cmp_impl *c)
{
	const struct cmp_config *f = &c->cfg;
	EVP_PKEY *key = NULL;
	int rc, ok;

	if ((c->ssl = SSL_CTX_new(TLS_client_method())) == NULL)
		return UKEY_ERR_NOMEM;
	SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_set_min_proto_version(c->ssl, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_load_verify_file(c->ssl, f->tls_trusted) != 1) {
		ERR_clear_error();
		cmp_fail(c, "cmp.tls_trusted %s: cannot load PEM certificates", f->tls_trusted);
		return UKEY_ERR_IO;
	}
	if (f->tls_cert[0] == '\0')
		return 0;
	if (SSL_CTX_use_certificate_chain_file(c->ssl, f->tls_cert) != 1) {
		ERR_clear_error();
		cmp_fail(c, "cmp.tls_cert %s: cannot load a PEM certificate chain", f->tls_cert);
		return UKEY_ERR_IO;
	}
	if ((rc = load_key(c, "tls_key", f->tls_key, SSL_CTX_get0_certificate(c->ssl),
	    &c->tls_signer, &key)) != 0)
		return rc;
	ok = SSL_CTX_use_PrivateKey(c->ssl, key) == 1 && SSL_CTX_check_private_key(c->ssl) == 1;
	EVP_PKEY_free(key);	/* the SSL_CTX holds it */
	if (!ok) {
		ERR_clear_error();
		cmp_fail(c, "cmp.tls_cert %s / cmp.tls_key %s: they do not belong together",
		    f->tls_cert, f->tls_key);
		return UKEY_ERR_IO;
	}
	return 0;
}

static int
load_files(struct cmp_impl *c)
{
	const struct cmp_config *f = &c->cfg;
	int rc;

	if ((rc = load_cert(c, "ca_cert", f->ca_cert, &c->ca_cert)) != 0)
		return rc;
	if ((c->trusted = X509_STORE_new()) == NULL)
		return UKEY_ERR_NOMEM;
	if (X509_STORE_load_file(c->trusted, f->trusted) != 1) {
		ERR_clear_error();
		cmp_fail(c, "cmp.trusted %s: cannot load PEM certificates", f->trusted);
		return UKEY_ERR_IO;
	}
	if (f->secret_file[0] != '\0')
		rc = load_secret(c, "secret_file", f->secret_file, &c->secret);
	else if ((rc = load_cert(c, "ra_cert", f->ra_cert, &c->ra_cert)) == 0)
		rc = load_key(c, "ra_key", f->ra_key, c->ra_cert, &c->ra_signer, &c->ra_key);
	if (rc == 0 && c->tls)
		rc = load_tls(c);
	return rc;
}

static void
cmp_impl_free(void *impl)
{
	struct cmp_impl *c = impl;

	if (c == NULL)
		return;
	X509_free(c->ca_cert);
	X509_STORE_free(c->trusted);
	X509_free(c->ra_cert);
	EVP_PKEY_free(c->ra_key);
	secret_clear(&c->secret);
	SSL_CTX_free(c->ssl);
	/* after the keys that sign through them */
	p11signer_free(c->ra_signer);
	p11signer_free(c->tls_signer);
	free(c);
}

static const char *
cmp_last_error(const struct ca *ca)
{
	return ((const struct cmp_impl *)ca->impl)->err;
}

static int
cmp_list(struct ca *ca, struct json_object **out)
{
	*out = NULL;
	cmp_fail(ca->impl, "the CMP CA keeps its own list of what it issued");
	return UKEY_ERR_UNSUPPORTED;
}

static const struct ca_ext_ops cmp_ext_ops = {
	.issue_start = cmp_issue_start,
	.issue_poll = cmp_issue_poll,
	.last_error = cmp_last_error,
};

static const struct ca_ops cmp_ops = {
	.kind = "cmp",
	.issue = cmp_issue,
	.revoke = cmp_revoke,
	.list_issued = cmp_list,
	.free_impl = cmp_impl_free,
	.ext = &cmp_ext_ops,
};

int
ca_cmp_open(const struct cmp_config *cfg, struct ca **out, char *err, size_t errlen)
{
	struct ca *ca = NULL;
	struct cmp_impl *c = NULL;
	int rc;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if ((ca = calloc(1, sizeof(*ca))) == NULL || (c = calloc(1, sizeof(*c))) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	c->cfg = *cfg;
	if (cmpconf_check(cfg, c->err, sizeof(c->err)) != 0 ||
	    cmpconf_server_split(cfg, c->host, sizeof(c->host), &c->port, &c->tls) != 0) {
		rc = UKEY_ERR_INVAL;
		goto out;
	}
	if ((rc = load_files(c)) != 0)
		goto out;
	if (cfg->implicit_confirm)
		log_warn("cmp.implicit_confirm = yes: a CA that grants it publishes a certificate"
		    " before the station has recorded it; a station killed in between leaves a live"
		    " certificate it does not know (docs/ca.md, \"Interrupted\"); use certConf"
		    " (implicit_confirm = no)");
	if ((ca->cert = X509_dup(c->ca_cert)) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	ca->ops = &cmp_ops;
	ca->impl = c;
	c = NULL;
	*out = ca;
	ca = NULL;
	rc = 0;
 out:
	if (rc != 0 && c != NULL)
		snprintf(err, errlen, "%s", c->err[0] != '\0' ? c->err : ukey_strerror(rc));
	cmp_impl_free(c);
	ca_free(ca);
	return rc;
}
