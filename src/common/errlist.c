/* Growable list of validation messages. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "common/errlist.h"

int
errlist_add(struct errlist *el, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n;

	if (el->n == el->cap) {
		size_t ncap = el->cap ? el->cap * 2 : 8;
		char **nm = realloc(el->msgs, ncap * sizeof(*nm));

		if (nm == NULL)
			return UKEY_ERR_NOMEM;
		el->msgs = nm;
		el->cap = ncap;
	}
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return UKEY_ERR_NOMEM;
	el->msgs[el->n++] = msg;
	return 0;
}

void
errlist_clear(struct errlist *el)
{
	size_t i;

	for (i = 0; i < el->n; i++)
		free(el->msgs[i]);
	free(el->msgs);
	el->msgs = NULL;
	el->n = el->cap = 0;
}
