/*
 * Description: seccomp programs as classic BPF: exported from a libseccomp
 * context, run by a small interpreter that counts the instructions executed
 * (so the position of a syscall in a filter is measured, not assumed), and
 * checked the way the kernel's seccomp action cache (Linux 5.11+) decides
 * whether a syscall's verdict can be cached.
 */
#ifndef SYSCOST_BPF_H
#define SYSCOST_BPF_H

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bpf_prog {
	struct sock_filter *insns; /* owned; freed by bpf_prog_free */
	size_t len;
};

/*
 * Generates ctx's BPF with seccomp_export_bpf and copies it into *ret_prog
 * (the caller frees it with bpf_prog_free). Returns 0 or -errno; *ret_prog
 * is untouched on failure.
 */
int bpf_prog_export(const scmp_filter_ctx ctx, struct bpf_prog *ret_prog);

/* Copies len instructions into a new program. Returns 0 or -ENOMEM. */
int bpf_prog_from(const struct sock_filter *insns, size_t len, struct bpf_prog *ret_prog);

void bpf_prog_free(struct bpf_prog *prog);

/*
 * Runs a seccomp program on d like the kernel would (classic BPF: loads
 * from struct seccomp_data, scratch memory, ALU, jumps, returns). Stores
 * the returned action in *ret_action and the number of instructions
 * executed in *ret_steps (either may be NULL). Returns 0, or -EINVAL for a
 * program the kernel would reject at run time (a jump or load out of
 * range, falling off the end, too many steps).
 */
int bpf_run(const struct sock_filter *insns, size_t len, const struct seccomp_data *d,
	    uint32_t *ret_action, unsigned *ret_steps);

/*
 * Runs the program like bpf_run and stores in *ret_step the step at which
 * it first compared the syscall number (loaded from seccomp_data.nr) with
 * JEQ and found d->nr: where the syscall's own rule sits in the filter.
 * 0 when it never did. Returns 0 or -EINVAL like bpf_run.
 */
int bpf_match_step(const struct sock_filter *insns, size_t len, const struct seccomp_data *d,
		   unsigned *ret_step);

/*
 * Does the program return SECCOMP_RET_ALLOW for syscall nr on arch for
 * every argument value? This emulates the kernel's seccomp_is_const_allow
 * (kernel/seccomp.c): only loads of nr and arch are known, ALU AND, JA
 * and JEQ/JGE/JGT/JSET with a constant are followed; anything else (a
 * load of an argument or the instruction pointer) makes the verdict not
 * constant. When true for every filter of a stack, the kernel skips
 * running the filters for that syscall.
 */
bool bpf_const_allow(const struct sock_filter *insns, size_t len, int nr, uint32_t arch);

#endif
