/* Pages of the listing commands (docs/protocol.md, "Listings page"): the
 * arguments after and limit, the server's largest page, and the key a
 * reply gives to go on from. */
#include <stdint.h>
#include <stdlib.h>

#include "common/err.h"
#include "station/control.h"

/* Test hook, inert unless set (docs/testing-faults.md): with
 * UKEY_TEST_PAGE_DEFAULT=N (1 to the largest page) a request that gives no
 * limit gets pages of N rows, so that a test sees a client go on across
 * pages without making thousands of rows. */
static int64_t
page_default(int64_t max)
{
	const char *v = getenv("UKEY_TEST_PAGE_DEFAULT");
	char *end;
	long long n;

	if (v == NULL || *v == '\0')
		return max;
	n = strtoll(v, &end, 10);
	return *end == '\0' && n >= 1 && n <= max ? (int64_t)n : max;
}

int
page_args(struct request *r, int64_t max, struct page *p)
{
	p->after = 0;
	p->limit = page_default(max);
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

int64_t
page_end(const struct page *p)
{
	return p->after > INT64_MAX - p->limit ? INT64_MAX : p->after + p->limit;
}

void
page_next_id(struct request *r, size_t n, int64_t last, const struct page *p)
{
	if (n == 0 || (int64_t)n < p->limit)
		return;		/* a short page is the last */
	json_object_put(r->next);
	r->next = json_object_new_int64(last);
}

void
page_next_key(struct request *r, struct json_object *rows, const char *key, const struct page *p)
{
	size_t n = json_object_array_length(rows);

	if (n > 0)
		page_next_id(r, n, json_object_get_int64(json_object_object_get(
		    json_object_array_get_idx(rows, n - 1), key)), p);
}
