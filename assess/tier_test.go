package assess

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"pilmon/findings"
	"pilmon/rules"
	"pilmon/scanner"
)

// overclaim matches wording that states actual collection, which no lead may use ("是否实际收集",
// a question, is allowed).
var overclaim = regexp.MustCompile(`(^|[^否])实际收集|\bcollects\b|\bactually collected\b`)

func obs(kind, subject string, attrs map[string]any) scanner.Observation {
	return scanner.Observation{Kind: kind, Subject: subject, Attributes: attrs, EvidenceRefs: []string{"ev-" + kind}, Inspector: "t", InspectorVersion: "1"}
}

func inventory(app, policy, traffic bool) scanner.Observation {
	return obs("scan.inventory", "t", map[string]any{"has_app": app, "has_policy": policy, "has_traffic": traffic, "policy_link_found": false})
}

func apkIdentity() scanner.Observation {
	return obs("apk.identity", "cn.example.shop", map[string]any{"package": "cn.example.shop", "label": "示例商城", "target_sdk": 28})
}

func notAssessed(na []findings.NotAssessed, rule string) bool {
	return slices.ContainsFunc(na, func(n findings.NotAssessed) bool { return n.RuleID == rule })
}

// Whole catalogue: no rule can make a finding from static or inferred evidence. For every trigger
// kind of every automated rule, every grade the kind can give (each of its grade rules) is capped
// by the rule; whatever is static or inferred must come out a lead, and only a rule's own
// tier: lead or the grade can make one.
func TestNoFindingFromStaticOrInferredEvidence(t *testing.T) {
	cat := mustCatalogue(t)
	for _, v := range cat.Violations() {
		if v.Check.Mode != rules.ModeAutomated {
			continue
		}
		for _, tr := range v.Check.Triggers {
			k, ok := cat.ObservationKind(tr.Kind)
			if !ok || len(k.Grade) == 0 {
				t.Errorf("%s: trigger kind %s has no grade", v.ID, tr.Kind)
				continue
			}
			for _, gr := range append(slices.Clone(k.Grade), v.GradeFor[tr.Kind]...) {
				g := rules.CapGrade(&v, tr.Kind, gr.Grade)
				tier := rules.TierOf(&v, g)
				if (g == rules.GradeStatic || g == rules.GradeInferred) && tier != rules.TierLead {
					t.Errorf("%s on %s (%s): tier %s", v.ID, tr.Kind, g, tier)
				}
				if rules.GradeRank(g) > rules.GradeRank(gr.Grade) {
					t.Errorf("%s on %s: the cap raised %s to %s", v.ID, tr.Kind, gr.Grade, g)
				}
			}
		}
		// the same through the engine: every positive example, with every observation's grade
		// as it comes; a finding needs an observed or declared triggering observation
		a := New(cat)
		for i, ex := range v.Check.Examples.Positive {
			for _, f := range raised(a.Assess(scanner.Target{ID: "x", Category: ex.Category}, "s", exampleObservations(ex), t0), v.ID) {
				if f.Tier == rules.TierFinding && f.Grade != rules.GradeObserved && f.Grade != rules.GradeDeclared {
					t.Errorf("%s positive #%d: a finding of grade %s", v.ID, i+1, f.Grade)
				}
				if f.Tier == rules.TierLead && (overclaim.MatchString(f.Summary.ZH) || overclaim.MatchString(f.Summary.EN)) {
					t.Errorf("%s positive #%d: a lead claims collection: %s / %s", v.ID, i+1, f.Summary.ZH, f.Summary.EN)
				}
				if f.Tier == rules.TierLead {
					if tt := v.TitleFor(f.Tier); overclaim.MatchString(tt.ZH) || overclaim.MatchString(tt.EN) {
						t.Errorf("%s: the title shown for its leads claims collection: %s / %s (add a lead_title)", v.ID, tt.ZH, tt.EN)
					}
				}
			}
		}
	}
	if rules.TierOf(&rules.Violation{}, rules.GradeStatic) != rules.TierLead || rules.TierOf(nil, rules.GradeInferred) != rules.TierLead ||
		rules.TierOf(&rules.Violation{Tier: rules.TierLead}, rules.GradeObserved) != rules.TierLead ||
		rules.TierOf(&rules.Violation{}, rules.GradeDeclared) != rules.TierFinding {
		t.Error("TierOf")
	}
}

// An APK scanned alone: no 1.1 finding (at most the lead that no policy was given) and 1.1 among
// the rules not assessed; a policy source that is no privacy policy is a finding.
func TestNoPolicyFindingFromAbsentInput(t *testing.T) {
	a := New(mustCatalogue(t))
	tg := scanner.Target{ID: "apk-alone"}
	rep := a.AssessReport(tg, "s", []scanner.Observation{inventory(true, false, false), apkIdentity()}, t0)
	for _, f := range raised(rep.Findings, "rdff-1.1") {
		if f.Tier != rules.TierLead || f.Grade != rules.GradeInferred {
			t.Errorf("APK alone: rdff-1.1 %s/%s: %s", f.Tier, f.Grade, f.Summary.ZH)
		}
		if !strings.Contains(f.Summary.ZH, "未提供隐私政策") {
			t.Errorf("APK alone: the lead does not say no policy was given: %s", f.Summary.ZH)
		}
	}
	if !notAssessed(rep.NotAssessed, "rdff-1.1") {
		t.Errorf("APK alone: rdff-1.1 not listed as not assessed: %+v", rep.NotAssessed)
	}
	for _, n := range rep.NotAssessed {
		if n.Reason.ZH == "" || n.Reason.EN == "" {
			t.Errorf("%s: no reason", n.RuleID)
		}
	}
	if !notAssessed(rep.NotAssessed, "rdff-3.1") || notAssessed(rep.NotAssessed, "pipl-51-allow-backup") {
		t.Errorf("APK alone: traffic rules must be listed, manifest rules not: %+v", rep.NotAssessed)
	}

	// the analyst gave a policy URL and no collection rules were recognised in it: whether it is
	// a privacy policy at all is read from its wording by patterns, so it is a lead to read it
	doc := obs("policy.document", "https://example.com/tos", map[string]any{"title": "用户协议", "doc_type": "terms_of_service", "is_privacy_policy": false, "states_collection": false})
	rep = a.AssessReport(tg, "s", []scanner.Observation{inventory(true, true, false), apkIdentity(), doc}, t0)
	got := raised(rep.Findings, "rdff-1.1")
	if len(got) != 1 || got[0].Tier != rules.TierLead || got[0].Grade != rules.GradeInferred {
		t.Fatalf("policy source that is no policy: %+v", got)
	}
	// a user agreement whose privacy section states what is collected has collection rules: the
	// lead's "no collection rules recognised" would be false
	withRules := obs("policy.document", "https://example.com/tos", map[string]any{"title": "用户协议", "doc_type": "terms_of_service", "is_privacy_policy": false, "states_collection": true})
	if got := raised(a.AssessReport(tg, "s", []scanner.Observation{inventory(true, true, false), apkIdentity(), withRules}, t0).Findings, "rdff-1.1"); len(got) != 0 {
		t.Errorf("user agreement that states its collection: %s", got[0].Summary.ZH)
	}
	if notAssessed(rep.NotAssessed, "rdff-1.1") {
		t.Error("rdff-1.1 listed as not assessed although a policy source was given")
	}
	// no inventory (observations assembled by hand): nothing can be said about the inputs
	if na := a.NotAssessed(CategoryChoice{}, []scanner.Observation{apkIdentity()}); na != nil {
		t.Errorf("without an inventory: %+v", na)
	}
}

// A sensitive API in the package is a static lead whose summary says what the code can do and
// what to check, aggregated by PI and party with every call site; traffic matched to a known value
// is an observed finding, a pattern alone an inferred lead.
func TestStaticLeadsAndTrafficFindings(t *testing.T) {
	a := New(mustCatalogue(t))
	tg := scanner.Target{ID: "apk", Category: "online_shopping"}
	perm := obs("apk.permission", "android.permission.READ_PHONE_STATE", map[string]any{"permission": "android.permission.READ_PHONE_STATE", "pi": []string{"device_id_hw"}, "protection": "runtime"})
	api := func(api, caller, sdk string) scanner.Observation {
		return obs("apk.sensitive_api", api+" @ "+caller, map[string]any{"api": api, "caller_class": caller, "caller_method": "init", "sdk": sdk, "library": "", "pi": []string{"device_id_hw"}})
	}
	in := []scanner.Observation{inventory(true, false, false), apkIdentity(), perm,
		api("telephony.getDeviceId", "com.umeng.a.ImeiTracker", "umeng_analytics"),
		api("telephony.getImei", "com.umeng.b.DeviceInfo", "umeng_analytics"),
		api("telephony.getDeviceId", "cn.example.shop.Main", "")}
	fs := raised(a.Assess(tg, "s", in, t0), "gbt41391-f-non-resettable-id")
	subjects := map[string]findings.Finding{}
	for _, f := range fs {
		subjects[f.Subject] = f
		if f.Tier != rules.TierLead || f.Grade != rules.GradeStatic {
			t.Errorf("%s: %s/%s", f.Subject, f.Tier, f.Grade)
		}
		if overclaim.MatchString(f.Summary.ZH) || overclaim.MatchString(f.Summary.EN) || !strings.Contains(f.Summary.ZH, "可读取") {
			t.Errorf("%s: summary overclaims: %s / %s", f.Subject, f.Summary.ZH, f.Summary.EN)
		}
	}
	umeng, ok := subjects["pi:device_id_hw@sdk:umeng_analytics"]
	if len(fs) != 2 || !ok || subjects["pi:device_id_hw@app"].RuleID == "" {
		t.Fatalf("want one lead per (PI, party), got %v", ruleIDs(fs))
	}
	if n := len(umeng.Observations); n != 2 || !strings.Contains(umeng.Summary.ZH, "com.umeng.a.ImeiTracker") || !strings.Contains(umeng.Summary.ZH, "com.umeng.b.DeviceInfo") {
		t.Errorf("the Umeng lead lists %d call sites: %s", n, umeng.Summary.ZH)
	}

	sent := func(known bool) scanner.Observation {
		attrs := map[string]any{"pi": []string{"device_id_hw"}, "detector": "imei", "host": "ulogs.umeng.com", "location": "body",
			"phase": "before_consent", "sdk": "umeng_analytics", "third_party": true, "offset_ms": -3000}
		if known {
			attrs["known_value"], attrs["detector"] = true, "known_value:imei"
		}
		return obs("traffic.pi_sent", "device_id_hw -> ulogs.umeng.com", attrs)
	}
	for _, c := range []struct {
		known       bool
		tier, grade string
	}{{true, rules.TierFinding, rules.GradeObserved}, {false, rules.TierLead, rules.GradeInferred}} {
		got := raised(a.Assess(tg, "s", []scanner.Observation{inventory(false, false, true), sent(c.known)}, t0), "rdff-3.1")
		if len(got) != 1 || got[0].Tier != c.tier || got[0].Grade != c.grade {
			t.Errorf("known value %v: %+v", c.known, got)
			continue
		}
		if !c.known && (overclaim.MatchString(got[0].Summary.ZH) || !strings.Contains(got[0].Summary.ZH, "疑似")) {
			t.Errorf("pattern match summary: %s", got[0].Summary.ZH)
		}
	}
}

// Collection outside the necessary PI of the category is a lead, never 4.1 as a finding, and a
// suggested category says so; in-scope PI raises nothing.
func TestNecessaryScopeIsALead(t *testing.T) {
	a := New(mustCatalogue(t))
	contacts := obs("apk.permission", "android.permission.READ_CONTACTS", map[string]any{"permission": "android.permission.READ_CONTACTS", "pi": []string{"contacts"}, "protection": "runtime"})
	fs := raised(a.Assess(scanner.Target{ID: "x", Category: "online_shopping"}, "s", []scanner.Observation{apkIdentity(), contacts}, t0), "rdff-4.1")
	if len(fs) != 1 || fs[0].Tier != rules.TierLead || fs[0].Grade != rules.GradeInferred {
		t.Fatalf("rdff-4.1: %+v", fs)
	}
	if !strings.Contains(fs[0].Summary.ZH, "需核实是否用于扩展功能并单独取得同意") {
		t.Errorf("rdff-4.1 summary: %s", fs[0].Summary.ZH)
	}
	// the same with a category pilmon suggests from the label
	id := obs("apk.identity", "cn.example.shop", map[string]any{"package": "cn.example.shop", "label": "示例商城 网上购物 购物", "target_sdk": 28})
	c := a.SuggestCategory(scanner.Target{ID: "y"}, []scanner.Observation{id, contacts})
	if c.Suggested && c.Key != "" {
		fs = raised(a.Assess(scanner.Target{ID: "y"}, "s", []scanner.Observation{id, contacts}, t0), "rdff-4.1")
		for _, f := range fs {
			if f.Tier != rules.TierLead || !strings.Contains(f.Summary.ZH, "系统建议") {
				t.Errorf("suggested category: %s %s", f.Tier, f.Summary.ZH)
			}
		}
	}
	// location is necessary for map navigation: nothing
	loc := obs("apk.permission", "android.permission.ACCESS_FINE_LOCATION", map[string]any{"permission": "android.permission.ACCESS_FINE_LOCATION", "pi": []string{"location_precise"}, "protection": "runtime"})
	if got := raised(a.Assess(scanner.Target{ID: "z", Category: "map_navigation"}, "s", []scanner.Observation{apkIdentity(), loc}, t0), "rdff-4.1"); len(got) > 0 {
		t.Errorf("in-scope PI raised %+v", got)
	}
}
