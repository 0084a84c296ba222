package cases

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// bj is a Beijing wall-clock time, the clock every test injects.
func bj(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, Beijing)
	if err != nil {
		panic(err)
	}
	return t
}

const (
	fp1 = "0123456789abcdef0123456789abcdef"
	fp2 = "fedcba9876543210fedcba9876543210"
)

func adminFields() Fields {
	return Fields{CaseNo: "京检行公建〔2026〕1号", Type: Administrative, Handler: "王检察官",
		Operator: Operator{Name: "深圳市腾讯计算机系统有限公司", USCC: "91440300708461136T", Address: "深圳市南山区"},
		Agency:   Agency{Name: "某市通信管理局", DutyBasis: "个人信息保护法第六十条"},
		Scale:    Scale{Downloads: 1200000, Source: "应用商店页面截图"}, TargetID: "app.demo"}
}

func TestUSCC(t *testing.T) {
	// Real codes of companies (as published on their sites and in the national enterprise credit
	// system) pass; one changed character, a forbidden letter or a wrong length fails.
	for _, ok := range []string{"91440300708461136T", "91110108551385082Q", "91350100M000100Y43"} {
		if err := CheckUSCC(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"91440300708461136X", "91440300708461137T", "9144030070846113I6", "9144030070846113", "91440300708461136t", ""} {
		if err := CheckUSCC(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestFieldsValidate(t *testing.T) {
	if err := adminFields().Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(*Fields){
		"no case number":        func(f *Fields) { f.CaseNo = " " },
		"unknown type":          func(f *Fields) { f.Type = "criminal" },
		"bad uscc":              func(f *Fields) { f.Operator.USCC = "91440300708461136X" },
		"admin without agency":  func(f *Fields) { f.Agency = Agency{} },
		"figure without source": func(f *Fields) { f.Scale.Source = "" },
		"negative users":        func(f *Fields) { f.Scale.Users = -1 },
		"control char":          func(f *Fields) { f.Handler = "a\x00b" },
		"too long":              func(f *Fields) { f.CaseNo = strings.Repeat("号", 100) },
	}
	for name, mut := range cases {
		f := adminFields()
		mut(&f)
		if err := f.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// The civil track goes against the handler: no agency needed.
	f := adminFields()
	f.Type, f.Agency = Civil, Agency{}
	if err := f.Validate(); err != nil {
		t.Errorf("civil without agency: %v", err)
	}
}

func mustNew(t *testing.T, f Fields) Case {
	t.Helper()
	c, evs, err := New(f, []string{fp1}, "", "pat", bj("2026-03-01 10:00"))
	if err != nil {
		t.Fatal(err)
	}
	if c.State != StateFiled || len(evs) != 2 || evs[1].Kind != EventJoined || !c.HasFinding(fp1) {
		t.Fatalf("new case: %+v %+v", c, evs)
	}
	c.ID = "case-1"
	return c
}

func TestAdministrativePath(t *testing.T) {
	p := DefaultPolicy
	c := mustNew(t, adminFields())
	// 起诉 straight after filing is not on the path.
	var ill *IllegalMoveError
	if _, err := c.Move(StateSuit, MoveInput{Number: "n", Date: "2026-03-02"}, "pat", p, bj("2026-03-02 10:00")); !errors.As(err, &ill) {
		t.Fatalf("suit from filed: %v", err)
	}
	// The 检察建议 needs its number and date.
	if _, err := c.Move(StateRecommendation, MoveInput{}, "pat", p, bj("2026-03-02 10:00")); err == nil {
		t.Fatal("recommendation without a document accepted")
	}
	// A future date is refused.
	if _, err := c.Move(StateRecommendation, MoveInput{Number: "n", Date: "2026-03-03"}, "pat", p, bj("2026-03-02 10:00")); err == nil {
		t.Fatal("future document date accepted")
	}
	ev, err := c.Move(StateRecommendation, MoveInput{Number: "京检行公建〔2026〕1号", Date: "2026-03-02", BaselineScan: "scan-1"}, "pat", p, bj("2026-03-02 10:00"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Document == nil || ev.Document.Number != "京检行公建〔2026〕1号" || c.BaselineScan != "scan-1" || ev.Scan != "scan-1" {
		t.Fatalf("event %+v, baseline %q", ev, c.BaselineScan)
	}
	// The reply deadline: two months from 03-02 is 05-02.
	ds := c.Deadlines(p, bj("2026-03-02 10:00"))
	if len(ds) != 1 || ds[0].Kind != DeadlineReply || ds[0].Due != "2026-05-02" || ds[0].Status != StatusOpen || !ds[0].Pending {
		t.Fatalf("deadlines %+v", ds)
	}
	// 未整改 three days early: refused with the warning, then refused without a reason, then
	// accepted with both.
	early := bj("2026-04-29 09:00")
	var ew *EarlyStepError
	if _, err := c.Move(StateNotRectified, MoveInput{}, "pat", p, early); !errors.As(err, &ew) || ew.DaysLeft != 3 {
		t.Fatalf("early not_rectified: %v", err)
	}
	if _, err := c.Move(StateNotRectified, MoveInput{Confirm: true}, "pat", p, early); !errors.As(err, &ew) {
		t.Fatalf("early not_rectified without reason: %v", err)
	}
	cp := c
	cp.Documents = append([]Document(nil), c.Documents...)
	ev, err = cp.Move(StateNotRectified, MoveInput{Confirm: true, Reason: "被建议单位书面表示不予整改"}, "pat", p, early)
	if err != nil || !ev.Early || cp.State != StateNotRectified {
		t.Fatalf("confirmed early step: %v %+v", err, ev)
	}
	// The ordinary path: the reply, then rectified, then closed with a reason.
	if _, err := c.Move(StateReplied, MoveInput{Date: "2026-04-20"}, "pat", p, bj("2026-04-21 09:00")); err != nil {
		t.Fatal(err)
	}
	ds = c.Deadlines(p, bj("2026-06-01 09:00"))
	if ds[0].Status != StatusMet || ds[0].MetOn != "2026-04-20" || ds[0].Pending {
		t.Fatalf("reply deadline after the reply: %+v", ds[0])
	}
	if _, err := c.Move(StateRectified, MoveInput{}, "pat", p, bj("2026-05-10 09:00")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Move(StateClosed, MoveInput{}, "pat", p, bj("2026-05-11 09:00")); err == nil {
		t.Fatal("closed without a reason")
	}
	if _, err := c.Move(StateClosed, MoveInput{Reason: "经检察建议已整改"}, "pat", p, bj("2026-05-11 09:00")); err != nil || c.CloseReason == "" {
		t.Fatal(err)
	}
	if _, err := c.Join(fp2, "later", "pat", bj("2026-05-12 09:00")); err == nil {
		t.Fatal("closed case took a finding")
	}
}

func TestCivilTrackNeedsAnnouncementBeforeSuit(t *testing.T) {
	p := DefaultPolicy
	f := adminFields()
	f.Type = Civil
	c := mustNew(t, f)
	if _, err := c.Move(StateRecommendation, MoveInput{Number: "n", Date: "2026-03-02"}, "pat", p, bj("2026-03-02 10:00")); err == nil {
		t.Fatal("civil track took a 检察建议 step")
	}
	var ill *IllegalMoveError
	if _, err := c.Move(StateSuit, MoveInput{Number: "起诉书1", Date: "2026-03-02"}, "pat", p, bj("2026-03-02 10:00")); !errors.As(err, &ill) {
		t.Fatalf("suit before announcement: %v", err)
	}
	if _, err := c.Move(StateAnnounced, MoveInput{Number: "公告1", Date: "2026-03-02"}, "pat", p, bj("2026-03-02 10:00")); err != nil {
		t.Fatal(err)
	}
	ds := c.Deadlines(p, bj("2026-03-26 10:00"))
	if len(ds) != 1 || ds[0].Kind != DeadlineAnnouncement || ds[0].Due != "2026-04-01" || ds[0].Status != StatusDueSoon {
		t.Fatalf("announcement deadline %+v", ds)
	}
	var ew *EarlyStepError
	if _, err := c.Move(StateSuit, MoveInput{Number: "起诉书1", Date: "2026-03-26"}, "pat", p, bj("2026-03-26 10:00")); !errors.As(err, &ew) {
		t.Fatalf("suit during the announcement: %v", err)
	}
	if ds := c.Deadlines(p, bj("2026-04-02 00:30")); ds[0].Status != StatusOverdue || !ds[0].NeedsAttention() {
		t.Fatalf("after the period: %+v", ds[0])
	}
	if _, err := c.Move(StateSuit, MoveInput{Number: "起诉书1", Date: "2026-04-02"}, "pat", p, bj("2026-04-02 10:00")); err != nil {
		t.Fatal(err)
	}
	if ds := c.Deadlines(p, bj("2026-04-02 10:00")); ds[0].Status != StatusMet || ds[0].Pending {
		t.Fatalf("after the suit: %+v", ds[0])
	}
}

func TestDeadlineArithmeticAndPolicy(t *testing.T) {
	c := Case{ID: "c", Type: Administrative, State: StateRecommendation,
		Documents: []Document{{Step: StateRecommendation, Number: "n", Date: "2026-12-31"}}}
	// Two months from 12-31 ends on the last day of February.
	if d := c.Deadlines(DefaultPolicy, bj("2027-01-05 10:00"))[0]; d.Due != "2027-02-28" || d.Status != StatusOpen {
		t.Fatalf("%+v", d)
	}
	// Beijing days: 23:30 UTC on 02-20 is already 02-21 in Beijing, 7 days before the end.
	if d := c.Deadlines(DefaultPolicy, time.Date(2027, 2, 20, 23, 30, 0, 0, time.UTC))[0]; d.Status != StatusDueSoon || d.DaysLeft(time.Date(2027, 2, 20, 23, 30, 0, 0, time.UTC)) != 7 {
		t.Fatalf("%+v", d)
	}
	if d := c.Deadlines(DefaultPolicy, bj("2027-02-28 23:59"))[0]; d.Status != StatusDueSoon {
		t.Fatalf("last day: %+v", d)
	}
	if d := c.Deadlines(DefaultPolicy, bj("2027-03-01 00:00"))[0]; d.Status != StatusOverdue {
		t.Fatalf("day after: %+v", d)
	}
	urgent := Policy{ReplyDays: 15, AnnouncementDays: 30, DueSoonDays: 3}
	if err := urgent.Validate(); err != nil {
		t.Fatal(err)
	}
	if d := c.Deadlines(urgent, bj("2027-01-05 10:00"))[0]; d.Due != "2027-01-15" {
		t.Fatalf("urgent: %+v", d)
	}
	for _, bad := range []Policy{{}, {ReplyMonths: 2}, {ReplyMonths: 2, AnnouncementDays: 30, DueSoonDays: -1}, {ReplyMonths: 99, AnnouncementDays: 30}} {
		if bad.Validate() == nil {
			t.Errorf("policy %+v accepted", bad)
		}
	}
	// No dated document, no deadline.
	if ds := (&Case{State: StateFiled}).Deadlines(DefaultPolicy, bj("2027-01-05 10:00")); len(ds) != 0 {
		t.Fatalf("%+v", ds)
	}
}

func TestNeedingAttention(t *testing.T) {
	mk := func(id, date string) Case {
		return Case{ID: id, Type: Administrative, State: StateRecommendation, Documents: []Document{{Step: StateRecommendation, Number: id, Date: date}}}
	}
	now := bj("2026-06-01 10:00")
	got := NeedingAttention([]Case{mk("open", "2026-05-20"), mk("soon", "2026-04-05"), mk("late", "2026-03-01")}, DefaultPolicy, now)
	if len(got) != 2 || got[0].Case.ID != "late" || got[1].Case.ID != "soon" {
		t.Fatalf("%+v", got)
	}
	if w := WorstStatus(mk("x", "2026-03-01").Deadlines(DefaultPolicy, now)); w != StatusOverdue {
		t.Fatal(w)
	}
}

func TestJoinLeave(t *testing.T) {
	c := mustNew(t, adminFields())
	now := bj("2026-03-01 11:00")
	if _, err := c.Join(fp1, "again", "pat", now); err == nil {
		t.Fatal("joined twice")
	}
	if _, err := c.Join("not-a-fingerprint", "r", "pat", now); err == nil {
		t.Fatal("bad fingerprint joined")
	}
	if _, err := c.Join(fp2, "", "pat", now); err == nil {
		t.Fatal("joined without a reason")
	}
	if _, err := c.Join(fp2, "同一运营者的后续扫描", "pat", now); err != nil {
		t.Fatal(err)
	}
	ev, err := c.Leave(fp1, "误报", "pat", now)
	if err != nil || ev.Kind != EventLeft || c.HasFinding(fp1) || !c.HasFinding(fp2) {
		t.Fatalf("%v %+v", err, c.Findings)
	}
	if _, err := c.Leave(fp1, "误报", "pat", now); err == nil {
		t.Fatal("left twice")
	}
}

func TestFindingStateMapping(t *testing.T) {
	for _, s := range AllStates {
		fs, ok := FindingState(s)
		if s == StateReplied {
			if ok {
				t.Errorf("replied maps to %s", fs)
			}
			continue
		}
		if !ok || !fs.Valid() || string(fs) != string(s) {
			t.Errorf("%s → %s %v", s, fs, ok)
		}
	}
}

func TestCompare(t *testing.T) {
	const fp3 = "00000000000000000000000000000003"
	base := ScanView{ID: "a", Found: true, Complete: true, Fingerprints: []string{fp1, fp2}}
	re := ScanView{ID: "b", Found: true, Complete: true, Fingerprints: []string{fp1}}
	got := Compare([]string{fp1, fp2, fp3}, base, re)
	want := []Outcome{OutcomeStill, OutcomeGone, OutcomeUnknown}
	for i, c := range got {
		if c.Outcome != want[i] {
			t.Errorf("%s: %s, want %s", c.Fingerprint, c.Outcome, want[i])
		}
	}
	re.Complete = false
	if c := Compare([]string{fp2}, base, re)[0]; c.Outcome != OutcomeUnknown || c.ReasonZH == "" {
		t.Errorf("incomplete re-scan: %+v", c)
	}
	if c := Compare([]string{fp1}, base, ScanView{ID: "b"})[0]; c.Outcome != OutcomePending {
		t.Errorf("unfinished: %+v", c)
	}
	if c := Compare([]string{fp2}, ScanView{}, ScanView{ID: "b", Found: true, Complete: true})[0]; c.Outcome != OutcomeUnknown {
		t.Errorf("no baseline: %+v", c)
	}
	// A failed re-scan (dead-lettered, or no source read) decides nothing, with or without a
	// record, and says why.
	for _, re := range []ScanView{{ID: "b", Failed: "target not registered"}, {ID: "b", Found: true, Fingerprints: []string{fp1}, Failed: "every source failed"}} {
		c := Compare([]string{fp1}, base, re)[0]
		if zh, _ := c.Outcome.Label(); c.Outcome != OutcomeFailed || zh != "复查失败" || !strings.Contains(c.ReasonZH, re.Failed) {
			t.Errorf("failed re-scan %+v: %+v", re, c)
		}
	}
}

func TestDeadlinesOf(t *testing.T) {
	in := Case{ID: "c1", CaseNo: "n1", Type: Administrative, State: StateRecommendation,
		Findings:  []Member{{Fingerprint: fp1}},
		Documents: []Document{{Step: StateRecommendation, Number: "n", Date: "2026-03-02"}}}
	out := in
	out.ID, out.Findings = "c2", []Member{{Fingerprint: fp2}}
	got := DeadlinesOf([]Case{in, out}, fp1, DefaultPolicy, bj("2026-03-10 10:00"))
	if len(got) != 1 || got[0].CaseID != "c1" || got[0].Due != "2026-05-02" || got[0].Status != StatusOpen {
		t.Fatalf("%+v", got)
	}
	if got := DeadlinesOf([]Case{out}, fp1, DefaultPolicy, bj("2026-03-10 10:00")); len(got) != 0 {
		t.Fatalf("a case the finding is not in: %+v", got)
	}
}
