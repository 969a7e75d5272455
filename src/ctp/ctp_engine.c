/*
 * ctp_engine.c: the CXTP transfer engine (ctp_engine.h has the overview).
 *
 * Reading guide.  A transfer (struct xfer) lives in e->live under the MN's
 * previous address.  Messages arrive in on_peer_msg (from ARs and SGs) and
 * ctp_engine_mn_input (from mobile nodes); each handler finds or creates
 * the transfer and moves it on.  The source side is collect -> (fetch) ->
 * send_ctd -> on_ctdr/on_ctc/timeout -> source_finish; the sink side is
 * receive -> (hold for the CTAR) -> install -> (relay) -> sink_finish ->
 * CTDR, CTAA, (CTN).  Every decision that touches safety (what a timeout
 * or a status means for an outbound SA) is ctp_xfer_status_outcome() of
 * ctp_feature.h, shared with the plugins, and the
 * mechanism is written down in proto/DECISIONS.md.
 * The protocol's safety is model-checked in tests/model/chain.pml.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "ctp/ctp_describe.h"
#include "ctp/ctp_engine.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_secret.h"
#include "ctp/ctp_tlv.h"
#include "ctp/ctp_token.h"
#include "ctp_amap.h"

#define MAX_SUBS      CTP_COLLECT_MAX_FETCH
#define MAX_STEPS     16
#define HISTORY       64
#define MAX_FPTS      16
#define MSG_CAP       (CTP_MAX_MSG_LEN + 1024)

enum xrole { XR_PAR = 1, XR_NAR, XR_SOURCE, XR_SINK };

enum xstate {
	XS_NEW = 0,
	XS_FETCHING,    /* PAR: waiting for the CTDs of its own sources */
	XS_SENT,        /* PAR/SOURCE: CTD or PCTD sent, waiting for the verdict */
	XS_REQUESTED,   /* NAR: CT-Req sent, waiting for the CTD */
	XS_HELD,        /* NAR: contexts and key here, waiting for the MN's CTAR */
	XS_RELAYING,    /* NAR/SINK: installed, waiting for the relays' CTDRs */
	XS_NOTIFYING,   /* NAR: CTN sent, waiting for the CTNA */
	XS_DONE,
};

static const char *const role_names[] = { "?", "par", "nar", "source", "sink" };
static const char *const state_names[] = {
	"new", "fetching", "sent", "requested", "held", "relaying", "notifying", "done",
};

/* Where a CDB of the transfer came from (source side) or goes (sink side). */
struct cdbmeta {
	int8_t         plugin;    /* registry index, -1: control CDB or no owner */
	int8_t         sub;       /* fetch or relay exchange, -1: local */
	uint8_t        status;
	uint8_t        pending;   /* relayed in this round, no answer yet */
	const uint8_t *rcdb;      /* what to relay instead (the plugin's octets) */
	size_t         rlen;
};

/* One fetch (PAR asks a source) or relay (NAR/SINK hands on to a sink). */
struct sub {
	char     peer[64];
	int      done;
	uint16_t fpts[MAX_FPTS];
	size_t   nfpts;
	uint32_t seq;      /* a fetch's own CT-Req seq (its CTD's REQ_SEQ) */
	uint32_t gen;      /* the association the CT-Req or relay CTD left on */
};

struct step {
	uint8_t  state;
	uint32_t at_ms;
};

struct xfer {
	struct ctp_engine *e;
	uint64_t           id;
	char               idstr[17];
	struct ctp_addr    mn;
	char               mnstr[CTP_ADDRSTRLEN];
	enum xrole         role;
	enum xstate        state;
	int                predictive;     /* the contexts travel with the MN's key */
	int                have_ctar;
	uint32_t           seq;
	uint32_t           token;
	uint32_t           ctreq_seq;      /* NAR: the seq of our CT-Req (REQ_SEQ matches it) */
	int                mn_ack;         /* the CTAR asked for a CTAA */
	struct sockaddr_storage mn_from;   /* where the MN is now */
	enum ctp_mnio_carrier carrier;
	uint8_t           *req;            /* the CTAR's request CDBs as sent */
	size_t             reqlen;
	uint16_t           fpts[MAX_FPTS];
	size_t             nfpts;
	struct ctp_secret *key;            /* PAR: the MN's key; NAR: until the CTAR checks */
	uint8_t            kn[CTP_NOTIFY_KEY_LEN];
	int                have_kn;
	char               peer[64];       /* the AR or SG on the other side */
	int                ack;            /* the CTD/PCTD we received wants a CTDR */
	/* association generations (ctp_peer.gen) with peer: where its CT-Req
	 * came from (req_bound: there was one), where our CTD/PCTD left */
	uint32_t           req_gen, sent_gen;
	int                req_bound;
	uint32_t           elapsed_ms;
	/* the CDBs: a wire region and what we know of each */
	uint8_t           *cdb;
	size_t             cdblen, cdbcap;
	struct cdbmeta    *meta;
	size_t             ncdb, metacap;
	int                keys;
	struct sub         sub[MAX_SUBS];
	size_t             nsub;
	void              *slot[CTP_REGISTRY_MAX];
	uint8_t            plugged[CTP_REGISTRY_MAX];  /* 1: owes a done call */
	unsigned           rounds;         /* relay rounds so far */
	struct ctp_wbuf    notify;         /* NAR: CDBs for the MN's CTN */
	uint8_t           *notify_buf;
	/* what went out last, for retransmission (PCTD on CT-Req, CTN) */
	uint8_t           *last;
	size_t             lastlen;
	unsigned           retry_ms, retry_total;
	uint64_t           first_send;
	/* timing and trace */
	uint64_t           t0;
	struct step        steps[MAX_STEPS];
	size_t             nsteps;
	const char        *outcome;
	int                batch;          /* started by a move-all */
	uv_timer_t         timer;
};

/* What `ctpctl transfers` shows of a finished transfer. */
struct hist {
	char        idstr[17];
	char        mnstr[CTP_ADDRSTRLEN];
	char        peer[64];
	enum xrole  role;
	int         predictive;
	const char *outcome;
	uint64_t    started_wall_ms;
	uint32_t    elapsed_ms;
	struct step steps[MAX_STEPS];
	size_t      nsteps;
};

/*
 * A whole node's fail-over (ctpctl trigger move-all): every MN the plugins
 * hold context for, moved to one SG as ordinary SOURCE transfers, at most
 * `window` of them live at once so that the peer's limits and other
 * transfers keep room.  One batch at a time; each transfer that ends
 * starts the next on the following loop turn (never from inside xfer_end).
 */
struct move_batch {
	char             peer[64];
	struct ctp_addr *mns;
	size_t           n, next;
	unsigned         live, window;
	uint64_t         committed, failed, skipped;
	uint64_t         t0, ms;      /* start; duration once finished */
	uint64_t         noted_ms;    /* the last progress line */
	uint64_t         noted;       /* MNs ended at that line */
	uint16_t         fpts[MAX_FPTS];
	size_t           nfpts;
	int              done;
};

struct ctp_engine {
	struct ctp_node         *node;
	const struct ctp_conf   *conf;
	struct ctp_registry     *reg;
	struct ctp_engine_mn_ops mn;
	struct ctp_amap          live;     /* MN -> struct xfer */
	struct ctp_amap          keys;     /* MN -> struct ctp_secret */
	struct ctp_amap          seen;     /* (MN, seq) -> struct seen */
	struct seen             *seen_head, *seen_tail;
	double                   bucket;   /* CTAR rate limit: tokens */
	uint64_t                 bucket_at;
	struct hist              hist[HISTORY];
	size_t                   nhist, hist_next;
	struct ctp_engine_stats  st;
	uint64_t                 held;     /* transfers in XS_HELD (cached pushes) */
	struct ctp_msg          *m;        /* scratch: one message being built */
	uint8_t                 *out;      /* scratch: its octets */
	uint8_t                 *ctl;      /* scratch: a control CDB */
	struct move_batch        move;     /* the current or last fail-over */
	uv_timer_t               move_timer;
};

static void xfer_end(struct xfer *x, const char *outcome);
static void send_ctd(struct xfer *x);
static void sink_install(struct xfer *x);
static void sink_finish(struct xfer *x, int timed_out);
static void source_finish(struct xfer *x, const uint8_t *status, size_t n, int outcome_all);
static void move_pump(uv_timer_t *t);

/* ---- small helpers ------------------------------------------------------- */

static uint64_t
now_ms(const struct ctp_engine *e)
{
	return ctp_node_now(e->node);
}

static unsigned
T(const struct ctp_engine *e)
{
	return e->conf->timers.max_transfer_ms;
}

static unsigned
H(const struct ctp_engine *e)
{
	return e->conf->timers.max_handover_ms;
}

static int
status_ok(uint8_t s)
{
	return ctp_xfer_status_outcome(s) == CTP_XFER_COMMIT;
}

/* The MN's address as text, formatted on first use: a bulk move at the
 * default level logs no line that needs it on the source (issue 8). */
static const char *
xfer_mnstr(const struct xfer *x)
{
	struct xfer *w = (struct xfer *)(uintptr_t)x;   /* a cache, not a change */

	if (!w->mnstr[0])
		ctp_addr_fmt(&w->mn, w->mnstr, sizeof w->mnstr);
	return w->mnstr;
}

static void
xfer_state(struct xfer *x, enum xstate s, const char *event)
{
	if (ctp_log_enabled(CTP_LOG_INFO)) {
		char who[96];

		snprintf(who, sizeof who, "mn=%s id=%s", xfer_mnstr(x), x->idstr);
		ctp_log_state("transfer", who, state_names[x->state], state_names[s], event);
	}
	x->e->held += (s == XS_HELD) - (x->state == XS_HELD);
	x->state = s;
	if (x->nsteps < MAX_STEPS) {
		x->steps[x->nsteps].state = (uint8_t)s;
		x->steps[x->nsteps].at_ms = (uint32_t)(now_ms(x->e) - x->t0);
		x->nsteps++;
	}
}

static void
xfer_set_id(struct xfer *x, uint64_t id)
{
	x->id = id;
	snprintf(x->idstr, sizeof x->idstr, "%016llx", (unsigned long long)id);
}

static void timer_cb(uv_timer_t *t);

static void
xfer_timer(struct xfer *x, unsigned ms)
{
	uv_timer_start(&x->timer, timer_cb, ms, 0);
}

static struct xfer *
xfer_find(struct ctp_engine *e, const struct ctp_addr *mn)
{
	return ctp_amap_get(&e->live, mn, 0);
}

static struct xfer *
xfer_new(struct ctp_engine *e, const struct ctp_addr *mn, enum xrole role, const char *peer)
{
	struct xfer *x;
	uint64_t id = 0;

	char mnstr[CTP_ADDRSTRLEN];
	struct ctp_peer *p = peer ? ctp_node_peer(e->node, peer) : NULL;

	if (e->st.live >= e->conf->limits.transfers || (p && (uintptr_t)p->engine >=
	    e->conf->limits.transfers_per_peer)) {
		log_warn("mn %s: %llu transfers live (%lu with %s): a limit: refused",
		    ctp_addr_fmt(mn, mnstr, sizeof mnstr), (unsigned long long)e->st.live,
		    p ? (unsigned long)(uintptr_t)p->engine : 0UL, peer ? peer : "no peer");
		e->st.refused++;
		return NULL;
	}
	if ((x = calloc(1, sizeof *x)) == NULL)
		return NULL;
	if (ctp_amap_put(&e->live, mn, 0, x, NULL) < 0) {
		free(x);
		return NULL;
	}
	x->e = e;
	x->mn = *mn;   /* mnstr stays "" until a line needs it (xfer_mnstr) */
	x->role = role;
	x->t0 = now_ms(e);
	(void)RAND_bytes((unsigned char *)&id, sizeof id);
	xfer_set_id(x, id);
	snprintf(x->peer, sizeof x->peer, "%s", peer ? peer : "");
	for (size_t i = 0; i < CTP_REGISTRY_MAX; i++)
		x->slot[i] = NULL;
	uv_timer_init(ctp_node_loop(e->node), &x->timer);
	x->timer.data = x;
	if (p)   /* the peer's live transfers, counted in its engine slot */
		p->engine = (void *)((uintptr_t)p->engine + 1);
	e->st.live++;
	e->st.started++;
	log_info("transfer mn=%s id=%s: %s with %s", xfer_mnstr(x), x->idstr, role_names[role],
	    x->peer[0] ? x->peer : "the mobile node");
	return x;
}

static void
xfer_freed(uv_handle_t *h)
{
	struct xfer *x = h->data;

	ctp_secret_free(x->key);
	ctp_wipe(x->kn, sizeof x->kn);
	if (x->cdb)
		ctp_wipe(x->cdb, x->cdblen);
	if (x->last)
		ctp_wipe(x->last, x->lastlen);
	free(x->cdb);
	free(x->meta);
	free(x->req);
	free(x->last);
	free(x->notify_buf);
	free(x);
}

/* ---- the CDBs of a transfer ---------------------------------------------------- */

/*
 * Append a CDB region (as on the wire) with an origin; 0 or CTP_E_*.  All
 * or nothing: the region is parsed and the limits checked before anything
 * is recorded, so a plugin never hears of a CDB that was not sent.
 */
static int
cdb_append(struct xfer *x, const uint8_t *region, size_t len, int8_t plugin, int8_t sub)
{
	struct ctp_cur c;
	struct ctp_cdb cdb;
	size_t n = 0;
	int rc;

	ctp_cur_init(&c, region, len, 0);
	while ((rc = ctp_cdb_next(&c, 0, &cdb, NULL)) == 1)
		n++;
	if (rc < 0)
		return rc;
	if (x->cdblen + len > CTP_MAX_MSG_LEN || x->ncdb + n > CTP_MAX_CDBS)
		return CTP_E_LIMIT;
	if (x->cdblen + len > x->cdbcap) {
		size_t cap = x->cdbcap ? x->cdbcap : 1024;
		uint8_t *nb;

		while (cap < x->cdblen + len)
			cap *= 2;
		if ((nb = realloc(x->cdb, cap)) == NULL)
			return CTP_E_NOMEM;
		x->cdb = nb;
		x->cdbcap = cap;
	}
	if (x->ncdb + n > x->metacap) {
		size_t cap = x->metacap ? x->metacap : 16;
		struct cdbmeta *nm;

		while (cap < x->ncdb + n)
			cap *= 2;
		if ((nm = realloc(x->meta, cap * sizeof *nm)) == NULL)
			return CTP_E_NOMEM;
		x->meta = nm;
		x->metacap = cap;
	}
	for (size_t i = 0; i < n; i++) {
		memset(&x->meta[x->ncdb], 0, sizeof x->meta[x->ncdb]);
		x->meta[x->ncdb].plugin = plugin;
		x->meta[x->ncdb].sub = sub;
		x->ncdb++;
	}
	memcpy(x->cdb + x->cdblen, region, len);
	x->cdblen += len;
	return 0;
}

/* The CDBs as views into x->cdb (recomputed: the buffer may move). */
static size_t
cdb_views(const struct xfer *x, struct ctp_cdb *v, size_t max)
{
	struct ctp_cur c;
	size_t n = 0;

	ctp_cur_init(&c, x->cdb, x->cdblen, 0);
	while (n < max && ctp_cdb_next(&c, 0, &v[n], NULL) == 1)
		n++;
	return n;
}

static int
plugin_index(const struct ctp_engine *e, uint16_t fpt)
{
	const struct ctp_plugin *p = ctp_registry_find(e->reg, fpt);

	for (size_t i = 0; p && i < ctp_registry_count(e->reg); i++)
		if (ctp_registry_at(e->reg, i) == p)
			return (int)i;
	return -1;
}

static int
wants_fpt(const struct xfer *x, const struct ctp_feature *f)
{
	if (x->nfpts == 0)
		return 1;
	for (size_t i = 0; i < x->nfpts; i++)
		for (size_t k = 0; k < f->nfpts; k++)
			if (x->fpts[i] == f->fpts[k])
				return 1;
	return 0;
}

static void
plugin_xfer(struct xfer *x, size_t i, struct ctp_xfer *px)
{
	memset(px, 0, sizeof *px);
	px->id = x->id;
	px->mn = x->mn;
	px->peer = x->peer[0] ? x->peer : NULL;
	px->elapsed_ms = x->elapsed_ms;
	px->fpts = x->fpts;
	px->nfpts = x->nfpts;
	px->slot = &x->slot[i];
}

/*
 * The (seq, MN) pairs seen in the last CT dup window, oldest first (the
 * window is one constant, so expiry order is arrival order), with the CTAA
 * we answered, so a retransmitted CTAR whose CTAA was lost gets it again
 * instead of a second transfer or silence.
 */
struct seen {
	struct seen    *next;
	struct ctp_addr mn;
	uint32_t        seq;
	uint64_t        exp;
	uint16_t        ctaa_len;
	uint8_t         ctaa[256];
};

static void
seen_expire(struct ctp_engine *e, uint64_t now, size_t cap)
{
	while (e->seen_head && (e->seen_head->exp <= now || e->seen.n > cap)) {
		struct seen *s = e->seen_head;

		(void)ctp_amap_del(&e->seen, &s->mn, s->seq);
		e->seen_head = s->next;
		if (!e->seen_head)
			e->seen_tail = NULL;
		free(s);
	}
}

/* RFC 4067 2.5.1: the entry when (seq, MN) was seen in the last 7 s (the
 * caller ignores the CTAR), else NULL after recording it. */
static struct seen *
duplicate(struct ctp_engine *e, const struct ctp_addr *mn, uint32_t seq)
{
	uint64_t now = now_ms(e);
	struct seen *s;

	seen_expire(e, now, 4 * (size_t)e->conf->limits.transfers + 1024);
	if ((s = ctp_amap_get(&e->seen, mn, seq)) != NULL)
		return s;
	if ((s = calloc(1, sizeof *s)) == NULL)
		return NULL;
	s->mn = *mn;
	s->seq = seq;
	s->exp = now + e->conf->timers.dup_window_ms;
	if (ctp_amap_put(&e->seen, mn, seq, s, NULL) < 0) {
		free(s);
		return NULL;
	}
	if (e->seen_tail)
		e->seen_tail->next = s;
	else
		e->seen_head = s;
	e->seen_tail = s;
	return NULL;
}

/* Keep the CTAA for (seq, MN), for a retransmitted CTAR. */
static void
seen_ctaa(struct ctp_engine *e, const struct ctp_addr *mn, uint32_t seq, const uint8_t *msg,
    size_t len)
{
	struct seen *s = ctp_amap_get(&e->seen, mn, seq);

	if (s && len <= sizeof s->ctaa) {
		memcpy(s->ctaa, msg, len);
		s->ctaa_len = (uint16_t)len;
	}
}

/* ---- building and sending messages --------------------------------------- */

/*
 * The control CDB (FPT 0xFF00) that starts every CTD/PCTD: the transfer id,
 * the sequence number it answers, and K_n or a refusal when there is one.
 */
static size_t
control_cdb(struct ctp_engine *e, const struct xfer *x, int with_kn, int refuse_status)
{
	struct ctp_wbuf w;
	size_t at, t;
	uint8_t id[8];

	ctp_wbuf_init(&w, e->ctl, 256);
	at = ctp_cdb_begin(&w, CTP_FPT_CONTROL, 0, 0);
	for (int i = 0; i < 8; i++)
		id[i] = (uint8_t)(x->id >> (56 - 8 * i));
	t = ctp_tlv_begin(&w, CTP_TLV_CONTROL_TRANSFER_ID);
	ctp_wbuf_bytes(&w, id, sizeof id);
	ctp_tlv_end(&w, t);
	t = ctp_tlv_begin(&w, CTP_TLV_CONTROL_REQ_SEQ);
	ctp_wbuf_u32(&w, x->seq);
	ctp_tlv_end(&w, t);
	if (with_kn) {
		t = ctp_tlv_begin(&w, CTP_TLV_CONTROL_NOTIFY_KEY);
		ctp_wbuf_bytes(&w, x->kn, CTP_NOTIFY_KEY_LEN);
		ctp_tlv_end(&w, t);
	}
	if (refuse_status) {
		t = ctp_tlv_begin(&w, CTP_TLV_CONTROL_STATUS);
		ctp_wbuf_u8(&w, (uint8_t)refuse_status);
		ctp_wbuf_zero(&w, 3);
		ctp_tlv_end(&w, t);
	}
	(void)ctp_cdb_end(&w, at, 0, 0);
	return w.err ? 0 : w.len;
}

static int
peer_send(struct ctp_engine *e, const char *name, const uint8_t *msg, size_t len, unsigned flags)
{
	struct ctp_peer *p = ctp_node_peer(e->node, name);
	int rc;

	if (!p) {
		log_warn("peer %s is not configured (any more): message dropped", name);
		return CTP_E_NOTFOUND;
	}
	if ((rc = ctp_node_send(p, msg, len, flags)) < 0)
		log_warn("peer %s: %s not sent: %s", name, ctp_msg_name(msg[0] & 0x1f),
		    ctp_strerror(rc));
	/* the scratch buffer is not where keys stay between messages */
	if ((flags & CTP_CHAN_KEYS) && msg == e->out)
		ctp_wipe(e->out, len);
	return rc;
}

/*
 * The association a message to name sent now leaves on: the current one,
 * or, while the channel is down (the message waits), the next.  Exchanges
 * are bound to it: a clean verdict (a CTC, a refusal that would thaw)
 * from a later association is read as "timed out", because the peer may
 * have restarted or lost messages and used what it was given
 * (tests/model/chain.pml, FIX_ASSOC_GEN).
 */
static uint32_t
peer_gen_next(struct ctp_engine *e, const char *name)
{
	struct ctp_peer *p = ctp_node_peer(e->node, name);

	return !p ? 0 : p->state == CTP_PEER_UP ? p->gen : p->gen + 1;
}

/* Statuses of a verdict from association gen when the exchange ran on
 * sent: a clean one becomes "timed out" when they differ. */
static void
stale_verdict(uint8_t *status, size_t n, uint32_t gen, uint32_t sent)
{
	for (size_t i = 0; gen != sent && i < n; i++)
		if (ctp_xfer_status_outcome(status[i]) == CTP_XFER_ABORT_CLEAN)
			status[i] = CTP_ST_TIMED_OUT;
}

/* The REQ_SEQ of m's control CDB: 1 and *seq, or 0 when it has none. */
static int
msg_req_seq(const struct ctp_msg *m, uint32_t *seq)
{
	const struct ctp_fpt_def *fd = ctp_fpt_def(CTP_FPT_CONTROL);

	for (size_t i = 0; i < m->ncdb; i++) {
		struct ctp_cur cur;
		struct ctp_tlv t;

		if (m->cdb[i].fpt != CTP_FPT_CONTROL)
			continue;
		ctp_cur_init(&cur, m->cdb[i].data, m->cdb[i].len, 0);
		while (ctp_tlv_next(&cur, fd, &t, NULL) == 1)
			if (t.type == CTP_TLV_CONTROL_REQ_SEQ && t.len == 4) {
				*seq = ctp_get_u32(t.val);
				return 1;
			}
	}
	return 0;
}

/* Encode e->m into e->out; 0 or CTP_E_*. */
static int
encode(struct ctp_engine *e, size_t *len)
{
	struct ctp_err err = { 0 };
	int rc = ctp_msg_encode(e->m, e->out, MSG_CAP, len, &err);

	if (rc < 0)
		log_err("cannot encode %s: %s", ctp_msg_name(e->m->type), err.what);
	return rc;
}

/* Add the CDBs of a wire region to e->m (views into region). */
static int
msg_add_region(struct ctp_msg *m, const uint8_t *region, size_t len)
{
	struct ctp_cur c;
	int rc;

	ctp_cur_init(&c, region, len, 0);
	while (c.left) {
		if (m->ncdb == CTP_MAX_CDBS)
			return CTP_E_LIMIT;
		if ((rc = ctp_cdb_next(&c, 0, &m->cdb[m->ncdb], NULL)) < 0)
			return rc;
		m->ncdb++;
	}
	return 0;
}

static void
send_to_mn(struct xfer *x, size_t len)
{
	struct ctp_engine *e = x->e;

	if (!e->mn.send) {
		log_warn("mn %s: no link to mobile nodes: %s dropped", xfer_mnstr(x),
		    ctp_msg_name(e->out[0] & 0x1f));
		return;
	}
	if (e->mn.send(e->mn.io, (struct sockaddr *)&x->mn_from, x->carrier, e->out, len) < 0)
		log_warn("mn %s: %s not sent", xfer_mnstr(x), ctp_msg_name(e->out[0] & 0x1f));
	else {
		ctp_node_count_out(e->node, e->out[0]);
		ctp_node_capture(e->node, NULL, (struct sockaddr *)&x->mn_from,
		    x->carrier == CTP_MNIO_UDP ? IPPROTO_UDP :
		    x->mn_from.ss_family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP, e->out, len);
	}
}

/* CTAA to the MN: one entry per FPT not transferred (none: all went). */
static void
send_ctaa(struct xfer *x, const uint16_t *fpt, const uint8_t *status, size_t n)
{
	struct ctp_engine *e = x->e;
	size_t len;

	if (!x->have_ctar || !x->mn_ack)
		return;
	ctp_msg_init(e->m, CTP_MSG_CTAA, x->mn.family);
	e->m->mn_prev = x->mn;
	for (size_t i = 0; i < n; i++)
		if (!status_ok(status[i]))
			(void)ctp_msg_add_status(e->m, fpt[i], status[i]);
	if (encode(e, &len) == 0) {
		send_to_mn(x, len);
		seen_ctaa(e, &x->mn, x->seq, e->out, len);
		log_info("transfer mn=%s id=%s: CTAA to the MN, %zu failures", xfer_mnstr(x),
		    x->idstr,
		    e->m->nstatus);
	}
}

/* A CTAA that refuses everything the MN asked for with one status. */
static void
refuse_mn(struct xfer *x, uint8_t status)
{
	uint16_t fpt[MAX_FPTS + 1];
	uint8_t st[MAX_FPTS + 1];
	size_t n = 0;

	for (size_t i = 0; i < x->nfpts; i++, n++)
		fpt[n] = x->fpts[i], st[n] = status;
	if (n == 0) {   /* "all contexts" was asked: one entry, FPT 0 */
		fpt[0] = 0;
		st[0] = status;
		n = 1;
	}
	send_ctaa(x, fpt, st, n);
}

/*
 * CTDR to peer: one entry per CDB of the CTD it sent us, in order.  For
 * the whole transfer (want_sub -2) that is every CDB of x; for a fetched
 * source (want_sub >= 0) its control CDB (which we did not keep) and then
 * its CDBs.  status_all, when given, answers every entry alike.  When all
 * succeeded, S = 1 says it all.
 */
static void
send_ctdr(struct xfer *x, const char *peer, int want_sub, const uint8_t *status_all)
{
	struct ctp_engine *e = x->e;
	struct ctp_cdb v[CTP_MAX_CDBS];
	size_t nv = cdb_views(x, v, CTP_MAX_CDBS), len, k = 0;
	int all_ok = 1;

	ctp_msg_init(e->m, CTP_MSG_CTDR, x->mn.family);
	e->m->mn_prev = x->mn;
	if (want_sub >= 0)
		(void)ctp_msg_add_status(e->m, CTP_FPT_CONTROL, CTP_ST_SUCCESS);
	for (size_t i = 0; i < nv && i < x->ncdb; i++) {
		uint8_t s;

		if (want_sub != -2 && x->meta[i].sub != want_sub)
			continue;
		s = status_all ? *status_all : x->meta[i].status;
		all_ok &= status_ok(s);
		(void)ctp_msg_add_status(e->m, v[i].fpt, s);
		k++;
	}
	if (status_all && k == 0)
		all_ok = 0;   /* nothing arrived: refuse with no entries */
	if (all_ok) {
		e->m->flags |= CTP_HDR_X;
		e->m->nstatus = 0;
	}
	if (encode(e, &len) == 0)
		(void)peer_send(e, peer, e->out, len, 0);
}

/* CTC to peer for this MN. */
static void
send_ctc(struct xfer *x, const char *peer)
{
	struct ctp_engine *e = x->e;
	size_t len;

	ctp_msg_init(e->m, CTP_MSG_CTC, x->mn.family);
	e->m->mn_prev = x->mn;
	if (encode(e, &len) == 0)
		(void)peer_send(e, peer, e->out, len, 0);
}

/* A CTD that refuses a CT-Req as a whole (control STATUS). */
static void
send_refusal(struct ctp_engine *e, const char *peer, const struct ctp_addr *mn, uint32_t seq,
    uint8_t status)
{
	struct xfer tmp;
	size_t clen, len;

	memset(&tmp, 0, sizeof tmp);
	tmp.mn = *mn;
	tmp.seq = seq;
	(void)RAND_bytes((unsigned char *)&tmp.id, sizeof tmp.id);
	clen = control_cdb(e, &tmp, 0, status);
	ctp_msg_init(e->m, CTP_MSG_CTD, mn->family);
	e->m->mn_prev = *mn;
	if (clen && msg_add_region(e->m, e->ctl, clen) == 0 && encode(e, &len) == 0) {
		(void)peer_send(e, peer, e->out, len, 0);
		log_info("mn %s: request from %s refused: %s", ctp_addr_fmt(mn, (char[CTP_ADDRSTRLEN]){ 0 },
		    CTP_ADDRSTRLEN), peer, ctp_status_desc(status));
	}
}

/* ---- ending a transfer ---------------------------------------------------- */

static void
hist_add(struct ctp_engine *e, const struct xfer *x)
{
	struct hist *h = &e->hist[e->hist_next];

	memset(h, 0, sizeof *h);
	memcpy(h->idstr, x->idstr, sizeof h->idstr);
	memcpy(h->mnstr, xfer_mnstr(x), sizeof h->mnstr);
	memcpy(h->peer, x->peer, sizeof h->peer);
	h->role = x->role;
	h->predictive = x->predictive;
	h->outcome = x->outcome;
	h->started_wall_ms = (uint64_t)time(NULL) * 1000 - (now_ms(e) - x->t0);
	h->elapsed_ms = (uint32_t)(now_ms(e) - x->t0);
	memcpy(h->steps, x->steps, sizeof h->steps);
	h->nsteps = x->nsteps;
	e->hist_next = (e->hist_next + 1) % HISTORY;
	if (e->nhist < HISTORY)
		e->nhist++;
}

#define MOVE_NOTE_MNS 1000   /* a progress line every so many MNs ended */
#define MOVE_NOTE_MS  1000   /* or this often, whichever comes first */

/* A notice now and then while a move-all runs (its transfers end at debug
 * level); the last one is move_pump's summary. */
static void
move_progress(struct ctp_engine *e)
{
	struct move_batch *b = &e->move;
	uint64_t ended = b->committed + b->failed, now = now_ms(e);

	if (ended + b->skipped >= b->n || (ended - b->noted < MOVE_NOTE_MNS && now - b->noted_ms < MOVE_NOTE_MS))
		return;
	b->noted = ended;
	b->noted_ms = now;
	log_notice("move-all to %s: %llu of %zu MNs ended (%llu committed, %llu failed), %u live, "
	    "%llu ms", b->peer, (unsigned long long)ended, b->n, (unsigned long long)b->committed,
	    (unsigned long long)b->failed, b->live, (unsigned long long)(now - b->t0));
}

static void
xfer_end(struct xfer *x, const char *outcome)
{
	struct ctp_engine *e = x->e;

	if (x->state == XS_DONE)
		return;
	x->outcome = outcome;
	xfer_state(x, XS_DONE, outcome);
	/* a move-all commits thousands: one line each only at debug level,
	 * and move_progress tells the operator how far it got */
	ctp_log(x->batch && strcmp(outcome, "committed") == 0 ? CTP_LOG_DEBUG : CTP_LOG_NOTICE,
	    "transfer mn=%s id=%s: %s (%s, %llu ms)", xfer_mnstr(x), x->idstr, outcome,
	    role_names[x->role], (unsigned long long)(now_ms(e) - x->t0));
	if (x->batch) {
		e->move.live--;
		if (strcmp(outcome, "committed") == 0)
			e->move.committed++;
		else
			e->move.failed++;
		move_progress(e);
		uv_timer_start(&e->move_timer, move_pump, 0, 0);
	}
	if (strcmp(outcome, "committed") == 0)
		e->st.committed++;
	else if (strcmp(outcome, "timed out") == 0)
		e->st.timed_out++;
	else if (strncmp(outcome, "refused", 7) == 0)
		e->st.refused++;
	else
		e->st.aborted++;
	hist_add(e, x);
	uv_timer_stop(&x->timer);
	(void)ctp_amap_del(&e->live, &x->mn, 0);
	e->st.live--;
	if (x->peer[0]) {
		struct ctp_peer *p = ctp_node_peer(e->node, x->peer);

		if (p && p->engine)
			p->engine = (void *)((uintptr_t)p->engine - 1);
	}
	uv_close((uv_handle_t *)&x->timer, xfer_freed);
}

/* ---- source side ---------------------------------------------------------------- */

/*
 * Collect this node's contexts for x: the control CDB first, then every
 * plugin's, then the list of sources to fetch from.  0, or a status that
 * refuses the transfer.
 */
static int
source_collect(struct xfer *x, int with_kn)
{
	struct ctp_engine *e = x->e;
	size_t clen = control_cdb(e, x, with_kn, 0);
	uint8_t *buf;
	int rc;

	if (!clen || cdb_append(x, e->ctl, clen, -1, -1) < 0)
		return CTP_ST_NO_RESOURCES;
	if ((buf = malloc(CTP_MAX_MSG_LEN)) == NULL)
		return CTP_ST_NO_RESOURCES;
	for (size_t i = 0; i < ctp_registry_count(e->reg); i++) {
		const struct ctp_plugin *p = ctp_registry_at(e->reg, i);
		struct ctp_err err = { 0 };
		struct ctp_collect c;
		struct ctp_wbuf w;
		struct ctp_xfer px;

		if (!p->feat->source_collect || !wants_fpt(x, p->feat))
			continue;
		ctp_wbuf_init(&w, buf, CTP_MAX_MSG_LEN - x->cdblen);
		memset(&c, 0, sizeof c);
		c.out = &w;
		plugin_xfer(x, i, &px);
		rc = p->feat->source_collect(p->state, &px, &c, &err);
		x->plugged[i] = 1;   /* it owes... it is owed a done call */
		if (rc < 0 || w.err) {
			log_warn("transfer mn=%s id=%s: %s could not collect: %s", xfer_mnstr(x),
			    x->idstr,
			    p->feat->name, rc < 0 ? err.what : "too much for one message");
			continue;
		}
		if (w.len && cdb_append(x, buf, w.len, (int8_t)i, -1) < 0) {
			log_warn("transfer mn=%s id=%s: %s's contexts do not fit one message",
			    xfer_mnstr(x), x->idstr, p->feat->name);
			continue;
		}
		x->keys |= c.keys != 0;
		for (size_t k = 0; k < c.nfetch; k++) {
			struct sub *s = NULL;

			for (size_t j = 0; j < x->nsub; j++)
				if (strcmp(x->sub[j].peer, c.fetch[k].peer) == 0)
					s = &x->sub[j];
			if (!s && x->nsub < MAX_SUBS) {
				s = &x->sub[x->nsub++];
				memset(s, 0, sizeof *s);
				snprintf(s->peer, sizeof s->peer, "%s", c.fetch[k].peer);
			}
			if (s && s->nfpts < MAX_FPTS)
				s->fpts[s->nfpts++] = c.fetch[k].fpt;
		}
	}
	free(buf);
	return 0;
}

/* CT-Req (token 0: SG-facing, authorised by role) to each source. */
static void
send_fetches(struct xfer *x)
{
	struct ctp_engine *e = x->e;

	for (size_t i = 0; i < x->nsub; i++) {
		struct sub *s = &x->sub[i];
		uint8_t req[4 * MAX_FPTS];
		size_t len;

		/* a seq of its own: the MN's is reused by a retransmitted CTAR,
		 * and a late answer to an earlier fetch must not pass for this
		 * one (tests/model/chain.pml, FIX_FETCH_REQSEQ) */
		do
			(void)RAND_bytes((unsigned char *)&s->seq, sizeof s->seq);
		while (s->seq == 0 || s->seq == x->seq);
		s->gen = peer_gen_next(e, s->peer);
		ctp_msg_init(e->m, CTP_MSG_CTREQ, x->mn.family);
		e->m->mn_prev = x->mn;
		e->m->seq = s->seq;
		e->m->token = 0;
		for (size_t k = 0; k < s->nfpts; k++) {
			ctp_put_u16(req + 4 * k, s->fpts[k]);
			req[4 * k + 2] = req[4 * k + 3] = 0;
			(void)ctp_msg_add_cdb(e->m, s->fpts[k], NULL, 0);
		}
		if (encode(e, &len) < 0 || peer_send(e, s->peer, e->out, len, 0) < 0)
			s->done = 1;
	}
	xfer_state(x, XS_FETCHING, "CT-Req to the sources");
	xfer_timer(x, 2 * T(e));
}

/* Start the source side: collect, fetch or send. */
static void
source_start(struct xfer *x, int with_kn)
{
	int st = source_collect(x, with_kn);

	if (st) {
		if (x->peer[0])
			send_refusal(x->e, x->peer, &x->mn, x->seq, (uint8_t)st);
		source_finish(x, NULL, 0, CTP_XFER_ABORT_CLEAN);
		return;
	}
	if (x->nsub)
		send_fetches(x);
	else
		send_ctd(x);
}

static int
fetches_pending(const struct xfer *x)
{
	for (size_t i = 0; i < x->nsub; i++)
		if (!x->sub[i].done)
			return 1;
	return 0;
}

/* A CTD from one of our sources (answer to our CT-Req). */
static void
on_fetched(struct xfer *x, struct ctp_peer *p, const struct ctp_msg *m)
{
	struct ctp_engine *e = x->e;
	struct ctp_err err = { 0 };
	int si = -1;

	uint32_t rs;

	for (size_t i = 0; i < x->nsub; i++)
		if (strcmp(x->sub[i].peer, p->conf.name) == 0 && !x->sub[i].done)
			si = (int)i;
	if (si < 0) {
		log_info("transfer mn=%s id=%s: unexpected CTD from %s ignored", xfer_mnstr(x),
		    x->idstr,
		    p->conf.name);
		return;
	}
	if (!msg_req_seq(m, &rs) || rs != x->sub[si].seq) {
		log_info("transfer mn=%s id=%s: a CTD from %s for another request ignored",
		    xfer_mnstr(x),
		    x->idstr, p->conf.name);
		return;
	}
	x->sub[si].done = 1;
	if (ctp_msg_check_cdbs(m, e->reg, &err) < 0) {
		log_warn("transfer mn=%s id=%s: source %s sent a malformed CTD: offset %zu: %s",
		    xfer_mnstr(x), x->idstr, p->conf.name, err.off, err.what);
		send_ctc(x, p->conf.name);   /* nothing of it went anywhere: it may resume */
	} else {
		/* its CDBs, its control CDB excepted (ours leads the message) */
		for (size_t i = 0; i < m->ncdb; i++) {
			const struct ctp_cdb *c = &m->cdb[i];

			if (c->fpt == CTP_FPT_CONTROL)
				continue;
			if (cdb_append(x, c->raw, c->raw_len, -1, (int8_t)si) < 0) {
				log_warn("transfer mn=%s id=%s: contexts from %s dropped (too many)",
				    xfer_mnstr(x), x->idstr, p->conf.name);
				break;
			}
		}
		x->keys = 1;   /* a source's contexts are SAs: treat them as keyed */
	}
	if (!fetches_pending(x)) {
		uv_timer_stop(&x->timer);
		send_ctd(x);
	}
}

/* The CTD or PCTD towards the receiving side, with everything collected. */
static void
send_ctd(struct xfer *x)
{
	struct ctp_engine *e = x->e;
	unsigned flags = x->keys ? CTP_CHAN_KEYS : 0;
	size_t len;
	int pctd = x->role == XR_PAR && x->predictive;

	if (x->req_bound && peer_gen_next(e, x->peer) != x->req_gen) {
		/* whoever asked is gone with its association: nothing left here */
		log_notice("transfer mn=%s id=%s: the association %s asked on is gone: not sent",
		    xfer_mnstr(x), x->idstr, x->peer);
		source_finish(x, NULL, 0, CTP_XFER_ABORT_CLEAN);
		return;
	}
	if (!x->first_send)
		x->sent_gen = peer_gen_next(e, x->peer);
	ctp_msg_init(e->m, pctd ? CTP_MSG_PCTD : CTP_MSG_CTD, x->mn.family);
	e->m->flags |= CTP_HDR_X;   /* A: we want the CTDR */
	e->m->mn_prev = x->mn;
	e->m->elapsed = x->first_send ? (uint32_t)(now_ms(e) - x->first_send) : 0;
	if (pctd) {
		e->m->key_alg = CTP_KEY_ALG_HMAC_SHA1;
		e->m->key_len = (uint16_t)x->key->len;
		e->m->key = x->key->p;
		flags |= CTP_CHAN_KEYS;
	}
	if (msg_add_region(e->m, x->cdb, x->cdblen) < 0 || encode(e, &len) < 0) {
		send_refusal(e, x->peer, &x->mn, x->seq, CTP_ST_NO_RESOURCES);
		source_finish(x, NULL, 0, CTP_XFER_ABORT_CLEAN);
		return;
	}
	if (!x->first_send)
		x->first_send = now_ms(e);
	/* keep it: nAR may ask again with the same sequence number (RFC 4067 2.5.3) */
	if (x->last)
		ctp_wipe(x->last, x->lastlen);   /* the one before: keys too */
	free(x->last);
	if ((x->last = malloc(len)) != NULL) {
		memcpy(x->last, e->out, len);
		x->lastlen = len;
	}
	if (peer_send(e, x->peer, e->out, len, flags) < 0) {
		source_finish(x, NULL, 0, CTP_XFER_ABORT_CLEAN);
		return;
	}
	xfer_state(x, XS_SENT, pctd ? "PCTD sent" : "CTD sent");
	if (x->role == XR_SOURCE)
		xfer_timer(x, H(e) + 6 * T(e));
	else
		xfer_timer(x, (pctd ? H(e) : 0) + 4 * T(e));
	/* a mobile-controlled predictive CTAR gets its CTAA once the PCTD is out */
	if (x->role == XR_PAR && x->have_ctar)
		send_ctaa(x, NULL, NULL, 0);
}

/*
 * The verdict for a source: status per CDB of x (NULL: outcome_all for
 * every CDB).  Local plugins hear done; fetched sources get a CTDR (or CTC)
 * of their own; the MN's key goes on a commit.
 */
static void
source_finish(struct xfer *x, const uint8_t *status, size_t n, int outcome_all)
{
	struct ctp_engine *e = x->e;
	uint8_t st[CTP_MAX_CDBS];
	int committed = 1, carried = 0;

	for (size_t i = 0; i < x->ncdb; i++) {
		if (status && i < n)
			x->meta[i].status = status[i];
		else
			x->meta[i].status = outcome_all == CTP_XFER_COMMIT ? CTP_ST_SUCCESS :
			    outcome_all == CTP_XFER_ABORT_UNKNOWN ? CTP_ST_TIMED_OUT : CTP_ST_CANCELLED;
		if (x->meta[i].plugin >= 0 || x->meta[i].sub >= 0) {
			committed &= status_ok(x->meta[i].status);
			carried = 1;
		}
	}
	/* nothing but the control CDB: the receiver's verdict says it all (a
	 * cancel is no commit, and the MN's key stays for its next try) */
	if (!carried)
		committed = status ? n > 0 && status_ok(status[0]) : outcome_all == CTP_XFER_COMMIT;
	/* local plugins */
	for (size_t i = 0; i < ctp_registry_count(e->reg); i++) {
		const struct ctp_plugin *p = ctp_registry_at(e->reg, i);
		int outcome = CTP_XFER_COMMIT;
		size_t k = 0;
		struct ctp_xfer px;

		if (!x->plugged[i])
			continue;
		for (size_t j = 0; j < x->ncdb; j++)
			if (x->meta[j].plugin == (int8_t)i && x->meta[j].sub < 0) {
				int o = ctp_xfer_status_outcome(x->meta[j].status);

				st[k++] = x->meta[j].status;
				if (o == CTP_XFER_ABORT_UNKNOWN || outcome == CTP_XFER_COMMIT)
					outcome = o == CTP_XFER_COMMIT ? outcome : o;
			}
		if (k == 0)
			outcome = CTP_XFER_ABORT_CLEAN;   /* nothing of it left this node */
		plugin_xfer(x, i, &px);
		if (p->feat->source_done)
			p->feat->source_done(p->state, &px, outcome, st, k);
		x->plugged[i] = 0;
	}
	/* fetched sources: their share of the verdict */
	for (size_t s = 0; s < x->nsub; s++) {
		int any = 0;

		for (size_t j = 0; j < x->ncdb; j++)
			any |= x->meta[j].sub == (int8_t)s;
		if (!any) {
			if (x->sub[s].done)
				continue;   /* it never answered, or had nothing: nothing to say */
			send_ctc(x, x->sub[s].peer);
			continue;
		}
		send_ctdr(x, x->sub[s].peer, (int)s, NULL);
	}
	if (committed && x->role == XR_PAR && x->key) {
		/* RFC 4067 2.7: the key is not used again */
		ctp_engine_mn_key_del(e, &x->mn);
	}
	xfer_end(x, committed ? "committed" : outcome_all == CTP_XFER_ABORT_UNKNOWN ?
	    "timed out" : "aborted");
}

/* ---- sink side ---------------------------------------------------------------- */

/* Take the CDBs of a received CTD/PCTD into x; 0 or a status for all. */
static int
sink_take(struct xfer *x, const struct ctp_msg *m)
{
	struct ctp_engine *e = x->e;

	x->elapsed_ms = m->elapsed;
	x->ack = ctp_msg_xflag(m);
	for (size_t i = 0; i < m->ncdb; i++) {
		const struct ctp_cdb *c = &m->cdb[i];

		if (cdb_append(x, c->raw, c->raw_len, (int8_t)(c->fpt == CTP_FPT_CONTROL ? -1 :
		    plugin_index(e, c->fpt)), -1) < 0)
			return CTP_ST_NO_RESOURCES;
	}
	return 0;
}

/* Read the control CDB: transfer id, K_n, refusal, the seq answered. */
static void
sink_control(struct xfer *x, const struct ctp_msg *m, int *refused, int *seq_ok)
{
	const struct ctp_fpt_def *fd = ctp_fpt_def(CTP_FPT_CONTROL);

	*refused = 0;
	*seq_ok = -1;   /* no REQ_SEQ */
	for (size_t i = 0; i < m->ncdb; i++) {
		const struct ctp_cdb *c = &m->cdb[i];
		struct ctp_tlv t;
		struct ctp_cur cur;

		if (c->fpt != CTP_FPT_CONTROL)
			continue;
		ctp_cur_init(&cur, c->data, c->len, 0);
		while (ctp_tlv_next(&cur, fd, &t, NULL) == 1) {
			struct ctp_cur v;
			uint32_t u = 0;
			uint8_t code = 0;

			ctp_cur_init(&v, t.val, t.len, 0);
			switch (t.type) {
			case CTP_TLV_CONTROL_TRANSFER_ID: {
				uint64_t id = 0;

				for (size_t k = 0; k < 8 && k < t.len; k++)
					id = id << 8 | t.val[k];
				if (id != x->id) {
					log_info("transfer mn=%s id=%s: now id=%016llx (the source's)",
					    xfer_mnstr(x), x->idstr, (unsigned long long)id);
					xfer_set_id(x, id);
				}
				break;
			}
			case CTP_TLV_CONTROL_NOTIFY_KEY:
				if (ctp_cur_copy(&v, x->kn, CTP_NOTIFY_KEY_LEN) == 0)
					x->have_kn = 1;
				break;
			case CTP_TLV_CONTROL_STATUS:
				if (ctp_cur_u8(&v, &code) == 0)
					*refused = code ? code : CTP_ST_AUTH_FAILED;
				break;
			case CTP_TLV_CONTROL_REQ_SEQ:
				if (ctp_cur_u32(&v, &u) == 0)
					*seq_ok = u == (x->role == XR_NAR ? x->ctreq_seq : x->seq);
				break;
			}
		}
	}
}

/* The sink-side arrays handed to one plugin: its CDBs, their statuses,
 * relay targets and replacement octets, and where each sits in x. */
struct plug_view {
	struct ctp_cdb  cdb[CTP_MAX_CDBS];
	uint8_t         st[CTP_MAX_CDBS];
	const char     *relay[CTP_MAX_CDBS];
	const uint8_t  *rcdb[CTP_MAX_CDBS];
	size_t          rlen[CTP_MAX_CDBS];
	size_t          idx[CTP_MAX_CDBS];
	struct ctp_install in;
};

static void
plug_view_fill(struct xfer *x, size_t plugin, const struct ctp_cdb *v, size_t nv,
    struct plug_view *pv, int only_ok, struct ctp_wbuf *notify)
{
	size_t k = 0;

	for (size_t j = 0; j < nv; j++) {
		if (x->meta[j].plugin != (int8_t)plugin || (only_ok && !status_ok(x->meta[j].status)))
			continue;
		pv->cdb[k] = v[j];
		pv->st[k] = x->meta[j].status;
		pv->relay[k] = NULL;
		pv->rcdb[k] = NULL;
		pv->rlen[k] = 0;
		pv->idx[k++] = j;
	}
	memset(&pv->in, 0, sizeof pv->in);
	pv->in.cdb = pv->cdb;
	pv->in.n = k;
	pv->in.status = pv->st;
	pv->in.relay = pv->relay;
	pv->in.relay_cdb = pv->rcdb;
	pv->in.relay_len = pv->rlen;
	pv->in.notify = notify;
}

/* Take a plugin's answers back into x; the number of CDBs to relay. */
static size_t
plug_view_take(struct xfer *x, const struct plug_view *pv)
{
	size_t nrelay = 0;

	for (size_t j = 0; j < pv->in.n; j++) {
		struct cdbmeta *mt = &x->meta[pv->idx[j]];
		struct sub *s = NULL;

		mt->status = pv->st[j];
		if (!pv->relay[j])
			continue;
		for (size_t r = 0; r < x->nsub; r++)
			if (strcmp(x->sub[r].peer, pv->relay[j]) == 0)
				s = &x->sub[r];
		if (!s && x->nsub < MAX_SUBS) {
			s = &x->sub[x->nsub++];
			memset(s, 0, sizeof *s);
			snprintf(s->peer, sizeof s->peer, "%s", pv->relay[j]);
		}
		if (!s) {
			mt->status = CTP_ST_NO_RESOURCES;
			continue;
		}
		mt->sub = (int8_t)(s - x->sub);
		mt->pending = 1;
		mt->rcdb = pv->rcdb[j];
		mt->rlen = pv->rlen[j];
		nrelay++;
	}
	x->keys |= pv->in.relay_keys != 0;
	return nrelay;
}

/* One CTD per relay peer of this round: our control CDB, then its CDBs. */
static void
send_relays(struct xfer *x)
{
	struct ctp_engine *e = x->e;
	struct ctp_cdb v[CTP_MAX_CDBS];
	size_t nv = cdb_views(x, v, CTP_MAX_CDBS);

	for (size_t r = 0; r < x->nsub; r++) {
		size_t clen = control_cdb(e, x, 0, 0), len;
		int any = 0;

		ctp_msg_init(e->m, CTP_MSG_CTD, x->mn.family);
		e->m->flags |= CTP_HDR_X;
		e->m->mn_prev = x->mn;
		e->m->elapsed = x->elapsed_ms;
		(void)msg_add_region(e->m, e->ctl, clen);
		for (size_t j = 0; j < nv && e->m->ncdb < CTP_MAX_CDBS; j++) {
			const struct cdbmeta *mt = &x->meta[j];

			if (mt->sub != (int8_t)r || !mt->pending)
				continue;
			any = 1;
			if (mt->rcdb) {
				struct ctp_cur c;

				ctp_cur_init(&c, mt->rcdb, mt->rlen, 0);
				if (ctp_cdb_next(&c, 0, &e->m->cdb[e->m->ncdb], NULL) == 1)
					e->m->ncdb++;
			} else
				e->m->cdb[e->m->ncdb++] = v[j];
		}
		x->sub[r].done = !any;
		if (!any)
			continue;
		x->sub[r].gen = peer_gen_next(e, x->sub[r].peer);
		if (encode(e, &len) < 0 ||
		    peer_send(e, x->sub[r].peer, e->out, len, x->keys ? CTP_CHAN_KEYS : 0) < 0) {
			/* it never left: nobody else has it */
			x->sub[r].done = 1;
			for (size_t j = 0; j < x->ncdb; j++)
				if (x->meta[j].sub == (int8_t)r && x->meta[j].pending) {
					x->meta[j].status = CTP_ST_IPSEC_UNREACHABLE;
					x->meta[j].pending = 0;
				}
		}
	}
}

static int
relays_pending(const struct xfer *x)
{
	for (size_t j = 0; j < x->ncdb; j++)
		if (x->meta[j].pending)
			return 1;
	return 0;
}

/* Start a relay round, or finish when there is nothing to relay. */
static void
relay_round(struct xfer *x, size_t nrelay)
{
	if (nrelay)
		send_relays(x);
	if (!relays_pending(x)) {
		sink_finish(x, 0);
		return;
	}
	x->rounds++;
	xfer_state(x, XS_RELAYING, x->rounds == 1 ? "CTD to the sinks" : "CTD to the sinks again");
	xfer_timer(x, 2 * T(x->e));
}

/* Install what arrived (the transfer is authorised by now). */
static void
sink_install(struct xfer *x)
{
	struct ctp_engine *e = x->e;
	struct ctp_cdb v[CTP_MAX_CDBS];
	size_t nv = cdb_views(x, v, CTP_MAX_CDBS), nrelay = 0;
	uint8_t *notify = malloc(CTP_MAX_MSG_LEN);
	struct plug_view *pv = malloc(sizeof *pv);

	if (!notify || !pv) {
		free(notify);
		free(pv);
		for (size_t j = 0; j < x->ncdb; j++)
			x->meta[j].status = CTP_ST_NO_RESOURCES;
		sink_finish(x, 0);
		return;
	}
	ctp_wbuf_init(&x->notify, notify, CTP_MAX_MSG_LEN);
	x->notify_buf = notify;
	/* check every CDB with its owner first */
	for (size_t i = 0; i < nv; i++) {
		struct ctp_err err = { 0 };
		int pi = x->meta[i].plugin;   // NOLINT(bugprone-signed-char-misuse): -1 is "no owner"
		const struct ctp_plugin *p;

		x->meta[i].status = CTP_ST_SUCCESS;
		if (v[i].fpt == CTP_FPT_CONTROL)
			continue;
		if (pi < 0) {
			x->meta[i].status = CTP_ST_UNSUPPORTED_FPT;
			continue;
		}
		p = ctp_registry_at(e->reg, (size_t)pi);
		if (p->feat->cdb_check(p->state, &v[i], x->mn.family, &err) < 0) {
			x->meta[i].status = err.status ? err.status : CTP_ST_MALFORMED_CDB;
			log_warn("transfer mn=%s id=%s: CDB %zu refused: %s", xfer_mnstr(x),
			    x->idstr, i,
			    err.what);
		}
	}
	/* each plugin installs its CDBs, or names where they go */
	for (size_t i = 0; i < ctp_registry_count(e->reg); i++) {
		const struct ctp_plugin *p = ctp_registry_at(e->reg, i);
		struct ctp_err err = { 0 };
		struct ctp_xfer px;

		if (!p->feat->sink_install)
			continue;
		plug_view_fill(x, i, v, nv, pv, 1, x->role == XR_NAR ? &x->notify : NULL);
		if (pv->in.n == 0)
			continue;
		plugin_xfer(x, i, &px);
		x->plugged[i] = 1;
		if (p->feat->sink_install(p->state, &px, &pv->in, &err) < 0) {
			log_warn("transfer mn=%s id=%s: %s could not install: %s", xfer_mnstr(x),
			    x->idstr,
			    p->feat->name, err.what);
			for (size_t j = 0; j < pv->in.n; j++) {
				if (status_ok(pv->st[j]))
					pv->st[j] = err.status ? err.status : CTP_ST_NO_RESOURCES;
				pv->relay[j] = NULL;
			}
		}
		nrelay += plug_view_take(x, pv);
	}
	free(pv);
	relay_round(x, nrelay);
}

/* Every relay of the round answered: the plugins may send some on again. */
static void
sink_review(struct xfer *x)
{
	struct ctp_engine *e = x->e;
	struct ctp_cdb v[CTP_MAX_CDBS];
	size_t nv = cdb_views(x, v, CTP_MAX_CDBS), nrelay = 0;
	struct plug_view *pv;

	if (x->rounds >= CTP_XFER_MAX_ROUNDS || (pv = malloc(sizeof *pv)) == NULL) {
		sink_finish(x, 0);
		return;
	}
	for (size_t i = 0; i < ctp_registry_count(e->reg); i++) {
		const struct ctp_plugin *p = ctp_registry_at(e->reg, i);
		struct ctp_err err = { 0 };
		struct ctp_xfer px;

		if (!x->plugged[i] || !p->feat->sink_review)
			continue;
		plug_view_fill(x, i, v, nv, pv, 0, x->role == XR_NAR ? &x->notify : NULL);
		if (pv->in.n == 0)
			continue;
		plugin_xfer(x, i, &px);
		if (p->feat->sink_review(p->state, &px, &pv->in, &err) < 0)
			log_warn("transfer mn=%s id=%s: %s review: %s", xfer_mnstr(x), x->idstr,
			    p->feat->name, err.what);
		nrelay += plug_view_take(x, pv);
	}
	free(pv);
	relay_round(x, nrelay);
}

/* A CTDR from one of our relays. */
static void
on_relayed(struct xfer *x, struct ctp_peer *p, const struct ctp_msg *m)
{
	int si = -1;
	size_t k = 0;

	for (size_t i = 0; i < x->nsub; i++)
		if (strcmp(x->sub[i].peer, p->conf.name) == 0 && !x->sub[i].done)
			si = (int)i;
	if (si < 0)
		return;
	x->sub[si].done = 1;
	for (size_t j = 0; j < x->ncdb; j++)
		k += x->meta[j].sub == (int8_t)si && x->meta[j].pending;
	/*
	 * Entries follow the CTD we sent it: our control CDB first, then its
	 * CDBs.  No entries: it refused everything and installed nothing.  A
	 * count we cannot map: nobody knows what it holds (timed out).
	 */
	for (size_t j = 0, i = 0; j < x->ncdb; j++) {
		struct cdbmeta *mt = &x->meta[j];

		if (mt->sub != (int8_t)si || !mt->pending)
			continue;
		if (ctp_msg_xflag(m))
			mt->status = CTP_ST_SUCCESS;
		else if (m->nstatus == 0)
			mt->status = CTP_ST_CANCELLED;
		else if (m->nstatus != k + 1)
			mt->status = CTP_ST_TIMED_OUT;
		else
			mt->status = m->status[i + 1].code;
		stale_verdict(&mt->status, 1, p->gen, x->sub[si].gen);
		mt->pending = 0;
		i++;
	}
	if (!relays_pending(x)) {
		uv_timer_stop(&x->timer);
		sink_review(x);
	}
}

static void
send_ctn(struct xfer *x)
{
	struct ctp_engine *e = x->e;
	size_t len;

	ctp_msg_init(e->m, CTP_MSG_CTN, x->mn.family);
	e->m->mn_prev = x->mn;
	e->m->seq = x->seq;
	if (msg_add_region(e->m, x->notify_buf, x->notify.len) < 0 || encode(e, &len) < 0 ||
	    ctp_tag_seal(e->out, len, x->kn) < 0) {
		xfer_end(x, "committed");
		return;
	}
	send_to_mn(x, len);
}

/* All installed or relayed: answer upstream, the MN, and notify. */
static void
sink_finish(struct xfer *x, int timed_out)
{
	struct ctp_engine *e = x->e;
	struct ctp_cdb v[CTP_MAX_CDBS];
	size_t nv = cdb_views(x, v, CTP_MAX_CDBS);
	uint16_t fpt[CTP_MAX_CDBS];
	uint8_t st[CTP_MAX_CDBS];
	int all_ok = 1;

	for (size_t j = 0; j < x->ncdb; j++) {
		if (x->meta[j].pending) {   /* a relay never answered */
			x->meta[j].status = CTP_ST_TIMED_OUT;
			x->meta[j].pending = 0;
		}
		all_ok &= status_ok(x->meta[j].status);
	}
	for (size_t i = 0; i < ctp_registry_count(e->reg); i++) {
		const struct ctp_plugin *p = ctp_registry_at(e->reg, i);
		size_t k = 0;
		struct ctp_xfer px;

		if (!x->plugged[i])
			continue;
		for (size_t j = 0; j < x->ncdb; j++)
			if (x->meta[j].plugin == (int8_t)i)
				st[k++] = x->meta[j].status;
		plugin_xfer(x, i, &px);
		if (p->feat->sink_done)
			p->feat->sink_done(p->state, &px, timed_out ? CTP_XFER_ABORT_UNKNOWN :
			    CTP_XFER_COMMIT, st, k);
		x->plugged[i] = 0;
	}
	if (x->ack && x->peer[0])
		send_ctdr(x, x->peer, -2, NULL);
	if (x->role == XR_NAR) {
		for (size_t j = 0; j < nv && j < x->ncdb; j++) {
			fpt[j] = v[j].fpt;
			st[j] = x->meta[j].status;
		}
		send_ctaa(x, fpt, st, nv < x->ncdb ? nv : x->ncdb);
		if (x->notify_buf && x->notify.len && !x->notify.err && x->have_kn && x->have_ctar) {
			x->retry_ms = e->conf->timers.request_retry_ms;
			x->retry_total = 0;
			send_ctn(x);
			xfer_state(x, XS_NOTIFYING, "CTN to the MN");
			xfer_timer(x, x->retry_ms);
			return;
		}
	}
	xfer_end(x, all_ok ? "committed" : "partly refused");
}

/* ---- timers ----------------------------------------------------------- */

static void
timer_cb(uv_timer_t *t)
{
	struct xfer *x = t->data;

	switch (x->state) {
	case XS_FETCHING:
		/* the missing sources: cancelled (their CTDs, if late, are ignored) */
		log_warn("transfer mn=%s id=%s: a source did not answer in time", xfer_mnstr(x),
		    x->idstr);
		for (size_t i = 0; i < x->nsub; i++)
			if (!x->sub[i].done) {
				send_ctc(x, x->sub[i].peer);
				x->sub[i].done = 1;
			}
		send_ctd(x);
		break;
	case XS_SENT:
		/* no verdict: the receiver may or may not have used the contexts */
		log_warn("transfer mn=%s id=%s: no CTDR from %s in time", xfer_mnstr(x), x->idstr,
		    x->peer);
		source_finish(x, NULL, 0, CTP_XFER_ABORT_UNKNOWN);
		break;
	case XS_REQUESTED:
		log_warn("transfer mn=%s id=%s: %s did not answer the CT-Req", xfer_mnstr(x),
		    x->idstr,
		    x->peer);
		send_ctc(x, x->peer);   /* should its CTD still come, it is not wanted */
		refuse_mn(x, CTP_ST_TIMED_OUT);
		xfer_end(x, "timed out");
		break;
	case XS_HELD:
		log_warn("transfer mn=%s id=%s: the MN's CTAR did not come within %u ms",
		    xfer_mnstr(x),
		    x->idstr, H(x->e));
		send_ctc(x, x->peer);   /* never installed: the source may resume */
		xfer_end(x, "aborted");
		break;
	case XS_RELAYING:
		log_warn("transfer mn=%s id=%s: a relay did not answer in time", xfer_mnstr(x),
		    x->idstr);
		sink_finish(x, 1);
		break;
	case XS_NOTIFYING:
		x->retry_total += x->retry_ms;
		x->retry_ms *= 2;
		if (x->retry_total >= x->e->conf->timers.retry_max_ms) {
			log_warn("transfer mn=%s id=%s: no CTNA from the MN", xfer_mnstr(x),
			    x->idstr);
			xfer_end(x, "committed");
			break;
		}
		send_ctn(x);
		xfer_timer(x, x->retry_ms);
		break;
	default:
		break;
	}
}

/* ---- messages from peers ----------------------------------------------------- */

static void
req_fpts(struct xfer *x, const struct ctp_msg *m)
{
	x->nfpts = 0;
	for (size_t i = 0; i < m->ncdb && x->nfpts < MAX_FPTS; i++)
		x->fpts[x->nfpts++] = m->cdb[i].fpt;
}

static void
on_ctreq(struct ctp_engine *e, struct ctp_peer *p, const struct ctp_msg *m)
{
	struct ctp_secret *key = ctp_amap_get(&e->keys, &m->mn_prev, 0);
	struct xfer *x = xfer_find(e, &m->mn_prev);

	if (x) {
		/* RFC 4067 2.5.3: the PCTD was lost; nAR asks again with the seq */
		if (x->role == XR_PAR && x->state == XS_SENT && x->seq == m->seq &&
		    strcmp(x->peer, p->conf.name) == 0 && x->last) {
			log_info("transfer mn=%s id=%s: CT-Req again: resending", xfer_mnstr(x),
			    x->idstr);
			(void)peer_send(e, x->peer, x->last, x->lastlen,
			    x->predictive || x->keys ? CTP_CHAN_KEYS : 0);
			return;
		}
		if (x->role == XR_PAR && x->state == XS_SENT && x->predictive &&
		    strcmp(x->peer, p->conf.name) == 0 && x->last) {
			/* network-pushed PCTD (seq unknown then): the MN's seq now */
			(void)peer_send(e, x->peer, x->last, x->lastlen, CTP_CHAN_KEYS);
			return;
		}
		send_refusal(e, p->conf.name, &m->mn_prev, m->seq, CTP_ST_BUSY);
		return;
	}
	if (!(p->conf.roles & CTP_ROLE_AR)) {
		send_refusal(e, p->conf.name, &m->mn_prev, m->seq, CTP_ST_AUTH_FAILED);
		return;
	}
	if (key) {
		if (m->token != 0 && !ctp_token_verify(key->p, key->len, m)) {
			e->st.ctar_bad_token++;
			log_warn("mn %s: CT-Req from %s with a token that does not verify",
			    ctp_addr_fmt(&m->mn_prev, (char[CTP_ADDRSTRLEN]){ 0 }, CTP_ADDRSTRLEN),
			    p->conf.name);
			send_refusal(e, p->conf.name, &m->mn_prev, m->seq, CTP_ST_AUTH_FAILED);
			return;
		}
		if ((x = xfer_new(e, &m->mn_prev, XR_PAR, p->conf.name)) == NULL) {
			send_refusal(e, p->conf.name, &m->mn_prev, m->seq, CTP_ST_NO_RESOURCES);
			return;
		}
		x->seq = m->seq;
		x->token = m->token;
		x->req_gen = p->gen;
		x->req_bound = 1;
		req_fpts(x, m);
		x->key = ctp_secret_dup(key->p, key->len);
		/* token 0: no CTAR yet; the key goes with the contexts (RFC 4067 2.5.6) */
		x->predictive = m->token == 0;
		if (!x->predictive)
			x->have_kn = ctp_notify_key(key->p, key->len, m->seq, x->kn) == 0;
		source_start(x, !x->predictive && x->have_kn);
		return;
	}
	if (ctp_node_conf(e->node)->roles & CTP_ROLE_SG) {
		/* an SG asked by its AR: authorised by the AR's role (PROFILE 3) */
		if ((x = xfer_new(e, &m->mn_prev, XR_SOURCE, p->conf.name)) == NULL) {
			send_refusal(e, p->conf.name, &m->mn_prev, m->seq, CTP_ST_NO_RESOURCES);
			return;
		}
		x->seq = m->seq;
		x->req_gen = p->gen;
		x->req_bound = 1;
		req_fpts(x, m);
		source_start(x, 0);
		return;
	}
	log_info("mn %s: CT-Req from %s, but no key for this MN",
	    ctp_addr_fmt(&m->mn_prev, (char[CTP_ADDRSTRLEN]){ 0 }, CTP_ADDRSTRLEN), p->conf.name);
	send_refusal(e, p->conf.name, &m->mn_prev, m->seq, CTP_ST_AUTH_FAILED);
}

/* The MN's CTAR checks out against the key that came with the contexts. */
static int
held_ctar_ok(struct xfer *x, const struct ctp_msg *ctar)
{
	if (!x->key || !ctp_token_verify(x->key->p, x->key->len, ctar))
		return 0;
	x->have_kn = ctp_notify_key(x->key->p, x->key->len, ctar->seq, x->kn) == 0;
	/* RFC 4067 2.7: nAR discards the key at once */
	ctp_secret_free(x->key);
	x->key = NULL;
	return 1;
}

/* Refuse a CTD outright: a CTDR with one status per CDB it carried. */
static void
refuse_ctd(struct ctp_engine *e, struct ctp_peer *p, const struct ctp_msg *m, uint8_t status)
{
	struct ctp_msg *r = malloc(sizeof *r);
	size_t len;
	struct ctp_err err = { 0 };

	if (!r)
		return;
	ctp_msg_init(r, CTP_MSG_CTDR, m->mn_prev.family);
	r->mn_prev = m->mn_prev;
	for (size_t i = 0; i < m->ncdb; i++)
		(void)ctp_msg_add_status(r, m->cdb[i].fpt, status);
	if (ctp_msg_encode(r, e->out, MSG_CAP, &len, &err) == 0)
		(void)peer_send(e, p->conf.name, e->out, len, 0);
	free(r);
}

static void
on_ctd(struct ctp_engine *e, struct ctp_peer *p, const struct ctp_msg *m)
{
	struct xfer *x = xfer_find(e, &m->mn_prev);
	int refused = 0, seq_ok = -1;

	if (x && (x->role == XR_PAR) && x->state == XS_FETCHING) {
		on_fetched(x, p, m);
		return;
	}
	if (x && x->role == XR_NAR && x->state == XS_REQUESTED && strcmp(x->peer, p->conf.name) == 0) {
		sink_control(x, m, &refused, &seq_ok);
		if (seq_ok == 0) {
			log_info("transfer mn=%s id=%s: a CTD for another request ignored",
			    xfer_mnstr(x),
			    x->idstr);
			return;
		}
		uv_timer_stop(&x->timer);
		if (refused) {
			refuse_mn(x, (uint8_t)refused);
			xfer_end(x, "refused by the source");
			return;
		}
		if (sink_take(x, m)) {
			refuse_mn(x, CTP_ST_NO_RESOURCES);
			send_ctdr(x, x->peer, -2, &(uint8_t){ CTP_ST_NO_RESOURCES });
			xfer_end(x, "refused");
			return;
		}
		if (m->type == CTP_MSG_PCTD) {
			x->key = ctp_secret_dup(m->key, m->key_len);
			x->predictive = 1;
			if (!x->have_ctar) {
				/* network pull: wait for the MN */
				xfer_state(x, XS_HELD, "PCTD: waiting for the MN's CTAR");
				xfer_timer(x, H(e));
				return;
			}
			/* the CTAR's token was not checked yet: check it with the key */
			if (!held_ctar_ok(x, &(struct ctp_msg){ .type = CTP_MSG_CTAR, .mn_prev = x->mn,
			    .seq = x->seq, .token = x->token, .cdb_raw = x->req, .cdb_raw_len = x->reqlen })) {
				e->st.ctar_bad_token++;
				refuse_mn(x, CTP_ST_AUTH_FAILED);
				send_ctdr(x, x->peer, -2, &(uint8_t){ CTP_ST_AUTH_FAILED });
				xfer_end(x, "refused: bad token");
				return;
			}
		}
		sink_install(x);
		return;
	}
	if (x && x->role == XR_NAR && x->state == XS_HELD) {
		return;   /* a resent PCTD: we have it already */
	}
	if (x) {
		if (x->state == XS_RELAYING || x->state == XS_NOTIFYING)
			return;   /* a late duplicate of what we are working on */
		log_info("mn %s: %s from %s while a %s transfer is live: refused (busy)",
		    xfer_mnstr(x),
		    ctp_msg_name(m->type), p->conf.name, role_names[x->role]);
		if (ctp_msg_xflag(m))
			refuse_ctd(e, p, m, CTP_ST_BUSY);
		return;
	}
	/* no transfer: a push (PCTD) from an AR, or a relay (CTD) to an SG */
	if (m->type == CTP_MSG_PCTD && (p->conf.roles & CTP_ROLE_AR)) {
		if (e->held >= e->conf->limits.cached_pctd) {
			log_warn("mn %s: %llu pushed contexts held already (the limit): refused",
			    ctp_addr_fmt(&m->mn_prev, (char[CTP_ADDRSTRLEN]){ 0 }, CTP_ADDRSTRLEN),
			    (unsigned long long)e->held);
			e->st.refused++;
			refuse_ctd(e, p, m, CTP_ST_NO_RESOURCES);
			return;
		}
		if ((x = xfer_new(e, &m->mn_prev, XR_NAR, p->conf.name)) == NULL) {
			refuse_ctd(e, p, m, CTP_ST_NO_RESOURCES);
			return;
		}
		sink_control(x, m, &refused, &seq_ok);
		if (refused || sink_take(x, m)) {
			xfer_end(x, "refused");
			return;
		}
		x->key = ctp_secret_dup(m->key, m->key_len);
		x->predictive = 1;
		xfer_state(x, XS_HELD, "PCTD pushed: waiting for the MN's CTAR");
		xfer_timer(x, H(e));
		return;
	}
	if (m->type == CTP_MSG_CTD && (ctp_node_conf(e->node)->roles & CTP_ROLE_SG)) {
		if ((x = xfer_new(e, &m->mn_prev, XR_SINK, p->conf.name)) == NULL)
			return;
		sink_control(x, m, &refused, &seq_ok);
		if (refused) {
			xfer_end(x, "refused by the source");
			return;
		}
		if (sink_take(x, m)) {
			send_ctdr(x, x->peer, -2, &(uint8_t){ CTP_ST_NO_RESOURCES });
			xfer_end(x, "refused");
			return;
		}
		sink_install(x);
		return;
	}
	log_info("mn %s: unsolicited %s from %s ignored",
	    ctp_addr_fmt(&m->mn_prev, (char[CTP_ADDRSTRLEN]){ 0 }, CTP_ADDRSTRLEN),
	    ctp_msg_name(m->type), p->conf.name);
}

static void
on_ctdr(struct ctp_engine *e, struct ctp_peer *p, const struct ctp_msg *m)
{
	struct xfer *x = xfer_find(e, &m->mn_prev);
	uint8_t st[CTP_MAX_CDBS];

	if (!x) {
		log_debug("CTDR from %s for an MN with no transfer: ignored", p->conf.name);
		return;
	}
	if ((x->role == XR_NAR || x->role == XR_SINK) && x->state == XS_RELAYING) {
		on_relayed(x, p, m);
		return;
	}
	if (!((x->role == XR_PAR || x->role == XR_SOURCE) && x->state == XS_SENT &&
	    strcmp(x->peer, p->conf.name) == 0))
		return;
	uv_timer_stop(&x->timer);
	if (ctp_msg_xflag(m)) {
		source_finish(x, NULL, 0, CTP_XFER_COMMIT);
		return;
	}
	if (m->nstatus == 0) {
		if (p->gen != x->sent_gen)
			log_notice("transfer mn=%s id=%s: a refusal from %s on a later association: "
			    "read as timed out", xfer_mnstr(x), x->idstr, p->conf.name);
		source_finish(x, NULL, 0, p->gen != x->sent_gen ? CTP_XFER_ABORT_UNKNOWN :
		    CTP_XFER_ABORT_CLEAN);
		return;
	}
	if (m->nstatus != x->ncdb) {
		/* we cannot tell which context went where: assume the worst */
		log_warn("transfer mn=%s id=%s: CTDR with %zu entries for %zu CDBs", xfer_mnstr(x),
		    x->idstr, m->nstatus, x->ncdb);
		source_finish(x, NULL, 0, CTP_XFER_ABORT_UNKNOWN);
		return;
	}
	for (size_t i = 0; i < m->nstatus; i++)
		st[i] = m->status[i].code;
	stale_verdict(st, m->nstatus, p->gen, x->sent_gen);
	source_finish(x, st, m->nstatus, CTP_XFER_ABORT_CLEAN);
}

static void
on_ctc(struct ctp_engine *e, struct ctp_peer *p, const struct ctp_msg *m)
{
	struct xfer *x = xfer_find(e, &m->mn_prev);

	if (!x || strcmp(x->peer, p->conf.name) != 0)
		return;
	if ((x->role == XR_PAR || x->role == XR_SOURCE) &&
	    (x->state == XS_SENT || x->state == XS_FETCHING)) {
		int stale = x->state == XS_SENT && p->gen != x->sent_gen;

		uv_timer_stop(&x->timer);
		log_info("transfer mn=%s id=%s: cancelled by %s%s", xfer_mnstr(x), x->idstr,
		    p->conf.name,
		    stale ? " on a later association: read as timed out" : "");
		source_finish(x, NULL, 0, stale ? CTP_XFER_ABORT_UNKNOWN : CTP_XFER_ABORT_CLEAN);
	}
}

static void
on_peer_msg(struct ctp_peer *p, const struct ctp_msg *m, const uint8_t *raw, size_t len, void *ud)
{
	struct ctp_engine *e = ud;

	(void)raw;
	(void)len;
	if (m->ncdb > e->conf->limits.cdbs_per_message) {
		log_warn("peer %s: %s with %zu CDBs (the limit is %u): refused", p->conf.name,
		    ctp_msg_name(m->type), m->ncdb, e->conf->limits.cdbs_per_message);
		e->st.refused++;
		if (m->type == CTP_MSG_CTD || m->type == CTP_MSG_PCTD)
			refuse_ctd(e, p, m, CTP_ST_NO_RESOURCES);
		else if (m->type == CTP_MSG_CTREQ)
			send_refusal(e, p->conf.name, &m->mn_prev, m->seq, CTP_ST_NO_RESOURCES);
		return;
	}
	switch (m->type) {
	case CTP_MSG_CTREQ: on_ctreq(e, p, m); break;
	case CTP_MSG_CTD:
	case CTP_MSG_PCTD: on_ctd(e, p, m); break;
	case CTP_MSG_CTDR: on_ctdr(e, p, m); break;
	case CTP_MSG_CTC: on_ctc(e, p, m); break;
	default:
		log_info("peer %s sent %s, which only a mobile node sends: ignored", p->conf.name,
		    ctp_msg_name(m->type));
	}
}

/* ---- messages from mobile nodes ---------------------------------------------- */

/* CT_REQUEST_RATE as a token bucket; above it, CTARs are dropped. */
static int
rate_ok(struct ctp_engine *e)
{
	uint64_t now = now_ms(e);
	double rate = e->conf->timers.request_rate;

	e->bucket += (double)(now - e->bucket_at) * rate / 1000.0;
	if (e->bucket > rate)
		e->bucket = rate;
	e->bucket_at = now;
	if (e->bucket < 1.0)
		return 0;
	e->bucket -= 1.0;
	return 1;
}

static void
on_ctar(struct ctp_engine *e, const struct sockaddr *from, enum ctp_mnio_carrier carrier,
    const struct ctp_msg *m)
{
	struct ctp_secret *key;
	struct xfer *x = xfer_find(e, &m->mn_prev);
	struct ctp_peer *other;
	struct seen *dup;
	char a[CTP_ADDRSTRLEN];

	e->st.ctar_in++;
	ctp_addr_fmt(&m->mn_prev, a, sizeof a);
	if (!rate_ok(e)) {
		uint64_t n = ++e->st.ctar_dropped_rate;

		/* a flood is worth a warning, not a line per CTAR: the 1st, 2nd,
		 * 4th, 8th... drop */
		if ((n & (n - 1)) == 0)
			log_warn("mn %s: CTAR dropped: above CT_REQUEST_RATE (%u a second); %llu "
			    "dropped so far", a, e->conf->timers.request_rate, (unsigned long long)n);
		else
			log_debug("mn %s: CTAR dropped: above CT_REQUEST_RATE", a);
		return;
	}
	/*
	 * RFC 4067 2.5.1: a (seq, MN) pair seen in the last 7 s is ignored.  A
	 * CTAR we can check ourselves (nAR holding the key) is checked first,
	 * so that a forged CTAR cannot use up the MN's sequence number.
	 */
	if (!(x && x->role == XR_NAR && x->state == XS_HELD) &&
	    (dup = duplicate(e, &m->mn_prev, m->seq)) != NULL) {
		e->st.ctar_duplicate++;
		if (dup->ctaa_len && e->mn.send) {
			/* its CTAA was lost: the same answer again, no second transfer */
			log_debug("mn %s: CTAR seq %u again: CTAA resent", a, m->seq);
			(void)e->mn.send(e->mn.io, from, carrier, dup->ctaa, dup->ctaa_len);
		} else
			log_debug("mn %s: CTAR seq %u seen already: ignored", a, m->seq);
		return;
	}
	if (x && x->role == XR_NAR && x->state == XS_REQUESTED && !x->have_ctar) {
		/* a network pull is on its way: the contexts will check this CTAR */
		memcpy(&x->mn_from, from, from->sa_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
		x->carrier = carrier;
		x->seq = m->seq;
		x->token = m->token;
		x->mn_ack = ctp_msg_xflag(m);
		x->have_ctar = 1;
		if (m->cdb_raw_len && (x->req = malloc(m->cdb_raw_len)) != NULL) {
			memcpy(x->req, m->cdb_raw, m->cdb_raw_len);
			x->reqlen = m->cdb_raw_len;
		}
		return;
	}
	if (x) {
		if (x->role == XR_NAR && x->state == XS_HELD) {
			memcpy(&x->mn_from, from, from->sa_family == AF_INET6 ?
			    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
			x->carrier = carrier;
			x->seq = m->seq;
			x->token = m->token;
			x->mn_ack = ctp_msg_xflag(m);
			x->have_ctar = 1;
			req_fpts(x, m);
			uv_timer_stop(&x->timer);
			if (!held_ctar_ok(x, m)) {
				e->st.ctar_bad_token++;
				log_warn("transfer mn=%s id=%s: CTAR token does not verify: refused; "
				    "the contexts stay held", xfer_mnstr(x), x->idstr);
				refuse_mn(x, CTP_ST_AUTH_FAILED);
				x->have_ctar = 0;
				xfer_timer(x, H(e));
				return;
			}
			if (duplicate(e, &m->mn_prev, m->seq) != NULL) {
				e->st.ctar_duplicate++;
				return;
			}
			xfer_state(x, XS_HELD, "CTAR verified");
			sink_install(x);
			return;
		}
		/* one transfer per MN (RFC 4067 2.1) */
		{
			struct xfer tmp;

			memset(&tmp, 0, sizeof tmp);
			tmp.e = e;
			tmp.mn = m->mn_prev;
			memcpy(&tmp.mn_from, from, from->sa_family == AF_INET6 ?
			    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
			tmp.carrier = carrier;
			tmp.have_ctar = 1;
			tmp.mn_ack = ctp_msg_xflag(m);
			req_fpts(&tmp, m);
			refuse_mn(&tmp, CTP_ST_BUSY);
		}
		return;
	}
	key = ctp_amap_get(&e->keys, &m->mn_prev, 0);
	other = ctp_node_peer_by_addr(e->node, &m->ar);
	x = xfer_new(e, &m->mn_prev, key ? XR_PAR : XR_NAR, other ? other->conf.name : NULL);
	if (!x)
		return;
	memcpy(&x->mn_from, from, from->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in));
	x->carrier = carrier;
	x->seq = m->seq;
	x->token = m->token;
	x->mn_ack = ctp_msg_xflag(m);
	x->have_ctar = 1;
	req_fpts(x, m);
	if (m->cdb_raw_len && (x->req = malloc(m->cdb_raw_len)) != NULL) {
		memcpy(x->req, m->cdb_raw, m->cdb_raw_len);
		x->reqlen = m->cdb_raw_len;
	}
	if (!other || !(other->conf.roles & CTP_ROLE_AR)) {
		log_warn("transfer mn=%s id=%s: CTAR names AR %s, which is not a peer",
		    xfer_mnstr(x),
		    x->idstr, ctp_addr_fmt(&m->ar, a, sizeof a));
		refuse_mn(x, CTP_ST_AUTH_FAILED);
		xfer_end(x, "refused: unknown AR");
		return;
	}
	if (key) {
		/* mobile-controlled predictive (RFC 4067 2.8 b): we are pAR */
		if (!ctp_token_verify(key->p, key->len, m)) {
			e->st.ctar_bad_token++;
			refuse_mn(x, CTP_ST_AUTH_FAILED);
			xfer_end(x, "refused: bad token");
			return;
		}
		x->key = ctp_secret_dup(key->p, key->len);
		x->predictive = 1;
		source_start(x, 0);
		return;
	}
	/* we are nAR and have nothing: ask pAR (RFC 4067 2.8 d) */
	ctp_msg_init(e->m, CTP_MSG_CTREQ, x->mn.family);
	e->m->mn_prev = x->mn;
	e->m->seq = m->seq;
	e->m->token = m->token;
	{
		size_t len;

		/* the request CDBs verbatim: the token covers their octets */
		for (size_t i = 0; i < m->ncdb; i++)
			e->m->cdb[e->m->ncdb++] = m->cdb[i];
		if (encode(e, &len) < 0 || peer_send(e, x->peer, e->out, len, 0) < 0) {
			refuse_mn(x, CTP_ST_NO_RESOURCES);
			xfer_end(x, "refused");
			return;
		}
	}
	x->ctreq_seq = m->seq;
	xfer_state(x, XS_REQUESTED, "CT-Req to pAR");
	xfer_timer(x, 4 * T(e));
}

static void
on_ctna(struct ctp_engine *e, const struct ctp_msg *m, const uint8_t *raw, size_t len)
{
	struct xfer *x = xfer_find(e, &m->mn_prev);

	if (!x || x->state != XS_NOTIFYING || m->seq != x->seq)
		return;
	if (!ctp_tag_verify(raw, len, x->kn)) {
		log_warn("transfer mn=%s id=%s: CTNA tag does not verify: ignored", xfer_mnstr(x),
		    x->idstr);
		return;
	}
	xfer_end(x, "committed");
}

void
ctp_engine_mn_input(void *engine, const struct sockaddr *from, enum ctp_mnio_carrier carrier,
    const uint8_t *msg, size_t len)
{
	struct ctp_engine *e = engine;
	struct ctp_err err = { 0 };
	struct ctp_msg *m = malloc(sizeof *m);

	if (!m)
		return;
	if (ctp_msg_decode(m, msg, len, CTP_DEC_ICMP, &err) < 0) {
		ctp_node_stats(e->node)->decode_errors++;
		log_info("malformed message from a mobile node dropped: offset %zu: %s", err.off,
		    err.what);
		free(m);
		return;
	}
	ctp_node_stats(e->node)->msgs_in[m->type]++;
	ctp_node_capture(e->node, from, NULL, carrier == CTP_MNIO_UDP ? IPPROTO_UDP :
	    from->sa_family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP, msg, m->length);
	switch (m->type) {
	case CTP_MSG_CTAR: on_ctar(e, from, carrier, m); break;
	case CTP_MSG_CTNA: on_ctna(e, m, msg, m->length); break;
	default:
		log_info("a mobile node sent %s: ignored", ctp_msg_name(m->type));
	}
	free(m);
}

/* ---- keys, triggers ------------------------------------------------------------ */

int
ctp_engine_mn_key_set(struct ctp_engine *e, const struct ctp_addr *mn, const uint8_t *key,
    size_t len)
{
	struct ctp_secret *s, *old = NULL;

	if (len != 20 && len != 32)
		return CTP_E_VALUE;   /* PROFILE 1.4 */
	if ((s = ctp_secret_dup(key, len)) == NULL)
		return CTP_E_NOMEM;
	if (ctp_amap_put(&e->keys, mn, 0, s, (void **)&old) < 0) {
		ctp_secret_free(s);
		return CTP_E_NOMEM;
	}
	ctp_secret_free(old);
	return 0;
}

int
ctp_engine_mn_key_del(struct ctp_engine *e, const struct ctp_addr *mn)
{
	struct ctp_secret *s = ctp_amap_del(&e->keys, mn, 0);

	ctp_secret_free(s);
	return s ? 0 : CTP_E_NOTFOUND;
}

int
ctp_engine_trigger(struct ctp_engine *e, const struct ctp_trigger *t, struct ctp_err *err)
{
	struct ctp_peer *p = ctp_node_peer(e->node, t->peer);
	struct ctp_secret *key;
	struct xfer *x;

	if (!p)
		return ctp_err_set(err, CTP_E_NOTFOUND, 0, 0, "no peer named \"%s\"", t->peer);
	if (xfer_find(e, &t->mn))
		return ctp_err_set(err, CTP_E_STATE, 0, 0, "a transfer for this MN is live");
	switch (t->kind) {
	case CTP_TRIGGER_PUSH:
		if ((key = ctp_amap_get(&e->keys, &t->mn, 0)) == NULL)
			return ctp_err_set(err, CTP_E_NOTFOUND, 0, 0,
			    "no key for this MN: a predictive push carries it (mn-key)");
		if ((x = xfer_new(e, &t->mn, XR_PAR, t->peer)) == NULL)
			return ctp_err_set(err, CTP_E_LIMIT, 0, 0, "too many transfers");
		x->key = ctp_secret_dup(key->p, key->len);
		x->predictive = 1;
		break;
	case CTP_TRIGGER_PULL: {
		size_t len;

		if ((x = xfer_new(e, &t->mn, XR_NAR, t->peer)) == NULL)
			return ctp_err_set(err, CTP_E_LIMIT, 0, 0, "too many transfers");
		for (size_t i = 0; i < t->nfpts && i < MAX_FPTS; i++)
			x->fpts[x->nfpts++] = t->fpts[i];
		ctp_msg_init(e->m, CTP_MSG_CTREQ, t->mn.family);
		e->m->mn_prev = t->mn;
		for (size_t i = 0; i < x->nfpts; i++)
			(void)ctp_msg_add_cdb(e->m, x->fpts[i], NULL, 0);
		if (encode(e, &len) < 0 || peer_send(e, t->peer, e->out, len, 0) < 0) {
			xfer_end(x, "refused");
			return ctp_err_set(err, CTP_E_IO, 0, 0, "CT-Req to %s not sent", t->peer);
		}
		xfer_state(x, XS_REQUESTED, "trigger: CT-Req (token 0) to pAR");
		xfer_timer(x, 4 * T(e));
		return 0;
	}
	case CTP_TRIGGER_MOVE:
		if (!(p->conf.roles & CTP_ROLE_SG))
			return ctp_err_set(err, CTP_E_INVAL, 0, 0, "%s is not an SG", t->peer);
		if ((x = xfer_new(e, &t->mn, XR_SOURCE, t->peer)) == NULL)
			return ctp_err_set(err, CTP_E_LIMIT, 0, 0, "too many transfers");
		break;
	default:
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "unknown trigger");
	}
	for (size_t i = 0; i < t->nfpts && i < MAX_FPTS; i++)
		x->fpts[x->nfpts++] = t->fpts[i];
	source_start(x, 0);
	return 0;
}

/* ---- a whole node's fail-over ------------------------------------------------- */

struct mn_list {
	struct ctp_addr *v;
	size_t           n, cap;
	int              err;
};

static void
mn_list_add(void *arg, const struct ctp_addr *mn)
{
	struct mn_list *l = arg;
	struct ctp_addr a = { 0 };

	if (l->err || ctp_addr_set(&a, mn->family, mn->a) < 0)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		struct ctp_addr *v = realloc(l->v, cap * sizeof *v);

		if (!v) {
			l->err = CTP_E_NOMEM;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = a;   /* normalised: memcmp orders and compares it */
}

static int
mn_cmp(const void *x, const void *y)
{
	return memcmp(x, y, sizeof(struct ctp_addr));
}

/* Start what the window allows; finish the batch when nothing is left. */
static void
move_pump(uv_timer_t *t)
{
	struct ctp_engine *e = t->data;
	struct move_batch *b = &e->move;

	while (!b->done && b->live < b->window && b->next < b->n) {
		const struct ctp_addr *mn = &b->mns[b->next];
		char a[CTP_ADDRSTRLEN];
		struct xfer *x;

		if (xfer_find(e, mn)) {
			/* a handover of this MN is under way: it decides where it goes */
			log_notice("move-all to %s: mn %s skipped: a transfer for it is live", b->peer,
			    ctp_addr_fmt(mn, a, sizeof a));
			b->skipped++;
			b->next++;
			continue;
		}
		if ((x = xfer_new(e, mn, XR_SOURCE, b->peer)) == NULL) {
			if (b->live)
				return;   /* a limit: the next transfer to end makes room */
			log_warn("move-all to %s: mn %s not moved: no transfer can start", b->peer,
			    ctp_addr_fmt(mn, a, sizeof a));
			b->failed++;
			b->next++;
			continue;
		}
		b->next++;
		b->live++;
		x->batch = 1;
		for (size_t i = 0; i < b->nfpts; i++)
			x->fpts[x->nfpts++] = b->fpts[i];
		source_start(x, 0);
	}
	if (!b->done && b->next == b->n && b->live == 0) {
		b->done = 1;
		b->ms = now_ms(e) - b->t0;
		free(b->mns);
		b->mns = NULL;
		log_notice("move-all to %s: finished in %llu ms: %zu MNs, %llu committed, %llu failed, "
		    "%llu skipped", b->peer, (unsigned long long)b->ms, b->n,
		    (unsigned long long)b->committed, (unsigned long long)b->failed,
		    (unsigned long long)b->skipped);
	}
}

int
ctp_engine_move_all(struct ctp_engine *e, const char *peer, const uint16_t *fpts, size_t nfpts,
    size_t *count, struct ctp_err *err)
{
	struct ctp_peer *p = ctp_node_peer(e->node, peer);
	struct move_batch *b = &e->move;
	struct mn_list l = { 0 };
	size_t k = 0;

	*count = 0;
	if (!p)
		return ctp_err_set(err, CTP_E_NOTFOUND, 0, 0, "no peer named \"%s\"", peer);
	if (!(p->conf.roles & CTP_ROLE_SG))
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "%s is not an SG", peer);
	if (b->mns && !b->done)
		return ctp_err_set(err, CTP_E_STATE, 0, 0, "a move-all to %s is running (%zu of %zu "
		    "MNs started)", b->peer, b->next, b->n);
	if (nfpts > MAX_FPTS)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "at most %d FPTs", MAX_FPTS);
	for (size_t i = 0; i < ctp_registry_count(e->reg); i++) {
		const struct ctp_plugin *pl = ctp_registry_at(e->reg, i);
		struct xfer probe = { .fpts = { 0 } };
		int rc;

		if (nfpts)
			memcpy(probe.fpts, fpts, nfpts * sizeof *fpts);
		probe.nfpts = nfpts;
		if (!pl->feat->source_mns || !wants_fpt(&probe, pl->feat))
			continue;
		if ((rc = pl->feat->source_mns(pl->state, mn_list_add, &l)) < 0 || l.err) {
			free(l.v);
			return ctp_err_set(err, l.err ? l.err : rc, 0, 0, "%s could not list its MNs",
			    pl->feat->name);
		}
	}
	if (l.n)
		qsort(l.v, l.n, sizeof *l.v, mn_cmp);
	for (size_t i = 0; i < l.n; i++)
		if (k == 0 || mn_cmp(&l.v[k - 1], &l.v[i]) != 0)
			l.v[k++] = l.v[i];
	free(b->mns);
	memset(b, 0, sizeof *b);
	snprintf(b->peer, sizeof b->peer, "%s", peer);
	b->mns = l.v;
	b->n = k;
	b->t0 = now_ms(e);
	b->noted_ms = b->t0;
	/* half of what one peer may hold: handovers to it keep the other half */
	b->window = e->conf->limits.transfers_per_peer < e->conf->limits.transfers ?
	    e->conf->limits.transfers_per_peer : e->conf->limits.transfers;
	b->window = b->window > 1 ? b->window / 2 : 1;
	if (nfpts)
		memcpy(b->fpts, fpts, nfpts * sizeof *fpts);
	b->nfpts = nfpts;
	*count = k;
	log_notice("move-all to %s: %zu MNs, at most %u transfers at a time", peer, k, b->window);
	move_pump(&e->move_timer);
	return 0;
}

int
ctp_engine_move_status(const struct ctp_engine *e, struct ctp_engine_move *out)
{
	const struct move_batch *b = &e->move;

	memset(out, 0, sizeof *out);
	if (!b->peer[0])
		return CTP_E_NOTFOUND;
	memcpy(out->peer, b->peer, sizeof out->peer);
	out->running = !b->done;
	out->mns = b->n;
	out->queued = b->n - b->next;
	out->live = b->live;
	out->committed = b->committed;
	out->failed = b->failed;
	out->skipped = b->skipped;
	out->elapsed_ms = b->done ? b->ms : now_ms(e) - b->t0;
	return 0;
}

/* ---- control commands ---------------------------------------------------------- */

static struct ctp_val *
steps_val(const struct step *s, size_t n)
{
	struct ctp_val *a = ctp_val_arr();

	for (size_t i = 0; a && i < n; i++) {
		struct ctp_val *o = ctp_val_obj();

		ctp_val_set_str(o, "state", state_names[s[i].state]);
		ctp_val_set_u64(o, "at_ms", s[i].at_ms);
		ctp_val_arr_push(a, o);
	}
	return a;
}

struct list_arg {
	struct ctp_engine *e;
	struct ctp_val    *arr;
};

static void
list_live(const struct ctp_addr *a, uint32_t tag, void *val, void *arg)
{
	struct list_arg *la = arg;
	struct xfer *x = val;
	struct ctp_val *o = ctp_val_obj();

	(void)a;
	(void)tag;
	ctp_val_set_str(o, "id", x->idstr);
	ctp_val_set_str(o, "mn", xfer_mnstr(x));
	ctp_val_set_str(o, "role", role_names[x->role]);
	ctp_val_set_str(o, "mode", x->predictive ? "predictive" : "reactive");
	ctp_val_set_str(o, "state", state_names[x->state]);
	ctp_val_set_str(o, "peer", x->peer);
	ctp_val_set_u64(o, "started_ms", (uint64_t)time(NULL) * 1000 - (now_ms(la->e) - x->t0));
	ctp_val_set_u64(o, "elapsed_ms", now_ms(la->e) - x->t0);
	ctp_val_set_str(o, "outcome", "");
	ctp_val_obj_set(o, "steps", steps_val(x->steps, x->nsteps));
	ctp_val_arr_push(la->arr, o);
}

static int
cmd_transfers(void *state, const struct ctp_val *req, struct ctp_val *r, struct ctp_err *err)
{
	struct ctp_engine *e = state;
	struct list_arg la = { .e = e, .arr = ctp_val_arr() };

	(void)req;
	(void)err;
	ctp_amap_each(&e->live, list_live, &la);
	for (size_t k = 0; k < e->nhist; k++) {
		const struct hist *h = &e->hist[(e->hist_next + HISTORY - e->nhist + k) % HISTORY];
		struct ctp_val *o = ctp_val_obj();

		ctp_val_set_str(o, "id", h->idstr);
		ctp_val_set_str(o, "mn", h->mnstr);
		ctp_val_set_str(o, "role", role_names[h->role]);
		ctp_val_set_str(o, "mode", h->predictive ? "predictive" : "reactive");
		ctp_val_set_str(o, "state", "done");
		ctp_val_set_str(o, "peer", h->peer);
		ctp_val_set_u64(o, "started_ms", h->started_wall_ms);
		ctp_val_set_u64(o, "elapsed_ms", h->elapsed_ms);
		ctp_val_set_str(o, "outcome", h->outcome ? h->outcome : "");
		ctp_val_obj_set(o, "steps", steps_val(h->steps, h->nsteps));
		ctp_val_arr_push(la.arr, o);
	}
	return ctp_val_obj_set(r, "transfers", la.arr);
}

static int
parse_fpts(const struct ctp_val *req, uint16_t *fpts, size_t *n, struct ctp_err *err)
{
	const struct ctp_val *a = ctp_val_get(req, "fpts");

	*n = 0;
	if (!a)
		return 0;
	if (a->kind != CTP_V_ARR || a->n > MAX_FPTS)
		return ctp_err_set(err, CTP_E_VALUE, 0, 0, "\"fpts\": an array of up to %d FPTs",
		    MAX_FPTS);
	for (size_t i = 0; i < a->n; i++) {
		if (a->items[i]->kind != CTP_V_INT || a->items[i]->neg || a->items[i]->u > 0xffff)
			return ctp_err_set(err, CTP_E_VALUE, 0, 0, "\"fpts\"[%zu] is not an FPT", i);
		fpts[(*n)++] = (uint16_t)a->items[i]->u;
	}
	return 0;
}

static int
cmd_trigger(void *state, const struct ctp_val *req, struct ctp_val *r, struct ctp_err *err)
{
	struct ctp_engine *e = state;
	struct ctp_trigger t = { 0 };
	const char *kind, *mn, *peer;
	uint16_t fpts[MAX_FPTS];
	int rc;

	size_t count;

	if (ctp_val_get_str(req, "kind", &kind, err) < 0)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0,
		    "trigger needs \"kind\" (push, pull, move, move-all), \"mn\" and \"peer\"");
	if (strcmp(kind, "move-all") == 0) {
		size_t n;

		if (ctp_val_get_str(req, "peer", &peer, err) < 0)
			return ctp_err_set(err, CTP_E_INVAL, 0, 0, "move-all needs \"peer\"");
		if ((rc = parse_fpts(req, fpts, &n, err)) < 0 ||
		    (rc = ctp_engine_move_all(e, peer, fpts, n, &count, err)) < 0)
			return rc;
		return ctp_val_set_u64(r, "mns", count);
	}
	if (ctp_val_get_str(req, "mn", &mn, err) < 0 || ctp_val_get_str(req, "peer", &peer, err) < 0)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0,
		    "trigger needs \"kind\" (push, pull, move, move-all), \"mn\" and \"peer\"");
	t.kind = strcmp(kind, "push") == 0 ? CTP_TRIGGER_PUSH : strcmp(kind, "pull") == 0 ?
	    CTP_TRIGGER_PULL : strcmp(kind, "move") == 0 ? CTP_TRIGGER_MOVE : 0;
	if (!t.kind)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "kind \"%s\": push, pull, move or move-all",
		    kind);
	if (ctp_addr_parse(&t.mn, mn) < 0)
		return ctp_err_set(err, CTP_E_VALUE, 0, 0, "\"%s\" is not an address", mn);
	if ((rc = parse_fpts(req, fpts, &t.nfpts, err)) < 0)
		return rc;
	t.fpts = fpts;
	t.peer = peer;
	return ctp_engine_trigger(e, &t, err);
}

static void
list_key(const struct ctp_addr *a, uint32_t tag, void *val, void *arg)
{
	char buf[CTP_ADDRSTRLEN];

	(void)tag;
	(void)val;
	ctp_val_arr_push(arg, ctp_val_str(ctp_addr_fmt(a, buf, sizeof buf)));
}

/* {"op":"set","mn":A,"key":HEX} | {"op":"set","keys":[{"mn","key"}...]} |
 * {"op":"del","mn":A} | {"op":"list"}: keys go in, never out. */
static int
cmd_mn_key(void *state, const struct ctp_val *req, struct ctp_val *r, struct ctp_err *err)
{
	struct ctp_engine *e = state;
	const struct ctp_val *keys = ctp_val_get(req, "keys");
	const char *op, *mn;
	struct ctp_addr a;
	uint8_t key[CTP_KEY_MAX];
	size_t n, done = 0;
	int rc = 0;

	if (ctp_val_get_str(req, "op", &op, err) < 0)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "mn-key needs \"op\": set, del or list");
	if (strcmp(op, "list") == 0) {
		struct ctp_val *arr = ctp_val_arr();

		ctp_amap_each(&e->keys, list_key, arr);
		return ctp_val_obj_set(r, "mns", arr);
	}
	for (size_t i = 0; rc == 0 && i < (keys ? keys->n : 1); i++) {
		const struct ctp_val *o = keys ? keys->items[i] : req;

		if (ctp_val_get_str(o, "mn", &mn, err) < 0 || ctp_addr_parse(&a, mn) < 0) {
			rc = ctp_err_set(err, CTP_E_VALUE, 0, 0, "entry %zu: \"mn\" must be an address", i);
			break;
		}
		if (strcmp(op, "del") == 0) {
			if (ctp_engine_mn_key_del(e, &a) == 0)
				done++;
			continue;
		}
		if (strcmp(op, "set") != 0) {
			rc = ctp_err_set(err, CTP_E_INVAL, 0, 0, "op \"%s\": set, del or list", op);
			break;
		}
		if (ctp_val_get_hex(o, "key", key, sizeof key, &n, err) < 0 ||
		    (rc = ctp_engine_mn_key_set(e, &a, key, n)) < 0)
			rc = ctp_err_set(err, CTP_E_VALUE, 0, 0, "entry %zu: \"key\" must be 20 or 32 "
			    "octets of hex", i);
		else
			done++;
	}
	ctp_wipe(key, sizeof key);
	if (rc == 0)
		ctp_val_set_u64(r, "count", done);
	return rc;
}

static void
describe_status(struct ctp_val *r, void *ud)
{
	struct ctp_engine *e = ud;

	struct ctp_engine_move m;
	struct ctp_val *mv;

	ctp_val_set_u64(r, "transfers_live", e->st.live);
	if (ctp_engine_move_status(e, &m) < 0 || (mv = ctp_val_obj()) == NULL)
		return;   /* no move-all yet */
	ctp_val_set_str(mv, "peer", m.peer);
	ctp_val_set_str(mv, "state", m.running ? "running" : "finished");
	ctp_val_set_u64(mv, "mns", m.mns);
	ctp_val_set_u64(mv, "queued", m.queued);
	ctp_val_set_u64(mv, "live", m.live);
	ctp_val_set_u64(mv, "committed", m.committed);
	ctp_val_set_u64(mv, "failed", m.failed);
	ctp_val_set_u64(mv, "skipped", m.skipped);
	ctp_val_set_u64(mv, "elapsed_ms", m.elapsed_ms);
	ctp_val_obj_set(r, "moves", mv);
}

static void
describe_stats(struct ctp_val *r, void *ud)
{
	struct ctp_engine *e = ud;
	struct ctp_val *t = ctp_val_obj(), *mn = ctp_val_obj();

	ctp_val_set_u64(t, "started", e->st.started);
	ctp_val_set_u64(t, "committed", e->st.committed);
	ctp_val_set_u64(t, "aborted", e->st.aborted);
	ctp_val_set_u64(t, "timed_out", e->st.timed_out);
	ctp_val_set_u64(t, "refused", e->st.refused);
	ctp_val_set_u64(t, "live", e->st.live);
	ctp_val_obj_set(r, "transfers", t);
	ctp_val_set_u64(mn, "ctar_in", e->st.ctar_in);
	ctp_val_set_u64(mn, "ctar_dropped_rate", e->st.ctar_dropped_rate);
	ctp_val_set_u64(mn, "ctar_duplicate", e->st.ctar_duplicate);
	ctp_val_set_u64(mn, "ctar_bad_token", e->st.ctar_bad_token);
	ctp_val_obj_set(r, "mobile_nodes", mn);
}

/* ---- life cycle ------------------------------------------------------------- */

static const struct ctp_node_handler handler = {
	.peer_msg = on_peer_msg,
	.describe_status = describe_status,
	.describe_stats = describe_stats,
};

int
ctp_engine_new(struct ctp_node *node, struct ctp_engine **out, struct ctp_err *err)
{
	struct ctp_engine *e = calloc(1, sizeof *e);
	const struct ctp_host_ops *ops = ctp_node_host_ops();

	if (!e || (e->m = malloc(sizeof *e->m)) == NULL || (e->out = malloc(MSG_CAP)) == NULL ||
	    (e->ctl = malloc(256)) == NULL || ctp_amap_init(&e->live) < 0 ||
	    ctp_amap_init(&e->keys) < 0 || ctp_amap_init(&e->seen) < 0) {
		if (e) {
			free(e->m);
			free(e->out);
			free(e->ctl);
			if (e->live.b)
				ctp_amap_fini(&e->live);
			if (e->keys.b)
				ctp_amap_fini(&e->keys);
			free(e);
		}
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
	}
	e->node = node;
	e->conf = ctp_node_conf(node);
	e->reg = ctp_node_registry(node);
	e->bucket = e->conf->timers.request_rate;
	e->bucket_at = now_ms(e);
	uv_timer_init(ctp_node_loop(node), &e->move_timer);
	e->move_timer.data = e;
	ctp_node_set_handler(node, &handler, e);
	ops->register_cmd((struct ctp_host *)(void *)node, "transfers", cmd_transfers, e);
	ops->register_cmd((struct ctp_host *)(void *)node, "trigger", cmd_trigger, e);
	ops->register_cmd((struct ctp_host *)(void *)node, "mn-key", cmd_mn_key, e);
	*out = e;
	return 0;
}

void
ctp_engine_set_mn_ops(struct ctp_engine *e, const struct ctp_engine_mn_ops *ops)
{
	e->mn = *ops;
}

void
ctp_engine_stats(const struct ctp_engine *e, struct ctp_engine_stats *out)
{
	*out = e->st;
	out->held = e->held;
}

struct endall {
	struct xfer *x[1024];
	size_t       n;
};

static void
collect_live(const struct ctp_addr *a, uint32_t tag, void *val, void *arg)
{
	struct endall *ea = arg;

	(void)a;
	(void)tag;
	if (ea->n < 1024)
		ea->x[ea->n++] = val;
}

static void
free_key(const struct ctp_addr *a, uint32_t tag, void *val, void *arg)
{
	(void)a;
	(void)tag;
	(void)arg;
	ctp_secret_free(val);
}

static void
engine_freed(uv_handle_t *h)
{
	free(h->data);
}

void
ctp_engine_free(struct ctp_engine *e)
{
	struct endall ea;

	if (!e)
		return;
	do {
		ea.n = 0;
		ctp_amap_each(&e->live, collect_live, &ea);
		for (size_t i = 0; i < ea.n; i++) {
			struct xfer *x = ea.x[i];

			if (x->role == XR_PAR || x->role == XR_SOURCE)
				source_finish(x, NULL, 0, CTP_XFER_ABORT_UNKNOWN);
			else if (x->state == XS_RELAYING)
				sink_finish(x, 1);
			else
				xfer_end(x, "aborted: shutting down");
		}
	} while (ea.n);
	ctp_amap_each(&e->keys, free_key, NULL);
	ctp_amap_fini(&e->keys);
	ctp_amap_fini(&e->live);
	seen_expire(e, UINT64_MAX, 0);
	ctp_amap_fini(&e->seen);
	free(e->move.mns);
	free(e->m);
	free(e->out);
	free(e->ctl);
	/* the engine goes with its last handle, on the loop's next turn */
	uv_close((uv_handle_t *)&e->move_timer, engine_freed);
}
