package usage

import (
	"crypto/rand"
	"encoding/binary"
	mrand "math/rand"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Hit is one request served by the caller's API.
type Hit struct {
	// Endpoint is the path (or route pattern) that was hit; it must start with "/"
	// (at most 2048 characters, no NUL).
	Endpoint string
	// IP is the caller's IPv4 or IPv6 address (no zone).
	IP string
	// Method is optional: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE or CONNECT
	// (lower case is upper-cased).
	Method string
	// Status is the HTTP status answered, 100..599; 0 leaves it out.
	Status int
	// Timestamp is when the hit happened; the zero value means now.
	Timestamp time.Time
	// EventID is the hit's idempotency key, a UUID; generated when empty. Give your own to
	// make a retry of your own (a re-run job) count once.
	EventID string
}

const maxEndpointChars = 2048

var methods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true, "TRACE": true, "CONNECT": true}

// checkHit returns why a hit can never be accepted, or "" when it may be. It normalises the
// method's case and returns the method to send.
func checkHit(h *Hit) (method string, reason string) {
	if h.Endpoint == "" || h.Endpoint[0] != '/' {
		return "", "endpoint must start with \"/\""
	}
	if len(h.Endpoint) > maxEndpointChars && utf8.RuneCountInString(h.Endpoint) > maxEndpointChars {
		return "", "endpoint is longer than 2048 characters"
	}
	if strings.IndexByte(h.Endpoint, 0) >= 0 {
		return "", "endpoint contains a NUL character"
	}
	if len(h.IP) > 45 || strings.IndexByte(h.IP, '%') >= 0 || net.ParseIP(h.IP) == nil {
		return "", "ip is not an IPv4 or IPv6 address"
	}
	method = h.Method
	if method != "" && !methods[method] {
		method = strings.ToUpper(method)
		if !methods[method] {
			return "", "method is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT"
		}
	}
	if h.Status != 0 && (h.Status < 100 || h.Status > 599) {
		return "", "status is not within 100..599"
	}
	if !h.Timestamp.IsZero() {
		if y := h.Timestamp.UTC().Year(); y < 1 || y > 9999 {
			return "", "timestamp is out of range"
		}
	}
	if h.EventID != "" && !isUUID(h.EventID) {
		return "", "event_id is not a UUID"
	}
	return method, ""
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// appendHit writes the hit as the contract's JSON object, event_id included.
func appendHit(dst []byte, h *Hit, method string, ts time.Time, id *[36]byte) []byte {
	dst = append(dst, `{"ip":`...)
	dst = appendString(dst, h.IP)
	dst = append(dst, `,"endpoint":`...)
	dst = appendString(dst, h.Endpoint)
	dst = append(dst, `,"timestamp":"`...)
	dst = appendTimestamp(dst, ts)
	dst = append(dst, '"')
	if method != "" {
		dst = append(dst, `,"method":"`...)
		dst = append(dst, method...)
		dst = append(dst, '"')
	}
	if h.Status != 0 {
		dst = append(dst, `,"status":`...)
		dst = strconv.AppendInt(dst, int64(h.Status), 10)
	}
	dst = append(dst, `,"event_id":"`...)
	dst = append(dst, id[:]...)
	return append(dst, `"}`...)
}

// hitBodyOverhead is a hit's JSON without its IP and endpoint, method and status included.
const hitBodyOverhead = len(`{"ip":"","endpoint":"","timestamp":"2006-01-02T15:04:05.000Z","method":"OPTIONS","status":200,"event_id":"00000000-0000-0000-0000-000000000000"}`)

// lastSecond caches the text of the last second formatted: hits arrive in bursts within
// the same second, and the calendar arithmetic is a tenth of Track's cost.
var lastSecond atomic.Value // *formattedSecond

type formattedSecond struct {
	unix int64
	text [19]byte // 2006-01-02T15:04:05
}

// appendTimestamp writes RFC 3339 in UTC with milliseconds: 2006-01-02T15:04:05.000Z.
func appendTimestamp(dst []byte, t time.Time) []byte {
	unix := t.Unix()
	f, _ := lastSecond.Load().(*formattedSecond)
	if f == nil || f.unix != unix {
		f = &formattedSecond{unix: unix}
		f.formatSecond(t)
		lastSecond.Store(f)
	}
	dst = append(dst, f.text[:]...)
	dst = append(dst, '.')
	dst = appendDigits(dst, t.Nanosecond()/1e6, 3)
	return append(dst, 'Z')
}

func (f *formattedSecond) formatSecond(t time.Time) {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, second := t.Clock()
	dst := f.text[:0]
	dst = appendDigits(dst, year, 4)
	dst = append(dst, '-')
	dst = appendDigits(dst, int(month), 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, day, 2)
	dst = append(dst, 'T')
	dst = appendDigits(dst, hour, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, minute, 2)
	dst = append(dst, ':')
	_ = appendDigits(dst, second, 2)
}

func appendDigits(dst []byte, v, width int) []byte {
	var buf [4]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[:width]...)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Random bytes for UUIDs come from crypto/rand, read 4 KiB at a time: one read per 256 ids
// instead of a system call per id.
var entropy = struct {
	sync.Mutex
	buf [4096]byte
	pos int
}{pos: 4096}

// newUUID writes a random (version 4) UUID in its canonical lower-case text.
func newUUID(out *[36]byte) {
	var b [16]byte
	entropy.Lock()
	if entropy.pos == len(entropy.buf) {
		if _, err := rand.Read(entropy.buf[:]); err != nil {
			// crypto/rand does not fail on supported systems; if it ever does, an id from a
			// time-seeded generator still keeps hits apart.
			r := mrand.New(mrand.NewSource(time.Now().UnixNano()))
			for i := 0; i < len(entropy.buf); i += 8 {
				binary.LittleEndian.PutUint64(entropy.buf[i:], r.Uint64())
			}
		}
		entropy.pos = 0
	}
	copy(b[:], entropy.buf[entropy.pos:entropy.pos+16])
	entropy.pos += 16
	entropy.Unlock()
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	j := 0
	for i := 0; i < 16; i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j] = hexDigits[b[i]>>4]
		out[j+1] = hexDigits[b[i]&0xf]
		j += 2
	}
}

// eventID is the hit's own id (lower-cased, as the service stores it) or a new one.
func eventID(h *Hit, out *[36]byte) {
	if h.EventID == "" {
		newUUID(out)
		return
	}
	for i := 0; i < 36; i++ {
		c := h.EventID[i]
		if 'A' <= c && c <= 'F' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
}
