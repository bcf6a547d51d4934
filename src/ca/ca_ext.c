/* The CA connector's dispatch for requests answered later and for error
 * texts; a backend without them (the embedded CA) answers at once. */
#include <stdio.h>
#include <string.h>

#include "ca/ca_ext.h"
#include "common/err.h"

int
ca_issue_start(struct ca *ca, const struct ca_request *req, struct ca_txn *txn, X509 **out)
{
	int rc;

	*out = NULL;
	if (ca == NULL || req == NULL || txn == NULL)
		return UKEY_ERR_INVAL;
	/* a transactionID the caller chose is kept, nothing else */
	if (txn->tid_len > CA_TXN_ID_MAX)
		txn->tid_len = 0;
	txn->nonce_len = 0;
	txn->check_after = 0;
	ca_hold();
	if (ca->ops->ext == NULL || ca->ops->ext->issue_start == NULL)
		rc = ca->ops->issue(ca, req, out);
	else
		rc = ca->ops->ext->issue_start(ca, req, txn, out);
	ca_release();
	return rc;
}

int
ca_issue_poll(struct ca *ca, const struct ca_request *req, struct ca_txn *txn, X509 **out)
{
	int rc;

	*out = NULL;
	if (ca == NULL || req == NULL || txn == NULL)
		return UKEY_ERR_INVAL;
	/* a CA that answers at once has nothing pending: asking again is the
	 * idempotent ca_issue() with the same request key */
	ca_hold();
	if (ca->ops->ext == NULL || ca->ops->ext->issue_poll == NULL)
		rc = ca->ops->issue(ca, req, out);
	else
		rc = ca->ops->ext->issue_poll(ca, req, txn, out);
	ca_release();
	return rc;
}

const char *
ca_last_error(const struct ca *ca)
{
	if (ca == NULL || ca->ops->ext == NULL || ca->ops->ext->last_error == NULL)
		return "";
	return ca->ops->ext->last_error(ca);
}

void
ca_last_error_copy(const struct ca *ca, char *buf, size_t len)
{
	ca_hold();
	snprintf(buf, len, "%s", ca_last_error(ca));
	ca_release();
}
