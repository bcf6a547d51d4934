/* Certificate profiles: parses a profile INI file (inih) into a subject
 * template, key algorithm and extension set, and expands the template with
 * the order's values into an X509_NAME. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "ca/certprof.h"
#include "common/err.h"
#include "common/inifile.h"
#include "common/log.h"
#include "common/utf8.h"

#define PROFILE_NAME_MAX 64
#define MAX_YEARS_LIMIT 30
#define CARRY_DAYS_LIMIT 366

enum key_alg { ALG_NONE, ALG_RSA2048, ALG_EC_P256 };

struct rdn {
	const struct attr_info *attr;
	char *tmpl;
};

struct certprof {
	char *path;
	char *name;
	char *description;
	enum key_alg alg;
	int max_years;
	int carry_days;		/* renewal_carry_over_days, 0: none */
	char *label;
	struct rdn *rdns;
	size_t nrdns, caprdns;
	unsigned key_usage;
	unsigned purposes;	/* CERTPROF_PURPOSE_* */
	char **ekus;		/* from the purposes, then extended_key_usage; no e-mail */
	size_t nekus;
	const char *gm_var;	/* static string or NULL */
	const char *gm_oid;
	char *crl_url;		/* cRLDistributionPoints URI, or NULL */
};

struct certprof_set {
	struct certprof **v;
	size_t n;
};

/* Subject attributes a profile may use. Upper bounds in characters are
 * RFC 5280's (ub-common-name 64, ub-organization-name 64, ...); C and
 * serialNumber are PrintableString, the rest UTF8String. */
struct attr_info {
	const char *key;
	int nid;
	int max_chars;
	int printable;
};

static const struct attr_info attrs[] = {
	{ "C", NID_countryName, 2, 1 },
	{ "ST", NID_stateOrProvinceName, 128, 0 },
	{ "L", NID_localityName, 128, 0 },
	{ "street", NID_streetAddress, 128, 0 },
	{ "O", NID_organizationName, 64, 0 },
	{ "OU", NID_organizationalUnitName, 64, 0 },
	{ "CN", NID_commonName, 64, 0 },
	{ "serialNumber", NID_serialNumber, 64, 1 },
	{ "title", NID_title, 64, 0 },
	{ "givenName", NID_givenName, 32768, 0 },
	{ "surname", NID_surname, 32768, 0 },
};

static const char *const known_vars[] = {
	"province", "city", "county", "org_name", "uscc", "name", "id_number", "phone", "portal_ref",
};

static const struct {
	const char *name;
	unsigned bit;
} ku_names[] = {
	{ "digitalSignature", KU_DIGITAL_SIGNATURE },
	{ "nonRepudiation", KU_NON_REPUDIATION },
	{ "contentCommitment", KU_NON_REPUDIATION },
	{ "keyEncipherment", KU_KEY_ENCIPHERMENT },
	{ "dataEncipherment", KU_DATA_ENCIPHERMENT },
	{ "keyAgreement", KU_KEY_AGREEMENT },
};

static const struct {
	const char *name;
	const char *oid;
} eku_names[] = {
	{ "serverAuth", "1.3.6.1.5.5.7.3.1" },
	{ "clientAuth", "1.3.6.1.5.5.7.3.2" },
	{ "codeSigning", "1.3.6.1.5.5.7.3.3" },
	{ "emailProtection", "1.3.6.1.5.5.7.3.4" },
	{ "timeStamping", "1.3.6.1.5.5.7.3.8" },
};

/* What a certificate is for, and the extended key usage that says so
 * (docs/cert-profiles.md). Document signing and electronic seals take
 * id-kp-documentSigning (RFC 9336); e-mail protection is added only with an
 * e-mail address (certprof_email), so it has no fixed OID here. */
#define OID_CLIENT_AUTH "1.3.6.1.5.5.7.3.2"
#define OID_EMAIL_PROTECTION "1.3.6.1.5.5.7.3.4"
#define OID_DOCUMENT_SIGNING "1.3.6.1.5.5.7.3.36"

static const struct {
	const char *name;
	unsigned bit;
	const char *oid;
} purpose_names[] = {
	{ "login", CERTPROF_PURPOSE_LOGIN, OID_CLIENT_AUTH },
	{ "document-signing", CERTPROF_PURPOSE_DOCUMENT_SIGNING, OID_DOCUMENT_SIGNING },
	{ "e-seal", CERTPROF_PURPOSE_E_SEAL, OID_DOCUMENT_SIGNING },
	{ "email", CERTPROF_PURPOSE_EMAIL, NULL },
};

static const char *const section_names[] = { "profile", "subject", "extensions" };

/* GM/T 0015-2012 identity extensions (non-critical). */
#define GM_OID_PERSONAL_ID "1.2.156.10260.4.1.1"
#define GM_OID_ORG_CODE "1.2.156.10260.4.1.4"

/* Line numbers of keys seen, for duplicate and cross-key errors. */
enum seen_key {
	K_NAME, K_DESC, K_ALG, K_YEARS, K_LABEL, K_PURPOSE, K_KU, K_EKU, K_GM, K_CRL, K_CARRY,
	K_COUNT_
};

struct parse_ctx {
	struct inifile ini;	/* path, fp, line, first error; sections for the reader */
	char *buf;
	size_t bufcap;
	unsigned line[K_COUNT_];
	struct certprof *p;
};

/* Sizes a certificate profile message is cut to: its rule, then the whole
 * "file:line: rule" (shorter than the common reader's limits). */
#define RULE_MAX 400
#define MESSAGE_MAX 512

static void
set_err(struct parse_ctx *pc, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
set_err(struct parse_ctx *pc, unsigned line, const char *fmt, ...)
{
	char what[RULE_MAX];
	va_list ap;

	if (pc->ini.failed)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	inifile_fail(&pc->ini, line, NULL, "%s", what);
}

static void
put_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
put_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int
certprof_var_known(const char *var)
{
	size_t i;

	for (i = 0; i < sizeof(known_vars) / sizeof(known_vars[0]); i++)
		if (strcmp(known_vars[i], var) == 0)
			return 1;
	return 0;
}

/* Checks a template's {variable} references; returns 0 or writes why. */
static int
template_check(const char *t, char *why, size_t whylen)
{
	const char *p = t, *open, *close;
	char var[32];

	while ((open = strpbrk(p, "{}")) != NULL) {
		if (*open == '}') {
			snprintf(why, whylen, "'}' without '{'");
			return -1;
		}
		if ((close = strchr(open + 1, '}')) == NULL) {
			snprintf(why, whylen, "'{' without '}'");
			return -1;
		}
		if ((size_t)(close - open - 1) >= sizeof(var) || close == open + 1) {
			snprintf(why, whylen, "unknown variable {%.*s}", (int)(close - open - 1), open + 1);
			return -1;
		}
		memcpy(var, open + 1, (size_t)(close - open - 1));
		var[close - open - 1] = '\0';
		if (!certprof_var_known(var)) {
			snprintf(why, whylen, "unknown variable {%s}", var);
			return -1;
		}
		p = close + 1;
	}
	return 0;
}

/* Expands {variables} in t. Returns 0 and a malloc'd string, UKEY_ERR_INVAL
 * with why naming the empty variable, or UKEY_ERR_NOMEM. */
static int
template_expand(const char *t, certprof_var_fn var, void *ctx, char **out, char *why, size_t whylen)
{
	size_t len = 0, cap = strlen(t) + 64;
	char *s = NULL, *tmp;
	const char *p = t;
	int rc;

	*out = NULL;
	if ((s = malloc(cap)) == NULL)
		return UKEY_ERR_NOMEM;
	while (*p != '\0') {
		const char *piece = p;
		size_t plen = 1;
		char name[32];

		if (*p == '{') {
			const char *close = strchr(p, '}');
			size_t n;

			if (close == NULL || (n = (size_t)(close - p - 1)) >= sizeof(name)) {
				snprintf(why, whylen, "bad template");
				rc = UKEY_ERR_INVAL;
				goto out;
			}
			memcpy(name, p + 1, n);
			name[n] = '\0';
			piece = var(ctx, name);
			if (piece == NULL || *piece == '\0') {
				snprintf(why, whylen, "variable {%s} is empty", name);
				rc = UKEY_ERR_INVAL;
				goto out;
			}
			plen = strlen(piece);
			p = close + 1;
		} else {
			p++;
		}
		if (len + plen + 1 > cap) {
			cap = (len + plen + 1) * 2;
			if ((tmp = realloc(s, cap)) == NULL) {
				rc = UKEY_ERR_NOMEM;
				goto out;
			}
			s = tmp;
		}
		memcpy(s + len, piece, plen);
		len += plen;
	}
	s[len] = '\0';
	*out = s;
	s = NULL;
	rc = 0;
 out:
	free(s);
	return rc;
}

/* Counts UTF-8 characters; returns -1 for malformed UTF-8 (overlong forms,
 * surrogates and code points past U+10FFFF included) or a C0 control
 * character or DEL. */
static long
text_chars(const char *s)
{
	const char *p;

	if (!utf8_valid(s, strlen(s)))
		return -1;
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return -1;
	return (long)utf8_chars(s);
}

static int
printable_char(int c)
{
	return isascii(c) && (isalnum(c) || strchr(" '()+,-./:=?", c) != NULL);
}

/* Checks one expanded attribute value against its attribute's rules. */
static int
value_check(const struct attr_info *a, const char *v, char *why, size_t whylen)
{
	long n = text_chars(v);
	const char *p;

	if (n < 0) {
		snprintf(why, whylen, "not valid UTF-8 text (or holds a control character)");
		return -1;
	}
	if (n == 0) {
		snprintf(why, whylen, "empty");
		return -1;
	}
	if (a->nid == NID_countryName &&
	    (n != 2 || !isupper((unsigned char)v[0]) || !isupper((unsigned char)v[1]))) {
		snprintf(why, whylen, "must be a two-letter upper-case country code (ISO 3166), like CN");
		return -1;
	}
	if (n > a->max_chars) {
		snprintf(why, whylen, "%ld characters, at most %d (RFC 5280)", n, a->max_chars);
		return -1;
	}
	if (a->printable) {
		for (p = v; *p != '\0'; p++) {
			if (!printable_char((unsigned char)*p)) {
				snprintf(why, whylen, "character %ld is not allowed in a PrintableString "
					 "(letters, digits, space and '()+,-./:=? only)", (long)(p - v) + 1);
				return -1;
			}
		}
	}
	return 0;
}

static const struct attr_info *
attr_find(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (strcmp(attrs[i].key, key) == 0)
			return &attrs[i];
	return NULL;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Duplicates value into *slot; records the key's line, refusing a repeat. */
static int
take_string(struct parse_ctx *pc, enum seen_key k, const char *section, const char *key,
	    const char *value, char **slot)
{
	if (pc->line[k] != 0) {
		set_err(pc, pc->ini.line, "[%s] %s given twice (first on line %u)", section, key, pc->line[k]);
		return 0;
	}
	pc->line[k] = pc->ini.line;
	if (slot == NULL)
		return 1;
	if ((*slot = strdup(value)) == NULL) {
		pc->ini.nomem = 1;
		set_err(pc, pc->ini.line, "out of memory");
		return 0;
	}
	return 1;
}

/* A whole number lo..hi in decimal digits only, into *out. */
static int
take_whole(struct parse_ctx *pc, const char *key, const char *value, long lo, long hi, int *out)
{
	const char *c;
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	for (c = value; *c != '\0'; c++)
		if (!isdigit((unsigned char)*c))
			break;
	if (*value == '\0' || *c != '\0' || *end != '\0' || errno != 0 || v < lo || v > hi) {
		set_err(pc, pc->ini.line, "profile.%s '%s': must be a whole number from %ld to %ld",
		    key, value, lo, hi);
		return 0;
	}
	*out = (int)v;
	return 1;
}

static int
parse_purpose(struct parse_ctx *pc, const char *value)
{
	char *copy, *tok, *save = NULL, *t;
	size_t i;
	int ok = 0;

	if ((copy = strdup(value)) == NULL) {
		pc->ini.nomem = 1;
		set_err(pc, pc->ini.line, "out of memory");
		return 0;
	}
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		t = trim(tok);
		for (i = 0; i < sizeof(purpose_names) / sizeof(purpose_names[0]); i++)
			if (strcmp(purpose_names[i].name, t) == 0)
				break;
		if (i == sizeof(purpose_names) / sizeof(purpose_names[0])) {
			set_err(pc, pc->ini.line, "profile.purpose: unknown purpose '%s' (known: login, "
				"document-signing, e-seal, email)", t);
			goto out;
		}
		pc->p->purposes |= purpose_names[i].bit;
	}
	if (pc->p->purposes == 0) {
		set_err(pc, pc->ini.line, "profile.purpose: empty");
		goto out;
	}
	ok = 1;
 out:
	free(copy);
	return ok;
}

static int
parse_profile_key(struct parse_ctx *pc, const char *key, const char *value)
{
	struct certprof *p = pc->p;
	char why[160];

	if (strcmp(key, "name") == 0) {
		if (!take_string(pc, K_NAME, "profile", key, value, &p->name))
			return 0;
		if (*value == '\0' || strlen(value) > PROFILE_NAME_MAX || !islower((unsigned char)*value) ||
		    strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789-_") != strlen(value)) {
			set_err(pc, pc->ini.line, "profile.name '%s': use 1-%d of a-z, 0-9, '-', '_', "
				"starting with a letter", value, PROFILE_NAME_MAX);
			return 0;
		}
		return 1;
	}
	if (strcmp(key, "description") == 0)
		return take_string(pc, K_DESC, "profile", key, value, &p->description);
	if (strcmp(key, "key_alg") == 0) {
		if (!take_string(pc, K_ALG, "profile", key, value, NULL))
			return 0;
		if (strcmp(value, "rsa2048") == 0)
			p->alg = ALG_RSA2048;
		else if (strcmp(value, "ec-p256") == 0)
			p->alg = ALG_EC_P256;
		else {
			set_err(pc, pc->ini.line, "profile.key_alg '%s': must be rsa2048 or ec-p256", value);
			return 0;
		}
		return 1;
	}
	if (strcmp(key, "max_years") == 0)
		return take_string(pc, K_YEARS, "profile", key, value, NULL) &&
		    take_whole(pc, key, value, 1, MAX_YEARS_LIMIT, &p->max_years);
	if (strcmp(key, "renewal_carry_over_days") == 0)
		return take_string(pc, K_CARRY, "profile", key, value, NULL) &&
		    take_whole(pc, key, value, 0, CARRY_DAYS_LIMIT, &p->carry_days);
	if (strcmp(key, "label") == 0) {
		if (!take_string(pc, K_LABEL, "profile", key, value, &p->label))
			return 0;
		if (*value == '\0') {
			set_err(pc, pc->ini.line, "profile.label: empty");
			return 0;
		}
		if (template_check(value, why, sizeof(why)) != 0) {
			set_err(pc, pc->ini.line, "profile.label: %s", why);
			return 0;
		}
		return 1;
	}
	if (strcmp(key, "purpose") == 0) {
		if (!take_string(pc, K_PURPOSE, "profile", key, value, NULL))
			return 0;
		return parse_purpose(pc, value);
	}
	set_err(pc, pc->ini.line, "unknown key '%s' in [profile] (known: name, description, key_alg, "
		"max_years, renewal_carry_over_days, label, purpose)", key);
	return 0;
}

static int
parse_subject_key(struct parse_ctx *pc, const char *key, const char *value)
{
	struct certprof *p = pc->p;
	const struct attr_info *a = attr_find(key);
	struct rdn *tmp;
	char why[160];

	if (a == NULL) {
		set_err(pc, pc->ini.line, "unknown subject attribute '%s' (known: C, ST, L, street, O, OU, "
			"CN, serialNumber, title, givenName, surname)", key);
		return 0;
	}
	if (*value == '\0') {
		set_err(pc, pc->ini.line, "subject.%s: empty template", key);
		return 0;
	}
	if (template_check(value, why, sizeof(why)) != 0) {
		set_err(pc, pc->ini.line, "subject.%s: %s", key, why);
		return 0;
	}
	/* A fixed value (no variables) can be checked now rather than per token. */
	if (strchr(value, '{') == NULL && value_check(a, value, why, sizeof(why)) != 0) {
		set_err(pc, pc->ini.line, "subject.%s: %s", key, why);
		return 0;
	}
	if (p->nrdns == p->caprdns) {
		size_t cap = p->caprdns ? p->caprdns * 2 : 8;

		if ((tmp = realloc(p->rdns, cap * sizeof(*tmp))) == NULL)
			goto nomem;
		p->rdns = tmp;
		p->caprdns = cap;
	}
	if ((p->rdns[p->nrdns].tmpl = strdup(value)) == NULL)
		goto nomem;
	p->rdns[p->nrdns].attr = a;
	p->nrdns++;
	return 1;
 nomem:
	pc->ini.nomem = 1;
	set_err(pc, pc->ini.line, "out of memory");
	return 0;
}

static int
parse_key_usage(struct parse_ctx *pc, const char *value)
{
	char *copy, *tok, *save = NULL, *t;
	size_t i;
	int ok = 0;

	if ((copy = strdup(value)) == NULL) {
		pc->ini.nomem = 1;
		set_err(pc, pc->ini.line, "out of memory");
		return 0;
	}
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		t = trim(tok);
		if (strcmp(t, "keyCertSign") == 0 || strcmp(t, "cRLSign") == 0) {
			set_err(pc, pc->ini.line, "extensions.key_usage: %s is for CA certificates, "
				"not allowed in a token certificate", t);
			goto out;
		}
		for (i = 0; i < sizeof(ku_names) / sizeof(ku_names[0]); i++)
			if (strcmp(ku_names[i].name, t) == 0)
				break;
		if (i == sizeof(ku_names) / sizeof(ku_names[0])) {
			set_err(pc, pc->ini.line, "extensions.key_usage: unknown key usage '%s' (known: "
				"digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment, "
				"keyAgreement)", t);
			goto out;
		}
		pc->p->key_usage |= ku_names[i].bit;
	}
	if (pc->p->key_usage == 0) {
		set_err(pc, pc->ini.line, "extensions.key_usage: empty");
		goto out;
	}
	ok = 1;
 out:
	free(copy);
	return ok;
}

static int
is_dotted_oid(const char *s)
{
	int dots = 0;

	if (!isdigit((unsigned char)*s))
		return 0;
	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (s[1] == '.' || s[1] == '\0')
				return 0;
			dots++;
		} else if (!isdigit((unsigned char)*s)) {
			return 0;
		}
	}
	return dots >= 1;
}

static int
parse_eku(struct parse_ctx *pc, const char *value)
{
	struct certprof *p = pc->p;
	char *copy, *tok, *save = NULL, *t, **tmp;
	const char *oid;
	ASN1_OBJECT *obj;
	size_t i;
	int ok = 0;

	if ((copy = strdup(value)) == NULL)
		goto nomem;
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		t = trim(tok);
		oid = NULL;
		for (i = 0; i < sizeof(eku_names) / sizeof(eku_names[0]); i++)
			if (strcmp(eku_names[i].name, t) == 0)
				oid = eku_names[i].oid;
		if (oid == NULL && is_dotted_oid(t)) {
			/* Validate the dotted form the way the CA will encode it. */
			if ((obj = OBJ_txt2obj(t, 1)) != NULL) {
				oid = t;
				ASN1_OBJECT_free(obj);
			}
		}
		if (oid == NULL) {
			set_err(pc, pc->ini.line, "extensions.extended_key_usage: unknown usage '%s' (known: "
				"serverAuth, clientAuth, codeSigning, timeStamping, or a dotted OID)", t);
			goto out;
		}
		/* a certificate that claims e-mail protection must name the
		 * address it protects, which only the order can give */
		if (strcmp(oid, OID_EMAIL_PROTECTION) == 0) {
			set_err(pc, pc->ini.line, "extensions.extended_key_usage: emailProtection goes "
				"only with an e-mail address; use purpose = email, which adds it when the "
				"order gives one");
			goto out;
		}
		if ((tmp = realloc(p->ekus, (p->nekus + 1) * sizeof(*tmp))) == NULL)
			goto nomem;
		p->ekus = tmp;
		if ((p->ekus[p->nekus] = strdup(oid)) == NULL)
			goto nomem;
		p->nekus++;
	}
	if (p->nekus == 0) {
		set_err(pc, pc->ini.line, "extensions.extended_key_usage: empty (leave the key out instead)");
		goto out;
	}
	ok = 1;
	goto out;
 nomem:
	pc->ini.nomem = 1;
	set_err(pc, pc->ini.line, "out of memory");
 out:
	free(copy);
	return ok;
}

/* crl_url: where relying parties fetch the CRL (cRLDistributionPoints).
 * RFC 5280 4.2.1.13: an http URI (not https, whose check could itself need
 * the CRL), printable ASCII without spaces. */
static int
parse_crl_url(struct parse_ctx *pc, const char *value)
{
	size_t i, n = strlen(value);

	if (!take_string(pc, K_CRL, "extensions", "crl_url", value, NULL))
		return 0;
	for (i = 0; i < n && value[i] > ' ' && value[i] < 0x7f; i++)
		;
	if (strncmp(value, "http://", 7) != 0 || n <= 7 || n > 200 || i != n) {
		set_err(pc, pc->ini.line, "extensions.crl_url: must be an http:// URL of at most 200 "
			"printable ASCII characters without spaces (RFC 5280 4.2.1.13)");
		return 0;
	}
	if ((pc->p->crl_url = strdup(value)) == NULL) {
		pc->ini.nomem = 1;
		set_err(pc, pc->ini.line, "out of memory");
		return 0;
	}
	return 1;
}

static int
parse_extensions_key(struct parse_ctx *pc, const char *key, const char *value)
{
	if (strcmp(key, "key_usage") == 0) {
		if (!take_string(pc, K_KU, "extensions", key, value, NULL))
			return 0;
		return parse_key_usage(pc, value);
	}
	if (strcmp(key, "extended_key_usage") == 0) {
		if (!take_string(pc, K_EKU, "extensions", key, value, NULL))
			return 0;
		return parse_eku(pc, value);
	}
	if (strcmp(key, "gm_identity") == 0) {
		if (!take_string(pc, K_GM, "extensions", key, value, NULL))
			return 0;
		if (strcmp(value, "uscc") == 0) {
			pc->p->gm_var = "uscc";
			pc->p->gm_oid = GM_OID_ORG_CODE;
		} else if (strcmp(value, "id_number") == 0) {
			pc->p->gm_var = "id_number";
			pc->p->gm_oid = GM_OID_PERSONAL_ID;
		} else if (strcmp(value, "none") != 0) {
			set_err(pc, pc->ini.line, "extensions.gm_identity '%s': must be uscc, id_number or none",
				value);
			return 0;
		}
		return 1;
	}
	if (strcmp(key, "crl_url") == 0)
		return parse_crl_url(pc, value);
	set_err(pc, pc->ini.line, "unknown key '%s' in [extensions] (known: key_usage, "
		"extended_key_usage, gm_identity, crl_url)", key);
	return 0;
}

static int
ini_handler_fn(void *user, const char *section, const char *key, const char *value)
{
	struct parse_ctx *pc = user;

	if (pc->ini.failed)
		return 1;	/* the first error is the one reported */
	if (*section == '\0') {
		set_err(pc, pc->ini.line, "'%s' outside any section (start with [profile])", key);
		return 0;
	}
	if (strcmp(section, "profile") == 0)
		return parse_profile_key(pc, key, value);
	if (strcmp(section, "subject") == 0)
		return parse_subject_key(pc, key, value);
	if (strcmp(section, "extensions") == 0)
		return parse_extensions_key(pc, key, value);
	/* Unknown section headers are caught by the reader; keep a guard. */
	set_err(pc, pc->ini.line, "unknown section [%s]", section);
	return 0;
}

/* fgets-style reader for inih that counts lines (so the handler knows where
 * it is), refuses lines too long for inih's buffer instead of letting it
 * split them, and names unknown section headers even when they are empty. */
static char *
ini_reader_fn(char *str, int num, void *stream)
{
	struct parse_ctx *pc = stream;
	const char *name;
	size_t len;
	ssize_t n;

	if (pc->ini.failed)
		return NULL;
	n = getline(&pc->buf, &pc->bufcap, pc->ini.fp);
	if (n < 0)
		return NULL;
	pc->ini.line++;
	if (n + 3 > num) {
		set_err(pc, pc->ini.line, "line is %zd bytes long, at most %d", n, num - 3);
		return NULL;
	}
	if (memchr(pc->buf, '\0', (size_t)n) != NULL) {
		set_err(pc, pc->ini.line, "NUL byte in the file");
		return NULL;
	}
	memcpy(str, pc->buf, (size_t)n + 1);
	switch (inifile_header(pc->buf, pc->ini.line, &name, &len)) {
	case -1:
		set_err(pc, pc->ini.line, "section header without ']'");
		return NULL;
	case 1:
		pc->buf[name - pc->buf + len] = '\0';	/* str holds the line for inih */
		if (inifile_section_find(&pc->ini, name) < 0) {
			set_err(pc, pc->ini.line, "unknown section [%s] (known: [profile], [subject], "
				"[extensions])", name);
			return NULL;
		}
		break;
	}
	return str;
}

/* The extended key usages: the purposes' OIDs in table order, then those of
 * extended_key_usage that are not among them yet. */
static void
merge_ekus(struct parse_ctx *pc)
{
	struct certprof *p = pc->p;
	char **v;
	size_t i, j, n = 0;

	if ((v = calloc(sizeof(purpose_names) / sizeof(purpose_names[0]) + p->nekus + 1,
	    sizeof(*v))) == NULL)
		goto nomem;
	for (i = 0; i < sizeof(purpose_names) / sizeof(purpose_names[0]) + p->nekus; i++) {
		const char *oid = i < sizeof(purpose_names) / sizeof(purpose_names[0]) ?
		    ((p->purposes & purpose_names[i].bit) ? purpose_names[i].oid : NULL) :
		    p->ekus[i - sizeof(purpose_names) / sizeof(purpose_names[0])];

		if (oid == NULL)
			continue;
		for (j = 0; j < n; j++)
			if (strcmp(v[j], oid) == 0)
				break;
		if (j < n)
			continue;
		if ((v[n] = strdup(oid)) == NULL)
			goto nomem;
		n++;
	}
	for (i = 0; i < p->nekus; i++)
		free(p->ekus[i]);
	free(p->ekus);
	p->ekus = v;
	p->nekus = n;
	return;
 nomem:
	if (v != NULL)
		for (i = 0; i < n; i++)
			free(v[i]);
	free(v);
	pc->ini.nomem = 1;
	set_err(pc, pc->ini.line, "out of memory");
}

/* Rules that span keys, checked once the whole file is read. */
static void
check_complete(struct parse_ctx *pc)
{
	struct certprof *p = pc->p;
	unsigned last = pc->ini.line;
	size_t i;
	int has_cn = 0;

	if (pc->line[K_NAME] == 0)
		set_err(pc, last, "[profile] name is missing");
	if (pc->line[K_ALG] == 0)
		set_err(pc, last, "[profile] key_alg is missing (rsa2048 or ec-p256)");
	if (pc->line[K_YEARS] == 0)
		set_err(pc, last, "[profile] max_years is missing");
	if (pc->line[K_LABEL] == 0)
		set_err(pc, last, "[profile] label is missing");
	if (pc->line[K_PURPOSE] == 0)
		set_err(pc, last, "[profile] purpose is missing (login, document-signing, e-seal, "
			"email)");
	for (i = 0; i < p->nrdns; i++)
		if (p->rdns[i].attr->nid == NID_commonName)
			has_cn = 1;
	if (!has_cn)
		set_err(pc, last, "[subject] has no CN");
	if (pc->line[K_KU] == 0)
		set_err(pc, last, "[extensions] key_usage is missing");
	if (pc->ini.failed)
		return;
	if (p->alg == ALG_EC_P256 && (p->key_usage & (KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT)))
		set_err(pc, pc->line[K_KU], "extensions.key_usage: %s needs an RSA key, but key_alg "
			"is ec-p256 (line %u)", (p->key_usage & KU_KEY_ENCIPHERMENT) ?
			"keyEncipherment" : "dataEncipherment", pc->line[K_ALG]);
	if (p->alg == ALG_RSA2048 && (p->key_usage & KU_KEY_AGREEMENT))
		set_err(pc, pc->line[K_KU], "extensions.key_usage: keyAgreement needs an EC key, but "
			"key_alg is rsa2048 (line %u)", pc->line[K_ALG]);
	if (!(p->key_usage & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)))
		set_err(pc, pc->line[K_KU], "extensions.key_usage: needs digitalSignature or "
			"nonRepudiation (the token's key signs its own certificate request)");
	/* RFC 5280 4.2.1.12: clientAuth goes with digitalSignature or keyAgreement */
	if ((p->purposes & CERTPROF_PURPOSE_LOGIN) &&
	    !(p->key_usage & (KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT)))
		set_err(pc, pc->line[K_PURPOSE], "profile.purpose: login needs key_usage "
			"digitalSignature (line %u)", pc->line[K_KU]);
	if (!pc->ini.failed)
		merge_ekus(pc);
}

void
certprof_free(struct certprof *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nrdns; i++)
		free(p->rdns[i].tmpl);
	for (i = 0; i < p->nekus; i++)
		free(p->ekus[i]);
	free(p->rdns);
	free(p->ekus);
	free(p->path);
	free(p->name);
	free(p->description);
	free(p->label);
	free(p->crl_url);
	free(p);
}

int
certprof_load(const char *path, struct certprof **out, char *err, size_t errlen)
{
	struct parse_ctx pc;
	struct certprof *p = NULL;
	int rc, r;

	*out = NULL;
	memset(&pc, 0, sizeof(pc));
	pc.ini.path = path;
	pc.ini.sections = section_names;
	pc.ini.n_sections = sizeof(section_names) / sizeof(section_names[0]);
	if ((pc.ini.fp = fopen(path, "re")) == NULL) {
		put_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		rc = errno == ENOENT ? UKEY_ERR_NOTFOUND : UKEY_ERR_IO;
		goto out;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL || (p->path = strdup(path)) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	pc.p = p;
	r = ini_parse_stream(ini_reader_fn, &pc, ini_handler_fn, &pc);
	if (pc.ini.nomem) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if (!pc.ini.failed && ferror(pc.ini.fp)) {
		put_err(err, errlen, "%s: read error", path);
		rc = UKEY_ERR_IO;
		goto out;
	}
	if (!pc.ini.failed && r > 0)
		set_err(&pc, (unsigned)r, "syntax error: expected '[section]', 'key = value' or a comment");
	else if (!pc.ini.failed && r < 0) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if (!pc.ini.failed)
		check_complete(&pc);
	if (pc.ini.failed) {
		put_err(err, errlen, "%.*s", MESSAGE_MAX - 1, pc.ini.err);
		rc = UKEY_ERR_INVAL;
		goto out;
	}
	if (p->description == NULL && (p->description = strdup("")) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	*out = p;
	p = NULL;
	rc = 0;
 out:
	if (pc.ini.fp != NULL)
		fclose(pc.ini.fp);
	free(pc.buf);
	certprof_free(p);
	return rc;
}

const char *
certprof_name(const struct certprof *p)
{
	return p->name;
}

const char *
certprof_description(const struct certprof *p)
{
	return p->description;
}

const char *
certprof_path(const struct certprof *p)
{
	return p->path;
}

const char *
certprof_key_alg(const struct certprof *p)
{
	return p->alg == ALG_RSA2048 ? "rsa2048" : "ec-p256";
}

int
certprof_max_years(const struct certprof *p)
{
	return p->max_years;
}

int
certprof_carry_over_days(const struct certprof *p)
{
	return p->carry_days;
}

unsigned
certprof_key_usage(const struct certprof *p)
{
	return p->key_usage;
}

unsigned
certprof_key_ops(const struct certprof *p)
{
	unsigned ops = 0;

	if (p->key_usage & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION))
		ops |= CERTPROF_KEY_SIGN;
	/* the loader refuses encipherment for EC and key agreement for RSA;
	 * the key type is checked again here so that no path can mix them */
	if (p->alg == ALG_RSA2048 && (p->key_usage & KU_KEY_ENCIPHERMENT))
		ops |= CERTPROF_KEY_DECRYPT | CERTPROF_KEY_UNWRAP;
	if (p->alg == ALG_RSA2048 && (p->key_usage & KU_DATA_ENCIPHERMENT))
		ops |= CERTPROF_KEY_DECRYPT;
	if (p->alg == ALG_EC_P256 && (p->key_usage & KU_KEY_AGREEMENT))
		ops |= CERTPROF_KEY_DERIVE;
	return ops;
}

unsigned
certprof_purposes(const struct certprof *p)
{
	return p->purposes;
}

int
certprof_email(const struct certprof *p)
{
	return (p->purposes & CERTPROF_PURPOSE_EMAIL) != 0;
}

size_t
certprof_eku_count(const struct certprof *p)
{
	return p->nekus;
}

const char *
certprof_eku_oid(const struct certprof *p, size_t i)
{
	return i < p->nekus ? p->ekus[i] : NULL;
}

const char *
certprof_gm_identity(const struct certprof *p)
{
	return p->gm_var;
}

const char *
certprof_gm_identity_oid(const struct certprof *p)
{
	return p->gm_oid;
}

const char *
certprof_crl_url(const struct certprof *p)
{
	return p->crl_url;
}

int
certprof_subject(const struct certprof *p, certprof_var_fn var, void *ctx, X509_NAME **out,
		 char *err, size_t errlen)
{
	X509_NAME *name = NULL;
	char *value = NULL;
	char why[200];
	size_t i;
	int rc;

	*out = NULL;
	if ((name = X509_NAME_new()) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < p->nrdns; i++) {
		const struct attr_info *a = p->rdns[i].attr;

		if ((rc = template_expand(p->rdns[i].tmpl, var, ctx, &value, why, sizeof(why))) != 0) {
			if (rc == UKEY_ERR_INVAL)
				put_err(err, errlen, "subject.%s: %s", a->key, why);
			goto out;
		}
		if (value_check(a, value, why, sizeof(why)) != 0) {
			put_err(err, errlen, "subject.%s: %s", a->key, why);
			rc = UKEY_ERR_INVAL;
			goto out;
		}
		/* MBSTRING_UTF8 lets OpenSSL's string table pick the type:
		 * PrintableString for C and serialNumber, UTF8String otherwise. */
		if (X509_NAME_add_entry_by_NID(name, a->nid, MBSTRING_UTF8, (const unsigned char *)value,
					       -1, -1, 0) != 1) {
			log_error("X509_NAME_add_entry_by_NID(%s) failed", a->key);
			put_err(err, errlen, "subject.%s: OpenSSL refused the value", a->key);
			rc = UKEY_ERR_INVAL;
			goto out;
		}
		free(value);
		value = NULL;
	}
	*out = name;
	name = NULL;
	rc = 0;
 out:
	free(value);
	X509_NAME_free(name);
	return rc;
}

int
certprof_label(const struct certprof *p, certprof_var_fn var, void *ctx, size_t max_bytes,
	       char **out, char *err, size_t errlen)
{
	char why[160], *label = NULL;
	size_t full, n;
	int rc;

	*out = NULL;
	if (max_bytes > CERTPROF_LABEL_MAX)
		max_bytes = CERTPROF_LABEL_MAX;
	if ((rc = template_expand(p->label, var, ctx, &label, why, sizeof(why))) != 0) {
		if (rc == UKEY_ERR_INVAL)
			put_err(err, errlen, "label: %s", why);
		goto out;
	}
	full = strlen(label);
	if (!utf8_valid(label, full) || utf8_has_control(label)) {
		put_err(err, errlen, "label: must be UTF-8 text without control characters");
		rc = UKEY_ERR_INVAL;
		goto out;
	}
	/* cut on a character boundary, never inside a UTF-8 sequence; the
	 * blanks a cut leaves at the end go too, since a token pads its label
	 * with blanks and reads them back as nothing */
	n = utf8_cut(label, max_bytes);
	while (n > 0 && label[n - 1] == ' ')
		n--;
	label[n] = '\0';
	if (n == 0) {
		put_err(err, errlen, "label: %zu bytes, and not one whole character of it fits a"
			" %zu-byte token label", full, max_bytes);
		rc = UKEY_ERR_INVAL;
		goto out;
	}
	*out = label;
	label = NULL;
	rc = 0;
 out:
	free(label);
	return rc;
}

void
certprof_set_free(struct certprof_set *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++)
		certprof_free(s->v[i]);
	free(s->v);
	free(s);
}

int
certprof_set_load_dir(const char *dir, struct certprof_set **out, char *err, size_t errlen)
{
	struct certprof_set *s = NULL;
	struct dirent **names = NULL;
	char *path = NULL;
	int n = -1, i, rc;
	size_t j;

	*out = NULL;
	if ((n = scandir(dir, &names, inifile_conf_filter, alphasort)) < 0) {
		put_err(err, errlen, "%s: cannot read directory: %s", dir, strerror(errno));
		rc = errno == ENOENT ? UKEY_ERR_NOTFOUND : UKEY_ERR_IO;
		goto out;
	}
	if (n == 0) {
		put_err(err, errlen, "%s: no *.conf profile files", dir);
		rc = UKEY_ERR_NOTFOUND;
		goto out;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->v = calloc((size_t)n, sizeof(*s->v))) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (asprintf(&path, "%s/%s", dir, names[i]->d_name) < 0) {
			path = NULL;
			rc = UKEY_ERR_NOMEM;
			goto out;
		}
		if ((rc = certprof_load(path, &s->v[s->n], err, errlen)) != 0)
			goto out;
		s->n++;
		for (j = 0; j + 1 < s->n; j++) {
			if (strcmp(s->v[j]->name, s->v[s->n - 1]->name) == 0) {
				put_err(err, errlen, "%s: profile name '%s' is already used by %s", path,
					s->v[s->n - 1]->name, s->v[j]->path);
				rc = UKEY_ERR_EXISTS;
				goto out;
			}
		}
		free(path);
		path = NULL;
	}
	*out = s;
	s = NULL;
	rc = 0;
 out:
	free(path);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	certprof_set_free(s);
	return rc;
}

const struct certprof *
certprof_set_find(const struct certprof_set *s, const char *name)
{
	size_t i;

	for (i = 0; s != NULL && i < s->n; i++)
		if (strcmp(s->v[i]->name, name) == 0)
			return s->v[i];
	return NULL;
}

size_t
certprof_set_count(const struct certprof_set *s)
{
	return s == NULL ? 0 : s->n;
}

const struct certprof *
certprof_set_get(const struct certprof_set *s, size_t i)
{
	return s != NULL && i < s->n ? s->v[i] : NULL;
}
