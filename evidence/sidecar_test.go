package evidence

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func sampleRecord(n int) Record {
	rec := Record{Ref: Ref{SHA256: strings.Repeat("5a", 32), SM3: strings.Repeat("c3", 32), Size: 1234}}
	for i := range n {
		rec.Captures = append(rec.Captures, Capture{Seq: i + 1, Meta: Meta{
			CapturedAt: time.Date(2025, 1, 2, 3, 4, 5, i, time.UTC),
			Method:     "browser_capture",
			Source:     "https://例子.cn/隐私政策?v=" + strings.Repeat("x", i),
			Tool:       "pilmon 0.1.0",
			MediaType:  "text/html",
		}})
	}
	return rec
}

// FuzzReadSidecar feeds arbitrary bytes to the sidecar reader: it must never panic, and anything it
// accepts must be exactly the canonical encoding of what it returned.
func FuzzReadSidecar(f *testing.F) {
	for _, n := range []int{1, 3} {
		b, err := encodeSidecar(sampleRecord(n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(bytes.Replace(b, []byte("pilmon"), []byte("PILMON"), 1))
		kb, err := encodeSidecarWith(sampleRecord(n), fuzzKey)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(kb)
	}
	f.Add([]byte(`{"format":"pilmon-evidence-sidecar/1","ref":{},"captures":[],"seal":""}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`))
	f.Add([]byte(`{"captures":[{"seq":1,"captured_at":"0000-01-01T00:00:00Z"}]}`))
	f.Add([]byte{})
	h := strings.Repeat("5a", 32)
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := decodeSidecar(data, h)
		if err != nil {
			if !strings.Contains(err.Error(), h) {
				t.Fatalf("error does not name the hash: %v", err)
			}
			return
		}
		if rec.Ref.SHA256 != h || len(rec.Captures) == 0 {
			t.Fatalf("accepted an inconsistent record %+v", rec)
		}
		again, err := encodeSidecar(rec)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted non-canonical input (%v)", err)
		}
	})
}

var fuzzKey = bytes.Repeat([]byte{7}, 32)

// FuzzReadKeyedSidecar: the keyed reader never panics, names the file, and accepts only what the
// key sealed, in canonical form.
func FuzzReadKeyedSidecar(f *testing.F) {
	for _, n := range []int{1, 3} {
		for _, key := range [][]byte{nil, fuzzKey, bytes.Repeat([]byte{8}, 32)} {
			b, err := encodeSidecarWith(sampleRecord(n), key)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte(`{"format":"pilmon-evidence-sidecar/1","ref":{},"captures":[],"seal":"hmac-sha256::"}`))
	h := strings.Repeat("5a", 32)
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := decodeSidecarWith(data, h, "x/5a.json", fuzzKey)
		if err != nil {
			if !strings.Contains(err.Error(), "x/5a.json") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		again, err := encodeSidecarWith(rec, fuzzKey)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted input the key did not seal in canonical form (%v)", err)
		}
	})
}

func TestSidecarRoundTrip(t *testing.T) {
	h := strings.Repeat("5a", 32)
	for _, n := range []int{1, 2, 10} {
		rec := sampleRecord(n)
		b, err := encodeSidecar(rec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeSidecar(b, h)
		if err != nil {
			t.Fatalf("%d captures: %v", n, err)
		}
		if len(got.Captures) != n || got.Ref != rec.Ref {
			t.Fatalf("round trip: %+v", got)
		}
		for i := range got.Captures {
			if !got.Captures[i].CapturedAt.Equal(rec.Captures[i].CapturedAt) || got.Captures[i].Source != rec.Captures[i].Source {
				t.Fatalf("capture %d differs: %+v", i, got.Captures[i])
			}
		}
		if _, err := decodeSidecar(b, strings.Repeat("5b", 32)); err == nil {
			t.Fatal("sidecar accepted for another address")
		}
	}
	big := make([]byte, maxSidecarSize+1)
	if _, err := decodeSidecar(big, h); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("oversized sidecar: %v", err)
	}
}
