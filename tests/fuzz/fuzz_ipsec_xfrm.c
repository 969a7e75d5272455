/*
 * fuzz_ipsec_xfrm.c: libFuzzer harness for the xfrm SAD backend's netlink
 * codec (src/features/ipsec/ipsec_sad_xfrm.h): what the kernel answers to
 * GETSA, GETAE and GETPOLICY, read by ipsec_sad_xfrm_msg_next, _parse_state,
 * _parse_ae and _parse_policy, then converted to PROFILE 6 (_to_sa).
 *
 * The input is one netlink datagram, as recv() would return it (host byte
 * order, several messages back to back).  Every policy it holds joins the
 * view, so the SAs after it take their selectors from it; an SA is also
 * taken as the GETAE reply's base for the messages after it.
 *
 * The properties: the parsers stay inside the datagram (libFuzzer's buffer
 * is exactly `size` octets) and keep every length in range; whatever
 * converts to an SA encodes as a CDB that decodes again, and builds an
 * XFRM_MSG_NEWSA (or is refused with a reason) that the parser reads back
 * and converts again to an SA with the same SPI, algorithms and keys.
 * Anything else is a finding: abort().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_msg.h"
#include "ctp/ctp_secret.h"
#include "features/ipsec/ipsec_sad_xfrm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_XFRM_MAX_POL 32

/* The local addresses of namespace "a" of tests/vectors/xfrm. */
static const char *const fuzz_xfrm_local[] = { "192.0.2.1", "192.0.2.3", "192.0.2.11",
	"192.0.2.21", "192.0.2.31", "192.0.2.41", "2001:db8::1", "10.1.0.1" };

static struct {
	struct ctp_addr          local[8];
	struct ipsec_xfrm_policy pol[FUZZ_XFRM_MAX_POL];
	struct ipsec_xfrm_state  st, base, st2;
	struct ipsec_sa          sa, sa2, sa3;
	uint8_t                  out[8192], cdb[CTP_MAX_CDB_LEN + 8];
	int                      init;
} F;

static void
fuzz_xfrm_check_err(int rc, const struct ctp_err *err, size_t msglen)
{
	if (rc >= 0 || err->code != rc || !err->what[0] || err->off > msglen)
		abort();
}

/* The state is in range whatever the kernel (or the fuzzer) sent. */
static void
fuzz_xfrm_check_state(const struct ipsec_xfrm_state *st)
{
	if (st->esn.bmp_len > IPSEC_XFRM_BMP_WORDS || st->aead.key_len > IPSEC_ALG_KEY_MAX ||
	    st->crypt.key_len > IPSEC_ALG_KEY_MAX || st->auth.key_len > IPSEC_ALG_KEY_MAX ||
	    st->aead.name[64] || st->crypt.name[64] || st->auth.name[64])
		abort();
}

/* An SA the conversion made: a CDB that decodes, a NEWSA that parses back. */
static void
fuzz_xfrm_sa(const struct ipsec_sa *sa, const struct ipsec_xfrm_view *v)
{
	struct ctp_err err = { 0 };
	struct ipsec_xfrm_msg m;
	struct ctp_wbuf w;
	struct ctp_cur c;
	struct ctp_cdb cdb;
	int rc;

	if (sa->nsel > IPSEC_SA_MAX_SELECTORS || sa->replay.window > 4096 ||
	    sa->replay.bitmap_len > IPSEC_REPLAY_MAX_BITMAP || sa->encr.key_len > IPSEC_ALG_KEY_MAX ||
	    sa->integ.key_len > IPSEC_ALG_KEY_MAX)
		abort();

	/* as the CDB a source would send */
	ctp_wbuf_init(&w, F.cdb, sizeof F.cdb);
	rc = ipsec_sa_encode(sa, &w);
	if (rc == 0) {
		ctp_cur_init(&c, F.cdb, w.len, 0);
		if (ctp_cdb_next(&c, 0, &cdb, &err) != 1 || c.left != 0)
			abort();
		ctp_err_clear(&err);
		/* a sink may refuse what it cannot use, but never misreads it */
		if (ipsec_sa_decode(&cdb, &F.sa2, &err) == 0 && F.sa2.spi != sa->spi)
			abort();
	} else if (rc != CTP_E_LIMIT && rc != CTP_E_INVAL) {
		abort();
	}

	/* as the NEWSA a sink would install, read back as the kernel reports it */
	ctp_err_clear(&err);
	ctp_wbuf_init(&w, F.out, sizeof F.out);
	rc = ipsec_sad_xfrm_build_newsa(&w, 1, sa, v->now_s, &err);
	if (rc < 0) {
		if (rc != CTP_E_VALUE || !err.what[0])
			abort();
		return;
	}
	if (w.err || w.len > sizeof F.out)
		abort();
	ctp_cur_init(&c, F.out, w.len, 0);
	if (ipsec_sad_xfrm_msg_next(&c, &m) != 1 || c.left != 0)
		abort();
	ctp_err_clear(&err);
	if (ipsec_sad_xfrm_parse_state(&m, &F.st2, &err) != 0)
		abort();
	fuzz_xfrm_check_state(&F.st2);
	ctp_err_clear(&err);
	if (ipsec_sad_xfrm_to_sa(&F.st2, v, &F.sa3, &err) != 0)
		abort();
	if (F.sa3.spi != sa->spi || F.sa3.has_encr != sa->has_encr ||
	    F.sa3.has_integ != sa->has_integ ||
	    (sa->has_encr && (F.sa3.encr.id != sa->encr.id ||
	    F.sa3.encr.key_len != sa->encr.key_len ||
	    memcmp(F.sa3.encr.key, sa->encr.key, sa->encr.key_len) != 0)) ||
	    (sa->has_integ && (F.sa3.integ.id != sa->integ.id ||
	    F.sa3.integ.key_len != sa->integ.key_len ||
	    memcmp(F.sa3.integ.key, sa->integ.key, sa->integ.key_len) != 0)))
		abort();
	ctp_wipe(F.out, w.len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipsec_xfrm_view v;
	struct ipsec_xfrm_msg m;
	struct ctp_err err;
	struct ctp_cur c;
	size_t npol = 0;
	int have_base = 0, more;

	if (!F.init) {
		for (size_t i = 0; i < 8; i++)
			if (ctp_addr_parse(&F.local[i], fuzz_xfrm_local[i]) < 0)
				abort();
		F.init = 1;
	}
	memset(&v, 0, sizeof v);
	v.local = F.local;
	v.nlocal = 8;
	v.now_s = 1700000000;
	v.pol = F.pol;

	ctp_cur_init(&c, data, size, 0);
	while ((more = ipsec_sad_xfrm_msg_next(&c, &m)) > 0) {
		int rc;

		if (m.rawlen < 16 || m.rawlen > size || m.body.left > m.rawlen)
			abort();
		/* a GETAE reply for the SA before it */
		if (have_base) {
			F.st = F.base;
			ctp_err_clear(&err);
			if ((rc = ipsec_sad_xfrm_parse_ae(&m, &F.st, &err)) == 0) {
				fuzz_xfrm_check_state(&F.st);
				ctp_err_clear(&err);
				if (ipsec_sad_xfrm_to_sa(&F.st, &v, &F.sa, &err) == 0)
					fuzz_xfrm_sa(&F.sa, &v);
			} else if (rc != CTP_E_TYPE) {
				fuzz_xfrm_check_err(rc, &err, m.rawlen);
			}
		}
		ctp_err_clear(&err);
		if ((rc = ipsec_sad_xfrm_parse_state(&m, &F.st, &err)) == 0) {
			fuzz_xfrm_check_state(&F.st);
			F.base = F.st;
			have_base = 1;
			ctp_err_clear(&err);
			if ((rc = ipsec_sad_xfrm_to_sa(&F.st, &v, &F.sa, &err)) == 0)
				fuzz_xfrm_sa(&F.sa, &v);
			else if (!err.what[0])
				abort();
		} else if (rc != CTP_E_TYPE) {
			fuzz_xfrm_check_err(rc, &err, m.rawlen);
		}
		ctp_err_clear(&err);
		if (npol < FUZZ_XFRM_MAX_POL) {
			if ((rc = ipsec_sad_xfrm_parse_policy(&m, &F.pol[npol], &err)) == 0) {
				if (F.pol[npol].ntmpl > IPSEC_XFRM_MAX_TMPL)
					abort();
				if (have_base)
					(void)ipsec_sad_xfrm_policy_uses(&F.pol[npol], &F.base);
				v.npol = ++npol;
			} else if (rc != CTP_E_TYPE) {
				fuzz_xfrm_check_err(rc, &err, m.rawlen);
			}
		}
	}
	if (more != 0 && more != CTP_E_LENGTH)
		abort();
	ipsec_sad_xfrm_state_clear(&F.st);
	ipsec_sad_xfrm_state_clear(&F.base);
	ipsec_sad_xfrm_state_clear(&F.st2);
	ipsec_sa_clear(&F.sa);
	ipsec_sa_clear(&F.sa2);
	ipsec_sa_clear(&F.sa3);
	return 0;
}
