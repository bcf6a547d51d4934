/* The simulated bays' requests: `ukeyctl sim plug` makes (or finds again) a
 * SoftHSM2 virtual token and hands it to the simulated detection source
 * (src/detect/src_sim.c), which announces it as a hardware source announces a
 * USB token; `sim unplug` has the source announce that it left. */
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

/* Hands a request to the simulated source and dispatches it at once, so
 * that the bay has the token (or has let it go) when the command replies. */
static int
sim_announce(struct station *s, const struct bay *b, int arrived, const char *device,
    const struct fw_profile *profile, const char *conf)
{
	int k = detect_sim_index(s), rc;
	const char *module = s->cfg.sim_softhsm_module[0] ? s->cfg.sim_softhsm_module : NULL;

	if (k < 0)
		return UKEY_ERR_STATE;
	rc = arrived ? detect_sim_insert(s->src[k], b->name, device, profile, conf, module)
		     : detect_sim_remove(s->src[k], b->name, device, profile);
	if (rc == 0)
		detect_dispatch(s, k);
	return rc;
}

int
sim_plug(struct station *s, int bay_index, const char *preset, int64_t token_no,
    const char *profile, struct json_object **result)
{
	char root[700], dir[800], conf[900], device[64];
	const struct fw_profile *fw;
	struct bay *b = NULL;
	int i, rc;

	*result = NULL;
	if ((fw = fw_profile_set_find(s->fw, profile ? profile : "softhsm2")) == NULL)
		return UKEY_ERR_NOTFOUND;
	if (bay_index > 0) {
		if (bay_index > s->n_bays)
			return UKEY_ERR_NOTFOUND;
		b = &s->bays[bay_index - 1];
		if (strcmp(b->source, "sim") != 0)
			return UKEY_ERR_NOTFOUND;	/* a hardware bay */
		if (b->state != BAY_EMPTY)
			return UKEY_ERR_BUSY;
	} else {
		for (i = 0; i < s->n_bays && b == NULL; i++)
			if (s->bays[i].state == BAY_EMPTY && strcmp(s->bays[i].source, "sim") == 0)
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
	if ((rc = sim_announce(s, b, 1, device, fw, conf)) != 0)
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
	if (strcmp(b->source, "sim") != 0)
		return UKEY_ERR_NOTFOUND;	/* a hardware bay */
	if (b->state == BAY_EMPTY)
		return UKEY_ERR_STATE;
	return sim_announce(s, b, 0, b->device, b->profile, NULL);
}
