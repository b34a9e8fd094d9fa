package fleet

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/radixops/radix/inference/telemetry"
	"github.com/radixops/radix/kube"
)

// maxLogBytes is the size at which a process's log is rotated to <log>.1 (one old generation kept).
const maxLogBytes = 32 << 20

func (s store) logPath(d *Deployment, p Process) string {
	return filepath.Join(s.dir(d.Namespace, d.Name), p.LogFile)
}

// rotate copies a log over its size limit to <log>.1 and truncates it. The writer holds the file with
// O_APPEND, so its next line lands at the new start; lines written between the copy and the truncate
// are lost (logrotate's copytruncate has the same window), which beats a log that grows forever.
func rotate(path string) error {
	st, err := os.Stat(path)
	if err != nil || st.Size() < maxLogBytes {
		return err
	}
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(path + ".1")
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	return os.Truncate(path, 0)
}

// tailLines returns the last n lines of a file, reading only its end.
func tailLines(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil
	}
	const chunk = 64 << 10
	var buf []byte
	for off := st.Size(); off > 0 && bytes.Count(buf, []byte{'\n'}) <= n; {
		size := min(int64(chunk), off)
		off -= size
		b := make([]byte, size)
		if _, err := f.ReadAt(b, off); err != nil && err != io.EOF {
			return nil
		}
		buf = append(b, buf...)
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// logSource is one process's log to read.
type logSource struct {
	pod  string
	path string
}

// readLog reads a whole log (tail lines from the end when tail ≥ 0), dropping lines older than since.
func readLog(src logSource, tail int, since time.Time) ([]kube.LogLine, int64) {
	f, err := os.Open(src.path)
	if err != nil {
		return nil, 0
	}
	defer f.Close()
	var out []kube.LogLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var offset int64
	var last time.Time
	for sc.Scan() {
		offset += int64(len(sc.Bytes())) + 1
		l := toLine(src.pod, sc.Text(), &last)
		if !since.IsZero() && l.Time.Before(since) {
			continue
		}
		out = append(out, l)
	}
	if tail >= 0 && len(out) > tail {
		out = out[len(out)-tail:]
	}
	return out, offset
}

// toLine timestamps a line: its own timestamp (a Dynamo prefix, a JSONL record's time or SGLang's
// prefix), else the previous line's (a continuation such as a stack trace belongs with it), else now.
// The text is kept as the user sees it, without terminal escapes, as the cluster's logs are.
func toLine(pod, text string, last *time.Time) kube.LogLine {
	text = telemetry.StripANSI(text)
	t, ok := telemetry.LineTime(text)
	switch {
	case ok:
		*last = t
	case !last.IsZero():
		t = *last
	default:
		t = time.Now()
	}
	return kube.LogLine{Time: t, Pod: pod, Text: text}
}

// followLog sends lines appended to src after offset until ctx ends, noticing rotation (the file
// shrinks) and starting again from its beginning.
func followLog(ctx context.Context, src logSource, offset int64, out chan<- kube.LogLine) {
	var partial []byte
	var last time.Time
	tick := time.NewTicker(150 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		st, err := os.Stat(src.path)
		if err != nil {
			continue // not created yet, or mid-rotation
		}
		if st.Size() < offset {
			offset, partial = 0, nil
		}
		if st.Size() == offset {
			continue
		}
		f, err := os.Open(src.path)
		if err != nil {
			continue
		}
		b := make([]byte, min(st.Size()-offset, 4<<20))
		n, _ := f.ReadAt(b, offset)
		f.Close()
		offset += int64(n)
		data := append(partial, b[:n]...)
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			l := toLine(src.pod, string(data[:i]), &last)
			data = data[i+1:]
			select {
			case out <- l:
			case <-ctx.Done():
				return
			}
		}
		partial = append([]byte(nil), data...)
	}
}

// mergeLogs sorts lines of several pods by time, keeping each pod's own order for equal times.
func mergeLogs(lines []kube.LogLine) {
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].Time.Before(lines[j].Time) })
}
