/*
 * ctp_tr_kernel.c: the kernel SCTP backend of ctp_tr.h, through lksctp-tools
 * and the RFC 6458 socket API.
 *
 * One one-to-many (SOCK_SEQPACKET) socket per transport, non-blocking, under
 * one uv_poll_t: the kernel runs the associations, we only move messages and
 * notifications.  An association is known by its sctp_assoc_t; each maps to
 * one struct kernel_peer, created by connect() or, for one the peer opened,
 * by its COMM_UP notification.
 *
 * Decisions, and why:
 * - RFC 6458 sctp_sendv/sctp_recvv and SCTP_EVENT, not the deprecated
 *   SCTP_EVENTS/sndrcvinfo: the usrsctp backend uses the same calls, so the
 *   two behave alike (usrsctp has no SCTP_EVENTS option at all).  Sending
 *   builds sctp_sendv's SCTP_SNDINFO message itself (see
 *   ctp_tr_kernel_sendv for the lksctp bug that makes this necessary).
 * - Retransmission limits come from CT_MAX_TRANSFER_TIME through
 *   ctp_tr_rto_derive() (ctp_tr_rto.h, where the arithmetic is explained),
 *   shared with the usrsctp backend.
 * - PR-SCTP is negotiated and recorded in peer->pr_sctp, but no message is
 *   ever sent with a lifetime or abandoned: what travels here is a TLS
 *   byte stream cut into records, and one missing record breaks the TLS
 *   connection for good.  A transfer that runs out of time is the engine's
 *   business (CTDR/CTC), not the transport's.
 * - Partial deliveries (the kernel's partial delivery API, or simply a
 *   message larger than our read buffer) are reassembled per association
 *   up to KERNEL_MSG_MAX; a peer that sends more is aborted, because an
 *   unbounded message is the one thing a peer must not make us allocate.
 * - RFC 6951 UDP encapsulation (cfg->udp_encaps) reaches usrsctp nodes.
 *   All ctpd nodes use one UDP port (cfg->udp_port, 9899 by default) both
 *   to listen and as the peer's port, so connect() keeps taking the peer's
 *   address with its SCTP port, and the encapsulation port is the
 *   transport's, set once on the socket for every future association
 *   (SCTP_REMOTE_UDP_ENCAPS_PORT with SCTP_FUTURE_ASSOC): a per-association
 *   setting would come too late, since sctp_connectx() sends the INIT
 *   before it returns.  The kernel receives encapsulated packets only when
 *   net.sctp.udp_port (per network namespace) is set; we set it when it is
 *   0 and we may, and never change a value someone else chose.  A socket
 *   copies that sysctl when it is created and sends encapsulated only if
 *   its copy is set, so open() makes its socket anew after setting it.
 * - Flow control: a send the kernel refuses with EAGAIN waits in a per-peer
 *   queue (cfg->queue_max bytes); once a queue exists every later message
 *   of that peer queues behind it, so order on a stream is kept.  POLLOUT
 *   is watched only while some peer waits, and flushes the queues.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/sctp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ctp/ctp_err.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_secret.h"
#include "ctp/ctp_tr.h"
#include "ctp/ctp_tr_rto.h"

/* Largest message either way: a CXTP message is at most 65535 octets (its
 * Length field), and TLS adds a few dozen octets per record around it; the
 * rest is margin for the channel's framing. */
#define KERNEL_MSG_MAX       (64 * 1024 + 4096)
/* The read buffer: most CXTP messages fit whole; larger ones arrive in
 * pieces and are reassembled. */
#define KERNEL_RXBUF         (16 * 1024)
/* Streams offered and accepted; CXTP uses stream 0 (PROFILE 2). */
#define KERNEL_STREAMS       8
/* Reads per poll callback, so one busy socket does not starve the loop. */
#define KERNEL_READ_BURST    64
#define KERNEL_QUEUE_DEFAULT (256 * 1024)
#define KERNEL_PEERS_DEFAULT 64
#define KERNEL_UDP_PORT_FILE "/proc/sys/net/sctp/udp_port"

/* Who closes an association, which decides the reason down reports. */
enum kernel_closer {
	KERNEL_OPEN = 0,
	KERNEL_EOF,         /* we sent SHUTDOWN (or will, once the queue drains) */
	KERNEL_ABORT,       /* we sent ABORT at the owner's request */
	KERNEL_VIOLATION,   /* we sent ABORT because the peer broke a limit */
};

/* A message the kernel had no room for yet. */
struct kernel_msg {
	struct kernel_msg *next;
	uint16_t           sid;
	uint32_t           ppid;    /* host order */
	size_t             len;
	uint8_t            data[];
};

struct kernel_peer {
	struct ctp_tr_peer  base;        /* first: the owner sees only this */
	struct kernel_peer *next;
	sctp_assoc_t        id;
	uint16_t            out_streams;
	int                 closing;     /* enum kernel_closer */
	int                 eof_pending; /* SHUTDOWN once the queue is empty */
	int                 peer_shut;   /* the peer sent SHUTDOWN */
	int                 blocked;     /* CTP_E_AGAIN returned: writable owed */
	int                 gone;        /* reason of a down not yet reported */
	int                 told;        /* the owner knows p: down is owed */
	struct kernel_msg  *q_head;
	struct kernel_msg **q_tail;
	uint8_t            *rx;          /* message being reassembled */
	size_t              rx_len, rx_cap;
	uint16_t            rx_sid;
	uint32_t            rx_ppid;     /* network order, as received */
};

struct ctp_tr {
	uv_loop_t          *loop;
	struct ctp_tr_cfg   cfg;
	char                name[48];
	struct ctp_tr_cb    cb;
	void               *ud;
	struct ctp_tr_rto   rto;
	int                 fd;
	uv_poll_t           poll;
	int                 poll_events;   /* what poll watches now */
	uv_timer_t          defer;         /* reports downs outside the caller's stack */
	uv_timer_t          bound;         /* the close() wait for SHUTDOWN-COMPLETE */
	int                 open_handles;
	struct kernel_peer *peers;
	unsigned            npeers;        /* not gone */
	uint8_t            *rxbuf;
	int                 notif_tail;    /* skipping the rest of a long notification */
	int                 closing;
	int                 finishing;
	void              (*done)(void *);
	void               *done_arg;
};

static void ctp_tr_kernel_poll_cb(uv_poll_t *h, int status, int events);

/* ---- addresses -------------------------------------------------------- */

/* A v4-mapped IPv6 address becomes plain IPv4: the dual-stack socket
 * reports IPv4 peers that way, the configuration names them as IPv4. */
static void
ctp_tr_kernel_sa_norm(const struct sockaddr *sa, struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

	memset(out, 0, sizeof *out);
	if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;

		s4->sin_family = AF_INET;
		s4->sin_port = s6->sin6_port;
		memcpy(&s4->sin_addr, &s6->sin6_addr.s6_addr[12], 4);
	} else if (sa->sa_family == AF_INET6)
		memcpy(out, sa, sizeof(struct sockaddr_in6));
	else if (sa->sa_family == AF_INET)
		memcpy(out, sa, sizeof(struct sockaddr_in));
}

static socklen_t
ctp_tr_kernel_sa_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) : 0;
}

/* Same address and port, after normalisation. */
static int
ctp_tr_kernel_sa_eq(const struct sockaddr_storage *x, const struct sockaddr_storage *y)
{
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)x;
	const struct sockaddr_in *b4 = (const struct sockaddr_in *)y;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)x;
	const struct sockaddr_in6 *b6 = (const struct sockaddr_in6 *)y;

	if (x->ss_family != y->ss_family)
		return 0;
	if (x->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port && a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	if (x->ss_family == AF_INET6)
		return a6->sin6_port == b6->sin6_port &&
		    memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof a6->sin6_addr) == 0;
	return 0;
}

/* "[addr]:port" into buf. */
static const char *
ctp_tr_kernel_sa_fmt(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
		port = ntohs(s4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
		port = ntohs(s6->sin6_port);
	}
	snprintf(buf, len, "[%s]:%u", a, port);
	return buf;
}

/* ---- peers ------------------------------------------------------------ */

/* "name [addr]:port #assoc", for log lines. */
static const char *
ctp_tr_kernel_peer_fmt(const struct kernel_peer *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN + 16];

	snprintf(buf, len, "%s %s #%d", p->base.tr->name,
	    ctp_tr_kernel_sa_fmt(&p->base.addr, a, sizeof a), (int)p->id);
	return buf;
}

static const char *
ctp_tr_kernel_peer_state(const struct kernel_peer *p)
{
	if (p->gone)
		return "closed";
	if (p->closing || p->peer_shut)
		return "shutting-down";
	return p->base.up ? "up" : "connecting";
}

static void
ctp_tr_kernel_peer_log(const struct kernel_peer *p, const char *old, const char *event)
{
	char id[96];

	ctp_log_state("assoc", ctp_tr_kernel_peer_fmt(p, id, sizeof id), old,
	    ctp_tr_kernel_peer_state(p), event);
}

static struct kernel_peer *
ctp_tr_kernel_peer_by_id(struct ctp_tr *t, sctp_assoc_t id)
{
	for (struct kernel_peer *p = t->peers; p; p = p->next)
		if (p->id == id && !p->gone)
			return p;
	return NULL;
}

static struct kernel_peer *
ctp_tr_kernel_peer_by_addr(struct ctp_tr *t, const struct sockaddr_storage *ss)
{
	for (struct kernel_peer *p = t->peers; p; p = p->next)
		if (!p->gone && ctp_tr_kernel_sa_eq(&p->base.addr, ss))
			return p;
	return NULL;
}

static struct kernel_peer *
ctp_tr_kernel_peer_new(struct ctp_tr *t, sctp_assoc_t id, const struct sockaddr_storage *addr,
    int outbound)
{
	struct kernel_peer *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	p->base.tr = t;
	p->base.addr = *addr;
	p->base.outbound = outbound;
	p->told = outbound;   /* connect() returned it */
	p->id = id;
	p->q_tail = &p->q_head;
	p->next = t->peers;
	t->peers = p;
	t->npeers++;
	return p;
}

/* Drop what waits to be sent; returns the bytes dropped. */
static size_t
ctp_tr_kernel_queue_drop(struct kernel_peer *p)
{
	size_t bytes = p->base.queue_bytes;
	struct kernel_msg *m;

	while ((m = p->q_head) != NULL) {
		p->q_head = m->next;
		ctp_wipe(m->data, m->len);   /* plaintext under security ipsec or none */
		free(m);
	}
	p->q_tail = &p->q_head;
	p->base.queue_bytes = 0;
	return bytes;
}

static void
ctp_tr_kernel_peer_free(struct kernel_peer *p)
{
	ctp_tr_kernel_queue_drop(p);
	free(p->rx);
	free(p);
}

/* Unlink and free; the owner has been told (or never knew of p). */
static void
ctp_tr_kernel_peer_unlink(struct ctp_tr *t, struct kernel_peer *p)
{
	for (struct kernel_peer **pp = &t->peers; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	ctp_tr_kernel_peer_free(p);
}

static void ctp_tr_kernel_finish(struct ctp_tr *t);

/* The association is over: tell the owner, then forget p.  Called only from
 * our own callbacks (poll, timers), never from inside a call of the owner. */
static void
ctp_tr_kernel_peer_down(struct ctp_tr *t, struct kernel_peer *p, int reason, const char *event)
{
	const char *old = ctp_tr_kernel_peer_state(p);
	size_t dropped;

	if (!p->gone)
		t->npeers--;
	p->gone = reason;
	if ((dropped = ctp_tr_kernel_queue_drop(p)) > 0)
		log_info("%s #%d: %zu queued bytes never sent", t->name, (int)p->id, dropped);
	ctp_tr_kernel_peer_log(p, old, event);
	/* An inbound peer the owner was never told of (refused while we
	 * were closing) gets no down: up is the first the owner hears of it. */
	if (p->told)
		t->cb.down(&p->base, reason, t->ud);
	ctp_tr_kernel_peer_unlink(t, p);
	if (t->closing && t->npeers == 0 && !t->finishing)
		ctp_tr_kernel_finish(t);
}

static void
ctp_tr_kernel_defer_cb(uv_timer_t *h)
{
	struct ctp_tr *t = h->data;
	struct kernel_peer *p;

	/* restart the scan after each report: the owner's down callback may
	 * have closed other peers */
	do {
		for (p = t->peers; p && !p->gone; p = p->next)
			;
		if (p)
			ctp_tr_kernel_peer_down(t, p, p->gone, "reported");
	} while (p && !t->finishing);
}

/* Report p down from the loop, not from the caller's stack. */
static void
ctp_tr_kernel_peer_defer_down(struct ctp_tr *t, struct kernel_peer *p, int reason)
{
	if (!p->gone)
		t->npeers--;
	p->gone = reason;
	uv_timer_start(&t->defer, ctp_tr_kernel_defer_cb, 0, 0);
}

/* ---- the socket ------------------------------------------------------- */

static void
ctp_tr_kernel_poll_update(struct ctp_tr *t)
{
	int want = UV_READABLE;

	if (t->finishing)
		return;
	for (struct kernel_peer *p = t->peers; p; p = p->next)
		if (!p->gone && (p->q_head || p->blocked)) {
			want |= UV_WRITABLE;
			break;
		}
	if (want != t->poll_events) {
		uv_poll_start(&t->poll, want, ctp_tr_kernel_poll_cb);
		t->poll_events = want;
	}
}

/*
 * Send to one association: RFC 6458 sctp_sendv() with SCTP_SENDV_SNDINFO,
 * done by hand.  lksctp-tools 1.0.19's sctp_sendv() puts its flags argument
 * into msg_flags and calls sendmsg() with flags 0, so MSG_NOSIGNAL cannot
 * reach the kernel through it (an association the peer is shutting down
 * answers EPIPE, and SIGPIPE would kill the daemon); it also mallocs its
 * control buffer on every message.  The cmsg below is exactly the one it
 * builds.  Returns the errno, 0 when sent.
 */
static int
ctp_tr_kernel_sendv(struct ctp_tr *t, sctp_assoc_t id, uint16_t sid, uint32_t ppid,
    const void *buf, size_t len, uint16_t flags)
{
	union {
		char           buf[CMSG_SPACE(sizeof(struct sctp_sndinfo))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)(uintptr_t)buf, len };
	struct msghdr mh;
	struct cmsghdr *cm;
	struct sctp_sndinfo si;

	memset(&si, 0, sizeof si);
	si.snd_sid = sid;
	si.snd_flags = flags;            /* never SCTP_UNORDERED: PROFILE 2 */
	si.snd_ppid = htonl(ppid);       /* the kernel sends it as given */
	si.snd_assoc_id = id;
	memset(&ctl, 0, sizeof ctl);
	memset(&mh, 0, sizeof mh);
	mh.msg_iov = len ? &iov : NULL;
	mh.msg_iovlen = len ? 1 : 0;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof ctl.buf;
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = IPPROTO_SCTP;
	cm->cmsg_type = SCTP_SNDINFO;
	cm->cmsg_len = CMSG_LEN(sizeof si);
	memcpy(CMSG_DATA(cm), &si, sizeof si);
	if (sendmsg(t->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return errno;
	return 0;
}

static void
ctp_tr_kernel_abort_id(struct ctp_tr *t, sctp_assoc_t id)
{
	int e = ctp_tr_kernel_sendv(t, id, 0, 0, NULL, 0, SCTP_ABORT);

	if (e && e != EINVAL && e != ENOENT)
		log_warn("%s #%d: ABORT: %s", t->name, (int)id, strerror(e));
}

/* ABORT p and report it down (from the loop) with reason. */
static void
ctp_tr_kernel_peer_abort(struct ctp_tr *t, struct kernel_peer *p, int why, int reason)
{
	const char *old = ctp_tr_kernel_peer_state(p);

	p->closing = why;
	ctp_tr_kernel_abort_id(t, p->id);
	ctp_tr_kernel_peer_log(p, old, "ABORT sent");
	ctp_tr_kernel_peer_defer_down(t, p, reason);
}

static void
ctp_tr_kernel_send_eof(struct ctp_tr *t, struct kernel_peer *p)
{
	int e;

	p->eof_pending = 0;
	if ((e = ctp_tr_kernel_sendv(t, p->id, 0, 0, NULL, 0, SCTP_EOF)) != 0) {
		/* the association is already going away; its notification
		 * follows, else the close() bound reports it */
		log_info("%s #%d: SHUTDOWN: %s", t->name, (int)p->id, strerror(e));
	}
}

/* Hand queued messages to the kernel until it refuses; then SHUTDOWN if
 * that waited for the queue, and tell a blocked owner it may send again. */
static void
ctp_tr_kernel_flush(struct ctp_tr *t, struct kernel_peer *p)
{
	struct kernel_msg *m;
	int e = 0;

	while ((m = p->q_head) != NULL) {
		e = ctp_tr_kernel_sendv(t, p->id, m->sid, m->ppid, m->data, m->len, 0);
		if (e == EAGAIN || e == EWOULDBLOCK)
			return;
		if (e) {
			size_t n = ctp_tr_kernel_queue_drop(p);

			log_warn("%s #%d: send: %s; %zu queued bytes dropped", t->name, (int)p->id,
			    strerror(e), n);
			return;
		}
		p->base.msgs_out++;
		p->base.bytes_out += m->len;
		p->base.queue_bytes -= m->len;
		if ((p->q_head = m->next) == NULL)
			p->q_tail = &p->q_head;
		ctp_wipe(m->data, m->len);
		free(m);
	}
	if (p->eof_pending)
		ctp_tr_kernel_send_eof(t, p);
	if (!p->blocked)
		return;
	/* cleared before the callback: sending from it may block again */
	p->blocked = 0;
	if (!p->closing && !p->peer_shut && !t->closing && t->cb.writable)
		t->cb.writable(&p->base, t->ud);
}

static void
ctp_tr_kernel_flush_all(struct ctp_tr *t)
{
	/* writable may close peers (never free them): gone ones are skipped */
	for (struct kernel_peer *p = t->peers; p; p = p->next)
		if (!p->gone && (p->q_head || p->blocked))
			ctp_tr_kernel_flush(t, p);
}

/* ---- receiving -------------------------------------------------------- */

static void
ctp_tr_kernel_deliver(struct ctp_tr *t, struct kernel_peer *p, uint16_t sid, uint32_t ppid_net,
    const uint8_t *buf, size_t len)
{
	p->base.msgs_in++;
	p->base.bytes_in += len;
	t->cb.msg(&p->base, sid, ntohl(ppid_net), buf, len, t->ud);
}

static void
ctp_tr_kernel_data(struct ctp_tr *t, const struct sctp_rcvinfo *ri, size_t n, int eor)
{
	struct kernel_peer *p = ctp_tr_kernel_peer_by_id(t, ri->rcv_assoc_id);
	char id[96];

	/* after an ABORT of ours, and once closing, the rest is noise */
	if (!p || t->closing || p->closing == KERNEL_ABORT || p->closing == KERNEL_VIOLATION)
		return;
	if (p->rx_len == 0 && eor) {
		ctp_tr_kernel_deliver(t, p, ri->rcv_sid, ri->rcv_ppid, t->rxbuf, n);
		return;
	}
	if (p->rx_len + n > KERNEL_MSG_MAX) {
		log_warn("%s: message of more than %u octets on stream %u: aborting",
		    ctp_tr_kernel_peer_fmt(p, id, sizeof id), KERNEL_MSG_MAX, ri->rcv_sid);
		ctp_tr_kernel_peer_abort(t, p, KERNEL_VIOLATION, CTP_TR_DOWN_ABORTED);
		return;
	}
	if (p->rx_len == 0) {
		p->rx_sid = ri->rcv_sid;
		p->rx_ppid = ri->rcv_ppid;
	}
	if (p->rx_len + n > p->rx_cap) {
		size_t cap = p->rx_cap ? p->rx_cap : KERNEL_RXBUF;
		uint8_t *nb;

		while (cap < p->rx_len + n)
			cap *= 2;
		if (cap > KERNEL_MSG_MAX)
			cap = KERNEL_MSG_MAX;
		if ((nb = realloc(p->rx, cap)) == NULL) {
			log_err("%s: out of memory reassembling a message: aborting",
			    ctp_tr_kernel_peer_fmt(p, id, sizeof id));
			ctp_tr_kernel_peer_abort(t, p, KERNEL_VIOLATION, CTP_TR_DOWN_ABORTED);
			return;
		}
		p->rx = nb;
		p->rx_cap = cap;
	}
	memcpy(p->rx + p->rx_len, t->rxbuf, n);
	p->rx_len += n;
	if (eor) {
		uint8_t *msg = p->rx;
		size_t len = p->rx_len;

		/* hand the buffer over first: the owner may close p, and a
		 * large buffer should not stay with an idle peer */
		p->rx = NULL;
		p->rx_len = p->rx_cap = 0;
		ctp_tr_kernel_deliver(t, p, p->rx_sid, p->rx_ppid, msg, len);
		free(msg);
	}
}

static const char *
ctp_tr_kernel_assoc_state_name(unsigned state)
{
	static const char *const names[] = {
		[SCTP_COMM_UP] = "COMM_UP", [SCTP_COMM_LOST] = "COMM_LOST",
		[SCTP_RESTART] = "RESTART", [SCTP_SHUTDOWN_COMP] = "SHUTDOWN_COMP",
		[SCTP_CANT_STR_ASSOC] = "CANT_STR_ASSOC",
	};

	return state < sizeof names / sizeof names[0] && names[state] ? names[state] : "?";
}

static const char *
ctp_tr_kernel_paddr_state_name(int state)
{
	static const char *const names[] = {
		[SCTP_ADDR_AVAILABLE] = "available", [SCTP_ADDR_UNREACHABLE] = "unreachable",
		[SCTP_ADDR_REMOVED] = "removed", [SCTP_ADDR_ADDED] = "added",
		[SCTP_ADDR_MADE_PRIM] = "made primary", [SCTP_ADDR_CONFIRMED] = "confirmed",
		[SCTP_ADDR_POTENTIALLY_FAILED] = "potentially failed",
	};

	return state >= 0 && (size_t)state < sizeof names / sizeof names[0] && names[state] ?
	    names[state] : "in an unknown state";
}

/* Where an association the peer opened comes from: its primary path.
 * CTP_E_NOTFOUND when the kernel no longer has it. */
static int
ctp_tr_kernel_assoc_addr(struct ctp_tr *t, sctp_assoc_t id, const struct sockaddr_storage *from,
    struct sockaddr_storage *out)
{
	struct sockaddr_storage prim;
	struct sctp_status st;
	socklen_t len = sizeof st;

	memset(&st, 0, sizeof st);
	memset(out, 0, sizeof *out);
	st.sstat_assoc_id = id;
	if (sctp_opt_info(t->fd, id, SCTP_STATUS, &st, &len) < 0)
		return CTP_E_NOTFOUND;
	memcpy(&prim, &st.sstat_primary.spinfo_address, sizeof prim);   /* packed */
	if (prim.ss_family == AF_INET || prim.ss_family == AF_INET6)
		ctp_tr_kernel_sa_norm((const struct sockaddr *)&prim, out);
	else if (from->ss_family == AF_INET || from->ss_family == AF_INET6)
		ctp_tr_kernel_sa_norm((const struct sockaddr *)from, out);
	return 0;
}

static void
ctp_tr_kernel_comm_up(struct ctp_tr *t, const struct sctp_assoc_change *ac,
    const struct sockaddr_storage *from, struct kernel_peer *p)
{
	struct sctp_assoc_value av;
	socklen_t len = sizeof av;
	const char *old;
	char id[96];

	if (!p) {
		struct sockaddr_storage addr;

		/* a COMM_UP queued before we aborted that association (the
		 * owner closed it before we read this) is stale: no such id */
		if (ctp_tr_kernel_assoc_addr(t, ac->sac_assoc_id, from, &addr) < 0) {
			log_debug("%s: COMM_UP of association #%d, which is gone", t->name,
			    (int)ac->sac_assoc_id);
			return;
		}
		if (t->closing || t->npeers >= t->cfg.max_peers) {
			char a[INET6_ADDRSTRLEN + 16];

			log_warn("%s: association #%d from %s refused: %s", t->name,
			    (int)ac->sac_assoc_id, ctp_tr_kernel_sa_fmt(&addr, a, sizeof a),
			    t->closing ? "closing" : "too many peers");
			ctp_tr_kernel_abort_id(t, ac->sac_assoc_id);
			return;
		}
		if ((p = ctp_tr_kernel_peer_new(t, ac->sac_assoc_id, &addr, 0)) == NULL) {
			log_err("%s: out of memory: association #%d aborted", t->name,
			    (int)ac->sac_assoc_id);
			ctp_tr_kernel_abort_id(t, ac->sac_assoc_id);
			return;
		}
	}
	old = ctp_tr_kernel_peer_state(p);
	p->base.up = 1;
	p->out_streams = ac->sac_outbound_streams;
	memset(&av, 0, sizeof av);
	av.assoc_id = p->id;
	/* getsockopt, not sctp_opt_info: lksctp's passes only a fixed list of
	 * older options through and answers ENOPROTOOPT for this one */
	if (getsockopt(t->fd, IPPROTO_SCTP, SCTP_PR_SUPPORTED, &av, &len) == 0)
		p->base.pr_sctp = av.assoc_value != 0;
	ctp_tr_kernel_peer_log(p, old, "COMM_UP");
	log_debug("%s: streams out %u in %u, PR-SCTP %s", ctp_tr_kernel_peer_fmt(p, id, sizeof id),
	    ac->sac_outbound_streams, ac->sac_inbound_streams, p->base.pr_sctp ? "yes" : "no");
	if (t->closing) {
		/* connected while we were closing: take it down again */
		p->closing = KERNEL_EOF;
		ctp_tr_kernel_send_eof(t, p);
		return;
	}
	p->told = 1;
	t->cb.up(&p->base, t->ud);
}

static void
ctp_tr_kernel_assoc_change(struct ctp_tr *t, const struct sctp_assoc_change *ac,
    const struct sockaddr_storage *from)
{
	struct kernel_peer *p = ctp_tr_kernel_peer_by_id(t, ac->sac_assoc_id);
	const char *ev = ctp_tr_kernel_assoc_state_name(ac->sac_state);
	int reason;

	switch (ac->sac_state) {
	case SCTP_COMM_UP:
		ctp_tr_kernel_comm_up(t, ac, from, p);
		return;
	case SCTP_RESTART:
		if (!p)
			return;
		/* The peer lost its state and opened the association anew: the
		 * TLS connection above is gone with it.  The owner sees the old
		 * peer go down and a new one come up, as after any reconnect;
		 * the new one is linked first so that a connect() from the down
		 * callback finds it instead of racing it. */
		{
			struct kernel_peer *old = p;
			struct sctp_assoc_change up = *ac;

			old->gone = CTP_TR_DOWN_LOST;   /* hides it from lookups */
			t->npeers--;
			if ((p = ctp_tr_kernel_peer_new(t, ac->sac_assoc_id, &old->base.addr,
			    old->base.outbound)) == NULL) {
				old->gone = 0;
				t->npeers++;
				ctp_tr_kernel_peer_abort(t, old, KERNEL_VIOLATION,
				    CTP_TR_DOWN_LOST);
				return;
			}
			ctp_tr_kernel_peer_down(t, old, CTP_TR_DOWN_LOST, ev);
			up.sac_state = SCTP_COMM_UP;
			if ((p = ctp_tr_kernel_peer_by_id(t, ac->sac_assoc_id)) != NULL)
				ctp_tr_kernel_comm_up(t, &up, from, p);
		}
		return;
	case SCTP_SHUTDOWN_COMP:
		/* whoever started it (ctp_tr.h): LOCAL is for our ABORTs */
		reason = CTP_TR_DOWN_SHUTDOWN;
		break;
	case SCTP_COMM_LOST:
		/* an ABORT from the peer comes with the chunk in sac_info;
		 * exhausted retransmissions come without */
		if (p && !p->base.up)
			reason = CTP_TR_DOWN_REFUSED;
		else
			reason = ac->sac_length > sizeof *ac ? CTP_TR_DOWN_ABORTED :
			    CTP_TR_DOWN_LOST;
		break;
	case SCTP_CANT_STR_ASSOC:
		reason = CTP_TR_DOWN_REFUSED;
		break;
	default:
		return;
	}
	if (!p)
		return;   /* one we refused, or already reported */
	if (p->closing == KERNEL_ABORT)
		reason = CTP_TR_DOWN_LOCAL;
	if (ac->sac_error)
		log_info("%s #%d: %s, error cause %u", t->name, (int)p->id, ev, ac->sac_error);
	ctp_tr_kernel_peer_down(t, p, reason, ev);
}

static void
ctp_tr_kernel_notification(struct ctp_tr *t, const uint8_t *buf, size_t n,
    const struct sockaddr_storage *from)
{
	const union sctp_notification *sn = (const union sctp_notification *)(const void *)buf;
	struct kernel_peer *p;
	char a[INET6_ADDRSTRLEN + 16];

	if (n < sizeof sn->sn_header)
		return;
	switch (sn->sn_header.sn_type) {
	case SCTP_ASSOC_CHANGE:
		if (n >= sizeof sn->sn_assoc_change)
			ctp_tr_kernel_assoc_change(t, &sn->sn_assoc_change, from);
		break;
	case SCTP_SHUTDOWN_EVENT:
		if (n < sizeof sn->sn_shutdown_event ||
		    (p = ctp_tr_kernel_peer_by_id(t, sn->sn_shutdown_event.sse_assoc_id)) == NULL)
			break;
		{
			const char *old = ctp_tr_kernel_peer_state(p);
			size_t dropped = ctp_tr_kernel_queue_drop(p);

			/* the kernel takes no more data for it: what waits
			 * here can never be sent */
			p->peer_shut = 1;
			p->eof_pending = 0;
			ctp_tr_kernel_peer_log(p, old, "SHUTDOWN received");
			if (dropped)
				log_info("%s #%d: %zu queued bytes dropped", t->name, (int)p->id,
				    dropped);
		}
		break;
	case SCTP_SEND_FAILED_EVENT:
		if (n >= sizeof sn->sn_send_failed_event)
			log_info("%s #%d: a message of stream %u (%u octets) was not delivered"
			    " (%s, error %u)", t->name, (int)sn->sn_send_failed_event.ssf_assoc_id,
			    sn->sn_send_failed_event.ssfe_info.snd_sid,
			    (unsigned)(sn->sn_send_failed_event.ssf_length -
			    sizeof sn->sn_send_failed_event),
			    sn->sn_send_failed_event.ssf_flags & SCTP_DATA_SENT ? "sent" : "unsent",
			    sn->sn_send_failed_event.ssf_error);
		break;
	case SCTP_REMOTE_ERROR:
		if (n >= sizeof sn->sn_remote_error)
			log_warn("%s #%d: peer reports error cause %u", t->name,
			    (int)sn->sn_remote_error.sre_assoc_id,
			    ntohs(sn->sn_remote_error.sre_error));
		break;
	case SCTP_PEER_ADDR_CHANGE:
		if (n >= sizeof sn->sn_paddr_change) {
			struct sctp_paddr_change pc;
			struct sockaddr_storage ss;

			memcpy(&pc, &sn->sn_paddr_change, sizeof pc);   /* packed */
			ctp_tr_kernel_sa_norm((const struct sockaddr *)&pc.spc_aaddr, &ss);
			log_info("%s #%d: peer address %s %s (error %d)", t->name,
			    (int)pc.spc_assoc_id, ctp_tr_kernel_sa_fmt(&ss, a, sizeof a),
			    ctp_tr_kernel_paddr_state_name(pc.spc_state), pc.spc_error);
		}
		break;
	default:
		break;
	}
}

static void
ctp_tr_kernel_read(struct ctp_tr *t)
{
	for (int i = 0; i < KERNEL_READ_BURST && !t->finishing; i++) {
		struct sctp_rcvinfo ri;
		struct sockaddr_storage from;
		struct iovec iov = { t->rxbuf, KERNEL_RXBUF };
		socklen_t flen = sizeof from, ilen = sizeof ri;
		unsigned itype = 0;
		int flags = 0;
		ssize_t n;

		memset(&ri, 0, sizeof ri);
		memset(&from, 0, sizeof from);
		n = sctp_recvv(t->fd, &iov, 1, (struct sockaddr *)&from, &flen, &ri, &ilen, &itype,
		    &flags);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("%s: sctp_recvv: %s", t->name, strerror(errno));
			return;
		}
		if (flags & MSG_NOTIFICATION) {
			/* notifications longer than the buffer (a SEND_FAILED
			 * carrying a big message) arrive in pieces: the head
			 * holds everything we read */
			int first = !t->notif_tail;

			t->notif_tail = !(flags & MSG_EOR);
			if (first)
				ctp_tr_kernel_notification(t, t->rxbuf, (size_t)n, &from);
			continue;
		}
		if (itype != SCTP_RECVV_RCVINFO) {
			log_warn("%s: %zd octets without SCTP_RCVINFO dropped", t->name, n);
			continue;
		}
		if (n > 0)
			ctp_tr_kernel_data(t, &ri, (size_t)n, !!(flags & MSG_EOR));
	}
}

static void
ctp_tr_kernel_poll_cb(uv_poll_t *h, int status, int events)
{
	struct ctp_tr *t = h->data;

	if (status < 0) {
		/* a pending socket error: recvmsg reports and clears it */
		log_warn("%s: poll: %s", t->name, uv_strerror(status));
		events = UV_READABLE;
	}
	if (events & UV_READABLE)
		ctp_tr_kernel_read(t);
	if ((events & UV_WRITABLE) && !t->finishing)
		ctp_tr_kernel_flush_all(t);
	ctp_tr_kernel_poll_update(t);
}

/* ---- opening ---------------------------------------------------------- */

static int
ctp_tr_kernel_setopt(struct ctp_tr *t, int level, int opt, const char *name, const void *v,
    socklen_t len, struct ctp_err *err)
{
	if (setsockopt(t->fd, level, opt, v, len) < 0)
		return ctp_err_set(err, errno == ENOPROTOOPT ? CTP_E_UNSUPPORTED : CTP_E_IO, 0, 0,
		    "%s: setsockopt(%s): %s", t->name, name, strerror(errno));
	return 0;
}

/* setsockopt with the option's name in the error */
#define KERNEL_SETOPT(t, level, opt, v, err) \
	ctp_tr_kernel_setopt((t), (level), (opt), #opt, &(v), sizeof(v), (err))

static int
ctp_tr_kernel_sockopts(struct ctp_tr *t, struct ctp_err *err)
{
	static const uint16_t events[] = {
		SCTP_ASSOC_CHANGE, SCTP_SHUTDOWN_EVENT, SCTP_SEND_FAILED_EVENT,
		SCTP_REMOTE_ERROR, SCTP_PEER_ADDR_CHANGE,
	};
	const struct ctp_tr_rto *r = &t->rto;
	struct sctp_initmsg im;
	struct sctp_rtoinfo rto;
	struct sctp_assocparams ap;
	struct sctp_paddrparams pp;
	struct sctp_sack_info sack;
	struct sctp_assoc_value av;
	int on = 1, rc;

	for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
		struct sctp_event ev;

		memset(&ev, 0, sizeof ev);
		ev.se_assoc_id = SCTP_FUTURE_ASSOC;
		ev.se_type = events[i];
		ev.se_on = 1;
		if ((rc = KERNEL_SETOPT(t, IPPROTO_SCTP, SCTP_EVENT, ev, err)) < 0)
			return rc;
	}
	if ((rc = KERNEL_SETOPT(t, IPPROTO_SCTP, SCTP_RECVRCVINFO, on, err)) < 0 ||
	    (rc = KERNEL_SETOPT(t, IPPROTO_SCTP, SCTP_NODELAY, on, err)) < 0)
		return rc;
	/* pieces of big messages from different peers may interleave (level
	 * 1); reassembly is per association, so one peer's 64 KiB message
	 * does not hold up the others */
	if ((rc = KERNEL_SETOPT(t, IPPROTO_SCTP, SCTP_FRAGMENT_INTERLEAVE, on, err)) < 0)
		return rc;
	memset(&im, 0, sizeof im);
	im.sinit_num_ostreams = KERNEL_STREAMS;
	im.sinit_max_instreams = KERNEL_STREAMS;
	im.sinit_max_attempts = r->max_init_rxt;
	im.sinit_max_init_timeo = r->max_init_timeo_ms;
	if ((rc = KERNEL_SETOPT(t, IPPROTO_SCTP, SCTP_INITMSG, im, err)) < 0)
		return rc;
	memset(&rto, 0, sizeof rto);
	rto.srto_assoc_id = SCTP_FUTURE_ASSOC;
	rto.srto_initial = r->rto_initial_ms;
	rto.srto_max = r->rto_max_ms;
	rto.srto_min = r->rto_min_ms;
	if ((rc = KERNEL_SETOPT(t, IPPROTO_SCTP, SCTP_RTOINFO, rto, err)) < 0)
		return rc;
	memset(&ap, 0, sizeof ap);
	ap.sasoc_assoc_id = SCTP_FUTURE_ASSOC;
	ap.sasoc_asocmaxrxt = r->assoc_max_rxt;
	if ((rc = KERNEL_SETOPT(t, IPPROTO_SCTP, SCTP_ASSOCINFO, ap, err)) < 0)
		return rc;
	memset(&pp, 0, sizeof pp);
	pp.spp_assoc_id = SCTP_FUTURE_ASSOC;
	pp.spp_hbinterval = r->hb_interval_ms;
	pp.spp_pathmaxrxt = r->path_max_rxt;
	pp.spp_flags = SPP_HB_ENABLE;
	if ((rc = KERNEL_SETOPT(t, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, pp, err)) < 0)
		return rc;
	memset(&sack, 0, sizeof sack);
	sack.sack_assoc_id = SCTP_FUTURE_ASSOC;
	sack.sack_delay = r->sack_delay_ms;
	sack.sack_freq = r->sack_freq;
	if ((rc = KERNEL_SETOPT(t, IPPROTO_SCTP, SCTP_DELAYED_SACK, sack, err)) < 0)
		return rc;
	/* offer PR-SCTP so peer->pr_sctp says what the pair could do; we
	 * never use it (see the top of this file) */
	memset(&av, 0, sizeof av);
	av.assoc_id = SCTP_FUTURE_ASSOC;
	av.assoc_value = 1;
	if (setsockopt(t->fd, IPPROTO_SCTP, SCTP_PR_SUPPORTED, &av, sizeof av) < 0)
		log_info("%s: PR-SCTP not offered: %s", t->name, strerror(errno));
	return KERNEL_SETOPT(t, SOL_SOCKET, SO_REUSEADDR, on, err);
}

/*
 * RFC 6951: the kernel listens for encapsulated SCTP on net.sctp.udp_port
 * (Linux 5.11+, per network namespace, 0 = off).  *changed tells whether we
 * set it just now: a socket copies the value when it is created, and sends
 * encapsulated only when its copy is set, so the caller makes its socket
 * anew then.
 */
static int
ctp_tr_kernel_udp_listen(struct ctp_tr *t, int *changed, struct ctp_err *err)
{
	unsigned cur = 0, want = t->cfg.udp_port;
	FILE *f = fopen(KERNEL_UDP_PORT_FILE, "r");
	int ok;

	if (!f)
		return ctp_err_set(err, CTP_E_UNSUPPORTED, 0, 0,
		    "%s: no %s: this kernel has no SCTP UDP encapsulation (RFC 6951, Linux 5.11+)",
		    t->name, KERNEL_UDP_PORT_FILE);
	ok = fscanf(f, "%u", &cur) == 1;
	fclose(f);
	if (!ok)
		return ctp_err_set(err, CTP_E_IO, 0, 0, "%s: cannot read %s", t->name,
		    KERNEL_UDP_PORT_FILE);
	if (cur == want) {
		log_info("%s: net.sctp.udp_port is %u already", t->name, cur);
		return 0;
	}
	if (cur != 0) {
		/* someone chose it: keep it, but say where we actually listen */
		log_warn("%s: net.sctp.udp_port is %u, not %u: encapsulated SCTP is received on %u,"
		    " peers must send there", t->name, cur, want, cur);
		return 0;
	}
	if ((f = fopen(KERNEL_UDP_PORT_FILE, "w")) == NULL ||
	    fprintf(f, "%u\n", want) < 0 || fclose(f) != 0) {
		int e = errno;

		return ctp_err_set(err, e == EACCES || e == EPERM ? CTP_E_CONFIG : CTP_E_IO, 0, 0,
		    "%s: cannot set net.sctp.udp_port to %u (%s): run `sysctl -w"
		    " net.sctp.udp_port=%u` as root", t->name, want, strerror(e), want);
	}
	log_notice("%s: set net.sctp.udp_port to %u (was 0): the kernel now receives RFC 6951"
	    " encapsulated SCTP on UDP %u in this network namespace", t->name, want, want);
	*changed = 1;
	return 0;
}

static int
ctp_tr_kernel_encaps(struct ctp_tr *t, struct ctp_err *err)
{
	struct sctp_udpencaps ue;

	/* every association this socket makes or accepts from now on sends
	 * to the peer's UDP port; Linux wants the port in network order and,
	 * unlike usrsctp's struct, the association id first */
	memset(&ue, 0, sizeof ue);
	ue.sue_assoc_id = SCTP_FUTURE_ASSOC;
	ue.sue_port = htons(t->cfg.udp_port);
	return KERNEL_SETOPT(t, IPPROTO_SCTP, SCTP_REMOTE_UDP_ENCAPS_PORT, ue, err);
}

/* The address to bind: cfg->bind with cfg->sctp_port (or bind's own port
 * when sctp_port is 0); an unset bind means the dual-stack wildcard. */
static void
ctp_tr_kernel_bind_addr(const struct ctp_tr_cfg *cfg, struct sockaddr_storage *ss)
{
	uint16_t port;

	if (cfg->bind.ss_family == AF_INET || cfg->bind.ss_family == AF_INET6)
		*ss = cfg->bind;
	else {
		memset(ss, 0, sizeof *ss);
		ss->ss_family = AF_INET6;   /* in6addr_any is all zeros */
	}
	if (ss->ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		port = cfg->sctp_port ? htons(cfg->sctp_port) : s4->sin_port;
		s4->sin_port = port;
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		port = cfg->sctp_port ? htons(cfg->sctp_port) : s6->sin6_port;
		s6->sin6_port = port;
	}
}

static int
ctp_tr_kernel_socket(struct ctp_tr *t, struct sockaddr_storage *local, struct ctp_err *err)
{
	int family = local->ss_family, e, off = 0;

	t->fd = socket(family, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_SCTP);
	if (t->fd < 0 && errno == EAFNOSUPPORT && family == AF_INET6 &&
	    t->cfg.bind.ss_family != AF_INET6) {
		/* no IPv6 in this kernel and none asked for: IPv4 wildcard */
		in_port_t port = ((struct sockaddr_in6 *)local)->sin6_port;
		struct sockaddr_in *s4 = (struct sockaddr_in *)local;

		memset(local, 0, sizeof *local);
		s4->sin_family = AF_INET;
		s4->sin_port = port;
		family = AF_INET;
		t->fd = socket(family, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_SCTP);
	}
	if (t->fd < 0) {
		e = errno;
		if (e == EPROTONOSUPPORT || e == ESOCKTNOSUPPORT || e == EAFNOSUPPORT)
			return ctp_err_set(err, CTP_E_UNSUPPORTED, 0, 0,
			    "kernel SCTP unavailable: socket(%s, SOCK_SEQPACKET, IPPROTO_SCTP): %s"
			    " (no sctp module in this kernel?)",
			    family == AF_INET6 ? "AF_INET6" : "AF_INET", strerror(e));
		return ctp_err_set(err, CTP_E_IO, 0, 0, "%s: socket(SCTP): %s", t->name,
		    strerror(e));
	}
	/* dual stack: IPv4 peers appear as v4-mapped addresses */
	if (family == AF_INET6 && setsockopt(t->fd, IPPROTO_IPV6, IPV6_V6ONLY, &off,
	    sizeof off) < 0)
		log_info("%s: IPV6_V6ONLY off: %s", t->name, strerror(errno));
	return 0;
}

static int
ctp_tr_kernel_open(uv_loop_t *loop, const struct ctp_tr_cfg *cfg, const struct ctp_tr_cb *cb,
    void *ud, struct ctp_tr **out, struct ctp_err *err)
{
	struct sockaddr_storage local;
	struct ctp_tr *t;
	socklen_t len;
	char a[INET6_ADDRSTRLEN + 16], encaps[40] = "";
	int rc;

	*out = NULL;
	if (!loop || !cfg || !cb || !cb->up || !cb->down || !cb->msg)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "kernel transport: missing argument");
	if ((t = calloc(1, sizeof *t)) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "kernel transport: out of memory");
	t->loop = loop;
	t->cfg = *cfg;
	t->cfg.name = NULL;   /* not ours to keep: copied into name */
	snprintf(t->name, sizeof t->name, "%s", cfg->name ? cfg->name : "kernel");
	if (t->cfg.max_peers == 0)
		t->cfg.max_peers = KERNEL_PEERS_DEFAULT;
	if (t->cfg.queue_max == 0)
		t->cfg.queue_max = KERNEL_QUEUE_DEFAULT;
	t->cb = *cb;
	t->ud = ud;
	ctp_tr_rto_derive(cfg->max_transfer_ms, &t->rto);
	ctp_tr_kernel_bind_addr(cfg, &local);
	if ((rc = ctp_tr_kernel_socket(t, &local, err)) < 0) {
		free(t);
		return rc;
	}
	/* the socket loaded the sctp module, which makes the sysctl exist */
	if (cfg->udp_encaps) {
		int changed = 0;

		if (cfg->udp_port == 0) {
			rc = ctp_err_set(err, CTP_E_CONFIG, 0, 0,
			    "%s: udp_encaps without a UDP port", t->name);
			goto fail;
		}
		if ((rc = ctp_tr_kernel_udp_listen(t, &changed, err)) < 0)
			goto fail;
		if (changed) {
			close(t->fd);
			if ((rc = ctp_tr_kernel_socket(t, &local, err)) < 0) {
				free(t);
				return rc;
			}
		}
	}
	if ((rc = ctp_tr_kernel_sockopts(t, err)) < 0)
		goto fail;
	if (bind(t->fd, (struct sockaddr *)&local,
	    ctp_tr_kernel_sa_len((struct sockaddr *)&local)) < 0) {
		rc = ctp_err_set(err, CTP_E_IO, 0, 0, "%s: bind %s: %s", t->name,
		    ctp_tr_kernel_sa_fmt(&local, a, sizeof a), strerror(errno));
		goto fail;
	}
	if (listen(t->fd, SOMAXCONN) < 0) {
		rc = ctp_err_set(err, CTP_E_IO, 0, 0, "%s: listen: %s", t->name, strerror(errno));
		goto fail;
	}
	if (cfg->udp_encaps && (rc = ctp_tr_kernel_encaps(t, err)) < 0)
		goto fail;
	if ((t->rxbuf = malloc(KERNEL_RXBUF)) == NULL) {
		rc = ctp_err_set(err, CTP_E_NOMEM, 0, 0, "%s: out of memory", t->name);
		goto fail;
	}
	if ((rc = uv_poll_init_socket(loop, &t->poll, t->fd)) < 0) {
		rc = ctp_err_set(err, CTP_E_IO, 0, 0, "%s: uv_poll_init_socket: %s", t->name,
		    uv_strerror(rc));
		goto fail;
	}
	uv_timer_init(loop, &t->defer);
	uv_timer_init(loop, &t->bound);
	t->poll.data = t->defer.data = t->bound.data = t;
	t->open_handles = 3;
	uv_poll_start(&t->poll, UV_READABLE, ctp_tr_kernel_poll_cb);
	t->poll_events = UV_READABLE;
	len = sizeof local;
	getsockname(t->fd, (struct sockaddr *)&local, &len);
	if (cfg->udp_encaps)
		snprintf(encaps, sizeof encaps, ", RFC 6951 over UDP %u", cfg->udp_port);
	log_info("%s: kernel SCTP on %s%s, RTO %u/%u/%u ms (min/initial/max), max.retrans %u"
	    " (path %u, init %u), heartbeat %u ms", t->name,
	    ctp_tr_kernel_sa_fmt(&local, a, sizeof a), encaps, t->rto.rto_min_ms,
	    t->rto.rto_initial_ms, t->rto.rto_max_ms, t->rto.assoc_max_rxt, t->rto.path_max_rxt,
	    t->rto.max_init_rxt, t->rto.hb_interval_ms);
	*out = t;
	return 0;
fail:
	close(t->fd);
	free(t->rxbuf);
	free(t);
	return rc;
}

/* ---- associations ------------------------------------------------------ */

/* The id of an association to addr that the kernel has and we do not know
 * yet (one the peer is opening): 0 when there is none. */
static sctp_assoc_t
ctp_tr_kernel_assoc_of(struct ctp_tr *t, const struct sockaddr *addr)
{
	struct sctp_paddrinfo pi;
	socklen_t len = sizeof pi;

	memset(&pi, 0, sizeof pi);
	memcpy(&pi.spinfo_address, addr, ctp_tr_kernel_sa_len(addr));
	if (getsockopt(t->fd, IPPROTO_SCTP, SCTP_GET_PEER_ADDR_INFO, &pi, &len) < 0)
		return 0;
	return pi.spinfo_assoc_id;
}

static int
ctp_tr_kernel_connect(struct ctp_tr *t, const struct sockaddr *addr, struct ctp_tr_peer **out,
    struct ctp_err *err)
{
	struct sockaddr_storage ss;
	struct kernel_peer *p;
	sctp_assoc_t id = 0;
	char a[INET6_ADDRSTRLEN + 16];

	*out = NULL;
	if (t->closing)
		return ctp_err_set(err, CTP_E_STATE, 0, 0, "%s: closing", t->name);
	if (!addr || ctp_tr_kernel_sa_len(addr) == 0)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "%s: connect: not an IP address",
		    t->name);
	ctp_tr_kernel_sa_norm(addr, &ss);
	if (((struct sockaddr_in *)&ss)->sin_port == 0)   /* same offset in sockaddr_in6 */
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "%s: connect %s: no port", t->name,
		    ctp_tr_kernel_sa_fmt(&ss, a, sizeof a));
	if ((p = ctp_tr_kernel_peer_by_addr(t, &ss)) != NULL) {
		*out = &p->base;
		return 0;
	}
	if (t->npeers >= t->cfg.max_peers)
		return ctp_err_set(err, CTP_E_LIMIT, 0, 0, "%s: connect %s: %u peers already",
		    t->name, ctp_tr_kernel_sa_fmt(&ss, a, sizeof a), t->npeers);
	if (sctp_connectx(t->fd, (struct sockaddr *)&ss, 1, &id) < 0 && errno != EINPROGRESS) {
		int e = errno;

		/* an association the peer is opening to us right now: its
		 * COMM_UP is on its way and will find this peer */
		if ((e != EALREADY && e != EISCONN) ||
		    (id = ctp_tr_kernel_assoc_of(t, (struct sockaddr *)&ss)) == 0)
			return ctp_err_set(err, CTP_E_IO, 0, 0, "%s: connect %s: %s", t->name,
			    ctp_tr_kernel_sa_fmt(&ss, a, sizeof a), strerror(e));
		log_info("%s: connect %s: the peer's association #%d is arriving (%s)", t->name,
		    ctp_tr_kernel_sa_fmt(&ss, a, sizeof a), (int)id, strerror(e));
	}
	if ((p = ctp_tr_kernel_peer_new(t, id, &ss, 1)) == NULL) {
		ctp_tr_kernel_abort_id(t, id);
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "%s: out of memory", t->name);
	}
	ctp_tr_kernel_peer_log(p, "closed", "connect");
	*out = &p->base;
	return 0;
}

static int
ctp_tr_kernel_send(struct ctp_tr_peer *bp, uint16_t sid, uint32_t ppid, const void *buf, size_t len)
{
	struct kernel_peer *p = (struct kernel_peer *)bp;
	struct ctp_tr *t = bp->tr;
	struct kernel_msg *m;
	int e;

	if (!bp->up || p->gone || p->closing || p->peer_shut || t->closing)
		return CTP_E_STATE;
	if (len == 0 || !buf || sid >= p->out_streams)
		return CTP_E_INVAL;
	if (len > KERNEL_MSG_MAX)
		return CTP_E_LIMIT;
	if (!p->q_head) {
		e = ctp_tr_kernel_sendv(t, p->id, sid, ppid, buf, len, 0);
		if (e == 0) {
			bp->msgs_out++;
			bp->bytes_out += len;
			return 0;
		}
		if (e == EPIPE || e == EINVAL || e == ENOENT || e == ESHUTDOWN)
			return CTP_E_STATE;   /* going away; down follows */
		if (e == EMSGSIZE)
			return CTP_E_LIMIT;
		if (e != EAGAIN && e != EWOULDBLOCK) {
			log_warn("%s #%d: send: %s", t->name, (int)p->id, strerror(e));
			return CTP_E_IO;
		}
	}
	if (bp->queue_bytes + len > t->cfg.queue_max ||
	    (m = malloc(sizeof *m + len)) == NULL) {
		p->blocked = 1;
		ctp_tr_kernel_poll_update(t);
		return CTP_E_AGAIN;
	}
	m->next = NULL;
	m->sid = sid;
	m->ppid = ppid;
	m->len = len;
	memcpy(m->data, buf, len);
	*p->q_tail = m;
	p->q_tail = &m->next;
	bp->queue_bytes += len;
	bp->send_queued++;
	ctp_tr_kernel_poll_update(t);
	return 0;
}

static void
ctp_tr_kernel_close_peer(struct ctp_tr_peer *bp, int abort)
{
	struct kernel_peer *p = (struct kernel_peer *)bp;
	struct ctp_tr *t = bp->tr;
	const char *old;

	if (p->gone || p->closing == KERNEL_ABORT || p->closing == KERNEL_VIOLATION)
		return;
	/* an association still being set up has no graceful way out: the
	 * kernel deletes it on SHUTDOWN without telling us */
	if (abort || !bp->up) {
		ctp_tr_kernel_peer_abort(t, p, KERNEL_ABORT, CTP_TR_DOWN_LOCAL);
		return;
	}
	if (p->closing == KERNEL_EOF)
		return;
	old = ctp_tr_kernel_peer_state(p);
	p->closing = KERNEL_EOF;
	/* what the owner handed us is still sent, then the SHUTDOWN */
	if (p->q_head)
		p->eof_pending = 1;
	else
		ctp_tr_kernel_send_eof(t, p);
	ctp_tr_kernel_peer_log(p, old, p->eof_pending ? "close, queue draining" : "SHUTDOWN sent");
}

/* ---- closing ----------------------------------------------------------- */

static void
ctp_tr_kernel_handle_closed(uv_handle_t *h)
{
	struct ctp_tr *t = h->data;
	void (*done)(void *) = t->done;
	void *arg = t->done_arg;

	if (--t->open_handles > 0)
		return;
	/* the poll handle is closed: now the descriptor may go; the kernel
	 * still completes any SHUTDOWN in progress on its own */
	close(t->fd);
	free(t->rxbuf);
	free(t);
	if (done)
		done(arg);
}

static void
ctp_tr_kernel_finish(struct ctp_tr *t)
{
	struct kernel_peer *p;

	if (t->finishing)
		return;
	t->finishing = 1;
	/* downs still owed (deferred ones, or at the close bound) go first */
	while ((p = t->peers) != NULL)
		ctp_tr_kernel_peer_down(t, p, p->gone ? p->gone : CTP_TR_DOWN_LOCAL,
		    "transport closed");
	log_info("%s: closed", t->name);
	uv_close((uv_handle_t *)&t->poll, ctp_tr_kernel_handle_closed);
	uv_close((uv_handle_t *)&t->defer, ctp_tr_kernel_handle_closed);
	uv_close((uv_handle_t *)&t->bound, ctp_tr_kernel_handle_closed);
}

static void
ctp_tr_kernel_bound_cb(uv_timer_t *h)
{
	struct ctp_tr *t = h->data;
	struct kernel_peer *p;
	unsigned n = 0;

	for (p = t->peers; p; p = p->next)
		if (!p->gone)
			n++;
	if (n)
		log_warn("%s: %u association(s) did not complete SHUTDOWN within %u ms: aborting",
		    t->name, n, t->rto.shutdown_ms);
	for (p = t->peers; p; p = p->next)
		if (!p->gone) {
			p->closing = KERNEL_ABORT;
			ctp_tr_kernel_abort_id(t, p->id);
			p->gone = CTP_TR_DOWN_LOCAL;
			t->npeers--;
		}
	ctp_tr_kernel_finish(t);
}

static void
ctp_tr_kernel_close(struct ctp_tr *t, void (*done)(void *arg), void *arg)
{
	if (t->closing)
		return;
	t->closing = 1;
	t->done = done;
	t->done_arg = arg;
	log_info("%s: closing, %u association(s) to shut down", t->name, t->npeers);
	for (struct kernel_peer *p = t->peers; p; p = p->next) {
		if (p->gone || p->closing == KERNEL_ABORT || p->closing == KERNEL_VIOLATION)
			continue;
		if (!p->base.up)
			ctp_tr_kernel_peer_abort(t, p, KERNEL_ABORT, CTP_TR_DOWN_LOCAL);
		else if (p->closing != KERNEL_EOF && !p->peer_shut) {
			p->closing = KERNEL_EOF;
			if (p->q_head)
				p->eof_pending = 1;
			else
				ctp_tr_kernel_send_eof(t, p);
		}
	}
	/* everything is reported from the loop: downs (deferred ones and
	 * SHUTDOWN_COMP), then done once the handles are closed */
	uv_timer_start(&t->bound, ctp_tr_kernel_bound_cb, t->npeers ? t->rto.shutdown_ms : 0, 0);
	ctp_tr_kernel_poll_update(t);
}

const struct ctp_tr_ops ctp_tr_kernel = {
	.name = "kernel",
	.open = ctp_tr_kernel_open,
	.connect = ctp_tr_kernel_connect,
	.send = ctp_tr_kernel_send,
	.close_peer = ctp_tr_kernel_close_peer,
	.close = ctp_tr_kernel_close,
};
