/*
 * test_chan.c: the secure channel (ctp_chan.h, PROFILE 2) and its TLS
 * material (ctp_tls).
 *
 * Two channels talk through a fake transport defined here: a struct
 * ctp_tr_ops whose send copies the message into a queue that a uv_idle
 * handle delivers later, never from inside send (the rule of ctp_tr.h).
 * Where a test needs a peer that misbehaves in ways ctp_chan never would
 * (no ALPN, another ALPN, no NewSessionTicket, records cut anywhere), the
 * peer is a plain OpenSSL endpoint ("raw") on the same fake transport.
 * The last tests run channels over real SCTP: usrsctp on the in-memory
 * wire (ctp_tr_mem), with 20% loss, duplication and reordering.
 *
 * The certificates come from tests/certs/make.sh, run into a temporary
 * folder by the suite's init.  Every log line is captured: the tests check
 * refusals name the peer, its address and the reason, and that no line
 * ever holds a PSK or a TLS secret.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "ctp/ctp_chan.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_proto.h"
#include "ctp/ctp_tr.h"
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

static char certdir[64];

/* ---- captured log ------------------------------------------------------- */

struct logline {
	int   level;
	char *text;
};

static struct {
	struct logline *v;
	size_t          n, cap;
	char           *forbidden[8];   /* hex of secrets no line may contain */
	size_t          nforbidden;
	int             echo;
} logs;

static void
log_hook(int level, const char *line, void *arg)
{
	(void)arg;
	if (logs.echo)
		fprintf(stderr, "    [%d] %s\n", level, line);
	if (logs.n == logs.cap) {
		size_t cap = logs.cap ? logs.cap * 2 : 256;
		struct logline *v = realloc(logs.v, cap * sizeof *v);

		if (!v)
			return;
		logs.v = v;
		logs.cap = cap;
	}
	logs.v[logs.n].level = level;
	logs.v[logs.n].text = strdup(line);
	if (logs.v[logs.n].text)
		logs.n++;
}

/* Index of the first line at or after from holding all of a, b (b may be
 * NULL) at level (0 = any), or -1. */
static long
log_find(size_t from, int level, const char *a, const char *b)
{
	for (size_t i = from; i < logs.n; i++)
		if ((!level || logs.v[i].level == level) && strstr(logs.v[i].text, a) &&
		    (!b || strstr(logs.v[i].text, b)))
			return (long)i;
	return -1;
}

static size_t
log_count(int level, const char *a)
{
	size_t n = 0;

	for (size_t i = 0; i < logs.n; i++)
		if ((!level || logs.v[i].level == level) && strstr(logs.v[i].text, a))
			n++;
	return n;
}

static void
log_forbid_hex(const uint8_t *p, size_t len)
{
	char *h;

	if (logs.nforbidden == sizeof logs.forbidden / sizeof logs.forbidden[0] ||
	    !(h = malloc(2 * len + 1)))
		return;
	for (size_t i = 0; i < len; i++)
		sprintf(h + 2 * i, "%02x", p[i]);
	logs.forbidden[logs.nforbidden++] = h;
}

static int
strcasestr_hex(const char *hay, const char *hex)
{
	size_t n = strlen(hex);

	/* A secret shown in part is a leak too: any 8 consecutive octets. */
	for (size_t k = 0; k + 16 <= n; k += 2)
		for (const char *p = hay; *p; p++)
			if (strncasecmp(p, hex + k, 16) == 0)
				return 1;
	return 0;
}

/* No line may hold a forbidden secret; then forget this test's lines. */
static void
log_check_and_reset(void)
{
	for (size_t i = 0; i < logs.n; i++)
		for (size_t k = 0; k < logs.nforbidden; k++)
			CHECK(!strcasestr_hex(logs.v[i].text, logs.forbidden[k]),
			    "secret in the log: %s", logs.v[i].text);
	for (size_t i = 0; i < logs.n; i++)
		free(logs.v[i].text);
	logs.n = 0;
	for (size_t k = 0; k < logs.nforbidden; k++)
		free(logs.forbidden[k]);
	logs.nforbidden = 0;
}

/* ---- the fake transport ------------------------------------------------- */

struct raw;

struct fake_peer {
	struct ctp_tr_peer base;     /* first, as the backends do */
	struct fake_peer  *other;
	struct ctp_chan   *chan;     /* who receives: a channel, */
	struct raw        *raw;      /* a raw OpenSSL endpoint, */
	int                sink;     /* or nobody (a silent peer) */
	int                again;    /* send answers CTP_E_AGAIN */
	unsigned           sent;     /* SCTP messages sent */
	size_t             maxmsg;   /* the largest one */
	unsigned           closed;   /* close_peer calls */
};

struct fake_msg {
	struct fake_msg  *next;
	struct fake_peer *to;
	uint16_t          sid;
	uint32_t          ppid;
	size_t            len;
	uint8_t           buf[];
};

static struct {
	uv_idle_t        idle;
	struct fake_msg *head, **tail;
	int              hold;       /* queue without delivering */
} wire;

static void raw_input(struct raw *r, const uint8_t *buf, size_t len);

/* Deliver the oldest message; 0 when there was none. */
static int
wire_step(void)
{
	struct fake_msg *m = wire.head;

	if (!m)
		return 0;
	wire.head = m->next;
	if (!wire.head)
		wire.tail = &wire.head;
	if (m->to->chan)
		ctp_chan_input(m->to->chan, m->sid, m->ppid, m->buf, m->len);
	else if (m->to->raw)
		raw_input(m->to->raw, m->buf, m->len);
	free(m);
	return 1;
}

static void
fake_idle_cb(uv_idle_t *h)
{
	/* One message per turn: the loop runs timers and other handles in
	 * between, as a real transport's would. */
	if (wire.hold || !wire_step())
		uv_idle_stop(h);
}

static int
fake_send(struct ctp_tr_peer *p, uint16_t sid, uint32_t ppid, const void *buf, size_t len)
{
	struct fake_peer *fp = (struct fake_peer *)p;
	struct fake_msg *m;

	if (!p->up)
		return CTP_E_STATE;
	if (fp->again)
		return CTP_E_AGAIN;
	fp->sent++;
	if (len > fp->maxmsg)
		fp->maxmsg = len;
	p->msgs_out++;
	p->bytes_out += len;
	if (fp->other->sink)
		return 0;
	if (!(m = malloc(sizeof *m + len)))
		return CTP_E_NOMEM;
	m->next = NULL;
	m->to = fp->other;
	m->sid = sid;
	m->ppid = ppid;
	m->len = len;
	memcpy(m->buf, buf, len);
	*wire.tail = m;
	wire.tail = &m->next;
	if (!wire.hold)
		uv_idle_start(&wire.idle, fake_idle_cb);
	return 0;
}

static void
fake_close_peer(struct ctp_tr_peer *p, int abort)
{
	(void)abort;
	((struct fake_peer *)p)->closed++;
}

static const struct ctp_tr_ops fake_ops = {
	.name = "fake",
	.send = fake_send,
	.close_peer = fake_close_peer,
};


/* ---- one test's world --------------------------------------------------- */

struct side {
	struct ctp_chan *chan;
	int              ready;       /* ready callbacks */
	int              ready_seq;   /* when, among all ready callbacks */
	int              peer_ready_then; /* the other side was ready at that time */
	int              failed;
	char             reason[320];
	size_t           nmsg;
	uint8_t         *msg[64];
	size_t           msglen[64];
	int              free_on_msg; /* the owner frees the channel in msg() */
	int              free_on_fail;
	int              send_on_ready; /* send a message from inside ready() */
};

static struct {
	uv_loop_t         loop;
	uv_timer_t        guard;
	int               timed_out;
	struct fake_peer  pc, ps;     /* the client's and the server's association */
	struct side       cli, srv;
	struct ctp_tls   *tls_c, *tls_s;
	int               seq;
} T;

static struct side *
side_other(struct side *s)
{
	return s == &T.cli ? &T.srv : &T.cli;
}

static void
cb_ready(struct ctp_chan *c, void *ud)
{
	struct side *s = ud;

	CHECK(c == s->chan, "ready for the wrong channel");
	CHECK(!s->failed, "ready after fail");
	s->ready++;
	s->ready_seq = ++T.seq;
	s->peer_ready_then = side_other(s)->chan && ctp_chan_is_ready(side_other(s)->chan);
	/* as ctp_node does with the messages queued while the peer was down */
	if (s->send_on_ready)
		CHECK(ctp_chan_send(c, (const uint8_t *)"\x25\0\0\4", 4, 0) == 0,
		    "send from ready() refused");
}

static void
cb_msg(struct ctp_chan *c, const uint8_t *buf, size_t len, void *ud)
{
	struct side *s = ud;

	CHECK(c == s->chan, "msg for the wrong channel");
	CHECK(s->ready == 1, "message before ready");
	CHECK(ctp_chan_is_ready(c), "message on a channel that is not ready");
	if (s->nmsg < 64) {
		s->msg[s->nmsg] = malloc(len ? len : 1);
		if (s->msg[s->nmsg])
			memcpy(s->msg[s->nmsg], buf, len);
		s->msglen[s->nmsg] = len;
	}
	s->nmsg++;
	if (s->free_on_msg) {
		ctp_chan_free(c);
		s->chan = NULL;
	}
}

static void
cb_fail(struct ctp_chan *c, const char *reason, void *ud)
{
	struct side *s = ud;

	CHECK(c == s->chan, "fail for the wrong channel");
	CHECK(!s->failed, "fail twice");
	s->failed++;
	snprintf(s->reason, sizeof s->reason, "%s", reason);
	if (s->free_on_fail) {
		ctp_chan_free(c);
		s->chan = NULL;
	}
}

static const struct ctp_chan_cb test_cb = { .ready = cb_ready, .msg = cb_msg, .fail = cb_fail };

static void
fake_addr(struct fake_peer *p, const char *a, uint16_t port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&p->base.addr;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	inet_pton(AF_INET, a, &s4->sin_addr);
}

static void
t_begin(void)
{
	memset(&T, 0, sizeof T);
	memset(&wire, 0, sizeof wire);
	wire.tail = &wire.head;
	CU_ASSERT_FATAL(uv_loop_init(&T.loop) == 0);
	uv_idle_init(&T.loop, &wire.idle);
	uv_timer_init(&T.loop, &T.guard);
	/* pc belongs to the client (par, 192.0.2.1), and names its peer: the
	 * server nar at 192.0.2.2; ps the other way round. */
	fake_addr(&T.pc, "192.0.2.2", 5091);
	fake_addr(&T.ps, "192.0.2.1", 5091);
	T.pc.base.up = T.ps.base.up = 1;
	T.pc.base.outbound = 1;
	T.pc.other = &T.ps;
	T.ps.other = &T.pc;
}

static void
guard_cb(uv_timer_t *t)
{
	(void)t;
	T.timed_out = 1;
}

/* How long a test waits for something that should happen.  Generous: the
 * waits end as soon as it does, and valgrind on a busy machine is slow. */
#define T_WAIT 30000

/* Turn the loop until pred() holds or ms pass; returns pred(). */
static int
t_run(int (*pred)(void), unsigned ms)
{
	T.timed_out = 0;
	uv_timer_start(&T.guard, guard_cb, ms, 0);
	while (!pred() && !T.timed_out)
		uv_run(&T.loop, UV_RUN_ONCE);
	uv_timer_stop(&T.guard);
	return pred();
}

static int
both_ready(void)
{
	return T.cli.ready && T.srv.ready;
}

static int
both_failed(void)
{
	return T.cli.failed && T.srv.failed;
}

static int
wire_idle(void)
{
	return wire.head == NULL;
}

static void
side_clear(struct side *s)
{
	for (size_t i = 0; i < s->nmsg && i < 64; i++)
		free(s->msg[i]);
	s->nmsg = 0;
}

static void
walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void
t_end(void)
{
	ctp_chan_free(T.cli.chan);
	ctp_chan_free(T.srv.chan);
	T.cli.chan = T.srv.chan = NULL;
	while (wire.head) {
		struct fake_msg *m = wire.head;

		wire.head = m->next;
		free(m);
	}
	wire.tail = &wire.head;
	uv_close((uv_handle_t *)&wire.idle, NULL);
	uv_close((uv_handle_t *)&T.guard, NULL);
	uv_run(&T.loop, UV_RUN_DEFAULT);
	/* Any handle left open here is a leak of the code under test. */
	CHECK(uv_loop_alive(&T.loop) == 0, "handles left on the loop");
	uv_walk(&T.loop, walk_close, NULL);
	uv_run(&T.loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&T.loop) == 0, "loop does not close");
	side_clear(&T.cli);
	side_clear(&T.srv);
	ctp_tls_free(T.tls_c);
	ctp_tls_free(T.tls_s);
	T.tls_c = T.tls_s = NULL;
	log_check_and_reset();
}

static char *
cpath(const char *file, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", certdir, file);
	return buf;
}

/* TLS material of a node: its certificate (NULL: PSK only) under ca. */
static struct ctp_tls *
t_tls(const char *node, const char *ca, const char *keylog, int allow)
{
	char c[128], k[128], a[128], cf[64], kf[64];
	struct ctp_tls_cfg cfg = { 0 };
	struct ctp_tls *t = NULL;
	struct ctp_err err = { 0 };

	if (node) {
		snprintf(cf, sizeof cf, "%s.pem", node);
		snprintf(kf, sizeof kf, "%s.key", node);
		cfg.cert = cpath(cf, c, sizeof c);
		cfg.key = cpath(kf, k, sizeof k);
		cfg.ca = cpath(ca ? ca : "ca.pem", a, sizeof a);
	}
	cfg.keylog = keylog;
	cfg.allow_keylog = allow;
	CHECK(ctp_tls_new(&cfg, &t, &err) == 0, "ctp_tls_new(%s): %s", node ? node : "psk", err.what);
	return t;
}

static void
t_cfg(struct ctp_chan_cfg *cfg, enum ctp_sec mode, int client, struct ctp_tls *tls)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->mode = mode;
	cfg->client = client;
	cfg->tls = tls;
	/* the client (par) talks to nar, the server (nar) to par */
	cfg->peer_name = client ? "nar" : "par";
	cfg->handshake_ms = 20000;
}

static void
t_chan(struct side *s, const struct ctp_chan_cfg *cfg)
{
	struct fake_peer *p = s == &T.cli ? &T.pc : &T.ps;
	struct ctp_err err = { 0 };
	int r = ctp_chan_new(&T.loop, &fake_ops, &p->base, cfg, &test_cb, s, &s->chan, &err);

	CHECK(r == 0, "ctp_chan_new: %s: %s", ctp_errname(r), err.what);
	p->chan = s->chan;
}

static void
t_start(void)
{
	/* the server first, as an owner does when its up callback runs */
	ctp_chan_start(T.srv.chan);
	ctp_chan_start(T.cli.chan);
}

/* A CXTP-shaped message: the header's Length is len, the rest a pattern. */
static uint8_t *
mkmsg(size_t len, unsigned seed)
{
	uint8_t *m = malloc(len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	for (size_t i = 0; i < len; i++)
		m[i] = (uint8_t)(i * 7 + seed * 31 + (i >> 8));
	m[0] = 0x21;
	m[1] = 0;
	m[2] = (uint8_t)(len >> 8);
	m[3] = (uint8_t)len;
	return m;
}

static int
got(const struct side *s, size_t i, const uint8_t *m, size_t len)
{
	return i < s->nmsg && i < 64 && s->msglen[i] == len && s->msg[i] &&
	    memcmp(s->msg[i], m, len) == 0;
}

/* The refusal was logged at ERR with the peer's name, address and reason. */
static void
check_refusal_logged(const char *peer, const char *addr, const char *reason)
{
	char who[96];

	snprintf(who, sizeof who, "peer %s (%s): refused", peer, addr);
	CHECK(log_find(0, CTP_LOG_ERR, who, reason) >= 0, "no log line \"%s ... %s\"", who,
	    reason);
}

/* ---- a raw OpenSSL endpoint on the fake transport ----------------------- */

struct raw {
	SSL_CTX          *ctx;
	SSL              *ssl;
	struct fake_peer *fp;        /* what it sends through */
	int               done;      /* handshake complete */
	int               failed;
	char              why[256];
	uint8_t           data[4096];
	size_t            dlen;
};

static void
raw_flush(struct raw *r)
{
	BIO *w = SSL_get_wbio(r->ssl);
	size_t n = BIO_ctrl_pending(w);
	uint8_t *buf;

	if (!n || !(buf = malloc(n)))
		return;
	if (BIO_read(w, buf, (int)n) == (int)n)
		fake_send(&r->fp->base, 0, CTP_PPID_TLS, buf, n);
	free(buf);
}

static void
raw_fail(struct raw *r)
{
	unsigned long e = ERR_get_error();

	r->failed = 1;
	snprintf(r->why, sizeof r->why, "%s", e ? ERR_reason_error_string(e) : "closed");
}

static void
raw_pump(struct raw *r)
{
	int n;

	ERR_clear_error();
	if (!r->done && !r->failed) {
		n = SSL_do_handshake(r->ssl);
		if (n == 1)
			r->done = 1;
		else if (SSL_get_error(r->ssl, n) != SSL_ERROR_WANT_READ)
			raw_fail(r);
	}
	while (r->done && !r->failed) {
		uint8_t buf[4096];

		n = SSL_read(r->ssl, buf, sizeof buf);
		if (n > 0) {
			size_t k = (size_t)n < sizeof r->data - r->dlen ? (size_t)n :
			    sizeof r->data - r->dlen;

			memcpy(r->data + r->dlen, buf, k);
			r->dlen += k;
			continue;
		}
		if (SSL_get_error(r->ssl, n) != SSL_ERROR_WANT_READ)
			raw_fail(r);
		break;
	}
	raw_flush(r);
	ERR_clear_error();
}

static void
raw_input(struct raw *r, const uint8_t *buf, size_t len)
{
	BIO_write(SSL_get_rbio(r->ssl), buf, (int)len);
	raw_pump(r);
}

static int
raw_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	for (unsigned i = 0; i + 1 < inlen; i += 1u + in[i])
		if (in[i] == 6 && i + 7 <= inlen && memcmp(in + i + 1, "cxtp/1", 6) == 0) {
			*out = in + i + 1;
			*outlen = 6;
			return SSL_TLSEXT_ERR_OK;
		}
	return SSL_TLSEXT_ERR_NOACK;
}

/*
 * A raw endpoint: a client stands in for par (certificate node) and talks
 * to the server channel through T.pc; a server stands in for nar through
 * T.ps.  alpn/alpnlen: the wire form a client offers (NULL: no ALPN);
 * server_alpn: whether a server selects cxtp/1; tickets: how many
 * NewSessionTickets a server sends.
 */
static struct raw *
raw_new(int client, const char *node, const unsigned char *alpn, size_t alpnlen,
    int server_alpn, int tickets)
{
	struct raw *r = calloc(1, sizeof *r);
	char c[128], k[128], a[128], cf[64], kf[64];
	BIO *rb, *wb;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	r->ctx = SSL_CTX_new(client ? TLS_client_method() : TLS_server_method());
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->ctx);
	SSL_CTX_set_min_proto_version(r->ctx, TLS1_3_VERSION);
	snprintf(cf, sizeof cf, "%s.pem", node);
	snprintf(kf, sizeof kf, "%s.key", node);
	CU_ASSERT(SSL_CTX_use_certificate_chain_file(r->ctx, cpath(cf, c, sizeof c)) == 1);
	CU_ASSERT(SSL_CTX_use_PrivateKey_file(r->ctx, cpath(kf, k, sizeof k), SSL_FILETYPE_PEM) == 1);
	CU_ASSERT(SSL_CTX_load_verify_locations(r->ctx, cpath("ca.pem", a, sizeof a), NULL) == 1);
	SSL_CTX_set_verify(r->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	if (client) {
		if (alpn)
			CU_ASSERT(SSL_CTX_set_alpn_protos(r->ctx, alpn, (unsigned)alpnlen) == 0);
	} else {
		if (server_alpn)
			SSL_CTX_set_alpn_select_cb(r->ctx, raw_alpn_cb, NULL);
		SSL_CTX_set_num_tickets(r->ctx, (size_t)tickets);
	}
	r->ssl = SSL_new(r->ctx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->ssl);
	rb = BIO_new(BIO_s_mem());
	wb = BIO_new(BIO_s_mem());
	BIO_set_mem_eof_return(rb, -1);
	SSL_set_bio(r->ssl, rb, wb);
	if (client) {
		SSL_set1_host(r->ssl, "nar");
		SSL_set_connect_state(r->ssl);
		r->fp = &T.pc;
	} else {
		SSL_set1_host(r->ssl, "par");
		SSL_set_accept_state(r->ssl);
		r->fp = &T.ps;
	}
	r->fp->raw = r;
	return r;
}

static void
raw_free(struct raw *r)
{
	if (!r)
		return;
	r->fp->raw = NULL;
	SSL_free(r->ssl);
	SSL_CTX_free(r->ctx);
	free(r);
}

static void
raw_write(struct raw *r, const uint8_t *p, size_t len)
{
	CU_ASSERT(SSL_write(r->ssl, p, (int)len) == (int)len);
}

/* ---- suite setup ------------------------------------------------------- */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
chan_init(void)
{
	const char *script = getenv("CTP_CERTS_SCRIPT");
	char cmd[512];

	snprintf(certdir, sizeof certdir, "/tmp/ctp-chan-XXXXXX");
	if (!mkdtemp(certdir))
		return -1;
	snprintf(cmd, sizeof cmd, "%s %s par nar sg1",
	    script ? script : "tests/certs/make.sh", certdir);
	if (system(cmd) != 0) {
		fprintf(stderr, "chan: \"%s\" failed\n", cmd);
		return -1;
	}
	logs.echo = getenv("CTP_TEST_VERBOSE") != NULL;
	ctp_log_open("test", CTP_LOG_NONE, CTP_LOG_DEBUG);
	ctp_log_set_hook(log_hook, NULL);
	return 0;
}

static int
chan_clean(void)
{
	ctp_log_set_hook(NULL, NULL);
	ctp_log_open("ctp", CTP_LOG_STDERR, CTP_LOG_NOTICE);
	log_check_and_reset();
	free(logs.v);
	memset(&logs, 0, sizeof logs);
	if (certdir[0])
		nftw(certdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* ---- certificates -------------------------------------------------------- */

static void
exchange_both_ways(void)
{
	uint8_t *a = mkmsg(100, 1), *b = mkmsg(40, 2);

	CU_ASSERT(ctp_chan_send(T.cli.chan, a, 100, 0) == 0);
	CU_ASSERT(ctp_chan_send(T.srv.chan, b, 40, 0) == 0);
	t_run(wire_idle, T_WAIT);
	CHECK(T.srv.nmsg == 1 && got(&T.srv, 0, a, 100), "server got %zu messages", T.srv.nmsg);
	CHECK(T.cli.nmsg == 1 && got(&T.cli, 0, b, 40), "client got %zu messages", T.cli.nmsg);
	free(a);
	free(b);
}

/*
 * A client becomes ready inside its TLS read (the server's ticket) and
 * writes at once from the ready callback: the read must not then take
 * that write's state for its own (it once failed the channel "without a
 * reason from OpenSSL").
 */
static void
test_send_on_ready(void)
{
	struct ctp_chan_cfg cc, sc;

	t_begin();
	T.tls_c = t_tls("par", NULL, NULL, 0);
	T.tls_s = t_tls("nar", NULL, NULL, 0);
	t_cfg(&cc, CTP_SEC_TLS, 1, T.tls_c);
	t_cfg(&sc, CTP_SEC_TLS, 0, T.tls_s);
	t_chan(&T.cli, &cc);
	t_chan(&T.srv, &sc);
	T.cli.send_on_ready = T.srv.send_on_ready = 1;
	t_start();
	CHECK(t_run(both_ready, T_WAIT), "not ready: client %s, server %s", T.cli.reason,
	    T.srv.reason);
	t_run(wire_idle, T_WAIT);
	CHECK(!T.cli.failed && !T.srv.failed, "client %s, server %s", T.cli.reason, T.srv.reason);
	CU_ASSERT_EQUAL(T.srv.nmsg, 1);
	CU_ASSERT_EQUAL(T.cli.nmsg, 1);
	CU_ASSERT(T.srv.nmsg == 1 && T.srv.msglen[0] == 4 && T.srv.msg[0][0] == 0x25);
	t_end();
}

static void
test_cert_ok(void)
{
	struct ctp_chan_cfg cc, sc;
	long confirm, srv_ready, cli_ready;

	t_begin();
	T.tls_c = t_tls("par", NULL, NULL, 0);
	T.tls_s = t_tls("nar", NULL, NULL, 0);
	t_cfg(&cc, CTP_SEC_TLS, 1, T.tls_c);
	t_cfg(&sc, CTP_SEC_TLS, 0, T.tls_s);
	t_chan(&T.cli, &cc);
	t_chan(&T.srv, &sc);
	CU_ASSERT(ctp_chan_send(T.cli.chan, (const uint8_t *)"\x21\0\0\4", 4, 0) == CTP_E_STATE);
	t_start();
	CHECK(t_run(both_ready, T_WAIT), "not ready: client %s, server %s", T.cli.reason,
	    T.srv.reason);
	/* The server was ready first, and then the client was not yet. */
	CU_ASSERT(T.srv.ready_seq < T.cli.ready_seq);
	CU_ASSERT(T.srv.peer_ready_then == 0);
	CU_ASSERT(T.cli.peer_ready_then == 1);
	/* The client's handshake was done (confirm) before the server had
	 * verified it, and only the ticket made it ready. */
	confirm = log_find(0, 0, "chan nar: handshake -> confirm", NULL);
	srv_ready = log_find(0, 0, "chan par: handshake -> ready", "client verified");
	cli_ready = log_find(0, 0, "chan nar: confirm -> ready", "NewSessionTicket");
	CHECK(confirm >= 0 && srv_ready > confirm && cli_ready > srv_ready,
	    "order confirm %ld, server ready %ld, client ready %ld", confirm, srv_ready,
	    cli_ready);
	CU_ASSERT(strstr(ctp_chan_cipher(T.cli.chan), "TLS_") != NULL);
	CU_ASSERT(strstr(ctp_chan_cipher(T.cli.chan), "PSK") == NULL);
	CU_ASSERT(strcmp(ctp_chan_cipher(T.cli.chan), ctp_chan_cipher(T.srv.chan)) == 0);
	CU_ASSERT(ctp_chan_mode(T.cli.chan) == CTP_SEC_TLS);
	exchange_both_ways();
	/* Freeing one side sends close_notify; the other side fails cleanly. */
	ctp_chan_free(T.cli.chan);
	T.cli.chan = T.pc.chan = NULL;
	t_run(wire_idle, T_WAIT);
	CHECK(T.srv.failed && strstr(T.srv.reason, "close_notify"), "server: %s", T.srv.reason);
	CU_ASSERT(T.cli.failed == 0);
	t_end();
}

static void
test_cert_rogue_client(void)
{
	struct ctp_chan_cfg cc, sc;

	t_begin();
	T.tls_c = t_tls("rogue-par", NULL, NULL, 0);  /* right name, other CA */
	T.tls_s = t_tls("nar", NULL, NULL, 0);
	t_cfg(&cc, CTP_SEC_TLS, 1, T.tls_c);
	t_cfg(&sc, CTP_SEC_TLS, 0, T.tls_s);
	t_chan(&T.cli, &cc);
	t_chan(&T.srv, &sc);
	t_start();
	CHECK(t_run(both_failed, T_WAIT), "client %d, server %d", T.cli.failed, T.srv.failed);
	CU_ASSERT(T.srv.ready == 0);
	CU_ASSERT(T.cli.ready == 0);   /* its handshake was done: it waited */
	CHECK(strstr(T.srv.reason, "unable to get local issuer certificate") &&
	    strstr(T.srv.reason, "ctpd rogue") == NULL && strstr(T.srv.reason, "CN=par"),
	    "server: %s", T.srv.reason);
	check_refusal_logged("par", "192.0.2.1:5091", "unable to get local issuer certificate");
	CHECK(strstr(T.cli.reason, "TLS handshake: peer refused: tlsv1 alert unknown ca"),
	    "client: %s", T.cli.reason);
	check_refusal_logged("nar", "192.0.2.2:5091", "unknown ca");
	CU_ASSERT(log_find(0, 0, "chan nar: handshake -> confirm", NULL) >= 0);
	t_end();
}

static void
test_cert_rogue_server(void)
{
	struct ctp_chan_cfg cc, sc;

	t_begin();
	T.tls_c = t_tls("par", NULL, NULL, 0);
	T.tls_s = t_tls("rogue-par", NULL, NULL, 0);
	t_cfg(&cc, CTP_SEC_TLS, 1, T.tls_c);
	cc.identity = "par";    /* the name the rogue server carries */
	t_cfg(&sc, CTP_SEC_TLS, 0, T.tls_s);
	t_chan(&T.cli, &cc);
	t_chan(&T.srv, &sc);
	t_start();
	CHECK(t_run(both_failed, T_WAIT), "client %d, server %d", T.cli.failed, T.srv.failed);
	CU_ASSERT(T.srv.ready == 0 && T.cli.ready == 0);
	CHECK(strstr(T.cli.reason, "unable to get local issuer certificate"), "client: %s",
	    T.cli.reason);
	check_refusal_logged("nar", "192.0.2.2:5091", "unable to get local issuer");
	CHECK(strstr(T.srv.reason, "peer refused"), "server: %s", T.srv.reason);
	t_end();
}

static void
test_cert_wrong_identity(void)
{
	struct ctp_chan_cfg cc, sc;

	/* A client with a good certificate for nar, where par is expected. */
	t_begin();
	T.tls_c = t_tls("nar", NULL, NULL, 0);
	T.tls_s = t_tls("nar", NULL, NULL, 0);
	t_cfg(&cc, CTP_SEC_TLS, 1, T.tls_c);
	t_cfg(&sc, CTP_SEC_TLS, 0, T.tls_s);
	t_chan(&T.cli, &cc);
	t_chan(&T.srv, &sc);
	t_start();
	CHECK(t_run(both_failed, T_WAIT), "client %d, server %d", T.cli.failed, T.srv.failed);
	CU_ASSERT(T.srv.ready == 0 && T.cli.ready == 0);
	CHECK(strstr(T.srv.reason, "does not name identity \"par\""), "server: %s", T.srv.reason);
	check_refusal_logged("par", "192.0.2.1:5091", "does not name identity");
	t_end();

	/* A server with a good certificate for sg1, where nar is expected;
	 * and the identity setting names what the certificate must carry. */
	t_begin();
	T.tls_c = t_tls("par", NULL, NULL, 0);
	T.tls_s = t_tls("sg1", NULL, NULL, 0);
	t_cfg(&cc, CTP_SEC_TLS, 1, T.tls_c);
	t_cfg(&sc, CTP_SEC_TLS, 0, T.tls_s);
	t_chan(&T.cli, &cc);
	t_chan(&T.srv, &sc);
	t_start();
	CHECK(t_run(both_failed, T_WAIT), "client %d, server %d", T.cli.failed, T.srv.failed);
	CU_ASSERT(T.srv.ready == 0 && T.cli.ready == 0);
	CHECK(strstr(T.cli.reason, "does not name identity \"nar\""), "client: %s", T.cli.reason);
	check_refusal_logged("nar", "192.0.2.2:5091", "CN=sg1");
	t_end();

	t_begin();
	T.tls_c = t_tls("par", NULL, NULL, 0);
	T.tls_s = t_tls("sg1", NULL, NULL, 0);
	t_cfg(&cc, CTP_SEC_TLS, 1, T.tls_c);
	cc.identity = "sg1";
	t_cfg(&sc, CTP_SEC_TLS, 0, T.tls_s);
	t_chan(&T.cli, &cc);
	t_chan(&T.srv, &sc);
	t_start();
	CHECK(t_run(both_ready, T_WAIT), "client %s, server %s", T.cli.reason, T.srv.reason);
	t_end();
}

/* ---- PSK -------------------------------------------------------------------- */

static const uint8_t psk_a[32] = {
	0x5e, 0xc7, 0x3e, 0x11, 0x8a, 0x42, 0x90, 0x0d, 0x6b, 0x2f, 0x71, 0xc4, 0x33, 0xe8, 0x1a, 0x57,
	0x9b, 0x04, 0xdd, 0x62, 0xf0, 0x19, 0xae, 0x85, 0x3c, 0x77, 0x21, 0xb6, 0x48, 0xca, 0x0f, 0xe3,
};
static const uint8_t psk_b[32] = {
	0x5e, 0xc7, 0x3e, 0x11, 0x8a, 0x42, 0x90, 0x0d, 0x6b, 0x2f, 0x71, 0xc4, 0x33, 0xe8, 0x1a, 0x57,
	0x9b, 0x04, 0xdd, 0x62, 0xf0, 0x19, 0xae, 0x85, 0x3c, 0x77, 0x21, 0xb6, 0x48, 0xca, 0x0f, 0xe4,
};

static void
psk_pair(const uint8_t *kc, size_t kclen, const char *idc, const uint8_t *ks, size_t kslen,
    const char *ids, int certs)
{
	struct ctp_chan_cfg cc, sc;

	t_begin();
	log_forbid_hex(kc, kclen);
	if (ks != kc)
		log_forbid_hex(ks, kslen);
	T.tls_c = t_tls(certs ? "par" : NULL, NULL, NULL, 0);
	T.tls_s = t_tls(certs ? "nar" : NULL, NULL, NULL, 0);
	t_cfg(&cc, CTP_SEC_TLS, 1, T.tls_c);
	cc.psk = kc;
	cc.psk_len = kclen;
	cc.psk_identity = idc;
	t_cfg(&sc, CTP_SEC_TLS, 0, T.tls_s);
	sc.psk = ks;
	sc.psk_len = kslen;
	sc.psk_identity = ids;
	t_chan(&T.cli, &cc);
	t_chan(&T.srv, &sc);
	t_start();
}

static void
test_psk_ok(void)
{
	static uint8_t k64[64];
	struct ctp_chan_cfg cc;
	struct ctp_chan *c = NULL;
	struct ctp_err err = { 0 };

	/* No certificate anywhere: a PSK-only node. */
	psk_pair(psk_a, sizeof psk_a, "par-nar", psk_a, sizeof psk_a, "par-nar", 0);
	CHECK(t_run(both_ready, T_WAIT), "client %s, server %s", T.cli.reason, T.srv.reason);
	CU_ASSERT(T.srv.ready_seq < T.cli.ready_seq && T.srv.peer_ready_then == 0);
	CHECK(strstr(ctp_chan_cipher(T.cli.chan), "(PSK)") &&
	    (strstr(ctp_chan_cipher(T.cli.chan), "TLS_AES_128_GCM_SHA256") ||
	    strstr(ctp_chan_cipher(T.cli.chan), "TLS_CHACHA20_POLY1305_SHA256")),
	    "cipher %s", ctp_chan_cipher(T.cli.chan));
	exchange_both_ways();
	/* Without certificates a channel needs a PSK. */
	t_cfg(&cc, CTP_SEC_TLS, 1, T.tls_c);
	CU_ASSERT(ctp_chan_new(&T.loop, &fake_ops, &T.pc.base, &cc, &test_cb, NULL, &c, &err) ==
	    CTP_E_CONFIG);
	CU_ASSERT(c == NULL && strstr(err.what, "certificates or a PSK") != NULL);
	/* A short PSK is refused at creation. */
	ctp_err_clear(&err);
	cc.psk = psk_a;
	cc.psk_len = 8;
	cc.psk_identity = "x";
	CU_ASSERT(ctp_chan_new(&T.loop, &fake_ops, &T.pc.base, &cc, &test_cb, NULL, &c, &err) ==
	    CTP_E_CONFIG);
	t_end();

	/* A node with certificates may still use a PSK with one peer; no
	 * certificate is sent then.  And a 64-octet PSK. */
	for (size_t i = 0; i < sizeof k64; i++)
		k64[i] = (uint8_t)(0xa5 ^ (i * 13));
	psk_pair(k64, sizeof k64, "nar", k64, sizeof k64, "nar", 1);
	CHECK(t_run(both_ready, T_WAIT), "client %s, server %s", T.cli.reason, T.srv.reason);
	CU_ASSERT(strstr(ctp_chan_cipher(T.srv.chan), "(PSK)") != NULL);
	exchange_both_ways();
	t_end();
}

static void
test_psk_wrong_key(void)
{
	psk_pair(psk_a, sizeof psk_a, "par-nar", psk_b, sizeof psk_b, "par-nar", 0);
	CHECK(t_run(both_failed, T_WAIT), "client %d, server %d", T.cli.failed, T.srv.failed);
	CU_ASSERT(T.cli.ready == 0 && T.srv.ready == 0);
	CHECK(strstr(T.srv.reason, "wrong PSK"), "server: %s", T.srv.reason);
	check_refusal_logged("par", "192.0.2.1:5091", "wrong PSK");
	CHECK(strstr(T.cli.reason, "peer refused"), "client: %s", T.cli.reason);
	t_end();
}

static void
test_psk_unknown_identity(void)
{
	psk_pair(psk_a, sizeof psk_a, "mallory", psk_a, sizeof psk_a, "par-nar", 0);
	CHECK(t_run(both_failed, T_WAIT), "client %d, server %d", T.cli.failed, T.srv.failed);
	CU_ASSERT(T.cli.ready == 0 && T.srv.ready == 0);
	CHECK(strstr(T.srv.reason, "unknown PSK identity \"mallory\""), "server: %s", T.srv.reason);
	check_refusal_logged("par", "192.0.2.1:5091", "unknown PSK identity");
	t_end();
}

static void
test_psk_vs_cert(void)
{
	struct ctp_chan_cfg cc, sc;

	/* The client wants a PSK, the server (certificates) ignores it: the
	 * client must not fall back to certificates. */
	t_begin();
	log_forbid_hex(psk_a, sizeof psk_a);
	T.tls_c = t_tls("par", NULL, NULL, 0);
	T.tls_s = t_tls("nar", NULL, NULL, 0);
	t_cfg(&cc, CTP_SEC_TLS, 1, T.tls_c);
	cc.psk = psk_a;
	cc.psk_len = sizeof psk_a;
	cc.psk_identity = "par-nar";
	t_cfg(&sc, CTP_SEC_TLS, 0, T.tls_s);
	t_chan(&T.cli, &cc);
	t_chan(&T.srv, &sc);
	t_start();
	CHECK(t_run(both_failed, T_WAIT), "client %d, server %d", T.cli.failed, T.srv.failed);
	CU_ASSERT(T.cli.ready == 0 && T.srv.ready == 0);
	CHECK(strstr(T.cli.reason, "certificate /O=ctpd test/CN=nar instead of using the PSK"),
	    "client: %s", T.cli.reason);
	t_end();

	/* The other way: the server wants a PSK, the client offers none. */
	t_begin();
	log_forbid_hex(psk_a, sizeof psk_a);
	T.tls_c = t_tls("par", NULL, NULL, 0);
	T.tls_s = t_tls("nar", NULL, NULL, 0);
	t_cfg(&cc, CTP_SEC_TLS, 1, T.tls_c);
	t_cfg(&sc, CTP_SEC_TLS, 0, T.tls_s);
	sc.psk = psk_a;
	sc.psk_len = sizeof psk_a;
	sc.psk_identity = "par-nar";
	t_chan(&T.cli, &cc);
	t_chan(&T.srv, &sc);
	t_start();
	CHECK(t_run(both_failed, T_WAIT), "client %d, server %d", T.cli.failed, T.srv.failed);
	CU_ASSERT(T.cli.ready == 0 && T.srv.ready == 0);
	CHECK(strstr(T.srv.reason, "offered no PSK"), "server: %s", T.srv.reason);
	t_end();
}

/* ---- ALPN --------------------------------------------------------------- */

static void
alpn_client_case(const unsigned char *alpn, size_t len, const char *expect)
{
	struct ctp_chan_cfg sc;
	struct raw *r;

	t_begin();
	T.tls_s = t_tls("nar", NULL, NULL, 0);
	t_cfg(&sc, CTP_SEC_TLS, 0, T.tls_s);
	t_chan(&T.srv, &sc);
	ctp_chan_start(T.srv.chan);
	r = raw_new(1, "par", alpn, len, 0, 0);
	raw_pump(r);
	t_run(wire_idle, T_WAIT);
	CHECK(T.srv.failed && strstr(T.srv.reason, expect), "server: %s", T.srv.reason);
	CU_ASSERT(T.srv.ready == 0);
	check_refusal_logged("par", "192.0.2.1:5091", expect);
	CHECK(r->failed && strstr(r->why, "no application protocol"), "raw client: %s", r->why);
	t_end();
	raw_free(r);
}

static void
test_alpn_client(void)
{
	alpn_client_case(NULL, 0, "offered no ALPN");
	alpn_client_case((const unsigned char *)"\x07" "other/1" "\x02h2", 11,
	    "offered ALPN \"other/1,h2\"");
	/* The right one among others is fine. */
	{
		struct ctp_chan_cfg sc;
		struct raw *r;

		t_begin();
		T.tls_s = t_tls("nar", NULL, NULL, 0);
		t_cfg(&sc, CTP_SEC_TLS, 0, T.tls_s);
		t_chan(&T.srv, &sc);
		ctp_chan_start(T.srv.chan);
		r = raw_new(1, "par", (const unsigned char *)"\x02h2\x06" "cxtp/1", 10, 0, 0);
		raw_pump(r);
		t_run(wire_idle, T_WAIT);
		CHECK(T.srv.ready && r->done && !r->failed, "server: %s, raw: %s", T.srv.reason,
		    r->why);
		t_end();
		raw_free(r);
	}
}

static void
test_alpn_server(void)
{
	struct ctp_chan_cfg cc;
	struct raw *r;

	/* A server that selects no ALPN: the client refuses before its
	 * Finished leaves, so the server never completes. */
	t_begin();
	T.tls_c = t_tls("par", NULL, NULL, 0);
	t_cfg(&cc, CTP_SEC_TLS, 1, T.tls_c);
	t_chan(&T.cli, &cc);
	r = raw_new(0, "nar", NULL, 0, 0, 1);
	ctp_chan_start(T.cli.chan);
	t_run(wire_idle, T_WAIT);
	CHECK(T.cli.failed && strstr(T.cli.reason, "did not select ALPN cxtp/1"), "client: %s",
	    T.cli.reason);
	check_refusal_logged("nar", "192.0.2.2:5091", "ALPN");
	CU_ASSERT(T.cli.ready == 0);
	CU_ASSERT(r->done == 0);
	t_end();
	raw_free(r);
}

/* ---- deadlines and confirmation --------------------------------------------- */

static int
cli_failed(void)
{
	return T.cli.failed;
}

static int
srv_failed(void)
{
	return T.srv.failed;
}

static void
test_deadline(void)
{
	struct ctp_chan_cfg cc, sc;
	uint64_t t0;

	/* A server that never answers. */
	t_begin();
	T.tls_c = t_tls("par", NULL, NULL, 0);
	t_cfg(&cc, CTP_SEC_TLS, 1, T.tls_c);
	cc.handshake_ms = 150;
	t_chan(&T.cli, &cc);
	T.ps.sink = 1;
	t0 = uv_now(&T.loop);
	ctp_chan_start(T.cli.chan);
	CHECK(t_run(cli_failed, T_WAIT), "no deadline");
	CU_ASSERT(uv_now(&T.loop) - t0 >= 140);
	CHECK(strstr(T.cli.reason, "handshake not done after 150 ms") &&
	    strstr(T.cli.reason, "server"), "client: %s", T.cli.reason);
	check_refusal_logged("nar", "192.0.2.2:5091", "after 150 ms");
	CU_ASSERT(T.cli.ready == 0);
	t_end();

	/* A client that connects and never says anything. */
	t_begin();
	T.tls_s = t_tls("nar", NULL, NULL, 0);
	t_cfg(&sc, CTP_SEC_TLS, 0, T.tls_s);
	sc.handshake_ms = 100;
	t_chan(&T.srv, &sc);
	ctp_chan_start(T.srv.chan);
	CHECK(t_run(srv_failed, T_WAIT), "no deadline");
	CHECK(strstr(T.srv.reason, "after 100 ms (the client did not complete it)"), "server: %s",
	    T.srv.reason);
	t_end();

	/* A client whose Finished is lost: the server stops at its deadline,
	 * and the client, which never saw a ticket, at its own. */
	t_begin();
	T.tls_c = t_tls("par", NULL, NULL, 0);
	T.tls_s = t_tls("nar", NULL, NULL, 0);
	t_cfg(&cc, CTP_SEC_TLS, 1, T.tls_c);
	t_cfg(&sc, CTP_SEC_TLS, 0, T.tls_s);
	cc.handshake_ms = sc.handshake_ms = 300;
	t_chan(&T.cli, &cc);
	t_chan(&T.srv, &sc);
	wire.hold = 1;
	t_start();
	CU_ASSERT(wire_step());   /* the ClientHello reaches the server */
	T.ps.sink = 1;            /* whatever the client says next is lost */
	CU_ASSERT(wire_step());   /* the server's flight reaches the client */
	CU_ASSERT(wire_idle());
	wire.hold = 0;
	CU_ASSERT(T.cli.ready == 0 && T.srv.ready == 0);
	CHECK(log_find(0, 0, "chan nar: handshake -> confirm", NULL) >= 0, "client not done");
	CHECK(t_run(both_failed, T_WAIT), "client %d, server %d", T.cli.failed, T.srv.failed);
	CU_ASSERT(T.cli.ready == 0 && T.srv.ready == 0);
	CHECK(strstr(T.cli.reason, "not confirmed after 300 ms"), "client: %s", T.cli.reason);
	CHECK(strstr(T.srv.reason, "not done after 300 ms"), "server: %s", T.srv.reason);
	t_end();
}

static int
cli_done(void)
{
	return T.cli.ready || T.cli.failed;
}

static void
test_no_ticket(void)
{
	struct ctp_chan_cfg cc;
	struct raw *r;
	uint8_t *m;

	/* A server that sends no NewSessionTicket and no data: the client
	 * cannot know it was accepted, and gives up at the deadline. */
	t_begin();
	T.tls_c = t_tls("par", NULL, NULL, 0);
	t_cfg(&cc, CTP_SEC_TLS, 1, T.tls_c);
	cc.handshake_ms = 300;
	t_chan(&T.cli, &cc);
	r = raw_new(0, "nar", NULL, 0, 1, 0);
	/* The handshake runs without turning the loop, so that the deadline
	 * cannot fire first on a slow machine (valgrind). */
	wire.hold = 1;
	ctp_chan_start(T.cli.chan);
	while (wire_step())
		;
	wire.hold = 0;
	CU_ASSERT(r->done == 1);
	CU_ASSERT(log_find(0, 0, "chan nar: handshake -> confirm", NULL) >= 0);
	CHECK(t_run(cli_failed, T_WAIT), "client did not fail");
	CU_ASSERT(T.cli.ready == 0);
	CHECK(strstr(T.cli.reason, "no NewSessionTicket"), "client: %s", T.cli.reason);
	t_end();
	raw_free(r);

	/* The same server's first application data proves it accepted us. */
	t_begin();
	T.tls_c = t_tls("par", NULL, NULL, 0);
	t_cfg(&cc, CTP_SEC_TLS, 1, T.tls_c);
	t_chan(&T.cli, &cc);
	r = raw_new(0, "nar", NULL, 0, 1, 0);
	ctp_chan_start(T.cli.chan);
	t_run(wire_idle, T_WAIT);
	CU_ASSERT(r->done == 1 && T.cli.ready == 0 && !T.cli.failed);
	m = mkmsg(64, 9);
	raw_write(r, m, 64);
	raw_flush(r);
	CHECK(t_run(cli_done, T_WAIT) && T.cli.ready, "client: %s", T.cli.reason);
	CU_ASSERT(log_find(0, 0, "confirm -> ready", "application data") >= 0);
	CU_ASSERT(T.cli.nmsg == 1 && got(&T.cli, 0, m, 64));
	free(m);
	t_end();
	raw_free(r);
}

/* ---- garbage, framing ------------------------------------------------------- */

static void
tls_pair(void)
{
	struct ctp_chan_cfg cc, sc;

	t_begin();
	T.tls_c = t_tls("par", NULL, NULL, 0);
	T.tls_s = t_tls("nar", NULL, NULL, 0);
	t_cfg(&cc, CTP_SEC_TLS, 1, T.tls_c);
	t_cfg(&sc, CTP_SEC_TLS, 0, T.tls_s);
	t_chan(&T.cli, &cc);
	t_chan(&T.srv, &sc);
	t_start();
	CHECK(t_run(both_ready, T_WAIT), "not ready: client %s, server %s", T.cli.reason,
	    T.srv.reason);
}

static void
test_garbage(void)
{
	uint8_t junk[300];

	/* Random octets where a record should be. */
	tls_pair();
	CU_ASSERT(RAND_bytes(junk, sizeof junk) == 1);
	junk[0] = 0x9c;   /* not a TLS content type, */
	junk[1] = 0x9c;   /* nor a TLS version: the error is certain */
	junk[2] = 0x9c;
	fake_send(&T.pc.base, 0, CTP_PPID_TLS, junk, sizeof junk);
	CHECK(t_run(srv_failed, T_WAIT), "server took garbage");
	CHECK(strstr(T.srv.reason, "TLS after the handshake: wrong version number"),
	    "server: %s", T.srv.reason);
	check_refusal_logged("par", "192.0.2.1:5091", "TLS after the handshake");
	CU_ASSERT(T.srv.nmsg == 0);
	t_end();

	/* A well-formed application-data record of random octets. */
	tls_pair();
	CU_ASSERT(RAND_bytes(junk, sizeof junk) == 1);
	junk[0] = 0x17;
	junk[1] = 0x03;
	junk[2] = 0x03;
	junk[3] = (sizeof junk - 5) >> 8;
	junk[4] = (sizeof junk - 5) & 0xff;
	fake_send(&T.ps.base, 0, CTP_PPID_TLS, junk, sizeof junk);
	CHECK(t_run(cli_failed, T_WAIT), "client took garbage");
	CHECK(strstr(T.cli.reason, "bad record mac"), "client: %s", T.cli.reason);
	CU_ASSERT(T.cli.nmsg == 0);
	t_end();
}

static int
srv_has_5(void)
{
	return T.srv.nmsg >= 5 || T.srv.failed;
}

static void
test_framing(void)
{
	struct ctp_chan_cfg sc;
	struct raw *r;
	uint8_t *a = mkmsg(1000, 1), *b = mkmsg(4, 2), *c = mkmsg(300, 3), *d = mkmsg(60000, 4),
	    *e = mkmsg(65535, 5), *three;
	size_t nthree = 4 + 300 + 1000;

	/* A raw client writes records cut where ctp_chan would not cut them. */
	t_begin();
	T.tls_s = t_tls("nar", NULL, NULL, 0);
	t_cfg(&sc, CTP_SEC_TLS, 0, T.tls_s);
	t_chan(&T.srv, &sc);
	ctp_chan_start(T.srv.chan);
	r = raw_new(1, "par", (const unsigned char *)"\x06" "cxtp/1", 7, 0, 0);
	raw_pump(r);
	t_run(wire_idle, T_WAIT);
	CU_ASSERT_FATAL(T.srv.ready == 1);
	/* 1. one message over four records, the header itself cut in two */
	raw_write(r, a, 1);
	raw_write(r, a + 1, 2);
	raw_write(r, a + 3, 500);
	raw_flush(r);
	raw_write(r, a + 503, 497);
	raw_flush(r);
	/* 2. three messages in one record */
	three = malloc(nthree);
	CU_ASSERT_PTR_NOT_NULL_FATAL(three);
	memcpy(three, b, 4);
	memcpy(three + 4, c, 300);
	memcpy(three + 304, a, 1000);
	raw_write(r, three, nthree);
	raw_flush(r);
	/* 3. 60000 octets in one write (four records), 4. the largest, 65535 */
	raw_write(r, d, 60000);
	raw_write(r, e, 65535);
	raw_flush(r);
	CHECK(t_run(srv_has_5, T_WAIT), "server got %zu: %s", T.srv.nmsg, T.srv.reason);
	CU_ASSERT(T.srv.nmsg == 6);
	CU_ASSERT(got(&T.srv, 0, a, 1000));
	CU_ASSERT(got(&T.srv, 1, b, 4));
	CU_ASSERT(got(&T.srv, 2, c, 300));
	CU_ASSERT(got(&T.srv, 3, a, 1000));
	CU_ASSERT(got(&T.srv, 4, d, 60000));
	CU_ASSERT(got(&T.srv, 5, e, 65535));
	/* 5. a Length below the header: the stream cannot be framed */
	raw_write(r, (const uint8_t *)"\x21\x00\x00\x03", 4);
	raw_flush(r);
	CHECK(t_run(srv_failed, T_WAIT) && strstr(T.srv.reason, "Length 3 is below"), "server: %s",
	    T.srv.reason);
	check_refusal_logged("par", "192.0.2.1:5091", "bad framing");
	CU_ASSERT(T.srv.nmsg == 6);
	t_end();
	raw_free(r);

	/* Channel to channel: 60 KB both ways, several back to back; SCTP
	 * messages hold whole records and stay near one record's size. */
	tls_pair();
	CU_ASSERT(ctp_chan_send(T.cli.chan, d, 60000, 0) == 0);
	CU_ASSERT(ctp_chan_send(T.cli.chan, b, 4, 0) == 0);
	CU_ASSERT(ctp_chan_send(T.cli.chan, e, 65535, 0) == 0);
	CU_ASSERT(ctp_chan_send(T.srv.chan, d, 60000, 0) == 0);
	t_run(wire_idle, T_WAIT);
	CU_ASSERT(T.srv.nmsg == 3 && got(&T.srv, 0, d, 60000) && got(&T.srv, 1, b, 4) &&
	    got(&T.srv, 2, e, 65535));
	CU_ASSERT(T.cli.nmsg == 1 && got(&T.cli, 0, d, 60000));
	CHECK(T.pc.maxmsg <= 16384 + 512, "an SCTP message of %zu octets", T.pc.maxmsg);
	/* Lengths that lie are the sender's bug. */
	CU_ASSERT(ctp_chan_send(T.cli.chan, a, 999, 0) == CTP_E_INVAL);
	CU_ASSERT(ctp_chan_send(T.cli.chan, a, 3, 0) == CTP_E_INVAL);
	t_end();
	free(a);
	free(b);
	free(c);
	free(d);
	free(e);
	free(three);
}

/* ---- plaintext modes ------------------------------------------------------- */

static void
plain_pair(enum ctp_sec mode, int allow)
{
	struct ctp_chan_cfg cc, sc;

	t_begin();
	t_cfg(&cc, mode, 1, NULL);
	t_cfg(&sc, mode, 0, NULL);
	cc.allow_keys_plain = sc.allow_keys_plain = allow;
	t_chan(&T.cli, &cc);
	t_chan(&T.srv, &sc);
	t_start();
	/* ready at once, inside start */
	CU_ASSERT(T.cli.ready == 1 && T.srv.ready == 1);
}

static void
test_none_keys(void)
{
	uint8_t *m = mkmsg(80, 7);
	unsigned sent;

	plain_pair(CTP_SEC_NONE, 0);
	CU_ASSERT(ctp_chan_mode(T.cli.chan) == CTP_SEC_NONE);
	CU_ASSERT(strcmp(ctp_chan_cipher(T.cli.chan), "") == 0);
	sent = T.pc.sent;
	CU_ASSERT(ctp_chan_send(T.cli.chan, m, 80, CTP_CHAN_KEYS) == CTP_E_AUTH);
	CU_ASSERT(T.pc.sent == sent);
	CHECK(log_find(0, CTP_LOG_ERR, "peer nar (192.0.2.2:5091)",
	    "refused to send key material in the clear") >= 0, "refusal not logged");
	CU_ASSERT(T.cli.failed == 0);   /* a local refusal; the channel stays */
	CU_ASSERT(ctp_chan_send(T.cli.chan, m, 80, 0) == 0);
	t_run(wire_idle, T_WAIT);
	CU_ASSERT(T.srv.nmsg == 1 && got(&T.srv, 0, m, 80));
	CU_ASSERT(log_count(CTP_LOG_WARN, "IN THE CLEAR") == 0);
	t_end();

	plain_pair(CTP_SEC_NONE, 1);
	CU_ASSERT(ctp_chan_send(T.cli.chan, m, 80, CTP_CHAN_KEYS) == 0);
	CU_ASSERT(ctp_chan_send(T.cli.chan, m, 80, CTP_CHAN_KEYS) == 0);
	CU_ASSERT(ctp_chan_send(T.cli.chan, m, 80, 0) == 0);
	t_run(wire_idle, T_WAIT);
	CU_ASSERT(T.srv.nmsg == 3);
	/* one warning for each send of key material, none for the other */
	CU_ASSERT(log_count(CTP_LOG_WARN, "sent key material IN THE CLEAR") == 2);
	CU_ASSERT(log_find(0, CTP_LOG_WARN, "peer nar (192.0.2.2:5091)", "IN THE CLEAR") >= 0);
	t_end();
	free(m);
}

static void
test_ipsec_plain(void)
{
	uint8_t *m = mkmsg(500, 3), *k = mkmsg(120, 4);

	plain_pair(CTP_SEC_IPSEC, 0);
	CU_ASSERT(ctp_chan_is_ready(T.cli.chan) && ctp_chan_mode(T.srv.chan) == CTP_SEC_IPSEC);
	CU_ASSERT(ctp_chan_send(T.cli.chan, m, 500, 0) == 0);
	CU_ASSERT(ctp_chan_send(T.cli.chan, k, 120, CTP_CHAN_KEYS) == 0);
	CU_ASSERT(ctp_chan_send(T.srv.chan, m, 500, 0) == 0);
	t_run(wire_idle, T_WAIT);
	CU_ASSERT(T.srv.nmsg == 2 && got(&T.srv, 0, m, 500) && got(&T.srv, 1, k, 120));
	CU_ASSERT(T.cli.nmsg == 1 && got(&T.cli, 0, m, 500));
	/* plaintext on the wire: one CXTP message per SCTP message */
	CU_ASSERT(T.pc.sent == 2 && T.pc.maxmsg == 500);
	CU_ASSERT(log_count(0, "IN THE CLEAR") == 0);
	t_end();
	free(m);
	free(k);
}

static void
test_wrong_ppid(void)
{
	uint8_t *m = mkmsg(40, 5);
	enum ctp_sec modes[] = { CTP_SEC_IPSEC, CTP_SEC_NONE };

	for (size_t i = 0; i < 2; i++) {
		plain_pair(modes[i], 0);
		fake_send(&T.pc.base, 0, CTP_PPID_TLS, m, 40);
		CHECK(t_run(srv_failed, T_WAIT) && strstr(T.srv.reason, "PPID 0x43585453 \"CXTS\""),
		    "server: %s", T.srv.reason);
		check_refusal_logged("par", "192.0.2.1:5091", "PPID");
		CU_ASSERT(T.srv.nmsg == 0);
		t_end();
	}

	tls_pair();
	fake_send(&T.pc.base, 0, CTP_PPID_PLAIN, m, 40);
	CHECK(t_run(srv_failed, T_WAIT) && strstr(T.srv.reason, "PPID 0x43585450 \"CXTP\"") &&
	    strstr(T.srv.reason, "security tls"), "server: %s", T.srv.reason);
	check_refusal_logged("par", "192.0.2.1:5091", "expected 0x43585453");
	t_end();

	/* Configured PPIDs replace the defaults. */
	{
		struct ctp_chan_cfg cc, sc;

		t_begin();
		t_cfg(&cc, CTP_SEC_IPSEC, 1, NULL);
		t_cfg(&sc, CTP_SEC_IPSEC, 0, NULL);
		cc.ppid_plain = sc.ppid_plain = 0x12345678;
		t_chan(&T.cli, &cc);
		t_chan(&T.srv, &sc);
		t_start();
		CU_ASSERT(ctp_chan_send(T.cli.chan, m, 40, 0) == 0);
		t_run(wire_idle, T_WAIT);
		CU_ASSERT(T.srv.nmsg == 1 && !T.srv.failed);
		fake_send(&T.pc.base, 0, CTP_PPID_PLAIN, m, 40);
		CHECK(t_run(srv_failed, T_WAIT) && strstr(T.srv.reason, "expected 0x12345678"),
		    "server: %s", T.srv.reason);
		t_end();
	}

	/* TLS records belong on stream 0. */
	tls_pair();
	fake_send(&T.pc.base, 3, CTP_PPID_TLS, m, 40);
	CHECK(t_run(srv_failed, T_WAIT) && strstr(T.srv.reason, "stream 3"), "server: %s",
	    T.srv.reason);
	t_end();
	free(m);
}

/* ---- the key log and TLS material errors ------------------------------------ */

static int
is_hex(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)p[i]))
			return 0;
	return 1;
}

static void
test_keylog(void)
{
	static const char *const labels[] = {
		"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
		"CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET",
	};
	struct ctp_tls_cfg cfg = { 0 };
	struct ctp_tls *t = NULL;
	struct ctp_err err = { 0 };
	char path[128], line[512];
	unsigned seen[5] = { 0 }, nlines = 0;
	struct stat st;
	FILE *f;

	snprintf(path, sizeof path, "%s/keylog.txt", certdir);
	unlink(path);
	/* Asked for, not allowed: refused, and nothing written. */
	cfg.keylog = path;
	CU_ASSERT(ctp_tls_new(&cfg, &t, &err) == CTP_E_CONFIG);
	CU_ASSERT(t == NULL && strstr(err.what, "allow_keylog") && strstr(err.what, path));
	CU_ASSERT(stat(path, &st) != 0 && errno == ENOENT);

	/* Allowed: the client side writes one SSLKEYLOGFILE line per secret. */
	t_begin();
	T.tls_c = t_tls("par", NULL, path, 1);
	T.tls_s = t_tls("nar", NULL, NULL, 0);
	CU_ASSERT(log_find(0, CTP_LOG_WARN, "TLS key log on", path) >= 0);
	{
		struct ctp_chan_cfg cc, sc;

		t_cfg(&cc, CTP_SEC_TLS, 1, T.tls_c);
		t_cfg(&sc, CTP_SEC_TLS, 0, T.tls_s);
		t_chan(&T.cli, &cc);
		t_chan(&T.srv, &sc);
	}
	t_start();
	CHECK(t_run(both_ready, T_WAIT), "not ready: %s / %s", T.cli.reason, T.srv.reason);
	CU_ASSERT(stat(path, &st) == 0 && (st.st_mode & 0077) == 0);
	f = fopen(path, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while (fgets(line, sizeof line, f)) {
		char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
		size_t n = strlen(line);
		int known = 0;

		nlines++;
		CHECK(n > 0 && line[n - 1] == '\n', "line without newline");
		line[--n] = '\0';
		CHECK(sp1 && sp2 && sp2 - sp1 - 1 == 64 && is_hex(sp1 + 1, 64) &&
		    (strlen(sp2 + 1) == 64 || strlen(sp2 + 1) == 96) &&
		    is_hex(sp2 + 1, strlen(sp2 + 1)), "not SSLKEYLOGFILE: %s", line);
		for (size_t i = 0; sp1 && i < 5; i++)
			if ((size_t)(sp1 - line) == strlen(labels[i]) &&
			    strncmp(line, labels[i], strlen(labels[i])) == 0) {
				seen[i]++;
				known = 1;
			}
		CHECK(known, "unknown label: %s", line);
		/* the secret must never reach the log */
		if (sp2) {
			uint8_t sec[48];
			size_t sl = strlen(sp2 + 1) / 2;

			for (size_t i = 0; i < sl && i < sizeof sec; i++) {
				unsigned v;

				sscanf(sp2 + 1 + 2 * i, "%2x", &v);
				sec[i] = (uint8_t)v;
			}
			log_forbid_hex(sec, sl < sizeof sec ? sl : sizeof sec);
		}
	}
	fclose(f);
	CU_ASSERT(nlines == 5);
	for (size_t i = 0; i < 5; i++)
		CHECK(seen[i] == 1, "%s seen %u times", labels[i], seen[i]);
	t_end();
	unlink(path);

	/* The key log of the server role works too (the demo runs both). */
	t_begin();
	T.tls_c = t_tls("par", NULL, NULL, 0);
	T.tls_s = t_tls("nar", NULL, path, 1);
	{
		struct ctp_chan_cfg cc, sc;

		t_cfg(&cc, CTP_SEC_TLS, 1, T.tls_c);
		t_cfg(&sc, CTP_SEC_TLS, 0, T.tls_s);
		t_chan(&T.cli, &cc);
		t_chan(&T.srv, &sc);
	}
	t_start();
	CU_ASSERT(t_run(both_ready, T_WAIT));
	CU_ASSERT(stat(path, &st) == 0 && st.st_size > 5 * 64);
	t_end();
	unlink(path);
}

static void
test_tls_new_errors(void)
{
	struct ctp_tls_cfg cfg = { 0 };
	struct ctp_tls *t = NULL;
	struct ctp_err err;
	char ca[128], cert[128], key[128], nkey[128], bad[128];
	FILE *f;

	cpath("ca.pem", ca, sizeof ca);
	cpath("par.pem", cert, sizeof cert);
	cpath("par.key", key, sizeof key);
	cpath("nar.key", nkey, sizeof nkey);
	cpath("garbage.pem", bad, sizeof bad);
	f = fopen(bad, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n", f);
	fclose(f);

	/* half a configuration */
	ctp_err_clear(&err);
	cfg.cert = cert;
	CU_ASSERT(ctp_tls_new(&cfg, &t, &err) == CTP_E_CONFIG && t == NULL);
	CHECK(strstr(err.what, "missing: CA key"), "%s", err.what);
	/* a missing file is named with the system's reason */
	ctp_err_clear(&err);
	cfg.ca = "/nonexistent/ca.pem";
	cfg.key = key;
	CU_ASSERT(ctp_tls_new(&cfg, &t, &err) == CTP_E_CONFIG && t == NULL);
	CHECK(strstr(err.what, "CA file /nonexistent/ca.pem: No such file"), "%s", err.what);
	/* a CA file that holds no certificate */
	ctp_err_clear(&err);
	cfg.ca = bad;
	CU_ASSERT(ctp_tls_new(&cfg, &t, &err) == CTP_E_CONFIG && t == NULL);
	CHECK(strstr(err.what, "CA file") && strstr(err.what, bad), "%s", err.what);
	/* a certificate file that is not one */
	ctp_err_clear(&err);
	cfg.ca = ca;
	cfg.cert = bad;
	CU_ASSERT(ctp_tls_new(&cfg, &t, &err) == CTP_E_CONFIG && t == NULL);
	CHECK(strstr(err.what, "certificate file") && strstr(err.what, bad), "%s", err.what);
	/* a key file that is a certificate */
	ctp_err_clear(&err);
	cfg.cert = cert;
	cfg.key = ca;
	CU_ASSERT(ctp_tls_new(&cfg, &t, &err) == CTP_E_CONFIG && t == NULL);
	CHECK(strstr(err.what, "key file") && strstr(err.what, ca), "%s", err.what);
	/* another node's key */
	ctp_err_clear(&err);
	cfg.key = nkey;
	CU_ASSERT(ctp_tls_new(&cfg, &t, &err) == CTP_E_CONFIG && t == NULL);
	CHECK(strstr(err.what, "does not match") && strstr(err.what, nkey), "%s", err.what);
	/* a key log in a folder that does not exist */
	ctp_err_clear(&err);
	cfg.key = key;
	cfg.keylog = "/nonexistent/keylog";
	cfg.allow_keylog = 1;
	CU_ASSERT(ctp_tls_new(&cfg, &t, &err) == CTP_E_IO && t == NULL);
	CHECK(strstr(err.what, "/nonexistent/keylog"), "%s", err.what);
	/* and all good */
	ctp_err_clear(&err);
	cfg.keylog = NULL;
	CU_ASSERT(ctp_tls_new(&cfg, &t, &err) == 0 && t != NULL);
	ctp_tls_free(t);
	ctp_tls_free(NULL);
	unlink(bad);
	CU_ASSERT(ERR_peek_error() == 0);
	log_check_and_reset();
}

/* ---- the owner's side of the contract -------------------------------------- */

static int
srv_has_1(void)
{
	return T.srv.nmsg >= 1;
}

static void
test_again(void)
{
	uint8_t *a = mkmsg(200, 1), *b = mkmsg(300, 2);

	/* tls: a message the transport cannot take yet waits in the channel;
	 * the next send is refused whole until writable drained it. */
	tls_pair();
	T.pc.again = 1;
	CU_ASSERT(ctp_chan_send(T.cli.chan, a, 200, 0) == 0);
	CU_ASSERT(ctp_chan_send(T.cli.chan, b, 300, 0) == CTP_E_AGAIN);
	ctp_chan_writable(T.cli.chan);   /* still full: nothing changes */
	CU_ASSERT(ctp_chan_send(T.cli.chan, b, 300, 0) == CTP_E_AGAIN);
	T.pc.again = 0;
	ctp_chan_writable(T.cli.chan);
	CU_ASSERT(ctp_chan_send(T.cli.chan, b, 300, 0) == 0);
	t_run(wire_idle, T_WAIT);
	CU_ASSERT(T.srv.nmsg == 2 && got(&T.srv, 0, a, 200) && got(&T.srv, 1, b, 300));
	t_end();

	/* plaintext: the transport's answer as it is */
	plain_pair(CTP_SEC_IPSEC, 0);
	T.pc.again = 1;
	CU_ASSERT(ctp_chan_send(T.cli.chan, a, 200, 0) == CTP_E_AGAIN);
	T.pc.again = 0;
	CU_ASSERT(ctp_chan_send(T.cli.chan, a, 200, 0) == 0);
	CU_ASSERT(t_run(srv_has_1, T_WAIT));
	/* a transport that is down */
	T.pc.base.up = 0;
	CU_ASSERT(ctp_chan_send(T.cli.chan, a, 200, 0) == CTP_E_STATE);
	t_end();
	free(a);
	free(b);
}

static void
test_free_in_callback(void)
{
	struct raw *r;
	struct ctp_chan_cfg sc;
	uint8_t *m = mkmsg(50, 1);
	uint8_t three[150];

	/* The owner frees the channel in its msg callback: no further message
	 * of the same record is delivered. */
	t_begin();
	T.tls_s = t_tls("nar", NULL, NULL, 0);
	t_cfg(&sc, CTP_SEC_TLS, 0, T.tls_s);
	t_chan(&T.srv, &sc);
	ctp_chan_start(T.srv.chan);
	r = raw_new(1, "par", (const unsigned char *)"\x06" "cxtp/1", 7, 0, 0);
	raw_pump(r);
	t_run(wire_idle, T_WAIT);
	CU_ASSERT_FATAL(T.srv.ready == 1);
	memcpy(three, m, 50);
	memcpy(three + 50, m, 50);
	memcpy(three + 100, m, 50);
	T.srv.free_on_msg = 1;
	raw_write(r, three, sizeof three);
	raw_flush(r);
	t_run(wire_idle, T_WAIT);
	CU_ASSERT(T.srv.nmsg == 1 && T.srv.chan == NULL);
	T.ps.chan = NULL;
	t_end();
	raw_free(r);

	/* ... and in its fail callback, as an owner closing the association. */
	t_begin();
	T.tls_c = t_tls("rogue-par", NULL, NULL, 0);
	T.tls_s = t_tls("nar", NULL, NULL, 0);
	{
		struct ctp_chan_cfg cc;

		t_cfg(&cc, CTP_SEC_TLS, 1, T.tls_c);
		t_cfg(&sc, CTP_SEC_TLS, 0, T.tls_s);
		t_chan(&T.cli, &cc);
		t_chan(&T.srv, &sc);
	}
	T.cli.free_on_fail = T.srv.free_on_fail = 1;
	t_start();
	CU_ASSERT(t_run(both_failed, T_WAIT));
	T.pc.chan = T.ps.chan = NULL;
	t_run(wire_idle, T_WAIT);
	t_end();
	free(m);
}

/* ---- over the in-memory SCTP transport -------------------------------------- */

/*
 * Real SCTP (usrsctp) on the in-memory wire: par (192.0.2.1) connects to
 * nar (192.0.2.2).  The owner's part is played as ctpd will: the client's
 * channel is made at connect and started at up, the server's made and
 * started at up; messages and writable go to the channel of p->ud; down
 * frees the channel.
 */
static struct {
	struct ctp_tr      *ta, *tb;     /* par's and nar's transports */
	struct ctp_tr_peer *pa;          /* par's association with nar */
	int                 closed;      /* close callbacks run */
	int                 downs;
	struct ctp_chan_cfg sc;          /* the server's channel, made at up */
	/* what each side still has to send */
	uint8_t            *out[2][64];
	size_t              outlen[2][64];
	size_t              nout, next[2];
} M;

static void
mem_up(struct ctp_tr_peer *p, void *ud)
{
	struct ctp_err err = { 0 };
	int r;

	if (ud == &M.tb) {
		CHECK(!T.srv.chan, "a second association");
		r = ctp_chan_new(&T.loop, &ctp_tr_mem, p, &M.sc, &test_cb, &T.srv, &T.srv.chan,
		    &err);
		CHECK(r == 0, "server channel: %s", err.what);
		p->ud = &T.srv;
		ctp_chan_start(T.srv.chan);
	} else {
		CHECK(p == M.pa, "unexpected association on par");
		p->ud = &T.cli;
		ctp_chan_start(T.cli.chan);
	}
}

static void
mem_down(struct ctp_tr_peer *p, int reason, void *ud)
{
	struct side *s = p->ud;

	(void)reason;
	(void)ud;
	M.downs++;
	if (s && s->chan) {
		ctp_chan_free(s->chan);
		s->chan = NULL;
	}
	p->ud = NULL;
	if (p == M.pa)
		M.pa = NULL;
}

static void
mem_msg(struct ctp_tr_peer *p, uint16_t sid, uint32_t ppid, const uint8_t *buf, size_t len,
    void *ud)
{
	struct side *s = p->ud;

	(void)ud;
	if (s && s->chan)
		ctp_chan_input(s->chan, sid, ppid, buf, len);
}

static void
mem_writable(struct ctp_tr_peer *p, void *ud)
{
	struct side *s = p->ud;

	(void)ud;
	if (s && s->chan)
		ctp_chan_writable(s->chan);
}

static const struct ctp_tr_cb mem_cb = { mem_up, mem_down, mem_msg, mem_writable };

static void
mem_closed(void *arg)
{
	(void)arg;
	M.closed++;
}

static int
mem_all_closed(void)
{
	return M.closed == 2;
}

static void
mem_sa(struct sockaddr_storage *ss, const char *a)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof *ss);
	s4->sin_family = AF_INET;
	s4->sin_port = htons(9899);
	inet_pton(AF_INET, a, &s4->sin_addr);
}

static void
mem_begin(enum ctp_sec mode, const struct ctp_mem_fault *f)
{
	struct ctp_tr_cfg ca = { 0 }, cb = { 0 };
	struct ctp_chan_cfg cc;
	struct sockaddr_storage to;
	struct ctp_err err = { 0 };

	t_begin();
	memset(&M, 0, sizeof M);
	if (mode == CTP_SEC_TLS) {
		T.tls_c = t_tls("par", NULL, NULL, 0);
		T.tls_s = t_tls("nar", NULL, NULL, 0);
	}
	ca.name = "mem-par";
	cb.name = "mem-nar";
	mem_sa(&ca.bind, "192.0.2.1");
	mem_sa(&cb.bind, "192.0.2.2");
	CHECK(ctp_tr_mem.open(&T.loop, &ca, &mem_cb, &M.ta, &M.ta, &err) == 0, "open: %s",
	    err.what);
	CHECK(ctp_tr_mem.open(&T.loop, &cb, &mem_cb, &M.tb, &M.tb, &err) == 0, "open: %s",
	    err.what);
	CU_ASSERT_FATAL(M.ta && M.tb);
	ctp_mem_wire_clear();
	ctp_mem_wire_seed(4067);
	if (f)
		ctp_mem_wire_fault(NULL, NULL, f);
	t_cfg(&M.sc, mode, 0, T.tls_s);
	M.sc.handshake_ms = 30000;
	t_cfg(&cc, mode, 1, T.tls_c);
	cc.handshake_ms = 30000;
	mem_sa(&to, "192.0.2.2");
	CHECK(ctp_tr_mem.connect(M.ta, (struct sockaddr *)&to, &M.pa, &err) == 0, "connect: %s",
	    err.what);
	CU_ASSERT_FATAL(M.pa != NULL);
	CU_ASSERT_FATAL(ctp_chan_new(&T.loop, &ctp_tr_mem, M.pa, &cc, &test_cb, &T.cli,
	    &T.cli.chan, &err) == 0);
}

static void
mem_end(void)
{
	for (size_t k = 0; k < 2; k++)
		for (size_t i = 0; i < M.nout; i++)
			free(M.out[k][i]);
	ctp_chan_free(T.cli.chan);
	ctp_chan_free(T.srv.chan);
	T.cli.chan = T.srv.chan = NULL;
	ctp_mem_wire_clear();
	ctp_tr_mem.close(M.ta, mem_closed, NULL);
	ctp_tr_mem.close(M.tb, mem_closed, NULL);
	CHECK(t_run(mem_all_closed, 30000), "transports not closed");
	t_end();
}

/* Send what each side still has (the transport may say "later"), and say
 * whether everything arrived. */
static int
mem_pump(void)
{
	struct side *from[2] = { &T.cli, &T.srv };

	for (size_t k = 0; k < 2; k++)
		while (from[k]->chan && ctp_chan_is_ready(from[k]->chan) && M.next[k] < M.nout) {
			int r = ctp_chan_send(from[k]->chan, M.out[k][M.next[k]],
			    M.outlen[k][M.next[k]], 0);

			if (r == CTP_E_AGAIN)
				break;
			CHECK(r == 0, "send: %s", ctp_errname(r));
			if (r != 0)
				return 1;
			M.next[k]++;
		}
	return (T.srv.nmsg >= M.nout && T.cli.nmsg >= M.nout) || T.cli.failed || T.srv.failed;
}

static void
mem_exchange(size_t n)
{
	M.nout = n;
	for (size_t k = 0; k < 2; k++)
		for (size_t i = 0; i < n; i++) {
			/* every fifth one 60 KB, the others a few hundred octets */
			M.outlen[k][i] = i % 5 == 4 ? 60000 : 60 + 97 * i;
			M.out[k][i] = mkmsg(M.outlen[k][i], (unsigned)(k * 100 + i));
		}
	CHECK(t_run(mem_pump, 60000), "client got %zu, server got %zu of %zu", T.cli.nmsg,
	    T.srv.nmsg, n);
	/* each exactly once, in order */
	CU_ASSERT(T.srv.nmsg == n && T.cli.nmsg == n);
	for (size_t i = 0; i < n; i++) {
		CHECK(got(&T.srv, i, M.out[0][i], M.outlen[0][i]), "server message %zu", i);
		CHECK(got(&T.cli, i, M.out[1][i], M.outlen[1][i]), "client message %zu", i);
	}
}

static void
test_mem_tls(void)
{
	mem_begin(CTP_SEC_TLS, NULL);
	CHECK(t_run(both_ready, 30000), "not ready: client %s, server %s", T.cli.reason,
	    T.srv.reason);
	CU_ASSERT(T.srv.ready_seq < T.cli.ready_seq && T.srv.peer_ready_then == 0);
	mem_exchange(20);
	mem_end();
}

static void
test_mem_tls_faults(void)
{
	struct ctp_mem_fault f = { .drop_pct = 20, .dup_pct = 20, .reorder_pct = 20 };
	uint64_t carried, dropped, dups, reordered;

	mem_begin(CTP_SEC_TLS, &f);
	CHECK(t_run(both_ready, 30000), "not ready: client %s, server %s", T.cli.reason,
	    T.srv.reason);
	CU_ASSERT(T.srv.ready_seq < T.cli.ready_seq && T.srv.peer_ready_then == 0);
	mem_exchange(30);
	ctp_mem_wire_stats(&carried, &dropped, &dups, &reordered);
	CHECK(dropped > 0 && dups > 0 && reordered > 0, "carried %llu, dropped %llu, dups %llu, "
	    "reordered %llu", (unsigned long long)carried, (unsigned long long)dropped,
	    (unsigned long long)dups, (unsigned long long)reordered);
	if (logs.echo)
		fprintf(stderr, "    wire: carried %llu, dropped %llu, dups %llu, reordered %llu\n",
		    (unsigned long long)carried, (unsigned long long)dropped,
		    (unsigned long long)dups, (unsigned long long)reordered);
	mem_end();
}

static void
test_mem_psk_faults(void)
{
	struct ctp_mem_fault f = { .drop_pct = 20, .dup_pct = 20, .reorder_pct = 20 };

	mem_begin(CTP_SEC_TLS, &f);
	log_forbid_hex(psk_a, sizeof psk_a);
	/* the client's channel was made with certificates: make a PSK pair */
	ctp_chan_free(T.cli.chan);
	{
		struct ctp_chan_cfg cc;
		struct ctp_err err = { 0 };

		t_cfg(&cc, CTP_SEC_TLS, 1, T.tls_c);
		cc.psk = psk_a;
		cc.psk_len = sizeof psk_a;
		cc.psk_identity = "par-nar";
		cc.handshake_ms = 30000;
		CU_ASSERT_FATAL(ctp_chan_new(&T.loop, &ctp_tr_mem, M.pa, &cc, &test_cb, &T.cli,
		    &T.cli.chan, &err) == 0);
	}
	M.sc.psk = psk_a;
	M.sc.psk_len = sizeof psk_a;
	M.sc.psk_identity = "par-nar";
	CHECK(t_run(both_ready, 30000), "not ready: client %s, server %s", T.cli.reason,
	    T.srv.reason);
	CU_ASSERT(strstr(ctp_chan_cipher(T.cli.chan), "(PSK)") != NULL);
	mem_exchange(10);
	mem_end();
}

static void
test_mem_plain_faults(void)
{
	struct ctp_mem_fault f = { .drop_pct = 20, .dup_pct = 20, .reorder_pct = 20 };

	mem_begin(CTP_SEC_IPSEC, &f);
	CHECK(t_run(both_ready, 30000), "not ready: client %s, server %s", T.cli.reason,
	    T.srv.reason);
	mem_exchange(20);
	mem_end();
}

CTP_TEST_SUITE(chan, chan_init, chan_clean,
    CTP_TEST(test_cert_ok),
    CTP_TEST(test_send_on_ready),
    CTP_TEST(test_cert_rogue_client),
    CTP_TEST(test_cert_rogue_server),
    CTP_TEST(test_cert_wrong_identity),
    CTP_TEST(test_psk_ok),
    CTP_TEST(test_psk_wrong_key),
    CTP_TEST(test_psk_unknown_identity),
    CTP_TEST(test_psk_vs_cert),
    CTP_TEST(test_alpn_client),
    CTP_TEST(test_alpn_server),
    CTP_TEST(test_deadline),
    CTP_TEST(test_no_ticket),
    CTP_TEST(test_garbage),
    CTP_TEST(test_framing),
    CTP_TEST(test_none_keys),
    CTP_TEST(test_ipsec_plain),
    CTP_TEST(test_wrong_ppid),
    CTP_TEST(test_keylog),
    CTP_TEST(test_tls_new_errors),
    CTP_TEST(test_again),
    CTP_TEST(test_free_in_callback),
    CTP_TEST(test_mem_tls),
    CTP_TEST(test_mem_tls_faults),
    CTP_TEST(test_mem_psk_faults),
    CTP_TEST(test_mem_plain_faults),
);
