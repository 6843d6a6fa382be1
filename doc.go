// Package usher is user management that a Go application embeds: accounts,
// groups that carry permissions, password login with throttling, sessions,
// admin and self-service operations checked inside the library, and an audit
// trail written in the same transaction as every change. The host keeps its
// own net/http layer and its own pages; usher owns the rules, the
// cryptography and the data.
//
// This package holds documentation only. The pieces:
//
//   - [github.com/usher-go/usher/auth]: the Manager, the one entry point.
//   - [github.com/usher-go/usher/user], [github.com/usher-go/usher/group],
//     [github.com/usher-go/usher/audit]: the records and their store
//     interfaces.
//   - [github.com/usher-go/usher/totp]: time-based one-time codes and
//     recovery codes, the second factor.
//   - [github.com/usher-go/usher/store/sqlite]: every store on one SQLite
//     file (no cgo), the embedded default.
//   - [github.com/usher-go/usher/store/postgres]: the same on PostgreSQL,
//     for several instances sharing one database.
//   - [github.com/usher-go/usher/store/storetest]: the conformance suite a
//     store must pass.
//
// # Quick start
//
//	db, err := sqlite.Open(ctx, "users.db")
//	m, err := auth.New(auth.Config{Store: db, Issuer: "MyApp", SecretKey: key})
//
//	// first run: print the setup token for whoever runs the host
//	setup, _, err := m.SetupToken(ctx)
//	// the first account, which presents it, becomes the admin; sign-up then closes
//	s, err := m.SignUp(ctx, auth.SignUp{Email: e, Name: n, Password: pw, BootstrapToken: setup}, auth.ClientFrom(r))
//	m.SetSessionCookie(w, s)
//
//	// every request
//	http.ListenAndServe(addr, m.Middleware(mux))
//	p, ok := auth.PrincipalFrom(r.Context())
//	if p.Can("backups:run") { ... }
//
//	// admin operations take the acting principal and are checked inside
//	u, err := m.CreateUser(ctx, p, auth.NewUser{Email: e, Password: pw, GroupID: g})
//
// The key must be at least 32 random bytes kept outside the database: it
// peppers every password hash.
package usher
