package main

import (
	"pilmon/pipeline"
	"pilmon/rules"
	"pilmon/scanner"
)

// buildInspectors returns every inspector of this build (pipeline.DefaultInspectors, with this
// binary's version as the tool) and a function that releases what they hold, logging a failure.
// Chromium starts only when a URL source is inspected.
func buildInspectors(env *cliEnv, cat *rules.Catalogue, opts pipeline.InspectorOptions) ([]scanner.Inspector, func(), error) {
	opts.Tool = "pilmon " + version
	ins, closeFn, err := pipeline.DefaultInspectors(cat, opts)
	if err != nil {
		return nil, nil, err
	}
	return ins, func() {
		if err := closeFn(); err != nil {
			env.log.Warn("closing browser", "err", err)
		}
	}, nil
}
