// Added to tailscale.com/cmd/tailscaled at build time with `go build -overlay`
// (upstream sources are never edited).
//
// Why: upstream drops "[v1]"/"[v2]" lines inside logtail. Our build omits
// logtail (it would buffer and upload logs), so tailscaled logs through the
// standard log package straight to stderr and every verbose line reaches the
// RouterOS log, where it floods the small in-memory buffer. This filter keeps
// them out unless TS_LOG_VERBOSITY asks for them.

package main

import (
	"bytes"
	"io"
	"log"
	"os"
	"strconv"
	"sync"
)

func init() {
	level, _ := strconv.Atoi(os.Getenv("TS_LOG_VERBOSITY"))
	log.SetOutput(&verboseFilter{out: os.Stderr, level: level})
}

type verboseFilter struct {
	mu    sync.Mutex
	out   io.Writer
	level int
}

// The log package hands Write one whole line at a time. Verbose lines carry a
// "[vN] " marker near the start, after the timestamp and any logger prefix;
// "[v\x00JSON]" lines are structured records meant only for logtail. The rate
// limiter's "[RATELIMIT] format(...)" notices quote such a format string, the
// NUL escaped as text, so that spelling is dropped too.
func (f *verboseFilter) Write(p []byte) (int, error) {
	head := p
	if len(head) > 128 {
		head = head[:128]
	}
	if bytes.Contains(head, []byte("[v\x00JSON]")) || bytes.Contains(head, []byte(`[v\x00JSON]`)) {
		return len(p), nil
	}
	if i := bytes.Index(head, []byte("[v")); i >= 0 && i+4 < len(head) && head[i+3] == ']' && head[i+4] == ' ' {
		if n := int(head[i+2] - '0'); n >= 1 && n <= 9 && n > f.level {
			return len(p), nil
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.out.Write(p)
}
