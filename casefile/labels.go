package casefile

import "strings"

// labels are the report's fixed texts in one language.
type labels struct {
	ReportTitle, Subtitle, Cover, TOC, Summary, FindingsH, Custody, EvidenceAnnex, Verification      string
	Target, TargetKind, Operator, Category, ScanPeriod, ScanID, ExportedAt, ExportedBy, Tool, KeyFP  string
	Count, Findings, Evidence, BySeverity, ByState, No, Rule, Title, Subject, Severity, State        string
	Fingerprint, LegalBasis, ArticleText, Observed, Caveat, EvidenceList, Screenshot, History        string
	FirstSeen, LastSeen, LastScan, NotReobs, Confidence, Kind, Attributes, Inspector, MoreObs        string
	SHA256, SM3, Size, MediaType, CapturedAt, Method, Source, Seq, Member, At, Actor, From, To, Note string
	Document, Deadline, NoHistory, NoEvidence, Unverified, Mixed, PageBefore, PageOf, PageAfter      string
	Disclaimer, Volume, VolumeFmt, VolMain, VolFindings, VolEvidence, Articles, SeeArticles          string
	Tier, Grade, Rendered                                                                            string
	// ShotReduced and ShotOriginal caption a screenshot (printf: its pixels, then the
	// original's); MoreShots counts those not shown.
	ShotReduced, ShotOriginal, MoreShots string
	policyLabels
	caseLabels
}

// policyLabels are the texts of the privacy-policy version diff (policydiff.go).
type policyLabels struct {
	PolicyH, PolicyNote, PolicyOldRec, PolicyOldFirst, PolicyNew, PolicySame, PolicyElements, PolicyElement string
	PolicyBefore, PolicyAfter, PolicyQuote, PolicyPresent, PolicyAbsent, PolicyPI, PolicySDK, PolicyText    string
	PolicyAdded, PolicyRemoved, PolicyUntitled, PolicyMore                                                  string
}

var zhPolicyLabels = policyLabels{
	PolicyH: "隐私政策版本变化", PolicyNote: "同一来源采集到多个版本时，比较检察建议时（无检察建议时为最早采集）的版本与最新版本；两个版本的原件均在证据包中。",
	PolicyOldRec: "检察建议时的版本", PolicyOldFirst: "最早采集的版本", PolicyNew: "最新版本",
	PolicySame: "两个版本内容相同（SHA-256 一致），未发生变化。", PolicyElements: "应具备内容的变化", PolicyElement: "内容",
	PolicyBefore: "原版本", PolicyAfter: "新版本", PolicyQuote: "新版本原文", PolicyPresent: "有", PolicyAbsent: "无",
	PolicyPI: "声明收集的个人信息：", PolicySDK: "声明的第三方 SDK：", PolicyText: "条款文字的变化",
	PolicyAdded: "新增：", PolicyRemoved: "删除：", PolicyUntitled: "（无标题部分）",
	PolicyMore: "另有 %d 句变化未在此列出，见证据包中两个版本的原件。",
}

var enPolicyLabels = policyLabels{
	PolicyH: "Privacy policy versions", PolicyNote: "Where one source was captured in several versions, the version current at the procuratorial recommendation (else the earliest captured) is compared with the newest; both originals are in the bundle.",
	PolicyOldRec: "Version at the recommendation", PolicyOldFirst: "Earliest version captured", PolicyNew: "Newest version",
	PolicySame: "Both versions are identical (same SHA-256): no change.", PolicyElements: "Mandated elements that changed", PolicyElement: "Element",
	PolicyBefore: "Before", PolicyAfter: "After", PolicyQuote: "Text in the newer version", PolicyPresent: "present", PolicyAbsent: "absent",
	PolicyPI: "Personal information declared:", PolicySDK: "Third-party SDKs declared:", PolicyText: "Changed text",
	PolicyAdded: "added: ", PolicyRemoved: "removed: ", PolicyUntitled: "(untitled part)",
	PolicyMore: "%d more changed sentences are not listed here: see both originals in the bundle.",
}

// caseLabels are the texts of the case blocks: cover identity, the 违法事实汇总表, the register.
type caseLabels struct {
	CaseH, AppH, EnvH, ReportNo, CaseNo, CaseType, Procuratorate, Handlers, Analysts, LeadSource string
	USCC, Address, Agency, AgencyBasis, Scale, AppName, Package, Version, APKHash, APKSM3        string
	Signer, SignerHash, Obtained, ObtainedAt, FinalURL, TLS, Device, OS, Tools, Sessions         string
	TimeNote, ItemsH, ItemsRule, Item, Mark, Basis, ItemFindings, PIPLH, Article, RegisterH      string
	DocKind, DocNo, DocDate, DocHash, DeadlinesH, Due, DueStatus, NotStated, LeadBadge, PageCol  string
	Group, ExcerptH, NoticeLeads, MoreRefs                                                       string
}

var zhCaseLabels = caseLabels{
	CaseH: "案件信息", AppH: "被检测应用", EnvH: "检测环境", ReportNo: "报告编号", CaseNo: "案号", CaseType: "案件类型",
	Procuratorate: "检察院", Handlers: "承办人", Analysts: "检测人员", LeadSource: "线索来源",
	USCC: "统一社会信用代码", Address: "住所地", Agency: "被建议单位", AgencyBasis: "监管职责依据", Scale: "涉及规模",
	AppName: "应用名称", Package: "包名", Version: "版本名称 / 版本号", APKHash: "安装包 SHA-256",
	APKSM3: "安装包 SM3", Signer: "签名证书主体", SignerHash: "签名证书 SHA-256", Obtained: "取得方式与来源",
	ObtainedAt: "取得时间", FinalURL: "最终下载地址", TLS: "TLS 证书链", Device: "测试机型号", OS: "系统版本",
	Tools: "检测工具及版本", Sessions: "运行时记录", TimeNote: "本报告所有时间均为北京时间（UTC+8）。",
	ItemsH:    "一、违法事实汇总表",
	ItemsRule: "判定规则：“不符合”指至少一条认定事实（记录本身即可证明）指向该项；“符合”仅在该项为自动检测、规则声明了所需输入、本次扫描具备这些输入（未列入扫描报告的“未能判断”清单）且本案卷内外均无该项记录时标注，仅表示自动检测范围内未发现问题；其余一律为“未检测”，并注明原因（人工检查项、仅有待核实线索、输入不足等）。序号后带 * 者为待核实线索。",
	Item:      "《认定方法》条目", Mark: "结论", Basis: "说明", ItemFindings: "相关记录（序号）", PIPLH: "《个人信息保护法》相关条款",
	Article: "条款", RegisterH: "文书登记", DocKind: "文书", DocNo: "文号", DocDate: "日期", DocHash: "文件 SHA-256",
	DeadlinesH: "期限", Due: "到期日", DueStatus: "状态", NotStated: "未载明", LeadBadge: "待核实：需在测试机上确认",
	PageCol: "页码", Group: "法律条目", ExcerptH: "请求摘录", NoticeLeads: "另有待核实线索 %d 条（未列入）", MoreRefs: "等，另 %d 条",
}

var enCaseLabels = caseLabels{
	CaseH: "Case", AppH: "App under test", EnvH: "Test environment", ReportNo: "Report no.", CaseNo: "Case no.",
	CaseType: "Case type", Procuratorate: "Procuratorate", Handlers: "Prosecutors in charge", Analysts: "Analysts",
	LeadSource: "Lead source", USCC: "Unified social credit code", Address: "Address", Agency: "Competent agency",
	AgencyBasis: "Legal basis of its duty", Scale: "Scale", AppName: "App name", Package: "Package",
	Version: "Version (versionName / versionCode)", APKHash: "APK SHA-256", APKSM3: "APK SM3", Signer: "Signer certificate subject",
	SignerHash: "Signer certificate SHA-256", Obtained: "Obtained from", ObtainedAt: "Obtained at", FinalURL: "Final download URL",
	TLS: "TLS chain", Device: "Test phone", OS: "OS version", Tools: "Tools and versions", Sessions: "Runtime logs",
	TimeNote: "All times in this report are Beijing time (UTC+8).", ItemsH: "1. Summary of facts by legal item",
	ItemsRule: "Rule: 'not compliant' means at least one established finding (the record alone shows it) stands behind the item; 'compliant' only where the item is checked automatically, its rule declares the inputs it needs, this scan had them (it is not in the scan report's not-assessed list) and no record of it exists in or outside this export, and it means only that the automated check found nothing; everything else is 'not tested', with the reason. A record number marked * is a lead.",
	Item:      "Item (2019 Methods)", Mark: "Result", Basis: "Note", ItemFindings: "Records (no.)", PIPLH: "PIPL articles", Article: "Article",
	RegisterH: "Document register", DocKind: "Document", DocNo: "Number", DocDate: "Date", DocHash: "File SHA-256",
	DeadlinesH: "Deadlines", Due: "Due", DueStatus: "Status", NotStated: "not stated", LeadBadge: "To verify on a test phone",
	PageCol: "Page", Group: "Legal item", ExcerptH: "Request excerpt", NoticeLeads: "and %d lead(s) to verify (not listed)", MoreRefs: "and %d more",
}

var zhLabels = labels{
	ReportTitle: "个人信息保护公益诉讼线索案卷", Subtitle: "pilmon 自动监测发现及证据报告", Cover: "封面", TOC: "目录",
	Summary: "二、发现概要", FindingsH: "三、发现详情", Custody: "四、保管链与证据清单", EvidenceAnnex: "证据清单",
	Verification: "五、校验说明",
	Target:       "监测对象", TargetKind: "对象类型", Operator: "运营者", Category: "App 类别", ScanPeriod: "监测期间",
	ScanID: "扫描编号", ExportedAt: "导出时间", ExportedBy: "导出人", Tool: "导出工具", KeyFP: "签名公钥指纹（SHA-256）",
	Count: "数量", Findings: "发现", Evidence: "证据", BySeverity: "按严重度", ByState: "按处理状态", No: "序号",
	Rule: "规则", Title: "标题", Subject: "主体", Severity: "严重度", State: "状态", Fingerprint: "指纹",
	LegalBasis: "法律依据", ArticleText: "条文", Observed: "观察到的事实", Caveat: "需人工核实", EvidenceList: "证据",
	Screenshot: "截图", History: "处理记录",
	ShotReduced:  "为便于打印缩小的副本（%d×%d 像素；原件 %d×%d 像素，在证据包中），原件 SHA-256：",
	ShotOriginal: "原件（%d×%d 像素），SHA-256：", MoreShots: "另有 %d 张截图未在此显示，见上方证据清单（按 SHA-256）。", FirstSeen: "首次发现", LastSeen: "最近发现", LastScan: "最近扫描",
	NotReobs: "此后未再观察到（扫描）", Confidence: "置信度", Kind: "类型", Attributes: "属性", Inspector: "检查器",
	MoreObs: "另有 %d 条观察，见 findings.json", SHA256: "SHA-256", SM3: "SM3", Size: "大小", MediaType: "媒体类型",
	CapturedAt: "采集时间", Method: "采集方式", Source: "来源", Seq: "次序", Member: "包内文件", At: "时间",
	Actor: "操作人", From: "原状态", To: "新状态", Note: "说明", Document: "文书", Deadline: "期限",
	NoHistory: "尚无处理记录。", NoEvidence: "无", Unverified: "条文为摘要或未经核对，以官方文本为准",
	Mixed: "（多个对象）", PageBefore: "第 ", PageOf: " 页 共 ", PageAfter: " 页",
	Volume: "分册", VolumeFmt: "第 %d 册，共 %d 册：%s", VolMain: "概要、处理记录、校验说明",
	VolFindings: "发现第 %d–%d 项", VolEvidence: "证据第 %d–%d 件", Articles: "六、法律依据条文",
	SeeArticles: "条文见第六部分", Tier: "层级", Grade: "证据类型", Rendered: "同次采集的页面截图（页面原件以 .txt 命名，勿在浏览器中打开）",
	Disclaimer: "本报告由自动监测生成。“认定事实”为记录本身即可证明标题所述事实者（运行时观察或运营者自身声明），“待核实线索”为代码能力、特征识别或比对所得，需经办案人员核实；均须结合案情判断是否违法。证据文件的完整性可按第五部分校验。",
}

var enLabels = labels{
	ReportTitle: "Case file: personal-information public-interest litigation leads", Subtitle: "pilmon findings and evidence report",
	Cover: "Cover", TOC: "Contents", Summary: "2. Overview", FindingsH: "3. Findings", Custody: "4. Chain of custody and evidence list",
	EvidenceAnnex: "Evidence list", Verification: "5. Verification",
	Target: "Target", TargetKind: "Kind", Operator: "Operator", Category: "App category", ScanPeriod: "Observed between",
	ScanID: "Scan", ExportedAt: "Exported at", ExportedBy: "Exported by", Tool: "Tool", KeyFP: "Signing key fingerprint (SHA-256)",
	Count: "Count", Findings: "Findings", Evidence: "Evidence", BySeverity: "By severity", ByState: "By state", No: "No.",
	Rule: "Rule", Title: "Title", Subject: "Subject", Severity: "Severity", State: "State", Fingerprint: "Fingerprint",
	LegalBasis: "Legal basis", ArticleText: "Text", Observed: "What was observed", Caveat: "To confirm by hand",
	EvidenceList: "Evidence", Screenshot: "Screenshot", History: "History",
	ShotReduced:  "Copy reduced for print (%d×%d px; the original, %d×%d px, is in the bundle), original's SHA-256 ",
	ShotOriginal: "The original (%d×%d px), SHA-256 ", MoreShots: "%d more screenshots are not shown here: see the evidence list above (by SHA-256).", FirstSeen: "First seen", LastSeen: "Last seen",
	LastScan: "Last scan", NotReobs: "Not re-observed since scan", Confidence: "Confidence", Kind: "Kind",
	Attributes: "Attributes", Inspector: "Inspector", MoreObs: "%d more observations in findings.json", SHA256: "SHA-256",
	SM3: "SM3", Size: "Size", MediaType: "Media type", CapturedAt: "Captured at", Method: "Method", Source: "Source",
	Seq: "Seq", Member: "Bundle member", At: "At", Actor: "Actor", From: "From", To: "To", Note: "Note",
	Document: "Document", Deadline: "Deadline", NoHistory: "No history yet.", NoEvidence: "none",
	Unverified: "article text summarised or not checked; the official text prevails", Mixed: "(several targets)",
	PageBefore: "Page ", PageOf: " of ", PageAfter: "",
	Volume: "Volume", VolumeFmt: "Volume %d of %d: %s", VolMain: "summary, history, verification",
	VolFindings: "findings %d–%d", VolEvidence: "evidence %d–%d", Articles: "6. Cited provisions",
	SeeArticles: "texts in section 6", Tier: "Tier", Grade: "Evidence", Rendered: "Screenshot of the same capture (the page itself is named .txt: do not open it in a browser)",
	Disclaimer: "Generated by automated monitoring. Established findings rest on records that alone show what their titles state (behaviour observed at run time or the operator's own declarations); leads come from code capability, patterns or comparisons and must be verified by case officers; whether either is unlawful is for the case. The integrity of every evidence file can be checked as section 5 explains.",
}

func labelsFor(lang string) labels {
	if lang == "en" {
		l := enLabels
		l.caseLabels, l.policyLabels = enCaseLabels, enPolicyLabels
		return l
	}
	l := zhLabels
	l.caseLabels, l.policyLabels = zhCaseLabels, zhPolicyLabels
	return l
}

// verifyParagraph is the short verification note the PDF prints.
func verifyParagraph(lang string) string {
	if lang == "en" {
		return `This report is one member of an evidence bundle (.zip). manifest.json in the bundle lists every member with its SHA-256 and SM3 digest, size and capture records, and is signed with the installation's ed25519 key (signature.ed25519); its fingerprint is on the cover.
Run "pilmon verify bundle.zip --pubkey publickey.pem" with the key obtained from the exporting office: it re-computes every digest offline and names any member added, removed or altered, and a bad signature.
Without pilmon: VERIFY.txt in the bundle gives the openssl and sha256sum commands.
Captured web pages, graphics and scripts (evidence/….html.txt, ….mhtml.txt, ….svg.txt, ….js.txt) are the investigated party's code, unaltered but named .txt so that they do not run when opened: read them in a text editor, look at the screenshot of the same capture (the "rendered" field in manifest.json) to see the page, and open a page in a browser only in an isolated, offline environment with scripts disabled.`
	}
	return `本报告是证据包（.zip）中的一个文件。证据包内 manifest.json 列出每个文件的 SHA-256 与 SM3 摘要、大小及采集记录，并以本系统的 ed25519 密钥签名（signature.ed25519），公钥指纹见封面。
校验方法：向导出单位取得公钥后执行 "pilmon verify bundle.zip --pubkey publickey.pem"，程序离线重新计算全部摘要，并指出被添加、删除或改动的文件以及无效的签名。
不使用 pilmon：证据包内 VERIFY.txt 给出以 openssl 与 sha256sum 校验的命令。
采集的网页、图形与脚本（evidence/….html.txt、….mhtml.txt、….svg.txt、….js.txt）是被调查方的代码原件，未作改动，仅以 .txt 命名以免打开时运行：请用文本编辑器查看，页面外观见同次采集的截图（manifest.json 中的 rendered 字段）；确需用浏览器打开时，只在断网的隔离环境中禁用脚本后打开。`
}

// verifyText is VERIFY.txt, Chinese first.
func verifyText(fingerprint string) []byte {
	t := `证据包校验说明 / How to verify this evidence bundle
==================================================

签名公钥指纹 / signing key fingerprint (SHA-256 of the 32-byte ed25519 key):
    ` + GroupFingerprint(fingerprint) + `
请与导出单位公布的指纹（看板、报告封面）核对。
Compare it with the fingerprint the exporting office publishes (dashboard, report cover).

一、使用 pilmon（离线，无需网络与数据库）
    pilmon verify bundle.zip --pubkey 导出单位提供的公钥.pem
  退出码 0 表示全部一致；1 表示校验失败，并列出被添加、删除或改动的文件及签名问题。
  未提供 --pubkey 时使用包内 publickey.pem，只能证明包未被改动，不能证明签名者身份。

二、不使用 pilmon（openssl 3、sha256sum、unzip）
  1. 解压：unzip bundle.zip -d bundle && cd bundle
  2. 校验签名（manifest.json 的 ed25519 签名）：
       openssl pkeyutl -verify -pubin -inkey publickey.pem -rawin -in manifest.json -sigfile signature.ed25519
     应输出 "Signature Verified Successfully"。公钥指纹：
       openssl pkey -pubin -in publickey.pem -outform DER | tail -c 32 | sha256sum
  3. 逐个文件核对 manifest.json 中 files[].sha256 与 sm3：
       sha256sum evidence/* findings.json report.pdf findings.xlsx recommendation-draft.docx publickey.pem VERIFY.txt
       openssl dgst -sm3 evidence/*
  4. 包内除 manifest.json、signature.ed25519、timestamp.tsr 外，不得有 manifest.json 未列出的文件。
  5. 如有 timestamp.tsr（RFC 3161 时间戳，覆盖 manifest.json 的 SHA-256）：
       openssl ts -verify -in timestamp.tsr -data manifest.json -CAfile 时间戳机构证书.pem

三、查看网页证据
  evidence/ 中以 .html.txt、.mhtml.txt、.svg.txt、.js.txt 结尾的文件是从被调查方采集的网页、
  图形和脚本原件，字节未作任何改动（哈希与 manifest.json 一致），只是加了 .txt 后缀，以免双击时
  在浏览器中运行被调查方的脚本。请用文本编辑器查看其内容；要看页面外观，请看 manifest.json 中
  该文件 rendered 字段所列的同次采集截图或 PDF。确需在浏览器中打开时，请在断网的隔离环境
  （专用虚拟机）中、禁用脚本后打开副本，切勿在办案电脑上直接打开。

1. With pilmon (offline: no network, no database)
    pilmon verify bundle.zip --pubkey the-office-public-key.pem
  Exit status 0 means everything matches; 1 means verification failed, and the files added,
  removed or altered and any signature problem are named.
  Without --pubkey the bundle's own publickey.pem is used: that proves the bundle is unaltered
  since it was signed, not who signed it.

2. Without pilmon (openssl 3, sha256sum, unzip)
  1. unzip bundle.zip -d bundle && cd bundle
  2. Signature over manifest.json:
       openssl pkeyutl -verify -pubin -inkey publickey.pem -rawin -in manifest.json -sigfile signature.ed25519
     expect "Signature Verified Successfully". Key fingerprint:
       openssl pkey -pubin -in publickey.pem -outform DER | tail -c 32 | sha256sum
  3. Compare every file with files[].sha256 and sm3 in manifest.json:
       sha256sum evidence/* findings.json report.pdf findings.xlsx recommendation-draft.docx publickey.pem VERIFY.txt
       openssl dgst -sm3 evidence/*
  4. Apart from manifest.json, signature.ed25519 and timestamp.tsr, no file may be present that
     manifest.json does not list.
  5. If timestamp.tsr is present (RFC 3161 token over the SHA-256 of manifest.json):
       openssl ts -verify -in timestamp.tsr -data manifest.json -CAfile tsa-certificate.pem

3. Viewing captured web pages
  Files in evidence/ ending in .html.txt, .mhtml.txt, .svg.txt or .js.txt are pages, graphics
  and scripts captured from the party under investigation, byte for byte (their hashes match
  manifest.json); only the .txt suffix was added, so that a double click does not run that
  party's scripts in your browser. Read them in a text editor; to see how a page looked, open the
  screenshot or PDF of the same capture that manifest.json lists in the file's "rendered" field.
  If a page must be opened in a browser, open a copy with scripts disabled in an isolated,
  offline environment (a dedicated virtual machine), never on the case officer's own computer.
`
	return []byte(strings.ReplaceAll(t, "\n", "\r\n"))
}
