package plan

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzDecodeTask feeds arbitrary bytes where a task value from etcd is
// expected (binary, or JSON from an earlier version): decoding and
// validation must never panic, a valid task must survive the failover
// rules with its invariants intact, and it must round-trip through the
// binary form unchanged.
func FuzzDecodeTask(f *testing.F) {
	f.Add([]byte(`{"id":"a","command":["true"],"retries":1,"status":"Running","core":1}`))
	f.Add([]byte(`{"id":"g","children":["g.1"],"status":"Running","core":2}`))
	f.Add([]byte(`{"id":"x","command":["sh"],"status":"Bogus","core":0,"retries":-1}`))
	for _, tk := range codecCases() {
		b, err := tk.AppendBinary(nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tk, err := DecodeTask(b)
		if err != nil || tk.Validate() != nil {
			return
		}
		nt, changed, moved := AfterCoreLoss(tk, 9, time.Unix(0, 0))
		if nt.Retries < 0 || nt.Retries > tk.Retries {
			t.Fatalf("retries went from %d to %d", tk.Retries, nt.Retries)
		}
		if moved && (!changed || nt.Core != 9) {
			t.Fatalf("moved task not on the target: %+v", nt)
		}
		if !moved && nt.Core != tk.Core {
			t.Fatalf("unmoved task changed core: %+v", nt)
		}
		if tk.IsGroup() && changed {
			t.Fatalf("group task changed: %+v", nt)
		}
		enc, err := nt.AppendBinary(nil)
		if err != nil {
			return // a time.Time that has no binary form (a zone offset in seconds out of range)
		}
		back, err := DecodeTask(enc)
		if err != nil {
			t.Fatalf("decoding what AppendBinary wrote: %v", err)
		}
		if !sameTask(back, nt) {
			t.Fatalf("round trip changed the task:\n%+v\n%+v", nt, back)
		}
	})
}

// FuzzOptions feeds arbitrary option values (the key every core watches)
// and override lists: never a panic, and what validates is usable.
func FuzzOptions(f *testing.F) {
	f.Add([]byte(`{"enable_auto_failover":false,"topology":"core-binding","maintenance_window":"30m0s","bind_to_core_override":{"1":[4,2]}}`), "4,2")
	f.Add([]byte(`{"topology":"round-robin","maintenance_window":"-1s"}`), "0")
	f.Fuzz(func(t *testing.T, b []byte, override string) {
		if list, err := ParseOverride(override); err == nil {
			for _, n := range list {
				if n < 1 {
					t.Fatalf("ParseOverride(%q) accepted %d", override, n)
				}
			}
		}
		o := DefaultOptions()
		if json.Unmarshal(b, &o) != nil || o.Validate() != nil {
			return
		}
		cs := []Core{{Num: 1, Lease: 1}, {Num: 2, Role: RoleLocalDevice}, {Num: 3, Role: RoleUserInteraction}}
		res, err := failover(cs[0], cs, []int{2, 3}, []Task{{ID: "a", Status: Pending, Core: 1}}, []string{"p"}, o, time.Unix(0, 0))
		if err == nil && (len(res.Targets) == 0 || len(res.Tasks) != 1) {
			t.Fatalf("failover with %+v: %+v", o, res)
		}
	})
}
