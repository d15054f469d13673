package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A request on the wire:
//
//	+-----------+--------+------------+---------------+-------------------+--------+------+
//	| size      | apiKey | apiVersion | correlationID | clientID          | tagged | body |
//	| int32     | int16  | int16      | int32         | int16 len + bytes | fields | ...  |
//	+-----------+--------+------------+---------------+-------------------+--------+------+
//
// The tagged fields of the header are present only for flexible versions
// of the request. A response is size, correlationID, (tagged fields for
// flexible versions, except ApiVersions, whose response header is always
// v0), body.

// Errors of the framing layer. Each closes the connection: Kafka does the
// same for requests it cannot parse.
var (
	errRequestTooLarge = errors.New("broker: request larger than socket.request.max.bytes")
	errBadFrame        = errors.New("broker: malformed request")
	errUnknownKey      = errors.New("broker: unknown or unsupported API")
)

// requestHeader is the decoded header of a request.
type requestHeader struct {
	key           int16
	version       int16
	correlationID int32
	clientID      *string
}

// readFrame reads one size-prefixed frame into buf (grown as needed).
func readFrame(r io.Reader, buf []byte, maxSize int32) ([]byte, error) {
	var sz [4]byte
	if _, err := io.ReadFull(r, sz[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(sz[:]))
	if n < 8 {
		return nil, fmt.Errorf("%w: frame of %d bytes", errBadFrame, n)
	}
	if n > maxSize {
		return nil, fmt.Errorf("%w: %d > %d", errRequestTooLarge, n, maxSize)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// parseRequest decodes a frame into its header and request. It never
// panics; every failure is an error, and errUnknownKey marks requests for
// APIs or versions the broker does not serve (hdr is then still filled, so
// that ApiVersions can answer with UNSUPPORTED_VERSION as Kafka does).
func parseRequest(frame []byte) (requestHeader, kmsg.Request, error) {
	var hdr requestHeader
	rd := kbin.Reader{Src: frame}
	hdr.key = rd.Int16()
	hdr.version = rd.Int16()
	hdr.correlationID = rd.Int32()
	hdr.clientID = rd.NullableString()
	if err := rd.Complete(); err != nil {
		return hdr, nil, fmt.Errorf("%w: header: %w", errBadFrame, err)
	}
	h := handlerFor(hdr.key)
	if h == nil || hdr.version < h.min || hdr.version > h.max {
		return hdr, nil, fmt.Errorf("%w: %s (key %d) v%d", errUnknownKey, kmsg.NameForKey(hdr.key), hdr.key, hdr.version)
	}
	req := kmsg.RequestForKey(hdr.key)
	req.SetVersion(hdr.version)
	if req.IsFlexible() {
		skipTags(&rd)
		if err := rd.Complete(); err != nil {
			return hdr, nil, fmt.Errorf("%w: header tagged fields: %w", errBadFrame, err)
		}
	}
	if err := readRequestBody(req, rd.Src); err != nil {
		return hdr, nil, fmt.Errorf("%w: %s v%d body: %w", errBadFrame, kmsg.NameForKey(hdr.key), hdr.version, err)
	}
	return hdr, req, nil
}

// decodeTimeout bounds the decoding of one flexible request body.
const decodeTimeout = time.Second

// readRequestBody decodes the body, turning a decoder panic into an error.
//
// Flexible versions are decoded under decodeTimeout: kmsg's reader of
// tagged-field sections (v1.15.0, internalReadTags) loops over the tag
// count a request declares even after the bytes have run out, so a
// 40-byte request declaring 2^32 tags keeps a core busy for seconds (found
// by FuzzHandleRequest). Such a request fails to decode anyway; past the
// deadline its connection is closed like any malformed request's, while the
// decoder finishes in the background. The CPU it burns there can only be
// removed in kmsg itself.
func readRequestBody(req kmsg.Request, body []byte) error {
	if !req.IsFlexible() {
		return decodeBody(req, body)
	}
	done := make(chan error, 1)
	go func() { done <- decodeBody(req, body) }()
	timer := time.NewTimer(decodeTimeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		return errDecodeTimeout
	}
}

var errDecodeTimeout = errors.New("decoding took longer than " + decodeTimeout.String())

func decodeBody(req kmsg.Request, body []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decode panic: %v", r)
		}
	}()
	return req.ReadFrom(body)
}

// skipTags skips a tagged-field section.
func skipTags(rd *kbin.Reader) {
	n := rd.Uvarint()
	for i := uint32(0); i < n && rd.Ok(); i++ {
		rd.Uvarint() // tag
		rd.Span(int(rd.Uvarint()))
	}
}

// appendResponse appends the size-prefixed encoding of resp to dst.
func appendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = kbin.AppendInt32(dst, correlationID)
	if resp.IsFlexible() && resp.Key() != int16(kmsg.ApiVersions) {
		dst = append(dst, 0) // no header tagged fields
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}
