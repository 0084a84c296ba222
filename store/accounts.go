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
//	web:token:{id}          hash: user, label, created
//	web:login:fail:{name}   failed logins in the current window; web:login:lock:{name} while locked
//	web:login:ip:{ip}       failed logins from one address in the current window
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

// AddToken stores API token id of user with its label, created at now.
func (s *Store) AddToken(ctx context.Context, id, user, label string, now time.Time) error {
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.tokenKey(id), "user", user, "label", label, "created", now.UTC().Format(time.RFC3339))
	pipe.SAdd(ctx, s.tokensKey(user), id)
	_, err := pipe.Exec(ctx)
	return err
}

// TokenOwner returns the user of API token id ("" when there is no such token).
func (s *Store) TokenOwner(ctx context.Context, id string) (string, error) {
	u, err := s.rdb.HGet(ctx, s.tokenKey(id), "user").Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return u, err
}

// DeleteTokens deletes every API token of user.
func (s *Store) DeleteTokens(ctx context.Context, user string) error {
	return s.deleteAll(ctx, s.tokensKey(user), s.tokenKey)
}

// LoginState says whether name is locked out and how many failed logins came from ip in the
// current window, in one round trip.
func (s *Store) LoginState(ctx context.Context, name, ip string) (locked bool, ipFailures int64) {
	pipe := s.rdb.Pipeline()
	lock := pipe.Exists(ctx, s.webKey("login", "lock", name))
	ipn := pipe.Get(ctx, s.webKey("login", "ip", ip))
	_, _ = pipe.Exec(ctx)
	n, _ := ipn.Int64()
	return lock.Val() == 1, n
}

// CountLoginFailure counts a failed login of name from ip, each count expiring window after its
// first failure, and returns the user's count.
func (s *Store) CountLoginFailure(ctx context.Context, name, ip string, window time.Duration) int64 {
	pipe := s.rdb.Pipeline()
	un := pipe.Incr(ctx, s.webKey("login", "fail", name))
	pipe.ExpireNX(ctx, s.webKey("login", "fail", name), window)
	pipe.Incr(ctx, s.webKey("login", "ip", ip))
	pipe.ExpireNX(ctx, s.webKey("login", "ip", ip), window)
	_, _ = pipe.Exec(ctx)
	return un.Val()
}

// LockLogin locks name out for d and restarts its failure count.
func (s *Store) LockLogin(ctx context.Context, name string, d time.Duration) {
	s.rdb.Set(ctx, s.webKey("login", "lock", name), "1", d)
	s.rdb.Del(ctx, s.webKey("login", "fail", name))
}

// ClearLoginFailures restarts name's failure count.
func (s *Store) ClearLoginFailures(ctx context.Context, name string) {
	s.rdb.Del(ctx, s.webKey("login", "fail", name))
}

// Unlock lifts name's lock-out and restarts its failure count.
func (s *Store) Unlock(ctx context.Context, name string) error {
	return s.rdb.Del(ctx, s.webKey("login", "lock", name), s.webKey("login", "fail", name)).Err()
}
