package main

import "syscall"

// stopWithParent asks Linux to send SIGTERM when the parent (make, a shell
// script) dies, so a SIGTERM to `make dev` still stops every server the
// stack started.
func stopWithParent() {
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0)
}
