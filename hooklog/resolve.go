package hooklog

import (
	"strings"

	"pilmon/apkinspect"
	"pilmon/rules"
)

// resolver maps calls to catalogue ids and re-derives their party from the stack.
type resolver struct {
	// byMember holds the catalogue's method APIs by "class.method" (dotted class, "$" for nested
	// classes: the form of a Java stack frame), from the member part of their dex descriptors, so
	// every overload matches; byMethod by the bare method name.
	byMember map[string][]rules.SensitiveAPI
	byMethod map[string][]rules.SensitiveAPI
	// ids are the catalogue ids: pilmon's own script names the call by its id.
	ids map[string]bool
	own apkinspect.Ownership
}

func newResolver(cat *rules.Catalogue, appPackage string) *resolver {
	r := &resolver{byMember: map[string][]rules.SensitiveAPI{}, byMethod: map[string][]rules.SensitiveAPI{},
		ids: map[string]bool{}, own: apkinspect.ClassOwnership(cat, appPackage)}
	if cat == nil {
		return r
	}
	for _, a := range cat.SensitiveAPIs() {
		r.ids[a.ID] = true
		if a.Kind != "method" {
			continue
		}
		seen := map[string]bool{}
		for _, d := range a.Descriptors {
			cls, m, ok := descriptorMember(d)
			if !ok || seen[cls+"."+m] {
				continue
			}
			seen[cls+"."+m] = true
			r.byMember[cls+"."+m] = append(r.byMember[cls+"."+m], a)
			r.byMethod[m] = append(r.byMethod[m], a)
		}
	}
	return r
}

// descriptorMember reads "Landroid/telephony/TelephonyManager;->getDeviceId(...)..." as
// ("android.telephony.TelephonyManager", "getDeviceId").
func descriptorMember(d string) (cls, method string, ok bool) {
	arrow := strings.Index(d, ";->")
	if arrow < 2 || d[0] != 'L' {
		return "", "", false
	}
	method = d[arrow+3:]
	if i := strings.IndexAny(method, "(:"); i >= 0 {
		method = method[:i]
	}
	if method == "" {
		return "", "", false
	}
	return strings.ReplaceAll(d[1:arrow], "/", "."), method, true
}

// frameMember reads a stack frame as class and method: "at com.x.A$B.m(A.java:12)",
// "com.x.A.m(Native Method)", PrivacySentry's "com.x.A.m() 12 <- ", AndroidPrivacyMonitor's
// "⭐ com.x.A.m(...)". A line without "(" (the "java.lang.Exception" head of a trace) is no frame.
func frameMember(frame string) (cls, method string, ok bool) {
	f := strings.TrimSpace(frame)
	f = strings.TrimPrefix(f, "⭐")
	f = strings.TrimSpace(f)
	f = strings.TrimPrefix(f, "at ")
	paren := strings.IndexByte(f, '(')
	if paren <= 0 {
		return "", "", false
	}
	name := strings.TrimSpace(f[:paren])
	dot := strings.LastIndexByte(name, '.')
	if dot <= 0 || dot == len(name)-1 || strings.ContainsAny(name, " \t") {
		return "", "", false
	}
	return name[:dot], name[dot+1:], true
}

// argsAllow reports whether a catalogue entry that names argument strings (Settings.Secure.getString
// reads the Android ID only for "android_id") fits the call: when the log recorded arguments, one
// of them must hold one of the strings; when it recorded none, the entry is kept (the tool did not
// say, and PrivacySentry and AppScan never do).
func argsAllow(a rules.SensitiveAPI, args []string) bool {
	if len(a.Strings) == 0 || len(args) == 0 {
		return true
	}
	for _, s := range a.Strings {
		for _, v := range args {
			if strings.Contains(v, s) {
				return true
			}
		}
	}
	return false
}

// pick returns the single catalogue id among cands that fits args, "" when none or several
// different ids fit.
func pick(cands []rules.SensitiveAPI, args []string) string {
	id := ""
	for _, a := range cands {
		if !argsAllow(a, args) {
			continue
		}
		if id != "" && id != a.ID {
			return ""
		}
		id = a.ID
	}
	return id
}

// mapAPI sets e.API from the innermost frame that is a catalogued method, else from the tool's
// label: "class.method" (AndroidPrivacyMonitor's 📋 API) or a bare method name (PrivacySentry's
// 函数名) that exactly one catalogue id fits, or a catalogue id itself (pilmon's script). It returns the index of the frame that matched, -1
// when none did.
func (r *resolver) mapAPI(e *Event) int {
	for i, f := range e.Stack {
		cls, m, ok := frameMember(f)
		if !ok {
			continue
		}
		if id := pick(r.byMember[cls+"."+m], e.Args); id != "" {
			e.API, e.APISource = id, "stack"
			return i
		}
	}
	label := strings.TrimSpace(e.ToolAPI)
	if label == "" || strings.ContainsAny(label, " \t()") {
		return -1
	}
	var id string
	if r.ids[label] {
		id = label
	} else if dot := strings.LastIndexByte(label, '.'); dot > 0 {
		id = pick(r.byMember[label], e.Args)
	} else {
		id = pick(r.byMethod[label], e.Args)
	}
	if id != "" {
		e.API, e.APISource = id, "label"
	}
	return -1
}

// platformPrefixes are the Android platform and Java runtime: code on every phone, never a party.
// The catalogue is asked first (libraries.yaml names kotlinx.coroutines, android.support, androidx):
// these prefixes only catch what it does not own; Kotlin's standard library is runtime glue.
var platformPrefixes = []string{"android.", "java.", "javax.", "dalvik.", "libcore.", "sun.", "jdk.",
	"com.android.internal.", "com.android.server.", "org.apache.harmony.", "org.json.", "org.xml.", "org.w3c.",
	"kotlin.", "kotlinx.coroutines."}

// hookPrefixes are hooking frameworks and the logging tools' own classes: their frames sit between
// the API and its caller and say nothing about whose code called it.
var hookPrefixes = []string{"de.robv.android.xposed.", "org.lsposed.", "io.github.lsposed.", "top.canyie.pine.",
	"me.weishu.epic.", "com.swift.sandhook.", "re.frida.", "com.yl.lib.sentry.", "com.yl.lib.privacy_proxy.",
	"LSPHooker_", "EdHooker_"}

func hasAnyPrefix(s string, ps []string) bool {
	for _, p := range ps {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// attribute sets e.Party from the innermost frame after the API's own frame (from) that is neither
// the hooking tool nor the platform, classified by apkinspect's ownership rules (a catalogued prefix
// first, so a library under android.support is a library, not the platform).
func (r *resolver) attribute(e *Event, from int) {
	e.Party, e.PartyBasis, e.PartyFrame, e.CallerParty = apkinspect.PartyUnidentified, PartyBasisNoStack, "", ""
	if len(e.Stack) == 0 {
		return
	}
	e.PartyBasis = PartyBasisNoAppCode
	found := false
	for _, f := range e.Stack[from+1:] {
		cls, _, ok := frameMember(f)
		if !ok || hasAnyPrefix(cls, hookPrefixes) {
			continue
		}
		cp := r.own.Of(cls)
		if cp.Party == apkinspect.PartyUnidentified && hasAnyPrefix(cls, platformPrefixes) {
			continue
		}
		if !found {
			found = true
			e.Party, e.PartyFrame, e.PartyBasis = cp.Party, f, PartyBasisFrame
			if cp.Library == "" {
				return
			}
			continue
		}
		if cp.Library == "" {
			e.CallerParty = cp.Party
			return
		}
	}
}

// resolve maps and attributes every call, and notes the clock jumps.
func (r *resolver) resolve(l *Log) {
	for i := range l.Events {
		e := &l.Events[i]
		r.attribute(e, r.mapAPI(e))
	}
	// Clock jumps in time order (reverse file order for a newest-first file).
	var prev *Event
	for k := range l.Events {
		i := k
		if l.reversed {
			i = len(l.Events) - 1 - k
		}
		e := &l.Events[i]
		if e.hasMs {
			if prev != nil && prev.ms-e.ms > 1000 {
				l.ClockJumps = append(l.ClockJumps, ClockJump{Row: e.Row, BackMs: prev.ms - e.ms})
			}
			prev = e
		}
	}
}
