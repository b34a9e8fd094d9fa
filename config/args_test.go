package config

import (
	"reflect"
	"testing"
)

func TestArgsEditing(t *testing.T) {
	line := "python3 -m dynamo.frontend --http-port=8000 --page-size 16 --x"
	w, err := splitArgs(line)
	if err != nil {
		t.Fatal(err)
	}
	if joinArgs(w) != line {
		t.Errorf("join(split(%q)) = %q", line, joinArgs(w))
	}
	tests := []struct {
		flag, value string
		want        []string
	}{
		{"--http-port", "9000", []string{"python3", "-m", "dynamo.frontend", "--http-port=9000", "--page-size", "16", "--x"}},
		{"--page-size", "32", []string{"python3", "-m", "dynamo.frontend", "--http-port=8000", "--page-size", "32", "--x"}},
		{"--x", "1", []string{"python3", "-m", "dynamo.frontend", "--http-port=8000", "--page-size", "16", "--x", "1"}},
		{"--new", "v", []string{"python3", "-m", "dynamo.frontend", "--http-port=8000", "--page-size", "16", "--x", "--new", "v"}},
	}
	for _, tc := range tests {
		if got := setFlag(w, tc.flag, tc.value); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("setFlag(%s, %s) = %q", tc.flag, tc.value, got)
		}
	}
	if got := setFlag([]string{"--a", "--b"}, "--a", "1"); !reflect.DeepEqual(got, []string{"--a", "1", "--b"}) {
		t.Errorf("setFlag before another flag = %q", got)
	}
	if pythonModule(w) != moduleFrontend {
		t.Errorf("module %q", pythonModule(w))
	}
	// Words with shell characters are quoted and split back to themselves.
	odd := []string{"a b", `{"k":"v"}`, "it's", "", "$HOME", "tcp://*:5557"}
	back, err := splitArgs(joinArgs(odd))
	if err != nil || !reflect.DeepEqual(back, odd) {
		t.Errorf("quote round trip: %q → %q → %q (%v)", odd, joinArgs(odd), back, err)
	}
}
