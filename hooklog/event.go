// Package hooklog reads runtime hook logs from test phones (camille, Tongcheng AppScan,
// PrivacySentry, AndroidPrivacyMonitor and pilmon's own JSON Lines) into one event record, and
// turns them into runtime.* observations: which catalogued API was called, by whose code (re-derived
// from the stack with apkinspect's ownership rules, never the tool's own label), when, and whether
// before or after the user's consent as far as the log shows it.
package hooklog

// Formats of hook logs, as the format attribute of the observations names them.
const (
	FormatCamille        = "camille"
	FormatAppScan        = "appscan"
	FormatPrivacySentry  = "privacysentry"
	FormatPrivacyMonitor = "privacymonitor"
	FormatPilmon         = "pilmon"
)

// Phases of a call relative to the user's consent decision.
const (
	PhaseBeforeConsent = "before_consent"
	PhaseAfterConsent  = "after_consent"
	PhaseAfterRefusal  = "after_refusal"
	PhaseUnknown       = "unknown"
)

// Where a phase comes from: the device recorded the tap (pilmon), a flag the host tool set
// (camille's 隐私政策状态 column: it flips when the host detects the click, so calls near the
// click can be mislabelled), PrivacySentry's pseudo-row written when the app reports the consent,
// or nothing.
const (
	PhaseSourceDevice    = "device_event"
	PhaseSourceHostFlag  = "host_flag"
	PhaseSourcePseudoRow = "pseudo_row"
	PhaseSourceNone      = "none"
)

// Where a device time comes from. DeviceTime is RFC 3339 with milliseconds in UTC for "device"
// (epoch milliseconds of the device clock); the tools that write the device's local wall clock
// without a zone give the local date-time without an offset ("2024-03-05T09:04:07", month
// corrected for camille), or less: "device_month_day" is PrivacySentry's "MM-DD hh:mm:ss.mmm"
// (no year), "device_time_of_day" AndroidPrivacyMonitor's "hh:mm:ss.mmm" (no date).
const (
	TimeDevice          = "device"
	TimeMonthCorrected  = "device_month_corrected"
	TimeLocal           = "device_local"
	TimeMonthDay        = "device_month_day"
	TimeOfDay           = "device_time_of_day"
	TimeNone            = "none"
	ForegroundYes       = "foreground"
	ForegroundNo        = "background"
	ForegroundUnknown   = "unknown"
	PartyBasisFrame     = "stack_frame"
	PartyBasisNoAppCode = "no_app_frame"
	PartyBasisNoStack   = "no_stack"
)

// Event is one call of a hooked API, as one of the five formats records it.
type Event struct {
	// Seq numbers the calls of one log from 1 in file order.
	Seq int `json:"seq"`
	// Row is where the call is in the file, for citation: the spreadsheet row number (1-based, the
	// header is row 1) or the line number of a text log.
	Row         int    `json:"row"`
	DeviceTime  string `json:"device_time"`
	TimeSource  string `json:"time_source"`
	Phase       string `json:"phase"`
	PhaseSource string `json:"phase_source"`
	// API is the sensitive-API catalogue id (rules sensitive_apis.yaml), "" when not mapped;
	// APISource says how: "stack" (a catalogued method is a frame), "label" (the tool's own name of
	// the call) or "".
	API       string `json:"api"`
	APISource string `json:"api_source,omitempty"`
	// ToolAPI is the tool's own label or function name for the call.
	ToolAPI     string   `json:"tool_api"`
	Args        []string `json:"args"`
	ReturnValue string   `json:"return_value"`
	HasReturn   bool     `json:"has_return"`
	// Stack are the frames innermost first, at most Limits.MaxFrames; StackDropped counts the rest.
	Stack        []string `json:"stack"`
	StackDropped int      `json:"stack_dropped,omitempty"`
	// Party is whose code made the call (apkinspect's party strings: app, sdk:<id>, library:<id>,
	// unidentified), from PartyFrame, the innermost frame outside the platform and the hooking
	// tool; PartyBasis says whether a frame decided it. CallerParty is, when Party is a library, the
	// first frame further out that is not library code (the code that asked the library).
	Party       string `json:"party"`
	PartyFrame  string `json:"party_frame,omitempty"`
	PartyBasis  string `json:"party_basis"`
	CallerParty string `json:"caller_party,omitempty"`
	// ToolParty is the tool's own attribution (camille's 行为主体, AppScan's 主体): kept, not trusted.
	ToolParty  string `json:"tool_party,omitempty"`
	Foreground string `json:"foreground"`
	Thread     string `json:"thread,omitempty"`
	// Note keeps what the tool says about the moment that is not a consent phase
	// (AndroidPrivacyMonitor's 调用时机: process start-up stages).
	Note string `json:"note,omitempty"`

	// ms is the device clock in milliseconds for ordering and offsets within one log (local wall
	// clock read as UTC for the formats without a zone); hasMs says whether it is known.
	ms    int64
	hasMs bool
}

// Mark is a consent or refusal moment in a log.
type Mark struct {
	Kind       string `json:"kind"` // consent | refusal
	Row        int    `json:"row"`
	DeviceTime string `json:"device_time"`
	TimeSource string `json:"time_source"`
	Text       string `json:"text,omitempty"`
	View       string `json:"view,omitempty"`
	// Source is the phase source the mark gives the calls after it.
	Source string `json:"source"`
	// Seq is the number of calls before the mark in file order.
	Seq   int `json:"seq"`
	ms    int64
	hasMs bool
}

// Assertion is a conclusion a tool wrote about the app (AppScan's 风险列表 rows): the tool's
// claim, not a fact pilmon established, kept for the analyst to verify.
type Assertion struct {
	Row      int    `json:"row"`
	Item     string `json:"item"`     // 检测项
	Standard string `json:"standard"` // 评估标准
	Advice   string `json:"advice"`   // 整改建议
}

// ClockJump is the device time going backwards by more than a second between two calls next to
// each other in the file; the order of the file is kept.
type ClockJump struct {
	Row    int   `json:"row"`
	BackMs int64 `json:"back_ms"`
}

// Log is one hook log read.
type Log struct {
	Format string `json:"format"`
	// Package, Device and Script come from pilmon's session line.
	Package      string      `json:"package,omitempty"`
	Device       string      `json:"device,omitempty"`
	Script       string      `json:"script,omitempty"`
	ConsentWords []string    `json:"consent_words,omitempty"`
	Events       []Event     `json:"events"`
	Marks        []Mark      `json:"marks,omitempty"`
	Assertions   []Assertion `json:"assertions,omitempty"`
	// Dropped counts calls beyond Limits.MaxEvents; Invalid the rows or lines that could not be
	// read (their reasons are in the error returned beside the log, the first few of them).
	Dropped    int         `json:"dropped"`
	Invalid    int         `json:"invalid"`
	ClockJumps []ClockJump `json:"clock_jumps,omitempty"`
	// Notes say what the reader decided about the whole log (a row order, a flag not trusted).
	Notes []string `json:"notes,omitempty"`
	// reversed: the file lists the calls newest first (PrivacySentry may); time order is reverse
	// file order.
	reversed bool
}
