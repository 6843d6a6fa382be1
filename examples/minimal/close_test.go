package main

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

type closer struct{ err error }

func (c closer) Close() error { return c.err }

// closeManager reports what Manager.Close could not write: logged, and
// joined to run's error beside the one it already had.
func TestCloseManager(t *testing.T) {
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	served := errors.New("listen: address in use")
	gone := errors.New("disk gone")
	err := served
	closeManager(closer{gone}, logger, &err)
	if !errors.Is(err, served) || !errors.Is(err, gone) {
		t.Fatalf("run's error: %v; want both the serving error and Close's", err)
	}
	if !strings.Contains(log.String(), "level=ERROR") || !strings.Contains(log.String(), "disk gone") {
		t.Fatalf("logged %q; want Close's error", log.String())
	}
	log.Reset()
	err = nil
	closeManager(closer{}, logger, &err)
	if err != nil || log.Len() != 0 {
		t.Fatalf("a clean Close: error %v, logged %q; want neither", err, log.String())
	}
}
