package browser

import (
	"context"
	"errors"
	"net/netip"
	"testing"
)

func TestGuardRefusesPrivateDestinations(t *testing.T) {
	g, err := NewGuard(nil, "MAP private.test 10.1.2.3, MAP rebind.test 192.168.0.7, MAP public.test 93.184.216.34, MAP v6meta.test [fd00:ec2::254]")
	if err != nil {
		t.Fatal(err)
	}
	refused := []string{
		"http://127.0.0.1/", "http://127.8.9.10:8080/x", "http://[::1]/", "http://169.254.169.254/latest/meta-data/",
		"http://10.0.0.1/", "http://172.16.5.4/", "http://192.168.1.1/", "http://100.64.0.1/", "http://0.0.0.0/",
		"http://224.0.0.1/", "http://[fe80::1]/", "http://[fd00:ec2::254]/", "http://[::ffff:127.0.0.1]/",
		"http://[64:ff9b::a9fe:a9fe]/", "http://private.test/", "http://rebind.test/", "http://v6meta.test/",
		"file:///etc/passwd", "chrome://settings", "ftp://example.org/", "javascript:alert(1)", "http:///nohost",
	}
	for _, u := range refused {
		if err := g.Check(context.Background(), u); !errors.Is(err, ErrRefused) {
			t.Errorf("Check(%q) = %v, want refusal", u, err)
		}
	}
	for _, u := range []string{"http://public.test/", "https://93.184.216.34/", "http://[2606:2800:220:1::1]/", "data:text/html,hi"} {
		if err := g.Check(context.Background(), u); err != nil {
			t.Errorf("Check(%q) = %v, want allowed", u, err)
		}
	}
}

func TestGuardAllowList(t *testing.T) {
	g, err := NewGuard([]string{"127.0.0.0/8", "*.intranet.test", "10.9.9.9"}, "MAP *.intranet.test 10.0.0.5")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"http://127.0.0.1:9/", "http://a.intranet.test/", "http://10.9.9.9/"} {
		if err := g.Check(context.Background(), u); err != nil {
			t.Errorf("Check(%q) = %v, want allowed by the allow-list", u, err)
		}
	}
	for _, u := range []string{"http://169.254.169.254/", "http://10.9.9.8/", "http://intranet.test.evil/"} {
		if err := g.Check(context.Background(), u); !errors.Is(err, ErrRefused) {
			t.Errorf("Check(%q) = %v, want refusal", u, err)
		}
	}
	if !g.RemoteAllowed("http://b.intranet.test/", netip.MustParseAddr("10.0.0.5")) {
		t.Error("allowed host's remote address refused")
	}
	if g.RemoteAllowed("http://other.test/", netip.MustParseAddr("10.0.0.5")) {
		t.Error("rebinding to a private address not caught")
	}
	if _, err := NewGuard([]string{"not a host"}, ""); err == nil {
		t.Error("bad allow-list entry accepted")
	}
	if _, err := NewGuard(nil, "RESOLVE x y z"); err == nil {
		t.Error("unsupported resolver rule accepted")
	}
}

func FuzzGuardCheck(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1/", "http://[::ffff:10.0.0.1]:80/", "https://a.b/c?d", "file:///x", "http://%zz/", "MAP * 127.0.0.1"} {
		f.Add(s, "MAP * 127.0.0.1")
	}
	f.Fuzz(func(t *testing.T, u, rules string) {
		g, err := NewGuard([]string{"192.0.2.0/24"}, rules)
		if err != nil {
			return
		}
		g.lookup = func(context.Context, string) ([]netip.Addr, error) { return nil, errors.New("offline") }
		err = g.Check(context.Background(), u)
		if err != nil && !errors.Is(err, ErrRefused) {
			t.Fatalf("error not wrapping ErrRefused: %v", err)
		}
	})
}
