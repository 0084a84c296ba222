package apkinspect

import (
	"fmt"
	"path/filepath"
	"testing"
)

// argClass is a class with one static method whose body is code (registers p0: ContentResolver,
// p1: String).
func argClass(name, code string) string {
	return fmt.Sprintf(`.class public Lcom/example/app/%s;
.super Ljava/lang/Object;

.method public static run(Landroid/content/ContentResolver;Ljava/lang/String;)V
    .registers 6
%s
    return-void
.end method
`, name, code)
}

const getSecure = "invoke-static {p0, v0}, Landroid/provider/Settings$Secure;->getString(Landroid/content/ContentResolver;Ljava/lang/String;)Ljava/lang/String;"

// TestConstantArguments: the key of Settings.Secure.getString, the property of
// SystemProperties.get, the command of Runtime.exec and the URI of ContentResolver.query decide
// which PI a call reads; a constant that names none of the entry's strings is not the API, a
// value from a parameter is reported as unresolved.
func TestConstantArguments(t *testing.T) {
	smali := readDir(t, filepath.Join("testdata", "app", "smali"))
	add := func(name, code string) { smali[name+".smali"] = argClass(name, code) }
	add("AndroidIdPos", "    const-string v0, \"android_id\"\n    "+getSecure)
	add("AndroidIdNeg", "    const-string v0, \"enabled_notification_listeners\"\n    "+getSecure)
	add("AndroidIdParam", "    move-object v0, p1\n    "+getSecure)
	add("AndroidIdCopy", "    const-string v1, \"android_id\"\n    const/4 v2, 0x0\n    move-object v0, v1\n    "+getSecure)
	add("AndroidIdOverwritten", "    const-string v0, \"android_id\"\n    const-string v0, \"enabled_notification_listeners\"\n    "+getSecure)
	add("AndroidIdJoin", "    const-string v0, \"enabled_notification_listeners\"\n    if-eqz p1, :a\n    const-string v0, \"android_id\"\n    :a\n    "+getSecure)
	add("Serial", "    const-string v0, \"ro.serialno\"\n    invoke-static {v0}, Landroid/os/SystemProperties;->get(Ljava/lang/String;)Ljava/lang/String;")
	add("SerialNeg", "    const-string v0, \"ro.build.version.emui\"\n    invoke-static {v0}, Landroid/os/SystemProperties;->get(Ljava/lang/String;)Ljava/lang/String;")
	add("MacShell", "    invoke-static {}, Ljava/lang/Runtime;->getRuntime()Ljava/lang/Runtime;\n    move-result-object v1\n    const-string v0, \"cat /sys/class/net/wlan0/address\"\n    invoke-virtual {v1, v0}, Ljava/lang/Runtime;->exec(Ljava/lang/String;)Ljava/lang/Process;")
	add("ShellNeg", "    invoke-static {}, Ljava/lang/Runtime;->getRuntime()Ljava/lang/Runtime;\n    move-result-object v1\n    const-string v0, \"getprop\"\n    invoke-virtual {v1, v0}, Ljava/lang/Runtime;->exec(Ljava/lang/String;)Ljava/lang/Process;")
	add("SmsQuery", "    move-object v0, p0\n    const-string v1, \"content://sms/inbox\"\n    invoke-static {v1}, Landroid/net/Uri;->parse(Ljava/lang/String;)Landroid/net/Uri;\n    move-result-object v1\n"+
		"    const/4 v2, 0x0\n    const/4 v3, 0x0\n    const/4 v4, 0x0\n    const/4 v5, 0x0\n"+
		"    invoke-virtual/range {v0 .. v5}, Landroid/content/ContentResolver;->query(Landroid/net/Uri;[Ljava/lang/String;Ljava/lang/String;[Ljava/lang/String;Ljava/lang/String;)Landroid/database/Cursor;")
	p := buildSpec(t, fixture{Smali: smali})
	rep, _ := inspect(t, p)
	for _, c := range []struct {
		subject, argument string // argument "-": no record
	}{
		{"settings.androidId @ com.example.app.AndroidIdPos", "android_id"},
		{"settings.androidId @ com.example.app.AndroidIdNeg", "-"},
		{"settings.androidId @ com.example.app.AndroidIdParam", "unresolved"},
		{"settings.androidId @ com.example.app.AndroidIdCopy", "android_id"},
		{"settings.androidId @ com.example.app.AndroidIdOverwritten", "-"},
		{"settings.androidId @ com.example.app.AndroidIdJoin", "unresolved"},
		{"sysprop.serial @ com.example.app.Serial", "ro.serialno"},
		{"sysprop.serial @ com.example.app.SerialNeg", "-"},
		{"shell.macFile @ com.example.app.MacShell", "cat /sys/class/net/wlan0/address"},
		{"shell.macFile @ com.example.app.ShellNeg", "-"},
		{"provider.sms @ com.example.app.SmsQuery", "content://sms/inbox"},
		{"provider.contacts @ com.example.app.SmsQuery", "-"},
		{"provider.calendar @ com.example.app.SmsQuery", "-"},
	} {
		o := find(rep, "apk.sensitive_api", c.subject)
		switch {
		case c.argument == "-" && o != nil:
			t.Errorf("%s reported (argument %v), want no record", c.subject, o.Attributes["argument"])
		case c.argument == "-":
		case o == nil:
			t.Errorf("%s not reported, want argument %q", c.subject, c.argument)
		case o.Attributes["argument"] != c.argument:
			t.Errorf("%s: argument %v, want %q", c.subject, o.Attributes["argument"], c.argument)
		}
	}
	// APIs without strings carry no argument.
	for _, o := range rep.Observations {
		if o.Kind == "apk.sensitive_api" && o.Attributes["api"] == "telephony.getDeviceId" {
			if _, ok := o.Attributes["argument"]; ok {
				t.Errorf("%s has an argument attribute", o.Subject)
			}
		}
	}
}
