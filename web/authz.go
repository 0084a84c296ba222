package web

import "pilmon/findings"

// Role is what a user may do. The whole authorisation policy is in this file: the permissions of
// each role, and which triage transitions each role may make. Every route names one permission
// (routes.go) and the router refuses a request whose user lacks it before any handler runs.
type Role string

const (
	// RoleAdmin manages users and targets, reads the audit history and the dead-letter list.
	RoleAdmin Role = "admin"
	// RoleProsecutor makes every triage and case transition and exports case files.
	RoleProsecutor Role = "prosecutor"
	// RoleAnalyst writes notes and checklist results, moves new findings into review and proposes
	// escalation.
	RoleAnalyst Role = "analyst"
	// RoleViewer reads.
	RoleViewer Role = "viewer"
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RoleProsecutor, RoleAnalyst, RoleViewer}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	_, ok := rolePerms[r]
	return ok
}

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
)

var rolePerms = map[Role]map[Perm]bool{
	RoleAdmin:      set(PermRead, PermSelf, PermTargets, PermScan, PermUsers, PermAudit, PermOps),
	RoleProsecutor: set(PermRead, PermSelf, PermNote, PermTriage, PermChecklist, PermExport, PermScan),
	RoleAnalyst:    set(PermRead, PermSelf, PermNote, PermTriage, PermChecklist, PermScan),
	RoleViewer:     set(PermRead, PermSelf),
}

func set(ps ...Perm) map[Perm]bool {
	m := make(map[Perm]bool, len(ps))
	for _, p := range ps {
		m[p] = true
	}
	return m
}

// Can reports whether role r has permission p.
func (r Role) Can(p Perm) bool { return rolePerms[r][p] }

// analystMoves are the only transitions an analyst may make: take a new clue into review, and
// propose escalation after assessment. Everything else on the case path is a prosecutor's decision.
var analystMoves = map[[2]findings.State]bool{
	{findings.StateNew, findings.StateInReview}:       true,
	{findings.StateInReview, findings.StateEscalated}: true,
}

// canTransition reports whether role r may move a finding from one state to another; the state
// machine itself (findings.AllowedNext) is checked by the store.
func canTransition(r Role, from, to findings.State) bool {
	switch r {
	case RoleProsecutor:
		return true
	case RoleAnalyst:
		return analystMoves[[2]findings.State{from, to}]
	}
	return false
}

// allowedMoves returns the next states role r may choose for a finding in state s.
func allowedMoves(r Role, s findings.State) []findings.State {
	var out []findings.State
	if !r.Can(PermTriage) {
		return nil
	}
	for _, to := range findings.AllowedNext(s) {
		if canTransition(r, s, to) {
			out = append(out, to)
		}
	}
	return out
}
