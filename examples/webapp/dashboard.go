package main

import (
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

// actionBackupRun is the host's own audit action, beside usher's.
const actionBackupRun audit.Action = "backups.run"

// backupLog stands in for the host's real work: the backups it "ran".
type backupLog struct {
	mu   sync.Mutex
	runs []backupRun
}

type backupRun struct {
	At time.Time
	By string
}

func (b *backupLog) add(r backupRun) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.runs = append(b.runs, r)
}

// recent returns the runs, newest first.
func (b *backupLog) recent() []backupRun {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := slices.Clone(b.runs)
	slices.Reverse(out)
	return out
}

type dashboardData struct {
	TwoFactor twoFactorState
	Logins    *loginChart // nil without audit:read
	ToDos     *securityToDos
}

// securityToDos are the access review's findings that want action soon:
// accounts that should have a second factor and have none (admins, and
// members of groups that require one), and accounts idle for 90 days.
type securityToDos struct {
	NoSecondFactor []auth.Finding
	Idle           []auth.Finding
	IdleDays       int
}

// securityToDos reads them from the access review, for a holder of
// access:review; nil for anyone else. The review reads every account, so
// a very large installation would cache this.
func (s *server) securityToDos(r *http.Request, p *auth.Principal) (*securityToDos, error) {
	if !p.Can(group.AccessReview) {
		return nil, nil
	}
	rev, err := s.m.AccessReview(r.Context(), p, auth.ReviewOptions{})
	if err != nil {
		return nil, err
	}
	t := &securityToDos{IdleDays: rev.IdleDays}
	for _, f := range rev.Findings {
		switch f.Kind {
		case auth.FindingNoSecondFactor:
			t.NoSecondFactor = append(t.NoSecondFactor, f)
		case auth.FindingIdle:
			t.Idle = append(t.Idle, f)
		}
	}
	return t, nil
}

func (s *server) dashboard(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	tf, err := s.twoFactor(r, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	logins, err := s.loginActivity(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	todos, err := s.securityToDos(r, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "dashboard", &view{Title: "Dashboard", Data: &dashboardData{TwoFactor: tf, Logins: logins, ToDos: todos}})
}

// backupsPage is guarded by the host's own permission backups:read; the
// button on it needs backups:run.
func (s *server) backupsPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	s.render(w, r, http.StatusOK, "backups", &view{Title: "Backups", Data: s.backups.recent()})
}

func (s *server) runBackup(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	run := backupRun{At: s.now().UTC(), By: p.User().Email}
	// The host's own action goes into the same audit trail (and its mirror).
	err := s.m.Record(r.Context(), p, actionBackupRun, audit.Success, audit.Target{Type: "backup"}, nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.backups.add(run)
	redirect(w, r, "/backups?done=backup-started")
}
