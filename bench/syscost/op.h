/*
 * Description: the operations syscost times: one syscall (or a pair that
 * must go together, like openat + close) issued directly with syscall(2),
 * so no libc caching or wrapper logic is measured.
 */
#ifndef SYSCOST_OP_H
#define SYSCOST_OP_H

#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum op_kind {
	OP_GETPPID,
	OP_GETPID,
	OP_OPENAT,        /* openat("/dev/null") + close */
	OP_SOCKET,        /* socket(AF_UNIX, SOCK_DGRAM) + close */
	OP_SENDTO,        /* 1-byte sendto on a unix stream socketpair */
	OP_CLOCK_GETTIME, /* clock_gettime(CLOCK_MONOTONIC) through the vDSO: a control */
	OP_COUNT,
};

struct op_desc {
	enum op_kind kind;
	const char *name;   /* command-line name */
	const char *what;   /* one iteration, in words */
	int nr[2];          /* the syscalls a filter sees, in order */
	unsigned nnr;       /* 1 or 2 */
	unsigned max_batch; /* iterations between untimed housekeeping */
	bool vdso;          /* normally served by the vDSO: no syscall, no filter */
};

const struct op_desc *op_get(enum op_kind kind);

/* The op called name, or NULL. */
const struct op_desc *op_find(const char *name);

struct op_state {
	int pair[2]; /* OP_SENDTO: the socketpair; -1 otherwise */
	unsigned failures; /* iterations whose syscall failed */
};

/* Prepares what the op needs before a filter is loaded (the socketpair).
 * Returns 0 or -errno. */
int op_setup(enum op_kind kind, struct op_state *st);

void op_teardown(struct op_state *st);

/* Runs n iterations; failed syscalls are counted in st->failures. Inline
 * loops per kind, so the timed code is the syscall and a compare. */
void op_run(enum op_kind kind, struct op_state *st, unsigned n);

/* Untimed work after a batch (drains the socketpair). Returns 0 or -errno. */
int op_after_batch(enum op_kind kind, struct op_state *st);

/*
 * What a seccomp filter sees for syscall i (0 or 1) of one iteration: nr,
 * arch and argument 0 as the op passes it. Returns 0, or -EINVAL when the
 * op has no syscall i.
 */
int op_seccomp_data(enum op_kind kind, unsigned i, struct seccomp_data *ret);

/* AUDIT_ARCH_* of the native architecture, as seccomp_data.arch holds it. */
uint32_t op_audit_arch(void);

#endif
