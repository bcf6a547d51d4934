/* The CA connector's dispatch: each call goes to the backend's table. */
#include <stdlib.h>

#include "ca/ca_impl.h"
#include "ca/crl.h"
#include "common/err.h"

void
ca_free(struct ca *ca)
{
	if (ca == NULL)
		return;
	if (ca->ops != NULL && ca->ops->free_impl != NULL)
		ca->ops->free_impl(ca->impl);
	X509_free(ca->cert);
	free(ca);
}

const X509 *
ca_cert(const struct ca *ca)
{
	return ca->cert;
}

const char *
ca_kind(const struct ca *ca)
{
	return ca->ops->kind;
}

int
ca_issue(struct ca *ca, const struct ca_request *req, X509 **out)
{
	*out = NULL;
	if (ca == NULL || req == NULL)
		return UKEY_ERR_INVAL;
	return ca->ops->issue(ca, req, out);
}

int
ca_revoke(struct ca *ca, const char *serial_hex, const char *reason)
{
	int rc;

	if (ca == NULL || serial_hex == NULL)
		return UKEY_ERR_INVAL;
	if ((rc = ca->ops->revoke(ca, serial_hex, reason)) == 0)
		ca->revocations++;
	return rc;
}

uint64_t
ca_revocations(const struct ca *ca)
{
	return ca->revocations;
}

int
ca_list_issued(struct ca *ca, struct json_object **out)
{
	*out = NULL;
	if (ca == NULL)
		return UKEY_ERR_INVAL;
	return ca->ops->list_issued(ca, out);
}

int
ca_crl(struct ca *ca, int64_t next_update_s, X509_CRL **out)
{
	*out = NULL;
	if (ca == NULL || next_update_s < 1 || next_update_s > (int64_t)10 * 366 * 86400)
		return UKEY_ERR_INVAL;
	if (ca->ops->crl == NULL)
		return UKEY_ERR_UNSUPPORTED;
	return ca->ops->crl(ca, next_update_s, out);
}

int
ca_reason_known(const char *name)
{
	return crl_reason_code(name) >= 0;
}
