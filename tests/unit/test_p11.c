/* The worker's PKCS#11 layer and operations with a token that fails: a
 * function list that forwards to SoftHSM2 but answers CKR_DEVICE_REMOVED at
 * the Nth call, for every N, so that every error and cleanup path of every op
 * runs (ASan/LSan watch for leaks) and leaves no session or half-made key. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* the worker is a program, not part of libukey: its files are built in here */
#include "worker/p11.c"
#include "worker/req.c"
#include "worker/token.c"
#include "worker/pubkey.c"
#include "worker/discard.c"
#include "worker/keytmpl.c"
#include "worker/keygen.c"
#include "worker/csr.c"
#include "worker/certs.c"
#include "worker/inspect.c"
#include "worker/after.c"

#include <openssl/bn.h>
#include <openssl/x509.h>

#define SOFTHSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define PIN "246810"
#define SOPIN "13579135"

static CK_FUNCTION_LIST *real;
static CK_FUNCTION_LIST fake;
static int calls, fail_at;
static const char *failed_call;

#define INJECT(name)						\
	do {							\
		if (++calls == fail_at) {			\
			failed_call = name;			\
			return CKR_DEVICE_REMOVED;		\
		}						\
	} while (0)

static CK_RV w_GetSlotList(CK_BBOOL a, CK_SLOT_ID_PTR b, CK_ULONG_PTR c)
{ INJECT("C_GetSlotList"); return real->C_GetSlotList(a, b, c); }
static CK_RV w_GetSlotInfo(CK_SLOT_ID a, CK_SLOT_INFO_PTR b)
{ INJECT("C_GetSlotInfo"); return real->C_GetSlotInfo(a, b); }
static CK_RV w_GetTokenInfo(CK_SLOT_ID a, CK_TOKEN_INFO_PTR b)
{ INJECT("C_GetTokenInfo"); return real->C_GetTokenInfo(a, b); }
static CK_RV w_GetMechanismList(CK_SLOT_ID a, CK_MECHANISM_TYPE_PTR b, CK_ULONG_PTR c)
{ INJECT("C_GetMechanismList"); return real->C_GetMechanismList(a, b, c); }
static CK_RV w_GetMechanismInfo(CK_SLOT_ID a, CK_MECHANISM_TYPE b, CK_MECHANISM_INFO_PTR c)
{ INJECT("C_GetMechanismInfo"); return real->C_GetMechanismInfo(a, b, c); }
static CK_RV w_InitToken(CK_SLOT_ID a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d)
{ INJECT("C_InitToken"); return real->C_InitToken(a, b, c, d); }
static CK_RV w_InitPIN(CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c)
{ INJECT("C_InitPIN"); return real->C_InitPIN(a, b, c); }
static CK_RV w_SetPIN(CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d,
    CK_ULONG e)
{ INJECT("C_SetPIN"); return real->C_SetPIN(a, b, c, d, e); }
static int open_sessions;	/* opened through the worker and not closed */

static CK_RV w_OpenSession(CK_SLOT_ID a, CK_FLAGS b, void *c, CK_NOTIFY d, CK_SESSION_HANDLE_PTR e)
{
	CK_RV rv;

	INJECT("C_OpenSession");
	if ((rv = real->C_OpenSession(a, b, c, d, e)) == CKR_OK)
		open_sessions++;
	return rv;
}
static CK_RV w_Login(CK_SESSION_HANDLE a, CK_USER_TYPE b, CK_UTF8CHAR_PTR c, CK_ULONG d)
{ INJECT("C_Login"); return real->C_Login(a, b, c, d); }
static CK_RV w_CreateObject(CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c,
    CK_OBJECT_HANDLE_PTR d)
{ INJECT("C_CreateObject"); return real->C_CreateObject(a, b, c, d); }
static CK_RV w_DestroyObject(CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b)
{ INJECT("C_DestroyObject"); return real->C_DestroyObject(a, b); }
static CK_RV w_GetAttributeValue(CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c,
    CK_ULONG d)
{ INJECT("C_GetAttributeValue"); return real->C_GetAttributeValue(a, b, c, d); }
static CK_RV w_FindObjectsInit(CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c)
{ INJECT("C_FindObjectsInit"); return real->C_FindObjectsInit(a, b, c); }
static CK_RV w_FindObjects(CK_SESSION_HANDLE a, CK_OBJECT_HANDLE_PTR b, CK_ULONG c,
    CK_ULONG_PTR d)
{ INJECT("C_FindObjects"); return real->C_FindObjects(a, b, c, d); }
static CK_RV w_SignInit(CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c)
{ INJECT("C_SignInit"); return real->C_SignInit(a, b, c); }
static CK_RV w_Sign(CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e)
{ INJECT("C_Sign"); return real->C_Sign(a, b, c, d, e); }
static int lax_module;	/* makes keys extractable whatever the template says */

static CK_RV w_GenerateKeyPair(CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c,
    CK_ULONG d, CK_ATTRIBUTE_PTR e, CK_ULONG f, CK_OBJECT_HANDLE_PTR g, CK_OBJECT_HANDLE_PTR h)
{
	CK_ATTRIBUTE priv[16];
	CK_BBOOL yes = CK_TRUE;
	CK_ULONG i;

	INJECT("C_GenerateKeyPair");
	if (!lax_module || f > 16)
		return real->C_GenerateKeyPair(a, b, c, d, e, f, g, h);
	memcpy(priv, e, f * sizeof(*e));
	for (i = 0; i < f; i++)
		if (priv[i].type == CKA_EXTRACTABLE)
			priv[i].pValue = &yes;
	return real->C_GenerateKeyPair(a, b, c, d, priv, f, g, h);
}

/* Calls that end something still end it, then report the failure: a module
 * that says "removed" here has dropped the state anyway. */
static CK_RV w_CloseSession(CK_SESSION_HANDLE a)
{
	CK_RV rv = real->C_CloseSession(a);

	if (rv == CKR_OK)
		open_sessions--;
	INJECT("C_CloseSession");
	return rv;
}
static CK_RV w_Logout(CK_SESSION_HANDLE a)
{ CK_RV rv = real->C_Logout(a); INJECT("C_Logout"); return rv; }
static CK_RV w_FindObjectsFinal(CK_SESSION_HANDLE a)
{ CK_RV rv = real->C_FindObjectsFinal(a); INJECT("C_FindObjectsFinal"); return rv; }

struct fixture {
	char dir[128];
	struct p11 p;
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static struct json_object *
request(const char *fmt, ...)
{
	struct json_object *o;
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	assert_true(vasprintf(&s, fmt, ap) > 0);
	va_end(ap);
	assert_non_null(o = json_tokener_parse(s));
	free(s);
	return o;
}

/* Runs op once with no failure injected; returns the reply (caller puts). */
static struct json_object *
run_clean(struct p11 *p, op_fn fn, const char *req_text)
{
	struct json_object *req = request("%s", req_text), *rep = json_object_new_object();
	int rc;

	fail_at = 0;
	p11_error_clear(p);
	rc = fn(p, req, rep);
	if (rc != 0)
		fail_msg("clean run failed: %s (%s)", ukey_errname(rc), p->err_msg);
	json_object_put(req);
	return rep;
}

static void
no_sessions_left(struct p11 *p)
{
	(void)p;
	assert_int_equal(open_sessions, 0);
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char path[192];
	FILE *f;

	assert_non_null(fx);
	assert_int_equal(access(SOFTHSM_MODULE, R_OK), 0);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/ukey-test-p11-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(path, sizeof(path), "%s/tokens", fx->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/softhsm2.conf", fx->dir);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n",
	    fx->dir);
	fclose(f);
	setenv("SOFTHSM2_CONF", path, 1);
	assert_int_equal(p11_load(&fx->p, SOFTHSM_MODULE), 0);
	real = fx->p.f;
	fake = *real;
	fake.C_GetSlotList = w_GetSlotList;
	fake.C_GetSlotInfo = w_GetSlotInfo;
	fake.C_GetTokenInfo = w_GetTokenInfo;
	fake.C_GetMechanismList = w_GetMechanismList;
	fake.C_GetMechanismInfo = w_GetMechanismInfo;
	fake.C_InitToken = w_InitToken;
	fake.C_InitPIN = w_InitPIN;
	fake.C_SetPIN = w_SetPIN;
	fake.C_OpenSession = w_OpenSession;
	fake.C_CloseSession = w_CloseSession;
	fake.C_Login = w_Login;
	fake.C_Logout = w_Logout;
	fake.C_CreateObject = w_CreateObject;
	fake.C_DestroyObject = w_DestroyObject;
	fake.C_GetAttributeValue = w_GetAttributeValue;
	fake.C_FindObjectsInit = w_FindObjectsInit;
	fake.C_FindObjects = w_FindObjects;
	fake.C_FindObjectsFinal = w_FindObjectsFinal;
	fake.C_SignInit = w_SignInit;
	fake.C_Sign = w_Sign;
	fake.C_GenerateKeyPair = w_GenerateKeyPair;
	fx->p.f = &fake;
	/* one session per request, as the fault tests count them;
	 * test_shared_session turns the kept session on */
	fx->p.no_share = 1;
	json_object_put(run_clean(&fx->p, op_init_token, "{\"label\":\"fault\",\"so_pin\":\"" SOPIN
	    "\",\"user_pin\":\"" PIN "\"}"));
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	fx->p.f = real;
	p11_unload(&fx->p);
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Runs op with a failure at call 1, 2, 3, ... until it completes without
 * reaching the injected call. Returns how many failure points it went through. */
static int
inject_all(struct p11 *p, op_fn fn, const char *req_text, void (*after)(struct p11 *, int, int))
{
	int n;

	for (n = 1; n < 500; n++) {
		struct json_object *req = request("%s", req_text), *rep = json_object_new_object();
		int rc;

		calls = 0;
		fail_at = n;
		failed_call = NULL;
		p11_error_clear(p);
		rc = fn(p, req, rep);
		json_object_put(req);
		json_object_put(rep);
		if (calls < n) {	/* nothing left to fail */
			assert_int_equal(rc, 0);
			fail_at = 0;
			return n - 1;
		}
		if (rc != 0) {
			/* every failure names itself */
			assert_true(p->err_msg[0] != '\0');
		} else {
			/* only the closing calls may fail without failing the op,
			 * and lookups that fall back */
			assert_non_null(failed_call);
		}
		fail_at = 0;
		no_sessions_left(p);
		if (after != NULL)
			after(p, n, rc);
	}
	fail_msg("op never completed");
	return 0;
}

static int
count_keys(struct p11 *p, const char *idhex)
{
	CK_SESSION_HANDLE s;
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_OBJECT_HANDLE objs[8];
	uint8_t *id;
	size_t idlen, n = 0;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, NULL, 0 } };

	assert_int_equal(hex_decode(idhex, &id, &idlen), 0);
	t[1].pValue = id;
	t[1].ulValueLen = (CK_ULONG)idlen;
	assert_int_equal(real->C_OpenSession(p->slot, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
	assert_int_equal(real->C_FindObjectsInit(s, t, 2), CKR_OK);
	assert_int_equal(real->C_FindObjects(s, objs, 8, (CK_ULONG *)&n), CKR_OK);
	real->C_FindObjectsFinal(s);
	real->C_CloseSession(s);
	free(id);
	return (int)n;
}

/* Removes every object with this id (through the real module). */
static void
destroy_id(struct p11 *p, const char *idhex)
{
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE objs[8];
	CK_ULONG n = 0, i;
	uint8_t *id;
	size_t idlen;
	CK_ATTRIBUTE t[] = { { CKA_ID, NULL, 0 } };

	assert_int_equal(hex_decode(idhex, &id, &idlen), 0);
	t[0].pValue = id;
	t[0].ulValueLen = (CK_ULONG)idlen;
	assert_int_equal(real->C_OpenSession(p->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
	    NULL, &s), CKR_OK);
	assert_int_equal(real->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)PIN, strlen(PIN)), CKR_OK);
	assert_int_equal(real->C_FindObjectsInit(s, t, 1), CKR_OK);
	assert_int_equal(real->C_FindObjects(s, objs, 8, &n), CKR_OK);
	real->C_FindObjectsFinal(s);
	for (i = 0; i < n; i++)
		assert_int_equal(real->C_DestroyObject(s, objs[i]), CKR_OK);
	real->C_Logout(s);
	real->C_CloseSession(s);
	free(id);
}

static int keygen_round;

static void
after_keygen(struct p11 *p, int n, int rc)
{
	char id[16];

	snprintf(id, sizeof(id), "%04x", keygen_round);
	/* a failed generate_key leaves no key behind, unless the failure was
	 * the very call that removes it */
	if (rc != 0 && (failed_call == NULL || strcmp(failed_call, "C_DestroyObject") != 0))
		if (count_keys(p, id) != 0)
			fail_msg("key %s left after %s failed (call %d)", id, failed_call, n);
	/* the op got past a failure it may tolerate, or left a key it could not
	 * remove: start the next try from an empty token */
	destroy_id(p, id);
}

static void
test_fault_generate_key(void **state)
{
	struct fixture *fx = *state;
	char req[256];
	int points;

	for (keygen_round = 1; keygen_round <= 2; keygen_round++) {
		snprintf(req, sizeof(req), "{\"user_pin\":\"" PIN "\",\"alg\":\"%s\",\"id\":\"%04x\","
		    "\"label\":\"k\",\"usage\":%s}", keygen_round == 1 ? "ec-p256" : "rsa2048",
		    keygen_round, keygen_round == 1 ? "[\"sign\"]" : "[\"sign\",\"decrypt\",\"unwrap\"]");
		/* every failure point is tried on the same id: after a failure
		 * the key must be gone, so that the next try can make it */
		points = inject_all(&fx->p, op_generate_key, req, after_keygen);
		assert_true(points > 5);
	}
}

/* A module that makes an extractable key although asked not to: the key is
 * refused and destroyed, and the reply names the attribute. */
static void
test_lax_module(void **state)
{
	struct fixture *fx = *state;
	struct json_object *req, *rep;
	int rc;

	req = request("{\"user_pin\":\"" PIN "\",\"alg\":\"ec-p256\",\"id\":\"0bad\",\"label\":\"k\",\"usage\":[\"sign\"]}");
	rep = json_object_new_object();
	lax_module = 1;
	p11_error_clear(&fx->p);
	rc = op_generate_key(&fx->p, req, rep);
	lax_module = 0;
	assert_int_equal(rc, UKEY_ERR_VERIFY);
	assert_non_null(strstr(fx->p.err_msg, "EXTRACTABLE"));
	assert_null(json_object_object_get(rep, "public_key"));
	assert_int_equal(count_keys(&fx->p, "0bad"), 0);
	assert_int_equal(open_sessions, 0);
	json_object_put(req);
	json_object_put(rep);
	/* the same request against an honest module goes through */
	json_object_put(run_clean(&fx->p, op_generate_key, "{\"user_pin\":\"" PIN
	    "\",\"alg\":\"ec-p256\",\"id\":\"0bad\",\"label\":\"k\",\"usage\":[\"sign\"]}"));
	assert_int_equal(count_keys(&fx->p, "0bad"), 1);
}

static void
test_fault_probe_inspect(void **state)
{
	struct fixture *fx = *state;

	json_object_put(run_clean(&fx->p, op_generate_key, "{\"user_pin\":\"" PIN
	    "\",\"alg\":\"ec-p256\",\"id\":\"01\",\"label\":\"k\",\"usage\":[\"sign\"]}"));
	assert_true(inject_all(&fx->p, op_probe, "{}", NULL) > 3);
	assert_true(inject_all(&fx->p, op_inspect, "{\"user_pin\":\"" PIN "\"}", NULL) > 5);
	assert_true(inject_all(&fx->p, op_inspect, "{}", NULL) > 3);
}

static void
test_fault_init_token(void **state)
{
	struct fixture *fx = *state;

	/* re-initialisation with the same SO PIN, so each try starts alike */
	assert_true(inject_all(&fx->p, op_init_token, "{\"label\":\"again\",\"so_pin\":\"" SOPIN
	    "\",\"user_pin\":\"" PIN "\",\"old_so_pin\":\"" SOPIN "\"}", NULL) > 5);
}

static void
test_fault_csr_cert(void **state)
{
	struct fixture *fx = *state;
	struct json_object *rep;
	const unsigned char *q;
	uint8_t *spki;
	size_t spkilen;
	EVP_PKEY *pub, *cakey;
	X509 *ee, *ca;
	X509_NAME *name;
	unsigned char *der = NULL, *cader = NULL;
	char *hee, *hca, req[8192];
	int len, calen;

	rep = run_clean(&fx->p, op_generate_key, "{\"user_pin\":\"" PIN
	    "\",\"alg\":\"rsa2048\",\"id\":\"c0de\",\"label\":\"k\",\"usage\":[\"sign\"]}");
	assert_int_equal(hex_decode(json_object_get_string(json_object_object_get(rep,
	    "public_key")), &spki, &spkilen), 0);
	json_object_put(rep);
	q = spki;
	assert_non_null(pub = d2i_PUBKEY(NULL, &q, (long)spkilen));
	free(spki);
	assert_true(inject_all(&fx->p, op_make_csr, "{\"user_pin\":\"" PIN "\",\"id\":\"c0de\","
	    "\"subject\":\"300f310d300b06035504030c0474657374\"}", NULL) > 5);

	/* a self-signed CA and a certificate for the token key */
	assert_non_null(cakey = EVP_EC_gen("P-256"));
	name = X509_NAME_new();
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)"CA", -1, -1,
	    0);
	ca = X509_new();
	ee = X509_new();
	X509_set_version(ca, 2);
	X509_set_version(ee, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(ca), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(ee), 2);
	X509_set_subject_name(ca, name);
	X509_set_issuer_name(ca, name);
	X509_set_issuer_name(ee, name);
	X509_set_subject_name(ee, name);
	X509_gmtime_adj(X509_getm_notBefore(ca), 0);
	X509_gmtime_adj(X509_getm_notAfter(ca), 86400);
	X509_gmtime_adj(X509_getm_notBefore(ee), 0);
	X509_gmtime_adj(X509_getm_notAfter(ee), 86400);
	X509_set_pubkey(ca, cakey);
	X509_set_pubkey(ee, pub);
	assert_true(X509_sign(ca, cakey, EVP_sha256()) > 0);
	assert_true(X509_sign(ee, cakey, EVP_sha256()) > 0);
	assert_true((len = i2d_X509(ee, &der)) > 0);
	assert_true((calen = i2d_X509(ca, &cader)) > 0);
	hee = hex_encode(der, (size_t)len);
	hca = hex_encode(cader, (size_t)calen);
	snprintf(req, sizeof(req), "{\"user_pin\":\"" PIN "\",\"id\":\"c0de\",\"label\":\"k\","
	    "\"cert\":\"%s\",\"ca_cert\":\"%s\"}", hee, hca);
	/* a try that failed after writing is completed by the next one */
	assert_true(inject_all(&fx->p, op_write_cert, req, NULL) > 5);
	assert_true(inject_all(&fx->p, op_read_back, "{\"user_pin\":\"" PIN "\",\"id\":\"c0de\"}",
	    NULL) > 5);
	rep = run_clean(&fx->p, op_read_back, "{\"user_pin\":\"" PIN "\",\"id\":\"c0de\"}");
	assert_string_equal(json_object_get_string(json_object_object_get(rep, "cert")), hee);
	assert_int_equal(json_object_array_length(json_object_object_get(rep, "ca_certs")), 1);
	json_object_put(rep);
	assert_true(inject_all(&fx->p, op_inspect, "{\"user_pin\":\"" PIN "\"}", NULL) > 5);

	free(hee);
	free(hca);
	OPENSSL_free(der);
	OPENSSL_free(cader);
	X509_free(ee);
	X509_free(ca);
	X509_NAME_free(name);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(pub);
}

static void
test_names(void **state)
{
	char out[64];
	char *u;

	(void)state;
	assert_string_equal(p11_ckr_name(CKR_DEVICE_REMOVED), "CKR_DEVICE_REMOVED");
	assert_string_equal(p11_ckr_name(CKR_VENDOR_DEFINED | 5), "CKR_VENDOR_DEFINED");
	assert_string_equal(p11_ckr_name(0x7777), "CKR_UNKNOWN");
	assert_int_equal(p11_rv_to_err(CKR_OK), 0);
	assert_int_equal(p11_rv_to_err(CKR_DEVICE_REMOVED), UKEY_ERR_REMOVED);
	assert_int_equal(p11_rv_to_err(CKR_TOKEN_NOT_PRESENT), UKEY_ERR_REMOVED);
	assert_int_equal(p11_rv_to_err(CKR_DEVICE_ERROR), UKEY_ERR_REMOVED);
	assert_int_equal(p11_rv_to_err(CKR_PIN_INCORRECT), UKEY_ERR_PIN);
	assert_int_equal(p11_rv_to_err(CKR_PIN_LOCKED), UKEY_ERR_PIN);
	assert_int_equal(p11_rv_to_err(CKR_MECHANISM_INVALID), UKEY_ERR_UNSUPPORTED);
	assert_int_equal(p11_rv_to_err(CKR_GENERAL_ERROR), UKEY_ERR_P11);
	/* token text: padding trimmed, control bytes and broken UTF-8 replaced,
	 * characters never cut in half */
	p11_text(out, sizeof(out), (const unsigned char *)"ab\x01\xff\xc3  ", 7);
	assert_string_equal(out, "ab???");
	p11_text(out, sizeof(out), (const unsigned char *)"\xe4\xba\x91\xe5\x8d\x97", 6);
	assert_string_equal(out, "云南");
	p11_text(out, 5, (const unsigned char *)"\xe4\xba\x91\xe5\x8d\x97", 6);
	assert_string_equal(out, "云");
	p11_text(out, sizeof(out), (const unsigned char *)"\xed\xa0\x80", 3);	/* surrogate */
	assert_string_equal(out, "???");
	/* URI values: everything but unreserved characters percent-encoded */
	assert_int_equal(p11uri_format(&(const struct p11uri){ .token = "My Token;x=1/\xe4" }, &u),
	    0);
	assert_non_null(strstr(u, ";token=My%20Token%3Bx%3D1%2F%E4"));
	free(u);
}

/* Probe's slot selection with two initialised tokens and a blank slot in one
 * module: by USB serial (last 16 characters), by reader name, with other
 * bays' tokens excluded, never a guess between two, and a bounded wait. */
static int
probe_rc(struct p11 *p, const char *fmt, ...)
{
	struct json_object *req, *rep = json_object_new_object();
	char *txt;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	assert_true(vasprintf(&txt, fmt, ap) > 0);
	va_end(ap);
	assert_non_null(req = json_tokener_parse(txt));
	free(txt);
	fail_at = 0;
	p11_error_clear(p);
	rc = op_probe(p, req, rep);
	json_object_put(req);
	json_object_put(rep);
	return rc;
}

static void
test_probe_select(void **state)
{
	struct fixture *fx = *state;
	struct p11 *p = &fx->p;
	CK_SLOT_ID slots[8], blank = 0, second = 0;
	CK_ULONG n = 8, i;
	CK_TOKEN_INFO ti;
	char s1[17], s2[17], label[32];
	struct timespec t0, t1;
	long elapsed;

	memcpy(s1, p->serial, sizeof(s1));
	/* initialise the module's blank slot as a second token of the same model */
	assert_int_equal(real->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	for (i = 0; i < n; i++) {
		assert_int_equal(real->C_GetTokenInfo(slots[i], &ti), CKR_OK);
		if (!(ti.flags & CKF_TOKEN_INITIALIZED))
			blank = slots[i];
	}
	memset(label, ' ', sizeof(label));
	memcpy(label, "second", 6);
	assert_int_equal(real->C_InitToken(blank, (CK_UTF8CHAR_PTR)SOPIN, strlen(SOPIN),
	    (CK_UTF8CHAR_PTR)label), CKR_OK);
	n = 8;
	assert_int_equal(real->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	s2[0] = '\0';
	for (i = 0; i < n; i++) {
		char ser[17];

		assert_int_equal(real->C_GetTokenInfo(slots[i], &ti), CKR_OK);
		p11_text(ser, sizeof(ser), ti.serialNumber, sizeof(ti.serialNumber));
		if ((ti.flags & CKF_TOKEN_INITIALIZED) && strcmp(ser, s1) != 0) {
			memcpy(s2, ser, sizeof(s2));
			second = slots[i];
		}
	}
	assert_int_equal(strlen(s2), 16);

	/* three slots match the pattern (two tokens, one blank): refused */
	assert_int_equal(probe_rc(p, "{\"match\":\"reader\",\"reader_pattern\":\"SoftHSM*\"}"),
	    UKEY_ERR_BUSY);
	assert_non_null(strstr(p->err_msg, "not choosing"));
	assert_non_null(strstr(p->err_msg, s1));
	assert_false(p->have_slot);

	/* a USB serial longer than 16 characters ends with the token serial */
	assert_int_equal(probe_rc(p, "{\"match\":\"usb-serial\",\"usb_serial\":\"USB0%s\"}", s2), 0);
	assert_string_equal(p->serial, s2);
	assert_int_equal(p->slot, second);
	assert_int_equal(probe_rc(p, "{\"match\":\"usb-serial\",\"usb_serial\":\"%s\"}", s1), 0);
	assert_string_equal(p->serial, s1);

	/* the reader name picks one slot out of the pattern's three */
	assert_int_equal(probe_rc(p, "{\"match\":\"reader\",\"reader_pattern\":\"SoftHSM*\","
	    "\"reader\":\"SoftHSM slot ID 0x%lx\"}", (unsigned long)second), 0);
	assert_string_equal(p->serial, s2);

	/* another bay holds the only match: nothing for this bay */
	assert_int_equal(probe_rc(p, "{\"match\":\"usb-serial\",\"usb_serial\":\"%s\","
	    "\"exclude\":[\"%s\"]}", s1, s1), UKEY_ERR_REMOVED);
	/* a serial-matched profile with no USB serial cannot tell tokens apart */
	assert_int_equal(probe_rc(p, "{\"match\":\"usb-serial\"}"), UKEY_ERR_UNSUPPORTED);
	assert_int_equal(probe_rc(p, "{\"match\":\"nearest\"}"), UKEY_ERR_PROTO);
	assert_int_equal(probe_rc(p, "{\"match\":\"reader\",\"reader_pattern\":\"x\","
	    "\"exclude\":[1]}"), UKEY_ERR_PROTO);

	/* waiting for a token that never comes ends, after re-enumerating */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(probe_rc(p, "{\"match\":\"usb-serial\",\"usb_serial\":\"NOSUCHTOKEN\","
	    "\"wait_ms\":600}"), UKEY_ERR_REMOVED);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	elapsed = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(elapsed >= 600);
	/* still usable after the rescans */
	assert_int_equal(probe_rc(p, "{\"match\":\"usb-serial\",\"usb_serial\":\"%s\"}", s2), 0);
	no_sessions_left(p);
}

/* The kept user session (p11_session_user): generate_key and make_csr share
 * one session and one login; a request with another PIN logs in afresh (and
 * a wrong one fails as before); dropping it leaves nothing open. */
static void
test_shared_session(void **state)
{
	struct fixture *fx = *state;
	struct json_object *req, *rep;
	CK_SESSION_HANDLE h;
	int rc;

	fx->p.no_share = 0;
	json_object_put(run_clean(&fx->p, op_generate_key, "{\"user_pin\":\"" PIN
	    "\",\"alg\":\"ec-p256\",\"id\":\"5ade\",\"label\":\"k\",\"usage\":[\"sign\"]}"));
	assert_int_equal(open_sessions, 1);
	h = fx->p.shared;
	assert_true(h != CK_INVALID_HANDLE);
	json_object_put(run_clean(&fx->p, op_make_csr, "{\"user_pin\":\"" PIN "\",\"id\":\"5ade\","
	    "\"subject\":\"300f310d300b06035504030c0474657374\"}"));
	assert_int_equal(open_sessions, 1);
	assert_true(fx->p.shared == h);
	/* the kept login never stands in for a PIN check */
	req = request("{\"user_pin\":\"99999999\",\"id\":\"5ade\","
	    "\"subject\":\"300f310d300b06035504030c0474657374\"}");
	rep = json_object_new_object();
	p11_error_clear(&fx->p);
	rc = op_make_csr(&fx->p, req, rep);
	assert_int_equal(rc, UKEY_ERR_PIN);
	assert_int_equal(open_sessions, 0);
	json_object_put(req);
	json_object_put(rep);
	json_object_put(run_clean(&fx->p, op_make_csr, "{\"user_pin\":\"" PIN "\",\"id\":\"5ade\","
	    "\"subject\":\"300f310d300b06035504030c0474657374\"}"));
	assert_int_equal(open_sessions, 1);
	p11_session_drop(&fx->p);
	no_sessions_left(&fx->p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_fault_generate_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lax_module, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe_select, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_probe_inspect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_init_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_csr_cert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_session, setup, teardown),
	};

	log_init("test_p11", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
