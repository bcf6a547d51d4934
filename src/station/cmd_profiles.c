/* Control command for the firmware profiles the daemon loaded at start:
 * what `ukeyctl profiles` lists. */
#include <json-c/json.h>

#include "common/err.h"
#include "detect/profile.h"
#include "station/control.h"

/* profile.list: an array with fw_profile_to_json() of each loaded profile,
 * in load order. pkcs11.module says which candidate is installed on this
 * machine, where the workers load it. Runs on the daemon's loop. */
int
cmd_profile_list(struct request *r, struct json_object **result)
{
	struct json_object *a, *o;
	size_t i, n = fw_profile_set_count(station_fw(r->s));

	if ((a = json_object_new_array()) == NULL)
		return UKEY_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		o = fw_profile_to_json(fw_profile_set_at(station_fw(r->s), i));
		if (o == NULL || json_object_array_add(a, o) != 0) {
			json_object_put(o);
			json_object_put(a);
			return UKEY_ERR_NOMEM;
		}
	}
	*result = a;
	return 0;
}
