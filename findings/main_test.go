package findings

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"pilmon/rules"
	"pilmon/scanner"
)

// testRedis is one real redis-server for the package's tests, started through StartRedis in a
// temporary data dir. Each test gets its own key prefix on it (newTestStore).
var testRedis *RedisServer

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestMain(m *testing.M) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		fmt.Fprintln(os.Stderr, "findings tests need a real redis-server and none is in PATH: install it (apt-get install redis-server); CI installs it")
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "pilmon-findings-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx := context.Background()
	testRedis, err = StartRedis(ctx, dir, RedisOptions{Logger: quietLog})
	if err != nil {
		fmt.Fprintln(os.Stderr, "findings tests: start redis-server:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = testRedis.Stop(ctx)
	os.RemoveAll(dir)
	os.Exit(code)
}

var prefixSeq atomic.Int64

// newTestStore returns a store on the shared test server with a prefix no other test uses.
func newTestStore(t testing.TB) *Store {
	t.Helper()
	return NewStore(testRedis.Client(), fmt.Sprintf("test%d:", prefixSeq.Add(1)))
}

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)

// sampleFinding is a finding of realistic size and shape.
func sampleFinding(target, rule, subject string) Finding {
	return Finding{
		TargetID:    target,
		RuleID:      rule,
		RuleVersion: 2,
		Subject:     subject,
		Severity:    "high",
		LegalBasis:  []rules.Citation{{Instrument: "rdff2019", Article: "3.1"}, {Instrument: "pipl", Article: "17"}},
		Summary: rules.Text{
			ZH: "应用在用户同意隐私政策前调用 TelephonyManager.getDeviceId 读取设备标识符（IMEI），属于未经同意收集个人信息。",
			EN: "The app reads the device identifier (IMEI) through TelephonyManager.getDeviceId before the user agrees to the privacy policy.",
		},
		Caveat: rules.Text{
			ZH: "静态分析无法确定调用发生的时机，需在测试机上确认。",
			EN: "Static analysis cannot tell when the call happens; confirm on a test phone.",
		},
		Observations: []scanner.Observation{
			{Kind: "apk.sensitive_api", Subject: "telephony.getDeviceId@com.umeng.commonsdk.internal.utils.d",
				Attributes:   map[string]any{"api": "telephony.getDeviceId", "caller_class": "com.umeng.commonsdk.internal.utils.d", "pi": []any{"device_id"}, "sdk": "umeng_analytics"},
				EvidenceRefs: []string{"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}, Inspector: "apkinspect", InspectorVersion: "0.3.0"},
			{Kind: "apk.permission", Subject: "android.permission.READ_PHONE_STATE",
				Attributes:   map[string]any{"pi": []any{"device_id", "phone_number"}, "protection_level": "dangerous", "max_sdk": float64(0)},
				EvidenceRefs: []string{"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}, Inspector: "apkinspect", InspectorVersion: "0.3.0"},
		},
		EvidenceRefs: []string{"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
		LastSeen:     t0,
	}
}
