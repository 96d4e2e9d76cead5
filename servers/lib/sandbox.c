/*
 * Description: the seccomp allow-list. Names are resolved by libseccomp for
 * the native architecture; a name the architecture lacks is skipped.
 */
#include "servers/lib/sandbox.h"

#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>

#include <seccomp.h>

#include "servers/lib/log.h"

const char *const sandbox_allowed[] = {
	/* serving */
	"read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg",
	"accept4", "accept", "close", "shutdown", "setsockopt", "getsockopt", "getsockname",
	"getpeername", "epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl",
	/* /file/: openat on the content directory, fstat, pread */
	"openat", "fstat", "newfstatat", "statx", "pread64", "lseek", "fcntl",
	/* memory, threads, time, randomness (OpenSSL) */
	"mmap", "munmap", "mremap", "mprotect", "madvise", "brk", "futex", "clock_gettime",
	"clock_nanosleep", "nanosleep", "gettimeofday", "getrandom", "sched_yield", "rseq",
	"set_robust_list", "getpid", "gettid",
	/* signals and exit; sd_notify(STOPPING=1) needs socket(AF_UNIX), allowed below */
	"rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "sigaltstack", "restart_syscall",
	"tgkill", "exit", "exit_group", "connect",
	NULL,
};

int sandbox_seccomp(void)
{
	scmp_filter_ctx ctx;
	int r;

	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx) {
		log_msg(__func__, "seccomp_init failed");
		return -ENOMEM;
	}
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (r < 0) {
		log_errno(__func__, r, "TSYNC");
		goto out;
	}
	for (const char *const *name = sandbox_allowed; *name; name++) {
		int nr = seccomp_syscall_resolve_name(*name);

		if (nr == __NR_SCMP_ERROR)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r < 0) {
			log_errno(__func__, r, "allow %s", *name);
			goto out;
		}
	}
	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
			     SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	if (r < 0) {
		log_errno(__func__, r, "allow socket(AF_UNIX)");
		goto out;
	}
	r = seccomp_load(ctx);
	if (r < 0)
		log_errno(__func__, r, "seccomp_load");
out:
	seccomp_release(ctx);
	return r;
}
