package accounts

import (
	"context"
	"strings"
	"testing"
	"time"

	"pilmon/internal/testredis"
	"pilmon/store"
)

// One real redis-server for the package's tests; every test gets its own key prefix.
func TestMain(m *testing.M) {
	// Production hashes cost 64 MiB and 3 passes (TestArgonDefaults); the suite hashes with
	// cheaper parameters.
	UseArgon2(Argon2Params{Time: 1, Memory: 1024, Threads: 1})
	testredis.Main(m, "accounts")
}

const testPassword = "correct horse battery staple"

func TestSessionsExpireAndRevoke(t *testing.T) {
	acc := New(store.NewStore(testredis.Server().Client(), testredis.Prefix("s")))
	ctx := context.Background()
	if err := acc.Add(ctx, "u1", RoleAnalyst, testPassword); err != nil {
		t.Fatal(err)
	}
	u, err := acc.Verify(ctx, "u1", testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.Verify(ctx, "u1", "not the password"); err != ErrBadCredentials {
		t.Fatalf("wrong password: %v", err)
	}
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	acc.now = func() time.Time { return now }
	lim := SessionLimits{Idle: 10 * time.Minute, Absolute: time.Hour}
	secret, _, err := acc.CreateSession(ctx, u, lim)
	if err != nil {
		t.Fatal(err)
	}
	// Activity every 9 minutes keeps it alive until the absolute limit.
	for i := range 6 {
		now = now.Add(9 * time.Minute)
		if _, err := acc.LoadSession(ctx, secret, lim); err != nil {
			t.Fatalf("after %d min: %v", (i+1)*9, err)
		}
	}
	now = now.Add(7 * time.Minute) // 61 minutes after login
	if _, err := acc.LoadSession(ctx, secret, lim); err != ErrNoSession {
		t.Fatalf("past the absolute limit: %v", err)
	}
	secret, _, _ = acc.CreateSession(ctx, u, lim)
	now = now.Add(11 * time.Minute)
	if _, err := acc.LoadSession(ctx, secret, lim); err != ErrNoSession {
		t.Fatalf("idle: %v", err)
	}
	s1, _, _ := acc.CreateSession(ctx, u, lim)
	s2, _, _ := acc.CreateSession(ctx, u, lim)
	if n, _ := acc.SessionCount(ctx, "u1"); n != 2 {
		t.Fatalf("%d sessions", n)
	}
	if err := acc.SetPassword(ctx, "u1", "another good password"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{s1, s2} {
		if _, err := acc.LoadSession(ctx, s, lim); err != ErrNoSession {
			t.Fatalf("session survived a password change: %v", err)
		}
	}
	s3, _, _ := acc.CreateSession(ctx, u, lim)
	if err := acc.SetDisabled(ctx, "u1", true); err != nil {
		t.Fatal(err)
	}
	if _, err := acc.LoadSession(ctx, s3, lim); err != ErrNoSession {
		t.Fatalf("session of a disabled user: %v", err)
	}
	if _, err := acc.Verify(ctx, "u1", "another good password"); err != ErrDisabled {
		t.Fatalf("disabled login: %v", err)
	}
	h, _ := HashPassword("x")
	if !strings.HasPrefix(h, "$argon2id$v=19$") || !VerifyPassword("x", h) || VerifyPassword("y", h) {
		t.Fatalf("hash %s", h)
	}
	if pw, created, err := acc.EnsureAdmin(ctx); err != nil || created || pw != "" {
		t.Fatalf("EnsureAdmin with users: %q %v %v", pw, created, err)
	}
	fresh := New(store.NewStore(testredis.Server().Client(), testredis.Prefix("s")))
	pw, created, err := fresh.EnsureAdmin(ctx)
	if err != nil || !created || len(pw) < 20 {
		t.Fatalf("EnsureAdmin: %q %v %v", pw, created, err)
	}
	if u, err := fresh.Verify(ctx, "admin", pw); err != nil || u.Role != RoleAdmin {
		t.Fatalf("admin login: %+v %v", u, err)
	}
}

// TestArgonDefaults pins the production parameters and checks a hash made with them.
func TestArgonDefaults(t *testing.T) {
	if DefaultArgon2 != (Argon2Params{Time: 3, Memory: 64 * 1024, Threads: 2}) {
		t.Fatalf("defaults %+v", DefaultArgon2)
	}
	saved := hashParams
	hashParams = DefaultArgon2
	defer func() { hashParams = saved }()
	h, _ := HashPassword("pw")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") || !VerifyPassword("pw", h) {
		t.Fatalf("hash %s", h)
	}
	// A hash claiming absurd parameters is refused without being computed.
	if VerifyPassword("pw", "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdA$a2V5") {
		t.Fatal("absurd parameters accepted")
	}
}
