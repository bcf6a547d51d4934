/* The CMP connector against tests/tools/cmp_test_server on loopback: issuance
 * with PBM and with signature protection, CR and KUR, refused answers (wrong
 * secret, unexpected signer, wrong key or subject), polling in one call and
 * resumed from a persisted transaction, revocation, a CA that is down, a
 * secret file others may read, and https. Keys and CSRs are made here, in
 * software. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/certcheck.h"
#include "common/cmpconf.h"
#include "common/err.h"
#include "pem_fixture.h"

struct fixture {
	char dir[64];
	EVP_PKEY *ca_key, *ra_key, *rogue_key, *token;
	X509 *ca_cert, *ra_cert, *rogue_cert;
	X509_REQ *csr;
	X509_NAME *subject;
	pid_t server;
	int port;
	struct ca *ca;
};

static void
path(const struct fixture *f, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", f->dir, name);
}

static X509 *
make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *e;

	assert_non_null(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(random() & 0xffffff) + 1);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_set_pubkey(x, key);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	assert_non_null(e = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	    "critical,CA:TRUE"));
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	assert_non_null(e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_key_identifier, "hash"));
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

static void
write_pem(const struct fixture *f, const char *name, X509 *cert, EVP_PKEY *key)
{
	pem_fixture_write(f->dir, name, cert, key);
}

static void
write_text(const struct fixture *f, const char *name, const char *text, mode_t mode)
{
	pem_fixture_text(f->dir, name, text, mode);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	X509_NAME *n;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/ukey-cmp-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_non_null(f->ca_key = EVP_EC_gen("P-256"));
	assert_non_null(f->ra_key = EVP_EC_gen("P-256"));
	assert_non_null(f->rogue_key = EVP_EC_gen("P-256"));
	assert_non_null(f->token = EVP_EC_gen("P-256"));
	f->ca_cert = make_cert("Test CMP CA", f->ca_key, NULL, NULL);
	f->ra_cert = make_cert("Test Station RA", f->ra_key, NULL, NULL);
	/* signs answers as if it were the CA: same name, another key */
	f->rogue_cert = make_cert("Test CMP CA", f->rogue_key, NULL, NULL);
	write_pem(f, "ca.crt", f->ca_cert, NULL);
	write_pem(f, "ca.key", NULL, f->ca_key);
	write_pem(f, "ra.crt", f->ra_cert, NULL);
	write_pem(f, "ra.key", NULL, f->ra_key);
	write_pem(f, "rogue.crt", f->rogue_cert, NULL);
	write_pem(f, "rogue.key", NULL, f->rogue_key);
	write_text(f, "secret", "correct horse battery\n", 0600);
	write_text(f, "wrong-secret", "incorrect donkey\n", 0600);
	write_text(f, "open-secret", "correct horse battery\n", 0644);
	assert_non_null(n = f->subject = X509_NAME_new());
	X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"CN", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"张三", -1, -1, 0);
	assert_non_null(f->csr = X509_REQ_new());
	X509_REQ_set_subject_name(f->csr, n);
	X509_REQ_set_pubkey(f->csr, f->token);
	assert_true(X509_REQ_sign(f->csr, f->token, EVP_sha256()) > 0);
	*state = f;
	return 0;
}

static void
server_stop(struct fixture *f)
{
	int st;

	if (f->server > 0) {
		kill(f->server, SIGTERM);
		waitpid(f->server, &st, 0);
		f->server = 0;
	}
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	server_stop(f);
	ca_free(f->ca);
	EVP_PKEY_free(f->ca_key);
	EVP_PKEY_free(f->ra_key);
	EVP_PKEY_free(f->rogue_key);
	EVP_PKEY_free(f->token);
	X509_free(f->ca_cert);
	X509_free(f->ra_cert);
	X509_free(f->rogue_cert);
	X509_REQ_free(f->csr);
	X509_NAME_free(f->subject);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Starts cmp_test_server with the CA's files and the options given (a NULL-
 * terminated list, relative file names under the fixture's directory
 * prefixed with '@'), and reads the port it prints. */
static void
server_start(struct fixture *f, ...)
{
	const char *build = getenv("UKEY_BUILD_DIR");
	char exe[512], cacert[128], cakey[128], files[16][128], line[64];
	const char *argv[40];
	int pipefd[2], argc = 0, nf = 0;
	const char *a;
	va_list ap;
	FILE *fp;

	snprintf(exe, sizeof(exe), "%s/tests/cmp_test_server", build ? build : UKEY_BUILD_DIR);
	path(f, "ca.crt", cacert, sizeof(cacert));
	path(f, "ca.key", cakey, sizeof(cakey));
	argv[argc++] = exe;
	argv[argc++] = "--ca-cert";
	argv[argc++] = cacert;
	argv[argc++] = "--ca-key";
	argv[argc++] = cakey;
	va_start(ap, f);
	while ((a = va_arg(ap, const char *)) != NULL && argc < 38) {
		if (a[0] == '@') {
			path(f, a + 1, files[nf], sizeof(files[nf]));
			a = files[nf++];
		}
		argv[argc++] = a;
	}
	va_end(ap);
	argv[argc] = NULL;
	assert_int_equal(pipe(pipefd), 0);
	assert_true((f->server = fork()) >= 0);
	if (f->server == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	assert_non_null(fp = fdopen(pipefd[0], "r"));
	assert_non_null(fgets(line, sizeof(line), fp));
	assert_int_equal(sscanf(line, "port %d", &f->port), 1);
	fclose(fp);
}

/* Opens the connector at the server with PBM (secret file name) or, when
 * secret is NULL, signature protection. Returns ca_cmp_open()'s code. */
static int
open_ca(struct fixture *f, const char *secret, const char *extra_key, const char *extra_value,
    char *err, size_t errlen)
{
	struct cmp_config c;
	char v[256], rule[160];

	cmpconf_defaults(&c);
	snprintf(v, sizeof(v), "http://127.0.0.1:%d", f->port);
	assert_int_equal(cmpconf_set(&c, "server", v, rule, sizeof(rule)), 0);
	assert_int_equal(cmpconf_set(&c, "path", "/pkix/", rule, sizeof(rule)), 0);
	path(f, "ca.crt", v, sizeof(v));
	assert_int_equal(cmpconf_set(&c, "ca_cert", v, rule, sizeof(rule)), 0);
	assert_int_equal(cmpconf_set(&c, "trusted", v, rule, sizeof(rule)), 0);
	assert_int_equal(cmpconf_set(&c, "timeout", "10", rule, sizeof(rule)), 0);
	if (secret != NULL) {
		assert_int_equal(cmpconf_set(&c, "secret_ref", "station-1", rule, sizeof(rule)), 0);
		path(f, secret, v, sizeof(v));
		assert_int_equal(cmpconf_set(&c, "secret_file", v, rule, sizeof(rule)), 0);
	} else {
		path(f, "ra.crt", v, sizeof(v));
		assert_int_equal(cmpconf_set(&c, "ra_cert", v, rule, sizeof(rule)), 0);
		path(f, "ra.key", v, sizeof(v));
		assert_int_equal(cmpconf_set(&c, "ra_key", v, rule, sizeof(rule)), 0);
	}
	if (extra_key != NULL)
		assert_int_equal(cmpconf_set(&c, extra_key, extra_value, rule, sizeof(rule)), 0);
	ca_free(f->ca);
	f->ca = NULL;
	return ca_cmp_open(&c, &f->ca, err, errlen);
}

static void
request(const struct fixture *f, struct ca_request *r)
{
	memset(r, 0, sizeof(*r));
	r->csr = f->csr;
	r->subject = f->subject;
	r->years = 1;
	r->request_key = "rk-1";
}

/* A certificate for the token's key and subject, chaining to the CA. */
static void
assert_issued(const struct fixture *f, X509 *cert)
{
	assert_non_null(cert);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), f->token), 1);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(cert), f->subject), 0);
	assert_int_equal(X509_verify(cert, f->ca_key), 1);
}

static void
issue_pbm(void **state)
{
	struct fixture *f = *state;
	struct ca_request r;
	X509 *cert = NULL;
	char err[512];

	server_start(f, "--secret-ref", "station-1", "--secret-file", "@secret", NULL);
	assert_int_equal(open_ca(f, "secret", NULL, NULL, err, sizeof(err)), 0);
	assert_string_equal(ca_kind(f->ca), "cmp");
	assert_int_equal(X509_cmp(ca_cert(f->ca), f->ca_cert), 0);
	request(f, &r);
	assert_int_equal(ca_issue(f->ca, &r, &cert), 0);
	assert_issued(f, cert);
	X509_free(cert);
	/* implicit confirm asked for and granted: the same */
	assert_int_equal(open_ca(f, "secret", "implicit_confirm", "yes", err, sizeof(err)), 0);
	assert_int_equal(ca_issue(f->ca, &r, &cert), 0);
	assert_issued(f, cert);
	X509_free(cert);
}

static void
issue_signature(void **state)
{
	struct fixture *f = *state;
	struct ca_request r;
	X509 *cert = NULL;
	char err[512];

	server_start(f, "--ra-cert", "@ra.crt", "--require", "p10cr", NULL);
	assert_int_equal(open_ca(f, NULL, NULL, NULL, err, sizeof(err)), 0);
	request(f, &r);
	assert_int_equal(ca_issue(f->ca, &r, &cert), 0);
	assert_issued(f, cert);
	X509_free(cert);
	/* a CRMF request (CR) with the profile's subject, RA-verified */
	server_stop(f);
	server_start(f, "--ra-cert", "@ra.crt", "--require", "cr", NULL);
	assert_int_equal(open_ca(f, NULL, "request", "cr", err, sizeof(err)), 0);
	assert_int_equal(ca_issue(f->ca, &r, &cert), 0);
	assert_issued(f, cert);
	/* renewal: KUR naming the certificate it replaces */
	r.old_cert = cert;
	server_stop(f);
	server_start(f, "--ra-cert", "@ra.crt", "--require", "kur", NULL);
	assert_int_equal(open_ca(f, NULL, NULL, NULL, err, sizeof(err)), 0);
	{
		struct ca_request fresh = r;
		X509 *none = NULL;

		fresh.old_cert = NULL;	/* a new certificate is no KUR: this CA refuses */
		assert_int_equal(ca_issue(f->ca, &fresh, &none), UKEY_ERR_CA);
		assert_null(none);
	}
	{
		X509 *renewed = NULL;

		assert_int_equal(ca_issue(f->ca, &r, &renewed), 0);
		assert_issued(f, renewed);
		assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(renewed),
		    X509_get0_serialNumber(cert)), 0);
		X509_free(renewed);
	}
	/* renewal = p10cr: the same renewal as a P10CR */
	server_stop(f);
	server_start(f, "--ra-cert", "@ra.crt", "--require", "p10cr", NULL);
	assert_int_equal(open_ca(f, NULL, "renewal", "p10cr", err, sizeof(err)), 0);
	{
		X509 *renewed = NULL;

		assert_int_equal(ca_issue(f->ca, &r, &renewed), 0);
		assert_issued(f, renewed);
		X509_free(renewed);
	}
	X509_free(cert);
}

static void
wrong_secret(void **state)
{
	struct fixture *f = *state;
	struct ca_request r;
	X509 *cert = NULL;
	char err[512];

	server_start(f, "--secret-ref", "station-1", "--secret-file", "@secret", NULL);
	assert_int_equal(open_ca(f, "wrong-secret", NULL, NULL, err, sizeof(err)), 0);
	request(f, &r);
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_CA);
	assert_null(cert);
	/* the CA's own words: its PKIStatus and failInfo */
	assert_non_null(strstr(ca_last_error(f->ca), "the CA refused"));
	assert_non_null(strstr(ca_last_error(f->ca), "rejection"));
	assert_non_null(strstr(ca_last_error(f->ca), "badRequest"));
}

static void
unexpected_signer(void **state)
{
	struct fixture *f = *state;
	struct ca_request r;
	X509 *cert = NULL;
	char err[512];

	server_start(f, "--ra-cert", "@ra.crt", "--prot-cert", "@rogue.crt", "--prot-key",
	    "@rogue.key", NULL);
	assert_int_equal(open_ca(f, NULL, NULL, NULL, err, sizeof(err)), 0);
	request(f, &r);
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_VERIFY);
	assert_null(cert);
	assert_non_null(strstr(ca_last_error(f->ca), "not protected by the key of cmp.ca_cert"));
}

static void
wrong_answers(void **state)
{
	struct fixture *f = *state;
	struct ca_request r;
	X509 *cert = NULL;
	char err[512];

	server_start(f, "--ra-cert", "@ra.crt", "--misissue", "key", NULL);
	assert_int_equal(open_ca(f, NULL, NULL, NULL, err, sizeof(err)), 0);
	request(f, &r);
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_VERIFY);
	assert_null(cert);
	assert_non_null(strstr(ca_last_error(f->ca), "public key is not the CSR's"));
	server_stop(f);
	server_start(f, "--ra-cert", "@ra.crt", "--misissue", "subject", NULL);
	assert_int_equal(open_ca(f, NULL, NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_VERIFY);
	assert_null(cert);
	assert_non_null(strstr(ca_last_error(f->ca), "subject"));
	server_stop(f);
	/* an answer that does not chain to cmp.trusted: the CA signs with the
	 * rogue key (and protects with it; ca_cert pins the rogue certificate) */
	server_start(f, "--ra-cert", "@ra.crt", NULL);
	{
		struct cmp_config c;
		char v[256], rule[160];

		cmpconf_defaults(&c);
		snprintf(v, sizeof(v), "http://127.0.0.1:%d", f->port);
		cmpconf_set(&c, "server", v, rule, sizeof(rule));
		path(f, "ca.crt", v, sizeof(v));
		cmpconf_set(&c, "ca_cert", v, rule, sizeof(rule));
		path(f, "rogue.crt", v, sizeof(v));
		cmpconf_set(&c, "trusted", v, rule, sizeof(rule));
		path(f, "ra.crt", v, sizeof(v));
		cmpconf_set(&c, "ra_cert", v, rule, sizeof(rule));
		path(f, "ra.key", v, sizeof(v));
		cmpconf_set(&c, "ra_key", v, rule, sizeof(rule));
		ca_free(f->ca);
		f->ca = NULL;
		assert_int_equal(ca_cmp_open(&c, &f->ca, err, sizeof(err)), 0);
	}
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_VERIFY);
	assert_null(cert);
	assert_non_null(strstr(ca_last_error(f->ca), "does not chain to cmp.trusted"));
}

static void
polling(void **state)
{
	struct fixture *f = *state;
	struct ca_request r;
	X509 *cert = NULL;
	char err[512];

	server_start(f, "--secret-ref", "station-1", "--secret-file", "@secret", "--waiting", "2",
	    NULL);
	assert_int_equal(open_ca(f, "secret", NULL, NULL, err, sizeof(err)), 0);
	request(f, &r);
	/* ca_issue() polls by itself while the CA holds the request */
	assert_int_equal(ca_issue(f->ca, &r, &cert), 0);
	assert_issued(f, cert);
	X509_free(cert);
}

static void
polling_resumed(void **state)
{
	struct fixture *f = *state;
	struct ca_request r;
	struct ca_txn txn = { .tid_len = 0 }, saved;
	X509 *cert = NULL;
	char err[512];

	server_start(f, "--ra-cert", "@ra.crt", "--waiting", "2", NULL);
	assert_int_equal(open_ca(f, NULL, NULL, NULL, err, sizeof(err)), 0);
	request(f, &r);
	assert_int_equal(ca_issue_start(f->ca, &r, &txn, &cert), UKEY_ERR_BUSY);
	assert_null(cert);
	assert_true(txn.tid_len > 0 && txn.nonce_len > 0 && txn.check_after >= 1);
	assert_non_null(strstr(ca_last_error(f->ca), "waiting"));
	/* what a job persists; then the daemon restarts: a new connector */
	memcpy(&saved, &txn, sizeof(saved));
	assert_int_equal(open_ca(f, NULL, NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(ca_issue_poll(f->ca, &r, &saved, &cert), UKEY_ERR_BUSY);
	assert_null(cert);
	assert_memory_equal(saved.tid, txn.tid, txn.tid_len);
	assert_int_equal(open_ca(f, NULL, NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(ca_issue_poll(f->ca, &r, &saved, &cert), 0);
	assert_issued(f, cert);
	X509_free(cert);
	/* nothing to resume */
	memset(&saved, 0, sizeof(saved));
	assert_int_equal(ca_issue_poll(f->ca, &r, &saved, &cert), UKEY_ERR_INVAL);
}

static void
revocation(void **state)
{
	struct fixture *f = *state;
	struct ca_request r;
	X509 *cert = NULL;
	char err[512], hex[80], p[128], line[128] = "";
	FILE *fp;

	server_start(f, "--secret-ref", "station-1", "--secret-file", "@secret", "--revoked",
	    "@revoked", NULL);
	assert_int_equal(open_ca(f, "secret", NULL, NULL, err, sizeof(err)), 0);
	request(f, &r);
	assert_int_equal(ca_issue(f->ca, &r, &cert), 0);
	assert_int_equal(cert_serial_hex(cert, hex, sizeof(hex)), 0);
	assert_int_equal(ca_revoke(f->ca, hex, "bogusReason"), UKEY_ERR_INVAL);
	assert_int_equal(ca_revoke(f->ca, "not-hex", NULL), UKEY_ERR_INVAL);
	assert_int_equal(ca_revoke(f->ca, hex, "keyCompromise"), 0);
	path(f, "revoked", p, sizeof(p));
	assert_non_null(fp = fopen(p, "r"));
	assert_non_null(fgets(line, sizeof(line), fp));
	fclose(fp);
	line[strcspn(line, "\n")] = '\0';
	assert_string_equal(line, hex);
	/* the CA says certRevoked: the embedded CA's code for it */
	assert_int_equal(ca_revoke(f->ca, hex, NULL), UKEY_ERR_STATE);
	assert_non_null(strstr(ca_last_error(f->ca), "certRevoked"));
	X509_free(cert);
	assert_int_equal(ca_list_issued(f->ca, &(struct json_object *){ NULL }),
	    UKEY_ERR_UNSUPPORTED);
	assert_int_equal(ca_request_status(f->ca, "any", (char[16]){ 0 }, 16),
	    UKEY_ERR_UNSUPPORTED);
}

static void
ca_down(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	struct ca_request r;
	X509 *cert = NULL;
	char err[512];
	time_t t0;
	int fd;

	/* a port that was free a moment ago: nothing listens there */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	f->port = ntohs(a.sin_port);
	assert_int_equal(open_ca(f, "secret", NULL, NULL, err, sizeof(err)), 0);
	request(f, &r);
	t0 = time(NULL);
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_UNAVAIL);
	assert_true(time(NULL) - t0 < 5);
	assert_null(cert);
	assert_non_null(strstr(ca_last_error(f->ca), "unreachable"));
	assert_int_equal(ca_revoke(f->ca, "0123", NULL), UKEY_ERR_UNAVAIL);
}

static void
secret_file_rules(void **state)
{
	struct fixture *f = *state;
	char err[512];

	f->port = 1;
	assert_int_equal(open_ca(f, "open-secret", NULL, NULL, err, sizeof(err)), UKEY_ERR_PERM);
	assert_null(f->ca);
	assert_non_null(strstr(err, "cmp.secret_file"));
	assert_non_null(strstr(err, "mode 0644"));
	assert_int_equal(open_ca(f, "no-such-file", NULL, NULL, err, sizeof(err)), UKEY_ERR_IO);
	assert_non_null(strstr(err, "no-such-file"));
}

static void
config_rules(void **state)
{
	struct cmp_config c;
	char rule[256];

	(void)state;
	cmpconf_defaults(&c);
	assert_int_equal(cmpconf_check(&c, rule, sizeof(rule)), -1);
	assert_non_null(strstr(rule, "cmp.server"));
	assert_int_equal(cmpconf_set(&c, "server", "ftp://x", rule, sizeof(rule)), 0);
	assert_int_equal(cmpconf_check(&c, rule, sizeof(rule)), -1);
	assert_int_equal(cmpconf_set(&c, "server", "http://ca.example:8080", rule,
	    sizeof(rule)), 0);
	assert_int_equal(cmpconf_set(&c, "ca_cert", "/etc/ca.pem", rule, sizeof(rule)), 0);
	assert_int_equal(cmpconf_set(&c, "trusted", "/etc/ca.pem", rule, sizeof(rule)), 0);
	assert_int_equal(cmpconf_check(&c, rule, sizeof(rule)), -1);
	assert_non_null(strstr(rule, "neither"));
	assert_int_equal(cmpconf_set(&c, "secret_ref", "ref", rule, sizeof(rule)), 0);
	assert_int_equal(cmpconf_check(&c, rule, sizeof(rule)), -1);
	assert_non_null(strstr(rule, "cmp.secret_file"));
	assert_int_equal(cmpconf_set(&c, "secret_file", "/etc/s", rule, sizeof(rule)), 0);
	assert_int_equal(cmpconf_check(&c, rule, sizeof(rule)), 0);
	assert_int_equal(cmpconf_set(&c, "ra_cert", "/etc/ra.pem", rule, sizeof(rule)), 0);
	assert_int_equal(cmpconf_check(&c, rule, sizeof(rule)), -1);
	assert_non_null(strstr(rule, "both"));
	assert_int_equal(cmpconf_set(&c, "request", "ir", rule, sizeof(rule)), -1);
	assert_string_equal(rule, "must be p10cr or cr");
	assert_int_equal(cmpconf_set(&c, "timeout", "0", rule, sizeof(rule)), -1);
	assert_int_equal(cmpconf_set(&c, "ca_cert", "relative.pem", rule, sizeof(rule)), -1);
	assert_int_equal(cmpconf_set(&c, "path", "pkix", rule, sizeof(rule)), -1);
}

/* A TLS server certificate for 127.0.0.1, issued by root. */
static X509 *
make_tls_leaf(EVP_PKEY *key, X509 *root, EVP_PKEY *root_key)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *e;
	static const struct {
		int nid;
		const char *value;
	} exts[] = {
		{ NID_basic_constraints, "critical,CA:FALSE" },
		{ NID_subject_alt_name, "IP:127.0.0.1" },
		{ NID_ext_key_usage, "serverAuth" },
	};
	size_t i;

	assert_non_null(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1,
	    -1, 0);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 77);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, X509_get_subject_name(root));
	X509_set_pubkey(x, key);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, root, x, NULL, NULL, 0);
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		assert_non_null(e = X509V3_EXT_conf_nid(NULL, &v3, exts[i].nid, exts[i].value));
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	assert_true(X509_sign(x, root_key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

/* https on loopback: the server's TLS certificate must chain to
 * cmp.tls_trusted and name 127.0.0.1; otherwise the CA is unreachable. */
static void
issue_tls(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *root_key = EVP_EC_gen("P-256"), *leaf_key = EVP_EC_gen("P-256");
	X509 *root, *leaf, *cert = NULL;
	struct cmp_config c;
	struct ca_request r;
	char v[256], rule[160], err[512];
	int i;

	assert_non_null(root_key);
	assert_non_null(leaf_key);
	root = make_cert("Test TLS Root", root_key, NULL, NULL);
	leaf = make_tls_leaf(leaf_key, root, root_key);
	write_pem(f, "tls-root.crt", root, NULL);
	write_pem(f, "tls.crt", leaf, NULL);
	write_pem(f, "tls.key", NULL, leaf_key);
	server_start(f, "--secret-ref", "station-1", "--secret-file", "@secret", "--tls-cert",
	    "@tls.crt", "--tls-key", "@tls.key", NULL);
	request(f, &r);
	for (i = 0; i < 2; i++) {
		cmpconf_defaults(&c);
		snprintf(v, sizeof(v), "https://127.0.0.1:%d", f->port);
		assert_int_equal(cmpconf_set(&c, "server", v, rule, sizeof(rule)), 0);
		/* the second time, trust anchors that did not issue the TLS certificate */
		path(f, i == 0 ? "tls-root.crt" : "ca.crt", v, sizeof(v));
		assert_int_equal(cmpconf_set(&c, "tls_trusted", v, rule, sizeof(rule)), 0);
		path(f, "ca.crt", v, sizeof(v));
		assert_int_equal(cmpconf_set(&c, "ca_cert", v, rule, sizeof(rule)), 0);
		assert_int_equal(cmpconf_set(&c, "trusted", v, rule, sizeof(rule)), 0);
		assert_int_equal(cmpconf_set(&c, "secret_ref", "station-1", rule, sizeof(rule)), 0);
		path(f, "secret", v, sizeof(v));
		assert_int_equal(cmpconf_set(&c, "secret_file", v, rule, sizeof(rule)), 0);
		assert_int_equal(cmpconf_set(&c, "timeout", "5", rule, sizeof(rule)), 0);
		ca_free(f->ca);
		f->ca = NULL;
		assert_int_equal(ca_cmp_open(&c, &f->ca, err, sizeof(err)), 0);
		if (i == 0) {
			assert_int_equal(ca_issue(f->ca, &r, &cert), 0);
			assert_issued(f, cert);
			X509_free(cert);
			cert = NULL;
		} else {
			assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_UNAVAIL);
			assert_null(cert);
			assert_non_null(strstr(ca_last_error(f->ca), "unreachable"));
		}
	}
	X509_free(root);
	X509_free(leaf);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(leaf_key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_rules),
		cmocka_unit_test_setup_teardown(issue_pbm, setup, teardown),
		cmocka_unit_test_setup_teardown(issue_signature, setup, teardown),
		cmocka_unit_test_setup_teardown(wrong_secret, setup, teardown),
		cmocka_unit_test_setup_teardown(unexpected_signer, setup, teardown),
		cmocka_unit_test_setup_teardown(wrong_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(polling, setup, teardown),
		cmocka_unit_test_setup_teardown(polling_resumed, setup, teardown),
		cmocka_unit_test_setup_teardown(revocation, setup, teardown),
		cmocka_unit_test_setup_teardown(ca_down, setup, teardown),
		cmocka_unit_test_setup_teardown(secret_file_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(issue_tls, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
