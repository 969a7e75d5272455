/*
 * ctp_tr_usrsctp.c: the usrsctp backend of ctp_tr.h (SCTP in UDP, RFC 6951),
 * and the stack glue that the in-memory backend (ctp_tr_mem.c) shares.
 *
 * usrsctp 0.9.5 runs in its no-threads mode with AF_CONN addresses, so it
 * never opens a socket of the system: every packet it sends comes out of
 * ctp_tr_usrsctp_output() (its conn_output) and goes to the transport's
 * "wire"; every packet a wire receives goes in through
 * ctp_tr_usrsctp_input() (usrsctp_conninput).  Two wires exist (see
 * ctp_tr_usrsctp_int.h): one uv_udp_t per transport, bound to cfg->bind and
 * serving every peer (below), and the in-memory wire of ctp_tr_mem.c.
 *
 * To usrsctp an AF_CONN address is a pointer.  Ours point to a struct
 * ctp_tr_usrsctp_ep, one per remote UDP (or mem) address a transport deals
 * with; the ep is registered with usrsctp_register_address() and conn_output
 * gets it back.  An association (struct ctp_tr_usrsctp_peer, what the owner
 * sees as struct ctp_tr_peer) runs over one ep.
 *
 * Decisions, and why (transport-feasibility.md 2.1 is the evidence):
 *
 * - One stack per process, counted.  The first open calls
 *   usrsctp_init_nothreads() and sets the sysctls; the last close tears it
 *   down in the one order that works in 0.9.5: usrsctp_close() on every
 *   socket, usrsctp_deregister_address() on every ep, then usrsctp_finish()
 *   in a loop that advances the stack's clock until it agrees (deregistering
 *   after finish crashes in sctp_find_vrf).  The next open initialises it
 *   again; the unit suite does that dozens of times.
 *
 * - One listening one-to-many socket per SCTP port and process, shared by
 *   the transports on that port.  A second AF_CONN socket bound to the
 *   wildcard and the same port fails with EADDRINUSE, and usrsctp_bindx()
 *   and usrsctp_connectx() refuse AF_CONN addresses (EAFNOSUPPORT, EINVAL),
 *   so two transports of one process (tests; usrsctp next to mem) cannot
 *   each have their own socket on port 5091.  Each association belongs to
 *   the transport of its ep.  The retransmission settings are per
 *   association (set at COMM_UP from the owning transport's configuration),
 *   and the socket's defaults are set from the connecting transport's just
 *   before each connect, so transports with different settings still get
 *   their own.
 *
 * - Timers: 0.9.5 has no "next deadline" call, so one 10 ms uv_timer per
 *   process feeds usrsctp_handle_timers() the elapsed loop time.
 *
 * - conn_output runs inside usrsctp with its locks held: a wire only copies
 *   or sends the packet, never calls back into usrsctp.  It must also run on
 *   the loop thread (libuv is not thread-safe); init_nothreads still starts
 *   the iterator thread, which sends only for SCTP_SENDALL (never used) and
 *   ASCONF (disabled).  Calls from another thread are counted, dropped and
 *   logged from the loop.
 *
 * - Upcalls.  Inside our own usrsctp_conninput() 0.9.5 calls the upcall
 *   after dropping its locks, where reading and sending are safe (proved),
 *   so input is processed at once.  From anywhere else (the timers, a
 *   sendv, a close) the upcall only marks the socket and an idle handle
 *   processes it from the loop: owner callbacks never run inside usrsctp,
 *   nor inside a call of the owner.
 *
 * - Unauthenticated UDP sources.  A packet from an address without an ep
 *   creates one only if it is SCTP-shaped (a 12-octet common header and a
 *   chunk header, to our SCTP port) and starts with INIT (nothing else can
 *   belong to an association we do not have), and only while the
 *   transport has fewer than cfg->max_peers eps.  Eps without an
 *   association are forgotten after cfg->idle_peer_ms.
 *
 * - PR-SCTP is offered (SCTP_PR_SUPPORTED) and peer->pr_sctp says whether
 *   the peer agreed, but no message is ever sent with a lifetime: the
 *   secure channel above is a TLS byte stream cut into records, and an
 *   abandoned record breaks it for good.  A transfer that runs late is the
 *   engine's business (CTDR/CTC), not the transport's.
 *
 * - Retransmission limits come from CT_MAX_TRANSFER_TIME through
 *   ctp_tr_rto_derive() (ctp_tr_rto.h, where the arithmetic is explained),
 *   shared with the kernel backend so that both time out alike: at the
 *   default 200 ms, RTO 50/100/800 ms (min/initial/max), a silent peer is
 *   declared lost after 15 retransmissions (about 10 s), an unanswered
 *   INIT after 14, heartbeats every 2.5 s, every packet SACKed at once.
 *
 * - Flow control: a message usrsctp refuses with EWOULDBLOCK waits, whole,
 *   in a per-peer queue of at most cfg->queue_max bytes; once a queue
 *   exists every later message of that peer joins it (order on a stream).
 *   Beyond the limit send returns CTP_E_AGAIN and takes nothing; writable
 *   follows once the queue has drained.  Every message dropped anywhere is
 *   logged and counted.
 *
 * - Why an association went down (enum ctp_tr_down): a completed SHUTDOWN
 *   is SHUTDOWN on both sides, whoever started it; an ABORT we send
 *   (close_peer(p, 1), or close() past its bound) is LOCAL here and
 *   ABORTED at the peer; exhausted retransmissions are LOST, an
 *   association that never came up is REFUSED.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <usrsctp.h>

#include "ctp/ctp_err.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_secret.h"
#include "ctp/ctp_tr.h"
#include "ctp/ctp_tr_rto.h"
#include "ctp_tr_usrsctp_int.h"

/* Largest message either way, as in the kernel backend: a CXTP message is
 * at most 65535 octets (its Length field) and TLS adds a few dozen octets
 * per record around it; the rest is margin for the channel's framing. */
#define USRSCTP_MSG_MAX       (64 * 1024 + 4096)
#define USRSCTP_RXBUF         (16 * 1024)
/* Streams offered and accepted; CXTP uses stream 0 (PROFILE 2). */
#define USRSCTP_STREAMS       8
#define USRSCTP_TICK_MS       10
#define USRSCTP_SWEEP_MS      250
#define USRSCTP_SCTP_PORT     5091
#define USRSCTP_UDP_PORT      9899
#define USRSCTP_PEERS_DEFAULT 64
#define USRSCTP_QUEUE_DEFAULT (256 * 1024)
#define USRSCTP_IDLE_DEFAULT  30000
/* Buckets of the lookup tables (powers of two). */
#define USRSCTP_HASH          64
#define USRSCTP_LIVE          256
/* The kernel's UDP socket buffers (best effort: capped by rmem_max and
 * wmem_max) and, when the send buffer is full anyway, how many bytes of
 * datagrams may wait in libuv before we drop (SCTP retransmits). */
#define USRSCTP_UDP_SOCKBUF   (4 * 1024 * 1024)
#define USRSCTP_UDP_BACKLOG   (1024 * 1024)
#define USRSCTP_UDP_RXBUF     (64 * 1024)
/* usrsctp_finish() retries at teardown, each advancing the stack's clock. */
#define USRSCTP_FINISH_ROUNDS 600
#define USRSCTP_FINISH_STEP   100

/* SCTP common header (RFC 9260 3.1) and the first chunk's type. */
#define USRSCTP_HDR_LEN       12
#define USRSCTP_CHUNK_INIT    1

/* Who is taking an association down, which decides the reason reported. */
enum ctp_tr_usrsctp_close {
	USRSCTP_OPEN = 0,
	USRSCTP_EOF,        /* we sent SHUTDOWN (or will, once the queue drains) */
	USRSCTP_ABORT,      /* we sent ABORT */
};

/* A message usrsctp had no room for yet. */
struct ctp_tr_usrsctp_msg {
	struct ctp_tr_usrsctp_msg *next;
	uint16_t                   sid;
	uint32_t                   ppid;     /* host order */
	size_t                     len;
	uint8_t                    data[];
};

struct ctp_tr_usrsctp_peer;

/* A remote address: what usrsctp knows as an AF_CONN address. */
struct ctp_tr_usrsctp_ep {
	struct ctp_tr              *t;
	struct ctp_tr_usrsctp_ep   *tnext;      /* t->eps chain */
	struct ctp_tr_usrsctp_ep   *lnext;      /* live set chain */
	struct ctp_tr_usrsctp_peer *peer;       /* the association over it, if any */
	struct sockaddr_storage     sa;
	uint64_t                    idle_since; /* loop ms: created, or its peer went */
	char                        name[INET6_ADDRSTRLEN + 8];
};

struct ctp_tr_usrsctp_peer {
	struct ctp_tr_peer          base;       /* first: the owner sees only this */
	struct ctp_tr_usrsctp_peer *snext;      /* socket's by-id chain */
	struct ctp_tr_usrsctp_peer *gnext;      /* stack's list of downs to report */
	struct ctp_tr_usrsctp_ep   *ep;
	sctp_assoc_t                id;
	uint16_t                    out_streams, in_streams;
	int                         closing;    /* enum ctp_tr_usrsctp_close */
	int                         eof_pending;/* SHUTDOWN once the queue is empty */
	int                         peer_shut;  /* the peer sent SHUTDOWN */
	int                         blocked;    /* CTP_E_AGAIN returned: writable owed */
	int                         told;       /* the owner knows p */
	int                         gone;       /* reason of a down not yet reported */
	int                         reported;
	unsigned                    flush_gen;
	struct ctp_tr_usrsctp_msg  *q_head, **q_tail;
	uint8_t                    *rx;         /* message being reassembled */
	size_t                      rx_len;
	int                         rx_skip;    /* dropping the rest of a long one */
	uint16_t                    rx_sid;
	uint32_t                    rx_ppid;
};

/* The listening one-to-many socket of an SCTP port. */
struct ctp_tr_usrsctp_sock {
	struct ctp_tr_usrsctp_sock *next;
	struct socket              *so;
	uint16_t                    port;
	unsigned                    refs;       /* transports using it */
	int                         pending;    /* the upcall saw something */
	unsigned                    flush_gen;
	struct ctp_tr_usrsctp_peer *byid[USRSCTP_HASH];
};

struct ctp_tr {
	const struct ctp_tr_usrsctp_wire *wire;
	void                       *wire_data;
	uv_loop_t                  *loop;
	struct ctp_tr_cfg           cfg;
	char                        name[48];
	struct ctp_tr_cb            cb;
	void                       *ud;
	struct ctp_tr_rto           rto;
	struct sockaddr_storage     local;
	struct ctp_tr_usrsctp_sock *sock;
	struct ctp_tr              *next;       /* the stack's transports */
	struct ctp_tr_usrsctp_ep   *eps[USRSCTP_HASH];
	unsigned                    neps;
	unsigned                    npeers;     /* associations not gone */
	uv_timer_t                  close_timer;
	int                         closing;    /* 1 asked, 2 shutting down, 3 finishing */
	int                         wire_closed;
	unsigned                    open_handles;
	void                      (*done)(void *);
	void                       *done_arg;
	/* what was dropped, each also logged */
	uint64_t                    drop_short, drop_port, drop_ootb, drop_full;
	uint64_t                    drop_big, drop_orphan, send_failed, queue_dropped;
};

struct ctp_tr_usrsctp_ticker {
	uv_timer_t     tick;
	uv_idle_t      kick;
	unsigned       open;
	struct ctp_tr *owner;      /* whose close waits for these handles */
};

/* The process-wide stack.  Everything but `foreign` belongs to the loop thread. */
static struct {
	unsigned                      refs;        /* open transports */
	int                           inited;      /* init done, finish not */
	int                           busy;        /* processing sockets */
	int                           in_input;    /* inside usrsctp_conninput */
	uv_loop_t                    *loop;
	pthread_t                     thread;
	struct ctp_tr_usrsctp_ticker *ticker;
	uint64_t                      last_tick, next_sweep;
	struct ctp_tr_usrsctp_sock   *socks;
	struct ctp_tr                *trs;
	struct ctp_tr_usrsctp_peer   *gone;        /* downs to report from the loop */
	struct ctp_tr_usrsctp_ep     *live[USRSCTP_LIVE];
	uint64_t                      foreign;     /* conn_output calls off the loop thread */
	uint64_t                      foreign_logged;
	uint64_t                      stale;       /* packets for addresses we forgot */
} ctp_tr_usrsctp_stack;

/* The read buffer: one, since sockets are processed one at a time.  Most
 * CXTP messages fit whole; larger ones arrive in pieces and are reassembled
 * per association (as in the kernel backend, so the tests' 60 KB messages
 * exercise that path). */
static _Alignas(16) uint8_t ctp_tr_usrsctp_rbuf[USRSCTP_RXBUF];

static void ctp_tr_usrsctp_run(void);
static void ctp_tr_usrsctp_kick(void);
static void ctp_tr_usrsctp_close_cb(uv_timer_t *h);

/* Log every drop of a kind once the count reaches a power of two: the
 * first always, a flood in a few lines. */
static int
ctp_tr_usrsctp_pow2(uint64_t n)
{
	return n && (n & (n - 1)) == 0;
}

/* ---- addresses -------------------------------------------------------- */

socklen_t
ctp_tr_usrsctp_sa_len(const struct sockaddr *sa)
{
	if (sa && sa->sa_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (sa && sa->sa_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

int
ctp_tr_usrsctp_sa_eq(const struct sockaddr *a, const struct sockaddr *b)
{
	if (!a || !b || a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)(const void *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)(const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)(const void *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)(const void *)b;

		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
	}
	return 0;
}

const char *
ctp_tr_usrsctp_sa_fmt(const struct sockaddr *sa, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
		snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
		snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else
		snprintf(buf, len, "?");
	return buf;
}

/* A v4-mapped IPv6 address becomes plain IPv4: a dual-stack UDP socket
 * reports IPv4 peers that way, the configuration names them as IPv4. */
static void
ctp_tr_usrsctp_sa_norm(const struct sockaddr *sa, struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;

	memset(out, 0, sizeof *out);
	if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;

		s4->sin_family = AF_INET;
		s4->sin_port = s6->sin6_port;
		memcpy(&s4->sin_addr, &s6->sin6_addr.s6_addr[12], 4);
		return;
	}
	memcpy(out, sa, ctp_tr_usrsctp_sa_len(sa));
}

static unsigned
ctp_tr_usrsctp_sa_hash(const struct sockaddr *sa)
{
	const uint8_t *p;
	size_t n;
	unsigned h = 2166136261u;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;

		p = (const uint8_t *)&s4->sin_addr;
		n = 4;
		h = (h ^ s4->sin_port) * 16777619u;
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;

		p = (const uint8_t *)&s6->sin6_addr;
		n = 16;
		h = (h ^ s6->sin6_port) * 16777619u;
	}
	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h & (USRSCTP_HASH - 1);
}

/* ---- the live set: eps usrsctp may hand back to us ---------------------- */

/* conn_output and recvv give us back pointers we registered; one of an ep we
 * have since freed must not be followed, so every pointer is looked up here
 * first (a freed ep's pointer is only compared, never dereferenced). */
static unsigned
ctp_tr_usrsctp_live_hash(const void *addr)
{
	uintptr_t v = (uintptr_t)addr;

	return (unsigned)((v >> 4) ^ (v >> 12)) & (USRSCTP_LIVE - 1);
}

static struct ctp_tr_usrsctp_ep *
ctp_tr_usrsctp_live_find(const void *addr)
{
	struct ctp_tr_usrsctp_ep *ep;

	for (ep = ctp_tr_usrsctp_stack.live[ctp_tr_usrsctp_live_hash(addr)]; ep; ep = ep->lnext)
		if ((const void *)ep == addr)
			return ep;
	return NULL;
}

static void
ctp_tr_usrsctp_live_del(struct ctp_tr_usrsctp_ep *ep)
{
	struct ctp_tr_usrsctp_ep **pp = &ctp_tr_usrsctp_stack.live[ctp_tr_usrsctp_live_hash(ep)];

	for (; *pp; pp = &(*pp)->lnext)
		if (*pp == ep) {
			*pp = ep->lnext;
			return;
		}
}

/* ---- eps -------------------------------------------------------------- */

static struct ctp_tr_usrsctp_ep *
ctp_tr_usrsctp_ep_find(struct ctp_tr *t, const struct sockaddr *sa)
{
	struct ctp_tr_usrsctp_ep *ep;

	for (ep = t->eps[ctp_tr_usrsctp_sa_hash(sa)]; ep; ep = ep->tnext)
		if (ctp_tr_usrsctp_sa_eq((const struct sockaddr *)&ep->sa, sa))
			return ep;
	return NULL;
}

static struct ctp_tr_usrsctp_ep *
ctp_tr_usrsctp_ep_new(struct ctp_tr *t, const struct sockaddr *sa)
{
	struct ctp_tr_usrsctp_ep *ep = calloc(1, sizeof *ep);
	unsigned h;

	if (!ep)
		return NULL;
	ep->t = t;
	memcpy(&ep->sa, sa, ctp_tr_usrsctp_sa_len(sa));
	ep->idle_since = uv_now(t->loop);
	ctp_tr_usrsctp_sa_fmt(sa, ep->name, sizeof ep->name);
	h = ctp_tr_usrsctp_sa_hash(sa);
	ep->tnext = t->eps[h];
	t->eps[h] = ep;
	t->neps++;
	h = ctp_tr_usrsctp_live_hash(ep);
	ep->lnext = ctp_tr_usrsctp_stack.live[h];
	ctp_tr_usrsctp_stack.live[h] = ep;
	/* before the first conninput or connect that names it */
	usrsctp_register_address(ep);
	return ep;
}

static void
ctp_tr_usrsctp_ep_free(struct ctp_tr_usrsctp_ep *ep)
{
	struct ctp_tr *t = ep->t;
	struct ctp_tr_usrsctp_ep **pp = &t->eps[ctp_tr_usrsctp_sa_hash((struct sockaddr *)&ep->sa)];

	for (; *pp; pp = &(*pp)->tnext)
		if (*pp == ep) {
			*pp = ep->tnext;
			break;
		}
	t->neps--;
	ctp_tr_usrsctp_live_del(ep);
	usrsctp_deregister_address(ep);
	free(ep);
}

/* ---- peers ------------------------------------------------------------ */

static const char *
ctp_tr_usrsctp_peer_state(const struct ctp_tr_usrsctp_peer *p)
{
	if (p->reported)
		return "down";
	if (p->closing == USRSCTP_ABORT || p->gone)
		return "aborting";
	if (p->closing == USRSCTP_EOF || p->peer_shut)
		return "shutting down";
	return p->base.up ? "up" : "connecting";
}

static void
ctp_tr_usrsctp_peer_log(const struct ctp_tr_usrsctp_peer *p, const char *old, const char *event)
{
	char id[128];

	snprintf(id, sizeof id, "%s %s #%u", p->base.tr->name, p->ep->name, (unsigned)p->id);
	ctp_log_state("association", id, old, ctp_tr_usrsctp_peer_state(p), event);
}

static struct ctp_tr_usrsctp_peer *
ctp_tr_usrsctp_peer_by_id(struct ctp_tr_usrsctp_sock *s, sctp_assoc_t id)
{
	struct ctp_tr_usrsctp_peer *p;

	for (p = s->byid[id & (USRSCTP_HASH - 1)]; p; p = p->snext)
		if (p->id == id)
			return p;
	return NULL;
}

static struct ctp_tr_usrsctp_peer *
ctp_tr_usrsctp_peer_new(struct ctp_tr_usrsctp_ep *ep, sctp_assoc_t id, int outbound)
{
	struct ctp_tr *t = ep->t;
	struct ctp_tr_usrsctp_peer *p = calloc(1, sizeof *p);
	unsigned h = id & (USRSCTP_HASH - 1);

	if (!p)
		return NULL;
	p->base.tr = t;
	memcpy(&p->base.addr, &ep->sa, sizeof p->base.addr);
	p->base.outbound = outbound;
	p->ep = ep;
	p->id = id;
	p->q_tail = &p->q_head;
	p->snext = t->sock->byid[h];
	t->sock->byid[h] = p;
	ep->peer = p;
	t->npeers++;
	return p;
}

/* Forget p in every lookup (it stays allocated until reported). */
static void
ctp_tr_usrsctp_peer_unlink(struct ctp_tr_usrsctp_peer *p)
{
	struct ctp_tr *t = p->base.tr;
	struct ctp_tr_usrsctp_peer **pp = &t->sock->byid[p->id & (USRSCTP_HASH - 1)];

	for (; *pp; pp = &(*pp)->snext)
		if (*pp == p) {
			*pp = p->snext;
			break;
		}
	if (p->ep->peer == p) {
		p->ep->peer = NULL;
		p->ep->idle_since = uv_now(t->loop);
	}
	t->npeers--;
}

static size_t
ctp_tr_usrsctp_queue_drop(struct ctp_tr_usrsctp_peer *p)
{
	struct ctp_tr_usrsctp_msg *m;
	size_t n = 0;

	while ((m = p->q_head) != NULL) {
		p->q_head = m->next;
		n++;
		ctp_wipe(m->data, m->len);   /* plaintext under security ipsec or none */
		free(m);
	}
	p->q_tail = &p->q_head;
	p->base.tr->queue_dropped += n;
	p->base.queue_bytes = 0;
	return n;
}

/*
 * The association is over: tell the owner, then free p.  Runs only from our
 * own loop callbacks, never inside a call of the owner.
 */
static void
ctp_tr_usrsctp_peer_down(struct ctp_tr_usrsctp_peer *p, int reason, const char *event)
{
	struct ctp_tr *t = p->base.tr;
	const char *old = ctp_tr_usrsctp_peer_state(p);
	size_t bytes = p->base.queue_bytes, n;

	if (!p->gone)
		ctp_tr_usrsctp_peer_unlink(p);
	p->gone = reason;
	p->reported = 1;
	if ((n = ctp_tr_usrsctp_queue_drop(p)) > 0)
		log_warn("%s %s: %zu queued message(s), %zu octets, never sent", t->name,
		    p->ep->name, n, bytes);
	if (p->rx_len || p->rx_skip)
		log_warn("%s %s: a partly received message (%zu octets) dropped", t->name,
		    p->ep->name, p->rx_len);
	ctp_tr_usrsctp_peer_log(p, old, event);
	log_info("%s %s: down (%s): %llu/%llu messages, %llu/%llu octets in/out", t->name,
	    p->ep->name, ctp_tr_down_name(reason), (unsigned long long)p->base.msgs_in,
	    (unsigned long long)p->base.msgs_out, (unsigned long long)p->base.bytes_in,
	    (unsigned long long)p->base.bytes_out);
	/* an inbound association the owner never heard of gets no down */
	if (p->told)
		t->cb.down(&p->base, reason, t->ud);
	free(p->rx);
	free(p);
	if (t->closing == 2 && t->npeers == 0)
		uv_timer_start(&t->close_timer, ctp_tr_usrsctp_close_cb, 0, 0);
}

/* Take p out of every lookup now and report it down from the loop. */
static void
ctp_tr_usrsctp_peer_defer_down(struct ctp_tr_usrsctp_peer *p, int reason)
{
	if (p->gone)
		return;
	ctp_tr_usrsctp_peer_unlink(p);
	p->gone = reason;
	p->gnext = ctp_tr_usrsctp_stack.gone;
	ctp_tr_usrsctp_stack.gone = p;
	ctp_tr_usrsctp_kick();
}

/* ---- talking to usrsctp ----------------------------------------------- */

/* usrsctp_sendv to one association; 0 when taken, else the errno. */
static int
ctp_tr_usrsctp_sendv(struct ctp_tr_usrsctp_sock *s, sctp_assoc_t id, uint16_t sid, uint32_t ppid,
    const void *buf, size_t len, uint16_t flags)
{
	struct sctp_sndinfo si;

	memset(&si, 0, sizeof si);
	si.snd_sid = sid;
	si.snd_flags = flags;            /* never SCTP_UNORDERED (PROFILE 2), never SENDALL */
	si.snd_ppid = htonl(ppid);       /* RFC 6458: the PPID travels as given */
	si.snd_assoc_id = id;
	errno = 0;
	if (usrsctp_sendv(s->so, buf ? buf : "", len, NULL, 0, &si, sizeof si,
	    SCTP_SENDV_SNDINFO, 0) < 0)
		return errno ? errno : EIO;
	return 0;
}

static void
ctp_tr_usrsctp_abort_id(struct ctp_tr_usrsctp_sock *s, sctp_assoc_t id)
{
	int e = ctp_tr_usrsctp_sendv(s, id, 0, 0, NULL, 0, SCTP_ABORT);

	if (e && e != EINVAL && e != ENOENT && e != ENOTCONN)
		log_warn("association #%u: ABORT: %s", (unsigned)id, strerror(e));
	s->pending = 1;   /* the local notification needs reading */
	ctp_tr_usrsctp_kick();
}

/* ABORT p at our own request: LOCAL here, ABORTED at the peer. */
static void
ctp_tr_usrsctp_peer_abort(struct ctp_tr_usrsctp_peer *p, const char *event)
{
	const char *old = ctp_tr_usrsctp_peer_state(p);

	p->closing = USRSCTP_ABORT;
	ctp_tr_usrsctp_abort_id(p->base.tr->sock, p->id);
	ctp_tr_usrsctp_peer_log(p, old, event);
	ctp_tr_usrsctp_peer_defer_down(p, CTP_TR_DOWN_LOCAL);
}

static void
ctp_tr_usrsctp_send_eof(struct ctp_tr_usrsctp_peer *p)
{
	int e;

	p->eof_pending = 0;
	if ((e = ctp_tr_usrsctp_sendv(p->base.tr->sock, p->id, 0, 0, NULL, 0, SCTP_EOF)) != 0) {
		/* it is going away already; its notification follows, else
		 * close()'s bound reports it */
		log_info("%s %s: SHUTDOWN: %s", p->base.tr->name, p->ep->name, strerror(e));
	}
}

static void
ctp_tr_usrsctp_setopt(struct ctp_tr *t, int level, int opt, const char *name, const void *v,
    socklen_t len)
{
	if (usrsctp_setsockopt(t->sock->so, level, opt, v, len) < 0)
		log_info("%s: %s: %s", t->name, name, strerror(errno));
}

/*
 * The retransmission settings of t (ctp_tr_rto.h) for association id, or
 * for SCTP_FUTURE_ASSOC: the socket's defaults, which the next association
 * it makes starts with.
 */
static void
ctp_tr_usrsctp_apply(struct ctp_tr *t, sctp_assoc_t id)
{
	const struct ctp_tr_rto *r = &t->rto;
	struct sctp_rtoinfo rto;
	struct sctp_assocparams ap;
	struct sctp_paddrparams pp;
	struct sctp_sack_info sack;

	memset(&rto, 0, sizeof rto);
	rto.srto_assoc_id = id;
	rto.srto_initial = r->rto_initial_ms;
	rto.srto_max = r->rto_max_ms;
	rto.srto_min = r->rto_min_ms;
	ctp_tr_usrsctp_setopt(t, IPPROTO_SCTP, SCTP_RTOINFO, "SCTP_RTOINFO", &rto, sizeof rto);
	/* AF_CONN is single-homed: the one path's limit is the association's
	 * (the kernel backend, possibly multi-homed, halves it).  "Every
	 * path" is the AF_CONN wildcard here: usrsctp refuses an unset
	 * address (EAFNOSUPPORT) for an existing association. */
	memset(&pp, 0, sizeof pp);
	{
		struct sockaddr_conn any;

		memset(&any, 0, sizeof any);
		any.sconn_family = AF_CONN;
		memcpy(&pp.spp_address, &any, sizeof any);
	}
	pp.spp_assoc_id = id;
	pp.spp_hbinterval = r->hb_interval_ms;
	pp.spp_pathmaxrxt = r->assoc_max_rxt;
	pp.spp_flags = SPP_HB_ENABLE;
	ctp_tr_usrsctp_setopt(t, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, "SCTP_PEER_ADDR_PARAMS", &pp,
	    sizeof pp);
	memset(&ap, 0, sizeof ap);
	ap.sasoc_assoc_id = id;
	ap.sasoc_asocmaxrxt = r->assoc_max_rxt;
	ctp_tr_usrsctp_setopt(t, IPPROTO_SCTP, SCTP_ASSOCINFO, "SCTP_ASSOCINFO", &ap, sizeof ap);
	memset(&sack, 0, sizeof sack);
	sack.sack_assoc_id = id;
	sack.sack_delay = r->sack_delay_ms;
	sack.sack_freq = r->sack_freq;
	ctp_tr_usrsctp_setopt(t, IPPROTO_SCTP, SCTP_DELAYED_SACK, "SCTP_DELAYED_SACK", &sack,
	    sizeof sack);
	if (id == SCTP_FUTURE_ASSOC) {
		struct sctp_initmsg im;

		memset(&im, 0, sizeof im);
		im.sinit_num_ostreams = USRSCTP_STREAMS;
		im.sinit_max_instreams = USRSCTP_STREAMS;
		im.sinit_max_attempts = r->max_init_rxt;
		im.sinit_max_init_timeo = r->max_init_timeo_ms;
		ctp_tr_usrsctp_setopt(t, IPPROTO_SCTP, SCTP_INITMSG, "SCTP_INITMSG", &im, sizeof im);
	}
}

/* ---- receiving -------------------------------------------------------- */

static void
ctp_tr_usrsctp_deliver(struct ctp_tr_usrsctp_peer *p, uint16_t sid, uint32_t ppid,
    const uint8_t *buf, size_t len)
{
	struct ctp_tr *t = p->base.tr;

	p->base.msgs_in++;
	p->base.bytes_in += len;
	t->cb.msg(&p->base, sid, ppid, buf, len, t->ud);
}

static void
ctp_tr_usrsctp_data(struct ctp_tr_usrsctp_sock *s, const struct sctp_rcvinfo *ri, size_t n,
    int eor)
{
	struct ctp_tr_usrsctp_peer *p = ctp_tr_usrsctp_peer_by_id(s, ri->rcv_assoc_id);
	const uint8_t *buf = ctp_tr_usrsctp_rbuf;
	struct ctp_tr *t;

	if (!p) {
		/* one we refused or aborted, whose data was already queued */
		static uint64_t orphans;

		if (ctp_tr_usrsctp_pow2(++orphans))
			log_info("%zu octets for association #%u, which we do not have: dropped"
			    " (%llu so far)", n, (unsigned)ri->rcv_assoc_id,
			    (unsigned long long)orphans);
		return;
	}
	t = p->base.tr;
	if (p->closing == USRSCTP_ABORT || t->closing >= 3) {
		if (ctp_tr_usrsctp_pow2(++t->drop_orphan))
			log_info("%s %s: %zu octets after our ABORT or close: dropped (%llu so far)",
			    t->name, p->ep->name, n, (unsigned long long)t->drop_orphan);
		return;
	}
	if (p->rx_skip) {
		p->rx_skip = !eor;
		return;
	}
	if (p->rx_len == 0 && eor) {
		ctp_tr_usrsctp_deliver(p, ri->rcv_sid, ntohl(ri->rcv_ppid), buf, n);
		return;
	}
	if (p->rx_len + n > USRSCTP_MSG_MAX) {
		/* a peer may not make us allocate without bound (PROFILE 5.4) */
		t->drop_big++;
		log_warn("%s %s: message on stream %u longer than %u octets: dropped (%llu so far)",
		    t->name, p->ep->name, ri->rcv_sid, USRSCTP_MSG_MAX,
		    (unsigned long long)t->drop_big);
		free(p->rx);
		p->rx = NULL;
		p->rx_len = 0;
		p->rx_skip = !eor;
		return;
	}
	if (!p->rx) {
		if ((p->rx = malloc(USRSCTP_MSG_MAX)) == NULL) {
			t->drop_big++;
			log_err("%s %s: out of memory reassembling a message: dropped", t->name,
			    p->ep->name);
			p->rx_skip = !eor;
			return;
		}
		p->rx_sid = ri->rcv_sid;
		p->rx_ppid = ntohl(ri->rcv_ppid);
	}
	memcpy(p->rx + p->rx_len, buf, n);
	p->rx_len += n;
	if (eor) {
		uint8_t *msg = p->rx;
		size_t len = p->rx_len;

		/* hand the buffer over first: the owner may close p */
		p->rx = NULL;
		p->rx_len = 0;
		ctp_tr_usrsctp_deliver(p, p->rx_sid, p->rx_ppid, msg, len);
		free(msg);
	}
}

static const char *
ctp_tr_usrsctp_assoc_state_name(unsigned state)
{
	switch (state) {
	case SCTP_COMM_UP: return "COMM_UP";
	case SCTP_COMM_LOST: return "COMM_LOST";
	case SCTP_RESTART: return "RESTART";
	case SCTP_SHUTDOWN_COMP: return "SHUTDOWN_COMP";
	case SCTP_CANT_STR_ASSOC: return "CANT_STR_ASSOC";
	default: return "?";
	}
}

/* An association came up: ours (p), or one the peer opened (p NULL). */
static void
ctp_tr_usrsctp_comm_up(struct ctp_tr_usrsctp_sock *s, const struct sctp_assoc_change *ac,
    const uint8_t *info, size_t ninfo, const struct sockaddr_conn *from,
    struct ctp_tr_usrsctp_peer *p)
{
	struct ctp_tr *t;
	const char *old;

	if (!p) {
		struct ctp_tr_usrsctp_ep *ep = from ? ctp_tr_usrsctp_live_find(from->sconn_addr) :
		    NULL;

		if (!ep || ep->t->sock != s) {
			log_warn("association #%u from an address we no longer know: aborted",
			    (unsigned)ac->sac_assoc_id);
			ctp_tr_usrsctp_abort_id(s, ac->sac_assoc_id);
			return;
		}
		t = ep->t;
		if (t->closing || ep->peer) {
			log_warn("%s %s: association #%u refused: %s", t->name, ep->name,
			    (unsigned)ac->sac_assoc_id, t->closing ? "closing" :
			    "another association runs over this address");
			ctp_tr_usrsctp_abort_id(s, ac->sac_assoc_id);
			return;
		}
		if ((p = ctp_tr_usrsctp_peer_new(ep, ac->sac_assoc_id, 0)) == NULL) {
			log_err("%s %s: out of memory: association #%u aborted", t->name, ep->name,
			    (unsigned)ac->sac_assoc_id);
			ctp_tr_usrsctp_abort_id(s, ac->sac_assoc_id);
			return;
		}
	}
	t = p->base.tr;
	old = ctp_tr_usrsctp_peer_state(p);
	p->base.up = 1;
	p->out_streams = ac->sac_outbound_streams;
	p->in_streams = ac->sac_inbound_streams;
	/* RFC 6458 6.1.1: for COMM_UP, sac_info lists what both ends support */
	for (size_t i = 0; i < ninfo; i++)
		if (info[i] == SCTP_ASSOC_SUPPORTS_PR)
			p->base.pr_sctp = 1;
	ctp_tr_usrsctp_apply(t, p->id);
	ctp_tr_usrsctp_peer_log(p, old, "COMM_UP");
	log_debug("%s %s: streams out %u in %u, PR-SCTP %s (never used)", t->name, p->ep->name,
	    p->out_streams, p->in_streams, p->base.pr_sctp ? "yes" : "no");
	if (t->closing) {
		/* ours, and it came up while we were closing: take it down again */
		p->closing = USRSCTP_EOF;
		ctp_tr_usrsctp_send_eof(p);
		return;
	}
	p->told = 1;
	t->cb.up(&p->base, t->ud);
}

static void
ctp_tr_usrsctp_assoc_change(struct ctp_tr_usrsctp_sock *s, const uint8_t *buf, size_t n,
    const struct sockaddr_conn *from)
{
	struct sctp_assoc_change ac;
	struct ctp_tr_usrsctp_peer *p;
	const char *ev;
	size_t ninfo;
	int reason;

	memcpy(&ac, buf, sizeof ac);
	ninfo = ac.sac_length > sizeof ac && ac.sac_length <= n ? ac.sac_length - sizeof ac : 0;
	p = ctp_tr_usrsctp_peer_by_id(s, ac.sac_assoc_id);
	ev = ctp_tr_usrsctp_assoc_state_name(ac.sac_state);
	switch (ac.sac_state) {
	case SCTP_COMM_UP:
		ctp_tr_usrsctp_comm_up(s, &ac, buf + sizeof ac, ninfo, from, p);
		return;
	case SCTP_RESTART:
		/* The peer lost its state and opened the association anew: the
		 * TLS connection above went with it.  The owner sees the old
		 * peer go down and a new one come up, as after a reconnect. */
		if (p)
			ctp_tr_usrsctp_peer_down(p, CTP_TR_DOWN_LOST, ev);
		ctp_tr_usrsctp_comm_up(s, &ac, buf + sizeof ac, ninfo, from, NULL);
		return;
	case SCTP_SHUTDOWN_COMP:
		reason = CTP_TR_DOWN_SHUTDOWN;
		break;
	case SCTP_COMM_LOST:
		/* an ABORT from the peer comes with its chunk in sac_info;
		 * exhausted retransmissions come without */
		if (p && !p->base.up)
			reason = CTP_TR_DOWN_REFUSED;
		else
			reason = ninfo ? CTP_TR_DOWN_ABORTED : CTP_TR_DOWN_LOST;
		break;
	case SCTP_CANT_STR_ASSOC:
		reason = CTP_TR_DOWN_REFUSED;
		break;
	default:
		return;
	}
	if (!p) {
		log_debug("association #%u: %s (not ours, or reported already)",
		    (unsigned)ac.sac_assoc_id, ev);
		return;
	}
	if (p->closing == USRSCTP_ABORT)
		reason = CTP_TR_DOWN_LOCAL;
	if (ac.sac_error)
		log_info("%s %s: %s, error cause %u", p->base.tr->name, p->ep->name, ev,
		    ac.sac_error);
	ctp_tr_usrsctp_peer_down(p, reason, ev);
}

static void
ctp_tr_usrsctp_notification(struct ctp_tr_usrsctp_sock *s, const uint8_t *buf, size_t n,
    const struct sockaddr_conn *from)
{
	struct ctp_tr_usrsctp_peer *p;
	struct sctp_tlv hdr;

	if (n < sizeof hdr)
		return;
	memcpy(&hdr, buf, sizeof hdr);
	switch (hdr.sn_type) {
	case SCTP_ASSOC_CHANGE:
		if (n >= sizeof(struct sctp_assoc_change))
			ctp_tr_usrsctp_assoc_change(s, buf, n, from);
		break;
	case SCTP_SHUTDOWN_EVENT: {
		struct sctp_shutdown_event se;

		if (n < sizeof se)
			break;
		memcpy(&se, buf, sizeof se);
		if ((p = ctp_tr_usrsctp_peer_by_id(s, se.sse_assoc_id)) != NULL) {
			const char *old = ctp_tr_usrsctp_peer_state(p);
			size_t bytes = p->base.queue_bytes, k;

			/* usrsctp takes no more data for it: what waits here
			 * can never be sent */
			p->peer_shut = 1;
			p->eof_pending = 0;
			ctp_tr_usrsctp_peer_log(p, old, "SHUTDOWN received");
			if ((k = ctp_tr_usrsctp_queue_drop(p)) > 0)
				log_warn("%s %s: %zu queued message(s), %zu octets, dropped",
				    p->base.tr->name, p->ep->name, k, bytes);
		}
		break;
	}
	case SCTP_SEND_FAILED_EVENT: {
		struct sctp_send_failed_event sf;

		if (n < sizeof sf)
			break;
		memcpy(&sf, buf, sizeof sf);
		p = ctp_tr_usrsctp_peer_by_id(s, sf.ssfe_assoc_id);
		if (p)
			p->base.tr->send_failed++;
		log_warn("%s: association #%u: a message on stream %u (%u octets) was not delivered"
		    " (%s, error %u)", p ? p->base.tr->name : "usrsctp", (unsigned)sf.ssfe_assoc_id,
		    sf.ssfe_info.snd_sid,
		    (unsigned)(sf.ssfe_length > sizeof sf ? sf.ssfe_length - sizeof sf : 0),
		    sf.ssfe_flags & SCTP_DATA_SENT ? "sent" : "unsent", sf.ssfe_error);
		break;
	}
	case SCTP_REMOTE_ERROR: {
		struct sctp_remote_error re;

		if (n < sizeof re)
			break;
		memcpy(&re, buf, sizeof re);
		p = ctp_tr_usrsctp_peer_by_id(s, re.sre_assoc_id);
		log_warn("%s: association #%u: peer reports error cause %u",
		    p ? p->base.tr->name : "usrsctp", (unsigned)re.sre_assoc_id, ntohs(re.sre_error));
		break;
	}
	case SCTP_PEER_ADDR_CHANGE: {
		struct sctp_paddr_change pc;

		if (n < sizeof pc)
			break;
		memcpy(&pc, buf, sizeof pc);
		if ((p = ctp_tr_usrsctp_peer_by_id(s, pc.spc_assoc_id)) != NULL)
			log_info("%s %s: path state %u (error %u)", p->base.tr->name, p->ep->name,
			    pc.spc_state, pc.spc_error);
		break;
	}
	default:
		log_debug("notification %u ignored", hdr.sn_type);
		break;
	}
}

/* Everything the socket has for us: messages and notifications. */
static void
ctp_tr_usrsctp_sock_read(struct ctp_tr_usrsctp_sock *s)
{
	int notif_tail = 0;

	for (;;) {
		struct sctp_rcvinfo ri;
		struct sockaddr_conn from;
		socklen_t flen = sizeof from, ilen = sizeof ri;
		unsigned itype = 0;
		int flags = 0;
		ssize_t n;

		memset(&ri, 0, sizeof ri);
		memset(&from, 0, sizeof from);
		n = usrsctp_recvv(s->so, ctp_tr_usrsctp_rbuf, sizeof ctp_tr_usrsctp_rbuf,
		    (struct sockaddr *)&from, &flen, &ri, &ilen, &itype, &flags);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("port %u: usrsctp_recvv: %s", s->port, strerror(errno));
			return;
		}
		if (n == 0)
			return;
		if (flags & MSG_NOTIFICATION) {
			/* a notification longer than the buffer (a SEND_FAILED
			 * with a big message) arrives in pieces: the head holds
			 * all we read */
			int first = !notif_tail;

			notif_tail = !(flags & MSG_EOR);
			if (first)
				ctp_tr_usrsctp_notification(s, ctp_tr_usrsctp_rbuf, (size_t)n,
				    flen >= sizeof from && from.sconn_family == AF_CONN ? &from :
				    NULL);
			continue;
		}
		if (itype != SCTP_RECVV_RCVINFO) {
			log_warn("port %u: %zd octets without SCTP_RCVINFO dropped", s->port, n);
			continue;
		}
		ctp_tr_usrsctp_data(s, &ri, (size_t)n, !!(flags & MSG_EOR));
	}
}

/* ---- sending ---------------------------------------------------------- */

/*
 * Hand p's queue to usrsctp until it refuses; then SHUTDOWN if that waited
 * for the queue, and tell a blocked owner it may send again.  Returns 1
 * when it called the owner (who may have changed anything).
 */
static int
ctp_tr_usrsctp_flush(struct ctp_tr_usrsctp_peer *p)
{
	struct ctp_tr *t = p->base.tr;
	struct ctp_tr_usrsctp_msg *m;
	int e;

	while ((m = p->q_head) != NULL) {
		e = ctp_tr_usrsctp_sendv(t->sock, p->id, m->sid, m->ppid, m->data, m->len, 0);
		if (e == EAGAIN || e == EWOULDBLOCK)
			return 0;
		if (e) {
			size_t bytes = p->base.queue_bytes, k = ctp_tr_usrsctp_queue_drop(p);

			log_warn("%s %s: send: %s; %zu queued message(s), %zu octets, dropped",
			    t->name, p->ep->name, strerror(e), k, bytes);
			break;
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
		ctp_tr_usrsctp_send_eof(p);
	if (p->blocked && !p->closing && !p->peer_shut && !t->closing) {
		p->blocked = 0;
		if (t->cb.writable) {
			t->cb.writable(&p->base, t->ud);
			return 1;
		}
	}
	p->blocked = 0;
	return 0;
}

static void
ctp_tr_usrsctp_sock_flush(struct ctp_tr_usrsctp_sock *s)
{
	unsigned gen = ++s->flush_gen;
	int again;

	/* writable may send, connect or close (never free) peers: scan again
	 * after each call, skipping the peers this pass has done */
	do {
		again = 0;
		for (unsigned h = 0; h < USRSCTP_HASH && !again; h++)
			for (struct ctp_tr_usrsctp_peer *p = s->byid[h]; p; p = p->snext) {
				if (p->flush_gen == gen ||
				    (!p->q_head && !p->blocked && !p->eof_pending))
					continue;
				p->flush_gen = gen;
				if (ctp_tr_usrsctp_flush(p)) {
					again = 1;
					break;
				}
			}
	} while (again);
}

/* ---- processing ------------------------------------------------------- */

/*
 * Process every socket the upcall marked, and report the downs owed.  Never
 * nested: what happens meanwhile marks a socket and is picked up here.
 */
static void
ctp_tr_usrsctp_run(void)
{
	struct ctp_tr_usrsctp_sock *s;
	struct ctp_tr_usrsctp_peer *p;

	if (ctp_tr_usrsctp_stack.busy)
		return;
	ctp_tr_usrsctp_stack.busy = 1;
	for (;;) {
		if ((p = ctp_tr_usrsctp_stack.gone) != NULL) {
			ctp_tr_usrsctp_stack.gone = p->gnext;
			ctp_tr_usrsctp_peer_down(p, p->gone, "reported");
			continue;
		}
		for (s = ctp_tr_usrsctp_stack.socks; s && !s->pending; s = s->next)
			;
		if (!s)
			break;
		s->pending = 0;
		ctp_tr_usrsctp_sock_read(s);
		ctp_tr_usrsctp_sock_flush(s);
	}
	ctp_tr_usrsctp_stack.busy = 0;
}

static void
ctp_tr_usrsctp_kick_cb(uv_idle_t *h)
{
	uv_idle_stop(h);
	ctp_tr_usrsctp_run();
}

/* Process from the loop, soon: the idle handle runs right after this
 * iteration's timers, before the loop polls again. */
static void
ctp_tr_usrsctp_kick(void)
{
	struct ctp_tr_usrsctp_ticker *tk = ctp_tr_usrsctp_stack.ticker;

	if (tk && !uv_is_active((uv_handle_t *)&tk->kick))
		uv_idle_start(&tk->kick, ctp_tr_usrsctp_kick_cb);
}

static void
ctp_tr_usrsctp_upcall(struct socket *so, void *arg, int flags)
{
	struct ctp_tr_usrsctp_sock *s = arg;

	(void)so;
	(void)flags;
	s->pending = 1;
	/* only inside our own conninput are usrsctp's locks known to be
	 * released when it calls us; from anywhere else, defer */
	if (ctp_tr_usrsctp_stack.in_input && !ctp_tr_usrsctp_stack.busy)
		ctp_tr_usrsctp_run();
	else if (!ctp_tr_usrsctp_stack.busy)
		ctp_tr_usrsctp_kick();
}

/* ---- the wire side ------------------------------------------------------ */

/* usrsctp's conn_output: addr is one of our eps, or was. */
static int
ctp_tr_usrsctp_output(void *addr, void *buf, size_t len, uint8_t tos, uint8_t set_df)
{
	struct ctp_tr_usrsctp_ep *ep;

	(void)tos;
	(void)set_df;
	if (!pthread_equal(pthread_self(), ctp_tr_usrsctp_stack.thread)) {
		/* not the loop thread: touching libuv here would race; the
		 * loop logs the count (logging is the loop's too) */
		__atomic_add_fetch(&ctp_tr_usrsctp_stack.foreign, 1, __ATOMIC_RELAXED);
		return 0;
	}
	if ((ep = ctp_tr_usrsctp_live_find(addr)) == NULL || ep->t->wire_closed) {
		if (ctp_tr_usrsctp_pow2(++ctp_tr_usrsctp_stack.stale))
			log_debug("packet for an address we forgot dropped (%llu so far)",
			    (unsigned long long)ctp_tr_usrsctp_stack.stale);
		return 0;
	}
	ep->t->wire->output(ep->t, (const struct sockaddr *)&ep->sa, buf, len);
	return 0;
}

void
ctp_tr_usrsctp_input(struct ctp_tr *t, const struct sockaddr *from_in, const void *pkt,
    size_t len)
{
	const uint8_t *b = pkt;
	struct sockaddr_storage from;
	struct ctp_tr_usrsctp_ep *ep;
	char a[INET6_ADDRSTRLEN + 8];

	if (t->closing >= 3 || ctp_tr_usrsctp_sa_len(from_in) == 0)
		return;
	/* SCTP-shaped: the common header and one chunk header at least */
	if (len < USRSCTP_HDR_LEN + 4) {
		if (ctp_tr_usrsctp_pow2(++t->drop_short))
			log_info("%s: %zu-octet datagram from %s is no SCTP packet: dropped"
			    " (%llu so far)", t->name, len,
			    ctp_tr_usrsctp_sa_fmt(from_in, a, sizeof a),
			    (unsigned long long)t->drop_short);
		return;
	}
	if ((unsigned)(b[2] << 8 | b[3]) != t->cfg.sctp_port) {
		if (ctp_tr_usrsctp_pow2(++t->drop_port))
			log_info("%s: SCTP packet from %s for port %u, not ours (%u): dropped"
			    " (%llu so far)", t->name, ctp_tr_usrsctp_sa_fmt(from_in, a, sizeof a),
			    (unsigned)(b[2] << 8 | b[3]), t->cfg.sctp_port,
			    (unsigned long long)t->drop_port);
		return;
	}
	ctp_tr_usrsctp_sa_norm(from_in, &from);
	if ((ep = ctp_tr_usrsctp_ep_find(t, (struct sockaddr *)&from)) == NULL) {
		/* state for an unknown source only for an INIT, and bounded */
		if (t->closing || b[USRSCTP_HDR_LEN] != USRSCTP_CHUNK_INIT) {
			if (ctp_tr_usrsctp_pow2(++t->drop_ootb))
				log_info("%s: packet (chunk %u) from unknown %s: dropped (%llu so far)",
				    t->name, b[USRSCTP_HDR_LEN],
				    ctp_tr_usrsctp_sa_fmt((struct sockaddr *)&from, a, sizeof a),
				    (unsigned long long)t->drop_ootb);
			return;
		}
		if (t->neps >= t->cfg.max_peers) {
			if (ctp_tr_usrsctp_pow2(++t->drop_full))
				log_warn("%s: peer table full (%u): INIT from %s dropped (%llu so far)",
				    t->name, t->cfg.max_peers,
				    ctp_tr_usrsctp_sa_fmt((struct sockaddr *)&from, a, sizeof a),
				    (unsigned long long)t->drop_full);
			return;
		}
		if ((ep = ctp_tr_usrsctp_ep_new(t, (struct sockaddr *)&from)) == NULL) {
			log_err("%s: out of memory: INIT dropped", t->name);
			return;
		}
		log_info("%s: new source %s (%u of %u)", t->name, ep->name, t->neps,
		    t->cfg.max_peers);
	}
	ctp_tr_usrsctp_stack.in_input++;
	usrsctp_conninput(ep, pkt, len, 0);
	ctp_tr_usrsctp_stack.in_input--;
}

/* ---- the stack -------------------------------------------------------- */

/* Forget sources that have had no association for idle_peer_ms. */
static void
ctp_tr_usrsctp_sweep(uint64_t now)
{
	for (struct ctp_tr *t = ctp_tr_usrsctp_stack.trs; t; t = t->next) {
		if (t->closing)
			continue;
		for (unsigned h = 0; h < USRSCTP_HASH; h++) {
			struct ctp_tr_usrsctp_ep *ep = t->eps[h], *next;

			for (; ep; ep = next) {
				struct sockaddr_conn sc;

				next = ep->tnext;
				if (ep->peer || now - ep->idle_since < t->cfg.idle_peer_ms)
					continue;
				/* one usrsctp is still setting up keeps it */
				memset(&sc, 0, sizeof sc);
				sc.sconn_family = AF_CONN;
				sc.sconn_port = htons(t->cfg.sctp_port);
				sc.sconn_addr = ep;
				if (usrsctp_getassocid(t->sock->so, (struct sockaddr *)&sc) != 0)
					continue;
				log_info("%s: forgetting %s: no association for %llu ms (%u of %u left)",
				    t->name, ep->name, (unsigned long long)(now - ep->idle_since),
				    t->neps - 1, t->cfg.max_peers);
				ctp_tr_usrsctp_ep_free(ep);
			}
		}
	}
}

static void
ctp_tr_usrsctp_tick_cb(uv_timer_t *h)
{
	uint64_t now = uv_now(h->loop), foreign;

	if (now > ctp_tr_usrsctp_stack.last_tick) {
		uint64_t dt = now - ctp_tr_usrsctp_stack.last_tick;

		ctp_tr_usrsctp_stack.last_tick = now;
		usrsctp_handle_timers(dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt);
	}
	foreign = __atomic_load_n(&ctp_tr_usrsctp_stack.foreign, __ATOMIC_RELAXED);
	if (foreign != ctp_tr_usrsctp_stack.foreign_logged) {
		log_err("usrsctp sent %llu packet(s) from a thread other than the loop's:"
		    " dropped (%llu in all)", (unsigned long long)(foreign -
		    ctp_tr_usrsctp_stack.foreign_logged), (unsigned long long)foreign);
		ctp_tr_usrsctp_stack.foreign_logged = foreign;
	}
	/* a write event we missed must not leave a queue waiting for ever */
	for (struct ctp_tr_usrsctp_sock *s = ctp_tr_usrsctp_stack.socks; s; s = s->next)
		s->pending = 1;
	ctp_tr_usrsctp_run();
	if (now >= ctp_tr_usrsctp_stack.next_sweep) {
		ctp_tr_usrsctp_stack.next_sweep = now + USRSCTP_SWEEP_MS;
		ctp_tr_usrsctp_sweep(now);
	}
}

static void
ctp_tr_usrsctp_ticker_closed(uv_handle_t *h)
{
	struct ctp_tr_usrsctp_ticker *tk = h->data;
	struct ctp_tr *owner = tk->owner;

	if (--tk->open == 0)
		free(tk);
	if (owner)
		ctp_tr_usrsctp_closed(owner);
}

static void
ctp_tr_usrsctp_sysctl(const char *name, int rc)
{
	if (rc != 0)
		log_info("usrsctp sysctl %s refused", name);
}

/* The first open starts the stack: one per process (transport-feasibility 2.1). */
static int
ctp_tr_usrsctp_stack_ref(struct ctp_tr *t, struct ctp_err *err)
{
	const struct ctp_tr_rto *r = &t->rto;

	if (ctp_tr_usrsctp_stack.refs > 0 && ctp_tr_usrsctp_stack.loop != t->loop)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "%s: usrsctp is one stack per process,"
		    " driven by one loop; this transport names another", t->name);
	if (!ctp_tr_usrsctp_stack.inited) {
		usrsctp_init_nothreads(0, ctp_tr_usrsctp_output, NULL);
		ctp_tr_usrsctp_stack.inited = 1;
		/* init resets every sysctl: set ours each time.  ASCONF off:
		 * AF_CONN is single-homed, and the iterator thread would do its
		 * work off the loop thread. */
		ctp_tr_usrsctp_sysctl("asconf_enable", usrsctp_sysctl_set_sctp_asconf_enable(0));
		ctp_tr_usrsctp_sysctl("auto_asconf", usrsctp_sysctl_set_sctp_auto_asconf(0));
		/* blackhole stays 0: usrsctp only sees what our own UDP socket
		 * hands it, an ABORT for a stray packet is no larger than the
		 * packet, and it lets a restarted peer learn of our state at
		 * once (the raw-socket reason for 2 does not apply to AF_CONN) */
		ctp_tr_usrsctp_sysctl("blackhole", usrsctp_sysctl_set_sctp_blackhole(0));
		ctp_tr_usrsctp_sysctl("pr_enable", usrsctp_sysctl_set_sctp_pr_enable(1));
		/* defaults for sockets made from now on; each socket and
		 * association gets its transport's values explicitly too */
		ctp_tr_usrsctp_sysctl("rto_max",
		    usrsctp_sysctl_set_sctp_rto_max_default(r->rto_max_ms));
		ctp_tr_usrsctp_sysctl("rto_min",
		    usrsctp_sysctl_set_sctp_rto_min_default(r->rto_min_ms));
		ctp_tr_usrsctp_sysctl("rto_initial",
		    usrsctp_sysctl_set_sctp_rto_initial_default(r->rto_initial_ms));
		ctp_tr_usrsctp_sysctl("init_rto_max",
		    usrsctp_sysctl_set_sctp_init_rto_max_default(r->max_init_timeo_ms));
		ctp_tr_usrsctp_sysctl("assoc_rtx_max",
		    usrsctp_sysctl_set_sctp_assoc_rtx_max_default(r->assoc_max_rxt));
		ctp_tr_usrsctp_sysctl("path_rtx_max",
		    usrsctp_sysctl_set_sctp_path_rtx_max_default(r->assoc_max_rxt));
		ctp_tr_usrsctp_sysctl("init_rtx_max",
		    usrsctp_sysctl_set_sctp_init_rtx_max_default(r->max_init_rxt));
		ctp_tr_usrsctp_sysctl("heartbeat_interval",
		    usrsctp_sysctl_set_sctp_heartbeat_interval_default(r->hb_interval_ms));
		ctp_tr_usrsctp_sysctl("delayed_sack_time",
		    usrsctp_sysctl_set_sctp_delayed_sack_time_default(r->sack_delay_ms));
		ctp_tr_usrsctp_sysctl("sack_freq",
		    usrsctp_sysctl_set_sctp_sack_freq_default(r->sack_freq));
		log_info("usrsctp started (no threads but its iterator; ASCONF off)");
	}
	if (ctp_tr_usrsctp_stack.refs == 0) {
		struct ctp_tr_usrsctp_ticker *tk = calloc(1, sizeof *tk);

		if (!tk)
			return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "%s: out of memory", t->name);
		ctp_tr_usrsctp_stack.loop = t->loop;
		ctp_tr_usrsctp_stack.thread = pthread_self();
		uv_timer_init(t->loop, &tk->tick);
		uv_idle_init(t->loop, &tk->kick);
		tk->tick.data = tk->kick.data = tk;
		tk->open = 2;
		ctp_tr_usrsctp_stack.ticker = tk;
		ctp_tr_usrsctp_stack.last_tick = uv_now(t->loop);
		ctp_tr_usrsctp_stack.next_sweep = uv_now(t->loop) + USRSCTP_SWEEP_MS;
		uv_timer_start(&tk->tick, ctp_tr_usrsctp_tick_cb, USRSCTP_TICK_MS, USRSCTP_TICK_MS);
	}
	ctp_tr_usrsctp_stack.refs++;
	return 0;
}

/*
 * The last close stops the stack.  Every socket is closed and every ep
 * deregistered by now (the order 0.9.5 needs); usrsctp_finish() refuses
 * while endpoints linger (an aborted association's timers), so the clock is
 * advanced until it agrees.  owner's close waits for the ticker's handles.
 */
static void
ctp_tr_usrsctp_stack_unref(struct ctp_tr *owner)
{
	struct ctp_tr_usrsctp_ticker *tk = ctp_tr_usrsctp_stack.ticker;
	int i;

	if (--ctp_tr_usrsctp_stack.refs > 0)
		return;
	for (i = 0; i < USRSCTP_FINISH_ROUNDS && usrsctp_finish() != 0; i++)
		usrsctp_handle_timers(USRSCTP_FINISH_STEP);
	if (i == USRSCTP_FINISH_ROUNDS)
		/* keep it: the next open reuses the running stack */
		log_err("usrsctp_finish: the stack is still busy after %d s: left running",
		    USRSCTP_FINISH_ROUNDS * USRSCTP_FINISH_STEP / 1000);
	else {
		ctp_tr_usrsctp_stack.inited = 0;
		log_info("usrsctp stopped");
	}
	ctp_tr_usrsctp_stack.ticker = NULL;
	ctp_tr_usrsctp_stack.loop = NULL;
	tk->owner = owner;
	uv_close((uv_handle_t *)&tk->tick, ctp_tr_usrsctp_ticker_closed);
	uv_close((uv_handle_t *)&tk->kick, ctp_tr_usrsctp_ticker_closed);
	if (owner)
		owner->open_handles += 2;
}

static int
ctp_tr_usrsctp_sock_opts(struct ctp_tr_usrsctp_sock *s, struct ctp_err *err)
{
	static const uint16_t events[] = {
		SCTP_ASSOC_CHANGE, SCTP_SHUTDOWN_EVENT, SCTP_SEND_FAILED_EVENT,
		SCTP_REMOTE_ERROR, SCTP_PEER_ADDR_CHANGE,
	};
	struct sctp_assoc_value av;
	int on = 1;

	if (usrsctp_set_non_blocking(s->so, 1) < 0)
		return ctp_err_set(err, CTP_E_IO, 0, 0, "usrsctp_set_non_blocking: %s",
		    strerror(errno));
	for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
		struct sctp_event ev;

		memset(&ev, 0, sizeof ev);
		ev.se_assoc_id = SCTP_FUTURE_ASSOC;
		ev.se_type = events[i];
		ev.se_on = 1;
		if (usrsctp_setsockopt(s->so, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof ev) < 0)
			return ctp_err_set(err, CTP_E_IO, 0, 0, "SCTP_EVENT %u: %s", events[i],
			    strerror(errno));
	}
	if (usrsctp_setsockopt(s->so, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof on) < 0 ||
	    usrsctp_setsockopt(s->so, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof on) < 0)
		return ctp_err_set(err, CTP_E_IO, 0, 0, "SCTP_RECVRCVINFO/NODELAY: %s",
		    strerror(errno));
	/* pieces of big messages from different peers may interleave (level
	 * 1): reassembly is per association */
	if (usrsctp_setsockopt(s->so, IPPROTO_SCTP, SCTP_FRAGMENT_INTERLEAVE, &on, sizeof on) < 0)
		log_info("port %u: SCTP_FRAGMENT_INTERLEAVE: %s", s->port, strerror(errno));
	/* offer PR-SCTP so pr_sctp says what the pair could do; never used */
	memset(&av, 0, sizeof av);
	av.assoc_id = SCTP_FUTURE_ASSOC;
	av.assoc_value = 1;
	if (usrsctp_setsockopt(s->so, IPPROTO_SCTP, SCTP_PR_SUPPORTED, &av, sizeof av) < 0)
		log_info("port %u: PR-SCTP not offered: %s", s->port, strerror(errno));
	return 0;
}

/* The socket of t's SCTP port: shared by the transports on that port (see
 * the top of this file for why). */
static int
ctp_tr_usrsctp_sock_ref(struct ctp_tr *t, struct ctp_err *err)
{
	struct ctp_tr_usrsctp_sock *s;
	struct sockaddr_conn sc;
	int rc;

	for (s = ctp_tr_usrsctp_stack.socks; s; s = s->next)
		if (s->port == t->cfg.sctp_port) {
			s->refs++;
			t->sock = s;
			return 0;
		}
	if ((s = calloc(1, sizeof *s)) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "%s: out of memory", t->name);
	s->port = t->cfg.sctp_port;
	s->so = usrsctp_socket(AF_CONN, SOCK_SEQPACKET, IPPROTO_SCTP, NULL, NULL, 0, NULL);
	if (!s->so) {
		rc = ctp_err_set(err, CTP_E_IO, 0, 0, "%s: usrsctp_socket: %s", t->name,
		    strerror(errno));
		free(s);
		return rc;
	}
	if ((rc = ctp_tr_usrsctp_sock_opts(s, err)) < 0)
		goto fail;
	memset(&sc, 0, sizeof sc);
	sc.sconn_family = AF_CONN;
	sc.sconn_port = htons(s->port);
	sc.sconn_addr = NULL;     /* the wildcard: every registered ep */
	if (usrsctp_bind(s->so, (struct sockaddr *)&sc, sizeof sc) < 0) {
		rc = ctp_err_set(err, CTP_E_IO, 0, 0, "%s: bind SCTP port %u: %s", t->name, s->port,
		    strerror(errno));
		goto fail;
	}
	if (usrsctp_listen(s->so, 1) < 0) {
		rc = ctp_err_set(err, CTP_E_IO, 0, 0, "%s: listen: %s", t->name, strerror(errno));
		goto fail;
	}
	usrsctp_set_upcall(s->so, ctp_tr_usrsctp_upcall, s);
	s->refs = 1;
	s->next = ctp_tr_usrsctp_stack.socks;
	ctp_tr_usrsctp_stack.socks = s;
	t->sock = s;
	return 0;
fail:
	usrsctp_close(s->so);
	free(s);
	return rc;
}

static void
ctp_tr_usrsctp_sock_unref(struct ctp_tr_usrsctp_sock *s)
{
	struct ctp_tr_usrsctp_sock **pp;
	struct linger l = { 1, 0 };

	if (--s->refs > 0)
		return;
	for (pp = &ctp_tr_usrsctp_stack.socks; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	/* no upcall into freed memory; linger 0: anything left is aborted
	 * now rather than shut down behind our back */
	usrsctp_set_upcall(s->so, NULL, NULL);
	usrsctp_setsockopt(s->so, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	usrsctp_close(s->so);
	free(s);
}

/* ---- the transport ------------------------------------------------------ */

uv_loop_t *
ctp_tr_usrsctp_loop(const struct ctp_tr *t)
{
	return t->loop;
}

const char *
ctp_tr_usrsctp_name(const struct ctp_tr *t)
{
	return t->name;
}

const struct sockaddr *
ctp_tr_usrsctp_local(const struct ctp_tr *t)
{
	return (const struct sockaddr *)&t->local;
}

void **
ctp_tr_usrsctp_wire_data(struct ctp_tr *t)
{
	return &t->wire_data;
}

void
ctp_tr_usrsctp_closed(struct ctp_tr *t)
{
	void (*done)(void *) = t->done;
	void *arg = t->done_arg;

	if (--t->open_handles > 0)
		return;
	free(t);
	if (done)
		done(arg);
}

static void
ctp_tr_usrsctp_close_timer_closed(uv_handle_t *h)
{
	ctp_tr_usrsctp_closed(h->data);
}

int
ctp_tr_usrsctp_open_wire(uv_loop_t *loop, const struct ctp_tr_cfg *cfg,
    const struct ctp_tr_cb *cb, void *ud, const struct ctp_tr_usrsctp_wire *w,
    struct ctp_tr **out, struct ctp_err *err)
{
	struct ctp_tr *t;
	char a[INET6_ADDRSTRLEN + 8];
	uint16_t port;
	int rc;

	*out = NULL;
	if (!loop || !cfg || !cb || !cb->up || !cb->down || !cb->msg || !w)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "usrsctp transport: missing argument");
	if (cfg->bind.ss_family != AF_INET && cfg->bind.ss_family != AF_INET6)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "%s: bind is not an IPv4 or IPv6 address",
		    cfg->name ? cfg->name : w->name);
	if ((t = calloc(1, sizeof *t)) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "usrsctp transport: out of memory");
	t->wire = w;
	t->loop = loop;
	t->cfg = *cfg;
	t->cfg.name = NULL;   /* not ours to keep: copied into name */
	snprintf(t->name, sizeof t->name, "%s", cfg->name ? cfg->name : w->name);
	if (!t->cfg.sctp_port)
		t->cfg.sctp_port = USRSCTP_SCTP_PORT;
	if (!t->cfg.udp_port)
		t->cfg.udp_port = USRSCTP_UDP_PORT;
	if (!t->cfg.max_peers)
		t->cfg.max_peers = USRSCTP_PEERS_DEFAULT;
	if (!t->cfg.queue_max)
		t->cfg.queue_max = USRSCTP_QUEUE_DEFAULT;
	if (!t->cfg.idle_peer_ms)
		t->cfg.idle_peer_ms = USRSCTP_IDLE_DEFAULT;
	t->cb = *cb;
	t->ud = ud;
	ctp_tr_rto_derive(cfg->max_transfer_ms, &t->rto);
	/* the wire's address: bind's port when it names one, else the UDP port */
	memcpy(&t->local, &cfg->bind, sizeof t->local);
	port = htons(t->cfg.udp_port);
	if (t->local.ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&t->local;

		if (!s4->sin_port)
			s4->sin_port = port;
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&t->local;

		if (!s6->sin6_port)
			s6->sin6_port = port;
	}
	if ((rc = ctp_tr_usrsctp_stack_ref(t, err)) < 0) {
		free(t);
		return rc;
	}
	if ((rc = ctp_tr_usrsctp_sock_ref(t, err)) < 0) {
		ctp_tr_usrsctp_stack_unref(NULL);
		free(t);
		return rc;
	}
	if ((rc = w->open(t, err)) < 0) {
		ctp_tr_usrsctp_sock_unref(t->sock);
		ctp_tr_usrsctp_stack_unref(NULL);
		free(t);
		return rc;
	}
	uv_timer_init(loop, &t->close_timer);
	t->close_timer.data = t;
	t->open_handles = 1;
	t->next = ctp_tr_usrsctp_stack.trs;
	ctp_tr_usrsctp_stack.trs = t;
	log_info("%s: usrsctp over %s %s, SCTP port %u, RTO %u/%u/%u ms (min/initial/max),"
	    " max.retrans %u (init %u), heartbeat %u ms, %u peers, %zu octets queue",
	    t->name, w->name, ctp_tr_usrsctp_sa_fmt((struct sockaddr *)&t->local, a, sizeof a),
	    t->cfg.sctp_port, t->rto.rto_min_ms, t->rto.rto_initial_ms, t->rto.rto_max_ms,
	    t->rto.assoc_max_rxt, t->rto.max_init_rxt, t->rto.hb_interval_ms, t->cfg.max_peers,
	    t->cfg.queue_max);
	*out = t;
	return 0;
}

int
ctp_tr_usrsctp_connect(struct ctp_tr *t, const struct sockaddr *addr, struct ctp_tr_peer **out,
    struct ctp_err *err)
{
	struct sockaddr_storage ss;
	struct sockaddr_conn sc;
	struct ctp_tr_usrsctp_ep *ep;
	struct ctp_tr_usrsctp_peer *p;
	sctp_assoc_t id;
	char a[INET6_ADDRSTRLEN + 8];
	int fresh = 0;

	*out = NULL;
	if (t->closing)
		return ctp_err_set(err, CTP_E_STATE, 0, 0, "%s: closing", t->name);
	if (ctp_tr_usrsctp_sa_len(addr) == 0)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "%s: connect: not an IP address",
		    t->name);
	ctp_tr_usrsctp_sa_norm(addr, &ss);
	if (((struct sockaddr_in *)&ss)->sin_port == 0)   /* same offset in sockaddr_in6 */
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "%s: connect %s: no port", t->name,
		    ctp_tr_usrsctp_sa_fmt((struct sockaddr *)&ss, a, sizeof a));
	if (ss.ss_family == AF_INET6 && t->local.ss_family == AF_INET)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "%s: connect %s: bound to IPv4", t->name,
		    ctp_tr_usrsctp_sa_fmt((struct sockaddr *)&ss, a, sizeof a));
	if ((ep = ctp_tr_usrsctp_ep_find(t, (struct sockaddr *)&ss)) != NULL && ep->peer) {
		if (ep->peer->closing || ep->peer->peer_shut)
			return ctp_err_set(err, CTP_E_STATE, 0, 0, "%s: connect %s: the association"
			    " is shutting down", t->name, ep->name);
		*out = &ep->peer->base;
		return 0;
	}
	if (!ep) {
		if (t->neps >= t->cfg.max_peers)
			return ctp_err_set(err, CTP_E_LIMIT, 0, 0, "%s: connect %s: %u peers already",
			    t->name, ctp_tr_usrsctp_sa_fmt((struct sockaddr *)&ss, a, sizeof a),
			    t->neps);
		if ((ep = ctp_tr_usrsctp_ep_new(t, (struct sockaddr *)&ss)) == NULL)
			return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "%s: out of memory", t->name);
		fresh = 1;
	}
	/* the association starts with the socket's defaults: make them ours */
	ctp_tr_usrsctp_apply(t, SCTP_FUTURE_ASSOC);
	memset(&sc, 0, sizeof sc);
	sc.sconn_family = AF_CONN;
	sc.sconn_port = htons(t->cfg.sctp_port);   /* the peer's: all nodes use one */
	sc.sconn_addr = ep;
	if (usrsctp_connect(t->sock->so, (struct sockaddr *)&sc, sizeof sc) < 0 &&
	    errno != EINPROGRESS) {
		int e = errno;

		/* one the peer is opening to us right now (its COMM_UP is not
		 * read yet): take it, its COMM_UP will find this peer */
		if ((e != EALREADY && e != EISCONN) ||
		    usrsctp_getassocid(t->sock->so, (struct sockaddr *)&sc) == 0) {
			if (fresh)
				ctp_tr_usrsctp_ep_free(ep);
			return ctp_err_set(err, CTP_E_IO, 0, 0, "%s: connect %s: %s", t->name,
			    ctp_tr_usrsctp_sa_fmt((struct sockaddr *)&ss, a, sizeof a),
			    strerror(e));
		}
	}
	t->sock->pending = 1;
	ctp_tr_usrsctp_kick();
	if ((id = usrsctp_getassocid(t->sock->so, (struct sockaddr *)&sc)) == 0) {
		/* refused on the spot; nothing to track (the ep ages out) */
		return ctp_err_set(err, CTP_E_IO, 0, 0, "%s: connect %s: no association", t->name,
		    ep->name);
	}
	if ((p = ctp_tr_usrsctp_peer_new(ep, id, 1)) == NULL) {
		ctp_tr_usrsctp_abort_id(t->sock, id);
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "%s: out of memory", t->name);
	}
	p->told = 1;
	ctp_tr_usrsctp_peer_log(p, "closed", "connect");
	*out = &p->base;
	return 0;
}

int
ctp_tr_usrsctp_send(struct ctp_tr_peer *bp, uint16_t sid, uint32_t ppid, const void *buf,
    size_t len)
{
	struct ctp_tr_usrsctp_peer *p = (struct ctp_tr_usrsctp_peer *)bp;
	struct ctp_tr *t = bp->tr;
	struct ctp_tr_usrsctp_msg *m;
	int e;

	if (!bp->up || p->gone || p->closing || p->peer_shut || t->closing)
		return CTP_E_STATE;
	if (len == 0 || !buf || sid >= p->out_streams)
		return CTP_E_INVAL;
	if (len > USRSCTP_MSG_MAX)
		return CTP_E_LIMIT;
	if (!p->q_head) {
		e = ctp_tr_usrsctp_sendv(t->sock, p->id, sid, ppid, buf, len, 0);
		if (e == 0) {
			bp->msgs_out++;
			bp->bytes_out += len;
			return 0;
		}
		if (e == EPIPE || e == ENOTCONN || e == ECONNRESET || e == ENOENT ||
		    e == ESHUTDOWN)
			return CTP_E_STATE;   /* going away; down follows */
		if (e == EMSGSIZE)
			return CTP_E_LIMIT;
		if (e != EAGAIN && e != EWOULDBLOCK) {
			log_warn("%s %s: usrsctp_sendv: %s", t->name, p->ep->name, strerror(e));
			return CTP_E_IO;
		}
	}
	if (bp->queue_bytes + len > t->cfg.queue_max ||
	    (m = malloc(sizeof *m + len)) == NULL) {
		p->blocked = 1;
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
	return 0;
}

void
ctp_tr_usrsctp_close_peer(struct ctp_tr_peer *bp, int abort)
{
	struct ctp_tr_usrsctp_peer *p = (struct ctp_tr_usrsctp_peer *)bp;
	const char *old;

	if (p->gone || p->closing == USRSCTP_ABORT)
		return;
	/* an association still being set up has no graceful way out */
	if (abort || !bp->up) {
		ctp_tr_usrsctp_peer_abort(p, "ABORT sent");
		return;
	}
	if (p->closing == USRSCTP_EOF || p->peer_shut)
		return;
	old = ctp_tr_usrsctp_peer_state(p);
	p->closing = USRSCTP_EOF;
	/* what the owner handed us is still sent, then the SHUTDOWN */
	if (p->q_head)
		p->eof_pending = 1;
	else
		ctp_tr_usrsctp_send_eof(p);
	ctp_tr_usrsctp_peer_log(p, old, p->eof_pending ? "close, queue draining" : "SHUTDOWN sent");
	p->base.tr->sock->pending = 1;
	ctp_tr_usrsctp_kick();
}

/* Everything is down or past the bound: release what is left, in the order
 * usrsctp needs. */
static void
ctp_tr_usrsctp_finish(struct ctp_tr *t)
{
	struct ctp_tr **pp;
	unsigned n = 0;

	/* 3: no more data for the owner, and no second finish from a down */
	t->closing = 3;
	/* downs owed (deferred ones, notifications read now) go first */
	t->sock->pending = 1;
	ctp_tr_usrsctp_run();
	for (unsigned h = 0; h < USRSCTP_HASH; h++)
		for (struct ctp_tr_usrsctp_ep *ep = t->eps[h]; ep; ep = ep->tnext)
			if (ep->peer)
				n++;
	if (n)
		log_warn("%s: %u association(s) did not complete SHUTDOWN within %u ms: aborting",
		    t->name, n, t->rto.shutdown_ms);
	for (unsigned h = 0; h < USRSCTP_HASH; h++)
		for (struct ctp_tr_usrsctp_ep *ep = t->eps[h]; ep; ep = ep->tnext)
			if (ep->peer) {
				struct ctp_tr_usrsctp_peer *p = ep->peer;

				p->closing = USRSCTP_ABORT;
				ctp_tr_usrsctp_sendv(t->sock, p->id, 0, 0, NULL, 0, SCTP_ABORT);
				ctp_tr_usrsctp_peer_down(p, CTP_TR_DOWN_LOCAL, "transport closed");
			}
	log_info("%s: closed; dropped: %llu short, %llu wrong port, %llu unknown source,"
	    " %llu table full, %llu too long, %llu after abort; %llu failed sends,"
	    " %llu queued messages never sent", t->name, (unsigned long long)t->drop_short,
	    (unsigned long long)t->drop_port, (unsigned long long)t->drop_ootb,
	    (unsigned long long)t->drop_full, (unsigned long long)t->drop_big,
	    (unsigned long long)t->drop_orphan, (unsigned long long)t->send_failed,
	    (unsigned long long)t->queue_dropped);
	for (pp = &ctp_tr_usrsctp_stack.trs; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	t->wire_closed = 1;
	t->open_handles += t->wire->close(t);
	ctp_tr_usrsctp_sock_unref(t->sock);
	for (unsigned h = 0; h < USRSCTP_HASH; h++)
		while (t->eps[h])
			ctp_tr_usrsctp_ep_free(t->eps[h]);
	ctp_tr_usrsctp_stack_unref(t);
	uv_close((uv_handle_t *)&t->close_timer, ctp_tr_usrsctp_close_timer_closed);
}

static void
ctp_tr_usrsctp_close_cb(uv_timer_t *h)
{
	struct ctp_tr *t = h->data;

	if (t->closing == 1) {
		t->closing = 2;
		log_info("%s: closing, %u association(s) to shut down", t->name, t->npeers);
		for (unsigned k = 0; k < USRSCTP_HASH; k++)
			for (struct ctp_tr_usrsctp_ep *ep = t->eps[k]; ep; ep = ep->tnext) {
				struct ctp_tr_usrsctp_peer *p = ep->peer;

				if (!p || p->closing == USRSCTP_ABORT)
					continue;
				if (!p->base.up)
					ctp_tr_usrsctp_peer_abort(p, "transport closing");
				else if (p->closing != USRSCTP_EOF && !p->peer_shut) {
					p->closing = USRSCTP_EOF;
					if (p->q_head)
						p->eof_pending = 1;
					else
						ctp_tr_usrsctp_send_eof(p);
				}
			}
		t->sock->pending = 1;
		ctp_tr_usrsctp_kick();
		/* the last down restarts this timer at 0; else the bound */
		uv_timer_start(&t->close_timer, ctp_tr_usrsctp_close_cb,
		    t->npeers ? t->rto.shutdown_ms : 0, 0);
		return;
	}
	if (t->closing == 2)
		ctp_tr_usrsctp_finish(t);
}

void
ctp_tr_usrsctp_close(struct ctp_tr *t, void (*done)(void *arg), void *arg)
{
	if (t->closing) {
		log_warn("%s: closed twice", t->name);
		return;
	}
	t->closing = 1;
	t->done = done;
	t->done_arg = arg;
	/* everything happens from the loop, nothing inside this call */
	uv_timer_start(&t->close_timer, ctp_tr_usrsctp_close_cb, 0, 0);
}

/* ---- the UDP wire (RFC 6951) ------------------------------------------- */

struct ctp_tr_usrsctp_faults;

struct ctp_tr_usrsctp_udp {
	uv_udp_t       udp;
	struct ctp_tr *t;          /* NULL when no transport waits for the close */
	size_t         backlog;    /* octets in uv_udp_send requests */
	uint64_t       drops, errors;
	struct ctp_tr_usrsctp_faults *faults;   /* test mode only (below) */
	unsigned       handles;    /* open libuv handles; u goes with the last */
	uint8_t        rxbuf[USRSCTP_UDP_RXBUF];
};

struct ctp_tr_usrsctp_udp_req {
	uv_udp_send_t              req;
	struct ctp_tr_usrsctp_udp *u;
	size_t                     len;
	uint8_t                    data[];
};

static void
ctp_tr_usrsctp_udp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct ctp_tr_usrsctp_udp *u = h->data;

	(void)hint;
	*buf = uv_buf_init((char *)u->rxbuf, sizeof u->rxbuf);
}

static void
ctp_tr_usrsctp_udp_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *addr,
    unsigned flags)
{
	struct ctp_tr_usrsctp_udp *u = h->data;

	if (n < 0) {
		if (ctp_tr_usrsctp_pow2(++u->errors))
			log_info("%s: UDP receive: %s (%llu so far)", ctp_tr_usrsctp_name(u->t),
			    uv_strerror((int)n), (unsigned long long)u->errors);
		return;
	}
	if (n == 0 || !addr)
		return;
	if (flags & UV_UDP_PARTIAL) {
		if (ctp_tr_usrsctp_pow2(++u->drops))
			log_info("%s: truncated datagram dropped (%llu so far)",
			    ctp_tr_usrsctp_name(u->t), (unsigned long long)u->drops);
		return;
	}
	ctp_tr_usrsctp_input(u->t, addr, buf->base, (size_t)n);
}

static void
ctp_tr_usrsctp_udp_sent(uv_udp_send_t *req, int status)
{
	struct ctp_tr_usrsctp_udp_req *r = (struct ctp_tr_usrsctp_udp_req *)req;

	r->u->backlog -= r->len;
	if (status < 0 && status != UV_ECANCELED)
		r->u->errors++;
	free(r);
}

/* Into the kernel, or into libuv's queue when the kernel's buffer is
 * full; never back into usrsctp. */
static void
ctp_tr_usrsctp_udp_send(struct ctp_tr *t, struct ctp_tr_usrsctp_udp *u,
    const struct sockaddr *to, const void *pkt, size_t len)
{
	struct ctp_tr_usrsctp_udp_req *r;
	struct sockaddr_in6 mapped;
	uv_buf_t b = uv_buf_init((char *)(uintptr_t)pkt, (unsigned)len);
	int rc;

	/* eps hold IPv4 peers as IPv4; a dual-stack socket wants them mapped */
	if (to->sa_family == AF_INET && t->local.ss_family == AF_INET6) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)to;

		memset(&mapped, 0, sizeof mapped);
		mapped.sin6_family = AF_INET6;
		mapped.sin6_port = s4->sin_port;
		mapped.sin6_addr.s6_addr[10] = mapped.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&mapped.sin6_addr.s6_addr[12], &s4->sin_addr, 4);
		to = (const struct sockaddr *)&mapped;
	}
	rc = uv_udp_try_send(&u->udp, &b, 1, to);

	if (rc >= 0)
		return;
	if (rc == UV_EAGAIN && u->backlog + len <= USRSCTP_UDP_BACKLOG &&
	    (r = malloc(sizeof *r + len)) != NULL) {
		r->u = u;
		r->len = len;
		memcpy(r->data, pkt, len);
		b = uv_buf_init((char *)r->data, (unsigned)len);
		if (uv_udp_send(&r->req, &u->udp, &b, 1, to, ctp_tr_usrsctp_udp_sent) == 0) {
			u->backlog += len;
			return;
		}
		free(r);
	}
	/* lost; SCTP retransmits */
	if (ctp_tr_usrsctp_pow2(++u->drops))
		log_info("%s: UDP send: %s: packet dropped (%llu so far)", t->name,
		    uv_strerror(rc), (unsigned long long)u->drops);
}

/* ---- test-only packet faults (CTPD_TEST_FAULTS) --------------------------
 *
 * For the fault-injection tests (tests/faults/run.sh) only: this host has
 * neither netem nor netfilter, so the UDP wire itself misbehaves when the
 * environment variable CTPD_TEST_FAULTS is set, and only then (unset, the
 * wire is exactly the one above: no timer, no state, one branch).  Its
 * value is a list of rules separated by ';' (or newlines):
 *
 *   peer=ADDR|*[,from=ADDR|*][,drop=PCT][,dup=PCT][,delay=MS]
 *       [,reorder=PCT][,seed=N]
 *
 * or "@PATH": the same rules read from PATH (empty: none; '#' starts a
 * comment), read again when the file changes (a timer checks it every
 * USRSCTP_FAULT_POLL_MS), so that a test moves a fault from step to step
 * without restarting the daemon; each change logs what the previous rules
 * did (datagrams matched, dropped, duplicated, delayed, reordered).  One file can serve every node of a test:
 * "from" names the sending transport's bound address.  The first rule
 * whose peer (the datagram's destination address; ports ignored) and from
 * match applies to a datagram: dropped with probability drop %; else sent
 * twice with probability dup %; each copy then held for delay ms, or, with
 * probability reorder %, held until the next datagram to the same address
 * has passed it (at most USRSCTP_FAULT_REORDER_MS).  At most
 * USRSCTP_FAULT_HELD datagrams are held (more go out at once); what is
 * held when the wire closes is lost.  The pseudo-random sequence is a
 * splitmix64 per rule, from its seed: a run is repeatable up to timing.
 * The parse is strict: an unknown key, a value out of range, a rule
 * without peer make the transport (so ctpd) refuse to start; a file that
 * later fails to parse or goes away leaves no rule at all (logged as an
 * error, once).  The
 * start-up and every change log a warning that says TEST MODE. */

#define USRSCTP_FAULT_RULES      32u
#define USRSCTP_FAULT_HELD       64u
#define USRSCTP_FAULT_REORDER_MS 200
#define USRSCTP_FAULT_POLL_MS    20
#define USRSCTP_FAULT_SPEC_MAX   4096u
#define USRSCTP_FAULT_DELAY_MAX  60000u

struct ctp_tr_usrsctp_fault_rule {
	struct sockaddr_storage peer, from;   /* family AF_UNSPEC: any */
	unsigned                drop, dup, reorder, delay;
	uint64_t                seed, rng;
};

struct ctp_tr_usrsctp_fault_held {
	struct ctp_tr_usrsctp_fault_held *next;
	uint64_t                          due;
	int                               reorder;
	struct sockaddr_storage           to;
	size_t                            len;
	uint8_t                           data[];
};

struct ctp_tr_usrsctp_faults {
	uv_timer_t                        timer;   /* held datagrams; data: the wire */
	uv_timer_t                        poll;    /* path's changes (path only) */
	char                             *path;    /* "@PATH", else NULL */
	struct stat                       st;      /* of path when last read */
	int                               st_ok, bad;
	struct ctp_tr_usrsctp_fault_rule  rules[USRSCTP_FAULT_RULES];
	size_t                            nrules;
	struct ctp_tr_usrsctp_fault_held *held;    /* in the order held */
	size_t                            nheld;
	uint64_t                          seen, dropped, duplicated, delayed, reordered,
	                                  overflow;
};

static uint64_t
ctp_tr_usrsctp_fault_rand(struct ctp_tr_usrsctp_fault_rule *r)
{
	uint64_t z = (r->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int
ctp_tr_usrsctp_fault_hit(struct ctp_tr_usrsctp_fault_rule *r, unsigned pct)
{
	return pct && ctp_tr_usrsctp_fault_rand(r) % 100 < pct;
}

static int
ctp_tr_usrsctp_fault_num(const char *v, unsigned long long max, unsigned long long *out)
{
	char *end;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return errno || *end || *out > max ? -1 : 0;
}

static int
ctp_tr_usrsctp_fault_addr(const char *v, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof *out);
	if (strcmp(v, "*") == 0)
		return 0;
	if (inet_pton(AF_INET, v, &((struct sockaddr_in *)out)->sin_addr) == 1) {
		out->ss_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, v, &((struct sockaddr_in6 *)out)->sin6_addr) == 1) {
		out->ss_family = AF_INET6;
		return 0;
	}
	return -1;
}

/* One rule "k=v,k=v" (trimmed, non-empty); 0 or -1 with why[]. */
static int
ctp_tr_usrsctp_fault_rule_parse(char *s, struct ctp_tr_usrsctp_fault_rule *r, char *why,
    size_t whylen)
{
	char *save = NULL, *kv;
	int peer = 0;
	unsigned long long n;

	memset(r, 0, sizeof *r);
	r->seed = 1;
	for (kv = strtok_r(s, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');
		unsigned *pct = NULL;

		while (*kv == ' ' || *kv == '\t')
			kv++;
		if (!v || v == kv) {
			snprintf(why, whylen, "\"%s\" is not KEY=VALUE", kv);
			return -1;
		}
		*v++ = '\0';
		if (strcmp(kv, "peer") == 0 || strcmp(kv, "from") == 0) {
			if (ctp_tr_usrsctp_fault_addr(v, kv[0] == 'p' ? &r->peer : &r->from) < 0) {
				snprintf(why, whylen, "%s=%s: not an address nor *", kv, v);
				return -1;
			}
			peer |= kv[0] == 'p';
			continue;
		}
		if (strcmp(kv, "drop") == 0)
			pct = &r->drop;
		else if (strcmp(kv, "dup") == 0)
			pct = &r->dup;
		else if (strcmp(kv, "reorder") == 0)
			pct = &r->reorder;
		if (pct) {
			if (ctp_tr_usrsctp_fault_num(v, 100, &n) < 0) {
				snprintf(why, whylen, "%s=%s: not a percentage 0...100", kv, v);
				return -1;
			}
			*pct = (unsigned)n;
		} else if (strcmp(kv, "delay") == 0) {
			if (ctp_tr_usrsctp_fault_num(v, USRSCTP_FAULT_DELAY_MAX, &n) < 0) {
				snprintf(why, whylen, "delay=%s: not milliseconds 0...%u", v,
				    USRSCTP_FAULT_DELAY_MAX);
				return -1;
			}
			r->delay = (unsigned)n;
		} else if (strcmp(kv, "seed") == 0) {
			if (ctp_tr_usrsctp_fault_num(v, UINT64_MAX, &n) < 0) {
				snprintf(why, whylen, "seed=%s: not an unsigned integer", v);
				return -1;
			}
			r->seed = n;
		} else {
			snprintf(why, whylen, "unknown key \"%s\" (peer from drop dup delay reorder"
			    " seed)", kv);
			return -1;
		}
	}
	if (!peer) {
		snprintf(why, whylen, "a rule without peer=");
		return -1;
	}
	r->rng = r->seed;
	return 0;
}

/* The whole list into rules[] / *n; 0 or -1 with why[] (rules untouched). */
static int
ctp_tr_usrsctp_fault_parse(const char *spec, struct ctp_tr_usrsctp_fault_rule *rules,
    size_t *n, char *why, size_t whylen)
{
	struct ctp_tr_usrsctp_fault_rule tmp[USRSCTP_FAULT_RULES];
	char *copy, *save = NULL, *one;
	size_t k = 0;
	int rc = 0;

	if (strlen(spec) > USRSCTP_FAULT_SPEC_MAX) {
		snprintf(why, whylen, "longer than %u characters", USRSCTP_FAULT_SPEC_MAX);
		return -1;
	}
	if ((copy = strdup(spec)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	for (one = strtok_r(copy, ";\n", &save); one && rc == 0; one = strtok_r(NULL, ";\n", &save)) {
		char *hash = strchr(one, '#'), *end;

		if (hash)
			*hash = '\0';
		while (*one == ' ' || *one == '\t' || *one == '\r')
			one++;
		end = one + strlen(one);
		while (end > one && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			*--end = '\0';
		if (!*one)
			continue;
		if (k == USRSCTP_FAULT_RULES) {
			snprintf(why, whylen, "more than %u rules", USRSCTP_FAULT_RULES);
			rc = -1;
		} else
			rc = ctp_tr_usrsctp_fault_rule_parse(one, &tmp[k++], why, whylen);
	}
	free(copy);
	if (rc == 0) {
		memcpy(rules, tmp, k * sizeof *tmp);
		*n = k;
	}
	return rc;
}

static const char *
ctp_tr_usrsctp_fault_afmt(const struct sockaddr_storage *a, char *buf, size_t len)
{
	const void *p = a->ss_family == AF_INET ?
	    (const void *)&((const struct sockaddr_in *)(const void *)a)->sin_addr :
	    (const void *)&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr;

	if (a->ss_family == AF_UNSPEC || !inet_ntop(a->ss_family, p, buf, (socklen_t)len))
		snprintf(buf, len, "*");
	return buf;
}

static void
ctp_tr_usrsctp_faults_banner(struct ctp_tr *t, const struct ctp_tr_usrsctp_faults *f,
    const char *why)
{
	char p[INET6_ADDRSTRLEN], fr[INET6_ADDRSTRLEN];

	log_warn("%s: TEST MODE (CTPD_TEST_FAULTS%s%s, %s): this daemon injects packet faults;"
	    " never in production: %zu rule%s", t->name, f->path ? " from " : "",
	    f->path ? f->path : "", why, f->nrules, f->nrules == 1 ? "" : "s");
	for (size_t i = 0; i < f->nrules; i++) {
		const struct ctp_tr_usrsctp_fault_rule *r = &f->rules[i];

		log_warn("%s: TEST MODE fault rule %zu: from %s to %s: drop %u%%, dup %u%%,"
		    " delay %u ms, reorder %u%%, seed %llu", t->name, i + 1,
		    ctp_tr_usrsctp_fault_afmt(&r->from, fr, sizeof fr),
		    ctp_tr_usrsctp_fault_afmt(&r->peer, p, sizeof p), r->drop, r->dup, r->delay,
		    r->reorder, (unsigned long long)r->seed);
	}
}

static void
ctp_tr_usrsctp_faults_report(struct ctp_tr *t, const struct ctp_tr_usrsctp_faults *f)
{
	log_warn("%s: TEST MODE faults under the previous rules: %llu datagrams matched, %llu dropped,"
	    " %llu duplicated, %llu delayed, %llu reordered, %llu over the hold cap",
	    t->name, (unsigned long long)f->seen, (unsigned long long)f->dropped,
	    (unsigned long long)f->duplicated, (unsigned long long)f->delayed,
	    (unsigned long long)f->reordered, (unsigned long long)f->overflow);
}

/* The file's rules, when it changed since the last read (or first). */
static int
ctp_tr_usrsctp_faults_read(struct ctp_tr *t, struct ctp_tr_usrsctp_faults *f, int first,
    char *why, size_t whylen)
{
	struct stat st;
	char buf[USRSCTP_FAULT_SPEC_MAX + 2];
	size_t len;
	FILE *fp;
	int rc;

	if (stat(f->path, &st) < 0) {
		snprintf(why, whylen, "%s: %s", f->path, strerror(errno));
		return -1;
	}
	if (!first && f->st_ok && st.st_ino == f->st.st_ino && st.st_size == f->st.st_size &&
	    st.st_mtim.tv_sec == f->st.st_mtim.tv_sec && st.st_mtim.tv_nsec == f->st.st_mtim.tv_nsec)
		return 0;
	f->st = st;
	f->st_ok = 1;
	if ((fp = fopen(f->path, "r")) == NULL) {
		snprintf(why, whylen, "%s: %s", f->path, strerror(errno));
		return -1;
	}
	len = fread(buf, 1, sizeof buf - 1, fp);
	fclose(fp);
	buf[len] = '\0';
	if (len > USRSCTP_FAULT_SPEC_MAX || strlen(buf) != len) {
		snprintf(why, whylen, "%s: longer than %u octets or binary", f->path,
		    USRSCTP_FAULT_SPEC_MAX);
		return -1;
	}
	if (!first) {
		ctp_tr_usrsctp_faults_report(t, f);
		f->seen = f->dropped = f->duplicated = f->delayed = f->reordered = f->overflow = 0;
	}
	rc = ctp_tr_usrsctp_fault_parse(buf, f->rules, &f->nrules, why, whylen);
	if (rc == 0 && !first)
		ctp_tr_usrsctp_faults_banner(t, f, "changed");
	return rc;
}

static void
ctp_tr_usrsctp_faults_free(struct ctp_tr_usrsctp_faults *f)
{
	struct ctp_tr_usrsctp_fault_held *h;

	if (!f)
		return;
	while ((h = f->held) != NULL) {
		f->held = h->next;
		free(h);
	}
	free(f->path);
	free(f);
}

static void
ctp_tr_usrsctp_faults_drop_held(struct ctp_tr_usrsctp_faults *f)
{
	struct ctp_tr_usrsctp_fault_held *h;

	while ((h = f->held) != NULL) {
		f->held = h->next;
		free(h);
	}
	f->nheld = 0;
}

/* *out: NULL when CTPD_TEST_FAULTS is unset. */
static int
ctp_tr_usrsctp_faults_new(struct ctp_tr *t, struct ctp_tr_usrsctp_faults **out,
    struct ctp_err *err)
{
	const char *env = getenv("CTPD_TEST_FAULTS");
	struct ctp_tr_usrsctp_faults *f;
	char why[256] = "";
	int rc;

	*out = NULL;
	if (!env)
		return 0;
	if ((f = calloc(1, sizeof *f)) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "%s: out of memory", t->name);
	if (env[0] == '@') {
		if (!env[1] || (f->path = strdup(env + 1)) == NULL) {
			free(f);
			return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "%s: CTPD_TEST_FAULTS=@: no file",
			    t->name);
		}
		rc = ctp_tr_usrsctp_faults_read(t, f, 1, why, sizeof why);
	} else
		rc = ctp_tr_usrsctp_fault_parse(env, f->rules, &f->nrules, why, sizeof why);
	if (rc < 0 || (!f->path && f->nrules == 0)) {
		ctp_tr_usrsctp_faults_free(f);
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
		    "%s: CTPD_TEST_FAULTS (a test-only setting): %s", t->name,
		    rc < 0 ? why : "no rule");
	}
	*out = f;
	return 0;
}

static int
ctp_tr_usrsctp_fault_match(const struct sockaddr_storage *want, const struct sockaddr *a)
{
	struct sockaddr_storage n;

	if (want->ss_family == AF_UNSPEC)
		return 1;
	ctp_tr_usrsctp_sa_norm(a, &n);
	if (n.ss_family != want->ss_family)
		return 0;
	if (n.ss_family == AF_INET)
		return ((struct sockaddr_in *)&n)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)want)->sin_addr.s_addr;
	return memcmp(&((struct sockaddr_in6 *)&n)->sin6_addr,
	    &((const struct sockaddr_in6 *)want)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

static void ctp_tr_usrsctp_faults_timer_cb(uv_timer_t *h);

static void
ctp_tr_usrsctp_faults_arm(struct ctp_tr_usrsctp_udp *u)
{
	struct ctp_tr_usrsctp_faults *f = u->faults;
	uint64_t now = uv_now(u->udp.loop), due = UINT64_MAX;

	for (struct ctp_tr_usrsctp_fault_held *h = f->held; h; h = h->next)
		if (h->due < due)
			due = h->due;
	if (due == UINT64_MAX)
		uv_timer_stop(&f->timer);
	else
		uv_timer_start(&f->timer, ctp_tr_usrsctp_faults_timer_cb, due > now ? due - now : 0, 0);
}

/* Send and free the held datagrams that are due (or, reorder_to given,
 * those held for reordering to that address). */
static void
ctp_tr_usrsctp_faults_release(struct ctp_tr_usrsctp_udp *u, const struct sockaddr *reorder_to)
{
	struct ctp_tr_usrsctp_faults *f = u->faults;
	struct ctp_tr_usrsctp_fault_held **pp = &f->held, *h;
	uint64_t now = uv_now(u->udp.loop);

	while ((h = *pp) != NULL) {
		int go = reorder_to ? h->reorder && ctp_tr_usrsctp_sa_eq((struct sockaddr *)&h->to,
		    reorder_to) : h->due <= now;

		if (!go) {
			pp = &h->next;
			continue;
		}
		*pp = h->next;
		f->nheld--;
		ctp_tr_usrsctp_udp_send(u->t, u, (struct sockaddr *)&h->to, h->data, h->len);
		free(h);
	}
	ctp_tr_usrsctp_faults_arm(u);
}

static void
ctp_tr_usrsctp_faults_timer_cb(uv_timer_t *th)
{
	struct ctp_tr_usrsctp_udp *u = th->data;

	if (u->t && u->t->wire_data == u)
		ctp_tr_usrsctp_faults_release(u, NULL);
}

static void
ctp_tr_usrsctp_faults_poll_cb(uv_timer_t *th)
{
	struct ctp_tr_usrsctp_udp *u = th->data;
	struct ctp_tr_usrsctp_faults *f = u->faults;
	char why[256];

	if (!u->t || u->t->wire_data != u)
		return;
	if (ctp_tr_usrsctp_faults_read(u->t, f, 0, why, sizeof why) < 0) {
		if (!f->bad)
			log_err("%s: TEST MODE: CTPD_TEST_FAULTS: %s: no fault rule now", u->t->name,
			    why);
		f->bad = 1;
		f->nrules = 0;
		f->st_ok = 0;
	} else if (f->st_ok)
		f->bad = 0;
}

/* Hold one copy until due; 0, or -1 when it must go at once (cap). */
static int
ctp_tr_usrsctp_faults_hold(struct ctp_tr_usrsctp_udp *u, const struct sockaddr *to,
    const void *pkt, size_t len, uint64_t ms, int reorder)
{
	struct ctp_tr_usrsctp_faults *f = u->faults;
	struct ctp_tr_usrsctp_fault_held *h, **pp;

	if (f->nheld >= USRSCTP_FAULT_HELD || (h = malloc(sizeof *h + len)) == NULL) {
		f->overflow++;
		return -1;
	}
	h->next = NULL;
	h->due = uv_now(u->udp.loop) + ms;
	h->reorder = reorder;
	memset(&h->to, 0, sizeof h->to);
	memcpy(&h->to, to, ctp_tr_usrsctp_sa_len(to));
	h->len = len;
	memcpy(h->data, pkt, len);
	for (pp = &f->held; *pp; pp = &(*pp)->next)
		;
	*pp = h;
	f->nheld++;
	ctp_tr_usrsctp_faults_arm(u);
	return 0;
}

static void
ctp_tr_usrsctp_faults_output(struct ctp_tr *t, struct ctp_tr_usrsctp_udp *u,
    const struct sockaddr *to, const void *pkt, size_t len)
{
	struct ctp_tr_usrsctp_faults *f = u->faults;
	struct ctp_tr_usrsctp_fault_rule *r = NULL;
	int copies, sent = 0;

	for (size_t i = 0; i < f->nrules && !r; i++)
		if (ctp_tr_usrsctp_fault_match(&f->rules[i].peer, to) &&
		    ctp_tr_usrsctp_fault_match(&f->rules[i].from, ctp_tr_usrsctp_local(t)))
			r = &f->rules[i];
	if (!r) {
		ctp_tr_usrsctp_udp_send(t, u, to, pkt, len);
		sent = 1;
	} else {
		f->seen++;
		if (ctp_tr_usrsctp_fault_hit(r, r->drop)) {
			f->dropped++;
			return;
		}
		copies = 1;
		if (ctp_tr_usrsctp_fault_hit(r, r->dup)) {
			f->duplicated++;
			copies = 2;
		}
		while (copies-- > 0) {
			if (r->delay && ctp_tr_usrsctp_faults_hold(u, to, pkt, len, r->delay, 0) == 0) {
				f->delayed++;
				continue;
			}
			if (!r->delay && ctp_tr_usrsctp_fault_hit(r, r->reorder) &&
			    ctp_tr_usrsctp_faults_hold(u, to, pkt, len, USRSCTP_FAULT_REORDER_MS,
			    1) == 0) {
				f->reordered++;
				continue;
			}
			ctp_tr_usrsctp_udp_send(t, u, to, pkt, len);
			sent = 1;
		}
	}
	/* a datagram passed: what waited to be overtaken follows it */
	if (sent && f->held)
		ctp_tr_usrsctp_faults_release(u, to);
}

/* From conn_output. */
static void
ctp_tr_usrsctp_udp_output(struct ctp_tr *t, const struct sockaddr *to, const void *pkt,
    size_t len)
{
	struct ctp_tr_usrsctp_udp *u = t->wire_data;

	if (u->faults)
		ctp_tr_usrsctp_faults_output(t, u, to, pkt, len);
	else
		ctp_tr_usrsctp_udp_send(t, u, to, pkt, len);
}

/* The close callback of both handles (the UDP socket, the fault timer). */
static void
ctp_tr_usrsctp_udp_closed(uv_handle_t *h)
{
	struct ctp_tr_usrsctp_udp *u = h->data;
	struct ctp_tr *t = u->t;

	if (u->handles > 1) {
		u->handles--;
		return;
	}
	ctp_tr_usrsctp_faults_free(u->faults);
	free(u);
	if (t)
		ctp_tr_usrsctp_closed(t);
}

static int
ctp_tr_usrsctp_udp_open(struct ctp_tr *t, struct ctp_err *err)
{
	struct ctp_tr_usrsctp_udp *u;
	struct ctp_tr_usrsctp_faults *f = NULL;
	const struct sockaddr *local = ctp_tr_usrsctp_local(t);
	char a[INET6_ADDRSTRLEN + 8];
	int rc, size = USRSCTP_UDP_SOCKBUF;

	/* a bad CTPD_TEST_FAULTS refuses the start, before anything opens */
	if ((rc = ctp_tr_usrsctp_faults_new(t, &f, err)) < 0)
		return rc;
	if ((u = calloc(1, sizeof *u)) == NULL) {
		ctp_tr_usrsctp_faults_free(f);
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "%s: out of memory", t->name);
	}
	u->handles = 1;
	u->faults = f;
	if ((rc = uv_udp_init(t->loop, &u->udp)) < 0) {
		ctp_tr_usrsctp_faults_free(f);
		free(u);
		return ctp_err_set(err, CTP_E_IO, 0, 0, "%s: uv_udp_init: %s", t->name,
		    uv_strerror(rc));
	}
	u->udp.data = u;
	if ((rc = uv_udp_bind(&u->udp, local, 0)) < 0) {
		uv_close((uv_handle_t *)&u->udp, ctp_tr_usrsctp_udp_closed);   /* u->t is NULL */
		return ctp_err_set(err, CTP_E_IO, 0, 0, "%s: bind UDP %s: %s", t->name,
		    ctp_tr_usrsctp_sa_fmt(local, a, sizeof a), uv_strerror(rc));
	}
	/* a burst of SCTP packets must not overflow the kernel's buffers:
	 * every drop costs an RTO (best effort: capped by rmem/wmem_max) */
	uv_recv_buffer_size((uv_handle_t *)&u->udp, &size);
	size = USRSCTP_UDP_SOCKBUF;
	uv_send_buffer_size((uv_handle_t *)&u->udp, &size);
	if ((rc = uv_udp_recv_start(&u->udp, ctp_tr_usrsctp_udp_alloc,
	    ctp_tr_usrsctp_udp_recv)) < 0) {
		uv_close((uv_handle_t *)&u->udp, ctp_tr_usrsctp_udp_closed);
		return ctp_err_set(err, CTP_E_IO, 0, 0, "%s: UDP receive: %s", t->name,
		    uv_strerror(rc));
	}
	if (f) {
		uv_timer_init(t->loop, &f->timer);
		f->timer.data = u;
		u->handles = 2;
		if (f->path) {
			uv_timer_init(t->loop, &f->poll);
			f->poll.data = u;
			uv_timer_start(&f->poll, ctp_tr_usrsctp_faults_poll_cb, USRSCTP_FAULT_POLL_MS,
			    USRSCTP_FAULT_POLL_MS);
			u->handles = 3;
		}
		ctp_tr_usrsctp_faults_banner(t, f, "start");
	}
	u->t = t;
	t->wire_data = u;
	return 0;
}

static unsigned
ctp_tr_usrsctp_udp_close(struct ctp_tr *t)
{
	struct ctp_tr_usrsctp_udp *u = t->wire_data;

	if (u->drops || u->errors)
		log_info("%s: UDP: %llu packets dropped, %llu errors", t->name,
		    (unsigned long long)u->drops, (unsigned long long)u->errors);
	uv_udp_recv_stop(&u->udp);
	if (u->faults) {
		/* what the test layer still holds is lost, as on a wire */
		ctp_tr_usrsctp_faults_report(t, u->faults);
		ctp_tr_usrsctp_faults_drop_held(u->faults);
		uv_timer_stop(&u->faults->timer);
		uv_close((uv_handle_t *)&u->faults->timer, ctp_tr_usrsctp_udp_closed);
		if (u->faults->path) {
			uv_timer_stop(&u->faults->poll);
			uv_close((uv_handle_t *)&u->faults->poll, ctp_tr_usrsctp_udp_closed);
		}
	}
	/* queued sends are cancelled (their callbacks run) before u goes */
	uv_close((uv_handle_t *)&u->udp, ctp_tr_usrsctp_udp_closed);
	t->wire_data = NULL;
	return 1;
}

static const struct ctp_tr_usrsctp_wire ctp_tr_usrsctp_udp_wire = {
	.name = "udp",
	.open = ctp_tr_usrsctp_udp_open,
	.output = ctp_tr_usrsctp_udp_output,
	.close = ctp_tr_usrsctp_udp_close,
};

static int
ctp_tr_usrsctp_open(uv_loop_t *loop, const struct ctp_tr_cfg *cfg, const struct ctp_tr_cb *cb,
    void *ud, struct ctp_tr **out, struct ctp_err *err)
{
	return ctp_tr_usrsctp_open_wire(loop, cfg, cb, ud, &ctp_tr_usrsctp_udp_wire, out, err);
}

const struct ctp_tr_ops ctp_tr_usrsctp = {
	.name = "usrsctp",
	.open = ctp_tr_usrsctp_open,
	.connect = ctp_tr_usrsctp_connect,
	.send = ctp_tr_usrsctp_send,
	.close_peer = ctp_tr_usrsctp_close_peer,
	.close = ctp_tr_usrsctp_close,
};
