/*
 * Description: libFuzzer target for the seccomp BPF interpreter and the
 * action-cache emulation: the first 64 bytes are the seccomp_data, the
 * rest a program of 8-byte instructions.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bench/syscost/bpf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sock_filter insns[BPF_MAXINSNS];
	struct seccomp_data d;
	size_t len;
	uint32_t action;
	unsigned steps;

	if (size < sizeof(d))
		return 0;
	memcpy(&d, data, sizeof(d));
	len = (size - sizeof(d)) / sizeof(struct sock_filter);
	if (len > BPF_MAXINSNS)
		len = BPF_MAXINSNS;
	memcpy(insns, data + sizeof(d), len * sizeof(struct sock_filter));
	if (bpf_run(insns, len, &d, &action, &steps) == 0 && (steps == 0 || steps > len))
		__builtin_trap(); /* a loop-free program runs each instruction once at most */
	bpf_const_allow(insns, len, (int)d.nr, d.arch);
	return 0;
}
