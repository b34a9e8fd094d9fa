package kube

import (
	"bufio"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/radixops/radix/config"
	"github.com/radixops/radix/inference/telemetry"
)

// mergeWindow is how long a followed line waits for earlier lines from other pods before it is
// released: the price of a time-ordered merge of streams that arrive independently.
const mergeWindow = 250 * time.Millisecond

// maxLogLine bounds one log line; longer lines are cut (and marked) rather than stalling the stream.
const maxLogLine = 1 << 20

// ParseTimestampedLine splits a line of a log read with timestamps=true ("2025-05-13T13:47:38.880123456Z
// text") into the kubelet's time and the text. The text comes back without terminal escapes: Dynamo's
// logger colours its prefix by default, and what `radix logs` prints, the console shows, the filters
// match and the parsers read is the text a user sees. A line without a valid timestamp comes back
// whole (escapes stripped) with ok false.
func ParseTimestampedLine(line string) (t time.Time, text string, ok bool) {
	ts, rest, found := strings.Cut(line, " ")
	if !found {
		ts, rest = line, ""
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, telemetry.StripANSI(line), false
	}
	return t, telemetry.StripANSI(rest), true
}

// Logs reads (or follows) the main container of every pod of a deployment, merged in time order.
// Following picks up pods that appear later and containers that restart, and resumes a dropped
// stream where it stopped (no line twice). Stream trouble is reported in-band as lines with Err set.
func (c *KubeCluster) Logs(ctx context.Context, req LogRequest) (<-chan LogLine, error) {
	namespace := c.ns(req.Namespace)
	if req.Deployment == "" && req.Pod == "" {
		return nil, errors.New("logs: name a deployment or a pod")
	}
	out := make(chan LogLine, 256)
	if !req.Follow {
		pods, err := c.logPods(ctx, namespace, req)
		if err != nil {
			return nil, err
		}
		go func() {
			defer close(out)
			var all []LogLine
			for _, p := range pods {
				all = append(all, c.readPodLog(ctx, namespace, p, req)...)
			}
			sort.SliceStable(all, func(i, j int) bool { return all[i].Time.Before(all[j].Time) })
			for _, l := range all {
				select {
				case out <- l:
				case <-ctx.Done():
					return
				}
			}
		}()
		return out, nil
	}
	w, err := c.newFleetWatch(ctx, namespace, req.Deployment)
	if err != nil {
		return nil, err
	}
	if w.pods == nil {
		return nil, fmt.Errorf("following logs in %s: listing pods is forbidden for this user", namespace)
	}
	in := make(chan LogLine, 256)
	go mergeLines(ctx, in, out)
	go func() {
		var wg sync.WaitGroup
		defer func() { wg.Wait(); close(in) }()
		started := map[string]bool{}
		for {
			for _, p := range w.podList() {
				if started[p.Name] || (req.Pod != "" && p.Name != req.Pod) {
					continue
				}
				started[p.Name] = true
				wg.Add(1)
				go func(name string) {
					defer wg.Done()
					c.followPod(ctx, namespace, name, req, w, in)
				}(p.Name)
			}
			select {
			case <-w.changed:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func (c *KubeCluster) logPods(ctx context.Context, namespace string, req LogRequest) ([]string, error) {
	if req.Pod != "" {
		return []string{req.Pod}, nil
	}
	pods, err := c.Pods(ctx, namespace, req.Deployment)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(pods))
	for _, p := range pods {
		names = append(names, p.Name)
	}
	return names, nil
}

func logOptions(req LogRequest) *corev1.PodLogOptions {
	o := &corev1.PodLogOptions{Container: config.MainContainerName, Timestamps: true, Follow: req.Follow}
	if req.Tail >= 0 {
		t := int64(req.Tail)
		o.TailLines = &t
	}
	if req.Since > 0 {
		s := int64((req.Since + time.Second - 1) / time.Second)
		o.SinceSeconds = &s
	}
	return o
}

// readPodLog reads one pod's log to the end.
func (c *KubeCluster) readPodLog(ctx context.Context, namespace, pod string, req LogRequest) []LogLine {
	rc, err := c.pods.CoreV1().Pods(namespace).GetLogs(pod, logOptions(req)).Stream(ctx)
	if err != nil {
		return []LogLine{{Time: time.Now(), Pod: pod, Err: true, Text: "cannot read the log: " + logErr(err)}}
	}
	defer rc.Close()
	var out []LogLine
	err = scanLog(rc, func(t time.Time, text string) bool {
		out = append(out, LogLine{Time: t, Pod: pod, Text: text})
		return true
	})
	if err != nil && ctx.Err() == nil {
		out = append(out, LogLine{Time: time.Now(), Pod: pod, Err: true, Text: "log stream broke: " + err.Error()})
	}
	return out
}

// scanLog calls fn for each line; a line without a timestamp gets the previous line's time.
func scanLog(r io.Reader, fn func(time.Time, string) bool) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var last time.Time
	for {
		line, err := readLine(br)
		if len(line) > 0 || err == nil {
			t, text, ok := ParseTimestampedLine(line)
			if !ok {
				t = last
			}
			last = t
			if !fn(t, text) {
				return nil
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readLine reads one line without its newline, cutting lines over maxLogLine.
func readLine(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		frag, isPrefix, err := br.ReadLine()
		if b.Len() < maxLogLine {
			room := maxLogLine - b.Len()
			if len(frag) > room {
				frag = frag[:room]
			}
			b.Write(frag)
		}
		if err != nil {
			return b.String(), err
		}
		if !isPrefix {
			return b.String(), nil
		}
	}
}

func logErr(err error) string {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		return se.Status().Message
	}
	return err.Error()
}

// followPod streams one pod's log until the pod is gone or ctx ends, reconnecting after a stream
// ends (a restarted container, a dropped connection, an API server restart) from the last line seen.
func (c *KubeCluster) followPod(ctx context.Context, namespace, pod string, req LogRequest, w *fleetWatch, in chan<- LogLine) {
	send := func(l LogLine) bool {
		select {
		case in <- l:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var last time.Time
	seenAtLast := map[string]bool{} // texts already sent with timestamp == last (SinceTime has 1 s resolution)
	backoff := time.Second
	quietErr := ""
	for attempt := 0; ctx.Err() == nil; attempt++ {
		opts := logOptions(req)
		if !last.IsZero() {
			opts.TailLines, opts.SinceSeconds = nil, nil
			st := metav1.NewTime(last)
			opts.SinceTime = &st
		}
		rc, err := c.pods.CoreV1().Pods(namespace).GetLogs(pod, opts).Stream(ctx)
		if err == nil {
			got := false
			err = scanLog(rc, func(t time.Time, text string) bool {
				if !last.IsZero() && (t.Before(last) || (t.Equal(last) && seenAtLast[text])) {
					return true // already sent before the reconnect
				}
				if !t.Equal(last) {
					clear(seenAtLast)
				}
				last = t
				seenAtLast[text] = true
				got = true
				return send(LogLine{Time: t, Pod: pod, Text: text})
			})
			rc.Close()
			if got {
				backoff, quietErr = time.Second, ""
			}
		}
		if ctx.Err() != nil {
			return
		}
		p, exists := w.pod(pod)
		if !exists {
			return // deleted: nothing more will come
		}
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			return
		}
		msg := "log stream ended (container restarted or connection dropped); resuming"
		if err != nil {
			msg = "log stream: " + logErr(err) + "; retrying"
		}
		// Say it once per kind of trouble, not on every retry of a container that is still starting.
		if msg != quietErr {
			quietErr = msg
			if !send(LogLine{Time: time.Now(), Pod: pod, Err: true, Text: msg}) {
				return
			}
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		if backoff < 10*time.Second {
			backoff *= 2
		}
	}
}

// pod returns a pod from the watch's store.
func (w *fleetWatch) pod(name string) (*corev1.Pod, bool) {
	for _, p := range w.podList() {
		if p.Name == name {
			return p, true
		}
	}
	return nil, false
}

// lineHeap orders pending lines by time, then arrival.
type pendingLine struct {
	l       LogLine
	arrived time.Time
	seq     int
}
type lineHeap []pendingLine

func (h lineHeap) Len() int { return len(h) }
func (h lineHeap) Less(i, j int) bool {
	if !h[i].l.Time.Equal(h[j].l.Time) {
		return h[i].l.Time.Before(h[j].l.Time)
	}
	return h[i].seq < h[j].seq
}
func (h lineHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *lineHeap) Push(x any)   { *h = append(*h, x.(pendingLine)) }
func (h *lineHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// mergeLines releases lines in time order once they have waited mergeWindow for stragglers from
// other pods; at the end of the input everything left is released in order.
func mergeLines(ctx context.Context, in <-chan LogLine, out chan<- LogLine) {
	defer close(out)
	var h lineHeap
	seq := 0
	tick := time.NewTicker(mergeWindow / 4)
	defer tick.Stop()
	flush := func(all bool) bool {
		now := time.Now()
		for h.Len() > 0 && (all || now.Sub(h[0].arrived) >= mergeWindow) {
			p := heap.Pop(&h).(pendingLine)
			select {
			case out <- p.l:
			case <-ctx.Done():
				return false
			}
		}
		return true
	}
	for {
		select {
		case l, ok := <-in:
			if !ok {
				flush(true)
				return
			}
			now := time.Now()
			if l.Time.IsZero() {
				l.Time = now
			}
			seq++
			heap.Push(&h, pendingLine{l: l, arrived: now, seq: seq})
		case <-tick.C:
			if !flush(false) {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// FormatLogLine renders a line as `radix logs` prints it.
func FormatLogLine(l LogLine, timestamps bool) string {
	var b strings.Builder
	if timestamps && !l.Time.IsZero() {
		b.WriteString(l.Time.UTC().Format(time.RFC3339Nano))
		b.WriteByte(' ')
	}
	if l.Pod != "" {
		fmt.Fprintf(&b, "[%s] ", l.Pod)
	}
	if l.Err {
		b.WriteString("radix: ")
	}
	b.WriteString(l.Text)
	return b.String()
}
