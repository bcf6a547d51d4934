/* libFuzzer harness for the firmware profile parser: the input is the content
 * of a profile file, read through fw_profile_parse(), the path the daemon's
 * fw_profile_load() takes after reading the file. A profile that passes is
 * checked against its rules and turned into JSON as `ukeyctl profiles` does. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/err.h"
#include "detect/profile.h"

#define check(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_profile: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* virtual profiles may name modules under @UKEY_BUILD_DIR@ */
	setenv("UKEY_BUILD_DIR", "/fuzz/build", 1);
	return 0;
}

/* Length of line n (1-based) of the input, or -1 when it has fewer lines. */
static long
line_length(const uint8_t *data, size_t size, unsigned long n)
{
	size_t i = 0, start;

	while (--n > 0) {
		while (i < size && data[i] != '\n')
			i++;
		if (i == size)
			return -1;
		i++;
	}
	for (start = i; i < size && data[i] != '\n'; i++)
		;
	return (long)(i - start);
}

/* A message must tell the truth about the line it names. */
static void
check_message(const uint8_t *data, size_t size, const char *err)
{
	unsigned long line;
	char *end;

	line = strtoul(err + 10, &end, 10);
	if (end == err + 10 || *end != ':')
		return;		/* no line number: a file-level message */
	if (line == 0) {	/* "the last line read" of a file without lines */
		check(size == 0);
		return;
	}
	check(line_length(data, size, line) >= 0);
	/* the whole message: a key name echoed in it may hold the same words */
	if (strcmp(end, ": line longer than 199 bytes") == 0)
		check(line_length(data, size, line) > 199);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fw_profile *p = NULL;
	struct json_object *j;
	char err[1024];
	size_t i;
	int rc;

	rc = fw_profile_parse("fuzz.conf", (const char *)data, size, &p, err, sizeof(err));
	if (rc != 0) {
		check(p == NULL);
		check(rc == UKEY_ERR_INVAL || rc == UKEY_ERR_NOMEM);
		check(strncmp(err, "fuzz.conf:", 10) == 0);
		check_message(data, size, err);
		return 0;
	}
	check(p != NULL && p->name[0] != '\0');
	check(p->n_modules >= 1 && p->n_modules <= FW_MAX_MODULES);
	for (i = 0; i < p->n_modules; i++)
		check(p->modules[i] != NULL && p->modules[i][0] == '/');
	check(p->n_algorithms >= 1 && p->n_algorithms <= FW_MAX_ALGORITHMS);
	check(p->n_product_ids <= FW_MAX_PRODUCT_IDS);
	check(p->user_min <= p->user_max && p->so_min <= p->so_max);
	check(p->so_pin_length >= p->so_min && p->so_pin_length <= p->so_max);
	check(p->user_pin_random ? p->initial_user_pin == NULL : p->initial_user_pin != NULL);
	check(p->label_max_bytes >= 1 && p->label_max_bytes <= 32);
	check(p->fw_min <= p->fw_max);
	check(p->slot_match != FW_SLOT_ANY || p->is_virtual);
	check(strcmp(p->path, "fuzz.conf") == 0);
	j = fw_profile_to_json(p);
	check(j != NULL);
	check(json_object_to_json_string(j) != NULL);
	json_object_put(j);
	fw_profile_free(p);
	return 0;
}
