/*
 * ipsec_sad_mem.c: the mem backend of ipsec_sad.h: an SA database in the
 * daemon's memory with a real ESP datapath (ipsec_esp.h), for gateways
 * without kernel IPsec, for tests and for the demo.
 *
 * The database.  Every SA lives in one struct mem_sa holding the SA as
 * installed (keys included: this is the SAD), its ESP engine, its state
 * (active, frozen, quarantined) and its counters.  Four hash tables of
 * chains index them: by SPI (the lookup triple SPI, protocol, destination
 * of RFC 4301 4.4.2, compared in full), by local and by peer address (the
 * MN's address, for list()), and by the one address the SA's selectors
 * cover when they name a single address (an MN's tunnel SA); one more
 * chain holds the SAs whose selectors name subnets, which list() walks
 * whole.  The address chains are doubly linked: at a gateway every SA
 * shares the local address, so removal must not walk them (a fail-over of
 * 10^5 SAs did, quadratically).  A doubly linked list keeps the install
 * order, which is
 * the order of list(), describe() and the state file.  No SPD: the
 * selectors travel with each SA (PROFILE 6) and are only used to find an
 * MN's SAs: a selector covers an MN when the MN's address lies in its
 * source or destination prefix and that prefix is not the wildcard
 * (length 0 would make every SA everybody's).
 *
 * The datapath (config "datapath"):
 *
 *   raw   socket(AF_INET[6], SOCK_RAW, IPPROTO_ESP): the ESP packets
 *         addressed to this node.  Needs CAP_NET_RAW.  Checked on the
 *         development host (kernel without an ESP protocol handler): raw
 *         sockets of protocol 50 receive ESP sent to 127.0.0.1 and ::1.
 *         With a kernel that has its own ESP (xfrm), raw sockets still get
 *         a copy of every packet, and the kernel's SAD answers too: do not
 *         use both on one host.
 *   udp   RFC 3948 UDP encapsulation on config "port" (default 4500):
 *         packets whose first four octets are zero carry the non-ESP
 *         marker (IKE, RFC 3948 2.2) and a single 0xFF octet is a NAT
 *         keep-alive (2.3): both are counted and dropped, this backend
 *         speaks only ESP.  No privilege needed (a port above 1023).
 *   none  no sockets (the default): the SAD still installs, freezes and
 *         snapshots.
 *
 * An inbound packet is matched by SPI and its destination address (the
 * header's, or IP_PKTINFO / IPV6_PKTINFO for UDP), then by the SPI alone
 * (RFC 4301 4.1 allows SPI-only look-ups for unicast); a packet for an SA
 * this node sends on (the loopback of its own echo on raw sockets) is
 * "looped", anything else "unknown SPI".  Frozen inbound SAs keep
 * accepting: during a handover the MN may still send to the old gateway.
 * Quarantined SAs accept and send nothing.  Once removed, an SA's packets
 * are unknown SPIs.
 *
 * With config "echo" true, every accepted packet (but dummies, Next Header
 * 59) is answered with one packet carrying the same payload and Next
 * Header on the reverse SA: the outbound SA whose peer is the inbound SA's
 * peer (the MN), the most recently installed one that is active.  UDP
 * answers go to the address and port the packet came from (RFC 3948 NAT
 * traversal), raw answers to the reverse SA's peer; both leave from the
 * address the packet was sent to.  A frozen or quarantined reverse SA never
 * sends (PROFILE 5.1): the packet is counted as "blocked" on it.  This is
 * how tests observe the gateway's outbound sequence numbers.  A gateway
 * can also originate packets (ipsec_sad_mem_esp_send, the plugin's
 * "esp-send" command): dummies (Next Header 59) on an active outbound SA,
 * which the peer counts and never echoes, for SAs whose both ends are
 * gateways (type 4).
 *
 * Lifetimes: hard limits (bytes, packets, add-time, use-time) stop an SA
 * in both directions (counted as "expired"); soft limits are reported by
 * describe() only, there is no IKE here to rekey.
 *
 * Persistence (config "state-file"): the userspace equivalent of the
 * kernel's SAD outliving the daemon.  The kernel keeps its SAs and their
 * counters when the IKE or CXTP daemon dies; a mem SAD keeps them in a file
 * instead, rewritten whole (to a temporary file, fsync'ed, then renamed)
 * on every install, remove, freeze, thaw and quarantine.  Outbound
 * sequence counters go to the file with a reservation: the file says
 * next = current + R (config "seq-reserve", default 4096), and is written
 * again, before the packet leaves, whenever a number reaches the value on
 * file.  A daemon killed at any instant therefore restarts at a number no
 * packet ever carried (PROFILE 5.1), at the cost of up to R unused
 * numbers.  Inbound replay windows are written at the same points and
 * every second when packets arrived (config "persist-ms", like Linux's
 * aevents at 1 s): a restart may forget up to that much of the window, so
 * a replay of a packet accepted in the last second before a crash can be
 * accepted once more; a receiver cannot reserve.  An SA on file as frozen
 * comes back quarantined: the transfer that froze it died with the daemon,
 * so no verdict will come, and its sink may have taken it (PROFILE 5.1).  The file holds the keys,
 * exactly as the kernel's memory does: it is created 0600, and its
 * directory should be the daemon's alone.
 *
 *   "CTPSAD01" | record count (4) | records:
 *   state (1) | flags (1: 0x01 sequence space used up) | CDB length (2) |
 *   add time, ms since the epoch (8) | first use, ms (8, 0 unused) |
 *   bytes (8) | packets (8) | reserved next sequence number (8) |
 *   the SA as one CDB of FPT 0xFF01 (ipsec_sa_encode), without USAGE
 *
 * Snapshots: every PROFILE 6 field the SA was installed with, and fresh from
 * the datapath: SEQ_OUT (next = the engine's next number: the highest sent
 * + 1 once anything was sent; margin 0: the plugin adds the sink's margin,
 * not this backend), REPLAY (always, for inbound SAs, so that ESN
 * inference survives the move), USAGE (bytes, packets, ms since added and
 * since first use).  An active outbound SA cannot be snapshot: freeze it
 * first (PROFILE 5.1: the source stops before the snapshot).
 *
 * Threading and memory: the loop thread only.  Each SA is one allocation
 * (wiped and freed on remove and close) holding its links, counters, the
 * few fields every look-up reads, and the SA itself encoded as one CDB
 * (about 100 to 200 octets, where the decoded struct ipsec_sa takes 2.7
 * KiB): a gateway holds 10^6 SAs in about 0.45 GB.  The SA is decoded when a
 * snapshot, describe() or the state file needs all of it.  An ESP engine
 * (OpenSSL contexts, the replay window: 1 to 2 KiB more) is made at install
 * and kept only with a datapath (or for an SA restored with its sequence
 * space used up); without one (datapath "none") nothing can move its
 * counters, so the install checks that an engine can be made, stores the SA
 * as that engine exports it (SEQ_OUT, REPLAY) and frees it: snapshot,
 * describe and the state file read the stored SA, as the engine would give
 * it.  The SAD's receive, plaintext and send buffers are part of its one
 * allocation (not the SAs': one struct ipsec_sad), which the last uv close
 * callback frees: after close(), run the loop once for the memory to go.
 * Keys are wiped at close() itself.  Bounded: at most config "max-sas"
 * SAs (default 65536), one packet buffer each way, at most 64 datagrams per
 * socket wake-up.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ctp/ctp_log.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_proto.h"
#include "ctp/ctp_secret.h"
#include "ctp/ctp_tlv.h"
#include "features/ipsec/ipsec_esp.h"
#include "features/ipsec/ipsec_sad.h"
#include "features/ipsec/ipsec_xfer.h"

/*
 * libuv by weak reference: the ipsec objects are linked into programs that
 * have libuv (ctpd, ctpctl, ctpmn, the unit tests) and into some that do
 * not and never open a datapath (the fuzz harnesses, tests/fuzz/run.sh,
 * and the plugin they load).  A mem SAD that needs the loop (a datapath, a
 * state file) checks at open that libuv is there.
 */
#pragma weak uv_close
#pragma weak uv_poll_init
#pragma weak uv_poll_start
#pragma weak uv_poll_stop
#pragma weak uv_strerror
#pragma weak uv_timer_init
#pragma weak uv_timer_start
#pragma weak uv_timer_stop

#define MEM_PORT_DEFAULT        4500       /* RFC 3948 */
#define MEM_MAX_SAS_DEFAULT     65536
#define MEM_MAX_SAS_LIMIT       (1u << 20)
#define MEM_SEQ_RESERVE_DEFAULT 4096
#define MEM_PERSIST_MS_DEFAULT  1000
#define MEM_BUCKETS_MIN         64
#define MEM_BATCH               64
#define MEM_BUF                 65536
#define MEM_RCVBUF              (1024 * 1024)
#define MEM_IP4_MIN             20
#define MEM_FILE_MAGIC          "CTPSAD01"
#define MEM_FILE_HDR            12         /* magic, record count */
#define MEM_REC_HDR             44
#define MEM_CDB_MAX             2048
#define MEM_REC_EXHAUSTED       0x01
#define MEM_SEQ32_MAX           UINT64_C(0xffffffff)
#define MEM_SEND_PAYLOAD        20         /* esp_send: magic, counter, time */

enum mem_datapath { MEM_DP_NONE = 0, MEM_DP_RAW, MEM_DP_UDP };

static const char *const mem_dp_names[] = { "none", "raw", "udp" };
static const char *const mem_state_names[] = { "active", "frozen", "quarantined" };

/* The few fields of an SA that the tables, list() and the datapath read on
 * every look-up or packet; the rest stays encoded in mem_sa.cdb. */
struct mem_sa_hot {
	uint32_t        spi;
	uint8_t         protocol, direction, flags;
	bool            has_lifetime;
	bool            has_encap;
	uint16_t        encap_dport;
	int8_t          sel_kind;    /* ipsec_sad_mem_sel_key(): 1, 0 or -1 */
	struct ctp_addr local, peer;
	struct ctp_addr sel_key;     /* when sel_kind is 1 */
};

struct mem_sa {
	struct mem_sa          *next_spi;    /* chain of by_spi */
	struct mem_sa          *next_local;  /* chain of by_local */
	struct mem_sa          *next_peer;   /* chain of by_peer */
	struct mem_sa          *next_sel;    /* chain of by_sel, or of sel_wide */
	/* what points at this SA in the chains above (NULL: in none): every SA
	 * of a gateway shares its local address, every tunnel SA to one far
	 * gateway its peer, so those chains are as long as the SAD and removal
	 * must not walk them */
	struct mem_sa         **pprev_local, **pprev_peer, **pprev_sel;
	struct mem_sa          *prev, *next; /* install order */
	struct mem_sa_hot       sa;          /* what the tables and the datapath read */
	struct ipsec_sa_ref     ref;
	enum ipsec_sa_state     state;
	struct ipsec_esp       *esp;         /* a datapath's engine; NULL without one */
	uint16_t                cdb_len;
	uint64_t                next0;       /* out, no engine: SEQ_OUT as installed */
	uint64_t                order;       /* install sequence */
	uint64_t                mark;        /* list() de-duplication */
	uint64_t                add_ms;      /* wall clock, ms since the epoch */
	uint64_t                use_ms;      /* first use; 0 unused */
	uint64_t                base_bytes, base_packets;  /* USAGE at install */
	uint64_t                reserved;    /* out: every number used is below this */
	uint64_t                blocked;     /* not sent (frozen, quarantined) or dropped */
	uint64_t                expired;     /* refused by a hard lifetime */
	uint64_t                send_errors;
	uint8_t                 cdb[];       /* the SA as installed, keys included:
	                                      * one CDB of FPT 0xFF01 (ipsec_sa_encode) */
};

struct mem_sock {
	uv_poll_t         poll;
	struct ipsec_sad *s;
	int               fd;       /* -1 when not open */
	int               family;   /* AF_INET, AF_INET6 */
	int               polling;  /* poll initialised: needs uv_close */
};

struct ipsec_sad {
	struct ipsec_sad_env env;
	enum mem_datapath    dp;
	uint16_t             port;
	int                  echo;
	uint64_t             seq_reserve;
	uint64_t             persist_ms;
	size_t               max_sas;
	char                *state_file;
	uint8_t              ok[64];       /* per ipsec_algs[] row: usable here */

	struct mem_sa      **by_spi, **by_local, **by_peer, **by_sel;
	size_t               nbuckets;     /* a power of two */
	struct mem_sa       *first, *last, *sel_wide;
	size_t               count;
	uint64_t             order, mark;

	struct mem_sock      sock[2];      /* IPv4, IPv6 */
	uv_timer_t           timer;
	int                  timer_init;
	unsigned             open_handles;
	int                  opened;       /* the state file was read whole: close may write it */
	int                  closing;
	int                  dirty;        /* inbound windows moved since the last write */

	struct {
		uint64_t in, unknown_spi, looped, ike, keepalive, malformed, blocked,
		    no_reverse, echoed, originated, send_errors, persisted, persist_errors;
	} c;

	uint8_t              rx[MEM_BUF];
	uint8_t              pt[MEM_BUF];
	uint8_t              tx[MEM_BUF];
	union {
		struct cmsghdr   align;
		uint8_t          buf[256];
	} cbuf;
};

/* ---- small helpers ------------------------------------------------------ */

static void ipsec_sad_mem_logf(const struct ipsec_sad *s, int level, const char *func,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The arguments (an SA's name) are formatted only for a line the host
 * will write: a bulk move logs every SA at info level (issue 8). */
#define ipsec_sad_mem_log(s, level, func, ...)                                 \
	(ipsec_xfer_sad_log_on(&(s)->env, (level)) ?                              \
	 ipsec_sad_mem_logf((s), (level), (func), __VA_ARGS__) : (void)0)

static void
ipsec_sad_mem_logf(const struct ipsec_sad *s, int level, const char *func, const char *fmt,
    ...)
{
	char line[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	s->env.log(s->env.log_arg, level, func, line);
}

static uint64_t
ipsec_sad_mem_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ms from then to now; 0 for "never" (then = 0) */
static uint64_t
ipsec_sad_mem_since(uint64_t now, uint64_t then)
{
	return then && now > then ? now - then : 0;
}

/* "0x00001234 out 192.0.2.7" for log lines. */
static const char *
ipsec_sad_mem_sa_name(const struct mem_sa *m, char *buf, size_t len)
{
	char a[CTP_ADDRSTRLEN];

	snprintf(buf, len, "0x%08x %s %s", m->sa.spi,
	    m->sa.direction == CTP_DIRECTION_OUT ? "out" : "in",
	    ctp_addr_fmt(&m->ref.dst, a, sizeof a));
	return buf;
}

static void
ipsec_sad_mem_set_state(struct ipsec_sad *s, struct mem_sa *m, enum ipsec_sa_state st,
    const char *event)
{
	char id[80];

	if (m->state == st)
		return;
	ipsec_sad_mem_log(s, CTP_LOG_INFO, __func__, "SA %s: %s -> %s (%s)",
	    ipsec_sad_mem_sa_name(m, id, sizeof id), mem_state_names[m->state],
	    mem_state_names[st], event);
	m->state = st;
}

/* Powers of two: a flood of bad packets costs a few dozen log lines. */
static int
ipsec_sad_mem_pow2(uint64_t n)
{
	return n && (n & (n - 1)) == 0;
}

static int
ipsec_sad_mem_is_out(const struct mem_sa *m)
{
	return m->sa.direction == CTP_DIRECTION_OUT;
}

/* The whole SA as installed, decoded from m->cdb into *out (clear it with
 * ipsec_sa_clear after use: it holds the keys).  0 or CTP_E_*. */
static int
ipsec_sad_mem_sa_get(const struct mem_sa *m, struct ipsec_sa *out)
{
	struct ctp_cur c;
	struct ctp_cdb cdb;
	int rc;

	ctp_cur_init(&c, m->cdb, m->cdb_len, 0);
	if ((rc = ctp_cdb_next(&c, 0, &cdb, NULL)) != 1)
		return rc < 0 ? rc : CTP_E_CDB;
	return ipsec_sa_decode(&cdb, out, NULL);
}

/* Outbound: the number the next packet would carry, and whether the space
 * is used up; without an engine, as the SA was installed (nothing sends). */
static uint64_t
ipsec_sad_mem_next_seq(const struct mem_sa *m)
{
	return m->esp ? ipsec_esp_next_seq(m->esp) : m->next0;
}

static int
ipsec_sad_mem_exhausted(const struct mem_sa *m)
{
	return m->esp ? ipsec_esp_exhausted(m->esp) : 0;
}

void
ipsec_sa_ref_of(const struct ipsec_sa *sa, struct ipsec_sa_ref *ref)
{
	memset(ref, 0, sizeof *ref);
	ref->spi = sa->spi;
	ref->protocol = sa->protocol;
	/* RFC 4301 4.4.2: the destination of the SA's packets */
	ref->dst = sa->direction == CTP_DIRECTION_IN ? sa->local : sa->peer;
}

/* ---- the tables --------------------------------------------------------- */

static size_t
ipsec_sad_mem_hash_spi(const struct ipsec_sad *s, uint32_t spi)
{
	return (size_t)((spi * UINT32_C(2654435761)) >> 8) & (s->nbuckets - 1);
}

static size_t
ipsec_sad_mem_hash_addr(const struct ipsec_sad *s, const struct ctp_addr *a)
{
	uint32_t h = 2166136261u ^ a->family;

	for (size_t i = 0; i < ctp_addr_len(a->family); i++)
		h = (h ^ a->a[i]) * 16777619u;
	return h & (s->nbuckets - 1);
}

static int
ipsec_sad_mem_ref_eq(const struct ipsec_sa_ref *x, const struct ipsec_sa_ref *y)
{
	return x->spi == y->spi && x->protocol == y->protocol && ctp_addr_eq(&x->dst, &y->dst);
}

static struct mem_sa *
ipsec_sad_mem_find(const struct ipsec_sad *s, const struct ipsec_sa_ref *ref)
{
	for (struct mem_sa *m = s->by_spi[ipsec_sad_mem_hash_spi(s, ref->spi)]; m; m = m->next_spi)
		if (ipsec_sad_mem_ref_eq(&m->ref, ref))
			return m;
	return NULL;
}

/* The inbound ESP SA of a packet: SPI and destination, else the SPI alone
 * when that is unambiguous (RFC 4301 4.1). */
static struct mem_sa *
ipsec_sad_mem_find_in(const struct ipsec_sad *s, uint32_t spi, const struct ctp_addr *dst)
{
	struct mem_sa *only = NULL;
	int n = 0;

	for (struct mem_sa *m = s->by_spi[ipsec_sad_mem_hash_spi(s, spi)]; m; m = m->next_spi) {
		if (m->sa.spi != spi || m->sa.protocol != CTP_IPPROTO_ESP ||
		    ipsec_sad_mem_is_out(m))
			continue;
		if (dst && ctp_addr_eq(&m->ref.dst, dst))
			return m;
		only = m;
		n++;
	}
	return n == 1 ? only : NULL;
}

static int
ipsec_sad_mem_is_own_spi(const struct ipsec_sad *s, uint32_t spi)
{
	for (struct mem_sa *m = s->by_spi[ipsec_sad_mem_hash_spi(s, spi)]; m; m = m->next_spi)
		if (m->sa.spi == spi && ipsec_sad_mem_is_out(m))
			return 1;
	return 0;
}

/* Insert m at the head of a chain / take it out, in O(1) either way. */
#define MEM_CHAIN_PUSH(head, m, nx, pv) do {                                  \
		(m)->nx = *(head);                                            \
		if (*(head))                                                  \
			(*(head))->pv = &(m)->nx;                             \
		*(head) = (m);                                                \
		(m)->pv = (head);                                             \
	} while (0)
#define MEM_CHAIN_DEL(m, nx, pv) do {                                         \
		if ((m)->pv) {                                                \
			*(m)->pv = (m)->nx;                                   \
			if ((m)->nx)                                          \
				(m)->nx->pv = (m)->pv;                        \
			(m)->pv = NULL;                                       \
			(m)->nx = NULL;                                       \
		}                                                             \
	} while (0)

/*
 * The one address an SA's selectors can cover, when there is one: every
 * selector prefix that is not the wildcard (length 0, which covers nobody
 * in list(): see the top of the file) is a whole address (/32, /128), and
 * they are all the same address.  That is the usual tunnel SA of an MN
 * (its address to or from anywhere).  1 and *a set: index the SA by *a;
 * 0: no selector covers anybody; -1: a wider prefix (a subnet), which only
 * a walk through every such SA can match.
 */
static int
ipsec_sad_mem_sel_key(const struct ipsec_sa *sa, struct ctp_addr *a)
{
	int have = 0;

	for (size_t i = 0; i < sa->nsel; i++) {
		const struct ipsec_selector *sel = &sa->sel[i];

		for (int d = 0; d < 2; d++) {
			const struct ctp_addr *x = d ? &sel->dst : &sel->src;
			unsigned plen = d ? sel->dst_plen : sel->src_plen;

			if (plen == 0)
				continue;
			if (plen != ctp_addr_len(x->family) * 8 || (have && !ctp_addr_eq(a, x)))
				return -1;
			*a = *x;
			have = 1;
		}
	}
	return have;
}

static void
ipsec_sad_mem_index(struct ipsec_sad *s, struct mem_sa *m)
{
	size_t b = ipsec_sad_mem_hash_spi(s, m->sa.spi);

	m->next_spi = s->by_spi[b];
	s->by_spi[b] = m;
	b = ipsec_sad_mem_hash_addr(s, &m->sa.local);
	MEM_CHAIN_PUSH(&s->by_local[b], m, next_local, pprev_local);
	b = ipsec_sad_mem_hash_addr(s, &m->sa.peer);
	MEM_CHAIN_PUSH(&s->by_peer[b], m, next_peer, pprev_peer);
	if (m->sa.sel_kind > 0)
		MEM_CHAIN_PUSH(&s->by_sel[ipsec_sad_mem_hash_addr(s, &m->sa.sel_key)], m, next_sel,
		    pprev_sel);
	else if (m->sa.sel_kind < 0)
		MEM_CHAIN_PUSH(&s->sel_wide, m, next_sel, pprev_sel);
}

static void
ipsec_sad_mem_unindex(struct ipsec_sad *s, struct mem_sa *m)
{
	struct mem_sa **pp;

	/* SPIs are unique per destination: these chains stay short */
	for (pp = &s->by_spi[ipsec_sad_mem_hash_spi(s, m->sa.spi)]; *pp && *pp != m;
	    pp = &(*pp)->next_spi)
		;
	if (*pp)
		*pp = m->next_spi;
	MEM_CHAIN_DEL(m, next_local, pprev_local);
	MEM_CHAIN_DEL(m, next_peer, pprev_peer);
	MEM_CHAIN_DEL(m, next_sel, pprev_sel);
}

static int
ipsec_sad_mem_tables(struct ipsec_sad *s, size_t n)
{
	struct mem_sa **a = calloc(n, sizeof *a), **b = calloc(n, sizeof *b);
	struct mem_sa **c = calloc(n, sizeof *c), **d = calloc(n, sizeof *d);

	if (!a || !b || !c || !d) {
		free(a);
		free(b);
		free(c);
		free(d);
		return CTP_E_NOMEM;
	}
	free(s->by_spi);
	free(s->by_local);
	free(s->by_peer);
	free(s->by_sel);
	s->by_spi = a;
	s->by_local = b;
	s->by_peer = c;
	s->by_sel = d;
	s->sel_wide = NULL;
	s->nbuckets = n;
	/* chains are rebuilt from the install order, so they keep it */
	for (struct mem_sa *m = s->first; m; m = m->next)
		ipsec_sad_mem_index(s, m);
	return 0;
}

/* ---- configuration ------------------------------------------------------ */

static int
ipsec_sad_mem_cfg_bool(const struct ctp_val *v, const char *key, int *out, struct ctp_err *err)
{
	/* JSON gives booleans, XML attributes give text */
	if (v->kind == CTP_V_BOOL || (v->kind == CTP_V_INT && !v->neg && v->u <= 1)) {
		*out = v->u != 0;
		return 0;
	}
	if (v->kind == CTP_V_STR && (strcmp(v->s, "true") == 0 || strcmp(v->s, "yes") == 0 ||
	    strcmp(v->s, "1") == 0)) {
		*out = 1;
		return 0;
	}
	if (v->kind == CTP_V_STR && (strcmp(v->s, "false") == 0 || strcmp(v->s, "no") == 0 ||
	    strcmp(v->s, "0") == 0)) {
		*out = 0;
		return 0;
	}
	return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "sad mem: \"%s\" is not a boolean", key);
}

static int
ipsec_sad_mem_cfg_u64(const struct ctp_val *v, const char *key, uint64_t min, uint64_t max,
    uint64_t *out, struct ctp_err *err)
{
	if (v->kind != CTP_V_INT || v->neg || v->u < min || v->u > max)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
		    "sad mem: \"%s\" must be an integer from %llu to %llu", key,
		    (unsigned long long)min, (unsigned long long)max);
	*out = v->u;
	return 0;
}

/* Which rows of ipsec_algs[] OpenSSL can run here. */
static void
ipsec_sad_mem_probe(struct ipsec_sad *s)
{
	for (size_t i = 0; i < ipsec_alg_count && i < sizeof s->ok; i++) {
		const struct ipsec_alg *a = &ipsec_algs[i];
		int ok = 1;

		for (unsigned k = 0; k < a->nkeys && k < IPSEC_ALG_MAX_KEYLENS; k++) {
			const char *evp = a->keys[k].evp;

			if (!evp || strcmp(evp, "NULL") == 0)
				continue;   /* ENCR_NULL and INTEG NONE need no OpenSSL */
			if (a->type == IPSEC_ALG_ENCR) {
				EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, evp, NULL);

				ok &= c != NULL;
				EVP_CIPHER_free(c);
			} else {
				EVP_MD *md = EVP_MD_fetch(NULL, evp, NULL);

				ok &= md != NULL;
				EVP_MD_free(md);
			}
		}
		s->ok[i] = (uint8_t)ok;
	}
}

static int
ipsec_sad_mem_cfg_alg(struct ipsec_sad *s, uint8_t *want, const char *name, size_t len,
    struct ctp_err *err)
{
	for (size_t i = 0; i < ipsec_alg_count && i < sizeof s->ok; i++)
		if (strlen(ipsec_algs[i].name) == len &&
		    memcmp(ipsec_algs[i].name, name, len) == 0) {
			want[i] = 1;
			return 0;
		}
	return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
	    "sad mem: \"algorithms\": unknown algorithm \"%.*s\" (IANA names: ENCR_AES_GCM_16, "
	    "AUTH_HMAC_SHA2_256_128, ...)", (int)(len > 60 ? 60 : len), name);
}

/* "algorithms": a list of IANA names, as a string ("A, B C") or an array of
 * strings (or of {"text": name} objects, as XML child elements arrive). */
static int
ipsec_sad_mem_cfg_algorithms(struct ipsec_sad *s, const struct ctp_val *v, struct ctp_err *err)
{
	uint8_t want[sizeof s->ok] = { 0 };
	int rc;

	if (v->kind == CTP_V_STR) {
		for (const char *p = v->s; *p;) {
			size_t n = strcspn(p, ", \t\n");

			if (n && (rc = ipsec_sad_mem_cfg_alg(s, want, p, n, err)) < 0)
				return rc;
			p += n;
			p += strspn(p, ", \t\n");
		}
	} else if (v->kind == CTP_V_ARR) {
		for (size_t i = 0; i < v->n; i++) {
			const struct ctp_val *e = v->items[i];

			if (e->kind == CTP_V_OBJ && ctp_val_get(e, "text"))
				e = ctp_val_get(e, "text");
			else if (e->kind == CTP_V_OBJ)
				e = ctp_val_get(e, "name");
			if (!e || e->kind != CTP_V_STR)
				return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
				    "sad mem: \"algorithms\" entry %zu is not a name", i);
			if ((rc = ipsec_sad_mem_cfg_alg(s, want, e->s, strlen(e->s), err)) < 0)
				return rc;
		}
	} else
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
		    "sad mem: \"algorithms\" is neither a list of names nor an array");
	for (size_t i = 0; i < sizeof s->ok; i++)
		s->ok[i] &= want[i];
	return 0;
}

static int
ipsec_sad_mem_config(struct ipsec_sad *s, const struct ctp_val *cfg, struct ctp_err *err)
{
	uint64_t u = 0;
	int rc;

	s->dp = MEM_DP_NONE;
	s->port = MEM_PORT_DEFAULT;
	s->seq_reserve = MEM_SEQ_RESERVE_DEFAULT;
	s->persist_ms = MEM_PERSIST_MS_DEFAULT;
	s->max_sas = MEM_MAX_SAS_DEFAULT;
	if (!cfg)
		return 0;
	if (cfg->kind != CTP_V_OBJ)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
		    "sad mem: configuration is not an object");
	for (size_t i = 0; i < cfg->n; i++) {
		const char *k = cfg->members[i].key;
		const struct ctp_val *v = cfg->members[i].val;

		if (strcmp(k, "backend") == 0) {
			if (v->kind != CTP_V_STR || strcmp(v->s, "mem") != 0)
				return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
				    "sad mem: \"backend\" is not \"mem\"");
		} else if (strcmp(k, "datapath") == 0) {
			size_t d;

			for (d = 0; d < 3; d++)
				if (v->kind == CTP_V_STR && strcmp(v->s, mem_dp_names[d]) == 0)
					break;
			if (d == 3)
				return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
				    "sad mem: \"datapath\" is \"raw\", \"udp\" or \"none\"");
			s->dp = (enum mem_datapath)d;
		} else if (strcmp(k, "port") == 0) {
			if ((rc = ipsec_sad_mem_cfg_u64(v, k, 1, 65535, &u, err)) < 0)
				return rc;
			s->port = (uint16_t)u;
		} else if (strcmp(k, "echo") == 0) {
			if ((rc = ipsec_sad_mem_cfg_bool(v, k, &s->echo, err)) < 0)
				return rc;
		} else if (strcmp(k, "algorithms") == 0) {
			if ((rc = ipsec_sad_mem_cfg_algorithms(s, v, err)) < 0)
				return rc;
		} else if (strcmp(k, "state-file") == 0) {
			if (v->kind != CTP_V_STR || !*v->s || strlen(v->s) > 4000)
				return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
				    "sad mem: \"state-file\" is not a path");
			if ((s->state_file = strdup(v->s)) == NULL)
				return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
		} else if (strcmp(k, "seq-reserve") == 0) {
			if ((rc = ipsec_sad_mem_cfg_u64(v, k, 1, UINT64_C(1) << 31, &s->seq_reserve,
			    err)) < 0)
				return rc;
		} else if (strcmp(k, "persist-ms") == 0) {
			if ((rc = ipsec_sad_mem_cfg_u64(v, k, 10, 3600000, &s->persist_ms,
			    err)) < 0)
				return rc;
		} else if (strcmp(k, "max-sas") == 0) {
			if ((rc = ipsec_sad_mem_cfg_u64(v, k, 1, MEM_MAX_SAS_LIMIT, &u, err)) < 0)
				return rc;
			s->max_sas = (size_t)u;
		} else
			/* a typo must not pass silently */
			return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
			    "sad mem: unknown configuration key \"%s\"", k);
	}
	return 0;
}

/* ---- sequence number reservations --------------------------------------- */

/* The last number an outbound SA may ever use (RFC 4303 3.3.3). */
static uint64_t
ipsec_sad_mem_seq_limit(const struct mem_sa *m)
{
	return m->sa.flags & (IPSEC_SA_F_ESN | IPSEC_SA_F_SEQ_OVERFLOW) ? UINT64_MAX :
	    MEM_SEQ32_MAX;
}

/*
 * The value to put on file before seq goes out: seq + R, no further than
 * one past the limit.  For a 64-bit space "one past" does not fit, so the
 * reservation stops at UINT64_MAX and the very last number is never sent
 * with a state file: a price nobody will pay in 2^64 packets.  Returns a
 * value <= seq when no reservation can cover seq.
 */
static uint64_t
ipsec_sad_mem_reservation(const struct ipsec_sad *s, const struct mem_sa *m, uint64_t seq)
{
	uint64_t lim = ipsec_sad_mem_seq_limit(m);

	if (lim == UINT64_MAX)
		return seq > UINT64_MAX - s->seq_reserve ? UINT64_MAX : seq + s->seq_reserve;
	return seq + s->seq_reserve > lim + 1 ? lim + 1 : seq + s->seq_reserve;
}

/* ---- the state file ----------------------------------------------------- */

static int
ipsec_sad_mem_write_file(const char *path, const uint8_t *buf, size_t len)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 5);
	int fd, rc = 0;

	if (!tmp)
		return CTP_E_NOMEM;
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp", 5);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		free(tmp);
		return CTP_E_IO;
	}
	/* keys inside: nobody else reads it, whatever the umask said before */
	if (fchmod(fd, 0600) < 0)
		rc = CTP_E_IO;
	for (size_t off = 0; rc == 0 && off < len;) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			rc = CTP_E_IO;
		else
			off += (size_t)n;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = CTP_E_IO;
	if (close(fd) < 0 && rc == 0)
		rc = CTP_E_IO;
	/* rename is atomic: a reader (a restarted daemon) sees the old file
	 * or the new one, never half of either */
	if (rc == 0 && rename(tmp, path) < 0)
		rc = CTP_E_IO;
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

/* One record (see the top of the file). */
static int
ipsec_sad_mem_record(const struct ipsec_sad *s, const struct mem_sa *m, struct ctp_wbuf *w)
{
	struct ipsec_sa rec;
	struct ipsec_esp_stats st;
	struct ctp_wbuf h;
	uint8_t *hdr, flags = 0;
	size_t at;
	int rc;

	(void)s;
	if ((rc = ipsec_sad_mem_sa_get(m, &rec)) < 0) {
		ipsec_sa_clear(&rec);
		return rc;
	}
	memset(&st, 0, sizeof st);
	if (m->esp) {
		ipsec_esp_export(m->esp, &rec);
		ipsec_esp_stats(m->esp, &st);
	}
	rec.has_usage = false;   /* kept in the record: USAGE would make
	                          * ipsec_sa_verify() refuse an expired SA */
	rec.has_snapshot_age = false;
	if (ipsec_sad_mem_is_out(m)) {
		uint64_t lim = ipsec_sad_mem_seq_limit(m);

		if (ipsec_sad_mem_exhausted(m))
			flags |= MEM_REC_EXHAUSTED;
		/* the CDB only needs a valid number; the record's says where
		 * to restart */
		rec.seq_out.next = m->reserved > lim ? lim : m->reserved;
		rec.seq_out.margin = 0;
	}
	if ((hdr = ctp_wbuf_reserve(w, MEM_REC_HDR)) == NULL) {
		ipsec_sa_clear(&rec);
		return CTP_E_NOSPACE;
	}
	at = w->len;
	rc = ipsec_sa_encode(&rec, w);
	ipsec_sa_clear(&rec);
	if (rc < 0)
		return rc;
	ctp_wbuf_init(&h, hdr, MEM_REC_HDR);
	ctp_wbuf_u8(&h, (uint8_t)m->state);
	ctp_wbuf_u8(&h, flags);
	ctp_wbuf_u16(&h, (uint16_t)(w->len - at));
	ctp_wbuf_u64(&h, m->add_ms);
	ctp_wbuf_u64(&h, m->use_ms);
	ctp_wbuf_u64(&h, m->base_bytes + st.bytes);
	ctp_wbuf_u64(&h, m->base_packets + st.packets);
	ctp_wbuf_u64(&h, ipsec_sad_mem_is_out(m) ? m->reserved : 0);
	return h.err;
}

/* Write every SA to the state file (write-through). */
static int
ipsec_sad_mem_persist(struct ipsec_sad *s)
{
	size_t cap = MEM_FILE_HDR + s->count * (MEM_REC_HDR + MEM_CDB_MAX);
	uint8_t *buf;
	struct ctp_wbuf w;
	int rc = 0;

	if (!s->state_file)
		return 0;
	if ((buf = malloc(cap)) == NULL)
		return CTP_E_NOMEM;
	ctp_wbuf_init(&w, buf, cap);
	ctp_wbuf_bytes(&w, MEM_FILE_MAGIC, 8);
	ctp_wbuf_u32(&w, (uint32_t)s->count);
	for (struct mem_sa *m = s->first; m && rc == 0; m = m->next)
		rc = ipsec_sad_mem_record(s, m, &w);
	if (rc == 0)
		rc = w.err;
	if (rc == 0)
		rc = ipsec_sad_mem_write_file(s->state_file, buf, w.len);
	ctp_wipe(buf, w.len);
	free(buf);
	if (rc < 0) {
		s->c.persist_errors++;
		ipsec_sad_mem_log(s, CTP_LOG_ERR, __func__, "state file %s: %s (%s)", s->state_file,
		    ctp_strerror(rc), rc == CTP_E_IO ? strerror(errno) : "encoding");
		return rc;
	}
	s->c.persisted++;
	s->dirty = 0;
	return 0;
}

/* ---- adding an SA ------------------------------------------------------- */

struct mem_restore {
	enum ipsec_sa_state state;
	uint64_t add_ms, use_ms, bytes, packets;
	int      from_file;
	uint64_t reserved;     /* from_file: where the outbound counter resumes */
	int      exhausted;
};

static void
ipsec_sad_mem_link(struct ipsec_sad *s, struct mem_sa *m)
{
	m->prev = s->last;
	if (s->last)
		s->last->next = m;
	else
		s->first = m;
	s->last = m;
	ipsec_sad_mem_index(s, m);
	s->count++;
}

static void
ipsec_sad_mem_unlink(struct ipsec_sad *s, struct mem_sa *m)
{
	ipsec_sad_mem_unindex(s, m);
	if (m->prev)
		m->prev->next = m->next;
	else
		s->first = m->next;
	if (m->next)
		m->next->prev = m->prev;
	else
		s->last = m->prev;
	s->count--;
}

static void
ipsec_sad_mem_sa_free(struct mem_sa *m)
{
	if (!m)
		return;
	ipsec_esp_free(m->esp);
	ctp_secret_release(m, sizeof *m + m->cdb_len);   /* wiped: the SA's keys */
}

static int
ipsec_sad_mem_add(struct ipsec_sad *s, const struct ipsec_sa *sa, const struct mem_restore *r,
    struct ctp_err *err)
{
	struct ipsec_sa_ref ref;
	struct ipsec_sa *tmp;
	struct ipsec_esp *e = NULL;
	struct mem_sa *m;
	struct ctp_wbuf w;
	uint8_t cdb[MEM_CDB_MAX];
	int rc, restored_out, retired, keep;

	ipsec_sa_ref_of(sa, &ref);
	if (ipsec_sad_mem_find(s, &ref))
		return ctp_err_set(err, CTP_E_EXIST, 0, CTP_ST_IPSEC_SPI_CONFLICT,
		    "SA 0x%08x %s is already installed", sa->spi,
		    sa->direction == CTP_DIRECTION_OUT ? "out" : "in");
	if (s->count >= s->max_sas)
		return ctp_err_set(err, CTP_E_LIMIT, 0, CTP_ST_NO_RESOURCES,
		    "the SAD holds %zu SAs, its limit (\"max-sas\")", s->count);
	if (s->count >= s->nbuckets && (rc = ipsec_sad_mem_tables(s, s->nbuckets * 2)) < 0)
		return ctp_err_set(err, rc, 0, CTP_ST_NO_RESOURCES, "out of memory");
	if ((tmp = malloc(sizeof *tmp)) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, CTP_ST_NO_RESOURCES, "out of memory");
	ctp_wbuf_init(&w, cdb, sizeof cdb);
	*tmp = *sa;
	memset(&tmp->where, 0, sizeof tmp->where);
	/* the counts stay here (base_*): an engine made with USAGE and
	 * LIFETIME would refuse an SA that expired while it was stored */
	tmp->has_usage = false;
	tmp->has_snapshot_age = false;
	restored_out = r->from_file && sa->direction == CTP_DIRECTION_OUT;
	retired = restored_out && (r->exhausted || r->reserved > ((sa->flags &
	    (IPSEC_SA_F_ESN | IPSEC_SA_F_SEQ_OVERFLOW)) ? UINT64_MAX : MEM_SEQ32_MAX));
	if (restored_out && !retired)
		tmp->seq_out.next = r->reserved;
	/* the engine checks the SA (ipsec_sa_verify, the algorithms here) */
	if ((rc = ipsec_esp_new(tmp, &e, err)) < 0)
		goto out;
	if (retired)
		ipsec_esp_retire(e);
	/* only a datapath moves an engine; without one the SA is stored as the
	 * engine gives it and the engine goes (an SA whose space is used up
	 * keeps its engine: no SEQ_OUT can say so) */
	keep = s->dp != MEM_DP_NONE || retired;
	if (!keep) {
		ipsec_esp_export(e, tmp);
		tmp->has_usage = false;
	}
	if ((rc = ipsec_sa_encode(tmp, &w)) < 0) {
		rc = ctp_err_set(err, rc, 0, CTP_ST_NO_RESOURCES,
		    "SA 0x%08x: cannot be stored (%s)", sa->spi, ctp_strerror(rc));
		goto out;
	}
	/* it holds the keys: in the locked arena while it has room (ctp_secret.h) */
	if ((m = ctp_secret_alloc(sizeof *m + w.len)) == NULL) {
		rc = ctp_err_set(err, CTP_E_NOMEM, 0, CTP_ST_NO_RESOURCES, "out of memory");
		goto out;
	}
	memcpy(m->cdb, cdb, w.len);
	m->cdb_len = (uint16_t)w.len;
	m->sa.spi = sa->spi;
	m->sa.protocol = sa->protocol;
	m->sa.direction = sa->direction;
	m->sa.flags = sa->flags;
	m->sa.has_lifetime = sa->has_lifetime;
	m->sa.has_encap = sa->has_encap;
	m->sa.encap_dport = sa->encap.dport;
	m->sa.local = sa->local;
	m->sa.peer = sa->peer;
	m->ref = ref;
	m->state = r->state;
	m->add_ms = r->add_ms;
	m->use_ms = r->use_ms;
	m->base_bytes = r->bytes;
	m->base_packets = r->packets;
	m->order = ++s->order;
	m->next0 = ipsec_esp_next_seq(e);
	if (ipsec_sad_mem_is_out(m))
		m->reserved = ipsec_sad_mem_reservation(s, m, m->next0);
	if (keep) {
		m->esp = e;
		e = NULL;
	}
	m->sa.sel_kind = (int8_t)ipsec_sad_mem_sel_key(tmp, &m->sa.sel_key);
	ipsec_sad_mem_link(s, m);
	rc = 0;
out:
	ipsec_esp_free(e);
	ctp_wipe(cdb, w.len);
	/* the keys are the copy's only secrets (wiping the whole 2.7 KiB
	 * struct for them was about a tenth of the install's instructions) */
	ctp_wipe(tmp->encr.key, sizeof tmp->encr.key);
	ctp_wipe(tmp->integ.key, sizeof tmp->integ.key);
	free(tmp);
	return rc;
}

static int
ipsec_sad_mem_load(struct ipsec_sad *s, struct ctp_err *err)
{
	size_t max = MEM_FILE_HDR + s->max_sas * (MEM_REC_HDR + MEM_CDB_MAX), len = 0;
	uint8_t *buf = NULL, magic[8];
	struct ipsec_sa *sa = NULL;
	struct ctp_cur c;
	struct stat st;
	uint32_t count = 0, nfrozen = 0;
	int fd, rc = 0;

	if ((fd = open(s->state_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT)
			return 0;   /* a first start */
		return ctp_err_set(err, CTP_E_IO, 0, 0, "state file %s: %s", s->state_file,
		    strerror(errno));
	}
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size > max) {
		close(fd);
		return ctp_err_set(err, CTP_E_LIMIT, 0, 0, "state file %s: larger than %zu SAs",
		    s->state_file, s->max_sas);
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL ||
	    (sa = malloc(sizeof *sa)) == NULL) {
		close(fd);
		free(buf);
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	ctp_cur_init(&c, buf, len, 0);
	if (ctp_cur_copy(&c, magic, sizeof magic) < 0 || memcmp(magic, MEM_FILE_MAGIC, 8) != 0 ||
	    ctp_cur_u32(&c, &count) < 0)
		rc = ctp_err_set(err, CTP_E_VALUE, 0, 0, "state file %s: not a mem SAD file",
		    s->state_file);
	for (uint32_t i = 0; rc == 0 && i < count; i++) {
		struct mem_restore r = { .from_file = 1 };
		uint8_t state, flags;
		uint16_t cdblen;
		struct ctp_cur sub;
		struct ctp_cdb cdb;

		if (ctp_cur_u8(&c, &state) < 0 || ctp_cur_u8(&c, &flags) < 0 ||
		    ctp_cur_u16(&c, &cdblen) < 0 || ctp_cur_u64(&c, &r.add_ms) < 0 ||
		    ctp_cur_u64(&c, &r.use_ms) < 0 || ctp_cur_u64(&c, &r.bytes) < 0 ||
		    ctp_cur_u64(&c, &r.packets) < 0 || ctp_cur_u64(&c, &r.reserved) < 0 ||
		    ctp_cur_sub(&c, cdblen, &sub) < 0 || state > IPSEC_SA_QUARANTINED) {
			rc = ctp_err_set(err, CTP_E_VALUE, c.off, 0,
			    "state file %s: record %u is cut short or corrupt", s->state_file, i);
			break;
		}
		r.state = (enum ipsec_sa_state)state;
		/* a transfer does not outlive the daemon: an SA it froze waits
		 * for a verdict that will never come, and its sink may have
		 * taken it (PROFILE 5.1), as the xfrm backend adopts its blocks */
		if (r.state == IPSEC_SA_FROZEN) {
			r.state = IPSEC_SA_QUARANTINED;
			nfrozen++;
		}
		r.exhausted = (flags & MEM_REC_EXHAUSTED) != 0;
		if ((rc = ctp_cdb_next(&sub, 0, &cdb, err)) != 1 ||
		    (rc = ipsec_sa_decode(&cdb, sa, err)) < 0 ||
		    (rc = ipsec_sad_mem_add(s, sa, &r, err)) < 0) {
			rc = rc < 0 ? rc : CTP_E_CDB;
			ipsec_sad_mem_log(s, CTP_LOG_ERR, __func__, "state file %s: record %u: %s",
			    s->state_file, i, err ? err->what : ctp_strerror(rc));
			break;
		}
		rc = 0;
	}
	if (rc == 0 && c.left != 0)
		rc = ctp_err_set(err, CTP_E_LENGTH, c.off, 0, "state file %s: %zu octets after the "
		    "last record", s->state_file, c.left);
	ipsec_sa_clear(sa);
	free(sa);
	ctp_wipe(buf, len);
	free(buf);
	if (rc == 0 && count)
		ipsec_sad_mem_log(s, CTP_LOG_NOTICE, __func__, "%u SAs restored from %s", count,
		    s->state_file);
	if (rc == 0 && nfrozen)
		ipsec_sad_mem_log(s, CTP_LOG_WARN, __func__, "%u SAs were frozen for a transfer "
		    "before a restart: quarantined (the MN must re-key them)", nfrozen);
	return rc;
}

/* ---- the datapath ------------------------------------------------------- */

static int
ipsec_sad_mem_expired(const struct mem_sa *m, uint64_t now)
{
	struct ipsec_sa full, *sa = &full;
	struct ipsec_esp_stats st;
	int rc;

	if (!m->sa.has_lifetime)
		return 0;
	/* the limits stay encoded (only SAs with a LIFETIME pay the decode) */
	if (ipsec_sad_mem_sa_get(m, sa) < 0) {
		ipsec_sa_clear(sa);
		return 1;
	}
	memset(&st, 0, sizeof st);
	if (m->esp)
		ipsec_esp_stats(m->esp, &st);
	/* RFC 4301 4.4.2.1: a hard limit ends the SA */
	rc = (sa->lifetime.hard_bytes && m->base_bytes + st.bytes >= sa->lifetime.hard_bytes) ||
	    (sa->lifetime.hard_packets &&
	    m->base_packets + st.packets >= sa->lifetime.hard_packets) ||
	    (sa->lifetime.hard_add_s &&
	    ipsec_sad_mem_since(now, m->add_ms) >= (uint64_t)sa->lifetime.hard_add_s * 1000) ||
	    (sa->lifetime.hard_use_s && m->use_ms &&
	    ipsec_sad_mem_since(now, m->use_ms) >= (uint64_t)sa->lifetime.hard_use_s * 1000);
	ipsec_sa_clear(sa);
	return rc;
}

/* The outbound SA that answers the MN of inbound SA m: same peer, the most
 * recently installed, an active one first. */
static struct mem_sa *
ipsec_sad_mem_reverse(const struct ipsec_sad *s, const struct mem_sa *m)
{
	size_t b = ipsec_sad_mem_hash_addr(s, &m->sa.peer);
	struct mem_sa *best = NULL;

	for (struct mem_sa *o = s->by_peer[b]; o; o = o->next_peer) {
		if (!ipsec_sad_mem_is_out(o) || o->sa.protocol != CTP_IPPROTO_ESP ||
		    !ctp_addr_eq(&o->sa.peer, &m->sa.peer))
			continue;
		if (!best || (o->state == IPSEC_SA_ACTIVE && best->state != IPSEC_SA_ACTIVE) ||
		    ((o->state == IPSEC_SA_ACTIVE) == (best->state == IPSEC_SA_ACTIVE) &&
		    o->order > best->order))
			best = o;
	}
	return best;
}

static socklen_t
ipsec_sad_mem_sockaddr(const struct ctp_addr *a, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (a->family == CTP_FAMILY_IPV4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a->a, 4);
		return sizeof *sin;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a->a, 16);
		return sizeof *sin6;
	}
}

/* Send from the socket of to's family, with src as the source address when
 * given (a refusal of that address is retried without it). */
static int
ipsec_sad_mem_send(struct ipsec_sad *s, const struct sockaddr_storage *to, socklen_t tolen,
    const struct ctp_addr *src, const uint8_t *pkt, size_t len)
{
	struct mem_sock *k = &s->sock[to->ss_family == AF_INET6];
	union {
		struct cmsghdr align;
		uint8_t        buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	} cb;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)pkt, .iov_len = len };
	struct msghdr msg = { .msg_name = (void *)(uintptr_t)to, .msg_namelen = tolen,
	    .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (k->fd < 0)
		return CTP_E_IO;
	memset(&cb, 0, sizeof cb);
	if (src && to->ss_family == AF_INET && src->family == CTP_FAMILY_IPV4) {
		struct in_pktinfo pi;
		struct cmsghdr *cm;

		memset(&pi, 0, sizeof pi);
		memcpy(&pi.ipi_spec_dst, src->a, 4);
		msg.msg_control = cb.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof pi);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof pi);
		memcpy(CMSG_DATA(cm), &pi, sizeof pi);
	} else if (src && to->ss_family == AF_INET6 && src->family == CTP_FAMILY_IPV6) {
		struct in6_pktinfo pi;
		struct cmsghdr *cm;

		memset(&pi, 0, sizeof pi);
		memcpy(&pi.ipi6_addr, src->a, 16);
		msg.msg_control = cb.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof pi);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof pi);
		memcpy(CMSG_DATA(cm), &pi, sizeof pi);
	}
	n = sendmsg(k->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0 && msg.msg_control && (errno == EINVAL || errno == EADDRNOTAVAIL)) {
		msg.msg_control = NULL;
		msg.msg_controllen = 0;
		n = sendmsg(k->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	return n == (ssize_t)len ? 0 : CTP_E_IO;
}

/*
 * Before outbound SA o sends its next number: with a state file, the file
 * must cover that number before it leaves (see the top of the file).  0,
 * or -1 when no reservation can be written (the packet must not go).
 */
static int
ipsec_sad_mem_reserve(struct ipsec_sad *s, struct mem_sa *o)
{
	uint64_t seq = ipsec_esp_next_seq(o->esp), old, next;

	if (ipsec_esp_exhausted(o->esp) || !s->state_file || seq < o->reserved)
		return 0;
	old = o->reserved;
	if ((next = ipsec_sad_mem_reservation(s, o, seq)) <= seq)
		return -1;
	o->reserved = next;
	if (ipsec_sad_mem_persist(s) < 0) {
		o->reserved = old;
		return -1;
	}
	return 0;
}

/* Answer an accepted packet on the reverse SA (config "echo"). */
static void
ipsec_sad_mem_echo(struct ipsec_sad *s, const struct mem_sa *in,
    const struct sockaddr_storage *from, socklen_t fromlen, const struct ctp_addr *dst,
    size_t len, uint8_t nh, uint64_t now)
{
	struct mem_sa *o = ipsec_sad_mem_reverse(s, in);
	struct sockaddr_storage to;
	socklen_t tolen;
	struct ctp_wbuf w;
	int rc;

	if (!o) {
		s->c.no_reverse++;
		return;
	}
	/* PROFILE 5.1: a frozen or quarantined outbound SA never sends */
	if (o->state != IPSEC_SA_ACTIVE) {
		o->blocked++;
		s->c.blocked++;
		return;
	}
	if (ipsec_sad_mem_expired(o, now)) {
		o->expired++;
		return;
	}
	if (ipsec_sad_mem_reserve(s, o) < 0) {
		o->blocked++;
		return;
	}
	ctp_wbuf_init(&w, s->tx, sizeof s->tx);
	if ((rc = ipsec_esp_encap(o->esp, s->pt, len, nh, &w, NULL)) < 0) {
		if (rc != CTP_E_LIMIT)
			o->send_errors++;
		return;
	}
	if (!o->use_ms)
		o->use_ms = now;
	if (s->dp == MEM_DP_UDP) {
		/* RFC 3948: back to where it came from (NAT traversal) */
		to = *from;
		tolen = fromlen;
	} else
		tolen = ipsec_sad_mem_sockaddr(&o->sa.peer, 0, &to);
	if (ipsec_sad_mem_send(s, &to, tolen, dst, s->tx, w.len) < 0) {
		o->send_errors++;
		s->c.send_errors++;
		if (ipsec_sad_mem_pow2(s->c.send_errors))
			ipsec_sad_mem_log(s, CTP_LOG_WARN, __func__,
			    "%llu packets not sent, last: %s", (unsigned long long)s->c.send_errors,
			    strerror(errno));
		return;
	}
	s->c.echoed++;
}

/* One ESP packet (from the SPI on) that arrived for dst. */
static void
ipsec_sad_mem_input(struct ipsec_sad *s, const struct sockaddr_storage *from, socklen_t fromlen,
    const struct ctp_addr *dst, const uint8_t *esp, size_t len)
{
	struct ipsec_esp_rx rx;
	struct ctp_wbuf w;
	struct mem_sa *m;
	uint32_t spi, seq;
	uint64_t now;
	int rc;

	s->c.in++;
	if (s->dp == MEM_DP_UDP) {
		struct ctp_cur c;
		uint32_t marker;
		uint8_t b;

		ctp_cur_init(&c, esp, len, 0);
		if (len == 1 && ctp_cur_u8(&c, &b) == 0 && b == 0xff) {
			s->c.keepalive++;   /* RFC 3948 2.3 */
			return;
		}
		/* RFC 3948 2.2: four zero octets, the non-ESP marker, start
		 * IKE; this backend speaks only ESP */
		if (ctp_cur_u32(&c, &marker) == 0 && marker == 0) {
			s->c.ike++;
			return;
		}
	}
	if (ipsec_esp_peek(esp, len, &spi, &seq) < 0 || spi == 0) {
		s->c.malformed++;   /* SPI 0 is reserved (RFC 4303 2.1) */
		return;
	}
	if ((m = ipsec_sad_mem_find_in(s, spi, dst)) == NULL) {
		if (ipsec_sad_mem_is_own_spi(s, spi)) {
			s->c.looped++;
		} else if (ipsec_sad_mem_pow2(++s->c.unknown_spi))
			ipsec_sad_mem_log(s, CTP_LOG_DEBUG, __func__,
			    "%llu packets for unknown SPIs, last 0x%08x",
			    (unsigned long long)s->c.unknown_spi, spi);
		return;
	}
	if (m->state == IPSEC_SA_QUARANTINED) {
		m->blocked++;
		return;
	}
	now = ipsec_sad_mem_now_ms();
	if (ipsec_sad_mem_expired(m, now)) {
		m->expired++;
		return;
	}
	ctp_wbuf_init(&w, s->pt, sizeof s->pt);
	if ((rc = ipsec_esp_decap(m->esp, esp, len, &w, &rx)) < 0)
		return;   /* the engine counts auth failures, replays, malformed */
	if (!m->use_ms)
		m->use_ms = now;
	s->dirty = 1;
	if (s->echo && rx.next_header != IPSEC_ESP_NH_NONE)
		ipsec_sad_mem_echo(s, m, from, fromlen, dst, rx.len, rx.next_header, now);
	ctp_wipe(s->pt, rx.len);
}

/* The addresses of a datagram: the destination from IP_PKTINFO or
 * IPV6_PKTINFO. */
static int
ipsec_sad_mem_pktinfo(struct msghdr *msg, struct ctp_addr *dst)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof pi);
			return ctp_addr_set(dst, CTP_FAMILY_IPV4, (const uint8_t *)&pi.ipi_addr);
		}
		if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof pi);
			return ctp_addr_set(dst, CTP_FAMILY_IPV6, (const uint8_t *)&pi.ipi6_addr);
		}
	}
	return CTP_E_NOTFOUND;
}

static void
ipsec_sad_mem_on_readable(uv_poll_t *h, int status, int events)
{
	struct mem_sock *k = h->data;
	struct ipsec_sad *s = k->s;

	(void)events;
	if (status < 0)
		return;
	for (int i = 0; i < MEM_BATCH && !s->closing; i++) {
		struct sockaddr_storage from;
		struct iovec iov = { .iov_base = s->rx, .iov_len = sizeof s->rx };
		struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof from,
		    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = s->cbuf.buf,
		    .msg_controllen = sizeof s->cbuf.buf };
		struct ctp_addr dst;
		const uint8_t *esp = NULL;
		size_t esplen;
		int have_dst;
		struct ctp_cur c;
		ssize_t n = recvmsg(k->fd, &msg, MSG_DONTWAIT);

		if (n < 0)
			break;   /* EAGAIN: drained; anything else: the next wake-up */
		if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
			s->c.malformed++;
			continue;
		}
		memset(&dst, 0, sizeof dst);
		have_dst = ipsec_sad_mem_pktinfo(&msg, &dst) == 0;
		ctp_cur_init(&c, s->rx, (size_t)n, 0);
		if (s->dp == MEM_DP_RAW && k->family == AF_INET) {
			/* raw IPv4 sockets see the header: take the
			 * destination from it and step over it */
			uint8_t vhl, proto, a[4];

			if (ctp_cur_u8(&c, &vhl) < 0 || (vhl >> 4) != 4 ||
			    (vhl & 15) * 4 < MEM_IP4_MIN ||
			    ctp_cur_skip(&c, 8) < 0 || ctp_cur_u8(&c, &proto) < 0 ||
			    ctp_cur_skip(&c, 6) < 0 || ctp_cur_copy(&c, a, 4) < 0 ||
			    ctp_cur_skip(&c, (size_t)(vhl & 15) * 4 - MEM_IP4_MIN) < 0 ||
			    proto != CTP_IPPROTO_ESP) {
				s->c.malformed++;
				continue;
			}
			have_dst = ctp_addr_set(&dst, CTP_FAMILY_IPV4, a) == 0;
		}
		esplen = c.left;
		if (ctp_cur_view(&c, esplen, &esp) < 0)
			continue;
		ipsec_sad_mem_input(s, &from, msg.msg_namelen, have_dst ? &dst : NULL, esp, esplen);
	}
}

static void
ipsec_sad_mem_on_timer(uv_timer_t *t)
{
	struct ipsec_sad *s = t->data;

	/* the inbound windows (see the top of the file) */
	if (s->dirty && s->state_file)
		(void)ipsec_sad_mem_persist(s);
}

static int
ipsec_sad_mem_socket(struct ipsec_sad *s, int family, struct mem_sock *k, struct ctp_err *err)
{
	int one = 1, rcvbuf = MEM_RCVBUF, fd;
	const char *what = s->dp == MEM_DP_RAW ? "raw ESP" : "UDP";

	k->s = s;
	k->family = family;
	if (s->dp == MEM_DP_RAW)
		fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ESP);
	else
		fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ctp_err_set(err, CTP_E_IO, 0, 0, "sad mem: %s socket (IPv%d): %s%s", what,
		    family == AF_INET ? 4 : 6, strerror(errno),
		    s->dp == MEM_DP_RAW && (errno == EPERM || errno == EACCES) ?
		    " (datapath \"raw\" needs CAP_NET_RAW)" : "");
	k->fd = fd;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	/* IPV6_V6ONLY: the UDP port is bound twice; raw sockets have no such
	 * option (they see one protocol of one family anyway) */
	if ((family == AF_INET6 && s->dp == MEM_DP_UDP &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) ||
	    (family == AF_INET && setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) < 0) ||
	    (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) < 0))
		return ctp_err_set(err, CTP_E_IO, 0, 0, "sad mem: %s socket options: %s", what,
		    strerror(errno));
	if (s->dp == MEM_DP_UDP) {
		struct sockaddr_storage ss;
		struct ctp_addr any;
		socklen_t sl;

		memset(&any, 0, sizeof any);
		any.family = family == AF_INET ? CTP_FAMILY_IPV4 : CTP_FAMILY_IPV6;
		sl = ipsec_sad_mem_sockaddr(&any, s->port, &ss);
		if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
			return ctp_err_set(err, CTP_E_IO, 0, 0, "sad mem: UDP port %u (IPv%d): %s",
			    s->port, family == AF_INET ? 4 : 6, strerror(errno));
	}
	return 0;
}

/* ---- closing ------------------------------------------------------------ */

static void
ipsec_sad_mem_closed(uv_handle_t *h)
{
	struct ipsec_sad *s = h->data;

	if (h->type == UV_POLL) {
		struct mem_sock *k = (struct mem_sock *)h->data;

		s = k->s;
		close(k->fd);
		k->fd = -1;
	}
	if (--s->open_handles == 0) {
		ctp_wipe(s, sizeof *s);
		free(s);
	}
}

static void
ipsec_sad_mem_free_sas(struct ipsec_sad *s)
{
	struct mem_sa *m = s->first, *next;

	for (; m; m = next) {
		next = m->next;
		ipsec_sad_mem_sa_free(m);
	}
	s->first = s->last = s->sel_wide = NULL;
	s->count = 0;
	free(s->by_spi);
	free(s->by_local);
	free(s->by_peer);
	free(s->by_sel);
	s->by_spi = s->by_local = s->by_peer = s->by_sel = NULL;
	free(s->state_file);
	s->state_file = NULL;
}

/*
 * The handles close() closes call ipsec_sad_mem_closed() on a later turn of
 * the loop, but a host that loaded this code as a plugin unloads it right
 * after fini (ctp_registry_free: fini, then dlclose): the callback would
 * run in unmapped memory (ctpd died of SIGSEGV on SIGTERM whenever the SAD
 * had a datapath or a state file).  So the object that holds this code
 * stays mapped for the rest of the process once it has handles to close
 * (RTLD_NODELETE; the dynamic linker keeps it, nothing leaks).  In a
 * program that links it in, the dlopen finds nothing to pin.
 */
static void
ipsec_sad_mem_pin(void)
{
	Dl_info info;
	void *h;

	if (dladdr((const void *)(uintptr_t)ipsec_sad_mem_closed, &info) && info.dli_fname &&
	    (h = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE)) != NULL)
		dlclose(h);
}

static void
ipsec_sad_mem_close(struct ipsec_sad *s)
{
	if (!s || s->closing)
		return;
	s->closing = 1;
	if (s->open_handles)
		ipsec_sad_mem_pin();
	/* the last word on file (never after a failed load: a partial SAD
	 * must not replace the file), then the keys go now, not at the
	 * callback */
	if (s->state_file && s->opened)
		(void)ipsec_sad_mem_persist(s);
	ipsec_sad_mem_free_sas(s);
	ctp_wipe(s->pt, sizeof s->pt);
	ctp_wipe(s->tx, sizeof s->tx);
	for (int i = 0; i < 2; i++) {
		struct mem_sock *k = &s->sock[i];

		if (k->polling) {
			uv_poll_stop(&k->poll);
			uv_close((uv_handle_t *)&k->poll, ipsec_sad_mem_closed);
		} else if (k->fd >= 0) {
			close(k->fd);
			k->fd = -1;
		}
	}
	if (s->timer_init) {
		uv_timer_stop(&s->timer);
		uv_close((uv_handle_t *)&s->timer, ipsec_sad_mem_closed);
	}
	if (s->open_handles == 0) {
		ctp_wipe(s, sizeof *s);
		free(s);
	}
}

/* ---- the operations ----------------------------------------------------- */

static int
ipsec_sad_mem_open(const struct ctp_val *config, const struct ipsec_sad_env *env,
    struct ipsec_sad **out, struct ctp_err *err)
{
	struct ipsec_sad *s;
	int rc;

	*out = NULL;
	if ((s = calloc(1, sizeof *s)) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
	if (env)
		s->env = *env;
	s->sock[0].fd = s->sock[1].fd = -1;
	ipsec_sad_mem_probe(s);
	if ((rc = ipsec_sad_mem_config(s, config, err)) < 0 ||
	    (rc = ipsec_sad_mem_tables(s, MEM_BUCKETS_MIN)) < 0) {
		if (rc == CTP_E_NOMEM)
			ctp_err_set(err, rc, 0, 0, "out of memory");
		ipsec_sad_mem_close(s);
		return rc;
	}
	if ((s->dp != MEM_DP_NONE || s->state_file) &&
	    (!s->env.loop || !uv_poll_init || !uv_timer_init)) {
		ipsec_sad_mem_close(s);
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "sad mem: a datapath or a state file "
		    "needs %s", s->env.loop ? "libuv in this program" : "the loop");
	}
	if (s->state_file) {
		/* restore, then take fresh reservations past the old ones */
		if ((rc = ipsec_sad_mem_load(s, err)) == 0) {
			s->opened = 1;
			rc = ipsec_sad_mem_persist(s);
		}
		if (rc < 0) {
			/* the first error recorded wins: this only fills a gap */
			ctp_err_set(err, rc, 0, 0, "state file %s: %s", s->state_file,
			    ctp_strerror(rc));
			ipsec_sad_mem_close(s);
			return rc;
		}
	}
	if (s->dp != MEM_DP_NONE) {
		struct ctp_err e6;

		if ((rc = ipsec_sad_mem_socket(s, AF_INET, &s->sock[0], err)) < 0) {
			ipsec_sad_mem_close(s);
			return rc;
		}
		/* IPv6 is welcome, not required */
		ctp_err_clear(&e6);
		if (ipsec_sad_mem_socket(s, AF_INET6, &s->sock[1], &e6) < 0) {
			ipsec_sad_mem_log(s, CTP_LOG_WARN, __func__, "%s: IPv4 only", e6.what);
			if (s->sock[1].fd >= 0)
				close(s->sock[1].fd);
			s->sock[1].fd = -1;
		}
		for (int i = 0; i < 2; i++) {
			struct mem_sock *k = &s->sock[i];

			if (k->fd < 0)
				continue;
			if ((rc = uv_poll_init(s->env.loop, &k->poll, k->fd)) < 0) {
				ipsec_sad_mem_close(s);
				return ctp_err_set(err, CTP_E_IO, 0, 0, "sad mem: uv_poll_init: %s",
				    uv_strerror(rc));
			}
			k->poll.data = k;
			k->polling = 1;
			s->open_handles++;
			uv_poll_start(&k->poll, UV_READABLE, ipsec_sad_mem_on_readable);
		}
	}
	if (s->state_file) {
		uv_timer_init(s->env.loop, &s->timer);
		s->timer.data = s;
		s->timer_init = 1;
		s->open_handles++;
		uv_timer_start(&s->timer, ipsec_sad_mem_on_timer, s->persist_ms, s->persist_ms);
	}
	ipsec_sad_mem_log(s, CTP_LOG_INFO, __func__,
	    "datapath %s (port %u), echo %s, %zu SAs, state file %s", mem_dp_names[s->dp],
	    s->dp == MEM_DP_UDP ? s->port : 0, s->echo ? "on" : "off", s->count,
	    s->state_file ? s->state_file : "none");
	*out = s;
	return 0;
}

static int
ipsec_sad_mem_covers_sa(const struct ipsec_sa *sa, const struct ctp_addr *mn)
{
	for (size_t i = 0; i < sa->nsel; i++) {
		const struct ipsec_selector *sel = &sa->sel[i];

		if ((sel->src_plen && ctp_addr_in_prefix(mn, &sel->src, sel->src_plen)) ||
		    (sel->dst_plen && ctp_addr_in_prefix(mn, &sel->dst, sel->dst_plen)))
			return 1;
	}
	return 0;
}

/* Whether m's selectors cover mn: its one address (sel_kind 1), or, for the
 * few SAs whose selectors name subnets, the decoded selectors. */
static int
ipsec_sad_mem_covers(const struct mem_sa *m, const struct ctp_addr *mn)
{
	struct ipsec_sa sa;
	int hit;

	if (m->sa.sel_kind == 0)
		return 0;
	if (m->sa.sel_kind > 0)
		return ctp_addr_eq(&m->sa.sel_key, mn);
	hit = ipsec_sad_mem_sa_get(m, &sa) == 0 && ipsec_sad_mem_covers_sa(&sa, mn);
	ipsec_sa_clear(&sa);
	return hit;
}

static int
ipsec_sad_mem_list(struct ipsec_sad *s, const struct ctp_addr *mn, struct ipsec_sa_ref *out,
    size_t max, size_t *n)
{
	struct mem_sa **v;
	size_t cap = (max < s->count ? max : s->count) + 1, k = 0;
	uint64_t mark = ++s->mark;
	int more = 0;

	*n = 0;
	if (!mn || ctp_addr_len(mn->family) == 0)
		return CTP_E_INVAL;
	if ((v = malloc(cap * sizeof *v)) == NULL)
		return CTP_E_NOMEM;
	/* the candidates of four chains, each once (the selectors' by the MN's
	 * address, then those with subnets); quarantined SAs are out of every
	 * transfer (the MN re-keys them) */
	for (int pass = 0; pass < 4; pass++) {
		size_t b = ipsec_sad_mem_hash_addr(s, mn);
		struct mem_sa *m = pass == 0 ? s->by_peer[b] : pass == 1 ? s->by_local[b] :
		    pass == 2 ? s->by_sel[b] : s->sel_wide;

		for (; m; m = pass == 0 ? m->next_peer : pass == 1 ? m->next_local : m->next_sel) {
			int hit = pass == 0 ? ctp_addr_eq(&m->sa.peer, mn) :
			    pass == 1 ? ctp_addr_eq(&m->sa.local, mn) :
			    ipsec_sad_mem_covers(m, mn);

			if (!hit || m->mark == mark || m->state == IPSEC_SA_QUARANTINED)
				continue;
			m->mark = mark;
			if (k == max) {
				more = 1;
				continue;
			}
			v[k++] = m;
		}
	}
	/* install order: bundles come out as they went in */
	for (size_t i = 1; i < k; i++)
		for (size_t j = i; j > 0 && v[j - 1]->order > v[j]->order; j--) {
			struct mem_sa *t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	for (size_t i = 0; i < k; i++)
		out[i] = v[i]->ref;
	*n = k;
	free(v);
	return more ? CTP_E_LIMIT : 0;
}

static int
ipsec_sad_mem_freeze(struct ipsec_sad *s, const struct ipsec_sa_ref *ref, uint64_t *highest_sent)
{
	struct mem_sa *m = ipsec_sad_mem_find(s, ref);

	if (!m)
		return CTP_E_NOTFOUND;
	/* frozen: another transfer has it (a tunnel SA covers several MNs);
	 * handing it over twice would send its numbers twice */
	if (m->state != IPSEC_SA_ACTIVE)
		return CTP_E_STATE;
	if (highest_sent) {
		/* the highest number this node may have used: everything below
		 * the engine's next (after a restart: below the reservation) */
		if (!ipsec_sad_mem_is_out(m))
			*highest_sent = 0;
		else if (ipsec_sad_mem_next_seq(m) == 0)
			*highest_sent = UINT64_MAX;   /* retired at the end of 2^64 */
		else
			*highest_sent = ipsec_sad_mem_next_seq(m) - 1;
	}
	ipsec_sad_mem_set_state(s, m, IPSEC_SA_FROZEN, "freeze");
	return ipsec_sad_mem_persist(s);
}

static int
ipsec_sad_mem_snapshot(struct ipsec_sad *s, const struct ipsec_sa_ref *ref, struct ipsec_sa *out)
{
	struct mem_sa *m = ipsec_sad_mem_find(s, ref);
	uint64_t now = ipsec_sad_mem_now_ms();
	int rc;

	if (!m)
		return CTP_E_NOTFOUND;
	/* PROFILE 5.1: the source stops before the snapshot */
	if (ipsec_sad_mem_is_out(m) && m->state == IPSEC_SA_ACTIVE)
		return CTP_E_STATE;
	if ((rc = ipsec_sad_mem_sa_get(m, out)) < 0)
		return rc;
	out->usage.bytes = out->usage.packets = 0;
	if (m->esp)
		ipsec_esp_export(m->esp, out);   /* SEQ_OUT or REPLAY, bytes, packets */
	out->usage.bytes += m->base_bytes;
	out->usage.packets += m->base_packets;
	out->has_usage = true;
	out->usage.add_ms = ipsec_sad_mem_since(now, m->add_ms);
	/* "0 if unused": a use within the same millisecond still counts */
	out->usage.use_ms = m->use_ms ? (now > m->use_ms ? now - m->use_ms : 1) : 0;
	out->has_snapshot_age = false;   /* the sender's to fill */
	return 0;
}

static int
ipsec_sad_mem_supports(struct ipsec_sad *s, unsigned type, unsigned id, unsigned key_bits)
{
	const struct ipsec_alg *a = ipsec_alg_find(type, id);
	size_t i;

	if (!a)
		return 0;
	if (type == IPSEC_ALG_INTEG && id == CTP_INTEG_NONE)
		return 1;   /* AEAD SAs carry it; nothing to run */
	if (type == IPSEC_ALG_ENCR && !ipsec_alg_keylen(a, key_bits))
		return 0;
	if (type == IPSEC_ALG_INTEG && key_bits && key_bits != a->keys[0].bits)
		return 0;
	i = (size_t)(a - ipsec_algs);
	return i < sizeof s->ok && s->ok[i];
}

static int
ipsec_sad_mem_install(struct ipsec_sad *s, const struct ipsec_sa *sa, struct ctp_err *err)
{
	struct mem_restore r = { .state = IPSEC_SA_ACTIVE };
	uint64_t now = ipsec_sad_mem_now_ms(), age;
	char id[80];
	int rc;

	if (sa->protocol == CTP_IPPROTO_AH)
		return ctp_err_set(err, CTP_E_UNSUPPORTED, 0, CTP_ST_IPSEC_ALG_UNSUPPORTED,
		    "SA 0x%08x is AH: the mem backend carries ESP only", sa->spi);
	if ((rc = ipsec_sa_verify(sa, err)) < 0)
		return rc;
	if (!ipsec_sad_mem_supports(s, IPSEC_ALG_ENCR, sa->encr.id, sa->encr.key_bits) ||
	    (sa->has_integ && !ipsec_sad_mem_supports(s, IPSEC_ALG_INTEG, sa->integ.id, 0))) {
		const struct ipsec_alg *a = ipsec_alg_find(IPSEC_ALG_ENCR, sa->encr.id);

		if (a && ipsec_sad_mem_supports(s, IPSEC_ALG_ENCR, sa->encr.id, sa->encr.key_bits))
			a = ipsec_alg_find(IPSEC_ALG_INTEG, sa->integ.id);
		return ctp_err_set(err, CTP_E_UNSUPPORTED, 0, CTP_ST_IPSEC_ALG_UNSUPPORTED,
		    "SA 0x%08x: %s is not supported at this endpoint", sa->spi,
		    a ? a->name : "its algorithm");
	}
	/* the SA keeps its age: a received one was added elsewhere earlier
	 * (USAGE and SNAPSHOT_AGE), so its add-time lifetime keeps running */
	age = sa->has_usage ? sa->usage.add_ms : 0;
	age += sa->has_snapshot_age ? sa->snapshot_age_ms : 0;
	r.add_ms = now > age ? now - age : 1;
	if (sa->has_usage && sa->usage.use_ms) {
		age = sa->usage.use_ms + (sa->has_snapshot_age ? sa->snapshot_age_ms : 0);
		r.use_ms = now > age ? now - age : 1;
	}
	if (sa->has_usage) {
		r.bytes = sa->usage.bytes;
		r.packets = sa->usage.packets;
	}
	if ((rc = ipsec_sad_mem_add(s, sa, &r, err)) < 0)
		return rc;
	ipsec_sad_mem_log(s, CTP_LOG_INFO, __func__, "SA %s installed%s",
	    ipsec_sad_mem_sa_name(s->last, id, sizeof id),
	    ipsec_sad_mem_is_out(s->last) ? "" : " (replay window restored)");
	if ((rc = ipsec_sad_mem_persist(s)) < 0) {
		/* write-through or nothing: an SA the file does not hold is not
		 * installed */
		struct mem_sa *m = s->last;

		ipsec_sad_mem_unlink(s, m);
		ipsec_sad_mem_sa_free(m);
		return ctp_err_set(err, rc, 0, CTP_ST_NO_RESOURCES, "state file %s: %s",
		    s->state_file, ctp_strerror(rc));
	}
	return 0;
}

static int
ipsec_sad_mem_remove(struct ipsec_sad *s, const struct ipsec_sa_ref *ref)
{
	struct mem_sa *m = ipsec_sad_mem_find(s, ref);
	char id[80];

	if (!m)
		return CTP_E_NOTFOUND;
	ipsec_sad_mem_log(s, CTP_LOG_INFO, __func__, "SA %s removed (%s)",
	    ipsec_sad_mem_sa_name(m, id, sizeof id), mem_state_names[m->state]);
	ipsec_sad_mem_unlink(s, m);
	ipsec_sad_mem_sa_free(m);
	return ipsec_sad_mem_persist(s);
}

static int
ipsec_sad_mem_thaw(struct ipsec_sad *s, const struct ipsec_sa_ref *ref)
{
	struct mem_sa *m = ipsec_sad_mem_find(s, ref);

	if (!m)
		return CTP_E_NOTFOUND;
	if (m->state == IPSEC_SA_QUARANTINED)
		return CTP_E_STATE;   /* no verdict came: never again */
	if (m->state == IPSEC_SA_ACTIVE)
		return 0;
	ipsec_sad_mem_set_state(s, m, IPSEC_SA_ACTIVE, "thaw");
	return ipsec_sad_mem_persist(s);
}

static int
ipsec_sad_mem_quarantine(struct ipsec_sad *s, const struct ipsec_sa_ref *ref)
{
	struct mem_sa *m = ipsec_sad_mem_find(s, ref);

	if (!m)
		return CTP_E_NOTFOUND;
	if (m->state == IPSEC_SA_QUARANTINED)
		return 0;
	ipsec_sad_mem_set_state(s, m, IPSEC_SA_QUARANTINED, "quarantine");
	return ipsec_sad_mem_persist(s);
}

static int
ipsec_sad_mem_spi_in_use(struct ipsec_sad *s, uint32_t spi, uint8_t protocol,
    const struct ctp_addr *dst)
{
	struct ipsec_sa_ref ref;

	if (!dst)
		return CTP_E_INVAL;
	memset(&ref, 0, sizeof ref);
	ref.spi = spi;
	ref.protocol = protocol;
	ref.dst = *dst;
	return ipsec_sad_mem_find(s, &ref) != NULL;
}

static const char *
ipsec_sad_mem_alg_name(unsigned type, unsigned id)
{
	const struct ipsec_alg *a = ipsec_alg_find(type, id);

	return a ? a->name : "unknown";
}

static int
ipsec_sad_mem_describe_one(const struct ipsec_sad *s, const struct mem_sa *m, uint64_t now,
    struct ctp_val *o)
{
	struct ipsec_sa full, *sa = &full;
	struct ipsec_esp_stats st;
	char a[CTP_ADDRSTRLEN];
	int rc = 0;

	(void)s;
	if ((rc = ipsec_sad_mem_sa_get(m, sa)) < 0) {
		ipsec_sa_clear(sa);
		return rc;
	}
	memset(&st, 0, sizeof st);
	if (m->esp)
		ipsec_esp_stats(m->esp, &st);
	rc |= ctp_val_set_u64(o, "spi", sa->spi);
	rc |= ctp_val_set_str(o, "protocol", "esp");
	rc |= ctp_val_set_str(o, "dst", ctp_addr_fmt(&m->ref.dst, a, sizeof a));
	rc |= ctp_val_set_str(o, "local", ctp_addr_fmt(&sa->local, a, sizeof a));
	rc |= ctp_val_set_str(o, "peer", ctp_addr_fmt(&sa->peer, a, sizeof a));
	rc |= ctp_val_set_str(o, "direction", ipsec_sad_mem_is_out(m) ? "out" : "in");
	rc |= ctp_val_set_str(o, "mode", sa->mode == CTP_MODE_TUNNEL ? "tunnel" : "transport");
	rc |= ctp_val_set_str(o, "state", mem_state_names[m->state]);
	rc |= ctp_val_set_str(o, "encr", ipsec_sad_mem_alg_name(IPSEC_ALG_ENCR, sa->encr.id));
	rc |= ctp_val_set_u64(o, "encr_key_bits", sa->encr.key_bits);
	rc |= ctp_val_set_str(o, "integ", sa->has_integ ?
	    ipsec_sad_mem_alg_name(IPSEC_ALG_INTEG, sa->integ.id) : "NONE");
	rc |= ctp_val_obj_set(o, "esn", ctp_val_bool((sa->flags & IPSEC_SA_F_ESN) != 0));
	rc |= ctp_val_obj_set(o, "anti_replay",
	    ctp_val_bool((sa->flags & IPSEC_SA_F_ANTI_REPLAY) != 0));
	rc |= ctp_val_set_u64(o, "packets", m->base_packets + st.packets);
	rc |= ctp_val_set_u64(o, "bytes", m->base_bytes + st.bytes);
	rc |= ctp_val_set_u64(o, "last_seq", st.last_seq);
	if (ipsec_sad_mem_is_out(m)) {
		/* outbound numbers only grow: the last sent here is the highest */
		rc |= ctp_val_set_u64(o, "highest_sent", st.last_seq);
		rc |= ctp_val_set_u64(o, "next_seq", ipsec_sad_mem_next_seq(m));
		rc |= ctp_val_obj_set(o, "exhausted", ctp_val_bool(ipsec_sad_mem_exhausted(m)));
		rc |= ctp_val_set_u64(o, "blocked", m->blocked);
		rc |= ctp_val_set_u64(o, "send_errors", m->send_errors);
		if (s->state_file)
			rc |= ctp_val_set_u64(o, "seq_reserved", m->reserved);
	} else {
		struct ipsec_sa tmp;

		/* the window as a snapshot would carry it */
		tmp.has_replay = false;
		if (m->esp)
			ipsec_esp_export(m->esp, &tmp);
		else
			tmp.replay = sa->replay;   /* stored as the engine exported it */
		rc |= ctp_val_set_u64(o, "auth_failures", st.auth_fail);
		rc |= ctp_val_set_u64(o, "replay_drops", st.replay);
		rc |= ctp_val_set_u64(o, "malformed", st.malformed);
		rc |= ctp_val_set_u64(o, "blocked", m->blocked);
		rc |= ctp_val_set_u64(o, "replay_window", tmp.replay.window);
		rc |= ctp_val_set_u64(o, "replay_highest", tmp.replay.highest);
		/* the highest authenticated number, here or (carried in REPLAY)
		 * at the SA's earlier holders */
		rc |= ctp_val_set_u64(o, "highest_seen", tmp.replay.highest);
		ipsec_sa_clear(&tmp);
	}
	rc |= ctp_val_set_u64(o, "expired", m->expired);
	rc |= ctp_val_set_u64(o, "add_ms", ipsec_sad_mem_since(now, m->add_ms));
	rc |= ctp_val_set_u64(o, "use_ms", ipsec_sad_mem_since(now, m->use_ms));
	if (sa->has_lifetime) {
		struct ctp_val *l = ctp_val_obj();

		if (!l) {
			ipsec_sa_clear(sa);
			return CTP_E_NOMEM;
		}
		rc |= ctp_val_set_u64(l, "soft_bytes", sa->lifetime.soft_bytes);
		rc |= ctp_val_set_u64(l, "hard_bytes", sa->lifetime.hard_bytes);
		rc |= ctp_val_set_u64(l, "soft_packets", sa->lifetime.soft_packets);
		rc |= ctp_val_set_u64(l, "hard_packets", sa->lifetime.hard_packets);
		rc |= ctp_val_set_u64(l, "soft_add_s", sa->lifetime.soft_add_s);
		rc |= ctp_val_set_u64(l, "hard_add_s", sa->lifetime.hard_add_s);
		rc |= ctp_val_set_u64(l, "soft_use_s", sa->lifetime.soft_use_s);
		rc |= ctp_val_set_u64(l, "hard_use_s", sa->lifetime.hard_use_s);
		rc |= ctp_val_obj_set(o, "lifetime", l);
	}
	ipsec_sa_clear(sa);
	return rc ? CTP_E_NOMEM : 0;
}

static int
ipsec_sad_mem_describe(struct ipsec_sad *s, struct ctp_val *arr)
{
	uint64_t now = ipsec_sad_mem_now_ms();

	for (const struct mem_sa *m = s->first; m; m = m->next) {
		struct ctp_val *o = ctp_val_obj();
		int rc;

		if (!o)
			return CTP_E_NOMEM;
		if ((rc = ipsec_sad_mem_describe_one(s, m, now, o)) < 0) {
			ctp_val_free(o);
			return rc;
		}
		if (ctp_val_arr_push(arr, o) < 0)
			return CTP_E_NOMEM;
	}
	return 0;
}

/* The SAs are stored from this node's side: the peer is the far end. */
static int
ipsec_sad_mem_each_peer(struct ipsec_sad *s, void (*fn)(void *arg, const struct ctp_addr *peer),
    void *arg)
{
	for (const struct mem_sa *m = s->first; m; m = m->next)
		if (m->state != IPSEC_SA_QUARANTINED)
			fn(arg, &m->sa.peer);
	return 0;
}

int
ipsec_sad_mem_counters(struct ipsec_sad *s, struct ctp_val *obj)
{
	int rc = 0;

	rc |= ctp_val_set_str(obj, "datapath", mem_dp_names[s->dp]);
	if (s->dp == MEM_DP_UDP)
		rc |= ctp_val_set_u64(obj, "port", s->port);
	rc |= ctp_val_set_u64(obj, "sas", s->count);
	rc |= ctp_val_set_u64(obj, "in", s->c.in);
	rc |= ctp_val_set_u64(obj, "unknown_spi", s->c.unknown_spi);
	rc |= ctp_val_set_u64(obj, "looped", s->c.looped);
	rc |= ctp_val_set_u64(obj, "ike", s->c.ike);
	rc |= ctp_val_set_u64(obj, "keepalive", s->c.keepalive);
	rc |= ctp_val_set_u64(obj, "malformed", s->c.malformed);
	rc |= ctp_val_set_u64(obj, "echoed", s->c.echoed);
	rc |= ctp_val_set_u64(obj, "originated", s->c.originated);
	rc |= ctp_val_set_u64(obj, "blocked", s->c.blocked);
	rc |= ctp_val_set_u64(obj, "no_reverse", s->c.no_reverse);
	rc |= ctp_val_set_u64(obj, "send_errors", s->c.send_errors);
	rc |= ctp_val_set_u64(obj, "persisted", s->c.persisted);
	rc |= ctp_val_set_u64(obj, "persist_errors", s->c.persist_errors);
	return rc ? CTP_E_NOMEM : 0;
}

/* ---- gateways that originate traffic ------------------------------------- */

/*
 * count dummy packets (Next Header 59, RFC 4303 2.6: the receiver accepts,
 * counts and discards them, and never echoes one, so two gateways with echo
 * on do not bounce them for ever) on an active outbound ESP SA, to its peer:
 * UDP to the ENCAP destination port, else this SAD's port; raw: protocol
 * 50.  From the SA's local address.  Each payload is "CTPG" | a counter
 * (8) | wall-clock ms (8).  Every packet takes the SA's next number, with
 * the state file's reservation written first, as for an echo.
 */
int
ipsec_sad_mem_esp_send(struct ipsec_sad *s, const struct ipsec_sa_ref *ref, unsigned count,
    struct ctp_err *err)
{
	struct mem_sa *o = ipsec_sad_mem_find(s, ref);
	struct sockaddr_storage to;
	socklen_t tolen;
	unsigned sent = 0;
	char id[80];
	int rc = 0;

	if (!o)
		return ctp_err_set(err, CTP_E_NOTFOUND, 0, 0, "no SA 0x%08x (%s) here", ref->spi,
		    ref->protocol == CTP_IPPROTO_AH ? "ah" : "esp");
	ipsec_sad_mem_sa_name(o, id, sizeof id);
	if (!ipsec_sad_mem_is_out(o) || o->sa.protocol != CTP_IPPROTO_ESP)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "SA %s: only an outbound ESP SA sends",
		    id);
	/* PROFILE 5.1: handed over (or in doubt), it never sends again here */
	if (o->state != IPSEC_SA_ACTIVE)
		return ctp_err_set(err, CTP_E_STATE, 0, 0, "SA %s is %s: it does not send", id,
		    mem_state_names[o->state]);
	if (count == 0 || count > IPSEC_SAD_MEM_SEND_MAX)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "%u packets: from 1 to %u", count,
		    IPSEC_SAD_MEM_SEND_MAX);
	if (s->dp == MEM_DP_NONE || s->sock[o->sa.peer.family == CTP_FAMILY_IPV6].fd < 0)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "SA %s: no %s datapath to send on", id,
		    o->sa.peer.family == CTP_FAMILY_IPV6 ? "IPv6" : "IPv4");
	tolen = ipsec_sad_mem_sockaddr(&o->sa.peer, s->dp == MEM_DP_RAW ? 0 :
	    o->sa.has_encap ? o->sa.encap_dport : s->port, &to);
	while (sent < count) {
		uint64_t now = ipsec_sad_mem_now_ms();
		struct ctp_wbuf w;

		if (ipsec_sad_mem_expired(o, now)) {
			o->expired++;
			rc = ctp_err_set(err, CTP_E_LIMIT, 0, 0, "SA %s: a hard lifetime has passed",
			    id);
			break;
		}
		if (ipsec_sad_mem_reserve(s, o) < 0) {
			o->blocked++;
			rc = ctp_err_set(err, CTP_E_IO, 0, 0, "SA %s: state file %s: no reservation "
			    "for the next number", id, s->state_file);
			break;
		}
		ctp_wbuf_init(&w, s->pt, MEM_SEND_PAYLOAD);
		ctp_wbuf_bytes(&w, "CTPG", 4);
		ctp_wbuf_u64(&w, sent + 1);
		ctp_wbuf_u64(&w, now);
		ctp_wbuf_init(&w, s->tx, sizeof s->tx);
		if ((rc = ipsec_esp_encap(o->esp, s->pt, MEM_SEND_PAYLOAD, IPSEC_ESP_NH_NONE, &w,
		    NULL)) < 0) {
			if (rc != CTP_E_LIMIT)
				o->send_errors++;
			rc = ctp_err_set(err, rc, 0, 0, "SA %s: %s", id, rc == CTP_E_LIMIT ?
			    "sequence space exhausted" : ctp_strerror(rc));
			break;
		}
		if (!o->use_ms)
			o->use_ms = now;
		if (ipsec_sad_mem_send(s, &to, tolen, &o->sa.local, s->tx, w.len) < 0) {
			/* the number is spent all the same: never used twice */
			o->send_errors++;
			s->c.send_errors++;
			rc = ctp_err_set(err, CTP_E_IO, 0, 0, "SA %s: %s", id, strerror(errno));
			break;
		}
		s->c.originated++;
		sent++;
	}
	return sent ? (int)sent : rc;
}

const struct ipsec_sad_ops ipsec_sad_mem = {
	.name       = "mem",
	.open       = ipsec_sad_mem_open,
	.close      = ipsec_sad_mem_close,
	.list       = ipsec_sad_mem_list,
	.freeze     = ipsec_sad_mem_freeze,
	.snapshot   = ipsec_sad_mem_snapshot,
	.install    = ipsec_sad_mem_install,
	.remove     = ipsec_sad_mem_remove,
	.thaw       = ipsec_sad_mem_thaw,
	.quarantine = ipsec_sad_mem_quarantine,
	.spi_in_use = ipsec_sad_mem_spi_in_use,
	.supports   = ipsec_sad_mem_supports,
	.describe   = ipsec_sad_mem_describe,
	.each_peer  = ipsec_sad_mem_each_peer,
};
