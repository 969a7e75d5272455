/*
 * ctpctl.h: the commands of ctpctl, one file each.
 */
#ifndef CTPCTL_H
#define CTPCTL_H

#include "ctp/ctp_registry.h"

int ctpctl_decode(int argc, char **argv);
int ctpctl_encode(int argc, char **argv);

/* ctpctl_daemon.c: the commands that ask a running ctpd. */
int ctpctl_status(int argc, char **argv);
int ctpctl_peers(int argc, char **argv);
int ctpctl_transfers(int argc, char **argv);
int ctpctl_stats(int argc, char **argv);
int ctpctl_plugins(int argc, char **argv);
int ctpctl_call(int argc, char **argv);

/* The control socket from -s (NULL: $CTPD_SOCKET, else /run/ctpd.sock). */
extern const char *ctpctl_socket;
/* Take the -s SOCKET options before the command out of argc/argv (argv[0]
 * stays the program); -1, with a message, when -s lacks its path. */
int ctpctl_socket_option(int *argc, char ***argv);

/* The plugins for offline decoding: from dir, or the default folder (an
 * empty registry when there is none).  NULL, with a message, on failure. */
struct ctp_registry *ctpctl_load_plugins(const char *dir);

#endif
