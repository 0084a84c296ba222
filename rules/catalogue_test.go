package rules

import (
	"encoding/json"
	"testing"
)

func TestDefaultLoads(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	s := c.Stats()
	t.Log(c.String())
	if s.PICategories != 45 {
		t.Errorf("PI categories = %d, want 45", s.PICategories)
	}
	if s.Permissions < 60 {
		t.Errorf("permissions = %d, want >= 60", s.Permissions)
	}
	if s.SensitiveAPIs < 40 {
		t.Errorf("sensitive APIs = %d, want >= 40", s.SensitiveAPIs)
	}
	if s.SDKs < 60 {
		t.Errorf("SDKs = %d, want >= 60", s.SDKs)
	}
	if s.AppCategories != 39 {
		t.Errorf("app categories = %d, want 39", s.AppCategories)
	}
	if s.ObservationKinds == 0 {
		t.Error("no observation kinds")
	}
	if _, err := json.Marshal(c); err != nil {
		t.Errorf("MarshalJSON: %v", err)
	}
}
