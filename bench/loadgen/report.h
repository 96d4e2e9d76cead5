/*
 * Description: loadgen's two outputs: a wrk-like human summary and the one
 * JSON object of schema "sandbench-loadgen/1" documented in bench/README.md.
 */
#ifndef BENCH_LOADGEN_REPORT_H
#define BENCH_LOADGEN_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "bench/loadgen/cgcpu.h"
#include "bench/loadgen/engine.h"

struct lg_report {
	const struct lg_config *cfg;
	const struct lg_stats *st;     /* merged over the threads */
	struct lg_features feat;       /* what every thread got (AND over threads) */
	double duration_s;             /* measured seconds */
	double user_s, sys_s;          /* generator CPU time while measuring */
	struct lg_thread_cpu threads_cpu; /* the load threads' own, summed */
	struct lg_thread_cpu target_cpu[LG_TARGETS_MAX]; /* thread_per_target: target i's thread */
	bool interrupted;              /* SIGINT/SIGTERM ended the run */
	uint32_t timeline_len;         /* entries of st->timeline to print */
	bool server_cpu;               /* --cgroup given and read at both edges */
	uint64_t server_cpu_usec;      /* the server cgroups' CPU time while measuring */
	uint32_t ntargets;             /* URLs; with more than one, "targets" is printed */
	const struct lg_stats *target_st[LG_TARGETS_MAX];
	uint64_t target_cpu_usec[LG_TARGETS_MAX]; /* each target's cgroups, summed */
	int ncgroups;                  /* cgroups read (0 unless server_cpu) */
	bool wakeups;                  /* their threads' switches read at both edges */
	struct cgcpu_wake server_wake; /* the cgroups' context switches while measuring */
	struct cgcpu_wake target_wake[LG_TARGETS_MAX]; /* each target's cgroups, summed */
	struct {
		const char *path;
		uint32_t target;
		uint64_t usec;
		struct cgcpu_wake wake;
	} cgroup[CGCPU_MAX];
};

/* The mode's name in the JSON: closed, open, close or resume. */
const char *report_mode(const struct lg_config *cfg);

/* Prints exactly one JSON object and a newline. */
void report_json(FILE *f, const struct lg_report *r);

/* Prints the human summary. */
void report_text(FILE *f, const struct lg_report *r);

#endif
