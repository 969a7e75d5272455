/*
 * ipsec_classify.h: which SAs of an MN move at a handover, and where to
 * (IPsec CT draft, draft-gopal-seamoby-ipsecctxt-issues-01, section 5;
 * PROFILE 6 ENDPOINTS "SA type" and "moves").  Pure functions: no I/O, no
 * allocation, no state; the caller provides every array.
 *
 * THE MODEL (draft 4, 5, figure 1).  Per plane (data, control, management)
 * two forwarding paths, each an ordered list of node addresses as in the
 * profile's PATH TLV: the PFP P[0..np-1] from PR (P[0]) towards the remote
 * node, and the NFP N[0..nn-1] from NR (N[0]).  The last node of each path is
 * its RN.  The MN sits before the AR on both and is on neither.
 *
 *   G     the first node of the longest common suffix of P and N: "an entity
 *         from which point onwards the FP to the RN remains unchanged" (4).
 *         gp, gn = G's index on P and N.  When only the RN is shared, G = RN.
 *   PR side    P[0 .. gp-1]: "between PR (inclusive) and G (exclusive)".
 *   G side     P[gp .. np-1]: "between G (inclusive) and RN (inclusive)".
 *   disjoint   no common suffix (the RNs differ: 4, "the destination itself
 *              may be different along the NFP").  There is no G; every node
 *              of P is on the PR side (gp = np, gn = nn).  See DISJOINT below.
 *
 * THE RULES (5.1; the two endpoints in either order, 5.2 "it is immaterial
 * if the SA itself is directed from S1 towards S2"):
 *
 *   endpoint X       endpoint Y      type  moves   local end      figure
 *   ---------------  --------------  ----  ------  -------------  -------
 *   G side           G side           1    none    (as given)     2
 *   MN               G side           2    none    (as given)     3
 *   PR side          G side           3    0x01    the PR side    4
 *   PR side          PR side          4    0x03    nearer to PR   5
 *   MN               PR side          5    0x01    the PR side    6, 9, 10
 *   not MN, not on P anything         0    none    (as given)     -
 *   MN               MN               0    none    (as given)     -
 *
 * Type 0 is a refusal (status 0x82), as is every SA of a plane whose paths
 * are missing or malformed or hold the MN's address.
 *
 * "local" is the endpoint that moves, as PROFILE 6 ENDPOINTS describes an SA
 * "from the endpoint that moves" (0x02 = the peer end moves too).  For type
 * 4 both move; local is S1 of figure 5, the one nearer to PR.  An endpoint
 * that is only on N is not on the PFP, which is all 5.1 speaks of: type 0.
 * A PR-side end that rule 2 below keeps in place does not move: a type 3
 * or 5 SA then has moves 0, and when only S2 of a type 4 SA moves, S2 is
 * the local end (moves 0x01).
 *
 * WHERE A MOVING ENDPOINT GOES (draft 6.1: "a mechanism is needed to move
 * these contexts to the appropriate SA endpoint in the NFP").  For the node
 * u = P[d] on the PR side (d < gp), the first rule that applies:
 *
 *   1. d = 0 (u = PR): NR.  The collocated special cases of types 3, 4
 *      (5.2) and 5 (figure 9, 5.4.1): no extra hop (6.1, last paragraph).
 *   2. u is itself on N before G: u stays (it does not move).  The NFP
 *      still passes through it, so it is the appropriate endpoint already.
 *   3. The configured map: the first entry (prev = u) whose next lies on N
 *      before G.  Entries for u exist but none fits this NFP: no candidate
 *      (status 0x84); the operator named where u's contexts may go.
 *   4. Disjoint paths, u = the old RN: the new RN (the paths' far ends
 *      correspond, as their near ends do by rule 1).
 *   5. Positionally: N[d], the node at the same distance from the AR (hop
 *      count, PR and NR at distance 0), provided 1 <= d < lim, where lim is
 *      gn (S' lies strictly between NR and G, like S1', S2' in figures
 *      4 to 6), or nn - 1 on disjoint paths (strictly between NR and the new
 *      RN).  Otherwise no candidate: status 0x84.
 *
 * Endpoints that do not move keep their address, except the MN, which is
 * reported at its new address when the caller knows it (the MN's end of the
 * SA is where the MN now is; the MN's SAD is never transferred, 6.2).  The
 * two new endpoints must differ and share an address family, and a type 4
 * SA must keep its orientation (S1' before S2' on the NFP, as S1 before S2
 * on the PFP in figure 5: the tunnel's ingress stays nearer the MN);
 * otherwise status 0x82.
 *
 * DISJOINT (the draft is silent; G does not exist).  Decision: every node of
 * P is on the PR side.  This is the limit of the definition of G, not a
 * guess: no node of the PFP remains on the NFP, so an SA left in place
 * protects a path the traffic no longer takes.  Types 1 to 3 cannot occur;
 * an SA with an endpoint on P is type 4 or 5 and must move, the MN-PR SA of
 * figure 9 included (refusing to classify would lose even that one).  Where
 * no counterpart exists (rules 3 to 5) the SA fails with 0x84 and the MN
 * re-negotiates (draft 6.4).
 *
 * MULTI-LATERAL (5.3, figure 7): every SA is classified on its own; the list
 * API reports them in the order given.
 *
 * MULTI-LEVEL (5.3, figure 8; RFC 4301 4.3 bundles).  SAs with the same
 * BUNDLE id move together or not at all.  When any member moves, the bundle
 * fails (every member: status 0x82, the MN re-negotiates) if
 *   - a member cannot move (type 0, no candidate, ...), or
 *   - it would split: one old endpoint gets different new endpoints in two
 *     members (possible only across planes today, but checked as such), or
 *   - members are in different planes (a bundle protects one packet flow,
 *     which follows one path), or
 *   - its order breaks: two endpoints u before v on the PFP (the MN first)
 *     become u' after v' on the NFP, so nested tunnels would no longer nest.
 * Members on the G side of a moving bundle stay, as their type says.
 *
 * Errors: 0 or CTP_E_*.  CTP_E_INVAL and CTP_E_LIMIT mean the call itself
 * was wrong and out holds nothing.  Otherwise every result is complete and
 * carries its own verdict: code 0 and status 0 (classified; transfer it
 * when moves != 0), or code < 0 with status 0x82 or 0x84, moves 0 and no
 * new endpoints (do not transfer; tell the MN).
 */
#ifndef IPSEC_CLASSIFY_H
#define IPSEC_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_err.h"
#include "features/ipsec/ipsec_profile.h"
#include "features/ipsec/ipsec_sa.h"

/* SAs of one MN classified in one call (= IPSEC_SAD_MAX_LIST). */
#define IPSEC_CLASSIFY_MAX_SAS 64

/* The draft's types; 0, 3, 4, 5 are also PROFILE 6's wire values. */
enum ipsec_classify_type {
	IPSEC_CLASSIFY_UNKNOWN = 0,
	IPSEC_CLASSIFY_TYPE1   = 1,
	IPSEC_CLASSIFY_TYPE2   = 2,
	IPSEC_CLASSIFY_TYPE3   = 3,
	IPSEC_CLASSIFY_TYPE4   = 4,
	IPSEC_CLASSIFY_TYPE5   = 5,
};

/* One configured correspondence: contexts of the SG prev go to next. */
struct ipsec_classify_map {
	struct ctp_addr prev;    /* an SG on a previous path */
	struct ctp_addr next;    /* a candidate SG on a new path */
};

/* What every SA of one MN's handover is classified against. */
struct ipsec_classify_env {
	struct ctp_addr                  mn_prev;   /* required */
	struct ctp_addr                  mn_new;    /* family 0 when unknown */
	const struct ipsec_classify_map *map;       /* may be NULL when nmap = 0 */
	size_t                           nmap;
};

/* One SA as the list API takes it. */
struct ipsec_classify_in {
	struct ctp_addr a, b;        /* the endpoints, either order; tunnel: outer */
	uint8_t         plane;       /* CTP_PLANE_DATA, _CONTROL, _MANAGEMENT */
	bool            has_bundle;
	uint32_t        bundle_id;
};

struct ipsec_classify_out {
	uint8_t         type;        /* enum ipsec_classify_type */
	uint8_t         moves;       /* IPSEC_MOVES_LOCAL, | IPSEC_MOVES_PEER */
	bool            swapped;     /* local is the input's b: flip the direction */
	uint8_t         status;      /* CTP_ST_SUCCESS, _IPSEC_RENEGOTIATE, _NO_CANDIDATE */
	int             code;        /* 0 or CTP_E_* */
	/* The SA's ends: local first as in the table above once the type is
	 * known (types 1 and 2: as given); as given when type is 0. */
	struct ctp_addr local, peer;           /* on the PFP (or the MN) */
	struct ctp_addr local_new, peer_new;   /* on the NFP; unset when code < 0 */
	const char     *why;         /* static text for logs, never NULL */
};

/*
 * G of one pair of paths: *gp and *gn are its index on prev and next, or
 * prev->node_count and next->node_count when the paths are disjoint.
 * Returns CTP_E_MISSING (a path absent) or CTP_E_VALUE (bad family, no
 * nodes, over IPSEC_PROFILE_MAX_NODES, a node of another family or
 * unspecified, a node twice on one path).
 */
int ipsec_classify_gateway(const struct ipsec_path *prev, const struct ipsec_path *next,
    size_t *gp, size_t *gn);

/*
 * Classify the SA between a and b against one plane's paths.  Returns
 * out->code; CTP_E_INVAL (nothing written) when env, a path, a, b or out is
 * NULL or env->mn_prev is unset.
 */
int ipsec_classify_sa(const struct ipsec_classify_env *env, const struct ipsec_path *prev,
    const struct ipsec_path *next, const struct ctp_addr *a, const struct ctp_addr *b,
    struct ipsec_classify_out *out);

/*
 * Classify n SAs of one MN, each against its plane's paths (prev[plane - 1],
 * next[plane - 1]: pass ipsec_profile.path for the PFP), then apply the
 * bundle rules.  out[i] answers in[i].  Returns 0 when every out[i].code is
 * 0, else the code of the first that is not, with err (may be NULL) naming
 * it: err->off = its index, err->status its status.  CTP_E_INVAL when an
 * argument is NULL or env->mn_prev is unset, CTP_E_LIMIT when
 * n > IPSEC_CLASSIFY_MAX_SAS; out is not written then.
 */
int ipsec_classify_list(const struct ipsec_classify_env *env,
    const struct ipsec_path prev[IPSEC_PROFILE_PLANES],
    const struct ipsec_path next[IPSEC_PROFILE_PLANES],
    const struct ipsec_classify_in *in, size_t n, struct ipsec_classify_out *out,
    struct ctp_err *err);

/* Fill *in from an SA as a node holds it (local, peer, BUNDLE) in a plane. */
void ipsec_classify_in_of(const struct ipsec_sa *sa, uint8_t plane,
    struct ipsec_classify_in *in);

#endif
