/* Inside the CMP connector: its state, shared by ca_cmp.c (configuration,
 * files) and cmp_client.c (the transactions). Only src/ca/ files include this. */
#ifndef UKEY_CA_CMP_IMPL_H
#define UKEY_CA_CMP_IMPL_H

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ca/ca_ext.h"
#include "ca/p11signer.h"
#include "common/cmpconf.h"
#include "common/secret.h"

struct cmp_impl {
	struct cmp_config cfg;	/* a copy */
	char host[256];		/* from cfg.server */
	int port, tls;
	X509 *ca_cert;		/* srvCert: the only key the CA's answers may be signed with */
	X509_STORE *trusted;	/* anchors for the issued certificate's chain */
	X509 *ra_cert;		/* signature protection: the RA certificate and key */
	EVP_PKEY *ra_key;
	struct p11signer *ra_signer;	/* ra_key is a pkcs11: URI: its ukey-signer */
	struct p11signer *tls_signer;	/* tls_key is a pkcs11: URI: its ukey-signer */
	struct secret secret;	/* PBM protection: the shared secret */
	SSL_CTX *ssl;		/* https only */
	char err[1024];		/* ca_last_error() */
};

void cmp_fail(struct cmp_impl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cmp_openssl_why(char *buf, size_t len);

/* The transactions (cmp_client.c); contracts as ca_issue(), ca_issue_start(),
 * ca_issue_poll() and ca_revoke() in ca.h / ca_cmp.h. */
int cmp_issue(struct ca *ca, const struct ca_request *req, X509 **out);
int cmp_issue_start(struct ca *ca, const struct ca_request *req, struct ca_txn *txn, X509 **out);
int cmp_issue_poll(struct ca *ca, const struct ca_request *req, struct ca_txn *txn, X509 **out);
int cmp_revoke(struct ca *ca, const char *serial_hex, const char *reason);

#endif
