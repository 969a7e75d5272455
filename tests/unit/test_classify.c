/*
 * test_classify.c: SA types and moving endpoints (ipsec_classify.c), one
 * test per figure of the IPsec CT draft (draft-gopal-seamoby-ipsecctxt-
 * issues-01, figures 2 to 10), then the cases the draft leaves open.
 *
 * The copy of the draft in shared/reference lost most of its ASCII figures;
 * each test draws the figure as reconstructed from the prose of 5.2 to 5.4,
 * with the addresses used.  The common topology of figures 2 to 8 (data
 * plane, IPv4; figure 1 of the draft with SGs added):
 *
 *            PR  ---- SG1  ---- SG2  ---- G ---- SG3 ---- RN
 *   MN  <                                 |
 *            NR  ---- SG1N ---- SG2N -----+
 *
 *   PR 192.0.2.1   SG1 192.0.2.11   SG2 192.0.2.12   G 198.51.100.1
 *   NR 192.0.2.2   SG1N 192.0.2.21  SG2N 192.0.2.22  SG3 198.51.100.3
 *   MN 192.0.2.100 (new address 192.0.2.200)         RN 203.0.113.10
 *
 * so G is at index 3 on both paths, the PR side is PR, SG1, SG2 and the G
 * side G, SG3, RN.  Every expectation names the exact addresses.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_err.h"
#include "ctp/ctp_proto.h"
#include "features/ipsec/ipsec_classify.h"
#include "features/ipsec/ipsec_profile.h"
#include "features/ipsec/ipsec_sa.h"
#include "test.h"

#define PR     "192.0.2.1"
#define NR     "192.0.2.2"
#define SG1    "192.0.2.11"
#define SG2    "192.0.2.12"
#define SG1N   "192.0.2.21"
#define SG2N   "192.0.2.22"
#define G      "198.51.100.1"
#define SG3    "198.51.100.3"
#define RN     "203.0.113.10"
#define MN     "192.0.2.100"
#define MN_NEW "192.0.2.200"
#define AAA    "203.0.113.50"     /* the control plane's remote node */
#define CN     "203.0.113.99"     /* a correspondent on no path */

/* ---- helpers ------------------------------------------------------------- */

static struct ctp_addr
cl_addr(const char *s)
{
	struct ctp_addr a;

	memset(&a, 0, sizeof a);
	if (s != NULL)
		CU_ASSERT_EQUAL_FATAL(ctp_addr_parse(&a, s), 0);
	return a;
}

/* A path from its nodes, AR first, NULL-terminated. */
static void __attribute__((sentinel))
cl_path(struct ipsec_path *p, ...)
{
	const char *s;
	va_list ap;

	memset(p, 0, sizeof *p);
	p->present = true;
	va_start(ap, p);
	while ((s = va_arg(ap, const char *)) != NULL) {
		CU_ASSERT_FATAL(p->node_count < IPSEC_PROFILE_MAX_NODES);
		p->nodes[p->node_count++] = cl_addr(s);
	}
	va_end(ap);
	p->family = p->nodes[0].family;
}

static void
cl_topo(struct ipsec_path *p, struct ipsec_path *n)
{
	cl_path(p, PR, SG1, SG2, G, SG3, RN, NULL);
	cl_path(n, NR, SG1N, SG2N, G, SG3, RN, NULL);
}

static void
cl_env(struct ipsec_classify_env *env, const char *mn_prev, const char *mn_new)
{
	memset(env, 0, sizeof *env);
	env->mn_prev = cl_addr(mn_prev);
	env->mn_new = cl_addr(mn_new);
}

static int
cl_sa(const struct ipsec_classify_env *env, const struct ipsec_path *p,
    const struct ipsec_path *n, const char *a, const char *b, struct ipsec_classify_out *o)
{
	struct ctp_addr x = cl_addr(a), y = cl_addr(b);

	return ipsec_classify_sa(env, p, n, &x, &y, o);
}

static struct ipsec_classify_in
cl_in(const char *a, const char *b, uint8_t plane, uint32_t bundle)
{
	struct ipsec_classify_in in;

	memset(&in, 0, sizeof in);
	in.a = cl_addr(a);
	in.b = cl_addr(b);
	in.plane = plane;
	in.has_bundle = bundle != 0;
	in.bundle_id = bundle;
	return in;
}

static bool
cl_addr_is(const struct ctp_addr *a, const char *want)
{
	struct ctp_addr w = cl_addr(want);

	return want == NULL ? a->family == 0 : ctp_addr_eq(a, &w);
}

/* A successful verdict: type, moves, and the four addresses exactly. */
#define EXPECT(o, type, moves, l, p, ln, pn) \
	cl_expect((o), (type), (moves), (l), (p), (ln), (pn), __LINE__)

static void
cl_expect(const struct ipsec_classify_out *o, unsigned type, unsigned moves, const char *l,
    const char *p, const char *ln, const char *pn, unsigned line)
{
	char b[4][CTP_ADDRSTRLEN];
	bool ok = o->code == 0 && o->status == CTP_ST_SUCCESS && o->type == type &&
	    o->moves == moves && cl_addr_is(&o->local, l) && cl_addr_is(&o->peer, p) &&
	    cl_addr_is(&o->local_new, ln) && cl_addr_is(&o->peer_new, pn);

	if (!ok)
		fprintf(stderr, "\ntest_classify.c:%u: got code %d status 0x%02x type %u moves 0x%02x"
		    " %s - %s -> %s - %s (%s)\n  want type %u moves 0x%02x %s - %s -> %s - %s\n",
		    line, o->code, o->status, o->type, o->moves,
		    ctp_addr_fmt(&o->local, b[0], sizeof b[0]),
		    ctp_addr_fmt(&o->peer, b[1], sizeof b[1]),
		    ctp_addr_fmt(&o->local_new, b[2], sizeof b[2]),
		    ctp_addr_fmt(&o->peer_new, b[3], sizeof b[3]), o->why, type, moves, l, p, ln, pn);
	CU_assertImplementation(ok, line, "classification", __FILE__, "", CU_FALSE);
}

/* A refusal: nothing moves, no new endpoints, and why says what. */
#define EXPECT_FAIL(o, type, code, status, why) \
	cl_expect_fail((o), (type), (code), (status), (why), __LINE__)

static void
cl_expect_fail(const struct ipsec_classify_out *o, unsigned type, int code, unsigned status,
    const char *why, unsigned line)
{
	bool ok = o->type == type && o->code == code && o->status == status && o->moves == 0 &&
	    o->local_new.family == 0 && o->peer_new.family == 0 && o->why != NULL &&
	    strstr(o->why, why) != NULL;

	if (!ok)
		fprintf(stderr, "\ntest_classify.c:%u: got type %u code %s status 0x%02x moves 0x%02x"
		    " why \"%s\"\n  want type %u code %s status 0x%02x why \"...%s...\"\n", line,
		    o->type, ctp_errname(o->code), o->status, o->moves, o->why ? o->why : "(null)",
		    type, ctp_errname(code), status, why);
	CU_assertImplementation(ok, line, "refusal", __FILE__, "", CU_FALSE);
}

/* ---- G ------------------------------------------------------------------- */

static void
test_gateway(void)
{
	struct ipsec_path p, n;
	size_t gp = 99, gn = 99;

	/* The common topology: G = 198.51.100.1 at index 3 on both. */
	cl_topo(&p, &n);
	CU_ASSERT_EQUAL(ipsec_classify_gateway(&p, &n, &gp, &gn), 0);
	CU_ASSERT_EQUAL(gp, 3);
	CU_ASSERT_EQUAL(gn, 3);

	/* Paths of different lengths before G. */
	cl_path(&n, NR, G, SG3, RN, NULL);
	CU_ASSERT_EQUAL(ipsec_classify_gateway(&p, &n, &gp, &gn), 0);
	CU_ASSERT_EQUAL(gp, 3);
	CU_ASSERT_EQUAL(gn, 1);

	/* Only the RN shared: G = RN. */
	cl_path(&p, PR, SG1, RN, NULL);
	cl_path(&n, NR, SG1N, RN, NULL);
	CU_ASSERT_EQUAL(ipsec_classify_gateway(&p, &n, &gp, &gn), 0);
	CU_ASSERT_EQUAL(gp, 2);
	CU_ASSERT_EQUAL(gn, 2);

	/* A node both paths pass but leave differently is not G: the FP from
	 * SG1 onwards changed (SG2 vs SG2N). */
	cl_path(&p, PR, SG1, SG2, G, RN, NULL);
	cl_path(&n, NR, SG1, SG2N, G, RN, NULL);
	CU_ASSERT_EQUAL(ipsec_classify_gateway(&p, &n, &gp, &gn), 0);
	CU_ASSERT_EQUAL(gp, 3);
	CU_ASSERT_EQUAL(gn, 3);

	/* Disjoint: no common suffix, G beyond the ends. */
	cl_path(&p, PR, SG1, RN, NULL);
	cl_path(&n, NR, SG1N, SG2N, AAA, NULL);
	CU_ASSERT_EQUAL(ipsec_classify_gateway(&p, &n, &gp, &gn), 0);
	CU_ASSERT_EQUAL(gp, 3);
	CU_ASSERT_EQUAL(gn, 4);

	/* The plane did not change at all: G = the AR itself. */
	cl_path(&p, PR, SG1, RN, NULL);
	CU_ASSERT_EQUAL(ipsec_classify_gateway(&p, &p, &gp, &gn), 0);
	CU_ASSERT_EQUAL(gp, 0);
	CU_ASSERT_EQUAL(gn, 0);

	/* Malformed paths. */
	cl_path(&p, PR, SG1, SG1, RN, NULL);
	CU_ASSERT_EQUAL(ipsec_classify_gateway(&p, &n, &gp, &gn), CTP_E_VALUE);
	cl_path(&p, PR, RN, NULL);
	p.nodes[1].family = 6;                        /* another family */
	CU_ASSERT_EQUAL(ipsec_classify_gateway(&p, &n, &gp, &gn), CTP_E_VALUE);
	cl_path(&p, PR, "0.0.0.0", RN, NULL);         /* unspecified */
	CU_ASSERT_EQUAL(ipsec_classify_gateway(&p, &n, &gp, &gn), CTP_E_VALUE);
	cl_path(&p, PR, RN, NULL);
	p.node_count = 0;
	CU_ASSERT_EQUAL(ipsec_classify_gateway(&p, &n, &gp, &gn), CTP_E_VALUE);
	p.node_count = IPSEC_PROFILE_MAX_NODES + 1;
	CU_ASSERT_EQUAL(ipsec_classify_gateway(&p, &n, &gp, &gn), CTP_E_VALUE);
	cl_path(&p, PR, RN, NULL);
	p.present = false;
	CU_ASSERT_EQUAL(ipsec_classify_gateway(&p, &n, &gp, &gn), CTP_E_MISSING);
	CU_ASSERT_EQUAL(ipsec_classify_gateway(NULL, &n, &gp, &gn), CTP_E_INVAL);
}

/* ---- figures 2 to 6: the five types -------------------------------------- */

/*
 * Figure 2, type 1: S1 and S2 between G (inclusive) and RN (inclusive).
 *
 *   MN == PR ===== G ==== S1 ==== S2 ==== RN      S1 = SG3, S2 = RN
 *          NR ****'                               and S1 = G itself
 */
static void
test_fig2_type1(void)
{
	struct ipsec_classify_env env;
	struct ipsec_classify_out o;
	struct ipsec_path p, n;

	cl_topo(&p, &n);
	cl_env(&env, MN, NULL);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, SG3, RN, &o), 0);
	EXPECT(&o, 1, 0, SG3, RN, SG3, RN);
	CU_ASSERT_FALSE(o.swapped);
	/* G inclusive */
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, G, RN, &o), 0);
	EXPECT(&o, 1, 0, G, RN, G, RN);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, SG3, G, &o), 0);
	EXPECT(&o, 1, 0, SG3, G, SG3, G);
}

/*
 * Figure 3, type 2: S1 at the MN, S2 between G (inclusive) and RN.
 *
 *   MN(S1) == PR ===== G ==== S2 ==== RN          S2 = SG3, then G
 *        \*** NR ****'
 */
static void
test_fig3_type2(void)
{
	struct ipsec_classify_env env;
	struct ipsec_classify_out o;
	struct ipsec_path p, n;

	cl_topo(&p, &n);
	cl_env(&env, MN, NULL);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, SG3, &o), 0);
	EXPECT(&o, 2, 0, MN, SG3, MN, SG3);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, G, MN, &o), 0);
	EXPECT(&o, 2, 0, G, MN, G, MN);
	CU_ASSERT_FALSE(o.swapped);
	/* Nothing moves, but the MN's end is reported where the MN now is. */
	cl_env(&env, MN, MN_NEW);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, SG3, &o), 0);
	EXPECT(&o, 2, 0, MN, SG3, MN_NEW, SG3);
}

/*
 * Figure 4, type 3: S1 between PR (inclusive) and G (exclusive), S2 between
 * G (inclusive) and RN.  S1 moves to S1' at the same distance from NR.
 *
 *   MN == PR === S1 ======%G%=== S2 === RN        S1 = SG1, S2 = SG3
 *     \** NR *** S1' ****'                        S1' = SG1N
 *
 * Special case: S1 = PR, S1' = NR (S2 = RN here).
 */
static void
test_fig4_type3(void)
{
	struct ipsec_classify_env env;
	struct ipsec_classify_out o;
	struct ipsec_path p, n;

	cl_topo(&p, &n);
	cl_env(&env, MN, NULL);
	/* Given from the G side: the local end is still S1, so swapped. */
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, SG3, SG1, &o), 0);
	EXPECT(&o, 3, IPSEC_MOVES_LOCAL, SG1, SG3, SG1N, SG3);
	CU_ASSERT_TRUE(o.swapped);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, SG2, G, &o), 0);
	EXPECT(&o, 3, IPSEC_MOVES_LOCAL, SG2, G, SG2N, G);
	CU_ASSERT_FALSE(o.swapped);
	/* collocated with PR: S1' = NR, no extra hop */
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, PR, RN, &o), 0);
	EXPECT(&o, 3, IPSEC_MOVES_LOCAL, PR, RN, NR, RN);
}

/*
 * Figure 5, type 4: both ends between PR (inclusive) and G (exclusive);
 * both move.
 *
 *   MN == PR === S1 === S2 ===%G%=== RN           S1 = SG1, S2 = SG2
 *     \** NR *** S1' ** S2' *'                    S1' = SG1N, S2' = SG2N
 *
 * Special case: S1 = PR, S1' = NR.
 */
static void
test_fig5_type4(void)
{
	struct ipsec_classify_env env;
	struct ipsec_classify_out o;
	struct ipsec_path p, n;

	cl_topo(&p, &n);
	cl_env(&env, MN, NULL);
	/* local = S1, the end nearer to PR, whatever the input order */
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, SG2, SG1, &o), 0);
	EXPECT(&o, 4, IPSEC_MOVES_LOCAL | IPSEC_MOVES_PEER, SG1, SG2, SG1N, SG2N);
	CU_ASSERT_TRUE(o.swapped);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, SG1, SG2, &o), 0);
	EXPECT(&o, 4, IPSEC_MOVES_LOCAL | IPSEC_MOVES_PEER, SG1, SG2, SG1N, SG2N);
	CU_ASSERT_FALSE(o.swapped);
	/* collocated with PR */
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, SG2, PR, &o), 0);
	EXPECT(&o, 4, IPSEC_MOVES_LOCAL | IPSEC_MOVES_PEER, PR, SG2, NR, SG2N);
	CU_ASSERT_TRUE(o.swapped);
}

/*
 * Figure 6, type 5: S1 at the MN, S2 between PR (inclusive) and G
 * (exclusive); S2 moves.
 *
 *   MN(S1) == PR === S2 ===%G%=== RN              S2 = SG2
 *        \*** NR *** S2' *'                       S2' = SG2N
 */
static void
test_fig6_type5(void)
{
	struct ipsec_classify_env env;
	struct ipsec_classify_out o;
	struct ipsec_path p, n;

	cl_topo(&p, &n);
	cl_env(&env, MN, NULL);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, SG2, &o), 0);
	EXPECT(&o, 5, IPSEC_MOVES_LOCAL, SG2, MN, SG2N, MN);
	CU_ASSERT_TRUE(o.swapped);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, SG1, MN, &o), 0);
	EXPECT(&o, 5, IPSEC_MOVES_LOCAL, SG1, MN, SG1N, MN);
	CU_ASSERT_FALSE(o.swapped);
}

/* ---- figures 7 and 8: grouping -------------------------------------------- */

/*
 * Figure 7, multi-lateral: SAs in sequence, each classified on its own and
 * reported in the order given.
 *
 *   MN == PR ==S1== SG1 == Sa ==%G%== Sb ===== RN
 *         '--S1-S2--'     '---Sa-Sb----'  '-Sc-Sd-'
 *
 *   S1-S2 = PR-SG1 (type 4), Sa-Sb = SG2-SG3 (type 3), then SG3-RN (type 1)
 *   and MN-SG2 (type 5) after them.
 */
static void
test_fig7_multilateral(void)
{
	struct ipsec_path prev[IPSEC_PROFILE_PLANES], next[IPSEC_PROFILE_PLANES];
	struct ipsec_classify_in in[4];
	struct ipsec_classify_out out[4];
	struct ipsec_classify_env env;
	struct ctp_err err;

	memset(prev, 0, sizeof prev);
	memset(next, 0, sizeof next);
	cl_topo(&prev[0], &next[0]);
	cl_env(&env, MN, NULL);
	in[0] = cl_in(PR, SG1, CTP_PLANE_DATA, 0);
	in[1] = cl_in(SG3, SG2, CTP_PLANE_DATA, 0);
	in[2] = cl_in(SG3, RN, CTP_PLANE_DATA, 0);
	in[3] = cl_in(MN, SG2, CTP_PLANE_DATA, 0);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ipsec_classify_list(&env, prev, next, in, 4, out, &err), 0);
	CU_ASSERT_EQUAL(err.code, 0);
	EXPECT(&out[0], 4, IPSEC_MOVES_LOCAL | IPSEC_MOVES_PEER, PR, SG1, NR, SG1N);
	EXPECT(&out[1], 3, IPSEC_MOVES_LOCAL, SG2, SG3, SG2N, SG3);
	EXPECT(&out[2], 1, 0, SG3, RN, SG3, RN);
	EXPECT(&out[3], 5, IPSEC_MOVES_LOCAL, SG2, MN, SG2N, MN);
	CU_ASSERT_FALSE(out[0].swapped);
	CU_ASSERT_TRUE(out[1].swapped);
	CU_ASSERT_TRUE(out[3].swapped);
}

/*
 * Figure 8, multi-level: SAs stacked one upon the other (RFC 4301 4.3).  A
 * type 5 transport SA MN - SG2 and a type 3 tunnel SG2 - SG3, bundled at
 * SG2 (BUNDLE id 8, iterated tunnelling), each in both directions, as SG2
 * holds them (local = SG2):
 *
 *                   .------- tunnel (type 3) -------.
 *   MN =========== PR ======== SG2 =====%G%======= SG3 === RN
 *   '--- transport (type 5) ---'
 *
 * All four must move together, SG2 to the same SG2N in each.
 */
static void
test_fig8_multilevel(void)
{
	static struct ipsec_sa sa[4];
	struct ipsec_path prev[IPSEC_PROFILE_PLANES], next[IPSEC_PROFILE_PLANES];
	const char *peer[4] = { MN, MN, SG3, SG3 };
	const uint8_t mode[4] = { 1, 1, 2, 2 }, dir[4] = { 1, 2, 1, 2 };
	struct ipsec_classify_in in[4];
	struct ipsec_classify_out out[4];
	struct ipsec_classify_env env;
	struct ctp_err err;

	memset(prev, 0, sizeof prev);
	memset(next, 0, sizeof next);
	cl_topo(&prev[0], &next[0]);
	cl_env(&env, MN, MN_NEW);
	for (int i = 0; i < 4; i++) {
		ipsec_sa_clear(&sa[i]);
		sa[i].spi = 0x1000u + (uint32_t)i;
		sa[i].protocol = 50;
		sa[i].mode = mode[i];
		sa[i].direction = dir[i];
		sa[i].family = 4;
		sa[i].local = cl_addr(SG2);
		sa[i].peer = cl_addr(peer[i]);
		sa[i].has_bundle = true;
		sa[i].bundle.id = 8;
		sa[i].bundle.kind = CTP_BUNDLE_KIND_ITERATED_TUNNELLING;
		sa[i].bundle.count = 2;
		sa[i].bundle.position = i < 2 ? 1 : 0;   /* the tunnel is outermost */
		ipsec_classify_in_of(&sa[i], CTP_PLANE_DATA, &in[i]);
	}
	CU_ASSERT_TRUE(in[3].has_bundle);
	CU_ASSERT_EQUAL(in[3].bundle_id, 8);
	CU_ASSERT_EQUAL(in[3].plane, CTP_PLANE_DATA);
	/* The inbound tunnel SA as the SG3 side would list it: either order. */
	in[3].a = cl_addr(SG3);
	in[3].b = cl_addr(SG2);

	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ipsec_classify_list(&env, prev, next, in, 4, out, &err), 0);
	EXPECT(&out[0], 5, IPSEC_MOVES_LOCAL, SG2, MN, SG2N, MN_NEW);
	EXPECT(&out[1], 5, IPSEC_MOVES_LOCAL, SG2, MN, SG2N, MN_NEW);
	EXPECT(&out[2], 3, IPSEC_MOVES_LOCAL, SG2, SG3, SG2N, SG3);
	EXPECT(&out[3], 3, IPSEC_MOVES_LOCAL, SG2, SG3, SG2N, SG3);
	CU_ASSERT_FALSE(out[0].swapped);
	CU_ASSERT_FALSE(out[2].swapped);
	CU_ASSERT_TRUE(out[3].swapped);

	/* A bundle member that stays (type 2, MN - SG3 transport inside the
	 * moving MN - SG2 tunnel) does not hold the others back. */
	in[0] = cl_in(MN, SG2, CTP_PLANE_DATA, 9);
	in[1] = cl_in(MN, SG3, CTP_PLANE_DATA, 9);
	CU_ASSERT_EQUAL(ipsec_classify_list(&env, prev, next, in, 2, out, &err), 0);
	EXPECT(&out[0], 5, IPSEC_MOVES_LOCAL, SG2, MN, SG2N, MN_NEW);
	EXPECT(&out[1], 2, 0, MN, SG3, MN_NEW, SG3);
	for (int i = 0; i < 4; i++)
		ipsec_sa_clear(&sa[i]);
}

/* ---- figures 9 and 10: the specific scenarios of 5.4 ------------------------ */

/*
 * Figure 9 (5.4.1), control plane: the MN-PR control SA becomes MN-NR; a
 * type 5 SA with S2 = PR, so S2' = NR with no extra hop (6.1).
 *
 *   MN(S1) ==== PR(S2) ======%G%====== AAA        control FP
 *        \***** NR(S2') *****'
 */
static void
test_fig9_mn_pr_control(void)
{
	struct ipsec_path prev[IPSEC_PROFILE_PLANES], next[IPSEC_PROFILE_PLANES];
	struct ipsec_classify_in in[1];
	struct ipsec_classify_out out[1];
	struct ipsec_classify_env env;

	memset(prev, 0, sizeof prev);
	memset(next, 0, sizeof next);
	cl_path(&prev[CTP_PLANE_CONTROL - 1], PR, AAA, NULL);
	cl_path(&next[CTP_PLANE_CONTROL - 1], NR, AAA, NULL);
	cl_env(&env, MN, NULL);
	in[0] = cl_in(PR, MN, CTP_PLANE_CONTROL, 0);
	CU_ASSERT_EQUAL(ipsec_classify_list(&env, prev, next, in, 1, out, NULL), 0);
	EXPECT(&out[0], 5, IPSEC_MOVES_LOCAL, PR, MN, NR, MN);
	CU_ASSERT_FALSE(out[0].swapped);
}

/*
 * Figure 10 (5.4.2), data plane: the MN-SG1 data SA becomes MN-SG2, by the
 * operator's correspondence SG1 -> SG2.  A router R sits where SG1 sat, so
 * the positional rule alone would pick R.
 *
 *   MN(S1) == PR === SG1(S2) ======%G%==== RN
 *        \*** NR === R ===== SG2(S2') =='
 *
 *   SG1 = 192.0.2.11, R = 192.0.2.40, SG2 = 192.0.2.31
 */
static void
test_fig10_mn_sg_data(void)
{
	struct ipsec_classify_map map[2];
	struct ipsec_classify_env env;
	struct ipsec_classify_out o;
	struct ipsec_path p, n;

	cl_path(&p, PR, SG1, G, RN, NULL);
	cl_path(&n, NR, "192.0.2.40", "192.0.2.31", G, RN, NULL);
	cl_env(&env, MN, NULL);
	/* no map: same distance from the AR */
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, SG1, &o), 0);
	EXPECT(&o, 5, IPSEC_MOVES_LOCAL, SG1, MN, "192.0.2.40", MN);
	/* the map: the first entry is for another NR's path and is skipped */
	map[0].prev = cl_addr(SG1);
	map[0].next = cl_addr("198.51.100.77");
	map[1].prev = cl_addr(SG1);
	map[1].next = cl_addr("192.0.2.31");
	env.map = map;
	env.nmap = 2;
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, SG1, &o), 0);
	EXPECT(&o, 5, IPSEC_MOVES_LOCAL, SG1, MN, "192.0.2.31", MN);
	/* the map never overrides the collocated case PR -> NR */
	map[0].prev = cl_addr(PR);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, PR, &o), 0);
	EXPECT(&o, 5, IPSEC_MOVES_LOCAL, PR, MN, NR, MN);
	/* entries for SG1, none on this NFP before G: no candidate (0x84),
	 * not a positional guess against the operator's word */
	map[0].prev = cl_addr(SG1);
	env.nmap = 1;
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, SG1, &o), CTP_E_NOTFOUND);
	EXPECT_FAIL(&o, 5, CTP_E_NOTFOUND, CTP_ST_IPSEC_NO_CANDIDATE, "configured SG");
	/* a map target at G or beyond is not "between NR and G" either */
	map[0].next = cl_addr(G);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, SG1, &o), CTP_E_NOTFOUND);
	EXPECT_FAIL(&o, 5, CTP_E_NOTFOUND, CTP_ST_IPSEC_NO_CANDIDATE, "configured SG");
}

/* ---- what the draft leaves open ---------------------------------------------- */

/*
 * Disjoint paths: no common node, the RN changed (draft 4: "the destination
 * itself may be different along the NFP").  No G: everything on the PFP is
 * on the PR side, so types 4 and 5 only; the ARs correspond, the RNs
 * correspond, interior nodes by distance.
 *
 *   MN == PR === SG1 === SG2 === RN            (203.0.113.10)
 *     \** NR *** SG1N ********** AAA           (203.0.113.50, the new RN)
 */
static void
test_disjoint(void)
{
	struct ipsec_classify_env env;
	struct ipsec_classify_out o;
	struct ipsec_path p, n;

	cl_path(&p, PR, SG1, SG2, RN, NULL);
	cl_path(&n, NR, SG1N, AAA, NULL);
	cl_env(&env, MN, NULL);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, PR, &o), 0);
	EXPECT(&o, 5, IPSEC_MOVES_LOCAL, PR, MN, NR, MN);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, SG1, &o), 0);
	EXPECT(&o, 5, IPSEC_MOVES_LOCAL, SG1, MN, SG1N, MN);
	/* what would be type 3 with a G is type 4 now: the RN end moves too */
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, RN, SG1, &o), 0);
	EXPECT(&o, 4, IPSEC_MOVES_LOCAL | IPSEC_MOVES_PEER, SG1, RN, SG1N, AAA);
	/* and what would be type 2 is type 5 */
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, RN, &o), 0);
	EXPECT(&o, 5, IPSEC_MOVES_LOCAL, RN, MN, AAA, MN);
	/* SG2 is two hops from PR; the NFP has one interior node: no candidate */
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, SG2, &o), CTP_E_NOTFOUND);
	EXPECT_FAIL(&o, 5, CTP_E_NOTFOUND, CTP_ST_IPSEC_NO_CANDIDATE, "same distance");
	/* the near ends correspond, and so do the far ends */
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, PR, RN, &o), 0);
	EXPECT(&o, 4, IPSEC_MOVES_LOCAL | IPSEC_MOVES_PEER, PR, RN, NR, AAA);
	/* an NFP that is just NR: the old RN maps onto NR, as PR does */
	cl_path(&n, NR, NULL);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, PR, RN, &o), CTP_E_VALUE);
	EXPECT_FAIL(&o, 4, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE, "same node");
}

/* An endpoint that is neither the MN nor on the PFP: type 0. */
static void
test_type0_off_path(void)
{
	struct ipsec_classify_env env;
	struct ipsec_classify_out o;
	struct ipsec_path p, n;

	cl_topo(&p, &n);
	cl_env(&env, MN, NULL);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, CN, &o), CTP_E_NOTFOUND);
	EXPECT_FAIL(&o, 0, CTP_E_NOTFOUND, CTP_ST_IPSEC_RENEGOTIATE, "neither the MN nor");
	CU_ASSERT_TRUE(cl_addr_is(&o.local, MN));
	CU_ASSERT_TRUE(cl_addr_is(&o.peer, CN));
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, CN, SG1, &o), CTP_E_NOTFOUND);
	EXPECT_FAIL(&o, 0, CTP_E_NOTFOUND, CTP_ST_IPSEC_RENEGOTIATE, "neither the MN nor");
	/* on the NFP only: 5.1 speaks of SAs of the PFP */
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, SG1N, SG3, &o), CTP_E_NOTFOUND);
	EXPECT_FAIL(&o, 0, CTP_E_NOTFOUND, CTP_ST_IPSEC_RENEGOTIATE, "only on the new path");
	/* the draft's rules do not decide an SA of the MN with itself */
	cl_env(&env, MN, MN_NEW);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, MN_NEW, &o), CTP_E_VALUE);
	EXPECT_FAIL(&o, 0, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE, "both endpoints are the MN");
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, SG1, SG1, &o), CTP_E_VALUE);
	EXPECT_FAIL(&o, 0, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE, "same node");
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, SG1, "0.0.0.0", &o), CTP_E_VALUE);
	EXPECT_FAIL(&o, 0, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE, "unspecified");
}

/* The MN named by its new address is still the MN, in types 2 and 5. */
static void
test_mn_new_address(void)
{
	struct ipsec_classify_env env;
	struct ipsec_classify_out o;
	struct ipsec_path p, n;

	cl_topo(&p, &n);
	cl_env(&env, MN, MN_NEW);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN_NEW, SG2, &o), 0);
	EXPECT(&o, 5, IPSEC_MOVES_LOCAL, SG2, MN_NEW, SG2N, MN_NEW);
	CU_ASSERT_TRUE(o.swapped);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, SG2, &o), 0);
	EXPECT(&o, 5, IPSEC_MOVES_LOCAL, SG2, MN, SG2N, MN_NEW);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, RN, MN_NEW, &o), 0);
	EXPECT(&o, 2, 0, RN, MN_NEW, RN, MN_NEW);
	/* without the new address known, MN_NEW is just a stranger */
	cl_env(&env, MN, NULL);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN_NEW, SG2, &o), CTP_E_NOTFOUND);
	EXPECT_FAIL(&o, 0, CTP_E_NOTFOUND, CTP_ST_IPSEC_RENEGOTIATE, "neither the MN nor");
	/* a new address of another family cannot carry an IPv4 SA on */
	cl_env(&env, MN, "2001:db8:2::100");
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, PR, &o), CTP_E_VALUE);
	EXPECT_FAIL(&o, 5, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE, "address families");
}

/*
 * IPv6 paths (draft 6.5): the same rules over 2001:db8::/32.
 *
 *   MN == PR(1::1) === SG(1::11) ===%G(ff::1)%=== RN(ff::10)
 *     \** NR(2::1) ** SG'(2::11) ***'
 */
static void
test_ipv6(void)
{
	struct ipsec_classify_env env;
	struct ipsec_classify_out o;
	struct ipsec_path p, n;
	size_t gp, gn;

	cl_path(&p, "2001:db8:1::1", "2001:db8:1::11", "2001:db8:ff::1", "2001:db8:ff::10", NULL);
	cl_path(&n, "2001:db8:2::1", "2001:db8:2::11", "2001:db8:ff::1", "2001:db8:ff::10", NULL);
	cl_env(&env, "2001:db8:1::100", "2001:db8:2::100");
	CU_ASSERT_EQUAL(ipsec_classify_gateway(&p, &n, &gp, &gn), 0);
	CU_ASSERT_EQUAL(gp, 2);
	CU_ASSERT_EQUAL(gn, 2);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, "2001:db8:1::100", "2001:db8:1::11", &o), 0);
	EXPECT(&o, 5, IPSEC_MOVES_LOCAL, "2001:db8:1::11", "2001:db8:1::100", "2001:db8:2::11",
	    "2001:db8:2::100");
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, "2001:db8:ff::10", "2001:db8:1::1", &o), 0);
	EXPECT(&o, 3, IPSEC_MOVES_LOCAL, "2001:db8:1::1", "2001:db8:ff::10", "2001:db8:2::1",
	    "2001:db8:ff::10");
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, "2001:db8:1::1", "2001:db8:1::11", &o), 0);
	EXPECT(&o, 4, IPSEC_MOVES_LOCAL | IPSEC_MOVES_PEER, "2001:db8:1::1", "2001:db8:1::11",
	    "2001:db8:2::1", "2001:db8:2::11");
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, "2001:db8:ff::1", "2001:db8:ff::10", &o), 0);
	EXPECT(&o, 1, 0, "2001:db8:ff::1", "2001:db8:ff::10", "2001:db8:ff::1", "2001:db8:ff::10");
	/* an IPv4 endpoint is on no IPv6 path */
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, "2001:db8:1::100", SG1, &o), CTP_E_NOTFOUND);
	EXPECT_FAIL(&o, 0, CTP_E_NOTFOUND, CTP_ST_IPSEC_RENEGOTIATE, "neither the MN nor");
}

/*
 * Planes: a data SA and a control SA of one MN, each against its own paths.
 * SG1 is on the data path only, so the same SA in the control plane is
 * type 0; the management plane has no path at all.
 */
static void
test_planes(void)
{
	struct ipsec_path prev[IPSEC_PROFILE_PLANES], next[IPSEC_PROFILE_PLANES];
	struct ipsec_classify_in in[5];
	struct ipsec_classify_out out[5];
	struct ipsec_classify_env env;
	struct ctp_err err;

	memset(prev, 0, sizeof prev);
	memset(next, 0, sizeof next);
	cl_topo(&prev[CTP_PLANE_DATA - 1], &next[CTP_PLANE_DATA - 1]);
	cl_path(&prev[CTP_PLANE_CONTROL - 1], PR, AAA, NULL);
	cl_path(&next[CTP_PLANE_CONTROL - 1], NR, AAA, NULL);
	cl_env(&env, MN, NULL);
	in[0] = cl_in(MN, SG1, CTP_PLANE_DATA, 0);
	in[1] = cl_in(MN, PR, CTP_PLANE_CONTROL, 0);
	in[2] = cl_in(MN, SG1, CTP_PLANE_CONTROL, 0);
	in[3] = cl_in(PR, AAA, CTP_PLANE_CONTROL, 0);
	in[4] = cl_in(MN, PR, CTP_PLANE_MANAGEMENT, 0);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ipsec_classify_list(&env, prev, next, in, 5, out, &err), CTP_E_NOTFOUND);
	EXPECT(&out[0], 5, IPSEC_MOVES_LOCAL, SG1, MN, SG1N, MN);
	EXPECT(&out[1], 5, IPSEC_MOVES_LOCAL, PR, MN, NR, MN);
	EXPECT_FAIL(&out[2], 0, CTP_E_NOTFOUND, CTP_ST_IPSEC_RENEGOTIATE, "neither the MN nor");
	EXPECT(&out[3], 3, IPSEC_MOVES_LOCAL, PR, AAA, NR, AAA);
	EXPECT_FAIL(&out[4], 0, CTP_E_MISSING, CTP_ST_IPSEC_RENEGOTIATE, "no forwarding path");
	/* err names the first refusal */
	CU_ASSERT_EQUAL(err.code, CTP_E_NOTFOUND);
	CU_ASSERT_EQUAL(err.off, 2);
	CU_ASSERT_EQUAL(err.status, CTP_ST_IPSEC_RENEGOTIATE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, "SA 2 (192.0.2.100 - 192.0.2.11, plane 2)"));
	/* a plane outside 1..3 */
	in[0].plane = 0;
	CU_ASSERT_EQUAL(ipsec_classify_list(&env, prev, next, in, 1, out, NULL), CTP_E_VALUE);
	EXPECT_FAIL(&out[0], 0, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE, "plane outside");
}

/*
 * A bundle that would split: the MN's tunnels to SG1 in the data and the
 * control plane, bundled, but SG1 has a different counterpart on each
 * plane's NFP (SG1N on the data path, 192.0.2.41 on the control path).
 */
static void
test_bundle_split(void)
{
	struct ipsec_path prev[IPSEC_PROFILE_PLANES], next[IPSEC_PROFILE_PLANES];
	struct ipsec_classify_in in[3];
	struct ipsec_classify_out out[3];
	struct ipsec_classify_env env;
	struct ctp_err err;

	memset(prev, 0, sizeof prev);
	memset(next, 0, sizeof next);
	cl_topo(&prev[CTP_PLANE_DATA - 1], &next[CTP_PLANE_DATA - 1]);
	cl_path(&prev[CTP_PLANE_CONTROL - 1], PR, SG1, AAA, NULL);
	cl_path(&next[CTP_PLANE_CONTROL - 1], NR, "192.0.2.41", AAA, NULL);
	cl_env(&env, MN, NULL);
	in[0] = cl_in(PR, RN, CTP_PLANE_DATA, 0);      /* not in the bundle */
	in[1] = cl_in(MN, SG1, CTP_PLANE_DATA, 5);
	in[2] = cl_in(SG1, MN, CTP_PLANE_CONTROL, 5);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ipsec_classify_list(&env, prev, next, in, 3, out, &err), CTP_E_VALUE);
	EXPECT(&out[0], 3, IPSEC_MOVES_LOCAL, PR, RN, NR, RN);
	EXPECT_FAIL(&out[1], 5, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE, "split");
	EXPECT_FAIL(&out[2], 5, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE, "split");
	CU_ASSERT_EQUAL(err.off, 1);
	CU_ASSERT_EQUAL(err.status, CTP_ST_IPSEC_RENEGOTIATE);

	/* Same counterpart on both planes: no split, but one bundle in two
	 * planes is still refused (one flow follows one path). */
	cl_path(&next[CTP_PLANE_CONTROL - 1], NR, SG1N, AAA, NULL);
	CU_ASSERT_EQUAL(ipsec_classify_list(&env, prev, next, in, 3, out, &err), CTP_E_VALUE);
	EXPECT_FAIL(&out[1], 5, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE, "different planes");
	EXPECT_FAIL(&out[2], 5, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE, "different planes");

	/* A member that cannot move holds the whole bundle back. */
	in[1] = cl_in(MN, SG2, CTP_PLANE_DATA, 6);
	in[2] = cl_in(SG2, CN, CTP_PLANE_DATA, 6);
	CU_ASSERT_EQUAL(ipsec_classify_list(&env, prev, next, in, 3, out, &err), CTP_E_VALUE);
	EXPECT(&out[0], 3, IPSEC_MOVES_LOCAL, PR, RN, NR, RN);
	EXPECT_FAIL(&out[1], 5, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE, "cannot move");
	EXPECT_FAIL(&out[2], 0, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE, "cannot move");

	/* A bundle that does not move is left alone, a bad member included. */
	in[1] = cl_in(MN, SG3, CTP_PLANE_DATA, 7);
	in[2] = cl_in(SG3, CN, CTP_PLANE_DATA, 7);
	CU_ASSERT_EQUAL(ipsec_classify_list(&env, prev, next, in, 3, out, &err), CTP_E_NOTFOUND);
	EXPECT(&out[1], 2, 0, MN, SG3, MN, SG3);
	EXPECT_FAIL(&out[2], 0, CTP_E_NOTFOUND, CTP_ST_IPSEC_RENEGOTIATE, "neither the MN nor");
}

/*
 * Order: nested tunnels from the MN, outer to SG1, inner to SG2.  A map that
 * swaps their counterparts (SG1 -> SG2N, SG2 -> SG1N) would have the inner
 * tunnel end before the outer one: each SA alone is fine, the bundle is not,
 * and a single type 4 SA between them would be turned around.
 */
static void
test_bundle_order(void)
{
	struct ipsec_path prev[IPSEC_PROFILE_PLANES], next[IPSEC_PROFILE_PLANES];
	struct ipsec_classify_map map[2];
	struct ipsec_classify_in in[2];
	struct ipsec_classify_out out[2];
	struct ipsec_classify_env env;

	memset(prev, 0, sizeof prev);
	memset(next, 0, sizeof next);
	cl_topo(&prev[0], &next[0]);
	cl_env(&env, MN, NULL);
	map[0].prev = cl_addr(SG1);
	map[0].next = cl_addr(SG2N);
	map[1].prev = cl_addr(SG2);
	map[1].next = cl_addr(SG1N);
	env.map = map;
	env.nmap = 2;
	in[0] = cl_in(MN, SG1, CTP_PLANE_DATA, 0);
	in[1] = cl_in(MN, SG2, CTP_PLANE_DATA, 0);
	CU_ASSERT_EQUAL(ipsec_classify_list(&env, prev, next, in, 2, out, NULL), 0);
	EXPECT(&out[0], 5, IPSEC_MOVES_LOCAL, SG1, MN, SG2N, MN);
	EXPECT(&out[1], 5, IPSEC_MOVES_LOCAL, SG2, MN, SG1N, MN);
	in[0].has_bundle = in[1].has_bundle = true;
	in[0].bundle_id = in[1].bundle_id = 3;
	CU_ASSERT_EQUAL(ipsec_classify_list(&env, prev, next, in, 2, out, NULL), CTP_E_VALUE);
	EXPECT_FAIL(&out[0], 5, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE, "nest in order");
	EXPECT_FAIL(&out[1], 5, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE, "nest in order");
	/* the type 4 tunnel SG1 - SG2 itself */
	in[0] = cl_in(SG1, SG2, CTP_PLANE_DATA, 0);
	CU_ASSERT_EQUAL(ipsec_classify_list(&env, prev, next, in, 1, out, NULL), CTP_E_VALUE);
	EXPECT_FAIL(&out[0], 4, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE, "reverse order");
	/* both onto one node */
	map[1].next = cl_addr(SG2N);
	CU_ASSERT_EQUAL(ipsec_classify_list(&env, prev, next, in, 1, out, NULL), CTP_E_VALUE);
	EXPECT_FAIL(&out[0], 4, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE, "same node");
}

/*
 * A node the NFP still passes before G keeps its contexts (rule 2).
 *
 *   MN == PR === SG1 === SG2 === SGS === X ====%G%=== RN
 *     \** NR *** SG1N ********** SGS === XN ***'
 *
 *   SGS = 192.0.2.50, X = 192.0.2.13, XN = 192.0.2.23
 *
 * The paths meet at SGS and part again (X, XN), so SGS is not G; it is 3
 * hops from PR and 2 from NR, so no positional rule would keep it.  And,
 * with SGS first, only S2 of a type 4 SA moves: it becomes local.
 */
static void
test_reused_node(void)
{
	struct ipsec_classify_env env;
	struct ipsec_classify_out o;
	struct ipsec_path p, n;

	cl_path(&p, PR, SG1, SG2, "192.0.2.50", "192.0.2.13", G, RN, NULL);
	cl_path(&n, NR, SG1N, "192.0.2.50", "192.0.2.23", G, RN, NULL);
	cl_env(&env, MN, NULL);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, "192.0.2.50", &o), 0);
	EXPECT(&o, 5, 0, "192.0.2.50", MN, "192.0.2.50", MN);
	CU_ASSERT_PTR_NOT_NULL(strstr(o.why, "still on the new path"));
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, "192.0.2.50", RN, &o), 0);
	EXPECT(&o, 3, 0, "192.0.2.50", RN, "192.0.2.50", RN);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, SG1, "192.0.2.50", &o), 0);
	EXPECT(&o, 4, IPSEC_MOVES_LOCAL, SG1, "192.0.2.50", SG1N, "192.0.2.50");

	/* When the paths run on together from SGS, SGS is G: type 2, not 5. */
	cl_path(&p, PR, SG1, "192.0.2.50", G, RN, NULL);
	cl_path(&n, NR, SG1N, "192.0.2.50", G, RN, NULL);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, "192.0.2.50", &o), 0);
	EXPECT(&o, 2, 0, MN, "192.0.2.50", MN, "192.0.2.50");

	cl_path(&p, PR, "192.0.2.50", SG2, G, RN, NULL);
	cl_path(&n, NR, "192.0.2.50", SG2N, G, RN, NULL);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, "192.0.2.50", SG2, &o), 0);
	EXPECT(&o, 4, IPSEC_MOVES_LOCAL, SG2, "192.0.2.50", SG2N, "192.0.2.50");
	CU_ASSERT_TRUE(o.swapped);
}

/* Positional: the NFP has fewer nodes before G than the PFP. */
static void
test_positional_limits(void)
{
	struct ipsec_classify_env env;
	struct ipsec_classify_out o;
	struct ipsec_path p, n;

	cl_path(&p, PR, SG1, SG2, G, RN, NULL);
	cl_path(&n, NR, SG1N, G, RN, NULL);
	cl_env(&env, MN, NULL);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, SG1, &o), 0);
	EXPECT(&o, 5, IPSEC_MOVES_LOCAL, SG1, MN, SG1N, MN);
	/* SG2 is 2 hops from PR; 2 hops from NR is G, not before it */
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, SG2, &o), CTP_E_NOTFOUND);
	EXPECT_FAIL(&o, 5, CTP_E_NOTFOUND, CTP_ST_IPSEC_NO_CANDIDATE, "same distance");
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, RN, SG2, &o), CTP_E_NOTFOUND);
	EXPECT_FAIL(&o, 3, CTP_E_NOTFOUND, CTP_ST_IPSEC_NO_CANDIDATE, "same distance");
	/* the refusal still names the end that would have moved */
	CU_ASSERT_TRUE(cl_addr_is(&o.local, SG2));
	CU_ASSERT_TRUE(cl_addr_is(&o.peer, RN));
	CU_ASSERT_TRUE(o.swapped);
	/* the NFP is just NR, G: only the AR's own contexts have a home */
	cl_path(&n, NR, G, RN, NULL);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, PR, &o), 0);
	EXPECT(&o, 5, IPSEC_MOVES_LOCAL, PR, MN, NR, MN);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &n, MN, SG1, &o), CTP_E_NOTFOUND);
	EXPECT_FAIL(&o, 5, CTP_E_NOTFOUND, CTP_ST_IPSEC_NO_CANDIDATE, "same distance");
}

/* The plane did not change (PFP = NFP): nothing is on the PR side. */
static void
test_unchanged_plane(void)
{
	struct ipsec_classify_env env;
	struct ipsec_classify_out o;
	struct ipsec_path p;

	cl_path(&p, PR, SG1, RN, NULL);
	cl_env(&env, MN, NULL);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &p, MN, PR, &o), 0);
	EXPECT(&o, 2, 0, MN, PR, MN, PR);
	CU_ASSERT_EQUAL(cl_sa(&env, &p, &p, PR, SG1, &o), 0);
	EXPECT(&o, 1, 0, PR, SG1, PR, SG1);
}

static void
test_bad_calls(void)
{
	struct ipsec_path prev[IPSEC_PROFILE_PLANES], next[IPSEC_PROFILE_PLANES];
	static struct ipsec_classify_in in[IPSEC_CLASSIFY_MAX_SAS + 1];
	static struct ipsec_classify_out out[IPSEC_CLASSIFY_MAX_SAS + 1];
	struct ipsec_classify_env env;
	struct ipsec_classify_out o;
	struct ctp_addr a = cl_addr(MN), b = cl_addr(SG1);

	memset(prev, 0, sizeof prev);
	memset(next, 0, sizeof next);
	cl_topo(&prev[0], &next[0]);
	cl_env(&env, MN, NULL);
	memset(&o, 0x5a, sizeof o);
	CU_ASSERT_EQUAL(ipsec_classify_sa(NULL, &prev[0], &next[0], &a, &b, &o), CTP_E_INVAL);
	CU_ASSERT_EQUAL(ipsec_classify_sa(&env, NULL, &next[0], &a, &b, &o), CTP_E_INVAL);
	CU_ASSERT_EQUAL(ipsec_classify_sa(&env, &prev[0], &next[0], NULL, &b, &o), CTP_E_INVAL);
	CU_ASSERT_EQUAL(ipsec_classify_sa(&env, &prev[0], &next[0], &a, &b, NULL), CTP_E_INVAL);
	env.nmap = 1;                                  /* map NULL */
	CU_ASSERT_EQUAL(ipsec_classify_sa(&env, &prev[0], &next[0], &a, &b, &o), CTP_E_INVAL);
	cl_env(&env, NULL, NULL);                      /* no MN */
	CU_ASSERT_EQUAL(ipsec_classify_sa(&env, &prev[0], &next[0], &a, &b, &o), CTP_E_INVAL);
	CU_ASSERT_EQUAL(o.type, 0x5a);                 /* nothing written */

	cl_env(&env, MN, NULL);
	for (size_t i = 0; i <= IPSEC_CLASSIFY_MAX_SAS; i++)
		in[i] = cl_in(MN, SG1, CTP_PLANE_DATA, 0);
	CU_ASSERT_EQUAL(ipsec_classify_list(&env, prev, next, in, IPSEC_CLASSIFY_MAX_SAS + 1,
	    out, NULL), CTP_E_LIMIT);
	CU_ASSERT_EQUAL(ipsec_classify_list(&env, prev, next, in, IPSEC_CLASSIFY_MAX_SAS, out,
	    NULL), 0);
	EXPECT(&out[IPSEC_CLASSIFY_MAX_SAS - 1], 5, IPSEC_MOVES_LOCAL, SG1, MN, SG1N, MN);
	CU_ASSERT_EQUAL(ipsec_classify_list(&env, prev, next, NULL, 1, out, NULL), CTP_E_INVAL);
	CU_ASSERT_EQUAL(ipsec_classify_list(&env, prev, next, NULL, 0, NULL, NULL), 0);

	/* The MN on a path breaks the model for that plane's SAs. */
	cl_env(&env, SG2, NULL);
	CU_ASSERT_EQUAL(ipsec_classify_sa(&env, &prev[0], &next[0], &a, &b, &o), CTP_E_VALUE);
	EXPECT_FAIL(&o, 0, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE, "MN's address is on");
	cl_env(&env, MN, SG2N);
	CU_ASSERT_EQUAL(ipsec_classify_sa(&env, &prev[0], &next[0], &a, &b, &o), CTP_E_VALUE);
	EXPECT_FAIL(&o, 0, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE, "MN's address is on");
	/* a malformed path */
	cl_env(&env, MN, NULL);
	cl_path(&next[0], NR, SG1N, NR, NULL);
	CU_ASSERT_EQUAL(ipsec_classify_sa(&env, &prev[0], &next[0], &a, &b, &o), CTP_E_VALUE);
	EXPECT_FAIL(&o, 0, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE, "malformed");
}

CTP_TEST_SUITE(classify, NULL, NULL,
    CTP_TEST(test_gateway),
    CTP_TEST(test_fig2_type1),
    CTP_TEST(test_fig3_type2),
    CTP_TEST(test_fig4_type3),
    CTP_TEST(test_fig5_type4),
    CTP_TEST(test_fig6_type5),
    CTP_TEST(test_fig7_multilateral),
    CTP_TEST(test_fig8_multilevel),
    CTP_TEST(test_fig9_mn_pr_control),
    CTP_TEST(test_fig10_mn_sg_data),
    CTP_TEST(test_disjoint),
    CTP_TEST(test_type0_off_path),
    CTP_TEST(test_mn_new_address),
    CTP_TEST(test_ipv6),
    CTP_TEST(test_planes),
    CTP_TEST(test_bundle_split),
    CTP_TEST(test_bundle_order),
    CTP_TEST(test_reused_node),
    CTP_TEST(test_positional_limits),
    CTP_TEST(test_unchanged_plane),
    CTP_TEST(test_bad_calls),
);
