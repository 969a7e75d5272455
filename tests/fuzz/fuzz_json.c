/*
 * fuzz_json.c: libFuzzer harness for ctp_json_parse and the writers.
 *
 * Whatever parses must write out, parse again and write out the same text,
 * from the compact and the pretty form alike, and print as a readable tree
 * with no control character but the newline.  Whatever does not parse must
 * fail with CTP_E_JSON (or CTP_E_NOMEM), no value, and a positioned message.
 * Anything else is a bug: abort().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_val.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ctp_val *
fuzz_json_reparse(const char *text)
{
	struct ctp_err err = { 0 };
	struct ctp_val *v = NULL;

	if (!text || ctp_json_parse(text, strlen(text), &v, &err) != 0 || !v)
		abort();
	return v;
}

/* The tree is for terminals: peer strings must not carry escape sequences. */
static void
fuzz_json_tree(const struct ctp_val *v)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return;
	if (ctp_val_print_tree(v, f) != 0)
		abort();
	if (fclose(f) != 0)
		abort();
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if ((c < 0x20 && c != '\n') || c == 0x7f)
			abort();
	}
	free(buf);
}

/* The typed getters on every member of a top-level object: codes match kinds. */
static void
fuzz_json_getters(const struct ctp_val *v)
{
	if (v->kind != CTP_V_OBJ)
		return;
	for (size_t i = 0; i < v->n; i++) {
		const struct ctp_val *m = v->members[i].val;
		const char *key = v->members[i].key, *s;
		struct ctp_err err = { 0 };
		uint8_t buf[16];
		uint64_t u;
		size_t n;
		int rc;

		rc = ctp_val_get_u64(v, key, UINT32_MAX, &u, &err);
		if ((rc == 0) != (m->kind == CTP_V_INT && !m->neg && m->u <= UINT32_MAX))
			abort();
		if (rc != 0 && (rc != CTP_E_VALUE || err.code != CTP_E_VALUE))
			abort();
		rc = ctp_val_get_str(v, key, &s, NULL);
		if ((rc == 0) != (m->kind == CTP_V_STR && strlen(m->s) == m->slen))
			abort();
		rc = ctp_val_get_hex(v, key, buf, sizeof(buf), &n, NULL);
		if (rc == 0 && (m->kind != CTP_V_STR || n > sizeof(buf)))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctp_err err = { 0 };
	struct ctp_val *v = NULL, *v2, *v3;
	char *s1, *s2, *p1, *s3;
	int rc;

	rc = ctp_json_parse((const char *)data, size, &v, &err);
	if (rc != 0) {
		if (v || err.code != rc || (rc != CTP_E_JSON && rc != CTP_E_NOMEM))
			abort();
		if (rc == CTP_E_JSON && (err.off > size ||
		    strncmp(err.what, "line ", 5) != 0 || strchr(err.what, '\n')))
			abort();
		return 0;
	}
	if (!v)
		abort();
	s1 = ctp_json_string(v, 0);
	p1 = ctp_json_string(v, CTP_JSON_PRETTY);
	v2 = fuzz_json_reparse(s1);
	v3 = fuzz_json_reparse(p1);
	s2 = ctp_json_string(v2, 0);
	s3 = ctp_json_string(v3, 0);
	if (!s2 || !s3 || strcmp(s1, s2) != 0 || strcmp(s1, s3) != 0)
		abort();
	fuzz_json_tree(v);
	fuzz_json_getters(v);
	free(s1);
	free(s2);
	free(s3);
	free(p1);
	ctp_val_free(v);
	ctp_val_free(v2);
	ctp_val_free(v3);
	return 0;
}
