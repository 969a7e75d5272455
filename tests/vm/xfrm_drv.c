/*
 * xfrm_drv.c: the xfrm SAD backend (src/features/ipsec/ipsec_sad_xfrm.c) on
 * a real kernel: the qemu guest of `make check-kernel` (xfrm_test.sh) and
 * the recording of tests/vectors/xfrm (record.sh there).
 *
 *   xfrm_drv test NS_A ADDR_A NS_B ADDR_B
 *       The backend in two network namespaces (/run/netns paths) joined by
 *       a veth pair, set up by xfrm_test.sh.  Every SA and SPD entry is
 *       installed through the backend, never with ip xfrm.  Legs:
 *         gcm4    ESP AES-GCM-16 ESN, transport, IPv4: traffic; list; freeze
 *                 blocks outbound traffic and thaw lets it through; a
 *                 transfer of both ends (snapshot, remove, install from the
 *                 snapshot with next sequence number + margin); traffic
 *                 again with the replay state and counters carried over;
 *                 then the replay bitmap against the kernel's own checks.
 *         cbc6    ESP AES-CBC + HMAC-SHA-256, transport, IPv6, no ESN.
 *         tun4    ESP ChaCha20-Poly1305, tunnel mode, 10.1/16 <-> 10.2/16.
 *       /proc/net/xfrm_stat must stay all zero but XfrmOutPolBlock (the
 *       pings freeze blocked), and XfrmInStateSeqError in B after the one
 *       replay sent on purpose.
 *   xfrm_drv dump-sa PREFIX DST SPI [MARK MASK]
 *       GETSA and GETAE for (DST, SPI, ESP) in the current namespace (an SA
 *       with a mark is seen only when asked with it): the raw replies as
 *       hex in PREFIX.sa.hex and PREFIX.ae.hex.
 *   xfrm_drv dump-spd FILE
 *       The SPD dump (every reply message, NLMSG_DONE excluded) as hex.
 *   xfrm_drv encap-sock PORT
 *       Holds a UDP socket with UDP_ENCAP_ESPINUDP on PORT, bypassing the
 *       SPD, until killed: ESP in UDP is received in this namespace.
 *   xfrm_drv mn-move LOCAL OLD NEW
 *       What the MN's IPsec stack does with a CTN that names a new gateway
 *       address (tests/vm/ipsec_chain.sh): in the current namespace, whose
 *       own address is LOCAL, every SA whose other end is OLD gets NEW,
 *       keeping its keys, sequence number, replay window and counters
 *       (the backend's snapshot, remove and install: no IKE), and every
 *       policy template that names OLD names NEW (XFRM_MSG_UPDPOLICY), so
 *       that the policies an IKE daemon or the operator made still lead to
 *       the SA.  Prints one line per SA and policy moved.
 *
 * Exit status 0 when everything held.  Keys are fixed patterns: these are
 * test SAs in namespaces with no way out of the guest.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctp/ctp_log.h"
#include "ctp/ctp_proto.h"
#include "ctp/ctp_secret.h"
#include "ctp/ctp_val.h"
#include "features/ipsec/ipsec_sad_xfrm.h"

#define MARGIN 1000

static int failures;

#define CHECK(cond, ...) do {                                                   \
	if (!(cond)) {                                                          \
		failures++;                                                     \
		printf("  FAIL %s:%d: ", __func__, __LINE__);                   \
		printf(__VA_ARGS__);                                            \
		printf("\n");                                                   \
	}                                                                       \
} while (0)

struct node {
	const char       *name, *ns;
	struct ctp_addr   addr;
	struct ipsec_sad *sad;
};

static struct node A, B;

static void
drv_log(void *arg, int level, const char *func, const char *msg)
{
	printf("    [%s %d] %s: %s\n", (const char *)arg, level, func, msg);
}

static void
drv_enter(const struct node *n)
{
	int fd = open(n->ns, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		printf("cannot enter %s: %s\n", n->ns, strerror(errno));
		exit(2);
	}
	close(fd);
}

/* A shell command in node n's namespace; its exit status. */
static int
drv_sh(const struct node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
drv_sh(const struct node *n, const char *fmt, ...)
{
	char cmd[512], full[600];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	snprintf(full, sizeof full, "ip netns exec %s %s", strrchr(n->ns, '/') + 1, cmd);
	rc = system(full);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

static int
drv_ping(const struct node *from, const char *to, int count)
{
	return drv_sh(from, "ping %s -A -q -c %d -W 2 %s >/dev/null 2>&1",
	    strchr(to, ':') ? "-6" : "", count, to);
}

static int
drv_ping_from(const struct node *from, const char *src, const char *to, int count)
{
	return drv_sh(from, "ping -A -q -c %d -W 2 -I %s %s >/dev/null 2>&1", count, src, to);
}

/* /proc/net/xfrm_stat of node n: every counter, and the non-zero ones. */
static long
drv_xfrm_stat(const struct node *n, const char *only, char *nonzero, size_t cap)
{
	char name[64];
	long v, sum = 0;
	FILE *f;

	drv_enter(n);
	if (nonzero)
		nonzero[0] = '\0';
	if ((f = fopen("/proc/self/net/xfrm_stat", "r")) == NULL)
		return -1;
	while (fscanf(f, "%63s %ld", name, &v) == 2) {
		if (only && strcmp(name, only) != 0)
			continue;
		if (v && nonzero) {
			size_t l = strlen(nonzero);

			snprintf(nonzero + l, cap - l, " %s=%ld", name, v);
		}
		sum += v;
	}
	fclose(f);
	return sum;
}

/* ---- SAs --------------------------------------------------------------------- */

static void
drv_key(uint8_t *k, size_t n, uint32_t spi, uint8_t salt)
{
	for (size_t i = 0; i < n; i++)
		k[i] = (uint8_t)(spi * 7 + i * 13 + salt);
}

static void
drv_sel(struct ipsec_selector *s, const char *src, unsigned splen, const char *dst,
    unsigned dplen)
{
	memset(s, 0, sizeof *s);
	(void)ctp_addr_parse(&s->src, src);
	(void)ctp_addr_parse(&s->dst, dst);
	s->family = s->src.family;
	s->src_plen = (uint8_t)splen;
	s->dst_plen = (uint8_t)dplen;
	s->sport_hi = s->dport_hi = 0xffff;
}

struct drv_spec {
	uint32_t    spi, reqid, window;
	uint8_t     mode;
	bool        esn;
	uint16_t    encr, encr_bits, integ;
	/* the end that sends, the end that receives, and their traffic */
	const char *src, *dst, *tsrc, *tdst;
	unsigned    tsplen, tdplen;
};

/* The SA of spec as node `at` holds it: outbound at src, inbound at dst. */
static void
drv_sa(struct ipsec_sa *sa, const struct drv_spec *p, bool out)
{
	const struct ipsec_alg *a;

	ipsec_sa_clear(sa);
	sa->spi = p->spi;
	sa->protocol = CTP_IPPROTO_ESP;
	sa->mode = p->mode;
	sa->direction = out ? CTP_DIRECTION_OUT : CTP_DIRECTION_IN;
	sa->flags = (p->esn ? IPSEC_SA_F_ESN : 0) | (p->window ? IPSEC_SA_F_ANTI_REPLAY : 0);
	(void)ctp_addr_parse(&sa->local, out ? p->src : p->dst);
	(void)ctp_addr_parse(&sa->peer, out ? p->dst : p->src);
	sa->family = sa->local.family;
	sa->moves = IPSEC_MOVES_LOCAL;
	sa->nsel = 1;
	drv_sel(&sa->sel[0], p->tsrc, p->tsplen, p->tdst, p->tdplen);
	a = ipsec_alg_find(IPSEC_ALG_ENCR, p->encr);
	sa->has_encr = true;
	sa->encr.id = p->encr;
	sa->encr.key_bits = p->encr_bits;
	sa->encr.key_len = (uint16_t)ipsec_alg_key_octets(a, p->encr_bits);
	drv_key(sa->encr.key, sa->encr.key_len, p->spi, 1);
	if (p->integ) {
		a = ipsec_alg_find(IPSEC_ALG_INTEG, p->integ);
		sa->has_integ = true;
		sa->integ.id = p->integ;
		sa->integ.key_len = (uint16_t)ipsec_alg_key_octets(a, a->keys[0].bits);
		drv_key(sa->integ.key, sa->integ.key_len, p->spi, 2);
	}
	if (out) {
		sa->has_seq_out = true;
		sa->seq_out.next = 1;
	}
	if (p->window) {
		sa->has_replay = true;
		sa->replay.window = p->window;
		sa->replay.bitmap_len = (uint16_t)(p->window / 8);
	}
	sa->has_xfrm_ref = true;
	sa->xfrm_ref.reqid = p->reqid;
}

static void
drv_ref(struct ipsec_sa_ref *ref, const struct drv_spec *p)
{
	memset(ref, 0, sizeof *ref);
	ref->spi = p->spi;
	ref->protocol = CTP_IPPROTO_ESP;
	(void)ctp_addr_parse(&ref->dst, p->dst);
}

static int
drv_install(struct node *n, const struct ipsec_sa *sa)
{
	struct ctp_err err;
	int rc;

	ctp_err_clear(&err);
	drv_enter(n);
	if ((rc = ipsec_sa_verify(sa, &err)) < 0) {
		printf("  %s: SA 0x%x does not verify: %s\n", n->name, sa->spi, err.what);
		return rc;
	}
	if ((rc = ipsec_sad_xfrm.install(n->sad, sa, &err)) < 0)
		printf("  %s: install 0x%x: %s (status 0x%02x)\n", n->name, sa->spi, err.what,
		    err.status);
	return rc;
}

static int
drv_snapshot(struct node *n, const struct drv_spec *p, struct ipsec_sa *sa)
{
	struct ipsec_sa_ref ref;

	drv_ref(&ref, p);
	drv_enter(n);
	return ipsec_sad_xfrm.snapshot(n->sad, &ref, sa);
}

static int
drv_remove(struct node *n, const struct drv_spec *p)
{
	struct ipsec_sa_ref ref;

	drv_ref(&ref, p);
	drv_enter(n);
	return ipsec_sad_xfrm.remove(n->sad, &ref);
}

static void
drv_bitmap_str(const struct ipsec_sa *sa, char *buf, size_t cap)
{
	size_t o = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < sa->replay.bitmap_len && o + 3 < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%02x", sa->replay.bitmap[i]);
}

/* One line about a snapshot; and it must be a valid PROFILE 6 CDB. */
static void
drv_show(const char *who, const struct ipsec_sa *sa)
{
	uint8_t buf[2048];
	struct ctp_wbuf w;
	struct ctp_err err;
	char bm[1100];

	drv_bitmap_str(sa, bm, sizeof bm);
	printf("  %s: spi 0x%x %s %s flags 0x%02x sel %zu, seq_out %llu, replay w %u highest %llu "
	    "bitmap %.32s%s, usage %llu bytes %llu packets add %llu ms use %llu ms\n", who, sa->spi,
	    sa->direction == CTP_DIRECTION_IN ? "in" : "out",
	    sa->mode == CTP_MODE_TUNNEL ? "tunnel" : "transport", sa->flags, sa->nsel,
	    (unsigned long long)(sa->has_seq_out ? sa->seq_out.next : 0), sa->replay.window,
	    (unsigned long long)sa->replay.highest, bm, strlen(bm) > 32 ? "..." : "",
	    (unsigned long long)sa->usage.bytes, (unsigned long long)sa->usage.packets,
	    (unsigned long long)sa->usage.add_ms, (unsigned long long)sa->usage.use_ms);
	ctp_err_clear(&err);
	CHECK(ipsec_sa_verify(sa, &err) == 0, "%s: snapshot does not verify: %s", who, err.what);
	ctp_wbuf_init(&w, buf, sizeof buf);
	CHECK(ipsec_sa_encode(sa, &w) == 0 && w.err == 0, "%s: snapshot does not encode", who);
	ctp_wipe(buf, sizeof buf);
}

static bool
drv_bit(const struct ipsec_sa *sa, unsigned i)
{
	return sa->replay.bitmap[i / 8] >> (7 - i % 8) & 1;
}

static int drv_open_here(struct node *n);

static int
drv_open(struct node *n)
{
	drv_enter(n);
	return drv_open_here(n);
}

/* The backend in the current namespace, with n's address as its own. */
static int
drv_open_here(struct node *n)
{
	struct ipsec_sad_env env;
	struct ctp_val *conf;
	struct ctp_err err;
	int rc;

	memset(&env, 0, sizeof env);
	env.log = drv_log;
	env.log_arg = (void *)(uintptr_t)n->name;
	env.addrs[0] = n->addr;
	env.naddrs = 1;
	ctp_err_clear(&err);
	/* as the plugin passes <sad backend="xfrm"/> */
	conf = ctp_val_obj();
	if (!conf || ctp_val_set_str(conf, "backend", "xfrm") < 0)
		return CTP_E_NOMEM;
	if ((rc = ipsec_sad_xfrm.open(conf, &env, &n->sad, &err)) < 0)
		printf("open in %s: %s\n", n->name, err.what);
	ctp_val_free(conf);
	return rc;
}

/* Close and open again, as a restarted daemon does. */
static void
drv_reopen(struct node *n)
{
	drv_enter(n);
	ipsec_sad_xfrm.close(n->sad);
	n->sad = NULL;
	CHECK(drv_open(n) == 0, "open again in %s", n->name);
}

/* ---- legs ------------------------------------------------------------------------ */

/* Install spec's SA at both ends. */
static int
drv_pair(const struct drv_spec *p, struct node *src, struct node *dst)
{
	struct ipsec_sa sa;
	int rc;

	drv_sa(&sa, p, true);
	rc = drv_install(src, &sa);
	drv_sa(&sa, p, false);
	if (rc == 0)
		rc = drv_install(dst, &sa);
	ipsec_sa_clear(&sa);
	return rc;
}

/*
 * The transfer of one SA at both of its ends: snapshot the outbound end
 * (frozen first) and the inbound end, remove both, install both from the
 * snapshots, the sender's next number advanced by MARGIN.
 */
static void
drv_transfer(const struct drv_spec *p, struct node *src, struct node *dst, uint64_t *next_out,
    uint64_t *highest_in, uint64_t *packets)
{
	struct ipsec_sa so, si;
	struct ipsec_sa_ref ref;
	uint64_t sent = 0;

	drv_ref(&ref, p);
	drv_enter(src);
	CHECK(ipsec_sad_xfrm.freeze(src->sad, &ref, &sent) == 0, "freeze 0x%x", p->spi);
	CHECK(drv_snapshot(src, p, &so) == 0, "snapshot 0x%x at %s", p->spi, src->name);
	CHECK(drv_snapshot(dst, p, &si) == 0, "snapshot 0x%x at %s", p->spi, dst->name);
	drv_show("source out", &so);
	drv_show("source in ", &si);
	CHECK(so.seq_out.next == sent + 1, "next %llu after %llu sent",
	    (unsigned long long)so.seq_out.next, (unsigned long long)sent);
	CHECK(si.replay.highest == sent, "receiver's highest %llu, sender's %llu",
	    (unsigned long long)si.replay.highest, (unsigned long long)sent);
	CHECK(so.usage.packets > 0 && so.usage.bytes > 0 && si.usage.packets == so.usage.packets,
	    "counters: out %llu packets, in %llu", (unsigned long long)so.usage.packets,
	    (unsigned long long)si.usage.packets);
	*next_out = so.seq_out.next;
	*highest_in = si.replay.highest;
	*packets = so.usage.packets;
	CHECK(drv_remove(src, p) == 0, "remove 0x%x at %s", p->spi, src->name);
	CHECK(drv_remove(dst, p) == 0, "remove 0x%x at %s", p->spi, dst->name);
	drv_enter(src);
	CHECK(ipsec_sad_xfrm.spi_in_use(src->sad, p->spi, CTP_IPPROTO_ESP, &ref.dst) == 0,
	    "0x%x still in use after remove", p->spi);
	/* PROFILE 5.1: the sink starts at the snapshot's next + margin */
	so.seq_out.next += MARGIN;
	so.seq_out.margin = MARGIN;
	so.has_snapshot_age = true;
	so.snapshot_age_ms = 5;
	CHECK(drv_install(src, &so) == 0, "install 0x%x from its snapshot at %s", p->spi, src->name);
	CHECK(drv_install(dst, &si) == 0, "install 0x%x from its snapshot at %s", p->spi, dst->name);
	ipsec_sa_clear(&so);
	ipsec_sa_clear(&si);
}

/* After the transfer and n more packets: where both ends stand. */
static void
drv_after(const struct drv_spec *p, struct node *src, struct node *dst, uint64_t next,
    uint64_t packets, unsigned n)
{
	struct ipsec_sa so, si;
	uint64_t last = next + MARGIN + n - 1;

	CHECK(drv_snapshot(src, p, &so) == 0, "snapshot 0x%x at %s", p->spi, src->name);
	CHECK(drv_snapshot(dst, p, &si) == 0, "snapshot 0x%x at %s", p->spi, dst->name);
	drv_show("sink out  ", &so);
	drv_show("sink in   ", &si);
	CHECK(so.seq_out.next == last + 1, "sink sends from %llu, expected %llu",
	    (unsigned long long)so.seq_out.next, (unsigned long long)last + 1);
	CHECK(si.replay.highest == last, "sink's receiver at %llu, expected %llu",
	    (unsigned long long)si.replay.highest, (unsigned long long)last);
	for (unsigned i = 0; i < si.replay.window; i++)
		CHECK(drv_bit(&si, i) == (i < n), "bitmap bit %u (number %llu) is %d", i,
		    (unsigned long long)(last - i), drv_bit(&si, i));
	/* the counters went on from the snapshot's (XFRMA_LTIME_VAL) */
	CHECK(so.usage.packets == packets + n && si.usage.packets == packets + n,
	    "packets: out %llu, in %llu, expected %llu", (unsigned long long)so.usage.packets,
	    (unsigned long long)si.usage.packets, (unsigned long long)(packets + n));
	ipsec_sa_clear(&so);
	ipsec_sa_clear(&si);
}

/* Make src send exactly one ESP packet numbered seq on p (one echo request). */
static int
drv_send_numbered(const struct drv_spec *p, struct node *src, const char *to, uint64_t seq)
{
	struct ipsec_sa sa;
	int rc;

	drv_remove(src, p);
	drv_sa(&sa, p, true);
	sa.seq_out.next = seq;
	if (drv_install(src, &sa) < 0)
		return -1;
	ipsec_sa_clear(&sa);
	rc = drv_ping(src, to, 1);
	return rc;
}

/*
 * The replay bitmap against the kernel: B's inbound SA is installed with a
 * crafted window whose ring wraps (highest - 1 = 1281, 1281 % 64 = 1: bits
 * 0 and 1 sit at the ring's start, bit 2 at its end) and holes at bits 2,
 * 40 and 63.  The kernel must read back exactly that; accept 1280 (bit 2)
 * once; refuse 1281 (bit 1) as a replay; accept 1242 (bit 40).
 */
static void
drv_replay_semantics(const struct drv_spec *p, struct node *src, struct node *dst,
    const char *to)
{
	const uint64_t H = 64 * 20 + 2;
	struct ipsec_sa sa, got;
	char before[64], after[64];

	printf("  replay bitmap: window 64, highest %llu, holes at %llu, %llu, %llu\n",
	    (unsigned long long)H, (unsigned long long)(H - 2), (unsigned long long)(H - 40),
	    (unsigned long long)(H - 63));
	drv_remove(dst, p);
	drv_sa(&sa, p, false);
	sa.replay.highest = H;
	memset(sa.replay.bitmap, 0xff, 8);
	sa.replay.bitmap[0] &= (uint8_t)~(0x80 >> 2);
	sa.replay.bitmap[5] &= (uint8_t)~(0x80 >> 0);
	sa.replay.bitmap[7] &= (uint8_t)~(0x80 >> 7);
	CHECK(drv_install(dst, &sa) == 0, "install crafted window");
	CHECK(drv_snapshot(dst, p, &got) == 0 && memcmp(got.replay.bitmap, sa.replay.bitmap, 8) == 0 &&
	    got.replay.highest == H, "kernel's window differs from the one installed");
	drv_bitmap_str(&sa, before, sizeof before);
	drv_bitmap_str(&got, after, sizeof after);
	printf("  installed %s, kernel holds %s\n", before, after);

	CHECK(drv_send_numbered(p, src, to, H - 2) == 0, "number %llu (a hole) refused",
	    (unsigned long long)(H - 2));
	CHECK(drv_send_numbered(p, src, to, H - 1) != 0, "number %llu (seen) accepted",
	    (unsigned long long)(H - 1));
	CHECK(drv_send_numbered(p, src, to, H - 40) == 0, "number %llu (a hole) refused",
	    (unsigned long long)(H - 40));
	CHECK(drv_snapshot(dst, p, &got) == 0, "snapshot after the replays");
	drv_bitmap_str(&got, after, sizeof after);
	printf("  after %llu, %llu (refused), %llu: kernel holds %s\n", (unsigned long long)(H - 2),
	    (unsigned long long)(H - 1), (unsigned long long)(H - 40), after);
	for (unsigned i = 0; i < 64; i++)
		CHECK(drv_bit(&got, i) == (i != 63), "bit %u (number %llu) is %d", i,
		    (unsigned long long)(H - i), drv_bit(&got, i));
	CHECK(got.replay.highest == H, "highest moved to %llu", (unsigned long long)got.replay.highest);
	CHECK(drv_xfrm_stat(dst, "XfrmInStateSeqError", NULL, 0) == 1,
	    "XfrmInStateSeqError in %s is not 1", dst->name);
	ipsec_sa_clear(&sa);
	ipsec_sa_clear(&got);
}

static void
drv_leg_gcm4(void)
{
	/* a -> b and b -> a */
	const struct drv_spec ab = { 0x1001, 10, 64, CTP_MODE_TRANSPORT, true,
	    CTP_ENCR_AES_GCM_16, 128, 0, "192.0.2.1", "192.0.2.2", "192.0.2.1", "192.0.2.2", 32, 32 };
	const struct drv_spec ba = { 0x1002, 11, 64, CTP_MODE_TRANSPORT, true,
	    CTP_ENCR_AES_GCM_16, 128, 0, "192.0.2.2", "192.0.2.1", "192.0.2.2", "192.0.2.1", 32, 32 };
	struct ipsec_sa_ref refs[IPSEC_SAD_MAX_LIST], ref;
	struct ctp_addr mn;
	uint64_t sent = 0, next, highest, packets;
	size_t n = 0;
	char nz[512];

	printf("leg gcm4: ESP AES-GCM-16/128 ESN, transport, IPv4\n");
	CHECK(drv_pair(&ab, &A, &B) == 0 && drv_pair(&ba, &B, &A) == 0, "install");
	CHECK(drv_ping(&A, "192.0.2.2", 5) == 0, "ping a -> b through ESP");

	(void)ctp_addr_parse(&mn, "192.0.2.2");
	drv_enter(&A);
	CHECK(ipsec_sad_xfrm.list(A.sad, &mn, refs, IPSEC_SAD_MAX_LIST, &n) == 0 && n == 2,
	    "list for 192.0.2.2: %zu SAs", n);
	for (size_t i = 0; i < n; i++) {
		char s[CTP_ADDRSTRLEN];

		printf("  list: spi 0x%x -> %s\n", refs[i].spi, ctp_addr_fmt(&refs[i].dst, s, sizeof s));
	}

	/* freeze blocks: nothing leaves on 0x1001; thaw: it does again */
	drv_ref(&ref, &ab);
	CHECK(ipsec_sad_xfrm.freeze(A.sad, &ref, &sent) == 0 && sent == 5,
	    "freeze: highest sent %llu, expected 5", (unsigned long long)sent);
	drv_sh(&A, "ip xfrm policy list ptype sub | sed 's/^/    /'");
	CHECK(drv_ping(&A, "192.0.2.2", 1) != 0, "ping got through a frozen SA");
	drv_enter(&A);
	/* a frozen SA belongs to the transfer that froze it: a second freeze
	 * (another transfer) is refused, and the first one's block stays */
	CHECK(ipsec_sad_xfrm.freeze(A.sad, &ref, &sent) == CTP_E_STATE,
	    "a frozen SA was frozen again (highest sent %llu)", (unsigned long long)sent);
	CHECK(drv_ping(&A, "192.0.2.2", 1) != 0, "ping got through after a refused freeze");
	drv_enter(&A);
	CHECK(ipsec_sad_xfrm.thaw(A.sad, &ref) == 0, "thaw");
	CHECK(drv_ping(&A, "192.0.2.2", 2) == 0, "ping after thaw");
	printf("  freeze: highest sent 5, ping refused while frozen, a second freeze refused, "
	    "through after thaw\n");

	drv_transfer(&ab, &A, &B, &next, &highest, &packets);
	CHECK(next == 8 && highest == 7 && packets == 7, "7 packets before the transfer");
	CHECK(drv_ping(&A, "192.0.2.2", 5) == 0, "ping a -> b after the transfer");
	drv_after(&ab, &A, &B, next, packets, 5);

	printf("  ip -s xfrm state in b after the transfer:\n");
	drv_sh(&B, "ip -s xfrm state | sed 's/^/    /' | grep -v -e 'aead ' -e 'enc ' -e 'auth'");
	drv_xfrm_stat(&A, NULL, nz, sizeof nz);
	printf("  xfrm_stat a:%s\n", nz[0] ? nz : " all 0");
	CHECK(drv_xfrm_stat(&A, NULL, NULL, 0) == drv_xfrm_stat(&A, "XfrmOutPolBlock", NULL, 0) &&
	    drv_xfrm_stat(&A, "XfrmOutPolBlock", NULL, 0) >= 1,
	    "a: error counters other than XfrmOutPolBlock:%s", nz);
	drv_xfrm_stat(&B, NULL, nz, sizeof nz);
	printf("  xfrm_stat b:%s\n", nz[0] ? nz : " all 0");
	CHECK(drv_xfrm_stat(&B, NULL, NULL, 0) == 0, "b: error counters:%s", nz);

	drv_replay_semantics(&ab, &A, &B, "192.0.2.2");

	/* quarantine: blocked for good, thaw refused */
	drv_enter(&A);
	CHECK(ipsec_sad_xfrm.quarantine(A.sad, &ref) == 0, "quarantine");
	CHECK(drv_ping(&A, "192.0.2.2", 1) != 0, "ping got through a quarantined SA");
	drv_enter(&A);
	CHECK(ipsec_sad_xfrm.thaw(A.sad, &ref) == CTP_E_STATE, "thaw of a quarantined SA");

	/* a restart: the block is found again, still quarantined */
	drv_reopen(&A);
	CHECK(ipsec_sad_xfrm.thaw(A.sad, &ref) == CTP_E_STATE, "thaw after a restart");
	CHECK(drv_ping(&A, "192.0.2.2", 1) != 0, "ping got through after a restart");
	CHECK(drv_remove(&A, &ab) == 0, "remove the quarantined SA");
	drv_sh(&A, "ip xfrm policy list ptype sub | grep -q . && echo '  blocks left:' && "
	    "ip xfrm policy list ptype sub");
	CHECK(drv_sh(&A, "ip xfrm policy list ptype sub | grep -q .") != 0,
	    "the block outlived its SA");
	printf("  quarantine: refused thaw, kept over a restart, gone with the SA\n");
}

/*
 * An SA with a mark: the kernel's look-up by (daddr, SPI, protocol) does
 * not see it without the mark, so the backend finds it in a dump.
 */
static void
drv_leg_mark(void)
{
	const struct drv_spec ab = { 0x4001, 40, 32, CTP_MODE_TRANSPORT, false,
	    CTP_ENCR_AES_CBC, 256, CTP_INTEG_HMAC_SHA2_384_192, "192.0.2.1", "192.0.2.2",
	    "192.0.2.1", "192.0.2.2", 32, 32 };
	struct ipsec_sa sa, got;
	struct ctp_addr dst;

	printf("leg mark4: an SA with mark 0x10/0xff and if_id 7 (no traffic)\n");
	drv_sa(&sa, &ab, true);
	sa.xfrm_ref.mark_value = 0x10;
	sa.xfrm_ref.mark_mask = 0xff;
	sa.xfrm_ref.if_id = 7;
	CHECK(drv_install(&A, &sa) == 0, "install a marked SA");
	(void)ctp_addr_parse(&dst, "192.0.2.2");
	drv_enter(&A);
	CHECK(ipsec_sad_xfrm.spi_in_use(A.sad, 0x4001, CTP_IPPROTO_ESP, &dst) == 1,
	    "marked SA not seen");
	CHECK(drv_snapshot(&A, &ab, &got) == 0 && got.xfrm_ref.mark_value == 0x10 &&
	    got.xfrm_ref.mark_mask == 0xff && got.xfrm_ref.if_id == 7 && got.xfrm_ref.reqid == 40,
	    "snapshot of a marked SA");
	drv_show("marked    ", &got);
	CHECK(drv_remove(&A, &ab) == 0, "remove a marked SA");
	drv_enter(&A);
	CHECK(ipsec_sad_xfrm.spi_in_use(A.sad, 0x4001, CTP_IPPROTO_ESP, &dst) == 0,
	    "marked SA still there");
	ipsec_sa_clear(&sa);
	ipsec_sa_clear(&got);
}

/* Install both directions of a leg, ping, transfer one direction, ping again. */
static void
drv_leg(const char *name, const struct drv_spec *ab, const struct drv_spec *ba, const char *to,
    const char *from)
{
	uint64_t next, highest, packets;
	int rc;

	printf("leg %s\n", name);
	CHECK(drv_pair(ab, &A, &B) == 0 && drv_pair(ba, &B, &A) == 0, "install");
	rc = from ? drv_ping_from(&A, from, to, 3) : drv_ping(&A, to, 3);
	CHECK(rc == 0, "ping %s", to);
	drv_transfer(ab, &A, &B, &next, &highest, &packets);
	CHECK(next == 4 && highest == 3, "3 packets before the transfer");
	rc = from ? drv_ping_from(&A, from, to, 2) : drv_ping(&A, to, 2);
	CHECK(rc == 0, "ping %s after the transfer", to);
	drv_after(ab, &A, &B, next, packets, 2);
}

static int
drv_test(int argc, char **argv)
{
	struct ctp_val *arr;
	char *json;
	char nz[512];

	if (argc != 4)
		return 2;
	A.name = "a", A.ns = argv[0];
	B.name = "b", B.ns = argv[2];
	if (ctp_addr_parse(&A.addr, argv[1]) < 0 || ctp_addr_parse(&B.addr, argv[3]) < 0)
		return 2;
	if (drv_open(&A) < 0 || drv_open(&B) < 0)
		return 1;

	printf("supports (a):");
	drv_enter(&A);
	for (size_t i = 0; i < ipsec_alg_count; i++) {
		const struct ipsec_alg *a = &ipsec_algs[i];
		unsigned bits = a->keys[a->nkeys - 1].bits;
		int ok = ipsec_sad_xfrm.supports(A.sad, a->type, a->id, bits);

		printf(" %s-%u=%d", a->name, bits, ok);
		CHECK(ok == 1, "%s-%u not supported", a->name, bits);
	}
	printf("\n");
	CHECK(ipsec_sad_xfrm.supports(A.sad, IPSEC_ALG_ENCR, 1234, 128) == 0, "unknown ENCR");
	CHECK(ipsec_sad_xfrm.supports(A.sad, IPSEC_ALG_ENCR, CTP_ENCR_AES_CBC, 100) == 0,
	    "AES with a 100-bit key");

	drv_leg_gcm4();
	drv_leg_mark();
	{
		const struct drv_spec ab = { 0x2001, 20, 32, CTP_MODE_TRANSPORT, false,
		    CTP_ENCR_AES_CBC, 128, CTP_INTEG_HMAC_SHA2_256_128, "2001:db8::1",
		    "2001:db8::2", "2001:db8::1", "2001:db8::2", 128, 128 };
		const struct drv_spec ba = { 0x2002, 21, 32, CTP_MODE_TRANSPORT, false,
		    CTP_ENCR_AES_CBC, 128, CTP_INTEG_HMAC_SHA2_256_128, "2001:db8::2",
		    "2001:db8::1", "2001:db8::2", "2001:db8::1", 128, 128 };

		drv_leg("cbc6: ESP AES-CBC-128 + HMAC-SHA-256, transport, IPv6", &ab, &ba,
		    "2001:db8::2", NULL);
	}
	{
		const struct drv_spec ab = { 0x3001, 30, 128, CTP_MODE_TUNNEL, true,
		    CTP_ENCR_CHACHA20_POLY1305, 256, 0, "192.0.2.1", "192.0.2.2", "10.1.0.0",
		    "10.2.0.0", 16, 16 };
		const struct drv_spec ba = { 0x3002, 31, 128, CTP_MODE_TUNNEL, true,
		    CTP_ENCR_CHACHA20_POLY1305, 256, 0, "192.0.2.2", "192.0.2.1", "10.2.0.0",
		    "10.1.0.0", 16, 16 };

		drv_leg("tun4: ESP ChaCha20-Poly1305 ESN, tunnel 10.1/16 <-> 10.2/16", &ab, &ba,
		    "10.2.0.1", "10.1.0.1");
	}

	/* describe: one object per SA, never a key */
	drv_enter(&A);
	arr = ctp_val_arr();
	CHECK(arr && ipsec_sad_xfrm.describe(A.sad, arr) == 0 && arr->n == 5, "describe: %zu SAs",
	    arr ? arr->n : 0);
	if (arr && arr->n) {
		json = ctp_json_string(arr->items[0], 0);
		printf("describe (a), first of %zu: %s\n", arr->n, json ? json : "?");
		free(json);
		json = ctp_json_string(arr, 0);
		/* the GCM key of 0x1001 starts 0x1001 * 7 + 1 = 0x08 0x15 0x22 */
		CHECK(json && !strstr(json, "081522"), "describe shows key octets");
		free(json);
	}
	ctp_val_free(arr);

	drv_xfrm_stat(&A, NULL, nz, sizeof nz);
	printf("xfrm_stat a at the end:%s\n", nz[0] ? nz : " all 0");
	drv_xfrm_stat(&B, NULL, nz, sizeof nz);
	printf("xfrm_stat b at the end:%s\n", nz[0] ? nz : " all 0");
	CHECK(drv_xfrm_stat(&B, NULL, NULL, 0) == 1 &&
	    drv_xfrm_stat(&B, "XfrmInStateSeqError", NULL, 0) == 1,
	    "b: other errors than the one replay:%s", nz);
	drv_enter(&A);
	ipsec_sad_xfrm.close(A.sad);
	drv_enter(&B);
	ipsec_sad_xfrm.close(B.sad);
	printf("xfrm_drv test: %s (%d failures)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}

/* ---- recording ------------------------------------------------------------------- */

static void
drv_hex(FILE *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x%s", p[i], i % 32 == 31 || i + 1 == n ? "\n" : "");
}

struct drv_rec {
	FILE *f;
	int   n;
};

static int
drv_rec_cb(const struct ipsec_xfrm_msg *m, void *arg)
{
	struct drv_rec *r = arg;

	drv_hex(r->f, m->raw, m->rawlen);
	r->n++;
	return 0;
}

static int
drv_talk_to(struct ipsec_xfrm_nl *nl, uint8_t *req, size_t len, const char *path)
{
	struct drv_rec r = { fopen(path, "w"), 0 };
	int rc;

	if (!r.f)
		return CTP_E_IO;
	rc = ipsec_sad_xfrm_nl_talk(nl, req, len, drv_rec_cb, &r);
	fclose(r.f);
	if (rc == 0 && r.n == 0)
		rc = CTP_E_NOTFOUND;
	if (rc < 0)
		printf("%s: %s %s\n", path, ctp_errname(rc), nl->kmsg);
	return rc;
}

static int
drv_dump_sa(int argc, char **argv)
{
	struct ipsec_xfrm_nl nl;
	struct ipsec_sa_ref ref;
	struct xfrm_mark mark = { 0, 0 };
	uint8_t req[512];
	char path[512];
	struct ctp_wbuf w;
	int rc;

	if (argc != 3 && argc != 5)
		return 2;
	if (argc == 5) {
		mark.v = (uint32_t)strtoul(argv[3], NULL, 0);
		mark.m = (uint32_t)strtoul(argv[4], NULL, 0);
	}
	memset(&ref, 0, sizeof ref);
	if (ctp_addr_parse(&ref.dst, argv[1]) < 0)
		return 2;
	ref.spi = (uint32_t)strtoul(argv[2], NULL, 0);
	ref.protocol = CTP_IPPROTO_ESP;
	if (ipsec_sad_xfrm_nl_open(&nl, 2000) < 0)
		return 1;
	ctp_wbuf_init(&w, req, sizeof req);
	ipsec_sad_xfrm_build_sa_id(&w, XFRM_MSG_GETSA, 0, &ref, &mark);
	snprintf(path, sizeof path, "%s.sa.hex", argv[0]);
	rc = drv_talk_to(&nl, req, w.len, path);
	ctp_wbuf_init(&w, req, sizeof req);
	ipsec_sad_xfrm_build_getae(&w, 0, &ref, &mark);
	snprintf(path, sizeof path, "%s.ae.hex", argv[0]);
	if (rc == 0)
		rc = drv_talk_to(&nl, req, w.len, path);
	ipsec_sad_xfrm_nl_close(&nl);
	return rc < 0;
}

static int
drv_dump_spd(int argc, char **argv)
{
	struct ipsec_xfrm_nl nl;
	uint8_t req[64];
	struct ctp_wbuf w;
	int rc;

	if (argc != 1)
		return 2;
	if (ipsec_sad_xfrm_nl_open(&nl, 2000) < 0)
		return 1;
	ctp_wbuf_init(&w, req, sizeof req);
	ipsec_sad_xfrm_build_dump(&w, XFRM_MSG_GETPOLICY, 0, NULL);
	rc = drv_talk_to(&nl, req, w.len, argv[0]);
	ipsec_sad_xfrm_nl_close(&nl);
	return rc < 0;
}

static int
drv_encap_sock(int argc, char **argv)
{
	struct xfrm_userpolicy_info bypass;
	struct sockaddr_in sa;
	int fd, type = UDP_ENCAP_ESPINUDP;

	if (argc != 1)
		return 2;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(argv[0]));
	/* the UDP packets themselves must bypass the SPD (as an IKE daemon's
	 * sockets do): the kernel checks the inbound policy before it looks
	 * for ESP inside, and ESP policies for the same addresses match */
	memset(&bypass, 0, sizeof bypass);
	bypass.action = XFRM_POLICY_ALLOW;
	bypass.sel.family = AF_INET;
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    (bypass.dir = XFRM_POLICY_IN,
	    setsockopt(fd, IPPROTO_IP, IP_XFRM_POLICY, &bypass, sizeof bypass)) < 0 ||
	    (bypass.dir = XFRM_POLICY_OUT,
	    setsockopt(fd, IPPROTO_IP, IP_XFRM_POLICY, &bypass, sizeof bypass)) < 0 ||
	    setsockopt(fd, IPPROTO_UDP, UDP_ENCAP, &type, sizeof type) < 0) {
		printf("encap-sock: %s\n", strerror(errno));
		return 1;
	}
	for (;;)
		pause();
}

/* ---- the MN's side of a gateway move ---------------------------------------------- */

struct drv_pols {
	struct ipsec_xfrm_policy p[256];
	size_t                   n;
};

static int
drv_pol_cb(const struct ipsec_xfrm_msg *m, void *arg)
{
	struct drv_pols *d = arg;

	if (d->n < sizeof d->p / sizeof d->p[0] && ipsec_sad_xfrm_parse_policy(m, &d->p[d->n], NULL) == 0)
		d->n++;
	return 0;
}

static bool
drv_xaddr_is(const xfrm_address_t *x, uint16_t af, const struct ctp_addr *a)
{
	return (af == AF_INET ? 4 : af == AF_INET6 ? 6 : 0) == a->family &&
	    memcmp(x, a->a, ctp_addr_len(a->family)) == 0;
}

static int
drv_mn_move(int argc, char **argv)
{
	struct ipsec_sa_ref refs[IPSEC_SAD_MAX_LIST];
	struct ipsec_xfrm_nl nl;
	struct drv_pols *pols;
	struct ctp_addr old, new;
	struct ipsec_sa sa;
	struct ctp_wbuf w;
	struct ctp_err err;
	uint8_t req[1024];
	size_t n = 0, moved = 0;
	int rc;

	if (argc != 3 || ctp_addr_parse(&A.addr, argv[0]) < 0 || ctp_addr_parse(&old, argv[1]) < 0 ||
	    ctp_addr_parse(&new, argv[2]) < 0)
		return 2;
	A.name = "mn";
	if (drv_open_here(&A) < 0)
		return 1;
	if ((rc = ipsec_sad_xfrm.list(A.sad, &old, refs, IPSEC_SAD_MAX_LIST, &n)) < 0) {
		printf("mn-move: list: %s\n", ctp_errname(rc));
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		char a[CTP_ADDRSTRLEN], b[CTP_ADDRSTRLEN];

		if ((rc = ipsec_sad_xfrm.snapshot(A.sad, &refs[i], &sa)) < 0) {
			printf("mn-move: snapshot of 0x%x: %s\n", refs[i].spi, ctp_errname(rc));
			return 1;
		}
		if (!ctp_addr_eq(&sa.peer, &old)) {
			ipsec_sa_clear(&sa);
			continue;
		}
		if ((rc = ipsec_sad_xfrm.remove(A.sad, &refs[i])) < 0) {
			printf("mn-move: remove 0x%x: %s\n", refs[i].spi, ctp_errname(rc));
			return 1;
		}
		sa.peer = new;
		ctp_err_clear(&err);
		if ((rc = ipsec_sad_xfrm.install(A.sad, &sa, &err)) < 0) {
			printf("mn-move: install 0x%x: %s\n", sa.spi, err.what);
			return 1;
		}
		printf("mn-move: SA 0x%x %s %s <-> %s, next out %llu, highest in %llu, %llu packets "
		    "so far\n", sa.spi, sa.direction == CTP_DIRECTION_IN ? "in " : "out",
		    ctp_addr_fmt(&sa.local, a, sizeof a), ctp_addr_fmt(&sa.peer, b, sizeof b),
		    (unsigned long long)(sa.has_seq_out ? sa.seq_out.next : 0),
		    (unsigned long long)sa.replay.highest, (unsigned long long)sa.usage.packets);
		ipsec_sa_clear(&sa);
		moved++;
	}
	/* the policies whose templates still name the old gateway */
	if ((pols = calloc(1, sizeof *pols)) == NULL || ipsec_sad_xfrm_nl_open(&nl, 2000) < 0)
		return 1;
	ctp_wbuf_init(&w, req, sizeof req);
	ipsec_sad_xfrm_build_dump(&w, XFRM_MSG_GETPOLICY, 0, NULL);
	if ((rc = ipsec_sad_xfrm_nl_talk(&nl, req, w.len, drv_pol_cb, pols)) < 0) {
		printf("mn-move: SPD dump: %s\n", ctp_errname(rc));
		return 1;
	}
	for (size_t i = 0; i < pols->n; i++) {
		struct ipsec_xfrm_policy *p = &pols->p[i];
		bool hit = false;

		for (size_t k = 0; k < p->ntmpl; k++) {
			if (drv_xaddr_is(&p->tmpl[k].saddr, p->tmpl[k].family, &old)) {
				memcpy(&p->tmpl[k].saddr, new.a, ctp_addr_len(new.family));
				hit = true;
			}
			if (drv_xaddr_is(&p->tmpl[k].id.daddr, p->tmpl[k].family, &old)) {
				memcpy(&p->tmpl[k].id.daddr, new.a, ctp_addr_len(new.family));
				hit = true;
			}
		}
		if (!hit)
			continue;
		ctp_wbuf_init(&w, req, sizeof req);
		ipsec_sad_xfrm_build_policy(&w, XFRM_MSG_UPDPOLICY, 0, p);
		if ((rc = ipsec_sad_xfrm_nl_talk(&nl, req, w.len, NULL, NULL)) < 0) {
			printf("mn-move: policy update: %s %s\n", ctp_errname(rc), nl.kmsg);
			return 1;
		}
		printf("mn-move: policy dir %u priority %u: templates now name %s\n", p->info.dir,
		    p->info.priority, argv[2]);
	}
	ipsec_sad_xfrm_nl_close(&nl);
	free(pols);
	ipsec_sad_xfrm.close(A.sad);
	printf("mn-move: %zu SAs moved from %s to %s\n", moved, argv[1], argv[2]);
	return moved ? 0 : 1;
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && strcmp(argv[1], "test") == 0)
		return drv_test(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "dump-sa") == 0)
		return drv_dump_sa(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "dump-spd") == 0)
		return drv_dump_spd(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "encap-sock") == 0)
		return drv_encap_sock(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "mn-move") == 0)
		return drv_mn_move(argc - 2, argv + 2);
	fprintf(stderr, "usage: xfrm_drv test NS_A ADDR_A NS_B ADDR_B | dump-sa PREFIX DST SPI |"
	    " dump-spd FILE | encap-sock PORT | mn-move LOCAL OLD NEW\n");
	return 2;
}
