package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"

	"pilmon/scanner"
)

// Package versions a target's remote sources served (under the store prefix):
//
//	versions:{tid}   hash: "<source kind> <locator>\x00<sha256>" -> JSON PackageVersion
//
// A target keeps its MaxVersions most recently seen packages.
const MaxVersions = 500

// PackageVersion is one package a target's remote source served, kept across scans.
type PackageVersion struct {
	SourceKind   scanner.SourceKind `json:"source_kind"`
	Source       string             `json:"source"`
	Package      string             `json:"package,omitempty"`
	VersionName  string             `json:"version_name"`
	VersionCode  string             `json:"version_code"`
	SHA256       string             `json:"sha256"`
	SignerSHA256 string             `json:"signer_sha256"`
	FirstSeen    time.Time          `json:"first_seen"`
	LastSeen     time.Time          `json:"last_seen"`
	// Provenance is the sealed download record of the first download of these bytes;
	// LastProvenance that of the newest check (a 304 or the same bytes again).
	Provenance     string `json:"provenance"`
	LastProvenance string `json:"last_provenance,omitempty"`
	URL            string `json:"url,omitempty"`
	// FinalURL, Address and ServerCert are those of the first download (see Provenance).
	FinalURL     string `json:"final_url,omitempty"`
	Address      string `json:"address,omitempty"`
	ServerCert   string `json:"server_cert,omitempty"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	// ScanID is the scan that inspected the package; Checks counts the scans that saw it.
	ScanID string `json:"scan_id"`
	Checks int    `json:"checks"`
}

// Prior is the form a scan hands to the next fetch of the same source.
func (v PackageVersion) Prior() *scanner.PackageVersion {
	return &scanner.PackageVersion{SHA256: v.SHA256, Package: v.Package, VersionName: v.VersionName, VersionCode: v.VersionCode,
		SignerSHA256: v.SignerSHA256, ETag: v.ETag, LastModified: v.LastModified, Provenance: v.LastProvenance, URL: v.URL,
		FetchedAt: v.LastSeen}
}

func (s *Store) versionsKey(tid string) string { return s.prefix + "versions:" + tid }

func versionField(src scanner.Source, sha string) string {
	return string(src.Kind) + " " + src.Locator + "\x00" + sha
}

// Versions returns the packages the target's remote sources served, newest first (by first
// seen, then last seen). Entries that do not decode are skipped.
func (s *Store) Versions(ctx context.Context, targetID string) ([]PackageVersion, error) {
	all, err := s.rdb.HGetAll(ctx, s.versionsKey(targetID)).Result()
	if err != nil {
		return nil, fmt.Errorf("versions of %.80q: %w", targetID, err)
	}
	out := make([]PackageVersion, 0, len(all))
	for _, raw := range all {
		var v PackageVersion
		if json.Unmarshal([]byte(raw), &v) == nil {
			out = append(out, v)
		}
	}
	sortVersions(out)
	return out, nil
}

func sortVersions(vs []PackageVersion) {
	sort.Slice(vs, func(i, j int) bool {
		a, b := vs[i], vs[j]
		if !a.FirstSeen.Equal(b.FirstSeen) {
			return a.FirstSeen.After(b.FirstSeen)
		}
		if !a.LastSeen.Equal(b.LastSeen) {
			return a.LastSeen.After(b.LastSeen)
		}
		return a.SHA256 < b.SHA256
	})
}

// LatestVersion returns the package src served most recently (by last seen), if any.
func LatestVersion(vs []PackageVersion, src scanner.Source) (PackageVersion, bool) {
	var best PackageVersion
	found := false
	for _, v := range vs {
		if v.SourceKind != src.Kind || v.Source != src.Locator {
			continue
		}
		if !found || v.LastSeen.After(best.LastSeen) {
			best, found = v, true
		}
	}
	return best, found
}

// RecordVersion notes that src served pv in scan scanID: a package seen before gets its last
// seen time, validators and newest provenance updated; a new one is added with scanID as the scan
// that inspected it. It returns what was stored and whether it was new.
func (s *Store) RecordVersion(ctx context.Context, targetID string, src scanner.Source, pv scanner.PackageVersion, scanID string) (PackageVersion, bool, error) {
	if pv.SHA256 == "" {
		return PackageVersion{}, false, errors.New("record version: no SHA-256")
	}
	key, field := s.versionsKey(targetID), versionField(src, pv.SHA256)
	seen := pv.FetchedAt.UTC()
	if seen.IsZero() {
		seen = s.now().UTC()
	}
	var stored PackageVersion
	var created bool
	txf := func(tx *redis.Tx) error {
		raw, err := tx.HGet(ctx, key, field).Bytes()
		var v PackageVersion
		switch {
		case errors.Is(err, redis.Nil) || (err == nil && json.Unmarshal(raw, &v) != nil):
			created = true
			v = PackageVersion{SourceKind: src.Kind, Source: src.Locator, Package: pv.Package, VersionName: pv.VersionName,
				VersionCode: pv.VersionCode, SHA256: pv.SHA256, SignerSHA256: pv.SignerSHA256, FirstSeen: seen,
				Provenance: pv.Provenance, ScanID: scanID, FinalURL: pv.FinalURL, Address: pv.Address, ServerCert: pv.ServerCert}
		case err != nil:
			return err
		default:
			created = false
		}
		if seen.After(v.LastSeen) {
			v.LastSeen = seen
			v.LastProvenance, v.URL = pv.Provenance, pv.URL
			if pv.ETag != "" || pv.LastModified != "" {
				v.ETag, v.LastModified = pv.ETag, pv.LastModified
			}
		}
		v.Checks++
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		n, err := tx.HLen(ctx, key).Result()
		if err != nil {
			return err
		}
		var drop []string
		if created && n >= MaxVersions {
			drop, err = s.oldestVersionFields(ctx, tx, key, int(n)-MaxVersions+1)
			if err != nil {
				return err
			}
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			if len(drop) > 0 {
				p.HDel(ctx, key, drop...)
			}
			p.HSet(ctx, key, field, b)
			return nil
		})
		stored = v
		return err
	}
	for range 5 {
		err := s.rdb.Watch(ctx, txf, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			return PackageVersion{}, false, fmt.Errorf("record version of %.80q: %w", targetID, err)
		}
		return stored, created, nil
	}
	return PackageVersion{}, false, fmt.Errorf("record version of %.80q: concurrent updates, gave up", targetID)
}

// oldestVersionFields names the n least recently seen entries of key.
func (s *Store) oldestVersionFields(ctx context.Context, tx *redis.Tx, key string, n int) ([]string, error) {
	all, err := tx.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, err
	}
	type e struct {
		f string
		t time.Time
	}
	var es []e
	for f, raw := range all {
		var v PackageVersion
		_ = json.Unmarshal([]byte(raw), &v)
		es = append(es, e{f, v.LastSeen})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].t.Before(es[j].t) })
	out := []string{}
	for i := 0; i < n && i < len(es); i++ {
		out = append(out, es[i].f)
	}
	return out, nil
}
