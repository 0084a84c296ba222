package samplegen

import (
	"html"
	"strings"
)

// PolicyHTML returns the target's privacy policy (zh). The clean policy carries every element the
// policies inspector looks for and discloses every SDK the APK embeds; the violating one leaves
// out what the options say (deletion channel, SDKs).
func PolicyHTML(o Options) []byte {
	type section struct {
		h     string
		paras []string
	}
	var secs []section
	add := func(h string, p ...string) { secs = append(secs, section{h, p}) }

	add("引言",
		"本文件为 pilmon 生成的示例（示例/generated），应用与运营者均为虚构，不对应任何真实主体。",
		AppName+"（以下简称“本应用”）由"+Operator+"运营。",
		"更新日期：2025年1月1日 生效日期：2025年1月8日。")
	collect := []string{
		"为了向您提供购物服务，我们需要收集您的手机号码用于注册账号及登录。",
		"在您下单时，我们会收集收货人姓名、收货地址、联系电话，用于配送商品。",
		"在您支付时，我们会收集支付信息（支付时间、支付金额、支付渠道），用于完成交易。",
	}
	if o.Clean {
		collect = append(collect, "处理您的收货地址、支付信息等敏感个人信息前，我们会征得您的单独同意。")
	}
	collect = append(collect, "上述信息中，收货地址、支付信息属于敏感个人信息，我们以加粗形式提示您注意，一旦泄露可能危害您的财产安全。")
	add("一、我们如何收集和使用您的个人信息", collect...)

	var sdk []string
	if !o.Clean {
		if !o.undisclosed("umeng_analytics") {
			sdk = append(sdk, "SDK名称：友盟统计；提供方：北京锐讯灵通科技有限公司；使用目的：统计分析；收集信息：设备信息、设备标识符（IMEI、OAID）。")
		}
		if !o.undisclosed("jpush") {
			sdk = append(sdk, "SDK名称：极光推送；提供方：深圳市和讯华谷信息技术有限公司；使用目的：消息推送；收集信息：设备信息、设备标识符。")
		}
	}
	if len(sdk) > 0 {
		add("二、第三方SDK目录", append([]string{"我们的产品中接入了第三方SDK，具体如下："}, sdk...)...)
	} else {
		add("二、第三方SDK目录", "本应用未接入第三方SDK；如今后接入，我们将在此列明SDK名称、提供方、收集信息及使用目的。")
	}
	add("三、我们如何共享、转让、公开披露您的个人信息",
		"除本政策所列第三方SDK外，我们不会与第三方共享您的个人信息；委托处理时我们会与受托方约定处理目的和方式。")
	add("四、我们如何存储您的个人信息",
		"我们在中华人民共和国境内收集和产生的个人信息，将存储在中华人民共和国境内。",
		"我们仅在实现目的所必需的最短时间内保留您的个人信息，超出保存期限后删除或匿名化。")
	rights := []string{
		"您有权查阅、复制、更正、删除您的个人信息，可在“我的—设置—个人信息管理”中操作。",
		"您可以通过关闭设备权限的方式撤回您的授权，撤回同意不影响此前基于同意的处理。",
	}
	if o.Clean || !o.OmitDeletion {
		rights = append(rights, "您可以在“设置—账号与安全—注销账号”中申请注销您的账号，我们将在15个工作日内完成处理。")
	}
	rights = append(rights, "我们将在十五个工作日内回复您的请求。")
	add("五、您的权利", rights...)
	add("六、未成年人的个人信息保护",
		"若您是未满14周岁的未成年人，请在监护人的陪同下阅读本政策，并在取得监护人同意后使用本应用。")
	add("七、本政策如何更新",
		"本政策更新后，我们会通过弹窗等方式通知您，并在重大变更时重新征得您的同意。")
	add("八、如何联系我们",
		"如您对本政策有任何疑问，请发送邮件至privacy@shilishop.example.cn与我们联系。",
		"如您对我们的回复不满意，可以向网信、电信、公安等监管部门进行投诉或举报。")

	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n")
	b.WriteString("<title>" + AppName + "隐私政策（示例/generated）</title>\n</head>\n<body>\n")
	b.WriteString("<h1>" + AppName + "隐私政策</h1>\n")
	for _, s := range secs {
		b.WriteString("<h2>" + html.EscapeString(s.h) + "</h2>\n")
		for _, p := range s.paras {
			b.WriteString("<p>" + html.EscapeString(p) + "</p>\n")
		}
	}
	b.WriteString("</body>\n</html>\n")
	return []byte(b.String())
}
