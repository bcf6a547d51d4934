/* Station configuration: the INI file that says which station this is, where
 * tokens come from, where profiles and the worker live, and which CA to use. */
#ifndef UKEY_CONFIG_H
#define UKEY_CONFIG_H

#include <stddef.h>

/* Token sources, as bits of station_config.sources. */
enum config_source {
	SRC_SIM = 1,		/* simulated bays with SoftHSM2 tokens */
	SRC_LIBUSB = 2,		/* libusb hotplug */
	SRC_UDEV = 4,		/* udev monitor */
	SRC_PCSC = 8,		/* PC/SC reader events */
};

#define CONFIG_MAX_PROFILE_DIRS 8
#define CONFIG_MAX_BAYS 64
#define CONFIG_MAX_CHECKPOINT_EVERY 1000000

struct station_config {
	char station_id[64];		/* recorded with every issuance */
	unsigned sources;		/* enum config_source bits, never 0 */
	char *profile_dirs[CONFIG_MAX_PROFILE_DIRS];	/* owned; firmware profile directories */
	size_t n_profile_dirs;
	char cert_profile_dir[512];
	char worker_path[512];
	int allow_wipe;			/* may a token that holds objects be re-initialised */
	int audit_checkpoint_every;	/* sign an audit checkpoint after this many records */
	char ca_type[32];		/* "embedded" */
	char ca_name[128];		/* UTF-8 */
	char ca_dir[512];		/* "" means <state>/ca */
	int sim_bays;			/* 1..CONFIG_MAX_BAYS */
	char sim_softhsm_module[512];	/* "" means the softhsm2 profile's module */
};

/* Fills c with the built-in defaults (c need not be initialised; free with
 * config_free). Directories come from UKEY_DATADIR and UKEY_LIBEXECDIR; when
 * the environment has UKEY_DEV_TREE (a source tree) and UKEY_BUILD_DIR, they
 * are <src>/firmware-profiles, <src>/cert-profiles and <build>/ukey-worker. */
void config_defaults(struct station_config *c);

/* Reads the INI file path over the values already in c (normally the
 * defaults). Returns 0, or UKEY_ERR_INVAL / UKEY_ERR_IO / UKEY_ERR_NOMEM with
 * "<file>:<line>: <section>.<key>: <rule>" in err and c unchanged. */
int config_load(const char *path, struct station_config *c, char *err, size_t errlen);

/* Frees what c owns and zeroes it; safe on a zeroed or freed struct. */
void config_free(struct station_config *c);

/* Returns the name of one source bit ("sim", "libusb", "udev", "pcsc"), or NULL. */
const char *config_source_name(unsigned bit);

#endif
