package traffic

import "time"

// CaptureOptions configure a live capture of an H5 page.
type CaptureOptions struct {
	// ConsentSelector is a CSS selector of the consent control; when empty, a button or link whose
	// text matches 同意/Agree/接受 is clicked (only when Consent is "agree").
	ConsentSelector string
	// RefuseSelector is the refusal control; when empty, text matching 拒绝/不同意/Refuse/Decline.
	RefuseSelector string
	// Action is "" (load only), "agree" or "refuse".
	Action string
	// IdleQuiet is how long without requests counts as network idle (default 1 s); IdleTimeout caps
	// each wait (default 15 s); TotalTimeout caps the whole capture (default 90 s).
	IdleQuiet, IdleTimeout, TotalTimeout time.Duration
	// MaxBodyBytes bounds each request/response body kept (default 1 MiB); MaxEntries bounds the HAR.
	MaxBodyBytes int
	MaxEntries   int
}
