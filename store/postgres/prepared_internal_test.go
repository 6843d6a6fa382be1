package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/internal/hotpaths"
)

// TestHotPathsPrepared: once each hot path has run, running it again
// sends PostgreSQL no Parse message and no simple query, so none of its
// statements is parsed and planned again (issue 12: statements prepared
// once, through pgx's statement cache, in a bounded set of shapes). The
// count comes from the wire: the store talks to the server through
// parseCounter, which reads the protocol. A statement built anew on each
// call, or sent in a mode that prepares nothing (QueryExecModeExec sends
// a Parse, QueryExecModeSimpleProtocol a simple query), would count.
//
// The calls run one at a time, and pgxpool hands out the connection
// released last, so they all run on the same connection: the warming
// needs two rounds, not one per pooled connection. It must stay short
// too: the logins count against the client's per-IP budget
// (auth.DefaultPerIPPerMinute), past which Login fails.
func TestHotPathsPrepared(t *testing.T) {
	dsn := testDSN(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if m := cfg.DefaultQueryExecMode; m != pgx.QueryExecModeCacheStatement {
		t.Skipf("the DSN's query mode (%v) prepares no statement to reuse", m)
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" || strings.HasPrefix(cfg.Host, "/") {
		t.Skip("the test needs a URL DSN over TCP to route through the counter")
	}
	pc := newParseCounter(t, net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)))
	q := u.Query()
	q.Set("sslmode", "disable") // the counter reads the protocol in the clear
	u.Host, u.RawQuery = pc.addr, q.Encode()
	schema := newSchemaName()
	dropSchemaAtCleanup(t, schema)
	db, err := OpenWith(context.Background(), u.String(), Options{Schema: schema})
	if err != nil {
		// A server that requires TLS refuses the counter's plain
		// connection; every other test reaches it directly.
		t.Skipf("no plain connection through the counter: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	withBuiltinGroups(t, db)

	m, op, err := auth.NewWithOperator(auth.Config{Store: db, SecretKey: seedKey, BcryptCost: 4,
		InsecureLowBcryptCostForTests: true}, "op")
	if err != nil {
		t.Fatal(err)
	}
	paths := hotpaths.Of(m, op)
	for range 2 { // every statement seen, and prepared
		for _, p := range paths {
			if err := p.Run(); err != nil {
				t.Fatalf("%s: %v", p.Name, err)
			}
		}
	}
	if pc.parses.Load() == 0 {
		t.Fatal("the counter saw no Parse message while warming: it is not reading the protocol")
	}
	conns := pc.conns.Load()
	for _, p := range paths {
		parses, simple := pc.parses.Load(), pc.simple.Load()
		for range 3 {
			if err := p.Run(); err != nil {
				t.Fatalf("%s: %v", p.Name, err)
			}
		}
		if got := pc.parses.Load() - parses; got != 0 {
			t.Errorf("%s sent %d Parse messages once warm: a statement parsed again", p.Name, got)
		}
		if got := pc.simple.Load() - simple; got != 0 {
			t.Errorf("%s sent %d simple queries once warm: a statement parsed on every call", p.Name, got)
		}
	}
	if got := pc.conns.Load() - conns; got != 0 {
		// Its statements were prepared afresh: the counts above say
		// nothing then.
		t.Errorf("the pool opened %d connections once warm", got)
	}
}

// parseCounter is a TCP proxy to a PostgreSQL server that counts the
// connections made through it, and the Parse and simple Query messages
// clients send.
type parseCounter struct {
	addr   string
	conns  atomic.Int64
	parses atomic.Int64 // 'P'
	simple atomic.Int64 // 'Q'
}

func newParseCounter(t *testing.T, server string) *parseCounter {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc := &parseCounter{addr: l.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			client, err := l.Accept()
			if err != nil {
				return
			}
			pc.conns.Add(1)
			srv, err := net.Dial("tcp", server)
			if err != nil {
				client.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); pc.forward(srv, client); srv.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(client, srv); client.Close() }()
		}
	}()
	return pc
}

// forward copies a client's messages to the server, counting its Parse
// ('P') and Query ('Q') messages. A connection opens with untyped messages (an SSLRequest
// or GSSENCRequest, declined under sslmode=disable, then the startup
// message); every later message is a type byte and a length.
func (pc *parseCounter) forward(dst io.Writer, src io.Reader) {
	header := make([]byte, 5)
	started := false
	for {
		if !started {
			if _, err := io.ReadFull(src, header[:4]); err != nil {
				return
			}
			n := binary.BigEndian.Uint32(header[:4])
			body := make([]byte, n-4)
			if _, err := io.ReadFull(src, body); err != nil {
				return
			}
			// Protocol 3.0's startup message; the requests carry codes
			// of their own (80877103, 80877104).
			started = len(body) >= 4 && binary.BigEndian.Uint32(body) == 3<<16
			if _, err := dst.Write(append(header[:4:4], body...)); err != nil {
				return
			}
			continue
		}
		if _, err := io.ReadFull(src, header); err != nil {
			return
		}
		switch header[0] {
		case 'P':
			pc.parses.Add(1)
		case 'Q':
			pc.simple.Add(1)
		}
		n := binary.BigEndian.Uint32(header[1:])
		if _, err := dst.Write(header); err != nil {
			return
		}
		if _, err := io.CopyN(dst, src, int64(n)-4); err != nil {
			return
		}
	}
}
