package assess

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pilmon/findings"
	"pilmon/miniprogram"
	"pilmon/scanner"
)

// mpScan inspects a generated mini-program folder (app.json from perms and required, one page
// calling wx.getLocation and nothing of the privacy-authorisation flow) and assesses it at asOf.
func mpScan(t *testing.T, perms map[string]string, required []string, asOf time.Time) []findings.Finding {
	t.Helper()
	dir := t.TempDir()
	app := map[string]any{"pages": []string{"pages/index/index"}}
	if perms != nil {
		p := map[string]any{}
		for scope, desc := range perms {
			p[scope] = map[string]string{"desc": desc}
		}
		app["permission"] = p
	}
	if required != nil {
		app["requiredPrivateInfos"] = required
	}
	b, err := json.Marshal(app)
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{
		"app.json":             b,
		"pages/index/index.js": []byte("Page({onShow() {\n  wx.getLocation({type: 'gcj02', success: (r) => this.setData(r)});\n}});"),
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := quietAssessor(t)
	src := scanner.Source{Kind: scanner.SourceMPDir, Locator: dir}
	rep := scanner.InspectSource(context.Background(), miniprogram.New(a.Catalogue(), miniprogram.Options{}), src, nil)
	if rep.Status != scanner.StatusSucceeded {
		t.Fatalf("%s %v", rep.Status, rep.Errors)
	}
	tg := scanner.Target{ID: "mp:fixture", Kind: scanner.TargetMiniProgram, Name: "fixture", Sources: []scanner.Source{src}}
	return a.Assess(tg, "scan-mp", rep.Observations, asOf)
}

// undeclaredClaims are the records that say a use is undeclared.
func undeclaredClaims(fs []findings.Finding) []string {
	var out []string
	for _, f := range fs {
		text := f.Summary.ZH + f.Summary.EN
		if f.RuleID == "mp-undeclared-private-api" || strings.Contains(text, "未声明") || strings.Contains(text, "does not declare") || strings.Contains(text, "undeclared") {
			out = append(out, f.RuleID+": "+f.Summary.EN)
		}
	}
	return out
}

// A location use explained in permission.scope.userLocation is declared: no record says otherwise,
// with or without requiredPrivateInfos. With neither declaration the record is raised, cites the
// wechat_mp item as its anchor and says the rule is a platform rule.
func TestMiniProgramDeclaredIsDeclared(t *testing.T) {
	now := time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC)
	for name, c := range map[string]struct {
		perms    map[string]string
		required []string
	}{
		"permission reason":    {map[string]string{"scope.userLocation": "用于查找附近门店"}, nil},
		"requiredPrivateInfos": {nil, []string{"getLocation"}},
		"both":                 {map[string]string{"scope.userLocation": "用于查找附近门店"}, []string{"getLocation"}},
	} {
		t.Run(name, func(t *testing.T) {
			if got := undeclaredClaims(mpScan(t, c.perms, c.required, now)); len(got) > 0 {
				t.Errorf("a declared use is called undeclared: %v", got)
			}
		})
	}
	t.Run("neither", func(t *testing.T) {
		f, ok := byRule(mpScan(t, nil, nil, now), "mp-undeclared-private-api")
		if !ok {
			t.Fatal("an undeclared wx.getLocation raised no mp-undeclared-private-api")
		}
		if f.LegalBasis[0].Instrument != "wechat_mp" || f.LegalBasis[0].Article != "requiredPrivateInfos" || f.LegalBasis[0].Level != "platform_rule" {
			t.Errorf("anchor %+v", f.LegalBasis[0])
		}
		if !strings.Contains(f.Summary.ZH, "平台规则") || !strings.Contains(f.Summary.EN, "platform rule") {
			t.Errorf("summary does not say platform rule: %s / %s", f.Summary.ZH, f.Summary.EN)
		}
		if strings.Contains(f.Summary.ZH, "实际取得") {
			t.Errorf("summary asserts the data was obtained: %s", f.Summary.ZH)
		}
	})
}

// A platform rule is cited from its start date: before 2022-07-14 no requiredPrivateInfos record,
// before 2023-09-15 no privacy-authorisation record; after both, both.
func TestMiniProgramPlatformRuleStartDates(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d.Add(12 * time.Hour) }
	for _, c := range []struct {
		asOf              string
		undeclared, check bool
	}{
		{"2022-07-13", false, false},
		{"2022-07-14", true, false},
		{"2023-09-14", true, false},
		{"2023-09-15", true, true},
		{"2025-01-10", true, true},
	} {
		fs := mpScan(t, nil, nil, day(c.asOf))
		_, u := byRule(fs, "mp-undeclared-private-api")
		p, k := byRule(fs, "mp-privacy-check-missing")
		if u != c.undeclared || k != c.check {
			t.Errorf("as_of %s: mp-undeclared-private-api %v (want %v), mp-privacy-check-missing %v (want %v)", c.asOf, u, c.undeclared, k, c.check)
		}
		if k && (p.LegalBasis[0].Instrument != "wechat_mp" || p.LegalBasis[0].Article != "privacy-authorization") {
			t.Errorf("as_of %s: privacy check anchor %+v", c.asOf, p.LegalBasis[0])
		}
	}
}
