/* Inside the CA connector: the optional operations of a backend that can
 * answer later and explain its failures. Only src/ca/ files include this. */
#ifndef UKEY_CA_EXT_H
#define UKEY_CA_EXT_H

#include "ca/ca_impl.h"

struct ca_ext_ops {
	int (*issue_start)(struct ca *ca, const struct ca_request *req, struct ca_txn *txn,
	    X509 **out);
	int (*issue_poll)(struct ca *ca, const struct ca_request *req, struct ca_txn *txn,
	    X509 **out);
	const char *(*last_error)(const struct ca *ca);
};

#endif
