package auth_test

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/sqlite"
)

// BenchmarkWritePages counts the pages SQLite writes per operation of the
// write floors (BenchmarkCreateUserFloor, BenchmarkLoginFloor) and per
// floor INSERT (here on the same file, after the others' rows): the frames
// each commit appends to the write-ahead log, two pwrites and a checksum
// each, every one of them synced by the commit that ends the operation
// (issue 12). Unlike time on a shared machine, the count does not move
// with load; its ns/op means nothing (the log is read and emptied as it
// goes). It reports pages/op and commits/op, and logs (-test.v) the pages
// per operation by the table or index they belong to.
func BenchmarkWritePages(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "usher.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	raw := rawWriter(b, path)
	n := 0
	ops := writeOps(b, db, &n, func() error {
		id := floorID(n)
		_, err := raw.Exec(`INSERT INTO users `+floorInsertCols+` VALUES (?, ?, 'Floor', 'floor', 'users', 0, ?, 1, 1, NULL, 1)`,
			id, id+"@floor.example", floorHash)
		return err
	})
	for _, o := range ops {
		b.Run(o.name, func(b *testing.B) {
			o.warm(b, &n)
			// The log is read and emptied every window operations, well
			// below the writer's automatic checkpoint (10,000 frames,
			// store/sqlite's walCheckpointPages).
			const window = 25
			checkpointTruncate(b, raw)
			ops, commits := 0, 0
			count := map[string]int{}
			for b.Loop() {
				n++
				ops++
				if err := o.op(); err != nil {
					b.Fatal(err)
				}
				if ops%window == 0 {
					commits += walPagesByOwner(b, path, raw, count)
				}
			}
			commits += walPagesByOwner(b, path, raw, count)
			total := 0
			for _, c := range count {
				total += c
			}
			b.ReportMetric(float64(total)/float64(ops), "pages/op")
			b.ReportMetric(float64(commits)/float64(ops), "commits/op")
			b.Log(perOp(count, ops))
		})
	}
}

// writeOp is one operation of the write floors, as the benchmarks that
// count what it writes run it.
type writeOp struct {
	name string
	op   func() error
}

// writeOps are the operations of the write floors on a Manager on s,
// with the account they log in to, bcrypt and the strength check set
// aside, then floor, the raw INSERT of a user row; *n numbers the users
// created, and the caller moves it on.
func writeOps(b *testing.B, s auth.Store, n *int, floor func() error) []writeOp {
	ctx := context.Background()
	m, op := floorManager(b, s)
	email := floorAccount(b, m, op)
	return []writeOp{
		{"create-user", func() error {
			_, err := m.CreateUser(ctx, op, auth.NewUser{Email: fmt.Sprintf("pages%d@example.com", *n),
				Name: "Floor User", Password: floorPassword, GroupID: "users"})
			return err
		}},
		{"login-success", func() error { _, err := m.Login(ctx, email, floorPassword, client); return err }},
		{"login-wrong-password", func() error {
			if _, err := m.Login(ctx, email, "not the password", client); !errorsIs(err, auth.ErrInvalidCredentials) {
				return err
			}
			return nil
		}},
		{"floor", floor},
	}
}

// warm runs o 200 times: the b-trees as deep as a few hundred rows make
// them, and their right-most pages, where the next rows go, in place.
func (o writeOp) warm(b *testing.B, n *int) {
	for range 200 {
		*n++
		if err := o.op(); err != nil {
			b.Fatal(err)
		}
	}
}

func checkpointTruncate(b *testing.B, raw *sql.DB) {
	var busy, log, done int
	if err := raw.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &log, &done); err != nil || busy != 0 {
		b.Fatalf("checkpoint: %v (busy %d)", err, busy)
	}
}

// walPagesByOwner adds the pages in the write-ahead log to count, by the
// table or index each belongs to (dbstat), empties the log, and returns
// how many commits it held. The frame layout is SQLite's
// (https://www.sqlite.org/fileformat2.html#walformat): a 32-byte header,
// then per frame a 24-byte header, whose first two words are the page
// number and, on a commit's last frame, the database size, and the page.
func walPagesByOwner(b *testing.B, path string, raw *sql.DB, count map[string]int) (commits int) {
	b.StopTimer()
	defer b.StartTimer()
	w, err := os.ReadFile(path + "-wal")
	if err != nil {
		b.Fatal(err)
	}
	owner := pageOwners(b, raw)
	if len(w) >= 32 {
		frame := 24 + int(binary.BigEndian.Uint32(w[8:]))
		for off := 32; off+frame <= len(w); off += frame {
			count[cmp.Or(owner[binary.BigEndian.Uint32(w[off:])], "(freed)")]++
			if binary.BigEndian.Uint32(w[off+4:]) != 0 {
				commits++
			}
		}
	}
	checkpointTruncate(b, raw)
	return commits
}

// pageOwners maps each page of the database to its table or index.
func pageOwners(b *testing.B, raw *sql.DB) map[uint32]string {
	rows, err := raw.Query(`SELECT name, pageno FROM dbstat`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	owner := map[uint32]string{}
	for rows.Next() {
		var name string
		var page uint32
		if err := rows.Scan(&name, &page); err != nil {
			b.Fatal(err)
		}
		owner[page] = name
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return owner
}

// perOp lists count per operation, most first.
func perOp(count map[string]int, ops int) string {
	names := slices.SortedFunc(maps.Keys(count), func(x, y string) int { return cmp.Or(count[y]-count[x], strings.Compare(x, y)) })
	var s strings.Builder
	for _, k := range names {
		fmt.Fprintf(&s, "%s %.2f, ", k, float64(count[k])/float64(ops))
	}
	return strings.TrimSuffix(s.String(), ", ")
}
