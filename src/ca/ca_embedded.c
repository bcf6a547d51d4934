/* The embedded local CA: a key and self-signed certificate in files, its
 * own list of what it issued (ca.db, through src/store/store_ca.h) and the
 * CRLs it signs. It makes the demo and the tests run the production
 * issuance path without an external CA. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca_impl.h"
#include "ca/certbuild.h"
#include "ca/certcheck.h"
#include "ca/crl.h"
#include "common/email.h"
#include "common/err.h"
#include "common/keyfile.h"
#include "common/log.h"
#include "common/utf8.h"
#include "store/store_ca.h"

#define SERIAL_TRIES 16

struct embedded {
	char *dir;
	EVP_PKEY *key;
	const EVP_MD *md;
	struct store_ca *db;
	/* the CRL's own read-only connection to ca.db, opened at its first
	 * CRL: its list is read there without the connector's lock */
	struct store_ca *crl_db;
};

/* One CRL at a time in the process (embedded_crl). */
static pthread_mutex_t crl_mu = PTHREAD_MUTEX_INITIALIZER;

static void
now_iso(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}


/* Reads the CA key (key != NULL; it should be mode 0600) or its certificate
 * from a PEM file. */
static int
load_pem(const char *path, EVP_PKEY **key, X509 **cert)
{
	struct stat st;
	int ok;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL) {
		log_error("open(%s): %s", path, strerror(errno));
		return UKEY_ERR_IO;
	}
	if (key != NULL) {
		if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0)
			log_warn("%s is readable by group or others (mode %03o); it should be 0600",
			    path, (unsigned)(st.st_mode & 0777));
		ok = (*key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) != NULL;
	} else {
		ok = (*cert = PEM_read_X509(f, NULL, NULL, NULL)) != NULL;
	}
	fclose(f);
	if (!ok) {
		log_openssl(path);
		return UKEY_ERR_CRYPTO;
	}
	return 0;
}

static void
embedded_free(void *impl)
{
	struct embedded *e = impl;

	if (e == NULL)
		return;
	store_ca_close(e->db);
	store_ca_close(e->crl_db);
	EVP_PKEY_free(e->key);
	free(e->dir);
	free(e);
}

static int embedded_issue(struct ca *ca, const struct ca_request *req, X509 **out);
static int embedded_revoke(struct ca *ca, const char *serial_hex, const char *reason);
static int embedded_list(struct ca *ca, struct json_object **out);
static int embedded_request_status(struct ca *ca, const char *request_key, char *status,
    size_t len);
static int embedded_crl(struct ca *ca, int64_t next_update_s, X509_CRL **out);

static const struct ca_ops embedded_ops = {
	.kind = "embedded",
	.issue = embedded_issue,
	.revoke = embedded_revoke,
	.list_issued = embedded_list,
	.request_status = embedded_request_status,
	.crl = embedded_crl,
	.free_impl = embedded_free,
};

/* The CA key: loaded, or made on first use (never while a certificate
 * without its key is there). Sets e->key and e->md. */
static int
open_key(struct embedded *e, const char *keypath, const char *crtpath)
{
	int rc;

	if (access(keypath, F_OK) == 0) {
		if ((rc = load_pem(keypath, &e->key, NULL)) != 0)
			return rc;
	} else {
		if (access(crtpath, F_OK) == 0) {
			log_error("%s exists without %s; refusing to make a new key", crtpath, keypath);
			return UKEY_ERR_IO;
		}
		if ((e->key = EVP_EC_gen("P-384")) == NULL) {
			log_openssl("EVP_EC_gen(P-384)");
			return UKEY_ERR_CRYPTO;
		}
		if ((rc = pem_write_atomic(keypath, 0600, e->key, 1, NULL)) != 0)
			return rc;
		log_info("created CA key %s (EC P-384)", keypath);
	}
	/* RFC 5480/5758: the hash should match the key's strength. */
	e->md = EVP_PKEY_get_bits(e->key) >= 384 ? EVP_sha384() : EVP_sha256();
	return 0;
}

/* The CA certificate: loaded and checked against the key, or made. */
static int
open_cert(struct ca *ca, struct embedded *e, const char *name, const char *keypath,
    const char *crtpath)
{
	int rc;

	if (access(crtpath, F_OK) == 0) {
		if ((rc = load_pem(crtpath, NULL, &ca->cert)) != 0)
			return rc;
		if (EVP_PKEY_eq(X509_get0_pubkey(ca->cert), e->key) != 1) {
			log_error("%s does not belong to %s", crtpath, keypath);
			return UKEY_ERR_VERIFY;
		}
		return 0;
	}
	/* Also reached when a crash came between writing the key and the
	 * certificate: the key is kept, the certificate made now. */
	if ((rc = certbuild_ca(e->key, e->md, name, &ca->cert)) != 0 ||
	    (rc = pem_write_atomic(crtpath, 0644, NULL, 0, ca->cert)) != 0)
		return rc;
	log_info("created CA certificate %s", crtpath);
	return 0;
}

static int
check_dir(const char *dir, const char *name)
{
	struct stat st;

	if (dir == NULL || *dir == '\0' || name == NULL || *name == '\0' ||
	    utf8_chars(name) + strlen(" Embedded CA") > 64) {
		log_error("CA name must be 1 to %zu characters", 64 - strlen(" Embedded CA"));
		return UKEY_ERR_INVAL;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_error("mkdir(%s): %s", dir, strerror(errno));
		return UKEY_ERR_IO;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		log_error("%s is not a directory", dir);
		return UKEY_ERR_IO;
	}
	return 0;
}

int
ca_embedded_open(const char *dir, const char *name, struct ca **out)
{
	struct ca *ca = NULL;
	struct embedded *e = NULL;
	char *keypath = NULL, *crtpath = NULL, *dbpath = NULL, *lockpath = NULL;
	int lockfd = -1, rc;

	*out = NULL;
	if ((rc = check_dir(dir, name)) != 0)
		goto out;
	if ((ca = calloc(1, sizeof(*ca))) == NULL || (e = calloc(1, sizeof(*e))) == NULL ||
	    (e->dir = strdup(dir)) == NULL ||
	    asprintf(&keypath, "%s/ca.key", dir) < 0 || asprintf(&crtpath, "%s/ca.crt", dir) < 0 ||
	    asprintf(&dbpath, "%s/ca.db", dir) < 0 || asprintf(&lockpath, "%s/ca.lock", dir) < 0) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	/* Two processes opening a fresh directory must not make two CAs. */
	if ((lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	    flock(lockfd, LOCK_EX) != 0) {
		log_error("lock %s: %s", lockpath, strerror(errno));
		rc = UKEY_ERR_IO;
		goto out;
	}
	if ((rc = open_key(e, keypath, crtpath)) != 0 ||
	    (rc = open_cert(ca, e, name, keypath, crtpath)) != 0 ||
	    (rc = store_ca_open(dbpath, &e->db)) != 0)
		goto out;
	ca->ops = &embedded_ops;
	ca->impl = e;
	e = NULL;
	*out = ca;
	ca = NULL;
	rc = 0;
 out:
	if (lockfd >= 0)
		close(lockfd);	/* releases the flock */
	embedded_free(e);
	ca_free(ca);
	free(keypath);
	free(crtpath);
	free(dbpath);
	free(lockpath);
	return rc;
}

/* Reads "<dir>/fault", the test hook: "wrong-key", "down" or "refuse TEXT",
 * else "". */
static void
read_fault(const struct embedded *e, char *buf, size_t len)
{
	char *path = NULL;
	FILE *f = NULL;
	size_t n;

	buf[0] = '\0';
	if (asprintf(&path, "%s/fault", e->dir) < 0)
		return;
	if ((f = fopen(path, "re")) != NULL) {
		n = fread(buf, 1, len - 1, f);
		buf[n] = '\0';
		while (n > 0 && isspace((unsigned char)buf[n - 1]))
			buf[--n] = '\0';
		fclose(f);
		if (strcmp(buf, "wrong-key") != 0 && strcmp(buf, "down") != 0 &&
		    (strncmp(buf, "refuse ", 7) != 0 || buf[7] == '\0')) {
			log_warn("%s: unknown fault '%s' ignored", path, buf);
			buf[0] = '\0';
		}
	}
	free(path);
}

/* Checks the CSR's key against the profile's key algorithm. */
static int
key_fits_profile(EVP_PKEY *pk, const struct certprof *prof)
{
	const char *alg = certprof_key_alg(prof);
	char group[64];

	if (strcmp(alg, "rsa2048") == 0) {
		if (EVP_PKEY_is_a(pk, "RSA") && EVP_PKEY_get_bits(pk) == 2048)
			return 0;
	} else if (strcmp(alg, "ec-p256") == 0) {
		if (EVP_PKEY_is_a(pk, "EC") &&
		    EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
						   NULL) == 1 &&
		    strcmp(group, "prime256v1") == 0)
			return 0;
	}
	log_error("CSR key is %s-%d; profile %s wants %s", EVP_PKEY_get0_type_name(pk),
		  EVP_PKEY_get_bits(pk), certprof_name(prof), alg);
	ERR_clear_error();
	return UKEY_ERR_INVAL;
}

static int
printable_value(const char *s)
{
	if (*s == '\0' || strlen(s) > 64)
		return 0;
	for (; *s != '\0'; s++)
		if (!isascii((unsigned char)*s) ||
		    (!isalnum((unsigned char)*s) && strchr(" '()+,-./:=?", *s) == NULL))
			return 0;
	return 1;
}

static int
check_request(const struct ca_request *req)
{
	const struct certprof *p = req->profile;

	if (req->csr == NULL || req->subject == NULL || p == NULL) {
		log_error("request without CSR, subject or profile");
		return UKEY_ERR_INVAL;
	}
	if (req->request_key == NULL || *req->request_key == '\0' || strlen(req->request_key) > 200) {
		log_error("request_key must be 1 to 200 bytes");
		return UKEY_ERR_INVAL;
	}
	if (req->years < 1 || req->years > certprof_max_years(p)) {
		log_error("years %d: profile %s allows 1 to %d", req->years, certprof_name(p),
			  certprof_max_years(p));
		return UKEY_ERR_INVAL;
	}
	if (req->carry_days < 0 || req->carry_days > certprof_carry_over_days(p)) {
		log_error("carry_days %d: profile %s carries 0 to %d days over", req->carry_days,
			  certprof_name(p), certprof_carry_over_days(p));
		return UKEY_ERR_INVAL;
	}
	if (X509_NAME_entry_count(req->subject) == 0) {
		log_error("empty subject");
		return UKEY_ERR_INVAL;
	}
	if (req->email != NULL) {
		char norm[EMAIL_MAX + 1], why[160] = "";

		/* what goes into an rfc822Name (IA5String) must be a plain
		 * mailbox, in the form the order parser stores */
		if (email_normalize(req->email, norm, sizeof(norm), why, sizeof(why)) != 0 ||
		    strcmp(norm, req->email) != 0) {
			log_error("profile %s: e-mail address: %s", certprof_name(p),
				  why[0] ? why : "not in normalized form");
			return UKEY_ERR_INVAL;
		}
	}
	if (certprof_gm_identity(p) != NULL &&
	    (req->gm_identity_value == NULL || !printable_value(req->gm_identity_value))) {
		log_error("profile %s: GM/T identity value (%s) missing or not 1-64 printable characters",
			  certprof_name(p), certprof_gm_identity(p));
		return UKEY_ERR_INVAL;
	}
	return 0;
}

/* Reads a stored certificate's DER. */
static int
stored_x509(const struct store_ca_cert *c, X509 **out)
{
	const unsigned char *der = c->der;

	if (der == NULL || (*out = d2i_X509(NULL, &der, (long)c->der_len)) == NULL) {
		log_openssl("d2i_X509 (stored certificate)");
		return UKEY_ERR_DB;
	}
	return 0;
}

/* Looks up request_key. Returns 0 and *out when found, UKEY_ERR_NOTFOUND,
 * UKEY_ERR_STATE when that certificate was revoked, UKEY_ERR_DB. */
static int
find_request(struct embedded *e, const char *request_key, X509 **out)
{
	struct store_ca_cert c;
	int rc;

	*out = NULL;
	if ((rc = store_ca_find_request(e->db, request_key, &c)) != 0)
		return rc;
	if (strcmp(c.status, "valid") != 0) {
		log_error("request key was issued serial %s, since revoked; use a new request key",
			  c.serial);
		rc = UKEY_ERR_STATE;
	} else if ((rc = stored_x509(&c, out)) == 0) {
		log_info("request key seen before: returning serial %s again", c.serial);
	}
	store_ca_cert_clear(&c);
	return rc;
}

/* Draws serials until one is not in the list yet: *hex (OPENSSL_free) and
 * *serial (BN_free). */
static int
draw_free_serial(struct embedded *e, BIGNUM **serial, char **hex)
{
	struct store_ca_cert c;
	int tries, rc;

	*serial = NULL;
	*hex = NULL;
	for (tries = 0; tries < SERIAL_TRIES; tries++) {
		BN_free(*serial);
		OPENSSL_free(*hex);
		*hex = NULL;
		if ((rc = certbuild_serial(serial)) != 0)
			return rc;
		if ((*hex = BN_bn2hex(*serial)) == NULL)
			return UKEY_ERR_NOMEM;
		rc = store_ca_find_serial(e->db, *hex, &c);
		store_ca_cert_clear(&c);
		if (rc == UKEY_ERR_NOTFOUND)
			return 0;
		if (rc != 0)
			return rc;
		log_warn("serial %s drawn twice; drawing again", *hex);
	}
	return UKEY_ERR_CRYPTO;	/* a broken random generator */
}


/* Records cert in the list, and gives in *decoded what its encoding, the
 * bytes recorded, decodes to: the certificate as it leaves the CA, whose
 * key can be asked for (certbuild_end_entity wrote only its encoding). */
static int
record_cert(struct embedded *e, const char *serial, const char *request_key, X509 *cert,
    X509 **decoded)
{
	struct store_ca_new row = { .serial = serial, .request_key = request_key };
	unsigned char *der = NULL;
	const unsigned char *p;
	char *subject = NULL;
	char nb[32], na[32], now[32];
	int len, rc;

	if ((len = i2d_X509(cert, &der)) <= 0 ||
	    (rc = cert_subject_text(X509_get_subject_name(cert), &subject)) != 0) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if (cert_time_iso(X509_get0_notBefore(cert), nb, sizeof(nb)) != 0 ||
	    cert_time_iso(X509_get0_notAfter(cert), na, sizeof(na)) != 0) {
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	now_iso(now, sizeof(now));
	row.subject = subject;
	row.not_before = nb;
	row.not_after = na;
	row.issued_at = now;
	row.der = der;
	row.der_len = (size_t)len;
	if ((rc = store_ca_insert(e->db, &row)) != 0)
		goto out;
	p = der;
	if ((*decoded = d2i_X509(NULL, &p, len)) == NULL) {
		log_openssl("decoding the certificate issued");
		rc = UKEY_ERR_CRYPTO;
	}
 out:
	OPENSSL_free(der);
	free(subject);
	return rc;
}

/* What is checked before the list is touched: the fault hook, the request,
 * the CSR's proof of possession and its key against the profile. Returns
 * the CSR's key (borrowed from req->csr) in *csr_pub. */
static int
check_issue(struct embedded *e, const struct ca_request *req, const char *fault,
    EVP_PKEY **csr_pub)
{
	char *subject = NULL;
	int rc;

	*csr_pub = NULL;
	if (strcmp(fault, "down") == 0) {
		log_warn("embedded CA: fault hook says down");
		return UKEY_ERR_UNAVAIL;
	}
	if ((rc = check_request(req)) != 0)
		return rc;
	if (strncmp(fault, "refuse ", 7) == 0) {
		/* Test hook: refuse, as malformed, every request whose subject
		 * holds the text, as a CA's policy would refuse one unit's. */
		if ((rc = cert_subject_text(req->subject, &subject)) != 0)
			return rc;
		if (strstr(subject, fault + 7) != NULL) {
			log_warn("embedded CA: fault hook refuses subject %s", subject);
			free(subject);
			return UKEY_ERR_INVAL;
		}
		free(subject);
	}
	/* OpenSSL 3.0's CSR getters take non-const pointers; nothing is written. */
	if ((*csr_pub = X509_REQ_get0_pubkey((X509_REQ *)req->csr)) == NULL) {
		log_error("CSR has no readable public key");
		return UKEY_ERR_INVAL;
	}
	if (X509_REQ_verify((X509_REQ *)req->csr, *csr_pub) != 1) {
		log_error("CSR signature does not verify with its own key (no proof of possession)");
		ERR_clear_error();
		return UKEY_ERR_VERIFY;
	}
	return key_fits_profile(*csr_pub, req->profile);
}

static int
embedded_issue(struct ca *ca, const struct ca_request *req, X509 **out)
{
	struct embedded *e = ca->impl;
	EVP_PKEY *csr_pub, *throwaway = NULL, *pub;
	X509 *cert = NULL;
	BIGNUM *serial = NULL;
	char *hex = NULL;
	char fault[160];
	int in_tx = 0, rc;

	*out = NULL;
	read_fault(e, fault, sizeof(fault));
	if ((rc = check_issue(e, req, fault, &csr_pub)) != 0)
		goto out;
	/* One writer at a time from here to COMMIT: the request-key lookup,
	 * the serial draw and the insert see one consistent list. */
	if ((rc = store_ca_begin(e->db)) != 0)
		goto out;
	in_tx = 1;
	rc = find_request(e, req->request_key, out);
	if (rc == 0 && EVP_PKEY_eq(X509_get0_pubkey(*out), csr_pub) != 1)
		log_warn("request key seen before with another public key; returning the first "
			 "certificate, which the caller's check will refuse");
	if (rc != UKEY_ERR_NOTFOUND)
		goto out;	/* found (rc 0), revoked or a database error */
	if ((rc = draw_free_serial(e, &serial, &hex)) != 0)
		goto out;
	pub = csr_pub;
	if (strcmp(fault, "wrong-key") == 0) {
		/* Test hook: certify a key nobody holds, as a broken CA would. */
		throwaway = EVP_PKEY_is_a(csr_pub, "RSA") ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
		if (throwaway == NULL) {
			log_openssl("throwaway key");
			rc = UKEY_ERR_CRYPTO;
			goto out;
		}
		log_warn("embedded CA: fault hook says wrong-key; certifying a throwaway key");
		pub = throwaway;
	}
	if ((rc = certbuild_end_entity(ca->cert, e->key, e->md, req, pub, serial, &cert)) != 0 ||
	    (rc = record_cert(e, hex, req->request_key, cert, out)) != 0)
		goto out;
	/* The certificate leaves only once its row is durable. */
	if ((rc = store_ca_commit(e->db)) != 0)
		goto out;
	in_tx = 0;
	log_info("issued serial %s (profile %s, %d years)", hex, certprof_name(req->profile), req->years);
	rc = 0;
 out:
	if (in_tx)
		store_ca_rollback(e->db);
	if (rc != 0 && *out != NULL) {
		X509_free(*out);
		*out = NULL;
	}
	X509_free(cert);
	EVP_PKEY_free(throwaway);
	BN_free(serial);
	OPENSSL_free(hex);
	return rc;
}

/* serial_hex in the list's form (upper case) into out, or UKEY_ERR_INVAL. */
static int
serial_upper(const char *serial_hex, char *out, size_t outlen)
{
	size_t i, n = strlen(serial_hex);

	if (n == 0 || n >= outlen) {
		log_error("serial must be 1 to %zu hex digits", outlen - 1);
		return UKEY_ERR_INVAL;
	}
	for (i = 0; i <= n; i++) {
		if (i < n && !isxdigit((unsigned char)serial_hex[i])) {
			log_error("serial '%s' is not hex", serial_hex);
			return UKEY_ERR_INVAL;
		}
		out[i] = (char)toupper((unsigned char)serial_hex[i]);
	}
	return 0;
}

static int
embedded_revoke(struct ca *ca, const char *serial_hex, const char *reason)
{
	struct embedded *e = ca->impl;
	char serial[128], now[32], fault[160];
	int rc;

	read_fault(e, fault, sizeof(fault));
	if (strcmp(fault, "down") == 0)
		return UKEY_ERR_UNAVAIL;
	if (reason == NULL)
		reason = "unspecified";
	if (crl_reason_code(reason) < 0) {
		log_error("revocation reason '%s' is not an RFC 5280 reason name", reason);
		return UKEY_ERR_INVAL;
	}
	if ((rc = serial_upper(serial_hex, serial, sizeof(serial))) != 0)
		return rc;
	now_iso(now, sizeof(now));
	/* one statement: the check that it is valid and the change are one */
	if ((rc = store_ca_revoke(e->db, serial, reason, now)) != 0)
		return rc;
	log_info("revoked serial %s (%s)", serial, reason);
	return 0;
}

static int
json_add_text(struct json_object *o, const char *key, const char *v)
{
	struct json_object *s;

	if (v == NULL)
		return 0;
	if ((s = json_object_new_string(v)) == NULL)
		return UKEY_ERR_NOMEM;
	if (json_object_object_add(o, key, s) != 0) {
		json_object_put(s);
		return UKEY_ERR_NOMEM;
	}
	return 0;
}

static int
cert_json(const struct store_ca_cert *c, struct json_object **out)
{
	const char *const kv[][2] = {
		{ "serial", c->serial }, { "subject", c->subject }, { "not_before", c->not_before },
		{ "not_after", c->not_after }, { "status", c->status },
		{ "request_key", c->request_key }, { "revoked_at", c->revoked_at },
		{ "revoke_reason", c->revoke_reason },
	};
	size_t i;
	int rc;

	if ((*out = json_object_new_object()) == NULL)
		return UKEY_ERR_NOMEM;
	for (i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		if ((rc = json_add_text(*out, kv[i][0], kv[i][1])) != 0) {
			json_object_put(*out);
			*out = NULL;
			return rc;
		}
	return 0;
}

/* The issued list of db as ca_list_issued gives it. */
static int
list_json(struct store_ca *db, struct json_object **out)
{
	struct json_object *arr = NULL, *row = NULL;
	struct store_ca_cert *certs = NULL;
	size_t i, n = 0;
	int rc;

	*out = NULL;
	if ((rc = store_ca_list(db, &certs, &n)) != 0)
		goto out;
	if ((arr = json_object_new_array()) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((rc = cert_json(&certs[i], &row)) != 0)
			goto out;
		if (json_object_array_add(arr, row) != 0) {
			rc = UKEY_ERR_NOMEM;
			goto out;
		}
		row = NULL;
	}
	*out = arr;
	arr = NULL;
	rc = 0;
 out:
	store_ca_certs_free(certs, n);
	json_object_put(row);
	json_object_put(arr);
	return rc;
}

static int
embedded_list(struct ca *ca, struct json_object **out)
{
	return list_json(((struct embedded *)ca->impl)->db, out);
}

static int
embedded_request_status(struct ca *ca, const char *request_key, char *status, size_t len)
{
	struct store_ca_cert c;
	int rc;

	if ((rc = store_ca_find_request(((struct embedded *)ca->impl)->db, request_key, &c)) != 0)
		return rc;
	snprintf(status, len, "%s", c.status);
	store_ca_cert_clear(&c);
	return 0;
}

/* A read-only connection to an embedded CA's ca.db (ca.h). */
struct ca_reader {
	struct store_ca *db;
	struct store_ca_walk *walk;	/* ca_reader_next's, while one runs */
};

int
ca_reader_open(const char *dir, struct ca_reader **out)
{
	struct ca_reader *r;
	char path[4096];
	int rc;

	*out = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/ca.db", dir) >= sizeof(path))
		return UKEY_ERR_INVAL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return UKEY_ERR_NOMEM;
	if ((rc = store_ca_open_readonly(path, &r->db)) != 0) {
		free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int
ca_reader_next(struct ca_reader *r, struct store_ca_cert *c)
{
	int rc;

	if (r->walk == NULL && (rc = store_ca_walk_open(r->db, &r->walk)) != 0)
		return rc;
	if ((rc = store_ca_walk_next(r->walk, c)) != 1) {
		store_ca_walk_close(r->walk);
		r->walk = NULL;
	}
	return rc;
}

int
ca_reader_find(struct ca_reader *r, const char *serial_hex, struct store_ca_cert *c)
{
	char serial[128];

	memset(c, 0, sizeof(*c));
	if (serial_upper(serial_hex, serial, sizeof(serial)) != 0)
		return UKEY_ERR_INVAL;
	if (r->walk != NULL)	/* its snapshot would hide a later certificate */
		return UKEY_ERR_STATE;
	return store_ca_find_serial(r->db, serial, c);
}

void
ca_reader_close(struct ca_reader *r)
{
	if (r == NULL)
		return;
	store_ca_walk_close(r->walk);
	store_ca_close(r->db);
	free(r);
}

/* A new CRL over the revoked list. CRLs are made one at a time (crl_mu);
 * each reads the list first, in one statement on its own read-only
 * connection (one snapshot of ca.db, which is in WAL mode, so the CA writes
 * on meanwhile), then takes its number in a short transaction under the
 * connector's lock, then signs without it. Revocations are never undone,
 * so a CRL with a higher number lists everything one with a lower number
 * did. A signature that fails after its number was taken leaves that
 * number unused: CRL numbers need only increase. */
static int
embedded_crl(struct ca *ca, int64_t next_update_s, X509_CRL **out)
{
	struct embedded *e = ca->impl;
	struct store_ca_cert *rev = NULL;
	struct crl_entry *ent = NULL;
	size_t i, n = 0;
	time_t now, next;
	char tu[32], nu[32], path[4096];
	struct tm tm;
	int64_t number = 0;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&crl_mu);
	if (e->crl_db == NULL) {
		if ((size_t)snprintf(path, sizeof(path), "%s/ca.db", e->dir) >= sizeof(path)) {
			rc = UKEY_ERR_INVAL;
			goto out;
		}
		if ((rc = store_ca_open_readonly(path, &e->crl_db)) != 0)
			goto out;
	}
	if ((rc = store_ca_list_revoked(e->crl_db, &rev, &n)) != 0)
		goto out;
	if (n > 0 && (ent = calloc(n, sizeof(*ent))) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		ent[i] = (struct crl_entry){ rev[i].serial, rev[i].revoked_at, rev[i].revoke_reason };
	now = time(NULL);
	next = now + (time_t)next_update_s;
	strftime(tu, sizeof(tu), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	strftime(nu, sizeof(nu), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&next, &tm));
	ca_hold();
	if ((rc = store_ca_begin(e->db)) == 0) {
		if ((rc = store_ca_crl_next(e->db, tu, nu, (int64_t)n, &number)) != 0 ||
		    (rc = store_ca_commit(e->db)) != 0)
			store_ca_rollback(e->db);
	}
	ca_release();
	if (rc != 0)
		goto out;
	/* ca->cert, e->key and e->md are set at open and never change */
	if ((rc = crl_build(ca->cert, e->key, e->md, ent, n, number, now, next, out)) != 0)
		goto out;
	log_info("CRL %lld signed: %zu revoked, next update %s", (long long)number, n, nu);
 out:
	pthread_mutex_unlock(&crl_mu);
	if (rc != 0) {
		X509_CRL_free(*out);
		*out = NULL;
	}
	free(ent);
	store_ca_certs_free(rev, n);
	return rc;
}
