/* Certificate profiles: loading good and bad files, subject building with
 * Chinese text and RFC 5280 length limits, labels, profile sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/x509v3.h>

#include "ca/certprof.h"
#include "common/err.h"
#include "common/utf8.h"

static const char *
src_dir(void)
{
	const char *d = getenv("UKEY_SOURCE_DIR");

	return d != NULL ? d : UKEY_SOURCE_DIR;
}

static char *
path_of(const char *rel)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/%s", src_dir(), rel) > 0);
	return p;
}

/* Variables for the templates: a NULL-terminated list of name/value pairs. */
struct vars {
	const char *kv[32];
};

static const char *
lookup(void *ctx, const char *var)
{
	struct vars *v = ctx;
	size_t i;

	for (i = 0; v->kv[i] != NULL; i += 2)
		if (strcmp(v->kv[i], var) == 0)
			return v->kv[i + 1];
	return NULL;
}

static struct certprof *
load_ok(const char *rel)
{
	struct certprof *p = NULL;
	char err[512] = "";
	char *path = path_of(rel);
	int rc = certprof_load(path, &p, err, sizeof(err));

	if (rc != 0)
		fail_msg("%s: %s", rel, err);
	free(path);
	return p;
}

static void
test_shipped_profiles(void **state)
{
	struct certprof *org = load_ok("cert-profiles/organisation.conf");
	struct certprof *rep = load_ok("cert-profiles/legal-rep.conf");
	struct certprof *ent = load_ok("cert-profiles/entrusted.conf");

	(void)state;
	assert_string_equal(certprof_name(org), "organisation");
	assert_string_equal(certprof_key_alg(org), "rsa2048");
	assert_int_equal(certprof_max_years(org), 5);
	assert_int_equal(certprof_key_usage(org),
			 KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION | KU_KEY_ENCIPHERMENT);
	assert_string_equal(certprof_gm_identity(org), "uscc");
	assert_string_equal(certprof_gm_identity_oid(org), "1.2.156.10260.4.1.4");
	assert_null(certprof_crl_url(org));	/* none shipped: the site sets its own */
	/* the extended key usage follows the stated purpose: login is
	 * clientAuth, document signing and the e-seal documentSigning (RFC
	 * 9336); no profile claims emailProtection by itself */
	assert_int_equal(certprof_purposes(org), CERTPROF_PURPOSE_LOGIN |
	    CERTPROF_PURPOSE_DOCUMENT_SIGNING | CERTPROF_PURPOSE_E_SEAL);
	assert_int_equal(certprof_email(org), 0);
	assert_int_equal(certprof_eku_count(org), 2);
	assert_string_equal(certprof_eku_oid(org, 0), "1.3.6.1.5.5.7.3.2");
	assert_string_equal(certprof_eku_oid(org, 1), "1.3.6.1.5.5.7.3.36");
	assert_non_null(strstr(certprof_description(org), "企业机构证书"));
	/* keyEncipherment on RSA: the key may also decrypt and unwrap */
	assert_int_equal(certprof_key_ops(org), CERTPROF_KEY_SIGN | CERTPROF_KEY_DECRYPT |
	    CERTPROF_KEY_UNWRAP);

	assert_string_equal(certprof_name(rep), "legal-rep");
	assert_string_equal(certprof_key_alg(rep), "ec-p256");
	assert_int_equal(certprof_key_usage(rep), KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION);
	assert_null(certprof_gm_identity(rep));	/* ID numbers stay out by default */
	assert_int_equal(certprof_purposes(rep), CERTPROF_PURPOSE_LOGIN |
	    CERTPROF_PURPOSE_DOCUMENT_SIGNING | CERTPROF_PURPOSE_EMAIL);
	assert_int_equal(certprof_email(rep), 1);
	assert_int_equal(certprof_eku_count(rep), 2);
	assert_string_equal(certprof_eku_oid(rep, 0), "1.3.6.1.5.5.7.3.2");
	assert_string_equal(certprof_eku_oid(rep, 1), "1.3.6.1.5.5.7.3.36");
	/* a signature profile: sign only */
	assert_int_equal(certprof_key_ops(rep), CERTPROF_KEY_SIGN);

	assert_string_equal(certprof_name(ent), "entrusted");
	assert_string_equal(certprof_key_alg(ent), "ec-p256");
	assert_int_equal(certprof_key_usage(ent), KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION);
	assert_int_equal(certprof_email(ent), 1);
	assert_int_equal(certprof_eku_count(ent), 2);
	assert_string_equal(certprof_eku_oid(ent, 0), "1.3.6.1.5.5.7.3.2");
	assert_string_equal(certprof_eku_oid(ent, 1), "1.3.6.1.5.5.7.3.36");
	assert_int_equal(certprof_key_ops(ent), CERTPROF_KEY_SIGN);
	certprof_free(org);
	certprof_free(rep);
	certprof_free(ent);
}

static void
test_good_full(void **state)
{
	struct certprof *p = load_ok("tests/data/cert-profiles/good-full.conf");
	struct vars v = { { "province", "云南省", "city", "昆明市", "county", "五华区",
			    "org_name", "云南测试科技有限公司", "name", "张三",
			    "portal_ref", "REF-2026/001", NULL } };
	X509_NAME *n = NULL;
	char err[256] = "";
	char *label = NULL;
	static const int nids[] = { NID_countryName, NID_stateOrProvinceName, NID_localityName,
				    NID_organizationalUnitName, NID_organizationalUnitName,
				    NID_organizationName, NID_commonName, NID_serialNumber };
	size_t i;

	(void)state;
	assert_string_equal(certprof_name(p), "full-test");
	assert_int_equal(certprof_max_years(p), 3);
	assert_int_equal(certprof_carry_over_days(p), 0);	/* none unless stated */
	assert_int_equal(certprof_key_usage(p),
			 KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION | KU_KEY_ENCIPHERMENT);
	/* the purposes' OIDs first, then extended_key_usage's others (its
	 * clientAuth is there already) */
	assert_int_equal(certprof_eku_count(p), 3);
	assert_string_equal(certprof_eku_oid(p, 0), "1.3.6.1.5.5.7.3.2");
	assert_string_equal(certprof_eku_oid(p, 1), "1.3.6.1.5.5.7.3.36");
	assert_string_equal(certprof_eku_oid(p, 2), "1.2.156.10260.4.1.99");
	assert_int_equal(certprof_email(p), 0);
	assert_string_equal(certprof_gm_identity(p), "id_number");
	assert_string_equal(certprof_gm_identity_oid(p), "1.2.156.10260.4.1.1");

	assert_int_equal(certprof_subject(p, lookup, &v, &n, err, sizeof(err)), 0);
	assert_int_equal(X509_NAME_entry_count(n), (int)(sizeof(nids) / sizeof(nids[0])));
	for (i = 0; i < sizeof(nids) / sizeof(nids[0]); i++)
		assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(n, (int)i))),
				 nids[i]);
	X509_NAME_free(n);

	/* 37 bytes: cut to the 31 bytes of whole characters that fit 32 */
	assert_int_equal(certprof_label(p, lookup, &v, 32, &label, err, sizeof(err)), 0);
	assert_string_equal(label, "云南测试科技有限公司-");
	free(label);
	certprof_free(p);
}

static void
test_bad_profiles(void **state)
{
	static const struct {
		const char *file;
		int line;
		const char *msg;	/* expected start of the text after "file:line: " */
	} cases[] = {
		{ "bad-section.conf", 7, "unknown section [subjct] (known: [profile], [subject], [extensions])" },
		{ "bad-empty-section.conf", 1, "unknown section [policies]" },
		{ "bad-key.conf", 4, "unknown key 'colour' in [profile]" },
		{ "bad-keyalg.conf", 3, "profile.key_alg 'rsa1024': must be rsa2048 or ec-p256" },
		{ "bad-attr.conf", 9, "unknown subject attribute 'Email'" },
		{ "bad-var.conf", 9, "subject.ST: unknown variable {provnce}" },
		{ "bad-ku.conf", 12, "extensions.key_usage: unknown key usage 'signing'" },
		{ "bad-ec-keyenc.conf", 12, "extensions.key_usage: keyEncipherment needs an RSA key, "
					   "but key_alg is ec-p256 (line 3)" },
		{ "bad-missing-name.conf", 11, "[profile] name is missing" },
		{ "bad-years.conf", 4, "profile.max_years '0': must be a whole number from 1 to 30" },
		{ "bad-carry-days.conf", 5, "profile.renewal_carry_over_days '400': must be a whole "
					   "number from 0 to 366" },
		{ "bad-duplicate.conf", 4, "[profile] name given twice (first on line 2)" },
		{ "bad-syntax.conf", 9, "syntax error" },
		{ "bad-country.conf", 8, "subject.C: must be a two-letter upper-case country code" },
		{ "bad-no-cn.conf", 11, "[subject] has no CN" },
		{ "bad-ku-certsign.conf", 12, "extensions.key_usage: keyCertSign is for CA certificates" },
		{ "bad-gm.conf", 13, "extensions.gm_identity 'passport': must be uscc, id_number or none" },
		{ "bad-brace.conf", 5, "profile.label: '{' without '}'" },
		{ "bad-unclosed.conf", 8, "subject.C: '{' without '}'" },
		{ "bad-long-line.conf", 7, "line is " },
		{ "bad-no-purpose.conf", 10, "[profile] purpose is missing (login, document-signing, "
					    "e-seal, email)" },
		{ "bad-purpose.conf", 6, "profile.purpose: unknown purpose 'bidding' (known: login, "
					 "document-signing, e-seal, email)" },
		{ "bad-eku-email.conf", 12, "extensions.extended_key_usage: emailProtection goes only "
					    "with an e-mail address; use purpose = email" },
		{ "bad-eku-email-oid.conf", 12, "extensions.extended_key_usage: emailProtection goes "
						"only with an e-mail address" },
		{ "bad-ku-nosign.conf", 11, "extensions.key_usage: needs digitalSignature or "
					    "nonRepudiation (the token's key signs its own certificate "
					    "request)" },
		{ "bad-login-ku.conf", 6, "profile.purpose: login needs key_usage digitalSignature "
					  "(line 11)" },
		{ "bad-crl-url.conf", 13, "extensions.crl_url: must be an http:// URL" },
		{ "bad-crl-url-twice.conf", 14, "[extensions] crl_url given twice (first on line 13)" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct certprof *p = NULL;
		char err[512] = "", rel[128], *path, *want = NULL;
		int rc;

		snprintf(rel, sizeof(rel), "tests/data/cert-profiles/%s", cases[i].file);
		path = path_of(rel);
		rc = certprof_load(path, &p, err, sizeof(err));
		assert_true(asprintf(&want, "%s:%d: %s", path, cases[i].line, cases[i].msg) > 0);
		if (rc != UKEY_ERR_INVAL || strncmp(err, want, strlen(want)) != 0)
			fail_msg("%s: rc %d, got \"%s\", want \"%s...\"", cases[i].file, rc, err, want);
		assert_null(p);
		free(want);
		free(path);
	}
}

static void
test_missing_file(void **state)
{
	struct certprof *p = NULL;
	char err[256];

	(void)state;
	assert_int_equal(certprof_load("/nonexistent/x.conf", &p, err, sizeof(err)), UKEY_ERR_NOTFOUND);
	assert_null(p);
	assert_non_null(strstr(err, "/nonexistent/x.conf: cannot open"));
}

/* 60 CJK characters: 180 bytes, well under 64 characters. */
static char *
repeat(const char *unit, size_t n)
{
	size_t ul = strlen(unit), i;
	char *s = malloc(ul * n + 1);

	assert_non_null(s);
	for (i = 0; i < n; i++)
		memcpy(s + i * ul, unit, ul);
	s[ul * n] = '\0';
	return s;
}

static void
test_subject_chinese_types(void **state)
{
	struct certprof *p = load_ok("cert-profiles/organisation.conf");
	struct vars v = { { "province", "云南省", "city", "昆明市",
			    "org_name", "云南省数字证书认证中心有限公司", "uscc", "91530100MA6K5U5X7R",
			    NULL } };
	X509_NAME *n = NULL;
	X509_NAME_ENTRY *ent;
	const ASN1_STRING *d;
	char err[256] = "";
	int i, nid;

	(void)state;
	assert_int_equal(certprof_subject(p, lookup, &v, &n, err, sizeof(err)), 0);
	assert_int_equal(X509_NAME_entry_count(n), 6);
	for (i = 0; i < X509_NAME_entry_count(n); i++) {
		ent = X509_NAME_get_entry(n, i);
		nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(ent));
		d = X509_NAME_ENTRY_get_data(ent);
		if (nid == NID_countryName || nid == NID_serialNumber)
			assert_int_equal(ASN1_STRING_type(d), V_ASN1_PRINTABLESTRING);
		else
			assert_int_equal(ASN1_STRING_type(d), V_ASN1_UTF8STRING);
		if (nid == NID_organizationName || nid == NID_commonName) {
			assert_int_equal(ASN1_STRING_length(d), (int)strlen("云南省数字证书认证中心有限公司"));
			assert_memory_equal(ASN1_STRING_get0_data(d), "云南省数字证书认证中心有限公司",
					    ASN1_STRING_length(d));
		}
	}
	assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(n, 0))), NID_countryName);
	assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(n, 5))), NID_serialNumber);
	X509_NAME_free(n);
	certprof_free(p);
}

static void
test_subject_lengths(void **state)
{
	struct certprof *p = load_ok("cert-profiles/legal-rep.conf");
	struct vars v = { { "province", "云南省", "city", "昆明市", "org_name", "测试公司", "name",
			    NULL, NULL } };
	X509_NAME *n = NULL;
	char err[256];
	char *s;

	(void)state;
	/* 64 ASCII characters: accepted. */
	s = repeat("a", 64);
	v.kv[7] = s;
	assert_int_equal(certprof_subject(p, lookup, &v, &n, err, sizeof(err)), 0);
	X509_NAME_free(n);
	free(s);
	/* 65: refused, naming the field. */
	s = repeat("a", 65);
	v.kv[7] = s;
	err[0] = '\0';
	assert_int_equal(certprof_subject(p, lookup, &v, &n, err, sizeof(err)), UKEY_ERR_INVAL);
	assert_null(n);
	assert_string_equal(err, "subject.CN: 65 characters, at most 64 (RFC 5280)");
	free(s);
	/* 64 CJK characters = 192 bytes: characters count, not bytes. */
	s = repeat("张", 64);
	v.kv[7] = s;
	assert_int_equal(certprof_subject(p, lookup, &v, &n, err, sizeof(err)), 0);
	X509_NAME_free(n);
	free(s);
	s = repeat("张", 71);
	v.kv[7] = s;
	assert_int_equal(certprof_subject(p, lookup, &v, &n, err, sizeof(err)), UKEY_ERR_INVAL);
	assert_string_equal(err, "subject.CN: 71 characters, at most 64 (RFC 5280)");
	free(s);
	/* A long organisation name fails on O. */
	s = repeat("云", 65);
	v.kv[5] = s;
	v.kv[7] = "张三";
	assert_int_equal(certprof_subject(p, lookup, &v, &n, err, sizeof(err)), UKEY_ERR_INVAL);
	assert_string_equal(err, "subject.O: 65 characters, at most 64 (RFC 5280)");
	free(s);
	certprof_free(p);
}

static void
test_subject_bad_values(void **state)
{
	struct certprof *p = load_ok("cert-profiles/organisation.conf");
	struct vars v = { { "province", "云南省", "city", "昆明市", "org_name", "测试公司",
			    "uscc", "91530100MA6K5U5X7R", NULL } };
	X509_NAME *n = NULL;
	char err[256], *label = NULL;

	(void)state;
	v.kv[5] = "";
	assert_int_equal(certprof_subject(p, lookup, &v, &n, err, sizeof(err)), UKEY_ERR_INVAL);
	assert_string_equal(err, "subject.O: variable {org_name} is empty");
	assert_int_equal(certprof_label(p, lookup, &v, 32, &label, err, sizeof(err)), UKEY_ERR_INVAL);
	assert_string_equal(err, "label: variable {org_name} is empty");
	assert_null(label);
	v.kv[5] = "测试公司";
	v.kv[7] = "统一代码";	/* not PrintableString */
	assert_int_equal(certprof_subject(p, lookup, &v, &n, err, sizeof(err)), UKEY_ERR_INVAL);
	assert_non_null(strstr(err, "subject.serialNumber: character 1 is not allowed in a PrintableString"));
	v.kv[7] = "91530100MA6K5U5X7R";
	v.kv[1] = "\xe4\xb8";	/* truncated UTF-8 */
	assert_int_equal(certprof_subject(p, lookup, &v, &n, err, sizeof(err)), UKEY_ERR_INVAL);
	assert_non_null(strstr(err, "subject.ST: not valid UTF-8"));
	v.kv[1] = "云南\n省";
	assert_int_equal(certprof_subject(p, lookup, &v, &n, err, sizeof(err)), UKEY_ERR_INVAL);
	v.kv[1] = NULL;	/* the caller has no value */
	assert_int_equal(certprof_subject(p, lookup, &v, &n, err, sizeof(err)), UKEY_ERR_INVAL);
	assert_string_equal(err, "subject.ST: variable {province} is empty");
	assert_null(n);
	certprof_free(p);
}

/* Expands the organisation profile's label {org_name} for name, fitted to max
 * bytes; returns the label (static) or NULL with err set. */
static const char *
label_for(struct certprof *p, const char *name, size_t max, char *err, size_t errlen)
{
	static char buf[128];
	struct vars v = { { "org_name", name, NULL } };
	char *label = NULL;

	err[0] = '\0';
	if (certprof_label(p, lookup, &v, max, &label, err, errlen) != 0) {
		assert_null(label);
		return NULL;
	}
	assert_true(strlen(label) <= max && strlen(label) <= CERTPROF_LABEL_MAX);
	assert_true(utf8_valid(label, strlen(label)));
	snprintf(buf, sizeof(buf), "%s", label);
	free(label);
	return buf;
}

static void
test_label(void **state)
{
	struct certprof *p = load_ok("cert-profiles/organisation.conf");
	const char *a31 = "abcdefghijklmnopqrstuvwxyz01234";	/* 31 bytes */
	char name[128], err[256];

	(void)state;
	assert_string_equal(label_for(p, "云南测试科技有限公司", 32, err, sizeof(err)),
			    "云南测试科技有限公司");
	/* ASCII: 32 bytes fit, the 33rd goes */
	snprintf(name, sizeof(name), "%sX", a31);
	assert_string_equal(label_for(p, name, 32, err, sizeof(err)), name);
	snprintf(name, sizeof(name), "%sXY", a31);
	assert_int_equal(strlen(label_for(p, name, 32, err, sizeof(err))), 32);
	/* a 2-byte sequence (é) ending exactly at byte 32 stays; one across it goes */
	snprintf(name, sizeof(name), "%.30s\xC3\xA9Z", a31);
	assert_int_equal(strlen(label_for(p, name, 32, err, sizeof(err))), 32);
	snprintf(name, sizeof(name), "%s\xC3\xA9", a31);
	assert_string_equal(label_for(p, name, 32, err, sizeof(err)), a31);
	/* 3-byte sequences: 12 CJK characters are 36 bytes, 10 (30 bytes) fit */
	assert_string_equal(label_for(p, "云南滇池高原湖泊生态环境", 32, err, sizeof(err)),
			    "云南滇池高原湖泊生态");
	snprintf(name, sizeof(name), "ab%s", "云南滇池高原湖泊生态");	/* 2 + 30 = 32 */
	assert_string_equal(label_for(p, name, 32, err, sizeof(err)), name);
	snprintf(name, sizeof(name), "abc%s", "云南滇池高原湖泊生态");	/* 33: the last goes */
	assert_string_equal(label_for(p, name, 32, err, sizeof(err)), "abc云南滇池高原湖泊生");
	/* a 4-byte sequence (U+20000) ending at byte 32, and one crossing it */
	snprintf(name, sizeof(name), "%.28s\xF0\xA0\x80\x80", a31);
	assert_string_equal(label_for(p, name, 32, err, sizeof(err)), name);
	snprintf(name, sizeof(name), "%.29s\xF0\xA0\x80\x80", a31);
	assert_int_equal(strlen(label_for(p, name, 32, err, sizeof(err))), 29);
	/* a firmware profile keeping fewer bytes; more than 32 is still 32 */
	assert_string_equal(label_for(p, "云南测试科技有限公司", 16, err, sizeof(err)), "云南测试科");
	assert_int_equal(strlen(label_for(p, "云南滇池高原湖泊生态环境", 64, err, sizeof(err))), 30);
	/* the blank a cut leaves at the end goes with it */
	snprintf(name, sizeof(name), "%s Co", a31);
	assert_string_equal(label_for(p, name, 32, err, sizeof(err)), a31);
	/* nothing whole fits, or the text is not UTF-8 */
	assert_null(label_for(p, "云南", 2, err, sizeof(err)));
	assert_string_equal(err, "label: 6 bytes, and not one whole character of it fits a"
			    " 2-byte token label");
	assert_null(label_for(p, "ab\xE4\xB8", 32, err, sizeof(err)));
	assert_string_equal(err, "label: must be UTF-8 text without control characters");
	assert_null(label_for(p, "ab\tc", 32, err, sizeof(err)));
	certprof_free(p);
}

static void
test_set(void **state)
{
	struct certprof_set *s = NULL;
	char err[512] = "", *dir = path_of("cert-profiles");
	char tmpl[] = "/tmp/ukey-certprof-XXXXXX", cmd[1024];

	(void)state;
	if (certprof_set_load_dir(dir, &s, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(certprof_set_count(s), 3);
	assert_non_null(certprof_set_find(s, "organisation"));
	assert_non_null(certprof_set_find(s, "legal-rep"));
	assert_string_equal(certprof_key_alg(certprof_set_find(s, "entrusted")), "ec-p256");
	assert_null(certprof_set_find(s, "nobody"));
	certprof_set_free(s);
	s = NULL;

	/* An empty directory, then two files claiming the same name. */
	assert_non_null(mkdtemp(tmpl));
	assert_int_equal(certprof_set_load_dir(tmpl, &s, err, sizeof(err)), UKEY_ERR_NOTFOUND);
	snprintf(cmd, sizeof(cmd), "cp %s/organisation.conf %s/a.conf && cp %s/organisation.conf %s/b.conf",
		 dir, tmpl, dir, tmpl);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(certprof_set_load_dir(tmpl, &s, err, sizeof(err)), UKEY_ERR_EXISTS);
	assert_non_null(strstr(err, "b.conf: profile name 'organisation' is already used by"));
	assert_null(s);
	/* A bad file in a set names the file and line. */
	snprintf(cmd, sizeof(cmd), "rm -f %s/*.conf && cp %s/../tests/data/cert-profiles/bad-ku.conf %s/",
		 tmpl, dir, tmpl);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(certprof_set_load_dir(tmpl, &s, err, sizeof(err)), UKEY_ERR_INVAL);
	assert_non_null(strstr(err, "bad-ku.conf:12: extensions.key_usage"));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpl);
	assert_int_equal(system(cmd), 0);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_profiles),
		cmocka_unit_test(test_good_full),
		cmocka_unit_test(test_bad_profiles),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_subject_chinese_types),
		cmocka_unit_test(test_subject_lengths),
		cmocka_unit_test(test_subject_bad_values),
		cmocka_unit_test(test_label),
		cmocka_unit_test(test_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
