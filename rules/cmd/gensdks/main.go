// Command gensdks generates rules/data/sdks_derived.yaml from the tracker lists in
// ../shared/corpus/trackers (camille's Chinese SDK list, the Exodus Privacy tracker database,
// X-Ray's company list) and prints what it left out and why, what it merged into hand-written
// entries, and the coverage the catalogue reaches with the new file.
//
//	go run ./rules/cmd/gensdks [-shared DIR] [-o rules/data/sdks_derived.yaml] [-check]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"pilmon/internal/corpus"
	"pilmon/rules"
)

func main() {
	shared := flag.String("shared", corpus.SharedDir(), "the shared reference folder (holds corpus/trackers)")
	out := flag.String("o", filepath.Join("rules", "data", rules.FileSDKsDerived), "file to write")
	check := flag.Bool("check", false, "do not write: exit 1 when the file differs from what would be generated")
	flag.Parse()
	if err := run(*shared, *out, *check); err != nil {
		fmt.Fprintln(os.Stderr, "gensdks:", err)
		os.Exit(1)
	}
}

func run(shared, out string, check bool) error {
	if shared == "" {
		return fmt.Errorf("no shared folder: pass -shared or set PILMON_SHARED")
	}
	in, err := rules.ReadDeriveInputs(filepath.Join(shared, "corpus", "trackers"))
	if err != nil {
		return err
	}
	hand, err := rules.HandWritten()
	if err != nil {
		return fmt.Errorf("hand-written catalogue: %w", err)
	}
	d, rep, err := rules.DeriveSDKs(hand, in)
	if err != nil {
		return err
	}
	data, err := rules.MarshalDerived(d, in)
	if err != nil {
		return err
	}
	cat, err := rules.LoadWithDerived(data)
	if err != nil {
		return fmt.Errorf("generated file does not load: %w", err)
	}
	for _, r := range rep.Rejected {
		fmt.Printf("rejected\t%s\t%s\t%s\t%s\n", r.Source, r.Entry, r.Value, r.Reason)
	}
	for _, m := range rep.Merged {
		fmt.Printf("merged\t%s\n", m)
	}
	cov, err := rules.MeasureCoverage(cat, in)
	if err != nil {
		return err
	}
	for _, m := range cov.CamilleMisses {
		fmt.Printf("camille miss\t%s\n", m)
	}
	for _, m := range cov.ExodusMisses {
		fmt.Printf("exodus miss\t%s\n", m)
	}
	fmt.Printf("derived SDKs %d, catalogue SDKs %d, extensions %d, rejected values %d\n", rep.Derived, cov.SDKs, len(d.Extensions), len(rep.Rejected))
	fmt.Printf("camille %d/%d (%.1f%%), exodus %d/%d (%.1f%%)\n", cov.CamilleHits, cov.CamilleEntries, cov.CamillePercent(), cov.ExodusHits, cov.ExodusTrackers, cov.ExodusPercent())
	if check {
		have, err := os.ReadFile(out)
		if err != nil {
			return err
		}
		if !bytes.Equal(have, data) {
			return fmt.Errorf("%s is stale: run go run ./rules/cmd/gensdks", out)
		}
		return nil
	}
	return os.WriteFile(out, data, 0o644)
}
