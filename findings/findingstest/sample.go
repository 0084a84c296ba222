// Package findingstest holds a realistic finding for the tests of the model and of the store.
package findingstest

import (
	"time"

	"pilmon/findings"
	"pilmon/rules"
	"pilmon/scanner"
)

// T0 is the fixed time the samples are seen at.
var T0 = time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)

// Sample is a finding of realistic size and shape.
func Sample(target, rule, subject string) findings.Finding {
	return findings.Finding{
		TargetID:    target,
		RuleID:      rule,
		RuleVersion: 2,
		Subject:     subject,
		Severity:    "high",
		LegalBasis:  []rules.Citation{{Instrument: "rdff2019", Article: "3.1", Level: "normative_document"}, {Instrument: "pipl", Article: "17", Level: "law"}},
		AsOf:        T0,
		AsOfSource:  findings.AsOfScan,
		Summary: rules.Text{
			ZH: "应用在用户同意隐私政策前调用 TelephonyManager.getDeviceId 读取设备标识符（IMEI），属于未经同意收集个人信息。",
			EN: "The app reads the device identifier (IMEI) through TelephonyManager.getDeviceId before the user agrees to the privacy policy.",
		},
		Caveat: rules.Text{
			ZH: "静态分析无法确定调用发生的时机，需在测试机上确认。",
			EN: "Static analysis cannot tell when the call happens; confirm on a test phone.",
		},
		Observations: []scanner.Observation{
			{Kind: "apk.sensitive_api", Subject: "telephony.getDeviceId@com.umeng.commonsdk.internal.utils.d",
				Attributes:   map[string]any{"api": "telephony.getDeviceId", "caller_class": "com.umeng.commonsdk.internal.utils.d", "pi": []any{"device_id"}, "sdk": "umeng_analytics"},
				EvidenceRefs: []string{"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}, Inspector: "apkinspect", InspectorVersion: "0.3.0"},
			{Kind: "apk.permission", Subject: "android.permission.READ_PHONE_STATE",
				Attributes:   map[string]any{"pi": []any{"device_id", "phone_number"}, "protection_level": "dangerous", "max_sdk": float64(0)},
				EvidenceRefs: []string{"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}, Inspector: "apkinspect", InspectorVersion: "0.3.0"},
		},
		EvidenceRefs: []string{"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
		LastSeen:     T0,
	}
}

// Golden is the finding of the canonical-JSON golden file: times in another zone, references
// and observations out of order with duplicates, text that JSON would escape.
func Golden() findings.Finding {
	f := Sample("app:com.example.快递", "rdff-3.1", "telephony.getDeviceId")
	f.Fingerprint = findings.Fingerprint(f.TargetID, f.RuleID, f.Subject)
	f.Summary.ZH = "在同意前收集 IMEI <script>&amp; “引号”"
	shanghai := time.FixedZone("CST", 8*3600)
	f.FirstSeen = time.Date(2025, 1, 2, 11, 4, 5, 0, shanghai)
	f.LastSeen = time.Date(2025, 3, 14, 17, 26, 53, 589793238, shanghai)
	f.AsOf = time.Date(2025, 3, 1, 0, 0, 0, 0, shanghai) // another zone: written in UTC
	f.AsOfSource = findings.AsOfDocument
	f.LastScanID = "scan-20250314-0001"
	f.State = findings.StateInReview
	f.EvidenceRefs = []string{"ffff", "0000", "abcd", "0000"}
	// Out of order on purpose, with a duplicate.
	f.Observations = append([]scanner.Observation{f.Observations[1], f.Observations[0]}, f.Observations[1])
	f.Observations[1].EvidenceRefs = []string{"b", "a", "b"}
	return f
}
