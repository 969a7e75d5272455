/*
 * ctp_tr.c: what the transport backends share that needs neither SCTP
 * header: the names of down reasons, and the choice of backend.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctp/ctp_tr.h"

const char *
ctp_tr_down_name(int reason)
{
	switch (reason) {
	case CTP_TR_DOWN_SHUTDOWN: return "shutdown";
	case CTP_TR_DOWN_LOST: return "lost";
	case CTP_TR_DOWN_REFUSED: return "refused";
	case CTP_TR_DOWN_ABORTED: return "aborted";
	case CTP_TR_DOWN_LOCAL: return "local";
	default: return "?";
	}
}

/*
 * The probe is the socket the kernel backend would open.  Any failure means
 * that backend cannot work here: no sctp module (EPROTONOSUPPORT,
 * ESOCKTNOSUPPORT: this very machine), a sandbox that forbids it (EPERM,
 * EACCES), or no IPv4 at all; usrsctp needs nothing from the kernel but
 * UDP, so it is the fallback in every case, and `why` says which.
 */
const struct ctp_tr_ops *
ctp_tr_pick(char *why, size_t len)
{
	int fd = socket(AF_INET, SOCK_SEQPACKET | SOCK_CLOEXEC, IPPROTO_SCTP);
	int e;

	if (fd >= 0) {
		close(fd);
		if (why && len)
			snprintf(why, len, "kernel SCTP available; using the kernel");
		return &ctp_tr_kernel;
	}
	e = errno;
	if (why && len)
		snprintf(why, len, "kernel SCTP unavailable: %s; using usrsctp", strerror(e));
	return &ctp_tr_usrsctp;
}
