/*
 * ctp_tr_mem.c: the in-memory backend of ctp_tr.h: the usrsctp stack of
 * ctp_tr_usrsctp.c over a packet wire inside this process, which drops,
 * duplicates, reorders and delays packets on command.  For tests: real SCTP
 * (handshakes, retransmissions, SACKs, SHUTDOWN) with no socket and no root.
 *
 * All mem transports of a process share one wire.  A transport's address is
 * its cfg.bind (address and port; the port defaults to cfg.udp_port as for
 * the UDP wire), and no two may share one.  A packet for an address no
 * transport serves is dropped, as on a network.
 *
 * Delivery.  A packet comes from usrsctp's conn_output, with usrsctp's locks
 * held: it is copied into the queue of the transport that owns the
 * destination, with the time it is due, and that transport's idle handle
 * (due now) or timer (delayed) hands it to usrsctp later, from the loop.
 * Never synchronously: re-entering usrsctp from conn_output deadlocks
 * (transport-feasibility 2.1, pitfall 2).  An idle handle rather than a
 * 0 ms timer, because libuv 1.44 runs a timer restarted at 0 inside its own
 * callback again in the same loop iteration: two transports exchanging
 * packets would never let the loop poll, and the 10 ms usrsctp ticker would
 * starve.  Each run delivers only the packets due when it started.
 *
 * Faults are rules for a (from, to) pair where either side may be "any";
 * the most specific rule that matches applies: (from, to), (from, any),
 * (any, to), (any, any).  Per packet, in this order: blackhole, drop_next,
 * drop_pct (dropped), then reorder_pct (held back until the next packet of
 * the same pair has been queued, at most MEM_HOLD_MS), dup_pct (a second
 * copy after the first), delay_ms.  The random numbers come from a
 * xorshift64* generator: the same seed makes the same decisions for the
 * same sequence of packets (the sequence itself still depends on timing,
 * as usrsctp's timers follow the loop's clock).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_log.h"
#include "ctp/ctp_tr.h"
#include "ctp_tr_usrsctp_int.h"

#define MEM_RULES     32
/* A held-back packet waits at most this long for the packet it should
 * follow: reordering, not loss. */
#define MEM_HOLD_MS   20
#define MEM_SEED      0x9e3779b97f4a7c15ull

struct ctp_tr_mem_pkt {
	struct ctp_tr_mem_pkt  *next;
	struct sockaddr_storage from;
	uint64_t                due;       /* loop ms */
	size_t                  len;
	uint8_t                 data[];
};

/* What one transport receives. */
struct ctp_tr_mem_port {
	struct ctp_tr_mem_port *next;      /* the wire's ports */
	struct ctp_tr          *t;
	uv_loop_t              *loop;
	struct sockaddr_storage addr;
	uv_idle_t               idle;      /* packets due now */
	uv_timer_t              timer;     /* the next delayed one */
	struct ctp_tr_mem_pkt  *head;      /* by due time, FIFO among equals */
	struct ctp_tr_mem_pkt  *held;      /* held back for reordering */
	unsigned                open;
};

struct ctp_tr_mem_rule {
	int                     any_from, any_to;
	struct sockaddr_storage from, to;
	struct ctp_mem_fault    f;
};

static struct {
	struct ctp_tr_mem_port *ports;
	struct ctp_tr_mem_rule  rules[MEM_RULES];
	unsigned                nrules;
	uint64_t                rng;
	uint64_t                carried, dropped, dups, reordered;
} ctp_tr_mem_wire = { .rng = MEM_SEED };

static int
ctp_tr_mem_pow2(uint64_t n)
{
	return n && (n & (n - 1)) == 0;
}

/* xorshift64* (Vigna): small, fast, and the same on every platform. */
static uint64_t
ctp_tr_mem_rand(void)
{
	uint64_t x = ctp_tr_mem_wire.rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	ctp_tr_mem_wire.rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

static int
ctp_tr_mem_chance(unsigned pct)
{
	return pct > 0 && (pct >= 100 || (ctp_tr_mem_rand() >> 33) % 100 < pct);
}

/* ---- faults ----------------------------------------------------------- */

static struct ctp_tr_mem_rule *
ctp_tr_mem_rule_find(const struct sockaddr *from, const struct sockaddr *to)
{
	for (unsigned i = 0; i < ctp_tr_mem_wire.nrules; i++) {
		struct ctp_tr_mem_rule *r = &ctp_tr_mem_wire.rules[i];

		if (r->any_from == !from && r->any_to == !to &&
		    (!from || ctp_tr_usrsctp_sa_eq((struct sockaddr *)&r->from, from)) &&
		    (!to || ctp_tr_usrsctp_sa_eq((struct sockaddr *)&r->to, to)))
			return r;
	}
	return NULL;
}

/* The rule for a packet: the most specific that matches. */
static struct ctp_mem_fault *
ctp_tr_mem_rule_match(const struct sockaddr *from, const struct sockaddr *to)
{
	struct ctp_tr_mem_rule *r;

	if ((r = ctp_tr_mem_rule_find(from, to)) != NULL ||
	    (r = ctp_tr_mem_rule_find(from, NULL)) != NULL ||
	    (r = ctp_tr_mem_rule_find(NULL, to)) != NULL ||
	    (r = ctp_tr_mem_rule_find(NULL, NULL)) != NULL)
		return &r->f;
	return NULL;
}

void
ctp_mem_wire_fault(const struct sockaddr *from, const struct sockaddr *to,
    const struct ctp_mem_fault *f)
{
	struct ctp_tr_mem_rule *r = ctp_tr_mem_rule_find(from, to);

	if (!f) {
		/* NULL removes the rule */
		if (r)
			*r = ctp_tr_mem_wire.rules[--ctp_tr_mem_wire.nrules];
		return;
	}
	if (!r) {
		if (ctp_tr_mem_wire.nrules == MEM_RULES) {
			log_warn("more than %d fault rules: ignored", MEM_RULES);
			return;
		}
		r = &ctp_tr_mem_wire.rules[ctp_tr_mem_wire.nrules++];
		memset(r, 0, sizeof *r);
		r->any_from = !from;
		r->any_to = !to;
		if (from)
			memcpy(&r->from, from, ctp_tr_usrsctp_sa_len(from));
		if (to)
			memcpy(&r->to, to, ctp_tr_usrsctp_sa_len(to));
	}
	r->f = *f;
}

void
ctp_mem_wire_seed(uint64_t seed)
{
	/* xorshift must not start at 0 */
	ctp_tr_mem_wire.rng = seed ? seed : MEM_SEED;
}

void
ctp_mem_wire_clear(void)
{
	ctp_tr_mem_wire.nrules = 0;
	ctp_tr_mem_wire.carried = ctp_tr_mem_wire.dropped = 0;
	ctp_tr_mem_wire.dups = ctp_tr_mem_wire.reordered = 0;
}

void
ctp_mem_wire_stats(uint64_t *carried, uint64_t *dropped, uint64_t *dups, uint64_t *reordered)
{
	if (carried)
		*carried = ctp_tr_mem_wire.carried;
	if (dropped)
		*dropped = ctp_tr_mem_wire.dropped;
	if (dups)
		*dups = ctp_tr_mem_wire.dups;
	if (reordered)
		*reordered = ctp_tr_mem_wire.reordered;
}

/* ---- the queues --------------------------------------------------------- */

static struct ctp_tr_mem_port *
ctp_tr_mem_port_find(const struct sockaddr *addr)
{
	for (struct ctp_tr_mem_port *p = ctp_tr_mem_wire.ports; p; p = p->next)
		if (ctp_tr_usrsctp_sa_eq((struct sockaddr *)&p->addr, addr))
			return p;
	return NULL;
}

/* Behind every packet due no later than pkt: FIFO among equals. */
static void
ctp_tr_mem_insert(struct ctp_tr_mem_port *port, struct ctp_tr_mem_pkt *pkt)
{
	struct ctp_tr_mem_pkt **pp = &port->head;

	while (*pp && (*pp)->due <= pkt->due)
		pp = &(*pp)->next;
	pkt->next = *pp;
	*pp = pkt;
}

/* Queue pkt; a packet held back from the same source follows it. */
static void
ctp_tr_mem_enqueue(struct ctp_tr_mem_port *port, struct ctp_tr_mem_pkt *pkt)
{
	struct ctp_tr_mem_pkt **hp;

	ctp_tr_mem_insert(port, pkt);
	for (hp = &port->held; *hp; hp = &(*hp)->next)
		if (ctp_tr_usrsctp_sa_eq((struct sockaddr *)&(*hp)->from,
		    (struct sockaddr *)&pkt->from)) {
			struct ctp_tr_mem_pkt *h = *hp;

			*hp = h->next;
			h->due = pkt->due;
			ctp_tr_mem_insert(port, h);
			return;
		}
}

static void ctp_tr_mem_idle_cb(uv_idle_t *h);
static void ctp_tr_mem_timer_cb(uv_timer_t *h);

/* Wake the port for its next packet: now (idle) or later (timer). */
static void
ctp_tr_mem_arm(struct ctp_tr_mem_port *port)
{
	uint64_t now = uv_now(port->loop), next = UINT64_MAX;

	if (port->head)
		next = port->head->due;
	for (struct ctp_tr_mem_pkt *h = port->held; h; h = h->next)
		if (h->due < next)
			next = h->due;
	if (next == UINT64_MAX) {
		uv_idle_stop(&port->idle);
		uv_timer_stop(&port->timer);
	} else if (next <= now) {
		uv_timer_stop(&port->timer);
		uv_idle_start(&port->idle, ctp_tr_mem_idle_cb);
	} else {
		uv_idle_stop(&port->idle);
		uv_timer_start(&port->timer, ctp_tr_mem_timer_cb, next - now, 0);
	}
}

/* Hand usrsctp every packet due when this run started. */
static void
ctp_tr_mem_deliver(struct ctp_tr_mem_port *port)
{
	uint64_t now = uv_now(port->loop);
	struct ctp_tr_mem_pkt **hp, *batch, *last = NULL, *pkt;

	/* held packets whose partner never came go as they are */
	for (hp = &port->held; *hp;) {
		struct ctp_tr_mem_pkt *h = *hp;

		if (h->due <= now) {
			*hp = h->next;
			ctp_tr_mem_insert(port, h);
		} else
			hp = &h->next;
	}
	batch = port->head;
	for (pkt = port->head; pkt && pkt->due <= now; pkt = pkt->next)
		last = pkt;
	if (!last) {
		ctp_tr_mem_arm(port);
		return;
	}
	port->head = last->next;
	last->next = NULL;
	/* packets the stack sends meanwhile join port->head, not the batch */
	while ((pkt = batch) != NULL) {
		batch = pkt->next;
		ctp_tr_mem_wire.carried++;
		ctp_tr_usrsctp_input(port->t, (struct sockaddr *)&pkt->from, pkt->data, pkt->len);
		free(pkt);
	}
	ctp_tr_mem_arm(port);
}

static void
ctp_tr_mem_idle_cb(uv_idle_t *h)
{
	ctp_tr_mem_deliver(h->data);
}

static void
ctp_tr_mem_timer_cb(uv_timer_t *h)
{
	ctp_tr_mem_deliver(h->data);
}

static struct ctp_tr_mem_pkt *
ctp_tr_mem_pkt_new(const struct sockaddr *from, uint64_t due, const void *data, size_t len)
{
	struct ctp_tr_mem_pkt *pkt = malloc(sizeof *pkt + len);

	if (!pkt)
		return NULL;
	pkt->next = NULL;
	memset(&pkt->from, 0, sizeof pkt->from);
	memcpy(&pkt->from, from, ctp_tr_usrsctp_sa_len(from));
	pkt->due = due;
	pkt->len = len;
	memcpy(pkt->data, data, len);
	return pkt;
}

static void
ctp_tr_mem_drop(struct ctp_tr *t, const char *why)
{
	if (ctp_tr_mem_pow2(++ctp_tr_mem_wire.dropped))
		log_debug("%s: packet dropped: %s (%llu dropped so far)", ctp_tr_usrsctp_name(t),
		    why, (unsigned long long)ctp_tr_mem_wire.dropped);
}

/* The wire's output: from conn_output, so copy and queue, nothing else. */
static void
ctp_tr_mem_output(struct ctp_tr *t, const struct sockaddr *to, const void *data, size_t len)
{
	const struct sockaddr *from = ctp_tr_usrsctp_local(t);
	struct ctp_tr_mem_port *dst = ctp_tr_mem_port_find(to);
	struct ctp_mem_fault *f;
	struct ctp_tr_mem_pkt *pkt, *dup = NULL;
	uint64_t now, due;
	int hold;

	if (!dst) {
		ctp_tr_mem_drop(t, "no transport at the address");
		return;
	}
	if ((f = ctp_tr_mem_rule_match(from, to)) != NULL) {
		if (f->blackhole) {
			ctp_tr_mem_drop(t, "blackhole");
			return;
		}
		if (f->drop_next > 0) {
			f->drop_next--;
			ctp_tr_mem_drop(t, "drop_next");
			return;
		}
		if (ctp_tr_mem_chance(f->drop_pct)) {
			ctp_tr_mem_drop(t, "drop_pct");
			return;
		}
	}
	now = uv_now(dst->loop);
	due = now + (f ? f->delay_ms : 0);
	hold = f && ctp_tr_mem_chance(f->reorder_pct);
	if (f && ctp_tr_mem_chance(f->dup_pct))
		dup = ctp_tr_mem_pkt_new(from, due, data, len);
	if ((pkt = ctp_tr_mem_pkt_new(from, due, data, len)) == NULL) {
		free(dup);
		ctp_tr_mem_drop(t, "out of memory");
		return;
	}
	if (hold) {
		struct ctp_tr_mem_pkt *h;

		for (h = dst->held; h; h = h->next)
			if (ctp_tr_usrsctp_sa_eq((struct sockaddr *)&h->from, from))
				break;
		hold = !h;   /* one held packet per pair */
	}
	if (hold) {
		pkt->due = due + MEM_HOLD_MS;
		pkt->next = dst->held;
		dst->held = pkt;
		ctp_tr_mem_wire.reordered++;
	} else
		ctp_tr_mem_enqueue(dst, pkt);
	if (dup) {
		ctp_tr_mem_enqueue(dst, dup);
		ctp_tr_mem_wire.dups++;
	}
	ctp_tr_mem_arm(dst);
}

/* ---- the backend -------------------------------------------------------- */

static int
ctp_tr_mem_open_wire(struct ctp_tr *t, struct ctp_err *err)
{
	const struct sockaddr *addr = ctp_tr_usrsctp_local(t);
	struct ctp_tr_mem_port *port;
	char a[64];

	if (ctp_tr_mem_port_find(addr))
		return ctp_err_set(err, CTP_E_EXIST, 0, 0, "%s: mem address %s is taken",
		    ctp_tr_usrsctp_name(t), ctp_tr_usrsctp_sa_fmt(addr, a, sizeof a));
	if ((port = calloc(1, sizeof *port)) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "%s: out of memory",
		    ctp_tr_usrsctp_name(t));
	port->t = t;
	port->loop = ctp_tr_usrsctp_loop(t);
	memcpy(&port->addr, addr, ctp_tr_usrsctp_sa_len(addr));
	uv_idle_init(port->loop, &port->idle);
	uv_timer_init(port->loop, &port->timer);
	port->idle.data = port->timer.data = port;
	port->open = 2;
	port->next = ctp_tr_mem_wire.ports;
	ctp_tr_mem_wire.ports = port;
	*ctp_tr_usrsctp_wire_data(t) = port;
	return 0;
}

static void
ctp_tr_mem_closed(uv_handle_t *h)
{
	struct ctp_tr_mem_port *port = h->data;
	struct ctp_tr *t = port->t;

	if (--port->open == 0)
		free(port);
	ctp_tr_usrsctp_closed(t);
}

static unsigned
ctp_tr_mem_close_wire(struct ctp_tr *t)
{
	struct ctp_tr_mem_port **pp, *port = *ctp_tr_usrsctp_wire_data(t);
	struct ctp_tr_mem_pkt *pkt;
	unsigned n = 0;

	for (pp = &ctp_tr_mem_wire.ports; *pp; pp = &(*pp)->next)
		if (*pp == port) {
			*pp = port->next;
			break;
		}
	/* in flight to a receiver that is gone: lost */
	while ((pkt = port->head) != NULL || (pkt = port->held) != NULL) {
		if (pkt == port->head)
			port->head = pkt->next;
		else
			port->held = pkt->next;
		free(pkt);
		n++;
	}
	ctp_tr_mem_wire.dropped += n;
	if (n)
		log_debug("%s: %u packets in flight dropped", ctp_tr_usrsctp_name(t), n);
	*ctp_tr_usrsctp_wire_data(t) = NULL;
	uv_close((uv_handle_t *)&port->idle, ctp_tr_mem_closed);
	uv_close((uv_handle_t *)&port->timer, ctp_tr_mem_closed);
	return 2;
}

static const struct ctp_tr_usrsctp_wire ctp_tr_mem_wire_ops = {
	.name = "mem",
	.open = ctp_tr_mem_open_wire,
	.output = ctp_tr_mem_output,
	.close = ctp_tr_mem_close_wire,
};

static int
ctp_tr_mem_open(uv_loop_t *loop, const struct ctp_tr_cfg *cfg, const struct ctp_tr_cb *cb,
    void *ud, struct ctp_tr **out, struct ctp_err *err)
{
	return ctp_tr_usrsctp_open_wire(loop, cfg, cb, ud, &ctp_tr_mem_wire_ops, out, err);
}

const struct ctp_tr_ops ctp_tr_mem = {
	.name = "mem",
	.open = ctp_tr_mem_open,
	.connect = ctp_tr_usrsctp_connect,
	.send = ctp_tr_usrsctp_send,
	.close_peer = ctp_tr_usrsctp_close_peer,
	.close = ctp_tr_usrsctp_close,
};
