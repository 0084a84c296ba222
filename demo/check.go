package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"pilmon/findings"
)

// Client is a logged-in session on the dashboard, as a browser would hold it.
type Client struct {
	base *url.URL
	hc   *http.Client
}

var csrfRE = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// Login opens a session on the dashboard at baseURL through its login form.
func Login(ctx context.Context, baseURL, user, password string) (*Client, error) {
	base, err := url.Parse(baseURL)
	if err != nil {
		return nil, err
	}
	jar, _ := cookiejar.New(nil)
	c := &Client{base: base, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	page, _, err := c.Get(ctx, "/login")
	if err != nil {
		return nil, err
	}
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		return nil, errors.New("demo: login page has no CSRF token")
	}
	form := url.Values{"_csrf": {m[1]}, "username": {user}, "password": {password}, "next": {"/"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.ResolveReference(&url.URL{Path: "/login"}).String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base.Scheme+"://"+base.Host)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.HasSuffix(resp.Request.URL.Path, "/login") {
		return nil, fmt.Errorf("demo: login as %s failed: HTTP %d at %s", user, resp.StatusCode, resp.Request.URL.Path)
	}
	return c, nil
}

// Get fetches a dashboard path and returns the body (up to 8 MiB) and the final status.
func (c *Client) Get(ctx context.Context, path string) (string, int, error) {
	u, err := c.base.Parse(path)
	if err != nil {
		return "", 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return "", resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), resp.StatusCode, fmt.Errorf("GET %s: HTTP %d", path, resp.StatusCode)
	}
	return string(b), resp.StatusCode, nil
}

// TargetFindings lists a target's findings through the JSON API.
func (c *Client) TargetFindings(ctx context.Context, targetID string) ([]findings.Finding, error) {
	var out []findings.Finding
	for page := 1; page <= 20; page++ {
		body, _, err := c.Get(ctx, "/api/v1/findings?per=100&page="+fmt.Sprint(page)+"&target="+url.QueryEscape(targetID))
		if err != nil {
			return nil, err
		}
		var l struct {
			Total    int64              `json:"total"`
			Findings []findings.Finding `json:"findings"`
		}
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			return nil, fmt.Errorf("demo: /api/v1/findings: %w", err)
		}
		out = append(out, l.Findings...)
		if int64(len(out)) >= l.Total || len(l.Findings) == 0 {
			break
		}
	}
	return out, nil
}

// CheckResult is what Check saw on the dashboard.
type CheckResult struct {
	// Findings per target id, as "rule subject".
	Findings map[string][]string
	// FindingPages are the pages checked, target id → /findings/<fp>.
	FindingPages map[string]string
}

// Check logs in to the dashboard as admin and asserts that every demo target shows its expected
// findings — in the JSON API and on the finding's own page — and that the clean target shows
// none. It needs the admin password of a fresh data dir.
func (d *Demo) Check(ctx context.Context) (CheckResult, error) {
	res := CheckResult{Findings: map[string][]string{}, FindingPages: map[string]string{}}
	if d.AdminPassword == "" {
		return res, errors.New("demo: the check logs in with the admin password of a fresh data dir; this data dir already had users")
	}
	if err := d.web.SyncIndex(ctx); err != nil {
		return res, err
	}
	c, err := Login(ctx, d.URL, "admin", d.AdminPassword)
	if err != nil {
		return res, err
	}
	var problems []string
	for _, tid := range TargetIDs {
		fs, err := c.TargetFindings(ctx, tid)
		if err != nil {
			return res, err
		}
		have := map[string]findings.Finding{}
		for _, f := range fs {
			have[f.RuleID+" "+f.Subject] = f
			res.Findings[tid] = append(res.Findings[tid], f.RuleID+" "+f.Subject)
		}
		sort.Strings(res.Findings[tid])
		want := Expected[tid]
		if len(want) == 0 && len(fs) > 0 {
			problems = append(problems, fmt.Sprintf("%s: want no findings, the dashboard shows %d: %s", tid, len(fs), strings.Join(res.Findings[tid], "; ")))
			continue
		}
		for i, e := range want {
			if e.NeedsAPK && d.APKMissing != "" {
				continue
			}
			f, ok := have[e.Rule+" "+e.Subject]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: missing %s %s (shown: %s)", tid, e.Rule, e.Subject, strings.Join(res.Findings[tid], "; ")))
				continue
			}
			if f.Tier != e.Tier {
				problems = append(problems, fmt.Sprintf("%s: %s %s is a %q (grade %s), want a %q", tid, e.Rule, e.Subject, f.Tier, f.Grade, e.Tier))
			}
			if i > 0 && res.FindingPages[tid] != "" && e.Shows == "" {
				continue
			}
			// the finding's own page shows the rule and its legal basis
			page := "/findings/" + f.Fingerprint
			body, _, err := c.Get(ctx, page)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", tid, err))
				continue
			}
			if !strings.Contains(body, f.RuleID) {
				problems = append(problems, fmt.Sprintf("%s: %s does not name rule %s", tid, page, f.RuleID))
			}
			if e.Shows != "" && !strings.Contains(body, e.Shows) {
				problems = append(problems, fmt.Sprintf("%s: %s (%s %s) does not show %q", tid, page, e.Rule, e.Subject, e.Shows))
			}
			if res.FindingPages[tid] == "" {
				res.FindingPages[tid] = page
			}
		}
	}
	// The app is watched at its download link: its page lists the version fetched there with the
	// provenance of the download.
	if d.APKMissing == "" {
		body, _, err := c.Get(ctx, "/targets/"+AppTargetID)
		switch {
		case err != nil:
			problems = append(problems, err.Error())
		case !strings.Contains(body, `id="versions"`) || !strings.Contains(body, DownloadURL):
			problems = append(problems, fmt.Sprintf("%s: the target page shows no version downloaded from %s", AppTargetID, DownloadURL))
		}
	}
	body, _, err := c.Get(ctx, "/")
	if err != nil {
		problems = append(problems, err.Error())
	} else if !strings.Contains(body, "</html>") {
		problems = append(problems, "overview page is not a full page")
	}
	if len(problems) > 0 {
		return res, errors.New("demo check failed / 演示检查未通过:\n  " + strings.Join(problems, "\n  "))
	}
	return res, nil
}
