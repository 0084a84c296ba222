package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Upload quotas:
//
//	web:upload-bytes:{user}    integer: bytes the user's uploads hold or have reserved
//
// The count is in Redis, not in a process, because several dashboards may serve one installation
// and a quota that each of them counted separately would multiply. An upload reserves the most it
// may store before its first byte is read (ReserveUpload) and gives back what it did not use
// (ReleaseUpload), so concurrent uploads of one user cannot together pass the quota.

// ErrQuotaExceeded is returned (wrapped) when a reservation would take a user past the quota.
var ErrQuotaExceeded = errors.New("上传配额已用尽 / upload quota exhausted")

func (s *Store) uploadBytesKey(user string) string { return s.webKey("upload-bytes", user) }

// reserveScript: KEYS[1] the counter, ARGV[1] bytes wanted, ARGV[2] the quota. Reserves
// min(wanted, quota - used) bytes and returns that, or -1 when nothing is left.
var reserveScript = redis.NewScript(`
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local want, quota = tonumber(ARGV[1]), tonumber(ARGV[2])
local left = quota - used
if left <= 0 then return -1 end
if want > left then want = left end
redis.call('INCRBY', KEYS[1], want)
return want
`)

// ReserveUpload reserves up to want bytes of user's quota and returns how many it reserved: want,
// or what is left of the quota if that is less. With nothing left it fails with ErrQuotaExceeded.
func (s *Store) ReserveUpload(ctx context.Context, user string, want, quota int64) (int64, error) {
	if want <= 0 || quota <= 0 {
		return 0, fmt.Errorf("upload quota of %s: reserve %d of %d bytes: both must be positive", user, want, quota)
	}
	got, err := reserveScript.Run(ctx, s.rdb, []string{s.uploadBytesKey(user)}, want, quota).Int64()
	if err != nil {
		return 0, fmt.Errorf("upload quota of %s: %w", user, err)
	}
	if got < 0 {
		return 0, fmt.Errorf("upload quota of %s (%d bytes): %w", user, quota, ErrQuotaExceeded)
	}
	return got, nil
}

// ReleaseUpload gives back n reserved bytes that an upload did not store.
func (s *Store) ReleaseUpload(ctx context.Context, user string, n int64) error {
	if n <= 0 {
		return nil
	}
	if err := s.rdb.DecrBy(ctx, s.uploadBytesKey(user), n).Err(); err != nil {
		return fmt.Errorf("upload quota of %s: release %d bytes: %w", user, n, err)
	}
	return nil
}

// UploadBytes returns the bytes counted against user's quota.
func (s *Store) UploadBytes(ctx context.Context, user string) (int64, error) {
	n, err := s.rdb.Get(ctx, s.uploadBytesKey(user)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("upload quota of %s: %w", user, err)
	}
	return n, nil
}
