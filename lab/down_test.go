package lab

import "testing"

func TestUnescapeMountinfo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"/var/lib/postgresql/data", "/var/lib/postgresql/data"},
		{`/mnt/with\040space`, "/mnt/with space"},
		{`/a\011tab\134back`, "/a\ttab\\back"},
		{`/trailing\04`, `/trailing\04`}, // cut short: left as written
	} {
		if got := unescapeMount(tc.in); got != tc.want {
			t.Errorf("unescapeMount(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
