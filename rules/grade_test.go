package rules

import (
	"strings"
	"testing"
	"testing/fstest"
)

// A rule cannot ask for a finding (only the grade of its evidence makes one), every trigger kind
// needs a grade, and inputs name known flags only.
func TestGradeAndTierValidation(t *testing.T) {
	for _, c := range []struct{ file, old, new, want string }{
		{FileViolations, "    grade_cap: inferred\n", "    grade_cap: inferred\n    tier: finding\n", `tier may only be "lead"`},
		{FileViolations, "    inputs: {all: [has_app, category]}\n", "    inputs: {all: [has_app, has_hooks]}\n", `unknown flag "has_hooks"`},
		{FileViolations, "    inputs: {all: [has_app, category]}\n", "", "declares the inputs it needs"},
		{FileObservationKinds, "    grade: declared\n", "", "trigger kind apk.permission has no grade"},
		{FileObservationKinds, "    grade: declared\n", "    grade: proven\n", `grade "proven" is not one of`},
		{FileObservationKinds, "    grade: declared\n", "    grade:\n      - {when: {protection: runtime}, grade: declared}\n", "the last grade rule needs no condition"},
	} {
		m := miniFS(t)
		src := string(m[c.file].Data)
		if !strings.Contains(src, c.old) {
			t.Fatalf("%s has no %q", c.file, c.old)
		}
		m[c.file] = &fstest.MapFile{Data: []byte(strings.Replace(src, c.old, c.new, 1))}
		_, err := Load(m)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q → %q: error %v, want %q", c.old, c.new, err, c.want)
		}
	}
	v := Violation{GradeCap: GradeInferred, GradeCaps: map[string]string{"traffic.tracker_contacted": GradeStatic}}
	if CapGrade(&v, "traffic.pi_sent", GradeObserved) != GradeInferred || CapGrade(&v, "traffic.tracker_contacted", GradeObserved) != GradeInferred ||
		CapGrade(&Violation{}, "x", GradeDeclared) != GradeDeclared {
		t.Error("CapGrade")
	}
	k := ObservationKind{Grade: GradeRules{{When: map[string]any{"known_value": true}, Grade: GradeObserved}, {Grade: GradeInferred}}}
	attr := func(m map[string]any) func(string) (any, bool) {
		return func(n string) (any, bool) { v, ok := m[n]; return v, ok }
	}
	if KindGrade(k, attr(map[string]any{"known_value": true})) != GradeObserved || KindGrade(k, attr(map[string]any{})) != GradeInferred ||
		KindGrade(k, attr(map[string]any{"known_value": false})) != GradeInferred {
		t.Error("KindGrade")
	}
}
