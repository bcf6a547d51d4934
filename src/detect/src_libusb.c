/* Detection source "libusb": USB tokens arriving and leaving, through libusb's
 * hotplug callbacks, one per vendor:product pair the firmware profiles list.
 * The callbacks only queue what they are given; dispatch() does the rest. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libusb.h>

#include "common/err.h"
#include "common/log.h"
#include "detect/profile.h"
#include "detect/source.h"

#define MAX_WATCHES 64		/* vendor:product pairs */
#define MAX_PORTS 8		/* USB allows 7 tiers of hubs below the root */
#define SYSFS_USB "/sys/bus/usb/devices"

/* What a hotplug callback saw, handled later by dispatch(). */
struct pending {
	struct pending *next;
	int left;
	/* ARRIVED: a reference of our own (libusb_ref_device) that dispatch()
	 * hands to a struct present or drops. LEFT: not referenced and only
	 * compared with the present list, whose entries hold a reference, so
	 * that a match is that very device and not a new one at a reused
	 * address. */
	libusb_device *dev;
	int desc_rc;		/* libusb_get_device_descriptor's result */
	struct libusb_device_descriptor desc;
	unsigned bus;
	unsigned char ports[MAX_PORTS];
	int nports;		/* libusb_get_port_numbers's result */
};

/* A device reported as arrived; LEFT repeats what ARRIVED said. */
struct present {
	struct present *next;
	libusb_device *dev;	/* referenced */
	struct detect_event ev;
};

struct detect_source {
	const struct fw_profile_set *fw;
	detect_emit_fn emit;
	void *emit_ctx;
	libusb_context *usb;	/* NULL when no profile lists USB ids */
	libusb_hotplug_callback_handle watches[MAX_WATCHES];
	int nwatches;
	struct present *present;

	/* the queue the hotplug callbacks fill; libusb may call them from
	 * another thread than dispatch()'s, hence the lock */
	pthread_mutex_t lock;
	int lock_init;
	struct pending *head, **tail;
	unsigned lost;		/* events dropped for want of memory */
};

/*
 * The hotplug callback. libusb's documentation (the "Device hotplug event
 * notification" page) allows only this much inside it: for an arrival "any
 * libusb function that takes a libusb_device" (we call
 * libusb_get_device_descriptor, libusb_get_bus_number, libusb_get_port_numbers
 * and libusb_ref_device) but none of the synchronous or descriptor-fetching
 * calls on a device handle; for a departure "the only safe function is
 * libusb_get_device_descriptor()", so we call nothing at all there. The
 * serial number, the profile match and the event are left to dispatch().
 */
static int LIBUSB_CALL
on_hotplug(libusb_context *usb, libusb_device *dev, libusb_hotplug_event event, void *arg)
{
	struct detect_source *src = arg;
	struct pending *p = calloc(1, sizeof(*p));
	int n;

	if (p == NULL) {
		pthread_mutex_lock(&src->lock);
		src->lost++;
		pthread_mutex_unlock(&src->lock);
		return 0;
	}
	if (event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED) {
		p->desc_rc = libusb_get_device_descriptor(dev, &p->desc);
		p->bus = libusb_get_bus_number(dev);
		n = libusb_get_port_numbers(dev, p->ports, MAX_PORTS);
		p->nports = n;
		p->dev = libusb_ref_device(dev);
	} else {
		p->left = 1;
		p->dev = dev;
	}
	pthread_mutex_lock(&src->lock);
	*src->tail = p;
	src->tail = &p->next;
	pthread_mutex_unlock(&src->lock);
	return 0;		/* stay armed */
}

/* Reads the sysfs attribute "serial" of the device at port path port ("1-2.3")
 * into ev; leaves "" when there is none or it cannot be read. libusb could
 * only read the string descriptor through an open handle (a control transfer
 * to the token, which may be busy with another program); the kernel keeps
 * the string it read at enumeration. */
static void
read_serial(const char *port, struct detect_event *ev)
{
	char path[DETECT_BAY_MAX + 64], buf[sizeof(ev->usb_serial)];
	ssize_t n = -1;
	int fd, err;

	snprintf(path, sizeof(path), SYSFS_USB "/%s/serial", port);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		err = errno;
		close(fd);
	} else {
		err = errno;
	}
	if (n >= 0)
		buf[n] = '\0';
	else
		log_debug("%s: %s", path, strerror(err));
	detect_usb_set_serial(ev, n >= 0 ? buf : NULL, path);
}

static struct present *
present_find(struct detect_source *src, const libusb_device *dev, struct present ***link)
{
	struct present **pp;

	for (pp = &src->present; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->dev == dev) {
			if (link != NULL)
				*link = pp;
			return *pp;
		}
	}
	return NULL;
}

static void
handle_arrival(struct detect_source *src, struct pending *p)
{
	struct present *pr;
	struct detect_event *ev;
	const char *port;

	if (present_find(src, p->dev, NULL) != NULL)
		return;		/* reported already: enumeration and an event can overlap */
	if (p->desc_rc != 0) {
		log_warn("libusb_get_device_descriptor: %s (bus %u), device ignored",
		    libusb_error_name(p->desc_rc), p->bus);
		return;
	}
	if ((pr = calloc(1, sizeof(*pr))) == NULL) {
		log_error("out of memory: device %04x:%04x on bus %u not reported",
		    p->desc.idVendor, p->desc.idProduct, p->bus);
		return;
	}
	ev = &pr->ev;
	ev->kind = DETECT_TOKEN_ARRIVED;
	ev->source = "libusb";
	if (p->nports <= 0 ||
	    detect_usb_bay(ev->bay, sizeof(ev->bay), p->bus, p->ports, p->nports) != 0) {
		log_warn("device %04x:%04x on bus %u: no port path (%s), ignored",
		    p->desc.idVendor, p->desc.idProduct, p->bus,
		    p->nports < 0 ? libusb_error_name(p->nports) : "root hub");
		free(pr);
		return;
	}
	port = ev->bay + 4;	/* past "usb:" */
	ev->vid = p->desc.idVendor;
	ev->pid = p->desc.idProduct;
	ev->bcd = p->desc.bcdDevice;
	read_serial(port, ev);
	detect_usb_describe(src->fw, ev, port);
	pr->dev = p->dev;
	p->dev = NULL;		/* the reference moves to the present list */
	pr->next = src->present;
	src->present = pr;
	src->emit(src->emit_ctx, ev);
}

static void
handle_departure(struct detect_source *src, struct pending *p)
{
	struct present **link, *pr;
	struct detect_event ev;

	if ((pr = present_find(src, p->dev, &link)) == NULL)
		return;		/* never reported (libusb may report a departure alone) */
	*link = pr->next;
	ev = pr->ev;
	ev.kind = DETECT_TOKEN_LEFT;
	libusb_unref_device(pr->dev);
	free(pr);
	src->emit(src->emit_ctx, &ev);
}

static void
dispatch(struct detect_source *src)
{
	struct timeval zero = { 0, 0 };
	struct pending *list, *p;
	unsigned lost;
	int rc;

	if (src == NULL || src->usb == NULL)
		return;
	/* runs the hotplug callbacks of whatever libusb has seen */
	rc = libusb_handle_events_timeout_completed(src->usb, &zero, NULL);
	if (rc != 0 && rc != LIBUSB_ERROR_INTERRUPTED)
		log_warn("libusb_handle_events_timeout_completed: %s", libusb_error_name(rc));

	pthread_mutex_lock(&src->lock);
	list = src->head;
	src->head = NULL;
	src->tail = &src->head;
	lost = src->lost;
	src->lost = 0;
	pthread_mutex_unlock(&src->lock);

	if (lost > 0)
		log_error("out of memory in the hotplug callback: %u USB event(s) lost", lost);
	while ((p = list) != NULL) {
		list = p->next;
		if (p->left)
			handle_departure(src, p);
		else
			handle_arrival(src, p);
		if (!p->left && p->dev != NULL)
			libusb_unref_device(p->dev);
		free(p);
	}
}

static int
pollfds(struct detect_source *src, struct pollfd *pfd, int max)
{
	const struct libusb_pollfd **fds;
	int i, n = 0;

	if (src == NULL || src->usb == NULL)
		return 0;
	/* read afresh each time: libusb adds and removes descriptors as devices
	 * are opened and closed, and the list is short */
	if ((fds = libusb_get_pollfds(src->usb)) == NULL)
		return 0;
	for (i = 0; fds[i] != NULL && n < max; i++) {
		pfd[n].fd = fds[i]->fd;
		pfd[n].events = fds[i]->events;
		pfd[n].revents = 0;
		n++;
	}
	libusb_free_pollfds(fds);
	return n;
}

static void
stop(struct detect_source *src)
{
	struct present *pr;
	struct pending *p;
	int i;

	if (src == NULL)
		return;
	if (src->usb != NULL) {
		for (i = 0; i < src->nwatches; i++)
			libusb_hotplug_deregister_callback(src->usb, src->watches[i]);
	}
	while ((pr = src->present) != NULL) {
		src->present = pr->next;
		libusb_unref_device(pr->dev);
		free(pr);
	}
	while ((p = src->head) != NULL) {
		src->head = p->next;
		if (!p->left)
			libusb_unref_device(p->dev);
		free(p);
	}
	if (src->usb != NULL)
		libusb_exit(src->usb);
	if (src->lock_init)
		pthread_mutex_destroy(&src->lock);
	free(src);
}

/* 1 when pair (vid, pid) is among the first n of those of profiles already seen. */
static int
seen_pair(const unsigned (*pairs)[2], int n, unsigned vid, unsigned pid)
{
	int i;

	for (i = 0; i < n; i++)
		if (pairs[i][0] == vid && pairs[i][1] == pid)
			return 1;
	return 0;
}

static int
start(const struct fw_profile_set *fw, detect_emit_fn emit, void *ctx, struct detect_source **out,
    char *err, size_t errlen)
{
	struct detect_source *src = NULL;
	unsigned pairs[MAX_WATCHES][2];
	size_t i, j;
	int npairs = 0, rc;

	*out = NULL;
	err[0] = '\0';
	for (i = 0; i < fw_profile_set_count(fw); i++) {
		const struct fw_profile *p = fw_profile_set_at(fw, i);

		for (j = 0; j < p->n_product_ids; j++) {
			if (seen_pair((const unsigned (*)[2])pairs, npairs, p->vendor_id,
			    p->product_ids[j]))
				continue;	/* two firmware ranges of one model */
			if (npairs == MAX_WATCHES) {
				snprintf(err, errlen, "the firmware profiles list more than %d USB "
				    "vendor:product pairs", MAX_WATCHES);
				return UKEY_ERR_INVAL;
			}
			pairs[npairs][0] = p->vendor_id;
			pairs[npairs][1] = p->product_ids[j];
			npairs++;
		}
	}
	if ((src = calloc(1, sizeof(*src))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return UKEY_ERR_NOMEM;
	}
	src->fw = fw;
	src->emit = emit;
	src->emit_ctx = ctx;
	src->tail = &src->head;
	if (pthread_mutex_init(&src->lock, NULL) != 0) {
		snprintf(err, errlen, "pthread_mutex_init failed");
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	src->lock_init = 1;
	if (npairs == 0) {
		log_info("no firmware profile lists USB ids: the libusb source watches nothing");
		*out = src;
		return 0;
	}
	if (!libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG)) {
		const struct libusb_version *v = libusb_get_version();

		snprintf(err, errlen, "libusb %u.%u.%u has no hotplug support on this system",
		    v->major, v->minor, v->micro);
		rc = UKEY_ERR_UNSUPPORTED;
		goto out;
	}
	if ((rc = libusb_init(&src->usb)) != 0) {
		snprintf(err, errlen, "libusb_init: %s", libusb_error_name(rc));
		src->usb = NULL;
		rc = UKEY_ERR_UNAVAIL;
		goto out;
	}
	for (i = 0; i < (size_t)npairs; i++) {
		/* with LIBUSB_HOTPLUG_ENUMERATE the devices already present come
		 * through on_hotplug from inside this call: they are queued and
		 * reported by the first dispatch() */
		rc = libusb_hotplug_register_callback(src->usb,
		    LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
		    LIBUSB_HOTPLUG_ENUMERATE, (int)pairs[i][0], (int)pairs[i][1],
		    LIBUSB_HOTPLUG_MATCH_ANY, on_hotplug, src, &src->watches[src->nwatches]);
		if (rc != LIBUSB_SUCCESS) {
			snprintf(err, errlen, "libusb_hotplug_register_callback %04x:%04x: %s",
			    pairs[i][0], pairs[i][1], libusb_error_name(rc));
			rc = UKEY_ERR_UNAVAIL;
			goto out;
		}
		src->nwatches++;
		log_debug("watching %04x:%04x", pairs[i][0], pairs[i][1]);
	}
	log_info("watching %d USB vendor:product pair(s)", npairs);
	*out = src;
	src = NULL;
	rc = 0;
 out:
	stop(src);
	return rc;
}

const struct detect_source_ops detect_source_libusb = {
	.name = "libusb", .start = start, .pollfds = pollfds, .dispatch = dispatch, .stop = stop,
};
