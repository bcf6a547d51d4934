/* Station-wide error codes: 0 or a negative UKEY_ERR_*; ukey_strerror() names them. */
#ifndef UKEY_ERR_H
#define UKEY_ERR_H

enum ukey_err {
	UKEY_OK = 0,
	UKEY_ERR_NOMEM = -1,		/* out of memory */
	UKEY_ERR_INVAL = -2,		/* bad input: a field breaks a rule */
	UKEY_ERR_IO = -3,		/* file or socket I/O failed */
	UKEY_ERR_DB = -4,		/* the database refused */
	UKEY_ERR_CRYPTO = -5,		/* an OpenSSL operation failed */
	UKEY_ERR_P11 = -6,		/* a PKCS#11 call failed */
	UKEY_ERR_NOTFOUND = -7,		/* no such order, unit, bay, ... */
	UKEY_ERR_STATE = -8,		/* not allowed in the current state */
	UKEY_ERR_PERM = -9,		/* the caller's role does not allow it */
	UKEY_ERR_TIMEOUT = -10,		/* an operation took longer than allowed */
	UKEY_ERR_REMOVED = -11,		/* the token left its bay */
	UKEY_ERR_NOTBLANK = -12,	/* the token is initialised or holds objects */
	UKEY_ERR_PIN = -13,		/* PIN wrong, locked or refused by policy */
	UKEY_ERR_PROTO = -14,		/* malformed or oversize message */
	UKEY_ERR_CA = -15,		/* the CA refused or is unreachable */
	UKEY_ERR_VERIFY = -16,		/* a certificate or key check failed */
	UKEY_ERR_EXISTS = -17,		/* duplicate: already there */
	UKEY_ERR_UNSUPPORTED = -18,	/* the token or profile cannot do it */
	UKEY_ERR_BUSY = -19,		/* the bay or job is busy */
	UKEY_ERR_UNAVAIL = -20,		/* a service (daemon, CA) is not reachable */
	UKEY_ERR_CRASH = -21,		/* a worker process died */
	UKEY_ERR_MAX_ = -22
};

/* Returns a static, lower-case description of rc; never NULL. */
const char *ukey_strerror(int rc);

/* Returns the stable symbolic name of rc ("invalid", "not-found", ...),
 * used in socket replies so that scripts can match on it. */
const char *ukey_errname(int rc);

/* Maps a symbolic name back to its code, UKEY_ERR_PROTO when unknown. */
int ukey_errcode(const char *name);

#endif
