/* Station configuration file: INI read with inih over built-in defaults, each
 * key checked against its rule; a bad file changes nothing. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cmpconf.h"
#include "common/config.h"
#include "common/err.h"
#include "common/inifile.h"
#include "common/svcpoint.h"
#include "common/utf8.h"

#define ETC_PROFILE_DIR "/etc/ukey-station/firmware-profiles"

enum sec { S_STATION, S_CA, S_SIM, S_ROLES, S_AUDIT, S_DUAL, S_CMP, S_FEES, S_STORE, S_N };

static const char *const sec_names[S_N] = {
	"station", "ca", "sim", "roles", "audit", "dual_control", "cmp", "fees", "store"
};

enum key {
	K_ID, K_SOURCES, K_PROFILE_DIRS, K_CERT_PROFILE_DIR, K_WORKER, K_ALLOW_WIPE,
	K_SOCKET_GROUP, K_SERVICE_POINT, K_TAKE,
	K_AUDIT_CHECKPOINT_EVERY, K_CLIENT_TIMEOUT,
	K_CA_TYPE, K_CA_NAME, K_CA_DIR, K_CA_CRL_INTERVAL, K_CA_CRL_PATH,
	K_BAYS, K_SOFTHSM_MODULE, K_KEYGEN_DELAY,
	K_OPERATOR, K_REVIEWER, K_AUDITOR, K_ADMIN,
	K_WITNESS, K_HEAD_INTERVAL,
	K_DUAL_ACTIONS, K_DUAL_TIMEOUT,
	K_FEE_REPLACEMENT,
	/* [cmp]: the names of cmpconf_keys[], in its order; cmpconf.c checks them */
	K_CMP_SERVER, K_CMP_PATH, K_CMP_TLS_TRUSTED, K_CMP_TLS_CERT, K_CMP_TLS_KEY,
	K_CMP_SECRET_REF, K_CMP_SECRET_FILE, K_CMP_RA_CERT, K_CMP_RA_KEY, K_CMP_CA_CERT,
	K_CMP_TRUSTED, K_CMP_IMPLICIT_CONFIRM, K_CMP_TIMEOUT, K_CMP_PROXY, K_CMP_NO_PROXY,
	K_CMP_REQUEST, K_CMP_RENEWAL, K_CMP_VALIDITY, K_CMP_PKCS11_MODULE, K_CMP_PKCS11_PIN_FILE,
	K_STORE_URL,
	K_N
};

static const struct inifile_key keys[K_N] = {
	[K_ID] = { S_STATION, "id" },
	[K_SOURCES] = { S_STATION, "sources" },
	[K_PROFILE_DIRS] = { S_STATION, "profile_dirs" },
	[K_CERT_PROFILE_DIR] = { S_STATION, "cert_profile_dir" },
	[K_WORKER] = { S_STATION, "worker" },
	[K_ALLOW_WIPE] = { S_STATION, "allow_wipe" },
	[K_SOCKET_GROUP] = { S_STATION, "socket_group" },
	[K_SERVICE_POINT] = { S_STATION, "service_point" },
	[K_TAKE] = { S_STATION, "take" },
	[K_AUDIT_CHECKPOINT_EVERY] = { S_STATION, "audit_checkpoint_every" },
	[K_CLIENT_TIMEOUT] = { S_STATION, "client_timeout" },
	[K_CA_TYPE] = { S_CA, "type" },
	[K_CA_NAME] = { S_CA, "name" },
	[K_CA_DIR] = { S_CA, "dir" },
	[K_CA_CRL_INTERVAL] = { S_CA, "crl_interval" },
	[K_CA_CRL_PATH] = { S_CA, "crl_path" },
	[K_BAYS] = { S_SIM, "bays" },
	[K_SOFTHSM_MODULE] = { S_SIM, "softhsm_module" },
	[K_KEYGEN_DELAY] = { S_SIM, "keygen_delay_ms" },
	[K_OPERATOR] = { S_ROLES, "operator" },
	[K_REVIEWER] = { S_ROLES, "reviewer" },
	[K_AUDITOR] = { S_ROLES, "auditor" },
	[K_ADMIN] = { S_ROLES, "admin" },
	[K_WITNESS] = { S_AUDIT, "witness" },
	[K_HEAD_INTERVAL] = { S_AUDIT, "head_interval" },
	[K_DUAL_ACTIONS] = { S_DUAL, "actions" },
	[K_DUAL_TIMEOUT] = { S_DUAL, "timeout" },
	[K_FEE_REPLACEMENT] = { S_FEES, "replacement_fen" },
	[K_CMP_SERVER] = { S_CMP, "server" },
	[K_CMP_PATH] = { S_CMP, "path" },
	[K_CMP_TLS_TRUSTED] = { S_CMP, "tls_trusted" },
	[K_CMP_TLS_CERT] = { S_CMP, "tls_cert" },
	[K_CMP_TLS_KEY] = { S_CMP, "tls_key" },
	[K_CMP_SECRET_REF] = { S_CMP, "secret_ref" },
	[K_CMP_SECRET_FILE] = { S_CMP, "secret_file" },
	[K_CMP_RA_CERT] = { S_CMP, "ra_cert" },
	[K_CMP_RA_KEY] = { S_CMP, "ra_key" },
	[K_CMP_CA_CERT] = { S_CMP, "ca_cert" },
	[K_CMP_TRUSTED] = { S_CMP, "trusted" },
	[K_CMP_IMPLICIT_CONFIRM] = { S_CMP, "implicit_confirm" },
	[K_CMP_TIMEOUT] = { S_CMP, "timeout" },
	[K_CMP_PROXY] = { S_CMP, "proxy" },
	[K_CMP_NO_PROXY] = { S_CMP, "no_proxy" },
	[K_CMP_REQUEST] = { S_CMP, "request" },
	[K_CMP_RENEWAL] = { S_CMP, "renewal" },
	[K_CMP_VALIDITY] = { S_CMP, "validity" },
	[K_CMP_PKCS11_MODULE] = { S_CMP, "pkcs11_module" },
	[K_CMP_PKCS11_PIN_FILE] = { S_CMP, "pkcs11_pin_file" },
	[K_STORE_URL] = { S_STORE, "url" },
};

static const struct {
	unsigned bit;
	const char *name;
} role_table[] = {
	{ ROLE_OPERATOR, "operator" },
	{ ROLE_REVIEWER, "reviewer" },
	{ ROLE_AUDITOR, "auditor" },
	{ ROLE_ADMIN, "admin" },
};

/* The actions dual control can hold, by name; bit i is row i. Adding an
 * action adds its name here and its row (the command it holds, what that
 * acts on) to actions[] in src/station/dualctl.c. */
static const char *const dual_names[] = { "wipe", "unblock", "override" };

static const struct {
	unsigned bit;
	const char *name;
} source_table[] = {
	{ SRC_SIM, "sim" },
	{ SRC_LIBUSB, "libusb" },
	{ SRC_UDEV, "udev" },
	{ SRC_PCSC, "pcsc" },
};

struct cstate {
	struct inifile ini;		/* path, line, first error */
	struct station_config *c;
	unsigned sec_line[S_N];
	unsigned key_line[K_N];
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Fails key k at its line, in the file's wording "<section>.<key>: <rule>". */
#define kerr(st, k, ...) inifile_key_fail(&(st)->ini, (k), __VA_ARGS__)

/* A whole number from 1 to max into *out; what names the unit in the message
 * ("" or " of seconds"). */
static int
set_whole(struct cstate *st, enum key k, const char *v, int max, const char *what, int *out)
{
	long n;
	char *end = (char *)v;

	errno = 0;
	n = (*v >= '0' && *v <= '9') ? strtol(v, &end, 10) : 0;
	if (n < 1 || n > max || errno != 0 || *end != '\0') {
		kerr(st, k, "must be a whole number%s from 1 to %d", what, max);
		return -1;
	}
	*out = (int)n;
	return 0;
}

static int
valid_station_id(const char *v)
{
	size_t n = strlen(v), i;

	if (n == 0 || n > 63)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '-' && v[i] != '_' && v[i] != '.')
			return 0;
	return 1;
}

/* A Unix user or group name as useradd(8) takes it: 1 to 32 of A-Z a-z 0-9
 * '_' '-' '.', not starting with '-', optionally ending in '$'. */
static int
valid_unix_name(const char *v)
{
	size_t n = strlen(v), i;

	if (n == 0 || n > CONFIG_NAME_MAX || v[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '_' && v[i] != '-' && v[i] != '.' &&
		    !(v[i] == '$' && i == n - 1 && n > 1))
			return 0;
	return 1;
}

/* [roles] <role> = user, @group, ...: adds the role to each member, whose
 * roles are the union of the lines that name it. */
static int
set_role_members(struct cstate *st, enum key k, unsigned role, const char *v)
{
	struct station_config *c = st->c;
	const char *cur = v, *name;
	char item[CONFIG_NAME_MAX + 3];
	size_t i;
	int r, is_group;

	while ((r = inifile_list_next(&cur, item, sizeof(item))) != 0) {
		if (r == -1) {
			kerr(st, k, "empty item in the list");
			return -1;
		}
		if (r < 0) {
			kerr(st, k, "a name is longer than %d characters", CONFIG_NAME_MAX);
			return -1;
		}
		is_group = item[0] == '@';
		name = item + is_group;
		if (strlen(name) > CONFIG_NAME_MAX) {
			kerr(st, k, "a name is longer than %d characters", CONFIG_NAME_MAX);
			return -1;
		}
		if (!valid_unix_name(name)) {
			kerr(st, k, "\"%s\" is not a user or @group name (1 to %d of A-Z a-z 0-9 "
			    "_ - ., not starting with -)", item, CONFIG_NAME_MAX);
			return -1;
		}
		for (i = 0; i < c->n_role_members; i++)
			if (c->role_members[i].is_group == is_group &&
			    strcmp(c->role_members[i].name, name) == 0)
				break;
		if (i < c->n_role_members && (c->role_members[i].roles & role) != 0) {
			kerr(st, k, "\"%s\" listed twice", item);
			return -1;
		}
		if (i == c->n_role_members) {
			if (i == CONFIG_MAX_ROLE_MEMBERS) {
				kerr(st, k, "more than %d users and groups in [roles]",
				    CONFIG_MAX_ROLE_MEMBERS);
				return -1;
			}
			memcpy(c->role_members[i].name, name, strlen(name) + 1);
			c->role_members[i].is_group = is_group;
			c->role_members[i].roles = 0;
			c->n_role_members++;
		}
		c->role_members[i].roles |= role;
	}
	return 0;
}

/* An absolute path that fits dst; "" only when empty_ok. */
static int
set_path(struct cstate *st, enum key k, char *dst, size_t dstlen, const char *v, int empty_ok)
{
	if (*v == '\0' && empty_ok) {
		dst[0] = '\0';
		return 0;
	}
	if (*v != '/') {
		kerr(st, k, "must be an absolute path%s", empty_ok ? " or empty" : "");
		return -1;
	}
	if (strlen(v) >= dstlen) {
		kerr(st, k, "longer than %zu bytes", dstlen - 1);
		return -1;
	}
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int
set_sources(struct cstate *st, const char *v)
{
	const char *cur = v;
	unsigned bits = 0, bit;
	char item[16];
	size_t i;
	int r;

	while ((r = inifile_list_next(&cur, item, sizeof(item))) != 0) {
		bit = 0;
		for (i = 0; r == 1 && i < ARRAY_LEN(source_table); i++)
			if (strcmp(item, source_table[i].name) == 0)
				bit = source_table[i].bit;
		if (bit == 0) {
			kerr(st, K_SOURCES, "\"%s\" is not a source (known: sim, libusb, udev, pcsc)",
			    r == 1 ? item : r == -1 ? "" : "(too long)");
			return -1;
		}
		if (bits & bit) {
			kerr(st, K_SOURCES, "\"%s\" listed twice", item);
			return -1;
		}
		bits |= bit;
	}
	if (bits == 0) {
		kerr(st, K_SOURCES, "must list at least one source");
		return -1;
	}
	st->c->sources = bits;
	return 0;
}

/* [dual_control] actions = wipe, unblock, ...: the actions held; an empty
 * value holds none. */
static int
set_dual_actions(struct cstate *st, const char *v)
{
	const char *cur = v;
	unsigned bits = 0, bit;
	char item[32], known[128];
	size_t i, used = 0;
	int r;

	known[0] = '\0';
	for (i = 0; i < ARRAY_LEN(dual_names); i++)
		used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "",
		    dual_names[i]);
	while ((r = inifile_list_next(&cur, item, sizeof(item))) != 0) {
		if (r == -1) {
			kerr(st, K_DUAL_ACTIONS, "empty item in the list");
			return -1;
		}
		bit = r == 1 ? config_dual_action_bit(item) : 0;
		if (bit == 0) {
			kerr(st, K_DUAL_ACTIONS, "\"%s\" is not an action dual control can hold"
			    " (known: %s)", r == 1 ? item : "(too long)", known);
			return -1;
		}
		if (bits & bit) {
			kerr(st, K_DUAL_ACTIONS, "\"%s\" listed twice", item);
			return -1;
		}
		bits |= bit;
	}
	st->c->dual_actions = bits;
	return 0;
}

/* [dual_control] timeout: whole seconds, or a number with s, m or h. */
static int
set_dual_timeout(struct cstate *st, const char *v)
{
	size_t n = strspn(v, "0123456789");
	long long secs = 0, unit = 1;

	if (n > 0 && n <= 7 && (v[n] == '\0' || v[n + 1] == '\0')) {
		switch (v[n]) {
		case '\0': case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		default: unit = 0; break;
		}
		secs = atoll(v) * unit;
	}
	if (secs < 1 || secs > CONFIG_DUAL_TIMEOUT_MAX) {
		kerr(st, K_DUAL_TIMEOUT, "must be a duration from 1s to %dh: whole seconds, or a"
		    " number with s, m or h (15m)", CONFIG_DUAL_TIMEOUT_MAX / 3600);
		return -1;
	}
	st->c->dual_timeout_s = (int)secs;
	return 0;
}

static void
free_dirs(struct station_config *c)
{
	size_t i;

	for (i = 0; i < c->n_profile_dirs; i++)
		free(c->profile_dirs[i]);
	c->n_profile_dirs = 0;
}

static int
set_profile_dirs(struct cstate *st, const char *v)
{
	struct station_config *c = st->c;
	const char *cur = v;
	char item[512];
	int r;

	free_dirs(c);	/* the file's list replaces the default one */
	while ((r = inifile_list_next(&cur, item, sizeof(item))) != 0) {
		if (r < 0) {
			kerr(st, K_PROFILE_DIRS, r == -1 ? "empty item in the list" :
			    "a path is longer than 511 bytes");
			return -1;
		}
		if (item[0] != '/') {
			kerr(st, K_PROFILE_DIRS, "\"%s\" is not an absolute path", item);
			return -1;
		}
		if (c->n_profile_dirs == CONFIG_MAX_PROFILE_DIRS) {
			kerr(st, K_PROFILE_DIRS, "more than %d directories", CONFIG_MAX_PROFILE_DIRS);
			return -1;
		}
		if ((c->profile_dirs[c->n_profile_dirs] = strdup(item)) == NULL)
			return -1;
		c->n_profile_dirs++;
	}
	if (c->n_profile_dirs == 0) {
		kerr(st, K_PROFILE_DIRS, "must list at least one directory");
		return -1;
	}
	return 0;
}

/* [audit] witness = file:/path, syslog: where the signed heads go besides
 * the daemon's log; the file's list replaces the default (none). */
static int
set_witnesses(struct cstate *st, const char *v)
{
	struct station_config *c = st->c;
	const char *cur = v;
	char item[CONFIG_WITNESS_LEN];
	size_t i;
	int r;

	c->n_audit_witness = 0;
	while ((r = inifile_list_next(&cur, item, sizeof(item))) != 0) {
		if (r < 0) {
			kerr(st, K_WITNESS, r == -1 ? "empty item in the list" :
			    "an item is longer than %d bytes", CONFIG_WITNESS_LEN - 1);
			return -1;
		}
		/* the kinds witness_sink_open knows (src/store/witness_sink.c) */
		if (strcmp(item, "syslog") != 0 &&
		    (strncmp(item, "file:/", 6) != 0 || item[6] == '\0')) {
			kerr(st, K_WITNESS, "\"%s\" is neither file:/absolute/path nor syslog", item);
			return -1;
		}
		for (i = 0; i < c->n_audit_witness; i++)
			if (strcmp(c->audit_witness[i], item) == 0) {
				kerr(st, K_WITNESS, "\"%s\" is listed twice", item);
				return -1;
			}
		if (c->n_audit_witness == CONFIG_MAX_WITNESSES) {
			kerr(st, K_WITNESS, "more than %d witnesses", CONFIG_MAX_WITNESSES);
			return -1;
		}
		memcpy(c->audit_witness[c->n_audit_witness++], item, strlen(item) + 1);
	}
	return 0;
}

/* The [ca] keys. */
static int
set_ca_value(struct cstate *st, enum key k, const char *v)
{
	struct station_config *c = st->c;

	switch (k) {
	case K_CA_TYPE:
		if (strcmp(v, "embedded") != 0 && strcmp(v, "cmp") != 0) {
			kerr(st, k, "must be embedded or cmp");
			return -1;
		}
		memcpy(c->ca_type, v, strlen(v) + 1);
		return 0;
	case K_CA_NAME:
		if (*v == '\0' || strlen(v) >= sizeof(c->ca_name)) {
			kerr(st, k, "must be 1 to %zu bytes", sizeof(c->ca_name) - 1);
			return -1;
		}
		if (!utf8_valid(v, strlen(v)) || utf8_has_control(v)) {
			kerr(st, k, "must be UTF-8 text without control characters");
			return -1;
		}
		memcpy(c->ca_name, v, strlen(v) + 1);
		return 0;
	case K_CA_DIR:
		return set_path(st, k, c->ca_dir, sizeof(c->ca_dir), v, 1);
	case K_CA_CRL_INTERVAL:
		return set_whole(st, k, v, CONFIG_MAX_CRL_INTERVAL, " of seconds", &c->ca_crl_interval);
	case K_CA_CRL_PATH:
		return set_path(st, k, c->ca_crl_path, sizeof(c->ca_crl_path), v, 1);
	default:
		break;
	}
	return -1;
}

/* An amount of money in whole fen, 0 to max (no yuan, no decimals: money
 * never goes through floating point). */
static int
set_fen(struct cstate *st, enum key k, const char *v, long max, long *out)
{
	long n;
	char *end = (char *)v;

	errno = 0;
	n = (*v >= '0' && *v <= '9') ? strtol(v, &end, 10) : -1;
	if (n < 0 || n > max || errno != 0 || *end != '\0' || end == v) {
		kerr(st, k, "must be a whole number of fen (1 yuan = 100 fen) from 0 to %ld", max);
		return -1;
	}
	*out = n;
	return 0;
}

/* [cmp] keys: the rules are cmpconf.c's. */
static int
set_cmp(struct cstate *st, enum key k, const char *v)
{
	char rule[160];

	if (k < K_CMP_SERVER || k > K_CMP_PKCS11_PIN_FILE)
		return -1;
	if (cmpconf_set(&st->c->cmp, keys[k].name, v, rule, sizeof(rule)) == 0)
		return 0;
	kerr(st, k, "%s", rule);
	return -1;
}

/* [fees] and [cmp] keys. */
static int
set_fees_cmp(struct cstate *st, enum key k, const char *v)
{
	if (k == K_FEE_REPLACEMENT)
		return set_fen(st, k, v, CONFIG_MAX_FEE_FEN, &st->c->fee_replacement_fen);
	return set_cmp(st, k, v);
}

/* [station] service_point (an id of the table, "" for none) and take. */
static int
set_service_point(struct cstate *st, enum key k, const char *v)
{
	int take;

	if (k == K_TAKE) {
		if ((take = svcpoint_take_parse(v)) < 0) {
			kerr(st, k, "must be own, own-first or any");
			return -1;
		}
		st->c->take = take;
		return 0;
	}
	if (*v != '\0' && svcpoint_find(v) == NULL) {
		kerr(st, k, "\"%.40s\" is not a service point (docs/service-points.md: kunming-1,"
		    " kunming-2, dali, ...)", v);
		return -1;
	}
	memcpy(st->c->service_point, v, strlen(v) + 1);
	return 0;
}

/* sim.keygen_delay_ms: 0..600000 */
static int
set_keygen_delay(struct cstate *st, enum key k, struct station_config *c, const char *v)
{
	int n = -1;

	if (*v == '\0' || strlen(v) > 6 || strspn(v, "0123456789") != strlen(v) ||
	    (n = atoi(v)) > 600000) {
		kerr(st, k, "must be a whole number of milliseconds from 0 to 600000");
		return -1;
	}
	c->sim_keygen_delay_ms = n;
	return 0;
}

/* Stores one key's value; returns 0 or -1 with the error recorded (or
 * nothing recorded for out of memory). */
static int
set_value(void *user, unsigned key, const char *v)
{
	struct cstate *st = user;
	struct station_config *c = st->c;
	enum key k = (enum key)key;
	int n;

	switch (k) {
	case K_ID:
		if (!valid_station_id(v)) {
			kerr(st, k, "must be 1 to 63 characters of A-Z, a-z, 0-9, '-', '_' and '.'");
			return -1;
		}
		memcpy(c->station_id, v, strlen(v) + 1);
		return 0;
	case K_SOURCES:
		return set_sources(st, v);
	case K_PROFILE_DIRS:
		return set_profile_dirs(st, v);
	case K_CERT_PROFILE_DIR:
		return set_path(st, k, c->cert_profile_dir, sizeof(c->cert_profile_dir), v, 0);
	case K_WORKER:
		return set_path(st, k, c->worker_path, sizeof(c->worker_path), v, 0);
	case K_ALLOW_WIPE:
		if (inifile_yesno(v, &c->allow_wipe) != 0) {
			kerr(st, k, "must be yes or no");
			return -1;
		}
		return 0;
	case K_SOCKET_GROUP:
		if (*v != '\0' && !valid_unix_name(v)) {
			kerr(st, k, "must be a group name (1 to %d of A-Z a-z 0-9 _ - ., not "
			    "starting with -) or empty", CONFIG_NAME_MAX);
			return -1;
		}
		memcpy(c->socket_group, v, strlen(v) + 1);
		return 0;
	case K_OPERATOR:
		return set_role_members(st, k, ROLE_OPERATOR, v);
	case K_REVIEWER:
		return set_role_members(st, k, ROLE_REVIEWER, v);
	case K_AUDITOR:
		return set_role_members(st, k, ROLE_AUDITOR, v);
	case K_ADMIN:
		return set_role_members(st, k, ROLE_ADMIN, v);
	case K_DUAL_ACTIONS:
		return set_dual_actions(st, v);
	case K_DUAL_TIMEOUT:
		return set_dual_timeout(st, v);
	case K_AUDIT_CHECKPOINT_EVERY:
		return set_whole(st, k, v, CONFIG_MAX_CHECKPOINT_EVERY, "",
		    &c->audit_checkpoint_every);
	case K_CLIENT_TIMEOUT:
		return set_whole(st, k, v, CONFIG_MAX_CLIENT_TIMEOUT, " of seconds",
		    &c->client_timeout_s);
	case K_WITNESS:
		return set_witnesses(st, v);
	case K_HEAD_INTERVAL:
		return set_whole(st, k, v, CONFIG_MAX_HEAD_INTERVAL, " of seconds",
		    &c->audit_head_interval);
	case K_CA_TYPE:
	case K_CA_NAME:
	case K_CA_DIR:
	case K_CA_CRL_INTERVAL:
	case K_CA_CRL_PATH:
		return set_ca_value(st, k, v);
	case K_BAYS:
		n = 0;
		if (*v == '\0' || strlen(v) > 2 || strspn(v, "0123456789") != strlen(v) ||
		    (n = atoi(v)) < 1 || n > CONFIG_MAX_BAYS) {
			kerr(st, k, "must be a whole number from 1 to %d", CONFIG_MAX_BAYS);
			return -1;
		}
		c->sim_bays = n;
		return 0;
	case K_SOFTHSM_MODULE:
		return set_path(st, k, c->sim_softhsm_module, sizeof(c->sim_softhsm_module), v, 1);
	case K_KEYGEN_DELAY:
		return set_keygen_delay(st, k, c, v);
	case K_STORE_URL:
		/* a path, a postgresql:// URL or a libpq conninfo: db_open checks
		 * it (and refuses a password in it) */
		if (strlen(v) >= sizeof(c->store_url)) {
			kerr(st, k, "must be shorter than %zu characters", sizeof(c->store_url));
			return -1;
		}
		memcpy(c->store_url, v, strlen(v) + 1);
		return 0;
	default:	/* service_point, take; [fees], [cmp]; K_N */
		if (k == K_SERVICE_POINT || k == K_TAKE)
			return set_service_point(st, k, v);
		return set_fees_cmp(st, k, v);
	}
	return -1;
}

static int
on_key(void *user, const char *section, const char *name, const char *value)
{
	struct cstate *st = user;

	return inifile_handle_key(&st->ini, section, name, value, set_value, st);
}

/* Copies src into dst, duplicating what src owns. Returns 0 or UKEY_ERR_NOMEM
 * (dst then owns what was copied so far). */
static int
config_copy(struct station_config *dst, const struct station_config *src)
{
	size_t i;

	*dst = *src;
	dst->n_profile_dirs = 0;
	for (i = 0; i < src->n_profile_dirs; i++) {
		if ((dst->profile_dirs[i] = strdup(src->profile_dirs[i])) == NULL)
			return UKEY_ERR_NOMEM;
		dst->n_profile_dirs++;
	}
	return 0;
}

int
config_load(const char *path, struct station_config *c, char *err, size_t errlen)
{
	struct station_config tmp;
	struct cstate st;
	char rule[256];
	int rc;

	memset(&st, 0, sizeof(st));
	memset(&tmp, 0, sizeof(tmp));
	st.ini = (struct inifile){ .path = path, .sections = sec_names, .n_sections = S_N,
	    .sec_line = st.sec_line, .keys = keys, .n_keys = K_N, .key_line = st.key_line };
	st.c = &tmp;
	if (errlen > 0)
		err[0] = '\0';
	/* parse into a copy, so that a bad file leaves c as it was */
	if ((rc = config_copy(&tmp, c)) != 0) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	if ((rc = inifile_parse(&st.ini, on_key, &st, err, errlen)) != 0)
		goto out;
	if (!st.ini.failed && strcmp(tmp.ca_type, "cmp") == 0 &&
	    cmpconf_check(&tmp.cmp, rule, sizeof(rule)) != 0)
		kerr(&st, K_CA_TYPE, "cmp needs a complete [cmp] section: %s", rule);
	if (!st.ini.failed && tmp.take != SVCPOINT_TAKE_ANY && tmp.service_point[0] == '\0')
		kerr(&st, K_TAKE, "%s needs [station] service_point", svcpoint_take_name(tmp.take));
	if ((rc = inifile_result(&st.ini, err, errlen)) != 0)
		goto out;
	cmpconf_signer_beside(&tmp.cmp, tmp.worker_path);
	config_free(c);
	*c = tmp;
	memset(&tmp, 0, sizeof(tmp));	/* c owns it now */
	rc = 0;
 out:
	config_free(&tmp);
	return rc;
}

static void
add_dir(struct station_config *c, const char *a, const char *b)
{
	char *d;

	if (c->n_profile_dirs == CONFIG_MAX_PROFILE_DIRS)
		return;
	if (asprintf(&d, "%s%s", a, b) < 0)
		return;		/* out of memory this early: the directory is left out */
	c->profile_dirs[c->n_profile_dirs++] = d;
}

void
config_defaults(struct station_config *c)
{
	const char *dev = getenv("UKEY_DEV_TREE"), *build = getenv("UKEY_BUILD_DIR");
	char host[256];

	memset(c, 0, sizeof(*c));
	/* the short host name identifies the station until the file names it */
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		host[strcspn(host, ".")] = '\0';
	} else
		host[0] = '\0';
	if (!valid_station_id(host))	/* also ensures it fits station_id */
		strcpy(host, "station");
	memcpy(c->station_id, host, strlen(host) + 1);
	c->sources = SRC_SIM;
	if (dev != NULL && *dev != '\0' && build != NULL && *build != '\0') {
		add_dir(c, dev, "/firmware-profiles");
		snprintf(c->cert_profile_dir, sizeof(c->cert_profile_dir), "%s/cert-profiles", dev);
		snprintf(c->worker_path, sizeof(c->worker_path), "%s/ukey-worker", build);
	} else {
		add_dir(c, UKEY_DATADIR, "/firmware-profiles");
		add_dir(c, ETC_PROFILE_DIR, "");
		snprintf(c->cert_profile_dir, sizeof(c->cert_profile_dir), "%s/cert-profiles",
		    UKEY_DATADIR);
		snprintf(c->worker_path, sizeof(c->worker_path), "%s/ukey-worker", UKEY_LIBEXECDIR);
	}
	c->allow_wipe = 0;
	c->audit_checkpoint_every = 100;
	c->client_timeout_s = 30;
	c->n_audit_witness = 0;
	c->audit_head_interval = CONFIG_MAX_HEAD_INTERVAL;
	snprintf(c->ca_type, sizeof(c->ca_type), "embedded");
	snprintf(c->ca_name, sizeof(c->ca_name), "Yunnan Station Test");
	c->ca_dir[0] = '\0';
	c->ca_crl_interval = CONFIG_CRL_INTERVAL_DEFAULT;
	c->ca_crl_path[0] = '\0';
	cmpconf_defaults(&c->cmp);
	cmpconf_signer_beside(&c->cmp, c->worker_path);
	c->sim_bays = 4;
	c->dual_actions = 0;
	c->dual_timeout_s = CONFIG_DUAL_TIMEOUT_DEFAULT;
	c->fee_replacement_fen = CONFIG_FEE_REPLACEMENT_DEFAULT;
}

void
config_free(struct station_config *c)
{
	free_dirs(c);
	memset(c, 0, sizeof(*c));
}

unsigned
config_roles_for(const struct station_config *c, const char *user, const char *const *groups,
    size_t ngroups)
{
	const struct role_member *m;
	unsigned roles = 0;
	size_t i, g;

	for (i = 0; i < c->n_role_members; i++) {
		m = &c->role_members[i];
		if (!m->is_group) {
			if (user != NULL && strcmp(m->name, user) == 0)
				roles |= m->roles;
			continue;
		}
		for (g = 0; g < ngroups; g++)
			if (groups[g] != NULL && strcmp(m->name, groups[g]) == 0)
				roles |= m->roles;
	}
	return roles;
}

const char *
config_role_name(unsigned bit)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(role_table); i++)
		if (role_table[i].bit == bit)
			return role_table[i].name;
	return NULL;
}

char *
config_roles_format(unsigned roles, char *buf, size_t len)
{
	size_t i, used = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < ARRAY_LEN(role_table); i++) {
		if (!(roles & role_table[i].bit))
			continue;
		used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
		    role_table[i].name);
		if (used >= len)
			break;
	}
	if (buf[0] == '\0')
		snprintf(buf, len, "none");
	return buf;
}

unsigned
config_dual_action_bit(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(dual_names); i++)
		if (strcmp(name, dual_names[i]) == 0)
			return 1u << i;
	return 0;
}

const char *
config_dual_action_name(unsigned bit)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(dual_names); i++)
		if (bit == 1u << i)
			return dual_names[i];
	return NULL;
}

const char *
config_source_name(unsigned bit)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(source_table); i++)
		if (source_table[i].bit == bit)
			return source_table[i].name;
	return NULL;
}
