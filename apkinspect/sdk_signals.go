package apkinspect

import (
	"path"
	"strings"
	"sync"

	"pilmon/rules"
)

// sdkSignal is one entry of rules/data/sdk_signals.yaml: an SDK named by a native-library or
// asset file name. The rules package loads and checks the table (every sdk id resolves, every glob
// compiles); this package matches it.
type sdkSignal struct{ rules.SDKSignal }

// via is the apk.sdk via value of the signal.
func (s sdkSignal) via() string {
	if s.Kind == "lib" {
		return "native_lib"
	}
	return "asset_file"
}

// loadSDKSignals takes the table from the embedded catalogue once.
var loadSDKSignals = sync.OnceValues(func() ([]sdkSignal, error) {
	cat, err := rules.Default()
	if err != nil {
		return nil, err
	}
	var out []sdkSignal
	for _, s := range cat.SDKSignals() {
		out = append(out, sdkSignal{s})
	}
	return out, nil
})

// signalKey returns what a signal of each kind is matched against for an APK entry: the file
// name of lib/<abi>/<name>.so, the path below assets/. ok is false for other entries.
func signalKey(entry string) (kind, key string, ok bool) {
	switch {
	case strings.HasPrefix(entry, "lib/") && strings.HasSuffix(entry, ".so"):
		return "lib", path.Base(entry), true
	case strings.HasPrefix(entry, "assets/"):
		return "asset", entry[len("assets/"):], true
	}
	return "", "", false
}

// matchSignals returns the signals entry fires.
func matchSignals(sigs []sdkSignal, entry string) []sdkSignal {
	kind, key, ok := signalKey(entry)
	if !ok {
		return nil
	}
	var out []sdkSignal
	for _, s := range sigs {
		if s.Kind != kind {
			continue
		}
		if m, _ := path.Match(s.Glob, key); m {
			out = append(out, s)
		}
	}
	return out
}
