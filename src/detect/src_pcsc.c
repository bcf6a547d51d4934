/* Detection source "pcsc": placeholder until the source is written; it
 * refuses to start, so a station configured with it stops at start. */
#include <stdio.h>

#include "common/err.h"
#include "detect/source.h"

static int
start(const struct fw_profile_set *fw, detect_emit_fn emit, void *ctx, struct detect_source **out,
    char *err, size_t errlen)
{
	*out = NULL;
	snprintf(err, errlen, "the pcsc source is not available in this build");
	return UKEY_ERR_UNSUPPORTED;
}

static int
pollfds(struct detect_source *src, struct pollfd *pfd, int max)
{
	return 0;
}

static void
dispatch(struct detect_source *src)
{
}

static void
stop(struct detect_source *src)
{
}

const struct detect_source_ops detect_source_pcsc = {
	.name = "pcsc", .start = start, .pollfds = pollfds, .dispatch = dispatch, .stop = stop,
};
