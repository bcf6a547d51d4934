/* Shared helpers of the detection sources. */
#include <stdio.h>

#include <json-c/json.h>

#include "common/log.h"
#include "detect/profile.h"
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

void
detect_usb_set_serial(struct detect_event *ev, const char *raw, const char *where)
{
	size_t n, i;

	ev->usb_serial[0] = '\0';
	if (raw == NULL) {
		log_debug("%s: no serial number", where);
		return;
	}
	n = (size_t)snprintf(ev->usb_serial, sizeof(ev->usb_serial), "%s", raw);
	if (n >= sizeof(ev->usb_serial))
		n = sizeof(ev->usb_serial) - 1;
	while (n > 0 && (ev->usb_serial[n - 1] == '\n' || ev->usb_serial[n - 1] == ' '))
		ev->usb_serial[--n] = '\0';
	for (i = 0; i < n; i++) {
		if ((unsigned char)ev->usb_serial[i] < 0x20 || ev->usb_serial[i] == 0x7f) {
			log_debug("%s: control character in the serial number, ignored", where);
			ev->usb_serial[0] = '\0';
			return;
		}
	}
}

void
detect_usb_describe(const struct fw_profile_set *fw, struct detect_event *ev, const char *port)
{
	ev->profile = fw_profile_set_match_usb(fw, ev->vid, ev->pid, ev->bcd);
	snprintf(ev->device, sizeof(ev->device), "%04x:%04x fw %x.%02x serial %s at %s",
	    ev->vid, ev->pid, ev->bcd >> 8, ev->bcd & 0xff,
	    ev->usb_serial[0] != '\0' ? ev->usb_serial : "(none)", port);
	if (ev->profile == NULL)
		log_info("%s: firmware outside every profile's range, reported but not used",
		    ev->device);
}

static void
add_text(struct json_object *o, const char *key, const char *v)
{
	if (v[0] != '\0')
		json_object_object_add(o, key, json_object_new_string(v));
}

struct json_object *
detect_event_json(const struct detect_event *ev)
{
	struct json_object *o = json_object_new_object();
	char id[8];

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "kind", json_object_new_string(detect_kind_name(ev->kind)));
	json_object_object_add(o, "source", json_object_new_string(ev->source));
	json_object_object_add(o, "bay", ev->bay[0] ? json_object_new_string(ev->bay) : NULL);
	if (ev->vid || ev->pid) {
		snprintf(id, sizeof(id), "%04x", ev->vid);
		json_object_object_add(o, "vid", json_object_new_string(id));
		snprintf(id, sizeof(id), "%04x", ev->pid);
		json_object_object_add(o, "pid", json_object_new_string(id));
		snprintf(id, sizeof(id), "%04x", ev->bcd);
		json_object_object_add(o, "bcd", json_object_new_string(id));
	}
	add_text(o, "usb_serial", ev->usb_serial);
	add_text(o, "reader", ev->reader);
	add_text(o, "atr", ev->atr);
	json_object_object_add(o, "device", ev->device[0] ? json_object_new_string(ev->device) : NULL);
	json_object_object_add(o, "profile",
	    ev->profile ? json_object_new_string(ev->profile->name) : NULL);
	add_text(o, "message", ev->message);
	return o;
}
