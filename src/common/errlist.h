/* A list of human-readable validation errors, so that one pass over an input
 * reports every broken rule rather than only the first. */
#ifndef UKEY_ERRLIST_H
#define UKEY_ERRLIST_H

#include <stddef.h>

struct errlist {
	char **msgs;
	size_t n, cap;
};

/* Appends one formatted message. Returns 0 or UKEY_ERR_NOMEM. */
int errlist_add(struct errlist *el, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Frees every message; el itself (usually on the stack) stays usable. */
void errlist_clear(struct errlist *el);

#endif
