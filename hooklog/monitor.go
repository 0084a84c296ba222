package hooklog

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// AndroidPrivacyMonitor (LangQiang/AndroidPrivacyMonitor, lib/privacy_monitor_template.js
// @26f7e534dd614d9dbe0b113bbd6e644b853b2623, logCall) prints per call, through console.log with
// ANSI colours (kept when the terminal output is saved, so they are stripped here):
//
//	🚨 [n] [hh:mm:sss.mmm] <label>          seconds padded to three digits (padStart(3))
//	⏰ 调用时机: <stage>                      process start-up stages, not consent
//	📋 API: <class.method>
//	📝 详情: <details>                        optional
//	📥 传入参数: [ / "   [i] value" / ]       optional
//	📤 返回值: <value>                        only when the value is truthy
//	===== STACK_START ===== frames ===== STACK_END =====   getStackTraceString, first 10 lines
var (
	ansiEscape    = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")
	monitorHeader = regexp.MustCompile(`^🚨 \[(\d{1,9})\] \[(\d{1,2}):(\d{1,2}):(\d{1,3})\.(\d{1,3})\] ?(.*)$`)
	monitorArg    = regexp.MustCompile(`^\[(\d{1,4})\] ?(.*)$`)
)

// looksLikeMonitor accepts text with the stack markers or a call header of AndroidPrivacyMonitor.
func looksLikeMonitor(head []byte) bool {
	if bytes.Contains(head, []byte("===== STACK_START =====")) {
		return true
	}
	for _, l := range bytes.Split(head, []byte("\n")) {
		if monitorHeader.Match(bytes.TrimSpace(ansiEscape.ReplaceAll(l, nil))) {
			return true
		}
	}
	return false
}

func readMonitor(r io.Reader, b *builder) {
	sc := bufio.NewScanner(r)
	// The larger of the buffer's capacity and max bounds a line: the capacity must not exceed it.
	sc.Buffer(make([]byte, 0, min(64<<10, b.lim.MaxLineBytes)), b.lim.MaxLineBytes)
	var cur *Event
	var frames []string
	dropped := 0
	inStack, inArgs := false, false
	flush := func() {
		if cur == nil {
			return
		}
		cur.Stack, cur.StackDropped = b.frames(frames)
		cur.StackDropped += dropped
		b.add(*cur)
		cur, frames, dropped, inStack, inArgs = nil, nil, 0, false, false
	}
	line := 0
	for sc.Scan() {
		line++
		raw := sc.Text()
		if strings.IndexByte(raw, 0x1b) >= 0 {
			raw = ansiEscape.ReplaceAllString(raw, "")
		}
		t := strings.TrimSpace(raw)
		if m := monitorHeader.FindStringSubmatch(t); m != nil {
			flush()
			h, _ := strconv.Atoi(m[2])
			mi, _ := strconv.Atoi(m[3])
			s, _ := strconv.Atoi(m[4])
			ms, _ := strconv.Atoi(m[5])
			if h > 23 || mi > 59 || s > 59 || len(m[5]) != 3 {
				b.invalid(line, "time %s:%s:%s.%s is not a time of day", m[2], m[3], m[4], m[5])
				continue
			}
			cur = &Event{Row: line, DeviceTime: fmt.Sprintf("%02d:%02d:%02d.%03d", h, mi, s, ms), TimeSource: TimeOfDay,
				Phase: PhaseUnknown, PhaseSource: PhaseSourceNone, Foreground: ForegroundUnknown, Args: []string{},
				ToolAPI: b.text(m[6]), ms: int64(((h*60+mi)*60+s)*1000 + ms), hasMs: true}
			continue
		}
		if cur == nil {
			continue
		}
		switch {
		case t == "===== STACK_START =====":
			inStack, inArgs = true, false
		case t == "===== STACK_END =====":
			inStack = false
		case inStack:
			if t == "" {
				continue
			}
			if len(frames) >= b.lim.MaxFrames {
				dropped++
			} else {
				frames = append(frames, t)
			}
		case inArgs:
			if t == "]" {
				inArgs = false
			} else if m := monitorArg.FindStringSubmatch(t); m != nil && len(cur.Args) < b.lim.MaxArgs {
				cur.Args = append(cur.Args, b.text(m[2]))
			}
		case strings.HasPrefix(t, "⏰ 调用时机:"):
			cur.Note = b.text("调用时机: " + strings.TrimSpace(strings.TrimPrefix(t, "⏰ 调用时机:")))
		case strings.HasPrefix(t, "📋 API:"):
			// The hooked class.method is the tool's name for the call; the label of the header
			// ("Android ID监控 (重载0)") says less.
			cur.ToolAPI = b.text(strings.TrimSpace(strings.TrimPrefix(t, "📋 API:")))
		case strings.HasPrefix(t, "📥 传入参数:"):
			inArgs = true
		case strings.HasPrefix(t, "📤 返回值:"):
			cur.ReturnValue, cur.HasReturn = b.text(strings.TrimSpace(strings.TrimPrefix(t, "📤 返回值:"))), true
		}
	}
	if err := sc.Err(); err != nil {
		b.fail(line+1, "%v (the line is longer than %d bytes or unreadable; stopped there)", err, b.lim.MaxLineBytes)
	}
	flush()
}
