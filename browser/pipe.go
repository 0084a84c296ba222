package browser

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync"
)

// maxPipeMessage bounds one DevTools message from Chromium. The largest legitimate ones are a
// full-page screenshot (capped at 16384 px square) and an MHTML snapshot (32 MiB), both base64.
const maxPipeMessage = 256 << 20

// pipeTransport speaks the DevTools protocol over --remote-debugging-pipe: JSON messages, each
// ended by a NUL byte, written to Chromium's fd 3 and read from its fd 4. It satisfies
// cdp.WebSocketable, so rod's client drives Chromium without any listening socket.
type pipeTransport struct {
	wmu sync.Mutex
	w   io.WriteCloser

	r   *bufio.Reader
	rc  io.Closer
	max int
}

func newPipeTransport(r io.ReadCloser, w io.WriteCloser) *pipeTransport {
	return &pipeTransport{w: w, r: bufio.NewReaderSize(r, 64<<10), rc: r, max: maxPipeMessage}
}

// Send writes one message; rod's client calls it from many goroutines.
func (t *pipeTransport) Send(msg []byte) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	// A NUL inside the message would end it early and desynchronise the stream; encoding/json
	// escapes it, so this only guards against a caller bypassing it.
	for _, c := range msg {
		if c == 0 {
			return errors.New("browser: devtools message contains a NUL byte")
		}
	}
	if _, err := t.w.Write(append(msg[:len(msg):len(msg)], 0)); err != nil {
		return fmt.Errorf("browser: write to chromium's devtools pipe: %w", err)
	}
	return nil
}

// Read returns the next message without its NUL; only rod's reader goroutine calls it.
func (t *pipeTransport) Read() ([]byte, error) {
	var msg []byte
	for {
		chunk, err := t.r.ReadSlice(0)
		if len(msg)+len(chunk) > t.max {
			return nil, fmt.Errorf("browser: devtools message from chromium exceeds %d bytes", t.max)
		}
		switch {
		case err == nil:
			msg = append(msg, chunk[:len(chunk)-1]...)
			return msg, nil
		case errors.Is(err, bufio.ErrBufferFull):
			msg = append(msg, chunk...)
		default:
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("browser: read chromium's devtools pipe: %w", err)
		}
	}
}

// Close closes both ends; Chromium exits when its read end reaches EOF.
func (t *pipeTransport) Close() error {
	t.wmu.Lock()
	err := t.w.Close()
	t.wmu.Unlock()
	if err2 := t.rc.Close(); err == nil {
		err = err2
	}
	return err
}
