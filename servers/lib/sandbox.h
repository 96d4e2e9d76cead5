/*
 * Description: the servers' own seccomp allow-list (--seccomp), installed
 * once start-up is done, the way OpenBSD programs pledge: after it, only the
 * syscalls serving needs are allowed and any other kills the process
 * (SIGSYS, visible in the journal and the audit log).
 */
#ifndef SERVERS_SANDBOX_H
#define SERVERS_SANDBOX_H

/*
 * Installs the filter on every thread of the process (TSYNC). Returns 0 or
 * -errno after logging why. Sets NO_NEW_PRIVS as seccomp requires.
 */
int sandbox_seccomp(void);

/* The names of the allowed syscalls, NULL-terminated (for tests and docs). */
extern const char *const sandbox_allowed[];

#endif
