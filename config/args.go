package config

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/shlex"
)

// The blueprints run each container as /bin/sh -c "<one string>"; overrides and fixes edit that
// string as shell words, so a value is never spliced into it as raw text.

func splitArgs(s string) ([]string, error) {
	t, err := shlex.Split(s)
	if err != nil {
		return nil, fmt.Errorf("splitting the command line %q into words: %w", s, err)
	}
	return t, nil
}

// commandPart is s up to its first shell operator outside quotes (a pipe, a list, a redirection such as
// 2>&1), with the space before it: the words of the command itself. The rest is kept verbatim by
// whoever edits the command, so an edit never quotes a "|" into a word.
func commandPart(s string) string {
	var quote byte
	wordStart := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			}
		case quote == '"':
			if c == '\\' {
				i++
			} else if c == '"' {
				quote = 0
			}
		case c == '\\':
			i++
		case c == '\'' || c == '"':
			quote = c
		case c == ' ' || c == '\t' || c == '\n':
			wordStart = i + 1
		case strings.IndexByte("|;&<>()`", c) >= 0:
			cut := i
			// A file descriptor number before a redirection (2>&1) belongs to the operator.
			if (c == '>' || c == '<') && strings.Trim(s[wordStart:i], "0123456789") == "" {
				cut = wordStart
			}
			return strings.TrimRight(s[:cut], " \t\n")
		}
	}
	return s
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellQuote quotes a word for /bin/sh when it needs it (as Python's shlex.quote does).
func shellQuote(w string) string {
	if w != "" && shellSafe.MatchString(w) {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'"'"'`) + "'"
}

func joinArgs(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = shellQuote(w)
	}
	return strings.Join(q, " ")
}

// flagValue finds --flag value or --flag=value.
func flagValue(words []string, flag string) (string, bool) {
	for i, w := range words {
		if w == flag {
			if i+1 < len(words) {
				return words[i+1], true
			}
			return "", true
		}
		if v, ok := strings.CutPrefix(w, flag+"="); ok {
			return v, true
		}
	}
	return "", false
}

func hasFlag(words []string, flag string) bool {
	_, ok := flagValue(words, flag)
	return ok
}

// setFlag replaces the value of every occurrence of flag (keeping its --f v or --f=v form), or appends
// "flag value" when the flag is absent.
func setFlag(words []string, flag, value string) []string {
	out := append([]string(nil), words...)
	found := false
	for i := 0; i < len(out); i++ {
		switch {
		case out[i] == flag:
			found = true
			if i+1 < len(out) && !strings.HasPrefix(out[i+1], "--") {
				out[i+1] = value
				i++
			} else {
				out = append(out[:i+1], append([]string{value}, out[i+1:]...)...)
				i++
			}
		case strings.HasPrefix(out[i], flag+"="):
			found = true
			out[i] = flag + "=" + value
		}
	}
	if !found {
		out = append(out, flag, value)
	}
	return out
}

// addSwitch appends a valueless flag unless present.
func addSwitch(words []string, flag string) []string {
	if hasFlag(words, flag) {
		return words
	}
	return append(append([]string(nil), words...), flag)
}

// pythonModule is the module of "python3 -m MODULE …", or "".
func pythonModule(words []string) string {
	for i := 0; i+1 < len(words); i++ {
		if words[i] == "-m" {
			return words[i+1]
		}
	}
	return ""
}

const (
	moduleSGLang   = "dynamo.sglang"
	moduleFrontend = "dynamo.frontend"
)

// splitCommand is the words of a service's command (without a shell suffix).
func splitCommand(s *Service) ([]string, error) {
	w, _, err := s.words()
	return w, err
}
