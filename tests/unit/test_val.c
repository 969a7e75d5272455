/*
 * test_val.c: the value tree, the JSON parser and writers, the readable tree
 * and the hex helpers (ctp_val.c).
 *
 * Every input the parser sees here is copied into a buffer of exactly its
 * length first, so that under ASan a read one octet too far is a failure
 * rather than a lucky NUL.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_val.h"
#include "test.h"

#define EXPECT_STR(got, want) val_expect_str((got), (want), __LINE__)

static void
val_expect_str(const char *got, const char *want, unsigned line)
{
	int ok = got && strcmp(got, want) == 0;

	if (!ok)
		fprintf(stderr, "\ntest_val.c:%u:\n got: [%s]\nwant: [%s]\n", line,
		    got ? got : "(null)", want);
	CU_assertImplementation(ok, line, "string equal", __FILE__, "", CU_FALSE);
}

/* Parse len octets from an exact-size copy; rc, with *out and err filled. */
static int
val_parse(const char *text, size_t len, struct ctp_val **out, struct ctp_err *err)
{
	char *copy = malloc(len ? len : 1);
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	memcpy(copy, text, len);
	memset(err, 0, sizeof(*err));
	rc = ctp_json_parse(copy, len, out, err);
	free(copy);
	return rc;
}

static struct ctp_val *
val_parse_ok(const char *text)
{
	struct ctp_val *v = NULL;
	struct ctp_err err;
	int rc = val_parse(text, strlen(text), &v, &err);

	if (rc != 0)
		fprintf(stderr, "\nparse failed: %s\n  %s\n", err.what, text);
	CU_ASSERT_EQUAL(rc, 0);
	return v;
}

/* Expect a JSON error; returns err.off (or SIZE_MAX), message in err. */
static size_t
val_parse_bad(const char *text, size_t len, struct ctp_err *err)
{
	static struct ctp_val sentinel;
	struct ctp_val *v = &sentinel;   /* must become NULL */
	int rc = val_parse(text, len, &v, err);

	CU_ASSERT_EQUAL(rc, CTP_E_JSON);
	CU_ASSERT_EQUAL(err->code, CTP_E_JSON);
	CU_ASSERT_PTR_NULL(v);
	CU_ASSERT(strncmp(err->what, "line ", 5) == 0);
	CU_ASSERT(err->off <= len);
	if (rc == 0 && v != &sentinel)
		ctp_val_free(v);
	return rc == CTP_E_JSON ? err->off : SIZE_MAX;
}

static void
val_bad(const char *text)
{
	struct ctp_err err;

	val_parse_bad(text, strlen(text), &err);
}

/* Expect an error whose text contains frag at offset off. */
static void
val_bad_at(const char *text, size_t off, const char *frag, unsigned line)
{
	struct ctp_err err;
	size_t got = val_parse_bad(text, strlen(text), &err);
	int ok = got == off && strstr(err.what, frag) != NULL;

	if (!ok)
		fprintf(stderr, "\ntest_val.c:%u: [%s]\n got off %zu [%s]\nwant off %zu [%s]\n",
		    line, text, got, err.what, off, frag);
	CU_assertImplementation(ok, line, "error position and text", __FILE__, "",
	    CU_FALSE);
}
#define BAD_AT(text, off, frag) val_bad_at((text), (off), (frag), __LINE__)

/* Parse, and compare the compact writing with want. */
static void
val_canon(const char *in, size_t inlen, const char *want, unsigned line)
{
	struct ctp_val *v = NULL;
	struct ctp_err err;
	char *out = NULL;

	if (val_parse(in, inlen, &v, &err) == 0)
		out = ctp_json_string(v, 0);
	else
		fprintf(stderr, "\ntest_val.c:%u: %s\n", line, err.what);
	val_expect_str(out, want, line);
	free(out);
	ctp_val_free(v);
}
#define CANON(in, want) val_canon((in), strlen(in), (want), __LINE__)

static char *
val_tree_text(const struct ctp_val *v)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(ctp_val_print_tree(v, f), 0);
	fclose(f);
	return buf;
}

/*
 * What the fuzz harness checks, for inputs that parse: the compact text
 * parses again to the same compact text, and so does the pretty text.
 */
static void
val_check_roundtrip(const struct ctp_val *v)
{
	struct ctp_val *v2 = NULL, *v3 = NULL;
	struct ctp_err err;
	char *s1, *s2 = NULL, *p1, *s3 = NULL;

	s1 = ctp_json_string(v, 0);
	p1 = ctp_json_string(v, CTP_JSON_PRETTY);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p1);
	CU_ASSERT_EQUAL(val_parse(s1, strlen(s1), &v2, &err), 0);
	CU_ASSERT_EQUAL(val_parse(p1, strlen(p1), &v3, &err), 0);
	if (v2)
		s2 = ctp_json_string(v2, 0);
	if (v3)
		s3 = ctp_json_string(v3, 0);
	EXPECT_STR(s2, s1);
	EXPECT_STR(s3, s1);
	free(s1);
	free(s2);
	free(s3);
	free(p1);
	ctp_val_free(v2);
	ctp_val_free(v3);
}

/* ---- parsing and writing back ------------------------------------------ */

static void
test_val_roundtrip(void)
{
	static const char *const same[] = {
		"null", "true", "false", "0", "1", "-1", "\"\"", "[]", "{}",
		"[[],{},[[]],{\"\":{}}]",
		"{\"z\":1,\"a\":2,\"m\":[3,\"x\",null,true,false]}",
		"\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
		"{\"caf\xc3\xa9\":\"\xe2\x82\xac\"}",
	};

	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		struct ctp_val *v;

		CANON(same[i], same[i]);
		if ((v = val_parse_ok(same[i])) != NULL)
			val_check_roundtrip(v);
		ctp_val_free(v);
	}
	CANON(" \t\r\n[ 1 , -2 , { } , [ ] ]\n", "[1,-2,{},[]]");
	CANON(" { \"a\" : [ 1 ] , \"b\" : null } ", "{\"a\":[1],\"b\":null}");
	CANON("-0", "0");
	CANON("\"a\\/b\"", "\"a/b\"");
	CANON("\"\\u00E9\\u00e9\"", "\"\xc3\xa9\xc3\xa9\"");
}

static void
test_val_escapes(void)
{
	static const char want[] = "\"\\/\b\f\n\r\tA\xc3\xa9\xe2\x82\xac\0z";
	struct ctp_val *v, *c;
	char *out;

	v = val_parse_ok("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20ac\\u0000z\"");
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_EQUAL(v->kind, CTP_V_STR);
	CU_ASSERT_EQUAL(v->slen, sizeof(want) - 1);
	CU_ASSERT(memcmp(v->s, want, sizeof(want)) == 0);
	out = ctp_json_string(v, 0);
	EXPECT_STR(out, "\"\\\"\\\\/\\b\\f\\n\\r\\tA\xc3\xa9\xe2\x82\xac\\u0000z\"");
	free(out);
	ctp_val_free(v);

	/* every other control character and DEL as \u00xx */
	c = ctp_val_strn("\x01\x1f\x7f\x0b", 4);
	out = ctp_json_string(c, 0);
	EXPECT_STR(out, "\"\\u0001\\u001f\\u007f\\u000b\"");
	free(out);
	ctp_val_free(c);

	BAD_AT("\"ab\\x\"", 3, "invalid escape '\\x'");
	BAD_AT("\"\\'\"", 1, "invalid escape");
	BAD_AT("\"\\U0041\"", 1, "invalid escape");
	BAD_AT("\"\\u12\"", 5, "four hex digits");
	BAD_AT("\"\\u12G4\"", 5, "four hex digits");
	BAD_AT("\"\\u-123\"", 3, "four hex digits");
	val_bad("\"\\");
	val_bad("\"\\u00");
}

static void
test_val_surrogates(void)
{
	static const struct {
		const char *in;
		const char *utf8;
	} good[] = {
		{ "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80" },
		{ "\"\\uD834\\uDD1E\"", "\xf0\x9d\x84\x9e" },
		{ "\"\\ud800\\udc00\"", "\xf0\x90\x80\x80" },
		{ "\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf" },
		{ "\"\\ud7ff\\ue000\\uffff\"", "\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf" },
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct ctp_val *v = val_parse_ok(good[i].in);
		char want[32];

		CU_ASSERT_PTR_NOT_NULL_FATAL(v);
		EXPECT_STR(v->s, good[i].utf8);
		snprintf(want, sizeof(want), "\"%s\"", good[i].utf8);
		CANON(good[i].in, want);
		ctp_val_free(v);
	}
	BAD_AT("\"\\ud83d\"", 1, "high surrogate not followed by a low one");
	BAD_AT("\"x\\ud83dx\"", 2, "high surrogate");
	BAD_AT("\"\\ud83d\\u0041\"", 1, "high surrogate");
	BAD_AT("\"\\ud83d\\ud83d\"", 1, "high surrogate");
	BAD_AT("\"\\ud83d\\n\"", 1, "high surrogate");
	BAD_AT("\"\\ude00\"", 1, "low surrogate without a high one");
	BAD_AT("\"\\ude00\\ud83d\"", 1, "low surrogate");
	BAD_AT("\"\\ud83d\\ude0", 12, "end of input");
	val_bad("\"\\ud83d");
	val_bad("\"\\ud83d\\");
}

static void
test_val_integers(void)
{
	struct ctp_val *v;
	char *out;

	v = val_parse_ok("18446744073709551615");
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_EQUAL(v->kind, CTP_V_INT);
	CU_ASSERT_EQUAL(v->neg, 0);
	CU_ASSERT(v->u == UINT64_MAX);
	ctp_val_free(v);
	CANON("18446744073709551615", "18446744073709551615");

	v = val_parse_ok("-9223372036854775808");
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_EQUAL(v->neg, 1);
	CU_ASSERT(v->u == (uint64_t)1 << 63);
	ctp_val_free(v);
	CANON("-9223372036854775808", "-9223372036854775808");
	CANON("[9223372036854775807,-9223372036854775807,-1,0,10]",
	    "[9223372036854775807,-9223372036854775807,-1,0,10]");

	v = val_parse_ok("-0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_EQUAL(v->neg, 0);
	CU_ASSERT(v->u == 0);
	ctp_val_free(v);

	BAD_AT("18446744073709551616", 0, "larger than 18446744073709551615");
	BAD_AT("[1, 18446744073709551616]", 4, "larger than");
	BAD_AT("99999999999999999999999", 0, "larger than");
	BAD_AT("-18446744073709551616", 0, "smaller than -9223372036854775808");
	BAD_AT("-9223372036854775809", 0, "smaller than -9223372036854775808");
	BAD_AT("01", 0, "leading zeros");
	BAD_AT("-01", 1, "leading zeros");
	BAD_AT("[00]", 1, "leading zeros");
	BAD_AT("1.0", 1, "fractions are not supported, integers only");
	BAD_AT("-1.5", 2, "fractions");
	BAD_AT("1.", 1, "fractions");
	BAD_AT("1e3", 1, "exponents are not supported, integers only");
	BAD_AT("1E+3", 1, "exponents");
	BAD_AT("[0e0]", 2, "exponents");
	BAD_AT("-", 1, "unexpected end of input, expected a digit after '-'");
	BAD_AT("- 1", 1, "expected a digit after '-'");
	BAD_AT("-x", 1, "expected a digit");
	BAD_AT("+1", 0, "expected a value");
	BAD_AT(".5", 0, "expected a value");
	BAD_AT("0x10", 1, "unexpected characters after the JSON value");
	val_bad("Infinity");
	val_bad("NaN");
	val_bad("-Infinity");

	/* the constructors, including both ends of int64_t */
	v = ctp_val_arr();
	ctp_val_arr_push(v, ctp_val_i64(INT64_MIN));
	ctp_val_arr_push(v, ctp_val_i64(INT64_MAX));
	ctp_val_arr_push(v, ctp_val_i64(-1));
	ctp_val_arr_push(v, ctp_val_i64(0));
	ctp_val_arr_push(v, ctp_val_u64(UINT64_MAX));
	out = ctp_json_string(v, 0);
	EXPECT_STR(out, "[-9223372036854775808,9223372036854775807,-1,0,"
	    "18446744073709551615]");
	free(out);
	ctp_val_free(v);
}

static void
test_val_depth(void)
{
	char doc[2 * 70 * 5 + 8];
	struct ctp_val *v, *inner;
	struct ctp_err err;
	size_t n;

	/* 64 nested arrays are fine, 65 are not */
	for (int depth = 63; depth <= 66; depth++) {
		n = 0;
		for (int i = 0; i < depth; i++)
			doc[n++] = '[';
		for (int i = 0; i < depth; i++)
			doc[n++] = ']';
		doc[n] = '\0';
		if (depth <= 64) {
			v = val_parse_ok(doc);
			CU_ASSERT_PTR_NOT_NULL(v);
			if (v)
				val_check_roundtrip(v);
			ctp_val_free(v);
		} else
			BAD_AT(doc, 64, "nesting deeper than 64 levels");
	}

	/* the same with objects, and with a scalar at the bottom */
	for (int depth = 64; depth <= 65; depth++) {
		n = 0;
		for (int i = 0; i < depth; i++)
			n += (size_t)sprintf(doc + n, "{\"a\":");
		doc[n++] = '1';
		for (int i = 0; i < depth; i++)
			doc[n++] = '}';
		doc[n] = '\0';
		if (depth == 64) {
			v = val_parse_ok(doc);
			CU_ASSERT_PTR_NOT_NULL(v);
			ctp_val_free(v);
		} else
			BAD_AT(doc, 64 * 5, "nesting deeper than 64 levels");
	}

	/* deep but not wide everywhere: one level of width at the top */
	n = (size_t)sprintf(doc, "[1,");
	for (int i = 0; i < 64; i++)
		doc[n++] = '[';
	for (int i = 0; i < 64; i++)
		doc[n++] = ']';
	doc[n++] = ']';
	doc[n] = '\0';
	val_parse_bad(doc, n, &err);
	CU_ASSERT_EQUAL(err.off, 3 + 63);

	/* the writers refuse what the parser would refuse */
	v = ctp_val_arr();
	inner = v;
	for (int i = 1; i < 64; i++) {
		struct ctp_val *a = ctp_val_arr();

		CU_ASSERT_EQUAL(ctp_val_arr_push(inner, a), 0);
		inner = a;
	}
	{
		char *s = ctp_json_string(v, 0);

		CU_ASSERT_PTR_NOT_NULL(s);
		CU_ASSERT_EQUAL(s ? strlen(s) : 0, 128);
		free(s);
	}
	CU_ASSERT_EQUAL(ctp_val_arr_push(inner, ctp_val_arr()), 0);
	CU_ASSERT_PTR_NULL(ctp_json_string(v, 0));
	CU_ASSERT_EQUAL(ctp_json_write(v, stdout, 0), CTP_E_LIMIT);
	CU_ASSERT_EQUAL(ctp_val_print_tree(v, stdout), CTP_E_LIMIT);
	ctp_val_free(v);
}

static void
test_val_duplicates(void)
{
	char doc[16 * 1024];
	struct ctp_val *v;
	size_t n;

	BAD_AT("{\"a\":1,\"b\":2,\"a\":3}", 13, "duplicate object key \"a\"");
	BAD_AT("{\"a\":1,\"\\u0061\":2}", 7, "duplicate object key \"a\"");
	/* the earliest repeat is named, whatever the sort order */
	BAD_AT("{\"b\":1,\"a\":2,\"b\":3,\"a\":4}", 13, "duplicate object key \"b\"");
	BAD_AT("{\"x\":{\"a\":1,\"a\":2}}", 12, "duplicate object key \"a\"");
	BAD_AT("{\"\":1,\"\":2}", 6, "duplicate object key \"\"");

	CANON("{\"a\":{\"a\":1},\"b\":[{\"a\":1},{\"a\":2}]}",
	    "{\"a\":{\"a\":1},\"b\":[{\"a\":1},{\"a\":2}]}");
	CANON("{\"a\":1,\"a \":2,\"A\":3,\"\xc3\xa9\":4,\"e\\u0301\":5}",
	    "{\"a\":1,\"a \":2,\"A\":3,\"\xc3\xa9\":4,\"e\xcc\x81\":5}");

	/* many keys: sorted in O(n log n), the repeat still found */
	n = (size_t)sprintf(doc, "{");
	for (int i = 0; i < 1000; i++)
		n += (size_t)sprintf(doc + n, "\"k%d\":%d,", i, i);
	doc[n - 1] = '}';
	doc[n] = '\0';
	v = val_parse_ok(doc);
	CU_ASSERT_PTR_NOT_NULL(v);
	CU_ASSERT_EQUAL(v ? v->n : 0, 1000);
	if (v) {
		uint64_t u = 0;

		CU_ASSERT_EQUAL(ctp_val_get_u64(v, "k777", UINT64_MAX, &u, NULL), 0);
		CU_ASSERT(u == 777);
	}
	ctp_val_free(v);
	n = strlen(doc);
	memcpy(doc + n - 1, ",\"k500\":0}", 11);
	BAD_AT(doc, n, "duplicate object key \"k500\"");

	/* a key holding NUL would be cut short: refused */
	BAD_AT("{\"a\\u0000b\":1}", 1, "object key contains \\u0000");
}

static void
test_val_trailing(void)
{
	struct ctp_err err;

	BAD_AT("{} x", 3, "unexpected characters after the JSON value");
	BAD_AT("1 2", 2, "unexpected characters");
	BAD_AT("[1]]", 3, "unexpected characters");
	BAD_AT("nullx", 4, "unexpected characters");
	BAD_AT("true false", 5, "unexpected characters");
	BAD_AT("\"a\"\"b\"", 3, "unexpected characters");
	BAD_AT("{}}", 2, "unexpected characters");
	CU_ASSERT_EQUAL(val_parse_bad("[1]\0", 4, &err), 3);
	CU_ASSERT_EQUAL(val_parse_bad("\0", 1, &err), 0);
	CANON("{} \n\t\r", "{}");
}

static void
test_val_syntax(void)
{
	BAD_AT("{\n  \"a\" 1\n}", 8, "line 2, column 7: expected ':' after object key");
	/* columns count characters: each euro sign is three octets */
	BAD_AT("[\"\xe2\x82\xac\xe2\x82\xac\",x]", 10, "line 1, column 7: expected a value");
	BAD_AT("\r\n\n  [1,\n2,,]", 11, "line 4, column 3: expected a value");
	BAD_AT("", 0, "line 1, column 1: unexpected end of input, expected a value");
	BAD_AT("   \n ", 5, "line 2, column 2: unexpected end of input, expected a value");
	BAD_AT("[1,2", 4, "unexpected end of input, expected ',' or ']' after an array element");
	BAD_AT("[1 2]", 3, "expected ',' or ']' after an array element");
	BAD_AT("{\"a\":1 \"b\":2}", 7, "expected ',' or '}' after an object member");
	BAD_AT("{\"a\":1,}", 7, "trailing comma before '}'");
	BAD_AT("[1,]", 3, "trailing comma before ']'");
	BAD_AT("[,1]", 1, "expected a value");
	BAD_AT("{,}", 1, "expected a string as object key");
	BAD_AT("{1:2}", 1, "expected a string as object key");
	BAD_AT("{'a':2}", 1, "expected a string as object key");
	BAD_AT("{\"a\"}", 4, "expected ':' after object key");
	BAD_AT("{\"a\":}", 5, "expected a value");
	BAD_AT("[1}", 2, "expected ',' or ']'");
	BAD_AT("{\"a\":1]", 6, "expected ',' or '}'");
	BAD_AT("nul", 3, "unexpected end of input in 'null'");
	BAD_AT("nulL", 0, "invalid literal, expected 'null'");
	BAD_AT("True", 0, "expected a value");
	BAD_AT("[tru]", 1, "invalid literal, expected 'true'");
	BAD_AT("fals", 4, "end of input in 'false'");
	BAD_AT("\"abc", 4, "unexpected end of input inside a string");
	BAD_AT("'a'", 0, "expected a value");
	BAD_AT("/* c */ 1", 0, "expected a value");
}

/* Every proper prefix of a document is an error, and never a crash. */
static void
test_val_truncated(void)
{
	static const char doc[] =
	    "{\"type\":\"CTAR\",\"seq\":305419896,\"neg\":-42,\"ok\":true,"
	    "\"no\":false,\"nil\":null,"
	    "\"s\":\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\xc3\xa9\xf0\x9f\x98\x80\","
	    "\"arr\":[1,[],{},[2,3],18446744073709551615],"
	    "\"o\":{\"k\":\"v\",\"e\":{}} }";
	size_t len = sizeof(doc) - 1, fails = 0;
	struct ctp_val *v;
	struct ctp_err err;

	for (size_t n = 0; n < len; n++) {
		size_t off = val_parse_bad(doc, n, &err);

		if (off == SIZE_MAX)
			fails++;
	}
	CU_ASSERT_EQUAL(fails, 0);
	v = val_parse_ok(doc);
	CU_ASSERT_PTR_NOT_NULL(v);
	if (v)
		val_check_roundtrip(v);
	ctp_val_free(v);
}

/*
 * A deterministic mutator: every single-bit flip, every deleted octet and
 * every duplicated octet of a few documents.  Whatever parses must survive
 * the round trip; whatever does not must fail with CTP_E_JSON.
 */
static void
test_val_mutate(void)
{
	static const char *const docs[] = {
		("{\"type\":\"CTAR\",\"seq\":305419896,\"req_cdbs\":[{\"fpt\":65281,"
		"\"feature\":\"IPSEC_SA\"}],\"k\":\"0a1b\"}"),
		"[-9223372036854775808,\"\\u00e9\\ud83d\\ude00\",[true,null,{}]]",
		"\"\xe2\x82\xac\\n\\u0000\"",
	};
	char buf[256];

	for (size_t d = 0; d < sizeof(docs) / sizeof(docs[0]); d++) {
		size_t len = strlen(docs[d]);

		for (size_t i = 0; i < len; i++) {
			for (int form = 0; form < 10; form++) {
				struct ctp_val *v = NULL;
				struct ctp_err err;
				size_t n = len;
				int rc;

				memcpy(buf, docs[d], len);
				if (form < 8)
					buf[i] ^= (char)(1u << form);
				else if (form == 8) {
					memmove(buf + i, buf + i + 1, len - i - 1);
					n--;
				} else {
					memmove(buf + i + 1, buf + i, len - i);
					n++;
				}
				rc = val_parse(buf, n, &v, &err);
				if (rc == 0) {
					val_check_roundtrip(v);
					ctp_val_free(v);
				} else {
					CU_ASSERT_EQUAL(rc, CTP_E_JSON);
					CU_ASSERT_PTR_NULL(v);
					CU_ASSERT(err.off <= n);
				}
			}
		}
	}
}

static void
test_val_utf8(void)
{
	static const char *const bad[] = {
		"\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf",
		"\xed\xa0\x80", "\xed\xbf\xbf", "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf",
		"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80",
		"\xfe", "\xff", "\xe2\x82", "\xc3", "\xf0\x9f\x98", "\xc3\x28",
		"\xe2\x28\xa1", "\xf0\x9f\x28\x80",
	};
	static const char *const good[] = {
		"\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
		"\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
		"\xef\xbb\xbf",
	};
	char doc[32];
	struct ctp_val *v;
	char *out;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(doc, sizeof(doc), "\"a%s\"", bad[i]);
		BAD_AT(doc, 2, "invalid UTF-8 in a string");
		snprintf(doc, sizeof(doc), "{\"%s\":1}", bad[i]);
		BAD_AT(doc, 2, "invalid UTF-8");
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(doc, sizeof(doc), "\"%s\"", good[i]);
		CANON(doc, doc);
	}
	/* outside strings non-ASCII is never valid, a byte order mark included */
	BAD_AT("\xef\xbb\xbf{}", 0, "expected a value");
	BAD_AT("[\xc3\xa9]", 1, "expected a value");

	/* a value built in code with bad octets still writes valid JSON */
	v = ctp_val_strn("a\xff" "b\xe2\x82", 5);
	out = ctp_json_string(v, 0);
	EXPECT_STR(out, "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd\"");
	free(out);
	ctp_val_free(v);
}

static void
test_val_control(void)
{
	BAD_AT("\"a\x01\"", 2, "control character 0x01 must be escaped");
	BAD_AT("\"a\tb\"", 2, "control character 0x09");
	BAD_AT("\"a\nb\"", 2, "control character 0x0a");
	BAD_AT("\"\x1f\"", 1, "control character 0x1f");
	CU_ASSERT_EQUAL(val_parse_bad("\"\0\"", 3, &(struct ctp_err){ 0 }), 1);
	/* DEL may stand raw in the input; the writer escapes it like jq */
	CANON("\"\x7f\"", "\"\\u007f\"");
	/* only space, tab, CR and LF are whitespace */
	BAD_AT("\f1", 0, "expected a value");
	BAD_AT("\v1", 0, "expected a value");
	BAD_AT("\xc2\xa0" "1", 0, "expected a value");
	BAD_AT("[1,\f2]", 3, "expected a value");
	CANON(" \t\r\n1 \t\r\n", "1");
}

static void
test_val_args(void)
{
	struct ctp_val *v = NULL;
	struct ctp_err err = { 0 };

	CU_ASSERT_EQUAL(ctp_json_parse(NULL, 0, &v, &err), CTP_E_JSON);
	CU_ASSERT_PTR_NULL(v);
	memset(&err, 0, sizeof(err));
	CU_ASSERT_EQUAL(ctp_json_parse(NULL, 5, &v, &err), CTP_E_INVAL);
	CU_ASSERT_EQUAL(ctp_json_parse("1", 1, NULL, NULL), CTP_E_INVAL);
	/* err may be NULL */
	CU_ASSERT_EQUAL(ctp_json_parse("[1,", 3, &v, NULL), CTP_E_JSON);
	CU_ASSERT_EQUAL(ctp_json_parse("[1]", 3, &v, NULL), 0);
	ctp_val_free(v);
	/* the first error recorded wins */
	memset(&err, 0, sizeof(err));
	CU_ASSERT_EQUAL(ctp_json_parse("x", 1, &v, &err), CTP_E_JSON);
	CU_ASSERT_EQUAL(ctp_json_parse("[1 2", 4, &v, &err), CTP_E_JSON);
	CU_ASSERT_EQUAL(err.off, 0);
	CU_ASSERT_EQUAL(ctp_json_write(NULL, stdout, 0), CTP_E_INVAL);
	CU_ASSERT_EQUAL(ctp_val_print_tree(NULL, stdout), CTP_E_INVAL);
	CU_ASSERT_PTR_NULL(ctp_json_string(NULL, 0));
	ctp_val_free(NULL);
}

/* ---- output forms ------------------------------------------------------- */

static void
test_val_pretty(void)
{
	struct ctp_val *v = val_parse_ok(
	    "{\"type\":\"CTAR\",\"seq\":305419896,\"flags\":[],\"o\":{},"
	    "\"req_cdbs\":[{\"fpt\":65281,\"feature\":\"IPSEC_SA\"},7,[true,null]],"
	    "\"neg\":-1,\"s\":\"a\\\"b\\n\"}");
	char *out;

	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	out = ctp_json_string(v, CTP_JSON_PRETTY);
	EXPECT_STR(out,
	    "{\n"
	    "  \"type\": \"CTAR\",\n"
	    "  \"seq\": 305419896,\n"
	    "  \"flags\": [],\n"
	    "  \"o\": {},\n"
	    "  \"req_cdbs\": [\n"
	    "    {\n"
	    "      \"fpt\": 65281,\n"
	    "      \"feature\": \"IPSEC_SA\"\n"
	    "    },\n"
	    "    7,\n"
	    "    [\n"
	    "      true,\n"
	    "      null\n"
	    "    ]\n"
	    "  ],\n"
	    "  \"neg\": -1,\n"
	    "  \"s\": \"a\\\"b\\n\"\n"
	    "}");
	free(out);
	out = ctp_json_string(v, 0);
	EXPECT_STR(out,
	    "{\"type\":\"CTAR\",\"seq\":305419896,\"flags\":[],\"o\":{},"
	    "\"req_cdbs\":[{\"fpt\":65281,\"feature\":\"IPSEC_SA\"},7,[true,null]],"
	    "\"neg\":-1,\"s\":\"a\\\"b\\n\"}");
	free(out);
	ctp_val_free(v);

	v = val_parse_ok("5");
	out = ctp_json_string(v, CTP_JSON_PRETTY);
	EXPECT_STR(out, "5");
	free(out);
	ctp_val_free(v);

	v = val_parse_ok("[{}]");
	out = ctp_json_string(v, CTP_JSON_PRETTY);
	EXPECT_STR(out, "[\n  {}\n]");
	free(out);
	ctp_val_free(v);
}

static void
test_val_tree(void)
{
	struct ctp_val *v;
	char *out;

	v = val_parse_ok("{\"type\":\"CTAR\",\"seq\":305419896,"
	    "\"req_cdbs\":[{\"fpt\":65281,\"feature\":\"IPSEC_SA\"}]}");
	out = val_tree_text(v);
	EXPECT_STR(out,
	    "type: CTAR\n"
	    "seq: 305419896\n"
	    "req_cdbs:\n"
	    "  - fpt: 65281\n"
	    "    feature: IPSEC_SA\n");
	free(out);
	ctp_val_free(v);

	v = val_parse_ok("{\"a\":{\"b\":1,\"c\":[1,\"x\",[2,3],{},[]]},\"e\":\"\","
	    "\"n\":null,\"t\":true,\"f\":false,\"q\":\"line\\nbreak\\u001b[0m\",\"bs\":\"a\\\\n\\\"\","
	    "\"m\":[],\"o\":{},\"neg\":-7,"
	    "\"l\":[{\"x\":1,\"y\":{\"z\":2}},{\"w\":[4]}]}");
	out = val_tree_text(v);
	EXPECT_STR(out,
	    "a:\n"
	    "  b: 1\n"
	    "  c:\n"
	    "    - 1\n"
	    "    - x\n"
	    "    - - 2\n"
	    "      - 3\n"
	    "    - {}\n"
	    "    - []\n"
	    "e: \"\"\n"
	    "n: null\n"
	    "t: true\n"
	    "f: false\n"
	    "q: line\\nbreak\\u001b[0m\n"
	    "bs: a\\\\n\"\n"
	    "m: []\n"
	    "o: {}\n"
	    "neg: -7\n"
	    "l:\n"
	    "  - x: 1\n"
	    "    y:\n"
	    "      z: 2\n"
	    "  - w:\n"
	    "      - 4\n");
	free(out);
	ctp_val_free(v);

	v = val_parse_ok("[1,{\"a\":1,\"b\":2}]");
	out = val_tree_text(v);
	EXPECT_STR(out, "- 1\n- a: 1\n  b: 2\n");
	free(out);
	ctp_val_free(v);

	v = val_parse_ok("{\"\":[\"\"]}");
	out = val_tree_text(v);
	EXPECT_STR(out, "\"\":\n  - \"\"\n");
	free(out);
	ctp_val_free(v);

	v = val_parse_ok("\"x\"");
	out = val_tree_text(v);
	EXPECT_STR(out, "x\n");
	free(out);
	ctp_val_free(v);

	v = val_parse_ok("{}");
	out = val_tree_text(v);
	EXPECT_STR(out, "{}\n");
	free(out);
	ctp_val_free(v);
}

/* ---- hex ------------------------------------------------------------------ */

static void
test_val_hex(void)
{
	static const struct {
		const char *in;
		int         rc;
		size_t      n;
		const char *out;
	} cases[] = {
		{ "0a1B", 0, 2, "\x0a\x1b" },
		{ "0x0a1b", 0, 2, "\x0a\x1b" },
		{ "0X0A1B", 0, 2, "\x0a\x1b" },
		{ " 0a 1b\n\t2c\r", 0, 3, "\x0a\x1b\x2c" },
		{ "  0x 0a", 0, 1, "\x0a" },
		{ "00", 0, 1, "\x00" },
		{ "", 0, 0, "" },
		{ "0x", 0, 0, "" },
		{ "  ", 0, 0, "" },
		{ "abc", CTP_E_VALUE, 0, NULL },
		{ "0", CTP_E_VALUE, 0, NULL },
		{ "0a:1b", CTP_E_VALUE, 0, NULL },
		{ "0g", CTP_E_VALUE, 0, NULL },
		{ "0x0x00", CTP_E_VALUE, 0, NULL },
		{ "x00", CTP_E_VALUE, 0, NULL },
		{ "0a-1b", CTP_E_VALUE, 0, NULL },
		{ "0a\v1b", CTP_E_VALUE, 0, NULL },
		{ "0a1b2c3d", CTP_E_NOSPACE, 0, NULL },
	};
	uint8_t out[4], bytes[] = { 0x00, 0xab, 0xff };
	struct ctp_val *v;
	size_t n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		memset(out, 0xee, sizeof(out));
		n = 99;
		rc = ctp_hex_decode(cases[i].in, strlen(cases[i].in), out, 3, &n);
		if (rc != cases[i].rc)
			fprintf(stderr, "\nhex [%s]: %d\n", cases[i].in, rc);
		CU_ASSERT_EQUAL(rc, cases[i].rc);
		if (rc == 0) {
			CU_ASSERT_EQUAL(n, cases[i].n);
			CU_ASSERT(memcmp(out, cases[i].out, cases[i].n) == 0);
		} else {
			/* nothing written on failure */
			CU_ASSERT_EQUAL(n, 99);
			CU_ASSERT_EQUAL(out[0], 0xee);
		}
	}
	/* the length counts: a NUL in the middle is not a hex digit */
	CU_ASSERT_EQUAL(ctp_hex_decode("00\0" "0", 4, out, 4, &n), CTP_E_VALUE);
	CU_ASSERT_EQUAL(ctp_hex_decode("0011", 2, out, 4, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(ctp_hex_decode(NULL, 0, NULL, 0, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(ctp_hex_decode(NULL, 2, out, 4, &n), CTP_E_INVAL);
	CU_ASSERT_EQUAL(ctp_hex_decode("00", 2, NULL, 0, &n), CTP_E_NOSPACE);
	CU_ASSERT_EQUAL(ctp_hex_decode("00", 2, out, 1, NULL), 0);

	/* in place, as ctpctl does with files */
	{
		char text[] = " 0x0a1b 2c\n";

		CU_ASSERT_EQUAL(ctp_hex_decode(text, strlen(text), (uint8_t *)text,
		    sizeof(text), &n), 0);
		CU_ASSERT_EQUAL(n, 3);
		CU_ASSERT(memcmp(text, "\x0a\x1b\x2c", 3) == 0);
	}

	v = ctp_val_hex(bytes, sizeof(bytes));
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	EXPECT_STR(v->s, "00abff");
	CU_ASSERT_EQUAL(v->slen, 6);
	CU_ASSERT_EQUAL(ctp_hex_decode(v->s, v->slen, out, sizeof(out), &n), 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT(memcmp(out, bytes, 3) == 0);
	ctp_val_free(v);
	v = ctp_val_hex(NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_EQUAL(v->kind, CTP_V_STR);
	EXPECT_STR(v->s, "");
	ctp_val_free(v);
}

/* ---- building and reading trees -------------------------------------------- */

static void
test_val_getters(void)
{
	struct ctp_val *o = val_parse_ok(
	    "{\"seq\":4294967296,\"small\":5,\"neg\":-5,\"s\":\"x\",\"h\":\" 0011FF\","
	    "\"z\":\"a\\u0000b\",\"arr\":[1],\"odd\":\"abc\",\"zero\":0}");
	struct ctp_err err = { 0 };
	const char *s = "preset";
	uint8_t buf[4] = { 0 };
	uint64_t u = 42;
	size_t n = 99;

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);

	CU_ASSERT_EQUAL(ctp_val_get_u64(o, "seq", UINT32_MAX, &u, &err), CTP_E_VALUE);
	EXPECT_STR(err.what, "key \"seq\": 4294967296 is larger than 4294967295");
	CU_ASSERT(u == 42);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_val_get_u64(o, "seq", UINT64_MAX, &u, &err), 0);
	CU_ASSERT(u == 4294967296u);
	CU_ASSERT_EQUAL(ctp_val_get_u64(o, "small", 5, &u, &err), 0);
	CU_ASSERT(u == 5);
	CU_ASSERT_EQUAL(ctp_val_get_u64(o, "zero", 0, &u, &err), 0);
	CU_ASSERT(u == 0);
	CU_ASSERT_EQUAL(ctp_val_get_u64(o, "neg", UINT64_MAX, &u, &err), CTP_E_VALUE);
	EXPECT_STR(err.what, "key \"neg\": -5 is negative");
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_val_get_u64(o, "s", UINT64_MAX, &u, &err), CTP_E_VALUE);
	EXPECT_STR(err.what, "key \"s\": expected an integer, got a string");
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_val_get_u64(o, "arr", UINT64_MAX, &u, &err), CTP_E_VALUE);
	EXPECT_STR(err.what, "key \"arr\": expected an integer, got an array");
	ctp_err_clear(&err);

	/* absent: out and err untouched, so a default and a later error survive */
	u = 42;
	CU_ASSERT_EQUAL(ctp_val_get_u64(o, "nope", UINT64_MAX, &u, &err), CTP_E_NOTFOUND);
	CU_ASSERT(u == 42);
	CU_ASSERT_EQUAL(err.code, 0);
	CU_ASSERT_EQUAL(ctp_val_get_u64(ctp_val_get(o, "sub"), "k", 9, &u, &err),
	    CTP_E_NOTFOUND);
	CU_ASSERT_EQUAL(ctp_val_get_u64(ctp_val_get(o, "arr"), "k", 9, &u, &err),
	    CTP_E_VALUE);
	EXPECT_STR(err.what, "key \"k\": looked up in an array, not an object");
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_val_get_u64(o, "small", 9, &u, NULL), 0);
	CU_ASSERT_EQUAL(ctp_val_get_u64(o, "seq", 9, &u, NULL), CTP_E_VALUE);

	CU_ASSERT_EQUAL(ctp_val_get_str(o, "s", &s, &err), 0);
	EXPECT_STR(s, "x");
	s = "preset";
	CU_ASSERT_EQUAL(ctp_val_get_str(o, "nope", &s, &err), CTP_E_NOTFOUND);
	EXPECT_STR(s, "preset");
	CU_ASSERT_EQUAL(ctp_val_get_str(o, "z", &s, &err), CTP_E_VALUE);
	EXPECT_STR(err.what, "key \"z\": string contains a NUL character");
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_val_get_str(o, "small", &s, &err), CTP_E_VALUE);
	EXPECT_STR(err.what, "key \"small\": expected a string, got an integer");
	ctp_err_clear(&err);
	EXPECT_STR(s, "preset");

	CU_ASSERT_EQUAL(ctp_val_get_hex(o, "h", buf, 3, &n, &err), 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT(memcmp(buf, "\x00\x11\xff", 3) == 0);
	n = 99;
	CU_ASSERT_EQUAL(ctp_val_get_hex(o, "h", buf, 2, &n, &err), CTP_E_VALUE);
	EXPECT_STR(err.what, "key \"h\": 3 octets, at most 2 allowed");
	CU_ASSERT_EQUAL(n, 99);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_val_get_hex(o, "odd", buf, 4, &n, &err), CTP_E_VALUE);
	EXPECT_STR(err.what, "key \"odd\": not hex (expected an even number of hex digits)");
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_val_get_hex(o, "s", buf, 4, &n, &err), CTP_E_VALUE);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_val_get_hex(o, "small", buf, 4, &n, &err), CTP_E_VALUE);
	EXPECT_STR(err.what, "key \"small\": expected a hex string, got an integer");
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_val_get_hex(o, "nope", buf, 4, &n, &err), CTP_E_NOTFOUND);
	CU_ASSERT_EQUAL(err.code, 0);

	/* a hostile key cannot break the one-line message */
	CU_ASSERT_EQUAL(ctp_val_get_u64(ctp_val_get(o, "arr"),
	    "a\nb\"cccccccccccccccccccccccccccccccccccccccccccccccccccccc", 1, &u, &err),
	    CTP_E_VALUE);
	CU_ASSERT_PTR_NULL(strchr(err.what, '\n'));
	CU_ASSERT(strncmp(err.what, "key \"a?b?cccc", 13) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, "...\""));
	ctp_val_free(o);
}

static void
test_val_build(void)
{
	static const uint8_t two[] = { 1, 2 };
	struct ctp_val *o = ctp_val_obj(), *a = ctp_val_arr(), *v;
	char *out;

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(ctp_val_set_u64(o, "a", 1), 0);
	CU_ASSERT_EQUAL(ctp_val_set_str(o, "b", "x"), 0);
	CU_ASSERT_EQUAL(ctp_val_set_hex(o, "c", two, sizeof(two)), 0);
	/* replacing keeps the position and frees the old value */
	CU_ASSERT_EQUAL(ctp_val_obj_set(o, "a", ctp_val_bool(7)), 0);
	CU_ASSERT_EQUAL(o->n, 3);
	v = ctp_val_get(o, "b");
	CU_ASSERT_EQUAL(ctp_val_obj_set(o, "b", v), 0);
	CU_ASSERT_EQUAL(ctp_val_set_str(o, "n", NULL), 0);
	CU_ASSERT_EQUAL(ctp_val_get(o, "n")->kind, CTP_V_NULL);
	out = ctp_json_string(o, 0);
	EXPECT_STR(out, "{\"a\":true,\"b\":\"x\",\"c\":\"0102\",\"n\":null}");
	free(out);

	/* ownership: the child is gone on every failure (ASan/valgrind check) */
	CU_ASSERT_EQUAL(ctp_val_obj_set(o, "d", NULL), CTP_E_NOMEM);
	CU_ASSERT_EQUAL(ctp_val_arr_push(a, NULL), CTP_E_NOMEM);
	CU_ASSERT_EQUAL(ctp_val_obj_set(NULL, "k", ctp_val_str("leak?")), CTP_E_INVAL);
	CU_ASSERT_EQUAL(ctp_val_obj_set(a, "k", ctp_val_str("leak?")), CTP_E_INVAL);
	CU_ASSERT_EQUAL(ctp_val_obj_set(o, NULL, ctp_val_str("leak?")), CTP_E_INVAL);
	CU_ASSERT_EQUAL(ctp_val_arr_push(o, ctp_val_str("leak?")), CTP_E_INVAL);
	CU_ASSERT_EQUAL(ctp_val_arr_push(NULL, ctp_val_u64(1)), CTP_E_INVAL);
	CU_ASSERT_EQUAL(ctp_val_set_u64(NULL, "k", 1), CTP_E_INVAL);
	CU_ASSERT_EQUAL(o->n, 4);

	CU_ASSERT_PTR_NULL(ctp_val_get(NULL, "a"));
	CU_ASSERT_PTR_NULL(ctp_val_get(a, "a"));
	CU_ASSERT_PTR_NULL(ctp_val_get(o, NULL));
	CU_ASSERT_PTR_NULL(ctp_val_get(o, "zz"));

	for (int i = 0; i < 1000; i++)
		CU_ASSERT_EQUAL(ctp_val_arr_push(a, ctp_val_u64((uint64_t)i)), 0);
	CU_ASSERT_EQUAL(a->n, 1000);
	CU_ASSERT(a->cap >= 1000);
	CU_ASSERT(a->items[999]->u == 999);
	CU_ASSERT_EQUAL(ctp_val_obj_set(o, "arr", a), 0);
	v = ctp_val_bool(-3);
	CU_ASSERT(v && v->u == 1);
	ctp_val_free(v);
	ctp_val_free(o);

	/* the writer refuses a magnitude the parser would refuse */
	v = ctp_val_u64((uint64_t)1 << 63);
	v->neg = 1;
	out = ctp_json_string(v, 0);
	EXPECT_STR(out, "-9223372036854775808");
	free(out);
	v->u++;
	CU_ASSERT_PTR_NULL(ctp_json_string(v, 0));
	CU_ASSERT_EQUAL(ctp_json_write(v, stdout, 0), CTP_E_VALUE);
	/* a negative zero built by hand still prints as 0 */
	v->u = 0;
	out = ctp_json_string(v, 0);
	EXPECT_STR(out, "0");
	free(out);
	ctp_val_free(v);
}

CTP_TEST_SUITE(val, NULL, NULL,
    CTP_TEST(test_val_roundtrip),
    CTP_TEST(test_val_escapes),
    CTP_TEST(test_val_surrogates),
    CTP_TEST(test_val_integers),
    CTP_TEST(test_val_depth),
    CTP_TEST(test_val_duplicates),
    CTP_TEST(test_val_trailing),
    CTP_TEST(test_val_syntax),
    CTP_TEST(test_val_truncated),
    CTP_TEST(test_val_mutate),
    CTP_TEST(test_val_utf8),
    CTP_TEST(test_val_control),
    CTP_TEST(test_val_args),
    CTP_TEST(test_val_pretty),
    CTP_TEST(test_val_tree),
    CTP_TEST(test_val_hex),
    CTP_TEST(test_val_getters),
    CTP_TEST(test_val_build),
)
