package assess

import (
	"fmt"
	"testing"

	"pilmon/scanner"
)

// benchObservations builds a large target: every catalogue permission, sensitive APIs called from
// many classes of the app and its SDKs, every SDK, traffic to SDK hosts in every phase, a policy
// with every element missing and a mini-program; n observations in all.
func benchObservations(t testing.TB, n int) []scanner.Observation {
	cat := mustCatalogue(t)
	obs := []scanner.Observation{{Kind: "scan.inventory", Subject: "bench", Attributes: map[string]any{"has_app": true, "has_policy": true, "has_traffic": true, "policy_link_found": true}}}
	add := func(kind, subject string, attrs map[string]any) {
		if len(obs) < n {
			obs = append(obs, scanner.Observation{Kind: kind, Subject: subject, Attributes: attrs, EvidenceRefs: []string{fmt.Sprintf("%064x", len(obs)%7)}, Inspector: "bench", InspectorVersion: "1"})
		}
	}
	add("apk.identity", "cn.example.bench", map[string]any{"package": "cn.example.bench", "label": "示例商城", "target_sdk": 30})
	add("policy.document", "bench.html", map[string]any{"title": "隐私政策", "is_privacy_policy": true, "chars": 9000, "language": "zh"})
	for _, e := range []string{"operator_identity", "contact", "retention_period", "account_cancellation", "sdk_list", "third_party_sharing", "minors", "separate_consent"} {
		add("policy.element", e, map[string]any{"element": e, "present": false})
	}
	add("policy.pi_declared", "phone_number", map[string]any{"pi": []string{"phone_number"}})
	for _, p := range cat.Permissions() {
		add("apk.permission", p.Name, map[string]any{"permission": p.Name, "pi": p.PI, "protection": p.Kind, "max_sdk": 0, "element": "uses-permission"})
	}
	sdks := cat.SDKs()
	for i, s := range sdks {
		if i >= 200 {
			break
		}
		add("apk.sdk", s.ID, map[string]any{"sdk": s.ID, "sdk_kind": s.Kind, "via": []string{"class_prefix"}, "pi": s.PI, "classes": 10})
	}
	apis := cat.SensitiveAPIs()
	for i := 0; len(obs) < n*7/10; i++ {
		a := apis[i%len(apis)]
		sdk, caller := "", fmt.Sprintf("cn.example.bench.c%d.C%d", i%50, i)
		if i%3 > 0 {
			s := sdks[i%len(sdks)]
			prefix := s.ID
			if len(s.ClassPrefixes) > 0 {
				prefix = s.ClassPrefixes[0]
			}
			sdk, caller = s.ID, fmt.Sprintf("%s.x%d.Y%d", prefix, i%20, i)
		}
		add("apk.sensitive_api", a.ID+" @ "+caller, map[string]any{"api": a.ID, "descriptor": "", "caller_class": caller, "caller_method": "m", "sdk": sdk, "library": "", "pi": a.PI})
	}
	phases := []string{"before_consent", "after_consent", "after_refusal", "unknown"}
	pis := []string{"device_id_hw", "device_id_resettable", "app_list", "location_precise", "phone_number", "mac_address"}
	for i := 0; len(obs) < n; i++ {
		s := sdks[i%len(sdks)]
		host := fmt.Sprintf("h%d.%s", i%40, firstNonEmpty(append(s.Domains, "tracker.example")...))
		pi := pis[i%len(pis)]
		add("traffic.pi_sent", pi+" -> "+host, map[string]any{"pi": []string{pi}, "detector": "known_value:imei", "host": host, "location": "body",
			"phase": phases[i%len(phases)], "sdk": s.ID, "third_party": true, "cleartext": i%11 == 0, "cross_border": i%13 == 0, "known_value": i%2 == 0, "offset_ms": -1000 + i})
	}
	return obs
}

// BenchmarkAssess: one target with 10,000 observations, category online_shopping. Reports
// findings assessed per second and observations per second.
func BenchmarkAssess(b *testing.B) {
	obs := benchObservations(b, 10_000)
	a := New(mustCatalogue(b))
	tg := scanner.Target{ID: "bench", Category: "online_shopping"}
	var nf int
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		nf = len(a.Assess(tg, "scan-bench", obs, t0))
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(nf), "findings/op")
	b.ReportMetric(float64(nf)/sec, "findings/s")
	b.ReportMetric(float64(len(obs))/sec, "observations/s")
}

func TestBenchTargetIsLarge(t *testing.T) {
	obs := benchObservations(t, 10_000)
	if len(obs) != 10_000 {
		t.Fatalf("%d observations", len(obs))
	}
	fs := New(mustCatalogue(t)).Assess(scanner.Target{ID: "bench", Category: "online_shopping"}, "s", obs, t0)
	if len(fs) < 500 {
		t.Errorf("only %d findings", len(fs))
	}
	for _, f := range fs {
		if len(f.Observations) > MaxObservationsPerFinding {
			t.Errorf("%s carries %d observations", f.RuleID, len(f.Observations))
		}
	}
}
