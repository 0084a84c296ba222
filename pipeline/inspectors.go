package pipeline

import (
	"context"
	"os"
	"strings"
	"time"

	"pilmon/apkfetch"
	"pilmon/apkinspect"
	"pilmon/browser"
	"pilmon/hooklog"
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
	// APKDownloadMax bounds one APK download of an apk_url / apk_page_url source (default 512 MiB).
	APKDownloadMax int64
	// BrowserPages bounds how many pages the one Chromium of this process captures at once
	// (URL sources of every inspector together); default 2.
	BrowserPages int
}

// build is what an inspector of this build is constructed with.
type build struct {
	cat   *rules.Catalogue
	opts  InspectorOptions
	allow []string
	// br is the one Chromium of the process; nil when only the declarations are wanted (Kinds).
	br *browser.Browser
}

// registered lists the inspectors of this build, in the order they are asked to accept a source.
// A new kind of input is its package and one line here: detection, target validation, the CLI
// and the dashboard read the kinds an inspector declares (scanner.KindSpec) and nothing else.
var registered = []func(b build) scanner.Inspector{
	func(b build) scanner.Inspector { return apkinspect.New(b.cat, apkinspect.Options{Tool: b.opts.Tool}) },
	func(b build) scanner.Inspector { return miniprogram.New(b.cat, miniprogram.Options{Tool: b.opts.Tool}) },
	func(b build) scanner.Inspector { return policies.New(b.cat, b.br, policies.Options{Tool: b.opts.Tool}) },
	// The live capture of H5 pages obeys the same SSRF allow-list and host mapping as the
	// policy capture.
	func(b build) scanner.Inspector {
		return traffic.New(b.cat, traffic.Options{Tool: b.opts.Tool, Capture: traffic.CaptureOptions{
			Allow: b.allow, HostResolverRules: b.opts.HostResolverRules, IdleQuiet: b.opts.CaptureIdleQuiet}})
	},
	func(b build) scanner.Inspector {
		return hooklog.New(b.cat, hooklog.InspectorOptions{Tool: b.opts.Tool})
	},
	// Packages fetched where the operator distributes them go through the capture browser's
	// guard (and, for a download page, the browser) and then through apkinspect as a local file.
	func(b build) scanner.Inspector {
		var g *browser.Guard
		if b.br != nil {
			g = b.br.Guard()
		}
		return apkfetch.New(apkinspect.New(b.cat, apkinspect.Options{Tool: b.opts.Tool}),
			apkfetch.Options{Guard: g, Browser: b.br, Tool: b.opts.Tool, Limits: apkfetch.Limits{MaxBytes: b.opts.APKDownloadMax}})
	},
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
	b := build{cat: cat, opts: opts, allow: allow, br: br}
	out := make([]scanner.Inspector, len(registered))
	for i, reg := range registered {
		out[i] = reg(b)
	}
	return LimitBrowserPages(out, opts.BrowserPages), br.Close, nil
}

// Kinds returns the source kinds of this build as its inspectors declare them, without a browser
// or a catalogue: what target validation, detection, the CLI and the dashboard need. The
// declarations of kinds do not depend on the catalogue; cat is handed to the constructors only.
func Kinds(cat *rules.Catalogue) []scanner.KindSpec {
	b := build{cat: cat}
	ins := make([]scanner.Inspector, len(registered))
	for i, reg := range registered {
		ins[i] = reg(b)
	}
	return scanner.KindsOf(ins)
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
