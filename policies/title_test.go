package policies

import "testing"

// TestNamesDocument: a heading is taken for the document's title only when it names a document;
// a section heading that mentions the policy is not its name.
func TestNamesDocument(t *testing.T) {
	for _, h := range []string{"隐私政策", "示例商城隐私保护指引（2024年版）", "个人信息保护政策 - 示例科技", "用户服务协议",
		"第三方SDK目录", "Firefox Privacy Notice", "Mozilla Privacy Policy – Mozilla", "Terms of Service", "儿童个人信息保护规则 v2.1",
		"Privacy Notice for Example Maps", "Example Cloud | Privacy Notice"} {
		if !namesDocument(h) {
			t.Errorf("%q: not read as a document's name", h)
		}
	}
	for _, h := range []string{"本隐私政策的适用范围", "本政策如何更新", "一、我们如何收集和使用您的个人信息", "How we update this policy",
		"This Privacy Notice", "特别说明", "联系我们", "Cookies and similar technologies", "",
		"Overview", "提示条款", "法律声明", "我们如何收集和使用您的个人信息", "Changes to this Privacy Notice"} {
		if namesDocument(h) {
			t.Errorf("%q: read as a document's name", h)
		}
	}
}

// TestTitleFromHeading: without a title element the first heading naming a document is the
// title; a document whose headings are all sections has none, rather than a section's name.
func TestTitleFromHeading(t *testing.T) {
	d := Extract("<html><body><h2>本隐私政策的适用范围</h2><p>本政策适用于示例App。</p><h1>示例App隐私政策</h1><p>我们收集手机号。</p></body></html>", FormatHTML)
	if d.Title != "示例App隐私政策" {
		t.Errorf("title %q, want the heading that names the document", d.Title)
	}
	d = Extract("<html><body><h2>本隐私政策的适用范围</h2><p>本政策适用于示例App。</p><h2>联系我们</h2><p>邮箱。</p></body></html>", FormatHTML)
	if d.Title != "" {
		t.Errorf("title %q, want none: no heading names the document", d.Title)
	}
}

// TestTitleElement: the page's <title> names the policy when it names a document; a site name or
// a file name does not, and the first heading naming the document is taken instead.
func TestTitleElement(t *testing.T) {
	for _, tc := range []struct{ page, want string }{
		{"<html><head><title>隐私政策 - 示例商城</title></head><body><h2>一、适用范围</h2><p>本政策适用于示例商城。</p></body></html>", "隐私政策 - 示例商城"},
		{"<html><head><title>示例商城</title></head><body><h1>示例商城隐私保护指引</h1><p>我们收集手机号。</p></body></html>", "示例商城隐私保护指引"},
		{"<html><head><title>a8Bx-0611_com_example.txt</title></head><body><p>我们收集手机号。</p></body></html>", ""},
	} {
		if d := Extract(tc.page, FormatHTML); d.Title != tc.want {
			t.Errorf("title %q, want %q", d.Title, tc.want)
		}
	}
}
