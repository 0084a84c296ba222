package traffic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"pilmon/evidence"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"pilmon/scanner"
)

// A session's timeline puts on one line per event what the hook log saw on the phone (calls,
// consent, refusal) and what the capture saw leave it (requests that carried PI, the consent
// marker), in time order, each with where it is in its evidence. It is stored beside the capture
// as a derived artifact and named by the findings whose chain it shows.

// TimelineEvent is one line of a session timeline.
type TimelineEvent struct {
	Time string `json:"time,omitempty"` // RFC 3339 UTC with ms; empty when the source has none
	// Clock says whose clock Time is: "device" (the phone, from the hook log) or "capture" (the
	// computer that captured the traffic). They are not synchronised by pilmon.
	Clock string   `json:"clock"`
	What  string   `json:"what"` // call | consent | refusal | sent
	API   string   `json:"api,omitempty"`
	PI    []string `json:"pi,omitempty"`
	Party string   `json:"party,omitempty"` // calls: whose code; sent: who received it
	Host  string   `json:"host,omitempty"`
	Phase string   `json:"phase,omitempty"`
	// Foreground is the app's state for a call; Count how many calls or requests the line stands for.
	Foreground string `json:"foreground,omitempty"`
	Count      int    `json:"count,omitempty"`
	Text       string `json:"text,omitempty"`
	// ReadAt links a sent value to its read in the hook log (device time).
	ReadAt string `json:"read_at,omitempty"`
	// Evidence is the SHA-256 of the artifact the line comes from, and Where the row, line or HAR
	// entry in it.
	Evidence string `json:"evidence"`
	Where    string `json:"where,omitempty"`
	t        time.Time
}

// SessionTimeline is what is stored.
type SessionTimeline struct {
	Session string          `json:"session"`
	Note    string          `json:"note"`
	Events  []TimelineEvent `json:"events"`
}

// maxTimelineEvents bounds a timeline (each line already groups calls or requests).
const maxTimelineEvents = 5000

// buildSessionTimeline merges the session's hook-log observations with the capture's own.
func buildSessionTimeline(session string, sess, own []scanner.Observation) SessionTimeline {
	tl := SessionTimeline{Session: session,
		Note: "device times come from the phone's clock, capture times from the capturing computer's; pilmon does not synchronise them. 设备时间取自手机时钟，抓包时间取自抓包电脑时钟，二者未经 pilmon 校准。"}
	ev := func(o scanner.Observation) string {
		if len(o.EvidenceRefs) > 0 {
			return o.EvidenceRefs[0]
		}
		return ""
	}
	for _, o := range sess {
		a := o.Attributes
		switch o.Kind {
		case "runtime.api_call":
			if attrStr(a, "api") == "" {
				continue
			}
			tl.Events = append(tl.Events, TimelineEvent{Time: attrStr(a, "first_time"), Clock: "device", What: "call",
				API: attrStr(a, "api"), PI: attrStrs(a, "pi"), Party: attrStr(a, "party"), Phase: attrStr(a, "phase"),
				Foreground: attrStr(a, "foreground"), Count: attrCount(a, "count"), Evidence: ev(o),
				Where: "rows " + strings.Join(attrStrs(a, "rows"), ",")})
		case "runtime.consent", "runtime.refusal":
			what := strings.TrimPrefix(o.Kind, "runtime.")
			tl.Events = append(tl.Events, TimelineEvent{Time: attrStr(a, "time"), Clock: "device", What: what,
				Text: attrStr(a, "text"), Evidence: ev(o), Where: fmt.Sprintf("row %d", attrCount(a, "row"))})
		}
	}
	for _, o := range own {
		a := o.Attributes
		switch o.Kind {
		case "traffic.pi_sent":
			tl.Events = append(tl.Events, TimelineEvent{Time: attrStr(a, "entry_time"), Clock: "capture", What: "sent",
				PI: attrStrs(a, "pi"), Host: attrStr(a, "host"), Party: attrStr(a, "recipient_party"), Phase: attrStr(a, "phase"),
				Count: attrCount(a, "requests"), ReadAt: attrStr(a, "read_at"), Evidence: ev(o),
				Where: fmt.Sprintf("entry %d", attrCount(a, "entry_index"))})
		case "traffic.consent_event":
			if attrStr(a, "action") == ConsentNone {
				continue
			}
			what := "consent"
			if attrStr(a, "action") == "refuse" {
				what = "refusal"
			}
			tl.Events = append(tl.Events, TimelineEvent{Time: attrStr(a, "time"), Clock: "capture", What: what,
				Text: attrStr(a, "control"), Evidence: ev(o)})
		}
	}
	for i := range tl.Events {
		e := &tl.Events[i]
		if t, err := time.Parse(time.RFC3339Nano, e.Time); err == nil {
			e.t = t.UTC()
			e.Time = e.t.Format("2006-01-02T15:04:05.000Z")
		}
	}
	sort.SliceStable(tl.Events, func(i, j int) bool {
		x, y := tl.Events[i], tl.Events[j]
		if x.t.IsZero() != y.t.IsZero() {
			return y.t.IsZero()
		}
		return x.t.Before(y.t)
	})
	if len(tl.Events) > maxTimelineEvents {
		tl.Events = tl.Events[:maxTimelineEvents]
	}
	return tl
}

// text renders the timeline as a table an officer can read (zh / en labels).
func (tl SessionTimeline) text() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "会话时间线 / session timeline: %s\n%s\n\n", tl.Session, tl.Note)
	tw := tabwriter.NewWriter(&b, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "时间 time\t时钟 clock\t事件 event\t接口/主机 API/host\t个人信息 PI\t主体 party\t阶段 phase\t前后台 fg\t次数 n\t证据 evidence")
	for _, e := range tl.Events {
		what := e.What
		subject := e.API
		if e.What == "sent" {
			subject = e.Host
			if e.ReadAt != "" {
				what += " (read " + e.ReadAt + ")"
			}
		}
		if e.Text != "" {
			subject = e.Text
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%.12s… %s\n", orDash(e.Time), e.Clock, what, orDash(subject),
			orDash(strings.Join(e.PI, "+")), orDash(e.Party), orDash(e.Phase), orDash(e.Foreground), e.Count, e.Evidence, e.Where)
	}
	tw.Flush()
	return b.Bytes()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// storeSessionTimeline stores the timeline (JSON and text) and returns the text's ref, which the
// chain findings name; zero when nothing was stored.
func (in *Inspector) storeSessionTimeline(input *scanner.Input, own []scanner.Observation, out *scanner.Output) string {
	if input.Sink == nil || len(input.Session) == 0 {
		return ""
	}
	tl := buildSessionTimeline(input.SessionName, input.Session, own)
	j, err := json.MarshalIndent(tl, "", " ")
	if err != nil {
		return ""
	}
	src := "session:" + input.SessionName + " " + input.Source.Locator
	var txtRef string
	for _, a := range []struct {
		b         []byte
		mediaType string
	}{{j, "application/json"}, {tl.text(), "text/plain; charset=utf-8"}} {
		ref, err := input.Sink.Put(bytes.NewReader(a.b), in.meta(evidence.MethodSessionTimeline, src, a.mediaType,
			"session timeline derived from the hook log and this capture (pilmon), not captured"))
		if err != nil {
			out.Errors = append(out.Errors, scanner.Errorf(input.Path, "session timeline not stored: %v", err))
			return ""
		}
		out.Artifacts = append(out.Artifacts, ref)
		txtRef = ref.SHA256
	}
	return txtRef
}

// The attribute readers of timeline_obs.go, by name.
func attrStr(a map[string]any, k string) string { return attrString(a[k]) }

func attrCount(a map[string]any, k string) int {
	n, _ := attrInt(a[k])
	return int(n)
}

func attrStrs(a map[string]any, k string) []string { return attrStrings(a[k]) }
