/*
 * Description: the CPU's time-stamp counter, read in order with the
 * surrounding code, and its rate against CLOCK_MONOTONIC_RAW.
 */
#ifndef SYSCOST_TSC_H
#define SYSCOST_TSC_H

#include <stdbool.h>
#include <stdint.h>

struct tsc_info {
	bool present;   /* the CPU has a TSC we can read (x86 only) */
	bool constant;  /* cpuinfo flag constant_tsc: fixed rate across P-states */
	bool nonstop;   /* cpuinfo flag nonstop_tsc: keeps counting in C-states */
	bool invariant; /* constant && nonstop: ticks are comparable over time */
	double ticks_per_ns; /* calibrated; 0 when not present */
};

/*
 * Reads the TSC with LFENCE on both sides, so that earlier instructions
 * have completed before it is read and later ones do not start before it
 * (RDTSCP is not available on every virtual CPU). Returns 0 where there
 * is no TSC.
 */
static inline uint64_t tsc_read(void)
{
#if defined(__x86_64__) || defined(__i386__)
	uint32_t lo, hi;

	__asm__ __volatile__("lfence\n\trdtsc\n\tlfence" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
#else
	return 0;
#endif
}

/*
 * Fills *ret_info from the cpuinfo text (the flags line of the first
 * processor) and, when a TSC is present, calibrates ticks per ns against
 * CLOCK_MONOTONIC_RAW over about calib_ms milliseconds (the median of five
 * slices). cpuinfo may be NULL to read /proc/cpuinfo; when that cannot be
 * read (a sandbox hiding it) the TSC counts as absent. Returns 0.
 */
int tsc_probe(const char *cpuinfo, unsigned calib_ms, struct tsc_info *ret_info);

/* Parses the first "flags" line of cpuinfo text; exposed for the tests. */
void tsc_parse_flags(const char *cpuinfo, struct tsc_info *info);

/* Nanoseconds of CLOCK_MONOTONIC_RAW. */
uint64_t tsc_now_ns(void);

#endif
