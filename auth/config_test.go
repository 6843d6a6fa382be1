package auth_test

import (
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

func TestNewRejectsBadConfig(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name string
		mod  func(*auth.Config)
	}{
		{"nil store", func(c *auth.Config) { c.Store = nil }},
		{"short key", func(c *auth.Config) { c.SecretKey = []byte("short") }},
		{"low cost without the test switch", func(c *auth.Config) { c.BcryptCost = 9; c.InsecureLowBcryptCostForTests = false }},
		{"cost 3", func(c *auth.Config) { c.BcryptCost = 3 }},
		{"cost 32", func(c *auth.Config) { c.BcryptCost = 32 }},
		{"wildcard host permission", func(c *auth.Config) { c.Permissions = []group.Entry{{Permission: "backups:*"}} }},
		{"duplicate host permission", func(c *auth.Config) { c.Permissions = []group.Entry{{Permission: "users:read"}} }},
		{"tiny timeout", func(c *auth.Config) { c.IdleTimeout = time.Second }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := auth.Config{Store: e.db, SecretKey: testKey, BcryptCost: 4, InsecureLowBcryptCostForTests: true}
			tc.mod(&cfg)
			_, err := auth.New(cfg)
			wantErr(t, err, auth.ErrInvalidConfig)
		})
	}
}
