package main

import (
	"io"
	"testing"

	"pilmon/cases"
)

// The case path's periods come from flags or the environment, are validated once, and default to
// two months and 30 days.
func TestCasePolicyFlags(t *testing.T) {
	parse := func(args ...string) (cases.Policy, error) {
		var c config
		fs := newFlagSet(&cliEnv{stderr: io.Discard}, "x", "")
		c.register(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return c.casePolicy()
	}
	p, err := parse()
	if err != nil || p != cases.DefaultPolicy {
		t.Fatalf("default: %+v %v", p, err)
	}
	p, err = parse("--reply-days", "15", "--announcement-days", "45", "--due-soon-days", "3")
	if err != nil || p.ReplyDays != 15 || p.AnnouncementDays != 45 || p.DueSoonDays != 3 {
		t.Fatalf("flags: %+v %v", p, err)
	}
	if _, err := parse("--announcement-days", "0"); err == nil {
		t.Fatal("a zero announcement period accepted")
	}
	t.Setenv("PILMON_DUE_SOON_DAYS", "soon")
	if _, err := parse(); err == nil {
		t.Fatal("an unparsable PILMON_DUE_SOON_DAYS accepted")
	}
	t.Setenv("PILMON_DUE_SOON_DAYS", "10")
	if p, err := parse(); err != nil || p.DueSoonDays != 10 {
		t.Fatalf("env: %+v %v", p, err)
	}
}
