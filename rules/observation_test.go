package rules_test

import (
	"testing"

	"pilmon/rules"
	"pilmon/scanner"
)

// scanner.Observation carries Go-typed attributes ([]string, int) where examples carry YAML-typed
// ones ([]any, int); the matcher must treat them alike.
func TestFiresOnScannerObservations(t *testing.T) {
	c, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	v := rules.Violation{ID: "t", Check: rules.Check{Mode: rules.ModeAutomated, Triggers: []rules.Trigger{{
		Kind:                  "apk.permission",
		Where:                 map[string]any{"max_sdk": 0},
		OutsideNecessaryScope: true,
		Unless:                &rules.Join{Kind: "policy.pi_declared", On: "pi"},
	}}}}
	obs := []scanner.Observation{
		{Kind: "apk.permission", Subject: "android.permission.READ_CONTACTS", Attributes: map[string]any{"pi": []string{"contacts"}, "max_sdk": 0}},
		{Kind: "apk.permission", Subject: "android.permission.READ_SMS", Attributes: map[string]any{"pi": []string{"sms"}, "max_sdk": float64(0)}},
		{Kind: "apk.permission", Subject: "android.permission.ACCESS_FINE_LOCATION", Attributes: map[string]any{"pi": []string{"location_precise"}, "max_sdk": 0}},
		{Kind: "policy.pi_declared", Subject: "sms", Attributes: map[string]any{"pi": []string{"sms"}}},
	}
	facts := make([]rules.Fact, len(obs))
	for i := range obs {
		facts[i] = obs[i]
	}
	got := c.Fires(v, "map_navigation", facts)
	if len(got) != 1 || got[0].(scanner.Observation).Subject != "android.permission.READ_CONTACTS" {
		t.Fatalf("fired on %v, want READ_CONTACTS only", got)
	}
}
