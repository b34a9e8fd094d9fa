package disagg

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var layout = Layout{Layers: 2, KVHeads: 2, HeadDim: 4, PageSize: 4, ElemSize: 4}

func request(tokens int) KVRequest {
	r := KVRequest{Layout: layout, Params: []byte(`{"temperature":0}`)}
	for i := range tokens {
		r.Tokens = append(r.Tokens, int32(i+7))
	}
	for i := range (tokens + layout.PageSize - 1) / layout.PageSize {
		r.DstPages = append(r.DstPages, int32(100+i))
	}
	return r
}

// pageData is deterministic content for pages [first, first+count).
func pageData(first, count int) []byte {
	b := make([]byte, count*layout.PageBytes())
	r := rand.New(rand.NewPCG(uint64(first), 1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestFrameRoundTripAndCorruption(t *testing.T) {
	var buf bytes.Buffer
	payload := []byte("some kv bytes")
	if err := WriteFrame(&buf, Frame{Type: FrameKVPages, Room: 42, Payload: payload}); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	f, err := ReadFrame(bytes.NewReader(raw), nil)
	if err != nil || f.Type != FrameKVPages || f.Room != 42 || !bytes.Equal(f.Payload, payload) {
		t.Fatalf("round trip: %+v %v", f, err)
	}
	for _, tc := range []struct {
		name string
		mut  func([]byte) []byte
		want error
	}{
		{"flipped payload bit", func(b []byte) []byte { b[headerSize+3] ^= 1; return b }, ErrChecksum},
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }, ErrBadMagic},
		{"version", func(b []byte) []byte { b[4] = 9; return b }, ErrBadVersion},
		{"type", func(b []byte) []byte { b[5] = 77; return b }, ErrUnknownType},
		{"huge length", func(b []byte) []byte { b[19] = 0x7f; return b }, ErrTooLarge},
		{"truncated", func(b []byte) []byte { return b[:len(b)-2] }, io.ErrUnexpectedEOF},
	} {
		b := tc.mut(bytes.Clone(raw))
		if _, err := ReadFrame(bytes.NewReader(b), nil); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestMessagesRoundTripAndValidate(t *testing.T) {
	req := request(10)
	got, err := DecodeKVRequest(req.Encode())
	if err != nil || got.Layout != req.Layout || len(got.Tokens) != 10 || len(got.DstPages) != 3 || string(got.Params) != string(req.Params) {
		t.Fatalf("request: %+v %v", got, err)
	}
	bad := request(10)
	bad.DstPages = bad.DstPages[:2]
	if _, err := DecodeKVRequest(bad.Encode()); err == nil || !strings.Contains(err.Error(), "destination pages") {
		t.Fatalf("short page list: %v", err)
	}
	if _, err := DecodeKVRequest(request(10).Encode()[:30]); err == nil {
		t.Fatal("truncated request accepted")
	}
	p := KVPages{First: 1, Count: 2, Data: pageData(1, 2)}
	gp, err := DecodeKVPages(p.Encode(), layout, 3)
	if err != nil || gp.First != 1 || gp.Count != 2 || !bytes.Equal(gp.Data, p.Data) {
		t.Fatalf("pages: %v", err)
	}
	if _, err := DecodeKVPages(p.Encode(), layout, 2); err == nil {
		t.Fatal("pages beyond the request accepted")
	}
	ft, err := DecodeFirstToken(FirstToken{Token: 5, CachedTokens: 8}.Encode())
	if err != nil || ft.Token != 5 || ft.CachedTokens != 8 {
		t.Fatalf("first token: %+v %v", ft, err)
	}
}

func listen(t *testing.T, h Handler, opts Options) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go Serve(ln, h, opts)
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

var fast = Options{Heartbeat: 50 * time.Millisecond, Timeout: 5 * time.Second}

func TestTransferDeliversEveryPageAndTheFirstToken(t *testing.T) {
	addr := listen(t, func(ctx context.Context, room uint64, req KVRequest, s *Sender) error {
		if room != 99 || len(req.Tokens) != 10 {
			return errors.New("wrong request")
		}
		if err := s.SendPages(0, 2, pageData(0, 2)); err != nil {
			return err
		}
		time.Sleep(120 * time.Millisecond) // longer than two heartbeats: pings keep the link alive
		if err := s.SendPages(2, 1, pageData(2, 1)); err != nil {
			return err
		}
		return s.SendFirstToken(FirstToken{Token: 321, CachedTokens: 4})
	}, fast)
	got := map[int][]byte{}
	ft, err := Fetch(context.Background(), addr, 99, request(10), func(p KVPages) error {
		for i := range p.Count {
			got[p.First+i] = bytes.Clone(p.Data[i*layout.PageBytes() : (i+1)*layout.PageBytes()])
		}
		return nil
	}, fast)
	if err != nil {
		t.Fatal(err)
	}
	if ft.Token != 321 || ft.CachedTokens != 4 {
		t.Fatalf("first token %+v", ft)
	}
	want := append(pageData(0, 2), pageData(2, 1)...)
	for i := range 3 {
		if !bytes.Equal(got[i], want[i*layout.PageBytes():(i+1)*layout.PageBytes()]) {
			t.Fatalf("page %d differs", i)
		}
	}
}

func TestPrefillFailureAbortsDecode(t *testing.T) {
	addr := listen(t, func(ctx context.Context, _ uint64, _ KVRequest, s *Sender) error {
		s.SendPages(0, 1, pageData(0, 1))
		return errors.New("out of KV pages")
	}, fast)
	_, err := Fetch(context.Background(), addr, 1, request(10), func(KVPages) error { return nil }, fast)
	var ab *AbortError
	if !errors.As(err, &ab) || !strings.Contains(ab.Reason, "out of KV pages") {
		t.Fatalf("got %v", err)
	}
	// A handler that forgets the first token is a failure too, not a hang.
	addr = listen(t, func(ctx context.Context, _ uint64, _ KVRequest, s *Sender) error {
		return s.SendPages(0, 3, pageData(0, 3))
	}, fast)
	if _, err := Fetch(context.Background(), addr, 1, request(10), func(KVPages) error { return nil }, fast); !errors.As(err, &ab) {
		t.Fatalf("missing first token: %v", err)
	}
}

func TestSilentPrefillIsDeclaredOffline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(io.Discard, c) // reads everything, answers nothing: a hung worker
	}()
	start := time.Now()
	_, err = Fetch(context.Background(), ln.Addr().String(), 1, request(4), func(KVPages) error { return nil }, fast)
	if !errors.Is(err, ErrPeerOffline) {
		t.Fatalf("got %v", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("took %v to notice", time.Since(start))
	}
}

// When decode gives up (client gone, or its pages are needed), prefill's handler is cancelled so it can
// free its own pages.
func TestDecodeCancellationReachesPrefill(t *testing.T) {
	var cancelled atomic.Bool
	started := make(chan struct{})
	handled := make(chan struct{})
	addr := listen(t, func(ctx context.Context, _ uint64, _ KVRequest, s *Sender) error {
		defer close(handled)
		close(started)
		<-ctx.Done()
		cancelled.Store(true)
		return ctx.Err()
	}, fast)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	if _, err := Fetch(ctx, addr, 1, request(4), func(KVPages) error { return nil }, fast); !errors.Is(err, context.Canceled) {
		t.Fatalf("fetch: %v", err)
	}
	select {
	case <-handled:
	case <-time.After(3 * time.Second):
		t.Fatal("prefill handler never cancelled")
	}
	if !cancelled.Load() {
		t.Fatal("handler returned without seeing cancellation")
	}
}

func TestSinkErrorAbortsPrefill(t *testing.T) {
	handled := make(chan error, 1)
	addr := listen(t, func(ctx context.Context, _ uint64, _ KVRequest, s *Sender) error {
		s.SendPages(0, 1, pageData(0, 1))
		<-ctx.Done()
		handled <- ctx.Err()
		return ctx.Err()
	}, fast)
	_, err := Fetch(context.Background(), addr, 1, request(10), func(KVPages) error { return errors.New("pool full") }, fast)
	if err == nil || !strings.Contains(err.Error(), "pool full") {
		t.Fatalf("fetch: %v", err)
	}
	select {
	case <-handled:
	case <-time.After(3 * time.Second):
		t.Fatal("prefill never heard of the abort")
	}
}

func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	WriteFrame(&buf, Frame{Type: FrameKVRequest, Room: 3, Payload: request(9).Encode()})
	f.Add(buf.Bytes())
	buf.Reset()
	WriteFrame(&buf, Frame{Type: FrameKVPages, Room: 3, Payload: KVPages{First: 0, Count: 1, Data: pageData(0, 1)}.Encode()})
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ReadFrame(bytes.NewReader(b), nil)
		if err != nil {
			return
		}
		switch fr.Type {
		case FrameKVRequest:
			if req, err := DecodeKVRequest(fr.Payload); err == nil {
				if _, err := DecodeKVRequest(req.Encode()); err != nil {
					t.Fatalf("re-encoded request does not decode: %v", err)
				}
			}
		case FrameKVPages:
			DecodeKVPages(fr.Payload, layout, 3)
		case FrameFirstToken:
			DecodeFirstToken(fr.Payload)
		}
	})
}
