package appliance

import "testing"

func TestParseCmdline(t *testing.T) {
	c := ParseCmdline(`console=ttyS0 quiet hafw.recovery hafw.profile=VA-Low hafw.hostname=mse-a ` +
		`"hafw.password=two words" hafw.hang=0 hafw.eth0=10.210.0.5/24 hafw.empty= other.key=x` + "\n")
	if !c.Recovery || c.Hang {
		t.Errorf("Recovery=%v Hang=%v, want true false", c.Recovery, c.Hang)
	}
	if c.Profile != "VA-Low" {
		t.Errorf("Profile = %q", c.Profile)
	}
	want := map[string]string{"hostname": "mse-a", "password": "two words", "eth0": "10.210.0.5/24", "empty": ""}
	if len(c.Keys) != len(want) {
		t.Errorf("Keys = %v, want %v", c.Keys, want)
	}
	for k, v := range want {
		if c.Keys[k] != v {
			t.Errorf("Keys[%s] = %q, want %q", k, c.Keys[k], v)
		}
	}
}
