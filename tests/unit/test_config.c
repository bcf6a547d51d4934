/* Station configuration: defaults, a good file over them, and bad files that
 * fail with "<file>:<line>: <section>.<key>: <rule>" and change nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/config.h"
#include "common/err.h"

static char conf_path[64];

static int
setup(void **state)
{
	int fd;

	snprintf(conf_path, sizeof(conf_path), "/tmp/ukey-test-config-XXXXXX");
	if ((fd = mkstemp(conf_path)) < 0)
		return -1;
	close(fd);
	unsetenv("UKEY_DEV_TREE");
	return 0;
}

static int
teardown(void **state)
{
	unlink(conf_path);
	return 0;
}

static void
write_conf(const char *text)
{
	FILE *fp = fopen(conf_path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static void
test_defaults(void **state)
{
	struct station_config c;

	config_defaults(&c);
	assert_true(c.station_id[0] != '\0');
	assert_int_equal(c.sources, SRC_SIM);
	assert_int_equal(c.n_profile_dirs, 2);
	assert_string_equal(c.profile_dirs[0], UKEY_DATADIR "/firmware-profiles");
	assert_string_equal(c.profile_dirs[1], "/etc/ukey-station/firmware-profiles");
	assert_string_equal(c.cert_profile_dir, UKEY_DATADIR "/cert-profiles");
	assert_string_equal(c.worker_path, UKEY_LIBEXECDIR "/ukey-worker");
	assert_false(c.allow_wipe);
	assert_string_equal(c.ca_type, "embedded");
	assert_string_equal(c.ca_dir, "");
	assert_int_equal(c.sim_bays, 4);
	assert_string_equal(c.sim_softhsm_module, "");
	config_free(&c);
	assert_int_equal(c.n_profile_dirs, 0);
	config_free(&c);	/* twice is harmless */
}

static void
test_defaults_dev_tree(void **state)
{
	struct station_config c;
	char *build = getenv("UKEY_BUILD_DIR") ? strdup(getenv("UKEY_BUILD_DIR")) : NULL;

	setenv("UKEY_DEV_TREE", "/src/ukey", 1);
	setenv("UKEY_BUILD_DIR", "/src/ukey/build", 1);
	config_defaults(&c);
	assert_int_equal(c.n_profile_dirs, 1);
	assert_string_equal(c.profile_dirs[0], "/src/ukey/firmware-profiles");
	assert_string_equal(c.cert_profile_dir, "/src/ukey/cert-profiles");
	assert_string_equal(c.worker_path, "/src/ukey/build/ukey-worker");
	config_free(&c);

	/* without a build directory the source tree alone is not used */
	unsetenv("UKEY_BUILD_DIR");
	config_defaults(&c);
	assert_string_equal(c.worker_path, UKEY_LIBEXECDIR "/ukey-worker");
	config_free(&c);
	unsetenv("UKEY_DEV_TREE");
	if (build != NULL)
		setenv("UKEY_BUILD_DIR", build, 1);
	free(build);
}

static void
test_good_file(void **state)
{
	struct station_config c;
	char err[1024];

	write_conf("# station at the Kunming service point\n"
	    "[station]\n"
	    "id = km-01                ; recorded with every issuance\n"
	    "sources = sim, pcsc, libusb\n"
	    "profile_dirs = /opt/p1, /opt/p2 , /opt/p3\n"
	    "cert_profile_dir = /opt/cert-profiles\n"
	    "worker = /opt/libexec/ukey-worker\n"
	    "allow_wipe = yes\n"
	    "\n"
	    "[ca]\n"
	    "type = embedded\n"
	    "name = \xe4\xba\x91\xe5\x8d\x97 Station Test CA\n"
	    "dir =\n"
	    "\n"
	    "[sim]\n"
	    "bays = 64\n"
	    "softhsm_module = /usr/lib/softhsm/libsofthsm2.so\n");
	config_defaults(&c);
	assert_int_equal(config_load(conf_path, &c, err, sizeof(err)), 0);
	assert_string_equal(c.station_id, "km-01");
	assert_int_equal(c.sources, SRC_SIM | SRC_PCSC | SRC_LIBUSB);
	assert_int_equal(c.n_profile_dirs, 3);
	assert_string_equal(c.profile_dirs[0], "/opt/p1");
	assert_string_equal(c.profile_dirs[1], "/opt/p2");
	assert_string_equal(c.profile_dirs[2], "/opt/p3");
	assert_string_equal(c.cert_profile_dir, "/opt/cert-profiles");
	assert_string_equal(c.worker_path, "/opt/libexec/ukey-worker");
	assert_true(c.allow_wipe);
	assert_string_equal(c.ca_name, "\xe4\xba\x91\xe5\x8d\x97 Station Test CA");
	assert_string_equal(c.ca_dir, "");
	assert_int_equal(c.sim_bays, 64);
	assert_string_equal(c.sim_softhsm_module, "/usr/lib/softhsm/libsofthsm2.so");
	config_free(&c);
}

static void
test_partial_file_keeps_defaults(void **state)
{
	struct station_config c;
	char err[1024];

	write_conf("[sim]\nbays = 2\n");
	config_defaults(&c);
	assert_int_equal(config_load(conf_path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.sim_bays, 2);
	assert_int_equal(c.sources, SRC_SIM);
	assert_int_equal(c.n_profile_dirs, 2);
	assert_string_equal(c.ca_type, "embedded");
	config_free(&c);

	write_conf("");
	config_defaults(&c);
	assert_int_equal(config_load(conf_path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.sim_bays, 4);
	config_free(&c);
}

/* Loads text over the defaults, expects failure with want (where {file}
 * stands for the path) and the config untouched. */
static void
expect_error(const char *text, int want_rc, const char *want)
{
	struct station_config c;
	char err[1024], msg[1024];
	const char *at = strstr(want, "{file}");

	write_conf(text);
	config_defaults(&c);
	snprintf(c.station_id, sizeof(c.station_id), "before");
	assert_int_equal(config_load(conf_path, &c, err, sizeof(err)), want_rc);
	assert_non_null(at);
	snprintf(msg, sizeof(msg), "%.*s%s%s", (int)(at - want), want, conf_path, at + 6);
	assert_string_equal(err, msg);
	/* nothing of the bad file was taken */
	assert_string_equal(c.station_id, "before");
	assert_int_equal(c.sim_bays, 4);
	assert_int_equal(c.n_profile_dirs, 2);
	assert_string_equal(c.profile_dirs[0], UKEY_DATADIR "/firmware-profiles");
	assert_int_equal(c.sources, SRC_SIM);
	config_free(&c);
}

static void
test_unknown_key(void **state)
{
	expect_error("[station]\nid = km-01\ncolour = red\n", UKEY_ERR_INVAL,
	    "{file}:3: station.colour: unknown key");
	expect_error("[sim]\nbay = 3\n", UKEY_ERR_INVAL, "{file}:2: sim.bay: unknown key");
}

static void
test_bad_values(void **state)
{
	expect_error("[station]\nid = km-99\nprofile_dirs = /a\n\n[sim]\nbays = 65\n",
	    UKEY_ERR_INVAL, "{file}:6: sim.bays: must be a whole number from 1 to 64");
	expect_error("[sim]\nbays = 0\n", UKEY_ERR_INVAL,
	    "{file}:2: sim.bays: must be a whole number from 1 to 64");
	expect_error("[sim]\nbays = four\n", UKEY_ERR_INVAL,
	    "{file}:2: sim.bays: must be a whole number from 1 to 64");
	expect_error("[station]\nsources = sim, usb\n", UKEY_ERR_INVAL,
	    "{file}:2: station.sources: \"usb\" is not a source (known: sim, libusb, udev, pcsc)");
	expect_error("[station]\nsources = sim, sim\n", UKEY_ERR_INVAL,
	    "{file}:2: station.sources: \"sim\" listed twice");
	expect_error("[station]\nsources =\n", UKEY_ERR_INVAL,
	    "{file}:2: station.sources: must list at least one source");
	expect_error("[station]\nid = km 01\n", UKEY_ERR_INVAL,
	    "{file}:2: station.id: must be 1 to 63 characters of A-Z, a-z, 0-9, '-', '_' and '.'");
	expect_error("[station]\nallow_wipe = true\n", UKEY_ERR_INVAL,
	    "{file}:2: station.allow_wipe: must be yes or no");
	expect_error("[station]\nworker = ukey-worker\n", UKEY_ERR_INVAL,
	    "{file}:2: station.worker: must be an absolute path");
	expect_error("[station]\nprofile_dirs = /a, b\n", UKEY_ERR_INVAL,
	    "{file}:2: station.profile_dirs: \"b\" is not an absolute path");
	expect_error("[station]\nprofile_dirs = /1,/2,/3,/4,/5,/6,/7,/8,/9\n", UKEY_ERR_INVAL,
	    "{file}:2: station.profile_dirs: more than 8 directories");
	expect_error("[ca]\ntype = cmp\n", UKEY_ERR_INVAL,
	    "{file}:2: ca.type: cmp needs a complete [cmp] section: cmp.server: must be "
	    "http://host[:port] or https://host[:port] (the path goes in cmp.path)");
	expect_error("[ca]\ntype = ejbca\n", UKEY_ERR_INVAL,
	    "{file}:2: ca.type: must be embedded or cmp");
	expect_error("[ca]\nname =\n", UKEY_ERR_INVAL, "{file}:2: ca.name: must be 1 to 127 bytes");
	expect_error("[ca]\nname = caf\xe9\n", UKEY_ERR_INVAL,
	    "{file}:2: ca.name: must be UTF-8 text without control characters");
	expect_error("[ca]\ndir = state/ca\n", UKEY_ERR_INVAL,
	    "{file}:2: ca.dir: must be an absolute path or empty");
}

/* [audit]: the witnesses and the head interval */
static void
test_audit_witness(void **state)
{
	struct station_config c;
	char err[1024];

	config_defaults(&c);
	assert_int_equal(c.n_audit_witness, 0);
	assert_int_equal(c.audit_head_interval, 60);
	write_conf("[audit]\nwitness = file:/mnt/witness/km-01.log, syslog\nhead_interval = 5\n");
	assert_int_equal(config_load(conf_path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.n_audit_witness, 2);
	assert_string_equal(c.audit_witness[0], "file:/mnt/witness/km-01.log");
	assert_string_equal(c.audit_witness[1], "syslog");
	assert_int_equal(c.audit_head_interval, 5);
	config_free(&c);

	expect_error("[audit]\nwitness = file:witness.log\n", UKEY_ERR_INVAL,
	    "{file}:2: audit.witness: \"file:witness.log\" is neither file:/absolute/path nor syslog");
	expect_error("[audit]\nwitness = mysql://db\n", UKEY_ERR_INVAL,
	    "{file}:2: audit.witness: \"mysql://db\" is neither file:/absolute/path nor syslog");
	expect_error("[audit]\nwitness = syslog, syslog\n", UKEY_ERR_INVAL,
	    "{file}:2: audit.witness: \"syslog\" is listed twice");
	expect_error("[audit]\nwitness = file:/a, file:/b, file:/c, file:/d, syslog\n", UKEY_ERR_INVAL,
	    "{file}:2: audit.witness: more than 4 witnesses");
	expect_error("[audit]\nhead_interval = 61\n", UKEY_ERR_INVAL,
	    "{file}:2: audit.head_interval: must be a whole number of seconds from 1 to 60");
	expect_error("[audit]\nhead_interval = 0\n", UKEY_ERR_INVAL,
	    "{file}:2: audit.head_interval: must be a whole number of seconds from 1 to 60");
}

/* [ca] crl_interval and crl_path */
static void
test_ca_crl(void **state)
{
	struct station_config c;
	char err[1024];

	config_defaults(&c);
	assert_int_equal(c.ca_crl_interval, 86400);
	assert_string_equal(c.ca_crl_path, "");
	write_conf("[ca]\ncrl_interval = 3600\ncrl_path = /var/www/crl/station.crl\n");
	assert_int_equal(config_load(conf_path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.ca_crl_interval, 3600);
	assert_string_equal(c.ca_crl_path, "/var/www/crl/station.crl");
	config_free(&c);

	expect_error("[ca]\ncrl_interval = 0\n", UKEY_ERR_INVAL,
	    "{file}:2: ca.crl_interval: must be a whole number of seconds from 1 to 2592000");
	expect_error("[ca]\ncrl_interval = 1d\n", UKEY_ERR_INVAL,
	    "{file}:2: ca.crl_interval: must be a whole number of seconds from 1 to 2592000");
	expect_error("[ca]\ncrl_path = crl.pem\n", UKEY_ERR_INVAL,
	    "{file}:2: ca.crl_path: must be an absolute path or empty");
}

/* [fees] replacement_fen: whole fen, 0 allowed (a free replacement). */
static void
test_fees(void **state)
{
	struct station_config c;
	char err[1024];

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.fee_replacement_fen, 20000);
	write_conf("[fees]\nreplacement_fen = 5000\n");
	assert_int_equal(config_load(conf_path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.fee_replacement_fen, 5000);
	config_free(&c);
	write_conf("[fees]\nreplacement_fen = 0\n");
	assert_int_equal(config_load(conf_path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.fee_replacement_fen, 0);
	config_free(&c);
	expect_error("[fees]\nreplacement_fen = 50.00\n", UKEY_ERR_INVAL,
	    "{file}:2: fees.replacement_fen: must be a whole number of fen (1 yuan = 100 fen)"
	    " from 0 to 100000000");
	expect_error("[fees]\nreplacement_fen = -1\n", UKEY_ERR_INVAL,
	    "{file}:2: fees.replacement_fen: must be a whole number of fen (1 yuan = 100 fen)"
	    " from 0 to 100000000");
	expect_error("[fees]\nreplacement_fen = 100000001\n", UKEY_ERR_INVAL,
	    "{file}:2: fees.replacement_fen: must be a whole number of fen (1 yuan = 100 fen)"
	    " from 0 to 100000000");
	expect_error("[fees]\nreplacement_fen =\n", UKEY_ERR_INVAL,
	    "{file}:2: fees.replacement_fen: must be a whole number of fen (1 yuan = 100 fen)"
	    " from 0 to 100000000");
	expect_error("[fees]\nrenewal_fen = 1\n", UKEY_ERR_INVAL,
	    "{file}:2: fees.renewal_fen: unknown key");
}

static void
test_store_url(void **state)
{
	struct station_config c;
	char err[1024];

	config_defaults(&c);
	assert_string_equal(c.store_url, "");
	write_conf("[store]\nurl = postgresql://km01@db.example.cn/ukey?sslmode=verify-full\n");
	assert_int_equal(config_load(conf_path, &c, err, sizeof(err)), 0);
	assert_string_equal(c.store_url, "postgresql://km01@db.example.cn/ukey?sslmode=verify-full");
	config_free(&c);
	config_defaults(&c);
	write_conf("[store]\nurl = service=ukey\n");
	assert_int_equal(config_load(conf_path, &c, err, sizeof(err)), 0);
	assert_string_equal(c.store_url, "service=ukey");
	config_free(&c);
}

static void
test_bad_structure(void **state)
{
	expect_error("[station]\nid = a\n[stations]\n", UKEY_ERR_INVAL,
	    "{file}:3: [stations]: unknown section (known: station, ca, sim, roles, audit,"
	    " dual_control, cmp, fees, store)");
	expect_error("id = a\n", UKEY_ERR_INVAL, "{file}:1: id: key outside any section");
	expect_error("[station]\nid = a\nid = b\n", UKEY_ERR_INVAL,
	    "{file}:3: station.id: given twice (first at line 2)");
	expect_error("[sim]\n[sim]\n", UKEY_ERR_INVAL,
	    "{file}:2: [sim]: section given twice (first at line 1)");
	expect_error("[station]\nid km-01\n", UKEY_ERR_INVAL,
	    "{file}:2: syntax error: expected [section], key = value, or a comment");
	expect_error("[station\n", UKEY_ERR_INVAL,
	    "{file}:1: syntax error: expected [section], key = value, or a comment");
	expect_error("[ca]\nname = xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", UKEY_ERR_INVAL,
	    "{file}:2: line longer than 199 bytes");
}

static void
test_roles(void **state)
{
	struct station_config c;
	char err[1024], buf[64];
	const char *alice_groups[] = { "alice", "ukey-ops" };
	const char *carol_groups[] = { "carol", "audit", "ukey" };

	write_conf("[station]\nsocket_group = ukey\n"
	    "[roles]\n"
	    "operator = alice, bob, @ukey-ops\n"
	    "reviewer = bob\n"
	    "auditor = @audit\n"
	    "admin = dave$, @wheel\n");
	config_defaults(&c);
	assert_int_equal(c.n_role_members, 0);
	assert_string_equal(c.socket_group, "");
	assert_int_equal(config_load(conf_path, &c, err, sizeof(err)), 0);
	assert_string_equal(c.socket_group, "ukey");
	/* bob is one member with the union of his lines */
	assert_int_equal(c.n_role_members, 6);
	assert_int_equal(config_roles_for(&c, "bob", NULL, 0), ROLE_OPERATOR | ROLE_REVIEWER);
	assert_int_equal(config_roles_for(&c, "alice", alice_groups, 2), ROLE_OPERATOR);
	assert_int_equal(config_roles_for(&c, "carol", carol_groups, 3), ROLE_AUDITOR);
	assert_int_equal(config_roles_for(&c, "dave$", NULL, 0), ROLE_ADMIN);
	/* a user named like a group is not the group, and the other way round */
	assert_int_equal(config_roles_for(&c, "audit", NULL, 0), 0);
	assert_int_equal(config_roles_for(&c, "eve", alice_groups, 2), ROLE_OPERATOR);
	assert_int_equal(config_roles_for(&c, "eve", (const char *[]){ "bob" }, 1), 0);
	assert_int_equal(config_roles_for(&c, NULL, NULL, 0), 0);
	assert_string_equal(config_roles_format(ROLE_OPERATOR | ROLE_ADMIN, buf, sizeof(buf)),
	    "operator, admin");
	assert_string_equal(config_roles_format(0, buf, sizeof(buf)), "none");
	assert_string_equal(config_role_name(ROLE_REVIEWER), "reviewer");
	assert_null(config_role_name(3));
	config_free(&c);

	expect_error("[roles]\noperator = alice, alice\n", UKEY_ERR_INVAL,
	    "{file}:2: roles.operator: \"alice\" listed twice");
	expect_error("[roles]\noperator = alice,, bob\n", UKEY_ERR_INVAL,
	    "{file}:2: roles.operator: empty item in the list");
	expect_error("[roles]\nreviewer = -x\n", UKEY_ERR_INVAL,
	    "{file}:2: roles.reviewer: \"-x\" is not a user or @group name (1 to 32 of A-Z a-z "
	    "0-9 _ - ., not starting with -)");
	expect_error("[roles]\nauditor = @\n", UKEY_ERR_INVAL,
	    "{file}:2: roles.auditor: \"@\" is not a user or @group name (1 to 32 of A-Z a-z "
	    "0-9 _ - ., not starting with -)");
	expect_error("[roles]\nadmin = a23456789012345678901234567890123\n", UKEY_ERR_INVAL,
	    "{file}:2: roles.admin: a name is longer than 32 characters");
	expect_error("[roles]\nsupervisor = alice\n", UKEY_ERR_INVAL,
	    "{file}:2: roles.supervisor: unknown key");
	write_conf("[station]\nclient_timeout = 2\n");
	config_defaults(&c);
	assert_int_equal(c.client_timeout_s, 30);
	assert_int_equal(config_load(conf_path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.client_timeout_s, 2);
	config_free(&c);
	expect_error("[station]\nclient_timeout = 0\n", UKEY_ERR_INVAL,
	    "{file}:2: station.client_timeout: must be a whole number of seconds from 1 to 3600");
	expect_error("[station]\nclient_timeout = 3601\n", UKEY_ERR_INVAL,
	    "{file}:2: station.client_timeout: must be a whole number of seconds from 1 to 3600");
	expect_error("[station]\nclient_timeout = 5s\n", UKEY_ERR_INVAL,
	    "{file}:2: station.client_timeout: must be a whole number of seconds from 1 to 3600");
	expect_error("[station]\nsocket_group = uk ey\n", UKEY_ERR_INVAL,
	    "{file}:2: station.socket_group: must be a group name (1 to 32 of A-Z a-z 0-9 _ - ., "
	    "not starting with -) or empty");
}

static void
test_dual_control(void **state)
{
	struct station_config c;
	char err[1024];
	static const struct {
		const char *v;
		int secs;
	} durations[] = {
		{ "900", 900 }, { "45s", 45 }, { "15m", 900 }, { "2h", 7200 }, { "1", 1 },
		{ "168h", 7 * 24 * 3600 },
	};
	size_t i;

	/* off unless the file says otherwise */
	config_defaults(&c);
	assert_int_equal(c.dual_actions, 0);
	assert_int_equal(c.dual_timeout_s, 900);
	config_free(&c);

	write_conf("[dual_control]\nactions = wipe, unblock, override\ntimeout = 2m\n");
	config_defaults(&c);
	assert_int_equal(config_load(conf_path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.dual_actions, config_dual_action_bit("wipe") |
	    config_dual_action_bit("unblock") | config_dual_action_bit("override"));
	assert_int_equal(__builtin_popcount(c.dual_actions), 3);
	assert_int_equal(c.dual_timeout_s, 120);
	config_free(&c);

	write_conf("[dual_control]\nactions = unblock\n");
	config_defaults(&c);
	assert_int_equal(config_load(conf_path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.dual_actions, config_dual_action_bit("unblock"));
	assert_int_equal(c.dual_timeout_s, 900);
	config_free(&c);

	/* an empty list holds nothing */
	write_conf("[dual_control]\nactions =\n");
	config_defaults(&c);
	assert_int_equal(config_load(conf_path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.dual_actions, 0);
	config_free(&c);

	for (i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		char text[128];

		snprintf(text, sizeof(text), "[dual_control]\ntimeout = %s\n", durations[i].v);
		write_conf(text);
		config_defaults(&c);
		assert_int_equal(config_load(conf_path, &c, err, sizeof(err)), 0);
		assert_int_equal(c.dual_timeout_s, durations[i].secs);
		config_free(&c);
	}
	assert_string_equal(config_dual_action_name(config_dual_action_bit("override")), "override");
	assert_int_equal(config_dual_action_bit("revoke"), 0);
	assert_null(config_dual_action_name(0));

	expect_error("[dual_control]\nactions = wipe, revoke\n", UKEY_ERR_INVAL,
	    "{file}:2: dual_control.actions: \"revoke\" is not an action dual control can hold"
	    " (known: wipe, unblock, override)");
	expect_error("[dual_control]\nactions = Wipe\n", UKEY_ERR_INVAL,
	    "{file}:2: dual_control.actions: \"Wipe\" is not an action dual control can hold"
	    " (known: wipe, unblock, override)");
	expect_error("[dual_control]\nactions = wipe, wipe\n", UKEY_ERR_INVAL,
	    "{file}:2: dual_control.actions: \"wipe\" listed twice");
	expect_error("[dual_control]\nactions = wipe,,unblock\n", UKEY_ERR_INVAL,
	    "{file}:2: dual_control.actions: empty item in the list");
	expect_error("[dual_control]\nactions = wipe\nconfirmers = 2\n", UKEY_ERR_INVAL,
	    "{file}:3: dual_control.confirmers: unknown key");
	{
		static const char *const bad[] = { "0", "", "15x", "15 m", "-5", "m", "169h",
			"99999999", "1.5m" };

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char text[128];

			snprintf(text, sizeof(text), "[dual_control]\ntimeout = %s\n", bad[i]);
			expect_error(text, UKEY_ERR_INVAL, "{file}:2: dual_control.timeout: must be a"
			    " duration from 1s to 168h: whole seconds, or a number with s, m or h (15m)");
		}
	}
}

static void
test_missing_file(void **state)
{
	struct station_config c;
	char err[256];

	config_defaults(&c);
	assert_int_equal(config_load("/nonexistent/ukey.conf", &c, err, sizeof(err)), UKEY_ERR_IO);
	assert_string_equal(err, "/nonexistent/ukey.conf: cannot open: No such file or directory");
	assert_int_equal(c.n_profile_dirs, 2);
	config_free(&c);
	assert_string_equal(config_source_name(SRC_PCSC), "pcsc");
	assert_null(config_source_name(0));
}

/* ca.type = cmp with its [cmp] section; an incomplete section is refused at
 * [ca] type, a bad [cmp] value at its own line. */
static void
test_cmp_section(void **state)
{
	struct station_config c;
	char err[1024];

	write_conf("[ca]\ntype = cmp\n\n[cmp]\nserver = http://127.0.0.1:8080\n"
	    "path = /ejbca/publicweb/cmp/station\nsecret_ref = station-1\n"
	    "secret_file = /etc/ukey-station/cmp.secret\nca_cert = /etc/ukey-station/ca.pem\n"
	    "trusted = /etc/ukey-station/roots.pem\nimplicit_confirm = yes\ntimeout = 20\n"
	    "request = cr\nrenewal = p10cr\nvalidity = ca\n");
	config_defaults(&c);
	assert_int_equal(config_load(conf_path, &c, err, sizeof(err)), 0);
	assert_string_equal(c.ca_type, "cmp");
	assert_string_equal(c.cmp.server, "http://127.0.0.1:8080");
	assert_string_equal(c.cmp.path, "/ejbca/publicweb/cmp/station");
	assert_string_equal(c.cmp.secret_ref, "station-1");
	assert_int_equal(c.cmp.implicit_confirm, 1);
	assert_int_equal(c.cmp.timeout_s, 20);
	assert_int_equal(c.cmp.request, CMPCONF_CR);
	assert_int_equal(c.cmp.renewal, CMPCONF_RENEW_P10CR);
	assert_int_equal(c.cmp.validity, CMPCONF_VALIDITY_CA);
	config_free(&c);

	write_conf("[cmp]\nvalidity = forever\n");
	config_defaults(&c);
	assert_int_equal(config_load(conf_path, &c, err, sizeof(err)), UKEY_ERR_INVAL);
	assert_non_null(strstr(err, ":2: cmp.validity: must be order or ca"));
	assert_int_equal(c.cmp.validity, CMPCONF_VALIDITY_ORDER);
	config_free(&c);

	write_conf("[ca]\ntype = cmp\n[cmp]\nserver = http://127.0.0.1:8080\n");
	config_defaults(&c);
	assert_int_equal(config_load(conf_path, &c, err, sizeof(err)), UKEY_ERR_INVAL);
	assert_non_null(strstr(err, ":2: ca.type: cmp needs a complete [cmp] section: "
	    "cmp.ca_cert"));
	assert_string_equal(c.ca_type, "embedded");
	config_free(&c);

	write_conf("[cmp]\ntimeout = forever\n");
	config_defaults(&c);
	assert_int_equal(config_load(conf_path, &c, err, sizeof(err)), UKEY_ERR_INVAL);
	assert_non_null(strstr(err, ":2: cmp.timeout: must be a whole number of seconds"));
	config_free(&c);

	write_conf("[ca]\ntype = acme\n");
	config_defaults(&c);
	assert_int_equal(config_load(conf_path, &c, err, sizeof(err)), UKEY_ERR_INVAL);
	assert_non_null(strstr(err, "ca.type: must be embedded or cmp"));
	config_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults_dev_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_good_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_file_keeps_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_structure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_witness, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dual_control, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ca_crl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fees, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_url, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmp_section, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
