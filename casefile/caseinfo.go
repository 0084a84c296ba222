package casefile

import (
	"fmt"
	"path"
	"strings"
	"time"

	"pilmon/findings"
	"pilmon/scanner"
)

// CaseInfo is what the report knows of the case (案件) the findings belong to: the cover, the
// document register, the deadlines, the spreadsheet's 期限 and 文书编号 columns and the draft
// 检察建议书 are filled from it. It is optional: without it the report covers a plain selection of
// findings. The case workspace fills it; casefile does not depend on how cases are stored.
type CaseInfo struct {
	// ReportNo is the report's own number (报告编号); empty prints "—".
	ReportNo string `json:"report_no,omitempty"`
	// CaseNo is the case number (案号).
	CaseNo string `json:"case_no,omitempty"`
	// Type is the case type: "administrative" (行政公益诉讼) or "civil" (民事公益诉讼).
	Type string `json:"type,omitempty"`
	// Procuratorate is the people's procuratorate (检察院) handling the case.
	Procuratorate string `json:"procuratorate,omitempty"`
	// Handlers are the prosecutors in charge (承办人); Analysts the technical staff who tested.
	Handlers []string `json:"handlers,omitempty"`
	Analysts []string `json:"analysts,omitempty"`
	// Operator is the party whose app it is.
	Operator Party `json:"operator"`
	// Agency is the competent agency a 检察建议 goes to (被建议单位) and the legal basis of its duty.
	Agency Agency `json:"agency"`
	// LeadSource says where the lead came from (线索来源).
	LeadSource string `json:"lead_source,omitempty"`
	// Scale are the facts showing that many individuals are concerned (众多个人).
	Scale []ScaleFact `json:"scale,omitempty"`
	// Documents is the document register (立案决定书, 检察建议书, 回复 …), each hashed as evidence.
	Documents []Document `json:"documents,omitempty"`
	// Deadlines the case path created (the reply to a 检察建议, an announcement).
	Deadlines []Deadline `json:"deadlines,omitempty"`
	// Environment is the test environment stated by the analysts (device, OS); the report adds
	// what the runtime logs name.
	Environment TestEnvironment `json:"environment"`
	// PolicySince is when the 检察建议 was made: the case file compares the privacy-policy
	// version current then with the newest (zero: the earliest captured with the newest).
	PolicySince time.Time `json:"policy_since,omitzero"`
	// Recommendations are the measures the draft 检察建议书 proposes; empty uses a standard set.
	Recommendations []string `json:"recommendations,omitempty"`
}

// Party is a legal person: name, 统一社会信用代码 and address.
type Party struct {
	Name    string `json:"name,omitempty"`
	USCC    string `json:"uscc,omitempty"`
	Address string `json:"address,omitempty"`
}

// Agency is the competent agency (被建议单位) and why the matter is its duty.
type Agency struct {
	Name       string `json:"name,omitempty"`
	LegalBasis string `json:"legal_basis,omitempty"`
}

// ScaleFact is one fact of scale (users, downloads) with where it comes from.
type ScaleFact struct {
	Label  string `json:"label"`
	Value  string `json:"value"`
	Source string `json:"source,omitempty"`
}

// Document is one entry of the document register.
type Document struct {
	// Kind is what the document is, in words (检察建议书, 回复函 …).
	Kind   string    `json:"kind"`
	Number string    `json:"number,omitempty"`
	Date   time.Time `json:"date,omitzero"`
	// SHA256 is the hash of the document's file in the evidence store.
	SHA256 string `json:"sha256,omitempty"`
}

// Deadline is one deadline of the case path.
type Deadline struct {
	Kind string    `json:"kind"` // in words: 检察建议回复期限 …
	Due  time.Time `json:"due"`
	// Status is open | due_soon | overdue | met.
	Status string `json:"status,omitempty"`
	// DocumentNo is the number of the document that started it.
	DocumentNo string `json:"document_no,omitempty"`
}

// TestEnvironment is the test phone and what ran on it.
type TestEnvironment struct {
	Device    string `json:"device,omitempty"`
	OSVersion string `json:"os_version,omitempty"`
	// Tools are other tools and their versions (抓包工具 …); pilmon and Chromium are added.
	Tools []string `json:"tools,omitempty"`
}

// Coverage is what one scan could decide: it ran with a scan inventory, and NotAssessed are the
// rules its inputs could not decide (the scan report's not_assessed). Without it the report marks
// no 认定方法 item 符合.
type Coverage struct {
	ScanID      string                 `json:"scan_id,omitempty"`
	NotAssessed []findings.NotAssessed `json:"not_assessed"`
}

// Case limits: CaseInfo comes from a form; the report never prints more than these.
const (
	maxCaseField    = 500
	maxCaseList     = 200
	maxCaseDocs     = 500
	maxContextObs   = 10_000
	maxCaseFieldErr = "casefile: case field %s is longer than %d characters"
)

// check bounds every free-text field of the case so that a hostile form cannot blow up the report.
func (c *CaseInfo) check() error {
	fields := map[string]string{"report_no": c.ReportNo, "case_no": c.CaseNo, "type": c.Type,
		"procuratorate": c.Procuratorate, "operator.name": c.Operator.Name, "operator.uscc": c.Operator.USCC,
		"operator.address": c.Operator.Address, "agency.name": c.Agency.Name, "agency.legal_basis": c.Agency.LegalBasis,
		"lead_source": c.LeadSource, "environment.device": c.Environment.Device, "environment.os_version": c.Environment.OSVersion}
	for name, v := range fields {
		if len([]rune(v)) > maxCaseField*4 {
			return fmt.Errorf(maxCaseFieldErr, name, maxCaseField*4)
		}
	}
	lists := map[string]int{"handlers": len(c.Handlers), "analysts": len(c.Analysts), "scale": len(c.Scale),
		"deadlines": len(c.Deadlines), "tools": len(c.Environment.Tools), "recommendations": len(c.Recommendations)}
	for name, n := range lists {
		if n > maxCaseList {
			return fmt.Errorf("casefile: case has %d %s, more than %d", n, name, maxCaseList)
		}
	}
	if len(c.Documents) > maxCaseDocs {
		return fmt.Errorf("casefile: case has %d documents, more than %d", len(c.Documents), maxCaseDocs)
	}
	for _, s := range [][]string{c.Handlers, c.Analysts, c.Environment.Tools, c.Recommendations} {
		for _, v := range s {
			if len([]rune(v)) > maxCaseField*4 {
				return fmt.Errorf("casefile: a case list entry is longer than %d characters", maxCaseField*4)
			}
		}
	}
	return nil
}

// caseTypeLabel names the case type in the report's language.
func caseTypeLabel(t, lang string) string {
	zh, en := map[string]string{"administrative": "行政公益诉讼", "civil": "民事公益诉讼"}, map[string]string{
		"administrative": "administrative public-interest litigation", "civil": "civil public-interest litigation"}
	if lang == "en" {
		if s, ok := en[t]; ok {
			return s
		}
	} else if s, ok := zh[t]; ok {
		return s
	}
	return t
}

// beijing is China Standard Time. A fixed zone (no tzdata lookup): China has kept UTC+8 without
// daylight saving since 1991, and every time the report prints is later.
var beijing = time.FixedZone("UTC+8", 8*3600)

// fmtTimeLang prints t in Beijing time with the zone named, in the report's language.
func fmtTimeLang(t time.Time, lang string) string {
	if t.IsZero() {
		return ""
	}
	s := t.In(beijing).Format("2006-01-02 15:04:05")
	if lang == "en" {
		return s + " UTC+8"
	}
	return s + " 北京时间"
}

// parseTime reads an RFC 3339 time an observation states.
func parseTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
}

// fmtDate prints the date of t in Beijing.
func fmtDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(beijing).Format("2006-01-02")
}

// displaySource is a capture's source as the report prints it: a URL as it is; anything else is a
// path on the machine that imported it, which says nothing to a court and discloses the server's
// layout, so only its file name is kept, marked as a local file.
func displaySource(src, lang string) string {
	s := strings.TrimSpace(src)
	if s == "" || isURL(s) {
		return s
	}
	if lang == "en" {
		return strings.TrimSpace("local file " + fileName(s))
	}
	return strings.TrimSpace("本地文件 " + fileName(s))
}

// isURL: a scheme before "://" (no path separator in it).
func isURL(s string) bool {
	i := strings.Index(s, "://")
	return i > 0 && !strings.ContainsAny(s[:i], `/\`)
}

// fileName is the last element of a Unix or Windows path ("" for a root).
func fileName(p string) string {
	base := path.Base(strings.ReplaceAll(strings.TrimSpace(p), `\`, "/"))
	if base == "." || base == "/" {
		return ""
	}
	return base
}

// contextKinds are the observations that describe the app and the test rather than a violation:
// the cover is built from them.
var contextKinds = scanner.ContextKinds

// contextObservations collects the context observations of the options and of the findings.
func contextObservations(opts []scanner.Observation, items []item) []scanner.Observation {
	var out []scanner.Observation
	add := func(o scanner.Observation) {
		if contextKinds[o.Kind] && len(out) < maxContextObs {
			out = append(out, o)
		}
	}
	for _, o := range opts {
		add(o)
	}
	for _, it := range items {
		for _, o := range it.f.Observations {
			add(o)
		}
	}
	return out
}

// caseDeadlines lists the case's deadlines that are not met, "kind due (status)", one a line.
func caseDeadlines(c *CaseInfo, lang string) string {
	var out []string
	for _, d := range c.Deadlines {
		if d.Status == "met" {
			continue
		}
		s := strings.TrimSpace(d.Kind + " " + fmtDate(d.Due))
		if d.Status != "" {
			t := deadlineStatus(d.Status)
			if lang == "en" {
				s += " (" + t.EN + ")"
			} else {
				s += "（" + t.ZH + "）"
			}
		}
		out = append(out, s)
	}
	return strings.Join(out, "\n")
}

// caseDocNumbers lists the numbers of the case's documents, one a line.
func caseDocNumbers(c *CaseInfo) string {
	var out []string
	for _, d := range c.Documents {
		if d.Number != "" {
			out = append(out, d.Number)
		}
	}
	return strings.Join(out, "\n")
}
