/*
 * Description: the version every sandbench program prints with --version.
 * The string is `git describe --always --dirty` of the tree it was built
 * from, or the release number in debian/changelog when the tree is not a git
 * checkout (a tarball, a package build): make writes it into
 * build/version.c, which is linked into every program and rewritten only
 * when it changes.
 */
#ifndef COMMON_VERSION_H
#define COMMON_VERSION_H

#include <stdio.h>
#include <string.h>

extern const char sandbench_version[];

/*
 * When an argument before a lone "--" is --version, prints "PROG VERSION" on
 * stdout and returns 1; otherwise 0. Checked before any other argument, so
 * `PROG --version` works whatever else is (or is not) on the command line.
 */
static inline int version_requested(int argc, char **argv, const char *prog)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--version") == 0) {
			printf("%s %s\n", prog, sandbench_version);
			return 1;
		}
	}
	return 0;
}

#endif
