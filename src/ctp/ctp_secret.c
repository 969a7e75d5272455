/*
 * ctp_secret.c: key storage that is locked in memory where the process may
 * lock it, and wiped before it is freed (PROFILE 5.3).
 *
 * Why OpenSSL's secure heap and not mlock() on each key: mlock and munlock
 * work on whole pages and do not nest, so unlocking one key's page unlocks
 * every other key on it (which is what mlock per allocation did), and a
 * page of its own for each key would spend RLIMIT_MEMLOCK (8 MiB for an
 * unprivileged process) 4 KiB at a time.  The secure heap is one arena,
 * locked once with MLOCK_ONFAULT (a page costs memory only once used),
 * excluded from core dumps, with guard pages around it; it lives in
 * libcrypto, so the daemon and every plugin (each of which links its own
 * copy of this file) allocate from the same one, and OpenSSL keeps its own
 * private keys there too.  An allocation the arena has no room for comes
 * from the ordinary heap: unlocked, still wiped.
 *
 * AddressSanitizer cannot see inside the arena, so a sanitized build does
 * not set it up: every key buffer is then a heap block ASan watches.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ctp/ctp_secret.h"

#if defined(__SANITIZE_ADDRESS__)
#define CTP_SECRET_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CTP_SECRET_ASAN 1
#endif
#endif

#define CTP_SECRET_ARENA_MIN (64u << 10)
#define CTP_SECRET_MINSIZE   32   /* the arena's smallest block */

/* What ctp_secret_init did, in the copy of this file that called it. */
static size_t ctp_secret_arena;
static int ctp_secret_inited;

void
ctp_wipe(void *p, size_t len)
{
	if (p && len)
		OPENSSL_cleanse(p, len);
}

void *
ctp_secret_alloc(size_t len)
{
	void *p = NULL;

	if (CRYPTO_secure_malloc_initialized())
		p = CRYPTO_secure_zalloc(len ? len : 1, OPENSSL_FILE, OPENSSL_LINE);
	/* no arena, or no room left in it: the ordinary heap */
	if (!p)
		p = calloc(1, len ? len : 1);
	return p;
}

void
ctp_secret_release(void *p, size_t len)
{
	if (!p)
		return;
	if (CRYPTO_secure_malloc_initialized() && CRYPTO_secure_allocated(p)) {
		/* wipes the whole block */
		CRYPTO_secure_clear_free(p, len, OPENSSL_FILE, OPENSSL_LINE);
		return;
	}
	OPENSSL_cleanse(p, len);
	free(p);
}

struct ctp_secret *
ctp_secret_new(size_t len)
{
	struct ctp_secret *s = ctp_secret_alloc(sizeof *s + len);

	if (!s)
		return NULL;
	s->len = len;
	s->locked = CRYPTO_secure_malloc_initialized() && CRYPTO_secure_allocated(s);
	return s;
}

struct ctp_secret *
ctp_secret_dup(const uint8_t *p, size_t len)
{
	struct ctp_secret *s = ctp_secret_new(len);

	if (s && len)
		memcpy(s->p, p, len);
	return s;
}

void
ctp_secret_free(struct ctp_secret *s)
{
	if (s)
		ctp_secret_release(s, sizeof *s + s->len);
}

size_t
ctp_secret_init(size_t arena)
{
	if (ctp_secret_inited)
		return ctp_secret_arena;
	ctp_secret_inited = 1;
#ifdef CTP_SECRET_ASAN
	(void)arena;
	return 0;
#else
	if (!arena)
		arena = CTP_SECRET_ARENA;
	/* 1: set up and locked; 2: set up, but mlock (or the guard pages, or
	 * MADV_DONTDUMP) refused: not what the keys are promised, so undone */
	for (; arena >= CTP_SECRET_ARENA_MIN; arena /= 2) {
		int rc = CRYPTO_secure_malloc_init(arena, CTP_SECRET_MINSIZE);

		if (rc == 1)
			return ctp_secret_arena = arena;
		if (rc == 2)
			(void)CRYPTO_secure_malloc_done();
	}
	return 0;
#endif
}

void
ctp_secret_stats(size_t *arena, size_t *used)
{
	int on = CRYPTO_secure_malloc_initialized();

	if (arena)
		*arena = on ? ctp_secret_arena : 0;
	if (used)
		*used = on ? CRYPTO_secure_used() : 0;
}
