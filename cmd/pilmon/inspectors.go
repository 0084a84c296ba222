package main

import (
	"context"

	"pilmon/pipeline"
	"pilmon/rules"
	"pilmon/scanner"
)

type inspectorOptions struct {
	cat *rules.Catalogue
	// browserAllow lets the SSRF guard through to these CIDRs/hosts (the demo's loopback server,
	// an intranet policy page an operator vouches for). Also read from $PILMON_BROWSER_ALLOW.
	browserAllow []string
	// hostResolverRules maps made-up demo domains to loopback.
	hostResolverRules string
	// browserPages bounds concurrent Chromium pages of this process (default 2).
	browserPages int
}

// buildInspectors returns every inspector of this build (pipeline.DefaultInspectors) and a
// function that releases what they hold. Chromium starts only when a URL source is inspected.
func buildInspectors(_ context.Context, env *cliEnv, opts inspectorOptions) ([]scanner.Inspector, func(), error) {
	ins, closeFn, err := pipeline.DefaultInspectors(opts.cat, pipeline.InspectorOptions{
		Tool: "pilmon " + version, BrowserAllow: opts.browserAllow,
		HostResolverRules: opts.hostResolverRules, BrowserPages: opts.browserPages,
	})
	if err != nil {
		return nil, nil, err
	}
	return ins, func() {
		if err := closeFn(); err != nil {
			env.log.Warn("closing browser", "err", err)
		}
	}, nil
}
