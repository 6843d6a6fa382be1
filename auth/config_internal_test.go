package auth

import (
	"testing"
	"time"
)

// Every zero field with a default gets its named constant, and a set field
// keeps its value.
func TestConfigDefaults(t *testing.T) {
	got := Config{}.withDefaults()
	want := Config{
		BcryptCost: DefaultBcryptCost, MinPasswordLength: DefaultMinPasswordLength,
		ReauthWindow: DefaultReauthWindow, IdleTimeout: DefaultIdleTimeout, AbsoluteTimeout: DefaultAbsoluteTimeout,
		Throttle: ThrottleConfig{
			FreeFailures: DefaultFreeFailures, BaseDelay: DefaultBaseDelay,
			MaxDelay: DefaultMaxDelay, PerIPPerMinute: DefaultPerIPPerMinute,
			PerIPv6SitePerMinute: DefaultPerIPv6SitePerMinute, AccountFailuresPerDay: DefaultAccountFailuresPerDay,
			DeviceTrust: DefaultDeviceTrust,
		},
	}
	if got.BcryptCost != want.BcryptCost || got.MinPasswordLength != want.MinPasswordLength ||
		got.ReauthWindow != want.ReauthWindow || got.IdleTimeout != want.IdleTimeout ||
		got.AbsoluteTimeout != want.AbsoluteTimeout || got.Throttle != want.Throttle {
		t.Fatalf("defaults\n got %+v\nwant %+v", got, want)
	}
	set := Config{
		BcryptCost: 14, MinPasswordLength: 12, ReauthWindow: time.Minute, IdleTimeout: time.Hour,
		AbsoluteTimeout: 2 * time.Hour, Throttle: ThrottleConfig{FreeFailures: 3, BaseDelay: 2 * time.Second, MaxDelay: time.Hour, PerIPPerMinute: -1,
			PerIPv6SitePerMinute: 7, AccountFailuresPerDay: 50, DeviceTrust: time.Hour},
	}
	if kept := set.withDefaults(); kept.BcryptCost != 14 || kept.MinPasswordLength != 12 || kept.ReauthWindow != time.Minute ||
		kept.IdleTimeout != time.Hour || kept.AbsoluteTimeout != 2*time.Hour || kept.Throttle != set.Throttle {
		t.Fatalf("set fields changed: %+v", kept)
	}
}
