/* Shared helpers of the detection sources. */
#include <stdio.h>

#include "detect/source.h"

const char *
detect_kind_name(enum detect_kind k)
{
	switch (k) {
	case DETECT_TOKEN_ARRIVED: return "arrived";
	case DETECT_TOKEN_LEFT: return "left";
	case DETECT_READER_ADDED: return "reader-added";
	case DETECT_READER_REMOVED: return "reader-removed";
	case DETECT_SOURCE_DOWN: return "source-down";
	case DETECT_SOURCE_UP: return "source-up";
	}
	return "?";
}

int
detect_usb_bay(char *dst, size_t dstsz, unsigned bus, const unsigned char *ports, int nports)
{
	size_t len;
	int i, n;

	n = snprintf(dst, dstsz, "usb:%u", bus);
	if (n < 0 || (size_t)n >= dstsz)
		return -1;
	len = (size_t)n;
	for (i = 0; i < nports; i++) {
		n = snprintf(dst + len, dstsz - len, "%c%u", i == 0 ? '-' : '.', ports[i]);
		if (n < 0 || (size_t)n >= dstsz - len)
			return -1;
		len += (size_t)n;
	}
	return 0;
}
