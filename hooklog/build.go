package hooklog

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ReadError lists what could not be read in one log: each reason names the row or line. The log
// returned beside it keeps everything read.
type ReadError struct {
	Path    string
	Reasons []string
	// More counts the reasons beyond Limits.MaxErrors.
	More int
}

func (e *ReadError) Error() string {
	s := e.Path + ": " + strings.Join(e.Reasons, "; ")
	if e.More > 0 {
		s += fmt.Sprintf("; and %d more", e.More)
	}
	return s
}

// builder collects the calls of one log within its limits.
type builder struct {
	name string
	lim  Limits
	log  *Log
	errs *ReadError
	// unit names a place in the file in errors: "row" of a sheet, "line" of a text log.
	unit string
	// A hook fires many times from the same call sites: frames and whole stack cells repeat.
	// Each distinct frame is kept once (interned), and a stack cell seen before shares the frames
	// of its first occurrence, so memory grows with the distinct stacks, not with the calls. Both
	// tables are bounded (internMaxBytes); past the bound, strings are kept per call as before.
	intern      map[string]string
	stacks      map[string]stackOf
	internBytes int
}

type stackOf struct {
	frames  []string
	dropped int
}

// internMaxBytes bounds the text held by the intern and stack tables of one log.
const internMaxBytes = 64 << 20

func newBuilder(name, format string, lim Limits) *builder {
	unit := "row"
	if format == FormatPilmon || format == FormatPrivacyMonitor {
		unit = "line"
	}
	return &builder{name: name, lim: lim, unit: unit, log: &Log{Format: format, Events: []Event{}}}
}

// fail records a reason for a row or line (row 0: the file as a whole).
func (b *builder) fail(row int, format string, args ...any) {
	if b.errs == nil {
		b.errs = &ReadError{Path: b.name}
	}
	if len(b.errs.Reasons) >= b.lim.MaxErrors {
		b.errs.More++
		return
	}
	msg := fmt.Sprintf(format, args...)
	if row > 0 {
		msg = fmt.Sprintf("%s %d: %s", b.unit, row, msg)
	}
	b.errs.Reasons = append(b.errs.Reasons, msg)
}

// invalid counts a row or line that could not be read, with its reason.
func (b *builder) invalid(row int, format string, args ...any) {
	b.log.Invalid++
	b.fail(row, format, args...)
}

// full reports whether the log holds MaxEvents calls; later calls are only counted.
func (b *builder) full() bool { return len(b.log.Events) >= b.lim.MaxEvents }

// add appends a call, numbering it, or counts it as dropped beyond MaxEvents.
func (b *builder) add(e Event) {
	if b.full() {
		if b.log.Dropped == 0 {
			b.fail(0, "more than %d calls: the rest are counted, not kept", b.lim.MaxEvents)
		}
		b.log.Dropped++
		return
	}
	e.Seq = len(b.log.Events) + 1
	b.log.Events = append(b.log.Events, e)
}

func (b *builder) err() error {
	if b.errs == nil {
		return nil
	}
	return b.errs
}

// text makes a cell or value safe to keep: valid UTF-8, at most MaxCellBytes (cut on a rune
// boundary, marked with "…").
func (b *builder) text(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= b.lim.MaxCellBytes {
		return s
	}
	cut := b.lim.MaxCellBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// frames keeps the innermost MaxFrames non-empty frames of lines, trimmed, and counts the rest.
func (b *builder) frames(lines []string) (kept []string, dropped int) {
	kept = []string{}
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if len(kept) >= b.lim.MaxFrames {
			dropped++
			continue
		}
		kept = append(kept, b.interned(b.text(l)))
	}
	return kept, dropped
}

// interned returns the kept copy of s, keeping a copy of its own (not a window into the cell it
// was cut from) while the table has room.
func (b *builder) interned(s string) string {
	if v, ok := b.intern[s]; ok {
		return v
	}
	if b.internBytes+len(s) > internMaxBytes {
		return strings.Clone(s)
	}
	if b.intern == nil {
		b.intern = map[string]string{}
	}
	s = strings.Clone(s)
	b.intern[s] = s
	b.internBytes += len(s)
	return s
}

// stackCell splits a stack cell into frames (frames), sharing the result with earlier identical
// cells. Callers must not modify the returned slice.
func (b *builder) stackCell(cell string) ([]string, int) {
	sum := sha256.Sum256([]byte(cell))
	key := string(sum[:])
	if st, ok := b.stacks[key]; ok {
		return st.frames, st.dropped
	}
	kept, dropped := b.frames(splitLines(cell))
	// Each entry costs its key and its slice of frame pointers.
	if cost := len(key) + 16*len(kept); b.internBytes+cost <= internMaxBytes {
		if b.stacks == nil {
			b.stacks = map[string]stackOf{}
		}
		b.stacks[key] = stackOf{kept, dropped}
		b.internBytes += cost
	}
	return kept, dropped
}

// splitLines splits on \n, \r\n and lone \r without keeping more than max lines' worth of work
// beyond what frames keeps (the caller bounds the input's size).
func splitLines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Split(s, "\n")
}

// maxNotes bounds the notes of one log; the last says how many more there were.
const maxNotes = 50

// note records what the reader learned about the whole log (a class the script could not hook).
func (b *builder) note(format string, args ...any) {
	switch n := len(b.log.Notes); {
	case n < maxNotes:
		b.log.Notes = append(b.log.Notes, b.text(fmt.Sprintf(format, args...)))
	case n == maxNotes:
		b.log.Notes = append(b.log.Notes, "further notes left out")
	}
}
