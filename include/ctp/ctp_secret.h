/*
 * ctp_secret.h: where keys live.  Memory that is locked (never swapped out)
 * when the process may lock it, kept out of core dumps, and wiped before it
 * is freed.  Log code never prints it.
 *
 * The memory comes from OpenSSL's secure heap once the program has called
 * ctp_secret_init() (ctpd does, first thing): one arena, mlock'ed and
 * MADV_DONTDUMP, shared through libcrypto by the daemon and the plugins it
 * loads.  Without it (tools, tests, an arena that could not be locked or is
 * full) the memory comes from the ordinary heap, unlocked but still wiped.
 * Not thread-safe beyond what OpenSSL's own lock gives: ctpd has one thread.
 */
#ifndef CTP_SECRET_H
#define CTP_SECRET_H

#include <stddef.h>
#include <stdint.h>

struct ctp_secret {
	size_t   len;
	int      locked;   /* in the locked arena */
	uint8_t  p[];      /* len octets */
};

/* NULL when memory runs out; the octets start zeroed. */
struct ctp_secret *ctp_secret_new(size_t len);
struct ctp_secret *ctp_secret_dup(const uint8_t *p, size_t len);
/* Wipes, frees; NULL is fine. */
void ctp_secret_free(struct ctp_secret *s);
/* Wipe any buffer (not optimised away). */
void ctp_wipe(void *p, size_t len);

/*
 * Any object that holds key octets (an SA with its keys, say): len zeroed
 * octets, locked when the arena has room; ctp_secret_release wipes len
 * octets and frees (NULL is fine).  The two must agree on len.
 */
void *ctp_secret_alloc(size_t len);
void ctp_secret_release(void *p, size_t len);

/*
 * Set up the locked arena: arena octets (a power of two; 0 picks
 * CTP_SECRET_ARENA), trying smaller ones down to 64 KiB when the process
 * may not lock that much (RLIMIT_MEMLOCK without CAP_IPC_LOCK).  Call it
 * before the first key is allocated and before privileges are dropped.
 * Returns the size locked (> 0), 0 when nothing could be locked (keys
 * then live in the ordinary heap), or 0 at once when built with
 * AddressSanitizer, which must see every key buffer.  Once is enough;
 * later calls return what the first one did.
 */
#define CTP_SECRET_ARENA (16u << 20)
size_t ctp_secret_init(size_t arena);

/* The arena's size (0: none) and the octets in use there. */
void ctp_secret_stats(size_t *arena, size_t *used);

#endif
