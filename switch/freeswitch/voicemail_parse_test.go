package freeswitch

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/freeswitch/esltest"
)

// TestParseVMList reads vm_list as FreeSWITCH 1.10.12 wrote it (a caller
// ID name with a ':' in it, one message read) and refuses what is not a
// row.
func TestParseVMList(t *testing.T) {
	got := parseVMList(string(esltest.Recorded("vm-list.txt")))
	if len(got) != 2 {
		t.Fatalf("%d messages, want 2: %+v", len(got), got)
	}
	want := vmMessage{UUID: "0877ca8b-ad0b-457c-9edf-e4f29defe006", User: "1000", Domain: "127.0.0.1", Folder: "inbox",
		Path:       "/opt/fs-media/storage/voicemail/default/127.0.0.1/1000/msg_b9b4293b-816f-48da-8173-014cc4f6a5f4.wav",
		CallerName: "Caller:Name", CallerNumber: "+15145550199", Created: time.Unix(1796607429, 0).UTC()}
	if got[0] != want {
		t.Errorf("first message %+v\nwant %+v", got[0], want)
	}
	if got[0].Read || !got[1].Read {
		t.Errorf("read: %v %v, want false true (read_epoch)", got[0].Read, got[1].Read)
	}
	for _, s := range []string{"", "-ERR can't find user or profile.\n", "1:2:3\n", "x:0:1000:d:inbox:/p:u:n:c:5\n", "1:0::d:inbox:/p:u:n:c:5\n", "1:0:1000:d:inbox:/p:u:n:c:x\n"} {
		if got := parseVMList(s); len(got) != 0 {
			t.Errorf("parseVMList(%q) = %+v, want nothing", s, got)
		}
	}
	if got := parseVMList("1:0:1000:d:saved:/p:u:n:c:5\r\n"); len(got) != 1 || !got[0].Read {
		t.Errorf("a message saved to another folder counts as read: %+v", got)
	}
}

// TestVMLeftMessage reads the recorded leave-message event.
func TestVMLeftMessage(t *testing.T) {
	ev, err := ParsePlainEvent(esltest.Recorded("vm-leave-message-event.txt"))
	if err != nil {
		t.Fatal(err)
	}
	m, ok := vmLeftMessage(ev)
	if !ok {
		t.Fatal("not taken")
	}
	if m.UUID != "09186a7a-12f0-4ebb-8f07-a21ec3997c9c" || m.User != "1000" || m.Domain != "127.0.0.1" || m.CallerName != "Caller:Name" ||
		m.CallerNumber != "+15145550199" || !strings.HasSuffix(m.Path, "/1000/msg_dec6bdb1-5519-471d-b4d2-a193f7e2a028.wav") ||
		!m.Created.Equal(time.Unix(1796607442, 0)) {
		t.Errorf("%+v", m)
	}
	mwi, err := ParsePlainEvent(esltest.Recorded("vm-mwi-update-event.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := vmLeftMessage(mwi); ok {
		t.Error("an mwi-update taken for a message")
	}
	if box, ok := vmBoxChanged(mwi); !ok || box != "1000@127.0.0.1" {
		t.Errorf("mwi-update: box %q, %v", box, ok)
	}
	if _, ok := vmBoxChanged(ev); ok {
		t.Error("a leave-message taken for an mwi-update")
	}
}

func TestVMLocalPath(t *testing.T) {
	const p = "/opt/fs/storage/voicemail/default/t1.voicemail.switchboard.invalid/9100/msg_x.wav"
	for _, tc := range []struct{ dir, path, want string }{
		{"", p, p},
		{"/mnt/fs-voicemail", p, "/mnt/fs-voicemail/default/t1.voicemail.switchboard.invalid/9100/msg_x.wav"},
		{"/mnt/v", "/a/../c/d/e.wav", ""},
		{"/mnt/v", "default/d/9100/x.wav", ""},
		{"/mnt/v", "/s/voicemail/default/d/../9100/x.wav", "/mnt/v/voicemail/default/9100/x.wav"},
	} {
		if got := vmLocalPath(tc.dir, tc.path); got != tc.want {
			t.Errorf("vmLocalPath(%q, %q) = %q, want %q", tc.dir, tc.path, got, tc.want)
		}
	}
}

// FuzzParseVMList: any answer parses without panicking, and every
// message it yields has its id, box and a path.
func FuzzParseVMList(f *testing.F) {
	f.Add(string(esltest.Recorded("vm-list.txt")))
	f.Add("1:0:1000:d:inbox:/p:u:a:b:c:+1:5\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range parseVMList(s) {
			if m.UUID == "" || m.User == "" || strings.Contains(m.CallerName+m.Path, "\n") {
				t.Fatalf("%+v from %q", m, s)
			}
		}
	})
}
