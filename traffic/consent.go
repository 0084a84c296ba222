package traffic

import (
	"net/url"
	"regexp"
	"strings"
)

// Where the consent moment that splits a capture into phases came from (phase_source).
const (
	// PhaseSourceAnalyst: the analyst gave the time of the click (consent_at).
	PhaseSourceAnalyst = "analyst"
	// PhaseSourceMarker: pilmon's own capture recorded the click: the log._pilmon_consent marker that
	// live capture writes, a "pilmon:agree" page title, or a _pilmon_consent query parameter or
	// header a capture tool on the test phone adds to a request at the click.
	PhaseSourceMarker = "marker"
	// PhaseSourceEndpoint: the first request to a consent endpoint (the target's consent_url pattern,
	// else pilmon's built-in one). The app sent it because the user agreed, so what follows it is
	// after consent; what precedes it by more than endpointGrace is before it, unless the app kept
	// the agreement on the device and reported it later (the caveat says so).
	PhaseSourceEndpoint = "endpoint"
	// PhaseSourceNone: no consent moment is visible; every phase is unknown.
	PhaseSourceNone = "none"
)

// ConsentMarkerName is the name of pilmon's consent marker: the HAR log field live capture writes,
// and the query parameter or request header (value agree | refuse) other capture tools add.
const ConsentMarkerName = "_pilmon_consent"

// endpointGraceMS: requests this close before a consent endpoint request may already follow the
// click that caused it (the request leaves after the tap), so their phase is unknown.
const endpointGraceMS = 3000

// phaseSource maps the detailed source of a Consent to its phase_source.
func phaseSource(c *Consent) string {
	if c == nil {
		return PhaseSourceNone
	}
	switch c.Source {
	case "options":
		return PhaseSourceAnalyst
	case "har_marker", "page_title", "request_marker":
		return PhaseSourceMarker
	case "entry_pattern", "consent_endpoint":
		return PhaseSourceEndpoint
	}
	return PhaseSourceNone
}

// requestMarker returns agree | refuse when the request carries pilmon's marker as a query
// parameter or header ("X-Pilmon-Consent" is accepted as the header spelling too).
func requestMarker(e *Entry, u *url.URL) string {
	norm := func(v string) string {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "agree", "同意", "1", "true":
			return "agree"
		case "refuse", "拒绝", "0", "false":
			return "refuse"
		}
		return ""
	}
	if u.RawQuery != "" && strings.Contains(u.RawQuery, ConsentMarkerName) {
		if q, err := url.ParseQuery(u.RawQuery); err == nil {
			if a := norm(q.Get(ConsentMarkerName)); a != "" {
				return a
			}
		}
	}
	for _, h := range e.Request.Headers {
		n := strings.ToLower(strings.TrimSpace(string(h.Name)))
		if n == ConsentMarkerName || n == "x-pilmon-consent" {
			if a := norm(string(h.Value)); a != "" {
				return a
			}
		}
	}
	return ""
}

// Built-in consent endpoint words. A path token agree/agreed/consent or 同意, or one of
// privacy/policy/protocol/cookie next to agree/accept/confirm/consent ("privacyAgree",
// "accept_policy", "/privacy/confirm"). "agreement" is a document (用户协议), never the act, and
// refusals (disagree, refuse, reject, decline, 不同意, 拒绝) are not consent. In a query or body
// the whole key must be the word (isAgree, privacy_agree, consent), so an ad beacon's
// gdpr_consent field is not the user's act.
var (
	consentPathWord = regexp.MustCompile(`(?:^|[/_\-.=&?])(?:agree|agreed|consent|consented|同意)(?:$|[/_\-.=&?])|` +
		`(?:privacy|policy|protocol|cookies?|terms|隐私)[a-z_\-/]{0,12}(?:agree|accept|confirm|consent)|` +
		`(?:agree|accept|confirm|consent)[a-z_\-/]{0,12}(?:privacy|policy|protocol|cookies?|terms|隐私)`)
	consentBodyWord = regexp.MustCompile(`(?:^|[&?"'{,\s])(?:is_?)?(?:privacy_?|policy_?|protocol_?|user_?)?(?:agree|agreed|consent|accept)` +
		`(?:_?(?:privacy|policy|protocol|terms))?["']?\s*[:=]\s*["']?(?:true|1|yes|y|agree|同意)(?:$|[^a-z0-9])`)
	refusalWord = regexp.MustCompile(`disagree|refuse|reject|decline|deny|revoke|withdraw|不同意|拒绝|撤回`)
	staticPath  = regexp.MustCompile(`\.(?:js|mjs|css|png|jpe?g|gif|webp|svg|ico|woff2?|ttf|otf|eot|mp4|mp3|html?|txt|pdf|map)$`)
)

// staticTypes are HAR resource types that load the page, never report an action.
var staticTypes = map[string]bool{"script": true, "stylesheet": true, "image": true, "font": true, "media": true, "document": true, "manifest": true}

// consentEndpoint reports whether an entry looks like the app telling its server the user agreed:
// a non-static request whose path names the act, or whose query or body sets an agree/consent
// field to a true value. GET requests count only by their query (a GET to /privacy/agree is as
// often a status check as the act).
func consentEndpoint(e *Entry, u *url.URL) bool {
	if staticTypes[strings.ToLower(string(e.ResourceType))] {
		return false
	}
	path := strings.ToLower(unescapeLoose(u.EscapedPath()))
	path = strings.ReplaceAll(path, "agreement", "")
	if staticPath.MatchString(path) {
		return false
	}
	query := strings.ToLower(unescapeLoose(u.RawQuery))
	body := ""
	if pd := e.Request.PostData; pd != nil && !strings.Contains(strings.ToLower(string(pd.Encoding)+string(pd.XEncoding)), "base64") {
		body = strings.ToLower(truncate(string(pd.Text), 4096))
		for _, p := range pd.Params {
			body += "&" + strings.ToLower(string(p.Name)) + "=" + strings.ToLower(string(p.Value))
		}
	}
	if refusalWord.MatchString(path) || refusalWord.MatchString(query) || refusalWord.MatchString(body) {
		return false
	}
	method := strings.ToUpper(string(e.Request.Method))
	if method != "GET" && method != "HEAD" && method != "OPTIONS" && consentPathWord.MatchString(path) {
		return true
	}
	if method == "HEAD" || method == "OPTIONS" {
		return false
	}
	return consentBodyWord.MatchString(query) || consentBodyWord.MatchString(body)
}
