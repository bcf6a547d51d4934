/* Firmware profiles: what the station knows about one token model (USB ids,
 * PKCS#11 module, key algorithms, PIN and label rules, timeouts, quirks),
 * read from one INI file per model so that adding a model is adding a file. */
#ifndef UKEY_PROFILE_H
#define UKEY_PROFILE_H

#include <stddef.h>

struct errlist;
struct json_object;

/* Known quirks, as bits of fw_profile.quirks. */
enum fw_quirk {
	/* C_InitToken on an initialised token needs its current SO PIN */
	FW_QUIRK_REINIT_NEEDS_SO_PIN = 1u << 0,
	/* after C_InitToken the token shows up under a new slot id: find it again by serial */
	FW_QUIRK_SLOT_MOVES_AFTER_INIT = 1u << 1,
	/* the module lists EC key generation but it does not work: never offer EC */
	FW_QUIRK_NO_EC_KEYGEN = 1u << 2,
	/* the module allows one open session per token at a time */
	FW_QUIRK_SINGLE_SESSION = 1u << 3,
	/* C_InitToken works only on a blank token (no PKCS#15 application);
	 * an initialised one must be erased with the vendor's tool first */
	FW_QUIRK_INIT_NEEDS_BLANK = 1u << 4,
	/* C_GenerateKeyPair and C_CreateObject need the SO logged in, not the user */
	FW_QUIRK_KEYGEN_NEEDS_SO_LOGIN = 1u << 5,
	/* the module must be loaded afresh for each token: no worker is kept
	 * for the bay's next token (docs/worker-protocol.md) */
	FW_QUIRK_FRESH_WORKER = 1u << 6,
};

/* Characters of the random SO PIN the station sets (pin.so_pin_charset). */
enum fw_pin_charset {
	FW_PIN_ALNUM,		/* A-Z a-z 0-9 (the default) */
	FW_PIN_DIGITS,		/* 0-9: tokens whose PINs are ASCII-numeric */
	FW_PIN_HEX		/* 0-9 A-F: SO PINs that encode a binary key */
};

/* How the worker finds the bay's token among the module's slots. */
enum fw_slot_match {
	FW_SLOT_ANY,		/* the module shows this bay's token only (virtual tokens) */
	FW_SLOT_READER,		/* slot description matches reader_pattern (and the bay's reader) */
	FW_SLOT_USB_SERIAL	/* token serial equals the USB iSerialNumber */
};

#define FW_MAX_PRODUCT_IDS 8
#define FW_MAX_MODULES 4
#define FW_MAX_ALGORITHMS 8

struct fw_profile {	/* fields public: the daemon reads them */
	char name[64];			/* [a-z0-9-]+, unique within a set */
	char description[256];
	char source[256];		/* where the ids and module facts come from */
	int verified, is_virtual;
	unsigned vendor_id;		/* 0 when the profile has no [usb] section */
	unsigned product_ids[FW_MAX_PRODUCT_IDS];
	size_t n_product_ids;
	unsigned fw_min, fw_max;	/* bcdDevice range, inclusive (0x0000..0x9999 by default) */
	char *modules[FW_MAX_MODULES];	/* absolute paths, first existing wins */
	size_t n_modules;
	char reader_pattern[128];	/* fnmatch(3) pattern, "" when absent */
	int init_token;			/* C_InitToken works on this model */
	enum fw_slot_match slot_match;	/* pkcs11.slot */
	char algorithms[FW_MAX_ALGORITHMS][16];	/* rsa2048, rsa3072, rsa4096, ec-p256, ec-p384 */
	size_t n_algorithms;
	int user_min, user_max, so_min, so_max;	/* PIN lengths the token accepts */
	int user_pin_random;		/* 1: random-digits policy, 0: fixed */
	int user_pin_length;		/* random-digits only, else 0 */
	int user_max_tries;		/* wrong user PINs before the token locks; 0: not stated */
	int so_pin_length;		/* length of the random SO PIN the station sets */
	enum fw_pin_charset so_pin_charset;	/* its characters */
	char *initial_user_pin;		/* fixed policy only, else NULL; wiped on free */
	int label_max_bytes;		/* 1..32 */
	int timeout_default_ms, timeout_init_ms, timeout_keygen_ms;
	unsigned quirks;		/* enum fw_quirk bits */
	char path[512];			/* the file it was read from */
};

/* Reads and validates one profile file. Returns 0 and a new profile in *out
 * (free with fw_profile_free), or UKEY_ERR_INVAL / UKEY_ERR_IO / UKEY_ERR_NOMEM
 * with one message "<file>:<line>: <section>.<key>: <rule>" in err and *out
 * NULL. A module path may use the literal @UKEY_BUILD_DIR@ (virtual test
 * profiles only), replaced by the environment variable UKEY_BUILD_DIR. */
int fw_profile_load(const char *path, struct fw_profile **out, char *err, size_t errlen);

/* fw_profile_load() over len bytes of text, the content of a profile file
 * (need not be NUL-terminated; borrowed for the call); name stands for the
 * file in messages and in p->path. fw_profile_load reads the file and calls
 * this, so the two behave alike on the same bytes. */
int fw_profile_parse(const char *name, const char *text, size_t len, struct fw_profile **out,
    char *err, size_t errlen);

#define FW_PROFILE_MAX_BYTES (256 * 1024)	/* a profile file larger than this is refused */

/* Frees p (wiping initial_user_pin); NULL is a no-op. */
void fw_profile_free(struct fw_profile *p);

/* Returns the first module candidate that exists as a readable regular file
 * (borrowed from p), or NULL when none does. Looks at the file system. */
const char *fw_profile_module(const struct fw_profile *p);

/* Returns 1 when the profile lists algorithm alg ("rsa2048", "ec-p256", ...), else 0. */
int fw_profile_supports(const struct fw_profile *p, const char *alg);

/* Returns the name of one quirk bit ("slot-moves-after-init"), or NULL. */
const char *fw_quirk_name(unsigned bit);

/* A set of profiles loaded from directories. */
struct fw_profile_set;

/* Loads every *.conf file (not hidden, sorted by name) of each directory;
 * a directory that does not exist is skipped. Checks across files: names
 * unique, no two profiles matching the same USB vid:pid and firmware. Returns
 * 0 and a new set in *out (free with fw_profile_set_free), or UKEY_ERR_INVAL
 * with *out NULL and every problem, one line per bad file, appended to errs
 * (which may be NULL): a set with a bad file is refused whole. */
int fw_profile_set_load(const char *const *dirs, size_t ndirs, struct fw_profile_set **out,
    struct errlist *errs);

size_t fw_profile_set_count(const struct fw_profile_set *s);

/* Returns the i-th profile (borrowed from s), NULL when i is out of range. */
const struct fw_profile *fw_profile_set_at(const struct fw_profile_set *s, size_t i);

/* Returns the profile named name (borrowed from s), or NULL. */
const struct fw_profile *fw_profile_set_find(const struct fw_profile_set *s, const char *name);

/* Returns the profile whose vendor id, one of whose product ids, and whose
 * firmware range match a USB device (borrowed from s), or NULL. */
const struct fw_profile *fw_profile_set_match_usb(const struct fw_profile_set *s, unsigned vid,
    unsigned pid, unsigned bcd_device);

/* Returns the first profile (in load order) whose reader_pattern matches the
 * PC/SC reader name (fnmatch(3)), borrowed from s, or NULL. */
const struct fw_profile *fw_profile_set_match_reader(const struct fw_profile_set *s,
    const char *reader);

/* "any", "reader" or "usb-serial". */
const char *fw_slot_match_name(enum fw_slot_match m);

/* "alnum", "digits" or "hex". */
const char *fw_pin_charset_name(enum fw_pin_charset c);

/* Frees s and its profiles; NULL is a no-op. */
void fw_profile_set_free(struct fw_profile_set *s);

/* Returns a new JSON object describing p for `ukeyctl profiles --json`
 * (caller puts it with json_object_put), or NULL on memory failure. It never
 * holds initial_user_pin, only whether one is set. */
struct json_object *fw_profile_to_json(const struct fw_profile *p);

#endif
