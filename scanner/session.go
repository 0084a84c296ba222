package scanner

// KnownValue is a value of the test device that one source of a session saw the app read (a hook
// log's return value of getDeviceId) and that the other sources of the same session may look for
// (the session's traffic): the link between "read by X" and "sent to Y". Field names the
// device-values field it is (imei, oaid, android_id…, as traffic's device-values file names them).
type KnownValue struct {
	Field string `json:"field"`
	Value string `json:"value"`
	// Where it was read: the catalogue API, the party whose code called it, the device time, the
	// consent phase of the read, the stored input it came from and the row or line there.
	API         string `json:"api"`
	Party       string `json:"party"`
	Time        string `json:"time,omitempty"`
	Phase       string `json:"phase,omitempty"`
	EvidenceRef string `json:"evidence_ref"`
	Row         int    `json:"row,omitempty"`
	// Format is the hook tool that recorded it (camille, pilmon…).
	Format string `json:"format,omitempty"`
}

// SessionOption is the common source option that groups the sources recorded together on one
// test phone in one session (a hook log, the HAR captured meanwhile, the device-values file).
const SessionOption = "session"

// sessionData is what the providing sources of one session hand to its other sources.
type sessionData struct {
	known []KnownValue
	obs   []Observation
}

// sessionOf returns the session a source belongs to, "" when none.
func sessionOf(src Source) string { return src.Options[SessionOption] }
