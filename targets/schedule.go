package targets

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Shanghai must resolve in a minimal container without /usr/share/zoneinfo

	"github.com/robfig/cron/v3"
)

// DefaultZone is the time zone of a schedule that names none (CRON_TZ=… overrides it).
const DefaultZone = "Asia/Shanghai"

const maxSpecLen = 200

var specParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule is a parsed cron spec. Next returns the first tick strictly after t, or the zero time
// when the spec never fires again.
type Schedule interface {
	Next(t time.Time) time.Time
}

// everySchedule is "@every D" with ticks aligned to the Unix epoch rather than to the moment the
// spec was parsed, so that two schedulers agree on which tick is due (the dedupe key names it).
type everySchedule struct{ d time.Duration }

func (e everySchedule) Next(t time.Time) time.Time {
	n := t.UnixNano()
	d := int64(e.d)
	next := (n/d + 1) * d
	return time.Unix(0, next).In(t.Location())
}

// ParseSchedule parses a cron spec: five fields (minute hour dom month dow), six with a leading
// seconds field, or a descriptor (@daily, @hourly, @every 1h30m …), optionally prefixed with
// CRON_TZ=Zone. A spec without a zone runs in DefaultZone.
func ParseSchedule(spec string) (Schedule, error) {
	return parseScheduleIn(spec, DefaultZone)
}

func parseScheduleIn(spec, zone string) (sched Schedule, err error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fmt.Errorf("empty schedule")
	}
	if len(spec) > maxSpecLen {
		return nil, fmt.Errorf("schedule %.40q…: %d bytes, limit %d", spec, len(spec), maxSpecLen)
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		if !strings.Contains(spec, " ") {
			return nil, fmt.Errorf("schedule %q: a zone needs a spec after it (CRON_TZ=Asia/Shanghai 0 3 * * *)", spec)
		}
	} else {
		spec = "CRON_TZ=" + zone + " " + spec
	}
	defer func() {
		if p := recover(); p != nil { // the parser has had index panics on odd input
			sched, err = nil, fmt.Errorf("schedule %q: unparsable (%v)", spec, p)
		}
	}()
	s, err := specParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", spec, err)
	}
	if c, ok := s.(cron.ConstantDelaySchedule); ok {
		return everySchedule{c.Delay}, nil
	}
	return s, nil
}

// NextRuns returns up to n ticks of spec after t.
func NextRuns(spec string, t time.Time, n int) ([]time.Time, error) {
	s, err := ParseSchedule(spec)
	if err != nil {
		return nil, err
	}
	var out []time.Time
	for range n {
		t = s.Next(t)
		if t.IsZero() {
			break
		}
		out = append(out, t)
	}
	return out, nil
}
