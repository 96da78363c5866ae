package esltest

import "testing"

// TestDoctorAPI checks the doctor's commands against the recordings:
// each answer byte for byte as FreeSWITCH 1.10.12 gave it, and the knobs
// that break the node.
func TestDoctorAPI(t *testing.T) {
	s := New(t)
	tests := []struct{ cmd, arg, want string }{
		{"module_exists", "mod_xml_curl", string(RecordedBody("api-module-exists-mod-xml-curl.txt"))},
		{"module_exists", "mod_nosuch", string(RecordedBody("api-module-exists-mod-nosuch.txt"))},
		{"version", "", string(RecordedBody("api-version.txt"))},
		{"xml_locate", "configuration configuration name xml_curl.conf", string(RecordedBody("api-xml-locate-xml-curl-conf.txt"))},
		{"xml_locate", "configuration configuration name json_cdr.conf", string(RecordedBody("api-xml-locate-json-cdr-conf.txt"))},
		{"xml_locate", "configuration configuration name nosuch.conf", string(RecordedBody("api-xml-locate-nosuch-conf.txt"))},
		{"xml_locate", "directory", string(RecordedBody("api-xml-locate-directory-stock.txt"))},
		{"xml_locate", "directory domain", "-ERR bad args\n"},
	}
	for _, tc := range tests {
		if got := s.runAPI(tc.cmd, tc.arg).reply; got != tc.want {
			t.Errorf("%s %s = %q, want %q", tc.cmd, tc.arg, got, tc.want)
		}
	}
	s.SetModule("mod_xml_curl", false)
	s.SetConfig("json_cdr.conf", "")
	s.SetDirectory("")
	for _, tc := range []struct{ cmd, arg, want string }{
		{"module_exists", "mod_xml_curl", "false"},
		{"xml_locate", "configuration configuration name json_cdr.conf", "can't find anything\n"},
		{"xml_locate", "directory", "can't find anything\n"},
	} {
		if got := s.runAPI(tc.cmd, tc.arg).reply; got != tc.want {
			t.Errorf("broken: %s %s = %q, want %q", tc.cmd, tc.arg, got, tc.want)
		}
	}
}
