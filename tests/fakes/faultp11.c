/* Test part, never installed: a PKCS#11 module that forwards every call to a
 * real one (SoftHSM2) and injects faults (crash, hang, delay, error codes,
 * garbled attributes) by rules read from a small file, re-read on each call. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <dlfcn.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pkcs11.h>

#define DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define CONF_NAME "faultp11.conf"
#define LOG_NAME "faultp11.log"

/* Every function of the v2.40 list: name, parameters, arguments, and whether
 * its wrapper is the generic one (G) or written out below (H). */
#define FAULT_FUNCS(X) \
	X(C_Initialize, (CK_VOID_PTR a), (a), G) \
	X(C_Finalize, (CK_VOID_PTR a), (a), G) \
	X(C_GetInfo, (CK_INFO_PTR a), (a), G) \
	X(C_GetFunctionList, (CK_FUNCTION_LIST_PTR_PTR a), (a), H) \
	X(C_GetSlotList, (CK_BBOOL a, CK_SLOT_ID_PTR b, CK_ULONG_PTR c), (a, b, c), G) \
	X(C_GetSlotInfo, (CK_SLOT_ID a, CK_SLOT_INFO_PTR b), (a, b), G) \
	X(C_GetTokenInfo, (CK_SLOT_ID a, CK_TOKEN_INFO_PTR b), (a, b), H) \
	X(C_GetMechanismList, (CK_SLOT_ID a, CK_MECHANISM_TYPE_PTR b, CK_ULONG_PTR c), (a, b, c), G) \
	X(C_GetMechanismInfo, (CK_SLOT_ID a, CK_MECHANISM_TYPE b, CK_MECHANISM_INFO_PTR c), \
	    (a, b, c), G) \
	X(C_InitToken, (CK_SLOT_ID a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d), \
	    (a, b, c, d), G) \
	X(C_InitPIN, (CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c), (a, b, c), H) \
	X(C_SetPIN, (CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d, \
	    CK_ULONG e), (a, b, c, d, e), G) \
	X(C_OpenSession, (CK_SLOT_ID a, CK_FLAGS b, CK_VOID_PTR c, CK_NOTIFY d, \
	    CK_SESSION_HANDLE_PTR e), (a, b, c, d, e), G) \
	X(C_CloseSession, (CK_SESSION_HANDLE a), (a), G) \
	X(C_CloseAllSessions, (CK_SLOT_ID a), (a), G) \
	X(C_GetSessionInfo, (CK_SESSION_HANDLE a, CK_SESSION_INFO_PTR b), (a, b), G) \
	X(C_GetOperationState, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c), (a, b, c), G) \
	X(C_SetOperationState, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, \
	    CK_OBJECT_HANDLE d, CK_OBJECT_HANDLE e), (a, b, c, d, e), G) \
	X(C_Login, (CK_SESSION_HANDLE a, CK_USER_TYPE b, CK_UTF8CHAR_PTR c, CK_ULONG d), \
	    (a, b, c, d), H) \
	X(C_Logout, (CK_SESSION_HANDLE a), (a), G) \
	X(C_CreateObject, (CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c, \
	    CK_OBJECT_HANDLE_PTR d), (a, b, c, d), G) \
	X(C_CopyObject, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d, \
	    CK_OBJECT_HANDLE_PTR e), (a, b, c, d, e), G) \
	X(C_DestroyObject, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b), (a, b), G) \
	X(C_GetObjectSize, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ULONG_PTR c), (a, b, c), G) \
	X(C_GetAttributeValue, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, \
	    CK_ULONG d), (a, b, c, d), H) \
	X(C_SetAttributeValue, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, \
	    CK_ULONG d), (a, b, c, d), G) \
	X(C_FindObjectsInit, (CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c), (a, b, c), G) \
	X(C_FindObjects, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE_PTR b, CK_ULONG c, CK_ULONG_PTR d), \
	    (a, b, c, d), G) \
	X(C_FindObjectsFinal, (CK_SESSION_HANDLE a), (a), G) \
	X(C_EncryptInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c), G) \
	X(C_Encrypt, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, \
	    CK_ULONG_PTR e), (a, b, c, d, e), G) \
	X(C_EncryptUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, \
	    CK_ULONG_PTR e), (a, b, c, d, e), G) \
	X(C_EncryptFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c), (a, b, c), G) \
	X(C_DecryptInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c), G) \
	X(C_Decrypt, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, \
	    CK_ULONG_PTR e), (a, b, c, d, e), G) \
	X(C_DecryptUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, \
	    CK_ULONG_PTR e), (a, b, c, d, e), G) \
	X(C_DecryptFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c), (a, b, c), G) \
	X(C_DigestInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b), (a, b), G) \
	X(C_Digest, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, \
	    CK_ULONG_PTR e), (a, b, c, d, e), G) \
	X(C_DigestUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c), G) \
	X(C_DigestKey, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b), (a, b), G) \
	X(C_DigestFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c), (a, b, c), G) \
	X(C_SignInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c), G) \
	X(C_Sign, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, \
	    CK_ULONG_PTR e), (a, b, c, d, e), G) \
	X(C_SignUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c), G) \
	X(C_SignFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c), (a, b, c), G) \
	X(C_SignRecoverInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), \
	    (a, b, c), G) \
	X(C_SignRecover, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, \
	    CK_ULONG_PTR e), (a, b, c, d, e), G) \
	X(C_VerifyInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c), G) \
	X(C_Verify, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG e), \
	    (a, b, c, d, e), G) \
	X(C_VerifyUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c), G) \
	X(C_VerifyFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c), G) \
	X(C_VerifyRecoverInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), \
	    (a, b, c), G) \
	X(C_VerifyRecover, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, \
	    CK_ULONG_PTR e), (a, b, c, d, e), G) \
	X(C_DigestEncryptUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, \
	    CK_ULONG_PTR e), (a, b, c, d, e), G) \
	X(C_DecryptDigestUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, \
	    CK_ULONG_PTR e), (a, b, c, d, e), G) \
	X(C_SignEncryptUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, \
	    CK_ULONG_PTR e), (a, b, c, d, e), G) \
	X(C_DecryptVerifyUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, \
	    CK_ULONG_PTR e), (a, b, c, d, e), G) \
	X(C_GenerateKey, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c, CK_ULONG d, \
	    CK_OBJECT_HANDLE_PTR e), (a, b, c, d, e), G) \
	X(C_GenerateKeyPair, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c, \
	    CK_ULONG d, CK_ATTRIBUTE_PTR e, CK_ULONG f, CK_OBJECT_HANDLE_PTR g, \
	    CK_OBJECT_HANDLE_PTR h), (a, b, c, d, e, f, g, h), H) \
	X(C_WrapKey, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, \
	    CK_OBJECT_HANDLE d, CK_BYTE_PTR e, CK_ULONG_PTR f), (a, b, c, d, e, f), G) \
	X(C_UnwrapKey, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, \
	    CK_BYTE_PTR d, CK_ULONG e, CK_ATTRIBUTE_PTR f, CK_ULONG g, CK_OBJECT_HANDLE_PTR h), \
	    (a, b, c, d, e, f, g, h), G) \
	X(C_DeriveKey, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, \
	    CK_ATTRIBUTE_PTR d, CK_ULONG e, CK_OBJECT_HANDLE_PTR f), (a, b, c, d, e, f), G) \
	X(C_SeedRandom, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c), G) \
	X(C_GenerateRandom, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c), G) \
	X(C_GetFunctionStatus, (CK_SESSION_HANDLE a), (a), G) \
	X(C_CancelFunction, (CK_SESSION_HANDLE a), (a), G) \
	X(C_WaitForSlotEvent, (CK_FLAGS a, CK_SLOT_ID_PTR b, CK_VOID_PTR c), (a, b, c), G)

#define X_ENUM(name, params, args, kind) F_##name,
enum fault_func { FAULT_FUNCS(X_ENUM) F_N };

#define X_NAME(name, params, args, kind) #name,
static const char *const func_names[F_N] = { FAULT_FUNCS(X_NAME) };

enum action { A_NONE, A_CRASH, A_HANG, A_DELAY, A_RV, A_GARBLE, A_STRIP_USAGE };

struct rule {
	enum action action;
	long delay_ms;
	CK_RV rv;
};

static const struct {
	const char *name;
	CK_RV rv;
} rv_names[] = {
	{ "CKR_OK", CKR_OK },
	{ "CKR_GENERAL_ERROR", CKR_GENERAL_ERROR },
	{ "CKR_FUNCTION_FAILED", CKR_FUNCTION_FAILED },
	{ "CKR_HOST_MEMORY", CKR_HOST_MEMORY },
	{ "CKR_ARGUMENTS_BAD", CKR_ARGUMENTS_BAD },
	{ "CKR_DEVICE_ERROR", CKR_DEVICE_ERROR },
	{ "CKR_DEVICE_MEMORY", CKR_DEVICE_MEMORY },
	{ "CKR_DEVICE_REMOVED", CKR_DEVICE_REMOVED },
	{ "CKR_TOKEN_NOT_PRESENT", CKR_TOKEN_NOT_PRESENT },
	{ "CKR_TOKEN_NOT_RECOGNIZED", CKR_TOKEN_NOT_RECOGNIZED },
	{ "CKR_TOKEN_WRITE_PROTECTED", CKR_TOKEN_WRITE_PROTECTED },
	{ "CKR_SESSION_HANDLE_INVALID", CKR_SESSION_HANDLE_INVALID },
	{ "CKR_SESSION_CLOSED", CKR_SESSION_CLOSED },
	{ "CKR_SLOT_ID_INVALID", CKR_SLOT_ID_INVALID },
	{ "CKR_PIN_INCORRECT", CKR_PIN_INCORRECT },
	{ "CKR_PIN_LOCKED", CKR_PIN_LOCKED },
	{ "CKR_PIN_LEN_RANGE", CKR_PIN_LEN_RANGE },
	{ "CKR_PIN_INVALID", CKR_PIN_INVALID },
	{ "CKR_USER_NOT_LOGGED_IN", CKR_USER_NOT_LOGGED_IN },
	{ "CKR_MECHANISM_INVALID", CKR_MECHANISM_INVALID },
	{ "CKR_TEMPLATE_INCONSISTENT", CKR_TEMPLATE_INCONSISTENT },
	{ "CKR_BUFFER_TOO_SMALL", CKR_BUFFER_TOO_SMALL },
	{ "CKR_CRYPTOKI_NOT_INITIALIZED", CKR_CRYPTOKI_NOT_INITIALIZED },
	{ "CKR_FUNCTION_NOT_SUPPORTED", CKR_FUNCTION_NOT_SUPPORTED },
};

static CK_FUNCTION_LIST real_list;	/* the real module's functions */
static CK_FUNCTION_LIST fault_list;	/* what callers get: the wrappers */
static void *real_handle;
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long call_count[F_N];	/* per process, 1-based once incremented */

/* The rules file: UKEY_FAULTP11_CONF, else faultp11.conf beside SOFTHSM2_CONF
 * (each simulated bay has its own SoftHSM2 configuration). */
static int
conf_path(char *buf, size_t len)
{
	const char *s = getenv("UKEY_FAULTP11_CONF"), *slash;

	if (s != NULL && *s != '\0')
		return snprintf(buf, len, "%s", s) < (int)len ? 0 : -1;
	if ((s = getenv("SOFTHSM2_CONF")) == NULL || *s == '\0')
		return -1;
	if ((slash = strrchr(s, '/')) == NULL)
		return snprintf(buf, len, "%s", CONF_NAME) < (int)len ? 0 : -1;
	return snprintf(buf, len, "%.*s/%s", (int)(slash - s), s, CONF_NAME) < (int)len ? 0 : -1;
}

static int
parse_rv(const char *s, CK_RV *rv)
{
	size_t i;
	char *end;

	for (i = 0; i < sizeof(rv_names) / sizeof(rv_names[0]); i++)
		if (strcmp(s, rv_names[i].name) == 0) {
			*rv = rv_names[i].rv;
			return 0;
		}
	/* any other code as a number, e.g. 0x80000001 for a vendor code */
	errno = 0;
	*rv = strtoul(s, &end, 0);
	return errno == 0 && end != s && *end == '\0' ? 0 : -1;
}

/* Parses one rule's action words into r; returns 0 or -1. */
static int
parse_action(const char *act, const char *arg, struct rule *r)
{
	char *end;

	memset(r, 0, sizeof(*r));
	if (strcmp(act, "crash") == 0)
		r->action = A_CRASH;
	else if (strcmp(act, "hang") == 0)
		r->action = A_HANG;
	else if (strcmp(act, "garble") == 0)
		r->action = A_GARBLE;
	else if (strcmp(act, "strip-usage") == 0)
		r->action = A_STRIP_USAGE;
	else if (strcmp(act, "delay") == 0 && arg != NULL) {
		r->action = A_DELAY;
		errno = 0;
		r->delay_ms = strtol(arg, &end, 10);
		if (errno != 0 || end == arg || *end != '\0' || r->delay_ms < 0)
			return -1;
		return 0;
	} else if (strcmp(act, "rv") == 0 && arg != NULL) {
		r->action = A_RV;
		return parse_rv(arg, &r->rv);
	} else
		return -1;
	return arg == NULL ? 0 : -1;
}

/* Reads the rules file and finds the first rule for call number n of
 * function fn. Returns 1 with the rule in *r, or 0 (no file, no rule). *log
 * says whether the file asks for a call log. Bad lines are reported on
 * stderr and skipped, so that a typo in a test shows up. */
static int
rules_find(const char *conf, enum fault_func fn, unsigned long n, struct rule *r, int *log)
{
	FILE *fp;
	char line[256], *w[5], *save, *s;
	unsigned lineno = 0;
	int found = 0, nw;
	struct rule tmp;
	char *end;
	unsigned long occ;

	*log = 0;
	if ((fp = fopen(conf, "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		nw = 0;
		for (s = strtok_r(line, " \t\r\n", &save); s != NULL && nw < 5;
		    s = strtok_r(NULL, " \t\r\n", &save))
			w[nw++] = s;
		if (nw == 0 || w[0][0] == '#')
			continue;
		if (strcmp(w[0], "log") == 0 && nw == 2) {
			*log = strcmp(w[1], "on") == 0;
			continue;
		}
		if (strcmp(w[0], "pin-tries") == 0 && nw == 2)
			continue;	/* read by pin_tries() */
		if (nw < 3 || nw > 4 || parse_action(w[2], nw == 4 ? w[3] : NULL, &tmp) != 0) {
			fprintf(stderr, "faultp11: %s:%u: bad rule, expected "
			    "\"C_Name <n|*> crash|hang|garble|strip-usage|delay <ms>|rv <CKR_NAME>\"\n",
			    conf, lineno);
			continue;
		}
		if (found || strcmp(w[0], func_names[fn]) != 0)
			continue;
		if (strcmp(w[1], "*") != 0) {
			errno = 0;
			occ = strtoul(w[1], &end, 10);
			if (errno != 0 || end == w[1] || *end != '\0' || occ == 0) {
				fprintf(stderr, "faultp11: %s:%u: occurrence must be a number from "
				    "1 or *\n", conf, lineno);
				continue;
			}
			if (occ != n)
				continue;
		}
		*r = tmp;
		found = 1;
	}
	fclose(fp);
	return found;
}

/* One line per call: pid, function, occurrence and the action taken. Never
 * argument values: PINs pass through here. */
static void
log_call(const char *conf, enum fault_func fn, unsigned long n, const struct rule *r)
{
	static const char *const act_names[] = { "forward", "crash", "hang", "delay", "rv",
		"garble", "strip-usage" };
	char path[PATH_MAX], line[160];
	const char *slash = strrchr(conf, '/');
	int fd, len;

	if (slash == NULL)
		snprintf(path, sizeof(path), "%s", LOG_NAME);
	else if (snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - conf), conf,
	    LOG_NAME) >= (int)sizeof(path))
		return;
	if (r->action == A_RV)
		len = snprintf(line, sizeof(line), "%ld %s %lu rv 0x%lx\n", (long)getpid(),
		    func_names[fn], n, (unsigned long)r->rv);
	else if (r->action == A_DELAY)
		len = snprintf(line, sizeof(line), "%ld %s %lu delay %ld\n", (long)getpid(),
		    func_names[fn], n, r->delay_ms);
	else
		len = snprintf(line, sizeof(line), "%ld %s %lu %s\n", (long)getpid(),
		    func_names[fn], n, act_names[r->action]);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
		return;
	/* one write with O_APPEND: lines of concurrent processes do not mix */
	if (write(fd, line, (size_t)len) < 0) {
		/* nothing to do: the log is a test aid */
	}
	close(fd);
}

/* Runs before every forwarded call. Returns 1 when the wrapper must return
 * *rv without forwarding; sets *garble for C_GetAttributeValue (1: garble)
 * and C_GenerateKeyPair (2: strip the usage attributes). */
static int
fault_enter(enum fault_func fn, CK_RV *rv, int *garble)
{
	unsigned long n = __atomic_add_fetch(&call_count[fn], 1, __ATOMIC_SEQ_CST);
	struct rule r = { A_NONE, 0, 0 };
	struct timespec ts;
	char conf[PATH_MAX];
	int log;

	*garble = 0;
	if (conf_path(conf, sizeof(conf)) != 0)
		return 0;
	if (!rules_find(conf, fn, n, &r, &log))
		r.action = A_NONE;
	if (log)
		log_call(conf, fn, n, &r);
	switch (r.action) {
	case A_NONE:
		return 0;
	case A_CRASH:
		abort();
	case A_HANG:
		for (;;)
			pause();
	case A_DELAY:
		ts.tv_sec = r.delay_ms / 1000;
		ts.tv_nsec = (r.delay_ms % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		return 0;
	case A_RV:
		*rv = r.rv;
		return 1;
	case A_GARBLE:
		*garble = 1;	/* only C_GetAttributeValue acts on it */
		return 0;
	case A_STRIP_USAGE:
		*garble = 2;	/* only C_GenerateKeyPair acts on it */
		return 0;
	}
	return 0;
}

#define WRAP_G(name, params, args) \
	static CK_RV w_##name params \
	{ \
		CK_RV rv; \
		int garble; \
		if (fault_enter(F_##name, &rv, &garble)) \
			return rv; \
		return real_list.name args; \
	}
#define WRAP_H(name, params, args)
#define X_WRAP(name, params, args, kind) WRAP_##kind(name, params, args)
FAULT_FUNCS(X_WRAP)

static CK_RV
w_C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	CK_RV rv;
	int garble;

	if (fault_enter(F_C_GetFunctionList, &rv, &garble))
		return rv;
	if (list == NULL)
		return CKR_ARGUMENTS_BAD;
	*list = &fault_list;
	return CKR_OK;
}

/* ---- pin-tries N: a user PIN counter, as a real token keeps one ----
 * SoftHSM2 never locks a PIN. With "pin-tries N" in the rules file, a wrong
 * user PIN counts (in faultp11.pin beside the rules file, so that it
 * survives the worker), C_GetTokenInfo shows CKF_USER_PIN_COUNT_LOW after
 * one, CKF_USER_PIN_FINAL_TRY when one try is left and CKF_USER_PIN_LOCKED
 * after N; a locked PIN makes C_Login(CKU_USER) return CKR_PIN_LOCKED
 * without asking the module. A right PIN, or C_InitPIN by the SO, sets the
 * count back to 0. */

static long
pin_tries(const char *conf)
{
	FILE *fp = fopen(conf, "re");
	char line[256], word[32];
	long n = 0, v;

	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "%31s %ld", word, &v) == 2 && strcmp(word, "pin-tries") == 0 &&
		    v > 0)
			n = v;
	fclose(fp);
	return n;
}

static int
pin_count_path(const char *conf, char *buf, size_t len)
{
	const char *slash = strrchr(conf, '/');

	if (slash == NULL)
		return snprintf(buf, len, "faultp11.pin") < (int)len ? 0 : -1;
	return snprintf(buf, len, "%.*s/faultp11.pin", (int)(slash - conf), conf) < (int)len ?
	    0 : -1;
}

static long
pin_count_get(const char *conf)
{
	char path[PATH_MAX];
	long n = 0;
	FILE *fp;

	if (pin_count_path(conf, path, sizeof(path)) != 0 || (fp = fopen(path, "re")) == NULL)
		return 0;
	if (fscanf(fp, "%ld", &n) != 1)
		n = 0;
	fclose(fp);
	return n;
}

static void
pin_count_set(const char *conf, long n)
{
	char path[PATH_MAX];
	FILE *fp;

	if (pin_count_path(conf, path, sizeof(path)) != 0 || (fp = fopen(path, "we")) == NULL)
		return;
	fprintf(fp, "%ld\n", n);
	fclose(fp);
}

/* The rules file when it asks for a PIN counter, else NULL; *tries gets N. */
static const char *
pin_counter(char *conf, size_t len, long *tries)
{
	if (conf_path(conf, len) != 0 || (*tries = pin_tries(conf)) <= 0)
		return NULL;
	return conf;
}

static CK_RV
w_C_Login(CK_SESSION_HANDLE s, CK_USER_TYPE who, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
	char conf[PATH_MAX];
	long tries, count;
	CK_RV rv;
	int garble;

	if (fault_enter(F_C_Login, &rv, &garble))
		return rv;
	if (who != CKU_USER || pin_counter(conf, sizeof(conf), &tries) == NULL)
		return real_list.C_Login(s, who, pin, len);
	if ((count = pin_count_get(conf)) >= tries)
		return CKR_PIN_LOCKED;
	rv = real_list.C_Login(s, who, pin, len);
	if (rv == CKR_PIN_INCORRECT)
		pin_count_set(conf, count + 1);
	else if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
		pin_count_set(conf, 0);
	return rv;
}

static CK_RV
w_C_InitPIN(CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
	char conf[PATH_MAX];
	long tries;
	CK_RV rv;
	int garble;

	if (fault_enter(F_C_InitPIN, &rv, &garble))
		return rv;
	rv = real_list.C_InitPIN(s, pin, len);
	if (rv == CKR_OK && pin_counter(conf, sizeof(conf), &tries) != NULL)
		pin_count_set(conf, 0);
	return rv;
}

static CK_RV
w_C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR ti)
{
	char conf[PATH_MAX];
	long tries, count;
	CK_RV rv;
	int garble;

	if (fault_enter(F_C_GetTokenInfo, &rv, &garble))
		return rv;
	rv = real_list.C_GetTokenInfo(slot, ti);
	if (rv != CKR_OK || ti == NULL || pin_counter(conf, sizeof(conf), &tries) == NULL)
		return rv;
	count = pin_count_get(conf);
	ti->flags &= ~(CK_FLAGS)(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY |
	    CKF_USER_PIN_LOCKED);
	if (count >= tries)
		ti->flags |= CKF_USER_PIN_LOCKED;
	else if (count == tries - 1)
		ti->flags |= CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_COUNT_LOW;
	else if (count > 0)
		ti->flags |= CKF_USER_PIN_COUNT_LOW;
	return rv;
}

/* garble: forward, then flip every byte of each returned value and claim a
 * length beyond the caller's buffer, as a broken or hostile token might. */
static CK_RV
w_C_GetAttributeValue(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	CK_ULONG *cap, i, j;
	CK_RV rv;
	int garble;

	if (fault_enter(F_C_GetAttributeValue, &rv, &garble))
		return rv;
	if (garble != 1 || t == NULL || n == 0 || (cap = calloc(n, sizeof(*cap))) == NULL)
		return real_list.C_GetAttributeValue(s, o, t, n);
	for (i = 0; i < n; i++)
		cap[i] = t[i].ulValueLen;
	rv = real_list.C_GetAttributeValue(s, o, t, n);
	for (i = 0; i < n; i++) {
		if (t[i].pValue == NULL || t[i].ulValueLen == CK_UNAVAILABLE_INFORMATION ||
		    t[i].ulValueLen > cap[i])
			continue;
		for (j = 0; j < t[i].ulValueLen; j++)
			((unsigned char *)t[i].pValue)[j] ^= 0xff;
		t[i].ulValueLen = cap[i] + 17;
	}
	free(cap);
	return rv;
}

static int
is_usage_attr(CK_ATTRIBUTE_TYPE t)
{
	return t == CKA_ENCRYPT || t == CKA_DECRYPT || t == CKA_SIGN || t == CKA_VERIFY ||
	    t == CKA_WRAP || t == CKA_UNWRAP || t == CKA_DERIVE || t == CKA_SIGN_RECOVER ||
	    t == CKA_VERIFY_RECOVER;
}

/* Copies the n attributes of t without the usage ones into a new array. */
static CK_ATTRIBUTE_PTR
strip_usage(CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_ULONG *kept)
{
	CK_ATTRIBUTE_PTR out = calloc(n + 1, sizeof(*out));
	CK_ULONG i;

	*kept = 0;
	if (out == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (!is_usage_attr(t[i].type))
			out[(*kept)++] = t[i];
	return out;
}

/* strip-usage: forwards without the usage attributes of either template, as
 * a module that ignores them would; the real module's defaults apply
 * (SoftHSM2: a private key that decrypts, signs and unwraps). */
static CK_RV
w_C_GenerateKeyPair(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pub, CK_ULONG npub,
    CK_ATTRIBUTE_PTR priv, CK_ULONG npriv, CK_OBJECT_HANDLE_PTR hpub, CK_OBJECT_HANDLE_PTR hpriv)
{
	CK_ATTRIBUTE_PTR p2 = NULL, q2 = NULL;
	CK_ULONG np2 = 0, nq2 = 0;
	CK_RV rv;
	int strip;

	if (fault_enter(F_C_GenerateKeyPair, &rv, &strip))
		return rv;
	if (strip != 2 || pub == NULL || priv == NULL)
		return real_list.C_GenerateKeyPair(s, m, pub, npub, priv, npriv, hpub, hpriv);
	if ((p2 = strip_usage(pub, npub, &np2)) == NULL ||
	    (q2 = strip_usage(priv, npriv, &nq2)) == NULL)
		rv = CKR_HOST_MEMORY;
	else
		rv = real_list.C_GenerateKeyPair(s, m, p2, np2, q2, nq2, hpub, hpriv);
	free(p2);
	free(q2);
	return rv;
}

/* Loads the real module once and builds the wrapped list. */
static CK_RV
load_real(void)
{
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	CK_FUNCTION_LIST_PTR list = NULL;
	const char *path = getenv("UKEY_FAULTP11_MODULE");
	CK_RV rv = CKR_OK;

	if (path == NULL || *path == '\0')
		path = DEFAULT_MODULE;
	pthread_mutex_lock(&load_lock);
	if (real_handle != NULL)
		goto out;
	if ((real_handle = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, "faultp11: dlopen %s: %s\n", path, dlerror());
		rv = CKR_GENERAL_ERROR;
		goto out;
	}
	*(void **)&get = dlsym(real_handle, "C_GetFunctionList");
	if (get == NULL || (rv = get(&list)) != CKR_OK || list == NULL) {
		fprintf(stderr, "faultp11: %s: no usable C_GetFunctionList\n", path);
		dlclose(real_handle);
		real_handle = NULL;
		rv = rv != CKR_OK ? rv : CKR_GENERAL_ERROR;
		goto out;
	}
	real_list = *list;
	fault_list.version = list->version;
#define X_SET(name, params, args, kind) fault_list.name = w_##name;
	FAULT_FUNCS(X_SET)
#undef X_SET
 out:
	pthread_mutex_unlock(&load_lock);
	return rv;
}

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	CK_RV rv;

	if (list == NULL)
		return CKR_ARGUMENTS_BAD;
	if ((rv = load_real()) != CKR_OK)
		return rv;
	return w_C_GetFunctionList(list);
}
