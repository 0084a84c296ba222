package rules

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// A caveat that says the evidence is not proof of the act contradicts a title or summary that,
// at a grade the rule's records can have, states the act as fact.
var (
	notProof = regexp.MustCompile(`不能证明|无法证明|无法确定|不能确定|无法判断|不等于|不代表|不能说明|不说明|实际是否|是否实际|(?i:whether .{0,40}(?:actually|really)|not proof|no proof|does not prove|cannot prove|cannot tell|can't tell|does not show|cannot show)`)
	// actTerms state the act; sentTerms state a transmission, which traffic observed at grade
	// observed does show.
	actTerms  = regexp.MustCompile(`实际收集|已收集|收集了|实际读取|已读取|读取了|实际获取|已获取|获取了|实际取得|已取得|取得了|(?i:\b(?:collects|collected|reads|obtains|obtained)\b)`)
	sentTerms = regexp.MustCompile(`发送了|已发送|已上传|上传了|传输了|已收到|(?i:\b(?:sends|sent|uploads|uploaded|transmits|transmitted)\b)`)
	// A term is hedged when its clause, before it, asks, doubts or speaks of a capability.
	hedgeZH = regexp.MustCompile(`是否|不|未|无|需|待|核实|确认|可能|疑似|可|能|会|若|如|据|以免`)
	hedgeEN = regexp.MustCompile(`(?i)\b(?:whether|not|no|never|n't|check|confirm|verify|verified|can|could|may|might|if|documented|to|would|that it|before it|when it)\b|n't\b`)
	clause  = regexp.MustCompile(`[，。；;,.:：（()）!！?？]`)
)

// assertedActs returns the unhedged act terms of text; sent says whether transmission terms count.
func assertedActs(text string, sent bool) []string {
	var out []string
	res := []*regexp.Regexp{actTerms}
	if sent {
		res = append(res, sentTerms)
	}
	for _, re := range res {
		for _, m := range re.FindAllStringIndex(text, -1) {
			before := text[:m[0]]
			if locs := clause.FindAllStringIndex(before, -1); len(locs) > 0 {
				before = before[locs[len(locs)-1][1]:]
			}
			if hedgeZH.MatchString(before) || hedgeEN.MatchString(before) {
				continue
			}
			out = append(out, text[m[0]:m[1]])
		}
	}
	return out
}

// gradesOf are the grades a rule's records can have: its trigger kinds' grades under its caps.
func gradesOf(c *Catalogue, v Violation) map[string][]string {
	out := map[string][]string{}
	for _, t := range v.Check.Triggers {
		k, ok := c.ObservationKind(t.Kind)
		if !ok {
			continue
		}
		for _, g := range k.Grade {
			cg := CapGrade(&v, t.Kind, g.Grade)
			if !slices.Contains(out[t.Kind], cg) {
				out[t.Kind] = append(out[t.Kind], cg)
			}
		}
	}
	return out
}

func TestCaveatsDoNotContradictTitles(t *testing.T) {
	c := mustDefault(t)
	for _, v := range c.Violations() {
		if v.Check.Mode != ModeAutomated {
			continue
		}
		cav := v.Caveat.ZH + " " + v.Caveat.EN
		if !notProof.MatchString(cav) {
			continue
		}
		for kind, grades := range gradesOf(c, v) {
			for _, g := range grades {
				sent := g != GradeObserved
				tier := TierOf(&v, g)
				title := v.TitleFor(tier)
				texts := map[string]string{"title (" + tier + ") zh": title.ZH, "title (" + tier + ") en": title.EN}
				for i, s := range v.Summaries {
					if (s.Kind == kind || s.Kind == "*") && (s.Grade == "" || s.Grade == g) {
						texts["summary "+strings.Repeat("#", i+1)+" zh"] = s.ZH
						texts["summary "+strings.Repeat("#", i+1)+" en"] = s.EN
					}
				}
				for where, text := range texts {
					if acts := assertedActs(text, sent); len(acts) > 0 {
						t.Errorf("%s (%s at grade %s): %s states %q as fact, but the caveat says the evidence is not proof (%q)\n\t%s",
							v.ID, kind, g, where, acts, notProof.FindString(cav), text)
					}
				}
			}
		}
	}
}

func TestAssertedActs(t *testing.T) {
	for text, want := range map[string]int{
		"SDK 已收集设备标识":                     1,
		"代码可读取个人信息（待核实是否实际收集）":            0,
		"需在测试机上核实是否实际读取":                  0,
		"The SDK collects the IMEI":       1,
		"check whether it collects":       0,
		"documented to collect the IMEI":  0,
		"PI collected in breach of rules": 1,
		"PI sent before consent":          1,
		"confirm that PI is sent":         0,
	} {
		if got := len(assertedActs(text, true)); got != want {
			t.Errorf("%q: %d asserted acts %v, want %d", text, got, assertedActs(text, true), want)
		}
	}
}
