package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"pilmon/scanner"
)

// TestVersions: a package seen again keeps its first sighting and the scan that inspected it and
// updates its last sighting and validators; versions list newest first; the latest of each
// source is found by its last sighting; a target keeps at most MaxVersions, dropping the least
// recently seen.
func TestVersions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	a := scanner.Source{Kind: "apk_url", Locator: "https://dl.example.cn/a.apk"}
	b := scanner.Source{Kind: "apk_page_url", Locator: "https://www.example.cn/download"}
	sha := func(i int) string { return fmt.Sprintf("%064x", i) }
	rec := func(src scanner.Source, i int, at time.Time, etag, scan string) (PackageVersion, bool) {
		t.Helper()
		v, created, err := s.RecordVersion(ctx, "app", src, scanner.PackageVersion{SHA256: sha(i), VersionName: fmt.Sprint(i),
			ETag: etag, Provenance: "prov-" + scan, FetchedAt: at}, scan)
		if err != nil {
			t.Fatal(err)
		}
		return v, created
	}
	if _, created := rec(a, 1, t0, `"1"`, "s1"); !created {
		t.Fatal("first sighting not new")
	}
	v, created := rec(a, 1, t0.Add(time.Hour), `"1b"`, "s2")
	if created || !v.FirstSeen.Equal(t0) || !v.LastSeen.Equal(t0.Add(time.Hour)) || v.ScanID != "s1" || v.ETag != `"1b"` ||
		v.Provenance != "prov-s1" || v.LastProvenance != "prov-s2" || v.Checks != 2 {
		t.Fatalf("second sighting %+v created=%v", v, created)
	}
	rec(a, 2, t0.Add(2*time.Hour), `"2"`, "s3")
	rec(b, 3, t0.Add(90*time.Minute), "", "s4")
	vs, err := s.Versions(ctx, "app")
	if err != nil || len(vs) != 3 || vs[0].SHA256 != sha(2) || vs[1].SHA256 != sha(3) || vs[2].SHA256 != sha(1) {
		t.Fatalf("versions %+v %v", vs, err)
	}
	if l, ok := LatestVersion(vs, a); !ok || l.SHA256 != sha(2) || l.Prior().ETag != `"2"` {
		t.Errorf("latest of a: %+v", l)
	}
	if l, ok := LatestVersion(vs, b); !ok || l.SHA256 != sha(3) {
		t.Errorf("latest of b: %+v", l)
	}
	if _, ok := LatestVersion(vs, scanner.Source{Kind: "apk_url", Locator: "https://other"}); ok {
		t.Error("a source never fetched has a latest version")
	}
	if vs, _ := s.Versions(ctx, "nobody"); len(vs) != 0 {
		t.Errorf("versions of an unknown target: %v", vs)
	}
	if _, _, err := s.RecordVersion(ctx, "app", a, scanner.PackageVersion{}, "x"); err == nil {
		t.Error("a version without SHA-256 was recorded")
	}

	// The bound: the least recently seen go first.
	for i := range MaxVersions {
		rec(a, 100+i, t0.Add(3*time.Hour+time.Duration(i)*time.Second), "", fmt.Sprint("m", i))
	}
	vs, _ = s.Versions(ctx, "app")
	if len(vs) != MaxVersions {
		t.Fatalf("%d versions kept, limit %d", len(vs), MaxVersions)
	}
	for _, v := range vs {
		if v.SHA256 == sha(1) || v.SHA256 == sha(2) || v.SHA256 == sha(3) {
			t.Errorf("an older version %s was kept over newer ones", v.VersionName)
		}
	}
}
