package assess

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pilmon/findings"
	"pilmon/policies"
	"pilmon/rules"
	"pilmon/scanner"
)

// A policy's own clauses, read from its text, become records: a clause that is itself the
// violation is a declared finding quoting the sentence, refuse-then-deny (lawful when the refused PI
// is necessary) a lead, and a terms-of-service page yields none of them.
func TestPolicyClauseRecords(t *testing.T) {
	cat := mustCatalogue(t)
	a := New(cat)
	base, err := os.ReadFile(filepath.Join("..", "policies", "testdata", "zh_policy.html"))
	if err != nil {
		t.Fatal(err)
	}
	clauses := "<h2>附：其他约定</h2><p>如您拒绝提供上述信息，将导致您无法使用本产品。更新后的条款一经公布即时生效，恕不另行通知。" +
		"若您继续使用我们的服务，即表示您已充分阅读、理解并接受更新后的本政策。</p>"
	policy := strings.Replace(string(base), "</body>", clauses+"</body>", 1)
	an, err := policies.Analyze("privacy.html", []byte(policy), "text/html", cat)
	if err != nil {
		t.Fatal(err)
	}
	if !an.IsPrivacyPolicy {
		t.Fatal("the test policy is not taken for a privacy policy")
	}
	all := append([]scanner.Observation{inventory(false, true, false)}, policies.Observations(an, "privacy.md", []string{"ev"}, "policies", "1")...)
	rep := a.AssessReport(scanner.Target{ID: "p"}, "s", all, t0)
	for rule, want := range map[string]struct{ tier, quote string }{
		"rdff-3.4-policy-deemed-consent":   {rules.TierFinding, "即表示您已充分阅读"},
		"rdff-2.2-policy-no-notice-change": {rules.TierFinding, "恕不另行通知"},
		"rdff-4.2-policy-refuse-then-deny": {rules.TierLead, "将导致您无法使用本产品"},
	} {
		got := raised(rep.Findings, rule)
		if len(got) != 1 {
			t.Errorf("%s: %d records, want 1", rule, len(got))
			continue
		}
		f := got[0]
		if f.Tier != want.tier || f.Grade != rules.GradeDeclared || !strings.Contains(f.Summary.ZH, want.quote) {
			t.Errorf("%s: %s/%s %s", rule, f.Tier, f.Grade, f.Summary.ZH)
		}
	}
	for _, rule := range []string{"pipl-14-policy-bundled-consent", "rdff-4.5-policy-forced-purpose", "pipl-25-policy-publish-sensitive"} {
		if got := raised(rep.Findings, rule); len(got) != 0 {
			t.Errorf("%s raised on a policy without that clause: %s", rule, got[0].Summary.ZH)
		}
	}

	// the same clauses in a document that is not a privacy policy are not the policy's clauses
	doc := obs("policy.document", "tos.html", map[string]any{"title": "用户协议", "is_privacy_policy": false})
	clause := obs("policy.clause", "deemed_consent", map[string]any{"clause": "deemed_consent", "quote": "继续使用即视为您同意本协议。", "section": "总则"})
	rep = a.AssessReport(scanner.Target{ID: "t"}, "s", []scanner.Observation{inventory(false, true, false), doc, clause}, t0)
	if got := raised(rep.Findings, "rdff-3.4-policy-deemed-consent"); len(got) != 0 {
		t.Errorf("terms of service: %s", got[0].Summary.ZH)
	}
}

// A sensitive permission or mini-program API with a policy beside it is a lead that says what the
// package shows (the capability is requested or called) and what to verify on a test phone; it
// never claims the policy lacks separate-consent wording, since separate consent is not given
// through the policy text.
func TestSensitiveCapabilityLeadWording(t *testing.T) {
	cat := mustCatalogue(t)
	a := New(cat)
	doc := obs("policy.document", "privacy.html", map[string]any{"language": "zh", "title": "隐私政策", "chars": 11000,
		"doc_type": "privacy_policy", "is_privacy_policy": true, "states_collection": true})
	perm := obs("apk.permission", "android.permission.ACCESS_FINE_LOCATION", map[string]any{"permission": "android.permission.ACCESS_FINE_LOCATION",
		"pi": []string{"location_precise"}, "protection": "runtime", "max_sdk": 0, "element": "uses-permission"})
	api := obs("mp.api_call", "wx.getLocation", map[string]any{"api": "wx.getLocation", "pi": []string{"location_precise"}, "file": "pages/map/map.js", "line": 12})
	for name, o := range map[string]scanner.Observation{"apk.permission": perm, "mp.api_call": api} {
		rep := a.AssessReport(scanner.Target{ID: "s"}, "s", []scanner.Observation{inventory(true, true, false), doc, o}, t0)
		got := raised(rep.Findings, "pipl-29-sensitive-without-separate-consent")
		if len(got) != 1 {
			t.Errorf("%s: %d records, want 1", name, len(got))
			continue
		}
		f := got[0]
		if f.Tier != rules.TierLead {
			t.Errorf("%s: tier %s, want lead", name, f.Tier)
		}
		for _, old := range []string{"未找到对其单独同意", "has no separate consent"} {
			if strings.Contains(f.Summary.ZH+f.Summary.EN, old) {
				t.Errorf("%s: still claims the policy lacks separate consent: %s", name, f.Summary.ZH)
			}
		}
		for _, want := range []string{"《个人信息保护法》第二十九条", "单独同意", "测试机", "可拒绝"} {
			if !strings.Contains(f.Summary.ZH, want) {
				t.Errorf("%s: summary lacks %q: %s", name, want, f.Summary.ZH)
			}
		}
		if !strings.Contains(f.Summary.EN, "PIPL Art. 29") || !strings.Contains(f.Summary.EN, "test phone") {
			t.Errorf("%s: English summary: %s", name, f.Summary.EN)
		}
		law := false
		for _, lb := range f.LegalBasis {
			law = law || lb.Instrument == "pipl" && lb.Article == "29" && lb.Level == "law"
		}
		if !law {
			t.Errorf("%s: PIPL Art. 29 not cited at the level of law: %+v", name, f.LegalBasis)
		}
	}
}

// Every clause the policy states is its own record: two different deeming sentences are two
// findings, each quoting its own sentence; the first keeps the family's subject (and so the
// fingerprint it had when only the first clause was reported), the second is told apart by its
// sentence.
func TestPolicyClauseRecordPerClause(t *testing.T) {
	cat := mustCatalogue(t)
	a := New(cat)
	base, err := os.ReadFile(filepath.Join("..", "policies", "testdata", "zh_policy.html"))
	if err != nil {
		t.Fatal(err)
	}
	first, second := "若您继续使用我们的服务，即表示您已充分阅读、理解并接受更新后的本政策。", "您下载、安装或登录本软件的行为，即视为您已同意本隐私政策。"
	policy := strings.Replace(string(base), "</body>", "<h2>附：其他约定</h2><p>"+first+second+first+"</p></body>", 1)
	an, err := policies.Analyze("privacy.html", []byte(policy), "text/html", cat)
	if err != nil {
		t.Fatal(err)
	}
	all := append([]scanner.Observation{inventory(false, true, false)}, policies.Observations(an, "privacy.md", []string{"ev"}, "policies", "1")...)
	rep := a.AssessReport(scanner.Target{ID: "p"}, "s", all, t0)
	got := raised(rep.Findings, "rdff-3.4-policy-deemed-consent")
	if len(got) != 2 {
		t.Fatalf("%d deemed-consent records, want 2 (the repeated sentence is one clause)", len(got))
	}
	bySubject := map[string]string{}
	for _, f := range got {
		bySubject[f.Subject] = f.Summary.ZH
		if f.Fingerprint != findings.Fingerprint("p", f.RuleID, f.Subject) {
			t.Errorf("%s: fingerprint %s", f.Subject, f.Fingerprint)
		}
	}
	var firstSummary, secondSummary string
	for s, sum := range bySubject {
		if s == "clause:deemed_consent" {
			firstSummary = sum
		} else if strings.HasPrefix(s, "clause:deemed_consent:") && len(s) == len("clause:deemed_consent:")+12 {
			secondSummary = sum
		}
	}
	if !strings.Contains(firstSummary, "即表示您已充分阅读") || !strings.Contains(secondSummary, "即视为您已同意本隐私政策") {
		t.Errorf("records by subject: %v", bySubject)
	}
}
