package esltest

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Voicemail: mod_voicemail's table of messages and the api commands the
// indexer uses, as FreeSWITCH 1.10.12 answered them on the media node
// (testdata/vm-*.txt): vm_list's text rows, vm_read and vm_delete
// answering "+OK" (vm_delete unlinks the file), and the vm::maintenance
// events: leave-message, fired before the row is inserted, and
// mwi-update (update_mwi), fired with the box's counts after a message
// is left, after vm_read and vm_delete, and when a caller who listened
// by phone leaves the message list (seen live on the media node: the
// message is marked read only then).

// VoicemailMessage is one row of the fake's voicemail_msgs.
type VoicemailMessage struct {
	UUID, Box, Domain, Folder, Path string
	CallerName, CallerNumber        string
	Created, Read                   time.Time // Read zero: unread
	Secs                            int
}

// LeaveVoicemail stores a message in box@domain whose audio is at path
// (the fake does not read it) and, with event, fires the leave-message
// event (the recorded one with this message's headers) first and
// mwi-update after, as deliver_vm does. It returns the message's uuid.
func (s *Server) LeaveVoicemail(box, domain, path, callerName, callerNumber string, secs int, event bool) string {
	m := VoicemailMessage{UUID: newUUID(), Box: box, Domain: domain, Folder: "inbox", Path: path,
		CallerName: callerName, CallerNumber: callerNumber, Created: time.Now().Truncate(time.Second), Secs: secs}
	if event {
		e := mustEvent(Recorded("vm-leave-message-event.txt"))
		s.stamp(e, m.Created)
		for k, v := range map[string]string{"VM-User": box, "VM-Domain": domain, "VM-Caller-ID-Name": callerName,
			"VM-Caller-ID-Number": callerNumber, "VM-File-Path": path, "VM-UUID": m.UUID, "Unique-ID": m.UUID,
			"VM-Message-Len": strconv.Itoa(secs), "VM-Timestamp": strconv.FormatInt(m.Created.Unix(), 10)} {
			e.set(k, v)
		}
		s.emit(e)
	}
	s.mu.Lock()
	s.st.voicemail = append(s.st.voicemail, m)
	s.mu.Unlock()
	if event {
		s.mwiUpdate(box, domain)
	}
	return m.UUID
}

// mwiUpdate fires the recorded mwi-update event with box@domain's
// counts, as update_mwi does.
func (s *Server) mwiUpdate(box, domain string) {
	s.mu.Lock()
	var unread, read int
	for _, m := range s.st.voicemail {
		if m.Box == box && m.Domain == domain {
			if m.Read.IsZero() {
				unread++
			} else {
				read++
			}
		}
	}
	s.mu.Unlock()
	e := mustEvent(Recorded("vm-mwi-update-event.txt"))
	s.stamp(e, time.Now())
	for k, v := range map[string]string{"VM-User": box, "VM-Domain": domain, "VM-Total-New": strconv.Itoa(unread), "VM-Total-Saved": strconv.Itoa(read)} {
		e.set(k, v)
	}
	s.emit(e)
}

// Voicemail returns the messages of box@domain (all with "").
func (s *Server) Voicemail(box, domain string) []VoicemailMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []VoicemailMessage
	for _, m := range s.st.voicemail {
		if box == "" || m.Box == box && m.Domain == domain {
			out = append(out, m)
		}
	}
	return out
}

// ReadVoicemailByPhone marks a message read as listening by phone does
// (saved, then marked read when the caller leaves the message list),
// and fires mwi-update when event.
func (s *Server) ReadVoicemailByPhone(uuid string, event bool) {
	s.mu.Lock()
	var box, domain string
	for i := range s.st.voicemail {
		if s.st.voicemail[i].UUID == uuid {
			s.st.voicemail[i].Read = time.Now()
			box, domain = s.st.voicemail[i].Box, s.st.voicemail[i].Domain
		}
	}
	s.mu.Unlock()
	if event && box != "" {
		s.mwiUpdate(box, domain)
	}
}

// DeleteVoicemailByPhone removes a message as deleting it by phone does
// (flagged, then purged when the caller leaves the menu), and fires
// mwi-update when event.
func (s *Server) DeleteVoicemailByPhone(uuid string, event bool) {
	s.mu.Lock()
	var box, domain string
	s.st.voicemail = slices.DeleteFunc(s.st.voicemail, func(m VoicemailMessage) bool {
		if m.UUID == uuid {
			box, domain = m.Box, m.Domain
			return true
		}
		return false
	})
	s.mu.Unlock()
	if event && box != "" {
		s.mwiUpdate(box, domain)
	}
}

// voicemailAPI answers vm_list, vm_read and vm_delete; the last two
// fire mwi-update for the box, as mod_voicemail does.
func (s *Server) voicemailAPI(cmd, arg string) apiResult {
	r := s.voicemailTable(cmd, arg)
	if (cmd == "vm_read" || cmd == "vm_delete") && r.reply == "+OK\n" {
		if box, domain, ok := strings.Cut(strings.Fields(arg)[0], "@"); ok {
			s.mwiUpdate(box, domain)
		}
	}
	return r
}

// voicemailTable runs one voicemail api command on the fake's table.
func (s *Server) voicemailTable(cmd, arg string) apiResult {
	f := strings.Fields(arg)
	if len(f) == 0 {
		return apiResult{reply: "-USAGE: " + cmd + "\n"}
	}
	box, domain, ok := strings.Cut(f[0], "@")
	if !ok {
		return apiResult{reply: "-ERR can't find user or profile.\n"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch cmd {
	case "vm_list":
		var b strings.Builder
		for _, m := range s.st.voicemail {
			if m.Box != box || m.Domain != domain {
				continue
			}
			read := int64(0)
			if !m.Read.IsZero() {
				read = m.Read.Unix()
			}
			fmt.Fprintf(&b, "%d:%d:%s:%s:%s:%s:%s:%s:%s:%d\n", m.Created.Unix(), read, m.Box, m.Domain, m.Folder, m.Path, m.UUID, m.CallerName, m.CallerNumber, m.Secs)
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		// an empty box: nothing written, which mod_event_socket answers
		// "-ERR no reply" (runAPI's caller does the same)
		return apiResult{reply: b.String()}
	case "vm_read":
		if len(f) != 3 || f[1] != "read" && f[1] != "unread" {
			return apiResult{reply: "-ERR can't find user or profile.\n"}
		}
		for i := range s.st.voicemail {
			if s.st.voicemail[i].UUID == f[2] {
				if f[1] == "read" {
					s.st.voicemail[i].Read = time.Now()
				} else {
					s.st.voicemail[i].Read = time.Time{}
				}
			}
		}
		return apiResult{reply: "+OK\n"}
	case "vm_delete":
		if len(f) != 2 {
			return apiResult{reply: "-ERR esltest: vm_delete of a whole box is not modelled\n"}
		}
		s.st.voicemail = slices.DeleteFunc(s.st.voicemail, func(m VoicemailMessage) bool {
			if m.UUID == f[1] {
				_ = os.Remove(m.Path)
				return true
			}
			return false
		})
		return apiResult{reply: "+OK\n"}
	}
	return notModelled(cmd, arg)
}
