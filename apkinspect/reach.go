package apkinspect

import (
	"fmt"
	"slices"
	"strings"

	"pilmon/apkinspect/callgraph"
	"pilmon/apkinspect/manifest"
)

// Reachability of sensitive call sites. The entry points are what the manifest makes Android
// run by itself:
//   - app_start: the Application class (<init>, attachBaseContext, onCreate), the
//     AppComponentFactory (every method), and every ContentProvider (<init>, attachInfo,
//     onCreate). Android runs these when the process starts, before any activity, so before
//     the user can see a consent dialog, whatever starts the process;
//   - launcher: every method of the activity with MAIN + LAUNCHER (an alias's target);
//   - component:<class>: every method of any other component, exported or not (an unexported
//     one runs only when the app's own code starts it; it is reported as its own root rather
//     than traced through the Intent that starts it), of a provider beyond its start-up
//     methods, and of the Application class beyond them (onTrimMemory, onConfigurationChanged).
//
// A calling method that no entry point reaches is "not_reached" only when the graph sees all
// the code: when a dex file failed or has unreadable code, a packer shell hides the real dex,
// the graph hit a limit, or code reached from an entry point loads code at run time, it is
// "unknown" (App.Graph.Reasons says why). Obfuscation renames classes and methods but keeps
// the calls, so obfuscated code is traced like any other.

// Labels of calling methods no entry point reaches.
const (
	NotReached   = "not_reached"
	ReachUnknown = "unknown"
)

// GraphStats summarises the call graph of an APK.
type GraphStats struct {
	Methods, Edges int
	// Complete is false when unreached code is of unknown reachability; Reasons say why.
	Complete bool
	Reasons  []string
}

// CallSite is one calling method of an APIRef and the entry points that reach it.
type CallSite struct {
	Method      string // descriptor "Lpkg/Cls;->name(args)ret"
	ReachedFrom []string
}

// maxSites bounds the calling methods kept per APIRef.
const maxSites = 32

func (r *APIRef) addSite(n callgraph.Node) {
	if !slices.Contains(r.sites, n) && len(r.sites) < maxSites {
		r.sites = append(r.sites, n)
	}
}

// entryPoints lists the roots the manifest declares.
func entryPoints(m *manifest.Manifest) []callgraph.Root {
	if m == nil {
		return nil
	}
	desc := func(cls string) string { return "L" + strings.ReplaceAll(cls, ".", "/") + ";" }
	var roots []callgraph.Root
	// The start-up methods are app_start only; the class's other methods are its component root.
	appStart := []string{"<init>", "<clinit>", "attachBaseContext", "onCreate"}
	providerStart := []string{"<init>", "<clinit>", "attachInfo", "onCreate"}
	if m.Application != "" {
		roots = append(roots, callgraph.Root{Label: "app_start", Class: desc(m.Application), Methods: appStart},
			callgraph.Root{Label: "component:" + m.Application, Class: desc(m.Application), Skip: appStart})
	}
	if m.AppComponentFactory != "" {
		roots = append(roots, callgraph.Root{Label: "app_start", Class: desc(m.AppComponentFactory)})
	}
	for _, c := range m.Components {
		if c.Type == "provider" {
			roots = append(roots, callgraph.Root{Label: "app_start", Class: desc(c.Name), Methods: providerStart})
		}
	}
	// A launcher activity is the launcher root only, however many other declarations name it.
	launchers := map[string]bool{}
	target := func(c manifest.Component) string {
		if c.Target != "" {
			return c.Target
		}
		return c.Name
	}
	for _, c := range m.Components {
		if c.Type == "activity" && slices.Contains(c.Actions, "android.intent.action.MAIN") && slices.Contains(c.Categories, "android.intent.category.LAUNCHER") {
			if cls := target(c); !launchers[cls] {
				launchers[cls] = true
				roots = append(roots, callgraph.Root{Label: "launcher", Class: desc(cls)})
			}
		}
	}
	for _, c := range m.Components {
		cls := target(c)
		if launchers[cls] {
			continue
		}
		var skip []string
		if c.Type == "provider" {
			skip = providerStart
		}
		roots = append(roots, callgraph.Root{Label: "component:" + cls, Class: desc(cls), Skip: skip})
	}
	return roots
}

// reach solves the call graph from the manifest's entry points and labels every APIRef.
func (a *analyzer) reach(name string) {
	app := a.app
	g := a.graph
	if len(a.dexIncomplete) > 0 {
		g.Incomplete()
	}
	res := g.Solve(entryPoints(app.Manifest))
	for _, p := range res.Problems {
		app.Errors = append(app.Errors, fmt.Sprintf("%s: %s", name, p))
	}
	app.Graph = GraphStats{Methods: g.Methods(), Edges: res.Edges, Complete: res.Complete,
		Reasons: append(append([]string{}, a.dexIncomplete...), res.Problems...)}
	if len(res.DynamicLoaders) > 0 {
		app.Graph.Reasons = append(app.Graph.Reasons, fmt.Sprintf("code reached from an entry point loads code at run time (%s): it may call any method", res.DynamicLoaders[0]))
	}
	if app.Manifest == nil {
		app.Graph.Complete = false
		app.Graph.Reasons = append(app.Graph.Reasons, "no manifest: no entry points")
	}
	unreached := NotReached
	if !app.Graph.Complete {
		unreached = ReachUnknown
	}
	for i := range app.APIs {
		api := &app.APIs[i]
		set := map[string]bool{}
		for _, n := range api.sites {
			l := res.Labels(n)
			if n == callgraph.None {
				l = []string{ReachUnknown}
			} else if len(l) == 0 {
				l = []string{unreached}
			}
			for _, x := range l {
				set[x] = true
			}
			api.Sites = append(api.Sites, CallSite{Method: g.Descriptor(n), ReachedFrom: l})
		}
		if len(api.sites) == 0 {
			set[ReachUnknown] = true
		}
		api.ReachedFrom = make([]string, 0, len(set))
		for x := range set {
			api.ReachedFrom = append(api.ReachedFrom, x)
		}
		slices.Sort(api.ReachedFrom)
		// The path of the strongest entry point reached: the shortest over the calling
		// methods, ties broken by the path's text.
		for grp := callgraph.AppStart; grp <= callgraph.Component && api.Steps == nil; grp++ {
			var best []callgraph.Step
			for _, n := range api.sites {
				p := res.Path(grp, n)
				if p != nil && (best == nil || len(p) < len(best) || len(p) == len(best) && pathText(p) < pathText(best)) {
					best = p
				}
			}
			api.Steps = best
		}
		api.Path = make([]string, len(api.Steps))
		for k, s := range api.Steps {
			api.Path[k] = s.Method
		}
	}
}

func pathText(p []callgraph.Step) string {
	var b strings.Builder
	for _, s := range p {
		b.WriteString(s.Descriptor)
		b.WriteByte(' ')
	}
	return b.String()
}
