package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Leases (under the store prefix):
//
//	{name}:lease    string, the holder's id, with a TTL: SET NX PX to take it, renewed and
//	                released only by its holder (a script compares the holder first)
//
// The scheduler's lease is "scheduler" (key scheduler:lease): only its holder enqueues due scans.

func (s *Store) leaseKey(name string) string { return s.prefix + name + ":lease" }

var renewLeaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

var releaseLeaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

func checkLease(name, holder string) error {
	if err := checkID("lease name", name); err != nil {
		return err
	}
	return checkID("lease holder", holder)
}

// AcquireLease makes holder the holder of lease name for ttl when nobody holds it, and reports
// whether it did.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := checkLease(name, holder); err != nil {
		return false, err
	}
	ok, err := s.rdb.SetNX(ctx, s.leaseKey(name), holder, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	return ok, nil
}

// RenewLease extends holder's lease name to ttl from now; it reports false when holder no longer
// holds it (it expired, and maybe another took it).
func (s *Store) RenewLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := checkLease(name, holder); err != nil {
		return false, err
	}
	n, err := renewLeaseScript.Run(ctx, s.rdb, []string{s.leaseKey(name)}, holder,
		strconv.FormatInt(ttl.Milliseconds(), 10)).Int()
	if err != nil {
		return false, fmt.Errorf("renew lease %s: %w", name, err)
	}
	return n == 1, nil
}

// ReleaseLease ends holder's lease name at once, so a stand-by need not wait for it to expire;
// a lease held by another is left alone.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if err := checkLease(name, holder); err != nil {
		return err
	}
	if err := releaseLeaseScript.Run(ctx, s.rdb, []string{s.leaseKey(name)}, holder).Err(); err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}

// LeaseHolder returns who holds lease name ("" when nobody does).
func (s *Store) LeaseHolder(ctx context.Context, name string) (string, error) {
	if err := checkID("lease name", name); err != nil {
		return "", err
	}
	holder, err := s.rdb.Get(ctx, s.leaseKey(name)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("lease %s: %w", name, err)
	}
	return holder, nil
}
