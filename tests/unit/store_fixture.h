/* A throwaway station database for the store's unit tests: a new directory
 * under /tmp holding station.db, opened (and migrated) by store_open. */
#ifndef UKEY_TEST_STORE_FIXTURE_H
#define UKEY_TEST_STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "store/store.h"

/* Makes dir (at least 64 bytes) /tmp/ukey-test-<tag>-XXXXXX and opens its
 * station.db; fails the test when either cannot be done. */
static inline struct store *
store_fixture_open(char *dir, size_t dirlen, const char *tag)
{
	struct store *st = NULL;
	char path[128];

	snprintf(dir, dirlen, "/tmp/ukey-test-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/station.db", dir);
	assert_int_equal(store_open(path, &st), 0);
	return st;
}

/* Closes st and removes dir with everything in it. */
static inline void
store_fixture_close(struct store *st, const char *dir)
{
	char cmd[128];

	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

#endif
