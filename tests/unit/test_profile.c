/* Firmware profiles: the shipped profiles load and follow the rules for real
 * hardware, every bad file in tests/data/firmware-profiles/bad/ fails with
 * the message on its first line, and sets refuse duplicate names and
 * overlapping USB ids. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/err.h"
#include "common/errlist.h"
#include "detect/profile.h"

static char src_dir[1024];

static void
data_path(char *buf, size_t len, const char *rel)
{
	snprintf(buf, len, "%s/%s", src_dir, rel);
}

static void
test_shipped_softhsm2(void **state)
{
	struct fw_profile *p = NULL;
	struct json_object *j;
	char path[1200], err[1024];
	const char *mod, *js;

	data_path(path, sizeof(path), "firmware-profiles/softhsm2.conf");
	assert_int_equal(fw_profile_load(path, &p, err, sizeof(err)), 0);
	assert_non_null(p);
	assert_string_equal(p->name, "softhsm2");
	assert_true(p->is_virtual);
	assert_true(p->verified);
	assert_int_equal(p->n_product_ids, 0);
	assert_true(p->init_token);
	assert_true(p->user_pin_random);
	assert_int_equal(p->user_pin_length, 8);
	assert_int_equal(p->so_pin_length, 16);
	assert_int_equal(p->so_pin_charset, FW_PIN_ALNUM);	/* the default */
	assert_null(p->initial_user_pin);
	assert_int_equal(p->label_max_bytes, 32);
	assert_int_equal(p->timeout_default_ms, 20000);
	assert_int_equal(p->timeout_init_ms, 60000);
	assert_int_equal(p->timeout_keygen_ms, 120000);
	assert_int_equal(p->quirks, FW_QUIRK_SLOT_MOVES_AFTER_INIT);
	assert_true(fw_profile_supports(p, "rsa2048"));
	assert_true(fw_profile_supports(p, "ec-p256"));
	assert_false(fw_profile_supports(p, "rsa4096"));
	assert_false(fw_profile_supports(p, "ec-p384"));
	assert_string_equal(p->path, path);
	/* softhsm2 is installed wherever the tests run */
	mod = fw_profile_module(p);
	assert_non_null(mod);
	assert_non_null(strstr(mod, "libsofthsm2.so"));

	j = fw_profile_to_json(p);
	assert_non_null(j);
	assert_string_equal(json_object_get_string(json_object_object_get(j, "name")), "softhsm2");
	assert_null(json_object_object_get(j, "usb"));
	js = json_object_to_json_string(j);
	assert_non_null(strstr(js, "\"slot-moves-after-init\""));
	assert_non_null(strstr(js, "\"random-digits\""));
	json_object_put(j);
	fw_profile_free(p);
}

static void
test_fault_profile_build_dir(void **state)
{
	struct fw_profile *p = NULL;
	char path[1200], want[2048], err[2048];
	char *saved = getenv("UKEY_BUILD_DIR") ? strdup(getenv("UKEY_BUILD_DIR")) : NULL;

	data_path(path, sizeof(path), "tests/data/firmware-profiles/softhsm2-fault.conf");
	setenv("UKEY_BUILD_DIR", "/some/build", 1);
	assert_int_equal(fw_profile_load(path, &p, err, sizeof(err)), 0);
	assert_string_equal(p->name, "softhsm2-fault");
	assert_int_equal(p->n_modules, 1);
	assert_string_equal(p->modules[0], "/some/build/tests/libfaultp11.so");
	assert_null(fw_profile_module(p));	/* no such file */
	fw_profile_free(p);
	p = NULL;

	unsetenv("UKEY_BUILD_DIR");
	assert_int_equal(fw_profile_load(path, &p, err, sizeof(err)), UKEY_ERR_INVAL);
	assert_null(p);
	snprintf(want, sizeof(want), "%s:13: pkcs11.module: uses @UKEY_BUILD_DIR@ but the "
	    "environment variable UKEY_BUILD_DIR is not set", path);
	assert_string_equal(err, want);
	if (saved != NULL)
		setenv("UKEY_BUILD_DIR", saved, 1);
	free(saved);
}

/* The directory shipped as it is: it loads as one set (no two profiles claim
 * the same USB ids), and every physical profile says where its facts come
 * from and is "verified = no" unless its file records a hardware check. */
static void
test_shipped_directory(void **state)
{
	struct errlist errs = { 0 };
	struct fw_profile_set *s;
	const struct fw_profile *p;
	char dir[1200], line[512];
	const char *dirs[1] = { dir };
	size_t i, n_physical = 0;
	FILE *fp;
	int checked;

	data_path(dir, sizeof(dir), "firmware-profiles");
	if (fw_profile_set_load(dirs, 1, &s, &errs) != 0) {
		for (i = 0; i < errs.n; i++)
			print_error("%s\n", errs.msgs[i]);
		fail();
	}
	assert_int_equal(errs.n, 0);
	assert_true(fw_profile_set_count(s) >= 5);
	for (i = 0; i < fw_profile_set_count(s); i++) {
		p = fw_profile_set_at(s, i);
		if (p->is_virtual)
			continue;
		n_physical++;
		assert_true(strlen(p->source) > 10);
		assert_true(p->n_product_ids > 0 || p->reader_pattern[0] != '\0');
		/* real tokens generate RSA-2048 keys in tens of seconds */
		if (p->timeout_keygen_ms < 60000)
			fail_msg("%s: timeouts.generate_key %d ms is too short for a real token",
			    p->path, p->timeout_keygen_ms);
		if (!p->verified)
			continue;
		checked = 0;
		assert_non_null(fp = fopen(p->path, "r"));
		while (fgets(line, sizeof(line), fp) != NULL)
			checked |= strncmp(line, "# hardware check: ", 18) == 0;
		fclose(fp);
		if (!checked)
			fail_msg("%s: verified = yes needs a \"# hardware check: \" line", p->path);
	}
	assert_true(n_physical >= 4);
	fw_profile_set_free(s);
}

/* The shipped real-token profiles match what the sources in their files say. */
static void
test_shipped_real_tokens(void **state)
{
	struct errlist errs = { 0 };
	struct fw_profile_set *s;
	const struct fw_profile *p;
	struct json_object *j;
	char dir[1200];
	const char *dirs[1] = { dir };

	data_path(dir, sizeof(dir), "firmware-profiles");
	assert_int_equal(fw_profile_set_load(dirs, 1, &s, &errs), 0);

	p = fw_profile_set_find(s, "feitian-epass2003");
	assert_non_null(p);
	assert_false(p->verified);
	assert_ptr_equal(fw_profile_set_match_usb(s, 0x096e, 0x0807, 0x0110), p);
	assert_ptr_equal(fw_profile_set_match_usb(s, 0x096e, 0x080a, 0x0100), p);
	assert_ptr_equal(fw_profile_set_match_reader(s, "Feitian ePass2003 00 00"), p);
	assert_ptr_equal(fw_profile_set_match_reader(s, "FT ePass2003Auto 01 00"), p);
	assert_int_equal(p->quirks, FW_QUIRK_NO_EC_KEYGEN | FW_QUIRK_INIT_NEEDS_BLANK);
	assert_int_equal(p->so_pin_charset, FW_PIN_DIGITS);
	assert_int_equal(p->slot_match, FW_SLOT_READER);

	p = fw_profile_set_find(s, "yubikey5-piv");
	assert_non_null(p);
	assert_false(p->init_token);
	assert_false(p->user_pin_random);
	assert_string_equal(p->initial_user_pin, "123456");
	assert_int_equal(p->so_pin_charset, FW_PIN_HEX);
	assert_int_equal(p->so_pin_length, 48);
	assert_true(p->quirks & FW_QUIRK_KEYGEN_NEEDS_SO_LOGIN);
	assert_false(fw_profile_supports(p, "rsa4096"));
	assert_ptr_equal(fw_profile_set_match_usb(s, 0x1050, 0x0407, 0x0527), p);
	assert_ptr_equal(fw_profile_set_match_usb(s, 0x1050, 0x0404, 0x0430), p);
	assert_null(fw_profile_set_match_usb(s, 0x1050, 0x0402, 0x0527));	/* FIDO only */
	assert_ptr_equal(fw_profile_set_match_reader(s, "Yubico YubiKey OTP+FIDO+CCID 00 00"), p);
	assert_ptr_equal(fw_profile_set_match_reader(s, "Yubico Yubikey 4 OTP+U2F+CCID 00 00"), p);
	assert_ptr_equal(fw_profile_set_match_reader(s, "Yubico YubiKey CCID 01 00"), p);
	assert_null(fw_profile_set_match_reader(s, "Yubico Yubikey NEO OTP+CCID 00 00"));
	j = fw_profile_to_json(p);
	assert_non_null(j);
	assert_null(strstr(json_object_to_json_string(j), "123456"));
	assert_string_equal(json_object_get_string(json_object_object_get(
	    json_object_object_get(j, "pin"), "so_pin_charset")), "hex");
	assert_false(json_object_get_boolean(json_object_object_get(
	    json_object_object_get(j, "pkcs11"), "init_token")));
	json_object_put(j);

	p = fw_profile_set_find(s, "nitrokey-hsm");
	assert_non_null(p);
	assert_int_equal(p->so_min, 16);
	assert_int_equal(p->so_max, 16);
	assert_int_equal(p->so_pin_charset, FW_PIN_HEX);
	assert_ptr_equal(fw_profile_set_match_usb(s, 0x20a0, 0x4230, 0x0101), p);
	assert_ptr_equal(fw_profile_set_match_reader(s,
	    "Nitrokey Nitrokey HSM (DENK01022960000 ) 00 00"), p);

	p = fw_profile_set_find(s, "rutoken-ecp");
	assert_non_null(p);
	assert_ptr_equal(fw_profile_set_match_usb(s, 0x0a89, 0x0030, 0x0100), p);
	assert_ptr_equal(fw_profile_set_match_reader(s, "Aktiv Rutoken ECP 00 00"), p);

	/* a reader no profile knows, and the virtual profile never matches USB */
	assert_null(fw_profile_set_match_reader(s, "Generic CCID Reader 00 00"));
	assert_null(fw_profile_set_match_usb(s, 0x0000, 0x0000, 0x0000));
	fw_profile_set_free(s);
}

/* Reads the "# expect: " first line of a bad file, with {file} replaced. */
static int
expected_message(const char *path, char *buf, size_t len)
{
	char line[1024], *nl, *at;
	FILE *fp = fopen(path, "r");

	if (fp == NULL)
		return -1;
	if (fgets(line, sizeof(line), fp) == NULL || strncmp(line, "# expect: ", 10) != 0) {
		fclose(fp);
		return -1;
	}
	fclose(fp);
	if ((nl = strchr(line, '\n')) != NULL)
		*nl = '\0';
	if ((at = strstr(line, "{file}")) == NULL)
		return -1;
	*at = '\0';
	snprintf(buf, len, "%s%s%s", line + 10, path, at + 6);
	return 0;
}

static int
conf_only(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && strcmp(d->d_name + n - 5, ".conf") == 0;
}

static void
test_bad_files(void **state)
{
	struct dirent **ents;
	struct fw_profile *p;
	char dir[1200], path[1600], want[2048], err[2048];
	int n, i;

	data_path(dir, sizeof(dir), "tests/data/firmware-profiles/bad");
	n = scandir(dir, &ents, conf_only, alphasort);
	assert_true(n >= 40);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if (expected_message(path, want, sizeof(want)) != 0)
			fail_msg("%s: first line must be \"# expect: {file}:...\"", path);
		p = (struct fw_profile *)1;
		assert_int_equal(fw_profile_load(path, &p, err, sizeof(err)), UKEY_ERR_INVAL);
		assert_null(p);
		if (strcmp(err, want) != 0)
			fail_msg("%s:\n  got:  %s\n  want: %s", ents[i]->d_name, err, want);
		/* a PIN in a profile never shows up in a message */
		assert_null(strstr(err, "31415926"));
		free(ents[i]);
	}
	free(ents);
}

static void
test_missing_file(void **state)
{
	struct fw_profile *p;
	char err[256];

	assert_int_equal(fw_profile_load("/nonexistent/x.conf", &p, err, sizeof(err)), UKEY_ERR_IO);
	assert_null(p);
	assert_string_equal(err, "/nonexistent/x.conf: cannot open: No such file or directory");
}

/* A NUL byte used to end the line early for strlen(): the line was called
 * too long, or its value cut short and the next line swallowed (found by
 * fuzz_profile). Now the line is refused as what it is, over the same
 * bytes from memory and from a file. */
static void
test_nul_byte(void **state)
{
	static const char comment[] = "# a comment\0with a NUL byte\n[token]\nname = x\n";
	static const char value[] = "[token]\nname = ab\0cd\n\ndescription = d\n";
	struct fw_profile *p = (struct fw_profile *)1;
	char err[512], path[] = "/tmp/ukey-test-nul-XXXXXX";
	FILE *fp;
	int fd;

	assert_int_equal(fw_profile_parse("t.conf", comment, sizeof(comment) - 1, &p, err,
	    sizeof(err)), UKEY_ERR_INVAL);
	assert_null(p);
	assert_string_equal(err, "t.conf:1: NUL byte in the line (the file must be text)");
	assert_int_equal(fw_profile_parse("t.conf", value, sizeof(value) - 1, &p, err,
	    sizeof(err)), UKEY_ERR_INVAL);
	assert_string_equal(err, "t.conf:2: NUL byte in the line (the file must be text)");

	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(fp = fdopen(fd, "w"));
	assert_int_equal(fwrite(value, 1, sizeof(value) - 1, fp), sizeof(value) - 1);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(fw_profile_load(path, &p, err, sizeof(err)), UKEY_ERR_INVAL);
	assert_non_null(strstr(err, ":2: NUL byte in the line (the file must be text)"));
	unlink(path);
}

/* The line length rule counts bytes up to the newline: 199 pass, 200 fail,
 * and the line after an over-long one is read as a line of its own. */
static void
test_line_length(void **state)
{
	char text[1024], err[512];
	struct fw_profile *p;
	int n;

	n = snprintf(text, sizeof(text), "# %0197d\n[nope]\n", 0);
	assert_int_equal(fw_profile_parse("t.conf", text, (size_t)n, &p, err, sizeof(err)),
	    UKEY_ERR_INVAL);
	assert_string_equal(err, "t.conf:2: [nope]: unknown section (known: token, usb, pkcs11, "
	    "keys, pin, label, timeouts, quirks)");
	n = snprintf(text, sizeof(text), "# %0198d\n[nope]\n", 0);
	assert_int_equal(fw_profile_parse("t.conf", text, (size_t)n, &p, err, sizeof(err)),
	    UKEY_ERR_INVAL);
	assert_string_equal(err, "t.conf:1: line longer than 199 bytes");
	assert_int_equal(fw_profile_parse("t.conf", "", 0, &p, err, sizeof(err)), UKEY_ERR_INVAL);
	assert_string_equal(err, "t.conf:0: token.name: required");
}

/* A set with bad files is refused whole, with one message per bad file. */
static void
test_set_lists_every_bad_file(void **state)
{
	struct errlist errs = { 0 };
	struct fw_profile_set *s = (struct fw_profile_set *)1;
	struct dirent **ents;
	char dir[1200], path[1600], want[2048];
	const char *dirs[1];
	int n, i;

	data_path(dir, sizeof(dir), "tests/data/firmware-profiles/bad");
	dirs[0] = dir;
	assert_int_equal(fw_profile_set_load(dirs, 1, &s, &errs), UKEY_ERR_INVAL);
	assert_null(s);
	n = scandir(dir, &ents, conf_only, alphasort);
	assert_int_equal(errs.n, (size_t)n);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		assert_int_equal(expected_message(path, want, sizeof(want)), 0);
		assert_string_equal(errs.msgs[i], want);	/* files are read in name order */
		free(ents[i]);
	}
	free(ents);
	errlist_clear(&errs);
}

static void
test_set_duplicate_names(void **state)
{
	struct errlist errs = { 0 };
	struct fw_profile_set *s;
	char dir[1200], want[4096];
	const char *dirs[1];

	data_path(dir, sizeof(dir), "tests/data/firmware-profiles/dup");
	dirs[0] = dir;
	assert_int_equal(fw_profile_set_load(dirs, 1, &s, &errs), UKEY_ERR_INVAL);
	assert_null(s);
	assert_int_equal(errs.n, 1);
	snprintf(want, sizeof(want), "%s/b.conf:3: token.name: \"same-name\" is already defined "
	    "in %s/a.conf", dir, dir);
	assert_string_equal(errs.msgs[0], want);
	errlist_clear(&errs);

	/* the same file in two directories is a duplicate too */
	{
		const char *twice[2] = { dir, dir };

		assert_int_equal(fw_profile_set_load(twice, 2, &s, &errs), UKEY_ERR_INVAL);
		assert_int_equal(errs.n, 3);
		errlist_clear(&errs);
	}
}

static void
test_set_usb_overlap(void **state)
{
	struct errlist errs = { 0 };
	struct fw_profile_set *s;
	char dir[1200], want[4096];
	const char *dirs[1];

	data_path(dir, sizeof(dir), "tests/data/firmware-profiles/overlap");
	dirs[0] = dir;
	assert_int_equal(fw_profile_set_load(dirs, 1, &s, &errs), UKEY_ERR_INVAL);
	assert_null(s);
	assert_int_equal(errs.n, 1);
	snprintf(want, sizeof(want), "%s/b.conf:11: usb.product_id: ffff:0002 firmware 1.00-1.50 "
	    "overlaps profile \"wide\" (%s/a.conf)", dir, dir);
	assert_string_equal(errs.msgs[0], want);
	errlist_clear(&errs);
}

static void
test_set_match_usb(void **state)
{
	struct errlist errs = { 0 };
	struct fw_profile_set *s;
	const struct fw_profile *p;
	struct json_object *j;
	char dir[1200];
	const char *dirs[2];

	data_path(dir, sizeof(dir), "tests/data/firmware-profiles/usb");
	dirs[0] = dir;
	dirs[1] = "/nonexistent/profiles";	/* skipped */
	assert_int_equal(fw_profile_set_load(dirs, 2, &s, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(fw_profile_set_count(s), 3);
	assert_string_equal(fw_profile_set_at(s, 0)->name, "test-new");
	assert_string_equal(fw_profile_set_at(s, 2)->name, "test-reader");
	assert_null(fw_profile_set_at(s, 3));

	p = fw_profile_set_match_usb(s, 0xffff, 0x0001, 0x0150);
	assert_non_null(p);
	assert_string_equal(p->name, "test-old");
	p = fw_profile_set_match_usb(s, 0xffff, 0x0002, 0x0000);
	assert_string_equal(p->name, "test-old");
	p = fw_profile_set_match_usb(s, 0xffff, 0x0001, 0x0199);	/* upper bound inclusive */
	assert_string_equal(p->name, "test-old");
	p = fw_profile_set_match_usb(s, 0xffff, 0x0001, 0x0200);
	assert_string_equal(p->name, "test-new");
	p = fw_profile_set_match_usb(s, 0xffff, 0x0001, 0x9999);
	assert_string_equal(p->name, "test-new");
	assert_null(fw_profile_set_match_usb(s, 0xffff, 0x0002, 0x0200));	/* pid 2 only old fw */
	assert_null(fw_profile_set_match_usb(s, 0xfffe, 0x0001, 0x0100));
	assert_null(fw_profile_set_match_usb(s, 0xffff, 0x0003, 0x0100));
	assert_null(fw_profile_set_match_usb(s, 0x0000, 0x0000, 0x0000));	/* reader-only */

	p = fw_profile_set_find(s, "test-reader");
	assert_non_null(p);
	assert_false(p->is_virtual);
	assert_string_equal(p->reader_pattern, "Example CCID *");
	assert_false(p->init_token);
	assert_int_equal(p->label_max_bytes, 16);
	assert_int_equal(p->timeout_default_ms, 5000);
	assert_int_equal(p->timeout_init_ms, 60000);
	assert_int_equal(p->timeout_keygen_ms, 300000);
	assert_int_equal(p->quirks, FW_QUIRK_REINIT_NEEDS_SO_PIN | FW_QUIRK_SINGLE_SESSION);
	assert_int_equal(p->n_algorithms, 3);
	assert_null(fw_profile_module(p));
	assert_null(fw_profile_set_find(s, "no-such"));

	/* the fixed initial PIN is never in the JSON */
	p = fw_profile_set_find(s, "test-old");
	assert_string_equal(p->initial_user_pin, "12345678");
	assert_false(p->user_pin_random);
	assert_int_equal(p->fw_min, 0x0000);
	assert_int_equal(p->fw_max, 0x0199);
	j = fw_profile_to_json(p);
	assert_non_null(j);
	assert_null(strstr(json_object_to_json_string(j), "12345678"));
	assert_true(json_object_get_boolean(json_object_object_get(
	    json_object_object_get(j, "pin"), "initial_user_pin_set")));
	assert_string_equal(json_object_get_string(json_object_object_get(
	    json_object_object_get(j, "usb"), "vendor_id")), "ffff");
	assert_string_equal(json_object_get_string(json_object_object_get(
	    json_object_object_get(j, "usb"), "firmware_max")), "1.99");
	json_object_put(j);
	fw_profile_set_free(s);
}

/* The shipped profiles and the test profiles load together, as the
 * integration tests use them. */
static void
test_set_shipped_and_test_profiles(void **state)
{
	struct errlist errs = { 0 };
	struct fw_profile_set *s;
	char a[1200], b[1200];
	const char *dirs[2] = { a, b };
	size_t i;

	data_path(a, sizeof(a), "firmware-profiles");
	data_path(b, sizeof(b), "tests/data/firmware-profiles");
	if (getenv("UKEY_BUILD_DIR") == NULL)
		setenv("UKEY_BUILD_DIR", UKEY_BUILD_DIR, 1);
	if (fw_profile_set_load(dirs, 2, &s, &errs) != 0) {
		for (i = 0; i < errs.n; i++)
			print_error("%s\n", errs.msgs[i]);
		fail();
	}
	assert_non_null(fw_profile_set_find(s, "softhsm2"));
	assert_non_null(fw_profile_set_find(s, "softhsm2-fault"));
	fw_profile_set_free(s);
	fw_profile_free(NULL);
	fw_profile_set_free(NULL);
}

static void
test_quirk_names(void **state)
{
	assert_string_equal(fw_quirk_name(FW_QUIRK_NO_EC_KEYGEN), "no-ec-keygen");
	assert_string_equal(fw_quirk_name(FW_QUIRK_REINIT_NEEDS_SO_PIN), "reinit-needs-so-pin");
	assert_string_equal(fw_quirk_name(FW_QUIRK_INIT_NEEDS_BLANK), "init-needs-blank");
	assert_string_equal(fw_quirk_name(FW_QUIRK_KEYGEN_NEEDS_SO_LOGIN), "keygen-needs-so-login");
	assert_null(fw_quirk_name(1u << 30));
	assert_string_equal(fw_pin_charset_name(FW_PIN_ALNUM), "alnum");
	assert_string_equal(fw_pin_charset_name(FW_PIN_DIGITS), "digits");
	assert_string_equal(fw_pin_charset_name(FW_PIN_HEX), "hex");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_softhsm2),
		cmocka_unit_test(test_shipped_directory),
		cmocka_unit_test(test_shipped_real_tokens),
		cmocka_unit_test(test_fault_profile_build_dir),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_line_length),
		cmocka_unit_test(test_set_lists_every_bad_file),
		cmocka_unit_test(test_set_duplicate_names),
		cmocka_unit_test(test_set_usb_overlap),
		cmocka_unit_test(test_set_match_usb),
		cmocka_unit_test(test_set_shipped_and_test_profiles),
		cmocka_unit_test(test_quirk_names),
	};
	const char *s = getenv("UKEY_SOURCE_DIR");

	snprintf(src_dir, sizeof(src_dir), "%s", s != NULL ? s : UKEY_SOURCE_DIR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
