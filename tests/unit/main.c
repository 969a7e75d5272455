/*
 * main.c: the runner of the unit-test binary.  Suites register themselves
 * (test.h); this runs them with CUnit's basic interface and prints its
 * summary.  Exit status 1 when any assertion failed.
 */
#include <CUnit/Basic.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

static struct ctp_test_suite *suites;

void
ctp_test_register(struct ctp_test_suite *s)
{
	struct ctp_test_suite **pp = &suites;

	/* keep them sorted by name so the run order is stable */
	while (*pp && strcmp((*pp)->name, s->name) < 0)
		pp = &(*pp)->next;
	s->next = *pp;
	*pp = s;
}

const char *
ctp_test_build_dir(void)
{
	const char *b = getenv("CTP_BUILD_DIR");

#ifdef CTP_TEST_BUILD
	if (!b)
		b = CTP_TEST_BUILD;
#endif
	return b ? b : "build";
}

unsigned char *
ctp_test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else if (buf) {
			buf[n] = 0;
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

unsigned char *
ctp_test_hex(const char *hex, size_t *len)
{
	size_t n = strlen(hex), o = 0;
	unsigned char *out = malloc(n / 2 + 1);
	int hi = -1;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)hex[i], v;

		if (isspace(c))
			continue;
		if (!isxdigit(c)) {
			free(out);
			return NULL;
		}
		v = isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
		if (hi < 0)
			hi = v;
		else {
			out[o++] = (unsigned char)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0) {
		free(out);
		return NULL;
	}
	*len = o;
	return out;
}

int
main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	for (struct ctp_test_suite *s = suites; s; s = s->next) {
		CU_pSuite cs;

		/* SUITE runs that suite alone; -SUITE all but that one */
		if (only && (only[0] == '-' ? strcmp(only + 1, s->name) == 0 :
		    strcmp(only, s->name) != 0))
			continue;
		cs = CU_add_suite(s->name, s->init, s->clean);
		if (!cs)
			return 2;
		for (const struct ctp_test *t = s->tests; t->name; t++)
			if (!CU_add_test(cs, t->name, t->fn))
				return 2;
	}
	CU_basic_set_mode(getenv("CTP_TEST_VERBOSE") ? CU_BRM_VERBOSE : CU_BRM_NORMAL);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed() +
	    CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
