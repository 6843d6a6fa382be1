//go:build !linux

package postgres

import (
	"testing"
	"time"
)

// cpuTime is zero where /proc is not there to read the server's part:
// the CPU ratios come out NaN.
func cpuTime(*testing.B, *DB) time.Duration { return 0 }
