/*
 * test_xfrm_policy.c: the ESP coverage check of security mode `ipsec`
 * (src/ctp/ctp_xfrm_policy.c) on SPD dumps a real kernel gave
 * (tests/vectors/xfrm: c-spd.hex, made by record-policy.sh, one peer per
 * case; a-spd.hex and b-spd.hex, the SAD backend's recordings).
 *
 *   cases       every peer of c-spd.hex: covered or not, in which
 *               direction, and the reason names what is missing
 *   recorded    the backend's recordings: transport pairs and a tunnel's
 *               inner networks are covered, its outer addresses are not
 *   malformed   truncations and bit flips of c-spd.hex never crash and
 *               never pass a dump that does not parse
 *   args        bad flows are refused
 *
 * Whether the kernel really refuses what is not covered here, and ctpd
 * with it, is tests/vm/ipsec_policy.sh's business.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_xfrm_policy.h"
#include "test.h"

static int
xp_little_endian(void)
{
	const uint16_t one = 1;

	return *(const uint8_t *)&one == 1;
}

static uint8_t *
xp_dump(const char *name, size_t *len)
{
	const char *d = getenv("CTP_VECTOR_DIR");
	char path[600];
	unsigned char *t, *b;
	size_t tl;

	snprintf(path, sizeof path, "%s/xfrm/%s", d && *d ? d : "tests/vectors", name);
	if ((t = ctp_test_read_file(path, &tl)) == NULL) {
		fprintf(stderr, "\n    no %s (run from the repository top)\n", path);
		return NULL;
	}
	b = ctp_test_hex((char *)t, len);
	free(t);
	return b;
}

static void
xp_flow(struct ctp_xfrm_flow *f, const char *local, const char *peer, uint8_t proto,
    uint16_t lport, uint16_t pport)
{
	memset(f, 0, sizeof *f);
	CU_ASSERT_FATAL(ctp_addr_parse(&f->local, local) == 0);
	CU_ASSERT_FATAL(ctp_addr_parse(&f->peer, peer) == 0);
	f->proto = proto;
	f->local_port = lport;
	f->peer_port = pport;
}

struct xp_case {
	const char *local, *peer;
	uint8_t     proto;
	uint16_t    lport, pport;
	int         out_ok, in_ok;
	const char *why;          /* a part of the reason, when not covered */
};

#define SCTP 132
#define UDP  17

static const struct xp_case xp_cases[] = {
	{ "192.0.2.50", "192.0.2.51", SCTP, 5091, 5091, 1, 1, NULL },
	{ "192.0.2.50", "192.0.2.51", UDP, 9899, 9899, 1, 1, NULL },
	/* proto sctp only */
	{ "192.0.2.50", "192.0.2.52", SCTP, 5091, 5091, 1, 1, NULL },
	{ "192.0.2.50", "192.0.2.52", UDP, 9899, 9899, 0, 0, "outbound 192.0.2.50 port 9899 -> "
	  "192.0.2.52 port 9899 (UDP): no policy applies; inbound 192.0.2.52 port 9899 -> "
	  "192.0.2.50 port 9899 (UDP): no policy applies" },
	/* proto udp only */
	{ "192.0.2.50", "192.0.2.53", SCTP, 5091, 5091, 0, 0, "no policy applies" },
	{ "192.0.2.50", "192.0.2.53", UDP, 9899, 9899, 1, 1, NULL },
	/* outbound only */
	{ "192.0.2.50", "192.0.2.54", SCTP, 5091, 5091, 1, 0, "inbound 192.0.2.54 port 5091 -> "
	  "192.0.2.50 port 5091 (SCTP): no policy applies" },
	/* an SCTP bypass of priority 50 before ESP of priority 100, inbound */
	{ "192.0.2.50", "192.0.2.55", SCTP, 5091, 5091, 1, 0, "inbound 192.0.2.55 port 5091 -> "
	  "192.0.2.50 port 5091 (SCTP): the policy of priority 50 lets plaintext pass (no "
	  "template) and wins over the ESP one" },
	{ "192.0.2.50", "192.0.2.55", UDP, 9899, 9899, 1, 1, NULL },
	/* an SCTP block of priority 10, outbound */
	{ "192.0.2.50", "192.0.2.56", SCTP, 5091, 5091, 0, 1, "the policy of priority 10 blocks "
	  "the traffic and wins over the ESP one" },
	/* level use inbound */
	{ "192.0.2.50", "192.0.2.57", SCTP, 5091, 5091, 1, 0, "has an optional ESP template" },
	/* AH only */
	{ "192.0.2.50", "192.0.2.58", SCTP, 5091, 5091, 0, 0, "has no ESP template" },
	/* SCTP ports 5091 both ways only */
	{ "192.0.2.50", "192.0.2.59", SCTP, 5091, 5091, 1, 1, NULL },
	{ "192.0.2.50", "192.0.2.59", SCTP, 5091, 6000, 0, 0, "no policy applies" },
	{ "192.0.2.50", "192.0.2.59", SCTP, 40000, 5091, 0, 0, "no policy applies" },
	/* marked packets only */
	{ "192.0.2.50", "192.0.2.60", SCTP, 5091, 5091, 0, 0, "no policy applies" },
	/* a sub policy blocks, whatever the main policies' priorities */
	{ "192.0.2.50", "192.0.2.61", SCTP, 5091, 5091, 0, 1, "a sub policy of priority 5000 "
	  "blocks the traffic" },
	/* a tie of equal priority: not covered */
	{ "192.0.2.50", "192.0.2.62", SCTP, 5091, 5091, 0, 1, "ties" },
	{ "192.0.2.50", "192.0.2.62", UDP, 9899, 9899, 1, 1, NULL },
	/* bound to an interface */
	{ "192.0.2.50", "192.0.2.63", SCTP, 5091, 5091, 0, 0, "only on one interface" },
	/* a tunnel to a /24, and no policy for the neighbours */
	{ "192.0.2.50", "198.51.100.7", SCTP, 5091, 5091, 1, 1, NULL },
	{ "192.0.2.50", "198.51.101.7", SCTP, 5091, 5091, 0, 0, "no policy applies" },
	{ "192.0.2.50", "192.0.2.99", SCTP, 5091, 5091, 0, 0, "no policy applies" },
	/* another local address than the policies' */
	{ "192.0.2.49", "192.0.2.51", SCTP, 5091, 5091, 0, 0, "no policy applies" },
	/* IPv6 */
	{ "2001:db8::50", "2001:db8::51", SCTP, 5091, 5091, 1, 1, NULL },
	{ "2001:db8::50", "2001:db8:1::abcd", SCTP, 5091, 5091, 1, 1, NULL },
	{ "2001:db8::50", "2001:db8:2::1", SCTP, 5091, 5091, 0, 0, "outbound 2001:db8::50 port "
	  "5091 -> 2001:db8:2::1 port 5091 (SCTP): no policy applies" },
};

static void
test_cases(void)
{
	struct ctp_xfrm_cover cov;
	struct ctp_xfrm_flow f;
	struct ctp_err err;
	uint8_t *d;
	size_t len;

	if (!xp_little_endian())
		return;
	d = xp_dump("c-spd.hex", &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	for (size_t i = 0; i < sizeof xp_cases / sizeof xp_cases[0]; i++) {
		const struct xp_case *c = &xp_cases[i];
		int rc;

		xp_flow(&f, c->local, c->peer, c->proto, c->lport, c->pport);
		ctp_err_clear(&err);
		rc = ctp_xfrm_policy_match(d, len, &f, &cov, &err);
		if (getenv("CTP_TEST_VERBOSE"))
			fprintf(stderr, "\n    %s -> %s proto %u: %d %s", c->local, c->peer, c->proto, rc,
			    cov.why);
		if (rc != (c->out_ok && c->in_ok) || cov.out_ok != c->out_ok ||
		    cov.in_ok != c->in_ok || (c->why && !strstr(cov.why, c->why)) ||
		    (!c->why && cov.why[0]))
			fprintf(stderr, "\n    case %zu (%s -> %s proto %u): rc %d out %d in %d: %s %s\n",
			    i, c->local, c->peer, c->proto, rc, cov.out_ok, cov.in_ok, cov.why, err.what);
		CU_ASSERT_EQUAL(rc, c->out_ok && c->in_ok);
		CU_ASSERT_EQUAL(cov.out_ok, c->out_ok);
		CU_ASSERT_EQUAL(cov.in_ok, c->in_ok);
		if (c->why) {
			CU_ASSERT_PTR_NOT_NULL(strstr(cov.why, c->why));
		} else {
			CU_ASSERT_STRING_EQUAL(cov.why, "");
		}
	}
	free(d);
}

static void
test_recorded(void)
{
	static const struct {
		char        ns;
		const char *local, *peer;
		int         covered;
	} r[] = {
		{ 'a', "192.0.2.1", "192.0.2.2", 1 },
		{ 'b', "192.0.2.2", "192.0.2.1", 1 },
		{ 'a', "192.0.2.21", "192.0.2.22", 1 },
		{ 'a', "2001:db8::1", "2001:db8::2", 1 },
		{ 'a', "10.1.0.1", "10.2.0.9", 1 },      /* the tunnel's inner networks */
		{ 'b', "10.2.0.1", "10.1.0.9", 1 },
		{ 'a', "192.0.2.11", "192.0.2.12", 0 },  /* its outer addresses */
		{ 'a', "192.0.2.2", "192.0.2.1", 0 },    /* the other side's view */
		{ 'a', "192.0.2.1", "192.0.2.4", 0 },
	};
	struct ctp_xfrm_cover cov;
	struct ctp_xfrm_flow f;
	struct ctp_err err;

	if (!xp_little_endian())
		return;
	for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
		char name[16];
		uint8_t *d;
		size_t len;

		snprintf(name, sizeof name, "%c-spd.hex", r[i].ns);
		d = xp_dump(name, &len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		xp_flow(&f, r[i].local, r[i].peer, SCTP, 5091, 5091);
		ctp_err_clear(&err);
		CU_ASSERT_EQUAL(ctp_xfrm_policy_match(d, len, &f, &cov, &err), r[i].covered);
		if (r[i].covered != (cov.out_ok && cov.in_ok))
			fprintf(stderr, "\n    %s: %s -> %s: %s\n", name, r[i].local, r[i].peer, cov.why);
		free(d);
	}
}

static void
test_malformed(void)
{
	struct ctp_xfrm_cover cov;
	struct ctp_xfrm_flow f;
	struct ctp_err err;
	uint8_t *d, *m;
	size_t len, parsed = 0, refused = 0;
	uint32_t x = 0x2545f491;

	if (!xp_little_endian())
		return;
	d = xp_dump("c-spd.hex", &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	xp_flow(&f, "192.0.2.50", "192.0.2.51", SCTP, 5091, 5091);
	/* every truncation: a cut inside a message is refused, never read past */
	for (size_t n = 0; n < len; n++) {
		m = malloc(n ? n : 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m);
		memcpy(m, d, n);
		ctp_err_clear(&err);
		if (ctp_xfrm_policy_match(m, n, &f, &cov, &err) < 0)
			refused++;
		else
			parsed++;
		free(m);
	}
	CU_ASSERT(refused > 0 && parsed > 0);
	/* bit flips: any verdict, or a refusal with a reason */
	for (int i = 0; i < 20000; i++) {
		int rc;

		m = malloc(len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m);
		memcpy(m, d, len);
		for (int k = 0; k < 1 + i % 4; k++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			m[x % len] ^= (uint8_t)(1u << (x >> 24 & 7));
		}
		ctp_err_clear(&err);
		rc = ctp_xfrm_policy_match(m, len, &f, &cov, &err);
		CU_ASSERT(rc == 0 || rc == 1 || (rc < 0 && err.what[0]));
		CU_ASSERT(rc != 1 || (cov.out_ok && cov.in_ok && !cov.why[0]));
		free(m);
	}
	free(d);
}

static void
test_args(void)
{
	struct ctp_xfrm_cover cov;
	struct ctp_xfrm_flow f;
	struct ctp_err err;

	xp_flow(&f, "192.0.2.50", "2001:db8::51", SCTP, 5091, 5091);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_xfrm_policy_match(NULL, 0, &f, &cov, &err), CTP_E_INVAL);
	memset(&f, 0, sizeof f);
	CU_ASSERT_EQUAL(ctp_xfrm_policy_match(NULL, 0, &f, &cov, NULL), CTP_E_INVAL);
	/* an empty SPD covers nothing, and says so for both directions */
	xp_flow(&f, "192.0.2.50", "192.0.2.51", SCTP, 5091, 5091);
	CU_ASSERT_EQUAL(ctp_xfrm_policy_match(NULL, 0, &f, &cov, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(cov.why, "outbound"));
	CU_ASSERT_PTR_NOT_NULL(strstr(cov.why, "inbound"));
}

CTP_TEST_SUITE(xfrm_policy, NULL, NULL,
    CTP_TEST(test_cases),
    CTP_TEST(test_recorded),
    CTP_TEST(test_malformed),
    CTP_TEST(test_args),
);
