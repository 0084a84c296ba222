package main

import (
	"context"
	"os"
	"strings"

	"pilmon/apkinspect"
	"pilmon/browser"
	"pilmon/miniprogram"
	"pilmon/policies"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/traffic"
)

type inspectorOptions struct {
	cat *rules.Catalogue
	// browserAllow lets the SSRF guard through to these CIDRs/hosts (the demo's loopback server,
	// an intranet policy page an operator vouches for). Also read from $PILMON_BROWSER_ALLOW.
	browserAllow []string
	// hostResolverRules maps made-up demo domains to loopback.
	hostResolverRules string
}

// buildInspectors returns every inspector of this build, in the order they are asked to accept a
// source, and a function that releases what they hold. Chromium starts only when a URL source
// is inspected.
func buildInspectors(ctx context.Context, env *cliEnv, opts inspectorOptions) ([]scanner.Inspector, func(), error) {
	tool := "pilmon " + version
	allow := opts.browserAllow
	if v := os.Getenv("PILMON_BROWSER_ALLOW"); v != "" {
		allow = append(allow, strings.Split(v, ",")...)
	}
	br, err := browser.New(browser.Options{Allow: allow, HostResolverRules: opts.hostResolverRules, SharedProcess: true})
	if err != nil {
		return nil, nil, err
	}
	topts := traffic.Options{Tool: tool}
	out := []scanner.Inspector{
		apkinspect.New(opts.cat, apkinspect.Options{Tool: tool}),
		miniprogram.New(opts.cat, miniprogram.Options{Tool: tool}),
		policies.New(opts.cat, br, policies.Options{Tool: tool}),
		traffic.New(opts.cat, topts),
	}
	return out, func() {
		if err := br.Close(); err != nil {
			env.log.Warn("closing browser", "err", err)
		}
	}, nil
}
