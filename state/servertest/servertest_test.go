package servertest

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFreePortCanBeListenedOn(t *testing.T) {
	port := FreePort(t)
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("port %d: %v", port, err)
	}
	l.Close()
}

func TestProcess(t *testing.T) {
	t.Run("a child that exits before it is ready is reported with its output", func(t *testing.T) {
		p, err := Start("/bin/sh", "-c", "echo no config file >&2; exit 1")
		if err != nil {
			Need(t, "no /bin/sh: %v", err)
		}
		err = p.WaitReady(5*time.Second, 5*time.Millisecond, func() bool { return false })
		if err == nil || !strings.Contains(err.Error(), "exited: no config file") {
			t.Errorf("got %v; want the exit and the child's output", err)
		}
	})
	t.Run("a child that never gets ready is killed at the timeout", func(t *testing.T) {
		p, err := Start("/bin/sh", "-c", "echo starting; exec sleep 60")
		if err != nil {
			Need(t, "no /bin/sh: %v", err)
		}
		err = p.WaitReady(100*time.Millisecond, 5*time.Millisecond, func() bool { return false })
		if err == nil || !strings.Contains(err.Error(), "not ready within 100ms: starting") {
			t.Errorf("got %v; want a timeout with the child's output", err)
		}
		select {
		case <-p.exited:
		default:
			t.Error("the child still runs")
		}
		p.Kill() // again: harmless
	})
	t.Run("a child that gets ready is left running until killed", func(t *testing.T) {
		p, err := Start("/bin/sh", "-c", "exec sleep 60")
		if err != nil {
			Need(t, "no /bin/sh: %v", err)
		}
		calls := 0
		if err := p.WaitReady(5*time.Second, time.Millisecond, func() bool { calls++; return calls == 3 }); err != nil {
			t.Fatal(err)
		}
		p.Kill()
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			t.Fatal("Kill returned before the child exited")
		}
	})
}
