package browser

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// blockedPrefixes are the address ranges a capture may never reach unless the operator allows
// them: loopback, private (RFC 1918, ULA), CGNAT, link-local (incl. the 169.254.169.254 and
// fd00:ec2::254 metadata services), multicast, unspecified, benchmarking, reserved and broadcast.
// ::/96 is the deprecated IPv4-compatible IPv6 block: ::127.0.0.1 carries a loopback address
// that some stacks and proxies route to IPv4, and no public host lives there.
var blockedPrefixes = mustPrefixes(
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
	"192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
	"203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
	"::/96", "::1/128", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "2001:db8::/32",
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

// mappedPort returns the port of a "MAP pattern host:port" rule that applies to host, if any:
// Chromium connects to that port instead of the URL's, and so must the proxy.
func (g *Guard) mappedPort(host string) (uint16, bool) {
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	for _, r := range g.rules {
		if ok, _ := path.Match(r.pattern, host); !ok {
			continue
		}
		if r.exclude {
			return 0, false
		}
		_, p, err := net.SplitHostPort(r.target)
		if err != nil {
			return 0, false
		}
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return 0, false
		}
		return uint16(n), true
	}
	return 0, false
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
		// The operator vouches for the name; the proxy still resolves it before connecting.
		return nil
	}
	_, err = g.Resolve(ctx, host)
	return err
}

// Resolve returns the addresses a connection to host (a name or an address literal, without
// port or brackets) may use, or an error wrapping ErrRefused. The resolver rules apply first;
// a host on the allow-list may use whatever it resolves to; otherwise every address must be
// allowed, so that a name with one public and one private address is refused as a whole. A
// caller that connects must use one of exactly these addresses: resolving again could give
// another answer (DNS rebinding).
func (g *Guard) Resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "" {
		return nil, fmt.Errorf("%w: empty host", ErrRefused)
	}
	byName := g.hostAllowed(host)
	target := host
	if m, ok := g.mapHost(host); ok {
		if m == "~NOTFOUND" {
			return nil, fmt.Errorf("%w: %s does not resolve", ErrRefused, host)
		}
		target = m
	}
	var addrs []netip.Addr
	if ip, ok := parseIPHost(target); ok {
		addrs = []netip.Addr{ip}
	} else if endsInNumber(target) {
		// Chromium reads such a host as an IPv4 address; one that does not parse is no name either.
		return nil, fmt.Errorf("%w: %s is a malformed IPv4 address", ErrRefused, host)
	} else {
		var err error
		addrs, err = g.lookup(ctx, target)
		if err != nil {
			return nil, fmt.Errorf("%w: cannot resolve %s: %v", ErrRefused, host, err)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("%w: %s has no address", ErrRefused, host)
		}
		if len(addrs) > 64 {
			addrs = addrs[:64]
		}
	}
	if byName {
		return addrs, nil
	}
	for _, ip := range addrs {
		if !g.AddrAllowed(ip) {
			return nil, fmt.Errorf("%w: %s resolves to %s (private, loopback, link-local, metadata or reserved)", ErrRefused, host, ip)
		}
	}
	return addrs, nil
}

// DialTargets returns the addresses and port a connection to host:port must use, checked as
// Resolve does and with the resolver rules' port mapping applied: what a client outside Chromium
// (the APK download) dials, exactly, so that the guard's answer and the connection agree.
func (g *Guard) DialTargets(ctx context.Context, host string, port uint16) ([]netip.AddrPort, error) {
	addrs, err := g.Resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	if mp, ok := g.mappedPort(host); ok {
		port = mp
	}
	out := make([]netip.AddrPort, len(addrs))
	for i, a := range addrs {
		out[i] = netip.AddrPortFrom(a.Unmap(), port)
	}
	return out, nil
}

// parseIPHost reads an address literal the way a URL parser does (WHATWG URL, which Chromium
// follows): IPv6, dotted IPv4, and the legacy IPv4 forms with one to four parts in decimal,
// octal (leading 0) or hex (0x), e.g. 2130706433, 0177.0.0.1 and 0x7f.1 are all 127.0.0.1.
func parseIPHost(h string) (netip.Addr, bool) {
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip, true
	}
	if len(h) > 64 {
		return netip.Addr{}, false
	}
	parts := strings.Split(h, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	nums := make([]uint64, len(parts))
	for i, p := range parts {
		n, ok := parseIPv4Part(p)
		if !ok {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 && n > 255 {
			return netip.Addr{}, false
		}
		nums[i] = n
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return netip.Addr{}, false
	}
	v := uint32(last)
	for i, n := range nums[:len(nums)-1] {
		v |= uint32(n) << (8 * (3 - i))
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// parseIPv4Part reads one part of a legacy IPv4 literal: decimal, 0-prefixed octal or 0x hex.
func parseIPv4Part(p string) (uint64, bool) {
	base := 10
	switch {
	case len(p) >= 2 && (p[:2] == "0x" || p[:2] == "0X"):
		base, p = 16, p[2:]
		if p == "" {
			return 0, true
		}
	case len(p) >= 2 && p[0] == '0':
		base, p = 8, p[1:]
	}
	if p == "" || len(p) > 12 {
		return 0, false
	}
	n, err := strconv.ParseUint(p, base, 64)
	return n, err == nil
}

// endsInNumber reports whether the last label of h is numeric (decimal digits or 0x hex), which
// makes a URL parser treat the whole host as an IPv4 address.
func endsInNumber(h string) bool {
	last := h[strings.LastIndexByte(h, '.')+1:]
	if last == "" {
		return false
	}
	if strings.Trim(last, "0123456789") == "" {
		return true
	}
	if len(last) >= 2 && (last[:2] == "0x" || last[:2] == "0X") {
		return strings.Trim(last[2:], "0123456789abcdefABCDEF") == ""
	}
	return false
}
