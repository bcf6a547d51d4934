/* Virtual tokens on SoftHSM2: one directory, one config file, one token. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/secret.h"
#include "drivers/softhsm.h"

int
softhsm_token_conf(const char *dir, char *conf, size_t conflen)
{
	snprintf(conf, conflen, "%s/softhsm2.conf", dir);
	return access(conf, R_OK) == 0 ? 0 : UKEY_ERR_NOTFOUND;
}

/* Runs softhsm2-util to initialise the token as a foreign party would. The
 * PINs are thrown away: the station must treat this token as not its own. */
static int
init_foreign(const char *conf)
{
	struct secret so = { 0 }, user = { 0 };
	pid_t pid;
	int status = 0, rc;

	if ((rc = secret_random_digits(&so, 12)) != 0 || (rc = secret_random_digits(&user, 8)) != 0)
		goto out;
	if ((pid = fork()) < 0) {
		rc = UKEY_ERR_IO;
		goto out;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			close(null);
		}
		setenv("SOFTHSM2_CONF", conf, 1);
		execlp("softhsm2-util", "softhsm2-util", "--init-token", "--free", "--label",
		    "used elsewhere", "--so-pin", (char *)so.p, "--pin", (char *)user.p, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_error("softhsm2-util --init-token failed (status %d)", status);
		rc = UKEY_ERR_IO;
		goto out;
	}
	rc = 0;
 out:
	secret_clear(&so);
	secret_clear(&user);
	return rc;
}

int
softhsm_token_create(const char *dir, const char *preset, char *conf, size_t conflen)
{
	char store[1024];
	FILE *f;

	if (preset == NULL)
		preset = "blank";
	if (strcmp(preset, "blank") != 0 && strcmp(preset, "initialised") != 0)
		return UKEY_ERR_INVAL;
	snprintf(store, sizeof(store), "%s/store", dir);
	if ((mkdir(dir, 0700) != 0 && errno != EEXIST) || (mkdir(store, 0700) != 0 && errno != EEXIST)) {
		log_error("mkdir %s: %s", store, strerror(errno));
		return UKEY_ERR_IO;
	}
	snprintf(conf, conflen, "%s/softhsm2.conf", dir);
	if ((f = fopen(conf, "w")) == NULL) {
		log_error("create %s: %s", conf, strerror(errno));
		return UKEY_ERR_IO;
	}
	fprintf(f, "# virtual token for a simulated bay\n"
	    "directories.tokendir = %s\n"
	    "objectstore.backend = file\n"
	    "log.level = ERROR\n"
	    "slots.removable = true\n", store);
	if (fclose(f) != 0)
		return UKEY_ERR_IO;
	if (strcmp(preset, "initialised") == 0)
		return init_foreign(conf);
	return 0;
}
