/* unseal_pins STATE_DIR: prints every PIN sealed in the station's database,
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

#include <sqlite3.h>

#include "common/err.h"
#include "common/seal.h"
#include "common/secret.h"

static int
print_unsealed(const uint8_t key[SEAL_KEY_LEN], const char *kind, const char *name,
    const char *aad, const void *blob, int blen)
{
	uint8_t *plain = NULL;
	size_t plen = 0;
	int rc;

	if (blob == NULL)
		return 0;
	if ((rc = unseal(key, aad, blob, (size_t)blen, &plain, &plen)) != 0) {
		fprintf(stderr, "unseal_pins: %s %s: %s\n", kind, name, ukey_strerror(rc));
		return 1;
	}
	printf("%s %s %s\n", kind, name, (const char *)plain);
	secure_wipe(plain, plen);
	free(plain);
	return 0;
}

int
main(int argc, char **argv)
{
	uint8_t key[SEAL_KEY_LEN];
	char path[4096], aad[256], name[256];
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int bad = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: unseal_pins STATE_DIR\n");
		return 64;
	}
	snprintf(path, sizeof(path), "%s/keys/master.key", argv[1]);
	if (access(path, R_OK) != 0 || seal_key_load(path, key) != 0) {
		fprintf(stderr, "unseal_pins: cannot read %s\n", path);
		return 66;
	}
	snprintf(path, sizeof(path), "%s/station.db", argv[1]);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "unseal_pins: %s: %s\n", path, db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return 66;
	}
	if (sqlite3_prepare_v2(db, "SELECT profile, serial, so_pin_enc FROM tokens", -1, &q,
	    NULL) != SQLITE_OK)
		goto sqlfail;
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *profile = (const char *)sqlite3_column_text(q, 0);
		const char *serial = (const char *)sqlite3_column_text(q, 1);

		snprintf(aad, sizeof(aad), "token:%s:%s", profile, serial);
		snprintf(name, sizeof(name), "%s:%s", profile, serial);
		bad |= print_unsealed(key, "token-so", name, aad, sqlite3_column_blob(q, 2),
		    sqlite3_column_bytes(q, 2));
	}
	sqlite3_finalize(q);
	if (sqlite3_prepare_v2(db, "SELECT id, so_pin_enc, user_pin_enc FROM jobs", -1, &q,
	    NULL) != SQLITE_OK)
		goto sqlfail;
	while (sqlite3_step(q) == SQLITE_ROW) {
		snprintf(aad, sizeof(aad), "job:%lld", (long long)sqlite3_column_int64(q, 0));
		snprintf(name, sizeof(name), "%lld", (long long)sqlite3_column_int64(q, 0));
		bad |= print_unsealed(key, "job-so", name, aad, sqlite3_column_blob(q, 1),
		    sqlite3_column_bytes(q, 1));
		bad |= print_unsealed(key, "job-user", name, aad, sqlite3_column_blob(q, 2),
		    sqlite3_column_bytes(q, 2));
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
	secure_wipe(key, sizeof(key));
	return bad ? 1 : 0;
 sqlfail:
	fprintf(stderr, "unseal_pins: %s\n", sqlite3_errmsg(db));
	sqlite3_close(db);
	secure_wipe(key, sizeof(key));
	return 1;
}
