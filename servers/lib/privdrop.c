/*
 * Description: privilege drop and its verification. Order matters: the
 * bounding set can only be emptied while CAP_SETPCAP is still held, and the
 * ids are read back after setting, failing hard on any difference (lwan's
 * straitjacket, OpenBSD httpd).
 */
#include "servers/lib/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <sys/capability.h>

#include "servers/lib/log.h"

int privdrop_lookup(const char *name, uid_t *ret_uid, gid_t *ret_gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int r;

	r = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (r != 0)
		return -r;
	if (!res)
		return -ENOENT;
	*ret_uid = pw.pw_uid;
	*ret_gid = pw.pw_gid;
	return 0;
}

int privdrop_to(uid_t uid, gid_t gid)
{
	cap_t caps = NULL;
	int r;

	if (uid == 0) {
		log_msg(__func__, "refusing to drop to uid 0");
		return -EINVAL;
	}
	/* Capabilities must not survive the uid change. */
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) {
		r = -errno;
		log_errno(__func__, r, "PR_SET_KEEPCAPS");
		return r;
	}
	/* The bounding set needs CAP_SETPCAP, so it goes while we are root. */
	for (cap_value_t cap = 0; cap < cap_max_bits(); cap++) {
		if (cap_drop_bound(cap) < 0) {
			r = -errno;
			log_errno(__func__, r, "cap_drop_bound(%d)", (int)cap);
			return r;
		}
	}
	if (cap_reset_ambient() < 0 && errno != EINVAL) {
		r = -errno;
		log_errno(__func__, r, "cap_reset_ambient");
		return r;
	}
	if (setgroups(1, &gid) < 0) {
		r = -errno;
		log_errno(__func__, r, "setgroups");
		return r;
	}
	if (setresgid(gid, gid, gid) < 0) {
		r = -errno;
		log_errno(__func__, r, "setresgid(%u)", (unsigned)gid);
		return r;
	}
	if (setresuid(uid, uid, uid) < 0) {
		r = -errno;
		log_errno(__func__, r, "setresuid(%u)", (unsigned)uid);
		return r;
	}
	/* The uid change cleared effective and permitted; clear inheritable too. */
	caps = cap_init();
	if (!caps) {
		r = -errno;
		log_errno(__func__, r, "cap_init");
		return r;
	}
	if (cap_set_proc(caps) < 0) {
		r = -errno;
		log_errno(__func__, r, "cap_set_proc");
		cap_free(caps);
		return r;
	}
	cap_free(caps);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		log_errno(__func__, r, "PR_SET_NO_NEW_PRIVS");
		return r;
	}
	return privdrop_verify(uid, gid);
}

int privdrop_verify(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg, groups[8];
	cap_t caps = NULL, empty = NULL;
	int n, r = -EPERM;

	if (getresuid(&ru, &eu, &su) < 0 || ru != uid || eu != uid || su != uid) {
		log_msg(__func__, "uids are %u/%u/%u, want %u", (unsigned)ru, (unsigned)eu,
			(unsigned)su, (unsigned)uid);
		goto out;
	}
	if (getresgid(&rg, &eg, &sg) < 0 || rg != gid || eg != gid || sg != gid) {
		log_msg(__func__, "gids are %u/%u/%u, want %u", (unsigned)rg, (unsigned)eg,
			(unsigned)sg, (unsigned)gid);
		goto out;
	}
	n = getgroups(8, groups);
	if (n < 0 || n > 1 || (n == 1 && groups[0] != gid)) {
		log_msg(__func__, "supplementary groups left: %d", n);
		goto out;
	}
	caps = cap_get_proc();
	empty = cap_init();
	if (!caps || !empty || cap_compare(caps, empty) != 0) {
		log_msg(__func__, "capabilities left in the process sets");
		goto out;
	}
	for (cap_value_t cap = 0; cap < cap_max_bits(); cap++) {
		if (cap_get_bound(cap) != 0) {
			log_msg(__func__, "capability %d left in the bounding set", (int)cap);
			goto out;
		}
	}
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
		log_msg(__func__, "NO_NEW_PRIVS is not set");
		goto out;
	}
	if (setuid(0) == 0 || seteuid(0) == 0) {
		log_msg(__func__, "setuid(0) succeeded after the drop");
		goto out;
	}
	r = 0;
out:
	cap_free(caps);
	cap_free(empty);
	return r;
}
