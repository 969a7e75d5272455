/*
 * test.h: how a unit-test file joins the one CUnit binary (build/unit-tests).
 *
 * Each file lists its tests and registers its suite from a constructor, so
 * adding a file never means editing another:
 *
 *   static void test_thing(void) { CU_ASSERT_EQUAL(1 + 1, 2); }
 *   CTP_TEST_SUITE(codec, NULL, NULL,
 *       CTP_TEST(test_thing),
 *   );
 *
 * `build/unit-tests [SUITE]` runs every suite, or only the one named.
 */
#ifndef CTP_TEST_H
#define CTP_TEST_H

#include <CUnit/CUnit.h>
#include <stddef.h>

struct ctp_test {
	const char *name;
	void      (*fn)(void);
};

struct ctp_test_suite {
	const char            *name;
	int                  (*init)(void);
	int                  (*clean)(void);
	const struct ctp_test *tests;
	struct ctp_test_suite *next;
};

void ctp_test_register(struct ctp_test_suite *s);

/* The build directory (for plugins and test vectors), from the Makefile. */
const char *ctp_test_build_dir(void);
/* Read a whole file; returns malloc'ed data and its size, NULL on failure. */
unsigned char *ctp_test_read_file(const char *path, size_t *len);
/* Decode hex text (whitespace ignored) into a malloc'ed buffer. */
unsigned char *ctp_test_hex(const char *hex, size_t *len);

#define CTP_TEST(fn) { #fn, fn }

#define CTP_TEST_SUITE(sname, sinit, sclean, ...)                            \
	static const struct ctp_test sname##_tests_[] = { __VA_ARGS__ { NULL, NULL } }; \
	static struct ctp_test_suite sname##_suite_ = {                       \
		#sname, sinit, sclean, sname##_tests_, NULL };                \
	__attribute__((constructor)) static void sname##_register_(void)      \
	{                                                                     \
		ctp_test_register(&sname##_suite_);                           \
	}

#endif
