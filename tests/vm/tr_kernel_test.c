/*
 * tr_kernel_test.c: the kernel SCTP transport on a real kernel (the qemu
 * guest of `make check-kernel`), against itself and against usrsctp.
 *
 *   tr_kernel_test [-v] t1
 *       Two kernel transports in this process.  Round 1: A (dual-stack
 *       wildcard) opens an association to B over IPv4 loopback; round 2: B
 *       opens one to A over ::1.  Each round: up on both sides, N messages
 *       each way on several streams with both CXTP PPIDs, sizes up to a
 *       60000-octet message (reassembled), send queue in use, then a
 *       graceful SHUTDOWN by one side (down reason SHUTDOWN on both).
 *   tr_kernel_test [-v] t2 NS_K ADDR_K NS_U ADDR_U
 *       A kernel transport with RFC 6951 UDP encapsulation in network
 *       namespace NS_K (a /run/netns path) at ADDR_K, and a usrsctp
 *       transport in NS_U at ADDR_U, every node on UDP 9899 and SCTP 5091.
 *       Round 1: the kernel node connects (to ADDR_U, SCTP port), the
 *       usrsctp node shuts down; round 2: usrsctp connects (to ADDR_K, UDP
 *       port), the kernel node shuts down.  Messages both ways, intact.
 *
 * One loop, one thread; the namespaces are entered with setns() before
 * each transport opens its sockets, which stay in their namespace.
 * Prints one line per round and PASS/FAIL; exit status 0 on PASS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "ctp/ctp_err.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_tr.h"

#define PPID_CXTP   0x43585450u
#define PPID_CXTS   0x43585453u
#define SCTP_PORT   5091
#define UDP_PORT    9899
#define BIG         60000
#define MAX_STREAMS 4

struct node {
	const struct ctp_tr_ops *ops;
	struct ctp_tr      *tr;
	const char         *name;
	struct ctp_tr_peer *peer;
	int                 ups, downs, last_down, closed;
	unsigned            writables;
	/* what this node sends in the current round */
	unsigned            streams, tx_next, tx_total;
	/* what it received */
	unsigned            rx_msgs, rx_next[MAX_STREAMS];
	uint64_t            rx_bytes;
	char                bad[200];   /* the first thing that was wrong */
};

static uv_loop_t loop;
static int verbose;

static void fail_note(struct node *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail_note(struct node *n, const char *fmt, ...)
{
	va_list ap;

	if (n->bad[0])
		return;
	va_start(ap, fmt);
	vsnprintf(n->bad, sizeof n->bad, fmt, ap);
	va_end(ap);
}

/* ---- message i of a round: stream, PPID, size and content follow from i -- */

static size_t
msg_size(unsigned i)
{
	if (i % 500 == 250)
		return BIG;   /* bigger than one read, one MTU, one TLS record */
	return 8 + (i * 37) % 1400;
}

static uint32_t
msg_ppid(unsigned i)
{
	return i % 2 ? PPID_CXTS : PPID_CXTP;
}

static void
msg_fill(uint8_t *buf, unsigned i, size_t len)
{
	buf[0] = (uint8_t)(i >> 24);
	buf[1] = (uint8_t)(i >> 16);
	buf[2] = (uint8_t)(i >> 8);
	buf[3] = (uint8_t)i;
	for (size_t k = 4; k < len; k++)
		buf[k] = (uint8_t)(i * 31 + k);
}

/* Send until done or the transport pushes back; writable resumes. */
static void
pump(struct node *n)
{
	static uint8_t buf[BIG];

	while (n->peer && n->tx_next < n->tx_total) {
		unsigned i = n->tx_next;
		size_t len = msg_size(i);
		int rc;

		msg_fill(buf, i, len);
		rc = n->ops->send(n->peer, (uint16_t)(i % n->streams), msg_ppid(i), buf, len);
		if (rc == CTP_E_AGAIN)
			return;
		if (rc < 0) {
			fail_note(n, "%s: send %u: %s", n->name, i, ctp_errname(rc));
			return;
		}
		n->tx_next++;
	}
}

/* ---- callbacks ---------------------------------------------------------- */

static void
on_up(struct ctp_tr_peer *p, void *ud)
{
	struct node *n = ud;

	n->ups++;
	n->peer = p;
	pump(n);
}

static void
on_down(struct ctp_tr_peer *p, int reason, void *ud)
{
	struct node *n = ud;

	n->downs++;
	n->last_down = reason;
	if (n->peer == p)
		n->peer = NULL;
}

static void
on_msg(struct ctp_tr_peer *p, uint16_t sid, uint32_t ppid, const uint8_t *buf, size_t len,
    void *ud)
{
	struct node *n = ud;
	unsigned i;

	(void)p;
	n->rx_msgs++;
	n->rx_bytes += len;
	if (len < 4) {
		fail_note(n, "%s: %zu-octet message", n->name, len);
		return;
	}
	i = (unsigned)buf[0] << 24 | (unsigned)buf[1] << 16 | (unsigned)buf[2] << 8 | buf[3];
	if (sid >= MAX_STREAMS || i != n->rx_next[sid]) {
		fail_note(n, "%s: stream %u: message %u, expected %u", n->name, sid, i,
		    sid < MAX_STREAMS ? n->rx_next[sid] : 0);
		return;
	}
	n->rx_next[sid] += n->streams;
	if (ppid != msg_ppid(i) || len != msg_size(i)) {
		fail_note(n, "%s: message %u: ppid %#x len %zu, expected %#x %zu", n->name, i, ppid,
		    len, msg_ppid(i), msg_size(i));
		return;
	}
	for (size_t k = 4; k < len; k++)
		if (buf[k] != (uint8_t)(i * 31 + k)) {
			fail_note(n, "%s: message %u damaged at octet %zu", n->name, i, k);
			return;
		}
}

static void
on_writable(struct ctp_tr_peer *p, void *ud)
{
	struct node *n = ud;

	(void)p;
	n->writables++;
	pump(n);
}

static const struct ctp_tr_cb cbs = { on_up, on_down, on_msg, on_writable };

static void
on_closed(void *arg)
{
	((struct node *)arg)->closed = 1;
}

/* ---- plumbing ----------------------------------------------------------- */

static int
sa_set(struct sockaddr_storage *ss, const char *addr, uint16_t port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (!addr)
		return 0;   /* AF_UNSPEC: the backend's wildcard */
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		return 0;
	}
	fprintf(stderr, "bad address %s\n", addr);
	return -1;
}

static int
node_open(struct node *n, const struct ctp_tr_ops *ops, const char *name, const char *bind,
    uint16_t bind_port, uint16_t sctp_port, int udp_encaps)
{
	struct ctp_tr_cfg cfg;
	struct ctp_err err;
	int rc;

	memset(n, 0, sizeof *n);
	memset(&cfg, 0, sizeof cfg);
	ctp_err_clear(&err);
	n->ops = ops;
	n->name = name;
	cfg.name = name;
	if (sa_set(&cfg.bind, bind, bind_port) < 0)
		return -1;
	cfg.sctp_port = sctp_port;
	cfg.udp_port = UDP_PORT;
	cfg.udp_encaps = udp_encaps;
	cfg.max_peers = 16;
	cfg.max_transfer_ms = 200;
	cfg.queue_max = 1 << 20;
	cfg.idle_peer_ms = 30000;
	if ((rc = ops->open(&loop, &cfg, &cbs, n, &n->tr, &err)) < 0) {
		printf("FAIL %s: open (%s backend): %s: %s\n", name, ops->name, ctp_errname(rc),
		    err.what);
		return -1;
	}
	return 0;
}

/* Run the loop until cond(a, b) or ms pass. */
static int
wait_for(int (*cond)(struct node *, struct node *), struct node *a, struct node *b, unsigned ms)
{
	uint64_t end;

	uv_update_time(&loop);
	end = uv_now(&loop) + ms;
	while (!cond(a, b)) {
		if (uv_now(&loop) >= end)
			return 0;
		uv_run(&loop, UV_RUN_ONCE);   /* the guard timer below bounds it */
		uv_update_time(&loop);
	}
	return 1;
}

static int both_up(struct node *a, struct node *b) { return a->ups && b->ups; }
static int both_down(struct node *a, struct node *b) { return a->downs && b->downs; }
static int all_closed(struct node *a, struct node *b) { return a->closed && (!b || b->closed); }

static int
all_received(struct node *a, struct node *b)
{
	return (a->rx_msgs >= b->tx_total && b->rx_msgs >= a->tx_total) || a->bad[0] || b->bad[0];
}

/* all_received, as long as messages keep arriving (at least one every
 * 20 s: TCG is slow, but not that slow); 0 on a stall */
static int
wait_progress(struct node *a, struct node *b)
{
	unsigned last = ~0u;

	while (a->rx_msgs + b->rx_msgs != last) {
		last = a->rx_msgs + b->rx_msgs;
		if (wait_for(all_received, a, b, 20000))
			return 1;
	}
	printf("stalled: %s sent %u of %u (queued %zu), %s sent %u of %u (queued %zu);"
	    " writable %u/%u\n", a->name, a->tx_next, a->tx_total,
	    a->peer ? a->peer->queue_bytes : 0, b->name, b->tx_next, b->tx_total,
	    b->peer ? b->peer->queue_bytes : 0, a->writables, b->writables);
	fflush(stdout);
	if (system("echo '/proc/net/sctp/assocs:'; cat /proc/net/sctp/assocs") != 0)
		return 0;
	return 0;
}

static void
guard_cb(uv_timer_t *t)
{
	(void)t;   /* only wakes uv_run(UV_RUN_ONCE) so that wait_for sees time pass */
}

/*
 * One round: `from` opens an association to `to` at addr, both send count
 * messages over `streams` streams, then `closer` shuts down gracefully.
 */
static int
round_run(const char *label, struct node *from, struct node *to, const char *addr,
    uint16_t port, unsigned count, unsigned streams, struct node *closer)
{
	struct node *other = closer == from ? to : from;
	struct ctp_tr_peer *p = NULL;
	struct sockaddr_storage ss;
	struct ctp_err err;
	char seen[64] = "?";
	uint64_t t0, queued[2];
	int rc;

	ctp_err_clear(&err);
	for (struct node **np = (struct node *[]){ from, to, NULL }; *np; np++) {
		struct node *n = *np;

		n->ups = n->downs = n->last_down = 0;
		n->writables = n->rx_msgs = 0;
		n->rx_bytes = 0;
		n->tx_next = 0;
		n->tx_total = count;
		n->streams = streams;
		for (unsigned s = 0; s < MAX_STREAMS; s++)
			n->rx_next[s] = s;
	}
	uv_update_time(&loop);
	t0 = uv_now(&loop);
	if (sa_set(&ss, addr, port) < 0)
		return -1;
	if ((rc = from->ops->connect(from->tr, (struct sockaddr *)&ss, &p, &err)) < 0) {
		printf("FAIL %s: connect: %s: %s\n", label, ctp_errname(rc), err.what);
		return -1;
	}
	if (!wait_for(both_up, from, to, 30000)) {
		printf("FAIL %s: association not up within 30 s (%s up %d down %d, %s up %d)\n",
		    label, from->name, from->ups, from->downs, to->name, to->ups);
		return -1;
	}
	if (!from->peer->outbound || to->peer->outbound) {
		printf("FAIL %s: outbound flags %d/%d\n", label, from->peer->outbound,
		    to->peer->outbound);
		return -1;
	}
	{
		const struct sockaddr_storage *a = &to->peer->addr;
		char h[INET6_ADDRSTRLEN] = "?";

		if (a->ss_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, h, sizeof h);
		else if (a->ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, h,
			    sizeof h);
		snprintf(seen, sizeof seen, a->ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", h,
		    ntohs(((const struct sockaddr_in *)a)->sin_port));
	}
	if (!wait_progress(from, to) || from->bad[0] || to->bad[0]) {
		printf("FAIL %s: %s got %u/%u, %s got %u/%u%s%s%s%s\n", label, from->name,
		    from->rx_msgs, to->tx_total, to->name, to->rx_msgs, from->tx_total,
		    from->bad[0] ? ": " : "", from->bad, to->bad[0] ? ": " : "", to->bad);
		return -1;
	}
	queued[0] = from->peer->send_queued;   /* peers are gone after down */
	queued[1] = to->peer->send_queued;
	closer->ops->close_peer(closer->peer, 0);
	if (!wait_for(both_down, from, to, 20000)) {
		printf("FAIL %s: SHUTDOWN did not complete (downs %d/%d)\n", label, from->downs,
		    to->downs);
		return -1;
	}
	if (closer->last_down != CTP_TR_DOWN_SHUTDOWN || other->last_down != CTP_TR_DOWN_SHUTDOWN) {
		printf("FAIL %s: down reasons %s at %s, %s at %s (want SHUTDOWN, both)\n", label,
		    ctp_tr_down_name(closer->last_down), closer->name,
		    ctp_tr_down_name(other->last_down), other->name);
		return -1;
	}
	uv_update_time(&loop);
	printf("ok   %s: %s -> %s (%s sees %s); %u and %u messages, %llu and %llu octets,"
	    " %u stream(s), PPIDs %#x/%#x; queued %llu and %llu (writable %u and %u);"
	    " SHUTDOWN by %s; %.1f s\n", label, from->name, to->name, to->name, seen,
	    to->rx_msgs, from->rx_msgs, (unsigned long long)to->rx_bytes,
	    (unsigned long long)from->rx_bytes, streams, PPID_CXTP, PPID_CXTS,
	    (unsigned long long)queued[0], (unsigned long long)queued[1], from->writables,
	    to->writables, closer->name, (double)(uv_now(&loop) - t0) / 1000);
	return 0;
}

static int
close_all(struct node *a, struct node *b)
{
	a->ops->close(a->tr, on_closed, a);
	if (b)
		b->ops->close(b->tr, on_closed, b);
	if (!wait_for(all_closed, a, b, 15000)) {
		printf("FAIL close: transports did not finish closing\n");
		return -1;
	}
	return 0;
}

/* ---- T1: kernel <-> kernel ------------------------------------------------ */

static int
t1(void)
{
	struct node a, b;
	int rc = -1;

	if (node_open(&a, &ctp_tr_kernel, "A", NULL, 0, SCTP_PORT, 0) < 0)
		return -1;
	if (node_open(&b, &ctp_tr_kernel, "B", NULL, 0, SCTP_PORT + 1, 0) < 0) {
		close_all(&a, NULL);
		return -1;
	}
	if (round_run("T1 IPv4", &a, &b, "127.0.0.1", SCTP_PORT + 1, 3000, 3, &a) == 0 &&
	    round_run("T1 IPv6", &b, &a, "::1", SCTP_PORT, 3000, 2, &a) == 0)
		rc = 0;
	if (close_all(&a, &b) < 0)
		rc = -1;
	return rc;
}

/* ---- T2: kernel (RFC 6951) <-> usrsctp ------------------------------------ */

static int
enter_ns(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		printf("FAIL T2: network namespace %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
t2(const char *ns_k, const char *addr_k, const char *ns_u, const char *addr_u)
{
	struct node k, u;
	int rc = -1;

	/* sockets keep the namespace they were made in */
	if (enter_ns(ns_k) < 0 ||
	    node_open(&k, &ctp_tr_kernel, "kernel", addr_k, 0, SCTP_PORT, 1) < 0)
		return -1;
	if (enter_ns(ns_u) < 0 ||
	    node_open(&u, &ctp_tr_usrsctp, "usrsctp", addr_u, UDP_PORT, SCTP_PORT, 1) < 0) {
		close_all(&k, NULL);
		return -1;
	}
	/* kernel -> usrsctp: the kernel names the peer by its SCTP port and
	 * encapsulates to UDP 9899; usrsctp names peers by their UDP port */
	if (round_run("T2 kernel->usrsctp", &k, &u, addr_u, SCTP_PORT, 1000, 1, &u) == 0 &&
	    round_run("T2 usrsctp->kernel", &u, &k, addr_k, UDP_PORT, 1000, 1, &k) == 0)
		rc = 0;
	/* still in the usrsctp node's namespace, its UDP socket still open:
	 * datagrams the kernel dropped for it (26AB is 9899) */
	fflush(stdout);
	if (system("cat /proc/net/udp /proc/net/udp6 | awk '$2 ~ /:26AB$/ "
	    "{ print \"  usrsctp node: UDP 9899 socket, \" $NF \" drops\" }'") != 0)
		printf("  (no /proc/net/udp)\n");
	if (close_all(&k, &u) < 0)
		rc = -1;
	return rc;
}

int
main(int argc, char **argv)
{
	uv_timer_t guard;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		verbose = 1;
		argv++;
		argc--;
	}
	ctp_log_open("tr_kernel_test", CTP_LOG_STDERR, verbose ? CTP_LOG_DEBUG : CTP_LOG_NOTICE);
	if (uv_loop_init(&loop) != 0)
		return 2;
	/* keeps uv_run(ONCE) from blocking longer than 50 ms */
	uv_timer_init(&loop, &guard);
	uv_timer_start(&guard, guard_cb, 50, 50);
	if (argc == 2 && strcmp(argv[1], "t1") == 0)
		rc = t1();
	else if (argc == 6 && strcmp(argv[1], "t2") == 0)
		rc = t2(argv[2], argv[3], argv[4], argv[5]);
	else {
		fprintf(stderr, "usage: tr_kernel_test [-v] t1 | t2 NS_K ADDR_K NS_U ADDR_U\n");
		return 2;
	}
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	printf("%s: %s\n", argv[1], rc == 0 ? "PASS" : "FAIL");
	return rc == 0 ? 0 : 1;
}
