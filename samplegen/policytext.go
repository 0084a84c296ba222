package samplegen

import "strings"

// PolicyParts are sentences that each satisfy one mandated element of a privacy policy, keyed by
// element id (policies/patterns.yaml); PolicyText leaves some out so the assessor has something
// to find.
var PolicyParts = []struct{ ID, Text string }{
	{"operator_identity", "本应用的运营者为北京示例科技有限公司（以下简称“我们”）。"},
	{"contact", "如您有任何疑问，请发送邮件至privacy@example.cn与我们联系，客服电话：400-123-4567。"},
	{"effective_date", "更新日期：2025年5月1日。本政策自2025年5月1日起生效。"},
	{"purposes_by_function", "为了向您提供打车服务，我们需要收集您的位置信息。我们收集您的手机号码用于注册账号及登录。"},
	{"pi_collected", "我们会收集您的手机号码、设备信息。"},
	{"sensitive_pi_marked", "本政策中涉及的个人敏感信息，我们将以加粗斜体的形式提示您注意。"},
	{"third_party_sharing", "我们不会与第三方共享您的个人信息，但以下情况除外。"},
	{"sdk_list", "我们的产品中接入了第三方SDK，具体如下：SDK名称：友盟统计；使用目的：统计分析。"},
	{"retention_period", "我们仅在实现目的所必需的最短期限内保存您的个人信息，保存期限为3年。"},
	{"storage_location", "我们在中华人民共和国境内收集和产生的个人信息，将存储在中华人民共和国境内。"},
	{"user_rights", "您有权访问、更正、删除您的个人信息，也可以撤回同意。"},
	{"account_cancellation", "您可以在“设置-账号与安全-注销账号”中申请注销账号。"},
	{"security_measures", "我们采用加密技术、访问控制等安全措施保护您的个人信息。"},
	{"minors", "若您是未满十四周岁的未成年人，请在监护人的陪同下阅读本政策。"},
	{"change_notification", "本政策更新后，我们会通过弹窗的方式通知您。"},
	{"response_time", "我们将在十五个工作日内答复您的请求。"},
	{"withdraw_consent", "您可以通过关闭设备权限的方式撤回您的授权同意。"},
	{"complaint_channel", "如您对我们的答复不满意，可以向网信、电信、公安及市场监管等监管部门进行投诉或举报。"},
	{"separate_consent", "在收集您的精确位置信息前，我们将单独征得您的同意。"},
}

// policyFiller makes the text long enough to be taken for a policy (the classifier wants 500+
// characters).
const policyFiller = "我们非常重视您的个人信息和隐私保护，将按照法律法规的要求，采取相应的安全保护措施，尽力保护您的个人信息安全可控。请您在使用我们的产品或服务前，仔细阅读并充分理解本政策的全部内容，在确认充分理解并同意后再开始使用。"

// PolicyText returns a plain-text privacy policy holding every part of PolicyParts whose bit in
// omit is clear (bit i leaves out PolicyParts[i]).
func PolicyText(omit uint32) string {
	var b strings.Builder
	b.WriteString("示例出行隐私政策\n\n")
	b.WriteString(policyFiller + "\n\n" + policyFiller + "\n\n")
	for i, p := range PolicyParts {
		if omit&(1<<i) != 0 {
			continue
		}
		b.WriteString(p.Text)
		b.WriteString("\n\n")
	}
	return b.String()
}
