package traffic

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
)

func generatedHAR(b testing.TB, entries int) []byte {
	var buf bytes.Buffer
	if err := writeGeneratedHAR(&buf, entries, 4800); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkFloorTokenize is the floor: encoding/json's Decoder tokenising the same bytes, nothing else.
func BenchmarkFloorTokenize(b *testing.B) {
	data := generatedHAR(b, 2000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		dec := json.NewDecoder(bytes.NewReader(data))
		for {
			if _, err := dec.Token(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkReadHAR is the streaming reader alone (entries decoded, nothing analysed).
func BenchmarkReadHAR(b *testing.B) {
	data := generatedHAR(b, 2000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ReadHAR(bytes.NewReader(data), Limits{}, func(*Entry) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkImportAnalyse is reading plus detection, attribution and aggregation.
func BenchmarkImportAnalyse(b *testing.B) {
	data := generatedHAR(b, 2000)
	cat := testCatalogue(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		a := NewAnalyzer(cat, Options{})
		info, err := ReadHAR(bytes.NewReader(data), Limits{}, func(e *Entry) error { a.Add(e); return nil })
		if err != nil {
			b.Fatal(err)
		}
		a.Finish(info)
	}
}
