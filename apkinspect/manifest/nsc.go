package manifest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/shogo82148/androidbinary"
)

// MaxNetworkSecurityConfigSize bounds res/xml/<network-security-config>.xml: real files are a
// few hundred bytes to a few KiB.
const MaxNetworkSecurityConfigSize = 1 << 20

// maxNSCDomainConfigs bounds the domain-config elements kept from one file.
const maxNSCDomainConfigs = 4096

// NetworkSecurityConfig is what res/xml/<network_security_config>.xml declares
// (developer.android.com/privacy-and-security/security-config). A nil Cleartext or Anchors means
// "not written here": the value is inherited from the enclosing config, then from the platform
// default for the app's targetSdk.
type NetworkSecurityConfig struct {
	File string `json:"file"`
	// Base is <base-config>, nil when absent.
	Base *NSCConfig `json:"base,omitempty"`
	// Domains are the <domain-config> elements, nested ones flattened with what they inherit
	// from their parents already applied.
	Domains []NSCConfig `json:"domains,omitempty"`
	// DebugAnchors are the trust anchors of <debug-overrides>, which apply only when the app is
	// debuggable.
	DebugAnchors []string `json:"debug_anchors,omitempty"`
	// Problems are non-fatal oddities (too many domain configs, unknown values).
	Problems []string `json:"problems,omitempty"`

	tooMany bool
}

// NSCConfig is one base-config or domain-config.
type NSCConfig struct {
	Domains   []string `json:"domains,omitempty"`
	Cleartext *bool    `json:"cleartext,omitempty"`
	// Anchors are the certificates sources of trust-anchors: "system", "user" or a resource
	// reference ("@0x7f0e0001" for @raw/…). nil when the element has no trust-anchors.
	Anchors []string `json:"anchors,omitempty"`
}

// ParseNetworkSecurityConfig reads a binary XML network security config. name is the entry name,
// used in errors.
func ParseNetworkSecurityConfig(name string, b []byte) (n *NetworkSecurityConfig, err error) {
	defer func() {
		if p := recover(); p != nil {
			n, err = nil, fmt.Errorf("%s: parser panicked: %v", name, p)
		}
	}()
	if len(b) > MaxNetworkSecurityConfigSize {
		return nil, fmt.Errorf("%s: %d bytes > %d", name, len(b), MaxNetworkSecurityConfigSize)
	}
	if err := validateXML(b); err != nil {
		return nil, fmt.Errorf("%s: malformed binary XML: %v", name, err)
	}
	xf, err := androidbinary.NewXMLFile(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	n = &NetworkSecurityConfig{File: name}
	if err := n.decode(xf.Reader(), cdata(b, xf)); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return n, nil
}

// nscNode is one element of the file; the file is small, so it is read into a tree first.
type nscNode struct {
	name  string
	attrs map[string]string
	text  strings.Builder
	kids  []*nscNode
}

// maxNSCElements bounds the elements read from one file.
const maxNSCElements = 20000

// chunkXMLCData is a text node; androidbinary skips it, and <domain> holds its name as text.
const chunkXMLCData = 0x0104

// cdata maps the 1-based index of each start element to the text that follows it (up to the next
// element), read from the CDATA chunks of b, which validateXML has already walked.
func cdata(b []byte, xf *androidbinary.XMLFile) map[int]string {
	out := map[int]string{}
	if len(b) < 8 {
		return out
	}
	hdr, size := int(u16(b, 2)), int(u32(b, 4))
	elements := 0
	for off := hdr; off+8 <= size && off+8 <= len(b); {
		typ, ch, cs := u16(b, off), int(u16(b, off+2)), int(u32(b, off+4))
		if cs < 8 || off+cs > len(b) {
			break
		}
		switch typ {
		case chunkXMLStart:
			elements++
		case chunkXMLCData:
			if ch >= 8 && off+ch+4 <= off+cs && elements > 0 {
				ref := androidbinary.ResStringPoolRef(u32(b, off+ch))
				if xf.HasString(ref) && len(out[elements]) < 1024 {
					out[elements] += xf.GetString(ref)
				}
			}
		}
		off += cs
	}
	return out
}

func (n *NetworkSecurityConfig) decode(r io.Reader, text map[int]string) error {
	dec := xml.NewDecoder(r)
	dec.Strict = false
	var stack []*nscNode
	var root *nscNode
	elements := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("decoding XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			elements++
			if elements > maxNSCElements || len(stack) >= maxDepth {
				return errors.New("too many or too deeply nested elements")
			}
			nd := &nscNode{name: t.Name.Local, attrs: map[string]string{}}
			nd.text.WriteString(text[elements])
			for _, at := range t.Attr {
				nd.attrs[at.Name.Local] = at.Value
			}
			if len(stack) == 0 {
				if root == nil {
					root = nd
				}
			} else {
				parent := stack[len(stack)-1]
				parent.kids = append(parent.kids, nd)
			}
			stack = append(stack, nd)
		case xml.CharData:
			if len(stack) > 0 && stack[len(stack)-1].text.Len() < 1024 {
				stack[len(stack)-1].text.Write(t)
			}
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	if root == nil || root.name != "network-security-config" {
		return errors.New("no <network-security-config> root element")
	}
	for _, k := range root.kids {
		switch k.name {
		case "base-config":
			if n.Base != nil {
				n.Problems = append(n.Problems, "more than one base-config; the first is used")
				continue
			}
			n.Base = &NSCConfig{Cleartext: n.boolAttr(k.attrs, "cleartextTrafficPermitted"), Anchors: anchors(k)}
		case "domain-config":
			n.domainConfig(k, nil)
		case "debug-overrides":
			n.DebugAnchors = anchors(k)
		}
	}
	return nil
}

// domainConfig adds d and its nested domain-configs, each inheriting what it does not set.
func (n *NetworkSecurityConfig) domainConfig(d *nscNode, parent *NSCConfig) {
	if len(n.Domains) >= maxNSCDomainConfigs {
		if !n.tooMany {
			n.tooMany = true
			n.Problems = append(n.Problems, fmt.Sprintf("more than %d domain-config elements; the rest ignored", maxNSCDomainConfigs))
		}
		return
	}
	c := NSCConfig{Cleartext: n.boolAttr(d.attrs, "cleartextTrafficPermitted"), Anchors: anchors(d)}
	if parent != nil {
		if c.Cleartext == nil {
			c.Cleartext = parent.Cleartext
		}
		if c.Anchors == nil {
			c.Anchors = parent.Anchors
		}
	}
	for _, k := range d.kids {
		if k.name == "domain" && len(c.Domains) < 256 {
			if dom := strings.ToLower(strings.TrimSpace(k.text.String())); dom != "" {
				c.Domains = append(c.Domains, dom)
			}
		}
	}
	n.Domains = append(n.Domains, c)
	for _, k := range d.kids {
		if k.name == "domain-config" {
			n.domainConfig(k, &c)
		}
	}
}

// anchors lists the certificates sources of c's trust-anchors; nil when it has none.
func anchors(c *nscNode) []string {
	var out []string
	for _, k := range c.kids {
		if k.name != "trust-anchors" {
			continue
		}
		if out == nil {
			out = []string{}
		}
		for _, cert := range k.kids {
			if src := cert.attrs["src"]; cert.name == "certificates" && src != "" && len(out) < 64 {
				out = append(out, src)
			}
		}
	}
	return out
}

func (n *NetworkSecurityConfig) boolAttr(a map[string]string, name string) *bool {
	v, ok := a[name]
	if !ok {
		return nil
	}
	switch v {
	case "true":
		b := true
		return &b
	case "false":
		b := false
		return &b
	}
	n.Problems = append(n.Problems, fmt.Sprintf("%s=%q is not a boolean; ignored", name, v))
	return nil
}

// Effective returns what the config means for an app with the given targetSdk and debuggable
// flag: whether cleartext traffic is permitted to any destination (the base config or any
// domain), and whether user-installed CA certificates are trusted for any destination (which lets
// a proxy on the device read the app's TLS traffic). The platform defaults follow
// NetworkSecurityConfig.getDefaultBuilder: cleartext allowed below targetSdk 28, user CAs trusted
// up to targetSdk 23.
func (n *NetworkSecurityConfig) Effective(targetSDK int, debuggable bool) (cleartext, userCA bool) {
	platformClear := targetSDK < 28
	platformAnchors := []string{"system"}
	if targetSDK <= 23 {
		platformAnchors = append(platformAnchors, "user")
	}
	if n == nil {
		return platformClear, targetSDK <= 23
	}
	baseClear, baseAnchors := platformClear, platformAnchors
	if n.Base != nil {
		if n.Base.Cleartext != nil {
			baseClear = *n.Base.Cleartext
		}
		if n.Base.Anchors != nil {
			baseAnchors = n.Base.Anchors
		}
	}
	cleartext, userCA = baseClear, hasUser(baseAnchors)
	for _, d := range n.Domains {
		c, a := baseClear, baseAnchors
		if d.Cleartext != nil {
			c = *d.Cleartext
		}
		if d.Anchors != nil {
			a = d.Anchors
		}
		cleartext = cleartext || c
		userCA = userCA || hasUser(a)
	}
	if debuggable && hasUser(n.DebugAnchors) {
		userCA = true
	}
	return cleartext, userCA
}

func hasUser(anchors []string) bool {
	for _, a := range anchors {
		if a == "user" {
			return true
		}
	}
	return false
}
