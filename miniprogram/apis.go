package miniprogram

// piAPI is a PI-bearing mini-program API. PI ids are those of rules/data/pi_categories.yaml.
type piAPI struct {
	PI []string
	// PrivateInfo: the API must be listed in app.json requiredPrivateInfos (WeChat, since 2022-07-14,
	// per the WeChat "地理位置接口新增与相关流程调整" notice; list of eight APIs, recall: UNVERIFIED).
	PrivateInfo bool
	// Scope: the permission scope whose "desc" must state a reason before the API works
	// (WeChat app.json "permission"; recall: UNVERIFIED).
	Scope string
}

// wxAPIs are the wx.* APIs reported as mp.api_call.
var wxAPIs = map[string]piAPI{
	"getLocation":                    {PI: []string{"location_precise"}, PrivateInfo: true, Scope: "scope.userLocation"},
	"getFuzzyLocation":               {PI: []string{"location_coarse"}, PrivateInfo: true, Scope: "scope.userFuzzyLocation"},
	"chooseLocation":                 {PI: []string{"location_precise"}, PrivateInfo: true},
	"choosePoi":                      {PI: []string{"location_precise"}, PrivateInfo: true},
	"startLocationUpdate":            {PI: []string{"location_precise"}, PrivateInfo: true, Scope: "scope.userLocation"},
	"startLocationUpdateBackground":  {PI: []string{"location_precise", "location_background"}, PrivateInfo: true},
	"onLocationChange":               {PI: []string{"location_precise"}, PrivateInfo: true},
	"chooseAddress":                  {PI: []string{"address", "name", "phone_number"}, PrivateInfo: true},
	"getUserProfile":                 {PI: []string{"accounts"}},
	"getUserInfo":                    {PI: []string{"accounts"}},
	"getWeRunData":                   {PI: []string{"activity"}},
	"chooseImage":                    {PI: []string{"media_files", "camera"}},
	"chooseMedia":                    {PI: []string{"media_files", "camera"}},
	"chooseVideo":                    {PI: []string{"media_files", "camera"}},
	"chooseMessageFile":              {PI: []string{"media_files", "storage"}},
	"saveImageToPhotosAlbum":         {PI: []string{"media_files"}},
	"getRecorderManager":             {PI: []string{"microphone"}},
	"startRecord":                    {PI: []string{"microphone"}},
	"createCameraContext":            {PI: []string{"camera"}},
	"getClipboardData":               {PI: []string{"clipboard"}},
	"startBluetoothDevicesDiscovery": {PI: []string{"bluetooth"}},
	"getBluetoothDevices":            {PI: []string{"bluetooth"}},
	"openBluetoothAdapter":           {PI: []string{"bluetooth"}},
	"startWifi":                      {PI: []string{"wifi_info"}},
	"getWifiList":                    {PI: []string{"wifi_info"}},
	"getConnectedWifi":               {PI: []string{"wifi_info"}},
	"startSoterAuthentication":       {PI: []string{"biometric"}},
	"startFacialRecognitionVerify":   {PI: []string{"biometric"}},
	"startFacialRecognitionVerifyAndUploadVideo": {PI: []string{"biometric"}},
	"faceVerifyForPay":                           {PI: []string{"biometric"}},
	"initFaceDetect":                             {PI: []string{"biometric"}},
	"addPhoneContact":                            {PI: []string{"contacts", "name", "phone_number"}},
	"chooseContact":                              {PI: []string{"contacts", "phone_number"}},
	"chooseInvoiceTitle":                         {PI: []string{"name", "financial_account"}},
	"chooseInvoice":                              {PI: []string{"payment_info"}},
	"chooseLicensePlate":                         {PI: []string{"vehicle"}},
	"getSystemInfo":                              {PI: []string{"device_info"}},
	"getSystemInfoSync":                          {PI: []string{"device_info"}},
	"getSystemInfoAsync":                         {PI: []string{"device_info"}},
	"getDeviceInfo":                              {PI: []string{"device_info"}},
	"getNetworkType":                             {PI: []string{"network_info"}},
	"login":                                      {PI: []string{"accounts"}},
	// authorize's PI comes from the scopes it asks for (authScopePI).
	"authorize": {},
}

// authScopePI maps wx.authorize / permission scopes to PI (WeChat 授权 scope list; recall).
var authScopePI = map[string][]string{
	"scope.userLocation":           {"location_precise"},
	"scope.userFuzzyLocation":      {"location_coarse"},
	"scope.userLocationBackground": {"location_background"},
	"scope.record":                 {"microphone"},
	"scope.camera":                 {"camera"},
	"scope.werun":                  {"activity"},
	"scope.writePhotosAlbum":       {"media_files"},
	"scope.bluetooth":              {"bluetooth"},
	"scope.addPhoneContact":        {"contacts"},
	"scope.userInfo":               {"accounts"},
	"scope.address":                {"address", "name", "phone_number"},
	"scope.invoiceTitle":           {"name", "financial_account"},
	"scope.invoice":                {"payment_info"},
}

// faceVerifyPrefix: every wx.faceVerify* API is biometric.
const faceVerifyPrefix = "faceVerify"

// myAPIs are the Alipay my.* APIs reported as mp.api_call (Alipay has no requiredPrivateInfos).
var myAPIs = map[string]piAPI{
	"getLocation":                    {PI: []string{"location_precise"}},
	"chooseLocation":                 {PI: []string{"location_precise"}},
	"getAuthCode":                    {PI: []string{"accounts"}},
	"getOpenUserInfo":                {PI: []string{"accounts"}},
	"getAuthUserInfo":                {PI: []string{"accounts"}},
	"getPhoneNumber":                 {PI: []string{"phone_number"}},
	"chooseImage":                    {PI: []string{"media_files", "camera"}},
	"chooseVideo":                    {PI: []string{"media_files", "camera"}},
	"getClipboard":                   {PI: []string{"clipboard"}},
	"getSystemInfo":                  {PI: []string{"device_info"}},
	"getSystemInfoSync":              {PI: []string{"device_info"}},
	"getRecorderManager":             {PI: []string{"microphone"}},
	"createCameraContext":            {PI: []string{"camera"}},
	"startBluetoothDevicesDiscovery": {PI: []string{"bluetooth"}},
	"getBluetoothDevices":            {PI: []string{"bluetooth"}},
	"getConnectedWifi":               {PI: []string{"wifi_info"}},
	"getWifiList":                    {PI: []string{"wifi_info"}},
	"choosePhoneContact":             {PI: []string{"contacts", "phone_number"}},
	"chooseAlipayContact":            {PI: []string{"contacts", "account_credentials"}},
	"chooseContact":                  {PI: []string{"contacts", "account_credentials"}},
	"addPhoneContact":                {PI: []string{"contacts", "name", "phone_number"}},
	"getRunData":                     {PI: []string{"activity"}},
	"startZMVerify":                  {PI: []string{"biometric", "identity_document"}},
	"getNetworkType":                 {PI: []string{"network_info"}},
}

// lookupAPI returns the table entry for obj.name.
func lookupAPI(obj, name string) (piAPI, bool) {
	if obj == "my" {
		a, ok := myAPIs[name]
		return a, ok
	}
	a, ok := wxAPIs[name]
	if !ok && len(name) > len(faceVerifyPrefix) && name[:len(faceVerifyPrefix)] == faceVerifyPrefix {
		return piAPI{PI: []string{"biometric"}}, true
	}
	return a, ok
}

// privacyHandlerAPIs are the WeChat APIs of the privacy-authorisation flow (基础库 2.32.3+).
var privacyHandlerAPIs = map[string]bool{
	"onNeedPrivacyAuthorization": true,
	"requirePrivacyAuthorize":    true,
	"getPrivacySetting":          true,
	"openPrivacyContract":        true,
}

// buttonOpenTypes are <button open-type> values that hand PI to the program.
var buttonOpenTypes = map[string][]string{
	"getPhoneNumber":         {"phone_number"},
	"getRealtimePhoneNumber": {"phone_number"},
	"getUserInfo":            {"accounts"},
	"chooseAvatar":           {"media_files"},
	// Alipay: <button open-type="getAuthorize" scope="phoneNumber|userInfo">.
	"getAuthorize": {"accounts"},
}
