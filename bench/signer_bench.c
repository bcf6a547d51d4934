/* ukey-bench-signer: what a CMP key in an HSM costs the daemon per
 * signature, through ukey-signer, against the same key in process. Makes a
 * SoftHSM2 token under /tmp, imports one key, starts the build's
 * ukey-signer (p11signer_open()) and times N signatures over 1 KiB each
 * way, and the helper's start (fork, exec, module load, login, key search,
 * the test signature). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "bench/benchstat.h"
#include "ca/p11signer.h"
#include "common/secret.h"

#define MODULE "/usr/lib/softhsm/libsofthsm2.so"

static double
now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void
die(const char *what)
{
	fprintf(stderr, "ukey-bench-signer: %s\n", what);
	exit(1);
}

/* One signature over 1 KiB with key; its time in microseconds. */
static double
sign_once(EVP_PKEY *key)
{
	unsigned char data[1024] = { 1 }, sig[1024];
	size_t len = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	double t0 = now_us();

	if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, sig, &len, data, sizeof(data)) != 1)
		die("a signature failed");
	EVP_MD_CTX_free(md);
	return now_us() - t0;
}

static X509 *
self_signed(EVP_PKEY *key)
{
	X509 *x = X509_new();

	if (x == NULL)
		die("out of memory");
	X509_set_version(x, 2);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"bench RA", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, key);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	if (X509_sign(x, key, EVP_sha256()) <= 0)
		die("self-signing");
	return x;
}

/* A token "bench" under dir holding key as object "ra". */
static void
make_token(const char *dir, EVP_PKEY *key)
{
	char p[512], cmd[1200];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/softhsm2.conf", dir);
	if ((fp = fopen(p, "w")) == NULL)
		die("softhsm2.conf");
	fprintf(fp, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
	    dir);
	fclose(fp);
	setenv("SOFTHSM2_CONF", p, 1);
	snprintf(p, sizeof(p), "%s/ra.p8", dir);
	if ((fp = fopen(p, "w")) == NULL || PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL,
	    NULL) != 1)
		die("writing the key");
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "softhsm2-util --init-token --free --label bench --pin 1234 "
	    "--so-pin 5678 >/dev/null && softhsm2-util --import %s --token bench --label ra "
	    "--id 01 --pin 1234 >/dev/null", p);
	if (system(cmd) != 0)
		die("making the token (softhsm2-util)");
	unlink(p);
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 300, rsa = argc > 2 && strcmp(argv[2], "rsa") == 0;
	char dir[] = "/tmp/ukey-bench-signer-XXXXXX", helper[600], err[512], cmd[600];
	struct secret pin = { 0 };
	struct p11signer *s = NULL;
	struct bench_stat hs, ps;
	EVP_PKEY *key, *fwd = NULL;
	double *vh, *vp, t0, open_ms;
	X509 *cert;
	int i;

	if (n < 1 || mkdtemp(dir) == NULL || (vh = calloc((size_t)n, sizeof(double))) == NULL ||
	    (vp = calloc((size_t)n, sizeof(double))) == NULL)
		die("usage: ukey-bench-signer [N] [ec|rsa]");
	key = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
	if (key == NULL)
		die("key generation");
	cert = self_signed(key);
	make_token(dir, key);
	snprintf(helper, sizeof(helper), "%s/ukey-signer", UKEY_BUILD_DIR);
	secret_set(&pin, "1234", 4);
	t0 = now_us();
	if (p11signer_open("bench", helper, MODULE, "pkcs11:token=bench;object=ra", &pin, cert, 30,
	    &s, &fwd, err, sizeof(err)) != 0)
		die(err);
	open_ms = (now_us() - t0) / 1e3;
	for (i = 0; i < n; i++) {
		vh[i] = sign_once(fwd);
		vp[i] = sign_once(key);
	}
	bench_stat_of(vh, (size_t)n, &hs);
	bench_stat_of(vp, (size_t)n, &ps);
	printf("signer %s n=%d helper_median_us=%.0f helper_p90_us=%.0f in_process_median_us=%.0f "
	    "helper_start_ms=%.1f\n", rsa ? "rsa" : "ec", n, hs.median, hs.p90, ps.median, open_ms);
	EVP_PKEY_free(fwd);
	p11signer_free(s);
	secret_clear(&pin);
	EVP_PKEY_free(key);
	X509_free(cert);
	free(vh);
	free(vp);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
