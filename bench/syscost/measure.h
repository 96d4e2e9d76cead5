/*
 * Description: timing one configuration. Every run happens in a forked
 * child that loads its filters (seccomp filters can never be removed, so
 * each configuration starts from a clean process), sets NO_NEW_PRIVS,
 * times batches of the op and hands the per-call costs back through a
 * shared mapping. The parent's CPU affinity is inherited.
 */
#ifndef SYSCOST_MEASURE_H
#define SYSCOST_MEASURE_H

#include <stdbool.h>
#include <stddef.h>

#include "bench/syscost/bpf.h"
#include "bench/syscost/op.h"

struct measure_spec {
	enum op_kind op;
	const struct bpf_prog *prog; /* NULL: no filter */
	unsigned nfilters;           /* prog is loaded this many times (stacked) */
	unsigned batches;            /* timed batches */
	unsigned batch_size;         /* iterations per batch */
	unsigned warmup;             /* untimed batches first */
	bool use_tsc;
};

/*
 * Runs spec in a child; per timed batch, ret_ns[b] gets nanoseconds per
 * iteration (CLOCK_MONOTONIC_RAW) and ret_ticks[b] TSC ticks per iteration
 * (0 when !use_tsc). Both arrays hold spec->batches values. Returns 0,
 * -EPERM when loading the filter failed, -EIO when an iteration failed
 * (the filter denied the op), -ECHILD when the child died, or -errno.
 */
int measure_run(const struct measure_spec *spec, double *ret_ns, double *ret_ticks);

struct measure_build {
	double build_us;  /* seccomp_init + every seccomp_rule_add */
	double load_us;   /* seccomp_load: BPF generation + the kernel's install */
	double kernel_us; /* the kernel's install alone, of the pre-generated BPF */
	double export_us; /* seccomp_export_bpf alone: libseccomp's BPF generation */
};

/*
 * Builds and loads an allow-list of the n syscall names (filter_allow_names)
 * in a fresh child, then loads prog (the same filter, pre-generated) in a
 * second fresh child to time the kernel part alone. Returns 0 or -errno.
 */
int measure_build_load(const char *const *names, size_t n, bool tree, const struct bpf_prog *prog,
		       struct measure_build *ret);

/*
 * Ends a forked child at once with exit_group(2), past libc's and the
 * sanitizers' _exit hooks (a leak check at exit needs syscalls the
 * child's filter may deny). Deliberately not declared noreturn: ASan
 * instruments calls to noreturn functions with a stack check that calls
 * sigaltstack(2), which an allow-list filter denies. It never returns.
 */
void measure_child_exit(int status);

/* Loads prog with NO_NEW_PRIVS in the calling process. Returns 0 or -errno. */
int measure_install(const struct bpf_prog *prog);

#endif
