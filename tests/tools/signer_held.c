/* signer_held: ukey-signer that SIGKILL does not end at once, for
 * test_cmp_p11. A helper whose token's module holds it in the kernel ends
 * only when that call returns; this stands in for one. It runs the real
 * ukey-signer ($UKEY_SIGNER, with this program's arguments) under a tracer
 * that stops it at its exit (PTRACE_O_TRACEEXIT, which SIGKILL passes
 * through too) and lets it go $UKEY_TEST_HOLD_MS later (1500 by default).
 *
 * The pid the station knows is this program's, then the real helper's: the
 * tracer is a child of ours, allowed to trace its parent (Yama's
 * PR_SET_PTRACER). Before the exec it writes "held\n", or "not held: why\n"
 * where the kernel refused the trace, to $UKEY_TEST_HELD_STATUS; the test
 * skips on the latter. Never installed. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void
status(const char *text)
{
	const char *p = getenv("UKEY_TEST_HELD_STATUS");
	FILE *fp;

	if (p == NULL || (fp = fopen(p, "w")) == NULL)
		return;
	fputs(text, fp);
	fclose(fp);
}

static void
sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
}

/* The tracer: attach to the helper, say whether that worked on answer,
 * then pass its signals on and hold it hold_ms at its exit. */
static void
trace(pid_t helper, long hold_ms, int go, int answer)
{
	char c, why[160];
	int st, fd;

	for (fd = 3; fd < 1024; fd++)	/* not the helper's channel */
		if (fd != go && fd != answer)
			(void)close(fd);
	if (read(go, &c, 1) != 1)
		_exit(1);
	if (ptrace(PTRACE_SEIZE, helper, NULL, (void *)(long)PTRACE_O_TRACEEXIT) != 0) {
		snprintf(why, sizeof(why), "not held: ptrace(PTRACE_SEIZE): %s\n",
		    strerror(errno));
		status(why);
		_exit(write(answer, "n", 1) == 1 ? 0 : 1);
	}
	status("held\n");
	if (write(answer, "y", 1) != 1)
		_exit(1);
	for (;;) {
		if (waitpid(helper, &st, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			_exit(0);
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			_exit(0);
		if (!WIFSTOPPED(st))
			continue;
		if (st >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
			sleep_ms(hold_ms);
			(void)ptrace(PTRACE_CONT, helper, NULL, NULL);
		} else if (st >> 16 != 0) {
			(void)ptrace(PTRACE_CONT, helper, NULL, NULL);	/* other events */
		} else {
			(void)ptrace(PTRACE_CONT, helper, NULL, (void *)(long)WSTOPSIG(st));
		}
	}
}

int
main(int argc, char **argv)
{
	const char *real = getenv("UKEY_SIGNER"), *hold = getenv("UKEY_TEST_HOLD_MS");
	long hold_ms = hold != NULL ? strtol(hold, NULL, 10) : 1500;
	int go[2], answer[2];
	pid_t tracer, self = getpid();
	char c;

	(void)argc;
	if (real == NULL) {
		fprintf(stderr, "signer_held: UKEY_SIGNER is not set\n");
		return 127;
	}
	if (pipe(go) != 0 || pipe(answer) != 0 || (tracer = fork()) < 0) {
		perror("signer_held");
		return 127;
	}
	if (tracer == 0) {
		close(go[1]);
		close(answer[0]);
		trace(self, hold_ms, go[0], answer[1]);
	}
	close(go[0]);
	close(answer[1]);
	(void)prctl(PR_SET_PTRACER, tracer, 0, 0, 0);	/* EINVAL without Yama */
	/* the answer only orders the trace before the exec: where the kernel
	 * refused it, the tracer has ended and the helper runs untraced */
	if (write(go[1], "g", 1) == 1 && read(answer[0], &c, 1) == 1) {
		/* traced, or said why not in the status file */
	}
	close(go[1]);
	close(answer[0]);
	execv(real, argv);
	perror(real);
	return 127;
}
