/* libFuzzer harness: the JSON order file reader (see fuzz_order_file.h). */
#define FUZZ_ORDER_FORMAT ORDER_FILE_JSON
#include "fuzz_order_file.h"
