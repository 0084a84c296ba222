package apkinspect

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pilmon/scanner"
)

const reachManifest = `<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android"
    package="com.example.reach" android:versionCode="1" android:versionName="1.0">
    <uses-sdk android:minSdkVersion="21" android:targetSdkVersion="30"/>
    <application android:name=".App" android:label="Reach">
        <activity android:name=".Main" android:exported="false"/>
        <activity-alias android:name=".Launch" android:targetActivity=".Main" android:exported="true">
            <intent-filter>
                <action android:name="android.intent.action.MAIN"/>
                <category android:name="android.intent.category.LAUNCHER"/>
            </intent-filter>
        </activity-alias>
        <activity android:name=".Hidden" android:exported="false"/>
        <provider android:name=".Init" android:authorities="com.example.reach.init" android:exported="false"/>
    </application>
</manifest>
`

// reader is a class whose static read() calls TelephonyManager.getDeviceId.
func reader(name string) string {
	return fmt.Sprintf(`.class public Lcom/example/reach/%s;
.super Ljava/lang/Object;

.method public static read()V
    .registers 1
    const/4 v0, 0x0
    invoke-virtual {v0}, Landroid/telephony/TelephonyManager;->getDeviceId()Ljava/lang/String;
    return-void
.end method
`, name)
}

func call(cls string) string {
	return "    invoke-static {}, Lcom/example/reach/" + cls + ";->read()V\n"
}

// component is a class extending super with one method (name, proto) whose body is code.
func component(name, super, method, code string) string {
	return fmt.Sprintf(`.class public Lcom/example/reach/%s;
.super %s

.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, %s-><init>()V
    return-void
.end method

.method public %s
    .registers 4
%s    return-void
.end method
`, name, super, super, method, code)
}

// runnable is a Runnable whose run() reads the device id.
func runnable(name string) string {
	return fmt.Sprintf(`.class public Lcom/example/reach/%s;
.super Ljava/lang/Object;
.implements Ljava/lang/Runnable;

.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Ljava/lang/Object;-><init>()V
    return-void
.end method

.method public run()V
    .registers 1
%s    return-void
.end method
`, name, call(name+"Reads"))
}

func reachSmali() map[string]string {
	s := map[string]string{}
	for _, r := range []string{"ProviderOnly", "ProviderQuery", "HiddenOnly", "MainOnly", "Dead", "PostedReads", "SubmittedReads", "UnpostedReads",
		"SubReads", "OtherReads", "StaticReads", "ReflReads"} {
		s[r+".smali"] = reader(r)
	}
	s["Init.smali"] = `.class public Lcom/example/reach/Init;
.super Landroid/content/ContentProvider;

.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Landroid/content/ContentProvider;-><init>()V
    return-void
.end method

.method public onCreate()Z
    .registers 2
` + call("ProviderOnly") + `    const/4 v0, 0x1
    return v0
.end method

.method public query()V
    .registers 1
` + call("ProviderQuery") + `    return-void
.end method
`
	s["App.smali"] = component("App", "Landroid/app/Application;", "onCreate()V", `    new-instance v0, Landroid/os/Handler;
    invoke-direct {v0}, Landroid/os/Handler;-><init>()V
    new-instance v1, Lcom/example/reach/Posted;
    invoke-direct {v1}, Lcom/example/reach/Posted;-><init>()V
    invoke-virtual {v0, v1}, Landroid/os/Handler;->post(Ljava/lang/Runnable;)Z
    invoke-static {}, Ljava/util/concurrent/Executors;->newSingleThreadExecutor()Ljava/util/concurrent/ExecutorService;
    move-result-object v0
    new-instance v1, Lcom/example/reach/Submitted;
    invoke-direct {v1}, Lcom/example/reach/Submitted;-><init>()V
    invoke-interface {v0, v1}, Ljava/util/concurrent/ExecutorService;->submit(Ljava/lang/Runnable;)Ljava/util/concurrent/Future;
`)
	s["Posted.smali"] = runnable("Posted")
	s["Submitted.smali"] = runnable("Submitted")
	s["Unposted.smali"] = runnable("Unposted")
	s["Hidden.smali"] = component("Hidden", "Landroid/app/Activity;", "onCreate(Landroid/os/Bundle;)V", call("HiddenOnly"))
	s["Main.smali"] = component("Main", "Landroid/app/Activity;", "onCreate(Landroid/os/Bundle;)V", call("MainOnly")+`    new-instance v0, Lcom/example/reach/Sub;
    invoke-direct {v0}, Lcom/example/reach/Sub;-><init>()V
    invoke-virtual {v0}, Lcom/example/reach/Base;->work()V
    sget-object v0, Lcom/example/reach/Static;->VALUE:Ljava/lang/String;
    const-string v0, "com.example.reach.Refl"
    invoke-static {v0}, Ljava/lang/Class;->forName(Ljava/lang/String;)Ljava/lang/Class;
    move-result-object v0
    const-string v1, "go"
    const/4 v2, 0x0
    invoke-virtual {v0, v1, v2}, Ljava/lang/Class;->getMethod(Ljava/lang/String;[Ljava/lang/Class;)Ljava/lang/reflect/Method;
`)
	s["Base.smali"] = component("Base", "Ljava/lang/Object;", "work()V", "")
	s["Sub.smali"] = component("Sub", "Lcom/example/reach/Base;", "work()V", call("SubReads"))
	s["Other.smali"] = component("Other", "Ljava/lang/Object;", "work()V", call("OtherReads"))
	s["Static.smali"] = `.class public Lcom/example/reach/Static;
.super Ljava/lang/Object;

.field public static VALUE:Ljava/lang/String;

.method static constructor <clinit>()V
    .registers 1
` + call("StaticReads") + `    return-void
.end method
`
	s["Refl.smali"] = component("Refl", "Ljava/lang/Object;", "go()V", call("ReflReads"))
	return s
}

// TestReachability: each sensitive call is labelled by the entry points that reach it, with the
// shortest path as evidence; each case has its negative beside it.
func analyzeFile(t testing.TB, p string) *App {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	cat := catalogue(t)
	return analyze(context.Background(), cat, apiClassSet(cat), Options{}.withDefaults(), f, st.Size(), filepath.Base(p))
}

func TestReachability(t *testing.T) {
	smali := reachSmali()
	rep, _ := inspect(t, buildSpec(t, fixture{Manifest: reachManifest, Smali: smali}))
	if rep.Status != scanner.StatusSucceeded {
		t.Fatalf("status %s: %v", rep.Status, rep.Errors)
	}
	const api = "telephony.getDeviceId @ com.example.reach."
	for _, c := range []struct {
		class string
		from  string   // reached_from, joined by ","
		path  []string // path without the package prefix; nil: not checked
	}{
		// A ContentProvider's onCreate runs at process start; its query only when a client asks.
		{"ProviderOnly", "app_start", []string{"Init.onCreate", "ProviderOnly.read"}},
		{"ProviderQuery", "component:com.example.reach.Init", []string{"Init.query", "ProviderQuery.read"}},
		// The Application's onCreate posts a Runnable to a Handler and submits one to an
		// executor: both run at start; a Runnable nobody instantiates does not.
		{"PostedReads", "app_start", []string{"App.onCreate", "Posted.run", "PostedReads.read"}},
		{"SubmittedReads", "app_start", []string{"App.onCreate", "Submitted.run", "SubmittedReads.read"}},
		{"UnpostedReads", "not_reached", []string{}},
		// An unexported activity is its own root, never app_start.
		{"HiddenOnly", "component:com.example.reach.Hidden", []string{"Hidden.onCreate", "HiddenOnly.read"}},
		// The launcher is the alias's target.
		{"MainOnly", "launcher", []string{"Main.onCreate", "MainOnly.read"}},
		{"Dead", "not_reached", []string{}},
		// A virtual call of Base.work reaches the override in Sub, not an unrelated work().
		{"SubReads", "launcher", []string{"Main.onCreate", "Sub.work", "SubReads.read"}},
		{"OtherReads", "not_reached", nil},
		// A static field read initialises the class; reflection by constant names reach.
		{"StaticReads", "launcher", []string{"Main.onCreate", "Static.<clinit>", "StaticReads.read"}},
		{"ReflReads", "launcher", []string{"Main.onCreate", "Refl.go", "ReflReads.read"}},
	} {
		o := find(rep, "apk.sensitive_api", api+c.class)
		if o == nil {
			t.Errorf("%s: not reported", c.class)
			continue
		}
		from, _ := o.Attributes["reached_from"].([]string)
		if strings.Join(from, ",") != c.from {
			t.Errorf("%s: reached_from %v, want %s", c.class, from, c.from)
		}
		path, _ := o.Attributes["path"].([]string)
		if c.path != nil {
			want := make([]string, len(c.path))
			for i, p := range c.path {
				want[i] = "com.example.reach." + p
			}
			if !slices.Equal(path, want) {
				t.Errorf("%s: path %v, want %v", c.class, path, want)
			}
		}
	}
	// How each step is reached: the bridge and the virtual dispatch say so.
	app := analyzeFile(t, buildSpec(t, fixture{Manifest: reachManifest, Smali: smali}))
	if !app.Graph.Complete {
		t.Errorf("graph incomplete: %v", app.Graph.Reasons)
	}
	for _, c := range []struct{ class, edge, via string }{
		{"PostedReads", "bridge", ""},
		{"SubReads", "virtual", "Lcom/example/reach/Base;->work()V"},
		{"StaticReads", "clinit", ""},
		{"ReflReads", "reflect", ""},
	} {
		for _, api := range app.APIs {
			if api.CallerClass != "com.example.reach."+c.class {
				continue
			}
			if len(api.Steps) < 2 || api.Steps[1].Edge != c.edge || api.Steps[1].Via != c.via {
				t.Errorf("%s: steps %+v, want the second by %s via %q", c.class, api.Steps, c.edge, c.via)
			}
		}
	}
}

// TestReachabilityUnknown: when a packer shell hides the code, a call no entry point reaches is
// "unknown", never "not_reached"; reached calls keep their label.
func TestReachabilityUnknown(t *testing.T) {
	rep, _ := inspect(t, buildSpec(t, fixture{Manifest: reachManifest, Smali: reachSmali(),
		Files: map[string][]byte{"assets/libjiagu.so": []byte("\x7fELF stub")}}))
	const api = "telephony.getDeviceId @ com.example.reach."
	for class, want := range map[string]string{"Dead": "unknown", "UnpostedReads": "unknown", "MainOnly": "launcher", "ProviderOnly": "app_start"} {
		o := find(rep, "apk.sensitive_api", api+class)
		if o == nil {
			t.Errorf("%s: not reported", class)
			continue
		}
		if from, _ := o.Attributes["reached_from"].([]string); strings.Join(from, ",") != want {
			t.Errorf("%s: reached_from %v, want %s", class, from, want)
		}
	}
	// Dynamic code loading reached from an entry point makes unreached code unknown too; the
	// same loader in dead code does not.
	loader := func(live bool) map[string]string {
		s := reachSmali()
		s["Loader.smali"] = component("Loader", "Ljava/lang/Object;", "load()V", `    new-instance v0, Ldalvik/system/DexClassLoader;
    const/4 v1, 0x0
    invoke-direct {v0, v1, v1, v1, v1}, Ldalvik/system/DexClassLoader;-><init>(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;Ljava/lang/ClassLoader;)V
`)
		if live {
			s["Hidden.smali"] = component("Hidden", "Landroid/app/Activity;", "onCreate(Landroid/os/Bundle;)V", call("HiddenOnly")+
				"    new-instance v0, Lcom/example/reach/Loader;\n    invoke-direct {v0}, Lcom/example/reach/Loader;-><init>()V\n    invoke-virtual {v0}, Lcom/example/reach/Loader;->load()V\n")
		}
		return s
	}
	for _, live := range []bool{true, false} {
		app := analyzeFile(t, buildSpec(t, fixture{Manifest: reachManifest, Smali: loader(live)}))
		want := "not_reached"
		if live {
			want = "unknown"
		}
		for _, api := range app.APIs {
			if api.CallerClass == "com.example.reach.Dead" && strings.Join(api.ReachedFrom, ",") != want {
				t.Errorf("loader reached %v: Dead %v, want %s (%v)", live, api.ReachedFrom, want, app.Graph.Reasons)
			}
		}
	}
}

// implementor is a class extending super and implementing iface (none when empty) whose method
// (name and prototype) calls <name>Reads.read and returns void, or false for a Z method.
func implementor(name, super, iface, method string) string {
	impl, ret := "", "    return-void\n"
	if iface != "" {
		impl = ".implements " + iface + "\n"
	}
	if strings.HasSuffix(method, ")Z") {
		ret = "    const/4 v0, 0x0\n    return v0\n"
	}
	return fmt.Sprintf(`.class public Lcom/example/reach/%s;
.super %s
%s
.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, %s-><init>()V
    return-void
.end method

.method public %s
    .registers 8
%s%s.end method
`, name, super, impl, super, method, call(name+"Reads"), ret)
}

func newObj(cls string) string {
	return "    new-instance v0, Lcom/example/reach/" + cls + ";\n    invoke-direct {v0}, Lcom/example/reach/" + cls + ";-><init>()V\n"
}

const registerReceiver = "    const/4 v1, 0x0\n    invoke-virtual {p0, v0, v1}, Landroid/content/Context;->registerReceiver(Landroid/content/BroadcastReceiver;Landroid/content/IntentFilter;)Landroid/content/Intent;\n"

// TestReachTypesAndListeners: a virtual or interface call reaches an override only in a class
// the same entry point (or one that runs before it) instantiates, and a listener's callbacks
// are reached from the code that instantiates it; each case has its negative beside it.
func TestReachTypesAndListeners(t *testing.T) {
	s := map[string]string{}
	for _, r := range []string{"CbA", "CbB", "Click", "NeverClick", "Rcv", "LateRcv", "Circle", "Square", "Widget", "Shape"} {
		s[r+"Reads.smali"] = reader(r + "Reads")
	}
	s["CbA.smali"] = implementor("CbA", "Ljava/lang/Object;", "Landroid/os/Handler$Callback;", "handleMessage(Landroid/os/Message;)Z")
	s["CbB.smali"] = implementor("CbB", "Ljava/lang/Object;", "Landroid/os/Handler$Callback;", "handleMessage(Landroid/os/Message;)Z")
	s["Click.smali"] = implementor("Click", "Ljava/lang/Object;", "Landroid/view/View$OnClickListener;", "onClick(Landroid/view/View;)V")
	s["NeverClick.smali"] = implementor("NeverClick", "Ljava/lang/Object;", "Landroid/view/View$OnClickListener;", "onClick(Landroid/view/View;)V")
	s["Rcv.smali"] = implementor("Rcv", "Landroid/content/BroadcastReceiver;", "", "onReceive(Landroid/content/Context;Landroid/content/Intent;)V")
	s["LateRcv.smali"] = implementor("LateRcv", "Landroid/content/BroadcastReceiver;", "", "onReceive(Landroid/content/Context;Landroid/content/Intent;)V")
	s["Shape.smali"] = implementor("Shape", "Ljava/lang/Object;", "", "draw()V")
	s["Circle.smali"] = implementor("Circle", "Lcom/example/reach/Shape;", "", "draw()V")
	s["Square.smali"] = implementor("Square", "Lcom/example/reach/Shape;", "", "draw()V")
	s["Widget.smali"] = implementor("Widget", "Ljava/lang/Object;", "", "show()V")
	s["Init.smali"] = component("Init", "Landroid/content/ContentProvider;", "query()V", "")
	// Start-up code instantiates CbA and a Circle, calls the Handler.Callback and Shape.draw
	// virtually, and registers Rcv.
	s["App.smali"] = component("App", "Landroid/app/Application;", "onCreate()V", newObj("CbA")+
		"    const/4 v1, 0x0\n    invoke-interface {v0, v1}, Landroid/os/Handler$Callback;->handleMessage(Landroid/os/Message;)Z\n"+
		newObj("Circle")+"    invoke-virtual {v0}, Lcom/example/reach/Shape;->draw()V\n"+
		newObj("Rcv")+registerReceiver)
	// The launcher instantiates CbB, a Square (and calls Shape.draw) and Click, and calls
	// Widget.show on a widget it never builds (a layout's view, say).
	s["Main.smali"] = component("Main", "Landroid/app/Activity;", "onCreate(Landroid/os/Bundle;)V", newObj("CbB")+newObj("Square")+
		"    invoke-virtual {v0}, Lcom/example/reach/Shape;->draw()V\n"+newObj("Click")+
		"    const/4 v0, 0x0\n    invoke-virtual {v0}, Lcom/example/reach/Widget;->show()V\n")
	s["Hidden.smali"] = component("Hidden", "Landroid/app/Activity;", "onCreate(Landroid/os/Bundle;)V", newObj("LateRcv")+registerReceiver)

	app := analyzeFile(t, buildSpec(t, fixture{Manifest: reachManifest, Smali: s}))
	if !app.Graph.Complete {
		t.Fatalf("graph incomplete: %v", app.Graph.Reasons)
	}
	for _, c := range []struct {
		class, from string
		path        []string // without the package prefix; nil: not checked
		edge, via   string   // how the step after the root is reached ("": not checked)
	}{
		{"CbAReads", "app_start", []string{"App.onCreate", "CbA.handleMessage", "CbAReads.read"}, "bridge", ""},
		// Start-up code calls Handler.Callback.handleMessage, but no CbB exists before the
		// launcher builds one.
		{"CbBReads", "launcher", []string{"Main.onCreate", "CbB.handleMessage", "CbBReads.read"}, "bridge", ""},
		{"CircleReads", "app_start,launcher", []string{"App.onCreate", "Circle.draw", "CircleReads.read"}, "virtual", "Lcom/example/reach/Shape;->draw()V"},
		// Only the launcher builds a Square: its draw is not reached from start-up's
		// Shape.draw call (the launcher's objects do not exist at start), only from the
		// launcher's. Shape.draw counts wherever a Shape subtype exists.
		{"SquareReads", "launcher", []string{"Main.onCreate", "Square.draw", "SquareReads.read"}, "virtual", "Lcom/example/reach/Shape;->draw()V"},
		{"ShapeReads", "app_start,launcher", nil, "", ""},
		{"ClickReads", "launcher", []string{"Main.onCreate", "Click.onClick", "ClickReads.read"}, "bridge", ""},
		{"NeverClickReads", "not_reached", nil, "", ""},
		{"RcvReads", "app_start", []string{"App.onCreate", "Rcv.onReceive", "RcvReads.read"}, "bridge", ""},
		{"LateRcvReads", "component:com.example.reach.Hidden", []string{"Hidden.onCreate", "LateRcv.onReceive", "LateRcvReads.read"}, "bridge", ""},
		// Nothing builds a Widget: it comes from where the graph cannot see, and the call
		// dispatches by class hierarchy.
		{"WidgetReads", "launcher", []string{"Main.onCreate", "Widget.show", "WidgetReads.read"}, "virtual", "Lcom/example/reach/Widget;->show()V"},
	} {
		var api *APIRef
		for i := range app.APIs {
			if app.APIs[i].CallerClass == "com.example.reach."+c.class {
				api = &app.APIs[i]
			}
		}
		if api == nil {
			t.Errorf("%s: not reported", c.class)
			continue
		}
		if got := strings.Join(api.ReachedFrom, ","); got != c.from {
			t.Errorf("%s: reached_from %s, want %s", c.class, got, c.from)
		}
		if c.path != nil {
			want := make([]string, len(c.path))
			for i, p := range c.path {
				want[i] = "com.example.reach." + p
			}
			if !slices.Equal(api.Path, want) {
				t.Errorf("%s: path %v, want %v", c.class, api.Path, want)
			}
		}
		if c.edge != "" && (len(api.Steps) < 2 || api.Steps[1].Edge != c.edge || api.Steps[1].Via != c.via) {
			t.Errorf("%s: steps %+v, want the second by %s via %q", c.class, api.Steps, c.edge, c.via)
		}
	}
}
