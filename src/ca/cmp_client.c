/* The CMP connector's transactions: one OSSL_CMP_CTX per call, the answer
 * checked (protection, key, subject, chain) before a certificate is returned,
 * and polling that can resume a transaction persisted by the caller. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/ca_cmp_impl.h"
#include "ca/certcheck.h"
#include "ca/cmp_msg.h"
#include "ca/crl.h"
#include "common/err.h"
#include "common/log.h"

#define BODY_POLLREP 26	/* PKIBody pollRep (RFC 4210 5.1.2); OpenSSL 3.0 names no constant */

/* What one call learns while OpenSSL runs it (the transfer and certConf
 * callbacks' argument). */
struct call {
	struct cmp_impl *c;
	const struct ca_request *req;		/* NULL for a revocation */
	const struct ca_txn *resume;		/* send a pollReq for this transaction */
	int rid;				/* certReqId of the pollReq */
	int transport_failed;			/* no answer came back */
	int waiting;				/* the pollReq got a pollRep */
	int check_after;
	int bad_answer;				/* the certificate failed our checks */
	int probed;				/* the server was seen to accept connections */
	struct ca_txn got;			/* transactionID, senderNonce of the last answer */
	char why[512];
};

static int
log_cb(const char *func, const char *file, int line, OSSL_CMP_severity level, const char *msg)
{
	(void)func;
	(void)file;
	(void)line;
	if (level <= OSSL_CMP_LOG_WARNING)
		log_debug("OpenSSL CMP: %s", msg);
	return 1;
}

/* Connects to host:port once and hangs up: 0 when something accepts, -1
 * with why when it is refused or unreachable within timeout_s. */
static int
probe_one(const char *host, const char *port, int timeout_s, char *why, size_t len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	struct pollfd pfd;
	socklen_t sl = sizeof(int);
	int fd, err = ECONNREFUSED, r;

	if ((r = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(why, len, "%s: %s", host, gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol)) < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			err = 0;
		else if (errno != EINPROGRESS)
			err = errno;
		else {
			pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
			if (poll(&pfd, 1, timeout_s * 1000) != 1)
				err = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0)
				err = errno;
		}
		close(fd);
		if (err == 0)
			break;
	}
	freeaddrinfo(res);
	if (err != 0)
		snprintf(why, len, "connecting to %s port %s: %s", host, port, strerror(err));
	return err == 0 ? 0 : -1;
}

/* OpenSSL 3.0's HTTP client retries a refused connection until the message
 * timeout; a CA (or proxy) that is down should fail at once, so the first
 * message of a call is preceded by a plain connect. */
static int
probe(struct call *k)
{
	const struct cmp_config *f = &k->c->cfg;
	char host[256], port[16];
	const char *p = f->proxy;
	size_t n;

	if (p[0] == '\0') {
		snprintf(port, sizeof(port), "%d", k->c->port);
		return probe_one(k->c->host, port, f->timeout_s, k->why, sizeof(k->why));
	}
	if (strncmp(p, "http://", 7) == 0)
		p += 7;
	n = strcspn(p, ":/");
	snprintf(host, sizeof(host), "%.*s", (int)n, p);
	snprintf(port, sizeof(port), "%.*s", p[n] == ':' ? (int)strcspn(p + n + 1, "/") : 2,
	    p[n] == ':' ? p + n + 1 : "80");
	return probe_one(host, port, f->timeout_s, k->why, sizeof(k->why));
}

/* Sends req (a pollReq in its place when resuming) and records the ids of
 * the answer. When resuming, a pollRep stops OpenSSL's client here: the CA
 * is still deciding. */
static OSSL_CMP_MSG *
transfer(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req)
{
	struct call *k = OSSL_CMP_CTX_get_transfer_cb_arg(ctx);
	OSSL_CMP_MSG *poll = NULL, *rep;
	int bt = OSSL_CMP_MSG_get_bodytype(req);

	if (k->resume != NULL && (bt == OSSL_CMP_P10CR || bt == OSSL_CMP_CR ||
	    bt == OSSL_CMP_KUR)) {
		poll = cmp_msg_pollreq(req, k->resume->nonce_len > 0 ? k->resume->nonce : NULL,
		    k->resume->nonce_len, k->rid);
		if (poll == NULL || OSSL_CMP_MSG_update_transactionID(ctx, poll) != 1) {
			OSSL_CMP_MSG_free(poll);
			return NULL;
		}
		req = poll;
	}
	if (!k->probed && probe(k) != 0) {
		OSSL_CMP_MSG_free(poll);
		k->transport_failed = 1;
		return NULL;
	}
	k->probed = 1;
	rep = OSSL_CMP_MSG_http_perform(ctx, req);
	OSSL_CMP_MSG_free(poll);
	if (rep == NULL) {
		k->transport_failed = 1;
		return NULL;
	}
	(void)cmp_msg_ids(rep, k->got.tid, &k->got.tid_len, k->got.nonce, &k->got.nonce_len);
	if (k->resume != NULL && OSSL_CMP_MSG_get_bodytype(rep) == BODY_POLLREP) {
		/* believe "waiting" only from the CA, in this transaction */
		if (OSSL_CMP_validate_msg(ctx, rep) == 1 && k->got.tid_len == k->resume->tid_len &&
		    memcmp(k->got.tid, k->resume->tid, k->got.tid_len) == 0) {
			k->waiting = 1;
			cmp_msg_check_after(rep, &k->check_after);
		}
		OSSL_CMP_MSG_free(rep);
		return NULL;
	}
	return rep;
}

/* The answer's certificate against the request: the CSR's key, the
 * requested subject, a chain to cmp.trusted (the answer's caPubs and
 * extraCerts only as untrusted intermediates). 0 or -1 with k->why. */
static int
check_answer(struct call *k, OSSL_CMP_CTX *ctx, X509 *cert)
{
	STACK_OF(X509) *untrusted = OSSL_CMP_CTX_get1_extraCertsIn(ctx);
	STACK_OF(X509) *pubs = OSSL_CMP_CTX_get1_caPubs(ctx);
	X509_STORE_CTX *sc = NULL;
	EVP_PKEY *want = X509_REQ_get0_pubkey((X509_REQ *)k->req->csr);
	char *got = NULL, *asked = NULL;
	int rc = -1;

	if (untrusted == NULL)
		untrusted = sk_X509_new_null();
	if (untrusted == NULL || (pubs != NULL && X509_add_certs(untrusted, pubs,
	    X509_ADD_FLAG_UP_REF | X509_ADD_FLAG_NO_DUP) != 1)) {
		snprintf(k->why, sizeof(k->why), "out of memory");
		goto out;
	}
	if (want == NULL || EVP_PKEY_eq(X509_get0_pubkey(cert), want) != 1) {
		snprintf(k->why, sizeof(k->why), "the certificate's public key is not the "
		    "CSR's (the token's)");
		goto out;
	}
	if (X509_NAME_cmp(X509_get_subject_name(cert), k->req->subject) != 0) {
		(void)cert_subject_text(X509_get_subject_name(cert), &got);
		(void)cert_subject_text(k->req->subject, &asked);
		snprintf(k->why, sizeof(k->why), "the certificate's subject \"%s\" is not the "
		    "requested \"%s\"", got ? got : "?", asked ? asked : "?");
		goto out;
	}
	if ((sc = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(sc, k->c->trusted, cert, untrusted) != 1) {
		snprintf(k->why, sizeof(k->why), "out of memory");
		goto out;
	}
	if (X509_verify_cert(sc) != 1) {
		snprintf(k->why, sizeof(k->why), "the certificate does not chain to cmp.trusted "
		    "(%s)", X509_verify_cert_error_string(X509_STORE_CTX_get_error(sc)));
		goto out;
	}
	rc = 0;
 out:
	ERR_clear_error();
	free(got);
	free(asked);
	X509_STORE_CTX_free(sc);
	sk_X509_pop_free(untrusted, X509_free);
	sk_X509_pop_free(pubs, X509_free);
	return rc;
}

/* OpenSSL's certConf hook: a certificate that fails check_answer() is
 * rejected to the CA (negative certConf) and never returned. */
static int
certconf(OSSL_CMP_CTX *ctx, X509 *cert, int fail_info, const char **txt)
{
	struct call *k = OSSL_CMP_CTX_get_certConf_cb_arg(ctx);

	if (k->req == NULL)
		return fail_info;
	if (check_answer(k, ctx, cert) != 0 || fail_info != 0) {
		/* ours, or OpenSSL's own text when only its checks refused it */
		if (k->why[0] == '\0')
			snprintf(k->why, sizeof(k->why), "%s", *txt != NULL ? *txt :
			    "refused by OpenSSL's checks");
		k->bad_answer = 1;
		*txt = k->why;
		return fail_info != 0 ? fail_info : 1 << OSSL_CMP_PKIFAILUREINFO_incorrectData;
	}
	/* the caller records the certificate before the CA hears it is taken:
	 * a station that dies before that never confirms, and the CA must not
	 * publish it (RFC 4210 5.3.18) */
	if (k->req->before_confirm != NULL &&
	    k->req->before_confirm(k->req->before_confirm_arg, cert) != 0) {
		snprintf(k->why, sizeof(k->why), "the station could not record the certificate");
		k->bad_answer = 1;
		*txt = k->why;
		return 1 << OSSL_CMP_PKIFAILUREINFO_systemFailure;
	}
	return 0;
}

/* The name the server's TLS certificate must carry: an IP address as an
 * iPAddress (and no SNI, which takes host names only), else the host name. */
static int
tls_name(SSL *ssl, const char *host)
{
	unsigned char ip[16];

	if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1;
	return SSL_set_tlsext_host_name(ssl, host) == 1 && SSL_set1_host(ssl, host) == 1;
}

/* https: TLS over the connection OpenSSL's HTTP client opened (the pattern
 * of OpenSSL's apps/lib/apps.c app_http_tls_cb). */
static BIO *
tls_cb(BIO *bio, void *arg, int connect, int detail)
{
	struct cmp_impl *c = arg;
	BIO *sbio, *cbio;
	SSL *ssl;

	if (connect && detail) {
		if ((sbio = BIO_new(BIO_f_ssl())) == NULL)
			return NULL;
		if ((ssl = SSL_new(c->ssl)) == NULL || !tls_name(ssl, c->host)) {
			SSL_free(ssl);
			BIO_free(sbio);
			return NULL;
		}
		SSL_set_connect_state(ssl);
		BIO_set_ssl(sbio, ssl, BIO_CLOSE);
		return BIO_push(sbio, bio);
	}
	if (!connect) {
		(void)ERR_set_mark();
		BIO_ssl_shutdown(bio);
		cbio = BIO_pop(bio);
		BIO_free(bio);
		(void)ERR_pop_to_mark();
		return cbio;
	}
	return bio;
}

static int
ctx_protect(struct cmp_impl *c, OSSL_CMP_CTX *ctx)
{
	if (c->secret.len > 0)
		return OSSL_CMP_CTX_set1_referenceValue(ctx, (const unsigned char *)c->cfg.secret_ref,
		    (int)strlen(c->cfg.secret_ref)) == 1 &&
		    OSSL_CMP_CTX_set1_secretValue(ctx, c->secret.p, (int)c->secret.len) == 1;
	return OSSL_CMP_CTX_set1_cert(ctx, c->ra_cert) == 1 &&
	    OSSL_CMP_CTX_set1_pkey(ctx, c->ra_key) == 1;
}

/* A client context for one call: server, timeouts, the CA's certificate as
 * the only key its answers may be signed with, our protection, hooks. */
static int
ctx_new(struct cmp_impl *c, struct call *k, OSSL_CMP_CTX **out)
{
	const struct cmp_config *f = &c->cfg;
	OSSL_CMP_CTX *ctx;
	int ok;

	if ((*out = ctx = OSSL_CMP_CTX_new(NULL, NULL)) == NULL)
		return UKEY_ERR_NOMEM;
	p11signer_reset(c->ra_signer);
	p11signer_reset(c->tls_signer);
	ok = OSSL_CMP_CTX_set_log_cb(ctx, log_cb) == 1 &&
	    OSSL_CMP_CTX_set1_server(ctx, c->host) == 1 &&
	    OSSL_CMP_CTX_set_serverPort(ctx, c->port) == 1 &&
	    OSSL_CMP_CTX_set1_serverPath(ctx, f->path) == 1 &&
	    (f->proxy[0] == '\0' || OSSL_CMP_CTX_set1_proxy(ctx, f->proxy) == 1) &&
	    (f->no_proxy[0] == '\0' || OSSL_CMP_CTX_set1_no_proxy(ctx, f->no_proxy) == 1) &&
	    OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_MSG_TIMEOUT, f->timeout_s) == 1 &&
	    OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_TOTAL_TIMEOUT, 0) == 1 &&
	    /* an unprotected error can only fail a request; its text says why */
	    OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_UNPROTECTED_ERRORS, 1) == 1 &&
	    OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_IMPLICIT_CONFIRM, f->implicit_confirm) == 1 &&
	    OSSL_CMP_CTX_set1_srvCert(ctx, c->ca_cert) == 1 &&
	    X509_STORE_up_ref(c->trusted) == 1;
	if (ok && OSSL_CMP_CTX_set0_trustedStore(ctx, c->trusted) != 1) {
		X509_STORE_free(c->trusted);
		ok = 0;
	}
	ok = ok && ctx_protect(c, ctx) &&
	    OSSL_CMP_CTX_set_transfer_cb(ctx, transfer) == 1 &&
	    OSSL_CMP_CTX_set_transfer_cb_arg(ctx, k) == 1 &&
	    OSSL_CMP_CTX_set_certConf_cb(ctx, certconf) == 1 &&
	    OSSL_CMP_CTX_set_certConf_cb_arg(ctx, k) == 1 &&
	    (!c->tls || (OSSL_CMP_CTX_set_http_cb(ctx, tls_cb) == 1 &&
	    OSSL_CMP_CTX_set_http_cb_arg(ctx, c) == 1));
	if (!ok) {
		cmp_openssl_why(k->why, sizeof(k->why));
		cmp_fail(c, "setting up the CMP client: %s", k->why);
		return UKEY_ERR_CRYPTO;
	}
	return 0;
}

/* Checks what the station can check before sending: a CSR that verifies
 * and, for a P10CR (which carries the CSR as it is), the requested subject. */
static int
check_request(struct cmp_impl *c, const struct ca_request *req, int type)
{
	EVP_PKEY *pub;

	if (req->csr == NULL || req->subject == NULL) {
		cmp_fail(c, "request: a CSR and a subject are required");
		return UKEY_ERR_INVAL;
	}
	pub = X509_REQ_get0_pubkey((X509_REQ *)req->csr);
	if (pub == NULL || X509_REQ_verify((X509_REQ *)req->csr, pub) != 1) {
		ERR_clear_error();
		cmp_fail(c, "request: the CSR's signature does not verify with its key");
		return UKEY_ERR_VERIFY;
	}
	if (type == OSSL_CMP_P10CR &&
	    X509_NAME_cmp(X509_REQ_get_subject_name(req->csr), req->subject) != 0) {
		cmp_fail(c, "request: the CSR's subject is not the requested one, and a P10CR "
		    "carries the CSR as it is");
		return UKEY_ERR_INVAL;
	}
	return 0;
}

/* The request's body: P10CR, or CR / KUR with the CSR's key, the requested
 * subject and RA-verified proof of possession (the RA checked the CSR). */
static int
set_request(struct cmp_impl *c, OSSL_CMP_CTX *ctx, const struct ca_request *req, int *type)
{
	X509 *old = (X509 *)req->old_cert;
	EVP_PKEY *pub = X509_REQ_get0_pubkey((X509_REQ *)req->csr);
	int kur = old != NULL && c->cfg.renewal == CMPCONF_RENEW_KUR;
	int crmf = kur || c->cfg.request == CMPCONF_CR;

	*type = kur ? OSSL_CMP_KUR : crmf ? OSSL_CMP_CR : OSSL_CMP_P10CR;
	if (OSSL_CMP_CTX_set1_p10CSR(ctx, req->csr) != 1 ||
	    (old != NULL && OSSL_CMP_CTX_set1_oldCert(ctx, old) != 1))
		return UKEY_ERR_NOMEM;
	if (!crmf)
		return 0;
	if (EVP_PKEY_up_ref(pub) != 1)
		return UKEY_ERR_CRYPTO;
	if (OSSL_CMP_CTX_set0_newPkey(ctx, 0, pub) != 1) {
		EVP_PKEY_free(pub);
		return UKEY_ERR_NOMEM;
	}
	if (OSSL_CMP_CTX_set1_subjectName(ctx, req->subject) != 1 ||
	    OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_POPO_METHOD,
	    OSSL_CRMF_POPO_RAVERIFIED) != 1)
		return UKEY_ERR_NOMEM;
	return 0;
}

/* Turns the end of a call into the station's code and ca_last_error(). */
static int
call_result(struct call *k, OSSL_CMP_CTX *ctx, const char *what)
{
	struct cmp_impl *c = k->c;
	char status[OSSL_CMP_PKISI_BUFLEN] = "", queue[512] = "";
	int prot;

	prot = cmp_openssl_why(queue, sizeof(queue));
	/* a key in an HSM whose ukey-signer failed: the CA never saw a
	 * protected message, or the TLS handshake stopped */
	if (p11signer_failed(c->ra_signer, k->why, sizeof(k->why)) ||
	    p11signer_failed(c->tls_signer, k->why, sizeof(k->why))) {
		cmp_fail(c, "%s: %s", what, k->why);
		return UKEY_ERR_UNAVAIL;
	}
	if (k->transport_failed) {
		cmp_fail(c, "%s: the CA at %s%s is unreachable: %s", what, c->cfg.server,
		    c->cfg.path, k->why[0] != '\0' ? k->why : queue);
		return UKEY_ERR_UNAVAIL;
	}
	if (k->bad_answer) {
		cmp_fail(c, "%s: the CA's certificate was refused: %s", what, k->why);
		return UKEY_ERR_VERIFY;
	}
	snprintf(k->why, sizeof(k->why), "%s", queue);
	if (OSSL_CMP_CTX_get_status(ctx) == OSSL_CMP_PKISTATUS_rejection) {
		OSSL_CMP_CTX_snprint_PKIStatus(ctx, status, sizeof(status));
		cmp_fail(c, "%s: the CA refused: %s", what, status);
		return UKEY_ERR_CA;
	}
	if (prot) {
		cmp_fail(c, "%s: the CA's answer is not protected by %s: %s", what,
		    c->secret.len > 0 ? "the shared secret (cmp.secret_file)" :
		    "the key of cmp.ca_cert", k->why);
		return UKEY_ERR_VERIFY;
	}
	cmp_fail(c, "%s: the CA's answer was not understood: %s", what,
	    k->why[0] != '\0' ? k->why : "no reason given");
	return UKEY_ERR_PROTO;
}

/* One certificate request: sent fresh, or (resume) as a pollReq in the
 * transaction txn. Returns 0 and *out, UKEY_ERR_BUSY with txn updated, or
 * an error with ca_last_error() set. */
static int
issue_run(struct ca *ca, const struct ca_request *req, struct ca_txn *txn, int resume,
    X509 **out)
{
	struct cmp_impl *c = ca->impl;
	struct call k = { .c = c, .req = req, .resume = resume ? txn : NULL, .check_after = 1 };
	OSSL_CMP_CTX *ctx = NULL;
	ASN1_OCTET_STRING *tid = NULL;
	int rc, type, after = 1, r;

	*out = NULL;
	c->err[0] = '\0';
	ERR_clear_error();
	type = req->old_cert != NULL && c->cfg.renewal == CMPCONF_RENEW_KUR ? OSSL_CMP_KUR :
	    c->cfg.request == CMPCONF_CR ? OSSL_CMP_CR : OSSL_CMP_P10CR;
	if ((rc = check_request(c, req, type)) != 0 || (rc = ctx_new(c, &k, &ctx)) != 0 ||
	    (rc = set_request(c, ctx, req, &type)) != 0)
		goto out;
	/* OpenSSL answers a P10CR with certReqId -1 (RFC 9483: no id) */
	k.rid = type == OSSL_CMP_P10CR ? -1 : 0;
	/* a resumed poll, or a new request whose transactionID the caller chose
	 * (and persisted before sending) */
	if (txn->tid_len > 0 && ((tid = ASN1_OCTET_STRING_new()) == NULL ||
	    ASN1_OCTET_STRING_set(tid, txn->tid, (int)txn->tid_len) != 1 ||
	    OSSL_CMP_CTX_set1_transactionID(ctx, tid) != 1)) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	r = OSSL_CMP_try_certreq(ctx, type, NULL, &after);
	if (r == 1 && (*out = X509_dup(OSSL_CMP_CTX_get0_newCert(ctx))) == NULL)
		rc = UKEY_ERR_NOMEM;
	else if (r == 1)
		rc = 0;
	else if (r == -1 || k.waiting) {
		*txn = k.got;
		txn->check_after = k.waiting ? k.check_after : after > 0 ? after : 1;
		cmp_fail(c, "the CA holds the request (PKIStatus waiting): poll again in %d s",
		    txn->check_after);
		rc = UKEY_ERR_BUSY;
	} else
		rc = call_result(&k, ctx, resume ? "poll" : "request");
 out:
	if (rc != 0 && rc != UKEY_ERR_BUSY && c->err[0] == '\0')
		cmp_fail(c, "request: %s", ukey_strerror(rc));
	ASN1_OCTET_STRING_free(tid);
	OSSL_CMP_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

int
cmp_issue_start(struct ca *ca, const struct ca_request *req, struct ca_txn *txn, X509 **out)
{
	size_t tid_len = txn->tid_len <= CA_TXN_ID_MAX ? txn->tid_len : 0;

	/* the caller's transactionID is kept, nothing else */
	txn->nonce_len = 0;
	txn->check_after = 0;
	txn->tid_len = tid_len;
	return issue_run(ca, req, txn, 0, out);
}

int
cmp_issue_poll(struct ca *ca, const struct ca_request *req, struct ca_txn *txn, X509 **out)
{
	if (txn->tid_len == 0 || txn->tid_len > CA_TXN_ID_MAX ||
	    txn->nonce_len > CA_TXN_ID_MAX) {
		*out = NULL;
		cmp_fail(ca->impl, "poll: no transaction to resume");
		return UKEY_ERR_INVAL;
	}
	return issue_run(ca, req, txn, 1, out);
}

/* Issues and waits: polls a CA that answers "waiting" for at most
 * cmp.timeout seconds in all, then returns UKEY_ERR_BUSY. */
int
cmp_issue(struct ca *ca, const struct ca_request *req, X509 **out)
{
	struct cmp_impl *c = ca->impl;
	struct ca_txn txn = { .tid_len = 0 };
	time_t end = time(NULL) + c->cfg.timeout_s;
	int rc, wait;

	rc = cmp_issue_start(ca, req, &txn, out);
	while (rc == UKEY_ERR_BUSY && time(NULL) < end) {
		wait = txn.check_after;
		if (wait > end - time(NULL))
			wait = (int)(end - time(NULL));
		if (wait > 0)
			sleep((unsigned)wait);
		rc = cmp_issue_poll(ca, req, &txn, out);
	}
	return rc;
}

/* The certificate RR names: OpenSSL 3.0 takes the issuer and serial of the
 * revoked certificate from a whole (encodable) certificate, so one is made
 * with those two, signed by a throwaway key; nothing else of it is sent. */
static X509 *
rr_reference(const struct cmp_impl *c, const char *serial_hex)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial = NULL;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	size_t n = strlen(serial_hex);

	if (n == 0 || n > 40 || strspn(serial_hex, "0123456789abcdefABCDEF") != n ||
	    BN_hex2bn(&bn, serial_hex) == 0 || (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    (k = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL ||
	    X509_set_version(x, 2) != 1 || X509_set_serialNumber(x, serial) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(c->ca_cert)) != 1 ||
	    X509_set_subject_name(x, X509_get_subject_name(c->ca_cert)) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 0) == NULL || X509_set_pubkey(x, k) != 1 ||
	    X509_sign(x, k, EVP_sha256()) <= 0) {
		X509_free(x);
		x = NULL;
	}
	BN_free(bn);
	ASN1_INTEGER_free(serial);
	EVP_PKEY_free(k);
	return x;
}

int
cmp_revoke(struct ca *ca, const char *serial_hex, const char *reason)
{
	struct cmp_impl *c = ca->impl;
	struct call k = { .c = c };
	OSSL_CMP_CTX *ctx = NULL;
	X509 *ref = NULL;
	int rc, code, fi;

	c->err[0] = '\0';
	ERR_clear_error();
	if ((code = crl_reason_code(reason != NULL ? reason : "unspecified")) < 0) {
		cmp_fail(c, "revoke: reason \"%s\" is not an RFC 5280 reason name", reason);
		return UKEY_ERR_INVAL;
	}
	if ((ref = rr_reference(c, serial_hex)) == NULL) {
		ERR_clear_error();
		cmp_fail(c, "revoke: serial must be 1 to 40 hex digits");
		return UKEY_ERR_INVAL;
	}
	if ((rc = ctx_new(c, &k, &ctx)) != 0)
		goto out;
	if (OSSL_CMP_CTX_set1_oldCert(ctx, ref) != 1 ||
	    OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_REVOCATION_REASON, code) != 1) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if (OSSL_CMP_exec_RR_ses(ctx) == 1) {
		log_info("CMP CA revoked serial %s (%s)", serial_hex, reason ? reason : "unspecified");
		rc = 0;
		goto out;
	}
	rc = call_result(&k, ctx, "revoke");
	fi = OSSL_CMP_CTX_get_failInfoCode(ctx);
	if (rc == UKEY_ERR_CA && fi > 0 && (fi & (1 << OSSL_CMP_PKIFAILUREINFO_certRevoked)))
		rc = UKEY_ERR_STATE;
	else if (rc == UKEY_ERR_CA && fi > 0 && (fi & (1 << OSSL_CMP_PKIFAILUREINFO_badCertId)))
		rc = UKEY_ERR_NOTFOUND;
 out:
	OSSL_CMP_CTX_free(ctx);
	X509_free(ref);
	ERR_clear_error();
	return rc;
}
