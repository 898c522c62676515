// Package replicate ships the instance database's log from the active node
// to the standby, so that no write acknowledged to a service is lost when
// the active node dies.
//
// Every committed transaction is an Entry with a sequence number and the
// epoch of the node that wrote it; the instance database stores it, framed
// with its CRC-32C, in the same bbolt transaction as the data it changes.
// The active side (Active) streams entries to the standby (Standby) over
// one TLS connection pinned to the peer's certificate from pairing; the
// standby commits each burst durably and acknowledges the highest sequence
// number. How long a commit waits for that acknowledgement is the
// protection mode (Mode), after Oracle Data Guard's names.
//
// A new or lost standby is brought up to date in one of two ways, chosen
// per connection by the active side (Plan): catch-up from the fork point
// (ForkPoint over both nodes' epoch histories) when the active's log still
// holds those entries, or a consistent snapshot of the database (resumable
// at the byte where it stopped) followed by catch-up. Entries the standby
// holds past the fork point — writes a failed primary committed but never
// got acknowledged — are undone from their before-images and kept in a
// named quarantine file.
//
// The pure parts (wire codec, histories, fork point) know nothing of
// sockets; Active and Standby work over any net.Conn and a Log.
package replicate
