package replicate_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/hafw/hafw/hmd/instance"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/replicate"
)

// fakeStandby accepts the active's connections on loopback, answers its
// hello as a standby holding the entries up to holds, and acknowledges
// each entry it receives with ack(seq).
func fakeStandby(t *testing.T, holds uint64, ack func(seq uint64) uint64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := replicate.NewReader(c)
				f, _, err := r.Next()
				if err != nil {
					return
				}
				h, err := replicate.DecodeHello(f.Payload)
				if err != nil {
					return
				}
				c.Write(replicate.AppendFrame(nil, replicate.MsgStandby, replicate.EncodeStandbyHello(replicate.StandbyHello{LastSeq: holds, History: h.History, Protocol: replicate.ProtocolMax})))
				for {
					f, _, err := r.Next()
					if err != nil {
						return
					}
					if f.Type != replicate.MsgEntry {
						continue
					}
					e, err := replicate.DecodeEntry(f.Payload)
					if err != nil {
						return
					}
					if _, err := c.Write(replicate.AppendFrame(nil, replicate.MsgAck, replicate.EncodeSeq(ack(e.Seq)))); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// A standby that acknowledges more than it was sent (one false ack of
// 1<<62) must not confirm maximum-protection commits it never held: the
// active ends the session, the commit is refused, and the lag stays sane.
func TestAcknowledgementBeyondShippedEndsTheSession(t *testing.T) {
	p := newNode(t, "primary")
	p.db.Promote(2)
	seed := put(t, p.db, "seed", "1")
	addr := fakeStandby(t, seed, func(uint64) uint64 { return 1 << 62 })
	a, _ := p.active(addr, activeOpts{mode: replicate.MaxProtection})
	waitUp(t, a)
	confirmed := 0
	for i := range 3 {
		_, err := p.db.Update(context.Background(), func(tx *instance.Txn) error {
			return tx.Put([]byte(fmt.Sprintf("k/%d", i)), []byte("v"))
		})
		switch {
		case err == nil:
			confirmed++
		case !errors.Is(err, replicate.ErrNotProtected):
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	st := a.Status()
	if confirmed > 0 || st.AckedSeq > st.LastSeq || st.Lag > st.LastSeq {
		t.Fatalf("%d of 3 commits confirmed by false acknowledgements; status %+v", confirmed, st)
	}
	if !strings.Contains(st.Reason, "acknowledged entry") {
		t.Errorf("replication down for another reason: %q", st.Reason)
	}
}

// A full copy announced larger than the standby's free space is refused
// at once, with the reason, before anything is written.
func TestSnapshotLargerThanFreeSpaceIsRefused(t *testing.T) {
	p, s := newNode(t, "primary"), newNode(t, "secondary")
	_, addr, _ := s.standby(p, false)
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := replicate.NewReader(c)
	c.Write(replicate.AppendFrame(nil, replicate.MsgHello, replicate.EncodeHello(replicate.Hello{Epoch: 2, LastSeq: 10, FirstSeq: 1, Protocols: replicate.Speaks})))
	if f, _, err := r.Next(); err != nil || f.Type != replicate.MsgStandby {
		t.Fatalf("standby hello: %v %v", f.Type, err)
	}
	c.Write(replicate.AppendFrame(nil, replicate.MsgPlan, replicate.EncodePlan(replicate.Plan{Kind: replicate.PlanSnapshot, SnapID: 7, Size: 1 << 62})))
	f, _, err := r.Next()
	if err != nil || f.Type != replicate.MsgRefuse {
		t.Fatalf("a snapshot of 1<<62 bytes was not refused: type %d, %v", f.Type, err)
	}
	if !strings.Contains(string(f.Payload), "does not fit") {
		t.Fatalf("refused for another reason: %s", f.Payload)
	}
	if _, err := os.Stat(s.db.SnapshotPath()); err == nil {
		t.Errorf("the refused snapshot left a file behind")
	}
}
