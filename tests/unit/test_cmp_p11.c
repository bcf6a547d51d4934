/* The CMP connector with its keys on a PKCS#11 token (a SoftHSM2 token made
 * here), held by ukey-signer: signature protection by an EC and an RSA RA
 * key that cmp_test_server accepts; a token key that is not the RA
 * certificate's, and an RA the CA does not know, refused; a wrong PIN and a
 * PIN file others may read; a helper killed between two calls, one that
 * SIGKILL does not end at once, and one whose token's PIN changed
 * meanwhile (not tried again); TLS client
 * authentication with the key on the token. */
#include <ctype.h>
#include <errno.h>
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/ca_cmp.h"
#include "common/cmpconf.h"
#include "common/err.h"
#include "pem_fixture.h"

#define SOFTHSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"

struct fixture {
	char dir[64];
	EVP_PKEY *ca_key, *ra_key, *ra_rsa, *rogue_key, *tls_key, *token;
	X509 *ca_cert;
	X509_REQ *csr;
	X509_NAME *subject;
	pid_t server;
	int port;
	struct ca *ca;
	char signer[512];	/* the helper program, when not ukey-signer */
};

static void
path(const struct fixture *f, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", f->dir, name);
}

/* A certificate for key, issued by issuer (self-signed when NULL). */
static X509 *
make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, int san_ip)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *e;

	assert_non_null(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
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
	    issuer ? "critical,CA:FALSE" : "critical,CA:TRUE"));
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	if (san_ip) {
		assert_non_null(e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
		    "IP:127.0.0.1"));
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
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

static void
run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
}

/* Puts key (PKCS#8 PEM written to name) on the token "ra" as label/id. */
static void
import_key(const struct fixture *f, EVP_PKEY *key, const char *label, const char *id)
{
	char p[128];

	write_pem(f, label, NULL, key);
	path(f, label, p, sizeof(p));
	run("softhsm2-util --import '%s' --token ra --label %s --id %s --pin 1234 >/dev/null", p,
	    label, id);
}

/* A SoftHSM2 token "ra" with the RA keys (EC, RSA), a rogue key and a TLS
 * client key; the CA's PKI (CA, RA certificates) as files. */
static void
make_pki(struct fixture *f)
{
	X509 *ra, *ra_rsa, *rogue, *tls, *server;
	EVP_PKEY *server_key;

	assert_non_null(f->ca_key = EVP_EC_gen("P-256"));
	assert_non_null(f->ra_key = EVP_EC_gen("P-256"));
	assert_non_null(f->ra_rsa = EVP_RSA_gen(2048));
	assert_non_null(f->rogue_key = EVP_EC_gen("P-256"));
	assert_non_null(f->tls_key = EVP_EC_gen("P-256"));
	assert_non_null(server_key = EVP_EC_gen("P-256"));
	f->ca_cert = make_cert("Test CMP CA", f->ca_key, NULL, NULL, 0);
	ra = make_cert("Test Station RA", f->ra_key, f->ca_cert, f->ca_key, 0);
	ra_rsa = make_cert("Test Station RA RSA", f->ra_rsa, f->ca_cert, f->ca_key, 0);
	rogue = make_cert("Unknown RA", f->rogue_key, f->ca_cert, f->ca_key, 0);
	tls = make_cert("Test Station TLS", f->tls_key, f->ca_cert, f->ca_key, 0);
	server = make_cert("127.0.0.1", server_key, f->ca_cert, f->ca_key, 1);
	write_pem(f, "ca.crt", f->ca_cert, NULL);
	write_pem(f, "ca.key", NULL, f->ca_key);
	write_pem(f, "ra.crt", ra, NULL);
	write_pem(f, "ra-rsa.crt", ra_rsa, NULL);
	write_pem(f, "rogue.crt", rogue, NULL);
	write_pem(f, "tls-client.crt", tls, NULL);
	write_pem(f, "tls-server.crt", server, NULL);
	write_pem(f, "tls-server.key", NULL, server_key);
	run("softhsm2-util --init-token --free --label ra --pin 1234 --so-pin 5678 >/dev/null");
	import_key(f, f->ra_key, "ra-ec", "01");
	import_key(f, f->ra_rsa, "ra-rsa", "02");
	import_key(f, f->rogue_key, "rogue", "03");
	import_key(f, f->tls_key, "tls", "04");
	write_text(f, "pin", "1234\n", 0600);
	write_text(f, "wrong-pin", "4321\n", 0600);
	write_text(f, "open-pin", "1234\n", 0644);
	write_text(f, "secret", "correct horse battery\n", 0600);
	X509_free(ra);
	X509_free(ra_rsa);
	X509_free(rogue);
	X509_free(tls);
	X509_free(server);
	EVP_PKEY_free(server_key);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char p[128], conf[160];
	X509_NAME *n;

	assert_non_null(f);
	assert_int_equal(access(SOFTHSM_MODULE, R_OK), 0);
	signal(SIGPIPE, SIG_IGN);	/* as ukeyd: a helper that died fails a write */
	snprintf(f->dir, sizeof(f->dir), "/tmp/ukey-cmp-p11-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	path(f, "tokens", p, sizeof(p));
	assert_int_equal(mkdir(p, 0700), 0);
	path(f, "softhsm2.conf", conf, sizeof(conf));
	write_text(f, "softhsm2.conf", "", 0600);
	run("printf 'directories.tokendir = %s\\nobjectstore.backend = file\\nlog.level = ERROR\\n'"
	    " > '%s'", p, conf);
	setenv("SOFTHSM2_CONF", conf, 1);
	make_pki(f);
	assert_non_null(f->token = EVP_EC_gen("P-256"));
	assert_non_null(n = f->subject = X509_NAME_new());
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
	if (f->server > 0) {
		kill(f->server, SIGTERM);
		waitpid(f->server, NULL, 0);
		f->server = 0;
	}
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	server_stop(f);
	ca_free(f->ca);
	EVP_PKEY_free(f->ca_key);
	EVP_PKEY_free(f->ra_key);
	EVP_PKEY_free(f->ra_rsa);
	EVP_PKEY_free(f->rogue_key);
	EVP_PKEY_free(f->tls_key);
	EVP_PKEY_free(f->token);
	X509_free(f->ca_cert);
	X509_REQ_free(f->csr);
	X509_NAME_free(f->subject);
	run("rm -rf '%s'", f->dir);
	free(f);
	return 0;
}

/* Starts cmp_test_server with the CA's files and the options given (NULL-
 * terminated; '@name' is a file of the fixture), and reads its port. */
static void
server_start(struct fixture *f, ...)
{
	const char *build = getenv("UKEY_BUILD_DIR");
	char exe[512], files[16][128], line[64];
	const char *argv[40];
	int pipefd[2], argc = 0, nf = 0;
	const char *a;
	va_list ap;
	FILE *fp;

	snprintf(exe, sizeof(exe), "%s/tests/cmp_test_server", build ? build : UKEY_BUILD_DIR);
	argv[argc++] = exe;
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

static void
set(struct cmp_config *c, const char *key, const char *value)
{
	char rule[160];

	assert_int_equal(cmpconf_set(c, key, value, rule, sizeof(rule)), 0);
}

static void
set_file(const struct fixture *f, struct cmp_config *c, const char *key, const char *name)
{
	char v[160];

	path(f, name, v, sizeof(v));
	set(c, key, v);
}

/* The connector's settings: http (or https) to the server, the ukey-signer
 * of this build, the PIN file pin. */
static void
config(const struct fixture *f, struct cmp_config *c, int https, const char *pin)
{
	const char *build = getenv("UKEY_BUILD_DIR");
	char v[512];

	cmpconf_defaults(c);
	snprintf(v, sizeof(v), "%s://127.0.0.1:%d", https ? "https" : "http", f->port);
	set(c, "server", v);
	set(c, "path", "/pkix/");
	set_file(f, c, "ca_cert", "ca.crt");
	set_file(f, c, "trusted", "ca.crt");
	set(c, "timeout", "10");
	set_file(f, c, "pkcs11_pin_file", pin);
	snprintf(v, sizeof(v), "%s/ukey-worker", build ? build : UKEY_BUILD_DIR);
	cmpconf_signer_beside(c, v);
	if (f->signer[0] != '\0')
		snprintf(c->signer_path, sizeof(c->signer_path), "%s", f->signer);
}

/* Signature protection by ra_cert and the token key named object. */
static int
open_ra(struct fixture *f, const char *ra_cert, const char *object, const char *pin,
    char *err, size_t errlen)
{
	struct cmp_config c;
	char uri[256];

	config(f, &c, 0, pin);
	set_file(f, &c, "ra_cert", ra_cert);
	snprintf(uri, sizeof(uri), "pkcs11:token=ra;object=%s;type=private?module-path=%s",
	    object, SOFTHSM_MODULE);
	set(&c, "ra_key", uri);
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

static void
assert_issued(const struct fixture *f, X509 *cert)
{
	assert_non_null(cert);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), f->token), 1);
	assert_int_equal(X509_verify(cert, f->ca_key), 1);
}

static void
issue_once(struct fixture *f)
{
	struct ca_request r;
	X509 *cert = NULL;

	request(f, &r);
	assert_int_equal(ca_issue(f->ca, &r, &cert), 0);
	assert_issued(f, cert);
	X509_free(cert);
}

/* EC P-256 (ECDSA) and RSA (PKCS#1 v1.5) RA keys on the token; the module
 * from module-path= and from cmp.pkcs11_module. */
static void
issue_signature(void **state)
{
	struct fixture *f = *state;
	struct cmp_config c;
	char err[1024];

	server_start(f, "--ca-cert", "@ca.crt", "--ca-key", "@ca.key", "--ra-cert", "@ra.crt",
	    NULL);
	assert_int_equal(open_ra(f, "ra.crt", "ra-ec", "pin", err, sizeof(err)), 0);
	issue_once(f);
	issue_once(f);
	server_stop(f);

	server_start(f, "--ca-cert", "@ca.crt", "--ca-key", "@ca.key", "--ra-cert",
	    "@ra-rsa.crt", NULL);
	config(f, &c, 0, "pin");
	set_file(f, &c, "ra_cert", "ra-rsa.crt");
	set(&c, "ra_key", "pkcs11:token=ra;id=%02");
	set(&c, "pkcs11_module", SOFTHSM_MODULE);
	ca_free(f->ca);
	f->ca = NULL;
	assert_int_equal(ca_cmp_open(&c, &f->ca, err, sizeof(err)), 0);
	issue_once(f);
}

/* A token key that is not the RA certificate's is refused when the
 * connector opens; an RA the CA does not know is refused by the CA. */
static void
wrong_key(void **state)
{
	struct fixture *f = *state;
	struct ca_request r;
	X509 *cert = NULL;
	char err[1024];

	server_start(f, "--ca-cert", "@ca.crt", "--ca-key", "@ca.key", "--ra-cert", "@ra.crt",
	    NULL);
	assert_int_equal(open_ra(f, "ra.crt", "rogue", "pin", err, sizeof(err)), UKEY_ERR_VERIFY);
	assert_null(f->ca);
	assert_non_null(strstr(err, "cmp.ra_key"));
	assert_non_null(strstr(err, "not the key of the certificate"));
	assert_int_equal(open_ra(f, "ra.crt", "no-such-key", "pin", err, sizeof(err)),
	    UKEY_ERR_NOTFOUND);
	assert_non_null(strstr(err, "no private key"));
	/* a key pair of its own, but not the RA the CA accepts */
	assert_int_equal(open_ra(f, "rogue.crt", "rogue", "pin", err, sizeof(err)), 0);
	request(f, &r);
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_CA);
	assert_null(cert);
	assert_non_null(strstr(ca_last_error(f->ca), "refused"));
}

/* A wrong PIN fails the opening with the token's answer; a PIN file that
 * others may read is refused before it is read; the PIN is never shown. */
static void
pin_rules(void **state)
{
	struct fixture *f = *state;
	char err[1024];

	f->port = 1;
	assert_int_equal(open_ra(f, "ra.crt", "ra-ec", "wrong-pin", err, sizeof(err)),
	    UKEY_ERR_PIN);
	assert_non_null(strstr(err, "cmp.ra_key"));
	assert_non_null(strstr(err, "CKR_PIN_INCORRECT"));
	assert_null(strstr(err, "4321"));
	assert_int_equal(open_ra(f, "ra.crt", "ra-ec", "open-pin", err, sizeof(err)),
	    UKEY_ERR_PERM);
	assert_non_null(strstr(err, "cmp.pkcs11_pin_file"));
	assert_non_null(strstr(err, "mode 0644"));
	assert_int_equal(open_ra(f, "ra.crt", "ra-ec", "no-pin", err, sizeof(err)), UKEY_ERR_IO);
}

/* The pid of this process's ukey-signer child, or 0. */
static pid_t
signer_pid(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	char p[300], comm[64], state;
	int pid, ppid;
	pid_t found = 0;
	FILE *fp;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL && found == 0) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(p, sizeof(p), "/proc/%s/stat", e->d_name);
		if ((fp = fopen(p, "r")) == NULL)
			continue;
		if (fscanf(fp, "%d (%63[^)]) %c %d", &pid, comm, &state, &ppid) == 4 &&
		    ppid == getpid() && strcmp(comm, "ukey-signer") == 0 && state != 'Z')
			found = pid;
		fclose(fp);
	}
	closedir(d);
	return found;
}

/* A helper killed between two calls fails the next call (UKEY_ERR_UNAVAIL,
 * naming it) and is reaped; the call after that starts it again and
 * succeeds. */
static void
helper_killed(void **state)
{
	struct fixture *f = *state;
	struct ca_request r;
	X509 *cert = NULL;
	char err[1024];
	pid_t pid, again;

	server_start(f, "--ca-cert", "@ca.crt", "--ca-key", "@ca.key", "--ra-cert", "@ra.crt",
	    NULL);
	assert_int_equal(open_ra(f, "ra.crt", "ra-ec", "pin", err, sizeof(err)), 0);
	issue_once(f);
	assert_true((pid = signer_pid()) > 0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	request(f, &r);
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_UNAVAIL);
	assert_null(cert);
	assert_non_null(strstr(ca_last_error(f->ca), "ukey-signer"));
	assert_non_null(strstr(ca_last_error(f->ca), "died"));
	assert_non_null(strstr(ca_last_error(f->ca), "cmp.ra_key"));
	issue_once(f);
	assert_true((again = signer_pid()) > 0);
	assert_true(again != pid);
	/* the helper that was killed was reaped when it was stopped, not left
	 * a zombie: its pid names no process any more */
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

static double
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* The state letter of /proc/pid/stat, or 0 when pid names no process. */
static char
proc_state(pid_t pid)
{
	char p[64], comm[64], state = 0;
	FILE *fp;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	if ((fp = fopen(p, "r")) == NULL)
		return 0;
	if (fscanf(fp, "%*d (%63[^)]) %c", comm, &state) != 2)
		state = 0;
	fclose(fp);
	return state;
}

/* A helper that SIGKILL does not end at once (one held in the kernel by a
 * call into its token's module): stopping it waits 100 ms, not until it
 * ends, and a later stop reaps it. signer_held holds the real helper at
 * its exit for 1.5 s by ptrace; where the kernel refuses the trace, the
 * test is skipped. */
static void
helper_held(void **state)
{
	struct fixture *f = *state;
	const char *build = getenv("UKEY_BUILD_DIR");
	char err[1024], real[512], st[160] = "", status_path[128];
	double t0, stop_ms;
	FILE *fp;
	pid_t pid;
	int i;

	snprintf(real, sizeof(real), "%s/ukey-signer", build ? build : UKEY_BUILD_DIR);
	snprintf(f->signer, sizeof(f->signer), "%s/tests/signer_held",
	    build ? build : UKEY_BUILD_DIR);
	path(f, "held-status", status_path, sizeof(status_path));
	setenv("UKEY_SIGNER", real, 1);
	setenv("UKEY_TEST_HOLD_MS", "1500", 1);
	setenv("UKEY_TEST_HELD_STATUS", status_path, 1);
	server_start(f, "--ca-cert", "@ca.crt", "--ca-key", "@ca.key", "--ra-cert", "@ra.crt",
	    NULL);
	assert_int_equal(open_ra(f, "ra.crt", "ra-ec", "pin", err, sizeof(err)), 0);
	issue_once(f);
	assert_true((pid = signer_pid()) > 0);
	assert_non_null(fp = fopen(status_path, "r"));
	assert_non_null(fgets(st, sizeof(st), fp));
	fclose(fp);
	if (strcmp(st, "held\n") != 0) {
		print_message("signer_held: %s", st);
		skip();
	}

	/* the CA's stop (ukeyd's, or a configuration reloaded) goes on after
	 * 100 ms; the helper is still there, held */
	t0 = now_ms();
	ca_free(f->ca);
	f->ca = NULL;
	stop_ms = now_ms() - t0;
	print_message("stop with the helper held: %.1f ms\n", stop_ms);
	if (stop_ms < 90.0 && proc_state(pid) == 0) {
		/* a kernel that ends a SIGKILLed tracee without its exit stop */
		print_message("signer_held: the helper was not held at its exit\n");
		skip();
	}
	assert_true(stop_ms >= 90.0);
	assert_true(stop_ms < 1000.0);
	assert_int_not_equal(proc_state(pid), 0);
	assert_int_not_equal(proc_state(pid), 'Z');

	/* let go, it ends; nothing has reaped it yet */
	for (i = 0; i < 1000 && proc_state(pid) != 'Z'; i++)
		usleep(10000);
	assert_int_equal(proc_state(pid), 'Z');

	/* the next helper's stop reaps it */
	f->signer[0] = '\0';
	assert_int_equal(open_ra(f, "ra.crt", "ra-ec", "pin", err, sizeof(err)), 0);
	issue_once(f);
	ca_free(f->ca);
	f->ca = NULL;
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

/* The token's PIN changed under a running connector: the restarted helper
 * is refused once (the token's answer named) and then not tried again, so
 * that the station does not use up the token's PIN retries. */
static void
pin_changed(void **state)
{
	struct fixture *f = *state;
	struct ca_request r;
	X509 *cert = NULL;
	char err[1024];
	pid_t pid;

	server_start(f, "--ca-cert", "@ca.crt", "--ca-key", "@ca.key", "--ra-cert", "@ra.crt",
	    NULL);
	assert_int_equal(open_ra(f, "ra.crt", "ra-ec", "pin", err, sizeof(err)), 0);
	issue_once(f);
	run("pkcs11-tool --module %s --token-label ra --login --pin 1234 --change-pin "
	    "--new-pin 5555 >/dev/null 2>&1", SOFTHSM_MODULE);
	assert_true((pid = signer_pid()) > 0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	request(f, &r);
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_UNAVAIL);
	assert_non_null(strstr(ca_last_error(f->ca), "died"));
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_UNAVAIL);
	assert_non_null(strstr(ca_last_error(f->ca), "CKR_PIN_INCORRECT"));
	assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_UNAVAIL);
	assert_non_null(strstr(ca_last_error(f->ca), "not tried again"));
	assert_null(cert);
	assert_int_equal(signer_pid(), 0);
}

/* https with a client certificate whose key is on the token, EC (ECDSA)
 * and RSA (RSA-PSS in TLS 1.3: a raw RSA operation on the token); the
 * server refuses a client without one. */
static void
tls_client_key(void **state)
{
	struct fixture *f = *state;
	struct cmp_config c;
	struct ca_request r;
	X509 *cert = NULL;
	char err[1024], uri[256];
	int i;

	server_start(f, "--ca-cert", "@ca.crt", "--ca-key", "@ca.key", "--secret-ref", "station-1",
	    "--secret-file", "@secret", "--tls-cert", "@tls-server.crt", "--tls-key",
	    "@tls-server.key", "--tls-client-ca", "@ca.crt", NULL);
	for (i = 0; i < 3; i++) {
		config(f, &c, 1, "pin");
		set_file(f, &c, "tls_trusted", "ca.crt");
		set(&c, "secret_ref", "station-1");
		set_file(f, &c, "secret_file", "secret");
		if (i < 2) {
			set_file(f, &c, "tls_cert", i == 0 ? "tls-client.crt" : "ra-rsa.crt");
			snprintf(uri, sizeof(uri), "pkcs11:token=ra;object=%s?module-path=%s",
			    i == 0 ? "tls" : "ra-rsa", SOFTHSM_MODULE);
			set(&c, "tls_key", uri);
		}
		ca_free(f->ca);
		f->ca = NULL;
		assert_int_equal(ca_cmp_open(&c, &f->ca, err, sizeof(err)), 0);
		if (i < 2) {
			issue_once(f);
			continue;
		}
		request(f, &r);
		assert_int_equal(ca_issue(f->ca, &r, &cert), UKEY_ERR_UNAVAIL);
		assert_null(cert);
	}
}

/* The settings: a pkcs11: URI where a file may be, and its PIN file. */
static void
config_rules(void **state)
{
	struct cmp_config c;
	char rule[256];

	(void)state;
	cmpconf_defaults(&c);
	set(&c, "server", "http://ca.example");
	set(&c, "ca_cert", "/etc/ca.pem");
	set(&c, "trusted", "/etc/ca.pem");
	set(&c, "ra_cert", "/etc/ra.pem");
	set(&c, "ra_key", "pkcs11:token=hsm;object=ra");
	assert_int_equal(cmpconf_check(&c, rule, sizeof(rule)), -1);
	assert_non_null(strstr(rule, "cmp.pkcs11_pin_file"));
	set(&c, "pkcs11_pin_file", "/etc/ukey/hsm.pin");
	assert_int_equal(cmpconf_check(&c, rule, sizeof(rule)), 0);
	assert_int_equal(cmpconf_set(&c, "ra_key", "pkcs12:x", rule, sizeof(rule)), -1);
	assert_non_null(strstr(rule, "pkcs11: URI"));
	assert_int_equal(cmpconf_set(&c, "ra_cert", "pkcs11:token=x", rule, sizeof(rule)), -1);
	assert_int_equal(cmpconf_set(&c, "pkcs11_pin_file", "pin", rule, sizeof(rule)), -1);
	cmpconf_signer_beside(&c, "/usr/libexec/ukey-station/ukey-worker");
	assert_string_equal(c.signer_path, "/usr/libexec/ukey-station/ukey-signer");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_rules),
		cmocka_unit_test_setup_teardown(issue_signature, setup, teardown),
		cmocka_unit_test_setup_teardown(wrong_key, setup, teardown),
		cmocka_unit_test_setup_teardown(pin_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(helper_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(helper_held, setup, teardown),
		cmocka_unit_test_setup_teardown(pin_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(tls_client_key, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
