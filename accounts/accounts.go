// Package accounts is the dashboard's users: argon2id password hashing, sessions, API tokens and
// the login lock-out. The store keeps the records; this package decides what they mean.
package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"pilmon/store"
)

// Accounts are the dashboard's users, their sessions and API tokens, and the login lock-out,
// kept in the store (see store/accounts.go for the layout). Session and token ids are SHA-256 of
// the secret the client holds, so that a dump of Redis does not yield usable cookies or tokens.
type Accounts struct {
	st  *store.Store
	now func() time.Time

	// slots bound how many argon2id computations run at once: each takes the hash's memory
	// (64 MiB by default), so unbounded concurrent logins exhaust the server's memory.
	slots  chan struct{}
	wait   time.Duration
	hashes atomic.Int64 // computations started
	active atomic.Int64
	peak   atomic.Int64
}

// New returns the accounts kept in st, hashing with DefaultHashLimits.
func New(st *store.Store) *Accounts {
	a := &Accounts{st: st, now: time.Now}
	a.LimitHashing(DefaultHashLimits)
	return a
}

// HashLimits bound password hashing.
type HashLimits struct {
	// Concurrent computations at most; more wait up to Wait for a slot, then fail with ErrBusy.
	Concurrent int
	Wait       time.Duration
}

// DefaultHashLimits: 2 computations at once (128 MiB with the default parameters), a request
// waits up to 3 s for its turn.
var DefaultHashLimits = HashLimits{Concurrent: 2, Wait: 3 * time.Second}

// LimitHashing sets the hashing limits (zero fields take the defaults). Call it before use.
func (a *Accounts) LimitHashing(l HashLimits) {
	if l.Concurrent <= 0 {
		l.Concurrent = DefaultHashLimits.Concurrent
	}
	if l.Wait <= 0 {
		l.Wait = DefaultHashLimits.Wait
	}
	a.slots = make(chan struct{}, l.Concurrent)
	a.wait = l.Wait
}

// HashStats are counts of argon2id computations since New.
type HashStats struct {
	Total int64 // computations started
	Peak  int64 // most running at once
}

// HashStats returns how many argon2id computations ran and the most that ran at once.
func (a *Accounts) HashStats() HashStats {
	return HashStats{Total: a.hashes.Load(), Peak: a.peak.Load()}
}

// ErrBusy refuses a login or password change when every hashing slot stayed taken for the wait.
var ErrBusy = errors.New("服务器繁忙，请稍后再试 / server busy, try again shortly")

// hashing runs f (one argon2id computation) in a slot.
func (a *Accounts) hashing(ctx context.Context, f func()) error {
	t := time.NewTimer(a.wait)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return ErrBusy
	}
	defer func() { <-a.slots }()
	a.hashes.Add(1)
	n := a.active.Add(1)
	defer a.active.Add(-1)
	for {
		p := a.peak.Load()
		if n <= p || a.peak.CompareAndSwap(p, n) {
			break
		}
	}
	f()
	return nil
}

// hash is HashPassword in a hashing slot.
func (a *Accounts) hash(ctx context.Context, pw string) (string, error) {
	var h string
	var err error
	if serr := a.hashing(ctx, func() { h, err = HashPassword(pw) }); serr != nil {
		return "", serr
	}
	return h, err
}

// Role is what a user may do; the dashboard's authorisation policy says what each role may do.
type Role string

const (
	// RoleAdmin manages users and targets, reads the audit history and the dead-letter list.
	RoleAdmin Role = "admin"
	// RoleProsecutor makes every triage and case transition and exports case files.
	RoleProsecutor Role = "prosecutor"
	// RoleAnalyst writes notes and checklist results, moves new findings into review and proposes
	// escalation.
	RoleAnalyst Role = "analyst"
	// RoleViewer reads.
	RoleViewer Role = "viewer"
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RoleProsecutor, RoleAnalyst, RoleViewer}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// User is an account.
type User struct {
	Name      string
	Role      Role
	Disabled  bool
	Created   time.Time
	PwChanged time.Time
}

var (
	// ErrBadCredentials is returned for an unknown user or a wrong password (the two are not told apart).
	ErrBadCredentials = errors.New("用户名或密码错误 / wrong user name or password")
	// ErrUserExists is returned when adding a name that is taken.
	ErrUserExists = errors.New("用户已存在 / user exists")
	// ErrNoUser is returned for an unknown user name.
	ErrNoUser = errors.New("用户不存在 / no such user")
	// ErrDisabled is returned when a disabled account tries to log in or use a token.
	ErrDisabled = errors.New("账号已停用 / account disabled")
	// ErrNoSession is returned for a missing, expired or revoked session.
	ErrNoSession = errors.New("会话无效或已过期 / session invalid or expired")
)

var userNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// CheckUserName reports whether name can be an account name: 1-64 of a-z 0-9 . _ -, starting
// with a letter or digit.
func CheckUserName(name string) error {
	if !userNameRE.MatchString(name) {
		return fmt.Errorf("用户名无效 / bad user name %.80q: want 1-64 of a-z 0-9 . _ -", name)
	}
	return nil
}

// Password limits: long enough to resist guessing, bounded so hashing cannot be abused.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 1024
)

//go:embed common_passwords.txt
var commonPasswordsText string

// commonPasswords are the common passwords of MinPasswordLen characters or more, lower-cased
// (common_passwords.txt says where they come from).
var commonPasswords = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for line := range strings.SplitSeq(commonPasswordsText, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			m[line] = true
		}
	}
	return m
})

// PasswordError says why a password was refused, in both languages.
type PasswordError struct{ ZH, EN string }

func (e *PasswordError) Error() string { return e.ZH + " / " + e.EN }

// CheckPassword enforces the password policy for user name: MinPasswordLen-MaxPasswordLen of
// UTF-8, not only white space, not mostly one character, not a keyboard or alphabet sequence or a
// short unit repeated, not a common password and not containing the user name. Errors are
// *PasswordError.
func CheckPassword(name, pw string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLen || len(pw) > MaxPasswordLen || !utf8.ValidString(pw) {
		return &PasswordError{fmt.Sprintf("密码须为 %d 至 %d 字节的 UTF-8（至少 %d 个字符）", MinPasswordLen, MaxPasswordLen, MinPasswordLen),
			fmt.Sprintf("the password must be %d-%d bytes of UTF-8 (at least %d characters)", MinPasswordLen, MaxPasswordLen, MinPasswordLen)}
	}
	if strings.TrimSpace(pw) == "" {
		return &PasswordError{"密码不能只有空白字符", "the password cannot be only white space"}
	}
	lower := strings.ToLower(pw)
	rs := []rune(lower)
	if mostlyOneRune(rs) || repeatedUnit(rs) {
		return &PasswordError{"密码不能主要由同一字符或重复片段组成", "the password cannot be mostly one character or a repeated pattern"}
	}
	if sequential(rs) {
		return &PasswordError{"密码不能是连续的字母、数字或键盘序列", "the password cannot be a run of letters, digits or keys"}
	}
	if commonPasswords()[lower] {
		return &PasswordError{"该密码属于常见密码，请换一个", "this password is one of the most common ones: choose another"}
	}
	if n := strings.ToLower(name); len(n) >= 3 && strings.Contains(lower, n) {
		return &PasswordError{"密码不能包含用户名", "the password cannot contain the user name"}
	}
	return nil
}

// mostlyOneRune: one character makes up half of the password or more.
func mostlyOneRune(rs []rune) bool {
	n := map[rune]int{}
	for _, r := range rs {
		n[r]++
		if 2*n[r] >= len(rs) {
			return true
		}
	}
	return false
}

// repeatedUnit: the password is a unit of at most half its length repeated ("abcabcabca").
func repeatedUnit(rs []rune) bool {
	for p := 1; 2*p <= len(rs); p++ {
		ok := true
		for i := p; i < len(rs) && ok; i++ {
			ok = rs[i] == rs[i-p]
		}
		if ok {
			return true
		}
	}
	return false
}

// keyboardRows are runs a password must not mostly follow.
var keyboardRows = []string{"`1234567890-=", "qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./", "abcdefghijklmnopqrstuvwxyz"}

// sequential: at least 80 % of the steps between neighbouring characters go to the next or
// previous one in code point order or along a keyboard row ("1234567890", "qwertyuiop",
// "9876543210", "abcdefghijk").
func sequential(rs []rune) bool {
	next := func(a, b rune) bool {
		if d := a - b; d == 1 || d == -1 {
			return true
		}
		for _, row := range keyboardRows {
			i, j := strings.IndexRune(row, a), strings.IndexRune(row, b)
			if i >= 0 && j >= 0 && (i-j == 1 || j-i == 1) {
				return true
			}
		}
		return false
	}
	steps := 0
	for i := 1; i < len(rs); i++ {
		if next(rs[i-1], rs[i]) {
			steps++
		}
	}
	return steps*5 >= (len(rs)-1)*4
}

// Argon2Params are argon2id parameters: passes, memory in KiB, lanes.
type Argon2Params struct {
	Time, Memory uint32
	Threads      uint8
}

// DefaultArgon2 are the parameters new hashes use (RFC 9106 second recommended option scaled to a
// server that hashes only at login: 64 MiB, 3 passes, 2 lanes); verification reads them from each
// hash.
var DefaultArgon2 = Argon2Params{Time: 3, Memory: 64 * 1024, Threads: 2}

// hashParams is what HashPassword uses.
var hashParams = DefaultArgon2

// UseArgon2 makes HashPassword use p from now on. Test suites that log in hundreds of times call
// it first with cheap parameters; a server never does.
func UseArgon2(p Argon2Params) {
	hashParams = p
	dummyHash, _ = HashPassword("pilmon-dummy-password")
}

const argonKeyLen = 32

// HashPassword returns an argon2id hash in the PHC string format.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	p := hashParams
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword checks pw against a PHC argon2id hash in constant time.
func VerifyPassword(pw, phc string) bool {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v=19" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	// Bounds keep a tampered hash from turning a login into a memory exhaustion.
	if m == 0 || m > 1<<20 || t == 0 || t > 20 || p == 0 || p > 16 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is verified against when the user does not exist, so that timing does not reveal it.
// It is computed on first use, not at package init: argon2id takes 64 MiB and a few hundred
// milliseconds, which every pilmon command (not only serve) would otherwise pay at start.
var (
	dummyHash     string
	dummyHashOnce sync.Once
)

func dummyPasswordHash() string {
	dummyHashOnce.Do(func() {
		if dummyHash == "" {
			dummyHash, _ = HashPassword("pilmon-dummy-password")
		}
	})
	return dummyHash
}

// Add creates a user. It fails with ErrUserExists when the name is taken.
func (a *Accounts) Add(ctx context.Context, name string, role Role, password string) error {
	if err := CheckUserName(name); err != nil {
		return err
	}
	if !role.Valid() {
		return fmt.Errorf("角色无效 / unknown role %q (want one of %v)", role, Roles)
	}
	if err := CheckPassword(name, password); err != nil {
		return err
	}
	h, err := a.hash(ctx, password)
	if err != nil {
		return err
	}
	ok, err := a.st.AddUser(ctx, name, string(role), h, a.now())
	if err != nil {
		return fmt.Errorf("add user %s: %w", name, err)
	}
	if !ok {
		return fmt.Errorf("add user %s: %w", name, ErrUserExists)
	}
	return nil
}

// Get returns a user.
func (a *Accounts) Get(ctx context.Context, name string) (User, error) {
	if CheckUserName(name) != nil {
		return User{}, ErrNoUser
	}
	r, err := a.st.User(ctx, name)
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", name, err)
	}
	if r.Name == "" {
		return User{}, ErrNoUser
	}
	return userOf(r), nil
}

func userOf(r store.UserRecord) User {
	return User{Name: r.Name, Role: Role(r.Role), Disabled: r.Disabled, Created: r.Created, PwChanged: r.PwChanged}
}

// List returns every user, sorted by name.
func (a *Accounts) List(ctx context.Context) ([]User, error) {
	names, err := a.st.UserNames(ctx)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]User, 0, len(names))
	for _, n := range names {
		u, err := a.Get(ctx, n)
		if err != nil {
			continue
		}
		out = append(out, u)
	}
	return out, nil
}

// Count returns the number of users.
func (a *Accounts) Count(ctx context.Context) (int64, error) {
	return a.st.UserCount(ctx)
}

// SetPassword replaces a user's password and ends every session and API token of the user: a
// reset after a suspected compromise must shut out whoever held them.
func (a *Accounts) SetPassword(ctx context.Context, name, password string) error {
	if _, err := a.Get(ctx, name); err != nil {
		return err
	}
	if err := CheckPassword(name, password); err != nil {
		return err
	}
	h, err := a.hash(ctx, password)
	if err != nil {
		return err
	}
	if err := a.st.SetPasswordHash(ctx, name, h, a.now()); err != nil {
		return err
	}
	return a.LogoutEverywhere(ctx, name)
}

// SetDisabled disables or re-enables a user. Disabling ends every session and deletes every API
// token, so that re-enabling the user revives none of them.
func (a *Accounts) SetDisabled(ctx context.Context, name string, disabled bool) error {
	if _, err := a.Get(ctx, name); err != nil {
		return err
	}
	if err := a.st.SetUserDisabled(ctx, name, disabled); err != nil {
		return err
	}
	if disabled {
		return a.LogoutEverywhere(ctx, name)
	}
	return nil
}

// LogoutEverywhere ends every session and deletes every API token of a user.
func (a *Accounts) LogoutEverywhere(ctx context.Context, name string) error {
	if err := a.RevokeSessions(ctx, name); err != nil {
		return err
	}
	return a.RevokeTokens(ctx, name)
}

// SetRole changes a user's role; it applies to existing sessions at their next request.
func (a *Accounts) SetRole(ctx context.Context, name string, role Role) error {
	if !role.Valid() {
		return fmt.Errorf("角色无效 / unknown role %q", role)
	}
	if _, err := a.Get(ctx, name); err != nil {
		return err
	}
	return a.st.SetUserRole(ctx, name, string(role))
}

// Verify checks a password in a hashing slot (ErrBusy when none came free in time). Unknown users
// cost the same hashing time as known ones.
func (a *Accounts) Verify(ctx context.Context, name, password string) (User, error) {
	if len(password) > MaxPasswordLen {
		return User{}, ErrBadCredentials
	}
	var h string
	if CheckUserName(name) == nil {
		h, _ = a.st.PasswordHash(ctx, name)
	}
	if h == "" {
		h = dummyPasswordHash()
		name = ""
	}
	ok := false
	if err := a.hashing(ctx, func() { ok = VerifyPassword(password, h) }); err != nil {
		return User{}, err
	}
	if !ok || name == "" {
		return User{}, ErrBadCredentials
	}
	u, err := a.Get(ctx, name)
	if err != nil {
		return User{}, err
	}
	if u.Disabled {
		return User{}, ErrDisabled
	}
	return u, nil
}

// EnsureAdmin creates the user "admin" with a random password when no user exists yet, and
// returns that password (shown once). created is false when users already exist.
func (a *Accounts) EnsureAdmin(ctx context.Context) (password string, created bool, err error) {
	n, err := a.Count(ctx)
	if err != nil {
		return "", false, err
	}
	if n > 0 {
		return "", false, nil
	}
	password = RandomSecret(18)
	if err := a.Add(ctx, "admin", RoleAdmin, password); err != nil {
		if errors.Is(err, ErrUserExists) {
			return "", false, nil
		}
		return "", false, err
	}
	return password, true, nil
}

// RandomSecret returns n random bytes, base64url-encoded.
func RandomSecret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func secretID(secret string) string {
	s := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(s[:])
}

// Session is a logged-in browser.
type Session struct {
	ID      string // SHA-256 of the cookie value
	User    User
	CSRF    string
	Created time.Time
	Last    time.Time
}

// SessionLimits are the idle and absolute lifetimes of a session.
type SessionLimits struct {
	Idle     time.Duration
	Absolute time.Duration
}

// CreateSession starts a session for u and returns the cookie value.
func (a *Accounts) CreateSession(ctx context.Context, u User, lim SessionLimits) (string, Session, error) {
	secret := RandomSecret(32)
	id := secretID(secret)
	now := a.now()
	s := Session{ID: id, User: u, CSRF: RandomSecret(32), Created: now, Last: now}
	if err := a.st.CreateSession(ctx, id, u.Name, s.CSRF, now, min(lim.Idle, lim.Absolute)); err != nil {
		return "", Session{}, fmt.Errorf("create session: %w", err)
	}
	return secret, s, nil
}

// SessionID returns the id a session cookie value is stored under; ok is false for a value that
// cannot be a session.
func SessionID(secret string) (id string, ok bool) {
	if len(secret) < 20 || len(secret) > 100 {
		return "", false
	}
	return secretID(secret), true
}

// LoadSession returns the session of a cookie value, refreshing its idle timer. Expired sessions,
// sessions of disabled or deleted users and malformed values give ErrNoSession. The user's current
// role is read on every request, so a role change applies at once.
func (a *Accounts) LoadSession(ctx context.Context, secret string, lim SessionLimits) (Session, error) {
	id, ok := SessionID(secret)
	if !ok {
		return Session{}, ErrNoSession
	}
	r, err := a.st.Session(ctx, id)
	if err != nil {
		return Session{}, err
	}
	return a.Accept(ctx, r, lim)
}

// Accept checks a session record read from the store (LoadSession reads it; a page reads it with
// store.PageState) and returns the session, refreshing its idle timer. Expired sessions and
// sessions of disabled or deleted users give ErrNoSession, and are deleted.
func (a *Accounts) Accept(ctx context.Context, r store.SessionRecord, lim SessionLimits) (Session, error) {
	if r.User == "" {
		return Session{}, ErrNoSession
	}
	now := a.now()
	s := Session{ID: r.ID, CSRF: r.CSRF, Created: r.Created, Last: r.Last}
	if now.Sub(s.Created) >= lim.Absolute || now.Sub(s.Last) >= lim.Idle {
		_ = a.st.DropSession(ctx, r.ID)
		return Session{}, ErrNoSession
	}
	u := userOf(r.Account)
	u.Name = r.User
	if CheckUserName(u.Name) != nil || u.Role == "" || u.Disabled {
		_ = a.st.DropSession(ctx, r.ID)
		return Session{}, ErrNoSession
	}
	s.User = u
	// Refresh the idle timer at most every few seconds: a page with several requests costs one write.
	if now.Sub(s.Last) > 5*time.Second {
		_ = a.st.TouchSession(ctx, r.ID, now, min(lim.Idle, lim.Absolute-now.Sub(s.Created)))
	}
	return s, nil
}

// DeleteSession ends one session (logout).
func (a *Accounts) DeleteSession(ctx context.Context, s Session) error {
	return a.st.DeleteSession(ctx, s.ID, s.User.Name)
}

// RevokeSessions ends every session of a user (logout everywhere, password change, disabling).
func (a *Accounts) RevokeSessions(ctx context.Context, name string) error {
	return a.st.DeleteSessions(ctx, name)
}

// SessionCount returns how many sessions of the user are still alive.
func (a *Accounts) SessionCount(ctx context.Context, name string) (int, error) {
	return a.st.LiveSessions(ctx, name)
}

// TokenPrefix starts every API token, so that a leaked one is easy to recognise.
const TokenPrefix = "pmt_"

// Token lifetimes: DefaultTokenTTL unless the creator says otherwise, never more than MaxTokenTTL.
const (
	DefaultTokenTTL = 90 * 24 * time.Hour
	MaxTokenTTL     = 366 * 24 * time.Hour
)

// Token is an API token as its holder sees it (never the secret, which is shown once).
type Token struct {
	ID       string // SHA-256 of the secret
	User     string
	Label    string
	Created  time.Time
	Expires  time.Time
	LastUsed time.Time // zero: never used
}

// Short names the token in audit entries and history without giving anything usable away:
// "t_" and the first 12 hex digits of its id.
func (t Token) Short() string {
	if len(t.ID) < 12 {
		return "t_" + t.ID
	}
	return "t_" + t.ID[:12]
}

func tokenOf(r store.TokenRecord) Token {
	return Token{ID: r.ID, User: r.User, Label: r.Label, Created: r.Created, Expires: r.Expires, LastUsed: r.LastUsed}
}

// NewToken creates an API token for a user (for scripts, sent as "Authorization: Bearer …"),
// valid for ttl (zero: DefaultTokenTTL; at most MaxTokenTTL). The secret is returned once.
func (a *Accounts) NewToken(ctx context.Context, name, label string, ttl time.Duration) (string, Token, error) {
	u, err := a.Get(ctx, name)
	if err != nil {
		return "", Token{}, err
	}
	if u.Disabled {
		return "", Token{}, ErrDisabled
	}
	if len(label) > 200 || !utf8.ValidString(label) {
		return "", Token{}, errors.New("令牌用途最多 200 字节 UTF-8 / token label: at most 200 bytes of UTF-8")
	}
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	if ttl < time.Minute || ttl > MaxTokenTTL {
		return "", Token{}, fmt.Errorf("令牌有效期须在 1 分钟至 %d 天之间 / token lifetime must be 1 minute to %d days",
			int(MaxTokenTTL.Hours()/24), int(MaxTokenTTL.Hours()/24))
	}
	secret := TokenPrefix + RandomSecret(32)
	now := a.now()
	t := Token{ID: secretID(secret), User: name, Label: label, Created: now.UTC().Truncate(time.Second),
		Expires: now.Add(ttl).UTC().Truncate(time.Second)}
	if err := a.st.AddToken(ctx, t.ID, name, label, t.Created, t.Expires); err != nil {
		return "", Token{}, err
	}
	return secret, t, nil
}

// TokenUser returns the user an API token belongs to and the token. Unknown, revoked and expired
// tokens give ErrBadCredentials; tokens of a disabled user ErrDisabled.
func (a *Accounts) TokenUser(ctx context.Context, secret string) (User, Token, error) {
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) > 100 {
		return User{}, Token{}, ErrBadCredentials
	}
	r, err := a.st.Token(ctx, secretID(secret))
	if err != nil || r.User == "" {
		return User{}, Token{}, ErrBadCredentials
	}
	t := tokenOf(r)
	now := a.now()
	if !now.Before(t.Expires) {
		return User{}, Token{}, ErrBadCredentials
	}
	u, err := a.Get(ctx, t.User)
	if err != nil {
		return User{}, Token{}, ErrBadCredentials
	}
	if u.Disabled {
		return User{}, Token{}, ErrDisabled
	}
	// The list page shows when a token was last used; to the minute is enough, and saves a write
	// per request.
	if now.Sub(t.LastUsed) >= time.Minute {
		_ = a.st.TouchToken(ctx, t.ID, now)
		t.LastUsed = now
	}
	return u, t, nil
}

// Tokens returns a user's unexpired API tokens, newest first.
func (a *Accounts) Tokens(ctx context.Context, name string) ([]Token, error) {
	rs, err := a.st.Tokens(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("tokens of %s: %w", name, err)
	}
	now := a.now()
	out := make([]Token, 0, len(rs))
	for _, r := range rs {
		if t := tokenOf(r); now.Before(t.Expires) {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// ErrNoToken is returned when revoking a token the user does not have.
var ErrNoToken = errors.New("令牌不存在 / no such token")

// RevokeToken deletes one API token of a user.
func (a *Accounts) RevokeToken(ctx context.Context, name, id string) error {
	ok, err := a.st.DeleteToken(ctx, id, name)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNoToken
	}
	return nil
}

// RevokeTokens deletes every API token of a user.
func (a *Accounts) RevokeTokens(ctx context.Context, name string) error {
	return a.st.DeleteTokens(ctx, name)
}

// LoginLimits bound password guessing. Attempts are counted per (user, client address), so that
// a guesser locks the account only from the guesser's address, and per address over all users.
type LoginLimits struct {
	// PerUser attempts of one user from one address within Window lock that user out from that
	// address for LockFor.
	PerUser int
	// PerIP attempts from one address, any user, within Window refuse that address until the
	// window ends. Users behind one proxy share it: it is set high.
	PerIP   int
	Window  time.Duration
	LockFor time.Duration
}

// DefaultLoginLimits: 5 failures of one user from one address lock that user out from it for 15
// minutes; 200 failures from one address within 15 minutes refuse that address.
var DefaultLoginLimits = LoginLimits{PerUser: 5, PerIP: 200, Window: 15 * time.Minute, LockFor: 15 * time.Minute}

// ErrLocked and ErrTooManyAttempts refuse a login before the password is checked.
var (
	ErrLocked          = errors.New("账号因多次登录失败已被临时锁定 / account temporarily locked after failed logins")
	ErrTooManyAttempts = errors.New("登录尝试过多，请稍后再试 / too many login attempts, try later")
)

// ReserveLogin counts a login attempt of name from ip before the password is checked, atomically,
// so that concurrent guesses cannot outrun the limit; it refuses the attempt (ErrLocked,
// ErrTooManyAttempts) when the limit is reached. A reserved attempt ends in LoginFailed,
// LoginSucceeded or ReleaseLogin.
func (a *Accounts) ReserveLogin(ctx context.Context, name, ip string, lim LoginLimits) error {
	r, err := a.st.ReserveLogin(ctx, name, ip, lim.PerUser, lim.PerIP, lim.Window)
	if err != nil {
		return err
	}
	switch r {
	case store.LoginLocked:
		return ErrLocked
	case store.LoginTooMany:
		return ErrTooManyAttempts
	}
	return nil
}

// LoginFailed ends a reserved attempt that failed; it returns true when it locked name out from ip.
func (a *Accounts) LoginFailed(ctx context.Context, name, ip string, lim LoginLimits) (locked bool) {
	return a.st.LoginFailed(ctx, name, ip, lim.PerUser, lim.LockFor)
}

// LoginSucceeded ends a reserved attempt that succeeded: the user's failures from ip are forgotten.
func (a *Accounts) LoginSucceeded(ctx context.Context, name, ip string) {
	a.st.LoginSucceeded(ctx, name, ip)
}

// ReleaseLogin gives back a reserved attempt whose password was not checked (ErrBusy).
func (a *Accounts) ReleaseLogin(ctx context.Context, name, ip string) {
	a.st.ReleaseLogin(ctx, name, ip)
}

// Unlock lifts the user's lock-outs (admin action).
func (a *Accounts) Unlock(ctx context.Context, name string) error {
	return a.st.Unlock(ctx, name)
}
