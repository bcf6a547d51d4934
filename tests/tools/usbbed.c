/* usbbed: a umockdev testbed that a test script drives line by line. It
 * builds an empty mock sysfs, runs one command in it (with the umockdev
 * preload library), and plugs and pulls mock USB devices on request,
 * sending the uevents a kernel would send.
 *
 * Usage:
 *   usbbed [--device FILE]... [--output FILE] [--] COMMAND [ARG]...
 *
 *   --device FILE   add the devices of FILE (umockdev-record format) before
 *                   COMMAND starts, so that they are there when it looks
 *                   (their uevents reach no one). May be repeated.
 *   --output FILE   COMMAND's standard output goes to FILE (created or
 *                   truncated) instead of usbbed's own, so that usbbed's
 *                   answers stay apart from what COMMAND prints.
 *
 * COMMAND runs with UMOCKDEV_DIR naming the testbed and the preload library
 * (libumockdev-preload.so.0, resolved by the dynamic loader; the environment
 * variable USBBED_PRELOAD names another one) put first in LD_PRELOAD. Its
 * standard input is /dev/null. A COMMAND built with AddressSanitizer needs
 * ASAN_OPTIONS to hold verify_asan_link_order=0: the preload library then
 * comes before the ASan runtime, which ASan otherwise refuses.
 *
 * Protocol. usbbed answers on its standard output, one line per item:
 *   at start, per --device FILE:   ok device SYSPATH
 *   once COMMAND runs:             ok started PID
 * then reads commands on its standard input, one per line, and answers
 * each with one line, "ok ..." or "error <reason>":
 *   add FILE        adds the devices of FILE; umockdev (0.17 as in Debian 12)
 *                   sends an "add" uevent for each as it completes it.
 *                   Answers "ok SYSPATH T_MS": SYSPATH is the first device
 *                   of FILE (the one a umockdev record describes; the
 *                   others are its parents), T_MS the CLOCK_MONOTONIC time
 *                   in milliseconds (three decimals) taken just before the
 *                   devices were created
 *   remove SYSPATH  sends a "remove" uevent for the device, then removes it
 *                   (and whatever is below it); answers "ok SYSPATH T_MS"
 *   uevent SYSPATH ACTION
 *                   sends a uevent ACTION ("change", "bind", ...) for the
 *                   device; answers "ok SYSPATH T_MS" like remove
 *   property SYSPATH NAME=VALUE
 *                   sets a udev property of the device (what udevd would
 *                   have put in its database, e.g. TAGS=:tag:); answers
 *                   "ok SYSPATH"; send a "change" uevent to announce it
 *   quit            answers "ok quit", then stops COMMAND
 * End of input is taken as quit. usbbed exits when COMMAND exits (with its
 * exit status, 128+N when signal N ended it) or after quit, SIGTERM, SIGINT
 * or SIGHUP, for which it sends COMMAND SIGTERM (SIGKILL 10 s later if it is
 * still there), waits for it, and exits with its status. Exit status 70:
 * usbbed itself failed (testbed, bad --device file, fork); 64: usage.
 *
 * A device file that names a device already in the testbed is refused with
 * an error (umockdev itself would abort), so a file holding a device and its
 * parents can be added once; put a parent shared by several files (a root
 * hub) in a file of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <umockdev.h>

#define DEFAULT_PRELOAD "libumockdev-preload.so.0"
#define MAX_DEVS 16		/* devices (paragraphs) in one file */
#define LINE_MAX_LEN 4096
#define KILL_AFTER_MS 10000

struct devfile {
	char *syspath[MAX_DEVS];	/* "/sys/devices/..." in file order */
	char *subsystem[MAX_DEVS];
	int n;
	char *contents;
};

static UMockdevTestbed *tb;
static char *root;		/* the testbed's directory (UMOCKDEV_DIR) */
static pid_t child = -1;

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void
answer(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
answer(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void
devfile_clear(struct devfile *f)
{
	int i;

	for (i = 0; i < f->n; i++) {
		g_free(f->syspath[i]);
		g_free(f->subsystem[i]);
	}
	g_free(f->contents);
	memset(f, 0, sizeof(*f));
}

/* Reads FILE and notes the P: path and E: SUBSYSTEM of each paragraph.
 * Returns 0, or -1 with a reason in err. */
static int
devfile_read(const char *path, struct devfile *f, char *err, size_t errlen)
{
	GError *gerr = NULL;
	char **lines = NULL;
	int i, rc = -1;

	memset(f, 0, sizeof(*f));
	if (!g_file_get_contents(path, &f->contents, NULL, &gerr)) {
		snprintf(err, errlen, "%s", gerr->message);
		g_error_free(gerr);
		return -1;
	}
	lines = g_strsplit(f->contents, "\n", -1);
	for (i = 0; lines[i] != NULL; i++) {
		const char *l = lines[i];

		if (strncmp(l, "P: ", 3) == 0) {
			if (f->n == MAX_DEVS) {
				snprintf(err, errlen, "%s: more than %d devices", path, MAX_DEVS);
				goto out;
			}
			if (strncmp(l + 3, "/devices/", 9) != 0) {
				snprintf(err, errlen, "%s:%d: P: path must start with /devices/",
				    path, i + 1);
				goto out;
			}
			f->syspath[f->n++] = g_strconcat("/sys", l + 3, NULL);
		} else if (strncmp(l, "E: SUBSYSTEM=", 13) == 0 && f->n > 0 &&
		    f->subsystem[f->n - 1] == NULL) {
			f->subsystem[f->n - 1] = g_strdup(l + 13);
		}
	}
	if (f->n == 0) {
		snprintf(err, errlen, "%s: no device (no \"P: /devices/...\" line)", path);
		goto out;
	}
	for (i = 0; i < f->n; i++) {
		if (f->subsystem[i] == NULL) {
			snprintf(err, errlen, "%s: device %s has no E: SUBSYSTEM= line", path,
			    f->syspath[i]);
			goto out;
		}
	}
	rc = 0;
 out:
	g_strfreev(lines);
	if (rc != 0)
		devfile_clear(f);
	return rc;
}

/* 1 when the testbed already holds a device at syspath (or one of the same
 * name in its subsystem's directory, which umockdev would also trip over). */
static int
testbed_has(const char *syspath, const char *subsystem)
{
	char *base = g_path_get_basename(syspath);
	char *p;
	struct stat st;
	int found;

	p = g_strconcat(root, syspath, "/uevent", NULL);
	found = stat(p, &st) == 0;
	g_free(p);
	if (!found) {
		p = g_strconcat(root, "/sys/class/", subsystem, "/", base, NULL);
		found = lstat(p, &st) == 0;
		g_free(p);
	}
	if (!found) {
		p = g_strconcat(root, "/sys/bus/", subsystem, "/devices/", base, NULL);
		found = lstat(p, &st) == 0;
		g_free(p);
	}
	g_free(base);
	return found;
}

/* Adds the devices of path to the testbed. Returns 0, or -1 with a reason. */
static int
add_file(const char *path, struct devfile *f, char *err, size_t errlen)
{
	GError *gerr = NULL;
	int i;

	if (devfile_read(path, f, err, errlen) != 0)
		return -1;
	for (i = 0; i < f->n; i++) {
		if (testbed_has(f->syspath[i], f->subsystem[i])) {
			snprintf(err, errlen, "%s: device %s is already in the testbed", path,
			    f->syspath[i]);
			devfile_clear(f);
			return -1;
		}
	}
	if (!umockdev_testbed_add_from_string(tb, f->contents, &gerr)) {
		snprintf(err, errlen, "%s: %s", path, gerr->message);
		g_error_free(gerr);
		devfile_clear(f);
		return -1;
	}
	return 0;
}

static void
cmd_add(const char *path)
{
	struct devfile f;
	char err[512];
	double t = now_ms();

	/* umockdev sends each device's "add" uevent itself once the device is
	 * complete in the testbed (attributes and descriptors written), so the
	 * time is taken before it starts */
	if (add_file(path, &f, err, sizeof(err)) != 0) {
		answer("error %s", err);
		return;
	}
	answer("ok %s %.3f", f.syspath[0], t);
	devfile_clear(&f);
}

/* 1 when syspath names a device of the testbed; else answers the error. */
static int
known_device(const char *syspath)
{
	char *p;
	struct stat st;
	int found;

	if (strncmp(syspath, "/sys/devices/", 13) != 0 || strstr(syspath, "/../") != NULL) {
		answer("error %s: not a device path (/sys/devices/...)", syspath);
		return 0;
	}
	p = g_strconcat(root, syspath, "/uevent", NULL);
	found = stat(p, &st) == 0;
	g_free(p);
	if (!found)
		answer("error %s: no such device in the testbed", syspath);
	return found;
}

static void
cmd_uevent(char *arg)
{
	char *action = strrchr(arg, ' ');
	double t;

	if (action == NULL || action[1] == '\0') {
		answer("error usage: uevent SYSPATH ACTION");
		return;
	}
	*action++ = '\0';
	if (!known_device(arg))
		return;
	t = now_ms();
	umockdev_testbed_uevent(tb, arg, action);
	answer("ok %s %.3f", arg, t);
}

static void
cmd_property(char *arg)
{
	char *name = strchr(arg, ' '), *value;

	if (name == NULL || (value = strchr(name + 1, '=')) == NULL || value == name + 1) {
		answer("error usage: property SYSPATH NAME=VALUE");
		return;
	}
	*name++ = '\0';
	*value++ = '\0';
	if (!known_device(arg))
		return;
	umockdev_testbed_set_property(tb, arg, name, value);
	answer("ok %s", arg);
}

static void
cmd_remove(const char *syspath)
{
	double t;

	if (!known_device(syspath))
		return;
	/* the uevent is built from the device's sysfs entry: send it first */
	t = now_ms();
	umockdev_testbed_uevent(tb, syspath, "remove");
	umockdev_testbed_remove_device(tb, syspath);
	answer("ok %s %.3f", syspath, t);
}

/* Runs usbbed again with the preload library in LD_PRELOAD (which the
 * command inherits), unless this is that second run. The testbed's side
 * needs the library too: umockdev builds each uevent from the device's
 * /sys entry, which only the library maps into the testbed. Returns only
 * on failure. */
static void
reexec_preloaded(char **argv)
{
	const char *preload = getenv("USBBED_PRELOAD");
	const char *old = getenv("LD_PRELOAD");
	const char *asan = getenv("ASAN_OPTIONS");
	char *ld, *asan_opts = NULL;

	if (preload == NULL || *preload == '\0')
		preload = DEFAULT_PRELOAD;
	ld = old != NULL && *old != '\0' ? g_strconcat(preload, ":", old, NULL) : g_strdup(preload);
	setenv("LD_PRELOAD", ld, 1);
	setenv("USBBED_PRELOADED", "1", 1);
	/* an ASan build refuses to run with a library loaded before its runtime */
	if (asan == NULL || *asan == '\0')
		asan_opts = g_strdup("verify_asan_link_order=0");
	else if (strstr(asan, "verify_asan_link_order") == NULL)
		asan_opts = g_strconcat(asan, ":verify_asan_link_order=0", NULL);
	if (asan_opts != NULL)
		setenv("ASAN_OPTIONS", asan_opts, 1);
	execv("/proc/self/exe", argv);
	fprintf(stderr, "usbbed: re-running itself with %s preloaded: %s\n", preload,
	    strerror(errno));
	g_free(ld);
	g_free(asan_opts);
}

static pid_t
spawn(char **argv, const char *output, const sigset_t *oldmask)
{
	pid_t pid, parent = getpid();

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "usbbed: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int fd;

		/* should usbbed be killed outright, COMMAND is stopped all the same */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
			_exit(127);
		fd = open("/dev/null", O_RDONLY);
		if (fd < 0 || dup2(fd, 0) < 0)
			_exit(127);
		close(fd);
		if (output != NULL) {
			fd = open(output, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0 || dup2(fd, 1) < 0) {
				fprintf(stderr, "usbbed: %s: %s\n", output, strerror(errno));
				_exit(127);
			}
			close(fd);
		}
		setenv("UMOCKDEV_DIR", root, 1);
		unsetenv("USBBED_PRELOADED");
		signal(SIGPIPE, SIG_DFL);
		sigprocmask(SIG_SETMASK, oldmask, NULL);
		execvp(argv[0], argv);
		fprintf(stderr, "usbbed: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

static int
status_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 70;
}

/* Sends the child SIGTERM, waits for it (SIGKILL after KILL_AFTER_MS), and
 * returns its exit code. */
static int
stop_child(void)
{
	double deadline = now_ms() + KILL_AFTER_MS;
	int status, killed = 0;
	pid_t r;

	kill(child, SIGTERM);
	for (;;) {
		r = waitpid(child, &status, WNOHANG);
		if (r == child)
			break;
		if (r < 0 && errno != EINTR) {
			fprintf(stderr, "usbbed: waitpid: %s\n", strerror(errno));
			return 70;
		}
		if (!killed && now_ms() > deadline) {
			fprintf(stderr, "usbbed: pid %d ignored SIGTERM, sending SIGKILL\n",
			    (int)child);
			kill(child, SIGKILL);
			killed = 1;
		}
		usleep(10000);
	}
	child = -1;
	return status_code(status);
}

/* Handles one input line; returns 1 when it asks to quit. */
static int
handle_line(char *line)
{
	char *arg;

	line[strcspn(line, "\r")] = '\0';
	arg = strchr(line, ' ');
	if (arg != NULL)
		*arg++ = '\0';
	if (strcmp(line, "add") == 0 && arg != NULL && *arg != '\0') {
		cmd_add(arg);
	} else if (strcmp(line, "remove") == 0 && arg != NULL && *arg != '\0') {
		cmd_remove(arg);
	} else if (strcmp(line, "uevent") == 0 && arg != NULL) {
		cmd_uevent(arg);
	} else if (strcmp(line, "property") == 0 && arg != NULL) {
		cmd_property(arg);
	} else if (strcmp(line, "quit") == 0 && arg == NULL) {
		answer("ok quit");
		return 1;
	} else if (line[0] == '\0' && arg == NULL) {
		answer("error empty command");
	} else {
		answer("error unknown command '%s' (add, remove, uevent, property, quit)", line);
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: usbbed [--device FILE]... [--output FILE] [--] COMMAND [ARG]...\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *devices[MAX_DEVS];
	const char *output = NULL;
	char buf[LINE_MAX_LEN];
	size_t used = 0;
	sigset_t mask, oldmask;
	int ndevices = 0, ch, sfd, i, rc = 70, input_open = 1;

	/* "+": options end at COMMAND, whose own options are left alone */
	while ((ch = getopt_long(argc, argv, "+d:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			if (ndevices == MAX_DEVS) {
				fprintf(stderr, "usbbed: at most %d --device files\n", MAX_DEVS);
				return 64;
			}
			devices[ndevices++] = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 64;
		}
	}
	if (optind >= argc) {
		usage();
		return 64;
	}
	if (getenv("USBBED_PRELOADED") == NULL) {
		reexec_preloaded(argv);
		return 70;
	}
	signal(SIGPIPE, SIG_IGN);
	/* blocked before the testbed starts any thread, so that they all
	 * inherit the mask and the signals reach only the signalfd */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &oldmask);

	tb = umockdev_testbed_new();
	root = umockdev_testbed_get_root_dir(tb);
	for (i = 0; i < ndevices; i++) {
		struct devfile f;
		char err[512];

		if (add_file(devices[i], &f, err, sizeof(err)) != 0) {
			fprintf(stderr, "usbbed: %s\n", err);
			goto out;
		}
		answer("ok device %s", f.syspath[0]);
		devfile_clear(&f);
	}

	if ((sfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0) {
		fprintf(stderr, "usbbed: signalfd: %s\n", strerror(errno));
		goto out;
	}
	if ((child = spawn(argv + optind, output, &oldmask)) < 0)
		goto out;
	answer("ok started %d", (int)child);

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = 0, .events = POLLIN },
		};
		int status;

		if (poll(pfd, input_open ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "usbbed: poll: %s\n", strerror(errno));
			rc = stop_child();
			goto out;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si) &&
			    si.ssi_signo != SIGCHLD) {
				rc = stop_child();
				goto out;
			}
			if (waitpid(child, &status, WNOHANG) == child) {
				child = -1;
				rc = status_code(status);
				goto out;
			}
		}
		if (input_open && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(0, buf + used, sizeof(buf) - 1 - used);
			char *nl;

			if (n <= 0) {
				if (n < 0 && errno == EINTR)
					continue;
				input_open = 0;	/* end of input: quit */
				rc = stop_child();
				goto out;
			}
			used += (size_t)n;
			buf[used] = '\0';
			while ((nl = strchr(buf, '\n')) != NULL) {
				size_t len = (size_t)(nl - buf) + 1;

				*nl = '\0';
				if (handle_line(buf)) {
					rc = stop_child();
					goto out;
				}
				memmove(buf, buf + len, used - len + 1);
				used -= len;
			}
			if (used == sizeof(buf) - 1) {
				answer("error line longer than %d bytes", LINE_MAX_LEN - 1);
				used = 0;
			}
		}
	}
 out:
	if (child > 0)
		rc = stop_child();
	g_object_unref(tb);	/* removes the testbed's directory */
	g_free(root);
	return rc;
}
