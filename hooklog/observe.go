package hooklog

import (
	"slices"
	"strconv"
	"strings"

	"pilmon/rules"
	"pilmon/scanner"
)

// Bounds of what one observation carries of its first call and its citations.
const (
	obsFrames = 32
	obsRows   = 5
)

// Observe turns a log into observations: one runtime.session, one runtime.consent or
// runtime.refusal per mark, one runtime.tool_assertion per tool conclusion, and one
// runtime.api_call per (api, party, phase, foreground) — per tool_api too when the call is not
// mapped to the catalogue, so different unmapped calls stay apart. appPackageSource says where
// the app package used for the party came from (option | session | none).
func Observe(l *Log, cat *rules.Catalogue, appPackageSource string) []scanner.Observation {
	var obs []scanner.Observation
	order := make([]int, len(l.Events))
	for i := range order {
		order[i] = i
		if l.reversed {
			order[i] = len(order) - 1 - i
		}
	}
	// The decision moment offsets are counted from: the first consent mark, else the first refusal.
	var anchor *Mark
	for i := range l.Marks {
		if l.Marks[i].Kind == "consent" {
			anchor = &l.Marks[i]
			break
		}
	}
	if anchor == nil && len(l.Marks) > 0 {
		anchor = &l.Marks[0]
	}

	type group struct {
		first, last *Event
		count       int
		rows        []string
	}
	groups := map[string]*group{}
	var keys []string
	mapped, framesDropped := 0, 0
	var first, last *Event
	for _, i := range order {
		e := &l.Events[i]
		framesDropped += e.StackDropped
		if e.API != "" {
			mapped++
		}
		if e.hasMs || e.DeviceTime != "" {
			if first == nil {
				first = e
			}
			last = e
		}
		k := strings.Join([]string{e.API, e.Party, e.Phase, e.Foreground}, "\x00")
		if e.API == "" {
			k += "\x00" + e.ToolAPI
		}
		g := groups[k]
		if g == nil {
			g = &group{first: e}
			groups[k] = g
			keys = append(keys, k)
		}
		g.count++
		g.last = e
		if len(g.rows) < obsRows {
			g.rows = append(g.rows, strconv.Itoa(e.Row))
		}
	}

	sess := map[string]any{"format": l.Format, "package": l.Package, "device": l.Device, "script": l.Script,
		"events": len(l.Events), "mapped": mapped, "dropped": l.Dropped, "invalid": l.Invalid,
		"frames_dropped": framesDropped, "clock_jumps": len(l.ClockJumps), "notes": slices.Clone(l.Notes),
		"app_package_source": appPackageSource, "consents": 0, "refusals": 0}
	if sess["notes"] == nil {
		sess["notes"] = []string{}
	}
	var jumpRows []string
	for i, j := range l.ClockJumps {
		if i >= obsRows {
			break
		}
		jumpRows = append(jumpRows, strconv.Itoa(j.Row))
	}
	sess["clock_jump_rows"] = append([]string{}, jumpRows...)
	if first != nil {
		sess["first_time"], sess["last_time"], sess["time_source"] = first.DeviceTime, last.DeviceTime, first.TimeSource
	}
	for _, m := range l.Marks {
		if m.Kind == "consent" {
			sess["consents"] = sess["consents"].(int) + 1
		} else {
			sess["refusals"] = sess["refusals"].(int) + 1
		}
	}
	subject := l.Format
	if l.Package != "" {
		subject += ":" + l.Package
	}
	obs = append(obs, scanner.Observation{Kind: "runtime.session", Subject: subject, Attributes: sess})

	for _, m := range l.Marks {
		kind := "runtime.consent"
		if m.Kind == "refusal" {
			kind = "runtime.refusal"
		}
		obs = append(obs, scanner.Observation{Kind: kind, Subject: m.Kind + "@" + strconv.Itoa(m.Row), Attributes: map[string]any{
			"time": m.DeviceTime, "time_source": m.TimeSource, "text": m.Text, "view": m.View, "source": m.Source,
			"row": m.Row, "calls_before": m.Seq, "format": l.Format}})
	}
	for _, a := range l.Assertions {
		obs = append(obs, scanner.Observation{Kind: "runtime.tool_assertion", Subject: a.Item, Attributes: map[string]any{
			"item": a.Item, "standard": a.Standard, "advice": a.Advice, "row": a.Row, "format": l.Format}})
	}

	for _, k := range keys {
		g := groups[k]
		e := g.first
		pi := []string{}
		if cat != nil && e.API != "" {
			if a, ok := cat.SensitiveAPI(e.API); ok {
				pi = slices.Clone(a.PI)
			}
		}
		stack := e.Stack
		if len(stack) > obsFrames {
			stack = stack[:obsFrames]
		}
		attrs := map[string]any{"api": e.API, "api_source": e.APISource, "tool_api": e.ToolAPI, "pi": pi,
			"party": e.Party, "party_basis": e.PartyBasis, "party_frame": e.PartyFrame, "caller_party": e.CallerParty,
			"tool_party": e.ToolParty, "phase": e.Phase, "phase_source": e.PhaseSource, "foreground": e.Foreground,
			"format": l.Format, "time_source": e.TimeSource, "count": g.count,
			"first_time": e.DeviceTime, "last_time": g.last.DeviceTime, "rows": g.rows,
			"stack": slices.Clone(stack), "args": slices.Clone(e.Args), "return_value": e.ReturnValue,
			"has_return": e.HasReturn, "thread": e.Thread, "note": e.Note}
		addParty(attrs, e.Party)
		if anchor != nil && anchor.hasMs && e.hasMs && anchor.TimeSource == e.TimeSource {
			attrs["first_ms_from_consent"] = int(e.ms - anchor.ms)
		}
		subj := e.API
		if subj == "" {
			subj = "tool:" + e.ToolAPI
		}
		obs = append(obs, scanner.Observation{Kind: "runtime.api_call",
			Subject: subj + " by " + e.Party + " " + e.Phase + " " + e.Foreground, Attributes: attrs})
	}
	return obs
}
