package esltest

import (
	"maps"
	"strings"
)

// What `switchboard doctor` reads of a node, answered from recordings of
// a FreeSWITCH 1.10.12 copy with the vanilla directory's users 1000-1019
// (testdata/api-module-exists-*.txt, api-xml-locate-*.txt,
// api-version.txt): module_exists, xml_locate configuration
// configuration name <file>, xml_locate directory and version. Tests
// break the node with SetModule, SetConfig and SetDirectory.

// doctorModules are the modules of the recorded node's modules.conf.xml.
var doctorModules = []string{
	"mod_console", "mod_logfile", "mod_xml_curl", "mod_event_socket", "mod_json_cdr", "mod_sofia",
	"mod_loopback", "mod_commands", "mod_db", "mod_dptools", "mod_expr", "mod_hash",
	"mod_dialplan_xml", "mod_sndfile", "mod_native_file", "mod_tone_stream",
}

// doctorState is the node's modules and static XML.
type doctorState struct {
	modules   map[string]bool
	configs   map[string]string // by file name, as xml_locate prints it
	directory string            // the directory section, as xml_locate prints it
}

// doctor returns the node's doctor state, made from the recordings on
// first use; s.mu is held.
func (s *Server) doctor() *doctorState {
	if s.doc == nil {
		d := &doctorState{modules: map[string]bool{}, configs: map[string]string{}}
		for _, m := range doctorModules {
			d.modules[m] = true
		}
		d.configs["xml_curl.conf"] = string(RecordedBody("api-xml-locate-xml-curl-conf.txt"))
		d.configs["json_cdr.conf"] = string(RecordedBody("api-xml-locate-json-cdr-conf.txt"))
		d.directory = string(RecordedBody("api-xml-locate-directory-stock.txt"))
		s.doc = d
	}
	return s.doc
}

// SetModule loads or unloads a module as module_exists reports it.
func (s *Server) SetModule(name string, loaded bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.doctor().modules[name] = loaded
}

// SetConfig sets what xml_locate prints for configuration file name
// ("xml_curl.conf"); "" makes it absent ("can't find anything"). The
// recorded xml_curl.conf and json_cdr.conf point at
// http://127.0.0.1:8099/freeswitch/fsdoc/ with credentials
// freeswitch:sb-live-http-secret.
func (s *Server) SetConfig(name, xml string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.doctor().configs[name] = xml
}

// Config returns what xml_locate prints for configuration file name.
func (s *Server) Config(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.doctor().configs[name]
}

// SetDirectory sets the static directory section xml_locate directory
// prints; "" leaves none. The recorded one has domain 127.0.0.1 with the
// vanilla users 1000-1019 (password 1234) and its default, example.com
// and SEP001120AABBCC entries.
func (s *Server) SetDirectory(xml string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.doctor().directory = xml
}

// doctorAPI answers module_exists, xml_locate and version.
func (s *Server) doctorAPI(cmd, arg string) apiResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.doctor()
	switch cmd {
	case "version":
		return apiResult{reply: string(RecordedBody("api-version.txt"))}
	case "module_exists":
		// mod_commands writes "true" or "false" without a line break.
		if d.modules[strings.TrimSpace(arg)] {
			return apiResult{reply: "true"}
		}
		return apiResult{reply: "false"}
	}
	f := strings.Fields(arg)
	notFound := string(RecordedBody("api-xml-locate-nosuch-conf.txt"))
	switch {
	case len(f) == 1 && f[0] == "directory":
		if d.directory == "" {
			return apiResult{reply: notFound}
		}
		return apiResult{reply: d.directory}
	case len(f) == 4 && f[0] == "configuration" && f[1] == "configuration" && f[2] == "name":
		if c := d.configs[f[3]]; c != "" {
			return apiResult{reply: c}
		}
		return apiResult{reply: notFound}
	case len(f) != 1 && len(f) != 4:
		return apiResult{reply: "-ERR bad args\n"}
	}
	return apiResult{reply: notFound}
}

// Modules returns the modules module_exists reports loaded.
func (s *Server) Modules() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.doctor().modules)
}
