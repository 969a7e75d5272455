/*
 * test_ipsec_xfer.c: what the IPsec plugin does with SAs during a transfer
 * (src/features/ipsec/ipsec_xfer.h), in two layers.
 *
 *  - The operations called directly, as the engine calls them, with a fake
 *    host (addresses, peers, commands) and a fake SAD that records every
 *    call: the source (freeze before snapshot, SEQ_OUT with the margin, the
 *    profile CDB, the SGs to fetch from, the verdicts), classification-
 *    driven routing (types 1 to 5), every policy of the sink (deny,
 *    renegotiate, reassign and its review at nAR, the next candidate SG,
 *    forbid, upgrade offers, SG identity, PMTU, lifetimes, bundles), the
 *    control commands and the configuration.  Each policy test fails when
 *    the behaviour it names is taken out.
 *  - The engine end to end: six nodes on the in-memory SCTP wire (S1, S2
 *    -> PR -> NR -> S1', S2') with the real plugin logic on the mem SAD,
 *    checking where every SA is afterwards and what the MN was told.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "ctp/ctp_conf.h"
#include "ctp/ctp_engine.h"
#include "ctp/ctp_node.h"
#include "ctp/ctp_tr.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_registry.h"
#include "ctp/ctp_tlv.h"
#include "ctp/ctp_token.h"
#include "features/ipsec/ipsec_xfer.h"
#include "test.h"

/* The topology of the unit tests (IPsec CT draft figures 4 to 6):
 *   PFP  PR  S1  S2      G  RN
 *   NFP  NR  S1' S2' S2'' G  RN          (S2'' the second candidate for S2) */
#define A_MN   "192.0.2.10"
#define A_PR   "10.0.0.1"
#define A_S1   "10.0.0.2"
#define A_S2   "10.0.0.3"
#define A_NR   "10.0.1.1"
#define A_S1P  "10.0.1.2"
#define A_S2P  "10.0.1.3"
#define A_S2Q  "10.0.1.4"
#define A_G    "10.0.9.1"
#define A_RN   "10.0.9.2"
#define A_VSG  "10.0.8.8"

static struct ctp_addr
ad(const char *s)
{
	struct ctp_addr a;

	CU_ASSERT_FATAL(ctp_addr_parse(&a, s) == 0);
	return a;
}

/* ---- a fake host --------------------------------------------------------------- */

struct fhost {
	struct ctp_addr addrs[4];
	size_t          naddrs;
	struct {
		const char     *name;
		struct ctp_addr a;
	}               peers[8];
	size_t          npeers;
	struct {
		char            name[32];
		ctp_host_cmd_fn fn;
		void           *st;
	}               cmds[8];
	size_t          ncmds;
	uint64_t        now;
	char            log[16384];
	size_t          loglen;
};

static struct fhost H;

static void
fh_log(struct ctp_host *host, int level, const char *func, const char *msg)
{
	struct fhost *h = (struct fhost *)(void *)host;
	int n;

	(void)level;
	if (getenv("CTP_TEST_VERBOSE"))
		fprintf(stderr, "  [%s] %s\n", func, msg);
	n = snprintf(h->log + h->loglen, sizeof h->log - h->loglen, "%s\n", msg);
	if (n > 0 && (size_t)n < sizeof h->log - h->loglen)
		h->loglen += (size_t)n;
}

static uint64_t
fh_now(struct ctp_host *host)
{
	return ((struct fhost *)(void *)host)->now;
}

static int
fh_register(struct ctp_host *host, const char *name, ctp_host_cmd_fn fn, void *state)
{
	struct fhost *h = (struct fhost *)(void *)host;

	if (h->ncmds == 8)
		return CTP_E_LIMIT;
	snprintf(h->cmds[h->ncmds].name, sizeof h->cmds[0].name, "%s", name);
	h->cmds[h->ncmds].fn = fn;
	h->cmds[h->ncmds].st = state;
	h->ncmds++;
	return 0;
}

static size_t
fh_addrs(struct ctp_host *host, struct ctp_addr *out, size_t max)
{
	struct fhost *h = (struct fhost *)(void *)host;
	size_t i;

	for (i = 0; i < h->naddrs && i < max; i++)
		out[i] = h->addrs[i];
	return i;
}

static int
fh_peer_info(struct ctp_host *host, const char *name, struct ctp_addr *addr, unsigned *roles)
{
	struct fhost *h = (struct fhost *)(void *)host;

	for (size_t i = 0; i < h->npeers; i++)
		if (strcmp(h->peers[i].name, name) == 0) {
			if (addr)
				*addr = h->peers[i].a;
			if (roles)
				*roles = 1;
			return 0;
		}
	return CTP_E_NOTFOUND;
}

static const char *
fh_peer_by_addr(struct ctp_host *host, const struct ctp_addr *a)
{
	struct fhost *h = (struct fhost *)(void *)host;

	for (size_t i = 0; i < h->npeers; i++)
		if (ctp_addr_eq(&h->peers[i].a, a))
			return h->peers[i].name;
	return NULL;
}

static const struct ctp_host_ops fh_ops = {
	.size = sizeof(struct ctp_host_ops),
	.log = fh_log,
	.now_ms = fh_now,
	.register_cmd = fh_register,
	.node_addrs = fh_addrs,
	.peer_info = fh_peer_info,
	.peer_by_addr = fh_peer_by_addr,
};

/* This node is addr, with these peers (name, address, ...; NULL ends). */
static void
fh_reset(const char *addr, ...)
{
	va_list ap;
	const char *name;

	memset(&H, 0, sizeof H);
	H.addrs[H.naddrs++] = ad(addr);
	H.now = 100000;
	va_start(ap, addr);
	while ((name = va_arg(ap, const char *)) != NULL && H.npeers < 8) {
		H.peers[H.npeers].name = name;
		H.peers[H.npeers].a = ad(va_arg(ap, const char *));
		H.npeers++;
	}
	va_end(ap);
}

/* ---- a fake SAD that records what it is asked -------------------------------------- */

#define FAKE_MAX   64
#define FAKE_CALLS 256

struct fake_sa {
	struct ipsec_sa     sa;
	struct ipsec_sa_ref ref;
	int                 state;     /* enum ipsec_sa_state */
	uint64_t            highest;   /* what freeze reports */
};

struct fake_sad {
	struct fake_sa sa[FAKE_MAX];
	size_t         n;
	char           calls[FAKE_CALLS][48];
	size_t         ncalls;
	struct {
		uint8_t  type;
		uint16_t id;
	}              unsup[8];
	size_t         nunsup;
	uint32_t       fail_spi;   /* install refuses this SPI (0x06) */
	int            opened, closed;
};

static struct fake_sad FK;

static struct fake_sad *
fk(struct ipsec_sad *s)
{
	return (struct fake_sad *)(void *)s;
}

static void
fk_call(struct fake_sad *f, const char *op, uint32_t spi)
{
	if (f->ncalls < FAKE_CALLS)
		snprintf(f->calls[f->ncalls++], sizeof f->calls[0], "%s 0x%x", op, spi);
}

/* The index of the first call "op 0xspi", or -1. */
static int
fk_called(const char *op, uint32_t spi)
{
	char want[48];

	snprintf(want, sizeof want, "%s 0x%x", op, spi);
	for (size_t i = 0; i < FK.ncalls; i++)
		if (strcmp(FK.calls[i], want) == 0)
			return (int)i;
	return -1;
}

static struct fake_sa *
fk_find(struct fake_sad *f, const struct ipsec_sa_ref *ref)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->sa[i].ref.spi == ref->spi && f->sa[i].ref.protocol == ref->protocol &&
		    ctp_addr_eq(&f->sa[i].ref.dst, &ref->dst))
			return &f->sa[i];
	return NULL;
}

static void
fk_ref_of(const struct ipsec_sa *sa, struct ipsec_sa_ref *ref)
{
	memset(ref, 0, sizeof *ref);
	ref->spi = sa->spi;
	ref->protocol = sa->protocol;
	ref->dst = sa->direction == CTP_DIRECTION_IN ? sa->local : sa->peer;
}

static int
fk_open(const struct ctp_val *config, const struct ipsec_sad_env *env, struct ipsec_sad **out,
    struct ctp_err *err)
{
	(void)config;
	(void)env;
	(void)err;
	FK.opened++;
	*out = (struct ipsec_sad *)(void *)&FK;
	return 0;
}

static void
fk_close(struct ipsec_sad *s)
{
	fk(s)->closed++;
}

static int
fk_list(struct ipsec_sad *s, const struct ctp_addr *mn, struct ipsec_sa_ref *out, size_t max,
    size_t *n)
{
	struct fake_sad *f = fk(s);

	*n = 0;
	for (size_t i = 0; i < f->n && *n < max; i++) {
		const struct ipsec_sa *sa = &f->sa[i].sa;
		int hit = ctp_addr_eq(&sa->local, mn) || ctp_addr_eq(&sa->peer, mn);

		for (size_t k = 0; k < sa->nsel; k++)
			hit |= sa->sel[k].src_plen && ctp_addr_in_prefix(mn, &sa->sel[k].src,
			    sa->sel[k].src_plen);
		if (hit && f->sa[i].state != IPSEC_SA_QUARANTINED)
			out[(*n)++] = f->sa[i].ref;
	}
	return 0;
}

static int
fk_freeze(struct ipsec_sad *s, const struct ipsec_sa_ref *ref, uint64_t *highest)
{
	struct fake_sa *m = fk_find(fk(s), ref);

	fk_call(fk(s), "freeze", ref->spi);
	if (!m)
		return CTP_E_NOTFOUND;
	m->state = IPSEC_SA_FROZEN;
	*highest = m->highest;
	return 0;
}

static int
fk_snapshot(struct ipsec_sad *s, const struct ipsec_sa_ref *ref, struct ipsec_sa *out)
{
	struct fake_sa *m = fk_find(fk(s), ref);

	fk_call(fk(s), "snapshot", ref->spi);
	if (!m)
		return CTP_E_NOTFOUND;
	/* as the real ones: an active outbound SA cannot be copied */
	if (m->sa.direction == CTP_DIRECTION_OUT && m->state == IPSEC_SA_ACTIVE)
		return CTP_E_STATE;
	*out = m->sa;
	return 0;
}

static int
fk_install(struct ipsec_sad *s, const struct ipsec_sa *sa, struct ctp_err *err)
{
	struct fake_sad *f = fk(s);
	struct ipsec_sa_ref ref;
	int rc;

	fk_call(f, "install", sa->spi);
	if (f->fail_spi && sa->spi == f->fail_spi)
		return ctp_err_set(err, CTP_E_NOMEM, 0, CTP_ST_NO_RESOURCES, "install fails");
	fk_ref_of(sa, &ref);
	if (fk_find(f, &ref))
		return ctp_err_set(err, CTP_E_EXIST, 0, CTP_ST_IPSEC_SPI_CONFLICT, "SA exists");
	if ((rc = ipsec_sa_verify(sa, err)) < 0)
		return rc;
	if (f->n == FAKE_MAX)
		return ctp_err_set(err, CTP_E_LIMIT, 0, CTP_ST_NO_RESOURCES, "full");
	f->sa[f->n].sa = *sa;
	f->sa[f->n].ref = ref;
	f->sa[f->n].state = IPSEC_SA_ACTIVE;
	f->n++;
	return 0;
}

static int
fk_remove(struct ipsec_sad *s, const struct ipsec_sa_ref *ref)
{
	struct fake_sad *f = fk(s);
	struct fake_sa *m = fk_find(f, ref);

	fk_call(f, "remove", ref->spi);
	if (!m)
		return CTP_E_NOTFOUND;
	memmove(m, m + 1, (size_t)(f->sa + f->n - m - 1) * sizeof *m);
	f->n--;
	return 0;
}

static int
fk_thaw(struct ipsec_sad *s, const struct ipsec_sa_ref *ref)
{
	struct fake_sa *m = fk_find(fk(s), ref);

	fk_call(fk(s), "thaw", ref->spi);
	if (!m)
		return CTP_E_NOTFOUND;
	m->state = IPSEC_SA_ACTIVE;
	return 0;
}

static int
fk_quarantine(struct ipsec_sad *s, const struct ipsec_sa_ref *ref)
{
	struct fake_sa *m = fk_find(fk(s), ref);

	fk_call(fk(s), "quarantine", ref->spi);
	if (!m)
		return CTP_E_NOTFOUND;
	m->state = IPSEC_SA_QUARANTINED;
	return 0;
}

static int
fk_spi_in_use(struct ipsec_sad *s, uint32_t spi, uint8_t protocol, const struct ctp_addr *dst)
{
	struct ipsec_sa_ref ref = { .spi = spi, .protocol = protocol, .dst = *dst };

	return fk_find(fk(s), &ref) != NULL;
}

static int
fk_supports(struct ipsec_sad *s, unsigned type, unsigned id, unsigned key_bits)
{
	struct fake_sad *f = fk(s);

	(void)key_bits;
	if (!ipsec_alg_find(type, id))
		return 0;
	for (size_t i = 0; i < f->nunsup; i++)
		if (f->unsup[i].type == type && f->unsup[i].id == id)
			return 0;
	return 1;
}

static int
fk_describe(struct ipsec_sad *s, struct ctp_val *arr)
{
	struct fake_sad *f = fk(s);

	for (size_t i = 0; i < f->n; i++) {
		struct ctp_val *o = ctp_val_obj();

		ctp_val_set_u64(o, "spi", f->sa[i].sa.spi);
		ctp_val_set_u64(o, "state", (uint64_t)f->sa[i].state);
		ctp_val_arr_push(arr, o);
	}
	return 0;
}

static const struct ipsec_sad_ops fake_ops = {
	.name = "fake",
	.open = fk_open,
	.close = fk_close,
	.list = fk_list,
	.freeze = fk_freeze,
	.snapshot = fk_snapshot,
	.install = fk_install,
	.remove = fk_remove,
	.thaw = fk_thaw,
	.quarantine = fk_quarantine,
	.spi_in_use = fk_spi_in_use,
	.supports = fk_supports,
	.describe = fk_describe,
};

static void
fk_reset(void)
{
	for (size_t i = 0; i < FAKE_MAX; i++)
		ipsec_sa_clear(&FK.sa[i].sa);
	memset(&FK, 0, sizeof FK);
}

static struct fake_sa *
fk_get(uint32_t spi)
{
	for (size_t i = 0; i < FK.n; i++)
		if (FK.sa[i].sa.spi == spi)
			return &FK.sa[i];
	return NULL;
}

/* The SA, which must be there (a blank one after the failed assertion). */
static struct fake_sa *
fk_must(uint32_t spi)
{
	static struct fake_sa none;
	struct fake_sa *m = fk_get(spi);

	CU_ASSERT_PTR_NOT_NULL(m);
	return m ? m : &none;
}

/* ---- SAs ------------------------------------------------------------------------------ */

static void
fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + 7 * i + 1);
}

/* An ESP tunnel SA held at local, AES-GCM-16 (or encr/integ). */
static void
mk_sa(struct ipsec_sa *sa, uint32_t spi, uint8_t dir, const char *local, const char *peer,
    unsigned encr, unsigned bits, unsigned integ)
{
	const struct ipsec_alg *ea = ipsec_alg_find(IPSEC_ALG_ENCR, encr);

	CU_ASSERT_FATAL(ea != NULL);
	ipsec_sa_clear(sa);
	sa->spi = spi;
	sa->protocol = CTP_IPPROTO_ESP;
	sa->mode = CTP_MODE_TUNNEL;
	sa->direction = dir;
	sa->flags = IPSEC_SA_F_ESN | (dir == CTP_DIRECTION_IN ? IPSEC_SA_F_ANTI_REPLAY : 0);
	sa->family = 4;
	sa->moves = IPSEC_MOVES_LOCAL;
	sa->local = ad(local);
	sa->peer = ad(peer);
	sa->has_encr = true;
	sa->encr.id = (uint16_t)encr;
	sa->encr.key_bits = (uint16_t)bits;
	sa->encr.key_len = (uint16_t)ipsec_alg_key_octets(ea, bits);
	fill(sa->encr.key, sa->encr.key_len, (uint8_t)spi);
	if (!ea->aead) {
		const struct ipsec_alg *ia = ipsec_alg_find(IPSEC_ALG_INTEG, integ);

		CU_ASSERT_FATAL(ia != NULL);
		sa->has_integ = true;
		sa->integ.id = (uint16_t)integ;
		sa->integ.key_len = (uint16_t)ipsec_alg_key_octets(ia, ia->keys[0].bits);
		fill(sa->integ.key, sa->integ.key_len, (uint8_t)(spi + 3));
	}
	if (dir == CTP_DIRECTION_IN) {
		sa->has_replay = true;
		sa->replay.window = 64;
		sa->replay.bitmap_len = 8;
	} else {
		sa->has_seq_out = true;
		sa->seq_out.next = 1;
	}
}

static void
mk_gcm(struct ipsec_sa *sa, uint32_t spi, uint8_t dir, const char *local, const char *peer)
{
	mk_sa(sa, spi, dir, local, peer, CTP_ENCR_AES_GCM_16, 256, 0);
}

/* A selector that makes an SA between two network nodes the MN's. */
static void
sel_mn(struct ipsec_sa *sa)
{
	struct ipsec_selector *s = &sa->sel[sa->nsel++];

	s->family = 4;
	s->src = ad(A_MN);
	s->src_plen = 32;
	s->dst = ad("0.0.0.0");
}

/* Put an SA into the fake SAD as this node holds it. */
static struct fake_sa *
fk_add(const struct ipsec_sa *sa, uint64_t highest)
{
	struct fake_sa *m = &FK.sa[FK.n++];

	m->sa = *sa;
	fk_ref_of(sa, &m->ref);
	m->state = IPSEC_SA_ACTIVE;
	m->highest = highest;
	return m;
}

/* ---- CDBs and a fake engine -------------------------------------------------------------- */

struct cdbs {
	uint8_t        buf[32768];
	struct ctp_wbuf w;
	struct ctp_cdb v[64];
	size_t         n;
};

static void
cdbs_init(struct cdbs *c)
{
	memset(c, 0, sizeof *c);
	ctp_wbuf_init(&c->w, c->buf, sizeof c->buf);
}

static void
cdbs_views(struct cdbs *c)
{
	struct ctp_cur cur;

	c->n = 0;
	ctp_cur_init(&cur, c->buf, c->w.len, 0);
	while (c->n < 64 && ctp_cdb_next(&cur, 0, &c->v[c->n], NULL) == 1)
		c->n++;
}

static void
cdbs_sa(struct cdbs *c, const struct ipsec_sa *sa)
{
	CU_ASSERT_FATAL(ipsec_sa_encode(sa, &c->w) == 0);
	cdbs_views(c);
}

/* The profile pAR sends: the PFP of the data plane, and preferences. */
static void
cdbs_profile(struct cdbs *c, const char *const *pfp, const struct ipsec_profile *prefs)
{
	struct ipsec_profile p;

	memset(&p, 0, sizeof p);
	if (prefs)
		p = *prefs;
	p.path[0].present = true;
	p.path[0].family = 4;
	for (size_t i = 0; pfp[i]; i++)
		p.path[0].nodes[p.path[0].node_count++] = ad(pfp[i]);
	CU_ASSERT_FATAL(ipsec_profile_encode(&p, &c->w) == 0);
	cdbs_views(c);
}

static const char *const pfp_std[] = { A_PR, A_S1, A_S2, A_G, A_RN, NULL };

/* One sink transfer as the engine runs it (plug_view of ctp_engine.c). */
struct run {
	struct ipsec_xfer *s;
	struct cdbs       *c;
	void              *slot;
	struct ctp_xfer    x;
	struct ctp_install in;
	uint8_t            st[64];
	const char        *relay[64];
	const uint8_t     *rcdb[64];
	size_t             rlen[64];
	char               sent_to[64][32];   /* the relay of the last round */
	uint8_t            note[8192];
	struct ctp_wbuf    notify;
	int                rc;
};

static void
run_view(struct run *r, bool nar)
{
	memset(&r->in, 0, sizeof r->in);
	for (size_t i = 0; i < 64; i++) {
		r->relay[i] = NULL;
		r->rcdb[i] = NULL;
		r->rlen[i] = 0;
	}
	r->in.cdb = r->c->v;
	r->in.n = r->c->n;
	r->in.status = r->st;
	r->in.relay = r->relay;
	r->in.relay_cdb = r->rcdb;
	r->in.relay_len = r->rlen;
	r->in.notify = nar ? &r->notify : NULL;
}

static void
run_take(struct run *r)
{
	for (size_t i = 0; i < r->c->n; i++) {
		r->sent_to[i][0] = 0;
		if (r->relay[i])
			snprintf(r->sent_to[i], sizeof r->sent_to[i], "%s", r->relay[i]);
	}
}

/* install at nAR (notify) or at an SG (none) */
static void
run_install(struct run *r, struct ipsec_xfer *s, struct cdbs *c, bool nar, uint32_t elapsed)
{
	struct ctp_err err;

	memset(r, 0, sizeof *r);
	r->s = s;
	r->c = c;
	r->x.id = 0x1122334455667788ull;
	r->x.mn = ad(A_MN);
	r->x.peer = nar ? "par" : "nar";
	r->x.elapsed_ms = elapsed;
	r->x.slot = &r->slot;
	ctp_wbuf_init(&r->notify, r->note, sizeof r->note);
	run_view(r, nar);
	ctp_err_clear(&err);
	r->rc = ipsec_xfer_sink_install(s, &r->x, &r->in, &err);
	run_take(r);
}

/* The relays answered (answer[i] for each CDB relayed in the last round,
 * 0xff = not relayed): the review; its return. */
static int
run_review(struct run *r, const uint8_t *answer)
{
	struct ctp_err err;
	bool nar = r->in.notify != NULL;
	int rc;

	for (size_t i = 0; i < r->c->n; i++)
		if (r->sent_to[i][0] && answer[i] != 0xff)
			r->st[i] = answer[i];
	run_view(r, nar);
	ctp_err_clear(&err);
	rc = ipsec_xfer_sink_review(r->s, &r->x, &r->in, &err);
	run_take(r);
	return rc;
}

static void
run_done(struct run *r)
{
	ipsec_xfer_sink_done(r->s, &r->x, CTP_XFER_COMMIT, r->st, r->c->n);
	CU_ASSERT_PTR_NULL(r->slot);
}

/* The SA CDB relayed for CDB i, decoded (fatal when there is none). */
static void
run_relayed(const struct run *r, size_t i, struct ipsec_sa *sa)
{
	struct ctp_cur c;
	struct ctp_cdb cdb;
	struct ctp_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r->rcdb[i]);
	ctp_cur_init(&c, r->rcdb[i], r->rlen[i], 0);
	CU_ASSERT_FATAL(ctp_cdb_next(&c, 0, &cdb, NULL) == 1);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ipsec_sa_decode(&cdb, sa, &err), 0);
}

/* ---- the notifications, read the way an MN reads them ---------------------------------- */

/* The CTN's CDBs, each described (TLV structure only: notify-form SAs
 * carry no keys and are not installable). */
static size_t
notes(const struct ctp_wbuf *w, uint16_t *fpt, struct ctp_val **tlvs, size_t max)
{
	struct ctp_cur c;
	struct ctp_cdb cdb;
	size_t n = 0;

	ctp_cur_init(&c, w->p, w->len, 0);
	while (n < max && ctp_cdb_next(&c, 0, &cdb, NULL) == 1) {
		struct ctp_err err;

		ctp_err_clear(&err);
		fpt[n] = cdb.fpt;
		tlvs[n] = ctp_val_arr();
		CU_ASSERT_EQUAL(ctp_tlv_check(ctp_fpt_def(cdb.fpt), cdb.data, cdb.len, 0, &err), 0);
		CU_ASSERT_EQUAL(ctp_tlv_describe(ctp_fpt_def(cdb.fpt), cdb.data, cdb.len, 0, tlvs[n],
		    &err), 0);
		n++;
	}
	return n;
}

static void
notes_free(struct ctp_val **tlvs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ctp_val_free(tlvs[i]);
}

/* The TLV called name in a described list, or NULL. */
static const struct ctp_val *
tlv(const struct ctp_val *tlvs, const char *name)
{
	for (size_t i = 0; tlvs && i < tlvs->n; i++) {
		const char *t = NULL;

		if (ctp_val_get_str(tlvs->items[i], "tlv", &t, NULL) == 0 && strcmp(t, name) == 0)
			return tlvs->items[i];
	}
	return NULL;
}

static uint64_t
num(const struct ctp_val *o, const char *key)
{
	uint64_t u = UINT64_MAX;

	(void)ctp_val_get_u64(o, key, UINT64_MAX, &u, NULL);
	return u;
}

static const char *
str(const struct ctp_val *o, const char *key)
{
	const char *s = "";

	(void)ctp_val_get_str(o, key, &s, NULL);
	return s;
}

/* ---- plugin instances ------------------------------------------------------------------ */

/* A plugin instance on the fake host and SAD, configured by json. */
static struct ipsec_xfer *
xfer_new(const char *json)
{
	struct ctp_val *cfg = NULL;
	struct ipsec_xfer *s = NULL;
	struct ctp_err err;

	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_json_parse(json, strlen(json), &cfg, &err), 0);
	CU_ASSERT_EQUAL(ipsec_xfer_new(&fh_ops, (struct ctp_host *)(void *)&H, cfg, &fake_ops, &s,
	    &err), 0);
	if (!s)
		fprintf(stderr, "\n  xfer_new: %s\n", err.what);
	ctp_val_free(cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	return s;
}

/* The nAR of the unit tests: NFP NR S1' S2' S2'' G RN, S2 -> S2' (peer
 * s2p) then S2''; policy attributes as given. */
static struct ipsec_xfer *
nar_new(const char *policy, const char *extra)
{
	char json[2048];

	fh_reset(A_NR, "par", A_PR, "s1p", A_S1P, "s2p", A_S2P, "s2q", A_S2Q, NULL);
	fk_reset();
	snprintf(json, sizeof json,
	    "{\"policy\":[{%s}],"
	    "\"path\":[{\"plane\":\"data\",\"hop\":[{\"address\":\"" A_NR "\"},"
	    "{\"address\":\"" A_S1P "\",\"sg\":\"true\"},{\"address\":\"" A_S2P "\",\"sg\":\"true\"},"
	    "{\"address\":\"" A_S2Q "\",\"sg\":\"true\"},{\"address\":\"" A_G "\"},"
	    "{\"address\":\"" A_RN "\"}]}],"
	    "\"sg-replace\":[{\"local\":\"" A_S2P "\",\"remote\":\"" A_S2 "\",\"peer\":\"s2p\"},"
	    "{\"local\":\"" A_S2Q "\",\"remote\":\"" A_S2 "\"}]%s}", policy ? policy : "",
	    extra ? extra : "");
	return xfer_new(json);
}

/* An SG (no paths): installs what its AR relays. */
static struct ipsec_xfer *
sg_new(const char *addr, const char *policy)
{
	char json[512];
	struct ctp_val *cfg = NULL;
	struct ipsec_xfer *s = NULL;
	struct ctp_err err;

	fh_reset(addr, "nar", A_NR, NULL);
	fk_reset();
	snprintf(json, sizeof json, "{\"policy\":[{%s}]}", policy ? policy : "");
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_json_parse(json, strlen(json), &cfg, &err), 0);
	CU_ASSERT_EQUAL(ipsec_xfer_new(&fh_ops, (struct ctp_host *)(void *)&H, cfg, &fake_ops, &s,
	    &err), 0);
	ctp_val_free(cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	return s;
}

/* ======================================================================== */
/* The source side                                                          */
/* ======================================================================== */

/* pAR: PFP PR S1 S2 G RN, S1 and S2 SGs it collects from. */
static struct ipsec_xfer *
par_new(const char *policy)
{
	char json[1024];
	struct ctp_val *cfg = NULL;
	struct ipsec_xfer *s = NULL;
	struct ctp_err err;

	fh_reset(A_PR, "nar", A_NR, "s1", A_S1, "s2", A_S2, NULL);
	fk_reset();
	snprintf(json, sizeof json,
	    "{\"policy\":[{%s}],"
	    "\"path\":[{\"plane\":\"data\",\"hop\":[{\"address\":\"" A_PR "\"},"
	    "{\"address\":\"" A_S1 "\",\"sg\":\"true\"},{\"address\":\"" A_S2 "\",\"sg\":true},"
	    "{\"address\":\"" A_G "\"},{\"address\":\"" A_RN "\"}]},"
	    "{\"plane\":\"control\",\"hop\":[{\"address\":\"" A_PR "\"},{\"address\":\"" A_S2 "\","
	    "\"sg\":\"true\"},{\"address\":\"10.0.9.3\"}]}],"
	    "\"profile\":[{\"encr\":[{\"id\":\"ENCR_AES_GCM_16\",\"key-bits\":256}],"
	    "\"integ\":[{\"id\":12}]}]}", policy ? policy : "");
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_json_parse(json, strlen(json), &cfg, &err), 0);
	CU_ASSERT_EQUAL(ipsec_xfer_new(&fh_ops, (struct ctp_host *)(void *)&H, cfg, &fake_ops, &s,
	    &err), 0);
	if (!s)
		fprintf(stderr, "\n  par_new: %s\n", err.what);
	ctp_val_free(cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	return s;
}

struct src_run {
	struct ctp_xfer    x;
	void              *slot;
	struct ctp_collect c;
	uint8_t            buf[16384];
	struct ctp_wbuf    w;
	struct cdbs        out;
	int                rc;
};

static void
src_collect(struct src_run *r, struct ipsec_xfer *s)
{
	struct ctp_err err;

	memset(r, 0, sizeof *r);
	r->x.mn = ad(A_MN);
	r->x.peer = "nar";
	r->x.slot = &r->slot;
	ctp_wbuf_init(&r->w, r->buf, sizeof r->buf);
	r->c.out = &r->w;
	ctp_err_clear(&err);
	r->rc = ipsec_xfer_source_collect(s, &r->x, &r->c, &err);
	cdbs_init(&r->out);
	memcpy(r->out.buf, r->buf, r->w.len);
	r->out.w.len = r->w.len;
	cdbs_views(&r->out);
}

/* Freeze first, then snapshot; SEQ_OUT = max(next, highest + 1) + margin;
 * the profile with the previous paths; the SGs to fetch from. */
static void
test_collect(void)
{
	struct ipsec_xfer *s = par_new("\"seq-margin\":1000");
	struct ipsec_sa sa, got;
	struct ipsec_profile p;
	struct src_run r;
	struct ctp_err err;

	/* the MN-PR pair (type 5 collocated), and one more out SA whose
	 * snapshot's next is ahead of what the datapath reports */
	mk_gcm(&sa, 0x1001, CTP_DIRECTION_OUT, A_PR, A_MN);
	sa.seq_out.next = 100;
	fk_add(&sa, 150);
	mk_gcm(&sa, 0x1002, CTP_DIRECTION_IN, A_PR, A_MN);
	fk_add(&sa, 0);
	mk_gcm(&sa, 0x1003, CTP_DIRECTION_OUT, A_PR, A_MN);
	sa.seq_out.next = 500;
	fk_add(&sa, 20);
	mk_gcm(&sa, 0x1004, CTP_DIRECTION_OUT, A_PR, "192.0.2.99");   /* another MN's */
	fk_add(&sa, 7);
	H.now = 5000;
	src_collect(&r, s);
	CU_ASSERT_EQUAL(r.rc, 0);
	/* PROFILE 5.1: each SA stopped before it was copied */
	for (uint32_t spi = 0x1001; spi <= 0x1003; spi++) {
		CU_ASSERT(fk_called("freeze", spi) >= 0);
		CU_ASSERT(fk_called("freeze", spi) < fk_called("snapshot", spi));
	}
	CU_ASSERT_EQUAL(fk_called("freeze", 0x1004), -1);
	CU_ASSERT_EQUAL(fk_must(0x1001)->state, IPSEC_SA_FROZEN);
	CU_ASSERT_EQUAL(fk_must(0x1004)->state, IPSEC_SA_ACTIVE);
	/* the profile first, then the three SAs */
	CU_ASSERT_EQUAL_FATAL(r.out.n, 4);
	CU_ASSERT_EQUAL(r.out.v[0].fpt, CTP_FPT_IPSEC_PROFILE);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ipsec_profile_decode(&r.out.v[0], &p, &err), 0);
	CU_ASSERT(p.path[0].present && p.path[0].node_count == 5);
	CU_ASSERT(ctp_addr_eq(&p.path[0].nodes[0], &H.addrs[0]));
	CU_ASSERT(p.path[1].present && p.path[1].node_count == 3);
	CU_ASSERT(!p.path[2].present);
	CU_ASSERT(p.nencr == 1 && p.encr[0].id == CTP_ENCR_AES_GCM_16 && p.ninteg == 1);
	ipsec_profile_clear(&p);
	CU_ASSERT_EQUAL_FATAL(ipsec_sa_decode(&r.out.v[1], &got, &err), 0);
	CU_ASSERT_EQUAL(got.spi, 0x1001);
	CU_ASSERT(got.has_seq_out);
	CU_ASSERT_EQUAL(got.seq_out.next, 151 + 1000);   /* highest + 1 > next */
	CU_ASSERT_EQUAL(got.seq_out.margin, 1000);
	CU_ASSERT_EQUAL(got.sa_type, 0);
	CU_ASSERT_EQUAL(got.moves, IPSEC_MOVES_LOCAL);
	CU_ASSERT(got.has_snapshot_age);
	CU_ASSERT_EQUAL_FATAL(ipsec_sa_decode(&r.out.v[2], &got, &err), 0);
	CU_ASSERT_EQUAL(got.spi, 0x1002);
	CU_ASSERT(!got.has_seq_out);
	CU_ASSERT_EQUAL_FATAL(ipsec_sa_decode(&r.out.v[3], &got, &err), 0);
	CU_ASSERT_EQUAL(got.seq_out.next, 500 + 1000);   /* the snapshot's next wins */
	ipsec_sa_clear(&got);
	CU_ASSERT_EQUAL(r.c.keys, 1);
	/* S1 and S2 (S2 on two planes: asked once) */
	CU_ASSERT_EQUAL_FATAL(r.c.nfetch, 2);
	CU_ASSERT_STRING_EQUAL(r.c.fetch[0].peer, "s1");
	CU_ASSERT_STRING_EQUAL(r.c.fetch[1].peer, "s2");
	CU_ASSERT_EQUAL(r.c.fetch[0].fpt, CTP_FPT_IPSEC_SA);
	ipsec_xfer_source_done(s, &r.x, CTP_XFER_ABORT_CLEAN, NULL, 0);
	CU_ASSERT_PTR_NULL(r.slot);
	CU_ASSERT_EQUAL(fk_must(0x1001)->state, IPSEC_SA_ACTIVE);
	ipsec_sa_clear(&sa);
	ipsec_xfer_free(s);
	CU_ASSERT_EQUAL(FK.closed, 1);
}

/* An SG asked by its AR: SAs only, no profile, nothing to fetch. */
static void
test_collect_sg(void)
{
	struct ipsec_xfer *s = sg_new(A_S2, "\"seq-margin\":0");
	struct ipsec_sa sa, got;
	struct src_run r;
	struct ctp_err err;

	mk_gcm(&sa, 0x2001, CTP_DIRECTION_OUT, A_S2, A_MN);
	sa.seq_out.next = 42;
	fk_add(&sa, 41);
	src_collect(&r, s);
	CU_ASSERT_EQUAL_FATAL(r.out.n, 1);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ipsec_sa_decode(&r.out.v[0], &got, &err), 0);
	CU_ASSERT_EQUAL(got.seq_out.next, 42);
	CU_ASSERT_EQUAL(got.seq_out.margin, 0);
	CU_ASSERT_EQUAL(r.c.nfetch, 0);
	ipsec_xfer_source_done(s, &r.x, CTP_XFER_COMMIT, (const uint8_t[]){ 0 }, 1);
	CU_ASSERT_EQUAL(FK.n, 0);
	ipsec_sa_clear(&sa);
	ipsec_sa_clear(&got);
	ipsec_xfer_free(s);
}

/* The verdicts: commit -> remove, refusal -> thaw, no verdict ->
 * quarantine (and the log says the MN must re-key). */
static void
test_source_done(void)
{
	struct ipsec_xfer *s = par_new(NULL);
	struct ipsec_sa sa;
	struct src_run r;
	/* the profile, then 0x3001..0x3005 */
	static const uint8_t st[] = { 0x00, 0x00, 0x81, 0x07, 0x8A, 0x04 };

	for (uint32_t spi = 0x3001; spi <= 0x3005; spi++) {
		mk_gcm(&sa, spi, CTP_DIRECTION_OUT, A_PR, A_MN);
		fk_add(&sa, 10);
	}
	src_collect(&r, s);
	CU_ASSERT_EQUAL_FATAL(r.out.n, 6);
	ipsec_xfer_source_done(s, &r.x, CTP_XFER_ABORT_CLEAN, st, sizeof st);
	CU_ASSERT_PTR_NULL(fk_get(0x3001));                         /* committed */
	CU_ASSERT_PTR_NULL(fk_get(0x3002));                         /* 0x81 commits too */
	CU_ASSERT_EQUAL(fk_must(0x3003)->state, IPSEC_SA_ACTIVE);     /* cancelled */
	CU_ASSERT_EQUAL(fk_must(0x3004)->state, IPSEC_SA_ACTIVE);     /* 0x8A left in place */
	CU_ASSERT_EQUAL(fk_must(0x3005)->state, IPSEC_SA_QUARANTINED); /* timed out */
	CU_ASSERT(fk_called("thaw", 0x3004) > fk_called("freeze", 0x3004));
	CU_ASSERT_PTR_NOT_NULL(strstr(H.log, "quarantined, the MN must re-key it"));
	/* the CDBs never left (no statuses): everything resumes */
	src_collect(&r, s);
	CU_ASSERT_EQUAL(fk_must(0x3003)->state, IPSEC_SA_FROZEN);
	ipsec_xfer_source_done(s, &r.x, CTP_XFER_COMMIT, NULL, 0);
	CU_ASSERT_EQUAL(fk_must(0x3003)->state, IPSEC_SA_ACTIVE);
	CU_ASSERT_EQUAL(fk_must(0x3004)->state, IPSEC_SA_ACTIVE);
	ipsec_sa_clear(&sa);
	ipsec_xfer_free(s);
}

/* ======================================================================== */
/* The sink side: where SAs go                                              */
/* ======================================================================== */

static const uint8_t all_ok[64];   /* every relay answered 0 */

static void
answers(uint8_t *a, uint8_t v)
{
	memset(a, v, 64);
}

/* Type 5 (figure 6): the MN's SAs with S2 go to S2' (sg-replace), rewritten
 * from the new holder's view; the MN learns the new SG (direct identity). */
static void
test_route_type5(void)
{
	struct ipsec_xfer *s = nar_new(NULL, NULL);
	struct ctp_addr s2p = ad(A_S2P), mn = ad(A_MN);
	struct ipsec_sa sa;
	struct ctp_val *t[8];
	uint16_t fpt[8];
	struct cdbs c;
	struct run r;
	size_t n;

	cdbs_init(&c);
	cdbs_profile(&c, pfp_std, NULL);
	mk_gcm(&sa, 0x5001, CTP_DIRECTION_IN, A_S2, A_MN);
	cdbs_sa(&c, &sa);
	mk_gcm(&sa, 0x5002, CTP_DIRECTION_OUT, A_S2, A_MN);
	sa.seq_out.next = 16385;
	sa.seq_out.margin = 16384;
	cdbs_sa(&c, &sa);
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_EQUAL(r.rc, 0);
	CU_ASSERT_EQUAL(r.st[0], 0);                     /* the profile: taken */
	CU_ASSERT_STRING_EQUAL(r.sent_to[1], "s2p");
	CU_ASSERT_STRING_EQUAL(r.sent_to[2], "s2p");
	CU_ASSERT_EQUAL(r.in.relay_keys, 1);
	CU_ASSERT_EQUAL(FK.n, 0);                        /* nothing installed here */
	run_relayed(&r, 1, &sa);
	CU_ASSERT(ctp_addr_eq(&sa.local, &s2p));
	CU_ASSERT(ctp_addr_eq(&sa.peer, &mn));
	CU_ASSERT_EQUAL(sa.sa_type, CTP_SA_TYPE_TYPE5);
	CU_ASSERT_EQUAL(sa.moves, IPSEC_MOVES_LOCAL);
	CU_ASSERT_EQUAL(sa.spi, 0x5001);
	CU_ASSERT_EQUAL(sa.direction, CTP_DIRECTION_IN);
	run_relayed(&r, 2, &sa);
	CU_ASSERT_EQUAL(sa.seq_out.next, 16385);         /* the sink starts there */
	/* the MN hears of both, from its side */
	n = notes(&r.notify, fpt, t, 8);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(fpt[0], CTP_FPT_IPSEC_SA);
	CU_ASSERT_EQUAL(num(tlv(t[0], "SA_ID"), "spi"), 0x5001);
	CU_ASSERT_EQUAL(num(tlv(t[0], "SA_ID"), "direction"), CTP_DIRECTION_OUT);
	CU_ASSERT_STRING_EQUAL(str(tlv(t[0], "ENDPOINTS"), "local_addr"), A_MN);
	CU_ASSERT_STRING_EQUAL(str(tlv(t[0], "ENDPOINTS"), "peer_addr"), A_S2P);
	CU_ASSERT_EQUAL(num(tlv(t[0], "ENDPOINTS"), "moves"), IPSEC_MOVES_PEER);
	CU_ASSERT_PTR_NULL(tlv(t[0], "ENCR"));           /* never keys */
	CU_ASSERT_PTR_NULL(tlv(t[0], "PREV_SPI"));
	CU_ASSERT_EQUAL(num(tlv(t[1], "SA_ID"), "direction"), CTP_DIRECTION_IN);
	notes_free(t, n);
	CU_ASSERT_EQUAL(run_review(&r, all_ok), 0);
	CU_ASSERT_EQUAL(r.st[1], 0);
	CU_ASSERT_EQUAL(r.st[2], 0);
	n = notes(&r.notify, fpt, t, 8);
	CU_ASSERT_EQUAL(n, 2);
	notes_free(t, n);
	run_done(&r);

	/* S2' could not even be sent to (0x85, no review): the MN hears
	 * nothing of SAs that stay at S2 */
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_NOT_EQUAL(r.notify.len, 0);
	r.st[1] = r.st[2] = CTP_ST_IPSEC_UNREACHABLE;
	run_done(&r);
	CU_ASSERT_EQUAL(r.notify.len, 0);
	/* ... but a relay that never answered keeps its word: the source
	 * quarantines its copy, the new SG may hold it */
	run_install(&r, s, &c, true, 0);
	r.st[1] = r.st[2] = CTP_ST_TIMED_OUT;
	ipsec_xfer_sink_done(s, &r.x, CTP_XFER_ABORT_UNKNOWN, r.st, c.n);
	n = notes(&r.notify, fpt, t, 8);
	CU_ASSERT_EQUAL(n, 2);
	notes_free(t, n);
	ipsec_sa_clear(&sa);
	ipsec_xfer_free(s);
}

/* Type 3, S1 collocated with PR: S1' is NR itself (draft 5.2): installed
 * here with NR as its local end.  Nothing for the MN: not its SA. */
static void
test_route_type3_collocated(void)
{
	struct ipsec_xfer *s = nar_new(NULL, NULL);
	struct ctp_addr nr = ad(A_NR), rn = ad(A_RN);
	struct ipsec_sa sa;
	struct fake_sa *m;
	struct cdbs c;
	struct run r;

	cdbs_init(&c);
	cdbs_profile(&c, pfp_std, NULL);
	mk_gcm(&sa, 0x5101, CTP_DIRECTION_IN, A_PR, A_RN);
	sel_mn(&sa);
	cdbs_sa(&c, &sa);
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_EQUAL(r.st[1], 0);
	CU_ASSERT_STRING_EQUAL(r.sent_to[1], "");
	m = fk_must(0x5101);
	CU_ASSERT(ctp_addr_eq(&m->sa.local, &nr));
	CU_ASSERT(ctp_addr_eq(&m->sa.peer, &rn));
	CU_ASSERT(ctp_addr_eq(&m->ref.dst, &nr));
	CU_ASSERT_EQUAL(m->sa.sa_type, CTP_SA_TYPE_TYPE3);
	CU_ASSERT_EQUAL(r.notify.len, 0);
	run_done(&r);
	ipsec_sa_clear(&sa);
	ipsec_xfer_free(s);
}

/* Type 4 (figure 5): both copies go, S1's to S1', S2's to S2', each with
 * its peer's new address; a pair fails together. */
static void
test_route_type4_pair(void)
{
	struct ipsec_xfer *s = nar_new(NULL, NULL);
	struct ctp_addr s1p = ad(A_S1P), s2p = ad(A_S2P);
	struct ipsec_sa sa;
	struct cdbs c;
	struct run r;

	cdbs_init(&c);
	cdbs_profile(&c, pfp_std, NULL);
	mk_gcm(&sa, 0x5201, CTP_DIRECTION_OUT, A_S1, A_S2);   /* the copy at S1 */
	sel_mn(&sa);
	cdbs_sa(&c, &sa);
	mk_gcm(&sa, 0x5201, CTP_DIRECTION_IN, A_S2, A_S1);    /* the copy at S2 */
	sel_mn(&sa);
	cdbs_sa(&c, &sa);
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_STRING_EQUAL(r.sent_to[1], "s1p");
	CU_ASSERT_STRING_EQUAL(r.sent_to[2], "s2p");
	run_relayed(&r, 1, &sa);
	CU_ASSERT(ctp_addr_eq(&sa.local, &s1p) && ctp_addr_eq(&sa.peer, &s2p));
	CU_ASSERT_EQUAL(sa.sa_type, CTP_SA_TYPE_TYPE4);
	CU_ASSERT_EQUAL(sa.moves, IPSEC_MOVES_LOCAL | IPSEC_MOVES_PEER);
	CU_ASSERT_EQUAL(sa.direction, CTP_DIRECTION_OUT);
	run_relayed(&r, 2, &sa);
	CU_ASSERT(ctp_addr_eq(&sa.local, &s2p) && ctp_addr_eq(&sa.peer, &s1p));
	CU_ASSERT_EQUAL(sa.moves, IPSEC_MOVES_LOCAL | IPSEC_MOVES_PEER);
	CU_ASSERT_EQUAL(sa.direction, CTP_DIRECTION_IN);
	CU_ASSERT_EQUAL(r.notify.len, 0);
	run_done(&r);
	ipsec_xfer_free(s);

	/* S2' unreachable: its copy 0x85, and S1's stays too (0x82) */
	s = nar_new(NULL, NULL);
	H.npeers = 2;   /* par, s1p */
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_EQUAL(r.st[2], CTP_ST_IPSEC_UNREACHABLE);
	CU_ASSERT_EQUAL(r.st[1], CTP_ST_IPSEC_RENEGOTIATE);
	CU_ASSERT_PTR_NULL(r.relay[1]);
	CU_ASSERT_PTR_NULL(r.relay[2]);
	run_done(&r);
	ipsec_sa_clear(&sa);
	ipsec_xfer_free(s);
}

/* Types 1 and 2 (figures 2, 3): nothing moves, 0x8A, and a copy whose
 * holder stays (S2 beyond G) stays too; the type 3 copy at S1 moves. */
static void
test_route_types_1_2(void)
{
	struct ipsec_xfer *s;
	struct ipsec_sa sa;
	struct cdbs c;
	struct run r;

	/* the NFP rejoins the PFP at S2: G = S2 */
	fh_reset(A_NR, "par", A_PR, "s1p", A_S1P, "s2", A_S2, NULL);
	fk_reset();
	s = xfer_new("{\"path\":[{\"plane\":\"data\",\"hop\":[{\"address\":\"" A_NR "\"},"
	    "{\"address\":\"" A_S1P "\"},{\"address\":\"" A_S2 "\"},{\"address\":\"" A_G "\"},"
	    "{\"address\":\"" A_RN "\"}]}]}");
	cdbs_init(&c);
	cdbs_profile(&c, pfp_std, NULL);
	mk_gcm(&sa, 0x5301, CTP_DIRECTION_IN, A_S2, A_MN);       /* type 2 */
	cdbs_sa(&c, &sa);
	mk_gcm(&sa, 0x5302, CTP_DIRECTION_OUT, A_S2, A_RN);      /* type 1 */
	sel_mn(&sa);
	cdbs_sa(&c, &sa);
	mk_gcm(&sa, 0x5303, CTP_DIRECTION_OUT, A_S1, A_S2);      /* type 3, at S1 */
	sel_mn(&sa);
	cdbs_sa(&c, &sa);
	mk_gcm(&sa, 0x5303, CTP_DIRECTION_IN, A_S2, A_S1);       /* ... its copy at S2 */
	sel_mn(&sa);
	cdbs_sa(&c, &sa);
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_EQUAL(r.st[1], CTP_ST_IPSEC_LEFT_IN_PLACE);
	CU_ASSERT_EQUAL(r.st[2], CTP_ST_IPSEC_LEFT_IN_PLACE);
	CU_ASSERT_STRING_EQUAL(r.sent_to[3], "s1p");
	CU_ASSERT_EQUAL(r.st[4], CTP_ST_IPSEC_LEFT_IN_PLACE);
	CU_ASSERT_PTR_NULL(r.relay[1]);
	CU_ASSERT_PTR_NULL(r.relay[2]);
	CU_ASSERT_PTR_NULL(r.relay[4]);
	run_relayed(&r, 3, &sa);
	CU_ASSERT_EQUAL(sa.sa_type, CTP_SA_TYPE_TYPE3);
	CU_ASSERT_EQUAL(FK.n, 0);
	/* and its source resumes them (0x8A is a clean refusal) */
	CU_ASSERT_EQUAL(ctp_xfer_status_outcome(CTP_ST_IPSEC_LEFT_IN_PLACE), CTP_XFER_ABORT_CLEAN);
	run_done(&r);
	ipsec_sa_clear(&sa);
	ipsec_xfer_free(s);
}

/* Without a profile nAR takes pAR for the whole previous path: pAR's own
 * SAs of the MN come to nAR, an SG's cannot be placed (0x82). */
static void
test_route_no_profile(void)
{
	struct ipsec_xfer *s = nar_new(NULL, NULL);
	struct ctp_addr nr = ad(A_NR);
	struct ipsec_sa sa;
	struct cdbs c;
	struct run r;

	cdbs_init(&c);
	mk_gcm(&sa, 0x5401, CTP_DIRECTION_IN, A_PR, A_MN);
	cdbs_sa(&c, &sa);
	mk_gcm(&sa, 0x5402, CTP_DIRECTION_IN, A_S2, A_MN);
	cdbs_sa(&c, &sa);
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_EQUAL(r.st[0], 0);
	CU_ASSERT(ctp_addr_eq(&fk_must(0x5401)->sa.local, &nr));
	CU_ASSERT_EQUAL(r.st[1], CTP_ST_IPSEC_RENEGOTIATE);
	run_done(&r);
	ipsec_sa_clear(&sa);
	ipsec_xfer_free(s);
}

/* ======================================================================== */
/* The sink side: the policies                                              */
/* ======================================================================== */

/* The MN-PR SA of figure 9 (type 5 collocated): it comes to NR itself. */
static void
cdbs_mn_pr(struct cdbs *c, uint32_t spi, const struct ipsec_profile *prefs)
{
	struct ipsec_sa sa;

	cdbs_init(c);
	cdbs_profile(c, pfp_std, prefs);
	mk_gcm(&sa, spi, CTP_DIRECTION_IN, A_PR, A_MN);
	cdbs_sa(c, &sa);
	ipsec_sa_clear(&sa);
}

/* Someone else's SA at NR with the same SPI (the lookup triple). */
static void
taken_at(uint32_t spi, const char *where)
{
	struct ipsec_sa sa;

	mk_gcm(&sa, spi, CTP_DIRECTION_IN, where, "192.0.2.77");
	fk_add(&sa, 0);
	ipsec_sa_clear(&sa);
}

static void
test_spi_deny(void)
{
	struct ipsec_xfer *s = nar_new("\"spi-conflict\":\"deny\"", NULL);
	struct cdbs c;
	struct run r;

	cdbs_mn_pr(&c, 0x6001, NULL);
	taken_at(0x6001, A_NR);
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_EQUAL(r.st[1], CTP_ST_IPSEC_SPI_CONFLICT);
	CU_ASSERT_EQUAL(FK.n, 1);
	CU_ASSERT_EQUAL(fk_called("install", 0x6001), -1);
	CU_ASSERT_EQUAL(r.notify.len, 0);
	run_done(&r);
	ipsec_xfer_free(s);
}

static void
test_spi_renegotiate(void)
{
	struct ipsec_xfer *s = nar_new("\"spi-conflict\":\"renegotiate\"", NULL);
	struct cdbs c;
	struct run r;

	cdbs_mn_pr(&c, 0x6002, NULL);
	taken_at(0x6002, A_NR);
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_EQUAL(r.st[1], CTP_ST_IPSEC_RENEGOTIATE);
	CU_ASSERT_EQUAL(FK.n, 1);
	run_done(&r);
	ipsec_xfer_free(s);
}

/* nAR reassigns: a new SPI, 0x81, and the MN told with PREV_SPI. */
static void
test_spi_reassign(void)
{
	struct ipsec_xfer *s = nar_new("\"spi-conflict\":\"reassign\"", NULL);
	struct ctp_addr nr = ad(A_NR);
	struct ctp_val *t[8];
	uint16_t fpt[8];
	struct fake_sa *m = NULL;
	struct cdbs c;
	struct run r;
	size_t n;

	cdbs_mn_pr(&c, 0x6003, NULL);
	taken_at(0x6003, A_NR);
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_EQUAL(r.st[1], CTP_ST_IPSEC_SPI_REASSIGNED);
	CU_ASSERT_EQUAL_FATAL(FK.n, 2);
	m = &FK.sa[1];
	CU_ASSERT(m->sa.spi != 0x6003 && m->sa.spi >= 256);
	CU_ASSERT(ctp_addr_eq(&m->sa.local, &nr));
	n = notes(&r.notify, fpt, t, 8);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_EQUAL(num(tlv(t[0], "SA_ID"), "spi"), m->sa.spi);
	CU_ASSERT_EQUAL(num(tlv(t[0], "SA_ID"), "direction"), CTP_DIRECTION_OUT);
	CU_ASSERT_EQUAL(num(tlv(t[0], "PREV_SPI"), "prev_spi"), 0x6003);
	CU_ASSERT_STRING_EQUAL(str(tlv(t[0], "ENDPOINTS"), "peer_addr"), A_NR);
	notes_free(t, n);
	run_done(&r);
	ipsec_xfer_free(s);
}

/* A relay sink cannot tell the MN: reassign is deny there (0x80); nAR's
 * review reassigns, sends it again, and tells the MN once it is in. */
static void
test_spi_reassign_review(void)
{
	struct ipsec_xfer *s = sg_new(A_S2P, "\"spi-conflict\":\"reassign\"");
	struct ipsec_sa sa;
	struct ctp_val *t[8];
	uint16_t fpt[8];
	uint8_t ans[64];
	struct cdbs c;
	struct run r;
	size_t n;
	uint32_t spi;

	/* at S2', as NR relays it */
	cdbs_init(&c);
	mk_gcm(&sa, 0x6101, CTP_DIRECTION_IN, A_S2P, A_MN);
	sa.sa_type = CTP_SA_TYPE_TYPE5;
	cdbs_sa(&c, &sa);
	taken_at(0x6101, A_S2P);
	run_install(&r, s, &c, false, 0);
	CU_ASSERT_EQUAL(r.st[0], CTP_ST_IPSEC_SPI_CONFLICT);
	CU_ASSERT_EQUAL(FK.n, 1);
	run_done(&r);
	ipsec_xfer_free(s);

	/* at nAR */
	s = nar_new("\"spi-conflict\":\"reassign\"", NULL);
	cdbs_init(&c);
	cdbs_profile(&c, pfp_std, NULL);
	mk_gcm(&sa, 0x6101, CTP_DIRECTION_IN, A_S2, A_MN);
	cdbs_sa(&c, &sa);
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_STRING_EQUAL(r.sent_to[1], "s2p");
	answers(ans, 0xff);
	ans[1] = CTP_ST_IPSEC_SPI_CONFLICT;
	CU_ASSERT_EQUAL(run_review(&r, ans), 1);
	CU_ASSERT_STRING_EQUAL(r.sent_to[1], "s2p");
	run_relayed(&r, 1, &sa);
	spi = sa.spi;
	CU_ASSERT(spi != 0x6101 && spi >= 256);
	/* only the new SPI's notification: the first one was taken back */
	n = notes(&r.notify, fpt, t, 8);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_EQUAL(num(tlv(t[0], "SA_ID"), "spi"), spi);
	CU_ASSERT_EQUAL(num(tlv(t[0], "PREV_SPI"), "prev_spi"), 0x6101);
	CU_ASSERT_STRING_EQUAL(str(tlv(t[0], "ENDPOINTS"), "peer_addr"), A_S2P);
	notes_free(t, n);
	ans[1] = 0;
	CU_ASSERT_EQUAL(run_review(&r, ans), 0);
	CU_ASSERT_EQUAL(r.st[1], CTP_ST_IPSEC_SPI_REASSIGNED);
	n = notes(&r.notify, fpt, t, 8);
	CU_ASSERT_EQUAL(n, 1);
	notes_free(t, n);
	run_done(&r);
	ipsec_xfer_free(s);

	/* deny at nAR: the refusal stands, and the MN hears nothing */
	s = nar_new("\"spi-conflict\":\"deny\"", NULL);
	run_install(&r, s, &c, true, 0);
	ans[1] = CTP_ST_IPSEC_SPI_CONFLICT;
	CU_ASSERT_EQUAL(run_review(&r, ans), 0);
	CU_ASSERT_EQUAL(r.st[1], CTP_ST_IPSEC_SPI_CONFLICT);
	CU_ASSERT_EQUAL(r.notify.len, 0);
	run_done(&r);
	ipsec_sa_clear(&sa);
	ipsec_xfer_free(s);
}

/* 0x83 at S2': the next candidate for S2 (S2''), then 0x84 when it too
 * refuses; the MN is told only where the SA is. */
static void
test_alg_next_candidate(void)
{
	struct ipsec_xfer *s = nar_new(NULL, NULL);
	struct ctp_addr s2q = ad(A_S2Q);
	struct ipsec_sa sa;
	struct ctp_val *t[8];
	uint16_t fpt[8];
	uint8_t ans[64];
	struct cdbs c;
	struct run r;
	size_t n;

	cdbs_init(&c);
	cdbs_profile(&c, pfp_std, NULL);
	mk_gcm(&sa, 0x6201, CTP_DIRECTION_IN, A_S2, A_MN);
	cdbs_sa(&c, &sa);
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_STRING_EQUAL(r.sent_to[1], "s2p");
	answers(ans, 0xff);
	ans[1] = CTP_ST_IPSEC_ALG_UNSUPPORTED;
	CU_ASSERT_EQUAL(run_review(&r, ans), 1);
	CU_ASSERT_STRING_EQUAL(r.sent_to[1], "s2q");
	run_relayed(&r, 1, &sa);
	CU_ASSERT(ctp_addr_eq(&sa.local, &s2q));
	n = notes(&r.notify, fpt, t, 8);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_STRING_EQUAL(str(tlv(t[0], "ENDPOINTS"), "peer_addr"), A_S2Q);
	notes_free(t, n);
	CU_ASSERT_EQUAL(run_review(&r, ans), 0);
	CU_ASSERT_EQUAL(r.st[1], CTP_ST_IPSEC_NO_CANDIDATE);
	CU_ASSERT_EQUAL(r.notify.len, 0);
	run_done(&r);
	ipsec_xfer_free(s);

	/* success at the second candidate */
	s = nar_new(NULL, NULL);
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_EQUAL(run_review(&r, ans), 1);
	CU_ASSERT_EQUAL(run_review(&r, all_ok), 0);
	CU_ASSERT_EQUAL(r.st[1], 0);
	n = notes(&r.notify, fpt, t, 8);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_STRING_EQUAL(str(tlv(t[0], "ENDPOINTS"), "peer_addr"), A_S2Q);
	notes_free(t, n);
	run_done(&r);
	ipsec_xfer_free(s);

	/* one candidate only: 0x84 at once */
	fh_reset(A_NR, "par", A_PR, "s2p", A_S2P, NULL);
	fk_reset();
	s = xfer_new("{\"path\":[{\"plane\":\"data\",\"hop\":[{\"address\":\"" A_NR "\"},"
	    "{\"address\":\"" A_S1P "\"},{\"address\":\"" A_S2P "\"},{\"address\":\"" A_G "\"},"
	    "{\"address\":\"" A_RN "\"}]}],\"sg-replace\":[{\"local\":\"" A_S2P "\",\"remote\":\""
	    A_S2 "\"}]}");
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_STRING_EQUAL(r.sent_to[1], "s2p");
	CU_ASSERT_EQUAL(run_review(&r, ans), 0);
	CU_ASSERT_EQUAL(r.st[1], CTP_ST_IPSEC_NO_CANDIDATE);
	run_done(&r);
	ipsec_sa_clear(&sa);
	ipsec_xfer_free(s);
}

/* The algorithm is forbidden here (0x89) or missing (0x83). */
static void
test_forbid_and_unsupported(void)
{
	struct ipsec_xfer *s = nar_new("\"forbid\":\"ENCR_AES_CBC\"", NULL);
	struct ipsec_sa sa;
	struct cdbs c;
	struct run r;

	cdbs_init(&c);
	cdbs_profile(&c, pfp_std, NULL);
	mk_sa(&sa, 0x6301, CTP_DIRECTION_IN, A_PR, A_MN, CTP_ENCR_AES_CBC, 256,
	    CTP_INTEG_HMAC_SHA2_256_128);
	cdbs_sa(&c, &sa);
	mk_gcm(&sa, 0x6302, CTP_DIRECTION_IN, A_PR, A_MN);
	cdbs_sa(&c, &sa);
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_EQUAL(r.st[1], CTP_ST_IPSEC_POLICY);
	CU_ASSERT_EQUAL(r.st[2], 0);
	CU_ASSERT_PTR_NULL(fk_get(0x6301));
	CU_ASSERT_PTR_NOT_NULL(fk_get(0x6302));
	run_done(&r);
	ipsec_xfer_free(s);

	s = nar_new(NULL, NULL);
	FK.unsup[FK.nunsup].type = IPSEC_ALG_ENCR;
	FK.unsup[FK.nunsup++].id = CTP_ENCR_AES_GCM_16;
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_EQUAL(r.st[1], 0);
	CU_ASSERT_EQUAL(r.st[2], CTP_ST_IPSEC_ALG_UNSUPPORTED);
	CU_ASSERT_PTR_NULL(fk_get(0x6302));
	run_done(&r);
	ipsec_sa_clear(&sa);
	ipsec_xfer_free(s);
}

/* The user prefers what NR can do over what the SA uses: an offer follows
 * the SA's notification; the SA itself moves unchanged. */
static void
test_upgrade_offer(void)
{
	struct ipsec_xfer *s = nar_new(NULL, NULL);
	struct ipsec_profile prefs;
	struct ipsec_sa sa;
	struct ctp_val *t[8];
	uint16_t fpt[8];
	struct cdbs c;
	struct run r;
	size_t n;

	memset(&prefs, 0, sizeof prefs);
	prefs.encr[prefs.nencr++] = (struct ipsec_encr_pref){ CTP_ENCR_CHACHA20_POLY1305, 256, 0 };
	prefs.encr[prefs.nencr++] = (struct ipsec_encr_pref){ CTP_ENCR_AES_GCM_16, 256, 0 };
	prefs.encr[prefs.nencr++] = (struct ipsec_encr_pref){ CTP_ENCR_AES_CBC, 256, 0 };
	prefs.integ[prefs.ninteg++] = (struct ipsec_integ_pref){ CTP_INTEG_HMAC_SHA2_512_256, 0 };
	prefs.integ[prefs.ninteg++] = (struct ipsec_integ_pref){ CTP_INTEG_HMAC_SHA1_96, 0 };
	cdbs_init(&c);
	cdbs_profile(&c, pfp_std, &prefs);
	mk_sa(&sa, 0x6401, CTP_DIRECTION_IN, A_PR, A_MN, CTP_ENCR_AES_CBC, 256,
	    CTP_INTEG_HMAC_SHA1_96);
	cdbs_sa(&c, &sa);
	FK.unsup[FK.nunsup].type = IPSEC_ALG_ENCR;   /* NR cannot run ChaCha20 */
	FK.unsup[FK.nunsup++].id = CTP_ENCR_CHACHA20_POLY1305;
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_EQUAL(r.st[1], 0);
	CU_ASSERT_EQUAL(fk_must(0x6401)->sa.encr.id, CTP_ENCR_AES_CBC);
	n = notes(&r.notify, fpt, t, 8);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(fpt[0], CTP_FPT_IPSEC_SA);
	CU_ASSERT_EQUAL(num(tlv(t[0], "SA_ID"), "spi"), 0x6401);
	CU_ASSERT_EQUAL(fpt[1], CTP_FPT_IPSEC_PROFILE);
	CU_ASSERT_EQUAL_FATAL(t[1]->n, 2);   /* one ENCR_PREF, one INTEG_PREF */
	CU_ASSERT_EQUAL(num(tlv(t[1], "ENCR_PREF"), "id"), CTP_ENCR_AES_GCM_16);
	CU_ASSERT_EQUAL(num(tlv(t[1], "ENCR_PREF"), "key_bits"), 256);
	CU_ASSERT_EQUAL(num(tlv(t[1], "INTEG_PREF"), "id"), CTP_INTEG_HMAC_SHA2_512_256);
	notes_free(t, n);
	run_done(&r);
	ipsec_xfer_free(s);

	/* offer-upgrade="false": the SA's notification only */
	s = nar_new("\"offer-upgrade\":\"false\"", NULL);
	run_install(&r, s, &c, true, 0);
	n = notes(&r.notify, fpt, t, 8);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(fpt[0], CTP_FPT_IPSEC_SA);
	notes_free(t, n);
	run_done(&r);
	ipsec_sa_clear(&sa);
	ipsec_xfer_free(s);
}

/* Direct SG communication: the MN learns its new SG; indirect (policy or a
 * VIRTUAL_SG TLV): the virtual address stays the SA's end, no notify. */
static void
test_sg_identity(void)
{
	struct ipsec_xfer *s = nar_new("\"sg-identity\":\"direct\"", NULL);
	struct ctp_addr vsg = ad(A_VSG);
	struct ipsec_sa sa;
	struct ctp_val *t[8];
	uint16_t fpt[8];
	struct cdbs c;
	struct run r;
	size_t n;

	cdbs_mn_pr(&c, 0x6501, NULL);
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_EQUAL(r.st[1], 0);
	n = notes(&r.notify, fpt, t, 8);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_STRING_EQUAL(str(tlv(t[0], "ENDPOINTS"), "peer_addr"), A_NR);
	CU_ASSERT_EQUAL(num(tlv(t[0], "ENDPOINTS"), "moves"), IPSEC_MOVES_PEER);
	CU_ASSERT_EQUAL(num(tlv(t[0], "ENDPOINTS"), "sa_type"), CTP_SA_TYPE_TYPE5);
	notes_free(t, n);
	run_done(&r);
	ipsec_xfer_free(s);

	s = nar_new("\"sg-identity\":\"indirect\"", NULL);
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_EQUAL(r.st[1], 0);
	CU_ASSERT_EQUAL(r.notify.len, 0);
	run_done(&r);
	ipsec_xfer_free(s);

	/* a VIRTUAL_SG SA held at S2 (its real address on the way): at S2' the
	 * virtual address is its local end again, and the MN needs no word */
	s = nar_new("\"sg-identity\":\"direct\"", NULL);
	cdbs_init(&c);
	cdbs_profile(&c, pfp_std, NULL);
	mk_gcm(&sa, 0x6502, CTP_DIRECTION_IN, A_S2, A_MN);
	sa.has_virtual_sg = true;
	sa.virtual_sg = vsg;
	cdbs_sa(&c, &sa);
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_STRING_EQUAL(r.sent_to[1], "s2p");
	run_relayed(&r, 1, &sa);
	CU_ASSERT(ctp_addr_eq(&sa.local, &vsg));
	CU_ASSERT(sa.has_virtual_sg);
	CU_ASSERT_EQUAL(r.notify.len, 0);
	run_done(&r);
	ipsec_sa_clear(&sa);
	ipsec_xfer_free(s);
}

/* A smaller path MTU here: installed with it, and the MN told. */
static void
test_pmtu(void)
{
	struct ipsec_xfer *s = nar_new("\"pmtu\":1280,\"sg-identity\":\"indirect\"", NULL);
	struct ipsec_sa sa;
	struct ctp_val *t[8];
	uint16_t fpt[8];
	struct cdbs c;
	struct run r;
	size_t n;

	cdbs_init(&c);
	cdbs_profile(&c, pfp_std, NULL);
	mk_gcm(&sa, 0x6601, CTP_DIRECTION_IN, A_PR, A_MN);
	sa.has_pmtu = true;
	sa.pmtu.pmtu = 1500;
	sa.pmtu.df = CTP_DF_COPY;
	cdbs_sa(&c, &sa);
	mk_gcm(&sa, 0x6602, CTP_DIRECTION_IN, A_S2, A_MN);     /* relayed: capped too */
	sa.has_pmtu = true;
	sa.pmtu.pmtu = 1400;
	cdbs_sa(&c, &sa);
	mk_gcm(&sa, 0x6603, CTP_DIRECTION_IN, A_PR, A_MN);     /* smaller already */
	sa.has_pmtu = true;
	sa.pmtu.pmtu = 1200;
	cdbs_sa(&c, &sa);
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_EQUAL(fk_must(0x6601)->sa.pmtu.pmtu, 1280);
	CU_ASSERT_EQUAL(fk_must(0x6601)->sa.pmtu.df, CTP_DF_COPY);
	CU_ASSERT_EQUAL(fk_must(0x6603)->sa.pmtu.pmtu, 1200);
	run_relayed(&r, 2, &sa);
	CU_ASSERT_EQUAL(sa.pmtu.pmtu, 1280);
	n = notes(&r.notify, fpt, t, 8);
	CU_ASSERT_EQUAL_FATAL(n, 2);   /* 0x6602 (relayed first), 0x6601; not 0x6603 */
	CU_ASSERT_EQUAL(num(tlv(t[0], "SA_ID"), "spi"), 0x6602);
	CU_ASSERT_EQUAL(num(tlv(t[0], "PMTU"), "pmtu"), 1280);
	CU_ASSERT_EQUAL(num(tlv(t[1], "SA_ID"), "spi"), 0x6601);
	CU_ASSERT_EQUAL(num(tlv(t[1], "PMTU"), "pmtu"), 1280);
	notes_free(t, n);
	run_done(&r);
	ipsec_sa_clear(&sa);
	ipsec_xfer_free(s);
}

/* Lifetimes aged by Elapsed Time + USAGE + SNAPSHOT_AGE: expired (0x87),
 * or installed with what remains. */
static void
test_lifetime(void)
{
	struct ipsec_xfer *s = nar_new(NULL, NULL);
	struct ipsec_sa sa;
	struct fake_sa *m;
	struct cdbs c;
	struct run r;

	cdbs_init(&c);
	cdbs_profile(&c, pfp_std, NULL);
	/* 9000 + 500 ms at the snapshot: alive on the wire, not after 600 more */
	mk_gcm(&sa, 0x6701, CTP_DIRECTION_IN, A_PR, A_MN);
	sa.has_lifetime = true;
	sa.lifetime.hard_add_s = 10;
	sa.has_usage = true;
	sa.usage.add_ms = 9000;
	sa.has_snapshot_age = true;
	sa.snapshot_age_ms = 500;
	cdbs_sa(&c, &sa);
	/* 101 s old, first used 51 s ago */
	mk_gcm(&sa, 0x6702, CTP_DIRECTION_IN, A_PR, A_MN);
	sa.has_lifetime = true;
	sa.lifetime.soft_add_s = 3000;
	sa.lifetime.hard_add_s = 3600;
	sa.lifetime.soft_use_s = 500;
	sa.lifetime.hard_use_s = 600;
	sa.lifetime.hard_bytes = 1000000;
	sa.has_usage = true;
	sa.usage.add_ms = 100000;
	sa.usage.use_ms = 50000;
	sa.usage.bytes = 4242;
	sa.has_snapshot_age = true;
	sa.snapshot_age_ms = 400;
	cdbs_sa(&c, &sa);
	run_install(&r, s, &c, true, 600);
	CU_ASSERT_EQUAL(r.st[1], CTP_ST_IPSEC_LIFETIME_EXPIRED);
	CU_ASSERT_PTR_NULL(fk_get(0x6701));
	CU_ASSERT_EQUAL(r.st[2], 0);
	m = fk_must(0x6702);
	CU_ASSERT_EQUAL(m->sa.lifetime.hard_add_s, 3499);
	CU_ASSERT_EQUAL(m->sa.lifetime.soft_add_s, 2899);
	CU_ASSERT_EQUAL(m->sa.lifetime.hard_use_s, 549);
	CU_ASSERT_EQUAL(m->sa.lifetime.soft_use_s, 449);
	CU_ASSERT_EQUAL(m->sa.lifetime.hard_bytes, 1000000);
	CU_ASSERT_EQUAL(m->sa.usage.bytes, 4242);
	CU_ASSERT_EQUAL(m->sa.usage.add_ms, 0);   /* the age is in the limits now */
	CU_ASSERT(m->sa.usage.use_ms > 0);
	CU_ASSERT(!m->sa.has_snapshot_age);
	run_done(&r);
	ipsec_sa_clear(&sa);
	ipsec_xfer_free(s);
}

/* A bundle goes whole, outermost first, or not at all. */
static void
test_bundle(void)
{
	struct ipsec_xfer *s = nar_new(NULL, NULL);
	struct ipsec_sa sa;
	struct cdbs c;
	struct run r;

	cdbs_init(&c);
	cdbs_profile(&c, pfp_std, NULL);
	mk_sa(&sa, 0x6801, CTP_DIRECTION_IN, A_PR, A_MN, CTP_ENCR_AES_CBC, 128,
	    CTP_INTEG_HMAC_SHA2_256_128);
	sa.has_bundle = true;
	sa.bundle.id = 7;
	sa.bundle.position = 1;
	sa.bundle.kind = CTP_BUNDLE_KIND_ITERATED_TUNNELLING;
	sa.bundle.count = 2;
	cdbs_sa(&c, &sa);
	mk_gcm(&sa, 0x6802, CTP_DIRECTION_IN, A_PR, A_MN);
	sa.has_bundle = true;
	sa.bundle.id = 7;
	sa.bundle.position = 0;
	sa.bundle.kind = CTP_BUNDLE_KIND_ITERATED_TUNNELLING;
	sa.bundle.count = 2;
	cdbs_sa(&c, &sa);
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_EQUAL(r.st[1], 0);
	CU_ASSERT_EQUAL(r.st[2], 0);
	CU_ASSERT(fk_called("install", 0x6802) >= 0);
	CU_ASSERT(fk_called("install", 0x6802) < fk_called("install", 0x6801));
	run_done(&r);
	ipsec_xfer_free(s);

	/* one member refused: neither is installed */
	s = nar_new("\"forbid\":\"ENCR_AES_CBC\"", NULL);
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_EQUAL(r.st[1], CTP_ST_IPSEC_POLICY);
	CU_ASSERT_EQUAL(r.st[2], CTP_ST_IPSEC_RENEGOTIATE);
	CU_ASSERT_EQUAL(FK.n, 0);
	CU_ASSERT_EQUAL(fk_called("install", 0x6802), -1);
	run_done(&r);
	ipsec_xfer_free(s);

	/* the second install fails: the first is taken out again */
	s = nar_new(NULL, NULL);
	FK.fail_spi = 0x6801;
	run_install(&r, s, &c, true, 0);
	CU_ASSERT_EQUAL(r.st[1], CTP_ST_NO_RESOURCES);
	CU_ASSERT_EQUAL(r.st[2], CTP_ST_IPSEC_RENEGOTIATE);
	CU_ASSERT(fk_called("install", 0x6802) >= 0);
	CU_ASSERT(fk_called("remove", 0x6802) > fk_called("install", 0x6801));
	CU_ASSERT_EQUAL(FK.n, 0);
	CU_ASSERT_EQUAL(r.notify.len, 0);
	run_done(&r);
	ipsec_sa_clear(&sa);
	ipsec_xfer_free(s);
}

/* ======================================================================== */
/* Control commands and configuration                                       */
/* ======================================================================== */

static ctp_host_cmd_fn
cmd_of(const char *name, void **st)
{
	for (size_t i = 0; i < H.ncmds; i++)
		if (strcmp(H.cmds[i].name, name) == 0) {
			*st = H.cmds[i].st;
			return H.cmds[i].fn;
		}
	return NULL;
}

/* Call a registered command with a JSON request; its rc, *reply the JSON. */
static int
cmd(const char *name, const char *json, char **reply, struct ctp_err *err)
{
	struct ctp_val *req = NULL, *rep = ctp_val_obj();
	void *st = NULL;
	ctp_host_cmd_fn fn = cmd_of(name, &st);
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(fn);
	ctp_err_clear(err);
	CU_ASSERT_EQUAL_FATAL(ctp_json_parse(json, strlen(json), &req, err), 0);
	rc = fn(st, req, rep, err);
	*reply = ctp_json_string(rep, 0);
	ctp_val_free(req);
	ctp_val_free(rep);
	return rc;
}

/* {"sa": <an SA CDB as ctpctl decode --json prints it>} */
static char *
sa_add_req(const struct ipsec_sa *sa)
{
	struct ctp_val *req = ctp_val_obj(), *o = ctp_val_obj(), *tlvs = ctp_val_arr();
	uint8_t buf[2048];
	struct ctp_wbuf w;
	struct ctp_cdb cdb;
	struct ctp_cur c;
	struct ctp_err err;
	char *json;

	ctp_wbuf_init(&w, buf, sizeof buf);
	CU_ASSERT_FATAL(ipsec_sa_encode(sa, &w) == 0);
	ctp_cur_init(&c, buf, w.len, 0);
	CU_ASSERT_FATAL(ctp_cdb_next(&c, 0, &cdb, NULL) == 1);
	ctp_err_clear(&err);
	CU_ASSERT_FATAL(ctp_tlv_describe(ctp_fpt_def(CTP_FPT_IPSEC_SA), cdb.data, cdb.len, 4, tlvs,
	    &err) == 0);
	ctp_val_set_u64(o, "fpt", CTP_FPT_IPSEC_SA);
	ctp_val_obj_set(o, "tlvs", tlvs);
	ctp_val_obj_set(req, "sa", o);
	json = ctp_json_string(req, 0);
	ctp_val_free(req);
	return json;
}

static void
test_commands(void)
{
	struct ipsec_xfer *s = nar_new(NULL, NULL);
	struct ipsec_sa sa;
	struct ctp_err err;
	char *req, *rep = NULL, buf[4096];
	void *st;

	CU_ASSERT_EQUAL(H.ncmds, 4);
	CU_ASSERT_PTR_NOT_NULL(cmd_of("sas", &st));
	CU_ASSERT_PTR_NOT_NULL(cmd_of("sa-add", &st));
	CU_ASSERT_PTR_NOT_NULL(cmd_of("sa-del", &st));
	CU_ASSERT_PTR_NOT_NULL(cmd_of("esp-send", &st));
	/* esp-send: the mem backend's datapath only */
	CU_ASSERT_EQUAL(cmd("esp-send", "{\"spi\":1,\"dst\":\"" A_MN "\"}", &rep, &err),
	    CTP_E_UNSUPPORTED);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, "mem backend only"));
	free(rep);
	/* sa-add: the JSON of one SA CDB, as decode --json prints it */
	mk_gcm(&sa, 0x7001, CTP_DIRECTION_IN, A_NR, A_MN);
	req = sa_add_req(&sa);
	CU_ASSERT_EQUAL(cmd("sa-add", req, &rep, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(rep, "\"count\":1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(rep, "\"dst\":\"" A_NR "\""));
	free(rep);
	free(req);
	CU_ASSERT_EQUAL(memcmp(fk_must(0x7001)->sa.encr.key, sa.encr.key, sa.encr.key_len), 0);
	/* the same again: the SAD refuses, the reply says why */
	req = sa_add_req(&sa);
	CU_ASSERT(cmd("sa-add", req, &rep, &err) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, "0x00007001"));
	free(rep);
	free(req);
	/* an array is all or nothing: the good one goes again */
	mk_gcm(&sa, 0x7002, CTP_DIRECTION_IN, A_NR, A_MN);
	req = sa_add_req(&sa);
	free(req);
	{
		/* [SA, broken] */
		char *good = sa_add_req(&sa), *inner = strstr(good, "{\"fpt\"");

		inner[strlen(inner) - 1] = 0;   /* drop the request's closing brace */
		snprintf(buf, sizeof buf, "{\"sa\":[%s,{\"tlvs\":[{\"tlv\":\"SA_ID\",\"spi\":5}]}]}",
		    inner);
		free(good);
	}
	CU_ASSERT(cmd("sa-add", buf, &rep, &err) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, "SA 1"));
	free(rep);
	CU_ASSERT_PTR_NULL(fk_get(0x7002));
	CU_ASSERT(fk_called("remove", 0x7002) >= 0);
	CU_ASSERT(cmd("sa-add", "{\"sa\":{\"fpt\":65282,\"tlvs\":[]}}", &rep, &err) < 0);
	free(rep);
	CU_ASSERT(cmd("sa-add", "{}", &rep, &err) < 0);
	free(rep);
	/* sas: the backend's describe */
	CU_ASSERT_EQUAL(cmd("sas", "{}", &rep, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(rep, "\"backend\":\"fake\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(rep, "\"spi\":28673"));
	free(rep);
	/* sa-del */
	CU_ASSERT_EQUAL(cmd("sa-del", "{\"spi\":28673,\"dst\":\"" A_NR "\"}", &rep, &err), 0);
	free(rep);
	CU_ASSERT_PTR_NULL(fk_get(0x7001));
	CU_ASSERT(cmd("sa-del", "{\"spi\":28673,\"dst\":\"" A_NR "\",\"protocol\":\"esp\"}", &rep,
	    &err) == CTP_E_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, "no such SA"));
	free(rep);
	CU_ASSERT(cmd("sa-del", "{\"spi\":1,\"dst\":\"" A_NR "\",\"protocol\":\"gre\"}", &rep,
	    &err) < 0);
	free(rep);
	ipsec_sa_clear(&sa);
	ipsec_xfer_free(s);
}

static uv_loop_t *cmd_loop;

static struct uv_loop_s *
fh_loop(struct ctp_host *host)
{
	(void)host;
	return cmd_loop;
}

/* esp-send on the real mem SAD with its UDP datapath: a gateway sends on
 * its outbound SA (dummies, to the ENCAP port), what cannot send refuses,
 * and "sas" shows the numbers used and the SAD's counters. */
static void
test_command_esp_send(void)
{
	struct ctp_host_ops ops = fh_ops;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof sin;
	struct ipsec_xfer *s = NULL;
	struct ctp_val *cfg = NULL;
	struct ctp_err err;
	struct ipsec_sa sa;
	uv_loop_t loop;
	char json[256], *req, *rep = NULL;
	uint8_t pkt[256];
	int fd, got = 0, port;

	/* the peer: a UDP socket on a free port of 127.0.0.1; the SAD on another */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	CU_ASSERT_FATAL(fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &sl) == 0);
	{
		/* a free port for the SAD */
		struct sockaddr_in f = sin;
		socklen_t fl = sizeof f;
		int t = socket(AF_INET, SOCK_DGRAM, 0);

		f.sin_port = 0;
		CU_ASSERT_FATAL(t >= 0 && bind(t, (struct sockaddr *)&f, sizeof f) == 0 &&
		    getsockname(t, (struct sockaddr *)&f, &fl) == 0);
		port = ntohs(f.sin_port);
		close(t);
	}
	uv_loop_init(&loop);
	cmd_loop = &loop;
	ops.loop = fh_loop;
	fh_reset("127.0.0.1", NULL);
	snprintf(json, sizeof json, "{\"sad\":[{\"backend\":\"mem\",\"datapath\":\"udp\","
	    "\"port\":%d}]}", port);
	CU_ASSERT_FATAL(ctp_json_parse(json, strlen(json), &cfg, NULL) == 0);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ipsec_xfer_new(&ops, (struct ctp_host *)(void *)&H, cfg, NULL, &s, &err), 0);
	ctp_val_free(cfg);
	if (!s) {
		fprintf(stderr, "\n  esp-send: %s\n", err.what);
		close(fd);
		uv_loop_close(&loop);
		return;
	}
	mk_sa(&sa, 0x7100, CTP_DIRECTION_OUT, "127.0.0.1", "127.0.0.1",
	    CTP_ENCR_CHACHA20_POLY1305, 256, 0);
	sa.has_encap = true;
	sa.encap.type = CTP_ENCAP_ESPINUDP;
	sa.encap.sport = (uint16_t)port;
	sa.encap.dport = ntohs(sin.sin_port);
	req = sa_add_req(&sa);
	CU_ASSERT_EQUAL(cmd("sa-add", req, &rep, &err), 0);
	free(req);
	free(rep);
	CU_ASSERT_EQUAL(cmd("esp-send", "{\"spi\":28928,\"dst\":\"127.0.0.1\",\"count\":3}",
	    &rep, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(rep && strstr(rep, "\"sent\":3"));
	free(rep);
	/* three packets of SPI 0x7100, numbers 1, 2, 3 */
	for (int i = 0; i < 2000 && got < 3; i++) {
		ssize_t n = recv(fd, pkt, sizeof pkt, MSG_DONTWAIT);

		if (n >= 8) {
			CU_ASSERT(pkt[0] == 0 && pkt[1] == 0 && pkt[2] == 0x71 && pkt[3] == 0);
			CU_ASSERT_EQUAL(pkt[7], got + 1);
			got++;
		} else
			(void)poll(NULL, 0, 1);
	}
	CU_ASSERT_EQUAL(got, 3);
	CU_ASSERT_EQUAL(cmd("sas", "{}", &rep, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(rep && strstr(rep, "\"highest_sent\":3"));
	CU_ASSERT_PTR_NOT_NULL(rep && strstr(rep, "\"next_seq\":4"));
	CU_ASSERT_PTR_NOT_NULL(rep && strstr(rep, "\"originated\":3"));
	free(rep);
	/* refusals: arguments, an unknown SA, a frozen one */
	CU_ASSERT_EQUAL(cmd("esp-send", "{\"spi\":28928}", &rep, &err), CTP_E_INVAL);
	free(rep);
	CU_ASSERT_EQUAL(cmd("esp-send", "{\"spi\":28928,\"dst\":\"127.0.0.1\",\"count\":0}",
	    &rep, &err), CTP_E_INVAL);
	free(rep);
	CU_ASSERT_EQUAL(cmd("esp-send", "{\"spi\":28929,\"dst\":\"127.0.0.1\"}", &rep, &err),
	    CTP_E_NOTFOUND);
	free(rep);
	{
		const struct ipsec_sad_ops *so;
		struct ipsec_sad *sad;
		struct ipsec_sa_ref ref;

		ipsec_xfer_sad(s, &so, &sad);
		ipsec_sa_ref_of(&sa, &ref);
		CU_ASSERT_EQUAL(so->freeze(sad, &ref, NULL), 0);
	}
	CU_ASSERT_EQUAL(cmd("esp-send", "{\"spi\":28928,\"dst\":\"127.0.0.1\"}", &rep, &err),
	    CTP_E_STATE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, "frozen"));
	free(rep);
	ipsec_sa_clear(&sa);
	ipsec_xfer_free(s);
	uv_run(&loop, UV_RUN_NOWAIT);
	CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
	cmd_loop = NULL;
	close(fd);
}

/* tests/conf/good/ipsec-full.xml through the schema into the plugin, with
 * the real mem SAD (its settings from <sad>). */
static void
test_config_file(void)
{
	const char *d = getenv("CTP_CONF_TEST_DIR");
	char path[512];
	struct ctp_conf *c = NULL;
	struct ipsec_xfer *s = NULL;
	const struct ipsec_conf *k;
	struct ctp_err err;
	struct ctp_addr a;

	snprintf(path, sizeof path, "%s/good/ipsec-full.xml", d ? d : "tests/conf");
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_conf_load(path, NULL, NULL, &c, &err), 0);
	CU_ASSERT_EQUAL_FATAL(c->nplugins, 1);
	fh_reset(A_NR, "par", A_PR, "s1p", A_S1P, "s2p", A_S2P, "s2q", A_S2Q, NULL);
	CU_ASSERT_EQUAL(ipsec_xfer_new(&fh_ops, (struct ctp_host *)(void *)&H, c->plugins[0].config,
	    NULL, &s, &err), 0);
	ctp_conf_free(c);
	if (!s) {
		fprintf(stderr, "\n  %s\n", err.what);
		return;
	}
	k = ipsec_xfer_conf(s);
	CU_ASSERT_PTR_EQUAL(k->backend, &ipsec_sad_mem);
	CU_ASSERT_EQUAL(k->spi_conflict, IPSEC_SPI_DENY);
	CU_ASSERT_EQUAL(k->seq_margin, 32768);
	CU_ASSERT(!k->offer_upgrade);
	CU_ASSERT_EQUAL(k->sg_identity, IPSEC_SG_INDIRECT);
	CU_ASSERT_EQUAL(k->pmtu, 1400);
	CU_ASSERT_EQUAL(k->nforbid, 2);
	CU_ASSERT(ipsec_conf_forbidden(k, IPSEC_ALG_ENCR, CTP_ENCR_3DES));
	CU_ASSERT(ipsec_conf_forbidden(k, IPSEC_ALG_INTEG, CTP_INTEG_HMAC_SHA1_96));
	CU_ASSERT(k->has_paths);
	CU_ASSERT_EQUAL(k->path[0].node_count, 6);
	CU_ASSERT(!k->sg[0][0] && k->sg[0][1] && k->sg[0][3] && !k->sg[0][4]);
	CU_ASSERT_EQUAL(k->path[1].node_count, 2);
	CU_ASSERT_EQUAL(k->path[2].node_count, 1);
	CU_ASSERT_EQUAL_FATAL(k->nreplace, 3);
	CU_ASSERT_STRING_EQUAL(k->replace[0].peer, "s2p");
	CU_ASSERT_STRING_EQUAL(k->replace[1].peer, "");
	a = ad(A_S2Q);
	CU_ASSERT(ctp_addr_eq(&k->replace[1].local, &a));
	CU_ASSERT_EQUAL_FATAL(k->profile.nencr, 3);
	CU_ASSERT_EQUAL(k->profile.encr[0].id, CTP_ENCR_AES_GCM_16);
	CU_ASSERT_EQUAL(k->profile.encr[1].id, CTP_ENCR_AES_CBC);
	CU_ASSERT_EQUAL(k->profile.encr[1].key_bits, 128);
	CU_ASSERT_EQUAL(k->profile.encr[2].key_bits, 256);   /* ChaCha20's one length */
	CU_ASSERT_EQUAL(k->profile.ninteg, 2);
	CU_ASSERT_EQUAL(k->profile.integ[1].id, CTP_INTEG_HMAC_SHA2_256_128);
	/* the mem SAD took "algorithms": ChaCha20 is not among them */
	{
		const struct ipsec_sad_ops *ops;
		struct ipsec_sad *sad;

		ipsec_xfer_sad(s, &ops, &sad);
		CU_ASSERT_EQUAL(ops->supports(sad, IPSEC_ALG_ENCR, CTP_ENCR_CHACHA20_POLY1305, 256), 0);
		CU_ASSERT_EQUAL(ops->supports(sad, IPSEC_ALG_ENCR, CTP_ENCR_AES_GCM_16, 256), 1);
	}
	ipsec_xfer_free(s);
}

/* What the plugin refuses, each with a line that says what and where. */
static void
test_config_errors(void)
{
	static const struct {
		const char *json, *want;
	} bad[] = {
		{ "[]", "not an object" },
		{ "{\"colour\":[{}]}", "unknown configuration key \"colour\"" },
		{ "{\"policy\":[{\"spi-conflict\":\"maybe\"}]}", "\"spi-conflict\" \"maybe\"" },
		{ "{\"policy\":[{\"colour\":\"red\"}]}", "<policy>: unknown attribute or element "
		  "\"colour\"" },
		{ "{\"policy\":[{}, {}]}", "<policy> appears 2 times" },
		{ "{\"policy\":[{\"pmtu\":20}]}", "\"pmtu\" must be an integer from 68" },
		{ "{\"policy\":[{\"seq-margin\":\"lots\"}]}", "\"seq-margin\" must be an integer" },
		{ "{\"policy\":[{\"offer-upgrade\":\"maybe\"}]}", "\"offer-upgrade\" must be true or" },
		{ "{\"policy\":[{\"forbid\":\"ENCR_3DES ENCR_FOO\"}]}", "\"ENCR_FOO\" is not the IANA" },
		{ "{\"sad\":[{\"backend\":\"disk\"}]}", "<sad>: \"backend\" \"disk\"" },
		{ "{\"sad\":[{}]}", "<sad>: \"backend\" is missing" },
		{ "{\"sad\":[{\"backend\":\"mem\",\"colour\":\"x\"}]}", "unknown configuration key "
		  "\"colour\"" },
		{ "{\"path\":[{\"plane\":\"data\",\"hop\":[{\"address\":\"10.0.1.300\"}]}]}",
		  "<path> 1, <hop> 1: \"address\" \"10.0.1.300\" is not an IP address" },
		{ "{\"path\":[{\"plane\":\"data\",\"hop\":[{\"address\":\"" A_PR "\"}]}]}",
		  "<path> 1: the first hop must be this node" },
		{ "{\"path\":[{\"plane\":\"data\",\"hop\":[{\"address\":\"" A_NR "\"}]},"
		  "{\"plane\":\"data\",\"hop\":[{\"address\":\"" A_NR "\"}]}]}",
		  "<path> 2: a second path for the data plane" },
		{ "{\"path\":[{\"plane\":\"air\",\"hop\":[{\"address\":\"" A_NR "\"}]}]}",
		  "\"plane\" \"air\"" },
		{ "{\"path\":[{\"plane\":\"data\",\"hop\":[{\"address\":\"" A_NR "\"},{\"address\":\""
		  A_G "\"},{\"address\":\"" A_G "\"}]}]}", "<hop> 3: the same node as hop 2" },
		{ "{\"path\":[{\"plane\":\"data\",\"hop\":[{\"address\":\"" A_NR "\"},{\"address\":"
		  "\"2001:db8::1\"}]}]}", "<hop> 2: not of the path's address family" },
		{ "{\"path\":[{\"plane\":\"data\"}]}", "0 hops" },
		{ "{\"path\":[{\"plane\":\"data\",\"hop\":[{\"address\":\"" A_NR "\",\"sg\":\"yes\"}]}]}",
		  "\"sg\" must be true or false" },
		{ "{\"sg-replace\":[{\"local\":\"" A_S2P "\",\"remote\":\"" A_S2P "\"}]}", "the same SG" },
		{ "{\"sg-replace\":[{\"local\":\"" A_S2P "\"}]}", "<sg-replace> 1: \"remote\" is missing" },
		{ "{\"profile\":[{\"encr\":[{\"id\":\"ENCR_AES_GCM_16\"}]}]}", "\"key-bits\" is needed" },
		{ "{\"profile\":[{\"encr\":[{\"id\":\"ENCR_FOO\"}]}]}", "\"ENCR_FOO\" is not the IANA" },
		{ "{\"profile\":[{\"integ\":[{\"id\":1}]}]}", "MD5" },
		{ "{\"profile\":[{\"encr\":[{\"id\":12,\"key-bits\":100}]}]}", "no 100-bit key" },
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct ctp_val *cfg = NULL;
		struct ipsec_xfer *s = NULL;
		struct ctp_err err;
		int rc;

		fh_reset(A_NR, NULL);
		ctp_err_clear(&err);
		CU_ASSERT_EQUAL_FATAL(ctp_json_parse(bad[i].json, strlen(bad[i].json), &cfg, &err), 0);
		rc = ipsec_xfer_new(&fh_ops, (struct ctp_host *)(void *)&H, cfg,
		    strstr(bad[i].json, "\"sad\"") ? NULL : &fake_ops, &s, &err);
		ctp_val_free(cfg);
		CU_ASSERT_EQUAL(rc, CTP_E_CONFIG);
		CU_ASSERT_PTR_NULL(s);
		if (!strstr(err.what, bad[i].want)) {
			fprintf(stderr, "\n  config %zu: got \"%s\", want \"%s\"\n", i, err.what,
			    bad[i].want);
			CU_FAIL("error line");
		}
		ipsec_xfer_free(s);
	}
	/* no commands without a control socket (ctpctl's host) */
	{
		static const struct ctp_host_ops bare = { .size = sizeof(struct ctp_host_ops) };
		struct ipsec_xfer *s = NULL;
		struct ctp_err err;

		ctp_err_clear(&err);
		CU_ASSERT_EQUAL(ipsec_xfer_new(&bare, NULL, NULL, NULL, &s, &err), 0);
		ipsec_xfer_free(s);
	}
}

/* ======================================================================== */
/* The engine end to end: S1, S2 -> PR -> NR -> S1', S2' on the mem SAD      */
/* ======================================================================== */

enum { E_S1, E_S2, E_PR, E_NR, E_S1P, E_S2P, E_NODES };

static const char *const e_names[E_NODES] = { "s1", "s2", "pr", "nr", "s1p", "s2p" };
static const char *const e_addrs[E_NODES] = {
	"10.9.0.1", "10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6",
};
#define E_G  "10.9.1.1"
#define E_RN "10.9.1.2"
static const unsigned e_roles[E_NODES] = {
	CTP_ROLE_SG, CTP_ROLE_SG, CTP_ROLE_AR, CTP_ROLE_AR, CTP_ROLE_SG, CTP_ROLE_SG,
};
static const int e_links[][2] = {
	{ E_S1, E_PR }, { E_S2, E_PR }, { E_PR, E_NR }, { E_NR, E_S1P }, { E_NR, E_S2P },
};
static const uint8_t e_key[20] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
};

static struct {
	uv_loop_t          loop;
	struct ctp_node   *node[E_NODES];
	struct ctp_engine *eng[E_NODES];
	struct ctp_addr    mn;
	struct {
		uint8_t buf[4096];
		size_t  len;
	}                  to_mn[32];
	size_t             nto_mn;
	int                stopped;
	int                g_is_s2;   /* NR's path rejoins the PFP at S2 (types 1, 2) */
} E;

static int
e_describe(void *state, const struct ctp_cdb *cdb, unsigned family, struct ctp_val *obj,
    struct ctp_err *err)
{
	struct ctp_val *tlvs = ctp_val_arr();
	int rc;

	(void)state;
	(void)family;
	if ((rc = ctp_tlv_describe(ctp_fpt_def(cdb->fpt), cdb->data, cdb->len, cdb->off + 4, tlvs,
	    err)) < 0) {
		ctp_val_free(tlvs);
		return rc;
	}
	return ctp_val_obj_set(obj, "tlvs", tlvs);
}

static int
e_build(void *state, uint16_t fpt, const struct ctp_val *obj, struct ctp_wbuf *w,
    struct ctp_err *err)
{
	(void)state;
	(void)fpt;
	(void)obj;
	(void)w;
	return ctp_err_set(err, CTP_E_UNSUPPORTED, 0, 0, "no build in this test");
}

static const uint16_t e_fpts[] = { CTP_FPT_IPSEC_SA, CTP_FPT_IPSEC_PROFILE };

/* ipsec_plugin.c's descriptor, with the operations of ipsec_xfer.c */
static const struct ctp_feature e_ipsec = {
	.abi_version = CTP_FEATURE_ABI_VERSION,
	.size = sizeof(struct ctp_feature),
	.name = "ipsec",
	.version = "test",
	.fpts = e_fpts,
	.nfpts = 2,
	.init = ipsec_xfer_init,
	.fini = ipsec_xfer_fini,
	.cdb_check = ipsec_xfer_check,
	.cdb_describe = e_describe,
	.cdb_build = e_build,
	.source_collect = ipsec_xfer_source_collect,
	.source_done = ipsec_xfer_source_done,
	.sink_install = ipsec_xfer_sink_install,
	.sink_review = ipsec_xfer_sink_review,
	.sink_done = ipsec_xfer_sink_done,
};

static int
e_mn_send(void *io, const struct sockaddr *to, enum ctp_mnio_carrier carrier, const uint8_t *msg,
    size_t len)
{
	(void)io;
	(void)to;
	(void)carrier;
	if (E.nto_mn < 32 && len <= sizeof E.to_mn[0].buf) {
		memcpy(E.to_mn[E.nto_mn].buf, msg, len);
		E.to_mn[E.nto_mn].len = len;
		E.nto_mn++;
	}
	return 0;
}

static void
e_sa4(struct sockaddr_storage *ss, const char *a, uint16_t port)
{
	struct sockaddr_in *s = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof *ss);
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	inet_pton(AF_INET, a, &s->sin_addr);
}

static struct ctp_conf *
e_conf(int i)
{
	struct ctp_conf *c = calloc(1, sizeof *c);

	ctp_conf_defaults(c);
	c->node_name = strdup(e_names[i]);
	c->roles = e_roles[i];
	(void)ctp_addr_parse(&c->addrs[0], e_addrs[i]);
	c->naddrs = 1;
	c->backend = CTP_BACKEND_MEM;
	e_sa4(&c->bind, e_addrs[i], 9899);
	c->mn_icmp = 0;
	c->timers.max_transfer_ms = 100;
	c->timers.max_handover_ms = 2000;
	c->timers.reconnect_ms = 50;
	c->timers.request_rate = 1000;
	c->log_level = CTP_LOG_WARN;
	for (size_t k = 0; k < sizeof e_links / sizeof e_links[0]; k++) {
		int o = e_links[k][0] == i ? e_links[k][1] : e_links[k][1] == i ? e_links[k][0] : -1;
		struct ctp_conf_peer *p;

		if (o < 0)
			continue;
		p = &c->peers[c->npeers++];
		p->name = strdup(e_names[o]);
		p->roles = e_roles[o];
		e_sa4(&p->addr, e_addrs[o], 5091);
		p->udp_port = 9899;
		p->sec = CTP_SEC_IPSEC;
	}
	return c;
}

/* PR: PFP PR S1 S2 G RN (S1, S2 SGs); NR: NFP NR S1' S2' G RN with S2 ->
 * S2' (or NR S1' S2 G RN: G = S2); SGs: the mem SAD only. */
static struct ctp_val *
e_plugin_conf(int i)
{
	char json[1024];
	struct ctp_val *v = NULL;

	if (i == E_PR)
		snprintf(json, sizeof json, "{\"sad\":[{\"backend\":\"mem\"}],"
		    "\"path\":[{\"plane\":\"data\",\"hop\":[{\"address\":\"%s\"},{\"address\":\"%s\","
		    "\"sg\":\"true\"},{\"address\":\"%s\",\"sg\":\"true\"},{\"address\":\"" E_G "\"},"
		    "{\"address\":\"" E_RN "\"}]}]}", e_addrs[E_PR], e_addrs[E_S1], e_addrs[E_S2]);
	else if (i == E_NR)
		snprintf(json, sizeof json, "{\"sad\":[{\"backend\":\"mem\"}],"
		    "\"policy\":[{\"spi-conflict\":\"reassign\"}],"
		    "\"path\":[{\"plane\":\"data\",\"hop\":[{\"address\":\"%s\"},{\"address\":\"%s\"},"
		    "{\"address\":\"%s\"},{\"address\":\"" E_G "\"},{\"address\":\"" E_RN "\"}]}],"
		    "\"sg-replace\":[{\"local\":\"%s\",\"remote\":\"%s\",\"peer\":\"s2p\"}]}",
		    e_addrs[E_NR], e_addrs[E_S1P], E.g_is_s2 ? e_addrs[E_S2] : e_addrs[E_S2P],
		    e_addrs[E_S2P], e_addrs[E_S2]);
	else
		snprintf(json, sizeof json, "{\"sad\":[{\"backend\":\"mem\"}]}");
	CU_ASSERT_FATAL(ctp_json_parse(json, strlen(json), &v, NULL) == 0);
	return v;
}

static void
e_run_until(int (*cond)(void), unsigned max_ms)
{
	uint64_t end = uv_now(&E.loop) + max_ms;

	while (!cond() && uv_now(&E.loop) < end)
		uv_run(&E.loop, UV_RUN_ONCE);
}

static int
e_all_up(void)
{
	for (int i = 0; i < E_NODES; i++)
		for (size_t k = 0; k < ctp_node_npeers(E.node[i]); k++)
			if (ctp_node_peer_at(E.node[i], k)->state != CTP_PEER_UP)
				return 0;
	return 1;
}

static int
e_quiet(void)
{
	struct ctp_engine_stats st;

	for (int i = 0; i < E_NODES; i++) {
		ctp_engine_stats(E.eng[i], &st);
		if (st.live)
			return 0;
	}
	return 1;
}

static struct ipsec_xfer *
e_plugin(int i)
{
	const struct ctp_plugin *p = ctp_registry_by_name(ctp_node_registry(E.node[i]), "ipsec");

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return p->state;
}

/* Install an SA into node i's SAD. */
static void
e_add(int i, const struct ipsec_sa *sa)
{
	const struct ipsec_sad_ops *ops;
	struct ipsec_sad *sad;
	struct ctp_err err;

	ipsec_xfer_sad(e_plugin(i), &ops, &sad);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ops->install(sad, sa, &err), 0);
	if (err.what[0])
		fprintf(stderr, "\n  e_add: %s\n", err.what);
}

/* What node i's SAD says of the SA with spi in direction dir: its describe
 * object (a copy), or NULL. */
static struct ctp_val *
e_sa(int i, uint32_t spi, const char *dir)
{
	const struct ipsec_sad_ops *ops;
	struct ipsec_sad *sad;
	struct ctp_val *arr = ctp_val_arr(), *hit = NULL;

	ipsec_xfer_sad(e_plugin(i), &ops, &sad);
	CU_ASSERT_EQUAL(ops->describe(sad, arr), 0);
	for (size_t k = 0; k < arr->n && !hit; k++)
		if (num(arr->items[k], "spi") == spi && strcmp(str(arr->items[k], "direction"), dir) == 0) {
			char *j = ctp_json_string(arr->items[k], 0);

			CU_ASSERT(ctp_json_parse(j, strlen(j), &hit, NULL) == 0);
			free(j);
		}
	ctp_val_free(arr);
	return hit;
}

/* The number of SAs node i holds. */
static size_t
e_count(int i)
{
	const struct ipsec_sad_ops *ops;
	struct ipsec_sad *sad;
	struct ctp_val *arr = ctp_val_arr();
	size_t n;

	ipsec_xfer_sad(e_plugin(i), &ops, &sad);
	CU_ASSERT_EQUAL(ops->describe(sad, arr), 0);
	n = arr->n;
	ctp_val_free(arr);
	return n;
}

/* Node i holds the SA, with these ends and in this state. */
static void
e_expect(int i, uint32_t spi, const char *dir, const char *local, const char *peer,
    const char *state, int line)
{
	struct ctp_val *o = e_sa(i, spi, dir);

	if (!o) {
		fprintf(stderr, "\n  line %d: %s has no SA 0x%x %s\n", line, e_names[i], spi, dir);
		CU_FAIL("SA missing");
		return;
	}
	if (strcmp(str(o, "local"), local) || strcmp(str(o, "peer"), peer) ||
	    strcmp(str(o, "state"), state)) {
		fprintf(stderr, "\n  line %d: %s SA 0x%x %s: %s - %s %s, want %s - %s %s\n", line,
		    e_names[i], spi, dir, str(o, "local"), str(o, "peer"), str(o, "state"), local, peer,
		    state);
		CU_FAIL("SA differs");
	}
	ctp_val_free(o);
}
#define E_EXPECT(i, spi, dir, local, peer, state) \
	e_expect((i), (spi), (dir), (local), (peer), (state), __LINE__)

static void
e_start(void)
{
	struct ctp_err err;
	int g = E.g_is_s2;

	memset(&E, 0, sizeof E);
	E.g_is_s2 = g;
	uv_loop_init(&E.loop);
	ctp_mem_wire_clear();
	ctp_log_open("test", CTP_LOG_STDERR, getenv("CTP_TEST_VERBOSE") ? CTP_LOG_DEBUG : CTP_LOG_ERR);
	E.mn = ad(A_MN);
	for (int i = 0; i < E_NODES; i++) {
		struct ctp_val *cfg = e_plugin_conf(i);
		struct ctp_engine_mn_ops ops = { .send = e_mn_send };

		ctp_err_clear(&err);
		CU_ASSERT_FATAL(ctp_node_new(&E.loop, e_conf(i), &E.node[i], &err) == 0);
		if (ctp_node_add_plugin(E.node[i], &e_ipsec, cfg, &err) != 0)
			fprintf(stderr, "\n  %s: %s\n", e_names[i], err.what);
		ctp_val_free(cfg);
		CU_ASSERT_FATAL(ctp_engine_new(E.node[i], &E.eng[i], &err) == 0);
		ctp_engine_set_mn_ops(E.eng[i], &ops);
		CU_ASSERT_FATAL(ctp_node_start(E.node[i], &err) == 0);
	}
	e_run_until(e_all_up, 5000);
	CU_ASSERT_FATAL(e_all_up());
	CU_ASSERT_FATAL(ctp_engine_mn_key_set(E.eng[E_PR], &E.mn, e_key, sizeof e_key) == 0);
}

static void
e_stopped(void *arg)
{
	(void)arg;
	E.stopped++;
}

static int
e_all_stopped(void)
{
	return E.stopped == E_NODES;
}

static void
e_stop(void)
{
	for (int i = 0; i < E_NODES; i++) {
		ctp_engine_free(E.eng[i]);
		ctp_node_stop(E.node[i], e_stopped, NULL);
	}
	e_run_until(e_all_stopped, 10000);
	CU_ASSERT(e_all_stopped());
	uv_run(&E.loop, UV_RUN_DEFAULT);
	CU_ASSERT(uv_loop_close(&E.loop) == 0);
	ctp_mem_wire_clear();
}

/* A CTAR from the MN into node i (naming ar). */
static void
e_ctar(int i, int ar, uint32_t seq)
{
	struct ctp_msg *m = malloc(sizeof *m);
	uint8_t buf[256];
	size_t len;
	struct ctp_err err;
	struct sockaddr_storage from;

	ctp_msg_init(m, CTP_MSG_CTAR, 4);
	m->flags |= CTP_HDR_X;
	m->mn_prev = E.mn;
	(void)ctp_addr_parse(&m->ar, e_addrs[ar]);
	m->seq = seq;
	(void)ctp_token_compute(e_key, sizeof e_key, &E.mn, seq, NULL, 0, &m->token);
	ctp_err_clear(&err);
	CU_ASSERT_FATAL(ctp_msg_encode(m, buf, sizeof buf, &len, &err) == 0);
	e_sa4(&from, "192.0.2.99", 40000);
	ctp_engine_mn_input(E.eng[i], (struct sockaddr *)&from, CTP_MNIO_UDP, buf, len);
	free(m);
}

/* The last message of type t the MN got (decoded into *m), or 0. */
static int
e_last(unsigned t, struct ctp_msg *m)
{
	for (size_t k = E.nto_mn; k-- > 0;) {
		struct ctp_err err;

		ctp_err_clear(&err);
		if (ctp_msg_decode(m, E.to_mn[k].buf, E.to_mn[k].len, CTP_DEC_ICMP, &err) == 0 &&
		    m->type == t)
			return 1;
	}
	return 0;
}

/* The MN answers nAR's CTN (else nAR repeats it for CT_RETRY_MAX). */
static int
e_ctn_answered(void)
{
	static struct ctp_msg m;
	uint8_t kn[CTP_NOTIFY_KEY_LEN], buf[64];
	struct sockaddr_storage from;
	struct ctp_msg *a;
	struct ctp_err err;
	size_t len;

	if (!e_last(CTP_MSG_CTN, &m))
		return e_quiet();
	if ((a = malloc(sizeof *a)) == NULL)
		return 0;
	ctp_msg_init(a, CTP_MSG_CTNA, 4);
	a->mn_prev = E.mn;
	a->seq = m.seq;
	memset(a->tag, 0, sizeof a->tag);
	ctp_err_clear(&err);
	if (ctp_notify_key(e_key, sizeof e_key, m.seq, kn) == 0 &&
	    ctp_msg_encode(a, buf, sizeof buf, &len, &err) == 0 && ctp_tag_seal(buf, len, kn) == 0) {
		e_sa4(&from, "192.0.2.99", 40000);
		ctp_engine_mn_input(E.eng[E_NR], (struct sockaddr *)&from, CTP_MNIO_UDP, buf, len);
	}
	free(a);
	return e_quiet();
}

/* The CTN's SA notifications: spi -> the SG address the MN must use. */
static size_t
e_ctn_notes(uint32_t *spi, char (*peer)[CTP_ADDRSTRLEN], uint32_t *prev, size_t max)
{
	struct ctp_msg *m = malloc(sizeof *m);
	size_t n = 0;

	if (!m || !e_last(CTP_MSG_CTN, m)) {
		free(m);
		return 0;
	}
	for (size_t i = 0; i < m->ncdb && n < max; i++) {
		struct ctp_val *t = ctp_val_arr();
		struct ctp_err err;

		if (m->cdb[i].fpt != CTP_FPT_IPSEC_SA) {
			ctp_val_free(t);
			continue;
		}
		ctp_err_clear(&err);
		CU_ASSERT_EQUAL(ctp_tlv_describe(ctp_fpt_def(CTP_FPT_IPSEC_SA), m->cdb[i].data,
		    m->cdb[i].len, 0, t, &err), 0);
		spi[n] = (uint32_t)num(tlv(t, "SA_ID"), "spi");
		snprintf(peer[n], CTP_ADDRSTRLEN, "%s", str(tlv(t, "ENDPOINTS"), "peer_addr"));
		prev[n] = tlv(t, "PREV_SPI") ? (uint32_t)num(tlv(t, "PREV_SPI"), "prev_spi") : 0;
		n++;
		ctp_val_free(t);
	}
	free(m);
	return n;
}

/* The SAs of the chain (figures 4 to 6, 9):
 *   0x3003 type 3 at PR (PR - RN), the MN's traffic: to NR
 *   0x5105 type 5 at PR (the MN's control SA, figure 9): to NR
 *   0x4004 type 4, a copy at S1 (out) and at S2 (in): to S1', S2'
 *   0x5005/0x5006 type 5 at S2 (in, out): to S2' */
static void
e_chain_sas(void)
{
	struct ipsec_sa sa;

	mk_gcm(&sa, 0x3003, CTP_DIRECTION_IN, e_addrs[E_PR], E_RN);
	sel_mn(&sa);
	e_add(E_PR, &sa);
	mk_gcm(&sa, 0x5105, CTP_DIRECTION_IN, e_addrs[E_PR], A_MN);
	e_add(E_PR, &sa);
	mk_gcm(&sa, 0x4004, CTP_DIRECTION_OUT, e_addrs[E_S1], e_addrs[E_S2]);
	sel_mn(&sa);
	e_add(E_S1, &sa);
	mk_gcm(&sa, 0x4004, CTP_DIRECTION_IN, e_addrs[E_S2], e_addrs[E_S1]);
	sel_mn(&sa);
	e_add(E_S2, &sa);
	mk_gcm(&sa, 0x5005, CTP_DIRECTION_IN, e_addrs[E_S2], A_MN);
	e_add(E_S2, &sa);
	mk_gcm(&sa, 0x5006, CTP_DIRECTION_OUT, e_addrs[E_S2], A_MN);
	e_add(E_S2, &sa);
	ipsec_sa_clear(&sa);
}

/* Reactive, the whole chain: every SA at its new holder, once. */
static void
test_engine_chain(void)
{
	char peer[8][CTP_ADDRSTRLEN];
	uint32_t spi[8], prev[8];
	struct ctp_msg *m = malloc(sizeof *m);
	struct ctp_val *o;
	size_t n;

	E.g_is_s2 = 0;
	e_start();
	e_chain_sas();
	e_ctar(E_NR, E_PR, 7001);
	e_run_until(e_ctn_answered, 5000);
	CU_ASSERT(e_quiet());
	CU_ASSERT(m && e_last(CTP_MSG_CTAA, m) && m->nstatus == 0);
	/* the sources hold nothing any more */
	CU_ASSERT_EQUAL(e_count(E_S1), 0);
	CU_ASSERT_EQUAL(e_count(E_S2), 0);
	CU_ASSERT_EQUAL(e_count(E_PR), 0);
	/* every SA at its new holder, from the holder's view */
	E_EXPECT(E_NR, 0x3003, "in", e_addrs[E_NR], E_RN, "active");
	E_EXPECT(E_NR, 0x5105, "in", e_addrs[E_NR], A_MN, "active");
	E_EXPECT(E_S1P, 0x4004, "out", e_addrs[E_S1P], e_addrs[E_S2P], "active");
	E_EXPECT(E_S2P, 0x4004, "in", e_addrs[E_S2P], e_addrs[E_S1P], "active");
	E_EXPECT(E_S2P, 0x5005, "in", e_addrs[E_S2P], A_MN, "active");
	E_EXPECT(E_S2P, 0x5006, "out", e_addrs[E_S2P], A_MN, "active");
	CU_ASSERT_EQUAL(e_count(E_NR), 2);
	CU_ASSERT_EQUAL(e_count(E_S1P), 1);
	CU_ASSERT_EQUAL(e_count(E_S2P), 3);
	/* PROFILE 5.1: the new sender starts past the margin */
	if ((o = e_sa(E_S2P, 0x5006, "out")) != NULL) {
		CU_ASSERT_EQUAL(num(o, "next_seq"), 1 + CTP_SEQ_MARGIN);
		ctp_val_free(o);
	}
	/* the MN learnt its new SGs (direct SG identity) */
	n = e_ctn_notes(spi, peer, prev, 8);
	CU_ASSERT_EQUAL(n, 3);
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT(spi[i] == 0x5005 || spi[i] == 0x5006 || spi[i] == 0x5105);
		CU_ASSERT_STRING_EQUAL(peer[i], spi[i] == 0x5105 ? e_addrs[E_NR] : e_addrs[E_S2P]);
		CU_ASSERT_EQUAL(prev[i], 0);
	}
	free(m);
	e_stop();
}

/* Types 1 and 2 stay where they are: 0x8A, and their source thaws them. */
static void
test_engine_left_in_place(void)
{
	struct ipsec_sa sa;
	struct ctp_msg *m = malloc(sizeof *m);

	E.g_is_s2 = 1;
	e_start();
	mk_gcm(&sa, 0x2002, CTP_DIRECTION_OUT, e_addrs[E_S2], A_MN);      /* type 2 */
	e_add(E_S2, &sa);
	mk_gcm(&sa, 0x1001, CTP_DIRECTION_OUT, e_addrs[E_S2], E_RN);      /* type 1 */
	sel_mn(&sa);
	e_add(E_S2, &sa);
	mk_gcm(&sa, 0x5105, CTP_DIRECTION_IN, e_addrs[E_PR], A_MN);       /* type 5: moves */
	e_add(E_PR, &sa);
	ipsec_sa_clear(&sa);
	e_ctar(E_NR, E_PR, 7002);
	e_run_until(e_ctn_answered, 5000);
	CU_ASSERT(e_quiet());
	E_EXPECT(E_S2, 0x2002, "out", e_addrs[E_S2], A_MN, "active");
	E_EXPECT(E_S2, 0x1001, "out", e_addrs[E_S2], E_RN, "active");
	E_EXPECT(E_NR, 0x5105, "in", e_addrs[E_NR], A_MN, "active");
	CU_ASSERT_EQUAL(e_count(E_PR), 0);
	CU_ASSERT_EQUAL(e_count(E_NR), 1);
	CU_ASSERT_EQUAL(e_count(E_S2P) + e_count(E_S1P), 0);
	/* the MN hears that two did not move */
	CU_ASSERT(m && e_last(CTP_MSG_CTAA, m) && m->nstatus == 2);
	for (size_t i = 0; m && i < m->nstatus; i++)
		CU_ASSERT_EQUAL(m->status[i].code, CTP_ST_IPSEC_LEFT_IN_PLACE);
	free(m);
	E.g_is_s2 = 0;
	e_stop();
}

/* The SPI is taken at S2': S2' refuses (0x80), NR reassigns and sends it
 * again, the MN learns the new SPI (DECISIONS 36). */
static void
test_engine_reassign(void)
{
	char peer[8][CTP_ADDRSTRLEN];
	uint32_t spi[8], prev[8], newspi = 0;
	struct ipsec_sa sa;
	size_t n;

	E.g_is_s2 = 0;
	e_start();
	mk_gcm(&sa, 0x5005, CTP_DIRECTION_IN, e_addrs[E_S2], A_MN);
	e_add(E_S2, &sa);
	mk_gcm(&sa, 0x5005, CTP_DIRECTION_IN, e_addrs[E_S2P], "192.0.2.77");   /* someone's */
	e_add(E_S2P, &sa);
	ipsec_sa_clear(&sa);
	e_ctar(E_NR, E_PR, 7003);
	e_run_until(e_ctn_answered, 5000);
	CU_ASSERT(e_quiet());
	CU_ASSERT_EQUAL(e_count(E_S2), 0);
	CU_ASSERT_EQUAL(e_count(E_S2P), 2);
	/* (no fatal assertion between start and stop: the nodes must stop) */
	n = e_ctn_notes(spi, peer, prev, 8);
	CU_ASSERT_EQUAL(n, 1);
	if (n == 1) {
		CU_ASSERT_EQUAL(prev[0], 0x5005);
		CU_ASSERT_STRING_EQUAL(peer[0], e_addrs[E_S2P]);
		newspi = spi[0];
		CU_ASSERT(newspi != 0x5005 && newspi >= 256);
		E_EXPECT(E_S2P, newspi, "in", e_addrs[E_S2P], A_MN, "active");
	}
	E_EXPECT(E_S2P, 0x5005, "in", e_addrs[E_S2P], "192.0.2.77", "active");
	e_stop();
}

static void
e_cut_nr_pr(void)
{
	struct sockaddr_storage a, b;
	struct ctp_mem_fault f = { .blackhole = 1 };

	e_sa4(&a, e_addrs[E_NR], 9899);
	e_sa4(&b, e_addrs[E_PR], 9899);
	ctp_mem_wire_fault((struct sockaddr *)&a, (struct sockaddr *)&b, &f);
}

static int
e_nr_holds(void)
{
	struct ctp_engine_stats st;

	ctp_engine_stats(E.eng[E_NR], &st);
	return st.held == 1;
}

/* The verdict is lost after the sinks installed (predictive push, then
 * NR -> PR cut): the sources cannot know, so every copy they kept is
 * quarantined, and only the new holders send (PROFILE 5.1). */
static void
test_engine_verdict_lost(void)
{
	struct ctp_trigger t = { .kind = CTP_TRIGGER_PUSH, .peer = "nr" };
	struct ctp_err err;

	E.g_is_s2 = 0;
	e_start();
	e_chain_sas();
	t.mn = E.mn;
	ctp_err_clear(&err);
	CU_ASSERT(ctp_engine_trigger(E.eng[E_PR], &t, &err) == 0);
	e_run_until(e_nr_holds, 3000);
	CU_ASSERT_EQUAL(e_count(E_NR), 0);   /* held, not installed */
	E_EXPECT(E_S2, 0x5006, "out", e_addrs[E_S2], A_MN, "frozen");
	e_cut_nr_pr();
	e_ctar(E_NR, E_PR, 7004);
	e_run_until(e_ctn_answered, 8000);
	CU_ASSERT(e_quiet());
	E_EXPECT(E_S2P, 0x5006, "out", e_addrs[E_S2P], A_MN, "active");
	E_EXPECT(E_NR, 0x5105, "in", e_addrs[E_NR], A_MN, "active");
	E_EXPECT(E_S2, 0x5006, "out", e_addrs[E_S2], A_MN, "quarantined");
	E_EXPECT(E_S1, 0x4004, "out", e_addrs[E_S1], e_addrs[E_S2], "quarantined");
	E_EXPECT(E_PR, 0x5105, "in", e_addrs[E_PR], A_MN, "quarantined");
	ctp_mem_wire_clear();
	e_stop();
}

CTP_TEST_SUITE(ipsec_xfer, NULL, NULL,
	CTP_TEST(test_collect),
	CTP_TEST(test_collect_sg),
	CTP_TEST(test_source_done),
	CTP_TEST(test_route_type5),
	CTP_TEST(test_route_type3_collocated),
	CTP_TEST(test_route_type4_pair),
	CTP_TEST(test_route_types_1_2),
	CTP_TEST(test_route_no_profile),
	CTP_TEST(test_spi_deny),
	CTP_TEST(test_spi_renegotiate),
	CTP_TEST(test_spi_reassign),
	CTP_TEST(test_spi_reassign_review),
	CTP_TEST(test_alg_next_candidate),
	CTP_TEST(test_forbid_and_unsupported),
	CTP_TEST(test_upgrade_offer),
	CTP_TEST(test_sg_identity),
	CTP_TEST(test_pmtu),
	CTP_TEST(test_lifetime),
	CTP_TEST(test_bundle),
	CTP_TEST(test_commands),
	CTP_TEST(test_command_esp_send),
	CTP_TEST(test_config_file),
	CTP_TEST(test_config_errors),
	CTP_TEST(test_engine_chain),
	CTP_TEST(test_engine_left_in_place),
	CTP_TEST(test_engine_reassign),
	CTP_TEST(test_engine_verdict_lost),
);
