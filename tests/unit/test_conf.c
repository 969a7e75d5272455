/*
 * test_conf.c: the configuration loader (src/ctp/ctp_conf.c) against the
 * files of tests/conf/ (or $CTP_CONF_TEST_DIR).
 *
 *   good/NAME.xml  must load without a single error line; minimal, full,
 *               ipv6-psk and spelling are also checked value by value.
 *   bad/NAME.xml   must fail, and the lines reported must be exactly those of
 *               the sibling .expected file, which names the file relative
 *               to tests/conf ("bad/x.xml:4: ..."): the test prefixes the
 *               directory, since lines start with the path as given.
 *
 * Bounds that would need large committed files (file size, element count,
 * nesting) are built in a temporary directory instead.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "ctp/ctp_conf.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_proto.h"
#include "ctp/ctp_val.h"
#include "test.h"

/* An assertion that says what went wrong; cond is evaluated once. */
#define CHECK(cond, ...) do {                                                \
	int check_ok_ = !!(cond);                                            \
	if (!check_ok_) {                                                    \
		fprintf(stderr, "\n  %s:%d: ", __FILE__, __LINE__);          \
		fprintf(stderr, __VA_ARGS__);                                \
		fputc('\n', stderr);                                         \
	}                                                                    \
	CU_assertImplementation(check_ok_, __LINE__, #cond, __FILE__, "",    \
	    CU_FALSE);                                                       \
} while (0)

#define CHECK_STR(got, want) do {                                            \
	const char *g_ = (got), *w_ = (want);                                \
	CHECK(g_ && w_ && strcmp(g_, w_) == 0, "got [%s]\n  want [%s]",      \
	    g_ ? g_ : "(null)", w_ ? w_ : "(null)");                         \
} while (0)

static const char *
conf_test_dir(void)
{
	const char *d = getenv("CTP_CONF_TEST_DIR");

	return d ? d : "tests/conf";
}

/* ---- collecting the report lines -------------------------------------------- */

struct lines {
	char  *v[80];
	size_t n;
};

static void
lines_add(const char *line, void *arg)
{
	struct lines *l = arg;

	if (l->n < sizeof l->v / sizeof l->v[0])
		l->v[l->n++] = strdup(line);
}

static void
lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

/* Load dir/name; rc, with the lines in *l and the configuration in *out. */
static int
conf_load(const char *name, struct lines *l, struct ctp_conf **out, struct ctp_err *err)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/%s", conf_test_dir(), name);
	memset(err, 0, sizeof *err);
	return ctp_conf_load(path, lines_add, l, out, err);
}

/* Load a file that must be good; NULL (after assertions) if it is not. */
static struct ctp_conf *
conf_good(const char *name)
{
	struct lines l = { .n = 0 };
	struct ctp_conf *c = NULL;
	struct ctp_err err;
	int rc = conf_load(name, &l, &c, &err);

	CHECK(rc == 0, "%s: rc %d (%s), first line: %s", name, rc, ctp_errname(rc),
	    l.n ? l.v[0] : "(none)");
	CHECK(l.n == 0, "%s: %zu error lines", name, l.n);
	CHECK(err.code == 0, "%s: err.code %d", name, err.code);
	CHECK(c != NULL, "%s: no configuration", name);
	lines_free(&l);
	if (rc != 0 && c) {
		ctp_conf_free(c);
		c = NULL;
	}
	return c;
}

/* realpath(dir/rel), for comparing resolved paths whatever the checkout. */
static char *
conf_real(const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/%s", conf_test_dir(), rel);
	return realpath(path, NULL);
}

/* The folder of the good files, absolute, plus "/" rel: what the loader
 * makes of a relative path (it does not normalise "..": see conf_path). */
static char *
conf_resolved(const char *rel)
{
	char *dir = conf_real("good"), *p = NULL;

	if (dir && asprintf(&p, "%s/%s", dir, rel) < 0)
		p = NULL;
	free(dir);
	return p;
}

static void
conf_check_path(const char *got, const char *rel, const char *real_rel)
{
	char *want = conf_resolved(rel);

	CHECK_STR(got, want);
	if (got && real_rel) {
		char *a = realpath(got, NULL), *b = conf_real(real_rel);

		CHECK(a && b && strcmp(a, b) == 0, "%s is not %s", got, real_rel);
		free(a);
		free(b);
	}
	free(want);
}

static void
conf_check_addr(const struct sockaddr_storage *ss, const char *text, unsigned port)
{
	char buf[INET6_ADDRSTRLEN] = "";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s->sin_addr, buf, sizeof buf);
		CHECK(ntohs(s->sin_port) == port, "%s: port %u, want %u", text, ntohs(s->sin_port), port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof buf);
		CHECK(ntohs(s->sin6_port) == port, "%s: port %u, want %u", text, ntohs(s->sin6_port), port);
	}
	CHECK_STR(buf, text);
}

static void
conf_check_json(const struct ctp_val *v, const char *want)
{
	char *got = ctp_json_string(v, 0);

	CHECK_STR(got, want);
	free(got);
}

/* ---- defaults and the good files ---------------------------------------------- */

/* The values PROFILE.md and ctpd.conf(5) promise when the file says nothing. */
static void
conf_check_defaults(const struct ctp_conf *c)
{
	CU_ASSERT_EQUAL(c->backend, CTP_BACKEND_AUTO);
	CU_ASSERT_EQUAL(c->sctp_port, 5091);
	CU_ASSERT_EQUAL(c->udp_port, 9899);
	CU_ASSERT_EQUAL(c->udp_encaps, 0);
	CU_ASSERT_EQUAL(c->ppid_plain, 0x43585450u);
	CU_ASSERT_EQUAL(c->ppid_tls, 0x43585453u);
	CU_ASSERT_PTR_NULL(c->tls.ca);
	CU_ASSERT_PTR_NULL(c->tls.cert);
	CU_ASSERT_PTR_NULL(c->tls.key);
	CU_ASSERT_PTR_NULL(c->tls.keylog);
	CU_ASSERT_EQUAL(c->tls.allow_keylog, 0);
	CU_ASSERT_EQUAL(c->mn_icmp, 1);
	CU_ASSERT_EQUAL(c->mn_udp_port, 0);
	CU_ASSERT_EQUAL(c->nplugins, 0);
	CU_ASSERT_PTR_NULL(c->plugin_dir);
	CU_ASSERT_EQUAL(c->timers.request_rate, 10);
	CU_ASSERT_EQUAL(c->timers.max_transfer_ms, 200);
	CU_ASSERT_EQUAL(c->timers.request_retry_ms, 2000);
	CU_ASSERT_EQUAL(c->timers.retry_max_ms, 15000);
	CU_ASSERT_EQUAL(c->timers.max_handover_ms, 2000);
	CU_ASSERT_EQUAL(c->timers.dup_window_ms, 7000);
	CU_ASSERT_EQUAL(c->timers.handshake_ms, 5000);
	CU_ASSERT_EQUAL(c->timers.reconnect_ms, 1000);
	CU_ASSERT_EQUAL(c->limits.peers, 64);
	CU_ASSERT_EQUAL(c->limits.transfers, 4096);
	CU_ASSERT_EQUAL(c->limits.transfers_per_peer, 1024);
	CU_ASSERT_EQUAL(c->limits.cached_pctd, 1024);
	CU_ASSERT_EQUAL(c->limits.cdbs_per_message, 64);
	CU_ASSERT_EQUAL(c->limits.control_clients, 16);
	CU_ASSERT_EQUAL(c->limits.queue_bytes, 1048576);
	CU_ASSERT_PTR_NULL(c->pcap);
	CU_ASSERT_EQUAL(c->log_level, CTP_LOG_NOTICE);
	CU_ASSERT_EQUAL(c->log_syslog, 0);
	CU_ASSERT_PTR_NULL(c->user);
}

static void
test_conf_defaults(void)
{
	struct ctp_conf *c = malloc(sizeof *c);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	memset(c, 0xa5, sizeof *c);
	ctp_conf_defaults(c);
	conf_check_defaults(c);
	CU_ASSERT_EQUAL(c->npeers, 0);
	CU_ASSERT_EQUAL(c->naddrs, 0);
	CU_ASSERT_PTR_NULL(c->control);   /* allocates nothing */
	CU_ASSERT_EQUAL(c->bind.ss_family, AF_INET);
	free(c);
}

static void
test_conf_minimal(void)
{
	struct ctp_conf *c = conf_good("good/minimal.xml");
	char buf[CTP_ADDRSTRLEN];
	char *want;

	if (!c)
		return;
	conf_check_defaults(c);
	CU_ASSERT(asprintf(&want, "%s/good/minimal.xml", conf_test_dir()) > 0);
	CHECK_STR(c->file, want);
	free(want);
	CHECK_STR(c->node_name, "ar1");
	CU_ASSERT_EQUAL(c->roles, CTP_ROLE_AR);
	CU_ASSERT_EQUAL(c->naddrs, 1);
	CHECK_STR(ctp_addr_fmt(&c->addrs[0], buf, sizeof buf), "192.0.2.1");
	CU_ASSERT_EQUAL(c->npeers, 0);
	conf_check_addr(&c->bind, "0.0.0.0", 0);
	CHECK_STR(c->control, CTP_CONF_CONTROL_DEFAULT);
	CU_ASSERT_PTR_NULL(ctp_conf_peer(c, "anyone"));
	ctp_conf_free(c);
}

static void
test_conf_full(void)
{
	struct ctp_conf *c = conf_good("good/full.xml");
	char buf[CTP_ADDRSTRLEN];
	const struct ctp_conf_peer *p;
	static const uint8_t psk[32] = {
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
		16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
	};

	if (!c)
		return;
	CHECK_STR(c->node_name, "nar");
	CU_ASSERT_EQUAL(c->roles, CTP_ROLE_AR | CTP_ROLE_SG);
	CU_ASSERT_EQUAL_FATAL(c->naddrs, 2);
	CHECK_STR(ctp_addr_fmt(&c->addrs[0], buf, sizeof buf), "192.0.2.2");
	CHECK_STR(ctp_addr_fmt(&c->addrs[1], buf, sizeof buf), "2001:db8::2");

	CU_ASSERT_EQUAL(c->backend, CTP_BACKEND_USRSCTP);
	conf_check_addr(&c->bind, "192.0.2.2", 0);
	CU_ASSERT_EQUAL(c->sctp_port, 5092);
	CU_ASSERT_EQUAL(c->udp_port, 9900);
	CU_ASSERT_EQUAL(c->udp_encaps, 1);
	CU_ASSERT_EQUAL(c->ppid_plain, 0x43585451u);
	CU_ASSERT_EQUAL(c->ppid_tls, 1129862228u);

	/* relative paths: against the file's folder, made absolute */
	conf_check_path(c->tls.ca, "../files/ca.pem", "files/ca.pem");
	conf_check_path(c->tls.cert, "../files/nar.pem", "files/nar.pem");
	conf_check_path(c->tls.key, "../files/nar.key", "files/nar.key");
	conf_check_path(c->tls.keylog, "keys.log", NULL);
	CU_ASSERT_EQUAL(c->tls.allow_keylog, 1);

	CU_ASSERT_EQUAL_FATAL(c->npeers, 5);
	p = ctp_conf_peer(c, "par");
	CU_ASSERT_PTR_EQUAL_FATAL(p, &c->peers[0]);
	conf_check_addr(&p->addr, "192.0.2.1", 5092);   /* the node's ports */
	CU_ASSERT_EQUAL(p->udp_port, 9900);
	CU_ASSERT_EQUAL(p->roles, CTP_ROLE_AR);
	CU_ASSERT_EQUAL(p->sec, CTP_SEC_TLS);
	CU_ASSERT_PTR_NULL(p->identity);
	CU_ASSERT_PTR_NULL(p->psk);
	CU_ASSERT_PTR_NULL(p->psk_identity);
	CU_ASSERT_EQUAL(p->allow_keys_plain, 0);
	CU_ASSERT_EQUAL(p->line, 16);

	p = ctp_conf_peer(c, "par6");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	conf_check_addr(&p->addr, "2001:db8::1", 6000);
	CU_ASSERT_EQUAL(p->udp_port, 6001);
	CU_ASSERT_EQUAL(p->roles, CTP_ROLE_AR | CTP_ROLE_SG);
	CHECK_STR(p->identity, "par.example.net");

	p = ctp_conf_peer(c, "sg1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(p->roles, CTP_ROLE_SG);
	CU_ASSERT_EQUAL(p->sec, CTP_SEC_TLS);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p->psk);
	CU_ASSERT_EQUAL(p->psk->len, 32);
	CU_ASSERT(memcmp(p->psk->p, psk, 32) == 0);
	CHECK_STR(p->psk_identity, "nar-sg1");

	p = ctp_conf_peer(c, "lab");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(p->sec, CTP_SEC_NONE);
	CU_ASSERT_EQUAL(p->allow_keys_plain, 1);

	p = ctp_conf_peer(c, "esp");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(p->sec, CTP_SEC_IPSEC);
	conf_check_addr(&p->addr, "2001:db8:1::9", 5092);

	CU_ASSERT_EQUAL(c->mn_icmp, 0);
	CU_ASSERT_EQUAL(c->mn_udp_port, 9898);

	conf_check_path(c->plugin_dir, "../files", "files");
	CU_ASSERT_EQUAL_FATAL(c->nplugins, 3);
	CHECK_STR(c->plugins[0].name, "ipsec");
	conf_check_path(c->plugins[0].path, "../files/plugin.placeholder", "files/plugin.placeholder");
	/* child elements are arrays (also when single), attributes members,
	 * all-digit attributes integers, everything else strings */
	conf_check_json(c->plugins[0].config,
	    "{\"sad\":[{\"backend\":\"mem\"}],"
	    "\"policy\":[{\"spi-conflict\":\"renegotiate\",\"seq-margin\":32768,"
	    "\"offer-upgrade\":\"false\"}],"
	    "\"path\":[{\"plane\":\"data\",\"hop\":[{\"address\":\"192.0.2.2\"},"
	    "{\"address\":\"192.0.2.30\",\"sg\":\"true\"}]},"
	    "{\"plane\":\"control\",\"hop\":[{\"address\":\"192.0.2.2\"}]}],"
	    "\"sg-replace\":[{\"local\":\"192.0.2.30\",\"remote\":\"198.51.100.30\","
	    "\"peer\":\"par\"}]}");
	CHECK_STR(c->plugins[1].name, "mld");
	CU_ASSERT_PTR_NULL(c->plugins[1].path);
	conf_check_json(c->plugins[1].config, "{}");
	CHECK_STR(c->plugins[2].name, "demo-tree");
	/* text trimmed, too-big numbers kept as text, CDATA is text, elements
	 * of other namespaces by their local name, attributes trimmed only to
	 * recognise a number */
	conf_check_json(c->plugins[2].config,
	    "{\"limit\":[{\"count\":42,\"name\":\"x1\",\"text\":\"some text\"},"
	    "{\"count\":\"18446744073709551616\",\"name\":\"007x\"}],"
	    "\"empty\":[{}],"
	    "\"thing\":[{\"n\":7,\"text\":\"<raw>\"}]}");
	CU_ASSERT(c->plugins[0].line > 0 && c->plugins[1].line > c->plugins[0].line);

	CU_ASSERT_EQUAL(c->timers.request_rate, 20);
	CU_ASSERT_EQUAL(c->timers.max_transfer_ms, 300);
	CU_ASSERT_EQUAL(c->timers.request_retry_ms, 1000);
	CU_ASSERT_EQUAL(c->timers.retry_max_ms, 8000);
	CU_ASSERT_EQUAL(c->timers.max_handover_ms, 3000);
	CU_ASSERT_EQUAL(c->timers.dup_window_ms, 8000);
	CU_ASSERT_EQUAL(c->timers.handshake_ms, 4000);
	CU_ASSERT_EQUAL(c->timers.reconnect_ms, 500);
	CU_ASSERT_EQUAL(c->limits.peers, 32);
	CU_ASSERT_EQUAL(c->limits.transfers, 2048);
	CU_ASSERT_EQUAL(c->limits.transfers_per_peer, 512);
	CU_ASSERT_EQUAL(c->limits.cached_pctd, 256);
	CU_ASSERT_EQUAL(c->limits.cdbs_per_message, 32);
	CU_ASSERT_EQUAL(c->limits.control_clients, 8);
	CU_ASSERT_EQUAL(c->limits.queue_bytes, 65536);
	CHECK_STR(c->control, "/run/ctpd-test.sock");
	CU_ASSERT_EQUAL(c->log_level, CTP_LOG_PRIVATE);   /* private="true" */
	CU_ASSERT_EQUAL(c->log_syslog, 1);
	conf_check_path(c->pcap, "cxtp.pcap", NULL);
	CHECK_STR(c->user, "ctpd");
	ctp_conf_free(c);
}

static void
test_conf_ipv6_psk(void)
{
	struct ctp_conf *c = conf_good("good/ipv6-psk.xml");
	const struct ctp_conf_peer *p;

	if (!c)
		return;
	CU_ASSERT_EQUAL(c->backend, CTP_BACKEND_KERNEL);
	CU_ASSERT_EQUAL(c->naddrs, 2);
	/* an IPv6 node listens on "::" unless told otherwise */
	conf_check_addr(&c->bind, "::", 0);
	CU_ASSERT_PTR_NULL(c->tls.cert);
	CU_ASSERT_EQUAL_FATAL(c->npeers, 3);
	p = &c->peers[0];
	CHECK_STR(p->name, "ar7");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p->psk);
	CU_ASSERT_EQUAL(p->psk->len, 16);
	CU_ASSERT_EQUAL(p->psk->p[0], 0xa0);   /* upper-case hex */
	CU_ASSERT_EQUAL(p->psk->p[15], 0xaf);
	CHECK_STR(p->psk_identity, "ar6+ar7");
	p = &c->peers[1];
	conf_check_addr(&p->addr, "::ffff:192.0.2.8", 5091);
	CU_ASSERT_EQUAL(p->udp_port, 9901);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p->psk);
	CU_ASSERT_EQUAL(p->psk->len, 64);
	CU_ASSERT_EQUAL(c->peers[2].sec, CTP_SEC_IPSEC);
	CU_ASSERT_EQUAL(c->peers[2].roles, CTP_ROLE_SG);
	ctp_conf_free(c);
}

/* What XML Schema accepts besides the plain spelling, read the same way. */
static void
test_conf_spelling(void)
{
	struct ctp_conf *c = conf_good("good/spelling.xml");

	if (!c)
		return;
	CHECK_STR(c->node_name, "sg-2.example");
	CU_ASSERT_EQUAL(c->roles, CTP_ROLE_AR | CTP_ROLE_SG);
	CU_ASSERT_EQUAL(c->sctp_port, 5091);
	CU_ASSERT_EQUAL(c->udp_encaps, 1);
	CU_ASSERT_EQUAL(c->ppid_plain, 0x4358545au);
	CU_ASSERT_EQUAL(c->ppid_tls, 0);
	CU_ASSERT_EQUAL_FATAL(c->npeers, 1);
	CU_ASSERT_EQUAL(c->peers[0].udp_port, 9899);
	CU_ASSERT_EQUAL(c->mn_icmp, 0);
	CU_ASSERT_EQUAL(c->timers.request_retry_ms, 2000);
	CU_ASSERT_EQUAL(c->timers.retry_max_ms, 2000);
	CU_ASSERT_EQUAL(c->log_level, CTP_LOG_WARN);
	CU_ASSERT_EQUAL(c->log_syslog, 0);
	ctp_conf_free(c);
}

/* Every file of a folder ending in ext, sorted; returns the count. */
static size_t
conf_list(const char *sub, char names[][128], size_t cap)
{
	char path[PATH_MAX];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof path, "%s/%s", conf_test_dir(), sub);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL && n < cap) {
		size_t len = strlen(e->d_name);

		if (len > 4 && len < 100 && strcmp(e->d_name + len - 4, ".xml") == 0)
			snprintf(names[n++], 128, "%s/%s", sub, e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
	return n;
}

static void
test_conf_good_all(void)
{
	static char names[64][128];
	size_t n = conf_list("good", names, 64);

	CHECK(n >= 4, "only %zu good files in %s/good", n, conf_test_dir());
	for (size_t i = 0; i < n; i++) {
		struct ctp_conf *c = conf_good(names[i]);

		ctp_conf_free(c);
	}
}

/* ---- the bad files ---------------------------------------------------------- */

static void
test_conf_bad_all(void)
{
	static char names[128][128];
	size_t n = conf_list("bad", names, 128);
	const char *dir = conf_test_dir();

	CHECK(n >= 25, "only %zu bad files in %s/bad", n, dir);
	for (size_t i = 0; i < n; i++) {
		static char sentinel;
		struct lines l = { .n = 0 };
		struct ctp_conf *c = (struct ctp_conf *)(void *)&sentinel;  /* must become NULL */
		struct ctp_err err;
		char exp_path[PATH_MAX], *text;
		size_t len = 0, k = 0;
		int rc;

		snprintf(exp_path, sizeof exp_path, "%s/%.*s.expected", dir,
		    (int)(strlen(names[i]) - 4), names[i]);
		text = (char *)ctp_test_read_file(exp_path, &len);
		CHECK(text != NULL, "%s: no %s", names[i], exp_path);
		rc = conf_load(names[i], &l, &c, &err);
		CHECK(rc < 0, "%s: loaded", names[i]);
		CHECK(c == NULL, "%s: *out not NULL", names[i]);
		CHECK(err.code == rc, "%s: err.code %d, rc %d", names[i], err.code, rc);
		CHECK(l.n >= 1, "%s: no error line", names[i]);
		/* err->what is the first line, cut to its size */
		if (l.n)
			CHECK(strncmp(err.what, l.v[0], sizeof err.what - 1) == 0,
			    "%s: err.what [%s]", names[i], err.what);
		for (char *line = text, *nl; text && *line; line = nl + 1, k++) {
			char want[1024];

			if ((nl = strchr(line, '\n')) == NULL)
				nl = line + strlen(line) - 1;
			else
				*nl = '\0';
			snprintf(want, sizeof want, "%s/%s", dir, line);
			CHECK(k < l.n && strcmp(l.v[k], want) == 0,
			    "%s, line %zu:\n   got [%s]\n  want [%s]", names[i], k + 1,
			    k < l.n ? l.v[k] : "(nothing)", want);
		}
		CHECK(k == l.n, "%s: %zu lines, %zu expected", names[i], l.n, k);
		/* XXE: nothing of /etc/passwd may reach a message */
		for (size_t j = 0; j < l.n; j++)
			CHECK(strstr(l.v[j], "root:") == NULL, "%s: %s", names[i], l.v[j]);
		if (rc == 0)
			ctp_conf_free(c);
		free(text);
		lines_free(&l);
	}
}

/* Also without a report callback: err->what still names the problem. */
static void
test_conf_no_report(void)
{
	struct ctp_conf *c = NULL;
	struct ctp_err err = { 0 };
	char path[PATH_MAX];
	int rc;

	snprintf(path, sizeof path, "%s/bad/unknown-backend.xml", conf_test_dir());
	rc = ctp_conf_load(path, NULL, NULL, &c, &err);
	CU_ASSERT_EQUAL(rc, CTP_E_CONFIG);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT(strncmp(err.what, path, strlen(path)) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, ":4: Element 'transport', attribute 'backend'"));
	CU_ASSERT_EQUAL(ctp_conf_load(NULL, NULL, NULL, &c, NULL), CTP_E_INVAL);
}

/* ---- bounds and file errors, in a temporary directory ---------------------- */

static char conf_tmp[64];

static int
conf_suite_init(void)
{
	snprintf(conf_tmp, sizeof conf_tmp, "/tmp/ctp-conf-XXXXXX");
	return mkdtemp(conf_tmp) ? 0 : -1;
}

/* The files the tests below write into conf_tmp. */
static const char *const conf_tmp_names[] = {
	"big.xml", "almost.xml", "many.xml", "deep.xml", "deep16.xml", "errors.xml",
	"par.xml", "nar.xml", "pki/ca.pem", "pki/par.pem", "pki/par.key", "pki/nar.pem",
	"pki/nar.key", "pki",
};

static int
conf_suite_clean(void)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof conf_tmp_names / sizeof conf_tmp_names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", conf_tmp, conf_tmp_names[i]);
		if (unlink(path) != 0 && errno == EISDIR)
			rmdir(path);
	}
	return rmdir(conf_tmp) == 0 ? 0 : -1;
}

/* Write name in the temporary directory; returns its path (static). */
static const char *
conf_tmp_file(const char *name, const char *head, const char *repeat, size_t times,
    const char *tail)
{
	static char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", conf_tmp, name);
	if ((f = fopen(path, "w")) == NULL)
		return path;
	fputs(head, f);
	for (size_t i = 0; i < times; i++)
		fputs(repeat, f);
	fputs(tail, f);
	fclose(f);
	return path;
}

/* Load path; the single line it must report is path + suffix. */
static void
conf_expect(const char *path, int want_rc, const char *suffix)
{
	struct lines l = { .n = 0 };
	struct ctp_conf *c = NULL;
	struct ctp_err err;
	char want[PATH_MAX + 200];
	int rc;

	memset(&err, 0, sizeof err);
	rc = ctp_conf_load(path, lines_add, &l, &c, &err);
	CHECK(rc == want_rc, "%s: rc %d (%s), want %d", path, rc, ctp_errname(rc), want_rc);
	CHECK(err.code == rc, "%s: err.code %d, rc %d", path, err.code, rc);
	CU_ASSERT_PTR_NULL(c);
	snprintf(want, sizeof want, "%s%s", path, suffix);
	CHECK(l.n == 1, "%s: %zu lines", path, l.n);
	if (l.n)
		CHECK_STR(l.v[0], want);
	if (rc == 0)
		ctp_conf_free(c);
	lines_free(&l);
}

#define HEAD "<ctpd xmlns=\"urn:ctpd:config:1\">\n" \
	"<node name=\"n\" roles=\"ar\"><address>192.0.2.1</address></node>\n"

static void
test_conf_files(void)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/does-not-exist.xml", conf_tmp);
	conf_expect(path, CTP_E_IO, ": No such file or directory");
	conf_expect(conf_tmp, CTP_E_IO, ": not a regular file");
	conf_expect(conf_tmp_file("big.xml", HEAD, "<!-- padding padding padding -->\n",
	    1024 * 1024 / 32, "</ctpd>\n"), CTP_E_LIMIT, ": larger than 1048576 octets");
	/* just under the size bound is fine */
	CU_ASSERT_PTR_NOT_NULL(conf_tmp_file("almost.xml", HEAD,
	    "<!-- padding padding padding -->\n", 1024 * 1024 / 33 - 8, "</ctpd>\n"));
	{
		struct ctp_conf *c = NULL;
		struct ctp_err err = { 0 };

		snprintf(path, sizeof path, "%s/almost.xml", conf_tmp);
		CU_ASSERT_EQUAL(ctp_conf_load(path, NULL, NULL, &c, &err), 0);
		ctp_conf_free(c);
	}
}

static void
test_conf_bounds(void)
{
	char suffix[80];

	/* More elements than CONF_MAX_ELEMENTS (20000), inside a plugin: five
	 * come before the first <a/> (line 4), so element 20001 is <a/> number
	 * 19996, on line 3 + 19996. */
	snprintf(suffix, sizeof suffix, ":%d: more than 20000 elements", 3 + 20001 - 5);
	conf_expect(conf_tmp_file("many.xml", HEAD "<plugins><plugin name=\"x\">\n", "<a/>\n",
	    20000, "</plugin></plugins></ctpd>\n"), CTP_E_CONFIG, suffix);
	/* nested deeper than 16 levels inside a plugin */
	conf_expect(conf_tmp_file("deep.xml", HEAD "<plugins><plugin name=\"x\">\n", "<a>\n", 17,
	    "</a></a></a></a></a></a></a></a></a></a></a></a></a></a></a></a></a>"
	    "</plugin></plugins></ctpd>\n"), CTP_E_CONFIG,
	    ":20: <a>: nested more than 16 levels deep inside <plugin>");
	/* 16 levels are fine */
	{
		struct ctp_conf *c = NULL;
		struct ctp_err err = { 0 };
		const char *p = conf_tmp_file("deep16.xml", HEAD "<plugins><plugin name=\"x\">\n",
		    "<a>\n", 16, "</a></a></a></a></a></a></a></a></a></a></a></a></a></a></a></a>"
		    "</plugin></plugins></ctpd>\n");

		CU_ASSERT_EQUAL(ctp_conf_load(p, NULL, NULL, &c, &err), 0);
		ctp_conf_free(c);
	}
	/* the error lines stop after 64 */
	{
		struct lines l = { .n = 0 };
		struct ctp_conf *c = NULL;
		struct ctp_err err = { 0 };
		const char *p = conf_tmp_file("errors.xml", "<ctpd xmlns=\"urn:ctpd:config:1\">\n"
		    "<node name=\"n\" roles=\"ar\"><address>10.0.0.1</address></node>\n",
		    "<peer name=\"p\" address=\"10.0.0.1\" security=\"ipsec\"/>\n", 100, "</ctpd>\n");
		char want[PATH_MAX + 64];

		CU_ASSERT_EQUAL(ctp_conf_load(p, lines_add, &l, &c, &err), CTP_E_CONFIG);
		CU_ASSERT_EQUAL(l.n, 65);
		snprintf(want, sizeof want, "%s: more than 64 errors, giving up", p);
		if (l.n == 65)
			CHECK_STR(l.v[64], want);
		lines_free(&l);
	}
}

/* ---- look-ups and reloads ----------------------------------------------------- */

static void
test_conf_peer_changed(void)
{
	struct ctp_conf *a = conf_good("good/full.xml"), *b = conf_good("good/full.xml");
	struct ctp_conf_peer *pa, *pb;
	struct ctp_secret *keep;

	if (!a || !b) {
		ctp_conf_free(a);
		ctp_conf_free(b);
		return;
	}
	for (size_t i = 0; i < a->npeers; i++)
		CU_ASSERT_EQUAL(ctp_conf_peer_changed(&a->peers[i], &b->peers[i]), 0);
	CU_ASSERT_EQUAL(ctp_conf_peer_changed(&a->peers[0], &a->peers[1]), 1);
	CU_ASSERT_EQUAL(ctp_conf_peer_changed(NULL, NULL), 0);
	CU_ASSERT_EQUAL(ctp_conf_peer_changed(&a->peers[0], NULL), 1);

	pa = &a->peers[2];    /* sg1, with a PSK */
	pb = &b->peers[2];
	pb->roles = CTP_ROLE_AR;   /* roles apply per message: no new association */
	CU_ASSERT_EQUAL(ctp_conf_peer_changed(pa, pb), 0);
	pb->psk->p[31] ^= 1;
	CU_ASSERT_EQUAL(ctp_conf_peer_changed(pa, pb), 1);
	pb->psk->p[31] ^= 1;
	keep = pb->psk;
	pb->psk = NULL;
	CU_ASSERT_EQUAL(ctp_conf_peer_changed(pa, pb), 1);
	pb->psk = keep;
	pb->udp_port++;
	CU_ASSERT_EQUAL(ctp_conf_peer_changed(pa, pb), 1);
	pb->udp_port--;
	((struct sockaddr_in *)&pb->addr)->sin_port ^= 1;
	CU_ASSERT_EQUAL(ctp_conf_peer_changed(pa, pb), 1);
	((struct sockaddr_in *)&pb->addr)->sin_port ^= 1;
	pb->sec = CTP_SEC_IPSEC;
	CU_ASSERT_EQUAL(ctp_conf_peer_changed(pa, pb), 1);
	pb->sec = pa->sec;
	CU_ASSERT_EQUAL(ctp_conf_peer_changed(pa, pb), 0);

	CU_ASSERT_PTR_EQUAL(ctp_conf_peer(a, "esp"), &a->peers[4]);
	CU_ASSERT_PTR_NULL(ctp_conf_peer(a, "ESP"));
	CU_ASSERT_PTR_NULL(ctp_conf_peer(NULL, "esp"));
	ctp_conf_free(a);
	ctp_conf_free(b);
	ctp_conf_free(NULL);
}

/*
 * docs/examples/{par,nar}.xml load as they are, given their pki/ folder
 * (placeholders here: the loader only checks that the files are there).
 */
static void
test_conf_examples(void)
{
	static const char *const names[] = { "par.xml", "nar.xml" };
	static const char *const pki[] = { "ca.pem", "par.pem", "par.key", "nar.pem", "nar.key" };
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/pki", conf_tmp);
	CU_ASSERT_FATAL(mkdir(path, 0700) == 0 || errno == EEXIST);
	for (size_t i = 0; i < sizeof pki / sizeof pki[0]; i++) {
		char name[32];

		snprintf(name, sizeof name, "pki/%s", pki[i]);
		conf_tmp_file(name, "placeholder\n", "", 0, "");
	}
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		struct lines l = { .n = 0 };
		struct ctp_conf *c = NULL;
		struct ctp_err err = { 0 };
		unsigned char *text;
		size_t len = 0;

		snprintf(path, sizeof path, "%s/../../docs/examples/%s", conf_test_dir(), names[i]);
		text = ctp_test_read_file(path, &len);
		CHECK(text != NULL, "no %s", path);
		if (!text)
			continue;
		snprintf(path, sizeof path, "%s/%s", conf_tmp, names[i]);
		conf_tmp_file(names[i], (const char *)text, "", 0, "");
		free(text);
		CHECK(ctp_conf_load(path, lines_add, &l, &c, &err) == 0, "%s: %s", names[i],
		    l.n ? l.v[0] : "?");
		if (c) {
			CU_ASSERT_EQUAL(c->backend, CTP_BACKEND_USRSCTP);
			CU_ASSERT_EQUAL(c->npeers, 1);
			CU_ASSERT_PTR_NOT_NULL(c->tls.cert);
			CU_ASSERT_EQUAL(c->peers[0].sec, CTP_SEC_TLS);
		}
		ctp_conf_free(c);
		lines_free(&l);
	}
}

/* The compiled-in schema is conf/ctpd.xsd as it is now (a stale build
 * would validate against an old schema). */
static void
test_conf_xsd_embedded(void)
{
	char path[PATH_MAX];
	size_t len = 0;
	unsigned char *xsd;

	snprintf(path, sizeof path, "%s/../../conf/ctpd.xsd", conf_test_dir());
	xsd = ctp_test_read_file(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(xsd);
	CU_ASSERT_EQUAL(ctp_conf_xsd_len, len);
	CU_ASSERT(ctp_conf_xsd_len == len && memcmp(ctp_conf_xsd, xsd, len) == 0);
	CU_ASSERT_EQUAL(ctp_conf_xsd[ctp_conf_xsd_len], '\0');
	free(xsd);
}

CTP_TEST_SUITE(conf, conf_suite_init, conf_suite_clean,
    CTP_TEST(test_conf_defaults),
    CTP_TEST(test_conf_minimal),
    CTP_TEST(test_conf_full),
    CTP_TEST(test_conf_ipv6_psk),
    CTP_TEST(test_conf_spelling),
    CTP_TEST(test_conf_good_all),
    CTP_TEST(test_conf_bad_all),
    CTP_TEST(test_conf_no_report),
    CTP_TEST(test_conf_files),
    CTP_TEST(test_conf_bounds),
    CTP_TEST(test_conf_peer_changed),
    CTP_TEST(test_conf_examples),
    CTP_TEST(test_conf_xsd_embedded),
);
