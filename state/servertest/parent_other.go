//go:build !linux

package servertest

import "syscall"

// dieWithParent is nil where the system has no parent-death signal: a
// child the test binary leaves behind when it dies keeps running (Kill,
// and the tests' cleanups, still stop it in every other case).
func dieWithParent() *syscall.SysProcAttr { return nil }
