package web

import (
	"bytes"
	"html/template"
	"net/url"
	"strconv"

	"pilmon/findings"
	"pilmon/rules"
)

// The findings list page is the dashboard's hot path (every triage step comes back to it), and the
// template engine spent most of its time there in reflection: about 40 % of a request, more once
// the server had been idle for a few milliseconds. So its content is written out here by hand.
// The rules are those of html/template's contexts as they occur on this page: every value goes
// through template.HTMLEscapeString (element text and double-quoted attributes) and a URL query
// value through url.QueryEscape first, including values that cannot hold markup today
// (fingerprints, states, dates); markup is only ever a constant. The subject, target and scan ids
// come from the parties under investigation: the browser test (TestCapturedContentIsInert) and
// TestListPageEscapes render hostile ones through this code.

// Content is the list page's content (the layout around it is a template); the handler writes it
// straight into the page with writeContent.
func (d listData) Content() template.HTML {
	var b bytes.Buffer
	d.writeContent(&b)
	return template.HTML(b.String())
}

func (d listData) writeContent(b *bytes.Buffer) {
	l := d.Lang
	esc := template.HTMLEscapeString
	b.Grow(16<<10 + len(d.R.Items)*900)
	t := func(key string) { b.WriteString(esc(l.T(key))) }
	raw := b.WriteString
	anyOption := func() { raw(`<option value="">`); t("f.any"); raw("</option>") }
	sel := func(label, name string, opts template.HTML) {
		raw("  <label>")
		t(label)
		raw(` <select name="`)
		raw(name)
		raw(`">`)
		anyOption()
		raw(string(opts))
		raw("</select></label>\n")
	}
	input := func(typ, name, value string) {
		raw(`<input type="`)
		raw(typ)
		raw(`" name="`)
		raw(name)
		raw(`" value="`)
		raw(esc(value))
		raw(`">`)
	}
	csrf := func() { raw(`<input type="hidden" name="_csrf" value="`); raw(esc(d.CSRF)); raw(`">`) }
	link := func(href, key string) { raw(`<a href="`); raw(esc(href)); raw(`">`); t(key); raw("</a>") }

	raw("\n<h1>")
	t("title.findings")
	raw("</h1>\n<details class=\"filters-panel\"")
	if d.F.Active() {
		raw(" open")
	}
	raw("><summary>")
	t("f.panel")
	if d.F.Active() {
		raw(" · ")
		t("f.active")
	}
	raw("</summary>\n<form method=\"get\" action=\"/findings\" class=\"filters\">\n  <label>")
	t("f.q")
	raw(` <input type="search" name="q" value="`)
	raw(esc(d.F.Q))
	raw(`" maxlength="200" placeholder="`)
	t("f.q.placeholder")
	raw("\"></label>\n")
	sel("f.state", "state", d.StateOptions())
	sel("f.tier", "tier", d.TierOptions())
	sel("f.severity", "severity", d.SeverityOptions())
	sel("f.rule", "rule", d.RuleOptions())
	sel("f.basis", "basis", d.BasisOptions())
	sel("f.target", "target", d.TargetOptions())
	sel("f.category", "category", d.CategoryOptions())
	sel("f.sdk", "sdk", d.SDKOptions())
	sel("f.deadline", "deadline", d.DeadlineOptions())
	// A date range is one field: its two dates side by side, not stacked like the label.
	raw("  <label>")
	t("f.first")
	raw(` <span class="range">`)
	input("date", "first_from", d.F.FirstFrom)
	raw(" – ")
	input("date", "first_to", d.F.FirstTo)
	raw("</span></label>\n  <label>")
	t("f.last")
	raw(` <span class="range">`)
	input("date", "last_from", d.F.LastFrom)
	raw(" – ")
	input("date", "last_to", d.F.LastTo)
	raw("</span></label>\n  ")
	input("hidden", "sort", d.F.Sort)
	raw("\n  <button type=\"submit\">")
	t("f.apply")
	raw("</button>\n")
	if d.F.Active() {
		raw("  ")
		link("/findings", "f.clear")
		raw("\n")
	}
	raw("</form>\n</details>\n<p class=\"summary\">")
	raw(esc(l.T("list.total", l.N(d.R.Total))))
	raw("</p>\n")
	if len(d.Moves) > 0 {
		raw("<form method=\"post\" action=\"/findings/bulk\" id=\"bulk\" class=\"bulk\">\n  ")
		csrf()
		raw("\n  ")
		input("hidden", "back", d.Path)
		raw("\n  <label>")
		t("bulk.to")
		raw(` <select name="to" required>`)
		raw(string(d.MoveOptions()))
		raw("</select></label>\n  <span class=\"dismiss-only\"><label>")
		t("dismiss.reason")
		raw(` <select name="reason"><option value="">`)
		t("dismiss.choose")
		raw("</option>")
		raw(string(reasonOptions(l)))
		raw("</select></label>\n  <label class=\"check\"><input type=\"checkbox\" name=\"confirm_high\" value=\"1\"> ")
		t("dismiss.confirm")
		raw("</label></span>\n  <label>")
		t("bulk.note")
		raw(" <input name=\"note\" maxlength=\"16000\"></label>\n  <label>")
		t("doc.no")
		raw(" <input name=\"document_no\" maxlength=\"200\"></label>\n  <label>")
		t("doc.date")
		raw(" <input type=\"date\" name=\"document_date\"></label>\n  <button type=\"submit\">")
		t("bulk.apply")
		raw("</button>\n  ")
		if d.CanCases {
			raw(`<button type="submit" name="action" value="case" formnovalidate>`)
			t("bulk.opencase")
			raw("</button>\n  ")
		}
		raw("<span class=\"hint\">")
		t("bulk.hint")
		raw("</span>\n</form>\n")
	}
	raw("<div class=\"scroll\"><table class=\"list\">\n<thead><tr>\n")
	if len(d.Moves) > 0 {
		raw(`  <th><input type="checkbox" class="select-all" aria-label="`)
		t("bulk.all")
		raw("\"></th>\n")
	}
	raw("  <th>")
	t("col.tier")
	raw("</th>\n  <th>")
	link(d.F.SortURL(""), "col.severity")
	for _, k := range []string{"col.rule", "col.subject", "col.target", "col.state"} {
		raw("</th>\n  <th>")
		t(k)
	}
	raw("</th>\n  <th>")
	link(d.F.SortURL("deadline"), "col.deadline")
	raw("</th>\n  <th>")
	link(d.F.SortURL("first_seen"), "col.first")
	raw("</th>\n  <th>")
	link(d.F.SortURL("last_seen"), "col.last")
	raw("</th>\n</tr></thead>\n<tbody>\n")
	d.rows(b)
	raw("</tbody>\n</table></div>\n")
	if d.R.Pages > 1 {
		raw("<nav class=\"pager\">\n  ")
		if d.F.Page > 1 {
			link(d.F.PageURL(1), "pager.first")
			raw(" ")
			link(d.F.PageURL(d.F.Page-1), "pager.prev")
		}
		raw("\n  <span>")
		raw(esc(l.T("pager.of", d.F.Page, d.R.Pages)))
		raw("</span>\n  ")
		if d.F.Page < d.R.Pages {
			link(d.F.PageURL(d.F.Page+1), "pager.next")
			raw(" ")
			link(d.F.PageURL(d.R.Pages), "pager.last")
		}
		raw("\n</nav>\n")
	}
	if d.CanExport {
		if d.F.Target != "" {
			raw("<form method=\"post\" action=\"/findings/export\" class=\"inline\">")
			csrf()
			input("hidden", "target", d.F.Target)
			raw("<button>")
			t("export.target")
			raw("</button></form>\n")
		}
		raw("<form method=\"post\" action=\"/findings/export\" id=\"export\" class=\"inline\">")
		csrf()
		raw("<button type=\"submit\" class=\"export-selected\">")
		t("export.selected")
		raw("</button></form>\n")
	}
}

// rows writes the table rows. Findings of one target about one subject (one request sending the
// IMEI to Umeng, read under several rules) are one fact with several legal readings: on a page
// they are written together, the subject and target cells spanning the group's rows.
func (d listData) rows(b *bytes.Buffer) {
	l := d.Lang
	esc := template.HTMLEscapeString
	if len(d.R.Items) == 0 {
		b.WriteString(`<tr><td colspan="10">`)
		b.WriteString(esc(l.T("list.empty")))
		b.WriteString("</td></tr>\n")
		return
	}
	box := esc(l.T("bulk.one"))
	type key struct{ target, subject string }
	order := make([]key, 0, len(d.R.Items))
	groups := make(map[key][]int, len(d.R.Items))
	for i, it := range d.R.Items {
		k := key{it.TargetID, it.Subject}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	for _, k := range order {
		members := groups[k]
		for j, i := range members {
			it := d.R.Items[i]
			switch {
			case len(members) == 1:
				b.WriteString("<tr>\n")
			case j == 0:
				b.WriteString("<tr class=\"grp grp-first\">\n")
			default:
				b.WriteString("<tr class=\"grp\">\n")
			}
			if len(d.Moves) > 0 {
				b.WriteString(`  <td><input type="checkbox" name="fp" value="`)
				b.WriteString(esc(it.Fingerprint))
				b.WriteString(`" form="bulk" aria-label="`)
				b.WriteString(box)
				b.WriteString("\"></td>\n")
			}
			b.WriteString(`  <td class="nw"><span class="tier tier-`)
			b.WriteString(esc(it.Tier))
			b.WriteString(`">`)
			b.WriteString(esc(l.Tier(it.Tier)))
			b.WriteString("</span></td>\n")
			b.WriteString(`  <td class="nw"><span class="sev sev-`)
			b.WriteString(esc(string(it.Severity)))
			b.WriteString(`">`)
			b.WriteString(esc(l.Severity(it.Severity)))
			b.WriteString("</span></td>\n")
			b.WriteString(`  <td><a href="/findings/`)
			b.WriteString(esc(url.PathEscape(it.Fingerprint)))
			b.WriteString(`">`)
			if t, ok := d.LeadTitles[it.RuleID]; ok && it.Tier == rules.TierLead {
				b.WriteString(esc(l.Text(t)))
			} else if t, ok := d.Titles[it.RuleID]; ok {
				b.WriteString(esc(l.Text(t)))
			} else {
				b.WriteString(esc(it.RuleID))
			}
			b.WriteString("</a><br><code>")
			b.WriteString(esc(it.RuleID))
			b.WriteString("</code></td>\n")
			if j == 0 {
				span := ""
				if len(members) > 1 {
					span = ` rowspan="` + strconv.Itoa(len(members)) + `"`
				}
				b.WriteString(`  <td class="subject"` + span + `>`)
				if d.Describe != nil {
					b.WriteString(esc(l.Text(d.Describe(it.Subject))))
					b.WriteString(`<br><code class="hint">`)
					b.WriteString(esc(it.Subject))
					b.WriteString("</code>")
				} else {
					b.WriteString(esc(it.Subject))
				}
				if len(members) > 1 {
					b.WriteString(`<br><span class="badge grp-badge">`)
					b.WriteString(esc(l.T("list.group", len(members))))
					b.WriteString("</span>")
				}
				b.WriteString("</td>\n")
				b.WriteString(`  <td` + span + `><a href="/findings?target=`)
				b.WriteString(esc(url.QueryEscape(it.TargetID)))
				b.WriteString(`">`)
				b.WriteString(esc(it.TargetID))
				b.WriteString("</a></td>\n")
			}
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
			b.WriteString("</td>\n  <td class=\"deadline\">")
			if dl, ok := d.R.Deadlines[it.Fingerprint]; ok {
				b.WriteString(`<span class="dl dl-`)
				b.WriteString(esc(dl.Class))
				b.WriteString(`">`)
				b.WriteString(esc(dl.StatusLabel))
				b.WriteString(`</span> <span class="nw">`)
				b.WriteString(esc(dl.Due))
				b.WriteString(`</span><br><a class="hint" href="/cases/`)
				b.WriteString(esc(url.PathEscape(dl.CaseID)))
				b.WriteString(`">`)
				b.WriteString(esc(dl.CaseNo))
				b.WriteString("</a>")
			} else {
				b.WriteString("—")
			}
			b.WriteString("</td>\n  <td class=\"nw\">")
			b.WriteString(esc(l.Day(it.FirstSeen)))
			b.WriteString("</td>\n  <td class=\"nw\">")
			b.WriteString(esc(l.Day(it.LastSeen)))
			b.WriteString("</td>\n</tr>\n")
		}
	}
}

// reasonOptions are the dismissal reasons as <option>s.
func reasonOptions(l *Lang) template.HTML {
	opts := make([]option, len(findings.DismissReasons))
	for i, r := range findings.DismissReasons {
		opts[i] = newOption(r, l.Text(findings.ReasonLabel(r)))
	}
	return renderOptions(opts, "")
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

// DeadlineOptions lists the deadline filter's choices (findingdeadlines.go).
func (d listData) DeadlineOptions() template.HTML {
	opts := make([]option, len(deadlineFilters))
	for i, k := range deadlineFilters {
		key := "dl." + k
		if k == dlNone {
			key = "dl.nodeadline"
		}
		opts[i] = newOption(k, d.Lang.T(key))
	}
	return renderOptions(opts, d.F.Deadline)
}

// TierOptions lists the tiers: findings (认定事实) and leads (待核实线索).
func (d listData) TierOptions() template.HTML {
	opts := make([]option, len(rules.Tiers))
	for i, t := range rules.Tiers {
		opts[i] = newOption(t, d.Lang.Tier(t))
	}
	return renderOptions(opts, d.F.Tier)
}

func (d listData) MoveOptions() template.HTML {
	opts := make([]option, len(d.Moves))
	for i, st := range d.Moves {
		opts[i] = newOption(string(st), d.Lang.State(st))
	}
	return renderOptions(opts, "")
}
