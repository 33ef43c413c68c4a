/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Non-fatal checks for the VMM test programs: each failed check prints
 * where and what, counts into `failures`, and the test goes on.
 */
#ifndef LG_TESTS_VMM_CHECK_H
#define LG_TESTS_VMM_CHECK_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

static int failures;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			failures++;                                            \
		}                                                              \
	} while (0)

#define CHECK_EQ(a, b)                                                         \
	do {                                                                   \
		uint64_t a_ = (a), b_ = (b);                                   \
		if (a_ != b_) {                                                \
			fprintf(stderr,                                        \
				"%s:%d: %s == %#" PRIx64 ", want %#" PRIx64    \
				"\n",                                          \
				__FILE__, __LINE__, #a, a_, b_);               \
			failures++;                                            \
		}                                                              \
	} while (0)

#endif
