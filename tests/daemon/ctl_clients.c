/*
 * ctl_clients.c: N control clients at once, for tests/daemon/limits.sh.
 *
 *   ctl_clients SOCKET N
 *
 * Connects N clients to the control socket one after the other (all of them
 * before any is used, so that they are all open at the same time), then on
 * each in turn sends {"cmd":"status"} and prints the first line that comes
 * back as "I: LINE" (or "I: EOF" when the daemon closed without a word),
 * and only then closes them all.  Exit status 0 when every client got a
 * line or an end, 1 on a local error.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_CLIENTS_MAX  256
#define CTL_CLIENTS_WAIT 20000   /* ms: a generous bound, not a measurement */

static int
ctl_clients_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, CTL_CLIENTS_WAIT) <= 0)
			return -1;
		r = read(fd, buf + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = 0;
	return (int)n;
}

int
main(int argc, char **argv)
{
	static const char req[] = "{\"cmd\":\"status\"}\n";
	int fds[CTL_CLIENTS_MAX], n, rc = 0;
	struct sockaddr_un sun;

	if (argc != 3 || (n = atoi(argv[2])) < 1 || n > CTL_CLIENTS_MAX ||
	    strlen(argv[1]) >= sizeof sun.sun_path) {
		fprintf(stderr, "usage: ctl_clients SOCKET N (1 to %d)\n", CTL_CLIENTS_MAX);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, argv[1], strlen(argv[1]));
	for (int i = 0; i < n; i++) {
		if ((fds[i] = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
		    connect(fds[i], (struct sockaddr *)&sun, sizeof sun) < 0) {
			fprintf(stderr, "ctl_clients: client %d: %s\n", i, strerror(errno));
			return 1;
		}
	}
	for (int i = 0; i < n; i++) {
		char line[4096];
		int len;

		/* a client the daemon turned away may see EPIPE: its line is read anyway */
		if (write(fds[i], req, sizeof req - 1) < 0 && errno != EPIPE)
			fprintf(stderr, "ctl_clients: client %d: %s\n", i, strerror(errno));
		if ((len = ctl_clients_line(fds[i], line, sizeof line)) < 0) {
			fprintf(stderr, "ctl_clients: client %d: no answer\n", i);
			rc = 1;
		} else {
			printf("%d: %s\n", i, len ? line : "EOF");
		}
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
	return rc;
}
