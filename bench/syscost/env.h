/*
 * Description: what a syscost result must record about the machine and
 * the process it ran in (a sandbox's own filters add to every number).
 */
#ifndef SYSCOST_ENV_H
#define SYSCOST_ENV_H

#include <stdbool.h>

#include "bench/syscost/tsc.h"

struct env {
	char kernel[65];       /* uname release */
	char machine[65];
	char cpu_model[128];
	int cpus_online;
	int cpu;              /* pinned CPU, or -1 */
	struct tsc_info tsc;
	char libseccomp[32];  /* runtime library version */
	int syscall_table;    /* native syscalls libseccomp knows */
	int bpf_jit;          /* /proc/sys/net/core/bpf_jit_enable, -1 unknown */
	int seccomp_mode;     /* of this process before any test filter: 0, 1, 2; -1 unknown */
	int seccomp_filters;  /* filters already stacked on this process; -1 unknown */
	int no_new_privs;
	int vdso_clock_gettime; /* 1: clock_gettime needs no syscall; 0; -1 unknown */
	double loadavg_start, loadavg_end;
};

/* Fills *ret (TSC calibrated over calib_ms). Returns 0 or -errno. */
int env_probe(int cpu, unsigned calib_ms, struct env *ret);

/* The 1-minute load average, or -1. */
double env_loadavg(void);

#endif
