/* Inside the CA connector: the operations table each backend fills in.
 * Only src/ca/ files include this. */
#ifndef UKEY_CA_IMPL_H
#define UKEY_CA_IMPL_H

#include <stdint.h>

#include "ca/ca.h"

struct ca_ops {
	const char *kind;
	int (*issue)(struct ca *ca, const struct ca_request *req, X509 **out);
	int (*revoke)(struct ca *ca, const char *serial_hex, const char *reason);
	int (*list_issued)(struct ca *ca, struct json_object **out);
	/* NULL for a backend that keeps no list for the station (ca.h) */
	int (*request_status)(struct ca *ca, const char *request_key, char *status,
	    size_t len);
	/* NULL for a backend whose CA publishes its own CRLs. Called without
	 * the connector's lock: it takes it (ca_hold) only for what touches the
	 * backend's state, so that a long list is signed while the CA issues */
	int (*crl)(struct ca *ca, int64_t next_update_s, X509_CRL **out);
	void (*free_impl)(void *impl);
	const struct ca_ext_ops *ext;	/* optional: polling, last error (ca_ext.h) */
};

struct ca {
	const struct ca_ops *ops;
	X509 *cert;	/* owned */
	void *impl;	/* the backend's state, freed by ops->free_impl */
	uint64_t revocations;	/* ca_revoke calls that revoked, for ca_revocations */
};

#endif
