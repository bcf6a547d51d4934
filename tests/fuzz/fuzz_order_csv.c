/* libFuzzer harness: the CSV order file reader (see fuzz_order_file.h). */
#define FUZZ_ORDER_FORMAT ORDER_FILE_CSV
#include "fuzz_order_file.h"
