package pipeline

import (
	"context"
	"os"
	"strings"
	"time"

	"pilmon/apkinspect"
	"pilmon/browser"
	"pilmon/miniprogram"
	"pilmon/policies"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/traffic"
)

// InspectorOptions configure DefaultInspectors.
type InspectorOptions struct {
	// Tool is recorded in evidence metadata, e.g. "pilmon 0.1.0".
	Tool string
	// BrowserAllow lets the SSRF guard through to these CIDRs/hosts (the demo's loopback server,
	// an intranet policy page an operator vouches for). $PILMON_BROWSER_ALLOW adds to it.
	BrowserAllow []string
	// HostResolverRules maps made-up demo domains to loopback.
	HostResolverRules string
	// CaptureIdleQuiet is how long without requests counts as network idle in H5 live captures
	// (traffic's default when zero).
	CaptureIdleQuiet time.Duration
	// BrowserPages bounds how many pages the one Chromium of this process captures at once
	// (URL sources of every inspector together); default 2.
	BrowserPages int
}

// DefaultInspectors returns every inspector of this build, in the order they are asked to accept
// a source, sharing one Chromium (started only when a URL source is inspected), and a function
// that releases it.
func DefaultInspectors(cat *rules.Catalogue, opts InspectorOptions) ([]scanner.Inspector, func() error, error) {
	allow := opts.BrowserAllow
	if v := os.Getenv("PILMON_BROWSER_ALLOW"); v != "" {
		allow = append(allow, strings.Split(v, ",")...)
	}
	br, err := browser.New(browser.Options{Allow: allow, HostResolverRules: opts.HostResolverRules, SharedProcess: true})
	if err != nil {
		return nil, nil, err
	}
	out := []scanner.Inspector{
		apkinspect.New(cat, apkinspect.Options{Tool: opts.Tool}),
		miniprogram.New(cat, miniprogram.Options{Tool: opts.Tool}),
		policies.New(cat, br, policies.Options{Tool: opts.Tool}),
		// The live capture of H5 pages obeys the same SSRF allow-list and host mapping as the
		// policy capture.
		traffic.New(cat, traffic.Options{Tool: opts.Tool, Capture: traffic.CaptureOptions{
			Allow: allow, HostResolverRules: opts.HostResolverRules, IdleQuiet: opts.CaptureIdleQuiet}}),
	}
	return LimitBrowserPages(out, opts.BrowserPages), br.Close, nil
}

// LimitBrowserPages wraps inspectors so that at most pages URL sources (the kinds an inspector
// declares as URL: they open a Chromium page) are inspected at once across all of them; file
// sources are not limited. pages <= 0 means 2.
func LimitBrowserPages(ins []scanner.Inspector, pages int) []scanner.Inspector {
	if pages <= 0 {
		pages = 2
	}
	sem := make(chan struct{}, pages)
	out := make([]scanner.Inspector, len(ins))
	for i, in := range ins {
		out[i] = pageLimited{Inspector: in, sem: sem}
	}
	return out
}

type pageLimited struct {
	scanner.Inspector
	sem chan struct{}
}

func (p pageLimited) Inspect(ctx context.Context, in *scanner.Input) scanner.Output {
	if spec, _ := scanner.SpecFor(p.Inspector, in.Source.Kind); spec.URL {
		select {
		case p.sem <- struct{}{}:
			defer func() { <-p.sem }()
		case <-ctx.Done():
			return scanner.Output{Errors: []scanner.FileError{{Path: in.Source.Locator,
				Reason: "等待浏览器页面超时 / timed out waiting for a browser page: " + ctx.Err().Error()}}}
		}
	}
	return p.Inspector.Inspect(ctx, in)
}
