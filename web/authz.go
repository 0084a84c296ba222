package web

import (
	"pilmon/accounts"
	"pilmon/findings"
)

// The whole authorisation policy is in this file: the permissions of each role
// (accounts.Role), and which triage transitions each role may make. Every route names one
// permission (routes.go) and the router refuses a request whose user lacks it before any handler
// runs.

// Perm is one permission a route requires.
type Perm string

const (
	PermRead      Perm = "read"      // every view, evidence downloads
	PermSelf      Perm = "self"      // own password, logout everywhere
	PermNote      Perm = "note"      // notes on findings
	PermTriage    Perm = "triage"    // transitions (which ones: canTransition)
	PermChecklist Perm = "checklist" // manual checklist results and their evidence
	PermExport    Perm = "export"    // case-file exports
	PermScan      Perm = "scan"      // scan now
	PermTargets   Perm = "targets"   // add, edit, upload sources, schedules
	PermUsers     Perm = "users"     // user administration
	PermAudit     Perm = "audit"     // the audit history
	PermOps       Perm = "ops"       // dead-letter list

	// PermCases opens cases, moves them along the case path, records their documents, adds and
	// removes findings and runs 整改复查: filing and the steps after it are a prosecutor's
	// decisions (pil-procedure.md); analysts assess clues and read cases.
	PermCases Perm = "cases"
)

var rolePerms = map[accounts.Role]map[Perm]bool{
	accounts.RoleAdmin:      set(PermRead, PermSelf, PermTargets, PermScan, PermUsers, PermAudit, PermOps),
	accounts.RoleProsecutor: set(PermRead, PermSelf, PermNote, PermTriage, PermChecklist, PermExport, PermScan, PermCases),
	// Analysts register the apps they test (a target, its APK and policy, a schedule).
	accounts.RoleAnalyst: set(PermRead, PermSelf, PermNote, PermTriage, PermChecklist, PermScan, PermTargets),
	accounts.RoleViewer:  set(PermRead, PermSelf),
}

func set(ps ...Perm) map[Perm]bool {
	m := make(map[Perm]bool, len(ps))
	for _, p := range ps {
		m[p] = true
	}
	return m
}

// can reports whether role r has permission p.
func can(r accounts.Role, p Perm) bool { return rolePerms[r][p] }

// analystMoves are the only transitions an analyst may make: take a new clue into review, and
// propose escalation after assessment. Everything else on the case path is a prosecutor's decision.
var analystMoves = map[[2]findings.State]bool{
	{findings.StateNew, findings.StateInReview}:       true,
	{findings.StateInReview, findings.StateEscalated}: true,
}

// canTransition reports whether role r may move a finding from one state to another; the state
// machine itself (findings.AllowedNext) is checked by the store.
func canTransition(r accounts.Role, from, to findings.State) bool {
	switch r {
	case accounts.RoleProsecutor:
		return true
	case accounts.RoleAnalyst:
		return analystMoves[[2]findings.State{from, to}]
	}
	return false
}

// allowedMoves returns the next states role r may choose for a finding in state s.
func allowedMoves(r accounts.Role, s findings.State) []findings.State {
	var out []findings.State
	if !can(r, PermTriage) {
		return nil
	}
	for _, to := range findings.AllowedNext(s) {
		if canTransition(r, s, to) {
			out = append(out, to)
		}
	}
	return out
}
