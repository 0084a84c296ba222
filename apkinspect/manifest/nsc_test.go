package manifest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func ptr(b bool) *bool { return &b }

// TestNSCEffective follows the inheritance rules of the platform: a domain-config inherits what it
// does not set from its parent, then the base-config, then the default for the targetSdk.
func TestNSCEffective(t *testing.T) {
	for _, tc := range []struct {
		name             string
		n                *NetworkSecurityConfig
		target           int
		debuggable       bool
		cleartext, usrCA bool
	}{
		{"no file, target 30", nil, 30, false, false, false},
		{"no file, target 27", nil, 27, false, true, false},
		{"no file, target 23", nil, 23, false, true, true},
		{"empty file inherits the platform", &NetworkSecurityConfig{}, 22, false, true, true},
		{"base refuses cleartext at 27", &NetworkSecurityConfig{Base: &NSCConfig{Cleartext: ptr(false)}}, 27, false, false, false},
		{"base allows cleartext at 30", &NetworkSecurityConfig{Base: &NSCConfig{Cleartext: ptr(true)}}, 30, false, true, false},
		{"base anchors replace the platform's user CAs", &NetworkSecurityConfig{Base: &NSCConfig{Anchors: []string{"system"}}}, 23, false, true, false},
		{"base trusts user", &NetworkSecurityConfig{Base: &NSCConfig{Anchors: []string{"system", "user"}}}, 30, false, false, true},
		{"one domain allows cleartext", &NetworkSecurityConfig{Base: &NSCConfig{Cleartext: ptr(false)},
			Domains: []NSCConfig{{Domains: []string{"a.cn"}, Cleartext: ptr(true)}}}, 30, false, true, false},
		{"domain inherits base", &NetworkSecurityConfig{Base: &NSCConfig{Cleartext: ptr(false), Anchors: []string{"user"}},
			Domains: []NSCConfig{{Domains: []string{"a.cn"}}}}, 22, false, false, true},
		{"domain trusts user", &NetworkSecurityConfig{Domains: []NSCConfig{{Domains: []string{"a.cn"}, Anchors: []string{"@0x7f0e0001", "user"}}}}, 30, false, false, true},
		{"debug overrides, release build", &NetworkSecurityConfig{DebugAnchors: []string{"user"}}, 30, false, false, false},
		{"debug overrides, debuggable", &NetworkSecurityConfig{DebugAnchors: []string{"user"}}, 30, true, false, true},
	} {
		c, u := tc.n.Effective(tc.target, tc.debuggable)
		if c != tc.cleartext || u != tc.usrCA {
			t.Errorf("%s: cleartext %v user CA %v, want %v %v", tc.name, c, u, tc.cleartext, tc.usrCA)
		}
	}
}

// TestNSCHostile: malformed input is an error that names the file, never a panic.
func TestNSCHostile(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":     nil,
		"text xml":  []byte(`<network-security-config/>`),
		"truncated": []byte("\x03\x00\x08\x00\x10\x00\x00\x00\x01\x00\x1c\x00"),
		"too big":   make([]byte, MaxNetworkSecurityConfigSize+1),
	} {
		_, err := ParseNetworkSecurityConfig("app.apk: res/xml/nsc.xml", b)
		if err == nil || !strings.Contains(err.Error(), "res/xml/nsc.xml") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestNSCSeeds parses the aapt-compiled network security configs kept as fuzz seeds
// (testdata/fuzz/FuzzManifest/nsc_*, from apkinspect/testdata/app/res/xml).
func TestNSCSeeds(t *testing.T) {
	for name, want := range map[string][2]bool{"nsc_open": {true, true}, "nsc_strict": {false, false}} {
		b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzManifest", name))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitN(string(b), "\n", 3)
		raw, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatal(err)
		}
		n, err := ParseNetworkSecurityConfig(name, []byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		c, u := n.Effective(30, false)
		if c != want[0] || u != want[1] {
			t.Errorf("%s: cleartext %v user CA %v, want %v", name, c, u, want)
		}
		if name == "nsc_open" && (len(n.Domains) != 2 || n.Domains[1].Domains[0] != "api.example.cn" || n.Domains[0].Domains[0] != "example.cn") {
			t.Errorf("domains %+v", n.Domains)
		}
	}
}
