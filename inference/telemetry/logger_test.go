package telemetry

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestLoggerGolden(t *testing.T) {
	var buf bytes.Buffer
	tick := time.Date(2025, 5, 13, 13, 47, 38, 880e6, time.UTC)
	l := NewLogger(&buf, "radix::scheduler").WithClock(func() time.Time { tick = tick.Add(time.Millisecond); return tick })
	l.Info(Startup{4096, 256, 512, 64, 2048}.String())
	l.Info(MsgRegistered)
	l.Info(PrefillBatch{NewSeq: 1, NewToken: 12, CachedToken: 0}.String())
	l.Info(DecodeBatch{Running: 1, Tokens: 52, TokenUsage: 0.01, GenThroughput: 31.25}.String())
	l.Warn(Retract{1, 0.098, 0.3487}.String())
	golden := filepath.Join("testdata", "logger.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("reading golden (run with -update to create): %v", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("logger output differs from %s:\n%s", golden, buf.String())
	}
	// Every line the logger wrote is recognised by the parser.
	var s CacheStats
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		if !s.AddLine(string(line)) {
			t.Errorf("unrecognised: %s", line)
		}
	}
	var nilLogger *Logger
	nilLogger.Info("discarded") // must not panic
}
