package tui

import (
	"fmt"
	"regexp"
	"strings"
)

// filter is a compiled `/` filter: a regular expression, inverted when written with a leading `!`.
// Patterns without upper-case letters match case-insensitively (smart case, as in k9s and less).
type filter struct {
	src    string
	re     *regexp.Regexp
	invert bool
}

// parseFilter compiles a filter; "" is no filter (nil, nil).
func parseFilter(src string) (*filter, error) {
	if src == "" || src == "!" {
		return nil, nil
	}
	f := &filter{src: src}
	pat := src
	if strings.HasPrefix(pat, "!") {
		f.invert = true
		pat = pat[1:]
	}
	if pat == strings.ToLower(pat) && !strings.HasPrefix(pat, "(?") {
		pat = "(?i)" + pat
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, fmt.Errorf("filter %q is not a valid regular expression: %w", src, err)
	}
	f.re = re
	return f, nil
}

// match reports whether s passes the filter; a nil filter passes everything.
func (f *filter) match(s string) bool {
	if f == nil {
		return true
	}
	return f.re.MatchString(s) != f.invert
}

// highlights returns the byte ranges to highlight in s (none for inverted filters).
func (f *filter) highlights(s string) [][]int {
	if f == nil || f.invert {
		return nil
	}
	return f.re.FindAllStringIndex(s, 16)
}
