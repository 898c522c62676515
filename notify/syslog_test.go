package notify

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/syslogtest"
)

func TestSyslogValidate(t *testing.T) {
	const pemCA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	fp := strings.Repeat("0f", 32)
	for _, tc := range []struct {
		c      Syslog
		fields string
	}{
		{Syslog{Address: "10.0.0.9:514", Transport: "udp"}, ""},
		{Syslog{Address: "10.0.0.9:6514", Transport: "tls", Fingerprint: fp}, ""},
		{Syslog{Address: "10.0.0.9:6514", Transport: "tls"}, "ca"},
		{Syslog{Address: "10.0.0.9:6514", Transport: "tls", CA: "not pem"}, "ca"},
		{Syslog{Address: "10.0.0.9:6514", Transport: "tls", CA: pemCA}, "ca"},
		{Syslog{Address: "10.0.0.9:6514", Transport: "tls", Fingerprint: "abc"}, "fingerprint"},
		{Syslog{Address: "10.0.0.9:514", Transport: "tcp", Fingerprint: fp, ServerName: "x"}, "server_name,fingerprint"},
		{Syslog{Address: "collector:514", Transport: "ssl"}, "address,transport"},
	} {
		err := tc.c.Validate()
		var got []string
		var ve config.ValidationError
		if errors.As(err, &ve) {
			for _, f := range ve {
				got = append(got, f.Field)
			}
		} else if err != nil {
			t.Errorf("%+v: %v is not a validation error", tc.c, err)
		}
		if strings.Join(got, ",") != tc.fields {
			t.Errorf("%+v: fields %v, want %q (%v)", tc.c, got, tc.fields, err)
		}
	}
}

// TestSyslogOverTLS sends to an RFC 5425 collector verified each way an
// operator can configure (its CA with its IP or name, its pinned
// certificate), and checks that a collector that fails the verification
// receives nothing.
func TestSyslogOverTLS(t *testing.T) {
	col := syslogtest.Listen(t, "tls", "127.0.0.1:0")
	other := syslogtest.Listen(t, "tls", "127.0.0.1:0")
	send := func(c Syslog, text string) error {
		cl := NewSyslogClient(c, 5*time.Second)
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return cl.Send(ctx, Message{Time: time.Now(), Severity: 5, Host: "mse1", App: "hmd", Text: text})
	}
	for _, tc := range []struct {
		name    string
		c       Syslog
		wantErr string
	}{
		{"CA and the collector's IP", Syslog{CA: col.CA}, ""},
		{"CA and the collector's name", Syslog{CA: col.CA, ServerName: syslogtest.ServerName}, ""},
		{"pinned certificate", Syslog{Fingerprint: col.Fingerprint}, ""},
		{"CA and pin", Syslog{CA: col.CA, Fingerprint: col.Fingerprint}, ""},
		{"another collector's pin", Syslog{Fingerprint: other.Fingerprint}, "is not the pinned"},
		{"another CA", Syslog{CA: other.CA}, "unknown authority"},
		{"a name not in the certificate", Syslog{CA: col.CA, ServerName: "elsewhere.test"}, "elsewhere.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.Address, tc.c.Transport = col.Addr, "tls"
			if err := tc.c.Validate(); err != nil {
				t.Fatal(err)
			}
			err := send(tc.c, tc.name)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				netnstest.Eventually(t, 5*time.Second, "the message at the collector", func() bool {
					for _, m := range col.Messages() {
						if m.Message == tc.name {
							return true
						}
					}
					return false
				})
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error about %q", err, tc.wantErr)
			}
		})
	}
	if n := len(col.Messages()); n != 4 {
		t.Errorf("the collector received %d messages, want the 4 verified ones", n)
	}
	if bad := col.Malformed(); len(bad) > 0 {
		t.Errorf("malformed: %v", bad)
	}
}
