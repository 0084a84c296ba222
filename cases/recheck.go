package cases

// Outcome is what 整改复查 says of one finding.
type Outcome string

const (
	OutcomeStill   Outcome = "still"   // 仍存在: the re-scan raised it again
	OutcomeGone    Outcome = "gone"    // 已消失: the baseline raised it, a complete re-scan did not
	OutcomeUnknown Outcome = "unknown" // 无法判断: see the reason
	OutcomePending Outcome = "pending" // the re-scan has not finished
	OutcomeFailed  Outcome = "failed"  // 复查失败: the re-scan ended without reading any source
)

// ScanView is what the comparison needs of one scan record (store.ScanRecord).
type ScanView struct {
	ID           string
	Found        bool // a record exists (the scan finished)
	Complete     bool // every source succeeded
	Fingerprints []string
	// Failed says why the scan failed as a whole: its job was dead-lettered (no record will
	// come), or its record shows that no source was read. "" when it did not fail.
	Failed string
}

// Check is the outcome for one finding, with why.
type Check struct {
	Fingerprint string  `json:"fingerprint"`
	Outcome     Outcome `json:"outcome"`
	// Reason names why the outcome is unknown, in Chinese and English.
	ReasonZH string `json:"reason_zh,omitempty"`
	ReasonEN string `json:"reason_en,omitempty"`
	// InBaseline and InRecheck say what each scan raised: the two pieces of evidence.
	InBaseline bool `json:"in_baseline"`
	InRecheck  bool `json:"in_recheck"`
}

// Compare tells, for each finding fps, whether the re-scan still shows it against the baseline
// scan (the one current at the 检察建议). Absence proves something only when the baseline raised
// the finding by scan and the re-scan read every source: a finding from a manual result or an
// uploaded capture the re-scan did not repeat, or a re-scan with a failed source, gives 无法判断.
func Compare(fps []string, baseline, recheck ScanView) []Check {
	inBase := set(baseline.Fingerprints)
	inNew := set(recheck.Fingerprints)
	out := make([]Check, 0, len(fps))
	for _, fp := range fps {
		c := Check{Fingerprint: fp, InBaseline: inBase[fp], InRecheck: inNew[fp]}
		switch {
		case recheck.Failed != "":
			// A failed re-scan says nothing of any finding; the case shows why and offers to run
			// it again instead of waiting for a record that will not come.
			c.Outcome, c.ReasonZH, c.ReasonEN = OutcomeFailed, "复查扫描失败："+recheck.Failed, "the re-scan failed: "+recheck.Failed
		case !recheck.Found:
			c.Outcome = OutcomePending
		case c.InRecheck:
			c.Outcome = OutcomeStill
		case !baseline.Found:
			c.Outcome, c.ReasonZH, c.ReasonEN = OutcomeUnknown, "检察建议时无扫描记录可供对照", "no scan was recorded at the recommendation to compare with"
		case !c.InBaseline:
			c.Outcome, c.ReasonZH, c.ReasonEN = OutcomeUnknown, "对照扫描未发现该问题（来自人工检测或其他来源），复查扫描未出现不能证明已整改", "the baseline scan did not raise it (manual or other source); its absence now proves nothing"
		case !recheck.Complete:
			c.Outcome, c.ReasonZH, c.ReasonEN = OutcomeUnknown, "复查扫描有来源未成功，未出现不能证明已整改", "a source of the re-scan failed; absence proves nothing"
		default:
			c.Outcome = OutcomeGone
		}
		out = append(out, c)
	}
	return out
}

func set(ss []string) map[string]bool {
	m := make(map[string]bool, len(ss))
	for _, s := range ss {
		m[s] = true
	}
	return m
}

// Label names an outcome in Chinese and English.
func (o Outcome) Label() (zh, en string) {
	switch o {
	case OutcomeStill:
		return "仍存在", "Still present"
	case OutcomeGone:
		return "已消失", "Gone"
	case OutcomeUnknown:
		return "无法判断", "Cannot tell"
	case OutcomePending:
		return "复查中", "Re-scan running"
	case OutcomeFailed:
		return "复查失败", "Re-scan failed"
	}
	return string(o), string(o)
}
