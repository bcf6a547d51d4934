/* ukeyctl's output: JSON as the daemon sent it, or a table whose columns
 * stay aligned with Chinese names in them; small helpers the verbs share. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "common/utf8.h"
#include "ctl/ctl.h"

void
print_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Terminal columns a UTF-8 string takes: East Asian wide characters (the
 * Chinese names of orders) take two, so tables stay aligned. */
static size_t
display_width(const char *s)
{
	size_t w = 0;

	while (*s) {
		uint32_t cp = (unsigned char)*s;
		size_t n = utf8_decode(s, strnlen(s, 4), &cp);

		s += n > 0 ? n : 1;	/* a byte that is no UTF-8 takes one column */
		w += (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
		    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
		    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
		    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x20000 && cp <= 0x3fffd) ? 2 : 1;
	}
	return w;
}

static void
print_cell(const char *v, size_t width, int last)
{
	size_t w = display_width(v);

	fputs(v, stdout);
	if (last) {
		putchar('\n');
		return;
	}
	for (; w < width + 2; w++)
		putchar(' ');
}

/* Prints an array of objects as a table of the named columns. */
void
print_table(struct json_object *rows, const char *const *cols)
{
	print_table_rows(rows, cols, 1);
}

void
print_table_rows(struct json_object *rows, const char *const *cols, int header)
{
	size_t n = json_object_array_length(rows), i, c, ncol = 0;
	size_t width[32] = { 0 };

	while (cols[ncol] != NULL && ncol < 32)
		ncol++;
	for (c = 0; c < ncol; c++)
		width[c] = strlen(cols[c]);
	for (i = 0; i < n; i++)
		for (c = 0; c < ncol; c++) {
			const char *v = json_object_get_string(json_object_object_get(
			    json_object_array_get_idx(rows, i), cols[c]));
			size_t w = v ? display_width(v) : 1;

			if (w > width[c])
				width[c] = w;
		}
	for (c = 0; header && c < ncol; c++)
		print_cell(cols[c], width[c], c + 1 == ncol);
	for (i = 0; i < n; i++)
		for (c = 0; c < ncol; c++) {
			const char *v = json_object_get_string(json_object_object_get(
			    json_object_array_get_idx(rows, i), cols[c]));

			print_cell(v ? v : "-", width[c], c + 1 == ncol);
		}
}

static char *
read_file(const char *path, size_t max)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	if ((buf = malloc(max + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, max + 1, f);
	fclose(f);
	if (n > max) {
		free(buf);
		errno = EFBIG;
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* Runs a request and prints its result: with --json as JSON, an array as a
 * table of cols, else done (when given) or the JSON. Returns the exit code;
 * takes args. */
int
ctl_simple(const char *cmd, struct json_object *args, const char *const *cols, const char *done)
{
	struct json_object *rep, *res;
	int ex = ctl_run(cmd, args, &rep, &res);

	if (ex == EXIT_OK) {
		if (ctl_json)
			print_json(res);
		else if (cols && json_object_is_type(res, json_type_array))
			print_table(res, cols);
		else if (done)
			printf("%s\n", done);
		else
			print_json(res);
	}
	json_object_put(rep);
	return ex;
}

/* Reads a whole file of at most max bytes; returns it (owned, NUL added)
 * with its length, or NULL with errno set. */
char *
ctl_read_file(const char *path, size_t max, size_t *len)
{
	char *buf = read_file(path, max);

	/* read_file() adds a NUL after what it read; a NUL inside the file is
	 * the station's to refuse, so the length comes from the file itself */
	if (buf != NULL) {
		struct stat st;

		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size <= max)
			*len = (size_t)st.st_size;
		else
			*len = strlen(buf);
	}
	return buf;
}

/* Adds key: v to args when v is given (not NULL). */
void
ctl_add_str(struct json_object *args, const char *key, const char *v)
{
	if (v != NULL)
		json_object_object_add(args, key, json_object_new_string(v));
}

/* Adds key: v to args when v is not 0 (an option left out). */
void
ctl_add_int(struct json_object *args, const char *key, int64_t v)
{
	if (v != 0)
		json_object_object_add(args, key, json_object_new_int64(v));
}
