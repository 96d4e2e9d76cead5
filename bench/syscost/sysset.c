/*
 * Description: parsing and expanding systemd's syscall sets.
 */
#include "bench/syscost/sysset.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYSSET_MAX_DEPTH 16
#define SYSSET_MAX_OUTPUT (1u << 20)

/*
 * systemd 252's @system-service (src/shared/seccomp-util.c, the
 * syscall_filter_sets table), expanded with every set it includes, as
 * `systemd-analyze syscall-filter @system-service` lists it on x86_64
 * Debian 12. Names of other architectures are included; they are skipped
 * when the filter is built, as systemd skips them.
 */
static const char *const builtin_system_service[] = {
	"_llseek",
	"_newselect",
	"accept",
	"accept4",
	"access",
	"add_key",
	"alarm",
	"arch_prctl",
	"arm_fadvise64_64",
	"bind",
	"brk",
	"cacheflush",
	"capget",
	"capset",
	"chdir",
	"chmod",
	"chown",
	"chown32",
	"clock_getres",
	"clock_getres_time64",
	"clock_gettime",
	"clock_gettime64",
	"clock_nanosleep",
	"clock_nanosleep_time64",
	"clone",
	"clone3",
	"close",
	"close_range",
	"connect",
	"copy_file_range",
	"creat",
	"dup",
	"dup2",
	"dup3",
	"epoll_create",
	"epoll_create1",
	"epoll_ctl",
	"epoll_ctl_old",
	"epoll_pwait",
	"epoll_pwait2",
	"epoll_wait",
	"epoll_wait_old",
	"eventfd",
	"eventfd2",
	"execve",
	"execveat",
	"exit",
	"exit_group",
	"faccessat",
	"faccessat2",
	"fadvise64",
	"fadvise64_64",
	"fallocate",
	"fchdir",
	"fchmod",
	"fchmodat",
	"fchmodat2",
	"fchown",
	"fchown32",
	"fchownat",
	"fcntl",
	"fcntl64",
	"fdatasync",
	"fgetxattr",
	"flistxattr",
	"flock",
	"fork",
	"fremovexattr",
	"fsetxattr",
	"fstat",
	"fstat64",
	"fstatat64",
	"fstatfs",
	"fstatfs64",
	"fsync",
	"ftruncate",
	"ftruncate64",
	"futex",
	"futex_time64",
	"futex_waitv",
	"futimesat",
	"get_mempolicy",
	"get_robust_list",
	"get_thread_area",
	"getcpu",
	"getcwd",
	"getdents",
	"getdents64",
	"getegid",
	"getegid32",
	"geteuid",
	"geteuid32",
	"getgid",
	"getgid32",
	"getgroups",
	"getgroups32",
	"getitimer",
	"getpeername",
	"getpgid",
	"getpgrp",
	"getpid",
	"getppid",
	"getpriority",
	"getrandom",
	"getresgid",
	"getresgid32",
	"getresuid",
	"getresuid32",
	"getrlimit",
	"getrusage",
	"getsid",
	"getsockname",
	"getsockopt",
	"gettid",
	"gettimeofday",
	"getuid",
	"getuid32",
	"getxattr",
	"inotify_add_watch",
	"inotify_init",
	"inotify_init1",
	"inotify_rm_watch",
	"io_cancel",
	"io_destroy",
	"io_getevents",
	"io_pgetevents",
	"io_pgetevents_time64",
	"io_setup",
	"io_submit",
	"io_uring_enter",
	"io_uring_register",
	"io_uring_setup",
	"ioctl",
	"ioprio_get",
	"ioprio_set",
	"ipc",
	"kcmp",
	"keyctl",
	"kill",
	"lchown",
	"lchown32",
	"lgetxattr",
	"link",
	"linkat",
	"listen",
	"listxattr",
	"llistxattr",
	"lremovexattr",
	"lseek",
	"lsetxattr",
	"lstat",
	"lstat64",
	"madvise",
	"mbind",
	"membarrier",
	"memfd_create",
	"migrate_pages",
	"mkdir",
	"mkdirat",
	"mknod",
	"mknodat",
	"mlock",
	"mlock2",
	"mlockall",
	"mmap",
	"mmap2",
	"move_pages",
	"mprotect",
	"mq_getsetattr",
	"mq_notify",
	"mq_open",
	"mq_timedreceive",
	"mq_timedreceive_time64",
	"mq_timedsend",
	"mq_timedsend_time64",
	"mq_unlink",
	"mremap",
	"msgctl",
	"msgget",
	"msgrcv",
	"msgsnd",
	"msync",
	"munlock",
	"munlockall",
	"munmap",
	"name_to_handle_at",
	"nanosleep",
	"newfstatat",
	"nice",
	"oldfstat",
	"oldlstat",
	"oldolduname",
	"oldstat",
	"olduname",
	"open",
	"openat",
	"openat2",
	"pause",
	"personality",
	"pidfd_open",
	"pidfd_send_signal",
	"pipe",
	"pipe2",
	"poll",
	"ppoll",
	"ppoll_time64",
	"prctl",
	"pread64",
	"preadv",
	"preadv2",
	"prlimit64",
	"process_madvise",
	"process_vm_readv",
	"process_vm_writev",
	"pselect6",
	"pselect6_time64",
	"pwrite64",
	"pwritev",
	"pwritev2",
	"read",
	"readahead",
	"readdir",
	"readlink",
	"readlinkat",
	"readv",
	"recv",
	"recvfrom",
	"recvmmsg",
	"recvmmsg_time64",
	"recvmsg",
	"remap_file_pages",
	"removexattr",
	"rename",
	"renameat",
	"renameat2",
	"request_key",
	"restart_syscall",
	"riscv_flush_icache",
	"riscv_hwprobe",
	"rmdir",
	"rseq",
	"rt_sigaction",
	"rt_sigpending",
	"rt_sigprocmask",
	"rt_sigqueueinfo",
	"rt_sigreturn",
	"rt_sigsuspend",
	"rt_sigtimedwait",
	"rt_sigtimedwait_time64",
	"rt_tgsigqueueinfo",
	"sched_get_priority_max",
	"sched_get_priority_min",
	"sched_getaffinity",
	"sched_getattr",
	"sched_getparam",
	"sched_getscheduler",
	"sched_rr_get_interval",
	"sched_rr_get_interval_time64",
	"sched_setaffinity",
	"sched_setattr",
	"sched_setparam",
	"sched_setscheduler",
	"sched_yield",
	"select",
	"semctl",
	"semget",
	"semop",
	"semtimedop",
	"semtimedop_time64",
	"send",
	"sendfile",
	"sendfile64",
	"sendmmsg",
	"sendmsg",
	"sendto",
	"set_mempolicy",
	"set_mempolicy_home_node",
	"set_robust_list",
	"set_thread_area",
	"set_tid_address",
	"set_tls",
	"setfsgid",
	"setfsgid32",
	"setfsuid",
	"setfsuid32",
	"setgid",
	"setgid32",
	"setgroups",
	"setgroups32",
	"setitimer",
	"setns",
	"setpgid",
	"setpriority",
	"setregid",
	"setregid32",
	"setresgid",
	"setresgid32",
	"setresuid",
	"setresuid32",
	"setreuid",
	"setreuid32",
	"setrlimit",
	"setsid",
	"setsockopt",
	"setuid",
	"setuid32",
	"setxattr",
	"shmat",
	"shmctl",
	"shmdt",
	"shmget",
	"shutdown",
	"sigaction",
	"sigaltstack",
	"signal",
	"signalfd",
	"signalfd4",
	"sigpending",
	"sigprocmask",
	"sigreturn",
	"sigsuspend",
	"socket",
	"socketcall",
	"socketpair",
	"splice",
	"stat",
	"stat64",
	"statfs",
	"statfs64",
	"statx",
	"swapcontext",
	"symlink",
	"symlinkat",
	"sync",
	"sync_file_range",
	"sync_file_range2",
	"syncfs",
	"sysinfo",
	"tee",
	"tgkill",
	"time",
	"timer_create",
	"timer_delete",
	"timer_getoverrun",
	"timer_gettime",
	"timer_gettime64",
	"timer_settime",
	"timer_settime64",
	"timerfd_create",
	"timerfd_gettime",
	"timerfd_gettime64",
	"timerfd_settime",
	"timerfd_settime64",
	"times",
	"tkill",
	"truncate",
	"truncate64",
	"ugetrlimit",
	"umask",
	"uname",
	"unlink",
	"unlinkat",
	"unshare",
	"uretprobe",
	"userfaultfd",
	"utime",
	"utimensat",
	"utimensat_time64",
	"utimes",
	"vfork",
	"vmsplice",
	"wait4",
	"waitid",
	"waitpid",
	"write",
	"writev",
};

struct span {
	const char *p;
	size_t len;
};

static bool span_eq(struct span a, const char *s, size_t len)
{
	return a.len == len && memcmp(a.p, s, len) == 0;
}

/* Finds the line "@set" in column 0; *ret_body gets the text after it. */
static int find_set(const char *text, size_t len, struct span set, size_t *ret_body)
{
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - text) : len, w = i;

		while (w < end && text[w] != ' ' && text[w] != '\t' && text[w] != '\r')
			w++;
		if (text[i] == '@' && span_eq(set, text + i, w - i)) {
			*ret_body = nl ? end + 1 : len;
			return 0;
		}
		i = end + 1;
	}
	return -ENOENT;
}

static int add_name(struct sysset *s, size_t *cap, struct span name)
{
	char *copy;

	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->names[i]) == name.len && memcmp(s->names[i], name.p, name.len) == 0)
			return 0;
	if (s->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		char **nn = realloc(s->names, ncap * sizeof(*nn));

		if (!nn)
			return -ENOMEM;
		s->names = nn;
		*cap = ncap;
	}
	copy = strndup(name.p, name.len);
	if (!copy)
		return -ENOMEM;
	s->names[s->n++] = copy;
	return 0;
}

static int expand(const char *text, size_t len, struct span set, unsigned depth, struct sysset *s,
		  size_t *cap)
{
	size_t i;
	int r;

	if (depth > SYSSET_MAX_DEPTH)
		return -ELOOP;
	r = find_set(text, len, set, &i);
	if (r < 0)
		return r;
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - text) : len, b = i, e;

		if (text[i] != ' ' && text[i] != '\t')
			break; /* the next set, a blank line or a comment in column 0 */
		while (b < end && (text[b] == ' ' || text[b] == '\t'))
			b++;
		e = b;
		while (e < end && text[e] != ' ' && text[e] != '\t' && text[e] != '\r')
			e++;
		if (e > b && text[b] != '#') {
			struct span item = {text + b, e - b};

			r = text[b] == '@' ? expand(text, len, item, depth + 1, s, cap)
					   : add_name(s, cap, item);
			if (r < 0)
				return r;
		}
		i = end + 1;
	}
	return 0;
}

void sysset_free(struct sysset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	s->names = NULL;
	s->n = 0;
}

int sysset_parse(const char *text, size_t len, const char *set, struct sysset *ret)
{
	struct sysset s = {0};
	size_t cap = 0;
	int r;

	if (!text || !set || set[0] != '@')
		return -EINVAL;
	r = expand(text, len, (struct span){set, strlen(set)}, 0, &s, &cap);
	if (r < 0) {
		sysset_free(&s);
		return r;
	}
	*ret = s;
	return 0;
}

int sysset_from_systemd(const char *set, struct sysset *ret)
{
	FILE *p = popen("systemd-analyze syscall-filter 2>/dev/null", "re");
	char *buf = NULL;
	size_t len = 0;
	int r, st;

	if (!p)
		return -ENOENT;
	buf = malloc(SYSSET_MAX_OUTPUT);
	if (!buf) {
		pclose(p);
		return -ENOMEM;
	}
	for (;;) {
		size_t n = fread(buf + len, 1, SYSSET_MAX_OUTPUT - len, p);

		if (n == 0)
			break;
		len += n;
		if (len == SYSSET_MAX_OUTPUT)
			break;
	}
	st = pclose(p);
	if (st != 0 || len == 0 || len == SYSSET_MAX_OUTPUT)
		r = -ENOENT;
	else
		r = sysset_parse(buf, len, set, ret);
	free(buf);
	return r;
}

int sysset_builtin_system_service(struct sysset *ret)
{
	size_t n = sizeof(builtin_system_service) / sizeof(builtin_system_service[0]);
	struct sysset s = {0};
	size_t cap = 0;

	for (size_t i = 0; i < n; i++) {
		struct span name = {builtin_system_service[i], strlen(builtin_system_service[i])};

		if (add_name(&s, &cap, name) < 0) {
			sysset_free(&s);
			return -ENOMEM;
		}
	}
	*ret = s;
	return 0;
}
