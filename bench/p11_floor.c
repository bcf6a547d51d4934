/* The PKCS#11 floor: the least work a token needs for one certificate, with
 * no station around it. Per token, on a fresh SoftHSM2 token: C_InitToken,
 * C_InitPIN, C_GenerateKeyPair, one C_Sign (what a certificate request
 * costs), C_CreateObject of a certificate, and reading its value back; one
 * C_Initialize per run, one session for the SO and one for the user. The
 * station's per-token time is measured against this (bench/README.md).
 *
 *   ukey-bench-floor [--module PATH] [--tokens N] [--alg ec|rsa] [--dir DIR]
 *
 * Prints one line: alg, tokens, median, p90 and mean milliseconds per token,
 * and the PKCS#11 calls per token. Never installed. */
#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pkcs11.h>

#include "bench/benchstat.h"

#define SO_PIN "12345678"
#define USER_PIN "246810"
#define DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"

static CK_FUNCTION_LIST *p11;
static unsigned long calls;
static long keygen_delay_ms;	/* --keygen-delay-ms: a slower token's key generation */

#define CALL(fn, ...) (calls++, p11->fn(__VA_ARGS__))

static void
die(const char *what, CK_RV rv)
{
	fprintf(stderr, "ukey-bench-floor: %s: 0x%lx\n", what, (unsigned long)rv);
	exit(1);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A fresh SoftHSM2 store: one blank slot. */
static void
fresh_store(const char *dir, int n)
{
	char tokdir[512], conf[512];
	FILE *f;

	snprintf(tokdir, sizeof(tokdir), "%s/t%d", dir, n);
	if (mkdir(tokdir, 0700) != 0 && errno != EEXIST) {
		perror(tokdir);
		exit(1);
	}
	snprintf(conf, sizeof(conf), "%s/t%d.conf", dir, n);
	if ((f = fopen(conf, "w")) == NULL) {
		perror(conf);
		exit(1);
	}
	fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
	    tokdir);
	fclose(f);
	setenv("SOFTHSM2_CONF", conf, 1);
}

static CK_SLOT_ID
first_slot(void)
{
	CK_SLOT_ID slots[4];
	CK_ULONG n = 4;
	CK_RV rv;

	if ((rv = CALL(C_GetSlotList, CK_TRUE, slots, &n)) != CKR_OK || n == 0)
		die("C_GetSlotList", rv);
	return slots[0];
}

static void
keygen(CK_SESSION_HANDLE s, int rsa, CK_OBJECT_HANDLE *priv)
{
	static CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	static CK_BYTE e[] = { 0x01, 0x00, 0x01 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG bits = 2048;
	CK_BYTE id[] = { 1, 2, 3, 4 };
	CK_MECHANISM m = { rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pub_rsa[] = { { CKA_TOKEN, &yes, 1 }, { CKA_VERIFY, &yes, 1 },
		{ CKA_ID, id, sizeof(id) }, { CKA_MODULUS_BITS, &bits, sizeof(bits) },
		{ CKA_PUBLIC_EXPONENT, e, sizeof(e) } };
	CK_ATTRIBUTE pub_ec[] = { { CKA_TOKEN, &yes, 1 }, { CKA_VERIFY, &yes, 1 },
		{ CKA_ID, id, sizeof(id) }, { CKA_EC_PARAMS, p256, sizeof(p256) } };
	CK_ATTRIBUTE prv[] = { { CKA_TOKEN, &yes, 1 }, { CKA_PRIVATE, &yes, 1 },
		{ CKA_SENSITIVE, &yes, 1 }, { CKA_EXTRACTABLE, &no, 1 }, { CKA_SIGN, &yes, 1 },
		{ CKA_ID, id, sizeof(id) } };
	CK_OBJECT_HANDLE pub;
	CK_RV rv;

	if (keygen_delay_ms > 0) {	/* as the virtual tokens' sim.keygen_delay_ms */
		struct timespec ts = { keygen_delay_ms / 1000, (keygen_delay_ms % 1000) * 1000000L };

		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	rv = CALL(C_GenerateKeyPair, s, &m, rsa ? pub_rsa : pub_ec, rsa ? 5 : 4, prv, 6, &pub,
	    priv);
	if (rv != CKR_OK)
		die("C_GenerateKeyPair", rv);
}

static void
sign_once(CK_SESSION_HANDLE s, int rsa, CK_OBJECT_HANDLE priv)
{
	CK_MECHANISM m = { rsa ? CKM_SHA256_RSA_PKCS : CKM_ECDSA, NULL, 0 };
	CK_BYTE data[32] = { 0 }, sig[512];
	CK_ULONG len = sizeof(sig);
	CK_RV rv;

	if ((rv = CALL(C_SignInit, s, &m, priv)) != CKR_OK)
		die("C_SignInit", rv);
	if ((rv = CALL(C_Sign, s, data, sizeof(data), sig, &len)) != CKR_OK)
		die("C_Sign", rv);
}

/* A certificate object about the size of the station's (~700 bytes). */
static void
store_and_read_cert(CK_SESSION_HANDLE s)
{
	static CK_BYTE value[700];
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ct = CKC_X_509;
	CK_BBOOL yes = CK_TRUE;
	CK_BYTE id[] = { 1, 2, 3, 4 }, subject[] = { 0x30, 0x00 }, back[1024];
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_CERTIFICATE_TYPE, &ct, sizeof(ct) }, { CKA_TOKEN, &yes, 1 },
		{ CKA_ID, id, sizeof(id) }, { CKA_SUBJECT, subject, sizeof(subject) },
		{ CKA_VALUE, value, sizeof(value) } };
	CK_ATTRIBUTE find[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, id, sizeof(id) } };
	CK_ATTRIBUTE get = { CKA_VALUE, back, sizeof(back) };
	CK_OBJECT_HANDLE o, found;
	CK_ULONG n = 0;
	CK_RV rv;

	memset(value, 0x5a, sizeof(value));
	if ((rv = CALL(C_CreateObject, s, t, 6, &o)) != CKR_OK)
		die("C_CreateObject", rv);
	if ((rv = CALL(C_FindObjectsInit, s, find, 2)) != CKR_OK ||
	    (rv = CALL(C_FindObjects, s, &found, 1, &n)) != CKR_OK ||
	    (rv = CALL(C_FindObjectsFinal, s)) != CKR_OK || n != 1)
		die("C_FindObjects", rv);
	if ((rv = CALL(C_GetAttributeValue, s, found, &get, 1)) != CKR_OK ||
	    get.ulValueLen != sizeof(value))
		die("C_GetAttributeValue", rv);
}

static double
one_token(int rsa)
{
	CK_UTF8CHAR label[32];
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE priv;
	CK_SLOT_ID slot;
	struct timespec t0, t1;
	CK_RV rv;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((rv = CALL(C_Initialize, NULL)) != CKR_OK)
		die("C_Initialize", rv);
	slot = first_slot();
	memset(label, ' ', sizeof(label));
	memcpy(label, "bench", 5);
	if ((rv = CALL(C_InitToken, slot, (CK_UTF8CHAR_PTR)SO_PIN, 8, label)) != CKR_OK)
		die("C_InitToken", rv);
	slot = first_slot();	/* SoftHSM2 moves an initialised token to a new slot id */
	if ((rv = CALL(C_OpenSession, slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
	    &s)) != CKR_OK)
		die("C_OpenSession", rv);
	if ((rv = CALL(C_Login, s, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, 8)) != CKR_OK ||
	    (rv = CALL(C_InitPIN, s, (CK_UTF8CHAR_PTR)USER_PIN, 6)) != CKR_OK ||
	    (rv = CALL(C_Logout, s)) != CKR_OK ||
	    (rv = CALL(C_Login, s, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, 6)) != CKR_OK)
		die("PIN set-up", rv);
	keygen(s, rsa, &priv);
	sign_once(s, rsa, priv);
	store_and_read_cert(s);
	if ((rv = CALL(C_Logout, s)) != CKR_OK || (rv = CALL(C_CloseSession, s)) != CKR_OK)
		die("C_CloseSession", rv);
	if ((rv = CALL(C_Finalize, NULL)) != CKR_OK)
		die("C_Finalize", rv);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "module", required_argument, NULL, 'm' },
		{ "tokens", required_argument, NULL, 'n' },
		{ "alg", required_argument, NULL, 'a' },
		{ "dir", required_argument, NULL, 'd' },
		{ "keygen-delay-ms", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *module = DEFAULT_MODULE, *alg = "ec", *dir = NULL;
	char tmp[] = "/tmp/ukey-bench-floor.XXXXXX";
	CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
	struct bench_stat st;
	double *ms;
	void *dl;
	int n = 30, i, c, rsa;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm': module = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 'a': alg = optarg; break;
		case 'd': dir = optarg; break;
		case 'k': keygen_delay_ms = atol(optarg); break;
		default:
			fprintf(stderr, "usage: ukey-bench-floor [--module PATH] [--tokens N] "
			    "[--alg ec|rsa] [--dir DIR] [--keygen-delay-ms MS]\n");
			return 64;
		}
	}
	if (n < 1 || n > 100000 || (strcmp(alg, "ec") != 0 && strcmp(alg, "rsa") != 0)) {
		fprintf(stderr, "ukey-bench-floor: --tokens 1..100000, --alg ec or rsa\n");
		return 64;
	}
	rsa = strcmp(alg, "rsa") == 0;
	if (dir == NULL && (dir = mkdtemp(tmp)) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	if ((dl = dlopen(module, RTLD_NOW | RTLD_LOCAL)) == NULL ||
	    (*(void **)&get_list = dlsym(dl, "C_GetFunctionList")) == NULL ||
	    get_list(&p11) != CKR_OK) {
		fprintf(stderr, "ukey-bench-floor: %s: cannot load: %s\n", module, dlerror());
		return 1;
	}
	if ((ms = calloc((size_t)n, sizeof(*ms))) == NULL)
		return 1;
	for (i = 0; i < n; i++) {
		fresh_store(dir, i);
		ms[i] = one_token(rsa);
	}
	bench_stat_of(ms, (size_t)n, &st);
	printf("floor %s tokens=%d median_ms=%.2f p90_ms=%.2f mean_ms=%.2f p11_calls_per_token=%lu\n",
	    alg, n, st.median, st.p90, st.mean, calls / (unsigned long)n);
	free(ms);
	if (dir == tmp)
		nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
