package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/usher-go/usher/user"
)

// BenchmarkListUsersFloor lists 50-row pages of 100,000 users in each
// order, ascending, first and 50,000 deep, beside issue 12's floor in the
// same loop: the same 51 rows and columns (listSelect) read by one keyset
// query through the pool, which pgx prepares once per connection, scanned
// into plain values, the two taking turns at going first. It reports
// usher/floor (target ≤ 1.30) and each side's ns/op.
func BenchmarkListUsersFloor(b *testing.B) {
	const depth = 50_000
	db := bigDB(b)
	ctx := context.Background()
	for _, s := range allSorts {
		o := listOrders[s]
		unique := s == user.SortEmail
		order := ` ORDER BY ` + o.key
		if !unique {
			order += `, u.id`
		}
		order += ` LIMIT 51`
		q := user.Query{Sort: s, Limit: 50}
		b.Run(string(s)+"/first", func(b *testing.B) {
			benchListFloor(b, db, q, listSelect+order, nil)
		})
		var key any
		var id string
		if err := db.pool.QueryRow(ctx, `SELECT `+o.key+`, u.id FROM users u ORDER BY `+o.key+`, u.id OFFSET $1 LIMIT 1`,
			depth-1).Scan(&key, &id); err != nil {
			b.Fatal(err)
		}
		deep := q
		deep.Cursor = deepCursor(b, db, q, depth)
		where, args := ` WHERE (`+o.key+`, u.id) > ($1, $2)`, []any{key, id}
		if unique {
			where, args = ` WHERE `+o.key+` > $1`, []any{key}
		}
		b.Run(string(s)+"/deep50000", func(b *testing.B) {
			benchListFloor(b, db, deep, listSelect+where+order, args)
		})
	}
}

func benchListFloor(b *testing.B, db *DB, q user.Query, floor string, args []any) {
	ctx := context.Background()
	tFloor, tUsher, n := loopBoth(b, func() {
		if got := floorUserPage(b, db, floor, args); got != q.Limit+1 {
			b.Fatalf("floor read %d rows", got)
		}
	}, func() {
		if p, err := db.Users().List(ctx, q); err != nil || len(p.Users) != q.Limit {
			b.Fatal(err)
		}
	})
	reportFloor(b, tUsher, tFloor, n)
}

// floorUserPage reads a page of listSelect rows into plain values and
// counts them.
func floorUserPage(b *testing.B, db *DB, query string, args []any) int {
	rows, err := db.pool.Query(context.Background(), query, args...)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var (
		id, email, name, gid, nameKey, gname string
		providers                            pgtype.Text
		disabled, mustChange, totp, avatar   bool
		created, updated                     time.Time
		lastLogin                            pgtype.Timestamptz
		version, passkeys                    int64
		n                                    int
	)
	for rows.Next() {
		if err := rows.Scan(&id, &email, &name, &gid, &disabled, &created, &updated, &lastLogin, &version, &mustChange,
			&nameKey, &gname, &totp, &passkeys, &avatar, &providers); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}

// loopBoth runs b's loop over floor and usher, timed by timeBoth, and
// returns each one's total time and the number of iterations.
func loopBoth(b *testing.B, floor, usher func()) (tFloor, tUsher time.Duration, n int) {
	for b.Loop() {
		tf, tu := timeBoth(n, floor, usher)
		tFloor += tf
		tUsher += tu
		n++
	}
	return tFloor, tUsher, n
}

// reportFloor reports usher ÷ floor and each one's time per operation.
func reportFloor(b *testing.B, usher, floor time.Duration, n int) {
	b.ReportMetric(float64(usher)/float64(floor), "usher/floor")
	b.ReportMetric(float64(usher.Nanoseconds())/float64(n), "usher-ns/op")
	b.ReportMetric(float64(floor.Nanoseconds())/float64(n), "floor-ns/op")
}

// timeBoth times floor and usher, floor first on even iterations n and
// usher first on odd ones, so that neither always follows the other.
func timeBoth(n int, floor, usher func()) (tFloor, tUsher time.Duration) {
	first, second := floor, usher
	if n%2 == 1 {
		first, second = usher, floor
	}
	t0 := time.Now()
	first()
	t1 := time.Now()
	second()
	t2 := time.Now()
	if n%2 == 1 {
		return t2.Sub(t1), t1.Sub(t0)
	}
	return t1.Sub(t0), t2.Sub(t1)
}
