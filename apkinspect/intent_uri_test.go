package apkinspect

import (
	"fmt"
	"path/filepath"
	"testing"
)

const (
	imagesURI = "Landroid/provider/MediaStore$Images$Media;->EXTERNAL_CONTENT_URI:Landroid/net/Uri;"
	sgetMedia = "    sget-object v2, " + imagesURI + "\n"
	// pickIntent makes v0 an ACTION_PICK Intent on the URI in v2, as umeng_demo_yichou's
	// MainActivity.b() does, and sets its type.
	pickIntent = "    new-instance v0, Landroid/content/Intent;\n" +
		"    const-string v1, \"android.intent.action.PICK\"\n" +
		"    invoke-direct {v0, v1, v2}, Landroid/content/Intent;-><init>(Ljava/lang/String;Landroid/net/Uri;)V\n" +
		"    const-string v1, \"image/*\"\n" +
		"    invoke-virtual {v0, v2, v1}, Landroid/content/Intent;->setDataAndType(Landroid/net/Uri;Ljava/lang/String;)Landroid/content/Intent;\n"
	// queryV2 queries the provider at the URI in v2 through the ContentResolver in p0.
	queryV2 = "    const/4 v3, 0x0\n    const/4 v4, 0x0\n    const/4 v5, 0x0\n    const/4 v6, 0x0\n" +
		"    move-object v1, p0\n" +
		"    invoke-virtual/range {v1 .. v6}, Landroid/content/ContentResolver;->query(Landroid/net/Uri;[Ljava/lang/String;Ljava/lang/String;[Ljava/lang/String;Ljava/lang/String;)Landroid/database/Cursor;\n"
)

// uriClass is a class with one static method run(ContentResolver p0, String p1) returning ret,
// whose body is code.
func uriClass(name, ret, code string) string {
	return fmt.Sprintf(`.class public Lcom/example/app/%s;
.super Ljava/lang/Object;

.field public static u:Landroid/net/Uri;

.method public static run(Landroid/content/ContentResolver;Ljava/lang/String;)%s
    .registers 10
%s
.end method
`, name, ret, code)
}

// TestIntentOnlyContentURI: a MediaStore URI constant that only becomes an Intent's data (the
// system picker, ACTION_PICK) is not a read of the media store and yields no provider.media
// record; the same constant reaching a query, a field, a return value, a derived URI, an
// unknown call or an exception handler that queries it on any path stays reported, from the
// field read itself.
func TestIntentOnlyContentURI(t *testing.T) {
	smali := readDir(t, filepath.Join("testdata", "app", "smali"))
	add := func(name, ret, code string) { smali[name+".smali"] = uriClass(name, ret, code) }
	add("Pick", "V", sgetMedia+pickIntent+"    return-void")
	add("PickCopy", "V", sgetMedia+"    move-object v7, v2\n    const/4 v2, 0x0\n    new-instance v0, Landroid/content/Intent;\n"+
		"    invoke-virtual {v0, v7}, Landroid/content/Intent;->setData(Landroid/net/Uri;)Landroid/content/Intent;\n    return-void")
	add("PickBranch", "V", sgetMedia+"    new-instance v0, Landroid/content/Intent;\n    if-eqz p1, :a\n"+
		"    invoke-virtual {v0, v2}, Landroid/content/Intent;->setDataAndNormalize(Landroid/net/Uri;)Landroid/content/Intent;\n    return-void\n"+
		"    :a\n    invoke-virtual {v0, v2}, Landroid/content/Intent;->setData(Landroid/net/Uri;)Landroid/content/Intent;\n    return-void")
	add("Query", "V", sgetMedia+queryV2+"    return-void")
	add("Mixed", "V", sgetMedia+pickIntent+queryV2+"    return-void")
	add("BranchQuery", "V", sgetMedia+pickIntent+"    if-eqz p1, :a\n    return-void\n    :a\n"+queryV2+"    return-void")
	add("Store", "V", sgetMedia+pickIntent+"    sput-object v2, Lcom/example/app/Store;->u:Landroid/net/Uri;\n    return-void")
	add("Returned", "Landroid/net/Uri;", sgetMedia+pickIntent+"    return-object v2")
	add("Appended", "V", sgetMedia+"    const-string v1, \"1\"\n"+
		"    invoke-static {v2, v1}, Landroid/net/Uri;->withAppendedPath(Landroid/net/Uri;Ljava/lang/String;)Landroid/net/Uri;\n"+
		"    move-result-object v2\n"+pickIntent+"    return-void")
	add("Built", "V", sgetMedia+"    invoke-virtual {v2}, Landroid/net/Uri;->buildUpon()Landroid/net/Uri$Builder;\n    return-void")
	add("Observed", "V", sgetMedia+"    const/4 v1, 0x0\n    const/4 v3, 0x0\n"+
		"    invoke-virtual {p0, v2, v1, v3}, Landroid/content/ContentResolver;->registerContentObserver(Landroid/net/Uri;ZLandroid/database/ContentObserver;)V\n    return-void")
	add("Loader", "V", sgetMedia+"    new-instance v0, Landroid/content/CursorLoader;\n"+
		"    const/4 v1, 0x0\n    const/4 v3, 0x0\n    const/4 v4, 0x0\n    const/4 v5, 0x0\n    const/4 v6, 0x0\n"+
		"    invoke-direct/range {v0 .. v6}, Landroid/content/CursorLoader;-><init>(Landroid/content/Context;Landroid/net/Uri;[Ljava/lang/String;Ljava/lang/String;[Ljava/lang/String;Ljava/lang/String;)V\n    return-void")
	add("Handler", "V", sgetMedia+"    :try_start\n"+pickIntent+"    :try_end\n"+
		"    .catch Ljava/lang/RuntimeException; {:try_start .. :try_end} :h\n    return-void\n"+
		"    :h\n    move-exception v8\n"+queryV2+"    return-void")
	add("Receiver", "V", sgetMedia+"    new-instance v0, Landroid/content/Intent;\n"+
		"    invoke-virtual {v2, v2}, Landroid/content/Intent;->setData(Landroid/net/Uri;)Landroid/content/Intent;\n    return-void")
	p := buildSpec(t, fixture{Smali: smali})
	rep, _ := inspect(t, p)
	for _, c := range []struct {
		class    string
		reported bool
	}{
		{"Pick", false}, {"PickCopy", false}, {"PickBranch", false},
		{"Query", true}, {"Mixed", true}, {"BranchQuery", true}, {"Store", true}, {"Returned", true},
		{"Appended", true}, {"Built", true}, {"Observed", true}, {"Loader", true}, {"Handler", true}, {"Receiver", true},
	} {
		o := find(rep, "apk.sensitive_api", "provider.media @ com.example.app."+c.class)
		switch {
		case !c.reported && o != nil:
			t.Errorf("%s: provider.media reported (%v), want none: the URI only becomes an Intent's data", c.class, o.Attributes["descriptor"])
		case c.reported && o == nil:
			t.Errorf("%s: provider.media not reported", c.class)
		case c.reported && o.Attributes["descriptor"] != imagesURI:
			// The sget precedes the query in code order, so the record is the field read's.
			t.Errorf("%s: descriptor %v, want the field read %s", c.class, o.Attributes["descriptor"], imagesURI)
		}
	}
}
