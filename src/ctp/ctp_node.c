/*
 * ctp_node.c: a ctpd node: peers, their associations and secure channels,
 * plugins, the control socket, the capture and the counters.
 *
 * Data flows up: transport message -> channel (TLS or plaintext) -> one
 * CXTP message -> decoded here -> the handler (the engine).  And down:
 * ctp_node_send -> channel -> transport.  See ctp_node.h for the
 * association rules.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_describe.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_node.h"
#include "ctp/ctp_pcap.h"
#include "ctp/ctp_secret.h"
#include "ctp/ctp_xfrm_policy.h"

#define PENDING_MAX      64        /* messages waiting per peer */
#define BACKOFF_MAX_MS   30000

struct ctp_pending {
	struct ctp_pending *next;
	unsigned            flags;
	size_t              len;
	uint8_t             buf[];
};

#define NODE_MAX_CMDS 32

struct node_cmd {
	char            name[32];
	ctp_host_cmd_fn fn;
	void           *state;
};

struct ctp_node {
	uv_loop_t                 *loop;
	struct ctp_conf           *conf;
	const struct ctp_tr_ops   *tr_ops;
	char                       tr_why[192];
	struct ctp_tr             *tr;
	struct ctp_tls            *tls;
	struct ctp_registry       *reg;
	struct ctp_ctl            *ctl;
	struct ctp_pcap           *pcap;
	struct ctp_peer           *peers[CTP_CONF_MAX_PEERS];
	size_t                     npeers;
	struct ctp_node_stats      stats;
	struct ctp_node_handler    h;
	void                      *hud;
	struct node_cmd            cmds[NODE_MAX_CMDS];   /* plugins' control commands */
	size_t                     ncmds;
	uint64_t                   started_ms;
	/* shutting down */
	int                        stopping;
	unsigned                   closing;     /* handles and subsystems still closing */
	void                     (*done)(void *);
	void                      *done_arg;
};

static void peer_connect(struct ctp_peer *p);
static void peer_schedule(struct ctp_peer *p, unsigned ms);
static void node_register_commands(struct ctp_node *n);

const char *
ctp_peer_state_name(enum ctp_peer_state s)
{
	static const char *const names[] = { "down", "connecting", "handshake", "up" };

	return s <= CTP_PEER_UP ? names[s] : "?";
}

/* ---- plugin host operations ------------------------------------------------ */

/* The host a plugin sees is the node itself. */
#define NODE(host) ((struct ctp_node *)(void *)(host))

static void
host_log(struct ctp_host *host, int level, const char *func, const char *msg)
{
	(void)host;
	ctp_logf(level, func, "%s", msg);
}

static uint64_t
host_now_ms(struct ctp_host *host)
{
	return uv_now(NODE(host)->loop);
}

/* Plugins register their commands while they load, before the control
 * socket exists: the node keeps them and registers them at start. */
static int
host_ctl_trampoline(const struct ctp_val *req, struct ctp_val *reply, void *ud,
    struct ctp_err *err)
{
	struct node_cmd *c = ud;

	return c->fn(c->state, req, reply, err);
}

static int
host_register_cmd(struct ctp_host *host, const char *name, ctp_host_cmd_fn fn, void *state)
{
	struct ctp_node *n = NODE(host);
	struct node_cmd *c;

	for (size_t i = 0; i < n->ncmds; i++)
		if (strcmp(n->cmds[i].name, name) == 0)
			return CTP_E_EXIST;
	if (n->ncmds == NODE_MAX_CMDS || strlen(name) >= sizeof c->name)
		return CTP_E_LIMIT;
	c = &n->cmds[n->ncmds++];
	snprintf(c->name, sizeof c->name, "%s", name);
	c->fn = fn;
	c->state = state;
	if (n->ctl)
		return ctp_ctl_register(n->ctl, c->name, host_ctl_trampoline, c);
	return 0;
}

static const char *
host_node_name(struct ctp_host *host)
{
	return NODE(host)->conf->node_name;
}

static size_t
host_node_addrs(struct ctp_host *host, struct ctp_addr *out, size_t max)
{
	const struct ctp_conf *c = NODE(host)->conf;
	size_t i;

	for (i = 0; i < c->naddrs && i < max; i++)
		out[i] = c->addrs[i];
	return i;
}

static int
host_peer_info(struct ctp_host *host, const char *name, struct ctp_addr *addr, unsigned *roles)
{
	struct ctp_peer *p = ctp_node_peer(NODE(host), name);

	if (!p)
		return CTP_E_NOTFOUND;
	if (addr)
		ctp_peer_addr(p, addr);
	if (roles)
		*roles = p->conf.roles;
	return 0;
}

static const char *
host_peer_by_addr(struct ctp_host *host, const struct ctp_addr *addr)
{
	struct ctp_peer *p = ctp_node_peer_by_addr(NODE(host), addr);

	return p ? p->conf.name : NULL;
}

static struct uv_loop_s *
host_loop(struct ctp_host *host)
{
	return NODE(host)->loop;
}

static int
host_log_enabled(struct ctp_host *host, int level)
{
	(void)host;
	return ctp_log_enabled(level);
}

static const struct ctp_host_ops host_ops = {
	.size = sizeof(struct ctp_host_ops),
	.log = host_log,
	.now_ms = host_now_ms,
	.register_cmd = host_register_cmd,
	.node_name = host_node_name,
	.node_addrs = host_node_addrs,
	.peer_info = host_peer_info,
	.peer_by_addr = host_peer_by_addr,
	.loop = host_loop,
	.log_enabled = host_log_enabled,
};

const struct ctp_host_ops *
ctp_node_host_ops(void)
{
	return &host_ops;
}

int
ctp_node_add_plugin(struct ctp_node *n, const struct ctp_feature *f, const struct ctp_val *config,
    struct ctp_err *err)
{
	return ctp_registry_add(n->reg, f, config, err);
}

/* ---- small helpers ------------------------------------------------------- */

uint64_t
ctp_node_now(const struct ctp_node *n)
{
	return uv_now(n->loop);
}

static void
peer_set_state(struct ctp_peer *p, enum ctp_peer_state s, const char *event)
{
	if (p->state == s)
		return;
	ctp_log_state("peer", p->conf.name, ctp_peer_state_name(p->state),
	    ctp_peer_state_name(s), event);
	p->state = s;
	p->since_ms = ctp_node_now(p->node);
}

static void
peer_error(struct ctp_peer *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->last_error, sizeof p->last_error, fmt, ap);
	va_end(ap);
}

static const char *
sa_fmt(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
		port = ntohs(s4->sin_port);
		snprintf(buf, len, "%s:%u", a, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
		port = ntohs(s6->sin6_port);
		snprintf(buf, len, "[%s]:%u", a, port);
	} else
		snprintf(buf, len, "?");
	return buf;
}

static uint16_t
sa_port(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? ntohs(((const struct sockaddr_in *)ss)->sin_port) :
	    ss->ss_family == AF_INET6 ? ntohs(((const struct sockaddr_in6 *)ss)->sin6_port) : 0;
}

static void
sa_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static void
sa_to_addr(const struct sockaddr_storage *ss, struct ctp_addr *a)
{
	memset(a, 0, sizeof *a);
	if (ss->ss_family == AF_INET)
		(void)ctp_addr_set(a, 4, (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr);
	else if (ss->ss_family == AF_INET6) {
		const uint8_t *b = (const uint8_t *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

		/* a v4-mapped address is the IPv4 peer it maps */
		if (IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)ss)->sin6_addr))
			(void)ctp_addr_set(a, 4, b + 12);
		else
			(void)ctp_addr_set(a, 6, b);
	}
}

static int
usrsctp_backend(const struct ctp_node *n)
{
	return n->tr_ops != &ctp_tr_kernel;
}

/*
 * Where a peer is reached: the kernel backend speaks to its SCTP port, the
 * usrsctp backend to its RFC 6951 UDP port.
 */
static void
peer_transport_addr(const struct ctp_peer *p, struct sockaddr_storage *ss)
{
	*ss = p->conf.addr;
	if (usrsctp_backend(p->node))
		sa_set_port(ss, p->conf.udp_port);
}

/* Our own (address, port) as peers of this family see it. */
static void
self_addr(const struct ctp_node *n, int family, struct sockaddr_storage *ss)
{
	const struct ctp_conf *c = n->conf;
	uint16_t port = usrsctp_backend(n) ? c->udp_port : c->sctp_port;

	memset(ss, 0, sizeof *ss);
	for (size_t i = 0; i < c->naddrs; i++) {
		if (family == AF_INET && c->addrs[i].family == 4) {
			struct sockaddr_in *s = (struct sockaddr_in *)ss;

			s->sin_family = AF_INET;
			memcpy(&s->sin_addr, c->addrs[i].a, 4);
			s->sin_port = htons(port);
			return;
		}
		if (family == AF_INET6 && c->addrs[i].family == 6) {
			struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;

			s->sin6_family = AF_INET6;
			memcpy(&s->sin6_addr, c->addrs[i].a, 16);
			s->sin6_port = htons(port);
			return;
		}
	}
}

/* -1, 0, 1 by (address, port): the lower side is the TLS client. */
static int
sa_cmp(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	struct ctp_addr x, y;
	int c;

	sa_to_addr(a, &x);
	sa_to_addr(b, &y);
	if (x.family != y.family)
		return x.family < y.family ? -1 : 1;
	if ((c = memcmp(x.a, y.a, ctp_addr_len(x.family))) != 0)
		return c < 0 ? -1 : 1;
	return sa_port(a) < sa_port(b) ? -1 : sa_port(a) > sa_port(b) ? 1 : 0;
}

static int
peer_we_lead(const struct ctp_peer *p)
{
	struct sockaddr_storage self, them;

	peer_transport_addr(p, &them);
	self_addr(p->node, them.ss_family, &self);
	return sa_cmp(&self, &them) < 0;
}

/* The configured peer an association's address belongs to. */
static struct ctp_peer *
peer_by_transport_addr(struct ctp_node *n, const struct sockaddr_storage *ss)
{
	struct ctp_addr a, b;

	sa_to_addr(ss, &a);
	for (size_t i = 0; i < n->npeers; i++) {
		struct sockaddr_storage them;

		peer_transport_addr(n->peers[i], &them);
		sa_to_addr(&them, &b);
		if (!ctp_addr_eq(&a, &b))
			continue;
		/* several nodes may share an address (tests on loopback) only
		 * with usrsctp, where the UDP port tells them apart */
		if (!usrsctp_backend(n) || sa_port(ss) == sa_port(&them))
			return n->peers[i];
	}
	return NULL;
}

/* ---- capture --------------------------------------------------------------- */

void
ctp_node_capture(struct ctp_node *n, const struct sockaddr *src, const struct sockaddr *dst,
    int proto, const uint8_t *msg, size_t len)
{
	int rc;

	if (!n->pcap || (rc = ctp_pcap_write(n->pcap, src, dst, proto, msg, len)) == 0)
		return;
	if (rc == CTP_E_IO) {   /* ctp_pcap has logged it, naming the file */
		ctp_pcap_close(n->pcap);
		n->pcap = NULL;
	} else
		log_debug("capture: record not written: %s", ctp_strerror(rc));
}

/* The SCTP addresses of a peer message, for the capture: always the SCTP
 * port on both sides, whatever carried it. */
static void
capture_peer(struct ctp_peer *p, int inbound, const uint8_t *msg, size_t len)
{
	struct sockaddr_storage self, them = p->conf.addr;

	if (!p->node->pcap)
		return;
	self_addr(p->node, them.ss_family, &self);
	sa_set_port(&self, p->node->conf->sctp_port);
	if (inbound)
		ctp_node_capture(p->node, (struct sockaddr *)&them, (struct sockaddr *)&self,
		    IPPROTO_SCTP, msg, len);
	else
		ctp_node_capture(p->node, (struct sockaddr *)&self, (struct sockaddr *)&them,
		    IPPROTO_SCTP, msg, len);
}

/* ---- channel events ------------------------------------------------------- */

static void
pending_flush(struct ctp_peer *p)
{
	while (p->pending && p->state == CTP_PEER_UP) {
		struct ctp_pending *q = p->pending;
		int rc = ctp_chan_send(p->chan, q->buf, q->len, q->flags);

		if (rc == CTP_E_AGAIN)
			return;   /* the writable callback comes back here */
		if (rc == 0) {
			p->msgs_out++;
			p->bytes_out += q->len;
			ctp_node_count_out(p->node, q->buf[0]);
			p->node->stats.bytes_out += q->len;
			capture_peer(p, 0, q->buf, q->len);
		} else {
			p->node->stats.send_failures++;
			log_warn("peer %s: queued message dropped: %s", p->conf.name, ctp_strerror(rc));
		}
		p->pending = q->next;
		p->npending--;
		ctp_wipe(q->buf, q->len);   /* a PCTD or CTD carries keys */
		free(q);
	}
}

static void
pending_drop(struct ctp_peer *p, const char *why)
{
	if (p->npending)
		log_warn("peer %s: %zu queued messages dropped: %s", p->conf.name, p->npending, why);
	while (p->pending) {
		struct ctp_pending *q = p->pending;

		p->pending = q->next;
		p->node->stats.send_failures++;
		ctp_wipe(q->buf, q->len);
		free(q);
	}
	p->npending = 0;
}

static void
chan_ready(struct ctp_chan *c, void *ud)
{
	struct ctp_peer *p = ud;

	p->node->stats.handshakes++;
	p->backoff_ms = 0;
	p->last_error[0] = 0;
	p->gen++;   /* a new association: what the old one carried is its own */
	peer_set_state(p, CTP_PEER_UP, ctp_chan_mode(c) == CTP_SEC_TLS ? "authenticated" : "plaintext");
	if (ctp_chan_mode(c) == CTP_SEC_TLS)
		log_notice("peer %s authenticated (%s)", p->conf.name, ctp_chan_cipher(c));
	if (p->node->h.peer_up)
		p->node->h.peer_up(p, p->node->hud);
	pending_flush(p);
}

static void
chan_msg(struct ctp_chan *c, const uint8_t *buf, size_t len, void *ud)
{
	struct ctp_peer *p = ud;
	struct ctp_node *n = p->node;
	struct ctp_err err = { 0 };
	struct ctp_msg *m;

	(void)c;
	p->msgs_in++;
	p->bytes_in += len;
	n->stats.bytes_in += len;
	capture_peer(p, 1, buf, len);
	if ((m = malloc(sizeof *m)) == NULL) {
		log_err("out of memory decoding a message from %s", p->conf.name);
		return;
	}
	if (ctp_msg_decode(m, buf, len, 0, &err) < 0) {
		n->stats.decode_errors++;
		log_warn("peer %s: malformed message dropped: offset %zu: %s", p->conf.name,
		    err.off, err.what);
	} else {
		n->stats.msgs_in[m->type]++;
		log_debug("peer %s: %s in (%zu octets)", p->conf.name, ctp_msg_name(m->type), len);
		if (n->h.peer_msg)
			n->h.peer_msg(p, m, buf, len, n->hud);
	}
	free(m);
}

static void
chan_fail(struct ctp_chan *c, const char *reason, void *ud)
{
	struct ctp_peer *p = ud;

	(void)c;
	p->rejections++;
	if (p->state != CTP_PEER_UP)
		p->node->stats.handshake_failures++;
	p->node->stats.refused_auth++;
	peer_error(p, "%s", reason);
	log_warn("peer %s: channel failed: %s", p->conf.name, reason);
	/* SHUTDOWN, not ABORT: the alert just queued reaches the peer */
	if (p->tp)
		p->node->tr_ops->close_peer(p->tp, 0);
}

static void
chan_closed(struct ctp_chan *c, void *ud)
{
	struct ctp_peer *p = ud;

	(void)c;
	peer_error(p, "closed by the peer");
	if (p->tp)
		p->node->tr_ops->close_peer(p->tp, 0);
}

static const struct ctp_chan_cb chan_cb = {
	.ready = chan_ready,
	.msg = chan_msg,
	.fail = chan_fail,
	.closed = chan_closed,
};

/* ---- transport events ---------------------------------------------------- */

static int
peer_attach(struct ctp_peer *p, struct ctp_tr_peer *tp)
{
	struct ctp_node *n = p->node;
	struct ctp_chan_cfg cc = {
		.mode = p->conf.sec,
		.client = peer_we_lead(p),
		.tls = n->tls,
		.peer_name = p->conf.name,
		.identity = p->conf.identity ? p->conf.identity : p->conf.name,
		.psk = p->conf.psk ? p->conf.psk->p : NULL,
		.psk_len = p->conf.psk ? p->conf.psk->len : 0,
		.psk_identity = p->conf.psk_identity,
		.allow_keys_plain = p->conf.allow_keys_plain,
		.handshake_ms = n->conf->timers.handshake_ms,
		.ppid_plain = n->conf->ppid_plain,
		.ppid_tls = n->conf->ppid_tls,
	};
	struct ctp_err err = { 0 };

	if (p->chan) {
		ctp_chan_free(p->chan);
		p->chan = NULL;
	}
	if (ctp_chan_new(n->loop, n->tr_ops, tp, &cc, &chan_cb, p, &p->chan, &err) < 0) {
		log_err("peer %s: %s", p->conf.name, err.what);
		return err.code;
	}
	p->tp = tp;
	tp->ud = p;
	return 0;
}

/*
 * Security ipsec over the kernel's SCTP (PROFILE 2): the operator asserts
 * that ESP protects the peer; the kernel's SPD must agree, both ways, or
 * the association goes (ctp_xfrm_policy.h has the rules).  The flow is
 * what the kernel sees: our bound address (else our address of the
 * family), the peer's, SCTP or, encapsulated, UDP with the RFC 6951 ports.
 * 1 when the peer may go on.
 */
static int
peer_esp_covered(struct ctp_peer *p, struct ctp_tr_peer *tp)
{
	static const uint8_t zero[16];
	struct ctp_node *n = p->node;
	const struct ctp_conf *c = n->conf;
	struct sockaddr_storage self;
	struct ctp_xfrm_flow f;
	struct ctp_xfrm_cover cov;
	struct ctp_err err = { 0 };
	char a[64];
	int rc;

	if (p->conf.sec != CTP_SEC_IPSEC || n->tr_ops != &ctp_tr_kernel)
		return 1;
	memset(&f, 0, sizeof f);
	sa_to_addr(&tp->addr, &f.peer);
	self = c->bind;
	sa_to_addr(&self, &f.local);
	if (f.local.family != f.peer.family || memcmp(f.local.a, zero, sizeof zero) == 0) {
		self_addr(n, f.peer.family == 4 ? AF_INET : AF_INET6, &self);
		sa_to_addr(&self, &f.local);
	}
	f.proto = c->udp_encaps ? 17 : 132;
	f.local_port = c->udp_encaps ? c->udp_port : c->sctp_port;
	f.peer_port = c->udp_encaps ? p->conf.udp_port : sa_port(&tp->addr);
	if ((rc = ctp_xfrm_policy_check(&f, &cov, &err)) == 1)
		return 1;
	p->rejections++;
	n->stats.refused_auth++;
	if (rc < 0) {
		peer_error(p, "security ipsec: cannot check the SPD");
		log_err("peer %s (%s): refused: security ipsec, and %s", p->conf.name,
		    sa_fmt(&tp->addr, a, sizeof a), err.what);
	} else {
		peer_error(p, "security ipsec: no ESP policy%s%s", cov.out_ok ? "" : " outbound",
		    cov.in_ok ? "" : " inbound");
		log_err("peer %s (%s): refused: security ipsec, but no ESP policy covers it: %s",
		    p->conf.name, sa_fmt(&tp->addr, a, sizeof a), cov.why);
	}
	return 0;
}

static void
tr_up(struct ctp_tr_peer *tp, void *ud)
{
	struct ctp_node *n = ud;
	struct ctp_peer *p = tp->ud;
	char a[64];

	if (!p && (p = peer_by_transport_addr(n, &tp->addr)) == NULL) {
		n->stats.refused_unknown_peer++;
		log_warn("association from %s refused: no peer is configured with that address",
		    sa_fmt(&tp->addr, a, sizeof a));
		n->tr_ops->close_peer(tp, 1);
		return;
	}
	if (p->tp && p->tp != tp) {
		/* both sides connected at once and the stack kept two: keep the
		 * one the leading side opened */
		int keep_new = tp->outbound == peer_we_lead(p);

		log_info("peer %s: second association; keeping the %s one", p->conf.name,
		    keep_new ? "new" : "old");
		if (!keep_new) {
			n->tr_ops->close_peer(tp, 1);
			return;
		}
		p->tp->ud = NULL;
		n->tr_ops->close_peer(p->tp, 1);
		p->tp = NULL;
	}
	if (!peer_esp_covered(p, tp)) {
		n->tr_ops->close_peer(tp, 1);
		return;
	}
	if (p->reconnect)
		uv_timer_stop(p->reconnect);
	if (!p->chan || p->tp != tp) {
		if (peer_attach(p, tp) < 0) {
			n->tr_ops->close_peer(tp, 1);
			return;
		}
	}
	peer_set_state(p, CTP_PEER_HANDSHAKE, tp->outbound ? "association up (ours)" :
	    "association up (theirs)");
	ctp_chan_start(p->chan);
}

static void
tr_down(struct ctp_tr_peer *tp, int reason, void *ud)
{
	struct ctp_node *n = ud;
	struct ctp_peer *p = tp->ud;

	if (!p || p->tp != tp)
		return;
	if (p->state == CTP_PEER_UP && n->h.peer_down)
		n->h.peer_down(p, n->hud);
	ctp_chan_free(p->chan);
	p->chan = NULL;
	p->tp = NULL;
	if (reason != CTP_TR_DOWN_LOCAL && !p->last_error[0])
		peer_error(p, "association %s", ctp_tr_down_name(reason));
	peer_set_state(p, CTP_PEER_DOWN, ctp_tr_down_name(reason));
	if (n->stopping)
		return;
	/* reconnect with a doubling back-off; the pending queue waits */
	p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : n->conf->timers.reconnect_ms;
	if (p->backoff_ms > BACKOFF_MAX_MS)
		p->backoff_ms = BACKOFF_MAX_MS;
	peer_schedule(p, p->backoff_ms);
}

static void
tr_msg(struct ctp_tr_peer *tp, uint16_t sid, uint32_t ppid, const uint8_t *buf, size_t len,
    void *ud)
{
	struct ctp_peer *p = tp->ud;

	(void)ud;
	if (p && p->chan)
		ctp_chan_input(p->chan, sid, ppid, buf, len);
}

static void
tr_writable(struct ctp_tr_peer *tp, void *ud)
{
	struct ctp_peer *p = tp->ud;

	(void)ud;
	if (!p || !p->chan)
		return;
	ctp_chan_writable(p->chan);
	pending_flush(p);
}

static const struct ctp_tr_cb tr_cb = {
	.up = tr_up,
	.down = tr_down,
	.msg = tr_msg,
	.writable = tr_writable,
};

/* ---- connecting ---------------------------------------------------------- */

static void
peer_connect(struct ctp_peer *p)
{
	struct ctp_node *n = p->node;
	struct sockaddr_storage ss;
	struct ctp_tr_peer *tp = NULL;
	struct ctp_err err = { 0 };

	if (n->stopping || p->tp)
		return;
	peer_transport_addr(p, &ss);
	peer_set_state(p, CTP_PEER_CONNECTING, "connect");
	if (n->tr_ops->connect(n->tr, (struct sockaddr *)&ss, &tp, &err) < 0) {
		peer_error(p, "%s", err.what);
		log_warn("peer %s: cannot connect: %s", p->conf.name, err.what);
		peer_set_state(p, CTP_PEER_DOWN, "connect failed");
		p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : n->conf->timers.reconnect_ms;
		if (p->backoff_ms > BACKOFF_MAX_MS)
			p->backoff_ms = BACKOFF_MAX_MS;
		peer_schedule(p, p->backoff_ms);
		return;
	}
	if (tp->up) {   /* already there (the other side was first) */
		if (!tp->ud)
			tr_up(tp, n);
		return;
	}
	if (peer_attach(p, tp) < 0)
		n->tr_ops->close_peer(tp, 1);
}

static void
reconnect_cb(uv_timer_t *t)
{
	struct ctp_peer *p = t->data;

	if (p->state == CTP_PEER_DOWN)
		peer_connect(p);
}

static void
peer_schedule(struct ctp_peer *p, unsigned ms)
{
	if (!p->reconnect) {
		if ((p->reconnect = calloc(1, sizeof *p->reconnect)) == NULL)
			return;
		uv_timer_init(p->node->loop, p->reconnect);
		p->reconnect->data = p;
	}
	uv_timer_start(p->reconnect, reconnect_cb, ms, 0);
}

/* ---- peers --------------------------------------------------------------- */

static int
peer_copy_conf(struct ctp_conf_peer *dst, const struct ctp_conf_peer *src)
{
	*dst = *src;
	dst->name = strdup(src->name);
	dst->identity = src->identity ? strdup(src->identity) : NULL;
	dst->psk_identity = src->psk_identity ? strdup(src->psk_identity) : NULL;
	dst->psk = src->psk ? ctp_secret_dup(src->psk->p, src->psk->len) : NULL;
	if (!dst->name || (src->identity && !dst->identity) ||
	    (src->psk_identity && !dst->psk_identity) || (src->psk && !dst->psk))
		return CTP_E_NOMEM;
	return 0;
}

static void
peer_conf_release(struct ctp_conf_peer *c)
{
	free(c->name);
	free(c->identity);
	free(c->psk_identity);
	ctp_secret_free(c->psk);
	memset(c, 0, sizeof *c);
}

static void node_release(struct ctp_node *n);

static void
timer_freed(uv_handle_t *h)
{
	struct ctp_node *n = h->data;

	free(h);
	if (n)
		node_release(n);
}

static void
peer_free(struct ctp_peer *p, int abort_assoc)
{
	struct ctp_node *n = p->node;

	pending_drop(p, "peer removed");
	ctp_chan_free(p->chan);
	p->chan = NULL;
	if (p->tp) {
		p->tp->ud = NULL;
		n->tr_ops->close_peer(p->tp, abort_assoc);
	}
	if (p->reconnect) {
		uv_timer_stop(p->reconnect);
		p->reconnect->data = n->stopping ? n : NULL;
		if (n->stopping)
			n->closing++;
		uv_close((uv_handle_t *)p->reconnect, timer_freed);
	}
	peer_conf_release(&p->conf);
	free(p);
}

static int
peer_add(struct ctp_node *n, const struct ctp_conf_peer *c)
{
	struct ctp_peer *p = calloc(1, sizeof *p);

	if (!p)
		return CTP_E_NOMEM;
	p->node = n;
	if (peer_copy_conf(&p->conf, c) < 0) {
		peer_conf_release(&p->conf);
		free(p);
		return CTP_E_NOMEM;
	}
	p->since_ms = ctp_node_now(n);
	n->peers[n->npeers++] = p;
	return 0;
}

/* Start talking to p: the leading side now, the other after reconnect_ms. */
static void
peer_kick(struct ctp_peer *p)
{
	if (peer_we_lead(p))
		peer_connect(p);
	else
		peer_schedule(p, p->node->conf->timers.reconnect_ms);
}

struct ctp_peer *
ctp_node_peer(struct ctp_node *n, const char *name)
{
	for (size_t i = 0; i < n->npeers; i++)
		if (strcmp(n->peers[i]->conf.name, name) == 0)
			return n->peers[i];
	return NULL;
}

void
ctp_peer_addr(const struct ctp_peer *p, struct ctp_addr *a)
{
	sa_to_addr(&p->conf.addr, a);
}

struct ctp_peer *
ctp_node_peer_by_addr(struct ctp_node *n, const struct ctp_addr *a)
{
	for (size_t i = 0; i < n->npeers; i++) {
		struct ctp_addr b;

		sa_to_addr(&n->peers[i]->conf.addr, &b);
		if (ctp_addr_eq(a, &b))
			return n->peers[i];
	}
	return NULL;
}

size_t
ctp_node_npeers(const struct ctp_node *n)
{
	return n->npeers;
}

struct ctp_peer *
ctp_node_peer_at(struct ctp_node *n, size_t i)
{
	return i < n->npeers ? n->peers[i] : NULL;
}

const struct ctp_conf *
ctp_node_conf(const struct ctp_node *n)
{
	return n->conf;
}

struct ctp_registry *
ctp_node_registry(struct ctp_node *n)
{
	return n->reg;
}

struct ctp_ctl *
ctp_node_ctl(struct ctp_node *n)
{
	return n->ctl;
}

struct ctp_node_stats *
ctp_node_stats(struct ctp_node *n)
{
	return &n->stats;
}

uv_loop_t *
ctp_node_loop(struct ctp_node *n)
{
	return n->loop;
}

void
ctp_node_set_handler(struct ctp_node *n, const struct ctp_node_handler *h, void *ud)
{
	n->h = *h;
	n->hud = ud;
}

/* ---- sending --------------------------------------------------------------- */

/* The type of an outgoing message, counted: ctp_node_send checks nothing of
 * what it is given, so a type beyond the table counts as type 0. */
void
ctp_node_count_out(struct ctp_node *n, uint8_t first)
{
	unsigned t = first & 0x1f;

	n->stats.msgs_out[t <= CTP_MSG_MAX ? t : 0]++;
}

int
ctp_node_send(struct ctp_peer *p, const uint8_t *msg, size_t len, unsigned flags)
{
	struct ctp_node *n = p->node;
	struct ctp_pending *q, **tail;
	int rc;

	if (len < CTP_HDR_LEN)
		return CTP_E_INVAL;
	if (p->state == CTP_PEER_UP && !p->pending) {
		rc = ctp_chan_send(p->chan, msg, len, flags);
		if (rc == 0) {
			p->msgs_out++;
			p->bytes_out += len;
			ctp_node_count_out(n, msg[0]);
			n->stats.bytes_out += len;
			capture_peer(p, 0, msg, len);
			return 0;
		}
		if (rc != CTP_E_AGAIN) {
			if (rc == CTP_E_AUTH)
				n->stats.refused_keys_plain++;
			n->stats.send_failures++;
			return rc;
		}
	}
	/* wait for the channel (or for room in the transport's queue) */
	if (p->npending >= PENDING_MAX) {
		n->stats.send_failures++;
		log_warn("peer %s: send queue full (%d messages); message dropped", p->conf.name,
		    PENDING_MAX);
		return CTP_E_AGAIN;
	}
	if ((q = malloc(sizeof *q + len)) == NULL)
		return CTP_E_NOMEM;
	q->next = NULL;
	q->flags = flags;
	q->len = len;
	memcpy(q->buf, msg, len);
	for (tail = &p->pending; *tail; tail = &(*tail)->next)
		;
	*tail = q;
	p->npending++;
	if (p->state == CTP_PEER_DOWN && (!p->reconnect || !uv_is_active((uv_handle_t *)p->reconnect)))
		peer_connect(p);
	return 0;
}

/* ---- life cycle -------------------------------------------------------------- */

int
ctp_node_new(uv_loop_t *loop, struct ctp_conf *conf, struct ctp_node **out, struct ctp_err *err)
{
	struct ctp_node *n = calloc(1, sizeof *n);
	int rc;

	if (!n) {
		ctp_conf_free(conf);
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
	}
	n->loop = loop;
	n->conf = conf;
	switch (conf->backend) {
	case CTP_BACKEND_KERNEL:
		n->tr_ops = &ctp_tr_kernel;
		snprintf(n->tr_why, sizeof n->tr_why, "configured");
		break;
	case CTP_BACKEND_USRSCTP:
		n->tr_ops = &ctp_tr_usrsctp;
		snprintf(n->tr_why, sizeof n->tr_why, "configured");
		break;
	case CTP_BACKEND_MEM:
		n->tr_ops = &ctp_tr_mem;
		snprintf(n->tr_why, sizeof n->tr_why, "in-memory wire (tests)");
		break;
	default:
		n->tr_ops = ctp_tr_pick(n->tr_why, sizeof n->tr_why);
	}
	if ((n->reg = ctp_registry_new(&host_ops, (struct ctp_host *)(void *)n)) == NULL) {
		free(n);
		ctp_conf_free(conf);
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
	}
	/* peers first: plugins may ask about them while they initialise */
	for (size_t i = 0; i < conf->npeers; i++)
		if ((rc = peer_add(n, &conf->peers[i])) < 0) {
			ctp_err_set(err, rc, 0, 0, "out of memory");
			goto fail;
		}
	for (size_t i = 0; i < conf->nplugins; i++) {
		const struct ctp_conf_plugin *pl = &conf->plugins[i];
		char path[4096], dirbuf[4096];
		const char *dir = conf->plugin_dir ? conf->plugin_dir :
		    ctp_registry_default_dir(dirbuf, sizeof dirbuf);

		if (pl->path)
			snprintf(path, sizeof path, "%s", pl->path);
		else
			snprintf(path, sizeof path, "%s/%s.so", dir ? dir : ".", pl->name);
		if ((rc = ctp_registry_load(n->reg, path, pl->config, err)) < 0)
			goto fail;
		log_info("plugin %s loaded from %s", pl->name, path);
	}
	*out = n;
	return 0;
fail:
	for (size_t i = 0; i < n->npeers; i++)
		peer_free(n->peers[i], 1);
	ctp_registry_free(n->reg);
	free(n);
	ctp_conf_free(conf);
	return err->code ? err->code : CTP_E_PLUGIN;
}

static int
node_needs_tls(const struct ctp_conf *c)
{
	for (size_t i = 0; i < c->npeers; i++)
		if (c->peers[i].sec == CTP_SEC_TLS)
			return 1;
	return 0;
}

int
ctp_node_start(struct ctp_node *n, struct ctp_err *err)
{
	struct ctp_conf *c = n->conf;
	struct ctp_tr_cfg tc = {
		.name = c->node_name,
		.bind = c->bind,
		.sctp_port = c->sctp_port,
		.udp_port = c->udp_port,
		.udp_encaps = c->udp_encaps,
		.max_peers = c->limits.peers,
		.max_transfer_ms = c->timers.max_transfer_ms,
		.queue_max = c->limits.queue_bytes,
		.idle_peer_ms = 30000,
	};
	int rc;

	n->started_ms = ctp_node_now(n);
	log_notice("node %s: transport %s (%s)", c->node_name, n->tr_ops->name, n->tr_why);
	sa_set_port(&tc.bind, usrsctp_backend(n) ? c->udp_port : c->sctp_port);
	if (node_needs_tls(c) && (rc = ctp_tls_new(&c->tls, &n->tls, err)) < 0)
		return rc;
	if (c->pcap && (rc = ctp_pcap_open(c->pcap, &n->pcap, err)) < 0)
		return rc;
	if (c->control) {
		if ((rc = ctp_ctl_open(n->loop, c->control, c->limits.control_clients, &n->ctl, err)) < 0)
			return rc;
		node_register_commands(n);
		for (size_t i = 0; i < n->ncmds; i++)
			ctp_ctl_register(n->ctl, n->cmds[i].name, host_ctl_trampoline, &n->cmds[i]);
	}
	if ((rc = n->tr_ops->open(n->loop, &tc, &tr_cb, n, &n->tr, err)) < 0)
		return rc;
	for (size_t i = 0; i < n->npeers; i++)
		peer_kick(n->peers[i]);
	return 0;
}

static void
node_finish(struct ctp_node *n)
{
	void (*done)(void *) = n->done;
	void *done_arg = n->done_arg;

	ctp_tls_free(n->tls);
	ctp_registry_free(n->reg);
	if (n->pcap)
		ctp_pcap_close(n->pcap);
	ctp_conf_free(n->conf);
	free(n);
	if (done)
		done(done_arg);
}

/* One of the things ctp_node_stop waits for has finished. */
static void
node_release(struct ctp_node *n)
{
	if (--n->closing == 0)
		node_finish(n);
}

static void
tr_closed(void *arg)
{
	struct ctp_node *n = arg;

	n->tr = NULL;
	node_release(n);
}

void
ctp_node_stop(struct ctp_node *n, void (*done)(void *), void *arg)
{
	n->stopping = 1;
	n->done = done;
	n->done_arg = arg;
	n->closing = 1;   /* held until everything below has been started */
	if (n->ctl) {
		ctp_ctl_close(n->ctl);
		n->ctl = NULL;
	}
	for (size_t i = 0; i < n->npeers; i++)
		peer_free(n->peers[i], 0);
	n->npeers = 0;
	if (n->tr) {
		n->closing++;
		n->tr_ops->close(n->tr, tr_closed, n);
	}
	node_release(n);
}

/* ---- reload ---------------------------------------------------------------- */

int
ctp_node_reload(struct ctp_node *n, struct ctp_conf *nc, struct ctp_err *err)
{
	struct ctp_conf *oc = n->conf;
	size_t kept = 0, added = 0, changed = 0, removed = 0;

	(void)err;
	if (oc->backend != nc->backend || oc->sctp_port != nc->sctp_port ||
	    oc->udp_port != nc->udp_port || sa_cmp(&oc->bind, &nc->bind) != 0)
		log_warn("reload: transport settings changed; they take effect after a restart");
	if (oc->nplugins != nc->nplugins)
		log_warn("reload: plugin list changed; it takes effect after a restart");
	/* peers that went away or changed */
	for (size_t i = 0; i < n->npeers;) {
		struct ctp_peer *p = n->peers[i];
		const struct ctp_conf_peer *np = ctp_conf_peer(nc, p->conf.name);

		if (np && !ctp_conf_peer_changed(&p->conf, np)) {
			i++;
			kept++;
			continue;
		}
		if (np)
			changed++;
		else
			removed++;
		log_info("reload: peer %s %s", p->conf.name, np ? "changed: new association" : "removed");
		peer_free(p, 0);
		n->peers[i] = n->peers[--n->npeers];
	}
	n->conf = nc;
	/* new and changed peers */
	for (size_t i = 0; i < nc->npeers; i++) {
		if (ctp_node_peer(n, nc->peers[i].name))
			continue;
		if (peer_add(n, &nc->peers[i]) < 0)
			return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
		added++;
		peer_kick(n->peers[n->npeers - 1]);
	}
	ctp_log_set_level(nc->log_level);
	log_notice("reload: %zu peers kept, %zu changed, %zu added, %zu removed", kept, changed,
	    added - changed, removed);
	ctp_conf_free(oc);
	return 0;
}

/* ---- control commands ------------------------------------------------------- */

static struct ctp_val *
roles_val(unsigned roles)
{
	struct ctp_val *a = ctp_val_arr();

	if (a && (roles & CTP_ROLE_AR))
		ctp_val_arr_push(a, ctp_val_str("ar"));
	if (a && (roles & CTP_ROLE_SG))
		ctp_val_arr_push(a, ctp_val_str("sg"));
	return a;
}

static int
cmd_status(const struct ctp_val *req, struct ctp_val *r, void *ud, struct ctp_err *err)
{
	struct ctp_node *n = ud;
	struct ctp_val *pl = ctp_val_arr();
	size_t up = 0;

	(void)req;
	(void)err;
	for (size_t i = 0; i < n->npeers; i++)
		up += n->peers[i]->state == CTP_PEER_UP;
	for (size_t i = 0; pl && i < ctp_registry_count(n->reg); i++)
		ctp_val_arr_push(pl, ctp_val_str(ctp_registry_at(n->reg, i)->feat->name));
	ctp_val_set_str(r, "node", n->conf->node_name);
	ctp_val_set_str(r, "version", CTP_VERSION_STR);
	ctp_val_obj_set(r, "roles", roles_val(n->conf->roles));
	ctp_val_set_u64(r, "uptime_ms", ctp_node_now(n) - n->started_ms);
	ctp_val_set_str(r, "backend", n->tr_ops->name);
	ctp_val_set_str(r, "backend_reason", n->tr_why);
	ctp_val_set_u64(r, "peers", n->npeers);
	ctp_val_set_u64(r, "peers_up", up);
	{
		/* the locked arena keys live in (ctp_secret.h); 0: not locked */
		size_t arena, used;

		ctp_secret_stats(&arena, &used);
		ctp_val_set_u64(r, "key_arena_bytes", arena);
		ctp_val_set_u64(r, "key_arena_used", used);
	}
	if (n->h.describe_status)
		n->h.describe_status(r, n->hud);
	return ctp_val_obj_set(r, "plugins", pl);
}

static int
cmd_peers(const struct ctp_val *req, struct ctp_val *r, void *ud, struct ctp_err *err)
{
	struct ctp_node *n = ud;
	struct ctp_val *arr = ctp_val_arr();

	(void)req;
	(void)err;
	for (size_t i = 0; arr && i < n->npeers; i++) {
		struct ctp_peer *p = n->peers[i];
		struct ctp_val *o = ctp_val_obj();
		struct ctp_addr a;
		char buf[CTP_ADDRSTRLEN];

		if (!o)
			break;
		sa_to_addr(&p->conf.addr, &a);
		ctp_val_set_str(o, "name", p->conf.name);
		ctp_val_set_str(o, "address", ctp_addr_fmt(&a, buf, sizeof buf));
		ctp_val_set_u64(o, "port", sa_port(&p->conf.addr));
		ctp_val_obj_set(o, "roles", roles_val(p->conf.roles));
		ctp_val_set_str(o, "security", ctp_sec_name(p->conf.sec));
		ctp_val_set_str(o, "state", ctp_peer_state_name(p->state));
		ctp_val_obj_set(o, "authenticated", ctp_val_bool(p->state == CTP_PEER_UP &&
		    p->conf.sec == CTP_SEC_TLS));
		ctp_val_set_str(o, "cipher", p->chan && p->state == CTP_PEER_UP ?
		    ctp_chan_cipher(p->chan) : "");
		ctp_val_set_u64(o, "since_ms", ctp_node_now(n) - p->since_ms);
		ctp_val_set_u64(o, "msgs_in", p->msgs_in);
		ctp_val_set_u64(o, "msgs_out", p->msgs_out);
		ctp_val_set_u64(o, "bytes_in", p->bytes_in);
		ctp_val_set_u64(o, "bytes_out", p->bytes_out);
		ctp_val_set_u64(o, "rejections", p->rejections);
		ctp_val_set_str(o, "last_error", p->last_error);
		ctp_val_arr_push(arr, o);
	}
	return ctp_val_obj_set(r, "peers", arr);
}

static int
cmd_stats(const struct ctp_val *req, struct ctp_val *r, void *ud, struct ctp_err *err)
{
	struct ctp_node *n = ud;
	struct ctp_val *in = ctp_val_obj(), *out = ctp_val_obj(), *rej = ctp_val_obj();

	(void)req;
	(void)err;
	for (unsigned t = 1; t <= CTP_MSG_MAX; t++) {
		ctp_val_set_u64(in, ctp_msg_name(t), n->stats.msgs_in[t]);
		ctp_val_set_u64(out, ctp_msg_name(t), n->stats.msgs_out[t]);
	}
	ctp_val_set_u64(rej, "unknown_peer", n->stats.refused_unknown_peer);
	ctp_val_set_u64(rej, "authentication", n->stats.refused_auth);
	ctp_val_set_u64(rej, "keys_on_plaintext", n->stats.refused_keys_plain);
	ctp_val_obj_set(r, "messages_in", in);
	ctp_val_obj_set(r, "messages_out", out);
	ctp_val_set_u64(r, "bytes_in", n->stats.bytes_in);
	ctp_val_set_u64(r, "bytes_out", n->stats.bytes_out);
	ctp_val_set_u64(r, "handshakes", n->stats.handshakes);
	ctp_val_set_u64(r, "handshake_failures", n->stats.handshake_failures);
	ctp_val_obj_set(r, "rejections", rej);
	ctp_val_set_u64(r, "decode_errors", n->stats.decode_errors);
	if (n->h.describe_stats)
		n->h.describe_stats(r, n->hud);
	return ctp_val_set_u64(r, "send_failures", n->stats.send_failures);
}

static int
cmd_plugins(const struct ctp_val *req, struct ctp_val *r, void *ud, struct ctp_err *err)
{
	struct ctp_node *n = ud;
	struct ctp_val *arr = ctp_val_arr();

	(void)req;
	(void)err;
	for (size_t i = 0; arr && i < ctp_registry_count(n->reg); i++) {
		const struct ctp_plugin *p = ctp_registry_at(n->reg, i);
		struct ctp_val *o = ctp_val_obj(), *f = ctp_val_arr();

		for (size_t k = 0; f && k < p->feat->nfpts; k++)
			ctp_val_arr_push(f, ctp_val_u64(p->feat->fpts[k]));
		ctp_val_set_str(o, "name", p->feat->name);
		ctp_val_set_str(o, "version", p->feat->version ? p->feat->version : "");
		ctp_val_obj_set(o, "fpts", f);
		ctp_val_set_str(o, "path", p->path ? p->path : "built in");
		ctp_val_arr_push(arr, o);
	}
	return ctp_val_obj_set(r, "plugins", arr);
}

/* {"cmd":"send","peer":NAME,"hex":MSG}: send one message as it is (after
 * checking it decodes): a debugging and replay aid. */
static int
cmd_send(const struct ctp_val *req, struct ctp_val *r, void *ud, struct ctp_err *err)
{
	struct ctp_node *n = ud;
	const char *name;
	struct ctp_peer *p;
	struct ctp_msg *m;
	uint8_t *buf;
	size_t len;
	int rc;

	(void)r;
	if (ctp_val_get_str(req, "peer", &name, err) < 0)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "send needs \"peer\" and \"hex\"");
	if ((p = ctp_node_peer(n, name)) == NULL)
		return ctp_err_set(err, CTP_E_NOTFOUND, 0, 0, "no peer named \"%s\"", name);
	if ((buf = malloc(CTP_MAX_MSG_LEN)) == NULL || (m = malloc(sizeof *m)) == NULL) {
		free(buf);
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
	}
	rc = ctp_val_get_hex(req, "hex", buf, CTP_MAX_MSG_LEN, &len, err);
	if (rc == CTP_E_NOTFOUND)
		rc = ctp_err_set(err, CTP_E_INVAL, 0, 0, "send needs \"hex\"");
	if (rc == 0 && (rc = ctp_msg_decode(m, buf, len, 0, err)) < 0)
		ctp_err_set(err, rc, 0, 0, "message does not decode: offset %zu: %s", err->off, err->what);
	if (rc == 0 && (rc = ctp_node_send(p, buf, len,
	    m->type == CTP_MSG_PCTD ? CTP_CHAN_KEYS : 0)) < 0)
		ctp_err_set(err, rc, 0, 0, "send to %s failed: %s", name, ctp_strerror(rc));
	ctp_wipe(buf, CTP_MAX_MSG_LEN);
	free(buf);
	free(m);
	return rc;
}

static void
node_register_commands(struct ctp_node *n)
{
	ctp_ctl_register(n->ctl, "status", cmd_status, n);
	ctp_ctl_register(n->ctl, "peers", cmd_peers, n);
	ctp_ctl_register(n->ctl, "stats", cmd_stats, n);
	ctp_ctl_register(n->ctl, "plugins", cmd_plugins, n);
	ctp_ctl_register(n->ctl, "send", cmd_send, n);
}
