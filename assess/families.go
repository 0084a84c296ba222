package assess

import (
	"strings"

	"pilmon/rules"
	"pilmon/scanner"
)

// hit is what a family makes of one observation that fired a rule.
type hit struct {
	subject    string         // "" takes defaultSubject
	severity   rules.Severity // "" keeps the rule's
	confidence string
	reason     rules.Text
	context    []int // indexes of further observations to attach (consent events, the policy)
}

// family is one small function per rule family, registered with the violation ids it handles
// (like a detector with its keywords). refine may veto a match the triggers cannot rule out.
type family struct {
	name string
	ids  []string
	// categoryDependent: the rule's result depends on the app category, so a suggested category
	// lowers the confidence and the finding says the category was suggested.
	categoryDependent bool
	refine            func(sc *scanCtx, v *rules.Violation, o *scanner.Observation) (hit, bool)
}

// families lists every family. A violation id appears in at most one (a test checks that every
// automated violation of the catalogue appears in exactly one).
var families = []*family{
	{
		name:              "necessary_scope",
		ids:               []string{"rdff-4.1", "pipl-6-beyond-necessary-scope", "gbt41391-6.5-background-location"},
		categoryDependent: true,
		refine:            refineScope,
	},
	{
		name: "practice_vs_policy",
		ids: []string{"rdff-2.1", "rdff-2.3", "rdff-3.3", "rdff-3.9", "pipl-29-sensitive-without-separate-consent",
			"pipl-23-sharing-without-notice", "ndsr-21-no-sdk-list"},
		refine: refinePractice,
	},
	{
		name:   "consent_phase",
		ids:    []string{"rdff-3.1", "rdff-3.2", "pipl-29-sensitive-before-consent", "rdff-5.1"},
		refine: refineConsent,
	},
	{
		name: "policy_elements",
		ids: []string{"rdff-1.1", "rdff-3.8", "pipl-17-no-operator-identity", "pipl-17-no-contact", "pipl-17-no-retention-period",
			"pipl-17-no-purposes-by-function", "pipl-17-no-effective-date", "pipl-17-no-update-notice",
			"gbt35273-5.5-no-storage-location", "pipl-29-no-separate-consent-clause", "pipl-30-sensitive-not-marked"},
		refine: refineElements,
	},
	{
		name:   "deletion_rights",
		ids:    []string{"pipl-47-no-deletion", "pipl-50-no-rights-mechanism", "pipl-50-no-response-time", "rdff-6.5"},
		refine: refineElements,
	},
	{
		name:   "minors",
		ids:    []string{"pipl-31-minors-rules-missing"},
		refine: refineMinors,
	},
	{
		name: "sdk_risk",
		ids: []string{"gbt41391-6.6-sdk-collects-persistent-ids", "gbt41391-f-non-resettable-id", "gbt41391-app-list-read",
			"pipl-6-app-list-uploaded", "gbt41391-e-high-risk-permission", "miit164-self-start", "miit164-linked-start"},
		refine: refineSDKRisk,
	},
	{
		name:   "miniprogram",
		ids:    []string{"mp-undeclared-private-api", "mp-privacy-check-missing"},
		refine: refineBase,
	},
	{
		name:   "security",
		ids:    []string{"pipl-39-cross-border", "pipl-51-cleartext-pi", "pipl-51-cleartext-allowed", "pipl-51-debuggable", "pipl-51-allow-backup"},
		refine: refineBase,
	},
}

// genericFamily handles automated violations no family registered (an overlay, a new rule): the
// generic match with the default subject and confidence.
var genericFamily = &family{name: "generic", refine: refineBase}

var familyByID = func() map[string]*family {
	m := map[string]*family{}
	for _, f := range families {
		for _, id := range f.ids {
			m[id] = f
		}
	}
	return m
}()

func familyFor(id string) *family {
	if f, ok := familyByID[id]; ok {
		return f
	}
	return genericFamily
}

func refineBase(sc *scanCtx, _ *rules.Violation, o *scanner.Observation) (hit, bool) {
	return baseHit(sc, o), true
}

// baseHit gives the confidence that the kind of observation supports.
func baseHit(sc *scanCtx, o *scanner.Observation) hit {
	h := hit{}
	switch o.Kind {
	case "traffic.pi_sent":
		det := str(o, "detector")
		if kv, _ := boolAttr(o, "known_value"); kv {
			h.confidence = ConfidenceHigh
			h.reason = rules.Text{ZH: "抓包中匹配到测试机的真实标识（" + det + "）", EN: "observed in traffic: a device value the analyst supplied was matched (" + det + ")"}
		} else {
			h.confidence = ConfidenceMedium
			h.reason = rules.Text{ZH: "抓包中按特征识别（" + det + "），未与测试机真实值比对，需核对原始请求", EN: "observed in traffic by a pattern detector (" + det + "), not matched to a known device value; check the raw request"}
		}
	case "traffic.tracker_contacted":
		h.confidence = ConfidenceMedium
		h.reason = rules.Text{ZH: "抓包中观察到与追踪域名的连接，未识别出具体个人信息", EN: "observed in traffic: a connection to a tracker host, with no PI identified in it"}
	case "apk.permission":
		h.confidence = ConfidenceLow
		h.reason = rules.Text{ZH: "仅为清单声明的权限：说明具备收集能力，不能证明实际收集", EN: "static reference only: a manifest declaration is a capability, not proof of collection"}
	case "apk.sensitive_api":
		h.confidence = ConfidenceLow
		h.reason = rules.Text{ZH: "代码中的静态引用：说明具备收集能力，不能证明运行时调用", EN: "static reference only: code that can collect, not proof of collection"}
	case "apk.sdk", "mp.sdk":
		h.confidence = ConfidenceLow
		h.reason = rules.Text{ZH: "按代码特征识别 SDK，其收集范围来自公开说明而非本次观察", EN: "SDK recognised by code signatures; what it collects comes from published descriptions, not from this scan"}
	case "apk.manifest_flag":
		h.confidence = ConfidenceHigh
		h.reason = rules.Text{ZH: "直接读自安装包清单", EN: "read directly from the APK manifest"}
	case "apk.component":
		h.confidence = ConfidenceMedium
		h.reason = rules.Text{ZH: "清单中注册的组件，是否实际自启动需真机观察", EN: "a component registered in the manifest; whether it starts by itself needs a device"}
	case "mp.api_call":
		h.confidence = ConfidenceLow
		h.reason = rules.Text{ZH: "小程序代码中的静态调用：说明具备收集能力，不能证明实际收集", EN: "static call in the mini-program code: capability, not proof of collection"}
	case "mp.privacy_config", "mp.domain":
		h.confidence = ConfidenceMedium
		h.reason = rules.Text{ZH: "读自小程序配置与代码，平台规则可能变化", EN: "read from the mini-program's configuration and code; platform rules change"}
	case "scan.inventory":
		h.confidence = ConfidenceMedium
		h.reason = rules.Text{ZH: "本次扫描未取得隐私政策，安装包内也未发现政策链接或资源", EN: "no policy was captured in this scan and the package references none"}
	default: // policy.*
		h.confidence = ConfidenceMedium
		h.reason = rules.Text{ZH: "隐私政策文本按规则分析，需人工通读核对", EN: "the policy text was analysed by patterns; read it to confirm"}
	}
	return h
}

// Categories whose functions may really need location in the background.
var backgroundLocationCategories = map[string]bool{"map_navigation": true, "ride_hailing": true, "vehicle_services": true, "fitness": true, "postal_express": true}

func refineScope(sc *scanCtx, v *rules.Violation, o *scanner.Observation) (hit, bool) {
	h := baseHit(sc, o)
	if v.ID == "gbt41391-6.5-background-location" && backgroundLocationCategories[sc.category.Key] {
		h.severity = "low"
		h.reason = joinText(h.reason, rules.Text{ZH: "该类别的功能可能确需后台定位", EN: "functions of this category may really need background location"})
	}
	return h, true
}

func refinePractice(sc *scanCtx, v *rules.Violation, o *scanner.Observation) (hit, bool) {
	h := baseHit(sc, o)
	switch v.ID {
	case "rdff-3.3":
		// one finding per PI type sent but not declared, with every host it went to
		h.subject = "pi:" + strings.Join(strs(o, "pi"), "+")
	case "pipl-23-sharing-without-notice", "ndsr-21-no-sdk-list":
		if !sc.isPrivacyPolicy() {
			return h, false // rdff-1.1 says the document is no privacy policy
		}
	}
	if strings.HasPrefix(o.Kind, "traffic.") {
		h.context = sc.byKind["traffic.consent_event"]
	}
	return h, true
}

func refineConsent(sc *scanCtx, v *rules.Violation, o *scanner.Observation) (hit, bool) {
	h := baseHit(sc, o)
	h.context = sc.byKind["traffic.consent_event"]
	return h, true
}

// isPrivacyPolicy is false only when every captured policy document is known not to be one.
func (sc *scanCtx) isPrivacyPolicy() bool {
	docs := sc.byKind["policy.document"]
	if len(docs) == 0 {
		return true
	}
	for _, i := range docs {
		if b, ok := boolAttr(&sc.obs[i], "is_privacy_policy"); !ok || b {
			return true
		}
	}
	return false
}

func refineElements(sc *scanCtx, v *rules.Violation, o *scanner.Observation) (hit, bool) {
	h := baseHit(sc, o)
	if o.Kind == "scan.inventory" && !sc.has("apk.identity") && !sc.has("mp.identity") {
		// the package could not be read (no manifest, no app.json): the absence of a policy
		// link in it says nothing
		return h, false
	}
	if o.Kind == "scan.inventory" && sc.has("apk.packer") {
		h.confidence = ConfidenceLow
		h.reason = joinText(h.reason, rules.Text{ZH: "安装包已加固，代码中的政策链接可能无法读取", EN: "the APK is packed, so policy links in its code may be unreadable"})
	}
	if o.Kind == "policy.element" && v.ID != "rdff-1.1" && !sc.isPrivacyPolicy() {
		// a terms-of-service page lacks every element; rdff-1.1 carries that one claim
		return h, false
	}
	switch v.ID {
	case "pipl-29-no-separate-consent-clause", "pipl-30-sensitive-not-marked":
		if len(sc.sensitiveSeen) > 0 {
			h.reason = joinText(h.reason, rules.Text{ZH: "本次扫描见到敏感个人信息：" + piNames(sc.cat, sc.sensitiveSeen, "zh"),
				EN: "this scan saw sensitive PI: " + piNames(sc.cat, sc.sensitiveSeen, "en")})
		} else if sc.hasApp() || sc.has("traffic.pi_sent") {
			h.severity = "low"
			h.reason = joinText(h.reason, rules.Text{ZH: "本次扫描未见处理敏感个人信息，仅为告知瑕疵", EN: "this scan saw no sensitive PI being processed: a notice defect only"})
		}
	}
	return h, true
}

func refineMinors(sc *scanCtx, _ *rules.Violation, o *scanner.Observation) (hit, bool) {
	h := baseHit(sc, o)
	if !sc.isPrivacyPolicy() {
		return h, false
	}
	switch {
	case sc.minors != "":
		h.reason = joinText(h.reason, rules.Text{ZH: "对象可能面向未成年人（" + sc.minors + "）", EN: "the target may be used by minors (" + sc.minors + ")"})
	case sc.category.Key != "":
		// an adult service by its category, and nothing in names or titles suggests children:
		// PIPL Art. 31 applies only to PI of children under 14
		return h, false
	default:
		h.severity = "low"
		h.confidence = ConfidenceLow
		h.reason = rules.Text{ZH: "未能判断对象是否面向未成年人（无类别、名称中无相关线索）；第三十一条仅在处理不满十四周岁者信息时适用",
			EN: "could not tell whether the target is used by minors (no category, no clue in its names); Art. 31 applies only to PI of children under 14"}
	}
	return h, true
}

// Categories whose function can need the list of installed apps.
var appListCategories = map[string]bool{"app_store": true, "security": true}

func refineSDKRisk(sc *scanCtx, v *rules.Violation, o *scanner.Observation) (hit, bool) {
	h := baseHit(sc, o)
	switch v.ID {
	case "gbt41391-f-non-resettable-id":
		if o.Kind == "apk.sensitive_api" && sc.targetSDK >= 29 {
			only := true
			for _, p := range strs(o, "pi") {
				if p != "device_id_hw" && p != "device_id_sim" {
					only = false
				}
			}
			if only {
				h.reason = joinText(h.reason, rules.Text{ZH: "targetSdkVersion ≥ 29：Android 10 起普通应用读取 IMEI/IMSI 会失败", EN: "targetSdkVersion ≥ 29: ordinary apps cannot read IMEI/IMSI since Android 10"})
			}
		}
	case "gbt41391-app-list-read", "pipl-6-app-list-uploaded":
		if appListCategories[sc.category.Key] {
			h.severity = "low"
			h.reason = joinText(h.reason, rules.Text{ZH: "该类别的功能可能需要应用列表（须单独同意）", EN: "functions of this category may need the app list (with separate consent)"})
		}
	}
	return h, true
}
