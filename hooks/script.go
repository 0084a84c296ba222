package hooks

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"
	"unicode/utf8"

	"pilmon/rules"
)

// Version is the script's own version, written into every session line: a change of the event
// format or of the hooking logic raises it (a change of the catalogue changes the plan hash).
const Version = "1"

//go:embed script.js.tmpl
var scriptTemplate string

var tmpl = template.Must(template.New("script").Parse(scriptTemplate))

// Options configure the generated script.
type Options struct {
	// ConsentWords and RefusalWords are the labels of the buttons that give and refuse consent;
	// a click on a view whose text contains one (refusal words tried first) is recorded on the
	// device. Defaults: DefaultConsentWords, DefaultRefusalWords.
	ConsentWords []string
	RefusalWords []string
	// Redact replaces arguments and return values by their SHA-256 ("sha256:<hex>"): the log then
	// shows which API ran and when, but not the device's identifiers. Default off: the values are
	// the test phone's, and pilmon needs them to recognise them in the same session's traffic.
	Redact bool
	// Console also prints every line with console.log (to the frida CLI, which `-o FILE` can keep).
	Console bool
	// FileName is the log's name in the app's files directory; default "pilmon-hooks.jsonl".
	FileName string
}

// DefaultConsentWords are the labels Chinese and English privacy pop-ups use for agreeing.
var DefaultConsentWords = []string{"同意", "我同意", "同意并继续", "同意并使用", "我已阅读并同意", "接受", "Agree", "Accept"}

// DefaultRefusalWords are the labels for refusing; "不同意" contains "同意", so these are tried
// first.
var DefaultRefusalWords = []string{"不同意", "拒绝", "暂不同意", "不同意并退出", "暂不使用", "仅浏览", "退出应用", "Disagree", "Decline", "Reject"}

// maxLabel bounds the length of a view text that can count as a consent button: a paragraph of
// the policy containing "同意" is not a button.
const maxLabel = 16

// Script returns the Frida script for cat and the plan it implements.
func Script(cat *rules.Catalogue, opts Options) ([]byte, Plan, error) {
	plan, err := BuildPlan(cat)
	if err != nil {
		return nil, Plan{}, err
	}
	consent, refusal := opts.ConsentWords, opts.RefusalWords
	if len(consent) == 0 {
		consent = DefaultConsentWords
	}
	if len(refusal) == 0 {
		refusal = DefaultRefusalWords
	}
	for _, w := range append(append([]string{}, consent...), refusal...) {
		if strings.TrimSpace(w) == "" || utf8.RuneCountInString(w) > maxLabel || strings.ContainsAny(w, " \t\r\n") {
			return nil, Plan{}, fmt.Errorf("consent/refusal word %q: must be non-empty, without spaces, at most %d characters", w, maxLabel)
		}
	}
	name := opts.FileName
	if name == "" {
		name = "pilmon-hooks.jsonl"
	}
	if strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
		return nil, Plan{}, fmt.Errorf("log file name %q: a plain file name is required", name)
	}
	planJSON, err := json.Marshal(struct {
		Hooks []Hook `json:"hooks"`
	}{plan.Hooks})
	if err != nil {
		return nil, Plan{}, err
	}
	sum := sha256.Sum256(planJSON)
	cfg, err := json.Marshal(map[string]any{
		"consentWords": consent, "refusalWords": refusal, "redact": opts.Redact,
		"console": opts.Console, "fileName": name, "maxLabel": maxLabel,
	})
	if err != nil {
		return nil, Plan{}, err
	}
	var buf bytes.Buffer
	err = tmpl.Execute(&buf, map[string]any{
		"Version":    Version,
		"APICount":   len(plan.Covered()),
		"HookCount":  len(plan.Hooks),
		"PlanSHA256": hex.EncodeToString(sum[:]),
		// JSON is valid JavaScript; text/template does not escape, and json.Marshal escapes <, >
		// and & and every string is quoted, so no catalogue text can end the literal.
		"PlanJSON":   indentJSON(planJSON),
		"ConfigJSON": string(cfg),
	})
	if err != nil {
		return nil, Plan{}, err
	}
	return buf.Bytes(), plan, nil
}

// indentJSON lays the plan out one hook per line so a diff of two scripts reads.
func indentJSON(b []byte) string {
	var v struct {
		Hooks []json.RawMessage `json:"hooks"`
	}
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	var sb strings.Builder
	sb.WriteString("{ hooks: [\n")
	for _, h := range v.Hooks {
		sb.WriteString("  ")
		sb.Write(h)
		sb.WriteString(",\n")
	}
	sb.WriteString("] }")
	return sb.String()
}
