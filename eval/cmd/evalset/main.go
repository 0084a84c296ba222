// Command evalset works with the judged evaluation set of eval/judged:
//
//	go run ./eval/cmd/evalset precision   # precision per family of the judged records (no scan)
//	go run ./eval/cmd/evalset rescan      # re-scan the inputs, compare, and print the precision of what is raised now and of every judged record
//	go run ./eval/cmd/evalset dump        # re-scan and print every record as unjudged JSONL, with
//	                                      # its summary and observations, for judging new records
//
// The corpus is ../shared/corpus (or $PILMON_SHARED/corpus).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"pilmon/eval"
	"pilmon/internal/corpus"
)

func main() {
	dir := flag.String("dir", "eval/judged", "the judged set")
	flag.Parse()
	cmd := flag.Arg(0)
	switch cmd {
	case "precision":
		recs, err := eval.LoadRecords(*dir)
		check(err)
		fmt.Printf("judged records: %d\n", len(recs))
		eval.Measure(recs).Print(os.Stdout)
	case "rescan", "dump":
		shared := corpus.SharedDir()
		if shared == "" {
			fmt.Fprintln(os.Stderr, "evalset: ../shared is absent (set PILMON_SHARED)")
			os.Exit(2)
		}
		ins, err := eval.LoadInputs(*dir)
		check(err)
		tmp, err := os.MkdirTemp("", "evalset-")
		check(err)
		defer os.RemoveAll(tmp)
		s, err := eval.NewScanner(filepath.Join(shared, "corpus"), tmp)
		check(err)
		defer s.Close()
		res := s.ScanAll(context.Background(), ins, runtime.NumCPU())
		if cmd == "dump" {
			enc := json.NewEncoder(os.Stdout)
			enc.SetEscapeHTML(false)
			for _, r := range res {
				if r.Err != nil {
					fmt.Fprintf(os.Stderr, "%s: %v\n", r.Input.Path, r.Err)
				}
				for _, f := range r.Findings {
					check(enc.Encode(struct {
						eval.Record
						Finding any `json:"finding"`
					}{eval.FromFinding(r.Input, f), f}))
				}
			}
			return
		}
		recs, err := eval.LoadRecords(*dir)
		check(err)
		cmp := eval.Compare(recs, res)
		cmp.Print(os.Stdout)
		fmt.Printf("\nprecision of what pilmon raises now (%d judged records raised again):\n", len(cmp.Produced))
		eval.Measure(cmp.Produced).Print(os.Stdout)
		fmt.Printf("\nall %d judged records, including those no longer raised:\n", len(recs))
		eval.Measure(recs).Print(os.Stdout)
	default:
		fmt.Fprintln(os.Stderr, "usage: evalset [-dir eval/judged] precision|rescan|dump")
		os.Exit(2)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "evalset:", err)
		os.Exit(1)
	}
}
