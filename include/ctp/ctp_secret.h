/*
 * ctp_secret.h: the one type keys live in.  The memory is locked (mlock) when
 * the process may, and wiped before it is freed.  Log code never prints it.
 */
#ifndef CTP_SECRET_H
#define CTP_SECRET_H

#include <stddef.h>
#include <stdint.h>

struct ctp_secret {
	size_t   len;
	int      locked;   /* mlock succeeded */
	uint8_t  p[];      /* len octets */
};

/* NULL when memory runs out; the octets start zeroed. */
struct ctp_secret *ctp_secret_new(size_t len);
struct ctp_secret *ctp_secret_dup(const uint8_t *p, size_t len);
/* Wipes, unlocks, frees; NULL is fine. */
void ctp_secret_free(struct ctp_secret *s);
/* Wipe any buffer (not optimised away). */
void ctp_wipe(void *p, size_t len);

#endif
