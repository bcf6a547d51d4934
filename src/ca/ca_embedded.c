/* The embedded local CA: a key and self-signed certificate in files, and
 * its own SQLite list of what it issued. It makes the demo and the tests
 * run the production issuance path without an external CA. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
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
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>

#include "ca/ca_impl.h"
#include "ca/certcheck.h"
#include "common/err.h"
#include "common/keyfile.h"
#include "common/log.h"
#include "common/utf8.h"
#include "orders/idcheck.h"

#define CA_YEARS 20
#define SERIAL_BYTES 16
#define SERIAL_TRIES 16

struct embedded {
	char *dir;
	EVP_PKEY *key;
	const EVP_MD *md;
	sqlite3 *db;
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS issued ("
	" serial TEXT PRIMARY KEY,"		/* hex, upper case, no leading 00 */
	" request_key TEXT UNIQUE,"
	" subject TEXT NOT NULL,"		/* RFC 2253, UTF-8 */
	" not_before TEXT NOT NULL,"		/* ISO-8601 UTC */
	" not_after TEXT NOT NULL,"
	" status TEXT NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'revoked')),"
	" revoked_at TEXT,"
	" revoke_reason TEXT,"
	" der BLOB NOT NULL,"
	" issued_at TEXT NOT NULL);"
	"PRAGMA user_version = 1;";

static const char *const revoke_reasons[] = {
	"unspecified", "keyCompromise", "affiliationChanged", "superseded",
	"cessationOfOperation", "certificateHold", "privilegeWithdrawn",
};

static int
db_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error("sqlite3_exec(%.40s): %s", sql, msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return UKEY_ERR_DB;
	}
	return 0;
}

static void
now_iso(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Draws a positive, non-zero serial of SERIAL_BYTES random bytes. */
static int
draw_serial(BIGNUM **out)
{
	unsigned char buf[SERIAL_BYTES];
	size_t i;
	int rc;

	*out = NULL;
	do {
		if (RAND_bytes(buf, sizeof(buf)) != 1) {
			log_openssl("RAND_bytes");
			rc = UKEY_ERR_CRYPTO;
			goto out;
		}
		buf[0] &= 0x7f;		/* DER INTEGER: keep it positive */
		for (i = 0; i < sizeof(buf) && buf[i] == 0; i++)
			;
	} while (i == sizeof(buf));
	if ((*out = BN_bin2bn(buf, sizeof(buf), NULL)) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	rc = 0;
 out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

static int
add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int ok;

	if ((ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value)) == NULL) {
		log_openssl(OBJ_nid2sn(nid));
		return UKEY_ERR_CRYPTO;
	}
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : UKEY_ERR_NOMEM;
}

/* Sets version 3, serial, names, validity of `years` calendar years from
 * now and the public key: what every certificate here has in common. */
static int
cert_frame(X509 *cert, const BIGNUM *serial, const X509_NAME *issuer, const X509_NAME *subject,
	   int years, EVP_PKEY *pub)
{
	ASN1_INTEGER *sn = NULL;
	ASN1_TIME *nb = NULL, *na = NULL;
	time_t now = time(NULL), end;
	int rc;

	if ((rc = cert_time_add_years(now, years, &end)) != 0)
		goto out;
	if ((sn = BN_to_ASN1_INTEGER(serial, NULL)) == NULL ||
	    (nb = ASN1_TIME_set(NULL, now)) == NULL || (na = ASN1_TIME_set(NULL, end)) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if (X509_set_version(cert, X509_VERSION_3) != 1 || X509_set_serialNumber(cert, sn) != 1 ||
	    X509_set_issuer_name(cert, issuer) != 1 || X509_set_subject_name(cert, subject) != 1 ||
	    X509_set1_notBefore(cert, nb) != 1 || X509_set1_notAfter(cert, na) != 1 ||
	    X509_set_pubkey(cert, pub) != 1) {
		log_openssl("X509_set_*");
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	rc = 0;
 out:
	ASN1_INTEGER_free(sn);
	ASN1_TIME_free(nb);
	ASN1_TIME_free(na);
	return rc;
}

static int
make_ca_cert(EVP_PKEY *key, const EVP_MD *md, const char *name, X509 **out)
{
	X509 *cert = NULL;
	X509_NAME *subj = NULL;
	BIGNUM *serial = NULL;
	X509V3_CTX ctx;
	char *cn = NULL;
	int rc;

	*out = NULL;
	if (asprintf(&cn, "%s Embedded CA", name) < 0) {
		cn = NULL;
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if ((cert = X509_new()) == NULL || (subj = X509_NAME_new()) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if (X509_NAME_add_entry_by_NID(subj, NID_countryName, MBSTRING_UTF8,
				       (const unsigned char *)"CN", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_UTF8,
				       (const unsigned char *)cn, -1, -1, 0) != 1) {
		log_openssl("X509_NAME_add_entry_by_NID");
		rc = UKEY_ERR_INVAL;
		goto out;
	}
	if ((rc = draw_serial(&serial)) != 0 ||
	    (rc = cert_frame(cert, serial, subj, subj, CA_YEARS, key)) != 0)
		goto out;
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	if ((rc = add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0")) != 0 ||
	    (rc = add_ext(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign")) != 0 ||
	    (rc = add_ext(cert, &ctx, NID_subject_key_identifier, "hash")) != 0)
		goto out;
	if (X509_sign(cert, key, md) <= 0) {
		log_openssl("X509_sign");
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	*out = cert;
	cert = NULL;
	rc = 0;
 out:
	BN_free(serial);
	X509_NAME_free(subj);
	X509_free(cert);
	free(cn);
	return rc;
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

static int
open_db(const char *path, sqlite3 **out)
{
	sqlite3 *db = NULL;
	int rc;

	*out = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		log_error("sqlite3_open_v2(%s): %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		rc = UKEY_ERR_DB;
		goto out;
	}
	sqlite3_busy_timeout(db, 10000);
	/* FULL: a certificate handed out must be on disk, even after power loss. */
	if ((rc = db_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")) != 0 ||
	    (rc = db_exec(db, schema_sql)) != 0)
		goto out;
	*out = db;
	db = NULL;
	rc = 0;
 out:
	sqlite3_close(db);
	return rc;
}

static void
embedded_free(void *impl)
{
	struct embedded *e = impl;

	if (e == NULL)
		return;
	sqlite3_close(e->db);
	EVP_PKEY_free(e->key);
	free(e->dir);
	free(e);
}

static int embedded_issue(struct ca *ca, const struct ca_request *req, X509 **out);
static int embedded_revoke(struct ca *ca, const char *serial_hex, const char *reason);
static int embedded_list(struct ca *ca, struct json_object **out);

static const struct ca_ops embedded_ops = {
	.kind = "embedded",
	.issue = embedded_issue,
	.revoke = embedded_revoke,
	.list_issued = embedded_list,
	.free_impl = embedded_free,
};

int
ca_embedded_open(const char *dir, const char *name, struct ca **out)
{
	struct ca *ca = NULL;
	struct embedded *e = NULL;
	char *keypath = NULL, *crtpath = NULL, *dbpath = NULL, *lockpath = NULL;
	int lockfd = -1, rc;
	struct stat st;

	*out = NULL;
	if (dir == NULL || *dir == '\0' || name == NULL || *name == '\0' ||
	    utf8_chars(name) + strlen(" Embedded CA") > 64) {
		log_error("CA name must be 1 to %zu characters", 64 - strlen(" Embedded CA"));
		rc = UKEY_ERR_INVAL;
		goto out;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_error("mkdir(%s): %s", dir, strerror(errno));
		rc = UKEY_ERR_IO;
		goto out;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		log_error("%s is not a directory", dir);
		rc = UKEY_ERR_IO;
		goto out;
	}
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
	if (access(keypath, F_OK) == 0) {
		if ((rc = load_pem(keypath, &e->key, NULL)) != 0)
			goto out;
	} else {
		if (access(crtpath, F_OK) == 0) {
			log_error("%s exists without %s; refusing to make a new key", crtpath, keypath);
			rc = UKEY_ERR_IO;
			goto out;
		}
		if ((e->key = EVP_EC_gen("P-384")) == NULL) {
			log_openssl("EVP_EC_gen(P-384)");
			rc = UKEY_ERR_CRYPTO;
			goto out;
		}
		if ((rc = pem_write_atomic(keypath, 0600, e->key, 1, NULL)) != 0)
			goto out;
		log_info("created CA key %s (EC P-384)", keypath);
	}
	/* RFC 5480/5758: the hash should match the key's strength. */
	e->md = EVP_PKEY_get_bits(e->key) >= 384 ? EVP_sha384() : EVP_sha256();
	if (access(crtpath, F_OK) == 0) {
		if ((rc = load_pem(crtpath, NULL, &ca->cert)) != 0)
			goto out;
		if (EVP_PKEY_eq(X509_get0_pubkey(ca->cert), e->key) != 1) {
			log_error("%s does not belong to %s", crtpath, keypath);
			rc = UKEY_ERR_VERIFY;
			goto out;
		}
	} else {
		/* Also reached when a crash came between writing the key and the
		 * certificate: the key is kept, the certificate made now. */
		if ((rc = make_ca_cert(e->key, e->md, name, &ca->cert)) != 0 ||
		    (rc = pem_write_atomic(crtpath, 0644, NULL, 0, ca->cert)) != 0)
			goto out;
		log_info("created CA certificate %s", crtpath);
	}
	if ((rc = open_db(dbpath, &e->db)) != 0)
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

/* Looks up request_key. Returns 0 and *out when found, UKEY_ERR_NOTFOUND,
 * UKEY_ERR_STATE when that certificate was revoked, UKEY_ERR_DB. */
static int
find_request(struct embedded *e, const char *request_key, X509 **out)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *der;
	int rc, r;

	*out = NULL;
	if (sqlite3_prepare_v2(e->db, "SELECT der, status, serial FROM issued WHERE request_key = ?",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, request_key, -1, SQLITE_STATIC) != SQLITE_OK) {
		log_error("select issued: %s", sqlite3_errmsg(e->db));
		rc = UKEY_ERR_DB;
		goto out;
	}
	r = sqlite3_step(st);
	if (r == SQLITE_DONE) {
		rc = UKEY_ERR_NOTFOUND;
		goto out;
	}
	if (r != SQLITE_ROW) {
		log_error("select issued: %s", sqlite3_errmsg(e->db));
		rc = UKEY_ERR_DB;
		goto out;
	}
	if (strcmp((const char *)sqlite3_column_text(st, 1), "valid") != 0) {
		log_error("request key was issued serial %s, since revoked; use a new request key",
			  (const char *)sqlite3_column_text(st, 2));
		rc = UKEY_ERR_STATE;
		goto out;
	}
	der = sqlite3_column_blob(st, 0);
	if ((*out = d2i_X509(NULL, &der, sqlite3_column_bytes(st, 0))) == NULL) {
		log_openssl("d2i_X509 (stored certificate)");
		rc = UKEY_ERR_DB;
		goto out;
	}
	log_info("request key seen before: returning serial %s again",
		 (const char *)sqlite3_column_text(st, 2));
	rc = 0;
 out:
	sqlite3_finalize(st);
	return rc;
}

static int
serial_taken(struct embedded *e, const char *hex)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (sqlite3_prepare_v2(e->db, "SELECT 1 FROM issued WHERE serial = ?", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC) != SQLITE_OK) {
		log_error("select serial: %s", sqlite3_errmsg(e->db));
		sqlite3_finalize(st);
		return UKEY_ERR_DB;
	}
	r = sqlite3_step(st);
	sqlite3_finalize(st);
	if (r == SQLITE_ROW)
		return 1;
	if (r == SQLITE_DONE)
		return 0;
	log_error("select serial: %s", sqlite3_errmsg(e->db));
	return UKEY_ERR_DB;
}

/* Adds the GM/T 0015 identity extension: a PrintableString, non-critical. */
static int
add_gm_identity(X509 *cert, const char *oid, const char *value)
{
	ASN1_OBJECT *obj = NULL;
	ASN1_PRINTABLESTRING *ps = NULL;
	ASN1_OCTET_STRING *os = NULL;
	X509_EXTENSION *ext = NULL;
	unsigned char *der = NULL;
	int len, rc;

	if ((obj = OBJ_txt2obj(oid, 1)) == NULL || (ps = ASN1_PRINTABLESTRING_new()) == NULL ||
	    ASN1_STRING_set(ps, value, -1) != 1 || (len = i2d_ASN1_PRINTABLESTRING(ps, &der)) <= 0 ||
	    (os = ASN1_OCTET_STRING_new()) == NULL || ASN1_OCTET_STRING_set(os, der, len) != 1 ||
	    (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) == NULL ||
	    X509_add_ext(cert, ext, -1) != 1) {
		log_openssl("GM/T identity extension");
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	rc = 0;
 out:
	OPENSSL_free(der);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_PRINTABLESTRING_free(ps);
	ASN1_OBJECT_free(obj);
	return rc;
}

/* Adds a non-critical subjectAltName holding one rfc822Name. */
static int
add_email_san(X509 *cert, const char *email)
{
	GENERAL_NAMES *names = NULL;
	GENERAL_NAME *gn = NULL;
	ASN1_IA5STRING *ia5 = NULL;
	int rc;

	if ((names = GENERAL_NAMES_new()) == NULL || (gn = GENERAL_NAME_new()) == NULL ||
	    (ia5 = ASN1_IA5STRING_new()) == NULL || ASN1_STRING_set(ia5, email, -1) != 1) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	GENERAL_NAME_set0_value(gn, GEN_EMAIL, ia5);
	ia5 = NULL;		/* gn owns it */
	if (sk_GENERAL_NAME_push(names, gn) <= 0) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	gn = NULL;		/* names owns it */
	if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) != 1) {
		log_openssl("subjectAltName");
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	rc = 0;
 out:
	ASN1_IA5STRING_free(ia5);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(names);
	return rc;
}

/* Builds and signs the end-entity certificate for pub. */
static int
build_cert(struct ca *ca, struct embedded *e, const struct ca_request *req, EVP_PKEY *pub,
	   const BIGNUM *serial, X509 **out)
{
	static const struct {
		unsigned bit;
		const char *name;
	} ku[] = {
		{ KU_DIGITAL_SIGNATURE, "digitalSignature" },
		{ KU_NON_REPUDIATION, "nonRepudiation" },
		{ KU_KEY_ENCIPHERMENT, "keyEncipherment" },
		{ KU_DATA_ENCIPHERMENT, "dataEncipherment" },
		{ KU_KEY_AGREEMENT, "keyAgreement" },
	};
	const struct certprof *p = req->profile;
	unsigned bits = certprof_key_usage(p);
	/* e-mail protection only for a certificate that names the address */
	const char *email = certprof_email(p) ? req->email : NULL;
	char kus[256] = "critical", ekus[512] = "";
	X509V3_CTX ctx;
	X509 *cert = NULL;
	size_t i;
	int rc;

	*out = NULL;
	if ((cert = X509_new()) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if ((rc = cert_frame(cert, serial, X509_get_subject_name(ca->cert), req->subject, req->years,
			     pub)) != 0)
		goto out;
	for (i = 0; i < sizeof(ku) / sizeof(ku[0]); i++) {
		if (bits & ku[i].bit) {
			strcat(kus, ",");
			strcat(kus, ku[i].name);
		}
	}
	for (i = 0; i < certprof_eku_count(p); i++) {
		if (strlen(ekus) + strlen(certprof_eku_oid(p, i)) + 2 +
		    sizeof(",emailProtection") > sizeof(ekus)) {
			rc = UKEY_ERR_INVAL;
			goto out;
		}
		if (i > 0)
			strcat(ekus, ",");
		strcat(ekus, certprof_eku_oid(p, i));
	}
	if (email != NULL) {
		if (ekus[0] != '\0')
			strcat(ekus, ",");
		strcat(ekus, "emailProtection");	/* room: see the loop's bound */
	}
	X509V3_set_ctx(&ctx, ca->cert, cert, NULL, NULL, 0);
	if ((rc = add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE")) != 0 ||
	    (rc = add_ext(cert, &ctx, NID_key_usage, kus)) != 0 ||
	    (ekus[0] != '\0' && (rc = add_ext(cert, &ctx, NID_ext_key_usage, ekus)) != 0) ||
	    (rc = add_ext(cert, &ctx, NID_subject_key_identifier, "hash")) != 0 ||
	    (rc = add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always")) != 0 ||
	    (email != NULL && (rc = add_email_san(cert, email)) != 0))
		goto out;
	if (certprof_gm_identity_oid(p) != NULL &&
	    (rc = add_gm_identity(cert, certprof_gm_identity_oid(p), req->gm_identity_value)) != 0)
		goto out;
	if (X509_sign(cert, e->key, e->md) <= 0) {
		log_openssl("X509_sign");
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	*out = cert;
	cert = NULL;
	rc = 0;
 out:
	X509_free(cert);
	return rc;
}

static int
record_cert(struct embedded *e, const char *serial, const char *request_key, X509 *cert)
{
	sqlite3_stmt *st = NULL;
	unsigned char *der = NULL;
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
	if (sqlite3_prepare_v2(e->db, "INSERT INTO issued (serial, request_key, subject, not_before, "
			       "not_after, status, der, issued_at) VALUES (?, ?, ?, ?, ?, 'valid', ?, ?)",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, request_key, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 3, subject, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 4, nb, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 5, na, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_blob(st, 6, der, len, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 7, now, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE) {
		log_error("insert issued: %s", sqlite3_errmsg(e->db));
		rc = UKEY_ERR_DB;
		goto out;
	}
	rc = 0;
 out:
	sqlite3_finalize(st);
	OPENSSL_free(der);
	free(subject);
	return rc;
}

static int
embedded_issue(struct ca *ca, const struct ca_request *req, X509 **out)
{
	struct embedded *e = ca->impl;
	EVP_PKEY *csr_pub, *throwaway = NULL, *pub;
	X509 *cert = NULL;
	BIGNUM *serial = NULL;
	char *hex = NULL;
	char fault[160], *subject = NULL;
	int in_tx = 0, tries, taken, rc;

	*out = NULL;
	read_fault(e, fault, sizeof(fault));
	if (strcmp(fault, "down") == 0) {
		log_warn("embedded CA: fault hook says down");
		rc = UKEY_ERR_UNAVAIL;
		goto out;
	}
	if ((rc = check_request(req)) != 0)
		goto out;
	if (strncmp(fault, "refuse ", 7) == 0) {
		/* Test hook: refuse, as malformed, every request whose subject
		 * holds the text, as a CA's policy would refuse one unit's. */
		if ((rc = cert_subject_text(req->subject, &subject)) != 0)
			goto out;
		if (strstr(subject, fault + 7) != NULL) {
			log_warn("embedded CA: fault hook refuses subject %s", subject);
			rc = UKEY_ERR_INVAL;
			goto out;
		}
	}
	/* OpenSSL 3.0's CSR getters take non-const pointers; nothing is written. */
	if ((csr_pub = X509_REQ_get0_pubkey((X509_REQ *)req->csr)) == NULL) {
		log_error("CSR has no readable public key");
		rc = UKEY_ERR_INVAL;
		goto out;
	}
	if (X509_REQ_verify((X509_REQ *)req->csr, csr_pub) != 1) {
		log_error("CSR signature does not verify with its own key (no proof of possession)");
		ERR_clear_error();
		rc = UKEY_ERR_VERIFY;
		goto out;
	}
	if ((rc = key_fits_profile(csr_pub, req->profile)) != 0)
		goto out;
	/* One writer at a time from here to COMMIT: the request-key lookup,
	 * the serial draw and the insert see one consistent list. */
	if ((rc = db_exec(e->db, "BEGIN IMMEDIATE")) != 0)
		goto out;
	in_tx = 1;
	rc = find_request(e, req->request_key, out);
	if (rc == 0 && EVP_PKEY_eq(X509_get0_pubkey(*out), csr_pub) != 1)
		log_warn("request key seen before with another public key; returning the first "
			 "certificate, which the caller's check will refuse");
	if (rc != UKEY_ERR_NOTFOUND)
		goto out;	/* found (rc 0), revoked or a database error */
	for (tries = 0;; tries++) {
		BN_free(serial);
		serial = NULL;
		OPENSSL_free(hex);
		hex = NULL;
		if ((rc = draw_serial(&serial)) != 0)
			goto out;
		if ((hex = BN_bn2hex(serial)) == NULL) {
			rc = UKEY_ERR_NOMEM;
			goto out;
		}
		if ((taken = serial_taken(e, hex)) < 0) {
			rc = taken;
			goto out;
		}
		if (!taken)
			break;
		log_warn("serial %s drawn twice; drawing again", hex);
		if (tries + 1 == SERIAL_TRIES) {
			rc = UKEY_ERR_CRYPTO;	/* a broken random generator */
			goto out;
		}
	}
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
	if ((rc = build_cert(ca, e, req, pub, serial, &cert)) != 0 ||
	    (rc = record_cert(e, hex, req->request_key, cert)) != 0)
		goto out;
	/* The certificate leaves only once its row is durable. */
	if ((rc = db_exec(e->db, "COMMIT")) != 0)
		goto out;
	in_tx = 0;
	log_info("issued serial %s (profile %s, %d years)", hex, certprof_name(req->profile), req->years);
	*out = cert;
	cert = NULL;
	rc = 0;
 out:
	if (in_tx)
		(void)db_exec(e->db, "ROLLBACK");
	if (rc != 0 && *out != NULL) {
		X509_free(*out);
		*out = NULL;
	}
	X509_free(cert);
	EVP_PKEY_free(throwaway);
	BN_free(serial);
	OPENSSL_free(hex);
	free(subject);
	return rc;
}

static int
embedded_revoke(struct ca *ca, const char *serial_hex, const char *reason)
{
	struct embedded *e = ca->impl;
	sqlite3_stmt *st = NULL;
	char serial[128], now[32], fault[160], status[16] = "";
	size_t i, n = strlen(serial_hex);
	int in_tx = 0, r, rc;

	read_fault(e, fault, sizeof(fault));
	if (strcmp(fault, "down") == 0) {
		rc = UKEY_ERR_UNAVAIL;
		goto out;
	}
	if (reason == NULL)
		reason = "unspecified";
	for (i = 0; i < sizeof(revoke_reasons) / sizeof(revoke_reasons[0]); i++)
		if (strcmp(revoke_reasons[i], reason) == 0)
			break;
	if (i == sizeof(revoke_reasons) / sizeof(revoke_reasons[0])) {
		log_error("revocation reason '%s' is not an RFC 5280 reason name", reason);
		rc = UKEY_ERR_INVAL;
		goto out;
	}
	if (n == 0 || n >= sizeof(serial)) {
		rc = UKEY_ERR_INVAL;
		goto out;
	}
	for (i = 0; i <= n; i++) {
		if (i < n && !isxdigit((unsigned char)serial_hex[i])) {
			log_error("serial '%s' is not hex", serial_hex);
			rc = UKEY_ERR_INVAL;
			goto out;
		}
		serial[i] = (char)toupper((unsigned char)serial_hex[i]);
	}
	now_iso(now, sizeof(now));
	if ((rc = db_exec(e->db, "BEGIN IMMEDIATE")) != 0)
		goto out;
	in_tx = 1;
	if (sqlite3_prepare_v2(e->db, "SELECT status FROM issued WHERE serial = ?", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC) != SQLITE_OK) {
		log_error("select issued: %s", sqlite3_errmsg(e->db));
		rc = UKEY_ERR_DB;
		goto out;
	}
	if ((r = sqlite3_step(st)) == SQLITE_ROW)
		snprintf(status, sizeof(status), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	st = NULL;
	if (r == SQLITE_DONE) {
		rc = UKEY_ERR_NOTFOUND;
		goto out;
	}
	if (r != SQLITE_ROW) {
		log_error("select issued: %s", sqlite3_errmsg(e->db));
		rc = UKEY_ERR_DB;
		goto out;
	}
	if (strcmp(status, "valid") != 0) {
		rc = UKEY_ERR_STATE;
		goto out;
	}
	if (sqlite3_prepare_v2(e->db, "UPDATE issued SET status = 'revoked', revoked_at = ?, "
			       "revoke_reason = ? WHERE serial = ?", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 3, serial, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE) {
		log_error("update issued: %s", sqlite3_errmsg(e->db));
		rc = UKEY_ERR_DB;
		goto out;
	}
	if ((rc = db_exec(e->db, "COMMIT")) != 0)
		goto out;
	in_tx = 0;
	log_info("revoked serial %s (%s)", serial, reason);
	rc = 0;
 out:
	sqlite3_finalize(st);
	if (in_tx)
		(void)db_exec(e->db, "ROLLBACK");
	return rc;
}

static int
json_add_text(struct json_object *o, const char *key, const unsigned char *v)
{
	struct json_object *s;

	if (v == NULL)
		return 0;
	if ((s = json_object_new_string((const char *)v)) == NULL)
		return UKEY_ERR_NOMEM;
	if (json_object_object_add(o, key, s) != 0) {
		json_object_put(s);
		return UKEY_ERR_NOMEM;
	}
	return 0;
}

static int
embedded_list(struct ca *ca, struct json_object **out)
{
	static const char *const cols[] = {
		"serial", "subject", "not_before", "not_after", "status", "request_key",
		"revoked_at", "revoke_reason",
	};
	struct embedded *e = ca->impl;
	struct json_object *arr = NULL, *row = NULL;
	sqlite3_stmt *st = NULL;
	size_t i;
	int r, rc;

	*out = NULL;
	if ((arr = json_object_new_array()) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if (sqlite3_prepare_v2(e->db, "SELECT serial, subject, not_before, not_after, status, "
			       "request_key, revoked_at, revoke_reason FROM issued "
			       "ORDER BY issued_at, rowid", -1, &st, NULL) != SQLITE_OK) {
		log_error("select issued: %s", sqlite3_errmsg(e->db));
		rc = UKEY_ERR_DB;
		goto out;
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if ((row = json_object_new_object()) == NULL) {
			rc = UKEY_ERR_NOMEM;
			goto out;
		}
		for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
			if ((rc = json_add_text(row, cols[i], sqlite3_column_text(st, (int)i))) != 0)
				goto out;
		if (json_object_array_add(arr, row) != 0) {
			rc = UKEY_ERR_NOMEM;
			goto out;
		}
		row = NULL;
	}
	if (r != SQLITE_DONE) {
		log_error("select issued: %s", sqlite3_errmsg(e->db));
		rc = UKEY_ERR_DB;
		goto out;
	}
	*out = arr;
	arr = NULL;
	rc = 0;
 out:
	sqlite3_finalize(st);
	json_object_put(row);
	json_object_put(arr);
	return rc;
}
