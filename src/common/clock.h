/* SPDX-License-Identifier: Apache-2.0 */
/* Monotonic time for deadlines and phase timings. */
#ifndef LG_COMMON_CLOCK_H
#define LG_COMMON_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t lg_now_ns(void);
/* Milliseconds from now until deadline_ns for poll(): 0 if past. */
int lg_ms_until(uint64_t deadline_ns);

#endif
