/* The body of the order file harnesses (fuzz_order_json.c, fuzz_order_csv.c):
 * order_file_read on arbitrary bytes in the format FUZZ_ORDER_FORMAT; every
 * order it accepts must validate again from its normalized form, and
 * everything is freed. Included once, by one harness source each. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "orders/order.h"

/* A fixed "now" keeps birth-date checks reproducible between runs. */
#define FUZZ_NOW ((time_t)1795000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct order_file *f = NULL;
	size_t i;

	if (order_file_read((const char *)data, size, FUZZ_ORDER_FORMAT, FUZZ_NOW, &f) != 0)
		return 0;
	for (i = 0; i < f->n; i++) {
		struct order *o = NULL;

		if (f->entries[i].order == NULL)
			continue;
		/* the normalized form of a valid order is itself a valid order */
		if (order_from_json(f->entries[i].order, FUZZ_NOW, &o, NULL) != 0)
			abort();
		order_free(o);
	}
	order_file_free(f);
	return 0;
}
