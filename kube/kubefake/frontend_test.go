package kubefake

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

func TestFrontendStreamsAndCaches(t *testing.T) {
	c := demo(t)
	if _, _, err := c.Endpoint(t.Context(), "dynamo-cloud", "sglang-agg"); err == nil {
		t.Fatal("endpoint served before ServeFrontends")
	}
	c.ServeFrontends()
	if _, _, err := c.Endpoint(t.Context(), "team-a", "llama-broken"); err == nil {
		t.Fatal("a failed deployment serves")
	}
	url, release, err := c.Endpoint(t.Context(), "dynamo-cloud", "sglang-agg")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	body := `{"model":"m","stream":true,"messages":[{"role":"system","content":"` + strings.Repeat("long shared prefix ", 20) + `"},{"role":"user","content":"hi there"}]}`
	post := func() (string, string) {
		resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var text, usage string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			l := sc.Text()
			if strings.Contains(l, `"content"`) {
				text += l
			}
			if strings.Contains(l, `"usage"`) {
				usage = l
			}
		}
		return text, usage
	}
	text, usage := post()
	if !strings.Contains(text, "echo:") || !strings.Contains(usage, `"cached_tokens":0`) {
		t.Fatalf("first: %s / %s", text, usage)
	}
	_, usage = post()
	if strings.Contains(usage, `"cached_tokens":0`) {
		t.Fatalf("second request not cached: %s", usage)
	}
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader("{"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad body: %d", resp.StatusCode)
	}
}
