package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"pilmon/findings"
	"pilmon/rules"
	"pilmon/store"
)

// An analyst's 存在问题 on a checklist item is a fact established on a test phone: it becomes a
// finding through the normal upsert, so that it is listed, triaged and exported like any other.

// manualFinding builds the finding an analyst's violation result makes, or refuses it with the
// reason the analyst is shown: the result needs what was seen (the note) and at least one piece
// of uploaded evidence, and the rule's anchor must be in force today.
func (s *Server) manualFinding(target string, v rules.Violation, e store.ChecklistEntry, now time.Time) (findings.Finding, error) {
	if e.Note == "" {
		return findings.Finding{}, uerr(http.StatusBadRequest, "checklist.refused.note")
	}
	if len(e.Evidence) == 0 {
		return findings.Finding{}, uerr(http.StatusBadRequest, "checklist.refused.evidence")
	}
	basis, _, ok := s.cat.BasisAt(v.LegalBasis, now)
	if !ok {
		return findings.Finding{}, uerr(http.StatusBadRequest, "checklist.refused.law")
	}
	at := now.In(Shanghai).Format("2006-01-02 15:04:05")
	subject := findings.ManualSubjectPrefix + v.ID
	return findings.Finding{
		Fingerprint: findings.Fingerprint(target, v.ID, subject),
		TargetID:    target, RuleID: v.ID, RuleVersion: v.Version, Subject: subject,
		Severity: v.Severity, Tier: rules.TierFinding, Grade: rules.GradeObserved,
		LegalBasis: basis, AsOf: now.UTC(), AsOfSource: findings.AsOfAnalyst,
		Summary: rules.Text{
			ZH: fmt.Sprintf("分析人员 %s 于 %s（北京时间）在测试机上按检查步骤确认：%s。所见：%s", e.By, at, v.Title.ZH, e.Note),
			EN: fmt.Sprintf("Analyst %s confirmed on a test phone at %s (UTC+8), following the check's steps: %s. Seen: %s", e.By, at, firstText(v.Title.EN, v.Title.ZH), e.Note),
		},
		Caveat:           v.Caveat,
		ConfidenceReason: rules.Text{ZH: "分析人员人工检测结果，附上传的截图或录屏", EN: "the analyst's manual test result, with the uploaded screenshots or recordings"},
		EvidenceRefs:     slices.Clone(e.Evidence),
		FirstSeen:        now.UTC(), LastSeen: now.UTC(),
		State: findings.StateNew,
	}, nil
}

func firstText(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// recordViolation stores the finding of a violation result; it returns its fingerprint.
func (s *Server) recordViolation(ctx context.Context, target string, v rules.Violation, e store.ChecklistEntry, now time.Time) (string, error) {
	f, err := s.manualFinding(target, v, e, now)
	if err != nil {
		return "", err
	}
	if _, err := s.st.Upsert(ctx, f, store.ManualScanID(now)); err != nil {
		return "", err
	}
	return f.Fingerprint, nil
}

// Checklist filters: by status (an analyst's result, or what the automated check found) and by
// how an item is checked.
const (
	checkFound = "auto_found" // automated, with findings
	checkClear = "auto_clear" // automated, none
)

var checkStatuses = []string{ResultViolation, ResultCompliant, ResultNotApplies, ResultUntested, checkFound, checkClear}

// itemStatus is the status the filter and the summary count an item under.
func itemStatus(it checkItem) string {
	switch {
	case it.Has:
		return it.Entry.Result
	case !it.Manual && it.Findings > 0:
		return checkFound
	case !it.Manual:
		return checkClear
	}
	return ResultUntested
}
