package accounts

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

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

func TestPasswordPolicy(t *testing.T) {
	refused := []struct{ name, pw, why string }{
		{"bob", "short", "too short"},
		{"bob", "          ", "ten spaces"},
		{"bob", " \t  \n     ", "white space"},
		{"bob", "aaaaaaaaaa", "one character"},
		{"bob", "aaaaaaabcd", "mostly one character"},
		{"bob", "abcabcabcabc", "a repeated unit"},
		{"alice", "alicealice", "the user name twice"},
		{"alice", "my name is Alice!", "contains the user name"},
		{"bob", "1234567890", "digit sequence"},
		{"bob", "9876543210", "descending sequence"},
		{"bob", "abcdefghijkl", "alphabet"},
		{"bob", "qwertyuiop", "keyboard row"},
		{"bob", "asdfghjkl;'", "keyboard row with punctuation"},
		{"bob", "password123", "common"},
		{"bob", "PASSWORD123", "common, upper case"},
		{"bob", "basketball", "common"},
		{"bob", "1qaz2wsx3edc", "common (keyboard columns)"},
	}
	for _, c := range refused {
		err := CheckPassword(c.name, c.pw)
		var pe *PasswordError
		if !errors.As(err, &pe) || pe.ZH == "" || pe.EN == "" {
			t.Errorf("%s (%q for %s): %v, want a PasswordError", c.why, c.pw, c.name, err)
		}
	}
	accepted := []struct{ name, pw string }{
		{"bob", testPassword},
		{"al", "al likes long walks"}, // names shorter than 3 are not searched for
		{"pat", "Tr0ub4dor&3xyz"},
		{"bob", "红色的猫在屋顶上睡觉了"},
		{"bob", RandomSecret(18)},
	}
	for _, c := range accepted {
		if err := CheckPassword(c.name, c.pw); err != nil {
			t.Errorf("%q for %s refused: %v", c.pw, c.name, err)
		}
	}
	if n := len(commonPasswords()); n < 1000 {
		t.Fatalf("only %d common passwords loaded", n)
	}
	acc := New(store.NewStore(testredis.Server().Client(), testredis.Prefix("pw")))
	if err := acc.Add(context.Background(), "carol", RoleViewer, "carolcarol"); err == nil {
		t.Fatal("Add accepted the user name twice")
	}
}

// TestTokensExpireAndRevoke: a token works until its expiry, is listed with its last use, and
// dies on revocation, password reset, logout everywhere and disabling; re-enabling revives none.
func TestTokensExpireAndRevoke(t *testing.T) {
	ctx := context.Background()
	acc := New(store.NewStore(testredis.Server().Client(), testredis.Prefix("tok")))
	for _, n := range []string{"ann", "ben"} {
		if err := acc.Add(ctx, n, RoleAnalyst, testPassword); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC().Truncate(time.Second)
	acc.now = func() time.Time { return now }
	secret, tok, err := acc.NewToken(ctx, "ann", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Expires.Equal(now.Add(DefaultTokenTTL)) || !strings.HasPrefix(tok.Short(), "t_") || len(tok.Short()) != 14 {
		t.Fatalf("token %+v short %s", tok, tok.Short())
	}
	if _, _, err := acc.NewToken(ctx, "ann", "too long", MaxTokenTTL+time.Hour); err == nil {
		t.Fatal("a token past the maximum lifetime was issued")
	}
	u, got, err := acc.TokenUser(ctx, secret)
	if err != nil || u.Name != "ann" || got.ID != tok.ID {
		t.Fatalf("TokenUser: %+v %+v %v", u, got, err)
	}
	ts, err := acc.Tokens(ctx, "ann")
	if err != nil || len(ts) != 1 || ts[0].Label != "ci" || !ts[0].LastUsed.Equal(now) {
		t.Fatalf("Tokens: %+v %v", ts, err)
	}
	// Expiry.
	now = now.Add(DefaultTokenTTL)
	if _, _, err := acc.TokenUser(ctx, secret); err != ErrBadCredentials {
		t.Fatalf("expired token: %v", err)
	}
	if ts, _ := acc.Tokens(ctx, "ann"); len(ts) != 0 {
		t.Fatalf("expired token listed: %+v", ts)
	}
	now = time.Now().UTC()
	// Revocation by its holder only.
	secret, tok, _ = acc.NewToken(ctx, "ann", "", time.Hour)
	if err := acc.RevokeToken(ctx, "ben", tok.ID); err != ErrNoToken {
		t.Fatalf("ben revoked ann's token: %v", err)
	}
	if _, _, err := acc.TokenUser(ctx, secret); err != nil {
		t.Fatalf("token after another user's revocation attempt: %v", err)
	}
	if err := acc.RevokeToken(ctx, "ann", tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := acc.TokenUser(ctx, secret); err != ErrBadCredentials {
		t.Fatalf("revoked token: %v", err)
	}
	ends := []struct {
		name string
		do   func() error
	}{
		{"password reset", func() error { return acc.SetPassword(ctx, "ann", "another good password") }},
		{"logout everywhere", func() error { return acc.LogoutEverywhere(ctx, "ann") }},
		{"disable", func() error { return acc.SetDisabled(ctx, "ann", true) }},
	}
	for _, e := range ends {
		secret, _, err := acc.NewToken(ctx, "ann", e.name, 0)
		if err != nil {
			t.Fatal(err)
		}
		other, _, _ := acc.NewToken(ctx, "ben", e.name, 0)
		if err := e.do(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := acc.TokenUser(ctx, secret); err == nil {
			t.Errorf("token survived %s", e.name)
		}
		if _, _, err := acc.TokenUser(ctx, other); err != nil {
			t.Errorf("%s of ann ended ben's token: %v", e.name, err)
		}
	}
	if _, _, err := acc.NewToken(ctx, "ann", "", 0); err != ErrDisabled {
		t.Fatalf("token for a disabled user: %v", err)
	}
	if err := acc.SetDisabled(ctx, "ann", false); err != nil {
		t.Fatal(err)
	}
	if ts, _ := acc.Tokens(ctx, "ann"); len(ts) != 0 {
		t.Fatalf("re-enabling revived tokens: %+v", ts)
	}
}

// TestLoginReservationAtomic: concurrent attempts reserve at most the limit, per (user, address).
func TestLoginReservationAtomic(t *testing.T) {
	ctx := context.Background()
	acc := New(store.NewStore(testredis.Server().Client(), testredis.Prefix("lim")))
	lim := LoginLimits{PerUser: 5, PerIP: 1000, Window: time.Minute, LockFor: time.Minute}
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 25 {
		wg.Go(func() {
			if acc.ReserveLogin(ctx, "dan", "192.0.2.1", lim) == nil {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 5 {
		t.Fatalf("%d of 25 concurrent attempts reserved, limit 5", ok.Load())
	}
	// The same user from another address has its own count.
	if err := acc.ReserveLogin(ctx, "dan", "192.0.2.2", lim); err != nil {
		t.Fatalf("another address: %v", err)
	}
	// With five attempts used, a failure locks dan out from the first address only.
	if !acc.LoginFailed(ctx, "dan", "192.0.2.1", lim) {
		t.Fatal("a failure with the attempts used up did not lock")
	}
	if err := acc.ReserveLogin(ctx, "dan", "192.0.2.1", lim); err != ErrLocked {
		t.Fatalf("locked address: %v", err)
	}
	acc.LoginSucceeded(ctx, "dan", "192.0.2.2")
	if err := acc.ReserveLogin(ctx, "dan", "192.0.2.2", lim); err != nil {
		t.Fatalf("other address after the lock: %v", err)
	}
	if err := acc.Unlock(ctx, "dan"); err != nil {
		t.Fatal(err)
	}
	if err := acc.ReserveLogin(ctx, "dan", "192.0.2.1", lim); err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
}

// TestHashingBounded: concurrent verifications never run more than the bound at once, and a
// verification that finds every slot taken past the wait is refused without hashing.
func TestHashingBounded(t *testing.T) {
	ctx := context.Background()
	acc := New(store.NewStore(testredis.Server().Client(), testredis.Prefix("hash")))
	acc.LimitHashing(HashLimits{Concurrent: 2, Wait: time.Hour})
	if err := acc.Add(ctx, "eve", RoleViewer, testPassword); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			pw := testPassword
			if i%2 == 0 {
				pw = "wrong password!"
			}
			acc.Verify(ctx, "eve", pw)
		})
	}
	wg.Wait()
	if st := acc.HashStats(); st.Total != 21 || st.Peak > 2 || st.Peak < 1 {
		t.Fatalf("hash stats %+v: want 21 computations, at most 2 at once", st)
	}
	acc.LimitHashing(HashLimits{Concurrent: 1, Wait: time.Nanosecond})
	acc.slots <- struct{}{} // the one slot is taken
	before := acc.HashStats().Total
	if _, err := acc.Verify(ctx, "eve", testPassword); err != ErrBusy {
		t.Fatalf("no slot: %v", err)
	}
	if acc.HashStats().Total != before {
		t.Fatal("a refused verification hashed")
	}
}

// FuzzCheckPassword: the policy never panics on hostile form input, and a password it accepts
// keeps the length bounds and contains no user name of 3 or more characters.
func FuzzCheckPassword(f *testing.F) {
	for _, s := range []string{testPassword, "          ", "aaaaaaaaaa", "1234567890", "qwertyuiop", "alicealice", "\xff\xfe\xfd",
		strings.Repeat("ab", 600), "红色的猫在屋顶上睡觉了"} {
		f.Add("alice", s)
	}
	f.Fuzz(func(t *testing.T, name, pw string) {
		if CheckPassword(name, pw) != nil {
			return
		}
		if len(pw) > MaxPasswordLen || utf8.RuneCountInString(pw) < MinPasswordLen || strings.TrimSpace(pw) == "" {
			t.Fatalf("accepted %q", pw)
		}
		if len(name) >= 3 && strings.Contains(strings.ToLower(pw), strings.ToLower(name)) {
			t.Fatalf("accepted %q containing %q", pw, name)
		}
	})
}
