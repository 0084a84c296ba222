package apkinspect

import "strings"

// libraries are well-known platform and open-source libraries bundled into apps. Their code is
// neither the operator's own nor a third-party SDK that collects PI for its vendor: a sensitive
// API referenced inside them (the support library listing activities to build a chooser, a map
// library reading the last known location for its own overlay) is plumbing the app may or may
// not use, and is never evidence against the operator by itself. An SDK match (the catalogue)
// always wins over these prefixes, so Google's ad and analytics SDKs stay SDKs.
var libraries = []struct{ id, prefix string }{
	{"androidx", "androidx"},
	{"android_support", "android.support"},
	{"android_arch", "android.arch"},
	{"material_components", "com.google.android.material"},
	{"play_services", "com.google.android.gms.common"},
	{"play_services", "com.google.android.gms.internal"},
	{"play_services", "com.google.android.gms.dynamite"},
	{"play_services", "com.google.android.gms.tasks"},
	{"play_services", "com.google.android.gms.dynamic"},
	{"kotlin", "kotlin"},
	{"kotlinx", "kotlinx"},
	{"okhttp", "okhttp3"},
	{"okhttp", "com.squareup.okhttp"},
	{"okio", "okio"},
	{"square", "com.squareup"},
	{"gson", "com.google.gson"},
	{"guava", "com.google.common"},
	{"protobuf", "com.google.protobuf"},
	{"rxjava", "io.reactivex"},
	{"rxjava", "rx"},
	{"glide", "com.bumptech.glide"},
	{"apache", "org.apache"},
	{"jackson", "com.fasterxml.jackson"},
	{"greenrobot", "org.greenrobot"},
	{"osmdroid", "org.osmdroid"},
	{"universal_image_loader", "com.nostra13.universalimageloader"},
}

// libraryOfClass names the library a Java class belongs to (package boundaries), or "".
func libraryOfClass(cls string) string {
	for _, l := range libraries {
		if cls == l.prefix || strings.HasPrefix(cls, l.prefix+".") {
			return l.id
		}
	}
	return ""
}
