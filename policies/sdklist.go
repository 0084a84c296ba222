package policies

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"pilmon/rules"
	"pilmon/scanner"
)

// Limits on the SDK list reader: a list longer than this is not an SDK list a person reads, and a
// cell longer than this is not a name, a vendor or a purpose.
const (
	maxSDKRows  = 2000
	maxCellRune = 300
)

// SDKRow is one entry of the policy's third-party SDK list, as written, and the catalogue SDK it
// names ("" when none could be told).
type SDKRow struct {
	Name    string `json:"name"`
	Vendor  string `json:"vendor"`
	PI      string `json:"pi"`
	Purpose string `json:"purpose"`
	Quote   string `json:"quote"`
	Section string `json:"section"`
	SDK     string `json:"sdk"`
}

// The columns of an SDK list, recognised by their header (tables) or key (「SDK名称：…；使用目的：…」).
var sdkColumns = []struct {
	field string
	re    *regexp.Regexp
}{
	{"vendor", regexp.MustCompile(`(?i)提供方|提供者|公司|主体|运营方|开发者|厂商|第三方名称|合作方名称|vendor|provider|company`)},
	{"pi", regexp.MustCompile(`(?i)信息|数据|字段|personal data|information collected|data collected`)},
	{"purpose", regexp.MustCompile(`(?i)目的|用途|功能|场景|purpose|use`)},
	{"name", regexp.MustCompile(`(?i)SDK|名称|插件|name`)},
}

// sdkKey is a "key：value" segment of a list-form entry.
var sdkKey = regexp.MustCompile(`([^：:；;，,。|]{1,16})[：:]\s*([^；;。|]*)`)

func sdkField(header string) string {
	header = strings.TrimSpace(header)
	if header == "" || utf8.RuneCountInString(header) > 20 {
		return ""
	}
	for _, c := range sdkColumns {
		if c.re.MatchString(header) {
			return c.field
		}
	}
	return ""
}

func cell(s string) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxCellRune {
		s = string([]rune(s)[:maxCellRune])
	}
	return s
}

// SDKList reads the policy's SDK list: table rows under a header naming an SDK/name column, and
// list entries written as "SDK名称：…；提供方：…；收集信息：…；目的：…". Each entry is matched to the
// catalogue by the SDK's names, aliases and packages in its name cell (or the whole entry), else by
// its vendor cell when that vendor has exactly one catalogued SDK of the kind the entry describes.
func SDKList(a *Analysis, sdks []rules.SDK) []SDKRow {
	if a == nil || a.doc == nil {
		return nil
	}
	ps, err := loadPatterns()
	if err != nil {
		return nil
	}
	var out []SDKRow
	for _, s := range a.doc.Sections {
		title := s.Title()
		var cols map[int]string // the header of the table being read
		for _, b := range s.Blocks {
			if len(out) >= maxSDKRows {
				return out
			}
			if b.Kind == "row" && len(b.Cells) > 1 {
				if h := headerColumns(b.Cells); h != nil {
					cols = h
					continue
				}
				if cols == nil {
					continue
				}
				r := SDKRow{Quote: quote(b.Text), Section: title}
				for i, c := range b.Cells {
					setField(&r, cols[i], c)
				}
				if r.Name != "" || r.Vendor != "" {
					r.SDK = matchSDK(r, b.Text, sdks, ps.aliases)
					out = append(out, r)
				}
				continue
			}
			cols = nil
			if b.Kind == "row" {
				continue
			}
			// list form: at least a name and one more field, written as keys
			r := SDKRow{Quote: quote(b.Text), Section: title}
			n := 0
			for _, m := range sdkKey.FindAllStringSubmatch(b.Text, 16) {
				if f := sdkField(m[1]); f != "" && setField(&r, f, m[2]) {
					n++
				}
			}
			if r.Name != "" && n >= 2 {
				r.SDK = matchSDK(r, b.Text, sdks, ps.aliases)
				out = append(out, r)
			}
		}
	}
	return out
}

// headerColumns maps the columns of a header row to fields, or returns nil when the row is not a
// header: every cell a short column name, among them a name or vendor column and one other. A data
// row ("极光推送SDK | 深圳市…有限公司 | 设备标识符 | 消息推送") has cells no column name explains.
func headerColumns(cells []string) map[int]string {
	cols := map[int]string{}
	has := map[string]bool{}
	for i, c := range cells {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		f := sdkField(c)
		if f == "" || utf8.RuneCountInString(c) > 12 {
			return nil
		}
		if !has[f] {
			cols[i], has[f] = f, true
		}
	}
	if (has["name"] || has["vendor"]) && len(has) >= 2 {
		return cols
	}
	return nil
}

func setField(r *SDKRow, field, v string) bool {
	v = cell(v)
	if v == "" {
		return false
	}
	switch field {
	case "name":
		r.Name = v
	case "vendor":
		r.Vendor = v
	case "pi":
		r.PI = v
	case "purpose":
		r.Purpose = v
	default:
		return false
	}
	return true
}

// kindWords tells what kind of SDK an entry describes, for matching by vendor: a vendor (Tencent,
// Alibaba) often has several SDKs, and its name alone does not say which.
var kindWords = map[string]*regexp.Regexp{
	"push":                regexp.MustCompile(`(?i)推送|push`),
	"push_vendor":         regexp.MustCompile(`(?i)推送|push`),
	"analytics":           regexp.MustCompile(`(?i)统计|分析|analytics`),
	"ads":                 regexp.MustCompile(`(?i)广告|\bads?\b|advertis`),
	"crash":               regexp.MustCompile(`(?i)崩溃|异常|crash`),
	"map":                 regexp.MustCompile(`(?i)地图|定位|位置|map|location`),
	"payment":             regexp.MustCompile(`(?i)支付|payment|\bpay\b`),
	"login_share":         regexp.MustCompile(`(?i)分享|登录|share|login`),
	"login":               regexp.MustCompile(`(?i)登录|认证|login`),
	"risk_control":        regexp.MustCompile(`(?i)风控|安全|反作弊|risk|fraud`),
	"im":                  regexp.MustCompile(`(?i)即时通讯|聊天|消息|\bim\b|chat`),
	"voice":               regexp.MustCompile(`(?i)语音|voice|speech`),
	"device_id":           regexp.MustCompile(`(?i)设备标识|OAID|device id`),
	"webview":             regexp.MustCompile(`(?i)浏览|内核|webview`),
	"login_share_payment": regexp.MustCompile(`(?i)分享|登录|支付|share|login|pay`),
}

// vendorEntities are the company names of a catalogue vendor string ("A / B (note)").
func vendorEntities(v string) []string {
	v, _, _ = strings.Cut(v, " (")
	var out []string
	for _, e := range strings.Split(v, "/") {
		if e = strings.TrimSpace(e); utf8.RuneCountInString(e) >= 6 {
			out = append(out, e)
		}
	}
	return out
}

func matchSDK(r SDKRow, text string, sdks []rules.SDK, aliases map[string][]string) string {
	name := r.Name
	if name == "" {
		name = text
	}
	lower := strings.ToLower(name)
	for _, s := range sdks {
		for _, n := range []string{s.Name.ZH, s.Name.EN} {
			if core := nameCore(n); utf8.RuneCountInString(core) >= 4 && !(s.Origin == rules.OriginDerived && plainWord(core)) && containsKey(name, core) {
				return s.ID
			}
		}
		for _, al := range aliases[s.ID] {
			if containsKey(name, al) {
				return s.ID
			}
		}
		for _, p := range s.ClassPrefixes {
			if strings.Count(p, ".") >= 1 && len(p) >= 6 && containsKey(lower, strings.ToLower(p)) {
				return s.ID
			}
		}
	}
	if r.Vendor == "" {
		return ""
	}
	desc := r.Name + " " + r.Purpose
	var byVendor []string
	for _, s := range sdks {
		for _, e := range vendorEntities(s.Vendor) {
			if strings.Contains(r.Vendor, e) {
				if re := kindWords[s.Kind]; re != nil && re.MatchString(desc) {
					byVendor = append(byVendor, s.ID)
				}
				break
			}
		}
	}
	if len(byVendor) == 1 {
		return byVendor[0]
	}
	return "" // no vendor match, or several SDKs of that vendor and kind: say nothing
}

// SDKListObservations completes the policy.sdk_declared observations of obs with what the SDK list
// says of each SDK (name as written, vendor, PI, purpose) and adds one for each catalogued SDK the
// list names that the sentence reader did not find.
func SDKListObservations(obs []scanner.Observation, a *Analysis, sdks []rules.SDK, refs []string, name, version string) []scanner.Observation {
	idx := map[string]int{}
	for i, o := range obs {
		if o.Kind == "policy.sdk_declared" {
			idx[o.Subject] = i
		}
	}
	for _, r := range SDKList(a, sdks) {
		if r.SDK == "" {
			continue
		}
		attrs := map[string]any{"name": r.Name, "vendor": r.Vendor, "pi_text": r.PI, "purpose": r.Purpose}
		if i, ok := idx[r.SDK]; ok {
			if _, done := obs[i].Attributes["vendor"]; !done {
				for k, v := range attrs {
					obs[i].Attributes[k] = v
				}
			}
			continue
		}
		attrs["sdk"], attrs["quote"] = r.SDK, r.Quote
		obs = append(obs, scanner.Observation{Kind: "policy.sdk_declared", Subject: r.SDK, Attributes: attrs,
			EvidenceRefs: refs, Inspector: name, InspectorVersion: version})
		idx[r.SDK] = len(obs) - 1
	}
	return obs
}
