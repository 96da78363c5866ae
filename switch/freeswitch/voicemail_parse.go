package freeswitch

import (
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// vmMessage is one message as mod_voicemail reports it (vm_list, or the
// vm::maintenance leave-message event).
type vmMessage struct {
	// UUID is mod_voicemail's id of the message (voicemail_msgs.uuid: the
	// uuid of the call that left it, not the file's name).
	UUID         string
	User, Domain string // the box number and its voicemail domain
	Folder       string // inbox, or the folder it was saved to
	Path         string // the audio file, as the switch sees it
	CallerName   string
	CallerNumber string
	Created      time.Time
	// Read: listened to (read_epoch set) or moved out of the inbox.
	Read bool
}

// parseVMList reads the text answer of `vm_list <box>@<domain>`: one
// line per message, created_epoch:read_epoch:username:domain:in_folder:
// file_path:uuid:cid_name:cid_number:message_len (mod_voicemail.c,
// api_list_callback, 1.10.12). Nothing is escaped, and a caller ID name
// may hold ':' (seen: "Caller:Name"), so the seven fields before it are
// taken from the left and the two after it from the right. (The xml
// form of vm_list escapes nothing either: a name with '<' or '&' would
// break it.) Lines that do not have this shape are skipped; so is the
// whole answer when it is an error.
func parseVMList(s string) []vmMessage {
	if strings.HasPrefix(s, "-ERR") || strings.HasPrefix(s, "-USAGE") {
		return nil
	}
	var out []vmMessage
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimRight(line, "\r")
		f := strings.Split(line, ":")
		if len(f) < 10 {
			continue
		}
		created, err1 := strconv.ParseInt(f[0], 10, 64)
		read, err2 := strconv.ParseInt(f[1], 10, 64)
		_, err3 := strconv.ParseUint(f[len(f)-1], 10, 32)
		if err1 != nil || err2 != nil || err3 != nil || f[2] == "" || f[6] == "" {
			continue
		}
		out = append(out, vmMessage{
			Created: time.Unix(created, 0).UTC(), Read: read != 0 || !strings.EqualFold(f[4], "inbox"),
			User: f[2], Domain: f[3], Folder: f[4], Path: f[5], UUID: f[6],
			CallerName: strings.Join(f[7:len(f)-2], ":"), CallerNumber: f[len(f)-2],
		})
	}
	return out
}

// vmEventMaintenance is mod_voicemail's event subclass.
const vmEventMaintenance = "vm::maintenance"

// vmLeftMessage reads a vm::maintenance leave-message event (fired by
// deliver_vm once the file is written, just before the message's row is
// inserted).
func vmLeftMessage(ev Event) (vmMessage, bool) {
	if ev.Subclass() != vmEventMaintenance || ev.Get("VM-Action") != "leave-message" {
		return vmMessage{}, false
	}
	m := vmMessage{
		UUID: ev.Get("VM-UUID"), User: ev.Get("VM-User"), Domain: ev.Get("VM-Domain"), Folder: ev.Get("VM-Folder"),
		Path: ev.Get("VM-File-Path"), CallerName: ev.Get("VM-Caller-ID-Name"), CallerNumber: ev.Get("VM-Caller-ID-Number"),
	}
	if m.UUID == "" || m.User == "" || m.Domain == "" || m.Path == "" {
		return vmMessage{}, false
	}
	if ts, err := strconv.ParseInt(ev.Get("VM-Timestamp"), 10, 64); err == nil && ts > 0 {
		m.Created = time.Unix(ts, 0).UTC()
	} else {
		m.Created = ev.Time()
	}
	return m, true
}

// vmBoxChanged reads a vm::maintenance mwi-update event: mod_voicemail's
// update_mwi fires it whenever a box's counts may have changed: a
// message left, listened to and saved or deleted by phone (when the
// caller leaves the message list), vm_read, vm_delete. It returns the
// box as "user@domain".
func vmBoxChanged(ev Event) (string, bool) {
	if ev.Subclass() != vmEventMaintenance || ev.Get("VM-Action") != "mwi-update" {
		return "", false
	}
	user, domain := ev.Get("VM-User"), ev.Get("VM-Domain")
	if user == "" || domain == "" {
		return "", false
	}
	return user + "@" + domain, true
}

// vmLocalPath is where this daemon reads a message's file: the path as
// the switch gave it, or, with dir (the node's voicemail_dir: the
// switch's <storage>/voicemail as seen here), its last four elements
// (<profile>/<domain>/<box>/<file>) under dir. "" when the path does not
// have them.
func vmLocalPath(dir, p string) string {
	if dir == "" {
		return p
	}
	parts := strings.Split(path.Clean(strings.ReplaceAll(p, `\`, "/")), "/")
	if len(parts) < 5 {
		return ""
	}
	tail := parts[len(parts)-4:]
	for _, e := range tail {
		if e == "" || e == "." || e == ".." {
			return ""
		}
	}
	return filepath.Join(append([]string{dir}, tail...)...)
}
