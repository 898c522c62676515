package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to every request decoder: it must never
// panic, must answer bad input with an *Error, and whatever it accepts must
// survive an encode/decode round trip unchanged (so a request relayed from
// primary to secondary means the same on both sides).
func FuzzDecode(f *testing.F) {
	f.Add(byte(0), []byte(`{"secondary_name":"mse2","secondary_ip":"10.10.10.13","secondary_password":"pw","failover_type":"automatic","failback_type":"manual","long_failover_wait":10}`))
	f.Add(byte(1), []byte(`{"primary_name":"mse1","primary_hip":"10.10.10.12","vip":"10.10.10.11/24","version":"1.0","udi":"AIR-MSE-VA-K9:V01:a","profile":"VA-Low","failover_type":"manual","failback_type":"manual","failover_wait_ms":10000,"heartbeat_interval_ms":1000,"secret":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`))
	f.Add(byte(2), []byte(`{"peer":"10.10.10.13"}`))
	f.Add(byte(2), []byte(`{"peer":"10.10.10.13","force":true}`))
	f.Add(byte(3), []byte(`{"peer":"10.10.10.13","failover_type":"automatic","long_failover_wait":"1s","witness":""}`))
	f.Add(byte(4), []byte(`{"failover_type":"manual","failback_type":"manual","failover_wait_ms":1000,"heartbeat_interval_ms":200,"witness":"10.10.10.20","witness_password":"pw"}`))
	f.Fuzz(func(t *testing.T, which byte, data []byte) {
		switch which % 5 {
		case 0:
			roundTrip[PairRequest](t, data)
		case 1:
			roundTrip[PeerPairRequest](t, data)
		case 2:
			roundTrip[PeerRequest](t, data)
		case 3:
			roundTrip[SettingsRequest](t, data)
		case 4:
			roundTrip[PeerSettingsRequest](t, data)
		}
	})
}

func roundTrip[T any, P interface {
	*T
	request
}](t *testing.T, data []byte) {
	v, err := Decode[T, P](bytes.NewReader(data))
	if err != nil {
		var ae *Error
		if !errors.As(err, &ae) || ae.Code < 400 || ae.Code > 499 || ae.Message == "" {
			t.Fatalf("bad input gave %T %v, want a 4xx *Error", err, err)
		}
		return
	}
	again, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("re-encode accepted request: %v", err)
	}
	w, err := Decode[T, P](bytes.NewReader(again))
	if err != nil {
		t.Fatalf("re-decoding accepted request %s: %v", again, err)
	}
	if !reflect.DeepEqual(v, w) {
		t.Fatalf("round trip changed the request:\n%+v\n%+v", v, w)
	}
}
