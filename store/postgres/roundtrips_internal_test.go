package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/user"
)

// tripCounter is a pgx tracer that counts round trips to the server: every
// Exec, Query and QueryRow is one, and so is a batch (one pipeline), however
// many statements it holds. It keeps the last run's statements, for the
// message of a failing test.
type tripCounter struct {
	n   atomic.Int32
	mu  sync.Mutex
	log []string
}

func (t *tripCounter) add(what string) {
	t.n.Add(1)
	t.mu.Lock()
	t.log = append(t.log, what)
	t.mu.Unlock()
}

func (t *tripCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	t.add(oneLine(d.SQL))
	return ctx
}

func (*tripCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (t *tripCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	var qs []string
	for _, q := range d.Batch.QueuedQueries {
		qs = append(qs, oneLine(q.SQL))
	}
	t.add("batch[" + strings.Join(qs, " | ") + "]")
	return ctx
}

func (*tripCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (*tripCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// take returns the round trips counted since the last take, and their log.
func (t *tripCounter) take() (int32, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	log := strings.Join(t.log, "\n\t")
	t.log = nil
	return t.n.Swap(0), log
}

func oneLine(sql string) string {
	f := strings.Fields(sql)
	if len(f) > 8 {
		f = append(f[:8], "…")
	}
	return strings.Join(f, " ")
}

// newTracedDB is newTestDB with every statement counted by the returned
// tripCounter.
func newTracedDB(tb testing.TB) (*DB, *tripCounter) {
	tb.Helper()
	tc := &tripCounter{}
	return newDBTracedBy(tb, tc), tc
}

// newDBTracedBy is newTestDB with every statement traced by tracer.
func newDBTracedBy(tb testing.TB, tracer pgx.QueryTracer) *DB {
	tb.Helper()
	schema := newSchemaName()
	dropSchemaAtCleanup(tb, schema)
	db, err := openWith(context.Background(), testDSN(tb), Options{Schema: schema}, tracer)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	withBuiltinGroups(tb, db)
	return db
}

// CreateUser's insert is held back to the commit (auth.LateUserCreateStore),
// so a taken email is learnt there: it still comes back as the email's
// FieldError matching user.ErrEmailTaken, and nothing of the change is
// written, neither the user nor its event.
func TestCreateUserTakenEmail(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	m, op, err := auth.NewWithOperator(auth.Config{Store: db, SecretKey: seedKey, BcryptCost: 4,
		InsecureLowBcryptCostForTests: true}, "op")
	if err != nil {
		t.Fatal(err)
	}
	events := func() int {
		var n int
		if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE action = $1`, string(audit.UserCreated)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	in := auth.NewUser{Email: "taken@example.com", Name: "First", Password: "Vq7#pLx2!mZr9k", GroupID: "users"}
	if _, err := m.CreateUser(ctx, op, in); err != nil {
		t.Fatal(err)
	}
	users, _ := db.Users().Count(ctx)
	before := events()
	in.Name, in.Email = "Second", "TAKEN@example.com"
	_, err = m.CreateUser(ctx, op, in)
	var fe *auth.FieldError
	if !errors.Is(err, user.ErrEmailTaken) || !errors.As(err, &fe) || fe.Field != auth.FieldEmail {
		t.Fatalf("CreateUser with a taken email: %v; want the email's FieldError, user.ErrEmailTaken", err)
	}
	if n, _ := db.Users().Count(ctx); n != users {
		t.Errorf("%d users after the refused create, want %d", n, users)
	}
	if n := events(); n != before {
		t.Errorf("%d user.created events after the refused create, want %d", n, before)
	}
}

// Issue 12: the round trips of a password login and of CreateUser, warm
// (every statement already prepared on the connection), so that they
// cannot silently grow. A round trip costs about a tenth of the floor's
// INSERT and synced commit on a local server; more on a network. A
// password login, right or wrong, from an IPv4 or an IPv6 address: the
// admission's BEGIN with the IP's hits (an IPv6 address's /64 and its
// /48) and the failure counts (auth.LateHitStore); the
// account read with its COMMIT; the outcome's BEGIN with the chain head
// (and, for a success, the account again); its writes with COMMIT.
// CreateUser: the BEGIN with the chain head and the group; the user's
// insert (auth.LateUserCreateStore), the event and COMMIT, one pipeline
// fewer than the floor's BEGIN, INSERT, COMMIT.
func TestRoundTrips(t *testing.T) {
	db, tc := newTracedDB(t)
	ctx := context.Background()
	m, op, err := auth.NewWithOperator(auth.Config{Store: db, SecretKey: seedKey, BcryptCost: 4,
		InsecureLowBcryptCostForTests: true}, "op")
	if err != nil {
		t.Fatal(err)
	}
	const password = "Vq7#pLx2!mZr9k"
	create := func(email string) error {
		_, err := m.CreateUser(ctx, op, auth.NewUser{Email: email, Name: "Round Trip", Password: password, GroupID: "users"})
		return err
	}
	if err := create("known@example.com"); err != nil {
		t.Fatal(err)
	}
	client := auth.Client{IP: "192.0.2.7", UserAgent: "test"}
	login := func(email, pw string) func() error {
		return func() error {
			_, err := m.Login(ctx, email, pw, client)
			return err
		}
	}
	// An IPv6 client spends its /48's budget too, only if its own /64's
	// admits the attempt: both hits go out with the failure counts, the
	// second made only if the first's count is within the budget.
	loginV6 := func() error {
		_, err := m.Login(ctx, "known@example.com", password, auth.Client{IP: "2001:db8::7", UserAgent: "test"})
		return err
	}
	n := 0
	for _, c := range []struct {
		name string
		run  func() error
		err  error
		want int32
	}{
		{"create user", func() error { n++; return create("new" + string(rune('a'+n)) + "@example.com") }, nil, 2},
		{"login", login("known@example.com", password), nil, 4},
		{"login, wrong password", login("known@example.com", "not the password"), auth.ErrInvalidCredentials, 4},
		{"login, unknown email", login("nobody@example.com", password), auth.ErrInvalidCredentials, 4},
		{"login from IPv6", loginV6, nil, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Warm: every statement prepared on every connection it may
			// take (the pool keeps a few).
			for range 4 {
				if err := c.run(); !errors.Is(err, c.err) {
					t.Fatal(err)
				}
			}
			tc.take()
			if err := c.run(); !errors.Is(err, c.err) {
				t.Fatal(err)
			}
			if got, log := tc.take(); got != c.want {
				t.Errorf("%d round trips, want %d:\n\t%s", got, c.want, log)
			}
		})
	}
}

// tripTimer is a pgx tracer that sums the time from each round trip's
// start (Exec, Query, QueryRow, or a pipeline) to its end.
type tripTimer struct{ total atomic.Int64 }

type tripStart struct{}

func (t *tripTimer) start(ctx context.Context) context.Context {
	return context.WithValue(ctx, tripStart{}, time.Now())
}

func (t *tripTimer) end(ctx context.Context) {
	if at, ok := ctx.Value(tripStart{}).(time.Time); ok {
		t.total.Add(int64(time.Since(at)))
	}
}

func (t *tripTimer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return t.start(ctx)
}
func (t *tripTimer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	t.end(ctx)
}
func (t *tripTimer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return t.start(ctx)
}
func (*tripTimer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (t *tripTimer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchEndData) {
	t.end(ctx)
}

// BenchmarkLoginRoundTrips times successful password logins (bcrypt at
// its least cost) and reports, beside ns/op, trips-ns/op: the time spent
// in the store's round trips, from each one's start to its end, the part
// of a login that TestRoundTrips counts (issue 12). Its throttling
// budgets are out of reach; each attempt still counts against them.
func BenchmarkLoginRoundTrips(b *testing.B) {
	tt := &tripTimer{}
	db := newDBTracedBy(b, tt)
	ctx := context.Background()
	m, op, err := auth.NewWithOperator(auth.Config{Store: db, SecretKey: seedKey, BcryptCost: 4,
		InsecureLowBcryptCostForTests: true, Throttle: auth.ThrottleConfig{PerIPPerMinute: 1 << 30,
			FreeFailures: 1 << 30, AccountFailuresPerDay: 1 << 30}}, "op")
	if err != nil {
		b.Fatal(err)
	}
	const email, password = "trips@example.com", "Vq7#pLx2!mZr9k"
	if _, err := m.CreateUser(ctx, op, auth.NewUser{Email: email, Name: "Trips", Password: password, GroupID: "users"}); err != nil {
		b.Fatal(err)
	}
	client := auth.Client{IP: "192.0.2.7", UserAgent: "test"}
	login := func() {
		if _, err := m.Login(ctx, email, password, client); err != nil {
			b.Fatal(err)
		}
	}
	for range 20 { // every statement prepared
		login()
	}
	tt.total.Store(0)
	for b.Loop() {
		login()
	}
	b.ReportMetric(float64(tt.total.Load())/float64(b.N), "trips-ns/op")
}
