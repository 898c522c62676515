package cores

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/hafw/hafw/cores/plan"
)

// The tests run etcd members and cores as real child processes — this
// test binary re-executed with HAFW_CORES_CHILD set — so that a core or a
// member can be killed with SIGKILL like a crashed appliance.
const childEnv = "HAFW_CORES_CHILD"

type childCore struct {
	Endpoints []string      `json:"endpoints"`
	Prefix    string        `json:"prefix"`
	Num       int           `json:"num"`
	Role      plan.Role     `json:"role"`
	TTL       time.Duration `json:"ttl"`
}

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "etcd":
		os.Exit(runChildEtcd())
	case "core":
		os.Exit(runChildCore())
	}
	os.Exit(m.Run())
}

func runChildEtcd() int {
	var mem EtcdMember
	if err := json.Unmarshal([]byte(os.Getenv("HAFW_ETCD_MEMBER")), &mem); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	e, err := StartEtcd(ctx, mem)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("etcd-ready")
	select {
	case <-ctx.Done():
	case err := <-e.Err():
		fmt.Fprintln(os.Stderr, err)
	}
	e.Close()
	return 0
}

func runChildCore() int {
	var cc childCore
	if err := json.Unmarshal([]byte(os.Getenv("HAFW_CORE_CONFIG")), &cc); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: cc.Endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cli.Close()
	// Task commands see which core ran them.
	os.Setenv("HAFW_CORE", strconv.Itoa(cc.Num))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	err = Run(ctx, cli, Config{Num: cc.Num, Role: cc.Role, Prefix: cc.Prefix, TTL: cc.TTL,
		Resync: 200 * time.Millisecond, Drain: 5 * time.Second, Runner: ExecRunner{}, Log: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// proc is a child process the test owns; Cleanup kills it on every path.
type proc struct {
	cmd  *exec.Cmd
	done chan error
	log  *os.File
}

func spawn(t testing.TB, name string, env ...string) *proc {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &proc{cmd: cmd, done: make(chan error, 1), log: logf}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("--- %s log:\n%s", name, tail(string(b), 3000))
		}
		logf.Close()
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// kill is kill -9 of the whole process group (the core and its tasks).
func (p *proc) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	p.done <- nil // later kills return at once
}

// term asks for an orderly (normal) shutdown and waits for it.
func (p *proc) term(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- nil
		if err != nil {
			t.Fatalf("core exited with %v after SIGTERM", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("core did not stop within 20s of SIGTERM")
	}
}

// cluster is a 3-member etcd cluster on loopback, members as processes.
type cluster struct {
	endpoints []string
	members   []*proc
}

// freePorts returns n distinct free loopback ports: all listeners stay
// open until every port is picked, so the kernel cannot hand one out twice.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

func startCluster(t testing.TB) *cluster {
	t.Helper()
	const n = 3
	var mems []EtcdMember
	var initial []string
	ports := freePorts(t, 2*n)
	for i := range n {
		m := EtcdMember{Name: fmt.Sprintf("m%d", i), Dir: filepath.Join(t.TempDir(), "etcd"),
			Client: fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]), Peer: fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
			Token: "hafw-test-" + strconv.Itoa(os.Getpid())}
		mems = append(mems, m)
		initial = append(initial, m.Name+"="+m.Peer)
	}
	c := &cluster{}
	for _, m := range mems {
		m.Cluster = strings.Join(initial, ",")
		b, _ := json.Marshal(m)
		c.members = append(c.members, spawn(t, "etcd-"+m.Name, childEnv+"=etcd", "HAFW_ETCD_MEMBER="+string(b)))
		c.endpoints = append(c.endpoints, m.Client)
	}
	cli := c.client(t)
	waitFor(t, 90*time.Second, "etcd cluster serving", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := cli.Put(ctx, "/hafw-test/ping", "1")
		return err == nil, fmt.Sprint(err)
	})
	return c
}

func (c *cluster) client(t testing.TB, endpoints ...string) *clientv3.Client {
	t.Helper()
	if len(endpoints) == 0 {
		endpoints = c.endpoints
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

const testTTL = 4 * time.Second

func (c *cluster) startCore(t testing.TB, prefix string, num int, role plan.Role, endpoints ...string) *proc {
	t.Helper()
	if len(endpoints) == 0 {
		endpoints = c.endpoints
	}
	b, _ := json.Marshal(childCore{Endpoints: endpoints, Prefix: prefix, Num: num, Role: role, TTL: testTTL})
	return spawn(t, fmt.Sprintf("core%d", num), childEnv+"=core", "HAFW_CORE_CONFIG="+string(b))
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitAlive waits until the given cores are registered and alive.
func waitAlive(t testing.TB, st *Store, nums ...int) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("cores %v alive", nums), func() (bool, string) {
		sn, err := st.Snapshot(context.Background())
		if err != nil {
			return false, err.Error()
		}
		for _, n := range nums {
			if _, ok := sn.Alive[n]; !ok {
				return false, fmt.Sprintf("alive: %v", sn.Running())
			}
		}
		return true, ""
	})
}

func mustTask(t testing.TB, st *Store, id string) plan.Task {
	t.Helper()
	tk, err := st.Task(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func eventsAbout(t testing.TB, st *Store, core int, text string) int {
	t.Helper()
	evs, err := st.Events(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Core == core && ev.Text == text {
			n++
		}
	}
	return n
}

// runLog reads the file every test task appends "<task> <core>" to.
func runLog(t testing.TB, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		id, core, ok := strings.Cut(line, " ")
		if ok {
			out[id] = append(out[id], core)
		}
	}
	return out
}

// shTask is a task whose command logs its run, then, the first time only,
// sleeps long (so it is Running when its core is killed).
func shTask(dir, id string, core, retries int, status plan.Status, firstSleep int) plan.Task {
	script := fmt.Sprintf(`echo "$HAFW_TASK_ID $HAFW_CORE" >> %[1]s/runs; if [ ! -e %[1]s/$HAFW_TASK_ID.once ]; then touch %[1]s/$HAFW_TASK_ID.once; sleep %[2]d; fi`, dir, firstSleep)
	return plan.Task{ID: id, Command: []string{"sh", "-c", script}, Core: core, Retries: retries, Status: status, Schedule: time.Now().Add(-time.Second)}
}
