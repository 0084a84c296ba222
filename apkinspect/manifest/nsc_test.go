package manifest

import (
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
