/* Pages of the listing commands (docs/protocol.md, "Listings page"): the
 * arguments after and limit, the server's largest page, and the key a
 * reply gives to go on from. */
#include <stdint.h>

#include "common/err.h"
#include "station/control.h"

int
page_args(struct request *r, int64_t max, struct page *p)
{
	p->after = 0;
	p->limit = max;
	if (arg_int(r, "after", 0, &p->after) == UKEY_ERR_INVAL ||
	    arg_int(r, "limit", 0, &p->limit) == UKEY_ERR_INVAL)
		return UKEY_ERR_INVAL;
	if (p->after < 0)
		return req_fail(r, UKEY_ERR_INVAL, "argument after: a key of the listing, 0 or more");
	if (p->limit < 1 || p->limit > max)
		return req_fail(r, UKEY_ERR_INVAL, "argument limit: 1..%lld (the largest page)",
		    (long long)max);
	return 0;
}

void
page_next_key(struct request *r, struct json_object *rows, const char *key, const struct page *p)
{
	size_t n = json_object_array_length(rows);
	struct json_object *last;

	if (n == 0 || (int64_t)n < p->limit)
		return;		/* a short page is the last */
	last = json_object_array_get_idx(rows, n - 1);
	json_object_put(r->next);
	r->next = json_object_new_int64(json_object_get_int64(json_object_object_get(last, key)));
}

int
page_slice(struct request *r, struct json_object **rows, const struct page *p)
{
	size_t n = json_object_array_length(*rows), i;
	struct json_object *out;

	if (n == 0)
		return 0;
	if ((out = json_object_new_array()) == NULL)
		return UKEY_ERR_NOMEM;
	for (i = (size_t)p->after; i < n && (int64_t)(i - (size_t)p->after) < p->limit; i++)
		json_object_array_add(out, json_object_get(json_object_array_get_idx(*rows, i)));
	json_object_put(r->next);
	r->next = i < n ? json_object_new_int64((int64_t)i) : NULL;
	json_object_put(*rows);
	*rows = out;
	return 0;
}
