package doctor

import "testing"

func TestWords(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{List([]string{"a", "b"}, 5), "a, b"},
		{List([]string{"1000", "1001", "1002", "1003"}, 2), "1000, 1001 and 2 more"},
		{List(nil, 3), ""},
		{Count(1, "user"), "1 user"},
		{Count(0, "user"), "0 users"},
		{Count(20, "user"), "20 users"},
		{Fail.String() + OK.String() + Warn.String() + Info.String(), "FAILokwarninfo"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if Failed([]Check{{Status: Warn}, {Status: Info}}) || !Failed([]Check{{Status: OK}, {Status: Fail}}) {
		t.Error("Failed is true exactly when a check failed")
	}
}
