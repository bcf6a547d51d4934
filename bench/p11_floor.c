/* The PKCS#11 floor: the least work a token needs for one certificate, with
 * no station around it. Per token, on a fresh SoftHSM2 token: C_InitToken,
 * C_InitPIN, C_GenerateKeyPair, one C_Sign (what a certificate request
 * costs), C_CreateObject of a certificate, and reading its value back; one
 * C_Initialize per run, one session for the SO and one for the user. The
 * station's per-token time is measured against this (bench/README.md).
 *
 * --form station: the same calls, with the token form the station writes:
 * the worker's key templates (src/worker/keytmpl.c), a 20-byte CKA_ID and the
 * profile's label, and two certificate objects, the holder's and the CA's,
 * with create_cert's 12 attributes (src/worker/certs.c) and real DER
 * (floor_certs.c, made once per run outside the timed part).
 *
 *   ukey-bench-floor [--module PATH] [--tokens N] [--alg ec|rsa] [--dir DIR]
 *                    [--token-dir DIR] [--keygen-delay-ms MS] [--form minimal|station]
 *
 * Prints one line: alg, tokens, median, p90 and mean milliseconds per token,
 * the PKCS#11 calls per token and the form. Never installed. */
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

#include <openssl/rand.h>
#include <pkcs11.h>

#include "bench/benchstat.h"
#include "bench/floor_certs.h"
#include "worker/keytmpl.h"

#define SO_PIN "12345678"
#define USER_PIN "246810"
#define DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"

static CK_FUNCTION_LIST *p11;
static unsigned long calls;
static long keygen_delay_ms;	/* --keygen-delay-ms: a slower token's key generation */
static int station_form;	/* --form station */
static struct floor_certs certs;	/* the station form's, made once per run */
static CK_BYTE station_id[20];	/* the station form's CKA_ID (the station draws 20 bytes) */

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
	char tokdir[700], conf[700];
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
keygen_delay(void)
{
	struct timespec ts = { keygen_delay_ms / 1000, (keygen_delay_ms % 1000) * 1000000L };

	if (keygen_delay_ms <= 0)
		return;
	/* as the virtual tokens' sim.keygen_delay_ms */
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static const CK_BYTE oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const CK_BYTE rsa_e65537[] = { 0x01, 0x00, 0x01 };

static void
keygen(CK_SESSION_HANDLE s, int rsa, CK_OBJECT_HANDLE *priv)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG bits = 2048;
	CK_BYTE id[] = { 1, 2, 3, 4 };
	CK_MECHANISM m = { rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pub_rsa[] = { { CKA_TOKEN, &yes, 1 }, { CKA_VERIFY, &yes, 1 },
		{ CKA_ID, id, sizeof(id) }, { CKA_MODULUS_BITS, &bits, sizeof(bits) },
		{ CKA_PUBLIC_EXPONENT, (void *)rsa_e65537, sizeof(rsa_e65537) } };
	CK_ATTRIBUTE pub_ec[] = { { CKA_TOKEN, &yes, 1 }, { CKA_VERIFY, &yes, 1 },
		{ CKA_ID, id, sizeof(id) }, { CKA_EC_PARAMS, (void *)oid_p256, sizeof(oid_p256) } };
	CK_ATTRIBUTE prv[] = { { CKA_TOKEN, &yes, 1 }, { CKA_PRIVATE, &yes, 1 },
		{ CKA_SENSITIVE, &yes, 1 }, { CKA_EXTRACTABLE, &no, 1 }, { CKA_SIGN, &yes, 1 },
		{ CKA_ID, id, sizeof(id) } };
	CK_OBJECT_HANDLE pub;
	CK_RV rv;

	keygen_delay();
	rv = CALL(C_GenerateKeyPair, s, &m, rsa ? pub_rsa : pub_ec, rsa ? 5 : 4, prv, 6, &pub,
	    priv);
	if (rv != CKR_OK)
		die("C_GenerateKeyPair", rv);
}

/* The worker's own templates (src/worker/keytmpl.c) for a key allowed to
 * sign only, under the station's id and the holder's label. */
static void
keygen_station(CK_SESSION_HANDLE s, int rsa, CK_OBJECT_HANDLE *priv)
{
	struct keytmpl t;
	CK_OBJECT_HANDLE pub;
	CK_RV rv;

	keytmpl_fill(&t, rsa, 1, 0, 0, 0, station_id, sizeof(station_id), certs.holder_label);
	keygen_delay();
	rv = CALL(C_GenerateKeyPair, s, &t.mech, t.pub, t.npub, t.priv, t.npriv, &pub, priv);
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

/* The certificate with this id found and its value read back: len bytes. */
static void
read_back(CK_SESSION_HANDLE s, CK_BYTE *id, CK_ULONG idlen, CK_ULONG len)
{
	static CK_BYTE back[4096];
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_ATTRIBUTE find[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, id, idlen } };
	CK_ATTRIBUTE get = { CKA_VALUE, back, sizeof(back) };
	CK_OBJECT_HANDLE found;
	CK_ULONG n = 0;
	CK_RV rv;

	if ((rv = CALL(C_FindObjectsInit, s, find, 2)) != CKR_OK ||
	    (rv = CALL(C_FindObjects, s, &found, 1, &n)) != CKR_OK ||
	    (rv = CALL(C_FindObjectsFinal, s)) != CKR_OK || n != 1)
		die("C_FindObjects", rv);
	if ((rv = CALL(C_GetAttributeValue, s, found, &get, 1)) != CKR_OK || get.ulValueLen != len)
		die("C_GetAttributeValue", rv);
}

/* A certificate object about the size of the station's (~700 bytes). */
static void
store_and_read_cert(CK_SESSION_HANDLE s)
{
	static CK_BYTE value[700];
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ct = CKC_X_509;
	CK_BBOOL yes = CK_TRUE;
	CK_BYTE id[] = { 1, 2, 3, 4 }, subject[] = { 0x30, 0x00 };
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_CERTIFICATE_TYPE, &ct, sizeof(ct) }, { CKA_TOKEN, &yes, 1 },
		{ CKA_ID, id, sizeof(id) }, { CKA_SUBJECT, subject, sizeof(subject) },
		{ CKA_VALUE, value, sizeof(value) } };
	CK_OBJECT_HANDLE o;
	CK_RV rv;

	memset(value, 0x5a, sizeof(value));
	if ((rv = CALL(C_CreateObject, s, t, 6, &o)) != CKR_OK)
		die("C_CreateObject", rv);
	read_back(s, id, sizeof(id), sizeof(value));
}

/* One certificate object as create_cert (src/worker/certs.c) writes it. */
static void
create_cert(CK_SESSION_HANDLE s, const struct floor_cert *c, CK_BYTE *id, CK_ULONG idlen,
    const char *label, CK_ULONG category)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ct = CKC_X_509;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_CERTIFICATE_TYPE, &ct, sizeof(ct) }, { CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &no, sizeof(no) }, { CKA_MODIFIABLE, &yes, sizeof(yes) },
		{ CKA_ID, id, idlen }, { CKA_LABEL, (void *)label, (CK_ULONG)strlen(label) },
		{ CKA_SUBJECT, c->subject, (CK_ULONG)c->subject_len },
		{ CKA_ISSUER, c->issuer, (CK_ULONG)c->issuer_len },
		{ CKA_SERIAL_NUMBER, c->serial, (CK_ULONG)c->serial_len },
		{ CKA_VALUE, c->der, (CK_ULONG)c->der_len },
		{ CKA_CERTIFICATE_CATEGORY, &category, sizeof(category) } };
	CK_OBJECT_HANDLE o;
	CK_RV rv;

	if ((rv = CALL(C_CreateObject, s, t, 12, &o)) != CKR_OK)
		die("C_CreateObject", rv);
}

/* The station form: the holder's certificate (category user) and the CA's
 * (authority, its id the SHA-1 of its key), then the holder's read back. */
static void
store_and_read_certs(CK_SESSION_HANDLE s)
{
	create_cert(s, &certs.holder, station_id, sizeof(station_id), certs.holder_label, 1);
	create_cert(s, &certs.ca, certs.ca_id, sizeof(certs.ca_id), certs.ca_label, 2);
	read_back(s, station_id, sizeof(station_id), (CK_ULONG)certs.holder.der_len);
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
	if (station_form)
		keygen_station(s, rsa, &priv);
	else
		keygen(s, rsa, &priv);
	sign_once(s, rsa, priv);
	if (station_form)
		store_and_read_certs(s);
	else
		store_and_read_cert(s);
	if ((rv = CALL(C_Logout, s)) != CKR_OK || (rv = CALL(C_CloseSession, s)) != CKR_OK)
		die("C_CloseSession", rv);
	if ((rv = CALL(C_Finalize, NULL)) != CKR_OK)
		die("C_Finalize", rv);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

#define USAGE "usage: ukey-bench-floor [--module PATH] [--tokens N] [--alg ec|rsa] " \
	"[--dir DIR | --token-dir DIR] [--keygen-delay-ms MS] [--form minimal|station]\n"

struct floor_opts {
	const char *module, *alg, *dir, *token_dir, *form;
	int n;
};

static int
parse_opts(int argc, char **argv, struct floor_opts *o)
{
	static const struct option opts[] = {
		{ "module", required_argument, NULL, 'm' },
		{ "tokens", required_argument, NULL, 'n' },
		{ "alg", required_argument, NULL, 'a' },
		{ "dir", required_argument, NULL, 'd' },
		{ "token-dir", required_argument, NULL, 't' },
		{ "keygen-delay-ms", required_argument, NULL, 'k' },
		{ "form", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct floor_opts){ DEFAULT_MODULE, "ec", NULL, NULL, "minimal", 30 };
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm': o->module = optarg; break;
		case 'n': o->n = atoi(optarg); break;
		case 'a': o->alg = optarg; break;
		case 'd': o->dir = optarg; break;
		case 't': o->token_dir = optarg; break;
		case 'k': keygen_delay_ms = atol(optarg); break;
		case 'f': o->form = optarg; break;
		default:
			fprintf(stderr, USAGE);
			return 64;
		}
	}
	if (o->n < 1 || o->n > 100000 || (strcmp(o->alg, "ec") != 0 &&
	    strcmp(o->alg, "rsa") != 0) || (strcmp(o->form, "minimal") != 0 &&
	    strcmp(o->form, "station") != 0) || (o->dir != NULL && o->token_dir != NULL)) {
		fprintf(stderr, "ukey-bench-floor: --tokens 1..100000, --alg ec or rsa, --form "
		    "minimal or station, --dir or --token-dir (not both)\n");
		return 64;
	}
	station_form = strcmp(o->form, "station") == 0;
	return 0;
}

/* The run's token stores: --dir DIR itself (kept), else a new directory
 * under --token-dir DIR or /tmp, removed at the end (*made set). */
static const char *
store_dir(const struct floor_opts *o, char *buf, size_t len, int *made)
{
	*made = 0;
	if (o->dir != NULL)
		return o->dir;
	snprintf(buf, len, "%s/ukey-bench-floor.XXXXXX", o->token_dir ? o->token_dir : "/tmp");
	if (mkdtemp(buf) == NULL) {
		fprintf(stderr, "ukey-bench-floor: %s: cannot make a directory in it: %s\n",
		    o->token_dir ? o->token_dir : "/tmp", strerror(errno));
		exit(1);
	}
	*made = 1;
	return buf;
}

int
main(int argc, char **argv)
{
	struct floor_opts o;
	char tmp[600];
	const char *dir;
	CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
	struct bench_stat st;
	double *ms;
	void *dl;
	int i, rc, rsa, made;

	if ((rc = parse_opts(argc, argv, &o)) != 0)
		return rc;
	rsa = strcmp(o.alg, "rsa") == 0;
	/* the station form's certificates and id: outside the timed part */
	if (station_form && (floor_certs_make(rsa, &certs) != 0 ||
	    RAND_bytes(station_id, sizeof(station_id)) != 1))
		return 1;
	if ((dl = dlopen(o.module, RTLD_NOW | RTLD_LOCAL)) == NULL ||
	    (*(void **)&get_list = dlsym(dl, "C_GetFunctionList")) == NULL ||
	    get_list(&p11) != CKR_OK) {
		fprintf(stderr, "ukey-bench-floor: %s: cannot load: %s\n", o.module, dlerror());
		return 1;
	}
	if ((ms = calloc((size_t)o.n, sizeof(*ms))) == NULL)
		return 1;
	dir = store_dir(&o, tmp, sizeof(tmp), &made);
	for (i = 0; i < o.n; i++) {
		fresh_store(dir, i);
		ms[i] = one_token(rsa);
	}
	bench_stat_of(ms, (size_t)o.n, &st);
	/* new fields go at the end: ukey-bench-all parses them by name */
	printf("floor %s tokens=%d median_ms=%.2f p90_ms=%.2f mean_ms=%.2f p11_calls_per_token=%lu "
	    "form=%s\n", o.alg, o.n, st.median, st.p90, st.mean, calls / (unsigned long)o.n, o.form);
	free(ms);
	if (made)
		nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	floor_certs_free(&certs);
	return 0;
}
