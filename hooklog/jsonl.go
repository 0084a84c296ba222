package hooklog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// pilmonLine is one line of pilmon's JSON Lines hook log (written by the Frida script pilmon
// generates); fields of other types are ignored, as are unknown fields.
type pilmonLine struct {
	V    int    `json:"v"`
	Type string `json:"type"`
	T    *int64 `json:"t"`
	// session
	Package      string   `json:"package"`
	Device       string   `json:"device"`
	Script       string   `json:"script"`
	ConsentWords []string `json:"consent_words"`
	// call
	API         string          `json:"api"`
	Args        []any           `json:"args"`
	Ret         json.RawMessage `json:"ret"`
	RetRedacted bool            `json:"ret_redacted"`
	Thread      string          `json:"thread"`
	Stack       []string        `json:"stack"`
	FG          *bool           `json:"fg"`
	// consent, refusal
	Text string `json:"text"`
	View string `json:"view"`
	// lifecycle
	State    string `json:"state"`
	Activity string `json:"activity"`
	// hooks_missing, hook_error, dropped: what the script could not watch or keep
	Classes []string `json:"classes"`
	Class   string   `json:"class"`
	Method  string   `json:"method"`
	Error   string   `json:"error"`
	Count   int      `json:"count"`
}

// pilmonStart is how the script starts every line; it decides a first line longer than the
// sniffed head.
var pilmonStart = regexp.MustCompile(`^\{\s*"v"\s*:\s*1\s*,\s*"type"\s*:\s*"[a-z]+"`)

// looksLikePilmon accepts text whose first line is a JSON object with "v":1 and a "type".
func looksLikePilmon(head []byte) bool {
	line := head
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		line = head[:i]
	} else if len(head) >= sniffLen {
		return pilmonStart.Match(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")))
	}
	line = bytes.TrimSpace(bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")))
	if len(line) == 0 || line[0] != '{' {
		return false
	}
	var l struct {
		V    int    `json:"v"`
		Type string `json:"type"`
	}
	return json.Unmarshal(line, &l) == nil && l.V == 1 && l.Type != ""
}

// deviceMs renders epoch milliseconds of the device clock as RFC 3339 with milliseconds, UTC.
func deviceMs(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// readPilmon reads pilmon's JSON Lines: phases from the device-side consent and refusal events in
// file order (the script sends them in the order they happen), foreground from the call's own fg,
// else from the last lifecycle event.
func readPilmon(r io.Reader, b *builder) {
	sc := bufio.NewScanner(r)
	// The larger of the buffer's capacity and max bounds a line: the capacity must not exceed it.
	sc.Buffer(make([]byte, 0, min(64<<10, b.lim.MaxLineBytes)), b.lim.MaxLineBytes)
	phase, source := PhaseUnknown, PhaseSourceNone
	fg := ForegroundUnknown
	var pending []int // calls before the first consent or refusal: before_consent once one comes
	line := 0
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
		}
		if len(raw) == 0 {
			continue
		}
		var l pilmonLine
		if err := json.Unmarshal(raw, &l); err != nil {
			b.invalid(line, "not a JSON object: %v", err)
			continue
		}
		if l.V != 1 {
			b.invalid(line, "version %d, this reader knows version 1", l.V)
			continue
		}
		var ms int64
		has := l.T != nil
		if has {
			ms = *l.T
			if ms < 0 || ms > 1<<53 {
				b.invalid(line, "time %d out of range", ms)
				continue
			}
		}
		dt, ts := "", TimeNone
		if has {
			dt, ts = deviceMs(ms), TimeDevice
		}
		switch l.Type {
		case "session":
			if b.log.Package == "" {
				b.log.Package, b.log.Device, b.log.Script = b.text(l.Package), b.text(l.Device), b.text(l.Script)
				for i, w := range l.ConsentWords {
					if i >= b.lim.MaxArgs {
						break
					}
					b.log.ConsentWords = append(b.log.ConsentWords, b.text(w))
				}
			}
		case "consent", "refusal":
			if len(b.log.Marks) < b.lim.MaxEvents {
				b.log.Marks = append(b.log.Marks, Mark{Kind: l.Type, Row: line, DeviceTime: dt, TimeSource: ts,
					Text: b.text(l.Text), View: b.text(l.View), Source: PhaseSourceDevice, Seq: len(b.log.Events), ms: ms, hasMs: has})
			}
			if source == PhaseSourceNone {
				for _, i := range pending {
					b.log.Events[i].Phase, b.log.Events[i].PhaseSource = PhaseBeforeConsent, PhaseSourceDevice
				}
				pending = nil
			}
			phase, source = PhaseAfterConsent, PhaseSourceDevice
			if l.Type == "refusal" {
				phase = PhaseAfterRefusal
			}
		case "lifecycle":
			switch l.State {
			case "foreground":
				fg = ForegroundYes
			case "background":
				fg = ForegroundNo
			default:
				b.invalid(line, "lifecycle state %q is neither foreground nor background", b.text(l.State))
			}
		case "call":
			e := Event{Row: line, DeviceTime: dt, TimeSource: ts, Phase: phase, PhaseSource: source,
				ToolAPI: b.text(l.API), Thread: b.text(l.Thread), Foreground: fg, ms: ms, hasMs: has}
			if l.FG != nil {
				e.Foreground = ForegroundNo
				if *l.FG {
					e.Foreground = ForegroundYes
				}
			}
			e.Args = []string{}
			for i, a := range l.Args {
				if i >= b.lim.MaxArgs {
					break
				}
				e.Args = append(e.Args, b.text(jsonText(a)))
			}
			if len(l.Ret) > 0 && string(l.Ret) != "null" {
				var v any
				if json.Unmarshal(l.Ret, &v) == nil {
					e.ReturnValue, e.HasReturn = b.text(jsonText(v)), true
				}
			}
			if l.RetRedacted {
				e.ReturnValue, e.HasReturn = "", true
				e.Note = "return value redacted on the device"
			}
			e.Stack, e.StackDropped = b.frames(l.Stack)
			if source == PhaseSourceNone && !b.full() {
				pending = append(pending, len(b.log.Events))
			}
			b.add(e)
		case "hooks_missing":
			// Classes the app does not contain (an SDK it does not embed) or this Android version
			// lacks: their APIs were not watched, so their absence from the log proves nothing.
			var cs []string
			for i, c := range l.Classes {
				if i >= b.lim.MaxArgs {
					cs = append(cs, fmt.Sprintf("… %d more", len(l.Classes)-i))
					break
				}
				cs = append(cs, b.text(c))
			}
			b.note("line %d: not hooked, class absent: %s", line, strings.Join(cs, ", "))
		case "hook_error":
			b.note("line %d: hook of %s.%s failed: %s", line, b.text(l.Class), b.text(l.Method), b.text(l.Error))
		case "dropped":
			// Lines the script could not keep before the app's files directory existed.
			if l.Count > 0 && l.Count < 1<<31 {
				b.log.Dropped += l.Count
			}
		default:
			b.invalid(line, "unknown event type %q", b.text(l.Type))
		}
	}
	if err := sc.Err(); err != nil {
		b.fail(line+1, "%v (the line is longer than %d bytes or unreadable; stopped there)", err, b.lim.MaxLineBytes)
	}
}

// jsonText renders a decoded JSON value as text: strings as they are, anything else as JSON.
func jsonText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	out, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(out)
}
