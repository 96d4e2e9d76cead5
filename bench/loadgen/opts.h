/*
 * Description: loadgen's command line. Parses argv into a struct lg_opts
 * and checks every value and combination, so main.c only ever sees a
 * consistent configuration. Bad input yields a message and exit status 2.
 */
#ifndef BENCH_LOADGEN_OPTS_H
#define BENCH_LOADGEN_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/loadgen/cgcpu.h"
#include "bench/loadgen/engine.h"

#define OPTS_HEADERS_MAX 32
#define OPTS_CPUS_MAX 64
#define OPTS_REQUEST_MAX 8192
#define OPTS_NETNS_TEXT 4096 /* the --netns paths, all together */

struct lg_opts {
	struct lg_config cfg;
	bool json;
	bool help;
	int ncpus;
	int cpus[OPTS_CPUS_MAX];
	const char *headers[OPTS_HEADERS_MAX];
	int nheaders;
	/*
	 * --cgroup: the servers' cgroup directories, for their CPU time. Given
	 * once per URL in order (DIR or DIR,DIR,... summed for that target); with
	 * one URL every --cgroup is that target's.
	 */
	const char *cgroups[CGCPU_MAX];
	uint32_t cgroup_target[CGCPU_MAX];
	int ncgroups;
	char cgroup_text[CGCPU_MAX * 512]; /* the split --cgroup values, NUL-separated */
	/*
	 * --netns: one network namespace file per URL, in order, however the
	 * entries are spread over the options (--netns A --netns B, or
	 * --netns A,B); an empty entry is loadgen's own namespace. Set as
	 * cfg.target[i].netns, pointing into netns_text.
	 */
	char netns_text[OPTS_NETNS_TEXT];
	/* one copy per target; the pipelined copies are made in main */
	char request[LG_TARGETS_MAX][OPTS_REQUEST_MAX * 2];
};

/*
 * Parses argv. Returns 0, or -EINVAL after writing a one-line reason into
 * err (size bytes). Does not resolve the host.
 */
int opts_parse(struct lg_opts *o, int argc, char **argv, char *err, int size);

/* Parses a duration: "10", "10s", "500ms", "2m", "1h" into seconds. -EINVAL if bad. */
int opts_duration(const char *s, double *ret);

/* Builds target t's request line and headers into o->request[t]. 0 or -EINVAL. */
int opts_build_request(struct lg_opts *o, uint32_t t, char *err, int size);

/* Prints --help. */
void opts_usage(FILE *f);

#endif
