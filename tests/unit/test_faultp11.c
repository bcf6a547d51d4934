/* The fault-injecting PKCS#11 test module (tests/fakes/faultp11.c) over a
 * throwaway SoftHSM2 token directory: plain forwarding, and each fault action.
 * Every scenario runs in a fresh child process that loads the module itself,
 * so that call counts start at zero and a crash or hang stays in the child. */
#include <dlfcn.h>
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <pkcs11.h>

static char tmp_dir[64];
static char module_path[1024];
static char rules_path[128];
static char log_path[128];

#define SO_PIN "so-pin-5150"
#define USER_PIN "PinSecret42"

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static int
setup(void **state)
{
	char path[128], text[256];
	const char *build = getenv("UKEY_BUILD_DIR");

	snprintf(module_path, sizeof(module_path), "%s/tests/libfaultp11.so",
	    build != NULL ? build : UKEY_BUILD_DIR);
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/ukey-faultp11-XXXXXX");
	if (mkdtemp(tmp_dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/tokens", tmp_dir);
	if (mkdir(path, 0700) != 0)
		return -1;
	snprintf(text, sizeof(text), "directories.tokendir = %s/tokens\n"
	    "objectstore.backend = file\nlog.level = ERROR\n", tmp_dir);
	snprintf(path, sizeof(path), "%s/softhsm2.conf", tmp_dir);
	write_file(path, text);
	setenv("SOFTHSM2_CONF", path, 1);
	unsetenv("UKEY_FAULTP11_CONF");
	unsetenv("UKEY_FAULTP11_MODULE");
	snprintf(rules_path, sizeof(rules_path), "%s/faultp11.conf", tmp_dir);
	snprintf(log_path, sizeof(log_path), "%s/faultp11.log", tmp_dir);
	return 0;
}

static int
teardown(void **state)
{
	nftw(tmp_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* In the child: report a failed step on stderr and exit with its number. */
#define CHECK(step, cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "child step %d failed: %s\n", (step), #cond); \
			_exit(step); \
		} \
	} while (0)

static CK_FUNCTION_LIST_PTR
child_load(void)
{
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	CK_FUNCTION_LIST_PTR f = NULL;
	void *h = dlopen(module_path, RTLD_NOW | RTLD_LOCAL);

	if (h == NULL) {
		fprintf(stderr, "dlopen %s: %s\n", module_path, dlerror());
		_exit(100);
	}
	*(void **)&get = dlsym(h, "C_GetFunctionList");
	CHECK(101, get != NULL);
	CHECK(102, get(&f) == CKR_OK && f != NULL);
	return f;
}

static CK_SLOT_ID
child_first_slot(CK_FUNCTION_LIST_PTR f)
{
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;

	CHECK(110, f->C_GetSlotList(CK_TRUE, slots, &n) == CKR_OK && n >= 1);
	return slots[0];
}

typedef void (*scenario_fn)(void);

static pid_t
spawn(scenario_fn fn)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(0);	/* no atexit handlers of the test runner in the child */
	}
	return pid;
}

static void
expect_child_ok(scenario_fn fn)
{
	int status;
	pid_t pid = spawn(fn);

	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status))
		fail_msg("child died of signal %d", WTERMSIG(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void
scenario_forward(void)
{
	CK_FUNCTION_LIST_PTR f = child_load();
	CK_SLOT_ID slots[8];
	CK_ULONG n = 0;
	CK_TOKEN_INFO ti;
	CK_INFO info;

	CHECK(1, f->C_Initialize(NULL) == CKR_OK);
	CHECK(2, f->C_GetInfo(&info) == CKR_OK);
	CHECK(3, memcmp(info.manufacturerID, "SoftHSM", 7) == 0);
	CHECK(4, f->C_GetSlotList(CK_TRUE, NULL, &n) == CKR_OK && n >= 1);
	n = 8;
	CHECK(5, f->C_GetSlotList(CK_TRUE, slots, &n) == CKR_OK && n >= 1);
	CHECK(6, f->C_GetTokenInfo(slots[0], &ti) == CKR_OK);
	CHECK(7, memcmp(ti.model, "SoftHSM v2", 10) == 0);
	/* what firmware-profiles/softhsm2.conf says about PIN lengths */
	CHECK(8, ti.ulMinPinLen == 4 && ti.ulMaxPinLen == 255);
	CHECK(9, f->C_Finalize(NULL) == CKR_OK);
}

static void
test_forwarding(void **state)
{
	expect_child_ok(scenario_forward);
}

static void
scenario_rv(void)
{
	CK_FUNCTION_LIST_PTR f = child_load();
	CK_ULONG n = 0;

	CHECK(1, f->C_Initialize(NULL) == CKR_OK);
	CHECK(2, f->C_GetSlotList(CK_TRUE, NULL, &n) == CKR_OK);
	CHECK(3, f->C_GetSlotList(CK_TRUE, NULL, &n) == CKR_DEVICE_REMOVED);
	CHECK(4, f->C_GetSlotList(CK_TRUE, NULL, &n) == CKR_OK);
	CHECK(5, f->C_Finalize(NULL) == CKR_OK);
}

static void
test_rv_on_second_call(void **state)
{
	write_file(rules_path, "# the second slot list fails as if the token was pulled\n"
	    "C_GetSlotList 2 rv CKR_DEVICE_REMOVED\n");
	expect_child_ok(scenario_rv);
}

static void
scenario_rv_names(void)
{
	CK_FUNCTION_LIST_PTR f = child_load();
	CK_TOKEN_INFO ti;
	CK_SLOT_ID slot;

	CHECK(1, f->C_Initialize(NULL) == CKR_OK);
	slot = child_first_slot(f);
	CHECK(2, f->C_GetTokenInfo(slot, &ti) == CKR_PIN_LOCKED);
	CHECK(3, f->C_GetTokenInfo(slot, &ti) == CKR_TOKEN_NOT_PRESENT);
	CHECK(4, f->C_GetTokenInfo(slot, &ti) == CKR_DEVICE_ERROR);
	CHECK(5, f->C_GetTokenInfo(slot, &ti) == 0x80001234UL);
	CHECK(6, f->C_GetTokenInfo(slot, &ti) == CKR_OK);
	CHECK(7, f->C_Finalize(NULL) == CKR_OK);
}

static void
test_rv_names_and_bad_lines(void **state)
{
	/* a bad line is reported and skipped; the others still apply */
	write_file(rules_path, "C_GetTokenInfo 1 rv CKR_PIN_LOCKED\n"
	    "C_GetTokenInfo 2 rv CKR_TOKEN_NOT_PRESENT\n"
	    "C_GetTokenInfo 3 explode\n"
	    "C_GetTokenInfo 3 rv CKR_DEVICE_ERROR\n"
	    "C_GetTokenInfo 4 rv 0x80001234\n");
	expect_child_ok(scenario_rv_names);
}

static void
scenario_delay(void)
{
	CK_FUNCTION_LIST_PTR f = child_load();
	CK_TOKEN_INFO ti;
	CK_SLOT_ID slot;
	double t0, plain, delayed;

	CHECK(1, f->C_Initialize(NULL) == CKR_OK);
	slot = child_first_slot(f);
	t0 = now_ms();
	CHECK(2, f->C_GetTokenInfo(slot, &ti) == CKR_OK);
	plain = now_ms() - t0;
	/* the rules are re-read on every call: this one applies from now on */
	write_file(rules_path, "C_GetTokenInfo * delay 200\n");
	t0 = now_ms();
	CHECK(3, f->C_GetTokenInfo(slot, &ti) == CKR_OK);	/* forwarded after the delay */
	delayed = now_ms() - t0;
	if (delayed < 200 || delayed - plain < 150)
		fprintf(stderr, "plain %.1f ms, delayed %.1f ms\n", plain, delayed);
	CHECK(4, delayed >= 200.0);
	CHECK(5, delayed - plain >= 150.0);
	CHECK(6, f->C_Finalize(NULL) == CKR_OK);
}

static void
test_delay(void **state)
{
	unlink(rules_path);
	expect_child_ok(scenario_delay);
}

static void
scenario_crash(void)
{
	CK_FUNCTION_LIST_PTR f = child_load();
	CK_TOKEN_INFO ti;
	CK_SLOT_ID slot;

	CHECK(1, f->C_Initialize(NULL) == CKR_OK);
	slot = child_first_slot(f);
	f->C_GetTokenInfo(slot, &ti);
	/* not reached when the rule works: exit 0 fails the test */
}

static void
test_crash(void **state)
{
	int status;
	pid_t pid;

	write_file(rules_path, "C_GetTokenInfo 1 crash\n");
	pid = spawn(scenario_crash);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void
scenario_hang(void)
{
	CK_FUNCTION_LIST_PTR f = child_load();
	CK_ULONG n = 0;

	CHECK(1, f->C_Initialize(NULL) == CKR_OK);
	f->C_GetSlotList(CK_TRUE, NULL, &n);
}

static void
test_hang(void **state)
{
	char buf[512];
	int status, fd;
	ssize_t len;
	pid_t pid;

	write_file(rules_path, "log on\nC_GetSlotList 1 hang\n");
	pid = spawn(scenario_hang);
	sleep(1);
	assert_int_equal(waitpid(pid, &status, WNOHANG), 0);	/* still alive */
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	/* and it hung where the rule said, not somewhere before */
	fd = open(log_path, O_RDONLY);
	assert_true(fd >= 0);
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(len > 0);
	buf[len] = '\0';
	assert_non_null(strstr(buf, " C_GetSlotList 1 hang\n"));
}

/* Makes a token with a user PIN and a session object, then reads the object
 * with garble on; the log must hold the calls but never the PINs. */
static void
scenario_garble(void)
{
	CK_FUNCTION_LIST_PTR f = child_load();
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL no = CK_FALSE;
	CK_BYTE value[] = "token data";
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_VALUE, value, sizeof(value) - 1 },
	};
	CK_BYTE buf[16];
	CK_ATTRIBUTE get = { CKA_VALUE, buf, sizeof(buf) };
	CK_UTF8CHAR label[32];
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE obj;
	CK_SLOT_ID slot;
	size_t i;

	memset(label, ' ', sizeof(label));
	memcpy(label, "faultp11", 8);
	CHECK(1, f->C_Initialize(NULL) == CKR_OK);
	slot = child_first_slot(f);
	CHECK(2, f->C_InitToken(slot, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN), label) == CKR_OK);
	slot = child_first_slot(f);	/* SoftHSM2 moves the token to a new slot */
	CHECK(3, f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) ==
	    CKR_OK);
	CHECK(4, f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN)) == CKR_OK);
	CHECK(5, f->C_InitPIN(s, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)) == CKR_OK);
	CHECK(6, f->C_Logout(s) == CKR_OK);
	CHECK(7, f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)) == CKR_OK);
	CHECK(8, f->C_CreateObject(s, tmpl, 3, &obj) == CKR_OK);

	/* first read is clean (rule is for the second) */
	CHECK(9, f->C_GetAttributeValue(s, obj, &get, 1) == CKR_OK);
	CHECK(10, get.ulValueLen == sizeof(value) - 1 && memcmp(buf, value, get.ulValueLen) == 0);
	get.ulValueLen = sizeof(buf);
	CHECK(11, f->C_GetAttributeValue(s, obj, &get, 1) == CKR_OK);
	CHECK(12, get.ulValueLen > sizeof(buf));	/* longer than the buffer given */
	for (i = 0; i < sizeof(value) - 1; i++) {
		unsigned flipped = (unsigned)value[i] ^ 0xffu;

		CHECK(13, (unsigned)buf[i] == flipped);
	}
	CHECK(14, f->C_Logout(s) == CKR_OK);
	CHECK(15, f->C_CloseSession(s) == CKR_OK);
	CHECK(16, f->C_Finalize(NULL) == CKR_OK);
}

static void
test_garble_and_log(void **state)
{
	char buf[8192];
	ssize_t len;
	int fd;

	write_file(rules_path, "log on\nC_GetAttributeValue 2 garble\n");
	expect_child_ok(scenario_garble);
	fd = open(log_path, O_RDONLY);
	assert_true(fd >= 0);
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(len > 0);
	buf[len] = '\0';
	assert_non_null(strstr(buf, " C_InitToken 1 forward\n"));
	assert_non_null(strstr(buf, " C_Login 2 forward\n"));
	assert_non_null(strstr(buf, " C_GetAttributeValue 2 garble\n"));
	assert_null(strstr(buf, SO_PIN));
	assert_null(strstr(buf, USER_PIN));
	assert_null(strstr(buf, "token data"));
}

/* Generates an EC pair asking for sign only; returns the private key's
 * CKA_DECRYPT and CKA_UNWRAP in *dec and *unw. */
static void
child_ec_pair(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, int step, CK_BBOOL *dec, CK_BBOOL *unw)
{
	static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE pub[] = {
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_ENCRYPT, &no, sizeof(no) },
		{ CKA_WRAP, &no, sizeof(no) },
		{ CKA_EC_PARAMS, (void *)p256, sizeof(p256) },
	};
	CK_ATTRIBUTE priv[] = {
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_SIGN, &yes, sizeof(yes) },
		{ CKA_DECRYPT, &no, sizeof(no) },
		{ CKA_UNWRAP, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
	};
	CK_ATTRIBUTE get[] = {
		{ CKA_DECRYPT, dec, sizeof(*dec) },
		{ CKA_UNWRAP, unw, sizeof(*unw) },
	};
	CK_OBJECT_HANDLE hpub, hpriv;

	CHECK(step, f->C_GenerateKeyPair(s, &mech, pub, 5, priv, 5, &hpub, &hpriv) == CKR_OK);
	CHECK(step + 1, f->C_GetAttributeValue(s, hpriv, get, 2) == CKR_OK);
}

/* strip-usage on the first key generation: the module's defaults (decrypt
 * and unwrap) win over the template; the second generation is forwarded
 * whole and the template holds. */
static void
scenario_strip_usage(void)
{
	CK_FUNCTION_LIST_PTR f = child_load();
	CK_UTF8CHAR label[32];
	CK_SESSION_HANDLE s;
	CK_SLOT_ID slot;
	CK_BBOOL dec = CK_FALSE, unw = CK_FALSE;

	memset(label, ' ', sizeof(label));
	memcpy(label, "faultp11", 8);
	CHECK(1, f->C_Initialize(NULL) == CKR_OK);
	slot = child_first_slot(f);
	CHECK(2, f->C_InitToken(slot, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN), label) == CKR_OK);
	slot = child_first_slot(f);
	CHECK(3, f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) ==
	    CKR_OK);
	CHECK(4, f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN)) == CKR_OK);
	CHECK(5, f->C_InitPIN(s, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)) == CKR_OK);
	CHECK(6, f->C_Logout(s) == CKR_OK);
	CHECK(7, f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)) == CKR_OK);
	child_ec_pair(f, s, 10, &dec, &unw);
	CHECK(12, dec == CK_TRUE && unw == CK_TRUE);
	child_ec_pair(f, s, 20, &dec, &unw);
	CHECK(22, dec == CK_FALSE && unw == CK_FALSE);
	CHECK(30, f->C_Logout(s) == CKR_OK);
	CHECK(31, f->C_CloseSession(s) == CKR_OK);
	CHECK(32, f->C_Finalize(NULL) == CKR_OK);
}

static void
test_strip_usage(void **state)
{
	char buf[8192];
	ssize_t len;
	int fd;

	write_file(rules_path, "log on\nC_GenerateKeyPair 1 strip-usage\n");
	expect_child_ok(scenario_strip_usage);
	fd = open(log_path, O_RDONLY);
	assert_true(fd >= 0);
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(len > 0);
	buf[len] = '\0';
	assert_non_null(strstr(buf, " C_GenerateKeyPair 1 strip-usage\n"));
	assert_non_null(strstr(buf, " C_GenerateKeyPair 2 forward\n"));
}

static void
scenario_env_conf(void)
{
	CK_FUNCTION_LIST_PTR f = child_load();
	CK_INFO info;

	CHECK(1, f->C_Initialize(NULL) == CKR_OK);
	CHECK(2, f->C_GetInfo(&info) == CKR_GENERAL_ERROR);
	CHECK(3, f->C_Finalize(NULL) == CKR_OK);
}

static void
test_conf_from_environment(void **state)
{
	char other[160];

	/* the bay's own file would let C_GetInfo through; the named one does not */
	write_file(rules_path, "C_GetSlotList * rv CKR_DEVICE_ERROR\n");
	snprintf(other, sizeof(other), "%s/elsewhere.conf", tmp_dir);
	write_file(other, "C_GetInfo 1 rv CKR_GENERAL_ERROR\n");
	setenv("UKEY_FAULTP11_CONF", other, 1);
	expect_child_ok(scenario_env_conf);
	unsetenv("UKEY_FAULTP11_CONF");
}

static void
scenario_bad_module(void)
{
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	CK_FUNCTION_LIST_PTR f = NULL;
	void *h = dlopen(module_path, RTLD_NOW | RTLD_LOCAL);

	CHECK(1, h != NULL);
	*(void **)&get = dlsym(h, "C_GetFunctionList");
	CHECK(2, get != NULL);
	CHECK(3, get(&f) == CKR_GENERAL_ERROR);
	CHECK(4, get(NULL) == CKR_ARGUMENTS_BAD);
}

static void
test_missing_real_module(void **state)
{
	setenv("UKEY_FAULTP11_MODULE", "/nonexistent/libnothing.so", 1);
	expect_child_ok(scenario_bad_module);
	unsetenv("UKEY_FAULTP11_MODULE");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_forwarding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_strip_usage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rv_on_second_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rv_names_and_bad_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hang, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garble_and_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf_from_environment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_real_module, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
