package auth_test

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// BenchmarkWALBytes is BenchmarkWritePages for PostgreSQL: the bytes the
// server appends to its write-ahead log per operation of the write floors
// and per floor INSERT (on the same schema, after the others' rows), the
// advance of pg_current_wal_insert_lsn() over the loop, after the same
// warm-up (issue 12). Every byte is written, and at each commit flushed,
// by the server; unlike time on a shared machine, the count does not
// move with load. It is the whole server's, though: run it where nothing
// else writes (an autovacuum or a checkpoint shows as a jump), or read
// ownbytes/op. Its ns/op means nothing.
//
// When pg_walinspect can be had (a superuser's DSN on PostgreSQL 15 or
// later; it is created in the benchmark's schema and goes with it), it
// also reports the bytes of the transactions that wrote this schema alone
// (ownbytes/op), the full-page images among them (fpibytes/op, the first
// change of a page after a checkpoint), the index entries inserted
// (idxtuples/op), and logs (-test.v) the bytes and records per
// operation by the table or index they belong to.
func BenchmarkWALBytes(b *testing.B) {
	dsn := os.Getenv("USHER_TEST_POSTGRES")
	if dsn == "" {
		b.Skip("USHER_TEST_POSTGRES is not set")
	}
	ctx := context.Background()
	db, raw, schema := postgresFloorSchema(b, dsn)
	n := 0
	ops := writeOps(b, db, &n, func() error {
		id := floorID(n)
		return pgx.BeginFunc(ctx, raw, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO users `+floorInsertCols+
				` VALUES ($1, $2, 'Floor', 'floor', 'users', false, $3, $4, $4, NULL, 1)`,
				id, id+"@floor.example", floorHash, time.Now())
			return err
		})
	})
	wi := newWALInspect(b, raw, schema)
	for _, o := range ops {
		b.Run(o.name, func(b *testing.B) {
			o.warm(b, &n)
			start, ops := walInsertLSN(b, raw), 0
			for b.Loop() {
				n++
				ops++
				if err := o.op(); err != nil {
					b.Fatal(err)
				}
			}
			end := walInsertLSN(b, raw)
			flushWAL(b, raw)
			var bytes int64
			if err := raw.QueryRow(ctx, `SELECT pg_wal_lsn_diff($1::text::pg_lsn, $2::text::pg_lsn)::bigint`, end, start).
				Scan(&bytes); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(bytes)/float64(ops), "walbytes/op")
			wi.report(b, start, end, ops)
		})
	}
}

// walInsertLSN is where the server will append its next WAL record.
func walInsertLSN(b *testing.B, raw *pgxpool.Pool) string {
	var lsn string
	if err := raw.QueryRow(context.Background(), `SELECT pg_current_wal_insert_lsn()::text`).Scan(&lsn); err != nil {
		b.Fatal(err)
	}
	return lsn
}

// flushWAL has the server flush its WAL past every record inserted so
// far: pg_walinspect reads flushed WAL only ("cannot accept future end
// LSN"), and the last records may still be in the server's buffers, an
// unsynced commit's (AtomicDeferSync) or another session's. A
// transaction given an ID commits synchronously, which flushes up to its
// commit record, after them.
func flushWAL(b *testing.B, raw *pgxpool.Pool) {
	if _, err := raw.Exec(context.Background(), `SELECT pg_current_xact_id()`); err != nil {
		b.Fatal(err)
	}
}

// walInspect reads the WAL records between two positions through
// pg_walinspect, in the schema named fn, and tells the records of one
// schema's relations by their relfilenode; nil when pg_walinspect is not
// to be had.
type walInspect struct {
	raw    *pgxpool.Pool
	fn     string            // the qualified name of pg_get_wal_records_info
	schema string            // whose relations count
	rels   map[string]string // relfilenode → relation name, filled as needed
}

func newWALInspect(b *testing.B, raw *pgxpool.Pool, schema string) *walInspect {
	ctx := context.Background()
	// In the schema, if the database has none yet: it goes with it.
	_, err := raw.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_walinspect WITH SCHEMA `+pgx.Identifier{schema}.Sanitize())
	var where string
	if err == nil {
		err = raw.QueryRow(ctx, `SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
			WHERE e.extname = 'pg_walinspect'`).Scan(&where)
	}
	if err != nil {
		b.Logf("no pg_walinspect, walbytes/op only: %v", err)
		return nil
	}
	return &walInspect{raw: raw, fn: pgx.Identifier{where, "pg_get_wal_records_info"}.Sanitize(), schema: schema}
}

// blockRel finds the relfilenode of each block a record changes, in
// pg_walinspect's block_ref ("blkref #0: rel 1663/16384/16390 ...").
var blockRel = regexp.MustCompile(`rel \d+/\d+/(\d+)`)

// walRecord is one record pg_walinspect read.
type walRecord struct {
	xid        int64
	rmgr, kind string
	length     int64
	fpi        int64
	rel        string // the first block's relation in the schema; "" for none
}

// report reports the bytes of the transactions that changed the schema's
// relations between start and end, over ops operations, and logs them by
// relation. A record that changes no block of the schema's (a commit)
// counts with its transaction; one of no transaction (pruning a page, say)
// only when it changes the schema's blocks.
func (w *walInspect) report(b *testing.B, start, end string, ops int) {
	if w == nil {
		return
	}
	recs := w.records(b, start, end)
	own := map[int64]bool{}
	for _, r := range recs {
		if r.rel != "" && r.xid != 0 {
			own[r.xid] = true
		}
	}
	var bytes, fpi, idx int64
	byRel, kinds := map[string]int64{}, map[string]int{}
	for _, r := range recs {
		if r.rel == "" && !own[r.xid] { // xid 0: no transaction's
			continue
		}
		bytes += r.length
		fpi += r.fpi
		name := cmp.Or(r.rel, "("+strings.ToLower(r.rmgr)+")")
		byRel[name] += r.length
		kinds[name+" "+r.kind]++
		if r.rmgr == "Btree" && (strings.HasPrefix(r.kind, "INSERT_LEAF") || strings.HasPrefix(r.kind, "INSERT_POST") ||
			strings.HasPrefix(r.kind, "SPLIT")) {
			idx++
		}
	}
	per := func(v int64) float64 { return float64(v) / float64(ops) }
	b.ReportMetric(per(bytes), "ownbytes/op")
	b.ReportMetric(per(fpi), "fpibytes/op")
	b.ReportMetric(per(idx), "idxtuples/op")
	b.Log("bytes: " + perOpBytes(byRel, ops))
	b.Log("records: " + perOp(kinds, ops))
}

// records reads the records between start and end.
func (w *walInspect) records(b *testing.B, start, end string) []walRecord {
	ctx := context.Background()
	rows, err := w.raw.Query(ctx, `SELECT COALESCE(xid::text::bigint, 0), resource_manager, record_type,
		record_length, fpi_length, COALESCE(block_ref, '') FROM `+w.fn+`($1::text::pg_lsn, $2::text::pg_lsn)`, start, end)
	if err != nil {
		b.Fatal(err)
	}
	var out []walRecord
	var r walRecord
	var blocks string
	_, err = pgx.ForEachRow(rows, []any{&r.xid, &r.rmgr, &r.kind, &r.length, &r.fpi, &blocks}, func() error {
		r.rel = ""
		if m := blockRel.FindStringSubmatch(blocks); m != nil {
			r.rel = w.relName(b, m[1])
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// relName is the name of the schema's relation whose relfilenode is node,
// or "" when it is none of the schema's (a TOAST table, the catalog,
// another schema).
func (w *walInspect) relName(b *testing.B, node string) string {
	if w.rels == nil {
		w.rels = map[string]string{}
		rows, err := w.raw.Query(context.Background(), `SELECT c.relfilenode::text, c.relname FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relfilenode <> 0`, w.schema)
		if err != nil {
			b.Fatal(err)
		}
		var k, v string
		if _, err := pgx.ForEachRow(rows, []any{&k, &v}, func() error { w.rels[k] = v; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	return w.rels[node]
}

// perOpBytes lists bytes per operation, most first.
func perOpBytes(count map[string]int64, ops int) string {
	names := slices.SortedFunc(maps.Keys(count), func(x, y string) int {
		return cmp.Or(cmp.Compare(count[y], count[x]), strings.Compare(x, y))
	})
	var s strings.Builder
	for _, k := range names {
		fmt.Fprintf(&s, "%s %s, ", k, strconv.FormatFloat(float64(count[k])/float64(ops), 'f', 0, 64))
	}
	return strings.TrimSuffix(s.String(), ", ")
}
