/* An LD_PRELOAD shim for the benchmarks, never installed: counts the
 * fsync() and fdatasync() calls of the process it is loaded into (SQLite's
 * commits in ukeyd) and writes the running count, as one decimal line, to
 * the file named by UKEY_FSYNC_COUNT_FILE after each. It takes both
 * variables out of the environment at start, so that the processes ukeyd
 * starts (workers) are not counted. */
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
	char line[32];
	int fd, n;

	__atomic_add_fetch(&count, 1, __ATOMIC_SEQ_CST);
	if (count_path[0] == '\0')
		return;
	n = snprintf(line, sizeof(line), "%lu\n", __atomic_load_n(&count, __ATOMIC_SEQ_CST));
	if ((fd = open(count_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return;
	if (write(fd, line, (size_t)n) != n)
		(void)0;	/* a lost figure only: the benchmark reports what it read */
	close(fd);
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
