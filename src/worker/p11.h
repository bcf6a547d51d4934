/* The worker's PKCS#11 layer: one module loaded into this process, the slot of
 * the bay's token, sessions, object search and attribute reads, and the one
 * place where CK_RV values become names and UKEY_ERR_* codes. */
#ifndef UKEY_P11_H
#define UKEY_P11_H

#include <stddef.h>
#include <stdint.h>

#include <pkcs11.h>

#include "common/secret.h"

/* Caps on what the worker reads from a token, so that a broken or hostile
 * module cannot make it allocate without bound or overflow a reply frame. */
#define P11_MAX_SLOTS 64
#define P11_MAX_OBJECTS 1024
#define P11_MAX_LABEL 256
#define P11_MAX_ID 256
#define P11_MAX_VALUE (64u * 1024)

struct p11 {
	void *dl;			/* dlopen handle of the module */
	CK_FUNCTION_LIST *f;		/* the module's function list (borrowed from it) */
	int initialized;		/* C_Initialize succeeded */
	int have_slot;			/* slot and serial below are valid */
	CK_SLOT_ID slot;
	char serial[17];		/* trimmed token serial; "" for a token without one */
	/* the first failure recorded during the current request */
	int err_rc;
	const char *err_ckr;		/* static CKR name, or NULL when not a PKCS#11 failure */
	char err_msg[512];
	/* PKCS#11 calls made through f since the module was loaded (P11F) */
	unsigned long calls;
	/* the token's user session kept across requests (p11_session_user):
	 * one session and one login per token, not one per step */
	CK_SESSION_HANDLE shared;	/* CK_INVALID_HANDLE when none */
	CK_SLOT_ID shared_slot;
	int shared_rw;
	struct secret shared_pin;	/* the PIN it logged in with */
	int no_share;			/* --session-per-request: nothing is kept */
};

/* Every call into the module goes through P11F(p)->C_...: it counts them. */
#define P11F(p) ((p)->calls++, (p)->f)

/* Loads the module at path and initialises it (C_Initialize with
 * CKF_OS_LOCKING_OK). Returns 0 or a UKEY_ERR_*; the failure is recorded in p.
 * p must be zeroed by the caller. Runs in the worker only. */
int p11_load(struct p11 *p, const char *path);

/* C_Finalize and unload; safe on a partly loaded or zeroed p. */
void p11_unload(struct p11 *p);

/* Returns the static symbolic name of rv ("CKR_PIN_INCORRECT"); never NULL. */
const char *p11_ckr_name(CK_RV rv);

/* Maps a CK_RV to the station's error code (0 for CKR_OK). */
int p11_rv_to_err(CK_RV rv);

/* Logs "call: CKR_NAME" and records it as the request's failure (if none was
 * recorded yet). Returns p11_rv_to_err(rv). */
int p11_fail_at(const char *func, struct p11 *p, const char *call, CK_RV rv);
#define p11_fail(p, call, rv) p11_fail_at(__func__, (p), (call), (rv))

/* Records a failure that is not a PKCS#11 return (bad input, a failed check),
 * logs it, and returns rc. The message must never hold a secret. */
int p11_error_at(const char *func, struct p11 *p, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define p11_error(p, rc, ...) p11_error_at(__func__, (p), (rc), __VA_ARGS__)

/* Forgets the recorded failure; called before each request. */
void p11_error_clear(struct p11 *p);

/* Copies a blank-padded PKCS#11 text field of n bytes into dst as a C string:
 * trailing blanks and NULs dropped, control bytes and invalid UTF-8 replaced
 * by '?', so that it is safe to put into JSON. */
void p11_text(char *dst, size_t dstsz, const unsigned char *src, size_t n);

/* Finds the first slot with a token present whose trimmed serial equals
 * serial (any token when serial is NULL or ""), and remembers it in p.
 * Returns 0, UKEY_ERR_REMOVED when no such token is present, or a UKEY_ERR_*. */
int p11_find_slot(struct p11 *p, const char *serial);

/* What tells the bay's token apart from the module's other tokens. */
struct p11_match {
	const char *reader_pattern;	/* fnmatch(3) on the slot description, or NULL */
	const char *reader;		/* slot description starts with it, or NULL */
	const char *usb_serial;		/* token serial equals it (or its last 16 chars), or NULL */
	const char *token_serial;	/* token serial equals it, or NULL */
	const char *const *exclude;	/* serials of tokens other bays hold */
	size_t n_exclude;
};

/* Finds the one slot with a token present that m allows and remembers it in
 * p. Returns 0; UKEY_ERR_REMOVED when none matches; UKEY_ERR_BUSY when more
 * than one does (the message names their serials): the station never
 * guesses between two tokens. *ncand gets the number of candidates. */
int p11_select_slot(struct p11 *p, const struct p11_match *m, size_t *ncand);

/* Releases and re-enumerates the module's slots (C_Finalize, C_Initialize):
 * the safe way to see tokens that arrived after the module was loaded. */
int p11_rescan(struct p11 *p);

/* Makes sure the remembered slot still holds the remembered token, finding it
 * again by serial if the module moved or dropped the slot; finds the first
 * token when nothing is remembered yet. Fills *ti when ti is not NULL. */
int p11_ensure_slot(struct p11 *p, CK_TOKEN_INFO *ti);

/* Opens a session on the bay's slot (read/write when rw), logging in as
 * `who` when pin is not NULL. On failure nothing stays open. The kept user
 * session is dropped first: a login is the application's, not the session's,
 * so a logout here would end it too. */
int p11_session_open(struct p11 *p, int rw, CK_USER_TYPE who, const struct secret *pin,
    CK_SESSION_HANDLE *s);

/* A user session on the bay's slot logged in with pin, read/write when rw:
 * the one kept from an earlier request when it is on the same slot, logged in
 * with the same PIN and writable if rw is asked; otherwise the kept one is
 * closed and a new one opened and kept. Release it with p11_session_release. */
int p11_session_user(struct p11 *p, int rw, const struct secret *pin, CK_SESSION_HANDLE *s);

/* Ends a request's use of s from p11_session_user: kept for the next request
 * when keep, else logged out and closed (p11_session_drop). */
void p11_session_release(struct p11 *p, CK_SESSION_HANDLE s, int keep);

/* Logs out and closes the kept user session, if any. Called before anything
 * that needs no other session open (C_InitToken), another login (SO, a PIN
 * check) or another token (probe). */
void p11_session_drop(struct p11 *p);

/* Logs out (when logged_in) and closes s; failures are only logged. */
void p11_session_close(struct p11 *p, CK_SESSION_HANDLE s, int logged_in);

/* Finds up to max objects matching tmpl; *count gets how many were found. */
int p11_find(struct p11 *p, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG ntmpl,
    CK_OBJECT_HANDLE *out, size_t max, size_t *count);

/* Finds the first object of class cls whose CKA_ID is id; UKEY_ERR_NOTFOUND
 * (not recorded as a failure) when there is none. */
int p11_find_by_id(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const uint8_t *id,
    size_t idlen, CK_OBJECT_HANDLE *out);

/* Reads attribute t of o into a malloc'd buffer (NUL-terminated, *len bytes
 * without the NUL), which the caller frees. Returns UKEY_ERR_NOTFOUND without
 * recording a failure when the attribute is absent, sensitive or unreadable,
 * UKEY_ERR_INVAL when it is longer than max. */
int p11_get_attr(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
    size_t max, uint8_t **out, size_t *len);

/* Reads a CK_BBOOL attribute as 0/1; UKEY_ERR_NOTFOUND when unreadable. */
int p11_get_bool(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
    int *val);

/* Reads n (at most P11_MAX_BOOLS) CK_BBOOL attributes of o in one call:
 * vals[i] 0/1, readable[i] 0 when the module will not show types[i]. When
 * the call as a whole fails (one unreadable attribute may spoil it), each is
 * read on its own as p11_get_bool does. Returns 0 or a UKEY_ERR_*. */
#define P11_MAX_BOOLS 16
int p11_get_bools(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
    const CK_ATTRIBUTE_TYPE *types, size_t n, int *vals, int *readable);

/* Reads a CK_ULONG attribute; UKEY_ERR_NOTFOUND when unreadable. */
int p11_get_ulong(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
    CK_ULONG *val);

#endif
