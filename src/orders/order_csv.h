/* The portal's order table as CSV: one row per order, the portal's Chinese
 * column names in the header (docs/order-format.md, "CSV"). */
#ifndef UKEY_ORDER_CSV_H
#define UKEY_ORDER_CSV_H

#include <stddef.h>
#include <time.h>

#include "orders/order.h"

/* The column that holds portal_ref. */
#define ORDER_CSV_REF_COLUMN "订单编号"

/* Reads the CSV text into f (an order_file_read() in progress): a syntax or
 * header error goes to f->errs; each row becomes the JSON form of an order
 * and is validated by order_file_add(), its messages naming the row's line
 * and the columns. Returns 0 or UKEY_ERR_NOMEM. */
int order_csv_read(struct order_file *f, const char *text, size_t len, time_t now);

#endif
