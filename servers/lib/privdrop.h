/*
 * Description: dropping root for good, the way a daemon that binds :443 and
 * reads a root-only key must: supplementary groups, gid, uid (all three of
 * real/effective/saved), read back and verified; every capability cleared
 * from the effective, permitted, inheritable and ambient sets and from the
 * bounding set (libcap); PR_SET_NO_NEW_PRIVS.
 */
#ifndef SERVERS_PRIVDROP_H
#define SERVERS_PRIVDROP_H

#include <sys/types.h>

/* Looks up user NAME: its uid and primary gid. Returns 0 or -ENOENT/-errno. */
int privdrop_lookup(const char *name, uid_t *ret_uid, gid_t *ret_gid);

/*
 * Drops to uid/gid as described above. Must run as root (CAP_SETUID,
 * CAP_SETGID, CAP_SETPCAP) before any thread is started: capability sets are
 * per thread. Returns 0, or -errno after logging which step failed; the
 * caller must then exit, the process may be half-dropped.
 */
int privdrop_to(uid_t uid, gid_t gid);

/*
 * Checks the current thread holds no privilege: every uid == uid, every gid
 * == gid, groups == { gid }, no capability in any set or the bounding set,
 * NO_NEW_PRIVS set, setuid(0) fails. Returns 0 or -EPERM after logging what
 * is wrong.
 */
int privdrop_verify(uid_t uid, gid_t gid);

#endif
