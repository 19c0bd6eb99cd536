package main

import (
	"bytes"
	"testing"
)

func TestVerboseFilter(t *testing.T) {
	cases := []struct {
		line  string
		level int
		kept  bool
	}{
		{"2026/11/28 02:22:03 magicsock: endpoints changed\n", 0, true},
		{"2026/11/28 02:22:03 [v1] magicsock: disco ping\n", 0, false},
		{"2026/11/28 02:22:03 [v1] magicsock: disco ping\n", 1, true},
		{"2026/11/28 02:22:03 wgengine: [v2] peer keepalive\n", 1, false},
		{"2026/11/28 02:22:03 wgengine: [v2] peer keepalive\n", 2, true},
		{"2026/11/28 02:22:03 control: [v\x00JSON]1{\"a\":1}\n", 9, false},
		{"2026/11/28 02:22:03 [RATELIMIT] format(\"control: [v\\x00JSON]%d%s\")\n", 9, false},
		{"2026/11/28 02:22:03 [RATELIMIT] format(\"[v1] netcheck: %v\")\n", 0, false},
		{"2026/11/28 02:22:03 [vx] not a level\n", 0, true},
		{"2026/11/28 02:22:03 health: [v1]\n", 0, true}, // marker must be followed by a space
	}
	for _, c := range cases {
		var out bytes.Buffer
		f := &verboseFilter{out: &out, level: c.level}
		n, err := f.Write([]byte(c.line))
		if err != nil || n != len(c.line) {
			t.Fatalf("Write(%q) = %d, %v", c.line, n, err)
		}
		if got := out.Len() > 0; got != c.kept {
			t.Errorf("level %d, %q: kept=%v, want %v", c.level, c.line, got, c.kept)
		}
	}
}
