/* unseal_pins STATE_DIR [STORE_URL]: prints every PIN sealed in the
 * station's database (STATE_DIR/station.db, or the store STORE_URL names:
 * a PostgreSQL conninfo in the tests' UKEY_TEST_STORE=pg mode),
 * unsealed with the state directory's master key, one per line:
 *   token-so <profile>:<serial> <SO PIN>
 *   job-so <job id> <SO PIN>
 *   job-user <job id> <user PIN>
 * For tests that must know the secrets in order to look for them elsewhere.
 * Reads only: the database is opened read-only and a missing master key is
 * an error, never created. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/seal.h"
#include "common/secret.h"
#include "store/db.h"

static int
print_unsealed(const uint8_t key[SEAL_KEY_LEN], const char *kind, const char *name,
    const char *aad, const void *blob, size_t blen)
{
	uint8_t *plain = NULL;
	size_t plen = 0;
	int rc;

	if (blob == NULL)
		return 0;
	if ((rc = unseal(key, aad, blob, blen, &plain, &plen)) != 0) {
		fprintf(stderr, "unseal_pins: %s %s: %s\n", kind, name, ukey_strerror(rc));
		return 1;
	}
	printf("%s %s %s\n", kind, name, (const char *)plain);
	secure_wipe(plain, plen);
	free(plain);
	return 0;
}

/* The tokens' SO PINs, then the jobs' SO and user PINs; 0 when every sealed
 * one opened. */
static int
print_all(struct db *db, const uint8_t key[SEAL_KEY_LEN])
{
	char aad[256], name[256];
	struct db_stmt *q = NULL;
	const void *blob;
	size_t blen = 0;
	int bad = 0, rc;

	if (db_prepare(db, "SELECT profile, serial, so_pin_enc FROM tokens", &q) != 0)
		return -1;
	while ((rc = db_step(q)) == 1) {
		snprintf(aad, sizeof(aad), "token:%s:%s", db_column_text(q, 0), db_column_text(q, 1));
		snprintf(name, sizeof(name), "%s:%s", db_column_text(q, 0), db_column_text(q, 1));
		blob = db_column_is_null(q, 2) ? NULL : db_column_blob(q, 2, &blen);
		bad |= print_unsealed(key, "token-so", name, aad, blob, blen);
	}
	db_finalize(q);
	if (rc < 0 || db_prepare(db, "SELECT id, so_pin_enc, user_pin_enc FROM jobs", &q) != 0)
		return -1;
	while ((rc = db_step(q)) == 1) {
		snprintf(aad, sizeof(aad), "job:%lld", (long long)db_column_int64(q, 0));
		snprintf(name, sizeof(name), "%lld", (long long)db_column_int64(q, 0));
		blob = db_column_is_null(q, 1) ? NULL : db_column_blob(q, 1, &blen);
		bad |= print_unsealed(key, "job-so", name, aad, blob, blen);
		blob = db_column_is_null(q, 2) ? NULL : db_column_blob(q, 2, &blen);
		bad |= print_unsealed(key, "job-user", name, aad, blob, blen);
	}
	db_finalize(q);
	return rc < 0 ? -1 : bad;
}

int
main(int argc, char **argv)
{
	uint8_t key[SEAL_KEY_LEN];
	char path[4096];
	struct db *db = NULL;
	int rc;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: unseal_pins STATE_DIR [STORE_URL]\n");
		return 64;
	}
	snprintf(path, sizeof(path), "%s/keys/master.key", argv[1]);
	if (access(path, R_OK) != 0 || seal_key_load(path, key) != 0) {
		fprintf(stderr, "unseal_pins: cannot read %s\n", path);
		return 66;
	}
	snprintf(path, sizeof(path), "%s/station.db", argv[1]);
	if (db_open_readonly(argc == 3 ? argv[2] : path, &db) != 0) {
		fprintf(stderr, "unseal_pins: cannot open %s\n", argc == 3 ? "the store" : path);
		secure_wipe(key, sizeof(key));
		return 66;
	}
	rc = print_all(db, key);
	if (rc < 0)
		fprintf(stderr, "unseal_pins: reading the sealed PINs failed\n");
	db_close(db);
	secure_wipe(key, sizeof(key));
	return rc != 0 ? 1 : 0;
}
