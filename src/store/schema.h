/* The list of schema migrations, oldest first. */
#ifndef UKEY_SCHEMA_H
#define UKEY_SCHEMA_H

#include <stddef.h>

struct migration {
	int version;
	const char *what;
	const char *sql;
};

/* Returns the static migration table and its length. */
const struct migration *schema_migrations(size_t *n);

#endif
