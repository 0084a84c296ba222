package assess

import (
	"encoding/json"
	"testing"

	"pilmon/findings"
	"pilmon/scanner"
)

// FuzzAssess: observations of any shape (attributes of the wrong type, missing, huge lists) never
// make Assess panic, and every finding it returns is well formed and canonically encodable.
func FuzzAssess(f *testing.F) {
	cat := mustCatalogue(f)
	for _, v := range cat.Violations() {
		for _, ex := range append(v.Check.Examples.Positive, v.Check.Examples.Negative...) {
			b, _ := json.Marshal(exampleObservations(ex))
			f.Add(b, ex.Category)
		}
	}
	f.Add([]byte(`[{"kind":"traffic.pi_sent","subject":"x","attributes":{"pi":"device_id_hw","phase":["before_consent"],"offset_ms":"-5","known_value":"yes"}}]`), "news")
	f.Add([]byte(`[{"kind":"policy.element","attributes":{"element":7,"present":false}},{"kind":"apk.identity","attributes":{"label":"儿童学习","target_sdk":1e300}}]`), "")
	a := New(cat)
	f.Fuzz(func(t *testing.T, data []byte, category string) {
		var obs []scanner.Observation
		if json.Unmarshal(data, &obs) != nil || len(obs) > 2000 {
			return
		}
		for _, fd := range a.Assess(scanner.Target{ID: "fuzz", Category: category}, "scan-fuzz", obs, t0) {
			if fd.Fingerprint != findings.Fingerprint("fuzz", fd.RuleID, fd.Subject) || fd.Summary.ZH == "" || fd.Confidence == "" {
				t.Fatalf("malformed finding %+v", fd)
			}
			if _, err := findings.MarshalCanonical(fd); err != nil {
				t.Fatalf("finding not encodable: %v", err)
			}
		}
	})
}
