/* The embedded CA: creation and reload, issuance (validity, serial,
 * extensions), idempotent request keys, forged CSRs, revocation, the fault
 * hook, and `openssl verify` on what it issues. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/certcheck.h"
#include "ca/certprof.h"
#include "common/err.h"
#include "store/store_ca.h"

struct fixture {
	char dir[64];		/* temp dir; the CA lives in dir/ca */
	char cadir[96];
	struct ca *ca;
	struct certprof *org, *rep, *ent;
	EVP_PKEY *ec, *rsa;
	X509_REQ *ec_csr, *rsa_csr;
	X509_NAME *org_subject, *person_subject;
};

static const char *
lookup(void *ctx, const char *var)
{
	static const char *const kv[] = {
		"province", "云南省", "city", "昆明市", "county", "五华区",
		"org_name", "云南测试科技有限公司", "uscc", "91530100MA6K5U5X7R",
		"name", "张三", "id_number", "530102199003070016", NULL,
	};
	size_t i;

	(void)ctx;
	for (i = 0; kv[i] != NULL; i += 2)
		if (strcmp(kv[i], var) == 0)
			return kv[i + 1];
	return NULL;
}

static struct certprof *
load_profile(const char *file)
{
	struct certprof *p = NULL;
	const char *src = getenv("UKEY_SOURCE_DIR");
	char path[1024], err[512];

	snprintf(path, sizeof(path), "%s/cert-profiles/%s", src ? src : UKEY_SOURCE_DIR, file);
	if (certprof_load(path, &p, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return p;
}

static X509_REQ *
make_csr(EVP_PKEY *key)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *n = X509_NAME_new();

	assert_non_null(req);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
						    (const unsigned char *)"token", -1, -1, 0), 1);
	assert_int_equal(X509_REQ_set_subject_name(req, n), 1);
	assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return req;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/ukey-ca-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->cadir, sizeof(f->cadir), "%s/ca", f->dir);
	assert_int_equal(ca_embedded_open(f->cadir, "Test Station", &f->ca), 0);
	f->org = load_profile("organisation.conf");
	f->rep = load_profile("legal-rep.conf");
	f->ent = load_profile("entrusted.conf");
	assert_non_null(f->ec = EVP_EC_gen("P-256"));
	assert_non_null(f->rsa = EVP_RSA_gen(2048));
	f->ec_csr = make_csr(f->ec);
	f->rsa_csr = make_csr(f->rsa);
	assert_int_equal(certprof_subject(f->org, lookup, NULL, &f->org_subject, err, sizeof(err)), 0);
	assert_int_equal(certprof_subject(f->ent, lookup, NULL, &f->person_subject, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	ca_free(f->ca);
	certprof_free(f->org);
	certprof_free(f->rep);
	certprof_free(f->ent);
	EVP_PKEY_free(f->ec);
	EVP_PKEY_free(f->rsa);
	X509_REQ_free(f->ec_csr);
	X509_REQ_free(f->rsa_csr);
	X509_NAME_free(f->org_subject);
	X509_NAME_free(f->person_subject);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Does cert's extended key usage list the dotted oid? */
static int
has_eku(const X509 *cert, const char *oid)
{
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(cert, NID_ext_key_usage, NULL, NULL);
	char buf[64];
	int i, found = 0;

	for (i = 0; eku != NULL && i < sk_ASN1_OBJECT_num(eku); i++) {
		OBJ_obj2txt(buf, sizeof(buf), sk_ASN1_OBJECT_value(eku, i), 1);
		if (strcmp(buf, oid) == 0)
			found = 1;
	}
	EXTENDED_KEY_USAGE_free(eku);
	return found;
}

/* The rfc822Name of cert's subjectAltName, malloc'd, or NULL. */
static char *
san_email(const X509 *cert)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	char *out = NULL;
	int i;

	for (i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

		if (gn->type == GEN_EMAIL && out == NULL)
			out = strndup((const char *)ASN1_STRING_get0_data(gn->d.rfc822Name),
			    (size_t)ASN1_STRING_length(gn->d.rfc822Name));
	}
	GENERAL_NAMES_free(names);
	return out;
}

static struct ca_request
org_request(struct fixture *f, const char *key, int years)
{
	struct ca_request r = {
		.csr = f->rsa_csr, .subject = f->org_subject, .profile = f->org, .years = years,
		.request_key = key, .gm_identity_value = "91530100MA6K5U5X7R",
	};
	return r;
}

static struct ca_request
person_request(struct fixture *f, const char *key, int years)
{
	struct ca_request r = {
		.csr = f->ec_csr, .subject = f->person_subject, .profile = f->ent, .years = years,
		.request_key = key, .gm_identity_value = NULL,
	};
	return r;
}

static void
test_create_and_reload(void **state)
{
	struct fixture *f = *state;
	const X509 *c = ca_cert(f->ca);
	struct ca *again = NULL;
	BASIC_CONSTRAINTS *bc;
	struct stat st;
	char path[160], *subj = NULL;
	time_t nb, na, want;
	int crit = -1;

	assert_string_equal(ca_kind(f->ca), "embedded");
	assert_int_equal(stat(f->cadir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/ca.key", f->cadir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/ca.crt", f->cadir);
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/ca.db", f->cadir);
	assert_int_equal(stat(path, &st), 0);

	assert_int_equal(cert_subject_text(X509_get_subject_name(c), &subj), 0);
	assert_string_equal(subj, "CN=Test Station Embedded CA,C=CN");
	free(subj);
	assert_int_equal(X509_get_version(c), X509_VERSION_3);
	bc = X509_get_ext_d2i(c, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_int_equal(crit, 1);
	assert_true(bc->ca);
	assert_int_equal(ASN1_INTEGER_get(bc->pathlen), 0);
	BASIC_CONSTRAINTS_free(bc);
	assert_int_equal(X509_get_key_usage((X509 *)c), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	assert_non_null(X509_get0_subject_key_id((X509 *)c));
	assert_int_equal(X509_verify((X509 *)c, X509_get0_pubkey(c)), 1);
	assert_true(EVP_PKEY_is_a(X509_get0_pubkey(c), "EC"));
	assert_int_equal(X509_get_signature_nid(c), NID_ecdsa_with_SHA384);
	assert_int_equal(cert_time_to_time_t(X509_get0_notBefore(c), &nb), 0);
	assert_int_equal(cert_time_to_time_t(X509_get0_notAfter(c), &na), 0);
	assert_int_equal(cert_time_add_years(nb, 20, &want), 0);
	assert_true(na == want);

	/* Reopening loads the same CA, whatever name is passed. */
	assert_int_equal(ca_embedded_open(f->cadir, "Other", &again), 0);
	assert_int_equal(X509_cmp(ca_cert(again), c), 0);
	ca_free(again);
}

static void
test_bad_open(void **state)
{
	struct fixture *f = *state;
	struct ca *other = NULL, *x = NULL;
	char dir2[160], cmd[512];

	assert_int_equal(ca_embedded_open(f->cadir, "", &x), UKEY_ERR_INVAL);
	assert_null(x);
	assert_int_equal(ca_embedded_open("/nonexistent-parent/ca", "X", &x), UKEY_ERR_IO);
	/* A certificate that belongs to another key is refused. */
	snprintf(dir2, sizeof(dir2), "%s/other", f->dir);
	assert_int_equal(ca_embedded_open(dir2, "Other", &other), 0);
	ca_free(other);
	snprintf(cmd, sizeof(cmd), "cp '%s/ca.crt' '%s/ca.crt'", dir2, f->cadir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(ca_embedded_open(f->cadir, "X", &x), UKEY_ERR_VERIFY);
	assert_null(x);
}

static void
test_issue_organisation(void **state)
{
	struct fixture *f = *state;
	struct ca_request r = org_request(f, "order-1/item-1", 2);
	X509 *cert = NULL;
	BASIC_CONSTRAINTS *bc;
	ASN1_OBJECT *gm = OBJ_txt2obj("1.2.156.10260.4.1.4", 1);
	X509_EXTENSION *ext;
	const unsigned char *p;
	ASN1_PRINTABLESTRING *ps;
	const ASN1_INTEGER *sn;
	time_t nb, na, want, now = time(NULL);
	char why[256] = "";
	int crit = -1, idx;

	assert_int_equal(ca_issue(f->ca, &r, &cert), 0);
	assert_int_equal(X509_get_version(cert), X509_VERSION_3);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(cert), f->org_subject), 0);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(ca_cert(f->ca))), 0);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), f->rsa), 1);
	assert_int_equal(X509_get_signature_nid(cert), NID_ecdsa_with_SHA384);

	/* Validity: exactly two calendar years from about now. */
	assert_int_equal(cert_time_to_time_t(X509_get0_notBefore(cert), &nb), 0);
	assert_int_equal(cert_time_to_time_t(X509_get0_notAfter(cert), &na), 0);
	assert_true(nb <= now + 1 && nb >= now - 60);
	assert_int_equal(cert_time_add_years(nb, 2, &want), 0);
	assert_true(na == want);

	/* Serial: positive, 64 bits or more. */
	sn = X509_get0_serialNumber(cert);
	assert_int_equal(ASN1_STRING_type(sn), V_ASN1_INTEGER);
	assert_true(ASN1_STRING_length(sn) >= 8);

	/* Extensions. */
	bc = X509_get_ext_d2i(cert, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_int_equal(crit, 1);
	assert_false(bc->ca);
	BASIC_CONSTRAINTS_free(bc);
	idx = X509_get_ext_by_NID(cert, NID_key_usage, -1);
	assert_true(idx >= 0);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(cert, idx)), 1);
	assert_int_equal(X509_get_key_usage(cert), certprof_key_usage(f->org));
	/* the organisation's purposes: login (clientAuth), document signing and
	 * e-seal (documentSigning); no e-mail protection, no e-mail name */
	assert_int_equal(X509_get_extended_key_usage(cert), XKU_SSL_CLIENT);
	assert_true(has_eku(cert, "1.3.6.1.5.5.7.3.36"));
	assert_false(has_eku(cert, "1.3.6.1.5.5.7.3.4"));
	assert_true(X509_get_ext_by_NID(cert, NID_subject_alt_name, -1) < 0);
	assert_non_null(X509_get0_subject_key_id(cert));
	assert_non_null(X509_get0_authority_key_id(cert));
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert),
					       X509_get0_subject_key_id((X509 *)ca_cert(f->ca))), 0);
	idx = X509_get_ext_by_OBJ(cert, gm, -1);
	assert_true(idx >= 0);
	ext = X509_get_ext(cert, idx);
	assert_int_equal(X509_EXTENSION_get_critical(ext), 0);
	p = ASN1_STRING_get0_data(X509_EXTENSION_get_data(ext));
	ps = d2i_ASN1_PRINTABLESTRING(NULL, &p, ASN1_STRING_length(X509_EXTENSION_get_data(ext)));
	assert_non_null(ps);
	assert_int_equal(ASN1_STRING_type(ps), V_ASN1_PRINTABLESTRING);
	assert_int_equal(ASN1_STRING_length(ps), 18);
	assert_memory_equal(ASN1_STRING_get0_data(ps), "91530100MA6K5U5X7R", 18);
	ASN1_PRINTABLESTRING_free(ps);
	ASN1_OBJECT_free(gm);

	/* The station's own check accepts it. */
	if (certcheck_issued(cert, ca_cert(f->ca), f->rsa, f->org_subject, 2, time(NULL), why,
			     sizeof(why)) != 0)
		fail_msg("certcheck: %s", why);
	X509_free(cert);
}

static void
test_issue_person_no_gm(void **state)
{
	struct fixture *f = *state;
	struct ca_request r = person_request(f, "order-2/item-1", 1);
	X509 *cert = NULL;
	ASN1_OBJECT *gm = OBJ_txt2obj("1.2.156.10260.4.1.1", 1);

	assert_int_equal(ca_issue(f->ca, &r, &cert), 0);
	assert_int_equal(X509_get_key_usage(cert), KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION);
	assert_true(X509_get_ext_by_OBJ(cert, gm, -1) < 0);
	ASN1_OBJECT_free(gm);
	X509_free(cert);
}

/* A person's certificate: without an e-mail address in the order, no
 * emailProtection and no e-mail name; with one, both. */
static void
test_person_email(void **state)
{
	struct fixture *f = *state;
	struct ca_request r = person_request(f, "order-3/item-1", 1);
	X509 *cert = NULL;
	char why[256] = "", *email;

	assert_int_equal(ca_issue(f->ca, &r, &cert), 0);
	assert_int_equal(X509_get_extended_key_usage(cert), XKU_SSL_CLIENT);
	assert_true(has_eku(cert, "1.3.6.1.5.5.7.3.36"));
	assert_false(has_eku(cert, "1.3.6.1.5.5.7.3.4"));
	assert_null(san_email(cert));
	X509_free(cert);
	cert = NULL;

	r = person_request(f, "order-3/item-2", 1);
	r.email = "wang.wu@dianchi-tech.cn";
	assert_int_equal(ca_issue(f->ca, &r, &cert), 0);
	assert_int_equal(X509_get_extended_key_usage(cert), XKU_SSL_CLIENT | XKU_SMIME);
	assert_true(has_eku(cert, "1.3.6.1.5.5.7.3.36"));
	assert_non_null(email = san_email(cert));
	assert_string_equal(email, "wang.wu@dianchi-tech.cn");
	free(email);
	if (certcheck_issued(cert, ca_cert(f->ca), f->ec, f->person_subject, 1, time(NULL), why,
			     sizeof(why)) != 0)
		fail_msg("certcheck: %s", why);
	X509_free(cert);
	cert = NULL;

	/* a profile without the email purpose ignores the address */
	r = org_request(f, "order-3/item-3", 1);
	r.email = "office@dianchi-tech.cn";
	assert_int_equal(ca_issue(f->ca, &r, &cert), 0);
	assert_false(has_eku(cert, "1.3.6.1.5.5.7.3.4"));
	assert_null(san_email(cert));
	X509_free(cert);
	cert = NULL;

	/* an address that is not a plain mailbox never reaches the certificate */
	r = person_request(f, "order-3/item-4", 1);
	r.email = "wang.wu@dianchi-tech.cn,DNS:evil.example";
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_INVAL);
	assert_null(cert);
	r.email = "wang.wu@Dianchi-Tech.cn";	/* not in the stored (normalized) form */
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_INVAL);
	assert_null(cert);
}

static void
test_idempotent(void **state)
{
	struct fixture *f = *state;
	struct ca_request r = person_request(f, "order-3/item-1", 1);
	struct json_object *list = NULL;
	X509 *a = NULL, *b = NULL;
	X509_REQ *other;
	EVP_PKEY *k2;
	char sa[64], sb[64];

	char status[16];

	assert_int_equal(ca_request_status(f->ca, "order-3/item-1", status, sizeof(status)),
	    UKEY_ERR_NOTFOUND);
	assert_int_equal(ca_issue(f->ca, &r, &a), 0);
	assert_int_equal(ca_request_status(f->ca, "order-3/item-1", status, sizeof(status)), 0);
	assert_string_equal(status, "valid");
	assert_int_equal(ca_request_status(f->ca, "order-3/item-2", status, sizeof(status)),
	    UKEY_ERR_NOTFOUND);
	assert_int_equal(ca_issue(f->ca, &r, &b), 0);
	assert_int_equal(cert_serial_hex(a, sa, sizeof(sa)), 0);
	assert_int_equal(cert_serial_hex(b, sb, sizeof(sb)), 0);
	assert_string_equal(sa, sb);
	assert_int_equal(X509_cmp(a, b), 0);
	X509_free(b);
	b = NULL;
	/* Even a new CSR under the same key gets the first certificate, never a second. */
	assert_non_null(k2 = EVP_EC_gen("P-256"));
	other = make_csr(k2);
	r.csr = other;
	assert_int_equal(ca_issue(f->ca, &r, &b), 0);
	assert_int_equal(X509_cmp(a, b), 0);
	/* Reopening keeps the list. */
	ca_free(f->ca);
	assert_int_equal(ca_embedded_open(f->cadir, "Test Station", &f->ca), 0);
	X509_free(b);
	b = NULL;
	assert_int_equal(ca_issue(f->ca, &r, &b), 0);
	assert_int_equal(X509_cmp(a, b), 0);
	assert_int_equal(ca_list_issued(f->ca, &list), 0);
	assert_int_equal(json_object_array_length(list), 1);
	json_object_put(list);
	X509_REQ_free(other);
	EVP_PKEY_free(k2);
	X509_free(a);
	X509_free(b);
}

/* The list read on a connection of its own (the reconciliation report's
 * thread) is the one the CA's handle gives, walked in serial order (strcmp),
 * one snapshot per walk; one serial is found in any case, not while a walk
 * is open. */
static void
test_reader(void **state)
{
	struct fixture *f = *state;
	struct ca_request r;
	struct json_object *list = NULL;
	struct store_ca_cert c = { 0 }, other = { 0 };
	struct ca_reader *rd = NULL;
	X509 *a[4] = { NULL };
	char serial[4][64], key[32], prev[64], *lower;
	int i, n, seen[3] = { 0 };

	assert_int_equal(ca_reader_open(f->cadir, &rd), 0);
	assert_int_equal(ca_reader_next(rd, &c), 0);
	assert_null(c.serial);
	/* issued while the reader is open: seen by its next walk */
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "order-5/item-%d", i + 1);
		r = person_request(f, key, 1);
		assert_int_equal(ca_issue(f->ca, &r, &a[i]), 0);
		assert_int_equal(cert_serial_hex(a[i], serial[i], sizeof(serial[i])), 0);
	}
	assert_int_equal(ca_list_issued(f->ca, &list), 0);
	assert_int_equal(json_object_array_length(list), 3);
	prev[0] = '\0';
	for (n = 0; ca_reader_next(rd, &c) == 1; n++) {
		assert_true(strcmp(prev, c.serial) < 0);
		snprintf(prev, sizeof(prev), "%s", c.serial);
		for (i = 0; i < 3 && strcmp(serial[i], c.serial) != 0; i++)
			;
		assert_true(i < 3);
		seen[i]++;
		assert_string_equal(c.status, "valid");
		assert_string_equal(c.subject, json_object_get_string(json_object_object_get(
		    json_object_array_get_idx(list, i), "subject")));
		assert_null(c.der);
		if (n == 0) {
			/* a walk is one snapshot: the fourth is not in it */
			r = person_request(f, "order-5/item-4", 1);
			assert_int_equal(ca_issue(f->ca, &r, &a[3]), 0);
			assert_int_equal(cert_serial_hex(a[3], serial[3], sizeof(serial[3])), 0);
			assert_int_equal(ca_reader_find(rd, serial[3], &other), UKEY_ERR_STATE);
			assert_null(other.serial);
		}
	}
	assert_int_equal(n, 3);
	assert_true(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
	assert_null(c.serial);
	/* the walk is over: the fourth is found, in any case */
	assert_non_null(lower = strdup(serial[3]));
	for (char *p = lower; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	assert_int_equal(ca_reader_find(rd, lower, &c), 0);
	assert_string_equal(c.serial, serial[3]);
	assert_string_equal(c.status, "valid");
	assert_string_equal(c.request_key, "order-5/item-4");
	store_ca_cert_clear(&c);
	assert_int_equal(ca_reader_find(rd, "DEADBEEF0001", &c), UKEY_ERR_NOTFOUND);
	assert_null(c.serial);
	assert_int_equal(ca_reader_find(rd, "not hex", &c), UKEY_ERR_INVAL);
	/* a new walk sees all four; closing in the middle of one is clean */
	for (n = 0; n < 4; n++)
		assert_int_equal(ca_reader_next(rd, &c), 1);
	store_ca_cert_clear(&c);
	assert_int_equal(ca_reader_next(rd, &c), 0);
	assert_int_equal(ca_reader_next(rd, &c), 1);
	store_ca_cert_clear(&c);
	ca_reader_close(rd);
	ca_reader_close(NULL);
	/* no ca.db there: an error, nothing created */
	assert_int_equal(ca_reader_open("/nonexistent-parent/ca", &rd), UKEY_ERR_DB);
	assert_null(rd);
	free(lower);
	json_object_put(list);
	for (i = 0; i < 4; i++)
		X509_free(a[i]);
}

static void
test_forged_csr(void **state)
{
	struct fixture *f = *state;
	struct ca_request r = person_request(f, "order-4/item-1", 1);
	struct json_object *list = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	X509_REQ *bad;
	X509 *cert = NULL;
	int len;

	len = i2d_X509_REQ(f->ec_csr, &der);
	assert_true(len > 0);
	der[len - 1] ^= 0x01;	/* the last byte of the signature */
	p = der;
	assert_non_null(bad = d2i_X509_REQ(NULL, &p, len));
	r.csr = bad;
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_VERIFY);
	assert_null(cert);
	/* A CSR signed by another key than the one it carries. */
	X509_REQ_free(bad);
	assert_non_null(bad = make_csr(f->ec));
	assert_true(X509_REQ_sign(bad, f->rsa, EVP_sha256()) > 0);
	assert_int_equal(X509_REQ_set_pubkey(bad, f->ec), 1);
	r.csr = bad;
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_VERIFY);
	assert_int_equal(ca_list_issued(f->ca, &list), 0);
	assert_int_equal(json_object_array_length(list), 0);
	json_object_put(list);
	X509_REQ_free(bad);
	OPENSSL_free(der);
}

static void
test_bad_requests(void **state)
{
	struct fixture *f = *state;
	struct ca_request r;
	X509 *cert = NULL;

	r = org_request(f, "k1", 2);
	r.csr = f->ec_csr;	/* organisation wants RSA-2048 */
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_INVAL);
	r = person_request(f, "k2", 1);
	r.csr = f->rsa_csr;	/* persons want EC P-256 */
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_INVAL);
	r = org_request(f, "k3", 0);
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_INVAL);
	r = org_request(f, "k4", 6);	/* max_years is 5 */
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_INVAL);
	r = org_request(f, "k5", 1);
	r.gm_identity_value = NULL;
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_INVAL);
	r.gm_identity_value = "统一代码";
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_INVAL);
	r = org_request(f, NULL, 1);
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_INVAL);
	r = org_request(f, "", 1);
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_INVAL);
	assert_null(cert);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_many_serials_distinct(void **state)
{
	enum { N = 1000 };
	struct fixture *f = *state;
	char **serials = calloc(N, sizeof(*serials));
	char key[32], hex[64];
	struct json_object *list = NULL;
	int i;

	assert_non_null(serials);
	for (i = 0; i < N; i++) {
		struct ca_request r = person_request(f, key, 1);
		X509 *cert = NULL;

		snprintf(key, sizeof(key), "bulk/%d", i);
		assert_int_equal(ca_issue(f->ca, &r, &cert), 0);
		assert_int_equal(cert_serial_hex(cert, hex, sizeof(hex)), 0);
		assert_true(strlen(hex) >= 16);
		assert_true(hex[0] != '-');
		assert_non_null(serials[i] = strdup(hex));
		X509_free(cert);
	}
	qsort(serials, N, sizeof(*serials), cmp_str);
	for (i = 1; i < N; i++)
		if (strcmp(serials[i - 1], serials[i]) == 0)
			fail_msg("serial %s issued twice", serials[i]);
	for (i = 0; i < N; i++)
		free(serials[i]);
	free(serials);
	assert_int_equal(ca_list_issued(f->ca, &list), 0);
	assert_int_equal(json_object_array_length(list), N);
	json_object_put(list);
}

static void
test_revoke_and_list(void **state)
{
	struct fixture *f = *state;
	struct ca_request r = person_request(f, "order-5/item-1", 1);
	struct json_object *list = NULL, *row, *v;
	X509 *cert = NULL, *again = NULL;
	char hex[64], lower[64], status[16];
	size_t i;

	assert_int_equal(ca_issue(f->ca, &r, &cert), 0);
	assert_int_equal(cert_serial_hex(cert, hex, sizeof(hex)), 0);
	assert_int_equal(ca_revoke(f->ca, hex, "bogusReason"), UKEY_ERR_INVAL);
	assert_int_equal(ca_revoke(f->ca, "not-hex", NULL), UKEY_ERR_INVAL);
	assert_int_equal(ca_revoke(f->ca, "0123ABCD", NULL), UKEY_ERR_NOTFOUND);
	for (i = 0; hex[i] != '\0'; i++)
		lower[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] + 32 : hex[i]);
	lower[i] = '\0';
	assert_int_equal(ca_revoke(f->ca, lower, "superseded"), 0);
	assert_int_equal(ca_revoke(f->ca, hex, NULL), UKEY_ERR_STATE);
	/* The same request key now refuses rather than handing back a revoked certificate. */
	assert_int_equal(ca_issue(f->ca, &r, &again), UKEY_ERR_STATE);
	assert_null(again);
	assert_int_equal(ca_request_status(f->ca, "order-5/item-1", status, sizeof(status)), 0);
	assert_string_equal(status, "revoked");

	assert_int_equal(ca_list_issued(f->ca, &list), 0);
	assert_int_equal(json_object_array_length(list), 1);
	row = json_object_array_get_idx(list, 0);
	assert_true(json_object_object_get_ex(row, "serial", &v));
	assert_string_equal(json_object_get_string(v), hex);
	assert_true(json_object_object_get_ex(row, "status", &v));
	assert_string_equal(json_object_get_string(v), "revoked");
	assert_true(json_object_object_get_ex(row, "revoke_reason", &v));
	assert_string_equal(json_object_get_string(v), "superseded");
	assert_true(json_object_object_get_ex(row, "request_key", &v));
	assert_string_equal(json_object_get_string(v), "order-5/item-1");
	assert_true(json_object_object_get_ex(row, "subject", &v));
	assert_non_null(strstr(json_object_get_string(v), "CN=张三"));
	assert_true(json_object_object_get_ex(row, "not_after", &v));
	assert_int_equal(strlen(json_object_get_string(v)), 20);
	json_object_put(list);
	X509_free(cert);
}

static void
write_fault(struct fixture *f, const char *what)
{
	char path[160];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/fault", f->cadir);
	if (what == NULL) {
		assert_int_equal(unlink(path), 0);
		return;
	}
	assert_non_null(fp = fopen(path, "w"));
	fprintf(fp, "%s\n", what);
	fclose(fp);
}

static void
test_fault_hook(void **state)
{
	struct fixture *f = *state;
	struct ca_request r = person_request(f, "order-6/item-1", 1);
	X509 *cert = NULL;
	char why[256] = "";

	write_fault(f, "down");
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_UNAVAIL);
	assert_int_equal(ca_revoke(f->ca, "0123", NULL), UKEY_ERR_UNAVAIL);
	write_fault(f, "wrong-key");
	assert_int_equal(ca_issue(f->ca, &r, &cert), 0);
	assert_int_not_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), f->ec), 1);
	assert_int_equal(certcheck_issued(cert, ca_cert(f->ca), f->ec, f->person_subject, 1, time(NULL),
					  why, sizeof(why)), UKEY_ERR_VERIFY);
	assert_string_equal(why, "certificate public key does not match the token's key");
	X509_free(cert);
	cert = NULL;
	write_fault(f, NULL);
	r.request_key = "order-6/item-1/retry";
	assert_int_equal(ca_issue(f->ca, &r, &cert), 0);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), f->ec), 1);
	X509_free(cert);
}

static void
test_openssl_verify(void **state)
{
	struct fixture *f = *state;
	struct ca_request r = org_request(f, "order-7/item-1", 3);
	X509 *cert = NULL;
	char path[160], cmd[512];
	FILE *fp;

	assert_int_equal(ca_issue(f->ca, &r, &cert), 0);
	snprintf(path, sizeof(path), "%s/cert.pem", f->dir);
	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(PEM_write_X509(fp, cert), 1);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "openssl verify -CAfile '%s/ca.crt' '%s' >/dev/null", f->cadir, path);
	assert_int_equal(system(cmd), 0);
	/* And the other way: a different CA's certificate is not accepted. */
	snprintf(cmd, sizeof(cmd), "openssl verify -CAfile '%s' '%s' >/dev/null 2>&1", path, path);
	assert_int_not_equal(system(cmd), 0);
	X509_free(cert);
}

/* The CRL: signed by the CA, v2, numbered upwards, the CA's key id, one
 * entry per revoked certificate with its reason (none for unspecified). */
static void
test_crl(void **state)
{
	struct fixture *f = *state;
	struct ca_request r1 = person_request(f, "order-8/item-1", 1);
	struct ca_request r2 = person_request(f, "order-8/item-2", 1);
	struct ca_request r3 = person_request(f, "order-8/item-3", 1);
	X509 *c1 = NULL, *c2 = NULL, *c3 = NULL;
	X509_CRL *crl = NULL;
	X509_REVOKED *rv = NULL;
	ASN1_INTEGER *num;
	ASN1_ENUMERATED *reason;
	ASN1_OCTET_STRING *ski;
	AUTHORITY_KEYID *akid;
	char hex1[64], hex2[64];
	int crit;

	assert_int_equal(ca_issue(f->ca, &r1, &c1), 0);
	assert_int_equal(ca_issue(f->ca, &r2, &c2), 0);
	assert_int_equal(ca_issue(f->ca, &r3, &c3), 0);
	assert_int_equal(ca_crl(f->ca, 0, &crl), UKEY_ERR_INVAL);
	assert_int_equal(ca_crl(f->ca, 3600, &crl), 0);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(ca_cert(f->ca))), 1);
	assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
	assert_null(X509_CRL_get_REVOKED(crl));		/* no entries at all */
	assert_non_null(num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL));
	assert_int_equal(ASN1_INTEGER_get(num), 1);
	assert_int_equal(crit, 0);
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);

	assert_int_equal(cert_serial_hex(c1, hex1, sizeof(hex1)), 0);
	assert_int_equal(cert_serial_hex(c2, hex2, sizeof(hex2)), 0);
	assert_int_equal(ca_revoke(f->ca, hex1, "keyCompromise"), 0);
	assert_int_equal(ca_revoke(f->ca, hex2, NULL), 0);
	assert_int_equal(ca_crl(f->ca, 7200, &crl), 0);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(ca_cert(f->ca))), 1);
	assert_non_null(num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL));
	assert_int_equal(ASN1_INTEGER_get(num), 2);
	ASN1_INTEGER_free(num);
	{
		int days = -1, secs = -1;

		assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_CRL_get0_lastUpdate(crl),
		    X509_CRL_get0_nextUpdate(crl)), 1);
		assert_int_equal(days * 86400 + secs, 7200);
	}
	assert_non_null(akid = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, NULL, NULL));
	assert_non_null(ski = X509_get_ext_d2i(ca_cert(f->ca), NID_subject_key_identifier, NULL, NULL));
	assert_int_equal(ASN1_OCTET_STRING_cmp(akid->keyid, ski), 0);
	AUTHORITY_KEYID_free(akid);
	ASN1_OCTET_STRING_free(ski);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 2);
	assert_int_equal(X509_CRL_get0_by_cert(crl, &rv, c1), 1);
	assert_non_null(reason = X509_REVOKED_get_ext_d2i(rv, NID_crl_reason, NULL, NULL));
	assert_int_equal(ASN1_ENUMERATED_get(reason), CRL_REASON_KEY_COMPROMISE);
	ASN1_ENUMERATED_free(reason);
	assert_int_equal(X509_CRL_get0_by_cert(crl, &rv, c2), 1);
	assert_null(X509_REVOKED_get_ext_d2i(rv, NID_crl_reason, NULL, NULL));
	assert_int_equal(X509_CRL_get0_by_cert(crl, &rv, c3), 0);
	X509_CRL_free(crl);
	X509_free(c1);
	X509_free(c2);
	X509_free(c3);
}

/* CRLs signed in a thread while the CA issues and revokes (the CRL holds
 * the CA's lock only to read its list and take its number): every CRL
 * verifies, their numbers follow the order they were signed in, none lists
 * fewer than the one before, and one signed after lists every revocation. */
struct crl_loop {
	struct ca *ca;
	X509_CRL *crl[8];
	int rc[8];
};

static void *
crl_loop_run(void *arg)
{
	struct crl_loop *l = arg;
	int i;

	for (i = 0; i < 8; i++)
		l->rc[i] = ca_crl(l->ca, 3600, &l->crl[i]);
	return NULL;
}

static long
crl_number_of(X509_CRL *crl)
{
	ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	long v;

	assert_non_null(num);
	v = ASN1_INTEGER_get(num);
	ASN1_INTEGER_free(num);
	return v;
}

static void
test_crl_while_issuing(void **state)
{
	struct fixture *f = *state;
	struct crl_loop l = { .ca = f->ca };
	X509 *c[8] = { NULL };
	X509_CRL *last = NULL;
	X509_REVOKED *rv;
	pthread_t tid;
	char key[32], hex[64];
	int i, prev_n = -1, n;
	long prev = 0;

	assert_int_equal(pthread_create(&tid, NULL, crl_loop_run, &l), 0);
	for (i = 0; i < 8; i++) {
		struct ca_request r;

		snprintf(key, sizeof(key), "order-12/item-%d", i);
		r = person_request(f, key, 1);
		assert_int_equal(ca_issue(f->ca, &r, &c[i]), 0);
		assert_int_equal(cert_serial_hex(c[i], hex, sizeof(hex)), 0);
		assert_int_equal(ca_revoke(f->ca, hex, "superseded"), 0);
	}
	assert_int_equal(pthread_join(tid, NULL), 0);
	for (i = 0; i < 8; i++) {
		assert_int_equal(l.rc[i], 0);
		assert_int_equal(X509_CRL_verify(l.crl[i], X509_get0_pubkey(ca_cert(f->ca))), 1);
		assert_true(crl_number_of(l.crl[i]) > prev);
		prev = crl_number_of(l.crl[i]);
		n = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(l.crl[i]));
		assert_true(n >= prev_n);
		prev_n = n;
		X509_CRL_free(l.crl[i]);
	}
	assert_int_equal(ca_crl(f->ca, 3600, &last), 0);
	assert_true(crl_number_of(last) > prev);
	for (i = 0; i < 8; i++) {
		assert_int_equal(X509_CRL_get0_by_cert(last, &rv, c[i]), 1);
		X509_free(c[i]);
	}
	X509_CRL_free(last);
}

/* A profile's crl_url becomes the certificate's cRLDistributionPoints; the
 * shipped profiles name none, and their certificates carry none. */
static void
test_crl_distribution_point(void **state)
{
	struct fixture *f = *state;
	struct certprof *p = NULL;
	struct ca_request r = person_request(f, "order-9/item-1", 1);
	CRL_DIST_POINTS *dps;
	DIST_POINT *dp;
	GENERAL_NAME *gn;
	X509 *cert = NULL;
	char path[1024], err[512];
	const char *src = getenv("UKEY_SOURCE_DIR");

	assert_int_equal(ca_issue(f->ca, &r, &cert), 0);
	assert_null(X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL));
	X509_free(cert);
	cert = NULL;
	snprintf(path, sizeof(path), "%s/tests/data/cert-profiles/crl-dp.conf",
	    src ? src : UKEY_SOURCE_DIR);
	if (certprof_load(path, &p, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(certprof_crl_url(p), "http://crl.example.test/station.crl");
	r.profile = p;
	r.request_key = "order-9/item-2";
	assert_int_equal(ca_issue(f->ca, &r, &cert), 0);
	assert_non_null(dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL));
	assert_int_equal(sk_DIST_POINT_num(dps), 1);
	dp = sk_DIST_POINT_value(dps, 0);
	assert_int_equal(dp->distpoint->type, 0);	/* fullName */
	gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, 0);
	assert_int_equal(gn->type, GEN_URI);
	assert_string_equal((const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier),
	    "http://crl.example.test/station.crl");
	CRL_DIST_POINTS_free(dps);
	X509_free(cert);
	certprof_free(p);
}

/* The embedded CA answers at once: ca_issue_start() is ca_issue(), and
 * ca_issue_poll() with the same request gets the same certificate. */
static void
test_start_poll(void **state)
{
	struct fixture *f = *state;
	struct ca_request r = person_request(f, "order-9/item-1", 1);
	struct ca_txn txn = { .tid_len = 0 };
	X509 *a = NULL, *b = NULL;

	assert_int_equal(ca_issue_start(f->ca, &r, &txn, &a), 0);
	assert_non_null(a);
	assert_int_equal(txn.tid_len, 0);
	assert_int_equal(ca_issue_poll(f->ca, &r, &txn, &b), 0);
	assert_int_equal(X509_cmp(a, b), 0);
	assert_string_equal(ca_last_error(f->ca), "");
	X509_free(a);
	X509_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_issue_organisation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_issue_person_no_gm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_person_email, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_csr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_serials_distinct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_and_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_hook, setup, teardown),
		cmocka_unit_test_setup_teardown(test_openssl_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crl_while_issuing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crl_distribution_point, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
