/*
 * ctpmn_run.c: the mobile node's side of handovers (RFC 4067 2.5.1, 2.5.2,
 * 2.8, 2.9; PROFILE 4), for one MN or many sharing one ctp_mnio.
 *
 * Each MN is a small state machine with one uv_timer:
 *
 *   IDLE --start--> WAIT(leg) --CTAA or CT_RETRY_MAX--> ...
 *
 *   reactive:    IDLE -> WAIT(nAR) -> LINGER -> DONE
 *   predictive:  IDLE -> WAIT(pAR) -> HANDOVER (--wait-ms) -> WAIT(nAR)
 *                     -> LINGER -> DONE
 *
 * WAIT is skipped when A = 0 (--no-ack): RFC 4067 2.9 retransmits only
 * CTARs that asked for an answer.  In WAIT the CTAR goes out again after
 * CT_REQUEST_RETRY, doubling each time, until a CTAA arrives or
 * CT_RETRY_MAX after the first transmission (2, 6, 14 s; give up at 15 s
 * with the defaults).  A retransmission is the same message, sequence
 * number included.  A predictive MN moves on to nAR when pAR does not
 * answer: the handover happens anyway, and nAR can still fetch (RFC 4067
 * 2.8 (b)).  LINGER waits --ctn-ms for a CTN that has not come yet.
 *
 * Replies are matched to MNs by the MN previous address alone (a CTAA
 * carries nothing else), which is why the simulated MNs have distinct
 * addresses: base + i, so the look-up is a subtraction.  A CTAA counts only
 * when it comes from the AR the MN is waiting for; a CTN only when it
 * names the MN's sequence number and its tag verifies under K_n (PROFILE
 * 4).  The MN answers a verified CTN with a CTNA, also a retransmitted
 * one (its CTNA may have been lost), and ignores an unverified one.
 *
 * A status entry in a CTAA names an FPT that was not transferred (RFC 4067
 * 2.5.2).  Entries with status 0 (success) or 0x81 (SPI reassigned, which
 * PROFILE 6 counts as success: the MN learns the new SPI from a CTN) are
 * reported but are not failures.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "ctp/ctp_defs.h"
#include "ctp/ctp_describe.h"
#include "ctp/ctp_feature.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_mnio.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_registry.h"
#include "ctp/ctp_secret.h"
#include "ctp/ctp_token.h"
#include "ctp/ctp_val.h"
#include "ctpmn.h"

#define CTPMN_FAIL_LINES 10   /* failed MNs named on stderr by `many` */

enum ctpmn_state { MN_IDLE, MN_WAIT, MN_HANDOVER, MN_LINGER, MN_DONE };
enum { LEG_PAR, LEG_NAR };

static const char *const ctpmn_run_leg_names[] = { "par", "nar" };
static const char *const ctpmn_run_leg_wire[] = { "pAR", "nAR" };

/* One CTAR and its answer. */
struct ctpmn_leg {
	int                     used;
	struct ctp_addr         ar;
	unsigned                sent;
	uint64_t                first_ms, last_ms, gap_ms;   /* loop time */
	uint64_t                first_ns, rtt_ns;            /* uv_hrtime */
	int                     answered, timed_out;
	unsigned                failures;
	struct ctp_val         *status;                      /* array */
	char                    from[CTP_ADDRSTRLEN];
	char                    why[160];                    /* first failure */
};

struct ctpmn_run;

struct ctpmn_mn {
	struct ctpmn_run   *run;
	struct ctpmn_node  *node;
	uv_timer_t          timer;
	enum ctpmn_state    state;
	int                 leg;           /* LEG_PAR or LEG_NAR */
	struct ctpmn_leg    legs[2];
	int                 ctn_done;      /* a verified CTN was answered */
	size_t              nctn;
	uint8_t             ctn_tags[CTPMN_CTN_MAX][CTP_TAG_LEN];
	struct ctp_val     *ctn;           /* array of reports */
	uint64_t            ctn_repeats, ctnas;
	uint64_t            bytes_out, bytes_in, pkts_out, pkts_in;
	uint64_t            start_ns, done_ns;
};

struct ctpmn_run {
	const struct ctpmn_opts *o;
	uv_loop_t                loop;
	struct ctp_mnio         *io;
	enum ctp_mnio_carrier    carrier;
	struct sockaddr_storage  to[2];   /* pAR and nAR */
	struct ctp_registry     *reg;
	struct ctpmn_mn         *mns;
	size_t                   n, done;
	struct ctp_addr          base;
	uint64_t                 t0_ns, end_ns;
	uint64_t                 undecodable, send_errors;
	struct ctp_msg           in;      /* scratch: the message being read */
	struct ctp_msg           out;     /* scratch: the message being written */
	uint8_t                  buf[CTP_MAX_MSG_LEN];
};

/* ---- the plugins, for describing CTN CDBs (as ctpctl does) ------------------- */

static void
ctpmn_run_host_log(struct ctp_host *host, int level, const char *func, const char *msg)
{
	(void)host;
	ctp_logf(level, func, "%s", msg);
}

static uint64_t
ctpmn_run_host_now_ms(struct ctp_host *host)
{
	struct timespec ts;

	(void)host;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const struct ctp_host_ops ctpmn_run_host_ops = {
	.size = sizeof(struct ctp_host_ops),
	.log = ctpmn_run_host_log,
	.now_ms = ctpmn_run_host_now_ms,
};

/* A CTN's CDBs print by name when a plugin serves them; without plugins
 * they print as data, which is no reason to fail a handover. */
static struct ctp_registry *
ctpmn_run_plugins(const char *dir)
{
	struct ctp_registry *reg = ctp_registry_new(&ctpmn_run_host_ops, NULL);
	struct ctp_err err = { 0 };
	char buf[PATH_MAX];

	if (!reg)
		return NULL;
	if (!dir)
		dir = ctp_registry_default_dir(buf, sizeof buf);
	if (dir && ctp_registry_load_dir(reg, dir, &err) < 0) {
		log_warn("plugins not loaded, CTN contents will show as data: %s", err.what);
		ctp_registry_free(reg);
		return NULL;
	}
	return reg;
}

/* ---- helpers ---------------------------------------------------------------- */

static void
ctpmn_run_sockaddr(const struct ctp_addr *a, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (a->family == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, a->a, 4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, a->a, 16);
	}
}

/* The sender's address as CXTP carries it (v4-mapped IPv6 as IPv4). */
static void
ctpmn_run_from(const struct sockaddr *sa, struct ctp_addr *a)
{
	memset(a, 0, sizeof *a);
	if (sa->sa_family == AF_INET) {
		ctp_addr_set(a, 4, (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr);
	} else if (sa->sa_family == AF_INET6) {
		const uint8_t *p = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)p))
			ctp_addr_set(a, 4, p + 12);
		else
			ctp_addr_set(a, 6, p);
	}
}

/* i when a = base + i for some i < n, else -1. */
static long
ctpmn_run_index(const struct ctpmn_run *r, const struct ctp_addr *a)
{
	size_t len = ctp_addr_len(a->family);
	uint8_t d[16];
	unsigned borrow = 0;
	uint64_t v = 0;

	if (a->family != r->base.family || len == 0)
		return -1;
	for (size_t i = len; i-- > 0;) {
		int x = (int)a->a[i] - (int)r->base.a[i] - (int)borrow;

		borrow = x < 0;
		d[i] = (uint8_t)(x < 0 ? x + 256 : x);
	}
	if (borrow)
		return -1;
	for (size_t i = 0; i + 4 < len; i++)
		if (d[i])
			return -1;
	for (size_t i = len - 4; i < len; i++)
		v = v << 8 | d[i];
	return v < r->n ? (long)v : -1;
}

static uint64_t
ctpmn_run_ms(uint64_t ns)
{
	return (ns + 500000) / 1000000;
}

/* Status 0 and 0x81 are successes that a CTAA may still list (above). */
static int
ctpmn_run_is_failure(unsigned code)
{
	return code != CTP_ST_SUCCESS && code != CTP_ST_IPSEC_SPI_REASSIGNED;
}

/* ---- sending ------------------------------------------------------------------ */

/* The CTAR of a leg (RFC 4067 2.5.1): to nAR it carries pAR's address, to
 * pAR nAR's; the sequence number and the request CDBs, and so the token,
 * are the same in both. */
static int
ctpmn_run_ctar(struct ctpmn_run *r, const struct ctpmn_node *nd, int leg, size_t *len)
{
	const struct ctpmn_opts *o = r->o;
	struct ctp_err err = { 0 };
	int rc;

	ctp_msg_init(&r->out, CTP_MSG_CTAR, nd->prev.family);
	if (o->ack)
		r->out.flags |= CTP_HDR_X;
	r->out.mn_prev = nd->prev;
	r->out.ar = leg == LEG_PAR ? o->nar : o->par;
	r->out.seq = nd->seq;
	r->out.token = nd->token;
	for (size_t i = 0; i < o->nfpts; i++)
		if ((rc = ctp_msg_add_cdb(&r->out, o->fpts[i], NULL, 0)) < 0)
			return rc;
	if ((rc = ctp_msg_encode(&r->out, r->buf, sizeof r->buf, len, &err)) < 0)
		log_err("cannot encode the CTAR: %s", err.what);
	return rc;
}

static void
ctpmn_run_send(struct ctpmn_run *r, struct ctpmn_mn *mn, const struct sockaddr *to,
    enum ctp_mnio_carrier carrier, size_t len, const char *what)
{
	char a[CTP_ADDRSTRLEN];
	struct ctp_addr ta;
	int rc;

	rc = ctp_mnio_send(r->io, to, carrier, r->buf, len);
	if (rc < 0) {
		/* lost like a packet on the air: a CTAR goes out again, nAR
		 * retransmits its CTN; said at powers of two, for a burst */
		ctpmn_run_from(to, &ta);
		r->send_errors++;
		if ((r->send_errors & (r->send_errors - 1)) == 0)
			log_warn("%s to %s: %s (%" PRIu64 " not sent so far)", what,
			    ctp_addr_fmt(&ta, a, sizeof a), ctp_strerror(rc), r->send_errors);
		return;
	}
	mn->pkts_out++;
	mn->bytes_out += len;
}

static void
ctpmn_run_send_ctar(struct ctpmn_run *r, struct ctpmn_mn *mn)
{
	struct ctpmn_leg *l = &mn->legs[mn->leg];
	size_t len;

	if (ctpmn_run_ctar(r, mn->node, mn->leg, &len) < 0)
		return;
	if (l->sent == 0) {
		l->first_ns = uv_hrtime();
		l->first_ms = uv_now(&r->loop);
		l->gap_ms = r->o->retry_ms;
	} else {
		l->gap_ms *= 2;
	}
	l->last_ms = uv_now(&r->loop);
	l->sent++;
	ctpmn_run_send(r, mn, (const struct sockaddr *)&r->to[mn->leg], r->carrier, len, "CTAR");
}

/* ---- the state machine ------------------------------------------------------- */

static void ctpmn_run_timer_cb(uv_timer_t *h);
static void ctpmn_run_enter_wait(struct ctpmn_run *r, struct ctpmn_mn *mn, int leg);

static void
ctpmn_run_arm(struct ctpmn_mn *mn, uint64_t ms)
{
	uv_timer_start(&mn->timer, ctpmn_run_timer_cb, ms, 0);
}

static void
ctpmn_run_closed(uv_handle_t *h)
{
	(void)h;
}

static void
ctpmn_run_finish(struct ctpmn_run *r)
{
	r->end_ns = uv_hrtime();
	ctp_mnio_close(r->io);
	r->io = NULL;
	for (size_t i = 0; i < r->n; i++)
		uv_close((uv_handle_t *)&r->mns[i].timer, ctpmn_run_closed);
}

static void
ctpmn_run_done(struct ctpmn_run *r, struct ctpmn_mn *mn)
{
	if (mn->state == MN_DONE)
		return;
	mn->state = MN_DONE;
	mn->done_ns = uv_hrtime();
	uv_timer_stop(&mn->timer);
	if (++r->done == r->n)
		ctpmn_run_finish(r);
}

/* After the last CTAR was answered (or given up on). */
static void
ctpmn_run_enter_linger(struct ctpmn_run *r, struct ctpmn_mn *mn)
{
	if (mn->ctn_done || r->o->ctn_ms == 0) {
		ctpmn_run_done(r, mn);
		return;
	}
	mn->state = MN_LINGER;
	ctpmn_run_arm(mn, r->o->ctn_ms);
}

/* The timer of the WAIT state: the next retransmission or the end. */
static void
ctpmn_run_arm_wait(struct ctpmn_run *r, struct ctpmn_mn *mn)
{
	struct ctpmn_leg *l = &mn->legs[mn->leg];
	uint64_t now = uv_now(&r->loop), deadline = l->first_ms + r->o->timeout_ms;
	uint64_t next = l->last_ms + l->gap_ms;

	if (next > deadline)
		next = deadline;
	ctpmn_run_arm(mn, next > now ? next - now : 0);
}

/* The CTAR of a leg has gone; what comes next. */
static void
ctpmn_run_after_ctar(struct ctpmn_run *r, struct ctpmn_mn *mn)
{
	if (r->o->ack) {
		mn->state = MN_WAIT;
		ctpmn_run_arm_wait(r, mn);
	} else if (mn->leg == LEG_PAR) {
		mn->state = MN_HANDOVER;
		ctpmn_run_arm(mn, r->o->wait_ms);
	} else {
		ctpmn_run_enter_linger(r, mn);
	}
}

static void
ctpmn_run_enter_wait(struct ctpmn_run *r, struct ctpmn_mn *mn, int leg)
{
	mn->leg = leg;
	mn->legs[leg].used = 1;
	ctpmn_run_send_ctar(r, mn);
	ctpmn_run_after_ctar(r, mn);
}

/* A leg is over, answered or not. */
static void
ctpmn_run_leg_over(struct ctpmn_run *r, struct ctpmn_mn *mn)
{
	if (mn->leg == LEG_PAR) {
		mn->state = MN_HANDOVER;
		ctpmn_run_arm(mn, r->o->wait_ms);
	} else if (mn->legs[LEG_NAR].timed_out) {
		ctpmn_run_done(r, mn);
	} else {
		ctpmn_run_enter_linger(r, mn);
	}
}

static void
ctpmn_run_timer_cb(uv_timer_t *h)
{
	struct ctpmn_mn *mn = h->data;
	struct ctpmn_run *r = mn->run;
	struct ctpmn_leg *l = &mn->legs[mn->leg];
	uint64_t now = uv_now(&r->loop);
	char a[CTP_ADDRSTRLEN], b[CTP_ADDRSTRLEN];

	switch (mn->state) {
	case MN_IDLE:
		mn->start_ns = uv_hrtime();
		ctpmn_run_enter_wait(r, mn, r->o->predictive ? LEG_PAR : LEG_NAR);
		break;
	case MN_WAIT:
		if (now >= l->first_ms + r->o->timeout_ms) {
			/* RFC 4067 2.9: CT_RETRY_MAX after the first transmission */
			l->timed_out = 1;
			snprintf(l->why, sizeof l->why, "no CTAA from %s %s within %" PRIu64
			    " ms (%u CTAR%s sent)", ctpmn_run_leg_wire[mn->leg],
			    ctp_addr_fmt(&l->ar, a, sizeof a), r->o->timeout_ms, l->sent,
			    l->sent == 1 ? "" : "s");
			log_info("%s: %s", ctp_addr_fmt(&mn->node->prev, b, sizeof b), l->why);
			ctpmn_run_leg_over(r, mn);
			break;
		}
		if (now >= l->last_ms + l->gap_ms) {
			log_info("%s: CTAR to %s %s again (%u sent)",
			    ctp_addr_fmt(&mn->node->prev, b, sizeof b), ctpmn_run_leg_wire[mn->leg],
			    ctp_addr_fmt(&l->ar, a, sizeof a), l->sent);
			ctpmn_run_send_ctar(r, mn);
		}
		ctpmn_run_arm_wait(r, mn);
		break;
	case MN_HANDOVER:
		ctpmn_run_enter_wait(r, mn, LEG_NAR);
		break;
	case MN_LINGER:
		ctpmn_run_done(r, mn);
		break;
	case MN_DONE:
		break;
	}
}

/* ---- receiving ----------------------------------------------------------------- */

static void
ctpmn_run_ctaa(struct ctpmn_run *r, struct ctpmn_mn *mn, const struct ctp_addr *from)
{
	const struct ctp_msg *m = &r->in;
	struct ctpmn_leg *l = &mn->legs[mn->leg];
	char a[CTP_ADDRSTRLEN], b[CTP_ADDRSTRLEN], c[CTP_ADDRSTRLEN];

	if (mn->state != MN_WAIT) {
		log_debug("%s: CTAA from %s while not waiting for one (a repeat): ignored",
		    ctp_addr_fmt(&mn->node->prev, a, sizeof a), ctp_addr_fmt(from, b, sizeof b));
		return;
	}
	if (!ctp_addr_eq(from, &l->ar)) {
		log_info("%s: CTAA from %s, waiting for %s %s: ignored",
		    ctp_addr_fmt(&mn->node->prev, a, sizeof a), ctp_addr_fmt(from, b, sizeof b),
		    ctpmn_run_leg_wire[mn->leg], ctp_addr_fmt(&l->ar, c, sizeof c));
		return;
	}
	l->answered = 1;
	l->rtt_ns = uv_hrtime() - l->first_ns;
	ctp_addr_fmt(from, l->from, sizeof l->from);
	l->status = ctp_val_arr();
	for (size_t i = 0; i < m->nstatus; i++) {
		const struct ctp_status_ent *s = &m->status[i];
		const char *name = ctp_status_name(s->code);
		struct ctp_val *e = ctp_val_obj();

		ctp_val_set_u64(e, "fpt", s->fpt);
		ctp_val_set_u64(e, "status", s->code);
		ctp_val_set_str(e, "status_name", name ? name : "UNKNOWN");
		ctp_val_arr_push(l->status, e);
		if (ctpmn_run_is_failure(s->code)) {
			if (l->failures++ == 0)
				snprintf(l->why, sizeof l->why, "%s %s did not transfer FPT 0x%04x: %s (%u)",
				    ctpmn_run_leg_wire[mn->leg], ctp_addr_fmt(from, c, sizeof c), s->fpt,
				    name ? name : "UNKNOWN",
				    s->code);
		}
	}
	log_info("%s: CTAA from %s after %.3f ms, %u status entr%s",
	    ctp_addr_fmt(&mn->node->prev, a, sizeof a), l->from, (double)l->rtt_ns / 1e6,
	    (unsigned)m->nstatus, m->nstatus == 1 ? "y" : "ies");
	ctpmn_run_leg_over(r, mn);
}

static void
ctpmn_run_ctna(struct ctpmn_run *r, struct ctpmn_mn *mn, const struct sockaddr *to,
    enum ctp_mnio_carrier carrier)
{
	struct ctp_err err = { 0 };
	size_t len;

	ctp_msg_init(&r->out, CTP_MSG_CTNA, mn->node->prev.family);
	r->out.mn_prev = mn->node->prev;
	r->out.seq = mn->node->seq;
	if (ctp_msg_encode(&r->out, r->buf, sizeof r->buf, &len, &err) < 0 ||
	    ctp_tag_seal(r->buf, len, mn->node->kn) < 0) {
		log_err("cannot build the CTNA: %s", err.what[0] ? err.what : "HMAC failed");
		return;
	}
	mn->ctnas++;
	ctpmn_run_send(r, mn, to, carrier, len, "CTNA");
}

/* The CTN's CDBs as ctpctl decode shows them. */
static struct ctp_val *
ctpmn_run_describe_cdbs(struct ctpmn_run *r)
{
	struct ctp_err err = { 0 };
	struct ctp_val *d = NULL, *cdbs = NULL;

	if (ctp_msg_describe(&r->in, r->reg, &d, &err) < 0) {
		/* a plugin refused a CDB: show it as data rather than not at all */
		log_info("CTN CDBs: %s; shown as data", err.what);
		ctp_err_clear(&err);
		d = NULL;
		if (ctp_msg_describe(&r->in, NULL, &d, &err) < 0)
			return ctp_val_arr();
	}
	for (size_t i = 0; d && i < d->n; i++)
		if (strcmp(d->members[i].key, "cdbs") == 0) {
			cdbs = d->members[i].val;
			d->members[i].val = NULL;   /* ours now; freeing d skips it */
		}
	ctp_val_free(d);
	return cdbs ? cdbs : ctp_val_arr();
}

static void
ctpmn_run_ctn(struct ctpmn_run *r, struct ctpmn_mn *mn, const struct sockaddr *from,
    const struct ctp_addr *fa, enum ctp_mnio_carrier carrier, const uint8_t *raw)
{
	const struct ctp_msg *m = &r->in;
	char a[CTP_ADDRSTRLEN], b[CTP_ADDRSTRLEN];
	struct ctp_val *rep = NULL;
	int verified;

	ctp_addr_fmt(&mn->node->prev, a, sizeof a);
	ctp_addr_fmt(fa, b, sizeof b);
	if (m->seq != mn->node->seq) {
		log_notice("%s: CTN from %s for sequence number %" PRIu32 ", ours is %" PRIu32
		    ": ignored", a, b, m->seq, mn->node->seq);
		return;
	}
	/* the tag covers the message as its Length says (ICMP may pad) */
	verified = ctp_tag_verify(raw, m->length, mn->node->kn);
	for (size_t i = 0; i < mn->nctn; i++)
		if (memcmp(mn->ctn_tags[i], m->tag, CTP_TAG_LEN) == 0) {
			/* a retransmission: nAR did not get our CTNA */
			mn->ctn_repeats++;
			if (verified)
				ctpmn_run_ctna(r, mn, from, carrier);
			return;
		}
	if (!verified)
		log_warn("%s: CTN from %s: the tag does not verify under K_n: ignored, no CTNA",
		    a, b);
	else
		log_info("%s: CTN from %s verified, %zu CDB%s", a, b, m->ncdb,
		    m->ncdb == 1 ? "" : "s");
	if (mn->nctn < CTPMN_CTN_MAX) {
		memcpy(mn->ctn_tags[mn->nctn++], m->tag, CTP_TAG_LEN);
		rep = ctp_val_obj();
		ctp_val_set_str(rep, "from", b);
		ctp_val_obj_set(rep, "verified", ctp_val_bool(verified));
		ctp_val_obj_set(rep, "cdbs", ctpmn_run_describe_cdbs(r));
		ctp_val_arr_push(mn->ctn, rep);
	}
	if (!verified)
		return;
	if (r->o->nsa && rep) {
		struct ctp_val *upd = ctp_val_arr();

		if (upd) {
			(void)ctpmn_sa_apply(r->o->sa, r->o->nsa, m, upd);
			ctp_val_obj_set(rep, "sa_updates", upd);
		}
	}
	ctpmn_run_ctna(r, mn, from, carrier);
	mn->ctn_done = 1;
	if (mn->state == MN_LINGER)
		ctpmn_run_done(r, mn);
}

static void
ctpmn_run_input(void *ud, const struct sockaddr *from, enum ctp_mnio_carrier carrier,
    const uint8_t *msg, size_t len)
{
	struct ctpmn_run *r = ud;
	struct ctp_err err = { 0 };
	struct ctpmn_mn *mn;
	struct ctp_addr fa;
	char a[CTP_ADDRSTRLEN];
	long i;

	ctpmn_run_from(from, &fa);
	if (ctp_msg_decode(&r->in, msg, len, CTP_DEC_ICMP, &err) < 0) {
		r->undecodable++;
		log_info("from %s: not a CXTP message: %s", ctp_addr_fmt(&fa, a, sizeof a), err.what);
		return;
	}
	/* what an MN receives; anything else (our own CTARs looped back on
	 * a host that is also the AR) is not for us */
	if (r->in.type != CTP_MSG_CTAA && r->in.type != CTP_MSG_CTN)
		return;
	if ((i = ctpmn_run_index(r, &r->in.mn_prev)) < 0) {
		char b[CTP_ADDRSTRLEN];

		log_debug("%s from %s for %s, not one of ours",
		    ctp_msg_name(r->in.type), ctp_addr_fmt(&fa, a, sizeof a),
		    ctp_addr_fmt(&r->in.mn_prev, b, sizeof b));
		return;
	}
	mn = &r->mns[i];
	mn->pkts_in++;
	mn->bytes_in += len;
	if (r->in.type == CTP_MSG_CTAA)
		ctpmn_run_ctaa(r, mn, &fa);
	else
		ctpmn_run_ctn(r, mn, from, &fa, carrier, msg);
}

/* ---- the token's input, before the run ----------------------------------------- */

int
ctpmn_run_cdbs(const struct ctpmn_opts *o, const struct ctp_addr *prev, uint8_t *cdbs,
    size_t cap, size_t *cdblen)
{
	struct ctpmn_run *r = calloc(1, sizeof *r);
	struct ctpmn_node nd;
	struct ctp_err err = { 0 };
	size_t len;
	int rc;

	if (!r)
		return CTP_E_NOMEM;
	r->o = o;
	memset(&nd, 0, sizeof nd);
	nd.prev = *prev;
	/* RFC 4067 2.7: the request CDBs exactly as the CTAR carries them,
	 * so take them from an encoded CTAR */
	if ((rc = ctpmn_run_ctar(r, &nd, LEG_NAR, &len)) == 0 &&
	    (rc = ctp_msg_decode(&r->in, r->buf, len, 0, &err)) == 0) {
		if (r->in.cdb_raw_len > cap)
			rc = CTP_E_NOSPACE;
		else {
			if (r->in.cdb_raw_len)
				memcpy(cdbs, r->in.cdb_raw, r->in.cdb_raw_len);
			*cdblen = r->in.cdb_raw_len;
		}
	}
	free(r);
	return rc;
}

/* ---- the report ------------------------------------------------------------------ */

static const char *
ctpmn_run_result(const struct ctpmn_mn *mn)
{
	if (mn->legs[LEG_PAR].timed_out || mn->legs[LEG_NAR].timed_out ||
	    mn->state != MN_DONE)
		return "timeout";
	if (mn->legs[LEG_PAR].failures || mn->legs[LEG_NAR].failures)
		return "refused";
	return "ok";
}

/* Why an MN did not succeed, one line. */
static const char *
ctpmn_run_why(const struct ctpmn_mn *mn)
{
	for (int k = LEG_PAR; k <= LEG_NAR; k++)
		if (mn->legs[k].timed_out)
			return mn->legs[k].why;
	for (int k = LEG_PAR; k <= LEG_NAR; k++)
		if (mn->legs[k].failures)
			return mn->legs[k].why;
	return "";
}

static struct ctp_val *
ctpmn_run_mn_json(const struct ctpmn_run *r, struct ctpmn_mn *mn)
{
	struct ctp_val *o = ctp_val_obj(), *ctaa = ctp_val_arr(), *un = ctp_val_arr();
	const char *res = ctpmn_run_result(mn);
	char a[CTP_ADDRSTRLEN], tok[9];

	ctp_val_set_str(o, "mn", ctp_addr_fmt(&mn->node->prev, a, sizeof a));
	ctp_val_set_u64(o, "seq", mn->node->seq);
	snprintf(tok, sizeof tok, "%08" PRIx32, mn->node->token);
	ctp_val_set_str(o, "token", tok);
	ctp_val_set_str(o, "mode", r->o->predictive ? "predictive" : "reactive");
	ctp_val_obj_set(o, "a", ctp_val_bool(r->o->ack));
	for (int k = LEG_PAR; k <= LEG_NAR; k++) {
		struct ctpmn_leg *l = &mn->legs[k];
		struct ctp_val *e;

		if (l->answered) {
			e = ctp_val_obj();
			ctp_val_set_str(e, "from", l->from);
			ctp_val_set_str(e, "ar", ctpmn_run_leg_names[k]);
			ctp_val_set_u64(e, "rtt_ms", ctpmn_run_ms(l->rtt_ns));
			ctp_val_set_u64(e, "rtt_us", (l->rtt_ns + 500) / 1000);
			ctp_val_set_u64(e, "retransmissions", l->sent ? l->sent - 1 : 0);
			ctp_val_obj_set(e, "status", l->status);
			l->status = NULL;
			ctp_val_arr_push(ctaa, e);
		} else if (l->used && r->o->ack) {
			e = ctp_val_obj();
			ctp_val_set_str(e, "to", ctp_addr_fmt(&l->ar, a, sizeof a));
			ctp_val_set_str(e, "ar", ctpmn_run_leg_names[k]);
			ctp_val_set_u64(e, "ctars_sent", l->sent);
			ctp_val_arr_push(un, e);
		}
	}
	ctp_val_obj_set(o, "ctaa", ctaa);
	ctp_val_obj_set(o, "unanswered", un);
	ctp_val_obj_set(o, "ctn", mn->ctn);
	mn->ctn = NULL;
	ctp_val_set_u64(o, "ctna_sent", mn->ctnas);
	ctp_val_set_u64(o, "bytes_sent", mn->bytes_out);
	ctp_val_set_u64(o, "bytes_received", mn->bytes_in);
	ctp_val_set_u64(o, "packets_sent", mn->pkts_out);
	ctp_val_set_u64(o, "packets_received", mn->pkts_in);
	ctp_val_set_u64(o, "elapsed_ms", ctpmn_run_ms((mn->done_ns ? mn->done_ns : r->end_ns) -
	    (mn->start_ns ? mn->start_ns : r->t0_ns)));
	ctp_val_set_str(o, "result", res);
	if (strcmp(res, "ok") != 0)
		ctp_val_set_str(o, "error", ctpmn_run_why(mn));
	return o;
}

static void
ctpmn_run_print_leg(const struct ctpmn_run *r, const struct ctpmn_mn *mn, int k)
{
	const struct ctpmn_leg *l = &mn->legs[k];
	char a[CTP_ADDRSTRLEN];

	if (!l->used)
		return;
	printf("  CTAR to %s %s", ctpmn_run_leg_wire[k], ctp_addr_fmt(&l->ar, a, sizeof a));
	if (!r->o->ack) {
		printf(": sent (A = 0, no answer asked for)\n");
		return;
	}
	if (!l->answered) {
		printf(": no CTAA within %" PRIu64 " ms, %u CTAR%s sent\n", r->o->timeout_ms,
		    l->sent, l->sent == 1 ? "" : "s");
		return;
	}
	printf(": CTAA from %s after %.3f ms, %u retransmission%s", l->from,
	    (double)l->rtt_ns / 1e6, l->sent - 1, l->sent == 2 ? "" : "s");
	if (!l->status || l->status->n == 0) {
		printf(", everything transferred\n");
		return;
	}
	printf("\n");
	for (size_t i = 0; i < l->status->n; i++) {
		const struct ctp_val *e = l->status->items[i];
		uint64_t fpt = 0, st = 0;
		const char *name = "";

		ctp_val_get_u64(e, "fpt", UINT16_MAX, &fpt, NULL);
		ctp_val_get_u64(e, "status", UINT8_MAX, &st, NULL);
		ctp_val_get_str(e, "status_name", &name, NULL);
		printf("    FPT 0x%04" PRIx64 ": %s (%" PRIu64 ")%s\n", fpt, name, st,
		    ctpmn_run_is_failure((unsigned)st) ? ", not transferred" : "");
	}
}

static void
ctpmn_run_print_one(const struct ctpmn_run *r, struct ctpmn_mn *mn)
{
	char a[CTP_ADDRSTRLEN];
	const char *res = ctpmn_run_result(mn);

	printf("MN %s, sequence number %" PRIu32 " (0x%08" PRIx32 "), %s, over %s\n",
	    ctp_addr_fmt(&mn->node->prev, a, sizeof a), mn->node->seq, mn->node->seq,
	    r->o->predictive ? "predictive" : "reactive",
	    r->carrier == CTP_MNIO_UDP ? "UDP" : "ICMP");
	ctpmn_run_print_leg(r, mn, LEG_PAR);
	ctpmn_run_print_leg(r, mn, LEG_NAR);
	for (size_t i = 0; mn->ctn && i < mn->ctn->n; i++) {
		const struct ctp_val *c = mn->ctn->items[i];
		const struct ctp_val *v = ctp_val_get(c, "verified");
		const char *from = "";

		ctp_val_get_str(c, "from", &from, NULL);
		if (v && v->u) {
			printf("  CTN from %s: tag verified, CTNA sent; it says:\n", from);
			ctp_val_print_tree(ctp_val_get(c, "cdbs"), stdout);
		} else {
			printf("  CTN from %s: the tag does not verify: ignored\n", from);
		}
	}
	printf("result: %s%s%s; packets: %" PRIu64 " sent (%" PRIu64 " octets), %" PRIu64
	    " received (%" PRIu64 " octets), %" PRIu64 " ms\n", res, *ctpmn_run_why(mn) ? ": " : "",
	    ctpmn_run_why(mn), mn->pkts_out, mn->bytes_out, mn->pkts_in, mn->bytes_in,
	    ctpmn_run_ms(r->end_ns - r->t0_ns));
}

static int
ctpmn_run_cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* Nearest rank on sorted values. */
static uint64_t
ctpmn_run_pct(const uint64_t *v, size_t n, unsigned p)
{
	size_t rank = (n * p + 99) / 100;

	return v[rank ? rank - 1 : 0];
}

static struct ctp_val *
ctpmn_run_lat_json(const uint64_t *v, size_t n, uint64_t div)
{
	struct ctp_val *o = ctp_val_obj();

	ctp_val_set_u64(o, "n", n);
	if (n) {
		ctp_val_set_u64(o, "min", (v[0] + div / 2) / div);
		ctp_val_set_u64(o, "median", (ctpmn_run_pct(v, n, 50) + div / 2) / div);
		ctp_val_set_u64(o, "p90", (ctpmn_run_pct(v, n, 90) + div / 2) / div);
		ctp_val_set_u64(o, "p99", (ctpmn_run_pct(v, n, 99) + div / 2) / div);
		ctp_val_set_u64(o, "max", (v[n - 1] + div / 2) / div);
	}
	return o;
}

/* Prints the report; returns the exit status. */
static int
ctpmn_run_report(struct ctpmn_run *r)
{
	const struct ctpmn_opts *o = r->o;
	size_t ok = 0, refused = 0, timedout = 0, nlat = 0, named = 0;
	uint64_t bo = 0, bi = 0, po = 0, pi = 0, *lat;
	char a[CTP_ADDRSTRLEN];

	lat = calloc(r->n ? r->n : 1, sizeof *lat);
	if (!lat) {
		fprintf(stderr, "ctpmn %s: out of memory\n", o->cmd);
		return 1;
	}
	for (size_t i = 0; i < r->n; i++) {
		struct ctpmn_mn *mn = &r->mns[i];
		const char *res = ctpmn_run_result(mn);

		bo += mn->bytes_out, bi += mn->bytes_in, po += mn->pkts_out, pi += mn->pkts_in;
		if (mn->legs[LEG_NAR].answered)
			lat[nlat++] = mn->legs[LEG_NAR].rtt_ns / 1000;
		if (strcmp(res, "ok") == 0) {
			ok++;
			continue;
		}
		if (strcmp(res, "refused") == 0)
			refused++;
		else
			timedout++;
		if (!o->many)
			fprintf(stderr, "ctpmn %s: %s: %s\n", o->cmd, res, ctpmn_run_why(mn));
		else if (named++ < CTPMN_FAIL_LINES)
			fprintf(stderr, "ctpmn %s: %s: %s: %s\n", o->cmd,
			    ctp_addr_fmt(&mn->node->prev, a, sizeof a), res, ctpmn_run_why(mn));
	}
	if (named > CTPMN_FAIL_LINES)
		fprintf(stderr, "ctpmn %s: ... and %zu more\n", o->cmd, named - CTPMN_FAIL_LINES);
	qsort(lat, nlat, sizeof *lat, ctpmn_run_cmp_u64);

	if (!o->many) {
		if (o->json) {
			struct ctp_val *v = ctpmn_run_mn_json(r, &r->mns[0]);

			ctp_json_write(v, stdout, CTP_JSON_PRETTY);
			printf("\n");
			ctp_val_free(v);
		} else {
			ctpmn_run_print_one(r, &r->mns[0]);
		}
	} else if (o->json) {
		struct ctp_val *v = ctp_val_obj(), *arr = ctp_val_arr();

		ctp_val_set_u64(v, "count", r->n);
		ctp_val_set_str(v, "mode", o->predictive ? "predictive" : "reactive");
		ctp_val_set_str(v, "carrier", r->carrier == CTP_MNIO_UDP ? "udp" : "icmp");
		ctp_val_set_u64(v, "ok", ok);
		ctp_val_set_u64(v, "failed", refused);
		ctp_val_set_u64(v, "timed_out", timedout);
		ctp_val_obj_set(v, "latency_ms", ctpmn_run_lat_json(lat, nlat, 1000));
		ctp_val_obj_set(v, "latency_us", ctpmn_run_lat_json(lat, nlat, 1));
		ctp_val_set_u64(v, "bytes_sent", bo);
		ctp_val_set_u64(v, "bytes_received", bi);
		ctp_val_set_u64(v, "packets_sent", po);
		ctp_val_set_u64(v, "packets_received", pi);
		ctp_val_set_u64(v, "elapsed_ms", ctpmn_run_ms(r->end_ns - r->t0_ns));
		for (size_t i = 0; i < r->n; i++)
			ctp_val_arr_push(arr, ctpmn_run_mn_json(r, &r->mns[i]));
		ctp_val_obj_set(v, "mns", arr);
		ctp_json_write(v, stdout, CTP_JSON_PRETTY);
		printf("\n");
		ctp_val_free(v);
	} else {
		printf("%zu MN%s (%s, over %s): %zu ok, %zu failed, %zu timed out\n", r->n,
		    r->n == 1 ? "" : "s", o->predictive ? "predictive" : "reactive",
		    r->carrier == CTP_MNIO_UDP ? "UDP" : "ICMP", ok, refused, timedout);
		if (nlat)
			printf("CTAR->CTAA latency at nAR (%zu answers): median %.3f ms, p90 %.3f ms, "
			    "p99 %.3f ms, max %.3f ms\n", nlat, ctpmn_run_pct(lat, nlat, 50) / 1e3,
			    ctpmn_run_pct(lat, nlat, 90) / 1e3, ctpmn_run_pct(lat, nlat, 99) / 1e3,
			    lat[nlat - 1] / 1e3);
		printf("packets: %" PRIu64 " sent (%" PRIu64 " octets), %" PRIu64 " received (%" PRIu64
		    " octets), %" PRIu64 " ms\n", po, bo, pi, bi, ctpmn_run_ms(r->end_ns - r->t0_ns));
	}
	fflush(stdout);
	free(lat);
	return ok == r->n ? 0 : 1;
}

/* ---- the run ---------------------------------------------------------------------- */

int
ctpmn_run(const struct ctpmn_opts *o, struct ctpmn_node *nodes, size_t n)
{
	struct ctp_mnio_cfg cfg;
	struct ctp_err err = { 0 };
	struct ctpmn_run *r;
	int rc = 1, loop_open = 0;

	if ((r = calloc(1, sizeof *r)) == NULL ||
	    (r->mns = calloc(n ? n : 1, sizeof *r->mns)) == NULL) {
		fprintf(stderr, "ctpmn %s: out of memory\n", o->cmd);
		goto out;
	}
	r->o = o;
	r->n = n;
	r->base = nodes[0].prev;
	r->carrier = o->udp_port ? CTP_MNIO_UDP : CTP_MNIO_ICMP;
	if (uv_loop_init(&r->loop) < 0) {
		fprintf(stderr, "ctpmn %s: cannot start the event loop\n", o->cmd);
		goto out;
	}
	loop_open = 1;
	r->reg = ctpmn_run_plugins(o->plugins);

	memset(&cfg, 0, sizeof cfg);
	cfg.icmp = o->udp_port == 0;
	cfg.udp_ephemeral = o->udp_port != 0;
	cfg.bind = o->src;
	if (o->src.ss_family == AF_UNSPEC)
		/* only the family the MN uses: no IPv6 socket for an IPv4 MN */
		cfg.bind.ss_family = nodes[0].prev.family == 4 ? AF_INET : AF_INET6;
	cfg.ifname = o->ifname;
	if (ctp_mnio_open(&r->loop, &cfg, ctpmn_run_input, r, &r->io, &err) < 0) {
		fprintf(stderr, "ctpmn %s: %s%s\n", o->cmd, err.what,
		    cfg.icmp ? "; --udp PORT needs no privilege" : "");
		goto out;
	}

	ctpmn_run_sockaddr(&o->par, o->par_udp_port ? o->par_udp_port : o->udp_port,
	    &r->to[LEG_PAR]);
	ctpmn_run_sockaddr(&o->nar, o->udp_port, &r->to[LEG_NAR]);
	uv_update_time(&r->loop);
	r->t0_ns = uv_hrtime();
	for (size_t i = 0; i < n; i++) {
		struct ctpmn_mn *mn = &r->mns[i];

		mn->run = r;
		mn->node = &nodes[i];
		mn->ctn = ctp_val_arr();
		mn->legs[LEG_PAR].ar = o->par;
		mn->legs[LEG_NAR].ar = o->nar;
		uv_timer_init(&r->loop, &mn->timer);
		mn->timer.data = mn;
		/* --rate: MN i starts i / rate seconds in */
		ctpmn_run_arm(mn, o->rate > 0 ? (uint64_t)((double)i * 1000.0 / o->rate) : 0);
	}
	if (n == 0)
		ctpmn_run_finish(r);
	uv_run(&r->loop, UV_RUN_DEFAULT);
	rc = ctpmn_run_report(r);
out:
	if (r) {
		if (loop_open) {
			if (r->io) {
				ctp_mnio_close(r->io);
				uv_run(&r->loop, UV_RUN_DEFAULT);
			}
			if (uv_loop_close(&r->loop) != 0)
				log_warn("event loop still busy at exit");
		}
		for (size_t i = 0; r->mns && i < n; i++) {
			ctp_val_free(r->mns[i].ctn);
			ctp_val_free(r->mns[i].legs[LEG_PAR].status);
			ctp_val_free(r->mns[i].legs[LEG_NAR].status);
		}
		free(r->mns);
		ctp_registry_free(r->reg);
		free(r);
	}
	for (size_t i = 0; i < n; i++)
		ctp_wipe(nodes[i].kn, sizeof nodes[i].kn);
	return rc;
}
