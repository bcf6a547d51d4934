/* The simulated detection source: virtual tokens put into and taken out of
 * the simulated bays ("sim-1", "sim-2", ...) on request. The station makes
 * the virtual token (drivers/softhsm.c) and hands it to this source, which
 * announces it through the same callback as the hardware sources: from
 * there on a virtual token reaches its bay exactly as a USB token does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "detect/source.h"

/* Requests wait here until the next dispatch(); the station dispatches at
 * once after each request, so a queue of a few is plenty. */
#define SIM_PENDING 8

struct detect_source {
	detect_emit_fn emit;
	void *ctx;
	struct detect_event pending[SIM_PENDING];
	int n_pending;
};

static int
sim_start(const struct fw_profile_set *fw, detect_emit_fn emit, void *ctx,
    struct detect_source **out, char *err, size_t errlen)
{
	struct detect_source *src;

	(void)fw;
	if ((src = calloc(1, sizeof(*src))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return UKEY_ERR_NOMEM;
	}
	src->emit = emit;
	src->ctx = ctx;
	*out = src;
	return 0;
}

static int
sim_pollfds(struct detect_source *src, struct pollfd *pfd, int max)
{
	(void)src;
	(void)pfd;
	(void)max;
	return 0;	/* nothing to watch: requests come from the control socket */
}

static void
sim_dispatch(struct detect_source *src)
{
	int i, n = src->n_pending;

	src->n_pending = 0;
	for (i = 0; i < n; i++)
		src->emit(src->ctx, &src->pending[i]);
}

static void
sim_stop(struct detect_source *src)
{
	free(src);
}

const struct detect_source_ops detect_source_sim = {
	.name = "sim",
	.start = sim_start,
	.pollfds = sim_pollfds,
	.dispatch = sim_dispatch,
	.stop = sim_stop,
};

static struct detect_event *
sim_queue(struct detect_source *src, enum detect_kind kind, const char *bay)
{
	struct detect_event *ev;

	if (src->n_pending >= SIM_PENDING)
		return NULL;
	ev = &src->pending[src->n_pending];
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	ev->source = "sim";
	if ((size_t)snprintf(ev->bay, sizeof(ev->bay), "%s", bay) >= sizeof(ev->bay))
		return NULL;
	src->n_pending++;
	return ev;
}

int
detect_sim_insert(struct detect_source *src, const char *bay, const char *device,
    const struct fw_profile *profile, const char *softhsm_conf, const char *module)
{
	struct detect_event *ev;

	if (src == NULL)
		return UKEY_ERR_STATE;
	if (strlen(softhsm_conf) >= sizeof(ev->softhsm_conf) ||
	    (module != NULL && strlen(module) >= sizeof(ev->module)))
		return UKEY_ERR_INVAL;
	if ((ev = sim_queue(src, DETECT_TOKEN_ARRIVED, bay)) == NULL)
		return UKEY_ERR_BUSY;
	snprintf(ev->device, sizeof(ev->device), "%s", device);
	ev->profile = profile;
	snprintf(ev->softhsm_conf, sizeof(ev->softhsm_conf), "%s", softhsm_conf);
	snprintf(ev->module, sizeof(ev->module), "%s", module ? module : "");
	return 0;
}

int
detect_sim_remove(struct detect_source *src, const char *bay, const char *device,
    const struct fw_profile *profile)
{
	struct detect_event *ev;

	if (src == NULL)
		return UKEY_ERR_STATE;
	if ((ev = sim_queue(src, DETECT_TOKEN_LEFT, bay)) == NULL)
		return UKEY_ERR_BUSY;
	snprintf(ev->device, sizeof(ev->device), "%s", device);
	ev->profile = profile;
	return 0;
}
