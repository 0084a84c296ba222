// Package rules is pilmon's catalogue as reviewed data: personal-information categories, Android
// permissions, sensitive APIs, SDK signatures, the 39 app categories of the 2021 necessary-PI scope,
// the legal instruments cited, the observation vocabulary and the violation catalogue. The YAML lives
// under rules/data/, is embedded with go:embed and is cross-checked at load.
//
// Schema contract (shared by every file under rules/data/; see each type's doc):
//
//	pi_categories.yaml      -> []PICategory       (key "categories")
//	permissions.yaml        -> []Permission       (key "permissions")
//	sensitive_apis.yaml     -> []SensitiveAPI     (key "apis")
//	sdks.yaml               -> []SDK              (key "sdks")
//	app_categories.yaml     -> []AppCategory      (key "categories")
//	legal_instruments.yaml  -> []Instrument       (key "instruments")
//	observation_kinds.yaml  -> []ObservationKind  (key "kinds")
//	violations.yaml         -> []Violation        (key "violations")
//	families.yaml           -> []Family           (key "families")
//	sdk_signals.yaml        -> []SDKSignal        (key "signals")
//	cross_border_trackers.yaml -> []CrossBorderTracker (key "trackers")
//	policy_elements.yaml    -> []PolicyElement    (key "elements")
//	policy_patterns.yaml    -> raw bytes, compiled by package policies
//
// Every file also has a top-level "version: 1".
package rules

// Text is a bilingual string; zh is the primary language of pilmon, en must be present too.
type Text struct {
	ZH string `yaml:"zh" json:"zh"`
	EN string `yaml:"en" json:"en"`
}

// Sensitivity under PIPL Art. 28: "yes" (enumerated), "likely" (GB/T 35273 App. B, recall),
// "depends" (by use), "no" (PI, not sensitive).
type Sensitivity string

// Verification records how far an entry was checked against its source:
// "verified", "recall" (from memory: UNVERIFIED) or a short free text naming the source.
// Rules resting on unverified facts say so in their text.

// PICategory is one kind of personal information (pi_categories.yaml).
type PICategory struct {
	ID          string      `yaml:"id" json:"id"` // e.g. "location_precise"
	Name        Text        `yaml:"name" json:"name"`
	Sensitivity Sensitivity `yaml:"pipl_art28" json:"pipl_art28"`
	Basis       string      `yaml:"basis" json:"basis"`
}

// Permission is an Android permission that touches PI (permissions.yaml).
type Permission struct {
	Name            string      `yaml:"name" json:"name"` // full name, "android.permission.READ_CONTACTS"
	Kind            string      `yaml:"kind" json:"kind"` // runtime | normal | special | signature
	ProtectionLevel string      `yaml:"protection_level" json:"protection_level"`
	FirstSeenAPI    int         `yaml:"first_seen_api" json:"first_seen_api"`
	APIAdded        int         `yaml:"api_added,omitempty" json:"api_added,omitempty"`
	EffectiveAPIMax int         `yaml:"effective_api_max,omitempty" json:"effective_api_max,omitempty"`
	Group           string      `yaml:"group,omitempty" json:"group,omitempty"`
	PI              []string    `yaml:"pi" json:"pi"` // PICategory ids
	Sensitivity     Sensitivity `yaml:"pipl_art28" json:"pipl_art28"`
	Description     Text        `yaml:"description" json:"description"`
	Notes           string      `yaml:"notes,omitempty" json:"notes,omitempty"`
	Verification    string      `yaml:"verification" json:"verification"`
}

// SensitiveAPI is a framework or SDK API that reads PI (sensitive_apis.yaml).
type SensitiveAPI struct {
	ID     string `yaml:"id" json:"id"` // e.g. "telephony.getDeviceId"
	Class  string `yaml:"class" json:"class"`
	Method string `yaml:"method" json:"method"`
	Kind   string `yaml:"kind" json:"kind"` // method | field | provider
	// Descriptors as they appear in dex invoke/sget: "Lpkg/Class;->method(args)ret". An entry that
	// stops after the method name ("Lpkg/Class;->method") matches every overload (prefix match).
	Descriptors []string `yaml:"descriptors" json:"descriptors"`
	Strings     []string `yaml:"strings,omitempty" json:"strings,omitempty"`
	Permission  string   `yaml:"permission,omitempty" json:"permission,omitempty"`
	// PermissionNote says which permission the call needs on which API levels, in the reference's
	// words; Permission names the main one (a full name from permissions.yaml) when there is one.
	PermissionNote string `yaml:"permission_note,omitempty" json:"permission_note,omitempty"`
	// Notes: behaviour and restrictions by API level.
	Notes        string      `yaml:"notes,omitempty" json:"notes,omitempty"`
	PI           []string    `yaml:"pi" json:"pi"`
	Sensitivity  Sensitivity `yaml:"pipl_art28" json:"pipl_art28"`
	Description  Text        `yaml:"description" json:"description"`
	Verification string      `yaml:"verification" json:"verification"`
}

// SDK is a third-party SDK signature (sdks.yaml; the Exodus overlay adds more at run time).
type SDK struct {
	ID     string `yaml:"id" json:"id"` // e.g. "umeng_analytics"
	Name   Text   `yaml:"name" json:"name"`
	Vendor string `yaml:"vendor" json:"vendor"`
	// Kind: analytics | push | push_vendor | ads | crash | map | login | login_share |
	// login_share_payment | payment | risk_control | device_id | webview | im | voice | other |
	// library. "library" is an open-source or developer library that an SDK list names (OkHttp,
	// Glide, Tinker): third-party code, but no service of its vendor receives data through it, so
	// the disclosure rules do not ask for it in a policy's SDK list.
	Kind string `yaml:"kind" json:"kind"`
	// ClassPrefixes match on package boundaries: prefix P matches class C when C == P or C has
	// prefix P + ".".
	ClassPrefixes []string `yaml:"class_prefixes" json:"class_prefixes"`
	// Domains match a host when host == d or host has suffix "." + d.
	Domains []string `yaml:"domains,omitempty" json:"domains,omitempty"`
	// ManifestKeys are <meta-data android:name> values that name the SDK even when its classes are
	// obfuscated (UMENG_APPKEY, JPUSH_APPKEY, com.amap.api.v2.apikey).
	ManifestKeys []string `yaml:"manifest_keys,omitempty" json:"manifest_keys,omitempty"`
	// MiniProgramMarkers are strings that reveal the SDK inside mini-program JavaScript.
	MiniProgramMarkers []string `yaml:"miniprogram_markers,omitempty" json:"miniprogram_markers,omitempty"`
	PI                 []string `yaml:"pi" json:"pi"`
	// DocumentedPI is what the source says the SDK collects, in its own words.
	DocumentedPI     []string `yaml:"documented_pi,omitempty" json:"documented_pi,omitempty"`
	PISource         string   `yaml:"pi_source" json:"pi_source"` // vendor_doc | app_disclosure | exodus | none
	PrivacyPolicyURL string   `yaml:"privacy_policy_url,omitempty" json:"privacy_policy_url,omitempty"`
	// Exodus names the Exodus Privacy tracker(s) this entry corresponds to, when known.
	Exodus []string `yaml:"exodus,omitempty" json:"exodus,omitempty"`
	Notes  string   `yaml:"notes,omitempty" json:"notes,omitempty"`
	// Origin says who owns the entry: "catalogue" (hand-written, sdks.yaml), "derived" (generated
	// from the tracker lists, sdks_derived.yaml), "exodus-overlay" or "libchecker-overlay" (imported
	// into the data dir). Sources lists every source that contributed to it.
	Origin       string `yaml:"origin,omitempty" json:"origin,omitempty"`
	Verification string `yaml:"verification" json:"verification"`
	// Priority resolves a domain or class prefix that two entries list: the higher one is named.
	// Two entries of equal priority listing the same domain or prefix are a load error.
	Priority int `yaml:"priority,omitempty" json:"priority,omitempty"`
	// Examples are class names and hosts that must be attributed to this SDK and ones that must
	// not (look-alikes); load checks them against the catalogue's matchers and the apkinspect and
	// traffic tests run them through theirs. Required in sdks.yaml.
	Examples *SDKExamples `yaml:"examples,omitempty" json:"examples,omitempty"`
	// VendorVerified is true only when someone checked that Vendor is the legal entity behind the
	// SDK; a vendor taken from a list (X-Ray owner names, an Exodus website) or from recall is not.
	VendorVerified bool `yaml:"vendor_verified,omitempty" json:"vendor_verified"`
	// VendorSource names where Vendor comes from: "xray" (X-Ray company list), "exodus-website"
	// (the tracker's website domain), "none"; empty on hand-written entries, whose verification
	// says it.
	VendorSource string `yaml:"vendor_source,omitempty" json:"vendor_source,omitempty"`
	// Sources lists every source that contributed to the entry: catalogue, camille, exodus, xray,
	// libchecker.
	Sources []string `yaml:"sources,omitempty" json:"sources,omitempty"`
	// Camille names the entries of camille's Chinese SDK list (sdk_name) whose package this entry
	// owns.
	Camille []string `yaml:"camille,omitempty" json:"camille,omitempty"`
}

// SDKExamples are an SDK entry's true and false positives.
type SDKExamples struct {
	Positive SDKExampleSet `yaml:"positive" json:"positive"`
	Negative SDKExampleSet `yaml:"negative" json:"negative"`
}

// SDKExampleSet is a list of Java class names (dotted), hosts and manifest <meta-data> names.
type SDKExampleSet struct {
	Classes      []string `yaml:"classes,omitempty" json:"classes,omitempty"`
	Hosts        []string `yaml:"hosts,omitempty" json:"hosts,omitempty"`
	ManifestKeys []string `yaml:"manifest_keys,omitempty" json:"manifest_keys,omitempty"`
}

// NecessaryPI is one item of an app category's necessary PI.
type NecessaryPI struct {
	Name Text     `yaml:"name" json:"name"`
	PI   []string `yaml:"pi" json:"pi"`
}

// AppCategory is one of the 39 categories of the 2021 necessary-PI scope (app_categories.yaml).
type AppCategory struct {
	ID            string        `yaml:"id" json:"id"`   // "01".."39"
	Key           string        `yaml:"key" json:"key"` // "map_navigation"
	Name          Text          `yaml:"name" json:"name"`
	BasicFunction Text          `yaml:"basic_function" json:"basic_function"`
	NoPIRequired  bool          `yaml:"no_pi_required" json:"no_pi_required"`
	NecessaryPI   []NecessaryPI `yaml:"necessary_pi" json:"necessary_pi"`
	// JustifiedPermissions is pilmon's interpretation (not the regulation): runtime permissions the
	// necessary PI can justify.
	JustifiedPermissions []string `yaml:"permissions_justified" json:"permissions_justified"`
	// Hints help suggest a category from package names, labels and policy text.
	Hints        []string `yaml:"hints,omitempty" json:"hints,omitempty"`
	Note         string   `yaml:"note,omitempty" json:"note,omitempty"`
	Verification string   `yaml:"verification" json:"verification"`
}

// Instrument is a law, regulation, rule, normative document, standard, platform rule or draft that
// rules cite or show (legal_instruments.yaml). IDs used by citations: "pipl", "rdff2019" (认定方法),
// "npi2021" (必要个人信息范围规定), "gbt35273" (GB/T 35273-2020), "gbt41391" (GB/T 41391-2022), "csl"
// (网络安全法, with its 2017 and 2026 numbering), "minors_law" (未成年人保护法), "minors_net"
// (未成年人网络保护条例), "ndsr2024" (网络数据安全管理条例), "miit164" (工信部164号), "cpl" (民事诉讼法),
// "apl" (行政诉讼法); see law.go for levels and in-force intervals.
type Instrument struct {
	ID    string `yaml:"id" json:"id"`
	Title Text   `yaml:"title" json:"title"`
	DocNo string `yaml:"doc_no,omitempty" json:"doc_no,omitempty"`
	// Level is where the instrument stands (Levels, highest first); a draft is never cited.
	Level string `yaml:"level" json:"level"`
	// Published, Effective, Repealed and Superseded are dates (YYYY-MM-DD). Effective is required
	// except for drafts; the instrument is in force from Effective until the day before Repealed or
	// Superseded.
	Published  string `yaml:"published,omitempty" json:"published,omitempty"`
	Effective  string `yaml:"effective,omitempty" json:"effective,omitempty"`
	Repealed   string `yaml:"repealed,omitempty" json:"repealed,omitempty"`
	Superseded string `yaml:"superseded,omitempty" json:"superseded,omitempty"`
	URL        string `yaml:"url,omitempty" json:"url,omitempty"`
	// Verification says how far the instrument's status and dates were checked (articles carry
	// their own).
	Verification string    `yaml:"verification,omitempty" json:"verification,omitempty"`
	Articles     []Article `yaml:"articles" json:"articles"`
}

// Article is one article, item or clause: "17", "3.1", "5.3", "D.1". An instrument amended with
// renumbering lists each version of an article separately (Version "2017", "2026") with its
// in-force interval, and the newer one names the older one it Replaces; a citation of either
// resolves to the one in force at a finding's as_of.
type Article struct {
	No      string    `yaml:"no" json:"no"`
	Version string    `yaml:"version,omitempty" json:"version,omitempty"`
	InForce *Interval `yaml:"in_force,omitempty" json:"in_force,omitempty"` // default: the instrument's
	// Replaces is the article of an earlier version this one continues, "41@2017".
	Replaces     string `yaml:"replaces,omitempty" json:"replaces,omitempty"`
	Text         Text   `yaml:"text" json:"text"` // verbatim zh where verified, else a summary marked as such
	Verification string `yaml:"verification" json:"verification"`
}

// Interval is an in-force interval of dates (YYYY-MM-DD, both days included); an empty From is the
// instrument's effective date, an empty To means still in force.
type Interval struct {
	From string `yaml:"from,omitempty" json:"from,omitempty"`
	To   string `yaml:"to,omitempty" json:"to,omitempty"`
}

// Citation names an article of an instrument; written in YAML as "pipl:17", "rdff2019:3.1" or, for
// an article that exists in several versions, "csl:41@2017". Level is the instrument's level,
// filled in on findings (never written in YAML).
type Citation struct {
	Instrument string `json:"instrument"`
	Article    string `json:"article"`
	Version    string `json:"version,omitempty"`
	Level      string `json:"level,omitempty"`
}

// ObservationKind declares one kind of observation and its attributes (observation_kinds.yaml).
// Inspectors emit only declared kinds; triggers may name only declared kinds and attributes.
type ObservationKind struct {
	Kind        string          `yaml:"kind" json:"kind"` // "apk.permission"
	Producer    string          `yaml:"producer" json:"producer"`
	Description Text            `yaml:"description" json:"description"`
	Subject     string          `yaml:"subject" json:"subject"` // what Subject holds
	Attributes  []AttributeSpec `yaml:"attributes" json:"attributes"`
	// FindingSubject names what a finding triggered by this kind is about, stable across re-scans
	// (never a file path or a time): a template over the attributes and .subject ("perm:{{.subject}}").
	FindingSubject string `yaml:"finding_subject,omitempty" json:"finding_subject,omitempty"`
	// Confidence is what an observation of this kind supports, and why (see ConfidenceRule).
	Confidence []ConfidenceRule `yaml:"confidence,omitempty" json:"confidence,omitempty"`
	// AppEvidence: an observation of this kind shows that an app or mini-program was inspected.
	AppEvidence bool `yaml:"app_evidence,omitempty" json:"app_evidence,omitempty"`
	// Grade is what an observation of this kind establishes (observed | declared | static |
	// inferred), with attribute conditions where one kind can be two grades (see grade.go).
	Grade GradeRules `yaml:"grade,omitempty" json:"grade,omitempty"`
}

// AttributeSpec declares one attribute: type is string | bool | int | float | []string.
type AttributeSpec struct {
	Name        string `yaml:"name" json:"name"`
	Type        string `yaml:"type" json:"type"`
	Description string `yaml:"description" json:"description"`
}

// Severity of a violation: critical | high | medium | low | info.
type Severity string

// Violation is one entry of the violation catalogue (violations.yaml).
type Violation struct {
	ID          string     `yaml:"id" json:"id"` // "rdff-3.1", "pipl-29-separate-consent", "chk-017"
	Version     int        `yaml:"version" json:"version"`
	Title       Text       `yaml:"title" json:"title"`
	Description Text       `yaml:"description" json:"description"`
	Severity    Severity   `yaml:"severity" json:"severity"`
	LegalBasis  []Citation `yaml:"legal_basis" json:"legal_basis"` // first entry is the anchor
	Check       Check      `yaml:"check" json:"check"`
	// Caveat says what the automated check cannot know and what must be confirmed by hand; it is
	// shown with every finding ("whether the app refuses service without it needs a device test").
	Caveat       Text   `yaml:"caveat,omitempty" json:"caveat,omitempty"`
	Verification string `yaml:"verification" json:"verification"`

	// What assess adds to a match of an automated rule (see assessment.go).
	// Family names an entry of families.yaml.
	Family string `yaml:"family,omitempty" json:"family,omitempty"`
	// Subject overrides the triggering kind's finding_subject (same template form).
	Subject string `yaml:"subject,omitempty" json:"subject,omitempty"`
	// Confidence overrides the triggering kind's confidence rules, per trigger kind.
	Confidence []ConfidenceRule `yaml:"confidence,omitempty" json:"confidence,omitempty"`
	// Adjust applies after the family's adjustments.
	Adjust []Adjustment `yaml:"adjust,omitempty" json:"adjust,omitempty"`
	// Summaries are the finding's summary templates, per triggering kind and grade.
	Summaries []Summary `yaml:"summaries,omitempty" json:"summaries,omitempty"`
	// GradeCap caps the grade of the rule's records whatever their evidence (a comparison with a
	// list is inferred even when the compared fact was declared).
	GradeCap string `yaml:"grade_cap,omitempty" json:"grade_cap,omitempty"`
	// GradeCaps caps the grade per trigger kind (a connection to a tracker shows no PI, so it
	// supports a claim of collection only as inferred).
	GradeCaps map[string]string `yaml:"grade_caps,omitempty" json:"grade_caps,omitempty"`
	// GradeFor replaces, for this rule's claim, the grade a trigger kind gives its observations:
	// per kind, the first entry whose `when` attributes all hold gives the grade (caps still
	// apply), otherwise the kind's own grade stands. A claim about what a package contains rather
	// than what its code does (an embedded SDK the policy does not name) is established by a
	// strong detection, though the kind's grade is about capability.
	GradeFor map[string]GradeRules `yaml:"grade_for,omitempty" json:"grade_for,omitempty"`
	// Tier "lead" makes every record of the rule a lead (a claim that needs functional context or
	// a device test whatever the evidence); empty lets the grade decide.
	Tier string `yaml:"tier,omitempty" json:"tier,omitempty"`
	// LeadTitle is the title shown for a lead where Title would claim more than a lead shows.
	LeadTitle Text `yaml:"lead_title,omitempty" json:"lead_title,omitzero"`
	// Inputs is the input inventory the rule needs to be decided; a scan without it lists the
	// rule as not assessed.
	Inputs *Inputs `yaml:"inputs,omitempty" json:"inputs,omitempty"`
}

// TitleFor is the rule's title for a record of the tier: the lead title for a lead when the rule
// has one.
func (v Violation) TitleFor(tier string) Text {
	if tier == TierLead && v.LeadTitle != (Text{}) {
		return v.LeadTitle
	}
	return v.Title
}

// Check says how a violation is found: automatically from observations, or by an analyst.
type Check struct {
	Mode string `yaml:"mode" json:"mode"` // automated | manual
	// Automated: the violation fires on a scan when any trigger matches (see Trigger).
	Triggers []Trigger `yaml:"triggers,omitempty" json:"triggers,omitempty"`
	Examples Examples  `yaml:"examples,omitempty" json:"examples,omitempty"`
	// Manual: the steps an analyst follows on a test phone and the evidence to record.
	Steps    []Text `yaml:"steps,omitempty" json:"steps,omitempty"`
	Evidence []Text `yaml:"evidence,omitempty" json:"evidence,omitempty"`
}

// Trigger matches one observation of a scan. A trigger matches observation o when:
//   - o.Kind == Kind, and
//   - for every key k in Where: the value of attribute k (or "subject") equals Where[k]; when
//     Where[k] is a list, the attribute equals one of its items; when the attribute is itself a
//     list, it matches if any of its items does; and
//   - if OutsideNecessaryScope: the scan context names an app category and at least one of o's
//     "pi" attribute values is not among that category's necessary PI (a no-PI category makes
//     every PI outside scope); with no category in context the trigger does not match; and
//   - if SensitiveOnly: at least one of o's "pi" values is a PI category with pipl_art28 "yes" or
//     "likely"; and
//   - for every kind in Requires: the scan has at least one observation of that kind; and
//   - if Unless is set: no observation of kind Unless.Kind has its Unless.On attribute sharing a
//     value with o's Unless.On attribute (both may be lists; e.g. PI used but not declared in policy).
//
// The subject of the resulting finding is o.Subject.
type Trigger struct {
	Kind                  string         `yaml:"kind" json:"kind"`
	Where                 map[string]any `yaml:"where,omitempty" json:"where,omitempty"`
	OutsideNecessaryScope bool           `yaml:"outside_necessary_scope,omitempty" json:"outside_necessary_scope,omitempty"`
	SensitiveOnly         bool           `yaml:"sensitive_only,omitempty" json:"sensitive_only,omitempty"`
	Requires              []string       `yaml:"requires,omitempty" json:"requires,omitempty"`
	Unless                *Join          `yaml:"unless,omitempty" json:"unless,omitempty"`
}

// Join names observations that cancel a trigger when they share an attribute value.
type Join struct {
	Kind string `yaml:"kind" json:"kind"`
	On   string `yaml:"on" json:"on"`
}

// Examples are the observations that prove a rule: the positive ones must make it fire, the
// negative ones must not. A test runs every example of every automated rule.
type Examples struct {
	Positive []Example `yaml:"positive" json:"positive"`
	Negative []Example `yaml:"negative" json:"negative"`
}

// Example is one scan's worth of observations with the app category in context.
type Example struct {
	Note         string        `yaml:"note,omitempty" json:"note,omitempty"`
	Category     string        `yaml:"category,omitempty" json:"category,omitempty"` // AppCategory.Key
	Observations []ExampleFact `yaml:"observations" json:"observations"`
}

// ExampleFact is an observation written in a rule's example.
type ExampleFact struct {
	Kind       string         `yaml:"kind" json:"kind"`
	Subject    string         `yaml:"subject" json:"subject"`
	Attributes map[string]any `yaml:"attributes,omitempty" json:"attributes,omitempty"`
}

// Fact is what triggers match: scanner.Observation and ExampleFact implement it.
type Fact interface {
	FactKind() string
	FactAttr(name string) (any, bool)
}
