/* The one table that turns UKEY_ERR_* codes into text and stable names. */
#include <string.h>

#include "common/err.h"

static const struct {
	const char *name;
	const char *text;
} err_table[] = {
	[0] = { "ok", "success" },
	[1] = { "nomem", "out of memory" },
	[2] = { "invalid", "invalid input" },
	[3] = { "io", "input/output error" },
	[4] = { "database", "database error" },
	[5] = { "crypto", "cryptographic operation failed" },
	[6] = { "pkcs11", "PKCS#11 call failed" },
	[7] = { "not-found", "not found" },
	[8] = { "state", "not allowed in the current state" },
	[9] = { "permission", "permission denied" },
	[10] = { "timeout", "timed out" },
	[11] = { "removed", "token removed" },
	[12] = { "not-blank", "token is not blank" },
	[13] = { "pin", "PIN incorrect, locked or invalid" },
	[14] = { "protocol", "protocol error" },
	[15] = { "ca", "certificate authority error" },
	[16] = { "verify", "verification failed" },
	[17] = { "exists", "already exists" },
	[18] = { "unsupported", "not supported" },
	[19] = { "busy", "busy" },
	[20] = { "unavailable", "service unavailable" },
	[21] = { "crash", "worker process crashed" },
};

static int
err_index(int rc)
{
	if (rc > 0 || rc <= UKEY_ERR_MAX_)
		return -1;
	return -rc;
}

const char *
ukey_strerror(int rc)
{
	int i = err_index(rc);

	return i < 0 ? "unknown error" : err_table[i].text;
}

const char *
ukey_errname(int rc)
{
	int i = err_index(rc);

	return i < 0 ? "unknown" : err_table[i].name;
}

int
ukey_errcode(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (name != NULL && strcmp(err_table[i].name, name) == 0)
			return -(int)i;
	return UKEY_ERR_PROTO;
}
