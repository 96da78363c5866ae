package asterisk

import (
	"bufio"
	"bytes"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 300000} {
		payload := bytes.Repeat([]byte{'x'}, n)
		for _, masked := range []bool{false, true} {
			var mask *[4]byte
			if masked {
				mask = &[4]byte{1, 2, 3, 4}
			}
			b := appendFrame(nil, opText, payload, mask)
			fin, op, got, err := readFrame(bufio.NewReader(bytes.NewReader(b)), maxEventSize, masked)
			if err != nil || !fin || op != opText || !bytes.Equal(got, payload) {
				t.Errorf("n=%d masked=%v: fin %v op %d len %d err %v", n, masked, fin, op, len(got), err)
			}
		}
	}
	// Over the limit, wrong masking, reserved bits.
	big := appendFrame(nil, opText, make([]byte, 200), nil)
	if _, _, _, err := readFrame(bufio.NewReader(bytes.NewReader(big)), 100, false); err == nil {
		t.Error("a frame over the limit was read")
	}
	if _, _, _, err := readFrame(bufio.NewReader(bytes.NewReader(big)), maxEventSize, true); err == nil {
		t.Error("an unmasked frame was read where masking is required")
	}
	bad := append([]byte{0xC1}, big[1:]...)
	if _, _, _, err := readFrame(bufio.NewReader(bytes.NewReader(bad)), maxEventSize, false); err == nil {
		t.Error("a frame with reserved bits was read")
	}
}

// FuzzReadFrame feeds the frame reader what a broken or hostile peer
// could send: it must fail cleanly, never panic or allocate past the limit.
func FuzzReadFrame(f *testing.F) {
	f.Add(appendFrame(nil, opText, []byte(`{"type":"Dial"}`), nil))
	f.Add(appendFrame(nil, opPing, []byte("p"), nil))
	f.Add([]byte{0x81, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, p, err := readFrame(bufio.NewReader(bytes.NewReader(b)), 1<<16, false)
		if err == nil && len(p) > 1<<16 {
			t.Errorf("payload of %d bytes over the limit", len(p))
		}
	})
}
