package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// 64 concurrent streams on a small pool (so retractions and evictions happen too), a third cancelled
// through their context at a random point, a third given short timeouts, a third dropping the
// connection mid-stream. Afterwards the pool invariant holds and every page is back: none in flight,
// none locked.
func TestLoadWithCancellations(t *testing.T) {
	l := startLive(t, testOpts{poolTokens: 1024})
	rng := rand.New(rand.NewPCG(6, 6))
	prefixes := []string{"You are a pirate. ", "You are a poet who writes about caches and trees. ", ""}
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[string]int{}
	for i := range 64 {
		prefix := prefixes[rng.IntN(len(prefixes))]
		mode := i % 4
		cut := 1 + rng.IntN(12)
		timeout := time.Duration(1+rng.IntN(40)) * time.Millisecond
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, _ := json.Marshal(map[string]any{
				"messages":   []map[string]string{{"role": "system", "content": prefix + "Be brief."}, {"role": "user", "content": fmt.Sprintf("Question %d: what is a radix tree?", i)}},
				"max_tokens": 40, "stream": true, "ignore_eos": true, "temperature": 0.8, "seed": i,
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if mode == 1 {
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			req, _ := http.NewRequestWithContext(ctx, "POST", l.http.URL+"/v1/chat/completions", strings.NewReader(string(body)))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				mu.Lock()
				outcomes["error before response"]++
				mu.Unlock()
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			n := 0
			outcome := "complete"
			for sc.Scan() {
				if !strings.HasPrefix(sc.Text(), "data: ") {
					continue
				}
				n++
				if n == cut && mode == 0 {
					cancel()
					outcome = "cancelled"
					break
				}
				if n == cut && mode == 2 {
					resp.Body.Close() // drop the connection
					outcome = "disconnected"
					break
				}
			}
			if mode == 1 && ctx.Err() != nil {
				outcome = "timed out"
			}
			mu.Lock()
			outcomes[outcome]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Logf("outcomes: %v", outcomes)
	// The server notices dropped connections asynchronously; wait for the engine to go idle.
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := l.eng.Stats()
		if st.Running == 0 && st.Waiting == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine still busy after the clients left: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, body := l.get(t, "/debug/invariant"); code != 200 {
		t.Fatalf("invariant: %s", body)
	}
	u := l.eng.Pool().Usage()
	if u.InFlightPages != 0 || u.ProtectedPages != 0 || u.FreePages+u.EvictablePages != u.TotalPages {
		t.Fatalf("pages not all returned: %+v", u)
	}
	st := l.eng.Stats()
	if st.Aborted == 0 || outcomes["complete"] == 0 {
		t.Fatalf("load did not exercise both completion and cancellation: %v, aborted %d", outcomes, st.Aborted)
	}
	t.Logf("aborted %d, retracted %d, evicted %d tokens, hit rate %.2f", st.Aborted, st.Retracted, st.EvictedTokens, st.HitRate())
}
