/* The [cmp] section of ukeyd.conf: each key checked against its rule, and the
 * whole section against what the CMP connector needs to run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cmpconf.h"
#include "common/inifile.h"

const char *const cmpconf_keys[] = {
	"server", "path", "tls_trusted", "tls_cert", "tls_key", "secret_ref", "secret_file",
	"ra_cert", "ra_key", "ca_cert", "trusted", "implicit_confirm", "timeout", "proxy",
	"no_proxy", "request", "renewal", "validity", "pkcs11_module", "pkcs11_pin_file", NULL
};

void
cmpconf_defaults(struct cmp_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "/");
	c->implicit_confirm = 0;
	c->timeout_s = 30;
	c->request = CMPCONF_P10CR;
	c->renewal = CMPCONF_RENEW_KUR;
}

/* Printable ASCII without spaces: what a URL, host list or reference holds. */
static int
plain_text(const char *v)
{
	for (; *v != '\0'; v++)
		if (*v <= ' ' || *v > '~')
			return 0;
	return 1;
}

int
cmpconf_is_pkcs11(const char *v)
{
	return strncmp(v, "pkcs11:", 7) == 0;
}

void
cmpconf_signer_beside(struct cmp_config *c, const char *worker_path)
{
	const char *slash = strrchr(worker_path, '/');
	int n = slash != NULL ? (int)(slash - worker_path) : 1;

	snprintf(c->signer_path, sizeof(c->signer_path), "%.*s/ukey-signer", n,
	    slash != NULL ? worker_path : ".");
}

/* path: 1 an absolute path, 2 an absolute path or a pkcs11: URI */
static int
copy_checked(char *dst, size_t dstlen, const char *v, int path, char *rule, size_t rulelen)
{
	if (path == 2 && cmpconf_is_pkcs11(v))
		path = 0;
	if (path && *v != '\0' && *v != '/') {
		snprintf(rule, rulelen, path == 2 ? "must be an absolute path, a pkcs11: URI or "
		    "empty" : "must be an absolute path or empty");
		return -1;
	}
	if (!plain_text(v)) {
		snprintf(rule, rulelen, "must be printable ASCII without spaces");
		return -1;
	}
	if (strlen(v) >= dstlen) {
		snprintf(rule, rulelen, "longer than %zu bytes", dstlen - 1);
		return -1;
	}
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int
set_choice(int *dst, const char *v, const char *a, const char *b, char *rule, size_t rulelen)
{
	if (strcmp(v, a) == 0)
		*dst = 0;
	else if (strcmp(v, b) == 0)
		*dst = 1;
	else {
		snprintf(rule, rulelen, "must be %s or %s", a, b);
		return -1;
	}
	return 0;
}

static int
set_number(struct cmp_config *c, const char *key, const char *v, char *rule, size_t rulelen)
{
	char *end;
	long n;

	if (strcmp(key, "implicit_confirm") == 0) {
		if (inifile_yesno(v, &c->implicit_confirm) != 0) {
			snprintf(rule, rulelen, "must be yes or no");
			return -1;
		}
		return 0;
	}
	n = (*v >= '0' && *v <= '9') ? strtol(v, &end, 10) : 0;
	if (n < 1 || n > CMPCONF_TIMEOUT_MAX || *end != '\0') {
		snprintf(rule, rulelen, "must be a whole number of seconds from 1 to %d",
		    CMPCONF_TIMEOUT_MAX);
		return -1;
	}
	c->timeout_s = (int)n;
	return 0;
}

int
cmpconf_set(struct cmp_config *c, const char *key, const char *value, char *rule,
    size_t rulelen)
{
	static const struct {
		const char *key;
		size_t off, len;
		int path;
	} texts[] = {
#define T(k, p) { #k, offsetof(struct cmp_config, k), sizeof(((struct cmp_config *)0)->k), p }
		T(server, 0), T(path, 0), T(tls_trusted, 1), T(tls_cert, 1), T(tls_key, 2),
		T(secret_ref, 0), T(secret_file, 1), T(ra_cert, 1), T(ra_key, 2), T(ca_cert, 1),
		T(trusted, 1), T(proxy, 0), T(no_proxy, 0), T(pkcs11_module, 1),
		T(pkcs11_pin_file, 1),
#undef T
	};
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (strcmp(key, texts[i].key) == 0)
			break;
	if (i < sizeof(texts) / sizeof(texts[0])) {
		if (strcmp(key, "path") == 0 && value[0] != '/') {
			snprintf(rule, rulelen, "must start with /");
			return -1;
		}
		return copy_checked((char *)c + texts[i].off, texts[i].len, value, texts[i].path,
		    rule, rulelen);
	}
	if (strcmp(key, "request") == 0)
		return set_choice(&c->request, value, "p10cr", "cr", rule, rulelen);
	if (strcmp(key, "renewal") == 0)
		return set_choice(&c->renewal, value, "kur", "p10cr", rule, rulelen);
	if (strcmp(key, "validity") == 0)
		return set_choice(&c->validity, value, "order", "ca", rule, rulelen);
	if (strcmp(key, "implicit_confirm") == 0 || strcmp(key, "timeout") == 0)
		return set_number(c, key, value, rule, rulelen);
	snprintf(rule, rulelen, "unknown key");
	return -1;
}

int
cmpconf_server_split(const struct cmp_config *c, char *host, size_t hostlen, int *port,
    int *tls)
{
	const char *h, *colon, *end;
	char *e;
	long n;

	if (strncmp(c->server, "http://", 7) == 0) {
		*tls = 0;
		h = c->server + 7;
	} else if (strncmp(c->server, "https://", 8) == 0) {
		*tls = 1;
		h = c->server + 8;
	} else
		return -1;
	end = h + strcspn(h, "/");
	if (*end != '\0' && strcmp(end, "/") != 0)
		return -1;	/* the path goes in cmp.path */
	colon = memchr(h, ':', (size_t)(end - h));
	*port = *tls ? 443 : 80;
	if (colon != NULL) {
		n = strtol(colon + 1, &e, 10);
		if (e != end || n < 1 || n > 65535 || colon[1] < '0' || colon[1] > '9')
			return -1;
		*port = (int)n;
	} else
		colon = end;
	if (colon == h || (size_t)(colon - h) >= hostlen)
		return -1;
	memcpy(host, h, (size_t)(colon - h));
	host[colon - h] = '\0';
	return 0;
}

int
cmpconf_check(const struct cmp_config *c, char *msg, size_t msglen)
{
	char host[256];
	int port, tls = 0;
	int pbm = c->secret_ref[0] != '\0' || c->secret_file[0] != '\0';
	int sig = c->ra_cert[0] != '\0' || c->ra_key[0] != '\0';

	if (c->server[0] == '\0' ||
	    cmpconf_server_split(c, host, sizeof(host), &port, &tls) != 0)
		snprintf(msg, msglen, "cmp.server: must be http://host[:port] or "
		    "https://host[:port] (the path goes in cmp.path)");
	else if (c->ca_cert[0] == '\0')
		snprintf(msg, msglen, "cmp.ca_cert: must name the CA's certificate (PEM)");
	else if (c->trusted[0] == '\0')
		snprintf(msg, msglen, "cmp.trusted: must name the trust anchors (PEM)");
	else if (pbm == sig)
		snprintf(msg, msglen, "cmp.secret_ref: give either secret_ref and secret_file "
		    "(PBM) or ra_cert and ra_key (signature), not %s", pbm ? "both" : "neither");
	else if (pbm && (c->secret_ref[0] == '\0' || c->secret_file[0] == '\0'))
		snprintf(msg, msglen, "cmp.%s: PBM needs both secret_ref and secret_file",
		    c->secret_ref[0] == '\0' ? "secret_ref" : "secret_file");
	else if (sig && (c->ra_cert[0] == '\0' || c->ra_key[0] == '\0'))
		snprintf(msg, msglen, "cmp.%s: signature protection needs both ra_cert and "
		    "ra_key", c->ra_cert[0] == '\0' ? "ra_cert" : "ra_key");
	else if (!tls && (c->tls_trusted[0] != '\0' || c->tls_cert[0] != '\0' ||
	    c->tls_key[0] != '\0'))
		snprintf(msg, msglen, "cmp.tls_trusted: TLS settings need an https:// server");
	else if (tls && c->tls_trusted[0] == '\0')
		snprintf(msg, msglen, "cmp.tls_trusted: an https:// server needs trust anchors");
	else if ((c->tls_cert[0] == '\0') != (c->tls_key[0] == '\0'))
		snprintf(msg, msglen, "cmp.tls_cert: give tls_cert and tls_key together");
	else if ((cmpconf_is_pkcs11(c->ra_key) || cmpconf_is_pkcs11(c->tls_key)) &&
	    c->pkcs11_pin_file[0] == '\0')
		snprintf(msg, msglen, "cmp.pkcs11_pin_file: a key named by a pkcs11: URI needs "
		    "the file holding its token's PIN");
	else
		return 0;
	return -1;
}
