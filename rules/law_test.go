package rules

import (
	"strings"
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

func defaultCatalogue(t *testing.T) *Catalogue {
	t.Helper()
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEveryInstrumentHasALevelAndDates(t *testing.T) {
	c := defaultCatalogue(t)
	want := map[string]string{
		"pipl": LevelLaw, "csl": LevelLaw, "rdff2019": LevelNormativeDocument, "npi2021": LevelNormativeDocument,
		"gbt35273": LevelRecommendedStandard, "gbt41391": LevelRecommendedStandard, "gbt42574": LevelRecommendedStandard,
		"gbt45574": LevelRecommendedStandard, "ndsr2024": LevelAdminRegulation, "minors_net": LevelAdminRegulation,
		"pipaudit2025": LevelDepartmentalRule, "cac_app_pi_draft2026": LevelDraft, "wechat_mp": LevelPlatformRule,
	}
	for id, lvl := range want {
		in, ok := c.Instrument(id)
		if !ok || in.Level != lvl {
			t.Errorf("instrument %s: level %q, want %q", id, in.Level, lvl)
		}
	}
	for _, in := range c.Instruments() {
		if _, _, ok := in.Span(); ok == (in.Level == LevelDraft) {
			t.Errorf("instrument %s (%s): in force = %v", in.ID, in.Level, ok)
		}
	}
}

// A document dated before the PIPL took effect (2021-11-01) cites no PIPL article; one dated on
// that day does.
func TestPIPLNotCitedBeforeItsEffectiveDate(t *testing.T) {
	c := defaultCatalogue(t)
	basis := []Citation{{Instrument: "rdff2019", Article: "3.1"}, {Instrument: "pipl", Article: "13"}, {Instrument: "csl", Article: "41", Version: "2017"}}
	out, dropped, ok := c.BasisAt(basis, day("2021-10-31"))
	if !ok || len(out) != 2 || len(dropped) != 1 || dropped[0].Instrument != "pipl" {
		t.Fatalf("2021-10-31: basis %v dropped %v anchor %v; want PIPL dropped", out, dropped, ok)
	}
	for _, cit := range out {
		if cit.Instrument == "pipl" {
			t.Errorf("2021-10-31 cites %s", cit)
		}
	}
	// Beijing midnight: 2021-10-31T16:00Z is already 2021-11-01 in China.
	for _, at := range []time.Time{day("2021-11-01"), time.Date(2021, 10, 31, 16, 0, 0, 0, time.UTC)} {
		out, _, _ = c.BasisAt(basis, at)
		if len(out) != 3 {
			t.Errorf("%s: basis %v, want the PIPL cited", at, out)
		}
	}
	// PIPL anchored: not in force, so no finding may be pleaded on it.
	if _, _, ok := c.BasisAt([]Citation{{Instrument: "pipl", Article: "17"}}, day("2021-10-31")); ok {
		t.Error("PIPL anchor in force on 2021-10-31")
	}
	if _, _, ok := c.BasisAt([]Citation{{Instrument: "pipl", Article: "17"}}, day("2021-11-01")); !ok {
		t.Error("PIPL anchor not in force on 2021-11-01")
	}
}

// The Cybersecurity Law's PI articles were renumbered from 2026-01-01: a citation of either
// numbering resolves to the one in force.
func TestCSLArticlesDifferBeforeAndAfter2026(t *testing.T) {
	c := defaultCatalogue(t)
	for _, tc := range []struct {
		cit       Citation
		at        string
		wantNo    string
		wantVer   string
		wantLabel string
	}{
		{Citation{Instrument: "csl", Article: "41", Version: "2017"}, "2025-12-31", "41", "2017", "《中华人民共和国网络安全法》第41条（2017年文本）"},
		{Citation{Instrument: "csl", Article: "41", Version: "2017"}, "2026-01-01", "43", "2026", "《中华人民共和国网络安全法》第43条（2026年文本）"},
		{Citation{Instrument: "csl", Article: "43", Version: "2026"}, "2025-06-01", "41", "2017", ""},
		{Citation{Instrument: "csl", Article: "43", Version: "2017"}, "2026-03-01", "45", "2026", ""},
		{Citation{Instrument: "csl", Article: "40", Version: "2017"}, "2026-01-01", "42", "2026", ""},
		{Citation{Instrument: "csl", Article: "59", Version: "2017"}, "2026-01-01", "61", "2026", ""},
		{Citation{Instrument: "csl", Article: "64", Version: "2017"}, "2027-01-01", "66", "2026", ""},
	} {
		got, ok := c.InForceAt(tc.cit, day(tc.at))
		if !ok || got.Article != tc.wantNo || got.Version != tc.wantVer || got.Level != LevelLaw {
			t.Errorf("%s at %s = %+v %v, want %s@%s", tc.cit, tc.at, got, ok, tc.wantNo, tc.wantVer)
		}
		if tc.wantLabel != "" {
			if l := c.CiteLabel(got, "zh"); l != tc.wantLabel {
				t.Errorf("label %q, want %q", l, tc.wantLabel)
			}
		}
	}
	if _, ok := c.InForceAt(Citation{Instrument: "csl", Article: "41", Version: "2017"}, day("2017-05-31")); ok {
		t.Error("CSL in force before 2017-06-01")
	}
	// The derived numbers carry their unverified mark.
	for _, no := range []string{"43", "44", "45", "66"} {
		a, _ := c.Article(Citation{Instrument: "csl", Article: no, Version: "2026"})
		if !strings.Contains(a.Verification, "unverified") {
			t.Errorf("csl %s@2026 verification %q lacks the unverified mark", no, a.Verification)
		}
	}
}

func TestBasisOrderAnchorFirstThenByLevel(t *testing.T) {
	c := defaultCatalogue(t)
	basis := []Citation{{Instrument: "rdff2019", Article: "3.1"}, {Instrument: "gbt41391", Article: "6.6"}, {Instrument: "pipl", Article: "13"},
		{Instrument: "ndsr2024", Article: "22"}, {Instrument: "csl", Article: "41", Version: "2017"}}
	out, _, ok := c.BasisAt(basis, day("2025-06-01"))
	var got []string
	for _, x := range out {
		got = append(got, x.Instrument+"/"+x.Level)
	}
	want := "rdff2019/normative_document pipl/law csl/law ndsr2024/administrative_regulation gbt41391/recommended_standard"
	if !ok || strings.Join(got, " ") != want {
		t.Errorf("order %v, want %s", got, want)
	}
	// before the regulation took effect it is dropped, the anchor stays first
	out, dropped, _ := c.BasisAt(basis, day("2024-12-31"))
	if out[0].Instrument != "rdff2019" || len(dropped) != 1 || dropped[0].Instrument != "ndsr2024" {
		t.Errorf("2024-12-31: %v dropped %v", out, dropped)
	}
}

func TestDraftCannotBeALegalBasis(t *testing.T) {
	m := copyFS(t)
	line := replaceOnce(t, m, FileViolations, `["wechat_mp:requiredPrivateInfos", "pipl:7"]`, `["wechat_mp:requiredPrivateInfos", "pipl:7", "cac_app_pi_draft2026:38"]`)
	_, err := Load(m)
	wantProblem(t, err, "violations.yaml:"+itoa(line)+": violation mp-undeclared-private-api cites cac_app_pi_draft2026:38, a draft for comment")
	// the same rule citing the platform rule loads (the positive case is the embedded catalogue)
	if _, err := Load(copyFS(t)); err != nil {
		t.Fatal(err)
	}
}

func TestInstrumentValidation(t *testing.T) {
	for name, tc := range map[string]struct{ old, new, want string }{
		"unknown level":        {`    level: departmental_rule`, `    level: rule`, `level "rule" is not one of`},
		"bad date":             {`    effective: "2025-05-01"`, `    effective: "2025-5-1"`, `effective "2025-5-1" is not a date`},
		"unordered in force":   {`in_force: {from: "2023-09-15"}`, `in_force: {from: "2023-09-15", to: "2023-01-01"}`, "in_force.to 2023-01-01 is before in_force.from"},
		"overlapping versions": {`in_force: {to: "2025-12-31"}`, `in_force: {to: "2026-06-30"}`, "the article it replaces (40@2017)"},
		"ambiguous citation":   {`"csl:42@2017"`, `"csl:42"`, "exists in 2 versions"},
		"unknown article":      {`"pipl:17", "pipl:7", "rdff2019:1.1"`, `"pipl:17", "pipl:7", "rdff2019:1.9"`, "cites unknown article rdff2019:1.9"},
	} {
		t.Run(name, func(t *testing.T) {
			m := copyFS(t)
			file := FileInstruments
			if strings.HasPrefix(tc.old, `"`) {
				file = FileViolations
			}
			replaceOnce(t, m, file, tc.old, tc.new)
			_, err := Load(m)
			wantProblem(t, err, tc.want)
		})
	}
}

// Recommended standards are labelled 参考 / for reference wherever citations are shown; laws are
// not.
func TestRecommendedStandardLabelledForReference(t *testing.T) {
	c := defaultCatalogue(t)
	std := Citation{Instrument: "gbt35273", Article: "5.4"}
	if l := c.CiteLabel(std, "zh"); !strings.HasSuffix(l, "（参考）") || !strings.Contains(l, "GB/T 35273-2020") {
		t.Errorf("zh label %q", l)
	}
	if l := c.CiteLabel(std, "en"); !strings.HasSuffix(l, "(for reference)") || !strings.Contains(l, "cl. 5.4") {
		t.Errorf("en label %q", l)
	}
	for _, cit := range []Citation{{Instrument: "pipl", Article: "17"}, {Instrument: "ndsr2024", Article: "21"}, {Instrument: "rdff2019", Article: "3.1"}} {
		if l := c.CiteLabel(cit, "zh") + c.CiteLabel(cit, "en"); strings.Contains(l, "参考") || strings.Contains(l, "reference") {
			t.Errorf("%s labelled for reference: %q", cit, l)
		}
	}
	if l := c.CiteLabel(Citation{Instrument: "pipl", Article: "17"}, "zh"); l != "《中华人民共和国个人信息保护法》第17条" {
		t.Errorf("pipl label %q", l)
	}
	if l := c.CiteLabel(Citation{Instrument: "wechat_mp", Article: "requiredPrivateInfos"}, "en"); !strings.HasSuffix(l, "(platform rule)") {
		t.Errorf("platform rule label %q", l)
	}
}
