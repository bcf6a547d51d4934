/* The simulated detection source: virtual tokens plugged into and pulled out
 * of the simulated bays on request, announced exactly as a hardware source
 * announces a USB token. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/log.h"
#include "drivers/softhsm.h"
#include "station/station.h"

static int64_t
next_token_no(const char *dir)
{
	struct dirent *de;
	int64_t max = 0;
	DIR *d = opendir(dir);

	if (d == NULL)
		return 1;
	while ((de = readdir(d)) != NULL) {
		int64_t n = strtoll(de->d_name, NULL, 10);

		if (n > max)
			max = n;
	}
	closedir(d);
	return max + 1;
}

/* Puts what the simulated source saw into the event stream. */
static void
sim_event(struct station *s, const struct bay *b, enum detect_kind kind, const char *device,
    const char *profile)
{
	struct detect_event ev = { .kind = kind, .source = "sim" };

	snprintf(ev.bay, sizeof(ev.bay), "%s", b->name);
	snprintf(ev.device, sizeof(ev.device), "%s", device);
	ev.profile = profile ? fw_profile_set_find(s->fw, profile) : NULL;
	station_event_add(s, &ev);
}

int
sim_plug(struct station *s, int bay_index, const char *preset, int64_t token_no,
    const char *profile, struct json_object **result)
{
	char root[700], dir[800], conf[900], device[64];
	struct arrival a = { 0 };
	struct bay *b = NULL;
	int i, rc;

	*result = NULL;
	if (bay_index > 0) {
		if (bay_index > s->n_bays)
			return UKEY_ERR_NOTFOUND;
		b = &s->bays[bay_index - 1];
		if (b->state != BAY_EMPTY)
			return UKEY_ERR_BUSY;
	} else {
		for (i = 0; i < s->n_bays && b == NULL; i++)
			if (s->bays[i].state == BAY_EMPTY)
				b = &s->bays[i];
		if (b == NULL)
			return UKEY_ERR_BUSY;
	}
	snprintf(root, sizeof(root), "%s/sim", s->state_dir);
	if (mkdir(root, 0700) != 0 && errno != EEXIST)
		return UKEY_ERR_IO;
	snprintf(root, sizeof(root), "%s/sim/tokens", s->state_dir);
	if (mkdir(root, 0700) != 0 && errno != EEXIST)
		return UKEY_ERR_IO;
	if (token_no > 0) {
		/* the same virtual token back in a bay */
		snprintf(dir, sizeof(dir), "%s/%04lld", root, (long long)token_no);
		if ((rc = softhsm_token_conf(dir, conf, sizeof(conf))) != 0)
			return rc;
	} else {
		token_no = next_token_no(root);
		snprintf(dir, sizeof(dir), "%s/%04lld", root, (long long)token_no);
		if ((rc = softhsm_token_create(dir, preset, conf, sizeof(conf))) != 0)
			return rc;
	}
	snprintf(device, sizeof(device), "virtual token %04lld", (long long)token_no);
	a.source = "sim";
	a.profile = profile ? profile : "softhsm2";
	a.softhsm_conf = conf;
	/* the configured SoftHSM2 build, for every virtual token */
	a.module = s->cfg.sim_softhsm_module[0] ? s->cfg.sim_softhsm_module : NULL;
	a.device = device;
	sim_event(s, b, DETECT_TOKEN_ARRIVED, device, a.profile);
	if ((rc = bay_token_arrived(s, b, &a)) != 0)
		return rc;
	*result = json_object_new_object();
	json_object_object_add(*result, "bay", json_object_new_int(b->index));
	json_object_object_add(*result, "token", json_object_new_int64(token_no));
	json_object_object_add(*result, "softhsm_conf", json_object_new_string(conf));
	return 0;
}

int
sim_unplug(struct station *s, int bay_index)
{
	struct bay *b;

	if (bay_index < 1 || bay_index > s->n_bays)
		return UKEY_ERR_NOTFOUND;
	b = &s->bays[bay_index - 1];
	if (b->state == BAY_EMPTY)
		return UKEY_ERR_STATE;
	sim_event(s, b, DETECT_TOKEN_LEFT, b->device, b->profile ? b->profile->name : NULL);
	bay_token_left(s, b);
	return 0;
}
