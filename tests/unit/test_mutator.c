/*
 * test_mutator.c: the deterministic bit-flip and truncation mutator over every
 * test vector (the .hex files of tests/vectors, one message per file, hex
 * text with optional '#' comments), run by `make check` under the sanitizers
 * in CI.
 *
 * For each vector: every truncation (as received, and with the Length made
 * to agree), every single-bit flip, and MUTANTS_PER_VECTOR multi-octet
 * mutations from a xorshift generator with a fixed seed.  Each mutant sits in
 * a malloc'ed buffer of exactly its size and goes through
 *
 *   ctp_msg_decode -> ctp_msg_check_cdbs (real plugins) -> ctp_msg_describe
 *     -> ctp_msg_build (and, for a fixed sample, JSON text -> ctp_json_parse
 *     -> ctp_msg_build)
 *
 * and whenever decode and check accept it, the rebuilds must reproduce the
 * mutant octet for octet.  Refusals must be well-formed (a CTP_E_* code equal
 * to err.code, an offset inside the message, a message text).
 *
 * The vector folder is "tests/vectors" relative to the current directory (the
 * repository top under `make check`), or $CTP_VECTOR_DIR.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctp/ctp_describe.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_registry.h"
#include "ctp/ctp_val.h"
#include "test.h"

#define MUTANTS_PER_VECTOR 200
#define SEED               0x9e3779b97f4a7c15ULL
#define MAX_REPORTS        20      /* detailed failure reports, then only counts */
#define JSON_EVERY         16      /* JSON text round trip for every 16th accepted mutant */

struct ctp_host { int unused; };

static void
host_log(struct ctp_host *h, int level, const char *func, const char *msg)
{
	(void)h, (void)level, (void)func, (void)msg;   /* plugins may log; we do not care */
}

static uint64_t
host_now(struct ctp_host *h)
{
	(void)h;
	return 0;
}

static const struct ctp_host_ops ops = { .size = sizeof ops, .log = host_log, .now_ms = host_now };
static struct ctp_host host;

struct stats {
	size_t vectors;
	size_t tried;        /* mutants run through the decoder */
	size_t decoded;      /* ... accepted by ctp_msg_decode */
	size_t checked;      /* ... and by ctp_msg_check_cdbs: round trips done */
	size_t refused_cdb;  /* decoded, refused by a CDB owner */
	size_t failures;     /* broken properties */
};

static struct stats st;
static struct ctp_registry *reg;
static struct ctp_msg *msg, *msg2;
static uint8_t *outbuf;

/* ---- reporting ------------------------------------------------------------- */

static void
dump(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%02x%s", p[i], i % 32 == 31 ? "\n    " : "");
	fputc('\n', stderr);
}

static void
fail(const char *vector, const char *what, const char *mutation, const uint8_t *p, size_t n,
    const struct ctp_err *err)
{
	st.failures++;
	if (st.failures > MAX_REPORTS)
		return;
	fprintf(stderr, "\n  mutator: %s, %s: %s", vector, mutation, what);
	if (err && err->code)
		fprintf(stderr, " [%s at %zu: %s]", ctp_errname(err->code), err->off, err->what);
	fprintf(stderr, "\n    ");
	dump(p, n);
}

/* ---- one mutant ------------------------------------------------------------ */

static int
refusal_ok(int rc, const struct ctp_err *err, size_t len)
{
	return rc < 0 && err->code == rc && err->what[0] && err->off <= (len > 4 ? len : 4);
}

/* Rebuild the decoded message from its description (directly, and through
 * JSON text) and compare with the octets it came from. */
static void
round_trip(const char *vector, const char *mutation, const uint8_t *p, size_t n)
{
	struct ctp_val *v = NULL, *back = NULL;
	struct ctp_err err;
	size_t out = 0;
	char *json;
	int rc;

	ctp_err_clear(&err);
	if ((rc = ctp_msg_describe(msg, reg, &v, &err)) < 0) {
		fail(vector, "decoded and checked, but describe failed", mutation, p, n, &err);
		return;
	}
	ctp_err_clear(&err);
	rc = ctp_msg_build(v, reg, outbuf, CTP_MAX_MSG_LEN, &out, &err);
	if (rc < 0)
		fail(vector, "describe ok, build failed", mutation, p, n, &err);
	else if (out != n || memcmp(outbuf, p, n) != 0)
		fail(vector, "describe + build gave other octets", mutation, p, n, NULL);
	/* the JSON text form too, for a fixed sample (it costs more than the rest) */
	if (st.checked % JSON_EVERY != 1 % JSON_EVERY)
		goto out;
	json = ctp_json_string(v, 0);
	if (!json)
		fail(vector, "no JSON text for the description", mutation, p, n, NULL);
	else {
		ctp_err_clear(&err);
		if (ctp_json_parse(json, strlen(json), &back, &err) < 0)
			fail(vector, "the description's JSON does not parse", mutation, p, n, &err);
		else {
			ctp_err_clear(&err);
			rc = ctp_msg_build(back, reg, outbuf, CTP_MAX_MSG_LEN, &out, &err);
			if (rc < 0 || out != n || memcmp(outbuf, p, n) != 0)
				fail(vector, "JSON + build gave other octets", mutation, p, n, &err);
		}
		free(json);
	}
out:
	ctp_val_free(back);
	ctp_val_free(v);
}

/*
 * Run one mutant (src, n) through everything.  Returns 2 when it decoded and
 * every CDB was accepted, 1 when it decoded only, 0 when it was refused.
 */
static int
run(const char *vector, const char *mutation, const uint8_t *src, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);
	struct ctp_err err, err2;
	int rc, rc2, result = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	if (n)
		memcpy(p, src, n);
	st.tried++;
	ctp_err_clear(&err);
	rc = ctp_msg_decode(msg, p, n, 0, &err);
	/* the ICMP form accepts whatever SCTP accepts, and a prefix otherwise */
	ctp_err_clear(&err2);
	rc2 = ctp_msg_decode(msg2, p, n, CTP_DEC_ICMP, &err2);
	if (rc == 0 && (rc2 != 0 || msg2->length != n))
		fail(vector, "SCTP decode accepts, ICMP decode does not", mutation, p, n, &err2);
	if (rc2 == 0 && msg2->length < n && msg2->length >= 4) {
		struct ctp_err err3;

		ctp_err_clear(&err3);
		if (ctp_msg_decode(msg2, p, msg2->length, 0, &err3) != 0)
			fail(vector, "ICMP accepts a prefix SCTP refuses", mutation, p, n, &err3);
	}
	if (rc2 < 0 && !refusal_ok(rc2, &err2, n))
		fail(vector, "malformed ICMP refusal", mutation, p, n, &err2);
	if (rc < 0) {
		if (!refusal_ok(rc, &err, n))
			fail(vector, "malformed refusal", mutation, p, n, &err);
		goto out;
	}
	st.decoded++;
	result = 1;
	if (msg->length != n || msg->type == 0 || msg->type > CTP_MSG_MAX)
		fail(vector, "decoded with a wrong length or type", mutation, p, n, NULL);
	ctp_err_clear(&err);
	rc = ctp_msg_check_cdbs(msg, reg, &err);
	if (rc < 0) {
		st.refused_cdb++;
		if (!refusal_ok(rc, &err, n))
			fail(vector, "malformed CDB refusal", mutation, p, n, &err);
		goto out;
	}
	st.checked++;
	result = 2;
	round_trip(vector, mutation, p, n);
out:
	free(p);
	return result;
}

/* ---- the mutations ---------------------------------------------------------- */

static uint64_t
xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void
set_length(uint8_t *p, size_t n)
{
	if (n >= 4) {
		p[2] = (uint8_t)(n >> 8);
		p[3] = (uint8_t)n;
	}
}

static void
mutate_vector(const char *name, const uint8_t *v, size_t n)
{
	uint8_t *m = malloc(2 * n + 64);
	char what[96];
	uint64_t s = SEED;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	/* the seed depends only on the vector's name: adding vectors changes nothing */
	for (const char *c = name; *c; c++)
		s = (s ^ (uint8_t)*c) * 0x100000001b3ULL;
	if (!s)
		s = SEED;

	/* every truncation: as received it can never be accepted (the Length
	 * says more); with the Length patched it goes the whole way */
	for (size_t l = 0; l < n; l++) {
		snprintf(what, sizeof what, "truncated to %zu", l);
		if (run(name, what, v, l) != 0)
			fail(name, "a truncated message was accepted", what, v, l, NULL);
		if (l >= 4) {
			memcpy(m, v, l);
			set_length(m, l);
			snprintf(what, sizeof what, "truncated to %zu, Length patched", l);
			run(name, what, m, l);
		}
	}
	/* every single-bit flip */
	for (size_t i = 0; i < n * 8; i++) {
		memcpy(m, v, n);
		m[i / 8] ^= (uint8_t)(1u << (i % 8));
		snprintf(what, sizeof what, "bit %zu of octet %zu flipped", i % 8, i / 8);
		run(name, what, m, n);
	}
	/* multi-octet mutations */
	for (int k = 0; k < MUTANTS_PER_VECTOR; k++) {
		static const uint8_t interesting[] = { 0x00, 0x01, 0x7f, 0x80, 0xff, 0x04, 0x06, 0x08 };
		size_t len = n, pos, cnt;
		uint64_t r = xorshift(&s);

		memcpy(m, v, n);
		switch (r % 5) {
		case 0:   /* 2..5 random octets */
			cnt = 2 + (r >> 8) % 4;
			for (size_t j = 0; j < cnt; j++)
				m[xorshift(&s) % n] = (uint8_t)xorshift(&s);
			break;
		case 1:   /* interesting values at 1..3 places */
			cnt = 1 + (r >> 8) % 3;
			for (size_t j = 0; j < cnt; j++)
				m[xorshift(&s) % n] = interesting[xorshift(&s) % sizeof interesting];
			break;
		case 2:   /* cut a slice out */
			pos = xorshift(&s) % n;
			cnt = 1 + xorshift(&s) % (n - pos);
			memmove(m + pos, m + pos + cnt, n - pos - cnt);
			len = n - cnt;
			break;
		case 3:   /* duplicate a slice in place */
			pos = xorshift(&s) % n;
			cnt = 1 + xorshift(&s) % (n - pos);
			if (cnt > 64)
				cnt = 64;
			memmove(m + pos + cnt, m + pos, n - pos);
			len = n + cnt;
			break;
		default:  /* a 16-bit field set to an edge value */
			pos = xorshift(&s) % (n > 1 ? n - 1 : 1);
			cnt = xorshift(&s) % 4;
			m[pos] = cnt & 1 ? 0xff : 0x00;
			if (pos + 1 < n)
				m[pos + 1] = cnt & 2 ? 0xff : (uint8_t)xorshift(&s);
			break;
		}
		/* most mutants get a Length that agrees, to get past the header */
		if ((r >> 32) % 4 != 0)
			set_length(m, len);
		snprintf(what, sizeof what, "mutation %d (kind %u)", k, (unsigned)(r % 5));
		run(name, what, m, len);
	}
	free(m);
}

/* ---- vectors ------------------------------------------------------------------ */

/* Hex text with white space and '#' comments; NULL when anything else. */
static uint8_t *
parse_vector(const char *text, size_t tlen, size_t *n)
{
	uint8_t *out = malloc(tlen / 2 + 1);
	size_t o = 0;
	int hi = -1;

	if (!out)
		return NULL;
	for (size_t i = 0; i < tlen; i++) {
		char c = text[i];
		int d;

		if (c == '#') {
			while (i < tlen && text[i] != '\n')
				i++;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			continue;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else {
			free(out);
			return NULL;
		}
		if (hi < 0)
			hi = d;
		else {
			out[o++] = (uint8_t)(hi << 4 | d);
			hi = -1;
		}
	}
	if (hi >= 0) {
		free(out);
		return NULL;
	}
	*n = o;
	return out;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *
vector_dir(void)
{
	const char *d = getenv("CTP_VECTOR_DIR");

	return d && *d ? d : "tests/vectors";
}

static void
load_plugins(void)
{
	char dir[PATH_MAX];
	struct stat sb;
	struct ctp_err err;

	reg = ctp_registry_new(&ops, &host);
	CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
	snprintf(dir, sizeof dir, "%s/plugins", ctp_test_build_dir());
	if (stat(dir, &sb) != 0) {
		fprintf(stderr, "\n*** mutator: %s is absent: running WITHOUT the real plugins "
		    "(build them with make all) ***\n", dir);
		return;
	}
	ctp_err_clear(&err);
	if (ctp_registry_load_dir(reg, dir, &err) < 0) {
		fprintf(stderr, "\n  mutator: loading %s: %s\n", dir, err.what);
		CU_FAIL("the real plugins do not load");
	}
}

static void
test_mutator(void)
{
	char **names = NULL;
	size_t nnames = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	memset(&st, 0, sizeof st);
	msg = malloc(sizeof *msg);
	msg2 = malloc(sizeof *msg2);
	outbuf = malloc(CTP_MAX_MSG_LEN);
	CU_ASSERT_FATAL(msg && msg2 && outbuf);
	load_plugins();

	if ((d = opendir(vector_dir())) == NULL) {
		fprintf(stderr, "\n*** mutator: cannot open %s (run from the repository top) ***\n",
		    vector_dir());
		CU_FAIL_FATAL("no vector folder");
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l < 5 || strcmp(de->d_name + l - 4, ".hex") != 0)
			continue;
		if (nnames == cap) {
			char **nn = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);

			CU_ASSERT_PTR_NOT_NULL_FATAL(nn);
			names = nn;
		}
		names[nnames] = strdup(de->d_name);
		CU_ASSERT_PTR_NOT_NULL_FATAL(names[nnames]);
		nnames++;
	}
	closedir(d);
	if (nnames == 0) {
		fprintf(stderr, "\n*** mutator: no *.hex vectors in %s ***\n", vector_dir());
		CU_FAIL_FATAL("no test vectors");
	}
	qsort(names, nnames, sizeof *names, name_cmp);

	for (size_t i = 0; i < nnames; i++) {
		char path[PATH_MAX + 256];
		unsigned char *text;
		uint8_t *v;
		size_t tlen = 0, n = 0;
		int base;

		snprintf(path, sizeof path, "%s/%s", vector_dir(), names[i]);
		text = ctp_test_read_file(path, &tlen);
		if (!text) {
			fprintf(stderr, "\n  mutator: cannot read %s\n", path);
			CU_FAIL("unreadable vector");
			continue;
		}
		v = parse_vector((const char *)text, tlen, &n);
		free(text);
		if (!v || n < 4) {
			fprintf(stderr, "\n  mutator: %s is not hex text of a message\n", path);
			CU_FAIL("vector is not hex");
			free(v);
			continue;
		}
		st.vectors++;
		/* the vector itself: a message; ours (msg_*) also pass every check */
		base = run(names[i], "unchanged", v, n);
		if (base == 0)
			fail(names[i], "the vector itself does not decode", "unchanged", v, n, NULL);
		if (strncmp(names[i], "msg_", 4) == 0 && base != 2)
			fail(names[i], "a msg_ vector must pass the CDB checks", "unchanged", v, n, NULL);
		mutate_vector(names[i], v, n);
		free(v);
	}

	printf("\n  mutator: %zu vectors, %zu mutants tried, %zu decoded, %zu passed the CDB "
	    "checks and round-tripped, %zu refused by a CDB owner, %zu failures\n", st.vectors,
	    st.tried, st.decoded, st.checked, st.refused_cdb, st.failures);
	fflush(stdout);
	CU_ASSERT(st.vectors == nnames);
	CU_ASSERT(st.tried > st.vectors * MUTANTS_PER_VECTOR);
	CU_ASSERT(st.decoded > 0);
	CU_ASSERT(st.checked > 0);
	CU_ASSERT_EQUAL(st.failures, 0);

	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	ctp_registry_free(reg);
	reg = NULL;
	free(msg);
	free(msg2);
	free(outbuf);
}

CTP_TEST_SUITE(mutator, NULL, NULL,
    CTP_TEST(test_mutator),
)
