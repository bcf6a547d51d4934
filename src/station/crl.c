/* The station's side of the CA: opening the connector, and publishing its
 * CRL to [ca] crl_path on every revocation and every crl_interval. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "common/err.h"
#include "common/keyfile.h"
#include "common/log.h"
#include "station/station_impl.h"

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
