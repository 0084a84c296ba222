package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"pilmon/scanner"
)

// The CLI knows no source kind: what a kind is called, which options it reads and which target it
// implies come from the declarations of the inspectors of this build (pipeline.Kinds).

func kindList(kinds []scanner.KindSpec) string {
	return strings.Join(scanner.KindNames(kinds), "|")
}

// optionFlags are the source options given on the command line: shortcut flags named after an
// option (--appid for "appid") and any declared option as --opt NAME=VALUE.
type optionFlags struct {
	shortcuts map[string]*string
	opts      multiFlag
}

func newOptionFlags() *optionFlags { return &optionFlags{shortcuts: map[string]*string{}} }

// shortcut returns the variable of a flag that sets the option name.
func (o *optionFlags) shortcut(name string) *string {
	v := new(string)
	o.shortcuts[name] = v
	return v
}

const optUsage = "来源选项 NAME=VALUE（可重复），用于声明该选项的来源类型 / a source option, repeatable, set on every source whose kind declares it"

// apply sets the options on every source whose kind declares them. A shortcut flag is ignored
// for sources of other kinds (--appid beside an APK); an --opt no source's kind declares is a
// usage error. With abs, path options are made absolute here (a scan on the command line); else
// the registry resolves them inside the import folder.
func (o *optionFlags) apply(srcs []scanner.Source, kinds []scanner.KindSpec, abs bool) error {
	type kv struct{ k, v string }
	var set []kv
	for name, v := range o.shortcuts {
		if *v != "" {
			set = append(set, kv{name, *v})
		}
	}
	var explicit []kv
	for _, s := range o.opts {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return usageErr("--opt %q: want NAME=VALUE", s)
		}
		explicit = append(explicit, kv{k, v})
	}
	for _, e := range explicit {
		declared := false
		for _, s := range srcs {
			if spec, ok := scanner.LookupKind(kinds, s.Kind); ok {
				if _, ok := spec.Option(e.k); ok {
					declared = true
				}
			}
		}
		if !declared {
			return usageErr("--opt %s: no source of this command has a kind with that option (%s)", e.k, declaredOptions(kinds))
		}
	}
	for i := range srcs {
		spec, ok := scanner.LookupKind(kinds, srcs[i].Kind)
		if !ok {
			continue
		}
		for _, e := range append(set, explicit...) {
			opt, ok := spec.Option(e.k)
			if !ok {
				continue
			}
			v := e.v
			if opt.Path && abs && v != "" {
				p, err := filepath.Abs(v)
				if err != nil {
					return err
				}
				v = p
			}
			if srcs[i].Options == nil {
				srcs[i].Options = map[string]string{}
			}
			srcs[i].Options[e.k] = v
		}
	}
	return nil
}

// declaredOptions words every kind's options, for a usage error.
func declaredOptions(kinds []scanner.KindSpec) string {
	var parts []string
	for _, k := range kinds {
		if len(k.Options) == 0 {
			continue
		}
		names := make([]string, len(k.Options))
		for i, o := range k.Options {
			names[i] = o.Name
		}
		parts = append(parts, fmt.Sprintf("%s: %s", k.Kind, strings.Join(names, ", ")))
	}
	if len(parts) == 0 {
		return "no kind has options"
	}
	return strings.Join(parts, "; ")
}

// impliedTarget is the kind of target the sources imply, as their kinds declare: a mini-program
// when any source implies one, else an app when any source implies one or is local (a file or
// folder), a site when only URLs are given and one implies a site, and an app otherwise.
func impliedTarget(srcs []scanner.Source, kinds []scanner.KindSpec) scanner.TargetKind {
	implied := map[scanner.TargetKind]bool{}
	local := false
	for _, s := range srcs {
		spec, ok := scanner.LookupKind(kinds, s.Kind)
		if !ok {
			continue
		}
		implied[spec.Target] = true
		if !spec.URL {
			local = true
		}
	}
	switch {
	case implied[scanner.TargetMiniProgram]:
		return scanner.TargetMiniProgram
	case implied[scanner.TargetApp] || local:
		return scanner.TargetApp
	case implied[scanner.TargetSite]:
		return scanner.TargetSite
	}
	return scanner.TargetApp
}
