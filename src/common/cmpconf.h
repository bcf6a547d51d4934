/* The [cmp] section of ukeyd.conf: where the external CA's CMP server is and
 * how the station protects its messages to it (docs/config.md, docs/ca.md). */
#ifndef UKEY_CMPCONF_H
#define UKEY_CMPCONF_H

#include <stddef.h>

#define CMPCONF_PATH_MAX 512
#define CMPCONF_TIMEOUT_MAX 3600

/* Which request a new certificate is asked for with (cmp.request). */
enum cmpconf_request {
	CMPCONF_P10CR = 0,	/* the token-signed PKCS#10 as it is (default) */
	CMPCONF_CR = 1,		/* a CRMF certificate request, RA-verified proof of possession */
};

/* Which request a renewal is asked for with (cmp.renewal). */
enum cmpconf_renewal {
	CMPCONF_RENEW_KUR = 0,		/* key update request naming the old certificate */
	CMPCONF_RENEW_P10CR = 1,	/* P10CR; the old certificate is only a reference */
};

/* Whose validity an issued certificate must have (cmp.validity). */
enum cmpconf_validity {
	CMPCONF_VALIDITY_ORDER = 0,	/* exactly the order's years (a day of slack) */
	CMPCONF_VALIDITY_CA = 1,	/* the CA's own, within the profile's max years */
};

struct cmp_config {
	char server[CMPCONF_PATH_MAX];		/* http://host[:port] or https://host[:port] */
	char path[256];				/* the CMP alias path, default "/" */
	char tls_trusted[CMPCONF_PATH_MAX];	/* https: PEM trust anchors for the server */
	char tls_cert[CMPCONF_PATH_MAX];	/* https: optional client certificate ... */
	char tls_key[CMPCONF_PATH_MAX];		/* ... and its key (file or pkcs11: URI) */
	char secret_ref[128];			/* PBM: the reference (senderKID) */
	char secret_file[CMPCONF_PATH_MAX];	/* PBM: file holding the shared secret, 0600 */
	char ra_cert[CMPCONF_PATH_MAX];		/* signature: the RA certificate (PEM) ... */
	char ra_key[CMPCONF_PATH_MAX];		/* ... and its key (PEM file or pkcs11: URI) */
	char ca_cert[CMPCONF_PATH_MAX];		/* the CA's certificate: srvCert and recipient */
	char trusted[CMPCONF_PATH_MAX];		/* PEM trust anchors for answers and chains */
	char proxy[256];			/* http proxy host:port, "" for none */
	char no_proxy[256];			/* hosts reached without the proxy */
	int implicit_confirm;			/* 1: ask for implicit confirm; 0: send certConf */
	int timeout_s;				/* per-message timeout, seconds */
	int request;				/* enum cmpconf_request */
	int renewal;				/* enum cmpconf_renewal */
	int validity;				/* enum cmpconf_validity */
	/* keys named by PKCS#11 URIs: the module (unless the URI has
	 * module-path=) and the file holding the user PIN, 0600 */
	char pkcs11_module[CMPCONF_PATH_MAX];
	char pkcs11_pin_file[CMPCONF_PATH_MAX];
	/* not a key: the ukey-signer program that loads the module (set
	 * beside the worker by cmpconf_signer_beside()) */
	char signer_path[CMPCONF_PATH_MAX];
};

/* The keys of [cmp], in the order docs/config.md lists them; NULL-terminated. */
extern const char *const cmpconf_keys[];

/* Fills c with the defaults: path "/", certConf, 30 s, p10cr, kur. */
void cmpconf_defaults(struct cmp_config *c);

/* Sets key (one of cmpconf_keys) from value. Returns 0, or -1 with the rule
 * the value breaks in rule ("must be ..."); c is then unchanged. */
int cmpconf_set(struct cmp_config *c, const char *key, const char *value, char *rule,
    size_t rulelen);

/* Checks that c is complete for ca.type = cmp: a server, ca_cert and trusted,
 * and exactly one protection (secret_ref with secret_file, or ra_cert with
 * ra_key); TLS keys only with https. Returns 0 or -1 with "cmp.<key>: <rule>"
 * in msg. */
int cmpconf_check(const struct cmp_config *c, char *msg, size_t msglen);

/* 1 when v (the value of ra_key or tls_key) is a PKCS#11 URI, 0 for a file. */
int cmpconf_is_pkcs11(const char *v);

/* Sets c->signer_path to the ukey-signer in the directory of worker_path. */
void cmpconf_signer_beside(struct cmp_config *c, const char *worker_path);

/* Splits c->server into host (hostlen bytes), *port and *tls. Returns 0 or -1
 * for a server that is no http:// or https:// URL with a host. */
int cmpconf_server_split(const struct cmp_config *c, char *host, size_t hostlen, int *port,
    int *tls);

#endif
