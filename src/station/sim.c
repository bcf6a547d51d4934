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
#include "station/bay.h"
#include "station/sources.h"
#include "detect/profile.h"

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

int
sim_plug(struct station *s, int bay_index, const char *preset, int64_t token_no,
    const char *profile, const char *operator_name, struct json_object **result)
{
	char root[700], dir[800], conf[900], device[64];
	const struct fw_profile *fw;
	struct bay *b = NULL;
	int i, rc;

	*result = NULL;
	if ((fw = fw_profile_set_find(station_fw(s), profile ? profile : "softhsm2")) == NULL)
		return UKEY_ERR_NOTFOUND;
	if (bay_index > 0) {
		if (bay_index > station_n_bays(s))
			return UKEY_ERR_NOTFOUND;
		b = station_bay(s, bay_index - 1);
		if (strcmp(b->source, "sim") != 0)
			return UKEY_ERR_NOTFOUND;	/* a hardware bay */
		if (b->state != BAY_EMPTY)
			return UKEY_ERR_BUSY;
	} else {
		for (i = 0; i < station_n_bays(s) && b == NULL; i++) {
			struct bay *c = station_bay(s, i);

			if (c->state == BAY_EMPTY && strcmp(c->source, "sim") == 0)
				b = c;
		}
		if (b == NULL)
			return UKEY_ERR_BUSY;
	}
	snprintf(root, sizeof(root), "%s/sim", station_state_dir(s));
	if (mkdir(root, 0700) != 0 && errno != EEXIST)
		return UKEY_ERR_IO;
	snprintf(root, sizeof(root), "%s/sim/tokens", station_state_dir(s));
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
	/* who put the token in is the operator recorded with its issuance */
	snprintf(b->operator_name, sizeof(b->operator_name), "%s", operator_name);
	if ((rc = detect_sim_announce(s, b->name, 1, device, fw, conf)) != 0)
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

	if (bay_index < 1 || bay_index > station_n_bays(s))
		return UKEY_ERR_NOTFOUND;
	b = station_bay(s, bay_index - 1);
	if (strcmp(b->source, "sim") != 0)
		return UKEY_ERR_NOTFOUND;	/* a hardware bay */
	if (b->state == BAY_EMPTY)
		return UKEY_ERR_STATE;
	return detect_sim_announce(s, b->name, 0, b->device, b->profile, NULL);
}
