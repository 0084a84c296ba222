package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeFile is the subset of the Compose specification pilmon's file uses.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string         `yaml:"image"`
	Build       any            `yaml:"build"`
	Command     []string       `yaml:"command"`
	Ports       []string       `yaml:"ports"`
	Volumes     []string       `yaml:"volumes"`
	DependsOn   map[string]any `yaml:"depends_on"`
	Healthcheck map[string]any `yaml:"healthcheck"`
	Restart     string         `yaml:"restart"`
}

// TestComposeFileIsValid checks docker-compose.yml the way `docker compose config` would for the
// parts pilmon relies on (no Docker engine runs here): known keys only, every named volume and
// dependency defined, redis + serve + two workers, and every pilmon command line names a real
// subcommand of this binary.
func TestComposeFileIsValid(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&cf); err != nil {
		t.Fatalf("docker-compose.yml does not parse with known keys only: %v", err)
	}
	known := map[string]bool{}
	for _, c := range commands() {
		known[c.name] = true
	}
	workers, hasServe := 0, false
	for name, s := range cf.Services {
		if s.Image == "" && s.Build == nil {
			t.Errorf("service %s has neither image nor build", name)
		}
		for dep := range s.DependsOn {
			if _, ok := cf.Services[dep]; !ok {
				t.Errorf("service %s depends on undefined service %s", name, dep)
			}
		}
		for _, v := range s.Volumes {
			src := strings.SplitN(v, ":", 2)[0]
			if !strings.HasPrefix(src, "/") && !strings.HasPrefix(src, ".") {
				if _, ok := cf.Volumes[src]; !ok {
					t.Errorf("service %s uses undefined named volume %s", name, src)
				}
			}
		}
		for _, p := range s.Ports {
			if strings.Count(p, ":") < 1 {
				t.Errorf("service %s: port %q should bind an explicit host address", name, p)
			}
		}
		if len(s.Command) >= 2 && s.Command[0] == "pilmon" {
			if !known[s.Command[1]] {
				t.Errorf("service %s runs unknown subcommand %q", name, s.Command[1])
			}
			switch s.Command[1] {
			case "serve":
				hasServe = true
			case "worker":
				workers++
			}
			if !containsSeq(s.Command, "--redis", "redis://redis:6379/0") {
				t.Errorf("service %s must use the compose Redis, got %v", name, s.Command)
			}
		}
	}
	if _, ok := cf.Services["redis"]; !ok || !hasServe || workers != 2 {
		t.Errorf("want redis + serve + 2 workers; redis=%v serve=%v workers=%d", ok, hasServe, workers)
	}
	if r := cf.Services["redis"]; !containsSeq(r.Command, "--appendonly", "yes") {
		t.Errorf("redis must run with AOF: %v", r.Command)
	}
}

func containsSeq(s []string, a, b string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == a && s[i+1] == b {
			return true
		}
	}
	return false
}
