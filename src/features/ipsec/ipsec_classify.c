/*
 * ipsec_classify.c: SA types 1 to 5 and where moving endpoints go (IPsec CT
 * draft 5 and 6.1).  The rules, and the decisions where the draft is silent,
 * are in ipsec_classify.h; this file cites them where it applies them.
 *
 * Everything is bounded by the profile's limits (IPSEC_PROFILE_MAX_NODES
 * nodes per path, IPSEC_CLASSIFY_MAX_SAS SAs per call), so the quadratic
 * loops below stay under a few hundred thousand address comparisons, and
 * nothing needs memory beyond the caller's arrays and a few locals.
 */
#include <string.h>

#include "ctp/ctp_proto.h"
#include "features/ipsec/ipsec_classify.h"

/* The draft's numbers are the wire's numbers (PROFILE 6 ENDPOINTS). */
_Static_assert((int)IPSEC_CLASSIFY_UNKNOWN == (int)CTP_SA_TYPE_UNKNOWN &&
    (int)IPSEC_CLASSIFY_TYPE3 == (int)CTP_SA_TYPE_TYPE3 &&
    (int)IPSEC_CLASSIFY_TYPE4 == (int)CTP_SA_TYPE_TYPE4 &&
    (int)IPSEC_CLASSIFY_TYPE5 == (int)CTP_SA_TYPE_TYPE5, "SA type numbering");

/* Where an endpoint sits, relative to G on the PFP (draft 5.1). */
enum ipsec_classify_pos {
	IPSEC_CLASSIFY_POS_NONE,      /* not on the PFP, not the MN */
	IPSEC_CLASSIFY_POS_MN,
	IPSEC_CLASSIFY_POS_PR_SIDE,   /* PR (inclusive) .. G (exclusive) */
	IPSEC_CLASSIFY_POS_G_SIDE,    /* G (inclusive) .. RN (inclusive) */
};

/* One plane's pair of paths, checked once and shared by its SAs. */
struct ipsec_classify_plane {
	const struct ipsec_path *p, *n;
	size_t                   gp, gn;       /* G on p and n; counts when disjoint */
	bool                     disjoint;
	int                      code;         /* 0, or why no SA of it can classify */
	const char              *why;
};

/* An endpoint: where it was and where it goes. */
struct ipsec_classify_end {
	const struct ctp_addr  *addr;
	enum ipsec_classify_pos pos;
	int                     idx;           /* on the PFP; -1 for the MN or nowhere */
	struct ctp_addr         next;
};

static bool
ipsec_classify_unspec(const struct ctp_addr *a)
{
	static const uint8_t zero[16];
	size_t len = ctp_addr_len(a->family);

	return len == 0 || memcmp(a->a, zero, len) == 0;
}

/* Index of a on the path, -1 when it is not there. */
static int
ipsec_classify_index(const struct ipsec_path *path, const struct ctp_addr *a)
{
	for (unsigned i = 0; i < path->node_count; i++)
		if (ctp_addr_eq(&path->nodes[i], a))
			return (int)i;
	return -1;
}

static bool
ipsec_classify_is_mn(const struct ipsec_classify_env *env, const struct ctp_addr *a)
{
	return ctp_addr_eq(a, &env->mn_prev) ||
	    (env->mn_new.family != 0 && ctp_addr_eq(a, &env->mn_new));
}

/*
 * A path as the PATH TLV carries it (PROFILE 6).  ipsec_profile_verify()
 * already refuses most of this in a received profile; the new path is the
 * local configuration's, so both are checked here.  A node twice on one path
 * would be a loop, and would make "the node at distance d" and G ambiguous.
 */
static int
ipsec_classify_path_check(const struct ipsec_path *path)
{
	if (!path->present)
		return CTP_E_MISSING;
	if (ctp_addr_len(path->family) == 0 || path->node_count == 0 ||
	    path->node_count > IPSEC_PROFILE_MAX_NODES)
		return CTP_E_VALUE;
	for (unsigned i = 0; i < path->node_count; i++) {
		if (path->nodes[i].family != path->family || ipsec_classify_unspec(&path->nodes[i]))
			return CTP_E_VALUE;
		for (unsigned j = 0; j < i; j++)
			if (ctp_addr_eq(&path->nodes[i], &path->nodes[j]))
				return CTP_E_VALUE;
	}
	return 0;
}

/*
 * G = the first node of the longest common suffix (draft 4: "from which
 * point onwards the FP to the RN remains unchanged").  Comparing from the RN
 * backwards, not searching for the first shared node: a node that both paths
 * pass but from which they go on differently is not G.
 */
int
ipsec_classify_gateway(const struct ipsec_path *prev, const struct ipsec_path *next,
    size_t *gp, size_t *gn)
{
	size_t np, nn, k = 0;
	int rc;

	if (prev == NULL || next == NULL || gp == NULL || gn == NULL)
		return CTP_E_INVAL;
	if ((rc = ipsec_classify_path_check(prev)) < 0 ||
	    (rc = ipsec_classify_path_check(next)) < 0)
		return rc;
	np = prev->node_count;
	nn = next->node_count;
	while (k < np && k < nn && ctp_addr_eq(&prev->nodes[np - 1 - k], &next->nodes[nn - 1 - k]))
		k++;
	*gp = np - k;
	*gn = nn - k;
	return 0;
}

static void
ipsec_classify_plane_init(struct ipsec_classify_plane *pl, const struct ipsec_classify_env *env,
    const struct ipsec_path *prev, const struct ipsec_path *next)
{
	memset(pl, 0, sizeof *pl);
	pl->p = prev;
	pl->n = next;
	pl->why = "";
	if ((pl->code = ipsec_classify_gateway(prev, next, &pl->gp, &pl->gn)) < 0) {
		pl->why = pl->code == CTP_E_MISSING ? "no forwarding path for this plane" :
		    "a forwarding path of this plane is malformed";
		return;
	}
	/* The MN sits before the AR (figure 1); on a path it would be two
	 * things at once and the rules of 5.1 would not apply. */
	if (ipsec_classify_index(prev, &env->mn_prev) >= 0 ||
	    ipsec_classify_index(next, &env->mn_prev) >= 0 ||
	    (env->mn_new.family != 0 && (ipsec_classify_index(prev, &env->mn_new) >= 0 ||
	    ipsec_classify_index(next, &env->mn_new) >= 0))) {
		pl->code = CTP_E_VALUE;
		pl->why = "the MN's address is on a forwarding path";
		return;
	}
	pl->disjoint = pl->gp == prev->node_count;
}

static void
ipsec_classify_locate(const struct ipsec_classify_env *env, const struct ipsec_classify_plane *pl,
    const struct ctp_addr *a, struct ipsec_classify_end *e)
{
	memset(e, 0, sizeof *e);
	e->addr = a;
	e->idx = -1;
	if (ipsec_classify_is_mn(env, a)) {
		e->pos = IPSEC_CLASSIFY_POS_MN;
		return;
	}
	e->idx = ipsec_classify_index(pl->p, a);
	if (e->idx < 0)
		e->pos = IPSEC_CLASSIFY_POS_NONE;
	else if ((size_t)e->idx < pl->gp)
		e->pos = IPSEC_CLASSIFY_POS_PR_SIDE;
	else
		e->pos = IPSEC_CLASSIFY_POS_G_SIDE;
}

/*
 * Where the context of P[d], d < gp, goes: rules 1 to 5 of the header, in
 * that order.  0 with *next set, or CTP_E_NOTFOUND (no candidate SG, 0x84).
 */
static int
ipsec_classify_counterpart(const struct ipsec_classify_env *env,
    const struct ipsec_classify_plane *pl, size_t d, struct ctp_addr *next, const char **why)
{
	const struct ctp_addr *u = &pl->p->nodes[d];
	size_t nn = pl->n->node_count, lim;
	bool mapped = false;
	int j;

	/* 1. Types 3, 4 (5.2) and figure 9: "S1 is collocated with PR, while
	 * S1' is collocated with NR"; 6.1: no hop beyond the ARs. */
	if (d == 0) {
		*next = pl->n->nodes[0];
		return 0;
	}
	/* 2. The NFP still runs through u before G: u is the appropriate
	 * endpoint in the NFP (6.1) already. */
	if ((j = ipsec_classify_index(pl->n, u)) >= 0 && (size_t)j < pl->gn) {
		*next = *u;
		return 0;
	}
	/* 3. The operator's correspondence.  Several entries per SG let one
	 * map serve several NRs; the first that lies before G on this NFP wins. */
	for (size_t m = 0; m < env->nmap; m++) {
		if (!ctp_addr_eq(&env->map[m].prev, u))
			continue;
		mapped = true;
		if ((j = ipsec_classify_index(pl->n, &env->map[m].next)) >= 0 &&
		    (size_t)j < pl->gn) {
			*next = env->map[m].next;
			return 0;
		}
	}
	if (mapped) {
		*why = "the configured SG for an endpoint is not on the new path before G";
		return CTP_E_NOTFOUND;
	}
	/* 4. Disjoint: the far ends correspond as the near ends do. */
	if (pl->disjoint && d + 1 == pl->p->node_count) {
		*next = pl->n->nodes[nn - 1];
		return 0;
	}
	/* 5. Same hop count from the AR, strictly between NR and G (figures 4
	 * to 6 draw S1', S2' there), or NR and the new RN when disjoint. */
	lim = pl->disjoint ? nn - 1 : pl->gn;
	if (d < lim) {
		*next = pl->n->nodes[d];
		return 0;
	}
	*why = "no node at the same distance from NR before G on the new path";
	return CTP_E_NOTFOUND;
}

/* Where an endpoint is after the handover; 0 or CTP_E_NOTFOUND. */
static int
ipsec_classify_next(const struct ipsec_classify_env *env, const struct ipsec_classify_plane *pl,
    struct ipsec_classify_end *e, const char **why)
{
	switch (e->pos) {
	case IPSEC_CLASSIFY_POS_MN:
		e->next = env->mn_new.family != 0 ? env->mn_new : *e->addr;
		return 0;
	case IPSEC_CLASSIFY_POS_PR_SIDE:
		return ipsec_classify_counterpart(env, pl, (size_t)e->idx, &e->next, why);
	case IPSEC_CLASSIFY_POS_G_SIDE:
	case IPSEC_CLASSIFY_POS_NONE:
		break;
	}
	e->next = *e->addr;
	return 0;
}

/* Record a verdict that nothing moves; returns code. */
static int
ipsec_classify_fail(struct ipsec_classify_out *out, int code, uint8_t status, const char *why)
{
	out->code = code;
	out->status = status;
	out->moves = 0;
	out->why = why;
	memset(&out->local_new, 0, sizeof out->local_new);
	memset(&out->peer_new, 0, sizeof out->peer_new);
	return code;
}

/* Rank along a path, the MN first (-1): the order bundles and type 4 keep. */
static int
ipsec_classify_rank(const struct ipsec_classify_env *env, const struct ipsec_path *path,
    const struct ctp_addr *a)
{
	return ipsec_classify_is_mn(env, a) ? -1 : ipsec_classify_index(path, a);
}

static const char *const ipsec_classify_type_why[] = {
	[IPSEC_CLASSIFY_TYPE1] = "type 1: both ends between G and RN, nothing moves",
	[IPSEC_CLASSIFY_TYPE2] = "type 2: MN to between G and RN, nothing moves",
	[IPSEC_CLASSIFY_TYPE3] = "type 3: the PR-side end moves",
	[IPSEC_CLASSIFY_TYPE4] = "type 4: both ends move",
	[IPSEC_CLASSIFY_TYPE5] = "type 5: the PR-side end moves",
};

/* Fill *out for the SA between a and b; returns out->code. */
static int
ipsec_classify_one(const struct ipsec_classify_env *env, const struct ipsec_classify_plane *pl,
    const struct ctp_addr *a, const struct ctp_addr *b, struct ipsec_classify_out *out)
{
	struct ipsec_classify_end ea, eb, *x, *y;
	enum ipsec_classify_pos px, py;
	const char *why = NULL;
	bool mx, my;
	int rc;

	memset(out, 0, sizeof *out);
	out->local = *a;
	out->peer = *b;
	out->why = "";
	if (pl->code < 0)
		return ipsec_classify_fail(out, pl->code, CTP_ST_IPSEC_RENEGOTIATE, pl->why);
	if (ipsec_classify_unspec(a) || ipsec_classify_unspec(b))
		return ipsec_classify_fail(out, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE,
		    "an endpoint is unspecified");
	if (ctp_addr_eq(a, b))
		return ipsec_classify_fail(out, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE,
		    "both endpoints are the same node");
	ipsec_classify_locate(env, pl, a, &ea);
	ipsec_classify_locate(env, pl, b, &eb);

	/* 5.1 speaks of SAs along the PFP only: anything else is undecided. */
	if (ea.pos == IPSEC_CLASSIFY_POS_NONE || eb.pos == IPSEC_CLASSIFY_POS_NONE) {
		const struct ctp_addr *off = ea.pos == IPSEC_CLASSIFY_POS_NONE ? a : b;

		return ipsec_classify_fail(out, CTP_E_NOTFOUND, CTP_ST_IPSEC_RENEGOTIATE,
		    ipsec_classify_index(pl->n, off) >= 0 ?
		    "type 0: an endpoint is only on the new path" :
		    "type 0: an endpoint is neither the MN nor on the previous path");
	}
	if (ea.pos == IPSEC_CLASSIFY_POS_MN && eb.pos == IPSEC_CLASSIFY_POS_MN)
		return ipsec_classify_fail(out, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE,
		    "type 0: both endpoints are the MN");

	/* x = the end that moves if either does: the PR-side one, the one
	 * nearer to PR when both are (S1 of figure 5); else the input order. */
	x = &ea;
	y = &eb;
	if ((eb.pos == IPSEC_CLASSIFY_POS_PR_SIDE && ea.pos != IPSEC_CLASSIFY_POS_PR_SIDE) ||
	    (ea.pos == IPSEC_CLASSIFY_POS_PR_SIDE && eb.pos == IPSEC_CLASSIFY_POS_PR_SIDE &&
	    eb.idx < ea.idx)) {
		x = &eb;
		y = &ea;
	}
	px = x->pos;
	py = y->pos;
	if (px == IPSEC_CLASSIFY_POS_PR_SIDE)
		out->type = py == IPSEC_CLASSIFY_POS_PR_SIDE ? IPSEC_CLASSIFY_TYPE4 :
		    py == IPSEC_CLASSIFY_POS_MN ? IPSEC_CLASSIFY_TYPE5 : IPSEC_CLASSIFY_TYPE3;
	else if (px == IPSEC_CLASSIFY_POS_MN || py == IPSEC_CLASSIFY_POS_MN)
		out->type = IPSEC_CLASSIFY_TYPE2;
	else
		out->type = IPSEC_CLASSIFY_TYPE1;
	out->swapped = x == &eb;
	out->local = *x->addr;
	out->peer = *y->addr;

	if ((rc = ipsec_classify_next(env, pl, x, &why)) < 0 ||
	    (rc = ipsec_classify_next(env, pl, y, &why)) < 0)
		return ipsec_classify_fail(out, rc, CTP_ST_IPSEC_NO_CANDIDATE, why);
	if (ctp_addr_eq(&x->next, &y->next))
		return ipsec_classify_fail(out, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE,
		    "both endpoints would move to the same node");
	if (x->next.family != y->next.family)
		return ipsec_classify_fail(out, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE,
		    "the new endpoints are of different address families");
	if (out->type == IPSEC_CLASSIFY_TYPE4 && ipsec_classify_rank(env, pl->n, &x->next) >
	    ipsec_classify_rank(env, pl->n, &y->next))
		return ipsec_classify_fail(out, CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE,
		    "type 4: the new endpoints would be in reverse order on the new path");

	/* Only PR-side ends move (the MN's SAD is its own), and only where
	 * rule 2 did not keep them.  PROFILE 6 has no "peer only": when just
	 * S2 of a type 4 moves, it becomes the local end. */
	mx = px == IPSEC_CLASSIFY_POS_PR_SIDE && !ctp_addr_eq(&x->next, x->addr);
	my = py == IPSEC_CLASSIFY_POS_PR_SIDE && !ctp_addr_eq(&y->next, y->addr);
	if (my && !mx) {
		struct ipsec_classify_end *t = x;

		x = y;
		y = t;
		mx = true;
		my = false;
	}
	out->swapped = x == &eb;
	out->local = *x->addr;
	out->peer = *y->addr;
	out->local_new = x->next;
	out->peer_new = y->next;
	out->moves = (uint8_t)((mx ? IPSEC_MOVES_LOCAL : 0) | (my ? IPSEC_MOVES_PEER : 0));
	out->why = out->type >= IPSEC_CLASSIFY_TYPE3 && !mx ?
	    "the PR-side end is still on the new path before G, nothing moves" :
	    ipsec_classify_type_why[out->type];
	return 0;
}

int
ipsec_classify_sa(const struct ipsec_classify_env *env, const struct ipsec_path *prev,
    const struct ipsec_path *next, const struct ctp_addr *a, const struct ctp_addr *b,
    struct ipsec_classify_out *out)
{
	struct ipsec_classify_plane pl;

	if (env == NULL || prev == NULL || next == NULL || a == NULL || b == NULL ||
	    out == NULL || ipsec_classify_unspec(&env->mn_prev) ||
	    (env->nmap > 0 && env->map == NULL))
		return CTP_E_INVAL;
	ipsec_classify_plane_init(&pl, env, prev, next);
	return ipsec_classify_one(env, &pl, a, b, out);
}

/* The bundle verdicts, compared by address below. */
static const char ipsec_classify_split[] =
    "bundle: one endpoint would split across two new endpoints";
static const char ipsec_classify_planes[] = "bundle: members are in different planes";
static const char ipsec_classify_order[] =
    "bundle: its SAs would no longer nest in order on the new path";

/*
 * Two members i and k of one bundle, every endpoint of one against every
 * endpoint of the other.  Split: one node of the PFP would become two nodes
 * of the NFP.  Order: u before v on the PFP but u' after v' on the NFP (only
 * within one plane: ranks on different paths do not compare).  Returns
 * ipsec_classify_split, ipsec_classify_order or NULL.
 */
static const char *
ipsec_classify_pair(const struct ipsec_classify_env *env, const struct ipsec_classify_plane *pl,
    const struct ipsec_classify_out *oi, const struct ipsec_classify_out *ok, bool same_plane)
{
	const struct ctp_addr *old_i[2] = { &oi->local, &oi->peer };
	const struct ctp_addr *new_i[2] = { &oi->local_new, &oi->peer_new };
	const struct ctp_addr *old_k[2] = { &ok->local, &ok->peer };
	const struct ctp_addr *new_k[2] = { &ok->local_new, &ok->peer_new };
	const char *why = NULL;

	for (int s = 0; s < 2; s++) {
		for (int t = 0; t < 2; t++) {
			if (ctp_addr_eq(old_i[s], old_k[t]) && !ctp_addr_eq(new_i[s], new_k[t]))
				return ipsec_classify_split;
			if (same_plane &&
			    ipsec_classify_rank(env, pl->p, old_i[s]) <
			    ipsec_classify_rank(env, pl->p, old_k[t]) &&
			    ipsec_classify_rank(env, pl->n, new_i[s]) >
			    ipsec_classify_rank(env, pl->n, new_k[t]))
				why = ipsec_classify_order;
		}
	}
	return why;
}

/*
 * The bundle whose first member is in[first], every member of which has a
 * verdict of code 0.  Splits are reported before a plane mismatch (they say
 * more, and a mismatch may be their cause), the order last.
 */
static const char *
ipsec_classify_bundle_check(const struct ipsec_classify_env *env,
    const struct ipsec_classify_plane *pl, const struct ipsec_classify_in *in, size_t n,
    const struct ipsec_classify_out *out, size_t first)
{
	uint32_t id = in[first].bundle_id;
	const char *why = NULL, *w;

	for (size_t i = first; i < n; i++) {
		if (!in[i].has_bundle || in[i].bundle_id != id)
			continue;
		if (in[i].plane != in[first].plane && why == NULL)
			why = ipsec_classify_planes;
		for (size_t k = first; k < n; k++) {
			if (!in[k].has_bundle || in[k].bundle_id != id)
				continue;
			w = ipsec_classify_pair(env, &pl[in[i].plane - 1], &out[i], &out[k],
			    in[i].plane == in[k].plane);
			if (w == ipsec_classify_split)
				return w;
			if (w != NULL && why == NULL)
				why = w;
		}
	}
	return why;
}

/* Draft 5.3, figure 8: a bundle moves whole or not at all. */
static void
ipsec_classify_bundles(const struct ipsec_classify_env *env,
    const struct ipsec_classify_plane *pl, const struct ipsec_classify_in *in, size_t n,
    struct ipsec_classify_out *out)
{
	for (size_t i = 0; i < n; i++) {
		bool seen = false, moving = false, failed = false;
		const char *why;

		if (!in[i].has_bundle)
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = in[j].has_bundle && in[j].bundle_id == in[i].bundle_id;
		if (seen)
			continue;
		for (size_t j = i; j < n; j++) {
			if (!in[j].has_bundle || in[j].bundle_id != in[i].bundle_id)
				continue;
			moving |= out[j].moves != 0;
			failed |= out[j].code < 0;
		}
		/* Nothing moves: the bundle stays whole where it is. */
		if (!moving)
			continue;
		why = failed ? "bundle: a member cannot move, so none does" :
		    ipsec_classify_bundle_check(env, pl, in, n, out, i);
		if (why == NULL)
			continue;
		for (size_t j = i; j < n; j++)
			if (in[j].has_bundle && in[j].bundle_id == in[i].bundle_id)
				(void)ipsec_classify_fail(&out[j], CTP_E_VALUE,
				    CTP_ST_IPSEC_RENEGOTIATE, why);
	}
}

int
ipsec_classify_list(const struct ipsec_classify_env *env,
    const struct ipsec_path prev[IPSEC_PROFILE_PLANES],
    const struct ipsec_path next[IPSEC_PROFILE_PLANES],
    const struct ipsec_classify_in *in, size_t n, struct ipsec_classify_out *out,
    struct ctp_err *err)
{
	struct ipsec_classify_plane pl[IPSEC_PROFILE_PLANES];

	if (env == NULL || prev == NULL || next == NULL || (n > 0 && (in == NULL || out == NULL)) ||
	    ipsec_classify_unspec(&env->mn_prev) || (env->nmap > 0 && env->map == NULL))
		return CTP_E_INVAL;
	if (n > IPSEC_CLASSIFY_MAX_SAS)
		return CTP_E_LIMIT;
	for (unsigned p = 0; p < IPSEC_PROFILE_PLANES; p++)
		ipsec_classify_plane_init(&pl[p], env, &prev[p], &next[p]);
	for (size_t i = 0; i < n; i++) {
		if (in[i].plane < CTP_PLANE_DATA || in[i].plane > CTP_PLANE_MANAGEMENT) {
			memset(&out[i], 0, sizeof out[i]);
			out[i].local = in[i].a;
			out[i].peer = in[i].b;
			(void)ipsec_classify_fail(&out[i], CTP_E_VALUE, CTP_ST_IPSEC_RENEGOTIATE,
			    "plane outside 1..3");
			continue;
		}
		(void)ipsec_classify_one(env, &pl[in[i].plane - 1], &in[i].a, &in[i].b, &out[i]);
	}
	ipsec_classify_bundles(env, pl, in, n, out);
	for (size_t i = 0; i < n; i++) {
		char l[CTP_ADDRSTRLEN], r[CTP_ADDRSTRLEN];

		if (out[i].code == 0)
			continue;
		return ctp_err_set(err, out[i].code, i, out[i].status,
		    "SA %zu (%s - %s, plane %u): %s", i, ctp_addr_fmt(&in[i].a, l, sizeof l),
		    ctp_addr_fmt(&in[i].b, r, sizeof r), in[i].plane, out[i].why);
	}
	return 0;
}

void
ipsec_classify_in_of(const struct ipsec_sa *sa, uint8_t plane, struct ipsec_classify_in *in)
{
	memset(in, 0, sizeof *in);
	in->a = sa->local;
	in->b = sa->peer;
	in->plane = plane;
	in->has_bundle = sa->has_bundle;
	in->bundle_id = sa->has_bundle ? sa->bundle.id : 0;
}
