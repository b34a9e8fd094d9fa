package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// col describes one table column for layout.
type col struct {
	title string
	min   int  // never narrower (unless dropped)
	max   int  // never wider; 0 = no cap
	right bool // right-aligned (numbers)
	drop  int  // 0 = never dropped; higher is dropped first when the terminal is narrow
	fill  bool // takes the width left over (at most one, the last)
}

const gap = 2

// layoutCols returns each column's width for the natural (widest cell) widths within total width.
// When the row does not fit, the less important columns (higher drop) shrink to their minimum first,
// then they disappear in the same order, and only then do the essential columns shrink. A fill
// column with nothing in it is dropped; one with content takes the width left over.
func layoutCols(cols []col, natural []int, width int) []int {
	w := make([]int, len(cols))
	sum := func() int {
		t, n := 0, 0
		for _, x := range w {
			if x > 0 {
				t += x
				n++
			}
		}
		return t + gap*max(n-1, 0)
	}
	floor := func(i int) int { return max(cols[i].min, len(cols[i].title)) }
	for i, c := range cols {
		w[i] = max(natural[i], len(c.title), c.min, 1)
		if c.max > 0 && w[i] > c.max {
			w[i] = max(c.max, floor(i))
		}
		if c.fill {
			w[i] = floor(i)
			if natural[i] == 0 {
				w[i] = 0
			}
		}
	}
	// Columns by drop priority, least important first; essential ones (drop 0) last.
	order := make([]int, 0, len(cols))
	for p := 100; p >= 0; p-- {
		for i, c := range cols {
			if c.drop == p {
				order = append(order, i)
			}
		}
	}
	for _, i := range order {
		if over := sum() - width; over > 0 && cols[i].drop > 0 && w[i] > floor(i) {
			w[i] -= min(over, w[i]-floor(i))
		}
	}
	for _, i := range order {
		if sum() > width && cols[i].drop > 0 {
			w[i] = 0
		}
	}
	for over := sum() - width; over > 0; over = sum() - width {
		best := -1
		for i := range cols {
			if w[i] > floor(i) && (best < 0 || w[i] > w[best]) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		w[best] -= min(over, w[best]-floor(best))
	}
	// Give room freed by dropped columns back to shrunk ones, most important first.
	for k := len(order) - 1; k >= 0; k-- {
		i := order[k]
		want := max(natural[i], floor(i))
		if cols[i].max > 0 {
			want = min(want, max(cols[i].max, floor(i)))
		}
		if w[i] > 0 && !cols[i].fill && w[i] < want {
			w[i] += min(want-w[i], max(width-sum(), 0))
		}
	}
	for i, c := range cols {
		if c.fill && w[i] > 0 {
			w[i] += max(width-sum(), 0)
		}
	}
	return w
}

// fit truncates or pads plain text to exactly w cells.
func fit(s string, w int, right bool) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		return ansi.Truncate(s, w, "…")
	}
	if right {
		return strings.Repeat(" ", w-sw) + s
	}
	return s + strings.Repeat(" ", w-sw)
}

// joinRow lays cells out in the widths, skipping dropped columns.
func joinRow(sb *strings.Builder, cells []string, cols []col, w []int) {
	first := true
	for i, c := range cells {
		if w[i] == 0 {
			continue
		}
		if !first {
			sb.WriteString("  ")
		}
		first = false
		sb.WriteString(fit(c, w[i], cols[i].right))
	}
}

// padLines makes text exactly h lines of exactly w cells, so a view never shifts the screen.
func padLines(lines []string, w, h int) string {
	var sb strings.Builder
	for i := 0; i < h; i++ {
		if i > 0 {
			sb.WriteByte('\n')
		}
		if i < len(lines) {
			sb.WriteString(padRight(lines[i], w))
		} else {
			sb.WriteString(strings.Repeat(" ", max(w, 0)))
		}
	}
	return sb.String()
}

// padRight pads or truncates a possibly styled line to w cells.
func padRight(s string, w int) string {
	sw := ansi.StringWidth(s)
	if sw > w {
		return ansi.Truncate(s, w, "")
	}
	return s + strings.Repeat(" ", w-sw)
}

// age formats a duration the way kubectl does: 45s, 12m, 5h, 3d.
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// scrollWindow keeps cursor visible in a window of h rows starting at offset.
func scrollWindow(cursor, offset, h, n int) int {
	if h <= 0 {
		return 0
	}
	if cursor < offset {
		offset = cursor
	}
	if cursor >= offset+h {
		offset = cursor - h + 1
	}
	offset = min(offset, max(n-h, 0))
	return max(offset, 0)
}

// navigate moves a cursor for the common navigation actions; ok is false for other actions.
func navigate(action string, cursor, n, page int) (int, bool) {
	switch action {
	case "up":
		cursor--
	case "down":
		cursor++
	case "pageup":
		cursor -= max(page, 1)
	case "pagedown":
		cursor += max(page, 1)
	case "top":
		cursor = 0
	case "bottom":
		cursor = n - 1
	default:
		return cursor, false
	}
	return max(min(cursor, n-1), 0), true
}

// navBindings are the movement keys every list shares; hidden from the header, listed in help.
func navBindings() []Binding {
	return []Binding{
		{Action: "up", Keys: []string{"up", "k"}, Help: "up", Hidden: true},
		{Action: "down", Keys: []string{"down", "j"}, Help: "down", Hidden: true},
		{Action: "pageup", Keys: []string{"pgup", "ctrl+b"}, Help: "page up", Hidden: true},
		{Action: "pagedown", Keys: []string{"pgdown", "ctrl+f"}, Help: "page down", Hidden: true},
		{Action: "top", Keys: []string{"home", "g"}, Help: "top", Hidden: true},
		{Action: "bottom", Keys: []string{"end"}, Help: "bottom", Hidden: true},
	}
}
