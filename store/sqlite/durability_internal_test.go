//go:build unix

package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A new database file, its WAL and its shared-memory file are readable by
// the owner only: they hold password hashes and sealed secrets (OWASP ASVS
// 5.0 V13.3.1), whatever the process's umask.
func TestNewFilesOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	for _, dsn := range []string{"users.db", "file:users2.db?cache=private"} {
		dir := t.TempDir()
		path := filepath.Join(dir, dsn)
		if dsn[0] == 'f' {
			path = "file:" + filepath.Join(dir, dsn[len("file:"):])
		}
		db, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.w.Exec(`INSERT INTO groups (id, name, name_key, permissions, created_at, updated_at) VALUES ('g', 'G', 'g', '', 1, 1)`); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		if len(files) < 3 {
			t.Errorf("%s: files %v, want the database, its WAL and its shm", dsn, files)
		}
		for _, f := range files {
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s: %s has mode %v, want no access for group and others", dsn, filepath.Base(f), fi.Mode().Perm())
			}
		}
		db.Close()
	}
}

// The writer syncs every commit (synchronous=FULL): a burned TOTP step, a
// revoked session or a throttle counter survives power loss.
func TestWriterSynchronousFull(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sync int
	if err := db.w.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil || sync != 2 {
		t.Fatalf("writer synchronous = %d, %v; want 2 (FULL)", sync, err)
	}
}
