package licensing

import (
	"testing"
)

// BenchmarkVerify measures one license check (parse + Ed25519 verify), the
// cost the init agent pays per installed license at every boot.
func BenchmarkVerify(b *testing.B) {
	pub, priv := newKey(b)
	data := issue(b, priv, License{ID: "LIC-1", Feature: CAS, Count: 100, UDI: testUDI, Issued: testToday})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(data, pub, testUDI, testToday); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse measures the parser alone (what a malformed or forged file
// costs before the signature check).
func BenchmarkParse(b *testing.B) {
	_, priv := newKey(b)
	data := issue(b, priv, License{ID: "LIC-1", Feature: CAS, Count: 100, UDI: testUDI, Issued: testToday})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
