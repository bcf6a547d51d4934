/* Detection sources: where the daemon learns that a token arrived in a bay or
 * left it. Each source (libusb hotplug, udev monitor, PC/SC) watches its own
 * file descriptors inside the daemon's poll loop and reports what it sees as
 * detect_event records through one callback; the daemon turns them into the
 * same "token arrived / token left" calls that the simulated bays make. */
#ifndef UKEY_DETECT_SOURCE_H
#define UKEY_DETECT_SOURCE_H

#include <poll.h>
#include <stddef.h>

struct fw_profile;
struct fw_profile_set;

enum detect_kind {
	DETECT_TOKEN_ARRIVED,	/* a token is present in a bay (USB device, or card in a reader) */
	DETECT_TOKEN_LEFT,	/* the token of that bay is gone */
	DETECT_READER_ADDED,	/* a PC/SC reader appeared (no card in it yet) */
	DETECT_READER_REMOVED,	/* a PC/SC reader went away */
	DETECT_SOURCE_DOWN,	/* the source lost its service (message says why); it retries */
	DETECT_SOURCE_UP	/* the source (re)connected to its service */
};

/* The udev tag our rules (udev/70-ukey-station.rules) put on every USB
 * device that a firmware profile knows; the udev source watches only it. */
#define DETECT_UDEV_TAG "ukey_station"

/* Longest bay identity, including the NUL. */
#define DETECT_BAY_MAX 128

struct detect_event {
	enum detect_kind kind;
	const char *source;		/* "libusb", "udev" or "pcsc" (static string) */
	/* Stable bay identity: "usb:<bus>-<port>[.<port>...]" for USB sources
	 * (the physical port path, the same for both USB sources), "pcsc:<reader
	 * name>" for PC/SC. Empty for SOURCE_UP/DOWN. */
	char bay[DETECT_BAY_MAX];
	unsigned vid, pid, bcd;		/* USB ids and bcdDevice; 0 when not a USB event */
	char usb_serial[128];		/* USB iSerialNumber when known, else "" */
	char reader[128];		/* PC/SC reader name, else "" */
	char atr[80];			/* card ATR in upper-case hex, else "" */
	/* Human description for logs and `ukeyctl events`, e.g.
	 * "096e:0807 fw 1.00 serial 1234 at 1-2.3" or "reader 'X' ATR 3B..." */
	char device[192];
	/* The firmware profile that matches the device (USB ids and firmware
	 * range, or reader name), borrowed from the set the source was started
	 * with; NULL when none matches: such a token is reported, never touched. */
	const struct fw_profile *profile;
	char message[256];		/* SOURCE_UP/DOWN: what happened; else "" */
	/* Virtual tokens only (the "sim" source): the token's SOFTHSM2_CONF and
	 * the PKCS#11 module to load in place of the profile's; else "". */
	char softhsm_conf[512];
	char module[512];
};

/* Called by a source for every event, from inside its dispatch() only (never
 * from a library callback), on the daemon's thread. ev is borrowed. */
typedef void (*detect_emit_fn)(void *ctx, const struct detect_event *ev);

struct detect_source;

struct detect_source_ops {
	const char *name;		/* "libusb", "udev", "pcsc" */
	/* Starts watching. Devices already present are reported as arrivals
	 * from the first dispatch() calls, not from start. Returns 0 and a new
	 * source in *out, or a UKEY_ERR_* with a one-line reason in err (for
	 * example "pcscd is not running"); the daemon reports it and runs on
	 * with its other sources. The profile set must outlive the source. */
	int (*start)(const struct fw_profile_set *fw, detect_emit_fn emit, void *ctx,
	    struct detect_source **out, char *err, size_t errlen);
	/* Puts up to max descriptors to poll into pfd (events set); returns how many. */
	int (*pollfds)(struct detect_source *src, struct pollfd *pfd, int max);
	/* Handles whatever is ready, without blocking. The daemon calls it when
	 * one of the source's descriptors is ready and at least every 250 ms. */
	void (*dispatch)(struct detect_source *src);
	/* Stops watching and frees src; NULL is a no-op. No events after this. */
	void (*stop)(struct detect_source *src);
};

extern const struct detect_source_ops detect_source_libusb;
extern const struct detect_source_ops detect_source_udev;
extern const struct detect_source_ops detect_source_pcsc;
extern const struct detect_source_ops detect_source_sim;

/* The simulated source's two requests: a virtual token put into bay (its
 * SoftHSM2 configuration, and the module to load or NULL for the
 * profile's), or the token of bay taken out. The event is announced at the
 * source's next dispatch(). Return 0, UKEY_ERR_STATE when src is NULL (the
 * source is not running), UKEY_ERR_INVAL for a path too long,
 * UKEY_ERR_BUSY when requests are waiting undispatched. */
int detect_sim_insert(struct detect_source *src, const char *bay, const char *device,
    const struct fw_profile *profile, const char *softhsm_conf, const char *module);
int detect_sim_remove(struct detect_source *src, const char *bay, const char *device,
    const struct fw_profile *profile);

/* "arrived", "left", "reader-added", "reader-removed", "source-down", "source-up". */
const char *detect_kind_name(enum detect_kind k);

/* Builds the bay identity of a USB device from its bus number and port
 * chain ("usb:1-2.3"); returns 0, or -1 when it does not fit. */
int detect_usb_bay(char *dst, size_t dstsz, unsigned bus, const unsigned char *ports,
    int nports);

/* Sets ev->usb_serial from the kernel's sysfs "serial" text raw (NULL: none):
 * trailing newline and blanks dropped; a value holding a control character
 * is not a serial number and leaves "" (logged at debug level, naming where). */
void detect_usb_set_serial(struct detect_event *ev, const char *raw, const char *where);

/* Fills the profile (fw_profile_set_match_usb) and the human description of
 * a USB event whose ids, serial and bay are set; port is the kernel's port
 * path ("1-2.3"). A device outside every profile is logged. */
void detect_usb_describe(const struct fw_profile_set *fw, struct detect_event *ev,
    const char *port);

struct json_object;

/* The event as JSON: kind, source, bay, ids (4 hex digits) when set,
 * usb_serial, reader, atr, device, profile name or null, message. Empty
 * strings are left out. NULL on memory failure; the caller puts it. */
struct json_object *detect_event_json(const struct detect_event *ev);

#endif
