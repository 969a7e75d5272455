/*
 * ctp_tr_rto.h: SCTP retransmission parameters derived from
 * CT_MAX_TRANSFER_TIME (PROFILE 1.7), shared by every SCTP backend so that
 * the kernel and the usrsctp stack time out alike.  Private to src/ctp;
 * header-only because it is a few lines of arithmetic that both backends
 * (which cannot share a translation unit) must agree on exactly.
 *
 * The derivation, with T = max_transfer_ms (0 means the profile default,
 * 200 ms; clamped to 40 ms .. 60 s):
 *
 *   RTO.min     = T/4, within 10 ms .. 1 s.  Between ARs the RTT is small,
 *                 so once it is measured the RTO sits at RTO.min: a lost
 *                 packet is sent again after T/4 and, doubled, once more
 *                 after 3T/4, so one loss (even two) still fits inside T.
 *   SACK        = every packet at once (sack_freq 1): RTO.min only holds
 *                 if the peer does not sit on its SACK for the default
 *                 200 ms; sack_delay (T/8, 10 .. 200 ms) is the fallback
 *                 a stack uses should it ignore the frequency.
 *   RTO.initial = T/2, within RTO.min .. 3 s: before the first RTT sample
 *                 (INIT, COOKIE-ECHO); RFC 9260's 1 s default would let a
 *                 single lost INIT eat five transfer budgets.
 *   RTO.max     = 4T, within RTO.initial .. 60 s: the backoff stops there,
 *                 so a recovering path is probed at least every 4T.
 *   dead time   = 50T, within 2 s .. 120 s: how long a silent peer keeps
 *                 its association (50 transfer budgets: a short outage,
 *                 e.g. a link flap, does not cost a new association and
 *                 TLS handshake; a dead peer is noticed in seconds).
 *   Association.Max.Retrans = the number of consecutive retransmissions
 *                 whose backed-off timeouts (RTO.min, doubling, capped at
 *                 RTO.max) first add up to the dead time.
 *   Path.Max.Retrans = half of that (RFC 9260 keeps the same 1:2 ratio,
 *                 5 and 10): a multi-homed peer fails over to another path
 *                 well before the association gives up.
 *   Max.Init.Retransmits = the same sum starting from RTO.initial, with
 *                 RTO.max as the INIT timeout cap: an unreachable peer is
 *                 reported after about the dead time too.
 *   HB.interval = dead time / 4, within 1 .. 30 s: an idle association
 *                 notices a dead peer in a few dead times, not RFC 9260's
 *                 30 s per probe.
 *   shutdown    = 2 RTO.max, within 1 .. 10 s: how long closing the
 *                 transport waits for SHUTDOWN-COMPLETE before aborting.
 *
 * At the default T = 200 ms: RTO 50/100/800 ms (min/initial/max), dead
 * time 10 s, Association.Max.Retrans 15, Path.Max.Retrans 8,
 * Max.Init.Retransmits 14, heartbeat 2.5 s, shutdown wait 1.6 s.
 *
 * There is deliberately no PR-SCTP lifetime here: the secure channel above
 * is a TLS byte stream, and an abandoned record would break it for good,
 * so no backend ever abandons a message (see ctp_tr_kernel.c).
 */
#ifndef CTP_TR_RTO_H
#define CTP_TR_RTO_H

#include <stdint.h>

#define CTP_TR_RTO_DEFAULT_MS 200u   /* CT_MAX_TRANSFER_TIME, PROFILE 1.7 */

struct ctp_tr_rto {
	uint32_t transfer_ms;      /* T as used, after the default and clamps */
	uint32_t rto_min_ms;
	uint32_t rto_initial_ms;
	uint32_t rto_max_ms;
	uint32_t dead_ms;          /* target time to declare a silent peer lost */
	uint16_t assoc_max_rxt;    /* Association.Max.Retrans */
	uint16_t path_max_rxt;     /* Path.Max.Retrans */
	uint16_t max_init_rxt;     /* Max.Init.Retransmits */
	uint16_t max_init_timeo_ms; /* cap of the INIT timer (sinit_max_init_timeo) */
	uint32_t hb_interval_ms;
	uint32_t sack_delay_ms;
	uint32_t sack_freq;
	uint32_t shutdown_ms;
};

static inline uint32_t
ctp_tr_rto_clamp(uint64_t v, uint32_t lo, uint32_t hi)
{
	return v < lo ? lo : v > hi ? hi : (uint32_t)v;
}

/* How many retransmissions, timed first, first*2, ... capped at max, it
 * takes for the timeouts to add up to total (between 1 and 30). */
static inline uint16_t
ctp_tr_rto_count(uint32_t first, uint32_t max, uint32_t total)
{
	uint64_t sum = 0, rto = first;
	uint16_t n = 0;

	/* the first timeout is the original transmission's, hence <= */
	for (sum = rto; sum < total && n < 30; sum += rto) {
		rto = rto * 2 > max ? max : rto * 2;
		n++;
	}
	return n < 1 ? 1 : n;
}

static inline void
ctp_tr_rto_derive(unsigned max_transfer_ms, struct ctp_tr_rto *r)
{
	uint32_t t = max_transfer_ms ? ctp_tr_rto_clamp(max_transfer_ms, 40, 60000) :
	    CTP_TR_RTO_DEFAULT_MS;

	r->transfer_ms = t;
	r->rto_min_ms = ctp_tr_rto_clamp(t / 4, 10, 1000);
	r->rto_initial_ms = ctp_tr_rto_clamp(t / 2, r->rto_min_ms, 3000);
	r->rto_max_ms = ctp_tr_rto_clamp(4ull * t, r->rto_initial_ms, 60000);
	r->dead_ms = ctp_tr_rto_clamp(50ull * t, 2000, 120000);
	r->assoc_max_rxt = ctp_tr_rto_count(r->rto_min_ms, r->rto_max_ms, r->dead_ms);
	r->path_max_rxt = (uint16_t)((r->assoc_max_rxt + 1) / 2);
	r->max_init_rxt = ctp_tr_rto_count(r->rto_initial_ms, r->rto_max_ms, r->dead_ms);
	r->max_init_timeo_ms = (uint16_t)r->rto_max_ms;   /* <= 60000 */
	r->hb_interval_ms = ctp_tr_rto_clamp(r->dead_ms / 4, 1000, 30000);
	r->sack_freq = 1;
	r->sack_delay_ms = ctp_tr_rto_clamp(t / 8, 10, 200);
	r->shutdown_ms = ctp_tr_rto_clamp(2ull * r->rto_max_ms, 1000, 10000);
}

#endif
