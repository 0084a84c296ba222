package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pilmon/internal/testlog"
	"pilmon/pipeline"
	"pilmon/scanner"
)

// TestBuildTargetFromDeclarations: options land on the sources whose kinds declare them (path
// options made absolute), an --opt no kind declares is a usage error, and the target kind is the
// one the sources imply; a kind the CLI has never heard of works the same way.
func TestBuildTargetFromDeclarations(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	har := write("c.har", `{"log":{"version":"1.2","entries":[]}}`)
	policy := write("p.txt", "隐私政策")
	log := write("hooks.txt", `{"hook":"getDeviceId"}`)
	kinds := append(pipeline.Kinds(nil), testlog.New().Kinds()...)
	flags := func(opts ...string) scanFlags {
		f := scanFlags{options: newOptionFlags()}
		*f.options.shortcut("device_values") = "dv.yaml"
		*f.options.shortcut("appid") = "wx1"
		f.options.opts = opts
		return f
	}

	f := flags("first_party=example.com", "mapping=map.yaml")
	f.h5URLs = multiFlag{"https://m.example.com/"}
	tg, err := buildTarget(f, []string{har, policy, log}, kinds)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("dv.yaml")
	want := []struct {
		kind scanner.SourceKind
		opts map[string]string
	}{
		{scanner.SourceHAR, map[string]string{"device_values": abs, "first_party": "example.com"}},
		{scanner.SourcePolicyFile, nil},
		{testlog.Kind, map[string]string{"mapping": filepath.Join(filepath.Dir(abs), "map.yaml")}},
		{scanner.SourceH5URL, map[string]string{"device_values": abs, "first_party": "example.com"}},
	}
	for i, w := range want {
		s := tg.Sources[i]
		if s.Kind != w.kind || len(s.Options) != len(w.opts) {
			t.Errorf("source %d: %+v, want kind %s options %v", i, s, w.kind, w.opts)
			continue
		}
		for k, v := range w.opts {
			if s.Options[k] != v {
				t.Errorf("source %d option %s = %q, want %q", i, k, s.Options[k], v)
			}
		}
	}
	if tg.Kind != scanner.TargetApp {
		t.Errorf("target kind %s, want app (local files beside the H5 page)", tg.Kind)
	}

	if _, err := buildTarget(flags("appid=wx2"), []string{har}, kinds); err == nil || !strings.Contains(err.Error(), "--opt appid") {
		t.Errorf("--opt of a kind not among the sources: %v", err)
	}
	if _, err := buildTarget(flags("noequals"), []string{har}, kinds); err == nil {
		t.Error("--opt without = accepted")
	}
	f = flags()
	f.kind = "testlog"
	if tg, err := buildTarget(f, []string{policy}, kinds); err != nil || tg.Sources[0].Kind != testlog.Kind {
		t.Errorf("--kind testlog: %+v %v", tg, err)
	}

	for _, c := range []struct {
		srcs []scanner.SourceKind
		want scanner.TargetKind
	}{
		{[]scanner.SourceKind{scanner.SourceH5URL}, scanner.TargetSite},
		{[]scanner.SourceKind{scanner.SourcePolicyURL, scanner.SourceH5URL}, scanner.TargetSite},
		{[]scanner.SourceKind{scanner.SourcePolicyURL}, scanner.TargetApp},
		{[]scanner.SourceKind{scanner.SourceHAR, scanner.SourceH5URL}, scanner.TargetApp},
		{[]scanner.SourceKind{scanner.SourceAPK, scanner.SourceWxapkg}, scanner.TargetMiniProgram},
		{[]scanner.SourceKind{scanner.SourceMPDir, scanner.SourceH5URL}, scanner.TargetMiniProgram},
		{[]scanner.SourceKind{testlog.Kind}, scanner.TargetApp},
	} {
		var srcs []scanner.Source
		for _, k := range c.srcs {
			srcs = append(srcs, scanner.Source{Kind: k})
		}
		if got := impliedTarget(srcs, kinds); got != c.want {
			t.Errorf("%v: %s, want %s", c.srcs, got, c.want)
		}
	}
}
