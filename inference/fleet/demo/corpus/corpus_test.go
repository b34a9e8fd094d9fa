package corpus

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := Generate(7, 500), Generate(7, 500)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different dialogues")
	}
	if reflect.DeepEqual(a, Generate(8, 500)) {
		t.Fatal("different seeds gave the same dialogues")
	}
}

func TestEveryTopicAppearsAndTurnsAlternate(t *testing.T) {
	seen := map[string]int{}
	for _, d := range Generate(1, 3000) {
		seen[d.Topic]++
		roles := []string{}
		for _, m := range d.Messages {
			if strings.TrimSpace(m.Content) == "" {
				t.Fatalf("empty %s turn in %+v", m.Role, d)
			}
			roles = append(roles, m.Role)
		}
		if roles[0] == "system" {
			roles = roles[1:]
		}
		for i, r := range roles {
			want := "user"
			if i%2 == 1 {
				want = "assistant"
			}
			if r != want {
				t.Fatalf("turn %d is %s, want %s: %+v", i, r, want, d)
			}
		}
		if roles[len(roles)-1] != "assistant" {
			t.Fatalf("dialogue does not end with the assistant: %+v", d)
		}
	}
	for _, tp := range topics {
		if seen[tp.name] == 0 {
			t.Errorf("topic %s never generated", tp.name)
		}
	}
}

// The word problems teach arithmetic, so their answers must be right.
func TestWordProblemAnswersAreCorrect(t *testing.T) {
	ops := regexp.MustCompile(`(\d+) ([÷×−]) (\d+) = (\d+)`)
	checked := 0
	for _, d := range Generate(3, 4000) {
		if d.Topic != "math" {
			continue
		}
		for _, m := range d.Messages {
			if m.Role != "assistant" {
				continue
			}
			for _, s := range ops.FindAllStringSubmatch(m.Content, -1) {
				a, _ := strconv.Atoi(s[1])
				b, _ := strconv.Atoi(s[3])
				got, _ := strconv.Atoi(s[4])
				var want int
				switch s[2] {
				case "÷":
					want = a / b
					if a%b != 0 {
						t.Errorf("%s: not a whole division", s[0])
					}
				case "×":
					want = a * b
				case "−":
					want = a - b
				}
				if got != want {
					t.Errorf("%s: want %d", s[0], want)
				}
				checked++
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d arithmetic answers checked", checked)
	}
}

func TestReadmeTrainPromptIsInTheCorpusStyle(t *testing.T) {
	want := "If a train travels 120 miles in 2 hours, what is its average speed?"
	for _, d := range Generate(1, 60000) {
		for _, m := range d.Messages {
			if m.Content == want {
				return
			}
		}
	}
	t.Fatalf("%q never appears in the training set", want)
}

func TestWriteJSONLRoundTrips(t *testing.T) {
	ds := Generate(5, 50)
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, ds); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(ds) {
		t.Fatalf("%d lines for %d dialogues", len(lines), len(ds))
	}
	for i, l := range lines {
		var d Dialogue
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(d, ds[i]) {
			t.Fatalf("line %d: %v != %v", i, d, ds[i])
		}
	}
}
