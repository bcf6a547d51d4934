/* The CA connector's dispatch for requests answered later and for error
 * texts; a backend without them (the embedded CA) answers at once. */
#include <string.h>

#include "ca/ca_ext.h"
#include "common/err.h"

int
ca_issue_start(struct ca *ca, const struct ca_request *req, struct ca_txn *txn, X509 **out)
{
	*out = NULL;
	if (ca == NULL || req == NULL || txn == NULL)
		return UKEY_ERR_INVAL;
	memset(txn, 0, sizeof(*txn));
	if (ca->ops->ext == NULL || ca->ops->ext->issue_start == NULL)
		return ca->ops->issue(ca, req, out);
	return ca->ops->ext->issue_start(ca, req, txn, out);
}

int
ca_issue_poll(struct ca *ca, const struct ca_request *req, struct ca_txn *txn, X509 **out)
{
	*out = NULL;
	if (ca == NULL || req == NULL || txn == NULL)
		return UKEY_ERR_INVAL;
	/* a CA that answers at once has nothing pending: asking again is the
	 * idempotent ca_issue() with the same request key */
	if (ca->ops->ext == NULL || ca->ops->ext->issue_poll == NULL)
		return ca->ops->issue(ca, req, out);
	return ca->ops->ext->issue_poll(ca, req, txn, out);
}

const char *
ca_last_error(const struct ca *ca)
{
	if (ca == NULL || ca->ops->ext == NULL || ca->ops->ext->last_error == NULL)
		return "";
	return ca->ops->ext->last_error(ca);
}
