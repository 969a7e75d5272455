/*
 * fuzz_ctl.c: libFuzzer harness for the control socket (src/ctp/ctp_ctl.c:
 * line framing, the request reader, the dispatch) and the handlers a real
 * daemon registers on it: the node's (status, peers, stats, plugins, send),
 * the engine's (transfers, trigger, mn-key) and the plugins' (ipsec: sas,
 * sa-add, sa-del, esp-send; mld), all on a node with the in-memory
 * transport and one peer that never answers.
 *
 * Each input runs against a node of its own (made, used, stopped: nothing
 * carries over, so every finding replays alone).  Octet 0 picks how the
 * client writes the rest (all at once, or in pieces of 1 to 255 octets);
 * the rest is what it writes, then it shuts its side down and reads until
 * the daemon closes.
 *
 * Properties: the daemon answers and closes (no hang); every reply is one
 * line holding a JSON object with a boolean "ok"; there are no more
 * replies than requests (plus one last error line); no reply contains a
 * key the requests gave (a hex string under a member named like "key"
 * that occurs nowhere else in the request: ctp_ctl.h's promise); every
 * handle is closed at the end (uv_loop_close).  FUZZ_CTL_SHOW=1 prints the
 * replies, FUZZ_CTL_VERBOSE=1 the daemon's log.  Plugins come from
 * $CTPD_PLUGIN_DIR (tests/fuzz/run.sh builds instrumented ones) or
 * build/plugins.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <uv.h>

#include "ctp/ctp_conf.h"
#include "ctp/ctp_engine.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_node.h"
#include "ctp/ctp_tr.h"
#include "ctp/ctp_val.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CTL_REPLY_MAX (4u << 20)
#define FUZZ_CTL_SPINS     2000000
#define FUZZ_CTL_KEYS      16

static struct {
	char        dir[200];
	char        sock[256];
	const char *plugins;
	uv_loop_t   loop;
	int         stopped;
	char       *reply;
	size_t      rlen;
	char       *keys[FUZZ_CTL_KEYS];   /* secret strings of this input */
	size_t      nkeys;
} F;

static void
fuzz_ctl_cleanup(void)
{
	(void)remove(F.sock);
	(void)remove(F.dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc, (void)argv;
	signal(SIGPIPE, SIG_IGN);
	snprintf(F.dir, sizeof F.dir, "%s/fuzz-ctl.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(F.dir) == NULL)
		abort();
	snprintf(F.sock, sizeof F.sock, "%s/ctl.sock", F.dir);
	atexit(fuzz_ctl_cleanup);
	F.plugins = getenv("CTPD_PLUGIN_DIR");
	if (!F.plugins || !*F.plugins)
		F.plugins = "build/plugins";
	if ((F.reply = malloc(FUZZ_CTL_REPLY_MAX + 1)) == NULL)
		abort();
	/*
	 * The node loads and unloads the plugins for every input.  libFuzzer
	 * keeps reading the coverage counters of an instrumented library it
	 * saw loaded, so the libraries must stay mapped: one reference of our
	 * own that is never dropped.
	 */
	for (size_t i = 0; i < 2; i++) {
		char so[512];

		snprintf(so, sizeof so, "%s/%s.so", F.plugins, i ? "mld" : "ipsec");
		if (!dlopen(so, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE))
			fprintf(stderr, "fuzz_ctl: %s\n", dlerror());
	}
	ctp_log_open("fuzz", CTP_LOG_STDERR, getenv("FUZZ_CTL_VERBOSE") ? CTP_LOG_DEBUG :
	    CTP_LOG_ERR - 1);
	return 0;
}

static void
fuzz_ctl_sa4(struct sockaddr_storage *ss, const char *a, uint16_t port)
{
	struct sockaddr_in *s = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof *ss);
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	if (inet_pton(AF_INET, a, &s->sin_addr) != 1)
		abort();
}

static struct ctp_conf *
fuzz_ctl_conf(void)
{
	struct ctp_conf *c = calloc(1, sizeof *c);
	struct ctp_conf_peer *p;

	if (!c)
		abort();
	ctp_conf_defaults(c);
	c->node_name = strdup("fz");
	c->roles = CTP_ROLE_AR;
	(void)ctp_addr_parse(&c->addrs[0], "10.9.0.1");
	c->naddrs = 1;
	c->backend = CTP_BACKEND_MEM;
	fuzz_ctl_sa4(&c->bind, "10.9.0.1", 9899);
	c->mn_icmp = 0;
	c->timers.reconnect_ms = 10000;
	c->limits.control_clients = 2;
	c->control = strdup(F.sock);
	c->plugin_dir = strdup(F.plugins);
	p = &c->peers[c->npeers++];
	p->name = strdup("nr");
	p->roles = CTP_ROLE_AR;
	fuzz_ctl_sa4(&p->addr, "10.9.0.2", 5091);
	p->udp_port = 9899;
	p->sec = CTP_SEC_IPSEC;
	for (size_t i = 0; i < 2; i++) {
		c->plugins[i].name = strdup(i ? "mld" : "ipsec");
		c->plugins[i].config = ctp_val_obj();
	}
	c->nplugins = 2;
	if (!c->node_name || !c->control || !c->plugin_dir || !p->name || !c->plugins[0].name ||
	    !c->plugins[1].name || !c->plugins[0].config || !c->plugins[1].config)
		abort();
	return c;
}

static void
fuzz_ctl_stopped(void *arg)
{
	(void)arg;
	F.stopped = 1;
}

/* Key-like strings: hex, 16 characters or more. */
static int
fuzz_ctl_hexish(const char *s, size_t n)
{
	if (n < 16)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

static int
fuzz_ctl_keyname(const char *k)
{
	return strstr(k, "key") != NULL || strcmp(k, "psk") == 0;
}

/* Collect key strings (under=1: inside a key member) from v. */
static void
fuzz_ctl_collect(const struct ctp_val *v, int under)
{
	if (!v)
		return;
	switch (v->kind) {
	case CTP_V_STR:
		if (under && fuzz_ctl_hexish(v->s, v->slen) && F.nkeys < FUZZ_CTL_KEYS &&
		    (F.keys[F.nkeys] = strndup(v->s, v->slen)) != NULL)
			F.nkeys++;
		break;
	case CTP_V_ARR:
		for (size_t i = 0; i < v->n; i++)
			fuzz_ctl_collect(v->items[i], under);
		break;
	case CTP_V_OBJ:
		for (size_t i = 0; i < v->n; i++)
			fuzz_ctl_collect(v->members[i].val, under ||
			    fuzz_ctl_keyname(v->members[i].key));
		break;
	default:
		break;
	}
}

/* 1 when s occurs (case aside) in some string or name of v outside key members. */
static int
fuzz_ctl_elsewhere(const struct ctp_val *v, const char *s, int under)
{
	if (!v)
		return 0;
	switch (v->kind) {
	case CTP_V_STR:
		return !under && strcasestr(v->s, s) != NULL;
	case CTP_V_ARR:
		for (size_t i = 0; i < v->n; i++)
			if (fuzz_ctl_elsewhere(v->items[i], s, under))
				return 1;
		return 0;
	case CTP_V_OBJ:
		for (size_t i = 0; i < v->n; i++)
			if (strcasestr(v->members[i].key, s) ||
			    fuzz_ctl_elsewhere(v->members[i].val, s, under ||
			    fuzz_ctl_keyname(v->members[i].key)))
				return 1;
		return 0;
	default:
		return 0;
	}
}

/* Each request line of the input, parsed as the daemon parses it, to fn. */
static size_t
fuzz_ctl_each_request(const uint8_t *data, size_t size, void (*fn)(const struct ctp_val *))
{
	size_t lines = 0, start = 0;

	for (size_t i = 0; i <= size; i++) {
		struct ctp_val *v = NULL;
		struct ctp_err err = { 0 };

		if (i < size && data[i] != '\n')
			continue;
		lines++;
		if (ctp_json_parse((const char *)data + start, i - start, &v, &err) == 0)
			fn(v);
		ctp_val_free(v);
		start = i + 1;
	}
	return lines;
}

static void
fuzz_ctl_collect_top(const struct ctp_val *v)
{
	fuzz_ctl_collect(v, 0);
}

/* A key that some request also uses for something else (a command name,
 * an address) may come back legitimately as that something else. */
static void
fuzz_ctl_drop_reused(const struct ctp_val *v)
{
	for (size_t k = 0; k < F.nkeys; k++)
		if (F.keys[k] && fuzz_ctl_elsewhere(v, F.keys[k], 0)) {
			free(F.keys[k]);
			F.keys[k] = NULL;
		}
}

/* The keys the requests of the input give; the number of lines. */
static size_t
fuzz_ctl_requests(const uint8_t *data, size_t size)
{
	size_t lines = fuzz_ctl_each_request(data, size, fuzz_ctl_collect_top);

	(void)fuzz_ctl_each_request(data, size, fuzz_ctl_drop_reused);
	return lines;
}

/* Every reply line: a JSON object with a boolean "ok", and no key. */
static size_t
fuzz_ctl_check_replies(void)
{
	size_t n = 0, start = 0;

	F.reply[F.rlen] = 0;
	for (size_t k = 0; k < F.nkeys; k++)
		if (F.keys[k] && strcasestr(F.reply, F.keys[k])) {
			fprintf(stderr, "fuzz_ctl: a key came back: %s\n", F.keys[k]);
			abort();
		}
	for (size_t i = 0; i < F.rlen; i++) {
		struct ctp_val *v = NULL;
		struct ctp_err err = { 0 };
		const struct ctp_val *ok;

		if (F.reply[i] != '\n')
			continue;
		if (ctp_json_parse(F.reply + start, i - start, &v, &err) != 0 ||
		    v->kind != CTP_V_OBJ || (ok = ctp_val_get(v, "ok")) == NULL ||
		    ok->kind != CTP_V_BOOL) {
			fprintf(stderr, "fuzz_ctl: bad reply line: %.*s\n", (int)(i - start),
			    F.reply + start);
			abort();
		}
		ctp_val_free(v);
		n++;
		start = i + 1;
	}
	if (start != F.rlen)
		abort();   /* a reply without its newline */
	return n;
}

/* Read what is there; 1 at EOF. */
static int
fuzz_ctl_read(int fd)
{
	for (;;) {
		char tmp[65536];
		ssize_t r = read(fd, tmp, sizeof tmp);

		if (r == 0)
			return 1;
		if (r < 0)
			return errno == ECONNRESET ? 1 : 0;
		if (F.rlen + (size_t)r > FUZZ_CTL_REPLY_MAX)
			abort();   /* far more than any reply to this input can be */
		memcpy(F.reply + F.rlen, tmp, (size_t)r);
		F.rlen += (size_t)r;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctp_engine *engine = NULL;
	struct ctp_node *node = NULL;
	struct ctp_err err = { 0 };
	struct sockaddr_un sun;
	size_t piece, off = 0, lines, replies;
	long spins = 0;
	int fd, eof = 0, shut = 0;

	if (size < 1 || size > 256 * 1024)
		return 0;
	piece = data[0] ? data[0] : size;
	data++;
	size--;

	if (uv_loop_init(&F.loop) != 0)
		abort();
	ctp_mem_wire_clear();
	if (ctp_node_new(&F.loop, fuzz_ctl_conf(), &node, &err) < 0 ||
	    ctp_engine_new(node, &engine, &err) < 0 || ctp_node_start(node, &err) < 0) {
		fprintf(stderr, "fuzz_ctl: the node does not start: %s (plugins from %s)\n",
		    err.what, F.plugins);
		abort();
	}

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, F.sock, strlen(F.sock));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0)
		abort();
	F.rlen = 0;
	F.nkeys = 0;
	lines = fuzz_ctl_requests(data, size);
	while (!eof) {
		if (off < size) {
			size_t n = size - off < piece ? size - off : piece;
			ssize_t w = write(fd, data + off, n);

			if (w > 0)
				off += (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
				off = size;   /* the daemon closed on us: fine */
		} else if (!shut) {
			(void)shutdown(fd, SHUT_WR);
			shut = 1;
		}
		uv_run(&F.loop, UV_RUN_NOWAIT);
		eof = fuzz_ctl_read(fd);
		if (++spins > FUZZ_CTL_SPINS) {
			fprintf(stderr, "fuzz_ctl: no end after %ld turns of the loop\n", spins);
			abort();
		}
	}
	close(fd);
	if (getenv("FUZZ_CTL_SHOW"))
		fwrite(F.reply, 1, F.rlen, stderr);
	replies = fuzz_ctl_check_replies();
	if (replies > lines + 1)
		abort();
	for (size_t k = 0; k < F.nkeys; k++)
		free(F.keys[k]);

	ctp_engine_free(engine);
	F.stopped = 0;
	ctp_node_stop(node, fuzz_ctl_stopped, NULL);
	for (spins = 0; !F.stopped && spins < FUZZ_CTL_SPINS; spins++)
		uv_run(&F.loop, UV_RUN_NOWAIT);
	uv_run(&F.loop, UV_RUN_DEFAULT);
	if (!F.stopped || uv_loop_close(&F.loop) != 0) {
		fprintf(stderr, "fuzz_ctl: the node did not stop cleanly\n");
		abort();
	}
	ctp_mem_wire_clear();
	return 0;
}
