/*
 * test_secret.c: where keys live (src/ctp/ctp_secret.c).
 *
 *   heap        before ctp_secret_init: ordinary heap, unlocked, zeroed,
 *               wiped on release
 *   arena       after it: keys in the locked arena (VmLck in /proc), and
 *               freeing one key never unlocks the memory of another (the
 *               page-granular munlock of the old mlock-per-key did)
 *   full        an arena with no room left: keys still come, from the heap
 *   stats       ctp_secret_stats follows what is in use
 *
 * ctp_secret_init runs once per process: the suite sets up a 1 MiB arena,
 * which the suites after it then use too.  A sanitized build skips the
 * arena (ctp_secret.h): the tests say so and check the heap path only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_secret.h"
#include "test.h"

/* The VmLck of /proc/self/status in KiB, or -1. */
static long
vmlck_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmLck: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int
all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void
test_secret_heap(void)
{
	size_t arena = 1, used = 1;
	struct ctp_secret *s;
	uint8_t *o;

	ctp_secret_stats(&arena, &used);
	if (arena) {
		fprintf(stderr, "\n    secret heap: an arena is set up already; skipped\n");
		return;
	}
	CU_ASSERT_EQUAL(used, 0);
	s = ctp_secret_dup((const uint8_t *)"0123456789abcdef", 16);
	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT_EQUAL(s->len, 16);
	CU_ASSERT_EQUAL(s->locked, 0);
	CU_ASSERT_EQUAL(memcmp(s->p, "0123456789abcdef", 16), 0);
	ctp_secret_free(s);
	ctp_secret_free(NULL);
	o = ctp_secret_alloc(300);
	CU_ASSERT_FATAL(o != NULL);
	CU_ASSERT(all_zero(o, 300));
	memset(o, 0xa5, 300);
	ctp_secret_release(o, 300);
	ctp_secret_release(NULL, 5);
}

static void
test_secret_arena(void)
{
	struct ctp_secret *a, *b, *c;
	size_t arena, used0, used1, used2;
	long lck0, lck1;

	arena = ctp_secret_init(1u << 20);
	if (arena == 0) {
		fprintf(stderr, "\n    secret arena: not set up (a sanitized build, or no mlock "
		    "here); heap path only\n");
		a = ctp_secret_new(20);
		CU_ASSERT(a != NULL && !a->locked);
		ctp_secret_free(a);
		return;
	}
	CU_ASSERT_EQUAL(arena, 1u << 20);
	CU_ASSERT_EQUAL(ctp_secret_init(4096), arena);   /* once */
	lck0 = vmlck_kb();
	CU_ASSERT(lck0 >= (long)(arena >> 10));
	ctp_secret_stats(NULL, &used0);

	/* three keys side by side: the same page of the arena */
	a = ctp_secret_dup((const uint8_t *)"key-a-0123456789", 16);
	b = ctp_secret_dup((const uint8_t *)"key-b-0123456789", 16);
	c = ctp_secret_new(40);
	CU_ASSERT_FATAL(a && b && c);
	CU_ASSERT(a->locked && b->locked && c->locked);
	CU_ASSERT(all_zero(c->p, 40));
	ctp_secret_stats(NULL, &used1);
	CU_ASSERT(used1 > used0);
	ctp_secret_free(a);
	/* b's memory is as locked as before a went */
	lck1 = vmlck_kb();
	CU_ASSERT_EQUAL(lck1, lck0);
	CU_ASSERT(b->locked);
	CU_ASSERT_EQUAL(memcmp(b->p, "key-b-0123456789", 16), 0);
	ctp_secret_free(b);
	ctp_secret_free(c);
	ctp_secret_stats(NULL, &used2);
	CU_ASSERT_EQUAL(used2, used0);
	CU_ASSERT_EQUAL(vmlck_kb(), lck0);
}

/* No room in the arena: the key still comes, unlocked, and goes cleanly. */
static void
test_secret_full(void)
{
	enum { N = 4096 };
	struct ctp_secret **v = calloc(N, sizeof *v);
	size_t arena, used0, used1, n, unlocked = 0;

	ctp_secret_stats(&arena, &used0);
	CU_ASSERT_FATAL(v != NULL);
	if (!arena) {
		free(v);
		return;
	}
	/* blocks of 1 KiB: 1 MiB of arena is full long before 4096 of them */
	for (n = 0; n < N; n++) {
		if ((v[n] = ctp_secret_new(1000)) == NULL)
			break;
		unlocked += !v[n]->locked;
		memset(v[n]->p, 0x5a, 1000);
	}
	CU_ASSERT_EQUAL(n, N);
	CU_ASSERT(unlocked > 0 && unlocked < N);
	for (size_t i = 0; i < n; i++)
		ctp_secret_free(v[i]);
	ctp_secret_stats(NULL, &used1);
	CU_ASSERT_EQUAL(used1, used0);
	free(v);
}

CTP_TEST_SUITE(secret, NULL, NULL,
	CTP_TEST(test_secret_heap),
	CTP_TEST(test_secret_arena),
	CTP_TEST(test_secret_full),
);
