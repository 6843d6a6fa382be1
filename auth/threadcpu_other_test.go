//go:build !linux

package auth_test

import "time"

// threadCPU is zero where Linux's per-thread CPU clock is not there: the
// CPU-time ratios then read NaN and only the wall-clock ones count.
func threadCPU() time.Duration { return 0 }
