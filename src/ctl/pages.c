/* Listings page by page (docs/protocol.md, "Listings page"): ukeyctl asks
 * for one page at a time with after and limit, prints it at once and goes
 * on from the key the reply names (next) until a reply names none, so that
 * no reply is large and the output starts with the first page. */
#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "ctl/ctl.h"

/* One page to stdout. JSON: the rows of one array streamed over pages
 * ("[", rows separated by commas, "]" by the caller); a table: the header
 * with the first page, each page's columns aligned within it. */
static void
print_page(struct json_object *rows, const char *const *cols, size_t *printed)
{
	size_t i, n = json_object_array_length(rows);

	if (!ctl_json) {
		print_table_rows(rows, cols, *printed == 0);
		*printed += n;
		return;
	}
	for (i = 0; i < n; i++, (*printed)++)
		printf("%s  %s", *printed == 0 ? "[\n" : ",\n",
		    json_object_to_json_string_ext(json_object_array_get_idx(rows, i),
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

int
ctl_list(const char *cmd, struct json_object *args, const char *const *cols,
    const struct ctl_args *a, int page)
{
	struct json_object *req, *rep, *res, *next;
	int64_t after, limit;
	size_t printed = 0;
	int ex = EXIT_OK, one;

	if (ctl_arg_int(a, OPT_AFTER, &after) != 0 || ctl_arg_int(a, OPT_LIMIT, &limit) != 0) {
		json_object_put(args);
		return EXIT_USAGE;
	}
	one = limit > 0;	/* --limit: that one page, and where to go on from */
	for (;;) {
		req = NULL;
		if (json_object_deep_copy(args, &req, NULL) != 0) {
			ex = EXIT_TEMPFAIL;	/* out of memory */
			break;
		}
		ctl_add_int(req, "after", after);
		ctl_add_int(req, "limit", one ? limit : page);
		if ((ex = ctl_run(cmd, req, &rep, &res)) != EXIT_OK)
			break;
		print_page(res, cols, &printed);
		fflush(stdout);
		next = json_object_object_get(rep, "next");
		after = next != NULL ? json_object_get_int64(next) : 0;
		json_object_put(rep);
		if (next == NULL)
			break;
		if (one) {
			fprintf(stderr, "ukeyctl: more rows: go on with --after %lld\n",
			    (long long)after);
			break;
		}
	}
	json_object_put(args);
	/* a failure midway leaves the array unclosed: no reader takes the
	 * rows printed so far for the whole listing */
	if (ctl_json && ex == EXIT_OK)
		printf(printed > 0 ? "\n]\n" : "[\n]\n");
	return ex;
}

int
ctl_join_pages(const char *cmd, struct json_object *args, struct json_object *rep,
    struct json_object *res, const char *const *lists)
{
	struct json_object *next = json_object_object_get(rep, "next"), *more, *mres, *copy;
	/* a report kept by the daemon for its later pages: they come from it */
	struct json_object *id = json_object_object_get(res, "report_id");
	size_t i, k;
	int ex;

	while (next != NULL && json_object_get_type(next) == json_type_int) {
		copy = NULL;	/* json_object_deep_copy wants *dst NULL */
		if (json_object_deep_copy(args, &copy, NULL) != 0)
			return EXIT_TEMPFAIL;
		ctl_add_int(copy, "after", json_object_get_int64(next));
		if (json_object_is_type(id, json_type_string))
			ctl_add_str(copy, "report_id", json_object_get_string(id));
		if ((ex = ctl_run(cmd, copy, &more, &mres)) != EXIT_OK)
			return ex;
		for (k = 0; lists[k] != NULL; k++) {
			struct json_object *to = json_object_object_get(res, lists[k]);
			struct json_object *from = json_object_object_get(mres, lists[k]);

			for (i = 0; i < json_object_array_length(from); i++)
				json_object_array_add(to, json_object_get(json_object_array_get_idx(from,
				    i)));
		}
		/* the next page's key is read before the reply it came in is put */
		json_object_object_add(rep, "next", json_object_get(json_object_object_get(more,
		    "next")));
		next = json_object_object_get(rep, "next");
		json_object_put(more);
	}
	return EXIT_OK;
}
