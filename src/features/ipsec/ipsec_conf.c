/*
 * ipsec_conf.c: the IPsec plugin's configuration (ipsec_conf.h).
 *
 * The value tree comes from ctp_conf (after conf/ctpd.xsd) or from JSON in
 * tests, so every value is checked here again: an XML attribute arrives as
 * a string, or as an integer when it is all digits; JSON may give booleans
 * and integers.  A child element is an array of objects; an object where an
 * array is expected is taken as an array of one (JSON written by hand).
 *
 * Decisions where PROFILE 6 and the IPsec CT draft leave it open:
 *  - A path starts with this node (the draft's PFP/NFP start at PR/NR) and
 *    ends with the remote node; at most one per plane (the draft keeps one
 *    forwarding path per plane), 1 to 32 hops of one address family, none
 *    twice (ipsec_classify.c: a node twice would make G ambiguous).
 *  - <sg-replace> entries keep their order: several for one remote SG are
 *    candidates, tried in that order (ipsec_classify.h rule 3, then
 *    sink_review after status 0x83).  local = remote is refused (it says
 *    nothing).
 *  - forbid names algorithms by their IANA names (ipsec_alg.c); DES and
 *    MD5 need no mention, they are refused everywhere (RFC 8221).
 *  - <profile>: a key length is needed where the algorithm has several;
 *    the profile must pass ipsec_profile_verify() like a received one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_proto.h"
#include "ctp/ctp_secret.h"
#include "features/ipsec/ipsec_alg.h"
#include "features/ipsec/ipsec_conf.h"

static const char *const ipsec_conf_planes[] = { "data", "control", "management" };

const char *
ipsec_conf_spi_name(unsigned policy)
{
	switch (policy) {
	case IPSEC_SPI_DENY: return "deny";
	case IPSEC_SPI_RENEGOTIATE: return "renegotiate";
	case IPSEC_SPI_REASSIGN: return "reassign";
	default: return "?";
	}
}

void
ipsec_conf_clear(struct ipsec_conf *c)
{
	ctp_val_free(c->sad);
	ctp_wipe(c, sizeof *c);
}

bool
ipsec_conf_forbidden(const struct ipsec_conf *c, unsigned type, unsigned id)
{
	for (size_t i = 0; i < c->nforbid; i++)
		if (c->forbid[i].type == type && c->forbid[i].id == id)
			return true;
	return false;
}

/* ---- values ------------------------------------------------------------------ */

/* The elements called key: an array of objects, or one object. */
struct ipsec_conf_list {
	const struct ctp_val *v;
	size_t                n;
};

static const struct ctp_val *
ipsec_conf_at(const struct ipsec_conf_list *l, size_t i)
{
	return l->v->kind == CTP_V_OBJ ? l->v : l->v->items[i];
}

/* l->n = 0 when absent. */
static int
ipsec_conf_elems(const struct ctp_val *obj, const char *key, const char *where,
    struct ipsec_conf_list *l, struct ctp_err *err)
{
	const struct ctp_val *v = ctp_val_get(obj, key);

	l->v = v;
	l->n = 0;
	if (!v)
		return 0;
	if (v->kind == CTP_V_OBJ) {
		l->n = 1;
		return 0;
	}
	if (v->kind != CTP_V_ARR)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: %s<%s> is not an element", where,
		    key);
	for (size_t i = 0; i < v->n; i++)
		if (v->items[i]->kind != CTP_V_OBJ)
			return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: %s<%s> %zu is not an element",
			    where, key, i + 1);
	l->n = v->n;
	return 0;
}

/* Refuse any member of obj not in keys (NULL-terminated). */
static int
ipsec_conf_known(const struct ctp_val *obj, const char *const *keys, const char *what,
    struct ctp_err *err)
{
	for (size_t i = 0; i < obj->n; i++) {
		const char *k = obj->members[i].key;
		size_t j;

		for (j = 0; keys[j]; j++)
			if (strcmp(k, keys[j]) == 0)
				break;
		if (!keys[j])
			return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
			    "ipsec: %s: unknown attribute or element \"%s\"", what, k);
	}
	return 0;
}

/* A string attribute; CTP_E_NOTFOUND when absent. */
static int
ipsec_conf_str(const struct ctp_val *obj, const char *key, const char *what, const char **out,
    struct ctp_err *err)
{
	const struct ctp_val *v = ctp_val_get(obj, key);

	if (!v)
		return CTP_E_NOTFOUND;
	if (v->kind != CTP_V_STR || memchr(v->s, 0, v->slen))
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: %s: \"%s\" is not text", what, key);
	*out = v->s;
	return 0;
}

/* An integer attribute in min..max (all digits in XML: an integer; text
 * with blanks around digits is taken too); CTP_E_NOTFOUND when absent. */
static int
ipsec_conf_uint(const struct ctp_val *obj, const char *key, const char *what, uint64_t min,
    uint64_t max, uint64_t *out, struct ctp_err *err)
{
	const struct ctp_val *v = ctp_val_get(obj, key);
	uint64_t u = 0;
	int ok = 0;

	if (!v)
		return CTP_E_NOTFOUND;
	if (v->kind == CTP_V_INT && !v->neg) {
		u = v->u;
		ok = 1;
	} else if (v->kind == CTP_V_STR) {
		const char *p = v->s + strspn(v->s, " \t\r\n");
		size_t nd = strspn(p, "0123456789");

		ok = nd > 0 && nd <= 19 && p[nd + strspn(p + nd, " \t\r\n")] == 0;
		for (size_t i = 0; ok && i < nd; i++)
			u = u * 10 + (uint64_t)(p[i] - '0');
	}
	if (!ok || u < min || u > max)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
		    "ipsec: %s: \"%s\" must be an integer from %llu to %llu", what, key,
		    (unsigned long long)min, (unsigned long long)max);
	*out = u;
	return 0;
}

/* xs:boolean (true, false, 1, 0), or a JSON boolean. */
static int
ipsec_conf_bool(const struct ctp_val *obj, const char *key, const char *what, bool *out,
    struct ctp_err *err)
{
	const struct ctp_val *v = ctp_val_get(obj, key);
	const char *s;

	if (!v)
		return CTP_E_NOTFOUND;
	if ((v->kind == CTP_V_BOOL || v->kind == CTP_V_INT) && !v->neg && v->u <= 1) {
		*out = v->u != 0;
		return 0;
	}
	if (v->kind == CTP_V_STR) {
		s = v->s + strspn(v->s, " \t\r\n");
		if (strncmp(s, "true", 4) == 0 && s[4 + strspn(s + 4, " \t\r\n")] == 0) {
			*out = true;
			return 0;
		}
		if (strncmp(s, "false", 5) == 0 && s[5 + strspn(s + 5, " \t\r\n")] == 0) {
			*out = false;
			return 0;
		}
	}
	return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: %s: \"%s\" must be true or false",
	    what, key);
}

/* One of names[0..n), as its index; CTP_E_NOTFOUND when absent. */
static int
ipsec_conf_enum(const struct ctp_val *obj, const char *key, const char *what,
    const char *const *names, size_t n, unsigned *out, struct ctp_err *err)
{
	const char *s;
	int rc = ipsec_conf_str(obj, key, what, &s, err);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (unsigned)i;
			return 0;
		}
	return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: %s: \"%s\" \"%.40s\" is not one of "
	    "%s%s%s%s%s", what, key, s, names[0], n > 1 ? ", " : "", n > 1 ? names[1] : "",
	    n > 2 ? ", " : "", n > 2 ? names[2] : "");
}

static int
ipsec_conf_addr(const struct ctp_val *obj, const char *key, const char *what,
    struct ctp_addr *a, struct ctp_err *err)
{
	static const uint8_t zero[16];
	const char *s;
	int rc = ipsec_conf_str(obj, key, what, &s, err);

	if (rc == CTP_E_NOTFOUND)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: %s: \"%s\" is missing", what, key);
	if (rc < 0)
		return rc;
	if (ctp_addr_parse(a, s) < 0)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: %s: \"%s\" \"%.46s\" is not an IP "
		    "address", what, key, s);
	if (memcmp(a->a, zero, ctp_addr_len(a->family)) == 0)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: %s: \"%s\" is unspecified", what,
		    key);
	return 0;
}

/* An algorithm by IKEv2 transform ID or IANA name, of one type. */
static int
ipsec_conf_alg_id(const struct ctp_val *obj, unsigned type, const char *what, uint16_t *id,
    struct ctp_err *err)
{
	const struct ctp_val *v = ctp_val_get(obj, "id");
	uint64_t u;
	int rc;

	if (!v)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: %s: \"id\" is missing", what);
	if (v->kind == CTP_V_STR && v->s[0] && !strchr("0123456789 ", v->s[0])) {
		for (size_t i = 0; i < ipsec_alg_count; i++)
			if (ipsec_algs[i].type == type && strcmp(ipsec_algs[i].name, v->s) == 0) {
				*id = ipsec_algs[i].id;
				return 0;
			}
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: %s: \"id\" \"%.40s\" is not the "
		    "IANA name of an %s algorithm ctpd carries", what, v->s,
		    type == IPSEC_ALG_ENCR ? "ENCR" : "INTEG");
	}
	if ((rc = ipsec_conf_uint(obj, "id", what, 0, 65535, &u, err)) < 0)
		return rc;
	*id = (uint16_t)u;
	return 0;
}

/* ---- the elements ------------------------------------------------------------- */

static int
ipsec_conf_sad(struct ipsec_conf *c, const struct ctp_val *o, struct ctp_err *err)
{
	static const char *const backends[] = { "mem", "xfrm" };
	unsigned b = 0;
	char *json;
	int rc;

	/* the backend's own settings are its to check (ipsec_sad.h open) */
	if ((rc = ipsec_conf_enum(o, "backend", "<sad>", backends, 2, &b, err)) < 0)
		return rc == CTP_E_NOTFOUND ?
		    ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: <sad>: \"backend\" is missing") : rc;
	c->backend = b == 0 ? &ipsec_sad_mem : &ipsec_sad_xfrm;
	/* a copy: the configuration tree does not outlive init */
	if ((json = ctp_json_string(o, 0)) == NULL ||
	    ctp_json_parse(json, strlen(json), &c->sad, NULL) < 0) {
		free(json);
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "ipsec: out of memory");
	}
	free(json);
	return 0;
}

/* forbid="ENCR_3DES AUTH_HMAC_SHA1_96": IANA names, blanks or commas. */
static int
ipsec_conf_forbid(struct ipsec_conf *c, const char *s, struct ctp_err *err)
{
	while (*s) {
		size_t n = strcspn(s, " ,\t\r\n"), i;

		for (i = 0; n && i < ipsec_alg_count; i++)
			if (strlen(ipsec_algs[i].name) == n && memcmp(ipsec_algs[i].name, s, n) == 0)
				break;
		if (n && i == ipsec_alg_count)
			return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: <policy>: \"forbid\": "
			    "\"%.*s\" is not the IANA name of an algorithm ctpd carries (ENCR_3DES, "
			    "AUTH_HMAC_SHA1_96, ...)", (int)(n > 40 ? 40 : n), s);
		if (n && !ipsec_conf_forbidden(c, ipsec_algs[i].type, ipsec_algs[i].id)) {
			if (c->nforbid == IPSEC_CONF_MAX_FORBID)
				return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: <policy>: \"forbid\" "
				    "names more than %d algorithms", IPSEC_CONF_MAX_FORBID);
			c->forbid[c->nforbid].type = ipsec_algs[i].type;
			c->forbid[c->nforbid].id = ipsec_algs[i].id;
			c->nforbid++;
		}
		s += n;
		s += strspn(s, " ,\t\r\n");
	}
	return 0;
}

static int
ipsec_conf_policy(struct ipsec_conf *c, const struct ctp_val *o, struct ctp_err *err)
{
	static const char *const keys[] = { "spi-conflict", "seq-margin", "offer-upgrade",
	    "sg-identity", "pmtu", "forbid", NULL };
	static const char *const spi[] = { "deny", "renegotiate", "reassign" };
	static const char *const sgid[] = { "direct", "indirect" };
	const char *w = "<policy>", *s;
	unsigned e;
	uint64_t u;
	int rc;

	if ((rc = ipsec_conf_known(o, keys, w, err)) < 0)
		return rc;
	if ((rc = ipsec_conf_enum(o, "spi-conflict", w, spi, 3, &e, err)) == 0)
		c->spi_conflict = IPSEC_SPI_DENY + e;
	else if (rc != CTP_E_NOTFOUND)
		return rc;
	if ((rc = ipsec_conf_uint(o, "seq-margin", w, 0, UINT64_C(1) << 31, &u, err)) == 0)
		c->seq_margin = (uint32_t)u;
	else if (rc != CTP_E_NOTFOUND)
		return rc;
	if ((rc = ipsec_conf_bool(o, "offer-upgrade", w, &c->offer_upgrade, err)) < 0 &&
	    rc != CTP_E_NOTFOUND)
		return rc;
	if ((rc = ipsec_conf_enum(o, "sg-identity", w, sgid, 2, &e, err)) == 0)
		c->sg_identity = IPSEC_SG_DIRECT + e;
	else if (rc != CTP_E_NOTFOUND)
		return rc;
	/* RFC 791: every IPv4 link carries 68 octets */
	if ((rc = ipsec_conf_uint(o, "pmtu", w, 68, 65535, &u, err)) == 0)
		c->pmtu = (uint16_t)u;
	else if (rc != CTP_E_NOTFOUND)
		return rc;
	if ((rc = ipsec_conf_str(o, "forbid", w, &s, err)) == 0)
		return ipsec_conf_forbid(c, s, err);
	return rc == CTP_E_NOTFOUND ? 0 : rc;
}

static int
ipsec_conf_path(struct ipsec_conf *c, const struct ctp_val *o, size_t pos,
    const struct ctp_addr *own, size_t nown, struct ctp_err *err)
{
	static const char *const keys[] = { "plane", "hop", NULL };
	static const char *const hkeys[] = { "address", "sg", NULL };
	struct ipsec_conf_list hops;
	struct ipsec_path *p;
	char w[48], hw[64];
	unsigned plane;
	size_t nh;
	int rc;

	snprintf(w, sizeof w, "<path> %zu", pos);
	if ((rc = ipsec_conf_known(o, keys, w, err)) < 0)
		return rc;
	if ((rc = ipsec_conf_enum(o, "plane", w, ipsec_conf_planes, 3, &plane, err)) < 0)
		return rc == CTP_E_NOTFOUND ?
		    ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: %s: \"plane\" is missing", w) : rc;
	p = &c->path[plane];
	if (p->present)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: %s: a second path for the %s "
		    "plane", w, ipsec_conf_planes[plane]);
	if ((rc = ipsec_conf_elems(o, "hop", w, &hops, err)) < 0)
		return rc;
	nh = hops.n;
	if (nh == 0 || nh > IPSEC_PROFILE_MAX_NODES)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: %s: %zu hops; a path has 1 to %d",
		    w, nh, IPSEC_PROFILE_MAX_NODES);
	for (size_t i = 0; i < nh; i++) {
		const struct ctp_val *h = ipsec_conf_at(&hops, i);
		struct ctp_addr *a = &p->nodes[i];
		bool sg = false;

		snprintf(hw, sizeof hw, "%s, <hop> %zu", w, i + 1);
		if ((rc = ipsec_conf_known(h, hkeys, hw, err)) < 0 ||
		    (rc = ipsec_conf_addr(h, "address", hw, a, err)) < 0)
			return rc;
		if ((rc = ipsec_conf_bool(h, "sg", hw, &sg, err)) < 0 && rc != CTP_E_NOTFOUND)
			return rc;
		c->sg[plane][i] = sg;
		if (i > 0 && a->family != p->nodes[0].family)
			return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: %s: not of the path's "
			    "address family", hw);
		for (size_t k = 0; k < i; k++)
			if (ctp_addr_eq(a, &p->nodes[k]))
				return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: %s: the same node as "
				    "hop %zu (a path has no loops)", hw, k + 1);
	}
	if (nown > 0) {
		size_t k;

		for (k = 0; k < nown; k++)
			if (ctp_addr_eq(&p->nodes[0], &own[k]))
				break;
		if (k == nown)
			return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: %s: the first hop must be "
			    "this node (one of its <node> addresses)", w);
	}
	p->present = true;
	p->family = p->nodes[0].family;
	p->node_count = (uint8_t)nh;
	c->has_paths = true;
	return 0;
}

static int
ipsec_conf_replace(struct ipsec_conf *c, const struct ctp_val *o, size_t pos,
    struct ctp_err *err)
{
	static const char *const keys[] = { "local", "remote", "peer", NULL };
	struct ipsec_conf_replace *r;
	const char *peer;
	char w[48];
	int rc;

	snprintf(w, sizeof w, "<sg-replace> %zu", pos);
	if (c->nreplace == IPSEC_CONF_MAX_REPLACE)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: more than %d <sg-replace>",
		    IPSEC_CONF_MAX_REPLACE);
	r = &c->replace[c->nreplace];
	if ((rc = ipsec_conf_known(o, keys, w, err)) < 0 ||
	    (rc = ipsec_conf_addr(o, "local", w, &r->local, err)) < 0 ||
	    (rc = ipsec_conf_addr(o, "remote", w, &r->remote, err)) < 0)
		return rc;
	if (ctp_addr_eq(&r->local, &r->remote))
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: %s: \"local\" and \"remote\" are "
		    "the same SG", w);
	if ((rc = ipsec_conf_str(o, "peer", w, &peer, err)) == 0) {
		if (!peer[0] || strlen(peer) >= sizeof r->peer)
			return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: %s: \"peer\" is not a peer "
			    "name", w);
		snprintf(r->peer, sizeof r->peer, "%s", peer);
	} else if (rc != CTP_E_NOTFOUND)
		return rc;
	c->nreplace++;
	return 0;
}

static int
ipsec_conf_profile(struct ipsec_conf *c, const struct ctp_val *o, struct ctp_err *err)
{
	static const char *const keys[] = { "encr", "integ", NULL };
	static const char *const ekeys[] = { "id", "key-bits", NULL };
	static const char *const ikeys[] = { "id", NULL };
	struct ipsec_conf_list l;
	struct ipsec_profile *p = &c->profile;
	struct ctp_err perr;
	char w[48];
	int rc;

	if ((rc = ipsec_conf_known(o, keys, "<profile>", err)) < 0)
		return rc;
	if ((rc = ipsec_conf_elems(o, "encr", "<profile> ", &l, err)) < 0)
		return rc;
	if (l.n > IPSEC_PROFILE_MAX_PREFS)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: <profile>: more than %d <encr>",
		    IPSEC_PROFILE_MAX_PREFS);
	for (size_t i = 0; i < l.n; i++) {
		const struct ctp_val *it = ipsec_conf_at(&l, i);
		struct ipsec_encr_pref *e = &p->encr[p->nencr];
		const struct ipsec_alg *a;
		uint64_t bits;

		snprintf(w, sizeof w, "<profile>, <encr> %zu", i + 1);
		if ((rc = ipsec_conf_known(it, ekeys, w, err)) < 0 ||
		    (rc = ipsec_conf_alg_id(it, IPSEC_ALG_ENCR, w, &e->id, err)) < 0)
			return rc;
		a = ipsec_alg_find(IPSEC_ALG_ENCR, e->id);
		if ((rc = ipsec_conf_uint(it, "key-bits", w, 0, 65535, &bits, err)) == 0)
			e->key_bits = (uint16_t)bits;
		else if (rc != CTP_E_NOTFOUND)
			return rc;
		else if (a && a->nkeys == 1)
			e->key_bits = a->keys[0].bits;
		else
			return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: %s: \"key-bits\" is needed "
			    "(the algorithm has several key lengths)", w);
		p->nencr++;
	}
	if ((rc = ipsec_conf_elems(o, "integ", "<profile> ", &l, err)) < 0)
		return rc;
	if (l.n > IPSEC_PROFILE_MAX_PREFS)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: <profile>: more than %d <integ>",
		    IPSEC_PROFILE_MAX_PREFS);
	for (size_t i = 0; i < l.n; i++) {
		const struct ctp_val *it = ipsec_conf_at(&l, i);

		snprintf(w, sizeof w, "<profile>, <integ> %zu", i + 1);
		if ((rc = ipsec_conf_known(it, ikeys, w, err)) < 0 ||
		    (rc = ipsec_conf_alg_id(it, IPSEC_ALG_INTEG, w, &p->integ[p->ninteg].id,
		    err)) < 0)
			return rc;
		p->ninteg++;
	}
	/* the same rules as a profile received from a peer */
	ctp_err_clear(&perr);
	if (ipsec_profile_verify(p, &perr) < 0)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: <profile>: %s", perr.what);
	return 0;
}

/* ---- the whole ------------------------------------------------------------------ */

static int
ipsec_conf_single(const struct ctp_val *config, const char *key, const struct ctp_val **out,
    struct ctp_err *err)
{
	struct ipsec_conf_list l;
	int rc;

	*out = NULL;
	if ((rc = ipsec_conf_elems(config, key, "", &l, err)) < 0)
		return rc;
	if (l.n > 1)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: <%s> appears %zu times; once at "
		    "most", key, l.n);
	if (l.n == 1)
		*out = ipsec_conf_at(&l, 0);
	return 0;
}

static int
ipsec_conf_all(const struct ctp_val *config, const struct ctp_addr *own, size_t nown,
    struct ipsec_conf *c, struct ctp_err *err)
{
	static const char *const keys[] = { "sad", "policy", "path", "sg-replace", "profile",
	    NULL };
	struct ipsec_conf_list l;
	const struct ctp_val *o;
	int rc;

	for (size_t i = 0; i < config->n; i++) {
		size_t j;

		for (j = 0; keys[j]; j++)
			if (strcmp(config->members[i].key, keys[j]) == 0)
				break;
		if (!keys[j])
			return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: unknown configuration key "
			    "\"%s\" (the elements are sad, policy, path, sg-replace, profile)",
			    config->members[i].key);
	}
	if ((rc = ipsec_conf_single(config, "sad", &o, err)) < 0 ||
	    (o && (rc = ipsec_conf_sad(c, o, err)) < 0))
		return rc;
	if ((rc = ipsec_conf_single(config, "policy", &o, err)) < 0 ||
	    (o && (rc = ipsec_conf_policy(c, o, err)) < 0))
		return rc;
	if ((rc = ipsec_conf_single(config, "profile", &o, err)) < 0 ||
	    (o && (rc = ipsec_conf_profile(c, o, err)) < 0))
		return rc;
	if ((rc = ipsec_conf_elems(config, "path", "", &l, err)) < 0)
		return rc;
	for (size_t i = 0; i < l.n; i++)
		if ((rc = ipsec_conf_path(c, ipsec_conf_at(&l, i), i + 1, own, nown, err)) < 0)
			return rc;
	if ((rc = ipsec_conf_elems(config, "sg-replace", "", &l, err)) < 0)
		return rc;
	for (size_t i = 0; i < l.n; i++)
		if ((rc = ipsec_conf_replace(c, ipsec_conf_at(&l, i), i + 1, err)) < 0)
			return rc;
	return 0;
}

int
ipsec_conf_parse(const struct ctp_val *config, const struct ctp_addr *own, size_t nown,
    struct ipsec_conf *c, struct ctp_err *err)
{
	int rc = 0;

	memset(c, 0, sizeof *c);
	c->backend = &ipsec_sad_mem;
	c->spi_conflict = IPSEC_SPI_REASSIGN;
	c->seq_margin = CTP_SEQ_MARGIN;
	c->offer_upgrade = true;
	c->sg_identity = IPSEC_SG_DIRECT;
	if (config && config->kind != CTP_V_OBJ)
		rc = ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: configuration is not an object");
	else if (config)
		rc = ipsec_conf_all(config, own, nown, c, err);
	if (rc < 0)
		ipsec_conf_clear(c);
	return rc;
}
