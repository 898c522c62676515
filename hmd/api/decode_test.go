package api

import (
	"slices"
	"strings"
	"testing"
)

// A pairing hands the secondary's password, the pairing secret and the
// witness password to whatever answers at the secondary's and the
// witness's addresses: it must name the certificates it trusts, or say in
// so many words that it trusts whatever is presented.
func TestPairingNamesTheCertificatesItTrusts(t *testing.T) {
	fp := strings.Repeat("ab", 32)
	base := func() PairRequest {
		return PairRequest{SecondaryName: "mse2", SecondaryIP: "10.200.0.3", SecondaryPassword: "pw",
			FailoverType: Automatic, FailbackType: Manual, SecondaryFingerprint: fp}
	}
	for _, tc := range []struct {
		name string
		edit func(*PairRequest)
		want []string
	}{
		{"pinned", func(*PairRequest) {}, nil},
		{"secondary unpinned", func(r *PairRequest) { r.SecondaryFingerprint = "" }, []string{"secondary_fingerprint"}},
		{"secondary unpinned, trusted on first use", func(r *PairRequest) { r.SecondaryFingerprint, r.TrustOnFirstUse = "", true }, nil},
		{"witness pinned", func(r *PairRequest) { r.WitnessRef = WitnessRef{"10.200.0.4", "wpw", fp} }, nil},
		{"witness unpinned", func(r *PairRequest) { r.WitnessRef = WitnessRef{"10.200.0.4", "wpw", ""} }, []string{"witness_fingerprint"}},
		{"both unpinned", func(r *PairRequest) {
			r.SecondaryFingerprint, r.WitnessRef = "", WitnessRef{"10.200.0.4", "wpw", ""}
		}, []string{"secondary_fingerprint", "witness_fingerprint"}},
		{"both unpinned, trusted on first use", func(r *PairRequest) {
			r.SecondaryFingerprint, r.WitnessRef, r.TrustOnFirstUse = "", WitnessRef{"10.200.0.4", "wpw", ""}, true
		}, nil},
		{"a malformed pin is not trust on first use", func(r *PairRequest) { r.SecondaryFingerprint, r.TrustOnFirstUse = "abc", true }, []string{"secondary_fingerprint"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := base()
			tc.edit(&r)
			var got []string
			for _, f := range r.validate() {
				got = append(got, f.Field)
				if f.Field == "secondary_fingerprint" && r.SecondaryFingerprint == "" && !strings.Contains(f.Reason, "hactl status") {
					t.Errorf("reason %q does not say where to read the fingerprint", f.Reason)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("field errors %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSyncText(t *testing.T) {
	for _, c := range []struct {
		p    PeerStatus
		want string
	}{
		{PeerStatus{}, ""},
		{PeerStatus{Syncing: true, SyncPercent: 12}, "12 %"},
		{PeerStatus{Syncing: true, SyncPercent: 68, SyncRemainingS: 125}, "68 %, about 2 minutes 5 seconds left"},
	} {
		if got := c.p.SyncText(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.p, got, c.want)
		}
	}
}
