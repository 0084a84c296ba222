package web

import (
	"html/template"
	"net/url"
	"strings"
)

// Rows writes the list's table rows. It is the list page's hot path (50 rows per request, where
// the template engine spent about 1 ms in reflection), so it is written out by hand; every value
// goes through template.HTMLEscapeString (text and quoted attributes) or url.QueryEscape (a query
// value) first, including the ones that cannot hold markup today (fingerprints, states, dates).
// The subject, target and scan ids come from the parties under investigation: the browser test
// (TestCapturedContentIsInert) renders hostile ones through this function.
func (d listData) Rows() template.HTML {
	l := d.Lang
	esc := template.HTMLEscapeString
	var b strings.Builder
	b.Grow(len(d.R.Items) * 900)
	if len(d.R.Items) == 0 {
		b.WriteString(`<tr><td colspan="8">`)
		b.WriteString(esc(l.T("list.empty")))
		b.WriteString("</td></tr>\n")
		return template.HTML(b.String())
	}
	box := esc(l.T("bulk.one"))
	for _, it := range d.R.Items {
		b.WriteString("<tr>\n")
		if len(d.Moves) > 0 {
			b.WriteString(`  <td><input type="checkbox" name="fp" value="`)
			b.WriteString(esc(it.Fingerprint))
			b.WriteString(`" form="bulk" aria-label="`)
			b.WriteString(box)
			b.WriteString("\"></td>\n")
		}
		b.WriteString(`  <td><span class="sev sev-`)
		b.WriteString(esc(string(it.Severity)))
		b.WriteString(`">`)
		b.WriteString(esc(l.Severity(it.Severity)))
		b.WriteString("</span></td>\n")
		b.WriteString(`  <td><a href="/findings/`)
		b.WriteString(esc(url.PathEscape(it.Fingerprint)))
		b.WriteString(`">`)
		if t, ok := d.Titles[it.RuleID]; ok {
			b.WriteString(esc(l.Text(t)))
		} else {
			b.WriteString(esc(it.RuleID))
		}
		b.WriteString("</a><br><code>")
		b.WriteString(esc(it.RuleID))
		b.WriteString("</code></td>\n")
		b.WriteString(`  <td class="subject">`)
		b.WriteString(esc(it.Subject))
		b.WriteString("</td>\n")
		b.WriteString(`  <td><a href="/findings?target=`)
		b.WriteString(esc(url.QueryEscape(it.TargetID)))
		b.WriteString(`">`)
		b.WriteString(esc(it.TargetID))
		b.WriteString("</a></td>\n")
		b.WriteString(`  <td><span class="state st-`)
		b.WriteString(esc(string(it.State)))
		b.WriteString(`">`)
		b.WriteString(esc(l.State(it.State)))
		b.WriteString("</span>")
		if it.NotReobservedSince != "" {
			b.WriteString(`<br><span class="hint">`)
			b.WriteString(esc(l.T("finding.notreobserved", it.NotReobservedSince)))
			b.WriteString("</span>")
		}
		b.WriteString("</td>\n  <td>")
		b.WriteString(esc(l.Day(it.FirstSeen)))
		b.WriteString("</td>\n  <td>")
		b.WriteString(esc(l.Day(it.LastSeen)))
		b.WriteString("</td>\n</tr>\n")
	}
	return template.HTML(b.String())
}

// StateOptions, SeverityOptions and MoveOptions are the short <option> lists of the filter form
// and the bulk form, written like Rows (escaped, no reflection per option).
func (d listData) StateOptions() template.HTML {
	opts := make([]option, len(d.States))
	for i, st := range d.States {
		opts[i] = newOption(string(st), d.Lang.State(st))
	}
	return renderOptions(opts, d.F.State)
}

func (d listData) SeverityOptions() template.HTML {
	opts := make([]option, len(d.Sevs))
	for i, sv := range d.Sevs {
		opts[i] = newOption(string(sv), d.Lang.Severity(sv))
	}
	return renderOptions(opts, d.F.Severity)
}

func (d listData) MoveOptions() template.HTML {
	opts := make([]option, len(d.Moves))
	for i, st := range d.Moves {
		opts[i] = newOption(string(st), d.Lang.State(st))
	}
	return renderOptions(opts, "")
}
