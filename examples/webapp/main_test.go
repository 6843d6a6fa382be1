package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/sqlite"
)

// A missing key file beside a database that is already in use is an
// error, not a reason to make a new key: the new key would open nothing
// the database holds.
func TestMissingKeyFileRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "usher-webapp.key")
	db, err := sqlite.Open(ctx, filepath.Join(dir, "webapp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// The first run makes the key, mode 0600.
	key, _, err := loadKeys(ctx, db, keyPath, nil)
	if err != nil || len(key) != 32 {
		t.Fatalf("first run: %d-byte key, %v", len(key), err)
	}
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	if _, err := auth.New(auth.Config{Store: db, SecretKey: key, BcryptCost: 4, InsecureLowBcryptCostForTests: true}); err != nil {
		t.Fatal(err)
	}
	again, _, err := loadKeys(ctx, db, keyPath, nil)
	if err != nil || !bytes.Equal(again, key) {
		t.Fatalf("second run read another key, or %v", err)
	}

	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	_, _, err = loadKeys(ctx, db, keyPath, nil)
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("a missing key file beside a used database: %v", err)
	}
	if _, err := os.Stat(keyPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a key file was created: %v", err)
	}
}
