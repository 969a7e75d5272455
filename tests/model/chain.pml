/*
 * chain.pml: a Promela model of the relay chain of PROFILE 3 (the safety of
 * PROFILE 5.1 and 5.2), checked with SPIN by tests/model/run.sh
 * (make check-model).
 *
 *    S --CTD--> PR --CTD--> NR --CTD--> S'     one outbound SA, held by S,
 *    S <-CTDR-- PR <-CTDR-- NR <-CTDR-- S'     moved to S'
 *
 * A reactive handover: the MN's CTAR reaches NR (nAR, without the MN's
 * key), NR asks PR (CT-Req), PR (pAR, with the key) fetches from its SG S
 * (CT-Req, token 0), S freezes its outbound SA and snapshots its counter, the
 * CTD goes S -> PR -> NR -> S', S' installs at the snapshot's next number plus
 * the margin and starts sending, and the CTDRs go back S' -> NR -> PR -> S,
 * where the verdict deletes, thaws or quarantines S's copy.
 *
 * Every proctype and transition names the C function of src/ctp/ctp_engine.c
 * it stands for (and the plugin call, after tests/unit/kv_plugin.c).  The
 * model mirrors the code: when one changes, change the other.
 *
 * Modelled
 *   - The four nodes as processes (Source, PAR, NAR, Sink), each handling one
 *     message or timer at a time, atomically, as the engine does on its loop.
 *   - Their volatile transfer state (struct xfer: state, seq, which CDBs it
 *     holds, the fetch's done flag), pAR's MN key, nAR's (seq, MN) window.
 *   - The SAD at S and S' (kernel, or the mem backend's state file): NONE,
 *     ACTIVE, FROZEN, QUAR, and the outbound counter.
 *   - The datapath: an ACTIVE copy may send at any time, taking the next
 *     number (at most SENDMAX packets per holder).
 *   - Every timer of DECISIONS 29 as a transition that may fire at any time
 *     while its node waits: under delay, real timers fire "early".
 *   - The network: one FIFO channel per ordered pair of nodes, which is what
 *     SCTP with ordered delivery gives (PROFILE 2; never SCTP_UNORDERED).
 *     Bounded faults: LOSS messages lost (over SCTP: the association broke
 *     and a new one carries what follows), or a send that fails at once;
 *     DUPS duplicated and REORDERS reordered messages (not possible over
 *     SCTP: the "datagram" configurations of run.sh).
 *   - CRASHES crash-and-restart of one node: its transfers and (seq, MN)
 *     window are gone (ctpd keeps them in memory), so are pAR's MN keys
 *     (ctpctl mn-key, in memory) and the messages queued for it; the SAD
 *     survives, and a FROZEN SA comes back QUAR (ipsec_sad_xfrm_adopt()
 *     finds its blocks at open; ipsec_sad_mem_load() reads the state file:
 *     nobody will give a verdict for it).
 *   - The MN: a CTAR, and when no CTAA told it the handover worked, another
 *     one: the same (a retransmission, RFC 4067 2.9, as ctpmn does; nAR's
 *     window ignores it unless nAR restarted) or a new handover with a new
 *     sequence number.  With REKEY the operator or AAA may give pAR the MN's
 *     key again before it (ctpctl mn-key).
 *   - The sink may refuse (REFUSALS: a clean status, e.g. 0x83) and refuses
 *     an SA it holds already (kv_install: busy, "never twice"; the IPsec
 *     feature's 0x80 SPI conflict is the same kind of answer).
 *   - The plugin is tests/unit/kv_plugin.c by default; PAR_CDB gives the
 *     IPsec feature's difference (src/features/ipsec/ipsec_xfer.c): pAR
 *     adds a CDB of its own (the profile CDB).  Neither collects a FROZEN
 *     SA (the SAD's freeze() refuses it: another transfer has it).
 *
 * Abstracted away
 *   - Message contents: a CTD carries "no SA", "the SA with snapshot n" or a
 *     control STATUS refusal, and its REQ_SEQ; a CTDR its number of status
 *     entries (0 with S = 1) and the SA entry's class: OK (0, 0x81),
 *     TIMEDOUT (4), CLEAN (any other code): all ctp_xfer_status_outcome()
 *     looks at.  Tokens, keys, FPTs, the control CDB's other TLVs, CTAA/CTN,
 *     elapsed times, resource limits (they refuse cleanly, before anything
 *     moves) are not modelled.
 *   - Time: timers are unordered events.  One MN, one SA, one source SG and
 *     one sink SG, no review rounds, no predictive (PCTD) modes.
 *   - Numbers: SENDMAX and MARGIN are small.  The model's freeze is atomic,
 *     so any margin covers the race the real one is for (packets that passed
 *     the policy check before the block); against a stale snapshot a margin
 *     only buys a number of packets, and SENDMAX > MARGIN stands for "more
 *     packets than the margin".
 *
 * Properties (assertions; run.sh also checks invalid end states and LTL)
 *   (a) xmit(): a holder never sends a number <= the highest number any
 *       other holder has sent: no (SA, seq) pair is sent twice (PROFILE 5.1).
 *   (b) KEPT, always: S holds the SA (in any state) or S' holds it ACTIVE:
 *       no context is lost, and once S has committed (deleted its copy)
 *       exactly one node holds it (PROFILE 5.2).
 *   (c) NOFROZEN and ONEACTIVE, whenever no transfer is live and nothing
 *       is in flight: no copy is FROZEN (every freeze got its verdict:
 *       delete, thaw or quarantine) and at most one copy is ACTIVE.
 *   (d) The system stops only with no transfer live and nothing in flight
 *       (Monitor's timeout), and spin finds no invalid end state; with
 *       LIVENESS, <> (the MN is done and all is quiet) under weak fairness,
 *       and with FAULT_FREE (no faults, no early timer, no refusal)
 *       <> (S deleted its copy and S' holds it ACTIVE).
 *
 * Trails: spin -t -c prints the messages, one column per process and one
 * line per send (!) or receive (?) on queue q = channel + 1 (ch[0] PR->S,
 * ch[1] S->PR, ch[2] NR->PR, ch[3] PR->NR, ch[4] S'->NR, ch[5] NR->S'), a
 * message being type, seq, value, generation; the "MSC:" lines say what
 * else happened (timers, crashes, losses, the SADs, the datapath).
 *
 * Switches (spin -DNAME=VALUE): LOSS DUPS REORDERS CRASHES CRASH_NODE RETRY
 * REKEY REFUSALS PAR_CDB TIMERS SENDMAX MARGIN CAP CHECK_SETTLED FAULT_FREE
 * LIVENESS; FIX_SINK_SAME (an alternative fix, not the code's); the
 * mutants MUT_* that run.sh requires to fail, MUT_NO_* among them taking
 * away a fix the code has.
 */

#ifdef FAULT_FREE
#define LOSS 0
#define DUPS 0
#define REORDERS 0
#define CRASHES 0
#define RETRY 0
#define REFUSALS 0
#define TIMERS 0
#endif

#ifndef LOSS
#define LOSS 1
#endif
#ifndef DUPS
#define DUPS 0
#endif
#ifndef REORDERS
#define REORDERS 0
#endif
#ifndef CRASHES
#define CRASHES 1
#endif
#ifndef RETRY
#define RETRY 1
#endif
#ifndef REKEY
#define REKEY 0
#endif
#ifndef REFUSALS
#define REFUSALS 1
#endif
#ifndef TIMERS
#define TIMERS 1
#endif
/* TIMERS 1: a waiting node's timer may fire at any time (under delay);
 * 2: only when nothing else can happen (a timely network: the timer fires
 * only for what will never come); 0: never (FAULT_FREE) */
#if TIMERS == 2
#define TIMER(c) ((c) && timeout)
#else
#define TIMER(c) (TIMERS && (c))
#endif
/* both SAD backends bring a FROZEN SA back QUAR after a restart
 * (ipsec_sad_xfrm_adopt(), ipsec_sad_mem_load()); MUT_RESTORE_FROZEN: as
 * the mem backend once did, FROZEN */
#ifdef MUT_RESTORE_FROZEN
#define SAD_XFRM 0
#else
#define SAD_XFRM 1
#endif
#ifndef SENDMAX
#define SENDMAX 2
#endif
#ifndef MARGIN
#define MARGIN 1
#endif
#ifndef PAR_CDB
#define PAR_CDB 0        /* 1: pAR's plugin adds a CDB of its own (IPsec: the profile) */
#endif
/* freeze() of a FROZEN SA fails (CTP_E_STATE: another transfer has it),
 * so no collect takes it twice; MUT_COLLECT_FROZEN: as the backends once
 * did, it succeeds and the SA is handed over again */
#ifdef MUT_COLLECT_FROZEN
#define COLLECT_FROZEN 1
#else
#define COLLECT_FROZEN 0
#endif
#ifndef CHECK_SETTLED
#define CHECK_SETTLED 1  /* 0: no (c): run.sh shows that (a) alone catches a mutant */
#endif
#ifndef CAP
#define CAP 5            /* messages in flight per ordered pair (asserted) */
#endif

mtype = { CTREQ, CTD, CTDR, CTC };

/* a CTD's value: the SA CDB with snapshot n is n + 1 */
#define NOSA     0       /* only the control CDB */
#define REFUSED  255     /* control STATUS: the request refused whole (send_refusal) */

/* a status as ctp_xfer_status_outcome() sees it */
#define V_OK       1     /* 0 success, 0x81 */
#define V_CLEAN    2     /* 3, 7 cancelled, 8 busy, 0x80, 0x83, 0x85, ... */
#define V_TIMEDOUT 3     /* 4 timed out */

/* enum ctp_xfer_outcome */
#define COMMIT  1
#define CLEAN   2
#define UNKNOWN 3
#define OUTCOME(v) ((v) == V_OK -> COMMIT : ((v) == V_TIMEDOUT -> UNKNOWN : CLEAN))

/* SA states (ipsec_sad.h; kv_plugin.c's KV_*) */
#define NONE   0
#define ACTIVE 1
#define FROZEN 2
#define QUAR   3

/* enum xstate (IDLE: no struct xfer for the MN) */
#define IDLE      0
#define FETCHING  1
#define SENT      2
#define REQUESTED 3
#define RELAYING  4

/* the channels: ch[c], pair c / 2 (0: S-PR, 1: PR-NR, 2: NR-S') */
#define PR2S  0
#define S2PR  1
#define NR2PR 2
#define PR2NR 3
#define SK2NR 4
#define NR2SK 5
chan ch[6] = [CAP] of { mtype, byte, byte, byte };   /* type, seq, value, generation */

/* the SADs and the datapath (holder 0: S, 1: S') */
byte sa_s = ACTIVE, sa_k = NONE;
byte nxt[2];             /* next sequence number */
byte maxs[2];            /* highest number sent */
byte nsent[2];           /* packets sent */

/* S, role XR_SOURCE */
bit s_live, s_sa;
byte s_gen;
/* PR, role XR_PAR */
byte pr_st, pr_seq, pr_snap, pr_gen, pr_rgen;
byte fseq, pr_fseq;       /* FIX_FETCH_REQSEQ */
bit pr_done, pr_sa, pr_key = 1;
/* NR, role XR_NAR */
byte nr_st, nr_seq, nr_seen, nr_gen;
bit nr_ok;               /* its transfer committed: the MN got its CTAA */
/* S' */
byte k_snap;
bit mn_done;

/* the fault budgets; association generations per pair (FIX_ASSOC_GEN) */
byte loss = LOSS, dups = DUPS, reorders = REORDERS;
byte gen[3];

/* the message being handled (inside atomic sequences only) */
hidden mtype mt;
hidden byte hq, hv, hg, st, cv;

#define INFLIGHT (len(ch[0]) + len(ch[1]) + len(ch[2]) + len(ch[3]) + len(ch[4]) + len(ch[5]))
#define QUIET    (!s_live && pr_st == IDLE && nr_st == IDLE && INFLIGHT == 0)
#define WAITING  (s_live || pr_st != IDLE || nr_st != IDLE)
#define KEPT     (sa_s != NONE || sa_k == ACTIVE)
#define NOFROZEN (sa_s != FROZEN)
#define ONEACTIVE (!(sa_s == ACTIVE && sa_k == ACTIVE))

/*
 * The fixes of the bugs this model found (run.sh: K1 to K5), in the code
 * and on here by default; the MUT_NO_* mutants take each away again, and
 * run.sh requires the bug's configuration to fail then.
 *
 * FIX_FETCH_REQSEQ: send_fetches() gives each fetch a sequence number of
 * its own (token 0: nothing binds it to the MN's), and on_fetched() ignores
 * a CTD whose REQ_SEQ is not it, as sink_control() does at nAR (DECISIONS
 * 22).  The MN's seq is not enough: a retransmitted CTAR reuses it.
 */
#ifndef MUT_NO_FETCH_REQSEQ
#define FIX_FETCH_REQSEQ
#endif
#ifdef FIX_FETCH_REQSEQ
#define FETCH_SEQ    (fseq + 16)
#define PR_REQSEQ_OK (hq == pr_fseq)
#else
#define FETCH_SEQ    pr_seq
#define PR_REQSEQ_OK 1
#endif
/*
 * FIX_ASSOC_GEN: a transfer is bound to the associations it uses (a
 * generation per peer, counted up whenever the association to it is set up
 * again: SCTP_COMM_UP, SCTP_RESTART).  A CTC, or a CTDR that would thaw,
 * that arrives on a later association than the one the contexts left on is
 * read as "timed out" (the peer may have restarted or lost messages, and
 * used them); a request whose association is gone by the time the answer
 * would leave is dropped (nothing was sent: a clean abort).  Over SCTP,
 * ordered and reliable within an association, nothing else makes a message
 * stale.
 */
#ifndef MUT_NO_ASSOC_GEN
#define FIX_ASSOC_GEN
#endif
#ifdef FIX_ASSOC_GEN
#define GEN(c)         gen[(c) / 2]
#define BUMP(c)        gen[(c) / 2]++
#define STALE(g)       (hg != (g))
#define GONE(c, g)     (GEN(c) != (g))
#else
#define GEN(c)         0
#define BUMP(c)        skip
#define STALE(g)       0
#define GONE(c, g)     0
#endif
/*
 * FIX_SINK_SAME: a sink that holds the very SA it is given again (the same
 * transfer: the same snapshot) answers success, not busy.
 */
#ifdef FIX_SINK_SAME
#define SINK_SAME (k_snap == hv)
#else
#define SINK_SAME 0
#endif

#ifdef MUT_NO_SOURCE_TIMER
#undef MUT_NO_SOURCE_TIMER
#define MUT_NO_SOURCE_TIMER 1            /* MUTANT: S waits for ever */
#else
#define MUT_NO_SOURCE_TIMER 0
#endif

/* nAR's REQ_SEQ check (sink_control()) */
#ifdef MUT_NO_REQSEQ
#define NR_REQSEQ_OK 1                   /* MUTANT: it does not look */
#else
#define NR_REQSEQ_OK (hq == nr_seq)
#endif

/*
 * What a handler sends (at most two messages) waits in an outbox and goes
 * out at its end (emit): one copy of the fault choices per handler.
 */
#define NOCH 255
hidden byte o1c = NOCH, o1q, o1v, o2c = NOCH, o2q, o2v;
hidden mtype o1t, o2t;

inline out(c, t, q, v)
{
	if
	:: o1c == NOCH -> o1c = c; o1t = t; o1q = q; o1v = v
	:: else -> assert(o2c == NOCH); o2c = c; o2t = t; o2q = q; o2v = v
	fi
}

/*
 * peer_send(): delivered, or (bounded) lost, or duplicated.  A loss breaks
 * the association: what follows goes on the next one.  A message that does
 * not fit is a modelling error (CAP too small), not a protocol event.
 */
inline snd(c, t, q, v)
{
	if
	:: assert(len(ch[c]) < CAP); ch[c]!t,q,v,GEN(c)
#if LOSS > 0
	:: loss > 0 -> loss--; BUMP(c); printf("MSC: lost on ch[%d]: %e\n", c, t)
#endif
#if DUPS > 0
	:: dups > 0 -> dups--; assert(len(ch[c]) + 2 <= CAP);
	   printf("MSC: duplicated on ch[%d]: %e\n", c, t);
	   ch[c]!t,q,v,GEN(c); ch[c]!t,q,v,GEN(c)
#endif
	fi
}

inline emit()
{
	if
	:: o1c != NOCH -> snd(o1c, o1t, o1q, o1v)
	:: else -> skip
	fi;
	if
	:: o2c != NOCH -> snd(o2c, o2t, o2q, o2v)
	:: else -> skip
	fi;
	o1c = NOCH; o1t = 0; o1q = 0; o1v = 0;
	o2c = NOCH; o2t = 0; o2q = 0; o2v = 0
}

#define RCV(c) ch[c]?mt,hq,hv,hg
#define DONE   emit(); mt = 0; hq = 0; hv = 0; hg = 0; cv = 0; st = 0

/* a crash: SCTP drops what was queued for the node, with the association */
inline flush(c)
{
	do
	:: nempty(ch[c]) -> ch[c]?_,_,_,_
	:: empty(ch[c]) -> break
	od;
	BUMP(c)
}

/* ---- the datapath ----------------------------------------------------- */

/* (a): holder h sends nxt[h]; no other holder has sent it or anything above */
inline xmit(h, o)
{
	if
	:: h == 0 -> printf("MSC: S sends seq %d\n", nxt[h])
	:: else -> printf("MSC: S' sends seq %d\n", nxt[h])
	fi;
	assert(nsent[o] == 0 || nxt[h] > maxs[o]);
	maxs[h] = nxt[h];
	nxt[h]++;
	nsent[h]++
}

active proctype Datapath()
{
end:
	do
	:: atomic { sa_s == ACTIVE && nsent[0] < SENDMAX -> xmit(0, 1) }
	:: atomic { sa_k == ACTIVE && nsent[1] < SENDMAX -> xmit(1, 0) }
	od
}

/* ---- S: an SG asked by its AR (role XR_SOURCE) -------------------------- */

/* source_finish() -> kv_source_done(): the verdict cv for the SA it collected */
inline s_finish()
{
	if
	:: s_sa && cv == COMMIT -> sa_s = NONE;          /* committed: drop it */
		printf("MSC: S commits: SA deleted\n")
	:: s_sa && cv == CLEAN -> sa_s = ACTIVE;         /* clean abort: thaw, resume */
		printf("MSC: S aborts clean: SA thawed\n")
	:: s_sa && cv == UNKNOWN ->
		printf("MSC: S: no verdict: SA quarantined\n");
#ifdef MUT_RESUME_ON_TIMEOUT
		sa_s = ACTIVE                            /* MUTANT: resumes */
#else
		sa_s = QUAR                              /* nobody knows: quarantine */
#endif
	:: else -> skip
	fi;
	s_live = 0; s_sa = 0; s_gen = 0                  /* xfer_end() */
}

active proctype Source()
{
end:
	do
	:: atomic { RCV(PR2S) ->
		if
		:: mt == CTREQ && s_live ->
			/* on_ctreq(): a transfer for the MN is live: send_refusal(BUSY) */
			out(S2PR, CTD, hq, REFUSED)
		:: mt == CTREQ && !s_live && GONE(S2PR, hg) ->
			skip    /* FIX_ASSOC_GEN: asked on an association now gone */
		:: mt == CTREQ && !s_live && !GONE(S2PR, hg) ->
			/* on_ctreq(): "an SG asked by its AR": xfer_new(XR_SOURCE),
			 * source_start() -> source_collect() -> kv_collect(): freeze,
			 * then copy (DECISIONS 30); send_ctd(): the CTD with REQ_SEQ =
			 * the CT-Req's seq; XS_SENT, timer H + 6T */
			s_live = 1; s_gen = GEN(S2PR);
			if
			:: sa_s == ACTIVE || (COLLECT_FROZEN && sa_s == FROZEN) ->
#ifndef MUT_NO_FREEZE
				sa_s = FROZEN;
#endif
				s_sa = 1;
				printf("MSC: S freezes the SA, snapshot next = %d\n", nxt[0]);
				cv = nxt[0] + 1;
				out(S2PR, CTD, hq, cv)
			:: else ->
				/* kv_collect() takes only ACTIVE items (COLLECT_FROZEN: the
				 * IPsec feature takes what the SAD lists, and the mem
				 * backend's freeze() of a FROZEN SA succeeds) */
				s_sa = 0;
				out(S2PR, CTD, hq, NOSA)
			fi
		:: mt == CTDR && s_live ->
			/* on_ctdr(): S = 1 commits; no entries: clean; entries that
			 * do not match our CDBs (control + SA): unknown; else each
			 * entry's status (ctp_xfer_status_outcome()) */
			if
			:: hq == 0 && hv == V_OK -> cv = COMMIT
			:: hq == 0 && hv != V_OK -> cv = CLEAN
			:: hq != 0 && hq != 1 + s_sa -> cv = UNKNOWN
			:: hq != 0 && hq == 1 + s_sa -> cv = OUTCOME(hv)
			fi;
			if
			:: cv == CLEAN && STALE(s_gen) -> cv = UNKNOWN   /* FIX_ASSOC_GEN */
			:: else -> skip
			fi;
			s_finish()
		:: mt == CTC && s_live ->
			/* on_ctc(): source_finish(ABORT_CLEAN) */
			if
			:: STALE(s_gen) -> cv = UNKNOWN                  /* FIX_ASSOC_GEN */
			:: else -> cv = CLEAN
			fi;
			s_finish()
		:: else ->
			skip    /* no transfer: on_ctdr() and on_ctc() ignore it */
		fi;
		DONE }
	:: atomic { TIMER(s_live) && !MUT_NO_SOURCE_TIMER ->
		/* timer_cb() XS_SENT: no verdict: source_finish(ABORT_UNKNOWN) */
		printf("MSC: S: timer (sent)\n");
		cv = UNKNOWN; s_finish(); DONE }
	od
}

/* ---- PR: pAR, with the MN's key (role XR_PAR) --------------------------- */

/*
 * source_finish() at pAR, when st is set: the status of the SA CDB fetched
 * from S (V_CLEAN from a CTC or a refusal, V_TIMEDOUT from a timeout).
 */
inline pr_finish()
{
	if
	:: pr_sa && st == V_OK ->
		out(PR2S, CTDR, 0, V_OK)          /* send_ctdr(sub): all success: S = 1 */
	:: pr_sa && st != V_OK ->
		out(PR2S, CTDR, 2, st)            /* send_ctdr(sub): control 0, the SA's */
	:: !pr_sa && !pr_done ->
		out(PR2S, CTC, 0, 0)              /* the source never answered: send_ctc() */
	:: !pr_sa && pr_done ->
		skip                              /* "it never answered, or had nothing" */
	fi;
	/* "committed" counts the CDBs of plugins and subs; with none, the
	 * verdict alone (a cancel is no commit).  On a commit the MN's key
	 * goes (RFC 4067 2.7).  PAR_CDB: pAR's own plugin adds a CDB (the
	 * IPsec feature's profile CDB): the same rule */
	if
	:: st == V_OK -> pr_key = 0
	:: else -> skip
	fi;
	pr_st = IDLE; pr_seq = 0; pr_done = 0; pr_sa = 0; pr_snap = 0; pr_gen = 0;
	pr_fseq = 0; pr_rgen = 0; st = 0
}

/* send_ctd() at pAR: the CTD (reactive: not a PCTD), A set, to NR; XS_SENT,
 * timer 4T.  A send that fails aborts cleanly (it never left): st = V_CLEAN
 * for pr_finish() */
inline pr_send_ctd()
{
	if
	:: GONE(PR2NR, pr_rgen) -> st = V_CLEAN                 /* FIX_ASSOC_GEN */
	:: !GONE(PR2NR, pr_rgen) ->
		pr_st = SENT; pr_gen = GEN(PR2NR);
		if
		:: pr_sa -> cv = pr_snap + 1
		:: else -> cv = NOSA
		fi;
		out(PR2NR, CTD, pr_seq, cv)
#if LOSS > 0
	:: !GONE(PR2NR, pr_rgen) && loss > 0 -> loss--; st = V_CLEAN;
		printf("MSC: PR: the CTD cannot be sent\n")
#endif
	fi
}

active proctype PAR()
{
end:
	do
	:: atomic { RCV(NR2PR) ->
		if
		:: mt == CTREQ && pr_st == SENT && pr_seq == hq ->
			/* on_ctreq(): "CT-Req again: resending" x->last (RFC 4067 2.5.3) */
			printf("MSC: PR: CT-Req again: resends its CTD\n");
			if
			:: pr_sa -> cv = pr_snap + 1
			:: else -> cv = NOSA
			fi;
			out(PR2NR, CTD, pr_seq, cv)
		:: mt == CTREQ && pr_st != IDLE && !(pr_st == SENT && pr_seq == hq) ->
			/* on_ctreq(): a transfer is live: send_refusal(BUSY) */
			out(PR2NR, CTD, hq, REFUSED)
		:: mt == CTREQ && pr_st == IDLE && pr_key ->
			/* on_ctreq(): xfer_new(XR_PAR), source_start() ->
			 * source_collect() (the plugin names S to fetch from) ->
			 * send_fetches(): CT-Req, token 0, our seq; XS_FETCHING, 2T */
			pr_st = FETCHING; pr_seq = hq; pr_done = 0; pr_sa = 0; pr_rgen = hg;
#ifdef FIX_FETCH_REQSEQ
			fseq++; pr_fseq = FETCH_SEQ;
#endif
			out(PR2S, CTREQ, FETCH_SEQ, 0)
		:: mt == CTREQ && pr_st == IDLE && !pr_key ->
			/* on_ctreq(): no key, and pAR is no SG: send_refusal(AUTH_FAILED) */
			out(PR2NR, CTD, hq, REFUSED)
		:: mt == CTDR && pr_st == SENT ->
			/* on_ctdr(): S = 1 commits; no entries: clean; a count that
			 * does not match our CDBs: timed out; else the SA's entry */
			if
			:: hq == 0 && hv == V_OK -> st = V_OK
			:: hq == 0 && hv != V_OK -> st = V_CLEAN
			:: hq != 0 && hq != 1 + pr_sa -> st = V_TIMEDOUT
			:: hq != 0 && hq == 1 + pr_sa -> st = hv
			fi
		:: mt == CTC && (pr_st == FETCHING || pr_st == SENT) ->
			/* on_ctc(): source_finish(ABORT_CLEAN) */
			st = V_CLEAN
		:: else ->
			skip    /* no transfer, or not waiting for it: ignored */
		fi;
		if
		:: st == V_CLEAN && pr_st == SENT && STALE(pr_gen) ->
			st = V_TIMEDOUT           /* FIX_ASSOC_GEN */
		:: else -> skip
		fi;
		if
		:: st -> pr_finish()
		:: else -> skip
		fi;
		DONE }
	:: atomic { RCV(S2PR) ->
		if
		:: mt == CTD && pr_st == FETCHING && !pr_done && PR_REQSEQ_OK ->
			/* on_ctd() -> on_fetched(): its CDBs but its control CDB (a
			 * STATUS refusal there is not looked at); all fetched:
			 * send_ctd() */
			pr_done = 1;
			if
			:: hv != NOSA && hv != REFUSED -> pr_sa = 1; pr_snap = hv - 1
			:: else -> skip
			fi;
			pr_send_ctd()
		:: mt == CTD && pr_st == SENT && hv != REFUSED ->
			/* on_ctd(): a transfer is live: refuse_ctd(BUSY), one entry per
			 * CDB (a STATUS refusal has no A flag: no answer) */
			if
			:: hv == NOSA -> out(PR2S, CTDR, 1, V_CLEAN)
			:: else -> out(PR2S, CTDR, 2, V_CLEAN)
			fi
		:: else ->
			/* fetch done: "unexpected CTD ignored"; no transfer: pAR is
			 * no SG: "unsolicited CTD ignored" */
			skip
		fi;
		if
		:: st -> pr_finish()
		:: else -> skip
		fi;
		DONE }
	:: atomic { TIMER(pr_st == FETCHING) ->
		/* timer_cb() XS_FETCHING: CTC to the source that did not answer,
		 * then send_ctd() with what there is */
		if
		:: !pr_done -> out(PR2S, CTC, 0, 0); pr_done = 1
		:: else -> skip
		fi;
		printf("MSC: PR: timer (fetching)\n");
		pr_send_ctd();
		if
		:: st -> pr_finish()
		:: else -> skip
		fi;
		DONE }
	:: atomic { TIMER(pr_st == SENT) ->
		/* timer_cb() XS_SENT: source_finish(ABORT_UNKNOWN) */
		printf("MSC: PR: timer (sent)\n");
		st = V_TIMEDOUT; pr_finish(); DONE }
	od
}

/* ---- NR: nAR, asked by the MN (role XR_NAR) ----------------------------- */

/* sink_finish() at nAR for a CTD that carried the SA, st its status: the
 * CTDR to pAR */
inline nr_finish()
{
	if
	:: st == V_OK -> out(NR2PR, CTDR, 0, V_OK); nr_ok = 1  /* all ok: S = 1 */
	:: else -> out(NR2PR, CTDR, 2, st); nr_ok = 0          /* control 0, the SA's */
	fi;
	nr_st = IDLE; nr_seq = 0; nr_gen = 0                   /* xfer_end() */
}

/* on_ctar() at a node without the MN's key: duplicate() ignores a (seq, MN)
 * seen in the window; else xfer_new(XR_NAR), CT-Req with the CTAR's seq to
 * the AR the CTAR names; XS_REQUESTED, timer 4T */
inline nr_ctar(q)
{
	if
	:: nr_seen & (1 << q) -> skip
	:: else ->
		printf("MSC: MN: CTAR seq %d at NR\n", q);
		nr_seen = nr_seen | (1 << q);
		nr_st = REQUESTED; nr_seq = q;
		out(NR2PR, CTREQ, q, 0)
	fi
}

active proctype NAR()
{
end:
	do
	:: atomic { RCV(PR2NR) ->
		if
		:: mt == CTD && nr_st == REQUESTED && NR_REQSEQ_OK && hv == REFUSED ->
			/* on_ctd() XR_NAR XS_REQUESTED, sink_control(): refused by the
			 * source (no CTDR) */
			nr_st = IDLE; nr_seq = 0; nr_ok = 0
		:: mt == CTD && nr_st == REQUESTED && NR_REQSEQ_OK && hv == NOSA ->
			/* on_ctd(): sink_take(), sink_install(): nothing to install or
			 * relay: relay_round(0) -> sink_finish(0): CTDR S = 1 */
			out(NR2PR, CTDR, 0, V_OK);
			nr_st = IDLE; nr_seq = 0; nr_ok = 1
		:: mt == CTD && nr_st == REQUESTED && NR_REQSEQ_OK && hv != REFUSED && hv != NOSA ->
			/* on_ctd(): sink_install(): the plugin names S' for the SA ->
			 * relay_round() -> send_relays(): CTD, REQ_SEQ = our seq;
			 * XS_RELAYING, timer 2T */
			if
			:: nr_st = RELAYING; nr_gen = GEN(NR2SK);
			   out(NR2SK, CTD, nr_seq, hv)
#if LOSS > 0
			:: loss > 0 -> loss--;
			   /* peer_send() failed: it never left: 0x85, clean */
			   printf("MSC: NR: the relay CTD cannot be sent\n");
			   st = V_CLEAN; nr_finish()
#endif
			fi
		:: else ->
			/* REQ_SEQ of another request: "a CTD for another request
			 * ignored"; XS_RELAYING: "a late duplicate"; no transfer:
			 * nAR is no SG: "unsolicited ... ignored" */
			skip
		fi;
		DONE }
	:: atomic { RCV(SK2NR) ->
		if
		:: mt == CTDR && nr_st == RELAYING ->
			/* on_relayed(): S = 1: success; no entries: cancelled; a count
			 * that does not map (control + the SA): timed out; else the
			 * entry.  sink_review() (none) -> relay_round(0) ->
			 * sink_finish(0) */
			if
			:: hq == 0 && hv == V_OK -> st = V_OK
			:: hq == 0 && hv != V_OK -> st = V_CLEAN
			:: hq != 0 && hq != 2 -> st = V_TIMEDOUT
			:: hq == 2 -> st = hv
			fi;
			if
			:: st == V_CLEAN && STALE(nr_gen) -> st = V_TIMEDOUT   /* FIX_ASSOC_GEN */
			:: else -> skip
			fi;
			nr_finish()
		:: else ->
			skip    /* on_ctdr(): no transfer, or not relaying: ignored */
		fi;
		DONE }
	:: atomic { TIMER(nr_st == REQUESTED) ->
		/* timer_cb() XS_REQUESTED: CTC to pAR ("should its CTD still come,
		 * it is not wanted"), CTAA timed out, xfer_end() */
		printf("MSC: NR: timer (requested)\n");
		out(NR2PR, CTC, 0, 0);
		nr_st = IDLE; nr_seq = 0; nr_ok = 0;
		DONE }
	:: atomic { TIMER(nr_st == RELAYING) ->
		/* timer_cb() XS_RELAYING -> sink_finish(1): the pending SA "timed
		 * out" (DECISIONS 32) */
		printf("MSC: NR: timer (relaying)\n");
#ifdef MUT_RELAY_TIMEOUT_CLEAN
		st = V_CLEAN;                     /* MUTANT: reports a refusal */
#else
		st = V_TIMEDOUT;
#endif
		nr_finish();
		DONE }
	od
}

/* ---- S': an SG that NR relays to (role XR_SINK) ------------------------- */

active proctype Sink()
{
end:
	do
	:: atomic { RCV(NR2SK) ->
		if
		:: mt == CTD && hv != REFUSED && hv != NOSA ->
			/* on_ctd(): no transfer, a relay CTD to an SG: xfer_new(XR_SINK),
			 * sink_take(), sink_install() -> kv_install(), relay_round(0)
			 * -> sink_finish(0): the CTDR at once */
			if
			:: sa_k != NONE && SINK_SAME ->
				out(SK2NR, CTDR, 0, V_OK)         /* FIX_SINK_SAME */
			:: sa_k != NONE && !SINK_SAME ->
				/* kv_install(): "it is here already: never twice" (busy) */
				printf("MSC: S' holds the SA already: busy\n");
				out(SK2NR, CTDR, 2, V_CLEAN)
			:: sa_k == NONE ->
				/* installed: it sends from the snapshot's next + the margin */
				sa_k = ACTIVE; k_snap = hv; nxt[1] = hv - 1 + MARGIN;
				printf("MSC: S' installs the SA, sends from %d\n", nxt[1]);
				out(SK2NR, CTDR, 0, V_OK)
#if REFUSALS
			:: sa_k == NONE ->
				/* refused, nothing installed (e.g. 0x83) */
				printf("MSC: S' refuses the SA\n");
#ifdef MUT_ACK_UNINSTALLED
				out(SK2NR, CTDR, 0, V_OK)          /* MUTANT: says it did */
#else
				out(SK2NR, CTDR, 2, V_CLEAN)
#endif
#endif
			fi
		:: else ->
			skip
		fi;
		DONE }
	od
}

/* ---- the MN ------------------------------------------------------------- */

active proctype MN()
{
	atomic { nr_ctar(1); DONE }
#if RETRY
	/* no CTAA said it worked: the CTAR again (RFC 4067 2.9: the same
	 * message), or a new handover with a new sequence number */
	if
	:: atomic { nr_st == IDLE && !nr_ok ->
#if REKEY
		if
		:: pr_key = 1;      /* the operator or AAA gives pAR the key again */
		   printf("MSC: PR is given the MN's key again\n")
		:: skip
		fi;
#endif
		if
		:: cv = 1
		:: cv = 2
		fi;
		nr_ctar(cv);
		mn_done = 1;
		DONE }
	:: atomic { mn_done = 1 }
	fi
#else
	mn_done = 1
#endif
}

/* ---- faults: crashes, reordering ---------------------------------------- */

#if CRASHES > 0
/* CRASH_NODE: 0 any node, 1 S, 2 PR, 3 NR, 4 S' */
#ifndef CRASH_NODE
#define CRASH_NODE 0
#endif
#define CRASHES_OF(n) (CRASH_NODE == 0 || CRASH_NODE == (n))

active proctype Crash()
{
	if
	:: atomic { CRASHES_OF(1) ->
		/* S restarts: no transfers; the SAD (kernel, mem state file) stays */
		printf("MSC: S crashes and restarts\n");
		s_live = 0; s_sa = 0; s_gen = 0; flush(PR2S);
#if SAD_XFRM
		/* ipsec_sad_xfrm_adopt(): its blocks found at open: quarantined */
		if
		:: sa_s == FROZEN -> sa_s = QUAR
		:: else -> skip
		fi
#endif
	   }
	:: atomic { CRASHES_OF(2) ->
		/* PR restarts: no transfers; the MN keys were in memory */
		printf("MSC: PR crashes and restarts\n");
		pr_st = IDLE; pr_seq = 0; pr_done = 0; pr_sa = 0; pr_snap = 0; pr_gen = 0;
		pr_fseq = 0; pr_rgen = 0; pr_key = 0;
#if REKEY
		if
		:: pr_key = 1
		:: skip
		fi;
#endif
		flush(S2PR); flush(NR2PR) }
	:: atomic { CRASHES_OF(3) ->
		/* NR restarts: no transfers, an empty (seq, MN) window */
		printf("MSC: NR crashes and restarts\n");
		nr_st = IDLE; nr_seq = 0; nr_gen = 0; nr_seen = 0;
		flush(PR2NR); flush(SK2NR) }
	:: atomic { CRASHES_OF(4) ->
		printf("MSC: S' crashes and restarts\n"); flush(NR2SK) }   /* its SAD stays */
	:: skip
	fi
}
#endif

#if REORDERS > 0
/* the first message of a channel goes behind the others */
inline rot(c)
{
	ch[c]?mt,hq,hv,hg; ch[c]!mt,hq,hv,hg;
	printf("MSC: reordered on ch[%d]: %e behind the others\n", c, mt);
	mt = 0; hq = 0; hv = 0; hg = 0;
	reorders--
}

active proctype Network()
{
end:
	do
	:: atomic { reorders > 0 && len(ch[0]) > 1 -> rot(0) }
	:: atomic { reorders > 0 && len(ch[1]) > 1 -> rot(1) }
	:: atomic { reorders > 0 && len(ch[2]) > 1 -> rot(2) }
	:: atomic { reorders > 0 && len(ch[3]) > 1 -> rot(3) }
	:: atomic { reorders > 0 && len(ch[4]) > 1 -> rot(4) }
	:: atomic { reorders > 0 && len(ch[5]) > 1 -> rot(5) }
	od
}
#endif

/* ---- the properties ------------------------------------------------------ */

active proctype Monitor()
{
end:
	do
	:: atomic { !(KEPT) -> assert(KEPT) }                    /* (b) */
#if CHECK_SETTLED
	:: atomic { QUIET && !(NOFROZEN) -> assert(NOFROZEN) }   /* (c) */
	:: atomic { QUIET && !(ONEACTIVE) -> assert(ONEACTIVE) } /* (c) */
#endif
	:: timeout && (TIMERS != 2 || !WAITING) ->                 /* (d) */
		assert(QUIET && mn_done); break
	od
}

#ifdef LIVENESS
#ifdef FAULT_FREE
ltl commits { <> (sa_s == NONE && sa_k == ACTIVE) }
#else
ltl ends { <> (mn_done && QUIET) }
#endif
#endif
