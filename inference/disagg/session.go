package disagg

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Options are the timing of a transfer; zero values take SGLang's defaults.
type Options struct {
	// Heartbeat is how often an idle end pings (default 5 s); two silent intervals mean the peer is offline.
	Heartbeat time.Duration
	// Timeout bounds a whole transfer (default 300 s).
	Timeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Heartbeat <= 0 {
		o.Heartbeat = 5 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 300 * time.Second
	}
	return o
}

// ErrPeerOffline is reported when the other end missed two heartbeats.
var ErrPeerOffline = errors.New("transfer peer offline: no frame for two heartbeat intervals")

// AbortError is a transfer the other end aborted, with its reason.
type AbortError struct{ Reason string }

func (e *AbortError) Error() string { return "transfer aborted by peer: " + e.Reason }

// conn is one transfer connection: frame writes from several goroutines (the work and the heartbeat)
// are serialised, and every read extends the deadline by two heartbeats.
type conn struct {
	c    net.Conn
	r    *bufio.Reader
	room uint64
	opts Options

	wmu sync.Mutex
	buf []byte
}

func newConn(c net.Conn, room uint64, opts Options) *conn {
	return &conn{c: c, r: bufio.NewReaderSize(c, 256<<10), room: room, opts: opts}
}

func (c *conn) write(t FrameType, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.c.SetWriteDeadline(time.Now().Add(2 * c.opts.Heartbeat)) // a conn that can't take deadlines fails the write below
	return WriteFrame(c.c, Frame{Type: t, Room: c.room, Payload: payload})
}

// read returns the next frame other than a ping, refusing frames of another room.
func (c *conn) read() (Frame, error) {
	for {
		_ = c.c.SetReadDeadline(time.Now().Add(2 * c.opts.Heartbeat))
		f, err := ReadFrame(c.r, c.buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return Frame{}, ErrPeerOffline
			}
			return Frame{}, err
		}
		if cap(f.Payload) > cap(c.buf) {
			c.buf = f.Payload[:0]
		}
		if f.Room != c.room {
			return Frame{}, fmt.Errorf("frame of room %d on the transfer of room %d", f.Room, c.room)
		}
		switch f.Type {
		case FramePing:
			continue
		case FrameAbort:
			return Frame{}, &AbortError{Reason: string(f.Payload)}
		}
		return f, nil
	}
}

// heartbeat pings until stop closes.
func (c *conn) heartbeat(stop <-chan struct{}) {
	t := time.NewTicker(c.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if c.write(FramePing, nil) != nil {
				return
			}
		}
	}
}

// Fetch is the decode side: it asks the prefill worker at addr to compute req under room, hands every
// arriving batch of pages to sink (which writes them into the pool; an error from it aborts the
// transfer), and returns the first token once prefill reports Done. Any failure — the peer aborting,
// going silent, a checksum error, ctx ending, the timeout — returns an error after telling the peer,
// when it can, so both sides free their pages.
func Fetch(ctx context.Context, addr string, room uint64, req KVRequest, sink func(KVPages) error, opts Options) (FirstToken, error) {
	opts = opts.withDefaults()
	if err := req.Layout.validate(); err != nil {
		return FirstToken{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return FirstToken{}, fmt.Errorf("connecting to prefill worker %s: %w", addr, err)
	}
	defer nc.Close()
	c := newConn(nc, room, opts)
	stop := make(chan struct{})
	defer close(stop)
	// Closing the connection is how ctx interrupts a blocked read.
	go func() {
		select {
		case <-ctx.Done():
			_ = c.write(FrameAbort, []byte("decode side: "+context.Cause(ctx).Error()))
			nc.Close()
		case <-stop:
		}
	}()
	if err := c.write(FrameKVRequest, req.Encode()); err != nil {
		return FirstToken{}, fmt.Errorf("sending kv request for room %d: %w", room, err)
	}
	go c.heartbeat(stop)

	pages := len(req.DstPages)
	received := 0
	var first *FirstToken
	fail := func(err error) (FirstToken, error) {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		} else if _, aborted := err.(*AbortError); !aborted {
			_ = c.write(FrameAbort, []byte(err.Error()))
		}
		return FirstToken{}, fmt.Errorf("kv transfer of room %d from %s: %w", room, addr, err)
	}
	for {
		f, err := c.read()
		if err != nil {
			return fail(err)
		}
		switch f.Type {
		case FrameKVPages:
			p, err := DecodeKVPages(f.Payload, req.Layout, pages)
			if err != nil {
				return fail(err)
			}
			if err := sink(p); err != nil {
				return fail(fmt.Errorf("writing pages: %w", err))
			}
			received += p.Count
		case FrameFirstToken:
			ft, err := DecodeFirstToken(f.Payload)
			if err != nil {
				return fail(err)
			}
			first = &ft
		case FrameDone:
			if received != pages || first == nil {
				return fail(fmt.Errorf("done after %d of %d pages (first token sent: %t)", received, pages, first != nil))
			}
			return *first, nil
		default:
			return fail(fmt.Errorf("unexpected %s frame", f.Type))
		}
	}
}

// Sender is the prefill side's handle on one transfer.
type Sender struct {
	c         *conn
	layout    Layout
	pages     int
	sent      int
	sentFirst bool
}

// SendPages sends pages [first, first+count) of the request; data holds them as KVPages describes.
// Large batches are split to stay under the frame limit.
func (s *Sender) SendPages(first, count int, data []byte) error {
	pb := s.layout.PageBytes()
	if count <= 0 || first < 0 || first+count > s.pages || len(data) != count*pb {
		return fmt.Errorf("sending pages [%d, %d) with %d bytes: outside the request's %d pages of %d bytes", first, first+count, len(data), s.pages, pb)
	}
	per := max(1, (MaxPayload-64)/pb)
	for count > 0 {
		n := min(per, count)
		if err := s.c.write(FrameKVPages, KVPages{First: first, Count: n, Data: data[:n*pb]}.Encode()); err != nil {
			return fmt.Errorf("sending pages to decode: %w", err)
		}
		first, count, data = first+n, count-n, data[n*pb:]
		s.sent += n
	}
	return nil
}

// SendFirstToken sends the sampled first token.
func (s *Sender) SendFirstToken(ft FirstToken) error {
	s.sentFirst = true
	return s.c.write(FrameFirstToken, ft.Encode())
}

// Handler computes one request on the prefill worker: it must send every page and the first token
// through s, or return an error. ctx ends when decode aborts or goes offline, or the timeout passes;
// the handler must then free what it holds and return.
type Handler func(ctx context.Context, room uint64, req KVRequest, s *Sender) error

// Serve accepts transfer connections on ln until it is closed, running h for each request.
func Serve(ln net.Listener, h Handler, opts Options) error {
	opts = opts.withDefaults()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("accepting transfer connections: %w", err)
		}
		go serveConn(nc, h, opts)
	}
}

func serveConn(nc net.Conn, h Handler, opts Options) {
	defer nc.Close()
	c := newConn(nc, 0, opts)
	_ = nc.SetReadDeadline(time.Now().Add(2 * opts.Heartbeat))
	f, err := ReadFrame(c.r, nil)
	if err != nil || f.Type != FrameKVRequest {
		return // not a transfer client, or one that left: nothing was allocated for it
	}
	c.room = f.Room
	req, err := DecodeKVRequest(f.Payload)
	if err != nil {
		_ = c.write(FrameAbort, []byte(err.Error()))
		return
	}
	tctx, cancelTimeout := context.WithTimeoutCause(context.Background(), opts.Timeout, errors.New("transfer timed out"))
	defer cancelTimeout()
	ctx, cancel := context.WithCancelCause(tctx)
	defer cancel(nil)
	stop := make(chan struct{})
	defer close(stop)
	go c.heartbeat(stop)
	// Watch the decode side while the handler works: an abort or silence cancels the handler.
	go func() {
		for {
			_, err := c.read()
			if err != nil {
				select {
				case <-stop:
				default:
					cancel(fmt.Errorf("decode side: %w", err))
				}
				return
			}
		}
	}()
	s := &Sender{c: c, layout: req.Layout, pages: len(req.DstPages)}
	err = h(ctx, f.Room, req, s)
	if err == nil && (s.sent != s.pages || !s.sentFirst) {
		err = fmt.Errorf("prefill handler returned after %d of %d pages (first token sent: %t)", s.sent, s.pages, s.sentFirst)
	}
	if err != nil {
		_ = c.write(FrameAbort, []byte("prefill side: "+err.Error()))
		return
	}
	_ = c.write(FrameDone, nil) // a decode side that left has already freed its pages
}
