/* The CA connector's dispatch: each call goes to the backend's table, one
 * call at a time (ca_hold): the daemon's CA thread and its event loop may
 * both call, and no backend is written for two callers at once. */
#include <pthread.h>
#include <stdlib.h>

#include "ca/ca_impl.h"
#include "ca/crl.h"
#include "common/err.h"

static pthread_mutex_t ca_mu;
static pthread_once_t ca_mu_once = PTHREAD_ONCE_INIT;

static void
ca_mu_init(void)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	/* recursive: a caller holding it may call the connector's functions */
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&ca_mu, &a);
	pthread_mutexattr_destroy(&a);
}

void
ca_hold(void)
{
	pthread_once(&ca_mu_once, ca_mu_init);
	pthread_mutex_lock(&ca_mu);
}

void
ca_release(void)
{
	pthread_mutex_unlock(&ca_mu);
}

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
	int rc;

	if (ca == NULL || req == NULL)
		return UKEY_ERR_INVAL;
	ca_hold();
	rc = ca->ops->issue(ca, req, out);
	ca_release();
	return rc;
}

int
ca_revoke(struct ca *ca, const char *serial_hex, const char *reason)
{
	int rc;

	if (ca == NULL || serial_hex == NULL)
		return UKEY_ERR_INVAL;
	ca_hold();
	if ((rc = ca->ops->revoke(ca, serial_hex, reason)) == 0)
		__atomic_add_fetch(&ca->revocations, 1, __ATOMIC_SEQ_CST);
	ca_release();
	return rc;
}

uint64_t
ca_revocations(const struct ca *ca)
{
	/* no lock: the event loop asks every turn, also while the CA thread
	 * holds the connector for a call that waits on the CA */
	return __atomic_load_n(&ca->revocations, __ATOMIC_SEQ_CST);
}

int
ca_request_status(struct ca *ca, const char *request_key, char *status, size_t len)
{
	int rc;

	if (len > 0)
		status[0] = '\0';
	if (ca == NULL || request_key == NULL || len == 0)
		return UKEY_ERR_INVAL;
	if (ca->ops->request_status == NULL)
		return UKEY_ERR_UNSUPPORTED;
	ca_hold();
	rc = ca->ops->request_status(ca, request_key, status, len);
	ca_release();
	return rc;
}

int
ca_list_issued(struct ca *ca, struct json_object **out)
{
	int rc;

	*out = NULL;
	if (ca == NULL)
		return UKEY_ERR_INVAL;
	ca_hold();
	rc = ca->ops->list_issued(ca, out);
	ca_release();
	return rc;
}

int
ca_crl(struct ca *ca, int64_t next_update_s, X509_CRL **out)
{
	*out = NULL;
	if (ca == NULL || next_update_s < 1 || next_update_s > (int64_t)10 * 366 * 86400)
		return UKEY_ERR_INVAL;
	if (ca->ops->crl == NULL)
		return UKEY_ERR_UNSUPPORTED;
	return ca->ops->crl(ca, next_update_s, out);	/* it holds the lock where it must */
}

int
ca_reason_known(const char *name)
{
	return crl_reason_code(name) >= 0;
}
