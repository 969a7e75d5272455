/*
 * ctp_secret.c: key storage that is locked in memory where the process may
 * lock it, and wiped before it is freed (PROFILE 5.3).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/crypto.h>

#include "ctp/ctp_secret.h"

void
ctp_wipe(void *p, size_t len)
{
	if (p && len)
		OPENSSL_cleanse(p, len);
}

struct ctp_secret *
ctp_secret_new(size_t len)
{
	struct ctp_secret *s = calloc(1, sizeof *s + len);

	if (!s)
		return NULL;
	s->len = len;
	/* Best effort: without CAP_IPC_LOCK the RLIMIT_MEMLOCK budget may be
	 * spent; the key is still wiped on free. */
	s->locked = mlock(s, sizeof *s + len) == 0;
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
	size_t n;

	if (!s)
		return;
	n = sizeof *s + s->len;
	OPENSSL_cleanse(s->p, s->len);
	if (s->locked)
		munlock(s, n);
	free(s);
}
