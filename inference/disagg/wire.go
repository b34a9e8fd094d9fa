package disagg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// FrameType says what a frame carries.
type FrameType uint8

const (
	FrameKVRequest  FrameType = iota + 1 // decode → prefill: the request and where its pages go
	FrameKVPages                         // prefill → decode: K and V of consecutive pages, all layers
	FrameFirstToken                      // prefill → decode: the first generated token
	FrameDone                            // prefill → decode: every page and the first token were sent
	FrameAbort                           // either way: the transfer failed; payload is the reason
	FramePing                            // either way: heartbeat
)

func (t FrameType) String() string {
	switch t {
	case FrameKVRequest:
		return "kv-request"
	case FrameKVPages:
		return "kv-pages"
	case FrameFirstToken:
		return "first-token"
	case FrameDone:
		return "done"
	case FrameAbort:
		return "abort"
	case FramePing:
		return "ping"
	}
	return fmt.Sprintf("frame-type-%d", uint8(t))
}

const (
	magic      uint32 = 0x4b584452 // "RDXK" as little-endian bytes
	version    uint8  = 1
	headerSize        = 24
	// MaxPayload bounds one frame: a sender splits pages over frames below it, and a receiver never
	// allocates more on a peer's word.
	MaxPayload = 32 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Frame is one unit on the wire. Header layout, little-endian: magic u32, version u8, type u8,
// reserved u16, room u64, payload length u32, CRC-32C of the payload u32.
type Frame struct {
	Type    FrameType
	Room    uint64
	Payload []byte
}

// Errors a reader reports; all of them end the connection.
var (
	ErrBadMagic    = errors.New("not a radix KV transfer stream (bad magic)")
	ErrBadVersion  = errors.New("unsupported KV transfer protocol version")
	ErrTooLarge    = errors.New("frame payload exceeds the limit")
	ErrChecksum    = errors.New("frame checksum mismatch")
	ErrUnknownType = errors.New("unknown frame type")
)

// WriteFrame writes f as one header and its payload.
func WriteFrame(w io.Writer, f Frame) error {
	if len(f.Payload) > MaxPayload {
		return fmt.Errorf("writing %s frame: %w (%d > %d bytes)", f.Type, ErrTooLarge, len(f.Payload), MaxPayload)
	}
	var h [headerSize]byte
	binary.LittleEndian.PutUint32(h[0:], magic)
	h[4] = version
	h[5] = byte(f.Type)
	binary.LittleEndian.PutUint64(h[8:], f.Room)
	binary.LittleEndian.PutUint32(h[16:], uint32(len(f.Payload)))
	binary.LittleEndian.PutUint32(h[20:], crc32.Checksum(f.Payload, castagnoli))
	if _, err := w.Write(h[:]); err != nil {
		return fmt.Errorf("writing %s frame header: %w", f.Type, err)
	}
	if _, err := w.Write(f.Payload); err != nil {
		return fmt.Errorf("writing %s frame payload: %w", f.Type, err)
	}
	return nil
}

// ReadFrame reads one frame, checking magic, version, type, length bound and checksum. buf is reused
// for the payload when it is large enough.
func ReadFrame(r io.Reader, buf []byte) (Frame, error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Frame{}, err
	}
	if binary.LittleEndian.Uint32(h[0:]) != magic {
		return Frame{}, ErrBadMagic
	}
	if h[4] != version {
		return Frame{}, fmt.Errorf("%w %d", ErrBadVersion, h[4])
	}
	t := FrameType(h[5])
	if t < FrameKVRequest || t > FramePing {
		return Frame{}, fmt.Errorf("%w %d", ErrUnknownType, h[5])
	}
	n := binary.LittleEndian.Uint32(h[16:])
	if n > MaxPayload {
		return Frame{}, fmt.Errorf("reading %s frame: %w (%d bytes)", t, ErrTooLarge, n)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return Frame{}, fmt.Errorf("reading %s frame payload: %w", t, noEOF(err))
	}
	if crc32.Checksum(buf, castagnoli) != binary.LittleEndian.Uint32(h[20:]) {
		return Frame{}, fmt.Errorf("reading %s frame of room %d: %w", t, binary.LittleEndian.Uint64(h[8:]), ErrChecksum)
	}
	return Frame{Type: t, Room: binary.LittleEndian.Uint64(h[8:]), Payload: buf}, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Layout is the shape of the KV pages both sides must agree on.
type Layout struct {
	Layers, KVHeads, HeadDim, PageSize int
	ElemSize                           int // bytes per element: 4 (f32) or 2 (f16, bf16)
	DType                              uint8
}

// PageBytes is the size of one page's K and V over all layers.
func (l Layout) PageBytes() int {
	return 2 * l.Layers * l.PageSize * l.KVHeads * l.HeadDim * l.ElemSize
}

func (l Layout) validate() error {
	if l.Layers <= 0 || l.KVHeads <= 0 || l.HeadDim <= 0 || l.PageSize <= 0 || (l.ElemSize != 2 && l.ElemSize != 4) {
		return fmt.Errorf("invalid KV layout %+v", l)
	}
	if l.Layers > 4096 || l.KVHeads > 4096 || l.HeadDim > 4096 || l.PageSize > 256 {
		return fmt.Errorf("KV layout %+v beyond any model", l)
	}
	if l.PageBytes() > MaxPayload {
		return fmt.Errorf("one page of layout %+v is %d bytes, over the %d-byte frame limit", l, l.PageBytes(), MaxPayload)
	}
	return nil
}

// KVRequest asks a prefill worker to compute a prompt and send its KV to the given pages.
type KVRequest struct {
	Layout   Layout
	Tokens   []int32
	DstPages []int32 // decode's page ids, one per page of the prompt (partial last page included)
	Params   []byte  // sampling parameters for the first token, as the engine encodes them (JSON)
}

// KVPages carries pages [First, First+Count) of the request: for each page, for each layer, K then V,
// each PageSize×KVHeads×HeadDim elements in the pool's element type.
type KVPages struct {
	First, Count int
	Data         []byte
}

// FirstToken is the token prefill sampled, with how much of the prompt prefill found cached.
type FirstToken struct {
	Token        int32
	CachedTokens int
}

// enc and dec are a minimal little-endian codec: payloads are few and fixed, so a schema language
// would add more than it saves.
type enc struct{ b []byte }

func (e *enc) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) i32s(v []int32) {
	e.u32(uint32(len(v)))
	for _, x := range v {
		e.u32(uint32(x))
	}
}
func (e *enc) bytes(v []byte) { e.u32(uint32(len(v))); e.b = append(e.b, v...) }

type dec struct {
	b   []byte
	err error
}

func (d *dec) u32() uint32 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 4 {
		d.err = io.ErrUnexpectedEOF
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

// count reads a length and checks the rest of the payload can hold that many items of size each.
func (d *dec) count(size int) int {
	n := d.u32()
	if d.err == nil && uint64(n)*uint64(size) > uint64(len(d.b)) {
		d.err = fmt.Errorf("length %d exceeds the %d bytes left", n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *dec) int() int {
	v := d.u32()
	if v > math.MaxInt32 {
		d.err = fmt.Errorf("value %d out of range", v)
	}
	return int(v)
}

func (d *dec) i32s() []int32 {
	n := d.count(4)
	if d.err != nil {
		return nil
	}
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(d.u32())
	}
	return out
}

func (d *dec) bytes() []byte {
	n := d.count(1)
	if d.err != nil {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) done(what string) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("decoding %s: %w", what, d.err)
	}
	return nil
}

// Encode serialises the request.
func (r KVRequest) Encode() []byte {
	var e enc
	l := r.Layout
	for _, v := range []int{l.Layers, l.KVHeads, l.HeadDim, l.PageSize, l.ElemSize, int(l.DType)} {
		e.u32(uint32(v))
	}
	e.i32s(r.Tokens)
	e.i32s(r.DstPages)
	e.bytes(r.Params)
	return e.b
}

// DecodeKVRequest parses and validates a request from a peer.
func DecodeKVRequest(b []byte) (KVRequest, error) {
	d := dec{b: b}
	var r KVRequest
	r.Layout = Layout{Layers: d.int(), KVHeads: d.int(), HeadDim: d.int(), PageSize: d.int(), ElemSize: d.int()}
	dt := d.u32()
	r.Layout.DType = uint8(dt)
	r.Tokens = d.i32s()
	r.DstPages = d.i32s()
	r.Params = d.bytes()
	if err := d.done("kv request"); err != nil {
		return KVRequest{}, err
	}
	if dt > math.MaxUint8 {
		return KVRequest{}, fmt.Errorf("decoding kv request: dtype %d out of range", dt)
	}
	if err := r.Layout.validate(); err != nil {
		return KVRequest{}, fmt.Errorf("decoding kv request: %w", err)
	}
	if len(r.Tokens) == 0 {
		return KVRequest{}, errors.New("decoding kv request: empty prompt")
	}
	if want := (len(r.Tokens) + r.Layout.PageSize - 1) / r.Layout.PageSize; len(r.DstPages) != want {
		return KVRequest{}, fmt.Errorf("decoding kv request: %d destination pages for %d tokens of page size %d, want %d", len(r.DstPages), len(r.Tokens), r.Layout.PageSize, want)
	}
	return r, nil
}

// Encode serialises the pages.
func (p KVPages) Encode() []byte {
	var e enc
	e.u32(uint32(p.First))
	e.u32(uint32(p.Count))
	e.bytes(p.Data)
	return e.b
}

// DecodeKVPages parses pages and checks them against the layout and the request's page count.
func DecodeKVPages(b []byte, l Layout, pages int) (KVPages, error) {
	d := dec{b: b}
	p := KVPages{First: d.int(), Count: d.int()}
	p.Data = d.bytes()
	if err := d.done("kv pages"); err != nil {
		return KVPages{}, err
	}
	if p.Count <= 0 || p.First < 0 || p.First+p.Count > pages {
		return KVPages{}, fmt.Errorf("decoding kv pages: pages [%d, %d) outside the request's %d", p.First, p.First+p.Count, pages)
	}
	if len(p.Data) != p.Count*l.PageBytes() {
		return KVPages{}, fmt.Errorf("decoding kv pages: %d bytes for %d pages of %d", len(p.Data), p.Count, l.PageBytes())
	}
	return p, nil
}

// Encode serialises the first token.
func (f FirstToken) Encode() []byte {
	var e enc
	e.u32(uint32(f.Token))
	e.u32(uint32(f.CachedTokens))
	return e.b
}

// DecodeFirstToken parses a first-token frame.
func DecodeFirstToken(b []byte) (FirstToken, error) {
	d := dec{b: b}
	f := FirstToken{Token: int32(d.u32()), CachedTokens: d.int()}
	return f, d.done("first token")
}
