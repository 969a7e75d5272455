/*
 * ctp_priv.c: dropping root (ctp_priv.h).  The order matters and follows
 * capabilities(7): keep the permitted set across setuid (PR_SET_KEEPCAPS),
 * drop the groups and the gid while still root, then the uid, then trim the
 * capability sets to what is kept (the effective set is cleared by setuid
 * and must be raised again), and finally forbid new privileges.
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctp/ctp_log.h"
#include "ctp/ctp_priv.h"

static int
capget_raw(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };

	return (int)syscall(SYS_capget, &h, d);
}

static int
capset_raw(uint64_t keep)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof d);
	d[0].effective = d[0].permitted = (uint32_t)keep;
	d[1].effective = d[1].permitted = (uint32_t)(keep >> 32);
	return (int)syscall(SYS_capset, &h, d);
}

uint64_t
ctp_priv_effective(void)
{
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof d);
	if (capget_raw(d) < 0)
		return 0;
	return (uint64_t)d[1].effective << 32 | d[0].effective;
}

int
ctp_priv_drop(const char *user, uint64_t keep, struct ctp_err *err)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return ctp_err_set(err, CTP_E_STATE, 0, 0,
		    "cannot become \"%s\": not running as root", user);
	errno = 0;
	if ((pw = getpwnam(user)) == NULL)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "user \"%s\": %s", user,
		    errno ? strerror(errno) : "no such user");
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return ctp_err_set(err, CTP_E_IO, 0, 0, "PR_SET_KEEPCAPS: %s", strerror(errno));
	if (setgroups(1, &pw->pw_gid) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0)
		return ctp_err_set(err, CTP_E_IO, 0, 0, "becoming group %u: %s",
		    (unsigned)pw->pw_gid, strerror(errno));
	if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		return ctp_err_set(err, CTP_E_IO, 0, 0, "becoming user %s: %s", user,
		    strerror(errno));
	if (capset_raw(keep) < 0)
		return ctp_err_set(err, CTP_E_IO, 0, 0, "keeping capabilities %#llx: %s",
		    (unsigned long long)keep, strerror(errno));
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return ctp_err_set(err, CTP_E_IO, 0, 0, "no_new_privs: %s", strerror(errno));
	log_notice("now user %s (uid %u, gid %u), capabilities %#llx", user, (unsigned)pw->pw_uid,
	    (unsigned)pw->pw_gid, (unsigned long long)ctp_priv_effective());
	return 0;
}
