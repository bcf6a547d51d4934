/* order_ids: completes identity numbers for synthetic test and example
 * orders with the station's own check-character code.
 *   order_ids uscc 17-CHARACTER-BODY...   prints each full USCC
 *   order_ids rid 17-DIGIT-BODY...        prints each full resident ID
 * A body the alphabet does not allow is an error (exit 1). */
#include <stdio.h>
#include <string.h>

#include "orders/idcheck.h"

int
main(int argc, char **argv)
{
	int i, uscc;

	if (argc < 3 || (strcmp(argv[1], "uscc") != 0 && strcmp(argv[1], "rid") != 0)) {
		fprintf(stderr, "usage: order_ids uscc|rid BODY...\n");
		return 64;
	}
	uscc = strcmp(argv[1], "uscc") == 0;
	for (i = 2; i < argc; i++) {
		char c = strlen(argv[i]) != 17 ? 0 :
		    uscc ? uscc_check_char(argv[i]) : rid_check_char(argv[i]);

		if (c == 0) {
			fprintf(stderr, "order_ids: %s: not a 17-character %s body\n", argv[i],
			    uscc ? "USCC" : "resident ID");
			return 1;
		}
		printf("%s%c\n", argv[i], c);
	}
	return 0;
}
