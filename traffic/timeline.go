package traffic

import (
	"fmt"
	"io"
	"strings"
)

// AnalyseHAR streams a HAR through a new Analyzer: the one-call form for the command line
// (`pilmon scan capture.har --device device.yaml`). cat may be nil.
func AnalyseHAR(r io.Reader, cat SDKCatalogue, opts Options) (*Result, *Info, error) {
	a := NewAnalyzer(cat, opts)
	info, err := ReadHAR(r, opts.Limits, func(e *Entry) error { a.Add(e); return nil })
	return a.Finish(info), info, err
}

var phaseText = map[string][2]string{
	PhaseBefore:       {"同意前", "before consent"},
	PhaseAfterConsent: {"同意后", "after consent"},
	PhaseAfterRefusal: {"拒绝后", "after refusal"},
	PhaseUnknown:      {"未知阶段", "phase unknown"},
}

// WriteTimeline prints the requests that carried PI in time order, Chinese first ("zh") or
// English ("en"), one line each: offset, phase, host (SDK), PI categories, detectors@location, entry.
func (res *Result) WriteTimeline(w io.Writer, lang string) error {
	li := 0
	if lang == "en" {
		li = 1
	}
	head := [2]string{"个人信息发送时间线", "Timeline of personal information sent"}[li]
	if _, err := fmt.Fprintf(w, "%s (%d)\n", head, len(res.Timeline)); err != nil {
		return err
	}
	if c := res.Consent; c != nil {
		act := map[string][2]string{"agree": {"同意", "agree"}, "refuse": {"拒绝", "refuse"}}[c.Action][li]
		fmt.Fprintf(w, "%s: %s %s (%s)\n", [2]string{"同意操作", "consent action"}[li], act, c.Time.Format("2006-01-02 15:04:05.000Z07:00"), c.Control)
	} else {
		fmt.Fprintln(w, [2]string{"未标记同意操作：阶段未知", "no consent marker: phases unknown"}[li])
	}
	for _, r := range res.Timeline {
		off := "      -"
		if r.OffsetMS != nil {
			off = fmt.Sprintf("%+7.1fs", float64(*r.OffsetMS)/1000)
		}
		host := r.Host
		if r.SDK != "" {
			host += " (" + r.SDK + ")"
		}
		if _, err := fmt.Fprintf(w, "%s  %-8s  %-40s  %-30s  %s  #%d %s\n", off, phaseText[r.Phase][li], host,
			strings.Join(r.PI, ","), strings.Join(r.Found, ","), r.Entry, truncate(r.URL, 120)); err != nil {
			return err
		}
	}
	return nil
}
