/* cmp_test_server: a small real CMP CA for tests (never installed), on
 * OpenSSL's OSSL_CMP_SRV_CTX: it signs the public key of the request it gets
 * (P10CR, CR, KUR) with a test CA key, records revocations (RR), can answer
 * "waiting" before issuing, and speaks just enough HTTP/1.0 on 127.0.0.1.
 *
 *   cmp_test_server --ca-cert F --ca-key F [--port N] [--secret-ref R --secret-file F]
 *       [--ra-cert F] [--prot-cert F --prot-key F] [--waiting N] [--revoked F]
 *       [--misissue key|subject] [--require p10cr|cr|kur] [--tls-cert F --tls-key F]
 *       [--issued F] [--gate F] [--tls-client-ca F]
 *
 * Prints "port N" once it listens (port 0 or none: one the kernel picks),
 * then serves until SIGTERM (over TLS with --tls-cert/--tls-key); SIGUSR1
 * answers the held request at its next poll. --issued F lists every serial
 * issued; a certificate whose certConf never comes (the next request begins,
 * or the server stops) or is negative goes into --revoked F, as RFC 4210
 * 5.3.18 asks of a CA. --gate F holds every certificate request until the
 * file F exists (a CA that takes its time, without a clock in the test). --prot-cert/--prot-key sign the answers with
 * another key than the CA's (a CA answer the client must refuse).
 * --tls-client-ca F asks TLS clients for a certificate chaining to F and
 * refuses a handshake without one. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define BODY_MAX (1 << 20)

struct srv {
	X509 *ca_cert;
	EVP_PKEY *ca_key;
	int waiting;		/* pollReps to give before issuing */
	int polls_left;
	int release;		/* the held request is being answered */
	OSSL_CMP_MSG *pending;	/* the request being held */
	const char *revoked;	/* file the revoked serials are appended to */
	const char *misissue;	/* "key" or "subject": issue something wrong */
	int require;		/* the only request body type accepted, or -1 */
	const char *issued;	/* file the issued serials are appended to */
	const char *gate;	/* a request is answered only once this file exists */
	char unconfirmed[80];	/* serial issued, its certConf not yet seen ("" none) */
};

/* Appends hex and a newline to path (NULL: nothing). */
static void
append_line(const char *path, const char *hex)
{
	FILE *fp;

	if (path != NULL && (fp = fopen(path, "a")) != NULL) {
		fprintf(fp, "%s\n", hex);
		fclose(fp);
	}
}

/* A certificate whose certConf never came (the transaction lapsed: the
 * next request began, or the server stops) is revoked, never published:
 * RFC 4210 5.3.18. */
static void
lapse_unconfirmed(struct srv *s)
{
	if (s->unconfirmed[0] == '\0')
		return;
	fprintf(stderr, "cmp_test_server: certificate %s never confirmed: revoked\n",
	    s->unconfirmed);
	append_line(s->revoked, s->unconfirmed);
	s->unconfirmed[0] = '\0';
}

/* The certificate's serial as upper-case hex, as the revocation file has it. */
static void
serial_hex(const X509 *x, char *out, size_t len)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

	snprintf(out, len, "%s", hex != NULL ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
}

static volatile sig_atomic_t stop, release_now;

/* SIGUSR1: the held request is answered at the next poll, however many
 * polls --waiting asked for (a person approved it) */
static void
on_usr1(int sig)
{
	(void)sig;
	release_now = 1;
}

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void
die(const char *what)
{
	fprintf(stderr, "cmp_test_server: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static X509 *
read_cert(const char *path)
{
	FILE *fp = fopen(path, "r");
	X509 *x;

	if (fp == NULL)
		die(path);
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (x == NULL)
		die(path);
	return x;
}

static EVP_PKEY *
read_key(const char *path)
{
	FILE *fp = fopen(path, "r");
	EVP_PKEY *k;

	if (fp == NULL)
		die(path);
	k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (k == NULL)
		die(path);
	return k;
}

/* The publicKey [6] IMPLICIT SubjectPublicKeyInfo of a CRMF request's
 * template: OpenSSL 3.0 has no public getter for it. */
static EVP_PKEY *
crm_pubkey(const OSSL_CRMF_MSG *crm)
{
	unsigned char *der = NULL, *copy = NULL;
	const unsigned char *p, *end, *q;
	EVP_PKEY *key = NULL;
	long len;
	int n, tag, cls, depth;

	if ((n = i2d_OSSL_CRMF_MSG((OSSL_CRMF_MSG *)crm, &der)) <= 0)
		return NULL;
	p = der;
	end = der + n;
	/* CertReqMsg { CertRequest { certReqId, CertTemplate { ... [6] ... } } } */
	for (depth = 0; depth < 3; depth++) {
		if (ASN1_get_object(&p, &len, &tag, &cls, end - p) & 0x80)
			goto out;
		end = p + len;
		if (depth == 1 && (ASN1_get_object(&p, &len, &tag, &cls, end - p) & 0x80 ||
		    (p += len) > end))	/* skip certReqId */
			goto out;
	}
	while (p < end) {
		q = p;
		if (ASN1_get_object(&p, &len, &tag, &cls, end - p) & 0x80)
			goto out;
		if (cls == V_ASN1_CONTEXT_SPECIFIC && tag == 6) {
			size_t whole = (size_t)(p + len - q);

			if ((copy = malloc(whole)) == NULL)
				goto out;
			memcpy(copy, q, whole);
			copy[0] = 0x30;	/* the SEQUENCE under the implicit tag */
			q = copy;
			key = d2i_PUBKEY(NULL, &q, (long)whole);
			goto out;
		}
		p += len;
	}
 out:
	OPENSSL_free(der);
	free(copy);
	return key;
}

static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, NULL, x, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok;
}

/* A certificate for key and subject, with the request's extensions. */
static X509 *
issue(struct srv *s, EVP_PKEY *key, const X509_NAME *subject, STACK_OF(X509_EXTENSION) *exts)
{
	X509 *x = X509_new();
	ASN1_INTEGER *serial = NULL;
	BIGNUM *bn = BN_new();
	EVP_PKEY *other = NULL;
	X509_NAME *wrong = NULL;
	int i, ok;

	if (s->misissue != NULL && strcmp(s->misissue, "key") == 0)
		key = other = EVP_EC_gen("P-256");
	if (s->misissue != NULL && strcmp(s->misissue, "subject") == 0) {
		wrong = X509_NAME_new();
		X509_NAME_add_entry_by_txt(wrong, "CN", MBSTRING_ASC,
		    (const unsigned char *)"somebody else", -1, -1, 0);
		subject = wrong;
	}
	ok = x != NULL && bn != NULL && key != NULL && BN_rand(bn, 63, BN_RAND_TOP_ONE,
	    BN_RAND_BOTTOM_ANY) == 1 && (serial = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
	    X509_set_version(x, 2) == 1 && X509_set_serialNumber(x, serial) == 1 &&
	    X509_set_issuer_name(x, X509_get_subject_name(s->ca_cert)) == 1 &&
	    X509_set_subject_name(x, subject) == 1 && X509_set_pubkey(x, key) == 1 &&
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 365L * 86400) != NULL &&
	    add_ext(x, NID_basic_constraints, "critical,CA:FALSE");
	for (i = 0; ok && exts != NULL && i < sk_X509_EXTENSION_num(exts); i++)
		if (OBJ_obj2nid(X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, i))) !=
		    NID_basic_constraints)
			ok = X509_add_ext(x, sk_X509_EXTENSION_value(exts, i), -1) == 1;
	ok = ok && X509_sign(x, s->ca_key, EVP_sha256()) > 0;
	if (!ok) {
		X509_free(x);
		x = NULL;
	}
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	EVP_PKEY_free(other);
	X509_NAME_free(wrong);
	return x;
}

static OSSL_CMP_PKISI *
on_cert_request(OSSL_CMP_SRV_CTX *srv_ctx, const OSSL_CMP_MSG *req, int certReqId,
    const OSSL_CRMF_MSG *crm, const X509_REQ *p10cr, X509 **certOut,
    STACK_OF(X509) **chainOut, STACK_OF(X509) **caPubs)
{
	struct srv *s = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv_ctx);
	STACK_OF(X509_EXTENSION) *exts = NULL;
	const OSSL_CRMF_CERTTEMPLATE *t;
	EVP_PKEY *key = NULL;
	const X509_NAME *subject;

	(void)certReqId;
	*certOut = NULL;
	*chainOut = NULL;
	*caPubs = NULL;
	lapse_unconfirmed(s);
	if (s->gate != NULL && access(s->gate, F_OK) != 0) {
		fprintf(stderr, "cmp_test_server: waiting for the gate\n");
		while (!stop && access(s->gate, F_OK) != 0)
			usleep(20000);
	}
	if (s->require >= 0 && OSSL_CMP_MSG_get_bodytype(req) != s->require)
		return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_rejection,
		    1 << OSSL_CMP_PKIFAILUREINFO_badRequest, "not the request type required");
	if (s->waiting > 0 && s->pending == NULL && !s->release) {
		if ((s->pending = OSSL_CMP_MSG_dup(req)) == NULL)
			return NULL;
		s->polls_left = s->waiting;
		fprintf(stderr, "cmp_test_server: holding the request, %d polls\n", s->waiting);
		return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_waiting, 0, NULL);
	}
	s->release = 0;
	if (p10cr != NULL) {
		key = X509_REQ_get_pubkey((X509_REQ *)p10cr);
		subject = X509_REQ_get_subject_name(p10cr);
		exts = X509_REQ_get_extensions((X509_REQ *)p10cr);
	} else {
		t = OSSL_CRMF_MSG_get0_tmpl(crm);
		key = crm_pubkey(crm);
		subject = OSSL_CRMF_CERTTEMPLATE_get0_subject(t);
		if (OSSL_CRMF_CERTTEMPLATE_get0_extensions(t) != NULL)
			exts = sk_X509_EXTENSION_deep_copy(OSSL_CRMF_CERTTEMPLATE_get0_extensions(t),
			    X509_EXTENSION_dup, X509_EXTENSION_free);
	}
	if (key != NULL && subject != NULL)
		*certOut = issue(s, key, subject, exts);
	EVP_PKEY_free(key);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	if (*certOut == NULL)
		return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_rejection,
		    1 << OSSL_CMP_PKIFAILUREINFO_badCertTemplate, "cannot issue for this request");
	if ((*caPubs = sk_X509_new_null()) != NULL)
		(void)X509_add_cert(*caPubs, s->ca_cert, X509_ADD_FLAG_UP_REF);
	serial_hex(*certOut, s->unconfirmed, sizeof(s->unconfirmed));
	append_line(s->issued, s->unconfirmed);
	fprintf(stderr, "cmp_test_server: issued certificate %s\n", s->unconfirmed);
	return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_accepted, 0, NULL);
}

static OSSL_CMP_PKISI *
on_rr(OSSL_CMP_SRV_CTX *srv_ctx, const OSSL_CMP_MSG *req, const X509_NAME *issuer,
    const ASN1_INTEGER *serial)
{
	struct srv *s = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv_ctx);
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL, line[128];
	FILE *fp;
	int dup = 0;

	(void)req;
	if (hex == NULL || X509_NAME_cmp(issuer, X509_get_subject_name(s->ca_cert)) != 0) {
		BN_free(bn);
		OPENSSL_free(hex);
		return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_rejection,
		    1 << OSSL_CMP_PKIFAILUREINFO_badCertId, "not a certificate of this CA");
	}
	if (s->revoked != NULL && (fp = fopen(s->revoked, "r")) != NULL) {
		while (fgets(line, sizeof(line), fp) != NULL)
			if (strncmp(line, hex, strlen(hex)) == 0 && line[strlen(hex)] == '\n')
				dup = 1;
		fclose(fp);
	}
	if (!dup && s->revoked != NULL && (fp = fopen(s->revoked, "a")) != NULL) {
		fprintf(fp, "%s\n", hex);
		fclose(fp);
	}
	BN_free(bn);
	OPENSSL_free(hex);
	if (dup)
		return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_rejection,
		    1 << OSSL_CMP_PKIFAILUREINFO_certRevoked, "already revoked");
	return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_accepted, 0, NULL);
}

static void
on_error(OSSL_CMP_SRV_CTX *srv_ctx, const OSSL_CMP_MSG *req, const OSSL_CMP_PKISI *si,
    const ASN1_INTEGER *code, const OSSL_CMP_PKIFREETEXT *details)
{
	fprintf(stderr, "cmp_test_server: the client sent an error message\n");
}

static int
on_certconf(OSSL_CMP_SRV_CTX *srv_ctx, const OSSL_CMP_MSG *req, int certReqId,
    const ASN1_OCTET_STRING *hash, const OSSL_CMP_PKISI *si)
{
	struct srv *s = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv_ctx);
	char buf[OSSL_CMP_PKISI_BUFLEN] = "accepted";
	int accepted;

	/* OpenSSL 3.0 reads the status out only as text */
	if (si != NULL && OSSL_CMP_snprint_PKIStatusInfo(si, buf, sizeof(buf)) == NULL)
		snprintf(buf, sizeof(buf), "?");
	accepted = si == NULL || strncmp(buf, "PKIStatus: accepted", 19) == 0;
	fprintf(stderr, "cmp_test_server: certConf: %s\n", buf);
	if (accepted)
		s->unconfirmed[0] = '\0';
	else
		lapse_unconfirmed(s);	/* refused by the client: revoked at once */
	return 1;
}

static int
on_poll(OSSL_CMP_SRV_CTX *srv_ctx, const OSSL_CMP_MSG *req, int certReqId,
    OSSL_CMP_MSG **certReq, int64_t *check_after)
{
	struct srv *s = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv_ctx);

	*certReq = NULL;
	if (s->pending == NULL)
		return 0;
	if (release_now)
		s->polls_left = 0;
	if (s->polls_left > 0) {
		s->polls_left--;
		*check_after = 1;
		fprintf(stderr, "cmp_test_server: still waiting\n");
		return 1;
	}
	/* issue now: the library answers the held request and frees it */
	*certReq = s->pending;
	s->pending = NULL;
	release_now = 0;
	s->release = 1;
	*check_after = 0;
	return 1;
}

/* One accepted connection: plain, or TLS when the server has a context. */
struct conn {
	int fd;
	SSL *ssl;
};

static ssize_t
conn_read(struct conn *c, void *buf, size_t len)
{
	int n;

	if (c->ssl == NULL)
		return read(c->fd, buf, len);
	n = SSL_read(c->ssl, buf, (int)len);
	return n > 0 ? n : -1;
}

static int
conn_write(struct conn *c, const void *buf, size_t len)
{
	if (c->ssl == NULL)
		return write(c->fd, buf, len) == (ssize_t)len ? 0 : -1;
	return SSL_write(c->ssl, buf, (int)len) == (int)len ? 0 : -1;
}

/* Reads one HTTP/1.0 POST and its Content-Length body into *body. */
static int
read_request(struct conn *fd, unsigned char **body, size_t *len)
{
	char head[8192], *end, *cl;
	size_t n = 0, have, want;
	ssize_t r;

	*body = NULL;
	while (n < sizeof(head) - 1) {
		if ((r = conn_read(fd, head + n, sizeof(head) - 1 - n)) <= 0)
			return -1;
		n += (size_t)r;
		head[n] = '\0';
		if ((end = strstr(head, "\r\n\r\n")) != NULL)
			break;
	}
	if (end == NULL || strncmp(head, "POST ", 5) != 0 ||
	    (cl = strcasestr(head, "\r\nContent-Length:")) == NULL || cl > end)
		return -1;
	want = strtoul(cl + 17, NULL, 10);
	if (want == 0 || want > BODY_MAX || (*body = malloc(want)) == NULL)
		return -1;
	have = n - (size_t)(end + 4 - head);
	if (have > want)
		return -1;
	memcpy(*body, end + 4, have);
	while (have < want) {
		if ((r = conn_read(fd, *body + have, want - have)) <= 0)
			return -1;
		have += (size_t)r;
	}
	*len = want;
	return 0;
}

static void
reply(struct conn *fd, const char *status, const unsigned char *body, int len)
{
	char head[256];
	int n = snprintf(head, sizeof(head), "HTTP/1.0 %s\r\nContent-Type: application/pkixcmp"
	    "\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", status, len > 0 ? len : 0);

	if (conn_write(fd, head, (size_t)n) != 0 ||
	    (len > 0 && conn_write(fd, body, (size_t)len) != 0))
		fprintf(stderr, "cmp_test_server: write: %s\n", strerror(errno));
}

static void
serve(OSSL_CMP_SRV_CTX *srv, struct conn *fd)
{
	unsigned char *body = NULL, *out = NULL;
	const unsigned char *p;
	OSSL_CMP_MSG *req = NULL, *rsp = NULL;
	size_t len = 0;
	int n;

	if (read_request(fd, &body, &len) != 0) {
		reply(fd, "400 Bad Request", NULL, 0);
		goto out;
	}
	p = body;
	if ((req = d2i_OSSL_CMP_MSG(NULL, &p, (long)len)) == NULL ||
	    (rsp = OSSL_CMP_SRV_process_request(srv, req)) == NULL ||
	    (n = i2d_OSSL_CMP_MSG(rsp, &out)) <= 0) {
		ERR_print_errors_fp(stderr);
		reply(fd, "500 Internal Server Error", NULL, 0);
		goto out;
	}
	reply(fd, "200 OK", out, n);
 out:
	ERR_clear_error();
	free(body);
	OPENSSL_free(out);
	OSSL_CMP_MSG_free(req);
	OSSL_CMP_MSG_free(rsp);
}

static int
listen_loopback(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 16) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) != 0)
		die("cannot listen on 127.0.0.1");
	printf("port %d\n", ntohs(a.sin_port));
	fflush(stdout);
	return fd;
}

static void
run(OSSL_CMP_SRV_CTX *srv, int lfd, SSL_CTX *tls)
{
	struct sockaddr_in peer;
	struct conn c;
	socklen_t pl;

	while (!stop) {
		pl = sizeof(peer);
		if ((c.fd = accept(lfd, (struct sockaddr *)&peer, &pl)) < 0)
			continue;
		c.ssl = NULL;
		/* loopback only, whatever the listening address */
		if (peer.sin_family == AF_INET &&
		    (ntohl(peer.sin_addr.s_addr) >> 24) == IN_LOOPBACKNET) {
			if (tls == NULL)
				serve(srv, &c);
			else if ((c.ssl = SSL_new(tls)) != NULL && SSL_set_fd(c.ssl, c.fd) == 1 &&
			    SSL_accept(c.ssl) == 1) {
				serve(srv, &c);
				SSL_shutdown(c.ssl);
			}
		}
		ERR_clear_error();
		SSL_free(c.ssl);
		close(c.fd);
	}
}

static SSL_CTX *
tls_server(const char *cert, const char *key, const char *client_ca)
{
	SSL_CTX *t;

	if (cert == NULL)
		return NULL;
	if ((t = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate_chain_file(t, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(t, key, SSL_FILETYPE_PEM) != 1)
		die("--tls-cert / --tls-key");
	if (client_ca != NULL) {
		if (SSL_CTX_load_verify_file(t, client_ca) != 1)
			die("--tls-client-ca");
		SSL_CTX_set_verify(t, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	return t;
}

/* The command line: the CA's files go into s, the rest into a. */
struct args {
	const char *ref, *secret_file, *ra, *pc, *pk, *tls_cert, *tls_key, *client_ca;
	int port;
};

static int
body_type(const char *name)
{
	if (strcmp(name, "p10cr") == 0)
		return OSSL_CMP_P10CR;
	if (strcmp(name, "cr") == 0)
		return OSSL_CMP_CR;
	if (strcmp(name, "kur") == 0)
		return OSSL_CMP_KUR;
	die("--require: p10cr, cr or kur");
	return -1;
}

static void
parse_args(int argc, char **argv, struct srv *s, struct args *a)
{
	static const struct option opts[] = {
		{ "ca-cert", 1, NULL, 'c' }, { "ca-key", 1, NULL, 'k' }, { "port", 1, NULL, 'p' },
		{ "secret-ref", 1, NULL, 'r' }, { "secret-file", 1, NULL, 's' },
		{ "ra-cert", 1, NULL, 'a' }, { "prot-cert", 1, NULL, 'C' },
		{ "prot-key", 1, NULL, 'K' }, { "waiting", 1, NULL, 'w' },
		{ "revoked", 1, NULL, 'v' }, { "misissue", 1, NULL, 'm' },
		{ "require", 1, NULL, 'q' }, { "tls-cert", 1, NULL, 't' },
		{ "tls-key", 1, NULL, 'T' }, { "issued", 1, NULL, 'i' }, { "gate", 1, NULL, 'g' },
		{ "tls-client-ca", 1, NULL, 'L' }, { NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
		switch (c) {
		case 'c': s->ca_cert = read_cert(optarg); break;
		case 'k': s->ca_key = read_key(optarg); break;
		case 'p': a->port = atoi(optarg); break;
		case 'r': a->ref = optarg; break;
		case 's': a->secret_file = optarg; break;
		case 'a': a->ra = optarg; break;
		case 'C': a->pc = optarg; break;
		case 'K': a->pk = optarg; break;
		case 'w': s->waiting = atoi(optarg); break;
		case 'v': s->revoked = optarg; break;
		case 'm': s->misissue = optarg; break;
		case 'q': s->require = body_type(optarg); break;
		case 't': a->tls_cert = optarg; break;
		case 'T': a->tls_key = optarg; break;
		case 'i': s->issued = optarg; break;
		case 'g': s->gate = optarg; break;
		case 'L': a->client_ca = optarg; break;
		default: die("unknown option");
		}
	if (s->ca_cert == NULL || s->ca_key == NULL)
		die("usage: cmp_test_server --ca-cert F --ca-key F [options]");
}

int
main(int argc, char **argv)
{
	struct srv s = { .require = -1 };
	struct args a = { 0 };
	X509 *prot_cert = NULL, *ra_cert = NULL;
	EVP_PKEY *prot_key = NULL;
	char secret[256] = "";
	OSSL_CMP_SRV_CTX *srv;
	OSSL_CMP_CTX *ctx;
	struct sigaction sa = { .sa_handler = on_term };
	SSL_CTX *tls;
	int lfd;
	FILE *fp;

	parse_args(argc, argv, &s, &a);
	tls = tls_server(a.tls_cert, a.tls_key, a.client_ca);
	if (a.secret_file != NULL && ((fp = fopen(a.secret_file, "r")) == NULL ||
	    fgets(secret, sizeof(secret), fp) == NULL || fclose(fp) != 0))
		die(a.secret_file);
	secret[strcspn(secret, "\n")] = '\0';
	if ((srv = OSSL_CMP_SRV_CTX_new(NULL, NULL)) == NULL ||
	    OSSL_CMP_SRV_CTX_init(srv, &s, on_cert_request, on_rr, NULL, on_error, on_certconf,
	    on_poll) != 1)
		die("OSSL_CMP_SRV_CTX_init");
	ctx = OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv);
	prot_cert = a.pc != NULL ? read_cert(a.pc) : NULL;
	prot_key = a.pk != NULL ? read_key(a.pk) : NULL;
	ra_cert = a.ra != NULL ? read_cert(a.ra) : NULL;
	if (OSSL_CMP_CTX_set1_cert(ctx, prot_cert ? prot_cert : s.ca_cert) != 1 ||
	    OSSL_CMP_CTX_set1_pkey(ctx, prot_key ? prot_key : s.ca_key) != 1 ||
	    (a.ref != NULL && OSSL_CMP_CTX_set1_referenceValue(ctx, (const unsigned char *)a.ref,
	    (int)strlen(a.ref)) != 1) ||
	    (secret[0] != '\0' && OSSL_CMP_CTX_set1_secretValue(ctx,
	    (const unsigned char *)secret, (int)strlen(secret)) != 1) ||
	    (ra_cert != NULL && OSSL_CMP_CTX_set1_srvCert(ctx, ra_cert) != 1) ||
	    OSSL_CMP_SRV_CTX_set_send_unprotected_errors(srv, 1) != 1 ||
	    OSSL_CMP_SRV_CTX_set_accept_raverified(srv, 1) != 1 ||
	    OSSL_CMP_SRV_CTX_set_grant_implicit_confirm(srv, 1) != 1)
		die("setting up the server context");
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_loopback(a.port);
	run(srv, lfd, tls);
	lapse_unconfirmed(&s);
	close(lfd);
	SSL_CTX_free(tls);
	OSSL_CMP_MSG_free(s.pending);
	OSSL_CMP_SRV_CTX_free(srv);
	X509_free(prot_cert);
	X509_free(ra_cert);
	EVP_PKEY_free(prot_key);
	X509_free(s.ca_cert);
	EVP_PKEY_free(s.ca_key);
	return 0;
}
