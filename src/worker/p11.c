/* The worker's PKCS#11 layer. The module is driven through its
 * CK_FUNCTION_LIST directly rather than through libp11: libp11 0.4.12 cannot
 * generate EC keys, cannot set CKA_EXTRACTABLE or read CKA_LOCAL, and its slot
 * refresh crashes when a module reports two slots (SoftHSM2 always does). */
#include <dlfcn.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"
#include "worker/p11.h"

#define CKR(x) { x, #x }
static const struct {
	CK_RV rv;
	const char *name;
} ckr_table[] = {
	CKR(CKR_OK), CKR(CKR_CANCEL), CKR(CKR_HOST_MEMORY), CKR(CKR_SLOT_ID_INVALID),
	CKR(CKR_GENERAL_ERROR), CKR(CKR_FUNCTION_FAILED), CKR(CKR_ARGUMENTS_BAD),
	CKR(CKR_NO_EVENT), CKR(CKR_NEED_TO_CREATE_THREADS), CKR(CKR_CANT_LOCK),
	CKR(CKR_ATTRIBUTE_READ_ONLY), CKR(CKR_ATTRIBUTE_SENSITIVE),
	CKR(CKR_ATTRIBUTE_TYPE_INVALID), CKR(CKR_ATTRIBUTE_VALUE_INVALID),
	CKR(CKR_ACTION_PROHIBITED), CKR(CKR_DATA_INVALID), CKR(CKR_DATA_LEN_RANGE),
	CKR(CKR_DEVICE_ERROR), CKR(CKR_DEVICE_MEMORY), CKR(CKR_DEVICE_REMOVED),
	CKR(CKR_ENCRYPTED_DATA_INVALID), CKR(CKR_ENCRYPTED_DATA_LEN_RANGE),
	CKR(CKR_FUNCTION_CANCELED), CKR(CKR_FUNCTION_NOT_PARALLEL),
	CKR(CKR_FUNCTION_NOT_SUPPORTED), CKR(CKR_KEY_HANDLE_INVALID), CKR(CKR_KEY_SIZE_RANGE),
	CKR(CKR_KEY_TYPE_INCONSISTENT), CKR(CKR_KEY_NOT_NEEDED), CKR(CKR_KEY_CHANGED),
	CKR(CKR_KEY_NEEDED), CKR(CKR_KEY_INDIGESTIBLE), CKR(CKR_KEY_FUNCTION_NOT_PERMITTED),
	CKR(CKR_KEY_NOT_WRAPPABLE), CKR(CKR_KEY_UNEXTRACTABLE), CKR(CKR_MECHANISM_INVALID),
	CKR(CKR_MECHANISM_PARAM_INVALID), CKR(CKR_OBJECT_HANDLE_INVALID),
	CKR(CKR_OPERATION_ACTIVE), CKR(CKR_OPERATION_NOT_INITIALIZED), CKR(CKR_PIN_INCORRECT),
	CKR(CKR_PIN_INVALID), CKR(CKR_PIN_LEN_RANGE), CKR(CKR_PIN_EXPIRED), CKR(CKR_PIN_LOCKED),
	CKR(CKR_SESSION_CLOSED), CKR(CKR_SESSION_COUNT), CKR(CKR_SESSION_HANDLE_INVALID),
	CKR(CKR_SESSION_PARALLEL_NOT_SUPPORTED), CKR(CKR_SESSION_READ_ONLY),
	CKR(CKR_SESSION_EXISTS), CKR(CKR_SESSION_READ_ONLY_EXISTS),
	CKR(CKR_SESSION_READ_WRITE_SO_EXISTS), CKR(CKR_SIGNATURE_INVALID),
	CKR(CKR_SIGNATURE_LEN_RANGE), CKR(CKR_TEMPLATE_INCOMPLETE),
	CKR(CKR_TEMPLATE_INCONSISTENT), CKR(CKR_TOKEN_NOT_PRESENT),
	CKR(CKR_TOKEN_NOT_RECOGNIZED), CKR(CKR_TOKEN_WRITE_PROTECTED),
	CKR(CKR_UNWRAPPING_KEY_HANDLE_INVALID), CKR(CKR_UNWRAPPING_KEY_SIZE_RANGE),
	CKR(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT), CKR(CKR_USER_ALREADY_LOGGED_IN),
	CKR(CKR_USER_NOT_LOGGED_IN), CKR(CKR_USER_PIN_NOT_INITIALIZED),
	CKR(CKR_USER_TYPE_INVALID), CKR(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
	CKR(CKR_USER_TOO_MANY_TYPES), CKR(CKR_WRAPPED_KEY_INVALID),
	CKR(CKR_WRAPPED_KEY_LEN_RANGE), CKR(CKR_WRAPPING_KEY_HANDLE_INVALID),
	CKR(CKR_WRAPPING_KEY_SIZE_RANGE), CKR(CKR_WRAPPING_KEY_TYPE_INCONSISTENT),
	CKR(CKR_RANDOM_SEED_NOT_SUPPORTED), CKR(CKR_RANDOM_NO_RNG),
	CKR(CKR_DOMAIN_PARAMS_INVALID), CKR(CKR_CURVE_NOT_SUPPORTED), CKR(CKR_BUFFER_TOO_SMALL),
	CKR(CKR_SAVED_STATE_INVALID), CKR(CKR_INFORMATION_SENSITIVE), CKR(CKR_STATE_UNSAVEABLE),
	CKR(CKR_CRYPTOKI_NOT_INITIALIZED), CKR(CKR_CRYPTOKI_ALREADY_INITIALIZED),
	CKR(CKR_MUTEX_BAD), CKR(CKR_MUTEX_NOT_LOCKED), CKR(CKR_NEW_PIN_MODE), CKR(CKR_NEXT_OTP),
	CKR(CKR_EXCEEDED_MAX_ITERATIONS), CKR(CKR_FIPS_SELF_TEST_FAILED),
	CKR(CKR_LIBRARY_LOAD_FAILED), CKR(CKR_PIN_TOO_WEAK), CKR(CKR_PUBLIC_KEY_INVALID),
	CKR(CKR_FUNCTION_REJECTED),
};
#undef CKR

const char *
p11_ckr_name(CK_RV rv)
{
	size_t i;

	for (i = 0; i < sizeof(ckr_table) / sizeof(ckr_table[0]); i++)
		if (ckr_table[i].rv == rv)
			return ckr_table[i].name;
	return rv & CKR_VENDOR_DEFINED ? "CKR_VENDOR_DEFINED" : "CKR_UNKNOWN";
}

int
p11_rv_to_err(CK_RV rv)
{
	switch (rv) {
	case CKR_OK:
		return 0;
	case CKR_HOST_MEMORY:
		return UKEY_ERR_NOMEM;
	/* a token pulled mid-operation shows up as any of these, depending on
	 * the module and on how far the call got */
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_DEVICE_ERROR:
	case CKR_SLOT_ID_INVALID:
	case CKR_SESSION_CLOSED:
		return UKEY_ERR_REMOVED;
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
	case CKR_PIN_EXPIRED:
	case CKR_PIN_LOCKED:
	case CKR_PIN_TOO_WEAK:
	case CKR_USER_PIN_NOT_INITIALIZED:
		return UKEY_ERR_PIN;
	case CKR_MECHANISM_INVALID:
	case CKR_MECHANISM_PARAM_INVALID:
	case CKR_FUNCTION_NOT_SUPPORTED:
	case CKR_KEY_SIZE_RANGE:
	case CKR_CURVE_NOT_SUPPORTED:
	case CKR_DOMAIN_PARAMS_INVALID:
	case CKR_TOKEN_NOT_RECOGNIZED:
		return UKEY_ERR_UNSUPPORTED;
	case CKR_TOKEN_WRITE_PROTECTED:
	case CKR_ACTION_PROHIBITED:
	case CKR_KEY_FUNCTION_NOT_PERMITTED:
		return UKEY_ERR_PERM;
	case CKR_SESSION_EXISTS:
	case CKR_SESSION_READ_WRITE_SO_EXISTS:
	case CKR_SESSION_COUNT:
	case CKR_USER_ANOTHER_ALREADY_LOGGED_IN:
	case CKR_OPERATION_ACTIVE:
		return UKEY_ERR_BUSY;
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_CRYPTOKI_NOT_INITIALIZED:
		return UKEY_ERR_STATE;
	case CKR_ARGUMENTS_BAD:
	case CKR_ATTRIBUTE_READ_ONLY:
	case CKR_ATTRIBUTE_TYPE_INVALID:
	case CKR_ATTRIBUTE_VALUE_INVALID:
	case CKR_TEMPLATE_INCOMPLETE:
	case CKR_TEMPLATE_INCONSISTENT:
	case CKR_DATA_INVALID:
	case CKR_DATA_LEN_RANGE:
		return UKEY_ERR_INVAL;
	case CKR_DEVICE_MEMORY:
	default:
		return UKEY_ERR_P11;
	}
}

int
p11_fail_at(const char *func, struct p11 *p, const char *call, CK_RV rv)
{
	const char *name = p11_ckr_name(rv);

	log_msg(LOG_LVL_ERROR, func, "%s: %s (0x%lx)", call, name, (unsigned long)rv);
	if (p->err_rc == 0) {
		p->err_rc = p11_rv_to_err(rv);
		p->err_ckr = name;
		snprintf(p->err_msg, sizeof(p->err_msg), "%s: %s", call, name);
	}
	return p11_rv_to_err(rv);
}

int
p11_error_at(const char *func, struct p11 *p, int rc, const char *fmt, ...)
{
	char msg[sizeof(p->err_msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(LOG_LVL_ERROR, func, "%s", msg);
	if (p->err_rc == 0) {
		p->err_rc = rc;
		p->err_ckr = NULL;
		memcpy(p->err_msg, msg, sizeof(msg));
	}
	return rc;
}

void
p11_error_clear(struct p11 *p)
{
	p->err_rc = 0;
	p->err_ckr = NULL;
	p->err_msg[0] = '\0';
}

void
p11_text(char *dst, size_t dstsz, const unsigned char *src, size_t n)
{
	size_t i = 0, o = 0;

	if (dstsz == 0)
		return;
	while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\0'))
		n--;
	while (i < n && o + 1 < dstsz) {
		size_t k = utf8_decode((const char *)src + i, n - i, NULL);

		if (k == 0 || (k == 1 && (src[i] < 0x20 || src[i] == 0x7f))) {
			dst[o++] = '?';
			i++;
			continue;
		}
		if (o + k >= dstsz)
			break;		/* never cut a character in half */
		memcpy(dst + o, src + i, k);
		o += k;
		i += k;
	}
	dst[o] = '\0';
}

int
p11_load(struct p11 *p, const char *path)
{
	CK_C_GetFunctionList getfl;
	CK_C_INITIALIZE_ARGS args;
	CK_RV rv;

	if ((p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return p11_error(p, UKEY_ERR_UNSUPPORTED, "cannot load module %s: %s", path,
		    dlerror());
	*(void **)&getfl = dlsym(p->dl, "C_GetFunctionList");
	if (getfl == NULL)
		return p11_error(p, UKEY_ERR_UNSUPPORTED, "module %s has no C_GetFunctionList",
		    path);
	p->calls++;
	if ((rv = getfl(&p->f)) != CKR_OK || p->f == NULL) {
		p->f = NULL;
		return p11_fail(p, "C_GetFunctionList", rv != CKR_OK ? rv : CKR_GENERAL_ERROR);
	}
	memset(&args, 0, sizeof(args));
	/* the worker is single-threaded, but a module may start threads of its own */
	args.flags = CKF_OS_LOCKING_OK;
	rv = P11F(p)->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
		return p11_fail(p, "C_Initialize", rv);
	p->initialized = 1;
	return 0;
}

void
p11_unload(struct p11 *p)
{
	CK_RV rv;

	p11_session_drop(p);
	if (p->initialized && (rv = P11F(p)->C_Finalize(NULL)) != CKR_OK)
		log_warn("C_Finalize: %s", p11_ckr_name(rv));
	p->initialized = 0;
	p->f = NULL;
	/* The module is deliberately not dlclose()d: some modules (SoftHSM2
	 * among them) run destructors that touch already-freed OpenSSL state,
	 * and the process is about to exit anyway. */
	p->dl = NULL;
	p->have_slot = 0;
}

/* Lists up to P11_MAX_SLOTS slots with a token present into slots; *n gets
 * how many. The first call asks for the count, so that a module with more
 * slots than kept answers CKR_BUFFER_TOO_SMALL rather than a partial list. */
static int
present_slots(struct p11 *p, CK_SLOT_ID *slots, CK_ULONG *n)
{
	CK_RV rv;

	*n = 0;
	if ((rv = P11F(p)->C_GetSlotList(CK_TRUE, NULL, n)) != CKR_OK)
		return p11_fail(p, "C_GetSlotList", rv);
	if (*n > P11_MAX_SLOTS)
		*n = P11_MAX_SLOTS;
	if (*n > 0 && (rv = P11F(p)->C_GetSlotList(CK_TRUE, slots, n)) != CKR_OK &&
	    rv != CKR_BUFFER_TOO_SMALL)
		return p11_fail(p, "C_GetSlotList", rv);
	if (*n > P11_MAX_SLOTS)
		*n = P11_MAX_SLOTS;
	return 0;
}

int
p11_rescan(struct p11 *p)
{
	CK_C_INITIALIZE_ARGS args;
	CK_RV rv;

	/* C_Finalize closes every session: the kept one is only forgotten */
	p->shared = CK_INVALID_HANDLE;
	secret_clear(&p->shared_pin);
	if (p->initialized && (rv = P11F(p)->C_Finalize(NULL)) != CKR_OK)
		log_warn("C_Finalize: %s", p11_ckr_name(rv));
	p->initialized = 0;
	p->have_slot = 0;
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = P11F(p)->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
		return p11_fail(p, "C_Initialize", rv);
	p->initialized = 1;
	return 0;
}

static int
serial_matches(const char *token, const char *usb)
{
	size_t tl = strlen(token), ul = strlen(usb);

	/* CK_TOKEN_INFO.serialNumber holds 16 characters: a longer USB serial
	 * shows up as its last 16 */
	if (tl == 0)
		return 0;
	if (ul > tl && tl == 16)
		return strcmp(usb + ul - tl, token) == 0;
	return strcmp(token, usb) == 0;
}

int
p11_select_slot(struct p11 *p, const struct p11_match *m, size_t *ncand)
{
	CK_SLOT_ID slots[P11_MAX_SLOTS], pick = 0;
	char pick_serial[sizeof(p->serial)] = "", seen[256] = "";
	CK_ULONG n = 0, i;
	size_t k, cand = 0, used = 0;
	int rc;

	*ncand = 0;
	if ((rc = present_slots(p, slots, &n)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		CK_SLOT_INFO si;
		CK_TOKEN_INFO ti;
		char desc[4 * 64 + 1], ser[sizeof(p->serial)];
		int excluded = 0;

		memset(&si, 0, sizeof(si));
		memset(&ti, 0, sizeof(ti));
		if (P11F(p)->C_GetSlotInfo(slots[i], &si) != CKR_OK ||
		    P11F(p)->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;	/* left between the calls */
		p11_text(desc, sizeof(desc), si.slotDescription, sizeof(si.slotDescription));
		p11_text(ser, sizeof(ser), ti.serialNumber, sizeof(ti.serialNumber));
		if (m->reader_pattern && fnmatch(m->reader_pattern, desc, 0) != 0)
			continue;
		if (m->reader && strncmp(desc, m->reader, strlen(m->reader)) != 0)
			continue;
		if (m->usb_serial && !serial_matches(ser, m->usb_serial))
			continue;
		if (m->token_serial && strcmp(ser, m->token_serial) != 0)
			continue;
		for (k = 0; k < m->n_exclude; k++)
			if (ser[0] && strcmp(ser, m->exclude[k]) == 0)
				excluded = 1;
		if (excluded)
			continue;
		if (cand++ == 0) {
			pick = slots[i];
			memcpy(pick_serial, ser, sizeof(pick_serial));
		}
		if (used < sizeof(seen) - 24) {
			int w = snprintf(seen + used, sizeof(seen) - used, "%s'%s' (slot %lu)",
			    used ? ", " : "", ser, (unsigned long)slots[i]);

			if (w > 0)
				used += (size_t)w;
		}
	}
	*ncand = cand;
	p->have_slot = 0;
	if (cand == 0)
		return p11_error(p, UKEY_ERR_REMOVED, "no slot holds a token that matches this bay");
	if (cand > 1)
		return p11_error(p, UKEY_ERR_BUSY, "%zu tokens match this bay: %s; not choosing",
		    cand, seen);
	p->slot = pick;
	memcpy(p->serial, pick_serial, sizeof(p->serial));
	p->have_slot = 1;
	log_debug("token serial '%s' in slot %lu", p->serial, (unsigned long)pick);
	return 0;
}

int
p11_find_slot(struct p11 *p, const char *serial)
{
	CK_SLOT_ID slots[P11_MAX_SLOTS];
	CK_ULONG n = 0, i;
	CK_RV rv;
	int rc;

	if ((rc = present_slots(p, slots, &n)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		char ser[sizeof(p->serial)];

		memset(&ti, 0, sizeof(ti));
		if ((rv = P11F(p)->C_GetTokenInfo(slots[i], &ti)) != CKR_OK) {
			/* the token may have left between the two calls */
			log_warn("C_GetTokenInfo (slot %lu): %s", (unsigned long)slots[i],
			    p11_ckr_name(rv));
			continue;
		}
		p11_text(ser, sizeof(ser), ti.serialNumber, sizeof(ti.serialNumber));
		if (serial != NULL && serial[0] != '\0' && strcmp(ser, serial) != 0)
			continue;
		p->slot = slots[i];
		memcpy(p->serial, ser, sizeof(p->serial));
		p->have_slot = 1;
		log_debug("token serial '%s' in slot %lu", ser, (unsigned long)slots[i]);
		return 0;
	}
	p->have_slot = 0;
	if (serial != NULL && serial[0] != '\0')
		return p11_error(p, UKEY_ERR_REMOVED, "no token with serial '%s' is present",
		    serial);
	return p11_error(p, UKEY_ERR_REMOVED, "no token is present");
}

int
p11_ensure_slot(struct p11 *p, CK_TOKEN_INFO *ti)
{
	CK_TOKEN_INFO tmp;
	CK_RV rv;
	int rc;

	if (ti == NULL)
		ti = &tmp;
	memset(ti, 0, sizeof(*ti));
	if (p->have_slot) {
		char ser[sizeof(p->serial)];

		rv = P11F(p)->C_GetTokenInfo(p->slot, ti);
		if (rv == CKR_OK) {
			p11_text(ser, sizeof(ser), ti->serialNumber, sizeof(ti->serialNumber));
			if (strcmp(ser, p->serial) == 0)
				return 0;
		} else if (p11_rv_to_err(rv) != UKEY_ERR_REMOVED) {
			return p11_fail(p, "C_GetTokenInfo", rv);
		}
		log_info("token '%s' is no longer in slot %lu, looking for it again", p->serial,
		    (unsigned long)p->slot);
	}
	if ((rc = p11_find_slot(p, p->have_slot ? p->serial : NULL)) != 0)
		return rc;
	memset(ti, 0, sizeof(*ti));
	if ((rv = P11F(p)->C_GetTokenInfo(p->slot, ti)) != CKR_OK)
		return p11_fail(p, "C_GetTokenInfo", rv);
	return 0;
}

int
p11_session_open(struct p11 *p, int rw, CK_USER_TYPE who, const struct secret *pin,
    CK_SESSION_HANDLE *s)
{
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
	CK_RV rv;
	int rc;

	*s = CK_INVALID_HANDLE;
	p11_session_drop(p);
	if ((rc = p11_ensure_slot(p, NULL)) != 0)
		return rc;
	if ((rv = P11F(p)->C_OpenSession(p->slot, flags, NULL, NULL, &h)) != CKR_OK)
		return p11_fail(p, "C_OpenSession", rv);
	if (pin != NULL) {
		rv = P11F(p)->C_Login(h, who, pin->p, (CK_ULONG)pin->len);
		/* another session of this process may still be logged in */
		if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
			rc = p11_fail(p, who == CKU_SO ? "C_Login(SO)" : "C_Login", rv);
			p11_session_close(p, h, 0);
			return rc;
		}
	}
	*s = h;
	return 0;
}

void
p11_session_close(struct p11 *p, CK_SESSION_HANDLE s, int logged_in)
{
	CK_RV rv;

	if (s == CK_INVALID_HANDLE)
		return;
	if (logged_in && (rv = P11F(p)->C_Logout(s)) != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN)
		log_warn("C_Logout: %s", p11_ckr_name(rv));
	if ((rv = P11F(p)->C_CloseSession(s)) != CKR_OK)
		log_warn("C_CloseSession: %s", p11_ckr_name(rv));
}

static int
same_pin(const struct secret *a, const struct secret *b)
{
	unsigned char d = 0;
	size_t i;

	if (a->p == NULL || b->p == NULL || a->len != b->len)
		return 0;
	for (i = 0; i < a->len; i++)
		d |= (unsigned char)(a->p[i] ^ b->p[i]);
	return d == 0;
}

int
p11_session_user(struct p11 *p, int rw, const struct secret *pin, CK_SESSION_HANDLE *s)
{
	int rc;

	*s = CK_INVALID_HANDLE;
	if (p->no_share)
		return p11_session_open(p, rw, CKU_USER, pin, s);
	if ((rc = p11_ensure_slot(p, NULL)) != 0) {
		p11_session_drop(p);
		return rc;
	}
	if (p->shared != CK_INVALID_HANDLE && p->shared_slot == p->slot &&
	    (p->shared_rw || !rw) && same_pin(&p->shared_pin, pin)) {
		*s = p->shared;
		return 0;
	}
	if ((rc = p11_session_open(p, rw, CKU_USER, pin, s)) != 0)
		return rc;
	if ((rc = secret_set(&p->shared_pin, pin->p, pin->len)) != 0) {
		p11_session_close(p, *s, 1);
		*s = CK_INVALID_HANDLE;
		return rc;
	}
	p->shared = *s;
	p->shared_slot = p->slot;
	p->shared_rw = rw;
	return 0;
}

void
p11_session_release(struct p11 *p, CK_SESSION_HANDLE s, int keep)
{
	if (s == CK_INVALID_HANDLE)
		return;
	if (s != p->shared) {
		p11_session_close(p, s, 1);
		return;
	}
	if (!keep)
		p11_session_drop(p);
}

void
p11_session_drop(struct p11 *p)
{
	CK_SESSION_HANDLE s = p->shared;

	if (s == CK_INVALID_HANDLE)
		return;
	p->shared = CK_INVALID_HANDLE;
	secret_clear(&p->shared_pin);
	if (p->f != NULL && p->initialized)
		p11_session_close(p, s, 1);
}

int
p11_find(struct p11 *p, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG ntmpl,
    CK_OBJECT_HANDLE *out, size_t max, size_t *count)
{
	CK_RV rv;
	int rc = 0;

	*count = 0;
	if ((rv = P11F(p)->C_FindObjectsInit(s, tmpl, ntmpl)) != CKR_OK)
		return p11_fail(p, "C_FindObjectsInit", rv);
	while (*count < max) {
		CK_ULONG got = 0;

		if ((rv = P11F(p)->C_FindObjects(s, out + *count, (CK_ULONG)(max - *count),
		    &got)) != CKR_OK) {
			rc = p11_fail(p, "C_FindObjects", rv);
			break;
		}
		if (got == 0)
			break;
		if (got > max - *count)
			got = (CK_ULONG)(max - *count);	/* a module that overfills is not trusted */
		*count += got;
	}
	if ((rv = P11F(p)->C_FindObjectsFinal(s)) != CKR_OK && rc == 0)
		rc = p11_fail(p, "C_FindObjectsFinal", rv);
	return rc;
}

int
p11_find_by_id(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const uint8_t *id,
    size_t idlen, CK_OBJECT_HANDLE *out)
{
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_ID, (void *)id, (CK_ULONG)idlen },
	};
	size_t n = 0;
	int rc;

	*out = CK_INVALID_HANDLE;
	if ((rc = p11_find(p, s, tmpl, 2, out, 1, &n)) != 0)
		return rc;
	return n == 1 ? 0 : UKEY_ERR_NOTFOUND;
}

/* Most values a job reads (a certificate, a public key's parts, a label) fit
 * in this: one call into the module for them, not a length query and a read. */
#define P11_ATTR_GUESS 4096

/* p11_get_attr's first try, into a buffer of P11_ATTR_GUESS bytes. Returns
 * what p11_get_attr would, or UKEY_ERR_BUSY when the value did not fit or the
 * module said nothing usable: then the two calls are made. */
static int
get_attr_guess(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
    size_t max, uint8_t **out, size_t *len)
{
	size_t cap = max < P11_ATTR_GUESS ? max : P11_ATTR_GUESS;
	CK_ATTRIBUTE a = { t, NULL, 0 };
	uint8_t *buf;
	CK_RV rv;

	if ((buf = calloc(1, cap + 1)) == NULL)
		return UKEY_ERR_NOMEM;
	a.pValue = buf;
	a.ulValueLen = (CK_ULONG)cap;
	rv = P11F(p)->C_GetAttributeValue(s, o, &a, 1);
	if (rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID) {
		free(buf);
		return UKEY_ERR_NOTFOUND;
	}
	if (rv != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > cap) {
		free(buf);
		return UKEY_ERR_BUSY;
	}
	buf[a.ulValueLen] = 0;
	*out = buf;
	*len = a.ulValueLen;
	return 0;
}

int
p11_get_attr(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
    size_t max, uint8_t **out, size_t *len)
{
	CK_ATTRIBUTE a = { t, NULL, 0 };
	uint8_t *buf = NULL;
	CK_RV rv;
	int rc;

	*out = NULL;
	*len = 0;
	if ((rc = get_attr_guess(p, s, o, t, max, out, len)) != UKEY_ERR_BUSY)
		return rc;
	rv = P11F(p)->C_GetAttributeValue(s, o, &a, 1);
	if (rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
	    (rv == CKR_OK && a.ulValueLen == CK_UNAVAILABLE_INFORMATION))
		return UKEY_ERR_NOTFOUND;
	if (rv != CKR_OK)
		return p11_fail(p, "C_GetAttributeValue", rv);
	if (a.ulValueLen > max)
		return p11_error(p, UKEY_ERR_INVAL,
		    "attribute 0x%lx of object %lu is %lu bytes, more than the %zu allowed",
		    (unsigned long)t, (unsigned long)o, (unsigned long)a.ulValueLen, max);
	if ((buf = calloc(1, (size_t)a.ulValueLen + 1)) == NULL)
		return UKEY_ERR_NOMEM;
	a.pValue = buf;
	if ((rv = P11F(p)->C_GetAttributeValue(s, o, &a, 1)) != CKR_OK) {
		rc = p11_fail(p, "C_GetAttributeValue", rv);
		goto out;
	}
	if (a.ulValueLen > max) {	/* grew between the calls: not trusted */
		rc = p11_error(p, UKEY_ERR_P11, "attribute 0x%lx changed length between reads",
		    (unsigned long)t);
		goto out;
	}
	buf[a.ulValueLen] = 0;
	*out = buf;
	*len = a.ulValueLen;
	buf = NULL;
	rc = 0;
 out:
	free(buf);
	return rc;
}

/* A fixed-size attribute into buf; UKEY_ERR_NOTFOUND when the object does
 * not have it, will not show it, or gives another size. */
static int
get_fixed(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, void *buf,
    CK_ULONG len)
{
	CK_ATTRIBUTE a = { t, buf, len };
	CK_RV rv = P11F(p)->C_GetAttributeValue(s, o, &a, 1);

	if (rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
	    (rv == CKR_OK && a.ulValueLen != len))
		return UKEY_ERR_NOTFOUND;
	if (rv != CKR_OK)
		return p11_fail(p, "C_GetAttributeValue", rv);
	return 0;
}

int
p11_get_bool(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
    int *val)
{
	CK_BBOOL b = CK_FALSE;
	int rc = get_fixed(p, s, o, t, &b, sizeof(b));

	*val = rc == 0 && b != CK_FALSE;
	return rc;
}

int
p11_get_ulong(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
    CK_ULONG *val)
{
	CK_ULONG v = 0;
	int rc = get_fixed(p, s, o, t, &v, sizeof(v));

	*val = rc == 0 ? v : 0;
	return rc;
}

int
p11_get_bools(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
    const CK_ATTRIBUTE_TYPE *types, size_t n, int *vals, int *readable)
{
	CK_ATTRIBUTE t[P11_MAX_BOOLS];
	CK_BBOOL b[P11_MAX_BOOLS];
	size_t i;
	int rc;

	if (n == 0 || n > P11_MAX_BOOLS)
		return p11_error(p, UKEY_ERR_INVAL, "%zu attributes asked at once (1..%d)", n,
		    P11_MAX_BOOLS);
	for (i = 0; i < n; i++) {
		b[i] = CK_FALSE;
		t[i].type = types[i];
		t[i].pValue = &b[i];
		t[i].ulValueLen = sizeof(b[i]);
	}
	if (P11F(p)->C_GetAttributeValue(s, o, t, (CK_ULONG)n) == CKR_OK) {
		for (i = 0; i < n; i++) {
			readable[i] = t[i].ulValueLen == sizeof(b[i]);
			vals[i] = readable[i] && b[i] != CK_FALSE;
		}
		return 0;
	}
	for (i = 0; i < n; i++) {
		rc = p11_get_bool(p, s, o, types[i], &vals[i]);
		readable[i] = rc == 0;
		if (rc != 0 && rc != UKEY_ERR_NOTFOUND)
			return rc;
	}
	return 0;
}
