package findings

import (
	"strings"

	"pilmon/rules"
)

// A finding's subject is an identity (stable across re-scans, part of the fingerprint), written
// in the grammar of the observation kinds' finding_subject templates: "pi:device_id_hw->host",
// "api:telephony.getDeviceId@sdk:umeng_analytics", "perm:android.permission.READ_CONTACTS"…
// Describe turns it into words a prosecutor reads, from the catalogue's names; the subject itself
// stays what the record is keyed and exported by.

// ManualSubjectPrefix begins the subject of a finding an analyst recorded from the checklist
// ("checklist:<rule id>"): one per target and item.
const ManualSubjectPrefix = "checklist:"

// Describe returns the subject in words, in both languages. A subject it cannot read (an older
// grammar, a hand-written subject) is returned as it is.
func Describe(cat *rules.Catalogue, subject string) rules.Text {
	kind, rest, ok := strings.Cut(subject, ":")
	if !ok || rest == "" || cat == nil {
		return rules.Text{ZH: subject, EN: subject}
	}
	switch kind {
	case "pi":
		if pis, host, ok := strings.Cut(rest, "->"); ok {
			names := piNames(cat, pis)
			to := hostWords(cat, host)
			return rules.Text{ZH: names.ZH + " 发送至 " + to.ZH, EN: names.EN + " sent to " + to.EN}
		}
		if pis, party, ok := strings.Cut(rest, "@"); ok {
			names, by := piNames(cat, pis), partyWords(cat, party)
			return rules.Text{ZH: names.ZH + "（" + by.ZH + "）", EN: names.EN + " (" + by.EN + ")"}
		}
		return piNames(cat, rest)
	case "runtime":
		pis, party, _ := strings.Cut(rest, "@")
		names, by := piNames(cat, pis), partyWords(cat, party)
		return rules.Text{ZH: "运行时读取" + names.ZH + "（" + by.ZH + "）", EN: "reads " + names.EN + " at run time (" + by.EN + ")"}
	case "api", "runfreq":
		api, party, _ := strings.Cut(rest, "@")
		a := apiWords(cat, api)
		if kind == "runfreq" {
			a = rules.Text{ZH: "频繁调用" + a.ZH, EN: "frequent calls: " + a.EN}
		}
		if party == "" {
			return a
		}
		by := partyWords(cat, party)
		return rules.Text{ZH: a.ZH + "（" + by.ZH + "）", EN: a.EN + " (" + by.EN + ")"}
	case "perm":
		if p, ok := cat.Permission(rest); ok && p.Description.ZH != "" {
			return rules.Text{ZH: "权限 " + rest + "（" + p.Description.ZH + "）", EN: "permission " + rest + " (" + orText(p.Description.EN, p.Description.ZH) + ")"}
		}
		return rules.Text{ZH: "权限 " + rest, EN: "permission " + rest}
	case "sdk":
		w := sdkWords(cat, rest)
		return rules.Text{ZH: "第三方SDK " + w.ZH, EN: "third-party SDK " + w.EN}
	case "host", "tracker":
		w := hostWords(cat, rest)
		return rules.Text{ZH: "连接 " + w.ZH, EN: "connects to " + w.EN}
	case "element":
		if e, ok := cat.PolicyElement(rest); ok {
			return rules.Text{ZH: "隐私政策要素：" + e.Name.ZH, EN: "policy element: " + orText(e.Name.EN, e.Name.ZH)}
		}
	case "mpapi":
		return rules.Text{ZH: "小程序接口 " + rest, EN: "mini-program API " + rest}
	case "mpconfig":
		return rules.Text{ZH: "小程序配置 " + rest, EN: "mini-program setting " + rest}
	case "flag":
		return rules.Text{ZH: "清单设置 " + rest, EN: "manifest setting " + rest}
	case "component":
		return rules.Text{ZH: "组件 " + rest, EN: "component " + rest}
	case "policy":
		switch rest {
		case "none":
			return rules.Text{ZH: "未找到隐私政策", EN: "no privacy policy found"}
		case "not_privacy_policy":
			return rules.Text{ZH: "所给文件不是隐私政策", EN: "the document given is not a privacy policy"}
		}
		return rules.Text{ZH: "隐私政策", EN: "privacy policy"}
	case "checklist":
		if v, ok := cat.Violation(rest); ok {
			return rules.Text{ZH: "人工检测：" + v.Title.ZH, EN: "manual test: " + orText(v.Title.EN, v.Title.ZH)}
		}
	}
	return rules.Text{ZH: subject, EN: subject}
}

func orText(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// piNames names the PI categories of a "+"-joined list.
func piNames(cat *rules.Catalogue, list string) rules.Text {
	var zh, en []string
	for _, id := range strings.Split(list, "+") {
		if p, ok := cat.PICategory(id); ok {
			zh, en = append(zh, p.Name.ZH), append(en, orText(p.Name.EN, p.Name.ZH))
		} else {
			zh, en = append(zh, id), append(en, id)
		}
	}
	return rules.Text{ZH: strings.Join(zh, "、"), EN: strings.Join(en, ", ")}
}

// hostWords is a host with the SDK whose domain it is, when the catalogue knows one.
func hostWords(cat *rules.Catalogue, host string) rules.Text {
	if s, ok := cat.SDKForHost(host); ok {
		return rules.Text{ZH: host + "（" + s.Name.ZH + "）", EN: host + " (" + orText(s.Name.EN, s.Name.ZH) + ")"}
	}
	return rules.Text{ZH: host, EN: host}
}

func sdkWords(cat *rules.Catalogue, id string) rules.Text {
	if s, ok := cat.SDK(id); ok {
		return rules.Text{ZH: orText(s.Name.ZH, s.Name.EN), EN: orText(s.Name.EN, s.Name.ZH)}
	}
	return rules.Text{ZH: id, EN: id}
}

// partyWords names whose code it is: the app's own, an SDK's, a library's, or unidentified.
func partyWords(cat *rules.Catalogue, party string) rules.Text {
	switch {
	case party == "app":
		return rules.Text{ZH: "应用自身代码", EN: "the app's own code"}
	case party == "unidentified":
		return rules.Text{ZH: "未识别的代码", EN: "unidentified code"}
	case strings.HasPrefix(party, "sdk:"):
		w := sdkWords(cat, party[4:])
		return rules.Text{ZH: w.ZH + " SDK", EN: w.EN + " SDK"}
	case strings.HasPrefix(party, "library:"):
		if l, ok := cat.Library(party[8:]); ok {
			return rules.Text{ZH: "开源库 " + l.Name, EN: "library " + l.Name}
		}
	}
	return rules.Text{ZH: party, EN: party}
}

func apiWords(cat *rules.Catalogue, api string) rules.Text {
	if a, ok := cat.SensitiveAPI(api); ok && a.Description.ZH != "" {
		return rules.Text{ZH: a.Description.ZH + "（" + api + "）", EN: orText(a.Description.EN, a.Description.ZH) + " (" + api + ")"}
	}
	return rules.Text{ZH: "调用 " + api, EN: "calls " + api}
}
