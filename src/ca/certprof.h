/* Certificate profiles: one INI file per certificate type (organisation,
 * legal representative, entrusted person) giving key algorithm, subject
 * layout, token label and extensions, so that each CA's template is data. */
#ifndef UKEY_CERTPROF_H
#define UKEY_CERTPROF_H

#include <stddef.h>

#include <openssl/x509.h>

struct certprof;
struct certprof_set;

/* Loads one profile file. Returns 0 and *out (free with certprof_free), or
 * UKEY_ERR_INVAL with err = "<file>:<line>: <what is wrong>" (unknown section
 * or key, bad key_alg, unknown attribute or {variable}, bad key usage, a
 * required key missing), UKEY_ERR_IO if the file cannot be read, or
 * UKEY_ERR_NOMEM. err may be NULL. */
int certprof_load(const char *path, struct certprof **out, char *err, size_t errlen);

/* Frees p; NULL is a no-op. */
void certprof_free(struct certprof *p);

/* Accessors; the strings are borrowed from p and live as long as it. */
const char *certprof_name(const struct certprof *p);
const char *certprof_description(const struct certprof *p);	/* "" if none */
const char *certprof_path(const struct certprof *p);
const char *certprof_key_alg(const struct certprof *p);		/* "rsa2048" | "ec-p256" */
int certprof_max_years(const struct certprof *p);
/* [profile] renewal_carry_over_days: at most this many days of a renewed
 * certificate's remaining validity are added to its successor's (0: none,
 * the default; docs/cert-profiles.md). */
int certprof_carry_over_days(const struct certprof *p);

/* Key usage as OpenSSL KU_* bits (KU_DIGITAL_SIGNATURE, ...). */
unsigned certprof_key_usage(const struct certprof *p);

/* What the token may let the key pair do, derived from the key usage:
 * digitalSignature or nonRepudiation -> sign (and verify); keyEncipherment
 * (RSA) -> decrypt and unwrap (encrypt and wrap on the public key);
 * dataEncipherment (RSA) -> decrypt (encrypt); keyAgreement (EC) -> derive.
 * Nothing else: an EC key never enciphers. Every profile allows sign, since
 * the token signs its own certificate request. */
#define CERTPROF_KEY_SIGN 0x1u
#define CERTPROF_KEY_DECRYPT 0x2u
#define CERTPROF_KEY_UNWRAP 0x4u
#define CERTPROF_KEY_DERIVE 0x8u
unsigned certprof_key_ops(const struct certprof *p);

/* What the certificate is for ([profile] purpose), as CERTPROF_PURPOSE_*
 * bits; every profile has at least one. */
#define CERTPROF_PURPOSE_LOGIN 0x1u		/* client login: id-kp-clientAuth */
#define CERTPROF_PURPOSE_DOCUMENT_SIGNING 0x2u	/* id-kp-documentSigning (RFC 9336) */
#define CERTPROF_PURPOSE_E_SEAL 0x4u		/* id-kp-documentSigning (RFC 9336) */
#define CERTPROF_PURPOSE_EMAIL 0x8u		/* only with an address: see certprof_email */
unsigned certprof_purposes(const struct certprof *p);

/* 1 when the profile's purpose includes e-mail: a certificate whose order
 * gives the holder's e-mail address then carries it as an rfc822Name
 * subjectAltName and id-kp-emailProtection; without an address, neither. */
int certprof_email(const struct certprof *p);

/* Extended key usages as dotted OIDs ("1.3.6.1.5.5.7.3.2"): those of the
 * purposes, then extended_key_usage's others in file order; never
 * emailProtection, which depends on the order (certprof_email). */
size_t certprof_eku_count(const struct certprof *p);
const char *certprof_eku_oid(const struct certprof *p, size_t i);

/* The GM/T 0015 identity extension: the variable whose value it carries
 * ("uscc" or "id_number") and its OID, or NULL for both when the profile
 * asks for none. */
const char *certprof_gm_identity(const struct certprof *p);
const char *certprof_gm_identity_oid(const struct certprof *p);

/* The CRL distribution point ([extensions] crl_url, an http:// URL) the
 * issued certificates name in cRLDistributionPoints, or NULL for none. */
const char *certprof_crl_url(const struct certprof *p);

/* Variable lookup: returns the value of var (UTF-8) or NULL when unknown.
 * Known variables: province, city, county, org_name, uscc, name, id_number,
 * phone, portal_ref. The returned string is borrowed for the call. */
typedef const char *(*certprof_var_fn)(void *ctx, const char *var);

/* Returns 1 if var is one of the known variable names, else 0. */
int certprof_var_known(const char *var);

/* Builds the subject from the profile's [subject] template, RDNs in file
 * order. Text attributes are UTF8String, C and serialNumber PrintableString.
 * Returns 0 and *out (free with X509_NAME_free), or UKEY_ERR_INVAL with err
 * naming the attribute and the rule, e.g. "subject.CN: 71 characters, at most
 * 64 (RFC 5280)" or "subject.O: variable {org_name} is empty"; UKEY_ERR_NOMEM.
 * Runs anywhere; no I/O. */
int certprof_subject(const struct certprof *p, certprof_var_fn var, void *ctx,
		     X509_NAME **out, char *err, size_t errlen);

/* A PKCS#11 token label (CK_TOKEN_INFO.label, C_InitToken) holds 32 bytes. */
#define CERTPROF_LABEL_MAX 32

/* Expands the token label template and fits it to a token: cut to max_bytes
 * (at most CERTPROF_LABEL_MAX; a firmware profile's [label] max_bytes) on a
 * UTF-8 character boundary, never inside a sequence, and without the blanks
 * the cut leaves at its end. Returns 0 and a malloc'd string in *out;
 * UKEY_ERR_INVAL with err naming the rule ("label: variable {org_name} is
 * empty", invalid UTF-8 or control characters, or no whole character fits);
 * UKEY_ERR_NOMEM. Runs anywhere; no I/O. */
int certprof_label(const struct certprof *p, certprof_var_fn var, void *ctx, size_t max_bytes,
		   char **out, char *err, size_t errlen);

/* Loads every "*.conf" in dir (sorted by file name). Returns 0 and *out
 * (free with certprof_set_free), or the first file's error as in
 * certprof_load; two files with the same profile name are an error. An
 * empty directory is an error (UKEY_ERR_NOTFOUND). */
int certprof_set_load_dir(const char *dir, struct certprof_set **out, char *err, size_t errlen);

/* Returns the profile named name, borrowed from s, or NULL. */
const struct certprof *certprof_set_find(const struct certprof_set *s, const char *name);

/* Number of profiles in s and the i-th one (file name order), borrowed. */
size_t certprof_set_count(const struct certprof_set *s);
const struct certprof *certprof_set_get(const struct certprof_set *s, size_t i);

/* Frees s and its profiles; NULL is a no-op. */
void certprof_set_free(struct certprof_set *s);

#endif
