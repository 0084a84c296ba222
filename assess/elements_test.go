package assess

import "testing"

// Every policy element the vocabulary names has a display name in policy_elements.yaml.
func TestEveryPolicyElementHasAName(t *testing.T) {
	cat := mustCatalogue(t)
	ts, err := loadTemplates(cat)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, v := range cat.Violations() {
		for _, tr := range v.Check.Triggers {
			if tr.Kind != "policy.element" {
				continue
			}
			if e, ok := tr.Where["element"].(string); ok {
				seen++
				if _, ok := ts.elements[e]; !ok {
					t.Errorf("%s: element %q has no name in policy_elements.yaml", v.ID, e)
				}
			}
		}
	}
	if seen == 0 {
		t.Error("no policy.element trigger found")
	}
}
