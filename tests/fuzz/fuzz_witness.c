/* libFuzzer harness for audit witness files, which an auditor brings from
 * outside the station: the input is a witness file. Each line goes through
 * witness_line_parse() (and, when it parses, the signature check), then the
 * whole input through witness_read() as ukeyctl reads it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "store/witness.h"

#define check(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_witness: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

static EVP_PKEY *key;

static void
parse_one(const char *line)
{
	struct witness_entry e;
	char why[200];
	int rc = witness_line_parse(line, &e, why, sizeof(why));

	check(rc == 0 || rc == UKEY_ERR_NOTFOUND || rc == UKEY_ERR_INVAL);
	if (rc != 0)
		return;
	check(e.records >= 0);
	check(strlen(e.head) == WITNESS_HASH_LEN && strlen(e.key_id) == WITNESS_KEY_ID_LEN);
	check(strlen(e.sig) == WITNESS_SIG_LEN && strlen(e.at) == 20);
	check(e.start + e.signed_len < strlen(line));
	check(strncmp(line + e.start, WITNESS_TAG " ", strlen(WITNESS_TAG) + 1) == 0);
	check(strncmp(line + e.start + e.signed_len, " sig=", 5) == 0);
	rc = witness_line_check(key, line, &e);
	check(rc == 0 || rc == UKEY_ERR_VERIFY);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct witness_set ws = { 0 };
	char *text, *line, *save = NULL, why[256];
	FILE *f;
	int rc;

	if (key == NULL && (key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL)
		abort();
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		parse_one(line);
	free(text);
	if ((f = fmemopen((void *)data, size ? size : 1, "r")) == NULL)
		return 0;
	rc = witness_read(f, key, &ws, why, sizeof(why));
	check(rc == 0 || rc == UKEY_ERR_VERIFY || rc == UKEY_ERR_IO);
	if (rc == 0)
		check(ws.n <= (size_t)ws.lines);
	fclose(f);
	witness_set_clear(&ws);
	return 0;
}
