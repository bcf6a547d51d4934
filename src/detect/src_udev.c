/* Detection source "udev": USB tokens arriving and leaving as systemd-udevd
 * announces them, after our rules (udev/70-ukey-station.rules) have tagged
 * them DETECT_UDEV_TAG. Enumerates the devices already there first, then
 * follows the udev monitor. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libudev.h>

#include "common/err.h"
#include "common/log.h"
#include "detect/profile.h"
#include "detect/source.h"

#define UDEV_CONTROL "/run/udev/control"	/* exists while systemd-udevd runs */
#define MAX_PER_DISPATCH 64	/* monitor messages handled per dispatch() */

/* A device reported as arrived; its remove event has no attributes left, so
 * LEFT repeats what ARRIVED said. */
struct known {
	struct known *next;
	char *syspath;
	struct detect_event ev;
};

struct detect_source {
	const struct fw_profile_set *fw;
	detect_emit_fn emit;
	void *emit_ctx;
	struct udev *udev;
	struct udev_monitor *mon;
	int fd;
	int enumerated;		/* the devices present at start have been listed */
	struct known *known;
};

static struct known *
known_find(struct detect_source *src, const char *syspath, struct known ***link)
{
	struct known **kp;

	for (kp = &src->known; *kp != NULL; kp = &(*kp)->next) {
		if (strcmp((*kp)->syspath, syspath) == 0) {
			if (link != NULL)
				*link = kp;
			return *kp;
		}
	}
	return NULL;
}

/*
 * Whether dev carries our tag. udev_device_has_tag() answers from the tags
 * udevd put in the device's database entry or in its event. A udev property
 * TAGS (":tag1:tag2:") says the same and is also what a umockdev testbed
 * gives, where there is no udev database and the synthesised events carry
 * neither tags nor the tag bloom filter. For the same reason the monitor's
 * in-kernel tag filter (udev_monitor_filter_add_match_tag) is not used: it
 * would drop every testbed event; the check is done here instead, on each
 * add, which costs a wakeup per untagged USB device on a real station.
 */
static int
has_our_tag(struct udev_device *dev)
{
	static const char *const props[] = { "TAGS", "CURRENT_TAGS" };
	const char *v;
	size_t i, taglen = strlen(DETECT_UDEV_TAG);

	if (udev_device_has_tag(dev, DETECT_UDEV_TAG))
		return 1;
	for (i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
		if ((v = udev_device_get_property_value(dev, props[i])) == NULL)
			continue;
		for (v = strchr(v, ':'); v != NULL; v = strchr(v + 1, ':'))
			if (strncmp(v + 1, DETECT_UDEV_TAG, taglen) == 0 && v[1 + taglen] == ':')
				return 1;
	}
	return 0;
}

/* 1 when name is a USB port path: "<bus>-<port>[.<port>]..." (not a root
 * hub "usb1", not an interface "1-2:1.0"). */
static int
is_port_path(const char *name)
{
	const char *s = name;

	if (!isdigit((unsigned char)*s))
		return 0;
	while (isdigit((unsigned char)*s))
		s++;
	if (*s++ != '-')
		return 0;
	for (;;) {
		if (!isdigit((unsigned char)*s))
			return 0;
		while (isdigit((unsigned char)*s))
			s++;
		if (*s == '\0')
			return 1;
		if (*s++ != '.')
			return 0;
	}
}

/* Reads the 4-hex-digit sysfs attribute name of dev into *out; returns 0 or -1. */
static int
hex_attr(struct udev_device *dev, const char *name, unsigned *out)
{
	const char *v = udev_device_get_sysattr_value(dev, name);
	char *end;
	unsigned long n;

	if (v == NULL || !isxdigit((unsigned char)v[0]))
		return -1;
	errno = 0;
	n = strtoul(v, &end, 16);
	while (*end == '\n' || *end == ' ')
		end++;
	if (errno != 0 || *end != '\0' || n > 0xffff)
		return -1;
	*out = (unsigned)n;
	return 0;
}

/* Reports dev as arrived unless it was already, is not ours, or is not a
 * whole device on a port. dev comes from sysfs (enumeration, or re-read after
 * an add event). */
static void
handle_add(struct detect_source *src, struct udev_device *dev)
{
	const char *syspath = udev_device_get_syspath(dev);
	const char *name = udev_device_get_sysname(dev);
	struct known *k;
	struct detect_event *ev;

	if (syspath == NULL || name == NULL || known_find(src, syspath, NULL) != NULL)
		return;
	if (!has_our_tag(dev)) {
		log_debug("%s: no tag %s, not ours", syspath, DETECT_UDEV_TAG);
		return;
	}
	if (!is_port_path(name)) {
		log_debug("%s: not a device on a port, ignored", syspath);
		return;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL || (k->syspath = strdup(syspath)) == NULL) {
		log_error("out of memory: %s not reported", syspath);
		free(k);
		return;
	}
	ev = &k->ev;
	ev->kind = DETECT_TOKEN_ARRIVED;
	ev->source = "udev";
	snprintf(ev->bay, sizeof(ev->bay), "usb:%s", name);
	if (hex_attr(dev, "idVendor", &ev->vid) != 0 || hex_attr(dev, "idProduct", &ev->pid) != 0 ||
	    hex_attr(dev, "bcdDevice", &ev->bcd) != 0) {
		log_warn("%s: idVendor, idProduct or bcdDevice missing or not 4 hex digits, "
		    "device ignored", syspath);
		free(k->syspath);
		free(k);
		return;
	}
	detect_usb_set_serial(ev, udev_device_get_sysattr_value(dev, "serial"), syspath);
	detect_usb_describe(src->fw, ev, name);
	k->next = src->known;
	src->known = k;
	src->emit(src->emit_ctx, ev);
}

static void
handle_remove(struct detect_source *src, const char *syspath)
{
	struct known **link, *k;
	struct detect_event ev;

	if (syspath == NULL || (k = known_find(src, syspath, &link)) == NULL)
		return;
	*link = k->next;
	ev = k->ev;
	ev.kind = DETECT_TOKEN_LEFT;
	free(k->syspath);
	free(k);
	src->emit(src->emit_ctx, &ev);
}

/* Reports the tagged USB devices present now (the same filters as the
 * monitor's; the tag is checked by has_our_tag, see there). */
static void
enumerate(struct detect_source *src)
{
	struct udev_enumerate *e;
	struct udev_list_entry *l;
	int rc;

	if ((e = udev_enumerate_new(src->udev)) == NULL) {
		log_error("udev_enumerate_new: %s", strerror(errno));
		return;
	}
	if ((rc = udev_enumerate_add_match_subsystem(e, "usb")) < 0 ||
	    (rc = udev_enumerate_add_match_property(e, "DEVTYPE", "usb_device")) < 0 ||
	    (rc = udev_enumerate_scan_devices(e)) < 0) {
		log_error("udev_enumerate: %s", strerror(-rc));
		udev_enumerate_unref(e);
		return;
	}
	udev_list_entry_foreach(l, udev_enumerate_get_list_entry(e)) {
		struct udev_device *dev;

		dev = udev_device_new_from_syspath(src->udev, udev_list_entry_get_name(l));
		if (dev == NULL)
			continue;	/* gone since the scan */
		handle_add(src, dev);
		udev_device_unref(dev);
	}
	udev_enumerate_unref(e);
}

static void
dispatch(struct detect_source *src)
{
	struct udev_device *mdev, *dev;
	const char *action, *syspath;
	int i;

	if (src == NULL)
		return;
	if (!src->enumerated) {
		/* the monitor has been listening since start(): whatever arrives
		 * during the scan waits in its socket and is seen below */
		enumerate(src);
		src->enumerated = 1;
	}
	for (i = 0; i < MAX_PER_DISPATCH; i++) {
		if ((mdev = udev_monitor_receive_device(src->mon)) == NULL)
			break;	/* nothing more (the socket is non-blocking) */
		action = udev_device_get_action(mdev);
		syspath = udev_device_get_syspath(mdev);
		/* "change" and "bind" count too: "udevadm trigger" after our rules
		 * were installed tags a token that was plugged in before */
		if (action != NULL && syspath != NULL && (strcmp(action, "add") == 0 ||
		    strcmp(action, "change") == 0 || strcmp(action, "bind") == 0)) {
			/* udevd's events carry the device's tags; a testbed's do
			 * not, so then read the device back from sysfs (and the
			 * udev database) before deciding */
			if (has_our_tag(mdev)) {
				handle_add(src, mdev);
			} else if ((dev = udev_device_new_from_syspath(src->udev, syspath)) != NULL) {
				handle_add(src, dev);
				udev_device_unref(dev);
			} else {
				log_debug("%s: gone before it could be read", syspath);
			}
		} else if (action != NULL && strcmp(action, "remove") == 0) {
			handle_remove(src, syspath);
		}
		udev_device_unref(mdev);
	}
}

static int
pollfds(struct detect_source *src, struct pollfd *pfd, int max)
{
	if (src == NULL || max < 1)
		return 0;
	pfd[0].fd = src->fd;
	pfd[0].events = POLLIN;
	pfd[0].revents = 0;
	return 1;
}

static void
stop(struct detect_source *src)
{
	struct known *k;

	if (src == NULL)
		return;
	while ((k = src->known) != NULL) {
		src->known = k->next;
		free(k->syspath);
		free(k);
	}
	udev_monitor_unref(src->mon);
	udev_unref(src->udev);
	free(src);
}

static int
start(const struct fw_profile_set *fw, detect_emit_fn emit, void *ctx, struct detect_source **out,
    char *err, size_t errlen)
{
	struct detect_source *src = NULL;
	int rc;

	*out = NULL;
	err[0] = '\0';
	/* Without udevd a "udev" monitor is created all the same but never hears
	 * anything (libudev leaves it unsubscribed), so look first. A umockdev
	 * testbed (UMOCKDEV_DIR set) has no udevd and delivers the events
	 * itself. */
	if (access(UDEV_CONTROL, F_OK) != 0 && getenv("UMOCKDEV_DIR") == NULL) {
		snprintf(err, errlen, "systemd-udevd is not running (%s: %s)", UDEV_CONTROL,
		    strerror(errno));
		return UKEY_ERR_UNAVAIL;
	}
	if ((src = calloc(1, sizeof(*src))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return UKEY_ERR_NOMEM;
	}
	src->fw = fw;
	src->emit = emit;
	src->emit_ctx = ctx;
	src->fd = -1;
	if ((src->udev = udev_new()) == NULL) {
		snprintf(err, errlen, "udev_new: %s", strerror(errno));
		rc = UKEY_ERR_UNAVAIL;
		goto out;
	}
	if ((src->mon = udev_monitor_new_from_netlink(src->udev, "udev")) == NULL) {
		snprintf(err, errlen, "udev_monitor_new_from_netlink: %s", strerror(errno));
		rc = UKEY_ERR_UNAVAIL;
		goto out;
	}
	if ((rc = udev_monitor_filter_add_match_subsystem_devtype(src->mon, "usb",
	    "usb_device")) < 0) {
		snprintf(err, errlen, "udev_monitor_filter_add_match_subsystem_devtype: %s",
		    strerror(-rc));
		rc = UKEY_ERR_UNAVAIL;
		goto out;
	}
	if ((rc = udev_monitor_enable_receiving(src->mon)) < 0) {
		snprintf(err, errlen, "udev_monitor_enable_receiving: %s", strerror(-rc));
		rc = UKEY_ERR_UNAVAIL;
		goto out;
	}
	if ((src->fd = udev_monitor_get_fd(src->mon)) < 0) {
		snprintf(err, errlen, "udev_monitor_get_fd: %s", strerror(-src->fd));
		rc = UKEY_ERR_UNAVAIL;
		goto out;
	}
	log_info("watching USB devices tagged %s", DETECT_UDEV_TAG);
	*out = src;
	src = NULL;
	rc = 0;
 out:
	stop(src);
	return rc;
}

const struct detect_source_ops detect_source_udev = {
	.name = "udev", .start = start, .pollfds = pollfds, .dispatch = dispatch, .stop = stop,
};
