package browser

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"strings"
)

// blockedPrefixes are the address ranges a capture may never reach unless the operator allows
// them: loopback, private (RFC 1918, ULA), CGNAT, link-local (incl. the 169.254.169.254 and
// fd00:ec2::254 metadata services), multicast, unspecified, benchmarking, reserved and broadcast.
var blockedPrefixes = mustPrefixes(
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
	"192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
	"203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
	"::/128", "::1/128", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "2001:db8::/32",
	"fd00:ec2::254/128",
)

func mustPrefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

// ErrRefused is wrapped by every error the guard returns for a refused destination.
var ErrRefused = errors.New("refused by the SSRF guard")

// Guard decides whether a capture may fetch a URL. It resolves the host itself and refuses when
// any resolved address is in a blocked range and not allowed by the operator; Chromium's own
// connection address is checked again after the fact (see Capture) to catch DNS rebinding.
type Guard struct {
	allowNets  []netip.Prefix
	allowHosts []string // exact host names or "*.suffix" patterns
	rules      []hostRule
	// lookup resolves a host name; net.DefaultResolver by default.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

// NewGuard builds a guard from an allow-list (CIDRs, IP addresses, host names or "*.domain")
// and the same --host-resolver-rules string passed to Chromium, so both resolve alike.
func NewGuard(allow []string, hostResolverRules string) (*Guard, error) {
	g := &Guard{lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
		return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}}
	for _, a := range allow {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if p, err := netip.ParsePrefix(a); err == nil {
			g.allowNets = append(g.allowNets, p.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(a); err == nil {
			g.allowNets = append(g.allowNets, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		if strings.ContainsAny(a, "/ ") {
			return nil, fmt.Errorf("browser: allow-list entry %q is neither a CIDR, an address nor a host", a)
		}
		g.allowHosts = append(g.allowHosts, strings.ToLower(strings.TrimSuffix(a, ".")))
	}
	rules, err := parseHostRules(hostResolverRules)
	if err != nil {
		return nil, err
	}
	g.rules = rules
	return g, nil
}

// hostRule is one "MAP pattern target" or "EXCLUDE pattern" of Chromium's --host-resolver-rules.
type hostRule struct {
	exclude bool
	pattern string
	target  string
}

// parseHostRules reads the subset of --host-resolver-rules pilmon uses: comma-separated
// "MAP <pattern> <target>" and "EXCLUDE <pattern>".
func parseHostRules(s string) ([]hostRule, error) {
	var out []hostRule
	if len(s) > 4096 {
		return nil, errors.New("browser: host resolver rules longer than 4096 bytes")
	}
	for _, part := range strings.Split(s, ",") {
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		switch {
		case strings.EqualFold(f[0], "MAP") && len(f) == 3:
			out = append(out, hostRule{pattern: strings.ToLower(f[1]), target: f[2]})
		case strings.EqualFold(f[0], "EXCLUDE") && len(f) == 2:
			out = append(out, hostRule{exclude: true, pattern: strings.ToLower(f[1])})
		default:
			return nil, fmt.Errorf("browser: unsupported host resolver rule %q", strings.TrimSpace(part))
		}
	}
	return out, nil
}

// mapHost applies the resolver rules: the mapped target and true, or "" and false.
func (g *Guard) mapHost(host string) (string, bool) {
	for _, r := range g.rules {
		if ok, _ := path.Match(r.pattern, host); !ok {
			continue
		}
		if r.exclude {
			return "", false
		}
		t := r.target
		if h, _, err := net.SplitHostPort(t); err == nil {
			t = h
		}
		return strings.Trim(t, "[]"), true
	}
	return "", false
}

func (g *Guard) hostAllowed(host string) bool {
	for _, h := range g.allowHosts {
		if h == host || (strings.HasPrefix(h, "*.") && strings.HasSuffix(host, h[1:])) {
			return true
		}
	}
	return false
}

// AddrAllowed reports whether a connection to ip is permitted.
func (g *Guard) AddrAllowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range g.allowNets {
		if p.Contains(ip) {
			return true
		}
	}
	// NAT64 and 6to4 embed an IPv4 address: judge the embedded one.
	if ip.Is6() {
		b := ip.As16()
		if netip.MustParsePrefix("64:ff9b::/96").Contains(ip) {
			return g.AddrAllowed(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		}
		if netip.MustParsePrefix("2002::/16").Contains(ip) {
			return g.AddrAllowed(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
	}
	if ip == netip.IPv4Unspecified() || ip == netip.MustParseAddr("255.255.255.255") {
		return false
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// RemoteAllowed reports whether Chromium may have connected to ip for rawURL: the host is on
// the allow-list or the address is allowed.
func (g *Guard) RemoteAllowed(rawURL string, ip netip.Addr) bool {
	if u, err := url.Parse(rawURL); err == nil && g.hostAllowed(strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))) {
		return true
	}
	return g.AddrAllowed(ip)
}

// Check returns nil when rawURL may be fetched, or an error wrapping ErrRefused that says why.
func (g *Guard) Check(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("%w: unparsable URL: %v", ErrRefused, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "ws", "wss":
	case "data", "blob", "about":
		// No network: the content is already in the page.
		return nil
	default:
		return fmt.Errorf("%w: scheme %q not allowed", ErrRefused, u.Scheme)
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "" {
		return fmt.Errorf("%w: no host in %q", ErrRefused, rawURL)
	}
	if g.hostAllowed(host) {
		return nil
	}
	target := host
	if m, ok := g.mapHost(host); ok {
		if m == "~NOTFOUND" {
			return fmt.Errorf("%w: %s does not resolve", ErrRefused, host)
		}
		target = m
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(target); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		addrs, err = g.lookup(ctx, target)
		if err != nil {
			return fmt.Errorf("%w: cannot resolve %s: %v", ErrRefused, host, err)
		}
		if len(addrs) == 0 {
			return fmt.Errorf("%w: %s has no address", ErrRefused, host)
		}
	}
	for _, ip := range addrs {
		if !g.AddrAllowed(ip) {
			return fmt.Errorf("%w: %s resolves to %s (private, loopback, link-local, metadata or reserved)", ErrRefused, host, ip)
		}
	}
	return nil
}
