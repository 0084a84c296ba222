// Package hooks generates the Frida script an analyst runs on a rooted test phone to record what
// an app calls at run time, from the same sensitive-API catalogue (rules/data/sensitive_apis.yaml)
// the static APK analysis uses: a runtime event and a static call site then name the same API id.
// The script writes JSON Lines on the device (the format hooklog reads as "pilmon"): one session
// line, one line per catalogued call with device time, arguments, return value, thread, stack and
// whether the app was in the foreground, and consent/refusal lines recorded on the device when the
// user taps a view whose text is a consent or refusal word.
package hooks

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"pilmon/rules"
)

// Hook is one Java method the script replaces, with the catalogue entries a call to it can be.
type Hook struct {
	// Class is the class whose method is hooked, as Java.use takes it ("android.app.ContextImpl").
	Class string `json:"class"`
	// Method is the method name; Overload lists the parameter types as Frida's overload() takes them,
	// nil for every overload of the name.
	Method   string   `json:"method"`
	Overload []string `json:"overload"`
	// Entries are tried in order; the first whose filter accepts the call names it. An entry without
	// a filter accepts every call.
	Entries []Entry `json:"entries"`
}

// Entry maps a call to a catalogue API id. ArgContains, when set, accepts the call only when the
// string form of one of its arguments contains one of the strings (Settings.Secure.getString with
// "android_id"; ContentResolver.query with a contacts URI): without it a call reading another key
// would be reported as reading the Android ID.
type Entry struct {
	API         string   `json:"api"`
	ArgContains []string `json:"arg_contains,omitempty"`
	// Prefix: ArgContains must match at the start of the argument (content URIs), not anywhere.
	Prefix bool `json:"prefix,omitempty"`
	// ExcludeOwn drops calls naming the app's own package in an argument: the catalogue entry is
	// about other apps (probing whether a package is installed, starting another app), and every
	// app asks for its own package info and starts its own activities.
	ExcludeOwn bool `json:"exclude_own,omitempty"`
}

// aboutOtherPackages are the catalogue entries whose description limits them to other packages.
var aboutOtherPackages = map[string]bool{"pm.probePackage": true, "pkg.startOther": true}

// Skipped is a catalogue descriptor the script does not hook, and why.
type Skipped struct {
	API        string `json:"api"`
	Descriptor string `json:"descriptor"`
	Reason     string `json:"reason"`
}

// Plan is what the generated script hooks and what it leaves out.
type Plan struct {
	Hooks   []Hook    `json:"hooks"`
	Skipped []Skipped `json:"skipped"`
}

// Covered returns the API ids at least one hook can report.
func (p Plan) Covered() map[string]bool {
	out := map[string]bool{}
	for _, h := range p.Hooks {
		for _, e := range h.Entries {
			out[e.API] = true
		}
	}
	return out
}

// implementations are the framework classes that run an abstract method's body. Frida replaces
// the method of the class it is given; replacing an abstract method changes nothing, because
// virtual dispatch reaches the implementation. Each mapping names the class that really executes
// the call on AOSP (checked against AOSP sources: ContextImpl implements Context, ContextWrapper
// delegates to it; ApplicationPackageManager implements PackageManager).
var implementations = map[string][]string{
	"android.content.Context": {"android.app.ContextImpl"},
	// Activity overrides startActivity (it goes through Instrumentation, not ContextImpl).
	"android.content.Context#startActivity": {"android.app.ContextImpl", "android.app.Activity"},
	"android.content.pm.PackageManager":     {"android.app.ApplicationPackageManager"},
	// android.content.ClipboardManager extends the deprecated abstract one and implements getText.
	"android.text.ClipboardManager": {"android.content.ClipboardManager"},
}

// interfaces cannot be hooked by Frida's Java bridge (an interface method has no body); the
// implementation is the SDK's or the vendor's and is not known ahead of time.
var interfaces = map[string]bool{
	"com.bun.supplier.IdSupplier":            true,
	"com.bun.miitmdid.interfaces.IdSupplier": true,
}

// BuildPlan derives the hooks from the catalogue's method and provider entries. Field reads
// (Build.SERIAL) cannot be intercepted by a method hook and are listed as skipped.
func BuildPlan(cat *rules.Catalogue) (Plan, error) {
	type key struct{ class, method, overload string }
	byKey := map[key]*Hook{}
	var order []key
	var plan Plan
	for _, api := range cat.SensitiveAPIs() {
		for _, d := range api.Descriptors {
			cls, member, ok := strings.Cut(d, ";->")
			if !ok || !strings.HasPrefix(cls, "L") {
				return Plan{}, fmt.Errorf("sensitive API %s: descriptor %q is not Lpkg/Class;->member", api.ID, d)
			}
			javaClass := strings.ReplaceAll(cls[1:], "/", ".")
			if strings.Contains(member, ":") {
				// A static field reference (Build.SERIAL, a CONTENT_URI constant): the field's value is
				// read without a call. Content URIs are caught at ContentResolver.query instead.
				reason := "field read: no method to hook"
				if api.Kind == "provider" {
					reason = "URI constant: the read is caught at ContentResolver.query by the URI"
				}
				plan.Skipped = append(plan.Skipped, Skipped{API: api.ID, Descriptor: d, Reason: reason})
				continue
			}
			if interfaces[javaClass] {
				plan.Skipped = append(plan.Skipped, Skipped{API: api.ID, Descriptor: d,
					Reason: "interface method: Frida hooks method bodies, and the implementing class is the vendor's"})
				continue
			}
			name, sig, hasSig := strings.Cut(member, "(")
			var overload []string
			if hasSig {
				params, _, _ := strings.Cut(sig, ")")
				var err error
				if overload, err = javaParams(params); err != nil {
					return Plan{}, fmt.Errorf("sensitive API %s: descriptor %q: %v", api.ID, d, err)
				}
				if overload == nil {
					overload = []string{}
				}
			}
			classes := []string{javaClass}
			if impl, ok := implementations[javaClass+"#"+name]; ok {
				classes = impl
			} else if impl, ok := implementations[javaClass]; ok {
				classes = impl
			}
			entry := Entry{API: api.ID, ExcludeOwn: aboutOtherPackages[api.ID]}
			if len(api.Strings) > 0 {
				entry.ArgContains = slices.Clone(api.Strings)
				entry.Prefix = api.Kind == "provider"
			}
			for _, c := range classes {
				k := key{c, name, strings.Join(overload, ",")}
				if hasSig {
					k.overload = "(" + k.overload + ")"
				}
				h := byKey[k]
				if h == nil {
					h = &Hook{Class: c, Method: name, Overload: overload}
					byKey[k] = h
					order = append(order, k)
				}
				if !slices.ContainsFunc(h.Entries, func(e Entry) bool { return e.API == entry.API }) {
					h.Entries = append(h.Entries, entry)
				}
			}
		}
	}
	for _, k := range order {
		h := byKey[k]
		// Filtered entries first: an unfiltered entry on the same method would otherwise take
		// every call.
		sort.SliceStable(h.Entries, func(i, j int) bool {
			return len(h.Entries[i].ArgContains) > 0 && len(h.Entries[j].ArgContains) == 0
		})
		plan.Hooks = append(plan.Hooks, *h)
	}
	sort.SliceStable(plan.Hooks, func(i, j int) bool {
		a, b := plan.Hooks[i], plan.Hooks[j]
		if a.Class != b.Class {
			return a.Class < b.Class
		}
		if a.Method != b.Method {
			return a.Method < b.Method
		}
		return strings.Join(a.Overload, ",") < strings.Join(b.Overload, ",")
	})
	return plan, nil
}

// javaParams turns a dex parameter list ("ILjava/lang/String;[B") into the type names Frida's
// overload() takes ("int", "java.lang.String", "[B").
func javaParams(s string) ([]string, error) {
	var out []string
	for len(s) > 0 {
		dims := 0
		for dims < len(s) && s[dims] == '[' {
			dims++
		}
		if dims == len(s) {
			return nil, fmt.Errorf("array without element type")
		}
		var elem string
		n := dims + 1
		switch c := s[dims]; c {
		case 'L':
			end := strings.IndexByte(s[dims:], ';')
			if end < 0 {
				return nil, fmt.Errorf("class type without ';'")
			}
			elem = s[dims+1 : dims+end]
			n = dims + end + 1
		case 'Z', 'B', 'S', 'C', 'I', 'J', 'F', 'D':
			elem = string(c)
		default:
			return nil, fmt.Errorf("unknown type %q", c)
		}
		if dims > 0 {
			// Arrays keep the JNI form with dots: "[B", "[Ljava.lang.String;".
			t := strings.Repeat("[", dims)
			if len(elem) == 1 {
				t += elem
			} else {
				t += "L" + strings.ReplaceAll(elem, "/", ".") + ";"
			}
			out = append(out, t)
		} else if len(elem) == 1 {
			out = append(out, primitives[elem[0]])
		} else {
			out = append(out, strings.ReplaceAll(elem, "/", "."))
		}
		s = s[n:]
	}
	return out, nil
}

var primitives = map[byte]string{'Z': "boolean", 'B': "byte", 'S': "short", 'C': "char", 'I': "int", 'J': "long", 'F': "float", 'D': "double"}
