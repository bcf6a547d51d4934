/* Key pairs ended renewals left on their tokens (store_renewleft.h). */
#include "common/err.h"
#include "store/db.h"
#include "store/store_renewleft.h"

int
store_renewal_leftover(struct store *st, const char *token_serial, int64_t except,
    const char *key_id, int *left)
{
	int64_t n = 0;
	int rc;

	*left = 0;
	rc = db_int(store_dbh(st), &n, "SELECT count(*) FROM jobs WHERE token_serial = ?"
	    " AND kind = 'renew' AND state IN ('failed', 'aborted') AND id <> ?"
	    " AND lower(key_id) = lower(?)", "tit", token_serial, except, key_id);
	if (rc == 0)
		*left = n > 0;
	return rc;
}
