package webui

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/hafw/hafw/hmd/api"
)

// formField is one input of the pairing form.
type formField struct {
	Name, Label, Type, Auto, Hint, Help string
	Choices                             []string
}

// pairForm is the "Configure High Availability Parameters" form. Inputs are
// named by the API's JSON keys so that the API's field errors land next to
// the right input without a translation table.
func pairForm() []formField {
	types := []string{api.Automatic, api.Manual}
	return []formField{
		{Name: "secondary_name", Label: "Secondary device name", Type: "text", Auto: "off", Help: "The secondary's host name."},
		{Name: "secondary_ip", Label: "Secondary IP address", Type: "text", Auto: "off", Hint: "10.0.0.3", Help: "The secondary's health monitor IP, on this primary's subnet."},
		{Name: "secondary_password", Label: "Secondary password", Type: "password", Auto: "off", Help: "The secondary appliance's admin password (type it again after Check secondary: it is never sent back to the browser)."},
		{Name: "secondary_fingerprint", Label: "Secondary certificate fingerprint", Type: "text", Auto: "off", Help: "Check secondary fills in the SHA-256 of the certificate the secondary presents. Compare it with the one on the secondary's own console (Appliances page) before you Save: the pairing then trusts that certificate only."},
		{Name: "failover_type", Label: "Failover type", Choices: types, Help: "Automatic: the secondary takes over when the primary is silent for the failover wait. Manual: only by switchover."},
		{Name: "failback_type", Label: "Failback type", Choices: types},
		{Name: "long_failover_wait", Label: "Long failover wait", Type: "text", Hint: "10", Help: "Seconds (10 is the default), or a duration such as 500ms."},
		{Name: "heartbeat_interval", Label: "Heartbeat interval (optional)", Type: "text", Help: "Empty: a fifth of the failover wait."},
		{Name: "witness", Label: "Witness IP address (optional)", Type: "text", Auto: "off", Help: "Another hafw node on this subnet (in N:1 the other primary) that must agree this primary is gone before the secondary takes over automatically."},
		{Name: "witness_password", Label: "Witness password", Type: "password", Auto: "off", Help: "The witness appliance's admin password (needed with a witness)."},
		{Name: "witness_fingerprint", Label: "Witness certificate fingerprint", Type: "text", Auto: "off", Help: "Needed with a witness: the SHA-256 its console shows on the Appliances page."},
	}
}

// input is one form field as a page renders it: its current value and
// the reason it was refused, if it was.
type input struct {
	F          formField
	Value, Err string
}

func newInput(f formField, values, errs map[string]string) input {
	return input{F: f, Value: values[f.Name], Err: errs[f.Name]}
}

// pairFields are the names of the form's inputs.
func pairFields() []string {
	var names []string
	for _, f := range pairForm() {
		names = append(names, f.Name)
	}
	return names
}

// pairRequest turns the posted form into the API's PairRequest through the
// API's own strict decoder, so the web UI applies exactly the API's checks
// and none of its own.
func pairRequest(form url.Values) (api.PairRequest, error) {
	body := map[string]any{}
	for _, k := range pairFields() {
		v, typed := formValue(form, k)
		if k == "heartbeat_interval" && v == "" {
			continue // optional: the API picks a fifth of the failover wait
		}
		body[k] = typed
	}
	data, err := json.Marshal(body)
	if err != nil {
		return api.PairRequest{}, fmt.Errorf("encode the form: %w", err)
	}
	return api.Decode[api.PairRequest](strings.NewReader(string(data)))
}

// formValue is input k of the form as typed (v) and as the API's JSON
// takes it: a password as typed, a duration through durationValue, any
// other text trimmed.
func formValue(form url.Values, k string) (v string, typed any) {
	v = strings.TrimSpace(form.Get(k))
	switch k {
	case "secondary_password", "witness_password":
		v = form.Get(k)
	case "long_failover_wait", "heartbeat_interval":
		return v, durationValue(v)
	}
	return v, v
}

// durationValue passes a bare number as seconds (what the seed's form asks
// for) and anything else as a duration string; the API decides whether it
// is valid.
func durationValue(v string) any {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return f
	}
	return v
}

// formErrors splits an API error into messages per form field and the rest
// (checks with no field: version, pairing matrix, activation).
func formErrors(err error, fields []string) (byField map[string]string, general string) {
	ae := api.FromValidation(err)
	byField = map[string]string{}
	known := map[string]bool{}
	for _, f := range fields {
		known[f] = true
	}
	var rest []string
	for _, fe := range ae.Fields {
		if known[fe.Field] {
			byField[fe.Field] = fe.Reason
		} else {
			rest = append(rest, fe.Field+": "+fe.Reason)
		}
	}
	switch {
	case len(ae.Fields) == 0:
		general = ae.Message
	case len(rest) > 0:
		general = strings.Join(rest, "; ")
	case ae.Message != "invalid request":
		general = ae.Message
	default:
		general = "Please correct the fields marked below."
	}
	return byField, general
}
