/*
 * test_tr_kernel.c: the kernel SCTP transport (src/ctp/ctp_tr_kernel.c) and
 * the retransmission arithmetic it shares with usrsctp (ctp_tr_rto.h).
 *
 * The same file serves two kernels.  On one without SCTP (the development
 * host) it checks that opening fails cleanly with CTP_E_UNSUPPORTED and a
 * line that says why.  On one with SCTP (the qemu guest of `make
 * check-kernel`, which runs `unit-tests tr_kernel`) it runs the transport for
 * real over loopback: associations, messages both ways, refused connects,
 * the send queue and its limit, ABORT, SHUTDOWN and closing.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "ctp/ctp_log.h"
#include "ctp/ctp_tr.h"
#include "ctp/ctp_tr_rto.h"
#include "test.h"

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif

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

static int have_sctp;      /* the running kernel can open an SCTP socket */
static int probe_errno;    /* why not */

static int
trk_suite_init(void)
{
	int fd = socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP);

	if (fd >= 0) {
		have_sctp = 1;
		close(fd);
	} else {
		probe_errno = errno;
		fprintf(stderr, "\n  tr_kernel: this kernel has no SCTP (%s): only the clean"
		    " failure is tested here; the transport itself runs under"
		    " `make check-kernel`\n", strerror(probe_errno));
	}
	return 0;
}

/* ---- retransmission arithmetic (host and guest) ------------------------- */

/* Sum of the first n+1 timeouts, starting at first, doubling, capped. */
static uint64_t
trk_backoff_sum(uint32_t first, uint32_t max, unsigned n)
{
	uint64_t sum = 0, rto = first;

	for (unsigned i = 0; i <= n; i++) {
		sum += rto;
		rto = rto * 2 > max ? max : rto * 2;
	}
	return sum;
}

static void
test_rto_default(void)
{
	struct ctp_tr_rto r, d;

	ctp_tr_rto_derive(200, &r);
	CHECK(r.rto_min_ms == 50 && r.rto_initial_ms == 100 && r.rto_max_ms == 800,
	    "RTO %u/%u/%u", r.rto_min_ms, r.rto_initial_ms, r.rto_max_ms);
	CHECK(r.dead_ms == 10000, "dead %u", r.dead_ms);
	CHECK(r.assoc_max_rxt == 15 && r.path_max_rxt == 8 && r.max_init_rxt == 14,
	    "rxt %u/%u/%u", r.assoc_max_rxt, r.path_max_rxt, r.max_init_rxt);
	CHECK(r.hb_interval_ms == 2500 && r.shutdown_ms == 1600 && r.sack_freq == 1,
	    "hb %u shutdown %u sack_freq %u", r.hb_interval_ms, r.shutdown_ms, r.sack_freq);
	ctp_tr_rto_derive(0, &d);   /* 0 is the profile's default */
	CHECK(memcmp(&r, &d, sizeof r) == 0, "0 ms does not mean 200 ms");
}

static void
test_rto_properties(void)
{
	static const unsigned ts[] = { 1, 40, 100, 200, 500, 1000, 5000, 60000, 1000000 };

	for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
		struct ctp_tr_rto r;
		uint32_t t;

		ctp_tr_rto_derive(ts[i], &r);
		t = r.transfer_ms;
		CHECK(t >= 40 && t <= 60000, "T %u from %u", t, ts[i]);
		CHECK(r.rto_min_ms <= r.rto_initial_ms && r.rto_initial_ms <= r.rto_max_ms,
		    "T %u: RTO order %u/%u/%u", t, r.rto_min_ms, r.rto_initial_ms, r.rto_max_ms);
		/* the original and two retransmissions fit in T (where the
		 * 10 ms floor allows) */
		if (t >= 40 && r.rto_min_ms > 10 && r.rto_min_ms < 1000)
			CHECK(trk_backoff_sum(r.rto_min_ms, r.rto_max_ms, 1) <= t,
			    "T %u: two timeouts take %llu ms", t,
			    (unsigned long long)trk_backoff_sum(r.rto_min_ms, r.rto_max_ms, 1));
		/* the retransmission count is the least that covers the dead time */
		CHECK(trk_backoff_sum(r.rto_min_ms, r.rto_max_ms, r.assoc_max_rxt) >= r.dead_ms ||
		    r.assoc_max_rxt == 30, "T %u: %u retransmissions cover too little", t,
		    r.assoc_max_rxt);
		CHECK(r.assoc_max_rxt <= 1 ||
		    trk_backoff_sum(r.rto_min_ms, r.rto_max_ms, r.assoc_max_rxt - 1u) < r.dead_ms,
		    "T %u: %u retransmissions are more than needed", t, r.assoc_max_rxt);
		CHECK(r.path_max_rxt >= 1 && r.path_max_rxt <= r.assoc_max_rxt,
		    "T %u: path %u assoc %u", t, r.path_max_rxt, r.assoc_max_rxt);
		CHECK(r.max_init_rxt >= 1 && r.max_init_timeo_ms == r.rto_max_ms,
		    "T %u: init %u timeo %u", t, r.max_init_rxt, r.max_init_timeo_ms);
		CHECK(r.hb_interval_ms >= 1000 && r.hb_interval_ms <= 30000, "T %u: hb %u", t,
		    r.hb_interval_ms);
		CHECK(r.sack_delay_ms >= 10 && r.sack_delay_ms <= 200, "T %u: sack %u", t,
		    r.sack_delay_ms);
	}
}

/* ---- a loopback harness (kernels with SCTP) ------------------------------- */

#define TRK_PPID_CXTP 0x43585450u
#define TRK_PPID_CXTS 0x43585453u

struct trk_node {
	struct ctp_tr      *tr;
	const char         *name;
	struct ctp_tr_peer *peer;     /* the last that came up */
	int                 ups, downs, last_down, writables, closed;
	int                 msgs;
	uint32_t            last_ppid;
	uint16_t            last_sid;
	size_t              last_len;
	int                 bad;      /* a message's content was wrong */
	int                 echo;     /* send every message back */
};

static uv_loop_t trk_loop;
static unsigned trk_max_peers = 8;   /* for the next trk_open */

static void
trk_up(struct ctp_tr_peer *p, void *ud)
{
	struct trk_node *n = ud;

	n->ups++;
	n->peer = p;
}

static void
trk_down(struct ctp_tr_peer *p, int reason, void *ud)
{
	struct trk_node *n = ud;

	n->downs++;
	n->last_down = reason;
	if (n->peer == p)
		n->peer = NULL;
}

static void
trk_msg(struct ctp_tr_peer *p, uint16_t sid, uint32_t ppid, const uint8_t *buf, size_t len,
    void *ud)
{
	struct trk_node *n = ud;

	n->msgs++;
	n->last_ppid = ppid;
	n->last_sid = sid;
	n->last_len = len;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != (uint8_t)(i * 7 + len))
			n->bad++;
	if (n->echo)
		ctp_tr_kernel.send(p, sid, ppid, buf, len);
}

static void
trk_writable(struct ctp_tr_peer *p, void *ud)
{
	struct trk_node *n = ud;

	(void)p;
	n->writables++;
}

static const struct ctp_tr_cb trk_cb = { trk_up, trk_down, trk_msg, trk_writable };

static void
trk_closed(void *arg)
{
	((struct trk_node *)arg)->closed = 1;
}

static void
trk_sa(struct sockaddr_storage *ss, uint16_t port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof *ss);
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static int
trk_open(struct trk_node *n, const char *name, uint16_t port, size_t queue_max)
{
	struct ctp_tr_cfg cfg;
	struct ctp_err err;
	int rc;

	memset(n, 0, sizeof *n);
	memset(&cfg, 0, sizeof cfg);
	ctp_err_clear(&err);
	n->name = name;
	cfg.name = name;
	trk_sa(&cfg.bind, 0);
	cfg.sctp_port = port;
	cfg.udp_port = 9899;
	cfg.max_peers = trk_max_peers;
	cfg.max_transfer_ms = 200;
	cfg.queue_max = queue_max;
	rc = ctp_tr_kernel.open(&trk_loop, &cfg, &trk_cb, n, &n->tr, &err);
	CHECK(rc == 0, "open %s: %s", name, err.what);
	return rc;
}

/* Run the loop until *flag reaches want or ms pass; 1 when it did. */
static int
trk_wait(const int *flag, int want, unsigned ms)
{
	uint64_t end;

	uv_update_time(&trk_loop);
	end = uv_now(&trk_loop) + ms;
	while (*flag < want && uv_now(&trk_loop) < end) {
		uv_run(&trk_loop, UV_RUN_NOWAIT);
		usleep(1000);
		uv_update_time(&trk_loop);
	}
	return *flag >= want;
}

static void
trk_close(struct trk_node *n)
{
	if (!n->tr)
		return;
	ctp_tr_kernel.close(n->tr, trk_closed, n);
	CHECK(trk_wait(&n->closed, 1, 5000), "%s: close never finished", n->name);
	n->tr = NULL;
}

static int
trk_pair(struct trk_node *a, struct trk_node *b, uint16_t pa, uint16_t pb, size_t qa)
{
	struct sockaddr_storage to;
	struct ctp_tr_peer *p = NULL;
	struct ctp_err err;

	ctp_err_clear(&err);
	if (trk_open(a, "A", pa, qa) < 0 || trk_open(b, "B", pb, 0) < 0)
		return -1;
	trk_sa(&to, pb);
	CHECK(ctp_tr_kernel.connect(a->tr, (struct sockaddr *)&to, &p, &err) == 0, "connect: %s",
	    err.what);
	CHECK(p && p->outbound && !p->up, "connect returns an outbound peer, not yet up");
	if (!trk_wait(&a->ups, 1, 5000) || !trk_wait(&b->ups, 1, 5000)) {
		CHECK(0, "association not up: A %d B %d", a->ups, b->ups);
		return -1;
	}
	CHECK(a->peer == p, "A's up is for the peer connect returned");
	return 0;
}

static void
trk_fill(uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + len);
}

/* ---- the tests ---------------------------------------------------------- */

static void
test_open_unsupported(void)
{
	struct ctp_tr_cfg cfg;
	struct ctp_tr *tr = (struct ctp_tr *)&cfg;   /* must be cleared */
	struct ctp_err err;
	int rc;

	memset(&cfg, 0, sizeof cfg);
	ctp_err_clear(&err);
	cfg.name = "unit";
	cfg.sctp_port = 5091;
	trk_sa(&cfg.bind, 0);
	rc = ctp_tr_kernel.open(&trk_loop, &cfg, &trk_cb, NULL, &tr, &err);
	if (have_sctp) {
		CHECK(rc == 0 && tr, "this kernel has SCTP, yet open failed: %s", err.what);
		if (rc == 0) {
			struct trk_node n = { .name = "unit" };

			n.tr = tr;
			trk_close(&n);
		}
		return;
	}
	CHECK(rc == CTP_E_UNSUPPORTED, "open returned %s, not CTP_E_UNSUPPORTED", ctp_errname(rc));
	CHECK(err.code == CTP_E_UNSUPPORTED, "err.code %s", ctp_errname(err.code));
	CHECK(tr == NULL, "*out not cleared on failure");
	CHECK(strstr(err.what, "kernel SCTP unavailable") != NULL, "err.what: \"%s\"", err.what);
	CHECK(strstr(err.what, strerror(probe_errno)) != NULL,
	    "err.what does not name the reason (%s): \"%s\"", strerror(probe_errno), err.what);
	/* the dual-stack (AF_INET6) path says the same */
	memset(&cfg.bind, 0, sizeof cfg.bind);
	ctp_err_clear(&err);
	rc = ctp_tr_kernel.open(&trk_loop, &cfg, &trk_cb, NULL, &tr, &err);
	CHECK(rc == CTP_E_UNSUPPORTED && tr == NULL, "wildcard open: %s (%s)", ctp_errname(rc),
	    err.what);
	CHECK(strcmp(ctp_tr_kernel.name, "kernel") == 0, "ops name %s", ctp_tr_kernel.name);
}

static void
test_messages_and_shutdown(void)
{
	struct trk_node a, b;
	struct ctp_tr_peer *again = NULL;
	struct sockaddr_storage to;
	struct ctp_err err;
	uint8_t *big;

	if (!have_sctp)
		return;
	if (trk_pair(&a, &b, 15101, 15102, 0) < 0)
		goto out;
	b.echo = 1;
	CHECK(b.peer && !b.peer->outbound && b.peer->up, "B's peer is inbound and up");
	CHECK(b.peer && b.peer->addr.ss_family == AF_INET &&
	    ((struct sockaddr_in *)&b.peer->addr)->sin_port == htons(15101),
	    "B sees A as 127.0.0.1:15101");
	CHECK(a.peer && a.peer->pr_sctp, "Linux on both ends: PR-SCTP negotiated");
	/* connect to a known address returns the same peer */
	trk_sa(&to, 15102);
	ctp_err_clear(&err);
	CHECK(ctp_tr_kernel.connect(a.tr, (struct sockaddr *)&to, &again, &err) == 0 &&
	    again == a.peer, "second connect returns the existing peer");
	/* small messages, then one that arrives in pieces (reassembly) */
	big = malloc(60000);
	trk_fill(big, 100);
	CHECK(ctp_tr_kernel.send(a.peer, 0, TRK_PPID_CXTP, big, 100) == 0, "send 100");
	CHECK(trk_wait(&a.msgs, 1, 5000), "echo of 100 octets");
	CHECK(a.last_ppid == TRK_PPID_CXTP && a.last_len == 100 && a.last_sid == 0,
	    "ppid %#x len %zu sid %u", a.last_ppid, a.last_len, a.last_sid);
	trk_fill(big, 60000);
	CHECK(ctp_tr_kernel.send(a.peer, 3, TRK_PPID_CXTS, big, 60000) == 0, "send 60000");
	CHECK(trk_wait(&a.msgs, 2, 5000), "echo of 60000 octets");
	CHECK(a.last_ppid == TRK_PPID_CXTS && a.last_len == 60000 && a.last_sid == 3,
	    "ppid %#x len %zu sid %u", a.last_ppid, a.last_len, a.last_sid);
	CHECK(a.bad == 0 && b.bad == 0, "content damaged: %d %d", a.bad, b.bad);
	CHECK(a.peer->msgs_out == 2 && a.peer->msgs_in == 2 && a.peer->bytes_in == 60100,
	    "counters %llu %llu %llu", (unsigned long long)a.peer->msgs_out,
	    (unsigned long long)a.peer->msgs_in, (unsigned long long)a.peer->bytes_in);
	/* refusals that need no network */
	CHECK(ctp_tr_kernel.send(a.peer, 0, 1, big, 70000) == CTP_E_LIMIT, "oversized message");
	CHECK(ctp_tr_kernel.send(a.peer, 200, 1, big, 10) == CTP_E_INVAL, "stream out of range");
	CHECK(ctp_tr_kernel.send(a.peer, 0, 1, big, 0) == CTP_E_INVAL, "empty message");
	free(big);
	/* graceful close: SHUTDOWN on both sides, whoever started it */
	ctp_tr_kernel.close_peer(a.peer, 0);
	CHECK(ctp_tr_kernel.send(a.peer, 0, 1, "x", 1) == CTP_E_STATE, "send after close_peer");
	CHECK(trk_wait(&a.downs, 1, 5000) && trk_wait(&b.downs, 1, 5000), "downs %d %d", a.downs,
	    b.downs);
	CHECK(a.last_down == CTP_TR_DOWN_SHUTDOWN, "A down %s", ctp_tr_down_name(a.last_down));
	CHECK(b.last_down == CTP_TR_DOWN_SHUTDOWN, "B down %s", ctp_tr_down_name(b.last_down));
out:
	trk_close(&a);
	trk_close(&b);
}

static void
test_refused(void)
{
	struct trk_node a;
	struct sockaddr_storage to;
	struct ctp_tr_peer *p = NULL;
	struct ctp_err err;

	if (!have_sctp || trk_open(&a, "A", 15111, 0) < 0)
		return;
	ctp_err_clear(&err);
	trk_sa(&to, 15119);   /* nobody listens: the kernel answers INIT with ABORT */
	CHECK(ctp_tr_kernel.connect(a.tr, (struct sockaddr *)&to, &p, &err) == 0, "connect: %s",
	    err.what);
	CHECK(trk_wait(&a.downs, 1, 5000), "no down for a refused association");
	CHECK(a.last_down == CTP_TR_DOWN_REFUSED, "down %s", ctp_tr_down_name(a.last_down));
	CHECK(a.ups == 0, "refused association came up");
	trk_close(&a);
}

static void
test_queue_and_abort(void)
{
	struct trk_node a, b;
	static uint8_t buf[1000];
	int rc = 0, sent = 0;

	if (!have_sctp)
		return;
	if (trk_pair(&a, &b, 15121, 15122, 8 * sizeof buf) < 0)
		goto out;
	trk_fill(buf, sizeof buf);
	/* without running the loop the kernel's buffers fill, then our
	 * queue (8 messages), then the owner is told to wait */
	while (sent < 5000 && (rc = ctp_tr_kernel.send(a.peer, 0, TRK_PPID_CXTP, buf,
	    sizeof buf)) == 0)
		sent++;
	CHECK(rc == CTP_E_AGAIN, "send never pushed back (%d sent, rc %s)", sent,
	    ctp_errname(rc));
	CHECK(a.peer->send_queued == 8 && a.peer->queue_bytes == 8 * sizeof buf,
	    "queued %llu, %zu bytes", (unsigned long long)a.peer->send_queued,
	    a.peer->queue_bytes);
	CHECK(trk_wait(&a.writables, 1, 10000), "writable never came");
	CHECK(a.peer->queue_bytes == 0, "writable with %zu bytes queued", a.peer->queue_bytes);
	CHECK(trk_wait(&b.msgs, sent, 10000), "B got %d of %d", b.msgs, sent);
	CHECK(b.bad == 0, "content damaged");
	/* ABORT: ours is LOCAL at once, theirs ABORTED */
	ctp_tr_kernel.close_peer(a.peer, 1);
	CHECK(trk_wait(&a.downs, 1, 5000) && trk_wait(&b.downs, 1, 5000), "downs %d %d", a.downs,
	    b.downs);
	CHECK(a.last_down == CTP_TR_DOWN_LOCAL, "A down %s", ctp_tr_down_name(a.last_down));
	CHECK(b.last_down == CTP_TR_DOWN_ABORTED, "B down %s", ctp_tr_down_name(b.last_down));
out:
	trk_close(&a);
	trk_close(&b);
}

static void
test_close_with_peers(void)
{
	struct trk_node a, b;

	if (!have_sctp)
		return;
	if (trk_pair(&a, &b, 15131, 15132, 0) < 0)
		goto out;
	/* closing the transport shuts the association down gracefully and
	 * reports it before done */
	ctp_tr_kernel.close(a.tr, trk_closed, &a);
	CHECK(a.downs == 0, "down reported from inside close()");
	CHECK(trk_wait(&a.closed, 1, 5000), "close never finished");
	a.tr = NULL;
	CHECK(a.downs == 1 && a.last_down == CTP_TR_DOWN_SHUTDOWN, "A downs %d (%s)", a.downs,
	    ctp_tr_down_name(a.last_down));
	CHECK(trk_wait(&b.downs, 1, 5000) && b.last_down == CTP_TR_DOWN_SHUTDOWN, "B down %s",
	    ctp_tr_down_name(b.last_down));
out:
	trk_close(&a);
	trk_close(&b);
}

static void
test_connect_crossing(void)
{
	struct trk_node a, b;
	struct sockaddr_storage to;
	struct ctp_tr_peer *pa = NULL, *pb = NULL;
	struct ctp_err err;
	static const uint8_t hello[] = "hello";

	if (!have_sctp)
		return;
	if (trk_open(&a, "A", 15141, 0) < 0 || trk_open(&b, "B", 15142, 0) < 0)
		goto out;
	ctp_err_clear(&err);
	trk_sa(&to, 15141);
	CHECK(ctp_tr_kernel.connect(b.tr, (struct sockaddr *)&to, &pb, &err) == 0, "B connect: %s",
	    err.what);
	/* loopback completes the handshake in the kernel while A has not read
	 * its COMM_UP yet: A's connect finds the association being set up */
	usleep(50000);
	trk_sa(&to, 15142);
	CHECK(ctp_tr_kernel.connect(a.tr, (struct sockaddr *)&to, &pa, &err) == 0, "A connect: %s",
	    err.what);
	CHECK(trk_wait(&a.ups, 1, 5000) && trk_wait(&b.ups, 1, 5000), "ups %d %d", a.ups, b.ups);
	CHECK(a.peer == pa && b.peer == pb, "one association, the peers connect returned");
	if (a.peer)
		CHECK(ctp_tr_kernel.send(a.peer, 0, TRK_PPID_CXTP, hello, 5) == 0, "send");
	CHECK(trk_wait(&b.msgs, 1, 5000), "message over the crossed association");
	CHECK(a.ups == 1 && b.ups == 1 && a.downs == 0 && b.downs == 0,
	    "ups %d/%d downs %d/%d", a.ups, b.ups, a.downs, b.downs);
out:
	trk_close(&a);
	trk_close(&b);
}

static void
test_max_peers(void)
{
	struct trk_node a1, a2, b;
	struct sockaddr_storage to;
	struct ctp_tr_peer *p = NULL;
	struct ctp_err err;

	if (!have_sctp)
		return;
	memset(&a2, 0, sizeof a2);
	memset(&b, 0, sizeof b);
	if (trk_pair(&a1, &b, 15151, 15153, 0) < 0)
		goto out;
	/* b's limit was 8; a second transport with room for one peer */
	trk_close(&b);
	CHECK(trk_wait(&a1.downs, 1, 5000), "A1 not told of B closing");
	trk_max_peers = 1;
	if (trk_open(&b, "B", 15153, 0) < 0 || trk_open(&a2, "A2", 15152, 0) < 0) {
		trk_max_peers = 8;
		goto out;
	}
	trk_max_peers = 8;
	ctp_err_clear(&err);
	trk_sa(&to, 15153);
	a1.ups = 0;
	CHECK(ctp_tr_kernel.connect(a1.tr, (struct sockaddr *)&to, &p, &err) == 0, "connect: %s",
	    err.what);
	CHECK(trk_wait(&a1.ups, 1, 5000) && trk_wait(&b.ups, 1, 5000), "first peer not up");
	CHECK(ctp_tr_kernel.connect(a2.tr, (struct sockaddr *)&to, &p, &err) == 0, "connect: %s",
	    err.what);
	CHECK(trk_wait(&a2.downs, 1, 5000), "the peer over the limit was not refused");
	CHECK(a2.last_down == CTP_TR_DOWN_ABORTED || a2.last_down == CTP_TR_DOWN_REFUSED,
	    "A2 down %s", ctp_tr_down_name(a2.last_down));
	CHECK(b.ups == 1 && b.downs == 0, "B ups %d downs %d", b.ups, b.downs);
out:
	trk_close(&a1);
	trk_close(&a2);
	trk_close(&b);
}

static int
trk_init(void)
{
	if (uv_loop_init(&trk_loop) != 0)
		return -1;
	return trk_suite_init();
}

static int
trk_clean(void)
{
	uv_run(&trk_loop, UV_RUN_NOWAIT);
	return uv_loop_close(&trk_loop) == 0 ? 0 : -1;
}

CTP_TEST_SUITE(tr_kernel, trk_init, trk_clean,
    CTP_TEST(test_rto_default),
    CTP_TEST(test_rto_properties),
    CTP_TEST(test_open_unsupported),
    CTP_TEST(test_messages_and_shutdown),
    CTP_TEST(test_refused),
    CTP_TEST(test_queue_and_abort),
    CTP_TEST(test_close_with_peers),
    CTP_TEST(test_connect_crossing),
    CTP_TEST(test_max_peers),
);
