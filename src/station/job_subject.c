/* A unit's identity as its order's document gives it, read once into a
 * typed view (struct job_identity), and the certificate subject and token
 * label made from it before any token is touched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "common/err.h"
#include "station/job_steps.h"
#include "station/station.h"
#include "store/store_jobs.h"
#include "station/bay.h"
#include "station/job.h"
#include "station/orderdoc.h"

void
job_identity_clear(struct job_identity *id)
{
	char **f[] = { &id->province, &id->city, &id->county, &id->org_name, &id->uscc,
		&id->portal_ref, &id->kind, &id->name, &id->id_number, &id->phone, &id->email };
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (*f[i] != NULL)
			secure_wipe(*f[i], strlen(*f[i]));	/* personal data */
		free(*f[i]);
	}
	memset(id, 0, sizeof(*id));
}

/* A copy of o[key] as text (NULL stays NULL); sets *rc when memory runs out. */
static char *
dup_field(struct json_object *o, const char *key, int *rc)
{
	const char *v = jstr(o, key);
	char *copy;

	if (v == NULL)
		return NULL;
	if ((copy = strdup(v)) == NULL)
		*rc = UKEY_ERR_NOMEM;
	return copy;
}

static char *
dup_text(const char *v, int *rc)
{
	char *copy;

	if (v == NULL)
		return NULL;
	if ((copy = strdup(v)) == NULL)
		*rc = UKEY_ERR_NOMEM;
	return copy;
}

int
job_identity_from_doc(struct json_object *doc, const char *kind, const char *uscc,
    const char *portal_ref, struct job_identity *out)
{
	struct json_object *h = json_object_object_get(doc, "handler");
	struct json_object *org = json_object_object_get(doc, "organisation");
	struct json_object *item = kind ? json_object_object_get(doc, kind) : NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->province = dup_field(h, "province", &rc);
	out->city = dup_field(h, "city", &rc);
	out->county = dup_field(h, "county", &rc);
	out->org_name = org ? dup_field(org, "name", &rc) : dup_field(doc, "account_name", &rc);
	out->uscc = dup_text(uscc, &rc);
	out->portal_ref = dup_text(portal_ref, &rc);
	out->kind = dup_text(kind, &rc);
	out->name = dup_field(item, "name", &rc);
	out->id_number = dup_field(item, "id_number", &rc);
	out->phone = dup_field(item, "phone", &rc);
	out->email = dup_field(item, "email", &rc);
	if (rc != 0)
		job_identity_clear(out);
	return rc;
}

int
job_identity_open(struct station *s, const struct store_job_source *src,
    struct job_identity *out)
{
	struct json_object *doc = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	/* the whole document: a subject or a GM/T identity may carry an ID number */
	if ((rc = orderdoc_open_sealed(s, src->portal_ref, src->doc_sealed, src->doc_sealed_len,
	    &doc)) != 0)
		return rc;
	rc = job_identity_from_doc(doc, src->kind, src->account_uscc, src->portal_ref, out);
	json_object_put(doc);
	return rc;
}

/* The certificate profiles' variables (docs/cert-profiles.md) from the view. */
static const char *
var_lookup(void *ctx, const char *var)
{
	const struct job_identity *id = ctx;

	if (strcmp(var, "province") == 0)
		return id->province;
	if (strcmp(var, "city") == 0)
		return id->city;
	if (strcmp(var, "county") == 0)
		return id->county;
	if (strcmp(var, "org_name") == 0)
		return id->org_name;
	if (strcmp(var, "uscc") == 0)
		return id->uscc;
	if (strcmp(var, "portal_ref") == 0)
		return id->portal_ref;
	if (strcmp(var, "name") == 0)
		return id->name;
	if (strcmp(var, "id_number") == 0)
		return id->id_number;
	if (strcmp(var, "phone") == 0)
		return id->phone;
	return NULL;
}

size_t
job_label_max(struct station *s, const struct certprof *p)
{
	size_t i, max = CERTPROF_LABEL_MAX;

	for (i = 0; i < fw_profile_set_count(station_fw(s)); i++) {
		const struct fw_profile *fw = fw_profile_set_at(station_fw(s), i);

		if (fw->init_token && fw_profile_supports(fw, certprof_key_alg(p)) &&
		    (size_t)fw->label_max_bytes < max)
			max = (size_t)fw->label_max_bytes;
	}
	return max;
}

int
job_identity_subject(struct station *s, const struct job_identity *id,
    const char *cert_profile, size_t label_max, const struct certprof **pp, X509_NAME **name,
    char **label, char *err, size_t errlen)
{
	const struct certprof *p;
	int rc;

	*name = NULL;
	*label = NULL;
	if ((p = certprof_set_find(station_cp(s), cert_profile)) == NULL) {
		snprintf(err, errlen, "cert_profile: certificate profile \"%s\" is not installed",
		    cert_profile);
		return UKEY_ERR_NOTFOUND;
	}
	if ((rc = certprof_subject(p, var_lookup, (void *)id, name, err, errlen)) != 0)
		return rc;
	if ((rc = certprof_label(p, var_lookup, (void *)id, label_max ? label_max :
	    job_label_max(s, p), label, err, errlen)) != 0) {
		X509_NAME_free(*name);
		*name = NULL;
		return rc;
	}
	if (pp != NULL)
		*pp = p;
	return 0;
}

int
job_unit_identity(struct station *s, struct json_object *doc, const char *kind,
    const char *cert_profile, const char *uscc, const char *portal_ref, size_t label_max,
    const struct certprof **pp, X509_NAME **name, char **label, char *err, size_t errlen)
{
	struct job_identity id;
	int rc;

	*name = NULL;
	*label = NULL;
	if ((rc = job_identity_from_doc(doc, kind, uscc, portal_ref, &id)) != 0) {
		snprintf(err, errlen, "the order document: %s", ukey_strerror(rc));
		return rc;
	}
	rc = job_identity_subject(s, &id, cert_profile, label_max, pp, name, label, err, errlen);
	job_identity_clear(&id);
	return rc;
}

int
job_unit_subject(struct station *s, int64_t unit_id, const struct fw_profile *fw,
    const struct certprof **pp, uint8_t **subject_der, size_t *subject_len, char **label,
    int *years, char *err, size_t errlen)
{
	struct store_job_source src = { 0 };
	struct job_identity id = { 0 };
	const struct certprof *p = NULL;
	X509_NAME *name = NULL;
	unsigned char *der = NULL;
	char *lab = NULL;
	int rc, n;

	*subject_der = NULL;
	*label = NULL;
	if ((rc = store_job_unit_source(station_store(s), unit_id, &src)) != 0)
		goto out;
	if ((rc = job_identity_open(s, &src, &id)) != 0) {
		snprintf(err, errlen, "the stored order document cannot be opened: %s",
		    ukey_strerror(rc));
		rc = UKEY_ERR_DB;
		goto out;
	}
	if ((rc = job_identity_subject(s, &id, src.cert_profile, (size_t)fw->label_max_bytes, &p,
	    &name, &lab, err, errlen)) != 0)
		goto out;
	if ((n = i2d_X509_NAME(name, &der)) <= 0) {
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	*pp = p;
	*years = (int)src.years;
	*subject_der = der;
	*subject_len = (size_t)n;
	der = NULL;
	*label = lab;
	lab = NULL;
	rc = 0;
 out:
	OPENSSL_free(der);
	free(lab);
	X509_NAME_free(name);
	job_identity_clear(&id);
	store_job_source_clear(&src);
	return rc;
}
