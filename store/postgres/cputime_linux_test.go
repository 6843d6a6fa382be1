package postgres

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time used so far by this process and by the server
// processes of db's idle connections (all of them, between the sides of
// a benchmark), read from /proc: the server runs on the same machine.
// Linux only; where /proc cannot be read, the server's part is left out.
func cpuTime(b *testing.B, db *DB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	total := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	for _, c := range db.pool.AcquireAllIdle(context.Background()) {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(int(c.Conn().PgConn().PID())) + "/stat")
		c.Release()
		if err != nil {
			continue
		}
		// After the command's closing parenthesis: fields 3 on; utime
		// and stime are fields 14 and 15, in clock ticks (100 a second).
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		for _, v := range f[11:13] {
			ticks, _ := strconv.ParseInt(v, 10, 64)
			total += time.Duration(ticks) * 10 * time.Millisecond
		}
	}
	return total
}
