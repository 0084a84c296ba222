// Package accounts is the dashboard's users: argon2id password hashing, sessions, API tokens and
// the login lock-out. The store keeps the records; this package decides what they mean.
package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
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
}

// New returns the accounts kept in st.
func New(st *store.Store) *Accounts {
	return &Accounts{st: st, now: time.Now}
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

// CheckPassword enforces the password policy.
func CheckPassword(pw string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLen || len(pw) > MaxPasswordLen || !utf8.ValidString(pw) {
		return fmt.Errorf("密码须为 %d 至 %d 字节的 UTF-8 / password must be %d-%d bytes of UTF-8 (at least %d characters)",
			MinPasswordLen, MaxPasswordLen, MinPasswordLen, MaxPasswordLen, MinPasswordLen)
	}
	return nil
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
	if err := CheckPassword(password); err != nil {
		return err
	}
	h, err := HashPassword(password)
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

// SetPassword replaces a user's password and ends every session of the user.
func (a *Accounts) SetPassword(ctx context.Context, name, password string) error {
	if _, err := a.Get(ctx, name); err != nil {
		return err
	}
	if err := CheckPassword(password); err != nil {
		return err
	}
	h, err := HashPassword(password)
	if err != nil {
		return err
	}
	if err := a.st.SetPasswordHash(ctx, name, h, a.now()); err != nil {
		return err
	}
	return a.RevokeSessions(ctx, name)
}

// SetDisabled disables or re-enables a user; disabling ends every session and makes tokens unusable.
func (a *Accounts) SetDisabled(ctx context.Context, name string, disabled bool) error {
	if _, err := a.Get(ctx, name); err != nil {
		return err
	}
	if err := a.st.SetUserDisabled(ctx, name, disabled); err != nil {
		return err
	}
	if disabled {
		return a.RevokeSessions(ctx, name)
	}
	return nil
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

// Verify checks a password. Unknown users cost the same hashing time as known ones.
func (a *Accounts) Verify(ctx context.Context, name, password string) (User, error) {
	if len(password) > MaxPasswordLen {
		return User{}, ErrBadCredentials
	}
	var h string
	if CheckUserName(name) == nil {
		h, _ = a.st.PasswordHash(ctx, name)
	}
	if h == "" {
		VerifyPassword(password, dummyPasswordHash())
		return User{}, ErrBadCredentials
	}
	if !VerifyPassword(password, h) {
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

// NewToken creates an API token for a user (for scripts, sent as "Authorization: Bearer …").
func (a *Accounts) NewToken(ctx context.Context, name, label string) (string, error) {
	if _, err := a.Get(ctx, name); err != nil {
		return "", err
	}
	if len(label) > 200 || !utf8.ValidString(label) {
		return "", errors.New("token label: at most 200 bytes of UTF-8")
	}
	secret := TokenPrefix + RandomSecret(32)
	id := secretID(secret)
	if err := a.st.AddToken(ctx, id, name, label, a.now()); err != nil {
		return "", err
	}
	return secret, nil
}

// TokenUser returns the user an API token belongs to.
func (a *Accounts) TokenUser(ctx context.Context, secret string) (User, error) {
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) > 100 {
		return User{}, ErrBadCredentials
	}
	name, err := a.st.TokenOwner(ctx, secretID(secret))
	if err != nil || name == "" {
		return User{}, ErrBadCredentials
	}
	u, err := a.Get(ctx, name)
	if err != nil {
		return User{}, ErrBadCredentials
	}
	if u.Disabled {
		return User{}, ErrDisabled
	}
	return u, nil
}

// RevokeTokens deletes every API token of a user.
func (a *Accounts) RevokeTokens(ctx context.Context, name string) error {
	return a.st.DeleteTokens(ctx, name)
}

// LoginLimits bound password guessing.
type LoginLimits struct {
	// PerUser failures within Window lock the account for LockFor.
	PerUser int
	// PerIP failures within Window refuse further attempts from that address until the window ends.
	PerIP   int
	Window  time.Duration
	LockFor time.Duration
}

// DefaultLoginLimits: 5 failures lock an account for 15 minutes; 30 failures from one address
// within 15 minutes refuse that address.
var DefaultLoginLimits = LoginLimits{PerUser: 5, PerIP: 30, Window: 15 * time.Minute, LockFor: 15 * time.Minute}

// ErrLocked and ErrTooManyAttempts refuse a login before the password is checked.
var (
	ErrLocked          = errors.New("账号因多次登录失败已被临时锁定 / account temporarily locked after failed logins")
	ErrTooManyAttempts = errors.New("登录尝试过多，请稍后再试 / too many login attempts, try later")
)

// CheckLoginAllowed refuses a login attempt from ip for name when either is over its limit.
func (a *Accounts) CheckLoginAllowed(ctx context.Context, name, ip string, lim LoginLimits) error {
	locked, ipn := a.st.LoginState(ctx, name, ip)
	if ipn >= int64(lim.PerIP) {
		return ErrTooManyAttempts
	}
	if locked {
		return ErrLocked
	}
	return nil
}

// LoginFailed counts a failure; it returns true when this failure locked the account.
func (a *Accounts) LoginFailed(ctx context.Context, name, ip string, lim LoginLimits) (locked bool) {
	if a.st.CountLoginFailure(ctx, name, ip, lim.Window) >= int64(lim.PerUser) {
		a.st.LockLogin(ctx, name, lim.LockFor)
		return true
	}
	return false
}

// LoginSucceeded clears the user's failure count.
func (a *Accounts) LoginSucceeded(ctx context.Context, name string) {
	a.st.ClearLoginFailures(ctx, name)
}

// Unlock lifts a lock-out (admin action).
func (a *Accounts) Unlock(ctx context.Context, name string) error {
	return a.st.Unlock(ctx, name)
}
