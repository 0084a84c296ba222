package miniprogram

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// appConfig is the privacy-relevant part of app.json (developer source) or app-config.json
// (compiled package), for WeChat and Alipay alike.
type appConfig struct {
	Pages []string
	// Permissions maps a scope ("scope.userLocation") to its stated reason (may be empty).
	Permissions map[string]string
	// RequiredPrivateInfos is nil when the key is absent.
	RequiredPrivateInfos []string
	HasPrivateInfos      bool
	// UsePrivacyCheck is the __usePrivacyCheck__ value; HasPrivacyCheck says the key is present.
	UsePrivacyCheck bool
	HasPrivacyCheck bool
	// Strings are the string values of the document that hold a URL, for URL extraction (bounded).
	Strings []configString
}

const maxConfigBytes = 8 << 20

// parseAppConfig reads app.json or app-config.json. A field of the wrong type is reported and
// skipped; the others are kept.
func parseAppConfig(data []byte) (*appConfig, []error) {
	if len(data) > maxConfigBytes {
		return nil, []error{fmt.Errorf("%d bytes, over the %d-byte limit for a config file", len(data), maxConfigBytes)}
	}
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, []error{fmt.Errorf("not a JSON object: %w", err)}
	}
	c := &appConfig{Permissions: map[string]string{}}
	var errs []error
	field := func(key string, v any) bool {
		raw, ok := top[key]
		if !ok {
			return false
		}
		if err := json.Unmarshal(raw, v); err != nil {
			errs = append(errs, fmt.Errorf("field %q: %w", key, err))
			return false
		}
		return true
	}
	var pages []string
	if field("pages", &pages) {
		c.Pages = append(c.Pages, pages...)
	}
	for _, key := range []string{"subPackages", "subpackages"} {
		var subs []struct {
			Root  string   `json:"root"`
			Pages []string `json:"pages"`
		}
		if field(key, &subs) {
			for _, s := range subs {
				for _, p := range s.Pages {
					c.Pages = append(c.Pages, strings.TrimSuffix(s.Root, "/")+"/"+p)
				}
			}
		}
	}
	var perms map[string]json.RawMessage
	if field("permission", &perms) {
		for scope, raw := range perms {
			var p struct {
				Desc any `json:"desc"`
			}
			_ = json.Unmarshal(raw, &p)
			desc, _ := p.Desc.(string)
			c.Permissions[scope] = strings.TrimSpace(desc)
		}
	}
	c.HasPrivateInfos = field("requiredPrivateInfos", &c.RequiredPrivateInfos)
	if raw, ok := top["__usePrivacyCheck__"]; ok {
		c.HasPrivacyCheck = true
		var v any
		_ = json.Unmarshal(raw, &v)
		switch x := v.(type) {
		case bool:
			c.UsePrivacyCheck = x
		case string:
			c.UsePrivacyCheck = x == "true"
		}
	}
	collectStrings(data, &c.Strings)
	return c, errs
}

// configString is a string value of a config file. Domain says it sits under a key naming
// domains ("requestDomain", "socketDomain", …: a domain list the program requests from); any other
// URL of a config (an icon, a link) is no request.
type configString struct {
	Value  string
	Domain bool
}

// collectStrings gathers up to 10,000 string values that look like they hold a URL, with whether
// a key above them names domains.
func collectStrings(data []byte, out *[]configString) {
	type frame struct {
		object, wantKey bool
		key             string
	}
	var stack []frame
	underDomain := func() bool {
		for _, f := range stack {
			if strings.Contains(strings.ToLower(f.key), "domain") {
				return true
			}
		}
		return false
	}
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for len(*out) < 10_000 {
		t, err := dec.Token()
		if err != nil {
			return
		}
		switch v := t.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, frame{object: true, wantKey: true})
			case '[':
				stack = append(stack, frame{})
			default:
				if len(stack) > 0 {
					stack = stack[:len(stack)-1]
				}
				valueDone()
			}
		case string:
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
				stack[n-1].key, stack[n-1].wantKey = v, false
				continue
			}
			if strings.Contains(v, "://") {
				*out = append(*out, configString{Value: v, Domain: underDomain()})
			}
			valueDone()
		default:
			valueDone()
		}
	}
}

// merge folds another config (app.json beside app-config.json) into c.
func (c *appConfig) merge(o *appConfig) {
	if o == nil {
		return
	}
	seen := map[string]bool{}
	for _, p := range c.Pages {
		seen[p] = true
	}
	for _, p := range o.Pages {
		if !seen[p] {
			c.Pages = append(c.Pages, p)
			seen[p] = true
		}
	}
	for k, v := range o.Permissions {
		if cur, ok := c.Permissions[k]; !ok || cur == "" {
			c.Permissions[k] = v
		}
	}
	if o.HasPrivateInfos {
		c.HasPrivateInfos = true
		c.RequiredPrivateInfos = uniqueSorted(append(c.RequiredPrivateInfos, o.RequiredPrivateInfos...))
	}
	if o.HasPrivacyCheck {
		c.HasPrivacyCheck = true
		c.UsePrivacyCheck = c.UsePrivacyCheck || o.UsePrivacyCheck
	}
	c.Strings = append(c.Strings, o.Strings...)
}

func uniqueSorted(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
