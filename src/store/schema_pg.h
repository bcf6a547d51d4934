/* The schema on PostgreSQL: the same versions as schema.c's SQLite
 * migrations, in PostgreSQL's dialect, and the multi-station objects that
 * only a shared database has; applied at start under an advisory lock. */
#ifndef UKEY_SCHEMA_PG_H
#define UKEY_SCHEMA_PG_H

#include <stddef.h>

#include "store/schema.h"

struct db;

/* The key of the advisory lock migrations run under (pg_advisory_lock):
 * two stations starting together on a new database migrate one after the
 * other; the second finds nothing left to do. */
#define SCHEMA_PG_LOCK_KEY 0x756b6579	/* "ukey" */

/* The common schema in PostgreSQL's dialect: entry N is schema.c's version
 * N (same number, same meaning), so a version is one schema on either
 * backend. The multi-station track (leases, ...) is numbered on its own. */
const struct migration *schema_pg_migrations(size_t *n);
const struct migration *schema_pg_station_migrations(size_t *n);

/* Takes the advisory lock, applies the versions of both tracks the
 * database lacks (each in its own transaction), releases the lock; a
 * database newer than this program on either track is refused
 * (UKEY_ERR_DB, logged with both numbers) and left as it is. *version: the
 * common schema version now in force. */
int schema_pg_migrate(struct db *db, int *version);

#endif
