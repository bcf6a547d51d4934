/* An LD_PRELOAD shim for the benchmarks, never installed: counts the
 * fsync() and fdatasync() calls of the process it is loaded into (SQLite's
 * commits in ukeyd) and writes the running count, as one decimal line, to
 * the file named by UKEY_FSYNC_COUNT_FILE after each. It takes both
 * variables out of the environment at start, so that the processes ukeyd
 * starts (workers) are not counted. The file is opened once and the count
 * written over itself, right-aligned in a line of fixed width: a file
 * truncated and written again at every fsync costs ext4 a flush of its own
 * when it is closed (auto_da_alloc), which the benchmark would then have
 * counted as the station's time. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char count_path[512];
static unsigned long count;

__attribute__((constructor)) static void
fsynccount_init(void)
{
	const char *p = getenv("UKEY_FSYNC_COUNT_FILE");

	if (p != NULL)
		snprintf(count_path, sizeof(count_path), "%s", p);
	unsetenv("UKEY_FSYNC_COUNT_FILE");
	unsetenv("LD_PRELOAD");
}

static void
note(void)
{
	static int fd = -1;
	char line[32];
	unsigned long n = __atomic_add_fetch(&count, 1, __ATOMIC_SEQ_CST);
	int len;

	if (count_path[0] == '\0')
		return;
	/* two threads may open it at once: one keeps its descriptor */
	if (__atomic_load_n(&fd, __ATOMIC_SEQ_CST) < 0) {
		int nfd = open(count_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600), none = -1;

		if (nfd < 0)
			return;
		if (!__atomic_compare_exchange_n(&fd, &none, nfd, 0, __ATOMIC_SEQ_CST,
		    __ATOMIC_SEQ_CST))
			close(nfd);
	}
	len = snprintf(line, sizeof(line), "%20lu\n", n);
	if (pwrite(__atomic_load_n(&fd, __ATOMIC_SEQ_CST), line, (size_t)len, 0) != len)
		(void)0;	/* a lost figure only: the benchmark reports what it read */
}

int
fsync(int fd)
{
	int (*real)(int);

	*(void **)&real = dlsym(RTLD_NEXT, "fsync");
	note();
	return real(fd);
}

int
fdatasync(int fd)
{
	int (*real)(int);

	*(void **)&real = dlsym(RTLD_NEXT, "fdatasync");
	note();
	return real(fd);
}
