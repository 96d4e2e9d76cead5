/*
 * Description: export, interpret and analyse seccomp classic BPF.
 */
#include "bench/syscost/bpf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The kernel caps one filter at BPF_MAXINSNS; a loop-free program never
 * executes more instructions than it has. */
#define BPF_RUN_MAX_STEPS BPF_MAXINSNS

int bpf_prog_from(const struct sock_filter *insns, size_t len, struct bpf_prog *ret_prog)
{
	struct sock_filter *copy;

	if (len == 0)
		return -EINVAL;
	copy = malloc(len * sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, insns, len * sizeof(*copy));
	ret_prog->insns = copy;
	ret_prog->len = len;
	return 0;
}

int bpf_prog_export(const scmp_filter_ctx ctx, struct bpf_prog *ret_prog)
{
	struct sock_filter *insns = NULL;
	off_t size;
	int fd, r;

	/* libseccomp 2.5 exports only to a file descriptor. */
	fd = memfd_create("syscost-bpf", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		goto out;
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || size % (off_t)sizeof(struct sock_filter) != 0) {
		r = -EIO;
		goto out;
	}
	insns = malloc((size_t)size);
	if (!insns) {
		r = -ENOMEM;
		goto out;
	}
	if (pread(fd, insns, (size_t)size, 0) != size) {
		r = -EIO;
		goto out;
	}
	ret_prog->insns = insns;
	ret_prog->len = (size_t)size / sizeof(struct sock_filter);
	insns = NULL;
	r = 0;
out:
	free(insns);
	close(fd);
	return r;
}

void bpf_prog_free(struct bpf_prog *prog)
{
	free(prog->insns);
	prog->insns = NULL;
	prog->len = 0;
}

/* Jump target check: the kernel's checker rejects programs with jumps
 * out of range; we report them instead of reading past the end. */
static int jump(size_t pc, size_t len, uint32_t off, size_t *ret_pc)
{
	size_t next = pc + 1 + off;

	if (next >= len || next < pc)
		return -EINVAL;
	*ret_pc = next;
	return 0;
}

/* The interpreter; *ret_match (may be NULL) gets the step at which a
 * JEQ found A, loaded from seccomp_data.nr, equal to d->nr (0: never). */
static int run(const struct sock_filter *insns, size_t len, const struct seccomp_data *d,
	       uint32_t *ret_action, unsigned *ret_steps, unsigned *ret_match)
{
	uint32_t A = 0, X = 0, mem[BPF_MEMWORDS] = {0};
	unsigned steps = 0, match = 0;
	bool a_is_nr = false;
	size_t pc = 0;

	if (len == 0 || len > BPF_MAXINSNS)
		return -EINVAL;
	while (pc < len) {
		const struct sock_filter *f = &insns[pc];
		uint32_t src, k = f->k;
		bool cond;

		if (++steps > BPF_RUN_MAX_STEPS)
			return -EINVAL;
		switch (BPF_CLASS(f->code)) {
		case BPF_LD:
			if (f->code == (BPF_LD | BPF_W | BPF_ABS)) {
				if (k % 4 != 0 || k > sizeof(*d) - 4)
					return -EINVAL;
				memcpy(&A, (const char *)d + k, 4);
				a_is_nr = k == offsetof(struct seccomp_data, nr);
				pc++;
				break;
			} else if (f->code == (BPF_LD | BPF_W | BPF_LEN)) {
				A = sizeof(*d);
			} else if (f->code == (BPF_LD | BPF_IMM)) {
				A = k;
			} else if (f->code == (BPF_LD | BPF_MEM)) {
				if (k >= BPF_MEMWORDS)
					return -EINVAL;
				A = mem[k];
			} else {
				return -EINVAL;
			}
			a_is_nr = false;
			pc++;
			break;
		case BPF_LDX:
			if (f->code == (BPF_LDX | BPF_W | BPF_LEN)) {
				X = sizeof(*d);
			} else if (f->code == (BPF_LDX | BPF_IMM)) {
				X = k;
			} else if (f->code == (BPF_LDX | BPF_MEM)) {
				if (k >= BPF_MEMWORDS)
					return -EINVAL;
				X = mem[k];
			} else {
				return -EINVAL;
			}
			pc++;
			break;
		case BPF_ST:
		case BPF_STX:
			if (k >= BPF_MEMWORDS)
				return -EINVAL;
			mem[k] = BPF_CLASS(f->code) == BPF_ST ? A : X;
			pc++;
			break;
		case BPF_ALU:
			a_is_nr = false;
			src = BPF_SRC(f->code) == BPF_X ? X : k;
			switch (BPF_OP(f->code)) {
			case BPF_ADD: A += src; break;
			case BPF_SUB: A -= src; break;
			case BPF_MUL: A *= src; break;
			case BPF_DIV:
				if (src == 0)
					return -EINVAL;
				A /= src;
				break;
			case BPF_MOD:
				if (src == 0)
					return -EINVAL;
				A %= src;
				break;
			case BPF_AND: A &= src; break;
			case BPF_OR: A |= src; break;
			case BPF_XOR: A ^= src; break;
			case BPF_LSH: A = src < 32 ? A << src : 0; break;
			case BPF_RSH: A = src < 32 ? A >> src : 0; break;
			case BPF_NEG: A = (uint32_t)-A; break;
			default: return -EINVAL;
			}
			pc++;
			break;
		case BPF_JMP:
			if (BPF_OP(f->code) == BPF_JA) {
				if (jump(pc, len, k, &pc) < 0)
					return -EINVAL;
				break;
			}
			src = BPF_SRC(f->code) == BPF_X ? X : k;
			switch (BPF_OP(f->code)) {
			case BPF_JEQ: cond = A == src; break;
			case BPF_JGT: cond = A > src; break;
			case BPF_JGE: cond = A >= src; break;
			case BPF_JSET: cond = (A & src) != 0; break;
			default: return -EINVAL;
			}
			if (cond && !match && a_is_nr && BPF_OP(f->code) == BPF_JEQ &&
			    src == (uint32_t)d->nr)
				match = steps;
			if (jump(pc, len, cond ? f->jt : f->jf, &pc) < 0)
				return -EINVAL;
			break;
		case BPF_RET:
			if (BPF_RVAL(f->code) == BPF_K)
				A = k;
			else if (BPF_RVAL(f->code) != BPF_A)
				return -EINVAL;
			if (ret_action)
				*ret_action = A;
			if (ret_steps)
				*ret_steps = steps;
			if (ret_match)
				*ret_match = match;
			return 0;
		case BPF_MISC:
			if (BPF_MISCOP(f->code) == BPF_TAX) {
				X = A;
			} else {
				A = X;
				a_is_nr = false;
			}
			pc++;
			break;
		default:
			return -EINVAL;
		}
	}
	return -EINVAL;
}

int bpf_run(const struct sock_filter *insns, size_t len, const struct seccomp_data *d,
	    uint32_t *ret_action, unsigned *ret_steps)
{
	return run(insns, len, d, ret_action, ret_steps, NULL);
}

int bpf_match_step(const struct sock_filter *insns, size_t len, const struct seccomp_data *d,
		   unsigned *ret_step)
{
	return run(insns, len, d, NULL, NULL, ret_step);
}

bool bpf_const_allow(const struct sock_filter *insns, size_t len, int nr, uint32_t arch)
{
	uint32_t A = 0;
	size_t pc = 0;
	unsigned steps = 0;

	while (pc < len && ++steps <= BPF_RUN_MAX_STEPS) {
		const struct sock_filter *f = &insns[pc];
		uint32_t k = f->k;
		bool cond;

		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (k == offsetof(struct seccomp_data, nr))
				A = (uint32_t)nr;
			else if (k == offsetof(struct seccomp_data, arch))
				A = arch;
			else
				return false; /* an argument or the instruction pointer */
			pc++;
			break;
		case BPF_RET | BPF_K:
			return k == SECCOMP_RET_ALLOW;
		case BPF_JMP | BPF_JA:
			if (jump(pc, len, k, &pc) < 0)
				return false;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
		case BPF_JMP | BPF_JGE | BPF_K:
		case BPF_JMP | BPF_JGT | BPF_K:
		case BPF_JMP | BPF_JSET | BPF_K:
			switch (BPF_OP(f->code)) {
			case BPF_JEQ: cond = A == k; break;
			case BPF_JGE: cond = A >= k; break;
			case BPF_JGT: cond = A > k; break;
			default: cond = (A & k) != 0; break;
			}
			if (jump(pc, len, cond ? f->jt : f->jf, &pc) < 0)
				return false;
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			A &= k;
			pc++;
			break;
		default:
			return false;
		}
	}
	return false;
}
