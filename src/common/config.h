/* Station configuration: the INI file that says which station this is, where
 * tokens come from, where profiles and the worker live, and which CA to use. */
#ifndef UKEY_CONFIG_H
#define UKEY_CONFIG_H

#include <stddef.h>

#include "common/cmpconf.h"

/* Token sources, as bits of station_config.sources. */
enum config_source {
	SRC_SIM = 1,		/* simulated bays with SoftHSM2 tokens */
	SRC_LIBUSB = 2,		/* libusb hotplug */
	SRC_UDEV = 4,		/* udev monitor */
	SRC_PCSC = 8,		/* PC/SC reader events */
};

#define CONFIG_MAX_PROFILE_DIRS 8
#define CONFIG_MAX_BAYS 64
#define CONFIG_MAX_ROLE_MEMBERS 128	/* distinct users and groups in [roles] */
#define CONFIG_NAME_MAX 32		/* a Unix user or group name */

/* The roles of control socket users, as bits ([roles] in the file). */
enum config_role {
	ROLE_OPERATOR = 1,	/* production and bays */
	ROLE_REVIEWER = 2,	/* order review: approve, reject, override */
	ROLE_AUDITOR = 4,	/* read-only, and the audit log */
	ROLE_ADMIN = 8,		/* configuration, wipe, unblock, payment */
};
#define ROLE_ALL (ROLE_OPERATOR | ROLE_REVIEWER | ROLE_AUDITOR | ROLE_ADMIN)

/* One user or @group of [roles] and the union of the roles it is given. */
struct role_member {
	char name[CONFIG_NAME_MAX + 1];	/* without the '@' */
	int is_group;
	unsigned roles;			/* enum config_role bits */
};
#define CONFIG_MAX_CHECKPOINT_EVERY 1000000
#define CONFIG_MAX_CLIENT_TIMEOUT 3600
#define CONFIG_MAX_WITNESSES 4
#define CONFIG_WITNESS_LEN 520		/* "file:" and a path */
#define CONFIG_CRL_INTERVAL_DEFAULT 86400	/* seconds: the CRL is signed again daily */
#define CONFIG_MAX_CRL_INTERVAL (30 * 86400)
/* [fees] replacement_fen: the fee of one replacement (补办) certificate, in
 * fen; DOMAIN.md names none, so the station's default is one certificate-
 * year (200 yuan). */
#define CONFIG_FEE_REPLACEMENT_DEFAULT 20000L
#define CONFIG_MAX_FEE_FEN 100000000L		/* 1,000,000 yuan */
#define CONFIG_MAX_HEAD_INTERVAL 60	/* seconds: the head is witnessed at least once a minute */

/* SO-level actions [dual_control] may hold for a second user's confirmation
 * ("wipe", "unblock", "override"): bit i of station_config.dual_actions is
 * row i of dual_names[] in config.c; src/station/dualctl.c says what each
 * name holds. */
#define CONFIG_DUAL_TIMEOUT_DEFAULT 900		/* seconds a request may wait */
#define CONFIG_DUAL_TIMEOUT_MAX (7 * 24 * 3600)

struct station_config {
	char station_id[64];		/* recorded with every issuance */
	unsigned sources;		/* enum config_source bits, never 0 */
	char *profile_dirs[CONFIG_MAX_PROFILE_DIRS];	/* owned; firmware profile directories */
	size_t n_profile_dirs;
	char cert_profile_dir[512];
	char worker_path[512];
	int allow_wipe;			/* may a token that holds objects be re-initialised */
	int audit_checkpoint_every;	/* sign an audit checkpoint after this many records */
	int client_timeout_s;		/* a control client without a request or not reading
					 * its reply for this long is closed */
	char audit_witness[CONFIG_MAX_WITNESSES][CONFIG_WITNESS_LEN];	/* "file:/path", "syslog" */
	size_t n_audit_witness;
	int audit_head_interval;	/* seconds between witnessed heads, 1..60 */
	char ca_type[32];		/* "embedded" or "cmp" */
	char ca_name[128];		/* UTF-8 */
	char ca_dir[512];		/* "" means <state>/ca */
	int ca_crl_interval;		/* seconds between CRLs signed without a revocation */
	char ca_crl_path[512];		/* where the CRL (PEM) is written; "" means <ca_dir>/crl.pem */
	char store_url[512];		/* [store] url: "" means <state>/station.db (db.h) */
	char service_point[32];		/* [station] service_point: an id of common/svcpoint.c, "" none */
	int take;			/* [station] take: enum svcpoint_take */
	struct cmp_config cmp;		/* [cmp]: used when ca_type is "cmp" */
	int sim_bays;			/* 1..CONFIG_MAX_BAYS */
	char sim_softhsm_module[512];	/* module the simulated bays load; "" means the profile's */
	int sim_keygen_delay_ms;	/* a virtual token's key generation takes this much longer */
	char socket_group[CONFIG_NAME_MAX + 1];	/* group of the control socket, "" keeps the daemon's */
	struct role_member role_members[CONFIG_MAX_ROLE_MEMBERS];
	size_t n_role_members;
	unsigned dual_actions;		/* config_dual_action_bit()s; 0: none held */
	int dual_timeout_s;		/* how long a held request may wait, seconds */
	long fee_replacement_fen;	/* [fees] replacement_fen, per certificate */
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

/* Returns the union of the roles c gives user name user and the groups
 * named in groups (ngroups entries, the user's primary and supplementary
 * groups); 0 when none. Names only: the caller looks the groups up. */
unsigned config_roles_for(const struct station_config *c, const char *user,
    const char *const *groups, size_t ngroups);

/* Returns the name of one role bit ("operator", ...), or NULL. */
const char *config_role_name(unsigned bit);

/* Writes the names of the role bits in roles, comma-separated, to buf
 * ("none" for 0). Returns buf. */
char *config_roles_format(unsigned roles, char *buf, size_t len);

/* The bit of the dual control action name ("wipe", ...), 0 for no such
 * action; and the name of one bit, or NULL. */
unsigned config_dual_action_bit(const char *name);
const char *config_dual_action_name(unsigned bit);

/* Returns the name of one source bit ("sim", "libusb", "udev", "pcsc"), or NULL. */
const char *config_source_name(unsigned bit);

#endif
