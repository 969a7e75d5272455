/*
 * ctp_conf.c: ctpd's configuration file (ctp_conf.h, ctpd.conf(5)).
 *
 * Three passes over one bounded copy of the file:
 *   1. libxml2 parses it with no network access, no XInclude and no DTD at
 *      all: the parser is stopped at a DOCTYPE, so no entity is ever
 *      declared, let alone loaded or expanded (XXE, "billion laughs");
 *   2. the compiled-in XSD (conf/ctpd.xsd, ctp_conf_xsd[]) validates the
 *      tree: structure, types, ranges, enumerations, unique names;
 *   3. this file converts the tree into struct ctp_conf and checks what a
 *      schema cannot say (addresses and their families, files, TLS
 *      material, timers against each other, the CTP_CONF_MAX_* limits).
 * Pass 3 runs only on a valid tree, so it may trust the structure, but it
 * still range-checks every value it converts: the schema and the C side
 * must never disagree silently.
 *
 * Every problem is one line "path:line: what", path as the caller gave it,
 * so `ctpd --check-config` prints the lines as they are and editors can
 * jump to them.  libxml2's messages go through the same function as ours.
 *
 * libxml2 keeps global state: xmlInitParser() runs once (pthread_once), and
 * the structured error handler is set for the duration of one load, then
 * restored (libxml2 keeps it per thread).  Nothing here calls
 * xmlCleanupParser(): other code in the process may still use libxml2.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>

#include "ctp/ctp_conf.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_proto.h"

#define CONF_NS            "urn:ctpd:config:1"
/* How libxml2 writes our element and type names in its messages; operators
 * never type the namespace, so the lines leave it out. */
#define CONF_NS_BRACED     "{" CONF_NS "}"
/* The file name in messages about the compiled-in schema itself. */
#define CONF_XSD_NAME      "ctpd.xsd (compiled in)"

/*
 * Bounds.  A configuration with every peer and plugin the struct can hold
 * is well under 100 KiB and 2,000 elements; these only keep a hostile or
 * broken file from making the daemon allocate without bound (PROFILE 5.4).
 */
#define CONF_MAX_FILE      (1024 * 1024)
#define CONF_MAX_ELEMENTS  20000
#define CONF_MAX_ERRORS    64
#define CONF_MAX_DEPTH     16      /* element levels inside a <plugin> */

#define CONF_PSK_MAX       64      /* octets: the schema's maxLength */
#define CONF_PSK_MIN       16
#define CONF_STR_(n)       #n
#define CONF_STR(n)        CONF_STR_(n)

/* libxml2 2.12 made the error argument const. */
#if LIBXML_VERSION >= 21200
typedef const xmlError conf_xml_error_t;
#else
typedef xmlError conf_xml_error_t;
#endif

struct conf_ctx {
	const char      *path;      /* as given: the prefix of every line */
	char            *dir;       /* absolute folder of the file */
	struct ctp_conf *c;
	void           (*report)(const char *line, void *arg);
	void            *arg;
	struct ctp_err  *err;
	size_t           nerrors;
	int              code;      /* for err->code: CTP_E_CONFIG unless set */
	int              oom;
	long             doctype;   /* line of a DOCTYPE the parser stopped at */
	/* what pass 3 needs after the element that set it */
	long             node_line, tls_line, timers_line, limits_line, log_line, control_line;
	int              level_given, private_log, bind_given, too_many_peers;
	/* the subject ("Element 'x', attribute 'y'") and line of the last
	 * libxml2 message, to drop its follow-up lines */
	char             last_subject[160];
	long             last_line;
};

/* ---- error lines ------------------------------------------------------------ */

/*
 * Make s one line: libxml2 ends its messages with "\n" and sometimes has
 * one inside; both become spaces, and trailing white space goes.  Our
 * namespace, in braces, goes too.  Messages quote the file, and XML allows
 * DEL and the C1 controls (U+0080 to U+009F, CSI among them) in values:
 * each of those becomes '?', so that a line cannot drive the terminal or
 * the log viewer it is shown on.
 */
static void
conf_one_line(char *s)
{
	size_t nl = strlen(CONF_NS_BRACED);
	unsigned char *u;
	char *p, *e;

	while ((p = strstr(s, CONF_NS_BRACED)) != NULL)
		memmove(p, p + nl, strlen(p + nl) + 1);
	for (p = s; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	for (u = (unsigned char *)s; *u; u++) {
		if (*u < 0x20 || *u == 0x7f)
			*u = '?';
		else if (*u == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f)
			u[0] = u[1] = '?';   /* UTF-8 of a C1 control */
	}
	for (e = s + strlen(s); e > s && e[-1] == ' '; e--)
		e[-1] = '\0';
}

static void conf_emit(struct conf_ctx *x, const char *file, long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Report one line "file:line: what" ("file: what" without a line). */
static void
conf_emit(struct conf_ctx *x, const char *file, long line, const char *fmt, ...)
{
	char *msg = NULL, *out = NULL;
	va_list ap;
	int n;

	if (x->nerrors > CONF_MAX_ERRORS)
		return;
	if (++x->nerrors > CONF_MAX_ERRORS)
		n = asprintf(&out, "%s: more than %d errors, giving up", x->path, CONF_MAX_ERRORS);
	else {
		va_start(ap, fmt);
		n = vasprintf(&msg, fmt, ap);
		va_end(ap);
		if (n < 0) {
			x->oom = 1;
			return;
		}
		conf_one_line(msg);
		if (line > 0)
			n = asprintf(&out, "%s:%ld: %s", file, line, msg);
		else
			n = asprintf(&out, "%s: %s", file, msg);
		free(msg);
	}
	if (n < 0) {
		x->oom = 1;
		return;
	}
	ctp_err_set(x->err, x->code ? x->code : CTP_E_CONFIG, 0, 0, "%s", out);
	if (x->report)
		x->report(out, x->arg);
	free(out);
}

/*
 * libxml2 quotes names and values of a broken document as it found them, so
 * a key (psk, 16 octets and more in hex) that a typo turned into a name or
 * merged with another value could reach the log.  A run of 16 or more hex
 * digits in one of its messages is shown as "<hex>": no other value of the
 * configuration is that long a run of hex digits.
 */
static void
conf_redact_hex(char *s)
{
	char *r = s, *w = s;

	while (*r) {
		size_t k = strspn(r, "0123456789abcdefABCDEF");

		if (k >= 16) {
			memcpy(w, "<hex>", 5);
			w += 5;
		} else {
			memmove(w, r, k ? k : 1);
			w += k ? k : 1;
		}
		r += k ? k : 1;
	}
	*w = '\0';
}

#define conf_error(x, line, ...)  conf_emit((x), (x)->path, (line), __VA_ARGS__)
#define conf_error_el(x, el, ...) conf_emit((x), (x)->path, xmlGetLineNo(el), __VA_ARGS__)

/*
 * The structured error handler for the document (parser and validator).
 * Warnings are not errors: nothing a warning says makes the configuration
 * wrong, and --check-config must print nothing for a good file.  After a
 * DOCTYPE stopped the parser, its complaints about the rest are noise.
 */
static void
conf_xml_error(void *arg, conf_xml_error_t *e)
{
	struct conf_ctx *x = arg;
	const char *colon;
	char *msg;
	size_t n;

	if (!e || e->level == XML_ERR_WARNING || x->doctype)
		return;
	if (e->code == XML_ERR_NO_MEMORY)
		x->oom = 1;
	if ((msg = strdup(e->message ? e->message : "unknown XML error")) == NULL) {
		x->oom = 1;
		return;
	}
	conf_one_line(msg);
	conf_redact_hex(msg);
	colon = strstr(msg, ": ");
	n = colon ? (size_t)(colon - msg) : 0;
	/*
	 * A value that fails a facet of a list, union or derived type gets a
	 * second line, "'v' is not a valid value of the ... type", about the
	 * same attribute or element: one problem, one line.
	 */
	if (n && n < sizeof x->last_subject && e->line == x->last_line &&
	    strncmp(msg, x->last_subject, n) == 0 && x->last_subject[n] == '\0' &&
	    strstr(colon, " is not a valid value of the ")) {
		free(msg);
		return;
	}
	if (n < sizeof x->last_subject) {
		memcpy(x->last_subject, msg, n);
		x->last_subject[n] = '\0';
	} else
		x->last_subject[0] = '\0';
	x->last_line = e->line;
	/* libxml2 quotes the value it refuses; for a PSK that is the key */
	if (strncmp(msg, "Element 'peer', attribute 'psk': ", 33) == 0)
		conf_emit(x, x->path, e->line, "Element 'peer', attribute 'psk': %s (the value is "
		    "a key: not shown)",
		    strstr(msg, "[facet 'minLength']") ? "shorter than " CONF_STR(CONF_PSK_MIN) " octets" :
		    strstr(msg, "[facet 'maxLength']") ? "longer than " CONF_STR(CONF_PSK_MAX) " octets" :
		    "not octets in hex");
	else
		conf_emit(x, x->path, e->line, "%s", msg);
	free(msg);
}

/* The same for the compiled-in schema: an error there is a build bug. */
static void
conf_xsd_error(void *arg, conf_xml_error_t *e)
{
	struct conf_ctx *x = arg;

	if (!e || e->level == XML_ERR_WARNING)
		return;
	conf_emit(x, CONF_XSD_NAME, e->line, "%s", e->message ? e->message : "unknown error");
}

/*
 * SAX internalSubset: called at every DOCTYPE before its internal subset is
 * read.  A configuration has no use for a DTD, and refusing it here means no
 * entity declaration is ever processed.
 */
static void
conf_xml_doctype(void *ctx, const xmlChar *name, const xmlChar *eid, const xmlChar *sid)
{
	xmlParserCtxtPtr px = ctx;
	struct conf_ctx *x = px->_private;
	long line = px->input ? px->input->line : 0;

	conf_error(x, line, "DOCTYPE is not allowed: the configuration uses no DTD and no entities");
	x->doctype = line > 0 ? line : 1;
	xmlStopParser(px);
}

/* ---- small helpers ------------------------------------------------------ */

static int
conf_is_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Trim XML white space in place (the schema's whiteSpace="collapse"). */
static char *
conf_trim(char *s)
{
	char *e;

	while (conf_is_space((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && conf_is_space((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
conf_is(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/*
 * The value of attribute name of el (unqualified, as all of ours are), or
 * NULL when absent.  The caller frees it with xmlFree.
 */
static char *
conf_prop(struct conf_ctx *x, const xmlNode *el, const char *name)
{
	xmlAttr *a = xmlHasNsProp(el, (const xmlChar *)name, NULL);
	xmlChar *v;

	if (!a)
		return NULL;
	if ((v = xmlNodeListGetString(el->doc, a->children, 1)) == NULL)
		v = xmlStrdup((const xmlChar *)"");
	if (!v)
		x->oom = 1;
	return (char *)v;
}

static char *
conf_strdup(struct conf_ctx *x, const char *s)
{
	char *d = strdup(s);

	if (!d)
		x->oom = 1;
	return d;
}

/*
 * An unsigned decimal in [min, max] (after trimming; "+" allowed, as
 * xs:integer allows it).  0 and *out set, 0 and *out untouched when the
 * attribute is absent, or -1 after an error line.
 */
static int
conf_uint(struct conf_ctx *x, const xmlNode *el, const char *attr, unsigned long long min,
    unsigned long long max, unsigned long long *out)
{
	char *v = conf_prop(x, el, attr), *s;
	unsigned long long n = 0;
	int ok = 1;

	if (!v)
		return 0;
	s = conf_trim(v);
	if (*s == '+')
		s++;
	if (!*s)
		ok = 0;
	for (; *s && ok; s++) {
		if (*s < '0' || *s > '9' || n > (ULLONG_MAX - 9) / 10)
			ok = 0;
		else
			n = n * 10 + (unsigned)(*s - '0');
	}
	if (!ok || n < min || n > max) {
		conf_error_el(x, el, "<%s> %s=\"%s\": not a number from %llu to %llu",
		    (const char *)el->name, attr, v, min, max);
		xmlFree(v);
		return -1;
	}
	xmlFree(v);
	*out = n;
	return 0;
}

static void
conf_unsigned(struct conf_ctx *x, const xmlNode *el, const char *attr, unsigned min,
    unsigned max, unsigned *out)
{
	unsigned long long n = *out;

	if (conf_uint(x, el, attr, min, max, &n) == 0)
		*out = (unsigned)n;
}

static void
conf_port(struct conf_ctx *x, const xmlNode *el, const char *attr, unsigned min, uint16_t *out)
{
	unsigned long long n = *out;

	if (conf_uint(x, el, attr, min, 65535, &n) == 0)
		*out = (uint16_t)n;
}

/* xs:boolean: true, false, 1, 0. */
static void
conf_bool(struct conf_ctx *x, const xmlNode *el, const char *attr, int *out)
{
	char *v = conf_prop(x, el, attr), *s;

	if (!v)
		return;
	s = conf_trim(v);
	if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
		*out = 1;
	else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
		*out = 0;
	else
		conf_error_el(x, el, "<%s> %s=\"%s\": not true, false, 1 or 0",
		    (const char *)el->name, attr, v);
	xmlFree(v);
}

struct conf_word {
	const char *word;
	int         value;
};

/* One of the words of table (exact, as the schema's enumerations are). */
static void
conf_enum(struct conf_ctx *x, const xmlNode *el, const char *attr,
    const struct conf_word *table, int *out)
{
	char *v = conf_prop(x, el, attr);

	if (!v)
		return;
	for (const struct conf_word *w = table; w->word; w++)
		if (strcmp(v, w->word) == 0) {
			*out = w->value;
			xmlFree(v);
			return;
		}
	conf_error_el(x, el, "<%s> %s=\"%s\": unknown value", (const char *)el->name, attr, v);
	xmlFree(v);
}

/* A string attribute, copied (NULL when absent). */
static char *
conf_str(struct conf_ctx *x, const xmlNode *el, const char *attr)
{
	char *v = conf_prop(x, el, attr), *d;

	if (!v)
		return NULL;
	d = conf_strdup(x, v);
	xmlFree(v);
	return d;
}

/*
 * A path attribute, resolved against the configuration file's folder when
 * relative, so the daemon may change directories later.  *as_written gets
 * the text as the operator wrote it, for messages (the caller frees it).
 */
static char *
conf_path(struct conf_ctx *x, const xmlNode *el, const char *attr, char **as_written)
{
	char *v = conf_prop(x, el, attr), *p = NULL;

	if (as_written)
		*as_written = NULL;
	if (!v)
		return NULL;
	if (v[0] == '/')
		p = conf_strdup(x, v);
	else if (asprintf(&p, "%s/%s", x->dir, v) < 0) {
		p = NULL;
		x->oom = 1;
	}
	if (as_written)
		*as_written = conf_strdup(x, v);
	xmlFree(v);
	return p;
}

/*
 * A file the daemon will read later (certificates, keys, plugins): it must
 * exist, be a regular file and open for reading now, so that mistakes show
 * at --check-config time.  Contents are checked by whoever reads them.
 */
static void
conf_check_file(struct conf_ctx *x, long line, const char *what, const char *written,
    const char *path)
{
	struct stat st;
	int fd;

	if (!path)
		return;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
		conf_error(x, line, "%s \"%s\": %s", what, written, strerror(errno));
		return;
	}
	if (fstat(fd, &st) != 0)
		conf_error(x, line, "%s \"%s\": %s", what, written, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		conf_error(x, line, "%s \"%s\" is not a regular file", what, written);
	close(fd);
}

static void
conf_check_dir(struct conf_ctx *x, long line, const char *what, const char *written,
    const char *path)
{
	struct stat st;

	if (!path)
		return;
	if (stat(path, &st) != 0)
		conf_error(x, line, "%s \"%s\": %s", what, written, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		conf_error(x, line, "%s \"%s\" is not a directory", what, written);
}

/* The role list "ar sg" (xs:list: items separated by white space). */
static void
conf_roles(struct conf_ctx *x, const xmlNode *el, const char *attr, unsigned *out)
{
	char *v = conf_prop(x, el, attr), *save = NULL, *tok;
	unsigned roles = 0;

	if (!v)
		return;
	for (tok = strtok_r(v, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (strcmp(tok, "ar") == 0)
			roles |= CTP_ROLE_AR;
		else if (strcmp(tok, "sg") == 0)
			roles |= CTP_ROLE_SG;
		else {
			conf_error_el(x, el, "<%s> %s: unknown role \"%s\" (ar or sg)",
			    (const char *)el->name, attr, tok);
			xmlFree(v);
			return;
		}
	}
	xmlFree(v);
	if (!roles)
		conf_error_el(x, el, "<%s> %s is empty: ar, sg or both", (const char *)el->name, attr);
	else
		*out = roles;
}

static int
conf_addr_text(struct conf_ctx *x, const xmlNode *el, const char *text, struct ctp_addr *a)
{
	if (ctp_addr_parse(a, text) != 0) {
		conf_error_el(x, el, "address \"%s\" is not an IPv4 or IPv6 address", text);
		return -1;
	}
	return 0;
}

static void
conf_sockaddr(struct sockaddr_storage *ss, const struct ctp_addr *a, uint16_t port)
{
	memset(ss, 0, sizeof *ss);
	if (a->family == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a->a, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a->a, 16);
	}
}

static void
conf_sockaddr_addr(const struct sockaddr_storage *ss, struct ctp_addr *a, uint16_t *port)
{
	memset(a, 0, sizeof *a);
	*port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		a->family = 4;
		memcpy(a->a, &sin->sin_addr, 4);
		*port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		a->family = 6;
		memcpy(a->a, &sin6->sin6_addr, 16);
		*port = ntohs(sin6->sin6_port);
	}
}

/* An unsigned 32-bit PPID, "0x43585450" or decimal. */
static void
conf_ppid(struct conf_ctx *x, const xmlNode *el, const char *attr, uint32_t *out)
{
	char *v = conf_prop(x, el, attr), *s, *end;
	unsigned long long n = 0;

	if (!v)
		return;
	s = conf_trim(v);
	errno = 0;
	if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) && s[2])
		n = strtoull(s + 2, &end, 16);
	else if (*s >= '0' && *s <= '9')
		n = strtoull(s, &end, 10);
	else
		end = s;
	if (end == s || *end || errno || n > UINT32_MAX)
		conf_error_el(x, el, "<%s> %s=\"%s\": not a 32-bit number", (const char *)el->name,
		    attr, v);
	else
		*out = (uint32_t)n;
	xmlFree(v);
}

/* ---- the elements ----------------------------------------------------------- */

static void
conf_node(struct conf_ctx *x, const xmlNode *el)
{
	struct ctp_conf *c = x->c;

	x->node_line = xmlGetLineNo(el);
	c->node_name = conf_str(x, el, "name");
	conf_roles(x, el, "roles", &c->roles);
	for (const xmlNode *a = el->children; a; a = a->next) {
		struct ctp_addr addr;
		xmlChar *text;

		if (!conf_is(a, "address"))
			continue;
		if (c->naddrs == CTP_CONF_MAX_ADDRS) {
			conf_error_el(x, a, "too many addresses: at most %d", CTP_CONF_MAX_ADDRS);
			break;
		}
		if ((text = xmlNodeGetContent(a)) == NULL) {
			x->oom = 1;
			return;
		}
		if (conf_addr_text(x, a, (const char *)text, &addr) == 0) {
			char buf[CTP_ADDRSTRLEN];
			size_t i;

			for (i = 0; i < c->naddrs && !ctp_addr_eq(&c->addrs[i], &addr); i++)
				;
			if (i < c->naddrs)
				conf_error_el(x, a, "address %s is listed twice",
				    ctp_addr_fmt(&addr, buf, sizeof buf));
			else
				c->addrs[c->naddrs++] = addr;
		}
		xmlFree(text);
	}
	if (c->naddrs == 0)
		conf_error_el(x, el, "<node> needs at least one <address>");
}

static const struct conf_word conf_backends[] = {
	{ "auto", CTP_BACKEND_AUTO },
	{ "kernel", CTP_BACKEND_KERNEL },
	{ "usrsctp", CTP_BACKEND_USRSCTP },
	{ NULL, 0 },
};

static void
conf_transport(struct conf_ctx *x, const xmlNode *el)
{
	struct ctp_conf *c = x->c;
	int backend = (int)c->backend;
	char *bind;

	conf_enum(x, el, "backend", conf_backends, &backend);
	c->backend = (enum ctp_backend)backend;
	if ((bind = conf_prop(x, el, "bind")) != NULL) {
		struct ctp_addr a;

		if (conf_addr_text(x, el, bind, &a) == 0) {
			conf_sockaddr(&c->bind, &a, 0);
			x->bind_given = 1;
		}
		xmlFree(bind);
	}
	conf_port(x, el, "sctp-port", 1, &c->sctp_port);
	conf_port(x, el, "udp-port", 1, &c->udp_port);
	conf_bool(x, el, "udp-encaps", &c->udp_encaps);
	conf_ppid(x, el, "ppid-plain", &c->ppid_plain);
	conf_ppid(x, el, "ppid-tls", &c->ppid_tls);
}

static void
conf_tls(struct conf_ctx *x, const xmlNode *el)
{
	struct ctp_tls_cfg *t = &x->c->tls;
	static const char *const names[] = { "ca", "cert", "key" };
	const char **fields[] = { &t->ca, &t->cert, &t->key };
	int given = 0;

	x->tls_line = xmlGetLineNo(el);
	for (size_t i = 0; i < 3; i++) {
		char *written, *what;

		*fields[i] = conf_path(x, el, names[i], &written);
		if (!*fields[i])
			continue;
		given |= 1 << i;
		if (asprintf(&what, "tls %s", names[i]) < 0) {
			x->oom = 1;
		} else {
			conf_check_file(x, x->tls_line, what, written ? written : "", *fields[i]);
			free(what);
		}
		free(written);
	}
	if (given && given != 7)
		conf_error_el(x, el, "<tls> needs cert, key and ca together (%s is missing)",
		    !(given & 2) ? "cert" : !(given & 4) ? "key" : "ca");
	t->keylog = conf_path(x, el, "keylog", NULL);
	conf_bool(x, el, "allow-keylog", &t->allow_keylog);
	if (t->keylog && !t->allow_keylog)
		conf_error_el(x, el, "keylog needs allow-keylog=\"true\": it writes TLS secrets to disk");
}

static const struct conf_word conf_secs[] = {
	{ "tls", CTP_SEC_TLS },
	{ "ipsec", CTP_SEC_IPSEC },
	{ "none", CTP_SEC_NONE },
	{ NULL, 0 },
};

/*
 * The PSK, decoded into a ctp_secret.  The hex text also sits in libxml2's
 * tree; conf_wipe_psks() clears it there before the tree is freed.  Copies
 * libxml2 makes internally while parsing cannot be reached: the file itself
 * holds the key anyway, which is why ctpd.conf(5) asks for mode 0600.
 */
static void
conf_psk(struct conf_ctx *x, const xmlNode *el, struct ctp_conf_peer *p)
{
	char *v = conf_prop(x, el, "psk"), *s;
	uint8_t buf[CONF_PSK_MAX];
	size_t n = 0;

	if (!v)
		return;
	s = conf_trim(v);
	if (ctp_hex_decode(s, strlen(s), buf, sizeof buf, &n) != 0 || n < CONF_PSK_MIN)
		conf_error_el(x, el, "peer \"%s\": psk must be %d to %d octets in hex", p->name,
		    CONF_PSK_MIN, CONF_PSK_MAX);
	else if ((p->psk = ctp_secret_dup(buf, n)) == NULL)
		x->oom = 1;
	ctp_wipe(buf, sizeof buf);
	ctp_wipe(v, strlen(v));
	xmlFree(v);
}

static void
conf_peer(struct conf_ctx *x, const xmlNode *el)
{
	struct ctp_conf *c = x->c;
	struct ctp_conf_peer *p;
	struct ctp_addr a;
	char *addr;
	int sec = CTP_SEC_TLS;

	if (c->npeers == CTP_CONF_MAX_PEERS) {
		/* one line for the first peer too many, not one per peer */
		if (!x->too_many_peers++)
			conf_error_el(x, el, "too many peers: at most %d", CTP_CONF_MAX_PEERS);
		return;
	}
	p = &c->peers[c->npeers++];
	p->line = (int)xmlGetLineNo(el);
	p->name = conf_str(x, el, "name");
	if (!p->name)
		p->name = conf_strdup(x, "?");
	p->roles = CTP_ROLE_AR;
	conf_roles(x, el, "roles", &p->roles);
	/* A deployment uses one pair of ports everywhere, so ours are the
	 * defaults for the peer's. */
	{
		uint16_t sport = c->sctp_port;

		p->udp_port = c->udp_port;
		conf_port(x, el, "sctp-port", 1, &sport);
		conf_port(x, el, "udp-port", 1, &p->udp_port);
		if ((addr = conf_prop(x, el, "address")) != NULL) {
			if (conf_addr_text(x, el, addr, &a) == 0)
				conf_sockaddr(&p->addr, &a, sport);
			xmlFree(addr);
		}
	}
	conf_enum(x, el, "security", conf_secs, &sec);
	p->sec = (enum ctp_sec)sec;
	p->identity = conf_str(x, el, "identity");
	p->psk_identity = conf_str(x, el, "psk-identity");
	conf_bool(x, el, "allow-keys-plaintext", &p->allow_keys_plain);
	conf_psk(x, el, p);
}

static void
conf_mobile_nodes(struct conf_ctx *x, const xmlNode *el)
{
	conf_bool(x, el, "icmp", &x->c->mn_icmp);
	conf_port(x, el, "udp-port", 0, &x->c->mn_udp_port);
}

static int conf_plugin_tree(struct conf_ctx *x, const xmlNode *el, int depth, int top,
    struct ctp_val **out);

/*
 * The text of el's own text and CDATA children, trimmed; NULL when there is
 * none.  Entity references cannot occur: there is no DTD to declare them.
 */
static char *
conf_own_text(struct conf_ctx *x, const xmlNode *el)
{
	xmlBufferPtr b = xmlBufferCreate();
	char *t = NULL;

	if (!b) {
		x->oom = 1;
		return NULL;
	}
	for (const xmlNode *n = el->children; n; n = n->next)
		if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content &&
		    xmlBufferCat(b, n->content) != 0)
			x->oom = 1;
	if (xmlBufferLength(b) > 0) {
		char *all = conf_strdup(x, (const char *)xmlBufferContent(b));

		if (all) {
			char *s = conf_trim(all);

			if (*s)
				t = conf_strdup(x, s);
			free(all);
		}
	}
	xmlBufferFree(b);
	return t;
}

/* An attribute's value: an integer when it is all digits (and fits). */
static struct ctp_val *
conf_plugin_scalar(const char *v)
{
	const char *s = v;
	uint64_t n = 0;

	while (conf_is_space((unsigned char)*s))
		s++;
	if (*s < '0' || *s > '9')
		return ctp_val_str(v);
	for (; *s >= '0' && *s <= '9'; s++) {
		uint64_t d = (uint64_t)(*s - '0');

		if (n > (UINT64_MAX - d) / 10)
			return ctp_val_str(v);   /* too big for an integer: keep the text */
		n = n * 10 + d;
	}
	while (conf_is_space((unsigned char)*s))
		s++;
	return *s ? ctp_val_str(v) : ctp_val_u64(n);
}

/*
 * el as a value tree (ctp_conf.h): attributes are members, each child
 * element's name a member holding an array of objects, the text "text".
 * The <plugin> element's own attributes (name, path) are the loader's, not
 * the plugin's.  Attributes in a namespace (xml:lang, xsi:...) belong to
 * XML, not to the plugin, and are left out.
 */
static int
conf_plugin_tree(struct conf_ctx *x, const xmlNode *el, int depth, int top,
    struct ctp_val **out)
{
	struct ctp_val *obj = ctp_val_obj();
	char *text;

	*out = NULL;
	if (!obj) {
		x->oom = 1;
		return -1;
	}
	if (depth > CONF_MAX_DEPTH) {
		conf_error_el(x, el, "<%s>: nested more than %d levels deep inside <plugin>",
		    (const char *)el->name, CONF_MAX_DEPTH);
		ctp_val_free(obj);
		return -1;
	}
	for (const xmlAttr *a = top ? NULL : el->properties; a; a = a->next) {
		xmlChar *v;

		if (a->ns)
			continue;
		if ((v = xmlNodeListGetString(el->doc, a->children, 1)) == NULL &&
		    (v = xmlStrdup((const xmlChar *)"")) == NULL)
			goto oom;
		if (ctp_val_obj_set(obj, (const char *)a->name, conf_plugin_scalar((const char *)v)) != 0) {
			xmlFree(v);
			goto oom;
		}
		xmlFree(v);
	}
	for (const xmlNode *ch = el->children; ch; ch = ch->next) {
		struct ctp_val *arr, *sub;
		const char *key = (const char *)ch->name;

		if (ch->type != XML_ELEMENT_NODE)
			continue;
		arr = ctp_val_get(obj, key);
		if (arr && arr->kind != CTP_V_ARR) {
			conf_error_el(x, ch, "<%s>: \"%s\" is both an attribute and a child element",
			    (const char *)el->name, key);
			ctp_val_free(obj);
			return -1;
		}
		if (!arr) {
			if (ctp_val_obj_set(obj, key, ctp_val_arr()) != 0)
				goto oom;
			arr = ctp_val_get(obj, key);
		}
		if (conf_plugin_tree(x, ch, depth + 1, 0, &sub) != 0) {
			ctp_val_free(obj);
			return -1;
		}
		if (ctp_val_arr_push(arr, sub) != 0)
			goto oom;
	}
	if ((text = conf_own_text(x, el)) != NULL) {
		if (ctp_val_get(obj, "text")) {
			conf_error_el(x, el, "<%s>: \"text\" is both a member and the element's text",
			    (const char *)el->name);
			free(text);
			ctp_val_free(obj);
			return -1;
		}
		if (ctp_val_obj_set(obj, "text", ctp_val_str(text)) != 0) {
			free(text);
			goto oom;
		}
		free(text);
	}
	if (x->oom)
		goto oom;
	*out = obj;
	return 0;
oom:
	x->oom = 1;
	ctp_val_free(obj);
	return -1;
}

static void
conf_plugins(struct conf_ctx *x, const xmlNode *el)
{
	struct ctp_conf *c = x->c;
	char *written;

	c->plugin_dir = conf_path(x, el, "dir", &written);
	conf_check_dir(x, xmlGetLineNo(el), "plugins dir", written, c->plugin_dir);
	free(written);
	for (const xmlNode *pl = el->children; pl; pl = pl->next) {
		struct ctp_conf_plugin *p;

		if (!conf_is(pl, "plugin"))
			continue;
		if (c->nplugins == CTP_CONF_MAX_PLUGINS) {
			conf_error_el(x, pl, "too many plugins: at most %d", CTP_CONF_MAX_PLUGINS);
			return;
		}
		p = &c->plugins[c->nplugins++];
		p->line = (int)xmlGetLineNo(pl);
		p->name = conf_str(x, pl, "name");
		if (!p->name) {
			/* the schema requires it; keep the C side honest anyway */
			conf_error_el(x, pl, "<plugin> needs a name");
			p->name = conf_strdup(x, "?");
		}
		p->path = conf_path(x, pl, "path", &written);
		if (p->path) {
			char *what;

			if (asprintf(&what, "plugin \"%s\" path", p->name ? p->name : "?") < 0)
				x->oom = 1;
			else {
				conf_check_file(x, p->line, what, written ? written : "", p->path);
				free(what);
			}
		}
		free(written);
		if (conf_plugin_tree(x, pl, 0, 1, &p->config) != 0 && !p->config)
			p->config = ctp_val_obj();   /* never NULL, even after an error */
		if (!p->config)
			x->oom = 1;
	}
}

static void
conf_timers(struct conf_ctx *x, const xmlNode *el)
{
	struct ctp_conf_timers *t = &x->c->timers;

	x->timers_line = xmlGetLineNo(el);
	conf_unsigned(x, el, "request-rate", 1, 100000, &t->request_rate);
	conf_unsigned(x, el, "max-transfer-ms", 10, 60000, &t->max_transfer_ms);
	conf_unsigned(x, el, "request-retry-ms", 100, 600000, &t->request_retry_ms);
	conf_unsigned(x, el, "retry-max-ms", 100, 3600000, &t->retry_max_ms);
	conf_unsigned(x, el, "max-handover-ms", 100, 600000, &t->max_handover_ms);
	conf_unsigned(x, el, "dup-window-ms", 100, 600000, &t->dup_window_ms);
	conf_unsigned(x, el, "handshake-ms", 100, 600000, &t->handshake_ms);
	conf_unsigned(x, el, "reconnect-ms", 10, 3600000, &t->reconnect_ms);
}

static void
conf_limits(struct conf_ctx *x, const xmlNode *el)
{
	struct ctp_conf_limits *l = &x->c->limits;
	unsigned long long q = l->queue_bytes;

	x->limits_line = xmlGetLineNo(el);
	conf_unsigned(x, el, "peers", 1, 4096, &l->peers);
	conf_unsigned(x, el, "transfers", 1, 1048576, &l->transfers);
	conf_unsigned(x, el, "transfers-per-peer", 1, 1048576, &l->transfers_per_peer);
	conf_unsigned(x, el, "cached-pctd", 0, 1048576, &l->cached_pctd);
	conf_unsigned(x, el, "cdbs-per-message", 1, 4096, &l->cdbs_per_message);
	conf_unsigned(x, el, "control-clients", 1, 4096, &l->control_clients);
	if (conf_uint(x, el, "queue-bytes", 4096, 1073741824, &q) == 0)
		l->queue_bytes = (size_t)q;
}

static void
conf_control(struct conf_ctx *x, const xmlNode *el)
{
	char *s = conf_path(x, el, "socket", NULL);

	x->control_line = xmlGetLineNo(el);
	if (s) {
		free(x->c->control);
		x->c->control = s;
	}
}

static const struct conf_word conf_levels[] = {
	{ "error", CTP_LOG_ERR },
	{ "warning", CTP_LOG_WARN },
	{ "notice", CTP_LOG_NOTICE },
	{ "info", CTP_LOG_INFO },
	{ "debug", CTP_LOG_DEBUG },
	{ NULL, 0 },
};

static void
conf_log(struct conf_ctx *x, const xmlNode *el)
{
	x->log_line = xmlGetLineNo(el);
	x->level_given = xmlHasNsProp(el, (const xmlChar *)"level", NULL) != NULL;
	conf_enum(x, el, "level", conf_levels, &x->c->log_level);
	conf_bool(x, el, "syslog", &x->c->log_syslog);
	conf_bool(x, el, "private", &x->private_log);
}

static void
conf_capture(struct conf_ctx *x, const xmlNode *el)
{
	x->c->pcap = conf_path(x, el, "pcap", NULL);
}

static void
conf_user(struct conf_ctx *x, const xmlNode *el)
{
	x->c->user = conf_str(x, el, "name");
}

static const struct {
	const char *name;
	void      (*fn)(struct conf_ctx *x, const xmlNode *el);
} conf_elements[] = {
	{ "node", conf_node },
	{ "transport", conf_transport },
	{ "tls", conf_tls },
	{ "peer", conf_peer },
	{ "mobile-nodes", conf_mobile_nodes },
	{ "plugins", conf_plugins },
	{ "timers", conf_timers },
	{ "limits", conf_limits },
	{ "control", conf_control },
	{ "log", conf_log },
	{ "capture", conf_capture },
	{ "user", conf_user },
};

/* ---- checks across elements -------------------------------------------------- */

static const char *
conf_sec_word(enum ctp_sec s)
{
	for (const struct conf_word *w = conf_secs; w->word; w++)
		if (w->value == (int)s)
			return w->word;
	return "?";
}

static void
conf_check_peer(struct conf_ctx *x, size_t i)
{
	const struct ctp_conf *c = x->c;
	const struct ctp_conf_peer *p = &c->peers[i];
	int has_certs = c->tls.cert && c->tls.key && c->tls.ca;
	char buf[CTP_ADDRSTRLEN];
	struct ctp_addr a;
	uint16_t port;
	size_t k;

	conf_sockaddr_addr(&p->addr, &a, &port);
	if (a.family) {
		ctp_addr_fmt(&a, buf, sizeof buf);
		for (k = 0; k < c->naddrs && c->addrs[k].family != a.family; k++)
			;
		if (c->naddrs && k == c->naddrs)
			conf_error(x, p->line, "peer \"%s\": %s is an IPv%u address but the node has none",
			    p->name, buf, a.family);
		for (k = 0; k < c->naddrs && !ctp_addr_eq(&c->addrs[k], &a); k++)
			;
		if (k < c->naddrs)
			conf_error(x, p->line, "peer \"%s\": %s is the node's own address", p->name, buf);
		for (k = 0; k < i; k++) {
			struct ctp_addr b;
			uint16_t bport;

			conf_sockaddr_addr(&c->peers[k].addr, &b, &bport);
			if (ctp_addr_eq(&a, &b) && port == bport) {
				conf_error(x, p->line, "peer \"%s\": same address and port as peer \"%s\" (line %d)",
				    p->name, c->peers[k].name, c->peers[k].line);
				break;
			}
		}
	}
	if (p->sec == CTP_SEC_TLS && !p->psk && !has_certs)
		conf_error(x, p->line,
		    "peer \"%s\": security=\"tls\" needs a psk, or cert, key and ca in <tls>", p->name);
	if (p->psk && p->sec != CTP_SEC_TLS)
		conf_error(x, p->line, "peer \"%s\": a psk needs security=\"tls\", not \"%s\"",
		    p->name, conf_sec_word(p->sec));
	else if (p->psk && !p->psk_identity)
		conf_error(x, p->line,
		    "peer \"%s\": a psk needs psk-identity (the same string on both sides)", p->name);
	if (p->psk_identity && !p->psk)
		conf_error(x, p->line, "peer \"%s\": psk-identity without a psk", p->name);
	if (p->allow_keys_plain && p->sec != CTP_SEC_NONE)
		conf_error(x, p->line,
		    "peer \"%s\": allow-keys-plaintext applies only to security=\"none\"", p->name);
}

static void
conf_check_all(struct conf_ctx *x)
{
	struct ctp_conf *c = x->c;
	const struct ctp_conf_timers *t = &c->timers;

	if (!c->roles)
		conf_error(x, x->node_line, "<node> has no roles: ar, sg or both");
	/* Without a configured bind address, listen on every address of the
	 * families the node has; "::" takes IPv4 too (v4-mapped). */
	if (!x->bind_given) {
		struct ctp_addr any = { .family = 4 };

		for (size_t i = 0; i < c->naddrs; i++)
			if (c->addrs[i].family == 6)
				any.family = 6;
		conf_sockaddr(&c->bind, &any, 0);
	}
	for (size_t i = 0; i < c->npeers; i++)
		conf_check_peer(x, i);
	/* the transport keeps state for at most limits.peers associations: a
	 * peer beyond them could never connect */
	if (c->npeers > c->limits.peers && !x->too_many_peers)
		conf_error(x, c->peers[c->limits.peers].line, "peer \"%s\": %zu peers configured, "
		    "more than limits peers=\"%u\" allows", c->peers[c->limits.peers].name,
		    c->npeers, c->limits.peers);
	if (t->retry_max_ms < t->request_retry_ms)
		conf_error(x, x->timers_line,
		    "timers: retry-max-ms (%u) is less than request-retry-ms (%u)",
		    t->retry_max_ms, t->request_retry_ms);
	if (c->limits.transfers_per_peer > c->limits.transfers)
		conf_error(x, x->limits_line, "limits: transfers-per-peer (%u) exceeds transfers (%u)",
		    c->limits.transfers_per_peer, c->limits.transfers);
	if (x->private_log) {
		if (x->level_given && c->log_level != CTP_LOG_DEBUG)
			conf_error(x, x->log_line,
			    "log: private=\"true\" needs level=\"debug\": it adds key bytes to debug output");
		else
			c->log_level = CTP_LOG_PRIVATE;
	}
	if (!c->control && !(c->control = strdup(CTP_CONF_CONTROL_DEFAULT)))
		x->oom = 1;
	if (c->control && strlen(c->control) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		conf_error(x, x->control_line, "control socket \"%s\" is longer than %zu octets",
		    c->control, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
}

/* ---- passes 1 and 2 ------------------------------------------------------- */

/* The whole file, at most CONF_MAX_FILE octets; NULL after an error line. */
static char *
conf_read(struct conf_ctx *x, size_t *len, int *rc)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fd;

	*rc = x->code = CTP_E_IO;
	if ((fd = open(x->path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		conf_error(x, 0, "%s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0) {
		conf_error(x, 0, "%s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		conf_error(x, 0, "not a regular file");
		goto out;
	}
	if (st.st_size > CONF_MAX_FILE) {
		*rc = x->code = CTP_E_LIMIT;
		conf_error(x, 0, "larger than %d octets", CONF_MAX_FILE);
		goto out;
	}
	/* one octet more than allowed, to notice a file that grows meanwhile */
	if ((buf = malloc(CONF_MAX_FILE + 1)) == NULL) {
		*rc = x->code = CTP_E_NOMEM;
		conf_error(x, 0, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, CONF_MAX_FILE + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			conf_error(x, 0, "%s", strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > CONF_MAX_FILE) {
			*rc = x->code = CTP_E_LIMIT;
			conf_error(x, 0, "larger than %d octets", CONF_MAX_FILE);
			goto fail;
		}
	}
	*len = n;
	*rc = x->code = 0;
	goto out;
fail:
	ctp_wipe(buf, n);
	free(buf);
	buf = NULL;
out:
	close(fd);
	return buf;
}

/* Clear the PSKs' hex text in the tree before it is freed (conf_psk). */
static void
conf_wipe_psks(xmlDoc *doc)
{
	xmlNode *root = xmlDocGetRootElement(doc);

	for (xmlNode *el = root ? root->children : NULL; el; el = el->next) {
		xmlAttr *a;

		if (!conf_is(el, "peer") || !(a = xmlHasNsProp(el, (const xmlChar *)"psk", NULL)))
			continue;
		for (xmlNode *t = a->children; t; t = t->next)
			if (t->content && !(doc->dict && xmlDictOwns(doc->dict, t->content)))
				ctp_wipe(t->content, strlen((const char *)t->content));
	}
}

static long
conf_count_elements(const xmlNode *n, long *count, const xmlNode **over)
{
	for (; n && !*over; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (++*count > CONF_MAX_ELEMENTS) {
			*over = n;
			break;
		}
		conf_count_elements(n->children, count, over);
	}
	return *count;
}

static void
conf_xml_init(void)
{
	LIBXML_TEST_VERSION
	xmlInitParser();
}

static pthread_once_t conf_xml_once = PTHREAD_ONCE_INIT;

/* Parse buf; NULL after error lines. */
static xmlDoc *
conf_parse(struct conf_ctx *x, const char *buf, size_t len)
{
	const unsigned char *u = (const unsigned char *)buf;
	xmlParserCtxtPtr px;
	const char *nul;
	xmlDoc *doc;

	if (len == 0) {
		conf_error(x, 0, "the file is empty");
		return NULL;
	}
	/*
	 * libxml2 takes a NUL for the end of its input and ignores the rest; in
	 * a text file it means corruption.  UTF-16 and UTF-32 files have NULs:
	 * they start with a byte-order mark or a NUL next to the "<", and are
	 * left to libxml2.
	 */
	if (len >= 2 && u[0] && u[1] && u[0] != 0xfe && u[0] != 0xff &&
	    (nul = memchr(buf, '\0', len)) != NULL) {
		long line = 1;

		for (const char *p = buf; p < nul; p++)
			line += *p == '\n';
		conf_error(x, line, "a NUL octet: this is not a text file");
		return NULL;
	}
	/*
	 * NONET: no network, ever.  Not NOENT, DTDLOAD, DTDATTR, DTDVALID or
	 * XINCLUDE: nothing outside this buffer is read.  BIG_LINES: correct
	 * line numbers past 65535.  The DOCTYPE hook stops the parse before
	 * any declaration.
	 */
	if ((px = xmlCreateMemoryParserCtxt(buf, (int)len)) == NULL) {
		x->oom = 1;
		return NULL;
	}
	xmlCtxtUseOptions(px, XML_PARSE_NONET | XML_PARSE_BIG_LINES);
	px->_private = x;
	px->sax->internalSubset = conf_xml_doctype;
	xmlParseDocument(px);
	doc = px->myDoc;
	px->myDoc = NULL;
	if (!px->wellFormed || x->doctype || x->nerrors) {
		if (!x->nerrors)
			conf_error(x, 0, "not well-formed XML");
		if (doc)
			conf_wipe_psks(doc);
		xmlFreeDoc(doc);
		doc = NULL;
	} else if (!doc) {
		x->oom = 1;
	}
	xmlFreeParserCtxt(px);
	return doc;
}

/* The root must be <ctpd> in our namespace (the schema's global ipsec
 * elements would otherwise validate as documents of their own). */
static int
conf_check_root(struct conf_ctx *x, const xmlNode *root)
{
	const char *ns = root && root->ns && root->ns->href ? (const char *)root->ns->href : NULL;

	if (!root) {
		conf_error(x, 0, "no root element");
		return -1;
	}
	if (strcmp((const char *)root->name, "ctpd") != 0) {
		conf_error_el(x, root, "the root element is <%s>; expected <ctpd xmlns=\"%s\">",
		    (const char *)root->name, CONF_NS);
		return -1;
	}
	if (!ns) {
		conf_error_el(x, root, "<ctpd> has no namespace; expected xmlns=\"%s\"", CONF_NS);
		return -1;
	}
	if (strcmp(ns, CONF_NS) != 0) {
		conf_error_el(x, root, "<ctpd> is in namespace \"%s\"; expected xmlns=\"%s\"", ns,
		    CONF_NS);
		return -1;
	}
	return 0;
}

static int
conf_validate(struct conf_ctx *x, xmlDoc *doc)
{
	xmlSchemaParserCtxtPtr pc;
	xmlSchemaValidCtxtPtr vc = NULL;
	xmlSchemaPtr schema = NULL;
	int rc = -1;

	/* Parsed for every load: a few milliseconds, and no global to free. */
	if ((pc = xmlSchemaNewMemParserCtxt(ctp_conf_xsd, (int)ctp_conf_xsd_len)) == NULL) {
		x->oom = 1;
		return -1;
	}
	xmlSchemaSetParserStructuredErrors(pc, conf_xsd_error, x);
	schema = xmlSchemaParse(pc);
	xmlSchemaFreeParserCtxt(pc);
	if (!schema) {
		if (!x->nerrors)
			conf_emit(x, CONF_XSD_NAME, 0, "the schema does not compile");
		return -1;
	}
	if ((vc = xmlSchemaNewValidCtxt(schema)) == NULL) {
		x->oom = 1;
		goto out;
	}
	xmlSchemaSetValidStructuredErrors(vc, conf_xml_error, x);
	rc = xmlSchemaValidateDoc(vc, doc);
	if (rc != 0 && !x->nerrors)
		conf_error(x, 0, "does not match the schema");
out:
	xmlSchemaFreeValidCtxt(vc);
	xmlSchemaFree(schema);
	return rc == 0 ? 0 : -1;
}

/* The absolute folder of the configuration file. */
static char *
conf_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d, *real;

	if (!slash)
		d = strdup(".");
	else if (slash == path)
		d = strdup("/");
	else
		d = strndup(path, (size_t)(slash - path));
	if (!d)
		return NULL;
	/* the file was opened a moment ago, so this only fails on ENOMEM */
	if ((real = realpath(d, NULL)) != NULL) {
		free(d);
		return real;
	}
	return d;
}

/* ---- the API -------------------------------------------------------------- */

void
ctp_conf_defaults(struct ctp_conf *c)
{
	struct sockaddr_in *any = (struct sockaddr_in *)&c->bind;

	memset(c, 0, sizeof *c);
	c->roles = 0;
	c->backend = CTP_BACKEND_AUTO;
	any->sin_family = AF_INET;
	any->sin_addr.s_addr = htonl(INADDR_ANY);
	c->sctp_port = CTP_SCTP_PORT;
	c->udp_port = CTP_UDP_ENCAPS_PORT;
	c->udp_encaps = 0;
	c->ppid_plain = CTP_PPID_PLAIN;
	c->ppid_tls = CTP_PPID_TLS;
	c->mn_icmp = 1;
	c->mn_udp_port = 0;
	/* PROFILE 1.7 and 1.6 */
	c->timers.request_rate = 10;
	c->timers.max_transfer_ms = 200;
	c->timers.request_retry_ms = 2000;
	c->timers.retry_max_ms = 15000;
	c->timers.max_handover_ms = 2000;
	c->timers.dup_window_ms = 7000;
	c->timers.handshake_ms = 5000;
	c->timers.reconnect_ms = 1000;
	c->limits.peers = 64;
	c->limits.transfers = 4096;
	c->limits.transfers_per_peer = 1024;
	c->limits.cached_pctd = 1024;
	c->limits.cdbs_per_message = 64;
	c->limits.control_clients = 16;
	c->limits.queue_bytes = 1048576;
	c->log_level = CTP_LOG_NOTICE;
	c->log_syslog = 0;
}

int
ctp_conf_load(const char *path, void (*report)(const char *line, void *arg), void *arg,
    struct ctp_conf **out, struct ctp_err *err)
{
	struct conf_ctx x = { .path = path, .report = report, .arg = arg, .err = err };
	xmlStructuredErrorFunc old_fn;
	void *old_arg;
	const xmlNode *over = NULL;
	xmlNode *root;
	xmlDoc *doc = NULL;
	char *buf;
	size_t len = 0;
	long count = 0;
	int rc = CTP_E_CONFIG;

	if (out)
		*out = NULL;
	if (!path || !out)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "ctp_conf_load: no path or no out");
	pthread_once(&conf_xml_once, conf_xml_init);

	if ((buf = conf_read(&x, &len, &rc)) == NULL)
		return rc;
	rc = CTP_E_CONFIG;
	if ((x.c = malloc(sizeof *x.c)) == NULL) {
		x.oom = 1;
		goto done;
	}
	ctp_conf_defaults(x.c);
	if ((x.dir = conf_dir(path)) == NULL || (x.c->file = strdup(path)) == NULL) {
		x.oom = 1;
		goto done;
	}

	/* Route every libxml2 message of this load to our lines. */
	old_fn = xmlStructuredError;
	old_arg = xmlStructuredErrorContext;
	xmlSetStructuredErrorFunc(&x, conf_xml_error);
	doc = conf_parse(&x, buf, len);
	ctp_wipe(buf, len);
	free(buf);
	buf = NULL;
	if (doc) {
		root = xmlDocGetRootElement(doc);
		if (conf_count_elements(root, &count, &over) > CONF_MAX_ELEMENTS)
			conf_error_el(&x, over, "more than %d elements", CONF_MAX_ELEMENTS);
		else if (conf_check_root(&x, root) == 0 && conf_validate(&x, doc) == 0 && !x.oom) {
			/* pass 3, in document order, then the checks across elements */
			for (const xmlNode *el = root->children; el; el = el->next)
				for (size_t i = 0; i < sizeof conf_elements / sizeof conf_elements[0]; i++)
					if (conf_is(el, conf_elements[i].name))
						conf_elements[i].fn(&x, el);
			conf_check_all(&x);
		}
		conf_wipe_psks(doc);
		xmlFreeDoc(doc);
	}
	xmlSetStructuredErrorFunc(old_arg, old_fn);

done:
	if (buf) {
		ctp_wipe(buf, len);
		free(buf);
	}
	if (x.oom) {
		/* the first line says so even when other errors came before */
		rc = x.code = CTP_E_NOMEM;
		conf_error(&x, 0, "out of memory");
	}
	free(x.dir);
	if (x.nerrors || x.oom || !doc) {
		if (!x.nerrors)
			conf_error(&x, 0, "cannot load the configuration");
		ctp_conf_free(x.c);
		return x.oom ? CTP_E_NOMEM : rc;
	}
	*out = x.c;
	return 0;
}

/* The tls strings are const for ctp_tls_new; the conf owns them. */
static void
conf_free_const(const char *s)
{
	free((void *)(uintptr_t)s);
}

void
ctp_conf_free(struct ctp_conf *c)
{
	if (!c)
		return;
	free(c->file);
	free(c->node_name);
	conf_free_const(c->tls.ca);
	conf_free_const(c->tls.cert);
	conf_free_const(c->tls.key);
	conf_free_const(c->tls.keylog);
	for (size_t i = 0; i < c->npeers && i < CTP_CONF_MAX_PEERS; i++) {
		struct ctp_conf_peer *p = &c->peers[i];

		free(p->name);
		free(p->identity);
		free(p->psk_identity);
		ctp_secret_free(p->psk);
	}
	for (size_t i = 0; i < c->nplugins && i < CTP_CONF_MAX_PLUGINS; i++) {
		free(c->plugins[i].name);
		free(c->plugins[i].path);
		ctp_val_free(c->plugins[i].config);
	}
	free(c->plugin_dir);
	free(c->control);
	free(c->pcap);
	free(c->user);
	free(c);
}

const struct ctp_conf_peer *
ctp_conf_peer(const struct ctp_conf *c, const char *name)
{
	if (!c || !name)
		return NULL;
	for (size_t i = 0; i < c->npeers; i++)
		if (c->peers[i].name && strcmp(c->peers[i].name, name) == 0)
			return &c->peers[i];
	return NULL;
}

static int
conf_str_differ(const char *a, const char *b)
{
	if (!a || !b)
		return a != b;
	return strcmp(a, b) != 0;
}

/*
 * Everything the association or its secure channel was built from.  Roles
 * are not: they are checked per message, so a new role applies at once.
 */
int
ctp_conf_peer_changed(const struct ctp_conf_peer *a, const struct ctp_conf_peer *b)
{
	struct ctp_addr aa, ba;
	uint16_t ap, bp;

	if (!a || !b)
		return a != b;
	conf_sockaddr_addr(&a->addr, &aa, &ap);
	conf_sockaddr_addr(&b->addr, &ba, &bp);
	if (conf_str_differ(a->name, b->name) || !ctp_addr_eq(&aa, &ba) || ap != bp ||
	    a->udp_port != b->udp_port || a->sec != b->sec ||
	    conf_str_differ(a->identity, b->identity) ||
	    conf_str_differ(a->psk_identity, b->psk_identity) ||
	    a->allow_keys_plain != b->allow_keys_plain)
		return 1;
	if (!a->psk || !b->psk)
		return a->psk != b->psk;
	return a->psk->len != b->psk->len || memcmp(a->psk->p, b->psk->p, a->psk->len) != 0;
}
