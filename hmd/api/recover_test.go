package api

import (
	"errors"
	"strings"
	"testing"
)

const validRestore = `{"pairing":{"primary_name":"mse1","primary_hip":"10.10.10.12","vip":"10.10.10.11/24","version":"1.0","udi":"AIR-MSE-VA-K9:V01:a","profile":"VA-Low","failover_type":"automatic","failback_type":"manual","failover_wait_ms":10000,"heartbeat_interval_ms":1000,"secret":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},` +
	`"secondary":{"name":"mse2","hip":"10.10.10.13","version":"1.0","udi":"AIR-MSE-VA-K9:V01:b","profile":"VA-Low","instance_slot":3}}`

// FuzzDecodeRecovery is FuzzDecode for the recovery requests: a restore
// arrives from the network before the recovering primary trusts anything
// but its password.
func FuzzDecodeRecovery(f *testing.F) {
	f.Add(byte(0), []byte(`{"primary_ip":"10.10.10.12","primary_password":"pw"}`))
	f.Add(byte(0), []byte(`{"primary_ip":"10.10.10.12","primary_password":"pw","primary_fingerprint":"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}`))
	f.Add(byte(1), []byte(validRestore))
	f.Fuzz(func(t *testing.T, which byte, data []byte) {
		if which%2 == 0 {
			roundTrip[RecoverRequest](t, data)
		} else {
			roundTrip[RestoreRequest](t, data)
		}
	})
}

// TestRestoreRequestFields: a valid restore decodes; each broken part is
// refused with its field named under its half of the exchange.
func TestRestoreRequestFields(t *testing.T) {
	if _, err := Decode[RestoreRequest](strings.NewReader(validRestore)); err != nil {
		t.Fatalf("valid restore refused: %v", err)
	}
	for _, c := range []struct{ from, to, field string }{
		{`"primary_hip":"10.10.10.12"`, `"primary_hip":"nope"`, "pairing.primary_hip"},
		{`"secret":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="`, `"secret":"AAAA"`, "pairing.secret"},
		{`"hip":"10.10.10.13"`, `"hip":""`, "secondary.hip"},
		{`"instance_slot":3`, `"instance_slot":0`, "secondary.instance_slot"},
		{`"name":"mse2"`, `"name":""`, "secondary.name"},
	} {
		body := strings.Replace(validRestore, c.from, c.to, 1)
		_, err := Decode[RestoreRequest](strings.NewReader(body))
		var ae *Error
		if !errors.As(err, &ae) || len(ae.Fields) == 0 || ae.Fields[0].Field != c.field {
			t.Errorf("%s: got %v, want an error naming %s", c.to, err, c.field)
		}
	}
	for _, body := range []string{`{"primary_ip":"10.10.10.12","trust_on_first_use":true}`, `{"primary_password":"pw","trust_on_first_use":true}`,
		`{"primary_ip":"10.10.10.12","primary_password":"pw","primary_fingerprint":"xyz"}`,
		// The restore hands the pairing secret over: the primary's
		// certificate is named, or trusted on first use in so many words.
		`{"primary_ip":"10.10.10.12","primary_password":"pw"}`} {
		if _, err := Decode[RecoverRequest](strings.NewReader(body)); err == nil {
			t.Errorf("recover request %s accepted", body)
		}
	}
	for _, body := range []string{`{"primary_ip":"10.10.10.12","primary_password":"pw","trust_on_first_use":true}`,
		`{"primary_ip":"10.10.10.12","primary_password":"pw","primary_fingerprint":"` + strings.Repeat("ab", 32) + `"}`} {
		if _, err := Decode[RecoverRequest](strings.NewReader(body)); err != nil {
			t.Errorf("recover request %s refused: %v", body, err)
		}
	}
}
