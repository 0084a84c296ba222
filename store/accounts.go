package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The dashboard's accounts (package accounts decides; this file only stores):
//
//	web:users               set of user names
//	web:user:{name}         hash: role, hash (argon2id, PHC string), disabled ("1"), created, pw_changed
//	web:sessions:{name}     set of the user's session ids (logout everywhere, revocation)
//	web:session:{id}        hash: user, csrf, created, last (Unix ms); TTL = the idle timeout,
//	                        capped by the absolute one
//	web:tokens:{name}       set of the user's token ids
//	web:token:{id}          hash: user, label, created, expires, last_used (RFC 3339); expires in
//	                        Redis at its expiry too
//	web:login:fail:{name}:{ip}  login attempts of name from ip in the current window that have not
//	                        succeeded (reserved before the password is checked, released on success)
//	web:login:lock:{name}:{ip}  while name is locked out from ip
//	web:login:locks:{name}  set of the addresses name is locked out from (for Unlock)
//	web:login:ip:{ip}       unreleased login attempts from one address, any user, in the window
//
// Session and token ids are what the caller passes (accounts passes SHA-256 of the secret the
// client holds, so that a dump of Redis does not yield usable cookies or tokens).

func (s *Store) webKey(parts ...string) string {
	k := s.prefix + "web:"
	for i, p := range parts {
		if i > 0 {
			k += ":"
		}
		k += p
	}
	return k
}

func (s *Store) userKey(name string) string     { return s.webKey("user", name) }
func (s *Store) sessionsKey(name string) string { return s.webKey("sessions", name) }
func (s *Store) sessionKey(id string) string    { return s.webKey("session", id) }
func (s *Store) tokensKey(name string) string   { return s.webKey("tokens", name) }
func (s *Store) tokenKey(id string) string      { return s.webKey("token", id) }

// UserRecord is a stored account. A zero Name means there is none.
type UserRecord struct {
	Name      string
	Role      string
	Disabled  bool
	Created   time.Time
	PwChanged time.Time
}

// AddUser creates the account name with its role and password hash at time now; it returns false
// (and writes nothing) when the name is taken.
func (s *Store) AddUser(ctx context.Context, name, role, hash string, now time.Time) (bool, error) {
	ok, err := s.rdb.HSetNX(ctx, s.userKey(name), "role", role).Result()
	if err != nil || !ok {
		return false, err
	}
	at := now.UTC().Format(time.RFC3339)
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.userKey(name), "hash", hash, "created", at, "pw_changed", at, "disabled", "")
	pipe.SAdd(ctx, s.webKey("users"), name)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// User returns the account name; its Name is "" when there is none.
func (s *Store) User(ctx context.Context, name string) (UserRecord, error) {
	v, err := s.rdb.HMGet(ctx, s.userKey(name), "role", "disabled", "created", "pw_changed").Result()
	if err != nil {
		return UserRecord{}, err
	}
	return decodeUser(name, anyStrings(v)), nil
}

// decodeUser is the one decoder of a stored account: v holds role, disabled, created, pw_changed.
func decodeUser(name string, v []string) UserRecord {
	if len(v) < 4 || v[0] == "" {
		return UserRecord{}
	}
	u := UserRecord{Name: name, Role: v[0], Disabled: v[1] == "1"}
	u.Created, _ = time.Parse(time.RFC3339, v[2])
	u.PwChanged, _ = time.Parse(time.RFC3339, v[3])
	return u
}

func anyStrings(v []any) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i], _ = x.(string)
	}
	return out
}

// UserNames returns every account name, unordered.
func (s *Store) UserNames(ctx context.Context) ([]string, error) {
	return s.rdb.SMembers(ctx, s.webKey("users")).Result()
}

// UserCount returns the number of accounts.
func (s *Store) UserCount(ctx context.Context) (int64, error) {
	return s.rdb.SCard(ctx, s.webKey("users")).Result()
}

// PasswordHash returns the account's password hash ("" when there is no such account).
func (s *Store) PasswordHash(ctx context.Context, name string) (string, error) {
	h, err := s.rdb.HGet(ctx, s.userKey(name), "hash").Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return h, err
}

// SetPasswordHash replaces the account's password hash, changed at time at.
func (s *Store) SetPasswordHash(ctx context.Context, name, hash string, at time.Time) error {
	return s.rdb.HSet(ctx, s.userKey(name), "hash", hash, "pw_changed", at.UTC().Format(time.RFC3339)).Err()
}

// SetUserDisabled marks the account disabled or enabled.
func (s *Store) SetUserDisabled(ctx context.Context, name string, disabled bool) error {
	v := ""
	if disabled {
		v = "1"
	}
	return s.rdb.HSet(ctx, s.userKey(name), "disabled", v).Err()
}

// SetUserRole changes the account's role.
func (s *Store) SetUserRole(ctx context.Context, name, role string) error {
	return s.rdb.HSet(ctx, s.userKey(name), "role", role).Err()
}

// SessionRecord is a stored session with its user's account as it is now. A zero User means there
// is no session.
type SessionRecord struct {
	ID      string
	User    string
	CSRF    string
	Created time.Time
	Last    time.Time
	// Account is the session's user (zero Name when the account is gone).
	Account UserRecord
}

// CreateSession stores session id of user with its CSRF token, created at now, expiring after ttl.
func (s *Store) CreateSession(ctx context.Context, id, user, csrf string, now time.Time, ttl time.Duration) error {
	ms := strconv.FormatInt(now.UnixMilli(), 10)
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.sessionKey(id), "user", user, "csrf", csrf, "created", ms, "last", ms)
	pipe.PExpire(ctx, s.sessionKey(id), ttl)
	pipe.SAdd(ctx, s.sessionsKey(user), id)
	_, err := pipe.Exec(ctx)
	return err
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

func (s *Store) queueLoadSession(ctx context.Context, c redis.Scripter, id string) *redis.Cmd {
	return loadSessionScript.EvalSha(ctx, c, []string{s.sessionKey(id)}, s.webKey("user")+":")
}

func (s *Store) runLoadSession(ctx context.Context, id string) *redis.Cmd {
	return loadSessionScript.Run(ctx, s.rdb, []string{s.sessionKey(id)}, s.webKey("user")+":")
}

// decodeSession is the one decoder of the answer of loadSessionScript.
func decodeSession(id string, v []string) SessionRecord {
	if len(v) < 8 || v[0] == "" {
		return SessionRecord{ID: id}
	}
	created, _ := strconv.ParseInt(v[2], 10, 64)
	last, _ := strconv.ParseInt(v[3], 10, 64)
	return SessionRecord{ID: id, User: v[0], CSRF: v[1], Created: time.UnixMilli(created), Last: time.UnixMilli(last),
		Account: decodeUser(v[0], v[4:8])}
}

// Session returns session id with its user's account, in one round trip.
func (s *Store) Session(ctx context.Context, id string) (SessionRecord, error) {
	v, err := s.runLoadSession(ctx, id).StringSlice()
	if err != nil {
		return SessionRecord{}, fmt.Errorf("load session: %w", err)
	}
	return decodeSession(id, v), nil
}

// TouchSession records that session id was used at now and gives it ttl more.
func (s *Store) TouchSession(ctx context.Context, id string, now time.Time, ttl time.Duration) error {
	pipe := s.rdb.Pipeline()
	pipe.HSet(ctx, s.sessionKey(id), "last", strconv.FormatInt(now.UnixMilli(), 10))
	pipe.PExpire(ctx, s.sessionKey(id), ttl)
	_, err := pipe.Exec(ctx)
	return err
}

// DropSession deletes session id (expired or no longer valid); the user's set forgets it lazily.
func (s *Store) DropSession(ctx context.Context, id string) error {
	return s.rdb.Del(ctx, s.sessionKey(id)).Err()
}

// DeleteSession ends session id of user.
func (s *Store) DeleteSession(ctx context.Context, id, user string) error {
	pipe := s.rdb.TxPipeline()
	pipe.Del(ctx, s.sessionKey(id))
	pipe.SRem(ctx, s.sessionsKey(user), id)
	_, err := pipe.Exec(ctx)
	return err
}

// DeleteSessions ends every session of user.
func (s *Store) DeleteSessions(ctx context.Context, user string) error {
	return s.deleteAll(ctx, s.sessionsKey(user), s.sessionKey)
}

// deleteAll deletes the set at setKey and every key that key makes of its members.
func (s *Store) deleteAll(ctx context.Context, setKey string, key func(string) string) error {
	ids, err := s.rdb.SMembers(ctx, setKey).Result()
	if err != nil {
		return err
	}
	pipe := s.rdb.TxPipeline()
	for _, id := range ids {
		pipe.Del(ctx, key(id))
	}
	pipe.Del(ctx, setKey)
	_, err = pipe.Exec(ctx)
	return err
}

// LiveSessions returns how many sessions of user are still alive, forgetting those that expired.
func (s *Store) LiveSessions(ctx context.Context, user string) (int, error) {
	ids, err := s.rdb.SMembers(ctx, s.sessionsKey(user)).Result()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if ok, _ := s.rdb.Exists(ctx, s.sessionKey(id)).Result(); ok == 1 {
			n++
		} else {
			s.rdb.SRem(ctx, s.sessionsKey(user), id)
		}
	}
	return n, nil
}

// TokenRecord is a stored API token. A zero User means there is none.
type TokenRecord struct {
	ID       string
	User     string
	Label    string
	Created  time.Time
	Expires  time.Time
	LastUsed time.Time // zero: never used
}

// AddToken stores API token id of user with its label, created at now and valid until expires.
func (s *Store) AddToken(ctx context.Context, id, user, label string, now, expires time.Time) error {
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.tokenKey(id), "user", user, "label", label, "created", now.UTC().Format(time.RFC3339),
		"expires", expires.UTC().Format(time.RFC3339))
	pipe.PExpireAt(ctx, s.tokenKey(id), expires)
	pipe.SAdd(ctx, s.tokensKey(user), id)
	_, err := pipe.Exec(ctx)
	return err
}

// Token returns API token id (zero User when there is none).
func (s *Store) Token(ctx context.Context, id string) (TokenRecord, error) {
	v, err := s.rdb.HMGet(ctx, s.tokenKey(id), "user", "label", "created", "expires", "last_used").Result()
	if err != nil {
		return TokenRecord{}, err
	}
	return decodeToken(id, anyStrings(v)), nil
}

// decodeToken is the one decoder of a stored token: v holds user, label, created, expires, last_used.
func decodeToken(id string, v []string) TokenRecord {
	if len(v) < 5 || v[0] == "" {
		return TokenRecord{}
	}
	t := TokenRecord{ID: id, User: v[0], Label: v[1]}
	t.Created, _ = time.Parse(time.RFC3339, v[2])
	t.Expires, _ = time.Parse(time.RFC3339, v[3])
	t.LastUsed, _ = time.Parse(time.RFC3339, v[4])
	return t
}

// Tokens returns the API tokens of user, forgetting those Redis has expired.
func (s *Store) Tokens(ctx context.Context, user string) ([]TokenRecord, error) {
	ids, err := s.rdb.SMembers(ctx, s.tokensKey(user)).Result()
	if err != nil {
		return nil, err
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, s.tokenKey(id), "user", "label", "created", "expires", "last_used")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	var out []TokenRecord
	for i, c := range cmds {
		t := decodeToken(ids[i], anyStrings(c.Val()))
		if t.User != user {
			s.rdb.SRem(ctx, s.tokensKey(user), ids[i])
			continue
		}
		out = append(out, t)
	}
	return out, nil
}

// TouchToken records that API token id was used at at.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	// HSETXX semantics: a token revoked meanwhile must not be recreated as a bare hash.
	return touchTokenScript.Run(ctx, s.rdb, []string{s.tokenKey(id)}, at.UTC().Format(time.RFC3339)).Err()
}

var touchTokenScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'last_used', ARGV[1]) end
return 0
`)

// DeleteToken deletes API token id of user; it returns false when user has no such token.
func (s *Store) DeleteToken(ctx context.Context, id, user string) (bool, error) {
	n, err := s.rdb.SRem(ctx, s.tokensKey(user), id).Result()
	if err != nil || n == 0 {
		return false, err
	}
	return true, s.rdb.Del(ctx, s.tokenKey(id)).Err()
}

// DeleteTokens deletes every API token of user.
func (s *Store) DeleteTokens(ctx context.Context, user string) error {
	return s.deleteAll(ctx, s.tokensKey(user), s.tokenKey)
}

func (s *Store) loginKeys(name, ip string) []string {
	return []string{s.webKey("login", "lock", name, ip), s.webKey("login", "fail", name, ip), s.webKey("login", "ip", ip),
		s.webKey("login", "locks", name)}
}

// LoginReservation is the answer of ReserveLogin.
type LoginReservation int

const (
	// LoginReserved: the attempt may check the password; it must end in LoginFailed,
	// LoginSucceeded or ReleaseLogin.
	LoginReserved LoginReservation = iota
	// LoginLocked: name is locked out from ip.
	LoginLocked
	// LoginTooMany: ip, or name from ip, has used up its attempts in the window.
	LoginTooMany
)

// reserveLoginScript reserves one login attempt of a user from an address, atomically, so that
// concurrent guesses cannot all pass a check made before any of them is counted.
// KEYS: lock, fail, ip (see loginKeys); ARGV: per-user limit, per-address limit, window (ms).
var reserveLoginScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
if tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[2]) then return 2 end
local n = redis.call('INCR', KEYS[2])
if n == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
if n > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[2])
  return 2
end
if redis.call('INCR', KEYS[3]) == 1 then redis.call('PEXPIRE', KEYS[3], ARGV[3]) end
return 0
`)

// ReserveLogin counts one login attempt of name from ip before its password is checked, unless
// name is locked out from ip, or the attempts of name from ip (perUser) or of ip (perIP) in the
// current window are used up.
func (s *Store) ReserveLogin(ctx context.Context, name, ip string, perUser, perIP int, window time.Duration) (LoginReservation, error) {
	n, err := reserveLoginScript.Run(ctx, s.rdb, s.loginKeys(name, ip)[:3], perUser, perIP, window.Milliseconds()).Int()
	if err != nil {
		return LoginTooMany, fmt.Errorf("reserve login: %w", err)
	}
	return LoginReservation(n), nil
}

// failLoginScript locks a user out from an address when its reserved attempts reached the limit.
// KEYS: lock, fail, ip, locks; ARGV: per-user limit, lock duration (ms), the address.
var failLoginScript = redis.NewScript(`
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
redis.call('SADD', KEYS[4], ARGV[3])
redis.call('PEXPIRE', KEYS[4], ARGV[2])
return 1
`)

// LoginFailed ends a reserved attempt of name from ip that failed: the attempt stays counted, and
// when the count reached perUser, name is locked out from ip for lockFor (locked is true).
func (s *Store) LoginFailed(ctx context.Context, name, ip string, perUser int, lockFor time.Duration) (locked bool) {
	n, _ := failLoginScript.Run(ctx, s.rdb, s.loginKeys(name, ip), perUser, lockFor.Milliseconds(), ip).Int()
	return n == 1
}

// releaseLoginScript gives a reserved attempt back. KEYS: fail, ip; ARGV: "1" to forget the user's
// attempts from the address altogether (a success).
var releaseLoginScript = redis.NewScript(`
if ARGV[1] == '1' then redis.call('DEL', KEYS[1])
elseif tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
return 0
`)

// LoginSucceeded ends a reserved attempt that succeeded: name's attempts from ip are forgotten
// and the address's count gives this one back.
func (s *Store) LoginSucceeded(ctx context.Context, name, ip string) {
	releaseLoginScript.Run(ctx, s.rdb, s.loginKeys(name, ip)[1:3], "1")
}

// ReleaseLogin gives back a reserved attempt whose password was never checked.
func (s *Store) ReleaseLogin(ctx context.Context, name, ip string) {
	releaseLoginScript.Run(ctx, s.rdb, s.loginKeys(name, ip)[1:3], "0")
}

// Unlock lifts every lock-out of name and forgets its attempts from those addresses.
func (s *Store) Unlock(ctx context.Context, name string) error {
	setKey := s.webKey("login", "locks", name)
	ips, err := s.rdb.SMembers(ctx, setKey).Result()
	if err != nil {
		return err
	}
	keys := []string{setKey}
	for _, ip := range ips {
		k := s.loginKeys(name, ip)
		keys = append(keys, k[0], k[1])
	}
	return s.rdb.Del(ctx, keys...).Err()
}
