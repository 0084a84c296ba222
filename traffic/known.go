package traffic

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// DeviceValues are the real identifiers of the test device, given by the analyst
// (schema: testdata/device_values.example.yaml). Every list field accepts a scalar or a list.
type DeviceValues struct {
	IMEI         stringList `yaml:"imei"`
	MEID         stringList `yaml:"meid"`
	IMSI         stringList `yaml:"imsi"`
	ICCID        stringList `yaml:"iccid"`
	Serial       stringList `yaml:"serial"`
	AndroidID    stringList `yaml:"android_id"`
	OAID         stringList `yaml:"oaid"`
	GAID         stringList `yaml:"gaid"`
	IDFA         stringList `yaml:"idfa"`
	MAC          stringList `yaml:"mac"`
	BluetoothMAC stringList `yaml:"bluetooth_mac"`
	Phone        stringList `yaml:"phone"`
	Email        stringList `yaml:"email"`
	IDNumber     stringList `yaml:"id_number"`
	Name         stringList `yaml:"name"`
	WifiBSSID    stringList `yaml:"wifi_bssid"`
	WifiSSID     stringList `yaml:"wifi_ssid"`
	Location     *Coord     `yaml:"location"`
	// Custom maps a name of the analyst's choice to values, each with a PI category:
	// custom: {user_id: {pi: accounts, values: ["u123456"]}}
	Custom map[string]CustomValue `yaml:"custom"`
}

// Coord is a known position; Tolerance is in degrees (default 0.001, about 100 m).
type Coord struct {
	Lat       float64 `yaml:"lat"`
	Lng       float64 `yaml:"lng"`
	Tolerance float64 `yaml:"tolerance"`
}

// CustomValue is an analyst-defined value with its PI category.
type CustomValue struct {
	PI     string     `yaml:"pi"`
	Values stringList `yaml:"values"`
}

type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil
		}
		*l = stringList{n.Value}
		return nil
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: expected a string", c.Line)
			}
			*l = append(*l, c.Value)
		}
		return nil
	}
	return fmt.Errorf("line %d: expected a string or a list of strings", n.Line)
}

// LoadDeviceValues reads a device-values YAML file (at most 1 MiB).
func LoadDeviceValues(path string) (*DeviceValues, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<20+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > 1<<20 {
		return nil, fmt.Errorf("%s: larger than 1 MiB", path)
	}
	var dv DeviceValues
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&dv); err != nil && err != io.EOF {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &dv, nil
}

// knownPattern is one searchable form of one known value.
type knownPattern struct {
	name, pi, encoding string
	text               string
}

// KnownValues finds the analyst's device values in requests: plain, upper/lower case, without
// separators (MACs), URL-encoded, base64 and MD5/SHA-1/SHA-256 (hex, upper or lower case).
type KnownValues struct {
	patterns []knownPattern
	// long patterns are found as substrings (an 8-byte prefix index); short ones only as a whole value
	byPrefix map[uint64][]int32
	bloom    []uint64
	short    map[string][]int32
	loc      *Coord
	// forms holds name+"\x00"+text of every pattern, to tell whether a matched text is one of them.
	forms map[string]bool
}

// has tells whether text is a searchable form of a value of the field name.
func (kv *KnownValues) has(name, text string) bool {
	return kv != nil && kv.forms[name+"\x00"+text]
}

// CompileKnownValues prepares the matcher; nil in, nil out.
func CompileKnownValues(dv *DeviceValues) *KnownValues {
	if dv == nil {
		return nil
	}
	kv := &KnownValues{byPrefix: map[uint64][]int32{}, bloom: make([]uint64, 1<<10), short: map[string][]int32{}}
	seen := map[string]bool{}
	add := func(name, pi, enc, text string) {
		if text == "" || seen[name+"\x00"+text] {
			return
		}
		seen[name+"\x00"+text] = true
		kv.patterns = append(kv.patterns, knownPattern{name: name, pi: pi, encoding: enc, text: text})
	}
	addValue := func(name, pi string, bases []string) {
		for _, b := range bases {
			b = strings.TrimSpace(b)
			if b == "" {
				continue
			}
			forms := []string{b, strings.ToLower(b), strings.ToUpper(b)}
			for _, f := range forms {
				add(name, pi, "plain", f)
				if q := url.QueryEscape(f); q != f {
					add(name, pi, "urlencoded", q)
				}
				for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding} {
					add(name, pi, "base64", enc.EncodeToString([]byte(f)))
				}
				m := md5.Sum([]byte(f))
				s1 := sha1.Sum([]byte(f))
				s2 := sha256.Sum256([]byte(f))
				for enc, h := range map[string]string{"md5": hex.EncodeToString(m[:]), "sha1": hex.EncodeToString(s1[:]), "sha256": hex.EncodeToString(s2[:])} {
					add(name, pi, enc, h)
					add(name, pi, enc, strings.ToUpper(h))
				}
			}
		}
	}
	macForms := func(vals []string) []string {
		var out []string
		for _, v := range vals {
			n := normMAC(v)
			if len(n) != 12 {
				out = append(out, v)
				continue
			}
			pairs := []string{n[0:2], n[2:4], n[4:6], n[6:8], n[8:10], n[10:12]}
			out = append(out, strings.Join(pairs, ":"), strings.Join(pairs, "-"), n)
		}
		return out
	}
	phoneForms := func(vals []string) []string {
		var out []string
		for _, v := range vals {
			v = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(v), "+86"), "86")
			out = append(out, v, "86"+v, "+86"+v)
		}
		return out
	}
	addValue("imei", "device_id_hw", dv.IMEI)
	for _, v := range dv.IMEI {
		// some SDKs send the IMEI without its check digit
		if len(strings.TrimSpace(v)) == 15 {
			addValue("imei", "device_id_hw", []string{strings.TrimSpace(v)[:14]})
		}
	}
	addValue("meid", "device_id_hw", dv.MEID)
	addValue("imsi", "device_id_sim", dv.IMSI)
	addValue("iccid", "device_id_sim", dv.ICCID)
	addValue("serial", "device_id_hw", dv.Serial)
	addValue("android_id", "device_id_resettable", dv.AndroidID)
	addValue("oaid", "device_id_resettable", dv.OAID)
	addValue("gaid", "device_id_resettable", dv.GAID)
	addValue("idfa", "device_id_resettable", dv.IDFA)
	addValue("mac", "mac_address", macForms(dv.MAC))
	addValue("bluetooth_mac", "bluetooth", macForms(dv.BluetoothMAC))
	addValue("phone", "phone_number", phoneForms(dv.Phone))
	addValue("email", "accounts", dv.Email)
	addValue("id_number", "identity_document", dv.IDNumber)
	addValue("name", "name", dv.Name)
	addValue("wifi_bssid", "wifi_info", macForms(dv.WifiBSSID))
	addValue("wifi_ssid", "wifi_info", dv.WifiSSID)
	names := make([]string, 0, len(dv.Custom))
	for n := range dv.Custom {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := dv.Custom[n]
		pi := c.PI
		if pi == "" {
			pi = "other"
		}
		addValue(n, pi, c.Values)
	}
	if dv.Location != nil && (dv.Location.Lat != 0 || dv.Location.Lng != 0) {
		c := *dv.Location
		if c.Tolerance <= 0 {
			c.Tolerance = 0.001
		}
		kv.loc = &c
	}
	for i, p := range kv.patterns {
		if len(p.text) >= 8 {
			h := binary.LittleEndian.Uint64([]byte(p.text[:8]))
			kv.byPrefix[h] = append(kv.byPrefix[h], int32(i))
			b := bloomBit(h)
			kv.bloom[b>>6] |= 1 << (b & 63)
		} else {
			kv.short[p.text] = append(kv.short[p.text], int32(i))
		}
	}
	kv.forms = seen
	return kv
}

func bloomBit(h uint64) uint64 { return (h * 0x9E3779B97F4A7C15) >> (64 - 16) }

// Len is the number of searchable forms.
func (kv *KnownValues) Len() int { return len(kv.patterns) }

// matchString reports each known form found in s.
func (kv *KnownValues) matchString(s string, found func(p *knownPattern)) {
	if ids, ok := kv.short[strings.TrimSpace(s)]; ok {
		for _, i := range ids {
			found(&kv.patterns[i])
		}
	}
	for i := 0; i+8 <= len(s); i++ {
		h := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 | uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		b := bloomBit(h)
		if kv.bloom[b>>6]&(1<<(b&63)) == 0 {
			continue
		}
		for _, id := range kv.byPrefix[h] {
			p := &kv.patterns[id]
			if strings.HasPrefix(s[i:], p.text) {
				found(p)
			}
		}
	}
}

// matchNode searches every value of a tree, and the location's coordinates with tolerance.
func (kv *KnownValues) matchNode(n *node, loc string, emit func(Hit)) {
	var walk func(n *node, depth int)
	walk = func(n *node, depth int) {
		if n == nil || depth > 200 {
			return
		}
		switch n.kind {
		case nStr, nNum:
			kv.matchString(n.val, func(p *knownPattern) {
				emit(Hit{Detector: "known_value:" + p.name, PI: p.pi, Location: loc, Key: n.key, Value: p.text, Known: true, Encoding: p.encoding})
			})
			if kv.loc != nil {
				if v := findCoordString(field{val: n.val}); len(v) > 0 {
					a, b, _ := strings.Cut(v[0], ",")
					x, _ := strconv.ParseFloat(a, 64)
					y, _ := strconv.ParseFloat(b, 64)
					if kv.near(x, y) || kv.near(y, x) {
						emit(Hit{Detector: "known_value:location", PI: "location_precise", Location: loc, Key: n.key, Value: "coordinates", Known: true, Encoding: "plain"})
					}
				}
			}
		case nObj:
			if kv.loc != nil {
				if lat, lng, _, _, ok := coordPair(n); ok && kv.near(lat, lng) {
					emit(Hit{Detector: "known_value:location", PI: "location_precise", Location: loc, Key: n.key, Value: "coordinates", Known: true, Encoding: "plain"})
				}
			}
		}
		for _, k := range n.kids {
			walk(k, depth+1)
		}
	}
	walk(n, 0)
}

func (kv *KnownValues) near(lat, lng float64) bool {
	return math.Abs(lat-kv.loc.Lat) <= kv.loc.Tolerance && math.Abs(lng-kv.loc.Lng) <= kv.loc.Tolerance
}
