/* ukey-worker driven over its socket against throwaway SoftHSM2 tokens: the
 * whole token life (probe, init, keygen, CSR, write-back, read-back, inspect)
 * for RSA and EC, and the refusals (wrong PIN, bad requests, oversize frames,
 * a certificate for another key, a module that does not load). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/err.h"
#include "common/frame.h"
#include "common/secret.h"

#define SOFTHSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define USER_PIN "246810"
#define SO_PIN "13579135"

struct worker {
	pid_t pid;
	int fd;
	char dir[128];
	char conf[160];
};

/* ---- throwaway token directory and the worker process ---- */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
hsm_setup(struct worker *w)
{
	char tokdir[192];
	FILE *f;

	/* the virtual token is what these tests are about: no module, no pass */
	assert_int_equal(access(SOFTHSM_MODULE, R_OK), 0);
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	snprintf(w->dir, sizeof(w->dir), "/tmp/ukey-test-worker-XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	snprintf(tokdir, sizeof(tokdir), "%s/tokens", w->dir);
	assert_int_equal(mkdir(tokdir, 0700), 0);
	snprintf(w->conf, sizeof(w->conf), "%s/softhsm2.conf", w->dir);
	assert_non_null(f = fopen(w->conf, "w"));
	fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
	    tokdir);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(setenv("SOFTHSM2_CONF", w->conf, 1), 0);
}

static void
hsm_cleanup(struct worker *w)
{
	if (w->dir[0] != '\0')
		nftw(w->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	w->dir[0] = '\0';
}

static void
worker_path(char *buf, size_t n)
{
	const char *b = getenv("UKEY_BUILD_DIR");

	snprintf(buf, n, "%s/ukey-worker", b != NULL ? b : UKEY_BUILD_DIR);
}

static void
worker_start(struct worker *w, const char *module)
{
	char path[512], fdarg[16];
	int sv[2];

	worker_path(path, sizeof(path));
	assert_int_equal(access(path, X_OK), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	w->pid = fork();
	assert_true(w->pid >= 0);
	if (w->pid == 0) {
		int fd = dup(sv[1]);	/* without CLOEXEC: this one crosses exec */

		snprintf(fdarg, sizeof(fdarg), "%d", fd);
		execl(path, "ukey-worker", "--fd", fdarg, "--module", module, "--bay", "test",
		    (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	w->fd = sv[0];
}

static struct json_object *
recv_reply(struct worker *w)
{
	struct json_object *o = NULL;

	assert_int_equal(frame_read_json(w->fd, &o, FRAME_MAX_WORKER, 60000), 0);
	return o;
}

/* Sends the request text and returns the reply (caller puts it). */
static struct json_object *
rpc(struct worker *w, const char *fmt, ...)
{
	char *req = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&req, fmt, ap);
	va_end(ap);
	assert_true(n > 0);
	assert_int_equal(frame_write(w->fd, req, (size_t)n, FRAME_MAX_WORKER), 0);
	free(req);
	return recv_reply(w);
}

static int
worker_wait(struct worker *w)
{
	int st = 0;

	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	assert_int_equal(waitpid(w->pid, &st, 0), w->pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void
worker_quit(struct worker *w)
{
	struct json_object *r = rpc(w, "{\"v\":1,\"op\":\"quit\"}");

	assert_true(json_object_get_boolean(json_object_object_get(r, "ok")));
	json_object_put(r);
	assert_int_equal(worker_wait(w), 0);
}

/* ---- reply helpers ---- */

static struct json_object *
field(struct json_object *o, const char *path)
{
	char buf[128], *save = NULL, *k;
	struct json_object *cur = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (k = strtok_r(buf, ".", &save); k != NULL; k = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(cur, k, &cur))
			return NULL;
	return cur;
}

static const char *
str(struct json_object *o, const char *path)
{
	struct json_object *v = field(o, path);

	return v != NULL && json_object_is_type(v, json_type_string) ? json_object_get_string(v) :
	    NULL;
}

static int
boolean(struct json_object *o, const char *path)
{
	struct json_object *v = field(o, path);

	assert_non_null(v);
	assert_true(json_object_is_type(v, json_type_boolean));
	return json_object_get_boolean(v);
}

static void
expect_ok(struct json_object *r)
{
	if (!boolean(r, "ok"))
		fail_msg("worker refused: %s", json_object_to_json_string(r));
}

static void
expect_error(struct json_object *r, const char *err)
{
	assert_false(boolean(r, "ok"));
	assert_non_null(str(r, "error"));
	assert_string_equal(str(r, "error"), err);
	assert_non_null(str(r, "message"));
	assert_int_equal(json_object_get_int(field(r, "v")), 1);
}

static uint8_t *
unhex(const char *hex, size_t *len)
{
	uint8_t *p = NULL;

	assert_non_null(hex);
	assert_int_equal(hex_decode(hex, &p, len), 0);
	return p;
}

static char *
tohex(const uint8_t *p, size_t len)
{
	char *h = hex_encode(p, len);

	assert_non_null(h);
	return h;
}

/* ---- a throwaway CA ---- */

struct ca {
	EVP_PKEY *key;
	X509 *cert;
};

static X509 *
ca_sign(struct ca *ca, const X509_NAME *subj, EVP_PKEY *pub, int is_ca)
{
	X509 *x = X509_new();
	BIGNUM *bn = BN_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	assert_non_null(x);
	assert_non_null(bn);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(BN_rand(bn, 64, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY), 1);
	assert_non_null(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
	BN_free(bn);
	assert_int_equal(X509_set_subject_name(x, subj), 1);
	assert_int_equal(X509_set_issuer_name(x, ca->cert != NULL ?
	    X509_get_subject_name(ca->cert) : subj), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 365L * 86400));
	assert_int_equal(X509_set_pubkey(x, pub), 1);
	X509V3_set_ctx(&ctx, ca->cert != NULL ? ca->cert : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
	    is_ca ? "critical,CA:TRUE" : "CA:FALSE");
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, ca->key, EVP_sha256()) > 0);
	return x;
}

static void
ca_new(struct ca *ca)
{
	X509_NAME *n = X509_NAME_new();

	ca->cert = NULL;
	assert_non_null(ca->key = EVP_EC_gen("P-256"));
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"ukey test CA", -1, -1, 0), 1);
	ca->cert = ca_sign(ca, n, ca->key, 1);
	X509_NAME_free(n);
}

static void
ca_free(struct ca *ca)
{
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
}

static char *
cert_hex(X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	char *h;

	assert_true(n > 0);
	h = tohex(der, (size_t)n);
	OPENSSL_free(der);
	return h;
}

/* The subject the station would send: UTF-8 names, C=CN. */
static char *
subject_hex(X509_NAME **out)
{
	X509_NAME *n = X509_NAME_new();
	unsigned char *der = NULL;
	char *h;
	int len;

	assert_int_equal(X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC,
	    (const unsigned char *)"CN", -1, -1, 0), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
	    (const unsigned char *)"昆明测试有限公司", -1, -1, 0), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"张三", -1, -1, 0), 1);
	assert_true((len = i2d_X509_NAME(n, &der)) > 0);
	h = tohex(der, (size_t)len);
	OPENSSL_free(der);
	*out = n;
	return h;
}

/* ---- steps shared by the RSA and EC runs ---- */

static void
step_hello(struct worker *w)
{
	struct json_object *h = recv_reply(w);

	expect_ok(h);
	assert_string_equal(str(h, "op"), "hello");
	assert_int_equal(json_object_get_int(field(h, "pid")), w->pid);
	assert_string_equal(str(h, "module"), SOFTHSM_MODULE);
	json_object_put(h);
}

static void
step_init(struct worker *w, char *serial, size_t n)
{
	struct json_object *r;

	r = rpc(w, "{\"v\":1,\"op\":\"probe\"}");
	expect_ok(r);
	assert_false(boolean(r, "token.initialized"));
	assert_false(boolean(r, "token.user_pin_initialized"));
	assert_true(boolean(r, "mechanisms.rsa_keygen"));
	assert_true(boolean(r, "mechanisms.ec_keygen"));
	assert_int_equal(json_object_get_int(field(r, "public_objects")), 0);
	assert_non_null(str(r, "slot_description"));
	json_object_put(r);

	/* 33 bytes: one too many for a token label; nothing may change */
	r = rpc(w, "{\"v\":1,\"op\":\"init_token\",\"label\":\"%s\",\"so_pin\":\"" SO_PIN
	    "\",\"user_pin\":\"" USER_PIN "\"}", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456");
	expect_error(r, "invalid");
	json_object_put(r);
	r = rpc(w, "{\"v\":1,\"op\":\"probe\"}");
	assert_false(boolean(r, "token.initialized"));
	json_object_put(r);

	/* 30 bytes of UTF-8: 10 Chinese characters */
	r = rpc(w, "{\"v\":1,\"op\":\"init_token\",\"label\":\"云南数字证书测试令牌\",\"so_pin\":\""
	    SO_PIN "\",\"user_pin\":\"" USER_PIN "\"}");
	expect_ok(r);
	assert_true(boolean(r, "token.initialized"));
	assert_true(boolean(r, "token.user_pin_initialized"));
	assert_string_equal(str(r, "token.label"), "云南数字证书测试令牌");
	assert_non_null(str(r, "token.serial"));
	assert_true(strlen(str(r, "token.serial")) > 0);
	snprintf(serial, n, "%s", str(r, "token.serial"));
	assert_non_null(field(r, "slot_id"));
	json_object_put(r);

	/* the token is found again by its serial */
	r = rpc(w, "{\"v\":1,\"op\":\"probe\",\"token_serial\":\"%s\"}", serial);
	expect_ok(r);
	assert_true(boolean(r, "token.initialized"));
	assert_string_equal(str(r, "token.serial"), serial);
	assert_non_null(strstr(str(r, "uri"), "pkcs11:model=SoftHSM%20v2;manufacturer="));
	assert_non_null(strstr(str(r, "uri"), serial));
	json_object_put(r);
	r = rpc(w, "{\"v\":1,\"op\":\"probe\",\"token_serial\":\"nosuchserial\"}");
	expect_error(r, "removed");
	json_object_put(r);
}

/* The usage lists of a generate_key or read_back reply, as "a,b|c,d"
 * (private|public). */
static void
usage_text(struct json_object *r, char *buf, size_t len)
{
	static const char *const sides[] = { "evidence.usage.private", "evidence.usage.public" };
	struct json_object *a;
	size_t i, k, used = 0;

	buf[0] = '\0';
	for (k = 0; k < 2; k++) {
		assert_non_null(a = field(r, sides[k]));
		assert_true(json_object_is_type(a, json_type_array));
		for (i = 0; i < json_object_array_length(a); i++)
			used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "",
			    json_object_get_string(json_object_array_get_idx(a, i)));
		if (k == 0)
			used += (size_t)snprintf(buf + used, len - used, "|");
	}
	assert_null(field(r, "evidence.usage.unreadable"));
}

static EVP_PKEY *
step_keygen(struct worker *w, const char *alg, const char *id, int want_type, const char *usage,
    const char *want_usage)
{
	char got[128];

	struct json_object *r;
	const unsigned char *q;
	uint8_t *der;
	size_t len;
	EVP_PKEY *pub;

	r = rpc(w, "{\"v\":1,\"op\":\"generate_key\",\"user_pin\":\"999999\",\"alg\":\"%s\","
	    "\"id\":\"%s\",\"label\":\"k\",\"usage\":%s}", alg, id, usage);
	expect_error(r, "pin");
	assert_string_equal(str(r, "ckr"), "CKR_PIN_INCORRECT");
	assert_non_null(strstr(str(r, "message"), "C_Login"));
	json_object_put(r);

	r = rpc(w, "{\"v\":1,\"op\":\"generate_key\",\"user_pin\":\"" USER_PIN "\",\"alg\":\"%s\","
	    "\"id\":\"%s\",\"label\":\"signing key\",\"usage\":%s}", alg, id, usage);
	expect_ok(r);
	/* exactly the usages asked for, on both halves of the pair */
	usage_text(r, got, sizeof(got));
	assert_string_equal(got, want_usage);
	assert_true(boolean(r, "evidence.local"));
	assert_true(boolean(r, "evidence.always_sensitive"));
	assert_true(boolean(r, "evidence.never_extractable"));
	assert_true(boolean(r, "evidence.sensitive"));
	assert_false(boolean(r, "evidence.extractable"));
	der = unhex(str(r, "public_key"), &len);
	q = der;
	assert_non_null(pub = d2i_PUBKEY(NULL, &q, (long)len));
	assert_ptr_equal(q, der + len);
	assert_int_equal(EVP_PKEY_get_base_id(pub), want_type);
	if (want_type == EVP_PKEY_RSA)
		assert_int_equal(EVP_PKEY_get_bits(pub), 2048);
	else
		assert_int_equal(EVP_PKEY_get_bits(pub), 256);
	free(der);
	json_object_put(r);

	/* a second key under the same id is refused */
	r = rpc(w, "{\"v\":1,\"op\":\"generate_key\",\"user_pin\":\"" USER_PIN "\",\"alg\":\"%s\","
	    "\"id\":\"%s\",\"label\":\"again\",\"usage\":%s}", alg, id, usage);
	expect_error(r, "exists");
	json_object_put(r);
	r = rpc(w, "{\"v\":1,\"op\":\"generate_key\",\"user_pin\":\"" USER_PIN "\",\"alg\":\"dsa1024\","
	    "\"id\":\"77\",\"label\":\"x\",\"usage\":[\"sign\"]}");
	expect_error(r, "invalid");
	json_object_put(r);
	/* usages no profile can grant, or no usage at all: nothing is generated */
	{
		static const struct {
			const char *usage, *error;
		} refused[] = {
			{ "[\"sign\",\"decrypt\"]", "invalid" },	/* EC never deciphers; neither ... */
			{ "[\"decrypt\"]", "invalid" },		/* ... does a key that cannot sign */
			{ "[\"sign\",\"encrypt\"]", "invalid" },	/* a public-key operation */
			{ "[\"sign\",\"sign\"]", "invalid" },
			{ "\"sign\"", "protocol" },
			{ "[1]", "protocol" },
			{ NULL, "protocol" },
		};
		size_t i;

		for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
			/* decrypt is fine for RSA: use derive there instead */
			const char *u = refused[i].usage;

			if (u != NULL && i == 0 && want_type == EVP_PKEY_RSA)
				u = "[\"sign\",\"derive\"]";
			if (u != NULL)
				r = rpc(w, "{\"v\":1,\"op\":\"generate_key\",\"user_pin\":\"" USER_PIN
				    "\",\"alg\":\"%s\",\"id\":\"78\",\"label\":\"x\",\"usage\":%s}", alg, u);
			else
				r = rpc(w, "{\"v\":1,\"op\":\"generate_key\",\"user_pin\":\"" USER_PIN
				    "\",\"alg\":\"%s\",\"id\":\"78\",\"label\":\"x\"}", alg);
			expect_error(r, refused[i].error);
			json_object_put(r);
		}
	}
	return pub;
}

static X509_REQ *
step_csr(struct worker *w, const char *id, EVP_PKEY *pub)
{
	struct json_object *r;
	X509_NAME *want = NULL;
	char *subj = subject_hex(&want);
	const unsigned char *q;
	uint8_t *der;
	size_t len;
	X509_REQ *req;

	r = rpc(w, "{\"v\":1,\"op\":\"make_csr\",\"user_pin\":\"" USER_PIN "\",\"id\":\"%s\","
	    "\"subject\":\"%s\"}", id, subj);
	expect_ok(r);
	der = unhex(str(r, "csr"), &len);
	q = der;
	assert_non_null(req = d2i_X509_REQ(NULL, &q, (long)len));
	assert_ptr_equal(q, der + len);
	/* signed by the token's key, for the token's key, with the asked subject */
	assert_int_equal(X509_REQ_verify(req, pub), 1);
	assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), pub), 1);
	assert_int_equal(X509_NAME_cmp(X509_REQ_get_subject_name(req), want), 0);
	free(der);
	json_object_put(r);

	r = rpc(w, "{\"v\":1,\"op\":\"make_csr\",\"user_pin\":\"" USER_PIN "\",\"id\":\"ffff\","
	    "\"subject\":\"%s\"}", subj);
	expect_error(r, "not-found");
	json_object_put(r);
	r = rpc(w, "{\"v\":1,\"op\":\"make_csr\",\"user_pin\":\"" USER_PIN "\",\"id\":\"%s\","
	    "\"subject\":\"3003\"}", id);
	expect_error(r, "invalid");
	json_object_put(r);
	free(subj);
	X509_NAME_free(want);
	return req;
}

static void
step_write_read(struct worker *w, const char *id, X509_REQ *req, EVP_PKEY *pub, const char *usage,
    const char *want_usage)
{
	char got[128];
	struct ca ca;
	struct json_object *r, *cas;
	X509 *cert, *other;
	char *hcert, *hca, *hother, *hpub;
	unsigned char *pubder = NULL;
	int publen;

	ca_new(&ca);
	cert = ca_sign(&ca, X509_REQ_get_subject_name(req), X509_REQ_get0_pubkey(req), 0);
	other = ca_sign(&ca, X509_REQ_get_subject_name(req), X509_REQ_get0_pubkey(req), 0);
	hcert = cert_hex(cert);
	hca = cert_hex(ca.cert);
	hother = cert_hex(other);

	/* a certificate for another key (here the CA's own) is refused */
	r = rpc(w, "{\"v\":1,\"op\":\"write_cert\",\"user_pin\":\"" USER_PIN "\",\"id\":\"%s\","
	    "\"label\":\"c\",\"cert\":\"%s\",\"ca_cert\":\"%s\",\"ca_label\":\"CA\"}", id, hca, hca);
	expect_error(r, "verify");
	json_object_put(r);
	/* a CA certificate that is not the certificate's issuer is refused
	 * (the names differ) */
	{
		struct ca other_ca = { NULL, NULL };
		X509_NAME *n = X509_NAME_new();
		char *hoca;

		assert_non_null(other_ca.key = EVP_EC_gen("P-256"));
		assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
		    (const unsigned char *)"another CA", -1, -1, 0), 1);
		other_ca.cert = ca_sign(&other_ca, n, other_ca.key, 1);
		X509_NAME_free(n);
		hoca = cert_hex(other_ca.cert);
		r = rpc(w, "{\"v\":1,\"op\":\"write_cert\",\"user_pin\":\"" USER_PIN "\","
		    "\"id\":\"%s\",\"label\":\"c\",\"cert\":\"%s\",\"ca_cert\":\"%s\","
		    "\"ca_label\":\"CA\"}", id, hcert, hoca);
		expect_error(r, "verify");
		assert_non_null(strstr(str(r, "message"), "not issued by ca_cert"));
		json_object_put(r);
		free(hoca);
		ca_free(&other_ca);
	}

	r = rpc(w, "{\"v\":1,\"op\":\"write_cert\",\"user_pin\":\"" USER_PIN "\",\"id\":\"%s\","
	    "\"label\":\"signing key\",\"cert\":\"%s\",\"ca_cert\":\"%s\",\"ca_label\":\"ukey test CA\"}",
	    id, hcert, hca);
	expect_ok(r);
	json_object_put(r);
	/* repeating the step after a crash changes nothing */
	r = rpc(w, "{\"v\":1,\"op\":\"write_cert\",\"user_pin\":\"" USER_PIN "\",\"id\":\"%s\","
	    "\"label\":\"signing key\",\"cert\":\"%s\",\"ca_cert\":\"%s\",\"ca_label\":\"ukey test CA\"}",
	    id, hcert, hca);
	expect_ok(r);
	json_object_put(r);
	/* a second, different certificate for the same id is not written */
	r = rpc(w, "{\"v\":1,\"op\":\"write_cert\",\"user_pin\":\"" USER_PIN "\",\"id\":\"%s\","
	    "\"label\":\"signing key\",\"cert\":\"%s\",\"ca_cert\":\"%s\",\"ca_label\":\"ukey test CA\"}",
	    id, hother, hca);
	expect_error(r, "exists");
	json_object_put(r);

	r = rpc(w, "{\"v\":1,\"op\":\"read_back\",\"user_pin\":\"" USER_PIN "\",\"id\":\"%s\","
	    "\"usage\":%s}", id, usage);
	expect_ok(r);
	assert_true(boolean(r, "evidence_ok"));
	usage_text(r, got, sizeof(got));
	assert_string_equal(got, want_usage);
	json_object_put(r);
	/* judged against a request that allows less, the same key fails */
	r = rpc(w, "{\"v\":1,\"op\":\"read_back\",\"user_pin\":\"" USER_PIN "\",\"id\":\"%s\","
	    "\"usage\":[]}", id);
	expect_ok(r);
	assert_false(boolean(r, "evidence_ok"));
	json_object_put(r);
	r = rpc(w, "{\"v\":1,\"op\":\"read_back\",\"user_pin\":\"" USER_PIN "\",\"id\":\"%s\"}", id);
	expect_ok(r);
	assert_string_equal(str(r, "cert"), hcert);
	assert_non_null(cas = field(r, "ca_certs"));
	assert_int_equal(json_object_array_length(cas), 1);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(cas, 0)), hca);
	assert_true((publen = i2d_PUBKEY(pub, &pubder)) > 0);
	hpub = tohex(pubder, (size_t)publen);
	assert_string_equal(str(r, "public_key"), hpub);
	assert_true(boolean(r, "private_key"));
	assert_true(boolean(r, "cert_matches_key"));
	assert_true(boolean(r, "evidence.never_extractable"));
	assert_true(boolean(r, "evidence.local"));
	assert_false(boolean(r, "evidence.extractable"));
	json_object_put(r);

	/* the wrong PIN reads nothing */
	r = rpc(w, "{\"v\":1,\"op\":\"read_back\",\"user_pin\":\"000000\",\"id\":\"%s\"}", id);
	expect_error(r, "pin");
	json_object_put(r);

	OPENSSL_free(pubder);
	free(hpub);
	free(hcert);
	free(hca);
	free(hother);
	X509_free(cert);
	X509_free(other);
	ca_free(&ca);
}

static struct json_object *
find_object(struct json_object *objs, const char *cls, const char *id)
{
	size_t i;

	for (i = 0; i < json_object_array_length(objs); i++) {
		struct json_object *o = json_object_array_get_idx(objs, i);

		if (strcmp(str(o, "class"), cls) == 0 && (id == NULL ||
		    (str(o, "id") != NULL && strcmp(str(o, "id"), id) == 0)))
			return o;
	}
	return NULL;
}

static void
step_inspect(struct worker *w, const char *id, const char *key_type)
{
	struct json_object *r, *objs, *o;

	r = rpc(w, "{\"v\":1,\"op\":\"inspect\",\"user_pin\":\"" USER_PIN "\"}");
	expect_ok(r);
	assert_true(boolean(r, "token.initialized"));
	assert_non_null(strstr(str(r, "uri"), "pkcs11:"));
	assert_non_null(objs = field(r, "objects"));
	assert_int_equal(json_object_array_length(objs), 4);
	assert_non_null(o = find_object(objs, "private-key", id));
	assert_string_equal(str(o, "key_type"), key_type);
	assert_string_equal(str(o, "label"), "signing key");
	assert_true(boolean(o, "attributes.never_extractable"));
	assert_true(boolean(o, "attributes.local"));
	assert_true(boolean(o, "attributes.sensitive"));
	assert_true(boolean(o, "attributes.private"));
	assert_false(boolean(o, "attributes.extractable"));
	assert_non_null(strstr(str(o, "uri"), ";type=private"));
	assert_non_null(o = find_object(objs, "public-key", id));
	assert_string_equal(str(o, "key_type"), key_type);
	assert_non_null(o = find_object(objs, "certificate", id));
	assert_non_null(strstr(str(o, "subject"), "CN=张三"));
	assert_non_null(strstr(str(o, "subject"), "C=CN"));
	assert_string_equal(str(o, "issuer"), "CN=ukey test CA");
	assert_int_equal(strlen(str(o, "not_after")), 20);
	assert_int_equal(str(o, "not_after")[19], 'Z');
	assert_true(strlen(str(o, "serial")) >= 16);
	assert_non_null(o = find_object(objs, "certificate", NULL));
	json_object_put(r);

	/* without a PIN only the public objects show */
	r = rpc(w, "{\"v\":1,\"op\":\"inspect\"}");
	expect_ok(r);
	assert_false(boolean(r, "logged_in"));
	objs = field(r, "objects");
	assert_int_equal(json_object_array_length(objs), 3);
	assert_null(find_object(objs, "private-key", NULL));
	json_object_put(r);
}

/* What an independent tool sees on the token. */
static void
step_pkcs11_tool(const char *want_usage_line)
{
	char cmd[512], line[512], *out = NULL;
	size_t outlen = 0;
	FILE *f, *mem;
	int st;

	assert_int_equal(access("/usr/bin/pkcs11-tool", X_OK), 0);
	snprintf(cmd, sizeof(cmd), "pkcs11-tool --module %s --list-objects --login --pin %s 2>&1",
	    SOFTHSM_MODULE, USER_PIN);
	assert_non_null(f = popen(cmd, "r"));
	assert_non_null(mem = open_memstream(&out, &outlen));
	while (fgets(line, sizeof(line), f) != NULL)
		fputs(line, mem);
	st = pclose(f);
	fclose(mem);
	if (st != 0 || strstr(out, "Private Key Object") == NULL ||
	    strstr(out, "never extractable") == NULL || strstr(out, "local") == NULL ||
	    strstr(out, "Certificate Object") == NULL)
		fail_msg("pkcs11-tool output lacks the expected key attributes:\n%s", out);
	/* the private key's usage line, as an independent tool prints it */
	{
		const char *k = strstr(out, "Private Key Object"), *u, *e;

		assert_non_null(k);
		if ((u = strstr(k, "Usage:")) == NULL)
			fail_msg("pkcs11-tool shows no usage for the private key:\n%s", out);
		u += strlen("Usage:");
		u += strspn(u, " ");
		e = strchr(u, '\n');
		if (e == NULL || (size_t)(e - u) != strlen(want_usage_line) ||
		    strncmp(u, want_usage_line, strlen(want_usage_line)) != 0)
			fail_msg("private key usage should be \"%s\":\n%s", want_usage_line, out);
	}
	free(out);
}

/* A whole job's worker side for one key type: init, keygen, CSR, write and
 * read back, inspect, and the result as pkcs11-tool sees it. */
static void
lifecycle(const char *alg, const char *id, int pkey_type, const char *inspect_type,
    const char *usage, const char *want_usage, const char *tool_usage)
{
	struct worker w;
	char serial[32];
	EVP_PKEY *pub;
	X509_REQ *req;

	hsm_setup(&w);
	worker_start(&w, SOFTHSM_MODULE);
	step_hello(&w);
	step_init(&w, serial, sizeof(serial));
	pub = step_keygen(&w, alg, id, pkey_type, usage, want_usage);
	req = step_csr(&w, id, pub);
	step_write_read(&w, id, req, pub, usage, want_usage);
	step_inspect(&w, id, inspect_type);
	step_pkcs11_tool(tool_usage);
	worker_quit(&w);
	X509_REQ_free(req);
	EVP_PKEY_free(pub);
	hsm_cleanup(&w);
}

static void
test_rsa_lifecycle(void **state)
{
	(void)state;
	/* keyEncipherment: the private key may also decrypt and unwrap */
	lifecycle("rsa2048", "a1b2c3", EVP_PKEY_RSA, "rsa", "[\"sign\",\"decrypt\",\"unwrap\"]",
	    "sign,decrypt,unwrap|verify,encrypt,wrap", "decrypt, sign, unwrap");
}

static void
test_ec_lifecycle(void **state)
{
	(void)state;
	/* a signature profile: sign and verify, nothing else */
	lifecycle("ec-p256", "0e0c", EVP_PKEY_EC, "ec", "[\"sign\"]", "sign|verify", "sign");
}

/* A signature-only RSA key (digitalSignature, nonRepudiation): the module's
 * default would let it decrypt and unwrap; the template says no. */
static void
test_rsa_signature_only(void **state)
{
	(void)state;
	lifecycle("rsa2048", "5151", EVP_PKEY_RSA, "rsa", "[\"sign\"]", "sign|verify", "sign");
}

/* keyAgreement on an EC key: derive on the private key only. */
static void
test_ec_key_agreement(void **state)
{
	(void)state;
	lifecycle("ec-p256", "0ec0", EVP_PKEY_EC, "ec", "[\"sign\",\"derive\"]", "sign,derive|verify",
	    "sign, derive");
}

/* A module that ignores the usage attributes of the template (faultp11's
 * strip-usage: SoftHSM2's defaults let the key decrypt and unwrap): the
 * worker refuses the pair and leaves nothing on the token. */
static void
test_module_ignores_usage(void **state)
{
	struct worker w;
	struct json_object *r;
	char serial[32], module[512], rules[192];
	const char *b = getenv("UKEY_BUILD_DIR");
	FILE *f;

	(void)state;
	hsm_setup(&w);
	snprintf(module, sizeof(module), "%s/tests/libfaultp11.so", b != NULL ? b : UKEY_BUILD_DIR);
	snprintf(rules, sizeof(rules), "%s/faultp11.conf", w.dir);
	assert_non_null(f = fopen(rules, "w"));
	fputs("C_GenerateKeyPair 1 strip-usage\n", f);
	assert_int_equal(fclose(f), 0);
	worker_start(&w, module);
	r = recv_reply(&w);
	expect_ok(r);
	json_object_put(r);
	step_init(&w, serial, sizeof(serial));
	r = rpc(&w, "{\"v\":1,\"op\":\"generate_key\",\"user_pin\":\"" USER_PIN "\","
	    "\"alg\":\"ec-p256\",\"id\":\"0d\",\"label\":\"k\",\"usage\":[\"sign\"]}");
	expect_error(r, "verify");
	assert_non_null(strstr(str(r, "message"), "CKA_DECRYPT"));
	json_object_put(r);
	/* the refused pair was destroyed */
	r = rpc(&w, "{\"v\":1,\"op\":\"inspect\",\"user_pin\":\"" USER_PIN "\"}");
	expect_ok(r);
	assert_int_equal(json_object_array_length(field(r, "objects")), 0);
	json_object_put(r);
	/* the same request to a module that honours the template succeeds */
	r = rpc(&w, "{\"v\":1,\"op\":\"generate_key\",\"user_pin\":\"" USER_PIN "\","
	    "\"alg\":\"ec-p256\",\"id\":\"0d\",\"label\":\"k\",\"usage\":[\"sign\"]}");
	expect_ok(r);
	json_object_put(r);
	worker_quit(&w);
	hsm_cleanup(&w);
}

/* A worker on faultp11 with rules (NULL: none) over a fresh token. */
static void
fault_worker(struct worker *w, const char *rules, char *serial, size_t n)
{
	char module[512], path[192];
	const char *b = getenv("UKEY_BUILD_DIR");
	struct json_object *r;
	FILE *f;

	hsm_setup(w);
	snprintf(module, sizeof(module), "%s/tests/libfaultp11.so", b != NULL ? b : UKEY_BUILD_DIR);
	snprintf(path, sizeof(path), "%s/faultp11.conf", w->dir);
	assert_non_null(f = fopen(path, "w"));
	fputs(rules != NULL ? rules : "", f);
	assert_int_equal(fclose(f), 0);
	worker_start(w, module);
	r = recv_reply(w);
	expect_ok(r);
	json_object_put(r);
	step_init(w, serial, n);
}

/* One login with pin; expects ok, or error "pin" with what in the message. */
static void
login_expect(struct worker *w, const char *pin, const char *what)
{
	struct json_object *r = rpc(w, "{\"v\":1,\"op\":\"login\",\"user_pin\":\"%s\"}", pin);

	if (what == NULL) {
		expect_ok(r);
		assert_false(boolean(r, "token.user_pin_locked"));
		assert_false(boolean(r, "token.user_pin_count_low"));
	} else {
		expect_error(r, "pin");
		if (strstr(str(r, "message"), what) == NULL)
			fail_msg("login message '%s' does not say '%s'", str(r, "message"), what);
	}
	json_object_put(r);
}

/* The holder's PIN as a token that counts wrong tries (faultp11 pin-tries 3)
 * sees it: each wrong try counted and shown, a right one resets the count,
 * the third wrong one locks, a locked PIN is not tried, and the SO's unblock
 * opens it again. */
static void
test_login_counts_tries(void **state)
{
	struct worker w;
	struct json_object *r;
	char serial[32];

	(void)state;
	fault_worker(&w, "pin-tries 3\n", serial, sizeof(serial));
	login_expect(&w, USER_PIN, NULL);
	login_expect(&w, "000000", "CKR_PIN_INCORRECT (the token counts the wrong tries)");
	r = rpc(&w, "{\"v\":1,\"op\":\"probe\"}");
	assert_true(boolean(r, "token.user_pin_count_low"));
	assert_false(boolean(r, "token.user_pin_final_try"));
	json_object_put(r);
	login_expect(&w, "000000", "CKR_PIN_INCORRECT (one try is left)");
	login_expect(&w, USER_PIN, NULL);	/* the count starts again */
	login_expect(&w, "000000", "(the token counts the wrong tries)");
	login_expect(&w, "000000", "(one try is left)");
	login_expect(&w, "000000", "(the user PIN is now locked)");
	/* locked: the right PIN is not even tried */
	login_expect(&w, USER_PIN, "CKF_USER_PIN_LOCKED");
	r = rpc(&w, "{\"v\":1,\"op\":\"unblock\",\"so_pin\":\"" SO_PIN "\",\"user_pin\":\"135790\"}");
	expect_ok(r);
	assert_false(boolean(r, "token.user_pin_locked"));
	json_object_put(r);
	login_expect(&w, "135790", NULL);
	login_expect(&w, "", "user_pin: must not be empty");
	r = rpc(&w, "{\"v\":1,\"op\":\"probe\"}");	/* not counted as a try */
	assert_false(boolean(r, "token.user_pin_count_low"));
	json_object_put(r);
	worker_quit(&w);
	hsm_cleanup(&w);
}

/* discard removes every object of one CKA_ID (the superseded pair and its
 * certificate) and nothing else; repeating it finds nothing to do. */
static void
test_discard(void **state)
{
	struct worker w;
	struct json_object *r;
	char serial[32];

	(void)state;
	fault_worker(&w, NULL, serial, sizeof(serial));
	r = rpc(&w, "{\"v\":1,\"op\":\"generate_key\",\"user_pin\":\"" USER_PIN "\","
	    "\"alg\":\"ec-p256\",\"id\":\"0a\",\"label\":\"old\",\"usage\":[\"sign\"]}");
	expect_ok(r);
	json_object_put(r);
	r = rpc(&w, "{\"v\":1,\"op\":\"generate_key\",\"user_pin\":\"" USER_PIN "\","
	    "\"alg\":\"ec-p256\",\"id\":\"0b\",\"label\":\"new\",\"usage\":[\"sign\"]}");
	expect_ok(r);
	json_object_put(r);
	r = rpc(&w, "{\"v\":1,\"op\":\"discard\",\"user_pin\":\"000000\",\"id\":\"0a\"}");
	expect_error(r, "pin");
	json_object_put(r);
	r = rpc(&w, "{\"v\":1,\"op\":\"discard\",\"user_pin\":\"" USER_PIN "\",\"id\":\"0a\"}");
	expect_ok(r);
	assert_int_equal(json_object_get_int(field(r, "destroyed")), 2);
	json_object_put(r);
	r = rpc(&w, "{\"v\":1,\"op\":\"discard\",\"user_pin\":\"" USER_PIN "\",\"id\":\"0a\"}");
	expect_ok(r);
	assert_int_equal(json_object_get_int(field(r, "destroyed")), 0);
	json_object_put(r);
	r = rpc(&w, "{\"v\":1,\"op\":\"inspect\",\"user_pin\":\"" USER_PIN "\"}");
	expect_ok(r);
	assert_int_equal(json_object_array_length(field(r, "objects")), 2);
	assert_string_equal(str(json_object_array_get_idx(field(r, "objects"), 0), "id"), "0b");
	assert_string_equal(str(json_object_array_get_idx(field(r, "objects"), 1), "id"), "0b");
	json_object_put(r);
	worker_quit(&w);
	hsm_cleanup(&w);
}

/* Re-initialising a token with its old SO PIN sets the new one. */
static void
test_reinit(void **state)
{
	struct worker w;
	struct json_object *r;
	char serial[32];

	(void)state;
	hsm_setup(&w);
	worker_start(&w, SOFTHSM_MODULE);
	step_hello(&w);
	step_init(&w, serial, sizeof(serial));
	r = rpc(&w, "{\"v\":1,\"op\":\"init_token\",\"label\":\"again\",\"so_pin\":\"87654321\","
	    "\"user_pin\":\"112233\",\"old_so_pin\":\"00000000\"}");
	expect_error(r, "pin");
	json_object_put(r);
	r = rpc(&w, "{\"v\":1,\"op\":\"init_token\",\"label\":\"again\",\"so_pin\":\"87654321\","
	    "\"user_pin\":\"112233\",\"old_so_pin\":\"" SO_PIN "\"}");
	expect_ok(r);
	assert_string_equal(str(r, "token.label"), "again");
	json_object_put(r);
	/* the new SO PIN is in force: a third init with it as the old one works */
	r = rpc(&w, "{\"v\":1,\"op\":\"init_token\",\"label\":\"third\",\"so_pin\":\"87654321\","
	    "\"user_pin\":\"445566\",\"old_so_pin\":\"87654321\"}");
	expect_ok(r);
	json_object_put(r);
	r = rpc(&w, "{\"v\":1,\"op\":\"generate_key\",\"user_pin\":\"445566\",\"alg\":\"ec-p256\","
	    "\"id\":\"01\",\"label\":\"k\",\"usage\":[\"sign\"]}");
	expect_ok(r);
	json_object_put(r);
	worker_quit(&w);
	hsm_cleanup(&w);
}

static void
test_protocol_errors(void **state)
{
	static const char *bad[] = {
		"{\"op\":\"probe\"}",				/* no version */
		"{\"v\":2,\"op\":\"probe\"}",			/* wrong version */
		"{\"v\":1}",					/* no op */
		"{\"v\":1,\"op\":\"format_disk\"}",		/* unknown op */
		"[1,2,3]",					/* not an object */
		"{\"v\":1,\"op\":\"probe\"",			/* cut short */
		"{\"v\":1,\"op\":\"probe\"} trailing",		/* garbage after */
		"{\"v\":1,\"op\":\"init_token\",\"label\":5,\"so_pin\":\"12345678\","
		    "\"user_pin\":\"1234\"}",			/* wrong type */
		"{\"v\":1,\"op\":\"make_csr\",\"id\":\"01\",\"subject\":\"30\"}", /* no PIN */
	};
	struct worker w;
	struct json_object *r;
	uint8_t hdr[4];
	size_t i;

	(void)state;
	hsm_setup(&w);
	worker_start(&w, SOFTHSM_MODULE);
	step_hello(&w);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = rpc(&w, "%s", bad[i]);
		expect_error(r, "protocol");
		json_object_put(r);
		/* and the worker still answers */
		r = rpc(&w, "{\"v\":1,\"op\":\"probe\"}");
		expect_ok(r);
		json_object_put(r);
	}
	r = rpc(&w, "{\"v\":1,\"op\":\"generate_key\",\"user_pin\":\"1234\",\"alg\":\"rsa2048\","
	    "\"id\":\"zz\",\"label\":\"k\"}");
	expect_error(r, "invalid");
	json_object_put(r);
	/* a frame over the limit: one error reply, then the worker stops */
	hdr[0] = (uint8_t)((FRAME_MAX_WORKER + 1) >> 24);
	hdr[1] = (uint8_t)((FRAME_MAX_WORKER + 1) >> 16);
	hdr[2] = (uint8_t)((FRAME_MAX_WORKER + 1) >> 8);
	hdr[3] = (uint8_t)(FRAME_MAX_WORKER + 1);
	assert_int_equal(write(w.fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	r = recv_reply(&w);
	expect_error(r, "protocol");
	json_object_put(r);
	assert_int_equal(worker_wait(&w), 1);
	hsm_cleanup(&w);
}

/* The daemon going away ends the worker cleanly. */
/* Certificate objects on the token, as inspect (with the PIN) lists them. */
static int
count_certs(struct worker *w, const char *label)
{
	struct json_object *r = rpc(w, "{\"v\":1,\"op\":\"inspect\",\"user_pin\":\"" USER_PIN "\"}");
	struct json_object *objs;
	size_t i;
	int n = 0;

	expect_ok(r);
	objs = field(r, "objects");
	for (i = 0; i < json_object_array_length(objs); i++) {
		struct json_object *o = json_object_array_get_idx(objs, i);

		if (strcmp(str(o, "class"), "certificate") == 0 &&
		    (label == NULL || strcmp(str(o, "label"), label) == 0))
			n++;
	}
	json_object_put(r);
	return n;
}

/* make_csr given the CA certificate writes it to the token after its
 * reply, once, and write_cert then finds it there; a bad one fails the
 * request, a failed request writes nothing. */
static void
test_ca_cert_ahead(void **state)
{
	struct worker w;
	struct ca ca;
	struct json_object *r;
	X509_NAME *want = NULL;
	X509 *cert;
	char serial[32], *subj, *hca, *hcert;
	EVP_PKEY *pub;
	X509_REQ *req;

	(void)state;
	ca_new(&ca);
	hca = cert_hex(ca.cert);
	subj = subject_hex(&want);
	hsm_setup(&w);
	worker_start(&w, SOFTHSM_MODULE);
	step_hello(&w);
	step_init(&w, serial, sizeof(serial));
	pub = step_keygen(&w, "ec-p256", "a1", EVP_PKEY_EC, "[\"sign\"]", "sign|verify");
	/* not a certificate: refused before anything is signed */
	r = rpc(&w, "{\"v\":1,\"op\":\"make_csr\",\"user_pin\":\"" USER_PIN "\",\"id\":\"a1\","
	    "\"subject\":\"%s\",\"ca_cert\":\"3003020100\"}", subj);
	expect_error(r, "invalid");
	json_object_put(r);
	/* a request that fails leaves nothing to write */
	r = rpc(&w, "{\"v\":1,\"op\":\"make_csr\",\"user_pin\":\"" USER_PIN "\",\"id\":\"ffff\","
	    "\"subject\":\"%s\",\"ca_cert\":\"%s\",\"ca_label\":\"ukey test CA\"}", subj, hca);
	expect_error(r, "not-found");
	json_object_put(r);
	assert_int_equal(count_certs(&w, NULL), 0);

	r = rpc(&w, "{\"v\":1,\"op\":\"make_csr\",\"user_pin\":\"" USER_PIN "\",\"id\":\"a1\","
	    "\"subject\":\"%s\",\"ca_cert\":\"%s\",\"ca_label\":\"ukey test CA\"}", subj, hca);
	expect_ok(r);
	{
		size_t len;
		uint8_t *der = unhex(str(r, "csr"), &len);
		const unsigned char *q = der;

		assert_non_null(req = d2i_X509_REQ(NULL, &q, (long)len));
		free(der);
	}
	json_object_put(r);
	assert_int_equal(count_certs(&w, "ukey test CA"), 1);
	/* asked again (a job resumed at make_csr): still one */
	r = rpc(&w, "{\"v\":1,\"op\":\"make_csr\",\"user_pin\":\"" USER_PIN "\",\"id\":\"a1\","
	    "\"subject\":\"%s\",\"ca_cert\":\"%s\",\"ca_label\":\"ukey test CA\"}", subj, hca);
	expect_ok(r);
	json_object_put(r);
	assert_int_equal(count_certs(&w, "ukey test CA"), 1);

	cert = ca_sign(&ca, X509_REQ_get_subject_name(req), pub, 0);
	hcert = cert_hex(cert);
	r = rpc(&w, "{\"v\":1,\"op\":\"write_cert\",\"user_pin\":\"" USER_PIN "\",\"id\":\"a1\","
	    "\"label\":\"signing key\",\"cert\":\"%s\",\"ca_cert\":\"%s\",\"ca_label\":\"ukey test CA\"}",
	    hcert, hca);
	expect_ok(r);
	json_object_put(r);
	assert_int_equal(count_certs(&w, NULL), 2);
	assert_int_equal(count_certs(&w, "ukey test CA"), 1);
	worker_quit(&w);
	hsm_cleanup(&w);
	free(hcert);
	free(hca);
	free(subj);
	X509_free(cert);
	X509_REQ_free(req);
	X509_NAME_free(want);
	EVP_PKEY_free(pub);
	ca_free(&ca);
}

/* The daemon's death (SIGTERM, the worker's parent-death signal) while the
 * worker writes the CA certificate after make_csr's reply: the write
 * (held here for a second inside C_CreateObject by the fault module)
 * finishes, the worker stops after it, and the certificate is whole on the
 * token. An idle worker ends at once. */
static void
test_term_after_reply(void **state)
{
	const char *build = getenv("UKEY_BUILD_DIR");
	struct worker w;
	struct ca ca;
	struct json_object *r;
	X509_NAME *want = NULL;
	char fault[512], rules[256], logf[256], serial[32], line[256], *subj, *hca;
	EVP_PKEY *pub;
	FILE *f;
	int st = 0, i, seen = 0;

	(void)state;
	snprintf(fault, sizeof(fault), "%s/tests/libfaultp11.so", build != NULL ? build :
	    UKEY_BUILD_DIR);
	assert_int_equal(access(fault, R_OK), 0);
	ca_new(&ca);
	hca = cert_hex(ca.cert);
	subj = subject_hex(&want);
	hsm_setup(&w);
	snprintf(rules, sizeof(rules), "%s/faultp11.conf", w.dir);
	snprintf(logf, sizeof(logf), "%s/faultp11.log", w.dir);
	assert_non_null(f = fopen(rules, "w"));
	fputs("log on\nC_CreateObject 1 delay 1000\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(setenv("UKEY_FAULTP11_CONF", rules, 1), 0);
	worker_start(&w, fault);
	json_object_put(recv_reply(&w));	/* hello */
	step_init(&w, serial, sizeof(serial));
	pub = step_keygen(&w, "ec-p256", "a2", EVP_PKEY_EC, "[\"sign\"]", "sign|verify");
	r = rpc(&w, "{\"v\":1,\"op\":\"make_csr\",\"user_pin\":\"" USER_PIN "\",\"id\":\"a2\","
	    "\"subject\":\"%s\",\"ca_cert\":\"%s\",\"ca_label\":\"ukey test CA\"}", subj, hca);
	expect_ok(r);
	json_object_put(r);
	/* the worker is in the held C_CreateObject: the daemon dies */
	for (i = 0; i < 200 && !seen; i++) {
		if ((f = fopen(logf, "r")) != NULL) {
			while (fgets(line, sizeof(line), f) != NULL)
				seen |= strstr(line, "C_CreateObject 1 delay") != NULL;
			fclose(f);
		}
		if (!seen)
			usleep(10000);
	}
	assert_true(seen);
	assert_int_equal(kill(w.pid, SIGTERM), 0);
	close(w.fd);
	w.fd = -1;
	assert_int_equal(waitpid(w.pid, &st, 0), w.pid);
	assert_true(WIFEXITED(st));	/* not killed by the signal: it finished */
	unsetenv("UKEY_FAULTP11_CONF");

	/* a worker of its own sees the CA certificate, whole */
	worker_start(&w, SOFTHSM_MODULE);
	step_hello(&w);
	assert_int_equal(count_certs(&w, "ukey test CA"), 1);
	/* idle, SIGTERM ends it at once */
	assert_int_equal(kill(w.pid, SIGTERM), 0);
	assert_int_equal(waitpid(w.pid, &st, 0), w.pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 128 + SIGTERM);
	close(w.fd);
	hsm_cleanup(&w);
	free(hca);
	free(subj);
	X509_NAME_free(want);
	EVP_PKEY_free(pub);
	ca_free(&ca);
}

static void
test_eof(void **state)
{
	struct worker w;

	(void)state;
	hsm_setup(&w);
	worker_start(&w, SOFTHSM_MODULE);
	step_hello(&w);
	assert_int_equal(worker_wait(&w), 0);
	hsm_cleanup(&w);
}

static void
test_bad_module(void **state)
{
	struct worker w;
	struct json_object *h;

	(void)state;
	hsm_setup(&w);
	worker_start(&w, "/nonexistent/libnothing.so");
	h = recv_reply(&w);
	expect_error(h, "unsupported");
	assert_string_equal(str(h, "op"), "hello");
	assert_non_null(strstr(str(h, "message"), "/nonexistent/libnothing.so"));
	json_object_put(h);
	assert_int_equal(worker_wait(&w), 1);
	hsm_cleanup(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsa_lifecycle),
		cmocka_unit_test(test_ec_lifecycle),
		cmocka_unit_test(test_rsa_signature_only),
		cmocka_unit_test(test_ec_key_agreement),
		cmocka_unit_test(test_module_ignores_usage),
		cmocka_unit_test(test_reinit),
		cmocka_unit_test(test_login_counts_tries),
		cmocka_unit_test(test_discard),
		cmocka_unit_test(test_protocol_errors),
		cmocka_unit_test(test_eof),
		cmocka_unit_test(test_ca_cert_ahead),
		cmocka_unit_test(test_term_after_reply),
		cmocka_unit_test(test_bad_module),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
