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

/* ctpctl_sas.c: the ipsec plugin's SA database. */
int ctpctl_sas(int argc, char **argv);

/* ctpctl_engine.c: driving transfers. */
int ctpctl_trigger(int argc, char **argv);
int ctpctl_mn_key(int argc, char **argv);

/* Exit codes of the daemon commands. */
#define CTPCTL_EXIT_OK       0
#define CTPCTL_EXIT_ERROR    1   /* the daemon answered with an error */
#define CTPCTL_EXIT_USAGE    2
#define CTPCTL_EXIT_NODAEMON 3

/* A request {"cmd": cmd}, or NULL when memory runs out. */
struct ctp_val *ctpctl_request(const char *cmd);
/* Send req (consumed); the exit status; *reply when the daemon said ok. */
int ctpctl_ask(const char *cmd, struct ctp_val *req, struct ctp_val **reply);
int ctpctl_print_json(const struct ctp_val *v);

/* The control socket from -s (NULL: $CTPD_SOCKET, else /run/ctpd.sock). */
extern const char *ctpctl_socket;
/* Take the -s SOCKET options before the command out of argc/argv (argv[0]
 * stays the program); -1, with a message, when -s lacks its path. */
int ctpctl_socket_option(int *argc, char ***argv);

/* The plugins for offline decoding: from dir, or the default folder (an
 * empty registry when there is none).  NULL, with a message, on failure. */
struct ctp_registry *ctpctl_load_plugins(const char *dir);

#endif
