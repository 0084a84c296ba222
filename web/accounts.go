package web

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
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/argon2"
)

// Accounts keeps users, their sessions and API tokens in Redis:
//
//	web:users               set of user names
//	web:user:{name}         hash: role, hash (argon2id, PHC string), disabled ("1"), created, pw_changed
//	web:sessions:{name}     set of the user's session ids (logout everywhere, revocation)
//	web:session:{id}        hash: user, csrf, created, last; TTL = the idle timeout, capped by the absolute one
//	web:tokens:{name}       set of the user's token ids
//	web:token:{id}          hash: user, label, created
//	web:login:fail:{name}   failed logins in the current window; web:login:lock:{name} while locked
//	web:login:ip:{ip}       failed logins from one address in the current window
//
// Session and token ids are SHA-256 of the secret the client holds, so a dump of Redis does not
// yield usable cookies or tokens.
type Accounts struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
}

// NewAccounts returns the account store; prefix is the store's key prefix (the findings prefix).
func NewAccounts(rdb redis.UniversalClient, prefix string) *Accounts {
	return &Accounts{rdb: rdb, prefix: prefix + "web:", now: time.Now}
}

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

// argon2id parameters (RFC 9106 second recommended option scaled to a server that hashes only at
// login): 64 MiB, 3 passes, 2 lanes.
type argonParams struct {
	time, memory uint32
	threads      uint8
}

// DefaultArgon2 are the parameters new hashes use; verification reads them from each hash.
var DefaultArgon2 = argonParams{time: 3, memory: 64 * 1024, threads: 2}

// hashParams is what HashPassword uses (tests lower it to keep the suite fast).
var hashParams = DefaultArgon2

const argonKeyLen = 32

// HashPassword returns an argon2id hash in the PHC string format.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	p := hashParams
	key := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, p.threads,
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

func (a *Accounts) userKey(name string) string     { return a.prefix + "user:" + name }
func (a *Accounts) sessionsKey(name string) string { return a.prefix + "sessions:" + name }
func (a *Accounts) sessionKey(id string) string    { return a.prefix + "session:" + id }
func (a *Accounts) tokensKey(name string) string   { return a.prefix + "tokens:" + name }
func (a *Accounts) tokenKey(id string) string      { return a.prefix + "token:" + id }

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
	now := a.now().UTC().Format(time.RFC3339)
	ok, err := a.rdb.HSetNX(ctx, a.userKey(name), "role", string(role)).Result()
	if err != nil {
		return fmt.Errorf("add user %s: %w", name, err)
	}
	if !ok {
		return fmt.Errorf("add user %s: %w", name, ErrUserExists)
	}
	pipe := a.rdb.TxPipeline()
	pipe.HSet(ctx, a.userKey(name), "hash", h, "created", now, "pw_changed", now, "disabled", "")
	pipe.SAdd(ctx, a.prefix+"users", name)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("add user %s: %w", name, err)
	}
	return nil
}

// Get returns a user.
func (a *Accounts) Get(ctx context.Context, name string) (User, error) {
	if CheckUserName(name) != nil {
		return User{}, ErrNoUser
	}
	v, err := a.rdb.HMGet(ctx, a.userKey(name), "role", "disabled", "created", "pw_changed").Result()
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", name, err)
	}
	if v[0] == nil {
		return User{}, ErrNoUser
	}
	str := func(i int) string { s, _ := v[i].(string); return s }
	u := User{Name: name, Role: Role(str(0)), Disabled: str(1) == "1"}
	u.Created, _ = time.Parse(time.RFC3339, str(2))
	u.PwChanged, _ = time.Parse(time.RFC3339, str(3))
	return u, nil
}

// List returns every user, sorted by name.
func (a *Accounts) List(ctx context.Context) ([]User, error) {
	names, err := a.rdb.SMembers(ctx, a.prefix+"users").Result()
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
	return a.rdb.SCard(ctx, a.prefix+"users").Result()
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
	if err := a.rdb.HSet(ctx, a.userKey(name), "hash", h, "pw_changed", a.now().UTC().Format(time.RFC3339)).Err(); err != nil {
		return err
	}
	return a.RevokeSessions(ctx, name)
}

// SetDisabled disables or re-enables a user; disabling ends every session and makes tokens unusable.
func (a *Accounts) SetDisabled(ctx context.Context, name string, disabled bool) error {
	if _, err := a.Get(ctx, name); err != nil {
		return err
	}
	v := ""
	if disabled {
		v = "1"
	}
	if err := a.rdb.HSet(ctx, a.userKey(name), "disabled", v).Err(); err != nil {
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
	return a.rdb.HSet(ctx, a.userKey(name), "role", string(role)).Err()
}

// Verify checks a password. Unknown users cost the same hashing time as known ones.
func (a *Accounts) Verify(ctx context.Context, name, password string) (User, error) {
	if len(password) > MaxPasswordLen {
		return User{}, ErrBadCredentials
	}
	var h string
	if CheckUserName(name) == nil {
		h, _ = a.rdb.HGet(ctx, a.userKey(name), "hash").Result()
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
	password = randomSecret(18)
	if err := a.Add(ctx, "admin", RoleAdmin, password); err != nil {
		if errors.Is(err, ErrUserExists) {
			return "", false, nil
		}
		return "", false, err
	}
	return password, true, nil
}

// randomSecret returns n random bytes, base64url-encoded.
func randomSecret(n int) string {
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
	secret := randomSecret(32)
	id := secretID(secret)
	now := a.now()
	s := Session{ID: id, User: u, CSRF: randomSecret(32), Created: now, Last: now}
	pipe := a.rdb.TxPipeline()
	pipe.HSet(ctx, a.sessionKey(id), "user", u.Name, "csrf", s.CSRF,
		"created", strconv.FormatInt(now.UnixMilli(), 10), "last", strconv.FormatInt(now.UnixMilli(), 10))
	pipe.PExpire(ctx, a.sessionKey(id), min(lim.Idle, lim.Absolute))
	pipe.SAdd(ctx, a.sessionsKey(u.Name), id)
	if _, err := pipe.Exec(ctx); err != nil {
		return "", Session{}, fmt.Errorf("create session: %w", err)
	}
	return secret, s, nil
}

// loadSessionScript reads a session and its user in one round trip (every request makes it).
// KEYS: session key; ARGV: the user key prefix. Returns user, csrf, created, last, then the user's
// role, disabled, created, pw_changed ("" where missing; all "" when there is no session).
var loadSessionScript = redis.NewScript(`
local s = redis.call('HMGET', KEYS[1], 'user', 'csrf', 'created', 'last')
if not s[1] then return {'', '', '', '', '', '', '', ''} end
local u = redis.call('HMGET', ARGV[1] .. s[1], 'role', 'disabled', 'created', 'pw_changed')
return {s[1], s[2] or '', s[3] or '', s[4] or '', u[1] or '', u[2] or '', u[3] or '', u[4] or ''}
`)

// LoadSession returns the session of a cookie value, refreshing its idle timer. Expired sessions,
// sessions of disabled or deleted users and malformed values give ErrNoSession. The user's current
// role is read on every request, so a role change applies at once.
func (a *Accounts) LoadSession(ctx context.Context, secret string, lim SessionLimits) (Session, error) {
	return a.loadSession(ctx, secret, lim, nil)
}

// loadSession is LoadSession; queue, when set, adds more commands to the round trip that reads
// the session (the caller reads their answers after it returns).
func (a *Accounts) loadSession(ctx context.Context, secret string, lim SessionLimits, queue func(redis.Pipeliner)) (Session, error) {
	if len(secret) < 20 || len(secret) > 100 {
		return Session{}, ErrNoSession
	}
	id := secretID(secret)
	keys, args := []string{a.sessionKey(id)}, []any{a.prefix + "user:"}
	var v []string
	var err error
	if queue == nil {
		v, err = loadSessionScript.Run(ctx, a.rdb, keys, args...).StringSlice()
	} else {
		pipe := a.rdb.Pipeline()
		cmd := loadSessionScript.EvalSha(ctx, pipe, keys, args...)
		queue(pipe)
		_, _ = pipe.Exec(ctx) // errors are per command
		if v, err = cmd.StringSlice(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			v, err = loadSessionScript.Run(ctx, a.rdb, keys, args...).StringSlice()
		}
	}
	if err != nil {
		return Session{}, err
	}
	if len(v) < 8 || v[0] == "" {
		return Session{}, ErrNoSession
	}
	created, _ := strconv.ParseInt(v[2], 10, 64)
	last, _ := strconv.ParseInt(v[3], 10, 64)
	now := a.now()
	s := Session{ID: id, CSRF: v[1], Created: time.UnixMilli(created), Last: time.UnixMilli(last)}
	if now.Sub(s.Created) >= lim.Absolute || now.Sub(s.Last) >= lim.Idle {
		a.rdb.Del(ctx, a.sessionKey(id))
		return Session{}, ErrNoSession
	}
	u := User{Name: v[0], Role: Role(v[4]), Disabled: v[5] == "1"}
	u.Created, _ = time.Parse(time.RFC3339, v[6])
	u.PwChanged, _ = time.Parse(time.RFC3339, v[7])
	if CheckUserName(u.Name) != nil || u.Role == "" || u.Disabled {
		a.rdb.Del(ctx, a.sessionKey(id))
		return Session{}, ErrNoSession
	}
	s.User = u
	// Refresh the idle timer at most every few seconds: a page with several requests costs one write.
	if now.Sub(s.Last) > 5*time.Second {
		ttl := min(lim.Idle, lim.Absolute-now.Sub(s.Created))
		pipe := a.rdb.Pipeline()
		pipe.HSet(ctx, a.sessionKey(id), "last", strconv.FormatInt(now.UnixMilli(), 10))
		pipe.PExpire(ctx, a.sessionKey(id), ttl)
		_, _ = pipe.Exec(ctx)
	}
	return s, nil
}

// DeleteSession ends one session (logout).
func (a *Accounts) DeleteSession(ctx context.Context, s Session) error {
	pipe := a.rdb.TxPipeline()
	pipe.Del(ctx, a.sessionKey(s.ID))
	pipe.SRem(ctx, a.sessionsKey(s.User.Name), s.ID)
	_, err := pipe.Exec(ctx)
	return err
}

// RevokeSessions ends every session of a user (logout everywhere, password change, disabling).
func (a *Accounts) RevokeSessions(ctx context.Context, name string) error {
	ids, err := a.rdb.SMembers(ctx, a.sessionsKey(name)).Result()
	if err != nil {
		return err
	}
	pipe := a.rdb.TxPipeline()
	for _, id := range ids {
		pipe.Del(ctx, a.sessionKey(id))
	}
	pipe.Del(ctx, a.sessionsKey(name))
	_, err = pipe.Exec(ctx)
	return err
}

// SessionCount returns how many sessions of the user are still alive.
func (a *Accounts) SessionCount(ctx context.Context, name string) (int, error) {
	ids, err := a.rdb.SMembers(ctx, a.sessionsKey(name)).Result()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if ok, _ := a.rdb.Exists(ctx, a.sessionKey(id)).Result(); ok == 1 {
			n++
		} else {
			a.rdb.SRem(ctx, a.sessionsKey(name), id)
		}
	}
	return n, nil
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
	secret := TokenPrefix + randomSecret(32)
	id := secretID(secret)
	pipe := a.rdb.TxPipeline()
	pipe.HSet(ctx, a.tokenKey(id), "user", name, "label", label, "created", a.now().UTC().Format(time.RFC3339))
	pipe.SAdd(ctx, a.tokensKey(name), id)
	if _, err := pipe.Exec(ctx); err != nil {
		return "", err
	}
	return secret, nil
}

// TokenUser returns the user an API token belongs to.
func (a *Accounts) TokenUser(ctx context.Context, secret string) (User, error) {
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) > 100 {
		return User{}, ErrBadCredentials
	}
	name, err := a.rdb.HGet(ctx, a.tokenKey(secretID(secret)), "user").Result()
	if err != nil {
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
	ids, err := a.rdb.SMembers(ctx, a.tokensKey(name)).Result()
	if err != nil {
		return err
	}
	pipe := a.rdb.TxPipeline()
	for _, id := range ids {
		pipe.Del(ctx, a.tokenKey(id))
	}
	pipe.Del(ctx, a.tokensKey(name))
	_, err = pipe.Exec(ctx)
	return err
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
	pipe := a.rdb.Pipeline()
	lock := pipe.Exists(ctx, a.prefix+"login:lock:"+name)
	ipn := pipe.Get(ctx, a.prefix+"login:ip:"+ip)
	_, _ = pipe.Exec(ctx)
	if n, _ := ipn.Int(); n >= lim.PerIP {
		return ErrTooManyAttempts
	}
	if lock.Val() == 1 {
		return ErrLocked
	}
	return nil
}

// LoginFailed counts a failure; it returns true when this failure locked the account.
func (a *Accounts) LoginFailed(ctx context.Context, name, ip string, lim LoginLimits) (locked bool) {
	pipe := a.rdb.Pipeline()
	un := pipe.Incr(ctx, a.prefix+"login:fail:"+name)
	pipe.ExpireNX(ctx, a.prefix+"login:fail:"+name, lim.Window)
	pipe.Incr(ctx, a.prefix+"login:ip:"+ip)
	pipe.ExpireNX(ctx, a.prefix+"login:ip:"+ip, lim.Window)
	_, _ = pipe.Exec(ctx)
	if un.Val() >= int64(lim.PerUser) {
		a.rdb.Set(ctx, a.prefix+"login:lock:"+name, "1", lim.LockFor)
		a.rdb.Del(ctx, a.prefix+"login:fail:"+name)
		return true
	}
	return false
}

// LoginSucceeded clears the user's failure count.
func (a *Accounts) LoginSucceeded(ctx context.Context, name string) {
	a.rdb.Del(ctx, a.prefix+"login:fail:"+name)
}

// Unlock lifts a lock-out (admin action).
func (a *Accounts) Unlock(ctx context.Context, name string) error {
	return a.rdb.Del(ctx, a.prefix+"login:lock:"+name, a.prefix+"login:fail:"+name).Err()
}
