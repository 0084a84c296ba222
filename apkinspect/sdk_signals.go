package apkinspect

import (
	_ "embed"
	"fmt"
	"path"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// sdkSignalsYAML names SDKs by native-library and asset file names; see the file's header.
//
//go:embed sdk_signals.yaml
var sdkSignalsYAML []byte

// sdkSignal is one entry of sdk_signals.yaml.
type sdkSignal struct {
	SDK     string `yaml:"sdk"`
	Kind    string `yaml:"kind"` // lib | asset
	Glob    string `yaml:"glob"`
	Example string `yaml:"example"`
	Source  string `yaml:"source"`
}

// via is the apk.sdk via value of the signal.
func (s sdkSignal) via() string {
	if s.Kind == "lib" {
		return "native_lib"
	}
	return "asset_file"
}

// loadSDKSignals parses and checks the embedded table once.
var loadSDKSignals = sync.OnceValues(func() ([]sdkSignal, error) {
	return parseSDKSignals(sdkSignalsYAML)
})

func parseSDKSignals(b []byte) ([]sdkSignal, error) {
	var doc struct {
		Signals []sdkSignal `yaml:"signals"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("sdk_signals.yaml: %w", err)
	}
	for i, s := range doc.Signals {
		where := fmt.Sprintf("sdk_signals.yaml: signal %d (%s %s)", i+1, s.SDK, s.Glob)
		switch {
		case s.SDK == "" || s.Glob == "" || s.Source == "" || s.Example == "":
			return nil, fmt.Errorf("%s: sdk, glob, example and source are required", where)
		case s.Kind != "lib" && s.Kind != "asset":
			return nil, fmt.Errorf("%s: kind %q is not lib or asset", where, s.Kind)
		}
		if _, err := path.Match(s.Glob, ""); err != nil {
			return nil, fmt.Errorf("%s: %v", where, err)
		}
	}
	return doc.Signals, nil
}

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
