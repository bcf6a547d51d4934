/* An order's service point: the column migration 16 added to orders.
 * Written on db.h: SQLite and PostgreSQL. */
#include <stdio.h>

#include "common/err.h"
#include "store/db.h"
#include "store/store_orders.h"

int
store_order_set_service_point(struct store *st, int64_t id, const char *point, const char *now)
{
	int rc;

	if ((rc = db_run(store_dbh(st), "UPDATE orders SET service_point = ?, updated_at = ?"
	    " WHERE id = ?", "tti", point, now, id)) != 0)
		return rc;
	return db_changes(store_dbh(st)) == 0 ? UKEY_ERR_NOTFOUND : 0;
}

int
store_order_service_point(struct store *st, int64_t id, char *out, size_t len)
{
	struct db_stmt *q;
	const char *v;
	int rc;

	out[0] = '\0';
	if ((rc = db_stmtf(store_dbh(st), &q, "SELECT service_point FROM orders WHERE id = ?", "i",
	    id)) != 0)
		return rc;
	if ((rc = db_step(q)) == 1) {
		v = db_column_text(q, 0);
		snprintf(out, len, "%s", v != NULL ? v : "");
		rc = 0;
	} else if (rc == 0) {
		rc = UKEY_ERR_NOTFOUND;
	}
	db_finalize(q);
	return rc;
}
