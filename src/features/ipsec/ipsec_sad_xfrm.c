/*
 * ipsec_sad_xfrm.c: the `xfrm` SAD backend (ipsec_sad.h): the Linux
 * kernel's SAD and SPD over a NETLINK_XFRM socket.
 *
 * The netlink layer is our own and small: requests are built with the
 * writer, answers parsed through the cursor (every nlmsg_len and nla_len is
 * checked against what is left before anything is read), fixed kernel
 * structs are copied at their exact size.  ipsec_sad_xfrm.h has the layers.
 *
 * Blocking I/O on the loop thread, on purpose: every operation is one
 * request/response with the local kernel (or a dump of its tables), which
 * answers from memory in microseconds; an event-driven socket would add
 * state for nothing.  A 2 s receive timeout (SO_RCVTIMEO) bounds the worst
 * case, and sequence numbers let a late answer to a timed-out request be
 * recognised and dropped.
 *
 * How each PROFILE 5/6 duty maps onto XFRM (RFC 4067 notes 6.3, the
 * ipsec-sync anchors 4.4, strongSwan's kernel_netlink update_sa()):
 *
 *   snapshot    XFRM_MSG_GETSA (keys, algorithms, mode, selector, lifetimes,
 *               encapsulation, mark, if_id, reqid) then XFRM_MSG_GETAE (the
 *               replay state and current counters, read under the SA's lock)
 *               and a dump of the SPD (which entries send into the SA: their
 *               selectors are the SA's traffic when its own is the wildcard).
 *   freeze      Linux has no "stop sending on this SA": a BLOCK policy for
 *               the SA's traffic, preferred over the policy that feeds the
 *               SA, does it; this is the kernel documentation's recipe for
 *               migrating an SA without leaking or reusing AES-GCM IVs.  The
 *               block is a sub-policy (XFRM_POLICY_TYPE_SUB, which the
 *               kernel consults before every main policy, whatever their
 *               priorities) where the kernel has them, else a main policy of
 *               priority 0.  Then GETAE: its oseq is the highest number sent.
 *               Inserting a policy bumps the route generation, so sockets
 *               re-resolve and meet the block; a packet that had already
 *               passed the policy check when the block went in can still get
 *               its number after the GETAE; the sink's margin (PROFILE 5.1,
 *               default 16384) covers that window of a few packets.
 *   install     XFRM_MSG_NEWSA with XFRMA_REPLAY_ESN_VAL (the received
 *               window, highest number and bitmap; oseq = SEQ_OUT.next - 1),
 *               XFRMA_LTIME_VAL (bytes, packets, and add/use times aged by
 *               USAGE, so lifetimes keep counting from the original add),
 *               then one SPD entry per SELECTOR and direction (out; in, and
 *               fwd in tunnel mode) whose template names the SA (SPI, reqid).
 *   remove      XFRM_MSG_DELSA, and the SPD entries and blocks we added.
 *   thaw        delete the blocks.
 *   quarantine  keep the blocks, and a note here: never thawed.
 *   spi_in_use  GETSA by (daddr, SPI, protocol); ESRCH is free.
 *
 * Our own policies carry a tag in the selector's `user` field (see the
 * header), so they live next to an IKE daemon's without replacing them,
 * and a restarted backend finds its blocks again: at open they come back
 * as quarantined SAs, since whatever transfer froze them is gone.
 *
 * What PROFILE 6 cannot carry is refused at snapshot (CTP_E_UNSUPPORTED):
 * IPComp, BEET and route-optimisation modes, TCP or non-IKE UDP
 * encapsulation, security contexts, algorithms outside ipsec_alg.c (such as
 * hmac(sha256) truncated to 96 bits).  Lost on the way, because PROFILE 6
 * has no field for them: XFRMA_SET_MARK (output mark), TFC padding, the
 * state flags NOECN, DECAP_DSCP, NOPMTUDISC, ICMP, ALIGN4, WILDRECV, and the
 * NAT-T original address.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/udp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/netlink.h>

#include "ctp/ctp_log.h"
#include "ctp/ctp_proto.h"
#include "ctp/ctp_secret.h"
#include "ctp/ctp_val.h"
#include "features/ipsec/ipsec_sad_xfrm.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define IPSEC_XFRM_TIMEOUT_MS  2000
#define IPSEC_XFRM_RXBUF       65536    /* a dump datagram is at most 32 KiB */
#define IPSEC_XFRM_TXBUF       8192     /* the largest request, NEWSA, is < 2 KiB */
#define IPSEC_XFRM_MAX_SPD     16384    /* SPD entries read for one operation */
#define IPSEC_XFRM_MAX_ENTS    4096     /* SAs this backend has notes about */
#define IPSEC_XFRM_MAX_LOCAL   64
#define IPSEC_XFRM_MAX_POLS    (2 * IPSEC_SA_MAX_SELECTORS)
#define IPSEC_XFRM_SEQ32       UINT64_C(0xffffffff)

/* ---- small helpers ---------------------------------------------------- */

static unsigned
ipsec_sad_xfrm_family(unsigned af)
{
	return af == AF_INET ? 4 : af == AF_INET6 ? 6 : 0;
}

static uint16_t
ipsec_sad_xfrm_af(unsigned family)
{
	return family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
}

static void
ipsec_sad_xfrm_addr_put(xfrm_address_t *x, const struct ctp_addr *a)
{
	memset(x, 0, sizeof *x);
	memcpy(x, a->a, ctp_addr_len(a->family));
}

/* x as a ctp_addr of family (4 or 6); family 0 gives an unset address. */
static void
ipsec_sad_xfrm_addr_get(struct ctp_addr *a, unsigned family, const xfrm_address_t *x)
{
	memset(a, 0, sizeof *a);
	if (ctp_addr_len(family)) {
		a->family = (uint8_t)family;
		memcpy(a->a, x, ctp_addr_len(family));
	}
}

static bool
ipsec_sad_xfrm_addr_any(const xfrm_address_t *x)
{
	static const xfrm_address_t zero;

	/* a union of plain integers, no padding */
	return memcmp(x, &zero, sizeof zero) == 0;   // NOLINT(bugprone-suspicious-memory-comparison)
}

static bool
ipsec_sad_xfrm_addr_eq(const xfrm_address_t *x, const xfrm_address_t *y, unsigned af)
{
	return memcmp(x, y, af == AF_INET ? 4 : 16) == 0;
}

static bool
ipsec_sad_xfrm_addr_is(const xfrm_address_t *x, unsigned af, const struct ctp_addr *a)
{
	return ipsec_sad_xfrm_family(af) == a->family && memcmp(x, a->a, ctp_addr_len(a->family)) == 0;
}

/* addr (of af) inside prefix/plen, as the kernel's addr_match(). */
static bool
ipsec_sad_xfrm_prefix_has(const xfrm_address_t *prefix, unsigned plen, unsigned af,
    const xfrm_address_t *addr)
{
	struct ctp_addr p, a;
	unsigned family = ipsec_sad_xfrm_family(af);

	if (plen == 0)
		return true;
	ipsec_sad_xfrm_addr_get(&p, family, prefix);
	ipsec_sad_xfrm_addr_get(&a, family, addr);
	return family && ctp_addr_in_prefix(&a, &p, plen);
}

static uint64_t
ipsec_sad_xfrm_limit_in(uint64_t v)
{
	return v == XFRM_INF ? 0 : v;
}

static uint64_t
ipsec_sad_xfrm_limit_out(uint64_t v)
{
	return v == 0 ? XFRM_INF : v;
}

/* No limit on anything. */
static void
ipsec_sad_xfrm_lft_inf(struct xfrm_lifetime_cfg *l)
{
	memset(l, 0, sizeof *l);
	l->soft_byte_limit = l->hard_byte_limit = XFRM_INF;
	l->soft_packet_limit = l->hard_packet_limit = XFRM_INF;
}

static uint32_t
ipsec_sad_xfrm_secs_in(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* ---- codec: messages and attributes --------------------------------------- */

int
ipsec_sad_xfrm_msg_next(struct ctp_cur *c, struct ipsec_xfrm_msg *m)
{
	struct ctp_cur peek = *c, whole;
	struct nlmsghdr h;
	size_t pad;

	if (c->left == 0)
		return 0;
	if (ctp_cur_copy(&peek, &h, sizeof h) < 0 || h.nlmsg_len < sizeof h ||
	    h.nlmsg_len > c->left)
		return CTP_E_LENGTH;
	(void)ctp_cur_sub(c, h.nlmsg_len, &whole);
	m->type = h.nlmsg_type;
	m->flags = h.nlmsg_flags;
	m->seq = h.nlmsg_seq;
	m->pid = h.nlmsg_pid;
	m->raw = whole.p;
	m->rawlen = h.nlmsg_len;
	ctp_cur_init(&m->body, whole.p, whole.left, 0);
	(void)ctp_cur_skip(&m->body, NLMSG_HDRLEN);
	/* messages are 4-aligned; the last one may end without its padding */
	pad = NLMSG_ALIGN(h.nlmsg_len) - h.nlmsg_len;
	(void)ctp_cur_skip(c, pad < c->left ? pad : c->left);
	return 1;
}

int
ipsec_sad_xfrm_attr_next(struct ctp_cur *c, uint16_t *type, struct ctp_cur *val)
{
	struct ctp_cur peek = *c;
	struct nlattr a;
	size_t pad;

	if (c->left == 0)
		return 0;
	if (ctp_cur_copy(&peek, &a, sizeof a) < 0 || a.nla_len < NLA_HDRLEN || a.nla_len > c->left)
		return CTP_E_TLV;
	(void)ctp_cur_skip(c, NLA_HDRLEN);
	(void)ctp_cur_sub(c, a.nla_len - NLA_HDRLEN, val);
	pad = NLA_ALIGN(a.nla_len) - a.nla_len;
	(void)ctp_cur_skip(c, pad < c->left ? pad : c->left);
	*type = a.nla_type & NLA_TYPE_MASK;
	return 1;
}

/* A fixed-size attribute: at least n octets, the first n copied. */
static int
ipsec_sad_xfrm_fixed(struct ctp_cur *v, void *dst, size_t n)
{
	return ctp_cur_copy(v, dst, n);
}

/*
 * struct xfrm_algo (CRYPT, AUTH), xfrm_algo_auth (AUTH_TRUNC) and
 * xfrm_algo_aead (AEAD): a 64-octet name, the key length in bits, for the
 * last two an ICV length in bits, then the key.
 */
static int
ipsec_sad_xfrm_parse_alg(struct ctp_cur *v, struct ipsec_xfrm_alg *a, bool has_icv)
{
	size_t n;

	memset(a, 0, sizeof *a);
	if (ctp_cur_copy(v, a->name, 64) < 0 || ctp_cur_copy(v, &a->key_bits, 4) < 0 ||
	    (has_icv && ctp_cur_copy(v, &a->icv_bits, 4) < 0))
		return CTP_E_SHORT;
	a->name[64] = '\0';
	n = ((size_t)a->key_bits + 7) / 8;
	if (n > sizeof a->key)
		return CTP_E_LIMIT;
	a->key_len = (uint16_t)n;
	return ctp_cur_copy(v, a->key, n);
}

/* struct xfrm_replay_state_esn: six u32 then bmp_len words of bitmap. */
static int
ipsec_sad_xfrm_parse_esn(struct ctp_cur *v, struct ipsec_xfrm_state *st)
{
	uint32_t hdr[6];

	if (ctp_cur_copy(v, hdr, sizeof hdr) < 0)
		return CTP_E_SHORT;
	if (hdr[0] > IPSEC_XFRM_BMP_WORDS)
		return CTP_E_LIMIT;
	memset(&st->esn, 0, sizeof st->esn);
	st->esn.bmp_len = hdr[0];
	st->esn.oseq = hdr[1];
	st->esn.seq = hdr[2];
	st->esn.oseq_hi = hdr[3];
	st->esn.seq_hi = hdr[4];
	st->esn.replay_window = hdr[5];
	st->replay_kind = IPSEC_XFRM_REPLAY_ESN;
	return ctp_cur_copy(v, st->esn.bmp, (size_t)st->esn.bmp_len * 4);
}

/* The attributes a GETSA and a GETAE reply share. */
static int
ipsec_sad_xfrm_parse_counters(uint16_t type, struct ctp_cur *v, struct ipsec_xfrm_state *st)
{
	switch (type) {
	case XFRMA_REPLAY_VAL:
		st->replay_kind = IPSEC_XFRM_REPLAY_LEGACY;
		return ipsec_sad_xfrm_fixed(v, &st->replay, sizeof st->replay);
	case XFRMA_REPLAY_ESN_VAL:
		return ipsec_sad_xfrm_parse_esn(v, st);
	case XFRMA_LTIME_VAL:
		return ipsec_sad_xfrm_fixed(v, &st->info.curlft, sizeof st->info.curlft);
	case XFRMA_MARK:
		st->has_mark = true;
		return ipsec_sad_xfrm_fixed(v, &st->mark, sizeof st->mark);
	case XFRMA_IF_ID:
		return ipsec_sad_xfrm_fixed(v, &st->if_id, sizeof st->if_id);
	}
	return 0;
}

void
ipsec_sad_xfrm_state_clear(struct ipsec_xfrm_state *st)
{
	ctp_wipe(st, sizeof *st);
}

int
ipsec_sad_xfrm_parse_state(const struct ipsec_xfrm_msg *m, struct ipsec_xfrm_state *st,
    struct ctp_err *err)
{
	struct ctp_cur c = m->body, v;
	uint16_t type;
	int rc = 0, more;

	ipsec_sad_xfrm_state_clear(st);
	if (m->type != XFRM_MSG_NEWSA && m->type != XFRM_MSG_UPDSA)
		return ctp_err_set(err, CTP_E_TYPE, 4, 0, "netlink message type %u is not an SA",
		    m->type);
	if (ctp_cur_copy(&c, &st->info, sizeof st->info) < 0)
		return ctp_err_set(err, CTP_E_SHORT, c.off, 0,
		    "SA message shorter than struct xfrm_usersa_info");
	(void)ctp_cur_skip(&c, NLMSG_ALIGN(sizeof st->info) - sizeof st->info);
	while ((more = ipsec_sad_xfrm_attr_next(&c, &type, &v)) > 0) {
		size_t at = v.off - NLA_HDRLEN;

		switch (type) {
		case XFRMA_ALG_AEAD:
			st->has_aead = true;
			rc = ipsec_sad_xfrm_parse_alg(&v, &st->aead, true);
			break;
		case XFRMA_ALG_CRYPT:
			st->has_crypt = true;
			rc = ipsec_sad_xfrm_parse_alg(&v, &st->crypt, false);
			break;
		case XFRMA_ALG_AUTH_TRUNC:
			st->has_auth = st->auth_trunc = true;
			rc = ipsec_sad_xfrm_parse_alg(&v, &st->auth, true);
			break;
		case XFRMA_ALG_AUTH:
			/* the kernel sends both; the truncated form says
			 * the ICV length, the legacy one leaves it implicit */
			if (!st->auth_trunc) {
				st->has_auth = true;
				rc = ipsec_sad_xfrm_parse_alg(&v, &st->auth, false);
			}
			break;
		case XFRMA_ENCAP:
			st->has_encap = true;
			rc = ipsec_sad_xfrm_fixed(&v, &st->encap, sizeof st->encap);
			break;
		case XFRMA_SA_EXTRA_FLAGS:
			rc = ipsec_sad_xfrm_fixed(&v, &st->extra_flags, sizeof st->extra_flags);
			break;
		case IPSEC_XFRMA_SA_DIR:
			rc = ipsec_sad_xfrm_fixed(&v, &st->dir, sizeof st->dir);
			break;
		case XFRMA_ALG_COMP:
			st->has_comp = true;
			break;
		case XFRMA_COADDR:
			st->has_coaddr = true;
			break;
		case XFRMA_SEC_CTX:
			st->has_sec_ctx = true;
			break;
		case XFRMA_OFFLOAD_DEV:
			st->has_offload = true;
			break;
		default:
			/* REPLAY(_ESN)_VAL, LTIME_VAL, MARK, IF_ID; the
			 * rest (LASTUSED, TFCPAD, SET_MARK...) is skipped */
			rc = ipsec_sad_xfrm_parse_counters(type, &v, st);
			break;
		}
		if (rc < 0) {
			ipsec_sad_xfrm_state_clear(st);
			return ctp_err_set(err, rc, at, 0, "SA attribute %u is malformed (%s)", type,
			    ctp_errname(rc));
		}
	}
	if (more < 0) {
		ipsec_sad_xfrm_state_clear(st);
		return ctp_err_set(err, more, c.off, 0, "SA attributes are malformed");
	}
	return 0;
}

int
ipsec_sad_xfrm_parse_ae(const struct ipsec_xfrm_msg *m, struct ipsec_xfrm_state *st,
    struct ctp_err *err)
{
	struct ctp_cur c = m->body, v;
	struct xfrm_aevent_id id;
	uint16_t type;
	int rc = 0, more;

	if (m->type != XFRM_MSG_NEWAE)
		rc = ctp_err_set(err, CTP_E_TYPE, 4, 0, "netlink message type %u is not an AE",
		    m->type);
	else if (ctp_cur_copy(&c, &id, sizeof id) < 0)
		rc = ctp_err_set(err, CTP_E_SHORT, c.off, 0,
		    "AE message shorter than struct xfrm_aevent_id");
	else if (id.sa_id.spi != st->info.id.spi || id.sa_id.proto != st->info.id.proto ||
	    id.sa_id.family != st->info.family ||
	    !ipsec_sad_xfrm_addr_eq(&id.sa_id.daddr, &st->info.id.daddr, st->info.family))
		rc = ctp_err_set(err, CTP_E_VALUE, NLMSG_HDRLEN, 0, "AE reply about another SA");
	if (rc < 0) {
		ipsec_sad_xfrm_state_clear(st);
		return rc;
	}
	(void)ctp_cur_skip(&c, NLMSG_ALIGN(sizeof id) - sizeof id);
	while ((more = ipsec_sad_xfrm_attr_next(&c, &type, &v)) > 0) {
		size_t at = v.off - NLA_HDRLEN;

		if ((rc = ipsec_sad_xfrm_parse_counters(type, &v, st)) < 0) {
			ipsec_sad_xfrm_state_clear(st);
			return ctp_err_set(err, rc, at, 0, "AE attribute %u is malformed (%s)", type,
			    ctp_errname(rc));
		}
	}
	if (more < 0) {
		ipsec_sad_xfrm_state_clear(st);
		return ctp_err_set(err, more, c.off, 0, "AE attributes are malformed");
	}
	st->ae = true;
	return 0;
}

int
ipsec_sad_xfrm_parse_policy(const struct ipsec_xfrm_msg *m, struct ipsec_xfrm_policy *p,
    struct ctp_err *err)
{
	struct ctp_cur c = m->body, v;
	uint16_t type;
	int rc = 0, more;

	memset(p, 0, sizeof *p);
	if (m->type != XFRM_MSG_NEWPOLICY && m->type != XFRM_MSG_UPDPOLICY)
		return ctp_err_set(err, CTP_E_TYPE, 4, 0, "netlink message type %u is not a policy",
		    m->type);
	if (ctp_cur_copy(&c, &p->info, sizeof p->info) < 0)
		return ctp_err_set(err, CTP_E_SHORT, c.off, 0,
		    "policy message shorter than struct xfrm_userpolicy_info");
	(void)ctp_cur_skip(&c, NLMSG_ALIGN(sizeof p->info) - sizeof p->info);
	p->type = XFRM_POLICY_TYPE_MAIN;
	while ((more = ipsec_sad_xfrm_attr_next(&c, &type, &v)) > 0) {
		size_t at = v.off - NLA_HDRLEN;

		switch (type) {
		case XFRMA_TMPL:
			/* an array of struct xfrm_user_tmpl, nothing else */
			if (v.left % sizeof p->tmpl[0] || v.left / sizeof p->tmpl[0] > IPSEC_XFRM_MAX_TMPL)
				rc = CTP_E_LENGTH;
			else {
				p->ntmpl = v.left / sizeof p->tmpl[0];
				rc = ctp_cur_copy(&v, p->tmpl, v.left);
			}
			break;
		case XFRMA_MARK:
			p->has_mark = true;
			rc = ipsec_sad_xfrm_fixed(&v, &p->mark, sizeof p->mark);
			break;
		case XFRMA_IF_ID:
			rc = ipsec_sad_xfrm_fixed(&v, &p->if_id, sizeof p->if_id);
			break;
		case XFRMA_POLICY_TYPE:
			rc = ipsec_sad_xfrm_fixed(&v, &p->type, sizeof p->type);
			break;
		}
		if (rc < 0) {
			memset(p, 0, sizeof *p);
			return ctp_err_set(err, rc, at, 0, "policy attribute %u is malformed (%s)",
			    type, ctp_errname(rc));
		}
	}
	if (more < 0) {
		memset(p, 0, sizeof *p);
		return ctp_err_set(err, more, c.off, 0, "policy attributes are malformed");
	}
	return 0;
}

/* ---- the replay bitmap ------------------------------------------------------ */

/*
 * The kernel's replay bitmap (XFRMA_REPLAY_ESN_VAL: net/xfrm/xfrm_replay.c,
 * xfrm_replay_check/advance_bmp and _esn) is a ring of `replay_window`
 * bits laid over bmp[] (ring bit n is bmp[n / 32] bit n % 32, LSB first),
 * not a shift register: nothing ever moves.  With seq the low 32 bits of
 * the highest number received, sequence number seq - d (d < window) lives
 * at
 *
 *     pos   = (seq - 1) % window                      (u32 arithmetic)
 *     bitnr = pos >= d ? pos - d : window - (d - pos)
 *
 * i.e. at (s - 1) mod window for number s, as long as the numbers do not
 * cross a 2^32 boundary; across it (ESN) the kernel keeps the same
 * relative rule, and so does this function.  When the highest number
 * advances by diff the bits between the old and new position are cleared
 * and the new one is set.
 *
 * PROFILE 6 counts from the other end: bit i, from the MSB of octet 0, is
 * number highest - i.  So PROFILE bit i is ring bit ring_index(seq, W, i).
 *
 * The legacy XFRMA_REPLAY_VAL (at most 32 packets, no ESN) is a shift
 * register: bit d (LSB = 0) is seq - d.
 *
 * One quirk of the kernel's: a ring that starts at seq 0 with a window that
 * does not divide 2^32 (96, 160...) gets its very first bit at
 * (2^32 - 1) % window + s, not at (s - 1) % window where the check looks
 * for it.  The conversion reads the ring as the check does, since that is
 * what decides whether a packet is a replay; an SA installed by us starts
 * at its received highest number, where the two agree.
 *
 * How it was verified: tests/unit/test_sad_xfrm.c runs the kernel's
 * xfrm_replay_advance_bmp() (copied) on random traffic and compares both
 * directions of the conversion with it, and decodes the recordings of
 * tests/vectors/xfrm (traffic with gaps that straddle the ring, made by
 * jumping the sender's counter) into exactly the numbers sent, the raw
 * words being those `ip -s xfrm state` printed; tests/vm/xfrm_test.sh
 * installs a window with holes across the ring's wrap into a real kernel,
 * which reads it back unchanged, accepts a hole once, refuses a marked
 * number as a replay (XfrmInStateSeqError 1) and shows the bits it set.
 */
static uint32_t
ipsec_sad_xfrm_ring_index(uint32_t seq, uint32_t window, uint32_t i)
{
	uint32_t pos = (seq - 1) % window;

	return pos >= i ? pos - i : window - (i - pos);
}

/* The kernel's own window, and the highest number received, of st. */
static uint32_t
ipsec_sad_xfrm_kwindow(const struct ipsec_xfrm_state *st)
{
	if (st->replay_kind == IPSEC_XFRM_REPLAY_ESN) {
		uint32_t bits = st->esn.bmp_len * 32;

		return st->esn.replay_window < bits ? st->esn.replay_window : bits;
	}
	if (st->replay_kind == IPSEC_XFRM_REPLAY_LEGACY)
		return st->info.replay_window < 32 ? st->info.replay_window : 32;
	return 0;
}

static uint64_t
ipsec_sad_xfrm_highest(const struct ipsec_xfrm_state *st)
{
	if (st->replay_kind == IPSEC_XFRM_REPLAY_ESN)
		return (st->info.flags & XFRM_STATE_ESN) ?
		    (uint64_t)st->esn.seq_hi << 32 | st->esn.seq : st->esn.seq;
	return st->replay_kind == IPSEC_XFRM_REPLAY_LEGACY ? st->replay.seq : 0;
}

static uint64_t
ipsec_sad_xfrm_oseq(const struct ipsec_xfrm_state *st)
{
	if (st->replay_kind == IPSEC_XFRM_REPLAY_ESN)
		return (st->info.flags & XFRM_STATE_ESN) ?
		    (uint64_t)st->esn.oseq_hi << 32 | st->esn.oseq : st->esn.oseq;
	return st->replay_kind == IPSEC_XFRM_REPLAY_LEGACY ? st->replay.oseq : 0;
}

void
ipsec_sad_xfrm_bitmap_from_kernel(const struct ipsec_xfrm_state *st, uint32_t window,
    uint64_t highest, uint8_t *bitmap)
{
	uint32_t kw = ipsec_sad_xfrm_kwindow(st);

	memset(bitmap, 0, window / 8);
	for (uint32_t i = 0; i < window && i < highest; i++) {
		bool set;

		if (i >= kw) {
			/* beyond the kernel's window (rounded up to 32
			 * here): the kernel refuses them as too old, and the
			 * sink does too when they read as received */
			set = true;
		} else if (st->replay_kind == IPSEC_XFRM_REPLAY_ESN) {
			uint32_t n = ipsec_sad_xfrm_ring_index((uint32_t)highest, kw, i);

			set = st->esn.bmp[n / 32] >> (n % 32) & 1;
		} else
			set = st->replay.bitmap >> i & 1;
		if (set)
			bitmap[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	}
}

void
ipsec_sad_xfrm_bitmap_to_kernel(const uint8_t *bitmap, uint32_t window, uint64_t highest,
    uint32_t *bmp)
{
	memset(bmp, 0, (size_t)(window + 31) / 32 * 4);
	for (uint32_t i = 0; i < window; i++)
		if (bitmap[i / 8] >> (7 - i % 8) & 1) {
			uint32_t n = ipsec_sad_xfrm_ring_index((uint32_t)highest, window, i);

			bmp[n / 32] |= 1u << (n % 32);
		}
}

/* ---- convert: selectors --------------------------------------------------- */

/* A port and mask (network order) as a range; only prefix masks are ranges. */
static int
ipsec_sad_xfrm_port_range(uint16_t port_be, uint16_t mask_be, uint16_t *lo, uint16_t *hi)
{
	uint16_t p = ntohs(port_be), m = ntohs(mask_be);

	if (m && (uint16_t)(m | (m - 1)) != 0xffff)
		return CTP_E_UNSUPPORTED;
	*lo = p & m;
	*hi = p | (uint16_t)~m;
	return 0;
}

/* A range as a port and mask: all, one port, or an aligned power of two. */
static int
ipsec_sad_xfrm_port_mask(uint16_t lo, uint16_t hi, uint16_t *port_be, uint16_t *mask_be)
{
	uint32_t size = (uint32_t)hi - lo + 1;

	if (hi < lo || (size & (size - 1)) || lo % size)
		return CTP_E_UNSUPPORTED;
	*port_be = htons(size == 65536 ? 0 : lo);
	*mask_be = htons((uint16_t)~(size - 1));
	return 0;
}

static bool
ipsec_sad_xfrm_sel_wild(const struct xfrm_selector *s)
{
	return !s->prefixlen_d && !s->prefixlen_s && !s->proto && !s->dport_mask &&
	    !s->sport_mask && !s->ifindex;
}

static int
ipsec_sad_xfrm_sel_to_profile(const struct xfrm_selector *x, struct ipsec_selector *s)
{
	unsigned family = ipsec_sad_xfrm_family(x->family);
	int rc;

	memset(s, 0, sizeof *s);
	if (!family)
		return CTP_E_UNSUPPORTED;
	s->family = (uint8_t)family;
	s->ulp = x->proto;
	s->src_plen = x->prefixlen_s;
	s->dst_plen = x->prefixlen_d;
	ipsec_sad_xfrm_addr_get(&s->src, family, &x->saddr);
	ipsec_sad_xfrm_addr_get(&s->dst, family, &x->daddr);
	if ((rc = ipsec_sad_xfrm_port_range(x->sport, x->sport_mask, &s->sport_lo, &s->sport_hi)) < 0)
		return rc;
	return ipsec_sad_xfrm_port_range(x->dport, x->dport_mask, &s->dport_lo, &s->dport_hi);
}

static int
ipsec_sad_xfrm_sel_from_profile(const struct ipsec_selector *s, uint32_t tag,
    struct xfrm_selector *x)
{
	int rc;

	memset(x, 0, sizeof *x);
	if (!ctp_addr_len(s->family) || s->src.family != s->family || s->dst.family != s->family)
		return CTP_E_VALUE;
	x->family = ipsec_sad_xfrm_af(s->family);
	x->proto = s->ulp;
	x->prefixlen_s = s->src_plen;
	x->prefixlen_d = s->dst_plen;
	ipsec_sad_xfrm_addr_put(&x->saddr, &s->src);
	ipsec_sad_xfrm_addr_put(&x->daddr, &s->dst);
	x->user = tag;
	if ((rc = ipsec_sad_xfrm_port_mask(s->sport_lo, s->sport_hi, &x->sport, &x->sport_mask)) < 0)
		return rc;
	return ipsec_sad_xfrm_port_mask(s->dport_lo, s->dport_hi, &x->dport, &x->dport_mask);
}

bool
ipsec_sad_xfrm_policy_uses(const struct ipsec_xfrm_policy *p, const struct ipsec_xfrm_state *st)
{
	const struct xfrm_usersa_info *i = &st->info;

	if (p->if_id != st->if_id)
		return false;
	for (size_t k = 0; k < p->ntmpl && k < IPSEC_XFRM_MAX_TMPL; k++) {
		const struct xfrm_user_tmpl *t = &p->tmpl[k];

		if (t->id.proto != i->id.proto || t->mode != i->mode ||
		    (t->reqid && t->reqid != i->reqid) || (t->id.spi && t->id.spi != i->id.spi) ||
		    (t->family && t->family != i->family))
			continue;
		/* the addresses a template names must be the SA's; a
		 * transport template may leave them to the packet, whose
		 * ends are then the SA's own (xfrm_tmpl_resolve_one) */
		if (!ipsec_sad_xfrm_addr_any(&t->id.daddr) &&
		    !ipsec_sad_xfrm_addr_eq(&t->id.daddr, &i->id.daddr, i->family))
			continue;
		if (!ipsec_sad_xfrm_addr_any(&t->saddr) &&
		    !ipsec_sad_xfrm_addr_eq(&t->saddr, &i->saddr, i->family))
			continue;
		if (i->mode == XFRM_MODE_TRANSPORT &&
		    (p->info.sel.family != i->family ||
		    !ipsec_sad_xfrm_prefix_has(&p->info.sel.saddr, p->info.sel.prefixlen_s, i->family,
		    &i->saddr) ||
		    !ipsec_sad_xfrm_prefix_has(&p->info.sel.daddr, p->info.sel.prefixlen_d, i->family,
		    &i->id.daddr)))
			continue;
		return true;
	}
	return false;
}

/* A transport SA carries only its ends' own packets: narrow to them. */
static void
ipsec_sad_xfrm_narrow(struct xfrm_selector *x, const struct ipsec_xfrm_state *st)
{
	unsigned bits = st->info.family == AF_INET ? 32 : 128;

	x->family = st->info.family;
	x->saddr = st->info.saddr;
	x->daddr = st->info.id.daddr;
	x->prefixlen_s = (uint8_t)bits;
	x->prefixlen_d = (uint8_t)bits;
}

/*
 * Two selectors are the same by their members: the struct has padding (after
 * proto), which an assignment need not copy, so memcmp could tell them apart.
 */
static bool
xfrm_sel_eq(const struct xfrm_selector *a, const struct xfrm_selector *b)
{
	/* xfrm_address_t: a union of plain integers, no padding */
	return memcmp(&a->daddr, &b->daddr, sizeof a->daddr) == 0 &&   // NOLINT(bugprone-suspicious-memory-comparison)
	    memcmp(&a->saddr, &b->saddr, sizeof a->saddr) == 0 &&   // NOLINT(bugprone-suspicious-memory-comparison)
	    a->dport == b->dport &&
	    a->dport_mask == b->dport_mask && a->sport == b->sport &&
	    a->sport_mask == b->sport_mask && a->family == b->family &&
	    a->prefixlen_d == b->prefixlen_d && a->prefixlen_s == b->prefixlen_s &&
	    a->proto == b->proto && a->ifindex == b->ifindex && a->user == b->user;
}

int
ipsec_sad_xfrm_traffic(const struct ipsec_xfrm_state *st, const struct ipsec_xfrm_view *v,
    uint8_t dir, struct ipsec_xfrm_traffic *out, size_t max, size_t *n)
{
	struct ipsec_xfrm_traffic t;

	*n = 0;
	if (st->info.sel.family && !ipsec_sad_xfrm_sel_wild(&st->info.sel)) {
		if (max == 0)
			return CTP_E_LIMIT;
		memset(&out[0], 0, sizeof out[0]);
		out[0].sel = st->info.sel;
		out[0].sel.user = 0;
		if (st->has_mark)
			out[0].mark = st->mark;
		out[0].if_id = st->if_id;
		*n = 1;
		return 0;
	}
	for (size_t k = 0; k < v->npol; k++) {
		const struct ipsec_xfrm_policy *p = &v->pol[k];
		bool dup = false;

		if (p->info.action != XFRM_POLICY_ALLOW || p->info.dir != dir ||
		    !ipsec_sad_xfrm_policy_uses(p, st))
			continue;
		memset(&t, 0, sizeof t);
		t.sel = p->info.sel;
		t.sel.user = 0;
		if (st->info.mode == XFRM_MODE_TRANSPORT)
			ipsec_sad_xfrm_narrow(&t.sel, st);
		if (p->has_mark)
			t.mark = p->mark;
		t.if_id = p->if_id;
		for (size_t j = 0; j < *n && !dup; j++)
			dup = xfrm_sel_eq(&out[j].sel, &t.sel) && out[j].mark.v == t.mark.v &&
			    out[j].mark.m == t.mark.m && out[j].if_id == t.if_id;
		if (dup)
			continue;
		if (*n == max)
			return CTP_E_LIMIT;
		out[(*n)++] = t;
	}
	return 0;
}

/* ---- convert: kernel SA to PROFILE 6 ----------------------------------------- */

static bool
ipsec_sad_xfrm_is_local(const struct ipsec_xfrm_view *v, unsigned af, const xfrm_address_t *x)
{
	for (size_t i = 0; i < v->nlocal; i++)
		if (ipsec_sad_xfrm_addr_is(x, af, &v->local[i]))
			return true;
	return false;
}

/* Inbound when the kernel says so (6.10+), or when we are the destination. */
static bool
ipsec_sad_xfrm_inbound(const struct ipsec_xfrm_state *st, const struct ipsec_xfrm_view *v)
{
	if (st->dir)
		return st->dir == IPSEC_XFRM_SA_DIR_IN;
	return ipsec_sad_xfrm_is_local(v, st->info.family, &st->info.id.daddr);
}

static int
ipsec_sad_xfrm_unsupported(struct ctp_err *err, uint8_t status, const char *what)
{
	return ctp_err_set(err, CTP_E_UNSUPPORTED, 0, status, "SA cannot move: %s", what);
}

static int
ipsec_sad_xfrm_algs_to_sa(const struct ipsec_xfrm_state *st, struct ipsec_sa *sa,
    struct ctp_err *err)
{
	const struct ipsec_alg *a;
	const struct ipsec_xfrm_alg *k;

	if (st->has_aead || st->has_crypt) {
		k = st->has_aead ? &st->aead : &st->crypt;
		a = ipsec_alg_by_xfrm(IPSEC_ALG_ENCR, k->name, st->has_aead ? k->icv_bits / 8 : 0);
		if (!a || (a->xfrm_attr == IPSEC_XFRM_AEAD) != st->has_aead || k->key_bits % 8 ||
		    k->key_len < a->salt_len ||
		    !ipsec_alg_keylen(a, (unsigned)(k->key_len - a->salt_len) * 8))
			return ctp_err_set(err, CTP_E_UNSUPPORTED, 0, CTP_ST_IPSEC_ALG_UNSUPPORTED,
			    "SA cannot move: cipher %s with a %u-bit key%s is not in PROFILE 6",
			    k->name, k->key_bits, st->has_aead ? " (AEAD)" : "");
		sa->has_encr = true;
		sa->encr.id = a->id;
		sa->encr.key_bits = (uint16_t)((k->key_len - a->salt_len) * 8);
		sa->encr.key_len = k->key_len;
		memcpy(sa->encr.key, k->key, k->key_len);
	}
	if (st->has_auth) {
		k = &st->auth;
		a = st->auth_trunc ? ipsec_alg_by_xfrm(IPSEC_ALG_INTEG, k->name, k->icv_bits / 8) : NULL;
		if (!a || k->icv_bits % 8 || k->key_bits % 8 ||
		    k->key_len != ipsec_alg_key_octets(a, a->keys[0].bits))
			return ctp_err_set(err, CTP_E_UNSUPPORTED, 0, CTP_ST_IPSEC_ALG_UNSUPPORTED,
			    "SA cannot move: integrity %s with a %u-bit ICV and a %u-bit key is not in "
			    "PROFILE 6", k->name, k->icv_bits, k->key_bits);
		sa->has_integ = true;
		sa->integ.id = a->id;
		sa->integ.key_len = k->key_len;
		memcpy(sa->integ.key, k->key, k->key_len);
	}
	if (sa->protocol == CTP_IPPROTO_ESP && !sa->has_encr)
		return ipsec_sad_xfrm_unsupported(err, CTP_ST_IPSEC_ALG_UNSUPPORTED,
		    "ESP without a cipher");
	return 0;
}

static int
ipsec_sad_xfrm_selectors_to_sa(const struct ipsec_xfrm_state *st,
    const struct ipsec_xfrm_view *v, bool in, struct ipsec_sa *sa, struct ctp_err *err)
{
	struct ipsec_xfrm_traffic t[IPSEC_SA_MAX_SELECTORS];
	size_t n = 0;
	int rc;

	rc = ipsec_sad_xfrm_traffic(st, v, in ? XFRM_POLICY_IN : XFRM_POLICY_OUT, t,
	    IPSEC_SA_MAX_SELECTORS, &n);
	if (rc == 0 && n == 0 && in && st->info.mode == XFRM_MODE_TUNNEL)
		rc = ipsec_sad_xfrm_traffic(st, v, XFRM_POLICY_FWD, t, IPSEC_SA_MAX_SELECTORS, &n);
	if (rc < 0)
		return ctp_err_set(err, rc, 0, CTP_ST_NO_RESOURCES,
		    "SA has more than %d selectors", IPSEC_SA_MAX_SELECTORS);
	if (n == 0 && st->info.mode == XFRM_MODE_TRANSPORT) {
		/* nothing restricts it: a transport SA carries its ends'
		 * packets, and no other (a tunnel SA gets no SELECTOR: a
		 * wildcard would pull all traffic into it at the sink) */
		memset(&t[0], 0, sizeof t[0]);
		ipsec_sad_xfrm_narrow(&t[0].sel, st);
		n = 1;
	}
	for (size_t i = 0; i < n; i++)
		if (ipsec_sad_xfrm_sel_to_profile(&t[i].sel, &sa->sel[i]) < 0)
			return ipsec_sad_xfrm_unsupported(err, CTP_ST_IPSEC_RENEGOTIATE,
			    "a selector's port mask is not a range");
	sa->nsel = n;
	return 0;
}

static void
ipsec_sad_xfrm_replay_to_sa(const struct ipsec_xfrm_state *st, bool in, struct ipsec_sa *sa)
{
	uint32_t kw = ipsec_sad_xfrm_kwindow(st);

	if (!in) {
		sa->has_seq_out = true;
		sa->seq_out.next = ipsec_sad_xfrm_oseq(st) + 1;
		sa->seq_out.margin = 0;
	}
	if (kw == 0)
		return;
	sa->flags |= IPSEC_SA_F_ANTI_REPLAY;
	sa->has_replay = true;
	/* PROFILE windows are whole words (RFC 4303 3.4.3 asks for 32+) */
	sa->replay.window = (kw + 31) / 32 * 32;
	if (sa->replay.window > CTP_REPLAY_MAX_WINDOW)
		sa->replay.window = CTP_REPLAY_MAX_WINDOW;
	sa->replay.highest = ipsec_sad_xfrm_highest(st);
	sa->replay.bitmap_len = (uint16_t)(sa->replay.window / 8);
	ipsec_sad_xfrm_bitmap_from_kernel(st, sa->replay.window, sa->replay.highest,
	    sa->replay.bitmap);
}

static uint64_t
ipsec_sad_xfrm_ms_since(int64_t now_s, uint64_t then_s)
{
	uint64_t d;

	/* kernel times are seconds of CLOCK_REALTIME; one in the future
	 * (the clock was set back) counts as now */
	if (then_s == 0 || now_s <= 0 || then_s >= (uint64_t)now_s)
		return 0;
	d = (uint64_t)now_s - then_s;
	return d > UINT64_MAX / 1000 ? UINT64_MAX : d * 1000;
}

int
ipsec_sad_xfrm_to_sa(const struct ipsec_xfrm_state *st, const struct ipsec_xfrm_view *v,
    struct ipsec_sa *sa, struct ctp_err *err)
{
	const struct xfrm_usersa_info *i = &st->info;
	const struct xfrm_lifetime_cfg *l = &i->lft;
	bool in;
	int rc;

	ipsec_sa_clear(sa);
	if (i->id.proto != CTP_IPPROTO_ESP && i->id.proto != CTP_IPPROTO_AH)
		return ipsec_sad_xfrm_unsupported(err, CTP_ST_IPSEC_RENEGOTIATE,
		    "neither ESP nor AH");
	if (i->mode != XFRM_MODE_TRANSPORT && i->mode != XFRM_MODE_TUNNEL)
		return ipsec_sad_xfrm_unsupported(err, CTP_ST_IPSEC_RENEGOTIATE,
		    "mode is neither transport nor tunnel");
	if (!ipsec_sad_xfrm_family(i->family))
		return ipsec_sad_xfrm_unsupported(err, CTP_ST_IPSEC_RENEGOTIATE,
		    "family is neither IPv4 nor IPv6");
	if (st->has_comp || st->has_coaddr || st->has_sec_ctx)
		return ipsec_sad_xfrm_unsupported(err, CTP_ST_IPSEC_RENEGOTIATE,
		    "IPComp, a care-of address or a security context");
	if (st->has_encap && st->encap.encap_type != UDP_ENCAP_ESPINUDP)
		return ipsec_sad_xfrm_unsupported(err, CTP_ST_IPSEC_RENEGOTIATE,
		    "encapsulation other than ESP in UDP (RFC 3948)");

	/* SA_ID, ENDPOINTS: "local" is this node's end */
	in = ipsec_sad_xfrm_inbound(st, v);
	sa->spi = ntohl(i->id.spi);
	sa->protocol = i->id.proto;
	sa->mode = i->mode == XFRM_MODE_TUNNEL ? CTP_MODE_TUNNEL : CTP_MODE_TRANSPORT;
	sa->direction = in ? CTP_DIRECTION_IN : CTP_DIRECTION_OUT;
	if (i->flags & XFRM_STATE_ESN)
		sa->flags |= IPSEC_SA_F_ESN;
	if (st->extra_flags & XFRM_SA_XFLAG_OSEQ_MAY_WRAP)
		sa->flags |= IPSEC_SA_F_SEQ_OVERFLOW;
	sa->family = (uint8_t)ipsec_sad_xfrm_family(i->family);
	sa->sa_type = CTP_SA_TYPE_UNKNOWN;
	sa->moves = IPSEC_MOVES_LOCAL;
	ipsec_sad_xfrm_addr_get(in ? &sa->local : &sa->peer, sa->family, &i->id.daddr);
	ipsec_sad_xfrm_addr_get(in ? &sa->peer : &sa->local, sa->family, &i->saddr);

	if ((rc = ipsec_sad_xfrm_selectors_to_sa(st, v, in, sa, err)) < 0 ||
	    (rc = ipsec_sad_xfrm_algs_to_sa(st, sa, err)) < 0)
		goto fail;
	ipsec_sad_xfrm_replay_to_sa(st, in, sa);

	if (l->soft_byte_limit != XFRM_INF || l->hard_byte_limit != XFRM_INF ||
	    l->soft_packet_limit != XFRM_INF || l->hard_packet_limit != XFRM_INF ||
	    l->soft_add_expires_seconds || l->hard_add_expires_seconds ||
	    l->soft_use_expires_seconds || l->hard_use_expires_seconds) {
		sa->has_lifetime = true;
		sa->lifetime.soft_bytes = ipsec_sad_xfrm_limit_in(l->soft_byte_limit);
		sa->lifetime.hard_bytes = ipsec_sad_xfrm_limit_in(l->hard_byte_limit);
		sa->lifetime.soft_packets = ipsec_sad_xfrm_limit_in(l->soft_packet_limit);
		sa->lifetime.hard_packets = ipsec_sad_xfrm_limit_in(l->hard_packet_limit);
		sa->lifetime.soft_add_s = ipsec_sad_xfrm_secs_in(l->soft_add_expires_seconds);
		sa->lifetime.hard_add_s = ipsec_sad_xfrm_secs_in(l->hard_add_expires_seconds);
		sa->lifetime.soft_use_s = ipsec_sad_xfrm_secs_in(l->soft_use_expires_seconds);
		sa->lifetime.hard_use_s = ipsec_sad_xfrm_secs_in(l->hard_use_expires_seconds);
	}
	sa->has_usage = true;
	sa->usage.bytes = i->curlft.bytes;
	sa->usage.packets = i->curlft.packets;
	sa->usage.add_ms = ipsec_sad_xfrm_ms_since(v->now_s, i->curlft.add_time);
	/* 0 means unused: a use within the last second still counts */
	sa->usage.use_ms = i->curlft.use_time ?
	    ipsec_sad_xfrm_ms_since(v->now_s, i->curlft.use_time) : 0;
	if (i->curlft.use_time && sa->usage.use_ms == 0)
		sa->usage.use_ms = 1;

	if (st->has_encap) {
		sa->has_encap = true;
		sa->encap.type = CTP_ENCAP_ESPINUDP;
		sa->encap.sport = ntohs(st->encap.encap_sport);
		sa->encap.dport = ntohs(st->encap.encap_dport);
	}
	if (i->reqid || (st->has_mark && (st->mark.v || st->mark.m)) || st->if_id) {
		sa->has_xfrm_ref = true;
		sa->xfrm_ref.reqid = i->reqid;
		sa->xfrm_ref.mark_value = st->has_mark ? st->mark.v : 0;
		sa->xfrm_ref.mark_mask = st->has_mark ? st->mark.m : 0;
		sa->xfrm_ref.if_id = st->if_id;
	}
	return 0;
fail:
	ipsec_sa_clear(sa);
	return rc;
}

/* ---- encoders --------------------------------------------------------------- */

static size_t
ipsec_sad_xfrm_put_hdr(struct ctp_wbuf *w, uint16_t type, uint16_t flags, uint32_t seq)
{
	struct nlmsghdr h = { .nlmsg_len = NLMSG_HDRLEN, .nlmsg_type = type,
	    .nlmsg_flags = flags, .nlmsg_seq = seq };
	size_t at = w->len;

	ctp_wbuf_bytes(w, &h, sizeof h);
	return at;
}

/* Patch the message length in, now that it is known. */
static void
ipsec_sad_xfrm_put_end(struct ctp_wbuf *w, size_t at)
{
	uint32_t len = (uint32_t)(w->len - at);
	uint8_t *q;

	if (w->err)
		return;
	q = w->p + at;
	memcpy(q, &len, sizeof len);
}

/* The fixed body, padded to NLMSG_ALIGN. */
static void
ipsec_sad_xfrm_put_body(struct ctp_wbuf *w, const void *body, size_t n)
{
	ctp_wbuf_bytes(w, body, n);
	ctp_wbuf_zero(w, NLMSG_ALIGN(n) - n);
}

/* One attribute of a head part and an optional tail (an algorithm's key). */
static void
ipsec_sad_xfrm_put_attr2(struct ctp_wbuf *w, uint16_t type, const void *head, size_t hn,
    const void *tail, size_t tn)
{
	struct nlattr a;
	size_t n = NLA_HDRLEN + hn + tn;

	if (n > UINT16_MAX) {
		w->err = CTP_E_NOSPACE;
		return;
	}
	a.nla_len = (uint16_t)n;
	a.nla_type = type;
	ctp_wbuf_bytes(w, &a, sizeof a);
	ctp_wbuf_bytes(w, head, hn);
	ctp_wbuf_bytes(w, tail, tn);
	ctp_wbuf_zero(w, NLA_ALIGN(n) - n);
}

static void
ipsec_sad_xfrm_put_attr(struct ctp_wbuf *w, uint16_t type, const void *data, size_t n)
{
	ipsec_sad_xfrm_put_attr2(w, type, data, n, NULL, 0);
}

/* XFRMA_ALG_AEAD / _CRYPT / _AUTH_TRUNC for one PROFILE algorithm. */
static void
ipsec_sad_xfrm_put_alg(struct ctp_wbuf *w, const struct ipsec_alg *a, const uint8_t *key,
    size_t key_len)
{
	struct {
		char     name[64];
		uint32_t key_bits, icv_bits;
	} h;

	memset(&h, 0, sizeof h);
	snprintf(h.name, sizeof h.name, "%s", a->xfrm);
	h.key_bits = (uint32_t)key_len * 8;
	h.icv_bits = (uint32_t)a->icv_len * 8;
	switch (a->xfrm_attr) {
	case IPSEC_XFRM_AEAD:
		ipsec_sad_xfrm_put_attr2(w, XFRMA_ALG_AEAD, &h, 72, key, key_len);
		break;
	case IPSEC_XFRM_AUTH_TRUNC:
		ipsec_sad_xfrm_put_attr2(w, XFRMA_ALG_AUTH_TRUNC, &h, 72, key, key_len);
		break;
	case IPSEC_XFRM_CRYPT:
		ipsec_sad_xfrm_put_attr2(w, XFRMA_ALG_CRYPT, &h, 68, key, key_len);
		break;
	}
	ctp_wipe(&h, sizeof h);
}

static int
ipsec_sad_xfrm_newsa_algs(struct ctp_wbuf *w, const struct ipsec_sa *sa, struct ctp_err *err)
{
	const struct ipsec_alg *a;

	if (sa->has_encr) {
		if ((a = ipsec_alg_find(IPSEC_ALG_ENCR, sa->encr.id)) == NULL || !a->xfrm)
			return ctp_err_set(err, CTP_E_VALUE, 0, CTP_ST_IPSEC_ALG_UNSUPPORTED,
			    "ENCR %u has no Linux name", sa->encr.id);
		if (sa->encr.key_len != ipsec_alg_key_octets(a, sa->encr.key_bits) ||
		    sa->encr.key_len > sizeof sa->encr.key)
			return ctp_err_set(err, CTP_E_VALUE, 0, CTP_ST_MALFORMED_CDB,
			    "%s key of %u octets for %u bits", a->name, sa->encr.key_len,
			    sa->encr.key_bits);
		ipsec_sad_xfrm_put_alg(w, a, sa->encr.key, sa->encr.key_len);
	}
	if (sa->has_integ && sa->integ.id != CTP_INTEG_NONE) {
		if ((a = ipsec_alg_find(IPSEC_ALG_INTEG, sa->integ.id)) == NULL || !a->xfrm)
			return ctp_err_set(err, CTP_E_VALUE, 0, CTP_ST_IPSEC_ALG_UNSUPPORTED,
			    "INTEG %u has no Linux name", sa->integ.id);
		if (sa->integ.key_len != ipsec_alg_key_octets(a, a->keys[0].bits))
			return ctp_err_set(err, CTP_E_VALUE, 0, CTP_ST_MALFORMED_CDB,
			    "%s key of %u octets", a->name, sa->integ.key_len);
		ipsec_sad_xfrm_put_alg(w, a, sa->integ.key, sa->integ.key_len);
	}
	return 0;
}

/* XFRMA_REPLAY_ESN_VAL: the window, highest number, bitmap and oseq. */
static int
ipsec_sad_xfrm_newsa_replay(struct ctp_wbuf *w, const struct ipsec_sa *sa, struct ctp_err *err)
{
	struct {
		uint32_t bmp_len, oseq, seq, oseq_hi, seq_hi, replay_window;
		uint32_t bmp[IPSEC_XFRM_BMP_WORDS];
	} r;
	bool esn = sa->flags & IPSEC_SA_F_ESN;
	uint64_t oseq = sa->has_seq_out && sa->seq_out.next ? sa->seq_out.next - 1 : 0;
	uint64_t highest = sa->has_replay ? sa->replay.highest : 0;
	uint32_t window = sa->has_replay ? sa->replay.window : 0;

	memset(&r, 0, sizeof r);
	if (window % 32 || window > CTP_REPLAY_MAX_WINDOW ||
	    (sa->has_replay && sa->replay.bitmap_len < window / 8))
		return ctp_err_set(err, CTP_E_VALUE, 0, CTP_ST_MALFORMED_CDB,
		    "replay window %u with a %u-octet bitmap", window, sa->replay.bitmap_len);
	if (!esn && (oseq > IPSEC_XFRM_SEQ32 || highest > IPSEC_XFRM_SEQ32))
		return ctp_err_set(err, CTP_E_VALUE, 0, CTP_ST_IPSEC_SEQ_EXHAUSTED,
		    "sequence number beyond 32 bits without ESN");
	/* xfrm_init_replay() wants a window for every ESN SA (before 6.10
	 * even an outbound one, which never checks it) */
	if (esn && window == 0)
		window = 32;
	r.bmp_len = window / 32;
	r.replay_window = window;
	r.oseq = (uint32_t)oseq;
	r.oseq_hi = (uint32_t)(oseq >> 32);
	r.seq = (uint32_t)highest;
	r.seq_hi = (uint32_t)(highest >> 32);
	if (sa->has_replay && sa->replay.window)
		ipsec_sad_xfrm_bitmap_to_kernel(sa->replay.bitmap, window, highest, r.bmp);
	ipsec_sad_xfrm_put_attr(w, XFRMA_REPLAY_ESN_VAL, &r, 24 + (size_t)r.bmp_len * 4);
	return 0;
}

/* The time, in seconds, ms + age_ms before now (never 0: 0 means never). */
static uint64_t
ipsec_sad_xfrm_time_ago(int64_t now_s, uint64_t ms, uint64_t age_ms)
{
	uint64_t s = (ms > UINT64_MAX - age_ms ? UINT64_MAX : ms + age_ms) / 1000;

	return now_s > 0 && (uint64_t)now_s > s ? (uint64_t)now_s - s : 1;
}

int
ipsec_sad_xfrm_build_newsa(struct ctp_wbuf *w, uint32_t seq, const struct ipsec_sa *sa,
    int64_t now_s, struct ctp_err *err)
{
	struct xfrm_usersa_info info;
	bool in = sa->direction == CTP_DIRECTION_IN;
	size_t at;
	int rc;

	if (!ctp_addr_len(sa->family) || sa->local.family != sa->family ||
	    sa->peer.family != sa->family)
		return ctp_err_set(err, CTP_E_VALUE, 0, CTP_ST_MALFORMED_CDB,
		    "SA endpoints are not of family %u", sa->family);
	if ((sa->protocol != CTP_IPPROTO_ESP && sa->protocol != CTP_IPPROTO_AH) ||
	    (sa->mode != CTP_MODE_TRANSPORT && sa->mode != CTP_MODE_TUNNEL) ||
	    (sa->direction != CTP_DIRECTION_IN && sa->direction != CTP_DIRECTION_OUT))
		return ctp_err_set(err, CTP_E_VALUE, 0, CTP_ST_MALFORMED_CDB,
		    "SA protocol %u, mode %u or direction %u unknown", sa->protocol, sa->mode,
		    sa->direction);
	memset(&info, 0, sizeof info);
	ipsec_sad_xfrm_addr_put(&info.id.daddr, in ? &sa->local : &sa->peer);
	ipsec_sad_xfrm_addr_put(&info.saddr, in ? &sa->peer : &sa->local);
	info.id.spi = htonl(sa->spi);
	info.id.proto = sa->protocol;
	info.family = ipsec_sad_xfrm_af(sa->family);
	info.mode = sa->mode == CTP_MODE_TUNNEL ? XFRM_MODE_TUNNEL : XFRM_MODE_TRANSPORT;
	info.reqid = sa->has_xfrm_ref ? sa->xfrm_ref.reqid : 0;
	info.flags = (sa->flags & IPSEC_SA_F_ESN) ? XFRM_STATE_ESN : 0;
	/* the SA's own selector: the one SELECTOR, else the wildcard (the
	 * SPD entries say which traffic goes in); a tunnel then takes
	 * either inner family */
	if (sa->nsel == 1) {
		if (ipsec_sad_xfrm_sel_from_profile(&sa->sel[0], 0, &info.sel) < 0)
			return ctp_err_set(err, CTP_E_VALUE, 0, CTP_ST_IPSEC_RENEGOTIATE,
			    "SELECTOR port range is not a port and mask");
	} else if (sa->mode == CTP_MODE_TUNNEL)
		info.flags |= XFRM_STATE_AF_UNSPEC;
	ipsec_sad_xfrm_lft_inf(&info.lft);
	if (sa->has_lifetime) {
		info.lft.soft_byte_limit = ipsec_sad_xfrm_limit_out(sa->lifetime.soft_bytes);
		info.lft.hard_byte_limit = ipsec_sad_xfrm_limit_out(sa->lifetime.hard_bytes);
		info.lft.soft_packet_limit = ipsec_sad_xfrm_limit_out(sa->lifetime.soft_packets);
		info.lft.hard_packet_limit = ipsec_sad_xfrm_limit_out(sa->lifetime.hard_packets);
		info.lft.soft_add_expires_seconds = sa->lifetime.soft_add_s;
		info.lft.hard_add_expires_seconds = sa->lifetime.hard_add_s;
		info.lft.soft_use_expires_seconds = sa->lifetime.soft_use_s;
		info.lft.hard_use_expires_seconds = sa->lifetime.hard_use_s;
	}

	at = ipsec_sad_xfrm_put_hdr(w, XFRM_MSG_NEWSA, NLM_F_REQUEST | NLM_F_ACK, seq);
	ipsec_sad_xfrm_put_body(w, &info, sizeof info);
	if ((rc = ipsec_sad_xfrm_newsa_algs(w, sa, err)) < 0 ||
	    (rc = ipsec_sad_xfrm_newsa_replay(w, sa, err)) < 0)
		return rc;
	if (sa->has_usage) {
		/* the kernel takes add_time/use_time as they are: aged,
		 * lifetimes keep counting from the original add */
		struct xfrm_lifetime_cur cur;
		uint64_t age = sa->has_snapshot_age ? sa->snapshot_age_ms : 0;

		memset(&cur, 0, sizeof cur);
		cur.bytes = sa->usage.bytes;
		cur.packets = sa->usage.packets;
		cur.add_time = ipsec_sad_xfrm_time_ago(now_s, sa->usage.add_ms, age);
		cur.use_time = sa->usage.use_ms ?
		    ipsec_sad_xfrm_time_ago(now_s, sa->usage.use_ms, age) : 0;
		ipsec_sad_xfrm_put_attr(w, XFRMA_LTIME_VAL, &cur, sizeof cur);
	}
	if (sa->has_encap) {
		struct xfrm_encap_tmpl e;

		if (sa->encap.type != CTP_ENCAP_ESPINUDP)
			return ctp_err_set(err, CTP_E_VALUE, 0, CTP_ST_MALFORMED_CDB,
			    "ENCAP type %u", sa->encap.type);
		memset(&e, 0, sizeof e);
		e.encap_type = UDP_ENCAP_ESPINUDP;
		e.encap_sport = htons(sa->encap.sport);
		e.encap_dport = htons(sa->encap.dport);
		ipsec_sad_xfrm_put_attr(w, XFRMA_ENCAP, &e, sizeof e);
	}
	if (sa->has_xfrm_ref && (sa->xfrm_ref.mark_value || sa->xfrm_ref.mark_mask)) {
		struct xfrm_mark mk = { sa->xfrm_ref.mark_value, sa->xfrm_ref.mark_mask };

		ipsec_sad_xfrm_put_attr(w, XFRMA_MARK, &mk, sizeof mk);
	}
	if (sa->has_xfrm_ref && sa->xfrm_ref.if_id)
		ipsec_sad_xfrm_put_attr(w, XFRMA_IF_ID, &sa->xfrm_ref.if_id, 4);
	if (sa->flags & IPSEC_SA_F_SEQ_OVERFLOW) {
		uint32_t x = XFRM_SA_XFLAG_OSEQ_MAY_WRAP;

		ipsec_sad_xfrm_put_attr(w, XFRMA_SA_EXTRA_FLAGS, &x, sizeof x);
	}
	ipsec_sad_xfrm_put_end(w, at);
	return w->err;
}

static void
ipsec_sad_xfrm_put_sa_id(struct xfrm_usersa_id *id, const struct ipsec_sa_ref *ref)
{
	memset(id, 0, sizeof *id);
	ipsec_sad_xfrm_addr_put(&id->daddr, &ref->dst);
	id->spi = htonl(ref->spi);
	id->family = ipsec_sad_xfrm_af(ref->dst.family);
	id->proto = ref->protocol;
}

void
ipsec_sad_xfrm_build_sa_id(struct ctp_wbuf *w, uint16_t type, uint32_t seq,
    const struct ipsec_sa_ref *ref, const struct xfrm_mark *mark)
{
	struct xfrm_usersa_id id;
	size_t at;

	ipsec_sad_xfrm_put_sa_id(&id, ref);
	at = ipsec_sad_xfrm_put_hdr(w, type, NLM_F_REQUEST | NLM_F_ACK, seq);
	ipsec_sad_xfrm_put_body(w, &id, sizeof id);
	if (mark && (mark->v || mark->m))
		ipsec_sad_xfrm_put_attr(w, XFRMA_MARK, mark, sizeof *mark);
	ipsec_sad_xfrm_put_end(w, at);
}

void
ipsec_sad_xfrm_build_getae(struct ctp_wbuf *w, uint32_t seq, const struct ipsec_sa_ref *ref,
    const struct xfrm_mark *mark)
{
	struct xfrm_aevent_id ae;
	size_t at;

	memset(&ae, 0, sizeof ae);
	ipsec_sad_xfrm_put_sa_id(&ae.sa_id, ref);
	at = ipsec_sad_xfrm_put_hdr(w, XFRM_MSG_GETAE, NLM_F_REQUEST | NLM_F_ACK, seq);
	ipsec_sad_xfrm_put_body(w, &ae, sizeof ae);
	if (mark && (mark->v || mark->m))
		ipsec_sad_xfrm_put_attr(w, XFRMA_MARK, mark, sizeof *mark);
	ipsec_sad_xfrm_put_end(w, at);
}

void
ipsec_sad_xfrm_build_dump(struct ctp_wbuf *w, uint16_t type, uint32_t seq,
    const struct ctp_addr *dst)
{
	size_t at = ipsec_sad_xfrm_put_hdr(w, type, NLM_F_REQUEST | NLM_F_DUMP, seq);

	/* a dump request has no body: its attributes follow the header
	 * (xfrm_dump_sa parses with a header length of 0) */
	if (type == XFRM_MSG_GETSA && dst && ctp_addr_len(dst->family)) {
		struct xfrm_address_filter f;

		memset(&f, 0, sizeof f);
		ipsec_sad_xfrm_addr_put(&f.daddr, dst);
		f.family = ipsec_sad_xfrm_af(dst->family);
		f.dplen = (uint8_t)(ctp_addr_len(dst->family) * 8);
		ipsec_sad_xfrm_put_attr(w, XFRMA_ADDRESS_FILTER, &f, sizeof f);
	}
	ipsec_sad_xfrm_put_end(w, at);
}

void
ipsec_sad_xfrm_build_policy(struct ctp_wbuf *w, uint16_t type, uint32_t seq,
    const struct ipsec_xfrm_policy *p)
{
	size_t at = ipsec_sad_xfrm_put_hdr(w, type, NLM_F_REQUEST | NLM_F_ACK, seq);

	if (type == XFRM_MSG_DELPOLICY) {
		struct xfrm_userpolicy_id id;

		memset(&id, 0, sizeof id);
		id.sel = p->info.sel;
		id.dir = p->info.dir;
		ipsec_sad_xfrm_put_body(w, &id, sizeof id);
	} else {
		ipsec_sad_xfrm_put_body(w, &p->info, sizeof p->info);
		if (p->ntmpl)
			ipsec_sad_xfrm_put_attr(w, XFRMA_TMPL, p->tmpl, p->ntmpl * sizeof p->tmpl[0]);
	}
	if (p->has_mark && (p->mark.v || p->mark.m))
		ipsec_sad_xfrm_put_attr(w, XFRMA_MARK, &p->mark, sizeof p->mark);
	if (p->if_id)
		ipsec_sad_xfrm_put_attr(w, XFRMA_IF_ID, &p->if_id, sizeof p->if_id);
	if (p->type != XFRM_POLICY_TYPE_MAIN) {
		struct xfrm_userpolicy_type t;

		memset(&t, 0, sizeof t);
		t.type = p->type;
		ipsec_sad_xfrm_put_attr(w, XFRMA_POLICY_TYPE, &t, sizeof t);
	}
	ipsec_sad_xfrm_put_end(w, at);
}

/* ---- socket ------------------------------------------------------------------ */

static int
ipsec_sad_xfrm_errno(int e)
{
	switch (e) {
	case ESRCH:
	case ENOENT:
		return CTP_E_NOTFOUND;
	case EEXIST:
		return CTP_E_EXIST;
	case ENOSYS:
	case EOPNOTSUPP:
	case EPROTONOSUPPORT:
	case EAFNOSUPPORT:
	case ENOPROTOOPT:
		return CTP_E_UNSUPPORTED;
	case EINVAL:
		return CTP_E_INVAL;
	case ENOMEM:
	case ENOBUFS:
		return CTP_E_NOMEM;
	case EAGAIN:
	case ETIMEDOUT:
		return CTP_E_TIMEDOUT;
	}
	return CTP_E_IO;
}

int
ipsec_sad_xfrm_nl_open(struct ipsec_xfrm_nl *nl, int timeout_ms)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	int one = 1;

	memset(nl, 0, sizeof *nl);
	nl->fd = -1;
	nl->timeout_ms = timeout_ms;
	if ((nl->buf = malloc(IPSEC_XFRM_RXBUF)) == NULL)
		return CTP_E_NOMEM;
	nl->cap = IPSEC_XFRM_RXBUF;
	if ((nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_XFRM)) < 0 ||
	    bind(nl->fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    setsockopt(nl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(nl->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
		int e = errno;

		ipsec_sad_xfrm_nl_close(nl);
		nl->kerrno = e;
		return ipsec_sad_xfrm_errno(e) == CTP_E_UNSUPPORTED ? CTP_E_UNSUPPORTED : CTP_E_IO;
	}
	/* errors come back without a copy of the request (it may hold
	 * keys), with the kernel's reason as text where it gives one */
	(void)setsockopt(nl->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
	(void)setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
	nl->seq = (uint32_t)time(NULL);
	return 0;
}

void
ipsec_sad_xfrm_nl_close(struct ipsec_xfrm_nl *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	nl->fd = -1;
	if (nl->buf)
		ctp_wipe(nl->buf, nl->cap);
	free(nl->buf);
	nl->buf = NULL;
	nl->cap = 0;
}

/* struct nlmsgerr, then (extended ack) the reason as NLMSGERR_ATTR_MSG. */
static int
ipsec_sad_xfrm_nl_error(struct ipsec_xfrm_nl *nl, const struct ipsec_xfrm_msg *m)
{
	struct ctp_cur c = m->body, v;
	struct nlmsghdr orig;
	uint16_t type;
	int32_t e;

	if (ctp_cur_copy(&c, &e, sizeof e) < 0 || ctp_cur_copy(&c, &orig, sizeof orig) < 0) {
		nl->kerrno = EPROTO;
		return CTP_E_IO;
	}
	if (e == 0)
		return 0;
	nl->kerrno = e < 0 ? -e : e;
	if (!(m->flags & NLM_F_CAPPED) && orig.nlmsg_len > NLMSG_HDRLEN &&
	    ctp_cur_skip(&c, NLMSG_ALIGN(orig.nlmsg_len - NLMSG_HDRLEN)) < 0)
		return ipsec_sad_xfrm_errno(nl->kerrno);
	if (m->flags & NLM_F_ACK_TLVS)
		while (ipsec_sad_xfrm_attr_next(&c, &type, &v) > 0)
			if (type == NLMSGERR_ATTR_MSG) {
				size_t n = v.left < sizeof nl->kmsg - 1 ? v.left : sizeof nl->kmsg - 1;

				(void)ctp_cur_copy(&v, nl->kmsg, n);
				nl->kmsg[n] = '\0';
			}
	return ipsec_sad_xfrm_errno(nl->kerrno);
}

int
ipsec_sad_xfrm_nl_talk(struct ipsec_xfrm_nl *nl, uint8_t *req, size_t len,
    ipsec_xfrm_nl_cb cb, void *arg)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct nlmsghdr h;
	uint32_t seq = ++nl->seq;
	int rc = 0, cbrc = 0;
	bool dump, done = false, intr = false;

	nl->kerrno = 0;
	nl->kmsg[0] = '\0';
	if (nl->fd < 0 || len < sizeof h)
		return CTP_E_INVAL;
	memcpy(&h, req, sizeof h);
	h.nlmsg_seq = seq;
	memcpy(req, &h, sizeof h);
	dump = (h.nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	while (sendto(nl->fd, req, len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0)
		if (errno != EINTR) {
			nl->kerrno = errno;
			return ipsec_sad_xfrm_errno(errno) == CTP_E_TIMEDOUT ? CTP_E_TIMEDOUT : CTP_E_IO;
		}
	while (!done) {
		struct sockaddr_nl from;
		socklen_t fl = sizeof from;
		struct ipsec_xfrm_msg m;
		struct ctp_cur c;
		ssize_t n;
		int more;

		n = recvfrom(nl->fd, nl->buf, nl->cap, MSG_TRUNC, (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			nl->kerrno = errno;
			rc = errno == EAGAIN || errno == EWOULDBLOCK ? CTP_E_TIMEDOUT : CTP_E_IO;
			break;
		}
		if ((size_t)n > nl->cap) {
			ctp_wipe(nl->buf, nl->cap);
			rc = CTP_E_LIMIT;
			break;
		}
		if (from.nl_pid != 0) {
			/* not the kernel */
			ctp_wipe(nl->buf, (size_t)n);
			continue;
		}
		ctp_cur_init(&c, nl->buf, (size_t)n, 0);
		while (!done && (more = ipsec_sad_xfrm_msg_next(&c, &m)) != 0) {
			if (more < 0) {
				rc = CTP_E_IO;
				done = true;
				break;
			}
			if (m.seq != seq)
				continue;       /* a late answer to an earlier request */
			if (m.flags & NLM_F_DUMP_INTR)
				intr = true;
			switch (m.type) {
			case NLMSG_ERROR:
				rc = ipsec_sad_xfrm_nl_error(nl, &m);
				done = true;
				break;
			case NLMSG_DONE:
				done = true;
				break;
			case NLMSG_NOOP:
			case NLMSG_OVERRUN:
				break;
			default:
				if (cb && cbrc == 0)
					cbrc = cb(&m, arg);
				if (!dump && !(m.flags & NLM_F_MULTI) && !(h.nlmsg_flags & NLM_F_ACK))
					done = true;
				break;
			}
		}
		ctp_wipe(nl->buf, (size_t)n);
	}
	if (rc == 0 && cbrc < 0)
		rc = cbrc;
	if (rc == 0 && intr && dump)
		rc = CTP_E_AGAIN;
	return rc;
}

/* ---- the backend -------------------------------------------------------------- */

/* An SPD entry we added: enough to delete it again. */
struct ipsec_sad_xfrm_pol {
	struct xfrm_selector sel;
	struct xfrm_mark     mark;
	uint32_t             if_id;
	uint8_t              dir, type;
};

/* What this backend remembers about one SA. */
struct ipsec_sad_xfrm_ent {
	struct ipsec_sa_ref      ref;
	enum ipsec_sa_state      state;
	bool                     installed;
	size_t                   nblock, npol;
	struct ipsec_sad_xfrm_pol block[IPSEC_SA_MAX_SELECTORS];
	struct ipsec_sad_xfrm_pol pol[IPSEC_XFRM_MAX_POLS];
};

struct ipsec_sad_xfrm_probe {
	uint8_t  type;
	uint16_t id, bits;
	int8_t   ok;
};

struct ipsec_sad {
	struct ipsec_sad_env        env;
	struct ipsec_xfrm_nl        nl;
	uint8_t                     tx[IPSEC_XFRM_TXBUF];
	uint8_t                     block_type;   /* XFRM_POLICY_TYPE_SUB, or _MAIN */
	struct ipsec_sad_xfrm_ent  *ent;
	size_t                      nent, capent;
	struct ipsec_xfrm_policy   *spd;          /* the last SPD read */
	size_t                      nspd, capspd;
	struct ctp_addr             local[IPSEC_XFRM_MAX_LOCAL];
	size_t                      nlocal;
	struct ipsec_sad_xfrm_probe probe[64];
	size_t                      nprobe;
};

static const char *const ipsec_sad_xfrm_state_names[] = { "active", "frozen", "quarantined" };

static void
ipsec_sad_xfrm_log(struct ipsec_sad *s, int level, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
ipsec_sad_xfrm_log(struct ipsec_sad *s, int level, const char *func, const char *fmt, ...)
{
	char line[320];
	va_list ap;

	if (!s->env.log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	s->env.log(s->env.log_arg, level, func, line);
}

/* "spi 0x... esp -> 192.0.2.2" for log lines (no keys, ever). */
static const char *
ipsec_sad_xfrm_ref_str(const struct ipsec_sa_ref *ref, char *buf, size_t n)
{
	char a[CTP_ADDRSTRLEN];

	snprintf(buf, n, "spi 0x%08x %s -> %s", ref->spi, ref->protocol == CTP_IPPROTO_AH ?
	    "ah" : "esp", ctp_addr_fmt(&ref->dst, a, sizeof a));
	return buf;
}

/* The kernel's reason, for a log line. */
static const char *
ipsec_sad_xfrm_why(const struct ipsec_sad *s, int rc)
{
	if (s->nl.kmsg[0])
		return s->nl.kmsg;
	if (s->nl.kerrno)
		return strerror(s->nl.kerrno);
	return ctp_strerror(rc);
}

static void
ipsec_sad_xfrm_set_state(struct ipsec_sad *s, struct ipsec_sad_xfrm_ent *e,
    enum ipsec_sa_state to, const char *event)
{
	char id[96];

	if (e->state != to)
		ipsec_sad_xfrm_log(s, CTP_LOG_INFO, __func__, "SA %s: %s -> %s (%s)",
		    ipsec_sad_xfrm_ref_str(&e->ref, id, sizeof id),
		    ipsec_sad_xfrm_state_names[e->state], ipsec_sad_xfrm_state_names[to], event);
	e->state = to;
}

static bool
ipsec_sad_xfrm_ref_eq(const struct ipsec_sa_ref *a, const struct ipsec_sa_ref *b)
{
	return a->spi == b->spi && a->protocol == b->protocol && ctp_addr_eq(&a->dst, &b->dst);
}

static struct ipsec_sad_xfrm_ent *
ipsec_sad_xfrm_ent_find(struct ipsec_sad *s, const struct ipsec_sa_ref *ref)
{
	for (size_t i = 0; i < s->nent; i++)
		if (ipsec_sad_xfrm_ref_eq(&s->ent[i].ref, ref))
			return &s->ent[i];
	return NULL;
}

static struct ipsec_sad_xfrm_ent *
ipsec_sad_xfrm_ent_get(struct ipsec_sad *s, const struct ipsec_sa_ref *ref)
{
	struct ipsec_sad_xfrm_ent *e = ipsec_sad_xfrm_ent_find(s, ref);

	if (e)
		return e;
	if (s->nent == s->capent) {
		size_t cap = s->capent ? 2 * s->capent : 16;

		if (cap > IPSEC_XFRM_MAX_ENTS ||
		    (e = realloc(s->ent, cap * sizeof *s->ent)) == NULL)
			return NULL;
		s->ent = e;
		s->capent = cap;
	}
	e = &s->ent[s->nent++];
	memset(e, 0, sizeof *e);
	e->ref = *ref;
	e->state = IPSEC_SA_ACTIVE;
	return e;
}

static void
ipsec_sad_xfrm_ent_drop(struct ipsec_sad *s, struct ipsec_sad_xfrm_ent *e)
{
	size_t i = (size_t)(e - s->ent);

	s->ent[i] = s->ent[--s->nent];
}

static void
ipsec_sad_xfrm_ref_of(const struct ipsec_sa *sa, struct ipsec_sa_ref *ref)
{
	memset(ref, 0, sizeof *ref);
	ref->spi = sa->spi;
	ref->protocol = sa->protocol;
	ref->dst = sa->direction == CTP_DIRECTION_IN ? sa->local : sa->peer;
}

static int64_t
ipsec_sad_xfrm_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

/* This node's addresses: the configured ones and the kernel's own. */
static void
ipsec_sad_xfrm_load_local(struct ipsec_sad *s)
{
	struct ifaddrs *ifa, *i;

	s->nlocal = 0;
	for (size_t k = 0; k < s->env.naddrs && k < 8 && s->nlocal < IPSEC_XFRM_MAX_LOCAL; k++)
		s->local[s->nlocal++] = s->env.addrs[k];
	if (getifaddrs(&ifa) < 0)
		return;
	for (i = ifa; i && s->nlocal < IPSEC_XFRM_MAX_LOCAL; i = i->ifa_next) {
		struct ctp_addr *a = &s->local[s->nlocal];

		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)i->ifa_addr;

			if (ctp_addr_set(a, 4, (const uint8_t *)&in->sin_addr) == 0)
				s->nlocal++;
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			const struct sockaddr_in6 *in6 =
			    (const struct sockaddr_in6 *)(const void *)i->ifa_addr;

			if (ctp_addr_set(a, 6, (const uint8_t *)&in6->sin6_addr) == 0)
				s->nlocal++;
		}
	}
	freeifaddrs(ifa);
}

static void
ipsec_sad_xfrm_view(struct ipsec_sad *s, struct ipsec_xfrm_view *v)
{
	v->local = s->local;
	v->nlocal = s->nlocal;
	v->now_s = ipsec_sad_xfrm_now();
	v->pol = s->spd;
	v->npol = s->nspd;
}

/* -- reading the kernel -- */

struct ipsec_sad_xfrm_find_arg {
	const struct ipsec_sa_ref *ref;
	struct ipsec_xfrm_state   *st;
	struct ipsec_xfrm_state    tmp;
	bool                       found;
};

static int
ipsec_sad_xfrm_find_cb(const struct ipsec_xfrm_msg *m, void *arg)
{
	struct ipsec_sad_xfrm_find_arg *f = arg;
	struct ipsec_xfrm_state *st = &f->tmp;
	int rc;

	if ((rc = ipsec_sad_xfrm_parse_state(m, st, NULL)) < 0)
		return rc;
	if (!f->found && ntohl(st->info.id.spi) == f->ref->spi &&
	    st->info.id.proto == f->ref->protocol &&
	    ipsec_sad_xfrm_addr_is(&st->info.id.daddr, st->info.family, &f->ref->dst)) {
		*f->st = *st;
		f->found = true;
	}
	ipsec_sad_xfrm_state_clear(st);
	return 0;
}

static int
ipsec_sad_xfrm_dump(struct ipsec_sad *s, uint16_t type, const struct ctp_addr *dst,
    ipsec_xfrm_nl_cb cb, void *arg, void (*reset)(void *))
{
	struct ctp_wbuf w;
	int rc = CTP_E_AGAIN;

	for (int i = 0; i < 3 && rc == CTP_E_AGAIN; i++) {
		if (reset)
			reset(arg);
		ctp_wbuf_init(&w, s->tx, sizeof s->tx);
		ipsec_sad_xfrm_build_dump(&w, type, 0, dst);
		rc = w.err ? w.err : ipsec_sad_xfrm_nl_talk(&s->nl, s->tx, w.len, cb, arg);
	}
	return rc;
}

/*
 * The SA ref names, into st: XFRM_MSG_GETSA, and when that finds nothing a
 * dump of the SAs to ref->dst, because a look-up without the SA's mark
 * cannot see an SA that has one (xfrm_state_lookup matches marks).
 */
static int
ipsec_sad_xfrm_find(struct ipsec_sad *s, const struct ipsec_sa_ref *ref,
    struct ipsec_xfrm_state *st)
{
	struct ipsec_sad_xfrm_find_arg *f;
	struct ctp_wbuf w;
	int rc;

	if ((f = calloc(1, sizeof *f)) == NULL)
		return CTP_E_NOMEM;
	f->ref = ref;
	f->st = st;
	ctp_wbuf_init(&w, s->tx, sizeof s->tx);
	ipsec_sad_xfrm_build_sa_id(&w, XFRM_MSG_GETSA, 0, ref, NULL);
	rc = ipsec_sad_xfrm_nl_talk(&s->nl, s->tx, w.len, ipsec_sad_xfrm_find_cb, f);
	if (rc == CTP_E_NOTFOUND)
		rc = ipsec_sad_xfrm_dump(s, XFRM_MSG_GETSA, &ref->dst, ipsec_sad_xfrm_find_cb, f,
		    NULL);
	if (rc == 0 && !f->found)
		rc = CTP_E_NOTFOUND;
	ipsec_sad_xfrm_state_clear(&f->tmp);
	free(f);
	if (rc < 0)
		ipsec_sad_xfrm_state_clear(st);
	return rc;
}

static void
ipsec_sad_xfrm_mark_of(const struct ipsec_xfrm_state *st, struct xfrm_mark *mark)
{
	memset(mark, 0, sizeof *mark);
	if (st->has_mark)
		*mark = st->mark;
}

static int
ipsec_sad_xfrm_ae_cb(const struct ipsec_xfrm_msg *m, void *arg)
{
	return ipsec_sad_xfrm_parse_ae(m, arg, NULL);
}

/* XFRM_MSG_GETAE: the freshest replay state and counters, into st. */
static int
ipsec_sad_xfrm_getae(struct ipsec_sad *s, const struct ipsec_sa_ref *ref,
    struct ipsec_xfrm_state *st)
{
	struct xfrm_mark mark;
	struct ctp_wbuf w;
	int rc;

	ipsec_sad_xfrm_mark_of(st, &mark);
	ctp_wbuf_init(&w, s->tx, sizeof s->tx);
	ipsec_sad_xfrm_build_getae(&w, 0, ref, &mark);
	rc = ipsec_sad_xfrm_nl_talk(&s->nl, s->tx, w.len, ipsec_sad_xfrm_ae_cb, st);
	if (rc == 0 && !st->ae)
		rc = CTP_E_NOTFOUND;
	return rc;
}

static int
ipsec_sad_xfrm_spd_cb(const struct ipsec_xfrm_msg *m, void *arg)
{
	struct ipsec_sad *s = arg;

	if (s->nspd == s->capspd) {
		size_t cap = s->capspd ? 2 * s->capspd : 64;
		struct ipsec_xfrm_policy *p;

		if (cap > IPSEC_XFRM_MAX_SPD)
			return CTP_E_LIMIT;
		if ((p = realloc(s->spd, cap * sizeof *p)) == NULL)
			return CTP_E_NOMEM;
		s->spd = p;
		s->capspd = cap;
	}
	if (ipsec_sad_xfrm_parse_policy(m, &s->spd[s->nspd], NULL) == 0)
		s->nspd++;
	return 0;
}

static void
ipsec_sad_xfrm_spd_reset(void *arg)
{
	((struct ipsec_sad *)arg)->nspd = 0;
}

/* The whole SPD into s->spd. */
static int
ipsec_sad_xfrm_load_spd(struct ipsec_sad *s)
{
	int rc = ipsec_sad_xfrm_dump(s, XFRM_MSG_GETPOLICY, NULL, ipsec_sad_xfrm_spd_cb, s,
	    ipsec_sad_xfrm_spd_reset);

	if (rc < 0) {
		s->nspd = 0;
		ipsec_sad_xfrm_log(s, CTP_LOG_WARN, __func__, "cannot read the SPD: %s",
		    ipsec_sad_xfrm_why(s, rc));
	}
	return rc;
}

/* -- writing the SPD -- */

static int
ipsec_sad_xfrm_policy_op(struct ipsec_sad *s, uint16_t type, const struct ipsec_xfrm_policy *p)
{
	struct ctp_wbuf w;

	ctp_wbuf_init(&w, s->tx, sizeof s->tx);
	ipsec_sad_xfrm_build_policy(&w, type, 0, p);
	return w.err ? w.err : ipsec_sad_xfrm_nl_talk(&s->nl, s->tx, w.len, NULL, NULL);
}

static void
ipsec_sad_xfrm_pol_del(struct ipsec_sad *s, const struct ipsec_sad_xfrm_pol *d)
{
	struct ipsec_xfrm_policy p;
	int rc;

	memset(&p, 0, sizeof p);
	p.info.sel = d->sel;
	p.info.dir = d->dir;
	p.has_mark = true;
	p.mark = d->mark;
	p.if_id = d->if_id;
	p.type = d->type;
	if ((rc = ipsec_sad_xfrm_policy_op(s, XFRM_MSG_DELPOLICY, &p)) < 0 && rc != CTP_E_NOTFOUND)
		ipsec_sad_xfrm_log(s, CTP_LOG_WARN, __func__, "cannot delete a policy: %s",
		    ipsec_sad_xfrm_why(s, rc));
}

/* A template naming exactly the SA st: its addresses, SPI, reqid, mode. */
static void
ipsec_sad_xfrm_tmpl_of(const struct xfrm_usersa_info *i, struct xfrm_user_tmpl *t)
{
	memset(t, 0, sizeof *t);
	t->id = i->id;
	t->family = i->family;
	t->saddr = i->saddr;
	t->reqid = i->reqid;
	t->mode = i->mode;
	t->share = XFRM_SHARE_ANY;
	t->aalgos = t->ealgos = t->calgos = ~0u;
}

/* Block the traffic t of the outbound SA st (freeze). */
static int
ipsec_sad_xfrm_block(struct ipsec_sad *s, const struct ipsec_xfrm_state *st,
    const struct ipsec_xfrm_traffic *t, struct ipsec_sad_xfrm_pol *d)
{
	struct ipsec_xfrm_policy p;
	int rc;

	memset(&p, 0, sizeof p);
	p.info.sel = t->sel;
	p.info.sel.user = IPSEC_XFRM_TAG_BLOCK;
	ipsec_sad_xfrm_lft_inf(&p.info.lft);
	p.info.priority = 0;
	p.info.dir = XFRM_POLICY_OUT;
	p.info.action = XFRM_POLICY_BLOCK;
	/* never used for a block, but it says whose block this is */
	p.ntmpl = 1;
	ipsec_sad_xfrm_tmpl_of(&st->info, &p.tmpl[0]);
	p.has_mark = true;
	p.mark = t->mark;
	p.if_id = t->if_id;
	p.type = s->block_type;
	rc = ipsec_sad_xfrm_policy_op(s, XFRM_MSG_NEWPOLICY, &p);
	if (rc == CTP_E_INVAL && p.type == XFRM_POLICY_TYPE_SUB) {
		/* no CONFIG_XFRM_SUB_POLICY: a main policy of priority 0
		 * (ties with another priority-0 policy go to the older) */
		ipsec_sad_xfrm_log(s, CTP_LOG_NOTICE, __func__,
		    "no sub-policies in this kernel: blocks are main policies of priority 0");
		s->block_type = p.type = XFRM_POLICY_TYPE_MAIN;
		rc = ipsec_sad_xfrm_policy_op(s, XFRM_MSG_NEWPOLICY, &p);
	}
	if (rc == CTP_E_EXIST)
		rc = 0;                 /* ours, from before a restart */
	memset(d, 0, sizeof *d);
	d->sel = p.info.sel;
	d->mark = p.mark;
	d->if_id = p.if_id;
	d->dir = p.info.dir;
	d->type = p.type;
	return rc;
}

static void
ipsec_sad_xfrm_unblock(struct ipsec_sad *s, struct ipsec_sad_xfrm_ent *e)
{
	for (size_t i = 0; i < e->nblock; i++)
		ipsec_sad_xfrm_pol_del(s, &e->block[i]);
	e->nblock = 0;
}

/* One policy, member by member (the struct has padding at its end). */
static bool
ipsec_sad_xfrm_pol_eq(const struct ipsec_sad_xfrm_pol *a, const struct ipsec_sad_xfrm_pol *b)
{
	return xfrm_sel_eq(&a->sel, &b->sel) && a->mark.v == b->mark.v && a->mark.m == b->mark.m &&
	    a->if_id == b->if_id && a->dir == b->dir && a->type == b->type;
}

/* Delete e's SPD entries but those another SA still lists. */
static void
ipsec_sad_xfrm_unpolicy(struct ipsec_sad *s, struct ipsec_sad_xfrm_ent *e)
{
	for (size_t i = 0; i < e->npol; i++) {
		bool shared = false;

		for (size_t k = 0; k < s->nent && !shared; k++)
			for (size_t j = 0; &s->ent[k] != e && j < s->ent[k].npol && !shared; j++)
				shared = ipsec_sad_xfrm_pol_eq(&s->ent[k].pol[j], &e->pol[i]);
		if (!shared)
			ipsec_sad_xfrm_pol_del(s, &e->pol[i]);
	}
	e->npol = 0;
}

/* -- open, close, and what a restart left -- */

static void
ipsec_sad_xfrm_adopt(struct ipsec_sad *s)
{
	for (size_t i = 0; i < s->nspd; i++) {
		const struct ipsec_xfrm_policy *p = &s->spd[i];
		struct ipsec_sad_xfrm_ent *e;
		struct ipsec_sa_ref ref;
		struct ipsec_sad_xfrm_pol d;
		bool block = p->info.sel.user == IPSEC_XFRM_TAG_BLOCK;
		char id[96];

		if ((!block && p->info.sel.user != IPSEC_XFRM_TAG_SPD) || p->ntmpl != 1)
			continue;
		memset(&ref, 0, sizeof ref);
		ref.spi = ntohl(p->tmpl[0].id.spi);
		ref.protocol = p->tmpl[0].id.proto;
		ipsec_sad_xfrm_addr_get(&ref.dst, ipsec_sad_xfrm_family(p->tmpl[0].family),
		    &p->tmpl[0].id.daddr);
		if ((e = ipsec_sad_xfrm_ent_get(s, &ref)) == NULL)
			return;
		memset(&d, 0, sizeof d);
		d.sel = p->info.sel;
		d.mark = p->has_mark ? p->mark : d.mark;
		d.if_id = p->if_id;
		d.dir = p->info.dir;
		d.type = p->type;
		if (block && e->nblock < IPSEC_SA_MAX_SELECTORS) {
			e->block[e->nblock++] = d;
			if (e->state != IPSEC_SA_QUARANTINED)
				ipsec_sad_xfrm_log(s, CTP_LOG_WARN, __func__,
				    "SA %s was frozen before a restart: kept out of the datapath",
				    ipsec_sad_xfrm_ref_str(&ref, id, sizeof id));
			e->state = IPSEC_SA_QUARANTINED;
		} else if (!block && e->npol < IPSEC_XFRM_MAX_POLS) {
			e->pol[e->npol++] = d;
			e->installed = true;
		}
	}
}

static void
ipsec_sad_xfrm_close(struct ipsec_sad *s)
{
	if (!s)
		return;
	/* blocks stay in the kernel: a frozen SA must not send because we
	 * stopped; the next open finds them (ipsec_sad_xfrm_adopt) */
	ipsec_sad_xfrm_nl_close(&s->nl);
	free(s->ent);
	free(s->spd);
	ctp_wipe(s->tx, sizeof s->tx);
	free(s);
}

static int
ipsec_sad_xfrm_open(const struct ctp_val *config, const struct ipsec_sad_env *env,
    struct ipsec_sad **out, struct ctp_err *err)
{
	struct ipsec_sad *s;
	int rc;

	*out = NULL;
	if (config && config->kind != CTP_V_OBJ)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "xfrm: <sad> is not an object");
	/* the backend has no settings of its own: a typo must not pass */
	for (size_t i = 0; config && i < config->n; i++)
		if (strcmp(config->members[i].key, "backend") != 0)
			return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "xfrm: unknown <sad> setting \"%s\"",
			    config->members[i].key);
	if ((s = calloc(1, sizeof *s)) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "xfrm: out of memory");
	if (env)
		s->env = *env;
	s->block_type = XFRM_POLICY_TYPE_SUB;
	if ((rc = ipsec_sad_xfrm_nl_open(&s->nl, IPSEC_XFRM_TIMEOUT_MS)) < 0) {
		ctp_err_set(err, rc, 0, 0, "xfrm: no NETLINK_XFRM socket: %s%s",
		    strerror(s->nl.kerrno), rc == CTP_E_UNSUPPORTED ? " (no xfrm_user module?)" : "");
		ipsec_sad_xfrm_close(s);
		return rc;
	}
	/* every XFRM request needs CAP_NET_ADMIN: find out now, not at the
	 * first handover; and take back what a previous run left */
	if ((rc = ipsec_sad_xfrm_load_spd(s)) < 0) {
		ctp_err_set(err, rc, 0, 0, "xfrm: cannot read the SPD: %s%s",
		    ipsec_sad_xfrm_why(s, rc),
		    s->nl.kerrno == EPERM ? " (CAP_NET_ADMIN needed)" : "");
		ipsec_sad_xfrm_close(s);
		return rc;
	}
	ipsec_sad_xfrm_adopt(s);
	ipsec_sad_xfrm_log(s, CTP_LOG_DEBUG, __func__, "xfrm SAD open, %zu SPD entries, %zu SAs "
	    "with notes", s->nspd, s->nent);
	*out = s;
	return 0;
}

/* -- list -- */

static bool
ipsec_sad_xfrm_sel_covers(const struct xfrm_selector *x, const struct ctp_addr *mn)
{
	xfrm_address_t a;

	if (ipsec_sad_xfrm_family(x->family) != mn->family)
		return false;
	ipsec_sad_xfrm_addr_put(&a, mn);
	/* a wildcard side covers every MN: it does not make the SA theirs */
	return (x->prefixlen_s && ipsec_sad_xfrm_prefix_has(&x->saddr, x->prefixlen_s, x->family, &a)) ||
	    (x->prefixlen_d && ipsec_sad_xfrm_prefix_has(&x->daddr, x->prefixlen_d, x->family, &a));
}

struct ipsec_sad_xfrm_list_arg {
	struct ipsec_sad          *s;
	const struct ctp_addr     *mn;
	struct ipsec_sa_ref       *out;
	size_t                     max, n;
	bool                       over;
	struct ipsec_xfrm_state    st;
};

static int
ipsec_sad_xfrm_list_cb(const struct ipsec_xfrm_msg *m, void *arg)
{
	struct ipsec_sad_xfrm_list_arg *l = arg;
	struct ipsec_xfrm_state *st = &l->st;
	const struct xfrm_usersa_info *i = &st->info;
	bool related;

	if (ipsec_sad_xfrm_parse_state(m, st, NULL) < 0)
		return 0;
	related = i->id.spi && (i->id.proto == CTP_IPPROTO_ESP || i->id.proto == CTP_IPPROTO_AH) &&
	    (ipsec_sad_xfrm_addr_is(&i->saddr, i->family, l->mn) ||
	    ipsec_sad_xfrm_addr_is(&i->id.daddr, i->family, l->mn) ||
	    ipsec_sad_xfrm_sel_covers(&i->sel, l->mn));
	for (size_t k = 0; !related && i->id.spi && k < l->s->nspd; k++)
		related = l->s->spd[k].info.action == XFRM_POLICY_ALLOW &&
		    ipsec_sad_xfrm_sel_covers(&l->s->spd[k].info.sel, l->mn) &&
		    ipsec_sad_xfrm_policy_uses(&l->s->spd[k], st);
	if (related) {
		if (l->n < l->max) {
			struct ipsec_sa_ref *r = &l->out[l->n++];

			memset(r, 0, sizeof *r);
			r->spi = ntohl(i->id.spi);
			r->protocol = i->id.proto;
			ipsec_sad_xfrm_addr_get(&r->dst, ipsec_sad_xfrm_family(i->family), &i->id.daddr);
		} else
			l->over = true;
	}
	ipsec_sad_xfrm_state_clear(st);
	return 0;
}

static void
ipsec_sad_xfrm_list_reset(void *arg)
{
	struct ipsec_sad_xfrm_list_arg *l = arg;

	l->n = 0;
	l->over = false;
}

struct ipsec_sad_xfrm_peer_arg {
	struct ipsec_sad          *s;
	void                     (*fn)(void *arg, const struct ctp_addr *peer);
	void                      *arg;
	struct ipsec_xfrm_view     v;
	struct ipsec_xfrm_state    st;
};

static int
ipsec_sad_xfrm_peer_cb(const struct ipsec_xfrm_msg *m, void *arg)
{
	struct ipsec_sad_xfrm_peer_arg *l = arg;
	const struct xfrm_usersa_info *i = &l->st.info;
	unsigned af;
	struct ctp_addr a;

	if (ipsec_sad_xfrm_parse_state(m, &l->st, NULL) < 0)
		return 0;
	af = ipsec_sad_xfrm_family(i->family);
	if (af && i->id.spi && (i->id.proto == CTP_IPPROTO_ESP || i->id.proto == CTP_IPPROTO_AH)) {
		ipsec_sad_xfrm_addr_get(&a, af, ipsec_sad_xfrm_is_local(&l->v, i->family,
		    &i->saddr) ? &i->id.daddr : &i->saddr);
		l->fn(l->arg, &a);
	}
	ipsec_sad_xfrm_state_clear(&l->st);
	return 0;
}

/* A dump repeated after an interruption may name a peer twice: allowed. */
static int
ipsec_sad_xfrm_each_peer(struct ipsec_sad *s, void (*fn)(void *arg, const struct ctp_addr *peer),
    void *arg)
{
	struct ipsec_sad_xfrm_peer_arg *l;
	int rc;

	if ((l = calloc(1, sizeof *l)) == NULL)
		return CTP_E_NOMEM;
	ipsec_sad_xfrm_load_local(s);
	l->s = s;
	l->fn = fn;
	l->arg = arg;
	ipsec_sad_xfrm_view(s, &l->v);
	rc = ipsec_sad_xfrm_dump(s, XFRM_MSG_GETSA, NULL, ipsec_sad_xfrm_peer_cb, l, NULL);
	ipsec_sad_xfrm_state_clear(&l->st);
	free(l);
	return rc;
}

/* CTP_E_LIMIT (the first max in out) when more than max SAs relate. */
static int
ipsec_sad_xfrm_list(struct ipsec_sad *s, const struct ctp_addr *mn, struct ipsec_sa_ref *out,
    size_t max, size_t *n)
{
	struct ipsec_sad_xfrm_list_arg *l;
	int rc;

	*n = 0;
	if (!mn || !ctp_addr_len(mn->family))
		return CTP_E_INVAL;
	if ((rc = ipsec_sad_xfrm_load_spd(s)) < 0)
		return rc;
	if ((l = calloc(1, sizeof *l)) == NULL)
		return CTP_E_NOMEM;
	l->s = s;
	l->mn = mn;
	l->out = out;
	l->max = max;
	rc = ipsec_sad_xfrm_dump(s, XFRM_MSG_GETSA, NULL, ipsec_sad_xfrm_list_cb, l,
	    ipsec_sad_xfrm_list_reset);
	*n = l->n;
	if (rc == 0 && l->over)
		rc = CTP_E_LIMIT;
	ipsec_sad_xfrm_state_clear(&l->st);
	free(l);
	return rc;
}

/* -- freeze, thaw, quarantine -- */

static int
ipsec_sad_xfrm_freeze(struct ipsec_sad *s, const struct ipsec_sa_ref *ref,
    uint64_t *highest_sent)
{
	struct ipsec_xfrm_traffic t[IPSEC_SA_MAX_SELECTORS];
	struct ipsec_xfrm_state *st;
	struct ipsec_sad_xfrm_ent *e;
	struct ipsec_xfrm_view v;
	size_t n = 0;
	char id[96];
	int rc;

	*highest_sent = 0;
	ipsec_sad_xfrm_ref_str(ref, id, sizeof id);
	if ((st = calloc(1, sizeof *st)) == NULL)
		return CTP_E_NOMEM;
	if ((rc = ipsec_sad_xfrm_find(s, ref, st)) < 0)
		goto out;
	if ((e = ipsec_sad_xfrm_ent_get(s, ref)) == NULL) {
		rc = CTP_E_NOMEM;
		goto out;
	}
	/* frozen: another transfer has it; quarantined: out for good */
	if (e->state != IPSEC_SA_ACTIVE) {
		rc = CTP_E_STATE;
		goto out;
	}
	{
		ipsec_sad_xfrm_load_local(s);
		if ((rc = ipsec_sad_xfrm_load_spd(s)) < 0)
			goto out;
		ipsec_sad_xfrm_view(s, &v);
		/* an inbound SA sends nothing: there is nothing to block */
		if (!ipsec_sad_xfrm_inbound(st, &v) &&
		    (rc = ipsec_sad_xfrm_traffic(st, &v, XFRM_POLICY_OUT, t, IPSEC_SA_MAX_SELECTORS,
		    &n)) < 0)
			goto out;
		e->nblock = 0;
		for (size_t i = 0; i < n; i++)
			if ((rc = ipsec_sad_xfrm_block(s, st, &t[i], &e->block[e->nblock])) < 0) {
				ipsec_sad_xfrm_log(s, CTP_LOG_ERR, __func__, "SA %s: cannot block: %s",
				    id, ipsec_sad_xfrm_why(s, rc));
				ipsec_sad_xfrm_unblock(s, e);
				goto out;
			} else
				e->nblock++;
		ipsec_sad_xfrm_set_state(s, e, IPSEC_SA_FROZEN, n ? "freeze: blocked" :
		    "freeze: no traffic to block");
	}
	/* after the block: nothing sent from here on, oseq is final */
	if ((rc = ipsec_sad_xfrm_getae(s, ref, st)) < 0)
		goto out;
	*highest_sent = ipsec_sad_xfrm_oseq(st);
out:
	if (rc < 0)
		ipsec_sad_xfrm_log(s, CTP_LOG_WARN, __func__, "SA %s: %s", id,
		    ipsec_sad_xfrm_why(s, rc));
	ipsec_sad_xfrm_state_clear(st);
	free(st);
	return rc;
}

static int
ipsec_sad_xfrm_thaw(struct ipsec_sad *s, const struct ipsec_sa_ref *ref)
{
	struct ipsec_sad_xfrm_ent *e = ipsec_sad_xfrm_ent_find(s, ref);

	if (!e || e->state == IPSEC_SA_ACTIVE)
		return e ? 0 : CTP_E_NOTFOUND;
	/* PROFILE 5.1: no verdict, no sending, ever */
	if (e->state == IPSEC_SA_QUARANTINED)
		return CTP_E_STATE;
	ipsec_sad_xfrm_unblock(s, e);
	ipsec_sad_xfrm_set_state(s, e, IPSEC_SA_ACTIVE, "thaw");
	if (!e->installed)
		ipsec_sad_xfrm_ent_drop(s, e);
	return 0;
}

static int
ipsec_sad_xfrm_quarantine(struct ipsec_sad *s, const struct ipsec_sa_ref *ref)
{
	struct ipsec_sad_xfrm_ent *e = ipsec_sad_xfrm_ent_find(s, ref);
	uint64_t unused;
	int rc;

	if (!e || e->state == IPSEC_SA_ACTIVE) {
		/* never frozen: block it first */
		if ((rc = ipsec_sad_xfrm_freeze(s, ref, &unused)) < 0)
			return rc;
		if ((e = ipsec_sad_xfrm_ent_find(s, ref)) == NULL)
			return CTP_E_NOTFOUND;
	}
	ipsec_sad_xfrm_set_state(s, e, IPSEC_SA_QUARANTINED, "quarantine");
	return 0;
}

/* -- snapshot, install, remove -- */

static int
ipsec_sad_xfrm_snapshot(struct ipsec_sad *s, const struct ipsec_sa_ref *ref, struct ipsec_sa *out)
{
	struct ipsec_xfrm_state *st;
	struct ipsec_xfrm_view v;
	struct ctp_err err;
	char id[96];
	int rc;

	ctp_err_clear(&err);
	ipsec_sa_clear(out);
	if ((st = calloc(1, sizeof *st)) == NULL)
		return CTP_E_NOMEM;
	if ((rc = ipsec_sad_xfrm_find(s, ref, st)) == 0 &&
	    (rc = ipsec_sad_xfrm_getae(s, ref, st)) == 0 &&
	    (rc = ipsec_sad_xfrm_load_spd(s)) == 0) {
		ipsec_sad_xfrm_load_local(s);
		ipsec_sad_xfrm_view(s, &v);
		if ((rc = ipsec_sad_xfrm_to_sa(st, &v, out, &err)) < 0)
			ipsec_sad_xfrm_log(s, CTP_LOG_WARN, __func__, "SA %s: %s",
			    ipsec_sad_xfrm_ref_str(ref, id, sizeof id), err.what);
	} else
		ipsec_sad_xfrm_log(s, CTP_LOG_WARN, __func__, "SA %s: %s",
		    ipsec_sad_xfrm_ref_str(ref, id, sizeof id), ipsec_sad_xfrm_why(s, rc));
	ipsec_sad_xfrm_state_clear(st);
	free(st);
	return rc;
}

/* What a failed NEWSA tells the source (status of the CTDR). */
static uint8_t
ipsec_sad_xfrm_status(int kerrno)
{
	switch (kerrno) {
	case EEXIST:
		return CTP_ST_IPSEC_SPI_CONFLICT;
	case ENOSYS:
	case ENOENT:
		return CTP_ST_IPSEC_ALG_UNSUPPORTED;
	case ENOMEM:
	case ENOBUFS:
		return CTP_ST_NO_RESOURCES;
	}
	return CTP_ST_IPSEC_RENEGOTIATE;
}

static unsigned
ipsec_sad_xfrm_prio(const struct xfrm_selector *x)
{
	unsigned bits = x->family == AF_INET6 ? 128 : 32;

	/* narrower selectors first, as strongSwan orders its policies */
	return IPSEC_XFRM_PRIO_BASE + (2 * bits - x->prefixlen_s - x->prefixlen_d) * 4 +
	    (x->proto ? 0 : 2) + (x->sport_mask || x->dport_mask ? 0 : 1);
}

/* The SPD entries of an installed SA: one per SELECTOR and direction. */
static int
ipsec_sad_xfrm_install_spd(struct ipsec_sad *s, const struct ipsec_sa *sa,
    const struct xfrm_usersa_info *i, struct ipsec_sad_xfrm_ent *e, struct ctp_err *err)
{
	uint8_t dirs[2];
	size_t ndir = 0;
	int rc;

	if (sa->direction == CTP_DIRECTION_OUT)
		dirs[ndir++] = XFRM_POLICY_OUT;
	else {
		dirs[ndir++] = XFRM_POLICY_IN;
		if (sa->mode == CTP_MODE_TUNNEL)
			dirs[ndir++] = XFRM_POLICY_FWD;
	}
	for (size_t k = 0; k < sa->nsel; k++)
		for (size_t d = 0; d < ndir; d++) {
			struct ipsec_xfrm_policy p;
			struct ipsec_sad_xfrm_pol *rec;

			memset(&p, 0, sizeof p);
			if (ipsec_sad_xfrm_sel_from_profile(&sa->sel[k], IPSEC_XFRM_TAG_SPD,
			    &p.info.sel) < 0)
				return ctp_err_set(err, CTP_E_VALUE, 0, CTP_ST_IPSEC_RENEGOTIATE,
				    "SELECTOR %zu: port range is not a port and mask", k);
			ipsec_sad_xfrm_lft_inf(&p.info.lft);
			p.info.priority = ipsec_sad_xfrm_prio(&p.info.sel);
			p.info.dir = dirs[d];
			p.info.action = XFRM_POLICY_ALLOW;
			p.ntmpl = 1;
			ipsec_sad_xfrm_tmpl_of(i, &p.tmpl[0]);
			if (sa->has_xfrm_ref) {
				p.has_mark = true;
				p.mark.v = sa->xfrm_ref.mark_value;
				p.mark.m = sa->xfrm_ref.mark_mask;
				p.if_id = sa->xfrm_ref.if_id;
			}
			p.type = XFRM_POLICY_TYPE_MAIN;
			/* UPD: an entry of ours for the same traffic is replaced */
			if ((rc = ipsec_sad_xfrm_policy_op(s, XFRM_MSG_UPDPOLICY, &p)) < 0)
				return ctp_err_set(err, rc, 0, ipsec_sad_xfrm_status(s->nl.kerrno),
				    "SPD entry for SELECTOR %zu refused: %s", k,
				    ipsec_sad_xfrm_why(s, rc));
			if (e->npol < IPSEC_XFRM_MAX_POLS) {
				rec = &e->pol[e->npol++];
				memset(rec, 0, sizeof *rec);
				rec->sel = p.info.sel;
				rec->mark = p.mark;
				rec->if_id = p.if_id;
				rec->dir = p.info.dir;
				rec->type = p.type;
			}
		}
	return 0;
}

static int
ipsec_sad_xfrm_delsa(struct ipsec_sad *s, const struct ipsec_sa_ref *ref,
    const struct xfrm_mark *mark)
{
	struct ctp_wbuf w;

	ctp_wbuf_init(&w, s->tx, sizeof s->tx);
	ipsec_sad_xfrm_build_sa_id(&w, XFRM_MSG_DELSA, 0, ref, mark);
	return ipsec_sad_xfrm_nl_talk(&s->nl, s->tx, w.len, NULL, NULL);
}

static int
ipsec_sad_xfrm_install(struct ipsec_sad *s, const struct ipsec_sa *sa, struct ctp_err *err)
{
	struct xfrm_usersa_info info;
	struct ipsec_sad_xfrm_ent *e;
	struct ipsec_sa_ref ref;
	struct xfrm_mark mark = { 0, 0 };
	struct ctp_wbuf w;
	char id[96];
	int rc;

	ipsec_sad_xfrm_ref_of(sa, &ref);
	ipsec_sad_xfrm_ref_str(&ref, id, sizeof id);
	if (ipsec_sad_xfrm_ent_find(s, &ref) == NULL && s->nent >= IPSEC_XFRM_MAX_ENTS)
		return ctp_err_set(err, CTP_E_LIMIT, 0, CTP_ST_NO_RESOURCES,
		    "xfrm: notes for %d SAs already", IPSEC_XFRM_MAX_ENTS);
	ctp_wbuf_init(&w, s->tx, sizeof s->tx);
	rc = ipsec_sad_xfrm_build_newsa(&w, 0, sa, ipsec_sad_xfrm_now(), err);
	if (rc == 0) {
		/* the body, to name the SA in its templates */
		memcpy(&info, s->tx + NLMSG_HDRLEN, sizeof info);
		rc = ipsec_sad_xfrm_nl_talk(&s->nl, s->tx, w.len, NULL, NULL);
		if (rc < 0)
			ctp_err_set(err, rc, 0, ipsec_sad_xfrm_status(s->nl.kerrno),
			    "kernel refused SA %s: %s", id, ipsec_sad_xfrm_why(s, rc));
	}
	ctp_wipe(s->tx, sizeof s->tx);
	if (rc < 0) {
		ipsec_sad_xfrm_log(s, CTP_LOG_WARN, __func__, "SA %s: %s", id,
		    err ? err->what : ctp_strerror(rc));
		return rc;
	}
	if ((e = ipsec_sad_xfrm_ent_get(s, &ref)) == NULL)
		rc = ctp_err_set(err, CTP_E_NOMEM, 0, CTP_ST_NO_RESOURCES, "xfrm: out of memory");
	else {
		e->installed = true;
		e->state = IPSEC_SA_ACTIVE;
		if ((rc = ipsec_sad_xfrm_install_spd(s, sa, &info, e, err)) < 0) {
			ipsec_sad_xfrm_unpolicy(s, e);
			ipsec_sad_xfrm_ent_drop(s, e);
		} else
			ipsec_sad_xfrm_log(s, CTP_LOG_INFO, __func__,
			    "SA %s installed, %s, %zu SPD entries", id,
			    sa->direction == CTP_DIRECTION_IN ? "inbound" : "outbound", e->npol);
	}
	if (rc < 0) {
		/* all or nothing: the source keeps its copy (PROFILE 5.2) */
		if (sa->has_xfrm_ref) {
			mark.v = sa->xfrm_ref.mark_value;
			mark.m = sa->xfrm_ref.mark_mask;
		}
		(void)ipsec_sad_xfrm_delsa(s, &ref, &mark);
		ipsec_sad_xfrm_log(s, CTP_LOG_WARN, __func__, "SA %s: %s", id,
		    err ? err->what : ctp_strerror(rc));
		return rc;
	}
	return 0;
}

/* After a restart: our entries and blocks for ref, found by their tags. */
static void
ipsec_sad_xfrm_remove_tagged(struct ipsec_sad *s, const struct ipsec_sa_ref *ref)
{
	if (ipsec_sad_xfrm_load_spd(s) < 0)
		return;
	for (size_t i = 0; i < s->nspd; i++) {
		const struct ipsec_xfrm_policy *p = &s->spd[i];
		struct ipsec_sad_xfrm_pol d;

		if ((p->info.sel.user != IPSEC_XFRM_TAG_SPD &&
		    p->info.sel.user != IPSEC_XFRM_TAG_BLOCK) || p->ntmpl != 1 ||
		    ntohl(p->tmpl[0].id.spi) != ref->spi || p->tmpl[0].id.proto != ref->protocol ||
		    !ipsec_sad_xfrm_addr_is(&p->tmpl[0].id.daddr, p->tmpl[0].family, &ref->dst))
			continue;
		memset(&d, 0, sizeof d);
		d.sel = p->info.sel;
		d.mark = p->has_mark ? p->mark : d.mark;
		d.if_id = p->if_id;
		d.dir = p->info.dir;
		d.type = p->type;
		ipsec_sad_xfrm_pol_del(s, &d);
	}
}

static int
ipsec_sad_xfrm_remove(struct ipsec_sad *s, const struct ipsec_sa_ref *ref)
{
	struct ipsec_sad_xfrm_ent *e;
	struct ipsec_xfrm_state *st;
	struct xfrm_mark mark;
	char id[96];
	int rc;

	ipsec_sad_xfrm_ref_str(ref, id, sizeof id);
	if ((st = calloc(1, sizeof *st)) == NULL)
		return CTP_E_NOMEM;
	if ((rc = ipsec_sad_xfrm_find(s, ref, st)) == 0) {
		ipsec_sad_xfrm_mark_of(st, &mark);
		rc = ipsec_sad_xfrm_delsa(s, ref, &mark);
	}
	ipsec_sad_xfrm_state_clear(st);
	free(st);
	/* whether or not the SA was still there, its policies go */
	if ((e = ipsec_sad_xfrm_ent_find(s, ref)) != NULL) {
		ipsec_sad_xfrm_unblock(s, e);
		ipsec_sad_xfrm_unpolicy(s, e);
		ipsec_sad_xfrm_ent_drop(s, e);
	} else
		ipsec_sad_xfrm_remove_tagged(s, ref);
	if (rc < 0)
		ipsec_sad_xfrm_log(s, rc == CTP_E_NOTFOUND ? CTP_LOG_NOTICE : CTP_LOG_WARN, __func__,
		    "SA %s: %s", id, ipsec_sad_xfrm_why(s, rc));
	else
		ipsec_sad_xfrm_log(s, CTP_LOG_INFO, __func__, "SA %s removed", id);
	return rc;
}

/* -- spi_in_use, supports, describe -- */

static int
ipsec_sad_xfrm_spi_in_use(struct ipsec_sad *s, uint32_t spi, uint8_t protocol,
    const struct ctp_addr *dst)
{
	struct ipsec_xfrm_state *st;
	struct ipsec_sa_ref ref;
	int rc;

	memset(&ref, 0, sizeof ref);
	ref.spi = spi;
	ref.protocol = protocol;
	ref.dst = *dst;
	if ((st = calloc(1, sizeof *st)) == NULL)
		return CTP_E_NOMEM;
	rc = ipsec_sad_xfrm_find(s, &ref, st);
	ipsec_sad_xfrm_state_clear(st);
	free(st);
	return rc == 0 ? 1 : rc == CTP_E_NOTFOUND ? 0 : rc;
}

/*
 * Whether the kernel runs an algorithm is decided by adding an SA with it
 * (and a key of the right length) and deleting it again: NEWSA takes the
 * very path an installed SA takes (xfrm_*_get_byname, then esp_init_state
 * allocating the AEAD or authenc transform, loading modules on demand).
 * /proc/crypto was rejected: it lists only what has already been
 * instantiated, and templates such as rfc4106(gcm(aes)) appear there after
 * their first use, so absence proves nothing; AF_ALG tests the parts, not
 * ESP's composition, and its modules are often not loaded.  The probe SA is
 * ESP in transport mode to 127.0.0.1 with an SPI from 1..255, which IANA
 * reserves and no IKE daemon allocates; no policy leads to it, it lives for
 * one round trip, and answers are cached for the life of the backend.  A
 * cipher is probed with hmac(sha256) beside it, an integrity algorithm with
 * cbc(aes): the pairs ESP uses.
 */
static int
ipsec_sad_xfrm_probe(struct ipsec_sad *s, const struct ipsec_alg *a, unsigned bits)
{
	const struct ipsec_alg *partner = NULL;
	struct ipsec_sa sa;
	struct ctp_err err;
	struct xfrm_mark mark = { 0, 0 };
	struct ipsec_sa_ref ref;
	int rc = CTP_E_EXIST;

	ipsec_sa_clear(&sa);
	sa.protocol = CTP_IPPROTO_ESP;
	sa.mode = CTP_MODE_TRANSPORT;
	sa.direction = CTP_DIRECTION_IN;
	sa.family = 4;
	(void)ctp_addr_parse(&sa.local, "127.0.0.1");
	sa.peer = sa.local;
	if (a->type == IPSEC_ALG_ENCR) {
		sa.has_encr = true;
		sa.encr.id = a->id;
		sa.encr.key_bits = (uint16_t)bits;
		sa.encr.key_len = (uint16_t)ipsec_alg_key_octets(a, bits);
		if (!a->aead)
			partner = ipsec_alg_find(IPSEC_ALG_INTEG, CTP_INTEG_HMAC_SHA2_256_128);
	} else {
		sa.has_integ = true;
		sa.integ.id = a->id;
		sa.integ.key_len = (uint16_t)ipsec_alg_key_octets(a, a->keys[0].bits);
		partner = ipsec_alg_find(IPSEC_ALG_ENCR, CTP_ENCR_AES_CBC);
	}
	if (partner && partner->type == IPSEC_ALG_INTEG) {
		sa.has_integ = true;
		sa.integ.id = partner->id;
		sa.integ.key_len = (uint16_t)ipsec_alg_key_octets(partner, partner->keys[0].bits);
	} else if (partner) {
		sa.has_encr = true;
		sa.encr.id = partner->id;
		sa.encr.key_bits = 128;
		sa.encr.key_len = 16;
	}
	/* any key the cipher accepts; 3DES's three parts must differ */
	for (size_t i = 0; i < sizeof sa.encr.key; i++) {
		sa.encr.key[i] = (uint8_t)(0x11 + 0x3b * i);
		sa.integ.key[i] = (uint8_t)(0x5a ^ i);
	}
	for (uint32_t spi = 0xc7; spi < 0xca && rc == CTP_E_EXIST; spi++) {
		struct ctp_wbuf w;

		sa.spi = spi;
		ctp_wbuf_init(&w, s->tx, sizeof s->tx);
		if ((rc = ipsec_sad_xfrm_build_newsa(&w, 0, &sa, ipsec_sad_xfrm_now(), &err)) == 0)
			rc = ipsec_sad_xfrm_nl_talk(&s->nl, s->tx, w.len, NULL, NULL);
	}
	ctp_wipe(s->tx, sizeof s->tx);
	if (rc == 0) {
		ipsec_sad_xfrm_ref_of(&sa, &ref);
		(void)ipsec_sad_xfrm_delsa(s, &ref, &mark);
		return 1;
	}
	ipsec_sad_xfrm_log(s, CTP_LOG_DEBUG, __func__, "%s-%u: %s", a->name, bits,
	    ipsec_sad_xfrm_why(s, rc));
	/* the kernel's answers for "no such algorithm" or a bad key */
	if (rc == CTP_E_UNSUPPORTED || rc == CTP_E_NOTFOUND || rc == CTP_E_INVAL)
		return 0;
	return rc;
}

static int
ipsec_sad_xfrm_supports(struct ipsec_sad *s, unsigned type, unsigned id, unsigned key_bits)
{
	const struct ipsec_alg *a = ipsec_alg_find(type, id);
	int ok;

	if (!a)
		return 0;
	if (type == IPSEC_ALG_INTEG) {
		if (id == CTP_INTEG_NONE)
			return 1;
		key_bits = a->keys[0].bits;
	} else if (!ipsec_alg_keylen(a, key_bits))
		return 0;
	for (size_t i = 0; i < s->nprobe; i++)
		if (s->probe[i].type == type && s->probe[i].id == id && s->probe[i].bits == key_bits)
			return s->probe[i].ok;
	if ((ok = ipsec_sad_xfrm_probe(s, a, key_bits)) < 0)
		return ok;
	if (s->nprobe < sizeof s->probe / sizeof s->probe[0]) {
		s->probe[s->nprobe].type = (uint8_t)type;
		s->probe[s->nprobe].id = (uint16_t)id;
		s->probe[s->nprobe].bits = (uint16_t)key_bits;
		s->probe[s->nprobe++].ok = (int8_t)ok;
	}
	return ok;
}

struct ipsec_sad_xfrm_describe_arg {
	struct ipsec_sad        *s;
	struct ctp_val          *arr;
	size_t                   first;   /* the caller's items before ours */
	struct ipsec_xfrm_view   v;
	struct ipsec_xfrm_state  st;
	size_t                   n;
};

static const char *
ipsec_sad_xfrm_alg_name(unsigned type, const struct ipsec_xfrm_alg *k, bool with_icv)
{
	const struct ipsec_alg *a = ipsec_alg_by_xfrm(type, k->name, with_icv ? k->icv_bits / 8 : 0);

	return a ? a->name : k->name;
}

static int
ipsec_sad_xfrm_describe_cb(const struct ipsec_xfrm_msg *m, void *arg)
{
	struct ipsec_sad_xfrm_describe_arg *d = arg;
	struct ipsec_xfrm_state *st = &d->st;
	const struct xfrm_usersa_info *i = &st->info;
	struct ipsec_sad_xfrm_ent *e;
	struct ipsec_sa_ref ref;
	struct ctp_val *o;
	struct ctp_addr src;
	char a[CTP_ADDRSTRLEN];
	int rc = 0;

	if (ipsec_sad_xfrm_parse_state(m, st, NULL) < 0 || !i->id.spi)
		goto out;
	if (d->n == IPSEC_XFRM_MAX_ENTS)
		goto out;
	if ((o = ctp_val_obj()) == NULL) {
		rc = CTP_E_NOMEM;
		goto out;
	}
	memset(&ref, 0, sizeof ref);
	ref.spi = ntohl(i->id.spi);
	ref.protocol = i->id.proto;
	ipsec_sad_xfrm_addr_get(&ref.dst, ipsec_sad_xfrm_family(i->family), &i->id.daddr);
	ipsec_sad_xfrm_addr_get(&src, ipsec_sad_xfrm_family(i->family), &i->saddr);
	e = ipsec_sad_xfrm_ent_find(d->s, &ref);
	rc |= ctp_val_set_u64(o, "spi", ref.spi);
	rc |= ctp_val_set_str(o, "protocol", i->id.proto == CTP_IPPROTO_ESP ? "esp" :
	    i->id.proto == CTP_IPPROTO_AH ? "ah" : "other");
	rc |= ctp_val_set_str(o, "dst", ctp_addr_fmt(&ref.dst, a, sizeof a));
	rc |= ctp_val_set_str(o, "src", ctp_addr_fmt(&src, a, sizeof a));
	rc |= ctp_val_set_str(o, "mode", i->mode == XFRM_MODE_TRANSPORT ? "transport" :
	    i->mode == XFRM_MODE_TUNNEL ? "tunnel" : "other");
	rc |= ctp_val_set_str(o, "direction", ipsec_sad_xfrm_inbound(st, &d->v) ? "in" : "out");
	rc |= ctp_val_set_str(o, "state", ipsec_sad_xfrm_state_names[e ? e->state : IPSEC_SA_ACTIVE]);
	if (st->has_aead || st->has_crypt)
		rc |= ctp_val_set_str(o, "encr", st->has_aead ?
		    ipsec_sad_xfrm_alg_name(IPSEC_ALG_ENCR, &st->aead, true) :
		    ipsec_sad_xfrm_alg_name(IPSEC_ALG_ENCR, &st->crypt, false));
	if (st->has_auth)
		rc |= ctp_val_set_str(o, "integ", ipsec_sad_xfrm_alg_name(IPSEC_ALG_INTEG, &st->auth,
		    st->auth_trunc));
	rc |= ctp_val_obj_set(o, "esn", ctp_val_bool(!!(i->flags & XFRM_STATE_ESN)));
	rc |= ctp_val_set_u64(o, "reqid", i->reqid);
	rc |= ctp_val_set_u64(o, "replay_window", ipsec_sad_xfrm_kwindow(st));
	rc |= ctp_val_set_u64(o, "seq_out", ipsec_sad_xfrm_oseq(st));
	rc |= ctp_val_set_u64(o, "replay_highest", ipsec_sad_xfrm_highest(st));
	rc |= ctp_val_set_u64(o, "bytes", i->curlft.bytes);
	rc |= ctp_val_set_u64(o, "packets", i->curlft.packets);
	rc |= ctp_val_set_u64(o, "add_ms", ipsec_sad_xfrm_ms_since(d->v.now_s, i->curlft.add_time));
	rc |= ctp_val_set_u64(o, "hard_add_s", i->lft.hard_add_expires_seconds);
	rc |= ctp_val_set_u64(o, "hard_bytes", ipsec_sad_xfrm_limit_in(i->lft.hard_byte_limit));
	rc |= ctp_val_set_u64(o, "hard_packets", ipsec_sad_xfrm_limit_in(i->lft.hard_packet_limit));
	if (st->has_encap) {
		rc |= ctp_val_set_u64(o, "encap_sport", ntohs(st->encap.encap_sport));
		rc |= ctp_val_set_u64(o, "encap_dport", ntohs(st->encap.encap_dport));
	}
	if (st->has_mark && (st->mark.v || st->mark.m)) {
		rc |= ctp_val_set_u64(o, "mark", st->mark.v);
		rc |= ctp_val_set_u64(o, "mark_mask", st->mark.m);
	}
	if (st->if_id)
		rc |= ctp_val_set_u64(o, "if_id", st->if_id);
	rc |= ctp_val_arr_push(d->arr, o);
	d->n++;
	rc = rc ? CTP_E_NOMEM : 0;
out:
	ipsec_sad_xfrm_state_clear(st);
	return rc;
}

static void
ipsec_sad_xfrm_describe_reset(void *arg)
{
	struct ipsec_sad_xfrm_describe_arg *d = arg;

	/* a restarted dump starts our part of the array again */
	while (d->arr->n > d->first)
		ctp_val_free(d->arr->items[--d->arr->n]);
	d->n = 0;
}

static int
ipsec_sad_xfrm_describe(struct ipsec_sad *s, struct ctp_val *arr)
{
	struct ipsec_sad_xfrm_describe_arg *d;
	int rc;

	if (!arr || arr->kind != CTP_V_ARR)
		return CTP_E_INVAL;
	if ((d = calloc(1, sizeof *d)) == NULL)
		return CTP_E_NOMEM;
	d->s = s;
	d->arr = arr;
	d->first = arr->n;
	ipsec_sad_xfrm_load_local(s);
	ipsec_sad_xfrm_view(s, &d->v);
	rc = ipsec_sad_xfrm_dump(s, XFRM_MSG_GETSA, NULL, ipsec_sad_xfrm_describe_cb, d,
	    ipsec_sad_xfrm_describe_reset);
	ipsec_sad_xfrm_state_clear(&d->st);
	free(d);
	return rc;
}

const struct ipsec_sad_ops ipsec_sad_xfrm = {
	.name = "xfrm",
	.open = ipsec_sad_xfrm_open,
	.close = ipsec_sad_xfrm_close,
	.list = ipsec_sad_xfrm_list,
	.freeze = ipsec_sad_xfrm_freeze,
	.snapshot = ipsec_sad_xfrm_snapshot,
	.install = ipsec_sad_xfrm_install,
	.remove = ipsec_sad_xfrm_remove,
	.thaw = ipsec_sad_xfrm_thaw,
	.quarantine = ipsec_sad_xfrm_quarantine,
	.spi_in_use = ipsec_sad_xfrm_spi_in_use,
	.supports = ipsec_sad_xfrm_supports,
	.describe = ipsec_sad_xfrm_describe,
	.each_peer = ipsec_sad_xfrm_each_peer,
};
