package traffic

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// rawScanner walks JSON structure byte by byte and captures one value's raw bytes at a time with
// caps. encoding/json's Decoder buffers each whole token or value and its errors are sticky, so an
// oversized or malformed entry would end the file; here an entry over the cap is scanned to its end
// without being kept, a long string is cut, and a syntax error inside one entry only costs that
// entry (json.Unmarshal of the captured bytes checks the syntax).
type rawScanner struct {
	r        io.Reader
	buf      []byte
	pos, end int
	off      int64 // bytes consumed
	rerr     error
	out      []byte // captured value, reused
}

type captureState struct {
	oversize, truncated, tooDeep bool
}

func newRawScanner(r io.Reader) *rawScanner {
	return &rawScanner{r: r, buf: make([]byte, 256<<10)}
}

func (s *rawScanner) fill() bool {
	if s.pos < s.end {
		return true
	}
	if s.rerr != nil {
		return false
	}
	for i := 0; i < 100; i++ {
		n, err := s.r.Read(s.buf)
		s.pos, s.end = 0, n
		if err != nil {
			s.rerr = err
		}
		if n > 0 {
			return true
		}
		if err != nil {
			return false
		}
	}
	s.rerr = io.ErrNoProgress
	return false
}

func (s *rawScanner) errEOF() error {
	if s.rerr != nil && !errors.Is(s.rerr, io.EOF) {
		return fmt.Errorf("byte %d: read: %w", s.off, s.rerr)
	}
	return fmt.Errorf("byte %d: unexpected end of input", s.off)
}

func (s *rawScanner) skipBOM() {
	if !s.fill() {
		return
	}
	if s.end-s.pos >= 3 && s.buf[s.pos] == 0xEF && s.buf[s.pos+1] == 0xBB && s.buf[s.pos+2] == 0xBF {
		s.pos += 3
		s.off += 3
	}
}

// peek returns the next non-space byte without consuming it.
func (s *rawScanner) peek() (byte, error) {
	for {
		if !s.fill() {
			return 0, s.errEOF()
		}
		c := s.buf[s.pos]
		if c == ' ' || c == '\n' || c == '\r' || c == '\t' {
			s.pos++
			s.off++
			continue
		}
		return c, nil
	}
}

func (s *rawScanner) expect(want byte) error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	if c != want {
		return fmt.Errorf("byte %d: expected %q, found %q", s.off, want, c)
	}
	s.pos++
	s.off++
	return nil
}

// object walks the members of an object whose '{' was consumed; fn must consume the value.
func (s *rawScanner) object(fn func(key string) error) error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	if c == '}' {
		s.pos++
		s.off++
		return nil
	}
	for {
		key, err := s.key()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := fn(key); err != nil {
			return err
		}
		c, err := s.peek()
		if err != nil {
			return err
		}
		s.pos++
		s.off++
		switch c {
		case ',':
			continue
		case '}':
			return nil
		default:
			return fmt.Errorf("byte %d: expected ',' or '}' in object, found %q", s.off-1, c)
		}
	}
}

// array consumes '[' and walks the elements; fn must consume each element.
func (s *rawScanner) array(fn func() error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	c, err := s.peek()
	if err != nil {
		return err
	}
	if c == ']' {
		s.pos++
		s.off++
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		c, err := s.peek()
		if err != nil {
			return err
		}
		s.pos++
		s.off++
		switch c {
		case ',':
			continue
		case ']':
			return nil
		default:
			return fmt.Errorf("byte %d: expected ',' or ']' in array, found %q", s.off-1, c)
		}
	}
}

func (s *rawScanner) key() (string, error) {
	c, err := s.peek()
	if err != nil {
		return "", err
	}
	if c != '"' {
		return "", fmt.Errorf("byte %d: expected an object key, found %q", s.off, c)
	}
	raw, st, err := s.capture(4096, 4096, 1)
	if err != nil {
		return "", err
	}
	if st.oversize || st.truncated {
		return "", fmt.Errorf("byte %d: object key longer than 4096 bytes", s.off)
	}
	var k string
	if err := json.Unmarshal(raw, &k); err != nil {
		return "", fmt.Errorf("byte %d: object key: %v", s.off, err)
	}
	return k, nil
}

func (s *rawScanner) skip() error {
	_, _, err := s.capture(0, 0, 1<<30)
	return err
}

// capture reads the next value and returns its bytes (valid until the next call). Bytes beyond
// maxTotal are not kept (oversize); string contents beyond maxStr are dropped and the string closed
// (truncated); nesting beyond maxDepth sets tooDeep. maxTotal 0 keeps nothing (skip).
// Syntax inside the value is not checked beyond strings and brackets.
func (s *rawScanner) capture(maxTotal, maxStr, maxDepth int) ([]byte, captureState, error) {
	var st captureState
	s.out = s.out[:0]
	keep := maxTotal > 0
	c, err := s.peek()
	if err != nil {
		return nil, st, err
	}
	startOff := s.off
	depth := 0
	inStr := false
	esc := 0    // >0: inside an escape; 1 after '\', 2..5 for \uXXXX digits still due
	strLen := 0 // content bytes of the current string
	cutStr := false
	emit := func(b []byte) {
		if !keep {
			return
		}
		if len(s.out)+len(b) > maxTotal {
			st.oversize = true
			keep = false
			s.out = s.out[:0]
			return
		}
		s.out = append(s.out, b...)
	}
	if c != '"' && c != '{' && c != '[' {
		// a literal: true/false/null/number, up to the next delimiter
		for {
			if !s.fill() {
				if s.off == startOff {
					return nil, st, s.errEOF()
				}
				return s.out, st, nil
			}
			i := s.pos
			for i < s.end {
				b := s.buf[i]
				if b == ',' || b == '}' || b == ']' || b == ' ' || b == '\n' || b == '\r' || b == '\t' {
					break
				}
				i++
			}
			emit(s.buf[s.pos:i])
			s.off += int64(i - s.pos)
			done := i < s.end
			s.pos = i
			if done {
				if s.off == startOff {
					return nil, st, fmt.Errorf("byte %d: unexpected %q", s.off, s.buf[s.pos])
				}
				return s.out, st, nil
			}
		}
	}
	for {
		if !s.fill() {
			return nil, st, s.errEOF()
		}
		chunk := s.buf[s.pos:s.end]
		start := 0 // start of the pending run to emit
		i := 0
		finished := false
		for i < len(chunk) {
			b := chunk[i]
			if inStr {
				if esc > 0 {
					if esc == 1 && b == 'u' {
						esc = 5
					}
					esc--
					strLen++
					i++
					if cutStr {
						start = i
					}
					continue
				}
				if b == '"' {
					inStr = false
					if cutStr {
						emit(chunk[start:i]) // nothing pending when cut, but keep the logic uniform
						start = i
						cutStr = false
					}
					i++
					if depth == 0 {
						finished = true
						break
					}
					continue
				}
				if !cutStr && strLen >= maxStr && maxStr > 0 {
					// cut here: drop the rest of this string's content
					emit(chunk[start:i])
					start = i
					cutStr = true
					st.truncated = true
				}
				if b == '\\' {
					esc = 1
				}
				strLen++
				i++
				if cutStr {
					start = i
				}
				continue
			}
			switch b {
			case '"':
				inStr = true
				strLen = 0
			case '{', '[':
				depth++
				if depth > maxDepth {
					st.tooDeep = true
				}
			case '}', ']':
				depth--
				if depth <= 0 {
					i++
					finished = true
				}
			}
			if finished {
				break
			}
			i++
		}
		emit(chunk[start:i])
		s.pos += i
		s.off += int64(i)
		if finished {
			if st.oversize || !keep && maxTotal > 0 {
				return nil, st, nil
			}
			return s.out, st, nil
		}
	}
}
