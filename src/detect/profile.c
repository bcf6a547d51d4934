/* Firmware profiles: one INI file per token model, read with inih and checked
 * key by key, then across keys; a set of profiles is every file of a list of
 * directories, checked together (unique names, unambiguous USB ids). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/err.h"
#include "common/errlist.h"
#include "common/inifile.h"
#include "common/secret.h"
#include "common/utf8.h"
#include "detect/profile.h"

#define BUILD_DIR_TOKEN "@UKEY_BUILD_DIR@"
#define STATION_MIN_USER_PIN 6	/* the station never sets a shorter random user PIN */
#define STATION_MIN_SO_PIN 8	/* nor a shorter random SO PIN */
#define PIN_LEN_LIMIT 255
#define TIMEOUT_MAX_MS 600000

enum sec { S_TOKEN, S_USB, S_PKCS11, S_KEYS, S_PIN, S_LABEL, S_TIMEOUTS, S_QUIRKS, S_N };

static const char *const sec_names[S_N] = {
	"token", "usb", "pkcs11", "keys", "pin", "label", "timeouts", "quirks",
};

enum key {
	K_NAME, K_DESCRIPTION, K_VERIFIED, K_SOURCE, K_VIRTUAL,
	K_VENDOR_ID, K_PRODUCT_ID, K_FW_MIN, K_FW_MAX,
	K_MODULE, K_READER_PATTERN, K_INIT_TOKEN, K_SLOT,
	K_ALGORITHMS,
	K_USER_MIN, K_USER_MAX, K_SO_MIN, K_SO_MAX, K_USER_PIN_POLICY, K_USER_PIN_LENGTH,
	K_INITIAL_USER_PIN, K_SO_PIN_LENGTH, K_SO_PIN_CHARSET, K_USER_MAX_TRIES,
	K_LABEL_MAX,
	K_TO_DEFAULT, K_TO_INIT, K_TO_KEYGEN,
	K_QUIRKS,
	K_N
};

static const struct inifile_key keys[K_N] = {
	[K_NAME] = { S_TOKEN, "name" },
	[K_DESCRIPTION] = { S_TOKEN, "description" },
	[K_VERIFIED] = { S_TOKEN, "verified" },
	[K_SOURCE] = { S_TOKEN, "source" },
	[K_VIRTUAL] = { S_TOKEN, "virtual" },
	[K_VENDOR_ID] = { S_USB, "vendor_id" },
	[K_PRODUCT_ID] = { S_USB, "product_id" },
	[K_FW_MIN] = { S_USB, "firmware_min" },
	[K_FW_MAX] = { S_USB, "firmware_max" },
	[K_MODULE] = { S_PKCS11, "module" },
	[K_READER_PATTERN] = { S_PKCS11, "reader_pattern" },
	[K_INIT_TOKEN] = { S_PKCS11, "init_token" },
	[K_SLOT] = { S_PKCS11, "slot" },
	[K_ALGORITHMS] = { S_KEYS, "algorithms" },
	[K_USER_MIN] = { S_PIN, "user_min" },
	[K_USER_MAX] = { S_PIN, "user_max" },
	[K_SO_MIN] = { S_PIN, "so_min" },
	[K_SO_MAX] = { S_PIN, "so_max" },
	[K_USER_PIN_POLICY] = { S_PIN, "user_pin_policy" },
	[K_USER_PIN_LENGTH] = { S_PIN, "user_pin_length" },
	[K_INITIAL_USER_PIN] = { S_PIN, "initial_user_pin" },
	[K_SO_PIN_LENGTH] = { S_PIN, "so_pin_length" },
	[K_SO_PIN_CHARSET] = { S_PIN, "so_pin_charset" },
	[K_USER_MAX_TRIES] = { S_PIN, "user_max_tries" },
	[K_LABEL_MAX] = { S_LABEL, "max_bytes" },
	[K_TO_DEFAULT] = { S_TIMEOUTS, "default" },
	[K_TO_INIT] = { S_TIMEOUTS, "init_token" },
	[K_TO_KEYGEN] = { S_TIMEOUTS, "generate_key" },
	[K_QUIRKS] = { S_QUIRKS, "list" },
};

/* Keys every profile must have; the conditional ones are checked in finish(). */
static const enum key required_keys[] = {
	K_NAME, K_DESCRIPTION, K_VERIFIED, K_SOURCE, K_MODULE, K_INIT_TOKEN, K_ALGORITHMS,
	K_USER_MIN, K_USER_MAX, K_SO_MIN, K_SO_MAX, K_USER_PIN_POLICY, K_SO_PIN_LENGTH,
};

static const char *const known_algorithms[] = {
	"rsa2048", "rsa3072", "rsa4096", "ec-p256", "ec-p384",
};
#define KNOWN_ALGORITHMS "rsa2048, rsa3072, rsa4096, ec-p256, ec-p384"

static const struct {
	unsigned bit;
	const char *name;
} quirk_table[] = {
	{ FW_QUIRK_REINIT_NEEDS_SO_PIN, "reinit-needs-so-pin" },
	{ FW_QUIRK_SLOT_MOVES_AFTER_INIT, "slot-moves-after-init" },
	{ FW_QUIRK_NO_EC_KEYGEN, "no-ec-keygen" },
	{ FW_QUIRK_SINGLE_SESSION, "single-session" },
	{ FW_QUIRK_INIT_NEEDS_BLANK, "init-needs-blank" },
	{ FW_QUIRK_KEYGEN_NEEDS_SO_LOGIN, "keygen-needs-so-login" },
	{ FW_QUIRK_FRESH_WORKER, "fresh-worker" },
};
#define KNOWN_QUIRKS "reinit-needs-so-pin, slot-moves-after-init, no-ec-keygen, " \
	"single-session, init-needs-blank, keygen-needs-so-login, fresh-worker"

/* Where a few keys were found, for messages about them from the set checks. */
struct load_info {
	unsigned name_line, product_line;
};

struct pstate {
	struct inifile ini;		/* path, line, first error */
	struct fw_profile *p;
	unsigned sec_line[S_N];		/* header line of each section, 0 if absent */
	unsigned key_line[K_N];		/* line of each key, 0 if absent */
	char *modules_raw;		/* kept until the end: @UKEY_BUILD_DIR@ depends on [token] */
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Fails key k at the line it was given on, or, when it is missing, at its
 * section's header (or the last line when the section is missing too). */
#define kerr(st, k, ...) inifile_key_fail(&(st)->ini, (k), __VA_ARGS__)

/* Decimal integer in [min, max], digits only. */
static int
parse_int(const char *v, long min, long max, int *out)
{
	long n = 0;
	const char *s;

	if (*v == '\0')
		return -1;
	for (s = v; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s) || s - v > 9)
			return -1;
		n = n * 10 + (*s - '0');
	}
	if (n < min || n > max)
		return -1;
	*out = (int)n;
	return 0;
}

/* "major.minor", each 0..99, to the bcdDevice form 0xMMmm: 1.2 and 1.02 are
 * both 0x0102, which lsusb prints as 1.02. */
static int
parse_fw(const char *v, unsigned *out)
{
	unsigned part[2] = { 0, 0 };
	int i, digits;

	for (i = 0; i < 2; i++) {
		for (digits = 0; isdigit((unsigned char)*v); v++, digits++)
			part[i] = part[i] * 10 + (unsigned)(*v - '0');
		if (digits < 1 || digits > 2)
			return -1;
		if (i == 0 && *v++ != '.')
			return -1;
	}
	if (*v != '\0')
		return -1;
	*out = ((part[0] / 10) << 12) | ((part[0] % 10) << 8) | ((part[1] / 10) << 4) | (part[1] % 10);
	return 0;
}

static void
fw_format(unsigned bcd, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%02u", ((bcd >> 12) & 0xf) * 10 + ((bcd >> 8) & 0xf),
	    ((bcd >> 4) & 0xf) * 10 + (bcd & 0xf));
}

static int
valid_name(const char *v)
{
	size_t n = strlen(v), i;

	if (n == 0 || n > 63)
		return 0;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)v[i]) || isdigit((unsigned char)v[i]) || v[i] == '-'))
			return 0;
	return 1;
}

static int
set_text(struct pstate *st, enum key k, char *dst, size_t dstlen, const char *v)
{
	if (*v == '\0') {
		kerr(st, k, "must not be empty");
		return -1;
	}
	if (strlen(v) >= dstlen) {
		kerr(st, k, "longer than %zu bytes", dstlen - 1);
		return -1;
	}
	if (!utf8_valid(v, strlen(v)) || utf8_has_control(v)) {
		kerr(st, k, "must be UTF-8 text without control characters");
		return -1;
	}
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int
set_product_ids(struct pstate *st, const char *v)
{
	struct fw_profile *p = st->p;
	const char *cur = v;
	char item[16];
	unsigned id;
	size_t i;
	int r;

	while ((r = inifile_list_next(&cur, item, sizeof(item))) != 0) {
		if (r == -1) {
			kerr(st, K_PRODUCT_ID, "empty item in the list");
			return -1;
		}
		if (r == -2 || hex_read4(item, &id) != 0) {
			kerr(st, K_PRODUCT_ID, "each id must be 4 hex digits (e.g. 0807)");
			return -1;
		}
		for (i = 0; i < p->n_product_ids; i++)
			if (p->product_ids[i] == id) {
				kerr(st, K_PRODUCT_ID, "%04x listed twice", id);
				return -1;
			}
		if (p->n_product_ids == FW_MAX_PRODUCT_IDS) {
			kerr(st, K_PRODUCT_ID, "more than %d product ids", FW_MAX_PRODUCT_IDS);
			return -1;
		}
		p->product_ids[p->n_product_ids++] = id;
	}
	if (p->n_product_ids == 0) {
		kerr(st, K_PRODUCT_ID, "must list at least one product id");
		return -1;
	}
	return 0;
}

static int
set_algorithms(struct pstate *st, const char *v)
{
	struct fw_profile *p = st->p;
	const char *cur = v;
	char item[16];
	size_t i;
	int r, known;

	while ((r = inifile_list_next(&cur, item, sizeof(item))) != 0) {
		if (r == -1) {
			kerr(st, K_ALGORITHMS, "empty item in the list");
			return -1;
		}
		known = 0;
		for (i = 0; r == 1 && i < ARRAY_LEN(known_algorithms); i++)
			known |= strcmp(item, known_algorithms[i]) == 0;
		if (!known) {
			kerr(st, K_ALGORITHMS, "\"%s\" is not supported (supported: %s)",
			    r == 1 ? item : "(too long)", KNOWN_ALGORITHMS);
			return -1;
		}
		if (fw_profile_supports(p, item)) {
			kerr(st, K_ALGORITHMS, "\"%s\" listed twice", item);
			return -1;
		}
		/* at most 5 distinct known names, below FW_MAX_ALGORITHMS; item fits */
		memcpy(p->algorithms[p->n_algorithms++], item, strlen(item) + 1);
	}
	if (p->n_algorithms == 0) {
		kerr(st, K_ALGORITHMS, "must list at least one algorithm");
		return -1;
	}
	return 0;
}

static int
set_quirks(struct pstate *st, const char *v)
{
	const char *cur = v;
	char item[32];
	unsigned bit;
	size_t i;
	int r;

	while ((r = inifile_list_next(&cur, item, sizeof(item))) != 0) {
		if (r == -1) {
			kerr(st, K_QUIRKS, "empty item in the list");
			return -1;
		}
		bit = 0;
		for (i = 0; r == 1 && i < ARRAY_LEN(quirk_table); i++)
			if (strcmp(item, quirk_table[i].name) == 0)
				bit = quirk_table[i].bit;
		if (bit == 0) {
			kerr(st, K_QUIRKS, "\"%s\" is not a known quirk (known: %s)",
			    r == 1 ? item : "(too long)", KNOWN_QUIRKS);
			return -1;
		}
		if (st->p->quirks & bit) {
			kerr(st, K_QUIRKS, "\"%s\" listed twice", item);
			return -1;
		}
		st->p->quirks |= bit;
	}
	return 0;
}

static int
set_int(struct pstate *st, enum key k, const char *v, long min, long max, int *out)
{
	if (parse_int(v, min, max, out) != 0) {
		kerr(st, k, "must be a whole number from %ld to %ld", min, max);
		return -1;
	}
	return 0;
}

/* Stores one key's value in the profile; checks that need other keys wait
 * for finish(). Returns 0 or -1 with the error recorded. */
static int
set_value(void *user, unsigned key, const char *v)
{
	struct pstate *st = user;
	struct fw_profile *p = st->p;
	enum key k = (enum key)key;
	int *flag = NULL;
	unsigned *fw = NULL;

	switch (k) {
	case K_NAME:
		if (!valid_name(v)) {
			kerr(st, k, "must be 1 to 63 characters of a-z, 0-9 and -");
			return -1;
		}
		snprintf(p->name, sizeof(p->name), "%s", v);
		return 0;
	case K_DESCRIPTION:
		return set_text(st, k, p->description, sizeof(p->description), v);
	case K_SOURCE:
		return set_text(st, k, p->source, sizeof(p->source), v);
	case K_VERIFIED:
		flag = &p->verified;
		break;
	case K_VIRTUAL:
		flag = &p->is_virtual;
		break;
	case K_INIT_TOKEN:
		flag = &p->init_token;
		break;
	case K_VENDOR_ID:
		if (hex_read4(v, &p->vendor_id) != 0) {
			kerr(st, k, "must be 4 hex digits (e.g. 096e)");
			return -1;
		}
		return 0;
	case K_PRODUCT_ID:
		return set_product_ids(st, v);
	case K_FW_MIN:
		fw = &p->fw_min;
		break;
	case K_FW_MAX:
		fw = &p->fw_max;
		break;
	case K_MODULE:
		if ((st->modules_raw = strdup(v)) == NULL)
			return -1;	/* reported as out of memory by the caller */
		return 0;
	case K_READER_PATTERN:
		return set_text(st, k, p->reader_pattern, sizeof(p->reader_pattern), v);
	case K_SLOT:
		if (strcmp(v, "any") == 0)
			p->slot_match = FW_SLOT_ANY;
		else if (strcmp(v, "reader") == 0)
			p->slot_match = FW_SLOT_READER;
		else if (strcmp(v, "usb-serial") == 0)
			p->slot_match = FW_SLOT_USB_SERIAL;
		else {
			kerr(st, k, "must be any, reader or usb-serial");
			return -1;
		}
		return 0;
	case K_ALGORITHMS:
		return set_algorithms(st, v);
	case K_USER_MIN:
		return set_int(st, k, v, 1, PIN_LEN_LIMIT, &p->user_min);
	case K_USER_MAX:
		return set_int(st, k, v, 1, PIN_LEN_LIMIT, &p->user_max);
	case K_SO_MIN:
		return set_int(st, k, v, 1, PIN_LEN_LIMIT, &p->so_min);
	case K_SO_MAX:
		return set_int(st, k, v, 1, PIN_LEN_LIMIT, &p->so_max);
	case K_USER_PIN_POLICY:
		if (strcmp(v, "random-digits") == 0)
			p->user_pin_random = 1;
		else if (strcmp(v, "fixed") == 0)
			p->user_pin_random = 0;
		else {
			kerr(st, k, "must be random-digits or fixed");
			return -1;
		}
		return 0;
	case K_USER_PIN_LENGTH:
		return set_int(st, k, v, 1, PIN_LEN_LIMIT, &p->user_pin_length);
	case K_INITIAL_USER_PIN:
		/* the value itself never goes into a message */
		if (*v == '\0') {
			kerr(st, k, "must not be empty");
			return -1;
		}
		if ((p->initial_user_pin = strdup(v)) == NULL)
			return -1;
		return 0;
	case K_SO_PIN_LENGTH:
		return set_int(st, k, v, 1, PIN_LEN_LIMIT, &p->so_pin_length);
	case K_USER_MAX_TRIES:
		return set_int(st, k, v, 1, 99, &p->user_max_tries);
	case K_SO_PIN_CHARSET:
		if (strcmp(v, "alnum") == 0)
			p->so_pin_charset = FW_PIN_ALNUM;
		else if (strcmp(v, "digits") == 0)
			p->so_pin_charset = FW_PIN_DIGITS;
		else if (strcmp(v, "hex") == 0)
			p->so_pin_charset = FW_PIN_HEX;
		else {
			kerr(st, k, "must be alnum, digits or hex");
			return -1;
		}
		return 0;
	case K_LABEL_MAX:
		return set_int(st, k, v, 1, 32, &p->label_max_bytes);
	case K_TO_DEFAULT:
		return set_int(st, k, v, 1, TIMEOUT_MAX_MS, &p->timeout_default_ms);
	case K_TO_INIT:
		return set_int(st, k, v, 1, TIMEOUT_MAX_MS, &p->timeout_init_ms);
	case K_TO_KEYGEN:
		return set_int(st, k, v, 1, TIMEOUT_MAX_MS, &p->timeout_keygen_ms);
	case K_QUIRKS:
		return set_quirks(st, v);
	case K_N:
		break;
	}
	if (flag != NULL && inifile_yesno(v, flag) != 0) {
		kerr(st, k, "must be yes or no");
		return -1;
	}
	if (fw != NULL && parse_fw(v, fw) != 0) {
		kerr(st, k, "must be major.minor, each part 0 to 99 (e.g. 1.02)");
		return -1;
	}
	return 0;
}

static int
on_key(void *user, const char *section, const char *name, const char *value)
{
	struct pstate *st = user;

	return inifile_handle_key(&st->ini, section, name, value, set_value, st);
}

/* Replaces every @UKEY_BUILD_DIR@ in s; returns a new string or NULL on
 * memory failure. */
static char *
subst_build_dir(const char *s, const char *build)
{
	size_t tlen = strlen(BUILD_DIR_TOKEN), blen = strlen(build), n = 0;
	const char *at;
	char *out, *o;

	for (at = s; (at = strstr(at, BUILD_DIR_TOKEN)) != NULL; at += tlen)
		n++;
	if ((out = malloc(strlen(s) + n * blen + 1)) == NULL)
		return NULL;
	for (o = out; (at = strstr(s, BUILD_DIR_TOKEN)) != NULL; s = at + tlen) {
		memcpy(o, s, (size_t)(at - s));
		o += at - s;
		memcpy(o, build, blen);
		o += blen;
	}
	strcpy(o, s);
	return out;
}

static int
set_modules(struct pstate *st)
{
	struct fw_profile *p = st->p;
	const char *cur = st->modules_raw, *build;
	char item[512];
	int r;

	while ((r = inifile_list_next(&cur, item, sizeof(item))) != 0) {
		if (r < 0) {
			kerr(st, K_MODULE, r == -1 ? "empty item in the list" :
			    "a path is longer than 511 bytes");
			return -1;
		}
		if (p->n_modules == FW_MAX_MODULES) {
			kerr(st, K_MODULE, "more than %d candidates", FW_MAX_MODULES);
			return -1;
		}
		if (strstr(item, BUILD_DIR_TOKEN) != NULL) {
			if (!p->is_virtual) {
				kerr(st, K_MODULE, BUILD_DIR_TOKEN " is allowed only in virtual (test) "
				    "profiles");
				return -1;
			}
			build = getenv("UKEY_BUILD_DIR");
			if (build == NULL || *build == '\0') {
				kerr(st, K_MODULE, "uses " BUILD_DIR_TOKEN " but the environment "
				    "variable UKEY_BUILD_DIR is not set");
				return -1;
			}
			p->modules[p->n_modules] = subst_build_dir(item, build);
		} else
			p->modules[p->n_modules] = strdup(item);
		if (p->modules[p->n_modules] == NULL) {
			st->ini.nomem = 1;
			kerr(st, K_MODULE, "out of memory");
			return -1;
		}
		if (p->modules[p->n_modules++][0] != '/') {
			kerr(st, K_MODULE, "\"%s\" is not an absolute path", item);
			return -1;
		}
	}
	if (p->n_modules == 0) {
		kerr(st, K_MODULE, "must name at least one module");
		return -1;
	}
	return 0;
}

/* Checks that need several keys, in the order a reader of the file meets them. */
static int
finish(struct pstate *st)
{
	struct fw_profile *p = st->p;
	size_t i;
	int len;

	for (i = 0; i < ARRAY_LEN(required_keys); i++)
		if (st->key_line[required_keys[i]] == 0) {
			kerr(st, required_keys[i], "required");
			return -1;
		}
	if (p->is_virtual && st->sec_line[S_USB] != 0) {
		inifile_fail(&st->ini, st->sec_line[S_USB], NULL, "[usb]: not allowed for a virtual token");
		return -1;
	}
	if (st->sec_line[S_USB] != 0) {
		if (st->key_line[K_VENDOR_ID] == 0) {
			kerr(st, K_VENDOR_ID, "required in [usb]");
			return -1;
		}
		if (st->key_line[K_PRODUCT_ID] == 0) {
			kerr(st, K_PRODUCT_ID, "required in [usb]");
			return -1;
		}
		if (p->fw_min > p->fw_max) {
			kerr(st, K_FW_MAX, "lower than firmware_min");
			return -1;
		}
	} else if (!p->is_virtual && p->reader_pattern[0] == '\0') {
		inifile_fail(&st->ini, st->sec_line[S_TOKEN], "token.virtual", "a physical token needs [usb] "
		    "vendor_id and product_id, or pkcs11.reader_pattern, to be recognised");
		return -1;
	}
	if (set_modules(st) != 0)
		return -1;
	if (st->key_line[K_SLOT] == 0)
		p->slot_match = p->is_virtual ? FW_SLOT_ANY :
		    p->reader_pattern[0] ? FW_SLOT_READER : FW_SLOT_USB_SERIAL;
	if (p->slot_match == FW_SLOT_READER && p->reader_pattern[0] == '\0') {
		kerr(st, K_SLOT, "reader needs pkcs11.reader_pattern");
		return -1;
	}
	if (p->slot_match == FW_SLOT_USB_SERIAL && st->sec_line[S_USB] == 0) {
		kerr(st, K_SLOT, "usb-serial needs a [usb] section");
		return -1;
	}
	if (p->slot_match == FW_SLOT_ANY && !p->is_virtual) {
		/* two tokens of one model in two bays would be told apart by nothing */
		kerr(st, K_SLOT, "any is only allowed for a virtual token");
		return -1;
	}
	if (p->user_min > p->user_max) {
		kerr(st, K_USER_MAX, "lower than user_min (%d)", p->user_min);
		return -1;
	}
	if (p->so_min > p->so_max) {
		kerr(st, K_SO_MAX, "lower than so_min (%d)", p->so_min);
		return -1;
	}
	if (p->user_pin_random) {
		if (st->key_line[K_INITIAL_USER_PIN] != 0) {
			kerr(st, K_INITIAL_USER_PIN, "only allowed with user_pin_policy = fixed");
			return -1;
		}
		if (st->key_line[K_USER_PIN_LENGTH] == 0) {
			kerr(st, K_USER_PIN_LENGTH, "required with user_pin_policy = random-digits");
			return -1;
		}
		if (p->user_pin_length < p->user_min || p->user_pin_length > p->user_max) {
			kerr(st, K_USER_PIN_LENGTH, "must be within user_min..user_max (%d..%d)",
			    p->user_min, p->user_max);
			return -1;
		}
		if (p->user_pin_length < STATION_MIN_USER_PIN) {
			kerr(st, K_USER_PIN_LENGTH, "must be at least %d (station rule)",
			    STATION_MIN_USER_PIN);
			return -1;
		}
	} else {
		if (st->key_line[K_USER_PIN_LENGTH] != 0) {
			kerr(st, K_USER_PIN_LENGTH, "only allowed with user_pin_policy = "
			    "random-digits");
			return -1;
		}
		if (p->initial_user_pin == NULL) {
			kerr(st, K_INITIAL_USER_PIN, "required with user_pin_policy = fixed");
			return -1;
		}
		len = (int)strlen(p->initial_user_pin);
		if (len < p->user_min || len > p->user_max) {
			kerr(st, K_INITIAL_USER_PIN, "length must be within user_min..user_max "
			    "(%d..%d)", p->user_min, p->user_max);
			return -1;
		}
	}
	if (p->so_pin_length < p->so_min || p->so_pin_length > p->so_max) {
		kerr(st, K_SO_PIN_LENGTH, "must be within so_min..so_max (%d..%d)", p->so_min,
		    p->so_max);
		return -1;
	}
	if (p->so_pin_length < STATION_MIN_SO_PIN) {
		kerr(st, K_SO_PIN_LENGTH, "must be at least %d (station rule)", STATION_MIN_SO_PIN);
		return -1;
	}
	if ((p->quirks & FW_QUIRK_NO_EC_KEYGEN) &&
	    (fw_profile_supports(p, "ec-p256") || fw_profile_supports(p, "ec-p384"))) {
		kerr(st, K_QUIRKS, "no-ec-keygen contradicts an ec-* entry in keys.algorithms");
		return -1;
	}
	return 0;
}

static void
profile_defaults(struct fw_profile *p)
{
	p->fw_min = 0x0000;
	p->fw_max = 0x9999;
	p->label_max_bytes = 32;
	p->timeout_default_ms = 20000;
	p->timeout_init_ms = 60000;
	p->timeout_keygen_ms = 120000;
}

/* Parses len bytes of text, the content of the profile file path. */
static int
profile_parse(const char *path, const char *text, size_t len, struct fw_profile **out,
    struct load_info *info, char *err, size_t errlen)
{
	struct pstate st;
	struct fw_profile *p = NULL;
	int rc;

	*out = NULL;
	memset(&st, 0, sizeof(st));
	st.ini = (struct inifile){ .path = path, .sections = sec_names, .n_sections = S_N,
	    .sec_line = st.sec_line, .keys = keys, .n_keys = K_N, .key_line = st.key_line,
	    .list_known_keys = 1 };
	if (errlen > 0)
		err[0] = '\0';
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	st.p = p;
	profile_defaults(p);
	if (strlen(path) >= sizeof(p->path)) {
		snprintf(err, errlen, "%s: path longer than %zu bytes", path, sizeof(p->path) - 1);
		rc = UKEY_ERR_INVAL;
		goto out;
	}
	snprintf(p->path, sizeof(p->path), "%s", path);
	if ((rc = inifile_parse_mem(&st.ini, text, len, on_key, &st, err, errlen)) != 0)
		goto out;
	if (!st.ini.failed)
		finish(&st);
	if ((rc = inifile_result(&st.ini, err, errlen)) != 0)
		goto out;
	if (info != NULL) {
		info->name_line = st.key_line[K_NAME];
		info->product_line = st.key_line[K_PRODUCT_ID];
	}
	*out = p;
	p = NULL;	/* caller owns it now */
	rc = 0;
 out:
	free(st.modules_raw);
	fw_profile_free(p);
	return rc;
}

/* Reads the file path whole (profiles are small: at most FW_PROFILE_MAX_BYTES)
 * and parses it, so that the daemon and the parser's fuzz harness share one
 * path from the bytes on. */
static int
profile_load(const char *path, struct fw_profile **out, struct load_info *info, char *err,
    size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, rc;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return UKEY_ERR_IO;
	}
	if ((text = malloc(FW_PROFILE_MAX_BYTES + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	/* one byte more than allowed tells a file that is too large */
	while (len <= FW_PROFILE_MAX_BYTES) {
		n = read(fd, text + len, FW_PROFILE_MAX_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
			rc = UKEY_ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > FW_PROFILE_MAX_BYTES) {
		snprintf(err, errlen, "%s: larger than %d bytes", path, FW_PROFILE_MAX_BYTES);
		rc = UKEY_ERR_INVAL;
		goto out;
	}
	rc = profile_parse(path, text, len, out, info, err, errlen);
 out:
	if (text != NULL)
		secure_wipe(text, len);	/* a fixed initial user PIN may be in it */
	free(text);
	close(fd);
	return rc;
}

int
fw_profile_load(const char *path, struct fw_profile **out, char *err, size_t errlen)
{
	return profile_load(path, out, NULL, err, errlen);
}

int
fw_profile_parse(const char *name, const char *text, size_t len, struct fw_profile **out,
    char *err, size_t errlen)
{
	return profile_parse(name, text, len, out, NULL, err, errlen);
}

void
fw_profile_free(struct fw_profile *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n_modules; i++)
		free(p->modules[i]);
	if (p->initial_user_pin != NULL) {
		secure_wipe(p->initial_user_pin, strlen(p->initial_user_pin));
		free(p->initial_user_pin);
	}
	free(p);
}

const char *
fw_profile_module(const struct fw_profile *p)
{
	struct stat sb;
	size_t i;

	for (i = 0; i < p->n_modules; i++)
		if (stat(p->modules[i], &sb) == 0 && S_ISREG(sb.st_mode) &&
		    access(p->modules[i], R_OK) == 0)
			return p->modules[i];
	return NULL;
}

int
fw_profile_supports(const struct fw_profile *p, const char *alg)
{
	size_t i;

	for (i = 0; i < p->n_algorithms; i++)
		if (strcmp(p->algorithms[i], alg) == 0)
			return 1;
	return 0;
}

const char *
fw_quirk_name(unsigned bit)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(quirk_table); i++)
		if (quirk_table[i].bit == bit)
			return quirk_table[i].name;
	return NULL;
}

struct fw_profile_set {
	struct fw_profile **v;
	size_t n, cap;
};

static int
usb_overlap(const struct fw_profile *a, const struct fw_profile *b, unsigned *pid)
{
	size_t i, j;

	if (a->n_product_ids == 0 || b->n_product_ids == 0 || a->vendor_id != b->vendor_id)
		return 0;
	if (a->fw_max < b->fw_min || b->fw_max < a->fw_min)
		return 0;
	for (i = 0; i < a->n_product_ids; i++)
		for (j = 0; j < b->n_product_ids; j++)
			if (a->product_ids[i] == b->product_ids[j]) {
				*pid = a->product_ids[i];
				return 1;
			}
	return 0;
}

/* Checks p against the profiles already in s; returns 0 or -1 with the
 * problem appended to errs. */
static int
set_check(const struct fw_profile_set *s, const struct fw_profile *p,
    const struct load_info *info, struct errlist *errs)
{
	char lo[8], hi[8];
	unsigned pid;
	size_t i;

	for (i = 0; i < s->n; i++) {
		if (strcmp(s->v[i]->name, p->name) == 0) {
			if (errs != NULL)
				errlist_add(errs, "%s:%u: token.name: \"%s\" is already defined in %s",
				    p->path, info->name_line, p->name, s->v[i]->path);
			return -1;
		}
		if (usb_overlap(s->v[i], p, &pid)) {
			fw_format(p->fw_min, lo, sizeof(lo));
			fw_format(p->fw_max, hi, sizeof(hi));
			if (errs != NULL)
				errlist_add(errs, "%s:%u: usb.product_id: %04x:%04x firmware %s-%s "
				    "overlaps profile \"%s\" (%s)", p->path, info->product_line,
				    p->vendor_id, pid, lo, hi, s->v[i]->name, s->v[i]->path);
			return -1;
		}
	}
	return 0;
}

static int
set_append(struct fw_profile_set *s, struct fw_profile *p)
{
	struct fw_profile **nv;
	size_t ncap;

	if (s->n == s->cap) {
		ncap = s->cap ? s->cap * 2 : 8;
		if ((nv = realloc(s->v, ncap * sizeof(*nv))) == NULL)
			return UKEY_ERR_NOMEM;
		s->v = nv;
		s->cap = ncap;
	}
	s->v[s->n++] = p;
	return 0;
}

static int
load_dir(struct fw_profile_set *s, const char *dir, struct errlist *errs, int *bad)
{
	struct dirent **ents = NULL;
	struct fw_profile *p = NULL;
	struct load_info info;
	char path[4096], err[1024];
	int n, i, rc = 0, lrc;

	if ((n = scandir(dir, &ents, inifile_conf_filter, alphasort)) < 0) {
		if (errno == ENOENT)
			return 0;	/* an optional directory, e.g. /etc's */
		if (errs != NULL)
			errlist_add(errs, "%s: cannot read directory: %s", dir, strerror(errno));
		*bad = 1;
		return 0;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		lrc = profile_load(path, &p, &info, err, sizeof(err));
		if (lrc == UKEY_ERR_NOMEM) {
			rc = lrc;
			goto out;
		}
		if (lrc != 0) {
			if (errs != NULL)
				errlist_add(errs, "%s", err);
			*bad = 1;
			continue;
		}
		if (set_check(s, p, &info, errs) != 0) {
			*bad = 1;
			fw_profile_free(p);
			p = NULL;
			continue;
		}
		if ((rc = set_append(s, p)) != 0)
			goto out;
		p = NULL;	/* the set owns it now */
	}
 out:
	fw_profile_free(p);
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return rc;
}

int
fw_profile_set_load(const char *const *dirs, size_t ndirs, struct fw_profile_set **out,
    struct errlist *errs)
{
	struct fw_profile_set *s;
	size_t i;
	int rc = 0, bad = 0;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return UKEY_ERR_NOMEM;
	for (i = 0; i < ndirs && rc == 0; i++)
		rc = load_dir(s, dirs[i], errs, &bad);
	if (rc == 0 && bad)
		rc = UKEY_ERR_INVAL;
	if (rc != 0)
		goto out;
	*out = s;
	s = NULL;	/* caller owns it now */
 out:
	fw_profile_set_free(s);
	return rc;
}

size_t
fw_profile_set_count(const struct fw_profile_set *s)
{
	return s != NULL ? s->n : 0;
}

const struct fw_profile *
fw_profile_set_at(const struct fw_profile_set *s, size_t i)
{
	return s != NULL && i < s->n ? s->v[i] : NULL;
}

const struct fw_profile *
fw_profile_set_find(const struct fw_profile_set *s, const char *name)
{
	size_t i;

	for (i = 0; s != NULL && i < s->n; i++)
		if (strcmp(s->v[i]->name, name) == 0)
			return s->v[i];
	return NULL;
}

const struct fw_profile *
fw_profile_set_match_usb(const struct fw_profile_set *s, unsigned vid, unsigned pid,
    unsigned bcd_device)
{
	const struct fw_profile *p;
	size_t i, j;

	for (i = 0; s != NULL && i < s->n; i++) {
		p = s->v[i];
		if (p->n_product_ids == 0 || p->vendor_id != vid || bcd_device < p->fw_min ||
		    bcd_device > p->fw_max)
			continue;
		for (j = 0; j < p->n_product_ids; j++)
			if (p->product_ids[j] == pid)
				return p;
	}
	return NULL;
}

const struct fw_profile *
fw_profile_set_match_reader(const struct fw_profile_set *s, const char *reader)
{
	size_t i;

	for (i = 0; s != NULL && reader != NULL && i < s->n; i++)
		if (s->v[i]->reader_pattern[0] && fnmatch(s->v[i]->reader_pattern, reader, 0) == 0)
			return s->v[i];
	return NULL;
}

const char *
fw_slot_match_name(enum fw_slot_match m)
{
	switch (m) {
	case FW_SLOT_ANY: return "any";
	case FW_SLOT_READER: return "reader";
	case FW_SLOT_USB_SERIAL: return "usb-serial";
	}
	return "?";
}

const char *
fw_pin_charset_name(enum fw_pin_charset c)
{
	switch (c) {
	case FW_PIN_ALNUM: return "alnum";
	case FW_PIN_DIGITS: return "digits";
	case FW_PIN_HEX: return "hex";
	}
	return "?";
}

void
fw_profile_set_free(struct fw_profile_set *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++)
		fw_profile_free(s->v[i]);
	free(s->v);
	free(s);
}

/* json-c leaves the value with the caller when an add fails: these take it
 * either way, so that one put of the parent frees everything. */
static int
jadd(struct json_object *o, const char *key, struct json_object *v)
{
	if (v == NULL)
		return -1;
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

static int
jpush(struct json_object *a, struct json_object *v)
{
	if (v == NULL)
		return -1;
	if (json_object_array_add(a, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

static struct json_object *
json_usb(const struct fw_profile *p)
{
	struct json_object *usb, *a;
	char buf[16];
	size_t i;

	if ((usb = json_object_new_object()) == NULL)
		return NULL;
	snprintf(buf, sizeof(buf), "%04x", p->vendor_id);
	if (jadd(usb, "vendor_id", json_object_new_string(buf)) ||
	    jadd(usb, "product_ids", a = json_object_new_array()))
		goto fail;
	for (i = 0; i < p->n_product_ids; i++) {
		snprintf(buf, sizeof(buf), "%04x", p->product_ids[i]);
		if (jpush(a, json_object_new_string(buf)))
			goto fail;
	}
	fw_format(p->fw_min, buf, sizeof(buf));
	if (jadd(usb, "firmware_min", json_object_new_string(buf)))
		goto fail;
	fw_format(p->fw_max, buf, sizeof(buf));
	if (jadd(usb, "firmware_max", json_object_new_string(buf)))
		goto fail;
	return usb;
 fail:
	json_object_put(usb);
	return NULL;
}

static struct json_object *
json_pkcs11(const struct fw_profile *p)
{
	struct json_object *o, *a;
	const char *mod = fw_profile_module(p);
	size_t i;

	if ((o = json_object_new_object()) == NULL ||
	    jadd(o, "modules", a = json_object_new_array()))
		goto fail;
	for (i = 0; i < p->n_modules; i++)
		if (jpush(a, json_object_new_string(p->modules[i])))
			goto fail;
	/* null: no candidate is installed on this machine */
	if (json_object_object_add(o, "module", mod ? json_object_new_string(mod) : NULL) != 0)
		goto fail;
	if ((p->reader_pattern[0] &&
	    jadd(o, "reader_pattern", json_object_new_string(p->reader_pattern))) ||
	    jadd(o, "init_token", json_object_new_boolean(p->init_token)) ||
	    jadd(o, "slot", json_object_new_string(fw_slot_match_name(p->slot_match))))
		goto fail;
	return o;
 fail:
	json_object_put(o);
	return NULL;
}

static struct json_object *
json_pin(const struct fw_profile *p)
{
	struct json_object *o;

	if ((o = json_object_new_object()) == NULL ||
	    jadd(o, "user_min", json_object_new_int(p->user_min)) ||
	    jadd(o, "user_max", json_object_new_int(p->user_max)) ||
	    jadd(o, "so_min", json_object_new_int(p->so_min)) ||
	    jadd(o, "so_max", json_object_new_int(p->so_max)) ||
	    jadd(o, "user_pin_policy", json_object_new_string(p->user_pin_random ?
	    "random-digits" : "fixed")) ||
	    (p->user_pin_random &&
	    jadd(o, "user_pin_length", json_object_new_int(p->user_pin_length))) ||
	    /* whether a fixed initial PIN is set, never the PIN */
	    jadd(o, "initial_user_pin_set", json_object_new_boolean(p->initial_user_pin != NULL)) ||
	    (p->user_max_tries > 0 &&
	    jadd(o, "user_max_tries", json_object_new_int(p->user_max_tries))) ||
	    jadd(o, "so_pin_length", json_object_new_int(p->so_pin_length)) ||
	    jadd(o, "so_pin_charset", json_object_new_string(fw_pin_charset_name(p->so_pin_charset))))
		goto fail;
	return o;
 fail:
	json_object_put(o);
	return NULL;
}

struct json_object *
fw_profile_to_json(const struct fw_profile *p)
{
	struct json_object *o, *a, *to;
	unsigned bit;
	size_t i;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if (jadd(o, "name", json_object_new_string(p->name)) ||
	    jadd(o, "description", json_object_new_string(p->description)) ||
	    jadd(o, "source", json_object_new_string(p->source)) ||
	    jadd(o, "verified", json_object_new_boolean(p->verified)) ||
	    jadd(o, "virtual", json_object_new_boolean(p->is_virtual)) ||
	    jadd(o, "path", json_object_new_string(p->path)))
		goto fail;
	if (p->n_product_ids > 0 && jadd(o, "usb", json_usb(p)))
		goto fail;
	if (jadd(o, "pkcs11", json_pkcs11(p)) ||
	    jadd(o, "algorithms", a = json_object_new_array()))
		goto fail;
	for (i = 0; i < p->n_algorithms; i++)
		if (jpush(a, json_object_new_string(p->algorithms[i])))
			goto fail;
	if (jadd(o, "pin", json_pin(p)) ||
	    jadd(o, "label_max_bytes", json_object_new_int(p->label_max_bytes)) ||
	    jadd(o, "timeouts_ms", to = json_object_new_object()) ||
	    jadd(to, "default", json_object_new_int(p->timeout_default_ms)) ||
	    jadd(to, "init_token", json_object_new_int(p->timeout_init_ms)) ||
	    jadd(to, "generate_key", json_object_new_int(p->timeout_keygen_ms)) ||
	    jadd(o, "quirks", a = json_object_new_array()))
		goto fail;
	for (bit = 1; bit != 0; bit <<= 1)
		if ((p->quirks & bit) && fw_quirk_name(bit) != NULL &&
		    jpush(a, json_object_new_string(fw_quirk_name(bit))))
			goto fail;
	return o;
 fail:
	json_object_put(o);
	return NULL;
}
