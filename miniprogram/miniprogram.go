// Package miniprogram reads WeChat and Alipay mini-programs — packed .wxapkg files (plain and the
// PC-client "V1MMWX" encrypted form) and unpacked project folders — and reports what they do with
// personal information: the privacy configuration in app.json, calls to PI-bearing wx.*/my.* APIs,
// privacy-sensitive buttons, the domains they talk to and the analytics SDKs they embed.
package miniprogram

// Name and Version identify the inspector in observations and reports. Version changes whenever the
// observations for the same input can change.
const (
	Name    = "miniprogram"
	Version = "1"
)
